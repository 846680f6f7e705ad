//! Receivers of notifications on loopback, for the alerts tests: an HTTP receiver (webhooks and
//! Slack-compatible webhooks) that records each request and answers a status the test sets,
//! and an SMTP sink that records each message (enough SMTP for lettre without TLS).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// One request a receiver took.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// The status it was answered.
    pub answered: u16,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).expect("a JSON body")
    }
}

#[derive(Clone, Default)]
struct Shared {
    got: Arc<Mutex<Vec<Received>>>,
    status: Arc<AtomicU16>,
}

/// An HTTP receiver: every POST is recorded and answered `status` (200 at first).
pub struct HttpReceiver {
    pub addr: SocketAddr,
    shared: Shared,
    task: JoinHandle<()>,
}

impl Drop for HttpReceiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn take(
    State(shared): State<Shared>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: String,
) -> StatusCode {
    let status = shared.status.load(Ordering::SeqCst);
    shared.got.lock().expect("lock").push(Received {
        path: uri.path().to_owned(),
        headers: headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("").to_owned()))
            .collect(),
        body,
        answered: status,
    });
    StatusCode::from_u16(status).unwrap_or(StatusCode::OK)
}

impl HttpReceiver {
    pub async fn start(ip: std::net::IpAddr) -> Self {
        let shared = Shared::default();
        shared.status.store(200, Ordering::SeqCst);
        let listener = TcpListener::bind((ip, 0)).await.expect("bind receiver");
        let addr = listener.local_addr().expect("addr");
        let app = axum::Router::new()
            .route("/{*path}", post(take))
            .with_state(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { addr, shared, task }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// What later requests are answered.
    pub fn answer(&self, status: u16) {
        self.shared.status.store(status, Ordering::SeqCst);
    }

    pub fn received(&self) -> Vec<Received> {
        self.shared.got.lock().expect("lock").clone()
    }
}

/// Checks a Standard Webhooks v1 signature (`v1,<base64 HMAC-SHA256(key, "id.ts.body")>`,
/// key: the base64 after `whsec_`), independently of the server's code.
pub fn signature_holds(secret: &str, r: &Received) -> bool {
    let Some(key) = secret
        .strip_prefix("whsec_")
        .and_then(|k| STANDARD.decode(k).ok())
    else {
        return false;
    };
    let (Some(id), Some(ts), Some(sig)) = (
        r.header("webhook-id"),
        r.header("webhook-timestamp"),
        r.header("webhook-signature"),
    ) else {
        return false;
    };
    let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(&key).expect("key");
    mac.update(format!("{id}.{ts}.{}", r.body).as_bytes());
    let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    sig.split(' ').any(|s| s == expected)
}

/// One message an SMTP sink took.
#[derive(Debug, Clone)]
pub struct Mail {
    pub from: String,
    pub to: Vec<String>,
    pub data: String,
}

/// An SMTP sink on loopback (plain text, no auth).
pub struct SmtpSink {
    pub addr: SocketAddr,
    got: Arc<Mutex<Vec<Mail>>>,
    task: JoinHandle<()>,
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl SmtpSink {
    pub async fn start(ip: std::net::IpAddr) -> Self {
        let listener = TcpListener::bind((ip, 0)).await.expect("bind smtp");
        let addr = listener.local_addr().expect("addr");
        let got: Arc<Mutex<Vec<Mail>>> = Arc::default();
        let store = got.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let store = store.clone();
                tokio::spawn(async move {
                    let _ = session(stream, store).await;
                });
            }
        });
        Self { addr, got, task }
    }

    pub fn received(&self) -> Vec<Mail> {
        self.got.lock().expect("lock").clone()
    }
}

async fn session(
    stream: tokio::net::TcpStream,
    store: Arc<Mutex<Vec<Mail>>>,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    write.write_all(b"220 sink ESMTP\r\n").await?;
    let (mut from, mut to) = (String::new(), Vec::new());
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let upper = line.to_ascii_uppercase();
        if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            write.write_all(b"250-sink\r\n250 8BITMIME\r\n").await?;
        } else if upper.starts_with("MAIL FROM:") {
            from = line[10..].trim().to_owned();
            write.write_all(b"250 OK\r\n").await?;
        } else if upper.starts_with("RCPT TO:") {
            to.push(line[8..].trim().to_owned());
            write.write_all(b"250 OK\r\n").await?;
        } else if upper.starts_with("DATA") {
            write.write_all(b"354 go on\r\n").await?;
            let mut data = String::new();
            loop {
                line.clear();
                if lines.read_line(&mut line).await? == 0 {
                    return Ok(());
                }
                if line == ".\r\n" || line == ".\n" {
                    break;
                }
                data.push_str(&line);
            }
            store.lock().expect("lock").push(Mail {
                from: std::mem::take(&mut from),
                to: std::mem::take(&mut to),
                data,
            });
            write.write_all(b"250 queued\r\n").await?;
        } else if upper.starts_with("QUIT") {
            write.write_all(b"221 bye\r\n").await?;
            return Ok(());
        } else {
            write.write_all(b"250 OK\r\n").await?;
        }
    }
}
