//! A plugin call that did not return normally, classified so the
//! dead-letter reason and the metrics say what happened.

use super::limits::Limits;
use crate::metrics;
use serde::Deserialize;

/// Why a plugin call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultKind {
    /// The guest trapped: a panic, `unreachable`, an out-of-bounds access.
    Trap,
    /// The CPU-time deadline per call was reached.
    Deadline,
    /// The linear memory cap was reached.
    MemoryLimit,
    /// The fuel budget ran out.
    Fuel,
    /// A `state.set` would have taken the stage's state over its quota.
    StateLimit,
    /// The guest returned something the contract forbids (wrong number of
    /// verdicts, an output over the caps).
    Contract,
    /// The stage is disabled after too many failures in a row; the plugin
    /// was not called (see [`FaultPolicy`]).
    Disabled,
}

impl FaultKind {
    /// The metric counted for this kind.
    pub fn metric(&self) -> &'static str {
        match self {
            FaultKind::Trap | FaultKind::Contract => metrics::TRAPS,
            FaultKind::Deadline => metrics::TIMEOUTS,
            FaultKind::MemoryLimit => metrics::MEMORY_LIMIT_HITS,
            FaultKind::Fuel => metrics::FUEL_EXHAUSTED,
            FaultKind::StateLimit => metrics::STATE_LIMIT_HITS,
            FaultKind::Disabled => metrics::DISABLED,
        }
    }

    /// A short stable name, used in dead-letter headers.
    pub fn name(&self) -> &'static str {
        match self {
            FaultKind::Trap => "trap",
            FaultKind::Deadline => "deadline",
            FaultKind::MemoryLimit => "memory-limit",
            FaultKind::Fuel => "fuel",
            FaultKind::StateLimit => "state-limit",
            FaultKind::Contract => "contract",
            FaultKind::Disabled => "disabled",
        }
    }
}

/// A failed plugin call.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}: {message}", kind.name())]
pub struct Fault {
    /// What kind of failure.
    pub kind: FaultKind,
    /// Details for the user.
    pub message: String,
}

impl Fault {
    /// A contract violation.
    pub fn contract(message: String) -> Self {
        Fault { kind: FaultKind::Contract, message }
    }

    /// Classify an error returned by a wasmtime call. `logged` is the last
    /// error the plugin logged during the call (a Rust panic message, say),
    /// which a bare trap does not carry.
    pub fn classify(
        err: &wasmtime::Error,
        memory_hit: bool,
        limits: &Limits,
        logged: Option<&str>,
    ) -> Self {
        let trap = err.downcast_ref::<wasmtime::Trap>().copied();
        let (kind, message) = match trap {
            Some(wasmtime::Trap::Interrupt) => (
                FaultKind::Deadline,
                format!("deadline of {} ms CPU time per call exceeded", limits.deadline_ms),
            ),
            Some(wasmtime::Trap::OutOfFuel) => {
                (FaultKind::Fuel, format!("fuel budget of {} exhausted", limits.fuel.unwrap_or(0)))
            }
            _ if err.downcast_ref::<crate::state::StateFull>().is_some() => {
                (FaultKind::StateLimit, root_cause(err))
            }
            _ if memory_hit => (
                FaultKind::MemoryLimit,
                format!("memory limit of {} MiB reached ({})", limits.memory_mib, root_cause(err)),
            ),
            _ => (FaultKind::Trap, root_cause(err)),
        };
        let message = match logged {
            Some(l) => format!("{message} (last error logged by the plugin: {l})"),
            None => message,
        };
        Fault { kind, message }
    }
}

/// The error chain on one line, without the wasm backtrace noise.
fn root_cause(err: &wasmtime::Error) -> String {
    let mut parts: Vec<String> = err
        .chain()
        .map(|e| e.to_string().lines().next().unwrap_or_default().to_string())
        .filter(|l| !l.starts_with("error while executing at wasm backtrace"))
        .collect();
    parts.dedup();
    parts.join(": ")
}

/// What a stage does when its plugin fails record after record, from
/// `[stage.faults]` in the pipeline file. See docs/sandbox.md.
///
/// A failure is a fault of the plugin on a record: trap, deadline, memory
/// limit, fuel, or a contract violation (outputs over the caps included).
/// A `reject` verdict is not a failure: the plugin did its job on bad input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FaultPolicy {
    /// Records in a row whose plugin call failed, across the stage's
    /// workers, after which the stage is disabled; 0 never disables. 100:
    /// poison records come alone or in short bursts, so a hundred in a row
    /// means the plugin (or its config, or its model) is broken, and
    /// waiting longer only fills the dead-letter topic. Each failure costs
    /// at most one instance rebuild, or one `deadline_ms` for a looping
    /// plugin, so the threshold also bounds the time lost to a broken one.
    pub max_consecutive_failures: u64,
    /// What the pipeline does once the stage is disabled.
    pub on_disabled: OnDisabled,
}

impl Default for FaultPolicy {
    fn default() -> Self {
        FaultPolicy { max_consecutive_failures: 100, on_disabled: OnDisabled::Stop }
    }
}

/// The pipeline's policy once a stage is disabled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnDisabled {
    /// Stop the run with an error (the default). Nothing of the failing
    /// batch is written or committed, so after a fix (a new plugin version,
    /// a config change) every record is processed again and none was sent
    /// to the dead-letter topic because of the broken version. Consumer lag
    /// grows, so monitoring sees it.
    #[default]
    Stop,
    /// Keep running: every record reaching the stage goes to the
    /// dead-letter topic, kind `disabled`, without calling the plugin, and
    /// later stages do not see it. For pipelines that must keep their other
    /// outputs flowing; the dead letters can be replayed after a fix. A hot
    /// reload to a new version enables the stage again.
    DeadLetter,
}
