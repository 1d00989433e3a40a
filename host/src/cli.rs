//! Command-line interface.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// wasp: run WebAssembly plugins over Kafka streams.
#[derive(Debug, Parser)]
#[command(name = "wasp", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a pipeline over a JSON-lines file or stdin, without a broker.
    /// Each line is one record value; each result is printed as JSON.
    Test {
        /// The pipeline file (TOML).
        pipeline: PathBuf,
        /// Input file, one record value per line; `-` or absent reads stdin.
        #[arg(short, long)]
        input: Option<PathBuf>,
    },
    /// Check that a file is a valid wasp plugin, and optionally that it
    /// accepts a config.
    Check {
        /// The plugin component (.wasm).
        plugin: PathBuf,
        /// Stage config as JSON, passed to the plugin's `init`.
        #[arg(long)]
        config: Option<String>,
    },
}
