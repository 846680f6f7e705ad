//! End-to-end test harness: `TestApp::spawn()` starts the real server through `server::run` on
//! port 0 with a temp data dir and a fresh database (SQLite, or a throw-away PostgreSQL database
//! when `SNEAKYSCAN_TEST_POSTGRES_URL` is set), and gives real HTTP and websocket clients.

pub mod listeners;
pub mod processes;
pub mod receivers;
pub mod ws;

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use server::Settings;

pub const ADMIN_PASSWORD: &str = "admin-password-for-tests";
/// Every wait in the tests is bounded by this.
pub const WAIT: Duration = Duration::from_secs(20);
/// An inline script like Trunk's loader, to check the CSP hash.
pub const TEST_INDEX_HTML: &str = "<!doctype html><html><head><title>SneakyScanner</title>\
<script type=\"module\">import init from '/app.js'; init();</script></head><body></body></html>";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The PostgreSQL server for the PostgreSQL lane, when configured.
pub fn postgres_url() -> Option<String> {
    std::env::var("SNEAKYSCAN_TEST_POSTGRES_URL")
        .ok()
        .filter(|s| !s.is_empty())
}

/// A database that exists for one test.
pub struct TestDatabase {
    pub url: String,
    drop_with: Option<(String, String)>,
}

impl TestDatabase {
    pub async fn create(backend: Backend, dir: &std::path::Path) -> anyhow::Result<Option<Self>> {
        match backend {
            Backend::Sqlite => Ok(Some(Self {
                url: format!("sqlite://{}?mode=rwc", dir.join("test.db").display()),
                drop_with: None,
            })),
            Backend::Postgres => {
                let Some(admin_url) = postgres_url() else {
                    return Ok(None);
                };
                let name = format!("t_{}", uuid::Uuid::new_v4().simple());
                let admin = Database::connect(&admin_url)
                    .await
                    .context("connect to postgres")?;
                admin
                    .execute_unprepared(&format!("CREATE DATABASE {name}"))
                    .await?;
                admin.close().await.ok();
                let base = admin_url
                    .rsplit_once('/')
                    .map(|(b, _)| b)
                    .unwrap_or(&admin_url);
                Ok(Some(Self {
                    url: format!("{base}/{name}"),
                    drop_with: Some((admin_url, name)),
                }))
            }
        }
    }

    pub async fn drop_database(&mut self) {
        if let Some((admin_url, name)) = self.drop_with.take()
            && let Ok(admin) = Database::connect(&admin_url).await
        {
            let _ = admin
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .await;
            admin.close().await.ok();
        }
    }
}

pub struct TestApp {
    pub addr: SocketAddr,
    pub base: String,
    pub settings: Settings,
    pub data_dir: tempfile::TempDir,
    database: TestDatabase,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<anyhow::Result<()>>>,
}

impl TestApp {
    /// SQLite, default settings.
    pub async fn spawn() -> Self {
        Self::spawn_with(Backend::Sqlite, |_| {})
            .await
            .expect("SQLite is always available")
    }

    /// `None` when the backend is PostgreSQL and no test server is configured.
    pub async fn spawn_with(backend: Backend, tweak: impl FnOnce(&mut Settings)) -> Option<Self> {
        Self::spawn_on(backend, LOOPBACK_ANY_PORT, tweak).await
    }

    /// [`Self::spawn_with`], listening on `bind` (port 0: any free port).
    pub async fn spawn_on(
        backend: Backend,
        bind: SocketAddr,
        tweak: impl FnOnce(&mut Settings),
    ) -> Option<Self> {
        let data_dir = tempfile::tempdir().expect("temp dir");
        let database = TestDatabase::create(backend, data_dir.path())
            .await
            .expect("test database")?;
        let dist = data_dir.path().join("dist");
        std::fs::create_dir_all(&dist).expect("dist dir");
        std::fs::write(dist.join("index.html"), TEST_INDEX_HTML).expect("index.html");
        let mut settings = Settings {
            data_dir: data_dir.path().to_path_buf(),
            database_url: database.url.clone().into(),
            frontend_dir: dist,
            admin_password: Some(ADMIN_PASSWORD.into()),
            ..Settings::default()
        };
        settings.log.level = "warn".into();
        tweak(&mut settings);
        server::telemetry::init(&settings.log);
        let (addr, tx, handle) = launch(settings.clone(), bind).await;
        let app = Self {
            addr,
            base: format!("http://{addr}"),
            settings,
            data_dir,
            database,
            shutdown: Some(tx),
            handle: Some(handle),
        };
        app.wait_ready().await;
        Some(app)
    }

