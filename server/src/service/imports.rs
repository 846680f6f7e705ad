//! Imports of nmap (or masscan) XML files as COMPLETED scans in the same model as scans run
//! here, optionally judged against a saved config. The file is parsed as a stream on a
//! blocking thread; a malformed file is `VALIDATION` and stores nothing.

use std::io::BufRead;

use chrono::{TimeZone, Utc};
use nmap_parser::{Event, NmapReader, ParseError};

use entity::scan;

use crate::auth::{Actor, Role};
use crate::error::{AppError, AppResult};
use crate::scanner::assemble::assemble;
use crate::scanner::config as scan_config;
use crate::scanner::findings::{Findings, HostStatusUse, ServiceUse};
use crate::service::results::{self, NewScan};
use crate::service::scans::{ScanStatus, clean_title};
use crate::service::{audit, configs};

/// Site name of imported hosts when no config is given.
pub const IMPORT_SITE: &str = "Imported";

#[derive(Debug, Clone, Default)]
pub struct ImportRequest {
    pub title: Option<String>,
    pub config_id: Option<i32>,
}

/// What a file held, before storing.
struct Parsed {
    findings: Findings,
    args: Option<String>,
    scanner: String,
    start: Option<i64>,
    end: Option<i64>,
    discovery: bool,
}

fn read<R: BufRead>(input: R) -> Result<Parsed, ParseError> {
    let mut reader = NmapReader::new(input);
    let mut parsed = Parsed {
        findings: Findings::default(),
        args: None,
        scanner: String::new(),
        start: None,
        end: None,
        discovery: true,
    };
    while let Some(event) = reader.next_event()? {
        match event {
            Event::RunStart(info) => {
                // With -Pn nmap reports every host "up" (reason user-set): handled per host.
                parsed.discovery = !info.args.as_deref().unwrap_or_default().contains("-Pn");
                parsed.args = info.args;
                parsed.scanner = info.scanner;
                parsed.start = info.start;
            }
            Event::Host(host) => {
                parsed
                    .findings
                    .add_host(&host, HostStatusUse::Discovery, ServiceUse::Detected);
            }
            Event::RunStats(stats) => parsed.end = stats.finished,
            _ => {}
        }
    }
    Ok(parsed)
}

/// Imports one XML document (OPERATOR).
pub async fn import_xml<R: BufRead + Send + 'static>(
    db: &sea_orm::DatabaseConnection,
    actor: &Actor,
    input: R,
    req: ImportRequest,
) -> AppResult<scan::Model> {
    actor.require(Role::Operator)?;
    let title = clean_title(req.title.as_deref())?;
    let config_row = match req.config_id {
        Some(id) => Some(configs::get(db, actor, id).await?),
        None => None,
    };
    let config = config_row
        .as_ref()
        .map(|c| scan_config::parse(&c.yaml))
        .transpose()?;
    let parsed = tokio::task::spawn_blocking(move || read(input))
        .await
        .map_err(AppError::internal)?
        .map_err(|e| match e {
            ParseError::Io { source, .. } => {
                AppError::internal(anyhow::anyhow!("reading the import failed: {source}"))
            }
            other => AppError::validation(format!("not a readable nmap XML document: {other}")),
        })?;
    let sites = assemble(
        config.as_ref(),
        &parsed.findings,
        parsed.discovery,
        IMPORT_SITE,
    );
    let at = |t: Option<i64>| t.and_then(|t| Utc.timestamp_opt(t, 0).single());
    let now = Utc::now();
    let command = parsed
        .args
        .as_deref()
        .map(|a| a.split_whitespace().map(str::to_owned).collect::<Vec<_>>());
    let scanner = if parsed.scanner.is_empty() {
        "nmap".to_owned()
    } else {
        parsed.scanner.clone()
    };
    let new = NewScan {
        title: title.unwrap_or_else(|| match &config {
            Some(c) => format!("{} (imported)", c.title),
            None => format!("Imported {scanner} scan"),
        }),
        status: ScanStatus::Completed,
        config_id: config_row.as_ref().map(|c| c.id),
        triggered_by: actor.username.clone(),
        triggered_by_user_id: actor.user_id,
        created_at: now,
        started_at: at(parsed.start).or(Some(now)),
        completed_at: at(parsed.end).or(Some(now)),
        command_lines: command.into_iter().collect(),
        config_yaml: config_row.map(|c| c.yaml),
        sites,
    };
    let row = results::store(db, new).await?;
    audit::record(
        db,
        actor,
        "scan.import",
        Some(format!("scan:{}", row.id)),
        Some(serde_json::json!({ "title": row.title, "hosts": row.hosts_total })),
    )
    .await?;
    Ok(row)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_service_scan() {
        let xml = include_str!("../../../nmap-parser/tests/data/nmap_sV_root.xml");
        let parsed = read(xml.as_bytes()).expect("parses");
        assert!(parsed.findings.open_ports() > 0);
        assert!(parsed.args.is_some());
    }

    #[test]
    fn refuses_what_is_not_nmap_xml() {
        for bad in [
            "",
            "<html><body>hi</body></html>",
            "<?xml version=\"1.0\"?><!DOCTYPE nmaprun [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><nmaprun>&x;</nmaprun>",
            "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;\">]><nmaprun>&lol2;</nmaprun>",
        ] {
            assert!(read(bad.as_bytes()).is_err(), "{bad}");
        }
    }
}
