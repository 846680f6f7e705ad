//! Scan scope: which networks may be scanned, which never, and how many addresses one scan
//! may cover. Checked before a scan is created; a miss is `SCOPE`.

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use super::config::Target;
use crate::error::AppError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scope {
    /// A target must lie wholly inside one of these.
    pub allowed: Vec<IpNet>,
    /// A target must not overlap any of these (wins over `allowed`).
    pub denied: Vec<IpNet>,
    /// Most addresses one scan may cover (all its targets together).
    pub max_addresses: u64,
}

impl Default for Scope {
    /// Loopback only: nothing else is scanned until an admin widens the scope.
    fn default() -> Self {
        Self {
            allowed: vec![
                "127.0.0.0/8".parse().expect("valid net"),
                "::1/128".parse().expect("valid net"),
            ],
            denied: Vec::new(),
            max_addresses: 65_536,
        }
    }
}

impl Scope {
    /// Refuses targets outside the allowed networks, overlapping a denied one, or too many
    /// addresses in all.
    pub fn check<'a>(&self, targets: impl IntoIterator<Item = &'a Target>) -> Result<(), AppError> {
        let mut total: u128 = 0;
        for target in targets {
            let net = target.as_net();
            if let Some(denied) = self
                .denied
                .iter()
                .find(|d| d.contains(&net) || net.contains(*d))
            {
                return Err(AppError::Scope(format!(
                    "target {target} overlaps the denied range {denied}"
                )));
            }
            if !self.allowed.iter().any(|a| a.contains(&net)) {
                let allowed: Vec<String> = self.allowed.iter().map(ToString::to_string).collect();
                return Err(AppError::Scope(format!(
                    "target {target} is outside the allowed ranges ({}); an admin can change the scope in the settings",
                    if allowed.is_empty() {
                        "none".to_owned()
                    } else {
                        allowed.join(", ")
                    }
                )));
            }
            total = total.saturating_add(target.address_count());
        }
        if total > u128::from(self.max_addresses) {
            return Err(AppError::Scope(format!(
                "the scan covers {total} addresses; the scope allows at most {} per scan",
                self.max_addresses
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::targets::parse_target;

    fn t(s: &str) -> Target {
        parse_target(s).expect("valid target")
    }

    #[test]
    fn default_scope_is_loopback_only() {
        let scope = Scope::default();
        assert!(scope.check([&t("127.0.0.1"), &t("127.1.0.0/17")]).is_ok());
        assert!(scope.check([&t("::1")]).is_ok());
        // Pure checks, nothing is scanned: documentation ranges (RFC 5737) and the
        // neighbours of 127.0.0.0/8.
        for outside in [
            "192.0.2.1",
            "198.51.100.0/24",
            "126.255.255.255",
            "128.0.0.1",
            "::2",
        ] {
            assert_eq!(
                scope.check([&t(outside)]).expect_err("must fail").code(),
                "SCOPE",
                "{outside}"
            );
        }
    }

    #[test]
    fn denied_ranges_win_and_overlap_counts() {
        let scope = Scope {
            denied: vec!["127.0.5.0/24".parse().expect("present")],
            ..Scope::default()
        };
        assert_eq!(
            scope
                .check([&t("127.0.5.9")])
                .expect_err("must fail")
                .code(),
            "SCOPE"
        );
        // A larger target that contains a denied range is refused too.
        assert_eq!(
            scope
                .check([&t("127.0.0.0/16")])
                .expect_err("must fail")
                .code(),
            "SCOPE"
        );
        assert!(scope.check([&t("127.0.6.0/24")]).is_ok());
    }

    #[test]
    fn address_cap_counts_all_targets() {
        let scope = Scope {
            max_addresses: 300,
            ..Scope::default()
        };
        assert!(scope.check([&t("127.0.1.0/24"), &t("127.0.2.1")]).is_ok());
        let err = scope
            .check([&t("127.0.1.0/24"), &t("127.0.2.0/25")])
            .expect_err("must fail");
        assert_eq!(err.code(), "SCOPE");
        assert!(err.to_string().contains("384"), "{err}");
    }

    #[test]
    fn address_count_saturates_when_the_network_is_all_of_ipv6() {
        let all = Target::Cidr("::/0".parse().expect("net"));
        assert_eq!(all.address_count(), u128::MAX);
        let half = Target::Cidr("::/1".parse().expect("net"));
        assert_eq!(half.address_count(), 1u128 << 127);
        // `::/0` used to count as one address and pass as a target.
        let err = parse_target("::/0").expect_err("too large");
        assert_eq!(err.code(), "VALIDATION");
        let scope = Scope {
            allowed: vec!["::/0".parse().expect("present")],
            ..Scope::default()
        };
        let err = scope.check([&all, &all]).expect_err("too many");
        assert_eq!(err.code(), "SCOPE");
    }
}
