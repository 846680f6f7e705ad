//! `sneakyscan agent --server URL --token TOKEN`: a remote scanner. It holds no database
//! credentials: it dials out to the server's websocket (`/api/agent`, over TLS for `https://`
//! servers), runs the scans of its pool that the server hands it with its own nmap, and sends
//! their progress and results back (the wire is [`crate::jobs::wire`]).
//!
//! It reconnects with backoff (1 s doubling to 30 s) and survives server restarts: runs go on
//! while it is disconnected, and on reconnecting it says which runs it holds (the server
//! adopts those whose lease is still theirs) and sends again every result not yet stored. A
//! refused token (revoked, unknown) ends it with an error. Its nmap is killed on cancel; on
//! SIGINT/SIGTERM it stops its runs (INTERRUPTED) and sends what they found before it exits.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use futures::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_util::sync::CancellationToken;

use crate::config::{Secret, Settings};
use crate::error::AppResult;
use crate::jobs::runner::{JobControl, StopReason};
use crate::jobs::scan::{self as job, ProgressReport, Reporter, RunEnv};
use crate::jobs::wire::{
    AgentMessage, CLOSE_REFUSED, HeldRun, MAX_MESSAGE_BYTES, PATH, PING_EVERY, SILENCE_LIMIT,
    ServerMessage,
};

/// The first pause before reconnecting, and the longest.
const BACKOFF_FIRST: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// How long a stopping agent waits for the server to store its last results.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// How to reach the server.
#[derive(Debug, Clone)]
pub struct AgentOptions {
    /// `http(s)://host:port` of the server (or of the proxy in front of it).
    pub server: String,
    pub token: Secret,
    /// Scans run at once.
    pub slots: u32,
    /// TLS for an `https://` server when more than the public roots are trusted
    /// ([`tls_trusting`]); `None`: the public roots.
    pub tls: Option<Arc<rustls::ClientConfig>>,
}

/// TLS trusting the public roots and the CA certificates of a PEM file (a private CA).
pub fn tls_trusting(ca_file: &std::path::Path) -> anyhow::Result<Arc<rustls::ClientConfig>> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let mut added = 0;
    for cert in CertificateDer::pem_file_iter(ca_file)
        .with_context(|| format!("while reading {}", ca_file.display()))?
    {
        let cert = cert.with_context(|| format!("{}: not a PEM certificate", ca_file.display()))?;
        roots
            .add(cert)
            .with_context(|| format!("{}: not a CA certificate", ca_file.display()))?;
        added += 1;
    }
    anyhow::ensure!(added > 0, "{} holds no certificate", ca_file.display());
    Ok(Arc::new(
        rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    ))
}

/// One run this agent holds: running, or ended with its result not yet stored.
struct Run {
    lease: String,
    control: Arc<JobControl>,
    finished: Option<AgentMessage>,
}

struct State {
    settings: Settings,
    runs: Mutex<HashMap<i32, Run>>,
    /// The connection, while there is one.
    out: Mutex<Option<mpsc::UnboundedSender<AgentMessage>>>,
    name: Mutex<String>,
    /// Something changed (a run ended, a result was stored).
    changed: tokio::sync::Notify,
}

impl State {
    fn lock_runs(&self) -> std::sync::MutexGuard<'_, HashMap<i32, Run>> {
        self.runs.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sends when connected; a message sent while disconnected is dropped (progress is sent
    /// again soon; results are kept until stored).
    fn send(&self, message: AgentMessage) {
        if let Some(out) = self.out.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            let _ = out.send(message);
        }
    }

    fn held(&self) -> Vec<HeldRun> {
        self.lock_runs()
            .iter()
            .map(|(scan_id, run)| HeldRun {
                scan_id: *scan_id,
                lease: run.lease.clone(),
            })
            .collect()
    }
}

struct AgentReporter {
    state: Arc<State>,
    scan_id: i32,
    lease: String,
}

