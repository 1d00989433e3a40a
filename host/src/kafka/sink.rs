//! The producer side: writes each outcome where the router says, and tells
//! the partition's offset tracker when the broker acknowledged it.

use super::stats::RunStats;
use crate::offsets::OffsetTracker;
use crate::pipeline::{Outcome, Route};
use crate::router::{headers, Router};
use crate::runtime::bindings::{Header, Message};
use anyhow::{Context, Result};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header as KHeader, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::{ClientConfig, ClientContext, Message as _};
use std::sync::Arc;
use std::time::Duration;

/// What the delivery callback needs to settle one record.
pub struct Delivery {
    tracker: Arc<OffsetTracker>,
    input_offset: i64,
}

/// Delivery callbacks: acknowledge or fail the input's offset.
pub struct SinkContext {
    stats: Arc<RunStats>,
}

impl ClientContext for SinkContext {}

impl ProducerContext for SinkContext {
    type DeliveryOpaque = Box<Delivery>;

    fn delivery(&self, result: &DeliveryResult<'_>, d: Box<Delivery>) {
        match result {
            Ok(_) => {
                RunStats::inc(&self.stats.delivered, 1);
                d.tracker.ack(d.input_offset);
            }
            Err((e, msg)) => {
                RunStats::inc(&self.stats.delivery_failed, 1);
                tracing::error!(
                    topic = msg.topic(),
                    input_offset = d.input_offset,
                    "a record could not be delivered ({e}); its input will not be committed and is \
                     processed again after a restart"
                );
                d.tracker.fail(d.input_offset);
            }
        }
    }
}

/// One record ready to send.
struct Pending<'a> {
    topic: &'a str,
    key: Option<&'a [u8]>,
    value: Option<&'a [u8]>,
    /// `None` when the record has no headers: librdkafka then allocates none.
    headers: Option<OwnedHeaders>,
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
}

fn to_headers(hs: &[Header]) -> OwnedHeaders {
    hs.iter().fold(OwnedHeaders::new_with_capacity(hs.len()), |acc, h| {
        acc.insert(KHeader { key: &h.key, value: Some(h.value.as_slice()) })
    })
}

impl Sink {
    /// Create the producer.
    pub fn new(
        config: &ClientConfig,
        router: Router,
        version_header: bool,
        stats: Arc<RunStats>,
    ) -> Result<Self> {
        let producer = config
            .create_with_context(SinkContext { stats: stats.clone() })
            .context("creating the Kafka producer")?;
        Ok(Sink { producer, router, version_header, stats })
    }

    /// Write every outcome of a batch; the tracker learns of each input
    /// before its records are sent, so no acknowledgement can come first.
    pub fn write(
        &self,
        topic: &str,
        partition: i32,
        batch: &[Message],
        outcomes: &[Outcome],
        tracker: &Arc<OffsetTracker>,
    ) {
        let mut counts = Counts::default();
        let mut records = Vec::new();
        for (msg, outcome) in batch.iter().zip(outcomes) {
            self.resolve(topic, partition, msg, outcome, &mut records, &mut counts);
            tracker.begin(msg.offset, records.len() as u32);
            if records.is_empty() {
                counts.dropped += 1;
            }
            for r in records.drain(..) {
                self.send(r, tracker, msg.offset);
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
        RunStats::inc(&self.stats.processed, batch.len() as u64);
    }

    /// Topics, keys and headers for one input's outcome, into `out`.
    fn resolve<'a>(
        &'a self,
        topic: &str,
        partition: i32,
        msg: &'a Message,
        outcome: &'a Outcome,
        out: &mut Vec<Pending<'a>>,
        counts: &mut Counts,
    ) {
        let mut failures = Vec::new();
        for p in &outcome.produced {
            match self.router.topic(&p.route) {
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
                        key: p.key.as_deref(),
                        value: p.value.as_deref(),
                        headers: hs,
                    });
                }
                Err(reason) => failures.push(Router::routing_failure(reason)),
            }
        }
        for f in outcome.failures.iter().chain(&failures) {
            counts.dead_letter += 1;
            let mut hs = to_headers(&msg.headers);
            for (k, v) in Router::failure_headers(f, topic, partition, msg.offset) {
                hs = hs.insert(KHeader { key: k, value: Some(v.as_bytes()) });
            }
            out.push(Pending {
                topic: self.router.dead_letter(),
                key: msg.key.as_deref(),
                value: msg.value.as_deref(),
                headers: Some(hs),
            });
        }
    }

    fn send(&self, r: Pending<'_>, tracker: &Arc<OffsetTracker>, input_offset: i64) {
        let delivery = Box::new(Delivery { tracker: tracker.clone(), input_offset });
        let mut record: BaseRecord<'_, [u8], [u8], Box<Delivery>> =
            BaseRecord::with_opaque_to(r.topic, delivery);
        if let Some(hs) = r.headers {
            record = record.headers(hs);
        }
        if let Some(k) = r.key {
            record = record.key(k);
        }
        if let Some(v) = r.value {
            record = record.payload(v);
        }
        loop {
            match self.producer.send(record) {
                Ok(()) => return,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    // Backpressure: the producer thread drains the queue.
                    record = back;
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err((e, back)) => {
                    RunStats::inc(&self.stats.delivery_failed, 1);
                    tracing::error!(
                        topic = r.topic,
                        input_offset,
                        "a record could not be produced ({e}); its input will not be committed"
                    );
                    back.delivery_opaque.tracker.fail(input_offset);
                    return;
                }
            }
        }
    }

    /// Wait for every queued record to be delivered, up to `timeout`.
    pub fn flush(&self, timeout: Duration) -> Result<()> {
        self.producer.flush(timeout).context("flushing the Kafka producer")
    }
}
