//! A host's history as observation intervals (issue 13): what one scan saw of a host, as
//! facts `(fact, key, value)`, and how the open intervals of a host move when a scan observes
//! it. No storage here (`service::history` does it).
//!
//! The open intervals of a host are its last known state, fact by fact: a port a scan did not
//! probe, or any port of a host that is down, keeps its interval open (unknown is never
//! "closed"). So the open intervals are also the **baseline** a scan is compared with
//! ([`observation`] rebuilds it), and a host that comes back up is compared with its ports as
//! last seen up.
//!
//! Facts (key `tcp/443` for a port's; several values per key may hold at once for `script`,
//! `tls` and `drift`):
//! `state` (`up`/`down`), `hostname`, `port` (nmap's state), `service` (JSON name, product,
//! version, extra info), `script` (JSON id + output; volatile scripts left out), `http` (JSON
//! status, title, server), `cert` (SHA-256 fingerprint), `tls` (a version), `drift`
//! (`UNEXPECTED_PORT`, `EXPECTED_PORT_MISSING`; key `ping`: `PING_MISMATCH`), `expiry`
//! (`CERT_EXPIRING` / `CERT_EXPIRED`).

use std::collections::{BTreeSet, HashSet};

use serde_json::{Value, json};

use super::changes::{Change, ChangeKind, HostObservation, PortFacts, VOLATILE_SCRIPTS};

/// One fact of a host.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fact {
    pub fact: String,
    pub key: String,
    pub value: String,
}

impl Fact {
    pub fn new(fact: &str, key: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            fact: fact.to_owned(),
            key: key.into(),
            value: value.into(),
        }
    }

    /// The port a port-keyed fact is about (`tcp/443` → (`tcp`, 443)).
    pub fn port(&self) -> Option<(String, u16)> {
        port_of_key(&self.key)
    }
}

pub fn port_key(protocol: &str, port: u16) -> String {
    format!("{protocol}/{port}")
}

pub fn port_of_key(key: &str) -> Option<(String, u16)> {
    let (protocol, port) = key.split_once('/')?;
    Some((protocol.to_owned(), port.parse().ok()?))
}

/// The facts of one observation (drift and expiry facts are the caller's: they come from the
/// config's verdicts and the certificates' dates).
pub fn facts(obs: &HostObservation) -> Vec<Fact> {
    let mut out = Vec::new();
    if let Some(up) = obs.up {
        out.push(Fact::new("state", "", if up { "up" } else { "down" }));
    } else if obs.is_up() {
        out.push(Fact::new("state", "", "up"));
    }
    if let Some(h) = &obs.hostname {
        out.push(Fact::new("hostname", "", h.clone()));
    }
    for ((protocol, port), p) in &obs.ports {
        let key = port_key(protocol, *port);
        out.push(Fact::new("port", key.clone(), p.state.clone()));
        if p.state != "open" {
            continue;
        }
        port_facts(&key, p, &mut out);
    }
    out
}

fn port_facts(key: &str, p: &PortFacts, out: &mut Vec<Fact>) {
    let s = &p.service;
    if s.name.is_some() || s.product.is_some() || s.version.is_some() || s.extra_info.is_some() {
        out.push(Fact::new(
            "service",
            key,
            json!({ "name": s.name, "product": s.product, "version": s.version, "extraInfo": s.extra_info })
                .to_string(),
        ));
    }
    for (id, output) in &s.scripts {
        if !VOLATILE_SCRIPTS.contains(&id.as_str()) {
            out.push(Fact::new(
                "script",
                key,
                json!({ "id": id, "output": output }).to_string(),
            ));
        }
    }
    if s.http_status.is_some() || s.http_title.is_some() || s.http_server.is_some() {
        out.push(Fact::new(
            "http",
            key,
            json!({ "status": s.http_status, "title": s.http_title, "server": s.http_server })
                .to_string(),
        ));
    }
    if let Some(sha) = &s.cert_sha256 {
        out.push(Fact::new("cert", key, sha.clone()));
    }
    for v in &s.tls_versions {
        out.push(Fact::new("tls", key, v.clone()));
    }
}

fn text(v: &Value, field: &str) -> Option<String> {
    v.get(field).and_then(Value::as_str).map(str::to_owned)
}

