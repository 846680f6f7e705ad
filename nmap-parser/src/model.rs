//! Typed scan results: the data model that nmap and masscan XML is parsed into.
//!
//! The types mirror nmap's XML (`nmap.dtd`) closely enough that nothing the server needs is lost,
//! while staying plain data: every type is `Clone`, comparable and (de)serializable with serde.
//! Optional XML attributes are `Option`s; an absent attribute is never turned into `""`.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A whole scan run: everything inside `<nmaprun>`.
///
/// Built by [`crate::parse`] or, when streaming, by feeding each [`crate::Event`] to
/// [`NmapRun::apply_event`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NmapRun {
    /// `scanner` attribute: `"nmap"` or `"masscan"`.
    pub scanner: String,
    /// The command line nmap was started with (absent in masscan output).
    pub args: Option<String>,
    /// Scanner version, e.g. `"7.93"`.
    pub version: Option<String>,
    /// Start of the run, seconds since the Unix epoch.
    pub start: Option<i64>,
    /// The start time as nmap printed it (`startstr`).
    pub start_str: Option<String>,
    /// `xmloutputversion`, e.g. `"1.05"`.
    pub xml_output_version: Option<String>,
    /// One entry per scan type (`<scaninfo>`), e.g. a SYN scan over TCP.
    pub scaninfo: Vec<ScanInfo>,
    /// Results of NSE pre-scan scripts (`<prescript>`).
    pub prescripts: Vec<Script>,
    /// Every completed `<host>` in document order.
    pub hosts: Vec<Host>,
    /// Results of NSE post-scan scripts (`<postscript>`).
    pub postscripts: Vec<Script>,
    /// Final statistics; `None` when the run was cut short before `<runstats>`.
    pub runstats: Option<RunStats>,
}

/// The attributes of the `<nmaprun>` root element, reported as soon as it is read.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    /// `scanner` attribute: `"nmap"` or `"masscan"`.
    pub scanner: String,
    /// The command line (absent in masscan output).
    pub args: Option<String>,
    /// Scanner version.
    pub version: Option<String>,
    /// Start of the run, seconds since the Unix epoch.
    pub start: Option<i64>,
    /// The start time as the scanner printed it.
    pub start_str: Option<String>,
    /// `xmloutputversion`.
    pub xml_output_version: Option<String>,
}

/// `<scaninfo>`: one scan type and the ports it covered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScanInfo {
    /// Scan type: `syn`, `connect`, `udp`, `ack`, `ping`, …
    pub scan_type: String,
    /// The protocol scanned.
    pub protocol: Protocol,
    /// How many ports were scanned.
    pub num_services: Option<u32>,
    /// The port list in nmap's compact form, e.g. `"22,8080,8443"` or `"1-1000"`.
    pub services: Option<String>,
}

/// `<taskbegin>` / `<taskend>`: a scan phase starting or finishing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskPhase {
    /// Phase name, e.g. `"SYN Stealth Scan"`, `"Service scan"`, `"NSE"`.
    pub task: String,
    /// When it happened, seconds since the Unix epoch.
    pub time: Option<i64>,
    /// Free text nmap adds, e.g. `"1000 total ports"`.
    pub extra_info: Option<String>,
}

/// `<taskprogress>`: progress of the running phase (nmap writes these with `--stats-every`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskProgress {
    /// Phase name, e.g. `"SYN Stealth Scan"`.
    pub task: String,
    /// When the sample was taken, seconds since the Unix epoch.
    pub time: Option<i64>,
    /// Completion of this phase, 0–100.
    pub percent: Option<f64>,
    /// Estimated seconds remaining in this phase.
    pub remaining: Option<u64>,
    /// Estimated time of completion, seconds since the Unix epoch.
    pub etc: Option<i64>,
}

