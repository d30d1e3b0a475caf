//! DCP's fleet file (`dcp-fleet start FLEET.json`): read and checked whole before anything
//! changes, its errors located by file, line and field.

use std::path::Path;

use serde_json::Value;

use crate::FleetError;

/// Reads a fleet file: UTF-8 JSON, an object whose fields EC2's RequestSpotFleet takes
/// (checked with the AWS backend built in). Errors name the file, the line and the field.
pub fn read(path: &Path) -> Result<Value, FleetError> {
    let text = dcp_common::text::read(path)?;
    let file = path.display().to_string();
    let value: Value = serde_json::from_str(&text).map_err(|e| FleetError::FleetFile {
        file: file.clone(),
        line: Some(e.line()),
        field: String::new(),
        message: format!("not a JSON fleet file: {e}"),
    })?;
    check(&value).map_err(|e| match e {
        FleetError::FleetFile { field, message, .. } => FleetError::FleetFile {
            line: Some(line_of_field(&text, &field)),
            file,
            field,
            message,
        },
        other => other,
    })?;
    Ok(value)
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
