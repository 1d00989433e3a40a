//! The producer side: writes each outcome where the router says, and tells
//! the partition's offset tracker when the broker acknowledged it.

use super::partitions::PartitionCounts;
use super::stats::{DeadLetterNote, RunStats};
use crate::offsets::OffsetTracker;
use crate::pipeline::{Outcome, Route};
use crate::record::{Header, Record};
use crate::router::{headers, Router};
use crate::sinks::tables::Tables;
use anyhow::{Context, Result};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header as KHeader, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::{ClientConfig, ClientContext, Message as _};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// What the delivery callbacks of one batch's records share: the batch's
/// inputs are acknowledged together when the last record is delivered, so
/// the tracker's lock is taken once per batch, not once per record.
pub struct BatchDelivery {
    tracker: Arc<OffsetTracker>,
    /// (input offset, records it produced), in offset order.
    inputs: Vec<(i64, u32)>,
    /// Records of the batch not yet delivered.
    remaining: AtomicUsize,
    /// A record of the batch failed: its inputs are never acknowledged.
    failed: AtomicBool,
}

impl BatchDelivery {
    /// One of the batch's records was delivered.
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

/// Delivery callbacks: acknowledge or fail the input's offset.
pub struct SinkContext {
    stats: Arc<RunStats>,
}

impl ClientContext for SinkContext {}

impl ProducerContext for SinkContext {
    type DeliveryOpaque = Arc<BatchDelivery>;

    fn delivery(&self, result: &DeliveryResult<'_>, d: Arc<BatchDelivery>) {
        match result {
            Ok(_) => {
                RunStats::inc(&self.stats.delivered, 1);
                d.delivered();
            }
            Err((e, msg)) => {
                RunStats::inc(&self.stats.delivery_failed, 1);
                d.lost(msg.topic(), &format!("a record could not be delivered ({e})"));
            }
        }
    }
}

/// One record ready to send.
struct Pending<'a> {
    topic: &'a str,
    partition: Option<i32>,
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
    partitions: PartitionCounts,
    /// Table destinations, written before the Kafka records (sinks::tables).
    tables: Option<Tables>,
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
        Ok(Sink {
            producer,
            router,
            version_header,
            stats,
            partitions: PartitionCounts::default(),
            tables: None,
        })
    }

    /// Route outputs to these table destinations too.
    pub fn with_tables(mut self, tables: Option<Tables>) -> Self {
        self.tables = tables;
        self
    }

    /// The run is ending: stop retrying an unreachable database.
    pub fn stop_retrying(&self) {
        if let Some(t) = &self.tables {
            t.stop();
        }
    }

    /// Write every outcome of a batch; the tracker learns of the inputs
    /// before their records are sent, so no acknowledgement can come first.
    pub fn write(
        &self,
        topic: &str,
        partition: i32,
        batch: &[Record],
        outcomes: &[Outcome],
        tracker: &Arc<OffsetTracker>,
    ) {
        // Table-bound outputs are written first (sinks::tables); `None`
        // means the batch is held uncommitted because the run is stopping.
        let tabled = match &self.tables {
            Some(t) => match t.write_before_produce(
                topic,
                partition,
                batch,
                outcomes,
                tracker,
                &self.stats,
            ) {
                Some(written) => Some(written),
                None => return,
            },
            None => None,
        };
        let (outcomes, to_table) = match &tabled {
            Some((o, t)) => (o.as_slice(), t.as_slice()),
            None => (outcomes, &[][..]),
        };
        let mut counts = Counts::default();
        let mut records = Vec::with_capacity(batch.len());
        let mut inputs = Vec::with_capacity(batch.len());
        for (i, (msg, outcome)) in batch.iter().zip(outcomes).enumerate() {
            let before = records.len();
            self.resolve(topic, partition, msg, outcome, &mut records, &mut counts);
            let produced = records.len() - before;
            if produced == 0 && !to_table.get(i).copied().unwrap_or(false) {
                counts.dropped += 1;
            }
            inputs.push((msg.offset, u32::try_from(produced).unwrap_or(u32::MAX)));
        }
        tracker.begin(&inputs);
        if !records.is_empty() {
            let shared = Arc::new(BatchDelivery {
                tracker: tracker.clone(),
                inputs,
                remaining: AtomicUsize::new(records.len()),
                failed: AtomicBool::new(false),
            });
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
        RunStats::inc(&self.stats.processed, batch.len() as u64);
    }

    /// Topics, keys and headers for one input's outcome, into `out`.
    fn resolve<'a>(
        &'a self,
        topic: &str,
        partition: i32,
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
                        value: p.value.as_deref(),
                        headers: hs,
                    });
                }
                Err(reason) => failures.push(Router::routing_failure(reason)),
            }
        }
        for f in outcome.failures.iter().chain(&failures) {
            counts.dead_letter += 1;
            self.stats.note_dead_letter(DeadLetterNote {
                stage: f.stage.clone(),
                kind: f.kind.clone(),
                reason: f.reason.clone(),
                topic: topic.to_string(),
                partition,
                offset: msg.offset,
            });
            let mut hs = to_headers(&msg.headers);
            for (k, v) in Router::failure_headers(f, topic, partition, msg.offset) {
                hs = hs.insert(KHeader { key: k, value: Some(v.as_bytes()) });
            }
            out.push(Pending {
                topic: self.router.dead_letter(),
                partition: None,
                key: msg.key.as_deref(),
                value: msg.value.as_deref(),
                headers: Some(hs),
            });
        }
    }

    fn send(&self, r: Pending<'_>, batch: &Arc<BatchDelivery>) {
        let mut record: BaseRecord<'_, [u8], [u8], Arc<BatchDelivery>> =
            BaseRecord::with_opaque_to(r.topic, batch.clone());
        if let Some(hs) = r.headers {
            record = record.headers(hs);
        }
        if let Some(k) = r.key {
            record = record.key(k);
        }
        if let Some(p) = r.partition {
            record = record.partition(p);
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
                    back.delivery_opaque
                        .lost(r.topic, &format!("a record could not be produced ({e})"));
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
