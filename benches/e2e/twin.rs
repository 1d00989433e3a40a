//! The Rust baselines, run as child processes of the harness
//! (`e2e --child raw|native PIPELINE.toml`) so each is measured alone,
//! like `wasp run`. Both read the same pipeline file as wasp and build
//! their clients from it with wasp's own `consumer_config` and
//! `producer_config`, so every Kafka setting is the same.
//!
//! - `raw`: one poll loop that produces every consumed record to the
//!   output topic. No Wasm, no worker threads, no batching, no offset
//!   tracking: the most an rdkafka consume→produce loop does here.
//! - `native`: wasp's shape without Wasm. One worker thread per partition
//!   batches records as wasp's worker does (`batch.max_records`,
//!   `batch.linger_ms`, records handed over in chunks) and calls the
//!   stage's plugin crate compiled
//!   natively (`wasp_sdk::Plugin::process_batch`, with the SDK's native
//!   stubs for state and counters); verdicts are routed as wasp routes
//!   them. It copies each batch into the plugin, as wasp copies it into
//!   the guest. It stores no offsets (wasp does, after delivery).
//!
//! Both run until SIGTERM, then flush the producer and exit.

use anyhow::{bail, Context, Result};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{BorrowedMessage, Header as KHeader, Headers, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::Message as _;
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use wasp::config::PipelineConfig;
use wasp::kafka::admin::send;
use wasp_sdk::{BatchInfo, Destination, Header, Message, Plugin, Verdict};

type Producer_ = ThreadedProducer<DefaultProducerContext>;

/// Entry point of `e2e --child MODE PIPELINE`.
pub fn main(args: &[String]) -> Result<()> {
    let [mode, pipeline] = args else {
        bail!("usage: e2e --child raw|native PIPELINE.toml");
    };
    let cfg = PipelineConfig::load(Path::new(pipeline))?;
    let shutdown = Arc::new(AtomicBool::new(false));
    wasp::signals::on_shutdown(shutdown.clone())?;
    let producer: Arc<Producer_> =
        Arc::new(wasp::kafka::producer_config(&cfg).create().context("creating the producer")?);
    let consumer: BaseConsumer =
        wasp::kafka::consumer_config(&cfg).create().context("creating the consumer")?;
    let topics: Vec<&str> = cfg.topics.input.iter().map(String::as_str).collect();
    consumer.subscribe(&topics)?;
    let n = match mode.as_str() {
        "raw" => raw(&cfg, &consumer, &producer, &shutdown)?,
        "native" => native(&cfg, &consumer, &producer, &shutdown)?,
        other => bail!("unknown child mode '{other}': expected raw or native"),
    };
    producer.flush(Duration::from_secs(60)).context("flushing the producer")?;
    eprintln!("e2e {mode}: {n} records consumed");
    Ok(())
}

fn output_topic(cfg: &PipelineConfig) -> Result<String> {
    cfg.topics.output.clone().context("the pipeline names no output topic")
}

/// Consume and produce in one loop.
fn raw(
    cfg: &PipelineConfig,
    consumer: &BaseConsumer,
    producer: &Producer_,
    shutdown: &AtomicBool,
) -> Result<u64> {
    let output = output_topic(cfg)?;
    let mut n = 0;
    while !shutdown.load(Ordering::Relaxed) {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                let mut r = BaseRecord::<[u8], [u8]>::to(&output);
                if let Some(k) = m.key() {
                    r = r.key(k);
                }
                if let Some(v) = m.payload() {
                    r = r.payload(v);
                }
                if let Some(h) = m.headers() {
                    r = r.headers(h.detach());
                }
                send(producer, r)?;
                n += 1;
            }
            Some(Err(e)) => eprintln!("e2e raw: {e}"),
            None => {}
        }
    }
    Ok(n)
}

/// Where the native worker writes, from the pipeline's topics.
struct Routes {
    output: String,
    feedback: Option<String>,
    dead_letter: String,
}

/// Everything a native worker shares.
struct Shared {
    routes: Routes,
    producer: Arc<Producer_>,
    config_json: String,
    max: usize,
    linger: Duration,
}

/// A partition's worker and the records polled for it, not yet handed over.
struct Slot {
    tx: SyncSender<Vec<Message<'static>>>,
    thread: JoinHandle<()>,
    pending: Vec<Message<'static>>,
}

/// Records taken from librdkafka's queue per burst, as in wasp's poll loop.
const BURST: usize = 1024;

