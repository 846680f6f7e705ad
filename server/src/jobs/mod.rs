//! Running scans as jobs: the runner (bounded concurrency, cancellation, shutdown, recovery
//! at start) and one scan's run through its phases to the completion pipeline.

pub mod runner;
pub mod scan;
