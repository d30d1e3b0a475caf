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
mod legacy;
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

/// A converted config.py: the dcp.toml text and what the user should know about it
/// (obsolete or renamed settings, a dead-letter queue ARN of another region or account,
/// settings dcp does not act on), each naming the setting.
#[derive(Debug)]
pub struct Imported {
    /// The dcp.toml text.
    pub toml: String,
    /// Warnings, `ORIGIN:LINE: SETTING: message` or `SETTING: message`.
    pub warnings: Vec<String>,
}

/// Converts the text of a DCP config.py into dcp.toml text.
pub fn import(text: &str, origin: &str) -> Result<Imported, ImportError> {
    let defaults =
        toml::Table::try_from(Config::default()).expect("the default settings serialize");
    let mut importer = Importer {
        text,
        origin,
        defaults,
        values: HashMap::new(),
        set_on: HashMap::new(),
        out: vec![format!(
            "# dcp.toml imported from {} by dcp-config import\nBACKEND = \"aws\"\n",
            clean(origin)
        )],
        line_of: HashMap::new(),
        warnings: Vec::new(),
        arn: None,
    };
    for piece in lex::lex(text, origin) {
        match piece? {
            Piece::Blank => importer.out.push(String::new()),
            Piece::Comment(comment) => importer.out.push(clean(&comment)),
            Piece::Stmt(stmt) => importer.statement(&stmt)?,
        }
    }
    importer.fill_missing();
    importer.check_dead_letter_arn();
    let mut toml = importer.out.join("\n");
    toml.push('\n');
    let config = importer.validate(&toml)?;
    let mut warnings = importer.warnings;
    warnings.extend(config.notices().iter().map(ToString::to_string));
    Ok(Imported { toml, warnings })
}

struct Importer<'a> {
    text: &'a str,
    origin: &'a str,
    /// `Config::default()` as TOML: the settings there are, and the type of each.
    defaults: toml::Table,
    /// The Python value of each name assigned so far (obsolete ones included).
    values: HashMap<String, Value>,
    /// The line each setting is assigned on.
    set_on: HashMap<String, usize>,
    /// The dcp.toml lines so far.
    out: Vec<String>,
    /// The index in `out` of each setting's line.
    line_of: HashMap<String, usize>,
    warnings: Vec<String>,
    /// SQS_DEAD_LETTER_QUEUE's ARN and its line, when it was given as one.
    arn: Option<(String, usize)>,
}

