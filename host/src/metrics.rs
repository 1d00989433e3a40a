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
/// Calls failed because a `state.set` would exceed `[stage.limits] state_mib`.
pub const STATE_LIMIT_HITS: &str = "state_limit_hits";
/// Plugin log and stdout/stderr lines dropped by the rate limit
/// (`[stage.limits] log_lines_per_second`).
pub const LOG_LINES_DROPPED: &str = "log_lines_dropped";
/// Plugin counter updates dropped because the plugin already defined
/// [`MAX_PLUGIN_COUNTERS`] counters (or the name was too long).
pub const PLUGIN_COUNTERS_DROPPED: &str = "plugin_counters_dropped";

/// Distinct counters a plugin may define per stage. Counters are exported
/// and kept for the whole run, so a plugin that names a counter after each
/// user or record would otherwise grow the host's memory without bound.
pub const MAX_PLUGIN_COUNTERS: usize = 256;
/// Longest plugin counter name, in bytes.
pub const MAX_COUNTER_NAME: usize = 128;
/// Instances thrown away and rebuilt after a fault.
pub const INSTANCE_RECYCLES: &str = "instance_recycles";
/// Records a disabled stage refused without calling its plugin (see
/// `[stage.faults]`); non-zero means the stage is or was disabled.
pub const DISABLED: &str = "disabled";
/// Input records this stage failed: rejected, faulted, over the output
/// caps or refused while disabled. Each goes to the dead-letter topic.
pub const DEAD_LETTERED: &str = "dead_lettered";

/// Plugin calls (`process` or `learn`, one per batch or retried record).
pub const CALLS: &str = "calls";
/// Wall time spent inside plugin calls, in nanoseconds.
pub const CALL_NANOS: &str = "call_nanoseconds";

const BUILTIN: [&str; 16] = [
    RECORDS_IN,
    FORWARDED,
    REJECTED,
    DROPPED,
    TRAPS,
    TIMEOUTS,
    MEMORY_LIMIT_HITS,
    FUEL_EXHAUSTED,
    STATE_LIMIT_HITS,
    LOG_LINES_DROPPED,
    PLUGIN_COUNTERS_DROPPED,
    INSTANCE_RECYCLES,
    DISABLED,
    DEAD_LETTERED,
    CALLS,
    CALL_NANOS,
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
            None => {
                self.add_plugin(name, delta);
            }
        }
    }

    /// Add to a counter the plugin defined. Returns false (and counts
    /// [`PLUGIN_COUNTERS_DROPPED`]) when the name is new and the stage
    /// already has [`MAX_PLUGIN_COUNTERS`] of them, or is too long.
    pub fn add_plugin(&self, name: &str, delta: u64) -> bool {
        let mut map = self.plugin.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(v) = map.get_mut(name) {
            *v += delta;
            return true;
        }
        if map.len() >= MAX_PLUGIN_COUNTERS || name.len() > MAX_COUNTER_NAME {
            drop(map);
            self.add(PLUGIN_COUNTERS_DROPPED, 1);
            return false;
        }
        map.insert(name.to_string(), delta);
        true
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

    /// The counters the plugin defined, by name.
    pub fn plugin_counters(&self) -> Vec<(String, u64)> {
        let plugin = self.plugin.lock().unwrap_or_else(|p| p.into_inner());
        plugin.iter().map(|(k, v)| (k.clone(), *v)).collect()
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
        out.extend(self.plugin_counters().into_iter().map(|(k, v)| (format!("plugin.{k}"), v)));
        out
    }
}
