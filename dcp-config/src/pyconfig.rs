//! Converts Distributed-CellProfiler's `config.py` into the equivalent `dcp.toml`.
//!
//! A config.py is Python, but DCP's (and its users' edits of it) only assign literals and
//! simple expressions, so a small evaluator reads it rather than a Python interpreter: one
//! `NAME = expr` per logical line (brackets and a trailing `\` continue a line), blank lines
//! and `#` comments. An expr is made of strings (`'…'`, `"…"`, `r'…'`, common escapes,
//! adjacent ones joined), integers, floats, `True`/`False`, lists, settings assigned above,
//! `+` (text, numbers, lists), `-`, `*` (numbers) and parentheses. Everything else is
//! refused with its line: imports and other statements, function calls, f-strings,
//! unknown names, names that are not dcp settings, a setting assigned twice, and `None`
//! (remove the line instead to get dcp's default).
//!
//! Every setting keeps its name. DCP's 'True'/'False' strings become TOML booleans for the
//! boolean settings, `PLUGINS_COMMIT = 'False'` becomes `""`, integers become floats where
//! dcp wants a float and whole floats integers where it wants an integer. The result says
//! `BACKEND = "aws"`, keeps the file's comments and blank lines in order, notes the source
//! of computed values (`# was: APP_NAME + 'Queue'`) and must pass [`Config::parse`]; its
//! complaints are reported at the setting's line in config.py, or at the last line when the
//! setting is not in the file.

mod eval;
mod lex;

use std::collections::HashMap;
use std::path::Path;

use dcp_common::{Config, ConfigError};

use eval::Value;
use lex::{Piece, Stmt, Tok, Token};

/// Why a config.py could not be converted; names file, line and setting.
#[derive(Debug, thiserror::Error)]
#[error("{origin}:{line}: {}{message}", name.as_ref().map(|n| format!("{n}: ")).unwrap_or_default())]
pub struct ImportError {
    /// Where the text came from, usually its path.
    pub origin: String,
    /// The 1-based line of the problem.
    pub line: usize,
    /// The setting concerned, when there is one.
    pub name: Option<String>,
    /// What is wrong.
    pub message: String,
}

/// Python statements that are not assignments, refused by name.
const KEYWORDS: &[&str] = &[
    "import", "from", "if", "elif", "else", "for", "while", "def", "class", "try", "except",
    "finally", "with", "return", "pass", "del", "global", "nonlocal", "assert", "raise", "break",
    "continue", "async", "await", "lambda", "yield",
];

/// Converts the text of a DCP config.py into dcp.toml text.
pub fn import(text: &str, origin: &str) -> Result<String, ImportError> {
    let defaults =
        toml::Table::try_from(Config::default()).expect("the default settings serialize");
    let mut importer = Importer {
        text,
        origin,
        defaults,
        values: HashMap::new(),
        set_on: HashMap::new(),
    };
    let mut out = format!(
        "# dcp.toml imported from {} by dcp-config import\nBACKEND = \"aws\"\n\n",
        clean(origin)
    );
    for piece in lex::lex(text, origin) {
        match piece? {
            Piece::Blank => {}
            Piece::Comment(comment) => out.push_str(&clean(&comment)),
            Piece::Stmt(stmt) => out.push_str(&importer.assignment(&stmt)?),
        }
        out.push('\n');
    }
    importer.validate(&out)?;
    Ok(out)
}

struct Importer<'a> {
    text: &'a str,
    origin: &'a str,
    /// `Config::default()` as TOML: the settings there are, and the type of each.
    defaults: toml::Table,
    /// The Python value of each setting assigned so far.
    values: HashMap<String, Value>,
    /// The line each setting is assigned on.
    set_on: HashMap<String, usize>,
}

