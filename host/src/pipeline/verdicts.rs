//! Applies one stage's verdicts to a batch: forwards records to the next
//! stage, produces outputs with their routes, fails records, and counts
//! what happened.

use super::outcome::{Failure, Outcome, Produced, Route};
use super::spec::StageSpec;
use super::InFlight;
use crate::metrics::{self, StageMetrics};
use crate::record::{Destination, Header, Record, Verdict};
use crate::runtime::Fault;

/// Longest `reject` reason kept (it becomes the `wasp.error.reason` header).
const MAX_REJECT_REASON: usize = 4096;

/// Verdict counts of one stage call, added to the shared counters once per
/// batch rather than once per record.
#[derive(Default)]
pub(crate) struct Tally {
    forwarded: u64,
    dropped: u64,
    rejected: u64,
    dead_lettered: u64,
}

impl Tally {
    pub(crate) fn record(&self, m: &StageMetrics) {
        for (name, n) in [
            (metrics::FORWARDED, self.forwarded),
            (metrics::DROPPED, self.dropped),
            (metrics::REJECTED, self.rejected),
            (metrics::DEAD_LETTERED, self.dead_lettered),
        ] {
            if n > 0 {
                m.add(name, n);
            }
        }
    }
}

/// Applies one stage's verdicts: forwards, produces or fails records.
pub(crate) struct Apply<'a> {
    pub(crate) spec: &'a StageSpec,
    /// Applying `learn` verdicts: forwarded corrections end here.
    pub(crate) learn: bool,
    pub(crate) last: bool,
    pub(crate) next: &'a mut InFlight,
    pub(crate) tally: Tally,
}

impl Apply<'_> {
    fn fail(&mut self, out: &mut Outcome, kind: &str, reason: String) {
        self.tally.dead_lettered += 1;
        out.failures.push(Failure {
            stage: self.spec.name.clone(),
            plugin: self.spec.plugin_name(),
            kind: kind.into(),
            reason,
        });
    }

    /// Send `msg` on: to the next stage, or out of the pipeline after the last.
    fn forward(&mut self, origin: usize, msg: Record, out: &mut Outcome) {
        self.tally.forwarded += 1;
        if self.learn {
            // A correction forwarded by `learn` is done: it is not output.
        } else if self.last {
            out.produced.push(self.produce(Route::Output, None, msg.key, msg.value, msg.headers));
        } else {
            self.next.msgs.push(msg);
            self.next.origins.push(origin);
        }
    }

    fn produce(
        &self,
        route: Route,
        partition: Option<i32>,
        key: Option<Vec<u8>>,
        value: Option<Vec<u8>>,
        headers: Vec<Header>,
    ) -> Produced {
        Produced { route, partition, key, value, headers, version: self.spec.version.clone() }
    }

    pub(crate) fn apply(
        &mut self,
        origin: usize,
        msg: &Record,
        result: Result<Verdict, Fault>,
        out: &mut Outcome,
    ) {
        let verdict = match result {
            Ok(v) => v,
            Err(fault) => return self.fail(out, fault.kind.name(), fault.message),
        };
        match verdict {
            Verdict::Pass => self.forward(origin, msg.clone(), out),
            // Over-cap verdicts were turned into faults by `StageRunner::run`.
            Verdict::Value(v) => {
                let m = Record { value: Some(v), ..msg.without_value() };
                self.forward(origin, m, out)
            }
            Verdict::Emit(outputs) => {
                for o in outputs {
                    let key = o.key.or_else(|| msg.key.clone());
                    let mut headers = msg.headers.clone();
                    headers.extend(o.headers);
                    let route = match o.destination {
                        Destination::Next => {
                            let m = Record {
                                offset: msg.offset,
                                timestamp: msg.timestamp,
                                key,
                                value: o.value,
                                headers,
                            };
                            self.forward(origin, m, out);
                            continue;
                        }
                        Destination::Feedback => Route::Feedback,
                        Destination::Topic(t) => Route::Topic(t),
                    };
                    out.produced.push(self.produce(route, o.partition, key, o.value, headers));
                }
            }
            Verdict::Drop => self.tally.dropped += 1,
            Verdict::Reject(mut reason) => {
                self.tally.rejected += 1;
                // The reason becomes a dead-letter header: keep it a size a
                // broker accepts, whatever the plugin sent.
                crate::text::cut(&mut reason, MAX_REJECT_REASON, "… (cut)");
                self.fail(out, "rejected", reason)
            }
        }
    }
}
