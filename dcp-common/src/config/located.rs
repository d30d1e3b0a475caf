//! Parser errors of settings text, located as `FILE:LINE: KEY: message`.

use super::ConfigError;

/// The TOML parser's error, at the line of its span and the key set before it there.
pub fn toml_error(text: &str, origin: &str, e: &toml::de::Error) -> ConfigError {
    let (line, column) = match e.span() {
        Some(span) => {
            let start = span.start.min(text.len());
            let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
            (
                Some(1 + text[..start].matches('\n').count()),
                start - line_start + 1,
            )
        }
        None => (None, 0),
    };
    at(
        text,
        origin,
        line,
        column,
        e.message().trim_end().to_owned(),
    )
}

/// The JSON parser's error, at the last setting's key before it (serde reports some errors
/// after the value, on a later line) or else at its own line.
pub fn json_error(text: &str, origin: &str, e: &serde_json::Error) -> ConfigError {
    let message = e.to_string();
    let message = match message.rfind(" at line ") {
        Some(end) => message[..end].to_owned(),
        None => message,
    };
    let offset = text
        .split_inclusive('\n')
        .take(e.line().saturating_sub(1))
        .map(str::len)
        .sum::<usize>()
        + e.column();
    match last_json_key(text, offset.min(text.len())) {
        Some((line, key)) => ConfigError::Invalid {
            origin: origin.to_owned(),
            line: Some(line),
            key: key.to_owned(),
            message,
        },
        None => at(text, origin, Some(e.line()).filter(|&l| l > 0), 0, message),
    }
}

/// The last `"SETTING":` (a key of upper-case letters, digits and `_`) before `offset`, or
/// the `"SETTING"` just before it (an unknown or duplicate key), with its 1-based line.
fn last_json_key(text: &str, offset: usize) -> Option<(usize, &str)> {
    let before = text.get(..offset)?;
    // Split at quotes: the odd pieces are inside strings.
    let mut pieces = Vec::new();
    let mut at = 0;
    for piece in before.split('"') {
        pieces.push((at, piece));
        at += piece.len() + 1;
    }
    let is_setting = |key: &str| {
        !key.is_empty()
            && key
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
    };
    (1..pieces.len().saturating_sub(1))
        .step_by(2)
        .rfind(|&i| {
            let opens = pieces[i - 1].1.trim_end().ends_with(['{', ',']);
            let after = pieces[i + 1].1.trim_start();
            let sets = after.starts_with(':') || (i + 2 == pieces.len() && after.is_empty());
            opens && sets && is_setting(pieces[i].1)
        })
        .map(|i| (1 + before[..pieces[i].0].matches('\n').count(), pieces[i].1))
}

/// The error at `line` (1-based) and `column` (1-based; 0 for the whole line), naming the
/// key set last before the column on that line, if any.
fn at(
    text: &str,
    origin: &str,
    line: Option<usize>,
    column: usize,
    message: String,
) -> ConfigError {
    let key = line
        .and_then(|l| text.lines().nth(l - 1))
        .and_then(|l| key_before(l, column));
    match (line, key) {
        (line, Some(key)) => ConfigError::Invalid {
            origin: origin.to_owned(),
            line,
            key: key.to_owned(),
            message,
        },
        (Some(line), None) => ConfigError::Syntax {
            origin: format!("{origin}:{line}"),
            message,
        },
        (None, None) => ConfigError::Syntax {
            origin: origin.to_owned(),
            message,
        },
    }
}

/// The last key set on `line` before `column` (anywhere on the line for 0), or the table a
/// `[header]` line names.
fn key_before(line: &str, column: usize) -> Option<&str> {
    if let Some(header) = line.trim().strip_prefix('[') {
        return header.strip_suffix(']').map(str::trim);
    }
    let end = match column {
        0 => line.len(),
        c => line
            .char_indices()
            .nth(c - 1)
            .map_or(line.len(), |(i, _)| i),
    };
    let key = line[..end]
        .split([',', '{'])
        .filter_map(key_on_line)
        .next_back();
    key.or_else(|| key_on_line(line))
}

/// The key a piece of a line sets: `KEY = …` (TOML) or `"KEY": …` (JSON).
fn key_on_line(line: &str) -> Option<&str> {
    let line = line.trim_start().trim_start_matches(['{', ' ', '\t']);
    let (key, rest) = match line.strip_prefix('"') {
        Some(quoted) => quoted.split_once('"')?,
        None => line.split_at(line.find(|c: char| !is_key_char(c))?),
    };
    let rest = rest.trim_start();
    let sets = rest.starts_with('=') || rest.starts_with(':');
    (sets && !key.is_empty() && key.chars().all(is_key_char)).then_some(key)
}

fn is_key_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_read_from_toml_and_json_lines() {
        assert_eq!(key_on_line("DOCKER_CORES = -1"), Some("DOCKER_CORES"));
        assert_eq!(key_on_line("  \"NOPE\": 1,"), Some("NOPE"));
        assert_eq!(key_on_line("{\"A\": 1}"), Some("A"));
        assert_eq!(key_on_line("[section]"), None);
        assert_eq!(key_on_line("= 3"), None);
        assert_eq!(key_before("{\"A\": 1, \"B\": 2,}", 18), Some("B"));
        assert_eq!(key_before("[x]", 2), Some("x"));
        let json = "{\n \"A\": 1,\n \"MACHINE_TYPE\": {\"a\": 1}\n}";
        assert_eq!(last_json_key(json, json.len()), Some((3, "MACHINE_TYPE")));
        assert_eq!(last_json_key(json, 3), None);
        let unknown = "{\"A\": 1,\n\"NOPE\"";
        assert_eq!(last_json_key(unknown, unknown.len()), Some((2, "NOPE")));
    }
}
