//! Chunked scans (issue 12, part 4) against real nmap and listeners on loopback: a scan over
//! more addresses than `chunkAddresses` runs as chunks, each a job of its own, merged into one
//! scan that stores exactly what one run of the whole config stores (the JSON report's sites,
//! findings and summary are equal); chunks are hidden from lists and events, the parent shows
//! their progress, its raw XML is kept per chunk, and a cancel reaches every chunk. The last
//! test runs a /20 (4,096 addresses) in chunks over two worker processes on PostgreSQL.
//!
//! Addresses come from 127.200.0.0–127.254.255.255, which no other test uses (theirs are
//! 127.100–199.x.x), so a neighbour's listener never shows up in these scans.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use e2e::listeners::{self, Kind};
use e2e::{Backend, TestApp, TestDatabase, WAIT, processes, ws};
use serde_json::{Value, json};

const SETTINGS: &str = "mutation($i:UpdateSettingsInput!){ updateSettings(input:$i){ chunkAddresses maxConcurrentScans } }";
const SCAN: &str =
    "query($id:ID!){ scan(id:$id){ id status phase percent message errorMessage chunkCount
  summary { hostsTotal hostsUp openPorts unexpectedPorts }
  chunks { number status phase worker targets }
  nmapXml { phase chunk url }
  reports { json } } }";

/// A network of `2^(32-prefix)` addresses of its own (aligned), in 127.200–254.
fn network(prefix: u8) -> (Ipv4Addr, u8) {
    let r = uuid::Uuid::new_v4().as_u128();
    let size = 1u32 << (32 - prefix);
    let second = 200 + (r % 55) as u32;
    let offset = ((r >> 8) as u32 % (65_536 / size)) * size;
    let base = (127 << 24) | (second << 16) | offset;
    (Ipv4Addr::from(base), prefix)
}

fn host(net: (Ipv4Addr, u8), n: u32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(u32::from(net.0) + n))
}

/// A config of `net` (expected: no open port) and one address of it listed with its port.
fn config(net: (Ipv4Addr, u8), listed: SocketAddr, ports: &[u16], phases: &str) -> String {
    let ports: Vec<String> = ports.iter().map(ToString::to_string).collect();
    format!(
        "title: Chunked\nsites:\n  - name: Lab\n    ips:\n      - address: {}\n        expected: {{ ping: true, tcp_ports: [{}] }}\n    cidrs:\n      - cidr: {}/{}\n        expected: {{ tcp_ports: [] }}\nscan:\n  tcp_ports: \"{}\"\n  phases: [{phases}]\n",
        listed.ip(),
        listed.port(),
        net.0,
        net.1,
        ports.join(","),
    )
}

async fn settings(app: &TestApp, admin: &reqwest::Client, input: Value) {
    let body = app.gql(admin, SETTINGS, json!({ "i": input })).await;
    assert!(body["errors"].is_null(), "{body}");
}

async fn scan(app: &TestApp, admin: &reqwest::Client, id: &str) -> Value {
    let body = app.gql(admin, SCAN, json!({ "id": id })).await;
    assert!(body["errors"].is_null(), "{body}");
    body["data"]["scan"].clone()
}

