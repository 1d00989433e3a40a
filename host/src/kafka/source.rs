//! The consumer side: a consumer-group member whose rebalance callbacks
//! start and stop partition workers, and a poll loop that hands each record
//! to its partition's worker.
//!
//! The poll loop never waits for a worker. Each owned partition's records
//! come through a queue of its own (`split_partition_queue`, split as the
//! partition is assigned), which the loop reads only while the worker has
//! room: a partition whose worker is behind keeps its records in
//! librdkafka (whose prefetch per partition is bounded by
//! `queued.min.messages` and `queued.max.messages.kbytes`), so a slow or
//! stuck partition holds no other, nothing prefetched is dropped, and the
//! loop keeps serving signals, commits and the group.
//!
//! Callbacks run inside `poll` on the source thread, so a revoked
//! partition's worker is drained (up to the hand-over deadline) and its
//! offsets committed before the partition can be assigned to another
//! process. wasp commits by itself, never librdkafka (see `mod.rs`).

use super::headers;
use super::wake::Wake;
use super::worker::{Chunk, Command, Mode, WorkerHandle, WorkerShared};
use crate::record::{Header, Record};
use rdkafka::consumer::base_consumer::PartitionQueue;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::{KafkaError, KafkaResult};
use rdkafka::message::BorrowedMessage;
use rdkafka::{ClientContext, Message as _, Offset, TopicPartitionList};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::mpsc::TrySendError;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::time::{Duration, Instant};

type Key = (String, i32);

/// Chunks kept for a busy worker (besides those in its channel) before its
/// partition's queue is left unread until the worker takes some.
pub const KEEP_CHUNKS: usize = 16;

/// Most records taken from one partition's queue per pass of the poll loop.
pub const BURST: usize = 1024;

/// A running worker and the records polled for it but not handed over yet.
struct Owned {
    handle: WorkerHandle,
    /// Chunks in offset order; only the last one may be filling.
    pending: VecDeque<Chunk>,
    /// The partition's own queue; `None` if it could not be split (its
    /// records then arrive through the consumer's queue).
    queue: Option<PartitionQueue<SourceContext>>,
    /// The offset last committed.
    committed: Option<i64>,
}

