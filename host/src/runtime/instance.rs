//! One running instance of a plugin: a wasmtime `Store` with its limits,
//! owned by one worker for one stage. A fault poisons the store, so the
//! instance rebuilds itself (fresh store, `init` again) before its next call;
//! so does an instance that reached its stage's `recycle_after_calls`.

use super::abi::{Call, Exports};
use super::fault::Fault;
use super::files::StageFiles;
use super::host::HostState;
use super::limits::Limits;
use super::plugin::Plugin;
use crate::error::PluginError;
use crate::metrics::{self, StageMetrics};
use crate::record::{BatchInfo, PluginInfo, Record, Verdict};
use crate::state::StateScope;
use cpu_time::ThreadTime;
use std::sync::Arc;
use wasmtime::{Store, UpdateDeadline};

/// Everything an instance needs besides the plugin itself.
#[derive(Clone)]
pub struct InstanceContext {
    /// Stage name, for logs and errors.
    pub stage: String,
    /// The stage's config as JSON.
    pub config_json: String,
    /// The stage's limits.
    pub limits: Limits,
    /// The stage's state namespace.
    pub state: StateScope,
    /// The stage's counters.
    pub metrics: Arc<StageMetrics>,
    /// The files the pipeline gives the stage.
    pub files: Arc<StageFiles>,
}

impl InstanceContext {
    /// A stage of its own: in-memory state, fresh counters, no files (for
    /// `wasp check`, benchmarks and tests).
    pub fn standalone(stage: &str, config_json: &str, limits: Limits) -> Self {
        InstanceContext {
            stage: stage.into(),
            config_json: config_json.into(),
            limits,
            state: StateScope::new(crate::state::StateStore::in_memory(), stage, stage),
            metrics: Arc::default(),
            files: Arc::new(StageFiles::none(stage)),
        }
    }
}

/// The size of an instance's guest state, see [`PluginInstance::footprint`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Footprint {
    /// Bytes of all linear memories of the store.
    pub memory_bytes: usize,
    /// Elements of all tables of the store (one pointer-sized slot each).
    pub table_elements: usize,
}

/// A plugin instance with its store.
pub struct PluginInstance {
    plugin: Arc<Plugin>,
    ctx: InstanceContext,
    store: Store<HostState>,
    exports: Exports,
    poisoned: bool,
    /// Calls made on the current store, for `recycle_after_calls`.
    calls: u64,
}

fn thread_cpu() -> std::time::Duration {
    ThreadTime::now().as_duration()
}

fn new_store(plugin: &Plugin, ctx: &InstanceContext) -> Store<HostState> {
    let label: Arc<str> = format!("{}/{}", ctx.stage, plugin_name(plugin)).into();
    let host = HostState::new(
        label,
        ctx.state.clone(),
        ctx.metrics.clone(),
        &ctx.limits,
        ctx.files.clone(),
    );
    let mut store = Store::new(plugin.engine().wasmtime(), host);
    store.limiter(|h| &mut h.limiter);
    let deadline = ctx.limits.deadline();
    // The epoch only wakes this check; the budget is the thread's CPU time,
    // so time spent descheduled on a busy machine does not count.
    store.epoch_deadline_callback(move |cx| match cx.data().call_started {
        Some(start) if thread_cpu().saturating_sub(start) >= deadline => {
            Err(wasmtime::Trap::Interrupt.into())
        }
        _ => Ok(UpdateDeadline::Continue(1)),
    });
    store
}

fn plugin_name(plugin: &Plugin) -> String {
    plugin
        .path()
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "plugin".into())
}

/// Prepare the store for one call: fresh fuel, memory flag, CPU clock.
fn arm(store: &mut Store<HostState>, limits: &Limits, fuel_enabled: bool) {
    if fuel_enabled {
        // Cannot fail: fuel is enabled on the engine.
        let _ = store.set_fuel(limits.fuel.unwrap_or(u64::MAX));
    }
    let data = store.data_mut();
    data.limiter.hit = false;
    data.last_error = None;
    data.call_started = Some(thread_cpu());
    store.set_epoch_deadline(1);
}

