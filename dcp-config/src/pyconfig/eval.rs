//! Evaluates the right side of one assignment: literals, lists, names assigned above, `+`,
//! `-`, `*` and parentheses, with Python's precedence and meaning.

use std::collections::HashMap;

use super::lex::{Tok, Token};

/// A Python value of the supported subset.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Value {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    List(Vec<Value>),
}

impl Value {
    fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "str",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::Bool(_) => "bool",
            Value::List(_) => "list",
        }
    }
}

/// Why an expression failed: the line and what is wrong.
pub(super) type Fault = (usize, String);

/// How deeply brackets and unary minus may nest; Python's own parser stops at 200 nested
/// parentheses ("too many nested parentheses"). Bounding it keeps a hostile config.py from
/// overflowing the stack.
const MAX_DEPTH: usize = 100;

/// The value of an expression and whether it was computed (used a name or an operator)
/// rather than written out.
pub(super) struct Evaluated {
    pub value: Value,
    pub derived: bool,
}

/// Evaluates `tokens` (all of them) against the values assigned so far. `src` is the text
/// the tokens' spans point into; `last_line` is reported when the expression ends early.
pub(super) fn evaluate(
    tokens: &[Token],
    src: &str,
    names: &HashMap<String, Value>,
    last_line: usize,
) -> Result<Evaluated, Fault> {
    let mut p = Parser {
        tokens,
        src,
        names,
        last_line,
        pos: 0,
        derived: false,
        depth: 0,
    };
    let value = p.expr()?;
    match p.tokens.get(p.pos) {
        Some(extra) => Err((
            extra.line,
            format!("unexpected '{}'", p.text(p.pos, p.pos + 1)),
        )),
        None => Ok(Evaluated {
            value,
            derived: p.derived,
        }),
    }
}

struct Parser<'a> {
    tokens: &'a [Token],
    src: &'a str,
    names: &'a HashMap<String, Value>,
    last_line: usize,
    pos: usize,
    derived: bool,
    depth: usize,
}

