//! The consumer side: a consumer-group member whose rebalance callbacks
//! start and stop partition workers, and a poll loop that hands each record
//! to its partition's worker.
//!
//! The poll loop never waits for a worker. Records a busy worker cannot
//! take yet are kept for it, and once a partition holds
//! [`PAUSE_AT_CHUNKS`] chunks its fetching is paused (librdkafka drops what
//! it prefetched and fetches it again on resume), so a slow or stuck
//! partition holds no other and the loop keeps serving signals, commits
//! and the group.
//!
//! Callbacks run inside `poll` on the source thread, so a revoked
//! partition's worker is drained (up to the hand-over deadline) and its
//! offsets committed before the partition can be assigned to another
//! process. wasp commits by itself, never librdkafka (see `mod.rs`).

use super::headers;
use super::worker::{Chunk, Command, Mode, WorkerHandle, WorkerShared};
use crate::record::{Header, Record};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::KafkaResult;
use rdkafka::message::BorrowedMessage;
use rdkafka::{ClientContext, Message as _, Offset, TopicPartitionList};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::mpsc::TrySendError;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

type Key = (String, i32);

/// Chunks kept for a busy worker before its partition is paused.
pub const PAUSE_AT_CHUNKS: usize = 16;
/// A paused partition resumes once its worker took all but this many chunks.
const RESUME_AT_CHUNKS: usize = 4;

/// A running worker and the records polled for it but not handed over yet.
struct Owned {
    handle: WorkerHandle,
    /// Chunks in offset order; only the last one may be filling.
    pending: VecDeque<Chunk>,
    /// Fetching is paused until the worker catches up.
    paused: bool,
    /// The offset last committed.
    committed: Option<i64>,
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
    pub lag: AtomicI64,
    shared: WorkerShared,
    corrections: Option<String>,
    /// How long a hand-over may take.
    handover: Duration,
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
        self.lag.store(lag, Ordering::Relaxed);
        self.shared.stats.set_partitions(super::stats::partition_stats(&statistics));
    }
}

impl ConsumerContext for SourceContext {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(tpl) = rebalance {
            let keys =
                tpl.elements().iter().map(|e| (e.topic().to_string(), e.partition())).collect();
            let (offsets, paused) = self.stop(keys, Instant::now() + self.handover);
            // A paused partition would stay paused if it came back.
            if paused.count() > 0 {
                let _ = consumer.resume(&paused);
            }
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

