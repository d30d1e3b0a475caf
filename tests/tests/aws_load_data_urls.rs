//! Load-data columns on the AWS backend, against a real local moto server: `s3://` URLs of
//! the source bucket, an illumination function in the destination bucket and a PathName
//! under the mount root are downloaded and handed to CellProfiler as local files; an
//! `s3://` URL of a bucket outside the run is refused before CellProfiler starts.
//! CellProfiler is the stand-in, which records the load-data file it was given.
#![cfg(feature = "aws")]

use std::process::Stdio;

use aws_sdk_s3::primitives::ByteStream;
use dcp_tests::moto::Moto;
use dcp_tests::stdout_ok;

const DATA: &str = "ld-data";
const RESULTS: &str = "ld-results";

#[tokio::test(flavor = "multi_thread")]
async fn url_columns_are_fetched_from_the_runs_buckets_only() {
    let moto = Moto::start();
    let s3 = moto.s3_client().await;
    let csv = "Metadata_Site,URL_DNA,URL_IllumDNA,PathName_RNA,FileName_RNA\n\
               1,s3://ld-data/img/P1.tif,s3://ld-results/illum/IllumDNA.npy,/home/ubuntu/bucket/img,P2.tif\n\
               2,s3://elsewhere/img/P1.tif,s3://ld-results/illum/IllumDNA.npy,/home/ubuntu/bucket/img,P2.tif\n";
    for (bucket, key, body) in [
        (DATA, "w/p.cppipe", "pipeline"),
        (DATA, "w/urls.csv", csv),
        (DATA, "img/P1.tif", "dna"),
        (DATA, "img/P2.tif", "rna"),
        (RESULTS, "illum/IllumDNA.npy", "illum"),
    ] {
        if s3.head_bucket().bucket(bucket).send().await.is_err() {
            s3.create_bucket().bucket(bucket).send().await.unwrap();
        }
        s3.put_object()
            .bucket(bucket)
            .key(key)
            .body(ByteStream::from_static(body.as_bytes()))
            .send()
            .await
            .unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let settings = format!(
        "BACKEND = \"aws\"\nAPP_NAME = \"LoadDataUrls\"\nAWS_BUCKET = \"{DATA}\"\n\
         DESTINATION_BUCKET = \"{RESULTS}\"\nCELLPROFILER = \"{}\"\nDOCKER_CORES = 1\n\
         SECONDS_TO_START = 0\nJOB_RETRIES = 1\n",
        dcp_tests::STANDIN
    );
    std::fs::write(d.join("dcp.toml"), settings).unwrap();
    stdout_ok(moto.tool("dcp-queue", d).arg("create").output().unwrap());
    let job = "{\"pipeline\": \"w/p.cppipe\", \"data_file\": \"w/urls.csv\", \"input\": \"img/\", \
               \"output\": \"out\", \"groups\": [{\"Metadata\": \"Metadata_Site=1\"}, \
               {\"Metadata\": \"Metadata_Site=2\"}]}";
    std::fs::write(d.join("job.json"), job).unwrap();
    stdout_ok(
        moto.tool("dcp-queue", d)
            .args(["push", "job.json"])
            .output()
            .unwrap(),
    );
    let out = moto
        .tool("dcp-worker", d)
        .env("STANDIN", "ok")
        .env("STANDIN_STARTS", d.join("starts.txt"))
        .env("STANDIN_DATA", d.join("data.txt"))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let lines: Vec<serde_json::Value> = stdout_ok(out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[0]["status"], "success", "{}", lines[0]);
    assert_eq!(lines[1]["status"], "input-problem", "{}", lines[1]);
    assert!(
        lines[1]["detail"].as_str().unwrap().starts_with(
            "w/urls.csv: line 3: URL_DNA: `s3://elsewhere/img/P1.tif` names the bucket \
             `elsewhere`, which is not one of the run's buckets"
        ),
        "{}",
        lines[1]
    );
    let starts = std::fs::read_to_string(d.join("starts.txt")).unwrap();
    assert_eq!(starts.lines().count(), 1, "{starts}");
    // CellProfiler was given both rows; site 1's files as downloaded local files.
    let data = std::fs::read_to_string(d.join("data.txt")).unwrap();
    let rows: Vec<&str> = data.lines().collect();
    assert_eq!(rows.len(), 3, "{data}");
    let cells: Vec<&str> = rows[1].split(',').collect();
    assert!(
        cells[1].starts_with("file:///") && cells[1].ends_with("/img/P1.tif"),
        "{data}"
    );
    assert!(
        cells[2].starts_with("file:///") && cells[2].ends_with("/illum/IllumDNA.npy"),
        "{data}"
    );
    assert!(
        cells[3].starts_with('/') && !cells[3].starts_with("/home/ubuntu"),
        "{data}"
    );
    assert!(rows[2].contains("not-fetched"), "{data}");
}
