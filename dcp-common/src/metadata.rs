//! The metadata of one image group, in either of the two forms DCP job files use.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A group's metadata as a job file gives it; kept in that form so the queue message
/// carries it unchanged.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Metadata {
    /// DCP's canonical form: `"Metadata_Plate=P1,Metadata_Well=A01"`.
    Text(String),
    /// The object form printed by `cellprofiler --print-groups`: `{"Metadata_Plate": "P1"}`.
    Fields(Map<String, Value>),
}

/// Why a group's metadata was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MetadataError {
    /// The group has no key/value pair at all.
    #[error("no metadata: a group needs at least one Key=Value pair")]
    Empty,
    /// A part of the text form is not `Key=Value`.
    #[error("`{0}` is not of the form Key=Value")]
    NotAPair(String),
    /// A key is empty or holds a character that would break `-g Key=Value,…`.
    #[error(
        "the key `{0}` must be non-empty and free of ',', '=', '/', spaces and control characters"
    )]
    BadKey(String),
    /// The same key appears twice.
    #[error("the key `{0}` appears twice")]
    DuplicateKey(String),
    /// A value of the object form is not a string or a number.
    #[error("the value of `{0}` must be a string or a number")]
    NotScalar(String),
    /// A value would leave the output prefix or break the CellProfiler group argument.
    #[error("the value `{value}` of `{key}` {reason}")]
    BadValue {
        /// The metadata key.
        key: String,
        /// The refused value.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

impl Metadata {
    /// The key/value pairs in the order the job gives them, each checked: keys are plain
    /// names, and values can neither leave an output prefix (`..`, `/`) nor break the
    /// `-g Key=Value,…` argument of CellProfiler.
    pub fn pairs(&self) -> Result<Vec<(String, String)>, MetadataError> {
        let pairs: Vec<(String, String)> = match self {
            Metadata::Text(text) if text.is_empty() => return Err(MetadataError::Empty),
            Metadata::Text(text) => text
                .split(',')
                .map(|part| match part.split_once('=') {
                    Some((key, value)) => Ok((key.to_owned(), value.to_owned())),
                    None => Err(MetadataError::NotAPair(part.to_owned())),
                })
                .collect::<Result<_, _>>()?,
            Metadata::Fields(fields) => fields
                .iter()
                .map(|(key, value)| match value {
                    Value::String(s) => Ok((key.clone(), s.clone())),
                    Value::Number(n) => Ok((key.clone(), n.to_string())),
                    _ => Err(MetadataError::NotScalar(key.clone())),
                })
                .collect::<Result<_, _>>()?,
        };
        if pairs.is_empty() {
            return Err(MetadataError::Empty);
        }
        for (i, (key, value)) in pairs.iter().enumerate() {
            check_key(key)?;
            check_value(key, value)?;
            if pairs[..i].iter().any(|(k, _)| k == key) {
                return Err(MetadataError::DuplicateKey(key.clone()));
            }
        }
        Ok(pairs)
    }
}

/// Joins pairs as CellProfiler's `-g` argument and DCP's text form: `K1=v1,K2=v2`.
pub fn join_pairs(pairs: &[(String, String)]) -> String {
    let mut out = String::new();
    for (i, (key, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(key);
        out.push('=');
        out.push_str(value);
    }
    out
}

fn check_key(key: &str) -> Result<(), MetadataError> {
    let bad = key.is_empty()
        || key
            .chars()
            .any(|c| matches!(c, ',' | '=' | '/' | '\\') || c.is_whitespace() || c.is_control());
    if bad {
        Err(MetadataError::BadKey(key.to_owned()))
    } else {
        Ok(())
    }
}

fn check_value(key: &str, value: &str) -> Result<(), MetadataError> {
    let reason = if value.is_empty() {
        Some("is empty")
    } else if value == "." || value == ".." {
        Some("would leave the output prefix")
    } else if value.contains(['/', '\\']) {
        Some("holds a path separator, which would leave the output prefix")
    } else if value.contains([',', '=']) {
        Some("holds ',' or '=', which would break the group argument")
    } else if value.chars().any(char::is_control) {
        Some("holds a control character")
    } else if value.trim() != value {
        Some(
            "begins or ends with whitespace, which CellProfiler's -g would compare as part of \
             the value; remove it",
        )
    } else {
        None
    };
    match reason {
        Some(reason) => Err(MetadataError::BadValue {
            key: key.to_owned(),
            value: value.to_owned(),
            reason,
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pairs(v: Value) -> Result<Vec<(String, String)>, MetadataError> {
        serde_json::from_value::<Metadata>(v).unwrap().pairs()
    }

    #[test]
    fn text_and_object_forms_give_ordered_pairs() {
        let expected = vec![
            ("Metadata_Plate".to_owned(), "P1".to_owned()),
            ("Metadata_Site".to_owned(), "1".to_owned()),
        ];
        assert_eq!(
            pairs(json!("Metadata_Plate=P1,Metadata_Site=1")).unwrap(),
            expected
        );
        assert_eq!(
            pairs(json!({"Metadata_Plate": "P1", "Metadata_Site": 1})).unwrap(),
            expected
        );
        assert_eq!(join_pairs(&expected), "Metadata_Plate=P1,Metadata_Site=1");
    }

    #[test]
    fn refuses_values_that_escape_the_prefix() {
        for bad in ["..", ".", "a/b", "a\\b", "", "x\ty", "A03 ", " A03"] {
            let err = pairs(json!({ "Metadata_Plate": bad })).unwrap_err();
            assert!(
                matches!(err, MetadataError::BadValue { .. }),
                "{bad:?}: {err}"
            );
        }
        assert!(matches!(
            pairs(json!("Metadata_Plate=..")),
            Err(MetadataError::BadValue { .. })
        ));
    }

    #[test]
    fn quotes_refused_values_so_whitespace_shows() {
        let err = pairs(json!("Metadata_Well=A03 ")).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("the value `A03 ` of `Metadata_Well` begins or ends with whitespace"),
            "{err}"
        );
    }

    #[test]
    fn refuses_malformed_groups() {
        assert_eq!(pairs(json!("")), Err(MetadataError::Empty));
        assert_eq!(pairs(json!({})), Err(MetadataError::Empty));
        assert_eq!(
            pairs(json!("Metadata_Plate")),
            Err(MetadataError::NotAPair("Metadata_Plate".into()))
        );
        assert_eq!(
            pairs(json!("A=1,A=2")),
            Err(MetadataError::DuplicateKey("A".into()))
        );
        assert_eq!(pairs(json!("=1")), Err(MetadataError::BadKey("".into())));
        assert_eq!(
            pairs(json!({"A": true})),
            Err(MetadataError::NotScalar("A".into()))
        );
        assert!(matches!(
            pairs(json!("A=1=2")),
            Err(MetadataError::BadValue { .. })
        ));
    }
}
