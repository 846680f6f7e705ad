//! What needs an operator's attention in a scan's results: the finding codes and their
//! severities (stored as text; `as_str` / `parse` map both ways).

use crate::domain::facts::text_enum;

text_enum! {
    /// The stable code of a finding.
    FindingCode {
        PortUnexpected => "PORT_UNEXPECTED",
        PortMissing => "PORT_MISSING",
        PingMissing => "PING_MISSING",
        PingUnexpected => "PING_UNEXPECTED",
        CertExpired => "CERT_EXPIRED",
        CertExpiring => "CERT_EXPIRING",
        CertSelfSigned => "CERT_SELF_SIGNED",
        CertWeakKey => "CERT_WEAK_KEY",
        TlsOldVersion => "TLS_OLD_VERSION",
        TlsWeakCipher => "TLS_WEAK_CIPHER",
    }
}

text_enum! {
    /// How much something matters (findings now; change events and alerts in wave 2).
    Severity {
        Info => "info",
        Low => "low",
        Medium => "medium",
        High => "high",
    }
}
