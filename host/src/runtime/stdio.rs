//! A plugin's WASI stdout and stderr, forwarded line by line into wasp's
//! log under the plugin's `stage/plugin` label.
//!
//! Runtimes that import WASI (Python, C with wasi-libc, Go) print there:
//! `print()` debugging works, and a runtime's own error messages (a Python
//! traceback before a trap) are not lost. Lines are cut at
//! [`MAX_LINE`] bytes so a plugin cannot flood the log with one line, and
//! count against the instance's [`LogBudget`] so it cannot flood it with
//! many.

use super::logbudget::LogBudget;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};

/// Longest line kept; the rest of a longer line is dropped.
pub const MAX_LINE: usize = 4096;

/// Which of the two streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Logged at `info`.
    Stdout,
    /// Logged at `warn`: runtimes print errors there.
    Stderr,
}

impl Stream {
    fn name(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// A [`StdoutStream`] whose writes become log lines.
///
/// Every stream the guest opens on it shares one line buffer: runtimes
/// (and the WASI adapter) may open a new stream per write, so a line can
/// arrive in pieces over several streams.
#[derive(Clone)]
pub struct PluginOutput {
    line: Arc<Mutex<LineWriter>>,
}

impl PluginOutput {
    /// Output of the plugin labelled `label` (e.g. `enrich/enrich-js`).
    pub fn new(label: Arc<str>, stream: Stream, budget: LogBudget) -> Self {
        let writer = LineWriter { label, stream, budget, line: Vec::new(), cut: false };
        PluginOutput { line: Arc::new(Mutex::new(writer)) }
    }
}

impl IsTerminal for PluginOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for PluginOutput {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(SharedWriter(self.line.clone()))
    }
}

/// One guest stream: its writes go to the shared line buffer.
struct SharedWriter(Arc<Mutex<LineWriter>>);

impl AsyncWrite for SharedWriter {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        // A flush is not a line end: `print("a", end="")` then `print("b")`
        // is one line.
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Splits written bytes into lines and logs each complete one; a partial
/// last line is logged when the last stream and the instance's WASI
/// context are gone.
struct LineWriter {
    label: Arc<str>,
    stream: Stream,
    budget: LogBudget,
    line: Vec<u8>,
    /// The current line went past [`MAX_LINE`]; its rest is dropped.
    cut: bool,
}

impl LineWriter {
    fn emit(&mut self) {
        if !self.budget.allow() {
            self.line.clear();
            self.cut = false;
            return;
        }
        let text = String::from_utf8_lossy(&self.line);
        let text = text.trim_end_matches('\r');
        let (plugin, stream) = (&*self.label, self.stream.name());
        let suffix = if self.cut { "… (cut)" } else { "" };
        match self.stream {
            Stream::Stdout => tracing::info!(plugin, stream, "{text}{suffix}"),
            Stream::Stderr => tracing::warn!(plugin, stream, "{text}{suffix}"),
        }
        self.line.clear();
        self.cut = false;
    }

    fn push(&mut self, mut buf: &[u8]) {
        while let Some(nl) = buf.iter().position(|&b| b == b'\n') {
            self.append(&buf[..nl]);
            self.emit();
            buf = &buf[nl + 1..];
        }
        self.append(buf);
    }

    fn append(&mut self, part: &[u8]) {
        let room = MAX_LINE.saturating_sub(self.line.len());
        if part.len() > room {
            self.cut = true;
        }
        self.line.extend_from_slice(&part[..part.len().min(room)]);
    }
}

impl Drop for LineWriter {
    fn drop(&mut self) {
        if !self.line.is_empty() || self.cut {
            self.emit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn writer() -> LineWriter {
        let budget = LogBudget::new(1000, "s/p".into(), Default::default());
        LineWriter {
            label: "s/p".into(),
            stream: Stream::Stdout,
            budget,
            line: Vec::new(),
            cut: false,
        }
    }

    #[test]
    fn splits_lines_and_keeps_partial_ones() {
        let mut w = writer();
        w.push(b"one\ntw");
        assert!(w.line == b"tw");
        w.push(b"o\nthree");
        assert_eq!(w.line, b"three");
    }

    #[test]
    fn cuts_long_lines() {
        let mut w = writer();
        w.push(&vec![b'x'; MAX_LINE + 10]);
        assert_eq!(w.line.len(), MAX_LINE);
        assert!(w.cut);
        w.push(b"\nnext");
        assert_eq!(w.line, b"next");
        assert!(!w.cut);
    }
}
