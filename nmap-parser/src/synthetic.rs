//! Synthetic nmap documents for benchmarks and load tests (addresses in 127.0.0.0/8 only).

/// A `-sV` document shaped like nmap 7.93's: 4–5 open ports per host with probed services and
/// CPEs, an extraports summary, and an ssl-cert script on every tenth host.
pub fn service_scan(hosts: usize) -> String {
    let mut xml = String::with_capacity(24 << 20);
    xml.push_str(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE nmaprun>\n\
         <nmaprun scanner=\"nmap\" args=\"nmap -sV -oX - -iL targets\" start=\"1795225603\" \
         version=\"7.93\" xmloutputversion=\"1.05\">\n\
         <scaninfo type=\"syn\" protocol=\"tcp\" numservices=\"1000\" services=\"1-1000\"/>\n",
    );
    for i in 0..hosts {
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
    xml.push_str(&format!(
        "<runstats><finished time=\"1795225616\" elapsed=\"12.77\" exit=\"success\"/>\
         <hosts up=\"{hosts}\" down=\"0\" total=\"{hosts}\"/>\n</runstats>\n</nmaprun>\n"
    ));
    xml
}

/// A later scan of the same hosts as a [`service_scan`] document `first`: every 7th host's nginx
/// upgraded, every 11th without its ssh port, every 13th with a new port 631 (for diff
/// benchmarks and parity tests).
pub fn changed_service_scan(first: &str) -> String {
    let mut out = String::with_capacity(first.len() + (1 << 20));
    for (i, part) in first.split("<host ").enumerate() {
        if i == 0 {
            out.push_str(part);
            continue;
        }
        let n = i - 1;
        let mut host = part.to_owned();
        if n % 7 == 0 {
            host = host.replace(
                "product=\"nginx\" version=\"1.24.0\"",
                "product=\"nginx\" version=\"1.26.2\"",
            );
        }
        if n % 11 == 0
            && let (Some(start), Some(end)) = (
                host.find("<port protocol=\"tcp\" portid=\"22\">"),
                host.find("<port protocol=\"tcp\" portid=\"80\">"),
            )
        {
            host.replace_range(start..end, "");
        }
        if n % 13 == 0 {
            host = host.replacen(
                "</ports>",
                "<port protocol=\"tcp\" portid=\"631\"><state state=\"open\" reason=\"syn-ack\" \
                 reason_ttl=\"64\"/><service name=\"ipp\" product=\"CUPS\" version=\"2.4\" \
                 method=\"probed\" conf=\"10\"/></port>\n</ports>",
                1,
            );
        }
        out.push_str("<host ");
        out.push_str(&host);
    }
    out
}
