//! `sneakyscan`: parse the command line, load settings, run.

use clap::Parser;
use server::cli::{Cli, Command};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings = cli.settings()?;
    server::telemetry::init(&settings.log);
    match cli.command {
        Command::Serve { .. } => {
            let listener = tokio::net::TcpListener::bind(settings.listen).await?;
            server::run(settings, listener, server::app::shutdown_signal()).await
        }
        Command::Worker => server::app::run_worker(settings, server::app::shutdown_signal()).await,
        Command::Agent { .. } => {
            let options = cli.agent_options()?;
            server::agent::run_agent(settings, options, server::app::shutdown_signal()).await
        }
        _ => server::cli::run_command(&cli, &settings).await,
    }
}
