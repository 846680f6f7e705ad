//! The scanner: nmap command profiles, child processes, progress, the HTTP probe, TLS and
//! certificate reading, screenshots, the files a run leaves (`artifacts`), and the mapping of what nmap found onto the result tree.
//! It runs tools and reads their output; storing and scheduling are the layers above.

pub mod artifacts;
pub mod assemble;
pub mod findings;
pub mod http_probe;
pub mod nmap;
pub mod process;
pub mod progress;
pub mod screenshot;
pub mod tls;
