//! The `sneakyscan` binary's commands, run as a user would run them.

use std::io::Write;
use std::process::{Command, Stdio};

fn sneakyscan(data_dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sneakyscan"));
    cmd.arg("--data-dir")
        .arg(data_dir)
        .env("SNEAKYSCAN_LOG__LEVEL", "warn");
    cmd
}

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run sneakyscan");
    assert!(
        out.status.success(),
        "{:?} failed: {}{}",
        cmd,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn with_stdin(cmd: &mut Command, input: &str) -> std::process::Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("wait")
}

#[test]
fn user_apikey_and_config_commands_work_and_refuse_bad_input() {
    let dir = tempfile::tempdir().expect("dir");
    let out = run_ok(sneakyscan(dir.path()).arg("migrate"));
    assert!(out.contains("done"));

    let out = with_stdin(
        sneakyscan(dir.path()).args([
            "user",
            "create",
            "--username",
            "alice",
            "--role",
            "operator",
            "--password-stdin",
        ]),
        "alice-password\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let dup = with_stdin(
        sneakyscan(dir.path()).args([
            "user",
            "create",
            "--username",
            "alice",
            "--role",
            "viewer",
            "--password-stdin",
        ]),
        "another-password\n",
    );
    assert!(!dup.status.success());
    assert!(String::from_utf8_lossy(&dup.stderr).contains("CONFLICT"));

    let generated = run_ok(sneakyscan(dir.path()).args([
        "user",
        "create",
        "--username",
        "bob",
        "--role",
        "viewer",
    ]));
    assert!(generated.contains("password: "), "{generated}");

    let out = with_stdin(
        sneakyscan(dir.path()).args([
            "user",
            "set-password",
            "--username",
            "alice",
            "--password-stdin",
        ]),
        "new-alice-password\n",
    );
    assert!(out.status.success());

    let key = run_ok(sneakyscan(dir.path()).args([
        "apikey",
        "create",
        "--username",
        "alice",
        "--name",
        "ci",
    ]));
    assert!(key.contains("token (shown once): ssk_"), "{key}");

    let configs = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../configs/loopback-lab.yaml");
    let out = run_ok(
        sneakyscan(dir.path())
            .args(["config", "import"])
            .arg(&configs),
    );
    assert!(out.contains("imported: Loopback lab"), "{out}");
    let again = run_ok(
        sneakyscan(dir.path())
            .args(["config", "import"])
            .arg(&configs),
    );
    assert!(again.contains("skipped"), "{again}");

    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "title: x\nsites:\n  - name: a\n    cidrs: [{cidr: 127.0.0.0/33}]\n",
    )
    .expect("write");
    let out = sneakyscan(dir.path())
        .args(["config", "import"])
        .arg(&bad)
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("line 4") && err.contains("VALIDATION"),
        "{err}"
    );
}

use std::path::PathBuf;

#[test]
fn export_schema_prints_the_sdl() {
    let dir = tempfile::tempdir().expect("dir");
    let out = run_ok(sneakyscan(dir.path()).arg("export-schema"));
    assert!(out.contains("type Query"));
    assert!(out.contains("scanProgress(scanId: ID!): ScanProgress!"));
}

#[test]
fn healthcheck_fails_when_nothing_listens() {
    let dir = tempfile::tempdir().expect("dir");
    // Port 1 on loopback: nothing listens there.
    let out = sneakyscan(dir.path())
        .args(["healthcheck", "--url", "http://127.0.0.1:1/healthz"])
        .output()
        .expect("run");
    assert!(!out.status.success());
}

#[test]
fn serve_starts_prints_the_generated_admin_password_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().expect("dir");
    // Port 0: the OS picks a free port; the log line tells which.
    let mut child = sneakyscan(dir.path())
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env_remove("SNEAKYSCAN_ADMIN_PASSWORD")
        .env("SNEAKYSCAN_LOG__LEVEL", "info")
        .env("SNEAKYSCAN_LOG__FORMAT", "json")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let mut reader = std::io::BufReader::new(stdout);
    let mut password_line = String::new();
    let mut addr = None;
    use std::io::BufRead;
    for _ in 0..50 {
        let mut line = String::new();
        if reader.read_line(&mut line).expect("read") == 0 {
            break;
        }
        if line.contains("with password:") {
            password_line = line.clone();
        }
        if line.contains("SneakyScanner listening") {
            let v: serde_json::Value = serde_json::from_str(&line).expect("json log line");
            addr = v["addr"].as_str().map(str::to_owned);
            break;
        }
    }
    assert!(
        password_line.contains("`admin`"),
        "first start prints the admin password"
    );
    let addr = addr.expect("listening address logged");
    let ok = Command::new(env!("CARGO_BIN_EXE_sneakyscan"))
        .args(["healthcheck", "--url", &format!("http://{addr}/healthz")])
        .output()
        .expect("healthcheck");
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    // Graceful shutdown on SIGTERM.
    let pid = child.id().to_string();
    Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    let status = child.wait().expect("wait");
    assert!(status.success(), "exit status {status:?}");
}

