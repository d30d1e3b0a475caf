use super::*;

#[test]
fn images_map_to_source_keys_only_inside_the_buckets() {
    let root = "/home/ubuntu/bucket/";
    let key = |p: &str| source_key(p, root, "src");
    assert_eq!(
        key("/home/ubuntu/bucket/demo/images/a.tif").as_deref(),
        Some("demo/images/a.tif")
    );
    assert_eq!(key("s3://src/demo/a.tif").as_deref(), Some("demo/a.tif"));
    for outside in [
        "/home/ubuntu/other/a.tif",
        "/home/ubuntu/bucketeer/a.tif",
        "/home/ubuntu/bucket/../secret",
        "/home/ubuntu/bucket/demo/./a.tif",
        "/home/ubuntu/bucket/",
        "s3://other/demo/a.tif",
        "s3://src/",
        "https://example.org/a.tif",
        "C:\\data\\a.tif",
    ] {
        assert_eq!(key(outside), None, "{outside}");
    }
    assert_eq!(
        source_key("/mnt/b/x.tif", "/mnt/b", "src").as_deref(),
        Some("x.tif")
    );
}

#[test]
fn batch_files_are_known_by_extension() {
    assert!(is_batch_file("w/Batch_data.h5"));
    assert!(is_batch_file("w/BATCH.H5"));
    assert!(!is_batch_file("w/load_data.csv"));
    assert!(!is_batch_file("w/h5"));
}

fn script(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn cellprofilers_python_is_its_shebang_or_its_neighbour() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let venv = script(
        d,
        "cellprofiler",
        "#!/opt/venv/bin/python3.11\nimport sys\n",
    );
    assert_eq!(
        python_of(venv.to_str().unwrap()),
        Some(vec!["/opt/venv/bin/python3.11".into()])
    );
    let env = script(d, "cp-env", "#!/usr/bin/env python3\n");
    assert_eq!(
        python_of(env.to_str().unwrap()),
        Some(vec!["/usr/bin/env".into(), "python3".into()])
    );
    let shell = script(d, "cp-sh", "#!/bin/sh\nexec true\n");
    assert_eq!(
        python_of(shell.to_str().unwrap()),
        None,
        "no python beside it"
    );
    let python = script(d, "python3", "");
    assert_eq!(
        python_of(shell.to_str().unwrap()),
        Some(vec![python.into_os_string()])
    );
    assert_eq!(python_of("/nonexistent/cellprofiler"), None);
}

#[test]
fn refusals_name_the_file_and_the_reason() {
    let e = BatchError::Outside {
        file: "w/Batch_data.h5".into(),
        image_number: 2,
        feature: "URL_DNA".into(),
        url: "file:///Users/me/a.tif".into(),
        path: "/Users/me/a.tif".into(),
        mount_root: "/home/ubuntu/bucket/".into(),
        bucket: "src".into(),
    };
    let text = e.to_string();
    for part in [
        "w/Batch_data.h5",
        "image set 2",
        "URL_DNA",
        "/Users/me/a.tif",
        "MOUNT_ROOT",
    ] {
        assert!(text.contains(part), "{text}");
    }
    assert_eq!(e.status(), Status::InputProblem);
    let helper = BatchError::Helper {
        python: "python".into(),
        detail: "killed".into(),
    };
    assert_eq!(helper.status(), Status::CellprofilerFailed);
}
