//! The scanner's input side: scan configs (YAML) and typed port lists. Everything a user types
//! is parsed into these types before anything runs.

pub mod config;
pub mod ports;
