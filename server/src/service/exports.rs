//! Exports of the host inventory and the change events (`/api/export/{hosts,changes}.{csv,json}`)
//! in the filter language, streamed: rows are read in keyset pages of [`PAGE`] and encoded page
//! by page, so a download of any size holds one page in memory. Each page is its own short
//! query: a slow client never pins a pool connection or keeps a read transaction open (on
//! SQLite that would stall WAL checkpoints), at the cost of no snapshot across pages (rows are
//! in id order; a row added while the download runs may or may not be in it).
//!
//! CSV cells that a spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`, a tab
//! or a carriage return) get a leading `'` (OWASP's CSV injection advice).

use std::borrow::Cow;

use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use futures::Stream;
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde_json::{Value, json};

use entity::{change_event, host};

use crate::domain::auth::{Actor, Role};
use crate::error::{AppError, AppResult};
use crate::service::history::{filter, read};

/// Rows per page read and encoded at a time.
pub const PAGE: u64 = 500;

/// What is exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dataset {
    Hosts,
    Changes,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Json,
}

impl Dataset {
    pub fn name(self) -> &'static str {
        match self {
            Dataset::Hosts => "hosts",
            Dataset::Changes => "changes",
        }
    }

    /// `hosts.csv` → (Hosts, Csv); anything else: none.
    pub fn parse_file(file: &str) -> Option<(Dataset, Format)> {
        let (name, ext) = file.split_once('.')?;
        let dataset = match name {
            "hosts" => Dataset::Hosts,
            "changes" => Dataset::Changes,
            _ => return None,
        };
        let format = match ext {
            "csv" => Format::Csv,
            "json" => Format::Json,
            _ => return None,
        };
        Some((dataset, format))
    }

    fn columns(self) -> &'static [&'static str] {
        match self {
            Dataset::Hosts => &[
                "id",
                "site",
                "address",
                "hostname",
                "state",
                "open_ports",
                "services",
                "tags",
                "owner",
                "first_seen_at",
                "last_seen_at",
            ],
            Dataset::Changes => &[
                "id", "at", "kind", "severity", "site", "address", "protocol", "port", "summary",
                "scan_id", "before", "after",
            ],
        }
    }
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Json => "application/json",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Json => "json",
        }
    }
}

/// An export checked and ready to stream: the actor may read, the filter compiled.
pub struct Export {
    db: DatabaseConnection,
    dataset: Dataset,
    format: Format,
    condition: Condition,
    /// The last id written; pages go on after it.
    after: i32,
    rows: u64,
    state: State,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Start,
    Rows,
    Done,
}

/// Checks the actor and the filter before the first byte: a bad filter is VALIDATION (with
/// its column), nothing is sent.
pub fn prepare(
    db: &DatabaseConnection,
    actor: &Actor,
    dataset: Dataset,
    format: Format,
    text: Option<&str>,
) -> AppResult<Export> {
    actor.require(Role::Viewer)?;
    let backend = db.get_database_backend();
    let condition = match dataset {
        Dataset::Hosts => filter::hosts(text, backend, Utc::now())?,
        Dataset::Changes => filter::changes(text, backend, Utc::now())?,
    };
    Ok(Export {
        db: db.clone(),
        dataset,
        format,
        condition,
        after: 0,
        rows: 0,
        state: State::Start,
    })
}

impl Export {
    /// The whole export as a stream of encoded pages; an error ends it (the client sees a
    /// cut-off download, the log says why).
    pub fn into_stream(self) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send {
        futures::stream::unfold(self, |mut export| async move {
            match export.next_chunk().await {
                Ok(Some(bytes)) => Some((Ok(bytes), export)),
                Ok(None) => None,
                Err(e) => {
                    tracing::error!(error = %e, dataset = export.dataset.name(), "export failed");
                    export.state = State::Done;
                    Some((Err(std::io::Error::other(e.to_string())), export))
                }
            }
        })
    }