/// `<runstats>`: how the run ended.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunStats {
    /// End of the run, seconds since the Unix epoch.
    pub finished: Option<i64>,
    /// The end time as the scanner printed it.
    pub time_str: Option<String>,
    /// Duration of the run in seconds.
    pub elapsed: Option<f64>,
    /// nmap's one-line summary.
    pub summary: Option<String>,
    /// `"success"` or `"error"`.
    pub exit: Option<String>,
    /// The error message when `exit` is `"error"`.
    pub error_msg: Option<String>,
    /// Hosts found up. (masscan writes its count of open ports here.)
    pub hosts_up: u64,
    /// Hosts found down.
    pub hosts_down: u64,
    /// Hosts scanned.
    pub hosts_total: u64,
}

/// One `<host>` (or `<hosthint>`) with everything found on it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Host {
    /// Whether the host is up, and why nmap thinks so.
    pub status: HostStatus,
    /// IPv4/IPv6/MAC addresses, in document order.
    pub addresses: Vec<Address>,
    /// Names from DNS (`PTR`) or given by the user (`user`).
    pub hostnames: Vec<Hostname>,
    /// Ports reported individually.
    pub ports: Vec<Port>,
    /// Ports summarised by state rather than listed (`<extraports>`).
    pub extra_ports: Vec<ExtraPorts>,
    /// OS guesses, best first.
    pub os_matches: Vec<OsMatch>,
    /// Results of host-level NSE scripts (`<hostscript>`).
    pub host_scripts: Vec<Script>,
    /// When scanning this host started, seconds since the Unix epoch.
    pub start_time: Option<i64>,
    /// When scanning this host ended, seconds since the Unix epoch.
    pub end_time: Option<i64>,
    /// Network distance in hops.
    pub distance: Option<u32>,
}

impl Host {
    /// The first IPv4 address of the host, if any.
    pub fn ipv4(&self) -> Option<Ipv4Addr> {
        self.addresses
            .iter()
            .filter(|a| a.addrtype == AddrType::Ipv4)
            .find_map(|a| a.addr.parse().ok())
    }

    /// The first IPv6 address of the host, if any.
    pub fn ipv6(&self) -> Option<Ipv6Addr> {
        self.addresses
            .iter()
            .filter(|a| a.addrtype == AddrType::Ipv6)
            .find_map(|a| a.addr.parse().ok())
    }

    /// The IP address that identifies the host: IPv4 first, else IPv6.
    pub fn ip(&self) -> Option<IpAddr> {
        self.ipv4()
            .map(IpAddr::V4)
            .or_else(|| self.ipv6().map(IpAddr::V6))
    }

    /// The address that identifies the host: the first IPv4, else the first IPv6, else the
    /// first address of any kind (a MAC).
    pub fn primary_address(&self) -> Option<&Address> {
        let of_type = |t: AddrType| self.addresses.iter().find(|a| a.addrtype == t);
        of_type(AddrType::Ipv4)
            .or_else(|| of_type(AddrType::Ipv6))
            .or_else(|| self.addresses.first())
    }

    /// The MAC address, if nmap saw one (only on a local network segment).
    pub fn mac(&self) -> Option<&Address> {
        self.addresses.iter().find(|a| a.addrtype == AddrType::Mac)
    }

    /// The first user-supplied hostname, else the first one from DNS.
    pub fn hostname(&self) -> Option<&str> {
        self.hostnames
            .iter()
            .find(|h| h.kind.as_deref() == Some("user"))
            .or_else(|| self.hostnames.first())
            .map(|h| h.name.as_str())
    }

    /// Whether nmap found the host up.
    pub fn is_up(&self) -> bool {
        self.status.state == HostState::Up
    }

    /// The ports in state `open`.
    pub fn open_ports(&self) -> impl Iterator<Item = &Port> {
        self.ports.iter().filter(|p| p.state == PortState::Open)
    }

    /// The port with this protocol and number, if it was reported.
    pub fn port(&self, protocol: Protocol, portid: u16) -> Option<&Port> {
        self.ports
            .iter()
            .find(|p| p.protocol == protocol && p.portid == portid)
    }