impl Parser<'_> {
    /// Runs `inner` one nesting level deeper, refusing more than [`MAX_DEPTH`] levels.
    fn nested<T>(
        &mut self,
        line: usize,
        inner: impl FnOnce(&mut Self) -> Result<T, Fault>,
    ) -> Result<T, Fault> {
        if self.depth >= MAX_DEPTH {
            return Err((line, format!("nested more than {MAX_DEPTH} levels deep")));
        }
        self.depth += 1;
        let result = inner(self);
        self.depth -= 1;
        result
    }

    /// `term (('+' | '-') term)*`
    fn expr(&mut self) -> Result<Value, Fault> {
        let mut left = self.term()?;
        while let Some(op @ ('+' | '-')) = self.punct() {
            let line = self.line();
            self.pos += 1;
            self.derived = true;
            let right = self.term()?;
            left = binary(op, left, right).map_err(|m| (line, m))?;
        }
        Ok(left)
    }

    /// `unary ('*' unary)*`
    fn term(&mut self) -> Result<Value, Fault> {
        let mut left = self.unary()?;
        while self.punct() == Some('*') {
            let line = self.line();
            self.pos += 1;
            self.derived = true;
            let right = self.unary()?;
            left = binary('*', left, right).map_err(|m| (line, m))?;
        }
        Ok(left)
    }

    /// `'-' unary | atom`, refusing calls, indexing and attributes after the atom.
    fn unary(&mut self) -> Result<Value, Fault> {
        if self.punct() == Some('-') {
            let line = self.line();
            self.pos += 1;
            return match self.nested(line, Self::unary)? {
                Value::Int(i) => i
                    .checked_neg()
                    .map(Value::Int)
                    .ok_or((line, "integer overflow".into())),
                Value::Float(f) => Ok(Value::Float(-f)),
                v => Err((line, format!("'-' is not supported for {}", v.type_name()))),
            };
        }
        let start = self.pos;
        let value = self.atom()?;
        self.refuse_postfix(start)?;
        Ok(value)
    }

    fn atom(&mut self) -> Result<Value, Fault> {
        let tokens = self.tokens;
        let Some(token) = tokens.get(self.pos) else {
            return Err((self.last_line, "expected a value".into()));
        };
        self.pos += 1;
        match &token.tok {
            Tok::Str(s) => {
                let mut s = s.clone();
                while let Some(Tok::Str(more)) = tokens.get(self.pos).map(|t| &t.tok) {
                    s.push_str(more);
                    self.pos += 1;
                }
                Ok(Value::Str(s))
            }
            Tok::Int(i) => Ok(Value::Int(*i)),
            Tok::Float(f) => Ok(Value::Float(*f)),
            Tok::Name(n) if n == "True" => Ok(Value::Bool(true)),
            Tok::Name(n) if n == "False" => Ok(Value::Bool(false)),
            Tok::Name(n) if n == "None" => Err((
                token.line,
                "None is not supported: remove the line to use dcp's default".into(),
            )),
            Tok::Name(n) => {
                self.refuse_postfix(self.pos - 1)?;
                self.derived = true;
                let unknown =
                    || format!("unknown name '{n}': only settings assigned above can be used");
                self.names
                    .get(n)
                    .cloned()
                    .ok_or_else(|| (token.line, unknown()))
            }
            Tok::Punct('(') => self.nested(token.line, |p| {
                let value = p.expr()?;
                p.expect(')')?;
                Ok(value)
            }),
            Tok::Punct('[') => self.nested(token.line, |p| {
                let mut items = Vec::new();
                while p.punct() != Some(']') {
                    items.push(p.expr()?);
                    if p.punct() != Some(',') {
                        break;
                    }
                    p.pos += 1;
                }
                p.expect(']')?;
                Ok(Value::List(items))
            }),
            Tok::Punct(_) => Err((
                token.line,
                format!("unexpected '{}'", self.text(self.pos - 1, self.pos)),
            )),
        }
    }

    /// Fails when the value that started at token `start` is called, indexed or dotted.
    fn refuse_postfix(&self, start: usize) -> Result<(), Fault> {
        let (what, open) = match self.punct() {
            Some('(') => ("function calls are", "(…)"),
            Some('[') => ("indexing is", "[…]"),
            Some('.') => ("attributes and methods are", ".…"),
            _ => return Ok(()),
        };
        let text = self.text(start, self.pos);
        Err((self.line(), format!("{what} not supported: {text}{open}")))
    }

    fn expect(&mut self, close: char) -> Result<(), Fault> {
        if self.punct() == Some(close) {
            self.pos += 1;
            return Ok(());
        }
        let found = match self.tokens.get(self.pos) {
            Some(_) => format!("'{}'", self.text(self.pos, self.pos + 1)),
            None => "the end of the line".into(),
        };
        Err((self.line(), format!("expected '{close}', found {found}")))
    }

    /// The current token when it is punctuation.
    fn punct(&self) -> Option<char> {
        match self.tokens.get(self.pos) {
            Some(Token {
                tok: Tok::Punct(c), ..
            }) => Some(*c),
            _ => None,
        }
    }

    /// The line of the current token (or of the statement's end).
    fn line(&self) -> usize {
        self.tokens.get(self.pos).map_or(self.last_line, |t| t.line)
    }

    /// The source text of tokens `from..to`.
    fn text(&self, from: usize, to: usize) -> &str {
        &self.src[self.tokens[from].span.start..self.tokens[to - 1].span.end]
    }
}

/// `a op b` for `+`, `-` and `*` as Python computes them (bools are not numbers here).
fn binary(op: char, a: Value, b: Value) -> Result<Value, String> {
    let float = |v: &Value| match v {
        Value::Int(i) => Some(*i as f64),
        Value::Float(f) => Some(*f),
        _ => None,
    };
    match (op, a, b) {
        ('+', Value::Str(a), Value::Str(b)) => Ok(Value::Str(a + &b)),
        ('+', Value::List(mut a), Value::List(b)) => {
            a.extend(b);
            Ok(Value::List(a))
        }
        (_, Value::Int(a), Value::Int(b)) => match op {
            '+' => a.checked_add(b),
            '-' => a.checked_sub(b),
            _ => a.checked_mul(b),
        }
        .map(Value::Int)
        .ok_or_else(|| "integer overflow".into()),
        (_, a, b) => match (float(&a), float(&b)) {
            (Some(x), Some(y)) => Ok(Value::Float(match op {
                '+' => x + y,
                '-' => x - y,
                _ => x * y,
            })),
            _ => Err(format!(
                "'{op}' is not supported between {} and {}",
                a.type_name(),
                b.type_name()
            )),
        },
    }
}
