//! History benchmark (issue 13; run by `make bench`, see bench/run.sh), on fresh SQLite files:
//!
//! - the cost of change tracking on a 10,000-host import: a second import (a changed copy of
//!   the first document) timed whole, and its history step alone (replayed on the same state);
//! - the diff of the two stored 10,000-host scans (`scanDiff`'s service) against `ndiff` on
//!   their two files;
//! - a page of `hosts(filter)` over 100,000 hosts;
//! - the same history step with alert rules enabled (issue 16: evaluated in that transaction).
//!
//! Prints `key=value` lines.

use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, DatabaseConnection, EntityTrait, Set};
use server::domain::auth::Actor;
use server::service::history::{self, read};
use server::service::imports;
use server::service::pagination::PageRequest;

const RUNS: usize = 3;

async fn import(
    db: &DatabaseConnection,
    dir: &Path,
    file: &Path,
) -> (entity::scan::Model, Duration) {
    let input = BufReader::with_capacity(1 << 16, std::fs::File::open(file).expect("open"));
    let t = Instant::now();
    let scan = imports::import_xml(
        db,
        &Actor::system(),
        input,
        Default::default(),
        &dir.join("data"),
        30,
    )
    .await
    .expect("import");
    (scan, t.elapsed())
}

/// Puts the history back as it was before scan `head` was recorded (`base` was the scan
/// before it), so that recording it again does the same work.
async fn unrecord(db: &DatabaseConnection, base: i32, head: i32) {
    for sql in [
        format!("DELETE FROM change_events WHERE scan_id = {head}"),
        format!("DELETE FROM host_facts WHERE first_scan_id = {head}"),
        format!(
            "UPDATE host_facts SET ended_at = NULL, ended_scan_id = NULL WHERE ended_scan_id = {head}"
        ),
        format!("UPDATE host_facts SET last_scan_id = {base} WHERE last_scan_id = {head}"),
        format!("UPDATE hosts SET last_scan_id = {base} WHERE last_scan_id = {head}"),
        format!("UPDATE scans SET history_at = NULL, baseline_id = NULL WHERE id = {head}"),
    ] {
        db.execute_unprepared(&sql).await.expect("unrecord");
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[tokio::main]
async fn main() {
    let hosts: usize = std::env::var("BENCH_HOSTS")
        .ok()
        .and_then(|h| h.parse().ok())
        .unwrap_or(10_000);
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "target/bench".into()),
    );
    let dir = dir.join("history");
    std::fs::create_dir_all(&dir).expect("bench dir");
    let (a, b) = (dir.join("a.xml"), dir.join("b.xml"));
    let first = nmap_parser::synthetic::service_scan(hosts);
    std::fs::write(&a, &first).expect("write a");
    std::fs::write(&b, nmap_parser::synthetic::changed_service_scan(&first)).expect("write b");

    // 1. Tracking cost: the second import whole, and its history step alone.
    let (mut whole, mut step) = (Vec::new(), Vec::new());
    let mut events = 0;
    let mut diff_db = None;
    for run in 0..RUNS {
        let db = e2e::processes::fresh_sqlite(&dir, "import").await;
        let (base, _) = import(&db, &dir, &a).await;
        let (head, took) = import(&db, &dir, &b).await;
        whole.push(took);
        unrecord(&db, base.id, head.id).await;
        let t = Instant::now();
        let recorded = history::record(&db, head.id, 30).await.expect("record");
        step.push(t.elapsed());
        events = recorded.events;
        if run == RUNS - 1 {
            diff_db = Some((db, base.id, head.id));
        } else {
            db.close().await.ok();
        }
    }
    let (whole, step) = (median(whole), median(step));
    let without = whole.saturating_sub(step);
    println!("hosts={hosts}");
    println!("events={events}");
    println!("import_with_history_s={:.4}", whole.as_secs_f64());
    println!("history_step_s={:.4}", step.as_secs_f64());
    println!("import_without_history_s={:.4}", without.as_secs_f64());
    println!(
        "tracking_cost_pct={:.1}",
        step.as_secs_f64() / without.as_secs_f64() * 100.0
    );

    // 1b. The same history step with alert rules enabled — the three shipped ones and one on
    // every opened or closed port and changed service — evaluated in its transaction.
    let (db, base, head) = diff_db.expect("db");
    db.execute_unprepared("UPDATE alert_rules SET enabled = true")
        .await
        .expect("enable rules");
    db.execute_unprepared(
        "INSERT INTO alert_rules (name, enabled, events, min_severity, scope, confirm_after_scans, \
         cooldown_minutes, created_by, created_at, updated_at) VALUES ('every change', true, \
         '[\"PORT_OPENED\",\"PORT_CLOSED\",\"SERVICE_CHANGED\"]', 'INFO', '', 1, 0, 'bench', \
         strftime('%Y-%m-%d %H:%M:%f+00:00', 'now'), strftime('%Y-%m-%d %H:%M:%f+00:00', 'now'))",
    )
    .await
    .expect("a rule");
    let mut with_rules = Vec::new();
    let mut opened = 0;
    for _ in 0..RUNS {
        unrecord(&db, base, head).await;
        for sql in ["DELETE FROM alerts", "DELETE FROM alert_streaks"] {
            db.execute_unprepared(sql).await.expect("forget alerts");
        }
        let t = Instant::now();
        let recorded = history::record(&db, head, 30).await.expect("record");
        with_rules.push(t.elapsed());
        opened = recorded.alerts.opened;
    }
    let with_rules = median(with_rules);
    println!("alerts_opened={opened}");
    println!("history_step_with_rules_s={:.4}", with_rules.as_secs_f64());
    println!(
        "rules_cost_pct={:.1}",
        (with_rules.as_secs_f64() / step.as_secs_f64() - 1.0) * 100.0
    );

    // 2. Diff of the two stored scans vs ndiff on their files.
    let mut ours = Vec::new();
    let mut entries = 0;
    for _ in 0..RUNS {
        let t = Instant::now();
        let (_, _, list) = read::diff(&db, &Actor::system(), base, head)
            .await
            .expect("diff");
        ours.push(t.elapsed());
        entries = list.len();
    }
    // Its parts: reading one stored scan, and comparing two read ones.
    let row = entity::scan::Entity::find_by_id(head)
        .one(&db)
        .await
        .expect("read")
        .expect("scan");
    let t = Instant::now();
    let observed = history::observe::scan(&db, &row, chrono::Utc::now(), 0)
        .await
        .expect("observe");
    println!("diff_read_one_scan_s={:.4}", t.elapsed().as_secs_f64());
    let t = Instant::now();
    let mut n = 0;
    for o in &observed {
        n += server::domain::changes::diff_host(Some(&o.obs), &o.obs).len();
    }
    println!(
        "diff_compare_s={:.4} (equal: {n})",
        t.elapsed().as_secs_f64()
    );
    let mut theirs = Vec::new();
    let mut ndiff_lines = 0;
    for _ in 0..RUNS {
        let t = Instant::now();
        let out = std::process::Command::new("ndiff")
            .arg(&a)
            .arg(&b)
            .output()
            .expect("ndiff (make nmap installs it)");
        theirs.push(t.elapsed());
        ndiff_lines = out.stdout.iter().filter(|c| **c == b'\n').count();
    }
    let (ours, theirs) = (median(ours), median(theirs));
    println!("diff_entries={entries} ndiff_lines={ndiff_lines}");
    println!("diff_ours_s={:.4}", ours.as_secs_f64());
    println!("diff_ndiff_s={:.4}", theirs.as_secs_f64());
    println!(
        "diff_speedup={:.1}",
        theirs.as_secs_f64() / ours.as_secs_f64()
    );
    db.close().await.ok();

    // 3. hosts(filter) over 100,000 hosts, on SQLite and (when configured) PostgreSQL.
    let db = e2e::processes::fresh_sqlite(&dir, "hosts").await;
    hosts_filter("sqlite", &db).await;
    db.close().await.ok();
    if let Some(mut pg) = e2e::TestDatabase::create(e2e::Backend::Postgres, &dir)
        .await
        .expect("postgres")
    {
        let db = server::db::connect_migrated(
            &pg.url,
            std::sync::Arc::new(server::db::DbMetrics::default()),
            async |_| Ok(()),
        )
        .await
        .expect("postgres db");
        hosts_filter("postgres", &db).await;
        db.close().await.ok();
        pg.drop_database().await;
    }
}

