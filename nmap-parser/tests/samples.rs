//! Parses each recorded sample and checks the values that are really in it.

mod common;

use common::{ALL_SAMPLES, data};
use nmap_parser::{
    AddrType, Event, HostState, NmapReader, NmapRun, PortState, Protocol, Script, ScriptElem,
    parse, parse_str,
};

fn parse_sample(name: &str) -> NmapRun {
    parse(&data(name)[..]).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn addrs(run: &NmapRun) -> Vec<String> {
    run.hosts
        .iter()
        .map(|h| h.primary_address().expect("address").addr.clone())
        .collect()
}

/// `(portid, state, service name)` of every port of a host.
fn port_summary(run: &NmapRun, host: usize) -> Vec<(u16, PortState, String)> {
    run.hosts[host]
        .ports
        .iter()
        .map(|p| {
            let name = p
                .service
                .as_ref()
                .map(|s| s.name.clone())
                .unwrap_or_default();
            (p.portid, p.state, name)
        })
        .collect()
}

#[test]
fn parse_returns_hosts_when_sample_is_service_scan() {
    let run = parse_sample("nmap_sV_root.xml");

    assert_eq!(run.scanner, "nmap");
    assert_eq!(run.version.as_deref(), Some("7.93"));
    assert_eq!(run.start, Some(1_795_225_603));
    assert_eq!(run.xml_output_version.as_deref(), Some("1.05"));
    assert_eq!(
        run.args.as_deref(),
        Some("nmap -sV -oX root_sV.xml -p 8080,8443,22 127.0.0.2 127.0.0.3")
    );
    assert_eq!(run.scaninfo.len(), 1);
    assert_eq!(run.scaninfo[0].scan_type, "syn");
    assert_eq!(run.scaninfo[0].protocol, Protocol::Tcp);
    assert_eq!(run.scaninfo[0].num_services, Some(3));
    assert_eq!(run.scaninfo[0].services.as_deref(), Some("22,8080,8443"));

    assert_eq!(addrs(&run), ["127.0.0.2", "127.0.0.3"]);
    let first = &run.hosts[0];
    assert_eq!(first.status.state, HostState::Up);
    assert_eq!(first.status.reason.as_deref(), Some("localhost-response"));
    assert_eq!(first.start_time, Some(1_795_225_603));
    assert_eq!(first.end_time, Some(1_795_225_616));
    assert_eq!(first.addresses[0].addrtype, AddrType::Ipv4);
    assert!(first.hostnames.is_empty());
    assert_eq!(
        port_summary(&run, 0),
        [
            (22, PortState::Closed, "ssh".to_owned()),
            (8080, PortState::Open, "http".to_owned()),
            (8443, PortState::Closed, "https-alt".to_owned()),
        ]
    );
    assert_eq!(
        port_summary(&run, 1),
        [
            (22, PortState::Closed, "ssh".to_owned()),
            (8080, PortState::Closed, "http-proxy".to_owned()),
            (8443, PortState::Open, "http".to_owned()),
        ]
    );

    let http = first.port(Protocol::Tcp, 8080).expect("8080");
    assert_eq!(http.reason.as_deref(), Some("syn-ack"));
    assert_eq!(http.reason_ttl, Some(64));
    let service = http.service.as_ref().expect("service");
    assert_eq!(service.product.as_deref(), Some("SimpleHTTPServer"));
    assert_eq!(service.version.as_deref(), Some("0.6"));
    assert_eq!(service.extra_info.as_deref(), Some("Python 3.11.7"));
    assert_eq!(service.method.as_deref(), Some("probed"));
    assert_eq!(service.conf, Some(10));
    assert_eq!(service.tunnel, None);
    assert_eq!(service.cpes, ["cpe:/a:python:simplehttpserver:0.6"]);

    let closed = first.port(Protocol::Tcp, 22).expect("22");
    assert_eq!(closed.reason.as_deref(), Some("reset"));
    let guess = closed.service.as_ref().expect("service");
    assert_eq!(
        (guess.method.as_deref(), guess.conf),
        (Some("table"), Some(3))
    );
    assert!(guess.cpes.is_empty());

    let https = run.hosts[1].port(Protocol::Tcp, 8443).expect("8443");
    assert_eq!(
        https.service.as_ref().and_then(|s| s.tunnel.as_deref()),
        Some("ssl")
    );

    let stats = run.runstats.expect("runstats");
    assert_eq!(
        (stats.hosts_up, stats.hosts_down, stats.hosts_total),
        (2, 0, 2)
    );
    assert_eq!(stats.elapsed, Some(12.77));
    assert_eq!(stats.finished, Some(1_795_225_616));
    assert_eq!(stats.exit.as_deref(), Some("success"));
    assert_eq!(stats.time_str.as_deref(), Some("Sat Nov 21 01:46:56 2026"));
}

#[test]
fn parse_returns_connect_scan_hosts_when_sample_is_unprivileged_service_scan() {
    let run = parse_sample("nmap_sV_unpriv.xml");

    assert_eq!(run.scaninfo[0].scan_type, "connect");
    // The two <hosthint>s are not hosts of the finished run.
    assert_eq!(addrs(&run), ["127.0.0.2", "127.0.0.3"]);
    assert_eq!(run.hosts[0].status.reason.as_deref(), Some("conn-refused"));
    assert_eq!(run.hosts[0].start_time, Some(1_795_225_618));
    let closed = run.hosts[0].port(Protocol::Tcp, 22).expect("22");
    assert_eq!(closed.state, PortState::Closed);
    assert_eq!(closed.reason.as_deref(), Some("conn-refused"));
    assert_eq!(closed.reason_ttl, Some(0));
    assert_eq!(
        run.hosts[1]
            .open_ports()
            .map(|p| p.portid)
            .collect::<Vec<_>>(),
        [8443]
    );
    assert_eq!(run.runstats.expect("runstats").elapsed, Some(13.0));
}

#[test]
fn parse_returns_every_host_when_sample_is_ping_sweep() {
    for name in ["nmap_sn_root.xml", "nmap_sn_unpriv.xml"] {
        let run = parse_sample(name);
        let expected: Vec<String> = (0..16).map(|i| format!("127.0.0.{i}")).collect();
        assert_eq!(addrs(&run), expected, "{name}");
        assert!(run.scaninfo.is_empty(), "{name}");
        assert!(run.hosts.iter().all(|h| h.is_up() && h.ports.is_empty()));
        assert!(run.hosts.iter().all(|h| h.start_time.is_none()));

        let localhost = &run.hosts[1];
        assert_eq!(localhost.hostname(), Some("localhost"));
        assert_eq!(localhost.hostnames[0].kind.as_deref(), Some("PTR"));
        assert_eq!(run.hosts[2].hostname(), None);

        let stats = run.runstats.expect("runstats");
        assert_eq!((stats.hosts_up, stats.hosts_total), (16, 16));
    }
    let unpriv = parse_sample("nmap_sn_unpriv.xml");
    assert_eq!(
        unpriv.hosts[0].status.reason.as_deref(),
        Some("conn-refused")
    );
    assert_eq!(unpriv.args.as_deref(), Some("nmap -sn -oX - 127.0.0.0/28"));
}

fn cipher_names(script: &Script, version: &str) -> Vec<(String, String)> {
    script
        .table(&[version, "ciphers"])
        .expect("ciphers")
        .iter()
        .map(|c| {
            let get = |k: &str| {
                c.get(k)
                    .and_then(ScriptElem::value)
                    .unwrap_or("")
                    .to_owned()
            };
            (get("name"), get("strength"))
        })
        .collect()
}

#[test]
fn parse_returns_ssl_cert_and_ciphers_when_sample_has_ssl_scripts() {
    for name in ["nmap_ssl_root.xml", "nmap_ssl_unpriv.xml"] {
        let run = parse_sample(name);
        assert_eq!(run.hosts.len(), 1, "{name}");
        let host = &run.hosts[0];
        assert_eq!(host.ipv4(), Some([127, 0, 0, 3].into()));
        assert_eq!(
            run.args.as_deref().map(|a| a.contains("--script ssl-cert")),
            Some(true)
        );
        let port = host.port(Protocol::Tcp, 8443).expect("8443");
        assert!(port.is_open());
        let ids: Vec<&str> = port.scripts.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids.len(), 3, "{name}: {ids:?}");

        let cert = port.script("ssl-cert").expect("ssl-cert");
        assert_eq!(cert.value(&["subject", "commonName"]), Some("probe.local"));
        assert_eq!(
            cert.value(&["subject", "organizationName"]),
            Some("Probe Test")
        );
        assert_eq!(cert.value(&["issuer", "commonName"]), Some("probe.local"));
        assert_eq!(
            cert.value(&["validity", "notBefore"]),
            Some("2026-11-21T01:46:41")
        );
        assert_eq!(
            cert.value(&["validity", "notAfter"]),
            Some("2026-12-21T01:46:41")
        );
        assert_eq!(cert.value(&["pubkey", "type"]), Some("rsa"));
        assert_eq!(cert.value(&["pubkey", "bits"]), Some("2048"));
        assert_eq!(cert.value(&["sig_algo"]), Some("sha256WithRSAEncryption"));
        assert_eq!(
            cert.value(&["sha1"]),
            Some("22796570a64edc698f6898a6cbb2e8cf004b570b")
        );
        let pem = cert.value(&["pem"]).expect("pem");
        assert!(
            pem.starts_with("-----BEGIN CERTIFICATE-----\nMIIDVTCC"),
            "{pem}"
        );
        assert!(pem.ends_with("-----END CERTIFICATE-----\n"));
        assert!(
            cert.output
                .starts_with("Subject: commonName=probe.local/organizationName=Probe Test\n")
        );
        assert!(
            cert.output
                .contains("Not valid after:  2026-12-21T01:46:41")
        );
        // Extensions are a list of anonymous tables.
        let extensions = cert.table(&["extensions"]).expect("extensions");
        assert_eq!(extensions.len(), 4);
        assert_eq!(extensions[2].key(), None);
        assert_eq!(
            extensions[2].get("name").and_then(ScriptElem::value),
            Some("X509v3 Basic Constraints")
        );
        assert_eq!(
            extensions[2].get("critical").and_then(ScriptElem::value),
            Some("true")
        );

        let ciphers = port.script("ssl-enum-ciphers").expect("ssl-enum-ciphers");
        let versions: Vec<&str> = ciphers
            .elements
            .iter()
            .filter_map(ScriptElem::key)
            .collect();
        assert_eq!(versions, ["TLSv1.2", "TLSv1.3", "least strength"]);
        assert_eq!(ciphers.value(&["least strength"]), Some("A"));
        let tls12 = cipher_names(ciphers, "TLSv1.2");
        assert_eq!(tls12.len(), 5);
        assert_eq!(
            tls12[0],
            (
                "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384".to_owned(),
                "A".to_owned()
            )
        );
        assert!(tls12.iter().all(|(_, grade)| grade == "A"));
        let tls13 = cipher_names(ciphers, "TLSv1.3");
        assert_eq!(
            tls13.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
            [
                "TLS_AKE_WITH_AES_256_GCM_SHA384",
                "TLS_AKE_WITH_CHACHA20_POLY1305_SHA256",
                "TLS_AKE_WITH_AES_128_GCM_SHA256",
            ]
        );
        assert_eq!(
            ciphers.value(&["TLSv1.2", "cipher preference"]),
            Some("server")
        );
        assert_eq!(
            ciphers
                .table(&["TLSv1.2", "compressors"])
                .map(|c| c[0].value()),
            Some(Some("NULL"))
        );
        assert!(ciphers.output.starts_with("\n  TLSv1.2: \n    ciphers: \n"));
    }

    let root = parse_sample("nmap_ssl_root.xml");
    let header = root.hosts[0].ports[0]
        .script("http-server-header")
        .expect("header");
    assert_eq!(header.output, "SimpleHTTP/0.6 Python/3.11.7");
    assert_eq!(
        header.elements,
        [ScriptElem::Elem {
            key: None,
            value: "SimpleHTTP/0.6 Python/3.11.7".to_owned()
        }]
    );
}

