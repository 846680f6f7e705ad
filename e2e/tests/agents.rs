//! Remote agents (issue 12), with the real `sneakyscan agent` binary and real nmap:
//!
//! - on SQLite and PostgreSQL: only an ADMIN creates agents and the token is shown once; a
//!   scan of a config whose site names an `agent_pool` waits QUEUED until an agent of that
//!   pool connects, then the agent runs it and the results appear through the API (the scan
//!   names the agent as its worker); a larger scan of the pool runs as chunks on the agent,
//!   merged on the server; a cancel stops the agent's nmap; the agent survives a
//!   server restart (it reconnects and runs the next scan); stopped with SIGTERM mid-scan, it
//!   ends its run INTERRUPTED with what was found and exits cleanly; a revoked agent is disconnected
//!   and exits, and its token is refused; going online and offline is recorded;
//! - in network namespaces this test creates (198.18.0.0/15 only, removed at the end, also
//!   when the test fails): an agent in its own namespace scans a lab host in a third one that
//!   the server cannot reach, again after a server restart, and is refused once revoked;
//! - over TLS: an agent dials an `https://` server (a TLS proxy in front of it) whose
//!   certificate a private CA signed — offline without `--ca-cert`, scanning with it.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use e2e::listeners::{self, Kind};
use e2e::{Backend, TestApp, WAIT, both_backends, error_code};
use serde_json::{Value, json};

const CREATE: &str = "mutation($n:String!,$p:String!){ createAgent(input:{name:$n, pool:$p}){ \
                      token agent { id name pool status } } }";
const AGENTS: &str = "{ agents(first: 10) { totalCount edges { node { id name pool status \
                      version runningJobs lastSeenAt worker events { kind detail } } } } }";
const SCAN: &str = "query($id:ID!){ scan(id:$id){ status phase worker pool attempt message \
                    errorMessage summary { hostsUp openPorts } hosts(first: 10) { totalCount } } }";

/// Short leases and quick polls: what the tests wait for happens within seconds.
fn quick(settings: &mut server::Settings) {
    settings.jobs.heartbeat_secs = 1;
    settings.jobs.missed_heartbeats = 2;
    settings.jobs.poll_ms = 200;
    settings.graphql.answer_cache_mib = 0;
}

/// An agent process, killed when the test ends (also when it fails).
struct AgentProcess(Child);

impl Drop for AgentProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl AgentProcess {
    /// `sneakyscan agent` (inside the network namespace `netns`, when given).
    fn start(server: &str, token: &str, data: &Path, netns: Option<&str>) -> Self {
        Self::spawn(server, token, data, netns, &[])
    }

    /// `sneakyscan agent` with more arguments.
    fn start_with(server: &str, token: &str, data: &Path, args: &[&str]) -> Self {
        Self::spawn(server, token, data, None, args)
    }

    fn spawn(server: &str, token: &str, data: &Path, netns: Option<&str>, args: &[&str]) -> Self {
        let mut cmd = match netns {
            Some(ns) => {
                let mut cmd = Command::new("ip");
                cmd.args(["netns", "exec", ns])
                    .arg(e2e::sneakyscan_binary());
                cmd
            }
            None => Command::new(e2e::sneakyscan_binary()),
        };
        cmd.args(["--data-dir", &data.display().to_string()])
            .args(["agent", "--server", server, "--slots", "2"])
            .args(args)
            .env("SNEAKYSCAN_AGENT_TOKEN", token)
            .env("SNEAKYSCAN_LOG__LEVEL", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        Self(cmd.spawn().expect("start the agent"))
    }

    /// SIGTERM: the agent stops its runs and sends what they found before it exits.
    fn terminate(&self) {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(self.0.id()).expect("pid"));
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("SIGTERM");
    }

