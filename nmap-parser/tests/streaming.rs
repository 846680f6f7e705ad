//! The streaming reader: event order, progress events, and what survives a cut-short document.

mod common;

use std::io::{self, BufReader, Read};

use common::{NMAP_SAMPLES, data};
use nmap_parser::{
    Event, NmapReader, NmapRun, ParseError, PortState, TaskProgress, parse, parse_lenient,
};

fn events(bytes: &[u8]) -> Vec<Event> {
    NmapReader::new(bytes)
        .collect::<Result<Vec<_>, _>>()
        .expect("events")
}

/// A short name per event, to compare sequences.
fn label(event: &Event) -> String {
    match event {
        Event::RunStart(_) => "start".to_owned(),
        Event::ScanInfo(_) => "scaninfo".to_owned(),
        Event::TaskBegin(t) => format!("begin {}", t.task),
        Event::TaskProgress(t) => format!("progress {} {:?}", t.task, t.percent),
        Event::TaskEnd(t) => format!("end {}", t.task),
        Event::PreScript(s) => format!("prescript {}", s.id),
        Event::HostHint(h) => format!("hint {}", h.addresses[0].addr),
        Event::Host(h) => format!("host {}", h.addresses[0].addr),
        Event::PostScript(s) => format!("postscript {}", s.id),
        Event::RunStats(_) => "runstats".to_owned(),
    }
}

#[test]
fn reader_yields_task_progress_between_hosts_when_nmap_ran_with_stats_every() {
    let events = events(&data("nmap_stats_every.xml"));
    let labels: Vec<String> = events.iter().map(label).collect();
    assert_eq!(
        labels,
        [
            "start",
            "scaninfo",
            "begin Ping Scan",
            "end Ping Scan",
            "begin SYN Stealth Scan",
            "progress SYN Stealth Scan Some(42.1)",
            "progress SYN Stealth Scan Some(81.35)",
            "end SYN Stealth Scan",
            "host 127.0.0.2",
            "host 127.0.0.3",
            "begin Ping Scan",
            "end Ping Scan",
            "begin SYN Stealth Scan",
            "progress SYN Stealth Scan Some(55.0)",
            "end SYN Stealth Scan",
            "host 127.0.0.4",
            "host 127.0.0.5",
            "runstats",
        ]
    );

    let Event::TaskProgress(progress) = &events[5] else {
        panic!("expected progress, got {:?}", events[5]);
    };
    assert_eq!(
        *progress,
        TaskProgress {
            task: "SYN Stealth Scan".to_owned(),
            time: Some(1_795_226_102),
            percent: Some(42.10),
            remaining: Some(5),
            etc: Some(1_795_226_107),
        }
    );
    let Event::TaskEnd(end) = &events[7] else {
        panic!("expected taskend, got {:?}", events[7]);
    };
    assert_eq!(end.extra_info.as_deref(), Some("2000 total ports"));
    assert_eq!(end.time, Some(1_795_226_105));
}

#[test]
fn parse_returns_extraports_when_sample_has_summarised_ports() {
    let run = parse(&data("nmap_stats_every.xml")[..]).expect("parse");
    assert_eq!(run.hosts.len(), 4);
    let host = &run.hosts[0];
    assert_eq!(host.extra_ports.len(), 1);
    assert_eq!(host.extra_ports[0].state, PortState::Closed);
    assert_eq!(host.extra_ports[0].count, 999);
    let reason = &host.extra_ports[0].reasons[0];
    assert_eq!((reason.reason.as_str(), reason.count), ("reset", 999));
    assert_eq!(reason.ports.as_deref(), Some("1-21,23-1000"));
    assert_eq!(
        run.hosts[3]
            .open_ports()
            .map(|p| p.portid)
            .collect::<Vec<_>>(),
        [80, 443]
    );
    assert_eq!(
        run.args.as_deref(),
        Some("nmap -sS -p 1-1000 --max-hostgroup 2 --stats-every 2s -oX - 127.0.0.2-5")
    );
}

#[test]
fn reader_yields_host_hints_when_scan_is_unprivileged() {
    let labels: Vec<String> = events(&data("nmap_sV_unpriv.xml"))
        .iter()
        .map(label)
        .collect();
    assert_eq!(
        labels,
        [
            "start",
            "scaninfo",
            "hint 127.0.0.2",
            "hint 127.0.0.3",
            "host 127.0.0.2",
            "host 127.0.0.3",
            "runstats",
        ]
    );
}

/// Gives `data`, then fails: proves a host is handed out before the rest of the input is read.
struct FailAfter {
    data: Vec<u8>,
    at: usize,
}

