//! Symbolic links in local buckets: followed only while they stay inside their bucket.
//!
//! A link inside a bucket folder that resolves inside the same bucket works like the file
//! or folder it points to; one that resolves outside it (or nowhere) is refused with
//! [`StoreError::LinkOutside`], for reading and for writing alike, so a run never reads or
//! writes outside its buckets. The bucket folder itself may be a link: the bucket is where
//! it resolves to.

use std::path::{Path, PathBuf};

use crate::store::StoreError;

/// The bucket folder, resolved; `None` while it does not exist (nothing in it to follow).
pub fn bucket_root(bucket: &str) -> Option<PathBuf> {
    std::fs::canonicalize(bucket).ok()
}

/// Checks every link on the way from `bucket` to `key`: each must resolve inside the
/// bucket. Parts not there yet are folders and files dcp will create, so they are inside.
pub fn check_key(bucket: &str, key: &str) -> Result<(), StoreError> {
    let Some(root) = bucket_root(bucket) else {
        return Ok(());
    };
    let mut at = PathBuf::from(bucket);
    for part in key.trim_end_matches('/').split('/') {
        at.push(part);
        match std::fs::symlink_metadata(&at) {
            Ok(meta) if meta.file_type().is_symlink() => check_link(bucket, key, &at, &root)?,
            Ok(_) => {}
            Err(_) => break,
        }
    }
    Ok(())
}

/// Refuses the link `link` (met on the way to `key`) unless it resolves inside `root`.
pub fn check_link(bucket: &str, key: &str, link: &Path, root: &Path) -> Result<(), StoreError> {
    let target = std::fs::canonicalize(link);
    if target.as_ref().is_ok_and(|t| t.starts_with(root)) {
        return Ok(());
    }
    Err(StoreError::LinkOutside {
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        link: link.to_owned(),
        target: target.unwrap_or_else(|_| std::fs::read_link(link).unwrap_or_default()),
    })
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;

    use crate::store::{LocalStore, Placement, Store, StoreError};

    /// A bucket and a folder outside it holding `secret.txt`.
    fn setup() -> (tempfile::TempDir, String, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let bucket = dir.path().join("bucket");
        let outside = dir.path().join("outside");
        std::fs::create_dir_all(bucket.join("real")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(bucket.join("real/a.tif"), "image").unwrap();
        std::fs::write(outside.join("secret.txt"), "secret").unwrap();
        let b = bucket.to_str().unwrap().to_owned();
        (dir, b, outside)
    }

    fn refused(result: Result<impl std::fmt::Debug, StoreError>, key: &str, link: &str) {
        match result {
            Err(e @ StoreError::LinkOutside { .. }) => {
                let message = e.to_string();
                assert!(message.contains(&format!("`{key}`")), "{message}");
                assert!(message.contains(link), "{message}");
            }
            other => panic!("{key}: not refused: {other:?}"),
        }
    }

    #[tokio::test]
    async fn links_out_of_the_bucket_are_refused_for_reading() {
        let (_dir, b, outside) = setup();
        let bucket = std::path::Path::new(&b);
        symlink(outside.join("secret.txt"), bucket.join("real/leak.tif")).unwrap();
        symlink(&outside, bucket.join("out_dir")).unwrap();
        symlink(bucket.join("nowhere"), bucket.join("real/dangling")).unwrap();
        let scratch = std::path::Path::new("/unused");
        for (key, link) in [
            ("real/leak.tif", "real/leak.tif"),
            ("out_dir/secret.txt", "out_dir"),
        ] {
            refused(
                LocalStore.fetch(&b, &[key.into()], scratch).await,
                key,
                link,
            );
        }
        refused(
            LocalStore.read(&b, "real/dangling").await,
            "real/dangling",
            "dangling",
        );
        refused(LocalStore.list(&b, "out_dir").await, "out_dir", "out_dir");
        refused(
            LocalStore.list(&b, "real").await,
            "real/leak.tif",
            "leak.tif",
        );
        std::fs::create_dir(bucket.join("deep")).unwrap();
        symlink(&outside, bucket.join("deep/out")).unwrap();
        refused(LocalStore.list(&b, "deep/").await, "deep/out", "deep/out");
        assert_eq!(
            LocalStore.local_dir(&b, "real"),
            None,
            "a folder with a link out"
        );
        assert_eq!(LocalStore.local_dir(&b, "out_dir"), None);
    }

    #[tokio::test]
    async fn links_out_of_the_bucket_are_refused_for_writing() {
        let (dir, b, outside) = setup();
        let bucket = std::path::Path::new(&b);
        symlink(&outside, bucket.join("results")).unwrap();
        symlink(outside.join("secret.txt"), bucket.join("real/record.json")).unwrap();
        refused(
            LocalStore
                .write(&b, "results/P1/.dcp-done/g.json", b"{}".to_vec())
                .await,
            "results/P1/.dcp-done/g.json",
            "results",
        );
        let file = dir.path().join("Image.csv");
        std::fs::write(&file, "1,2").unwrap();
        refused(
            LocalStore
                .place(&b, "results/Image.csv", &file, Placement::Replace)
                .await,
            "results/Image.csv",
            "results",
        );
        refused(
            LocalStore
                .write(&b, "real/record.json", b"{}".to_vec())
                .await,
            "real/record.json",
            "record.json",
        );
        let left: Vec<_> = std::fs::read_dir(&outside).unwrap().collect();
        assert_eq!(left.len(), 1, "nothing was written outside the bucket");
        assert_eq!(
            std::fs::read_to_string(outside.join("secret.txt")).unwrap(),
            "secret"
        );
    }

    #[tokio::test]
    async fn links_that_stay_inside_the_bucket_work() {
        let (dir, b, _outside) = setup();
        let bucket = std::path::Path::new(&b);
        symlink(bucket.join("real/a.tif"), bucket.join("real/alias.tif")).unwrap();
        symlink("real", bucket.join("images")).unwrap();
        let fetched = LocalStore
            .fetch(
                &b,
                &["images/alias.tif".into()],
                std::path::Path::new("/unused"),
            )
            .await
            .unwrap();
        assert_eq!(std::fs::read_to_string(&fetched[0]).unwrap(), "image");
        let listed: Vec<String> = LocalStore
            .list(&b, "images")
            .await
            .unwrap()
            .into_iter()
            .map(|o| o.key)
            .collect();
        assert_eq!(listed, ["a.tif", "alias.tif"]);
        std::fs::create_dir(bucket.join("out")).unwrap();
        symlink("../real", bucket.join("out/linked")).unwrap();
        let listed = LocalStore.list(&b, "out").await.unwrap();
        assert_eq!(listed.len(), 2, "{listed:?}");
        assert_eq!(
            LocalStore.local_dir(&b, "images"),
            Some(bucket.join("images"))
        );
        LocalStore
            .write(&b, "images/new.txt", b"x".to_vec())
            .await
            .unwrap();
        assert_eq!(
            std::fs::read_to_string(bucket.join("real/new.txt")).unwrap(),
            "x"
        );
        // The bucket folder itself may be a link: the bucket is where it leads.
        let linked = dir.path().join("linked-bucket");
        symlink(bucket, &linked).unwrap();
        let read = LocalStore
            .read(linked.to_str().unwrap(), "images/a.tif")
            .await;
        assert_eq!(read.unwrap().unwrap(), b"image");
    }
}
