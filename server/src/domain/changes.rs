//! What changed on a host between two observations of it (issue 13, first piece: the rules,
//! no storage yet). A host is identified by (site, address); an observation is what one scan
//! saw of it, with **coverage**: the ports that scan probed. The rules:
//!
//! - a port the head scan did not probe is unknown there, never "closed";
//! - a host that is down in the head scan closes no port (HOST_DOWN only); a host that comes
//!   back up is HOST_UP, and its ports are compared with the base's ports, which the caller
//!   gives as the last observation of the host up (a down observation says nothing of ports);
//! - a port open in the head and not open in the base is PORT_OPENED (also when the base did
//!   not probe it: it was not known open); open in the base, probed and not open in the head
//!   (host up) is PORT_CLOSED; two other states that differ are PORT_STATE_CHANGED;
//! - on a port open in both: SERVICE_CHANGED (name, product, version, extra info — nmap
//!   ndiff's service fields), SCRIPT_CHANGED (script outputs, volatile scripts ignored),
//!   HTTP_CHANGED (status, title, server), CERT_CHANGED (SHA-256 fingerprint),
//!   TLS_VERSION_ADDED / TLS_VERSION_REMOVED (one per version).
//!
//! Names are DESIGN §13's `ChangeKind`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use super::facts::text_enum;
use super::findings::Severity;
use super::ports::PortList;

text_enum! {
    /// A typed change (DESIGN §13).
    ChangeKind {
        HostNew => "HOST_NEW",
        HostUp => "HOST_UP",
        HostDown => "HOST_DOWN",
        HostnameChanged => "HOSTNAME_CHANGED",
        PortOpened => "PORT_OPENED",
        PortClosed => "PORT_CLOSED",
        PortStateChanged => "PORT_STATE_CHANGED",
        ServiceChanged => "SERVICE_CHANGED",
        ScriptChanged => "SCRIPT_CHANGED",
        HttpChanged => "HTTP_CHANGED",
        CertChanged => "CERT_CHANGED",
        CertExpiring => "CERT_EXPIRING",
        CertExpired => "CERT_EXPIRED",
        TlsVersionAdded => "TLS_VERSION_ADDED",
        TlsVersionRemoved => "TLS_VERSION_REMOVED",
        UnexpectedPort => "UNEXPECTED_PORT",
        ExpectedPortMissing => "EXPECTED_PORT_MISSING",
        PingMismatch => "PING_MISMATCH",
        DriftResolved => "DRIFT_RESOLVED",
        ScanCompleted => "SCAN_COMPLETED",
        ScanFailed => "SCAN_FAILED",
        ScheduleMissed => "SCHEDULE_MISSED",
        AgentOffline => "AGENT_OFFLINE",
        AgentOnline => "AGENT_ONLINE",
    }
}

impl ChangeKind {
    /// How much a change of this kind usually matters (alert rules filter on it).
    pub fn severity(self) -> Severity {
        use ChangeKind as K;
        match self {
            K::PortOpened | K::HostNew | K::CertChanged | K::UnexpectedPort | K::CertExpired => {
                Severity::High
            }
            K::PortClosed
            | K::HostDown
            | K::ServiceChanged
            | K::TlsVersionAdded
            | K::ExpectedPortMissing
            | K::PingMismatch
            | K::CertExpiring
            | K::ScanFailed
            | K::ScheduleMissed
            | K::AgentOffline => Severity::Medium,
            K::PortStateChanged | K::TlsVersionRemoved | K::HttpChanged | K::HostnameChanged => {
                Severity::Low
            }
            K::HostUp | K::ScriptChanged | K::DriftResolved | K::ScanCompleted | K::AgentOnline => {
                Severity::Info
            }
        }
    }
}

/// Script outputs that differ from run to run without anything changing (ignored).
pub const VOLATILE_SCRIPTS: &[&str] = &["clock-skew", "ssh-hostkey-time", "ntp-info", "http-date"];

/// The ports a scan probed, per protocol (`None`: that protocol was not probed). Stored and
/// sent as `{"tcp": "1-1000", "udp": null}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Coverage {
    #[serde(default, with = "port_list_text")]
    pub tcp: Option<PortList>,
    #[serde(default, with = "port_list_text")]
    pub udp: Option<PortList>,
}

