//! The consumer side: a consumer-group member whose rebalance callbacks
//! start and stop partition workers, and a poll loop that hands each record
//! to its partition's worker.
//!
//! Callbacks run inside `poll` on the source thread, so a revoked
//! partition's worker is drained and its offsets committed before the
//! partition can be assigned to another process.

use super::worker::{Command, Mode, WorkerHandle, WorkerShared};
use crate::record::{Header, Record};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::message::{BorrowedMessage, Headers};
use rdkafka::{ClientContext, Message as _, Offset, TopicPartitionList};
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

type Key = (String, i32);

/// A running worker and the records polled for it but not handed over yet.
struct Owned {
    handle: WorkerHandle,
    pending: Vec<Record>,
}

/// Workers by topic, then partition: a record's worker is found by `&str`,
/// without allocating a key per record.
type Workers = HashMap<String, HashMap<i32, Owned>>;

/// Consumer context owning the partition workers.
pub struct SourceContext {
    workers: Mutex<Workers>,
    /// Most records handed to a worker in one chunk (`batch.max_records`).
    chunk: usize,
    /// Records behind the end of the owned partitions, from librdkafka's
    /// statistics (-1 until the first report).
    pub lag: std::sync::atomic::AtomicI64,
    shared: WorkerShared,
    corrections: Option<String>,
    settle_timeout: Duration,
}

impl ClientContext for SourceContext {
    /// librdkafka's periodic statistics carry each partition's lag as the
    /// client last saw it, so the progress line shows lag without asking
    /// the broker for end offsets.
    fn stats(&self, statistics: rdkafka::Statistics) {
        let lag: i64 = statistics
            .topics
            .values()
            .flat_map(|t| t.partitions.iter())
            .filter(|(id, p)| **id >= 0 && p.consumer_lag >= 0)
            .map(|(_, p)| p.consumer_lag)
            .sum();
        self.lag.store(lag, std::sync::atomic::Ordering::Relaxed);
    }
}

impl ConsumerContext for SourceContext {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(tpl) = rebalance {
            let keys =
                tpl.elements().iter().map(|e| (e.topic().to_string(), e.partition())).collect();
            let offsets = self.stop(keys);
            commit(consumer, &offsets, "revoked");
        }
    }

    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(tpl) => {
                for e in tpl.elements() {
                    self.start(e.topic(), e.partition());
                }
            }
            Rebalance::Error(e) => tracing::warn!("rebalance error: {e}"),
            Rebalance::Revoke(_) => {}
        }
    }
}

/// Commit explicit offsets synchronously; failures are logged (the records
/// are then processed again by the next owner: at-least-once).
pub fn commit(consumer: &BaseConsumer<SourceContext>, offsets: &TopicPartitionList, why: &str) {
    if offsets.count() == 0 {
        return;
    }
    match consumer.commit(offsets, CommitMode::Sync) {
        Ok(()) => tracing::info!("committed offsets of {} {why} partitions", offsets.count()),
        Err(e) => {
            tracing::warn!("commit of {why} partitions failed: {e}; their tail will be reprocessed")
        }
    }
}

impl SourceContext {
    /// A context with no workers yet.
    pub fn new(
        shared: WorkerShared,
        corrections: Option<String>,
        settle_timeout: Duration,
    ) -> Self {
        SourceContext {
            workers: Mutex::default(),
            chunk: shared.batch.max_records.max(1),
            lag: std::sync::atomic::AtomicI64::new(-1),
            shared,
            corrections,
            settle_timeout,
        }
    }

    fn workers(&self) -> MutexGuard<'_, Workers> {
        self.workers.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn start(&self, topic: &str, partition: i32) {
        let mode =
            if self.corrections.as_deref() == Some(topic) { Mode::Learn } else { Mode::Process };
        tracing::info!(topic, partition, ?mode, "partition assigned");
        let h = WorkerHandle::spawn(self.shared.clone(), topic.to_string(), partition, mode);
        let owned = Owned { handle: h, pending: Vec::new() };
        self.workers().entry(topic.to_string()).or_default().insert(partition, owned);
    }

