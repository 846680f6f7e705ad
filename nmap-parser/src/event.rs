//! The events the streaming reader yields, and how a run is assembled from them.

use serde::{Deserialize, Serialize};

use crate::model::{Host, NmapRun, RunInfo, RunStats, ScanInfo, Script, TaskPhase, TaskProgress};

/// Something the document reported, in document order. Produced by [`crate::NmapReader`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", content = "data", rename_all = "snake_case")]
pub enum Event {
    /// The `<nmaprun>` root was opened: scanner, command line, start time. Always first.
    RunStart(RunInfo),
    /// A `<scaninfo>`: one scan type and its ports.
    ScanInfo(ScanInfo),
    /// A scan phase began (`<taskbegin>`, written with `-v` or `--stats-every`).
    TaskBegin(TaskPhase),
    /// Progress of the current phase (`<taskprogress>`, written with `--stats-every`).
    TaskProgress(TaskProgress),
    /// A scan phase ended (`<taskend>`).
    TaskEnd(TaskPhase),
    /// A pre-scan NSE script finished (`<prescript>`).
    PreScript(Script),
    /// nmap found a host up during discovery, before scanning it (`<hosthint>`; status,
    /// addresses and hostnames only). The full result follows later as [`Event::Host`].
    HostHint(Host),
    /// A `<host>` is complete (emitted when `</host>` is read).
    Host(Host),
    /// A post-scan NSE script finished (`<postscript>`).
    PostScript(Script),
    /// The run's final statistics (`<runstats>`).
    RunStats(RunStats),
}

impl NmapRun {
    /// Folds one event into the run. Progress events and host hints carry nothing the finished
    /// run keeps, and are ignored.
    pub fn apply_event(&mut self, event: Event) {
        match event {
            Event::RunStart(info) => {
                self.scanner = info.scanner;
                self.args = info.args;
                self.version = info.version;
                self.start = info.start;
                self.start_str = info.start_str;
                self.xml_output_version = info.xml_output_version;
            }
            Event::ScanInfo(info) => self.scaninfo.push(info),
            Event::PreScript(script) => self.prescripts.push(script),
            Event::Host(host) => self.hosts.push(host),
            Event::PostScript(script) => self.postscripts.push(script),
            Event::RunStats(stats) => self.runstats = Some(stats),
            Event::TaskBegin(_)
            | Event::TaskProgress(_)
            | Event::TaskEnd(_)
            | Event::HostHint(_) => {}
        }
    }
}
