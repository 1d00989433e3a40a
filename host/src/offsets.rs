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
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
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

    /// Keep `offset` (and every input after it) uncommitted until the
    /// returned [`Hold`] and all its clones are dropped: what a batch wrote
    /// to the state changelog must be acknowledged before the inputs that
    /// caused it are committed. Take it before the batch is begun.
    pub fn hold(self: &Arc<Self>, offset: i64) -> Arc<Hold> {
        *self.lock().pending.entry(offset).or_default() += 1;
        Arc::new(Hold { tracker: self.clone(), offset, failed: AtomicBool::new(false) })
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

/// An input offset held uncommitted while what its batch wrote elsewhere
/// (state changelog records) is in flight; released when the last clone
/// is dropped, unless a write failed for good.
#[derive(Debug)]
pub struct Hold {
    tracker: Arc<OffsetTracker>,
    offset: i64,
    failed: AtomicBool,
}

impl Hold {
    /// A write this hold waits for is lost: the offset stays uncommitted.
    pub fn fail(&self) {
        if !self.failed.swap(true, Ordering::AcqRel) {
            self.tracker.fail();
        }
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        if !self.failed.load(Ordering::Acquire) {
            self.tracker.ack(&[(self.offset, 1)]);
        }
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
    fn a_hold_keeps_its_batch_uncommitted_until_every_clone_is_dropped() {
        let t = Arc::new(OffsetTracker::default());
        let hold = t.hold(7);
        t.begin(&[(7, 0), (8, 0)]);
        assert_eq!(t.committable(), Some(7));
        let in_flight = hold.clone();
        drop(hold);
        assert_eq!(t.committable(), Some(7), "a clone is still in flight");
        drop(in_flight);
        assert_eq!(t.committable(), Some(9));
        let failed = t.hold(9);
        t.begin(&[(9, 0)]);
        failed.fail();
        drop(failed);
        assert_eq!(t.committable(), Some(9), "a failed write keeps its input uncommitted");
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
