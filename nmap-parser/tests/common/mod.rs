//! Shared helpers for the integration tests.

#![allow(dead_code)]

use std::path::PathBuf;

/// The bytes of a fixture in `tests/data/`.
pub fn data(name: &str) -> Vec<u8> {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests", "data", name]
        .iter()
        .collect();
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// Every recorded nmap sample.
pub const NMAP_SAMPLES: &[&str] = &[
    "nmap_sV_root.xml",
    "nmap_sV_unpriv.xml",
    "nmap_sn_root.xml",
    "nmap_sn_unpriv.xml",
    "nmap_ssl_root.xml",
    "nmap_ssl_unpriv.xml",
    "nmap_ssl_weak_tls10_expired.xml",
];

/// Every fixture, recorded or hand-written.
pub const ALL_SAMPLES: &[&str] = &[
    "nmap_sV_root.xml",
    "nmap_sV_unpriv.xml",
    "nmap_sn_root.xml",
    "nmap_sn_unpriv.xml",
    "nmap_ssl_root.xml",
    "nmap_ssl_unpriv.xml",
    "nmap_ssl_weak_tls10_expired.xml",
    "nmap_stats_every.xml",
    "masscan_syn_banners.xml",
];
