//! The HTTP phase: one `GET /` per web service found, many at once (capped), each bounded in
//! time and in the bytes it reads. Certificates are read, not trusted: the point is to report
//! what a service presents, valid or not. Redirects are reported, not followed.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use futures::StreamExt;

use super::tls;
use crate::domain::tree::NewCertificate;

/// Bytes of a page read at most (enough for any sane `<title>`).
const MAX_BODY: usize = 256 * 1024;
/// Characters of a title kept.
pub const MAX_TITLE: usize = 200;
/// Characters of a `Server` header or redirect location kept.
const MAX_HEADER: usize = 512;

/// A web service to probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub ip: IpAddr,
    pub port: u16,
    pub tls: bool,
}

impl Target {
    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        match self.ip {
            IpAddr::V4(ip) => format!("{scheme}://{ip}:{}/", self.port),
            IpAddr::V6(ip) => format!("{scheme}://[{ip}]:{}/", self.port),
        }
    }
}

/// What a probe learned. `error` is set when no HTTP answer came (timeout, refused, garbage,
/// broken TLS handshake); the scan goes on either way.
#[derive(Debug, Clone, Default)]
pub struct Answer {
    pub status: Option<u16>,
    pub title: Option<String>,
    pub server: Option<String>,
    pub location: Option<String>,
    pub response_ms: Option<i32>,
    pub certificate: Option<NewCertificate>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub timeout: Duration,
    pub concurrency: usize,
}

/// Whether nmap's service names a web service, and whether it speaks TLS.
pub fn web_service(name: Option<&str>, tunnel: Option<&str>) -> Option<bool> {
    let name = name?;
    let tls_name = matches!(name, "https" | "https-alt" | "ssl/http" | "ssl/https");
    if !(name.starts_with("http") || tls_name) {
        return None;
    }
    Some(tls_name || tunnel == Some("ssl"))
}

/// Probes every target; answers come back in the targets' order.
pub async fn probe_all(targets: &[Target], limits: Limits) -> Vec<Answer> {
    let client = match client(limits.timeout) {
        Ok(c) => c,
        Err(e) => {
            let error = format!("HTTP client unavailable: {e}");
            return targets
                .iter()
                .map(|_| Answer {
                    error: Some(error.clone()),
                    ..Default::default()
                })
                .collect();
        }
    };
    // Each probe owns what it uses (a client is a cheap handle), so the set is `Send`.
    futures::stream::iter(targets.iter().cloned().map(|t| {
        let client = client.clone();
        async move { probe(&client, &t, limits.timeout).await }
    }))
    .buffered(limits.concurrency.max(1))
    .collect()
    .await
}

fn client(timeout: Duration) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .tls_info(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .connect_timeout(timeout)
        .no_proxy()
        .user_agent(concat!("SneakyScanner/", env!("CARGO_PKG_VERSION")))
        .build()
}

async fn probe(client: &reqwest::Client, target: &Target, timeout: Duration) -> Answer {
    let started = Instant::now();
    match tokio::time::timeout(timeout, fetch(client, target, started)).await {
        Ok(Ok(answer)) => answer,
        Ok(Err(e)) => Answer {
            error: Some(describe(&e)),
            ..Default::default()
        },
        Err(_) => Answer {
            error: Some(format!("no answer within {} s", timeout.as_secs())),
            ..Default::default()
        },
    }
}

async fn fetch(
    client: &reqwest::Client,
    target: &Target,
    started: Instant,
) -> reqwest::Result<Answer> {
    let mut response = client.get(target.url()).send().await?;
    let response_ms = i32::try_from(started.elapsed().as_millis()).unwrap_or(i32::MAX);
    let header = |name: reqwest::header::HeaderName| {
        response
            .headers()
            .get(name)
            .map(|v| clip(&String::from_utf8_lossy(v.as_bytes()), MAX_HEADER))
    };
    let server = header(reqwest::header::SERVER);
    let location = header(reqwest::header::LOCATION);
    let certificate = response
        .extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|info| info.peer_certificate())
        .and_then(tls::certificate_from_der);
    let status = response.status().as_u16();
    let mut body = Vec::new();
    // A body cut short still has its title; read errors after the headers are not fatal.
    while body.len() < MAX_BODY {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) | Err(_) => break,
        }
    }
    body.truncate(MAX_BODY);
    Ok(Answer {
        status: Some(status),
        title: title(&String::from_utf8_lossy(&body)),
        server,
        location,
        response_ms: Some(response_ms),
        certificate,
        error: None,
    })
}

fn describe(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text = format!("{text}: {s}");
        source = s.source();
    }
    clip(&text, MAX_HEADER)
}

/// The page's `<title>`, whitespace collapsed, common entities decoded, at most
/// [`MAX_TITLE`] characters.
pub fn title(html: &str) -> Option<String> {
    let lower = html.to_ascii_lowercase();
    let open = lower.find("<title")?;
    let start = open + lower[open..].find('>')? + 1;
    let end = lower[start..]
        .find("</title")
        .map_or(html.len(), |e| start + e);
    let raw = html.get(start..end)?;
    let text = raw
        .replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", " ");
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    (!text.is_empty()).then(|| clip(&text, MAX_TITLE))
}

fn clip(text: &str, max: usize) -> String {
    let clean: String = text.chars().filter(|c| !c.is_control()).collect();
    match clean.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &clean[..i]),
        None => clean,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles() {
        assert_eq!(
            title("<html><head><TITLE>\n  Lab &amp; Co\t</title></head>").as_deref(),
            Some("Lab & Co")
        );
        assert_eq!(
            title("<title lang=\"en\">Hi</title>").as_deref(),
            Some("Hi")
        );
        assert_eq!(title("<title></title>"), None);
        assert_eq!(title("no title here"), None);
        assert_eq!(title("<title>cut short").as_deref(), Some("cut short"));
        let long = format!("<title>{}</title>", "é".repeat(10_000));
        let t = title(&long).expect("title");
        assert_eq!(t.chars().count(), MAX_TITLE + 1, "clipped with an ellipsis");
    }

    #[test]
    fn web_services() {
        assert_eq!(web_service(Some("http"), None), Some(false));
        assert_eq!(web_service(Some("http"), Some("ssl")), Some(true));
        assert_eq!(web_service(Some("https"), None), Some(true));
        assert_eq!(web_service(Some("http-proxy"), None), Some(false));
        assert_eq!(web_service(Some("ssh"), None), None);
        assert_eq!(web_service(None, None), None);
    }

    #[test]
    fn urls() {
        let t = Target {
            ip: "::1".parse().expect("ip"),
            port: 8443,
            tls: true,
        };
        assert_eq!(t.url(), "https://[::1]:8443/");
    }
}
