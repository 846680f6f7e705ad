//! The scanner: scan configs and typed targets (input), scope checks, nmap command profiles,
//! child processes, the job runner and its phases (nmap, the HTTP probe, screenshots), and the
//! mapping of what nmap found onto the
//! stored result tree.

pub mod assemble;
pub mod config;
pub mod findings;
pub mod http_probe;
pub mod job;
pub mod nmap;
pub mod ports;
pub mod process;
pub mod progress;
pub mod runner;
pub mod scope;
pub mod screenshot;
pub mod targets;
pub mod tls;
