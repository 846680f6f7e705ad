//! The scanner: scan configs and typed targets (input), scope checks, nmap command profiles,
//! child processes, the job runner and its phases, and the mapping of what nmap found onto the
//! stored result tree.

pub mod assemble;
pub mod config;
pub mod findings;
pub mod job;
pub mod nmap;
pub mod ports;
pub mod process;
pub mod progress;
pub mod runner;
pub mod scope;
pub mod targets;
pub mod tls;
