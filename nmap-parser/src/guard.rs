//! The XML safety rules: which DOCTYPE is accepted and which references are resolved.
//!
//! nmap writes `<!DOCTYPE nmaprun>` (older versions added a `PUBLIC` identifier pointing at
//! nmap.org's DTD). Anything else in a DOCTYPE — another root name, an internal subset, entity
//! declarations, a `SYSTEM` reference — is refused. The external DTD named by nmap's `PUBLIC`
//! form is never fetched: this crate does no I/O and quick-xml resolves no external entities.
//! References resolve only to XML's five predefined entities and numeric character references.

use std::borrow::Cow;

/// Checks the content of a `<!DOCTYPE …>` declaration (the text after the keyword).
/// Returns why it is refused, if it is.
pub(crate) fn check_doctype(content: &[u8]) -> Result<(), String> {
    let Ok(text) = std::str::from_utf8(content) else {
        return Err("DOCTYPE is not valid UTF-8".to_owned());
    };
    if text.contains(['[', ']', '<', '%', '&']) {
        return Err("DOCTYPE with an internal subset or entity declarations".to_owned());
    }
    let text = text.trim();
    let (name, rest) = text
        .split_once(|c: char| c.is_ascii_whitespace())
        .unwrap_or((text, ""));
    if name != "nmaprun" {
        return Err(format!("DOCTYPE `{}` is not nmap's", shorten(name)));
    }
    let rest = rest.trim_start();
    if rest.is_empty() {
        return Ok(());
    }
    let Some(ids) = rest.strip_prefix("PUBLIC") else {
        return Err("DOCTYPE with an external reference".to_owned());
    };
    let (public_id, ids) = quoted(ids).ok_or("DOCTYPE PUBLIC identifier is malformed")?;
    let (system_id, tail) = quoted(ids).ok_or("DOCTYPE system identifier is malformed")?;
    let nmap_public = public_id.starts_with("-//IDN nmap.org//DTD Nmap XML ");
    let nmap_system = [
        "https://svn.nmap.org/",
        "http://svn.nmap.org/",
        "https://nmap.org/",
    ]
    .iter()
    .any(|p| system_id.starts_with(p))
        && system_id.ends_with("/nmap.dtd");
    if nmap_public && nmap_system && tail.trim().is_empty() {
        Ok(())
    } else {
        Err("DOCTYPE with an external reference other than nmap's DTD".to_owned())
    }
}

/// Splits a leading quoted literal (after optional whitespace) from `s`.
fn quoted(s: &str) -> Option<(&str, &str)> {
    let s = s.trim_start();
    let quote = s.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let body = &s[1..];
    let end = body.find(quote)?;
    Some((&body[..end], &body[end + 1..]))
}

/// Unescapes attribute or text content: predefined entities and character references only.
/// `Err(Some(name))` for a reference to any other entity, `Err(None)` for a malformed one.
pub(crate) fn unescape(raw: &str) -> Result<Cow<'_, str>, Option<String>> {
    if !raw.contains('&') {
        return Ok(Cow::Borrowed(raw));
    }
    quick_xml::escape::unescape_with(raw, quick_xml::escape::resolve_xml_entity).map_err(
        |e| match e {
            quick_xml::escape::EscapeError::UnrecognizedEntity(_, name) => Some(name),
            _ => None,
        },
    )
}

/// Cuts `s` to at most 64 characters for use in error messages.
pub(crate) fn shorten(s: &str) -> String {
    match s.char_indices().nth(64) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_doctype_accepts_nmap_forms() {
        assert!(check_doctype(b" nmaprun").is_ok());
        assert!(check_doctype(b"nmaprun ").is_ok());
        assert!(
            check_doctype(
                br#" nmaprun PUBLIC "-//IDN nmap.org//DTD Nmap XML 1.04//EN" "https://svn.nmap.org/nmap/docs/nmap.dtd""#
            )
            .is_ok()
        );
    }

    #[test]
    fn check_doctype_refuses_when_not_nmaps() {
        for bad in [
            &b" html"[..],
            b" nmaprun [<!ENTITY x \"y\">]",
            b" nmaprun SYSTEM \"file:///etc/passwd\"",
            b" nmaprun PUBLIC \"-//IDN nmap.org//DTD Nmap XML 1.04//EN\" \"file:///etc/passwd\"",
            b" nmaprun PUBLIC \"-//W3C//DTD XHTML 1.0//EN\" \"https://svn.nmap.org/nmap/docs/nmap.dtd\"",
            b" nmaprun PUBLIC \"-//IDN nmap.org//DTD Nmap XML 1.04//EN\" \"https://svn.nmap.org/nmap/docs/nmap.dtd\" junk",
            b"",
        ] {
            assert!(check_doctype(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn unescape_resolves_only_predefined_and_char_refs() {
        assert_eq!(unescape("a&lt;b&#45;&#xa;").expect("valid"), "a<b-\n");
        assert_eq!(
            unescape("&nbsp;").expect_err("refused"),
            Some("nbsp".to_owned())
        );
        assert_eq!(unescape("&x;").expect_err("refused"), Some("x".to_owned()));
        assert_eq!(unescape("&#0;").expect_err("refused"), None);
        assert_eq!(unescape("&lt").expect_err("refused"), None);
    }

    #[test]
    fn shorten_cuts_long_text() {
        assert_eq!(shorten("abc"), "abc");
        assert_eq!(shorten(&"x".repeat(100)).chars().count(), 65);
    }
}
