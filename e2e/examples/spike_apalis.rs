//! Spike for issue 12 (jobs on apalis 1.0): one job on SQLite and on PostgreSQL, on the sqlx
//! pool sea-orm already holds; heartbeats; `kill -9` of the worker running it; the re-queue.
//! Not part of the product: it records what apalis does, for the design of `jobs/`.
//!
//! Usage:
//!   spike_apalis run sqlite                         (a temp file)
//!   spike_apalis run postgres postgres://postgres@127.0.0.1:5432/test
//!   spike_apalis work <url> <worker name> <seconds the job takes>   (the child processes)
//!
//! `run` sets the storage up, pushes one job, starts worker A (a child process of this binary)
//! whose job would take 600 s, kills it with SIGKILL once the job has started, starts worker B,
//! and prints what happened to the job row, with timings, as `key=value` lines.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use apalis::prelude::*;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, BufReader};

const QUEUE: &str = "scans";
const HEARTBEAT: Duration = Duration::from_secs(1);
const MISSED: usize = 3;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct ScanJob {
    scan_id: i32,
}

async fn connect(url: &str) -> DatabaseConnection {
    let db = server::db::connect(url, Default::default())
        .await
        .expect("connect");
    server::db::migrate(&db).await.expect("our migrations");
    db
}

fn sqlite_config() -> apalis_sqlite::Config {
    apalis_sqlite::Config::default()
        .queue(QUEUE)
        .heartbeat_interval(HEARTBEAT)
        .missed_heartbeats(MISSED)
}

fn postgres_config() -> apalis_postgres::Config {
    apalis_postgres::Config::default()
        .queue(QUEUE)
        .heartbeat_interval(HEARTBEAT)
        .missed_heartbeats(MISSED)
}

/// apalis' own tables, next to ours (its migrations only: `setup` would also change PRAGMAs of
/// the shared pool, e.g. `synchronous = OFF`).
async fn setup(db: &DatabaseConnection) {
    match db.get_database_backend() {
        sea_orm::DbBackend::Sqlite => apalis_sqlite::SqliteStorage::<()>::migrations()
            .run(db.get_sqlite_connection_pool())
            .await
            .expect("apalis sqlite migrations"),
        _ => apalis_postgres::PostgresStorage::<()>::migrations()
            .run(db.get_postgres_connection_pool())
            .await
            .expect("apalis postgres migrations"),
    }
}

async fn push(db: &DatabaseConnection, scan_id: i32) {
    let task = TaskBuilder::new(ScanJob { scan_id })
        .max_attempts(3)
        .build();
    match db.get_database_backend() {
        sea_orm::DbBackend::Sqlite => {
            let mut storage =
                apalis_sqlite::SqliteStorage::<ScanJob>::new(db.get_sqlite_connection_pool())
                    .with_config(sqlite_config());
            storage.push_task(task).await.expect("push");
        }
        _ => {
            let mut storage =
                apalis_postgres::PostgresStorage::<ScanJob>::new(db.get_postgres_connection_pool())
                    .with_config(postgres_config());
            storage.push_task(task).await.expect("push");
        }
    }
}

/// The job's row: status, attempts, lock_by (table names differ per backend).
async fn job_row(db: &DatabaseConnection) -> String {
    let sql = match db.get_database_backend() {
        sea_orm::DbBackend::Sqlite => {
            "SELECT status, attempts, COALESCE(lock_by, '-') AS lock_by FROM Jobs".to_owned()
        }
        _ => {
            "SELECT status, attempts, COALESCE(lock_by, '-') AS lock_by FROM apalis.jobs".to_owned()
        }
    };
    let rows = db
        .query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .expect("job rows");
    rows.iter()
        .map(|r| {
            format!(
                "{}/{}/{}",
                r.try_get::<String>("", "status").unwrap_or_default(),
                r.try_get::<i32>("", "attempts").unwrap_or_default(),
                r.try_get::<String>("", "lock_by").unwrap_or_default()
            )
        })
        .collect::<Vec<_>>()
        .join(",")
}

