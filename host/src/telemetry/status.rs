//! The live status page: `GET /` is a static page whose script fetches
//! `GET /status.json` every second and redraws; this module builds that
//! JSON from the run's parts.

use crate::kafka::stats::{PartitionStat, RunStats};
use crate::pipeline::Pipeline;
use crate::reload::Reloader;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// The page: plain HTML, CSS and a script, no external resources.
pub const PAGE: &str = include_str!("status.html");

/// Committed offsets by (topic, partition), as seen at one instant.
type OffsetsAt = (Instant, BTreeMap<(String, i32), i64>);

/// Where the status comes from.
pub struct StatusSource {
    stats: Arc<RunStats>,
    pipeline: Arc<Pipeline>,
    reloader: Option<Arc<Reloader>>,
    started: Instant,
    /// The committed offsets of the previous request, for rates.
    last: Mutex<Option<OffsetsAt>>,
}

fn unix_seconds(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

impl StatusSource {
    /// Status of a run's parts.
    pub fn new(
        stats: Arc<RunStats>,
        pipeline: Arc<Pipeline>,
        reloader: Option<Arc<Reloader>>,
    ) -> Self {
        StatusSource { stats, pipeline, reloader, started: Instant::now(), last: Mutex::new(None) }
    }

    /// Committed records per second per partition since the last call.
    fn rates(&self, partitions: &[PartitionStat]) -> BTreeMap<(String, i32), f64> {
        let now = Instant::now();
        let offsets: BTreeMap<(String, i32), i64> = partitions
            .iter()
            .filter(|p| p.committed_offset >= 0)
            .map(|p| ((p.topic.clone(), p.partition), p.committed_offset))
            .collect();
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        let rates = match &*last {
            Some((t, before)) if now.duration_since(*t).as_secs_f64() > 0.2 => {
                let dt = now.duration_since(*t).as_secs_f64();
                offsets
                    .iter()
                    .filter_map(|(k, v)| {
                        before.get(k).map(|b| (k.clone(), (v - b).max(0) as f64 / dt))
                    })
                    .collect()
            }
            _ => BTreeMap::new(),
        };
        *last = Some((now, offsets));
        rates
    }

    /// The status as JSON.
    pub fn json(&self) -> Value {
        let s = &self.stats;
        let get = RunStats::get;
        let stages: Vec<Value> = self
            .pipeline
            .stages
            .iter()
            .map(|slot| {
                let st = slot.current();
                let config = hex::encode(Sha256::digest(st.config_json.as_bytes()));
                json!({
                    "name": st.name,
                    "plugin": st.plugin.path().file_name().map(|f| f.to_string_lossy().into_owned()),
                    "version": st.version.as_ref(),
                    "config_sha256": &config[..12],
                    "counters": st.metrics.snapshot().into_iter().collect::<BTreeMap<_, _>>(),
                })
            })
            .collect();
        let partitions = s.partitions();
        let rates = self.rates(&partitions);
        let partitions: Vec<Value> = partitions
            .iter()
            .map(|p| {
                json!({
                    "topic": p.topic,
                    "partition": p.partition,
                    "lag": (p.lag >= 0).then_some(p.lag),
                    "committed_offset": (p.committed_offset >= 0).then_some(p.committed_offset),
                    "rate": rates.get(&(p.topic.clone(), p.partition)),
                })
            })
            .collect();
        let dead: Vec<Value> = s
            .recent_dead_letters()
            .into_iter()
            .map(|d| {
                json!({"stage": d.stage, "kind": d.kind, "reason": d.reason,
                       "topic": d.topic, "partition": d.partition, "offset": d.offset})
            })
            .collect();
        let reloads: Vec<Value> = self.reloader.as_ref().map_or(Vec::new(), |r| {
            r.history()
                .into_iter()
                .map(|(t, what)| json!({"at": unix_seconds(t), "what": what}))
                .collect()
        });
        json!({
            "pipeline": self.pipeline.name,
            "uptime_seconds": self.started.elapsed().as_secs_f64(),
            "now": unix_seconds(SystemTime::now()),
            "totals": {
                "input": get(&s.records_in),
                "processed": get(&s.processed),
                "output": get(&s.output),
                "feedback": get(&s.feedback),
                "named": get(&s.named),
                "dead_letter": get(&s.dead_letter),
                "dropped": get(&s.dropped),
                "delivered": get(&s.delivered),
                "delivery_failed": get(&s.delivery_failed),
            },
            "stages": stages,
            "partitions": partitions,
            "dead_letters": dead,
            "reloads": reloads,
        })
    }
}
