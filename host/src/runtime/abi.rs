//! The Wasm boundary for each contract version the host runs: which
//! version a component targets, and the conversions between the host's
//! records and verdicts (`crate::record`) and each version's generated types.
//!
//! 0.1.0 passes a list per field per record; 0.2.0 packs a batch into one
//! byte buffer plus flat metadata, so lowering costs a few list copies per
//! batch instead of three or more per record (docs/benchmarks.md has the
//! measurements behind that choice).

use super::bindings::{v1, v2};
use super::host::HostState;
use crate::record::{BatchInfo, Destination, Header, Output, PluginInfo, Record, Verdict};
use wasmtime::component::InstancePre;
use wasmtime::Store;

/// The contract versions the host accepts, newest first, for messages.
pub const CONTRACTS: &str = "wasp:plugin@0.2.0 or wasp:plugin@0.1.0";

/// A component checked against one contract version, ready to instantiate.
pub(crate) enum Pre {
    V1(v1::PluginPre<HostState>),
    V2(v2::PluginPre<HostState>),
}

/// An instantiated component's exports.
pub(crate) enum Exports {
    V1(v1::Plugin),
    V2(Box<V2Exports>),
}

/// A 0.2 instance with its reusable batch buffers: filling them again costs
/// no allocation once they have grown to the batch size.
pub(crate) struct V2Exports {
    bindings: v2::Plugin,
    scratch: v2::Batch,
}

impl Pre {
    /// Which contract `pre` implements; the error says what is missing for
    /// the newest one (a component for neither gets that message).
    pub fn new(pre: InstancePre<HostState>) -> Result<Self, String> {
        match v2::PluginPre::new(pre.clone()) {
            Ok(p) => Ok(Pre::V2(p)),
            Err(newest) => match v1::PluginPre::new(pre) {
                Ok(p) => Ok(Pre::V1(p)),
                Err(_) => Err(format!("{newest:#}")),
            },
        }
    }

    /// The contract version, e.g. `0.2.0`.
    pub fn contract(&self) -> &'static str {
        match self {
            Pre::V1(_) => "0.1.0",
            Pre::V2(_) => "0.2.0",
        }
    }

    pub fn instantiate(&self, store: &mut Store<HostState>) -> wasmtime::Result<Exports> {
        Ok(match self {
            Pre::V1(p) => Exports::V1(p.instantiate(store)?),
            Pre::V2(p) => Exports::V2(Box::new(V2Exports {
                bindings: p.instantiate(store)?,
                scratch: v2::Batch {
                    topic: String::new(),
                    partition: 0,
                    messages: Vec::new(),
                    headers: Vec::new(),
                    bytes: Vec::new(),
                },
            })),
        })
    }
}

/// A batch call: `process` or `learn`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    /// `process`.
    Process,
    /// `learn`.
    Learn,
}

impl Exports {
    pub fn init(
        &self,
        store: &mut Store<HostState>,
        config: &str,
    ) -> wasmtime::Result<Result<(), String>> {
        match self {
            Exports::V1(b) => b.wasp_plugin_processor().call_init(store, config),
            Exports::V2(b) => b.bindings.wasp_plugin_processor().call_init(store, config),
        }
    }

    pub fn info(&self, store: &mut Store<HostState>) -> wasmtime::Result<PluginInfo> {
        Ok(match self {
            Exports::V1(b) => {
                let i = b.wasp_plugin_processor().call_info(store)?;
                PluginInfo { name: i.name, version: i.version, description: i.description }
            }
            Exports::V2(b) => {
                let i = b.bindings.wasp_plugin_processor().call_info(store)?;
                PluginInfo { name: i.name, version: i.version, description: i.description }
            }
        })
    }

    /// Call `process` or `learn`. The outer error is a failed call (trap,
    /// deadline); the inner one a reply that breaks the contract.
    pub fn call(
        &mut self,
        store: &mut Store<HostState>,
        call: Call,
        info: &BatchInfo,
        records: &[Record],
    ) -> wasmtime::Result<Result<Vec<Verdict>, String>> {
        match self {
            Exports::V1(b) => {
                let info = v1::BatchInfo { topic: info.topic.clone(), partition: info.partition };
                let batch: Vec<v1::Message> = records.iter().map(to_v1).collect();
                let p = b.wasp_plugin_processor();
                let verdicts = match call {
                    Call::Process => p.call_process(store, &info, &batch)?,
                    Call::Learn => p.call_learn(store, &info, &batch)?,
                };
                Ok(Ok(verdicts.into_iter().map(from_v1).collect()))
            }
            Exports::V2(b) => {
                if let Err(e) = encode(&mut b.scratch, info, records) {
                    return Ok(Err(e));
                }
                let p = b.bindings.wasp_plugin_processor();
                let reply = match call {
                    Call::Process => p.call_process(store, &b.scratch)?,
                    Call::Learn => p.call_learn(store, &b.scratch)?,
                };
                Ok(decode(reply))
            }
        }
    }
}

