//! Where a task's results go (reference §3), and the checks that keep every bucket key a
//! task names inside its bucket.

/// Why an output location or a bucket key was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PrefixError {
    /// The object form of Metadata needs an output_structure.
    #[error("metadata given as an object needs a non-empty output_structure")]
    StructureRequired,
    /// output_structure names a metadata key the group does not have.
    #[error("output_structure names `{0}`, which this group's metadata lacks")]
    UnknownKey(String),
    /// DCP's replacement of one key after another gives another prefix than replacing each
    /// key where it stands: one key is part of another, or a value holds a key.
    #[error(
        "output_structure is ambiguous: DCP's key-by-key replacement gives `{dcp}`, but the \
         keys where they stand give `{whole}` (keys involved: {keys})"
    )]
    Ambiguous {
        /// DCP's result.
        dcp: String,
        /// The result with each key replaced where it stands, the longest first.
        whole: String,
        /// The keys whose replacements interfere, comma-separated.
        keys: String,
    },
    /// A key (or the resulting prefix) is absolute, empty, or climbs out with `..`.
    #[error("`{0}` must be a relative key without empty, '.' or '..' parts")]
    Escapes(String),
    /// A part of a key is longer than a file name may be.
    #[error("`{0}` has a part longer than {SEGMENT_MAX} bytes, the most a file name may have")]
    TooLong(String),
}

/// The part of the output prefix that is particular to a group: with an empty
/// output_structure the metadata values joined with `-` (`P1-A01-1`); otherwise the
/// output_structure with every metadata key replaced by its value
/// (`Metadata_Plate/Metadata_Well` → `P1/A01`, `Metadata_Plate_Metadata_Well` → `P1_A01`).
///
/// DCP (worker/cp-worker.py) replaces each key of the group in turn with
/// `str.replace`, so its result can depend on the keys' order: with `Metadata_Well`
/// before `Metadata_WellRow`, `Metadata_WellRow` becomes `A01Row`. dcp also replaces each
/// key where it stands, the longest first, and takes the result only when both agree;
/// otherwise the structure is refused as [`PrefixError::Ambiguous`]. Text starting with
/// `Metadata_` that no key of the group matches is refused as [`PrefixError::UnknownKey`].
pub fn group_path(
    pairs: &[(String, String)],
    output_structure: &str,
) -> Result<String, PrefixError> {
    if output_structure.is_empty() {
        let values: Vec<&str> = pairs.iter().map(|(_, v)| v.as_str()).collect();
        let joined = values.join("-");
        check_relative(&joined)?;
        return Ok(joined);
    }
    let whole = replace_where_they_stand(pairs, output_structure)?;
    let dcp = pairs
        .iter()
        .fold(output_structure.to_owned(), |s, (k, v)| s.replace(k, v));
    if dcp != whole {
        return Err(PrefixError::Ambiguous {
            dcp,
            whole,
            keys: interfering_keys(pairs).join(", "),
        });
    }
    // A folder of its own: no trailing `/` (which would leave an empty part in the keys
    // under it, such as its logs').
    if whole.ends_with('/') {
        return Err(PrefixError::Escapes(whole));
    }
    check_relative(&whole)?;
    Ok(whole)
}