    fn commit_callback(&self, result: KafkaResult<()>, offsets: &TopicPartitionList) {
        if let Err(e) = result {
            tracing::warn!(
                "commit of {} partitions failed: {e}; a later commit covers them",
                offsets.count()
            );
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
    pub fn new(shared: WorkerShared, corrections: Option<String>, handover: Duration) -> Self {
        SourceContext {
            workers: Mutex::default(),
            chunk: shared.batch.max_records.max(1),
            lag: AtomicI64::new(-1),
            shared,
            corrections,
            handover,
        }
    }

    fn workers(&self) -> MutexGuard<'_, Workers> {
        self.workers.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Start a worker for `topic`/`partition` (the group's rebalance
    /// callbacks, or an assigning reader, call this).
    pub(super) fn start(&self, topic: &str, partition: i32) {
        let mode =
            if self.corrections.as_deref() == Some(topic) { Mode::Learn } else { Mode::Process };
        tracing::info!(topic, partition, ?mode, "partition assigned");
        let h = WorkerHandle::spawn(self.shared.clone(), topic.to_string(), partition, mode);
        let owned = Owned { handle: h, pending: VecDeque::new(), paused: false, committed: None };
        self.workers().entry(topic.to_string()).or_default().insert(partition, owned);
    }

    /// Stop the workers of `keys`, giving them until `deadline` to finish
    /// what they received and to have it delivered; the offsets to commit
    /// for them, and those of them that were paused.
    pub fn stop(
        &self,
        keys: Vec<Key>,
        deadline: Instant,
    ) -> (TopicPartitionList, TopicPartitionList) {
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
        let mut paused = TopicPartitionList::new();
        for ((topic, partition), o) in handles {
            if o.paused {
                paused.add_partition(&topic, partition);
            }
            let tracker = o.handle.tracker.clone();
            // Records polled before the stop are the worker's to finish.
            if !o.handle.stop(o.pending, deadline) {
                tracing::warn!(
                    topic,
                    partition,
                    "the worker did not finish in time; what it had not written is processed \
                     again by the partition's next owner"
                );
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if !tracker.wait_settled(left) {
                tracing::warn!(
                    topic,
                    partition,
                    outstanding = tracker.outstanding(),
                    "deliveries still outstanding at the stop; committing only what was delivered"
                );
            }
            if let Some(next) = tracker.committable() {
                let _ = tpl.add_partition_offset(&topic, partition, Offset::Offset(next));
            }
            tracing::info!(topic, partition, "partition released");
        }
        (tpl, paused)
    }

    /// Stop every worker (see [`stop`](Self::stop)).
    pub fn stop_all(&self, deadline: Instant) -> TopicPartitionList {
        let keys = self
            .workers()
            .iter()
            .flat_map(|(t, ps)| ps.keys().map(move |p| (t.clone(), *p)))
            .collect();
        self.stop(keys, deadline).0
    }

    /// Offsets that moved since they were last taken for a commit.
    pub fn to_commit(&self) -> TopicPartitionList {
        let mut tpl = TopicPartitionList::new();
        for (topic, partitions) in self.workers().iter_mut() {
            for (partition, o) in partitions {
                let next = o.handle.tracker.committable();
                if next.is_some() && next != o.committed {
                    o.committed = next;
                    let _ = tpl.add_partition_offset(
                        topic,
                        *partition,
                        Offset::Offset(next.unwrap_or_default()),
                    );
                }
            }
        }
        tpl
    }

    /// Keep a polled record for its partition's worker, handing a full
    /// chunk over when the worker can take it; never waits. False when no
    /// worker runs for the partition.
    pub fn dispatch(&self, m: &BorrowedMessage<'_>) -> bool {
        let mut w = self.workers();
        let Some(o) = w.get_mut(m.topic()).and_then(|ps| ps.get_mut(&m.partition())) else {
            return false;
        };
        let (msg, problem) = to_message(m);
        if o.pending.back().is_none_or(|c| c.len() >= self.chunk) {
            let c = Chunk { records: Vec::with_capacity(self.chunk), invalid: Vec::new() };
            o.pending.push_back(c);
        }
        let filling = o.pending.back_mut().expect("a chunk was just ensured");
        filling.push(msg, problem);
        if filling.len() >= self.chunk {
            hand_over(o, self.chunk, false);
        }
        true
    }

    /// Hand kept records to the workers that can take them, then pause the
    /// partitions whose workers are too far behind and resume those that
    /// caught up.
    pub fn flush(&self, consumer: &BaseConsumer<SourceContext>) {
        let (mut pause, mut resume) = (TopicPartitionList::new(), TopicPartitionList::new());
        {
            let mut w = self.workers();
            for (topic, partitions) in w.iter_mut() {
                for (partition, o) in partitions.iter_mut() {
                    hand_over(o, self.chunk, true);
                    let held = o.pending.len();
                    if !o.paused && held >= PAUSE_AT_CHUNKS {
                        o.paused = true;
                        pause.add_partition(topic, *partition);
                    } else if o.paused && held <= RESUME_AT_CHUNKS {
                        o.paused = false;
                        resume.add_partition(topic, *partition);
                    }
                }
            }
        }
        // Outside the lock: librdkafka calls are no place to hold it.
        if pause.count() > 0 {
            tracing::debug!("pausing {} partitions whose workers are behind", pause.count());
            if let Err(e) = consumer.pause(&pause) {
                tracing::warn!("pausing partitions: {e}");
            }
        }
        if resume.count() > 0 {
            tracing::debug!("resuming {} partitions", resume.count());
            if let Err(e) = consumer.resume(&resume) {
                tracing::warn!("resuming partitions: {e}");
            }
        }
    }

    /// Records are kept for a worker that is behind.
    pub fn holding(&self) -> bool {
        self.workers().values().flat_map(HashMap::values).any(|o| !o.pending.is_empty())
    }

    /// Number of partitions this process owns.
    pub fn partitions(&self) -> usize {
        self.workers().values().map(HashMap::len).sum()
    }
}

/// Hand kept chunks over, oldest first, while the worker's channel has
/// room; a chunk still filling goes only when `partial`.
fn hand_over(o: &mut Owned, chunk: usize, partial: bool) {
    while let Some(c) = o.pending.pop_front() {
        if !partial && c.len() < chunk {
            o.pending.push_front(c);
            return;
        }
        match o.handle.tx.try_send(Command::Records(c)) {
            Ok(()) => {}
            Err(TrySendError::Full(Command::Records(c)))
            | Err(TrySendError::Disconnected(Command::Records(c))) => {
                // The worker takes it later (or, if it died, the run is stopping).
                o.pending.push_front(c);
                return;
            }
            Err(_) => return,
        }
    }
}

/// Copy a Kafka record into the host's record type, with the reason
/// it cannot go to a plugin if it cannot.
pub fn to_message(m: &BorrowedMessage<'_>) -> (Record, Option<String>) {
    let mut problem = None;
    let headers = headers::raw(m)
        .into_iter()
        .enumerate()
        .map(|(i, (name, value))| {
            if problem.is_none() {
                problem = headers::name_problem(i, name);
            }
            Header {
                key: String::from_utf8_lossy(name).into_owned(),
                value: value.map(<[u8]>::to_vec).unwrap_or_default(),
            }
        })
        .collect();
    let msg = Record {
        offset: m.offset(),
        timestamp: m.timestamp().to_millis(),
        key: m.key().map(<[u8]>::to_vec),
        value: m.payload().map(<[u8]>::to_vec),
        headers,
    };
    (msg, problem)
}
