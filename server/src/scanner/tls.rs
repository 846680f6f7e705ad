//! TLS facts from nmap's NSE output: the certificate (`ssl-cert`) and the offered protocol
//! versions with their ciphers and grades (`ssl-enum-ciphers`), mapped onto the result model.

use base64::Engine;
use chrono::{DateTime, NaiveDateTime, Utc};
use nmap_parser::{Script, ScriptElem};
use sha2::{Digest, Sha256};

use crate::service::results::{NewCertificate, NewTlsVersion};

/// `ssl-cert` → certificate. `None` when the script has no structured output.
pub fn certificate(script: &Script) -> Option<NewCertificate> {
    let subject = distinguished_name(script.find(&["subject"])?);
    let issuer = script
        .find(&["issuer"])
        .map(distinguished_name)
        .unwrap_or_default();
    let sans = script
        .table(&["extensions"])
        .unwrap_or_default()
        .iter()
        .filter(|ext| {
            ext.get("name").and_then(ScriptElem::value) == Some("X509v3 Subject Alternative Name")
        })
        .filter_map(|ext| ext.get("value").and_then(ScriptElem::value))
        .flat_map(|v| v.split(',').map(|s| s.trim().to_owned()))
        .filter(|s| !s.is_empty())
        .collect();
    let pem = script.value(&["pem"]);
    let der = pem.and_then(pem_to_der);
    Some(NewCertificate {
        self_signed: !subject.is_empty() && subject == issuer,
        subject,
        issuer,
        sans,
        not_before: script.value(&["validity", "notBefore"]).and_then(nmap_time),
        not_after: script.value(&["validity", "notAfter"]).and_then(nmap_time),
        serial: None,
        sha256_fingerprint: der.as_deref().map(|d| hex::encode(Sha256::digest(d))),
        key_type: script.value(&["pubkey", "type"]).map(str::to_owned),
        key_bits: script
            .value(&["pubkey", "bits"])
            .and_then(|b| b.trim().parse().ok()),
        signature_algorithm: script.value(&["sig_algo"]).map(str::to_owned),
    })
}

/// `ssl-enum-ciphers` → one entry per protocol version; its grade is its weakest cipher's.
pub fn tls_versions(script: &Script) -> Vec<NewTlsVersion> {
    script
        .elements
        .iter()
        .filter_map(|node| {
            let version = node.key()?;
            if !(version.starts_with("TLS") || version.starts_with("SSL")) {
                return None;
            }
            let ciphers: Vec<&ScriptElem> = node
                .get("ciphers")
                .map(|c| c.children().iter().collect())
                .unwrap_or_default();
            let grade = ciphers
                .iter()
                .filter_map(|c| c.get("strength").and_then(ScriptElem::value))
                .max_by_key(|g| g.trim().to_owned())
                .map(str::to_owned);
            Some(NewTlsVersion {
                version: version.to_owned(),
                ciphers: ciphers
                    .iter()
                    .filter_map(|c| c.get("name").and_then(ScriptElem::value))
                    .map(str::to_owned)
                    .collect(),
                grade,
            })
        })
        .collect()
}

/// `commonName=x, organizationName=y` style, in nmap's order.
fn distinguished_name(node: &ScriptElem) -> String {
    node.children()
        .iter()
        .filter_map(|c| Some(format!("{}={}", c.key()?, c.value()?)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// nmap prints certificate times as `2025-11-27T00:00:00` (UTC, sometimes with a zone).
fn nmap_time(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S")
                .ok()
                .map(|t| t.and_utc())
        })
}

fn pem_to_der(pem: &str) -> Option<Vec<u8>> {
    let body: String = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .flat_map(|l| l.trim().chars())
        .collect();
    base64::engine::general_purpose::STANDARD.decode(body).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn port_scripts(xml: &str, id: &str) -> Script {
        let run = nmap_parser::parse_str(xml).expect("sample parses");
        run.hosts
            .iter()
            .flat_map(|h| &h.ports)
            .find_map(|p| p.script(id).cloned())
            .expect("script present")
    }

    #[test]
    fn weak_sample_certificate_fields() {
        let xml = include_str!("../../../nmap-parser/tests/data/nmap_ssl_weak_tls10_expired.xml");
        let cert = certificate(&port_scripts(xml, "ssl-cert")).expect("certificate");
        assert_eq!(cert.subject, "commonName=expired.probe.local");
        assert!(cert.self_signed);
        assert_eq!(cert.key_type.as_deref(), Some("rsa"));
        assert_eq!(cert.key_bits, Some(1024));
        assert_eq!(
            cert.sans,
            ["DNS:expired.probe.local", "IP Address:127.0.0.4"]
        );
        assert_eq!(
            cert.not_after.map(|t| t.to_rfc3339()),
            Some("2025-11-27T00:00:00+00:00".to_owned())
        );
        assert_eq!(cert.sha256_fingerprint.as_ref().map(String::len), Some(64));
    }

    #[test]
    fn weak_sample_tls_versions_and_grades() {
        let xml = include_str!("../../../nmap-parser/tests/data/nmap_ssl_weak_tls10_expired.xml");
        let versions = tls_versions(&port_scripts(xml, "ssl-enum-ciphers"));
        let v10 = versions
            .iter()
            .find(|v| v.version == "TLSv1.0")
            .expect("TLS 1.0");
        assert_eq!(v10.grade.as_deref(), Some("F"));
        assert!(
            v10.ciphers
                .contains(&"TLS_RSA_WITH_AES_128_CBC_SHA".to_owned())
        );
    }
}
