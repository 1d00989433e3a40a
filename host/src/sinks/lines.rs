//! `wasp test`'s sink: every record, whatever its destination, becomes one
//! JSON line naming it, delivered at once. Dropped inputs get a line too,
//! so the output tells what became of each input line.

use super::{BatchAcks, Outgoing, Sink};
use crate::router::Destination;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// Per-destination counts of a run.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Input records read.
    pub records: u64,
    /// Records written per topic or table (dead-letter included).
    pub per_topic: BTreeMap<String, u64>,
    /// Inputs dropped.
    pub dropped: u64,
}

#[derive(Default)]
struct Written {
    text: Vec<u8>,
    summary: Summary,
    /// Inputs from this offset on have not had their dropped line yet (a
    /// second delivery for a batch, a dead letter, must not repeat them).
    next_input: i64,
}

/// JSON lines, kept until [`take`](Lines::take)n.
#[derive(Default)]
pub struct Lines {
    written: Mutex<Written>,
}

/// Bytes as JSON if they are JSON, else as a string.
fn show(bytes: Option<&[u8]>) -> Value {
    match bytes {
        None => Value::Null,
        Some(b) => serde_json::from_slice(b)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(b).into_owned())),
    }
}

fn line(offset: i64, r: &Outgoing<'_>) -> Value {
    let (kind, name) = match r.to {
        Destination::Topic(t) => ("topic", t),
        Destination::Table(t) => ("table", t),
    };
    let mut line = json!({"offset": offset, kind: name});
    if let Some(f) = &r.failure {
        line["stage"] = json!(f.stage);
        line["kind"] = json!(f.kind);
        line["reason"] = json!(f.reason);
    } else {
        line["key"] = show(r.key);
    }
    line["value"] = show(r.value.as_deref());
    if let Some(p) = r.partition {
        line["partition"] = json!(p);
    }
    line
}

impl Lines {
    /// The lines written since the last call, and the counts so far.
    pub fn take(&self) -> (Vec<u8>, Summary) {
        let mut w = self.written.lock().unwrap_or_else(|p| p.into_inner());
        (std::mem::take(&mut w.text), w.summary.clone())
    }
}

impl Sink for Lines {
    fn deliver(&self, acks: &Arc<BatchAcks>, records: Vec<Outgoing<'_>>) {
        let mut w = self.written.lock().unwrap_or_else(|p| p.into_inner());
        let mut records = records.iter().peekable();
        let n = records.len();
        for (i, &(offset, produced)) in acks.inputs().iter().enumerate() {
            while let Some(r) = records.next_if(|r| r.input as usize == i) {
                let name = match r.to {
                    Destination::Topic(t) | Destination::Table(t) => t,
                };
                *w.summary.per_topic.entry(name.to_string()).or_default() += 1;
                let l = line(offset, r).to_string();
                w.text.extend_from_slice(l.as_bytes());
                w.text.push(b'\n');
            }
            if produced == 0 && offset >= w.next_input {
                w.summary.dropped += 1;
                let l = json!({"offset": offset, "dropped": true}).to_string();
                w.text.extend_from_slice(l.as_bytes());
                w.text.push(b'\n');
            }
        }
        if let Some(&(last, _)) = acks.inputs().last() {
            w.next_input = w.next_input.max(last + 1);
        }
        drop(w);
        acks.delivered(n);
    }
}
