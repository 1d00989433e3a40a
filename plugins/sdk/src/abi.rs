//! Turns a contract batch (`wasp:plugin@0.2.0`: flat records pointing into
//! one byte buffer) into the SDK's messages borrowing that buffer, and the plugin's
//! verdicts into a reply that points into one byte buffer the same way.
//! Kept apart from the export macro so it is tested natively.

use crate::bindings::wasp::plugin::types as wit;
use crate::{BatchInfo, Destination, Header, Message, Output, Verdict};

fn slice(bytes: &[u8], s: wit::Span) -> &[u8] {
    // The host builds spans inside the buffer; out-of-range is a host bug.
    &bytes[s.start as usize..s.start as usize + s.len as usize]
}

/// The batch's records as messages whose key and value borrow `batch`.
pub fn decode(batch: &wit::Batch) -> (BatchInfo, Vec<Message<'_>>) {
    let bytes = &batch.bytes;
    let messages = batch
        .messages
        .iter()
        .map(|m| {
            let start = m.headers.start as usize;
            let headers = batch.headers[start..start + m.headers.len as usize]
                .iter()
                .map(|h| Header {
                    key: String::from_utf8_lossy(slice(bytes, h.key)).into_owned(),
                    value: slice(bytes, h.value).to_vec(),
                })
                .collect();
            Message {
                offset: m.offset,
                timestamp: m.timestamp,
                key: m.key.map(|s| slice(bytes, s).into()),
                value: m.value.map(|s| slice(bytes, s).into()),
                headers,
            }
        })
        .collect();
    (BatchInfo { topic: batch.topic.clone(), partition: batch.partition }, messages)
}

fn put(bytes: &mut Vec<u8>, data: &[u8]) -> wit::Span {
    let start = bytes.len() as u32;
    bytes.extend_from_slice(data);
    wit::Span { start, len: data.len() as u32 }
}

fn put_headers(reply: &mut wit::Reply, headers: &[Header]) -> wit::Span {
    let start = reply.headers.len() as u32;
    for h in headers {
        let key = put(&mut reply.bytes, h.key.as_bytes());
        let value = put(&mut reply.bytes, &h.value);
        reply.headers.push(wit::Header { key, value });
    }
    wit::Span { start, len: headers.len() as u32 }
}

fn put_output(reply: &mut wit::Reply, o: Output) -> wit::Output {
    wit::Output {
        destination: match o.destination {
            Destination::Next => wit::Destination::Next,
            Destination::Feedback => wit::Destination::Feedback,
            Destination::Topic(t) => wit::Destination::Topic(t),
        },
        partition: o.partition,
        key: o.key.map(|k| put(&mut reply.bytes, &k)),
        value: o.value.map(|v| put(&mut reply.bytes, &v)),
        headers: put_headers(reply, &o.headers),
    }
}

/// The verdicts as a reply: every value, key and header in one buffer.
pub fn encode(verdicts: Vec<Verdict>) -> wit::Reply {
    let mut reply = wit::Reply {
        verdicts: Vec::with_capacity(verdicts.len()),
        outputs: Vec::new(),
        headers: Vec::new(),
        bytes: Vec::new(),
    };
    for v in verdicts {
        let v = match v {
            Verdict::Pass => wit::Verdict::Pass,
            Verdict::Value(value) => wit::Verdict::Value(put(&mut reply.bytes, &value)),
            Verdict::Emit(outputs) => {
                // Outputs of one verdict are contiguous: push them all, then
                // name the range.
                let start = reply.outputs.len() as u32;
                let len = outputs.len() as u32;
                for o in outputs {
                    let o = put_output(&mut reply, o);
                    reply.outputs.push(o);
                }
                wit::Verdict::Emit(wit::Span { start, len })
            }
            Verdict::Drop => wit::Verdict::Drop,
            Verdict::Reject(reason) => wit::Verdict::Reject(reason),
        };
        reply.verdicts.push(v);
    }
    reply
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(start: u32, len: u32) -> wit::Span {
        wit::Span { start, len }
    }

    #[test]
    fn decode_gives_each_record_its_bytes() {
        let batch = wit::Batch {
            topic: "t".into(),
            partition: 2,
            messages: vec![
                wit::Message {
                    offset: 5,
                    timestamp: Some(9),
                    key: Some(span(0, 1)),
                    value: Some(span(1, 2)),
                    headers: span(0, 1),
                },
                wit::Message {
                    offset: 6,
                    timestamp: None,
                    key: None,
                    value: None,
                    headers: span(1, 0),
                },
            ],
            headers: vec![wit::Header { key: span(3, 1), value: span(4, 1) }],
            bytes: b"kvvhx".to_vec(),
        };
        let (info, msgs) = decode(&batch);
        assert_eq!(info, BatchInfo { topic: "t".into(), partition: 2 });
        assert_eq!(msgs[0].key.as_deref(), Some(&b"k"[..]));
        assert_eq!(msgs[0].value.as_deref(), Some(&b"vv"[..]));
        assert_eq!(msgs[0].headers, vec![Header { key: "h".into(), value: b"x".to_vec() }]);
        assert_eq!((msgs[1].offset, msgs[1].key.clone(), msgs[1].value.clone()), (6, None, None));
        // Keys and values borrow the batch: nothing is copied per record.
        assert!(matches!(msgs[0].value, Some(std::borrow::Cow::Borrowed(_))));
        assert!(matches!(msgs[0].key, Some(std::borrow::Cow::Borrowed(_))));
    }

    #[test]
    fn encode_points_into_one_buffer() {
        let mut o = crate::to_topic("x", b"out".to_vec());
        o.partition = Some(1);
        o.headers.push(Header { key: "h".into(), value: b"1".to_vec() });
        let reply = encode(vec![
            Verdict::Value(b"ab".to_vec()),
            Verdict::Emit(vec![o, crate::output(b"n".to_vec())]),
            Verdict::Pass,
            Verdict::Reject("bad".into()),
        ]);
        assert_eq!(reply.bytes, b"abouth1n");
        assert_eq!(reply.verdicts[0], wit::Verdict::Value(span(0, 2)));
        assert_eq!(reply.verdicts[1], wit::Verdict::Emit(span(0, 2)));
        assert_eq!(reply.outputs[0].partition, Some(1));
        assert_eq!(reply.outputs[0].value, Some(span(2, 3)));
        assert_eq!(reply.outputs[0].headers, span(0, 1));
        assert_eq!(reply.outputs[1].value, Some(span(7, 1)));
        assert_eq!(reply.verdicts[3], wit::Verdict::Reject("bad".into()));
    }
}
