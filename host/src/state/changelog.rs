//! The changelog in Kafka (`[state] changelog = true`): one topic for the
//! pipeline's stage-scoped state (one partition), and one per source topic
//! (inputs, corrections) whose partition p holds the partition-scoped
//! state of the source's partition p. wasp creates them, compacted
//! (`cleanup.policy=compact`; a broker may ignore it, Tansu does).
//!
//! Appends go through a writer thread of their own, so a worker never
//! waits on librdkafka's queue while holding the store's lock; the
//! producer is idempotent, so retries neither reorder nor duplicate. A
//! read knows it reached the end when it meets a barrier record it
//! produced itself just before reading: end offsets are not used, as some
//! brokers (Tansu) undercount them.

use super::backend::Backend;
use super::keys::Part;
use super::store::StateStore;
use crate::config::PipelineConfig;
use crate::kafka::declared;
use crate::offsets::Hold;
use anyhow::{bail, Context, Result};
use rdkafka::admin::AdminClient;
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::{ClientConfig, ClientContext, Message as _, Offset, TopicPartitionList};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The record key of barriers (write sets have hex digests as keys): one
/// key, so a compacting broker keeps only the last barrier.
pub(super) const BARRIER_KEY: &[u8] = b"wasp:barrier";
/// The header naming the process that wrote a stage-part write set, so
/// the process following the stage log (`super::follow`) skips its own.
pub(super) const ORIGIN_HEADER: &str = "wasp-origin";
/// A read that makes no progress for this long fails.
const READ_STALL: Duration = Duration::from_secs(60);

/// What a delivery report settles.
enum Delivery {
    /// A write set: its batch's hold, released when delivered.
    Set(Option<Arc<Hold>>),
    /// A barrier: who waits for it.
    Barrier(SyncSender<Taken>),
}

/// Whether the broker took a barrier (the error if not).
type Taken = Result<(), String>;

/// Delivery reports: release holds, fail them on a lost write.
struct LogContext;

impl ClientContext for LogContext {}

impl ProducerContext for LogContext {
    type DeliveryOpaque = Box<Delivery>;

    fn delivery(&self, result: &DeliveryResult<'_>, d: Box<Delivery>) {
        match (*d, result) {
            (Delivery::Set(_hold), Ok(_)) => {}
            (Delivery::Set(hold), Err((e, m))) => {
                // The producer retries by itself (idempotent, no timeout):
                // a report of failure is final.
                tracing::error!(
                    topic = m.topic(),
                    partition = m.partition(),
                    "a state write set was not written to the changelog ({e}); the inputs of its \
                     batch stay uncommitted and are processed again after a restart"
                );
                if let Some(h) = hold {
                    h.fail();
                }
            }
            (Delivery::Barrier(tx), r) => {
                let _ = tx.send(r.as_ref().map(|_| ()).map_err(|(e, _)| e.to_string()));
            }
        }
    }
}

/// One record for the writer thread.
struct Job {
    topic: String,
    partition: i32,
    key: Vec<u8>,
    value: Vec<u8>,
    /// This process's origin header (stage-part write sets only).
    origin: Option<Arc<[u8]>>,
    delivery: Box<Delivery>,
}

/// The changelog topics of one pipeline in Kafka.
pub struct KafkaChangelog {
    jobs: Mutex<Sender<Job>>,
    /// The stage-scoped state's topic.
    stage_topic: String,
    /// Source topic → its changelog topic.
    partition_topics: BTreeMap<String, String>,
    /// For the consumers of reads.
    pub(super) reader: ClientConfig,
    barriers: AtomicU64,
    /// Unique to this process: the origin header of its stage write sets.
    pub(super) origin: Arc<[u8]>,
}

/// Topic names may hold letters, digits, '.', '_' and '-'.
fn topic_safe(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '_' })
        .collect()
}

/// The changelog topic of the stage-scoped state of `cfg`'s pipeline.
pub fn stage_topic(cfg: &PipelineConfig) -> String {
    format!("{}-state", topic_safe(&cfg.group_id()))
}

/// The changelog topic of the partition-scoped state of `source`.
pub fn partition_topic(cfg: &PipelineConfig, source: &str) -> String {
    format!("{}-state-{source}", topic_safe(&cfg.group_id()))
}

