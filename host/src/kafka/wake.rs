//! Wakes the poll loop when it has something to do: records arrived in a
//! librdkafka queue (its non-empty callback), or a worker took records and
//! so has room for more. The loop sleeps on it instead of on a timeout, so
//! neither a record nor a free worker waits for the next tick.

use std::sync::{Condvar, Mutex};
use std::time::Duration;

/// A latch that stays set until the waiter takes it: a notification sent
/// while the loop is busy is seen by its next wait, never lost.
#[derive(Debug, Default)]
pub struct Wake {
    set: Mutex<bool>,
    cv: Condvar,
}

impl Wake {
    /// There is something to do.
    pub fn notify(&self) {
        let mut set = self.set.lock().unwrap_or_else(|p| p.into_inner());
        if !*set {
            *set = true;
            self.cv.notify_one();
        }
    }

    /// Wait until notified (or `timeout` passed), then clear the latch.
    pub fn wait(&self, timeout: Duration) {
        let set = self.set.lock().unwrap_or_else(|p| p.into_inner());
        let (mut set, _) =
            self.cv.wait_timeout_while(set, timeout, |s| !*s).unwrap_or_else(|p| p.into_inner());
        *set = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Instant;

    #[test]
    fn a_notification_before_the_wait_is_not_lost() {
        let w = Wake::default();
        w.notify();
        let t = Instant::now();
        w.wait(Duration::from_secs(5));
        assert!(t.elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn a_waiter_is_woken_by_another_thread() {
        let w = Arc::new(Wake::default());
        let w2 = w.clone();
        let t = Instant::now();
        let h = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            w2.notify();
        });
        w.wait(Duration::from_secs(5));
        assert!(t.elapsed() < Duration::from_secs(1));
        h.join().unwrap();
    }

    #[test]
    fn without_a_notification_the_wait_ends_at_its_timeout() {
        let w = Wake::default();
        let t = Instant::now();
        w.wait(Duration::from_millis(30));
        assert!(t.elapsed() >= Duration::from_millis(30));
    }
}