#[test]
fn import_stores_an_nmap_file_and_refuses_a_bad_one() {
    let dir = tempfile::tempdir().expect("temp dir");
    let sample = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../nmap-parser/tests/data/nmap_sV_root.xml"
    );
    let out = run_ok(sneakyscan(dir.path()).args(["import", sample, "--title", "From the CLI"]));
    assert!(out.starts_with("imported scan 1 \"From the CLI\""), "{out}");
    assert!(out.contains("open ports"), "{out}");

    let bad = dir.path().join("bad.xml");
    std::fs::write(&bad, "<html>not nmap</html>").expect("write");
    let res = sneakyscan(dir.path())
        .args(["import", bad.to_str().expect("path")])
        .output()
        .expect("runs");
    assert!(!res.status.success());
    let err = String::from_utf8_lossy(&res.stderr);
    assert!(err.contains("not a readable nmap XML document"), "{err}");
}

/// `sneakyscan scan CONFIG --out DIR`: a real nmap scan of a loopback listener without a
/// server; the three reports land in DIR, the work directory does not stay behind.
#[test]
fn one_off_scan_writes_the_three_reports() {
    let dir = tempfile::tempdir().expect("temp dir");
    // A listener of its own on a random 127.x address (the whole /8 is loopback on Linux).
    let r = uuid_like();
    let ip = format!("127.{}.{}.1", 60 + r % 100, 1 + (r >> 8) % 250);
    let listener = std::net::TcpListener::bind((ip.as_str(), 0)).expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || for _ in listener.incoming() {});
    let config = dir.path().join("lab.yaml");
    std::fs::write(
        &config,
        format!(
            // An agent pool is no obstacle: `scan` runs the config itself.
            "title: CLI lab\nsites:\n  - name: Lab\n    agent_pool: remote-lab\n    ips:\n      - address: {ip}\n        expected: {{ ping: true, tcp_ports: [{port}] }}\nscan:\n  tcp_ports: \"{port}\"\n  phases: [ping, tcp]\n"
        ),
    )
    .expect("config");
    let out_dir = dir.path().join("out");
    let out = run_ok(sneakyscan(&dir.path().join("data")).args([
        "scan",
        config.to_str().expect("path"),
        "--out",
        out_dir.to_str().expect("path"),
    ]));
    assert!(
        out.contains("COMPLETED: 1 hosts (1 up), 1 open ports"),
        "{out}"
    );
    assert!(out.contains("tcp"), "progress lines: {out}");
    for file in ["report.json", "report.html", "report.zip"] {
        assert!(out_dir.join(file).is_file(), "{file} missing: {out}");
    }
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("report.json")).expect("read"))
            .expect("json");
    assert_eq!(json["scan"]["title"], "CLI lab");
    assert_eq!(json["sites"][0]["ips"][0]["actual"]["tcp_ports"][0], port);

    // A bad config: its error, and a failure exit.
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "title: Bad\nsites:\n  - name: X\n    ips:\n      - address: \"127.0.0.1; ls\"\n",
    )
    .expect("write");
    let res = sneakyscan(&dir.path().join("data"))
        .args([
            "scan",
            bad.to_str().expect("path"),
            "--out",
            out_dir.to_str().expect("path"),
        ])
        .output()
        .expect("runs");
    assert!(!res.status.success());
    assert!(String::from_utf8_lossy(&res.stderr).contains("VALIDATION"));

    // --allow replaces the scope: a network that does not hold the target refuses the scan
    // before anything runs; the target's own /32 lets it run; a malformed network is refused.
    let scan_with = |allow: &str, out: &std::path::Path| {
        sneakyscan(&dir.path().join("data"))
            .args(["scan", config.to_str().expect("path"), "--out"])
            .arg(out)
            .args(["--allow", allow])
            .output()
            .expect("runs")
    };
    let elsewhere = scan_with("127.255.255.0/24", &dir.path().join("out-refused"));
    let err = String::from_utf8_lossy(&elsewhere.stderr);
    assert!(
        !elsewhere.status.success() && err.contains("SCOPE"),
        "{err}"
    );
    assert!(!dir.path().join("out-refused").exists(), "nothing written");
    let own = scan_with(&format!("{ip}/32"), &dir.path().join("out-allowed"));
    assert!(
        own.status.success(),
        "{}",
        String::from_utf8_lossy(&own.stderr)
    );
    assert!(dir.path().join("out-allowed/report.json").is_file());
    let nonsense = scan_with("not-a-network", &dir.path().join("out-bad"));
    let err = String::from_utf8_lossy(&nonsense.stderr);
    assert!(
        !nonsense.status.success() && err.contains("--allow") && err.contains("VALIDATION"),
        "{err}"
    );
}

fn uuid_like() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() ^ std::process::id())
        .unwrap_or(7)
}
