//! The one filter language (DESIGN §12, issue 15): what an operator types in a search box, a
//! GraphQL `filter:` argument, an alert scope or an export's `?filter=`.
//!
//! ```text
//! site:dmz port:443 -product:nginx          space = AND, `-` or NOT negates
//! (port:80 OR port:8080) service:http       OR binds looser than AND; parentheses group
//! product:"Apache httpd" hostname:web*      quotes keep spaces; `*` is a wildcard
//! address:127.0.0.0/8 port>=1024            an IP or a CIDR; comparisons on numbers
//! cert.expires<30d changed<24h seen>7d      durations: m, h, d, w
//! kind:PORT_OPENED severity>=medium         severities compare info < low < medium < high
//! nginx                                     a bare word: found in any text field
//! ```
//!
//! [`parse`] gives an [`Expr`] or a [`FilterError`] with the 1-based column and what was
//! expected there. [`Expr::matches`] evaluates it against any [`Record`] (alert scopes, the
//! property test); callers compile it to SQL for their own tables. No I/O: the crate builds for
//! wasm, so the UI checks a filter as it is typed.
//!
//! Text comparisons ignore case. A field value without `*` must equal the record's value; with
//! `*` it is a pattern (`web*`, `*ssh*`); a bare word is found anywhere in a text field.

use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;
use winnow::ascii::multispace0;
use winnow::combinator::{alt, delimited, repeat};
use winnow::prelude::*;
use winnow::token::{any, none_of, take_while};

/// A field of the language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    Site,
    Address,
    Hostname,
    Port,
    Protocol,
    State,
    Service,
    Product,
    Version,
    Tag,
    Owner,
    CertExpires,
    CertIssuer,
    Seen,
    Changed,
    Kind,
    Severity,
    /// A TLS version a port offers now (`tls:TLSv1.0`).
    Tls,
}

/// What kind of value a field takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    Text,
    Address,
    Number,
    /// How long ago (seen, changed) or how long until (cert.expires).
    Duration,
    Severity,
}

impl Field {
    pub const ALL: [Field; 18] = [
        Field::Site,
        Field::Address,
        Field::Hostname,
        Field::Port,
        Field::Protocol,
        Field::State,
        Field::Service,
        Field::Product,
        Field::Version,
        Field::Tag,
        Field::Owner,
        Field::CertExpires,
        Field::CertIssuer,
        Field::Seen,
        Field::Changed,
        Field::Kind,
        Field::Severity,
        Field::Tls,
    ];

    /// The name typed before the operator.
    pub fn name(self) -> &'static str {
        match self {
            Field::Site => "site",
            Field::Address => "address",
            Field::Hostname => "hostname",
            Field::Port => "port",
            Field::Protocol => "protocol",
            Field::State => "state",
            Field::Service => "service",
            Field::Product => "product",
            Field::Version => "version",
            Field::Tag => "tag",
            Field::Owner => "owner",
            Field::CertExpires => "cert.expires",
            Field::CertIssuer => "cert.issuer",
            Field::Seen => "seen",
            Field::Changed => "changed",
            Field::Kind => "kind",
            Field::Severity => "severity",
            Field::Tls => "tls",
        }
    }

    pub fn parse(name: &str) -> Option<Field> {
        let name = name.to_ascii_lowercase();
        Field::ALL.into_iter().find(|f| f.name() == name)
    }

    pub fn kind(self) -> Type {
        match self {
            Field::Address => Type::Address,
            Field::Port => Type::Number,
            Field::CertExpires | Field::Seen | Field::Changed => Type::Duration,
            Field::Severity => Type::Severity,
            _ => Type::Text,
        }
    }
}

/// How a term compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `:` or `=`.
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Op {
    fn holds(self, ordering: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::*;
        match self {
            Op::Eq => ordering == Equal,
            Op::Lt => ordering == Less,
            Op::Le => ordering != Greater,
            Op::Gt => ordering == Greater,
            Op::Ge => ordering != Less,
        }
    }
}

/// Severities in order.
pub const SEVERITIES: [&str; 4] = ["info", "low", "medium", "high"];

/// A term's value, typed by its field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// Lowercase; `*` is a wildcard when `pattern`.
    Text {
        text: String,
        pattern: bool,
    },
    Network(IpNet),
    Number(i64),
    /// Seconds.
    Duration(i64),
    /// Index in [`SEVERITIES`].
    Severity(u8),
}

/// One comparison: `field op value`, or a bare word (`field` none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    pub field: Option<Field>,
    pub op: Op,
    pub value: Value,
    /// 1-based column where the term starts.
    pub column: usize,
}

/// A parsed filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    /// Every part holds (an empty filter: everything).
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    Term(Term),
}

