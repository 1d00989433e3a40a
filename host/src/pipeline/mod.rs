//! Runs a batch through the ordered stages of a pipeline.
//!
//! [`Pipeline`] is built once per process from the config (plugins and
//! their files loaded and checked); each worker calls
//! [`Pipeline::instantiate`] to get its own [`PipelineInstance`], one plugin
//! instance per stage. A stage's `next` outputs form the next stage's batch;
//! feedback and named-topic outputs leave the chain at once.
//!
//! One concern per module: [`outcome`] (what became of a record), [`caps`]
//! (output caps), [`spec`] (a stage version), [`health`] (the circuit
//! breaker), [`slot`] (the hot-swap slot), `runner` (a worker's stage
//! instance and the record-by-record retry), `verdicts` (applying verdicts).

pub mod caps;
pub mod health;
pub mod outcome;
mod runner;
pub mod slot;
pub mod spec;
mod verdicts;

pub use caps::OutputCaps;
pub use health::StageHealth;
pub use outcome::{Failure, Outcome, Produced, Route};
pub use slot::StageSlot;
pub use spec::StageSpec;

use crate::config::PipelineConfig;
use crate::error::PluginError;
use crate::offsets::Hold;
use crate::record::{BatchInfo, Record};
use crate::runtime::{Engine, OnDisabled, Plugin, StageFiles};
use crate::state::{StateScope, StateStore};
use anyhow::Result;
use runner::StageRunner;
use std::sync::Arc;
use verdicts::{Apply, Tally};

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
    /// Where to start reading corrections partition `topic`/`partition`:
    /// the oldest next offset a stage recorded for it (stages behind one
    /// that drops corrections never see any, so have none), `None` when no
    /// stage learned from it yet (then from the beginning).
    pub fn learned_from(&self, topic: &str, partition: i32) -> Option<i64> {
        self.stages.iter().filter_map(|s| s.current().state.position(topic, partition)).min()
    }

    /// Load every stage's plugin and check one instance of each accepts its
    /// config, so a bad pipeline fails at start, not on the first record.
    pub fn load(engine: &Engine, cfg: &PipelineConfig) -> Result<Self> {
        let state = match &cfg.state.path {
            Some(p) => StateStore::open(&cfg.resolve(p))?,
            None => StateStore::in_memory(),
        };
        Self::load_with(engine, cfg, state)
    }

    /// [`Pipeline::load`] on a store already opened (and restored).
    pub fn load_with(engine: &Engine, cfg: &PipelineConfig, state: StateStore) -> Result<Self> {
        let mut stages = Vec::new();
        for s in &cfg.stages {
            let plugin = Plugin::load(engine, &cfg.resolve(&s.plugin))?;
            let files = StageFiles::load(&s.name, &cfg.stage_files(s), s.limits.files_bytes())?;
            let spec = StageSpec::new(
                s.name.clone(),
                plugin,
                Arc::new(files),
                s.config_json(),
                s.limits,
                s.faults,
                StateScope::new(state.clone(), &cfg.name, &s.name),
            );
            // Fail fast on a refused config.
            spec.validate()?;
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
            batch: None,
        })
    }
}

/// A worker's private instances of every stage.
pub struct PipelineInstance {
    runners: Vec<StageRunner>,
    caps: OutputCaps,
    max_value_bytes: usize,
    partition: Option<(String, i32)>,
    /// The Kafka batch in progress (`StateScope::set_batch`).
    batch: Option<Arc<Hold>>,
}

/// Records in flight between stages, each with the index of its input record.
#[derive(Default)]
pub(crate) struct InFlight {
    pub(crate) msgs: Vec<Record>,
    pub(crate) origins: Vec<usize>,
}

impl PipelineInstance {
    /// Point `scope::partition` state at this partition.
    pub fn set_partition(&mut self, topic: &str, partition: i32) {
        self.partition = Some((topic.to_string(), partition));
        for r in &mut self.runners {
            r.instance.set_partition(topic, partition);
        }
    }

    /// Enter (`Some`) or leave a Kafka batch of the partition: the state
    /// writes of its calls record input positions, and their changelog
    /// records keep `hold` (the batch's inputs) uncommitted until durable.
    pub fn set_batch(&mut self, hold: Option<Arc<Hold>>) {
        self.batch = hold;
        for r in &mut self.runners {
            r.instance.set_batch(self.batch.clone());
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
    pub fn process(&mut self, info: &BatchInfo, batch: &[Record]) -> Vec<Outcome> {
        self.run_chain(info, batch, false)
    }

    /// Deliver corrections to every stage's `learn`, each stage seeing them
    /// as they arrived; feedback and named-topic outputs are routed like
    /// those of `process`, rejects are dead-lettered, and `pass`/`next`
    /// outputs end there (corrections are never written to the output).
    pub fn learn(&mut self, info: &BatchInfo, batch: &[Record]) -> Vec<Outcome> {
        self.run_chain(info, batch, true)
    }

    fn run_chain(&mut self, info: &BatchInfo, batch: &[Record], learn: bool) -> Vec<Outcome> {
        let mut outcomes = vec![Outcome::default(); batch.len()];
        let first_origins: Vec<usize> = (0..batch.len()).collect();
        let mut first = InFlight::default();
        let mut between = InFlight::default();
        let oversized =
            |m: &Record| m.value.as_ref().is_some_and(|v| v.len() > self.max_value_bytes);
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
            if runner.refresh(self.partition.as_ref()) {
                runner.instance.set_batch(self.batch.clone());
            }
        }
        for (i, runner) in self.runners.iter_mut().enumerate() {
            // Corrections go to every stage's `learn` as they arrived: a
            // stage that does not learn cannot swallow them from a later one.
            let (msgs, origins): (&[Record], &[usize]) = match (i == 0 || learn, filtered) {
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