fn to_v1(r: &Record) -> v1::Message {
    v1::Message {
        offset: r.offset,
        timestamp: r.timestamp,
        key: r.key.clone(),
        value: r.value.clone(),
        headers: r
            .headers
            .iter()
            .map(|h| v1::Header { key: h.key.clone(), value: h.value.clone() })
            .collect(),
    }
}

fn from_v1(v: v1::Verdict) -> Verdict {
    match v {
        v1::Verdict::Pass => Verdict::Pass,
        v1::Verdict::Value(v) => Verdict::Value(v),
        v1::Verdict::Emit(outputs) => Verdict::Emit(
            outputs
                .into_iter()
                .map(|o| Output {
                    destination: match o.destination {
                        v1::Destination::Next => Destination::Next,
                        v1::Destination::Feedback => Destination::Feedback,
                        v1::Destination::Topic(t) => Destination::Topic(t),
                    },
                    partition: None,
                    key: o.key,
                    value: o.value,
                    headers: o
                        .headers
                        .into_iter()
                        .map(|h| Header { key: h.key, value: h.value })
                        .collect(),
                })
                .collect(),
        ),
        v1::Verdict::Drop => Verdict::Drop,
        v1::Verdict::Reject(r) => Verdict::Reject(r),
    }
}

/// A buffer position as the contract's 32-bit index.
fn index(n: usize, what: &str) -> Result<u32, String> {
    u32::try_from(n).map_err(|_| format!("a batch's {what} passed 4 GiB; lower batch.max_records"))
}

fn put(bytes: &mut Vec<u8>, data: &[u8]) -> Result<v2::Span, String> {
    let start = index(bytes.len(), "bytes")?;
    bytes.extend_from_slice(data);
    Ok(v2::Span { start, len: index(data.len(), "bytes")? })
}

/// Fill `batch` with `records`: every key, value and header in one buffer.
fn encode(batch: &mut v2::Batch, info: &BatchInfo, records: &[Record]) -> Result<(), String> {
    if batch.topic != info.topic {
        batch.topic.clone_from(&info.topic);
    }
    batch.partition = info.partition;
    batch.messages.clear();
    batch.headers.clear();
    batch.bytes.clear();
    let size: usize = records
        .iter()
        .map(|r| {
            r.key.as_ref().map_or(0, Vec::len)
                + r.value.as_ref().map_or(0, Vec::len)
                + r.headers.iter().map(|h| h.key.len() + h.value.len()).sum::<usize>()
        })
        .sum();
    batch.bytes.reserve(size);
    batch.messages.reserve(records.len());
    for r in records {
        let key = r.key.as_deref().map(|k| put(&mut batch.bytes, k)).transpose()?;
        let value = r.value.as_deref().map(|v| put(&mut batch.bytes, v)).transpose()?;
        let first = index(batch.headers.len(), "headers")?;
        for h in &r.headers {
            let key = put(&mut batch.bytes, h.key.as_bytes())?;
            let value = put(&mut batch.bytes, &h.value)?;
            batch.headers.push(v2::Header { key, value });
        }
        batch.messages.push(v2::Message {
            offset: r.offset,
            timestamp: r.timestamp,
            key,
            value,
            headers: v2::Span { start: first, len: index(r.headers.len(), "headers")? },
        });
    }
    Ok(())
}

/// Takes spans out of a reply's buffers. Each byte, output and header may
/// be used once: the spans of a reply may not add up to more than its
/// buffers hold, so a small reply cannot make the host copy gigabytes by
/// naming one range many times.
struct Spans<'a> {
    reply: &'a v2::Reply,
    bytes_left: usize,
    outputs_left: usize,
    headers_left: usize,
}

fn range(span: v2::Span, len: usize, what: &str) -> Result<std::ops::Range<usize>, String> {
    let start = span.start as usize;
    let end = start + span.len as usize;
    if end > len {
        return Err(format!("reply names {what} {start}..{end} but its {what} buffer holds {len}"));
    }
    Ok(start..end)
}

fn take(left: &mut usize, n: usize, what: &str) -> Result<(), String> {
    *left = left.checked_sub(n).ok_or_else(|| {
        format!("reply uses its {what} more than once (spans add up to more than the buffer)")
    })?;
    Ok(())
}

