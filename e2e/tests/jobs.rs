//! Scans as jobs, in one process, on SQLite and PostgreSQL: a QUEUED scan whose job was never
//! pushed is pushed by the sweep and runs; a job pushed again runs nothing more; a RUNNING scan
//! whose lease lapsed (its worker died) is taken over and run again; a run whose lease was
//! taken stops its nmap and writes nothing. (Processes on PostgreSQL: `replicas.rs`; kill -9
//! of the real binary on SQLite: `server/tests/crash.rs`.)

use std::time::{Duration, Instant};

use chrono::Utc;
use e2e::listeners::{self, Kind};
use e2e::{Backend, TestApp, WAIT, both_backends};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use server::domain::auth::Actor;
use server::jobs::queue::JobQueue;
use server::service::scans::{self, StartRequest};

const SCAN: &str = "query($id:ID!){ scan(id:$id){ status phase attempt worker message \
                    summary { hostsUp openPorts } hosts(first: 10) { totalCount } } }";

/// Short leases, quick polls: what these tests wait for happens within seconds.
async fn spawn(backend: Backend) -> Option<TestApp> {
    TestApp::spawn_with(backend, |s| {
        s.jobs.heartbeat_secs = 1;
        s.jobs.missed_heartbeats = 2;
        s.jobs.poll_ms = 200;
        s.graphql.answer_cache_mib = 0;
    })
    .await
}

/// The server, its admin and a listener of `kind` on an address of the test's own.
async fn set_up(
    backend: Backend,
    kind: Kind,
) -> Option<(TestApp, reqwest::Client, listeners::Listener)> {
    let app = spawn(backend).await?;
    let admin = app.admin().await;
    let listener =
        listeners::start(listeners::loopback(listeners::loopback_block(), 1), kind).await;
    Some((app, admin, listener))
}

async fn scan_until(
    app: &TestApp,
    client: &reqwest::Client,
    id: i32,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    app.gql_until(client, SCAN, json!({ "id": id.to_string() }), what, |b| {
        done(&b["data"]["scan"])
    })
    .await["data"]["scan"]
        .clone()
}

/// A scan of one listener stored QUEUED through the service, its job not pushed.
async fn queued_without_job(app: &TestApp, target: std::net::SocketAddr) -> i32 {
    let db = app.db().await;
    let row = scans::start(
        &db,
        &Actor::system(),
        StartRequest {
            targets: Some(vec![target.ip().to_string()]),
            ports: Some(target.port().to_string()),
            ..Default::default()
        },
    )
    .await
    .expect("scan stored");
    row.scan.id
}

async fn a_queued_scan_without_a_job_is_pushed_by_the_sweep_and_runs_once(backend: Backend) {
    let Some((app, admin, banner)) = set_up(backend, Kind::Banner).await else {
        return;
    };
    let id = queued_without_job(&app, banner.addr).await;
    // As if its process died between storing it and pushing its job, a minute ago.
    let db = app.db().await;
    entity::scan::Entity::update_many()
        .col_expr(
            entity::scan::Column::CreatedAt,
            Expr::value(Utc::now() - chrono::TimeDelta::minutes(1)),
        )
        .filter(entity::scan::Column::Id.eq(id))
        .exec(&db)
        .await
        .expect("backdate");
    let done = scan_until(&app, &admin, id, "the swept scan to complete", |s| {
        s["status"] == "COMPLETED"
    })
    .await;
    assert_eq!(done["attempt"], 1, "{done}");
    assert_eq!(done["summary"]["openPorts"], 1, "{done}");

    // Its job pushed twice more: a job whose scan has ended does nothing.
    let queue = JobQueue::new(&db, &app.settings.jobs, server::jobs::queue::QUEUE);
    queue.push(id, 3).await.expect("push");
    queue.push(id, 3).await.expect("push");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let again = scan_until(&app, &admin, id, "the scan", |_| true).await;
    assert_eq!(again["status"], "COMPLETED", "{again}");
    assert_eq!(again["attempt"], 1, "ran once: {again}");
    assert_eq!(again["hosts"]["totalCount"], 1, "stored once: {again}");
    app.stop().await;
}
both_backends!(a_queued_scan_without_a_job_is_pushed_by_the_sweep_and_runs_once);

async fn a_scan_whose_lease_lapsed_is_taken_over_and_run_again(backend: Backend) {
    let Some((app, admin, banner)) = set_up(backend, Kind::Banner).await else {
        return;
    };
    let id = queued_without_job(&app, banner.addr).await;
    // RUNNING on a worker that died: run 1, its lease lapsed a second ago.
    let db = app.db().await;
    entity::scan::Entity::update_many()
        .col_expr(entity::scan::Column::Status, Expr::value("RUNNING"))
        .col_expr(
            entity::scan::Column::Phase,
            Expr::value(server::domain::status::ScanPhase::Tcp.as_str()),
        )
        .col_expr(
            entity::scan::Column::Worker,
            Expr::value("gone-4242-abcdef"),
        )
        .col_expr(entity::scan::Column::Lease, Expr::value("lost-lease"))
        .col_expr(entity::scan::Column::Attempt, Expr::value(1))
        .col_expr(
            entity::scan::Column::LeaseUntil,
            Expr::value(Utc::now() - chrono::TimeDelta::seconds(1)),
        )
        .col_expr(entity::scan::Column::JobPushedAt, Expr::value(Utc::now()))
        .filter(entity::scan::Column::Id.eq(id))
        .exec(&db)
        .await
        .expect("as if running elsewhere");
    // The job engine re-queues the dead worker's job: here, the job pushed again.
    JobQueue::new(&db, &app.settings.jobs, server::jobs::queue::QUEUE)
        .push(id, 3)
        .await
        .expect("push");
    let done = scan_until(
        &app,
        &admin,
        id,
        "the scan to be taken over and completed",
        |s| s["status"] == "COMPLETED",
    )
    .await;
    assert_eq!(done["attempt"], 2, "{done}");
    assert_ne!(done["worker"], "gone-4242-abcdef", "{done}");
    assert_eq!(done["summary"]["openPorts"], 1, "{done}");
    assert_eq!(done["hosts"]["totalCount"], 1, "{done}");
    app.stop().await;
}
both_backends!(a_scan_whose_lease_lapsed_is_taken_over_and_run_again);

