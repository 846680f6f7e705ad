//! Chunks: a scan over many addresses is split into configs of at most `size` addresses each
//! (host groups, in target order; a network larger than a chunk is cut into subnets), run as
//! separate jobs, and their result trees are merged back into one — the tree a single run of
//! the whole config stores (each site's addresses once, in address order, with the
//! expectations of their first entry).

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use serde_json::{Value, json};

use super::config::{Expected, ScanConfig, Site, SiteTarget, Target};
use super::tree::{NewIp, NewSite};

/// The configs of the chunks of `config`, in target order; `None` when it needs no chunks
/// (`size` 0, or no more addresses than `size`).
pub fn split(config: &ScanConfig, size: u32) -> Option<Vec<ScanConfig>> {
    let size = u128::from(size);
    if size == 0 || config.address_count() <= size {
        return None;
    }
    // Networks are cut into subnets of a power of two no larger than a chunk.
    let piece = 1u128 << (127 - size.leading_zeros());
    let mut chunks: Vec<Vec<(usize, SiteTarget)>> = Vec::new();
    let mut filled = size;
    for (site, entry) in config
        .sites
        .iter()
        .enumerate()
        .flat_map(|(i, s)| s.targets.iter().map(move |t| (i, t)))
    {
        for target in pieces(&entry.target, piece) {
            let count = target.address_count();
            if filled + count > size {
                chunks.push(Vec::new());
                filled = 0;
            }
            filled += count;
            if let Some(chunk) = chunks.last_mut() {
                chunk.push((
                    site,
                    SiteTarget {
                        target,
                        expected: entry.expected.clone(),
                    },
                ));
            }
        }
    }
    Some(
        chunks
            .into_iter()
            .map(|entries| {
                let mut sites: Vec<Site> = Vec::new();
                let mut last = None;
                for (i, target) in entries {
                    if last != Some(i) {
                        sites.push(Site {
                            targets: Vec::new(),
                            ..config.sites[i].clone()
                        });
                        last = Some(i);
                    }
                    if let Some(site) = sites.last_mut() {
                        site.targets.push(target);
                    }
                }
                ScanConfig {
                    title: config.title.clone(),
                    sites,
                    scan: config.scan.clone(),
                }
            })
            .collect(),
    )
}

/// A target as pieces of at most `piece` addresses (a power of two).
fn pieces(target: &Target, piece: u128) -> Vec<Target> {
    match target {
        Target::Cidr(net) if target.address_count() > piece => {
            let bits = u8::try_from(127 - piece.leading_zeros()).unwrap_or(0);
            let prefix = net.max_prefix_len().saturating_sub(bits);
            match net.subnets(prefix) {
                Ok(subnets) => subnets.map(Target::Cidr).collect(),
                Err(_) => vec![target.clone()],
            }
        }
        _ => vec![target.clone()],
    }
}

/// A config as a document of the config format (JSON is YAML), so that a chunk's config is
/// validated, stored and shown like any other: `parse(to_yaml(c)) == c`.
pub fn to_yaml(config: &ScanConfig) -> String {
    let expected = |e: &Option<Expected>| -> Option<Value> {
        e.as_ref().map(|e| {
            let mut v = json!({ "tcp_ports": e.tcp_ports, "udp_ports": e.udp_ports });
            if let Some(ping) = e.ping {
                v["ping"] = json!(ping);
            }
            v
        })
    };
    let entry = |key: &str, value: String, t: &SiteTarget| {
        let mut v = json!({ key: value });
        if let Some(e) = expected(&t.expected) {
            v["expected"] = e;
        }
        v
    };
    let sites: Vec<Value> = config
        .sites
        .iter()
        .map(|site| {
            let (ips, cidrs): (Vec<_>, Vec<_>) = site
                .targets
                .iter()
                .partition(|t| matches!(t.target, Target::Ip(_)));
            let mut v = json!({
                "name": site.name,
                "ips": ips.iter().map(|t| entry("address", t.target.to_string(), t)).collect::<Vec<_>>(),
                "cidrs": cidrs.iter().map(|t| entry("cidr", t.target.to_string(), t)).collect::<Vec<_>>(),
            });
            if let Some(pool) = &site.agent_pool {
                v["agent_pool"] = json!(pool);
            }
            v
        })
        .collect();
    let mut scan = json!({
        "phases": config.scan.phases.iter().map(|p| p.as_str()).collect::<Vec<_>>(),
    });
    if let Some(ports) = &config.scan.tcp_ports {
        scan["tcp_ports"] = json!(ports.to_string());
    }
    if let Some(ports) = &config.scan.udp_ports {
        scan["udp_ports"] = json!(ports.to_string());
    }
    let doc = json!({ "title": config.title, "sites": sites, "scan": scan });
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}