/// A port list as its text (`1-1000,8080`).
mod port_list_text {
    use serde::{Deserialize, Deserializer, Serializer};

    use super::PortList;

    #[allow(clippy::ref_option)]
    pub fn serialize<S: Serializer>(list: &Option<PortList>, s: S) -> Result<S::Ok, S::Error> {
        match list {
            Some(l) => s.serialize_some(&l.to_string()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<PortList>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|t| PortList::parse(&t).map_err(serde::de::Error::custom))
            .transpose()
    }
}

impl Coverage {
    /// Adds what one `<scaninfo>` of nmap says it probed (`protocol` `tcp`/`udp`, `services`
    /// in nmap's compact form, e.g. `1,3-4,6-7`): the union with what is there. Other
    /// protocols are ignored; a list that is not a port list is refused.
    pub fn add(&mut self, protocol: &str, services: &str) -> Result<(), String> {
        let slot = match protocol {
            "tcp" => &mut self.tcp,
            "udp" => &mut self.udp,
            _ => return Ok(()),
        };
        let list = PortList::parse(services)?;
        *slot = Some(match slot.take() {
            Some(had) => had.union(&list),
            None => list,
        });
        Ok(())
    }

    /// Adds what another scan probed (a chunk's, to its scan's).
    pub fn union(&mut self, other: &Coverage) {
        for (mine, theirs) in [(&mut self.tcp, &other.tcp), (&mut self.udp, &other.udp)] {
            if let Some(theirs) = theirs {
                *mine = Some(match mine.take() {
                    Some(had) => had.union(theirs),
                    None => theirs.clone(),
                });
            }
        }
    }

    pub fn covers(&self, protocol: &str, port: u16) -> bool {
        let list = match protocol {
            "tcp" => &self.tcp,
            "udp" => &self.udp,
            _ => return false,
        };
        list.as_ref().is_some_and(|l| {
            l.ranges()
                .iter()
                .any(|&(from, to)| (from..=to).contains(&port))
        })
    }
}

/// What a scan saw of a service on an open port.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ServiceFacts {
    pub name: Option<String>,
    pub product: Option<String>,
    pub version: Option<String>,
    pub extra_info: Option<String>,
    pub scripts: BTreeMap<String, String>,
    pub http_status: Option<i32>,
    pub http_title: Option<String>,
    pub http_server: Option<String>,
    pub cert_sha256: Option<String>,
    pub tls_versions: BTreeSet<String>,
}

/// What a scan saw on one port.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct PortFacts {
    /// nmap's state: `open`, `closed`, `filtered`, …
    pub state: String,
    pub service: ServiceFacts,
}

/// What one scan saw of one host, and what it probed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostObservation {
    pub hostname: Option<String>,
    /// `Some(true)` up, `Some(false)` down, `None` not known (no discovery).
    pub up: Option<bool>,
    /// By (protocol, port).
    pub ports: BTreeMap<(String, u16), PortFacts>,
    pub coverage: Coverage,
}

impl HostObservation {
    /// A fingerprint of what was seen (hostname, state, every port's facts; not the scan's
    /// coverage): two observations with equal digests have no change between them, whatever
    /// the coverage (`diff_host` finds changes only between differing port maps or states).
    /// Stored per scan so that a diff reads only the hosts whose digests differ. A digest
    /// computed by another build may differ for equal content: that only makes a diff read
    /// more.
    pub fn digest(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.hostname.hash(&mut h);
        self.up.hash(&mut h);
        self.ports.hash(&mut h);
        h.finish()
    }

    /// Up as discovery said, or (no discovery) when a port is open.
    pub fn is_up(&self) -> bool {
        self.up
            .unwrap_or_else(|| self.ports.values().any(|p| p.state == "open"))
    }
}

/// One change on a host: its kind, the port it is about (if any) and the facts before/after.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub kind: ChangeKind,
    pub port: Option<(String, u16)>,
    pub before: Value,
    pub after: Value,
}

impl Change {
    fn of(kind: ChangeKind, port: Option<&(String, u16)>, before: Value, after: Value) -> Self {
        Self {
            kind,
            port: port.cloned(),
            before,
            after,
        }
    }
}

