//! The scan engine against real nmap and listeners started here on 127.x addresses: every
//! phase with live progress over graphql-transport-ws, stored results and verdicts, cancel,
//! restart, concurrency and phase timeouts.

use e2e::listeners::{self, CERT_CN, Kind};
use e2e::{TestApp, error_code, ws};
use serde_json::{Value, json};

const START: &str = "mutation($i:StartScanInput!){ startScan(input:$i){ id status } }";
const CANCEL: &str = "mutation($id:ID!){ cancelScan(id:$id){ id status message errorMessage } }";
const STATUS: &str = "query($id:ID!){ scan(id:$id){ status phase errorMessage message } }";

const TREE: &str = "query($id:ID!){ scan(id:$id){
  status percent phase errorMessage message commandLines
  summary { hostsTotal hostsUp openPorts services certificates unexpectedPorts missingPorts }
  sites { name ips { address status pingExpected pingActual ports {
    port protocol state expected unexpected missing
    service { name product tunnel certificate { subject selfSigned sans sha256Fingerprint keyType } tlsVersions { version grade } }
  } } }
} }";

async fn start(app: &TestApp, client: &reqwest::Client, input: Value) -> String {
    let body = app.gql(client, START, json!({ "i": input })).await;
    assert!(body["errors"].is_null(), "startScan failed: {body}");
    assert_eq!(body["data"]["startScan"]["status"], "QUEUED");
    body["data"]["startScan"]["id"]
        .as_str()
        .expect("id")
        .to_owned()
}

async fn status(app: &TestApp, client: &reqwest::Client, id: &str) -> Value {
    app.gql(client, STATUS, json!({ "id": id })).await["data"]["scan"].clone()
}

fn scans_dir(app: &TestApp) -> std::path::PathBuf {
    app.data_dir.path().join("scans")
}

#[tokio::test]
async fn scan_runs_every_phase_against_real_listeners() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let block = listeners::loopback_block();
    let (a, b) = (listeners::loopback(block, 1), listeners::loopback(block, 2));
    let http = listeners::start(a, Kind::Http).await;
    let https = listeners::start(a, Kind::Https).await;
    let ssh = listeners::start(b, Kind::Banner).await;
    // A port nothing listens on: declared, so it must come back missing.
    let closed = {
        let l = tokio::net::TcpListener::bind((a, 0)).await.expect("bind");
        l.local_addr().expect("addr").port()
    };
    let (p_http, p_https, p_ssh) = (http.addr.port(), https.addr.port(), ssh.addr.port());
    let yaml = format!(
        "title: Real listeners
sites:
  - name: Lab
    ips:
      - address: {a}
        expected: {{ ping: true, tcp_ports: [{p_http}, {closed}] }}
      - address: {b}
        expected: {{ ping: true, tcp_ports: [{p_ssh}] }}
scan:
  tcp_ports: \"{p_http},{p_https},{p_ssh},{closed}\"
  phases: [ping, tcp, service, tls]
"
    );
    let config_id = app.create_config(&admin, &yaml).await;

    // Subscribe before starting: every event of the scan is seen.
    let mut socket = ws::signed_in(&app).await;
    app.subscribe_updates(&mut socket, "u").await;
    let id = start(&app, &admin, json!({ "configId": config_id })).await;
    let events = ws::events_until(&mut socket, &id, ws::is_terminal).await;

    let statuses: Vec<&str> = events.iter().filter_map(|e| e["status"].as_str()).collect();
    assert_eq!(statuses.first(), Some(&"QUEUED"), "{events:#?}");
    assert_eq!(statuses.last(), Some(&"COMPLETED"), "{events:#?}");
    assert!(statuses.contains(&"RUNNING"));
    let mut phases: Vec<&str> = events.iter().filter_map(|e| e["phase"].as_str()).collect();
    phases.dedup();
    for phase in ["PING", "TCP", "SERVICE"] {
        assert!(
            phases.contains(&phase),
            "phase {phase} not reported: {phases:?}"
        );
    }
    let percents: Vec<f64> = events
        .iter()
        .filter_map(|e| e["percent"].as_f64())
        .collect();
    assert!(
        percents.windows(2).all(|w| w[0] <= w[1]),
        "percent went backwards: {percents:?}"
    );
    assert_eq!(percents.last(), Some(&100.0));

    let scan = app.gql(&admin, TREE, json!({ "id": id })).await["data"]["scan"].clone();
    assert_eq!(scan["status"], "COMPLETED", "{scan:#}");
    let lines = scan["commandLines"].as_array().expect("command lines");
    assert_eq!(lines.len(), 3, "ping, tcp, service: {lines:?}");
    for line in lines {
        let argv: Vec<&str> = line
            .as_array()
            .expect("present")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert!(argv.contains(&"-iL"), "{argv:?}");
        assert!(
            !argv.iter().any(|w| w.contains(&a.to_string())),
            "target in argv: {argv:?}"
        );
    }

    let ips = scan["sites"][0]["ips"].as_array().expect("ips");
    let ip = |addr: &str| {
        ips.iter()
            .find(|i| i["address"] == addr)
            .expect("address listed")
    };
    let port = |ip: &Value, p: u16| {
        ip["ports"]
            .as_array()
            .expect("present")
            .iter()
            .find(|x| x["port"] == p)
            .cloned()
            .unwrap_or_else(|| panic!("port {p} missing in {ip:#}"))
    };
    let host_a = ip(&a.to_string());
    assert_eq!(host_a["status"], "UP");
    assert_eq!(host_a["pingActual"], true);
    let web = port(host_a, p_http);
    assert_eq!(
        (web["state"].as_str(), web["expected"].as_bool()),
        (Some("OPEN"), Some(true))
    );
    assert_eq!(web["service"]["name"], "http", "{web:#}");
    let tls = port(host_a, p_https);
    assert_eq!(tls["unexpected"], true, "{tls:#}");
    assert_eq!(tls["service"]["tunnel"], "ssl", "{tls:#}");
    let cert = &tls["service"]["certificate"];
    assert_eq!(cert["subject"], format!("CN={CERT_CN}"), "{tls:#}");
    assert_eq!(cert["selfSigned"], true);
    assert_eq!(cert["sha256Fingerprint"].as_str().map(str::len), Some(64));
    assert!(
        tls["service"]["tlsVersions"]
            .as_array()
            .is_some_and(|v| !v.is_empty()),
        "{tls:#}"
    );
    let gone = port(host_a, closed);
    assert_eq!(gone["missing"], true, "{gone:#}");
    let host_b = ip(&b.to_string());
    let banner = port(host_b, p_ssh);
    assert_eq!(banner["service"]["name"], "ssh", "{banner:#}");
    assert_eq!(banner["service"]["product"], "OpenSSH", "{banner:#}");

    let summary = &scan["summary"];
    assert_eq!(summary["hostsUp"], 2);
    assert_eq!(summary["openPorts"], 3);
    assert_eq!(summary["unexpectedPorts"], 1);
    assert_eq!(summary["missingPorts"], 1);
    assert_eq!(summary["certificates"], 1);
    assert!(!listeners::nmap_running_under(&scans_dir(&app)));
    app.stop().await;
}

