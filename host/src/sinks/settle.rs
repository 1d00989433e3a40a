//! A batch's records in flight, over every sink they went to: the batch's
//! inputs are acknowledged to the offset tracker together when its last
//! record is settled, so the tracker's lock is taken once per batch, not
//! once per record.

use super::Dispatcher;
use crate::offsets::OffsetTracker;
use crate::pipeline::Failure;
use crate::record::Record;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};

/// What the sinks delivering one batch share.
pub struct BatchAcks {
    tracker: Arc<OffsetTracker>,
    /// Where the inputs came from.
    pub topic: String,
    /// Their partition.
    pub partition: i32,
    /// The inputs, kept until their records are settled so that one whose
    /// output is refused can be dead-lettered as it came.
    pub batch: Vec<Record>,
    /// (input offset, records it produced), in offset order.
    inputs: Vec<(i64, u32)>,
    /// Records of the batch not yet settled.
    remaining: AtomicUsize,
    /// A record of the batch was lost: its inputs are never acknowledged.
    failed: AtomicBool,
    /// Inputs already dead-lettered because an output was refused.
    redirected: Mutex<Vec<u32>>,
    /// Where a refused record's input is dead-lettered.
    dispatcher: Weak<Dispatcher>,
}

impl BatchAcks {
    /// A batch whose inputs, as (offset, records), were begun in `tracker`.
    pub(crate) fn new(
        dispatcher: Weak<Dispatcher>,
        tracker: Arc<OffsetTracker>,
        (topic, partition): (&str, i32),
        batch: Vec<Record>,
        inputs: Vec<(i64, u32)>,
    ) -> Self {
        let total = inputs.iter().map(|&(_, n)| n as usize).sum();
        BatchAcks {
            tracker,
            topic: topic.to_string(),
            partition,
            batch,
            inputs,
            remaining: AtomicUsize::new(total),
            failed: AtomicBool::new(false),
            redirected: Mutex::new(Vec::new()),
            dispatcher,
        }
    }

    /// (input offset, records it produced), in offset order; 0 records
    /// means the input was dropped.
    pub fn inputs(&self) -> &[(i64, u32)] {
        &self.inputs
    }

    /// The input record at `input`.
    pub fn record(&self, input: u32) -> &Record {
        &self.batch[input as usize]
    }

    /// `n` of the batch's records were delivered (or replaced by another).
    pub fn delivered(&self, n: usize) {
        if n > 0
            && self.remaining.fetch_sub(n, Ordering::AcqRel) == n
            && !self.failed.load(Ordering::Acquire)
        {
            self.tracker.ack(&self.inputs);
        }
    }

    /// One of the batch's records, bound for `destination`, is lost; `what`
    /// says how, for the log. None of the batch's inputs is committed.
    pub fn lost(&self, destination: &str, what: &str) {
        self.failed.store(true, Ordering::Release);
        self.tracker.fail();
        let (first, last) = (self.inputs.first().map(|i| i.0), self.inputs.last().map(|i| i.0));
        tracing::error!(
            destination,
            "{what}; the input offsets {first:?}..={last:?} of its batch will not be committed \
             and are processed again after a restart"
        );
    }

    /// Whether a record of the batch was lost.
    pub fn has_failed(&self) -> bool {
        self.failed.load(Ordering::Acquire)
    }

    /// A record of input `input` was refused for good by its destination:
    /// dead-letter the input with `failure`, once (a refused dead letter,
    /// `dead_letter`, stops the run instead). Settles the refused record.
    pub fn refused(self: &Arc<Self>, input: u32, dead_letter: bool, failure: Failure) {
        match self.dispatcher.upgrade() {
            Some(d) => d.refused(self, input, dead_letter, failure),
            None => self.lost(&self.topic, "a record was refused while the run was stopping"),
        }
    }

    /// True the first time input `input` is to be dead-lettered for a refusal.
    pub(crate) fn first_refusal(&self, input: u32) -> bool {
        let mut r = self.redirected.lock().unwrap_or_else(|p| p.into_inner());
        let first = !r.contains(&input);
        if first {
            r.push(input);
        }
        first
    }

    /// One more record joins the batch (a dead letter replacing a refused
    /// record), before that one is settled, so the batch cannot complete
    /// in between.
    pub(crate) fn expect_one_more(&self) {
        self.remaining.fetch_add(1, Ordering::AcqRel);
    }
}