async fn a_run_that_lost_its_lease_stops_and_writes_nothing(backend: Backend) {
    let Some((app, admin, silent)) = set_up(backend, Kind::Silent).await else {
        return;
    };
    let body = app
        .gql(
            &admin,
            "mutation($t:[String!]!,$p:String){ startScan(input:{targets:$t, ports:$p}){ id } }",
            json!({ "t": [silent.addr.ip().to_string()], "p": silent.addr.port().to_string() }),
        )
        .await;
    let id: i32 = body["data"]["startScan"]["id"]
        .as_str()
        .expect("id")
        .parse()
        .expect("number");
    scan_until(&app, &admin, id, "nmap in the service phase", |s| {
        s["phase"] == "SERVICE"
    })
    .await;
    let dir = app.data_dir.path().join("scans").join(id.to_string());
    assert!(listeners::nmap_running_under(&dir), "nmap runs");
    // Another worker took the scan (a lease of its own, valid for an hour).
    let db = app.db().await;
    entity::scan::Entity::update_many()
        .col_expr(entity::scan::Column::Lease, Expr::value("someone-else"))
        .col_expr(entity::scan::Column::Worker, Expr::value("other-1-abcdef"))
        .col_expr(entity::scan::Column::Message, Expr::value("taken"))
        .col_expr(
            entity::scan::Column::LeaseUntil,
            Expr::value(Utc::now() + chrono::TimeDelta::hours(1)),
        )
        .filter(entity::scan::Column::Id.eq(id))
        .exec(&db)
        .await
        .expect("take the lease");
    let deadline = Instant::now() + WAIT;
    while listeners::nmap_running_under(&dir) {
        assert!(Instant::now() < deadline, "the run kept its nmap");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Nothing written by the lost run: still the other worker's, no results, no status.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let scan = scan_until(&app, &admin, id, "the scan", |_| true).await;
    assert_eq!(scan["status"], "RUNNING", "{scan}");
    assert_eq!(scan["worker"], "other-1-abcdef", "{scan}");
    assert_eq!(scan["message"], "taken", "{scan}");
    assert_eq!(scan["hosts"]["totalCount"], 0, "{scan}");
    // Ends when "the other worker" is cancelled with it gone: the cancel ends it here.
    entity::scan::Entity::update_many()
        .col_expr(
            entity::scan::Column::LeaseUntil,
            Expr::value(Utc::now() - chrono::TimeDelta::seconds(1)),
        )
        .filter(entity::scan::Column::Id.eq(id))
        .exec(&db)
        .await
        .expect("lapse");
    let cancelled = app
        .gql(
            &admin,
            "mutation($id:ID!){ cancelScan(id:$id){ status } }",
            json!({ "id": id.to_string() }),
        )
        .await;
    assert_eq!(
        cancelled["data"]["cancelScan"]["status"], "CANCELLED",
        "{cancelled}"
    );
    app.stop().await;
}
both_backends!(a_run_that_lost_its_lease_stops_and_writes_nothing);

const WORKERS: &str =
    "{ workers { name host pid version startedAt lastSeen stoppedAt online runningScans } }";

async fn workers_are_listed_online_and_stopped(backend: Backend) {
    let Some(mut app) = spawn(backend).await else {
        return;
    };
    let admin = app.admin().await;
    let body = app.gql(&admin, WORKERS, json!({})).await;
    let list = body["data"]["workers"].as_array().expect("workers").clone();
    assert_eq!(list.len(), 1, "{body}");
    let first = &list[0];
    assert_eq!(first["online"], true, "{body}");
    assert_eq!(first["runningScans"], 0, "{body}");
    assert_eq!(
        first["pid"],
        std::process::id(),
        "the server runs in this process"
    );
    assert_eq!(first["version"], env!("CARGO_PKG_VERSION"));
    assert!(first["stoppedAt"].is_null());
    // Restarted: a new worker; the old one stopped gracefully.
    app.restart().await;
    let viewer = app.user_with_role("watcher", "VIEWER").await;
    let body = app.gql(&viewer, WORKERS, json!({})).await;
    let list = body["data"]["workers"].as_array().expect("workers").clone();
    assert_eq!(list.len(), 2, "{body}");
    assert_eq!(list[0]["online"], true, "online first: {body}");
    assert_ne!(list[0]["name"], first["name"]);
    assert_eq!(list[1]["name"], first["name"]);
    assert_eq!(list[1]["online"], false);
    assert!(list[1]["stoppedAt"].is_string(), "{body}");
    // Signed out: nothing.
    let anonymous = app.client();
    let body = app.gql(&anonymous, WORKERS, json!({})).await;
    assert_eq!(e2e::error_code(&body), "UNAUTHENTICATED", "{body}");
    app.stop().await;
}
both_backends!(workers_are_listed_online_and_stopped);
