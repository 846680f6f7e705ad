//! Scan benchmark (run by `make bench`, see bench/run.sh): 256 loopback addresses with two
//! listening HTTP ports each (tokio listeners started here), scanned end to end through the
//! API (ping, TCP, service phases) and by the best single nmap command line for the same work.
//! Prints `key=value` lines.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use e2e::TestApp;
use e2e::listeners::{self, Kind};
use serde_json::json;

const PORTS: [u16; 2] = [18080, 18081];
const NET: &str = "127.77.0.0/24";
const RUNS: usize = 2;

async fn through_api(app: &TestApp, client: &reqwest::Client, config_id: &str) -> Duration {
    let t = Instant::now();
    let id = app.start_config_scan(client, config_id).await;
    loop {
        let body = app
            .gql(
                client,
                "query($id:ID!){ scan(id:$id){ status summary { openPorts services } } }",
                json!({ "id": id }),
            )
            .await;
        let scan = &body["data"]["scan"];
        match scan["status"].as_str() {
            Some("QUEUED" | "RUNNING") => tokio::time::sleep(Duration::from_millis(50)).await,
            Some("COMPLETED") => {
                let elapsed = t.elapsed();
                eprintln!("api scan: {scan}");
                return elapsed;
            }
            other => panic!("scan ended {other:?}: {body}"),
        }
    }
}

async fn nmap(args: &[&str]) -> Duration {
    let t = Instant::now();
    let out = tokio::process::Command::new("nmap")
        .args(args)
        .output()
        .await
        .expect("nmap runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let elapsed = t.elapsed();
    let text = String::from_utf8_lossy(&out.stdout);
    let open = text.matches("state=\"open\"").count();
    eprintln!("nmap {args:?}: {open} open ports in {elapsed:?}");
    assert_eq!(open, 512, "nmap found every listener");
    elapsed
}

#[tokio::main]
async fn main() {
    let mut held = Vec::new();
    for host in 0..=255u8 {
        for port in PORTS {
            let addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 77, 0, host)), port);
            held.push(listeners::start_on(addr, Kind::Http).await);
        }
    }
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let yaml = format!(
        "title: bench\nsites:\n  - name: bench\n    cidrs:\n      - cidr: {NET}\n        expected: {{ ping: true, tcp_ports: [{}, {}] }}\nscan:\n  tcp_ports: \"{},{}\"\n  phases: [ping, tcp, service]\n",
        PORTS[0], PORTS[1], PORTS[0], PORTS[1]
    );
    let body = app
        .gql(
            &admin,
            "mutation($y:String!){ createScanConfig(input:{yaml:$y}){ id } }",
            json!({ "y": yaml }),
        )
        .await;
    let config_id = body["data"]["createScanConfig"]["id"]
        .as_str()
        .expect("config")
        .to_owned();

    let ports = format!("{},{}", PORTS[0], PORTS[1]);
    // nmap's defaults took 112 s here, --min-hostgroup 256 alone 112 s too: parallelism decides.
    let variants: Vec<Vec<&str>> = ["256", "512"]
        .into_iter()
        .map(|parallelism| {
            vec![
                "-sS",
                "-sV",
                "-n",
                "-T4",
                "--min-hostgroup",
                "256",
                "--min-parallelism",
                parallelism,
                "-p",
                &ports,
                NET,
                "-oX",
                "-",
            ]
        })
        .collect();
    let mut best_nmap = Duration::MAX;
    let mut best_args = String::new();
    for v in &variants {
        for _ in 0..RUNS {
            let d = nmap(v).await;
            if d < best_nmap {
                best_nmap = d;
                best_args = v.join(" ");
            }
        }
    }
    let mut api = Duration::MAX;
    for _ in 0..RUNS {
        api = api.min(through_api(&app, &admin, &config_id).await);
    }
    println!("api_s={:.2}", api.as_secs_f64());
    println!("nmap_best_s={:.2}", best_nmap.as_secs_f64());
    println!("nmap_best_args=nmap {best_args}");
    println!("ratio={:.3}", api.as_secs_f64() / best_nmap.as_secs_f64());
    app.stop().await;
    drop(held);
}
