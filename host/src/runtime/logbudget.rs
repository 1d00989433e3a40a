//! The rate limit on what one plugin instance writes to wasp's log: its
//! `log` calls and its stdout/stderr lines share one token bucket.
//!
//! A plugin that logs per record would otherwise write as fast as it runs
//! (and, through the log's lock, slow every other worker down). Dropped
//! lines are counted, and the log says when dropping starts and how many
//! were dropped when it ends, so nothing disappears unannounced.

use crate::metrics::{StageMetrics, LOG_LINES_DROPPED};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// A shared token bucket for one instance's log lines.
#[derive(Clone)]
pub struct LogBudget {
    bucket: Arc<Mutex<Bucket>>,
    label: Arc<str>,
    metrics: Arc<StageMetrics>,
}

struct Bucket {
    per_second: f64,
    tokens: f64,
    last: Instant,
    /// Lines dropped since the last line let through.
    dropped: u64,
}

impl LogBudget {
    /// A budget of `per_second` lines a second, with bursts of as many, for
    /// the plugin labelled `label`.
    pub fn new(per_second: u32, label: Arc<str>, metrics: Arc<StageMetrics>) -> Self {
        let per_second = f64::from(per_second);
        let bucket = Bucket { per_second, tokens: per_second, last: Instant::now(), dropped: 0 };
        LogBudget { bucket: Arc::new(Mutex::new(bucket)), label, metrics }
    }

    /// Whether one more line may be written now; a refused line is counted.
    pub fn allow(&self) -> bool {
        let mut b = self.bucket.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let refill = now.duration_since(b.last).as_secs_f64() * b.per_second;
        b.tokens = (b.tokens + refill).min(b.per_second);
        b.last = now;
        let plugin = &*self.label;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            if b.dropped > 0 {
                tracing::warn!(
                    plugin,
                    dropped = b.dropped,
                    "{} plugin log lines were dropped by the rate limit",
                    b.dropped
                );
                b.dropped = 0;
            }
            return true;
        }
        if b.dropped == 0 {
            tracing::warn!(
                plugin,
                "plugin logs more than {} lines a second; dropping lines until it slows \
                 down (counter {LOG_LINES_DROPPED}; raise [stage.limits] log_lines_per_second \
                 to keep more)",
                b.per_second
            );
        }
        b.dropped += 1;
        drop(b);
        self.metrics.add(LOG_LINES_DROPPED, 1);
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lets_a_burst_through_then_drops_and_counts_the_rest() {
        let metrics = Arc::new(StageMetrics::default());
        let budget = LogBudget::new(10, "s/p".into(), metrics.clone());
        let allowed = (0..25).filter(|_| budget.allow()).count();
        // Refill during the loop is a fraction of a line at 10 lines/s.
        assert_eq!(allowed, 10);
        assert_eq!(metrics.get(LOG_LINES_DROPPED), 15);
        std::thread::sleep(std::time::Duration::from_millis(250));
        assert!(budget.allow(), "the bucket refills with time");
    }

    #[test]
    fn a_zero_budget_drops_everything() {
        let metrics = Arc::new(StageMetrics::default());
        let budget = LogBudget::new(0, "s/p".into(), metrics.clone());
        assert!(!budget.allow());
        assert_eq!(metrics.get(LOG_LINES_DROPPED), 1);
    }
}