    /// Waits for the agent to exit; its exit status.
    async fn exited(&mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.0.try_wait().expect("agent status") {
                return status;
            }
            assert!(Instant::now() < deadline, "the agent did not exit");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

async fn create_agent(
    app: &TestApp,
    admin: &reqwest::Client,
    name: &str,
    pool: &str,
) -> (String, String) {
    let body = app
        .gql(admin, CREATE, json!({ "n": name, "p": pool }))
        .await;
    let created = &body["data"]["createAgent"];
    let token = created["token"]
        .as_str()
        .unwrap_or_else(|| panic!("createAgent failed: {body}"))
        .to_owned();
    assert_eq!(created["agent"]["status"], "OFFLINE", "{body}");
    (
        created["agent"]["id"].as_str().expect("id").to_owned(),
        token,
    )
}

async fn scan_until(
    app: &TestApp,
    client: &reqwest::Client,
    id: &str,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    app.gql_until(client, SCAN, json!({ "id": id }), what, |b| {
        done(&b["data"]["scan"])
    })
    .await["data"]["scan"]
        .clone()
}

fn agent_named(body: &Value, name: &str) -> Value {
    body["data"]["agents"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("agents failed: {body}"))
        .iter()
        .map(|e| e["node"].clone())
        .find(|a| a["name"] == name)
        .unwrap_or_else(|| panic!("no agent {name}: {body}"))
}

async fn agent_until(
    app: &TestApp,
    client: &reqwest::Client,
    name: &str,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let body = app
        .gql_until(client, AGENTS, json!({}), what, |b| {
            done(&agent_named(b, name))
        })
        .await;
    agent_named(&body, name)
}

/// Revokes the agent: REVOKED, the agent process exits with an error, and a new connection
/// with its token is `401 UNAUTHENTICATED`.
async fn revoke(
    app: &TestApp,
    admin: &reqwest::Client,
    agent_id: &str,
    token: &str,
    agent: &mut AgentProcess,
) {
    let body = app
        .gql(
            admin,
            "mutation($id:ID!){ revokeAgent(id:$id){ status } }",
            json!({ "id": agent_id }),
        )
        .await;
    assert_eq!(body["data"]["revokeAgent"]["status"], "REVOKED", "{body}");
    let status = agent.exited().await;
    assert!(
        !status.success(),
        "a revoked agent exits with an error: {status}"
    );
    let refused = reqwest::Client::new()
        .get(format!("{}/api/agent", app.base))
        .bearer_auth(token)
        .send()
        .await
        .expect("request");
    assert_eq!(refused.status(), 401);
    let body: Value = refused.json().await.expect("json");
    assert_eq!(error_code(&body), "UNAUTHENTICATED", "{body}");
}

fn pool_config(title: &str, pool: &str, target: SocketAddr, phases: &str) -> String {
    format!(
        "title: {title}\nsites:\n  - name: Segment\n    agent_pool: {pool}\n    ips:\n      - address: {}\n        expected:\n          tcp_ports: [{}]\nscan:\n  tcp_ports: \"{}\"\n  phases: [{phases}]\n",
        target.ip(),
        target.port(),
        target.port()
    )
}

async fn agent_scenario(backend: Backend) {
    let Some(mut app) = TestApp::spawn_with(backend, quick).await else {
        return;
    };
    let admin = app.admin().await;

    // Only an ADMIN creates agents; names are checked; the token is shown once.
    let operator = app.user_with_role("olga", "OPERATOR").await;
    let body = app
        .gql(&operator, CREATE, json!({ "n": "edge-1", "p": "lab" }))
        .await;
    assert_eq!(error_code(&body), "FORBIDDEN", "{body}");
    for (name, pool) in [("bad name", "lab"), ("edge-1", "no/slash"), ("", "lab")] {
        let body = app
            .gql(&admin, CREATE, json!({ "n": name, "p": pool }))
            .await;
        assert_eq!(error_code(&body), "VALIDATION", "{name:?} {pool:?}: {body}");
    }
    let (agent_id, token) = create_agent(&app, &admin, "edge-1", "lab").await;
    assert!(token.starts_with("ssa_"), "{token}");
    let body = app
        .gql(&admin, CREATE, json!({ "n": "edge-1", "p": "lab" }))
        .await;
    assert_eq!(error_code(&body), "CONFLICT", "{body}");
    let listed = app.gql(&admin, AGENTS, json!({})).await;
    assert!(
        !listed.to_string().contains(&token),
        "the token is never shown again"
    );

    // A scan of the pool waits for an agent of the pool.
    let block = listeners::loopback_block();
    let web = listeners::start(listeners::loopback(block, 10), Kind::Http).await;
    let config = app
        .create_config(
            &admin,
            &pool_config("Lab web", "lab", web.addr, "ping, tcp, service, http"),
        )
        .await;
    let first = app.start_config_scan(&admin, &config).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let waiting = scan_until(&app, &admin, &first, "queued", |s| s["status"] == "QUEUED").await;
    assert_eq!(waiting["pool"], "lab", "{waiting}");
    assert!(
        waiting["message"]
            .as_str()
            .unwrap_or_default()
            .contains("waiting for an agent of pool"),
        "{waiting}"
    );

    // The agent connects, runs it, and the results appear through the API.
    let agent_data = tempfile::tempdir().expect("agent data dir");
    let mut agent = AgentProcess::start(&app.base, &token, agent_data.path(), None);
    let done = scan_until(&app, &admin, &first, "the agent's scan", |s| {
        s["status"] == "COMPLETED"
    })
    .await;
    assert_eq!(done["worker"], "agent:edge-1", "{done}");
    assert_eq!(done["summary"]["hostsUp"], 1, "{done}");
    assert_eq!(done["summary"]["openPorts"], 1, "{done}");
    assert_eq!(done["hosts"]["totalCount"], 1, "{done}");

    // A scan of the pool over more addresses than a chunk runs as chunks, all on the agent,
    // merged into the one scan on the server.
    let set = app
        .gql(
            &admin,
            "mutation{ updateSettings(input:{chunkAddresses: 16}){ chunkAddresses } }",
            json!({}),
        )
        .await;
    assert!(set["errors"].is_null(), "{set}");
    let net = format!("127.{}.{}.0/27", block[0], block[1]);
    let chunked = app
        .create_config(
            &admin,
            &format!(
                "title: Lab net\nsites:\n  - name: Segment\n    agent_pool: lab\n    cidrs:\n      - cidr: {net}\nscan:\n  tcp_ports: \"{}\"\n  phases: [ping, tcp]\n",
                web.addr.port()
            ),
        )
        .await;
    let chunked = app.start_config_scan(&admin, &chunked).await;
    let merged = scan_until(&app, &admin, &chunked, "the agent's chunks", |s| {
        s["status"] == "COMPLETED"
    })
    .await;
    assert_eq!(
        merged["message"], "ran as 2 chunks on agent:edge-1",
        "{merged}"
    );
    assert_eq!(merged["summary"]["openPorts"], 1, "{merged}");
    assert_eq!(merged["summary"]["hostsUp"], 32, "{merged}");
    let set = app
        .gql(
            &admin,
            "mutation{ updateSettings(input:{chunkAddresses: 4096}){ chunkAddresses } }",
            json!({}),
        )
        .await;
    assert!(set["errors"].is_null(), "{set}");
    let online = agent_until(&app, &admin, "edge-1", "online", |a| {
        a["status"] == "ONLINE"
    })
    .await;
    assert_eq!(online["pool"], "lab");
    assert_eq!(online["worker"], "agent:edge-1");
    assert!(
        online["version"].as_str().is_some_and(|v| !v.is_empty()),
        "{online}"
    );
    assert_eq!(online["events"][0]["kind"], "AGENT_ONLINE", "{online}");

    // The agent survives a server restart in the middle of a scan (a silent service keeps
    // service detection busy): it reconnects, the server adopts its run (no take-over, no
    // second run), and a cancel still reaches it and stops its nmap.
    let silent = listeners::start(listeners::loopback(block, 11), Kind::Silent).await;
    let slow = app
        .create_config(
            &admin,
            &pool_config("Lab silent", "lab", silent.addr, "tcp, service"),
        )
        .await;
    let second = app.start_config_scan(&admin, &slow).await;
    scan_until(&app, &admin, &second, "the service phase", |s| {
        s["status"] == "RUNNING" && s["phase"] == "SERVICE"
    })
    .await;
    let agent_dir = agent_data.path().canonicalize().expect("agent dir");
    assert!(
        listeners::nmap_running_under(&agent_dir),
        "the agent runs nmap"
    );
    app.restart_in_place().await;
    let admin = app.admin().await;
    agent_until(&app, &admin, "edge-1", "reconnected", |a| {
        a["status"] == "ONLINE" && a["runningJobs"] == 1
    })
    .await;
    // Longer than two leases: an orphaned run would have been taken over by now.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let adopted = scan_until(&app, &admin, &second, "the adopted run", |s| {
        s["status"] == "RUNNING"
    })
    .await;
    assert_eq!(adopted["attempt"], 1, "adopted, not run again: {adopted}");
    assert_eq!(adopted["worker"], "agent:edge-1", "{adopted}");
    assert!(listeners::nmap_running_under(&agent_dir), "the run went on");
    let body = app
        .gql(
            &admin,
            "mutation($id:ID!){ cancelScan(id:$id){ status } }",
            json!({ "id": second }),
        )
        .await;
    assert_eq!(body["data"]["cancelScan"]["status"], "CANCELLED", "{body}");
    let deadline = Instant::now() + WAIT;
    while listeners::nmap_running_under(&agent_dir) {
        assert!(
            Instant::now() < deadline,
            "the agent's nmap still runs after the cancel"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // And it runs the next scan.
    let third = app.start_config_scan(&admin, &config).await;
    let done = scan_until(&app, &admin, &third, "a scan after the restart", |s| {
        s["status"] == "COMPLETED"
    })
    .await;
    assert_eq!(done["worker"], "agent:edge-1", "{done}");
    assert_eq!(done["summary"]["openPorts"], 1, "{done}");

    // Stopping the agent (SIGTERM) mid-scan: its run ends INTERRUPTED, saying so, with what it
    // found stored; the agent exits cleanly once the server has it. Started again, it is back.
    let fourth = app.start_config_scan(&admin, &slow).await;
    scan_until(&app, &admin, &fourth, "the service phase", |s| {
        s["status"] == "RUNNING" && s["phase"] == "SERVICE"
    })
    .await;
    agent.terminate();
    let stopped = scan_until(&app, &admin, &fourth, "the stopped run", |s| {
        s["status"] == "INTERRUPTED"
    })
    .await;
    assert!(
        stopped["errorMessage"]
            .as_str()
            .is_some_and(|m| m.contains("agent edge-1 shut down")),
        "{stopped}"
    );
    assert_eq!(
        stopped["summary"]["openPorts"], 1,
        "found so far: {stopped}"
    );
    assert!(
        agent.exited().await.success(),
        "a stopped agent exits cleanly"
    );
    assert!(!listeners::nmap_running_under(&agent_dir));
    let mut agent = AgentProcess::start(&app.base, &token, agent_data.path(), None);
    agent_until(&app, &admin, "edge-1", "back", |a| a["status"] == "ONLINE").await;

    // Revoked: disconnected, the agent exits with an error, its token is refused.
    revoke(&app, &admin, &agent_id, &token, &mut agent).await;
    let gone = agent_until(&app, &admin, "edge-1", "offline recorded", |a| {
        a["events"][0]["kind"] == "AGENT_OFFLINE"
    })
    .await;
    assert_eq!(gone["status"], "REVOKED", "{gone}");
    app.stop().await;
}

both_backends!(agent_scenario);

/// Two network namespaces of this test's own, linked to the host by veth pairs, with addresses
/// from 198.18.0.0/15 only: the agent's (`198.18.n.2`, reaching the server at `198.18.n.1`)
/// and a lab's (`198.19.n.2`, reachable from the agent's namespace only). The host gets an
/// `unreachable` route for the lab's network, so nothing towards it ever leaves the machine.
/// Everything is removed on drop, also when the test fails.
struct NetLab {
    agent_ns: String,
    lab_ns: String,
    host_if: String,
    lab_net: String,
    server_ip: Ipv4Addr,
    lab_ip: Ipv4Addr,
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("ip {}: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

impl NetLab {
    fn create() -> Result<Self, String> {
        let pid = std::process::id();
        let n = u8::try_from(20 + pid % 200).unwrap_or(20);
        let lab = Self {
            agent_ns: format!("ss-agent-{pid}"),
            lab_ns: format!("ss-lab-{pid}"),
            host_if: format!("ssh{pid}"),
            lab_net: format!("198.19.{n}.0/30"),
            server_ip: Ipv4Addr::new(198, 18, n, 1),
            lab_ip: Ipv4Addr::new(198, 19, n, 2),
        };
        lab.remove();
        let agent_if = format!("ssa{pid}");
        let agent_lab_if = format!("ssb{pid}");
        let lab_if = format!("ssc{pid}");
        let (a, l) = (lab.agent_ns.as_str(), lab.lab_ns.as_str());
        let server_cidr = format!("{}/30", lab.server_ip);
        let agent_cidr = format!("198.18.{n}.2/30");
        let agent_lab_cidr = format!("198.19.{n}.1/30");
        let lab_cidr = format!("{}/30", lab.lab_ip);
        let steps: Vec<Vec<&str>> = vec![
            vec!["netns", "add", a],
            vec!["netns", "add", l],
            vec!["route", "add", "unreachable", &lab.lab_net],
            vec![
                "link",
                "add",
                &lab.host_if,
                "type",
                "veth",
                "peer",
                "name",
                &agent_if,
                "netns",
                a,
            ],
            vec!["addr", "add", &server_cidr, "dev", &lab.host_if],
            vec!["link", "set", &lab.host_if, "up"],
            vec!["-n", a, "link", "set", "lo", "up"],
            vec!["-n", a, "addr", "add", &agent_cidr, "dev", &agent_if],
            vec!["-n", a, "link", "set", &agent_if, "up"],
            vec![
                "-n",
                a,
                "link",
                "add",
                &agent_lab_if,
                "type",
                "veth",
                "peer",
                "name",
                &lab_if,
                "netns",
                l,
            ],
            vec![
                "-n",
                a,
                "addr",
                "add",
                &agent_lab_cidr,
                "dev",
                &agent_lab_if,
            ],
            vec!["-n", a, "link", "set", &agent_lab_if, "up"],
            vec!["-n", l, "link", "set", "lo", "up"],
            vec!["-n", l, "addr", "add", &lab_cidr, "dev", &lab_if],
            vec!["-n", l, "link", "set", &lab_if, "up"],
        ];
        for step in steps {
            ip(&step)?;
        }
        Ok(lab)
    }

    fn remove(&self) {
        let _ = ip(&["route", "del", "unreachable", &self.lab_net]);
        let _ = ip(&["link", "del", &self.host_if]);
        let _ = ip(&["netns", "del", &self.agent_ns]);
        let _ = ip(&["netns", "del", &self.lab_ns]);
    }

    /// A TCP listener bound inside the lab namespace (the socket stays there whichever thread
    /// uses it): a thread enters the namespace, binds, and hands the socket back.
    fn listen_in_lab(&self, port: u16) -> std::net::TcpListener {
        let ns = format!("/var/run/netns/{}", self.lab_ns);
        let addr = SocketAddr::new(IpAddr::V4(self.lab_ip), port);
        std::thread::spawn(move || {
            let file = std::fs::File::open(&ns).expect("open the lab namespace");
            nix::sched::setns(file, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
            std::net::TcpListener::bind(addr).expect("bind in the lab")
        })
        .join()
        .expect("lab listener thread")
    }
}

impl Drop for NetLab {
    fn drop(&mut self) {
        self.remove();
    }
}

/// A minimal web server on a listener of the lab.
fn serve_lab_web(listener: std::net::TcpListener) {
    listener.set_nonblocking(true).expect("nonblocking");
    let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 1024];
                let _ = tokio::time::timeout(Duration::from_secs(2), stream.read(&mut buf)).await;
                let _ = stream
                    .write_all(
                        b"HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n<title>lab</title>",
                    )
                    .await;
            });
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_in_its_own_namespace_scans_a_lab_host_the_server_cannot_reach() {
    if !nix::unistd::geteuid().is_root() || Command::new("ip").arg("-V").output().is_err() {
        eprintln!("network namespaces need root and iproute2: skipped");
        return;
    }
    let lab = NetLab::create().unwrap_or_else(|e| panic!("setting up the namespaces: {e}"));
    let port = 8080;
    serve_lab_web(lab.listen_in_lab(port));
    let lab_host = SocketAddr::new(IpAddr::V4(lab.lab_ip), port);
    // The server's host has no way to the lab.
    assert!(
        tokio::time::timeout(
            Duration::from_secs(2),
            tokio::net::TcpStream::connect(lab_host)
        )
        .await
        .map_or(true, |r| r.is_err()),
        "the server must not reach the lab host"
    );
    let bind = SocketAddr::new(IpAddr::V4(lab.server_ip), 0);
    let mut app = TestApp::spawn_on(Backend::Sqlite, bind, quick)
        .await
        .expect("SQLite is always available");
    let admin = app.admin().await;
    let body = app
        .gql(
            &admin,
            "mutation($a:[String!]!){ updateSettings(input:{allowedCidrs:$a}){ allowedCidrs } }",
            json!({ "a": ["127.0.0.0/8", lab.lab_net] }),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    let (agent_id, token) = create_agent(&app, &admin, "segment-b-1", "segment-b").await;
    let agent_data = tempfile::tempdir().expect("agent data dir");
    let mut agent = AgentProcess::start(&app.base, &token, agent_data.path(), Some(&lab.agent_ns));
    let config = app
        .create_config(
            &admin,
            &pool_config("Segment B", "segment-b", lab_host, "ping, tcp"),
        )
        .await;
    let scan = app.start_config_scan(&admin, &config).await;
    let done = scan_until(&app, &admin, &scan, "the lab scan", |s| {
        matches!(
            s["status"].as_str(),
            Some("COMPLETED" | "FAILED" | "INTERRUPTED")
        )
    })
    .await;
    assert_eq!(done["status"], "COMPLETED", "{done}");
    assert_eq!(done["worker"], "agent:segment-b-1", "{done}");
    assert_eq!(done["summary"]["hostsUp"], 1, "{done}");
    assert_eq!(done["summary"]["openPorts"], 1, "{done}");
    let body = app
        .gql(
            &admin,
            "query($id:ID!){ scan(id:$id){ hosts(first: 5) { edges { node { address ports { port state } } } } } }",
            json!({ "id": scan }),
        )
        .await;
    let host = &body["data"]["scan"]["hosts"]["edges"][0]["node"];
    assert_eq!(host["address"], lab.lab_ip.to_string(), "{body}");
    assert_eq!(host["ports"][0]["port"], port, "{body}");
    assert_eq!(host["ports"][0]["state"], "OPEN", "{body}");

    // The agent survives a server restart: it dials back in and scans the lab again.
    app.restart_in_place().await;
    let admin = app.admin().await;
    let again = app.start_config_scan(&admin, &config).await;
    let done = scan_until(&app, &admin, &again, "the lab scan after a restart", |s| {
        s["status"] == "COMPLETED"
    })
    .await;
    assert_eq!(done["summary"]["openPorts"], 1, "{done}");

    // Revoked: the agent is cut off and its token refused.
    revoke(&app, &admin, &agent_id, &token, &mut agent).await;
    app.stop().await;
}

/// A private CA and a certificate it signed for `localhost`: the CA's PEM and a TLS acceptor
/// presenting the certificate.
fn private_ca_for_localhost() -> (String, tokio_rustls::TlsAcceptor) {
    use tokio_rustls::rustls;
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "SneakyScanner test CA");
    ca.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
    ];
    let ca_key = rcgen::KeyPair::generate().expect("key");
    let ca_cert = ca.self_signed(&ca_key).expect("CA certificate");
    let issuer = rcgen::Issuer::new(ca, ca_key);
    let leaf = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).expect("params");
    let leaf_key = rcgen::KeyPair::generate().expect("key");
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer).expect("certificate");
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf_cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
        )
        .expect("server config");
    (
        ca_cert.pem(),
        tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config)),
    )
}

