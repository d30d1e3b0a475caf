//! Where a load-data path or URL points: an object of one of the run's buckets, or a
//! refusal saying why the run may not read it.
//!
//! DCP mounts SOURCE_BUCKET at `/home/ubuntu/bucket` (its `run_worker.sh`), so a path under
//! MOUNT_ROOT is a key of the source bucket. CellProfiler reads `s3://BUCKET/KEY` URLs
//! itself (`cellprofiler_core/utilities/image.py`, `generate_presigned_url`: the key is
//! the URL's rest with `+` read as a space) and `file:` URLs as percent-encoded paths.

use std::path::Path;

use crate::prefix::check_relative;

/// The run's buckets and the mount root that maps paths to the source bucket.
#[derive(Clone, Copy, Debug)]
pub struct Buckets<'a> {
    /// MOUNT_ROOT.
    pub mount_root: &'a str,
    /// SOURCE_BUCKET, DESTINATION_BUCKET and WORKSPACE_BUCKET, by setting name.
    pub named: [(&'static str, &'a str); 3],
}

impl<'a> Buckets<'a> {
    /// The buckets of `config`.
    pub fn of(config: &'a crate::Config) -> Self {
        Buckets {
            mount_root: &config.mount_root,
            named: [
                ("SOURCE_BUCKET", &config.source_bucket),
                ("DESTINATION_BUCKET", &config.destination_bucket),
                ("WORKSPACE_BUCKET", &config.workspace_bucket),
            ],
        }
    }

    fn source(&self) -> &'a str {
        self.named[0].1
    }

    /// The run's bucket an `s3://` URL names: its host is a bucket setting, or, for a
    /// bucket that is a local folder (embedded backend), the folder's name.
    fn by_url_host(&self, host: &str) -> Option<&'a str> {
        let matches = |bucket: &str| {
            bucket == host
                || (bucket.contains('/')
                    && Path::new(bucket).file_name().is_some_and(|n| n == host))
        };
        self.named
            .iter()
            .map(|(_, bucket)| *bucket)
            .find(|b| matches(b))
    }

    /// The object a path or a `file:`/`s3:` URL points at, or why the run may not read it.
    pub fn locate(&self, path_or_url: &str) -> Result<Object, String> {
        let lower = path_or_url.to_ascii_lowercase();
        if lower.starts_with("s3:") {
            return self.locate_s3(path_or_url);
        }
        if let Some(rest) = lower.strip_prefix("file:").map(|_| &path_or_url[5..]) {
            let path = collapse_slashes(&percent_decode(rest));
            return self
                .locate_path(&path)
                .map_err(|e| format!("is the path `{path}`, which {e}"));
        }
        if ["http:", "https:", "ftp:", "gs:"]
            .iter()
            .any(|s| lower.starts_with(s))
        {
            return Err(format!(
                "is a URL outside the run's buckets; a run reads only `s3://` URLs of {} \
                 and paths under MOUNT_ROOT `{}`",
                self.bucket_list(),
                self.mount_root
            ));
        }
        self.locate_path(path_or_url)
    }

    fn bucket_list(&self) -> String {
        let names: Vec<String> = self
            .named
            .iter()
            .map(|(name, bucket)| format!("{name} `{bucket}`"))
            .collect();
        names.join(", ")
    }

    fn locate_s3(&self, url: &str) -> Result<Object, String> {
        let rest = &url[3..];
        let rest = rest
            .strip_prefix("//")
            .ok_or("is not an `s3://BUCKET/KEY` URL")?;
        let (host, key) = rest
            .split_once('/')
            .ok_or("is not an `s3://BUCKET/KEY` URL")?;
        let bucket = self.by_url_host(host).ok_or_else(|| {
            format!(
                "names the bucket `{host}`, which is not one of the run's buckets ({}); \
                 a run reads nothing outside its buckets",
                self.bucket_list()
            )
        })?;
        Object::new(bucket, key.replace('+', " "))
    }

    fn locate_path(&self, path: &str) -> Result<Object, String> {
        if !path.starts_with('/') {
            return Err(format!(
                "is not an absolute path; dcp maps only paths under MOUNT_ROOT `{}` to \
                 SOURCE_BUCKET `{}`",
                self.mount_root,
                self.source()
            ));
        }
        let normal = resolve_dots(path);
        let root = resolve_dots(self.mount_root);
        let key = normal
            .strip_prefix(root.trim_end_matches('/'))
            .and_then(|rest| rest.strip_prefix('/'))
            .ok_or_else(|| {
                format!(
                    "is not under MOUNT_ROOT `{}`, the setting that maps paths to \
                     SOURCE_BUCKET `{}`; a run reads nothing outside its buckets",
                    self.mount_root,
                    self.source()
                )
            })?;
        Object::new(self.source(), key.to_owned())
    }
}

/// An object of one of the run's buckets.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Object {
    /// The bucket, as its setting gives it.
    pub bucket: String,
    /// The key.
    pub key: String,
}

