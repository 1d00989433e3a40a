//! Process-wide counters of a Kafka run, for the progress line, the final
//! summary, `--max-records` and the metrics endpoint (`crate::telemetry`).

use crate::sinks::health::SinkHealth;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// What librdkafka's statistics last said about one assigned partition.
#[derive(Debug, Clone, PartialEq)]
pub struct PartitionStat {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// Records behind the partition's end (-1: unknown).
    pub lag: i64,
    /// The group's committed offset (negative: none yet).
    pub committed_offset: i64,
}

/// One dead letter, as the status page lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetterNote {
    /// The stage that failed the record.
    pub stage: String,
    /// What went wrong (rejected, trap, timeout, routing, ...).
    pub kind: String,
    /// Why, in words.
    pub reason: String,
    /// Where the input came from.
    pub topic: String,
    /// Its partition.
    pub partition: i32,
    /// Its offset.
    pub offset: i64,
}

/// Dead letters the status page keeps, newest last.
pub const RECENT_DEAD_LETTERS: usize = 20;

/// Batch durations: buckets from 0.5 ms doubling to about 16 s.
#[derive(Debug, Clone)]
pub struct BatchSeconds(pub Histogram);

impl Default for BatchSeconds {
    fn default() -> Self {
        BatchSeconds(Histogram::new(exponential_buckets(0.0005, 2.0, 16)))
    }
}

impl BatchSeconds {
    /// Count one batch that took `d`.
    pub fn observe(&self, d: std::time::Duration) {
        self.0.observe(d.as_secs_f64());
    }
}

/// Counters shared by the source, the workers and the sink.
#[derive(Debug, Default)]
pub struct RunStats {
    /// Input records handed to workers.
    pub records_in: AtomicU64,
    /// Input records fully processed by the pipeline.
    pub processed: AtomicU64,
    /// Records written to the output topic.
    pub output: AtomicU64,
    /// Records written to the feedback topic.
    pub feedback: AtomicU64,
    /// Records written to allow-listed named topics.
    pub named: AtomicU64,
    /// Records written to the dead-letter topic.
    pub dead_letter: AtomicU64,
    /// Input records that produced nothing.
    pub dropped: AtomicU64,
    /// Records acknowledged by the broker.
    pub delivered: AtomicU64,
    /// Records whose delivery failed for good.
    pub delivery_failed: AtomicU64,
    /// How long each batch took in the pipeline.
    pub batch_seconds: BatchSeconds,
    partitions: Mutex<Vec<PartitionStat>>,
    sinks: Mutex<Vec<Arc<SinkHealth>>>,
    recent_dead_letters: Mutex<std::collections::VecDeque<DeadLetterNote>>,
    fatal: Mutex<Option<String>>,
}

impl RunStats {
    /// Add one to a counter.
    pub fn inc(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Read a counter.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    /// Record an error that must stop the run (the first one wins).
    pub fn set_fatal(&self, message: String) {
        let mut f = self.fatal.lock().unwrap_or_else(|p| p.into_inner());
        if f.is_none() {
            tracing::error!("{message}");
            *f = Some(message);
        }
    }

    /// The error that stops the run, if any.
    pub fn fatal(&self) -> Option<String> {
        self.fatal.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Keep the latest per-partition figures (from librdkafka's statistics).
    pub fn set_partitions(&self, partitions: Vec<PartitionStat>) {
        *self.partitions.lock().unwrap_or_else(|p| p.into_inner()) = partitions;
    }

    /// The latest per-partition figures.
    pub fn partitions(&self) -> Vec<PartitionStat> {
        self.partitions.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Keep `note` among the [`RECENT_DEAD_LETTERS`] latest dead letters.
    pub fn note_dead_letter(&self, note: DeadLetterNote) {
        let mut q = self.recent_dead_letters.lock().unwrap_or_else(|p| p.into_inner());
        if q.len() == RECENT_DEAD_LETTERS {
            q.pop_front();
        }
        q.push_back(note);
    }

    /// The latest dead letters, oldest first.
    pub fn recent_dead_letters(&self) -> Vec<DeadLetterNote> {
        self.recent_dead_letters.lock().unwrap_or_else(|p| p.into_inner()).iter().cloned().collect()
    }

    /// Follow a destination other than Kafka (a table).
    pub fn register_sink(&self, health: Arc<SinkHealth>) {
        self.sinks.lock().unwrap_or_else(|p| p.into_inner()).push(health);
    }

    /// The destinations other than Kafka, in registration order.
    pub fn sinks(&self) -> Vec<Arc<SinkHealth>> {
        self.sinks.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// One line: counts per destination, then each unreachable table.
    pub fn line(&self) -> String {
        let mut line = self.counts();
        for alarm in self.sinks().iter().filter_map(|s| s.alarm()) {
            line.push_str(" | ");
            line.push_str(&alarm);
        }
        line
    }

    fn counts(&self) -> String {
        format!(
            "in={} processed={} output={} feedback={} named={} dead_letter={} dropped={} delivered={} delivery_failed={}",
            Self::get(&self.records_in),
            Self::get(&self.processed),
            Self::get(&self.output),
            Self::get(&self.feedback),
            Self::get(&self.named),
            Self::get(&self.dead_letter),
            Self::get(&self.dropped),
            Self::get(&self.delivered),
            Self::get(&self.delivery_failed),
        )
    }
}

/// Each assigned partition's lag and committed offset from librdkafka's
/// statistics (partition -1 is librdkafka's internal one).
pub fn partition_stats(statistics: &rdkafka::Statistics) -> Vec<PartitionStat> {
    let mut out: Vec<PartitionStat> = statistics
        .topics
        .iter()
        .flat_map(|(topic, t)| {
            t.partitions.iter().filter(|(id, _)| **id >= 0).map(move |(id, p)| PartitionStat {
                topic: topic.clone(),
                partition: *id,
                lag: p.consumer_lag,
                committed_offset: p.committed_offset,
            })
        })
        .collect();
    out.sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
    out
}

/// The process's peak resident memory (`VmHWM` of `/proc/self/status`) in
/// MiB, rounded up; `None` where procfs is missing. Printed in the final
/// summary so a run shows what hostile plugins cost the host at most.
pub fn peak_rss_mib() -> Option<u64> {
    Some(crate::procfs::kib("/proc/self/status", "VmHWM:")?.div_ceil(1024))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_shows_an_unreachable_table_until_it_takes_rows_again() {
        let stats = RunStats::default();
        let events = Arc::new(SinkHealth::new("tables.events"));
        stats.register_sink(events.clone());
        stats.register_sink(Arc::new(SinkHealth::new("tables.users")));
        assert!(!stats.line().contains('|'), "{}", stats.line());
        events.failed("connection refused");
        let line = stats.line();
        assert!(
            line.ends_with(
                " | tables.events UNAVAILABLE for 0s (1 retries, last: connection refused)"
            ),
            "{line}"
        );
        assert!(!line.contains("tables.users"), "{line}");
        events.written(3, 0);
        assert!(!stats.line().contains("UNAVAILABLE"), "{}", stats.line());
    }
}
