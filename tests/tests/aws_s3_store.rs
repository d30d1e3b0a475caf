//! The S3 store against a real local moto server: multipart uploads (and their abort on
//! failure) and publishing with a manifest written last, all read back through the SDK.
#![cfg(feature = "aws")]

use std::path::Path;

use dcp_common::Store;
use dcp_common::store::{MANIFEST, S3Store};
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
    let store = S3Store::new(s3.clone(), "")
        .unwrap()
        .with_multipart(8 * MIB, 5 * MIB);
    let dir = tempfile::tempdir().unwrap();
    let big = pattern(11 * MIB + 12_345);
    write(dir.path(), "out/big.tif", &big);
    write(dir.path(), "out/small.csv", b"a,b\n1,2\n");

    let published = store
        .publish("results", "run/P1", &dir.path().join("out"))
        .await
        .unwrap();
    assert_eq!(published, ["big.tif", "small.csv"]);
    let (bytes, etag) = get(&s3, "results", "run/P1/big.tif").await;
    assert!(bytes == big, "the multipart object differs from the file");
    assert!(
        etag.trim_matches('"').ends_with("-3"),
        "not 3 parts: {etag}"
    );
    let (small, etag) = get(&s3, "results", "run/P1/small.csv").await;
    assert_eq!(small, b"a,b\n1,2\n");
    assert!(!etag.contains('-'), "a small file is one PutObject: {etag}");

    // put() takes the same path.
    store
        .put("results", "logs/big.log", &dir.path().join("out/big.tif"))
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
    let store = S3Store::new(s3.clone(), "")
        .unwrap()
        .with_multipart(2 * MIB, MIB);
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "big.bin", &pattern(3 * MIB));

    let err = store
        .put("results", "x/big.bin", &dir.path().join("big.bin"))
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

#[tokio::test(flavor = "multi_thread")]
async fn publish_writes_a_manifest_last_and_only_a_manifest_makes_a_result_finished() {
    let moto = Moto::start();
    let s3 = moto.s3_client().await;
    s3.create_bucket().bucket("results").send().await.unwrap();
    let store = S3Store::new(s3.clone(), "")
        .unwrap()
        .with_multipart(8 * MIB, 5 * MIB);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    write(&out, "Image.csv", b"Group\nP1\n");
    write(&out, "cells/Cells.csv", b"ObjectNumber\n1\n2\n");

    store.publish("results", "run/P1", &out).await.unwrap();
    assert_eq!(
        keys(&s3, "results", "run/P1/").await,
        [
            "run/P1/.dcp-done.json",
            "run/P1/Image.csv",
            "run/P1/cells/Cells.csv"
        ]
    );
    let (manifest, _) = get(&s3, "results", &format!("run/P1/{MANIFEST}")).await;
    let manifest: serde_json::Value = serde_json::from_slice(&manifest).unwrap();
    assert_eq!(
        manifest,
        serde_json::json!({"objects": [
            {"key": "Image.csv", "size": 9},
            {"key": "cells/Cells.csv", "size": 17},
        ]})
    );
    let finished = store.finished("results", "run/P1").await.unwrap().unwrap();
    let names: Vec<&str> = finished.iter().map(|o| o.key.as_str()).collect();
    assert_eq!(names, ["Image.csv", "cells/Cells.csv"]);

    // Objects without a manifest (a publish cut short, or written by hand) are no result.
    s3.put_object()
        .bucket("results")
        .key("run/P2/Image.csv")
        .body(b"Group\nP2\n".to_vec().into())
        .send()
        .await
        .unwrap();
    assert!(store.finished("results", "run/P2").await.unwrap().is_none());
    assert!(
        store
            .finished("results", "run/none")
            .await
            .unwrap()
            .is_none()
    );

    // A new result over the old one: the old manifest goes first, so when the new publish
    // fails half-way the prefix is no longer marked finished.
    let failing = S3Store::new(s3.clone(), "")
        .unwrap()
        .with_multipart(2 * MIB, MIB);
    write(&out, "big.tif", &pattern(3 * MIB));
    assert!(failing.publish("results", "run/P1", &out).await.is_err());
    assert!(store.finished("results", "run/P1").await.unwrap().is_none());
    assert!(
        !keys(&s3, "results", "run/P1/")
            .await
            .contains(&format!("run/P1/{MANIFEST}"))
    );

    // Published again whole, it is finished again with the new set of objects.
    store.publish("results", "run/P1", &out).await.unwrap();
    let finished = store.finished("results", "run/P1").await.unwrap().unwrap();
    let names: Vec<&str> = finished.iter().map(|o| o.key.as_str()).collect();
    assert_eq!(names, ["Image.csv", "big.tif", "cells/Cells.csv"]);
}