/// A TLS-terminating proxy on a free loopback port in front of `upstream` (what a reverse
/// proxy does in front of the server); its port.
async fn tls_proxy(acceptor: tokio_rustls::TlsAcceptor, upstream: SocketAddr) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                if let Ok(mut up) = tokio::net::TcpStream::connect(upstream).await {
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut up).await;
                }
            });
        }
    });
    port
}

/// The agent dials an `https://` server whose certificate a private CA signed: refused (and
/// offline) without the CA, connected and scanning with `--ca-cert`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_dials_an_https_server_whose_certificate_a_private_ca_signed() {
    let app = TestApp::spawn_with(Backend::Sqlite, quick)
        .await
        .expect("SQLite");
    let admin = app.admin().await;
    let (_, token) = create_agent(&app, &admin, "tls-1", "tls").await;
    let (ca_pem, acceptor) = private_ca_for_localhost();
    let port = tls_proxy(acceptor, app.addr).await;
    let server = format!("https://localhost:{port}");
    let dir = tempfile::tempdir().expect("temp dir");
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca_pem).expect("write the CA");

    // The public roots alone do not trust it: the agent keeps trying, offline.
    let untrusting = AgentProcess::start(&server, &token, &dir.path().join("a"), None);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let listed = app.gql(&admin, AGENTS, json!({})).await;
    assert_eq!(
        agent_named(&listed, "tls-1")["status"],
        "OFFLINE",
        "{listed}"
    );
    drop(untrusting);

    let _agent = AgentProcess::start_with(
        &server,
        &token,
        &dir.path().join("b"),
        &["--ca-cert", &ca_file.display().to_string()],
    );
    agent_until(&app, &admin, "tls-1", "online over TLS", |a| {
        a["status"] == "ONLINE"
    })
    .await;
    let web = listeners::start(
        listeners::loopback(listeners::loopback_block(), 3),
        Kind::Banner,
    )
    .await;
    let config = app
        .create_config(
            &admin,
            &pool_config("Over TLS", "tls", web.addr, "ping, tcp"),
        )
        .await;
    let id = app.start_config_scan(&admin, &config).await;
    let done = scan_until(&app, &admin, &id, "the agent's scan over TLS", |s| {
        s["status"] == "COMPLETED"
    })
    .await;
    assert_eq!(done["worker"], "agent:tls-1", "{done}");
    assert_eq!(done["summary"]["openPorts"], 1, "{done}");
    app.stop().await;
}
