//! Sending one delivery: a webhook signed per Standard Webhooks v1, a Slack-compatible
//! incoming webhook (`{"text": …}`), or an email through the configured SMTP server (lettre).
//!
//! Outgoing HTTP follows the SSRF rule (`domain::notify`): the host is resolved, every address
//! is checked (an internal one needs an admin's allow), and the connection is pinned to the
//! checked address; no redirects are followed, no proxy is used.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use ipnet::IpNet;
use serde_json::Value;

use entity::delivery;

use super::{ChannelKind, parse_recipients};
use crate::config::AlertSettings;
use crate::domain::notify::{WebhookSecret, check_target};

/// Where a delivery goes (a channel's settings).
pub struct Target {
    pub kind: ChannelKind,
    pub url: Option<String>,
    pub secret: Option<String>,
    pub email_to: Option<String>,
    pub channel_name: String,
}

/// Why an attempt failed; a permanent failure is not retried.
#[derive(Debug)]
pub struct Failure {
    pub code: Option<i32>,
    pub message: String,
    pub permanent: bool,
}

impl Failure {
    pub fn permanent(message: impl Into<String>) -> Self {
        Self {
            code: None,
            message: message.into(),
            permanent: true,
        }
    }

    fn retry(code: Option<i32>, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            permanent: false,
        }
    }
}

/// Resolves a URL's host and checks every address against the SSRF rule; the addresses to
/// connect to.
pub async fn check_url_target(
    url: &reqwest::Url,
    allowed: &[IpNet],
) -> Result<Vec<SocketAddr>, String> {
    let port = url.port_or_known_default().unwrap_or(443);
    let addrs: Vec<SocketAddr> = match url.host() {
        Some(url::Host::Ipv4(ip)) => vec![SocketAddr::new(IpAddr::V4(ip), port)],
        Some(url::Host::Ipv6(ip)) => vec![SocketAddr::new(IpAddr::V6(ip), port)],
        Some(url::Host::Domain(name)) => tokio::net::lookup_host((name, port))
            .await
            .map_err(|e| format!("cannot resolve {name}: {e}"))?
            .collect(),
        None => return Err("no host".into()),
    };
    if addrs.is_empty() {
        return Err("the host has no address".into());
    }
    let ips: Vec<IpAddr> = addrs.iter().map(SocketAddr::ip).collect();
    check_target(&ips, allowed).map_err(|ip| {
        format!(
            "{ip} is an internal address (loopback, private, link-local…); an admin must allow its network (notifyAllowedCidrs) first"
        )
    })?;
    Ok(addrs)
}

/// Sends `row` to `target`: the receiver's status code (HTTP, or the SMTP reply) when it
/// took it.
pub async fn send(
    target: &Target,
    row: &delivery::Model,
    allowed: &[IpNet],
    settings: &AlertSettings,
    timeout: Duration,
) -> Result<Option<i32>, Failure> {
    let payload: Value = serde_json::from_str(&row.payload).unwrap_or(Value::Null);
    match target.kind {
        ChannelKind::Webhook => {
            let secret = target
                .secret
                .as_deref()
                .and_then(|s| WebhookSecret::parse(s).ok())
                .ok_or_else(|| Failure::permanent("the webhook has no valid secret"))?;
            let body = row.payload.clone().into_bytes();
            let id = format!("msg_{}", row.id);
            let timestamp = chrono::Utc::now().timestamp();
            let signature = secret.sign(&id, timestamp, &body);
            let headers = [
                ("webhook-id", id),
                ("webhook-timestamp", timestamp.to_string()),
                ("webhook-signature", signature),
            ];
            post(target, body, &headers, allowed, timeout).await
        }
        ChannelKind::Slack => {
            let body = serde_json::json!({ "text": text(&payload) })
                .to_string()
                .into_bytes();
            post(target, body, &[], allowed, timeout).await
        }
        ChannelKind::Email => email(target, &payload, settings, timeout).await,
    }
}

