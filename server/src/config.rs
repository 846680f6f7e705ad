//! Server settings: defaults → `configs/sneakyscan.toml` (or `--config`) → `SNEAKYSCAN_*`
//! environment → command-line flags. Every field is documented in `configs/sneakyscan.toml`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Address the HTTP server listens on.
    pub listen: SocketAddr,
    /// Directory for the SQLite database, reports and scan output.
    pub data_dir: PathBuf,
    /// Database URL; empty means SQLite at `<data_dir>/sneakyscan.db`. May hold a password.
    pub database_url: Secret,
    /// Built frontend (Trunk output) served at `/`.
    pub frontend_dir: PathBuf,
    /// Directory of example scan configs (`*.yaml`) imported at start when `import_configs_at_start`.
    pub configs_dir: PathBuf,
    pub import_configs_at_start: bool,
    /// Password for the `admin` account created on first start (env `SNEAKYSCAN_ADMIN_PASSWORD`).
    pub admin_password: Option<Secret>,
    pub log: LogSettings,
    pub http: HttpSettings,
    pub auth: AuthSettings,
    pub graphql: GraphqlSettings,
    pub scanner: ScannerSettings,
    pub jobs: JobSettings,
    pub alerts: AlertSettings,
}

/// Notifications (issue 16): how deliveries are retried, and the SMTP server of email
/// channels. Which networks a webhook may reach is a runtime setting (admins, `settings`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AlertSettings {
    /// Milliseconds before the first retry of a failed delivery; each retry waits twice as
    /// long as the one before (±20 % jitter), at most `retry_max_secs`.
    pub retry_base_ms: u64,
    pub retry_max_secs: u64,
    /// Hours a delivery is retried; then it is FAILED (it can still be retried by hand).
    pub give_up_after_hours: u64,
    /// Seconds one attempt may take (connect, send, answer).
    pub timeout_secs: u64,
    pub smtp: SmtpSettings,
}

/// The SMTP server email channels send through.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct SmtpSettings {
    /// Empty: email channels cannot send (their deliveries fail with that reason).
    pub host: String,
    pub port: u16,
    /// `starttls` (upgrade on the port, required), `tls` (TLS from the start, e.g. port 465)
    /// or `none` (plain text: only for a relay on this machine).
    pub security: String,
    pub username: String,
    /// Env `SNEAKYSCAN_ALERTS__SMTP__PASSWORD`.
    pub password: Secret,
    /// The sender, e.g. `SneakyScanner <scanner@example.com>`.
    pub from: String,
}

impl Default for AlertSettings {
    fn default() -> Self {
        Self {
            retry_base_ms: 5000,
            retry_max_secs: 3600,
            give_up_after_hours: 24,
            timeout_secs: 10,
            smtp: SmtpSettings::default(),
        }
    }
}

impl Default for SmtpSettings {
    fn default() -> Self {
        Self {
            host: String::new(),
            port: 587,
            security: "starttls".into(),
            username: String::new(),
            password: Secret::default(),
            from: "SneakyScanner <sneakyscanner@localhost>".into(),
        }
    }
}

