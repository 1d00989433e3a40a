//! The producer side: writes each outcome where the router says, and tells
//! the partition's offset tracker when the broker acknowledged it.
//!
//! A record the broker refuses for good (too large, invalid, not
//! authorized, no such topic) dead-letters the *input* it came from, with
//! the broker's reason (`wasp.error.kind = delivery`), and the input is
//! committed like any other; a retriable error sends the record again. A
//! dead letter that is refused stops the run: its input is never
//! acknowledged, so nothing from it on is committed. Delivery reports
//! arrive on the producer's polling thread, which must not block, so the
//! re-sends go through a thread of their own (the redirector).

use super::partitions::PartitionCounts;
use super::stats::{DeadLetterNote, RunStats};
use crate::offsets::OffsetTracker;
use crate::pipeline::{Failure, Outcome, Route};
use crate::record::{Header, Record};
use crate::router::{headers, Router};
use crate::sinks::tables::Tables;
use anyhow::{Context, Result};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{BorrowedHeaders, Header as KHeader, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::{ClientConfig, ClientContext, Message as _};
use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

/// What the delivery callbacks of one batch's records share: the batch's
/// inputs are acknowledged together when the last record is delivered, so
/// the tracker's lock is taken once per batch, not once per record.
pub struct BatchDelivery {
    tracker: Arc<OffsetTracker>,
    /// Where the inputs came from.
    topic: String,
    partition: i32,
    /// The inputs, kept until their records are delivered so that one
    /// whose output is refused can be dead-lettered as it came.
    batch: Vec<Record>,
    /// (input offset, records it produced), in offset order.
    inputs: Vec<(i64, u32)>,
    /// Records of the batch not yet delivered.
    remaining: AtomicUsize,
    /// A record of the batch failed: its inputs are never acknowledged.
    failed: AtomicBool,
    /// Inputs already dead-lettered because an output was refused.
    redirected: Mutex<Vec<u32>>,
}

impl BatchDelivery {
    /// One of the batch's records was delivered (or replaced by another).
    fn delivered(&self) {
        if self.remaining.fetch_sub(1, Ordering::AcqRel) == 1
            && !self.failed.load(Ordering::Acquire)
        {
            self.tracker.ack(&self.inputs);
        }
    }

    /// One of the batch's records is lost; `what` says how, for the log.
    fn lost(&self, topic: &str, what: &str) {
        self.failed.store(true, Ordering::Release);
        self.tracker.fail();
        let (first, last) = (self.inputs.first().map(|i| i.0), self.inputs.last().map(|i| i.0));
        tracing::error!(
            topic,
            "{what}; the input offsets {first:?}..={last:?} of its batch will not be committed \
             and are processed again after a restart"
        );
    }
}

/// The delivery report's handle on one record.
pub struct RecordDelivery {
    batch: Arc<BatchDelivery>,
    /// Its input's index in the batch.
    input: u32,
    /// It is a dead letter: if it is refused, the run stops.
    dead_letter: bool,
    /// The partition the plugin chose (`None`: by key), kept so a re-send
    /// goes to the same one.
    partition: Option<i32>,
}

type Opaque = Box<RecordDelivery>;

/// Work for the redirector.
enum Job {
    /// A retriable error: send the record again.
    Resend {
        topic: String,
        key: Option<Vec<u8>>,
        value: Option<Vec<u8>>,
        headers: Option<OwnedHeaders>,
        d: Opaque,
    },
    /// A permanent error: dead-letter the record's input (or stop, for a dead letter).
    Refused { topic: String, reason: String, d: Opaque },
}

/// How a failed delivery is handled.
#[derive(Debug, PartialEq, Eq)]
enum Class {
    /// Send it again.
    Retry,
    /// Purged at shutdown: not delivered, its input stays uncommitted.
    Purged,
    /// The producer can no longer be used.
    Fatal,
    /// Refused for good.
    Refused,
}

fn classify(e: &KafkaError) -> Class {
    use RDKafkaErrorCode as C;
    let KafkaError::MessageProduction(code) = e else { return Class::Refused };
    match code {
        C::PurgeQueue | C::PurgeInflight => Class::Purged,
        C::Fatal => Class::Fatal,
        C::MessageTimedOut
        | C::RequestTimedOut
        | C::QueueFull
        | C::BrokerTransportFailure
        | C::AllBrokersDown
        | C::NetworkException
        | C::BrokerNotAvailable
        | C::LeaderNotAvailable
        | C::NotLeaderForPartition
        | C::NotEnoughReplicas
        | C::NotEnoughReplicasAfterAppend
        | C::KafkaStorageError
        | C::NotCoordinator
        | C::CoordinatorLoadInProgress => Class::Retry,
        _ => Class::Refused,
    }
}

/// Delivery callbacks: acknowledge, or hand the record to the redirector.
pub struct SinkContext {
    stats: Arc<RunStats>,
    jobs: Sender<Job>,
    /// Jobs queued or being handled; a flush waits for them too.
    busy: Arc<AtomicUsize>,
}

impl SinkContext {
    fn submit(&self, job: Job) {
        self.busy.fetch_add(1, Ordering::AcqRel);
        if let Err(e) = self.jobs.send(job) {
            // The redirector is gone only when the sink is being dropped.
            self.busy.fetch_sub(1, Ordering::AcqRel);
            let (Job::Resend { d, topic, .. } | Job::Refused { d, topic, .. }) = e.0;
            RunStats::inc(&self.stats.delivery_failed, 1);
            d.batch.lost(&topic, "a record could not be sent again while stopping");
        }
    }

    /// A record failed with `e`: retry, dead-letter its input, or give up.
    fn failed(&self, e: &KafkaError, topic: &str, d: Opaque, resend: impl FnOnce(Opaque) -> Job) {
        match classify(e) {
            Class::Retry => self.submit(resend(d)),
            Class::Refused => self.submit(Job::Refused {
                topic: topic.to_string(),
                reason: format!("topic {topic} refused the record: {e}"),
                d,
            }),
            Class::Purged => {
                RunStats::inc(&self.stats.delivery_failed, 1);
                d.batch.lost(topic, &format!("a record was not delivered before the stop ({e})"));
            }
            Class::Fatal => {
                RunStats::inc(&self.stats.delivery_failed, 1);
                d.batch.lost(topic, &format!("the producer failed ({e})"));
                self.stats.set_fatal(format!("the Kafka producer failed for good: {e}"));
            }
        }
    }
}

impl ClientContext for SinkContext {}

impl ProducerContext for SinkContext {
    type DeliveryOpaque = Opaque;

    fn delivery(&self, result: &DeliveryResult<'_>, d: Opaque) {
        match result {
            Ok(_) => {
                RunStats::inc(&self.stats.delivered, 1);
                d.batch.delivered();
            }
            Err((e, msg)) => {
                self.failed(e, msg.topic(), d, |d| Job::Resend {
                    topic: msg.topic().to_string(),
                    key: msg.key().map(<[u8]>::to_vec),
                    value: msg.payload().map(<[u8]>::to_vec),
                    headers: msg.headers().map(BorrowedHeaders::detach),
                    d,
                });
            }
        }
    }
}

/// One record ready to send.
struct Pending<'a> {
    topic: &'a str,
    partition: Option<i32>,
    key: Option<&'a [u8]>,
    value: Option<Cow<'a, [u8]>>,
    /// `None` when the record has no headers: librdkafka then allocates none.
    headers: Option<OwnedHeaders>,
    /// Index of its input in the batch.
    input: u32,
    dead_letter: bool,
}

