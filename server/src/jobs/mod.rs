//! Running scans as jobs on the job engine (apalis): the queue, the worker that takes jobs,
//! the runner (claims under the global limit, leases, cancel requests, take-over of scans of
//! lost workers, shutdown) and one scan's run through its phases to the completion pipeline;
//! the deliveries of alerts (`alerts`).

pub mod agents;
pub mod alerts;
pub mod queue;
pub mod runner;
pub mod scan;
pub mod scheduler;
pub mod wire;
pub mod worker;
