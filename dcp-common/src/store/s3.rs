//! Buckets on Amazon S3 (or any S3-compatible store `AWS_ENDPOINT_URL` names).
//!
//! Each object is written whole by one PutObject (or, when large, one completed multipart
//! upload); [`Placement::New`] sends `If-None-Match: *`, so S3 itself refuses to replace an
//! existing object (a conditional write, answered 412 Precondition Failed).

use std::path::{Path, PathBuf};

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::{ByteStream, Length};
use aws_sdk_s3::types::{
    ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart, ObjectCannedAcl,
    ServerSideEncryption, StorageClass,
};
use futures::stream::{self, StreamExt, TryStreamExt};

use super::{Object, Placement, Store, StoreError};
use crate::config::UploadFlags;
use crate::prefix::check_relative;

/// Transfers in flight at once for one task.
const CONCURRENT_TRANSFERS: usize = 8;

/// Files larger than this are uploaded in parts.
pub const MULTIPART_THRESHOLD: u64 = 64 << 20;

/// The size of each part of a multipart upload (the last may be smaller).
pub const PART_SIZE: u64 = 16 << 20;

/// `$request` (a PutObject or CreateMultipartUpload builder) with the object options of
/// UPLOAD_FLAGS: `--acl`, `--sse`, `--sse-kms-key-id` and `--storage-class`.
macro_rules! with_flags {
    ($request:expr, $flags:expr) => {{
        let flags: &UploadFlags = $flags;
        let mut request = $request;
        if let Some(acl) = &flags.acl {
            request = request.acl(ObjectCannedAcl::from(acl.as_str()));
        }
        if let Some(sse) = &flags.sse {
            request = request.server_side_encryption(ServerSideEncryption::from(sse.as_str()));
        }
        if let Some(key_id) = &flags.sse_kms_key_id {
            request = request.ssekms_key_id(key_id);
        }
        if let Some(class) = &flags.storage_class {
            request = request.storage_class(StorageClass::from(class.as_str()));
        }
        request
    }};
}

/// Buckets on S3.
pub struct S3Store {
    client: Client,
    flags: UploadFlags,
    multipart_threshold: u64,
    part_size: u64,
}

/// The folder of `prefix`: the prefix with one trailing `/`.
fn folder(prefix: &str) -> String {
    format!("{}/", prefix.trim_end_matches('/'))
}

fn service(
    operation: &'static str,
    bucket: &str,
    key: &str,
    error: impl crate::aws::ProvideErrorMetadata + std::error::Error,
) -> StoreError {
    StoreError::Service {
        operation,
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        message: crate::aws::error_line(&error),
    }
}

