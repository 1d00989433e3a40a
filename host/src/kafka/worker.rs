//! One worker per assigned partition: it owns its own plugin instances,
//! batches the partition's records in order, runs the pipeline and hands
//! the outcomes to the sink. Wasm calls are CPU-bound and synchronous, so
//! workers are plain threads, never tasks on an async reactor.
//!
//! A worker that panics (a bug in wasp) stops the run with an error naming
//! its partition, instead of leaving the partition stalled. A worker that
//! does not finish by the deadline of a stop or hand-over is cancelled: it
//! writes nothing more, and what it held is processed again by the
//! partition's next owner.

use super::stats::RunStats;
use super::wake::Wake;
use crate::config::BatchConfig;
use crate::offsets::OffsetTracker;
use crate::pipeline::{Failure, Outcome, Pipeline, PipelineInstance};
use crate::record::{BatchInfo, Record};
use crate::sinks::Dispatcher;
use crate::state::keys::Part;
use crate::state::restore::restore_partition;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{
    channel, sync_channel, Receiver, RecvTimeoutError, Sender, SyncSender, TrySendError,
};
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

/// Records of a partition, in offset order, handed over together: one
/// channel operation (and at most one wake-up) per chunk, not per record.
#[derive(Default)]
pub struct Chunk {
    /// The records.
    pub records: Vec<Record>,
    /// Records that cannot reach a plugin, by offset, with the reason: they
    /// go to the dead-letter topic as they came (kind `input`).
    pub invalid: Vec<(i64, String)>,
}

impl Chunk {
    /// Add one record, with the reason it is invalid if it is.
    pub fn push(&mut self, m: Record, problem: Option<String>) {
        if let Some(p) = problem {
            self.invalid.push((m.offset, p));
        }
        self.records.push(m);
    }

    /// Records held.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// No records.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }
}

/// Records to a worker.
pub enum Command {
    /// Records of the worker's partition.
    Records(Chunk),
    /// Finish what was received, then exit.
    Stop,
}

/// What the source keeps of a running worker.
pub struct WorkerHandle {
    /// Send records and the stop command.
    pub tx: SyncSender<Command>,
    /// The partition's offsets.
    pub tracker: Arc<OffsetTracker>,
    /// Set when the worker must write nothing more and exit.
    cancel: Arc<AtomicBool>,
    /// Disconnected when the worker thread has ended.
    alive: Receiver<()>,
    thread: Option<JoinHandle<()>>,
}

/// Everything a worker shares with the others.
#[derive(Clone)]
pub struct WorkerShared {
    /// The loaded pipeline.
    pub pipeline: Arc<Pipeline>,
    /// The producer.
    pub sink: Arc<Dispatcher>,
    /// Batching.
    pub batch: BatchConfig,
    /// Counters.
    pub stats: Arc<RunStats>,
}

/// One worker's view of its partition.
struct Partition {
    info: BatchInfo,
    mode: Mode,
    tracker: Arc<OffsetTracker>,
    cancel: Arc<AtomicBool>,
    /// Told when records were taken: the channel has room again.
    wake: Arc<Wake>,
}

impl WorkerHandle {
    /// Start a worker thread for `topic`/`partition`; it wakes the poll
    /// loop through `wake` whenever it took records, so records kept for
    /// it are handed over without waiting for the loop's next tick.
    pub fn spawn(
        shared: WorkerShared,
        topic: String,
        partition: i32,
        mode: Mode,
        wake: Arc<Wake>,
    ) -> Self {
        // Room for a few chunks keeps the worker busy while the source
        // polls; when it is full the source keeps a few more and then
        // leaves the partition's queue unread (source.rs).
        let (tx, rx) = sync_channel(CHUNKS_QUEUED);
        let tracker = Arc::new(OffsetTracker::default());
        let cancel = Arc::new(AtomicBool::new(false));
        let (alive_tx, alive) = channel::<()>();
        let p = Partition {
            info: BatchInfo { topic, partition },
            mode,
            tracker: tracker.clone(),
            cancel: cancel.clone(),
            wake,
        };
        let thread = std::thread::Builder::new()
            .name(format!("wasp-{}-{partition}", p.info.topic))
            .spawn(move || guarded(&shared, &p, &rx, alive_tx))
            .expect("spawning a partition worker");
        WorkerHandle { tx, tracker, cancel, alive, thread: Some(thread) }
    }

