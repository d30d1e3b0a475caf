//! DCP's fleet file (`dcp-fleet start FLEET.json`): read and checked whole before anything
//! changes, its errors located by file, line and field.

use std::path::Path;

use serde_json::Value;

use crate::FleetError;

/// A fleet file read and checked: its path, its text and its request.
#[derive(Clone, Debug)]
pub struct FleetFile {
    /// The path as given.
    pub path: String,
    /// The file's text.
    pub text: String,
    /// The request it holds.
    pub value: Value,
}

impl FleetFile {
    /// Names this file, and the line of the field, in an error about its request made
    /// after it was read (when dcp's overrides are applied, e.g. by `start`); other errors
    /// pass unchanged.
    pub fn locate(&self, err: FleetError) -> FleetError {
        match err {
            FleetError::FleetFile {
                file,
                line,
                field,
                message,
            } if file.is_empty() => FleetError::FleetFile {
                line: line.or(Some(line_of_field(&self.text, &field))),
                file: self.path.clone(),
                field,
                message,
            },
            other => other,
        }
    }
}

/// Reads a fleet file: UTF-8 JSON, an object whose fields EC2's RequestSpotFleet takes
/// (checked with the AWS backend built in). Errors name the file, the line and the field.
pub fn read(path: &Path) -> Result<FleetFile, FleetError> {
    let text = dcp_common::text::read(path)?;
    let file = path.display().to_string();
    let value: Value = serde_json::from_str(&text).map_err(|e| FleetError::FleetFile {
        file: file.clone(),
        line: Some(e.line()),
        field: String::new(),
        message: format!("not a JSON fleet file: {e}"),
    })?;
    let read = FleetFile {
        path: file,
        text,
        value,
    };
    check(&read.value).map_err(|e| read.locate(e))?;
    Ok(read)
}

#[cfg(feature = "aws")]
fn check(value: &Value) -> Result<(), FleetError> {
    crate::aws::spot::check(value)
}

/// Without the AWS backend, a fleet file is only read, never sent: it must be an object.
#[cfg(not(feature = "aws"))]
fn check(value: &Value) -> Result<(), FleetError> {
    if value.is_object() {
        return Ok(());
    }
    Err(FleetError::FleetFile {
        file: String::new(),
        line: None,
        field: String::new(),
        message: "must be a JSON object".into(),
    })
}

/// The 1-based line of a field path such as `LaunchSpecifications[0].Ebs.VolumeSize`: each
/// key is looked for after the one before it; a key not in the text (one that is missing)
/// leaves the line of the last one found.
pub fn line_of_field(text: &str, field: &str) -> usize {
    let mut at = 0;
    for key in field
        .split('.')
        .map(|part| part.split('[').next().unwrap_or(part))
        .filter(|key| !key.is_empty())
    {
        match text[at..].find(&format!("\"{key}\"")) {
            Some(offset) => at += offset,
            None => break,
        }
    }
    1 + text[..at].matches('\n').count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_field_is_found_after_its_parents() {
        let text = "{\n \"Ebs\": 1,\n \"LaunchSpecifications\": [{\n  \"Ebs\": {\n   \"Iops\": \"x\"\n  }}]\n}";
        assert_eq!(line_of_field(text, "LaunchSpecifications[0].Ebs.Iops"), 5);
        assert_eq!(line_of_field(text, "LaunchSpecifications[0].Ebs"), 4);
        assert_eq!(line_of_field(text, "LaunchSpecifications[0].Missing"), 3);
        assert_eq!(line_of_field(text, ""), 1);
    }
}
