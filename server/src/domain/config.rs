//! Scan configs: the YAML format of DESIGN §4, parsed with serde-saphyr and validated into
//! typed sites, targets and expectations. Every error says where it is (line and column).

use std::collections::HashSet;
use std::net::IpAddr;

use ipnet::IpNet;
use serde::Deserialize;
use serde_saphyr::{Location, Spanned};

use super::ports::{PortList, check_port};
use crate::error::{AppError, SourcePos};

/// Largest YAML document accepted.
pub const MAX_YAML_BYTES: usize = 1024 * 1024;
/// Largest single CIDR entry (addresses). The scan scope caps the total per scan.
pub const MAX_CIDR_ADDRESSES: u128 = 65_536;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Phase {
    Ping,
    Tcp,
    Udp,
    Service,
    Http,
    Tls,
    Screenshot,
}

impl Phase {
    pub const ALL: [Phase; 7] = [
        Phase::Ping,
        Phase::Tcp,
        Phase::Udp,
        Phase::Service,
        Phase::Http,
        Phase::Tls,
        Phase::Screenshot,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Ping => "ping",
            Phase::Tcp => "tcp",
            Phase::Udp => "udp",
            Phase::Service => "service",
            Phase::Http => "http",
            Phase::Tls => "tls",
            Phase::Screenshot => "screenshot",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

/// A scan target from a config: one address or one network.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Target {
    Ip(IpAddr),
    Cidr(IpNet),
}

impl Target {
    pub fn address_count(&self) -> u128 {
        match self {
            Target::Ip(_) => 1,
            // `::/0` holds 2^128 addresses, one more than u128 counts: saturate, never wrap.
            Target::Cidr(net) => 1u128
                .checked_shl(u32::from(net.max_prefix_len() - net.prefix_len()))
                .unwrap_or(u128::MAX),
        }
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Ip(ip) => write!(f, "{ip}"),
            Target::Cidr(net) => write!(f, "{net}"),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expected {
    pub ping: Option<bool>,
    pub tcp_ports: Vec<u16>,
    pub udp_ports: Vec<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteTarget {
    pub target: Target,
    /// `None` when the config declares nothing for this target: its ports are then reported
    /// without an expected/unexpected verdict.
    pub expected: Option<Expected>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    pub name: String,
    pub targets: Vec<SiteTarget>,
    /// The agent pool that scans this site (`sneakyscan agent` processes of that pool); none:
    /// the workers.
    pub agent_pool: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanOptions {
    /// `None`: nmap's top 1000 TCP ports.
    pub tcp_ports: Option<PortList>,
    pub udp_ports: Option<PortList>,
    pub phases: Vec<Phase>,
}

impl Default for ScanOptions {
    fn default() -> Self {
        Self {
            tcp_ports: None,
            udp_ports: None,
            phases: vec![
                Phase::Ping,
                Phase::Tcp,
                Phase::Service,
                Phase::Http,
                Phase::Tls,
            ],
        }
    }
}

/// A validated scan config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanConfig {
    pub title: String,
    pub sites: Vec<Site>,
    pub scan: ScanOptions,
}

impl ScanConfig {
    /// The agent pool a scan of this config runs in (validation makes every site name the
    /// same one, or none).
    pub fn agent_pool(&self) -> Option<&str> {
        self.sites.first().and_then(|s| s.agent_pool.as_deref())
    }

    /// Total number of addresses the config targets.
    pub fn address_count(&self) -> u128 {
        self.sites
            .iter()
            .flat_map(|s| &s.targets)
            .map(|t| t.target.address_count())
            .fold(0u128, u128::saturating_add)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    title: Spanned<String>,
    sites: Spanned<Vec<RawSite>>,
    #[serde(default)]
    scan: Option<RawScan>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSite {
    name: Spanned<String>,
    #[serde(default)]
    ips: Vec<RawIp>,
    #[serde(default)]
    cidrs: Vec<RawCidr>,
    #[serde(default)]
    agent_pool: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIp {
    address: Spanned<String>,
    #[serde(default)]
    expected: Option<RawExpected>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCidr {
    cidr: Spanned<String>,
    #[serde(default)]
    expected: Option<RawExpected>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawExpected {
    #[serde(default)]
    ping: Option<bool>,
    #[serde(default)]
    tcp_ports: Vec<Spanned<i64>>,
    #[serde(default)]
    udp_ports: Vec<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScan {
    #[serde(default)]
    tcp_ports: Option<Spanned<String>>,
    #[serde(default)]
    udp_ports: Option<Spanned<String>>,
    #[serde(default)]
    phases: Option<Vec<Spanned<String>>>,
}

fn pos(loc: &Location) -> Option<SourcePos> {
    (loc.line() > 0).then(|| SourcePos {
        line: loc.line(),
        column: loc.column(),
    })
}

fn err_at<T>(loc: &Location, message: impl Into<String>) -> Result<T, AppError> {
    let message = message.into();
    let p = pos(loc);
    let message = match p {
        Some(p) => format!("line {}, column {}: {message}", p.line, p.column),
        None => message,
    };
    Err(AppError::validation_at(message, p))
}

/// Parses and validates a scan config. Errors are `VALIDATION` with line and column.
pub fn parse(yaml: &str) -> Result<ScanConfig, AppError> {
    if yaml.len() > MAX_YAML_BYTES {
        return Err(AppError::validation(format!(
            "config is too large ({} bytes; {MAX_YAML_BYTES} max)",
            yaml.len()
        )));
    }
    if yaml.trim().is_empty() {
        return Err(AppError::validation("config is empty"));
    }
    let raw: RawConfig = serde_saphyr::from_str(yaml).map_err(|e| {
        let p = e.location().as_ref().and_then(pos);
        let text = e.to_string();
        let first = text.lines().next().unwrap_or("invalid YAML").to_owned();
        let message = match p {
            Some(p) if !first.contains("line") => {
                format!("line {}, column {}: {first}", p.line, p.column)
            }
            _ => first,
        };
        AppError::validation_at(message, p)
    })?;
    validate(raw)
}

fn validate(raw: RawConfig) -> Result<ScanConfig, AppError> {
    let title = raw.title.value.trim().to_owned();
    if title.is_empty() {
        return err_at(&raw.title.referenced, "title must not be empty");
    }
    if title.chars().count() > 200 {
        return err_at(&raw.title.referenced, "title is longer than 200 characters");
    }
    if raw.sites.value.is_empty() {
        return err_at(&raw.sites.referenced, "a config needs at least one site");
    }
    let mut site_names = HashSet::new();
    let mut sites: Vec<Site> = Vec::with_capacity(raw.sites.value.len());
    for raw_site in raw.sites.value {
        let name = raw_site.name.value.trim().to_owned();
        if name.is_empty() {
            return err_at(&raw_site.name.referenced, "site name must not be empty");
        }
        if !site_names.insert(name.to_lowercase()) {
            return err_at(
                &raw_site.name.referenced,
                format!("duplicate site name {name:?}"),
            );
        }
        if raw_site.ips.is_empty() && raw_site.cidrs.is_empty() {
            return err_at(
                &raw_site.name.referenced,
                format!("site {name:?} has no ips and no cidrs"),
            );
        }
        let mut seen = HashSet::new();
        let mut targets = Vec::new();
        for ip in raw_site.ips {
            let text = ip.address.value.trim();
            let Ok(addr) = text.parse::<IpAddr>() else {
                return err_at(
                    &ip.address.referenced,
                    format!("{text:?} is not an IP address"),
                );
            };
            if !seen.insert(Target::Ip(addr).to_string()) {
                return err_at(
                    &ip.address.referenced,
                    format!("address {addr} is listed twice in site {name:?}"),
                );
            }
            targets.push(SiteTarget {
                target: Target::Ip(addr),
                expected: ip.expected.map(expected).transpose()?,
            });
        }
        for cidr in raw_site.cidrs {
            let text = cidr.cidr.value.trim();
            let Ok(net) = text.parse::<IpNet>() else {
                return err_at(
                    &cidr.cidr.referenced,
                    format!("{text:?} is not a CIDR such as 127.0.10.0/28"),
                );
            };
            if net.network() != net.addr() {
                return err_at(
                    &cidr.cidr.referenced,
                    format!(
                        "{text} has host bits set; did you mean {}/{}?",
                        net.network(),
                        net.prefix_len()
                    ),
                );
            }
            let target = Target::Cidr(net);
            if target.address_count() > MAX_CIDR_ADDRESSES {
                return err_at(
                    &cidr.cidr.referenced,
                    format!(
                        "{text} has {} addresses; one entry may have at most {MAX_CIDR_ADDRESSES}",
                        target.address_count()
                    ),
                );
            }
            if !seen.insert(target.to_string()) {
                return err_at(
                    &cidr.cidr.referenced,
                    format!("{text} is listed twice in site {name:?}"),
                );
            }
            targets.push(SiteTarget {
                target,
                expected: cidr.expected.map(expected).transpose()?,
            });
        }
        let agent_pool = raw_site.agent_pool.map(agent_pool).transpose()?;
        if let Some(first) = sites.first()
            && first.agent_pool != agent_pool.as_ref().map(|p| p.0.clone())
        {
            let at = agent_pool.as_ref().map(|p| p.1);
            let message = format!(
                "site {name:?} is scanned by {} but site {:?} by {}: the sites of one config are scanned in one place",
                pool_label(agent_pool.as_ref().map(|p| p.0.as_str())),
                first.name,
                pool_label(first.agent_pool.as_deref()),
            );
            return match at {
                Some(at) => err_at(&at, message),
                None => err_at(&raw_site.name.referenced, message),
            };
        }
        sites.push(Site {
            name,
            targets,
            agent_pool: agent_pool.map(|p| p.0),
        });
    }
    let scan = match raw.scan {
        None => ScanOptions::default(),
        Some(raw_scan) => scan_options(raw_scan)?,
    };
    Ok(ScanConfig { title, sites, scan })
}

/// An agent pool name: 1-64 letters, digits, `.`, `_` or `-`.
pub fn check_pool_name(name: &str) -> Result<(), String> {
    if name.is_empty()
        || name.len() > 64
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        return Err(format!(
            "agent_pool {name:?} must be 1-64 letters, digits, '.', '_' or '-'"
        ));
    }
    Ok(())
}

fn agent_pool(raw: Spanned<String>) -> Result<(String, Location), AppError> {
    let name = raw.value.trim().to_owned();
    match check_pool_name(&name) {
        Ok(()) => Ok((name, raw.referenced)),
        Err(message) => err_at(&raw.referenced, message),
    }
}

fn pool_label(pool: Option<&str>) -> String {
    pool.map_or_else(|| "the workers".to_owned(), |p| format!("agent pool {p:?}"))
}

fn port_vec(raw: Vec<Spanned<i64>>, proto: &str) -> Result<Vec<u16>, AppError> {
    let mut out = Vec::with_capacity(raw.len());
    for p in raw {
        let port = match check_port(p.value) {
            Ok(port) => port,
            Err(msg) => return err_at(&p.referenced, msg),
        };
        if out.contains(&port) {
            return err_at(
                &p.referenced,
                format!("{proto} port {port} is listed twice"),
            );
        }
        out.push(port);
    }
    out.sort_unstable();
    Ok(out)
}

fn expected(raw: RawExpected) -> Result<Expected, AppError> {
    Ok(Expected {
        ping: raw.ping,
        tcp_ports: port_vec(raw.tcp_ports, "tcp")?,
        udp_ports: port_vec(raw.udp_ports, "udp")?,
    })
}

fn port_list(raw: Option<Spanned<String>>) -> Result<Option<PortList>, AppError> {
    match raw {
        None => Ok(None),
        Some(s) => match PortList::parse(&s.value) {
            Ok(list) => Ok(Some(list)),
            Err(msg) => err_at(&s.referenced, msg),
        },
    }
}

fn scan_options(raw: RawScan) -> Result<ScanOptions, AppError> {
    let phases = match raw.phases {
        None => ScanOptions::default().phases,
        Some(list) => {
            let mut phases = Vec::new();
            for p in list {
                let Some(phase) = Phase::parse(p.value.trim()) else {
                    let known: Vec<_> = Phase::ALL.iter().map(|p| p.as_str()).collect();
                    return err_at(
                        &p.referenced,
                        format!("unknown phase {:?} (known: {})", p.value, known.join(", ")),
                    );
                };
                if phases.contains(&phase) {
                    return err_at(
                        &p.referenced,
                        format!("phase {:?} is listed twice", p.value),
                    );
                }
                phases.push(phase);
            }
            phases
        }
    };
    Ok(ScanOptions {
        tcp_ports: port_list(raw.tcp_ports)?,
        udp_ports: port_list(raw.udp_ports)?,
        phases,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "title: Loopback lab
sites:
  - name: Lab services
    ips:
      - address: 127.0.0.1
        expected: { ping: true, tcp_ports: [22, 8080], udp_ports: [] }
    cidrs:
      - cidr: 127.0.10.0/28
        expected: { ping: true, tcp_ports: [80] }
scan:
  tcp_ports: \"1-1024,8080,8443\"
  udp_ports: \"53,161\"
  phases: [ping, tcp, udp, service, http, tls, screenshot]
";

    fn pos_of(err: AppError) -> (String, Option<SourcePos>) {
        match err {
            AppError::Validation { message, pos } => (message, pos),
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn parse_accepts_the_documented_example() {
        let c = parse(GOOD).expect("valid config");
        assert_eq!(c.title, "Loopback lab");
        assert_eq!(c.sites.len(), 1);
        assert_eq!(c.sites[0].targets.len(), 2);
        assert_eq!(
            c.sites[0].targets[0]
                .expected
                .as_ref()
                .map(|e| e.tcp_ports.clone()),
            Some(vec![22, 8080])
        );
        assert_eq!(c.address_count(), 17);
        assert_eq!(
            c.scan.tcp_ports.as_ref().map(|p| p.to_string()),
            Some("1-1024,8080,8443".to_owned())
        );
        assert_eq!(c.scan.phases.len(), 7);
    }

    #[test]
    fn parse_uses_default_options_when_scan_section_is_absent() {
        let c = parse("title: t\nsites:\n  - name: a\n    ips:\n      - address: 127.0.0.2\n")
            .expect("valid");
        assert_eq!(c.scan, ScanOptions::default());
        // Nothing declared: no verdict on its ports.
        assert_eq!(c.sites[0].targets[0].expected, None);
    }

    #[test]
    fn parse_reports_line_of_bad_cidr() {
        let yaml = GOOD.replace("127.0.10.0/28", "127.0.10.0/33");
        let (msg, p) = pos_of(parse(&yaml).expect_err("bad cidr"));
        assert_eq!(p.map(|p| p.line), Some(8), "{msg}");
        assert!(msg.contains("127.0.10.0/33"), "{msg}");
    }

    #[test]
    fn parse_reports_line_of_out_of_range_port() {
        for bad in ["0", "70000"] {
            let yaml = GOOD.replace("[22, 8080]", &format!("[22, {bad}]"));
            let (msg, p) = pos_of(parse(&yaml).expect_err("bad port"));
            assert_eq!(p.map(|p| p.line), Some(6), "{msg}");
            assert!(msg.contains(bad), "{msg}");
        }
    }

    #[test]
    fn parse_reports_duplicate_site_name_at_second_site() {
        let yaml = "title: t\nsites:\n  - name: a\n    ips: [{address: 127.0.0.1}]\n  - name: A\n    ips: [{address: 127.0.0.2}]\n";
        let (msg, p) = pos_of(parse(yaml).expect_err("duplicate"));
        assert_eq!(p.map(|p| p.line), Some(5), "{msg}");
        assert!(msg.contains("duplicate site name"), "{msg}");
    }

    #[test]
    fn parse_reports_location_of_malformed_yaml() {
        let (msg, p) = pos_of(parse("title: [unclosed\nsites: x\n").expect_err("malformed"));
        assert!(p.is_some(), "{msg}");
    }

    #[test]
    fn parse_rejects_unknown_fields_and_bad_port_lists() {
        assert!(parse(&GOOD.replace("title:", "titel:")).is_err());
        let (msg, p) = pos_of(parse(&GOOD.replace("1-1024,8080,8443", "1-")).expect_err("1-"));
        assert_eq!(p.map(|p| p.line), Some(11), "{msg}");
        assert!(parse(&GOOD.replace("screenshot]", "screenshot, nse]")).is_err());
    }

    #[test]
    fn parse_rejects_host_bits_and_huge_cidrs_and_bad_addresses() {
        assert!(parse(&GOOD.replace("127.0.10.0/28", "127.0.10.5/28")).is_err());
        assert!(parse(&GOOD.replace("127.0.10.0/28", "127.0.0.0/8")).is_err());
        assert!(parse(&GOOD.replace("address: 127.0.0.1", "address: '-oN /tmp/x'")).is_err());
        assert!(parse("").is_err());
    }

    #[test]
    fn sites_name_one_agent_pool_or_none() {
        let two = |a: &str, b: &str| {
            format!(
                "title: t\nsites:\n  - name: a\n{a}    ips: [{{address: 127.0.0.1}}]\n  - name: b\n{b}    ips: [{{address: 127.0.0.2}}]\n"
            )
        };
        let pool = |p: &str| format!("    agent_pool: {p}\n");
        let c = parse(&two(&pool("lab-1"), &pool("lab-1"))).expect("same pool");
        assert_eq!(c.agent_pool(), Some("lab-1"));
        assert_eq!(parse(&two("", "")).expect("workers").agent_pool(), None);
        let e = parse(&two(&pool("lab-1"), &pool("lab-2"))).expect_err("two pools");
        assert!(e.to_string().contains("line 7"), "{e}");
        assert!(e.to_string().contains("one place"), "{e}");
        assert!(parse(&two("", &pool("lab-1"))).is_err());
        assert!(parse(&two(&pool("lab-1"), "")).is_err());
        let bad = parse(&two(&pool("'lab 1'"), &pool("'lab 1'"))).expect_err("bad name");
        assert!(bad.to_string().contains("line 4"), "{bad}");
    }
}
