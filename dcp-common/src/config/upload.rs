//! UPLOAD_FLAGS: the `aws s3` options DCP's worker appended to its upload command, read once
//! into the options of each PutObject.
//!
//! DCP documents (documentation/DCP-documentation/external_buckets.md) flags such as
//! `--acl bucket-owner-full-control --metadata-directive REPLACE` for writing into another
//! account's bucket. The flags accepted are those of `aws s3 cp` that set how an object is
//! stored (AWS CLI Command Reference, s3 cp): `--acl`, `--sse`, `--sse-kms-key-id`,
//! `--storage-class` and `--metadata-directive`, each as `--flag VALUE` or `--flag=VALUE`.
//! Any other flag or value is refused when the settings are read.

use std::fmt;

use serde::de::{Deserializer, Error};
use serde::{Deserialize, Serialize, Serializer};

/// Canned ACLs of S3 (Amazon S3 User Guide, "Canned ACL").
pub const CANNED_ACLS: &[&str] = &[
    "private",
    "public-read",
    "public-read-write",
    "authenticated-read",
    "aws-exec-read",
    "bucket-owner-read",
    "bucket-owner-full-control",
];

/// Server-side encryption values of `--sse` (Amazon S3 API Reference, PutObject,
/// x-amz-server-side-encryption); `--sse` alone means `AES256`, as in the AWS CLI.
pub const SERVER_SIDE_ENCRYPTIONS: &[&str] = &["AES256", "aws:kms", "aws:kms:dsse"];

/// Storage classes of PutObject (Amazon S3 API Reference, PutObject, x-amz-storage-class).
pub const STORAGE_CLASSES: &[&str] = &[
    "STANDARD",
    "REDUCED_REDUNDANCY",
    "STANDARD_IA",
    "ONEZONE_IA",
    "INTELLIGENT_TIERING",
    "GLACIER",
    "DEEP_ARCHIVE",
    "GLACIER_IR",
];

/// Values of `--metadata-directive` (AWS CLI, s3 cp).
pub const METADATA_DIRECTIVES: &[&str] = &["COPY", "REPLACE"];

/// The upload options of UPLOAD_FLAGS; each is `None` when not given. Values are checked
/// against the lists above.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UploadFlags {
    /// `--acl`: the canned ACL of every object written.
    pub acl: Option<String>,
    /// `--sse`: the server-side encryption of every object written.
    pub sse: Option<String>,
    /// `--sse-kms-key-id`: the KMS key of `--sse aws:kms` (or `aws:kms:dsse`).
    pub sse_kms_key_id: Option<String>,
    /// `--storage-class`: the storage class of every object written.
    pub storage_class: Option<String>,
    /// `--metadata-directive`: accepted for DCP's documented flags; it only matters when
    /// S3 copies an object, and dcp only puts new objects, which always get new metadata.
    pub metadata_directive: Option<String>,
}

impl UploadFlags {
    /// Whether no flag is given.
    pub fn is_empty(&self) -> bool {
        *self == UploadFlags::default()
    }

    /// Reads UPLOAD_FLAGS text (split as a shell splits words). An error names the flag.
    pub fn parse(text: &str) -> Result<UploadFlags, String> {
        let words = shlex::split(text).ok_or_else(|| format!("'{text}' has an unclosed quote"))?;
        let mut flags = UploadFlags::default();
        let mut words = words.into_iter().peekable();
        while let Some(word) = words.next() {
            let (flag, inline) = match word.split_once('=') {
                Some((flag, value)) if flag.starts_with("--") => (flag.to_owned(), Some(value)),
                _ => (word.clone(), None),
            };
            let inline = inline.map(str::to_owned);
            let mut value = |optional_default: Option<&str>| -> Result<String, String> {
                if let Some(v) = inline.clone() {
                    return Ok(v);
                }
                match (words.peek(), optional_default) {
                    (Some(next), _) if !next.starts_with("--") => Ok(words.next().expect("peeked")),
                    (_, Some(default)) => Ok(default.to_owned()),
                    _ => Err(format!("{flag} needs a value")),
                }
            };
            let (slot, allowed) = match flag.as_str() {
                "--acl" => (&mut flags.acl, CANNED_ACLS),
                "--sse" => (&mut flags.sse, SERVER_SIDE_ENCRYPTIONS),
                "--storage-class" => (&mut flags.storage_class, STORAGE_CLASSES),
                "--metadata-directive" => (&mut flags.metadata_directive, METADATA_DIRECTIVES),
                "--sse-kms-key-id" => (&mut flags.sse_kms_key_id, &[][..]),
                _ => {
                    return Err(format!(
                        "'{word}' is not supported: only --acl, --sse, --sse-kms-key-id, \
                         --storage-class and --metadata-directive set how results are stored"
                    ));
                }
            };
            let value = value((flag == "--sse").then_some("AES256"))?;
            if !allowed.is_empty() && !allowed.contains(&value.as_str()) {
                return Err(format!(
                    "{flag} '{value}' is not one of {}",
                    allowed.join(", ")
                ));
            }
            if value.is_empty() {
                return Err(format!("{flag} needs a value"));
            }
            if slot.is_some() {
                return Err(format!("{flag} is given twice"));
            }
            *slot = Some(value);
        }
        if flags.sse_kms_key_id.is_some()
            && !flags
                .sse
                .as_deref()
                .is_some_and(|s| s.starts_with("aws:kms"))
        {
            return Err("--sse-kms-key-id needs --sse aws:kms (or aws:kms:dsse)".into());
        }
        Ok(flags)
    }
}

