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
    /// A key (or the resulting prefix) is absolute, empty, or climbs out with `..`.
    #[error("`{0}` must be a relative key without empty, '.' or '..' parts")]
    Escapes(String),
}

/// The part of the output prefix that is particular to a group: with an empty
/// output_structure the metadata values joined with `-` (`P1-A01-1`); otherwise the
/// output_structure with every metadata key replaced by its value
/// (`Metadata_Plate/Metadata_Well` → `P1/A01`).
///
/// Unlike DCP's plain string replacement, a key is only replaced where it stands whole, the
/// longest key first, so `Metadata_Well` never clobbers part of `Metadata_WellRow`.
pub fn group_path(
    pairs: &[(String, String)],
    output_structure: &str,
) -> Result<String, PrefixError> {
    if output_structure.is_empty() {
        let values: Vec<&str> = pairs.iter().map(|(_, v)| v.as_str()).collect();
        return Ok(values.join("-"));
    }
    let mut keys: Vec<&(String, String)> = pairs.iter().collect();
    keys.sort_by_key(|(k, _)| std::cmp::Reverse(k.len()));
    let mut out = String::with_capacity(output_structure.len());
    let mut rest = output_structure;
    while let Some(c) = rest.chars().next() {
        let whole = |k: &str| {
            rest.starts_with(k)
                && !rest[k.len()..].starts_with(|c: char| c.is_alphanumeric() || c == '_')
        };
        if let Some((key, value)) = keys.iter().find(|(k, _)| whole(k)) {
            out.push_str(value);
            rest = &rest[key.len()..];
        } else if rest.starts_with("Metadata_") {
            let name_len = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            return Err(PrefixError::UnknownKey(rest[..name_len].to_owned()));
        } else {
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    check_relative(&out)?;
    Ok(out)
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

/// Checks that a bucket key stays inside its bucket: relative, with no empty, `.` or `..`
/// parts (a single trailing `/` is allowed, as in DCP's `input` folders), and no `\` or
/// control characters.
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
    fn structure_replaces_whole_keys_longest_first() {
        let p = pairs(&[
            ("Metadata_Well", "A01"),
            ("Metadata_WellRow", "A"),
            ("Metadata_Plate", "P1"),
        ]);
        assert_eq!(
            group_path(&p, "Metadata_Plate/Metadata_Well").unwrap(),
            "P1/A01"
        );
        assert_eq!(
            group_path(&p, "Metadata_Plate/Metadata_WellRow-Metadata_Well").unwrap(),
            "P1/A-A01"
        );
        assert_eq!(group_path(&p, "Metadata_Plate/x").unwrap(), "P1/x");
    }

    #[test]
    fn structure_naming_a_missing_key_is_refused() {
        let p = pairs(&[("Metadata_Plate", "P1")]);
        assert_eq!(
            group_path(&p, "Metadata_Plate/Metadata_Site"),
            Err(PrefixError::UnknownKey("Metadata_Site".into()))
        );
    }

    #[test]
    fn structure_cannot_climb_out() {
        let p = pairs(&[("Metadata_Plate", "P1")]);
        assert!(group_path(&p, "../Metadata_Plate").is_err());
        assert!(group_path(&p, "/Metadata_Plate").is_err());
        assert!(group_path(&p, "Metadata_Plate//x").is_err());
    }

    #[test]
    fn relative_keys() {
        for ok in ["a", "a/b", "a/b/", "demo_project_folder/workspace/"] {
            assert!(check_relative(ok).is_ok(), "{ok}");
        }
        for bad in ["", "/", "/a", "a/../b", "..", "a//b", "./a", "a\\b", "a\nb"] {
            assert!(check_relative(bad).is_err(), "{bad}");
        }
        assert_eq!(output_prefix("out/", "P1"), "out/P1");
        assert_eq!(output_prefix("out", "P1/A01"), "out/P1/A01");
    }
}
