//! What an agent and the server say to each other over the agent's websocket
//! (`GET /api/agent`, JSON text frames). The agent dials out and authenticates with its token;
//! the server hands it the scan jobs of its pool and stores what it sends back, under the
//! lease of each run (a fencing token, as for a worker's run).

use serde::{Deserialize, Serialize};

use super::runner::StopReason;
use super::scan::{ProgressReport, RunReport};

/// The path of the agents' websocket.
pub const PATH: &str = "/api/agent";
/// The largest message either side accepts (a result of a large scan, with its files).
pub const MAX_MESSAGE_BYTES: usize = 64 << 20;
/// How often an agent pings the server (a websocket ping; the server answers with a pong).
pub const PING_EVERY: std::time::Duration = std::time::Duration::from_secs(5);
/// A side that hears nothing for this long takes the connection for dead (six pings missed).
pub const SILENCE_LIMIT: std::time::Duration = std::time::Duration::from_secs(30);
/// Close code: the agent's token is not (or no longer) valid.
pub const CLOSE_REFUSED: u16 = 4403;

/// A run the agent holds: running, or ended with its result not yet stored by the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldRun {
    pub scan_id: i32,
    pub lease: String,
}

/// Agent → server.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AgentMessage {
    /// The first message of every connection.
    Hello {
        version: String,
        /// Scans it runs at once.
        slots: u32,
        /// Runs it still holds (after a reconnection): the server adopts those whose lease is
        /// still theirs and says `Drop` for the others.
        held: Vec<HeldRun>,
    },
    Progress {
        scan_id: i32,
        lease: String,
        report: ProgressReport,
    },
    /// A run ended (its report carries the files it left: raw XML, screenshots); sent again
    /// after a reconnection until the server says `Stored`.
    Finished {
        scan_id: i32,
        lease: String,
        report: RunReport,
    },
}

/// Server → agent.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    Welcome {
        agent: String,
        pool: String,
        heartbeat_secs: u64,
    },
    /// Run this scan (its config as stored) under `lease`.
    Run {
        scan_id: i32,
        lease: String,
        config_yaml: String,
        attempt: i32,
    },
    /// Stop this run (cancelled, or the scan is no longer the run's).
    Stop { scan_id: i32, reason: StopReason },
    /// The result of this run was handled (stored, or refused because the run lost its
    /// scan): forget it.
    Stored { scan_id: i32 },
    /// This run's lease is no longer the scan's: stop it and send nothing more.
    Drop { scan_id: i32 },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::status::ScanPhase;
    use crate::jobs::scan::Ended;

    #[test]
    fn messages_are_tagged_json_and_round_trip() {
        let hello = AgentMessage::Hello {
            version: "1.0".into(),
            slots: 2,
            held: vec![HeldRun {
                scan_id: 7,
                lease: "l".into(),
            }],
        };
        let text = serde_json::to_string(&hello).expect("json");
        assert!(text.starts_with(r#"{"type":"hello""#), "{text}");
        let back: AgentMessage = serde_json::from_str(&text).expect("parse");
        assert!(matches!(back, AgentMessage::Hello { slots: 2, held, .. } if held.len() == 1));

        let progress = AgentMessage::Progress {
            scan_id: 1,
            lease: "l".into(),
            report: ProgressReport {
                phase: ScanPhase::Tcp,
                percent: 42.5,
                message: None,
                hosts_up: 1,
                open_ports: 3,
                command_lines: None,
            },
        };
        let text = serde_json::to_string(&progress).expect("json");
        assert!(text.contains(r#""phase":"tcp""#), "{text}");

        let finished = AgentMessage::Finished {
            scan_id: 1,
            lease: "l".into(),
            report: RunReport {
                ended: Ended::Stopped(StopReason::Cancelled { by: "ann".into() }),
                sites: Vec::new(),
                message: None,
                artifacts: Vec::new(),
                coverage: Default::default(),
            },
        };
        let back: AgentMessage =
            serde_json::from_str(&serde_json::to_string(&finished).expect("json")).expect("parse");
        assert!(matches!(
            back,
            AgentMessage::Finished { report: RunReport { ended: Ended::Stopped(StopReason::Cancelled { by }), .. }, .. } if by == "ann"
        ));
        let stop: ServerMessage =
            serde_json::from_str(r#"{"type":"stop","scan_id":3,"reason":"Shutdown"}"#)
                .expect("parse");
        assert!(matches!(
            stop,
            ServerMessage::Stop {
                scan_id: 3,
                reason: StopReason::Shutdown
            }
        ));
        assert!(serde_json::from_str::<ServerMessage>(r#"{"type":"format_disk"}"#).is_err());
    }
}
