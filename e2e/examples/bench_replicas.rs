//! Beyond one machine (run by `make bench`, see bench/run.sh): idle `scanUpdates`
//! subscriptions (100 per websocket) and how a scan's progress events reach them; how long a
//! scan takes to start, to be cancelled from another replica, and to be taken over after
//! kill -9 of the worker running it.
//!
//! * relayed: two API replicas (`serve --no-worker`) and one `sneakyscan worker` on one
//!   PostgreSQL database, half of the subscriptions on each replica: every event is published
//!   by the worker and reaches the replicas through LISTEN/NOTIFY;
//! * in process (the peer): one `sneakyscan serve` on SQLite, every subscription on it, the
//!   event published in the same process;
//! * unshared: the same with `graphql.share_subscriptions = false` (every subscription
//!   executed on its own, as before shared executions).
//!
//! For each: the replicas' memory per subscription (RSS after the subscriptions are attached
//! minus before, over their number) and the delivery latency of every event to every
//! subscriber (receipt time minus the event's `at`, stamped when published; one clock).
//! A scan of a silent service publishes about two events a second for `BENCH_FANOUT_SECS`;
//! `start_ms` is startScan's answer (on the first replica) until the scan row says RUNNING
//! (read on the last one), five scans one after the other.
//! Then, relayed only, with a second worker: `cancel_ms` (cancelScan on the replica where the
//! scan was not started, until it answers CANCELLED: nmap stopped) and `takeover_s` (kill -9
//! of the worker running a scan until another worker runs it, with the default leases).
//!
//! Usage: `bench_replicas <path to sneakyscan> <out dir>`; PostgreSQL from
//! `SNEAKYSCAN_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/test`, a
//! throw-away database is created in it). `BENCH_SUBSCRIPTIONS` (default 10000),
//! `BENCH_PER_SOCKET` (default 100). Prints
//! `key=value` lines.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use e2e::processes::{Proc, cookie, gql, spawn, spawn_on};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::Message;

/// Subscriptions per websocket (`BENCH_PER_SOCKET`, default 100: the server's cap).
fn per_socket() -> usize {
    std::env::var("BENCH_PER_SOCKET")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100)
}

fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0)
}

async fn listeners(base: &str) -> u64 {
    e2e::metric(base, "sneakyscan_scan_event_listeners").await
}

/// Latencies (ms) of every delivered event, per replica.
type Deliveries = Arc<Mutex<Vec<Vec<f64>>>>;
/// When a subscriber first saw a RUNNING event.
type FirstRunning = Arc<Mutex<Option<chrono::DateTime<chrono::Utc>>>>;

/// One websocket with [`per_socket`] scanUpdates subscriptions; records each event's latency.
async fn socket(
    base: String,
    cookie: String,
    replica: usize,
    deliveries: Deliveries,
    first_running: FirstRunning,
) {
    let url = format!("{}/graphql/ws", base.replacen("http://", "ws://", 1));
    let mut req = url.into_client_request().expect("request");
    let h = req.headers_mut();
    h.insert(
        "Sec-WebSocket-Protocol",
        HeaderValue::from_static("graphql-transport-ws"),
    );
    h.insert("Origin", HeaderValue::from_str(&base).expect("origin"));
    h.insert("Cookie", HeaderValue::from_str(&cookie).expect("cookie"));
    let (mut ws, _) = tokio_tungstenite::connect_async(req)
        .await
        .expect("websocket");
    let send = |v: Value| Message::Text(v.to_string().into());
    ws.send(send(json!({ "type": "connection_init", "payload": {} })))
        .await
        .expect("init");
    for i in 0..per_socket() {
        ws.send(send(
            json!({ "id": format!("s{i}"), "type": "subscribe", "payload": {
            "query": "subscription { scanUpdates { scanId status percent at } }" } }),
        ))
        .await
        .expect("subscribe");
    }
    while let Some(Ok(msg)) = ws.next().await {
        let Message::Text(text) = msg else { continue };
        let now = chrono::Utc::now();
        let v: Value = serde_json::from_str(&text).unwrap_or_default();
        match v["type"].as_str() {
            Some("ping") => {
                let _ = ws.send(send(json!({ "type": "pong" }))).await;
            }
            Some("next") => {
                if v["payload"]["data"]["scanUpdates"]["status"] == "RUNNING" {
                    first_running.lock().expect("lock").get_or_insert(now);
                }
                let at = v["payload"]["data"]["scanUpdates"]["at"]
                    .as_str()
                    .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok());
                if let Some(at) = at {
                    let ms = (now - at.with_timezone(&chrono::Utc))
                        .num_microseconds()
                        .unwrap_or(0) as f64
                        / 1000.0;
                    deliveries.lock().expect("lock")[replica].push(ms);
                }
            }
            _ => {}
        }
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[at.min(sorted.len() - 1)]
}

