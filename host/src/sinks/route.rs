//! A batch's outcomes as records to deliver, each naming its destination:
//! the one routing step of `wasp run` and `wasp test`.

use crate::pipeline::{Failure, Outcome, Route};
use crate::record::{Header, Record};
use crate::router::{Destination, Router};
use std::borrow::Cow;

/// What a record is to its pipeline, for the per-destination counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Bound for `topics.output`.
    Output,
    /// Bound for `topics.feedback`.
    Feedback,
    /// Bound for a topic or table the plugin named.
    Named,
    /// The input itself, dead-lettered.
    DeadLetter,
}

/// One record to deliver, with the input it came from.
#[derive(Debug)]
pub struct Outgoing<'a> {
    /// Index of its input in the batch.
    pub input: u32,
    /// Where it goes.
    pub to: Destination<'a>,
    /// What it is.
    pub kind: Kind,
    /// The partition the plugin chose; `None` lets the producer choose by key.
    pub partition: Option<i32>,
    /// Key.
    pub key: Option<&'a [u8]>,
    /// Value (a dead letter's may be redacted, so owned then).
    pub value: Option<Cow<'a, [u8]>>,
    /// Headers (a dead letter's are its input's).
    pub headers: &'a [Header],
    /// Content hash of the plugin version that produced it (not for dead letters).
    pub version: Option<&'a str>,
    /// Why the input is dead-lettered; `Some` exactly for dead letters.
    pub failure: Option<Failure>,
}

impl<'a> Outgoing<'a> {
    /// The dead letter of input `input` (the record `msg`) for `failure`.
    pub fn dead_letter(router: &'a Router, input: u32, msg: &'a Record, failure: Failure) -> Self {
        Outgoing {
            input,
            to: Destination::Topic(router.dead_letter()),
            kind: Kind::DeadLetter,
            partition: None,
            key: msg.key.as_deref(),
            value: router.dead_letter_value(msg.value.as_deref()),
            headers: &msg.headers,
            version: None,
            failure: Some(failure),
        }
    }
}

/// Per input, (offset, records [`route`] makes of it): each output is one
/// record, or one dead letter if its route is refused; each failure one
/// dead letter.
pub fn records_per_input(batch: &[Record], outcomes: &[Outcome]) -> Vec<(i64, u32)> {
    batch
        .iter()
        .zip(outcomes)
        .map(|(m, o)| {
            let n = o.produced.len() + o.failures.len();
            (m.offset, u32::try_from(n).unwrap_or(u32::MAX))
        })
        .collect()
}

/// Every record of a batch's outcomes, input by input: outputs first, then
/// dead letters (the plugins' failures, then the routes the router refused).
pub fn route<'a>(
    router: &'a Router,
    batch: &'a [Record],
    outcomes: &'a [Outcome],
) -> Vec<Outgoing<'a>> {
    let mut out = Vec::with_capacity(outcomes.iter().map(|o| o.produced.len()).sum());
    for (i, (msg, outcome)) in batch.iter().zip(outcomes).enumerate() {
        let input = i as u32;
        let mut refused = Vec::new();
        for p in &outcome.produced {
            match router.destination(&p.route) {
                Ok(to) => out.push(Outgoing {
                    input,
                    to,
                    kind: match p.route {
                        Route::Output => Kind::Output,
                        Route::Feedback => Kind::Feedback,
                        Route::Topic(_) => Kind::Named,
                    },
                    partition: p.partition,
                    key: p.key.as_deref(),
                    value: p.value.as_deref().map(Cow::Borrowed),
                    headers: &p.headers,
                    version: Some(&p.version),
                    failure: None,
                }),
                Err(reason) => refused.push(Router::routing_failure(reason)),
            }
        }
        for f in outcome.failures.iter().cloned().chain(refused) {
            out.push(Outgoing::dead_letter(router, input, msg, f));
        }
    }
    out
}
