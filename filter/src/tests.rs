use super::*;

fn ok(text: &str) -> Expr {
    match parse(text) {
        Ok(e) => e,
        Err(e) => panic!("{text:?}: {e}"),
    }
}

fn err(text: &str) -> FilterError {
    match parse(text) {
        Ok(e) => panic!("{text:?} parsed: {e:?}"),
        Err(e) => e,
    }
}

fn t(field: Field, op: Op, value: Value, column: usize) -> Expr {
    Expr::Term(Term {
        field: Some(field),
        op,
        value,
        column,
    })
}

fn text(s: &str) -> Value {
    Value::Text {
        text: s.into(),
        pattern: s.contains('*'),
    }
}

#[test]
fn space_is_and_and_or_binds_looser() {
    assert_eq!(
        ok("site:dmz port:443 OR port:80"),
        Expr::Or(vec![
            Expr::And(vec![
                t(Field::Site, Op::Eq, text("dmz"), 1),
                t(Field::Port, Op::Eq, Value::Number(443), 10),
            ]),
            t(Field::Port, Op::Eq, Value::Number(80), 22),
        ])
    );
    assert_eq!(
        ok("site:dmz (port:443 OR port:80)"),
        Expr::And(vec![
            t(Field::Site, Op::Eq, text("dmz"), 1),
            Expr::Or(vec![
                t(Field::Port, Op::Eq, Value::Number(443), 11),
                t(Field::Port, Op::Eq, Value::Number(80), 23),
            ]),
        ])
    );
    assert_eq!(
        ok("site:a AND site:b"),
        Expr::And(vec![
            t(Field::Site, Op::Eq, text("a"), 1),
            t(Field::Site, Op::Eq, text("b"), 12),
        ])
    );
    assert_eq!(ok(""), Expr::And(vec![]));
    assert_eq!(ok("   "), Expr::And(vec![]));
}