    /// The host-level script with this id (e.g. `"smb-os-discovery"`).
    pub fn host_script(&self, id: &str) -> Option<&Script> {
        self.host_scripts.iter().find(|s| s.id == id)
    }
}

/// `<status>` of a host.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostStatus {
    /// Up, down, …
    pub state: HostState,
    /// Why: `syn-ack`, `echo-reply`, `localhost-response`, `conn-refused`, …
    pub reason: Option<String>,
    /// TTL of the packet that gave the reason.
    pub reason_ttl: Option<u8>,
}

/// Host state as nmap reports it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HostState {
    /// The host answered.
    Up,
    /// The host did not answer.
    Down,
    /// nmap skipped the host.
    Skipped,
    /// No status, or a value this parser does not know.
    #[default]
    Unknown,
}

impl HostState {
    /// nmap's spelling of the state.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Up => "up",
            Self::Down => "down",
            Self::Skipped => "skipped",
            Self::Unknown => "unknown",
        }
    }

    /// Reads nmap's spelling; anything unrecognised is [`HostState::Unknown`].
    pub fn from_nmap(s: &str) -> Self {
        match s {
            "up" => Self::Up,
            "down" => Self::Down,
            "skipped" => Self::Skipped,
            _ => Self::Unknown,
        }
    }
}

impl fmt::Display for HostState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `<address>` of a host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    /// The address as written: dotted IPv4, IPv6, or a MAC like `00:11:22:33:44:55`.
    pub addr: String,
    /// What kind of address it is.
    pub addrtype: AddrType,
    /// NIC vendor for MAC addresses.
    pub vendor: Option<String>,
}

/// Kind of an [`Address`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AddrType {
    /// An IPv4 address.
    Ipv4,
    /// An IPv6 address.
    Ipv6,
    /// An Ethernet MAC address.
    Mac,
}

impl AddrType {
    /// nmap's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ipv4 => "ipv4",
            Self::Ipv6 => "ipv6",
            Self::Mac => "mac",
        }
    }
}

impl FromStr for AddrType {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "ipv4" => Ok(Self::Ipv4),
            "ipv6" => Ok(Self::Ipv6),
            "mac" => Ok(Self::Mac),
            _ => Err(()),
        }
    }
}

impl fmt::Display for AddrType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `<hostname>` of a host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hostname {
    /// The name.
    pub name: String,
    /// Where it came from: `"PTR"` (reverse DNS) or `"user"` (the target as given).
    pub kind: Option<String>,
}

/// Transport protocol of a port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
    /// SCTP.
    Sctp,
    /// IP protocol scan (`-sO`): the port id is an IP protocol number.
    Ip,
    /// ICMP (masscan `--ping` results).
    Icmp,
    /// ARP (masscan local-network results).
    Arp,
    /// A value this parser does not know (masscan writes `err` for some).
    Unknown,
}

