//! The result tree of a scan as the scanner and the importer build it, before it is stored:
//! sites → IPs → ports → services → certificate and TLS versions, and the counters derived
//! from it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::status::ScanStatus;

#[derive(Debug, Clone)]
pub struct NewScan {
    pub title: String,
    pub status: ScanStatus,
    pub config_id: Option<i32>,
    pub triggered_by: String,
    pub triggered_by_user_id: Option<i32>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub command_lines: Vec<Vec<String>>,
    /// The config the results are judged against (a snapshot), if any.
    pub config_yaml: Option<String>,
    pub sites: Vec<NewSite>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewSite {
    pub name: String,
    pub ips: Vec<NewIp>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewIp {
    pub address: String,
    pub hostname: Option<String>,
    /// `up`, `down` or `unknown`.
    pub status: String,
    pub ping_expected: Option<bool>,
    pub ping_actual: Option<bool>,
    pub ports: Vec<NewPort>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewPort {
    pub port: u16,
    pub protocol: String,
    /// nmap's state (`open`, `closed`, `filtered`, …) or `missing` for an expected port not seen.
    pub state: String,
    pub reason: Option<String>,
    pub expected: bool,
    /// Open although the config declared this address's ports and not this one.
    pub unexpected: bool,
    pub service: Option<NewService>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct NewService {
    pub name: Option<String>,
    pub product: Option<String>,
    pub version: Option<String>,
    pub extra_info: Option<String>,
    pub tunnel: Option<String>,
    pub cpe: Option<String>,
    pub http_status: Option<i32>,
    pub http_title: Option<String>,
    pub http_server: Option<String>,
    pub http_location: Option<String>,
    pub http_response_ms: Option<i32>,
    /// Path of the page's screenshot, relative to the data dir.
    pub screenshot_path: Option<String>,
    pub certificate: Option<NewCertificate>,
    pub tls_versions: Vec<NewTlsVersion>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct NewCertificate {
    pub subject: String,
    pub issuer: String,
    pub sans: Vec<String>,
    pub not_before: Option<DateTime<Utc>>,
    pub not_after: Option<DateTime<Utc>>,
    pub serial: Option<String>,
    pub sha256_fingerprint: Option<String>,
    pub key_type: Option<String>,
    pub key_bits: Option<i32>,
    pub signature_algorithm: Option<String>,
    pub self_signed: bool,
    pub pem: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct NewTlsVersion {
    pub version: String,
    pub ciphers: Vec<String>,
    pub grade: Option<String>,
}

/// Counters derived from a result tree (kept on the scan row for fast lists).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    pub hosts_total: i32,
    pub hosts_up: i32,
    pub open_ports: i32,
    pub services: i32,
    pub certificates: i32,
    pub unexpected_ports: i32,
    pub missing_ports: i32,
}

impl Counters {
    pub fn of(sites: &[NewSite]) -> Self {
        let mut c = Counters::default();
        for ip in sites.iter().flat_map(|s| &s.ips) {
            c.add_host(ip);
            for p in &ip.ports {
                c.add_port(p);
            }
        }
        c
    }

    pub fn add_host(&mut self, ip: &NewIp) {
        self.hosts_total += 1;
        if ip.status == "up" {
            self.hosts_up += 1;
        }
    }

    pub fn add_port(&mut self, p: &NewPort) {
        if p.state == "open" {
            self.open_ports += 1;
            if p.unexpected {
                self.unexpected_ports += 1;
            }
        } else if p.expected {
            self.missing_ports += 1;
        }
        if let Some(s) = &p.service {
            self.services += 1;
            if s.certificate.is_some() {
                self.certificates += 1;
            }
        }
    }
}