#[test]
fn negation_quoting_and_wildcards() {
    assert_eq!(
        ok("-product:nginx"),
        Expr::Not(Box::new(t(Field::Product, Op::Eq, text("nginx"), 2)))
    );
    assert_eq!(
        ok("NOT product:nginx"),
        Expr::Not(Box::new(t(Field::Product, Op::Eq, text("nginx"), 5)))
    );
    assert_eq!(
        ok("product:\"Apache httpd\""),
        t(
            Field::Product,
            Op::Eq,
            Value::Text {
                text: "apache httpd".into(),
                pattern: false
            },
            1
        )
    );
    assert_eq!(
        ok(r#"owner:"a \"b\" c""#),
        t(
            Field::Owner,
            Op::Eq,
            Value::Text {
                text: "a \"b\" c".into(),
                pattern: false
            },
            1
        )
    );
    assert_eq!(
        ok("hostname:WEB*"),
        t(Field::Hostname, Op::Eq, text("web*"), 1)
    );
    // A quoted `*` is a character, not a wildcard.
    assert_eq!(
        ok("hostname:\"a*\""),
        t(
            Field::Hostname,
            Op::Eq,
            Value::Text {
                text: "a*".into(),
                pattern: false
            },
            1
        )
    );
    // A `-` inside a word is part of it.
    assert_eq!(ok("site:dmz-1"), t(Field::Site, Op::Eq, text("dmz-1"), 1));
}

#[test]
fn typed_values() {
    assert_eq!(
        ok("address:127.0.0.0/8"),
        t(
            Field::Address,
            Op::Eq,
            Value::Network("127.0.0.0/8".parse().unwrap_or_else(|_| panic!())),
            1
        )
    );
    assert_eq!(
        ok("address:127.0.0.1"),
        t(
            Field::Address,
            Op::Eq,
            Value::Network("127.0.0.1/32".parse().unwrap_or_else(|_| panic!())),
            1
        )
    );
    assert_eq!(
        ok("port>=1024"),
        t(Field::Port, Op::Ge, Value::Number(1024), 1)
    );
    assert_eq!(
        ok("cert.expires<30d"),
        t(Field::CertExpires, Op::Lt, Value::Duration(30 * 86_400), 1)
    );
    assert_eq!(
        ok("changed<24h"),
        t(Field::Changed, Op::Lt, Value::Duration(86_400), 1)
    );
    assert_eq!(
        ok("seen>2w"),
        t(Field::Seen, Op::Gt, Value::Duration(14 * 86_400), 1)
    );
    assert_eq!(
        ok("severity>=MEDIUM"),
        t(Field::Severity, Op::Ge, Value::Severity(2), 1)
    );
    assert_eq!(
        ok("kind:PORT_OPENED"),
        t(Field::Kind, Op::Eq, text("port_opened"), 1)
    );
    assert_eq!(ok("Port:22"), t(Field::Port, Op::Eq, Value::Number(22), 1));
}

#[test]
fn every_error_names_its_column_and_what_was_expected() {
    for (filter, column, says) in [
        ("port:", 6, "expected a value after `port`"),
        ("colour:red", 1, "unknown field `colour`"),
        ("port:http", 6, "expected a port number"),
        ("port:70000", 6, "expected a port number"),
        ("address:999.1.1.1", 9, "expected an IP address or a CIDR"),
        ("address:10.0.0.0/33", 9, "expected an IP address or a CIDR"),
        ("changed<24x", 9, "expected a duration"),
        ("severity>=urgent", 11, "expected a severity"),
        ("site<dmz", 1, "`site` takes `:`"),
        ("kind:port-opened", 6, "expected a change kind"),
        ("(port:22", 9, "expected `)` to close the `(` at column 1"),
        ("port:22)", 8, "a `)` without its `(`"),
        ("()", 2, "expected a term inside `( )`"),
        ("port:22 OR", 11, "expected a term after `OR`"),
        ("OR port:22", 1, "expected a term"),
        ("site:a AND", 11, "expected a term after `AND`"),
        ("-", 1, "expected a term"),
        ("NOT", 4, "expected a term after `NOT` or `-`"),
        ("owner:\"open", 7, "a closing `\"`"),
        ("site:a  port:x", 14, "expected a port number"),
    ] {
        let e = err(filter);
        assert_eq!(e.column, column, "{filter:?}: {e}");
        assert!(e.message.contains(says), "{filter:?}: {e}");
    }
    assert!(err(&"a ".repeat(65)).message.contains("at most 64 terms"));
    assert!(err(&"a".repeat(MAX_LEN + 1)).message.contains("at most"));
}

/// A host for the matcher.
struct Host {
    site: &'static str,
    address: IpAddr,
    hostname: Option<&'static str>,
    ports: Vec<(i64, &'static str, &'static str)>,
    tags: Vec<&'static str>,
    seen_ago: i64,
}

impl Record for Host {
    fn facts(&self, field: Field) -> Vec<Fact<'_>> {
        match field {
            Field::Site => vec![Fact::Text(self.site)],
            Field::Address => vec![Fact::Address(self.address)],
            Field::Hostname => self.hostname.map(Fact::Text).into_iter().collect(),
            Field::Port => self.ports.iter().map(|p| Fact::Number(p.0)).collect(),
            Field::Service => self.ports.iter().map(|p| Fact::Text(p.1)).collect(),
            Field::Product => self.ports.iter().map(|p| Fact::Text(p.2)).collect(),
            Field::Tag => self.tags.iter().map(|t| Fact::Text(t)).collect(),
            Field::Seen => vec![Fact::Duration(self.seen_ago)],
            _ => Vec::new(),
        }
    }
}

fn lab() -> Host {
    Host {
        site: "DMZ",
        address: IpAddr::from([127, 0, 0, 5]),
        hostname: Some("web01.lab"),
        ports: vec![(22, "ssh", "OpenSSH"), (443, "https", "nginx")],
        tags: vec!["prod", "web"],
        seen_ago: 3_600,
    }
}

#[test]
fn the_matcher_reads_a_record() {
    let h = lab();
    for (filter, expected) in [
        ("", true),
        ("site:dmz", true),
        ("site:lan", false),
        ("port:443 product:nginx", true),
        ("port:443 -product:nginx", false),
        ("-port:80", true),
        ("port:80 OR port:22", true),
        ("(port:80 OR port:8080) service:http*", false),
        ("service:http*", true),
        ("address:127.0.0.0/8", true),
        ("address:10.0.0.0/8", false),
        ("hostname:web*", true),
        ("hostname:web", false),
        ("tag:prod", true),
        ("port>1000", false),
        ("port<100", true),
        ("seen<2h", true),
        ("seen>2h", false),
        ("seen:1d", true),
        ("openssh", true),
        ("apache", false),
        ("*ssh*", true),
        ("owner:anyone", false),
        ("-owner:anyone", true),
    ] {
        assert_eq!(ok(filter).matches(&h), expected, "{filter:?}");
    }
}

#[test]
fn globs() {
    assert!(glob("web*", "web01"));
    assert!(glob("*01", "web01"));
    assert!(glob("w*b*1", "web01"));
    assert!(glob("*", ""));
    assert!(!glob("a*a", "a"));
    assert!(!glob("web*", "aweb"));
    assert!(glob("exact", "exact"));
}