async fn post(
    target: &Target,
    body: Vec<u8>,
    headers: &[(&str, String)],
    allowed: &[IpNet],
    timeout: Duration,
) -> Result<Option<i32>, Failure> {
    let url = target
        .url
        .as_deref()
        .and_then(|u| reqwest::Url::parse(u).ok())
        .ok_or_else(|| Failure::permanent("the channel has no valid URL"))?;
    // Checked at every send: a name may resolve elsewhere than when the channel was saved.
    let addrs = check_url_target(&url, allowed).await.map_err(|e| {
        if e.starts_with("cannot resolve") {
            Failure::retry(None, e)
        } else {
            Failure::permanent(e)
        }
    })?;
    let mut client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(timeout)
        .user_agent(concat!("SneakyScanner/", env!("CARGO_PKG_VERSION")));
    if let Some(url::Host::Domain(name)) = url.host() {
        // Connect to the address checked above, not to a second lookup's answer.
        client = client.resolve(name, addrs[0]);
    }
    let client = client
        .build()
        .map_err(|e| Failure::retry(None, format!("HTTP client: {e}")))?;
    let mut request = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body);
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let response = request.send().await.map_err(|e| {
        let what = if e.is_timeout() {
            "timed out"
        } else if e.is_connect() {
            "cannot connect"
        } else {
            "request failed"
        };
        Failure::retry(None, format!("{what}: {}", error_chain(&e)))
    })?;
    let code = i32::from(response.status().as_u16());
    if response.status().is_success() {
        Ok(Some(code))
    } else {
        let reason = response.status().canonical_reason().unwrap_or("");
        Err(Failure::retry(
            Some(code),
            format!("the receiver answered HTTP {code} {reason}"),
        ))
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

fn field<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    path.iter().fold(v, |v, k| &v[*k]).as_str().unwrap_or("")
}

/// One line for Slack and an email's subject.
pub fn headline(payload: &Value) -> String {
    match field(payload, &["type"]) {
        "test" => "SneakyScanner test message".into(),
        "alert.resolved" => format!(
            "Resolved: {} — {}",
            field(payload, &["alert", "rule", "name"]),
            field(payload, &["alert", "summary"])
        ),
        _ => format!(
            "[{}] {} — {}",
            field(payload, &["alert", "severity"]),
            field(payload, &["alert", "rule", "name"]),
            field(payload, &["alert", "summary"])
        ),
    }
}

/// The text of a Slack message or an email: the headline and the changes (at most 20).
pub fn text(payload: &Value) -> String {
    if field(payload, &["type"]) == "test" {
        return field(payload, &["message"]).to_owned();
    }
    let mut out = headline(payload);
    let events = payload["events"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    for e in events.iter().take(20) {
        out.push_str(&format!(
            "\n• {} {}",
            field(e, &["kind"]),
            field(e, &["summary"])
        ));
    }
    if events.len() > 20 {
        out.push_str(&format!("\n… and {} more", events.len() - 20));
    }
    out
}

async fn email(
    target: &Target,
    payload: &Value,
    settings: &AlertSettings,
    timeout: Duration,
) -> Result<Option<i32>, Failure> {
    use lettre::message::header::ContentType;
    use lettre::transport::smtp::authentication::Credentials;
    use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

    let smtp = &settings.smtp;
    if smtp.host.trim().is_empty() {
        return Err(Failure::permanent(
            "no SMTP server is configured (alerts.smtp.host in the server settings)",
        ));
    }
    let to =
        parse_recipients(target.email_to.as_deref().unwrap_or("")).map_err(Failure::permanent)?;
    let from = smtp.from.parse().map_err(|_| {
        Failure::permanent(format!(
            "alerts.smtp.from {:?} is not an address",
            smtp.from
        ))
    })?;
    let mut message = Message::builder().from(from).subject(headline(payload));
    for m in to {
        message = message.to(m);
    }
    let message = message
        .header(ContentType::TEXT_PLAIN)
        .body(format!(
            "{}\n\n— SneakyScanner, channel {:?}\n",
            text(payload),
            target.channel_name
        ))
        .map_err(|e| Failure::permanent(format!("building the email: {e}")))?;
    let builder = match smtp.security.as_str() {
        "tls" => AsyncSmtpTransport::<Tokio1Executor>::relay(&smtp.host),
        "none" => Ok(AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(
            &smtp.host,
        )),
        _ => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&smtp.host),
    }
    .map_err(|e| Failure::permanent(format!("SMTP settings: {e}")))?;
    let mut builder = builder.port(smtp.port).timeout(Some(timeout));
    if !smtp.username.is_empty() {
        builder = builder.credentials(Credentials::new(
            smtp.username.clone(),
            smtp.password.expose().to_owned(),
        ));
    }
    match builder.build().send(message).await {
        Ok(response) => Ok(response.code().to_string().parse().ok()),
        Err(e) => {
            let code = e.status().and_then(|c| c.to_string().parse().ok());
            let message = format!("SMTP: {}", error_chain(&e));
            Err(if e.is_permanent() {
                Failure {
                    code,
                    message,
                    permanent: true,
                }
            } else {
                Failure::retry(code, message)
            })
        }
    }
}