/// Run `call` on the store under the stage's limits; a failure is
/// classified and counted.
fn guarded<R>(
    store: &mut Store<HostState>,
    limits: &Limits,
    fuel_enabled: bool,
    call: impl FnOnce(&mut Store<HostState>) -> wasmtime::Result<R>,
) -> Result<R, Fault> {
    arm(store, limits, fuel_enabled);
    let result = call(store);
    store.data_mut().call_started = None;
    result.map_err(|e| {
        let data = store.data();
        let fault = Fault::classify(&e, data.limiter.hit, limits, data.last_error.as_deref());
        store.data().metrics.add(fault.kind.metric(), 1);
        fault
    })
}

fn start_failed(plugin: &Plugin, ctx: &InstanceContext, fault: Fault) -> PluginError {
    PluginError::StartFailed { path: plugin.path().into(), stage: ctx.stage.clone(), fault }
}

/// A fresh store with the plugin instantiated (no `init` yet).
fn instantiate(
    plugin: &Plugin,
    ctx: &InstanceContext,
) -> Result<(Store<HostState>, Exports), PluginError> {
    let mut store = new_store(plugin, ctx);
    let fuel = plugin.engine().fuel_enabled();
    let bindings = guarded(&mut store, &ctx.limits, fuel, |s| plugin.pre().instantiate(s))
        .map_err(|f| start_failed(plugin, ctx, f))?;
    Ok((store, bindings))
}

/// What happens to the state `init` writes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum InitWrites {
    /// Applied once `init` succeeds: a worker's instance.
    Keep,
    /// Thrown away: validating a version that may yet be refused.
    Discard,
}

/// A fresh store with the plugin instantiated and `init` run.
fn boot(
    plugin: &Plugin,
    ctx: &InstanceContext,
    writes: InitWrites,
) -> Result<(Store<HostState>, Exports), PluginError> {
    let (mut store, bindings) = instantiate(plugin, ctx)?;
    let fuel = plugin.engine().fuel_enabled();
    store.data_mut().state.begin();
    let init = guarded(&mut store, &ctx.limits, fuel, |s| bindings.init(s, &ctx.config_json))
        .map_err(|f| start_failed(plugin, ctx, f))
        .and_then(|init| {
            init.map_err(|message| PluginError::InitRefused {
                path: plugin.path().into(),
                stage: ctx.stage.clone(),
                message,
            })
        });
    let state = &mut store.data_mut().state;
    match (&init, writes) {
        (Ok(()), InitWrites::Keep) => {
            state.commit();
        }
        _ => state.discard(),
    }
    init?;
    Ok((store, bindings))
}

impl PluginInstance {
    pub(crate) fn start(plugin: Arc<Plugin>, ctx: InstanceContext) -> Result<Self, PluginError> {
        let (store, exports) = boot(&plugin, &ctx, InitWrites::Keep)?;
        Ok(PluginInstance { plugin, ctx, store, exports, poisoned: false, calls: 0 })
    }

    /// Start and initialise an instance to see that it can, then drop it
    /// with whatever its `init` wrote to the state.
    pub(crate) fn validate(plugin: Arc<Plugin>, ctx: InstanceContext) -> Result<(), PluginError> {
        boot(&plugin, &ctx, InitWrites::Discard).map(|_| ())
    }

    pub(crate) fn probe_info(plugin: Arc<Plugin>) -> Result<PluginInfo, PluginError> {
        let ctx = InstanceContext::standalone("check", "{}", Limits::default());
        let (mut store, exports) = instantiate(&plugin, &ctx)?;
        let fuel = plugin.engine().fuel_enabled();
        guarded(&mut store, &ctx.limits, fuel, |s| exports.info(s))
            .map_err(|f| start_failed(&plugin, &ctx, f))
    }

    /// The plugin version this instance runs.
    pub fn plugin(&self) -> &Arc<Plugin> {
        &self.plugin
    }

    /// Tell the instance which partition `scope::partition` state refers to.
    pub fn set_partition(&mut self, topic: &str, partition: i32) {
        self.ctx.state.set_partition(topic, partition);
        self.store.data_mut().state.set_partition(topic, partition);
    }