/// The observation a host's open facts describe: its last known state (the baseline).
pub fn observation<'a>(facts: impl IntoIterator<Item = &'a Fact>) -> HostObservation {
    let mut obs = HostObservation::default();
    let mut services: Vec<&Fact> = Vec::new();
    for f in facts {
        match f.fact.as_str() {
            "state" => obs.up = Some(f.value == "up"),
            "hostname" => obs.hostname = Some(f.value.clone()),
            "port" => {
                if let Some(port) = f.port() {
                    obs.ports.entry(port).or_default().state = f.value.clone();
                }
            }
            "service" | "script" | "http" | "cert" | "tls" => services.push(f),
            _ => {}
        }
    }
    for f in services {
        let Some(port) = f.port() else { continue };
        let Some(p) = obs.ports.get_mut(&port) else {
            continue;
        };
        let s = &mut p.service;
        let v = || serde_json::from_str::<Value>(&f.value).unwrap_or(Value::Null);
        match f.fact.as_str() {
            "service" => {
                let v = v();
                s.name = text(&v, "name");
                s.product = text(&v, "product");
                s.version = text(&v, "version");
                s.extra_info = text(&v, "extraInfo");
            }
            "script" => {
                let v = v();
                if let (Some(id), Some(output)) = (text(&v, "id"), text(&v, "output")) {
                    s.scripts.insert(id, output);
                }
            }
            "http" => {
                let v = v();
                s.http_status = v
                    .get("status")
                    .and_then(Value::as_i64)
                    .and_then(|n| i32::try_from(n).ok());
                s.http_title = text(&v, "title");
                s.http_server = text(&v, "server");
            }
            "cert" => s.cert_sha256 = Some(f.value.clone()),
            "tls" => {
                s.tls_versions.insert(f.value.clone());
            }
            _ => {}
        }
    }
    obs
}

/// Whether a scan that saw `head` observed `fact` (so an open interval of it that the scan
/// did not see again ends): nothing but its state (and ping drift) on a host that is down,
/// a port's facts only where the scan probed the port (or saw it), the hostname only when the
/// scan resolved one.
pub fn observes(head: &HostObservation, fact: &Fact) -> bool {
    match fact.fact.as_str() {
        "state" => head.up.is_some() || head.is_up(),
        "drift" if fact.key == "ping" => head.up.is_some(),
        _ if !head.is_up() => false,
        "hostname" => head.hostname.is_some(),
        _ => fact.port().is_some_and(|(protocol, port)| {
            head.coverage.covers(&protocol, port)
                || head.ports.contains_key(&(protocol.clone(), port))
        }),
    }
}

/// How one scan moves a host's open intervals.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Plan<Id> {
    /// Seen again: last seen now.
    pub extend: Vec<Id>,
    /// Observed and no longer so: ended now.
    pub end: Vec<(Id, Fact)>,
    /// New intervals.
    pub open: Vec<Fact>,
}

/// The plan for a host whose open intervals are `open`, observed by a scan as `head` with
/// the facts `seen` (`facts(head)` plus the caller's drift and expiry facts).
pub fn plan<Id: Copy>(open: &[(Id, Fact)], head: &HostObservation, seen: &[Fact]) -> Plan<Id> {
    let seen_set: HashSet<&Fact> = seen.iter().collect();
    let mut plan = Plan {
        extend: Vec::new(),
        end: Vec::new(),
        open: Vec::new(),
    };
    let mut held: HashSet<&Fact> = HashSet::new();
    for (id, f) in open {
        if seen_set.contains(f) {
            plan.extend.push(*id);
            held.insert(f);
        } else if observes(head, f) {
            plan.end.push((*id, f.clone()));
        }
    }
    let mut new: BTreeSet<&Fact> = BTreeSet::new();
    for f in seen {
        if !held.contains(f) {
            new.insert(f);
        }
    }
    plan.open = new.into_iter().cloned().collect();
    plan
}

/// The drift and expiry events a plan means: a drift or expiry fact that opens is an event of
/// its kind (its value), a drift that ends is DRIFT_RESOLVED.
pub fn fact_events<Id>(plan: &Plan<Id>) -> Vec<Change> {
    let mut out = Vec::new();
    for f in &plan.open {
        if matches!(f.fact.as_str(), "drift" | "expiry")
            && let Some(kind) = ChangeKind::parse(&f.value)
        {
            out.push(Change {
                kind,
                port: f.port(),
                before: Value::Null,
                after: json!(f.value),
            });
        }
    }
    for (_, f) in &plan.end {
        if f.fact == "drift" {
            out.push(Change {
                kind: ChangeKind::DriftResolved,
                port: f.port(),
                before: json!(f.value),
                after: Value::Null,
            });
        }
    }
    out
}