/// Poll and hand records to their partition's worker thread in chunks, as
/// wasp's source does (kafka/run.rs and kafka/source.rs).
fn native(
    cfg: &PipelineConfig,
    consumer: &BaseConsumer,
    producer: &Arc<Producer_>,
    shutdown: &AtomicBool,
) -> Result<u64> {
    let [stage] = cfg.stages.as_slice() else {
        bail!("the native twin runs one-stage pipelines");
    };
    let plugin = cfg.resolve(&stage.plugin);
    let kind = plugin.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
    let spawn: fn(Arc<Shared>, BatchInfo, Receiver<Vec<Message<'static>>>) = match kind.as_str() {
        "identity" => run_worker::<identity::Identity>,
        "json-transform" => run_worker::<json_transform::JsonTransform>,
        "knn" => run_worker::<knn::KnnPlugin>,
        "model" => run_worker::<model::ModelPlugin>,
        other => bail!("no native twin for plugin '{other}'"),
    };
    let shared = Arc::new(Shared {
        routes: Routes {
            output: output_topic(cfg)?,
            feedback: cfg.topics.feedback.clone(),
            dead_letter: cfg.topics.dead_letter.clone().unwrap_or_else(|| "dead-letter".into()),
        },
        producer: producer.clone(),
        config_json: stage.config_json(),
        max: cfg.batch.max_records.max(1),
        linger: Duration::from_millis(cfg.batch.linger_ms),
    });
    let mut workers: HashMap<(String, i32), Slot> = HashMap::new();
    let mut n = 0;
    while !shutdown.load(Ordering::Relaxed) {
        let mut next = consumer.poll(Duration::from_millis(100));
        let mut burst = 0;
        while let Some(polled) = next.take() {
            match polled {
                Ok(m) => {
                    let key = (m.topic().to_string(), m.partition());
                    let slot = workers.entry(key).or_insert_with(|| {
                        let (tx, rx) = sync_channel(4);
                        let info = BatchInfo { topic: m.topic().into(), partition: m.partition() };
                        let s = shared.clone();
                        let thread = std::thread::Builder::new()
                            .name(format!("twin-{}", m.partition()))
                            .spawn(move || spawn(s, info, rx))
                            .expect("spawning a worker");
                        Slot { tx, thread, pending: Vec::new() }
                    });
                    slot.pending.push(to_message(&m));
                    if slot.pending.len() >= shared.max {
                        let chunk =
                            std::mem::replace(&mut slot.pending, Vec::with_capacity(shared.max));
                        slot.tx.send(chunk).context("a worker died")?;
                    }
                    n += 1;
                    burst += 1;
                }
                Err(e) => eprintln!("e2e native: {e}"),
            }
            if burst < BURST {
                next = consumer.poll(Duration::ZERO);
            }
        }
        for slot in workers.values_mut().filter(|s| !s.pending.is_empty()) {
            slot.tx.send(std::mem::take(&mut slot.pending)).context("a worker died")?;
        }
    }
    for (_, slot) in workers.drain() {
        drop(slot.tx);
        let _ = slot.thread.join();
    }
    Ok(n)
}

/// The same copy wasp's source makes of a Kafka record (`kafka::source::to_message`),
/// into the SDK's message type that the natively compiled plugin takes: the
/// host's and the SDK's bindings are distinct types, so it cannot be shared.
fn to_message(m: &BorrowedMessage<'_>) -> Message<'static> {
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
    Message {
        offset: m.offset(),
        timestamp: m.timestamp().to_millis(),
        key: m.key().map(|k| k.to_vec().into()),
        value: m.payload().map(|v| v.to_vec().into()),
        headers,
    }
}

/// A partition's worker: batch like wasp's worker (kafka/worker.rs), run
/// the native plugin, route.
fn run_worker<P: Plugin>(
    shared: Arc<Shared>,
    info: BatchInfo,
    rx: Receiver<Vec<Message<'static>>>,
) {
    let mut plugin = P::init(&shared.config_json).expect("the native plugin accepts the config");
    let max = shared.max;
    let mut batch: Vec<Message<'static>> = Vec::with_capacity(max);
    let mut stopping = false;
    while !stopping {
        if batch.is_empty() {
            match rx.recv_timeout(Duration::from_millis(200)) {
                Ok(ms) => batch.extend(ms),
                Err(RecvTimeoutError::Disconnected) => stopping = true,
                Err(RecvTimeoutError::Timeout) => continue,
            }
        }
        let deadline = Instant::now() + shared.linger;
        while !stopping && batch.len() < max {
            match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(ms) => batch.extend(ms),
                Err(RecvTimeoutError::Disconnected) => stopping = true,
                Err(RecvTimeoutError::Timeout) => break,
            }
        }
        let full =
            if stopping || batch.len() < max { batch.len() } else { batch.len() / max * max };
        let rest = batch.split_off(full);
        for chunk in batch.chunks(max) {
            let verdicts = plugin.process_batch(&info, chunk.to_vec());
            for (m, v) in chunk.iter().zip(verdicts) {
                route(&shared, m, v);
            }
        }
        batch.clear();
        batch.extend(rest);
    }
}

fn headers(input: &[Header], extra: &[Header]) -> Option<OwnedHeaders> {
    if input.is_empty() && extra.is_empty() {
        return None;
    }
    Some(input.iter().chain(extra).fold(OwnedHeaders::new(), |acc, h| {
        acc.insert(KHeader { key: &h.key, value: Some(h.value.as_slice()) })
    }))
}

fn produce(
    shared: &Shared,
    topic: &str,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
    hs: Option<OwnedHeaders>,
) {
    let mut r = BaseRecord::<[u8], [u8]>::to(topic);
    if let Some(k) = key {
        r = r.key(k);
    }
    if let Some(v) = value {
        r = r.payload(v);
    }
    if let Some(h) = hs {
        r = r.headers(h);
    }
    if let Err(e) = send(&shared.producer, r) {
        eprintln!("e2e native: {e:#}");
    }
}

/// Route one verdict as wasp's router does.
fn route(shared: &Shared, m: &Message, v: Verdict) {
    let r = &shared.routes;
    let (key, value) = (m.key.as_deref(), m.value.as_deref());
    match v {
        Verdict::Pass => produce(shared, &r.output, key, value, headers(&m.headers, &[])),
        Verdict::Value(v) => produce(shared, &r.output, key, Some(&v), headers(&m.headers, &[])),
        Verdict::Emit(outs) => {
            for o in outs {
                let topic = match &o.destination {
                    Destination::Next => r.output.as_str(),
                    Destination::Feedback => match &r.feedback {
                        Some(f) => f.as_str(),
                        None => r.dead_letter.as_str(),
                    },
                    Destination::Topic(t) => t.as_str(),
                };
                let k = o.key.as_deref().or(key);
                produce(shared, topic, k, o.value.as_deref(), headers(&m.headers, &o.headers));
            }
        }
        Verdict::Drop => {}
        Verdict::Reject(_) => produce(shared, &r.dead_letter, key, value, headers(&m.headers, &[])),
    }
}
