//! Several pipelines in one `wasp run`: seed 004's compose file brings up
//! a broker, creates topics and starts services together; `wasp run a.toml
//! b.toml` (or a stack file naming them) does the same for pipelines. Each
//! pipeline runs the ordinary Kafka run loop on its own thread with its own
//! consumer group, engine, state and reload socket; they share one stop
//! flag (the signal handler's), one progress view and one exit status. A
//! pipeline that fails stops the others, so a stack never runs half up.

use crate::config::PipelineConfig;
use crate::kafka::run::{self, RunOptions};
use crate::kafka::stats::RunStats;
use crate::progress::Cadence;
use anyhow::{bail, Context, Result};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A stack file: the pipeline files to run together.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StackFile {
    /// Pipeline files, relative to the stack file.
    pipelines: Vec<PathBuf>,
}

/// The pipeline files named on the command line, a stack file replaced by
/// the files it lists. A stack file is a TOML file whose only key is
/// `pipelines`.
pub fn pipeline_files(args: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for path in args {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read pipeline file {}", path.display()))?;
        let is_stack = toml::from_str::<toml::Table>(&text)
            .map(|t| t.contains_key("pipelines"))
            .unwrap_or(false);
        if !is_stack {
            out.push(path.clone());
            continue;
        }
        let stack: StackFile = toml::from_str(&text)
            .with_context(|| format!("invalid stack file {}", path.display()))?;
        if stack.pipelines.is_empty() {
            bail!("stack file {} lists no pipelines: pipelines = [\"a.toml\", …]", path.display());
        }
        let base = path.parent().unwrap_or(Path::new(""));
        out.extend(stack.pipelines.iter().map(|p| base.join(p)));
    }
    Ok(out)
}

/// Load every pipeline before any starts, so a mistake in one file stops
/// the whole stack before it touches Kafka; names must differ, since a
/// name is a consumer group, a state namespace and a reload socket.
pub fn load(files: &[PathBuf]) -> Result<Vec<PipelineConfig>> {
    let mut cfgs: Vec<PipelineConfig> = Vec::new();
    for f in files {
        let cfg = PipelineConfig::load(f)?;
        if let Some(other) = cfgs.iter().position(|c| c.name == cfg.name) {
            bail!(
                "pipelines {} and {} are both named '{}': give each pipeline of a stack its own \
                 name (it names the consumer group, the state and the reload socket)",
                files[other].display(),
                f.display(),
                cfg.name
            );
        }
        cfgs.push(cfg);
    }
    Ok(cfgs)
}

/// Run `files` together until `shutdown` is set or each has met its end
/// condition; fails if any pipeline failed, naming each.
pub fn run(files: &[PathBuf], opts: &RunOptions, shutdown: &Arc<AtomicBool>) -> Result<()> {
    if opts.metrics.is_some() {
        bail!(
            "--metrics serves one pipeline: with several pipelines, run the one to watch in \
             its own `wasp run … --metrics ADDR`"
        );
    }
    let cfgs = load(files)?;
    let names: Vec<String> = cfgs.iter().map(|c| c.name.clone()).collect();
    let stats: Vec<Arc<RunStats>> = cfgs.iter().map(|_| Arc::default()).collect();
    let mut threads = Vec::new();
    for ((cfg, file), stat) in cfgs.into_iter().zip(files).zip(&stats) {
        let opts = RunOptions {
            pipeline_file: Some(file.clone()),
            stats: Some(stat.clone()),
            shared_progress: true,
            ..opts.clone()
        };
        let stop = shutdown.clone();
        let t = std::thread::Builder::new().name(format!("wasp-run-{}", cfg.name)).spawn(
            move || {
                let result = run::run(&cfg, &opts, &stop).map(|_| ());
                if let Err(e) = &result {
                    tracing::error!("pipeline '{}' failed: {e:#}; stopping the others", cfg.name);
                    stop.store(true, Ordering::Relaxed);
                }
                result
            },
        )?;
        threads.push(t);
    }
    tracing::info!(pipelines = ?names, "stack running: {} pipelines", names.len());
    let mut view = View::default();
    while threads.iter().any(|t| !t.is_finished()) {
        std::thread::sleep(Duration::from_millis(100));
        view.tick(&names, &stats);
    }
    let mut failed = Vec::new();
    // Every failure a stop that timed out with records undelivered: the
    // stack exits as one run would (code 2), not as a failure.
    let mut all_incomplete = true;
    for (name, t) in names.iter().zip(threads) {
        match t.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                all_incomplete &= e.downcast_ref::<run::Incomplete>().is_some();
                failed.push(format!("{name}: {e:#}"));
            }
            Err(_) => {
                all_incomplete = false;
                failed.push(format!("{name}: its thread panicked"));
            }
        }
    }
    if !failed.is_empty() {
        let what = format!(
            "{} of {} pipelines failed:\n  {}",
            failed.len(),
            names.len(),
            failed.join("\n  ")
        );
        if all_incomplete {
            return Err(run::Incomplete(what).into());
        }
        bail!("{what}");
    }
    Ok(())
}

/// One progress view for the whole stack: a block of one line per
/// pipeline redrawn in place on a terminal, a log line per pipeline every
/// 10 s otherwise.
#[derive(Default)]
struct View {
    cadence: Cadence,
    drawn: usize,
}

impl View {
    fn tick(&mut self, names: &[String], stats: &[Arc<RunStats>]) {
        if self.cadence.due().is_none() {
            return;
        }
        let width = names.iter().map(String::len).max().unwrap_or(0);
        let lines: Vec<String> =
            names.iter().zip(stats).map(|(n, s)| format!("{n:width$} | {}", s.line())).collect();
        if !self.cadence.tty {
            for l in &lines {
                tracing::info!("{l}");
            }
            return;
        }
        let mut block = String::new();
        if self.drawn > 0 {
            block.push_str(&format!("\x1b[{}A", self.drawn));
        }
        for l in &lines {
            block.push_str(&format!("\r\x1b[2K{l}\n"));
        }
        eprint!("{block}");
        self.drawn = lines.len();
    }
}