/// Merges the result trees of the chunks of `config` (in chunk order) into the tree one run
/// of the whole config stores: its sites in config order (sites no chunk reported stay, empty),
/// then any other site (addresses found outside the config); in each, an address once (its
/// first entry: an address listed before a network containing it), in address order.
pub fn merge(config: &ScanConfig, parts: Vec<Vec<NewSite>>) -> Vec<NewSite> {
    let mut order: Vec<String> = config.sites.iter().map(|s| s.name.clone()).collect();
    let mut by_name: HashMap<String, Vec<NewIp>> = HashMap::new();
    for site in parts.into_iter().flatten() {
        if !order.contains(&site.name) {
            order.push(site.name.clone());
        }
        by_name.entry(site.name).or_default().extend(site.ips);
    }
    order
        .into_iter()
        .map(|name| {
            let mut seen = HashSet::new();
            let mut ips: Vec<NewIp> = by_name
                .remove(&name)
                .unwrap_or_default()
                .into_iter()
                .filter(|ip| seen.insert(ip.address.clone()))
                .collect();
            ips.sort_by_cached_key(|ip| ip.address.parse::<IpAddr>().ok());
            NewSite { name, ips }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::config::parse;
    use crate::domain::tree::NewPort;

    const YAML: &str = r#"
title: Lab
sites:
  - name: Core
    ips:
      - address: 127.0.5.1
        expected: { ping: true, tcp_ports: [22, 80] }
      - address: 127.0.5.2
    cidrs:
      - cidr: 127.0.16.0/20
        expected: { tcp_ports: [443] }
  - name: Edge
    cidrs:
      - cidr: 127.1.0.0/24
scan:
  tcp_ports: "22,80,443,8000-8100"
  phases: [ping, tcp, service]
"#;

    #[test]
    fn a_config_round_trips_through_its_document() {
        let config = parse(YAML).expect("valid");
        assert_eq!(parse(&to_yaml(&config)).expect("valid"), config);
        let ad_hoc =
            parse(r#"{"title": "t", "sites": [{"name": "a", "ips": [{"address": "::1"}]}]}"#)
                .expect("valid");
        assert_eq!(parse(&to_yaml(&ad_hoc)).expect("valid"), ad_hoc);
    }

    #[test]
    fn split_cuts_networks_and_keeps_target_order_and_expectations() {
        let config = parse(YAML).expect("valid");
        assert_eq!(config.address_count(), 2 + 4096 + 256);
        assert!(split(&config, 0).is_none());
        assert!(split(&config, 5000).is_none());
        let chunks = split(&config, 1024).expect("valid");
        // 2 addresses + 1024 do not fit one chunk: [2 ips], [/22]×4, [/24].
        let shape: Vec<Vec<(String, Vec<String>)>> = chunks
            .iter()
            .map(|c| {
                c.sites
                    .iter()
                    .map(|s| {
                        (
                            s.name.clone(),
                            s.targets.iter().map(|t| t.target.to_string()).collect(),
                        )
                    })
                    .collect()
            })
            .collect();
        let s = |v: &[&str]| v.iter().map(ToString::to_string).collect::<Vec<_>>();
        assert_eq!(
            shape,
            vec![
                vec![("Core".into(), s(&["127.0.5.1", "127.0.5.2"]))],
                vec![("Core".into(), s(&["127.0.16.0/22"]))],
                vec![("Core".into(), s(&["127.0.20.0/22"]))],
                vec![("Core".into(), s(&["127.0.24.0/22"]))],
                vec![("Core".into(), s(&["127.0.28.0/22"])),],
                vec![("Edge".into(), s(&["127.1.0.0/24"]))],
            ]
        );
        assert_eq!(
            chunks[1].sites[0].targets[0].expected,
            config.sites[0].targets[2].expected
        );
        for chunk in &chunks {
            assert!(chunk.address_count() <= 1024);
            assert_eq!(chunk.scan, config.scan);
            assert_eq!(parse(&to_yaml(chunk)).expect("valid"), *chunk);
        }
        // A size that is no power of two cuts networks at the power of two below it.
        let chunks = split(&config, 1500).expect("valid");
        assert!(chunks.iter().all(|c| c.address_count() <= 1500));
        assert_eq!(
            chunks.iter().map(ScanConfig::address_count).sum::<u128>(),
            config.address_count()
        );
    }

    fn ip(address: &str, port: Option<u16>) -> NewIp {
        NewIp {
            address: address.to_owned(),
            hostname: None,
            status: "up".to_owned(),
            ping_expected: None,
            ping_actual: Some(true),
            ports: port
                .map(|p| NewPort {
                    port: p,
                    protocol: "tcp".to_owned(),
                    state: "open".to_owned(),
                    reason: None,
                    expected: false,
                    unexpected: false,
                    service: None,
                })
                .into_iter()
                .collect(),
        }
    }

    #[test]
    fn merge_orders_sites_as_the_config_and_addresses_once_in_address_order() {
        let config = parse(YAML).expect("valid");
        let site = |name: &str, ips: Vec<NewIp>| NewSite {
            name: name.to_owned(),
            ips,
        };
        let merged = merge(
            &config,
            vec![
                vec![site(
                    "Core",
                    vec![ip("127.0.5.1", Some(22)), ip("127.0.5.2", None)],
                )],
                vec![site(
                    "Core",
                    vec![ip("127.0.16.9", None), ip("127.0.5.1", Some(80))],
                )],
                vec![site("Not in config", vec![ip("127.9.0.1", None)])],
                vec![site("Core", vec![ip("127.0.16.10", None)])],
            ],
        );
        let shape: Vec<(String, Vec<(String, usize)>)> = merged
            .iter()
            .map(|s| {
                (
                    s.name.clone(),
                    s.ips
                        .iter()
                        .map(|i| (i.address.clone(), i.ports.len()))
                        .collect(),
                )
            })
            .collect();
        let a = |x: &str, n: usize| (x.to_owned(), n);
        assert_eq!(
            shape,
            vec![
                (
                    "Core".to_owned(),
                    vec![
                        a("127.0.5.1", 1),
                        a("127.0.5.2", 0),
                        a("127.0.16.9", 0),
                        a("127.0.16.10", 0)
                    ]
                ),
                ("Edge".to_owned(), vec![]),
                ("Not in config".to_owned(), vec![a("127.9.0.1", 0)]),
            ]
        );
        assert_eq!(merged[0].ips[0].ports[0].port, 22, "the first entry wins");
    }
}