    /// The listener is bound before `run` starts, so this request waits in the backlog until the
    /// server has migrated and serves: no polling needed.
    async fn wait_ready(&self) {
        let res = tokio::time::timeout(WAIT, reqwest::get(format!("{}/readyz", self.base)))
            .await
            .expect("server answered in time")
            .expect("server answered /readyz");
        assert!(
            res.status().is_success(),
            "server not ready: {}",
            res.status()
        );
    }

    /// A client with its own cookie jar (a browser, in effect).
    pub fn client(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .cookie_store(true)
            .build()
            .expect("client")
    }

    /// Runs a GraphQL operation; returns the whole JSON body.
    pub async fn gql(&self, client: &reqwest::Client, query: &str, variables: Value) -> Value {
        let res = client
            .post(format!("{}/graphql", self.base))
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .expect("graphql request");
        res.json().await.expect("graphql json")
    }

    /// Like [`gql`](Self::gql) with a bearer token.
    pub async fn gql_bearer(&self, token: &str, query: &str, variables: Value) -> (u16, Value) {
        let res = reqwest::Client::new()
            .post(format!("{}/graphql", self.base))
            .bearer_auth(token)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .expect("graphql request");
        let status = res.status().as_u16();
        (status, res.json().await.expect("graphql json"))
    }