/// Open ports among a host's open facts.
pub fn open_ports<'a>(facts: impl IntoIterator<Item = &'a Fact>) -> usize {
    facts
        .into_iter()
        .filter(|f| f.fact == "port" && f.value == "open")
        .count()
}

/// One line that says what an event is about, for lists and notifications.
pub fn summary(
    kind: ChangeKind,
    address: &str,
    port: Option<&(String, u16)>,
    before: &Value,
    after: &Value,
) -> String {
    let at = match port {
        Some((protocol, port)) => format!("{address} {protocol}/{port}"),
        None => address.to_owned(),
    };
    let service = |v: &Value| -> String {
        ["name", "product", "version", "extraInfo"]
            .iter()
            .filter_map(|k| v.get(*k).and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let short = |v: &Value| -> String {
        match v {
            Value::String(s) => s.chars().take(16).collect(),
            Value::Null => "none".to_owned(),
            other => other.to_string(),
        }
    };
    use ChangeKind as K;
    match kind {
        K::HostNew => format!("new host {at}"),
        K::HostUp => format!("{at} is up again"),
        K::HostDown => format!("{at} is down"),
        K::HostnameChanged => format!("{at} hostname {} → {}", short(before), short(after)),
        K::PortOpened => {
            let s = service(after);
            if s.is_empty() {
                format!("{at} opened")
            } else {
                format!("{at} opened ({s})")
            }
        }
        K::PortClosed => format!("{at} closed"),
        K::PortStateChanged => format!("{at} {} → {}", short(before), short(after)),
        K::ServiceChanged => format!("{at} service {} → {}", service(before), service(after)),
        K::ScriptChanged => format!("{at} script output changed"),
        K::HttpChanged => format!("{at} HTTP response changed"),
        K::CertChanged => format!("{at} certificate {} → {}", short(before), short(after)),
        K::CertExpiring => format!("{at} certificate expires soon"),
        K::CertExpired => format!("{at} certificate has expired"),
        K::TlsVersionAdded => format!("{at} offers {}", short(after)),
        K::TlsVersionRemoved => format!("{at} no longer offers {}", short(before)),
        K::UnexpectedPort => format!("{at} is open and not expected"),
        K::ExpectedPortMissing => format!("{at} is expected and not open"),
        K::PingMismatch => format!("{at} ping differs from the config"),
        K::DriftResolved => format!(
            "{at} matches the config again (was {})",
            before.as_str().unwrap_or("drift")
        ),
        other => format!("{at} {}", other.as_str()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::changes::{Coverage, ServiceFacts, diff_host};
    use crate::domain::ports::PortList;

    fn host(up: bool, open: &[u16], probed: &str) -> HostObservation {
        HostObservation {
            hostname: Some("web".into()),
            up: Some(up),
            ports: open
                .iter()
                .map(|p| {
                    (
                        ("tcp".to_owned(), *p),
                        PortFacts {
                            state: "open".into(),
                            service: ServiceFacts {
                                name: Some("http".into()),
                                product: Some("nginx".into()),
                                scripts: [
                                    ("http-title".to_owned(), "Home".to_owned()),
                                    ("http-date".to_owned(), "now".to_owned()),
                                ]
                                .into(),
                                http_status: Some(200),
                                cert_sha256: Some("aa".into()),
                                tls_versions: ["TLSv1.2".to_owned(), "TLSv1.3".to_owned()].into(),
                                ..ServiceFacts::default()
                            },
                        },
                    )
                })
                .collect(),
            coverage: Coverage {
                tcp: Some(PortList::parse(probed).expect("ports")),
                udp: None,
            },
        }
    }

    /// Applies a plan to a host's open facts (what the service does in the database).
    fn apply(open: &mut Vec<(usize, Fact)>, next: &mut usize, plan: &Plan<usize>) {
        let ended: HashSet<usize> = plan.end.iter().map(|(id, _)| *id).collect();
        open.retain(|(id, _)| !ended.contains(id));
        for f in &plan.open {
            *next += 1;
            open.push((*next, f.clone()));
        }
    }

    fn step(
        open: &mut Vec<(usize, Fact)>,
        next: &mut usize,
        head: &HostObservation,
    ) -> Vec<ChangeKind> {
        let base = (!open.is_empty()).then(|| observation(open.iter().map(|(_, f)| f)));
        let changes = diff_host(base.as_ref(), head);
        let p = plan(open, head, &facts(head));
        apply(open, next, &p);
        changes.into_iter().map(|c| c.kind).collect()
    }

    #[test]
    fn facts_round_trip_to_the_observation_without_volatile_scripts() {
        let head = host(true, &[443], "1-1000");
        let back = observation(&facts(&head));
        let mut want = head.clone();
        want.coverage = Coverage::default();
        for p in want.ports.values_mut() {
            p.service.scripts.remove("http-date");
        }
        assert_eq!(back, want);
    }

    #[test]
    fn the_same_observation_again_extends_every_interval_and_opens_none() {
        let head = host(true, &[22, 443], "1-1000");
        let seen = facts(&head);
        let open: Vec<(usize, Fact)> = seen.iter().cloned().enumerate().collect();
        let p = plan(&open, &head, &seen);
        assert_eq!(p.extend.len(), seen.len());
        assert!(p.end.is_empty() && p.open.is_empty());
    }

    #[test]
    fn unknown_ports_and_down_hosts_keep_their_intervals_and_a_host_back_up_is_compared_with_its_last_ports()
     {
        let (mut open, mut next) = (Vec::new(), 0);
        assert_eq!(
            step(&mut open, &mut next, &host(true, &[22, 8080], "1-10000")),
            [
                ChangeKind::HostNew,
                ChangeKind::PortOpened,
                ChangeKind::PortOpened
            ]
        );
        // Probed 1-1000 only: 8080 stays open (unknown), nothing changes.
        assert_eq!(step(&mut open, &mut next, &host(true, &[22], "1-1000")), []);
        assert_eq!(open_ports(open.iter().map(|(_, f)| f)), 2);
        // Down: only the state moves.
        assert_eq!(
            step(&mut open, &mut next, &host(false, &[], "1-1000")),
            [ChangeKind::HostDown]
        );
        assert_eq!(open_ports(open.iter().map(|(_, f)| f)), 2);
        // Back up with 22 only, probing everything: 8080 closed.
        assert_eq!(
            step(&mut open, &mut next, &host(true, &[22], "1-65535")),
            [ChangeKind::HostUp, ChangeKind::PortClosed]
        );
        assert_eq!(open_ports(open.iter().map(|(_, f)| f)), 1);
        // 8080 reopens.
        assert_eq!(
            step(&mut open, &mut next, &host(true, &[22, 8080], "1-65535")),
            [ChangeKind::PortOpened]
        );
    }

    #[test]
    fn drift_facts_open_as_their_kind_and_end_as_resolved() {
        let head = host(true, &[22], "1-1000");
        let drift = Fact::new("drift", "tcp/22", "UNEXPECTED_PORT");
        let mut seen = facts(&head);
        seen.push(drift.clone());
        let first = plan::<usize>(&[], &head, &seen);
        assert_eq!(
            fact_events(&first)
                .into_iter()
                .map(|e| e.kind)
                .collect::<Vec<_>>(),
            [ChangeKind::UnexpectedPort]
        );
        let open = vec![(1, drift)];
        let resolved = plan(&open, &head, &facts(&head));
        assert_eq!(
            fact_events(&resolved)
                .into_iter()
                .map(|e| e.kind)
                .collect::<Vec<_>>(),
            [ChangeKind::DriftResolved]
        );
        // A drift on a port the scan did not probe stays.
        let other = host(true, &[], "1000-2000");
        assert!(plan(&open, &other, &facts(&other)).end.is_empty());
    }

    #[test]
    fn summaries_say_what_changed() {
        let port = ("tcp".to_owned(), 443);
        assert_eq!(
            summary(
                ChangeKind::PortOpened,
                "127.0.0.1",
                Some(&port),
                &Value::Null,
                &json!({"name": "https", "product": "nginx"})
            ),
            "127.0.0.1 tcp/443 opened (https nginx)"
        );
        assert_eq!(
            summary(
                ChangeKind::HostDown,
                "127.0.0.1",
                None,
                &Value::Null,
                &Value::Null
            ),
            "127.0.0.1 is down"
        );
    }
}
