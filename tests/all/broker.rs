//! Harness for tests against the real local broker: unique topic names,
//! producing and reading records, and `wasp run` as a child process.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use wasp::kafka::admin;

/// The broker address; the README's test command starts the broker and sets it.
pub fn bootstrap() -> String {
    std::env::var("WASP_BOOTSTRAP_SERVERS").expect(
        "WASP_BOOTSTRAP_SERVERS is not set: start the local broker with \
         `export WASP_BOOTSTRAP_SERVERS=$(scripts/broker start)` (scripts/test does this)",
    )
}

/// A topic name no other test or run uses.
pub fn unique(tag: &str) -> String {
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("{tag}-{}-{}", std::process::id(), nanos % 1_000_000_000_000)
}

/// Create topics explicitly (the broker would auto-create with 1 partition).
pub fn create(topics: &[&str], partitions: i32) {
    create_at(&bootstrap(), topics, partitions)
}

/// [`create`] on the broker at `at`.
pub fn create_at(at: &str, topics: &[&str], partitions: i32) {
    let names: Vec<String> = topics.iter().map(|s| s.to_string()).collect();
    admin::create_topics(at, &names, partitions).expect("creating topics");
}

/// The tests' producer for the broker at `at`.
pub fn producer_at(
    at: &str,
) -> rdkafka::producer::ThreadedProducer<rdkafka::producer::DefaultProducerContext> {
    rdkafka::ClientConfig::new()
        .set("bootstrap.servers", at)
        .set("enable.idempotence", "true")
        .set("linger.ms", "5")
        .set("message.max.bytes", "16777216")
        .create()
        .unwrap()
}

/// The tests' producer for the broker the test command started.
pub fn producer() -> rdkafka::producer::ThreadedProducer<rdkafka::producer::DefaultProducerContext>
{
    producer_at(&bootstrap())
}

/// Produce `(key, value)` records, optionally paced over `over`.
pub fn produce(topic: &str, records: &[(String, Vec<u8>)], over: Option<Duration>) {
    produce_at(&bootstrap(), topic, records, over)
}

/// [`produce`] to the broker at `at`.
pub fn produce_at(at: &str, topic: &str, records: &[(String, Vec<u8>)], over: Option<Duration>) {
    use rdkafka::producer::{BaseRecord, Producer};
    let producer = producer_at(at);
    let start = Instant::now();
    let n = records.len().max(1) as f64;
    for (i, (k, v)) in records.iter().enumerate() {
        if let Some(total) = over {
            let due = total.mul_f64(i as f64 / n);
            if let Some(wait) = due.checked_sub(start.elapsed()) {
                std::thread::sleep(wait);
            }
        }
        admin::send(&producer, BaseRecord::to(topic).key(k.as_str()).payload(v.as_slice()))
            .unwrap();
    }
    producer.flush(Duration::from_secs(120)).expect("delivering test records");
}

/// Produce `(key, value)` records to one partition, in order.
pub fn produce_to(topic: &str, partition: i32, records: &[(String, Vec<u8>)]) {
    use rdkafka::producer::{BaseRecord, Producer};
    let p = producer();
    for (k, v) in records {
        admin::send(
            &p,
            BaseRecord::to(topic).partition(partition).key(k.as_str()).payload(v.as_slice()),
        )
        .unwrap();
    }
    p.flush(Duration::from_secs(60)).unwrap();
}

/// Read a topic from the beginning until quiet for `idle`.
pub fn read(topic: &str, idle: Duration) -> Vec<admin::Record> {
    read_at(&bootstrap(), topic, idle)
}

/// [`read`] from the broker at `at`.
pub fn read_at(at: &str, topic: &str, idle: Duration) -> Vec<admin::Record> {
    admin::read_topic(at, topic, idle, None).expect("reading a topic")
}

/// Build a pipeline file: topics, fast group settings, and the given stages.
pub fn pipeline(dir: &Path, name: &str, topics_toml: &str, rest: &str) -> PathBuf {
    // A fresh name is a fresh consumer group: no stale members from earlier runs.
    let group = unique(name);
    let toml = format!(
        "name = \"{group}\"\n[topics]\n{topics_toml}\n\
         [kafka.consumer]\n\"session.timeout.ms\" = \"6000\"\n\"heartbeat.interval.ms\" = \"1000\"\n{rest}"
    );
    let p = dir.join(format!("{name}.toml"));
    std::fs::write(&p, toml).unwrap();
    p
}

/// A `[[stage]]` table for a built plugin.
pub fn stage(name: &str, plugin: &str, config: &str) -> String {
    format!(
        "[[stage]]\nname = \"{name}\"\nplugin = \"{}\"\n[stage.config]\n{config}\n",
        crate::common::plugin(plugin).display()
    )
}

/// A running `wasp run`.
pub struct Wasp {
    child: Child,
    log: PathBuf,
}

impl Wasp {
    /// Start `wasp run PIPELINE ARGS…`, logging to a file beside the pipeline.
    pub fn start(pipeline: &Path, args: &[&str], tag: &str) -> Wasp {
        Self::start_with_env(pipeline, args, tag, &[])
    }

    /// [`start`](Self::start) with extra environment variables.
    pub fn start_with_env(pipeline: &Path, args: &[&str], tag: &str, env: &[(&str, &str)]) -> Wasp {
        let log = pipeline.with_extension(format!("{tag}.log"));
        let f = std::fs::File::create(&log).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_wasp"))
            .arg("run")
            .arg(pipeline)
            .args(args)
            .env("WASP_LOG", "info")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(f)
            .spawn()
            .expect("starting wasp run");
        Wasp { child, log }
    }