impl Protocol {
    /// nmap's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tcp => "tcp",
            Self::Udp => "udp",
            Self::Sctp => "sctp",
            Self::Ip => "ip",
            Self::Icmp => "icmp",
            Self::Arp => "arp",
            Self::Unknown => "unknown",
        }
    }

    /// Reads nmap's/masscan's spelling; anything unrecognised is [`Protocol::Unknown`].
    pub fn from_nmap(s: &str) -> Self {
        match s {
            "tcp" => Self::Tcp,
            "udp" => Self::Udp,
            "sctp" => Self::Sctp,
            "ip" => Self::Ip,
            "icmp" => Self::Icmp,
            "arp" => Self::Arp,
            _ => Self::Unknown,
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// State of a port as nmap reports it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PortState {
    /// Something accepts connections.
    #[serde(rename = "open")]
    Open,
    /// Reachable, nothing listening.
    #[serde(rename = "closed")]
    Closed,
    /// Probes were dropped (a firewall).
    #[serde(rename = "filtered")]
    Filtered,
    /// Reachable, open or closed unknown (ACK scan).
    #[serde(rename = "unfiltered")]
    Unfiltered,
    /// Open or filtered (UDP without an answer).
    #[serde(rename = "open|filtered")]
    OpenFiltered,
    /// Closed or filtered (IP ID idle scan).
    #[serde(rename = "closed|filtered")]
    ClosedFiltered,
    /// No state, or a value this parser does not know.
    #[default]
    #[serde(rename = "unknown")]
    Unknown,
}

impl PortState {
    /// nmap's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Closed => "closed",
            Self::Filtered => "filtered",
            Self::Unfiltered => "unfiltered",
            Self::OpenFiltered => "open|filtered",
            Self::ClosedFiltered => "closed|filtered",
            Self::Unknown => "unknown",
        }
    }

    /// Reads nmap's spelling; anything unrecognised is [`PortState::Unknown`].
    pub fn from_nmap(s: &str) -> Self {
        match s {
            "open" => Self::Open,
            "closed" => Self::Closed,
            "filtered" => Self::Filtered,
            "unfiltered" => Self::Unfiltered,
            "open|filtered" => Self::OpenFiltered,
            "closed|filtered" => Self::ClosedFiltered,
            _ => Self::Unknown,
        }
    }
}

impl fmt::Display for PortState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One `<port>` of a host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Port {
    /// Transport protocol.
    pub protocol: Protocol,
    /// Port number (for `-sO`, the IP protocol number).
    pub portid: u16,
    /// Open, closed, filtered, …
    pub state: PortState,
    /// Why: `syn-ack`, `reset`, `conn-refused`, `no-response`, …
    pub reason: Option<String>,
    /// TTL of the packet that gave the reason.
    pub reason_ttl: Option<u8>,
    /// What runs there (`-sV`), or the table guess by port number.
    pub service: Option<Service>,
    /// Results of port-level NSE scripts, in document order.
    pub scripts: Vec<Script>,
}

impl Port {
    /// Whether the port is `open`.
    pub fn is_open(&self) -> bool {
        self.state == PortState::Open
    }

    /// The script with this id (e.g. `"ssl-cert"`).
    pub fn script(&self, id: &str) -> Option<&Script> {
        self.scripts.iter().find(|s| s.id == id)
    }
}

/// `<service>` of a port.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Service {
    /// Service name, e.g. `http`, `ssh`.
    pub name: String,
    /// Product, e.g. `"OpenSSH"`.
    pub product: Option<String>,
    /// Product version.
    pub version: Option<String>,
    /// Extra product details (`extrainfo`).
    pub extra_info: Option<String>,
    /// `"ssl"` when the service is wrapped in TLS.
    pub tunnel: Option<String>,
    /// `"probed"` (version detection answered) or `"table"` (guessed from the port number).
    pub method: Option<String>,
    /// Confidence 0–10 (`10` for probed, `3` for a table guess).
    pub conf: Option<u8>,
    /// OS type reported by the service.
    pub os_type: Option<String>,
    /// Device type reported by the service.
    pub device_type: Option<String>,
    /// Hostname reported by the service.
    pub hostname: Option<String>,
    /// Banner grabbed by masscan (`--banners`).
    pub banner: Option<String>,
    /// CPE names, e.g. `cpe:/a:python:simplehttpserver:0.6`.
    pub cpes: Vec<String>,
}

/// `<extraports>`: ports not listed one by one, summarised by state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtraPorts {
    /// The state these ports share.
    pub state: PortState,
    /// How many ports.
    pub count: u32,
    /// Breakdown by reason.
    pub reasons: Vec<ExtraReason>,
}

/// `<extrareasons>`: part of an [`ExtraPorts`] summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtraReason {
    /// Reason, e.g. `"reset"`, `"no-response"`.
    pub reason: String,
    /// How many ports.
    pub count: u32,
    /// Protocol of those ports (nmap ≥ 7.9x).
    pub protocol: Option<Protocol>,
    /// The ports in nmap's compact form (nmap ≥ 7.9x).
    pub ports: Option<String>,
}