/// `output_structure` with each key replaced where it starts, the longest key first.
fn replace_where_they_stand(
    pairs: &[(String, String)],
    output_structure: &str,
) -> Result<String, PrefixError> {
    let mut keys: Vec<&(String, String)> = pairs.iter().collect();
    keys.sort_by_key(|(k, _)| std::cmp::Reverse(k.len()));
    let mut out = String::with_capacity(output_structure.len());
    let mut rest = output_structure;
    while let Some(c) = rest.chars().next() {
        if let Some((key, value)) = keys.iter().find(|(k, _)| rest.starts_with(k.as_str())) {
            out.push_str(value);
            rest = &rest[key.len()..];
        } else if rest.starts_with("Metadata_") {
            return Err(PrefixError::UnknownKey(unknown_key(rest).to_owned()));
        } else {
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    Ok(out)
}

/// The name at the start of `rest`: letters, digits and `_`, up to a `_Metadata_` that
/// starts the next key.
fn unknown_key(rest: &str) -> &str {
    let end = rest
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    let name = &rest[..end];
    match name["Metadata_".len()..].find("_Metadata_") {
        Some(next) => &name[.."Metadata_".len() + next],
        None => name,
    }
}

/// The keys that are part of another key, or part of some value.
fn interfering_keys(pairs: &[(String, String)]) -> Vec<&str> {
    pairs
        .iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| {
            pairs
                .iter()
                .any(|(other, value)| (other != k && other.contains(k)) || value.contains(k))
        })
        .collect()
}

/// The full output prefix of a group: `output/<group_path>`, without a trailing slash.
pub fn output_prefix(output: &str, group_path: &str) -> String {
    let base = output.trim_end_matches('/');
    if base.is_empty() {
        group_path.to_owned()
    } else {
        format!("{base}/{group_path}")
    }
}

/// The longest group name [`group_file_name`] keeps whole, in bytes: with the suffixes dcp
/// adds (`.json`, `.<time>.log`), a file name stays under the 255 bytes that Linux file
/// systems allow for one path segment.
pub const GROUP_FILE_NAME_MAX: usize = 200;

/// A file name for the files dcp keeps per task (completion records, logs): the group as
/// `Key=Value,…`, which metadata checks keep free of `/` and control characters. A group
/// longer than [`GROUP_FILE_NAME_MAX`] bytes is cut there and ends with `~` and the first
/// 16 hex digits of the SHA-256 of the whole group, so names stay distinct.
pub fn group_file_name(group: &str) -> String {
    if group.len() <= GROUP_FILE_NAME_MAX {
        return group.to_owned();
    }
    use sha2::Digest;
    let digest = sha2::Sha256::digest(group.as_bytes());
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    let mut cut = GROUP_FILE_NAME_MAX - 17;
    while !group.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}~{hex}", &group[..cut])
}

/// The key of one attempt's log in the destination bucket:
/// `logs/<prefix>/<group file name>.<start, UTC, YYYYMMDDTHHMMSS.mmmZ>.log`, so tasks
/// sharing an output prefix keep separate logs, and each attempt keeps its own (attempts of
/// one task start at least milliseconds apart).
pub fn log_key(prefix: &str, group: &str, started: std::time::SystemTime) -> String {
    let stamp: String = humantime::format_rfc3339_millis(started)
        .to_string()
        .chars()
        .filter(|c| !matches!(c, '-' | ':'))
        .collect();
    format!("logs/{prefix}/{}.{stamp}.log", group_file_name(group))
}

/// The longest part of a key, in bytes: the longest file name Linux file systems take
/// (NAME_MAX), so every key is also a path in a local bucket.
pub const SEGMENT_MAX: usize = 255;

