//! `wasp run`: a pipeline against Kafka until stopped, idle, or a record
//! budget is spent; then a graceful shutdown that drains, flushes and commits.

use super::sink::Sink;
use super::source::{commit, SourceContext};
use super::stats::RunStats;
use super::worker::WorkerShared;
use crate::config::PipelineConfig;
use crate::pipeline::Pipeline;
use crate::reload::{self, Reloader};
use crate::router::Router;
use crate::runtime::{Engine, EngineOptions};
use anyhow::{bail, Context, Result};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::Message as _;
use std::io::IsTerminal;
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
}

/// How long shutdown waits for the broker to acknowledge queued records.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(60);

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
struct Progress {
    tty: bool,
    last: Instant,
    last_in: u64,
    every: Duration,
}

impl Progress {
    fn new() -> Self {
        let tty = std::io::stderr().is_terminal();
        let every = if tty { Duration::from_secs(1) } else { Duration::from_secs(10) };
        Progress { tty, last: Instant::now(), last_in: 0, every }
    }

    fn tick(&mut self, stats: &RunStats, view: &View<'_>) {
        if self.last.elapsed() < self.every {
            return;
        }
        let now_in = RunStats::get(&stats.records_in);
        let rate = (now_in - self.last_in) as f64 / self.last.elapsed().as_secs_f64();
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
        if self.tty {
            eprint!("\r\x1b[2K{line}");
        } else {
            tracing::info!("{line}");
        }
        self.last = Instant::now();
        self.last_in = now_in;
    }
}

/// Most records taken from librdkafka's queue between two passes of the
/// poll loop's checks.
const BURST: usize = 1024;

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
fn kafka_error(e: &rdkafka::error::KafkaError, last_error: &mut Option<Instant>) {
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
    let fuel = cfg.stages.iter().any(|s| s.limits.fuel.is_some());
    let engine = Engine::new(&EngineOptions { fuel, ..Default::default() })?;
    let pipeline = Arc::new(Pipeline::load(&engine, cfg)?);
    let stats = Arc::new(RunStats::default());
    let stop_watch = Arc::new(AtomicBool::new(false));
    let mut socket = None;
    let mut reloader = None;
    if let Some(file) = &opts.pipeline_file {
        let r = Arc::new(Reloader::new(engine.clone(), pipeline.clone(), file, cfg.clone()));
        let path = reload::socket_path(file, &cfg.name);
        reload::serve(r.clone(), path.clone())?;
        socket = Some(path);
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
    let router = Router::new(&cfg.topics);
    let sink = Arc::new(
        Sink::new(&super::producer_config(cfg), router, cfg.version_header, stats.clone())?
            .with_tables(crate::sinks::tables::Tables::open(cfg)?),
    );
    let shared = WorkerShared {
        pipeline: pipeline.clone(),
        sink: sink.clone(),
        batch: cfg.batch,
        stats: stats.clone(),
    };
    let ctx = SourceContext::new(shared, cfg.topics.corrections.clone(), SETTLE_TIMEOUT);
    let consumer: BaseConsumer<SourceContext> = super::consumer_config(cfg)
        .create_with_context(ctx)
        .context("creating the Kafka consumer")?;
    let mut topics: Vec<&str> = cfg.topics.input.iter().map(String::as_str).collect();
    topics.extend(cfg.topics.corrections.as_deref());
    consumer.subscribe(&topics).context("subscribing to the input topics")?;
    tracing::info!(brokers = %cfg.bootstrap_servers(), group = %cfg.group_id(), ?topics, "pipeline '{}' running", cfg.name);

    let mut progress = Progress::new();
    let mut last_record = Instant::now();
    let mut last_store = Instant::now();
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
        // join does not end the run before it started.
        if consumer.context().partitions() == 0 {
            last_record = Instant::now();
        }
        if opts.until_idle.is_some_and(|d| last_record.elapsed() >= d) {
            break "idle".into();
        }
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                dispatch(consumer.context(), &m, &stats);
                // Take what librdkafka already holds, up to a burst, so the
                // records reach their workers in chunks and the checks of
                // this loop run once per burst rather than once per record.
                let mut burst = 1;
                while burst < BURST
                    && opts.max_records.is_none_or(|n| RunStats::get(&stats.records_in) < n)
                {
                    match consumer.poll(Duration::ZERO) {
                        Some(Ok(m)) => {
                            dispatch(consumer.context(), &m, &stats);
                            burst += 1;
                        }
                        Some(Err(e)) => {
                            kafka_error(&e, &mut last_error);
                            break;
                        }
                        None => break,
                    }
                }
                consumer.context().flush();
                last_record = Instant::now();
            }
            Some(Err(e)) => kafka_error(&e, &mut last_error),
            None => {}
        }
        if last_store.elapsed() >= Duration::from_millis(500) {
            let _ = consumer.store_offsets(&consumer.context().committable());
            if let Err(e) = pipeline.state.flush() {
                tracing::error!("saving plugin state: {e:#}");
            }
            last_store = Instant::now();
        }
        let view = View {
            pipeline: &pipeline,
            partitions: consumer.context().partitions(),
            lag: consumer.context().lag.load(Ordering::Relaxed),
            reloader: reloader.as_deref(),
        };
        progress.tick(&stats, &view);
    };
    if progress.tty {
        eprintln!();
    }
    stop_watch.store(true, Ordering::Relaxed);
    if let Some(path) = &socket {
        let _ = std::fs::remove_file(path);
    }
    tracing::info!("stopping ({reason}): draining workers");
    sink.stop_retrying();
    let offsets = consumer.context().stop_all();
    sink.flush(SETTLE_TIMEOUT).context("delivering the last records")?;
    commit(&consumer, &offsets, "owned");
    pipeline.state.flush().context("saving plugin state")?;
    consumer.unsubscribe();
    let peak =
        super::stats::peak_rss_mib().map(|m| format!(" peak_rss_mib={m}")).unwrap_or_default();
    eprintln!("wasp: {}{peak}", stats.line());
    for slot in &pipeline.stages {
        let s = slot.current();
        let counters: Vec<String> =
            s.metrics.snapshot().iter().map(|(k, v)| format!("{k}={v}")).collect();
        eprintln!("  stage {} @ {}: {}", s.name, s.version, counters.join(" "));
    }
    if let Some(f) = stats.fatal() {
        bail!("{f}");
    }
    let failed = RunStats::get(&stats.delivery_failed);
    if failed > 0 {
        bail!("{failed} records could not be delivered; their inputs were not committed and will be processed again");
    }
    Ok(stats)
}
