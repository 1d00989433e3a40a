//! One measured run: fresh topics, the input filled with the workload's
//! records, the system under test started as a child process, its output
//! topic tailed, then a paced phase for latency; the child's peak RSS and
//! CPU time come from `/proc/<pid>`.
//!
//! Method (also in docs/benchmarks.md):
//! - Throughput: the backlog of N records is in the input topic before the
//!   system starts. The window opens at the first output's `CreateTime`
//!   (stamped by the system's own producer call), so start-up (process
//!   start, group join, plugin load) is left out, and closes when the
//!   harness, tailing the output topic, receives the last backlog output,
//!   so records still queued in the system's producer count as not done.
//!   (Tansu ignores `LogAppendTime`, and a `CreateTime` alone would time
//!   the calls into the producer's local queue, not the deliveries.)
//!   Records/s is `(N - 1) / window`; MB/s counts input bytes (key +
//!   value) over the same window. A bare consumer reads this broker at
//!   about 1.6 million records/s, so the tail does not hold the run back.
//! - Latency: after the backlog is drained, the harness produces M more
//!   records at a fixed rate (each stamped with its send time) and
//!   takes output `CreateTime` minus input `CreateTime` per record (the paced
//!   producer lingers 1 ms, which the latency includes). The rate
//!   is `--latency-rate`, or half the system's measured throughput if that is
//!   lower, so a slow system is not measured on its own queue.
//!   Both clocks are this machine's, in whole milliseconds.
//! - Peak RSS: the child's `VmHWM`, polled every 20 ms until it exits; CPU
//!   time: its `utime + stime` from `/proc/<pid>/stat`. The harness itself
//!   (filling, tailing) is not in these numbers.

use crate::languages::{self, Language};
use crate::workload::Workload;
use anyhow::{bail, Context, Result};
use rdkafka::admin::{AdminClient, AdminOptions};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::{ClientConfig, Message as _, Offset, TopicPartitionList};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use wasp::kafka::admin;

/// A system under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum System {
    /// `wasp run` with the Wasm plugin.
    Wasp,
    /// rdkafka consume→produce, no Wasm (see twin.rs).
    Raw,
    /// wasp's shape with the plugin crate compiled natively (see twin.rs).
    Native,
    /// The seeds' way: kafka-python, one scikit-learn call per record.
    PyPerRecord,
    /// confluent-kafka, one scikit-learn call per batch.
    PyBatched,
}

impl System {
    /// Name in reports.
    pub fn name(self) -> &'static str {
        match self {
            System::Wasp => "wasp (Wasm plugin)",
            System::Raw => "raw rdkafka, no Wasm",
            System::Native => "native twin (plugin compiled natively)",
            System::PyPerRecord => "Python per-record (kafka-python + scikit-learn)",
            System::PyBatched => "Python batched (confluent-kafka + scikit-learn)",
        }
    }

    /// Short tag for file names and `--systems`.
    pub fn tag(self) -> &'static str {
        match self {
            System::Wasp => "wasp",
            System::Raw => "raw",
            System::Native => "native",
            System::PyPerRecord => "pyrec",
            System::PyBatched => "pybat",
        }
    }
}

/// What to measure.
#[derive(Debug, Clone)]
pub struct Run {
    /// The system.
    pub system: System,
    /// The pipeline.
    pub workload: Workload,
    /// Partitions of every topic; wasp and the native twin run one worker each.
    pub partitions: i32,
    /// `batch.max_records` (Python batched: records per `consume`).
    pub batch: usize,
    /// Backlog size N.
    pub records: usize,
    /// The plugin language (languages.rs); `None` runs the workload's
    /// Rust plugin.
    pub language: Option<&'static Language>,
}

impl Run {
    /// The component in `plugins/dist`, without `.wasm`.
    pub fn plugin(&self) -> &'static str {
        self.language.map_or(self.workload.plugin(), |l| l.plugin)
    }
}

