//! Chunks (run by `make bench`, see bench/run.sh; needs PostgreSQL at 127.0.0.1:5432): what a
//! scan of 4,096 loopback addresses (a /20 with listeners) costs run whole by one worker,
//! in chunks of 1,024 by one worker, and in chunks by two workers — in the same run, on the
//! same database, alternately, `BENCH_CHUNK_RUNS` (3) times each.
//!
//! One `sneakyscan serve --no-worker` and two `sneakyscan worker` processes (each holding two
//! jobs at once) on a fresh PostgreSQL database; the second worker is killed for
//! the one-worker runs and started again for the two-worker runs. Phases ping, tcp (ports 1-64
//! and the listeners'), service. Time is from `startScan` answered to COMPLETED read (polled
//! every 50 ms); every run must find the same hosts and open ports.
//!
//! Usage: `bench_chunks <path to sneakyscan> <out dir>`. Prints `key=value` lines.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use e2e::listeners::{self, Kind};
use e2e::processes::{
    Proc, cookie, free_port, gql, median, spawn_on, start_config_scan, until_completed,
};
use e2e::{Backend, TestDatabase};
use serde_json::{Value, json};

/// Listeners, spread over the /20.
const LISTENERS: u32 = 8;

fn runs() -> usize {
    std::env::var("BENCH_CHUNK_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
}

const ENV: [(&str, &str); 4] = [
    ("SNEAKYSCAN_JOBS__HEARTBEAT_SECS", "1"),
    ("SNEAKYSCAN_JOBS__MISSED_HEARTBEATS", "3"),
    ("SNEAKYSCAN_JOBS__POLL_MS", "100"),
    ("SNEAKYSCAN_JOBS__WORKER_CONCURRENCY", "2"),
];

async fn worker(bin: &Path, data: &Path, url: &str) -> Proc {
    spawn_on(bin, data, url, &["worker"], None, &ENV).await
}

async fn online(base: &str, cookie: &str) -> usize {
    gql(base, cookie, "{ workers { online } }", json!({})).await["data"]["workers"]
        .as_array()
        .map_or(0, |w| w.iter().filter(|w| w["online"] == true).count())
}

async fn wait_online(base: &str, cookie: &str, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while online(base, cookie).await != n {
        assert!(Instant::now() < deadline, "{n} workers not online");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// One scan of the config with `chunk` addresses per chunk (0: whole); its time and row.
async fn scan_ms(base: &str, cookie: &str, config: &str, chunk: u32) -> (f64, Value) {
    let set = gql(
        base,
        cookie,
        "mutation($i:UpdateSettingsInput!){ updateSettings(input:$i){ chunkAddresses } }",
        json!({ "i": { "chunkAddresses": chunk, "maxConcurrentScans": 4 } }),
    )
    .await;
    assert!(set["errors"].is_null(), "{set}");
    let started = Instant::now();
    let id = start_config_scan(base, cookie, config).await;
    let scan = until_completed(
        base,
        cookie,
        &id,
        "message chunkCount summary { hostsUp openPorts }",
        Duration::from_millis(50),
        Duration::from_secs(900),
    )
    .await;
    (started.elapsed().as_secs_f64() * 1000.0, scan)
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let bin = PathBuf::from(
        args.next()
            .expect("usage: bench_chunks <sneakyscan> <out dir>"),
    );
    let work = tempfile::tempdir().expect("temp dir");
    let Some(mut database) = TestDatabase::create(Backend::Postgres, work.path())
        .await
        .expect("database")
    else {
        println!("skipped: SNEAKYSCAN_TEST_POSTGRES_URL not set");
        return;
    };
    let url = database.url.clone();
    let api = spawn_on(
        &bin,
        &work.path().join("api"),
        &url,
        &["serve", "--no-worker"],
        Some(free_port()),
        &ENV,
    )
    .await;
    let base = api.base.clone().expect("base");
    let admin = cookie(&base).await;
    let _w1 = worker(&bin, &work.path().join("w1"), &url).await;
    wait_online(&base, &admin, 1).await;

    // 127.222.16.0/20: no test uses 127.200-254 while benchmarks run.
    let net = Ipv4Addr::new(127, 222, 16, 0);
    let mut held = Vec::new();
    for n in 0..LISTENERS {
        let ip = IpAddr::V4(Ipv4Addr::from(u32::from(net) + n * 512 + 77));
        held.push(listeners::start(ip, Kind::Banner).await);
    }
    let ports: Vec<String> = held.iter().map(|l| l.addr.port().to_string()).collect();
    let yaml = format!(
        "title: Bench chunks\nsites:\n  - name: Lab\n    cidrs:\n      - cidr: {net}/20\nscan:\n  tcp_ports: \"1-64,{}\"\n  phases: [ping, tcp, service]\n",
        ports.join(",")
    );
    let created = gql(
        &base,
        &admin,
        "mutation($y:String!){ createScanConfig(input:{yaml:$y}){ id } }",
        json!({ "y": yaml }),
    )
    .await;
    let config = created["data"]["createScanConfig"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("createScanConfig: {created}"))
        .to_owned();
    println!("addresses=4096 ({net}/20, {LISTENERS} listeners, ports 1-64 and theirs)");

    let (mut whole, mut one, mut two) = (Vec::new(), Vec::new(), Vec::new());
    let mut seen: Option<Value> = None;
    let mut check = |scan: &Value| {
        let summary = scan["summary"].clone();
        assert_eq!(summary["openPorts"], u64::from(LISTENERS), "{scan}");
        match &seen {
            None => seen = Some(summary),
            Some(s) => assert_eq!(*s, summary, "every run finds the same"),
        }
    };
    for _ in 0..runs() {
        let (ms, scan) = scan_ms(&base, &admin, &config, 0).await;
        check(&scan);
        whole.push(ms);
        let (ms, scan) = scan_ms(&base, &admin, &config, 1024).await;
        check(&scan);
        assert_eq!(scan["chunkCount"], 4, "{scan}");
        one.push(ms);
        let w2 = worker(&bin, &work.path().join("w2"), &url).await;
        wait_online(&base, &admin, 2).await;
        let (ms, scan) = scan_ms(&base, &admin, &config, 1024).await;
        check(&scan);
        println!("two_workers_message={}", scan["message"]);
        two.push(ms);
        drop(w2);
        wait_online(&base, &admin, 1).await;
    }
    println!("whole_one_worker_ms={whole:.0?}");
    println!("chunks_one_worker_ms={one:.0?}");
    println!("chunks_two_workers_ms={two:.0?}");
    let (w, o, t) = (median(whole), median(one), median(two));
    println!("whole_one_worker_ms_median={w:.0}");
    println!("chunks_one_worker_ms_median={o:.0}");
    println!("chunks_two_workers_ms_median={t:.0}");
    println!("chunks_one_worker_over_whole={:.2}", o / w);
    println!("chunks_two_workers_over_whole={:.2}", t / w);
    drop(api);
    database.drop_database().await;
}
