//! The corrections topic, read by every process of a pipeline.
//!
//! Input partitions are shared out by the consumer group, but a model is
//! stage-scoped: every process keeps its own copy, so every process must
//! learn every correction. This reader assigns itself all partitions of the
//! corrections topic, outside the group, and feeds one `learn` worker per
//! partition, in offset order.
//!
//! Nothing is committed to the group for corrections. How far a stage has
//! learned is kept in its state, written with what the corrections taught
//! it ([`crate::state::StateScope::record_position`]), so the position and
//! the model are kept or lost together: reading resumes from the oldest
//! position of the stages, and a stage drops corrections it already
//! learned. A process with empty state reads the topic from its beginning
//! and so learns the whole history again.

use super::source::SourceContext;
use super::worker::WorkerShared;
use crate::config::PipelineConfig;
use anyhow::{Context, Result};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How often the topic's partitions are listed again (a topic that did not
/// exist yet, or that grew).
const LIST_EVERY: Duration = Duration::from_secs(5);

/// The running reader.
pub struct CorrectionsReader {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Reader>,
}

impl CorrectionsReader {
    /// Start reading `topic` for `shared`'s pipeline.
    pub fn start(cfg: &PipelineConfig, shared: WorkerShared, topic: String) -> Result<Self> {
        let pipeline = shared.pipeline.clone();
        let ctx = SourceContext::new(shared, Some(topic.clone()), Duration::ZERO);
        let mut config = super::consumer_config(cfg);
        // Assigned, never subscribed: this consumer never joins a group and
        // commits nothing. librdkafka still wants a group id to assign
        // partitions; one of its own keeps it apart from the input's group.
        config.set("group.id", format!("{}.corrections-reader", cfg.group_id()));
        // Its statistics would replace the input partitions' lag and
        // offsets that the progress line and the metrics show.
        config.set("statistics.interval.ms", "0");
        let consumer = SourceContext::attach(
            config.create_with_context(ctx).context("creating the corrections consumer")?,
        );
        let stop = Arc::new(AtomicBool::new(false));
        let reader = Reader { consumer, topic, pipeline, assigned: 0 };
        let s = stop.clone();
        let thread = std::thread::Builder::new()
            .name("wasp-corrections".into())
            .spawn(move || reader.run(&s))
            .context("starting the corrections reader")?;
        Ok(CorrectionsReader { stop, thread })
    }

    /// Stop reading; the workers finish what they received until
    /// `deadline`, and what they learned is in the state. Nothing is
    /// committed: the state holds the positions.
    pub fn stop(self, deadline: Instant) {
        self.stop.store(true, Ordering::Release);
        match self.thread.join() {
            Ok(reader) => drop(reader.consumer.context().stop_all(deadline)),
            Err(_) => tracing::error!("the corrections reader panicked; a restart resumes it"),
        }
    }
}

struct Reader {
    consumer: Arc<BaseConsumer<SourceContext>>,
    topic: String,
    pipeline: Arc<crate::pipeline::Pipeline>,
    /// Partitions assigned so far: 0..assigned.
    assigned: i32,
}

impl Reader {
    fn run(mut self, stop: &AtomicBool) -> Self {
        let mut listed: Option<Instant> = None;
        let mut last_error: Option<Instant> = None;
        while !stop.load(Ordering::Acquire) {
            if listed.is_none_or(|t| t.elapsed() >= LIST_EVERY) {
                self.assign_new();
                listed = Some(Instant::now());
            }
            let ctx = self.consumer.context();
            // Not counted as input records: `--max-records` and the
            // progress line count the inputs of the group.
            let mut read = match self.consumer.poll(Duration::ZERO) {
                // Only a partition whose queue could not be split.
                Some(Ok(m)) => usize::from(ctx.dispatch(&m)),
                Some(Err(e)) => {
                    super::run::kafka_error(&e, &mut last_error);
                    0
                }
                None => 0,
            };
            read += ctx.drain(usize::MAX, |e| super::run::kafka_error(e, &mut last_error));
            ctx.flush();
            if read == 0 {
                ctx.wait(Duration::from_millis(100));
            }
        }
        self
    }

    /// Assign partitions the topic has and this reader does not read yet,
    /// each from the oldest position the stages have learned to.
    fn assign_new(&mut self) {
        let client = self.consumer.client();
        let count = super::partitions::count_of(client, &self.topic).unwrap_or(0);
        if count <= self.assigned {
            return;
        }
        // The whole list again (an incremental assignment needs a group):
        // partitions read so far from where they are, new ones from the
        // oldest position the stages learned to.
        let mut tpl = TopicPartitionList::new();
        let at = self.consumer.position().unwrap_or_default();
        for p in 0..count {
            let from = match at.find_partition(&self.topic, p).map(|e| e.offset()) {
                Some(o @ Offset::Offset(_)) => o,
                _ => match self.pipeline.learned_from(&self.topic, p) {
                    Some(next) => Offset::Offset(next),
                    None => Offset::Beginning,
                },
            };
            if let Err(e) = tpl.add_partition_offset(&self.topic, p, from) {
                tracing::warn!(partition = p, "corrections partition not read: {e}");
                return;
            }
        }
        if let Err(e) = self.consumer.assign(&tpl) {
            tracing::warn!("assigning the corrections partitions: {e} (tried again)");
            return;
        }
        // The assignment turned the queues of the partitions read so far
        // off; new partitions get a worker and a queue. All before the
        // next poll, so no record finds no worker or reaches the
        // consumer's queue.
        self.consumer.context().split_again();
        for p in self.assigned..count {
            self.consumer.context().start(&self.topic, p);
        }
        tracing::info!(topic = %self.topic, partitions = count, "reading every corrections partition");
        self.assigned = count;
    }
}