impl Spans<'_> {
    fn bytes(&mut self, span: v2::Span) -> Result<Vec<u8>, String> {
        let r = range(span, self.reply.bytes.len(), "bytes")?;
        take(&mut self.bytes_left, r.len(), "bytes")?;
        Ok(self.reply.bytes[r].to_vec())
    }

    fn headers(&mut self, span: v2::Span) -> Result<Vec<Header>, String> {
        let r = range(span, self.reply.headers.len(), "headers")?;
        take(&mut self.headers_left, r.len(), "headers")?;
        self.reply.headers[r]
            .iter()
            .map(|h| {
                let key = self.bytes(h.key)?;
                Ok(Header {
                    key: String::from_utf8(key)
                        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
                    value: self.bytes(h.value)?,
                })
            })
            .collect()
    }

    fn output(&mut self, o: &v2::Output) -> Result<Output, String> {
        Ok(Output {
            destination: match &o.destination {
                v2::Destination::Next => Destination::Next,
                v2::Destination::Feedback => Destination::Feedback,
                v2::Destination::Topic(t) => Destination::Topic(t.clone()),
            },
            partition: o.partition,
            key: o.key.map(|s| self.bytes(s)).transpose()?,
            value: o.value.map(|s| self.bytes(s)).transpose()?,
            headers: self.headers(o.headers)?,
        })
    }

    fn verdict(&mut self, v: &v2::Verdict) -> Result<Verdict, String> {
        Ok(match v {
            v2::Verdict::Pass => Verdict::Pass,
            v2::Verdict::Value(s) => Verdict::Value(self.bytes(*s)?),
            v2::Verdict::Emit(s) => {
                let r = range(*s, self.reply.outputs.len(), "outputs")?;
                take(&mut self.outputs_left, r.len(), "outputs")?;
                let reply = self.reply;
                Verdict::Emit(
                    reply.outputs[r].iter().map(|o| self.output(o)).collect::<Result<_, _>>()?,
                )
            }
            v2::Verdict::Drop => Verdict::Drop,
            v2::Verdict::Reject(r) => Verdict::Reject(r.clone()),
        })
    }
}

/// The host's verdicts from a 0.2 reply, or why the reply breaks the contract.
fn decode(reply: v2::Reply) -> Result<Vec<Verdict>, String> {
    let mut spans = Spans {
        reply: &reply,
        bytes_left: reply.bytes.len(),
        outputs_left: reply.outputs.len(),
        headers_left: reply.headers.len(),
    };
    reply.verdicts.iter().map(|v| spans.verdict(v)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(start: u32, len: u32) -> v2::Span {
        v2::Span { start, len }
    }

    fn reply(verdicts: Vec<v2::Verdict>, outputs: Vec<v2::Output>, bytes: &[u8]) -> v2::Reply {
        v2::Reply { verdicts, outputs, headers: Vec::new(), bytes: bytes.to_vec() }
    }

    #[test]
    fn encode_packs_keys_values_and_headers_in_one_buffer() {
        let mut batch = v2::Batch {
            topic: String::new(),
            partition: 0,
            messages: vec![],
            headers: vec![],
            bytes: vec![],
        };
        let records = vec![
            Record {
                offset: 7,
                timestamp: Some(1),
                key: Some(b"k".to_vec()),
                value: Some(b"vv".to_vec()),
                headers: vec![Header { key: "h".into(), value: b"x".to_vec() }],
            },
            Record { offset: 8, timestamp: None, key: None, value: None, headers: vec![] },
        ];
        let info = BatchInfo { topic: "t".into(), partition: 3 };
        encode(&mut batch, &info, &records).unwrap();
        // The generated span has no `PartialEq`; compare it as a pair.
        let at = |s: v2::Span| (s.start, s.len);
        assert_eq!(batch.bytes, b"kvvhx");
        assert_eq!(batch.messages[0].key.map(at), Some((0, 1)));
        assert_eq!(batch.messages[0].value.map(at), Some((1, 2)));
        assert_eq!(at(batch.messages[0].headers), (0, 1));
        assert_eq!(at(batch.headers[0].key), (3, 1));
        assert!(batch.messages[1].key.is_none());
        assert_eq!(at(batch.messages[1].headers), (1, 0));
        assert_eq!((batch.topic.as_str(), batch.partition), ("t", 3));
        // Refilling reuses the buffers and forgets the old batch.
        encode(&mut batch, &info, &records[1..]).unwrap();
        assert!(batch.bytes.is_empty());
        assert_eq!(batch.messages.len(), 1);
    }

    #[test]
    fn decode_slices_values_and_outputs() {
        let out = v2::Output {
            destination: v2::Destination::Topic("x".into()),
            partition: Some(1),
            key: None,
            value: Some(span(2, 3)),
            headers: span(0, 0),
        };
        let r = reply(
            vec![v2::Verdict::Value(span(0, 2)), v2::Verdict::Emit(span(0, 1)), v2::Verdict::Pass],
            vec![out],
            b"abcde",
        );
        let v = decode(r).unwrap();
        assert_eq!(v[0], Verdict::Value(b"ab".to_vec()));
        let Verdict::Emit(o) = &v[1] else { panic!("emit expected") };
        assert_eq!(o[0].value.as_deref(), Some(&b"cde"[..]));
        assert_eq!(o[0].partition, Some(1));
        assert_eq!(o[0].destination, Destination::Topic("x".into()));
        assert_eq!(v[2], Verdict::Pass);
    }

    #[test]
    fn decode_refuses_spans_outside_or_reused() {
        let outside = reply(vec![v2::Verdict::Value(span(3, 5))], vec![], b"abcd");
        assert!(decode(outside).unwrap_err().contains("bytes 3..8"));
        let reused = reply(
            vec![v2::Verdict::Value(span(0, 4)), v2::Verdict::Value(span(0, 4))],
            vec![],
            b"abcd",
        );
        assert!(decode(reused).unwrap_err().contains("more than once"));
        let huge = reply(vec![v2::Verdict::Value(span(u32::MAX, u32::MAX))], vec![], b"");
        assert!(decode(huge).is_err());
    }
}
