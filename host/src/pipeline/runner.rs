//! A worker's instance of one stage: switches to a reloaded version at a
//! batch boundary, and isolates a failed batch by retrying it record by
//! record so only the poison records fail.

use super::caps::OutputCaps;
use super::slot::StageSlot;
use super::spec::StageSpec;
use crate::metrics;
use crate::record::{BatchInfo, Record, Verdict};
use crate::runtime::{Fault, FaultKind, PluginInstance};
use std::sync::Arc;

pub(crate) struct StageRunner {
    pub(crate) slot: Arc<StageSlot>,
    pub(crate) generation: u64,
    pub(crate) spec: Arc<StageSpec>,
    pub(crate) instance: PluginInstance,
}

impl StageRunner {
    /// At a batch boundary: switch to the stage's current version if it
    /// changed. The new version was validated before the swap; should it
    /// still fail to start here, this worker keeps the old one. True when
    /// the instance was replaced.
    pub(crate) fn refresh(&mut self, partition: Option<&(String, i32)>) -> bool {
        let generation = self.slot.generation();
        if generation == self.generation {
            return false;
        }
        self.generation = generation;
        let spec = self.slot.current();
        match spec.start_instance() {
            Ok(mut instance) => {
                if let Some((topic, p)) = partition {
                    instance.set_partition(topic, *p);
                }
                tracing::debug!(stage = %spec.name, version = %spec.version, "worker switched version");
                self.instance = instance;
                self.spec = spec;
                true
            }
            Err(e) => {
                tracing::error!(stage = %spec.name, "new version failed to start in a worker, keeping the old one: {e}");
                false
            }
        }
    }

    /// Corrections read again (a restart resumes reading from the oldest
    /// position of the stages): those before `from` were learned already
    /// and their effect is in the state, so they are dropped here rather
    /// than learned twice.
    fn learn_new(
        &mut self,
        info: &BatchInfo,
        msgs: &[Record],
        from: i64,
        caps: &OutputCaps,
    ) -> Vec<Result<Verdict, Fault>> {
        let new: Vec<Record> = msgs.iter().filter(|m| m.offset >= from).cloned().collect();
        tracing::debug!(
            stage = %self.spec.name,
            skipped = msgs.len() - new.len(),
            "corrections learned before; not learned again"
        );
        let mut results =
            if new.is_empty() { Vec::new() } else { self.run(info, &new, true, caps) }.into_iter();
        msgs.iter()
            .map(|m| match m.offset < from {
                true => Ok(Verdict::Drop),
                false => results.next().expect("run gives one result per record"),
            })
            .collect()
    }

    /// One result per record; a failed batch is retried record by record.
    /// Verdicts over the output caps become contract faults here, so every
    /// failure of the plugin counts towards disabling the stage, which can
    /// happen in the middle of a retried batch: a plugin failing on every
    /// record costs `max_consecutive_failures` calls, not one per record.
    pub(crate) fn run(
        &mut self,
        info: &BatchInfo,
        msgs: &[Record],
        learn: bool,
        caps: &OutputCaps,
    ) -> Vec<Result<Verdict, Fault>> {
        if learn {
            if let Some(from) = self.instance.position(&info.topic, info.partition) {
                if msgs.iter().any(|m| m.offset < from) {
                    return self.learn_new(info, msgs, from, caps);
                }
            }
        }
        let spec = self.spec.clone();
        spec.metrics.add(metrics::RECORDS_IN, msgs.len() as u64);
        let refused = || {
            spec.metrics.add(metrics::DISABLED, 1);
            let message = spec.health.disabled().unwrap_or_default();
            Err(Fault { kind: FaultKind::Disabled, message })
        };
        let settle = |result: Result<Verdict, Fault>| {
            let result = result.and_then(|v| caps.check(&v).map(|()| v).map_err(Fault::contract));
            spec.track(result.as_ref().err());
            result
        };
        if spec.health.is_disabled() {
            return msgs.iter().map(|_| refused()).collect();
        }
        let call = |inst: &mut PluginInstance, m: &[Record]| {
            let started = std::time::Instant::now();
            let result = if learn { inst.learn(info, m) } else { inst.process(info, m) };
            spec.metrics.add(metrics::CALLS, 1);
            let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
            spec.metrics.add(metrics::CALL_NANOS, nanos);
            result
        };
        // A call never straddles a position stored in the state, so each
        // call's writes are either all replayed (dropped) or all new.
        let bounds = self.instance.replay_bounds();
        let mut out = Vec::with_capacity(msgs.len());
        let mut start = 0;
        for end in 1..=msgs.len() {
            let split = end == msgs.len()
                || bounds.iter().any(|&b| msgs[end - 1].offset < b && b <= msgs[end].offset);
            if split {
                let group = &msgs[start..end];
                out.extend(self.isolate(&spec, group, &call, &settle, &refused));
                start = end;
            }
        }
        out
    }

    /// One call on `msgs`; if it fails, one call per record.
    fn isolate(
        &mut self,
        spec: &StageSpec,
        msgs: &[Record],
        call: &impl Fn(&mut PluginInstance, &[Record]) -> Result<Vec<Verdict>, Fault>,
        settle: &impl Fn(Result<Verdict, Fault>) -> Result<Verdict, Fault>,
        refused: &impl Fn() -> Result<Verdict, Fault>,
    ) -> Vec<Result<Verdict, Fault>> {
        match call(&mut self.instance, msgs) {
            Ok(v) => v.into_iter().map(|v| settle(Ok(v))).collect(),
            Err(fault) if msgs.len() == 1 => vec![settle(Err(fault))],
            Err(fault) => {
                tracing::warn!(
                    stage = %spec.name,
                    %fault,
                    "batch of {} failed; retrying record by record to isolate it",
                    msgs.len()
                );
                msgs.iter()
                    .map(|m| {
                        if spec.health.is_disabled() {
                            return refused();
                        }
                        let r = call(&mut self.instance, std::slice::from_ref(m))
                            .map(|mut v| v.remove(0));
                        settle(r)
                    })
                    .collect()
            }
        }
    }
}
