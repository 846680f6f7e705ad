//! Targets typed by the user (ad-hoc scans): each entry must be one IP address or one CIDR.
//! Nothing else is accepted, so no user text can ever become an nmap option.

use std::collections::HashSet;
use std::net::IpAddr;

use ipnet::IpNet;

use super::config::{MAX_CIDR_ADDRESSES, Target};
use crate::error::AppError;

/// Most entries one ad-hoc scan may list.
pub const MAX_TARGET_ENTRIES: usize = 1024;

/// Parses ad-hoc target entries (`127.0.0.1`, `127.0.10.0/28`, `::1`).
pub fn parse_targets(entries: &[String]) -> Result<Vec<Target>, AppError> {
    if entries.is_empty() {
        return Err(AppError::validation("give at least one target"));
    }
    if entries.len() > MAX_TARGET_ENTRIES {
        return Err(AppError::validation(format!(
            "too many targets ({}; {MAX_TARGET_ENTRIES} max): use CIDRs",
            entries.len()
        )));
    }
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(entries.len());
    for entry in entries {
        let target = parse_target(entry)?;
        if seen.insert(target.clone()) {
            out.push(target);
        }
    }
    Ok(out)
}

/// One entry: an IP address or a CIDR without host bits, at most [`MAX_CIDR_ADDRESSES`].
pub fn parse_target(entry: &str) -> Result<Target, AppError> {
    let text = entry.trim();
    let shown: String = text.chars().take(64).collect();
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Ok(Target::Ip(ip));
    }
    let Ok(net) = text.parse::<IpNet>() else {
        return Err(AppError::validation(format!(
            "target {shown:?} is not an IP address or a CIDR such as 127.0.10.0/28"
        )));
    };
    if net.network() != net.addr() {
        return Err(AppError::validation(format!(
            "target {text} has host bits set; did you mean {}/{}?",
            net.network(),
            net.prefix_len()
        )));
    }
    let target = Target::Cidr(net);
    if target.address_count() > MAX_CIDR_ADDRESSES {
        return Err(AppError::validation(format!(
            "target {text} has {} addresses; one entry may have at most {MAX_CIDR_ADDRESSES}",
            target.address_count()
        )));
    }
    Ok(target)
}

impl Target {
    /// The target as a network (an address is a /32 or /128).
    pub fn as_net(&self) -> IpNet {
        match self {
            Target::Ip(ip) => IpNet::from(*ip),
            Target::Cidr(net) => *net,
        }
    }

    pub fn contains(&self, ip: &IpAddr) -> bool {
        match self {
            Target::Ip(own) => own == ip,
            Target::Cidr(net) => net.contains(ip),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_addresses_and_networks() {
        let t = parse_targets(&["127.0.0.1".into(), " 127.0.10.0/28 ".into(), "::1".into()])
            .expect("valid");
        assert_eq!(
            t.iter().map(ToString::to_string).collect::<Vec<_>>(),
            ["127.0.0.1", "127.0.10.0/28", "::1"]
        );
    }

    #[test]
    fn duplicates_collapse() {
        let t = parse_targets(&["127.0.0.1".into(), "127.0.0.1".into()]).expect("valid");
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn refuses_anything_that_could_become_an_option_or_a_command() {
        for bad in [
            "-oN /tmp/x",
            "127.0.0.1 --script=x",
            "$(id)",
            ";ls",
            "127.0.0.1;ls",
            "local host",
            "localhost",
            "-iL /etc/passwd",
            "",
            "127.0.0.1/0",
            "0.0.0.0/0",
            "127.0.0.0/8",
            "127.0.0.1/33",
        ] {
            let err = parse_target(bad).expect_err(bad);
            assert_eq!(err.code(), "VALIDATION", "{bad}");
        }
        assert_eq!(
            parse_targets(&[]).expect_err("must fail").code(),
            "VALIDATION"
        );
    }

    #[test]
    fn host_bits_error_suggests_the_network() {
        let err = parse_target("127.0.0.1/24").expect_err("must fail");
        assert!(err.to_string().contains("127.0.0.0/24"), "{err}");
    }
}
