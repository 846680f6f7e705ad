//! The filter language (`filter` crate) compiled to SQL conditions over the host inventory,
//! for SQLite and PostgreSQL. A host matches a port, protocol or service term when one of its
//! ports as last known (an open interval) does; `changed`, `kind` and `severity` look at its
//! change events; `cert.*` at the certificates it serves now. Each term is its own condition
//! (`port:443 product:nginx`: a host with port 443 open and an nginx somewhere).

use chrono::{DateTime, Duration, Utc};
use filter::{Expr, Field, Op, Term, Value};
use sea_orm::DbBackend;
use sea_orm::sea_query::{Condition, Expr as Sql, ExprTrait};

use crate::error::AppError;

/// Parses `text` (none or blank: everything) into a condition on `hosts`. A bad filter is
/// VALIDATION with its column.
pub fn hosts(
    text: Option<&str>,
    backend: DbBackend,
    now: DateTime<Utc>,
) -> Result<Condition, AppError> {
    compile(text, backend, now, On::Hosts)
}

/// [`hosts`] for `change_events`: site, address, port, protocol, kind, severity and `changed`
/// (the event's time) are the event's own; hostname, tag, owner, state and `seen` its host's;
/// a bare word is found in the site, address, kind or summary.
pub fn changes(
    text: Option<&str>,
    backend: DbBackend,
    now: DateTime<Utc>,
) -> Result<Condition, AppError> {
    compile(text, backend, now, On::Changes)
}

/// [`changes`] for alerts: site, address, port, protocol, kind (the kind that opened it) and
/// severity are the alert's, `changed` its last event's time; hostname, tag, owner, state and
/// `seen` its host's; a bare word is found in the site, address, kind, subject or summary.
pub fn alerts(
    text: Option<&str>,
    backend: DbBackend,
    now: DateTime<Utc>,
) -> Result<Condition, AppError> {
    compile(text, backend, now, On::Alerts)
}

/// [`hosts`] for the certificate inventory: `cert.expires` (days left: `cert.expires<30d`) and
/// `cert.issuer` are the certificate's; site, address, hostname, port, tag and owner those of
/// a host serving it now; a bare word is found in its subject, issuer, names or fingerprint.
pub fn certificates(
    text: Option<&str>,
    backend: DbBackend,
    now: DateTime<Utc>,
) -> Result<Condition, AppError> {
    compile(text, backend, now, On::Certificates)
}

/// [`hosts`] for the scan list: a scan matches a term when what it found does — site, address,
/// hostname and state of a host it probed; port, protocol, service, product and version of a
/// port it found open; `cert.*` of a certificate it read; tag and owner of such a host as the
/// inventory knows it now; `kind`, `severity` and `changed` of the change events it recorded;
/// `seen` is when it was created. A bare word is found in its title, status or trigger.
pub fn scans(
    text: Option<&str>,
    backend: DbBackend,
    now: DateTime<Utc>,
) -> Result<Condition, AppError> {
    compile(text, backend, now, On::Scans)
}

fn compile(
    text: Option<&str>,
    backend: DbBackend,
    now: DateTime<Utc>,
    on: On,
) -> Result<Condition, AppError> {
    Compiler { backend, now, on }.expr(&parse(text)?)
}

/// The table a filter selects from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum On {
    Hosts,
    Changes,
    Alerts,
    Certificates,
    Scans,
}

fn invalid(column: usize, message: String) -> AppError {
    AppError::validation_at(
        format!("filter, column {column}: {message}"),
        Some(crate::error::SourcePos {
            line: 1,
            column: u64::try_from(column).unwrap_or(u64::MAX),
        }),
    )
}

/// Parses a filter; errors are VALIDATION at line 1 and the filter's column.
pub fn parse(text: Option<&str>) -> Result<Expr, AppError> {
    filter::parse(text.unwrap_or_default()).map_err(|e| invalid(e.column, e.message))
}