/// The result of one run.
#[derive(Debug, Clone, Serialize)]
pub struct Measured {
    /// The system.
    pub system: System,
    /// Its name.
    pub system_name: &'static str,
    /// The pipeline.
    pub workload: Workload,
    /// Partitions = workers.
    pub partitions: i32,
    /// Batch size.
    pub batch: usize,
    /// Backlog size.
    pub records: usize,
    /// Input bytes (keys + values) of the backlog.
    pub input_bytes: u64,
    /// First to last backlog output, seconds.
    pub seconds: f64,
    /// Throughput.
    pub records_per_sec: f64,
    /// Input MB (10⁶ bytes) per second.
    pub mb_per_sec: f64,
    /// Offered rate of the latency phase.
    pub latency_rate: f64,
    /// Records in the latency phase.
    pub latency_records: usize,
    /// Median latency from the input's send to its output being readable
    /// from the broker (the tail received it), ms.
    pub p50_ms: f64,
    /// 99th percentile of the same, ms.
    pub p99_ms: f64,
    /// Largest of the same, ms.
    pub max_ms: f64,
    /// Median of output `CreateTime` minus input `CreateTime` (without the
    /// output's own producer queue and delivery), ms.
    pub created_p50_ms: f64,
    /// 99th percentile of the same, ms.
    pub created_p99_ms: f64,
    /// Peak resident set of the child, MiB.
    pub peak_rss_mib: f64,
    /// CPU time of the child (whole run, start-up included), seconds.
    pub cpu_seconds: f64,
    /// CPU time per record (backlog + latency records), microseconds.
    pub cpu_us_per_record: f64,
    /// The broker's CPU time while the child ran, per record, microseconds.
    pub broker_cpu_us_per_record: f64,
    /// The system's CPU time during the throughput window (steady state:
    /// no start-up, no latency phase), per backlog record, microseconds.
    pub window_cpu_us_per_record: f64,
    /// The broker's CPU time during the throughput window, per record.
    pub window_broker_cpu_us_per_record: f64,
    /// Records in the feedback topic (k-NN: wrong predictions).
    pub feedback: Option<usize>,
    /// The last backlog output reached the broker this long after its
    /// producer created it (the system's producer queue, plus the tail's
    /// fetch wait).
    pub drain_ms: f64,
    /// Records/s of every repetition, lowest first (this run is the median).
    pub samples: Vec<f64>,
    /// Outputs seen twice.
    pub duplicates: usize,
    /// The child's log.
    pub log: String,
}

/// What every run needs.
pub struct Env {
    /// The repository root.
    pub root: PathBuf,
    /// Broker list.
    pub bootstrap: String,
    /// Where pipeline files and child logs go.
    pub logs: PathBuf,
    /// `plugins/dist`.
    pub plugins: PathBuf,
    /// The `wasp` binary.
    pub wasp: PathBuf,
    /// This harness (for `--child`).
    pub me: PathBuf,
    /// The Python peers' interpreter and script, when set up.
    pub python: Option<(PathBuf, PathBuf)>,
    /// Latency phase: offered rate, records/s.
    pub latency_rate: f64,
    /// Latency phase: duration, seconds.
    pub latency_secs: f64,
    /// Extra consumer properties for the Rust systems.
    pub consumer: Vec<(String, String)>,
    /// Extra producer properties for the Rust systems.
    pub producer: Vec<(String, String)>,
}

/// `fetch.wait.max.ms` of every system's consumer. Tansu answers a fetch
/// only when this expires, even when records are waiting (measured: a
/// p50 of 242 ms at librdkafka's default of 500 ms, 1.5 ms at 10 ms), so
/// the default would measure the broker's long poll, not the system.
pub const FETCH_WAIT_MS: u32 = 10;

/// The tail's `fetch.wait.max.ms`: delivered latencies include up to this
/// much of the harness's own waiting.
const TAIL_FETCH_WAIT_MS: u32 = 5;

fn unique() -> String {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos();
    format!("{}-{}", std::process::id(), nanos % 1_000_000_000_000)
}

fn now_ms_f64() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_micros() as f64 / 1000.0
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