impl Reporter for AgentReporter {
    async fn progress(&self, report: ProgressReport) -> AppResult<bool> {
        // Whether the run still holds its scan is the server's to say (a `Stop`).
        self.state.send(AgentMessage::Progress {
            scan_id: self.scan_id,
            lease: self.lease.clone(),
            report,
        });
        Ok(true)
    }
}

/// How a connection ended.
enum Session {
    /// Lost (or never made): connect again; `welcomed` when the server had accepted it.
    Lost { welcomed: bool },
    /// The server refused the token.
    Refused(String),
    /// Stopping, and nothing is left to send.
    Done,
}

/// Runs the agent until `shutdown` resolves (or its token is refused: an error).
pub async fn run_agent(
    settings: Settings,
    options: AgentOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let url = agent_url(&options.server)?;
    std::fs::create_dir_all(&settings.data_dir)
        .with_context(|| format!("while creating data dir {}", settings.data_dir.display()))?;
    // nmap processes left by an earlier agent on this machine that died.
    let dir = job::scans_dir(&settings.data_dir);
    let killed = crate::scanner::process::reap_orphans(&dir, |_| true);
    if killed > 0 {
        tracing::warn!(killed, "killed nmap processes left by an earlier agent");
    }
    let state = Arc::new(State {
        settings,
        runs: Mutex::new(HashMap::new()),
        out: Mutex::new(None),
        name: Mutex::new(String::from("agent")),
        changed: tokio::sync::Notify::new(),
    });
    let closing = CancellationToken::new();
    let stopping = closing.clone();
    let stopped_state = state.clone();
    tokio::spawn(async move {
        shutdown.await;
        stopping.cancel();
        let agent = stopped_state
            .name
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        for run in stopped_state.lock_runs().values() {
            run.control.stop(StopReason::AgentShutdown {
                agent: agent.clone(),
            });
        }
        stopped_state.changed.notify_waiters();
    });
    let mut backoff = BACKOFF_FIRST;
    loop {
        match session(&url, &options, &state, &closing).await {
            Session::Done => break,
            Session::Refused(why) => {
                anyhow::bail!("the server refused this agent: {why}");
            }
            Session::Lost { welcomed } => {
                if welcomed {
                    backoff = BACKOFF_FIRST;
                }
            }
        }
        if closing.is_cancelled() {
            // Stopping while disconnected: the server's leases lapse; it takes the scans over
            // or ends them INTERRUPTED.
            break;
        }
        let pause = jitter(backoff);
        tracing::info!(
            pause_ms = pause.as_millis() as u64,
            "reconnecting to the server"
        );
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            () = closing.cancelled() => break,
        }
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
    tracing::info!("agent stopped");
    Ok(())
}

/// `https://host` → `wss://host/api/agent` (and `http` → `ws`).
pub fn agent_url(server: &str) -> anyhow::Result<String> {
    let server = server.trim().trim_end_matches('/');
    let rest = if let Some(rest) = server.strip_prefix("https://") {
        format!("wss://{rest}")
    } else if let Some(rest) = server.strip_prefix("http://") {
        format!("ws://{rest}")
    } else if server.starts_with("wss://") || server.starts_with("ws://") {
        server.to_owned()
    } else {
        anyhow::bail!(
            "--server must be an http:// or https:// URL, such as https://scans.example.org"
        );
    };
    Ok(format!("{rest}{PATH}"))
}

fn jitter(pause: Duration) -> Duration {
    let mut byte = [0u8; 1];
    let _ = getrandom::fill(&mut byte);
    // ±25 %: agents that lost the same server do not all come back at once.
    pause.mul_f64(0.75 + f64::from(byte[0]) / 510.0)
}

