//! pinward: the one binary — parses the command line, starts logging, runs a command.
//!
//! Every failure ends as one line `error: …` on stderr and a non-zero exit: 2 for a wrong
//! setting, 1 for anything else.

mod cli;
mod commands;
mod config;
mod telemetry;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command, EscrowCommand, KeysCommand, LedgerCommand, RotateCommand};
use crate::config::Config;

/// The demo's log filter when `PINWARD_LOG` is not set: pinward's own lines and every
/// warning.
const DEMO_LOG_FILTER: &str = "warn,pinward=info";

fn main() -> ExitCode {
    // Crash tests arm governance's failpoints through FAILPOINTS (test builds only).
    #[cfg(feature = "failpoints")]
    let _failpoints = fail::FailScenario::setup();
    let cli = Cli::parse();
    let config = match Config::parse(&cli.settings) {
        Ok(config) => config,
        Err(error) => return fail(&error.to_string(), 2),
    };
    // The demo's terminal is for its banner: unless asked, it leaves out the per-request
    // and per-PIN lines of the library crates (seeding alone sends some 250 PINs).
    let quiet_demo = matches!(cli.command, Command::Demo { .. })
        && cli
            .settings
            .log
            .as_deref()
            .is_none_or(|l| l.trim().is_empty());
    let log_filter = if quiet_demo {
        DEMO_LOG_FILTER
    } else {
        &config.log_filter
    };
    telemetry::init(config.log_format, log_filter);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => return fail(&format!("cannot start the async runtime: {error}"), 1),
    };
    let listen_given = cli
        .settings
        .listen
        .as_deref()
        .is_some_and(|l| !l.trim().is_empty());
    let result = runtime.block_on(run(cli.command, &config, listen_given));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Config(error)) => fail(&error.to_string(), 2),
        Err(Failure::Other(error)) => fail(&causes(&error), 1),
    }
}

async fn run(command: Command, config: &Config, listen_given: bool) -> Result<(), Failure> {
    match command {
        Command::Serve => {
            config.prepare_data_dir()?;
            commands::serve::run(config).await?;
        }
        Command::Demo { reset, password } => {
            commands::demo::run(config, reset, password).await?;
        }
        Command::Migrate => {
            config.prepare_data_dir()?;
            commands::migrate::run(config).await?;
        }
        Command::Admin(command) => {
            config.prepare_data_dir()?;
            commands::admin::run(config, command).await?;
        }
        Command::Credentials(command) => {
            existing_data(config)?;
            commands::credentials::credentials(config, command).await?;
        }
        Command::Clients(command) => {
            existing_data(config)?;
            commands::clients::run(config, command).await?;
        }
        Command::Recovery(command) => {
            existing_data(config)?;
            commands::credentials::recovery(config, command).await?;
        }
        Command::Ledger(LedgerCommand::Export {
            org,
            format,
            from,
            to,
            out,
        }) => {
            existing_data(config)?;
            let request = commands::ledger::ExportRequest {
                org,
                format,
                range: governance::export::Range { from, to },
                out,
            };
            commands::ledger::export(config, request).await?;
        }
        Command::Ledger(LedgerCommand::Verify {
            file,
            key,
            from,
            format,
        }) => {
            commands::ledger::verify(&file, key.as_deref(), from, format)?;
        }
        Command::GraphSandbox {
            seed,
            numbers,
            businesses,
            json,
        } => {
            let listen = if listen_given {
                config.listen
            } else {
                commands::graph_sandbox::DEFAULT_LISTEN
                    .parse()
                    .map_err(|_| anyhow::anyhow!("the default sandbox address is invalid"))?
            };
            let options = commands::graph_sandbox::Options {
                listen,
                seed,
                numbers: usize::try_from(numbers).map_err(anyhow::Error::from)?,
                businesses: usize::try_from(businesses).map_err(anyhow::Error::from)?,
                json,
            };
            commands::graph_sandbox::run(options).await?;
        }
        Command::Keys(KeysCommand::Show {
            json,
            checkpoint_key_out,
        }) => {
            config.prepare_data_dir()?;
            commands::keys::show(config, json, checkpoint_key_out.as_deref()).await?;
        }
        Command::Keys(KeysCommand::Rotate { json }) => {
            config.prepare_data_dir()?;
            commands::keys::rotate(config, json).await?;
        }
        Command::Sync(args) => {
            existing_data(config)?;
            commands::custody::sync(config, &args).await?;
        }
        Command::Rotate(command) => {
            existing_data(config)?;
            match command {
                RotateCommand::Start {
                    run,
                    all,
                    numbers,
                    concurrency,
                } => {
                    commands::custody::rotate_start(config, &run, all, &numbers, concurrency)
                        .await?
                }
                RotateCommand::Status { job, org, json } => {
                    commands::custody::rotate_status(config, &org, &job, json).await?
                }
                RotateCommand::Pause { job, org } => {
                    commands::custody::rotate_control(
                        config,
                        &org,
                        &job,
                        governance::jobs::Command::Pause,
                    )
                    .await?
                }
                RotateCommand::Cancel { job, org } => {
                    commands::custody::rotate_control(
                        config,
                        &org,
                        &job,
                        governance::jobs::Command::Cancel,
                    )
                    .await?
                }
                RotateCommand::Resume { job, run } => {
                    commands::custody::rotate_resume(config, &run, &job).await?
                }
            }
        }
        Command::Escrow(EscrowCommand::Export { org, out }) => {
            existing_data(config)?;
            commands::custody::escrow_export(config, &org, &out).await?;
        }
    }
    Ok(())
}

/// Prepares the data dir of a command that works on an org's data, which must be there:
/// such a command never creates a database.
fn existing_data(config: &Config) -> Result<(), config::ConfigError> {
    config.require_database()?;
    config.prepare_data_dir()
}

/// Why a command failed: a wrong setting, or anything else.
enum Failure {
    Config(config::ConfigError),
    Other(anyhow::Error),
}

impl From<config::ConfigError> for Failure {
    fn from(error: config::ConfigError) -> Self {
        Failure::Config(error)
    }
}

impl From<anyhow::Error> for Failure {
    fn from(error: anyhow::Error) -> Self {
        Failure::Other(error)
    }
}

/// The error and its causes, joined by ": ", leaving out a cause that only repeats the end
/// of the one before (a message such as "database error: {0}" ends with its source's).
fn causes(error: &anyhow::Error) -> String {
    let mut line = String::new();
    let mut previous = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if !previous.is_empty() && previous.ends_with(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
        previous = text;
    }
    line
}

/// Prints `error: …` as one line and returns the exit code.
fn fail(message: &str, code: u8) -> ExitCode {
    let line = message.replace('\n', " ");
    let _ = writeln!(std::io::stderr(), "error: {line}");
    ExitCode::from(code)
}