/// Records written per destination during one batch, added to the shared
/// counters once per batch rather than once per record.
#[derive(Default)]
struct Counts {
    output: u64,
    feedback: u64,
    named: u64,
    dead_letter: u64,
    dropped: u64,
}

/// The producer and the routing of outcomes.
pub struct Sink {
    producer: ThreadedProducer<SinkContext>,
    router: Router,
    version_header: bool,
    stats: Arc<RunStats>,
    busy: Arc<AtomicUsize>,
    partitions: PartitionCounts,
    /// Table destinations, written before the Kafka records (sinks::tables).
    tables: Option<Tables>,
}

fn to_headers(hs: &[Header]) -> OwnedHeaders {
    hs.iter().fold(OwnedHeaders::new_with_capacity(hs.len()), |acc, h| {
        acc.insert(KHeader { key: &h.key, value: Some(h.value.as_slice()) })
    })
}

/// The input's headers, then those describing why it is dead-lettered.
fn dead_letter_headers(msg: &Record, f: &Failure, topic: &str, partition: i32) -> OwnedHeaders {
    let mut hs = to_headers(&msg.headers);
    for (k, v) in Router::failure_headers(f, topic, partition, msg.offset) {
        hs = hs.insert(KHeader { key: k, value: Some(v.as_bytes()) });
    }
    hs
}