/// Scans as jobs on the job engine (apalis): the worker of this process and the leases of the
/// scans it runs.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct JobSettings {
    /// `serve` runs scans in its own process too; `serve --no-worker` sets this to false.
    pub worker: bool,
    /// Scan jobs this process holds at once (the limit on running scans is the global
    /// `maxConcurrentScans` setting; jobs over it wait for a slot).
    pub worker_concurrency: usize,
    /// Seconds between heartbeats of a worker: its registration in the job queue and the
    /// leases of its scans are renewed this often.
    pub heartbeat_secs: u64,
    /// Heartbeats a worker may miss before its jobs are re-queued (its leases lapse after
    /// `heartbeat_secs × missed_heartbeats`; a scan whose lease lapsed twice as long is
    /// INTERRUPTED when nobody took it over).
    pub missed_heartbeats: u32,
    /// Milliseconds between looks for new jobs when no wake-up arrives (a job pushed by this
    /// process, or announced by NOTIFY on PostgreSQL, wakes the worker at once).
    pub poll_ms: u64,
    /// Runs of one scan job at most (a run taken over from a lost worker is one more).
    pub max_attempts: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct LogSettings {
    /// `pretty` or `json`.
    pub format: String,
    /// A tracing filter, e.g. `info` or `server=debug,info`.
    pub level: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct HttpSettings {
    /// Largest accepted request body (bytes) for `/graphql` and every route but the streamed
    /// `POST /api/imports`.
    pub max_body_bytes: usize,
    /// Seconds a graceful shutdown waits for open requests before it stops anyway.
    pub shutdown_request_grace_secs: u64,
    /// Extra origins allowed to open the websocket (the served origin is always allowed).
    pub allowed_origins: Vec<String>,
    /// Seconds a websocket may stay open without a `connection_init`.
    pub ws_init_timeout_secs: u64,
    /// Seconds a websocket may stay silent (clients send a graphql-transport-ws `ping`) before
    /// it is closed.
    pub ws_idle_timeout_secs: u64,
    /// Reverse proxies (IP addresses or CIDRs) whose `X-Forwarded-For` is believed: the client
    /// address (sign-in limits, audit) is the right-most address in it that is not one of
    /// them. Empty: the peer address is the client, the header is ignored.
    pub trusted_proxies: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AuthSettings {
    /// Sessions end after this many minutes without a request.
    pub session_idle_minutes: i64,
    /// Sessions end this many hours after sign-in, active or not.
    pub session_absolute_hours: i64,
    /// Mark the session cookie `Secure` (set when served over TLS, e.g. behind a proxy).
    pub cookie_secure: bool,
    /// Failed sign-ins allowed per account within `login_window_secs`.
    pub login_max_failures_per_account: u32,
    /// Failed sign-ins allowed per client IP within `login_window_secs`.
    pub login_max_failures_per_ip: u32,
    pub login_window_secs: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct GraphqlSettings {
    pub max_depth: usize,
    pub max_complexity: usize,
    /// Field selections an operation may execute, fragments expanded (checked before
    /// async-graphql's validation, whose cost grows with fragment spreads).
    pub max_fields: u64,
    /// Aliased selections an operation may execute, fragments expanded.
    pub max_aliases: u64,
    /// Bytes of query text.
    pub max_query_bytes: usize,
    /// Subscriptions one websocket may hold at once.
    pub max_subscriptions_per_socket: usize,
    /// Identical `scanUpdates` subscriptions share one execution (`graphql::fanout`): each
    /// event is resolved and serialised once for all of them.
    pub share_subscriptions: bool,
    /// Introspection (and the schema in the playground). Turn off in production if you like.
    pub introspection: bool,
    /// MiB of memory for answers to queries that read only COMPLETED scans (they never
    /// change; see `graphql::answers`). 0 turns it off.
    pub answer_cache_mib: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ScannerSettings {
    /// The nmap executable: a name looked up on PATH, or a path.
    pub nmap_path: PathBuf,
    /// `auto` (SYN scan when running as root, else connect scan), `syn` or `connect`.
    pub tcp_scan: String,
    /// Seconds between nmap's progress reports (`--stats-every`).
    pub stats_every_secs: u64,
    /// Seconds a graceful shutdown waits for running scans to stop.
    pub shutdown_grace_secs: u64,
    pub timeouts: PhaseTimeouts,
    pub web: WebSettings,
}

/// The HTTP probe and screenshot phases, and the certificate findings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct WebSettings {
    /// Seconds one HTTP probe may take (connect, TLS, headers and the first 256 KiB).
    pub http_timeout_secs: u64,
    /// HTTP probes in flight at once.
    pub http_concurrency: usize,
    /// The Chromium executable for screenshots; empty: `chromium`, `chromium-browser` or
    /// `google-chrome` on PATH. Absent: the screenshot phase is skipped with a note.
    pub chromium_path: String,
    /// Seconds one screenshot may take before its Chromium is killed.
    pub screenshot_timeout_secs: u64,
    /// Chromiums running at once.
    pub screenshot_concurrency: usize,
    /// A certificate expiring within this many days is reported as expiring.
    pub cert_expiry_warning_days: i64,
}

/// Longest each phase may run (seconds); a phase past its limit is killed and the scan FAILS
/// with the reason (results found so far are kept).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct PhaseTimeouts {
    pub ping_secs: u64,
    pub tcp_secs: u64,
    pub udp_secs: u64,
    pub service_secs: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("./data"),
            database_url: Secret::default(),
            frontend_dir: PathBuf::from("frontend/dist"),
            configs_dir: PathBuf::from("configs"),
            import_configs_at_start: false,
            admin_password: None,
            log: LogSettings::default(),
            http: HttpSettings::default(),
            auth: AuthSettings::default(),
            graphql: GraphqlSettings::default(),
            scanner: ScannerSettings::default(),
            jobs: JobSettings::default(),
            alerts: AlertSettings::default(),
        }
    }
}

