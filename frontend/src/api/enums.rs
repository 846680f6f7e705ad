//! The schema's enums for what scans observe (phases, port states, protocols, host statuses,
//! TLS grades, finding codes and severities), shared by every operation (`extern_enums`):
//! the wire name (SCREAMING_SNAKE) and the word the pages show.

use serde::Deserialize;

macro_rules! api_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => ($wire:literal, $label:literal)),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
        pub enum $name {
            $(#[serde(rename = $wire)] $variant),+
        }

        impl $name {
            /// The word shown on pages (and used in CSS classes).
            pub fn label(self) -> &'static str {
                match self {
                    $($name::$variant => $label),+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.label())
            }
        }
    };
}

api_enum! {
    /// `enum ScanPhase`.
    ScanPhase {
        Queued => ("QUEUED", "queued"),
        Starting => ("STARTING", "starting"),
        Ping => ("PING", "ping"),
        Tcp => ("TCP", "tcp"),
        Udp => ("UDP", "udp"),
        Service => ("SERVICE", "service"),
        Http => ("HTTP", "http"),
        Tls => ("TLS", "tls"),
        Screenshot => ("SCREENSHOT", "screenshot"),
        Importing => ("IMPORTING", "importing"),
        Chunks => ("CHUNKS", "running in chunks"),
        Finishing => ("FINISHING", "finishing"),
        Done => ("DONE", "done"),
    }
}

api_enum! {
    /// `enum PortState`.
    PortState {
        Open => ("OPEN", "open"),
        Closed => ("CLOSED", "closed"),
        Filtered => ("FILTERED", "filtered"),
        Unfiltered => ("UNFILTERED", "unfiltered"),
        OpenFiltered => ("OPEN_FILTERED", "open|filtered"),
        ClosedFiltered => ("CLOSED_FILTERED", "closed|filtered"),
        Missing => ("MISSING", "missing"),
    }
}

api_enum! {
    /// `enum Protocol`.
    Protocol {
        Tcp => ("TCP", "tcp"),
        Udp => ("UDP", "udp"),
        Sctp => ("SCTP", "sctp"),
        Ip => ("IP", "ip"),
    }
}

api_enum! {
    /// `enum HostStatus`.
    HostStatus {
        Up => ("UP", "up"),
        Down => ("DOWN", "down"),
        Unknown => ("UNKNOWN", "unknown"),
    }
}

api_enum! {
    /// `enum TlsGrade`.
    TlsGrade {
        A => ("A", "A"),
        B => ("B", "B"),
        C => ("C", "C"),
        D => ("D", "D"),
        E => ("E", "E"),
        F => ("F", "F"),
    }
}

api_enum! {
    /// `enum FindingCode`.
    FindingCode {
        PortUnexpected => ("PORT_UNEXPECTED", "PORT_UNEXPECTED"),
        PortMissing => ("PORT_MISSING", "PORT_MISSING"),
        PingMissing => ("PING_MISSING", "PING_MISSING"),
        PingUnexpected => ("PING_UNEXPECTED", "PING_UNEXPECTED"),
        CertExpired => ("CERT_EXPIRED", "CERT_EXPIRED"),
        CertExpiring => ("CERT_EXPIRING", "CERT_EXPIRING"),
        CertSelfSigned => ("CERT_SELF_SIGNED", "CERT_SELF_SIGNED"),
        CertWeakKey => ("CERT_WEAK_KEY", "CERT_WEAK_KEY"),
        TlsOldVersion => ("TLS_OLD_VERSION", "TLS_OLD_VERSION"),
        TlsWeakCipher => ("TLS_WEAK_CIPHER", "TLS_WEAK_CIPHER"),
    }
}

api_enum! {
    /// `enum Severity`.
    Severity {
        Info => ("INFO", "info"),
        Low => ("LOW", "low"),
        Medium => ("MEDIUM", "medium"),
        High => ("HIGH", "high"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_decode_to_their_labels() {
        let state: PortState = serde_json::from_str("\"OPEN_FILTERED\"").expect("decodes");
        assert_eq!(state.label(), "open|filtered");
        let phase: ScanPhase = serde_json::from_str("\"FINISHING\"").expect("decodes");
        assert_eq!(phase.label(), "finishing");
        assert!(serde_json::from_str::<Severity>("\"medium\"").is_err());
    }
}
