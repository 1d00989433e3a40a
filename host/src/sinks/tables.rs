//! The table destinations of a run, between the pipeline and the Kafka sink.
//!
//! Before a batch's outcomes are produced to Kafka, the outputs routed to a
//! table (a plugin's `topic("NAME")` for a `[tables.NAME]`, or `topics.output`
//! naming one) are taken out and written to the database. The Kafka sink
//! begins the batch's inputs in the offset tracker only after that, so an
//! input is never committed before the database acknowledged its rows. A row
//! the database refuses becomes a `sink` failure of its input, which the
//! Kafka sink dead-letters with the database's message. While the database
//! is unreachable the write is retried with backoff, holding the batch; when
//! the run stops meanwhile, the batch is abandoned uncommitted.

use super::health::SinkHealth;
use super::postgres::{RowResult, TableRow, TableSink, Unavailable};
use crate::config::PipelineConfig;
use crate::kafka::stats::RunStats;
use crate::offsets::OffsetTracker;
use crate::pipeline::{Failure, Outcome, Route};
use crate::record::Record;
use crate::router::{Destination, Router};
use anyhow::Result;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Dead-letter kind of an output the database refused.
pub const SINK_FAILURE: &str = "sink";

/// Every `[tables.NAME]` of a pipeline, connected and checked.
pub struct Tables {
    sinks: BTreeMap<String, (Mutex<TableSink>, Arc<SinkHealth>)>,
    /// Names each output's destination (the same router as the Kafka sink's).
    router: Router,
    stop: AtomicBool,
}

/// One output taken out for a table.
struct Taken {
    input: usize,
    value: Option<Vec<u8>>,
}

impl Tables {
    /// Connect to every table of the pipeline and check its mapping; `None`
    /// when the pipeline has no tables. Each table's health is registered
    /// in `stats` (progress line, metrics).
    pub fn open(cfg: &PipelineConfig, router: Router, stats: &RunStats) -> Result<Option<Self>> {
        if cfg.tables.is_empty() {
            return Ok(None);
        }
        let mut sinks = BTreeMap::new();
        for (name, table) in &cfg.tables {
            let sink = Mutex::new(TableSink::open(name, table, &cfg.base_dir)?);
            let health = Arc::new(SinkHealth::new(format!("tables.{name}")));
            stats.register_sink(health.clone());
            sinks.insert(name.clone(), (sink, health));
        }
        Ok(Some(Tables { sinks, router, stop: AtomicBool::new(false) }))
    }

    /// Stop retrying an unreachable database: the run is ending.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// The table a route leads to, named as in `[tables.NAME]`.
    fn table_for(&self, route: &Route) -> Option<&str> {
        match self.router.destination(route) {
            Ok(Destination::Table(t)) => self.sinks.get_key_value(t).map(|(k, _)| k.as_str()),
            _ => None,
        }
    }

    /// The Kafka sink's hook: the batch's outcomes without their table-bound
    /// outputs (written, or turned into `sink` failures), and per input
    /// whether it had any. `None` when the run stopped while the database
    /// was unreachable: the batch is then begun in `tracker` as never
    /// acknowledged, so none of it is committed, and must not be produced.
    pub fn write_before_produce(
        &self,
        topic: &str,
        partition: i32,
        batch: &[Record],
        outcomes: &[Outcome],
        tracker: &OffsetTracker,
        stats: &RunStats,
    ) -> Option<(Vec<Outcome>, Vec<bool>)> {
        let mut rest = outcomes.to_vec();
        match self.deliver(topic, partition, batch, &mut rest) {
            Ok(to_table) => Some((rest, to_table)),
            Err(e) => {
                let held: Vec<(i64, u32)> = batch.iter().map(|m| (m.offset, 1)).collect();
                tracker.begin(&held);
                tracker.fail();
                RunStats::inc(&stats.delivery_failed, batch.len() as u64);
                tracing::error!(
                    "{e}; the run is stopping, so this batch's inputs are not committed"
                );
                None
            }
        }
    }

    /// Write the outputs of `outcomes` that go to tables, removing them from
    /// the outcomes and adding a `sink` failure for each refused row. The
    /// answer says, per input, whether it had rows for a table. `Err` when
    /// the run stopped while the database was unreachable: nothing of the
    /// batch may be committed.
    pub fn deliver(
        &self,
        topic: &str,
        partition: i32,
        batch: &[Record],
        outcomes: &mut [Outcome],
    ) -> Result<Vec<bool>, Unavailable> {
        let mut to_table = vec![false; outcomes.len()];
        let mut taken: BTreeMap<&str, Vec<Taken>> = BTreeMap::new();
        for (i, outcome) in outcomes.iter_mut().enumerate() {
            let mut kept = Vec::with_capacity(outcome.produced.len());
            for p in outcome.produced.drain(..) {
                match self.table_for(&p.route) {
                    Some(t) => {
                        to_table[i] = true;
                        taken.entry(t).or_default().push(Taken { input: i, value: p.value });
                    }
                    None => kept.push(p),
                }
            }
            outcome.produced = kept;
        }
        for (name, outputs) in taken {
            let rows: Vec<TableRow<'_>> = outputs
                .iter()
                .map(|o| TableRow {
                    topic,
                    partition,
                    offset: batch[o.input].offset,
                    value: o.value.as_deref().unwrap_or_default(),
                })
                .collect();
            let (sink, health) = &self.sinks[name];
            let mut sink = sink.lock().unwrap_or_else(|p| p.into_inner());
            // The signal is checked too: while a worker waits here, the consumer
            // loop may be blocked handing it records and not see the signal.
            let stop = || self.stop.load(Ordering::Relaxed) || crate::signals::requested();
            let results = sink.write_retrying(&rows, &stop, health)?;
            for (o, result) in outputs.iter().zip(results) {
                if let RowResult::Refused(reason) = result {
                    outcomes[o.input].failures.push(Failure {
                        stage: format!("tables.{name}"),
                        plugin: "postgres".into(),
                        kind: SINK_FAILURE.into(),
                        reason,
                    });
                }
            }
        }
        Ok(to_table)
    }
}
