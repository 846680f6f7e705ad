//! The HTML report: one self-contained dark page (inline CSS, screenshots as data URIs, no
//! scripts, no external assets) that someone who never saw the dashboard can read.
//!
//! The markup is the askama templates `server/templates/report_*.html`, which escape every
//! value by construction (scan titles, hostnames, HTTP titles and certificate subjects come
//! from the network); this module only shapes the report into what the page shows, one
//! fragment at a time (head, each site, each address, tail), so a page of any size is written
//! as a stream.

use std::io::Write;

use askama::Template;
use base64::Engine;
use chrono::{DateTime, Utc};

use super::analysis::Finding;
use super::model::{BaselinePart, ChangePart, IpPart, PortPart, ScanPart, ServicePart};

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

const DASH: &str = "—";

/// The page up to the results: title, facts, summary cards and findings.
#[derive(Template)]
#[template(path = "report_head.html")]
struct Head<'a> {
    style: &'static str,
    scan: &'a ScanPart,
    started: String,
    finished: String,
    cards: [(&'static str, i32); 7],
    findings: Vec<FindingRow<'a>>,
}

/// A site's heading.
#[derive(Template)]
#[template(path = "report_site.html")]
struct SiteHeading<'a> {
    name: &'a str,
    empty: bool,
}

/// One address with its ports and their details.
#[derive(Template)]
#[template(path = "report_ip.html")]
struct IpSection<'a> {
    ip: IpView<'a>,
}

/// Command lines and the footer.
#[derive(Template)]
#[template(path = "report_tail.html")]
struct Tail<'a> {
    scan: &'a ScanPart,
    command_lines: Vec<String>,
    generator: &'a str,
    schema_version: u32,
    generated: String,
}

struct FindingRow<'a> {
    severity: &'a str,
    code: &'a str,
    site: &'a str,
    place: String,
    message: &'a str,
}

struct IpView<'a> {
    address: &'a str,
    hostname: Option<&'a str>,
    status: &'a str,
    status_class: &'static str,
    /// (CSS class, text).
    ping: (&'static str, String),
    ports: Vec<PortRow<'a>>,
    details: Vec<Details<'a>>,
}

struct PortRow<'a> {
    port: u16,
    protocol: &'a str,
    state: &'a str,
    verdict: (&'static str, &'static str),
    service: String,
    http: String,
    tls: String,
}

struct Details<'a> {
    port: u16,
    protocol: &'a str,
    http: Option<HttpRow<'a>>,
    certificate: Option<CertificateRows<'a>>,
    /// (version, grade, ciphers).
    tls: Vec<(&'a str, &'a str, String)>,
    screenshot: Option<String>,
}

struct HttpRow<'a> {
    status: String,
    title: &'a str,
    server: &'a str,
    location: &'a str,
    response: String,
}

struct CertificateRows<'a> {
    subject: &'a str,
    issuer: &'a str,
    sans: String,
    not_before: String,
    not_after: String,
    serial: &'a str,
    sha256: &'a str,
    key: String,
    signature: &'a str,
    self_signed: &'static str,
}

fn or_dash(v: Option<&str>) -> &str {
    v.unwrap_or(DASH)
}

fn time(t: Option<DateTime<Utc>>, format: &str) -> String {
    t.map_or_else(|| DASH.to_owned(), |t| t.format(format).to_string())
}

/// Writes one rendered fragment (rendering into a writer fails only when writing does).
fn emit(template: &impl Template, out: &mut impl Write) -> std::io::Result<()> {
    Template::write_into(template, out)
}

/// The page's head: everything before the results.
pub fn write_head(
    out: &mut impl Write,
    scan: &ScanPart,
    findings: &[Finding],
) -> std::io::Result<()> {
    let sum = &scan.summary;
    emit(
        &Head {
            style: STYLE,
            scan,
            started: time(scan.started_at, "%Y-%m-%d %H:%M:%S UTC"),
            finished: time(scan.completed_at, "%Y-%m-%d %H:%M:%S UTC"),
            cards: [
                ("Hosts", sum.hosts_total),
                ("Hosts up", sum.hosts_up),
                ("Open ports", sum.open_ports),
                ("Services", sum.services),
                ("Certificates", sum.certificates),
                ("Unexpected ports", sum.unexpected_ports),
                ("Missing ports", sum.missing_ports),
            ],
            findings: findings
                .iter()
                .map(|f| FindingRow {
                    severity: f.severity.as_str(),
                    code: f.code.as_str(),
                    site: &f.site,
                    place: match (f.port, &f.protocol) {
                        (Some(p), Some(proto)) => format!("{}:{p}/{proto}", f.address),
                        _ => f.address.clone(),
                    },
                    message: &f.message,
                })
                .collect(),
        },
        out,
    )
}