#[test]
fn parse_returns_grade_f_and_expired_cert_when_sample_is_weak_tls10() {
    let run = parse_sample("nmap_ssl_weak_tls10_expired.xml");
    let host = &run.hosts[0];
    assert_eq!(host.ipv4(), Some([127, 0, 0, 4].into()));
    let port = host.port(Protocol::Tcp, 8444).expect("8444");
    let service = port.service.as_ref().expect("service");
    assert_eq!(service.name, "pcsync-http");
    assert_eq!(service.tunnel.as_deref(), Some("ssl"));
    assert_eq!(service.product, None);
    assert_eq!(service.conf, Some(3));

    let ciphers = port.script("ssl-enum-ciphers").expect("ssl-enum-ciphers");
    let versions: Vec<&str> = ciphers
        .elements
        .iter()
        .filter_map(ScriptElem::key)
        .collect();
    assert_eq!(versions, ["TLSv1.0", "least strength"]);
    assert_eq!(ciphers.value(&["least strength"]), Some("F"));
    let tls10 = cipher_names(ciphers, "TLSv1.0");
    assert_eq!(tls10.len(), 16);
    assert_eq!(tls10.iter().filter(|(_, g)| g == "F").count(), 6);
    assert!(tls10.contains(&(
        "TLS_DH_anon_WITH_AES_128_CBC_SHA".to_owned(),
        "F".to_owned()
    )));
    assert_eq!(
        ciphers.value(&["TLSv1.0", "cipher preference"]),
        Some("client")
    );
    assert_eq!(
        ciphers
            .table(&["TLSv1.0", "warnings"])
            .and_then(|w| w[0].value()),
        Some("Anonymous key exchange, score capped at F")
    );

    let cert = port.script("ssl-cert").expect("ssl-cert");
    assert_eq!(
        cert.value(&["subject", "commonName"]),
        Some("expired.probe.local")
    );
    assert_eq!(
        cert.value(&["validity", "notAfter"]),
        Some("2025-11-27T00:00:00")
    );
    assert_eq!(cert.value(&["pubkey", "bits"]), Some("1024"));
    assert_eq!(run.runstats.map(|s| s.hosts_up), Some(1));
}