/// Opens `subs` subscriptions spread over `replicas`, measures memory, runs a scan started on
/// the first replica for `secs`, and prints the figures under `name`.
async fn measure(name: &str, replicas: &[&Proc], subs: usize, secs: u64) {
    let bases: Vec<String> = replicas
        .iter()
        .map(|p| p.base.clone().expect("replica"))
        .collect();
    let mut cookies = Vec::new();
    for base in &bases {
        cookies.push(cookie(base).await);
    }
    let before: Vec<u64> = replicas.iter().map(|p| rss_kb(p.pid())).collect();
    let deliveries: Deliveries = Arc::new(Mutex::new(vec![Vec::new(); bases.len()]));
    let first_running: FirstRunning = Arc::new(Mutex::new(None));
    let sockets = subs / per_socket();
    let mut tasks = Vec::new();
    for i in 0..sockets {
        let r = i % bases.len();
        tasks.push(tokio::spawn(socket(
            bases[r].clone(),
            cookies[r].clone(),
            r,
            deliveries.clone(),
            first_running.clone(),
        )));
        if i % 10 == 9 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let per_replica = (sockets / bases.len() * per_socket()) as u64;
    let deadline = Instant::now() + Duration::from_secs(120);
    for base in &bases {
        while listeners(base).await < per_replica {
            assert!(Instant::now() < deadline, "subscriptions not attached");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after: Vec<u64> = replicas.iter().map(|p| rss_kb(p.pid())).collect();
    let grown: u64 = after
        .iter()
        .zip(&before)
        .map(|(a, b)| a.saturating_sub(*b))
        .sum();
    println!("{name}_subscriptions={subs}");
    println!(
        "{name}_rss_kb_before={} {name}_rss_kb_after={}",
        before.iter().sum::<u64>(),
        after.iter().sum::<u64>()
    );
    println!(
        "{name}_bytes_per_subscription={:.0}",
        grown as f64 * 1024.0 / subs as f64
    );

    let (target, hold) = silent_service("127.0.99.1").await;
    let started = gql(
        &bases[0],
        &cookies[0],
        "mutation($t:[String!]!,$p:String){ startScan(input:{targets:$t, ports:$p}){ id } }",
        json!({ "t": [target.ip().to_string()], "p": target.port().to_string() }),
    )
    .await;
    let answered = chrono::Utc::now();
    let id = started["data"]["startScan"]["id"]
        .as_str()
        .expect("scan id")
        .to_owned();
    tokio::time::sleep(Duration::from_secs(secs)).await;
    gql(
        &bases[0],
        &cookies[0],
        "mutation($id:ID!){ cancelScan(id:$id){ status } }",
        json!({ "id": id }),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    hold.abort();
    for t in &tasks {
        t.abort();
    }
    let all = deliveries.lock().expect("lock").clone();
    for (r, lat) in all.iter().enumerate() {
        let mut lat = lat.clone();
        lat.sort_by(f64::total_cmp);
        println!(
            "{name}_replica{r}_deliveries={} {name}_replica{r}_p50_ms={:.1} {name}_replica{r}_p99_ms={:.1} {name}_replica{r}_max_ms={:.1}",
            lat.len(),
            percentile(&lat, 0.5),
            percentile(&lat, 0.99),
            lat.last().copied().unwrap_or(f64::NAN)
        );
    }
    if let Some(running) = *first_running.lock().expect("lock") {
        println!(
            "{name}_first_running_event_ms={:.1}",
            (running - answered).num_microseconds().unwrap_or(0) as f64 / 1000.0
        );
    }
    // Start latency without subscribers in the way: startScan's answer until the scan row
    // says RUNNING (polled every 5 ms), five scans of a closed port one after the other.
    let mut starts = Vec::new();
    for _ in 0..5 {
        let body = gql(
            &bases[0],
            &cookies[0],
            "mutation{ startScan(input:{targets:[\"127.0.98.1\"], ports:\"9\"}){ id } }",
            json!({}),
        )
        .await;
        let t = Instant::now();
        let id = body["data"]["startScan"]["id"]
            .as_str()
            .expect("id")
            .to_owned();
        let other = bases.last().expect("a replica");
        loop {
            let s = gql(
                other,
                cookies.last().expect("cookie"),
                "query($id:ID!){ scan(id:$id){ status } }",
                json!({ "id": id }),
            )
            .await;
            if s["data"]["scan"]["status"] != "QUEUED" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        starts.push(t.elapsed().as_secs_f64() * 1000.0);
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    starts.sort_by(f64::total_cmp);
    println!(
        "{name}_start_ms_median={:.0} {name}_start_ms_max={:.0}",
        percentile(&starts, 0.5),
        starts.last().copied().unwrap_or(f64::NAN)
    );
    let mut every: Vec<f64> = all.into_iter().flatten().collect();
    every.sort_by(f64::total_cmp);
    println!(
        "{name}_events_per_subscriber={:.1} {name}_p50_ms={:.1} {name}_p99_ms={:.1}",
        every.len() as f64 / subs as f64,
        percentile(&every, 0.5),
        percentile(&every, 0.99)
    );
}

/// A service that accepts and never answers (version detection waits on it; nmap reports
/// progress every second), until the handle is aborted.
async fn silent_service(ip: &str) -> (std::net::SocketAddr, tokio::task::JoinHandle<()>) {
    let silent = tokio::net::TcpListener::bind((ip, 0)).await.expect("bind");
    let target = silent.local_addr().expect("addr");
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            held.push(s);
        }
    });
    (target, hold)
}

/// A running scan of a silent service, started on `on`; its id once a worker runs nmap.
async fn slow_scan(on: &str, cookie: &str, target: std::net::SocketAddr) -> (String, Value) {
    let started = gql(
        on,
        cookie,
        "mutation($t:[String!]!,$p:String){ startScan(input:{targets:$t, ports:$p}){ id } }",
        json!({ "t": [target.ip().to_string()], "p": target.port().to_string() }),
    )
    .await;
    let id = started["data"]["startScan"]["id"]
        .as_str()
        .expect("scan id")
        .to_owned();
    let scan = until(on, cookie, &id, |s| s["phase"] == "SERVICE").await;
    (id, scan)
}

async fn until(on: &str, cookie: &str, id: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let body = gql(
            on,
            cookie,
            "query($id:ID!){ scan(id:$id){ status phase attempt worker } }",
            json!({ "id": id }),
        )
        .await;
        let scan = body["data"]["scan"].clone();
        if done(&scan) {
            return scan;
        }
        assert!(Instant::now() < deadline, "timed out: {body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Cancel from the other replica, and take-over after kill -9 (default leases: 15 s).
async fn jobs(a: &Proc, b: &Proc, mut workers: Vec<Proc>) {
    let (a, b) = (a.base.clone().expect("a"), b.base.clone().expect("b"));
    let (ca, cb) = (cookie(&a).await, cookie(&b).await);
    let (target, hold) = silent_service("127.0.99.2").await;
    let mut cancels = Vec::new();
    for _ in 0..5 {
        let (id, _) = slow_scan(&a, &ca, target).await;
        let t = Instant::now();
        let body = gql(
            &b,
            &cb,
            "mutation($id:ID!){ cancelScan(id:$id){ status } }",
            json!({ "id": id }),
        )
        .await;
        assert_eq!(body["data"]["cancelScan"]["status"], "CANCELLED", "{body}");
        cancels.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    cancels.sort_by(f64::total_cmp);
    println!(
        "relayed_cancel_ms_median={:.0} relayed_cancel_ms_max={:.0}",
        percentile(&cancels, 0.5),
        cancels.last().copied().unwrap_or(f64::NAN)
    );
    let (id, scan) = slow_scan(&a, &ca, target).await;
    let worker = scan["worker"].as_str().expect("worker").to_owned();
    let pid: u32 = worker
        .rsplit('-')
        .nth(1)
        .and_then(|p| p.parse().ok())
        .expect("pid");
    let at = workers
        .iter()
        .position(|w| w.pid() == pid)
        .expect("a worker of ours");
    let mut lost = workers.remove(at);
    let t = Instant::now();
    lost.child.start_kill().expect("kill -9");
    let _ = lost.child.wait().await;
    until(&b, &cb, &id, |s| {
        s["attempt"] == 2 && s["status"] == "RUNNING" && s["phase"] != "STARTING"
    })
    .await;
    println!("relayed_takeover_s={:.1}", t.elapsed().as_secs_f64());
    gql(
        &b,
        &cb,
        "mutation($id:ID!){ cancelScan(id:$id){ status } }",
        json!({ "id": id }),
    )
    .await;
    hold.abort();
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let bin = PathBuf::from(
        args.first()
            .expect("usage: bench_replicas <sneakyscan> <out dir>"),
    );
    let out = PathBuf::from(args.get(1).expect("out dir"));
    let subs: usize = std::env::var("BENCH_SUBSCRIPTIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let secs: u64 = std::env::var("BENCH_FANOUT_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    std::fs::create_dir_all(&out).expect("out dir");

    // Relayed: PostgreSQL, two API replicas, one worker.
    let admin = std::env::var("SNEAKYSCAN_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let name = format!("bench_fanout_{}", std::process::id());
    let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
    let url = format!("{base}/{name}");
    let pg = sea_orm::Database::connect(&admin).await.expect("postgres");
    use sea_orm::ConnectionTrait;
    pg.execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create database");
    {
        let data = out.join("fanout-pg");
        let _ = std::fs::remove_dir_all(&data);
        let a = spawn(&bin, &data, &url, &["serve", "--no-worker"], true).await;
        let b = spawn(&bin, &data, &url, &["serve", "--no-worker"], true).await;
        let w1 = spawn(&bin, &data, &url, &["worker"], false).await;
        measure("relayed", &[&a, &b], subs, secs).await;
        let w2 = spawn(&bin, &data, &url, &["worker"], false).await;
        jobs(&a, &b, vec![w1, w2]).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    pg.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await
        .ok();

    // In process: one server on SQLite.
    let data = out.join("fanout-sqlite");
    let _ = std::fs::remove_dir_all(&data);
    let single = spawn(&bin, &data, "", &["serve"], true).await;
    measure("in_process", &[&single], subs, secs).await;
    drop(single);

    // The same, each subscription executed on its own (as before shared executions).
    let data = out.join("fanout-sqlite-unshared");
    let _ = std::fs::remove_dir_all(&data);
    let unshared = spawn_on(
        &bin,
        &data,
        "",
        &["serve"],
        Some(e2e::processes::free_port()),
        &[("SNEAKYSCAN_GRAPHQL__SHARE_SUBSCRIPTIONS", "false")],
    )
    .await;
    measure("unshared", &[&unshared], subs, secs).await;
}
