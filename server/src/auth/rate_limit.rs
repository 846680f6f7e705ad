//! Login rate limiting: failed sign-ins counted per account and per client IP in a sliding
//! window. The failures live in the database (`login_failures`), so every replica of one
//! database counts the same ones: an attacker gains nothing by spreading guesses over
//! replicas.

use std::time::Duration;

use chrono::Utc;
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QuerySelect, Set,
    sea_query::{Expr, Func},
};

use entity::login_failure;

use crate::error::{AppError, AppResult};

#[derive(Debug)]
pub struct LoginLimiter {
    db: DatabaseConnection,
    window: Duration,
    max_per_account: u32,
    max_per_ip: u32,
}

impl LoginLimiter {
    pub fn new(
        db: DatabaseConnection,
        window: Duration,
        max_per_account: u32,
        max_per_ip: u32,
    ) -> Self {
        Self {
            db,
            window,
            max_per_account,
            max_per_ip,
        }
    }

    fn account_key(username: &str) -> String {
        format!("u:{}", username.to_lowercase())
    }

    fn keys(username: &str, ip: &str) -> [String; 2] {
        [Self::account_key(username), format!("ip:{ip}")]
    }

    fn since(&self) -> chrono::DateTime<Utc> {
        Utc::now() - chrono::TimeDelta::from_std(self.window).unwrap_or(chrono::TimeDelta::MAX)
    }

    /// Fails with `RATE_LIMITED` when either the account or the IP has too many recent
    /// failures (one statement).
    pub async fn check(&self, username: &str, ip: &str) -> AppResult<()> {
        let [account, client] = Self::keys(username, ip);
        let counts: Vec<(String, i64)> = login_failure::Entity::find()
            .select_only()
            .column(login_failure::Column::Key)
            .column_as(
                Expr::expr(Func::count(Expr::col(login_failure::Column::Id))),
                "n",
            )
            .filter(login_failure::Column::Key.is_in([account.clone(), client.clone()]))
            .filter(login_failure::Column::At.gt(self.since()))
            .group_by(login_failure::Column::Key)
            .into_tuple()
            .all(&self.db)
            .await?;
        let count = |key: &str| {
            counts
                .iter()
                .find(|(k, _)| k == key)
                .map_or(0, |(_, n)| u64::try_from(*n).unwrap_or(0))
        };
        if count(&account) >= u64::from(self.max_per_account)
            || count(&client) >= u64::from(self.max_per_ip)
        {
            return Err(AppError::RateLimited(format!(
                "too many failed sign-ins; try again in {} minutes",
                self.window.as_secs().div_ceil(60)
            )));
        }
        Ok(())
    }

    /// Counts a failure against the account and the IP (and forgets their failures older
    /// than the window).
    pub async fn record_failure(&self, username: &str, ip: &str) -> AppResult<()> {
        let keys = Self::keys(username, ip);
        login_failure::Entity::delete_many()
            .filter(login_failure::Column::Key.is_in(keys.clone()))
            .filter(login_failure::Column::At.lte(self.since()))
            .exec(&self.db)
            .await?;
        let now = Utc::now();
        login_failure::Entity::insert_many(keys.map(|key| login_failure::ActiveModel {
            key: Set(key),
            at: Set(now),
            ..Default::default()
        }))
        .exec(&self.db)
        .await?;
        Ok(())
    }

    /// A successful sign-in clears the account's failures (not the IP's).
    pub async fn record_success(&self, username: &str) -> AppResult<()> {
        login_failure::Entity::delete_many()
            .filter(login_failure::Column::Key.eq(Self::account_key(username)))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Deletes failures older than the window (run now and then: keys never seen again would
    /// stay otherwise).
    pub async fn purge(&self) -> AppResult<u64> {
        Ok(login_failure::Entity::delete_many()
            .filter(login_failure::Column::At.lte(self.since()))
            .exec(&self.db)
            .await?
            .rows_affected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn limiter(
        dir: &tempfile::TempDir,
        max_per_account: u32,
        max_per_ip: u32,
    ) -> (LoginLimiter, LoginLimiter) {
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let db = crate::db::connect_migrated(&url, Default::default(), async |_| Ok(()))
            .await
            .expect("db");
        // A second "replica": its own connection pool on the same database.
        let other = crate::db::connect(&url, Default::default())
            .await
            .expect("db");
        let window = Duration::from_secs(60);
        (
            LoginLimiter::new(db, window, max_per_account, max_per_ip),
            LoginLimiter::new(other, window, max_per_account, max_per_ip),
        )
    }

    #[tokio::test]
    async fn check_refuses_account_after_max_failures_on_every_replica() {
        let dir = tempfile::tempdir().expect("dir");
        let (a, b) = limiter(&dir, 3, 100).await;
        for (i, l) in [&a, &b, &a].into_iter().enumerate() {
            assert!(l.check("alice", &i.to_string()).await.is_ok());
            l.record_failure("alice", &i.to_string())
                .await
                .expect("record");
        }
        for l in [&a, &b] {
            assert_eq!(
                l.check("ALICE", "9").await.expect_err("limited").code(),
                "RATE_LIMITED"
            );
        }
        assert!(b.check("bob", "9").await.is_ok());
    }

    #[tokio::test]
    async fn check_refuses_ip_after_max_failures_across_accounts() {
        let dir = tempfile::tempdir().expect("dir");
        let (a, b) = limiter(&dir, 100, 2).await;
        a.record_failure("a", "9").await.expect("record");
        b.record_failure("b", "9").await.expect("record");
        assert!(a.check("c", "9").await.is_err());
        assert!(a.check("c", "8").await.is_ok());
    }

    #[tokio::test]
    async fn record_success_clears_account_failures_and_purge_forgets_old_ones() {
        let dir = tempfile::tempdir().expect("dir");
        let (a, b) = limiter(&dir, 1, 100).await;
        a.record_failure("a", "1").await.expect("record");
        assert!(b.check("a", "1").await.is_err());
        b.record_success("a").await.expect("success");
        assert!(a.check("a", "1").await.is_ok());
        // Nothing is older than the window yet; with a zero window everything is.
        assert_eq!(a.purge().await.expect("purge"), 0);
        let zero = LoginLimiter {
            window: Duration::ZERO,
            ..a
        };
        assert_eq!(zero.purge().await.expect("purge"), 1, "the IP's failure");
    }
}