    /// Subscribes `socket` to `scanUpdates` (as `ws::subscribe_updates`) and returns once the
    /// server is listening: the subscription attaches to the event bus only after the socket's
    /// principal is re-checked, so a scan started right after the bare `subscribe` message could
    /// publish its first events before it.
    pub async fn subscribe_updates(&self, socket: &mut ws::Socket, id: &str) {
        let name = "sneakyscan_scan_event_listeners";
        let before = self.metric(name).await;
        ws::subscribe_updates(socket, id).await;
        let deadline = std::time::Instant::now() + WAIT;
        while self.metric(name).await <= before {
            assert!(
                std::time::Instant::now() < deadline,
                "the subscription {id} never attached"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// A new API key of the client's user (with the user's role); returns its token.
    pub async fn create_api_key(&self, client: &reqwest::Client, name: &str) -> String {
        let body = self
            .gql(
                client,
                "mutation($n:String!){ createApiKey(input:{name:$n}){ token } }",
                json!({ "n": name }),
            )
            .await;
        body["data"]["createApiKey"]["token"]
            .as_str()
            .unwrap_or_else(|| panic!("no token: {body}"))
            .to_owned()
    }

    /// A client signed in as `username`.
    pub async fn login(&self, username: &str, password: &str) -> reqwest::Client {
        let client = self.client();
        let body = self
            .gql(
                &client,
                "mutation($u:String!,$p:String!){ login(username:$u, password:$p){ username } }",
                json!({ "u": username, "p": password }),
            )
            .await;
        assert_eq!(
            body["data"]["login"]["username"], username,
            "login failed: {body}"
        );
        client
    }

    /// Sends `query` every 100 ms until `done` accepts its answer (the whole body), which it
    /// returns; fails the test with `what` and the last answer after [`WAIT`].
    pub async fn gql_until(
        &self,
        client: &reqwest::Client,
        query: &str,
        variables: Value,
        what: &str,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            let body = self.gql(client, query, variables.clone()).await;
            if done(&body) {
                return body;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "timed out waiting for {what}: {body}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Imports an nmap XML document through `POST /api/imports` (`query`: its options, e.g.
    /// `configId=3`); returns the new scan's id (panics unless it answers 201).
    pub async fn import_xml(&self, client: &reqwest::Client, query: &str, xml: &str) -> String {
        let res = client
            .post(format!("{}/api/imports?{query}", self.base))
            .header("Content-Type", "application/xml")
            .body(xml.to_owned())
            .send()
            .await
            .expect("upload");
        assert_eq!(res.status().as_u16(), 201);
        let body: Value = res.json().await.expect("json answer");
        body["scan"]["id"].as_str().expect("scan id").to_owned()
    }

    /// Sets the tags and owner of the host at `address` through the API (panics if refused).
    pub async fn tag_host(
        &self,
        client: &reqwest::Client,
        address: &str,
        tags: &[&str],
        owner: &str,
    ) {
        let body = self
            .gql(
                client,
                "query($f:String){ hosts(filter:$f){ edges { node { id } } } }",
                json!({ "f": format!("address:{address}") }),
            )
            .await;
        let id = body["data"]["hosts"]["edges"][0]["node"]["id"].clone();
        let body = self
            .gql(
                client,
                "mutation($id:ID!,$t:[String!],$o:String){ updateHost(id:$id, input:{tags:$t, owner:$o}){ id } }",
                json!({ "id": id, "t": tags, "o": owner }),
            )
            .await;
        assert!(body["errors"].is_null(), "updateHost: {body}");
    }

    /// Saves a scan config through the API; returns its id (panics with the errors if refused).
    pub async fn create_config(&self, client: &reqwest::Client, yaml: &str) -> String {
        let body = self
            .gql(
                client,
                "mutation($y:String!){ createScanConfig(input:{yaml:$y}){ id } }",
                json!({ "y": yaml }),
            )
            .await;
        body["data"]["createScanConfig"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("createScanConfig failed: {body}"))
            .to_owned()
    }

    /// Starts a scan of a saved config through the API; returns its id (panics with the
    /// errors if refused).
    pub async fn start_config_scan(&self, client: &reqwest::Client, config_id: &str) -> String {
        let body = self
            .gql(
                client,
                "mutation($c:ID!){ startScan(input:{configId:$c}){ id } }",
                json!({ "c": config_id }),
            )
            .await;
        body["data"]["startScan"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("startScan failed: {body}"))
            .to_owned()
    }

    /// Waits (up to 2 minutes) until scan `id` is COMPLETED; fails the test if it ends
    /// otherwise.
    pub async fn until_completed(&self, client: &reqwest::Client, id: &str) {
        let deadline = std::time::Instant::now() + Duration::from_secs(120);
        loop {
            let body = self
                .gql(
                    client,
                    "query($id:ID!){ scan(id:$id){ status errorMessage } }",
                    json!({ "id": id }),
                )
                .await;
            let status = body["data"]["scan"]["status"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            if status == "COMPLETED" {
                return;
            }
            assert!(
                !matches!(status.as_str(), "FAILED" | "CANCELLED" | "INTERRUPTED"),
                "scan ended {status}: {body}"
            );
            assert!(
                std::time::Instant::now() < deadline,
                "scan {id} did not complete: {body}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    pub async fn admin(&self) -> reqwest::Client {
        self.login("admin", ADMIN_PASSWORD).await
    }

    /// Creates a user through the API (as admin) and returns a client signed in as them.
    pub async fn user_with_role(&self, username: &str, role: &str) -> reqwest::Client {
        let admin = self.admin().await;
        let password = format!("{username}-password");
        let body = self
            .gql(
                &admin,
                &format!(
                    "mutation($u:String!,$p:String!){{ createUser(input:{{username:$u, password:$p, role:{role}}}){{ id }} }}"
                ),
                json!({ "u": username, "p": password }),
            )
            .await;
        assert!(body["errors"].is_null(), "createUser failed: {body}");
        self.login(username, &password).await
    }

    /// A separate connection to the app's database, for seeding and checking.
    pub async fn db(&self) -> DatabaseConnection {
        Database::connect(&self.database.url)
            .await
            .expect("connect test db")
    }

    /// The number of SQL statements the server has run so far (from /metrics).
    pub async fn statement_count(&self) -> u64 {
        self.metric("sneakyscan_db_statements_total").await
    }

    /// A counter of /metrics by name.
    pub async fn metric(&self, name: &str) -> u64 {
        metric(&self.base, name).await
    }

    /// Graceful shutdown; fails the test if the server returned an error or hung.
    pub async fn stop(mut self) {
        self.shut_down().await;
        self.database.drop_database().await;
    }

    /// Stops the server gracefully and starts it again on the same database and data dir (a
    /// new port: `base` changes).
    pub async fn restart(&mut self) {
        self.relaunch(LOOPBACK_ANY_PORT).await;
    }

    /// Stops the server gracefully and starts it again on the same address (clients that
    /// reconnect, such as agents, find it where it was).
    pub async fn restart_in_place(&mut self) {
        self.relaunch(self.addr).await;
    }

    /// Stops the server gracefully, keeps it down until `until` (a downtime across some moment),
    /// then starts it again on the same database and data dir.
    pub async fn restart_after(&mut self, until: tokio::time::Instant) {
        self.shut_down().await;
        tokio::time::sleep_until(until).await;
        self.relaunch(LOOPBACK_ANY_PORT).await;
    }

    async fn relaunch(&mut self, bind: SocketAddr) {
        self.shut_down().await;
        let (addr, tx, handle) = launch(self.settings.clone(), bind).await;
        self.addr = addr;
        self.base = format!("http://{addr}");
        self.shutdown = Some(tx);
        self.handle = Some(handle);
        self.wait_ready().await;
    }

    async fn shut_down(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(handle) = self.handle.take() {
            let result = tokio::time::timeout(WAIT, handle)
                .await
                .expect("server stopped in time")
                .expect("server task");
            result.expect("server exited cleanly");
        }
    }
}

type ServerTask = JoinHandle<anyhow::Result<()>>;

const LOOPBACK_ANY_PORT: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 0);

/// Binds `bind` (port 0: any free port) and runs the server there until the sender fires.
async fn launch(
    settings: Settings,
    bind: SocketAddr,
) -> (SocketAddr, oneshot::Sender<()>, ServerTask) {
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .expect("bind the server's address");
    let addr = listener.local_addr().expect("local addr");
    let (tx, rx) = oneshot::channel::<()>();
    let handle = tokio::spawn(server::run(settings, listener, async {
        let _ = rx.await;
    }));
    (addr, tx, handle)
}

/// The `sneakyscan` binary the workspace build made, next to the running test's own
/// (target/<profile>/deps/..): tests that run real processes start it.
pub fn sneakyscan_binary() -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let bin = exe
        .parent()
        .and_then(std::path::Path::parent)
        .expect("target dir")
        .join("sneakyscan");
    assert!(
        bin.is_file(),
        "{} is missing: build the workspace (`cargo nextest run --workspace`)",
        bin.display()
    );
    bin
}

/// A counter or gauge of a server's `/metrics` (`base`: `http://host:port`) by name.
pub async fn metric(base: &str, name: &str) -> u64 {
    let text = reqwest::get(format!("{base}/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics body");
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no counter {name} in {text}"))
}

/// The whole `Set-Cookie` header of the session cookie in a response, if it sets one.
pub fn session_set_cookie(res: &reqwest::Response) -> Option<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("sneakyscan_session="))
        .map(str::to_owned)
}

/// The `extensions.code` of the first error of a GraphQL response.
pub fn error_code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no error code in {body}"))
}

/// Runs a scenario on SQLite and, when configured, on PostgreSQL.
#[macro_export]
macro_rules! both_backends {
    ($scenario:ident) => {
        mod $scenario {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$scenario($crate::Backend::Sqlite).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if $crate::postgres_url().is_none() {
                    eprintln!("SNEAKYSCAN_TEST_POSTGRES_URL not set: PostgreSQL lane skipped");
                    return;
                }
                super::$scenario($crate::Backend::Postgres).await;
            }
        }
    };
}

/// A finished scan with `sites` sites of `ips` addresses each; every address has an open
/// expected port (22), an open unexpected HTTPS port with a certificate and TLS versions (443)
/// and a missing expected port (8080).
pub fn sample_scan(title: &str, sites: usize, ips: usize) -> server::service::results::NewScan {
    use server::domain::status::ScanStatus;
    use server::service::results::*;
    let now = chrono::Utc::now();
    NewScan {
        title: title.to_owned(),
        status: ScanStatus::Completed,
        config_id: None,
        triggered_by: "test".into(),
        triggered_by_user_id: None,
        created_at: now,
        started_at: Some(now),
        completed_at: Some(now),
        command_lines: vec![vec![
            "nmap".into(),
            "-sT".into(),
            "-iL".into(),
            "targets.txt".into(),
        ]],
        config_yaml: None,
        sites: (0..sites)
            .map(|s| NewSite {
                name: format!("site {s}"),
                ips: (0..ips)
                    .map(|i| NewIp {
                        address: format!("127.0.{s}.{}", i + 1),
                        hostname: None,
                        status: "up".into(),
                        ping_expected: Some(true),
                        ping_actual: Some(true),
                        ports: vec![
                            NewPort {
                                port: 22,
                                protocol: "tcp".into(),
                                state: "open".into(),
                                reason: Some("syn-ack".into()),
                                expected: true,
                                unexpected: false,
                                service: Some(NewService {
                                    name: Some("ssh".into()),
                                    product: Some("OpenSSH".into()),
                                    ..Default::default()
                                }),
                            },
                            NewPort {
                                port: 443,
                                protocol: "tcp".into(),
                                state: "open".into(),
                                reason: Some("syn-ack".into()),
                                expected: false,
                                unexpected: true,
                                service: Some(NewService {
                                    name: Some("https".into()),
                                    tunnel: Some("ssl".into()),
                                    certificate: Some(NewCertificate {
                                        subject: "CN=lab.test".into(),
                                        issuer: "CN=lab.test".into(),
                                        sans: vec!["DNS:lab.test".into()],
                                        key_type: Some("rsa".into()),
                                        key_bits: Some(2048),
                                        self_signed: true,
                                        ..Default::default()
                                    }),
                                    tls_versions: vec![
                                        NewTlsVersion {
                                            version: "TLSv1.2".into(),
                                            ciphers: vec![
                                                "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256".into(),
                                            ],
                                            grade: Some("A".into()),
                                        },
                                        NewTlsVersion {
                                            version: "TLSv1.3".into(),
                                            ciphers: vec!["TLS_AES_128_GCM_SHA256".into()],
                                            grade: Some("A".into()),
                                        },
                                    ],
                                    ..Default::default()
                                }),
                            },
                            NewPort {
                                port: 8080,
                                protocol: "tcp".into(),
                                state: "missing".into(),
                                reason: None,
                                expected: true,
                                unexpected: false,
                                service: None,
                            },
                        ],
                    })
                    .collect(),
            })
            .collect(),
    }
}
