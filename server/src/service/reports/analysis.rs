//! Findings: what an operator should look at, computed from a scan's results — ports against
//! the config (unexpected, missing, ping), certificates (expired, expiring, self-signed, weak
//! RSA key) and TLS (1.0/1.1 or SSL enabled, weak cipher grade).

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::model::{CertificatePart, IpPart, PortPart, SitePart};
use crate::domain::facts::TlsGrade;
use crate::domain::findings::{FindingCode, Severity};

/// Smallest RSA key not reported as weak.
const MIN_RSA_BITS: i32 = 2048;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Stable code, e.g. `CERT_EXPIRED`.
    pub code: FindingCode,
    pub severity: Severity,
    pub site: String,
    pub address: String,
    pub port: Option<u16>,
    pub protocol: Option<String>,
    pub message: String,
}

/// The findings of whole sites.
pub fn findings(sites: &[SitePart], now: DateTime<Utc>, expiry_days: i64) -> Vec<Finding> {
    let mut out = Vec::new();
    for site in sites {
        for ip in &site.ips {
            ip_findings(&site.name, ip, now, expiry_days, &mut out);
        }
    }
    out
}

/// The findings of one address of `site`, appended to `out`.
pub fn ip_findings(
    site: &str,
    ip: &IpPart,
    now: DateTime<Utc>,
    expiry_days: i64,
    out: &mut Vec<Finding>,
) {
    let mut add = |code, severity, port: Option<&PortPart>, message: String| {
        out.push(Finding {
            code,
            severity,
            site: site.to_owned(),
            address: ip.address.clone(),
            port: port.map(|p| p.port),
            protocol: port.map(|p| p.protocol.clone()),
            message,
        });
    };
    ping(ip, &mut add);
    for p in &ip.ports {
        let at = format!("{}/{}", p.port, p.protocol);
        if p.unexpected {
            add(
                FindingCode::PortUnexpected,
                Severity::Medium,
                Some(p),
                format!("{at} is open but not in the config"),
            );
        }
        if p.missing {
            add(
                FindingCode::PortMissing,
                Severity::Medium,
                Some(p),
                format!("{at} is expected open but was not found open"),
            );
        }
        let Some(s) = &p.service else { continue };
        if let Some(c) = &s.certificate {
            for (code, severity, message) in certificate(c, now, expiry_days) {
                add(code, severity, Some(p), format!("{at}: {message}"));
            }
        }
        for t in &s.tls_versions {
            if matches!(t.version.as_str(), "TLSv1.0" | "TLSv1.1") || t.version.starts_with("SSL") {
                add(
                    FindingCode::TlsOldVersion,
                    Severity::High,
                    Some(p),
                    format!("{at}: {} is enabled", t.version),
                );
            }
            if let Some(g) = t
                .grade
                .as_deref()
                .and_then(TlsGrade::parse)
                .filter(|g| g.is_weak())
            {
                add(
                    FindingCode::TlsWeakCipher,
                    Severity::Medium,
                    Some(p),
                    format!("{at}: {} offers ciphers graded {g}", t.version),
                );
            }
        }
    }
}

fn ping(ip: &IpPart, add: &mut impl FnMut(FindingCode, Severity, Option<&PortPart>, String)) {
    match (ip.expected.ping, ip.actual.ping) {
        (Some(true), Some(false)) => add(
            FindingCode::PingMissing,
            Severity::Low,
            None,
            "expected to answer ping but did not".into(),
        ),
        (Some(false), Some(true)) => add(
            FindingCode::PingUnexpected,
            Severity::Low,
            None,
            "answers ping but is not expected to".into(),
        ),
        _ => {}
    }
}

/// Certificate findings: (code, severity, message).
pub fn certificate(
    c: &CertificatePart,
    now: DateTime<Utc>,
    expiry_days: i64,
) -> Vec<(FindingCode, Severity, String)> {
    let mut out = Vec::new();
    if let Some(end) = c.not_after {
        if end < now {
            out.push((
                FindingCode::CertExpired,
                Severity::High,
                format!("certificate expired on {}", end.format("%Y-%m-%d")),
            ));
        } else if end < now + Duration::days(expiry_days) {
            out.push((
                FindingCode::CertExpiring,
                Severity::Medium,
                format!(
                    "certificate expires on {} (within {expiry_days} days)",
                    end.format("%Y-%m-%d")
                ),
            ));
        }
    }
    if c.self_signed {
        out.push((
            FindingCode::CertSelfSigned,
            Severity::Medium,
            format!("self-signed certificate ({})", c.subject),
        ));
    }
    if c.key_type.as_deref() == Some("rsa") && c.key_bits.is_some_and(|b| b < MIN_RSA_BITS) {
        out.push((
            FindingCode::CertWeakKey,
            Severity::High,
            format!(
                "RSA key of {} bits (below {MIN_RSA_BITS})",
                c.key_bits.unwrap_or_default()
            ),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert(days_left: i64, bits: i32, self_signed: bool) -> CertificatePart {
        CertificatePart {
            subject: "CN=x".into(),
            issuer: "CN=x".into(),
            sans: vec![],
            not_before: None,
            not_after: Some(Utc::now() + Duration::days(days_left)),
            serial: None,
            sha256_fingerprint: None,
            key_type: Some("rsa".into()),
            key_bits: Some(bits),
            signature_algorithm: None,
            self_signed,
        }
    }

    fn codes(c: &CertificatePart) -> Vec<&'static str> {
        certificate(c, Utc::now(), 30)
            .into_iter()
            .map(|f| f.0.as_str())
            .collect()
    }

    #[test]
    fn certificate_findings() {
        assert_eq!(
            codes(&cert(-1, 1024, true)),
            ["CERT_EXPIRED", "CERT_SELF_SIGNED", "CERT_WEAK_KEY"]
        );
        assert_eq!(codes(&cert(10, 2048, false)), ["CERT_EXPIRING"]);
        assert!(codes(&cert(90, 4096, false)).is_empty());
    }
}
