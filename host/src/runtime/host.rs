//! What a plugin instance can reach: the `log`, `state` and `metrics`
//! imports, and an empty WASI context for runtimes that import WASI (only
//! stdout and stderr lead anywhere: into the log).

use super::bindings::wasp::plugin::{log, metrics, state, types};
use super::bindings::{Level, Scope};
use super::limits::MemoryLimiter;
use super::logbudget::LogBudget;
use crate::metrics::StageMetrics;
use crate::state::StateScope;
use std::sync::Arc;
use wasmtime_wasi::{ResourceTable, WasiCtx, WasiCtxView, WasiView};

/// Longest log line kept from a plugin; longer lines are cut so a plugin
/// cannot flood the host's log.
const MAX_LOG_LINE: usize = 4096;

/// Longest part of a logged error quoted in a fault's reason (it ends up in
/// a dead-letter header).
const MAX_REASON_LOG: usize = 512;

/// `text` on one line, cut to about `max` bytes.
fn one_line(text: &str, max: usize) -> String {
    let mut line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    crate::text::cut(&mut line, max, "…");
    line
}

/// The data of one plugin instance's `Store`.
pub struct HostState {
    /// `stage/plugin` label for logs.
    pub label: Arc<str>,
    /// The instance's view of the state store.
    pub state: StateScope,
    /// The stage's counters.
    pub metrics: Arc<StageMetrics>,
    /// Enforces the memory cap.
    pub limiter: MemoryLimiter,
    /// Thread CPU time when the current call started, for the deadline
    /// (`None` between calls).
    pub call_started: Option<std::time::Duration>,
    /// The last error the plugin logged during the current call, on one
    /// line, so a trap's reason can say what the plugin said (a Rust panic
    /// message, say). Cleared when a call starts.
    pub last_error: Option<String>,
    /// `[stage.limits] state_mib` in bytes.
    state_quota: usize,
    /// Shared with the WASI stdout/stderr of the instance.
    log_budget: LogBudget,
    /// A counter update was dropped (too many names) and the log said so.
    counters_warned: bool,
    wasi: WasiCtx,
    table: ResourceTable,
}

impl HostState {
    /// State for a new instance.
    pub fn new(
        label: Arc<str>,
        state: StateScope,
        metrics: Arc<StageMetrics>,
        limits: &super::limits::Limits,
    ) -> Self {
        let memory_cap = limits.memory_bytes();
        let log_budget =
            LogBudget::new(limits.log_lines_per_second, label.clone(), metrics.clone());
        HostState {
            wasi: super::sandbox::empty_wasi(label.clone(), limits.clock, log_budget.clone()),
            log_budget,
            state_quota: limits.state_bytes(),
            counters_warned: false,
            label,
            state,
            metrics,
            limiter: MemoryLimiter::new(memory_cap),
            call_started: None,
            last_error: None,
            table: ResourceTable::new(),
        }
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl types::Host for HostState {}

impl log::Host for HostState {
    fn log(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        let mut message = message;
        crate::text::cut(&mut message, MAX_LOG_LINE, "… (cut)");
        if matches!(level, Level::Error) {
            self.last_error = Some(one_line(&message, MAX_REASON_LOG));
        }
        if !self.log_budget.allow() {
            return Ok(());
        }
        let plugin = &*self.label;
        match level {
            Level::Trace => tracing::trace!(plugin, "{message}"),
            Level::Debug => tracing::debug!(plugin, "{message}"),
            Level::Info => tracing::info!(plugin, "{message}"),
            Level::Warn => tracing::warn!(plugin, "{message}"),
            Level::Error => tracing::error!(plugin, "{message}"),
        }
        Ok(())
    }
}

impl state::Host for HostState {
    fn get(&mut self, scope: Scope, key: String) -> wasmtime::Result<Option<Vec<u8>>> {
        Ok(self.state.get(scope == Scope::Partition, &key))
    }
    fn set(&mut self, scope: Scope, key: String, value: Vec<u8>) -> wasmtime::Result<()> {
        // A refused set fails the call: the plugin cannot go on as if its
        // model or window were saved.
        self.state.set(scope == Scope::Partition, &key, value, self.state_quota)?;
        Ok(())
    }
    fn delete(&mut self, scope: Scope, key: String) -> wasmtime::Result<()> {
        self.state.delete(scope == Scope::Partition, &key);
        Ok(())
    }
    fn keys(&mut self, scope: Scope, prefix: String) -> wasmtime::Result<Vec<String>> {
        Ok(self.state.keys(scope == Scope::Partition, &prefix))
    }
}

impl metrics::Host for HostState {
    fn counter_add(&mut self, name: String, delta: u64) -> wasmtime::Result<()> {
        if !self.metrics.add_plugin(&name, delta) && !self.counters_warned {
            self.counters_warned = true;
            tracing::warn!(
                plugin = &*self.label,
                "counter {:?} not kept: a stage keeps at most {} plugin counters with names \
                 of at most {} bytes (updates dropped are counted in {})",
                one_line(&name, 64),
                crate::metrics::MAX_PLUGIN_COUNTERS,
                crate::metrics::MAX_COUNTER_NAME,
                crate::metrics::PLUGIN_COUNTERS_DROPPED
            );
        }
        Ok(())
    }
}
