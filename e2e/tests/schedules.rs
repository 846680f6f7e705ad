//! Schedules (issue 14) end to end, on the real clock: an every-minute schedule fires and its
//! scan runs, linked both ways; bad input is VALIDATION naming the field and creates nothing;
//! a server down across a firing catches up once (RUN_ONCE) or records MISSED (SKIP); FORBID
//! skips a firing while the schedule's scan still runs and REPLACE cancels it; a deleted config
//! disables its schedule with a reason; two replicas on PostgreSQL fire exactly one scan per
//! minute. Waits are bounded by the minute they wait for.

use std::time::Duration;

use chrono::{DateTime, Timelike, Utc};
use e2e::listeners::{self, Kind};
use e2e::{Backend, TestApp, TestDatabase, error_code, processes};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};

/// Longer than a minute and a scan.
const MINUTE_WAIT: Duration = Duration::from_secs(150);

const SCHEDULE: &str = "id name enabled disabledReason description cron timezone overlapPolicy \
    misfirePolicy nextRunAt lastOutcome config { id } \
    runs(first: 20) { totalCount edges { node { scheduledFor outcome reason \
    scan { id status triggeredBy schedule { id } } } } }";

/// Waits, if needed, until the current minute has at least 20 s left: what a test creates
/// before the next minute boundary is then done before it.
async fn away_from_a_minute_boundary() {
    let second = Utc::now().second();
    if second > 40 {
        tokio::time::sleep(Duration::from_secs(u64::from(62 - second))).await;
    }
}

fn time(v: &Value) -> DateTime<Utc> {
    v.as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| panic!("not a time: {v}"))
}

async fn create(app: &TestApp, client: &reqwest::Client, input: Value) -> Value {
    app.gql(
        client,
        &format!("mutation($i:ScheduleInput!){{ createSchedule(input:$i){{ {SCHEDULE} }} }}"),
        json!({ "i": input }),
    )
    .await
}

async fn schedule(app: &TestApp, client: &reqwest::Client, id: &str) -> Value {
    let body = app
        .gql(
            client,
            &format!("query($id:ID!){{ schedule(id:$id){{ {SCHEDULE} }} }}"),
            json!({ "id": id }),
        )
        .await;
    body["data"]["schedule"].clone()
}

