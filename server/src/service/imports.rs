//! Imports of nmap (or masscan) XML files as COMPLETED scans in the same model as scans run
//! here, optionally judged against a saved config. The file is parsed as a stream on a
//! blocking thread; a malformed file is `VALIDATION` and stores nothing. The document itself is
//! kept, compressed, as the scan's raw XML (`nmap/import.xml`).

use std::io::BufRead;
use std::path::Path;

use chrono::{TimeZone, Utc};
use nmap_parser::{Event, NmapReader, ParseError};
use tokio::sync::mpsc;

use entity::scan;

use crate::domain::artifact::{self, Artifact};
use crate::domain::auth::{Actor, Role};
use crate::domain::changes::Coverage;
use crate::domain::config::{self as scan_config, ScanConfig};
use crate::domain::status::ScanStatus;
use crate::error::{AppError, AppResult};
use crate::scanner::artifacts::Keep;
use crate::scanner::assemble::assemble;
use crate::scanner::findings::{Findings, HostStatusUse, ServiceUse};
use crate::service::results::{NewIp, NewScan, StagedScan};
use crate::service::scans::clean_title;
use crate::service::{artifacts, completion};
use crate::service::{audit, configs};

/// Site name of imported hosts when no config is given.
pub const IMPORT_SITE: &str = "Imported";

#[derive(Debug, Clone, Default)]
pub struct ImportRequest {
    pub title: Option<String>,
    pub config_id: Option<i32>,
}

/// Hosts handed from the parser to the database at a time: memory holds one batch or two,
/// never the whole file.
const BATCH: usize = 500;

/// The run's header (from `<nmaprun>`).
#[derive(Debug, Default)]
struct Header {
    args: Option<String>,
    scanner: String,
    start: Option<i64>,
}

/// What the parser thread hands to the database side, in this order: the header, IPs in
/// batches, then the end time.
#[derive(Debug)]
enum Piece {
    Start(Header),
    Ips { site: String, ips: Vec<NewIp> },
    End(Option<i64>, Coverage),
}

type Pieces = mpsc::Sender<Result<Piece, ParseError>>;

/// Parses `input` and sends its pieces. Without a config, hosts are sent as they are parsed
/// (merged within a batch: masscan writes one host element per port); with one, the verdicts
/// need every host (a configured address nmap never reported is missing), so the file is read
/// whole first. Stops quietly when the receiver is gone.
fn read<R: BufRead>(input: R, config: Option<&ScanConfig>, tx: &Pieces) -> Result<(), ParseError> {
    let send = |piece| tx.blocking_send(Ok(piece)).is_ok();
    let mut reader = NmapReader::new(input);
    let mut batch = Findings::default();
    let mut discovery = true;
    let mut end = None;
    let mut coverage = Coverage::default();
    let flush = |batch: &mut Findings, discovery: bool| {
        let found = std::mem::take(batch);
        assemble(config, &found, discovery, IMPORT_SITE)
            .into_iter()
            .all(|site| {
                let mut ips = site.ips;
                while !ips.is_empty() {
                    let rest = ips.split_off(ips.len().min(BATCH));
                    let piece = Piece::Ips {
                        site: site.name.clone(),
                        ips: std::mem::replace(&mut ips, rest),
                    };
                    if !send(piece) {
                        return false;
                    }
                }
                true
            })
    };
    while let Some(event) = reader.next_event()? {
        match event {
            Event::RunStart(info) => {
                // With -Pn nmap reports every host "up" (reason user-set): handled per host.
                discovery = !info.args.as_deref().unwrap_or_default().contains("-Pn");
                let header = Header {
                    args: info.args,
                    scanner: info.scanner,
                    start: info.start,
                };
                if !send(Piece::Start(header)) {
                    return Ok(());
                }
            }
            Event::Host(host) => {
                batch.add_host(&host, HostStatusUse::Discovery, ServiceUse::Detected);
                if config.is_none() && batch.hosts.len() >= BATCH && !flush(&mut batch, discovery) {
                    return Ok(());
                }
            }
            Event::RunStats(stats) => end = stats.finished,
            // What the document's scans probed (a list that is not one is left out).
            Event::ScanInfo(info) => {
                if let Some(list) = &info.services {
                    let _ = coverage.add(info.protocol.as_str(), list);
                }
            }
            _ => {}
        }
    }
    if flush(&mut batch, discovery) {
        send(Piece::End(end, coverage));
    }
    Ok(())
}

