use super::*;

const CSV: &str =
    "FileName_OrigBlue,FileName_OrigGreen,Metadata_Position,PathName_OrigBlue,PathName_OrigGreen
01_POS002_D.TIF,01_POS002_F.TIF,002,/home/ubuntu/bucket/demo/images,/home/ubuntu/bucket/demo/images
01_POS076_D.TIF,01_POS076_F.TIF,076,/home/ubuntu/bucket/demo/images,/home/ubuntu/bucket/demo/images
";

fn group(k: &str, v: &str) -> Vec<(String, String)> {
    vec![(k.to_owned(), v.to_owned())]
}

#[test]
fn selects_the_group_numerically_and_maps_paths() {
    let data = LoadData::parse(CSV.as_bytes()).unwrap();
    let rows = data.select(&group("Metadata_Position", "2")).unwrap();
    let root = "/home/ubuntu/bucket/";
    assert_eq!(
        rows.image_keys(root),
        ["demo/images/01_POS002_D.TIF", "demo/images/01_POS002_F.TIF"]
    );
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("load_data.csv");
    rows.write(&out, root, |key| Some(Path::new("/data/fly").join(key)))
        .unwrap();
    let text = std::fs::read_to_string(out).unwrap();
    assert_eq!(
        text.lines().nth(1).unwrap(),
        "01_POS002_D.TIF,01_POS002_F.TIF,002,/data/fly/demo/images,/data/fly/demo/images"
    );
    assert_eq!(text.lines().count(), 2);
}

#[test]
fn refuses_groups_the_csv_cannot_select() {
    let data = LoadData::parse(CSV.as_bytes()).unwrap();
    assert!(matches!(
        data.select(&group("Metadata_Position", "3")),
        Err(LoadDataError::NoRows(_))
    ));
    assert!(matches!(
        data.select(&group("Metadata_Plate", "P1")),
        Err(LoadDataError::NoColumn(_))
    ));
}

#[test]
fn keys_only_under_the_mount_root() {
    assert_eq!(
        key_under_root("/home/ubuntu/bucket/a/b.tif", "/home/ubuntu/bucket/"),
        Some("a/b.tif".into())
    );
    assert_eq!(
        key_under_root("/home/ubuntu/bucketx/a.tif", "/home/ubuntu/bucket"),
        None
    );
    assert_eq!(
        key_under_root("/elsewhere/a.tif", "/home/ubuntu/bucket/"),
        None
    );
}

#[test]
fn file_lists_are_mapped() {
    let (keys, text) = map_file_list(
        "/home/ubuntu/bucket/i/a.tif\n\n/tmp/b.tif\n",
        "/home/ubuntu/bucket",
        |k| Some(Path::new("/local").join(k)),
    );
    assert_eq!(keys, ["i/a.tif"]);
    assert_eq!(text, "/local/i/a.tif\n/tmp/b.tif\n");
}

#[test]
fn the_cache_parses_a_file_again_only_when_it_changes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("load_data.csv");
    std::fs::write(&path, CSV).unwrap();
    let cache = LoadDataCache::default();
    let first = cache.get(&path).unwrap();
    assert!(Arc::ptr_eq(&first, &cache.get(&path).unwrap()));
    std::fs::write(
        &path,
        format!("{CSV}01_POS218_D.TIF,01_POS218_F.TIF,218,/x,/x\n"),
    )
    .unwrap();
    let changed = cache.get(&path).unwrap();
    assert!(!Arc::ptr_eq(&first, &changed));
    assert!(changed.select(&group("Metadata_Position", "218")).is_ok());
}
