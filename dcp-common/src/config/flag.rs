//! DCP's ways of writing values: booleans as the strings 'True'/'False', instance types as a
//! list or a single string.

use serde::Deserialize;
use serde::de::{Deserializer, Error};

#[derive(Deserialize)]
#[serde(untagged)]
enum BoolOrText {
    Bool(bool),
    Text(String),
}

/// A boolean given as `true`/`false` or as DCP's case-insensitive strings 'True'/'False'.
pub fn boolean<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    let value = BoolOrText::deserialize(d)
        .map_err(|_: D::Error| D::Error::custom("expected true or false, or 'True'/'False'"))?;
    match value {
        BoolOrText::Bool(b) => Ok(b),
        BoolOrText::Text(t) if t.eq_ignore_ascii_case("true") => Ok(true),
        BoolOrText::Text(t) if t.eq_ignore_ascii_case("false") => Ok(false),
        BoolOrText::Text(t) => Err(D::Error::custom(format!(
            "expected true or false, got '{t}'"
        ))),
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

/// A list of strings, or one string standing for a list of one.
pub fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let value = OneOrMany::deserialize(d)
        .map_err(|_: D::Error| D::Error::custom("expected a string or a list of strings"))?;
    Ok(match value {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    })
}