#[test]
fn parse_returns_ports_and_banner_when_sample_is_masscan() {
    let run = parse_sample("masscan_syn_banners.xml");
    assert_eq!(run.scanner, "masscan");
    assert_eq!(run.version.as_deref(), Some("1.0-BETA"));
    assert_eq!(run.args, None);
    assert_eq!(run.start, Some(1_795_226_000));
    assert_eq!(run.xml_output_version.as_deref(), Some("1.03"));
    assert_eq!(run.scaninfo[0].scan_type, "syn");

    // masscan writes one <host> per finding.
    assert_eq!(
        addrs(&run),
        [
            "127.0.99.5",
            "127.0.99.5",
            "127.0.99.7",
            "127.0.99.7",
            "127.0.99.9",
            "::1"
        ]
    );
    assert_eq!(run.hosts[0].status.state, HostState::Unknown);
    assert_eq!(run.hosts[0].end_time, Some(1_795_226_001));
    let ports: Vec<(u16, PortState)> = run
        .hosts
        .iter()
        .flat_map(|h| h.ports.iter().map(|p| (p.portid, p.state)))
        .collect();
    assert_eq!(
        ports,
        [
            (22, PortState::Open),
            (443, PortState::Open),
            (80, PortState::Open),
            (80, PortState::Open),
            (8080, PortState::Closed),
            (22, PortState::Open),
        ]
    );
    assert_eq!(run.hosts[4].ports[0].reason.as_deref(), Some("rst"));
    assert_eq!(run.hosts[2].ports[0].reason_ttl, Some(63));

    let banner = run.hosts[3].ports[0].service.as_ref().expect("service");
    assert_eq!(banner.name, "http");
    assert_eq!(
        banner.banner.as_deref(),
        Some(r"HTTP/1.1 200 OK\x0d\x0aServer: nginx/1.24.0\x0d\x0a")
    );

    // masscan labels IPv6 addresses addrtype="ipv4"; the parser corrects that.
    let v6 = &run.hosts[5];
    assert_eq!(v6.addresses[0].addrtype, AddrType::Ipv6);
    assert_eq!(v6.ipv4(), None);
    assert_eq!(v6.ip(), Some("::1".parse().expect("ipv6")));

    let stats = run.runstats.expect("runstats");
    assert_eq!(
        (stats.hosts_up, stats.hosts_down, stats.hosts_total),
        (5, 1, 6)
    );
    assert_eq!(stats.elapsed, Some(15.0));
    assert_eq!(stats.time_str.as_deref(), Some("2026-11-21 01:53:35"));
}

