//! `wasp test`: run a pipeline over a JSON-lines file (or stdin) without a
//! broker, the way a plugin author tries a plugin locally.
//!
//! Each input line is one record value (the line's bytes, as a producer
//! would send them). Each result is printed as one JSON line on stdout; the
//! summary goes to stderr so stdout stays machine-readable.

use crate::config::PipelineConfig;
use crate::pipeline::{Outcome, Pipeline};
use crate::record::{BatchInfo, Record};
use crate::router::{Destination, Router};
use crate::runtime::{Engine, EngineOptions};
use anyhow::{Context, Result};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::time::Instant;

/// Per-destination counts of a run.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Input records read.
    pub records: u64,
    /// Records written per topic (dead-letter included).
    pub per_topic: BTreeMap<String, u64>,
    /// Inputs dropped.
    pub dropped: u64,
}

/// Show bytes as JSON if they are JSON, else as a string.
fn show(bytes: Option<&[u8]>) -> Value {
    match bytes {
        None => Value::Null,
        Some(b) => serde_json::from_slice(b)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(b).into_owned())),
    }
}

fn write_outcome(
    out: &mut impl Write,
    router: &Router,
    msg: &Record,
    outcome: &Outcome,
    summary: &mut Summary,
) -> Result<()> {
    let mut failures = outcome.failures.clone();
    for p in &outcome.produced {
        match router.destination(&p.route) {
            Ok(destination) => {
                let (kind, name) = match destination {
                    Destination::Topic(t) => ("topic", t),
                    Destination::Table(t) => ("table", t),
                };
                *summary.per_topic.entry(name.to_string()).or_default() += 1;
                let mut line = json!({"offset": msg.offset, kind: name, "key": show(p.key.as_deref()), "value": show(p.value.as_deref())});
                if let Some(partition) = p.partition {
                    line["partition"] = json!(partition);
                }
                writeln!(out, "{line}")?;
            }
            Err(reason) => failures.push(Router::routing_failure(reason)),
        }
    }
    for f in &failures {
        *summary.per_topic.entry(router.dead_letter().to_string()).or_default() += 1;
        let line = json!({"offset": msg.offset, "topic": router.dead_letter(), "stage": f.stage,
                          "kind": f.kind, "reason": f.reason,
                          "value": show(router.dead_letter_value(msg.value.as_deref()).as_deref())});
        writeln!(out, "{line}")?;
    }
    if outcome.is_dropped() && failures.is_empty() {
        summary.dropped += 1;
        writeln!(out, "{}", json!({"offset": msg.offset, "dropped": true}))?;
    }
    Ok(())
}

/// Run `cfg` over `input`, writing results to `out`.
pub fn run(cfg: &PipelineConfig, input: impl BufRead, out: &mut impl Write) -> Result<Summary> {
    let fuel = cfg.stages.iter().any(|s| s.limits.fuel.is_some());
    let engine = Engine::new(&EngineOptions { fuel, ..Default::default() })?;
    let pipeline = Pipeline::load(&engine, cfg)?;
    let mut instance = pipeline.instantiate()?;
    let router = Router::new(&cfg.topics, cfg.tables.keys());
    let info = BatchInfo { topic: "file".into(), partition: 0 };
    instance.set_partition(&info.topic, info.partition);
    let mut summary = Summary::default();
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
        for (msg, outcome) in batch.iter().zip(&outcomes) {
            write_outcome(out, &router, msg, outcome, &mut summary)?;
        }
        summary.records += batch.len() as u64;
    }
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