    /// The log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Wait until the log contains `needle`, up to `timeout`.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> bool {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if self.log().contains(needle) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }

    /// Wait for exit (success expected), up to `timeout`; returns the log.
    pub fn wait_ok(mut self, timeout: Duration) -> String {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                let log = self.log();
                assert!(status.success(), "wasp run failed ({status}):\n{log}");
                assert!(!log.contains("panicked"), "wasp panicked:\n{log}");
                return log;
            }
            if start.elapsed() > timeout {
                let _ = self.child.kill();
                panic!("wasp run did not finish in {timeout:?}:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Wait for exit, whatever the status, up to `timeout` (then kill and
    /// fail); returns the status and the log.
    pub fn wait_exit(mut self, timeout: Duration) -> (std::process::ExitStatus, String) {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status, self.log());
            }
            if start.elapsed() > timeout {
                let _ = self.child.kill();
                panic!("wasp run did not finish in {timeout:?}:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// SIGKILL: no draining, no commit.
    pub fn kill9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM: graceful shutdown.
    pub fn sigterm(&self) {
        let status =
            Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status().unwrap();
        assert!(status.success());
    }
}

impl Drop for Wasp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `scripts/broker ARGS…`: its stdout (the address, for `start`), or what
/// it said on stderr.
pub fn broker_script(args: &[&str]) -> Result<String, String> {
    let o = Command::new(crate::common::root().join("scripts/broker")).args(args).output().unwrap();
    if o.status.success() {
        Ok(String::from_utf8_lossy(&o.stdout).trim().to_string())
    } else {
        Err(format!("scripts/broker {}: {}", args.join(" "), String::from_utf8_lossy(&o.stderr)))
    }
}

/// A broker of one test's own (`scripts/broker --instance NAME`, memory
/// storage, a free port), stopped when dropped: a test that pauses it
/// stalls no other test.
pub struct Private {
    name: String,
    /// Its bootstrap address.
    pub address: String,
}

impl Private {
    /// Start the broker named `name` (one name per test).
    pub fn start(name: &str) -> Private {
        let address = Self::script(name, "start").expect("starting a broker of the test's own");
        Private { name: name.to_string(), address }
    }

    /// `scripts/broker --instance NAME CMD`.
    fn script(name: &str, cmd: &str) -> Result<String, String> {
        broker_script(&["--instance", name, cmd])
    }

    /// Pause it (SIGSTOP) until the guard is dropped.
    pub fn pause(&self) -> Paused<'_> {
        Self::script(&self.name, "pause").expect("pausing the test's broker");
        Paused(self)
    }

    /// `wasp run`'s environment for this broker.
    pub fn env(&self) -> [(&str, &str); 1] {
        [("WASP_BOOTSTRAP_SERVERS", self.address.as_str())]
    }
}

// Not `expect` in the drops: a panic while a failing test unwinds aborts
// the whole test binary.
impl Drop for Private {
    fn drop(&mut self) {
        let _ = Self::script(&self.name, "stop");
    }
}

/// A [`Private`] broker paused (SIGSTOP) until dropped, so a failing test
/// never leaves it paused.
pub struct Paused<'a>(&'a Private);

impl Drop for Paused<'_> {
    fn drop(&mut self) {
        if let Err(e) = Private::script(&self.0.name, "resume") {
            eprintln!("{e}");
        }
    }
}

/// `n` JSON records `{"id":i,"temperature":i}` keyed by id.
pub fn numbered(n: usize) -> Vec<(String, Vec<u8>)> {
    (0..n)
        .map(|i| (i.to_string(), format!(r#"{{"id":{i},"temperature":{i}}}"#).into_bytes()))
        .collect()
}

/// Ids seen in JSON values of `records`, with how often each was seen.
pub fn id_counts(records: &[admin::Record]) -> std::collections::BTreeMap<u64, usize> {
    let mut m = std::collections::BTreeMap::new();
    for r in records {
        let v: serde_json::Value = serde_json::from_slice(r.value.as_deref().unwrap()).unwrap();
        *m.entry(v["id"].as_u64().unwrap()).or_default() += 1;
    }
    m
}

/// Ids in the JSON values of `records`; values that are not JSON or have
/// no numeric `id` are left out.
fn ids_in(records: &[admin::Record]) -> std::collections::BTreeSet<u64> {
    records
        .iter()
        .filter_map(|r| serde_json::from_slice::<serde_json::Value>(r.value.as_ref()?).ok())
        .filter_map(|v| v["id"].as_u64())
        .collect()
}

/// Wait until `topic` at `at` holds every id of `ids`, up to `timeout`.
pub fn wait_for_ids_at(
    at: &str,
    topic: &str,
    ids: std::ops::Range<u64>,
    timeout: Duration,
) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        let got = ids_in(&read_at(at, topic, Duration::from_secs(2)));
        if ids.clone().all(|i| got.contains(&i)) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    false
}

/// [`wait_for_ids_at`] on the broker the test command started.
pub fn wait_for_ids(topic: &str, ids: std::ops::Range<u64>, timeout: Duration) -> bool {
    wait_for_ids_at(&bootstrap(), topic, ids, timeout)
}

/// Flush stdout of the test so long tests show progress.
pub fn note(msg: &str) {
    println!("{msg}");
    let _ = std::io::stdout().flush();
}
