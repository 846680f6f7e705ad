//! Rules for outgoing notifications (issue 16's building blocks, no I/O): webhook signatures
//! per Standard Webhooks v1 (DESIGN §12) and which network addresses a notification may be
//! sent to (SSRF).
//!
//! Signing: `webhook-signature: v1,<base64 HMAC-SHA256(secret, "<id>.<timestamp>.<body>")>`
//! with a secret written `whsec_<base64 of the key>`.
//!
//! Targets: an address on loopback, private, link-local, shared (CGNAT), benchmarking,
//! unspecified, multicast, broadcast or documentation ranges is *internal*; a notification goes
//! there only when an admin allowed a network that holds it (settings). The check runs on every
//! address a host name resolves to, at send time (a name that resolves elsewhere later is
//! checked again).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use ipnet::IpNet;
use sha2::Sha256;

/// The prefix of a Standard Webhooks secret.
pub const SECRET_PREFIX: &str = "whsec_";

/// A webhook signing key (24–64 bytes), read from or written as `whsec_<base64>`.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(Vec<u8>);

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(…)")
    }
}

impl WebhookSecret {
    /// Reads `whsec_<base64>`; why not, in words a user can act on.
    pub fn parse(text: &str) -> Result<Self, String> {
        let Some(encoded) = text.trim().strip_prefix(SECRET_PREFIX) else {
            return Err(format!("a webhook secret starts with `{SECRET_PREFIX}`"));
        };
        let key = STANDARD
            .decode(encoded)
            .map_err(|_| format!("a webhook secret is `{SECRET_PREFIX}` and then base64"))?;
        if !(24..=64).contains(&key.len()) {
            return Err(format!(
                "a webhook secret holds 24 to 64 bytes, not {}",
                key.len()
            ));
        }
        Ok(WebhookSecret(key))
    }

    /// A new random key of 32 bytes.
    pub fn generate() -> Self {
        let mut key = vec![0u8; 32];
        getrandom::fill(&mut key).expect("the system's random source");
        WebhookSecret(key)
    }

    /// `whsec_<base64>`, as the receiver configures it.
    pub fn expose(&self) -> String {
        format!("{SECRET_PREFIX}{}", STANDARD.encode(&self.0))
    }

    /// The `webhook-signature` header's value for one delivery attempt.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }
}

/// Whether `ip` is on a network a notification must not reach unless an admin allowed it.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => internal_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => internal_v4(v4),
            None => internal_v6(v6),
        },
    }
}

fn internal_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0 // "this network"
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || a >= 240 // reserved
}

fn internal_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00 // unique local
        || (first & 0xffc0) == 0xfe80 // link-local
        || (first == 0x2001 && ip.segments()[1] == 0x0db8) // documentation
        || ip.to_ipv4().is_some_and(|v4| ip.segments()[..6] == [0; 6] && internal_v4(v4)) // IPv4-compatible
}

/// Refuses `ips` (what a target resolved to) when any is internal and outside `allowed`.
/// `Err` names the first refused address.
pub fn check_target(ips: &[IpAddr], allowed: &[IpNet]) -> Result<(), IpAddr> {
    match ips
        .iter()
        .find(|ip| is_internal(**ip) && !allowed.iter().any(|net| net.contains(*ip)))
    {
        Some(ip) => Err(*ip),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_as_the_standard_webhooks_reference() {
        // The specification's example (checked independently with Python's hmac).
        let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("parse");
        assert_eq!(
            secret.sign(
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1614265330,
                br#"{"test": 2432232314}"#
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        assert_eq!(secret.expose(), "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        assert_eq!(format!("{secret:?}"), "WebhookSecret(…)");
    }

    #[test]
    fn secrets_are_prefixed_base64_of_24_to_64_bytes() {
        assert!(WebhookSecret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_err());
        assert!(WebhookSecret::parse("whsec_not base64!").is_err());
        assert!(WebhookSecret::parse("whsec_c2hvcnQ=").is_err()); // 5 bytes
        let fresh = WebhookSecret::generate();
        assert_ne!(fresh, WebhookSecret::generate());
        assert_eq!(WebhookSecret::parse(&fresh.expose()), Ok(fresh));
    }

    #[test]
    fn internal_networks_are_refused_unless_allowed() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "198.18.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "2001:db8::1",
        ] {
            let ip: IpAddr = ip.parse().expect("ip");
            assert!(is_internal(ip), "{ip} is internal");
            assert_eq!(check_target(&[ip], &[]), Err(ip));
        }
        for ip in [
            "93.184.216.34",
            "1.1.1.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            let ip: IpAddr = ip.parse().expect("ip");
            assert!(!is_internal(ip), "{ip} is public");
        }
        let loopback: IpAddr = "127.0.0.1".parse().expect("ip");
        let public: IpAddr = "1.1.1.1".parse().expect("ip");
        let allowed: Vec<IpNet> = vec!["127.0.0.0/8".parse().expect("net")];
        assert_eq!(check_target(&[loopback, public], &allowed), Ok(()));
        // One internal address among the resolved ones is enough to refuse.
        let private: IpAddr = "10.0.0.1".parse().expect("ip");
        assert_eq!(check_target(&[public, private], &allowed), Err(private));
    }
}