/// `<osmatch>`: one OS guess.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OsMatch {
    /// E.g. `"Linux 5.0 - 5.14"`.
    pub name: String,
    /// Accuracy in percent.
    pub accuracy: u8,
    /// Line of the fingerprint in nmap-os-db.
    pub line: Option<u32>,
    /// Classification of the guess.
    pub classes: Vec<OsClass>,
}

/// `<osclass>`: classification of an [`OsMatch`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OsClass {
    /// E.g. `"Linux"`.
    pub vendor: Option<String>,
    /// E.g. `"Linux"`.
    pub os_family: Option<String>,
    /// E.g. `"5.X"`.
    pub os_gen: Option<String>,
    /// Device type, e.g. `"general purpose"`.
    pub device_type: Option<String>,
    /// Accuracy in percent.
    pub accuracy: Option<u8>,
    /// CPE names.
    pub cpes: Vec<String>,
}

/// An NSE `<script>` result: the human-readable output and nmap's structured
/// `<elem>`/`<table>` tree.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Script {
    /// Script name, e.g. `"ssl-cert"`.
    pub id: String,
    /// The text nmap prints for the script.
    pub output: String,
    /// The structured output, in document order (empty for scripts that have none).
    pub elements: Vec<ScriptElem>,
}

impl Script {
    /// Follows a path of keys through the structured output: each step picks the first child
    /// with that key. `script.find(&["validity", "notAfter"])`.
    pub fn find(&self, path: &[&str]) -> Option<&ScriptElem> {
        find_path(&self.elements, path)
    }

    /// The text of the `<elem>` at `path` (see [`Script::find`]); `None` for a table.
    pub fn value(&self, path: &[&str]) -> Option<&str> {
        self.find(path).and_then(ScriptElem::value)
    }

    /// The children of the `<table>` at `path` (see [`Script::find`]); `None` for an elem.
    pub fn table(&self, path: &[&str]) -> Option<&[ScriptElem]> {
        match self.find(path)? {
            ScriptElem::Table { children, .. } => Some(children),
            ScriptElem::Elem { .. } => None,
        }
    }
}

/// A node of a script's structured output: nmap's `<elem>` (a value) or `<table>` (a list or
/// map of nodes). Keys are optional: list items have none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum ScriptElem {
    /// `<elem key="…">value</elem>`.
    Elem {
        /// The key, absent for list items.
        key: Option<String>,
        /// The text.
        value: String,
    },
    /// `<table key="…">…</table>`.
    Table {
        /// The key, absent for list items.
        key: Option<String>,
        /// The nested nodes, in document order.
        children: Vec<ScriptElem>,
    },
}

impl ScriptElem {
    /// The key of this node, if it has one.
    pub fn key(&self) -> Option<&str> {
        match self {
            Self::Elem { key, .. } | Self::Table { key, .. } => key.as_deref(),
        }
    }

    /// The text of an elem; `None` for a table.
    pub fn value(&self) -> Option<&str> {
        match self {
            Self::Elem { value, .. } => Some(value),
            Self::Table { .. } => None,
        }
    }

    /// The children of a table; empty for an elem.
    pub fn children(&self) -> &[ScriptElem] {
        match self {
            Self::Table { children, .. } => children,
            Self::Elem { .. } => &[],
        }
    }

    /// The first child with this key.
    pub fn get(&self, key: &str) -> Option<&ScriptElem> {
        self.children().iter().find(|c| c.key() == Some(key))
    }

    /// Follows a path of keys below this node (see [`Script::find`]).
    pub fn find(&self, path: &[&str]) -> Option<&ScriptElem> {
        find_path(self.children(), path)
    }
}

