//! Buckets on Amazon S3 (or any S3-compatible store `AWS_ENDPOINT_URL` names).
//!
//! S3 cannot rename a folder, so a result is published as a set of objects followed, last,
//! by a manifest ([`MANIFEST`]) naming them; only a prefix with a manifest holds a
//! finished result. Large files go up in parts (multipart upload).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::{ByteStream, Length};
use aws_sdk_s3::types::{
    ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart, ObjectCannedAcl,
};
use futures::stream::{self, StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};

use super::{Object, Store, StoreError};
use crate::prefix::check_relative;

/// Transfers in flight at once for one task.
const CONCURRENT_TRANSFERS: usize = 8;

/// The object, inside a published prefix, that lists the result's objects; written last,
/// so its presence means the result is whole.
pub const MANIFEST: &str = ".dcp-done.json";

/// Files larger than this are uploaded in parts.
pub const MULTIPART_THRESHOLD: u64 = 64 << 20;

/// The size of each part of a multipart upload (the last may be smaller).
pub const PART_SIZE: u64 = 16 << 20;

/// Buckets on S3.
pub struct S3Store {
    client: Client,
    acl: Option<ObjectCannedAcl>,
    multipart_threshold: u64,
    part_size: u64,
}

/// The manifest of a published result: its objects, relative to the prefix, with sizes.
#[derive(Debug, Serialize, Deserialize)]
struct Manifest {
    objects: Vec<ManifestEntry>,
}

#[derive(Debug, Serialize, Deserialize)]
struct ManifestEntry {
    key: String,
    size: u64,
}