/// A filter that does not parse: where, and what was expected there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError {
    /// 1-based column (in characters).
    pub column: usize,
    pub message: String,
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "filter, column {}: {}", self.column, self.message)
    }
}

impl std::error::Error for FilterError {}

/// The most a filter may hold (characters; terms).
pub const MAX_LEN: usize = 2_000;
pub const MAX_TERMS: usize = 64;

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Open,
    Close,
    Or,
    And,
    Not,
    /// `field op value` or a bare value.
    Term {
        field: Option<(String, Op)>,
        value: String,
        quoted: bool,
    },
}

/// A quoted value: `"…"` with `\"` and `\\` escapes.
fn quoted(input: &mut &str) -> ModalResult<String> {
    delimited(
        '"',
        repeat(
            0..,
            alt((
                ('\\', any).map(|(_, c): (char, char)| c),
                none_of(['"', '\\']),
            )),
        ),
        '"',
    )
    .parse_next(input)
}

fn bare(input: &mut &str) -> ModalResult<String> {
    take_while(0.., |c: char| {
        !c.is_whitespace() && c != '(' && c != ')' && c != '"'
    })
    .map(str::to_owned)
    .parse_next(input)
}

fn field_op(input: &mut &str) -> ModalResult<(String, Op)> {
    (
        take_while(1.., |c: char| {
            c.is_ascii_alphanumeric() || c == '.' || c == '_'
        }),
        alt((
            "<=".value(Op::Le),
            ">=".value(Op::Ge),
            ":".value(Op::Eq),
            "=".value(Op::Eq),
            "<".value(Op::Lt),
            ">".value(Op::Gt),
        )),
    )
        .map(|(name, op): (&str, Op)| (name.to_owned(), op))
        .parse_next(input)
}

/// The tokens of `text`, each with its 1-based column.
fn tokens(text: &str) -> Result<Vec<(usize, Tok)>, FilterError> {
    let column = |rest: &str| text[..text.len() - rest.len()].chars().count() + 1;
    let mut input = text;
    let mut out = Vec::new();
    loop {
        let _ = multispace0::<_, winnow::error::ContextError>.parse_next(&mut input);
        let Some(c) = input.chars().next() else {
            return Ok(out);
        };
        let at = column(input);
        match c {
            '(' => {
                input = &input[1..];
                out.push((at, Tok::Open));
            }
            ')' => {
                input = &input[1..];
                out.push((at, Tok::Close));
            }
            '-' if input[1..]
                .chars()
                .next()
                .is_some_and(|n| !n.is_whitespace() && n != ')') =>
            {
                input = &input[1..];
                out.push((at, Tok::Not));
            }
            '-' if input.len() == 1
                || input[1..].starts_with(|n: char| n.is_whitespace() || n == ')') =>
            {
                return Err(FilterError {
                    column: at,
                    message: "expected a term after `-`".into(),
                });
            }
            _ => {
                let mut probe = input;
                let field = field_op.parse_next(&mut probe).ok();
                if field.is_some() {
                    input = probe;
                }
                let value_at = column(input);
                let (value, quoted) = if input.starts_with('"') {
                    let value = quoted.parse_next(&mut input).map_err(|_| FilterError {
                        column: value_at,
                        message: "a closing `\"`".into(),
                    })?;
                    (value, true)
                } else {
                    let value = bare.parse_next(&mut input).unwrap_or_default();
                    (value, false)
                };
                if let Some((name, _)) = &field
                    && value.is_empty()
                {
                    return Err(FilterError {
                        column: value_at,
                        message: format!("expected a value after `{name}`"),
                    });
                }
                let tok = match (field, quoted, value.as_str()) {
                    (None, false, "OR") => Tok::Or,
                    (None, false, "AND") => Tok::And,
                    (None, false, "NOT") => Tok::Not,
                    (field, quoted, _) => Tok::Term {
                        field,
                        value,
                        quoted,
                    },
                };
                out.push((at, tok));
            }
        }
    }
}

/// Parses a filter; an empty one matches everything.
pub fn parse(text: &str) -> Result<Expr, FilterError> {
    if text.chars().count() > MAX_LEN {
        return Err(FilterError {
            column: MAX_LEN + 1,
            message: format!("a filter has at most {MAX_LEN} characters"),
        });
    }
    let tokens = tokens(text)?;
    let terms = tokens
        .iter()
        .filter(|(_, t)| matches!(t, Tok::Term { .. }))
        .count();
    if terms > MAX_TERMS {
        return Err(FilterError {
            column: 1,
            message: format!("a filter has at most {MAX_TERMS} terms"),
        });
    }
    let mut p = Descent {
        tokens,
        at: 0,
        end: text.chars().count() + 1,
    };
    let expr = p.or()?;
    match p.tokens.get(p.at) {
        None => Ok(expr),
        Some((column, Tok::Close)) => Err(FilterError {
            column: *column,
            message: "a `)` without its `(`".into(),
        }),
        Some((column, _)) => Err(FilterError {
            column: *column,
            message: "expected the end of the filter".into(),
        }),
    }
}