    /// The next encoded piece: the header, then one page of rows at a time, then the end;
    /// `None` when all is sent.
    pub async fn next_chunk(&mut self) -> AppResult<Option<Bytes>> {
        match self.state {
            State::Done => Ok(None),
            State::Start => {
                self.state = State::Rows;
                Ok(Some(match self.format {
                    Format::Csv => Bytes::from(csv_records([self
                        .dataset
                        .columns()
                        .iter()
                        .map(|c| (*c).to_owned())
                        .collect()])?),
                    Format::Json => Bytes::from_static(b"["),
                }))
            }
            State::Rows => {
                let records = self.page().await?;
                if records.is_empty() {
                    self.state = State::Done;
                    return Ok(match self.format {
                        Format::Csv => None,
                        Format::Json => Some(Bytes::from_static(b"]\n")),
                    });
                }
                let count = records.len() as u64;
                // Each record is encoded in the one format asked for.
                let out = match self.format {
                    Format::Csv => csv_records(records.into_iter().map(Record::cells))?,
                    Format::Json => {
                        let mut out = Vec::with_capacity(records.len() * 256);
                        for (i, record) in records.into_iter().enumerate() {
                            if self.rows > 0 || i > 0 {
                                out.push(b',');
                            }
                            out.push(b'\n');
                            serde_json::to_writer(&mut out, &record.json())
                                .map_err(|e| AppError::Internal(e.into()))?;
                        }
                        out
                    }
                };
                self.rows += count;
                Ok(Some(Bytes::from(out)))
            }
        }
    }

    /// The next page of rows after `self.after`, in id order.
    async fn page(&mut self) -> AppResult<Vec<Record>> {
        let records: Vec<Record> = match self.dataset {
            Dataset::Hosts => {
                let hosts = host::Entity::find()
                    .filter(self.condition.clone())
                    .filter(host::Column::Id.gt(self.after))
                    .order_by_asc(host::Column::Id)
                    .limit(PAGE)
                    .all(&self.db)
                    .await?;
                let ids: Vec<i32> = hosts.iter().map(|h| h.id).collect();
                let mut ports = read::open_ports_of(&self.db, &ids).await?;
                hosts
                    .into_iter()
                    .map(|h| {
                        let open = ports.remove(&h.id).unwrap_or_default();
                        Record::Host(h, open)
                    })
                    .collect()
            }
            Dataset::Changes => change_event::Entity::find()
                .filter(self.condition.clone())
                .filter(change_event::Column::Id.gt(self.after))
                .order_by_asc(change_event::Column::Id)
                .limit(PAGE)
                .all(&self.db)
                .await?
                .into_iter()
                .map(Record::Change)
                .collect(),
        };
        if let Some(last) = records.last() {
            self.after = last.id();
        }
        Ok(records)
    }
}

/// One exported row, as read; encoded as CSV cells or as a JSON object.
enum Record {
    Host(host::Model, Vec<read::HostPort>),
    Change(change_event::Model),
}

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

impl Record {
    fn id(&self) -> i32 {
        match self {
            Record::Host(h, _) => h.id,
            Record::Change(e) => e.id,
        }
    }

    fn json(self) -> Value {
        match self {
            Record::Host(h, ports) => json!({
                "id": h.id,
                "site": h.site,
                "address": h.address,
                "hostname": h.hostname,
                "state": h.state,
                "openPorts": ports.iter().map(|p| json!({
                    "protocol": p.protocol,
                    "port": p.port,
                    "service": p.name,
                    "product": p.product,
                    "version": p.version,
                    "since": time(p.since),
                })).collect::<Vec<_>>(),
                "tags": read::tags(&h),
                "owner": h.owner,
                "firstSeenAt": time(h.first_seen_at),
                "lastSeenAt": time(h.last_seen_at),
            }),
            Record::Change(e) => {
                let parse = |v: &Option<String>| {
                    v.as_deref()
                        .map(|t| {
                            serde_json::from_str::<Value>(t).unwrap_or_else(|_| Value::from(t))
                        })
                        .unwrap_or(Value::Null)
                };
                json!({
                    "id": e.id,
                    "at": time(e.at),
                    "kind": e.kind,
                    "severity": e.severity,
                    "site": e.site,
                    "address": e.address,
                    "protocol": e.protocol,
                    "port": e.port,
                    "summary": e.summary,
                    "scanId": e.scan_id,
                    "baselineScanId": e.baseline_scan_id,
                    "before": parse(&e.before),
                    "after": parse(&e.after),
                })
            }
        }
    }

