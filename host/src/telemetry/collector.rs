//! The run's counters as Prometheus metrics, read at scrape time.
//!
//! Names follow Prometheus conventions: `wasp_` prefix, base units in the
//! name, counters end in `_total` (added by the encoder to the names
//! below). docs/metrics.md lists them with their labels.

use crate::kafka::stats::RunStats;
use crate::metrics;
use crate::pipeline::Pipeline;
use crate::reload::Reloader;
use crate::sinks::health::SinkHealth;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Input records handed to partition workers.
pub const INPUT_RECORDS: &str = "wasp_input_records";
/// Input records the pipeline finished.
pub const PROCESSED_RECORDS: &str = "wasp_processed_records";
/// Records written, by `destination` (output, feedback, named, dead_letter).
pub const OUTPUT_RECORDS: &str = "wasp_output_records";
/// Input records that produced nothing.
pub const DROPPED_RECORDS: &str = "wasp_dropped_records";
/// Records the broker acknowledged.
pub const DELIVERED_RECORDS: &str = "wasp_delivered_records";
/// Records whose delivery failed for good.
pub const DELIVERY_ERRORS: &str = "wasp_delivery_errors";
/// Records a stage received, by `stage`.
pub const STAGE_RECORDS_IN: &str = "wasp_stage_records_in";
/// Records a stage passed on, by `stage`.
pub const STAGE_RECORDS_OUT: &str = "wasp_stage_records_out";
/// Input records a stage sent to the dead-letter topic, by `stage`.
pub const STAGE_DEAD_LETTERS: &str = "wasp_stage_dead_letters";
/// Plugin calls that failed, by `stage` and `kind`.
pub const STAGE_FAULTS: &str = "wasp_stage_faults";
/// Instances rebuilt after a fault, by `stage`.
pub const INSTANCE_RECYCLES: &str = "wasp_instance_recycles";
/// Counters the plugin defined, by `stage` and `counter` (at most
/// [`metrics::MAX_PLUGIN_COUNTERS`] per stage).
pub const PLUGIN_COUNTER: &str = "wasp_plugin_counter";
/// Plugin calls, by `stage`.
pub const PLUGIN_CALLS: &str = "wasp_plugin_calls";
/// Wall time inside plugin calls, by `stage`.
pub const PLUGIN_CALL_SECONDS: &str = "wasp_plugin_call_seconds";
/// Bytes of host state a stage keeps, by `stage`.
pub const STATE_BYTES: &str = "wasp_state_bytes";
/// Hot reloads, by `result` (applied, refused).
pub const RELOADS: &str = "wasp_reloads";
/// Records behind the end of a partition, by `topic` and `partition`.
pub const CONSUMER_LAG: &str = "wasp_consumer_lag_records";
/// The committed offset of a partition, by `topic` and `partition`.
pub const COMMITTED_OFFSET: &str = "wasp_committed_offset";
/// Rows a table destination took or refused, by `sink` and `result`.
pub const SINK_ROWS: &str = "wasp_sink_rows";
/// Failed write attempts of a table destination (each retried), by `sink`.
pub const SINK_RETRIES: &str = "wasp_sink_retries";
/// 1 while a table destination's database is unreachable, by `sink`.
pub const SINK_UNAVAILABLE: &str = "wasp_sink_unavailable";
/// Time to run one batch through the pipeline's stages.
pub const BATCH_DURATION: &str = "wasp_batch_duration_seconds";

/// Stage counters that are faults, and their `kind` label.
const FAULT_KINDS: [(&str, &str); 7] = [
    (metrics::REJECTED, "rejected"),
    (metrics::TRAPS, "trap"),
    (metrics::TIMEOUTS, "timeout"),
    (metrics::MEMORY_LIMIT_HITS, "memory_limit"),
    (metrics::FUEL_EXHAUSTED, "fuel_exhausted"),
    (metrics::STATE_LIMIT_HITS, "state_limit"),
    (metrics::DISABLED, "disabled"),
];

