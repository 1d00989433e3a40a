//! From a batch's outcomes to its sinks: route, begin the inputs in the
//! offset tracker, hand each record to the sink of its destination, and
//! dead-letter the input of a record a destination refused.

use super::route::{records_per_input, route};
use super::{BatchAcks, Outgoing, Sink};
use crate::kafka::stats::RunStats;
use crate::offsets::OffsetTracker;
use crate::pipeline::{Failure, Outcome};
use crate::record::Record;
use crate::router::{Destination, Router};
use std::sync::{Arc, Weak};
use std::time::Instant;

/// The router and the sinks of a run.
pub struct Dispatcher {
    router: Router,
    /// In delivery order: a batch's records go to the first sink, then the
    /// next, so rows a database must take come before the Kafka records.
    sinks: Vec<Arc<dyn Sink>>,
    /// Index of the sink of Kafka topics (and dead letters).
    topics: usize,
    /// Index of the sink of tables.
    tables: usize,
    stats: Arc<RunStats>,
    me: Weak<Dispatcher>,
}

impl Dispatcher {
    /// `topics` delivers Kafka topics and dead letters; `tables`, when the
    /// pipeline has tables, delivers those, before each batch's topics.
    pub fn new(
        router: Router,
        topics: Arc<dyn Sink>,
        tables: Option<Arc<dyn Sink>>,
        stats: Arc<RunStats>,
    ) -> Arc<Self> {
        let (sinks, topics_at, tables_at) = match tables {
            Some(t) => (vec![t, topics], 1, 0),
            None => (vec![topics], 0, 0),
        };
        Arc::new_cyclic(|me| Dispatcher {
            router,
            sinks,
            topics: topics_at,
            tables: tables_at,
            stats,
            me: me.clone(),
        })
    }

    /// One sink for every destination (`wasp test`'s lines).
    pub fn single(router: Router, sink: Arc<dyn Sink>, stats: Arc<RunStats>) -> Arc<Self> {
        Self::new(router, sink, None, stats)
    }

    fn sink_of(&self, to: &Destination<'_>) -> usize {
        match to {
            Destination::Topic(_) => self.topics,
            Destination::Table(_) => self.tables,
        }
    }

    /// Deliver every outcome of a batch. The tracker learns of the inputs
    /// before any record is delivered, so no acknowledgement can come
    /// first; the batch is kept until its records are settled.
    pub fn write(
        &self,
        topic: &str,
        partition: i32,
        batch: Vec<Record>,
        outcomes: &[Outcome],
        tracker: &Arc<OffsetTracker>,
    ) {
        let inputs = records_per_input(&batch, outcomes);
        tracker.begin(&inputs);
        let dropped = inputs.iter().filter(|&&(_, n)| n == 0).count() as u64;
        let processed = batch.len() as u64;
        let acks = Arc::new(BatchAcks::new(
            self.me.clone(),
            tracker.clone(),
            (topic, partition),
            batch,
            inputs,
        ));
        let mut per_sink: Vec<Vec<Outgoing<'_>>> = self.sinks.iter().map(|_| Vec::new()).collect();
        for r in route(&self.router, &acks.batch, outcomes) {
            per_sink[self.sink_of(&r.to)].push(r);
        }
        for (sink, records) in self.sinks.iter().zip(per_sink) {
            if acks.has_failed() {
                // Lost (the run is stopping while a database is down): none
                // of the batch is committed, so nothing more is written.
                break;
            }
            sink.deliver(&acks, records);
        }
        if dropped > 0 {
            RunStats::inc(&self.stats.dropped, dropped);
        }
        RunStats::inc(&self.stats.processed, processed);
    }

    /// A record of input `input` was refused for good: dead-letter the
    /// input with `failure`, once per input; a refused dead letter stops
    /// the run, with nothing committed from its input on.
    pub(crate) fn refused(
        &self,
        acks: &Arc<BatchAcks>,
        input: u32,
        dead_letter: bool,
        failure: Failure,
    ) {
        let offset = acks.record(input).offset;
        if dead_letter {
            RunStats::inc(&self.stats.delivery_failed, 1);
            let topic = self.router.dead_letter();
            acks.lost(topic, &format!("a dead letter was refused ({})", failure.reason));
            self.stats.set_fatal(format!(
                "the dead-letter topic {topic} refused the record from {}/{} at offset {offset} \
                 ({}); stopping, with nothing committed from that offset on. Make the \
                 dead-letter topic accept it (for instance raise message.max.bytes on the \
                 topic and in [kafka.producer]) and run again",
                acks.topic, acks.partition, failure.reason
            ));
            return;
        }
        if acks.first_refusal(input) {
            tracing::warn!(
                "dead-lettering the input {}/{} offset {offset}: {}",
                acks.topic,
                acks.partition,
                failure.reason
            );
            acks.expect_one_more();
            let dl = Outgoing::dead_letter(&self.router, input, acks.record(input), failure);
            self.sinks[self.sink_of(&dl.to)].deliver(acks, vec![dl]);
        }
        acks.delivered(1);
    }

    /// The run is ending: no sink waits any longer for a destination that is down.
    pub fn stop_retrying(&self) {
        for s in &self.sinks {
            s.stop_retrying();
        }
    }

    /// Wait up to `deadline` for every sink's deliveries; false if some
    /// are still outstanding.
    pub fn flush(&self, deadline: Instant) -> bool {
        let mut all = true;
        for s in &self.sinks {
            all &= s.flush(deadline);
        }
        all
    }
}
