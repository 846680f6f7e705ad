//! Streaming parser for nmap and masscan XML output.
//!
//! Turns the XML nmap writes with `-oX` (and masscan with `-oX`, which imitates it) into typed
//! results: hosts, ports, services, OS guesses and NSE script output including the structured
//! `<elem>`/`<table>` tree (`ssl-cert` subjects and validity, `ssl-enum-ciphers` grades, …).
//!
//! Two ways in:
//! - [`NmapReader`] yields [`Event`]s while the document is read: the run header, progress
//!   (`<taskprogress>` with `--stats-every`), each host as soon as `</host>` is read, and the final
//!   statistics. Memory stays bounded by one host, so it suits live nmap output and large imports.
//! - [`parse`] / [`parse_str`] collect everything into an [`NmapRun`]; [`parse_lenient`] also
//!   returns what was read before an error (the complete hosts of an interrupted scan).
//!
//! The input is treated as untrusted (uploads): only nmap's `<!DOCTYPE nmaprun>` is accepted,
//! entity declarations and references beyond XML's predefined five are refused, nothing external
//! is ever fetched, and size, depth and per-host/per-script [`Limits`] apply. The crate does no I/O
//! of its own: it reads the [`std::io::BufRead`] it is given.
//!
//! ```
//! let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
//! <!DOCTYPE nmaprun>
//! <nmaprun scanner="nmap" args="nmap -sV 127.0.0.1" start="1795225603" version="7.93">
//! <host><status state="up" reason="localhost-response"/>
//! <address addr="127.0.0.1" addrtype="ipv4"/>
//! <ports><port protocol="tcp" portid="22"><state state="open" reason="syn-ack"/>
//! <service name="ssh" product="OpenSSH" method="probed" conf="10"/></port></ports>
//! </host>
//! <runstats><finished time="1795225616" elapsed="12.77" exit="success"/>
//! <hosts up="1" down="0" total="1"/></runstats>
//! </nmaprun>"#;
//!
//! let run = nmap_parser::parse_str(xml)?;
//! let host = &run.hosts[0];
//! assert_eq!(host.ipv4(), Some([127, 0, 0, 1].into()));
//! let ssh = host.port(nmap_parser::Protocol::Tcp, 22).expect("port 22");
//! assert!(ssh.is_open());
//! assert_eq!(ssh.service.as_ref().and_then(|s| s.product.as_deref()), Some("OpenSSH"));
//! assert_eq!(run.runstats.map(|s| s.hosts_up), Some(1));
//! # Ok::<(), nmap_parser::ParseError>(())
//! ```

mod error;
mod event;
mod guard;
mod input;
mod limits;
mod model;
mod reader;
pub mod synthetic;

use std::io::BufRead;

pub use error::ParseError;
pub use event::Event;
pub use limits::Limits;
pub use model::{
    AddrType, Address, ExtraPorts, ExtraReason, Host, HostState, HostStatus, Hostname, NmapRun,
    OsClass, OsMatch, Port, PortState, Protocol, RunInfo, RunStats, ScanInfo, Script, ScriptElem,
    Service, TaskPhase, TaskProgress,
};
pub use reader::NmapReader;

/// Parses a whole document with the default [`Limits`].
///
/// Wrap a `File` or a child's stdout in a [`std::io::BufReader`]; `&[u8]` works as is. Any error
/// (including a truncated document) fails the whole parse: use [`parse_lenient`] to keep the
/// hosts read before it, or [`NmapReader`] to process hosts as they come.
pub fn parse<R: BufRead>(reader: R) -> Result<NmapRun, ParseError> {
    parse_with_limits(reader, Limits::default())
}

/// Parses a whole document with the given limits. See [`parse`].
pub fn parse_with_limits<R: BufRead>(reader: R, limits: Limits) -> Result<NmapRun, ParseError> {
    match parse_lenient_with_limits(reader, limits) {
        (run, None) => Ok(run),
        (_, Some(err)) => Err(err),
    }
}

/// Parses a document held in a string. See [`parse`].
pub fn parse_str(xml: &str) -> Result<NmapRun, ParseError> {
    parse(xml.as_bytes())
}

/// Parses as much as possible: returns the run with every host completed before the first
/// error, and that error. Meant for interrupted scans (no `</nmaprun>`, no runstats) and
/// partial files; callers decide whether a partial result is acceptable.
pub fn parse_lenient<R: BufRead>(reader: R) -> (NmapRun, Option<ParseError>) {
    parse_lenient_with_limits(reader, Limits::default())
}

/// [`parse_lenient`] with the given limits.
pub fn parse_lenient_with_limits<R: BufRead>(
    reader: R,
    limits: Limits,
) -> (NmapRun, Option<ParseError>) {
    let mut run = NmapRun::default();
    let mut reader = NmapReader::with_limits(reader, limits);
    loop {
        match reader.next_event() {
            Ok(Some(event)) => run.apply_event(event),
            Ok(None) => return (run, None),
            Err(err) => return (run, Some(err)),
        }
    }
}
