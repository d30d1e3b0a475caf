//! Buckets on Amazon S3 (or any S3-compatible store `AWS_ENDPOINT_URL` names).

use std::path::{Path, PathBuf};

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ObjectCannedAcl;
use futures::stream::{self, StreamExt, TryStreamExt};

use super::{Object, Store, StoreError};
use crate::prefix::check_relative;

/// Transfers in flight at once for one task.
const CONCURRENT_TRANSFERS: usize = 8;

/// Buckets on S3.
pub struct S3Store {
    client: Client,
    acl: Option<ObjectCannedAcl>,
}

fn service(
    bucket: &str,
    key: &str,
    error: impl std::error::Error + Send + Sync + 'static,
) -> StoreError {
    StoreError::Service {
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        message: aws_sdk_s3::error::DisplayErrorContext(error).to_string(),
    }
}

/// The upload options DCP's UPLOAD_FLAGS may carry: `--acl CANNED_ACL` (e.g.
/// `bucket-owner-full-control`, for results written into someone else's bucket).
pub fn upload_acl(upload_flags: &str) -> Result<Option<ObjectCannedAcl>, StoreError> {
    let words: Vec<&str> = upload_flags.split_whitespace().collect();
    match words.as_slice() {
        [] => Ok(None),
        ["--acl", acl] => Ok(Some(ObjectCannedAcl::from(*acl))),
        _ => Err(StoreError::Settings(format!(
            "UPLOAD_FLAGS `{upload_flags}`: only `--acl CANNED_ACL` is supported"
        ))),
    }
}

impl S3Store {
    /// A store on `client` that uploads with the options of UPLOAD_FLAGS.
    pub fn new(client: Client, upload_flags: &str) -> Result<Self, StoreError> {
        Ok(S3Store {
            client,
            acl: upload_acl(upload_flags)?,
        })
    }

    async fn download(&self, bucket: &str, key: &str, to: PathBuf) -> Result<PathBuf, StoreError> {
        check_relative(key).map_err(|_| StoreError::BadKey {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
        })?;
        let got = self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| match aws_sdk_s3::Error::from(e) {
                aws_sdk_s3::Error::NoSuchKey(_) => StoreError::Missing {
                    bucket: bucket.to_owned(),
                    key: key.to_owned(),
                },
                other => service(bucket, key, other),
            })?;
        let bytes = got
            .body
            .collect()
            .await
            .map_err(|e| service(bucket, key, e))?
            .into_bytes();
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent).map_err(|source| StoreError::Io {
                path: parent.to_owned(),
                source,
            })?;
        }
        std::fs::write(&to, bytes).map_err(|source| StoreError::Io {
            path: to.clone(),
            source,
        })?;
        Ok(to)
    }

    async fn upload(&self, bucket: &str, key: &str, file: &Path) -> Result<(), StoreError> {
        let body = ByteStream::from_path(file)
            .await
            .map_err(|e| service(bucket, key, e))?;
        let mut request = self.client.put_object().bucket(bucket).key(key).body(body);
        if let Some(acl) = &self.acl {
            request = request.acl(acl.clone());
        }
        request
            .send()
            .await
            .map_err(|e| service(bucket, key, aws_sdk_s3::Error::from(e)))?;
        Ok(())
    }
}

impl Store for S3Store {
    async fn fetch(
        &self,
        bucket: &str,
        keys: &[String],
        scratch: &Path,
    ) -> Result<Vec<PathBuf>, StoreError> {
        let downloads: Vec<_> = keys
            .iter()
            .map(|key| self.download(bucket, key, scratch.join(key)))
            .collect();
        stream::iter(downloads)
            .buffered(CONCURRENT_TRANSFERS)
            .try_collect()
            .await
    }

    async fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<Object>, StoreError> {
        let folder = format!("{}/", prefix.trim_end_matches('/'));
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(bucket)
            .prefix(&folder)
            .into_paginator()
            .send();
        let mut objects = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| service(bucket, &folder, aws_sdk_s3::Error::from(e)))?;
            for object in page.contents.unwrap_or_default() {
                let key = object.key.unwrap_or_default();
                let relative = key.strip_prefix(&folder).unwrap_or(&key).to_owned();
                objects.push(Object {
                    key: relative,
                    size: object.size.unwrap_or(0).max(0) as u64,
                });
            }
        }
        Ok(objects)
    }

    async fn publish(
        &self,
        bucket: &str,
        prefix: &str,
        dir: &Path,
    ) -> Result<Vec<String>, StoreError> {
        let prefix = prefix.trim_end_matches('/');
        let files: Vec<(String, PathBuf)> = super::local_files(dir)?
            .into_iter()
            .map(|(relative, path, _)| (relative, path))
            .collect();
        let uploads: Vec<_> = files
            .iter()
            .map(|(relative, path)| async move {
                self.upload(bucket, &format!("{prefix}/{relative}"), path)
                    .await
            })
            .collect();
        stream::iter(uploads)
            .buffer_unordered(CONCURRENT_TRANSFERS)
            .try_collect::<Vec<()>>()
            .await?;
        Ok(files.into_iter().map(|(relative, _)| relative).collect())
    }

    async fn put(&self, bucket: &str, key: &str, file: &Path) -> Result<(), StoreError> {
        check_relative(key).map_err(|_| StoreError::BadKey {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
        })?;
        self.upload(bucket, key, file).await
    }

    fn local_dir(&self, _bucket: &str, _prefix: &str) -> Option<PathBuf> {
        None
    }
}
