//! Per-stage resource limits and the store limiter that enforces memory.
//!
//! Time is budgeted in CPU time of the calling thread, not wall time: the
//! epoch ticker only wakes the check, so a healthy call on a busy 2-core
//! machine is not interrupted because another thread held the CPU.

use serde::Deserialize;
use std::time::Duration;

/// Limits of one stage, from `[stage.limits]` in the pipeline file.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Linear memory cap per instance, in MiB. 256 MiB fits the Python and
    /// JavaScript runtimes with room for a model, and keeps 16 workers × 2
    /// stages well under the machine's memory.
    pub memory_mib: u64,
    /// CPU time one call (a whole batch) may use, in ms. 5 s is far above a
    /// healthy batch (~µs per record) and short enough that a looping plugin
    /// costs one batch retry, not a stalled partition.
    pub deadline_ms: u64,
    /// Optional fuel per call (deterministic instruction budget). Off by
    /// default because metering costs throughput.
    pub fuel: Option<u64>,
    /// Optional: rebuild the instance (fresh store, `init` again) after this
    /// many `process`/`learn` calls. For runtimes whose memory only grows
    /// (a garbage collector that never returns memory, a leaky plugin):
    /// state lives in the host, so nothing is lost. Off by default; a
    /// rebuild costs one instantiation (ms for Python/JS runtimes).
    pub recycle_after_calls: Option<u64>,
    /// Bytes (keys + values, MiB) the stage may keep in the host's state
    /// store, over all its scopes and workers. State lives in wasp's own
    /// memory, so without a quota a plugin could grow the host until it is
    /// killed. 64 MiB holds a k-NN model of ~500 000 four-feature rows;
    /// a `state.set` past it fails the record (kind `state-limit`).
    pub state_mib: u64,
    /// Log lines (the `log` import plus stdout/stderr lines) one instance
    /// may write per second, with bursts of as many; the rest are dropped
    /// and counted, so a plugin that logs per record cannot flood the
    /// host's log or slow it down. 1 000 keeps `print` debugging usable.
    pub log_lines_per_second: u32,
    /// The clocks a WASI plugin sees: `frozen` (default: the wall clock
    /// reads 0, the monotonic clock one second, so output depends only on
    /// input, config and state; not 0, because Go's runtime refuses a zero
    /// monotonic clock) or `real` (the host's clocks, an explicit grant).
    pub clock: ClockGrant,
    /// Bytes (MiB) of all the files the pipeline gives the stage
    /// (`[stage.files]`), read into wasp's memory once per version and
    /// copied into an instance when it reads them. 64 MiB holds a random
    /// forest of a few hundred deep trees as JSON.
    pub files_mib: u64,
}

/// Which clocks a plugin is granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClockGrant {
    /// The wall clock at the Unix epoch, the monotonic clock at one second.
    #[default]
    Frozen,
    /// The host's wall and monotonic clocks.
    Real,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_mib: 256,
            deadline_ms: 5_000,
            fuel: None,
            recycle_after_calls: None,
            state_mib: 64,
            log_lines_per_second: 1_000,
            clock: ClockGrant::Frozen,
            files_mib: 64,
        }
    }
}

impl Limits {
    /// The memory cap in bytes.
    pub fn memory_bytes(&self) -> usize {
        usize::try_from(self.memory_mib.saturating_mul(1 << 20)).unwrap_or(usize::MAX)
    }

    /// The state quota in bytes.
    pub fn state_bytes(&self) -> usize {
        usize::try_from(self.state_mib.saturating_mul(1 << 20)).unwrap_or(usize::MAX)
    }

    /// The size limit of the stage's files in bytes.
    pub fn files_bytes(&self) -> usize {
        usize::try_from(self.files_mib.saturating_mul(1 << 20)).unwrap_or(usize::MAX)
    }

    /// The CPU budget per call.
    pub fn deadline(&self) -> Duration {
        Duration::from_millis(self.deadline_ms)
    }
}

/// Enforces the memory cap and remembers that it was hit, so a trap can be
/// reported as "memory limit" rather than a generic failure.
///
/// The cap is on the sum of every linear memory of the store: a component
/// may define several memories, and each must not get a cap of its own.
#[derive(Debug)]
pub struct MemoryLimiter {
    cap: usize,
    /// Bytes granted to all memories of the store so far.
    used: usize,
    /// Elements granted to all tables of the store so far.
    table_elements: usize,
    /// Set when a grow beyond the cap was refused.
    pub hit: bool,
}

impl MemoryLimiter {
    /// A limiter with `cap` bytes for all memories of the instance.
    pub fn new(cap: usize) -> Self {
        MemoryLimiter { cap, used: 0, table_elements: 0, hit: false }
    }

    /// Bytes of linear memory granted to the store's memories so far.
    pub fn memory_bytes(&self) -> usize {
        self.used
    }

    /// Elements granted to the store's tables so far.
    pub fn table_elements(&self) -> usize {
        self.table_elements
    }
}

impl wasmtime::ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // Called with `current` 0 when a memory is created, so `used`
        // counts every memory from its first page. A grow that fails after
        // being granted stays counted: that errs on the safe side.
        let total = self.used.saturating_sub(current).saturating_add(desired);
        if total > self.cap {
            self.hit = true;
            return Ok(false);
        }
        self.used = total;
        Ok(true)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // Tables hold function references; a million is far beyond any
        // real plugin and bounds the host memory they can take.
        if desired > 1_000_000 {
            return Ok(false);
        }
        // Counted like memories (from 0 at creation), for the footprint.
        self.table_elements = self.table_elements.saturating_sub(current).saturating_add(desired);
        Ok(true)
    }
}