/// Produce the backlog: N records keyed by their sequence number.
fn fill(bootstrap: &str, topic: &str, workload: Workload, n: usize) -> Result<u64> {
    let producer: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("linger.ms", "5")
        .set("queue.buffering.max.messages", "1000000")
        .create()?;
    let mut bytes = 0u64;
    for i in 0..n {
        let key = i.to_string();
        let value = workload.value(i);
        bytes += (key.len() + value.len()) as u64;
        admin::send(&producer, BaseRecord::to(topic).key(key.as_str()).payload(value.as_slice()))?;
    }
    producer.flush(Duration::from_secs(120)).context("filling the input topic")?;
    Ok(bytes)
}

/// The latency phase's producer: `count` records from sequence number
/// `first`, at `rate` per second, each stamped with its send time.
fn pace(
    bootstrap: String,
    topic: String,
    workload: Workload,
    first: usize,
    count: usize,
    rate: f64,
) -> Result<Vec<i64>> {
    let producer: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        // Tansu takes about 1 000 single-record produce requests a
        // second, not 10 000 (latency then grows to seconds), so the
        // paced producer lingers 1 ms: a record waits at most that here.
        .set("linger.ms", "1")
        .create()?;
    let start = Instant::now();
    let mut sent = Vec::with_capacity(count);
    for j in 0..count {
        let due = start + Duration::from_secs_f64(j as f64 / rate);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let key = (first + j).to_string();
        let value = workload.value(first + j);
        let ts = now_ms();
        admin::send(
            &producer,
            BaseRecord::to(&topic).key(key.as_str()).payload(value.as_slice()).timestamp(ts),
        )?;
        sent.push(ts);
    }
    producer.flush(Duration::from_secs(60)).context("flushing the paced records")?;
    Ok(sent)
}

/// The pipeline file every Rust system reads.
fn pipeline_file(env: &Env, run: &Run, name: &str, topics: &Topics) -> Result<PathBuf> {
    let plugin = env.plugins.join(format!("{}.wasm", run.plugin()));
    if !plugin.exists() {
        bail!("{} is missing: build the plugins with `cargo xtask plugins`", plugin.display());
    }
    let toml = format!(
        "name = \"{name}\"\n\
         [topics]\ninput = [\"{}\"]\noutput = \"{}\"\nfeedback = \"{}\"\ndead_letter = \"{}\"\n\
         [batch]\nmax_records = {}\n\
         [kafka.consumer]\n\"session.timeout.ms\" = \"6000\"\n\"heartbeat.interval.ms\" = \"1000\"\n\
         \"fetch.wait.max.ms\" = \"{FETCH_WAIT_MS}\"\n{}\
         [kafka.producer]\n{}{}",
        topics.input,
        topics.output,
        topics.feedback,
        topics.dead_letter,
        run.batch,
        props(&env.consumer),
        props(&env.producer),
        languages::stage_toml(run.workload, &plugin),
    );
    let path = env.logs.join(format!("{name}.toml"));
    std::fs::write(&path, toml)?;
    Ok(path)
}

fn props(kv: &[(String, String)]) -> String {
    kv.iter().map(|(k, v)| format!("{k:?} = {v:?}\n")).collect()
}

struct Topics {
    input: String,
    output: String,
    feedback: String,
    dead_letter: String,
}

impl Topics {
    fn all(&self) -> Vec<String> {
        vec![
            self.input.clone(),
            self.output.clone(),
            self.feedback.clone(),
            self.dead_letter.clone(),
        ]
    }
}

fn spawn(env: &Env, run: &Run, name: &str, topics: &Topics, log: &Path) -> Result<Child> {
    let mut cmd = match run.system {
        System::Wasp => {
            let mut c = Command::new(&env.wasp);
            c.arg("run").arg(pipeline_file(env, run, name, topics)?).env("WASP_LOG", "info");
            c
        }
        System::Raw | System::Native => {
            let mut c = Command::new(&env.me);
            let mode = if run.system == System::Raw { "raw" } else { "native" };
            c.arg("--child").arg(mode).arg(pipeline_file(env, run, name, topics)?);
            c
        }
        System::PyPerRecord | System::PyBatched => {
            let (python, script) =
                env.python.as_ref().context("the Python peers are not set up")?;
            let mode = if run.system == System::PyPerRecord { "per-record" } else { "batched" };
            let mut c = Command::new(python);
            c.arg(script)
                .args(["--mode", mode, "--workload", run.workload.tag()])
                .args(["--bootstrap", &env.bootstrap])
                .args(["--input", &topics.input, "--output", &topics.output])
                .args(["--feedback", &topics.feedback, "--group", name])
                .args(["--batch", &run.batch.to_string()])
                .args(["--fetch-wait-ms", &FETCH_WAIT_MS.to_string()]);
            c
        }
    };
    let f = std::fs::File::create(log)?;
    cmd.env("WASP_BOOTSTRAP_SERVERS", &env.bootstrap)
        .stdin(Stdio::null())
        .stdout(f.try_clone()?)
        .stderr(f);
    cmd.spawn().with_context(|| format!("starting {:?}", run.system))
}

