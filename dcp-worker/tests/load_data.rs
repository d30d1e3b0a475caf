//! How the worker hands a load-data file to CellProfiler: the `-g` value CellProfiler
//! compares, the whole CSV with only the group's images readable, every column family
//! mapped to the run's buckets, and anything else refused before CellProfiler starts. A
//! stand-in records what CellProfiler was given (the real one runs in
//! tests/tests/examplefly_groups.rs).

#[allow(dead_code)] // Shared with tests/worker.rs, which uses all of it.
mod standin;

use standin::{RunDir, outcomes};

/// Pushes one task per group of `w/<csv>` into `out`, each group's output folder named by
/// its values.
fn push(run: &RunDir, data_file: &str, groups: &[&str]) {
    let groups: Vec<String> = groups
        .iter()
        .map(|g| format!("{{\"Metadata\": \"{g}\"}}"))
        .collect();
    let job = format!(
        "{{\"pipeline\": \"w/p.cppipe\", \"data_file\": \"w/{data_file}\", \"input\": \"img/\", \
         \"output\": \"out\", \"groups\": [{}]}}",
        groups.join(", ")
    );
    dcp_tests::stdout_ok(run.queue(&["push"], &job));
}

fn run_worker(run: &RunDir) -> (Vec<serde_json::Value>, Vec<String>, String) {
    let data = run.path().join("data.txt");
    let out = run
        .worker("ok", &["--retry-delay", "0"])
        .env("STANDIN_DATA", &data)
        .output()
        .unwrap();
    let starts = std::fs::read_to_string(run.path().join("starts.txt")).unwrap_or_default();
    (
        outcomes(&out),
        starts.lines().map(str::to_owned).collect(),
        std::fs::read_to_string(data).unwrap_or_default(),
    )
}

fn outcome<'a>(lines: &'a [serde_json::Value], group: &str) -> &'a serde_json::Value {
    lines
        .iter()
        .find(|l| l["group"] == group)
        .unwrap_or_else(|| panic!("no outcome for {group}: {lines:?}"))
}

#[test]
fn padded_groups_run_with_the_value_cellprofiler_compares_and_every_row() {
    let run = RunDir::new("");
    let csv = "Metadata_Position,FileName_DNA,PathName_DNA\n\
               002,P1.tif,/home/ubuntu/bucket/img\n\
               076,P2.tif,/home/ubuntu/bucket/img/\n\
               000,P3.tif,/home/ubuntu/bucket//img\n";
    std::fs::write(run.path().join("bucket/w/pos.csv"), csv).unwrap();
    push(
        &run,
        "pos.csv",
        &[
            "Metadata_Position=002",
            "Metadata_Position=02",
            "Metadata_Position=000",
        ],
    );
    let (lines, starts, data) = run_worker(&run);
    assert!(lines.iter().all(|l| l["status"] == "success"), "{lines:?}");
    assert_eq!(outcome(&lines, "Metadata_Position=02")["output"], "out/02");
    let arguments: Vec<&str> = starts
        .iter()
        .map(|s| s.split(" -g ").nth(1).unwrap())
        .collect();
    assert_eq!(
        arguments,
        [
            "Metadata_Position=2",
            "Metadata_Position=2",
            "Metadata_Position=0"
        ]
    );
    // Each CSV holds every row in its place; only the group's row names a real folder.
    let img = std::fs::canonicalize(run.path().join("bucket/img")).unwrap();
    let csvs: Vec<&str> = data.split("Metadata_Position,").skip(1).collect();
    assert_eq!(csvs.len(), 3);
    for (csv, readable) in csvs.iter().zip([0, 0, 2]) {
        let rows: Vec<&str> = csv.lines().skip(1).collect();
        assert_eq!(rows.len(), 3, "{csv}");
        for (i, row) in rows.iter().enumerate() {
            let folder = row.rsplit(',').next().unwrap();
            if i == readable {
                assert_eq!(folder, img.to_str().unwrap(), "{csv}");
            } else {
                assert!(folder.ends_with("/not-fetched"), "{csv}");
                assert!(!std::path::Path::new(folder).exists());
            }
        }
    }
}

