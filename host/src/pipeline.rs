//! Runs a batch through the ordered stages of a pipeline.
//!
//! [`Pipeline`] is built once per process from the config (plugins loaded
//! and checked); each worker calls [`Pipeline::instantiate`] to get its own
//! [`PipelineInstance`], one plugin instance per stage. A stage's `next`
//! outputs form the next stage's batch; feedback and named-topic outputs
//! leave the chain at once. A fault in a batch is isolated by re-running
//! that batch record by record, so only the poison records fail.

use crate::config::PipelineConfig;
use crate::error::PluginError;
use crate::metrics::{self, StageMetrics};
use crate::runtime::bindings::{BatchInfo, Destination, Header, Message, Verdict};
use crate::runtime::{
    Engine, Fault, FaultKind, FaultPolicy, InstanceContext, Limits, OnDisabled, Plugin,
    PluginInstance,
};
use crate::state::{StateScope, StateStore};
use anyhow::Result;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

/// Where a produced record goes, before topic names are known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// The pipeline's output topic.
    Output,
    /// The pipeline's feedback topic.
    Feedback,
    /// A topic the plugin named (checked against the allow-list by the router).
    Topic(String),
}

/// A record produced for one input.
#[derive(Debug, Clone)]
pub struct Produced {
    /// Where it goes.
    pub route: Route,
    /// Key (the input's unless the plugin set one).
    pub key: Option<Vec<u8>>,
    /// Value.
    pub value: Option<Vec<u8>>,
    /// Headers: the input's, then those the plugins added.
    pub headers: Vec<Header>,
    /// Content hash of the plugin version of the stage that produced it.
    pub version: Arc<str>,
}

/// Why an input record goes to the dead-letter topic.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// Stage name.
    pub stage: String,
    /// Plugin file name.
    pub plugin: String,
    /// `rejected` for a plugin's own verdict, else the fault kind name.
    pub kind: String,
    /// Human-readable reason.
    pub reason: String,
}

/// Everything that became of one input record.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Records to write.
    pub produced: Vec<Produced>,
    /// Dead-letter reasons (the input record is written once per failure).
    pub failures: Vec<Failure>,
}

impl Outcome {
    /// True when nothing was produced and nothing failed: the record was dropped.
    pub fn is_dropped(&self) -> bool {
        self.produced.is_empty() && self.failures.is_empty()
    }
}

/// Host-side caps on what a plugin may produce per input record, so a plugin
/// cannot exhaust the host's memory or the producer queue.
#[derive(Debug, Clone, Copy)]
pub struct OutputCaps {
    /// Most outputs for one input record.
    pub max_outputs: usize,
    /// Largest value, in bytes (Kafka's default max message is 1 MiB; 8 MiB
    /// leaves room for brokers configured larger).
    pub max_value_bytes: usize,
    /// Most headers per output.
    pub max_headers: usize,
}

impl Default for OutputCaps {
    fn default() -> Self {
        OutputCaps { max_outputs: 1000, max_value_bytes: 8 << 20, max_headers: 64 }
    }
}

/// Longest `reject` reason kept (it becomes the `wasp.error.reason` header).
const MAX_REJECT_REASON: usize = 4096;

/// Longest topic name Kafka allows.
const MAX_TOPIC_NAME: usize = 249;

