//! One worker per assigned partition: it owns its own plugin instances,
//! batches the partition's records in order, runs the pipeline and hands
//! the outcomes to the sink. Wasm calls are CPU-bound and synchronous, so
//! workers are plain threads, never tasks on an async reactor.

use super::sink::Sink;
use super::stats::RunStats;
use crate::config::BatchConfig;
use crate::offsets::OffsetTracker;
use crate::pipeline::Pipeline;
use crate::runtime::bindings::{BatchInfo, Message};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What a partition's records are for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Input records: `process`.
    Process,
    /// Corrections: `learn`.
    Learn,
}

/// Messages to a worker.
pub enum Command {
    /// Records of the worker's partition, in offset order. The source hands
    /// them over in chunks: one channel operation (and at most one wake-up)
    /// per chunk instead of per record.
    Records(Vec<Message>),
    /// Finish what was received, then exit.
    Stop,
}

/// What the source keeps of a running worker.
pub struct WorkerHandle {
    /// Send records and the stop command.
    pub tx: SyncSender<Command>,
    /// The partition's offsets.
    pub tracker: Arc<OffsetTracker>,
    thread: Option<JoinHandle<()>>,
}

/// Everything a worker shares with the others.
#[derive(Clone)]
pub struct WorkerShared {
    /// The loaded pipeline.
    pub pipeline: Arc<Pipeline>,
    /// The producer.
    pub sink: Arc<Sink>,
    /// Batching.
    pub batch: BatchConfig,
    /// Counters.
    pub stats: Arc<RunStats>,
}

impl WorkerHandle {
    /// Start a worker thread for `topic`/`partition`.
    pub fn spawn(shared: WorkerShared, topic: String, partition: i32, mode: Mode) -> Self {
        // Room for a few batches keeps the worker busy while the source
        // polls, and bounds memory when the worker is slower than Kafka:
        // a chunk holds at most `max_records` records.
        let (tx, rx) = sync_channel(CHUNKS_QUEUED);
        let tracker = Arc::new(OffsetTracker::default());
        let t = tracker.clone();
        let thread = std::thread::Builder::new()
            .name(format!("wasp-{topic}-{partition}"))
            .spawn(move || run(shared, BatchInfo { topic, partition }, mode, rx, t))
            .expect("spawning a partition worker");
        WorkerHandle { tx, tracker, thread: Some(thread) }
    }

    /// Ask the worker to finish what it received, and wait for it.
    pub fn stop(mut self) {
        let _ = self.tx.send(Command::Stop);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Chunks a worker's channel holds before the source waits.
const CHUNKS_QUEUED: usize = 4;

fn run(
    shared: WorkerShared,
    info: BatchInfo,
    mode: Mode,
    rx: Receiver<Command>,
    tracker: Arc<OffsetTracker>,
) {
    let mut pipeline = match shared.pipeline.instantiate() {
        Ok(p) => p,
        Err(e) => {
            return shared.stats.set_fatal(format!(
                "cannot start the pipeline for {}/{}: {e}",
                info.topic, info.partition
            ))
        }
    };
    pipeline.set_partition(&info.topic, info.partition);
    let max = shared.batch.max_records.max(1);
    let linger = Duration::from_millis(shared.batch.linger_ms);
    let mut batch: Vec<Message> = Vec::with_capacity(max);
    let mut stopping = false;
    while !stopping {
        // Block for the first records (unless some are left over from the
        // last round), then linger to fill the batch.
        if batch.is_empty() {
            match rx.recv_timeout(Duration::from_millis(200)) {
                Ok(Command::Records(ms)) => batch.extend(ms),
                Ok(Command::Stop) | Err(RecvTimeoutError::Disconnected) => stopping = true,
                Err(RecvTimeoutError::Timeout) => continue,
            }
        }
        let deadline = Instant::now() + linger;
        while !stopping && batch.len() < max {
            let wait = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(wait) {
                Ok(Command::Records(ms)) => batch.extend(ms),
                Ok(Command::Stop) | Err(RecvTimeoutError::Disconnected) => stopping = true,
                Err(RecvTimeoutError::Timeout) => break,
            }
        }
        if stopping {
            // Records already received are processed, not dropped: their
            // offsets come before the one committed at hand-over.
            while let Ok(Command::Records(ms)) = rx.try_recv() {
                batch.extend(ms);
            }
        }
        // A chunk may overfill the batch: full batches go now, and the rest
        // starts the next one (unless the linger ran out or we stop).
        let full =
            if stopping || batch.len() < max { batch.len() } else { batch.len() / max * max };
        let rest = batch.split_off(full);
        for chunk in batch.chunks(max) {
            #[cfg(debug_assertions)]
            debug_panic(chunk);
            let outcomes = match mode {
                Mode::Process => pipeline.process(&info, chunk),
                Mode::Learn => pipeline.learn(&info, chunk),
            };
            if let Some(reason) = pipeline.stop_reason() {
                // A stage is disabled and its policy is to stop: nothing of
                // this batch is written, so its offsets are never committed
                // and the records are processed again after the fix.
                return shared.stats.set_fatal(reason);
            }
            shared.sink.write(&info.topic, info.partition, chunk, &outcomes, &tracker);
        }
        batch.clear();
        batch.extend(rest);
    }
}

/// Debug builds only: panic when a batch holds the offset named by
/// `WASP_DEBUG_PANIC_AT_OFFSET`, so the tests can show what a bug in a
/// worker does to the run. Release builds have no such hook.
#[cfg(debug_assertions)]
fn debug_panic(chunk: &[Message]) {
    static AT: std::sync::OnceLock<Option<i64>> = std::sync::OnceLock::new();
    let at = AT.get_or_init(|| std::env::var("WASP_DEBUG_PANIC_AT_OFFSET").ok()?.parse().ok());
    if let Some(at) = at.filter(|at| chunk.iter().any(|m| m.offset == *at)) {
        panic!("WASP_DEBUG_PANIC_AT_OFFSET: a worker panics at offset {at}");
    }
}
