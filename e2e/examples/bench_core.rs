//! Core benchmark (run by `make bench`, see bench/run.sh) against the release `sneakyscan serve`
//! as a child process, SQLite in a temp dir:
//!
//! * pages: `scan(id){ hosts(first: 50){ … ports { service { name } } } }` on a 10,000-host
//!   scan vs the same page on a 100-host scan (sequential latency, SQL statements per request),
//!   and requests/s for the large one at 200 connections (wrk, when installed);
//! * write lock: latency of signed-in (session cookie) requests while a 10,000-host document is
//!   imported, against the same requests with nothing else running;
//! * upload: a large document through `POST /api/imports` (streamed), time and the server's
//!   peak RSS against the file size.
//!
//! Usage: `bench_core <path to sneakyscan> <out dir>`. Prints `key=value` lines.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use e2e::processes::{PASSWORD, spawn};
use serde_json::{Value, json};

const PAGE: &str = "query($id:ID!){ scan(id:$id){ hosts(first: 50){ totalCount edges { node { address ports { port state service { name } } } } } } }";

async fn gql(client: &reqwest::Client, base: &str, query: &str, variables: Value) -> Value {
    client
        .post(format!("{base}/graphql"))
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .expect("graphql")
        .json()
        .await
        .expect("json")
}

async fn upload(client: &reqwest::Client, base: &str, xml: Vec<u8>) -> (String, Duration) {
    let t = Instant::now();
    let res = client
        .post(format!("{base}/api/imports"))
        .header("Content-Type", "application/xml")
        .body(xml)
        .send()
        .await
        .expect("upload");
    let elapsed = t.elapsed();
    let status = res.status();
    let body: Value = res.json().await.expect("json");
    assert_eq!(status.as_u16(), 201, "{body}");
    (body["scan"]["id"].as_str().expect("id").to_owned(), elapsed)
}

