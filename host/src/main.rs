//! The `wasp` binary: parse the command line, set up logging, run.

use anyhow::{Context, Result};
use clap::Parser;
use std::io::{BufReader, Write};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;
use wasp::cli::{Cli, Command};
use wasp::config::PipelineConfig;
use wasp::kafka::admin;
use wasp::kafka::run::RunOptions;
use wasp::runtime::{Engine, EngineOptions, InstanceContext, Limits, Plugin};

/// Records cross threads (source → worker → producer): mimalloc frees
/// memory allocated on another thread far cheaper than glibc's malloc.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("WASP_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    if let Err(e) = run(Cli::parse()) {
        eprintln!("error: {e:#}");
        // 2: stopped with records not delivered (see `wasp run --help`).
        let incomplete = e.downcast_ref::<wasp::kafka::run::Incomplete>().is_some();
        std::process::exit(if incomplete { 2 } else { 1 });
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
        Command::Run { pipeline, max_records, until_idle, metrics, no_watch, no_reload_socket } => {
            let files = wasp::stack::pipeline_files(&pipeline)?;
            let mut opts = RunOptions {
                max_records,
                until_idle: until_idle.map(Duration::from_secs_f64),
                watch: !no_watch,
                metrics,
                reload_socket: !no_reload_socket,
                ..RunOptions::default()
            };
            let shutdown = Arc::new(AtomicBool::new(false));
            wasp::signals::on_shutdown(shutdown.clone())?;
            if let [file] = files.as_slice() {
                let cfg = PipelineConfig::load(file)?;
                opts.pipeline_file = Some(file.clone());
                wasp::kafka::run::run(&cfg, &opts, &shutdown)?;
            } else {
                wasp::stack::run(&files, &opts, &shutdown)?;
            }
            Ok(())
        }
        Command::Reload { pipeline, timeout } => {
            let cfg = PipelineConfig::load(&pipeline)?;
            let timeout = Duration::try_from_secs_f64(timeout)
                .ok()
                .filter(|t| !t.is_zero())
                .context("--timeout must be a positive number of seconds")?;
            let replies = wasp::reload::request(&pipeline, &cfg.name, timeout)?;
            for r in &replies {
                println!("{r}");
            }
            if replies.iter().any(|r| r.starts_with("refused")) {
                anyhow::bail!("a new version was refused; the running versions keep serving");
            }
            Ok(())
        }
        Command::CreateTopics { topics, partitions, bootstrap_servers } => {
            admin::create_topics(&bootstrap_servers, &topics, partitions)?;
            eprintln!("topics ready: {} ({partitions} partitions)", topics.join(", "));
            Ok(())
        }
        Command::Produce { topic, input, key_field, bootstrap_servers } => {
            let n = match input.filter(|p| p.as_os_str() != "-") {
                Some(path) => {
                    let f = std::fs::File::open(&path)
                        .with_context(|| format!("cannot open input {}", path.display()))?;
                    admin::produce_lines(
                        &bootstrap_servers,
                        &topic,
                        BufReader::new(f),
                        key_field.as_deref(),
                    )?
                }
                None => admin::produce_lines(
                    &bootstrap_servers,
                    &topic,
                    std::io::stdin().lock(),
                    key_field.as_deref(),
                )?,
            };
            eprintln!("produced {n} records to {topic}");
            Ok(())
        }
        Command::Consume {
            topics,
            partition,
            from_beginning: _,
            from_offset,
            from_end,
            idle,
            max,
            bootstrap_servers,
        } => {
            let from = match (from_offset, from_end) {
                (Some(o), _) => admin::ReadFrom::Offset(o),
                (None, true) => admin::ReadFrom::End,
                (None, false) => admin::ReadFrom::Beginning,
            };
            let sel = admin::Selection { topics, partition, from };
            let until = admin::Until { idle: Duration::from_secs_f64(idle), max };
            let stdout = std::io::stdout();
            let mut out = std::io::LineWriter::new(stdout.lock());
            let mut written = Ok(());
            let n = admin::read(&bootstrap_servers, &sel, until, |r| {
                if written.is_ok() {
                    written = writeln!(out, "{}", r.to_json());
                }
            })?;
            written?;
            eprintln!("consumed {n} records");
            Ok(())
        }
        Command::Evaluate(args) => {
            let stdout = std::io::stdout();
            wasp::evaluate::run(&args, &mut stdout.lock())
        }
        Command::Plot(args) => {
            eprintln!("plot: {}", wasp::plot::command::run(&args)?);
            Ok(())
        }
        Command::Check { plugin, config } => {
            let engine = Engine::new(&EngineOptions::default())?;
            let loaded = Plugin::load(&engine, &plugin)?;
            let info = loaded.info()?;
            println!("{}: {} {} ({})", plugin.display(), info.name, info.version, info.description);
            println!(
                "  implements wasp:plugin/plugin@{}; content version {}",
                loaded.contract(),
                loaded.version()
            );
            if let Some(config_json) = config {
                serde_json::from_str::<serde_json::Value>(&config_json)
                    .context("--config must be JSON, e.g. '{\"k\": 3}'")?;
                loaded.instantiate(InstanceContext::standalone(
                    "check",
                    &config_json,
                    Limits::default(),
                ))?;
                println!("  accepts the config");
            }
            Ok(())
        }
        Command::New { name, lang, dir } => {
            let dir = dir.unwrap_or_else(|| std::path::PathBuf::from(&name));
            let exe = std::env::current_exe().unwrap_or_else(|_| std::path::PathBuf::from("wasp"));
            let root = wasp::scaffold::default_wasp_root();
            let files = wasp::scaffold::create(&name, lang, &dir, &root, &exe)?;
            println!(
                "created {} ({} files) using the wasp checkout {}",
                dir.display(),
                files.len(),
                root.display()
            );
            println!("next: cd {} && ./build.sh && ./test.sh", dir.display());
            Ok(())
        }
    }
}