    /// Drain and stop the workers of `keys`; the offsets to commit for them.
    pub fn stop(&self, keys: Vec<Key>) -> TopicPartitionList {
        let handles: Vec<(Key, Owned)> = {
            let mut w = self.workers();
            let owned = keys
                .into_iter()
                .filter_map(|(t, p)| {
                    let o = w.get_mut(&t)?.remove(&p)?;
                    Some(((t, p), o))
                })
                .collect();
            w.retain(|_, partitions| !partitions.is_empty());
            owned
        };
        let mut tpl = TopicPartitionList::new();
        for ((topic, partition), Owned { handle: h, pending }) in handles {
            // Records polled before the hand-over are the worker's to finish.
            if !pending.is_empty() {
                let _ = h.tx.send(Command::Records(pending));
            }
            let tracker = h.tracker.clone();
            h.stop();
            if !tracker.wait_settled(self.settle_timeout) {
                tracing::warn!(
                    topic,
                    partition,
                    outstanding = tracker.outstanding(),
                    "deliveries still outstanding at hand-over; committing only what was delivered"
                );
            }
            if let Some(next) = tracker.committable() {
                let _ = tpl.add_partition_offset(&topic, partition, Offset::Offset(next));
            }
            tracing::info!(topic, partition, "partition released");
        }
        tpl
    }

    /// Stop every worker; the offsets to commit.
    pub fn stop_all(&self) -> TopicPartitionList {
        let keys = self
            .workers()
            .iter()
            .flat_map(|(t, ps)| ps.keys().map(move |p| (t.clone(), *p)))
            .collect();
        self.stop(keys)
    }

    /// Offsets every worker may commit now, for the next auto-commit.
    pub fn committable(&self) -> TopicPartitionList {
        let mut tpl = TopicPartitionList::new();
        for (topic, partitions) in self.workers().iter() {
            for (partition, o) in partitions {
                if let Some(next) = o.handle.tracker.committable() {
                    let _ = tpl.add_partition_offset(topic, *partition, Offset::Offset(next));
                }
            }
        }
        tpl
    }

    /// Queue a record for its partition's worker; a full chunk is handed
    /// over at once (blocking when the worker is busy), the rest by
    /// [`flush`](Self::flush). False when no worker runs for the partition
    /// or it died.
    pub fn dispatch(&self, m: &BorrowedMessage<'_>) -> bool {
        let (tx, chunk) = {
            let mut w = self.workers();
            let Some(o) = w.get_mut(m.topic()).and_then(|ps| ps.get_mut(&m.partition())) else {
                return false;
            };
            o.pending.push(to_message(m));
            if o.pending.len() < self.chunk {
                return true;
            }
            (o.handle.tx.clone(), std::mem::replace(&mut o.pending, Vec::with_capacity(self.chunk)))
        };
        tx.send(Command::Records(chunk)).is_ok()
    }

    /// Hand every queued record to its worker (blocking when one is busy).
    pub fn flush(&self) {
        let chunks: Vec<_> = {
            let mut w = self.workers();
            w.values_mut()
                .flat_map(|ps| ps.values_mut())
                .filter(|o| !o.pending.is_empty())
                .map(|o| (o.handle.tx.clone(), std::mem::take(&mut o.pending)))
                .collect()
        };
        for (tx, chunk) in chunks {
            if tx.send(Command::Records(chunk)).is_err() {
                tracing::warn!("records for a worker that stopped; skipped");
            }
        }
    }

    /// Number of partitions this process owns.
    pub fn partitions(&self) -> usize {
        self.workers().values().map(HashMap::len).sum()
    }
}

/// Copy a Kafka record into the host's record type.
pub fn to_message(m: &BorrowedMessage<'_>) -> Record {
    let headers = m
        .headers()
        .map(|hs| {
            hs.iter()
                .map(|h| Header {
                    key: h.key.to_string(),
                    value: h.value.map(<[u8]>::to_vec).unwrap_or_default(),
                })
                .collect()
        })
        .unwrap_or_default();
    Record {
        offset: m.offset(),
        timestamp: m.timestamp().to_millis(),
        key: m.key().map(<[u8]>::to_vec),
        value: m.payload().map(<[u8]>::to_vec),
        headers,
    }
}
