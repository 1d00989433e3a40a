//! Counters per stage and per pipeline, readable while running.
//!
//! Names are constants so logs, the progress line and tests agree on them.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Records the stage received.
pub const RECORDS_IN: &str = "records_in";
/// Verdicts that forwarded a record (pass, value, emit to next).
pub const FORWARDED: &str = "forwarded";
/// Records the plugin rejected.
pub const REJECTED: &str = "rejected";
/// Records the plugin dropped.
pub const DROPPED: &str = "dropped";
/// Calls that trapped (panic, unreachable, bad verdict count).
pub const TRAPS: &str = "traps";
/// Calls stopped by the CPU-time deadline.
pub const TIMEOUTS: &str = "timeouts";
/// Calls stopped by the memory cap.
pub const MEMORY_LIMIT_HITS: &str = "memory_limit_hits";
/// Calls stopped by the fuel budget.
pub const FUEL_EXHAUSTED: &str = "fuel_exhausted";
/// Instances thrown away and rebuilt after a fault.
pub const INSTANCE_RECYCLES: &str = "instance_recycles";
/// Records a disabled stage refused without calling its plugin (see
/// `[stage.faults]`); non-zero means the stage is or was disabled.
pub const DISABLED: &str = "disabled";
/// Input records this stage failed: rejected, faulted, over the output
/// caps or refused while disabled. Each goes to the dead-letter topic.
pub const DEAD_LETTERED: &str = "dead_lettered";

const BUILTIN: [&str; 11] = [
    RECORDS_IN,
    FORWARDED,
    REJECTED,
    DROPPED,
    TRAPS,
    TIMEOUTS,
    MEMORY_LIMIT_HITS,
    FUEL_EXHAUSTED,
    INSTANCE_RECYCLES,
    DISABLED,
    DEAD_LETTERED,
];

/// Counters of one stage, shared by every worker running it.
#[derive(Debug, Default)]
pub struct StageMetrics {
    builtin: [AtomicU64; BUILTIN.len()],
    plugin: Mutex<BTreeMap<String, u64>>,
}

impl StageMetrics {
    /// Add to a built-in counter (one of the constants of this module).
    pub fn add(&self, name: &str, delta: u64) {
        match BUILTIN.iter().position(|n| *n == name) {
            Some(i) => {
                self.builtin[i].fetch_add(delta, Ordering::Relaxed);
            }
            None => self.add_plugin(name, delta),
        }
    }

    /// Add to a counter the plugin defined.
    pub fn add_plugin(&self, name: &str, delta: u64) {
        let mut map = self.plugin.lock().unwrap_or_else(|p| p.into_inner());
        *map.entry(name.to_string()).or_default() += delta;
    }

    /// Current value of a counter, built-in or plugin-defined.
    pub fn get(&self, name: &str) -> u64 {
        match BUILTIN.iter().position(|n| *n == name) {
            Some(i) => self.builtin[i].load(Ordering::Relaxed),
            None => self
                .plugin
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(name)
                .copied()
                .unwrap_or(0),
        }
    }

    /// Every non-zero counter, built-in first then plugin-defined (prefixed
    /// with `plugin.`).
    pub fn snapshot(&self) -> Vec<(String, u64)> {
        let mut out: Vec<(String, u64)> = BUILTIN
            .iter()
            .zip(&self.builtin)
            .map(|(n, v)| (n.to_string(), v.load(Ordering::Relaxed)))
            .filter(|(_, v)| *v > 0)
            .collect();
        let plugin = self.plugin.lock().unwrap_or_else(|p| p.into_inner());
        out.extend(plugin.iter().map(|(k, v)| (format!("plugin.{k}"), *v)));
        out
    }
}