/// The folder of `prefix`: the prefix with one trailing `/`.
fn folder(prefix: &str) -> String {
    format!("{}/", prefix.trim_end_matches('/'))
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
            multipart_threshold: MULTIPART_THRESHOLD,
            part_size: PART_SIZE,
        })
    }

    /// Uploads files larger than `threshold` bytes in parts of `part_size` bytes (S3 wants
    /// at least 5 MiB per part but the last) instead of [`MULTIPART_THRESHOLD`] and
    /// [`PART_SIZE`].
    pub fn with_multipart(mut self, threshold: u64, part_size: u64) -> Self {
        self.multipart_threshold = threshold;
        self.part_size = part_size.max(1);
        self
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

    /// Writes `file` as `key`: in one request, or in parts when it is large.
    async fn upload(&self, bucket: &str, key: &str, file: &Path) -> Result<(), StoreError> {
        let size = std::fs::metadata(file)
            .map_err(|source| StoreError::Io {
                path: file.to_owned(),
                source,
            })?
            .len();
        if size > self.multipart_threshold {
            return self.upload_in_parts(bucket, key, file, size).await;
        }
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

    /// A multipart upload of `file` (`size` bytes); aborted if any step fails, so no
    /// orphaned parts are left to bill.
    async fn upload_in_parts(
        &self,
        bucket: &str,
        key: &str,
        file: &Path,
        size: u64,
    ) -> Result<(), StoreError> {
        let mut request = self
            .client
            .create_multipart_upload()
            .bucket(bucket)
            .key(key)
            .checksum_algorithm(ChecksumAlgorithm::Crc32);
        if let Some(acl) = &self.acl {
            request = request.acl(acl.clone());
        }
        let created = request
            .send()
            .await
            .map_err(|e| service(bucket, key, aws_sdk_s3::Error::from(e)))?;
        let Some(upload_id) = created.upload_id else {
            return Err(StoreError::Service {
                bucket: bucket.to_owned(),
                key: key.to_owned(),
                message: "CreateMultipartUpload returned no upload id".to_owned(),
            });
        };
        let result = self.send_parts(bucket, key, file, size, &upload_id).await;
        if result.is_err() {
            let aborted = self
                .client
                .abort_multipart_upload()
                .bucket(bucket)
                .key(key)
                .upload_id(&upload_id)
                .send()
                .await;
            if let Err(e) = aborted {
                let e = aws_sdk_s3::error::DisplayErrorContext(aws_sdk_s3::Error::from(e));
                eprintln!("dcp: cannot abort the multipart upload of {bucket}/{key}: {e}");
            }
        }
        result
    }

    async fn send_parts(
        &self,
        bucket: &str,
        key: &str,
        file: &Path,
        size: u64,
        upload_id: &str,
    ) -> Result<(), StoreError> {
        let part_size = self.part_size;
        let parts = size.div_ceil(part_size);
        let uploads = (0..parts).map(|index| async move {
            let offset = index * part_size;
            let length = part_size.min(size - offset);
            let body = ByteStream::read_from()
                .path(file)
                .offset(offset)
                .length(Length::Exact(length))
                .build()
                .await
                .map_err(|e| service(bucket, key, e))?;
            let number = i32::try_from(index + 1).map_err(|_| StoreError::Service {
                bucket: bucket.to_owned(),
                key: key.to_owned(),
                message: format!("{parts} parts are too many"),
            })?;
            let sent = self
                .client
                .upload_part()
                .bucket(bucket)
                .key(key)
                .upload_id(upload_id)
                .part_number(number)
                .checksum_algorithm(ChecksumAlgorithm::Crc32)
                .body(body)
                .send()
                .await
                .map_err(|e| service(bucket, key, aws_sdk_s3::Error::from(e)))?;
            let mut part = CompletedPart::builder().part_number(number);
            if let Some(etag) = sent.e_tag {
                part = part.e_tag(etag);
            }
            if let Some(crc) = sent.checksum_crc32 {
                part = part.checksum_crc32(crc);
            }
            Ok::<_, StoreError>(part.build())
        });
        let completed: Vec<CompletedPart> = stream::iter(uploads)
            .buffered(CONCURRENT_TRANSFERS.min(4))
            .try_collect()
            .await?;
        self.client
            .complete_multipart_upload()
            .bucket(bucket)
            .key(key)
            .upload_id(upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(completed))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| service(bucket, key, aws_sdk_s3::Error::from(e)))?;
        Ok(())
    }

    /// Deletes `key`; a missing object is no error.
    async fn delete(&self, bucket: &str, key: &str) -> Result<(), StoreError> {
        self.client
            .delete_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| service(bucket, key, aws_sdk_s3::Error::from(e)))?;
        Ok(())
    }

    /// The manifest of the result under `folder` (ending in `/`), if there is one.
    async fn manifest(&self, bucket: &str, folder: &str) -> Result<Option<Manifest>, StoreError> {
        let key = format!("{folder}{MANIFEST}");
        let got = match self
            .client
            .get_object()
            .bucket(bucket)
            .key(&key)
            .send()
            .await
        {
            Ok(got) => got,
            Err(e) => {
                return match aws_sdk_s3::Error::from(e) {
                    aws_sdk_s3::Error::NoSuchKey(_) => Ok(None),
                    other => Err(service(bucket, &key, other)),
                };
            }
        };
        let bytes = got
            .body
            .collect()
            .await
            .map_err(|e| service(bucket, &key, e))?
            .into_bytes();
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| service(bucket, &key, e))
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
        let folder = folder(prefix);
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

    /// Deletes the old manifest, uploads every file, then writes the manifest naming them.
    async fn publish(
        &self,
        bucket: &str,
        prefix: &str,
        dir: &Path,
    ) -> Result<Vec<String>, StoreError> {
        let folder = folder(prefix);
        let manifest_key = format!("{folder}{MANIFEST}");
        let files: Vec<(String, PathBuf, u64)> = super::local_files(dir)?
            .into_iter()
            .filter(|(relative, _, _)| relative != MANIFEST)
            .collect();
        // From here until the new manifest is written, the prefix is not a finished result.
        self.delete(bucket, &manifest_key).await?;
        let uploads: Vec<_> = files
            .iter()
            .map(|(relative, path, _)| {
                let key = format!("{folder}{relative}");
                async move { self.upload(bucket, &key, path).await }
            })
            .collect();
        stream::iter(uploads)
            .buffer_unordered(CONCURRENT_TRANSFERS)
            .try_collect::<Vec<()>>()
            .await?;
        let manifest = Manifest {
            objects: files
                .iter()
                .map(|(key, _, size)| ManifestEntry {
                    key: key.clone(),
                    size: *size,
                })
                .collect(),
        };
        let body = serde_json::to_vec_pretty(&manifest).expect("a manifest serialises");
        let mut request = self
            .client
            .put_object()
            .bucket(bucket)
            .key(&manifest_key)
            .content_type("application/json")
            .body(ByteStream::from(body));
        if let Some(acl) = &self.acl {
            request = request.acl(acl.clone());
        }
        request
            .send()
            .await
            .map_err(|e| service(bucket, &manifest_key, aws_sdk_s3::Error::from(e)))?;
        Ok(files.into_iter().map(|(relative, _, _)| relative).collect())
    }

    /// The objects the manifest names that are there with the size it gives; `None`
    /// without a manifest.
    async fn finished(
        &self,
        bucket: &str,
        prefix: &str,
    ) -> Result<Option<Vec<Object>>, StoreError> {
        let Some(manifest) = self.manifest(bucket, &folder(prefix)).await? else {
            return Ok(None);
        };
        let present: HashMap<String, u64> = self
            .list(bucket, prefix)
            .await?
            .into_iter()
            .map(|o| (o.key, o.size))
            .collect();
        Ok(Some(
            manifest
                .objects
                .into_iter()
                .filter(|e| present.get(&e.key) == Some(&e.size))
                .map(|e| Object {
                    key: e.key,
                    size: e.size,
                })
                .collect(),
        ))
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