/// Peak RSS and CPU time of a process, sampled until it is gone.
struct Probe {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<(u64, u64)>,
}

fn vm_hwm_kib(pid: u32) -> Option<u64> {
    wasp::procfs::kib(&format!("/proc/{pid}/status"), "VmHWM:")
}

fn cpu_ticks(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14 and 15 of stat (utime, stime); `rest` starts at field 3.
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

impl Probe {
    fn start(pid: u32) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let (mut hwm, mut ticks) = (0, 0);
            loop {
                if let Some(h) = vm_hwm_kib(pid) {
                    hwm = hwm.max(h);
                }
                if let Some(t) = cpu_ticks(pid) {
                    ticks = ticks.max(t);
                }
                if flag.load(Ordering::Relaxed) {
                    return (hwm, ticks);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        Probe { stop, thread }
    }

    /// (peak RSS in KiB, CPU ticks).
    fn finish(self) -> (u64, u64) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap_or_default()
    }
}

/// The local broker's pid, from `scripts/broker`'s pid file.
fn broker_pid(env: &Env) -> Option<u32> {
    std::fs::read_to_string(env.root.join(".wasp/broker.pid")).ok()?.trim().parse().ok()
}

fn clock_ticks_per_sec() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

fn log_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

/// SIGTERM, then wait for a clean exit.
fn stop(child: &mut Child, log: &Path) -> Result<()> {
    if child.try_wait()?.is_none() {
        Command::new("kill").arg("-TERM").arg(child.id().to_string()).status()?;
    }
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait()? {
            if !status.success() {
                bail!("the child exited with {status}:\n{}", log_tail(log));
            }
            return Ok(());
        }
        if start.elapsed() > Duration::from_secs(90) {
            let _ = child.kill();
            let _ = child.wait();
            bail!("the child did not stop within 90 s of SIGTERM:\n{}", log_tail(log));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// What the tail saw.
struct Tailed {
    /// `CreateTime` of the first backlog output.
    first_ms: i64,
    /// When the tail received the last backlog output.
    last_seen_ms: f64,
    /// `CreateTime` of the last backlog output.
    last_created_ms: i64,
    duplicates: usize,
    latency_rate: f64,
    /// CPU ticks of (the child, the broker) spent during the backlog window.
    window_ticks: (u64, u64),
    /// Per paced record: output `CreateTime` minus input `CreateTime`, ms.
    created: Vec<f64>,
    /// Per paced record: tail arrival minus input `CreateTime`, ms.
    delivered: Vec<f64>,
}

/// Latency phase in progress.
struct Live {
    rate: f64,
    pacer: JoinHandle<Result<Vec<i64>>>,
    /// (output `CreateTime`, tail arrival) per paced record.
    out_ms: Vec<Option<(i64, f64)>>,
    got: usize,
}

/// Tail the output topic until every backlog record and every paced record
/// came out; start the paced phase when the backlog is done.
fn tail(
    env: &Env,
    run: &Run,
    topics: &Topics,
    child: &mut Child,
    broker: Option<u32>,
    log: &Path,
) -> Result<Tailed> {
    let pid = child.id();
    let ticks = move || (cpu_ticks(pid).unwrap_or(0), broker.and_then(cpu_ticks).unwrap_or(0));
    let mut window_start: Option<(u64, u64)> = None;
    let mut window_ticks = (0, 0);
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &env.bootstrap)
        .set("group.id", format!("{}-tail", topics.output))
        .set("enable.auto.commit", "false")
        .set("fetch.wait.max.ms", TAIL_FETCH_WAIT_MS.to_string())
        .set("max.partition.fetch.bytes", "16777216")
        // Never postpone a fetch because records are queued here: the
        // default waits up to 1 s, which would end the window late.
        .set("queued.min.messages", "10000000")
        .set("fetch.queue.backoff.ms", "1")
        .create()?;
    let mut tpl = TopicPartitionList::new();
    for p in 0..run.partitions {
        tpl.add_partition_offset(&topics.output, p, Offset::Beginning)?;
    }
    consumer.assign(&tpl)?;
    let n = run.records;
    let mut seen = vec![false; n];
    let (mut got, mut duplicates) = (0usize, 0usize);
    let (mut first_ms, mut last_created_ms, mut last_seen_ms) = (i64::MAX, i64::MIN, 0.0);
    let mut live: Option<Live> = None;
    let mut progress = Instant::now();
    // Start-up (group join) plus any quiet spell must fit in this.
    let stall = Duration::from_secs(120);
    loop {
        if let Some(status) = child.try_wait()? {
            bail!("the system exited early ({status}):\n{}", log_tail(log));
        }
        if progress.elapsed() > stall {
            bail!(
                "no output for {stall:?}: {got} of {n} backlog records came out:\n{}",
                log_tail(log)
            );
        }
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                progress = Instant::now();
                let idx = m
                    .key()
                    .and_then(|k| std::str::from_utf8(k).ok())
                    .and_then(|k| k.parse::<usize>().ok())
                    .context("an output without its input's key")?;
                let ts = m.timestamp().to_millis().context("an output without a timestamp")?;
                if idx < n {
                    if window_start.is_none() {
                        window_start = Some(ticks());
                    }
                    if std::mem::replace(&mut seen[idx], true) {
                        duplicates += 1;
                    } else {
                        got += 1;
                        first_ms = first_ms.min(ts);
                        last_created_ms = last_created_ms.max(ts);
                        last_seen_ms = now_ms_f64();
                    }
                } else if let Some(l) = live.as_mut() {
                    match l.out_ms.get_mut(idx - n) {
                        Some(slot @ None) => {
                            *slot = Some((ts, now_ms_f64()));
                            l.got += 1;
                        }
                        Some(Some(_)) => duplicates += 1,
                        None => bail!("an output for an input never produced ({idx})"),
                    }
                }
            }
            Some(Err(e)) => eprintln!("e2e: tailing {}: {e}", topics.output),
            None => {}
        }
        if got == n && live.is_none() {
            let (c0, b0) = window_start.unwrap_or_default();
            let (c1, b1) = ticks();
            window_ticks = (c1.saturating_sub(c0), b1.saturating_sub(b0));
            let secs = ((last_seen_ms - first_ms as f64) / 1000.0).max(0.001);
            let throughput = (n.saturating_sub(1)) as f64 / secs;
            let rate = env.latency_rate.min(throughput / 2.0);
            let count = ((rate * env.latency_secs) as usize).max(50);
            let (b, t, w) = (env.bootstrap.clone(), topics.input.clone(), run.workload);
            let pacer = std::thread::spawn(move || pace(b, t, w, n, count, rate));
            live = Some(Live { rate, pacer, out_ms: vec![None; count], got: 0 });
        }
        if let Some(l) = &live {
            if l.got == l.out_ms.len() {
                break;
            }
        }
    }
    let l = live.expect("the latency phase ran");
    let sent = l.pacer.join().map_err(|_| anyhow::anyhow!("the pacer panicked"))??;
    let mut created = Vec::with_capacity(sent.len());
    let mut delivered = Vec::with_capacity(sent.len());
    for (s, o) in sent.iter().zip(&l.out_ms) {
        let (c, d) = o.expect("every paced record came out");
        created.push((c - s) as f64);
        delivered.push(d - *s as f64);
    }
    Ok(Tailed {
        first_ms,
        last_seen_ms,
        last_created_ms,
        duplicates,
        latency_rate: l.rate,
        window_ticks,
        created,
        delivered,
    })
}

