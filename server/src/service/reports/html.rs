//! The HTML report: one self-contained dark page (inline CSS, screenshots as data URIs, no
//! scripts, no external assets) that someone who never saw the dashboard can read.

use std::fmt::Write;

use base64::Engine;

use super::model::{PortPart, Report, ServicePart};

/// Screenshots larger than this are left out of the HTML (they stay in the ZIP).
const MAX_INLINE_IMAGE: usize = 2 * 1024 * 1024;

const STYLE: &str = "
:root{color-scheme:dark}
body{margin:0;background:#0f1419;color:#d7dde4;font:14px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif}
main{max-width:1100px;margin:0 auto;padding:24px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:32px 0 8px;border-bottom:1px solid #263040;padding-bottom:4px}
h3{font-size:15px;margin:20px 0 6px;color:#9fb3c8}
.muted{color:#8a96a3}.cards{display:flex;flex-wrap:wrap;gap:12px;margin:16px 0}
.card{background:#161d26;border:1px solid #263040;border-radius:8px;padding:10px 14px;min-width:120px}
.card b{display:block;font-size:20px;color:#fff}
table{width:100%;border-collapse:collapse;margin:6px 0 12px;background:#131a22}
th,td{text-align:left;padding:6px 8px;border-bottom:1px solid #222c38;vertical-align:top}
th{color:#9fb3c8;font-weight:600;background:#161d26}
.tag{display:inline-block;padding:0 6px;border-radius:4px;font-size:12px;font-weight:600}
.ok{background:#12351f;color:#6fdc8c}.bad{background:#3d1418;color:#ff8389}.warn{background:#3a2c0b;color:#f1c21b}
.high{color:#ff8389}.medium{color:#f1c21b}.low{color:#78a9ff}
code{font:12px ui-monospace,SFMono-Regular,Menlo,monospace;color:#c6d0da;word-break:break-all}
img{max-width:100%;border:1px solid #263040;border-radius:6px;margin:6px 0}
footer{margin-top:32px;color:#8a96a3;font-size:12px}
";

/// Escapes text for HTML element content and attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

fn opt(v: Option<&str>) -> String {
    v.map_or_else(|| "—".to_owned(), esc)
}

/// Renders the report; `screenshot` reads a screenshot's bytes by its stored path.
pub fn render(report: &Report, screenshot: impl Fn(&str) -> Option<Vec<u8>>) -> String {
    let s = &report.scan;
    let mut h = String::with_capacity(64 * 1024);
    let _ = write!(
        h,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{title} — SneakyScanner report</title><style>{STYLE}</style></head><body><main>\
         <h1>{title}</h1><div class=\"muted\">Scan #{id} · {status} · started {started} · finished {finished} · by {by}</div>",
        title = esc(&s.title),
        id = s.id,
        status = esc(&s.status),
        started = s.started_at.map_or("—".into(), |t| t
            .format("%Y-%m-%d %H:%M:%S UTC")
            .to_string()),
        finished = s.completed_at.map_or("—".into(), |t| t
            .format("%Y-%m-%d %H:%M:%S UTC")
            .to_string()),
        by = esc(&s.triggered_by),
    );
    if let Some(m) = &s.error_message {
        let _ = write!(h, "<p class=\"high\">{}</p>", esc(m));
    }
    let sum = &s.summary;
    h.push_str("<div class=\"cards\">");
    for (label, value) in [
        ("Hosts", sum.hosts_total),
        ("Hosts up", sum.hosts_up),
        ("Open ports", sum.open_ports),
        ("Services", sum.services),
        ("Certificates", sum.certificates),
        ("Unexpected ports", sum.unexpected_ports),
        ("Missing ports", sum.missing_ports),
    ] {
        let _ = write!(h, "<div class=\"card\">{label}<b>{value}</b></div>");
    }
    h.push_str("</div>");

    let _ = write!(h, "<h2>Findings ({})</h2>", report.findings.len());
    if report.findings.is_empty() {
        h.push_str("<p class=\"muted\">Nothing to report.</p>");
    } else {
        h.push_str("<table><tr><th>Severity</th><th>Code</th><th>Where</th><th>What</th></tr>");
        for f in &report.findings {
            let place = match (f.port, &f.protocol) {
                (Some(p), Some(proto)) => format!("{}:{p}/{proto}", f.address),
                _ => f.address.clone(),
            };
            let _ = write!(
                h,
                "<tr><td class=\"{sev}\">{sev}</td><td><code>{code}</code></td><td>{site} · {place}</td><td>{msg}</td></tr>",
                sev = f.severity,
                code = f.code,
                site = esc(&f.site),
                place = esc(&place),
                msg = esc(&f.message),
            );
        }
        h.push_str("</table>");
    }

    for site in &report.sites {
        let _ = write!(h, "<h2>Site: {}</h2>", esc(&site.name));
        if site.ips.is_empty() {
            h.push_str("<p class=\"muted\">No addresses.</p>");
        }
        for ip in &site.ips {
            let status_class = if ip.status == "up" { "ok" } else { "bad" };
            let ping = match (ip.expected.ping, ip.actual.ping) {
                (Some(e), Some(a)) if e == a => {
                    "<span class=\"tag ok\">ping as expected</span>".to_owned()
                }
                (Some(e), a) => format!(
                    "<span class=\"tag warn\">ping expected {}, actual {}</span>",
                    yes_no(Some(e)),
                    yes_no(a)
                ),
                (None, a) => format!("<span class=\"muted\">ping {}</span>", yes_no(a)),
            };
            let _ = write!(
                h,
                "<h3>{addr}{host} <span class=\"tag {status_class}\">{status}</span> {ping}</h3>",
                addr = esc(&ip.address),
                host = ip
                    .hostname
                    .as_deref()
                    .map(|n| format!(" ({})", esc(n)))
                    .unwrap_or_default(),
                status = esc(&ip.status),
            );
            if ip.ports.is_empty() {
                h.push_str("<p class=\"muted\">No open or expected ports.</p>");
                continue;
            }
            h.push_str("<table><tr><th>Port</th><th>State</th><th>Verdict</th><th>Service</th><th>HTTP</th><th>TLS</th></tr>");
            for p in &ip.ports {
                port_row(&mut h, p);
            }
            h.push_str("</table>");
            for p in &ip.ports {
                if let Some(svc) = &p.service {
                    details(&mut h, &ip.address, p, svc, &screenshot);
                }
            }
        }
    }
    if !s.command_lines.is_empty() {
        h.push_str("<h2>Command lines</h2>");
        for line in &s.command_lines {
            let _ = write!(h, "<p><code>{}</code></p>", esc(&line.join(" ")));
        }
    }
    let _ = write!(
        h,
        "<footer>{} · report schema v{} · generated {}</footer></main></body></html>",
        esc(&report.generator),
        report.schema_version,
        report.generated_at.format("%Y-%m-%d %H:%M:%S UTC")
    );
    h
}

fn yes_no(v: Option<bool>) -> &'static str {
    match v {
        Some(true) => "yes",
        Some(false) => "no",
        None => "unknown",
    }
}

fn port_row(h: &mut String, p: &PortPart) {
    let verdict = if p.unexpected {
        "<span class=\"tag bad\">unexpected</span>"
    } else if p.missing {
        "<span class=\"tag bad\">missing</span>"
    } else if p.expected {
        "<span class=\"tag ok\">expected</span>"
    } else {
        "<span class=\"muted\">—</span>"
    };
    let svc = p.service.as_ref();
    let service = svc
        .map(|s| {
            [
                s.name.as_deref(),
                s.product.as_deref(),
                s.version.as_deref(),
            ]
            .into_iter()
            .flatten()
            .map(esc)
            .collect::<Vec<_>>()
            .join(" ")
        })
        .unwrap_or_default();
    let http = svc
        .and_then(|s| s.http.as_ref())
        .map(|x| {
            format!(
                "{} {}",
                x.status.map(|s| s.to_string()).unwrap_or_default(),
                opt(x.title.as_deref())
            )
        })
        .unwrap_or_default();
    let tls = svc
        .map(|s| {
            s.tls_versions
                .iter()
                .map(|t| esc(&t.version))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default();
    let _ = write!(
        h,
        "<tr><td>{}/{}</td><td>{}</td><td>{verdict}</td><td>{service}</td><td>{http}</td><td>{tls}</td></tr>",
        p.port,
        esc(&p.protocol),
        esc(&p.state)
    );
}

fn details(
    h: &mut String,
    address: &str,
    p: &PortPart,
    s: &ServicePart,
    screenshot: &impl Fn(&str) -> Option<Vec<u8>>,
) {
    if s.http.is_none() && s.certificate.is_none() && s.screenshot_path.is_none() {
        return;
    }
    let _ = write!(
        h,
        "<h3>{}:{}/{}</h3>",
        esc(address),
        p.port,
        esc(&p.protocol)
    );
    if let Some(x) = &s.http {
        let _ = write!(
            h,
            "<table><tr><th>HTTP status</th><th>Title</th><th>Server</th><th>Redirect</th><th>Response</th></tr>\
             <tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr></table>",
            x.status.map_or("—".into(), |s| s.to_string()),
            opt(x.title.as_deref()),
            opt(x.server.as_deref()),
            opt(x.location.as_deref()),
            x.response_ms.map_or("—".into(), |ms| format!("{ms} ms")),
        );
    }
    if let Some(c) = &s.certificate {
        let _ = write!(
            h,
            "<table><tr><th>Subject</th><td>{}</td></tr><tr><th>Issuer</th><td>{}</td></tr>\
             <tr><th>SANs</th><td>{}</td></tr><tr><th>Valid</th><td>{} → {}</td></tr>\
             <tr><th>Serial</th><td><code>{}</code></td></tr><tr><th>SHA-256</th><td><code>{}</code></td></tr>\
             <tr><th>Key</th><td>{} {}</td></tr><tr><th>Signature</th><td>{}</td></tr><tr><th>Self-signed</th><td>{}</td></tr></table>",
            esc(&c.subject),
            esc(&c.issuer),
            esc(&c.sans.join(", ")),
            c.not_before
                .map_or("—".into(), |t| t.format("%Y-%m-%d").to_string()),
            c.not_after
                .map_or("—".into(), |t| t.format("%Y-%m-%d").to_string()),
            opt(c.serial.as_deref()),
            opt(c.sha256_fingerprint.as_deref()),
            opt(c.key_type.as_deref()),
            c.key_bits.map(|b| format!("{b} bits")).unwrap_or_default(),
            opt(c.signature_algorithm.as_deref()),
            if c.self_signed { "yes" } else { "no" },
        );
    }
    if !s.tls_versions.is_empty() {
        h.push_str("<table><tr><th>TLS version</th><th>Grade</th><th>Ciphers</th></tr>");
        for t in &s.tls_versions {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
                esc(&t.version),
                opt(t.grade.as_deref()),
                esc(&t.ciphers.join(" "))
            );
        }
        h.push_str("</table>");
    }
    if let Some(bytes) = s
        .screenshot_path
        .as_deref()
        .and_then(screenshot)
        .filter(|b| b.len() <= MAX_INLINE_IMAGE)
    {
        let _ = write!(
            h,
            "<img alt=\"Screenshot of {}:{}\" src=\"data:image/png;base64,{}\">",
            esc(address),
            p.port,
            base64::engine::general_purpose::STANDARD.encode(bytes)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            esc("<script>\"x\"&'y'"),
            "&lt;script&gt;&quot;x&quot;&amp;&#39;y&#39;"
        );
    }
}
