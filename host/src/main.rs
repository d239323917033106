//! The `switchyard` binary: argument parsing and wiring. Everything it runs lives in the
//! library; this is the one place `anyhow` is used.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

use switchyard::cli::plugin_check::{self, CheckOptions};
use switchyard::plugin::{Limits, PluginKind};

#[derive(Parser)]
#[command(name = "switchyard", version, about = "An OpenAI-compatible LLM router with WebAssembly routing plugins")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Work with plugin components.
    Plugin {
        #[command(subcommand)]
        command: PluginCommand,
    },
}

#[derive(Subcommand)]
enum PluginCommand {
    /// Load a plugin as the proxy would, run it on sample requests, print outputs and timings.
    Check {
        /// The component file (.wasm).
        file: PathBuf,
        /// The world to check against (classifier, policy, gate); detected when omitted.
        #[arg(long)]
        kind: Option<PluginKind>,
        /// The plugin's configuration as a JSON object.
        #[arg(long, default_value = "{}")]
        config: String,
        /// Per-call deadline in milliseconds.
        #[arg(long, default_value_t = 10)]
        deadline_ms: u64,
        /// Memory cap per instance in MiB.
        #[arg(long, default_value_t = 64)]
        memory_mb: u64,
        /// Calls timed per instance strategy.
        #[arg(long, default_value_t = 1000)]
        iterations: usize,
        /// Keep compiled artifacts here between runs.
        #[arg(long)]
        cache_dir: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    init_tracing();
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Plugin {
            command:
                PluginCommand::Check {
                    file,
                    kind,
                    config,
                    deadline_ms,
                    memory_mb,
                    iterations,
                    cache_dir,
                },
        } => {
            let config: serde_json::Value =
                serde_json::from_str(&config).context("--config must be a JSON object")?;
            anyhow::ensure!(config.is_object(), "--config must be a JSON object, got {config}");
            let report = plugin_check::run(&CheckOptions {
                path: file,
                kind,
                config,
                limits: Limits {
                    deadline: Duration::from_millis(deadline_ms),
                    memory_bytes: memory_mb << 20,
                    fuel: None,
                },
                iterations,
                cache_dir,
            })?;
            print!("{report}");
            Ok(())
        }
    }
}

fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("SWITCHYARD_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}
