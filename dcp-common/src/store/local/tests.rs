use super::*;
use crate::store::{Placement, publish, record};

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[tokio::test]
async fn fetch_gives_the_files_in_place_and_refuses_escapes() {
    let bucket = tempfile::tempdir().unwrap();
    let b = bucket.path().to_str().unwrap();
    write(&bucket.path().join("w/p.cppipe"), "pipeline");
    let got = LocalStore
        .fetch(b, &["w/p.cppipe".into()], Path::new("/unused"))
        .await
        .unwrap();
    assert_eq!(got, [bucket.path().join("w/p.cppipe")]);
    assert!(matches!(
        LocalStore
            .fetch(b, &["w/none".into()], Path::new("/"))
            .await,
        Err(StoreError::Missing { .. })
    ));
    assert!(matches!(
        LocalStore
            .fetch(b, &["../etc/passwd".into()], Path::new("/"))
            .await,
        Err(StoreError::BadKey { .. })
    ));
}

#[tokio::test]
async fn list_walks_every_file_with_sizes() {
    let bucket = tempfile::tempdir().unwrap();
    let b = bucket.path().to_str().unwrap();
    for i in 0..1500 {
        write(&bucket.path().join(format!("out/P1/f{i:04}.csv")), "x");
    }
    write(&bucket.path().join("out/P1/sub/Image.csv"), "12345");
    let listed = LocalStore.list(b, "out/P1").await.unwrap();
    assert_eq!(listed.len(), 1501, "no 1,000-object cap");
    assert!(listed.contains(&Object {
        key: "sub/Image.csv".into(),
        size: 5
    }));
    assert!(LocalStore.list(b, "out/none").await.unwrap().is_empty());
}

#[test]
fn a_listing_skips_files_renamed_while_it_runs() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let bucket = tempfile::tempdir().unwrap();
    let folder = bucket.path().join("out/P1");
    for i in 0..100 {
        write(&folder.join(format!("f{i:03}.csv")), "x");
    }
    let placing = AtomicBool::new(true);
    std::thread::scope(|s| {
        // Another task placing files into the folder, each under a partial name first.
        s.spawn(|| {
            for i in 0..3000 {
                let partial = folder.join(format!(".g{i}.csv{PARTIAL}1-{i}"));
                std::fs::write(&partial, "y").unwrap();
                std::fs::rename(&partial, folder.join(format!("g{}.csv", i % 10))).unwrap();
            }
            placing.store(false, Ordering::Relaxed);
        });
        while placing.load(Ordering::Relaxed) {
            let listed = crate::store::local_files(&folder);
            let files = listed.expect("a file renamed meanwhile is skipped, not an error");
            assert!(files.len() >= 100);
        }
    });
}

#[tokio::test]
async fn a_write_clears_the_partial_files_of_processes_gone() {
    let bucket = tempfile::tempdir().unwrap();
    let b = bucket.path().to_str().unwrap();
    let mut gone = std::process::Command::new("true").spawn().unwrap();
    gone.wait().unwrap();
    let folder = bucket.path().join("out/P1/.dcp-done");
    let killed = folder.join(format!(".g.json{PARTIAL}{}-1", gone.id()));
    let running = folder.join(format!(".g.json{PARTIAL}1-2"));
    let other = folder.join(format!(".h.json{PARTIAL}{}-3", gone.id()));
    for partial in [&killed, &running, &other] {
        write(partial, "part");
    }
    LocalStore
        .write(b, "out/P1/.dcp-done/g.json", b"{}".to_vec())
        .await
        .unwrap();
    assert!(!killed.exists(), "a killed writer's partial file goes");
    assert!(running.exists(), "a running process's partial file stays");
    assert!(!other.exists(), "so does one of another file in the folder");
}

fn keys(bucket: &str, prefix: &str) -> Vec<String> {
    let walked = crate::store::local_files(&Path::new(bucket).join(prefix)).unwrap();
    walked.into_iter().map(|(key, _, _)| key).collect()
}

fn outputs(scratch: &Path, name: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = scratch.join(name);
    for (file, text) in files {
        write(&dir.join(file), text);
    }
    dir
}

