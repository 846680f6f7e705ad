//! The dashboard in a real browser: headless Debian Chromium driven through chromedriver
//! (fantoccini), against the real server serving the release build of `frontend/` and real
//! nmap scanning loopback listeners. Screenshots of the main pages are written to
//! `artifacts/browser/` for review.
//!
//! The browser reaches the server through a small TCP proxy owned by the test, so the test can
//! cut every connection (a network drop) and check that live updates come back by themselves.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use e2e::listeners::{self, Kind};
use e2e::{ADMIN_PASSWORD, Backend, TestApp};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};
use tokio::sync::broadcast;

const WAIT: Duration = Duration::from_secs(30);
const SCAN_WAIT: Duration = Duration::from_secs(180);
const POLL: Duration = Duration::from_millis(100);

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// Forwards every connection to the app until `cut` drops them all at once.
struct Proxy {
    base: String,
    cut: broadcast::Sender<()>,
    /// While set, new connections are closed at once (the server looks unreachable).
    down: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Proxy {
    async fn start(target: std::net::SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let base = format!("http://{}", listener.local_addr().expect("proxy addr"));
        let (cut, _) = broadcast::channel::<()>(4);
        let tx = cut.clone();
        let down = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let is_down = down.clone();
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if is_down.load(std::sync::atomic::Ordering::SeqCst) {
                    continue;
                }
                let mut stop = tx.subscribe();
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = stop.recv() => {}
                    }
                });
            }
        });
        Proxy { base, cut, down }
    }

    /// Drops every open connection (websocket included) and refuses new ones until `up`.
    fn go_down(&self) {
        self.down.store(true, std::sync::atomic::Ordering::SeqCst);
        let _ = self.cut.send(());
    }

    fn up(&self) {
        self.down.store(false, std::sync::atomic::Ordering::SeqCst);
    }
}

struct Browser {
    client: Client,
    webdriver: String,
    _driver: Child,
    base: String,
    shots: PathBuf,
}

async fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    l.local_addr().expect("addr").port()
}

impl Browser {
    async fn start(base: &str) -> Browser {
        let chromium = server::scanner::process::find_on_path("chromium").expect(
            "Chromium is needed for the browser tests: `make nmap` installs it (Debian chromium)",
        );
        let chromedriver = server::scanner::process::find_on_path("chromedriver")
            .expect("chromedriver is needed: `make nmap` installs it (Debian chromium-driver)");
        let port = free_port().await;
        let driver = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start chromedriver");
        let webdriver = format!("http://127.0.0.1:{port}");
        tokio::time::timeout(WAIT, async {
            while !listeners::reachable(([127, 0, 0, 1], port).into()).await {
                tokio::time::sleep(POLL).await;
            }
        })
        .await
        .expect("chromedriver listens");

        let profile = tempfile::tempdir().expect("profile dir").keep();
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": chromium,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--window-size=1280,1000", "--no-first-run", "--no-default-browser-check",
                    format!("--user-data-dir={}", profile.display()),
                ],
            }),
        );
        caps.insert("goog:loggingPrefs".into(), json!({ "browser": "ALL" }));
        let client = tokio::time::timeout(
            WAIT,
            ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                .capabilities(caps)
                .connect(&webdriver),
        )
        .await
        .expect("browser session in time")
        .expect("browser session");
        let shots = workspace().join("artifacts").join("browser");
        std::fs::create_dir_all(&shots).expect("artifacts dir");
        Browser {
            client,
            webdriver: webdriver.clone(),
            _driver: driver,
            base: base.to_owned(),
            shots,
        }
    }

    async fn goto(&self, path: &str) {
        self.client
            .goto(&format!("{}{path}", self.base))
            .await
            .expect("navigate");
    }

    async fn find(&self, css: &str) -> fantoccini::elements::Element {
        match self
            .client
            .wait()
            .at_most(WAIT)
            .every(POLL)
            .for_element(Locator::Css(css))
            .await
        {
            Ok(el) => el,
            Err(e) => panic!("no element {css} ({e}); {}", self.report().await),
        }
    }

    async fn count(&self, css: &str) -> usize {
        self.client
            .find_all(Locator::Css(css))
            .await
            .map(|v| v.len())
            .unwrap_or(0)
    }

    async fn button(&self, text: &str) -> fantoccini::elements::Element {
        let xpath = format!("//button[normalize-space()='{text}']");
        self.client
            .wait()
            .at_most(WAIT)
            .every(POLL)
            .for_element(Locator::XPath(&xpath))
            .await
            .unwrap_or_else(|e| panic!("no button {text}: {e}"))
    }

    /// Presses the button `text` and returns the secret the page then shows once in `css`.
    async fn press_for_token(&self, text: &str, css: &str) -> String {
        self.button(text)
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("press {text}: {e}"));
        self.find(css)
            .await
            .prop("value")
            .await
            .expect("token value")
            .unwrap_or_default()
    }

    /// Waits until the element's text contains `needle`; returns the text.
    async fn text_of(&self, css: &str, needle: &str) -> String {
        let result = tokio::time::timeout(WAIT, async {
            loop {
                if let Ok(el) = self.client.find(Locator::Css(css)).await
                    && let Ok(text) = el.text().await
                    && text.contains(needle)
                {
                    return text;
                }
                tokio::time::sleep(POLL).await;
            }
        })
        .await;
        match result {
            Ok(text) => text,
            Err(_) => panic!("{css} never contained {needle:?}; {}", self.report().await),
        }
    }

    async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.client.execute(script, args).await.expect("script")
    }

    /// Sets a field's value the way typing does (an `input` event), so Leptos sees it.
    async fn fill(&self, css: &str, value: &str) {
        self.find(css).await;
        self.js(
            "const el = document.querySelector(arguments[0]); el.value = arguments[1]; \
             el.dispatchEvent(new Event('input', { bubbles: true })); \
             el.dispatchEvent(new Event('change', { bubbles: true }));",
            vec![json!(css), json!(value)],
        )
        .await;
    }

    /// What a failure message needs: a screenshot (`failure.png`), the page text, the console.
    async fn report(&self) -> String {
        self.shot("failure").await;
        let body = self.js("return document.body.innerText;", vec![]).await;
        format!("the page says: {body}; console: {}", self.console().await)
    }

    /// The browser console (chromedriver's log endpoint), for failure reports.
    async fn console(&self) -> String {
        let Ok(Some(id)) = self.client.session_id().await else {
            return String::new();
        };
        let url = format!("{}/session/{id}/se/log", self.webdriver);
        match reqwest::Client::new()
            .post(url)
            .json(&json!({"type": "browser"}))
            .send()
            .await
        {
            Ok(r) => r.text().await.unwrap_or_default(),
            Err(e) => e.to_string(),
        }
    }

    async fn shot(&self, name: &str) {
        let png = self.client.screenshot().await.expect("screenshot");
        std::fs::write(self.shots.join(format!("{name}.png")), png).expect("write screenshot");
    }

    async fn path(&self) -> String {
        self.client
            .current_url()
            .await
            .expect("url")
            .path()
            .to_owned()
    }

    async fn sign_in(&self, username: &str, password: &str) {
        self.fill("#username", username).await;
        self.fill("#password", password).await;
        self.button("Sign in")
            .await
            .click()
            .await
            .expect("click sign in");
        self.find(".topbar .who").await;
    }

    async fn nav(&self, href: &str) {
        self.find(&format!(".nav a[href='{href}']"))
            .await
            .click()
            .await
            .expect("click nav link");
    }
}

