//! Splits config.py text into blank lines, full-line comments and statements (one logical
//! line of tokens each: brackets and a trailing backslash continue a line).

use std::ops::Range;

use super::ImportError;

/// What one token is.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
    /// A name (identifier or keyword).
    Name(String),
    /// A string literal, escapes resolved.
    Str(String),
    /// An integer literal.
    Int(i64),
    /// A float literal.
    Float(f64),
    /// One punctuation character.
    Punct(char),
}

/// A token, the line it starts on and its bytes in the text.
#[derive(Debug, Clone)]
pub(super) struct Token {
    pub tok: Tok,
    pub line: usize,
    pub span: Range<usize>,
}

/// A logical line of code with the comments written on its lines.
#[derive(Debug, Default)]
pub(super) struct Stmt {
    pub line: usize,
    pub tokens: Vec<Token>,
    pub comments: Vec<String>,
}

/// One piece of the file, in order.
#[derive(Debug)]
pub(super) enum Piece {
    Blank,
    /// A comment on a line of its own, `#` included.
    Comment(String),
    Stmt(Stmt),
}

const PUNCT: &str = "()[]{},.=+-*/%:;<>!&|^~@";

/// The pieces of `text` in order; the first syntax error, naming its line, ends them.
pub(super) fn lex<'a>(
    text: &'a str,
    origin: &'a str,
) -> impl Iterator<Item = Result<Piece, ImportError>> + 'a {
    Lexer {
        text,
        origin,
        pos: 0,
        line: 1,
        open: Vec::new(),
        stmt: Stmt::default(),
    }
}

struct Lexer<'a> {
    text: &'a str,
    origin: &'a str,
    pos: usize,
    line: usize,
    /// Open brackets and their lines.
    open: Vec<(char, usize)>,
    stmt: Stmt,
}

impl Iterator for Lexer<'_> {
    type Item = Result<Piece, ImportError>;

    fn next(&mut self) -> Option<Self::Item> {
        let line_start = self.pos;
        self.skip_spaces();
        let piece = match self.peek()? {
            '\n' => {
                self.bump();
                Ok(Piece::Blank)
            }
            '#' => {
                let comment = self.comment();
                self.bump(); // its newline
                Ok(Piece::Comment(comment))
            }
            _ if self.pos > line_start => Err(self.fail(self.line, "unexpected indentation")),
            _ => {
                self.stmt = Stmt {
                    line: self.line,
                    ..Stmt::default()
                };
                self.statement()
                    .map(|()| Piece::Stmt(std::mem::take(&mut self.stmt)))
            }
        };
        if piece.is_err() {
            self.pos = self.text.len();
        }
        Some(piece)
    }
}