/// Polls schedule `id` until `done` accepts it (bounded by [`MINUTE_WAIT`]).
async fn schedule_until(
    app: &TestApp,
    client: &reqwest::Client,
    id: &str,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = std::time::Instant::now() + MINUTE_WAIT;
    loop {
        let s = schedule(app, client, id).await;
        if done(&s) {
            return s;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}: {s}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn runs(s: &Value) -> Vec<Value> {
    s["runs"]["edges"]
        .as_array()
        .map(|e| e.iter().map(|e| e["node"].clone()).collect())
        .unwrap_or_default()
}

fn tcp_config(ip: std::net::IpAddr, port: u16, title: &str, pool: Option<&str>) -> String {
    let pool = pool
        .map(|p| format!("    agent_pool: {p}\n"))
        .unwrap_or_default();
    format!(
        "title: {title}\nsites:\n  - name: Lab\n{pool}    ips:\n      - address: {ip}\n        expected: {{ ping: true, tcp_ports: [{port}] }}\nscan:\n  tcp_ports: \"{port}\"\n  phases: [tcp]\n"
    )
}

async fn an_every_minute_schedule_fires_and_its_scan_runs(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |_| {}).await else {
        return;
    };
    let admin = app.admin().await;
    let ip = listeners::loopback(listeners::loopback_block(), 1);
    let http = listeners::start(ip, Kind::Http).await;
    let config = app
        .create_config(&admin, &tcp_config(ip, http.addr.port(), "Scheduled", None))
        .await;

    // Bad input: VALIDATION naming the field, nothing created.
    for (input, field) in [
        (
            json!({ "name": "x", "configId": config, "cron": "61 * * * *" }),
            "cron:",
        ),
        (
            json!({ "name": "x", "configId": config, "cron": "*/10 * * * * *" }),
            "cron:",
        ),
        (
            json!({ "name": "x", "configId": config, "cron": "0 0 30 2 *" }),
            "cron:",
        ),
        (
            json!({ "name": "x", "configId": config, "cron": "* * * * *", "timezone": "Mars/Olympus" }),
            "timezone:",
        ),
        (
            json!({ "name": "x", "configId": "9999", "cron": "* * * * *" }),
            "configId:",
        ),
        (
            json!({ "name": " ", "configId": config, "cron": "* * * * *" }),
            "name:",
        ),
        (
            json!({ "name": "x", "configId": config, "cron": "* * * * *", "startingDeadlineSeconds": 5 }),
            "startingDeadlineSeconds:",
        ),
    ] {
        let body = create(&app, &admin, input.clone()).await;
        assert_eq!(error_code(&body), "VALIDATION", "{input}: {body}");
        let message = body["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(message.starts_with(field), "{input}: {message}");
    }
    let count = app
        .gql(&admin, "{ schedules { totalCount } }", json!({}))
        .await;
    assert_eq!(count["data"]["schedules"]["totalCount"], 0, "{count}");

    // The editor's preview.
    let preview = app
        .gql(
            &admin,
            "{ previewSchedule(cron:\"30 2 * * *\", timezone:\"Europe/Berlin\", count:3) \
             describeSchedule(cron:\"30 2 * * *\", timezone:\"Europe/Berlin\") }",
            json!({}),
        )
        .await;
    assert_eq!(
        preview["data"]["describeSchedule"], "At 02:30, Europe/Berlin",
        "{preview}"
    );
    let days: Vec<DateTime<Utc>> = preview["data"]["previewSchedule"]
        .as_array()
        .map(|a| a.iter().map(time).collect())
        .unwrap_or_default();
    assert_eq!(days.len(), 3, "{preview}");

    // A viewer reads schedules but cannot make one.
    let viewer = app.user_with_role("watcher", "VIEWER").await;
    let body = create(
        &app,
        &viewer,
        json!({ "name": "nope", "configId": config, "cron": "* * * * *" }),
    )
    .await;
    assert_eq!(error_code(&body), "FORBIDDEN", "{body}");

    away_from_a_minute_boundary().await;
    let body = create(
        &app,
        &admin,
        json!({ "name": "every minute", "configId": config, "cron": "* * * * *" }),
    )
    .await;
    let created = body["data"]["createSchedule"].clone();
    let id = created["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned();
    assert_eq!(created["overlapPolicy"], "FORBID");
    assert_eq!(created["misfirePolicy"], "SKIP");
    assert_eq!(created["timezone"], "UTC");
    assert!(
        created["description"]
            .as_str()
            .is_some_and(|d| d == "Every minute, UTC"),
        "{created}"
    );
    let first = time(&created["nextRunAt"]);
    assert_eq!(first.second(), 0);
    assert!(first > Utc::now() - chrono::Duration::seconds(1));
    let next = app
        .gql(
            &viewer,
            "query($id:ID!){ schedule(id:$id){ nextRuns(count:3) } }",
            json!({ "id": id }),
        )
        .await;
    let next: Vec<DateTime<Utc>> = next["data"]["schedule"]["nextRuns"]
        .as_array()
        .map(|a| a.iter().map(time).collect())
        .unwrap_or_default();
    assert_eq!(next.len(), 3);
    assert_eq!(next[0], first);
    assert_eq!((next[1] - next[0]).num_seconds(), 60);

    // It fires at `first`; the scan runs to its end and says who started it.
    let fired = schedule_until(&app, &admin, &id, "the first firing's scan", |s| {
        runs(s).iter().any(|r| r["scan"]["status"] == "COMPLETED")
    })
    .await;
    let list = runs(&fired);
    let run = &list[list.len() - 1];
    assert_eq!(time(&run["scheduledFor"]), first, "{fired}");
    assert_eq!(run["outcome"], "STARTED");
    assert_eq!(run["scan"]["triggeredBy"], "schedule:every minute");
    assert_eq!(run["scan"]["schedule"]["id"], id.as_str());
    assert_eq!(fired["lastOutcome"], "STARTED");
    let times: Vec<DateTime<Utc>> = list.iter().map(|r| time(&r["scheduledFor"])).collect();
    let mut unique = times.clone();
    unique.dedup();
    assert_eq!(times, unique, "one run per scheduled time: {fired}");

    // Pause: no next run; everything audited.
    let paused = app
        .gql(
            &admin,
            "mutation($id:ID!){ pauseSchedule(id:$id){ enabled nextRunAt } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(
        paused["data"]["pauseSchedule"]["enabled"], false,
        "{paused}"
    );
    assert!(paused["data"]["pauseSchedule"]["nextRunAt"].is_null());
    let db = app.db().await;
    let audited = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT count(*) FROM audit_log WHERE action IN ('schedule.create', 'schedule.update')",
        ))
        .await
        .expect("audit")
        .and_then(|r| r.try_get_by_index::<i64>(0).ok());
    assert_eq!(audited, Some(2));

    // Deleting its config disables it with a reason; resuming then says why it cannot.
    let deleted = app
        .gql(
            &admin,
            "mutation($id:ID!){ deleteScanConfig(id:$id) }",
            json!({ "id": config }),
        )
        .await;
    assert!(deleted["errors"].is_null(), "{deleted}");
    let s = schedule(&app, &admin, &id).await;
    assert_eq!(s["enabled"], false);
    assert!(s["config"].is_null());
    assert!(
        s["disabledReason"]
            .as_str()
            .is_some_and(|r| r.contains("Scheduled") && r.contains("deleted")),
        "{s}"
    );
    let resumed = app
        .gql(
            &admin,
            "mutation($id:ID!){ resumeSchedule(id:$id){ enabled } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(error_code(&resumed), "VALIDATION", "{resumed}");
    app.stop().await;
}

/// The tests that wait for a minute boundary run at once: together they take about a minute
/// and a half of a test slot instead of four times that.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedules_on_the_real_clock() {
    tokio::join!(
        an_every_minute_schedule_fires_and_its_scan_runs(Backend::Sqlite),
        an_every_minute_schedule_fires_and_its_scan_runs(Backend::Postgres),
        a_server_down_across_a_firing_catches_up_once_or_records_missed(),
        forbid_skips_a_firing_while_its_scan_runs_and_replace_cancels_it(),
    );
}

async fn a_server_down_across_a_firing_catches_up_once_or_records_missed() {
    let mut app = TestApp::spawn().await;
    let admin = app.admin().await;
    let ip = listeners::loopback(listeners::loopback_block(), 1);
    let http = listeners::start(ip, Kind::Http).await;
    let config = app
        .create_config(&admin, &tcp_config(ip, http.addr.port(), "Downtime", None))
        .await;
    away_from_a_minute_boundary().await;
    let once = create(
        &app,
        &admin,
        json!({ "name": "catch up", "configId": config, "cron": "* * * * *", "misfirePolicy": "RUN_ONCE" }),
    )
    .await;
    let skip = create(
        &app,
        &admin,
        json!({ "name": "skip", "configId": config, "cron": "* * * * *", "misfirePolicy": "SKIP" }),
    )
    .await;
    let once_id = once["data"]["createSchedule"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{once}"))
        .to_owned();
    let skip_id = skip["data"]["createSchedule"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{skip}"))
        .to_owned();
    let due = time(&once["data"]["createSchedule"]["nextRunAt"]);
    // A rule on missed firings (issue 16): the miss raises an alert for the schedule.
    let rule = app
        .gql(
            &admin,
            "mutation { createAlertRule(input: { name: \"missed\", events: [SCHEDULE_MISSED] }) { id } }",
            json!({}),
        )
        .await;
    assert!(rule["errors"].is_null(), "{rule}");

    // Down from before `due` until 20 s after it (later than a firing can be on time).
    let back = due + chrono::Duration::seconds(20) - Utc::now();
    app.restart_after(tokio::time::Instant::now() + back.to_std().unwrap_or_default())
        .await;
    let admin = app.admin().await;

    let caught = schedule_until(&app, &admin, &once_id, "the catch-up run", |s| {
        runs(s).iter().any(|r| r["scan"]["status"] == "COMPLETED")
    })
    .await;
    let at_due: Vec<Value> = runs(&caught)
        .into_iter()
        .filter(|r| time(&r["scheduledFor"]) == due)
        .collect();
    assert_eq!(at_due.len(), 1, "{caught}");
    assert_eq!(at_due[0]["outcome"], "STARTED");
    assert!(
        at_due[0]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("catch-up")),
        "{caught}"
    );

    let skipped = schedule_until(&app, &admin, &skip_id, "the missed run", |s| {
        runs(s).iter().any(|r| time(&r["scheduledFor"]) == due)
    })
    .await;
    let at_due: Vec<Value> = runs(&skipped)
        .into_iter()
        .filter(|r| time(&r["scheduledFor"]) == due)
        .collect();
    assert_eq!(at_due.len(), 1, "{skipped}");
    assert_eq!(at_due[0]["outcome"], "MISSED", "{skipped}");
    assert!(at_due[0]["scan"].is_null());

    // The miss is a change event (alert rules can notify on it).
    let events = app
        .gql(
            &admin,
            "{ changes(kinds:[SCHEDULE_MISSED]) { edges { node { kind severity summary } } } }",
            json!({}),
        )
        .await;
    let list = events["data"]["changes"]["edges"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(list.len(), 1, "{events}");
    assert!(
        list[0]["node"]["summary"]
            .as_str()
            .is_some_and(|s| s.contains("\"skip\"")),
        "{events}"
    );
    let alerts = app
        .gql(
            &admin,
            "{ alerts(first: 10) { edges { node { kind subject status eventCount rule { name } } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        alerts["data"]["alerts"]["edges"],
        json!([{ "node": { "kind": "SCHEDULE_MISSED", "subject": format!("schedule:{skip_id}"),
            "status": "OPEN", "eventCount": 1, "rule": { "name": "missed" } } }]),
        "{alerts}"
    );
    app.stop().await;
}

async fn forbid_skips_a_firing_while_its_scan_runs_and_replace_cancels_it() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let ip = listeners::loopback(listeners::loopback_block(), 1);
    let http = listeners::start(ip, Kind::Http).await;
    // Its site names an agent pool with no agent: a started scan stays QUEUED (still running,
    // as far as the overlap policy is concerned) for as long as the test needs.
    let config = app
        .create_config(
            &admin,
            &tcp_config(ip, http.addr.port(), "Slow", Some("nobody-here")),
        )
        .await;
    // Created to fire once a year, run now, and only then set to fire every minute: the first
    // firing always comes after the run-now scan, however slow the machine.
    let policies = [("forbid", "FORBID"), ("replace", "REPLACE")];
    let mut ids = Vec::new();
    for (name, overlap) in policies {
        let body = create(
            &app,
            &admin,
            json!({ "name": name, "configId": config, "cron": "0 0 1 1 *", "overlapPolicy": overlap }),
        )
        .await;
        ids.push(
            body["data"]["createSchedule"]["id"]
                .as_str()
                .unwrap_or_else(|| panic!("{body}"))
                .to_owned(),
        );
    }
    let mut first_scans = Vec::new();
    for id in &ids {
        let body = app
            .gql(
                &admin,
                "mutation($id:ID!){ runScheduleNow(id:$id){ id status triggeredBy } }",
                json!({ "id": id }),
            )
            .await;
        let scan = &body["data"]["runScheduleNow"];
        assert_eq!(scan["status"], "QUEUED", "{body}");
        first_scans.push(scan["id"].as_str().unwrap_or_default().to_owned());
    }
    for (id, (name, overlap)) in ids.iter().zip(policies) {
        let body = app
            .gql(
                &admin,
                "mutation($id:ID!,$i:ScheduleInput!){ updateSchedule(id:$id,input:$i){ cron } }",
                json!({ "id": id, "i": { "name": name, "configId": config, "cron": "* * * * *", "overlapPolicy": overlap } }),
            )
            .await;
        assert_eq!(
            body["data"]["updateSchedule"]["cron"], "* * * * *",
            "{body}"
        );
    }

    let forbid = schedule_until(&app, &admin, &ids[0], "the overlapping firing", |s| {
        runs(s).len() >= 2
    })
    .await;
    let skipped = &runs(&forbid)[0];
    assert_eq!(skipped["outcome"], "SKIPPED_OVERLAP", "{forbid}");
    assert!(
        skipped["reason"]
            .as_str()
            .is_some_and(|r| r.contains(&format!("#{}", first_scans[0]))),
        "{forbid}"
    );
    assert!(skipped["scan"].is_null());
    assert_eq!(forbid["lastOutcome"], "SKIPPED_OVERLAP");

    let replace = schedule_until(&app, &admin, &ids[1], "the replacing firing", |s| {
        runs(s).len() >= 2
    })
    .await;
    let replacing = &runs(&replace)[0];
    assert_eq!(replacing["outcome"], "STARTED", "{replace}");
    assert!(
        replacing["reason"]
            .as_str()
            .is_some_and(|r| r.contains(&format!("replaces scan #{}", first_scans[1]))),
        "{replace}"
    );
    let old = app
        .gql_until(
            &admin,
            "query($id:ID!){ scan(id:$id){ status } }",
            json!({ "id": first_scans[1] }),
            "the replaced scan cancelled",
            |b| b["data"]["scan"]["status"] == "CANCELLED",
        )
        .await;
    assert_eq!(old["data"]["scan"]["status"], "CANCELLED");
    app.stop().await;
}

/// Two `serve` processes on one PostgreSQL database, each with its scheduler: an every-minute
/// schedule fires exactly one scan per minute over three minutes.
#[tokio::test]
async fn two_replicas_on_postgres_fire_exactly_one_scan_per_minute() {
    let dir = tempfile::tempdir().expect("dir");
    let Some(mut database) = TestDatabase::create(Backend::Postgres, dir.path())
        .await
        .expect("database")
    else {
        return;
    };
    let bin = e2e::sneakyscan_binary();
    let a = processes::spawn(&bin, &dir.path().join("a"), &database.url, &["serve"], true).await;
    let b = processes::spawn(&bin, &dir.path().join("b"), &database.url, &["serve"], true).await;
    let (base_a, base_b) = (
        a.base.clone().expect("a serves"),
        b.base.clone().expect("b serves"),
    );
    let cookie = processes::cookie(&base_a).await;
    let ip = listeners::loopback(listeners::loopback_block(), 1);
    let http = listeners::start(ip, Kind::Http).await;
    let body = processes::gql(
        &base_a,
        &cookie,
        "mutation($y:String!){ createScanConfig(input:{yaml:$y}){ id } }",
        json!({ "y": tcp_config(ip, http.addr.port(), "Replicated", None) }),
    )
    .await;
    let config = body["data"]["createScanConfig"]["id"].clone();
    away_from_a_minute_boundary().await;
    let body = processes::gql(
        &base_b,
        &processes::cookie(&base_b).await,
        "mutation($c:ID!){ createSchedule(input:{name:\"replicated\", configId:$c, cron:\"* * * * *\", overlapPolicy: ALLOW}){ id nextRunAt } }",
        json!({ "c": config }),
    )
    .await;
    let first = time(&body["data"]["createSchedule"]["nextRunAt"]);
    let third = first + chrono::Duration::minutes(2);

    // Until the third firing's scan has completed.
    let db = sea_orm::Database::connect(&database.url).await.expect("db");
    let count = |sql: &'static str| {
        let db = db.clone();
        async move {
            db.query_one_raw(Statement::from_string(db.get_database_backend(), sql))
                .await
                .expect("count")
                .and_then(|r| r.try_get_by_index::<i64>(0).ok())
                .unwrap_or_default()
        }
    };
    let deadline = tokio::time::Instant::now()
        + (third - Utc::now()).to_std().unwrap_or_default()
        + MINUTE_WAIT;
    loop {
        let done = count(
            "SELECT count(*) FROM scans WHERE schedule_id IS NOT NULL AND parent_id IS NULL \
             AND status = 'COMPLETED'",
        )
        .await;
        if done >= 3 && Utc::now() > third + chrono::Duration::seconds(5) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "three scheduled scans did not complete"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // Stop both before counting: nothing fires meanwhile.
    drop((a, b));
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT scheduled_for, outcome, scan_id FROM schedule_runs ORDER BY scheduled_for",
        ))
        .await
        .expect("runs");
    let runs: Vec<(DateTime<Utc>, String, Option<i32>)> = rows
        .iter()
        .map(|r| {
            (
                r.try_get_by_index(0).expect("time"),
                r.try_get_by_index(1).expect("outcome"),
                r.try_get_by_index(2).expect("scan"),
            )
        })
        .collect();
    assert!(runs.len() >= 3, "{runs:?}");
    for (i, (at, outcome, scan)) in runs.iter().enumerate() {
        assert_eq!(*at, first + chrono::Duration::minutes(i as i64), "{runs:?}");
        assert_eq!(outcome, "STARTED", "{runs:?}");
        assert!(scan.is_some());
    }
    let scans =
        count("SELECT count(*) FROM scans WHERE schedule_id IS NOT NULL AND parent_id IS NULL")
            .await;
    assert_eq!(scans, runs.len() as i64, "one scan per firing, none twice");
    db.close().await.ok();
    database.drop_database().await;
}