struct Descent {
    tokens: Vec<(usize, Tok)>,
    at: usize,
    /// The column after the last character (for errors at the end).
    end: usize,
}

impl Descent {
    fn peek(&self) -> Option<&Tok> {
        self.tokens.get(self.at).map(|(_, t)| t)
    }

    fn column(&self) -> usize {
        self.tokens.get(self.at).map_or(self.end, |(c, _)| *c)
    }

    fn or(&mut self) -> Result<Expr, FilterError> {
        let mut parts = vec![self.and()?];
        while self.peek() == Some(&Tok::Or) {
            self.at += 1;
            if matches!(self.peek(), None | Some(Tok::Close | Tok::Or)) {
                return Err(FilterError {
                    column: self.column(),
                    message: "expected a term after `OR`".into(),
                });
            }
            parts.push(self.and()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Expr::Or(parts)
        })
    }

    fn and(&mut self) -> Result<Expr, FilterError> {
        let mut parts = Vec::new();
        loop {
            match self.peek() {
                None | Some(Tok::Close | Tok::Or) => break,
                Some(Tok::And) => {
                    self.at += 1;
                    if matches!(self.peek(), None | Some(Tok::Close | Tok::Or | Tok::And)) {
                        return Err(FilterError {
                            column: self.column(),
                            message: "expected a term after `AND`".into(),
                        });
                    }
                }
                Some(_) => parts.push(self.unary()?),
            }
        }
        if parts.is_empty() && self.peek().is_some() {
            return Err(FilterError {
                column: self.column(),
                message: "expected a term".into(),
            });
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Expr::And(parts)
        })
    }

    fn unary(&mut self) -> Result<Expr, FilterError> {
        if self.peek() == Some(&Tok::Not) {
            self.at += 1;
            if matches!(self.peek(), None | Some(Tok::Close | Tok::Or | Tok::And)) {
                return Err(FilterError {
                    column: self.column(),
                    message: "expected a term after `NOT` or `-`".into(),
                });
            }
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, FilterError> {
        let Some((column, tok)) = self.tokens.get(self.at).cloned() else {
            return Err(FilterError {
                column: self.end,
                message: "expected a term".into(),
            });
        };
        self.at += 1;
        match tok {
            Tok::Open => {
                if self.peek() == Some(&Tok::Close) {
                    return Err(FilterError {
                        column: self.column(),
                        message: "expected a term inside `( )`".into(),
                    });
                }
                let inner = self.or()?;
                if self.peek() != Some(&Tok::Close) {
                    return Err(FilterError {
                        column: self.column(),
                        message: format!("expected `)` to close the `(` at column {column}"),
                    });
                }
                self.at += 1;
                Ok(inner)
            }
            Tok::Term {
                field,
                value,
                quoted,
            } => term(column, field, &value, quoted).map(Expr::Term),
            Tok::Close => Err(FilterError {
                column,
                message: "a `)` without its `(`".into(),
            }),
            Tok::Or | Tok::And | Tok::Not => Err(FilterError {
                column,
                message: "expected a term".into(),
            }),
        }
    }
}

/// Types a term by its field.
fn term(
    column: usize,
    field: Option<(String, Op)>,
    value: &str,
    quoted: bool,
) -> Result<Term, FilterError> {
    let Some((name, op)) = field else {
        return Ok(Term {
            field: None,
            op: Op::Eq,
            value: Value::Text {
                text: value.to_lowercase(),
                pattern: !quoted && value.contains('*'),
            },
            column,
        });
    };
    let value_column =
        column + name.chars().count() + if matches!(op, Op::Le | Op::Ge) { 2 } else { 1 };
    let err = |message: String| FilterError {
        column: value_column,
        message,
    };
    let Some(field) = Field::parse(&name) else {
        return Err(FilterError {
            column,
            message: format!(
                "unknown field `{name}`; expected one of {}",
                Field::ALL.map(Field::name).join(", ")
            ),
        });
    };
    let compares = matches!(field.kind(), Type::Number | Type::Duration | Type::Severity);
    if op != Op::Eq && !compares {
        return Err(FilterError {
            column,
            message: format!("`{name}` takes `:` (no comparison)"),
        });
    }
    let value = match field.kind() {
        Type::Text => {
            if field == Field::Kind
                && !value
                    .chars()
                    .all(|c| c.is_ascii_alphabetic() || c == '_' || c == '*')
            {
                return Err(err(format!(
                    "expected a change kind such as PORT_OPENED, not `{value}`"
                )));
            }
            Value::Text {
                text: value.to_lowercase(),
                pattern: !quoted && value.contains('*'),
            }
        }
        Type::Address => Value::Network(
            value
                .parse::<IpNet>()
                .or_else(|_| value.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| err(format!("expected an IP address or a CIDR, not `{value}`")))?,
        ),
        Type::Number => Value::Number(
            value
                .parse::<u16>()
                .map(i64::from)
                .map_err(|_| err(format!("expected a port number (0-65535), not `{value}`")))?,
        ),
        Type::Duration => Value::Duration(duration(value).ok_or_else(|| {
            err(format!(
                "expected a duration such as 30m, 24h, 30d or 2w, not `{value}`"
            ))
        })?),
        Type::Severity => Value::Severity(
            SEVERITIES
                .iter()
                .position(|s| s.eq_ignore_ascii_case(value))
                .and_then(|i| u8::try_from(i).ok())
                .ok_or_else(|| {
                    err(format!(
                        "expected a severity ({}), not `{value}`",
                        SEVERITIES.join(", ")
                    ))
                })?,
        ),
    };
    Ok(Term {
        field: Some(field),
        op,
        value,
        column,
    })
}

/// `30m`, `24h`, `30d`, `2w` in seconds.
fn duration(text: &str) -> Option<i64> {
    let unit = text.chars().last()?;
    let number: i64 = text[..text.len() - unit.len_utf8()].parse().ok()?;
    let seconds = match unit.to_ascii_lowercase() {
        'm' => 60,
        'h' => 3_600,
        'd' => 86_400,
        'w' => 7 * 86_400,
        _ => return None,
    };
    (0..=100 * 365)
        .contains(&(number * seconds / 86_400))
        .then_some(number * seconds)
}

/// What a record holds for a field, for [`Expr::matches`].
#[derive(Debug, Clone, PartialEq)]
pub enum Fact<'a> {
    Text(&'a str),
    Address(IpAddr),
    Number(i64),
    /// Seconds: since (seen, changed) or until (cert.expires; negative once past).
    Duration(i64),
    /// Index in [`SEVERITIES`].
    Severity(u8),
}

/// Something a filter can be matched against in memory (a host, a change event).
pub trait Record {
    /// The record's values of `field` (a host has many ports; none: the field does not apply).
    fn facts(&self, field: Field) -> Vec<Fact<'_>>;

    /// The texts a bare word is looked for in (by default every text field's values).
    fn words(&self) -> Vec<String> {
        Field::ALL
            .into_iter()
            .filter(|f| f.kind() == Type::Text)
            .flat_map(|f| self.facts(f))
            .filter_map(|fact| match fact {
                Fact::Text(t) => Some(t.to_owned()),
                _ => None,
            })
            .collect()
    }
}

impl Expr {
    /// Whether `record` passes the filter.
    pub fn matches(&self, record: &impl Record) -> bool {
        match self {
            Expr::And(parts) => parts.iter().all(|p| p.matches(record)),
            Expr::Or(parts) => parts.iter().any(|p| p.matches(record)),
            Expr::Not(inner) => !inner.matches(record),
            Expr::Term(term) => term.matches(record),
        }
    }

    /// The terms, in order.
    pub fn terms(&self) -> Vec<&Term> {
        match self {
            Expr::And(parts) | Expr::Or(parts) => parts.iter().flat_map(Expr::terms).collect(),
            Expr::Not(inner) => inner.terms(),
            Expr::Term(term) => vec![term],
        }
    }
}

impl Term {
    fn matches(&self, record: &impl Record) -> bool {
        let Some(field) = self.field else {
            // A bare word: found in any text field.
            let Value::Text { text, pattern } = &self.value else {
                return false;
            };
            return record.words().iter().any(|t| {
                let t = t.to_lowercase();
                if *pattern {
                    glob(&format!("*{text}*"), &t)
                } else {
                    t.contains(text.as_str())
                }
            });
        };
        record
            .facts(field)
            .into_iter()
            .any(|fact| match (&self.value, fact) {
                (Value::Text { text, pattern }, Fact::Text(t)) => {
                    let t = t.to_lowercase();
                    if *pattern { glob(text, &t) } else { *text == t }
                }
                (Value::Network(net), Fact::Address(ip)) => net.contains(&ip),
                (Value::Number(n), Fact::Number(v)) => self.op.holds(v.cmp(n)),
                (Value::Duration(d), Fact::Duration(v)) => match self.op {
                    // `changed:24h` reads as "within 24 h".
                    Op::Eq => v <= *d,
                    op => op.holds(v.cmp(d)),
                },
                (Value::Severity(s), Fact::Severity(v)) => self.op.holds(v.cmp(s)),
                _ => false,
            })
    }
}

/// `*` matches any run of characters (both sides lowercase).
pub fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || !text[first.len()..].ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests;
