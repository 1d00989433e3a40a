//! When a progress view redraws: every second on a terminal (in place),
//! every 10 s as log lines otherwise. Shared by `wasp run`'s progress line
//! and the block a stack of pipelines shows.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// The redraw rhythm of a progress view on stderr.
pub struct Cadence {
    /// stderr is a terminal: redraw in place.
    pub tty: bool,
    every: Duration,
    last: Instant,
}

impl Default for Cadence {
    fn default() -> Self {
        let tty = std::io::stderr().is_terminal();
        let every = if tty { Duration::from_secs(1) } else { Duration::from_secs(10) };
        Cadence { tty, every, last: Instant::now() }
    }
}

impl Cadence {
    /// When a redraw is due: the time since the previous one (the next
    /// interval starts now). `None` while it is not.
    pub fn due(&mut self) -> Option<Duration> {
        let since = self.last.elapsed();
        if since < self.every {
            return None;
        }
        self.last = Instant::now();
        Some(since)
    }
}
