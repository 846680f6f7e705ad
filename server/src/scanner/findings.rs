//! What the phases (or an imported XML file) found, merged per address and port. Phases add
//! to it as nmap reports hosts; [`super::assemble`] turns it into the stored result tree.

use std::collections::BTreeMap;
use std::net::IpAddr;

use nmap_parser::{Host, HostState, Port, PortState, Protocol};

use super::tls;
use crate::domain::tree::NewService;

#[derive(Debug, Default, Clone)]
pub struct Findings {
    pub hosts: BTreeMap<IpAddr, HostFinding>,
}

#[derive(Debug, Default, Clone)]
pub struct HostFinding {
    /// Answered host discovery (`None`: discovery did not run or was skipped, e.g. `-Pn`).
    pub ping: Option<bool>,
    pub hostname: Option<String>,
    pub ports: BTreeMap<(Protocol, u16), PortFinding>,
}

#[derive(Debug, Clone)]
pub struct PortFinding {
    pub state: PortState,
    pub reason: Option<String>,
    pub service: Option<NewService>,
}

impl HostFinding {
    pub fn open_ports(&self) -> impl Iterator<Item = (Protocol, u16)> + '_ {
        self.ports
            .iter()
            .filter(|(_, p)| p.state == PortState::Open)
            .map(|(k, _)| *k)
    }

    /// Up by discovery or by having an open port.
    pub fn is_up(&self) -> bool {
        self.ping == Some(true) || self.open_ports().next().is_some()
    }
}

/// How a host element's status is to be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostStatusUse {
    /// The status is the answer to host discovery (ping sweep, or an imported run).
    Discovery,
    /// Discovery was skipped (`-Pn`): the status says nothing.
    Ignore,
}

/// How a port element's service is to be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceUse {
    /// Version detection ran: keep services and TLS scripts.
    Detected,
    /// Port discovery only: the service is nmap's guess by port number; keep the state only.
    StateOnly,
}

impl Findings {
    /// Merges one host element of an nmap run.
    pub fn add_host(&mut self, host: &Host, status: HostStatusUse, services: ServiceUse) {
        let Some(ip) = host.ip() else { return };
        let entry = self.hosts.entry(ip).or_default();
        if status == HostStatusUse::Discovery && host.status.reason.as_deref() != Some("user-set") {
            match host.status.state {
                HostState::Up => entry.ping = Some(true),
                HostState::Down if entry.ping.is_none() => entry.ping = Some(false),
                _ => {}
            }
        }
        if entry.hostname.is_none() {
            entry.hostname = host.hostname().map(str::to_owned);
        }
        for port in &host.ports {
            let key = (port.protocol, port.portid);
            let service = match services {
                ServiceUse::Detected => service(port),
                ServiceUse::StateOnly => None,
            };
            match entry.ports.get_mut(&key) {
                Some(existing) => {
                    existing.state = port.state;
                    existing.reason = port.reason.clone().or(existing.reason.take());
                    if service.is_some() {
                        existing.service = service;
                    }
                }
                None => {
                    entry.ports.insert(
                        key,
                        PortFinding {
                            state: port.state,
                            reason: port.reason.clone(),
                            service,
                        },
                    );
                }
            }
        }
    }

    pub fn hosts_up(&self) -> usize {
        self.hosts.values().filter(|h| h.is_up()).count()
    }

    pub fn open_ports(&self) -> usize {
        self.hosts.values().map(|h| h.open_ports().count()).sum()
    }

    /// Addresses that answered discovery (or showed an open port).
    pub fn up_addresses(&self) -> Vec<IpAddr> {
        self.hosts
            .iter()
            .filter(|(_, h)| h.is_up())
            .map(|(ip, _)| *ip)
            .collect()
    }
}

/// The detected service of a port, with TLS facts from its scripts.
fn service(port: &Port) -> Option<NewService> {
    let cert = port.script("ssl-cert").and_then(tls::certificate);
    let versions = port
        .script("ssl-enum-ciphers")
        .map(tls::tls_versions)
        .unwrap_or_default();
    let svc = port.service.as_ref();
    if svc.is_none() && cert.is_none() && versions.is_empty() {
        return None;
    }
    let text = |v: Option<&String>| v.filter(|s| !s.is_empty()).cloned();
    Some(NewService {
        name: svc.map(|s| s.name.clone()).filter(|n| !n.is_empty()),
        product: text(svc.and_then(|s| s.product.as_ref())),
        version: text(svc.and_then(|s| s.version.as_ref())),
        extra_info: text(svc.and_then(|s| s.extra_info.as_ref())),
        tunnel: text(svc.and_then(|s| s.tunnel.as_ref())),
        cpe: svc.and_then(|s| s.cpes.first().cloned()),
        certificate: cert,
        tls_versions: versions,
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(xml: &str) -> nmap_parser::NmapRun {
        nmap_parser::parse_str(xml).expect("sample parses")
    }

    #[test]
    fn ping_sweep_marks_hosts_up() {
        let r = run(include_str!(
            "../../../nmap-parser/tests/data/nmap_sn_root.xml"
        ));
        let mut f = Findings::default();
        for h in &r.hosts {
            f.add_host(h, HostStatusUse::Discovery, ServiceUse::StateOnly);
        }
        assert!(f.hosts_up() > 0);
        assert!(f.hosts.values().all(|h| h.ping.is_some()));
    }

    #[test]
    fn service_detection_adds_services_to_known_ports() {
        let r = run(include_str!(
            "../../../nmap-parser/tests/data/nmap_sV_root.xml"
        ));
        let mut f = Findings::default();
        for h in &r.hosts {
            f.add_host(h, HostStatusUse::Ignore, ServiceUse::StateOnly);
        }
        assert!(f.open_ports() > 0);
        assert!(
            f.hosts
                .values()
                .flat_map(|h| h.ports.values())
                .all(|p| p.service.is_none())
        );
        for h in &r.hosts {
            f.add_host(h, HostStatusUse::Ignore, ServiceUse::Detected);
        }
        assert!(
            f.hosts
                .values()
                .flat_map(|h| h.ports.values())
                .any(|p| p.service.is_some())
        );
        // -sV runs were -Pn style here: discovery is not claimed.
        assert!(f.hosts.values().all(|h| h.ping.is_none()));
    }
}