fn find_path<'a>(nodes: &'a [ScriptElem], path: &[&str]) -> Option<&'a ScriptElem> {
    let (first, rest) = path.split_first()?;
    let node = nodes.iter().find(|n| n.key() == Some(*first))?;
    if rest.is_empty() {
        Some(node)
    } else {
        find_path(node.children(), rest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn elem(key: &str, value: &str) -> ScriptElem {
        ScriptElem::Elem {
            key: Some(key.to_owned()),
            value: value.to_owned(),
        }
    }

    fn script() -> Script {
        Script {
            id: "ssl-cert".to_owned(),
            output: String::new(),
            elements: vec![
                ScriptElem::Table {
                    key: Some("validity".to_owned()),
                    children: vec![
                        elem("notBefore", "2026-11-21T01:46:41"),
                        elem("notAfter", "2026-12-21T01:46:41"),
                    ],
                },
                ScriptElem::Table {
                    key: Some("list".to_owned()),
                    children: vec![ScriptElem::Elem {
                        key: None,
                        value: "item".to_owned(),
                    }],
                },
                elem("md5", "abc"),
            ],
        }
    }

    #[test]
    fn script_find_follows_keys_when_path_exists() {
        let s = script();
        assert_eq!(
            s.value(&["validity", "notAfter"]),
            Some("2026-12-21T01:46:41")
        );
        assert_eq!(s.value(&["md5"]), Some("abc"));
        assert_eq!(s.table(&["list"]).map(<[ScriptElem]>::len), Some(1));
        assert_eq!(
            s.find(&["validity"])
                .and_then(|v| v.get("notBefore"))
                .and_then(ScriptElem::value),
            Some("2026-11-21T01:46:41")
        );
    }

    #[test]
    fn script_find_returns_none_when_path_is_missing_or_wrong_kind() {
        let s = script();
        assert_eq!(s.find(&[]), None);
        assert_eq!(s.find(&["nope"]), None);
        assert_eq!(s.find(&["md5", "deeper"]), None);
        assert_eq!(s.value(&["validity"]), None);
        assert_eq!(s.table(&["md5"]), None);
        assert!(s.elements[2].children().is_empty());
    }

    #[test]
    fn host_helpers_pick_addresses_when_several_kinds_present() {
        let address = |addr: &str, addrtype| Address {
            addr: addr.to_owned(),
            addrtype,
            vendor: None,
        };
        let mut host = Host {
            addresses: vec![
                address("02:42:ac:11:00:02", AddrType::Mac),
                address("::1", AddrType::Ipv6),
            ],
            ..Host::default()
        };
        assert_eq!(host.ipv4(), None);
        assert_eq!(host.ip(), Some(IpAddr::V6(Ipv6Addr::LOCALHOST)));
        assert_eq!(host.primary_address().map(|a| a.addr.as_str()), Some("::1"));
        host.addresses.push(address("127.0.0.9", AddrType::Ipv4));
        assert_eq!(host.ip(), Some(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 9))));
        assert_eq!(
            host.primary_address().map(|a| a.addr.as_str()),
            Some("127.0.0.9")
        );
        assert_eq!(
            host.mac().map(|a| a.addr.as_str()),
            Some("02:42:ac:11:00:02")
        );
        assert!(!host.is_up());
    }

    #[test]
    fn states_round_trip_when_spelled_as_nmap_does() {
        for state in [
            "open",
            "closed",
            "filtered",
            "unfiltered",
            "open|filtered",
            "closed|filtered",
        ] {
            assert_eq!(PortState::from_nmap(state).as_str(), state);
        }
        assert_eq!(PortState::from_nmap("weird"), PortState::Unknown);
        for proto in ["tcp", "udp", "sctp", "ip", "icmp", "arp"] {
            assert_eq!(Protocol::from_nmap(proto).to_string(), proto);
        }
        assert_eq!(Protocol::from_nmap("err"), Protocol::Unknown);
        assert_eq!(HostState::from_nmap("down"), HostState::Down);
        assert_eq!("mac".parse::<AddrType>(), Ok(AddrType::Mac));
        assert!("ipx".parse::<AddrType>().is_err());
    }
}