impl Object {
    fn new(bucket: &str, key: String) -> Result<Self, String> {
        if key.is_empty() || key.ends_with('/') {
            return Err("names a folder, not a file".into());
        }
        check_relative(&key)
            .map_err(|_| format!("has the key `{key}`, which leaves its bucket"))?;
        Ok(Object {
            bucket: bucket.to_owned(),
            key,
        })
    }
}

/// An absolute path with `.` and `..` resolved and repeated `/` collapsed, as the kernel
/// resolves it in DCP's mounted bucket (which holds no symbolic links); `..` at the root
/// stays at the root. A trailing `/` is kept.
fn resolve_dots(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            _ => parts.push(part),
        }
    }
    let mut out = format!("/{}", parts.join("/"));
    if path.ends_with('/') && !out.ends_with('/') {
        out.push('/');
    }
    out
}

fn collapse_slashes(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        if !(c == '/' && out.ends_with('/')) {
            out.push(c);
        }
    }
    out
}

/// `%XX` escapes decoded, as Python's `urllib.parse.unquote` does (invalid ones kept).
pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(h), Some(l)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            )
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A `file:` URL of a local absolute path, percent-encoded as Python's
/// `pathlib.Path.as_uri` writes it.
pub fn file_url(path: &Path) -> String {
    let mut url = String::from("file://");
    for b in path.to_string_lossy().bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            url.push(b as char);
        } else {
            url.push_str(&format!("%{b:02X}"));
        }
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    fn buckets() -> Buckets<'static> {
        Buckets {
            mount_root: "/home/ubuntu/bucket/",
            named: [
                ("SOURCE_BUCKET", "imaging-src"),
                ("DESTINATION_BUCKET", "/runs/results"),
                ("WORKSPACE_BUCKET", "imaging-src"),
            ],
        }
    }

    fn object(bucket: &str, key: &str) -> Object {
        Object {
            bucket: bucket.into(),
            key: key.into(),
        }
    }

    #[test]
    fn maps_paths_and_urls_to_the_runs_buckets() {
        let b = buckets();
        for (cell, expected) in [
            (
                "/home/ubuntu/bucket/p/a.tif",
                object("imaging-src", "p/a.tif"),
            ),
            (
                "/home/ubuntu/bucket//p//a.tif",
                object("imaging-src", "p/a.tif"),
            ),
            (
                "file:///home/ubuntu/bucket/p/a%20b.tif",
                object("imaging-src", "p/a b.tif"),
            ),
            (
                "FILE:/home/ubuntu/bucket/p/a.tif",
                object("imaging-src", "p/a.tif"),
            ),
            // `.` and `..` resolve as in the mounted bucket, where DCP's CellProfiler
            // reads the path.
            (
                "/home/ubuntu/bucket/p/../q/./a.tif",
                object("imaging-src", "q/a.tif"),
            ),
            (
                "file:///home/ubuntu/bucket/./p/x/../a.tif",
                object("imaging-src", "p/a.tif"),
            ),
            (
                "s3://imaging-src/p/a+b.tif",
                object("imaging-src", "p/a b.tif"),
            ),
            (
                "s3://results/illum/P1_IllumDNA.npy",
                object("/runs/results", "illum/P1_IllumDNA.npy"),
            ),
        ] {
            assert_eq!(b.locate(cell), Ok(expected), "{cell}");
        }
    }

    #[test]
    fn refuses_what_lies_outside_the_runs_buckets() {
        let b = buckets();
        for (cell, reason) in [
            ("/etc/passwd", "not under MOUNT_ROOT `/home/ubuntu/bucket/`"),
            ("/home/ubuntu/bucketx/a.tif", "not under MOUNT_ROOT"),
            (
                "/home/ubuntu/bucket/../../etc/passwd",
                "not under MOUNT_ROOT",
            ),
            (
                "/home/ubuntu/bucket/img/../../x/a.tif",
                "not under MOUNT_ROOT",
            ),
            (
                "file:///home/ubuntu/bucket/../bucket2/a.tif",
                "not under MOUNT_ROOT",
            ),
            ("s3://imaging-src/p/../a.tif", "leaves its bucket"),
            ("images/a.tif", "not an absolute path"),
            (
                "file:///etc/passwd",
                "is the path `/etc/passwd`, which is not under MOUNT_ROOT",
            ),
            (
                "s3://someone-else/a.tif",
                "the bucket `someone-else`, which is not one of",
            ),
            ("https://example.org/a.tif", "outside the run's buckets"),
            ("/home/ubuntu/bucket/", "names a folder"),
        ] {
            let err = b.locate(cell).unwrap_err();
            assert!(err.contains(reason), "{cell}: {err}");
        }
    }

    #[test]
    fn file_urls_round_trip() {
        let url = file_url(Path::new("/tmp/s 1/a%b.tif"));
        assert_eq!(url, "file:///tmp/s%201/a%25b.tif");
        assert_eq!(percent_decode(&url[5..]), "///tmp/s 1/a%b.tif");
    }
}
