//! The real `sneakyscan serve` killed with SIGKILL mid-scan (no chance to clean up): its nmap
//! keeps running on its own. After the restart the scan's lease lapses, the job engine
//! re-queues its job, and the new process takes the scan over: it kills the orphan nmap and
//! runs the scan again from the start (run 2) — nothing stays "running forever", nothing of
//! the lost run is stored.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(60);

fn sneakyscan(data_dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sneakyscan"));
    cmd.arg("--data-dir")
        .arg(data_dir)
        .env("SNEAKYSCAN_LOG__LEVEL", "warn")
        // Leases of 2 s: a lost scan is taken over within seconds.
        .env("SNEAKYSCAN_JOBS__HEARTBEAT_SECS", "1")
        .env("SNEAKYSCAN_JOBS__MISSED_HEARTBEATS", "2")
        .env("SNEAKYSCAN_JOBS__POLL_MS", "200");
    cmd
}

/// Polls `check` until it answers, or fails after [`WAIT`] (a bounded wait, not a sleep).
fn wait_for<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(start.elapsed() < WAIT, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// One HTTP/1.1 request with `Connection: close`; the status and the (de-chunked) body.
fn http(addr: SocketAddr, token: &str, body: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    let req = format!(
        "POST /graphql HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).ok()?;
    let mut raw = String::new();
    s.read_to_string(&mut raw).ok()?;
    let (head, rest) = raw.split_once("\r\n\r\n")?;
    let status = head.split(' ').nth(1)?.parse().ok()?;
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        let mut out = String::new();
        let mut rest = rest;
        while let Some((size, tail)) = rest.split_once("\r\n") {
            let n = usize::from_str_radix(size.trim(), 16).ok()?;
            if n == 0 {
                break;
            }
            out.push_str(tail.get(..n)?);
            rest = tail.get(n + 2..)?;
        }
        out
    } else {
        rest.to_owned()
    };
    Some((status, body))
}

fn gql(addr: SocketAddr, token: &str, query: &str) -> serde_json::Value {
    let body = serde_json::json!({ "query": query }).to_string();
    let (status, text) = http(addr, token, &body).expect("server answers");
    assert_eq!(status, 200, "{text}");
    serde_json::from_str(&text).expect("json")
}

fn serve(data_dir: &Path, addr: SocketAddr) -> Child {
    let child = sneakyscan(data_dir)
        .args(["serve", "--listen", &addr.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start sneakyscan serve");
    wait_for("the server to listen", || TcpStream::connect(addr).ok());
    child
}

/// nmap processes whose target file lies under `dir` (ours).
fn nmap_under(dir: &Path) -> Vec<u32> {
    let prefix = dir.display().to_string();
    std::fs::read_dir("/proc")
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| {
                    let pid = e.file_name().to_str()?.parse::<u32>().ok()?;
                    let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
                    let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
                    (text.contains("nmap") && text.contains(&prefix)).then_some(pid)
                })
                .collect()
        })
        .unwrap_or_default()
}

fn free_addr() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr")
}

#[test]
fn sigkill_mid_scan_then_restart_reaps_nmap_and_takes_the_scan_over() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let migrate = sneakyscan(&data).arg("migrate").output().expect("migrate");
    assert!(migrate.status.success());
    let mut create = sneakyscan(&data)
        .args([
            "user",
            "create",
            "--username",
            "op",
            "--role",
            "operator",
            "--password-stdin",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("user create");
    create
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"operator-password\n")
        .expect("password");
    assert!(create.wait().expect("wait").success());
    let key = sneakyscan(&data)
        .args(["apikey", "create", "--username", "op", "--name", "crash"])
        .output()
        .expect("apikey");
    let key = String::from_utf8_lossy(&key.stdout).into_owned();
    let token = key
        .split_whitespace()
        .find(|w| w.starts_with("ssk_"))
        .unwrap_or_else(|| panic!("token in {key}"))
        .to_owned();

    // A service that accepts and never speaks: version detection waits on it for a long time.
    let n = std::process::id();
    let ip = format!("127.{}.{}.1", 30 + n % 150, 1 + (n >> 8) % 250);
    let silent = TcpListener::bind((ip.as_str(), 0)).expect("bind silent listener");
    let port = silent.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in silent.incoming().flatten() {
            held.push(s);
        }
    });

    let addr = free_addr();
    let mut server = serve(&data, addr);
    let started = gql(
        addr,
        &token,
        &format!(
            "mutation {{ startScan(input: {{ targets: [\"{ip}\"], ports: \"{port}\" }}) {{ id }} }}"
        ),
    );
    let id = started["data"]["startScan"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("startScan: {started}"))
        .to_owned();
    let scans_dir = data.join("scans");
    wait_for("nmap to run", || {
        (!nmap_under(&scans_dir).is_empty()).then_some(())
    });

    // SIGKILL: the server cannot stop its children or write anything.
    let killed_pid = server.id();
    server.kill().expect("SIGKILL");
    server.wait().expect("reaped");
    // Usually still running (its own process group); it may also die of SIGPIPE at its next
    // progress line, the server's end of its stdout being gone. Either way, after the restart
    // none may be left.
    let orphans = nmap_under(&scans_dir);
    eprintln!("nmap processes left by the killed server: {orphans:?}");
    // So that the reaping is tested every time, also leave an orphan that surely lives on: an
    // nmap in its own process group reading targets from the scans dir, stuck on the silent
    // service (as a crashed server's service phase would be).
    let targets = scans_dir.join(&id).join("orphan-targets.txt");
    std::fs::write(&targets, format!("{ip}\n")).expect("targets");
    let mut orphan = Command::new("nmap")
        .args([
            "-n",
            "-Pn",
            "-sT",
            "-sV",
            "--version-all",
            "-p",
            &port.to_string(),
            "-iL",
        ])
        .arg(&targets)
        .args(["-oX", "/dev/null"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("start an orphan nmap");
    wait_for("the orphan to be visible", || {
        nmap_under(&scans_dir).contains(&orphan.id()).then_some(())
    });
    let mut server = serve(&data, addr);
    wait_for("the orphan nmap to be killed", || {
        (!nmap_under(&scans_dir).contains(&orphan.id())).then_some(())
    });
    let ended = orphan.wait().expect("orphan reaped");
    assert!(
        !ended.success(),
        "the orphan was killed, not finished: {ended:?}"
    );
    // Taken over: run 2, by the new process, from the start.
    let query = format!("{{ scan(id: \"{id}\") {{ status attempt worker message }} }}");
    let scan = wait_for("the scan to be taken over", || {
        let scan = gql(addr, &token, &query)["data"]["scan"].clone();
        (scan["attempt"] == 2 && scan["status"] == "RUNNING").then_some(scan)
    });
    assert!(
        !scan["worker"]
            .as_str()
            .unwrap_or_default()
            .contains(&format!("-{killed_pid}-")),
        "run 2 is the new process': {scan}"
    );
    // And it can be cancelled like any running scan; then no nmap is left.
    let cancelled = gql(
        addr,
        &token,
        &format!("mutation {{ cancelScan(id: \"{id}\") {{ status }} }}"),
    );
    assert_eq!(
        cancelled["data"]["cancelScan"]["status"], "CANCELLED",
        "{cancelled}"
    );
    wait_for("no nmap left", || {
        nmap_under(&scans_dir).is_empty().then_some(())
    });
    let _ = server.kill();
    let _ = server.wait();
}