/// Checks that a bucket key stays inside its bucket: relative, with no empty, `.` or `..`
/// parts (a single trailing `/` is allowed, as in DCP's `input` folders), no `\` or
/// control characters, and no part longer than [`SEGMENT_MAX`] bytes.
pub fn check_relative(key: &str) -> Result<(), PrefixError> {
    let trimmed = key.strip_suffix('/').unwrap_or(key);
    let bad = trimmed.is_empty()
        || trimmed.contains('\\')
        || trimmed.chars().any(char::is_control)
        || trimmed
            .split('/')
            .any(|part| part.is_empty() || part == "." || part == "..");
    if bad {
        Err(PrefixError::Escapes(key.to_owned()))
    } else if trimmed.split('/').any(|part| part.len() > SEGMENT_MAX) {
        Err(PrefixError::TooLong(key.to_owned()))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn empty_structure_joins_values() {
        let p = pairs(&[
            ("Metadata_Plate", "P1"),
            ("Metadata_Well", "A01"),
            ("Metadata_Site", "1"),
        ]);
        assert_eq!(group_path(&p, "").unwrap(), "P1-A01-1");
    }

    #[test]
    fn structure_replaces_keys_as_dcp_does() {
        let p = pairs(&[
            ("Metadata_Plate", "P1"),
            ("Metadata_Well", "A01"),
            ("Metadata_Site", "1"),
        ]);
        assert_eq!(
            group_path(&p, "Metadata_Plate/Metadata_Well").unwrap(),
            "P1/A01"
        );
        assert_eq!(group_path(&p, "Metadata_Plate/x").unwrap(), "P1/x");
        // `_`, `-` and `/` between keys, as DCP's str.replace gives them.
        assert_eq!(
            group_path(&p, "Metadata_Plate_Metadata_Well_Metadata_Site").unwrap(),
            "P1_A01_1"
        );
        assert_eq!(
            group_path(&p, "Metadata_Plate/Metadata_Well-Metadata_Site").unwrap(),
            "P1/A01-1"
        );
        assert_eq!(group_path(&p, "Metadata_Plate").unwrap(), "P1");
    }

    #[test]
    fn structure_whose_result_depends_on_key_order_is_refused() {
        // DCP replaces Metadata_Well first and turns Metadata_WellRow into `A01Row`.
        let p = pairs(&[
            ("Metadata_Well", "A01"),
            ("Metadata_WellRow", "A"),
            ("Metadata_Plate", "P1"),
        ]);
        let err = group_path(&p, "Metadata_Plate/Metadata_WellRow-Metadata_Well").unwrap_err();
        assert_eq!(
            err,
            PrefixError::Ambiguous {
                dcp: "P1/A01Row-A01".into(),
                whole: "P1/A-A01".into(),
                keys: "Metadata_Well".into(),
            }
        );
        // The same keys in the other order: DCP's result is the one meant.
        let p = pairs(&[
            ("Metadata_WellRow", "A"),
            ("Metadata_Well", "A01"),
            ("Metadata_Plate", "P1"),
        ]);
        assert_eq!(
            group_path(&p, "Metadata_Plate/Metadata_WellRow-Metadata_Well").unwrap(),
            "P1/A-A01"
        );
        // A value holding a key.
        let p = pairs(&[("Metadata_A", "Metadata_B"), ("Metadata_B", "x")]);
        assert!(matches!(
            group_path(&p, "Metadata_A"),
            Err(PrefixError::Ambiguous { .. })
        ));
    }

    #[test]
    fn structure_naming_a_missing_key_is_refused() {
        let p = pairs(&[("Metadata_Plate", "P1")]);
        assert_eq!(
            group_path(&p, "Metadata_Plate/Metadata_Site"),
            Err(PrefixError::UnknownKey("Metadata_Site".into()))
        );
        assert_eq!(
            group_path(&p, "Metadata_Plate_Metadata_Site_Metadata_Plate"),
            Err(PrefixError::UnknownKey("Metadata_Site".into()))
        );
    }

    #[test]
    fn structure_cannot_climb_out() {
        let p = pairs(&[("Metadata_Plate", "P1")]);
        assert!(group_path(&p, "../Metadata_Plate").is_err());
        assert!(group_path(&p, "/Metadata_Plate").is_err());
        assert!(group_path(&p, "Metadata_Plate//x").is_err());
        assert!(group_path(&p, "Metadata_Plate/").is_err());
    }

    #[test]
    fn relative_keys() {
        for ok in ["a", "a/b", "a/b/", "demo_project_folder/workspace/"] {
            assert!(check_relative(ok).is_ok(), "{ok}");
        }
        for bad in ["", "/", "/a", "a/../b", "..", "a//b", "./a", "a\\b", "a\nb"] {
            assert!(check_relative(bad).is_err(), "{bad}");
        }
        assert_eq!(
            check_relative(&format!("out/{}", "x".repeat(256))),
            Err(PrefixError::TooLong(format!("out/{}", "x".repeat(256))))
        );
        assert!(check_relative(&format!("out/{}", "x".repeat(255))).is_ok());
        assert_eq!(output_prefix("out/", "P1"), "out/P1");
        assert_eq!(output_prefix("out", "P1/A01"), "out/P1/A01");
    }

    #[test]
    fn long_groups_get_short_distinct_file_names() {
        let short = "Metadata_Plate=P1,Metadata_Well=A01";
        assert_eq!(group_file_name(short), short);
        let long_a = format!("Metadata_Plate={}", "é".repeat(150));
        let long_b = format!("{long_a}x");
        let (a, b) = (group_file_name(&long_a), group_file_name(&long_b));
        assert!(a.len() <= GROUP_FILE_NAME_MAX && b.len() <= GROUP_FILE_NAME_MAX);
        assert_ne!(a, b);
        assert_eq!(a, group_file_name(&long_a));
    }

    #[test]
    fn log_keys_name_the_group_and_the_start() {
        let started = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_796_000_000);
        assert_eq!(
            log_key("out/P1", "Metadata_Plate=P1,Metadata_Site=2", started),
            "logs/out/P1/Metadata_Plate=P1,Metadata_Site=2.20261130T005320.000Z.log"
        );
    }
}