async fn session(
    url: &str,
    options: &AgentOptions,
    state: &Arc<State>,
    closing: &CancellationToken,
) -> Session {
    let mut request = match url.into_client_request() {
        Ok(r) => r,
        Err(e) => return Session::Refused(format!("bad server URL: {e}")),
    };
    let Ok(auth) = format!("Bearer {}", options.token.expose()).parse() else {
        return Session::Refused("the token is not valid in a header".to_owned());
    };
    request.headers_mut().insert("authorization", auth);
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE_BYTES))
        .max_frame_size(Some(MAX_MESSAGE_BYTES));
    let connector = options
        .tls
        .clone()
        .map(tokio_tungstenite::Connector::Rustls);
    let socket = match tokio_tungstenite::connect_async_tls_with_config(
        request,
        Some(config),
        false,
        connector,
    )
    .await
    {
        Ok((socket, _)) => socket,
        Err(tungstenite::Error::Http(response))
            if matches!(response.status().as_u16(), 401 | 403) =>
        {
            let body = response
                .body()
                .as_deref()
                .map(String::from_utf8_lossy)
                .unwrap_or_default()
                .into_owned();
            let why = serde_json::from_str::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v["errors"][0]["message"].as_str().map(str::to_owned))
                .unwrap_or_else(|| format!("HTTP {}", response.status()));
            return Session::Refused(why);
        }
        Err(e) => {
            tracing::warn!(error = %e, "could not connect to the server");
            return Session::Lost { welcomed: false };
        }
    };
    let (mut sink, mut stream) = socket.split();
    let (tx, mut rx) = mpsc::unbounded_channel::<AgentMessage>();
    let hello = AgentMessage::Hello {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        slots: options.slots.max(1),
        held: state.held(),
    };
    if send(&mut sink, &hello).await.is_err() {
        return Session::Lost { welcomed: false };
    }
    *state.out.lock().unwrap_or_else(|e| e.into_inner()) = Some(tx.clone());
    // Results the server has not stored yet.
    let pending: Vec<AgentMessage> = state
        .lock_runs()
        .values()
        .filter_map(|r| r.finished.clone())
        .collect();
    for message in pending {
        let _ = tx.send(message);
    }
    let mut ping = tokio::time::interval(PING_EVERY);
    let mut last_heard = tokio::time::Instant::now();
    let mut welcomed = false;
    // Once stopping: how long the server gets to store the last results.
    let mut deadline: Option<tokio::time::Instant> = None;
    let ended = loop {
        if closing.is_cancelled() {
            if state.lock_runs().is_empty() {
                break Session::Done;
            }
            deadline.get_or_insert_with(|| tokio::time::Instant::now() + STOP_GRACE);
        }
        tokio::select! {
            frame = stream.next() => match frame {
                Some(Ok(Message::Text(text))) => {
                    last_heard = tokio::time::Instant::now();
                    match serde_json::from_str::<ServerMessage>(text.as_str()) {
                        Ok(message) => {
                            welcomed |= matches!(message, ServerMessage::Welcome { .. });
                            on_message(state, message);
                        }
                        Err(e) => tracing::warn!(error = %e, "unreadable message from the server; ignored"),
                    }
                }
                Some(Ok(Message::Close(frame))) => {
                    if let Some(frame) = frame
                        && u16::from(frame.code) == CLOSE_REFUSED
                    {
                        break Session::Refused(frame.reason.to_string());
                    }
                    break Session::Lost { welcomed };
                }
                Some(Ok(_)) => last_heard = tokio::time::Instant::now(),
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "connection to the server lost");
                    break Session::Lost { welcomed };
                }
                None => break Session::Lost { welcomed },
            },
            Some(message) = rx.recv() => {
                if send(&mut sink, &message).await.is_err() {
                    break Session::Lost { welcomed };
                }
            }
            _ = ping.tick() => {
                if last_heard.elapsed() > SILENCE_LIMIT {
                    tracing::warn!("the server stopped answering");
                    break Session::Lost { welcomed };
                }
                if sink.send(Message::Ping(Vec::new().into())).await.is_err() {
                    break Session::Lost { welcomed };
                }
            }
            () = state.changed.notified() => {}
            () = closing.cancelled(), if deadline.is_none() => {}
            () = tokio::time::sleep_until(deadline.unwrap_or_else(tokio::time::Instant::now)), if deadline.is_some() => {
                tracing::warn!("the server did not store every result before the agent stopped");
                break Session::Done;
            }
        }
    };
    *state.out.lock().unwrap_or_else(|e| e.into_inner()) = None;
    let _ = sink.close().await;
    ended
}