fn delete_topics(bootstrap: &str, topics: &[String]) {
    let admin: AdminClient<DefaultClientContext> =
        match ClientConfig::new().set("bootstrap.servers", bootstrap).create() {
            Ok(a) => a,
            Err(_) => return,
        };
    let names: Vec<&str> = topics.iter().map(String::as_str).collect();
    let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
        return;
    };
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    if let Err(e) = rt.block_on(admin.delete_topics(&names, &opts)) {
        eprintln!("e2e: could not delete the run's topics ({e}); the broker keeps them");
    }
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[i]
}

/// Measure one run.
pub fn measure(env: &Env, run: &Run) -> Result<Measured> {
    let name = format!(
        "e2e-{}-{}-p{}-b{}-{}",
        run.workload.tag(),
        run.language.map_or(run.system.tag(), |l| l.tag),
        run.partitions,
        run.batch,
        unique()
    );
    let topics = Topics {
        input: format!("{name}-in"),
        output: format!("{name}-out"),
        feedback: format!("{name}-fb"),
        dead_letter: format!("{name}-dlq"),
    };
    admin::create_topics(&env.bootstrap, &topics.all(), run.partitions)?;
    let input_bytes = fill(&env.bootstrap, &topics.input, run.workload, run.records)?;
    let log = env.logs.join(format!("{name}.log"));
    let mut child = spawn(env, run, &name, &topics, &log)?;
    let probe = Probe::start(child.id());
    let broker = broker_pid(env);
    let broker_start = broker.and_then(cpu_ticks);
    let tailed = tail(env, run, &topics, &mut child, broker, &log);
    let stopped = stop(&mut child, &log);
    let broker_ticks = match (broker.and_then(cpu_ticks), broker_start) {
        (Some(end), Some(start)) => end.saturating_sub(start),
        _ => 0,
    };
    let (hwm_kib, ticks) = probe.finish();
    let tailed = tailed?;
    stopped?;
    let feedback = (run.workload == crate::workload::Workload::Knn).then(|| {
        admin::read_topic(&env.bootstrap, &topics.feedback, Duration::from_millis(1500), None)
            .map(|r| r.len())
            .unwrap_or(0)
    });
    delete_topics(&env.bootstrap, &topics.all());

    let seconds = ((tailed.last_seen_ms - tailed.first_ms as f64) / 1000.0).max(0.001);
    let records_per_sec = run.records.saturating_sub(1) as f64 / seconds;
    let sorted = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        v
    };
    let lat = sorted(&tailed.delivered);
    let created = sorted(&tailed.created);
    let tck = clock_ticks_per_sec();
    let cpu_seconds = ticks as f64 / tck;
    let total = (run.records + lat.len()) as f64;
    Ok(Measured {
        system: run.system,
        system_name: run.system.name(),
        workload: run.workload,
        partitions: run.partitions,
        batch: run.batch,
        records: run.records,
        input_bytes,
        seconds,
        records_per_sec,
        mb_per_sec: input_bytes as f64 / run.records as f64 * records_per_sec / 1e6,
        latency_rate: tailed.latency_rate,
        latency_records: lat.len(),
        p50_ms: percentile(&lat, 0.50),
        p99_ms: percentile(&lat, 0.99),
        max_ms: lat.last().copied().unwrap_or_default(),
        created_p50_ms: percentile(&created, 0.50),
        created_p99_ms: percentile(&created, 0.99),
        peak_rss_mib: hwm_kib as f64 / 1024.0,
        cpu_seconds,
        cpu_us_per_record: cpu_seconds * 1e6 / total,
        broker_cpu_us_per_record: broker_ticks as f64 / tck * 1e6 / total,
        window_cpu_us_per_record: tailed.window_ticks.0 as f64 / tck * 1e6 / run.records as f64,
        window_broker_cpu_us_per_record: tailed.window_ticks.1 as f64 / tck * 1e6
            / run.records as f64,
        feedback,
        drain_ms: tailed.last_seen_ms - tailed.last_created_ms as f64,
        samples: Vec::new(),
        duplicates: tailed.duplicates,
        log: log.display().to_string(),
    })
}
