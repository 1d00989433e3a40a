//! Stage-scoped state replicated live between the processes of a pipeline.
//!
//! With `[state] changelog = true` every process writes its stage-scoped
//! write sets to the pipeline's stage log (one partition), marked with its
//! origin. After the restore at start, a follower thread keeps reading that
//! log and applies the sets other processes wrote, in log order, without
//! logging them again: what one process's `process` calls keep for the
//! whole stage (k-NN's features of a classified record, remembered for a
//! later correction that names only its id) reaches every process within
//! a poll, not only at their next start.
//!
//! Two kinds of sets are not applied: this process's own (already applied
//! when written), and sets written by `learn` calls on the corrections
//! topic (recognised by the learning position they carry). Every process
//! reads every correction and learns it itself (`crate::kafka::corrections`);
//! applying another process's learning on top would take its state back
//! to where that process was, if it is behind.

use super::changelog::{KafkaChangelog, BARRIER_KEY, ORIGIN_HEADER};
use super::codec;
use super::keys::{self, Part};
use super::store::StateStore;
use anyhow::{Context, Result};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Headers;
use rdkafka::{Message as _, Offset, TopicPartitionList};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The running follower; it stops when dropped.
pub struct Follower {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Follower {
    /// Follow the stage log of `log` from where the store's restore ended.
    pub fn start(
        log: &Arc<KafkaChangelog>,
        store: &StateStore,
        corrections: Option<String>,
    ) -> Result<Self> {
        // The reader's 10 ms fetch wait suits a read to a barrier; a
        // follower waits for news, so it waits longer per fetch.
        let consumer: BaseConsumer = log
            .reader
            .clone()
            .set("fetch.wait.max.ms", "100")
            .create()
            .context("creating the state changelog's follower")?;
        let (topic, partition) = log.place(&Part::Stage);
        let mut tpl = TopicPartitionList::new();
        let from = store.stage_read().load(Ordering::Acquire);
        tpl.add_partition_offset(topic, partition, Offset::Offset(from))?;
        consumer.assign(&tpl).context("assigning the stage log to its follower")?;
        let stop = Arc::new(AtomicBool::new(false));
        let follow = Follow {
            consumer,
            store: store.clone(),
            origin: log.origin.clone(),
            learned: corrections.map(|t| format!(":pos/{t}/")),
        };
        let s = stop.clone();
        let thread = std::thread::Builder::new()
            .name("wasp-state-follow".into())
            .spawn(move || follow.run(&s))
            .context("starting the state changelog's follower")?;
        Ok(Follower { stop, thread: Some(thread) })
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct Follow {
    consumer: BaseConsumer,
    store: StateStore,
    origin: Arc<[u8]>,
    /// The key part of a learning position on the corrections topic.
    learned: Option<String>,
}

impl Follow {
    fn run(self, stop: &AtomicBool) {
        let mut last_error: Option<Instant> = None;
        while !stop.load(Ordering::Acquire) {
            match self.consumer.poll(Duration::from_millis(200)) {
                Some(Ok(m)) => {
                    if let Err(e) = self.apply(&m) {
                        tracing::error!(
                            offset = m.offset(),
                            "a stage write set from another process was not applied: {e:#}"
                        );
                    }
                    // Positions caught up here need not be read again when
                    // a partition is assigned (restore::restore_partition).
                    self.store.stage_read().fetch_max(m.offset() + 1, Ordering::AcqRel);
                }
                Some(Err(e)) => crate::kafka::run::kafka_error(&e, &mut last_error),
                None => {}
            }
        }
    }

    fn apply(&self, m: &rdkafka::message::BorrowedMessage<'_>) -> Result<()> {
        if m.key() == Some(BARRIER_KEY) {
            return Ok(());
        }
        let mine = m.headers().is_some_and(|h| {
            h.iter().any(|h| h.key == ORIGIN_HEADER && h.value == Some(&*self.origin))
        });
        let Some(raw) = m.payload().filter(|_| !mine) else { return Ok(()) };
        let writes = codec::decode_set(raw)?;
        let learned = |k: &String| {
            keys::is_host(k) && self.learned.as_ref().is_some_and(|l| k.contains(l.as_str()))
        };
        if writes.iter().any(|(k, _)| learned(k)) {
            return Ok(());
        }
        let (positions, values): (Vec<_>, Vec<_>) =
            writes.into_iter().partition(|(k, _)| keys::is_host(k));
        for (k, v) in positions {
            if let Some(at) = v.as_deref().and_then(keys::decode_position) {
                self.store.raise_position(k, at);
            }
        }
        if !values.is_empty() {
            self.store.apply_restored(values);
        }
        Ok(())
    }
}
