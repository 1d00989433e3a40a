//! How each table destination is doing: rows stored and refused, failed
//! attempts, and whether the database is unreachable right now. Written by
//! the table sink, read by the progress line, the final summary and the
//! metrics endpoint, so an outage is visible without reading the log.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The health of one destination (`tables.NAME`).
#[derive(Debug)]
pub struct SinkHealth {
    name: String,
    stored: AtomicU64,
    refused: AtomicU64,
    retries: AtomicU64,
    outage: Mutex<Option<Outage>>,
}

#[derive(Debug, Clone)]
struct Outage {
    since: Instant,
    reason: String,
}

/// An ongoing outage, as shown.
#[derive(Debug, Clone, PartialEq)]
pub struct Down {
    /// How long the destination has been unreachable.
    pub for_: Duration,
    /// The last failure, as the client or server said it.
    pub reason: String,
}

impl SinkHealth {
    /// A destination with nothing written yet; `name` as in metrics labels.
    pub fn new(name: impl Into<String>) -> Self {
        SinkHealth {
            name: name.into(),
            stored: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            retries: AtomicU64::new(0),
            outage: Mutex::new(None),
        }
    }

    /// The destination's name (`tables.NAME`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A write went through: `stored` rows taken, `refused` refused by the
    /// database. Ends an outage.
    pub fn written(&self, stored: u64, refused: u64) {
        self.stored.fetch_add(stored, Ordering::Relaxed);
        self.refused.fetch_add(refused, Ordering::Relaxed);
        *self.outage.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// A write failed for a reason that is not the rows' (the database is
    /// unreachable); it will be retried.
    pub fn failed(&self, reason: &str) {
        self.retries.fetch_add(1, Ordering::Relaxed);
        let mut o = self.outage.lock().unwrap_or_else(|p| p.into_inner());
        let since = o.as_ref().map_or_else(Instant::now, |o| o.since);
        *o = Some(Outage { since, reason: reason.to_string() });
    }

    /// Rows the database took (or already had under the conflict key).
    pub fn stored(&self) -> u64 {
        self.stored.load(Ordering::Relaxed)
    }

    /// Rows the database refused (their inputs were dead-lettered).
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// Failed write attempts, each retried.
    pub fn retries(&self) -> u64 {
        self.retries.load(Ordering::Relaxed)
    }

    /// The ongoing outage, if the last attempt failed.
    pub fn down(&self) -> Option<Down> {
        let o = self.outage.lock().unwrap_or_else(|p| p.into_inner());
        o.as_ref().map(|o| Down { for_: o.since.elapsed(), reason: o.reason.clone() })
    }

    /// For the progress line: empty while the destination is fine.
    pub fn alarm(&self) -> Option<String> {
        self.down().map(|d| {
            format!(
                "{} UNAVAILABLE for {}s ({} retries, last: {})",
                self.name,
                d.for_.as_secs(),
                self.retries(),
                d.reason
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outage_lasts_from_the_first_failure_to_the_next_write() {
        let h = SinkHealth::new("tables.events");
        assert_eq!(h.alarm(), None);
        h.failed("connection refused");
        std::thread::sleep(Duration::from_millis(20));
        h.failed("the database system is starting up");
        let d = h.down().unwrap();
        assert!(d.for_ >= Duration::from_millis(20), "{d:?}");
        assert_eq!(d.reason, "the database system is starting up");
        assert_eq!(
            h.alarm().unwrap(),
            "tables.events UNAVAILABLE for 0s (2 retries, last: the database system is starting up)"
        );
        h.written(10, 1);
        assert_eq!((h.down(), h.stored(), h.refused(), h.retries()), (None, 10, 1, 2));
    }
}