impl Owned {
    /// Records polled for the worker and not handed over yet.
    fn held(&self, chunk: usize) -> usize {
        self.pending.back().map_or(0, |last| (self.pending.len() - 1) * chunk + last.len())
    }
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
    /// Records kept for a worker before its queue is left unread.
    keep: usize,
    /// The consumer this is the context of, to split partition queues
    /// from the rebalance callback (set by [`attach`](Self::attach)).
    consumer: OnceLock<Weak<BaseConsumer<SourceContext>>>,
    /// Wakes the poll loop.
    wake: Arc<Wake>,
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
            let offsets = self.stop(keys, Instant::now() + self.handover);
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
        let chunk = shared.batch.max_records.max(1);
        SourceContext {
            workers: Mutex::default(),
            chunk,
            lag: AtomicI64::new(-1),
            shared,
            corrections,
            handover,
            keep: KEEP_CHUNKS * chunk,
            consumer: OnceLock::new(),
            wake: Arc::default(),
        }
    }

    /// Know the consumer this is the context of, so that partitions get
    /// queues of their own as they are assigned; call it before the first
    /// poll. Its queue wakes the poll loop when an event arrives.
    pub fn attach(consumer: BaseConsumer<SourceContext>) -> Arc<BaseConsumer<SourceContext>> {
        let mut consumer = consumer;
        let wake = consumer.context().wake.clone();
        consumer.set_nonempty_callback(move || wake.notify());
        let consumer = Arc::new(consumer);
        let _ = consumer.context().consumer.set(Arc::downgrade(&consumer));
        consumer
    }

    /// Wait until there may be something to do: records or an event
    /// arrived, or a worker took records. At most `timeout`.
    pub fn wait(&self, timeout: Duration) {
        self.wake.wait(timeout);
    }

    /// The partition's own queue, split from the consumer's so the loop
    /// can leave it unread while the worker is behind. Split right after
    /// the assignment, before the partition's first fetch can have
    /// returned (librdkafka first asks the group for the committed offset,
    /// then fetches), so no record of it reaches the consumer's queue
    /// ahead of its own queue.
    fn split(&self, topic: &str, partition: i32) -> Option<PartitionQueue<SourceContext>> {
        let consumer = self.consumer.get()?.upgrade()?;
        let Some(mut queue) = consumer.split_partition_queue(topic, partition) else {
            tracing::warn!(
                topic,
                partition,
                "no queue of its own for the partition: a worker that falls behind holds \
                 its records in memory"
            );
            return None;
        };
        let wake = self.wake.clone();
        queue.set_nonempty_callback(move || wake.notify());
        Some(queue)
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
        // An old entry's queue, dropped after the new one is split, would
        // turn the new one's wake-up off: it goes first.
        let old = self.workers().get_mut(topic).and_then(|ps| ps.remove(&partition));
        drop(old);
        let queue = self.split(topic, partition);
        let h = WorkerHandle::spawn(
            self.shared.clone(),
            topic.to_string(),
            partition,
            mode,
            self.wake.clone(),
        );
        let owned = Owned { handle: h, pending: VecDeque::new(), queue, committed: None };
        self.workers().entry(topic.to_string()).or_default().insert(partition, owned);
    }

    /// Split the queues of the owned partitions again: a new assignment
    /// (`Consumer::assign`) turns the old ones off.
    pub fn split_again(&self) {
        for (topic, partition) in self.owned() {
            let old = self
                .workers()
                .get_mut(&topic)
                .and_then(|ps| ps.get_mut(&partition))
                .and_then(|o| o.queue.take());
            drop(old);
            let queue = self.split(&topic, partition);
            if let Some(o) = self.workers().get_mut(&topic).and_then(|ps| ps.get_mut(&partition)) {
                o.queue = queue;
            }
        }
    }

    /// Stop the workers of `keys`, giving them until `deadline` to finish
    /// what they received and to have it delivered; the offsets to commit
    /// for them.
    pub fn stop(&self, keys: Vec<Key>, deadline: Instant) -> TopicPartitionList {
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
        for ((topic, partition), o) in handles {
            // What is still in the partition's queue was never handed to
            // the worker, so it is not committed: the next owner reads it.
            drop(o.queue);
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
        tpl
    }

    /// Stop every worker (see [`stop`](Self::stop)).
    pub fn stop_all(&self, deadline: Instant) -> TopicPartitionList {
        self.stop(self.owned(), deadline)
    }

    /// The partitions a worker runs for.
    fn owned(&self) -> Vec<Key> {
        self.workers().iter().flat_map(|(t, ps)| ps.keys().map(move |p| (t.clone(), *p))).collect()
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

    /// Keep a record polled from the consumer's queue for its
    /// partition's worker, handing a full chunk over when the worker can
    /// take it; never waits. False when no worker runs for the partition.
    /// (A partition's records come through its own queue, see
    /// [`drain`](Self::drain), unless it could not be split.)
    pub fn dispatch(&self, m: &BorrowedMessage<'_>) -> bool {
        let mut w = self.workers();
        let Some(o) = w.get_mut(m.topic()).and_then(|ps| ps.get_mut(&m.partition())) else {
            return false;
        };
        keep(o, self.chunk, m);
        true
    }

    /// Read the partitions' own queues while their workers have room, at
    /// most [`BURST`] records of each and `budget` in all, handing full
    /// chunks over; never waits. The number of records read; `error` sees
    /// the errors the queues report.
    pub fn drain(&self, budget: usize, mut error: impl FnMut(&KafkaError)) -> usize {
        let mut read = 0;
        let mut w = self.workers();
        for o in w.values_mut().flat_map(HashMap::values_mut) {
            let Some(queue) = o.queue.take() else { continue };
            let mut taken = 0;
            while read < budget && taken < BURST && o.held(self.chunk) < self.keep {
                match queue.poll(Duration::ZERO) {
                    Some(Ok(m)) => {
                        keep(o, self.chunk, &m);
                        taken += 1;
                        read += 1;
                    }
                    Some(Err(e)) => {
                        error(&e);
                        break;
                    }
                    None => break,
                }
            }
            o.queue = Some(queue);
        }
        read
    }

    /// Hand kept records, a chunk still filling too, to the workers that
    /// can take them.
    pub fn flush(&self) {
        for o in self.workers().values_mut().flat_map(HashMap::values_mut) {
            hand_over(o, self.chunk, true);
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

/// Add a record to the worker's filling chunk, handing it over once full.
fn keep(o: &mut Owned, chunk: usize, m: &BorrowedMessage<'_>) {
    let (msg, problem) = to_message(m);
    if o.pending.back().is_none_or(|c| c.len() >= chunk) {
        o.pending.push_back(Chunk { records: Vec::with_capacity(chunk), invalid: Vec::new() });
    }
    let filling = o.pending.back_mut().expect("a chunk was just ensured");
    filling.push(msg, problem);
    if filling.len() >= chunk {
        hand_over(o, chunk, false);
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