    /// Enter (`Some`) or leave a Kafka batch: see [`StateScope::set_batch`].
    pub fn set_batch(&mut self, hold: Option<Arc<crate::offsets::Hold>>) {
        self.ctx.state.set_batch(hold.clone());
        self.store.data_mut().state.set_batch(hold);
    }

    /// The position the stage's state records for `topic`/`partition`:
    /// see [`StateScope::position`].
    pub fn position(&self, topic: &str, partition: i32) -> Option<i64> {
        self.store.data().state.position(topic, partition)
    }

    /// Input offsets a call must not straddle: see
    /// [`StateScope::replay_bounds`].
    pub fn replay_bounds(&self) -> Vec<i64> {
        self.store.data().state.replay_bounds()
    }

    /// Rebuild a poisoned or used-up instance before use.
    fn ready(&mut self) -> Result<(), Fault> {
        let used_up = self.ctx.limits.recycle_after_calls.is_some_and(|n| self.calls >= n.max(1));
        if !self.poisoned && !used_up {
            return Ok(());
        }
        self.ctx.metrics.add(metrics::INSTANCE_RECYCLES, 1);
        let (store, exports) =
            boot(&self.plugin, &self.ctx, InitWrites::Keep).map_err(|e| Fault {
                kind: super::fault::FaultKind::Trap,
                message: format!("instance restart failed: {e}"),
            })?;
        self.store = store;
        self.exports = exports;
        self.poisoned = false;
        self.calls = 0;
        Ok(())
    }

    fn call(
        &mut self,
        call: Call,
        info: &BatchInfo,
        batch: &[Record],
    ) -> Result<Vec<Verdict>, Fault> {
        self.ready()?;
        let fuel = self.plugin.engine().fuel_enabled();
        let exports = &mut self.exports;
        self.calls += 1;
        // The call's inputs: for a later stage, the outputs of earlier
        // ones carry the offset of the input they came from.
        let next = batch.iter().map(|m| m.offset).max().map(|o| o + 1);
        self.store.data_mut().state.begin_inputs(next);
        let result = guarded(&mut self.store, &self.ctx.limits, fuel, |s| {
            exports.call(s, call, info, batch)
        })
        .inspect_err(|_| self.poisoned = true)
        .and_then(|r| r.map_err(Fault::contract))
        .and_then(|verdicts| {
            if verdicts.len() == batch.len() {
                Ok(verdicts)
            } else {
                Err(Fault::contract(format!(
                    "plugin returned {} verdicts for {} records",
                    verdicts.len(),
                    batch.len()
                )))
            }
        });
        // The call's state writes count only if the call succeeded.
        let state = &mut self.store.data_mut().state;
        if result.is_ok() {
            if let (Call::Learn, Some(last)) = (call, batch.last()) {
                state.record_position(&info.topic, info.partition, last.offset + 1);
            }
            let replayed = state.commit();
            if replayed > 0 {
                tracing::debug!(
                    stage = %self.ctx.stage,
                    replayed,
                    "state writes of replayed inputs dropped: the state already holds them"
                );
            }
        } else {
            state.discard();
        }
        result
    }

    /// What the guest holds now: its linear memories and tables as granted
    /// by the store's limiter (sizes, not resident pages; the host's own
    /// bookkeeping for the store is not included).
    pub fn footprint(&self) -> Footprint {
        let limiter = &self.store.data().limiter;
        Footprint { memory_bytes: limiter.memory_bytes(), table_elements: limiter.table_elements() }
    }

    /// Run `process` on a batch; one verdict per record or a fault.
    pub fn process(&mut self, info: &BatchInfo, batch: &[Record]) -> Result<Vec<Verdict>, Fault> {
        self.call(Call::Process, info, batch)
    }

    /// Run `learn` on a batch of corrections.
    pub fn learn(&mut self, info: &BatchInfo, batch: &[Record]) -> Result<Vec<Verdict>, Fault> {
        self.call(Call::Learn, info, batch)
    }
}