    /// The cells, in [`Dataset::columns`] order.
    fn cells(self) -> Vec<String> {
        match self {
            Record::Host(h, ports) => {
                let tags = read::tags(&h);
                let open: Vec<String> = ports
                    .iter()
                    .map(|p| format!("{}/{}", p.protocol, p.port))
                    .collect();
                let services: Vec<String> = ports
                    .iter()
                    .filter_map(|p| {
                        let words: Vec<&str> = [&p.name, &p.product, &p.version]
                            .into_iter()
                            .filter_map(|w| w.as_deref())
                            .collect();
                        (!words.is_empty())
                            .then(|| format!("{}/{} {}", p.protocol, p.port, words.join(" ")))
                    })
                    .collect();
                vec![
                    h.id.to_string(),
                    h.site,
                    h.address,
                    h.hostname.unwrap_or_default(),
                    h.state,
                    open.join(" "),
                    services.join("; "),
                    tags.join(" "),
                    h.owner.unwrap_or_default(),
                    time(h.first_seen_at),
                    time(h.last_seen_at),
                ]
            }
            Record::Change(e) => vec![
                e.id.to_string(),
                time(e.at),
                e.kind,
                e.severity,
                e.site.unwrap_or_default(),
                e.address.unwrap_or_default(),
                e.protocol.unwrap_or_default(),
                e.port.map(|p| p.to_string()).unwrap_or_default(),
                e.summary,
                e.scan_id.map(|s| s.to_string()).unwrap_or_default(),
                e.before.unwrap_or_default(),
                e.after.unwrap_or_default(),
            ],
        }
    }
}

/// A cell a spreadsheet would not run: one starting with `=`, `+`, `-`, `@`, a tab or a
/// carriage return gets a leading `'`.
pub fn neutralise(cell: &str) -> Cow<'_, str> {
    match cell.as_bytes().first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') => format!("'{cell}").into(),
        _ => cell.into(),
    }
}

/// CSV records (RFC 4180 quoting by the `csv` crate, one writer for them all), each cell
/// neutralised.
fn csv_records(records: impl IntoIterator<Item = Vec<String>>) -> AppResult<Vec<u8>> {
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::with_capacity(4096));
    for cells in records {
        writer
            .write_record(cells.iter().map(|c| match neutralise(c) {
                Cow::Borrowed(c) => Cow::Borrowed(c.as_bytes()),
                Cow::Owned(c) => Cow::Owned(c.into_bytes()),
            }))
            .map_err(|e| AppError::Internal(e.into()))?;
    }
    writer
        .into_inner()
        .map_err(|e| AppError::Internal(anyhow::anyhow!("csv: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_neutralised_and_others_kept() {
        for (cell, out) in [
            ("=HYPERLINK(\"x\")", "'=HYPERLINK(\"x\")"),
            ("+1", "'+1"),
            ("-2", "'-2"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("\rx", "'\rx"),
            ("nginx", "nginx"),
            ("127.0.0.1", "127.0.0.1"),
            ("", ""),
            ("a=b", "a=b"),
        ] {
            assert_eq!(neutralise(cell), out, "{cell:?}");
        }
    }

    #[test]
    fn a_csv_line_quotes_what_needs_quoting() -> AppResult<()> {
        let line = csv_records([["a", "b,c", "say \"hi\"", "=1+1", "x\ny"]
            .map(str::to_owned)
            .to_vec()])?;
        assert_eq!(
            String::from_utf8_lossy(&line),
            "a,\"b,c\",\"say \"\"hi\"\"\",'=1+1,\"x\ny\"\r\n"
        );
        Ok(())
    }

    #[test]
    fn export_files_are_named_by_dataset_and_format() {
        assert_eq!(
            Dataset::parse_file("hosts.csv"),
            Some((Dataset::Hosts, Format::Csv))
        );
        assert_eq!(
            Dataset::parse_file("changes.json"),
            Some((Dataset::Changes, Format::Json))
        );
        for bad in [
            "hosts",
            "hosts.xml",
            "scans.csv",
            "../hosts.csv",
            "hosts.csv.json",
        ] {
            assert_eq!(Dataset::parse_file(bad), None, "{bad}");
        }
    }
}