/// A silent listener (version detection waits on it) and a socket subscribed to every scan's
/// progress before anything starts.
async fn silent_listener_and_updates(app: &TestApp) -> (listeners::Listener, ws::Socket) {
    let silent = listeners::start(
        listeners::loopback(listeners::loopback_block(), 1),
        Kind::Silent,
    )
    .await;
    let mut socket = ws::signed_in(app).await;
    app.subscribe_updates(&mut socket, "u").await;
    (silent, socket)
}

/// An ad-hoc scan whose service phase waits on a silent port: slow enough to act on.
async fn slow_scan(
    app: &TestApp,
    client: &reqwest::Client,
    silent: std::net::SocketAddr,
) -> String {
    start(
        app,
        client,
        json!({ "targets": [silent.ip().to_string()], "ports": silent.port().to_string() }),
    )
    .await
}

/// nmap itself reported progress in the service phase: it is running.
fn nmap_reports_service_progress(e: &Value) -> bool {
    e["phase"] == "SERVICE" && e["message"].as_str().is_some_and(|m| m.ends_with('%'))
}

#[tokio::test]
async fn cancel_mid_scan_kills_nmap_and_marks_the_scan_cancelled() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let (silent, mut socket) = silent_listener_and_updates(&app).await;
    let id = slow_scan(&app, &admin, silent.addr).await;
    ws::events_until(&mut socket, &id, nmap_reports_service_progress).await;
    assert!(
        listeners::nmap_running_under(&scans_dir(&app)),
        "nmap runs the service phase"
    );

    let body = app.gql(&admin, CANCEL, json!({ "id": id })).await;
    assert!(body["errors"].is_null(), "{body}");
    assert_eq!(body["data"]["cancelScan"]["status"], "CANCELLED");
    assert_eq!(body["data"]["cancelScan"]["message"], "cancelled by admin");
    assert!(
        !listeners::nmap_running_under(&scans_dir(&app)),
        "no nmap left"
    );
    let events = ws::events_until(&mut socket, &id, ws::is_terminal).await;
    assert_eq!(events.last().expect("present")["status"], "CANCELLED");
    // What the TCP phase found is kept.
    let scan = app.gql(&admin, TREE, json!({ "id": id })).await["data"]["scan"].clone();
    assert_eq!(scan["summary"]["openPorts"], 1, "{scan:#}");

    // A finished scan cannot be cancelled.
    let again = app.gql(&admin, CANCEL, json!({ "id": id })).await;
    assert_eq!(error_code(&again), "CONFLICT", "{again}");
    app.stop().await;
}

