//! The `wasp` binary: parse the command line, set up logging, run.

use anyhow::{Context, Result};
use clap::Parser;
use std::io::BufReader;
use wasp::cli::{Cli, Command};
use wasp::config::PipelineConfig;
use wasp::runtime::{Engine, EngineOptions, InstanceContext, Limits, Plugin};
use wasp::state::{StateScope, StateStore};

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("WASP_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    if let Err(e) = run(Cli::parse()) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Test { pipeline, input } => {
            let cfg = PipelineConfig::load(&pipeline)?;
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            match input.filter(|p| p.as_os_str() != "-") {
                Some(path) => {
                    let f = std::fs::File::open(&path)
                        .with_context(|| format!("cannot open input {}", path.display()))?;
                    wasp::filerun::run(&cfg, BufReader::new(f), &mut out)?;
                }
                None => {
                    wasp::filerun::run(&cfg, std::io::stdin().lock(), &mut out)?;
                }
            }
            Ok(())
        }
        Command::Check { plugin, config } => {
            let engine = Engine::new(&EngineOptions::default())?;
            let loaded = Plugin::load(&engine, &plugin)?;
            let info = loaded.info()?;
            println!("{}: {} {} ({})", plugin.display(), info.name, info.version, info.description);
            println!("  implements wasp:plugin/plugin@0.1.0; content version {}", loaded.version());
            if let Some(config_json) = config {
                serde_json::from_str::<serde_json::Value>(&config_json)
                    .context("--config must be JSON, e.g. '{\"k\": 3}'")?;
                let ctx = InstanceContext {
                    stage: "check".into(),
                    config_json,
                    limits: Limits::default(),
                    state: StateScope::new(StateStore::in_memory(), "check", "check"),
                    metrics: Default::default(),
                };
                loaded.instantiate(ctx)?;
                println!("  accepts the config");
            }
            Ok(())
        }
    }
}
