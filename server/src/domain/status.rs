//! The lifecycle of a scan.

/// Lifecycle of a scan (stored as its SCREAMING_SNAKE name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScanStatus {
    Queued,
    Running,
    Completed,
    Failed,
    Cancelled,
    Interrupted,
}

impl ScanStatus {
    pub const ALL: [ScanStatus; 6] = [
        ScanStatus::Queued,
        ScanStatus::Running,
        ScanStatus::Completed,
        ScanStatus::Failed,
        ScanStatus::Cancelled,
        ScanStatus::Interrupted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ScanStatus::Queued => "QUEUED",
            ScanStatus::Running => "RUNNING",
            ScanStatus::Completed => "COMPLETED",
            ScanStatus::Failed => "FAILED",
            ScanStatus::Cancelled => "CANCELLED",
            ScanStatus::Interrupted => "INTERRUPTED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }

    pub fn is_terminal(self) -> bool {
        !matches!(self, ScanStatus::Queued | ScanStatus::Running)
    }
}

crate::domain::facts::text_enum! {
    /// Where a scan is in its life: waiting, one of its phases, storing its results, or done.
    ScanPhase {
        Queued => "queued",
        Starting => "starting",
        Ping => "ping",
        Tcp => "tcp",
        Udp => "udp",
        Service => "service",
        Http => "http",
        Tls => "tls",
        Screenshot => "screenshot",
        /// An import's rows are being stored.
        Importing => "importing",
        /// Its chunks are running (a chunked scan: each chunk is a scan job of its own).
        Chunks => "chunks",
        /// Results stored; findings and reports being written (the completion pipeline).
        Finishing => "finishing",
        Done => "done",
    }
}

impl From<crate::domain::config::Phase> for ScanPhase {
    fn from(phase: crate::domain::config::Phase) -> Self {
        use crate::domain::config::Phase;
        match phase {
            Phase::Ping => ScanPhase::Ping,
            Phase::Tcp => ScanPhase::Tcp,
            Phase::Udp => ScanPhase::Udp,
            Phase::Service => ScanPhase::Service,
            Phase::Http => ScanPhase::Http,
            Phase::Tls => ScanPhase::Tls,
            Phase::Screenshot => ScanPhase::Screenshot,
        }
    }
}