impl Lexer<'_> {
    /// Reads one logical line, up to and including its newline.
    fn statement(&mut self) -> Result<(), ImportError> {
        loop {
            self.skip_spaces();
            let rest = &self.text[self.pos..];
            match self.peek() {
                None => {
                    return match self.open.last() {
                        Some(&(c, line)) => Err(self.fail(line, format!("'{c}' is never closed"))),
                        None => Ok(()),
                    };
                }
                Some('\n') => {
                    self.bump();
                    if self.open.is_empty() {
                        return Ok(());
                    }
                }
                Some('#') => {
                    let comment = self.comment();
                    self.stmt.comments.push(comment);
                }
                Some('\\') if rest.starts_with("\\\n") || rest.starts_with("\\\r\n") => {
                    self.pos += rest.find('\n').unwrap_or(0) + 1;
                    self.line += 1;
                }
                Some(c) => self.token(c)?,
            }
        }
    }

    fn token(&mut self, c: char) -> Result<(), ImportError> {
        let (start, line) = (self.pos, self.line);
        let tok = if c.is_alphabetic() || c == '_' {
            self.take_while(|c| c.is_alphanumeric() || c == '_');
            let word = &self.text[start..self.pos];
            match self.peek() {
                Some('\'' | '"')
                    if word.len() <= 2 && word.chars().all(|c| "rRuUbBfF".contains(c)) =>
                {
                    self.string(word)?
                }
                _ => Tok::Name(word.to_owned()),
            }
        } else if c.is_ascii_digit()
            || (c == '.' && self.peek_second().is_some_and(|c| c.is_ascii_digit()))
        {
            self.number()?
        } else if c == '\'' || c == '"' {
            self.string("")?
        } else if PUNCT.contains(c) {
            self.bump();
            match c {
                '(' | '[' | '{' => self.open.push((c, line)),
                ')' | ']' | '}' => {
                    self.open.pop();
                }
                _ => {}
            }
            Tok::Punct(c)
        } else {
            return Err(self.fail(line, format!("unexpected character {c:?}")));
        };
        self.stmt.tokens.push(Token {
            tok,
            line,
            span: start..self.pos,
        });
        Ok(())
    }

    fn number(&mut self) -> Result<Tok, ImportError> {
        let start = self.pos;
        let digits = |c: char| c.is_ascii_digit() || c == '_';
        self.take_while(digits);
        let mut float = self.peek() == Some('.');
        if float {
            self.bump();
            self.take_while(digits);
        }
        let rest = &self.text[self.pos..];
        let exponent = rest
            .strip_prefix(['e', 'E'])
            .map(|r| r.trim_start_matches(['+', '-']));
        if exponent.is_some_and(|r| r.starts_with(|c: char| c.is_ascii_digit())) {
            float = true;
            self.bump();
            self.take_while(|c| c == '+' || c == '-');
            self.take_while(digits);
        }
        self.take_while(|c| c.is_alphanumeric() || c == '_' || c == '.');
        let literal = &self.text[start..self.pos];
        let clean = literal.replace('_', "");
        let parsed = if float {
            clean.parse().ok().map(Tok::Float)
        } else {
            clean.parse().ok().map(Tok::Int)
        };
        parsed.ok_or_else(|| self.fail(self.line, format!("invalid or too large number {literal}")))
    }

    /// Reads a string literal after its prefix (`r`, `u`; `f` and `b` are refused).
    fn string(&mut self, prefix: &str) -> Result<Tok, ImportError> {
        let line = self.line;
        let prefix = prefix.to_ascii_lowercase();
        if prefix.contains('f') {
            return Err(self.fail(line, "f-strings are not supported"));
        }
        if prefix.contains('b') {
            return Err(self.fail(line, "bytes literals are not supported"));
        }
        let raw = prefix.contains('r');
        let quote = self.bump().unwrap_or('\'');
        if self.peek() == Some(quote) && self.peek_second() == Some(quote) {
            return Err(self.fail(line, "triple-quoted strings are not supported"));
        }
        let mut value = String::new();
        loop {
            match self.bump() {
                None | Some('\n') => return Err(self.fail(line, "unterminated string")),
                Some(c) if c == quote => return Ok(Tok::Str(value)),
                Some('\\') => {
                    let Some(e) = self.bump() else {
                        return Err(self.fail(line, "unterminated string"));
                    };
                    if raw {
                        value.extend(['\\', e]);
                        continue;
                    }
                    match e {
                        '\n' => {}
                        '\\' | '\'' | '"' => value.push(e),
                        'n' => value.push('\n'),
                        't' => value.push('\t'),
                        'r' => value.push('\r'),
                        'a' => value.push('\x07'),
                        'b' => value.push('\x08'),
                        'f' => value.push('\x0c'),
                        'v' => value.push('\x0b'),
                        'x' | 'u' | 'U' | 'N' | '0'..='7' => {
                            return Err(
                                self.fail(self.line, format!("escape \\{e} is not supported"))
                            );
                        }
                        _ => value.extend(['\\', e]),
                    }
                }
                Some(c) => value.push(c),
            }
        }
    }

    /// Reads a comment up to (not including) the end of its line.
    fn comment(&mut self) -> String {
        let start = self.pos;
        self.take_while(|c| c != '\n');
        self.text[start..self.pos].trim_end().to_owned()
    }

    fn fail(&self, line: usize, message: impl Into<String>) -> ImportError {
        let name = match self.stmt.tokens.first().map(|t| &t.tok) {
            Some(Tok::Name(name)) => Some(name.clone()),
            _ => None,
        };
        ImportError {
            origin: self.origin.to_owned(),
            line,
            name,
            message: message.into(),
        }
    }

    fn skip_spaces(&mut self) {
        self.take_while(|c| matches!(c, ' ' | '\t' | '\r' | '\x0c'));
    }

    fn take_while(&mut self, keep: impl Fn(char) -> bool) {
        while self.peek().is_some_and(&keep) {
            self.bump();
        }
    }

    fn peek(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    fn peek_second(&self) -> Option<char> {
        self.text[self.pos..].chars().nth(1)
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        if c == '\n' {
            self.line += 1;
        }
        Some(c)
    }
}
