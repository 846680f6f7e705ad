//! Credentials: password hashing (argon2id), API key tokens, and the sign-in rate limiter.
//! Who the caller is and what a role may do is [`crate::domain::auth`].

pub mod password;
pub mod rate_limit;
pub mod tokens;
