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
