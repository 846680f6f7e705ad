//! The API's enums for what is stored as text (port states, protocols, host statuses, TLS
//! grades, finding codes and severities, scan phases): each mirrors its domain type, so the
//! contract is typed end to end and the text mapping exists once (in `domain`).

use async_graphql::Enum;

use crate::domain;

/// The variant of a stored text, or `fallback` (logged: a stored text outside the domain's
/// set is a bug or a newer writer, never a reason to fail a whole answer).
pub fn typed<T: Copy>(text: &str, parse: fn(&str) -> Option<T>, fallback: T) -> T {
    parse(text).unwrap_or_else(|| {
        tracing::warn!(text, "unknown stored value; answered with a fallback");
        fallback
    })
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "domain::status::ScanPhase")]
pub enum ScanPhase {
    Queued,
    Starting,
    Ping,
    Tcp,
    Udp,
    Service,
    Http,
    Tls,
    Screenshot,
    /// An import's rows are being stored.
    Importing,
    /// Its chunks are running (a scan over many addresses runs as chunks, in parallel).
    Chunks,
    /// Results stored; findings and reports being written.
    Finishing,
    Done,
}

/// nmap's port states, and MISSING: declared open in the config but not seen open.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "domain::facts::PortState")]
pub enum PortState {
    Open,
    Closed,
    Filtered,
    Unfiltered,
    OpenFiltered,
    ClosedFiltered,
    Missing,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "domain::facts::Protocol")]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
    Ip,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "domain::facts::HostStatus")]
pub enum HostStatus {
    Up,
    Down,
    /// No discovery ran (e.g. `-Pn`), or the host was not reached.
    Unknown,
}

/// nmap `ssl-enum-ciphers`' least strength of a TLS version's ciphers (A best, F worst).
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "domain::facts::TlsGrade")]
pub enum TlsGrade {
    A,
    B,
    C,
    D,
    E,
    F,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "domain::findings::FindingCode")]
pub enum FindingCode {
    PortUnexpected,
    PortMissing,
    PingMissing,
    PingUnexpected,
    CertExpired,
    CertExpiring,
    CertSelfSigned,
    CertWeakKey,
    TlsOldVersion,
    TlsWeakCipher,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "domain::findings::Severity")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
}
