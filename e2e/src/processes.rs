//! Real `sneakyscan` processes for the benchmarks (examples/): start one (waiting until it
//! serves), sign in as its admin, send GraphQL.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The admin password of every process started here.
pub const PASSWORD: &str = "bench-admin-password";

/// A process, killed when dropped; `base` is its URL when it serves HTTP.
pub struct Proc {
    pub child: tokio::process::Child,
    pub base: Option<String>,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

impl Proc {
    pub fn pid(&self) -> u32 {
        self.child.id().expect("running")
    }
}

pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// Starts `sneakyscan <args>` on `data` and `url` (empty: SQLite in `data`); with `listen`, on
/// a free loopback port, returning once it answers `/readyz`.
pub async fn spawn(bin: &Path, data: &Path, url: &str, args: &[&str], listen: bool) -> Proc {
    spawn_on(bin, data, url, args, listen.then(free_port), &[]).await
}

/// [`spawn`] on a given port (a restart in place), with extra environment variables.
pub async fn spawn_on(
    bin: &Path,
    data: &Path,
    url: &str,
    args: &[&str],
    port: Option<u16>,
    env: &[(&str, &str)],
) -> Proc {
    // `BENCH_SERVER_CPUS` (e.g. `0`): the processes run on those CPUs only (`taskset`), so
    // that a benchmark run on the other CPUs measures the server apart from its clients.
    let mut cmd = match std::env::var("BENCH_SERVER_CPUS") {
        Ok(cpus) if !cpus.is_empty() => {
            let mut cmd = tokio::process::Command::new("taskset");
            cmd.args(["-c", &cpus]).arg(bin);
            cmd
        }
        _ => tokio::process::Command::new(bin),
    };
    cmd.arg("--data-dir").arg(data);
    if !url.is_empty() {
        cmd.args(["--database-url", url]);
    }
    cmd.args(args);
    if let Some(port) = port {
        cmd.args(["--listen", &format!("127.0.0.1:{port}")]);
    }
    cmd.envs(env.iter().copied());
    let child = cmd
        .env("SNEAKYSCAN_ADMIN_PASSWORD", PASSWORD)
        .env("SNEAKYSCAN_LOG__LEVEL", "warn")
        .env("SNEAKYSCAN_FRONTEND_DIR", data.join("no-frontend"))
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start sneakyscan");
    let base = port.map(|port| format!("http://127.0.0.1:{port}"));
    if let Some(base) = &base {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !reqwest::get(format!("{base}/readyz"))
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            assert!(Instant::now() < deadline, "server did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    Proc { child, base }
}

pub async fn cookie(base: &str) -> String {
    let res = reqwest::Client::new()
        .post(format!("{base}/graphql"))
        .json(&json!({
            "query": "mutation($u:String!,$p:String!){ login(username:$u, password:$p){ id } }",
            "variables": { "u": "admin", "p": PASSWORD }
        }))
        .send()
        .await
        .expect("login");
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("sneakyscan_session="))
        .and_then(|c| c.split(';').next())
        .expect("session cookie")
        .to_owned()
}

pub async fn gql(base: &str, cookie: &str, query: &str, variables: Value) -> Value {
    reqwest::Client::new()
        .post(format!("{base}/graphql"))
        .header("Cookie", cookie)
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .expect("graphql")
        .json()
        .await
        .expect("json")
}

/// Polls scan `id` (reading `fields` of it) every `every` until it is COMPLETED, and returns
/// it; panics when it ends otherwise or is not done within `limit`.
pub async fn until_completed(
    base: &str,
    cookie: &str,
    id: &str,
    fields: &str,
    every: Duration,
    limit: Duration,
) -> Value {
    let query = format!("query($id:ID!){{ scan(id:$id){{ status {fields} }} }}");
    let deadline = Instant::now() + limit;
    loop {
        let scan = gql(base, cookie, &query, json!({ "id": id })).await["data"]["scan"].clone();
        if scan["status"] == "COMPLETED" {
            return scan;
        }
        assert!(
            !matches!(
                scan["status"].as_str(),
                Some("FAILED" | "INTERRUPTED" | "CANCELLED")
            ),
            "scan ended badly: {scan}"
        );
        assert!(Instant::now() < deadline, "scan did not end: {scan}");
        tokio::time::sleep(every).await;
    }
}

/// Starts a scan of saved config `config_id`; its id (panics with the answer if refused).
pub async fn start_config_scan(base: &str, cookie: &str, config_id: &str) -> String {
    let body = gql(
        base,
        cookie,
        "mutation($c:ID!){ startScan(input:{configId:$c}){ id } }",
        json!({ "c": config_id }),
    )
    .await;
    body["data"]["startScan"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("startScan: {body}"))
        .to_owned()
}

/// The median of some timings.
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// A fresh SQLite database `<dir>/<name>.db`, migrated (benchmarks).
pub async fn fresh_sqlite(dir: &Path, name: &str) -> sea_orm::DatabaseConnection {
    let file = dir.join(format!("{name}.db"));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
    }
    server::db::connect_migrated(
        &format!("sqlite://{}?mode=rwc", file.display()),
        std::sync::Arc::new(server::db::DbMetrics::default()),
        async |_| Ok(()),
    )
    .await
    .expect("db")
}
