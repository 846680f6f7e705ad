//! Services for real-nmap tests, on 127.x addresses the test picks: plain HTTP with a known
//! title, HTTPS with a self-signed certificate of known fields, a service that sends a banner,
//! a silent one (accepts, never answers: version detection waits on it), and a weak TLS server
//! (`openssl s_server`: TLS 1.0 and 1.1 allowed, an expired 1024-bit RSA certificate).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A page title the HTTP listeners serve.
pub const HTTP_TITLE: &str = "SneakyScanner lab page";
/// The banner of [`Kind::Banner`]: nmap recognises it as OpenSSH.
pub const SSH_BANNER: &str = "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n";
/// The banner of [`Kind::NewerBanner`]: the same service, a later version.
pub const SSH_BANNER_NEWER: &str = "SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13\r\n";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Http,
    Https,
    Banner,
    /// [`SSH_BANNER_NEWER`]: what [`Kind::Banner`] becomes after an upgrade.
    NewerBanner,
    Silent,
    /// `openssl s_server`: see [`start_weak_tls`].
    WeakTls,
}

/// A listener running until dropped.
pub struct Listener {
    pub addr: SocketAddr,
    pub kind: Kind,
    /// The certificate a TLS listener presents (DER).
    pub cert_der: Option<Vec<u8>>,
    task: Option<JoinHandle<()>>,
    child: Option<std::process::Child>,
    _dir: Option<tempfile::TempDir>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
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
    if kind == Kind::WeakTls {
        return start_weak_tls(ip).await;
    }
    let listener = TcpListener::bind(SocketAddr::new(ip, 0))
        .await
        .expect("bind test listener");
    serve(listener, kind)
}

fn serve(listener: TcpListener, kind: Kind) -> Listener {
    let addr = listener.local_addr().expect("local addr");
    let tls = (kind == Kind::Https).then(|| tls_acceptor(addr.ip()));
    let cert_der = tls.as_ref().map(|(_, der)| der.clone());
    let tls = tls.map(|(acceptor, _)| acceptor);
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
                    Kind::Banner | Kind::NewerBanner => {
                        let banner = if kind == Kind::Banner {
                            SSH_BANNER
                        } else {
                            SSH_BANNER_NEWER
                        };
                        let mut stream = stream;
                        let _ = stream.write_all(banner.as_bytes()).await;
                        let mut buf = [0u8; 1024];
                        let _ = stream.read(&mut buf).await;
                    }
                    Kind::WeakTls => {}
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
    Listener {
        addr,
        kind,
        cert_der,
        task: Some(task),
        child: None,
        _dir: None,
    }
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

/// Serial number of the HTTPS listeners' certificates (hex).
pub const CERT_SERIAL: &str = "5ca11ab1e0";
/// Validity of the HTTPS listeners' certificates (RFC 3339).
pub const CERT_NOT_BEFORE: &str = "2026-01-01T00:00:00+00:00";
pub const CERT_NOT_AFTER: &str = "2036-01-01T00:00:00+00:00";

/// A rustls acceptor with a self-signed ECDSA P-256 certificate of known fields (a fresh key
/// each time, so its fingerprint is known only from the DER returned beside it).
fn tls_acceptor(ip: IpAddr) -> (tokio_rustls::TlsAcceptor, Vec<u8>) {
    let mut params = rcgen::CertificateParams::new(vec![CERT_CN.to_owned()]).expect("params");
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, CERT_CN);
    params.subject_alt_names.push(rcgen::SanType::IpAddress(ip));
    params.serial_number = Some(rcgen::SerialNumber::from_slice(
        &hex::decode(CERT_SERIAL).expect("hex"),
    ));
    params.not_before = rcgen::date_time_ymd(2026, 1, 1);
    params.not_after = rcgen::date_time_ymd(2036, 1, 1);
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
    (
        tokio_rustls::TlsAcceptor::from(Arc::new(config)),
        cert.der().to_vec(),
    )
}

/// Common name of the weak server's certificate.
pub const WEAK_CN: &str = "weak.sneakyscanner.test";

fn openssl(args: &[&str], dir: &std::path::Path) {
    let out = std::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl runs (make nmap installs it)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `openssl s_server` on a free port of `ip`: TLS 1.0 and up (security level 0), and a
/// self-signed 1024-bit RSA certificate that expired on 2021-01-01.
pub async fn start_weak_tls(ip: IpAddr) -> Listener {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("index.txt"), "").expect("index");
    std::fs::write(dir.path().join("serial"), "1000\n").expect("serial");
    std::fs::write(
        dir.path().join("ca.cnf"),
        "[ca]\ndefault_ca = d\n[d]\ndatabase = index.txt\nserial = serial\nnew_certs_dir = .\n\
         default_md = sha256\npolicy = p\nunique_subject = no\n[p]\ncommonName = supplied\n",
    )
    .expect("ca config");
    let subject = format!("/CN={WEAK_CN}");
    openssl(
        &[
            "req", "-new", "-newkey", "rsa:1024", "-nodes", "-keyout", "key.pem", "-out",
            "req.csr", "-subj", &subject,
        ],
        dir.path(),
    );
    openssl(
        &[
            "ca",
            "-batch",
            "-config",
            "ca.cnf",
            "-selfsign",
            "-keyfile",
            "key.pem",
            "-in",
            "req.csr",
            "-out",
            "cert.pem",
            "-notext",
            "-startdate",
            "20200101000000Z",
            "-enddate",
            "20210101000000Z",
        ],
        dir.path(),
    );
    let port = TcpListener::bind(SocketAddr::new(ip, 0))
        .await
        .expect("free port")
        .local_addr()
        .expect("addr")
        .port();
    let addr = SocketAddr::new(ip, port);
    let child = std::process::Command::new("openssl")
        .args([
            "s_server",
            "-quiet",
            "-www",
            "-accept",
            &addr.to_string(),
            "-cert",
            "cert.pem",
            "-key",
            "key.pem",
            "-min_protocol",
            "TLSv1",
            "-cipher",
            "DEFAULT:@SECLEVEL=0",
        ])
        .current_dir(dir.path())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("openssl s_server");
    let listener = Listener {
        addr,
        kind: Kind::WeakTls,
        cert_der: None,
        task: None,
        child: Some(child),
        _dir: Some(dir),
    };
    for _ in 0..100 {
        if reachable(addr).await {
            return listener;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("openssl s_server did not start on {addr}");
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

/// Starts a listener of `kind` on a given address and port (retrying for a while: a listener
/// just dropped there lets go of the port when its task is dropped, a moment later).
pub async fn start_on(addr: SocketAddr, kind: Kind) -> Listener {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match TcpListener::bind(addr).await {
            Ok(listener) => return serve(listener, kind),
            Err(e) if std::time::Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            Err(e) => panic!("bind test listener on {addr}: {e}"),
        }
    }
}
