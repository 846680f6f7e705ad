//! Throughput of the streaming parser on a synthetic 10,000-host `-sV` document (~20 MB, the
//! size the import budget in DESIGN.md §11 is about). No benchmark framework: run with
//! `cargo bench -p nmap-parser` and read the printed numbers.

use std::hint::black_box;
use std::time::{Duration, Instant};

use nmap_parser::{Event, NmapReader};

const HOSTS: usize = 10_000;

/// A `-sV` document shaped like nmap 7.93's: 4–5 open ports per host with probed services and
/// CPEs, an extraports summary, and an ssl-cert script on every tenth host.
fn document() -> String {
    let mut xml = String::with_capacity(24 << 20);
    xml.push_str(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE nmaprun>\n\
         <nmaprun scanner=\"nmap\" args=\"nmap -sV -oX - -iL targets\" start=\"1795225603\" \
         version=\"7.93\" xmloutputversion=\"1.05\">\n\
         <scaninfo type=\"syn\" protocol=\"tcp\" numservices=\"1000\" services=\"1-1000\"/>\n",
    );
    for i in 0..HOSTS {
        let (a, b) = (i / 250, i % 250 + 1);
        xml.push_str(&format!(
            "<host starttime=\"1795225603\" endtime=\"1795225616\"><status state=\"up\" \
             reason=\"syn-ack\" reason_ttl=\"64\"/>\n<address addr=\"127.0.{a}.{b}\" \
             addrtype=\"ipv4\"/>\n<hostnames>\n<hostname name=\"host{i}.probe.local\" \
             type=\"PTR\"/>\n</hostnames>\n<ports><extraports state=\"closed\" count=\"995\">\n\
             <extrareasons reason=\"reset\" count=\"995\" proto=\"tcp\" ports=\"1-21,23-79\"/>\n\
             </extraports>\n"
        ));
        let open = if i % 2 == 0 { 4 } else { 5 };
        for (port, name, product, version) in [
            (22, "ssh", "OpenSSH", "9.2p1 Debian 2+deb12u3"),
            (80, "http", "nginx", "1.24.0"),
            (443, "http", "nginx", "1.24.0"),
            (5432, "postgresql", "PostgreSQL DB", "15.6 - 15.8"),
            (8080, "http", "SimpleHTTPServer", "0.6"),
        ]
        .into_iter()
        .take(open)
        {
            xml.push_str(&format!(
                "<port protocol=\"tcp\" portid=\"{port}\"><state state=\"open\" reason=\"syn-ack\" \
                 reason_ttl=\"64\"/><service name=\"{name}\" product=\"{product}\" \
                 version=\"{version}\" extrainfo=\"protocol 2.0\" method=\"probed\" conf=\"10\">\
                 <cpe>cpe:/a:vendor:{name}:{port}</cpe><cpe>cpe:/o:linux:linux_kernel</cpe>\
                 </service>"
            ));
            if port == 443 && i % 10 == 0 {
                xml.push_str(
                    "<script id=\"ssl-cert\" output=\"Subject: commonName=probe.local&#xa;Not \
                     valid after:  2026-12-21T01:46:41\"><table key=\"subject\">\n<elem \
                     key=\"commonName\">probe.local</elem>\n</table>\n<table key=\"validity\">\n\
                     <elem key=\"notBefore\">2026-11-21T01:46:41</elem>\n<elem \
                     key=\"notAfter\">2026-12-21T01:46:41</elem>\n</table>\n</script>",
                );
            }
            xml.push_str("</port>\n");
        }
        xml.push_str("</ports>\n<times srtt=\"10\" rttvar=\"2817\" to=\"100000\"/>\n</host>\n");
    }
    xml.push_str(
        "<runstats><finished time=\"1795225616\" elapsed=\"12.77\" exit=\"success\"/>\
         <hosts up=\"10000\" down=\"0\" total=\"10000\"/>\n</runstats>\n</nmaprun>\n",
    );
    xml
}

fn main() {
    let xml = document();
    let mb = xml.len() as f64 / 1e6;
    let mut best = Duration::MAX;
    let mut ports = 0;
    for _ in 0..5 {
        let started = Instant::now();
        ports = 0;
        for event in NmapReader::new(xml.as_bytes()) {
            match event {
                Ok(Event::Host(host)) => ports += black_box(host).ports.len(),
                Ok(_) => {}
                Err(err) => panic!("synthetic document failed to parse: {err}"),
            }
        }
        best = best.min(started.elapsed());
    }
    println!(
        "streaming parse: {HOSTS} hosts, {ports} ports, {mb:.1} MB in {:.1} ms (best of 5) = {:.0} MB/s",
        best.as_secs_f64() * 1e3,
        mb / best.as_secs_f64()
    );
}
