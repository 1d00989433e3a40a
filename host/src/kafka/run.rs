//! `wasp run`: a pipeline against Kafka until stopped, idle, or a record
//! budget is spent; then a graceful shutdown that drains, flushes and commits.

use super::corrections::CorrectionsReader;
use super::sink::TopicSink;
use super::source::{SourceContext, BURST};
use super::stats::RunStats;
use super::worker::WorkerShared;
use crate::config::PipelineConfig;
use crate::pipeline::Pipeline;
use crate::progress::Cadence;
use crate::reload::{self, Reloader};
use crate::router::Router;
use crate::runtime::{Engine, EngineOptions};
use crate::sinks::tables::Tables;
use crate::sinks::{Dispatcher, Sink};
use anyhow::{bail, Context, Result};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::Message as _;
use rdkafka::TopicPartitionList;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How a run ends by itself.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Stop after this many input records were handed to workers.
    pub max_records: Option<u64>,
    /// Stop when no record arrived for this long.
    pub until_idle: Option<Duration>,
    /// The pipeline file, watched for hot reload with its plugins.
    pub pipeline_file: Option<std::path::PathBuf>,
    /// Watch the files (hot reload on change); `wasp reload` works either way.
    pub watch: bool,
    /// Serve Prometheus metrics on this `HOST:PORT` (`crate::telemetry`).
    pub metrics: Option<String>,
    /// Open the reload socket beside the pipeline file for `wasp reload`.
    pub reload_socket: bool,
    /// Counters to fill instead of fresh ones, so a caller running several
    /// pipelines (`crate::stack`) can show them while they run.
    pub stats: Option<Arc<RunStats>>,
    /// The caller shows progress (`crate::stack`): no progress line of the
    /// run's own, and the closing summary names the pipeline.
    pub shared_progress: bool,
}

/// The run stopped before everything it processed was delivered (the
/// broker was unreachable until the shutdown timeout): `wasp run` exits
/// with code 2. The inputs of what was not delivered are not committed.
#[derive(Debug)]
pub struct Incomplete(pub String);

impl std::fmt::Display for Incomplete {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Incomplete {}

fn check_topics(cfg: &PipelineConfig) -> Result<()> {
    let t = &cfg.topics;
    if t.input.is_empty() {
        bail!("topics.input is empty: name the topics to consume, e.g. input = [\"events\"]");
    }
    if t.output.is_none() {
        bail!("topics.output is missing: name the topic that receives the pipeline's outputs");
    }
    if t.dead_letter.is_none() {
        bail!("topics.dead_letter is missing: name the topic that receives rejected and failed records");
    }
    Ok(())
}

/// What the progress line shows besides the counters.
struct View<'a> {
    pipeline: &'a Pipeline,
    partitions: usize,
    lag: i64,
    reloader: Option<&'a Reloader>,
}

/// Progress on a terminal, a log line now and then otherwise.
#[derive(Default)]
struct Progress {
    cadence: Cadence,
    last_in: u64,
}

impl Progress {
    fn tick(&mut self, stats: &RunStats, view: &View<'_>) {
        let Some(since) = self.cadence.due() else { return };
        let now_in = RunStats::get(&stats.records_in);
        let rate = (now_in - self.last_in) as f64 / since.as_secs_f64();
        let versions: Vec<String> = view
            .pipeline
            .stages
            .iter()
            .map(|s| s.current())
            .map(|s| format!("{}@{}", s.name, s.version))
            .collect();
        let lag = match view.lag {
            l if l < 0 => "?".to_string(),
            l => l.to_string(),
        };
        let reloads = view.reloader.map_or(String::new(), |r| {
            format!(
                " reloads={} refused={}",
                r.reloads.load(Ordering::Relaxed),
                r.refusals.load(Ordering::Relaxed)
            )
        });
        let line = format!(
            "{rate:.0} rec/s, partitions={} lag={lag} | {} | {}{reloads}",
            view.partitions,
            stats.line(),
            versions.join(" ")
        );
        if self.cadence.tty {
            eprint!("\r\x1b[2K{line}");
        } else {
            tracing::info!("{line}");
        }
        self.last_in = now_in;
    }
}

/// Queue a polled record for its worker and count it.
fn dispatch(ctx: &SourceContext, m: &rdkafka::message::BorrowedMessage<'_>, stats: &RunStats) {
    if ctx.dispatch(m) {
        RunStats::inc(&stats.records_in, 1);
    } else {
        // Not stored, so it is consumed again by the partition's owner.
        tracing::warn!(
            topic = m.topic(),
            partition = m.partition(),
            "record for a partition without a worker; skipped"
        );
    }
}

/// Broker outages surface as poll errors; librdkafka reconnects by itself,
/// so they are logged at most every 5 s.
pub(crate) fn kafka_error(e: &rdkafka::error::KafkaError, last_error: &mut Option<Instant>) {
    if last_error.is_none_or(|t| t.elapsed() > Duration::from_secs(5)) {
        tracing::warn!("Kafka: {e} (retrying)");
        *last_error = Some(Instant::now());
    }
}

