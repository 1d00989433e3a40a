//! The circuit breaker of a stage version: a streak of failed records
//! disables it, by its `[stage.faults]` policy.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

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

    pub(crate) fn succeeded(&self) {
        // A load first: the common case writes nothing to the shared line.
        if self.failures_in_row.load(Ordering::Relaxed) != 0 {
            self.failures_in_row.store(0, Ordering::Relaxed);
        }
    }

    /// One more failure; the length of the streak.
    pub(crate) fn failed(&self) -> u64 {
        self.failures_in_row.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Disable with `reason`; false when it already was.
    pub(crate) fn disable(&self, reason: String) -> bool {
        let mut r = self.reason.lock().unwrap_or_else(|p| p.into_inner());
        if r.is_some() {
            return false;
        }
        *r = Some(reason);
        self.disabled.store(true, Ordering::Release);
        true
    }
}