/// Imports one XML document (OPERATOR) through the completion pipeline (findings, reports,
/// then COMPLETED). Hosts are stored as they are parsed, a batch per write transaction: a file
/// that turns out malformed part-way stores nothing (its batches are deleted).
pub async fn import_xml<R: BufRead + Send + 'static>(
    db: &sea_orm::DatabaseConnection,
    actor: &Actor,
    input: R,
    req: ImportRequest,
    data_dir: &Path,
    expiry_days: i64,
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

    let (tx, mut rx) = mpsc::channel(2);
    let parse_config = config.clone();
    // The document is kept too (compressed), as a scan's raw XML.
    let parser = tokio::task::spawn_blocking(move || {
        let mut input = Keep::new(input);
        if let Err(e) = read(&mut input, parse_config.as_ref(), &tx) {
            let _ = tx.blocking_send(Err(e));
            return None;
        }
        // What follows the document (a final newline) belongs to the file kept.
        std::io::copy(&mut input, &mut std::io::sink()).ok()?;
        input.finish()
    });
    let mut next = async || match rx.recv().await {
        Some(Ok(piece)) => Ok(piece),
        Some(Err(ParseError::Io { source, .. })) => Err(AppError::internal(anyhow::anyhow!(
            "reading the import failed: {source}"
        ))),
        Some(Err(e)) => Err(AppError::validation(format!(
            "not a readable nmap XML document: {e}"
        ))),
        None => Err(AppError::validation(
            "not a readable nmap XML document: it ended early",
        )),
    };

    let header = match next().await? {
        Piece::Start(header) => header,
        _ => Header::default(),
    };
    let at = |t: Option<i64>| t.and_then(|t| Utc.timestamp_opt(t, 0).single());
    let now = Utc::now();
    let scanner = if header.scanner.is_empty() {
        "nmap".to_owned()
    } else {
        header.scanner.clone()
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
        started_at: at(header.start).or(Some(now)),
        completed_at: Some(now),
        command_lines: header
            .args
            .as_deref()
            .map(|a| a.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
            .into_iter()
            .collect(),
        config_yaml: config_row.map(|c| c.yaml),
        sites: Vec::new(),
    };
    let mut staged = StagedScan::begin(db, &new).await?;
    let stored = async {
        let end = loop {
            match next().await? {
                Piece::Ips { site, ips } => staged.write(&site, &ips).await?,
                Piece::End(end, coverage) => break (end, coverage),
                Piece::Start(_) => {}
            }
        };
        let kept = parser.await.map_err(AppError::internal)?;
        if let Some(content) = kept {
            let file = Artifact {
                name: artifact::xml_name(artifact::IMPORT),
                content,
            };
            artifacts::insert(db, staged.scan_id(), &[file]).await?;
        }
        Ok::<_, AppError>(end)
    }
    .await;
    let (end, coverage) = match stored {
        Ok(ended) => ended,
        Err(e) => {
            if let Err(cleanup) = staged.discard().await {
                tracing::error!(error = ?cleanup, "removing a failed import's rows failed");
            }
            return Err(e);
        }
    };
    let scan_id = staged.scan_id();
    staged.finish(at(end).unwrap_or(now), &coverage).await?;
    let row = completion::complete(db, data_dir, expiry_days, scan_id)
        .await?
        .ok_or(AppError::NotFound("scan"))?;
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

    fn pieces(xml: &str) -> Result<Vec<Piece>, ParseError> {
        let (tx, mut rx) = mpsc::channel(1024);
        read(xml.as_bytes(), None, &tx)?;
        drop(tx);
        let mut out = Vec::new();
        while let Ok(piece) = rx.try_recv() {
            out.push(piece?);
        }
        Ok(out)
    }

    #[test]
    fn reads_a_service_scan() {
        let xml = include_str!("../../../nmap-parser/tests/data/nmap_sV_root.xml");
        let pieces = pieces(xml).expect("parses");
        assert!(matches!(&pieces[0], Piece::Start(h) if h.args.is_some()));
        assert!(matches!(pieces.last(), Some(Piece::End(Some(_), _))));
        let open = pieces
            .iter()
            .filter_map(|p| match p {
                Piece::Ips { ips, .. } => Some(ips),
                _ => None,
            })
            .flatten()
            .flat_map(|ip| &ip.ports)
            .filter(|p| p.state == "open")
            .count();
        assert!(open > 0);
    }

    #[test]
    fn large_files_arrive_in_batches() {
        let xml = nmap_parser::synthetic::service_scan(1_200);
        let sizes: Vec<usize> = pieces(&xml)
            .expect("parses")
            .iter()
            .filter_map(|p| match p {
                Piece::Ips { ips, .. } => Some(ips.len()),
                _ => None,
            })
            .collect();
        assert_eq!(sizes, vec![BATCH, BATCH, 200]);
    }

    #[test]
    fn refuses_what_is_not_nmap_xml() {
        for bad in [
            "",
            "<html><body>hi</body></html>",
            "<?xml version=\"1.0\"?><!DOCTYPE nmaprun [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><nmaprun>&x;</nmaprun>",
            "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;\">]><nmaprun>&lol2;</nmaprun>",
        ] {
            assert!(pieces(bad).is_err(), "{bad}");
        }
    }
}
