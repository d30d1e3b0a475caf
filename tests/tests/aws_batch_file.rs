//! A CreateBatchFiles batch file on the AWS backend with REAL CellProfiler, against a local
//! moto server: a batch file made from ExampleFly with CellProfiler's input modules (Images,
//! Metadata, NamesAndTypes, Groups: DCP's documented way to make one), its local image copy
//! gone, uploaded with the example's images to a moto bucket; one group pushed and run by
//! `dcp-worker` on moto's SQS and S3, from the images it fetched for the group.
#![cfg(feature = "aws")]

use aws_sdk_s3::primitives::ByteStream;
use dcp_tests::moto::Moto;
use dcp_tests::stdout_ok;

const BUCKET: &str = "fly-batch";

async fn get(s3: &aws_sdk_s3::Client, key: &str) -> String {
    let object = s3.get_object().bucket(BUCKET).key(key).send().await;
    let body = object.unwrap().body.collect().await.unwrap().into_bytes();
    String::from_utf8(body.to_vec()).unwrap()
}

fn column<'a>(csv: &'a str, name: &str) -> Vec<&'a str> {
    let mut rows = csv.lines();
    let header: Vec<&str> = rows.next().unwrap().split(',').collect();
    let i = header.iter().position(|h| *h == name).unwrap();
    rows.map(|r| r.split(',').nth(i).unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_batch_files_group_runs_against_moto_s3() {
    let (example, cellprofiler) = (dcp_tests::examplefly(), dcp_tests::cellprofiler());
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let made = d.join("made");
    std::fs::create_dir_all(&made).unwrap();
    let batch = dcp_tests::batch_file::examplefly_batch_file(
        &example,
        &cellprofiler,
        dcp_tests::batch_file::Inputs::NamesAndTypes,
        &made,
    );

    let moto = Moto::start();
    let s3 = moto.s3_client().await;
    s3.create_bucket().bucket(BUCKET).send().await.unwrap();
    let images = example.join("demo_project_folder/images");
    let mut uploads = vec![(batch, "batch/Batch_data.h5".to_owned())];
    for entry in std::fs::read_dir(&images).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        uploads.push((path, format!("demo_project_folder/images/{name}")));
    }
    for (path, key) in uploads {
        let body = ByteStream::from_path(&path).await.unwrap();
        let put = s3.put_object().bucket(BUCKET).key(key).body(body);
        put.send().await.unwrap();
    }

    let settings = format!(
        "BACKEND = \"aws\"\nAPP_NAME = \"FlyBatchOnMoto\"\nAWS_BUCKET = \"{BUCKET}\"\nCELLPROFILER = \"{}\"\n\
         CELLPROFILER_ARGS = [\"-e\", \"imageio_reader\"]\nSQS_MESSAGE_VISIBILITY = 120\nDOCKER_CORES = 1\n\
         SECONDS_TO_START = 0\nJOB_RETRIES = 1\n",
        cellprofiler.display()
    );
    std::fs::write(d.join("dcp.toml"), settings).unwrap();
    stdout_ok(moto.tool("dcp-queue", d).arg("create").output().unwrap());
    let job = r#"{"pipeline": "batch/Batch_data.h5", "data_file": "batch/Batch_data.h5",
        "input": "demo_project_folder/workspace/", "output": "batch_out",
        "output_structure": "Metadata_Position", "groups": [{"Metadata": "Metadata_Position=76"}]}"#;
    std::fs::write(d.join("job.json"), job).unwrap();
    stdout_ok(
        moto.tool("dcp-queue", d)
            .args(["push", "job.json"])
            .output()
            .unwrap(),
    );
    let out = moto.tool("dcp-worker", d).output().unwrap();
    let lines: Vec<serde_json::Value> = stdout_ok(out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["status"], "success", "{}", lines[0]);

    // NamesAndTypes records the text `076`, which `76` names (as a number, as LoadData reads it).
    let image = get(&s3, "batch_out/76/Image.csv").await;
    assert_eq!(column(&image, "Metadata_Position"), ["076"]);
    let nuclei = get(&s3, "batch_out/76/Nuclei.csv").await;
    let count: f64 = column(&image, "Count_Nuclei")[0].parse().unwrap();
    assert!(count > 100.0, "{count}");
    let rows = nuclei.lines().count() - 1;
    assert_eq!(rows as f64, count, "one Nuclei.csv row per nucleus");
    // The log says what was fetched: exactly the group's three images.
    let logs = dcp_tests::moto::keys(&s3, BUCKET, "logs/batch_out/76/").await;
    assert_eq!(logs.len(), 1, "{logs:?}");
    let log = get(&s3, &logs[0]).await;
    assert!(log.contains("fetching 3 images"), "{log}");
    assert!(log.contains("-g\", \"Metadata_Position=076\""), "{log}");
}