impl KafkaChangelog {
    /// Create the pipeline's changelog topics when missing (check those
    /// present), and start the writer.
    pub fn open(cfg: &PipelineConfig) -> Result<Arc<Self>> {
        let common = crate::kafka::common_config(cfg);
        let admin: AdminClient<DefaultClientContext> =
            common.create().context("creating the Kafka admin client for the state changelog")?;
        let mut sources: Vec<&String> = cfg.topics.input.iter().collect();
        sources.extend(cfg.topics.corrections.as_ref());
        let mut wanted = vec![(stage_topic(cfg), 1)];
        let mut partition_topics = BTreeMap::new();
        for s in sources {
            let found = declared::counts(admin.inner(), std::iter::once(s))?;
            let n = found.get(s.as_str()).copied().with_context(|| {
                format!(
                    "topic '{s}' does not exist: the state changelog needs its partition count \
                     (create it first, or declare it under [topics.partitions])"
                )
            })?;
            let log = partition_topic(cfg, s);
            wanted.push((log.clone(), n));
            partition_topics.insert(s.clone(), log);
        }
        create(&admin, &wanted)?;
        let producer: ThreadedProducer<LogContext> = crate::kafka::producer_config(cfg)
            .create_with_context(LogContext)
            .context("creating the state changelog's producer")?;
        let (tx, rx) = channel();
        std::thread::Builder::new()
            .name("wasp-changelog".into())
            .spawn(move || writer(&producer, &rx))
            .context("starting the state changelog's writer")?;
        let mut reader = common.clone();
        reader
            .set("group.id", format!("{}-state-restore", cfg.group_id()))
            .set("enable.auto.commit", "false")
            .set("enable.partition.eof", "false")
            // A compacted log may no longer hold the offset a read starts at.
            .set("auto.offset.reset", "earliest")
            .set("fetch.message.max.bytes", "16777216")
            // A restore reads a log up to a barrier it knows is there: no
            // point in long fetch waits or back-offs (librdkafka's 500 ms
            // defaults made a read of a small log take over a second).
            .set("fetch.wait.max.ms", "10")
            .set("fetch.error.backoff.ms", "10");
        Ok(Arc::new(KafkaChangelog {
            jobs: Mutex::new(tx),
            stage_topic: wanted[0].0.clone(),
            partition_topics,
            reader,
            barriers: AtomicU64::new(0),
            origin: unique_token(0).into(),
        }))
    }

    /// Where `part` lives: topic and partition.
    pub(super) fn place(&self, part: &Part) -> (&str, i32) {
        match part {
            Part::Partition(source, p) => match self.partition_topics.get(source) {
                Some(t) => (t, *p),
                // Keys of a topic that is no source of this pipeline.
                None => (&self.stage_topic, 0),
            },
            Part::Stage => (&self.stage_topic, 0),
        }
    }

    fn send(&self, job: Job) -> Result<()> {
        let jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        jobs.send(job).map_err(|_| anyhow::anyhow!("the state changelog's writer has stopped"))
    }

    /// Produce a barrier to `topic`/`partition`: its unique value is what
    /// a read waits for; the receiver says whether the broker took it.
    fn barrier(&self, topic: &str, partition: i32) -> Result<(Vec<u8>, Receiver<Taken>)> {
        let token = unique_token(self.barriers.fetch_add(1, Ordering::Relaxed));
        let (tx, rx) = sync_channel(1);
        self.send(Job {
            topic: topic.to_string(),
            partition,
            key: BARRIER_KEY.to_vec(),
            value: token.clone(),
            origin: None,
            delivery: Box::new(Delivery::Barrier(tx)),
        })?;
        Ok((token, rx))
    }
}

impl Backend for KafkaChangelog {
    fn append(&self, part: &Part, key: String, set: Vec<u8>, hold: Option<Arc<Hold>>) {
        let (topic, partition) = self.place(part);
        let job = Job {
            topic: topic.to_string(),
            partition,
            key: key.into_bytes(),
            value: set,
            origin: (*part == Part::Stage).then(|| self.origin.clone()),
            delivery: Box::new(Delivery::Set(hold.clone())),
        };
        if self.send(job).is_err() {
            tracing::error!("a state write set was not written: the changelog's writer stopped");
            if let Some(h) = hold {
                h.fail();
            }
        }
    }