#[test]
fn reader_yields_same_hosts_as_parse_when_sample_is_streamed() {
    for name in ALL_SAMPLES {
        let bytes = data(name);
        let run = parse(&bytes[..]).unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut streamed = Vec::new();
        let mut first = None;
        let mut last = None;
        for event in NmapReader::new(&bytes[..]) {
            let event = event.unwrap_or_else(|e| panic!("{name}: {e}"));
            if first.is_none() {
                first = Some(event.clone());
            }
            if let Event::Host(host) = &event {
                streamed.push(host.clone());
            }
            last = Some(event);
        }
        assert_eq!(streamed, run.hosts, "{name}");
        assert!(matches!(first, Some(Event::RunStart(_))), "{name}");
        assert!(matches!(last, Some(Event::RunStats(_))), "{name}");
    }
}

#[test]
fn parse_reads_sample_when_input_is_a_buffered_file() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/nmap_sV_root.xml");
    let file = std::fs::File::open(path).expect("open");
    let run = parse(std::io::BufReader::with_capacity(64, file)).expect("parse");
    assert_eq!(run, parse_sample("nmap_sV_root.xml"));
}

#[test]
fn parse_fills_os_scripts_and_mac_when_document_has_them() {
    // Hand-written in nmap's shape: -O, hostscript, prescript/postscript, a MAC with vendor.
    let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE nmaprun>
<nmaprun scanner="nmap" args="nmap -O -sC 127.0.0.1" start="1795225700" version="7.93" xmloutputversion="1.05">
<prescript><script id="broadcast-ping" output="nothing"/></prescript>
<host starttime="1795225700" endtime="1795225710"><status state="up" reason="arp-response" reason_ttl="0"/>
<address addr="127.0.0.1" addrtype="ipv4"/>
<address addr="02:42:AC:11:00:02" addrtype="mac" vendor="Private"/>
<hostnames><hostname name="box.local" type="user"/><hostname name="localhost" type="PTR"/></hostnames>
<ports><port protocol="udp" portid="53"><state state="open|filtered" reason="no-response" reason_ttl="0"/></port></ports>
<os><portused state="open" proto="tcp" portid="22"/>
<osmatch name="Linux 5.0 - 5.14" accuracy="98" line="67547">
<osclass type="general purpose" vendor="Linux" osfamily="Linux" osgen="5.X" accuracy="98"><cpe>cpe:/o:linux:linux_kernel:5</cpe></osclass>
</osmatch>
<osmatch name="MikroTik RouterOS 7.2 - 7.5 (Linux 5.6.3)" accuracy="91" line="88409"/>
</os>
<distance value="0"/>
<hostscript><script id="smb-os-discovery" output="OS: Unix"><elem key="os">Unix</elem><table key="empty"/><elem key="blank"/></script></hostscript>
</host>
<postscript><script id="reverse-index" output="done"/></postscript>
<runstats><finished time="1795225710" exit="error" errormsg="interrupted"/><hosts up="1" down="0" total="1"/></runstats>
</nmaprun>
"#;
    let run = parse_str(xml).expect("parse");
    assert_eq!(run.prescripts[0].id, "broadcast-ping");
    assert_eq!(run.postscripts[0].output, "done");
    let host = &run.hosts[0];
    assert_eq!(
        host.mac().map(|m| m.vendor.as_deref()),
        Some(Some("Private"))
    );
    assert_eq!(
        host.primary_address().map(|a| a.addr.as_str()),
        Some("127.0.0.1")
    );
    assert_eq!(host.hostname(), Some("box.local"));
    assert_eq!(host.ports[0].protocol, Protocol::Udp);
    assert_eq!(host.ports[0].state, PortState::OpenFiltered);
    assert_eq!(host.os_matches.len(), 2);
    assert_eq!(host.os_matches[0].name, "Linux 5.0 - 5.14");
    assert_eq!(host.os_matches[0].accuracy, 98);
    assert_eq!(
        host.os_matches[0].classes[0].cpes,
        ["cpe:/o:linux:linux_kernel:5"]
    );
    assert_eq!(
        host.os_matches[0].classes[0].device_type.as_deref(),
        Some("general purpose")
    );
    assert_eq!(host.os_matches[1].accuracy, 91);
    assert_eq!(host.distance, Some(0));
    let smb = host.host_script("smb-os-discovery").expect("hostscript");
    assert_eq!(smb.value(&["os"]), Some("Unix"));
    assert_eq!(smb.table(&["empty"]), Some(&[][..]));
    assert_eq!(smb.value(&["blank"]), Some(""));
    let stats = run.runstats.expect("runstats");
    assert_eq!(stats.exit.as_deref(), Some("error"));
    assert_eq!(stats.error_msg.as_deref(), Some("interrupted"));
}
