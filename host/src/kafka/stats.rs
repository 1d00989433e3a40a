//! Process-wide counters of a Kafka run, for the progress line, the final
//! summary and `--max-records`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

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

    /// One line: counts per destination.
    pub fn line(&self) -> String {
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

/// The process's peak resident memory (`VmHWM` of `/proc/self/status`) in
/// MiB, rounded up; `None` where procfs is missing. Printed in the final
/// summary so a run shows what hostile plugins cost the host at most.
pub fn peak_rss_mib() -> Option<u64> {
    Some(crate::procfs::kib("/proc/self/status", "VmHWM:")?.div_ceil(1024))
}