    fn read(
        &self,
        part: &Part,
        from: i64,
        each: &mut dyn FnMut(i64, &[u8]) -> Result<()>,
    ) -> Result<i64> {
        let (topic, partition) = self.place(part);
        // The barrier is produced while the reader starts: the read ends
        // when it is seen, which can only be after the broker took it.
        let (token, taken) = self.barrier(topic, partition)?;
        let consumer: BaseConsumer =
            self.reader.create().context("creating the state changelog's reader")?;
        let mut tpl = TopicPartitionList::new();
        // Offset 0, not `Beginning`: looking the beginning up cost 500 ms
        // on Tansu; where compaction removed offset 0, the reset to the
        // earliest offset (`auto.offset.reset`) finds the first record.
        let start = Offset::Offset(from.max(0));
        tpl.add_partition_offset(topic, partition, start)?;
        consumer.assign(&tpl)?;
        let mut progress = Instant::now();
        loop {
            if let Ok(Err(e)) = taken.try_recv() {
                bail!("writing a read barrier to {topic}/{partition}: {e}");
            }
            match consumer.poll(Duration::from_millis(200)) {
                Some(Ok(m)) => {
                    progress = Instant::now();
                    if m.key() == Some(BARRIER_KEY) {
                        if m.payload() == Some(token.as_slice()) {
                            return Ok(m.offset());
                        }
                    } else if let Some(v) = m.payload() {
                        each(m.offset(), v).with_context(|| {
                            format!("changelog record {topic}/{partition}@{}", m.offset())
                        })?;
                    }
                }
                Some(Err(e)) => tracing::debug!("reading {topic}/{partition}: {e}"),
                None if progress.elapsed() > READ_STALL => bail!(
                    "reading the state changelog {topic}/{partition} made no progress for {} s \
                     before reaching its end (is the broker reachable?)",
                    READ_STALL.as_secs()
                ),
                None => {}
            }
        }
    }
}

/// The store of a `wasp run`: with `[state] changelog`, in memory over
/// the pipeline's changelog, its stage-scoped part restored (partitions
/// are restored as they are assigned) and then followed live
/// (`super::follow`: keep the follower while the run lasts); otherwise the
/// file or memory.
pub fn open_store(cfg: &PipelineConfig) -> Result<(StateStore, Option<super::follow::Follower>)> {
    if !cfg.state.changelog {
        let store = match &cfg.state.path {
            Some(p) => StateStore::open(&cfg.resolve(p))?,
            None => StateStore::in_memory(),
        };
        return Ok((store, None));
    }
    let log = KafkaChangelog::open(cfg)?;
    let store = StateStore::with_backend(log.clone());
    let done = super::restore::restore(&store, &Part::Stage)?;
    tracing::info!(
        sets = done.sets,
        bytes = done.bytes,
        ms = done.took.as_millis() as u64,
        "stage-scoped state restored from {}",
        stage_topic(cfg)
    );
    let follower = super::follow::Follower::start(&log, &store, cfg.topics.corrections.clone())?;
    Ok((store, Some(follower)))
}

/// Unique to this process and call: pid, clock, counter.
fn unique_token(n: u64) -> Vec<u8> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{}-{nanos}-{n}", std::process::id()).into_bytes()
}

/// Produce each job in order, waiting while librdkafka's queue is full.
fn writer(producer: &ThreadedProducer<LogContext>, jobs: &Receiver<Job>) {
    while let Ok(job) = jobs.recv() {
        let mut record = BaseRecord::with_opaque_to(&job.topic, job.delivery)
            .partition(job.partition)
            .key(&job.key)
            .payload(&job.value);
        if let Some(origin) = &job.origin {
            record = record.headers(
                OwnedHeaders::new().insert(Header { key: ORIGIN_HEADER, value: Some(&**origin) }),
            );
        }
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    record = back;
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err((e, back)) => {
                    tracing::error!(topic = %job.topic, "state changelog write refused: {e}");
                    match *back.delivery_opaque {
                        Delivery::Set(Some(h)) => h.fail(),
                        Delivery::Barrier(tx) => drop(tx.send(Err(e.to_string()))),
                        Delivery::Set(None) => {}
                    }
                    break;
                }
            }
        }
    }
    // Wait for what is in flight before the writer goes (a stop).
    let _ = producer.flush(Duration::from_secs(30));
}

/// Create the changelog topics, compacted; a present one must have exactly
/// its source's partition count (partition p's state lives in p).
fn create(admin: &AdminClient<DefaultClientContext>, wanted: &[(String, i32)]) -> Result<()> {
    let compacted = [("cleanup.policy", "compact")];
    for name in declared::create_missing(admin, wanted, &compacted, "of the state changelog")? {
        tracing::info!(topic = name, "created a state changelog topic");
    }
    let found = declared::counts(admin.inner(), wanted.iter().map(|(n, _)| n))?;
    for (name, want) in wanted {
        match found.get(name).copied() {
            Some(have) if have == *want => {}
            Some(have) => bail!(
                "the state changelog topic '{name}' has {have} partition(s) but needs {want} (one \
                 per partition of its source topic): state of source partition p lives in its \
                 partition p, so it cannot follow a changed count; delete the topic to start \
                 that state afresh, or give the pipeline another name"
            ),
            None => bail!("the state changelog topic '{name}' was not reported after creating it"),
        }
    }
    Ok(())
}