#[tokio::test]
async fn tasks_sharing_a_folder_merge_their_files() {
    let bucket = tempfile::tempdir().unwrap();
    let b = bucket.path().to_str().unwrap();
    let scratch = tempfile::tempdir().unwrap();
    // Six files of an earlier step are already in the plate's folder.
    for i in 0..6 {
        write(
            &bucket.path().join(format!("out/P1/illum{i}.npy")),
            "earlier",
        );
    }
    for (site, group) in [
        (1, "Metadata_Plate=P1,Metadata_Site=1"),
        (2, "Metadata_Plate=P1,Metadata_Site=2"),
    ] {
        let dir = outputs(
            scratch.path(),
            &format!("s{site}"),
            &[(&format!("P1_s{site}.tif"), "projection")],
        );
        let published = publish(&LocalStore, b, "out/P1", group, &dir)
            .await
            .unwrap();
        assert_eq!(published.len(), 1);
    }
    let mut expected: Vec<String> = [
        ".dcp-done/Metadata_Plate=P1,Metadata_Site=1.json",
        ".dcp-done/Metadata_Plate=P1,Metadata_Site=2.json",
        "P1_s1.tif",
        "P1_s2.tif",
    ]
    .iter()
    .map(|k| k.to_string())
    .chain((0..6).map(|i| format!("illum{i}.npy")))
    .collect();
    expected.sort();
    assert_eq!(
        keys(b, "out/P1"),
        expected,
        "nothing replaced, nothing left behind"
    );
    let record = record(
        &LocalStore,
        b,
        "out/P1",
        "Metadata_Plate=P1,Metadata_Site=2",
    )
    .await
    .unwrap()
    .unwrap();
    assert!(record.complete);
    assert_eq!(
        record.objects,
        [Object {
            key: "P1_s2.tif".into(),
            size: 10
        }]
    );
}

#[tokio::test]
async fn a_task_replaces_only_its_own_files() {
    let bucket = tempfile::tempdir().unwrap();
    let b = bucket.path().to_str().unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let first = outputs(scratch.path(), "a", &[("Image.csv", "task A")]);
    publish(&LocalStore, b, "out/P1", "Metadata_Site=1", &first)
        .await
        .unwrap();
    // Another task writing the same name is refused, and changes nothing.
    let other = outputs(
        scratch.path(),
        "b",
        &[("Image.csv", "task B"), ("Other.csv", "B")],
    );
    let err = publish(&LocalStore, b, "out/P1", "Metadata_Site=2", &other)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Occupied { keys, .. } if keys == &["out/P1/Image.csv"]),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(bucket.path().join("out/P1/Image.csv")).unwrap(),
        "task A"
    );
    assert!(!bucket.path().join("out/P1/Other.csv").exists());
    // A re-run of task A replaces its own file.
    let rerun = outputs(scratch.path(), "a2", &[("Image.csv", "task A again")]);
    publish(&LocalStore, b, "out/P1", "Metadata_Site=1", &rerun)
        .await
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(bucket.path().join("out/P1/Image.csv")).unwrap(),
        "task A again"
    );
    // A nested prefix publishes beside the parent's files.
    let nested = outputs(scratch.path(), "n", &[("Image.csv", "well")]);
    publish(&LocalStore, b, "out/P1/A01", "Metadata_Well=A01", &nested)
        .await
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(bucket.path().join("out/P1/Image.csv")).unwrap(),
        "task A again"
    );
    assert_eq!(
        std::fs::read_to_string(bucket.path().join("out/P1/A01/Image.csv")).unwrap(),
        "well"
    );
}

#[tokio::test]
async fn place_new_keeps_what_is_there_and_leaves_no_partial_file() {
    let bucket = tempfile::tempdir().unwrap();
    let b = bucket.path().to_str().unwrap();
    let scratch = tempfile::tempdir().unwrap();
    write(&bucket.path().join("logs/x.log"), "kept");
    let file = scratch.path().join("new.log");
    std::fs::write(&file, "new").unwrap();
    assert!(matches!(
        LocalStore
            .place(b, "logs/x.log", &file, Placement::New)
            .await,
        Err(StoreError::Occupied { .. })
    ));
    assert_eq!(
        std::fs::read_to_string(bucket.path().join("logs/x.log")).unwrap(),
        "kept"
    );
    assert_eq!(keys(b, "logs"), ["x.log"]);
    LocalStore
        .place(b, "logs/x.log", &file, Placement::Replace)
        .await
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(bucket.path().join("logs/x.log")).unwrap(),
        "new"
    );
}