async fn work(url: &str, name: &str, seconds: u64) {
    let db = connect(url).await;
    let job = move |job: ScanJob, attempt: Attempt| async move {
        println!("STARTED scan={} attempt={}", job.scan_id, attempt.current());
        tokio::time::sleep(Duration::from_secs(seconds)).await;
        println!("DONE scan={}", job.scan_id);
        Ok::<(), BoxDynError>(())
    };
    match db.get_database_backend() {
        sea_orm::DbBackend::Sqlite => {
            let storage =
                apalis_sqlite::SqliteStorage::<ScanJob>::new(db.get_sqlite_connection_pool())
                    .with_config(sqlite_config());
            WorkerBuilder::new(name)
                .backend(storage)
                .concurrency(1)
                .build(job)
                .run()
                .await
                .expect("worker");
        }
        _ => {
            let storage =
                apalis_postgres::PostgresStorage::<ScanJob>::new(db.get_postgres_connection_pool())
                    .with_config(postgres_config());
            WorkerBuilder::new(name)
                .backend(storage)
                .concurrency(1)
                .build(job)
                .run()
                .await
                .expect("worker");
        }
    }
}

/// Starts `work` in a child process; lines it prints arrive on the channel.
fn spawn_worker(
    url: &str,
    name: &str,
    seconds: u64,
) -> (
    tokio::process::Child,
    tokio::sync::mpsc::UnboundedReceiver<String>,
) {
    let mut child = tokio::process::Command::new(std::env::current_exe().expect("exe"))
        .args(["work", url, name, &seconds.to_string()])
        .env("SNEAKYSCAN_LOG__LEVEL", "warn")
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn worker");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            let _ = tx.send(line);
        }
    });
    (child, rx)
}

async fn expect_line(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<String>,
    prefix: &str,
    within: Duration,
) -> Option<String> {
    tokio::time::timeout(within, async {
        while let Some(line) = rx.recv().await {
            if line.starts_with(prefix) {
                return Some(line);
            }
        }
        None
    })
    .await
    .ok()
    .flatten()
}

async fn run(backend: &str, url: Option<String>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = match (backend, url) {
        ("sqlite", _) => format!(
            "sqlite://{}?mode=rwc",
            PathBuf::from(dir.path()).join("spike.db").display()
        ),
        (_, Some(url)) => url,
        _ => panic!("postgres needs a URL"),
    };
    let db = connect(&url).await;
    if backend == "postgres" {
        db.execute_unprepared("DROP SCHEMA IF EXISTS apalis CASCADE; DELETE FROM _sqlx_migrations")
            .await
            .ok();
    }
    let t = Instant::now();
    setup(&db).await;
    println!("{backend}_setup_ms={}", t.elapsed().as_millis());
    push(&db, 42).await;
    println!("{backend}_after_push={}", job_row(&db).await);

    let (mut a, mut a_lines) = spawn_worker(&url, "worker-a", 600);
    let t = Instant::now();
    let started = expect_line(&mut a_lines, "STARTED", Duration::from_secs(30)).await;
    println!(
        "{backend}_a_started={started:?} after_ms={}",
        t.elapsed().as_millis()
    );
    println!("{backend}_while_a_runs={}", job_row(&db).await);
    a.start_kill().expect("kill -9");
    a.wait().await.ok();
    let killed_at = Instant::now();
    println!("{backend}_after_kill={}", job_row(&db).await);

    // SPIKE_B_NAME=worker-a: the replacement comes back under the dead worker's name.
    let b_name = std::env::var("SPIKE_B_NAME").unwrap_or_else(|_| "worker-b".into());
    let (_b, mut b_lines) = spawn_worker(&url, &b_name, 1);
    let started = expect_line(&mut b_lines, "STARTED", Duration::from_secs(120)).await;
    println!(
        "{backend}_b_started={started:?} after_kill_ms={}",
        killed_at.elapsed().as_millis()
    );
    let done = expect_line(&mut b_lines, "DONE", Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    println!("{backend}_b_done={done:?} row={}", job_row(&db).await);
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("run") => run(&args[1], args.get(2).cloned()).await,
        Some("work") => work(&args[1], &args[2], args[3].parse().expect("seconds")).await,
        _ => eprintln!("usage: spike_apalis run sqlite | run postgres URL"),
    }
}
