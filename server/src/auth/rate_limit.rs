//! Login rate limiting: failed sign-ins counted per account and per client IP in a sliding
//! window, in memory (one process; replicas each keep their own window).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::error::AppError;

#[derive(Debug)]
pub struct LoginLimiter {
    window: Duration,
    max_per_account: u32,
    max_per_ip: u32,
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl LoginLimiter {
    pub fn new(window: Duration, max_per_account: u32, max_per_ip: u32) -> Self {
        Self {
            window,
            max_per_account,
            max_per_ip,
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn keys(username: &str, ip: &str) -> [String; 2] {
        [format!("u:{}", username.to_lowercase()), format!("ip:{ip}")]
    }

    /// Fails with `RATE_LIMITED` when either the account or the IP has too many recent failures.
    pub fn check(&self, username: &str, ip: &str) -> Result<(), AppError> {
        let now = Instant::now();
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let [account, client] = Self::keys(username, ip);
        let account_n = self.recent(&mut map, &account, now);
        let ip_n = self.recent(&mut map, &client, now);
        if account_n >= self.max_per_account as usize || ip_n >= self.max_per_ip as usize {
            return Err(AppError::RateLimited(format!(
                "too many failed sign-ins; try again in {} minutes",
                self.window.as_secs().div_ceil(60)
            )));
        }
        Ok(())
    }

    pub fn record_failure(&self, username: &str, ip: &str) {
        let now = Instant::now();
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        for key in Self::keys(username, ip) {
            map.entry(key).or_default().push_back(now);
        }
        // Keep memory bounded under a flood of distinct usernames.
        if map.len() > 100_000 {
            let window = self.window;
            map.retain(|_, q| q.back().is_some_and(|t| now.duration_since(*t) < window));
        }
    }

    /// A successful sign-in clears the account's failures (not the IP's).
    pub fn record_success(&self, username: &str) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(&format!("u:{}", username.to_lowercase()));
    }

    fn recent(
        &self,
        map: &mut HashMap<String, VecDeque<Instant>>,
        key: &str,
        now: Instant,
    ) -> usize {
        let Some(q) = map.get_mut(key) else { return 0 };
        while q
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.window)
        {
            q.pop_front();
        }
        q.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_refuses_account_after_max_failures() {
        let l = LoginLimiter::new(Duration::from_secs(60), 3, 100);
        for _ in 0..3 {
            assert!(l.check("alice", "1").is_ok());
            l.record_failure("alice", "1");
        }
        assert_eq!(
            l.check("ALICE", "2").expect_err("limited").code(),
            "RATE_LIMITED"
        );
        assert!(l.check("bob", "2").is_ok());
    }

    #[test]
    fn check_refuses_ip_after_max_failures_across_accounts() {
        let l = LoginLimiter::new(Duration::from_secs(60), 100, 2);
        l.record_failure("a", "9");
        l.record_failure("b", "9");
        assert!(l.check("c", "9").is_err());
        assert!(l.check("c", "8").is_ok());
    }

    #[test]
    fn record_success_clears_account_failures() {
        let l = LoginLimiter::new(Duration::from_secs(60), 1, 100);
        l.record_failure("a", "1");
        assert!(l.check("a", "1").is_err());
        l.record_success("a");
        assert!(l.check("a", "1").is_ok());
    }
}