/// 100,000 hosts (every third with 443 open, nginx on half of those, Apache on the rest) and
/// the first page of `hosts(filter)` for words and for the filter language: median and p95 of
/// 20 runs each.
async fn hosts_filter(backend: &str, db: &sea_orm::DatabaseConnection) {
    let now = chrono::Utc::now();
    let rows: Vec<entity::host::ActiveModel> = (0..100_000u32)
        .map(|i| entity::host::ActiveModel {
            site: Set(format!("site{}", i % 20)),
            address: Set(format!("127.{}.{}.{}", i >> 16, (i >> 8) & 255, i & 255)),
            hostname: Set(Some(format!("host{i}.probe.local"))),
            state: Set("up".into()),
            open_ports: Set((i % 6) as i32),
            first_seen_at: Set(now),
            last_seen_at: Set(now),
            last_up_at: Set(Some(now)),
            last_scan_id: Set(None),
            tags: Set(if i % 10 == 0 {
                "[\"prod\"]".into()
            } else {
                "[]".into()
            }),
            owner: Set(None),
            notes: Set(None),
            ..Default::default()
        })
        .collect();
    for batch in rows.chunks(1_000) {
        entity::host::Entity::insert_many(batch.to_vec())
            .exec_without_returning(db)
            .await
            .expect("hosts");
    }
    let (p, pg) = if backend == "postgres" {
        ("$1", true)
    } else {
        ("?", false)
    };
    for sql in [
        format!(
            "INSERT INTO host_facts (host_id, fact, key, value, first_seen_at, last_seen_at) \
             SELECT id, 'port', 'tcp/443', 'open', {p}, {p} FROM hosts WHERE id % 3 = 0"
        ),
        format!(
            "INSERT INTO host_facts (host_id, fact, key, value, first_seen_at, last_seen_at) \
             SELECT id, 'service', 'tcp/443', CASE WHEN id % 2 = 0 THEN \
             '{{\"name\":\"https\",\"product\":\"nginx\"}}' ELSE \
             '{{\"name\":\"https\",\"product\":\"Apache httpd\"}}' END, {p}, {p} \
             FROM hosts WHERE id % 3 = 0"
        ),
    ] {
        let values: Vec<sea_orm::Value> = if pg {
            vec![now.into()]
        } else {
            vec![now.into(); 2]
        };
        db.execute_raw(sea_orm::Statement::from_sql_and_values(
            db.get_database_backend(),
            sql,
            values,
        ))
        .await
        .expect("facts");
    }
    if pg {
        // What autovacuum does soon after a bulk write.
        db.execute_unprepared("ANALYZE").await.expect("analyze");
    }
    for (label, filter) in [
        ("none", None),
        ("word", Some("probe.local")),
        ("rare", Some("host99999")),
        ("two_words", Some("site10 prod")),
        ("port_443_nginx", Some("port:443 product:nginx")),
        (
            "port_443_not_nginx_site",
            Some("port:443 -product:nginx site:site3"),
        ),
    ] {
        let mut took = Vec::new();
        let mut total = 0;
        for _ in 0..20 {
            let page = PageRequest::parse(Some(50), None).expect("page");
            let t = Instant::now();
            let page = read::hosts(db, &Actor::system(), page, filter)
                .await
                .expect("hosts");
            took.push(t.elapsed());
            total = page.total_count;
        }
        took.sort();
        println!(
            "{backend}_hosts_page_{label}_ms={:.2} p95_ms={:.2} total={total}",
            median(took.clone()).as_secs_f64() * 1000.0,
            took[took.len() * 95 / 100 - 1].as_secs_f64() * 1000.0
        );
    }
}