async fn statements(base: &str) -> u64 {
    let text = reqwest::get(format!("{base}/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    text.lines()
        .find_map(|l| l.strip_prefix("sneakyscan_db_statements_total "))
        .and_then(|n| n.trim().parse().ok())
        .expect("counter")
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

/// The page query, unique when `n` is given (a trailing comment: a body never seen before is
/// executed, not answered from memory).
fn page_query(n: Option<usize>) -> String {
    match n {
        Some(n) => format!("{PAGE}\n# {n}"),
        None => PAGE.to_owned(),
    }
}

/// Sequential latencies of `n` page requests, each executed (`executed`) or all the same body.
async fn page_latencies(
    client: &reqwest::Client,
    base: &str,
    id: &str,
    n: usize,
    executed: bool,
) -> Vec<Duration> {
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let query = page_query(executed.then_some(i));
        let t = Instant::now();
        let body = gql(client, base, &query, json!({ "id": id })).await;
        out.push(t.elapsed());
        assert!(body["errors"].is_null(), "{body}");
    }
    out.sort();
    out
}

fn peak_rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// wrk at 200 connections for 10 s on the page of `id`; `None` when wrk is not installed.
/// `executed`: every request's body is new (a counter in a comment), so each one executes;
/// else all send the same body (answered from memory after the first). Lines are `{label}_…`.
async fn wrk(
    base: &str,
    token: &str,
    id: &str,
    out: &Path,
    executed: bool,
    label: &str,
) -> Option<String> {
    let body = json!({ "query": PAGE, "variables": { "id": id } }).to_string();
    let (head, tail) = body.split_at(body.find("\"variables\"").expect("variables") - 2);
    let request = if executed {
        format!(
            "threads = 0\nsetup = function(thread)\n  threads = threads + 1\n  thread:set(\"tid\", threads)\nend\n\
             counter = 0\nrequest = function()\n  counter = counter + 1\n  return wrk.format(nil, nil, nil, {} .. \"\\\\n# \" .. tid .. \"-\" .. counter .. {})\nend\n",
            serde_json::to_string(head).expect("lua string"),
            serde_json::to_string(tail).expect("lua string")
        )
    } else {
        String::new()
    };
    let script = out.join(format!("{label}.lua"));
    std::fs::write(
        &script,
        format!(
            "wrk.method = \"POST\"\nwrk.body = {}\nwrk.headers[\"Content-Type\"] = \"application/json\"\nwrk.headers[\"Authorization\"] = \"Bearer {token}\"\n{request}\
             done = function(summary, latency, requests)\n  io.write(string.format(\"{label}_requests=%d\\n{label}_non2xx=%d\\n{label}_errors=%d\\n{label}_p99_ms=%.2f\\n{label}_rps=%.1f\\n\", summary.requests, summary.status or 0, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout + summary.errors.status, latency:percentile(99) / 1000, summary.requests / (summary.duration / 1e6)))\nend\n",
            serde_json::to_string(&body).expect("lua string")
        ),
    )
    .ok()?;
    let output = tokio::process::Command::new("wrk")
        .args(["-t2", "-c200", "-d10s", "--timeout", "5s", "-s"])
        .arg(&script)
        .arg(format!("{base}/graphql"))
        .output()
        .await
        .ok()?;
    let text = String::from_utf8_lossy(&output.stdout).to_string();
    Some(
        text.lines()
            .filter(|l| l.starts_with(label))
            .collect::<Vec<_>>()
            .join("\n"),
    )
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let bin = PathBuf::from(args.next().expect("path to sneakyscan"));
    let out = PathBuf::from(args.next().unwrap_or_else(|| "target/bench".into()));
    std::fs::create_dir_all(&out).expect("out dir");
    let data = tempfile::tempdir().expect("temp dir");
    let server = spawn(&bin, data.path(), "", &["serve"], true).await;
    let base = server.base.clone().expect("serves HTTP");
    let pid = server.pid();

    let session = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .expect("client");
    let login = gql(
        &session,
        &base,
        "mutation($p:String!){ login(username:\"admin\", password:$p){ id } }",
        json!({ "p": PASSWORD }),
    )
    .await;
    assert!(login["errors"].is_null(), "{login}");
    let created = gql(
        &session,
        &base,
        "mutation{ createApiKey(input:{name:\"bench\"}){ token } }",
        json!({}),
    )
    .await;
    let token = created["data"]["createApiKey"]["token"]
        .as_str()
        .expect("token")
        .to_owned();
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {token}").parse().expect("header"),
    );
    let keyed = reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .expect("client");

    // Seed: a 100-host and a 10,000-host scan, through the streamed upload.
    let small_xml = nmap_parser::synthetic::service_scan(100).into_bytes();
    let large_xml = nmap_parser::synthetic::service_scan(10_000).into_bytes();
    let (small, _) = upload(&keyed, &base, small_xml).await;
    let (large, large_time) = upload(&keyed, &base, large_xml.clone()).await;
    println!("upload_10k_bytes={}", large_xml.len());
    println!("upload_10k_s={:.3}", large_time.as_secs_f64());

    // Pages: sequential latency and statements, large vs small; each request executed (a new
    // body every time), then the same body again (answered from memory).
    for executed in [true, false] {
        let label = if executed { "page" } else { "kept_page" };
        page_latencies(&keyed, &base, &large, 20, executed).await;
        page_latencies(&keyed, &base, &small, 20, executed).await;
        let small_lat = page_latencies(&keyed, &base, &small, 300, executed).await;
        let large_lat = page_latencies(&keyed, &base, &large, 300, executed).await;
        let (small_med, large_med) = (percentile(&small_lat, 0.5), percentile(&large_lat, 0.5));
        println!("{label}_100_median_ms={}", ms(small_med));
        println!("{label}_100_p99_ms={}", ms(percentile(&small_lat, 0.99)));
        println!("{label}_10k_median_ms={}", ms(large_med));
        println!("{label}_10k_p99_ms={}", ms(percentile(&large_lat, 0.99)));
        println!(
            "{label}_10k_over_100={:.2}",
            large_med.as_secs_f64() / small_med.as_secs_f64()
        );
        for (size, id) in [("100", &small), ("10k", &large)] {
            let query = page_query(executed.then_some(usize::MAX));
            let before = statements(&base).await;
            gql(&keyed, &base, &query, json!({ "id": id })).await;
            println!(
                "{label}_{size}_statements={}",
                statements(&base).await - before
            );
        }
    }
    for (executed, label) in [(true, "wrk"), (false, "wrk_kept")] {
        match wrk(&base, &token, &large, &out, executed, label).await {
            Some(lines) if !lines.is_empty() => println!("{lines}"),
            _ => println!("{label}=not installed (apt-get install wrk)"),
        }
    }
    let metrics = reqwest::get(format!("{base}/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    for line in metrics
        .lines()
        .filter(|l| l.starts_with("sneakyscan_answer_cache"))
    {
        println!("{}", line.replacen(' ', "=", 1));
    }

    // Write lock: signed-in requests alone, then while a 10,000-host import runs.
    let probe = "{ me { username } scans(first: 5){ totalCount edges { node { id status } } } }";
    let mut alone = Vec::new();
    for _ in 0..300 {
        let t = Instant::now();
        gql(&session, &base, probe, json!({})).await;
        alone.push(t.elapsed());
    }
    alone.sort();
    let import = {
        let keyed = keyed.clone();
        let base = base.clone();
        let xml = large_xml.clone();
        tokio::spawn(async move { upload(&keyed, &base, xml).await.1 })
    };
    let mut during = Vec::new();
    while !import.is_finished() {
        let t = Instant::now();
        let body = gql(&session, &base, probe, json!({})).await;
        during.push(t.elapsed());
        assert!(body["errors"].is_null(), "{body}");
    }
    let import_time = import.await.expect("import task");
    during.sort();
    println!("signed_in_alone_p99_ms={}", ms(percentile(&alone, 0.99)));
    println!(
        "signed_in_alone_max_ms={}",
        ms(*alone.last().expect("some"))
    );
    println!("import_during_probe_s={:.3}", import_time.as_secs_f64());
    println!("signed_in_during_import_requests={}", during.len());
    println!(
        "signed_in_during_import_p99_ms={}",
        ms(percentile(&during, 0.99))
    );
    println!(
        "signed_in_during_import_max_ms={}",
        ms(*during.last().expect("some"))
    );

    // Upload: a document the size of a real user's (~84 MB), streamed.
    let rss_before = peak_rss_kb(pid);
    let huge = nmap_parser::synthetic::service_scan(48_000).into_bytes();
    let size = huge.len();
    let (_, huge_time) = upload(&keyed, &base, huge).await;
    println!("upload_big_bytes={size}");
    println!("upload_big_s={:.3}", huge_time.as_secs_f64());
    println!(
        "upload_big_mb_per_s={:.1}",
        size as f64 / 1e6 / huge_time.as_secs_f64()
    );
    println!("server_peak_rss_before_kb={rss_before}");
    println!("server_peak_rss_after_kb={}", peak_rss_kb(pid));
    drop(server);
}