impl Default for JobSettings {
    fn default() -> Self {
        Self {
            worker: true,
            worker_concurrency: 16,
            heartbeat_secs: 5,
            missed_heartbeats: 3,
            poll_ms: 2000,
            max_attempts: 3,
        }
    }
}

impl JobSettings {
    /// How often a worker renews its registration and its leases.
    pub fn heartbeat(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.heartbeat_secs.max(1))
    }

    /// How long a lease lasts without renewal.
    pub fn lease_ttl(&self) -> std::time::Duration {
        self.heartbeat() * self.missed_heartbeats.max(1)
    }
}

impl Default for ScannerSettings {
    fn default() -> Self {
        Self {
            nmap_path: PathBuf::from("nmap"),
            tcp_scan: "auto".into(),
            stats_every_secs: 1,
            shutdown_grace_secs: 10,
            timeouts: PhaseTimeouts::default(),
            web: WebSettings::default(),
        }
    }
}

impl Default for WebSettings {
    fn default() -> Self {
        Self {
            http_timeout_secs: 10,
            http_concurrency: 32,
            chromium_path: String::new(),
            screenshot_timeout_secs: 30,
            screenshot_concurrency: 2,
            cert_expiry_warning_days: 30,
        }
    }
}

impl Default for PhaseTimeouts {
    fn default() -> Self {
        Self {
            ping_secs: 900,
            tcp_secs: 3600,
            udp_secs: 7200,
            service_secs: 3600,
        }
    }
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            format: "pretty".into(),
            level: "info".into(),
        }
    }
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            max_body_bytes: 1024 * 1024,
            shutdown_request_grace_secs: 5,
            allowed_origins: Vec::new(),
            ws_init_timeout_secs: 3,
            ws_idle_timeout_secs: 300,
            trusted_proxies: Vec::new(),
        }
    }
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            session_idle_minutes: 120,
            session_absolute_hours: 24,
            cookie_secure: false,
            login_max_failures_per_account: 5,
            login_max_failures_per_ip: 20,
            login_window_secs: 900,
        }
    }
}

impl Default for GraphqlSettings {
    fn default() -> Self {
        Self {
            max_depth: 15,
            max_complexity: 5000,
            max_fields: 1000,
            max_aliases: 30,
            max_query_bytes: 64 * 1024,
            max_subscriptions_per_socket: 100,
            share_subscriptions: true,
            introspection: true,
            answer_cache_mib: 64,
        }
    }
}

/// Overrides given on the command line (the last layer).
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub listen: Option<SocketAddr>,
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
}