/// A download stream that broke.
fn transfer(
    operation: &'static str,
    bucket: &str,
    key: &str,
    error: &(dyn std::error::Error + 'static),
) -> StoreError {
    StoreError::Service {
        operation,
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        message: crate::aws::error_chain(error),
    }
}

/// The error of a write: [`StoreError::Occupied`] when S3 refused a conditional write
/// because the key exists (412 Precondition Failed, or 409 when another conditional write
/// to the key was under way).
fn refused<E, R>(
    operation: &'static str,
    bucket: &str,
    key: &str,
    error: aws_sdk_s3::error::SdkError<E, R>,
) -> StoreError
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
    aws_sdk_s3::Error: From<aws_sdk_s3::error::SdkError<E, R>>,
{
    use aws_sdk_s3::error::ProvideErrorMetadata;
    match error.code() {
        Some("PreconditionFailed" | "ConditionalRequestConflict") => StoreError::Occupied {
            bucket: bucket.to_owned(),
            keys: vec![key.to_owned()],
        },
        _ => service(operation, bucket, key, aws_sdk_s3::Error::from(error)),
    }
}

impl S3Store {
    /// A store on `client` that writes every object with the options of UPLOAD_FLAGS
    /// (ACL, server-side encryption, storage class; a put always writes new metadata, so
    /// `--metadata-directive` changes nothing).
    pub fn new(client: Client, flags: UploadFlags) -> Self {
        S3Store {
            client,
            flags,
            multipart_threshold: MULTIPART_THRESHOLD,
            part_size: PART_SIZE,
        }
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
        let bytes = self
            .read(bucket, key)
            .await?
            .ok_or_else(|| StoreError::Missing {
                bucket: bucket.to_owned(),
                key: key.to_owned(),
            })?;
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
    async fn upload(
        &self,
        bucket: &str,
        key: &str,
        file: &Path,
        placement: Placement,
    ) -> Result<(), StoreError> {
        let size = std::fs::metadata(file)
            .map_err(|source| StoreError::Io {
                path: file.to_owned(),
                source,
            })?
            .len();
        if size > self.multipart_threshold {
            return self
                .upload_in_parts(bucket, key, file, size, placement)
                .await;
        }
        let body = ByteStream::from_path(file)
            .await
            .map_err(|e| transfer("reading the file to upload", bucket, key, &e))?;
        let mut request = self.client.put_object().bucket(bucket).key(key).body(body);
        request = with_flags!(request, &self.flags);
        if placement == Placement::New {
            request = request.if_none_match("*");
        }
        request
            .send()
            .await
            .map_err(|e| refused("PutObject", bucket, key, e))?;
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
        placement: Placement,
    ) -> Result<(), StoreError> {
        let mut request = self
            .client
            .create_multipart_upload()
            .bucket(bucket)
            .key(key)
            .checksum_algorithm(ChecksumAlgorithm::Crc32);
        request = with_flags!(request, &self.flags);
        let created = request.send().await.map_err(|e| {
            service(
                "CreateMultipartUpload",
                bucket,
                key,
                aws_sdk_s3::Error::from(e),
            )
        })?;
        let Some(upload_id) = created.upload_id else {
            return Err(StoreError::Service {
                operation: "CreateMultipartUpload",
                bucket: bucket.to_owned(),
                key: key.to_owned(),
                message: "CreateMultipartUpload returned no upload id".to_owned(),
            });
        };
        let result = self
            .send_parts(bucket, key, file, size, &upload_id, placement)
            .await;
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
                let e = crate::aws::error_line(&e);
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
        placement: Placement,
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
                .map_err(|e| transfer("reading the file to upload", bucket, key, &e))?;
            let number = i32::try_from(index + 1).map_err(|_| StoreError::Service {
                operation: "UploadPart",
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
                .map_err(|e| service("UploadPart", bucket, key, aws_sdk_s3::Error::from(e)))?;
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
        let mut complete = self
            .client
            .complete_multipart_upload()
            .bucket(bucket)
            .key(key)
            .upload_id(upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(completed))
                    .build(),
            );
        if placement == Placement::New {
            complete = complete.if_none_match("*");
        }
        complete
            .send()
            .await
            .map_err(|e| refused("CompleteMultipartUpload", bucket, key, e))?;
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
            let page = page.map_err(|e| {
                service("ListObjectsV2", bucket, &folder, aws_sdk_s3::Error::from(e))
            })?;
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

    async fn read(&self, bucket: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let got = match self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
        {
            Ok(got) => got,
            Err(e) => {
                return match aws_sdk_s3::Error::from(e) {
                    aws_sdk_s3::Error::NoSuchKey(_) => Ok(None),
                    other => Err(service("GetObject", bucket, key, other)),
                };
            }
        };
        let bytes = got
            .body
            .collect()
            .await
            .map_err(|e| transfer("GetObject", bucket, key, &e))?
            .into_bytes();
        Ok(Some(bytes.to_vec()))
    }

    async fn size(&self, bucket: &str, key: &str) -> Result<Option<u64>, StoreError> {
        match self
            .client
            .head_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
        {
            Ok(head) => Ok(Some(head.content_length().unwrap_or(0).max(0) as u64)),
            Err(e) => match aws_sdk_s3::Error::from(e) {
                aws_sdk_s3::Error::NotFound(_) => Ok(None),
                other => Err(service("HeadObject", bucket, key, other)),
            },
        }
    }

    async fn write(&self, bucket: &str, key: &str, bytes: Vec<u8>) -> Result<(), StoreError> {
        let mut request = self
            .client
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_type("application/json")
            .body(ByteStream::from(bytes));
        request = with_flags!(request, &self.flags);
        request
            .send()
            .await
            .map_err(|e| service("PutObject", bucket, key, aws_sdk_s3::Error::from(e)))?;
        Ok(())
    }

    async fn place(
        &self,
        bucket: &str,
        key: &str,
        file: &Path,
        placement: Placement,
    ) -> Result<(), StoreError> {
        check_relative(key).map_err(|_| StoreError::BadKey {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
        })?;
        self.upload(bucket, key, file, placement).await
    }

    fn local_dir(&self, _bucket: &str, _prefix: &str) -> Option<PathBuf> {
        None
    }
}