impl Sink {
    /// Create the producer and its redirector thread.
    pub fn new(
        config: &ClientConfig,
        router: Router,
        version_header: bool,
        stats: Arc<RunStats>,
        tables: Option<Tables>,
    ) -> Result<Arc<Self>> {
        let (tx, rx) = channel();
        let busy = Arc::new(AtomicUsize::new(0));
        let producer = config
            .create_with_context(SinkContext { stats: stats.clone(), jobs: tx, busy: busy.clone() })
            .context("creating the Kafka producer")?;
        let sink = Arc::new(Sink {
            producer,
            router,
            version_header,
            stats,
            busy,
            partitions: PartitionCounts::default(),
            tables,
        });
        let weak = Arc::downgrade(&sink);
        std::thread::Builder::new()
            .name("wasp-redirect".into())
            .spawn(move || redirector(&weak, &rx))
            .context("starting the redirector thread")?;
        Ok(sink)
    }

    /// The run is ending: stop retrying an unreachable database.
    pub fn stop_retrying(&self) {
        if let Some(t) = &self.tables {
            t.stop();
        }
    }

    /// Write every outcome of a batch; the tracker learns of the inputs
    /// before their records are sent, so no acknowledgement can come first.
    /// The batch is kept until its records are delivered.
    pub fn write(
        &self,
        topic: &str,
        partition: i32,
        batch: Vec<Record>,
        outcomes: &[Outcome],
        tracker: &Arc<OffsetTracker>,
    ) {
        // Table-bound outputs are written first (sinks::tables), and taken
        // out of the outcomes; `None` means the batch is held uncommitted
        // because the run is stopping while the database is unreachable.
        let tabled = match &self.tables {
            Some(t) => {
                match t.write_before_produce(
                    topic,
                    partition,
                    &batch,
                    outcomes,
                    tracker,
                    &self.stats,
                ) {
                    Some(written) => Some(written),
                    None => return,
                }
            }
            None => None,
        };
        let (outcomes, to_table) = match &tabled {
            Some((o, t)) => (o.as_slice(), t.as_slice()),
            None => (outcomes, &[][..]),
        };
        let went_to_table = |i: usize| to_table.get(i).copied().unwrap_or(false);
        // Every produced record goes to its topic or, if not allowed
        // there, to the dead-letter topic: one record each, like failures.
        let inputs: Vec<(i64, u32)> = batch
            .iter()
            .zip(outcomes)
            .map(|(m, o)| {
                let n = o.produced.len() + o.failures.len();
                (m.offset, u32::try_from(n).unwrap_or(u32::MAX))
            })
            .collect();
        tracker.begin(&inputs);
        let total: usize = inputs.iter().map(|&(_, n)| n as usize).sum();
        let processed = batch.len() as u64;
        let mut counts = Counts::default();
        if total == 0 {
            counts.dropped = (0..outcomes.len()).filter(|&i| !went_to_table(i)).count() as u64;
        } else {
            let shared = Arc::new(BatchDelivery {
                tracker: tracker.clone(),
                topic: topic.to_string(),
                partition,
                batch,
                inputs,
                remaining: AtomicUsize::new(total),
                failed: AtomicBool::new(false),
                redirected: Mutex::new(Vec::new()),
            });
            let mut records = Vec::with_capacity(total);
            for (i, (msg, outcome)) in shared.batch.iter().zip(outcomes).enumerate() {
                if outcome.is_dropped() && !went_to_table(i) {
                    counts.dropped += 1;
                }
                self.resolve(topic, partition, i as u32, msg, outcome, &mut records, &mut counts);
            }
            for r in records {
                self.send(r, &shared);
            }
        }
        let s = &self.stats;
        for (counter, n) in [
            (&s.output, counts.output),
            (&s.feedback, counts.feedback),
            (&s.named, counts.named),
            (&s.dead_letter, counts.dead_letter),
            (&s.dropped, counts.dropped),
        ] {
            if n > 0 {
                RunStats::inc(counter, n);
            }
        }
        RunStats::inc(&self.stats.processed, processed);
    }