#[tokio::test]
async fn restart_during_a_scan_leaves_it_interrupted() {
    let mut app = TestApp::spawn().await;
    let admin = app.admin().await;
    let (silent, mut socket) = silent_listener_and_updates(&app).await;
    let id = slow_scan(&app, &admin, silent.addr).await;
    ws::events_until(&mut socket, &id, nmap_reports_service_progress).await;
    // Subscribers hear about it before the server goes.
    let stop = async { ws::events_until(&mut socket, &id, ws::is_terminal).await };
    let (events, ()) = tokio::join!(stop, app.restart());
    assert_eq!(events.last().expect("present")["status"], "INTERRUPTED");
    assert!(
        !listeners::nmap_running_under(&scans_dir(&app)),
        "no nmap left"
    );

    let admin = app.admin().await;
    let scan = status(&app, &admin, &id).await;
    assert_eq!(scan["status"], "INTERRUPTED");
    assert!(
        scan["errorMessage"]
            .as_str()
            .unwrap_or_default()
            .contains("shut down"),
        "{scan}"
    );

    // A scan left RUNNING by a process that died without cleaning up is recovered at start.
    use sea_orm::{ActiveModelTrait, Set};
    let db = app.db().await;
    let mut stale: entity::scan::ActiveModel =
        server::service::results::store(&db, e2e::sample_scan("stale", 1, 1))
            .await
            .expect("seed")
            .into();
    stale.status = Set("RUNNING".into());
    let stale = stale.update(&db).await.expect("mark running");
    app.restart().await;
    let admin = app.admin().await;
    let scan = status(&app, &admin, &stale.id.to_string()).await;
    assert_eq!(scan["status"], "INTERRUPTED", "{scan}");
    app.stop().await;
}

#[tokio::test]
async fn three_scans_run_at_once_and_a_fourth_waits_its_turn() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let (silent, mut socket) = silent_listener_and_updates(&app).await;
    let mut ids = Vec::new();
    for _ in 0..4 {
        ids.push(slow_scan(&app, &admin, silent.addr).await);
    }
    // Wait until three report RUNNING.
    let mut running = std::collections::HashSet::new();
    while running.len() < 3 {
        let msg = ws::next(&mut socket).await.expect("event");
        let e = &msg["payload"]["data"]["scanUpdates"];
        if e["status"] == "RUNNING" {
            running.insert(e["scanId"].as_str().expect("present").to_owned());
        }
    }
    let mut statuses = Vec::new();
    for id in &ids {
        statuses.push(
            status(&app, &admin, id).await["status"]
                .as_str()
                .expect("present")
                .to_owned(),
        );
    }
    assert_eq!(
        statuses.iter().filter(|s| *s == "RUNNING").count(),
        3,
        "{statuses:?}"
    );
    assert_eq!(statuses[3], "QUEUED", "oldest first: {statuses:?}");

    // A slot frees up: the fourth starts.
    let first = app.gql(&admin, CANCEL, json!({ "id": ids[0] })).await;
    assert_eq!(
        first["data"]["cancelScan"]["status"], "CANCELLED",
        "{first}"
    );
    ws::events_until(&mut socket, &ids[3], |e| e["status"] == "RUNNING").await;
    for id in &ids[1..] {
        let body = app.gql(&admin, CANCEL, json!({ "id": id })).await;
        assert_eq!(body["data"]["cancelScan"]["status"], "CANCELLED", "{body}");
    }
    assert!(!listeners::nmap_running_under(&scans_dir(&app)));
    app.stop().await;
}

#[tokio::test]
async fn a_phase_past_its_timeout_fails_the_scan_and_keeps_what_was_found() {
    let app = TestApp::spawn_with(e2e::Backend::Sqlite, |s| {
        s.scanner.timeouts.service_secs = 2
    })
    .await
    .expect("app");
    let admin = app.admin().await;
    let (silent, mut socket) = silent_listener_and_updates(&app).await;
    let id = slow_scan(&app, &admin, silent.addr).await;
    let events = ws::events_until(&mut socket, &id, ws::is_terminal).await;
    assert_eq!(events.last().expect("present")["status"], "FAILED");
    let scan = app.gql(&admin, TREE, json!({ "id": id })).await["data"]["scan"].clone();
    assert_eq!(
        scan["errorMessage"], "service phase timed out after 2 s",
        "{scan:#}"
    );
    assert_eq!(scan["summary"]["openPorts"], 1);
    assert!(!listeners::nmap_running_under(&scans_dir(&app)));
    app.stop().await;
}
