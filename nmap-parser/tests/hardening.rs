//! Hostile and broken input: refused with the right error, never expanded, never unbounded.

mod common;

use common::data;
use nmap_parser::{Limits, ParseError, parse, parse_str, parse_with_limits};

const BILLION_LAUGHS: &str = r#"<?xml version="1.0"?>
<!DOCTYPE nmaprun [
  <!ENTITY lol "lol">
  <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
  <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
  <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
  <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
  <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<nmaprun scanner="nmap"><host><status state="up"/><address addr="127.0.0.1" addrtype="ipv4"/>
<hostnames><hostname name="&lol9;" type="user"/></hostnames></host></nmaprun>"#;

fn assert_forbidden(xml: &str) -> String {
    match parse_str(xml) {
        Err(ParseError::Forbidden { reason, .. }) => reason,
        other => panic!("expected Forbidden, got {other:?} for:\n{xml}"),
    }
}

const BODY: &str = r#"<nmaprun scanner="nmap"><host><status state="up"/>
<address addr="127.0.0.1" addrtype="ipv4"/></host></nmaprun>"#;

#[test]
fn parse_refuses_when_doctype_is_billion_laughs() {
    let reason = assert_forbidden(BILLION_LAUGHS);
    assert!(reason.contains("internal subset"), "{reason}");
}

#[test]
fn parse_refuses_when_doctype_declares_external_entity() {
    let xml = format!(
        "<?xml version=\"1.0\"?>\n<!DOCTYPE nmaprun [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>\n{}",
        BODY.replace("state=\"up\"", "state=\"&x;\"")
    );
    assert_forbidden(&xml);
}

#[test]
fn parse_refuses_when_doctype_references_external_dtd() {
    assert_forbidden(&format!(
        "<!DOCTYPE nmaprun SYSTEM \"file:///etc/passwd\">\n{BODY}"
    ));
    assert_forbidden(&format!(
        "<!DOCTYPE nmaprun PUBLIC \"-//IDN nmap.org//DTD Nmap XML 1.04//EN\" \"http://attacker.example/nmap.dtd\">\n{BODY}"
    ));
}

#[test]
fn parse_refuses_when_doctype_is_not_nmaps() {
    let reason = assert_forbidden(&format!("<!DOCTYPE html>\n{BODY}"));
    assert!(reason.contains("html"), "{reason}");
}

#[test]
fn parse_refuses_when_document_has_second_doctype() {
    assert_forbidden(&format!("<!DOCTYPE nmaprun>\n<!DOCTYPE nmaprun>\n{BODY}"));
}

#[test]
fn parse_refuses_when_body_references_undeclared_entity() {
    // In an attribute…
    assert_forbidden(&BODY.replace("state=\"up\"", "state=\"&xxe;\""));
    // …and in element text.
    let xml = r#"<nmaprun scanner="nmap"><host><ports><port protocol="tcp" portid="1">
<script id="x" output="y"><elem key="k">&xxe;</elem></script></port></ports></host></nmaprun>"#;
    assert_forbidden(xml);
    // HTML entities are not XML's.
    assert_forbidden(&BODY.replace("state=\"up\"", "state=\"&nbsp;\""));
}

#[test]
fn parse_refuses_when_entity_declared_outside_doctype() {
    assert_forbidden(&format!(
        "<!ENTITY x SYSTEM \"file:///etc/passwd\">\n{BODY}"
    ));
}

#[test]
fn parse_accepts_when_doctype_is_nmaps_public_form() {
    let xml = format!(
        "<?xml version=\"1.0\"?>\n<!DOCTYPE nmaprun PUBLIC \"-//IDN nmap.org//DTD Nmap XML 1.04//EN\" \"https://svn.nmap.org/nmap/docs/nmap.dtd\">\n{BODY}"
    );
    let run = parse_str(&xml).expect("nmap's old DOCTYPE is fine");
    assert_eq!(run.hosts.len(), 1);
}

#[test]
fn parse_resolves_predefined_entities_and_char_refs() {
    let xml = r#"<nmaprun scanner="nmap" args="a &lt;&amp;&gt; &quot;b&quot; &apos;c&apos; -&#45;x &#x41;"><host>
<ports><port protocol="tcp" portid="1"><script id="s" output="o&#xa;p">
<elem key="k">&lt;tag&gt; &amp; &#65;<![CDATA[<raw>]]></elem></script></port></ports></host></nmaprun>"#;
    let run = parse_str(xml).expect("parse");
    assert_eq!(run.args.as_deref(), Some(r#"a <&> "b" 'c' --x A"#));
    let script = &run.hosts[0].ports[0].scripts[0];
    assert_eq!(script.output, "o\np");
    assert_eq!(script.value(&["k"]), Some("<tag> & A<raw>"));
}

#[test]
fn parse_returns_not_nmap_when_root_is_other_element() {
    let err =
        parse_str("<?xml version=\"1.0\"?>\n<html><body>hi</body></html>").expect_err("not nmap");
    match err {
        ParseError::NotNmap { found, position } => {
            assert_eq!(found, "<html>");
            assert_eq!(position, 22);
        }
        other => panic!("{other:?}"),
    }
    let err = parse_str(r#"<nmaprunx scanner="nmap"/>"#).expect_err("not nmap");
    assert!(matches!(err, ParseError::NotNmap { .. }), "{err:?}");
}

#[test]
fn parse_returns_not_nmap_when_input_is_not_xml() {
    let err = parse_str(r#"{"hosts": []}"#).expect_err("json");
    assert!(
        matches!(err, ParseError::NotNmap { ref found, position: 0 } if found == "text"),
        "{err:?}"
    );
    let err = parse(&b"\x89PNG\r\n\x1a\n\0\0"[..]).expect_err("binary");
    assert!(matches!(err, ParseError::NotNmap { .. }), "{err:?}");
}

#[test]
fn parse_returns_empty_when_input_has_zero_bytes() {
    assert!(matches!(parse(&b""[..]), Err(ParseError::Empty)));
    assert!(matches!(parse_str(" \n\t\r\n"), Err(ParseError::Empty)));
    let message = ParseError::Empty.to_string();
    assert!(message.contains("empty"), "{message}");
}

#[test]
fn parse_returns_truncated_when_input_has_only_a_prolog() {
    let err = parse_str("<?xml version=\"1.0\"?>\n<!DOCTYPE nmaprun>\n").expect_err("no root");
    assert!(err.is_truncation(), "{err:?}");
}

#[test]
fn parse_returns_too_large_when_input_exceeds_max_bytes() {
    let bytes = data("nmap_sV_root.xml");
    let len = bytes.len() as u64;
    let limits = |max_bytes| Limits {
        max_bytes,
        ..Limits::default()
    };
    let err = parse_with_limits(&bytes[..], limits(1024)).expect_err("too large");
    assert!(
        matches!(err, ParseError::TooLarge { max_bytes: 1024 }),
        "{err:?}"
    );
    assert!(err.to_string().contains("1024"));
    // Exactly at the limit is fine; one byte short of `</nmaprun>` is not. (Bytes after
    // `</nmaprun>`, like the final newline, are never read.)
    assert!(parse_with_limits(&bytes[..], limits(len)).is_ok());
    let root_end = bytes
        .windows(b"</nmaprun>".len())
        .position(|w| w == b"</nmaprun>")
        .expect("root end") as u64
        + 10;
    assert!(parse_with_limits(&bytes[..], limits(root_end)).is_ok());
    assert!(matches!(
        parse_with_limits(&bytes[..], limits(root_end - 1)),
        Err(ParseError::TooLarge { .. })
    ));
    assert_eq!(Limits::default().max_bytes, 512 * 1024 * 1024);
}

#[test]
fn parse_returns_too_large_when_single_attribute_exceeds_max_bytes() {
    // One huge tag must not be buffered whole before the cap applies.
    let mut xml = String::from(r#"<nmaprun scanner="nmap" args=""#);
    xml.push_str(&"A".repeat(1 << 20));
    xml.push_str(r#""></nmaprun>"#);
    let limits = Limits {
        max_bytes: 4096,
        ..Limits::default()
    };
    let err = parse_with_limits(xml.as_bytes(), limits).expect_err("too large");
    assert!(matches!(err, ParseError::TooLarge { .. }), "{err:?}");
}

#[test]
fn parse_returns_limit_error_when_nesting_is_too_deep() {
    let depth = 100;
    let xml = format!(
        "<nmaprun>{}{}</nmaprun>",
        "<x>".repeat(depth),
        "</x>".repeat(depth)
    );
    let err = parse_str(&xml).expect_err("too deep");
    assert!(
        matches!(err, ParseError::LimitExceeded { what, max: 64, .. } if what.contains("depth")),
        "{err:?}"
    );
    // Within the limit, unknown elements are skipped.
    let xml = format!(
        "<nmaprun>{}{}</nmaprun>",
        "<x>".repeat(20),
        "</x>".repeat(20)
    );
    assert!(parse_str(&xml).is_ok());
}

#[test]
fn parse_returns_limit_error_when_script_output_is_too_long() {
    let bytes = data("nmap_ssl_root.xml");
    let limits = Limits {
        max_script_output: 256,
        ..Limits::default()
    };
    let err = parse_with_limits(&bytes[..], limits).expect_err("too long");
    assert!(
        matches!(
            err,
            ParseError::LimitExceeded {
                what: "script output",
                max: 256,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn parse_returns_limit_error_when_script_has_too_many_elements() {
    let bytes = data("nmap_ssl_root.xml");
    let limits = Limits {
        max_script_elements: 20,
        ..Limits::default()
    };
    let err = parse_with_limits(&bytes[..], limits).expect_err("too many");
    assert!(
        matches!(
            err,
            ParseError::LimitExceeded {
                what: "script elements",
                max: 20,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn parse_returns_limit_error_when_host_has_too_many_elements() {
    let mut xml = String::from(r#"<nmaprun scanner="nmap"><host><ports>"#);
    for port in 1..=100 {
        xml.push_str(&format!(r#"<port protocol="tcp" portid="{port}"/>"#));
    }
    xml.push_str("</ports></host></nmaprun>");
    let limits = Limits {
        max_host_elements: 50,
        ..Limits::default()
    };
    let err = parse_with_limits(xml.as_bytes(), limits).expect_err("too many");
    assert!(
        matches!(err, ParseError::LimitExceeded { max: 50, .. }),
        "{err:?}"
    );
    assert_eq!(
        parse_str(&xml).expect("default limits").hosts[0]
            .ports
            .len(),
        100
    );
}

#[test]
fn parse_returns_invalid_value_with_position_when_port_is_not_a_number() {
    let xml = r#"<nmaprun scanner="nmap"><host><ports><port protocol="tcp" portid="70000"/></ports></host></nmaprun>"#;
    let err = parse_str(xml).expect_err("invalid");
    match &err {
        ParseError::InvalidValue {
            element,
            attribute,
            value,
            position,
        } => {
            assert_eq!(
                (*element, *attribute, value.as_str()),
                ("port", "portid", "70000")
            );
            assert_eq!(*position, xml.find("<port ").expect("port") as u64);
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("at byte 37"), "{err}");
}

#[test]
fn parse_returns_missing_attribute_when_port_has_no_portid() {
    let xml =
        r#"<nmaprun scanner="nmap"><host><ports><port protocol="tcp"/></ports></host></nmaprun>"#;
    let err = parse_str(xml).expect_err("missing");
    assert!(
        matches!(
            err,
            ParseError::MissingAttribute {
                element: "port",
                attribute: "portid",
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn parse_returns_xml_error_with_position_when_tags_mismatch() {
    let xml = r#"<nmaprun scanner="nmap"><host></hosts></nmaprun>"#;
    let err = parse_str(xml).expect_err("mismatch");
    assert!(matches!(err, ParseError::Xml { .. }), "{err:?}");
    assert_eq!(err.position(), Some(30));
}

#[test]
fn parse_replaces_invalid_utf8_when_attribute_has_stray_bytes() {
    let mut xml = br#"<nmaprun scanner="nmap"><host><ports><port protocol="tcp" portid="80"><service name="http" product="Caf"#.to_vec();
    xml.push(0xE9);
    xml.extend_from_slice(br#""/></port></ports></host></nmaprun>"#);
    let run = parse(&xml[..]).expect("lossy");
    let product = run.hosts[0].ports[0]
        .service
        .as_ref()
        .and_then(|s| s.product.clone());
    assert_eq!(product.as_deref(), Some("Caf\u{FFFD}"));
}