/// What a run exposes: its counters, its stages, its reloader.
pub struct RunCollector {
    stats: Arc<RunStats>,
    pipeline: Arc<Pipeline>,
    reloader: Option<Arc<Reloader>>,
}

impl std::fmt::Debug for RunCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunCollector").field("pipeline", &self.pipeline.name).finish()
    }
}

impl RunCollector {
    /// Collect from a run's parts.
    pub fn new(
        stats: Arc<RunStats>,
        pipeline: Arc<Pipeline>,
        reloader: Option<Arc<Reloader>>,
    ) -> Self {
        RunCollector { stats, pipeline, reloader }
    }

    /// A registry with this collector and the batch-duration histogram.
    pub fn registry(self) -> prometheus_client::registry::Registry {
        let mut r = prometheus_client::registry::Registry::default();
        r.register(
            BATCH_DURATION,
            "Time to run one batch through the pipeline's stages",
            self.stats.batch_seconds.0.clone(),
        );
        r.register_collector(Box::new(self));
        r
    }
}

type Labels = Vec<(&'static str, String)>;

/// One metric family: a descriptor and its samples.
fn family<M: EncodeMetric>(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    kind: MetricType,
    samples: impl IntoIterator<Item = (Labels, M)>,
) -> std::fmt::Result {
    let mut metric = encoder.encode_descriptor(name, help, None, kind)?;
    for (labels, m) in samples {
        m.encode(metric.encode_family(&labels)?)?;
    }
    Ok(())
}

fn counter(v: u64) -> ConstCounter<u64> {
    ConstCounter::new(v)
}

impl Collector for RunCollector {
    fn encode(&self, mut e: DescriptorEncoder<'_>) -> std::fmt::Result {
        let s = &self.stats;
        let get = RunStats::get;
        let none = || Labels::new();
        let c = MetricType::Counter;
        family(
            &mut e,
            INPUT_RECORDS,
            "Input records handed to partition workers",
            c,
            [(none(), counter(get(&s.records_in)))],
        )?;
        family(
            &mut e,
            PROCESSED_RECORDS,
            "Input records the pipeline finished",
            c,
            [(none(), counter(get(&s.processed)))],
        )?;
        let by_destination = [
            ("output", &s.output),
            ("feedback", &s.feedback),
            ("named", &s.named),
            ("dead_letter", &s.dead_letter),
        ]
        .map(|(d, v)| (vec![("destination", d.to_string())], counter(get(v))));
        family(&mut e, OUTPUT_RECORDS, "Records written, by destination", c, by_destination)?;
        family(
            &mut e,
            DROPPED_RECORDS,
            "Input records that produced nothing",
            c,
            [(none(), counter(get(&s.dropped)))],
        )?;
        family(
            &mut e,
            DELIVERED_RECORDS,
            "Records the broker acknowledged",
            c,
            [(none(), counter(get(&s.delivered)))],
        )?;
        family(
            &mut e,
            DELIVERY_ERRORS,
            "Records whose delivery failed for good",
            c,
            [(none(), counter(get(&s.delivery_failed)))],
        )?;

        let stages: Vec<_> = self.pipeline.stages.iter().map(|slot| slot.current()).collect();
        let per_stage = |name: &str| {
            stages
                .iter()
                .map(|st| (vec![("stage", st.name.clone())], counter(st.metrics.get(name))))
                .collect::<Vec<_>>()
        };
        family(
            &mut e,
            STAGE_RECORDS_IN,
            "Records a stage received",
            c,
            per_stage(metrics::RECORDS_IN),
        )?;
        family(
            &mut e,
            STAGE_RECORDS_OUT,
            "Records a stage passed on",
            c,
            per_stage(metrics::FORWARDED),
        )?;
        family(
            &mut e,
            STAGE_DEAD_LETTERS,
            "Input records a stage sent to the dead-letter topic",
            c,
            per_stage(metrics::DEAD_LETTERED),
        )?;
        family(
            &mut e,
            INSTANCE_RECYCLES,
            "Plugin instances rebuilt after a fault",
            c,
            per_stage(metrics::INSTANCE_RECYCLES),
        )?;
        family(
            &mut e,
            PLUGIN_CALLS,
            "Plugin calls (one per batch, or per record when a failed batch is retried)",
            c,
            per_stage(metrics::CALLS),
        )?;
        let call_seconds = stages.iter().map(|st| {
            let seconds = st.metrics.get(metrics::CALL_NANOS) as f64 / 1e9;
            (vec![("stage", st.name.clone())], ConstCounter::new(seconds))
        });
        family(&mut e, PLUGIN_CALL_SECONDS, "Wall time inside plugin calls", c, call_seconds)?;
        let state_bytes = stages.iter().map(|st| {
            let bytes = i64::try_from(st.state.bytes()).unwrap_or(i64::MAX);
            (vec![("stage", st.name.clone())], ConstGauge::new(bytes))
        });
        family(
            &mut e,
            STATE_BYTES,
            "Bytes of host state (keys and values) a stage keeps",
            MetricType::Gauge,
            state_bytes,
        )?;
        let faults = stages.iter().flat_map(|st| {
            FAULT_KINDS.iter().map(|(counter_name, kind)| {
                let labels = vec![("stage", st.name.clone()), ("kind", kind.to_string())];
                (labels, counter(st.metrics.get(counter_name)))
            })
        });
        family(
            &mut e,
            STAGE_FAULTS,
            "Plugin calls or records that failed in a stage, by kind",
            c,
            faults,
        )?;
        let plugin = stages.iter().flat_map(|st| {
            st.metrics
                .plugin_counters()
                .into_iter()
                .map(|(name, v)| (vec![("stage", st.name.clone()), ("counter", name)], counter(v)))
        });
        family(
            &mut e,
            PLUGIN_COUNTER,
            "Counters the plugins defined (at most 256 per stage)",
            c,
            plugin,
        )?;
        if let Some(r) = &self.reloader {
            let reloads = [("applied", &r.reloads), ("refused", &r.refusals)].map(|(k, v)| {
                (vec![("result", k.to_string())], counter(v.load(Ordering::Relaxed)))
            });
            family(&mut e, RELOADS, "Hot reloads of plugins and stage configs", c, reloads)?;
        }

        let partitions = s.partitions();
        let g = MetricType::Gauge;
        let labels = |p: &crate::kafka::stats::PartitionStat| {
            vec![("topic", p.topic.clone()), ("partition", p.partition.to_string())]
        };
        let lag =
            partitions.iter().filter(|p| p.lag >= 0).map(|p| (labels(p), ConstGauge::new(p.lag)));
        family(
            &mut e,
            CONSUMER_LAG,
            "Records behind the end of a partition, as the consumer last saw it",
            g,
            lag,
        )?;
        let committed = partitions
            .iter()
            .filter(|p| p.committed_offset >= 0)
            .map(|p| (labels(p), ConstGauge::new(p.committed_offset)));
        family(
            &mut e,
            COMMITTED_OFFSET,
            "The group's committed offset of a partition",
            g,
            committed,
        )?;

        let sinks = s.sinks();
        let sink = |h: &SinkHealth| vec![("sink", h.name().to_string())];
        let rows = sinks.iter().flat_map(|h| {
            [("stored", h.stored()), ("refused", h.refused())].map(|(result, n)| {
                let mut labels = sink(h);
                labels.push(("result", result.to_string()));
                (labels, counter(n))
            })
        });
        family(&mut e, SINK_ROWS, "Rows a table destination took or refused", c, rows)?;
        let retries = sinks.iter().map(|h| (sink(h), counter(h.retries())));
        family(
            &mut e,
            SINK_RETRIES,
            "Failed write attempts of a table destination (the database unreachable), each retried",
            c,
            retries,
        )?;
        let down = sinks.iter().map(|h| (sink(h), ConstGauge::new(i64::from(h.down().is_some()))));
        family(
            &mut e,
            SINK_UNAVAILABLE,
            "1 while a table destination's database is unreachable (writes held and retried)",
            g,
            down,
        )?;
        Ok(())
    }
}
