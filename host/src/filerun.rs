//! `wasp test`: run a pipeline over a JSON-lines file (or stdin) without a
//! broker, the way a plugin author tries a plugin locally.
//!
//! Each input line is one record value (the line's bytes, as a producer
//! would send them). Each result is printed as one JSON line on stdout; the
//! summary goes to stderr so stdout stays machine-readable.

use crate::config::PipelineConfig;
use crate::kafka::stats::RunStats;
use crate::offsets::OffsetTracker;
use crate::pipeline::Pipeline;
use crate::record::{BatchInfo, Record};
use crate::router::Router;
use crate::runtime::{Engine, EngineOptions};
use crate::sinks::lines::Lines;
pub use crate::sinks::lines::Summary;
use crate::sinks::Dispatcher;
use anyhow::{Context, Result};
use std::io::{BufRead, Write};
use std::sync::Arc;
use std::time::Instant;

/// Run `cfg` over `input`, writing results to `out`.
pub fn run(cfg: &PipelineConfig, input: impl BufRead, out: &mut impl Write) -> Result<Summary> {
    let fuel = cfg.stages.iter().any(|s| s.limits.fuel.is_some());
    let engine = Engine::new(&EngineOptions { fuel, ..Default::default() })?;
    let pipeline = Pipeline::load(&engine, cfg)?;
    let mut instance = pipeline.instantiate()?;
    let router = Router::new(&cfg.topics, cfg.tables.keys());
    let printed = Arc::new(Lines::default());
    let dispatcher = Dispatcher::single(router, printed.clone(), Arc::new(RunStats::default()));
    let tracker = Arc::new(OffsetTracker::default());
    let info = BatchInfo { topic: "file".into(), partition: 0 };
    instance.set_partition(&info.topic, info.partition);
    let mut records = 0;
    let started = Instant::now();
    let mut batch = Vec::new();
    let mut lines = input.lines().enumerate().peekable();
    while lines.peek().is_some() {
        batch.clear();
        for (i, line) in lines.by_ref().take(cfg.batch.max_records.max(1)) {
            let line = line.context("reading the input")?;
            batch.push(Record {
                offset: i as i64,
                timestamp: None,
                key: None,
                value: Some(line.into_bytes()),
                headers: Vec::new(),
            });
        }
        let outcomes = instance.process(&info, &batch);
        if let Some(reason) = instance.stop_reason() {
            anyhow::bail!("{reason}");
        }
        records += batch.len() as u64;
        dispatcher.write(
            &info.topic,
            info.partition,
            std::mem::take(&mut batch),
            &outcomes,
            &tracker,
        );
        out.write_all(&printed.take().0)?;
    }
    let mut summary = printed.take().1;
    summary.records = records;
    pipeline.state.flush()?;
    let secs = started.elapsed().as_secs_f64();
    let mut line = format!(
        "{} records in {:.3} s ({:.0} records/s):",
        summary.records,
        secs,
        summary.records as f64 / secs.max(1e-9)
    );
    for (topic, n) in &summary.per_topic {
        line.push_str(&format!(" {topic}={n}"));
    }
    line.push_str(&format!(" dropped={}", summary.dropped));
    eprintln!("{line}");
    for slot in &pipeline.stages {
        let s = slot.current();
        let counters: Vec<String> =
            s.metrics.snapshot().iter().map(|(k, v)| format!("{k}={v}")).collect();
        eprintln!(
            "  stage {} ({} @ {}): {}",
            s.name,
            s.plugin.path().display(),
            s.plugin.version(),
            counters.join(" ")
        );
    }
    Ok(summary)
}