/// Run the pipeline until `shutdown` is set or an end condition is met.
pub fn run(
    cfg: &PipelineConfig,
    opts: &RunOptions,
    shutdown: &AtomicBool,
) -> Result<Arc<RunStats>> {
    check_topics(cfg)?;
    super::check_properties(cfg)?;
    let commit_every = super::commit_interval(cfg)?;
    let shutdown_timeout = Duration::from_millis(cfg.kafka.shutdown_timeout_ms);
    super::declared::ensure(cfg)?;
    let fuel = cfg.stages.iter().any(|s| s.limits.fuel.is_some());
    let engine = Engine::new(&EngineOptions { fuel, ..Default::default() })?;
    // The follower applies other processes' stage writes while the run lasts.
    let (state, _follower) = crate::state::changelog::open_store(cfg)?;
    let pipeline = Arc::new(Pipeline::load_with(&engine, cfg, state)?);
    let stats = opts.stats.clone().unwrap_or_default();
    let stop_watch = Arc::new(AtomicBool::new(false));
    let mut socket = None;
    let mut reloader = None;
    if let Some(file) = &opts.pipeline_file {
        let r = Arc::new(Reloader::new(engine.clone(), pipeline.clone(), file, cfg.clone()));
        let path = reload::socket_path(file, &cfg.name);
        if opts.reload_socket {
            // A read-only directory (or a path too long for a socket) is no
            // reason not to run: only `wasp reload` is lost.
            match reload::serve(r.clone(), path.clone()) {
                Ok(()) => socket = Some(path),
                Err(e) => tracing::warn!(
                    "reload socket disabled: {e:#}; file watching still reloads (pass \
                     --no-reload-socket to skip the socket)"
                ),
            }
        }
        if opts.watch {
            reload::watch(r.clone(), Duration::from_millis(500), stop_watch.clone());
        }
        reloader = Some(r);
    }
    let _metrics = match &opts.metrics {
        Some(address) => {
            let collector = crate::telemetry::collector::RunCollector::new(
                stats.clone(),
                pipeline.clone(),
                reloader.clone(),
            );
            let status = crate::telemetry::status::StatusSource::new(
                stats.clone(),
                pipeline.clone(),
                reloader.clone(),
            );
            let server = crate::telemetry::Server::start(address, collector.registry(), status)?;
            let at = server.address();
            tracing::info!("metrics on http://{at}/metrics, status page on http://{at}/");
            Some(server)
        }
        None => None,
    };
    let router = Router::new(&cfg.topics, cfg.tables.keys());
    let tables = Tables::open(cfg, &stats)?.map(|t| Arc::new(t) as Arc<dyn Sink>);
    let topics = TopicSink::new(&super::producer_config(cfg), cfg.version_header, stats.clone())?;
    let sink = Dispatcher::new(router, topics, tables, stats.clone());
    let shared = WorkerShared {
        pipeline: pipeline.clone(),
        sink: sink.clone(),
        batch: cfg.batch,
        stats: stats.clone(),
    };
    let corrections = match &cfg.topics.corrections {
        Some(t) => Some(CorrectionsReader::start(cfg, shared.clone(), t.clone())?),
        None => None,
    };
    let ctx = SourceContext::new(shared, None, shutdown_timeout);
    let consumer: Arc<BaseConsumer<SourceContext>> = SourceContext::attach(
        super::consumer_config(cfg)
            .create_with_context(ctx)
            .context("creating the Kafka consumer")?,
    );
    let topics: Vec<&str> = cfg.topics.input.iter().map(String::as_str).collect();
    consumer.subscribe(&topics).context("subscribing to the input topics")?;
    tracing::info!(brokers = %cfg.bootstrap_servers(), group = %cfg.group_id(), ?topics, "pipeline '{}' running", cfg.name);

    let mut progress = Progress::default();
    let mut last_record = Instant::now();
    let mut last_commit = Instant::now();
    let mut last_error: Option<Instant> = None;
    let reason = loop {
        if shutdown.load(Ordering::Relaxed) {
            break "signal".to_string();
        }
        if let Some(f) = stats.fatal() {
            break f;
        }
        if opts.max_records.is_some_and(|n| RunStats::get(&stats.records_in) >= n) {
            break "max records reached".into();
        }
        // Idle time counts only while partitions are owned, so a slow group
        // join does not end the run before it started, and only once no
        // worker is behind (its partition's queue is not read meanwhile).
        if consumer.context().partitions() == 0 || consumer.context().holding() {
            last_record = Instant::now();
        }
        if opts.until_idle.is_some_and(|d| last_record.elapsed() >= d) {
            break "idle".into();
        }
        // Events first (a rebalance starts and stops workers and splits
        // the partitions' queues), then the records of each partition
        // whose worker has room. Nothing here waits.
        let mut read = 0;
        while read < BURST {
            match consumer.poll(Duration::ZERO) {
                // Only a partition whose queue could not be split.
                Some(Ok(m)) => {
                    dispatch(consumer.context(), &m, &stats);
                    read += 1;
                }
                Some(Err(e)) => {
                    kafka_error(&e, &mut last_error);
                    break;
                }
                None => break,
            }
        }
        let budget = opts.max_records.map_or(usize::MAX, |n| {
            usize::try_from(n.saturating_sub(RunStats::get(&stats.records_in)))
                .unwrap_or(usize::MAX)
        });
        let drained = consumer.context().drain(budget, |e| kafka_error(e, &mut last_error));
        RunStats::inc(&stats.records_in, drained as u64);
        read += drained;
        if read > 0 {
            last_record = Instant::now();
        }
        consumer.context().flush();
        if last_commit.elapsed() >= commit_every {
            let offsets = consumer.context().to_commit();
            if offsets.count() > 0 {
                if let Err(e) = consumer.commit(&offsets, CommitMode::Async) {
                    tracing::warn!("commit failed: {e}; it is tried again with the next commit");
                }
            }
            if let Err(e) = pipeline.state.flush() {
                tracing::error!("saving plugin state: {e:#}");
            }
            last_commit = Instant::now();
        }
        let view = View {
            pipeline: &pipeline,
            partitions: consumer.context().partitions(),
            lag: consumer.context().lag.load(Ordering::Relaxed),
            reloader: reloader.as_deref(),
        };
        if !opts.shared_progress {
            progress.tick(&stats, &view);
        }
        if read == 0 {
            // Until a queue has records or an event, or a worker took
            // records; the timeout keeps commits and checks going.
            consumer.context().wait(Duration::from_millis(100));
        }
    };
    if progress.cadence.tty && !opts.shared_progress {
        eprintln!();
    }
    stop_watch.store(true, Ordering::Relaxed);
    if let Some(path) = &socket {
        let _ = std::fs::remove_file(path);
    }
    tracing::info!("stopping ({reason}): draining workers");
    sink.stop_retrying();
    let deadline = Instant::now() + shutdown_timeout;
    let offsets = consumer.context().stop_all(deadline);
    if let Some(reader) = corrections {
        reader.stop(deadline);
    }
    let delivered = sink.flush(deadline);
    let committed = commit_before(&consumer, &offsets, deadline + Duration::from_secs(1));
    pipeline.state.flush().context("saving plugin state")?;
    let peak =
        super::stats::peak_rss_mib().map(|m| format!(" peak_rss_mib={m}")).unwrap_or_default();
    let who = if opts.shared_progress { format!("{}: ", cfg.name) } else { String::new() };
    eprintln!("wasp: {who}{}{peak}", stats.line());
    for slot in &pipeline.stages {
        let s = slot.current();
        let counters: Vec<String> =
            s.metrics.snapshot().iter().map(|(k, v)| format!("{k}={v}")).collect();
        eprintln!("  stage {} @ {}: {}", s.name, s.version, counters.join(" "));
    }
    if !delivered || !committed {
        // librdkafka's clients wait for the broker when they are closed;
        // the process ends now, so they are left to the exit.
        std::mem::forget(consumer);
        std::mem::forget(sink);
    } else {
        consumer.unsubscribe();
    }
    if let Some(f) = stats.fatal() {
        bail!("{f}");
    }
    if !delivered {
        return Err(Incomplete(format!(
            "stopped after the shutdown timeout of {} ms with records not delivered (is the \
             broker at {} reachable?); their inputs were not committed and are processed again \
             by the next run ([kafka] shutdown_timeout_ms sets how long a stop waits)",
            shutdown_timeout.as_millis(),
            cfg.bootstrap_servers()
        ))
        .into());
    }
    let failed = RunStats::get(&stats.delivery_failed);
    if failed > 0 {
        bail!("{failed} records could not be delivered; their inputs were not committed and will be processed again");
    }
    if !committed {
        return Err(Incomplete(format!(
            "the broker at {} did not confirm the final commit within the shutdown timeout; \
             everything was delivered, and what the commit covered may be processed again",
            cfg.bootstrap_servers()
        ))
        .into());
    }
    Ok(stats)
}

/// Commit `offsets` and wait for the broker's answer until `deadline`;
/// true when it confirmed them in time. The commit is synchronous (the
/// answer to an asynchronous one was never served by `BaseConsumer::poll`
/// in the broker tests), so it runs on a thread of its own: a broker that
/// does not answer holds the stop no longer than the deadline.
fn commit_before(
    consumer: &Arc<BaseConsumer<SourceContext>>,
    offsets: &TopicPartitionList,
    deadline: Instant,
) -> bool {
    if offsets.count() == 0 {
        return true;
    }
    let (tx, rx) = std::sync::mpsc::channel();
    let (c, tpl) = (consumer.clone(), offsets.clone());
    let spawned = std::thread::Builder::new()
        .name("wasp-commit".into())
        .spawn(move || drop(tx.send(c.commit(&tpl, CommitMode::Sync))));
    if let Err(e) = spawned {
        tracing::warn!("final commit not made: cannot start its thread: {e}");
        return false;
    }
    match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        Ok(Ok(())) => {
            tracing::info!("committed offsets of {} owned partitions", offsets.count());
            true
        }
        Ok(Err(e)) => {
            tracing::warn!("final commit failed: {e}");
            false
        }
        Err(_) => false,
    }
}
