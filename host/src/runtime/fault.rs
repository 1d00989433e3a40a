//! A plugin call that did not return normally, classified so the
//! dead-letter reason and the metrics say what happened.

use super::limits::Limits;
use crate::metrics;

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
    /// The guest returned something the contract forbids (wrong number of
    /// verdicts, an output over the caps).
    Contract,
}

impl FaultKind {
    /// The metric counted for this kind.
    pub fn metric(&self) -> &'static str {
        match self {
            FaultKind::Trap | FaultKind::Contract => metrics::TRAPS,
            FaultKind::Deadline => metrics::TIMEOUTS,
            FaultKind::MemoryLimit => metrics::MEMORY_LIMIT_HITS,
            FaultKind::Fuel => metrics::FUEL_EXHAUSTED,
        }
    }

    /// A short stable name, used in dead-letter headers.
    pub fn name(&self) -> &'static str {
        match self {
            FaultKind::Trap => "trap",
            FaultKind::Deadline => "deadline",
            FaultKind::MemoryLimit => "memory-limit",
            FaultKind::Fuel => "fuel",
            FaultKind::Contract => "contract",
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

    /// Classify an error returned by a wasmtime call.
    pub fn classify(err: &wasmtime::Error, memory_hit: bool, limits: &Limits) -> Self {
        let trap = err.downcast_ref::<wasmtime::Trap>().copied();
        let (kind, message) = match trap {
            Some(wasmtime::Trap::Interrupt) => (
                FaultKind::Deadline,
                format!("deadline of {} ms CPU time per call exceeded", limits.deadline_ms),
            ),
            Some(wasmtime::Trap::OutOfFuel) => {
                (FaultKind::Fuel, format!("fuel budget of {} exhausted", limits.fuel.unwrap_or(0)))
            }
            _ if memory_hit => (
                FaultKind::MemoryLimit,
                format!("memory limit of {} MiB reached ({})", limits.memory_mib, root_cause(err)),
            ),
            _ => (FaultKind::Trap, root_cause(err)),
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
