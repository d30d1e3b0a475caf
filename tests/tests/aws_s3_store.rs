//! The S3 store against a real local moto server: multipart uploads (and their abort on
//! failure) and publishing by merging, with a completion record per task written last,
//! all read back through the SDK.
#![cfg(feature = "aws")]

use std::path::Path;

use dcp_common::Store;
use dcp_common::config::UploadFlags;
use dcp_common::store::{Placement, S3Store, StoreError, publish, record};
use dcp_tests::moto::{Moto, keys};

const MIB: u64 = 1 << 20;

/// `len` bytes that differ from part to part, so a misplaced part shows.
fn pattern(len: u64) -> Vec<u8> {
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

async fn get(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> (Vec<u8>, String) {
    let got = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap();
    let etag = got.e_tag.clone().unwrap_or_default();
    (got.body.collect().await.unwrap().to_vec(), etag)
}

fn write(dir: &Path, relative: &str, bytes: &[u8]) {
    let path = dir.join(relative);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn large_files_go_up_in_parts_and_read_back_whole() {
    let moto = Moto::start();
    let s3 = moto.s3_client().await;
    s3.create_bucket().bucket("results").send().await.unwrap();
    // Above an 8 MiB threshold, in 5 MiB parts (S3's smallest, which moto enforces): 3 parts.
    let store = S3Store::new(s3.clone(), Default::default()).with_multipart(8 * MIB, 5 * MIB);
    let dir = tempfile::tempdir().unwrap();
    let big = pattern(11 * MIB + 12_345);
    write(dir.path(), "out/big.tif", &big);
    write(dir.path(), "out/small.csv", b"a,b\n1,2\n");

    let published = publish(&store, "results", "run/P1", "G=1", &dir.path().join("out"))
        .await
        .unwrap();
    let names: Vec<&str> = published.iter().map(|o| o.key.as_str()).collect();
    assert_eq!(names, ["big.tif", "small.csv"]);
    let (bytes, etag) = get(&s3, "results", "run/P1/big.tif").await;
    assert!(bytes == big, "the multipart object differs from the file");
    assert!(
        etag.trim_matches('"').ends_with("-3"),
        "not 3 parts: {etag}"
    );
    let (small, etag) = get(&s3, "results", "run/P1/small.csv").await;
    assert_eq!(small, b"a,b\n1,2\n");
    assert!(!etag.contains('-'), "a small file is one PutObject: {etag}");

    // place() takes the same path.
    store
        .place(
            "results",
            "logs/big.log",
            &dir.path().join("out/big.tif"),
            Placement::Replace,
        )
        .await
        .unwrap();
    assert!(get(&s3, "results", "logs/big.log").await.0 == big);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_multipart_upload_is_aborted() {
    let moto = Moto::start();
    let s3 = moto.s3_client().await;
    s3.create_bucket().bucket("results").send().await.unwrap();
    // 1 MiB parts are below S3's 5 MiB minimum: completing the upload fails.
    let store = S3Store::new(s3.clone(), Default::default()).with_multipart(2 * MIB, MIB);
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "big.bin", &pattern(3 * MIB));

    let err = store
        .place(
            "results",
            "x/big.bin",
            &dir.path().join("big.bin"),
            Placement::New,
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("x/big.bin"), "{err}");
    let uploads = s3
        .list_multipart_uploads()
        .bucket("results")
        .send()
        .await
        .unwrap();
    assert!(
        uploads.uploads.unwrap_or_default().is_empty(),
        "the failed upload was left open"
    );
    assert!(keys(&s3, "results", "x/").await.is_empty());
}

async fn put(s3: &aws_sdk_s3::Client, key: &str, body: &[u8]) {
    s3.put_object()
        .bucket("results")
        .key(key)
        .body(body.to_vec().into())
        .send()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn publish_merges_into_a_shared_folder_and_records_each_task() {
    let moto = Moto::start();
    let s3 = moto.s3_client().await;
    s3.create_bucket().bucket("results").send().await.unwrap();
    let store = S3Store::new(s3.clone(), Default::default());
    // Six files of an earlier step are already in the plate's folder.
    for i in 0..6 {
        put(&s3, &format!("run/P1/illum{i}.npy"), b"earlier").await;
    }
    let dir = tempfile::tempdir().unwrap();
    for site in ["1", "2"] {
        let out = dir.path().join(site);
        write(&out, &format!("P1_s{site}.tif"), b"projection");
        write(&out, &format!("cells/s{site}.csv"), b"ObjectNumber\n1\n");
        let group = format!("Metadata_Plate=P1,Metadata_Site={site}");
        publish(&store, "results", "run/P1", &group, &out)
            .await
            .unwrap();
    }
    let listed = keys(&s3, "results", "run/P1/").await;
    assert_eq!(listed.len(), 6 + 4 + 2, "{listed:?}");
    assert!(listed.contains(&"run/P1/.dcp-done/Metadata_Plate=P1,Metadata_Site=2.json".to_owned()));
    let (bytes, _) = get(
        &s3,
        "results",
        "run/P1/.dcp-done/Metadata_Plate=P1,Metadata_Site=1.json",
    )
    .await;
    let written: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(
        written,
        serde_json::json!({"group": "Metadata_Plate=P1,Metadata_Site=1", "complete": true, "objects": [
            {"key": "P1_s1.tif", "size": 10},
            {"key": "cells/s1.csv", "size": 15},
        ]})
    );
    let read = record(
        &store,
        "results",
        "run/P1",
        "Metadata_Plate=P1,Metadata_Site=2",
    )
    .await
    .unwrap()
    .unwrap();
    assert!(read.complete && read.objects.len() == 2);
    assert!(
        record(
            &store,
            "results",
            "run/P1",
            "Metadata_Plate=P1,Metadata_Site=3"
        )
        .await
        .unwrap()
        .is_none()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn publish_never_replaces_another_tasks_object() {
    let moto = Moto::start();
    let s3 = moto.s3_client().await;
    s3.create_bucket().bucket("results").send().await.unwrap();
    let store = S3Store::new(s3.clone(), Default::default());
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    write(&a, "Image.csv", b"task A");
    publish(&store, "results", "run/P1", "Site=1", &a)
        .await
        .unwrap();
    let b = dir.path().join("b");
    write(&b, "Image.csv", b"task B");
    write(&b, "Other.csv", b"B");
    let err = publish(&store, "results", "run/P1", "Site=2", &b)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Occupied { keys, .. } if keys == &["run/P1/Image.csv"]),
        "{err}"
    );
    assert_eq!(get(&s3, "results", "run/P1/Image.csv").await.0, b"task A");
    assert!(
        !keys(&s3, "results", "run/P1/")
            .await
            .contains(&"run/P1/Other.csv".to_owned())
    );
    // S3's conditional write refuses a key that appears after the check, too.
    let err = store
        .place(
            "results",
            "run/P1/Image.csv",
            &b.join("Image.csv"),
            Placement::New,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Occupied { .. }), "{err}");
    // Task A run again replaces its own file.
    write(&a, "Image.csv", b"task A again");
    publish(&store, "results", "run/P1", "Site=1", &a)
        .await
        .unwrap();
    assert_eq!(
        get(&s3, "results", "run/P1/Image.csv").await.0,
        b"task A again"
    );
    // A nested prefix publishes beside the parent's files.
    let nested = dir.path().join("n");
    write(&nested, "Image.csv", b"well");
    publish(&store, "results", "run/P1/A01", "Well=A01", &nested)
        .await
        .unwrap();
    assert_eq!(
        get(&s3, "results", "run/P1/Image.csv").await.0,
        b"task A again"
    );
    assert_eq!(get(&s3, "results", "run/P1/A01/Image.csv").await.0, b"well");
}

/// UPLOAD_FLAGS as DCP documents them for a collaborator's bucket, plus encryption and a
/// storage class: every object published (one PutObject or a multipart upload) carries
/// them, read back through the SDK.
#[tokio::test(flavor = "multi_thread")]
async fn upload_flags_set_each_published_objects_acl_encryption_and_class() {
    let moto = Moto::start();
    let s3 = moto.s3_client().await;
    s3.create_bucket().bucket("results").send().await.unwrap();
    let flags = UploadFlags::parse(
        "--acl public-read --sse aws:kms --sse-kms-key-id dcp-test-key --storage-class STANDARD_IA \
         --metadata-directive REPLACE",
    )
    .unwrap();
    let store = S3Store::new(s3.clone(), flags).with_multipart(8 * MIB, 5 * MIB);
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "out/big.tif", &pattern(11 * MIB));
    write(dir.path(), "out/Image.csv", b"a\n1\n");
    publish(&store, "results", "run/P1", "G=1", &dir.path().join("out"))
        .await
        .unwrap();
    for key in ["run/P1/big.tif", "run/P1/Image.csv"] {
        let head = s3
            .head_object()
            .bucket("results")
            .key(key)
            .send()
            .await
            .unwrap();
        assert_eq!(
            head.server_side_encryption().map(|s| s.as_str()),
            Some("aws:kms"),
            "{key}"
        );
        assert_eq!(head.ssekms_key_id(), Some("dcp-test-key"), "{key}");
        assert_eq!(
            head.storage_class().map(|s| s.as_str()),
            Some("STANDARD_IA"),
            "{key}"
        );
        let acl = s3
            .get_object_acl()
            .bucket("results")
            .key(key)
            .send()
            .await
            .unwrap();
        let public_read = acl.grants().iter().any(|g| {
            g.permission().map(|p| p.as_str()) == Some("READ")
                && g.grantee()
                    .and_then(|e| e.uri())
                    .is_some_and(|u| u.ends_with("/global/AllUsers"))
        });
        assert!(public_read, "{key}: {:?}", acl.grants());
    }
}
