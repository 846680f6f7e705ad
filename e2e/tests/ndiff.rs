//! Parity with nmap's own `ndiff` (issue 13): on pairs of nmap XML documents — two real scans
//! of loopback listeners with a port closed, one opened and a banner upgraded in between, and
//! the recorded samples — the port and service changes `scanDiff` reports of the two imported
//! documents equal what `ndiff` says of the same two files.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use e2e::TestApp;
use e2e::listeners::{self, Kind};
use sea_orm::ConnectionTrait;
use serde_json::json;

/// (address, change, protocol, port): change `opened`, `closed` or `service`.
type Changes = BTreeSet<(String, String, String, u16)>;

/// A port's line in ndiff's output before (`-`) and after (`+`): (state, the rest).
type Sides = [Option<(String, String)>; 2];

/// What `ndiff a b` says of ports: its `-`/`+` port lines, per host.
fn ndiff(a: &Path, b: &Path) -> Changes {
    let out = Command::new("ndiff")
        .arg(a)
        .arg(b)
        .output()
        .expect("ndiff runs (make nmap installs it)");
    // ndiff exits 1 when the documents differ.
    assert!(
        out.status.code().is_some_and(|c| c == 0 || c == 1),
        "ndiff failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let mut host = String::new();
    // (host, protocol, port) → (before, after): (state, rest of the line)
    let mut ports: std::collections::BTreeMap<(String, String, u16), Sides> = Default::default();
    for line in text.lines() {
        let trimmed = line.trim_start_matches([' ', '-', '+']);
        if !line.starts_with(['-', '+']) && line.trim_end().ends_with(':') {
            // `127.0.0.1:` or `name (127.0.0.1):`
            let h = line.trim().trim_end_matches(':');
            host = h
                .rsplit_once('(')
                .map_or(h, |(_, a)| a.trim_end_matches(')'))
                .to_owned();
            continue;
        }
        let Some(sign) = line.chars().next().filter(|c| *c == '-' || *c == '+') else {
            continue;
        };
        let mut words = trimmed.split_whitespace();
        let Some((port, protocol)) = words.next().and_then(|w| w.split_once('/')) else {
            continue;
        };
        let Ok(port) = port.parse::<u16>() else {
            continue;
        };
        let state = words.next().unwrap_or_default().to_owned();
        let rest = words.collect::<Vec<_>>().join(" ");
        let slot = usize::from(sign == '+');
        ports
            .entry((host.clone(), protocol.to_owned(), port))
            .or_default()[slot] = Some((state, rest));
    }
    let mut changes = Changes::new();
    for ((host, protocol, port), [before, after]) in ports {
        let open = |s: &Option<(String, String)>| s.as_ref().is_some_and(|(st, _)| st == "open");
        let kind = match (open(&before), open(&after)) {
            (false, true) => "opened",
            (true, false) => "closed",
            (true, true) if before != after => "service",
            _ => continue,
        };
        changes.insert((host, kind.to_owned(), protocol, port));
    }
    changes
}

/// What `scanDiff` says of the two documents imported.
async fn ours(app: &TestApp, client: &reqwest::Client, a: &str, b: &str) -> Changes {
    let (base, head) = (
        app.import_xml(client, "", a).await,
        app.import_xml(client, "", b).await,
    );
    let query = "query($b:ID!,$h:ID!){ scanDiff(baseId:$b, headId:$h){ entries(first: 100) { edges { node { kind address protocol port before after } } } } }";
    let body = app
        .gql(client, query, json!({ "b": base, "h": head }))
        .await;
    assert!(body["errors"].is_null(), "{body}");
    // Read through the scans' host digests (only the hosts that differ) and without them (every
    // host): the same entries.
    let db = app.db().await;
    db.execute_unprepared(&format!(
        "DELETE FROM scan_digests WHERE scan_id IN ({base}, {head})"
    ))
    .await
    .expect("drop digests");
    let whole = app
        .gql(client, query, json!({ "b": base, "h": head }))
        .await;
    assert_eq!(
        body, whole,
        "the diff through digests equals the whole read"
    );
    body["data"]["scanDiff"]["entries"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .filter_map(|e| {
            let n = &e["node"];
            let kind = match n["kind"].as_str()? {
                "PORT_OPENED" => "opened",
                "PORT_CLOSED" => "closed",
                "SERVICE_CHANGED" => "service",
                _ => return None,
            };
            Some((
                n["address"].as_str()?.to_owned(),
                kind.to_owned(),
                n["protocol"].as_str()?.to_lowercase(),
                u16::try_from(n["port"].as_u64()?).ok()?,
            ))
        })
        .collect()
}

/// Runs nmap (async: the listeners keep answering meanwhile).
async fn nmap(ip: std::net::IpAddr, ports: &str, out: &Path) {
    let status = tokio::process::Command::new("nmap")
        .args([
            "-sT",
            "-sV",
            "-Pn",
            "-n",
            "--version-light",
            "-p",
            ports,
            "-oX",
        ])
        .arg(out)
        .arg(ip.to_string())
        .output()
        .await
        .expect("nmap runs");
    assert!(
        status.status.success(),
        "nmap: {}",
        String::from_utf8_lossy(&status.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scan_diff_reports_the_port_and_service_changes_ndiff_reports() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let dir = tempfile::tempdir().expect("tempdir");

    // Two real scans of loopback listeners.
    let ip = listeners::loopback(listeners::loopback_block(), 1);
    let web = listeners::start(ip, Kind::Http).await;
    let ssh = listeners::start(ip, Kind::Banner).await;
    let later = listeners::start(ip, Kind::Http).await;
    let (later_addr, ssh_addr) = (later.addr, ssh.addr);
    drop(later);
    let ports = [web.addr, ssh.addr, later_addr]
        .iter()
        .map(|a| a.port().to_string())
        .collect::<Vec<_>>()
        .join(",");
    let (a, b) = (dir.path().join("a.xml"), dir.path().join("b.xml"));
    // A dropped listener lets go of its port once its task is dropped: wait for that.
    while listeners::reachable(later_addr).await {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    nmap(ip, &ports, &a).await;
    let web_addr = web.addr;
    drop((web, ssh));
    while listeners::reachable(web_addr).await {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let _later = listeners::start_on(later_addr, Kind::Http).await;
    let _ssh = listeners::start_on(ssh_addr, Kind::NewerBanner).await;
    nmap(ip, &ports, &b).await;

    let theirs = ndiff(&a, &b);
    assert_eq!(
        theirs.len(),
        3,
        "the pair differs in three ports: {theirs:?}"
    );
    let read = |p: &Path| std::fs::read_to_string(p).expect("xml");
    assert_eq!(ours(&app, &admin, &read(&a), &read(&b)).await, theirs);
    assert_eq!(
        ours(&app, &admin, &read(&b), &read(&a)).await,
        ndiff(&b, &a),
        "and backwards"
    );

    // A recorded pair (a service scan as root and unprivileged: the same ports) and a
    // synthetic 150-host pair with upgrades, closed and new ports. (Debian's ndiff cannot read
    // the recorded SSL samples: two scripts on one port crash its sorting.)
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../nmap-parser/tests/data");
    let first = nmap_parser::synthetic::service_scan(150);
    std::fs::write(dir.path().join("s1.xml"), &first).expect("write");
    std::fs::write(
        dir.path().join("s2.xml"),
        nmap_parser::synthetic::changed_service_scan(&first),
    )
    .expect("write");
    for (x, y) in [
        (
            data.join("nmap_sV_root.xml"),
            data.join("nmap_sV_unpriv.xml"),
        ),
        (dir.path().join("s1.xml"), dir.path().join("s2.xml")),
        (dir.path().join("s2.xml"), dir.path().join("s1.xml")),
    ] {
        assert_eq!(
            ours(&app, &admin, &read(&x), &read(&y)).await,
            ndiff(&x, &y),
            "{} → {}",
            x.display(),
            y.display()
        );
    }
    app.stop().await;
}
