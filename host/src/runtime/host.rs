//! What a plugin instance can reach: the `log`, `state`, `metrics` and
//! `files` imports of each contract version, and an empty WASI context for
//! runtimes that import WASI (only stdout and stderr lead anywhere: into
//! the log). The logic is written once on `HostState`; each version's trait
//! impls only map their types onto it.

use super::bindings::{v1, v2};
use super::files::StageFiles;
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
    /// The files the pipeline gives the stage.
    files: Arc<StageFiles>,
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
        files: Arc<StageFiles>,
    ) -> Self {
        let memory_cap = limits.memory_bytes();
        let log_budget =
            LogBudget::new(limits.log_lines_per_second, label.clone(), metrics.clone());
        HostState {
            wasi: super::sandbox::empty_wasi(label.clone(), limits.clock, log_budget.clone()),
            log_budget,
            files,
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

/// A log level of either contract version.
#[derive(Clone, Copy)]
enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

impl HostState {
    fn log(&mut self, level: Level, message: String) {
        let mut message = message;
        crate::text::cut(&mut message, MAX_LOG_LINE, "… (cut)");
        if matches!(level, Level::Error) {
            self.last_error = Some(one_line(&message, MAX_REASON_LOG));
        }
        if !self.log_budget.allow() {
            return;
        }
        let plugin = &*self.label;
        match level {
            Level::Trace => tracing::trace!(plugin, "{message}"),
            Level::Debug => tracing::debug!(plugin, "{message}"),
            Level::Info => tracing::info!(plugin, "{message}"),
            Level::Warn => tracing::warn!(plugin, "{message}"),
            Level::Error => tracing::error!(plugin, "{message}"),
        }
    }

    fn state_set(&mut self, partition: bool, key: &str, value: Vec<u8>) -> wasmtime::Result<()> {
        // A refused set fails the call: the plugin cannot go on as if its
        // model or window were saved.
        self.state.set(partition, key, value, self.state_quota)?;
        Ok(())
    }

    fn counter_add(&mut self, name: &str, delta: u64) {
        if !self.metrics.add_plugin(name, delta) && !self.counters_warned {
            self.counters_warned = true;
            tracing::warn!(
                plugin = &*self.label,
                "counter {:?} not kept: a stage keeps at most {} plugin counters with names \
                 of at most {} bytes (updates dropped are counted in {})",
                one_line(name, 64),
                crate::metrics::MAX_PLUGIN_COUNTERS,
                crate::metrics::MAX_COUNTER_NAME,
                crate::metrics::PLUGIN_COUNTERS_DROPPED
            );
        }
    }
}

/// The imports of one contract version, mapped onto `HostState`. The
/// interfaces are the same in 0.1 and 0.2 apart from their types' paths.
macro_rules! common_imports {
    ($v:ident) => {
        impl $v::wasp::plugin::types::Host for HostState {}

        impl $v::wasp::plugin::log::Host for HostState {
            fn log(&mut self, level: $v::Level, message: String) -> wasmtime::Result<()> {
                let level = match level {
                    $v::Level::Trace => Level::Trace,
                    $v::Level::Debug => Level::Debug,
                    $v::Level::Info => Level::Info,
                    $v::Level::Warn => Level::Warn,
                    $v::Level::Error => Level::Error,
                };
                HostState::log(self, level, message);
                Ok(())
            }
        }

        impl $v::wasp::plugin::state::Host for HostState {
            fn get(&mut self, scope: $v::Scope, key: String) -> wasmtime::Result<Option<Vec<u8>>> {
                Ok(self.state.get(scope == $v::Scope::Partition, &key))
            }
            fn set(
                &mut self,
                scope: $v::Scope,
                key: String,
                value: Vec<u8>,
            ) -> wasmtime::Result<()> {
                self.state_set(scope == $v::Scope::Partition, &key, value)
            }
            fn delete(&mut self, scope: $v::Scope, key: String) -> wasmtime::Result<()> {
                self.state.delete(scope == $v::Scope::Partition, &key);
                Ok(())
            }
            fn keys(&mut self, scope: $v::Scope, prefix: String) -> wasmtime::Result<Vec<String>> {
                Ok(self.state.keys(scope == $v::Scope::Partition, &prefix))
            }
        }

        impl $v::wasp::plugin::metrics::Host for HostState {
            fn counter_add(&mut self, name: String, delta: u64) -> wasmtime::Result<()> {
                HostState::counter_add(self, &name, delta);
                Ok(())
            }
        }
    };
}

common_imports!(v1);
common_imports!(v2);

impl v2::wasp::plugin::files::Host for HostState {
    fn read(&mut self, name: String) -> wasmtime::Result<Result<Vec<u8>, String>> {
        Ok(self.files.read(&name).map(|b| b.to_vec()))
    }
    fn names(&mut self) -> wasmtime::Result<Vec<String>> {
        Ok(self.files.names())
    }
}