/// Waits until the value of the field `css` starts with `prefix`.
async fn api_value_until(b: &Browser, css: &str, prefix: &str) {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let value = b
            .js(
                "return document.querySelector(arguments[0]).value;",
                vec![json!(css)],
            )
            .await;
        if value.as_str().is_some_and(|v| v.starts_with(prefix)) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{css} never got a value starting {prefix}"
        );
        tokio::time::sleep(POLL).await;
    }
}

/// Polls the API (as `client`) until `done` holds for the answer to `query`.
async fn api_until(
    app: &TestApp,
    client: &reqwest::Client,
    query: &str,
    variables: Value,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let wait = tokio::time::timeout(SCAN_WAIT, async {
        loop {
            let answer = app.gql(client, query, variables.clone()).await;
            if done(&answer) {
                return answer;
            }
            tokio::time::sleep(POLL).await;
        }
    });
    wait.await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

/// Follows the scan's row on the dashboard until COMPLETED; returns the progress values seen.
async fn watch_row_until_completed(b: &Browser, id: &str) -> (Vec<String>, Vec<String>) {
    let row = format!("tr[data-scan-id='{id}']");
    let mut percents = Vec::new();
    let mut statuses = Vec::new();
    tokio::time::timeout(SCAN_WAIT, async {
        loop {
            let seen = b
                .js(
                    "const r = document.querySelector(arguments[0]); if (!r) return null; \
                     const p = r.querySelector('[role=progressbar]'); \
                     return [r.querySelector('[data-status]').dataset.status, p ? p.getAttribute('aria-valuenow') : null];",
                    vec![json!(row)],
                )
                .await;
            if let Some([status, percent]) = seen.as_array().map(|a| [a[0].clone(), a[1].clone()]) {
                let status = status.as_str().unwrap_or_default().to_owned();
                if let Some(p) = percent.as_str()
                    && percents.last().map(String::as_str) != Some(p)
                {
                    percents.push(p.to_owned());
                }
                if statuses.last() != Some(&status) {
                    statuses.push(status.clone());
                }
                if status == "COMPLETED" {
                    return;
                }
                assert!(
                    status == "QUEUED" || status == "RUNNING",
                    "scan {id} ended {status}"
                );
            }
            tokio::time::sleep(POLL).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("scan {id} did not complete on the page; saw {statuses:?} {percents:?}"));
    (statuses, percents)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_runs_a_scan_live_in_a_real_browser() {
    let dist = workspace().join("frontend").join("dist");
    assert!(
        dist.join("index.html").is_file(),
        "the browser test needs the built app: run `make frontend` (make test does)"
    );
    let app = TestApp::spawn_with(Backend::Sqlite, |s| s.frontend_dir = dist.clone())
        .await
        .expect("SQLite app");
    let proxy = Proxy::start(app.addr).await;
    // The test's own API client (checks and set-up the page does not do).
    let admin = app.admin().await;
    let block = listeners::loopback_block();
    let host = listeners::loopback(block, 1);
    let http = listeners::start(host, Kind::Http).await;
    let ssh = listeners::start(host, Kind::Banner).await;
    let closed = {
        let l = TcpListener::bind((host, 0)).await.expect("bind");
        l.local_addr().expect("addr").port()
    };
    let (p_http, p_ssh) = (http.addr.port(), ssh.addr.port());
    let b = Browser::start(&proxy.base).await;

    // Sign in (the first-run hint names where the admin password comes from).
    b.goto("/").await;
    b.text_of(".hint", "SNEAKYSCAN_ADMIN_PASSWORD").await;
    b.shot("01-sign-in").await;
    b.fill("#username", "admin").await;
    b.fill("#password", "wrong-password").await;
    b.button("Sign in").await.click().await.expect("click");
    b.text_of(".error-box", "UNAUTHENTICATED").await;
    b.sign_in("admin", ADMIN_PASSWORD).await;
    b.text_of("h1", "Dashboard").await;
    b.js("window.__noReload = 'still here';", vec![]).await;
    // Keyboard: the first Tab lands on "Skip to content", which is then visible.
    b.js(
        "document.activeElement && document.activeElement.blur();",
        vec![],
    )
    .await;
    b.find("body")
        .await
        .send_keys("\u{E004}")
        .await
        .expect("Tab");
    let focused = b
        .js("const a = document.activeElement; return [a.textContent, a.getBoundingClientRect().top >= 0];", vec![])
        .await;
    assert_eq!(focused, json!(["Skip to content", true]), "first Tab stop");

    // A bad YAML shows its line; a good one saves.
    b.nav("/configs").await;
    b.find("a[href='/configs/new']")
        .await
        .click()
        .await
        .expect("new config");
    b.text_of("h1", "New config").await;
    b.fill(
        "#yaml",
        "title: Broken\nsites:\n  - name: Lab\n    ips: [oops\n",
    )
    .await;
    b.button("Check").await.click().await.expect("check");
    let error = b.text_of("#yaml-error .error-box", "line").await;
    assert!(
        error.contains("VALIDATION"),
        "validation error shown: {error}"
    );
    assert_eq!(
        b.count(".gutter li.error-line").await,
        1,
        "the error line is marked"
    );
    b.shot("02-config-line-error").await;
    let yaml = format!(
        "title: Browser lab
sites:
  - name: Lab
    ips:
      - address: {host}
        expected: {{ ping: true, tcp_ports: [{p_http}, {closed}] }}
scan:
  tcp_ports: \"{p_http},{p_ssh},{closed}\"
  phases: [ping, tcp, service, http, screenshot]
"
    );
    b.fill("#yaml", &yaml).await;
    b.button("Save").await.click().await.expect("save");
    b.text_of("h1", "Config: Browser lab").await;
    let config_id = b.path().await.trim_start_matches("/configs/").to_owned();
    assert!(
        config_id.chars().all(|c| c.is_ascii_digit()) && !config_id.is_empty(),
        "saved config opens"
    );

    // Run a scan from the dashboard; its row moves live and turns COMPLETED.
    b.nav("/").await;
    b.find("#run-config").await;
    b.button("Run scan").await.click().await.expect("run scan");
    let id = b
        .find(".notice a[href^='/scans/']")
        .await
        .attr("href")
        .await
        .expect("href")
        .expect("scan link")
        .trim_start_matches("/scans/")
        .to_owned();
    let (statuses, percents) = watch_row_until_completed(&b, &id).await;
    assert!(
        statuses.iter().any(|s| s == "RUNNING" || s == "QUEUED"),
        "the row was live before it finished: {statuses:?}"
    );
    assert!(
        percents.len() >= 2,
        "the progress bar moved: {percents:?} ({statuses:?})"
    );
    assert_eq!(
        b.js("return window.__noReload || null;", vec![]).await,
        json!("still here"),
        "no page reload happened"
    );
    b.text_of(".stats", "Scans").await;
    b.shot("03-dashboard").await;

    // The detail page lists the listeners' ports, marked against the config.
    b.find(&format!("tr[data-scan-id='{id}'] a"))
        .await
        .click()
        .await
        .expect("open scan");
    b.text_of("h1", "Browser lab").await;
    let http_row = b
        .text_of(&format!("tr[data-port='{p_http}/tcp']"), "expected")
        .await;
    assert!(http_row.contains("open"), "http port open: {http_row}");
    b.text_of(&format!("tr[data-port='{p_ssh}/tcp']"), "unexpected")
        .await;
    b.text_of(&format!("tr[data-port='{closed}/tcp']"), "missing")
        .await;
    b.text_of(".commands", "nmap").await;
    b.text_of("#findings-title + *", "PORT_UNEXPECTED").await;
    b.text_of("#findings-title + *", "PORT_MISSING").await;
    b.shot("04-scan-detail").await;

    // The ZIP download works with the browser's own session.
    let zip = b
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1]; \
             const href = document.getElementById('download-zip').getAttribute('href'); \
             fetch(href).then(async r => { const b = new Uint8Array(await r.arrayBuffer()); \
               done([r.status, String.fromCharCode(b[0], b[1]), b.length, r.headers.get('content-type')]); }) \
             .catch(e => done([0, String(e), 0, null]));",
            vec![],
        )
        .await
        .expect("download");
    assert_eq!(zip[0], json!(200), "zip download: {zip}");
    assert_eq!(zip[1], json!("PK"), "a ZIP archive: {zip}");
    assert!(zip[2].as_u64().unwrap_or(0) > 100, "zip has content: {zip}");

    // The scans list: filter by status.
    b.nav("/scans").await;
    b.find(&format!("tr[data-scan-id='{id}']")).await;
    b.find("#status-filter")
        .await
        .select_by_value("FAILED")
        .await
        .expect("filter");
    b.text_of(".card", "No scans match").await;
    b.find("#status-filter")
        .await
        .select_by_value("COMPLETED")
        .await
        .expect("filter");
    b.find(&format!("tr[data-scan-id='{id}']")).await;
    b.shot("05-scans").await;

    // API keys: the token is shown once.
    b.nav("/keys").await;
    b.fill("#key-name", "ci script").await;
    let token = b.press_for_token("Create key", "#new-token").await;
    assert!(token.starts_with("ssk_"), "token shown: {token}");
    b.find("tr[data-key='ci script']").await;
    b.shot("06-api-keys").await;
    b.find("tr[data-key='ci script'] .button.danger")
        .await
        .click()
        .await
        .expect("revoke");
    b.button("Yes, revoke")
        .await
        .click()
        .await
        .expect("confirm revoke");
    b.text_of("tr[data-key='ci script']", "revoked").await;

    // Import: an nmap file uploaded from the page, with progress, linked when stored; a file
    // that is not nmap XML shows the server's VALIDATION message.
    let files = tempfile::tempdir().expect("temp dir");
    let good = files.path().join("lab.xml");
    std::fs::write(&good, nmap_parser::synthetic::service_scan(2_000)).expect("write xml");
    let bad = files.path().join("notes.xml");
    std::fs::write(&bad, "<html><body>not a scan</body></html>").expect("write bad");
    b.nav("/import").await;
    b.find("#import-file")
        .await
        .send_keys(&bad.display().to_string())
        .await
        .expect("choose file");
    b.button("Import").await.click().await.expect("import");
    b.text_of(".error-box", "VALIDATION").await;
    b.find("#import-file")
        .await
        .send_keys(&good.display().to_string())
        .await
        .expect("choose file");
    b.fill("#import-title-input", "Uploaded in the browser")
        .await;
    b.button("Import").await.click().await.expect("import");
    b.text_of("[data-imported]", "2000 hosts").await;
    b.shot("13-import").await;
    b.find("[data-imported] a")
        .await
        .click()
        .await
        .expect("open scan");
    b.text_of("h1", "Uploaded in the browser").await;
    // Its results come in pages of 50 addresses (never the whole scan), by site.
    let hosts_pager = "nav[aria-label='Pages of hosts']";
    b.text_of(hosts_pager, "1–50 of 2000").await;
    assert_eq!(b.count(".site .host").await, 50);
    let first = b
        .find(".site .host")
        .await
        .attr("data-address")
        .await
        .expect("attr");
    b.find(&format!("{hosts_pager} button:last-child"))
        .await
        .click()
        .await
        .expect("next page");
    b.text_of(hosts_pager, "51–100 of 2000").await;
    let second = b
        .find(".site .host")
        .await
        .attr("data-address")
        .await
        .expect("attr");
    assert_ne!(first, second, "the next page shows other addresses");
    assert_eq!(b.count(".site .host").await, 50);
    b.find(&format!("{hosts_pager} button:first-child"))
        .await
        .click()
        .await
        .expect("previous page");
    b.text_of(hosts_pager, "1–50 of 2000").await;

    // Settings (admin): the scope is shown.
    b.nav("/settings").await;
    let allowed = b
        .find("#allowed")
        .await
        .prop("value")
        .await
        .expect("value")
        .unwrap_or_default();
    assert!(allowed.contains("127.0.0.0/8"), "scope shown: {allowed}");
    b.fill("#max-scans", "4").await;
    b.fill("#chunk-addresses", "256").await;
    b.button("Save settings")
        .await
        .click()
        .await
        .expect("save settings");
    b.text_of(".notice", "Saved").await;
    b.fill("#max-scans", "three").await;
    b.button("Save settings")
        .await
        .click()
        .await
        .expect("save settings");
    b.text_of(".error-box", "whole numbers").await;
    b.fill("#new-username", "tester").await;
    b.fill("#new-password", "tester-password-1").await;
    b.find("#new-role")
        .await
        .select_by_value("OPERATOR")
        .await
        .expect("role");
    b.button("Create user")
        .await
        .click()
        .await
        .expect("create user");
    b.text_of("tr[data-user='tester']", "active").await;
    b.find("tr[data-user='tester'] select")
        .await
        .select_by_value("VIEWER")
        .await
        .expect("change role");
    api_until(
        &app,
        &admin,
        "{ users { username role } }",
        json!({}),
        "the role change",
        |u| {
            u["data"]["users"]
                .as_array()
                .and_then(|l| l.iter().find(|u| u["username"] == "tester"))
                .is_some_and(|u| u["role"] == "VIEWER")
        },
    )
    .await;
    b.find("tr[data-user='tester'] button:not([disabled])")
        .await;
    b.button("Disable").await.click().await.expect("disable");
    b.text_of("tr[data-user='tester']", "disabled").await;
    b.shot("07-settings").await;
    let settings = app
        .gql(
            &admin,
            "{ settings { maxConcurrentScans chunkAddresses } users { username role disabled } }",
            json!({}),
        )
        .await;
    assert_eq!(
        settings["data"]["settings"]["maxConcurrentScans"], 4,
        "{settings}"
    );
    assert_eq!(
        settings["data"]["settings"]["chunkAddresses"], 256,
        "{settings}"
    );
    let tester = settings["data"]["users"]
        .as_array()
        .and_then(|u| u.iter().find(|u| u["username"] == "tester"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        (tester["role"].as_str(), tester["disabled"].as_bool()),
        (Some("VIEWER"), Some(true)),
        "{settings}"
    );

    // A scan over more addresses than a chunk (256, set above): its page lists its chunks
    // while they run (each waits on a silent port in its version detection).
    let second = 200 + (uuid::Uuid::new_v4().as_u128() % 55) as u8;
    let third = 2 * (uuid::Uuid::new_v4().as_u128() % 127) as u8;
    let base = std::net::Ipv4Addr::new(127, second, third, 0);
    let slow_a = listeners::start(
        std::net::IpAddr::V4(std::net::Ipv4Addr::new(127, second, third, 9)),
        Kind::Silent,
    )
    .await;
    let slow_b = listeners::start(
        std::net::IpAddr::V4(std::net::Ipv4Addr::new(127, second, third + 1, 9)),
        Kind::Silent,
    )
    .await;
    let chunked = app
        .gql(
            &admin,
            "mutation($t:[String!]!,$p:String){ startScan(input:{targets:$t, ports:$p}){ id } }",
            json!({
                "t": [format!("{base}/23")],
                "p": format!("{},{}", slow_a.addr.port(), slow_b.addr.port()),
            }),
        )
        .await;
    let chunked = chunked["data"]["startScan"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{chunked}"))
        .to_owned();
    b.goto(&format!("/scans/{chunked}")).await;
    b.text_of("#chunks-title", "Chunks (2)").await;
    b.text_of("tr[data-chunk='2']", "/24").await;
    b.text_of("dl.facts", "2 (run in parallel").await;
    b.shot("17-chunks").await;
    let cancelled = app
        .gql(
            &admin,
            "mutation($id:ID!){ cancelScan(id:$id){ status } }",
            json!({ "id": chunked }),
        )
        .await;
    assert_eq!(
        cancelled["data"]["cancelScan"]["status"], "CANCELLED",
        "{cancelled}"
    );
    b.text_of(".page-head", "CANCELLED").await;
    assert_eq!(
        b.count("#chunks-title").await,
        0,
        "merged: no chunks left to show"
    );

    // Workers: the server's own worker, online.
    b.nav("/workers").await;
    b.text_of("h1", "Workers").await;
    b.text_of("tr[data-worker] td:nth-child(2)", "online").await;
    b.shot("15-workers").await;

    // Agents: an ADMIN creates one (token shown once, with the command that starts it), the
    // list shows it offline (never connected), and revokes it.
    b.nav("/agents").await;
    b.text_of("h1", "Agents").await;
    b.fill("#agent-name", "branch-1").await;
    b.fill("#agent-pool", "branch").await;
    let agent_token = b.press_for_token("Create agent", "#agent-token").await;
    assert!(
        agent_token.starts_with("ssa_"),
        "token shown: {agent_token}"
    );
    b.text_of(".token-box pre", "sneakyscan agent --server http")
        .await;
    b.text_of("tr[data-agent='branch-1']", "offline").await;
    b.shot("16-agents").await;
    b.find("tr[data-agent='branch-1'] button")
        .await
        .click()
        .await
        .expect("revoke");
    b.button("Yes, revoke")
        .await
        .click()
        .await
        .expect("confirm revoke");
    b.text_of("tr[data-agent='branch-1']", "revoked").await;

    // The API playground runs from this server's own pinned files (the CSP allows no CDN).
    b.goto("/graphiql").await;
    b.find(".graphiql-container").await;
    b.shot("14-playground").await;

    // Unknown path: the 404 page.
    b.goto("/no/such/page").await;
    b.text_of("h1", "Page not found").await;
    b.shot("08-not-found").await;

    // A full load of the dashboard: time until its scans table is on screen (reported for
    // docs/BENCHMARKS.md, not asserted: timings are for benchmarks).
    b.goto("/").await;
    b.find(".scans-table").await;
    let ms = b.js("return Math.round(performance.now());", vec![]).await;
    eprintln!("dashboard_rendered_ms={ms}");

    // A dropped connection: while the server is unreachable a whole scan runs and ends; once
    // the connection is back, the dashboard shows it (resubscribed and reloaded), no reload.
    b.find("#recent-title").await;
    b.js("window.__noReload = 'still here';", vec![]).await;
    proxy.go_down();
    b.text_of(".link-state", "reconnecting").await;
    let second = app.start_config_scan(&admin, &config_id).await;
    api_until(
        &app,
        &admin,
        "query($id: ID!) { scan(id: $id) { status } }",
        json!({ "id": second }),
        "the second scan to complete",
        |s| s["data"]["scan"]["status"] == "COMPLETED",
    )
    .await;
    b.shot("12-reconnecting").await;
    assert_eq!(
        b.count(&format!("tr[data-scan-id='{second}']")).await,
        0,
        "not heard while down"
    );
    proxy.up();
    watch_row_until_completed(&b, &second).await;
    assert_eq!(
        b.js("return window.__noReload || null;", vec![]).await,
        json!("still here"),
        "the page was not reloaded to recover"
    );

    // A scan's own page while it runs: the live panel (scanProgress), then the results,
    // without a reload.
    // The expected port that was missing opens before this scan (its change since the last).
    let opened = listeners::start_on(std::net::SocketAddr::new(host, closed), Kind::Http).await;
    let third = app.start_config_scan(&admin, &config_id).await;
    b.find(&format!("tr[data-scan-id='{third}'] a"))
        .await
        .click()
        .await
        .expect("open running scan");
    b.find(".live [role=progressbar]").await;
    b.text_of(".live", "Phase").await;
    b.shot("11-scan-running").await;
    b.text_of(".page-head [data-status]", "COMPLETED").await;
    b.find(&format!("tr[data-port='{p_http}/tcp']")).await;
    assert_eq!(
        b.count(".live").await,
        0,
        "the live panel closes when the scan ends"
    );
    assert_eq!(
        b.js("return window.__noReload || null;", vec![]).await,
        json!("still here"),
        "results appeared without a reload"
    );
    // What changed (issue 13): the port that opened is this scan's change since its
    // baseline, the diff page says the same, the host's page draws its ports over time and
    // takes tags, the dashboard lists the last day's changes, certificates have a page.
    drop(opened);
    b.text_of("#changes-title", &format!("Changes since #{second}"))
        .await;
    b.text_of(".changes", "port opened").await;
    b.text_of(".changes", "drift resolved").await;
    b.js(
        "document.querySelector('#changes-title').scrollIntoView();",
        vec![],
    )
    .await;
    b.shot("18-scan-changes").await;
    b.find("a[href^='/diff?base=']")
        .await
        .click()
        .await
        .expect("open the diff");
    b.text_of("h1", "Compare scans").await;
    b.text_of(".diff", "port opened").await;
    b.text_of(".stats", "Ports opened").await;
    assert_eq!(b.path().await, "/diff");
    b.shot("19-diff").await;
    b.nav("/hosts").await;
    // The filter language: a bad filter says where and what was expected; a good one narrows
    // the list and stays in the address bar.
    b.fill("#hosts-filter", "port:http").await;
    // Checked as it is typed (the server's parser in wasm), before any search is sent.
    b.text_of("#hosts-filter-problem", "column 6").await;
    b.text_of("#hosts-filter-problem", "expected a port number")
        .await;
    b.button("Search").await.click().await.expect("search");
    b.text_of(".error-box", "expected a port number").await;
    b.fill("#hosts-filter", &format!("address:{host} -port:1"))
        .await;
    assert_eq!(
        b.js(
            "return document.querySelector('#hosts-filter-problem').innerText;",
            vec![]
        )
        .await,
        json!(""),
        "a good filter has no problem line"
    );
    b.button("Search").await.click().await.expect("search");
    b.find("table.hosts tbody tr:only-child").await;
    // Saved as a view, then picked again after another search.
    b.button("Save view")
        .await
        .click()
        .await
        .expect("save view");
    b.fill("#view-name", "just this host").await;
    b.button("Save").await.click().await.expect("save");
    b.find(&format!(
        "select[aria-label='Saved views'] option[title='address:{host} -port:1']"
    ))
    .await;
    b.fill("#hosts-filter", "").await;
    b.button("Search").await.click().await.expect("search all");
    b.js(
        "const s = document.querySelector(\"select[aria-label='Saved views']\"); \
         s.value = [...s.options].find(o => o.text === 'just this host').value; \
         s.dispatchEvent(new Event('change', { bubbles: true }));",
        vec![],
    )
    .await;
    b.find("table.hosts tbody tr:only-child").await;
    assert_eq!(
        b.js(
            "return document.querySelector('#hosts-filter').value;",
            vec![]
        )
        .await,
        json!(format!("address:{host} -port:1")),
        "picking a view searches with its filter"
    );
    let url = b.client.current_url().await.expect("url");
    assert_eq!(
        url.query_pairs()
            .find(|(k, _)| k == "filter")
            .map(|(_, v)| v.into_owned()),
        Some(format!("address:{host} -port:1")),
        "the filter is kept in the address bar: {url}"
    );
    // The inventory's charts: a bar opens the list it counts, already filtered.
    b.text_of("figure.chart figcaption", "Top services").await;
    b.shot("25-hosts-charts").await;
    b.find("figure.chart svg a")
        .await
        .click()
        .await
        .expect("open a bar");
    let searched = b
        .js(
            "return document.querySelector('#hosts-filter').value;",
            vec![],
        )
        .await;
    assert!(
        searched.as_str().is_some_and(|f| f.starts_with("service:")),
        "the bar's filter is searched: {searched}"
    );
    b.find("table.hosts tbody tr").await;
    b.fill("#hosts-filter", &format!("address:{host} -port:1"))
        .await;
    b.button("Search").await.click().await.expect("search");
    b.find("table.hosts tbody tr:only-child a[href^='/hosts/']")
        .await
        .click()
        .await
        .expect("open host");
    b.text_of("h1", &format!("Host {host}")).await;
    b.find(".timeline .bar.open").await;
    assert!(
        b.count(".timeline-row").await >= 3,
        "one timeline row per port seen"
    );
    b.text_of(".changes", "new host").await;
    b.fill("#host-tags", "lab, web").await;
    b.fill("#host-owner", "netops").await;
    b.button("Save").await.click().await.expect("save host");
    b.text_of(".facts", "netops").await;
    b.text_of(".facts", "web").await;
    b.js(
        "document.querySelector('#host-ports-title').scrollIntoView();",
        vec![],
    )
    .await;
    b.shot("20-host").await;
    b.nav("/").await;
    b.text_of("#recent-changes-title", "What changed").await;
    b.text_of(".changes", "port opened").await;
    // The dashboard's trends: open ports per config over its scans, changes per scan.
    b.text_of("figure.chart figcaption", "Open ports over time")
        .await;
    b.find("figure.chart svg polyline").await;
    assert!(
        b.count("figure.chart svg circle").await >= 2,
        "one point per scan"
    );
    b.js(
        "document.querySelector('figure.chart').scrollIntoView();",
        vec![],
    )
    .await;
    b.shot("26-dashboard-charts").await;
    // Every change, searched with the filter language, its exports a click away.
    b.nav("/changes").await;
    b.text_of("h1", "Changes").await;
    b.fill("#changes-filter", "kind:PORT_OPENED").await;
    b.button("Search")
        .await
        .click()
        .await
        .expect("search changes");
    b.text_of("table.changes", "port opened").await;
    b.button("Download CSV").await;
    b.shot("24-changes").await;
    b.nav("/").await;
    let ssl = std::fs::read_to_string(workspace().join("nmap-parser/tests/data/nmap_ssl_root.xml"))
        .expect("ssl sample");
    let res = admin
        .post(format!("{}/api/imports", app.base))
        .header("Content-Type", "application/xml")
        .body(ssl)
        .send()
        .await
        .expect("import");
    assert_eq!(res.status().as_u16(), 201);
    b.nav("/certificates").await;
    b.find("table.certificates tbody tr").await;
    b.shot("21-certificates").await;

    // Schedules: create with the live preview (a bad expression is shown as such), pause,
    // run now, and the run in its history.
    b.nav("/schedules").await;
    b.text_of("h1", "Schedules").await;
    b.fill("#schedule-name", "nightly lab").await;
    b.fill("#schedule-config", &config_id).await;
    b.fill("#schedule-timezone", "Europe/Berlin").await;
    b.fill("#schedule-cron", "61 * * * *").await;
    b.text_of("#schedule-preview", "cron:").await;
    b.fill("#schedule-cron", "30 2 * * *").await;
    b.text_of("#schedule-preview", "At 02:30, Europe/Berlin")
        .await;
    b.text_of("#schedule-preview", "Next runs").await;
    b.shot("22-schedule-editor").await;
    b.button("Create schedule")
        .await
        .click()
        .await
        .expect("create schedule");
    let row = "tr[data-schedule='nightly lab']";
    b.text_of(row, "At 02:30, Europe/Berlin").await;
    b.text_of(row, "active").await;
    b.button("Pause").await.click().await.expect("pause");
    b.text_of(row, "paused").await;
    b.button("Run now").await.click().await.expect("run now");
    b.text_of(".notice", "started scan #").await;
    b.button("Runs").await.click().await.expect("runs");
    b.text_of("table.runs", "run now by admin").await;
    b.text_of("table.runs", "started").await;
    b.shot("23-schedules").await;

    // Alerts: a webhook channel and a rule made in the page (the scope checked as typed); the
    // expected port that is gone again raises an alert that appears without a reload, its
    // notice reaches the receiver, and it is acknowledged.
    let body = app
        .gql(
            &admin,
            "mutation { updateSettings(input: { notifyAllowedCidrs: [\"127.0.0.0/8\"] }) { notifyAllowedCidrs } }",
            json!({}),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    let hook = e2e::receivers::HttpReceiver::start(host).await;
    b.nav("/alerts").await;
    b.text_of("h1", "Alerts").await;
    b.fill("#channel-name", "hook").await;
    b.fill("#channel-url", &hook.url("/in")).await;
    b.button("Generate a secret")
        .await
        .click()
        .await
        .expect("generate");
    api_value_until(&b, "#channel-secret", "whsec_").await;
    b.button("Create channel")
        .await
        .click()
        .await
        .expect("create channel");
    b.find("tr[data-channel='hook']").await;
    b.fill("#rule-name", "Missing port").await;
    b.fill("#rule-scope", "port:(").await;
    b.text_of("#rule-scope-problem", "column").await;
    b.fill("#rule-scope", &format!("port:{closed}")).await;
    let deadline = std::time::Instant::now() + WAIT;
    while b
        .js(
            "return document.querySelector('#rule-scope-problem').textContent;",
            vec![],
        )
        .await
        != json!("")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "a good scope still shows a problem"
        );
        tokio::time::sleep(POLL).await;
    }
    // Kinds: the missing expected port instead of the default; the channel.
    b.js(
        "for (const l of document.querySelectorAll('#rule-form label.check')) { \
           const t = l.textContent.trim(); \
           if (t === 'PORT_OPENED' || t === 'EXPECTED_PORT_MISSING' || t === 'hook') l.querySelector('input').click(); }",
        vec![],
    )
    .await;
    b.button("Create rule")
        .await
        .click()
        .await
        .expect("create rule");
    b.text_of("tr[data-rule='Missing port']", "EXPECTED_PORT_MISSING")
        .await;
    b.text_of("tr[data-rule='Missing port']", "hook").await;
    let fourth = app.start_config_scan(&admin, &config_id).await;
    api_until(
        &app,
        &admin,
        "query($id:ID!){ scan(id:$id){ status } }",
        json!({ "id": fourth }),
        "the fourth scan",
        |d| d["data"]["scan"]["status"] == "COMPLETED",
    )
    .await;
    b.text_of("table.alerts", "Missing port").await;
    let deadline = std::time::Instant::now() + WAIT;
    while hook.received().is_empty() {
        assert!(std::time::Instant::now() < deadline, "no webhook notice");
        tokio::time::sleep(POLL).await;
    }
    assert_eq!(hook.received()[0].json()["type"], "alert.opened");
    b.button("Details").await.click().await.expect("details");
    b.text_of("#alert-detail", "EXPECTED_PORT_MISSING").await;
    b.text_of("table.deliveries", "sent").await;
    b.fill("#alert-note", "on it").await;
    b.button("Acknowledge")
        .await
        .click()
        .await
        .expect("acknowledge");
    b.text_of("table.alerts", "acknowledged by admin").await;
    b.shot("27-alerts").await;
    b.nav("/scans").await;
    b.find(&format!("tr[data-scan-id='{third}'] a"))
        .await
        .click()
        .await
        .expect("back to the scan");
    b.text_of(".page-head [data-status]", "COMPLETED").await;

    // Delete it from its page: asks first, then back to the list without it.
    b.button("Delete").await.click().await.expect("delete");
    b.button("Yes, delete")
        .await
        .click()
        .await
        .expect("confirm delete");
    b.text_of("h1", "Scans").await;
    b.find(&format!("tr[data-scan-id='{id}']")).await;
    assert_eq!(
        b.count(&format!("tr[data-scan-id='{third}']")).await,
        0,
        "deleted scan gone"
    );

    // Sign out.
    b.button("Sign out").await.click().await.expect("sign out");
    b.find("#username").await;

    // A VIEWER sees results but no "Run scan", no config editing, no settings.
    app.user_with_role("watcher", "VIEWER").await;
    b.sign_in("watcher", "watcher-password").await;
    b.nav("/").await;
    b.find("#recent-title").await;
    b.find(&format!("tr[data-scan-id='{id}']")).await;
    assert_eq!(b.count("#run-title").await, 0, "no Run scan for a viewer");
    assert_eq!(
        b.count(".nav a[href='/settings']").await,
        0,
        "no settings link"
    );
    b.shot("09-viewer-dashboard").await;
    b.nav("/configs").await;
    b.find("tr[data-config-id]").await;
    assert_eq!(
        b.count("a[href='/configs/new']").await,
        0,
        "no New config for a viewer"
    );
    assert_eq!(
        b.count(".actions").await,
        0,
        "no config actions for a viewer"
    );

    // Session expiry: back to sign-in with a message, then back to the same page.
    b.nav("/scans").await;
    b.find(&format!("tr[data-scan-id='{id}']")).await;
    b.client.delete_all_cookies().await.expect("drop cookies");
    b.nav("/configs").await;
    b.text_of(".notice", "Sign in again").await;
    b.sign_in("watcher", "watcher-password").await;
    b.text_of("h1", "Configs").await;
    assert_eq!(b.path().await, "/configs");

    // A phone-sized window still shows the page without horizontal page scroll.
    b.client.set_window_size(390, 844).await.expect("resize");
    b.nav("/").await;
    b.find("#recent-title").await;
    let overflow = b
        .js(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth;",
            vec![],
        )
        .await;
    assert!(
        overflow.as_i64().unwrap_or(0) <= 0,
        "no horizontal scroll on a phone: {overflow}"
    );
    b.shot("10-phone-dashboard").await;

    b.client.close().await.expect("close browser");
    app.stop().await;
}