impl Read for FailAfter {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.at == self.data.len() {
            return Err(io::Error::new(io::ErrorKind::BrokenPipe, "scanner died"));
        }
        let n = buf.len().min(self.data.len() - self.at);
        buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

#[test]
fn reader_yields_host_before_reading_further_when_host_is_complete() {
    let bytes = data("nmap_sn_root.xml");
    let text = String::from_utf8(bytes).expect("utf8");
    let first_host_end = text.find("</host>").expect("host") + "</host>".len();
    let source = FailAfter {
        data: text.as_bytes()[..first_host_end].to_vec(),
        at: 0,
    };
    let mut reader = NmapReader::new(BufReader::with_capacity(16, source));

    assert!(matches!(reader.next_event(), Ok(Some(Event::RunStart(_)))));
    let Ok(Some(Event::Host(host))) = reader.next_event() else {
        panic!("expected the first host");
    };
    assert_eq!(host.addresses[0].addr, "127.0.0.0");
    let err = reader.next_event().expect_err("the source fails next");
    assert!(matches!(err, ParseError::Io { .. }), "{err:?}");
    assert_eq!(err.position(), Some(first_host_end as u64));
    // Fused after an error.
    assert!(matches!(reader.next_event(), Ok(None)));
    assert!(reader.next().is_none());
}

#[test]
fn parse_lenient_returns_complete_hosts_and_error_when_input_is_truncated() {
    let text = String::from_utf8(data("nmap_sn_root.xml")).expect("utf8");
    // Cut inside the fifth host (127.0.0.4).
    let cut = text.find(r#"addr="127.0.0.4""#).expect("host 5");

    let err = parse(&text.as_bytes()[..cut]).expect_err("truncated");
    assert!(err.is_truncation(), "{err:?}");

    let (run, err) = parse_lenient(&text.as_bytes()[..cut]);
    let err = err.expect("an error");
    assert!(
        matches!(err, ParseError::Truncated { position } if position == cut as u64),
        "{err:?}"
    );
    let addrs: Vec<&str> = run
        .hosts
        .iter()
        .map(|h| h.addresses[0].addr.as_str())
        .collect();
    assert_eq!(addrs, ["127.0.0.0", "127.0.0.1", "127.0.0.2", "127.0.0.3"]);
    assert_eq!(run.scanner, "nmap");
    assert!(run.runstats.is_none());

    // The streaming reader yields the same hosts, then the error.
    let results: Vec<Result<Event, ParseError>> =
        NmapReader::new(&text.as_bytes()[..cut]).collect();
    let hosts = results
        .iter()
        .filter(|r| matches!(r, Ok(Event::Host(_))))
        .count();
    assert_eq!(hosts, 4);
    assert!(matches!(
        results.last(),
        Some(Err(ParseError::Truncated { .. }))
    ));
}

#[test]
fn parse_lenient_returns_whole_run_when_input_is_complete() {
    let bytes = data("nmap_sV_root.xml");
    let (run, err) = parse_lenient(&bytes[..]);
    assert!(err.is_none());
    assert_eq!(run, parse(&bytes[..]).expect("parse"));
}

#[test]
fn parse_lenient_keeps_every_complete_host_when_cut_at_any_byte() {
    for name in NMAP_SAMPLES {
        let bytes = data(name);
        let full = parse(&bytes[..]).expect("parse");
        let root_end = bytes
            .windows(b"</nmaprun>".len())
            .position(|w| w == b"</nmaprun>")
            .expect("root end")
            + b"</nmaprun>".len();
        let mut previous_hosts = 0;
        for cut in 0..root_end {
            let (run, err) = parse_lenient(&bytes[..cut]);
            let err = err.unwrap_or_else(|| panic!("{name} cut at {cut}: no error"));
            assert!(
                matches!(err, ParseError::Truncated { .. } | ParseError::Empty),
                "{name} cut at {cut}: {err:?}"
            );
            // Hosts come out whole and in order, never half-built.
            assert!(run.hosts.len() >= previous_hosts);
            assert_eq!(
                run.hosts[..],
                full.hosts[..run.hosts.len()],
                "{name} cut at {cut}"
            );
            previous_hosts = run.hosts.len();
        }
        assert_eq!(previous_hosts, full.hosts.len(), "{name}");
    }
}

#[test]
fn apply_event_builds_same_run_as_parse_when_events_are_folded() {
    let bytes = data("nmap_ssl_weak_tls10_expired.xml");
    let mut run = NmapRun::default();
    for event in NmapReader::new(&bytes[..]) {
        run.apply_event(event.expect("event"));
    }
    assert_eq!(run, parse(&bytes[..]).expect("parse"));
}

#[test]
fn reader_stops_when_root_element_closes() {
    let mut bytes = data("nmap_sn_root.xml");
    bytes.extend_from_slice(b"\n<garbage that is never read");
    let run = parse(&bytes[..]).expect("parse");
    assert_eq!(run.hosts.len(), 16);
}