    /// Hand over `rest`, ask the worker to finish what it received, and
    /// wait for it until `deadline`. A worker still busy then is cancelled
    /// (it writes nothing more; its records are the next owner's) and left
    /// to end by itself. True when it finished in time.
    pub fn stop(mut self, rest: impl IntoIterator<Item = Chunk>, deadline: Instant) -> bool {
        let rest = rest.into_iter().filter(|c| !c.is_empty()).map(Command::Records);
        for mut cmd in rest.chain([Command::Stop]) {
            loop {
                match self.tx.try_send(cmd) {
                    Ok(()) | Err(TrySendError::Disconnected(_)) => break,
                    Err(TrySendError::Full(back)) if Instant::now() < deadline => {
                        cmd = back;
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    Err(TrySendError::Full(_)) => return self.abandon(),
                }
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        match self.alive.recv_timeout(left) {
            Err(RecvTimeoutError::Disconnected) => {
                if let Some(t) = self.thread.take() {
                    let _ = t.join();
                }
                true
            }
            Ok(()) | Err(RecvTimeoutError::Timeout) => self.abandon(),
        }
    }

    fn abandon(mut self) -> bool {
        self.cancel.store(true, Ordering::Release);
        drop(self.thread.take());
        false
    }
}

/// Chunks a worker's channel holds before the source keeps them.
pub const CHUNKS_QUEUED: usize = 4;

/// Run the worker; a panic stops the whole run with an error naming the
/// partition (the records of the failed batch are never committed).
fn guarded(shared: &WorkerShared, p: &Partition, rx: &Receiver<Command>, _alive: Sender<()>) {
    let run = std::panic::AssertUnwindSafe(|| run(shared, p, rx));
    let result = std::panic::catch_unwind(run);
    let state = &shared.pipeline.state;
    if state.backend().is_some() && !p.cancel.load(Ordering::Acquire) {
        // The partition's state is in its changelog, and whoever owns the
        // partition next restores it from there: this process forgets it.
        state.clear_part(&Part::Partition(p.info.topic.clone(), p.info.partition));
    }
    if let Err(panic) = result {
        let what = panic
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| panic.downcast_ref::<&str>().copied())
            .unwrap_or("no message");
        shared.stats.set_fatal(format!(
            "the worker of partition {}/{} panicked ({what}); stopping, with nothing of its \
             unfinished batch committed. This is a bug in wasp: please report it with this log",
            p.info.topic, p.info.partition
        ));
    }
}

fn run(shared: &WorkerShared, p: &Partition, rx: &Receiver<Command>) {
    let info = &p.info;
    // The partition's state first, before `init` or any record sees it;
    // its records wait in the channel (and the partition pauses).
    match restore_partition(&shared.pipeline.state, &info.topic, info.partition) {
        Ok(done) if done.sets > 0 => tracing::info!(
            topic = %info.topic,
            partition = info.partition,
            sets = done.sets,
            bytes = done.bytes,
            ms = done.took.as_millis() as u64,
            "partition state restored from the changelog"
        ),
        Ok(_) => {}
        Err(e) => {
            return shared.stats.set_fatal(format!(
                "cannot restore the state of {}/{}: {e:#}",
                info.topic, info.partition
            ))
        }
    }
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
    let mut batch = Chunk { records: Vec::with_capacity(max), invalid: Vec::new() };
    let mut stopping = false;
    let take = |batch: &mut Chunk, c: Chunk| {
        p.wake.notify();
        batch.records.extend(c.records);
        batch.invalid.extend(c.invalid);
    };
    while !stopping {
        // Block for the first records (unless some are left over from the
        // last round), then linger to fill the batch.
        if batch.is_empty() {
            match rx.recv_timeout(Duration::from_millis(200)) {
                Ok(Command::Records(c)) => take(&mut batch, c),
                Ok(Command::Stop) | Err(RecvTimeoutError::Disconnected) => stopping = true,
                Err(RecvTimeoutError::Timeout) => continue,
            }
        }
        let deadline = Instant::now() + linger;
        while !stopping && batch.len() < max {
            let wait = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(wait) {
                Ok(Command::Records(c)) => take(&mut batch, c),
                Ok(Command::Stop) | Err(RecvTimeoutError::Disconnected) => stopping = true,
                Err(RecvTimeoutError::Timeout) => break,
            }
        }
        if stopping {
            // Records already received are processed, not dropped, unless
            // the stop's deadline passes first (then `cancel` is set).
            while let Ok(Command::Records(c)) = rx.try_recv() {
                take(&mut batch, c);
            }
        }
        // A chunk may overfill the batch: full batches go now, and the rest
        // starts the next one (unless the linger ran out or we stop).
        let full =
            if stopping || batch.len() < max { batch.len() } else { batch.len() / max * max };
        let mut done = 0;
        while done < full {
            let n = max.min(full - done);
            let rest = batch.records.split_off(n);
            let records = std::mem::replace(&mut batch.records, rest);
            done += n;
            if !process(shared, p, &mut pipeline, records, &mut batch.invalid) {
                return;
            }
        }
    }
}

/// Run one batch and write its outcomes; false when the worker must end.
fn process(
    shared: &WorkerShared,
    p: &Partition,
    pipeline: &mut PipelineInstance,
    records: Vec<Record>,
    invalid: &mut Vec<(i64, String)>,
) -> bool {
    #[cfg(debug_assertions)]
    debug_panic(&records);
    let started = Instant::now();
    // The batch's changelog writes hold its inputs uncommitted until the
    // broker has them; the hold is taken before the tracker learns of the
    // inputs, so nothing of the batch can be committed before.
    let hold = records.first().map(|m| p.tracker.hold(m.offset));
    pipeline.set_batch(hold.clone());
    let outcomes = if invalid.is_empty() {
        call(pipeline, p, &records)
    } else {
        with_invalid(pipeline, p, &records, invalid)
    };
    pipeline.set_batch(None);
    shared.stats.batch_seconds.observe(started.elapsed());
    if p.cancel.load(Ordering::Acquire) {
        // The stop's deadline passed: the partition is someone else's now.
        return false;
    }
    if let Some(reason) = pipeline.stop_reason() {
        // A stage is disabled and its policy is to stop: nothing of this
        // batch is written, so its offsets are never committed and the
        // records are processed again after the fix.
        shared.stats.set_fatal(reason);
        return false;
    }
    shared.sink.write(&p.info.topic, p.info.partition, records, &outcomes, &p.tracker);
    // Released now that the sink has begun the inputs, or later by the
    // batch's last changelog delivery.
    drop(hold);
    true
}

fn call(pipeline: &mut PipelineInstance, p: &Partition, records: &[Record]) -> Vec<Outcome> {
    match p.mode {
        Mode::Process => pipeline.process(&p.info, records),
        Mode::Learn => pipeline.learn(&p.info, records),
    }
}

/// A batch holding invalid records: those are dead-lettered without
/// reaching a plugin, the others run as usual (copied, in this rare case).
fn with_invalid(
    pipeline: &mut PipelineInstance,
    p: &Partition,
    records: &[Record],
    invalid: &mut Vec<(i64, String)>,
) -> Vec<Outcome> {
    let problems: Vec<Option<String>> = records
        .iter()
        .map(|m| {
            let i = invalid.iter().position(|(o, _)| *o == m.offset)?;
            Some(invalid.swap_remove(i).1)
        })
        .collect();
    let valid: Vec<Record> = records
        .iter()
        .zip(&problems)
        .filter(|(_, p)| p.is_none())
        .map(|(m, _)| m.clone())
        .collect();
    let mut valid_outcomes =
        if valid.is_empty() { Vec::new() } else { call(pipeline, p, &valid) }.into_iter();
    problems
        .into_iter()
        .map(|problem| match problem {
            Some(reason) => Outcome {
                produced: Vec::new(),
                failures: vec![Failure {
                    stage: String::new(),
                    plugin: String::new(),
                    kind: "input".into(),
                    reason,
                }],
            },
            None => valid_outcomes.next().unwrap_or_default(),
        })
        .collect()
}

/// Debug builds only: panic when a batch holds the offset named by
/// `WASP_DEBUG_PANIC_AT_OFFSET`, so the tests can show what a bug in a
/// worker does to the run. Release builds have no such hook.
#[cfg(debug_assertions)]
fn debug_panic(chunk: &[Record]) {
    static AT: std::sync::OnceLock<Option<i64>> = std::sync::OnceLock::new();
    let at = AT.get_or_init(|| std::env::var("WASP_DEBUG_PANIC_AT_OFFSET").ok()?.parse().ok());
    if let Some(at) = at.filter(|at| chunk.iter().any(|m| m.offset == *at)) {
        panic!("WASP_DEBUG_PANIC_AT_OFFSET: a worker panics at offset {at}");
    }
}
