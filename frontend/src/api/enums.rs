//! The schema's enums for what scans observe (phases, port states, protocols, host statuses,
//! TLS grades, finding codes and severities), shared by every operation (`extern_enums`):
//! the wire name (SCREAMING_SNAKE) and the word the pages show.

use serde::{Deserialize, Serialize};

macro_rules! api_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => ($wire:literal, $label:literal)),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
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

            /// The schema's name (`RUN_ONCE`).
            #[allow(dead_code)]
            pub fn wire(self) -> &'static str {
                match self {
                    $($name::$variant => $wire),+
                }
            }

            /// From the schema's name.
            pub fn from_wire(name: &str) -> Option<Self> {
                match name {
                    $($wire => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        /// By the schema's name (one `match` instead of serde's enum machinery).
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let name = String::deserialize(d)?;
                Self::from_wire(&name)
                    .ok_or_else(|| serde::de::Error::custom("unknown enum value"))
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

api_enum! {
    /// `enum ChangeKind` (DESIGN §13).
    ChangeKind {
        HostNew => ("HOST_NEW", "new host"),
        HostUp => ("HOST_UP", "host up"),
        HostDown => ("HOST_DOWN", "host down"),
        HostnameChanged => ("HOSTNAME_CHANGED", "hostname changed"),
        PortOpened => ("PORT_OPENED", "port opened"),
        PortClosed => ("PORT_CLOSED", "port closed"),
        PortStateChanged => ("PORT_STATE_CHANGED", "port state changed"),
        ServiceChanged => ("SERVICE_CHANGED", "service changed"),
        ScriptChanged => ("SCRIPT_CHANGED", "script output changed"),
        HttpChanged => ("HTTP_CHANGED", "HTTP changed"),
        CertChanged => ("CERT_CHANGED", "certificate changed"),
        CertExpiring => ("CERT_EXPIRING", "certificate expiring"),
        CertExpired => ("CERT_EXPIRED", "certificate expired"),
        TlsVersionAdded => ("TLS_VERSION_ADDED", "TLS version added"),
        TlsVersionRemoved => ("TLS_VERSION_REMOVED", "TLS version removed"),
        UnexpectedPort => ("UNEXPECTED_PORT", "unexpected port"),
        ExpectedPortMissing => ("EXPECTED_PORT_MISSING", "expected port missing"),
        PingMismatch => ("PING_MISMATCH", "ping mismatch"),
        DriftResolved => ("DRIFT_RESOLVED", "drift resolved"),
        ScanCompleted => ("SCAN_COMPLETED", "scan completed"),
        ScanFailed => ("SCAN_FAILED", "scan failed"),
        ScheduleMissed => ("SCHEDULE_MISSED", "schedule missed"),
        AgentOffline => ("AGENT_OFFLINE", "agent offline"),
        AgentOnline => ("AGENT_ONLINE", "agent online"),
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

api_enum! {
    /// `enum OverlapPolicy`: while a schedule's last scan still runs.
    OverlapPolicy {
        Forbid => ("FORBID", "skip the run"),
        Allow => ("ALLOW", "run beside it"),
        Replace => ("REPLACE", "cancel it and run"),
    }
}

api_enum! {
    /// `enum MisfirePolicy`: runs missed while no server ran.
    MisfirePolicy {
        Skip => ("SKIP", "record them missed"),
        RunOnce => ("RUN_ONCE", "catch up the latest once"),
    }
}

api_enum! {
    /// `enum ScheduleRunOutcome`.
    ScheduleRunOutcome {
        Started => ("STARTED", "started"),
        SkippedOverlap => ("SKIPPED_OVERLAP", "skipped: still running"),
        Missed => ("MISSED", "missed"),
    }
}

api_enum! {
    /// `enum ChannelKind`: where a notification channel sends.
    ChannelKind {
        Webhook => ("WEBHOOK", "webhook"),
        Slack => ("SLACK", "Slack"),
        Email => ("EMAIL", "email"),
    }
}

api_enum! {
    /// `enum ViewPage`: the list a saved view is for (the label is its path).
    ViewPage {
        Hosts => ("HOSTS", "hosts"),
        Changes => ("CHANGES", "changes"),
        Certificates => ("CERTIFICATES", "certificates"),
        Scans => ("SCANS", "scans"),
    }
}
