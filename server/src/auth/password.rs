//! Password hashing with argon2id (m=19456 KiB, t=2, p=1), always off the async runtime.

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, PasswordHash, Version};

use crate::error::AppError;

pub const MIN_PASSWORD_LEN: usize = 8;

fn hasher() -> Argon2<'static> {
    // Params::new only fails on out-of-range values; these are the OWASP minimums.
    let params = Params::new(19_456, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Checks a new password's strength rules before it is hashed.
pub fn validate_new(password: &str) -> Result<(), AppError> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(AppError::validation(format!(
            "password must be at least {MIN_PASSWORD_LEN} characters"
        )));
    }
    if password.len() > 1024 {
        return Err(AppError::validation(
            "password is too long (1024 bytes max)",
        ));
    }
    Ok(())
}

/// Hashes a password into a PHC string.
pub async fn hash(password: String) -> Result<String, AppError> {
    tokio::task::spawn_blocking(move || {
        hasher()
            .hash_password(password.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| AppError::internal(anyhow::anyhow!("argon2 hash failed: {e}")))
    })
    .await
    .map_err(AppError::internal)?
}

/// Verifies a password against a stored PHC string. A malformed hash verifies as false.
pub async fn verify(password: String, phc: String) -> Result<bool, AppError> {
    tokio::task::spawn_blocking(move || {
        let Ok(parsed) = PasswordHash::new(&phc) else {
            return false;
        };
        hasher()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
    .await
    .map_err(AppError::internal)
}

/// A valid hash of a random password, verified against when a username does not exist so that
/// a failed sign-in takes the same time either way.
pub async fn dummy_hash() -> String {
    static DUMMY: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    DUMMY
        .get_or_init(|| async {
            hash(crate::auth::tokens::random_token(24))
                .await
                .unwrap_or_default()
        })
        .await
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn verify_accepts_right_password_and_rejects_wrong_one() {
        let h = hash("correct horse".into()).await.expect("hash");
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(
            verify("correct horse".into(), h.clone())
                .await
                .expect("verify")
        );
        assert!(!verify("wrong horse".into(), h).await.expect("verify"));
    }

    #[tokio::test]
    async fn verify_is_false_when_hash_is_malformed() {
        assert!(
            !verify("x".into(), "not-a-hash".into())
                .await
                .expect("verify")
        );
    }

    #[test]
    fn validate_new_rejects_short_passwords() {
        assert_eq!(
            validate_new("short").expect_err("short").code(),
            "VALIDATION"
        );
        assert!(validate_new("long enough").is_ok());
    }
}