impl Settings {
    /// Loads the layers. A missing default file is fine; a missing `--config` file is an error.
    pub fn load(config_file: Option<&Path>, overrides: &Overrides) -> anyhow::Result<Self> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        match config_file {
            Some(path) => {
                anyhow::ensure!(path.exists(), "config file {} not found", path.display());
                figment = figment.merge(Toml::file_exact(path));
            }
            None => figment = figment.merge(Toml::file("configs/sneakyscan.toml")),
        }
        // `SNEAKYSCAN_AUTH__COOKIE_SECURE=true` sets auth.cookie_secure. `SNEAKYSCAN_TEST_*`
        // variables belong to the test suite, not to the server.
        figment = figment.merge(
            Env::prefixed("SNEAKYSCAN_")
                .filter(|key| {
                    let key = key.as_str().to_ascii_lowercase();
                    // SNEAKYSCAN_AGENT_TOKEN is `sneakyscan agent`'s own (a flag's value).
                    !key.starts_with("test_") && key != "agent_token"
                })
                .split("__"),
        );
        let mut settings: Settings = figment.extract().context("invalid settings")?;
        if let Some(listen) = overrides.listen {
            settings.listen = listen;
        }
        if let Some(dir) = &overrides.data_dir {
            settings.data_dir = dir.clone();
        }
        if let Some(url) = &overrides.database_url {
            settings.database_url = Secret::new(url.clone());
        }
        Ok(settings)
    }

    /// The database URL in effect (SQLite in the data dir unless set).
    pub fn effective_database_url(&self) -> String {
        if self.database_url.expose().trim().is_empty() {
            format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("sneakyscan.db").display()
            )
        } else {
            self.database_url.expose().to_owned()
        }
    }
}

/// A setting that must never reach a log line or an error message (a password, a database
/// URL with credentials): `Debug` and `Display` print `[redacted]`; [`Secret::expose`] is the
/// one way to read it, so every use is greppable.
#[derive(Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_empty() {
            "\"\""
        } else {
            "[redacted]"
        })
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_applies_flags_over_defaults_when_given() {
        let overrides = Overrides {
            listen: Some("127.0.0.1:9999".parse().expect("addr")),
            data_dir: Some(PathBuf::from("/tmp/x")),
            database_url: None,
        };
        let s = Settings::load(None, &overrides).expect("settings");
        assert_eq!(s.listen.port(), 9999);
        assert_eq!(
            s.effective_database_url(),
            "sqlite:///tmp/x/sneakyscan.db?mode=rwc"
        );
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail API returns its own large error
    fn load_reads_nested_env_and_ignores_test_variables() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("SNEAKYSCAN_AUTH__COOKIE_SECURE", "true");
            jail.set_env("SNEAKYSCAN_TEST_POSTGRES_URL", "postgres://x");
            let s = Settings::load(None, &Overrides::default()).expect("settings");
            assert!(s.auth.cookie_secure);
            Ok(())
        });
    }

    #[test]
    fn settings_debug_redacts_secrets_when_set() {
        let settings = Settings {
            database_url: Secret::new("postgres://scanner:hunter2-db@db.internal/ss"),
            admin_password: Some(Secret::new("hunter2-admin")),
            ..Settings::default()
        };
        let shown = format!("{settings:?} {settings:#?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("[redacted]"));
        assert_eq!(
            settings.admin_password.map(|p| p.to_string()).as_deref(),
            Some("[redacted]")
        );
        assert!(settings.database_url.expose().contains("hunter2-db"));
    }

    #[test]
    fn load_fails_when_config_file_is_missing() {
        let err = Settings::load(Some(Path::new("/nonexistent.toml")), &Overrides::default());
        assert!(err.is_err());
    }

    #[test]
    fn load_rejects_unknown_keys_in_file() {
        let dir = std::env::temp_dir().join(format!("ss-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("bad.toml");
        std::fs::write(&file, "listn = \"127.0.0.1:1\"\n").expect("write");
        let err = Settings::load(Some(&file), &Overrides::default()).expect_err("must fail");
        assert!(format!("{err:#}").contains("listn"));
    }
}