#[test]
fn url_objects_and_illum_columns_map_to_the_runs_buckets_and_others_are_refused() {
    let run = RunDir::new("JOB_RETRIES = 1");
    std::fs::create_dir_all(run.path().join("results/illum")).unwrap();
    std::fs::write(run.path().join("results/illum/IllumDNA.npy"), "npy").unwrap();
    let csv = "Metadata_Site,URL_DNA,ObjectsPathName_Cells,ObjectsFileName_Cells,URL_IllumDNA\n\
               1,file:///home/ubuntu/bucket/img/P1.tif,/home/ubuntu/bucket/img/,P3.tif,s3://results/illum/IllumDNA.npy\n\
               2,s3://bucket/img/P2.tif,/home/ubuntu/bucket/img,P3.tif,s3://results/illum/IllumDNA.npy\n\
               3,s3://elsewhere/img/P3.tif,/home/ubuntu/bucket/img,P3.tif,s3://results/illum/IllumDNA.npy\n\
               4,s3://bucket/img/P2.tif,/etc,passwd,s3://results/illum/IllumDNA.npy\n\
               5,https://example.org/P2.tif,/home/ubuntu/bucket/img,P3.tif,s3://results/illum/IllumDNA.npy\n";
    std::fs::write(run.path().join("bucket/w/urls.csv"), csv).unwrap();
    std::fs::write(
        run.path().join("bucket/w/files.txt"),
        "/home/ubuntu/bucket/img/P1.tif\n/root/.ssh/id_rsa\n",
    )
    .unwrap();
    let groups: Vec<String> = (1..=5).map(|s| format!("Metadata_Site={s}")).collect();
    let groups: Vec<&str> = groups.iter().map(String::as_str).collect();
    push(&run, "urls.csv", &groups);
    push(&run, "files.txt", &["Metadata_Site=6"]);
    let (lines, starts, data) = run_worker(&run);
    assert_eq!(
        starts.len(),
        2,
        "CellProfiler ran for the two good groups only"
    );
    for good in ["Metadata_Site=1", "Metadata_Site=2"] {
        assert_eq!(outcome(&lines, good)["status"], "success");
    }
    let bucket = std::fs::canonicalize(run.path().join("bucket")).unwrap();
    let results = std::fs::canonicalize(run.path().join("results")).unwrap();
    let site1 = data.lines().nth(1).unwrap();
    assert_eq!(
        site1,
        format!(
            "1,file://{b}/img/P1.tif,{b}/img,P3.tif,file://{r}/illum/IllumDNA.npy",
            b = bucket.display(),
            r = results.display()
        )
    );
    let site2 = data.lines().nth(8).unwrap();
    assert!(site2.starts_with(&format!("2,file://{}/img/P2.tif,", bucket.display())));
    for (group, detail) in [
        (
            "Metadata_Site=3",
            "w/urls.csv: line 4: URL_DNA: `s3://elsewhere/img/P3.tif` names the bucket \
             `elsewhere`, which is not one of the run's buckets",
        ),
        (
            "Metadata_Site=4",
            "w/urls.csv: line 5: ObjectsPathName_Cells: `/etc/passwd` is not under MOUNT_ROOT \
             `/home/ubuntu/bucket/`, the setting that maps paths to SOURCE_BUCKET `",
        ),
        (
            "Metadata_Site=5",
            "w/urls.csv: line 6: URL_DNA: `https://example.org/P2.tif` is a URL outside the \
             run's buckets",
        ),
        (
            "Metadata_Site=6",
            "w/files.txt: line 2: file list: `/root/.ssh/id_rsa` is not under MOUNT_ROOT",
        ),
    ] {
        let line = outcome(&lines, group);
        assert_eq!(line["status"], "input-problem", "{line}");
        assert!(
            line["detail"].as_str().unwrap().starts_with(detail),
            "{line}"
        );
    }
}

#[test]
fn hand_made_csvs_and_file_lists_run_as_cellprofiler_reads_them() {
    // Saved by Excel on Windows: a byte-order mark, CRLF, a trailing comma on every row; a
    // well row and column but no well (LoadData makes Metadata_Well of them); a `..` that
    // stays in the mounted bucket.
    let run = RunDir::new("JOB_RETRIES = 1");
    let csv = "\u{feff}Metadata_Row,Metadata_Col,FileName_DNA,PathName_DNA\r\n\
               A,01,P1.tif,/home/ubuntu/bucket/img/../img,\r\n\
               B,02,P2.tif,/home/ubuntu/bucket/./img/,\r\n";
    std::fs::write(run.path().join("bucket/w/excel.csv"), csv).unwrap();
    std::fs::write(
        run.path().join("bucket/w/excel.txt"),
        "\u{feff}/home/ubuntu/bucket/img/P3.tif\r\n",
    )
    .unwrap();
    push(
        &run,
        "excel.csv",
        &["Metadata_Well=A01", "Metadata_Well=B02"],
    );
    push(&run, "excel.txt", &["Metadata_Well=C03"]);
    let (lines, starts, data) = run_worker(&run);
    assert!(lines.iter().all(|l| l["status"] == "success"), "{lines:?}");
    let arguments: Vec<&str> = starts
        .iter()
        .map(|s| s.split(" -g ").nth(1).unwrap())
        .collect();
    assert_eq!(
        arguments,
        [
            "Metadata_Well=A01",
            "Metadata_Well=B02",
            "Metadata_Well=C03"
        ]
    );
    let img = std::fs::canonicalize(run.path().join("bucket/img")).unwrap();
    assert!(
        data.contains(&format!("A,01,P1.tif,{}\n", img.display())),
        "{data}"
    );
    assert!(
        data.ends_with(&format!("{}/P3.tif\n", img.display())),
        "{data}"
    );
}
