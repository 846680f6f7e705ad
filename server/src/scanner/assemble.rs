//! Findings + the scan's config → the stored result tree, with the verdicts: a port open but
//! not declared is unexpected, a declared port not open is missing, and ping expected vs actual.

use std::collections::{BTreeMap, HashSet};
use std::net::IpAddr;

use nmap_parser::{PortState, Protocol};

use super::findings::{Findings, HostFinding};
use crate::domain::config::{Expected, ScanConfig, Target};
use crate::domain::tree::{NewIp, NewPort, NewSite};

/// Site that collects addresses found outside every configured target (imports).
pub const UNLISTED_SITE: &str = "Not in config";

/// Builds the sites. With a config: each configured address, and each found address of a
/// configured network, judged against its expectations; without one: every found address in
/// `fallback_site`, unjudged. `discovery_ran`: a configured address nmap did not report is down.
pub fn assemble(
    config: Option<&ScanConfig>,
    findings: &Findings,
    discovery_ran: bool,
    fallback_site: &str,
) -> Vec<NewSite> {
    let Some(config) = config else {
        return vec![NewSite {
            name: fallback_site.to_owned(),
            ips: findings
                .hosts
                .iter()
                .map(|(ip, f)| new_ip(*ip, Some(f), None, discovery_ran))
                .collect(),
        }];
    };
    let mut placed: HashSet<IpAddr> = HashSet::new();
    let mut sites: Vec<NewSite> = config
        .sites
        .iter()
        .map(|site| {
            // An address in a site once, with the expectations of its first (most specific:
            // addresses before networks) entry.
            let mut ips: BTreeMap<IpAddr, NewIp> = BTreeMap::new();
            for t in &site.targets {
                match &t.target {
                    Target::Ip(ip) => {
                        ips.entry(*ip).or_insert_with(|| {
                            new_ip(
                                *ip,
                                findings.hosts.get(ip),
                                t.expected.as_ref(),
                                discovery_ran,
                            )
                        });
                    }
                    Target::Cidr(net) => {
                        for (ip, f) in findings.hosts.iter().filter(|(ip, f)| {
                            net.contains(*ip) && (f.is_up() || !f.ports.is_empty())
                        }) {
                            ips.entry(*ip).or_insert_with(|| {
                                new_ip(*ip, Some(f), t.expected.as_ref(), discovery_ran)
                            });
                        }
                    }
                }
            }
            placed.extend(ips.keys().copied());
            placed.extend(
                findings
                    .hosts
                    .keys()
                    .filter(|ip| site.targets.iter().any(|t| t.target.contains(ip))),
            );
            NewSite {
                name: site.name.clone(),
                ips: ips.into_values().collect(),
            }
        })
        .collect();
    let unlisted: Vec<NewIp> = findings
        .hosts
        .iter()
        .filter(|(ip, f)| !placed.contains(*ip) && (f.is_up() || !f.ports.is_empty()))
        .map(|(ip, f)| new_ip(*ip, Some(f), None, discovery_ran))
        .collect();
    if !unlisted.is_empty() {
        sites.push(NewSite {
            name: UNLISTED_SITE.to_owned(),
            ips: unlisted,
        });
    }
    sites
}