impl Importer<'_> {
    /// Converts one statement, which must assign a setting, a renamed setting or an
    /// obsolete one.
    fn statement(&mut self, stmt: &Stmt) -> Result<(), ImportError> {
        let line = stmt.line;
        let name = match stmt.tokens.first().map(|t| &t.tok) {
            Some(Tok::Name(name)) => name.as_str(),
            _ => return Err(self.error(line, None, "expected an assignment NAME = value")),
        };
        if KEYWORDS.contains(&name) {
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
        if name == "BACKEND" {
            let message = "is not read from a config.py: an imported config.py runs on AWS";
            return Err(self.error(line, Some(name), message));
        }
        let rest = &stmt.tokens[2..];
        let last_line = stmt.tokens.last().map_or(line, |t| t.line);
        let evaluate = |this: &Self| {
            eval::evaluate(rest, this.text, &this.values, last_line)
                .map_err(|(at, message)| this.error(at, Some(name), message))
        };
        let mut notes: Vec<String> = (stmt.comments.iter())
            .map(|c| clean(c.trim_start_matches('#').trim()))
            .filter(|c| !c.is_empty())
            .collect();
        let written = clean(&source(rest, self.text));
        if let Some((_, why)) = legacy::OBSOLETE.iter().find(|(old, _)| *old == name) {
            let evaluated = evaluate(self)?;
            self.values.insert(name.to_owned(), evaluated.value);
            self.warn(line, name, format!("obsolete, kept as a comment: {why}"));
            notes.insert(0, format!("obsolete: {why}"));
            self.out
                .push(format!("# {name} = {written}  # {}", notes.join("; ")));
            return Ok(());
        }
        let (target, renamed_from) = match legacy::RENAMED.iter().find(|(old, _)| *old == name) {
            Some((old, new)) => (*new, Some(*old)),
            None => (name, None),
        };
        let Some(default) = self.defaults.get(target).cloned() else {
            return Err(self.error(line, Some(name), "is not a dcp setting"));
        };
        if let Some(first) = self.set_on.get(name) {
            let message = format!("is set twice (first on line {first})");
            return Err(self.error(line, Some(name), message));
        }
        let evaluated = evaluate(self)?;
        self.values.insert(name.to_owned(), evaluated.value.clone());
        self.set_on.insert(name.to_owned(), line);
        if evaluated.derived {
            notes.push(format!("was: {written}"));
        }
        let mut value = setting(target, &evaluated.value, &default);
        let unset = |v: &toml::Value| matches!(v, toml::Value::String(s) if s.eq_ignore_ascii_case("false"));
        if legacy::FALSE_MEANS_UNSET.contains(&target) && unset(&value) {
            notes.insert(0, "'False': not set, as in DCP's run.py".into());
            self.out
                .push(format!("# {name} = {written}  # {}", notes.join("; ")));
            return Ok(());
        }
        if let Some(old) = renamed_from {
            let empty = matches!(&evaluated.value, Value::Str(s) if s.is_empty())
                || evaluated.value == Value::Bool(false);
            if empty {
                notes.insert(
                    0,
                    format!("DCP's earlier name of {target}; unset, so unused"),
                );
                self.out
                    .push(format!("# {name} = {written}  # {}", notes.join("; ")));
                return Ok(());
            }
            self.warn(
                line,
                old,
                format!("renamed {target}, as DCP's run.py reads it"),
            );
            notes.insert(0, format!("was: {old}, DCP's earlier name of {target}"));
        } else if target == "REQUIREMENTS" && self.line_of.contains_key(target) {
            // A REQUIREMENTS_FILE above set it: run.py lets the old name win.
            self.warn(
                line,
                name,
                "REQUIREMENTS_FILE above wins, as in DCP's run.py".into(),
            );
            self.out
                .push(format!("# {name} = {written}  # REQUIREMENTS_FILE wins"));
            return Ok(());
        }
        if target == "SQS_DEAD_LETTER_QUEUE"
            && let toml::Value::String(text) = &value
            && let Some((queue, _)) = legacy::queue_name(text)
        {
            notes.insert(
                0,
                format!("was: '{text}', reduced to its name as DCP's run.py does"),
            );
            self.arn = Some((text.clone(), line));
            value = toml::Value::String(queue.to_owned());
        }
        // Type and range checks come from `Config` itself: deserialize this setting alone.
        let alone = toml::Table::from_iter([(target.to_owned(), value.clone())]);
        if let Err(err) = alone.try_into::<Config>() {
            let message = err.to_string();
            return Err(self.error(line, Some(name), message.lines().next().unwrap_or_default()));
        }
        let mut out = format!("{target} = {value}");
        if !notes.is_empty() {
            out.push_str("  # ");
            out.push_str(&notes.join("; "));
        }
        if let Some(&earlier) = self.line_of.get(target) {
            // REQUIREMENTS above, then a REQUIREMENTS_FILE: the old name wins.
            self.out[earlier] = format!("# {}  # REQUIREMENTS_FILE below wins", self.out[earlier]);
        }
        self.line_of.insert(target.to_owned(), self.out.len());
        self.out.push(out);
        Ok(())
    }

    /// States the value DCP gives each setting the file leaves out (run.py's defaults for
    /// old configs, then its worker's), so the dcp.toml says what the run will do.
    fn fill_missing(&mut self) {
        let source_given = self.line_of.contains_key("SOURCE_BUCKET");
        let start = self.out.len();
        self.out.push(String::new());
        self.out
            .push("# Settings this config.py leaves out, with the values DCP gives them:".into());
        for (key, missing, why) in legacy::missing() {
            if self.line_of.contains_key(key) {
                continue;
            }
            let value = match missing {
                legacy::Missing::Value(value) => value,
                legacy::Missing::Like(other) => match self.value_of(other) {
                    Some(value) => value,
                    None => continue,
                },
            };
            self.line_of.insert(key.to_owned(), self.out.len());
            self.out.push(format!("{key} = {value}  # {why}"));
        }
        if self.out.len() == start + 2 {
            self.out.truncate(start);
        }
        if !source_given
            && let Some(&line) = self.set_on.get("DESTINATION_BUCKET")
            && self.value_of("DESTINATION_BUCKET") != self.value_of("AWS_BUCKET")
        {
            self.warn(
                line,
                "DESTINATION_BUCKET",
                "DCP's run.py ignored it without SOURCE_BUCKET (results went to AWS_BUCKET); \
                 dcp writes results to DESTINATION_BUCKET"
                    .into(),
            );
        }
    }

    /// The TOML value written for `key` so far, if any.
    fn value_of(&self, key: &str) -> Option<toml::Value> {
        let line = self.out.get(*self.line_of.get(key)?)?;
        let (_, value) = line.split_once(" = ")?;
        let table: toml::Table = toml::from_str(&format!("v = {value}")).ok()?;
        table.get("v").cloned()
    }

    /// Warns when the dead-letter queue's ARN names another region than AWS_REGION, or
    /// another account than TASK_ROLE_ARN's.
    fn check_dead_letter_arn(&mut self) {
        let Some((arn, line)) = self.arn.clone() else {
            return;
        };
        let Some((_, Some(parts))) = legacy::queue_name(&arn) else {
            return;
        };
        let region = match self.value_of("AWS_REGION") {
            Some(toml::Value::String(region)) => region,
            _ => Config::default().aws_region,
        };
        if parts.region != region {
            let message = format!(
                "the ARN's region '{}' is not AWS_REGION '{region}': dcp uses the queue of that \
                 name in '{region}'",
                parts.region
            );
            self.warn(line, "SQS_DEAD_LETTER_QUEUE", message);
        }
        if let Some(toml::Value::String(role)) = self.value_of("TASK_ROLE_ARN")
            && let Some(account) = legacy::account_of(&role)
            && account != parts.account
        {
            let message = format!(
                "the ARN's account '{}' is not TASK_ROLE_ARN's account '{account}': dcp uses \
                 the queue of that name in the account of its credentials",
                parts.account
            );
            self.warn(line, "SQS_DEAD_LETTER_QUEUE", message);
        }
    }

    fn warn(&mut self, line: usize, name: &str, message: String) {
        self.warnings
            .push(format!("{}:{line}: {name}: {message}", self.origin));
    }

    /// Checks the converted settings as every dcp tool will.
    fn validate(&self, toml: &str) -> Result<Config, ImportError> {
        let err = match Config::parse(toml, "dcp.toml", Path::new("/")) {
            Ok(config) => return Ok(config),
            Err(err) => err,
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
