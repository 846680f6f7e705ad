//! nmap command lines, from fixed profiles only. Targets reach nmap through an `-iL` file the
//! server wrote; ports come from a validated [`PortList`]; nothing a user typed becomes an
//! argument of its own.

use std::path::Path;

use crate::domain::ports::PortList;

/// NSE scripts the service phase may run (TLS analysis). Nothing else is ever passed.
pub const TLS_SCRIPTS: &str = "ssl-cert,ssl-enum-ciphers";

/// Host groups: one tuned nmap over many hosts beats many small ones (see docs/BENCHMARKS.md).
const MAX_HOSTGROUP: usize = 256;
/// Most probes in flight during version detection. Its time is spent waiting on services that
/// stay silent, so parallelism decides it: 256 loopback addresses x 2 ports took 112 s with
/// nmap's default, 53 s with 64, 16 s with 256 and 10 s with 512 (one probe per open port).
const MAX_SERVICE_PARALLELISM: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpScan {
    /// `-sS` (raw packets; needs root or CAP_NET_RAW).
    Syn,
    /// `-sT` (the operating system's connect()).
    Connect,
}

impl TcpScan {
    /// `auto` picks SYN when running as root.
    pub fn from_setting(setting: &str, is_root: bool) -> Self {
        match setting {
            "syn" => TcpScan::Syn,
            "connect" => TcpScan::Connect,
            _ if is_root => TcpScan::Syn,
            _ => TcpScan::Connect,
        }
    }

    fn flag(self) -> &'static str {
        match self {
            TcpScan::Syn => "-sS",
            TcpScan::Connect => "-sT",
        }
    }
}

/// Whether this process runs as root (raw-socket scans, UDP).
pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// What the phases share.
#[derive(Debug, Clone)]
pub struct Profile {
    pub nmap: String,
    pub stats_every_secs: u64,
    pub tcp: TcpScan,
}

/// The ports of the service phase: what the discovery phases found open.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpenPorts {
    pub tcp: Vec<u16>,
    pub udp: Vec<u16>,
}

impl Profile {
    fn base(&self, targets: &Path, hosts: usize) -> Vec<String> {
        let group = hosts.clamp(1, MAX_HOSTGROUP).to_string();
        vec![
            self.nmap.clone(),
            "-oX".into(),
            "-".into(),
            "--stats-every".into(),
            format!("{}s", self.stats_every_secs.max(1)),
            "-n".into(),
            "-T4".into(),
            "--min-hostgroup".into(),
            group,
            "-iL".into(),
            targets.display().to_string(),
        ]
    }

    /// Ping sweep.
    pub fn ping(&self, targets: &Path, hosts: usize) -> Vec<String> {
        let mut argv = self.base(targets, hosts);
        argv.push("-sn".into());
        argv
    }

    /// TCP discovery on the given ports (nmap's top 1000 when `None`). `skip_discovery`: the
    /// hosts are known to be up (ping phase ran) or must be probed regardless.
    pub fn tcp(
        &self,
        targets: &Path,
        hosts: usize,
        ports: Option<&PortList>,
        skip_discovery: bool,
    ) -> Vec<String> {
        // Like version detection, discovery mostly waits on answers: keep every probe of a
        // host group in flight at once (hosts × ports, 64–1024).
        let probes = hosts.clamp(1, MAX_HOSTGROUP) * ports.map_or(1000, PortList::len);
        let parallelism = probes.clamp(64, MAX_SERVICE_PARALLELISM).to_string();
        let scan = [self.tcp.flag(), "--min-parallelism", parallelism.as_str()];
        self.discovery(targets, hosts, &scan, ports, "1000", skip_discovery)
    }

    /// UDP discovery (root only): the given ports or nmap's top 100.
    pub fn udp(
        &self,
        targets: &Path,
        hosts: usize,
        ports: Option<&PortList>,
        skip_discovery: bool,
    ) -> Vec<String> {
        let scan = ["-sU", "--max-retries", "2"];
        self.discovery(targets, hosts, &scan, ports, "100", skip_discovery)
    }

    /// A port discovery run: the scan type's flags, then the ports (or nmap's top `top`).
    fn discovery(
        &self,
        targets: &Path,
        hosts: usize,
        scan: &[&str],
        ports: Option<&PortList>,
        top: &str,
        skip_discovery: bool,
    ) -> Vec<String> {
        let mut argv = self.base(targets, hosts);
        argv.extend(scan.iter().map(|a| (*a).to_owned()));
        if skip_discovery {
            argv.push("-Pn".into());
        }
        match ports {
            Some(list) => argv.extend(["-p".into(), list.to_string()]),
            None => argv.extend(["--top-ports".into(), top.to_owned()]),
        }
        argv
    }

