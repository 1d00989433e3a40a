//! The sink of Kafka topics (`sinks::Sink`): produces each record to the
//! topic the router named, and settles it in its batch's `BatchAcks` when
//! the broker acknowledged it.
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
use crate::pipeline::Failure;
use crate::record::Header;
use crate::router::{headers, Destination, Router};
use crate::sinks::route::Kind;
use crate::sinks::{BatchAcks, Outgoing, Sink};
use anyhow::{Context, Result};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{BorrowedHeaders, Header as KHeader, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::{ClientConfig, ClientContext, Message as _};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

/// The delivery report's handle on one record.
pub struct RecordDelivery {
    acks: Arc<BatchAcks>,
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
            d.acks.lost(&topic, "a record could not be sent again while stopping");
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
                d.acks.lost(topic, &format!("a record was not delivered before the stop ({e})"));
            }
            Class::Fatal => {
                RunStats::inc(&self.stats.delivery_failed, 1);
                d.acks.lost(topic, &format!("the producer failed ({e})"));
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
                d.acks.delivered(1);
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

/// Records written per destination during one delivery, added to the
/// shared counters once per batch rather than once per record.
#[derive(Default)]
struct Counts {
    output: u64,
    feedback: u64,
    named: u64,
    dead_letter: u64,
}

/// The sink of Kafka topics: the producer, its delivery reports and the
/// redirector.
pub struct TopicSink {
    producer: ThreadedProducer<SinkContext>,
    version_header: bool,
    stats: Arc<RunStats>,
    busy: Arc<AtomicUsize>,
    partitions: PartitionCounts,
}

fn to_headers(hs: &[Header]) -> OwnedHeaders {
    hs.iter().fold(OwnedHeaders::new_with_capacity(hs.len()), |acc, h| {
        acc.insert(KHeader { key: &h.key, value: Some(h.value.as_slice()) })
    })
}

/// The input's headers, then those describing why it is dead-lettered.
fn dead_letter_headers(
    input: &[Header],
    f: &Failure,
    acks: &BatchAcks,
    offset: i64,
) -> OwnedHeaders {
    let mut hs = to_headers(input);
    for (k, v) in Router::failure_headers(f, &acks.topic, acks.partition, offset) {
        hs = hs.insert(KHeader { key: k, value: Some(v.as_bytes()) });
    }
    hs
}

impl TopicSink {
    /// Create the producer and its redirector thread.
    pub fn new(
        config: &ClientConfig,
        version_header: bool,
        stats: Arc<RunStats>,
    ) -> Result<Arc<Self>> {
        let (tx, rx) = channel();
        let busy = Arc::new(AtomicUsize::new(0));
        let producer = config
            .create_with_context(SinkContext { stats: stats.clone(), jobs: tx, busy: busy.clone() })
            .context("creating the Kafka producer")?;
        let sink = Arc::new(TopicSink {
            producer,
            version_header,
            stats,
            busy,
            partitions: PartitionCounts::default(),
        });
        let weak = Arc::downgrade(&sink);
        std::thread::Builder::new()
            .name("wasp-redirect".into())
            .spawn(move || redirector(&weak, &rx))
            .context("starting the redirector thread")?;
        Ok(sink)
    }

    /// The headers a record goes with: a dead letter's input headers and
    /// reasons, or an output's headers and the plugin version.
    fn headers_of(&self, r: &Outgoing<'_>, acks: &BatchAcks) -> Option<OwnedHeaders> {
        if let Some(f) = &r.failure {
            return Some(dead_letter_headers(r.headers, f, acks, acks.record(r.input).offset));
        }
        let version = r.version.filter(|_| self.version_header);
        if version.is_none() && r.headers.is_empty() {
            // librdkafka then allocates no headers.
            return None;
        }
        let hs = to_headers(r.headers);
        Some(match version {
            Some(v) => {
                hs.insert(KHeader { key: headers::PLUGIN_VERSION, value: Some(v.as_bytes()) })
            }
            None => hs,
        })
    }

    /// Keep a dead letter for the status page and metrics.
    fn note_dead_letter(&self, f: &Failure, acks: &BatchAcks, offset: i64) {
        self.stats.note_dead_letter(DeadLetterNote {
            stage: f.stage.clone(),
            kind: f.kind.clone(),
            reason: f.reason.clone(),
            topic: acks.topic.clone(),
            partition: acks.partition,
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
}

impl Sink for TopicSink {
    /// Queue each record for its topic; the delivery reports settle them.
    /// A partition the topic does not have refuses the record (a `routing`
    /// dead letter of its input), as a broker's refusal would.
    fn deliver(&self, acks: &Arc<BatchAcks>, records: Vec<Outgoing<'_>>) {
        let mut counts = Counts::default();
        for r in records {
            let Destination::Topic(topic) = r.to else {
                unreachable!("the dispatcher sends only topic records here")
            };
            if let Some(n) = r.partition {
                if let Err(reason) = self.partitions.check(self.producer.client(), topic, n) {
                    acks.refused(r.input, r.failure.is_some(), Router::routing_failure(reason));
                    continue;
                }
            }
            let offset = acks.record(r.input).offset;
            match r.kind {
                Kind::Output => counts.output += 1,
                Kind::Feedback => counts.feedback += 1,
                Kind::Named => counts.named += 1,
                Kind::DeadLetter => counts.dead_letter += 1,
            }
            if let Some(f) = &r.failure {
                self.note_dead_letter(f, acks, offset);
            }
            let headers = self.headers_of(&r, acks);
            let d = Box::new(RecordDelivery {
                acks: acks.clone(),
                input: r.input,
                dead_letter: r.failure.is_some(),
                partition: r.partition,
            });
            self.produce(topic, r.key, r.value.as_deref(), headers, d);
        }
        let s = &self.stats;
        for (counter, n) in [
            (&s.output, counts.output),
            (&s.feedback, counts.feedback),
            (&s.named, counts.named),
            (&s.dead_letter, counts.dead_letter),
        ] {
            if n > 0 {
                RunStats::inc(counter, n);
            }
        }
    }

    /// Wait until every queued record is delivered and every re-send is
    /// done, up to `deadline`; false if some are still outstanding.
    fn flush(&self, deadline: Instant) -> bool {
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
}

/// The redirector: re-sends records after a retriable error (after a
/// pause, so a broker that keeps failing is not hammered) and dead-letters
/// the inputs of refused ones. Ends when the sink is dropped.
fn redirector(sink: &Weak<TopicSink>, jobs: &Receiver<Job>) {
    while let Ok(job) = jobs.recv() {
        let Some(sink) = sink.upgrade() else { return };
        match job {
            Job::Resend { topic, key, value, headers, d } => {
                std::thread::sleep(Duration::from_millis(100));
                sink.produce(&topic, key.as_deref(), value.as_deref(), headers, d);
            }
            Job::Refused { topic: _, reason, d } => {
                let f = Failure {
                    stage: String::new(),
                    plugin: String::new(),
                    kind: "delivery".into(),
                    reason,
                };
                d.acks.refused(d.input, d.dead_letter, f);
            }
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