/// Changes shown in the page at most (all are in the JSON report).
const CHANGES_SHOWN: usize = 1_000;

/// The "Changes since <baseline>" section (report version 2).
#[derive(Template)]
#[template(path = "report_changes.html")]
struct Changes<'a> {
    baseline: Option<String>,
    rows: Vec<ChangeRow<'a>>,
    more: usize,
}

struct ChangeRow<'a> {
    severity: &'a str,
    kind: &'a str,
    site: &'a str,
    place: String,
    summary: &'a str,
}

/// Writes the "Changes since <baseline>" section.
pub fn write_changes(
    out: &mut impl Write,
    baseline: Option<&BaselinePart>,
    changes: &[ChangePart],
) -> std::io::Result<()> {
    emit(
        &Changes {
            baseline: baseline.map(|b| format!("#{} {}", b.id, b.title)),
            rows: changes
                .iter()
                .take(CHANGES_SHOWN)
                .map(|c| ChangeRow {
                    severity: &c.severity,
                    kind: &c.kind,
                    site: c.site.as_deref().unwrap_or_default(),
                    place: match (c.port, &c.protocol) {
                        (Some(p), Some(proto)) => {
                            format!("{}:{p}/{proto}", c.address.as_deref().unwrap_or_default())
                        }
                        _ => c.address.clone().unwrap_or_default(),
                    },
                    summary: &c.summary,
                })
                .collect(),
            more: changes.len().saturating_sub(CHANGES_SHOWN),
        },
        out,
    )
}

/// A site's heading (`empty`: it has no addresses).
pub fn write_site(out: &mut impl Write, name: &str, empty: bool) -> std::io::Result<()> {
    emit(&SiteHeading { name, empty }, out)
}

/// One address; `screenshot` reads a screenshot's bytes by its stored path.
pub fn write_ip(
    out: &mut impl Write,
    ip: &IpPart,
    screenshot: &impl Fn(&str) -> Option<Vec<u8>>,
) -> std::io::Result<()> {
    emit(
        &IpSection {
            ip: ip_view(ip, screenshot),
        },
        out,
    )
}

/// The page's end: command lines and the footer.
pub fn write_tail(
    out: &mut impl Write,
    scan: &ScanPart,
    generator: &str,
    schema_version: u32,
    generated_at: DateTime<Utc>,
) -> std::io::Result<()> {
    emit(
        &Tail {
            scan,
            command_lines: scan.command_lines.iter().map(|l| l.join(" ")).collect(),
            generator,
            schema_version,
            generated: generated_at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
        },
        out,
    )
}

fn ip_view<'a>(ip: &'a IpPart, screenshot: &impl Fn(&str) -> Option<Vec<u8>>) -> IpView<'a> {
    let ping = match (ip.expected.ping, ip.actual.ping) {
        (Some(e), Some(a)) if e == a => ("tag ok", "ping as expected".to_owned()),
        (Some(e), a) => (
            "tag warn",
            format!("ping expected {}, actual {}", yes_no(Some(e)), yes_no(a)),
        ),
        (None, a) => ("muted", format!("ping {}", yes_no(a))),
    };
    IpView {
        address: &ip.address,
        hostname: ip.hostname.as_deref(),
        status: &ip.status,
        status_class: if ip.status == "up" { "ok" } else { "bad" },
        ping,
        ports: ip.ports.iter().map(port_row).collect(),
        details: ip
            .ports
            .iter()
            .filter_map(|p| {
                let svc = p.service.as_ref()?;
                details(p, svc, screenshot)
            })
            .collect(),
    }
}

