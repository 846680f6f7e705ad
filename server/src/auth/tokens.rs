//! Random tokens (API keys, generated passwords) and their SHA-256 digests.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// Prefix of every API key token, so leaked keys are easy to recognise and scan for.
pub const API_KEY_PREFIX: &str = "ssk_";

/// `bytes` random bytes from the OS, URL-safe base64 encoded.
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    // The OS RNG failing is not recoverable: there is no safe fallback for key material.
    #[allow(clippy::expect_used)]
    getrandom::fill(&mut buf).expect("OS random number generator unavailable");
    URL_SAFE_NO_PAD.encode(buf)
}

/// A new API key token: `ssk_` + 256 random bits.
pub fn new_api_key() -> String {
    format!("{API_KEY_PREFIX}{}", random_token(32))
}

/// Hex SHA-256 of a token: what the database stores.
pub fn sha256_hex(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_api_key_is_prefixed_and_unique() {
        let a = new_api_key();
        let b = new_api_key();
        assert!(a.starts_with(API_KEY_PREFIX));
        assert_eq!(a.len(), 4 + 43);
        assert_ne!(a, b);
    }

    #[test]
    fn sha256_hex_matches_known_digest() {
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