impl Importer<'_> {
    /// The dcp.toml line of one statement, which must assign a setting.
    fn assignment(&mut self, stmt: &Stmt) -> Result<String, ImportError> {
        let line = stmt.line;
        let name = match stmt.tokens.first().map(|t| &t.tok) {
            Some(Tok::Name(name)) => name,
            _ => return Err(self.error(line, None, "expected an assignment NAME = value")),
        };
        if KEYWORDS.contains(&name.as_str()) {
            let message = format!("'{name}' is not supported: config.py may only assign settings");
            return Err(self.error(line, None, message));
        }
        match stmt.tokens.get(1).map(|t| &t.tok) {
            Some(Tok::Punct('=')) => {}
            Some(Tok::Punct('(')) => {
                let message = format!("function calls are not supported: {name}(…)");
                return Err(self.error(line, None, message));
            }
            _ => {
                let message = "expected '=': only NAME = value assignments are supported";
                return Err(self.error(line, Some(name), message));
            }
        }
        let rest = &stmt.tokens[2..];
        if name == "BACKEND" {
            let message = "is not read from a config.py: an imported config.py runs on AWS";
            return Err(self.error(line, Some(name), message));
        }
        let Some(default) = self.defaults.get(name) else {
            return Err(self.error(line, Some(name), "is not a dcp setting"));
        };
        if let Some(first) = self.set_on.get(name) {
            let message = format!("is set twice (first on line {first})");
            return Err(self.error(line, Some(name), message));
        }
        let last_line = stmt.tokens.last().map_or(line, |t| t.line);
        let evaluated = eval::evaluate(rest, self.text, &self.values, last_line)
            .map_err(|(at, message)| self.error(at, Some(name), message))?;
        let value = setting(name, &evaluated.value, default);
        // Type and range checks come from `Config` itself: deserialize this setting alone.
        let alone = toml::Table::from_iter([(name.clone(), value.clone())]);
        if let Err(err) = alone.try_into::<Config>() {
            let message = err.to_string();
            return Err(self.error(line, Some(name), message.lines().next().unwrap_or_default()));
        }
        self.values.insert(name.clone(), evaluated.value);
        self.set_on.insert(name.clone(), line);

        let mut notes: Vec<String> = (stmt.comments.iter())
            .map(|c| clean(c.trim_start_matches('#').trim()))
            .filter(|c| !c.is_empty())
            .collect();
        if evaluated.derived {
            notes.push(format!("was: {}", clean(&source(rest, self.text))));
        }
        let mut out = format!("{name} = {value}");
        if !notes.is_empty() {
            out.push_str("  # ");
            out.push_str(&notes.join("; "));
        }
        Ok(out)
    }

    /// Checks the converted settings as every dcp tool will.
    fn validate(&self, toml: &str) -> Result<(), ImportError> {
        let Err(err) = Config::parse(toml, "dcp.toml", Path::new("/")) else {
            return Ok(());
        };
        let end = self.text.lines().count().max(1);
        Err(match err {
            ConfigError::Invalid { key, message, .. } => match self.set_on.get(&key) {
                Some(&line) => self.error(line, Some(&key), message),
                None => self.error(end, Some(&key), format!("{message} (not set in this file)")),
            },
            other => {
                let message = format!("the converted settings are refused: {other}");
                self.error(end, None, message)
            }
        })
    }

    fn error(&self, line: usize, name: Option<&str>, message: impl Into<String>) -> ImportError {
        let (origin, name) = (self.origin.to_owned(), name.map(str::to_owned));
        ImportError {
            origin,
            line,
            name,
            message: message.into(),
        }
    }
}

/// The TOML value of setting `name`, whose default is `default`: DCP's 'True'/'False'
/// strings become booleans, integers become floats (and whole floats integers) as dcp wants,
/// and PLUGINS_COMMIT 'False' means none.
fn setting(name: &str, value: &Value, default: &toml::Value) -> toml::Value {
    let said = |word: &str| matches!(value, Value::Str(s) if s.eq_ignore_ascii_case(word));
    match (default, value) {
        (toml::Value::Boolean(_), _) if said("true") => toml::Value::Boolean(true),
        (toml::Value::Boolean(_), _) if said("false") => toml::Value::Boolean(false),
        (toml::Value::Float(_), Value::Int(i)) => toml::Value::Float(*i as f64),
        (toml::Value::Integer(_), Value::Float(f)) if f.fract() == 0.0 && f.abs() < 1e15 => {
            toml::Value::Integer(*f as i64)
        }
        _ if name == "PLUGINS_COMMIT" && (said("false") || *value == Value::Bool(false)) => {
            toml::Value::String(String::new())
        }
        _ => toml_value(value),
    }
}

fn toml_value(value: &Value) -> toml::Value {
    match value {
        Value::Str(s) => toml::Value::String(s.clone()),
        Value::Int(i) => toml::Value::Integer(*i),
        Value::Float(f) => toml::Value::Float(*f),
        Value::Bool(b) => toml::Value::Boolean(*b),
        Value::List(items) => toml::Value::Array(items.iter().map(toml_value).collect()),
    }
}

/// The source text of `tokens`, one line's worth at a time joined by spaces (so comments
/// between the lines of a list are left out).
fn source(tokens: &[Token], text: &str) -> String {
    let lines = tokens.chunk_by(|a, b| a.line == b.line);
    let parts: Vec<&str> = lines
        .map(|l| &text[l[0].span.start..l[l.len() - 1].span.end])
        .collect();
    parts.join(" ")
}

/// `text` with control characters, which a TOML comment cannot hold, made spaces.
fn clean(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() && c != '\t' { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests;
