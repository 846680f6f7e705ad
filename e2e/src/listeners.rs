//! Services for real-nmap tests, on 127.x addresses the test picks: plain HTTP with a known
//! title, HTTPS with a fresh self-signed certificate, a service that sends a banner, and a
//! silent one (accepts, never answers: version detection waits on it).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A page title the HTTP listeners serve.
pub const HTTP_TITLE: &str = "SneakyScanner lab page";
/// The banner of [`Kind::Banner`]: nmap recognises it as OpenSSH.
pub const SSH_BANNER: &str = "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Http,
    Https,
    Banner,
    Silent,
}

/// A listener running until dropped.
pub struct Listener {
    pub addr: SocketAddr,
    pub kind: Kind,
    task: JoinHandle<()>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A block of loopback addresses of its own for one test: 127.<a>.<b>.1…254, random so
/// tests running at the same time do not meet.
pub fn loopback_block() -> [u8; 2] {
    let r = uuid::Uuid::new_v4().as_u128();
    [100 + (r % 100) as u8, ((r >> 8) % 250) as u8 + 1]
}

pub fn loopback(block: [u8; 2], host: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, block[0], block[1], host))
}

/// Starts a listener of `kind` on `ip` (a free port).
pub async fn start(ip: IpAddr, kind: Kind) -> Listener {
    let listener = TcpListener::bind(SocketAddr::new(ip, 0))
        .await
        .expect("bind test listener");
    serve(listener, kind)
}

fn serve(listener: TcpListener, kind: Kind) -> Listener {
    let addr = listener.local_addr().expect("local addr");
    let tls = (kind == Kind::Https).then(|| tls_acceptor(addr.ip()));
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let tls = tls.clone();
            tokio::spawn(async move {
                match kind {
                    Kind::Http => serve_http(stream).await,
                    Kind::Https => {
                        let Some(acceptor) = tls else { return };
                        if let Ok(s) = acceptor.accept(stream).await {
                            serve_http(s).await;
                        }
                    }
                    Kind::Banner => {
                        let mut stream = stream;
                        let _ = stream.write_all(SSH_BANNER.as_bytes()).await;
                        let mut buf = [0u8; 1024];
                        let _ = stream.read(&mut buf).await;
                    }
                    Kind::Silent => {
                        let mut stream = stream;
                        let mut buf = [0u8; 1024];
                        while let Ok(n) = stream.read(&mut buf).await {
                            if n == 0 {
                                break;
                            }
                        }
                    }
                }
            });
        }
    });
    Listener { addr, kind, task }
}

/// The `Server` header of the HTTP listeners: one nmap's version detection knows.
pub const HTTP_SERVER: &str = "nginx/1.22.1";

/// Answers like a small web server: 200 with a page for an HTTP request, 400 at once for
/// anything else (so version-detection probes get their answer without waiting).
async fn serve_http<S: AsyncReadExt + AsyncWriteExt + Unpin>(mut stream: S) {
    let mut buf = vec![0u8; 4096];
    let mut seen = Vec::new();
    let ok = loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                seen.extend_from_slice(&buf[..n]);
                let looks_http = seen
                    .split(|b| *b == b' ')
                    .next()
                    .is_some_and(|m| !m.is_empty() && m.iter().all(u8::is_ascii_uppercase));
                if !looks_http {
                    break false;
                }
                if seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    break true;
                }
                if seen.len() > 16 * 1024 {
                    break false;
                }
            }
        }
    };
    let (status, body) = if ok {
        (
            "200 OK",
            format!(
                "<!doctype html><html><head><title>{HTTP_TITLE}</title></head><body>lab</body></html>"
            ),
        )
    } else {
        (
            "400 Bad Request",
            "<html><body>bad request</body></html>".to_owned(),
        )
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nServer: {HTTP_SERVER}\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// The common name of the test certificates.
pub const CERT_CN: &str = "lab.sneakyscanner.test";

fn tls_acceptor(ip: IpAddr) -> tokio_rustls::TlsAcceptor {
    let mut params = rcgen::CertificateParams::new(vec![CERT_CN.to_owned()]).expect("params");
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, CERT_CN);
    params.subject_alt_names.push(rcgen::SanType::IpAddress(ip));
    let key = rcgen::KeyPair::generate().expect("key");
    let cert = params.self_signed(&key).expect("self-signed certificate");
    let der = tokio_rustls::rustls::pki_types::CertificateDer::from(cert.der().to_vec());
    let key_der = tokio_rustls::rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into());
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = tokio_rustls::rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(vec![der], key_der)
        .expect("server config");
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}

/// Whether any nmap process reads its targets from under `dir` (a scan's leftovers).
pub fn nmap_running_under(dir: &std::path::Path) -> bool {
    let prefix = dir.display().to_string();
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .chars()
                .all(|c| c.is_ascii_digit())
        })
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .any(|cmd| {
            let text = String::from_utf8_lossy(&cmd);
            text.contains("nmap") && text.contains(&prefix)
        })
}

/// Connects once (checks a listener is up).
pub async fn reachable(addr: SocketAddr) -> bool {
    TcpStream::connect(addr).await.is_ok()
}

/// Starts a listener of `kind` on a given address and port.
pub async fn start_on(addr: SocketAddr, kind: Kind) -> Listener {
    let listener = TcpListener::bind(addr).await.expect("bind test listener");
    serve(listener, kind)
}