fn is_open(p: Option<&PortFacts>) -> bool {
    p.is_some_and(|p| p.state == "open")
}

/// The changes from `base` (the previous observation of the host; `None`: never seen) to
/// `head`, in a stable order: host, then ports in (protocol, port) order.
pub fn diff_host(base: Option<&HostObservation>, head: &HostObservation) -> Vec<Change> {
    let mut out = Vec::new();
    let head_up = head.is_up();
    let Some(base) = base else {
        if head_up {
            out.push(Change::of(
                ChangeKind::HostNew,
                None,
                Value::Null,
                json!({ "hostname": head.hostname }),
            ));
            for (key, port) in head.ports.iter().filter(|(_, p)| p.state == "open") {
                out.push(Change::of(
                    ChangeKind::PortOpened,
                    Some(key),
                    Value::Null,
                    port_json(port),
                ));
            }
        }
        return out;
    };
    let base_up = base.is_up();
    match (base_up, head.up) {
        (true, Some(false)) => {
            out.push(Change::of(
                ChangeKind::HostDown,
                None,
                json!("up"),
                json!("down"),
            ));
            // A down host closes no port.
            return out;
        }
        (false, _) if head_up => {
            out.push(Change::of(
                ChangeKind::HostUp,
                None,
                json!("down"),
                json!("up"),
            ));
            // A down observation says nothing of ports: the base's ports are the last
            // observation of the host up (the caller's port baseline).
        }
        _ => {}
    }
    if let (Some(before), Some(after)) = (&base.hostname, &head.hostname)
        && before != after
    {
        out.push(Change::of(
            ChangeKind::HostnameChanged,
            None,
            json!(before),
            json!(after),
        ));
    }
    let keys: BTreeSet<&(String, u16)> = base.ports.keys().chain(head.ports.keys()).collect();
    for key in keys {
        let (b, h) = (base.ports.get(key), head.ports.get(key));
        match (is_open(b), is_open(h)) {
            (false, true) => out.push(Change::of(
                ChangeKind::PortOpened,
                Some(key),
                b.map_or(Value::Null, port_json),
                h.map_or(Value::Null, port_json),
            )),
            (true, false) if head_up && head.coverage.covers(&key.0, key.1) => {
                out.push(Change::of(
                    ChangeKind::PortClosed,
                    Some(key),
                    b.map_or(Value::Null, port_json),
                    json!({ "state": h.map_or("closed", |h| h.state.as_str()) }),
                ))
            }
            (true, true) => {
                if let (Some(b), Some(h)) = (b, h) {
                    service_changes(key, &b.service, &h.service, &mut out);
                }
            }
            (false, false) => {
                if let (Some(b), Some(h)) = (b, h)
                    && b.state != h.state
                {
                    out.push(Change::of(
                        ChangeKind::PortStateChanged,
                        Some(key),
                        json!(b.state),
                        json!(h.state),
                    ));
                }
            }
            (true, false) => {}
        }
    }
    out
}

fn port_json(p: &PortFacts) -> Value {
    json!({
        "state": p.state,
        "name": p.service.name,
        "product": p.service.product,
        "version": p.service.version,
    })
}