#[derive(Clone, Copy)]
struct Compiler {
    backend: DbBackend,
    now: DateTime<Utc>,
    on: On,
}

/// `*` → `%`, with `%`, `_` and `\` escaped (`ESCAPE '\'`).
fn like(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    for c in pattern.chars() {
        match c {
            '*' => out.push('%'),
            '%' | '_' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

impl Compiler {
    fn pg(&self) -> bool {
        self.backend == DbBackend::Postgres
    }

    /// A custom SQL condition with (at most) one value at `?`: PostgreSQL's builder numbers
    /// its placeholders (`$1` within the expression).
    fn raw(&self, sql: &str, values: Vec<sea_orm::Value>) -> sea_orm::sea_query::SimpleExpr {
        let sql = if self.pg() {
            sql.replace('?', "$1")
        } else {
            sql.to_owned()
        };
        Sql::cust_with_values(sql, values)
    }

    fn cust(&self, sql: String, values: Vec<sea_orm::Value>) -> Condition {
        Condition::all().add(self.raw(&sql, values))
    }

    fn expr(&self, expr: &Expr) -> Result<Condition, AppError> {
        Ok(match expr {
            Expr::And(parts) => {
                let mut all = Condition::all();
                for p in parts {
                    all = all.add(self.expr(p)?);
                }
                all
            }
            Expr::Or(parts) => {
                let mut any = Condition::any();
                for p in parts {
                    any = any.add(self.expr(p)?);
                }
                any
            }
            Expr::Not(inner) => self.expr(inner)?.not(),
            Expr::Term(term) => self.term(term)?,
        })
    }

    /// `lower(<sql>) = ?` or `LIKE ?` for a text value.
    fn text(&self, sql: &str, value: &Value) -> (String, Vec<sea_orm::Value>) {
        match value {
            Value::Text {
                text,
                pattern: true,
            } => (
                format!("({sql} IS NOT NULL AND lower({sql}) LIKE ? ESCAPE '\\')"),
                vec![like(text).into()],
            ),
            Value::Text { text, .. } => (
                format!("({sql} IS NOT NULL AND lower({sql}) = ?)"),
                vec![text.clone().into()],
            ),
            _ => ("1 = 0".into(), Vec::new()),
        }
    }

    /// An open fact of the host (`fact`) whose condition holds. SQLite is told the per-host
    /// index: without statistics its planner takes `(fact, value)` for `f.value = 'open'`,
    /// reading every open port of the inventory for each host.
    fn open_fact(&self, fact: &str, condition: &str, values: Vec<sea_orm::Value>) -> Condition {
        let index = if self.pg() {
            ""
        } else {
            " INDEXED BY idx_host_facts_host_ended_fact"
        };
        self.cust(
            format!(
                "EXISTS (SELECT 1 FROM host_facts f{index} WHERE f.host_id = \"hosts\".\"id\" \
                 AND f.fact = '{fact}' AND f.ended_at IS NULL AND {condition})"
            ),
            values,
        )
    }

    /// The number of a port key (`tcp/443`), and its protocol.
    fn port_number(&self) -> &'static str {
        if self.pg() {
            "split_part(f.key, '/', 2)::int"
        } else {
            "CAST(substr(f.key, instr(f.key, '/') + 1) AS INTEGER)"
        }
    }

    fn port_protocol(&self) -> &'static str {
        if self.pg() {
            "split_part(f.key, '/', 1)"
        } else {
            "substr(f.key, 1, instr(f.key, '/') - 1)"
        }
    }

    fn json_field(&self, column: &str, key: &str) -> String {
        if self.pg() {
            format!("({column}::json ->> '{key}')")
        } else {
            format!("json_extract({column}, '$.{key}')")
        }
    }

    /// `column op (now - age)` for "its age op value" (`seen<24h`: seen after now − 24 h).
    fn age(&self, sql: &str, op: Op, seconds: i64) -> (String, Vec<sea_orm::Value>) {
        let at = self.now - Duration::seconds(seconds);
        let op = match op {
            // `seen:24h` reads as "within 24 h".
            Op::Eq | Op::Le => ">=",
            Op::Lt => ">",
            Op::Gt => "<",
            Op::Ge => "<=",
        };
        (
            format!("({sql} IS NOT NULL AND {sql} {op} ?)"),
            vec![at.into()],
        )
    }

    fn compare(op: Op) -> &'static str {
        match op {
            Op::Eq => "=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
        }
    }

    /// `<rank of a severity column> op ?` (info 0, low 1, medium 2, high 3; stored lowercase).
    fn severity(column: &str, op: Op, rank: u8) -> (String, Vec<sea_orm::Value>) {
        (
            format!(
                "(CASE upper({column}) WHEN 'INFO' THEN 0 WHEN 'LOW' THEN 1 WHEN 'MEDIUM' THEN 2 \
                 ELSE 3 END) {} ?",
                Self::compare(op)
            ),
            vec![i32::from(rank).into()],
        )
    }

    /// `cert.expires op value`, days left: `<not_after> op now + value` (`:` reads "within").
    fn expires(&self, column: &str, op: Op, seconds: i64) -> (String, Vec<sea_orm::Value>) {
        let at = self.now + Duration::seconds(seconds);
        let op = match op {
            Op::Eq => "<=",
            op => Self::compare(op),
        };
        (
            format!("({column} IS NOT NULL AND {column} {op} ?)"),
            vec![at.into()],
        )
    }

    /// A bare word: found (case-insensitive, `*` a wildcard) in any of `columns` of `table`.
    fn word(&self, table: &str, columns: &[&str], value: &Value) -> Condition {
        let Value::Text { text, .. } = value else {
            return self.cust("1 = 0".into(), Vec::new());
        };
        let pattern = format!("%{}%", like(text));
        let mut any = Condition::any();
        for column in columns {
            any = any.add(self.raw(
                &format!(
                    "({table}.\"{column}\" IS NOT NULL AND lower({table}.\"{column}\") LIKE ? ESCAPE '\\')"
                ),
                vec![pattern.clone().into()],
            ));
        }
        any
    }

    /// A term on a change event (`table` change_events), or on an alert (alerts: the same
    /// columns, `last_event_at` for the time).
    fn change_term(&self, term: &Term, table: &'static str) -> Result<Condition, AppError> {
        let alerts = table == "alerts";
        let quoted = format!("\"{table}\"");
        // Named like the constant the format strings below read.
        #[allow(non_snake_case)]
        let E = quoted.as_str();
        let at = if alerts { "last_event_at" } else { "at" };
        let value = &term.value;
        let Some(field) = term.field else {
            let words: &[&str] = if alerts {
                &["site", "address", "kind", "subject", "summary"]
            } else {
                &["site", "address", "kind", "summary"]
            };
            return Ok(self.word(E, words, value));
        };
        Ok(match field {
            Field::Site | Field::Protocol | Field::Kind => {
                let (sql, values) = self.text(&format!("{E}.\"{}\"", field.name()), value);
                self.cust(sql, values)
            }
            Field::Address => match value {
                Value::Network(net) => {
                    self.network(net, term.column, &format!("{E}.\"address\""))?
                }
                _ => self.cust("1 = 0".into(), Vec::new()),
            },
            Field::Port => match value {
                Value::Number(n) => self.cust(
                    format!(
                        "({E}.\"port\" IS NOT NULL AND {E}.\"port\" {} ?)",
                        Self::compare(term.op)
                    ),
                    vec![(*n).into()],
                ),
                _ => self.cust("1 = 0".into(), Vec::new()),
            },
            Field::Severity => match value {
                Value::Severity(s) => {
                    let (sql, values) = Self::severity(&format!("{E}.\"severity\""), term.op, *s);
                    self.cust(sql, values)
                }
                _ => self.cust("1 = 0".into(), Vec::new()),
            },
            Field::Changed => match value {
                Value::Duration(d) => {
                    let (sql, values) = self.age(&format!("{E}.\"{at}\""), term.op, *d);
                    self.cust(sql, values)
                }
                _ => self.cust("1 = 0".into(), Vec::new()),
            },
            // Its host's.
            Field::Hostname | Field::Tag | Field::Owner | Field::State | Field::Seen => {
                let host = Compiler {
                    on: On::Hosts,
                    ..*self
                }
                .term(term)?;
                Condition::all().add(sea_orm::sea_query::Expr::exists(
                    sea_orm::sea_query::Query::select()
                        .expr(Sql::val(1))
                        .from("hosts")
                        .and_where(Sql::col(("hosts", "id")).equals((table, "host_id")))
                        .cond_where(host)
                        .to_owned(),
                ))
            }
            Field::Service
            | Field::Product
            | Field::Version
            | Field::CertExpires
            | Field::CertIssuer
            | Field::Tls => {
                return Err(invalid(
                    term.column,
                    format!(
                        "`{}` does not apply to {}; search its words instead",
                        field.name(),
                        if alerts { "alerts" } else { "change events" }
                    ),
                ));
            }
        })
    }

    /// `EXISTS (SELECT 1 FROM <from> WHERE <alias>.scan_id = scans.id AND <condition>)`.
    fn in_scan(
        &self,
        from: &str,
        alias: &str,
        condition: &str,
        values: Vec<sea_orm::Value>,
    ) -> Condition {
        self.cust(
            format!(
                "EXISTS (SELECT 1 FROM {from} WHERE {alias}.scan_id = \"scans\".\"id\" AND \
                 {condition})"
            ),
            values,
        )
    }

    /// A term on a scan: on what it found (see [`scans`]).
    fn scan_term(&self, term: &Term) -> Result<Condition, AppError> {
        let value = &term.value;
        let Some(field) = term.field else {
            return Ok(self.word("\"scans\"", &["title", "status", "triggered_by"], value));
        };
        const PORTS: &str = "scan_ports p";
        const OPEN: &str = "p.state = 'open'";
        Ok(match field {
            Field::Site => {
                let (sql, values) = self.text("s.name", value);
                self.in_scan("scan_sites s", "s", &sql, values)
            }
            Field::Hostname | Field::State => {
                let column = if field == Field::State {
                    "i.status"
                } else {
                    "i.hostname"
                };
                let (sql, values) = self.text(column, value);
                self.in_scan("scan_ips i", "i", &sql, values)
            }
            Field::Address => match value {
                Value::Network(net) => {
                    let inner = self.network(net, term.column, "i.address")?;
                    Condition::all().add(sea_orm::sea_query::Expr::exists(
                        sea_orm::sea_query::Query::select()
                            .expr(Sql::val(1))
                            .from_as("scan_ips", "i")
                            .and_where(Sql::col(("i", "scan_id")).equals(("scans", "id")))
                            .cond_where(inner)
                            .to_owned(),
                    ))
                }
                _ => self.cust("1 = 0".into(), Vec::new()),
            },
            Field::Port => match value {
                Value::Number(n) => self.in_scan(
                    PORTS,
                    "p",
                    &format!("{OPEN} AND p.port {} ?", Self::compare(term.op)),
                    vec![(*n).into()],
                ),
                _ => self.cust("1 = 0".into(), Vec::new()),
            },
            Field::Protocol => {
                let (sql, values) = self.text("p.protocol", value);
                self.in_scan(PORTS, "p", &format!("{OPEN} AND {sql}"), values)
            }
            Field::Service | Field::Product | Field::Version => {
                let column = match field {
                    Field::Service => "v.name",
                    Field::Product => "v.product",
                    _ => "v.version",
                };
                let (sql, values) = self.text(column, value);
                self.in_scan(
                    "scan_services v JOIN scan_ports p ON p.id = v.port_id",
                    "v",
                    &format!("{OPEN} AND {sql}"),
                    values,
                )
            }
            Field::CertExpires => match value {
                Value::Duration(d) => {
                    let (sql, values) = self.expires("c.not_after", term.op, *d);
                    self.in_scan("scan_certificates c", "c", &sql, values)
                }
                _ => self.cust("1 = 0".into(), Vec::new()),
            },
            Field::CertIssuer => {
                let (sql, values) = self.text("c.issuer", value);
                self.in_scan("scan_certificates c", "c", &sql, values)
            }
            Field::Tls => {
                let (sql, values) = self.text("t.version", value);
                self.in_scan("scan_tls_versions t", "t", &sql, values)
            }
            // What the inventory knows now of a host the scan probed.
            Field::Tag | Field::Owner => {
                let host = Compiler {
                    on: On::Hosts,
                    ..*self
                }
                .term(term)?;
                Condition::all().add(sea_orm::sea_query::Expr::exists(
                    sea_orm::sea_query::Query::select()
                        .expr(Sql::val(1))
                        .from_as("scan_ips", "i")
                        .inner_join(
                            "scan_sites",
                            Sql::col(("scan_sites", "id")).equals(("i", "site_id")),
                        )
                        .inner_join(
                            "hosts",
                            Condition::all()
                                .add(Sql::col(("hosts", "site")).equals(("scan_sites", "name")))
                                .add(Sql::col(("hosts", "address")).equals(("i", "address"))),
                        )
                        .and_where(Sql::col(("i", "scan_id")).equals(("scans", "id")))
                        .cond_where(host)
                        .to_owned(),
                ))
            }
            Field::Seen => match value {
                Value::Duration(d) => {
                    let (sql, values) = self.age("\"scans\".\"created_at\"", term.op, *d);
                    self.cust(sql, values)
                }
                _ => self.cust("1 = 0".into(), Vec::new()),
            },
            Field::Changed => match value {
                Value::Duration(d) => {
                    let (sql, values) = self.age("e.at", term.op, *d);
                    self.in_scan("change_events e", "e", &sql, values)
                }
                _ => self.cust("1 = 0".into(), Vec::new()),
            },
            Field::Kind => {
                let (sql, values) = self.text("e.kind", value);
                self.in_scan("change_events e", "e", &sql, values)
            }
            Field::Severity => match value {
                Value::Severity(s) => {
                    let (sql, values) = Self::severity("e.severity", term.op, *s);
                    self.in_scan("change_events e", "e", &sql, values)
                }
                _ => self.cust("1 = 0".into(), Vec::new()),
            },
        })
    }

    /// A term on a certificate.
    fn certificate_term(&self, term: &Term) -> Result<Condition, AppError> {
        const C: &str = "\"certificates\"";
        let value = &term.value;
        let Some(field) = term.field else {
            return Ok(self.word(
                C,
                &["subject", "issuer", "sans", "sha256_fingerprint"],
                value,
            ));
        };
        Ok(match field {
            Field::CertExpires => match value {
                Value::Duration(d) => {
                    let (sql, values) = self.expires(&format!("{C}.\"not_after\""), term.op, *d);
                    self.cust(sql, values)
                }
                _ => self.cust("1 = 0".into(), Vec::new()),
            },
            Field::CertIssuer => {
                let (sql, values) = self.text(&format!("{C}.\"issuer\""), value);
                self.cust(sql, values)
            }
            // Where it is served now: a host's open `cert` fact names it.
            Field::Site
            | Field::Address
            | Field::Hostname
            | Field::Tag
            | Field::Owner
            | Field::Port => {
                let host = Compiler {
                    on: On::Hosts,
                    ..*self
                };
                let on_host = if field == Field::Port {
                    match value {
                        Value::Number(n) => self.cust(
                            format!("{} {} ?", self.port_number(), Self::compare(term.op)),
                            vec![(*n).into()],
                        ),
                        _ => self.cust("1 = 0".into(), Vec::new()),
                    }
                } else {
                    host.term(term)?
                };
                Condition::all().add(sea_orm::sea_query::Expr::exists(
                    sea_orm::sea_query::Query::select()
                        .expr(Sql::val(1))
                        .from_as("host_facts", "f")
                        .inner_join("hosts", Sql::col(("hosts", "id")).equals(("f", "host_id")))
                        .and_where(Sql::col(("f", "fact")).eq("cert"))
                        .and_where(Sql::col(("f", "ended_at")).is_null())
                        .and_where(
                            Sql::col(("f", "value")).equals(("certificates", "sha256_fingerprint")),
                        )
                        .cond_where(on_host)
                        .to_owned(),
                ))
            }
            _ => {
                return Err(invalid(
                    term.column,
                    format!(
                        "`{}` does not apply to certificates; use cert.expires, cert.issuer, \
                         site, address, hostname, port, tag or owner",
                        field.name()
                    ),
                ));
            }
        })
    }

    fn term(&self, term: &Term) -> Result<Condition, AppError> {
        match self.on {
            On::Changes => return self.change_term(term, "change_events"),
            On::Alerts => return self.change_term(term, "alerts"),
            On::Certificates => return self.certificate_term(term),
            On::Scans => return self.scan_term(term),
            On::Hosts => {}
        }
        let Some(field) = term.field else {
            // A bare word: in the site, address, hostname, owner or tags.
            return Ok(self.word(
                "\"hosts\"",
                &["site", "address", "hostname", "owner", "tags"],
                &term.value,
            ));
        };
        let value = &term.value;
        Ok(match field {
            Field::Site | Field::Hostname | Field::Owner | Field::State => {
                let (sql, values) = self.text(&format!("\"hosts\".\"{}\"", field.name()), value);
                self.cust(sql, values)
            }
            Field::Tag => {
                let (sql, values) = if self.pg() {
                    self.text("t.v", value)
                } else {
                    self.text("value", value)
                };
                let from = if self.pg() {
                    "json_array_elements_text(\"hosts\".\"tags\"::json) AS t(v)"
                } else {
                    "json_each(\"hosts\".\"tags\")"
                };
                self.cust(format!("EXISTS (SELECT 1 FROM {from} WHERE {sql})"), values)
            }
            Field::Address => match value {
                Value::Network(net) => self.network(net, term.column, "\"hosts\".\"address\"")?,
                _ => self.cust("1 = 0".into(), Vec::new()),
            },
            Field::Port => match value {
                Value::Number(n) => self.open_fact(
                    "port",
                    &format!(
                        "f.value = 'open' AND {} {} ?",
                        self.port_number(),
                        Self::compare(term.op)
                    ),
                    vec![(*n).into()],
                ),
                _ => self.cust("1 = 0".into(), Vec::new()),
            },
            Field::Protocol => {
                let (sql, values) = self.text(self.port_protocol(), value);
                self.open_fact("port", &format!("f.value = 'open' AND {sql}"), values)
            }
            Field::Service | Field::Product | Field::Version => {
                let key = if field == Field::Service {
                    "name"
                } else {
                    field.name()
                };
                let (sql, values) = self.text(&self.json_field("f.value", key), value);
                self.open_fact("service", &sql, values)
            }
            Field::Tls => {
                let (sql, values) = self.text("f.value", value);
                self.open_fact("tls", &sql, values)
            }
            Field::Seen => match value {
                Value::Duration(d) => {
                    let (sql, values) = self.age("\"hosts\".\"last_seen_at\"", term.op, *d);
                    self.cust(sql, values)
                }
                _ => self.cust("1 = 0".into(), Vec::new()),
            },
            Field::Changed => match value {
                Value::Duration(d) => {
                    let (sql, values) = self.age(
                        "(SELECT max(e.at) FROM change_events e WHERE e.host_id = \"hosts\".\"id\")",
                        term.op,
                        *d,
                    );
                    self.cust(sql, values)
                }
                _ => self.cust("1 = 0".into(), Vec::new()),
            },
            Field::Kind => {
                let (sql, values) = self.text("e.kind", value);
                self.cust(
                    format!(
                        "EXISTS (SELECT 1 FROM change_events e WHERE e.host_id = \"hosts\".\"id\" AND {sql})"
                    ),
                    values,
                )
            }
            Field::Severity => match value {
                Value::Severity(s) => {
                    let (sql, values) = Self::severity("e.severity", term.op, *s);
                    self.cust(
                        format!(
                            "EXISTS (SELECT 1 FROM change_events e WHERE e.host_id = \
                             \"hosts\".\"id\" AND {sql})"
                        ),
                        values,
                    )
                }
                _ => self.cust("1 = 0".into(), Vec::new()),
            },
            Field::CertExpires | Field::CertIssuer => {
                let (sql, values) = match value {
                    // Days left op value: not_after op now + value.
                    Value::Duration(d) => self.expires("c.not_after", term.op, *d),
                    other => self.text("c.issuer", other),
                };
                self.open_fact(
                    "cert",
                    &format!(
                        "EXISTS (SELECT 1 FROM certificates c WHERE c.sha256_fingerprint = f.value \
                         AND {sql})"
                    ),
                    values,
                )
            }
        })
    }

    /// An address or a network: PostgreSQL compares as `inet`; SQLite, IPv4 only, as the
    /// dotted prefixes the network covers (at most 128 of them).
    /// An address or a network (a row without an address matches neither, also negated).
    fn network(&self, net: &ipnet::IpNet, column: usize, sql: &str) -> Result<Condition, AppError> {
        Ok(Condition::all()
            .add(self.raw(&format!("{sql} IS NOT NULL"), Vec::new()))
            .add(self.network_of(net, column, sql)?))
    }

    fn network_of(
        &self,
        net: &ipnet::IpNet,
        column: usize,
        sql: &str,
    ) -> Result<Condition, AppError> {
        let single = net.prefix_len() == net.max_prefix_len();
        if single {
            return Ok(self.cust(format!("{sql} = ?"), vec![net.addr().to_string().into()]));
        }
        if self.pg() {
            return Ok(self.cust(
                format!("{sql}::inet <<= ?::inet"),
                vec![net.trunc().to_string().into()],
            ));
        }
        let ipnet::IpNet::V4(v4) = net.trunc() else {
            return Err(invalid(
                column,
                "an IPv6 network needs PostgreSQL; give an address".into(),
            ));
        };
        let octets = v4.network().octets();
        let prefix = usize::from(v4.prefix_len());
        let (whole, rest) = (prefix / 8, prefix % 8);
        let mut any = Condition::any();
        if whole == 0 && rest == 0 {
            return Ok(Condition::all());
        }
        let fixed: Vec<String> = octets[..whole].iter().map(ToString::to_string).collect();
        let variants: Vec<Option<u8>> = if rest == 0 {
            vec![None]
        } else {
            let base = octets[whole];
            let count = 1u16 << (8 - rest);
            (0..count)
                .map(|i| u8::try_from(u16::from(base) + i).ok())
                .collect()
        };
        for v in variants {
            let mut parts = fixed.clone();
            if let Some(v) = v {
                parts.push(v.to_string());
            }
            // Four octets: one address; fewer: every address under that dotted prefix.
            any = any.add(if parts.len() == 4 {
                self.raw(&format!("{sql} = ?"), vec![parts.join(".").into()])
            } else {
                self.raw(
                    &format!("{sql} LIKE ?"),
                    vec![format!("{}.%", parts.join(".")).into()],
                )
            });
        }
        Ok(any)
    }
}
