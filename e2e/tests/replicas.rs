//! Beyond one machine (PostgreSQL lane): real `sneakyscan` processes on one database — two API
//! replicas (`serve --no-worker`) and two workers (`sneakyscan worker`) — with real nmap on
//! loopback listeners. A subscriber on one replica sees a scan that a worker runs to its end;
//! the global limit holds across processes; a cancel on a replica stops the nmap of the worker
//! running the scan; kill -9 of a worker mid-scan → its lease lapses → the other worker takes
//! the scan over and completes it (one host, one port: nothing lost, nothing twice); a replica
//! killed and restarted touches no scan of another process; sign-in failures on one replica
//! count on the other. Replicas have data dirs of their own: a scan's raw XML and reports are
//! served by a replica that never saw its files.
//!
//! The processes run the `sneakyscan` binary the workspace build made (target/<profile>/).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use e2e::listeners::{self, Kind};
use e2e::{ADMIN_PASSWORD, Backend, TestDatabase, WAIT, ws};
use serde_json::{Value, json};

/// Child processes, killed when the test ends (also when it fails).
struct Procs(Vec<(String, Child)>);

impl Drop for Procs {
    fn drop(&mut self) {
        for (_, child) in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

struct Cluster {
    url: String,
    data: PathBuf,
    procs: Procs,
}

impl Cluster {
    /// A process with its own data dir under the cluster's (the workers share one, as workers
    /// on one machine may; replicas share nothing but the database).
    fn command(&self, data_dir: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new(e2e::sneakyscan_binary());
        cmd.args([
            "--data-dir",
            &self.data.join(data_dir).display().to_string(),
        ])
        .args(["--database-url", &self.url])
        .args(args)
        .env("SNEAKYSCAN_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("SNEAKYSCAN_LOG__LEVEL", "warn")
        // Leases of 2 s: a lost worker's scan is taken over within seconds.
        .env("SNEAKYSCAN_JOBS__HEARTBEAT_SECS", "1")
        .env("SNEAKYSCAN_JOBS__MISSED_HEARTBEATS", "2")
        .env("SNEAKYSCAN_JOBS__POLL_MS", "200")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
        cmd
    }

    /// Starts `serve --no-worker` on a free port and waits until it is ready.
    async fn replica(&mut self, name: &str) -> SocketAddr {
        let addr = free_addr();
        let child = self
            .command(
                name,
                &["serve", "--no-worker", "--listen", &addr.to_string()],
            )
            .spawn()
            .expect("start a replica");
        self.procs.0.push((name.to_owned(), child));
        let deadline = Instant::now() + WAIT;
        loop {
            if let Ok(res) = reqwest::get(format!("http://{addr}/readyz")).await
                && res.status().is_success()
            {
                return addr;
            }
            assert!(Instant::now() < deadline, "replica {name} did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn worker(&mut self, name: &str) -> u32 {
        let child = self
            .command("workers", &["worker"])
            .spawn()
            .expect("start a worker");
        let pid = child.id();
        self.procs.0.push((name.to_owned(), child));
        pid
    }

    /// SIGKILL: the process cannot clean anything up.
    fn kill(&mut self, name: &str) {
        let at = self
            .procs
            .0
            .iter()
            .position(|(n, _)| n == name)
            .expect("known process");
        let (_, mut child) = self.procs.0.remove(at);
        child.kill().expect("SIGKILL");
        child.wait().expect("reaped");
    }
}

fn free_addr() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr")
}

/// A signed-in admin on one replica.
struct Client {
    base: String,
    http: reqwest::Client,
    cookie: String,
}

impl Client {
    async fn login(addr: SocketAddr) -> Self {
        let base = format!("http://{addr}");
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .build()
            .expect("client");
        let res = http
            .post(format!("{base}/graphql"))
            .json(&json!({
                "query": "mutation($u:String!,$p:String!){ login(username:$u, password:$p){ id } }",
                "variables": { "u": "admin", "p": ADMIN_PASSWORD }
            }))
            .send()
            .await
            .expect("login");
        let cookie = e2e::session_set_cookie(&res)
            .expect("session cookie")
            .split(';')
            .next()
            .expect("pair")
            .to_owned();
        Self { base, http, cookie }
    }

    async fn gql(&self, query: &str, variables: Value) -> Value {
        let body: Value = self
            .http
            .post(format!("{}/graphql", self.base))
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .expect("graphql request")
            .json()
            .await
            .expect("graphql json");
        assert!(body["errors"].is_null(), "{query}: {body}");
        body["data"].clone()
    }

    async fn start_scan(&self, target: SocketAddr) -> String {
        let data = self
            .gql(
                "mutation($t:[String!]!,$p:String){ startScan(input:{targets:$t, ports:$p}){ id } }",
                json!({ "t": [target.ip().to_string()], "p": target.port().to_string() }),
            )
            .await;
        data["startScan"]["id"].as_str().expect("id").to_owned()
    }

    /// A file served to this admin (status 200).
    async fn download(&self, path: &str) -> Vec<u8> {
        let res = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("request");
        assert_eq!(res.status().as_u16(), 200, "{path}");
        res.bytes().await.expect("body").to_vec()
    }

    async fn scan(&self, id: &str) -> Value {
        self.gql(
            "query($id:ID!){ scan(id:$id){ id status phase attempt worker message errorMessage \
             summary { hostsUp openPorts } hosts(first: 10) { totalCount } } }",
            json!({ "id": id }),
        )
        .await["scan"]
            .clone()
    }

    /// Polls the scan until `done` says so (bounded by [`WAIT`]).
    async fn scan_until(&self, id: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            let scan = self.scan(id).await;
            if done(&scan) {
                return scan;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}: {scan}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn listeners(&self) -> u64 {
        e2e::metric(&self.base, "sneakyscan_scan_event_listeners").await
    }

    /// A scanUpdates subscription on this replica, attached before this returns.
    async fn subscribe(&self) -> ws::Socket {
        let mut socket = ws::connect(
            &self.base,
            "graphql-transport-ws",
            Some(&self.base),
            Some(&self.cookie),
        )
        .await
        .expect("websocket");
        let ack = ws::init(&mut socket, json!({})).await.expect("ack");
        assert_eq!(ack["type"], "connection_ack");
        let before = self.listeners().await;
        ws::subscribe_updates(&mut socket, "u").await;
        let deadline = Instant::now() + WAIT;
        while self.listeners().await <= before {
            assert!(Instant::now() < deadline, "subscription not attached");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        socket
    }
}

/// A sign-in as admin on one replica; the answer as it comes.
async fn sign_in(addr: SocketAddr, password: &str) -> Value {
    reqwest::Client::new()
        .post(format!("http://{addr}/graphql"))
        .json(&json!({
            "query": "mutation($u:String!,$p:String!){ login(username:$u, password:$p){ id } }",
            "variables": { "u": "admin", "p": password }
        }))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("json")
}

/// The pid in a worker name (`<host>-<pid>-<random>`).
fn worker_pid(scan: &Value) -> u32 {
    let name = scan["worker"].as_str().expect("worker name");
    let mut parts = name.rsplitn(3, '-');
    let _random = parts.next();
    parts
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("pid in {name}"))
}

fn running_service(scan: &Value) -> bool {
    scan["status"] == "RUNNING" && scan["phase"] == "SERVICE"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_and_workers_share_one_postgres_database() {
    let dir = tempfile::tempdir().expect("temp dir");
    let Some(mut database) = TestDatabase::create(Backend::Postgres, dir.path())
        .await
        .expect("database")
    else {
        eprintln!("SNEAKYSCAN_TEST_POSTGRES_URL not set: PostgreSQL lane skipped");
        return;
    };
    let data = dir.path().join("data");
    let mut cluster = Cluster {
        url: database.url.clone(),
        data: data.clone(),
        procs: Procs(Vec::new()),
    };
    let a = cluster.replica("a").await;
    let b = cluster.replica("b").await;
    let w1 = cluster.worker("w1");
    let w2 = cluster.worker("w2");
    let on_a = Client::login(a).await;
    let on_b = Client::login(b).await;
    let block = listeners::loopback_block();

    // 1. Started on A, run by a worker, seen to its end by a subscriber on B.
    let banner = listeners::start(listeners::loopback(block, 1), Kind::Banner).await;
    let mut socket = on_b.subscribe().await;
    let quick = on_a.start_scan(banner.addr).await;
    let events = ws::events_until(&mut socket, &quick, ws::is_terminal).await;
    assert_eq!(
        events.last().expect("events")["status"],
        "COMPLETED",
        "{events:?}"
    );
    assert!(
        events.iter().any(|e| e["status"] == "RUNNING"),
        "{events:?}"
    );
    let scan = on_b.scan(&quick).await;
    assert!([w1, w2].contains(&worker_pid(&scan)), "{scan}");
    assert_eq!(scan["summary"]["openPorts"], 1, "{scan}");
    // Its files are in the database: B, whose data dir the worker never wrote, serves its raw
    // XML and a ZIP report with it.
    let files = on_b
        .gql(
            "query($id:ID!){ scan(id:$id){ nmapXml { phase url } } }",
            json!({ "id": quick }),
        )
        .await;
    let phases: Vec<&str> = files["scan"]["nmapXml"]
        .as_array()
        .expect("files")
        .iter()
        .filter_map(|f| f["phase"].as_str())
        .collect();
    assert_eq!(phases, ["ping", "tcp", "service"], "{files}");
    let xml = on_b
        .download(&format!("/api/scans/{quick}/nmap/tcp.xml"))
        .await;
    let xml = String::from_utf8(xml).expect("utf-8");
    assert!(xml.contains("<nmaprun"), "{xml}");
    assert!(
        xml.contains(&format!("portid=\"{}\"", banner.addr.port())),
        "{xml}"
    );
    let zip = on_b
        .download(&format!("/api/scans/{quick}/report.zip"))
        .await;
    let zip = zip::ZipArchive::new(std::io::Cursor::new(zip)).expect("zip");
    let names: Vec<&str> = zip.file_names().collect();
    assert!(names.contains(&"nmap/tcp.xml"), "{names:?}");
    assert!(!data.join("b").join("scans").exists(), "B ran nothing");

    // 2. The global limit holds across processes: one scan at a time.
    on_a.gql(
        "mutation { updateSettings(input: { maxConcurrentScans: 1 }) { maxConcurrentScans } }",
        json!({}),
    )
    .await;
    let silent1 = listeners::start(listeners::loopback(block, 2), Kind::Silent).await;
    let silent2 = listeners::start(listeners::loopback(block, 3), Kind::Silent).await;
    let silent2_addr = silent2.addr;
    let first = on_a.start_scan(silent1.addr).await;
    on_a.scan_until(&first, "the first scan to run", running_service)
        .await;
    let second = on_b.start_scan(silent2_addr).await;
    let until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < until {
        let s = on_b.scan(&second).await;
        assert_eq!(s["status"], "QUEUED", "the limit is 1: {s}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // 3. Cancelled on B (not where it was started, not where it runs): its nmap stops.
    let first_dir = data.join("workers/scans").join(&first);
    assert!(listeners::nmap_running_under(&first_dir), "nmap runs");
    let cancelled = on_b
        .gql(
            "mutation($id:ID!){ cancelScan(id:$id){ status message } }",
            json!({ "id": first }),
        )
        .await;
    assert_eq!(
        cancelled["cancelScan"]["status"], "CANCELLED",
        "{cancelled}"
    );
    assert_eq!(cancelled["cancelScan"]["message"], "cancelled by admin");
    assert!(!listeners::nmap_running_under(&first_dir), "nmap stopped");
    // The slot is free: the second scan runs now.
    let running = on_a
        .scan_until(&second, "the second scan to run", running_service)
        .await;

    // 4. kill -9 of the worker running it, mid-scan: the other worker takes it over and
    //    completes it.
    let lost = worker_pid(&running);
    let (lost_name, survivor) = if lost == w1 { ("w1", w2) } else { ("w2", w1) };
    cluster.kill(lost_name);
    // The silent service answers from now on (same address), so run 2 ends.
    drop(silent2);
    let deadline = Instant::now() + WAIT;
    while std::net::TcpListener::bind(silent2_addr).is_err() {
        assert!(Instant::now() < deadline, "{silent2_addr} stays taken");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _banner2 = listeners::start_on(silent2_addr, Kind::Banner).await;
    let done = on_b
        .scan_until(&second, "the scan to be taken over and completed", |s| {
            s["status"] == "COMPLETED"
        })
        .await;
    assert_eq!(done["attempt"], 2, "{done}");
    assert_eq!(worker_pid(&done), survivor, "{done}");
    assert_eq!(done["summary"]["hostsUp"], 1, "{done}");
    assert_eq!(done["summary"]["openPorts"], 1, "{done}");
    assert_eq!(done["hosts"]["totalCount"], 1, "stored once: {done}");
    assert!(
        !listeners::nmap_running_under(&data.join("workers/scans").join(&second)),
        "the lost run's nmap was killed"
    );
    // The lost worker is offline (it never said it stopped); the survivor online.
    let list = on_a
        .gql("{ workers { pid online stoppedAt } }", json!({}))
        .await["workers"]
        .clone();
    let of = |pid: u32| {
        list.as_array()
            .and_then(|l| l.iter().find(|w| w["pid"] == pid).cloned())
            .unwrap_or_else(|| panic!("worker {pid} in {list}"))
    };
    assert_eq!(of(lost)["online"], false, "{list}");
    assert!(of(lost)["stoppedAt"].is_null(), "{list}");
    assert_eq!(of(survivor)["online"], true, "{list}");

    // 5. A replica killed and restarted touches no other process' scan.
    let silent3 = listeners::start(listeners::loopback(block, 4), Kind::Silent).await;
    let third = on_a.start_scan(silent3.addr).await;
    let before = on_a
        .scan_until(&third, "the third scan to run", running_service)
        .await;
    cluster.kill("b");
    let b = cluster.replica("b2").await;
    let on_b = Client::login(b).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = on_b.scan(&third).await;
    assert_eq!(after["status"], "RUNNING", "{after}");
    assert_eq!(after["attempt"], before["attempt"], "{after}");
    assert_eq!(after["worker"], before["worker"], "{after}");
    let cancelled = on_b
        .gql(
            "mutation($id:ID!){ cancelScan(id:$id){ status } }",
            json!({ "id": third }),
        )
        .await;
    assert_eq!(cancelled["cancelScan"]["status"], "CANCELLED");

    // 6. Sign-in failures count on every replica: 3 on A and 2 on B lock the account on A.
    for (base, n) in [(a, 3), (b, 2)] {
        for _ in 0..n {
            let body = sign_in(base, "wrong password").await;
            assert_eq!(e2e::error_code(&body), "UNAUTHENTICATED", "{body}");
        }
    }
    let body = sign_in(a, ADMIN_PASSWORD).await;
    assert_eq!(e2e::error_code(&body), "RATE_LIMITED", "{body}");

    drop(cluster);
    database.drop_database().await;
}