fn service_changes(key: &(String, u16), b: &ServiceFacts, h: &ServiceFacts, out: &mut Vec<Change>) {
    let service = |s: &ServiceFacts| json!({ "name": s.name, "product": s.product, "version": s.version, "extraInfo": s.extra_info });
    if (&b.name, &b.product, &b.version, &b.extra_info)
        != (&h.name, &h.product, &h.version, &h.extra_info)
    {
        out.push(Change::of(
            ChangeKind::ServiceChanged,
            Some(key),
            service(b),
            service(h),
        ));
    }
    let scripts = |s: &ServiceFacts| -> BTreeMap<String, String> {
        s.scripts
            .iter()
            .filter(|(id, _)| !VOLATILE_SCRIPTS.contains(&id.as_str()))
            .map(|(id, out)| (id.clone(), out.clone()))
            .collect()
    };
    let (bs, hs) = (scripts(b), scripts(h));
    if bs != hs {
        out.push(Change::of(
            ChangeKind::ScriptChanged,
            Some(key),
            json!(bs),
            json!(hs),
        ));
    }
    let http = |s: &ServiceFacts| json!({ "status": s.http_status, "title": s.http_title, "server": s.http_server });
    if (b.http_status, &b.http_title, &b.http_server)
        != (h.http_status, &h.http_title, &h.http_server)
    {
        out.push(Change::of(
            ChangeKind::HttpChanged,
            Some(key),
            http(b),
            http(h),
        ));
    }
    if b.cert_sha256 != h.cert_sha256 && (b.cert_sha256.is_some() || h.cert_sha256.is_some()) {
        out.push(Change::of(
            ChangeKind::CertChanged,
            Some(key),
            json!(b.cert_sha256),
            json!(h.cert_sha256),
        ));
    }
    for added in h.tls_versions.difference(&b.tls_versions) {
        out.push(Change::of(
            ChangeKind::TlsVersionAdded,
            Some(key),
            Value::Null,
            json!(added),
        ));
    }
    for removed in b.tls_versions.difference(&h.tls_versions) {
        out.push(Change::of(
            ChangeKind::TlsVersionRemoved,
            Some(key),
            json!(removed),
            Value::Null,
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn coverage(tcp: &str) -> Coverage {
        Coverage {
            tcp: Some(PortList::parse(tcp).expect("ports")),
            udp: None,
        }
    }

    fn port(state: &str) -> PortFacts {
        PortFacts {
            state: state.to_owned(),
            service: ServiceFacts::default(),
        }
    }

    fn host(up: bool, ports: &[(u16, PortFacts)], probed: &str) -> HostObservation {
        HostObservation {
            hostname: None,
            up: Some(up),
            ports: ports
                .iter()
                .map(|(p, f)| (("tcp".to_owned(), *p), f.clone()))
                .collect(),
            coverage: coverage(probed),
        }
    }

    fn kinds(changes: &[Change]) -> Vec<(ChangeKind, Option<u16>)> {
        changes
            .iter()
            .map(|c| (c.kind, c.port.as_ref().map(|p| p.1)))
            .collect()
    }

    #[test]
    fn opened_and_closed_ports_of_a_host_that_is_up() {
        let base = host(true, &[(22, port("open")), (80, port("open"))], "1-1000");
        let head = host(true, &[(22, port("open")), (443, port("open"))], "1-1000");
        assert_eq!(
            kinds(&diff_host(Some(&base), &head)),
            [
                (ChangeKind::PortClosed, Some(80)),
                (ChangeKind::PortOpened, Some(443))
            ]
        );
        assert_eq!(
            diff_host(Some(&base), &base),
            [],
            "the same observation changes nothing"
        );
    }

    #[test]
    fn a_port_not_probed_is_unknown_never_closed() {
        let base = host(true, &[(22, port("open")), (8080, port("open"))], "1-10000");
        // The head scan probed 1-1000 only: 8080 is unknown, not closed.
        let head = host(true, &[(22, port("open"))], "1-1000");
        assert_eq!(diff_host(Some(&base), &head), []);
    }

    #[test]
    fn a_down_host_closes_no_port_and_coming_back_is_host_up() {
        let base = host(true, &[(22, port("open"))], "1-1000");
        let down = host(false, &[], "1-1000");
        assert_eq!(
            kinds(&diff_host(Some(&base), &down)),
            [(ChangeKind::HostDown, None)]
        );
        // The base of a host that was down holds its ports as last seen up.
        let was_down = HostObservation {
            up: Some(false),
            ..base.clone()
        };
        let back = host(true, &[(22, port("open"))], "1-1000");
        assert_eq!(
            kinds(&diff_host(Some(&was_down), &back)),
            [(ChangeKind::HostUp, None)]
        );
        let back_other = host(true, &[(23, port("open"))], "1-1000");
        assert_eq!(
            kinds(&diff_host(Some(&was_down), &back_other)),
            [
                (ChangeKind::HostUp, None),
                (ChangeKind::PortClosed, Some(22)),
                (ChangeKind::PortOpened, Some(23))
            ]
        );
    }

    #[test]
    fn a_new_host_and_a_reopened_port() {
        let head = host(true, &[(22, port("open")), (23, port("closed"))], "1-1000");
        assert_eq!(
            kinds(&diff_host(None, &head)),
            [
                (ChangeKind::HostNew, None),
                (ChangeKind::PortOpened, Some(22))
            ]
        );
        let closed = host(true, &[(22, port("closed"))], "1-1000");
        let reopened = host(true, &[(22, port("open"))], "1-1000");
        assert_eq!(
            kinds(&diff_host(Some(&closed), &reopened)),
            [(ChangeKind::PortOpened, Some(22))]
        );
        let filtered = host(true, &[(22, port("filtered"))], "1-1000");
        assert_eq!(
            kinds(&diff_host(Some(&closed), &filtered)),
            [(ChangeKind::PortStateChanged, Some(22))]
        );
    }

    #[test]
    fn service_script_http_certificate_and_tls_changes_on_an_open_port() {
        let mut before = port("open");
        before.service = ServiceFacts {
            name: Some("http".into()),
            product: Some("nginx".into()),
            version: Some("1.24".into()),
            scripts: [
                ("http-title".to_owned(), "Home".to_owned()),
                ("clock-skew".to_owned(), "1s".to_owned()),
            ]
            .into(),
            http_status: Some(200),
            cert_sha256: Some("aa".into()),
            tls_versions: ["TLSv1.2".to_owned()].into(),
            ..ServiceFacts::default()
        };
        let mut after = before.clone();
        after.service.version = Some("1.26".into());
        after
            .service
            .scripts
            .insert("clock-skew".into(), "3s".into());
        after.service.http_status = Some(301);
        after.service.cert_sha256 = Some("bb".into());
        after.service.tls_versions = ["TLSv1.3".to_owned()].into();
        let base = host(true, &[(443, before.clone())], "443");
        let head = host(true, &[(443, after)], "443");
        assert_eq!(
            kinds(&diff_host(Some(&base), &head)),
            [
                (ChangeKind::ServiceChanged, Some(443)),
                (ChangeKind::HttpChanged, Some(443)),
                (ChangeKind::CertChanged, Some(443)),
                (ChangeKind::TlsVersionAdded, Some(443)),
                (ChangeKind::TlsVersionRemoved, Some(443)),
            ],
            "a volatile script's output is ignored"
        );
        let mut script = before.clone();
        script
            .service
            .scripts
            .insert("http-title".into(), "Login".into());
        let head = host(true, &[(443, script)], "443");
        assert_eq!(
            kinds(&diff_host(Some(&base), &head)),
            [(ChangeKind::ScriptChanged, Some(443))]
        );
    }

    #[test]
    fn coverage_is_the_union_of_nmaps_scaninfo_and_round_trips_as_text() {
        let mut c = Coverage::default();
        c.add("tcp", "1,3-4,6-7,9").expect("nmap list");
        c.add("tcp", "5,8080").expect("nmap list");
        c.add("sctp", "1").expect("ignored");
        assert!(c.covers("tcp", 5) && c.covers("tcp", 8080) && !c.covers("tcp", 2));
        assert!(!c.covers("udp", 53), "UDP was not probed");
        assert!(c.add("tcp", "not ports").is_err());
        let mut chunks = Coverage::default();
        chunks.union(&c);
        chunks.union(&Coverage {
            tcp: Some(PortList::parse("2").expect("ports")),
            udp: Some(PortList::parse("53").expect("ports")),
        });
        assert!(chunks.covers("tcp", 2) && chunks.covers("tcp", 8080) && chunks.covers("udp", 53));
        let text = serde_json::to_string(&c).expect("json");
        assert_eq!(text, r#"{"tcp":"1,3-7,9,8080","udp":null}"#);
        assert_eq!(serde_json::from_str::<Coverage>(&text).expect("back"), c);
        assert_eq!(
            serde_json::from_str::<Coverage>("{}").expect("empty"),
            Coverage::default()
        );
    }

    #[test]
    fn kinds_are_the_contract_names_with_a_severity() {
        assert_eq!(ChangeKind::ALL.len(), 24);
        assert_eq!(
            ChangeKind::parse("PORT_OPENED"),
            Some(ChangeKind::PortOpened)
        );
        assert_eq!(ChangeKind::PortOpened.severity(), Severity::High);
        assert_eq!(ChangeKind::HostUp.severity(), Severity::Info);
    }
}