fn new_ip(
    ip: IpAddr,
    found: Option<&HostFinding>,
    expected: Option<&Expected>,
    discovery_ran: bool,
) -> NewIp {
    let ping_actual = match found {
        Some(f) => f.ping.or(discovery_ran.then_some(false)),
        None => discovery_ran.then_some(false),
    };
    let up = found.is_some_and(HostFinding::is_up);
    let status = if up {
        "up"
    } else if ping_actual == Some(false) {
        "down"
    } else {
        "unknown"
    };
    let declared: HashSet<(Protocol, u16)> = expected
        .map(|e| {
            e.tcp_ports
                .iter()
                .map(|p| (Protocol::Tcp, *p))
                .chain(e.udp_ports.iter().map(|p| (Protocol::Udp, *p)))
                .collect()
        })
        .unwrap_or_default();
    let mut ports: BTreeMap<(Protocol, u16), NewPort> = BTreeMap::new();
    if let Some(f) = found {
        for ((proto, port), p) in &f.ports {
            let open = p.state == PortState::Open;
            let maybe_open = p.state == PortState::OpenFiltered;
            let is_declared = declared.contains(&(*proto, *port));
            if !(open || maybe_open || is_declared) {
                continue;
            }
            ports.insert(
                (*proto, *port),
                NewPort {
                    port: *port,
                    protocol: proto.as_str().to_owned(),
                    state: p.state.as_str().to_owned(),
                    reason: p.reason.clone(),
                    expected: is_declared,
                    unexpected: open && expected.is_some() && !is_declared,
                    service: p.service.clone(),
                },
            );
        }
    }
    for (proto, port) in &declared {
        ports.entry((*proto, *port)).or_insert_with(|| NewPort {
            port: *port,
            protocol: proto.as_str().to_owned(),
            state: "missing".to_owned(),
            reason: None,
            expected: true,
            unexpected: false,
            service: None,
        });
    }
    NewIp {
        address: ip.to_string(),
        hostname: found.and_then(|f| f.hostname.clone()),
        status: status.to_owned(),
        ping_expected: expected.and_then(|e| e.ping),
        ping_actual,
        ports: ports.into_values().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::config;
    use crate::domain::tree::Counters;
    use crate::scanner::findings::PortFinding;

    fn finding(ping: Option<bool>, open: &[u16]) -> HostFinding {
        HostFinding {
            ping,
            hostname: None,
            ports: open
                .iter()
                .map(|p| {
                    (
                        (Protocol::Tcp, *p),
                        PortFinding {
                            state: PortState::Open,
                            reason: Some("syn-ack".into()),
                            service: None,
                        },
                    )
                })
                .collect(),
        }
    }

    const YAML: &str = "title: t
sites:
  - name: Lab
    ips:
      - address: 127.0.0.1
        expected: { ping: true, tcp_ports: [22, 80] }
      - address: 127.0.0.2
        expected: { ping: true }
    cidrs:
      - cidr: 127.0.9.0/29
        expected: { tcp_ports: [443] }
  - name: Loose
    ips:
      - address: 127.0.0.3
";

    #[test]
    fn verdicts_follow_the_config() {
        let cfg = config::parse(YAML).expect("valid");
        let mut f = Findings::default();
        f.hosts.insert(
            "127.0.0.1".parse().expect("present"),
            finding(Some(true), &[22, 8080]),
        );
        f.hosts.insert(
            "127.0.9.3".parse().expect("present"),
            finding(Some(true), &[443, 25]),
        );
        f.hosts.insert(
            "127.0.0.3".parse().expect("present"),
            finding(Some(true), &[9999]),
        );
        f.hosts.insert(
            "127.0.5.5".parse().expect("present"),
            finding(Some(true), &[1]),
        );
        let sites = assemble(Some(&cfg), &f, true, "unused");
        let names: Vec<_> = sites.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["Lab", "Loose", UNLISTED_SITE]);

        let lab = &sites[0];
        let one = lab
            .ips
            .iter()
            .find(|i| i.address == "127.0.0.1")
            .expect("present");
        let state = |port: u16| one.ports.iter().find(|p| p.port == port).expect("present");
        assert!(state(22).expected && !state(22).unexpected);
        assert!(state(8080).unexpected);
        assert_eq!(state(80).state, "missing");
        let two = lab
            .ips
            .iter()
            .find(|i| i.address == "127.0.0.2")
            .expect("present");
        assert_eq!(
            (two.ping_expected, two.ping_actual),
            (Some(true), Some(false))
        );
        assert_eq!(two.status, "down");
        // Only found addresses of a network are listed.
        assert_eq!(lab.ips.len(), 3);

        // No expectations declared: nothing is unexpected.
        let loose = &sites[1].ips[0];
        assert!(!loose.ports[0].unexpected && !loose.ports[0].expected);

        let c = Counters::of(&sites);
        assert_eq!(c.unexpected_ports, 2, "8080 and 25");
        assert_eq!(c.missing_ports, 1, "80");
        assert_eq!(c.hosts_up, 4);
    }

    #[test]
    fn without_config_everything_found_is_listed_unjudged() {
        let mut f = Findings::default();
        f.hosts
            .insert("127.0.0.1".parse().expect("present"), finding(None, &[22]));
        let sites = assemble(None, &f, false, "Imported");
        assert_eq!(sites[0].name, "Imported");
        assert_eq!(sites[0].ips[0].status, "up");
        assert_eq!(sites[0].ips[0].ping_actual, None);
        assert!(!sites[0].ips[0].ports[0].unexpected);
    }
}
