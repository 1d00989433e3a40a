//! At-least-once bookkeeping for one input partition.
//!
//! An input offset may be committed only when every record it produced
//! (outputs, feedback, dead letters) has been acknowledged by the broker.
//! The tracker holds, per processed input offset, how many deliveries are
//! still outstanding; the committable position is the lowest offset still
//! waiting, or the one after the last processed input when nothing waits.
//!
//! Inputs are begun and acknowledged a batch at a time: the producer's
//! delivery thread would otherwise take this lock once per record.

use std::collections::BTreeMap;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

#[derive(Debug, Default)]
struct Inner {
    /// Input offset → deliveries not yet acknowledged (always > 0).
    pending: BTreeMap<i64, u32>,
    /// The offset after the last input handed to the pipeline.
    next: Option<i64>,
    /// Records whose delivery failed for good; their inputs stay uncommitted.
    failed: u64,
}

/// Tracks one partition's inputs until their outputs are delivered.
#[derive(Debug, Default)]
pub struct OffsetTracker {
    inner: Mutex<Inner>,
    settled: Condvar,
}

impl OffsetTracker {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// These inputs, as (offset, records they produced), were processed.
    /// Inputs must be begun in offset order.
    pub fn begin(&self, inputs: &[(i64, u32)]) {
        let mut g = self.lock();
        for &(offset, deliveries) in inputs {
            if deliveries > 0 {
                *g.pending.entry(offset).or_default() += deliveries;
            }
            g.next = Some(g.next.map_or(offset + 1, |n| n.max(offset + 1)));
        }
    }

    /// Every record these inputs produced was acknowledged.
    pub fn ack(&self, inputs: &[(i64, u32)]) {
        let mut g = self.lock();
        for &(offset, delivered) in inputs {
            if let Some(n) = g.pending.get_mut(&offset) {
                *n = n.saturating_sub(delivered);
                if *n == 0 {
                    g.pending.remove(&offset);
                }
            }
        }
        if g.pending.is_empty() {
            self.settled.notify_all();
        }
    }

    /// A record could not be delivered: its inputs are never acknowledged,
    /// so they stay pending and uncommitted, and are processed again after
    /// a restart.
    pub fn fail(&self) {
        self.lock().failed += 1;
        // Nothing past the failed input can be committed: a stop waiting
        // for the partition to settle need not wait any longer.
        self.settled.notify_all();
    }

    /// Deliveries that failed for good.
    pub fn failed(&self) -> u64 {
        self.lock().failed
    }

    /// The offset to commit (the next one to consume), if anything was processed.
    pub fn committable(&self) -> Option<i64> {
        let g = self.lock();
        match g.pending.keys().next() {
            Some(&lowest) => Some(lowest),
            None => g.next,
        }
    }

    /// Deliveries still outstanding.
    pub fn outstanding(&self) -> u64 {
        self.lock().pending.values().map(|&n| u64::from(n)).sum()
    }

    /// Wait up to `timeout` for every delivery to be acknowledged, or for
    /// one to fail for good (then nothing more can be committed); true if
    /// nothing is outstanding.
    pub fn wait_settled(&self, timeout: Duration) -> bool {
        let g = self.lock();
        let (g, _) = self
            .settled
            .wait_timeout_while(g, timeout, |i| !i.pending.is_empty() && i.failed == 0)
            .unwrap_or_else(|p| p.into_inner());
        g.pending.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commits_only_past_fully_delivered_inputs() {
        let t = OffsetTracker::default();
        assert_eq!(t.committable(), None);
        t.begin(&[(10, 2), (11, 0)]);
        t.begin(&[(12, 1)]);
        assert_eq!(t.committable(), Some(10));
        t.ack(&[(12, 1)]);
        assert_eq!(t.committable(), Some(10), "a later ack does not pass an earlier pending input");
        assert_eq!(t.outstanding(), 2);
        t.ack(&[(10, 2), (11, 0)]);
        assert_eq!(t.committable(), Some(13));
        assert!(t.wait_settled(Duration::from_millis(1)));
    }

    #[test]
    fn a_failed_delivery_holds_the_position() {
        let t = OffsetTracker::default();
        t.begin(&[(5, 1)]);
        t.fail();
        t.begin(&[(6, 0)]);
        assert_eq!(t.committable(), Some(5));
        let waited = std::time::Instant::now();
        assert!(!t.wait_settled(Duration::from_secs(30)));
        assert!(waited.elapsed() < Duration::from_secs(1), "a failure ends the wait");
        assert_eq!(t.failed(), 1);
    }
}
