//! The `sneakyscan` command line.

use std::io::Read;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use migration::MigratorTrait;

use crate::config::{Overrides, Settings};
use crate::db::{self, DbMetrics};
use crate::domain::auth::{Actor, Role};
use crate::error::AppError;
use crate::service::{api_keys, configs, imports, users};

#[derive(Debug, Parser)]
#[command(
    name = "sneakyscan",
    version,
    about = "SneakyScanner: a self-hosted network scan manager"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Settings file (default: configs/sneakyscan.toml when present).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Data directory (SQLite database, reports, scan output).
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Database URL (default: SQLite in the data dir), e.g. postgres://user@host/db.
    #[arg(long, global = true, value_name = "URL")]
    pub database_url: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server.
    Serve {
        /// Address to listen on (default 127.0.0.1:8080).
        #[arg(long, value_name = "ADDR")]
        listen: Option<SocketAddr>,
        /// API only: run no scans in this process (`sneakyscan worker` processes run them;
        /// needs PostgreSQL).
        #[arg(long)]
        no_worker: bool,
    },
    /// Run scan jobs only (no HTTP): a worker of a server on PostgreSQL, on this machine or
    /// another one with database access. Stops its scans (INTERRUPTED) on SIGINT/SIGTERM.
    Worker,
    /// Run as a remote agent: dial the server, run the scans of this agent's pool with the
    /// local nmap, send progress and results back. Needs no database access.
    Agent {
        /// The server, as the agent reaches it: `https://scans.example.org` (or `http://…`
        /// on a trusted network).
        #[arg(long, value_name = "URL")]
        server: String,
        /// The agent's token (from `createAgent`; shown once). Prefer the environment
        /// variable or --token-file: a command line is visible to other local users.
        #[arg(
            long,
            env = "SNEAKYSCAN_AGENT_TOKEN",
            hide_env_values = true,
            value_name = "TOKEN"
        )]
        token: Option<String>,
        /// A file holding the token.
        #[arg(long, value_name = "FILE", conflicts_with = "token")]
        token_file: Option<PathBuf>,
        /// Scans run at once.
        #[arg(long, default_value_t = 4)]
        slots: u32,
        /// PEM file of CA certificates to trust for an `https://` server besides the public
        /// roots (a private CA).
        #[arg(long, env = "SNEAKYSCAN_AGENT_CA_CERT", value_name = "FILE")]
        ca_cert: Option<PathBuf>,
    },
    /// Apply pending database migrations (`--down N` rolls back N).
    Migrate {
        #[arg(long, value_name = "N")]
        down: Option<u32>,
    },
    /// Print the GraphQL schema (SDL) — what schema.graphql holds.
    ExportSchema {
        /// Write to this file instead of stdout.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Check that a running server answers /healthz (exit 0) or not (exit 1).
    Healthcheck {
        #[arg(long, default_value = "http://127.0.0.1:8080/healthz")]
        url: String,
    },
    /// Manage users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage API keys.
    Apikey {
        #[command(subcommand)]
        command: ApikeyCommand,
    },
    /// Manage scan configs.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Run one scan without a server and write its JSON, HTML and ZIP reports to --out.
    /// Exits non-zero when the scan does not complete.
    Scan {
        /// The scan config (YAML, as in the configs directory).
        #[arg(value_name = "CONFIG.yaml")]
        scan_config: PathBuf,
        /// Directory for report.json, report.html and report.zip.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// A network the scan may cover (repeat the flag for more). Default: loopback only
        /// (127.0.0.0/8, ::1), as a new server's scope.
        #[arg(long = "allow", value_name = "CIDR")]
        allow: Vec<String>,
    },
    /// Import an nmap (or masscan) XML file as a completed scan.
    Import {
        /// The XML file (`nmap -oX`).
        file: PathBuf,
        /// Title of the scan (default: from the config or the scanner).
        #[arg(long)]
        title: Option<String>,
        /// Judge the results against this saved config's expectations.
        #[arg(long)]
        config_id: Option<i32>,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user. Without --password-stdin a random password is generated and printed.
    Create {
        #[arg(long)]
        username: String,
        #[arg(long, value_parser = ["viewer", "operator", "admin"])]
        role: String,
        /// Read the password from standard input (first line).
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set a user's password (ends their sessions).
    SetPassword {
        #[arg(long)]
        username: String,
        #[arg(long)]
        password_stdin: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ApikeyCommand {
    /// Create an API key for a user; the token is printed once.
    Create {
        #[arg(long)]
        username: String,
        #[arg(long)]
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Import scan config YAML files (a config whose title exists is skipped).
    Import {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

impl Cli {
    pub fn settings(&self) -> anyhow::Result<Settings> {
        let listen = match &self.command {
            Command::Serve { listen, .. } => *listen,
            _ => None,
        };
        let mut settings = Settings::load(
            self.global.config.as_deref(),
            &Overrides {
                listen,
                data_dir: self.global.data_dir.clone(),
                database_url: self.global.database_url.clone(),
            },
        )?;
        if matches!(
            self.command,
            Command::Serve {
                no_worker: true,
                ..
            }
        ) {
            settings.jobs.worker = false;
        }
        Ok(settings)
    }
}

impl Cli {
    /// The options of `sneakyscan agent`, with its token read.
    pub fn agent_options(&self) -> anyhow::Result<crate::agent::AgentOptions> {
        let Command::Agent {
            server,
            token,
            token_file,
            slots,
            ca_cert,
        } = &self.command
        else {
            anyhow::bail!("not the agent command");
        };
        let token = match (token, token_file) {
            (Some(t), _) => t.trim().to_owned(),
            (None, Some(file)) => std::fs::read_to_string(file)
                .with_context(|| format!("while reading the token from {}", file.display()))?
                .trim()
                .to_owned(),
            (None, None) => anyhow::bail!(
                "give the agent's token: --token, --token-file or SNEAKYSCAN_AGENT_TOKEN"
            ),
        };
        anyhow::ensure!(!token.is_empty(), "the agent's token is empty");
        Ok(crate::agent::AgentOptions {
            server: server.clone(),
            token: crate::config::Secret::new(token),
            slots: (*slots).clamp(1, 64),
            tls: ca_cert
                .as_deref()
                .map(crate::agent::tls_trusting)
                .transpose()?,
        })
    }
}

fn read_password(from_stdin: bool) -> anyhow::Result<(String, bool)> {
    if from_stdin {
        let mut input = String::new();
        std::io::stdin()
            .read_to_string(&mut input)
            .context("while reading the password from stdin")?;
        let line = input.lines().next().unwrap_or("").to_owned();
        anyhow::ensure!(!line.is_empty(), "no password on stdin");
        Ok((line, false))
    } else {
        Ok((crate::auth::tokens::random_token(18), true))
    }
}

async fn open_db(settings: &Settings) -> anyhow::Result<sea_orm::DatabaseConnection> {
    std::fs::create_dir_all(&settings.data_dir).ok();
    db::connect_migrated(
        &settings.effective_database_url(),
        Arc::new(DbMetrics::default()),
        crate::jobs::queue::migrate,
    )
    .await
}

/// Runs every subcommand but `serve` (which main handles, to own the listener and signals).
pub async fn run_command(cli: &Cli, settings: &Settings) -> anyhow::Result<()> {
    let system = Actor::system();
    match &cli.command {
        Command::Serve { .. } | Command::Worker | Command::Agent { .. } => {
            anyhow::bail!("`serve`, `worker` and `agent` are started by main, not here")
        }
        Command::Migrate { down } => {
            let db = db::connect(
                &settings.effective_database_url(),
                Arc::new(DbMetrics::default()),
            )
            .await?;
            match down {
                Some(n) => migration::Migrator::down(&db, Some(*n)).await?,
                None => {
                    db::migrate(&db).await?;
                    crate::jobs::queue::migrate(&db).await?;
                }
            }
            println!("migrations: done");
        }
        Command::ExportSchema { out } => {
            let sdl = crate::graphql::sdl();
            match out {
                Some(path) => std::fs::write(path, sdl)
                    .with_context(|| format!("while writing {}", path.display()))?,
                None => print!("{sdl}"),
            }
        }
        Command::Healthcheck { url } => healthcheck(url).await?,
        Command::User { command } => {
            let db = open_db(settings).await?;
            match command {
                UserCommand::Create {
                    username,
                    role,
                    password_stdin,
                } => {
                    let role: Role = role.parse().map_err(AppError::into_cli)?;
                    let (password, generated) = read_password(*password_stdin)?;
                    users::create(&db, &system, username, &password, role)
                        .await
                        .map_err(AppError::into_cli)?;
                    println!("created user {username} ({role})");
                    if generated {
                        println!("password: {password}");
                    }
                }
                UserCommand::SetPassword {
                    username,
                    password_stdin,
                } => {
                    let (password, generated) = read_password(*password_stdin)?;
                    users::set_password(&db, &system, username, &password)
                        .await
                        .map_err(AppError::into_cli)?;
                    println!("password of {username} changed");
                    if generated {
                        println!("password: {password}");
                    }
                }
            }
        }
        Command::Apikey {
            command: ApikeyCommand::Create { username, name },
        } => {
            let db = open_db(settings).await?;
            let (key, token) = api_keys::create_for_username(&db, &system, username, name)
                .await
                .map_err(AppError::into_cli)?;
            println!("created API key {} ({}) for {username}", key.id, key.role);
            println!("token (shown once): {token}");
        }
        Command::Config {
            command: ConfigCommand::Import { files },
        } => {
            let db = open_db(settings).await?;
            let report = configs::import_files(&db, &system, files)
                .await
                .map_err(AppError::into_cli)?;
            for t in &report.created {
                println!("imported: {t}");
            }
            for t in &report.skipped {
                println!("skipped (title exists): {t}");
            }
        }
        Command::Scan {
            scan_config,
            out,
            allow,
        } => {
            let status = crate::oneshot::run(settings, scan_config, out, allow).await?;
            anyhow::ensure!(
                status == crate::domain::status::ScanStatus::Completed,
                "the scan ended {}",
                status.as_str()
            );
        }
        Command::Import {
            file,
            title,
            config_id,
        } => {
            let db = open_db(settings).await?;
            let input = std::fs::File::open(file)
                .with_context(|| format!("while opening {}", file.display()))?;
            let req = imports::ImportRequest {
                title: title.clone(),
                config_id: *config_id,
            };
            let scan = imports::import_xml(
                &db,
                &system,
                std::io::BufReader::new(input),
                req,
                &settings.data_dir,
                settings.scanner.web.cert_expiry_warning_days,
            )
            .await
            .map_err(AppError::into_cli)?;
            println!(
                "imported scan {} \"{}\": {} hosts ({} up), {} open ports",
                scan.id, scan.title, scan.hosts_total, scan.hosts_up, scan.open_ports
            );
        }
    }
    Ok(())
}

/// A minimal HTTP/1.1 GET (no TLS): enough for a container healthcheck on loopback.
async fn healthcheck(url: &str) -> anyhow::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url
        .strip_prefix("http://")
        .context("healthcheck supports http:// URLs only")?;
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/healthz"),
    };
    let mut stream = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        tokio::net::TcpStream::connect(host),
    )
    .await
    .context("healthcheck timed out")?
    .with_context(|| format!("cannot connect to {host}"))?;
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await?;
    let mut buf = Vec::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(5),
        stream.read_to_end(&mut buf),
    )
    .await
    .context("healthcheck timed out")??;
    let head = String::from_utf8_lossy(&buf);
    let status = head.split_whitespace().nth(1).unwrap_or("");
    anyhow::ensure!(status == "200", "unhealthy: HTTP status {status:?}");
    println!("healthy");
    Ok(())
}