/// Polls the scan until it ends (a scan of a thousand addresses may take longer than
/// [`WAIT`] on a busy machine).
async fn until_ended(app: &TestApp, admin: &reqwest::Client, id: &str) -> Value {
    let deadline = Instant::now() + WAIT * 6;
    loop {
        let scan = scan(app, admin, id).await;
        if ws::is_terminal(&scan) {
            return scan;
        }
        assert!(Instant::now() < deadline, "scan did not end: {scan:#}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The parts of a JSON report that say what a scan found.
async fn found(client: &reqwest::Client, base: &str, scan: &Value) -> Value {
    let url = scan["reports"]["json"].as_str().expect("report url");
    let report: Value = client
        .get(format!("{base}{url}"))
        .send()
        .await
        .expect("report")
        .json()
        .await
        .expect("report json");
    json!({
        "sites": report["sites"],
        "findings": report["findings"],
        "summary": report["scan"]["summary"],
    })
}

async fn chunked_scan_is_one_run(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |_| {}).await else {
        eprintln!("SNEAKYSCAN_TEST_POSTGRES_URL not set: PostgreSQL lane skipped");
        return;
    };
    let admin = app.admin().await;
    // A /22: 1,024 addresses; listeners in its first and last /24.
    let net = network(22);
    let first = listeners::start(host(net, 10), Kind::Banner).await;
    let last = listeners::start(host(net, 3 * 256 + 200), Kind::Banner).await;
    let ports = [first.addr.port(), last.addr.port()];
    let yaml = config(net, first.addr, &ports, "ping, tcp, service");
    let config_id = app.create_config(&admin, &yaml).await;
    let mut socket = ws::signed_in(&app).await;
    app.subscribe_updates(&mut socket, "u").await;

    // One run of the whole config.
    settings(&app, &admin, json!({ "chunkAddresses": 0 })).await;
    let whole = app.start_config_scan(&admin, &config_id).await;
    let whole = until_ended(&app, &admin, &whole).await;
    assert_eq!(whole["status"], "COMPLETED", "{whole:#}");
    assert!(whole["chunkCount"].is_null(), "{whole:#}");

    // The same config in chunks of 256: the listed address, then four /24s.
    settings(
        &app,
        &admin,
        json!({ "chunkAddresses": 256, "maxConcurrentScans": 3 }),
    )
    .await;
    let id = app.start_config_scan(&admin, &config_id).await;
    let running = scan(&app, &admin, &id).await;
    assert_eq!(running["chunkCount"], 5, "{running:#}");
    if running["status"] == "RUNNING" {
        assert_eq!(running["phase"], "CHUNKS", "{running:#}");
    }
    let targets: Vec<&str> = running["chunks"]
        .as_array()
        .expect("chunks")
        .iter()
        .filter_map(|c| c["targets"].as_str())
        .collect();
    if !targets.is_empty() {
        let o = net.0.octets();
        let slash24 = |k: u8| format!("127.{}.{}.0/24", o[1], o[2] + k);
        assert_eq!(
            targets,
            [
                first.addr.ip().to_string(),
                slash24(0),
                slash24(1),
                slash24(2),
                slash24(3)
            ],
            "{running:#}"
        );
    }
    // Chunks are no scans of their own: not listed, not found.
    let list = app
        .gql(
            &admin,
            "{ scans(first: 50) { totalCount edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(list["data"]["scans"]["totalCount"], 2, "{list}");

    let chunked = until_ended(&app, &admin, &id).await;
    let events = ws::events_until(&mut socket, &id, ws::is_terminal).await;
    assert_eq!(chunked["status"], "COMPLETED", "{chunked:#}");
    assert_eq!(chunked["chunks"], json!([]), "merged: {chunked:#}");
    assert!(
        chunked["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("ran as 5 chunks on ")),
        "{chunked:#}"
    );
    assert!(
        events
            .iter()
            .any(|e| e["phase"] == "CHUNKS" && e["percent"].as_f64().is_some_and(|p| p > 0.0)),
        "the parent shows its chunks' progress: {events:#?}"
    );
    // What it found is what the whole run found, as the JSON report says it.
    let client = app.admin().await;
    let (a, b) = (
        found(&client, &app.base, &whole).await,
        found(&client, &app.base, &chunked).await,
    );
    assert_eq!(a, b);
    assert!(
        b["summary"]["hosts_up"].as_i64() > Some(1000),
        "{:#}",
        b["summary"]
    );
    assert_eq!(b["summary"]["open_ports"], 2, "{:#}", b["summary"]);
    // Each chunk's raw XML is kept, served by phase and chunk.
    let tcp: Vec<i64> = chunked["nmapXml"]
        .as_array()
        .expect("files")
        .iter()
        .filter(|f| f["phase"] == "tcp")
        .filter_map(|f| f["chunk"].as_i64())
        .collect();
    assert_eq!(tcp, [1, 2, 3, 4, 5], "{chunked:#}");
    let xml = client
        .get(format!("{}/api/scans/{id}/nmap/tcp.5.xml", app.base))
        .send()
        .await
        .expect("xml");
    assert_eq!(xml.status().as_u16(), 200);
    let xml = xml.text().await.expect("text");
    assert!(
        xml.contains(&format!("portid=\"{}\"", last.addr.port())),
        "{xml}"
    );
    // No chunk row is left.
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
    let db = app.db().await;
    let left = entity::scan::Entity::find()
        .filter(entity::scan::Column::ParentId.is_not_null())
        .count(&db)
        .await
        .expect("count");
    assert_eq!(left, 0);
    // What the scans probed (nmap's scaninfo) is recorded: the same for both.
    let coverage = |id: &str| {
        let db = db.clone();
        let id: i32 = id.parse().expect("id");
        async move {
            entity::scan::Entity::find_by_id(id)
                .one(&db)
                .await
                .expect("read")
                .and_then(|s| s.coverage)
        }
    };
    let mut sorted = ports.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let listed: Vec<String> = sorted.iter().map(ToString::to_string).collect();
    let expected = format!(r#"{{"tcp":"{}","udp":null}}"#, listed.join(","));
    assert_eq!(
        coverage(whole["id"].as_str().expect("id")).await.as_deref(),
        Some(expected.as_str())
    );
    assert_eq!(coverage(&id).await.as_deref(), Some(expected.as_str()));
    app.stop().await;
}

#[tokio::test]
async fn a_chunked_scan_stores_what_one_run_stores_sqlite() {
    chunked_scan_is_one_run(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_chunked_scan_stores_what_one_run_stores_postgres() {
    chunked_scan_is_one_run(Backend::Postgres).await;
}

#[tokio::test]
async fn cancelling_a_chunked_scan_stops_every_chunk_and_keeps_what_they_found() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    settings(
        &app,
        &admin,
        json!({ "chunkAddresses": 256, "maxConcurrentScans": 2 }),
    )
    .await;
    // Two /24s, each with a silent port that version detection waits on.
    let net = network(23);
    let a = listeners::start(host(net, 5), Kind::Silent).await;
    let b = listeners::start(host(net, 256 + 5), Kind::Silent).await;
    let yaml = format!(
        "title: Slow chunks\nsites:\n  - name: Lab\n    cidrs:\n      - cidr: {}/23\nscan:\n  tcp_ports: \"{},{}\"\n  phases: [ping, tcp, service]\n",
        net.0,
        a.addr.port(),
        b.addr.port()
    );
    let config_id = app.create_config(&admin, &yaml).await;
    let mut socket = ws::signed_in(&app).await;
    app.subscribe_updates(&mut socket, "u").await;
    let id = app.start_config_scan(&admin, &config_id).await;
    app.gql_until(
        &admin,
        SCAN,
        json!({ "id": id }),
        "both chunks in their service phase",
        |body| {
            body["data"]["scan"]["chunks"]
                .as_array()
                .is_some_and(|c| c.len() == 2 && c.iter().all(|c| c["phase"] == "SERVICE"))
        },
    )
    .await;
    assert!(listeners::nmap_running_under(
        &app.data_dir.path().join("scans")
    ));

    let body = app
        .gql(
            &admin,
            "mutation($id:ID!){ cancelScan(id:$id){ status message } }",
            json!({ "id": id }),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    assert_eq!(body["data"]["cancelScan"]["status"], "CANCELLED", "{body}");
    assert!(
        body["data"]["cancelScan"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("cancelled by admin")),
        "{body}"
    );
    assert!(
        !listeners::nmap_running_under(&app.data_dir.path().join("scans")),
        "no nmap left"
    );
    let ended = scan(&app, &admin, &id).await;
    // What the TCP phase of each chunk found is kept.
    assert_eq!(ended["summary"]["openPorts"], 2, "{ended:#}");
    assert_eq!(ended["chunks"], json!([]), "{ended:#}");
    // Only the scan itself was ever published, never a chunk.
    let events = ws::events_until(&mut socket, &id, ws::is_terminal).await;
    assert_eq!(events.last().expect("events")["status"], "CANCELLED");
    app.stop().await;
}

/// 4,096 addresses (a /20) with listeners, in chunks of 1,024 over two `sneakyscan worker`
/// processes on PostgreSQL behind one API replica, store what one worker's single run stores.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slash_20_in_chunks_over_two_workers_stores_what_one_worker_stores() {
    let dir = tempfile::tempdir().expect("temp dir");
    let Some(mut database) = TestDatabase::create(Backend::Postgres, dir.path())
        .await
        .expect("database")
    else {
        eprintln!("SNEAKYSCAN_TEST_POSTGRES_URL not set: PostgreSQL lane skipped");
        return;
    };
    let bin = e2e::sneakyscan_binary();
    let env = [
        ("SNEAKYSCAN_JOBS__HEARTBEAT_SECS", "1"),
        ("SNEAKYSCAN_JOBS__MISSED_HEARTBEATS", "3"),
        ("SNEAKYSCAN_JOBS__POLL_MS", "200"),
        // Each worker holds two jobs at once: the chunks spread over both.
        ("SNEAKYSCAN_JOBS__WORKER_CONCURRENCY", "2"),
    ];
    let api = processes::spawn_on(
        &bin,
        &dir.path().join("api"),
        &database.url,
        &["serve", "--no-worker"],
        Some(processes::free_port()),
        &env,
    )
    .await;
    let base = api.base.clone().expect("base");
    let cookie = processes::cookie(&base).await;
    let gql = |query: &'static str, variables: Value| {
        let (base, cookie) = (base.clone(), cookie.clone());
        async move {
            let body = processes::gql(&base, &cookie, query, variables).await;
            assert!(body["errors"].is_null(), "{query}: {body}");
            body["data"].clone()
        }
    };
    let net = network(20);
    let mut held = Vec::new();
    let mut ports = Vec::new();
    for n in [7, 1024 + 300, 2048 + 9, 4095 - 1] {
        let l = listeners::start(host(net, n), Kind::Banner).await;
        ports.push(l.addr.port());
        held.push(l);
    }
    let yaml = config(net, held[0].addr, &ports, "ping, tcp, service");
    let config_id = gql(
        "mutation($y:String!){ createScanConfig(input:{yaml:$y}){ id } }",
        json!({ "y": yaml }),
    )
    .await["createScanConfig"]["id"]
        .as_str()
        .expect("config id")
        .to_owned();
    let run = |chunk: i64| {
        let config_id = config_id.clone();
        async move {
            gql(
                SETTINGS,
                json!({ "i": { "chunkAddresses": chunk, "maxConcurrentScans": 4 } }),
            )
            .await;
            let id = gql(
                "mutation($c:ID!){ startScan(input:{configId:$c}){ id } }",
                json!({ "c": config_id }),
            )
            .await["startScan"]["id"]
                .as_str()
                .expect("id")
                .to_owned();
            let deadline = Instant::now() + WAIT * 4;
            loop {
                let scan = gql(SCAN, json!({ "id": id })).await["scan"].clone();
                if ws::is_terminal(&scan) {
                    return scan;
                }
                assert!(Instant::now() < deadline, "scan did not end: {scan:#}");
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }
    };
    // One worker, the whole /20 in one run.
    let w1 = processes::spawn_on(
        &bin,
        &dir.path().join("w1"),
        &database.url,
        &["worker"],
        None,
        &env,
    )
    .await;
    let whole = run(0).await;
    assert_eq!(whole["status"], "COMPLETED", "{whole:#}");
    // Two workers, five chunks.
    let w2 = processes::spawn_on(
        &bin,
        &dir.path().join("w2"),
        &database.url,
        &["worker"],
        None,
        &env,
    )
    .await;
    let deadline = Instant::now() + WAIT;
    loop {
        let workers = gql("{ workers { online } }", json!({})).await;
        let online = workers["workers"]
            .as_array()
            .map_or(0, |w| w.iter().filter(|w| w["online"] == true).count());
        if online == 2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the second worker did not register: {workers}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The chunks spread over both workers. A worker registered ONLINE may not have polled the
    // queue yet when a run's chunks are pushed and, on a loaded machine, miss that whole run:
    // up to three runs, each storing the same, one of which must use both workers.
    let mut chunked = Value::Null;
    let mut workers = None;
    for _ in 0..3 {
        chunked = run(1024).await;
        assert_eq!(chunked["status"], "COMPLETED", "{chunked:#}");
        // The listed address, then four /22s.
        assert_eq!(chunked["chunkCount"], 5, "{chunked:#}");
        workers = chunked["message"]
            .as_str()
            .and_then(|m| m.strip_prefix("ran as 5 chunks on "))
            .map(|w| w.split(", ").count());
        if workers == Some(2) {
            break;
        }
    }
    assert_eq!(
        workers,
        Some(2),
        "both workers ran chunks in one of three runs: {chunked:#}"
    );

    let client = reqwest::Client::builder()
        .default_headers({
            let mut h = reqwest::header::HeaderMap::new();
            h.insert(reqwest::header::COOKIE, cookie.parse().expect("cookie"));
            h
        })
        .build()
        .expect("client");
    let (a, b) = (
        found(&client, &base, &whole).await,
        found(&client, &base, &chunked).await,
    );
    assert!(
        b["summary"]["hosts_up"].as_i64() > Some(4000),
        "{:#}",
        b["summary"]
    );
    assert_eq!(b["summary"]["open_ports"], 4, "{:#}", b["summary"]);
    assert_eq!(a, b);
    drop((w1, w2, api));
    database.drop_database().await;
}

/// A chunk whose worker died with no runs left is ended INTERRUPTED by the reaper, and the
/// sweep merges the scan (nobody stored its last chunk): INTERRUPTED, with what the other
/// chunk found.
async fn a_lost_chunk_is_reaped_and_the_sweep_merges(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |s| {
        s.jobs.heartbeat_secs = 1;
        s.jobs.missed_heartbeats = 2;
        s.jobs.poll_ms = 200;
    })
    .await
    else {
        eprintln!("SNEAKYSCAN_TEST_POSTGRES_URL not set: PostgreSQL lane skipped");
        return;
    };
    let admin = app.admin().await;
    settings(
        &app,
        &admin,
        json!({ "chunkAddresses": 256, "maxConcurrentScans": 1 }),
    )
    .await;
    let net = network(23);
    let banner = listeners::start(host(net, 5), Kind::Banner).await;
    let yaml = format!(
        "title: Lost chunk\nsites:\n  - name: Lab\n    cidrs:\n      - cidr: {}/23\nscan:\n  tcp_ports: \"{}\"\n  phases: [ping, tcp]\n",
        net.0,
        banner.addr.port()
    );
    let config_id = app.create_config(&admin, &yaml).await;
    // One scan at a time, and a slow one (version detection on a silent port) holds the slot:
    // the chunks wait QUEUED.
    let silent = listeners::start(host(network(24), 9), Kind::Silent).await;
    let blocker = app
        .gql(
            &admin,
            "mutation($i:StartScanInput!){ startScan(input:$i){ id } }",
            json!({ "i": { "targets": [silent.addr.ip().to_string()], "ports": silent.addr.port().to_string() } }),
        )
        .await["data"]["startScan"]["id"]
        .as_str()
        .expect("blocker id")
        .to_owned();
    app.gql_until(
        &admin,
        SCAN,
        json!({ "id": blocker }),
        "the blocker to run",
        |b| b["data"]["scan"]["status"] == "RUNNING",
    )
    .await;
    let id = app.start_config_scan(&admin, &config_id).await;
    // Chunk 2 becomes a run of a worker that died long ago, with no runs left.
    use sea_orm::sea_query::Expr;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let db = app.db().await;
    let lost = entity::scan::Entity::update_many()
        .col_expr(entity::scan::Column::Status, Expr::value("RUNNING"))
        .col_expr(entity::scan::Column::Phase, Expr::value("tcp"))
        .col_expr(entity::scan::Column::Worker, Expr::value("lost-worker"))
        .col_expr(entity::scan::Column::Lease, Expr::value("lost"))
        .col_expr(
            entity::scan::Column::LeaseUntil,
            Expr::value(chrono::Utc::now() - chrono::TimeDelta::hours(1)),
        )
        .col_expr(entity::scan::Column::Attempt, Expr::value(3))
        .filter(entity::scan::Column::ParentId.eq(id.parse::<i32>().expect("id")))
        .filter(entity::scan::Column::Chunk.eq(2))
        .filter(entity::scan::Column::Status.eq("QUEUED"))
        .exec(&db)
        .await
        .expect("update");
    assert_eq!(lost.rows_affected, 1, "chunk 2 was still queued");
    let cancelled = app
        .gql(
            &admin,
            "mutation($id:ID!){ cancelScan(id:$id){ status } }",
            json!({ "id": blocker }),
        )
        .await;
    assert_eq!(
        cancelled["data"]["cancelScan"]["status"], "CANCELLED",
        "{cancelled}"
    );

    let ended = until_ended(&app, &admin, &id).await;
    assert_eq!(ended["status"], "INTERRUPTED", "{ended:#}");
    assert!(
        ended["errorMessage"]
            .as_str()
            .is_some_and(|e| e.starts_with("chunk 2: lost-worker stopped")),
        "{ended:#}"
    );
    assert_eq!(
        ended["summary"]["openPorts"], 1,
        "chunk 1's results are kept: {ended:#}"
    );
    assert_eq!(ended["chunks"], json!([]), "{ended:#}");
    app.stop().await;
}

#[tokio::test]
async fn a_lost_chunk_is_reaped_and_the_sweep_merges_sqlite() {
    a_lost_chunk_is_reaped_and_the_sweep_merges(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_lost_chunk_is_reaped_and_the_sweep_merges_postgres() {
    a_lost_chunk_is_reaped_and_the_sweep_merges(Backend::Postgres).await;
}