    /// Topics, keys and headers for one input's outcome, into `out`.
    #[allow(clippy::too_many_arguments)]
    fn resolve<'a>(
        &'a self,
        topic: &str,
        partition: i32,
        input: u32,
        msg: &'a Record,
        outcome: &'a Outcome,
        out: &mut Vec<Pending<'a>>,
        counts: &mut Counts,
    ) {
        let mut failures = Vec::new();
        for p in &outcome.produced {
            let destination = self.router.topic(&p.route).and_then(|t| match p.partition {
                None => Ok(t),
                Some(n) => self.partitions.check(self.producer.client(), t, n).map(|()| t),
            });
            match destination {
                Ok(t) => {
                    match p.route {
                        Route::Output => counts.output += 1,
                        Route::Feedback => counts.feedback += 1,
                        Route::Topic(_) => counts.named += 1,
                    }
                    let hs = (self.version_header || !p.headers.is_empty()).then(|| {
                        let hs = to_headers(&p.headers);
                        if !self.version_header {
                            return hs;
                        }
                        hs.insert(KHeader {
                            key: headers::PLUGIN_VERSION,
                            value: Some(p.version.as_bytes()),
                        })
                    });
                    out.push(Pending {
                        topic: t,
                        partition: p.partition,
                        key: p.key.as_deref(),
                        value: p.value.as_deref().map(Cow::Borrowed),
                        headers: hs,
                        input,
                        dead_letter: false,
                    });
                }
                Err(reason) => failures.push(Router::routing_failure(reason)),
            }
        }
        for f in outcome.failures.iter().chain(&failures) {
            counts.dead_letter += 1;
            self.note_dead_letter(f, topic, partition, msg.offset);
            out.push(Pending {
                topic: self.router.dead_letter(),
                partition: None,
                key: msg.key.as_deref(),
                value: self.router.dead_letter_value(msg.value.as_deref()),
                headers: Some(dead_letter_headers(msg, f, topic, partition)),
                input,
                dead_letter: true,
            });
        }
    }

    fn send(&self, r: Pending<'_>, batch: &Arc<BatchDelivery>) {
        let d = Box::new(RecordDelivery {
            batch: batch.clone(),
            input: r.input,
            dead_letter: r.dead_letter,
            partition: r.partition,
        });
        self.produce(r.topic, r.key, r.value.as_deref(), r.headers, d);
    }

    /// Keep a dead letter for the status page and metrics.
    fn note_dead_letter(&self, f: &Failure, topic: &str, partition: i32, offset: i64) {
        self.stats.note_dead_letter(DeadLetterNote {
            stage: f.stage.clone(),
            kind: f.kind.clone(),
            reason: f.reason.clone(),
            topic: topic.to_string(),
            partition,
            offset,
        });
    }

    /// Queue one record, waiting while the producer's queue is full (which
    /// bounds its memory; the caller's partition waits, not the others).
    fn produce(
        &self,
        topic: &str,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: Option<OwnedHeaders>,
        d: Opaque,
    ) {
        let partition = d.partition;
        let mut record: BaseRecord<'_, [u8], [u8], Opaque> = BaseRecord::with_opaque_to(topic, d);
        if let Some(p) = partition {
            record = record.partition(p);
        }
        if let Some(hs) = headers {
            record = record.headers(hs);
        }
        if let Some(k) = key {
            record = record.key(k);
        }
        if let Some(v) = value {
            record = record.payload(v);
        }
        loop {
            match self.producer.send(record) {
                Ok(()) => return,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    record = back;
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err((e, back)) => {
                    // Refused before reaching the broker (for instance over
                    // `message.max.bytes`): handled like a broker's refusal.
                    let headers = back.headers;
                    self.producer.context().failed(&e, topic, back.delivery_opaque, |d| {
                        Job::Resend {
                            topic: topic.to_string(),
                            key: key.map(<[u8]>::to_vec),
                            value: value.map(<[u8]>::to_vec),
                            headers,
                            d,
                        }
                    });
                    return;
                }
            }
        }
    }

    /// An output of input `d.input` was refused for good: dead-letter the
    /// input with the reason, once; a refused dead letter stops the run.
    fn refused(&self, topic: &str, reason: String, d: &RecordDelivery) {
        let b = &d.batch;
        let (offset, _) = b.inputs[d.input as usize];
        if d.dead_letter {
            RunStats::inc(&self.stats.delivery_failed, 1);
            b.lost(topic, &format!("a dead letter was refused ({reason})"));
            self.stats.set_fatal(format!(
                "the dead-letter topic {topic} refused the record from {}/{} at offset {offset} \
                 ({reason}); stopping, with nothing committed from that offset on. Make the \
                 dead-letter topic accept it (for instance raise message.max.bytes on the \
                 topic and in [kafka.producer]) and run again",
                b.topic, b.partition
            ));
            return;
        }
        let first = {
            let mut r = b.redirected.lock().unwrap_or_else(|p| p.into_inner());
            let first = !r.contains(&d.input);
            if first {
                r.push(d.input);
            }
            first
        };
        if first {
            tracing::warn!(
                "dead-lettering the input {}/{} offset {offset}: {reason}",
                b.topic,
                b.partition
            );
            // One more record for the batch before this one is settled, so
            // the batch cannot complete in between.
            b.remaining.fetch_add(1, Ordering::AcqRel);
            RunStats::inc(&self.stats.dead_letter, 1);
            let msg = &b.batch[d.input as usize];
            let f = Failure {
                stage: String::new(),
                plugin: String::new(),
                kind: "delivery".into(),
                reason,
            };
            self.note_dead_letter(&f, &b.topic, b.partition, msg.offset);
            let hs = dead_letter_headers(msg, &f, &b.topic, b.partition);
            let dl = Box::new(RecordDelivery {
                batch: b.clone(),
                input: d.input,
                dead_letter: true,
                partition: None,
            });
            self.produce(
                self.router.dead_letter(),
                msg.key.as_deref(),
                self.router.dead_letter_value(msg.value.as_deref()).as_deref(),
                Some(hs),
                dl,
            );
        }
        b.delivered();
    }

    /// Wait until every queued record is delivered and every re-send is
    /// done, up to `deadline`; false if some are still outstanding.
    pub fn flush(&self, deadline: Instant) -> bool {
        loop {
            let idle = self.busy.load(Ordering::Acquire) == 0;
            let left = deadline.saturating_duration_since(Instant::now());
            let step = left.min(Duration::from_millis(100));
            if self.producer.flush(step).is_ok() && idle && self.busy.load(Ordering::Acquire) == 0 {
                return true;
            }
            if left.is_zero() {
                return false;
            }
        }
    }

    /// Records the producer holds (queued or in flight), plus re-sends.
    pub fn outstanding(&self) -> usize {
        usize::try_from(self.producer.in_flight_count()).unwrap_or(0)
            + self.busy.load(Ordering::Acquire)
    }
}