fn yes_no(v: Option<bool>) -> &'static str {
    match v {
        Some(true) => "yes",
        Some(false) => "no",
        None => "unknown",
    }
}

fn port_row(p: &PortPart) -> PortRow<'_> {
    let verdict = if p.unexpected {
        ("tag bad", "unexpected")
    } else if p.missing {
        ("tag bad", "missing")
    } else if p.expected {
        ("tag ok", "expected")
    } else {
        ("muted", DASH)
    };
    let svc = p.service.as_ref();
    PortRow {
        port: p.port,
        protocol: &p.protocol,
        state: &p.state,
        verdict,
        service: svc
            .map(|s| {
                [
                    s.name.as_deref(),
                    s.product.as_deref(),
                    s.version.as_deref(),
                ]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ")
            })
            .unwrap_or_default(),
        http: svc
            .and_then(|s| s.http.as_ref())
            .map(|x| {
                format!(
                    "{} {}",
                    x.status.map(|s| s.to_string()).unwrap_or_default(),
                    or_dash(x.title.as_deref())
                )
            })
            .unwrap_or_default(),
        tls: svc
            .map(|s| {
                s.tls_versions
                    .iter()
                    .map(|t| t.version.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default(),
    }
}

fn details<'a>(
    p: &'a PortPart,
    s: &'a ServicePart,
    screenshot: &impl Fn(&str) -> Option<Vec<u8>>,
) -> Option<Details<'a>> {
    if s.http.is_none() && s.certificate.is_none() && s.screenshot_path.is_none() {
        return None;
    }
    Some(Details {
        port: p.port,
        protocol: &p.protocol,
        http: s.http.as_ref().map(|x| HttpRow {
            status: x.status.map_or_else(|| DASH.to_owned(), |s| s.to_string()),
            title: or_dash(x.title.as_deref()),
            server: or_dash(x.server.as_deref()),
            location: or_dash(x.location.as_deref()),
            response: x
                .response_ms
                .map_or_else(|| DASH.to_owned(), |ms| format!("{ms} ms")),
        }),
        certificate: s.certificate.as_ref().map(|c| CertificateRows {
            subject: &c.subject,
            issuer: &c.issuer,
            sans: c.sans.join(", "),
            not_before: time(c.not_before, "%Y-%m-%d"),
            not_after: time(c.not_after, "%Y-%m-%d"),
            serial: or_dash(c.serial.as_deref()),
            sha256: or_dash(c.sha256_fingerprint.as_deref()),
            key: format!(
                "{} {}",
                or_dash(c.key_type.as_deref()),
                c.key_bits.map(|b| format!("{b} bits")).unwrap_or_default()
            ),
            signature: or_dash(c.signature_algorithm.as_deref()),
            self_signed: if c.self_signed { "yes" } else { "no" },
        }),
        tls: s
            .tls_versions
            .iter()
            .map(|t| {
                (
                    t.version.as_str(),
                    or_dash(t.grade.as_deref()),
                    t.ciphers.join(" "),
                )
            })
            .collect(),
        screenshot: s
            .screenshot_path
            .as_deref()
            .and_then(screenshot)
            .filter(|b| b.len() <= MAX_INLINE_IMAGE)
            .map(|bytes| {
                format!(
                    "data:image/png;base64,{}",
                    base64::engine::general_purpose::STANDARD.encode(bytes)
                )
            }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::reports::model::{
        CertificatePart, Expectation, HttpPart, Report, SitePart, Summary, TlsPart,
    };

    /// The whole page of a report, in memory, from the same fragments the writer streams.
    fn render(report: &Report, screenshot: impl Fn(&str) -> Option<Vec<u8>>) -> String {
        let mut out = Vec::new();
        write_head(&mut out, &report.scan, &report.findings).expect("head");
        write_changes(&mut out, report.baseline.as_ref(), &report.changes).expect("changes");
        for site in &report.sites {
            write_site(&mut out, &site.name, site.ips.is_empty()).expect("site");
            for ip in &site.ips {
                write_ip(&mut out, ip, &screenshot).expect("address");
            }
        }
        let r = report;
        write_tail(
            &mut out,
            &r.scan,
            &r.generator,
            r.schema_version,
            r.generated_at,
        )
        .expect("tail");
        String::from_utf8(out).expect("utf-8")
    }

    const EVIL: &str = "<script>alert(1)</script>\"'><img src=x onerror=alert(2)>";

    fn evil() -> String {
        EVIL.to_owned()
    }

    /// A report whose every text field came from a hostile network.
    fn hostile_report() -> Report {
        let service = ServicePart {
            name: Some(evil()),
            product: Some(evil()),
            version: Some(evil()),
            extra_info: Some(evil()),
            tunnel: Some(evil()),
            cpe: Some(evil()),
            http: Some(HttpPart {
                status: Some(200),
                title: Some(evil()),
                server: Some(evil()),
                location: Some(evil()),
                response_ms: Some(3),
            }),
            screenshot: Some(evil()),
            certificate: Some(CertificatePart {
                subject: evil(),
                issuer: evil(),
                sans: vec![evil(), evil()],
                not_before: None,
                not_after: None,
                serial: Some(evil()),
                sha256_fingerprint: Some(evil()),
                key_type: Some(evil()),
                key_bits: Some(2048),
                signature_algorithm: Some(evil()),
                self_signed: true,
            }),
            tls_versions: vec![TlsPart {
                version: evil(),
                ciphers: vec![evil()],
                grade: Some(evil()),
            }],
            screenshot_path: Some("screenshots/1/x.png".into()),
            service_id: 1,
        };
        Report {
            schema_version: 2,
            baseline: Some(BaselinePart {
                id: 0,
                title: evil(),
                completed_at: None,
            }),
            changes: vec![ChangePart {
                kind: evil(),
                severity: evil(),
                site: Some(evil()),
                address: Some(evil()),
                protocol: Some(evil()),
                port: Some(1),
                before: serde_json::Value::String(evil()),
                after: serde_json::Value::Null,
                summary: evil(),
            }],
            generator: evil(),
            generated_at: Utc::now(),
            scan: ScanPart {
                id: 1,
                title: evil(),
                status: evil(),
                message: Some(evil()),
                error_message: Some(evil()),
                triggered_by: evil(),
                created_at: Utc::now(),
                started_at: None,
                completed_at: None,
                command_lines: vec![vec![evil(), evil()]],
                summary: Summary {
                    hosts_total: 1,
                    hosts_up: 1,
                    open_ports: 1,
                    services: 1,
                    certificates: 1,
                    unexpected_ports: 1,
                    missing_ports: 0,
                },
            },
            sites: vec![SitePart {
                name: evil(),
                ips: vec![IpPart {
                    address: evil(),
                    hostname: Some(evil()),
                    status: evil(),
                    expected: Expectation::default(),
                    actual: Expectation::default(),
                    ports: vec![PortPart {
                        port: 443,
                        protocol: evil(),
                        state: evil(),
                        reason: Some(evil()),
                        expected: false,
                        unexpected: true,
                        missing: false,
                        service: Some(service),
                    }],
                }],
            }],
            findings: vec![Finding {
                code: crate::domain::findings::FindingCode::PortUnexpected,
                severity: crate::domain::findings::Severity::Medium,
                site: evil(),
                address: evil(),
                port: Some(443),
                protocol: Some(evil()),
                message: evil(),
            }],
        }
    }

    #[test]
    fn render_escapes_every_field_when_values_are_hostile() {
        let page = render(&hostile_report(), |_| Some(vec![0x89, b'P', b'N', b'G']));
        assert!(page.starts_with("<!doctype html>"), "{page}");
        for raw in ["<script", "<img src=x", "\"'>", "onerror=alert(2)>"] {
            assert!(!page.contains(raw), "{raw:?} appears unescaped");
        }
        assert!(page.contains("&#60;script&#62;alert(1)&#60;"), "{page}");
        // Every hostile value is there, escaped: title, hostname, HTTP title, subject, SANs,
        // command line, generator (count of escaped copies ≥ fields rendered).
        let escaped = page.matches("&#60;script&#62;").count();
        assert!(escaped >= 25, "{escaped} escaped copies");
        // The page's own markup is intact: one image (the screenshot) and its data URI.
        assert_eq!(page.matches("<img ").count(), 1);
        assert!(page.contains("data:image/png;base64,iVBORw"));
    }
}