async fn send<S>(sink: &mut S, message: &AgentMessage) -> Result<(), ()>
where
    S: futures::Sink<Message> + Unpin,
{
    let text = serde_json::to_string(message).map_err(|_| ())?;
    sink.send(Message::Text(text.into())).await.map_err(|_| ())
}

fn on_message(state: &Arc<State>, message: ServerMessage) {
    match message {
        ServerMessage::Welcome {
            agent,
            pool,
            heartbeat_secs,
        } => {
            tracing::info!(%agent, %pool, heartbeat_secs, "connected to the server");
            *state.name.lock().unwrap_or_else(|e| e.into_inner()) = agent;
        }
        ServerMessage::Run {
            scan_id,
            lease,
            config_yaml,
            attempt,
        } => start_run(state, scan_id, lease, config_yaml, attempt),
        ServerMessage::Stop { scan_id, reason } => {
            if let Some(run) = state.lock_runs().get(&scan_id) {
                tracing::info!(scan_id, ?reason, "stopping a run");
                run.control.stop(reason);
            }
        }
        ServerMessage::Stored { scan_id } => {
            let ended = state.lock_runs().remove(&scan_id);
            if ended.is_some() {
                state.changed.notify_waiters();
            }
        }
        ServerMessage::Drop { scan_id } => {
            if let Some(run) = state.lock_runs().remove(&scan_id) {
                tracing::warn!(
                    scan_id,
                    "the server no longer holds this run for us; dropped"
                );
                run.control.stop(StopReason::LeaseLost);
                state.changed.notify_waiters();
            }
        }
    }
}

fn start_run(state: &Arc<State>, scan_id: i32, lease: String, yaml: String, attempt: i32) {
    let control = Arc::new(JobControl::new(lease.clone()));
    {
        let mut runs = state.lock_runs();
        if runs.contains_key(&scan_id) {
            return;
        }
        runs.insert(
            scan_id,
            Run {
                lease: lease.clone(),
                control: control.clone(),
                finished: None,
            },
        );
    }
    tracing::info!(scan_id, attempt, "scan starts");
    let state = state.clone();
    tokio::spawn(async move {
        let reporter = AgentReporter {
            state: state.clone(),
            scan_id,
            lease: lease.clone(),
        };
        let env = RunEnv {
            settings: &state.settings,
            control: &control,
            reporter: &reporter,
        };
        let report = job::execute(&env, scan_id, &yaml).await;
        tracing::info!(scan_id, ended = ?report.ended, "scan ended here; sending its result");
        let finished = AgentMessage::Finished {
            scan_id,
            lease: lease.clone(),
            report,
        };
        let keep = {
            let mut runs = state.lock_runs();
            match runs.get_mut(&scan_id) {
                Some(run) if run.lease == lease => {
                    run.finished = Some(finished.clone());
                    true
                }
                _ => false,
            }
        };
        if keep {
            state.send(finished);
        }
        state.changed.notify_waiters();
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_url_follows_the_server_scheme() {
        assert_eq!(
            agent_url("https://scans.example.org/").expect("url"),
            "wss://scans.example.org/api/agent"
        );
        assert_eq!(
            agent_url("http://127.0.0.1:8080").expect("url"),
            "ws://127.0.0.1:8080/api/agent"
        );
        assert!(agent_url("ftp://x").is_err());
        assert!(agent_url("scans.example.org").is_err());
    }

    #[test]
    fn jitter_stays_within_a_quarter() {
        for _ in 0..100 {
            let p = jitter(Duration::from_secs(4));
            assert!(
                p >= Duration::from_secs(3) && p <= Duration::from_secs(5),
                "{p:?}"
            );
        }
    }
}