/// The redirector: re-sends records after a retriable error (after a
/// pause, so a broker that keeps failing is not hammered) and dead-letters
/// the inputs of refused ones. Ends when the sink is dropped.
fn redirector(sink: &Weak<Sink>, jobs: &Receiver<Job>) {
    while let Ok(job) = jobs.recv() {
        let Some(sink) = sink.upgrade() else { return };
        match job {
            Job::Resend { topic, key, value, headers, d } => {
                std::thread::sleep(Duration::from_millis(100));
                sink.produce(&topic, key.as_deref(), value.as_deref(), headers, d);
            }
            Job::Refused { topic, reason, d } => sink.refused(&topic, reason, &d),
        }
        sink.busy.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_retriable_errors_are_retried() {
        let e = |c| KafkaError::MessageProduction(c);
        assert_eq!(classify(&e(RDKafkaErrorCode::MessageSizeTooLarge)), Class::Refused);
        assert_eq!(classify(&e(RDKafkaErrorCode::TopicAuthorizationFailed)), Class::Refused);
        assert_eq!(classify(&e(RDKafkaErrorCode::UnknownTopicOrPartition)), Class::Refused);
        assert_eq!(classify(&e(RDKafkaErrorCode::InvalidRecord)), Class::Refused);
        assert_eq!(classify(&e(RDKafkaErrorCode::MessageTimedOut)), Class::Retry);
        assert_eq!(classify(&e(RDKafkaErrorCode::NotEnoughReplicas)), Class::Retry);
        assert_eq!(classify(&e(RDKafkaErrorCode::PurgeQueue)), Class::Purged);
    }
}
