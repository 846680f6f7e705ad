//! TLS facts mapped onto the result model: certificates (read from their DER encoding, whether
//! nmap's `ssl-cert` PEM or the HTTP probe's peer certificate; nmap's own text fields when no
//! PEM came) and the offered protocol versions with their ciphers and grades
//! (`ssl-enum-ciphers`).

use base64::Engine;
use chrono::{DateTime, NaiveDateTime, Utc};
use nmap_parser::{Script, ScriptElem};
use sha2::{Digest, Sha256};

use crate::domain::tree::{NewCertificate, NewTlsVersion};

/// A DER certificate → its facts; `None` when it is not a readable X.509 certificate.
pub fn certificate_from_der(der: &[u8]) -> Option<NewCertificate> {
    use x509_parser::prelude::*;
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    let time = |t: ASN1Time| DateTime::from_timestamp(t.timestamp(), 0);
    let sans = cert
        .subject_alternative_name()
        .ok()
        .flatten()
        .map(|ext| {
            ext.value
                .general_names
                .iter()
                .map(|name| match name {
                    GeneralName::DNSName(d) => format!("DNS:{d}"),
                    GeneralName::IPAddress(bytes) => match bytes.len() {
                        4 => <[u8; 4]>::try_from(*bytes)
                            .map(|b| format!("IP:{}", std::net::Ipv4Addr::from(b)))
                            .unwrap_or_default(),
                        16 => <[u8; 16]>::try_from(*bytes)
                            .map(|b| format!("IP:{}", std::net::Ipv6Addr::from(b)))
                            .unwrap_or_default(),
                        _ => format!("IP:{}", hex::encode(bytes)),
                    },
                    GeneralName::RFC822Name(m) => format!("email:{m}"),
                    GeneralName::URI(u) => format!("URI:{u}"),
                    other => format!("{other:?}"),
                })
                .collect()
        })
        .unwrap_or_default();
    let (key_type, key_bits) = match cert.public_key().parsed() {
        Ok(x509_parser::public_key::PublicKey::RSA(rsa)) => {
            (Some("rsa"), i32::try_from(rsa.key_size()).ok())
        }
        Ok(x509_parser::public_key::PublicKey::EC(ec)) => {
            (Some("ec"), i32::try_from(ec.key_size()).ok())
        }
        Ok(x509_parser::public_key::PublicKey::DSA(_)) => (Some("dsa"), None),
        _ => (None, None),
    };
    let subject = cert.subject().to_string();
    let issuer = cert.issuer().to_string();
    let signature_algorithm = x509_parser::objects::oid2sn(
        &cert.signature_algorithm.algorithm,
        x509_parser::objects::oid_registry(),
    )
    .map(str::to_owned)
    .unwrap_or_else(|_| cert.signature_algorithm.algorithm.to_id_string());
    Some(NewCertificate {
        self_signed: cert.subject().as_raw() == cert.issuer().as_raw(),
        subject,
        issuer,
        sans,
        not_before: time(cert.validity().not_before),
        not_after: time(cert.validity().not_after),
        serial: Some(hex::encode(cert.tbs_certificate.raw_serial())),
        sha256_fingerprint: Some(hex::encode(Sha256::digest(der))),
        key_type: key_type.map(str::to_owned),
        key_bits,
        signature_algorithm: Some(signature_algorithm),
        pem: Some(der_to_pem(der)),
    })
}

fn der_to_pem(der: &[u8]) -> String {
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in body.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE-----\n");
    pem
}

/// `ssl-cert` → certificate: from its PEM when present, else from nmap's fields. `None` when
/// the script has no structured output.
pub fn certificate(script: &Script) -> Option<NewCertificate> {
    if let Some(cert) = script
        .value(&["pem"])
        .and_then(pem_to_der)
        .and_then(|der| certificate_from_der(&der))
    {
        return Some(cert);
    }
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
        pem: pem.map(str::to_owned),
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
        assert_eq!(cert.subject, "CN=expired.probe.local");
        assert_eq!(cert.serial.as_deref(), Some("04d2"));
        assert_eq!(
            cert.signature_algorithm.as_deref(),
            Some("sha256WithRSAEncryption")
        );
        assert!(cert.self_signed);
        assert_eq!(cert.key_type.as_deref(), Some("rsa"));
        assert_eq!(cert.key_bits, Some(1024));
        assert_eq!(cert.sans, ["DNS:expired.probe.local", "IP:127.0.0.4"]);
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