impl fmt::Display for UploadFlags {
    /// The flags in a fixed order, as `aws s3 cp` takes them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let given = [
            ("--acl", &self.acl),
            ("--sse", &self.sse),
            ("--sse-kms-key-id", &self.sse_kms_key_id),
            ("--storage-class", &self.storage_class),
            ("--metadata-directive", &self.metadata_directive),
        ];
        let words: Vec<String> = given
            .iter()
            .filter_map(|(flag, value)| {
                let value = value.as_deref()?;
                Some(format!("{flag} {}", shlex::try_quote(value).ok()?))
            })
            .collect();
        f.write_str(&words.join(" "))
    }
}

impl Serialize for UploadFlags {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for UploadFlags {
    /// UPLOAD_FLAGS text; `'False'` (how DCP's run.py wrote "none") means none.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        if text.eq_ignore_ascii_case("false") {
            return Ok(UploadFlags::default());
        }
        UploadFlags::parse(&text).map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dcps_documented_flags_are_read() {
        let flags =
            UploadFlags::parse("--acl bucket-owner-full-control --metadata-directive REPLACE")
                .unwrap();
        assert_eq!(flags.acl.as_deref(), Some("bucket-owner-full-control"));
        assert_eq!(flags.metadata_directive.as_deref(), Some("REPLACE"));
        assert_eq!(
            flags.to_string(),
            "--acl bucket-owner-full-control --metadata-directive REPLACE"
        );
        let flags = UploadFlags::parse(
            "--sse=aws:kms --sse-kms-key-id 'arn:aws:kms:us-east-1:111122223333:key/k' \
             --storage-class INTELLIGENT_TIERING",
        )
        .unwrap();
        assert_eq!(flags.sse.as_deref(), Some("aws:kms"));
        assert_eq!(
            flags.sse_kms_key_id.as_deref(),
            Some("arn:aws:kms:us-east-1:111122223333:key/k")
        );
        assert_eq!(flags.storage_class.as_deref(), Some("INTELLIGENT_TIERING"));
        assert_eq!(UploadFlags::parse(&flags.to_string()).unwrap(), flags);
        assert_eq!(
            UploadFlags::parse("--sse --acl private")
                .unwrap()
                .sse
                .as_deref(),
            Some("AES256")
        );
        assert!(UploadFlags::parse("  ").unwrap().is_empty());
    }

    #[test]
    fn other_flags_and_values_are_refused_by_name() {
        for (text, named) in [
            (
                "--acl bucket-owner-full-control --recursive",
                "'--recursive'",
            ),
            ("--acl owner-full-control", "--acl 'owner-full-control'"),
            ("--storage-class standard", "--storage-class 'standard'"),
            ("--acl", "--acl needs a value"),
            ("--acl private --acl private", "--acl is given twice"),
            ("--sse-kms-key-id k", "needs --sse aws:kms"),
            ("--metadata-directive KEEP", "--metadata-directive 'KEEP'"),
            ("bucket-owner-full-control", "'bucket-owner-full-control'"),
            ("--acl 'private", "unclosed quote"),
        ] {
            let err = UploadFlags::parse(text).unwrap_err();
            assert!(err.contains(named), "{text}: {err}");
        }
    }
}