    /// Version detection on the open ports only, with the TLS scripts when asked for. Every
    /// port probed (`hosts` × ports listed) gets its probe at once, up to
    /// [`MAX_SERVICE_PARALLELISM`].
    pub fn service(
        &self,
        targets: &Path,
        hosts: usize,
        open: &OpenPorts,
        tls: bool,
    ) -> Vec<String> {
        let mut argv = self.base(targets, hosts);
        argv.push(self.tcp.flag().into());
        if !open.udp.is_empty() {
            argv.push("-sU".into());
        }
        argv.extend([
            "-sV".into(),
            "-Pn".into(),
            "--min-parallelism".into(),
            (hosts * (open.tcp.len() + open.udp.len()))
                .clamp(16, MAX_SERVICE_PARALLELISM)
                .to_string(),
        ]);
        let mut spec = Vec::new();
        if !open.tcp.is_empty() {
            spec.push(format!("T:{}", join(&open.tcp)));
        }
        if !open.udp.is_empty() {
            spec.push(format!("U:{}", join(&open.udp)));
        }
        argv.extend(["-p".into(), spec.join(",")]);
        if tls {
            argv.extend(["--script".into(), TLS_SCRIPTS.into()]);
        }
        argv
    }
}

fn join(ports: &[u16]) -> String {
    ports
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(tcp: TcpScan) -> Profile {
        Profile {
            nmap: "nmap".into(),
            stats_every_secs: 1,
            tcp,
        }
    }

    #[test]
    fn targets_only_ever_come_from_the_file() {
        let p = profile(TcpScan::Syn);
        let file = Path::new("/data/scans/7/targets.txt");
        for argv in [
            p.ping(file, 3),
            p.tcp(file, 3, None, true),
            p.udp(file, 3, None, true),
            p.service(
                file,
                3,
                &OpenPorts {
                    tcp: vec![22, 443],
                    udp: vec![53],
                },
                true,
            ),
        ] {
            let il = argv.iter().position(|a| a == "-iL").expect("-iL");
            assert_eq!(argv[il + 1], "/data/scans/7/targets.txt");
            assert_eq!(argv.iter().filter(|a| a.as_str() == "-iL").count(), 1);
            assert!(argv.contains(&"-oX".to_owned()) && argv.contains(&"--stats-every".to_owned()));
        }
    }

    #[test]
    fn phases_use_their_profiles() {
        let p = profile(TcpScan::Connect);
        let file = Path::new("t.txt");
        let tcp = p.tcp(
            file,
            1000,
            Some(&PortList::parse("22,80-81").expect("present")),
            true,
        );
        assert!(tcp.contains(&"-sT".into()) && tcp.contains(&"-Pn".into()));
        let p_at = tcp.iter().position(|a| a == "-p").expect("present");
        assert_eq!(tcp[p_at + 1], "22,80-81");
        let g = tcp
            .iter()
            .position(|a| a == "--min-hostgroup")
            .expect("present");
        assert_eq!(tcp[g + 1], "256");
        let par = tcp
            .iter()
            .position(|a| a == "--min-parallelism")
            .expect("parallelism");
        assert_eq!(tcp[par + 1], "768", "a group of 256 hosts x 3 ports");
        let small = p.tcp(file, 2, Some(&PortList::parse("22").expect("list")), true);
        let par = small
            .iter()
            .position(|a| a == "--min-parallelism")
            .expect("parallelism");
        assert_eq!(small[par + 1], "64", "at least 64");
        assert!(p.tcp(file, 1, None, false).contains(&"--top-ports".into()));
        let svc = p.service(
            file,
            2,
            &OpenPorts {
                tcp: vec![22, 443],
                udp: vec![],
            },
            false,
        );
        let p_at = svc.iter().position(|a| a == "-p").expect("present");
        assert_eq!(svc[p_at + 1], "T:22,443");
        assert!(!svc.contains(&"--script".into()) && !svc.contains(&"-sU".into()));
        assert!(p.ping(file, 1).contains(&"-sn".into()));
        // Version detection probes every open port at once (up to a cap).
        let many = OpenPorts {
            tcp: (1..=300).collect(),
            udp: vec![],
        };
        let svc = p.service(file, 4, &many, false);
        let par = svc
            .iter()
            .position(|a| a == "--min-parallelism")
            .expect("parallelism");
        assert_eq!(svc[par + 1], "1024");
    }

    #[test]
    fn auto_scan_type_depends_on_privilege() {
        assert_eq!(TcpScan::from_setting("auto", true), TcpScan::Syn);
        assert_eq!(TcpScan::from_setting("auto", false), TcpScan::Connect);
        assert_eq!(TcpScan::from_setting("connect", true), TcpScan::Connect);
    }
}
