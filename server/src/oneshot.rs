//! `sneakyscan scan CONFIG.yaml --out DIR`: one scan without a server. The same config
//! validation, scope check, runner, phases and reports as the server, over a throw-away SQLite
//! database in a private work directory; progress on the terminal; the JSON, HTML and ZIP
//! reports written to DIR. Ctrl-C cancels the scan (reports of what was found are written).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use tokio::sync::broadcast::error::RecvError;

use crate::config::{Secret, Settings};
use crate::domain::auth::Actor;
use crate::domain::status::ScanStatus;
use crate::error::AppError;
use crate::events::EventBus;
use crate::jobs::runner::Runner;
use crate::service::configs;
use crate::service::reports::{self, Format};
use crate::service::scans::{self, StartRequest};

/// Removes the work directory however the run ends.
struct WorkDir(PathBuf);

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs the scan; returns its final status. `allow` replaces the default scope (loopback) when
/// given.
pub async fn run(
    settings: &Settings,
    config_file: &Path,
    out: &Path,
    allow: &[String],
) -> anyhow::Result<ScanStatus> {
    let yaml = std::fs::read_to_string(config_file)
        .with_context(|| format!("while reading {}", config_file.display()))?;
    let work = WorkDir(std::env::temp_dir().join(format!("sneakyscan-{}", uuid::Uuid::new_v4())));
    std::fs::create_dir_all(&work.0)?;
    let mut own = settings.clone();
    own.data_dir = work.0.clone();
    own.database_url = Secret::default();
    let settings = Arc::new(own);
    let db = crate::db::connect_migrated(
        &settings.effective_database_url(),
        Arc::new(crate::db::DbMetrics::default()),
        crate::jobs::queue::migrate,
    )
    .await?;

    let system = Actor::system();
    if !allow.is_empty() {
        let patch = crate::service::settings::SettingsPatch {
            allowed_cidrs: Some(allow.to_vec()),
            ..Default::default()
        };
        crate::service::settings::update(&db, &system, patch)
            .await
            .map_err(|e| anyhow::anyhow!("--allow: {}", e.into_cli()))?;
    }
    let config = configs::create(&db, &system, &yaml)
        .await
        .map_err(|e| anyhow::anyhow!("{}: {}", config_file.display(), e.into_cli()))?;
    let bus = EventBus::default();
    let mut events = bus.subscribe();
    let runner = Runner::new(
        db.clone(),
        bus,
        settings.clone(),
        crate::jobs::queue::JobQueue::new(&db, &settings.jobs, crate::jobs::queue::QUEUE),
    );
    runner.start_worker().await.map_err(AppError::into_cli)?;
    let started = scans::start(
        &db,
        &system,
        StartRequest {
            config_id: Some(config.id),
            // This process scans it, whatever agent pool its sites name.
            run_here: true,
            ..Default::default()
        },
    )
    .await
    .map_err(AppError::into_cli)?;
    runner.enqueue(&started).await;
    let scan = started.scan;
    println!("scan \"{}\" started", scan.title);

    let mut last_line = String::new();
    loop {
        tokio::select! {
            event = events.recv() => match event {
                Ok(e) if e.scan_id == scan.id => {
                    let line = format!(
                        "[{:>5.1}%] {:<10} {:<10} hosts up {:>4}, open ports {:>5}  {}",
                        e.percent,
                        e.status.as_str(),
                        e.phase,
                        e.hosts_up,
                        e.open_ports,
                        e.message.as_deref().unwrap_or_default()
                    );
                    if line != last_line {
                        println!("{line}");
                        let _ = std::io::stdout().flush();
                        last_line = line;
                    }
                    if e.status.is_terminal() {
                        break;
                    }
                }
                Ok(_) | Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => break,
            },
            _ = tokio::signal::ctrl_c() => {
                eprintln!("cancelling…");
                crate::jobs::runner::cancel(&runner, &system, scan.id).await.map_err(AppError::into_cli)?;
            }
        }
    }
    runner.shutdown().await;
    let row = scans::get(&db, &system, scan.id)
        .await
        .map_err(AppError::into_cli)?;

    std::fs::create_dir_all(out).with_context(|| format!("while creating {}", out.display()))?;
    // A completed scan's reports were written by the completion pipeline; a cancelled or
    // failed one gets them now.
    for format in Format::ALL {
        let name = format.file_name();
        let from = reports::file(
            &db,
            &system,
            &settings.data_dir,
            settings.scanner.web.cert_expiry_warning_days,
            row.id,
            format,
        )
        .await
        .map_err(AppError::into_cli)?;
        std::fs::copy(&from, out.join(&name))
            .with_context(|| format!("while writing {}", out.join(&name).display()))?;
    }
    println!(
        "{}: {} hosts ({} up), {} open ports, {} unexpected, {} missing{}",
        row.status,
        row.hosts_total,
        row.hosts_up,
        row.open_ports,
        row.unexpected_ports,
        row.missing_ports,
        row.error_message
            .as_deref()
            .map(|e| format!(" — {e}"))
            .unwrap_or_default()
    );
    println!("reports: {}", out.display());
    db.close().await.ok();
    Ok(ScanStatus::parse(&row.status).unwrap_or(ScanStatus::Failed))
}
