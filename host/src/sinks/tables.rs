//! The table destinations of a run (`[tables.NAME]`), as a sink.
//!
//! Tables with the same connection settings share one [`Database`]: a
//! batch's rows for all of them are written in one transaction, so the
//! rows one input produced for several tables are stored together or not
//! at all. The write is synchronous, on the partition's worker, and comes
//! before the batch's Kafka records: a row the database refuses
//! dead-letters its input with the database's message (kind `sink`), and
//! while the database is unreachable the write is retried with backoff,
//! holding the partition, nothing committed. When the run stops
//! meanwhile, the batch is lost: none of it is committed or produced.

use super::health::SinkHealth;
use super::postgres::{Database, RowResult, TableConfig, TableRow};
use super::{BatchAcks, Outgoing, Sink};
use crate::config::PipelineConfig;
use crate::kafka::stats::RunStats;
use crate::pipeline::Failure;
use crate::router::Destination;
use anyhow::Result;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Dead-letter kind of an output the database refused.
pub const SINK_FAILURE: &str = "sink";

/// One database and the health of each of its tables.
struct Connection {
    database: Mutex<Database>,
    /// Per table, in the database's order.
    health: Vec<Arc<SinkHealth>>,
}

/// Every `[tables.NAME]` of a pipeline, connected and checked.
pub struct Tables {
    connections: Vec<Connection>,
    /// `NAME` → (connection, table in it).
    by_name: BTreeMap<String, (usize, usize)>,
    stats: Arc<RunStats>,
    stop: AtomicBool,
}

/// What makes two tables' connections the same one.
type ConnectionKey<'a> = (&'a str, &'a Option<String>, &'a Option<PathBuf>, &'a Option<PathBuf>);

fn connection_key(t: &TableConfig) -> ConnectionKey<'_> {
    (&t.url, &t.password_env, &t.password_file, &t.ssl_root_cert)
}

impl Tables {
    /// Connect to every table of the pipeline and check its mapping; `None`
    /// when the pipeline has no tables. Each table's health is registered
    /// in `stats` (progress line, metrics).
    pub fn open(cfg: &PipelineConfig, stats: &Arc<RunStats>) -> Result<Option<Self>> {
        if cfg.tables.is_empty() {
            return Ok(None);
        }
        let mut groups: Vec<(ConnectionKey<'_>, Vec<(&str, &TableConfig)>)> = Vec::new();
        for (name, table) in &cfg.tables {
            let key = connection_key(table);
            match groups.iter_mut().find(|(k, _)| *k == key) {
                Some((_, g)) => g.push((name, table)),
                None => groups.push((key, vec![(name, table)])),
            }
        }
        let mut connections = Vec::new();
        let mut by_name = BTreeMap::new();
        for (_, group) in groups {
            let database = Database::open(&group, &cfg.base_dir)?;
            let mut health = Vec::new();
            for (t, (name, _)) in group.iter().enumerate() {
                by_name.insert(name.to_string(), (connections.len(), t));
                let h = Arc::new(SinkHealth::new(format!("tables.{name}")));
                stats.register_sink(h.clone());
                health.push(h);
            }
            connections.push(Connection { database: Mutex::new(database), health });
        }
        Ok(Some(Tables {
            connections,
            by_name,
            stats: stats.clone(),
            stop: AtomicBool::new(false),
        }))
    }

    /// Write one connection's rows: per row, what the database did, or
    /// `None` when the run stopped while the database was unreachable.
    fn write(&self, c: &Connection, rows: &[TableRow<'_>]) -> Option<Vec<RowResult>> {
        let mut database = c.database.lock().unwrap_or_else(|p| p.into_inner());
        // The signal is checked too: while a worker waits here, the consumer
        // loop may be blocked handing it records and not see the signal.
        let stop = || self.stop.load(Ordering::Relaxed) || crate::signals::requested();
        match database.write_retrying(rows, &stop, &c.health) {
            Ok(results) => Some(results),
            Err(e) => {
                RunStats::inc(&self.stats.delivery_failed, rows.len() as u64);
                tracing::error!("{e}; the run is stopping, so this batch is not committed");
                None
            }
        }
    }
}

impl Sink for Tables {
    fn deliver(&self, acks: &Arc<BatchAcks>, records: Vec<Outgoing<'_>>) {
        let mut per_connection: Vec<Vec<(Outgoing<'_>, usize)>> =
            self.connections.iter().map(|_| Vec::new()).collect();
        for r in records {
            let Destination::Table(name) = r.to else {
                unreachable!("the dispatcher sends only table records here")
            };
            let (c, t) = self.by_name[name];
            per_connection[c].push((r, t));
        }
        for (c, records) in self.connections.iter().zip(per_connection) {
            if records.is_empty() {
                continue;
            }
            let rows: Vec<TableRow<'_>> = records
                .iter()
                .map(|(r, t)| TableRow {
                    table: *t,
                    topic: &acks.topic,
                    partition: acks.partition,
                    offset: acks.record(r.input).offset,
                    value: r.value.as_deref().unwrap_or_default(),
                })
                .collect();
            let Some(results) = self.write(c, &rows) else {
                acks.lost(c.health[0].name(), "the database was unreachable when the run stopped");
                return;
            };
            for ((r, t), result) in records.iter().zip(results) {
                match result {
                    // A withdrawn row's input is dead-lettered for its
                    // refused sibling.
                    RowResult::Stored | RowResult::Withdrawn => acks.delivered(1),
                    RowResult::Refused(reason) => acks.refused(
                        r.input,
                        false,
                        Failure {
                            stage: c.health[*t].name().to_string(),
                            plugin: "postgres".into(),
                            kind: SINK_FAILURE.into(),
                            reason,
                        },
                    ),
                }
            }
        }
    }

    fn stop_retrying(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
