use super::*;

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

#[tokio::test]
async fn publish_replaces_a_result_whole() {
    let bucket = tempfile::tempdir().unwrap();
    let b = bucket.path().to_str().unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let first = scratch.path().join("first");
    write(&first.join("Image.csv"), "old");
    write(&first.join("Stale.csv"), "old");
    assert_eq!(
        LocalStore.publish(b, "out/P1", &first).await.unwrap(),
        ["Image.csv", "Stale.csv"]
    );
    let second = scratch.path().join("second");
    write(&second.join("Image.csv"), "new");
    write(&second.join("Nuclei.csv"), "new");
    LocalStore.publish(b, "out/P1", &second).await.unwrap();
    let keys: Vec<String> = LocalStore
        .list(b, "out/P1")
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.key)
        .collect();
    assert_eq!(keys, ["Image.csv", "Nuclei.csv"]);
    let leftovers: Vec<_> = std::fs::read_dir(bucket.path().join("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers, ["P1"], "no staging folders left behind");
}

#[tokio::test]
async fn put_writes_a_file_whole() {
    let bucket = tempfile::tempdir().unwrap();
    let b = bucket.path().to_str().unwrap();
    let file = bucket.path().join("local.log");
    std::fs::write(&file, "log").unwrap();
    LocalStore.put(b, "logs/out/P1.log", &file).await.unwrap();
    assert_eq!(
        std::fs::read_to_string(bucket.path().join("logs/out/P1.log")).unwrap(),
        "log"
    );
}