impl OutputCaps {
    /// Why a verdict is over the caps, if it is. Keys and the bytes of an
    /// output's headers are held to the value cap too, so no part of an
    /// output can be unbounded.
    pub fn check(&self, verdict: &Verdict) -> Result<(), String> {
        let too_big = |what: &str, size: usize| {
            format!(
                "{what} of {size} bytes, more than the output cap of {} bytes",
                self.max_value_bytes
            )
        };
        match verdict {
            Verdict::Value(v) if v.len() > self.max_value_bytes => {
                Err(too_big("returned a value", v.len()))
            }
            Verdict::Emit(outputs) => {
                if outputs.len() > self.max_outputs {
                    return Err(format!(
                        "emitted {} outputs for one record, more than the cap of {} outputs per input record",
                        outputs.len(),
                        self.max_outputs
                    ));
                }
                for o in outputs {
                    let value = o.value.as_ref().map_or(0, Vec::len);
                    if value > self.max_value_bytes {
                        return Err(too_big("emitted a value", value));
                    }
                    let key = o.key.as_ref().map_or(0, Vec::len);
                    if key > self.max_value_bytes {
                        return Err(too_big("emitted a key", key));
                    }
                    if o.headers.len() > self.max_headers {
                        return Err(format!(
                            "emitted {} headers on one output, more than the cap of {}",
                            o.headers.len(),
                            self.max_headers
                        ));
                    }
                    if let Destination::Topic(t) = &o.destination {
                        if t.len() > MAX_TOPIC_NAME {
                            return Err(format!(
                                "emitted to a topic name of {} bytes; Kafka allows {MAX_TOPIC_NAME}",
                                t.len()
                            ));
                        }
                    }
                    let headers: usize =
                        o.headers.iter().map(|h| h.key.len() + h.value.len()).sum();
                    if headers > self.max_value_bytes {
                        return Err(too_big("emitted headers", headers));
                    }
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

/// One stage, shared by all workers.
pub struct StageSpec {
    /// Stage name.
    pub name: String,
    /// Plugin version in use.
    pub plugin: Arc<Plugin>,
    /// The plugin's content hash, shared by every output it produces.
    pub version: Arc<str>,
    /// Config JSON for `init`.
    pub config_json: String,
    /// Limits.
    pub limits: Limits,
    /// Counters.
    pub metrics: Arc<StageMetrics>,
    /// State namespace.
    pub state: StateScope,
    /// When the stage is disabled and what happens then.
    pub faults: FaultPolicy,
    /// Whether this version still calls its plugin. Every spec starts
    /// enabled, so a hot reload (a new spec) enables a disabled stage again.
    pub health: StageHealth,
}

impl StageSpec {
    /// The same stage with another plugin version, config or limits; state
    /// and counters carry over, so a reload keeps what the plugin learned.
    pub fn with(
        &self,
        plugin: Arc<Plugin>,
        config_json: String,
        limits: Limits,
        faults: FaultPolicy,
    ) -> StageSpec {
        StageSpec {
            name: self.name.clone(),
            version: plugin.version().into(),
            plugin,
            config_json,
            limits,
            metrics: self.metrics.clone(),
            state: self.state.clone(),
            faults,
            // A new version (or policy) starts with a clean record, so a
            // reload is how an operator re-enables a disabled stage.
            health: StageHealth::default(),
        }
    }

    /// Start and initialise an instance, as a worker would.
    pub fn start_instance(&self) -> Result<PluginInstance, PluginError> {
        self.plugin.instantiate(self.context())
    }

    fn context(&self) -> InstanceContext {
        InstanceContext {
            stage: self.name.clone(),
            config_json: self.config_json.clone(),
            limits: self.limits,
            state: self.state.clone(),
            metrics: self.metrics.clone(),
        }
    }

    fn plugin_name(&self) -> String {
        self.plugin.path().file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
    }

    /// Count one record's result towards the failure streak; disable the
    /// stage when the streak reaches the policy's threshold.
    fn track(&self, failure: Option<&Fault>) {
        let Some(fault) = failure else {
            return self.health.succeeded();
        };
        let n = self.health.failed();
        let max = self.faults.max_consecutive_failures;
        if max == 0 || n < max {
            return;
        }
        let reason = format!(
            "stage '{}' is disabled: plugin {} failed {n} records in a row \
             ([stage.faults] max_consecutive_failures = {max}); the last failure was {fault}",
            self.name,
            self.plugin_name(),
        );
        if self.health.disable(reason.clone()) {
            let then = match self.faults.on_disabled {
                OnDisabled::Stop => "on_disabled = \"stop\": the pipeline stops",
                OnDisabled::DeadLetter => {
                    "on_disabled = \"dead-letter\": every record reaching the stage now goes \
                     to the dead-letter topic (kind \"disabled\") without calling the plugin"
                }
            };
            tracing::error!(
                stage = %self.name,
                "STAGE DISABLED: {reason}. {then}. Fix the plugin, its config or its limits, \
                 then restart wasp or hot-reload the stage"
            );
        }
    }
}

/// Whether a stage version still calls its plugin, and the streak of
/// failed records that decides it. Shared by every worker of the stage, so
/// the streak counts records in the order workers see them and a success
/// on any partition ends it.
#[derive(Debug, Default)]
pub struct StageHealth {
    failures_in_row: AtomicU64,
    disabled: AtomicBool,
    reason: Mutex<Option<String>>,
}

impl StageHealth {
    /// Whether the stage is disabled (one atomic load: checked per record).
    pub fn is_disabled(&self) -> bool {
        self.disabled.load(Ordering::Acquire)
    }

    /// Why the stage is disabled, if it is.
    pub fn disabled(&self) -> Option<String> {
        if !self.is_disabled() {
            return None;
        }
        self.reason.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn succeeded(&self) {
        // A load first: the common case writes nothing to the shared line.
        if self.failures_in_row.load(Ordering::Relaxed) != 0 {
            self.failures_in_row.store(0, Ordering::Relaxed);
        }
    }

    /// One more failure; the length of the streak.
    fn failed(&self) -> u64 {
        self.failures_in_row.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Disable with `reason`; false when it already was.
    fn disable(&self, reason: String) -> bool {
        let mut r = self.reason.lock().unwrap_or_else(|p| p.into_inner());
        if r.is_some() {
            return false;
        }
        *r = Some(reason);
        self.disabled.store(true, Ordering::Release);
        true
    }
}

/// The current version of one stage. Hot reload replaces the spec and
/// bumps the generation; each worker notices at its next batch boundary.
pub struct StageSlot {
    spec: RwLock<Arc<StageSpec>>,
    generation: AtomicU64,
}

impl StageSlot {
    fn new(spec: StageSpec) -> Self {
        StageSlot { spec: RwLock::new(Arc::new(spec)), generation: AtomicU64::new(0) }
    }

    /// The spec workers should run.
    pub fn current(&self) -> Arc<StageSpec> {
        self.spec.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Bumped on every swap.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Make `spec` the stage's version; workers switch at their next batch.
    pub fn swap(&self, spec: StageSpec) {
        *self.spec.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(spec);
        self.generation.fetch_add(1, Ordering::AcqRel);
    }
}

/// A pipeline's stages, loaded and checked.
pub struct Pipeline {
    /// Pipeline name.
    pub name: String,
    /// The stages, in order.
    pub stages: Vec<Arc<StageSlot>>,
    /// Output caps.
    pub caps: OutputCaps,
    /// The state store.
    pub state: StateStore,
    /// Largest input value handed to the plugins.
    pub max_value_bytes: usize,
}

impl Pipeline {
    /// Load every stage's plugin and check one instance of each accepts its
    /// config, so a bad pipeline fails at start, not on the first record.
    pub fn load(engine: &Engine, cfg: &PipelineConfig) -> Result<Self> {
        let state = match &cfg.state.path {
            Some(p) => StateStore::open(&cfg.resolve(p))?,
            None => StateStore::in_memory(),
        };
        let mut stages = Vec::new();
        for s in &cfg.stages {
            let plugin = Plugin::load(engine, &cfg.resolve(&s.plugin))?;
            let spec = StageSpec {
                name: s.name.clone(),
                version: plugin.version().into(),
                plugin,
                config_json: s.config_json(),
                limits: s.limits,
                metrics: Arc::default(),
                state: StateScope::new(state.clone(), &cfg.name, &s.name),
                faults: s.faults,
                health: StageHealth::default(),
            };
            // Fail fast on a refused config.
            spec.start_instance()?;
            stages.push(Arc::new(StageSlot::new(spec)));
        }
        Ok(Pipeline {
            name: cfg.name.clone(),
            stages,
            caps: OutputCaps::default(),
            state,
            max_value_bytes: cfg.batch.max_value_bytes,
        })
    }

    /// One instance of every stage for a worker.
    pub fn instantiate(&self) -> Result<PipelineInstance, PluginError> {
        let runners = self
            .stages
            .iter()
            .map(|slot| {
                let generation = slot.generation();
                let spec = slot.current();
                Ok(StageRunner {
                    instance: spec.start_instance()?,
                    spec,
                    slot: slot.clone(),
                    generation,
                })
            })
            .collect::<Result<_, PluginError>>()?;
        Ok(PipelineInstance {
            runners,
            caps: self.caps,
            max_value_bytes: self.max_value_bytes,
            partition: None,
        })
    }
}

struct StageRunner {
    slot: Arc<StageSlot>,
    generation: u64,
    spec: Arc<StageSpec>,
    instance: PluginInstance,
}

impl StageRunner {
    /// At a batch boundary: switch to the stage's current version if it
    /// changed. The new version was validated before the swap; should it
    /// still fail to start here, this worker keeps the old one.
    fn refresh(&mut self, partition: Option<&(String, i32)>) {
        let generation = self.slot.generation();
        if generation == self.generation {
            return;
        }
        self.generation = generation;
        let spec = self.slot.current();
        match spec.start_instance() {
            Ok(mut instance) => {
                if let Some((topic, p)) = partition {
                    instance.set_partition(topic, *p);
                }
                tracing::debug!(stage = %spec.name, version = %spec.version, "worker switched version");
                self.instance = instance;
                self.spec = spec;
            }
            Err(e) => {
                tracing::error!(stage = %spec.name, "new version failed to start in a worker, keeping the old one: {e}")
            }
        }
    }

    /// One result per record; a failed batch is retried record by record.
    /// Verdicts over the output caps become contract faults here, so every
    /// failure of the plugin counts towards disabling the stage, which can
    /// happen in the middle of a retried batch: a plugin failing on every
    /// record costs `max_consecutive_failures` calls, not one per record.
    fn run(
        &mut self,
        info: &BatchInfo,
        msgs: &[Message],
        learn: bool,
        caps: &OutputCaps,
    ) -> Vec<Result<Verdict, Fault>> {
        let spec = self.spec.clone();
        spec.metrics.add(metrics::RECORDS_IN, msgs.len() as u64);
        let refused = || {
            spec.metrics.add(metrics::DISABLED, 1);
            let message = spec.health.disabled().unwrap_or_default();
            Err(Fault { kind: FaultKind::Disabled, message })
        };
        let settle = |result: Result<Verdict, Fault>| {
            let result = result.and_then(|v| caps.check(&v).map(|()| v).map_err(Fault::contract));
            spec.track(result.as_ref().err());
            result
        };
        if spec.health.is_disabled() {
            return msgs.iter().map(|_| refused()).collect();
        }
        let call = |inst: &mut PluginInstance, m: &[Message]| {
            if learn {
                inst.learn(info, m)
            } else {
                inst.process(info, m)
            }
        };
        match call(&mut self.instance, msgs) {
            Ok(v) => v.into_iter().map(|v| settle(Ok(v))).collect(),
            Err(fault) if msgs.len() == 1 => vec![settle(Err(fault))],
            Err(fault) => {
                tracing::warn!(
                    stage = %spec.name,
                    %fault,
                    "batch of {} failed; retrying record by record to isolate it",
                    msgs.len()
                );
                msgs.iter()
                    .map(|m| {
                        if spec.health.is_disabled() {
                            return refused();
                        }
                        let r = call(&mut self.instance, std::slice::from_ref(m))
                            .map(|mut v| v.remove(0));
                        settle(r)
                    })
                    .collect()
            }
        }
    }
}

/// A worker's private instances of every stage.
pub struct PipelineInstance {
    runners: Vec<StageRunner>,
    caps: OutputCaps,
    max_value_bytes: usize,
    partition: Option<(String, i32)>,
}

/// Records in flight between stages, each with the index of its input record.
#[derive(Default)]
struct InFlight {
    msgs: Vec<Message>,
    origins: Vec<usize>,
}

impl PipelineInstance {
    /// Point `scope::partition` state at this partition.
    pub fn set_partition(&mut self, topic: &str, partition: i32) {
        self.partition = Some((topic.to_string(), partition));
        for r in &mut self.runners {
            r.instance.set_partition(topic, partition);
        }
    }

    /// Why the run must stop: a stage whose policy is `on_disabled =
    /// "stop"` is disabled. Checked after each batch; the caller then writes
    /// nothing of that batch (and commits nothing of it), so every record
    /// it held is processed again after the fix.
    pub fn stop_reason(&self) -> Option<String> {
        self.runners
            .iter()
            .filter(|r| r.spec.faults.on_disabled == OnDisabled::Stop)
            .find_map(|r| r.spec.health.disabled())
            .map(|reason| {
                format!(
                    "{reason}. The pipeline stopped ([stage.faults] on_disabled = \"stop\"); the \
                     failing batch was not written. Fix the plugin, its config or its limits and \
                     run again, or set on_disabled = \"dead-letter\" to keep the pipeline running"
                )
            })
    }

    /// The plugin version each stage of this worker runs.
    pub fn versions(&self) -> Vec<Arc<str>> {
        self.runners.iter().map(|r| r.spec.version.clone()).collect()
    }

    /// Run a batch through every stage; one [`Outcome`] per input record.
    pub fn process(&mut self, info: &BatchInfo, batch: &[Message]) -> Vec<Outcome> {
        self.run_chain(info, batch, false)
    }

    /// Deliver corrections to every stage's `learn`, each stage seeing them
    /// as they arrived; feedback and named-topic outputs are routed like
    /// those of `process`, rejects are dead-lettered, and `pass`/`next`
    /// outputs end there (corrections are never written to the output).
    pub fn learn(&mut self, info: &BatchInfo, batch: &[Message]) -> Vec<Outcome> {
        self.run_chain(info, batch, true)
    }

    fn run_chain(&mut self, info: &BatchInfo, batch: &[Message], learn: bool) -> Vec<Outcome> {
        let mut outcomes = vec![Outcome::default(); batch.len()];
        let first_origins: Vec<usize> = (0..batch.len()).collect();
        let mut first = InFlight::default();
        let mut between = InFlight::default();
        let oversized =
            |m: &Message| m.value.as_ref().is_some_and(|v| v.len() > self.max_value_bytes);
        // Oversized inputs never reach a plugin; the rest go on as usual
        // (copied only in the rare batch that has one).
        let filtered = batch.iter().any(oversized);
        if filtered {
            for (i, m) in batch.iter().enumerate() {
                if oversized(m) {
                    outcomes[i].failures.push(Failure {
                        stage: String::new(),
                        plugin: String::new(),
                        kind: "input".into(),
                        reason: format!(
                            "value of {} bytes is over batch.max_value_bytes ({}); raise it if such records are expected",
                            m.value.as_ref().map_or(0, Vec::len),
                            self.max_value_bytes
                        ),
                    });
                } else {
                    first.msgs.push(m.clone());
                    first.origins.push(i);
                }
            }
        }
        let last = self.runners.len() - 1;
        for runner in &mut self.runners {
            runner.refresh(self.partition.as_ref());
        }
        for (i, runner) in self.runners.iter_mut().enumerate() {
            // Corrections go to every stage's `learn` as they arrived: a
            // stage that does not learn cannot swallow them from a later one.
            let (msgs, origins): (&[Message], &[usize]) = match (i == 0 || learn, filtered) {
                (true, false) => (batch, &first_origins),
                (true, true) => (&first.msgs, &first.origins),
                (false, _) => (&between.msgs, &between.origins),
            };
            if msgs.is_empty() {
                break;
            }
            let results = runner.run(info, msgs, learn, &self.caps);
            let mut next = InFlight::default();
            let mut apply = Apply {
                spec: &runner.spec,
                learn,
                last: i == last,
                next: &mut next,
                tally: Tally::default(),
            };
            for ((&origin, msg), result) in origins.iter().zip(msgs).zip(results) {
                apply.apply(origin, msg, result, &mut outcomes[origin]);
            }
            apply.tally.record(&runner.spec.metrics);
            between = next;
        }
        outcomes
    }
}

/// Verdict counts of one stage call, added to the shared counters once per
/// batch rather than once per record.
#[derive(Default)]
struct Tally {
    forwarded: u64,
    dropped: u64,
    rejected: u64,
    dead_lettered: u64,
}

impl Tally {
    fn record(&self, m: &StageMetrics) {
        for (name, n) in [
            (metrics::FORWARDED, self.forwarded),
            (metrics::DROPPED, self.dropped),
            (metrics::REJECTED, self.rejected),
            (metrics::DEAD_LETTERED, self.dead_lettered),
        ] {
            if n > 0 {
                m.add(name, n);
            }
        }
    }
}

/// Applies one stage's verdicts: forwards, produces or fails records.
struct Apply<'a> {
    spec: &'a StageSpec,
    /// Applying `learn` verdicts: forwarded corrections end here.
    learn: bool,
    last: bool,
    next: &'a mut InFlight,
    tally: Tally,
}

impl Apply<'_> {
    fn fail(&mut self, out: &mut Outcome, kind: &str, reason: String) {
        self.tally.dead_lettered += 1;
        out.failures.push(Failure {
            stage: self.spec.name.clone(),
            plugin: self.spec.plugin_name(),
            kind: kind.into(),
            reason,
        });
    }

    /// Send `msg` on: to the next stage, or out of the pipeline after the last.
    fn forward(&mut self, origin: usize, msg: Message, out: &mut Outcome) {
        self.tally.forwarded += 1;
        if self.learn {
            // A correction forwarded by `learn` is done: it is not output.
        } else if self.last {
            out.produced.push(self.produce(Route::Output, msg.key, msg.value, msg.headers));
        } else {
            self.next.msgs.push(msg);
            self.next.origins.push(origin);
        }
    }

    fn produce(
        &self,
        route: Route,
        key: Option<Vec<u8>>,
        value: Option<Vec<u8>>,
        headers: Vec<Header>,
    ) -> Produced {
        Produced { route, key, value, headers, version: self.spec.version.clone() }
    }

    fn apply(
        &mut self,
        origin: usize,
        msg: &Message,
        result: Result<Verdict, Fault>,
        out: &mut Outcome,
    ) {
        let verdict = match result {
            Ok(v) => v,
            Err(fault) => return self.fail(out, fault.kind.name(), fault.message),
        };
        match verdict {
            Verdict::Pass => self.forward(origin, msg.clone(), out),
            // Over-cap verdicts were turned into faults by `StageRunner::run`.
            Verdict::Value(v) => {
                let m = Message { value: Some(v), ..msg.clone_without_value() };
                self.forward(origin, m, out)
            }
            Verdict::Emit(outputs) => {
                for o in outputs {
                    let key = o.key.or_else(|| msg.key.clone());
                    let mut headers = msg.headers.clone();
                    headers.extend(o.headers);
                    match o.destination {
                        Destination::Next => {
                            let m = Message {
                                offset: msg.offset,
                                timestamp: msg.timestamp,
                                key,
                                value: o.value,
                                headers,
                            };
                            self.forward(origin, m, out)
                        }
                        Destination::Feedback => {
                            out.produced.push(self.produce(Route::Feedback, key, o.value, headers))
                        }
                        Destination::Topic(t) => {
                            out.produced.push(self.produce(Route::Topic(t), key, o.value, headers))
                        }
                    }
                }
            }
            Verdict::Drop => self.tally.dropped += 1,
            Verdict::Reject(mut reason) => {
                self.tally.rejected += 1;
                // The reason becomes a dead-letter header: keep it a size a
                // broker accepts, whatever the plugin sent.
                crate::text::cut(&mut reason, MAX_REJECT_REASON, "… (cut)");
                self.fail(out, "rejected", reason)
            }
        }
    }
}

/// Copying a message's metadata without its value, which is about to be
/// replaced, avoids copying the old value.
trait CloneWithoutValue {
    fn clone_without_value(&self) -> Message;
}

impl CloneWithoutValue for Message {
    fn clone_without_value(&self) -> Message {
        Message {
            offset: self.offset,
            timestamp: self.timestamp,
            key: self.key.clone(),
            value: None,
            headers: self.headers.clone(),
        }
    }
}
