//! Remote agents (run by `make bench`, see bench/run.sh): what running a scan on an agent costs
//! against running it on the server's own worker, in the same run, and how long an agent takes
//! to be back after a server restart.
//!
//! One `sneakyscan serve` on SQLite (its own worker) and one `sneakyscan agent` on the same
//! machine; 32 loopback addresses with a web server each. The same config is scanned by the
//! worker and, with `agent_pool`, by the agent, alternately, `BENCH_AGENT_RUNS` (5) times each
//! (phases ping, tcp, service, http; `startScan` answered → COMPLETED read, polled every 20 ms).
//! Then the server is stopped (SIGTERM) and started again on its port, three times:
//! `reconnect_ms` is from the server answering `/readyz` again until the agent has connected to
//! it (its `lastSeenAt` is newer than the restart).
//!
//! Usage: `bench_agents <path to sneakyscan> <out dir>`. Prints `key=value` lines.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use e2e::listeners::{self, Kind};
use e2e::processes::{
    Proc, cookie, free_port, gql, median, spawn_on, start_config_scan, until_completed,
};
use serde_json::{Value, json};

const ADDRESSES: u8 = 32;

fn runs() -> usize {
    std::env::var("BENCH_AGENT_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5)
}

async fn scan_ms(base: &str, cookie: &str, config: &str) -> (f64, Value) {
    let started = Instant::now();
    let id = start_config_scan(base, cookie, config).await;
    let scan = until_completed(
        base,
        cookie,
        &id,
        "worker summary { hostsUp openPorts }",
        Duration::from_millis(20),
        Duration::from_secs(300),
    )
    .await;
    (started.elapsed().as_secs_f64() * 1000.0, scan)
}

async fn create_config(base: &str, cookie: &str, yaml: &str) -> String {
    let body = gql(
        base,
        cookie,
        "mutation($y:String!){ createScanConfig(input:{yaml:$y}){ id } }",
        json!({ "y": yaml }),
    )
    .await;
    body["data"]["createScanConfig"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("createScanConfig: {body}"))
        .to_owned()
}

async fn last_seen(base: &str, cookie: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    let body = gql(
        base,
        cookie,
        "{ agents(first: 1) { edges { node { lastSeenAt } } } }",
        json!({}),
    )
    .await;
    body["data"]["agents"]["edges"][0]["node"]["lastSeenAt"]
        .as_str()
        .and_then(|t| t.parse().ok())
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let bin = PathBuf::from(
        args.next()
            .expect("usage: bench_agents <sneakyscan> <out dir>"),
    );
    let work = tempfile::tempdir().expect("temp dir");
    let data = work.path().join("server");
    let agent_data = work.path().join("agent");
    let port = free_port();
    let serve = |bin: PathBuf, data: PathBuf| async move {
        spawn_on(&bin, &data, "", &["serve"], Some(port), &[]).await
    };
    let mut server = serve(bin.clone(), data.clone()).await;
    let base = server.base.clone().expect("base");
    let admin = cookie(&base).await;
    let created = gql(
        &base,
        &admin,
        "mutation{ createAgent(input:{name:\"bench\", pool:\"bench\"}){ token } }",
        json!({}),
    )
    .await;
    let token = created["data"]["createAgent"]["token"]
        .as_str()
        .unwrap_or_else(|| panic!("createAgent: {created}"))
        .to_owned();
    let _agent: Proc = spawn_on(
        &bin,
        &agent_data,
        "",
        &["agent", "--server", &base],
        None,
        &[("SNEAKYSCAN_AGENT_TOKEN", &token)],
    )
    .await;

    let block = listeners::loopback_block();
    let web_port = free_port();
    let mut webs = Vec::new();
    for host in 1..=ADDRESSES {
        let ip: IpAddr = listeners::loopback(block, host);
        webs.push(listeners::start_on(SocketAddr::new(ip, web_port), Kind::Http).await);
    }
    let first = listeners::loopback(block, 1);
    let last = listeners::loopback(block, ADDRESSES);
    let site = |title: &str, pool: &str| {
        format!(
            "title: {title}\nsites:\n  - name: Web\n{pool}    ips:\n{}scan:\n  tcp_ports: \"{web_port}\"\n  phases: [ping, tcp, service, http]\n",
            (1..=ADDRESSES)
                .map(|h| format!("      - address: {}\n", listeners::loopback(block, h)))
                .collect::<String>()
        )
    };
    let by_worker = create_config(&base, &admin, &site("Bench worker", "")).await;
    let by_agent = create_config(
        &base,
        &admin,
        &site("Bench agent", "    agent_pool: bench\n"),
    )
    .await;
    println!("addresses={ADDRESSES} ({first}..{last}, port {web_port})");

    let (mut worker_ms, mut agent_ms) = (Vec::new(), Vec::new());
    for _ in 0..runs() {
        let (ms, scan) = scan_ms(&base, &admin, &by_worker).await;
        assert_eq!(scan["summary"]["openPorts"], u64::from(ADDRESSES), "{scan}");
        worker_ms.push(ms);
        let (ms, scan) = scan_ms(&base, &admin, &by_agent).await;
        assert_eq!(scan["worker"], "agent:bench", "{scan}");
        assert_eq!(scan["summary"]["openPorts"], u64::from(ADDRESSES), "{scan}");
        agent_ms.push(ms);
    }
    println!("worker_scan_ms={worker_ms:.0?}");
    println!("agent_scan_ms={agent_ms:.0?}");
    let (w, a) = (median(worker_ms), median(agent_ms));
    println!("worker_scan_ms_median={w:.0}");
    println!("agent_scan_ms_median={a:.0}");
    println!("agent_over_worker={:.2}", a / w);

    let mut reconnect = Vec::new();
    for _ in 0..3 {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(server.pid()).expect("pid"));
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("SIGTERM");
        let _ = server.child.wait().await;
        let stopped = chrono::Utc::now();
        server = serve(bin.clone(), data.clone()).await;
        let ready = Instant::now();
        let admin = cookie(&base).await;
        let deadline = Instant::now() + Duration::from_secs(120);
        while last_seen(&base, &admin).await.is_none_or(|t| t <= stopped) {
            assert!(Instant::now() < deadline, "the agent did not come back");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        reconnect.push(ready.elapsed().as_secs_f64() * 1000.0);
    }
    println!("reconnect_ms={reconnect:.0?}");
    println!("reconnect_ms_median={:.0}", median(reconnect));
    drop(webs);
}
