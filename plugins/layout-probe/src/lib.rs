//! Bench-only guest for `benches/layout.rs`: the identity plugin over one
//! batch in three boundary layouts (`probe.wit`). Each export builds the
//! same borrowed per-record view the SDK gives plugins, then answers `pass`
//! for every record, so the layouts differ only in how the batch crosses.
// probe.wit's bindings, checked in (scripts/rust-bindings).
include!("bindings.rs");

use exports::wasp::layout_probe::layouts::{Columns, Fixed, Guest, Rows, Span, Verdict};
use std::hint::black_box;

/// What a plugin reads of one record, borrowing the batch.
struct View<'a> {
    offset: i64,
    timestamp: Option<i64>,
    key: Option<&'a [u8]>,
    value: Option<&'a [u8]>,
    headers: (u32, u32),
}

/// Length that marks a missing key or value in `columns` and `fixed`.
const NONE: u32 = u32::MAX;

fn span(bytes: &[u8], s: Span) -> &[u8] {
    &bytes[s.start as usize..(s.start + s.len) as usize]
}

fn part(bytes: &[u8], start: u32, len: u32) -> Option<&[u8]> {
    (len != NONE).then(|| &bytes[start as usize..(start + len) as usize])
}

fn timestamp(t: i64) -> Option<i64> {
    (t != i64::MIN).then_some(t)
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn i64_at(b: &[u8], at: usize) -> i64 {
    i64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

/// The identity plugin: read every record, pass it.
fn identity(views: Vec<View<'_>>) -> Vec<Verdict> {
    views
        .iter()
        .map(|v| {
            black_box((v.offset, v.timestamp, v.key, v.value, v.headers));
            Verdict::Pass
        })
        .collect()
}

fn fixed_views(batch: &Fixed) -> Vec<View<'_>> {
    batch
        .entries
        .chunks_exact(40)
        .map(|e| View {
            offset: i64_at(e, 0),
            timestamp: timestamp(i64_at(e, 8)),
            key: part(&batch.bytes, u32_at(e, 16), u32_at(e, 20)),
            value: part(&batch.bytes, u32_at(e, 24), u32_at(e, 28)),
            headers: (u32_at(e, 32), u32_at(e, 36)),
        })
        .collect()
}

struct Probe;

impl Guest for Probe {
    fn via_rows(batch: Rows) -> Vec<Verdict> {
        let views = batch
            .messages
            .iter()
            .map(|m| View {
                offset: m.offset,
                timestamp: m.timestamp,
                key: m.key.map(|s| span(&batch.bytes, s)),
                value: m.value.map(|s| span(&batch.bytes, s)),
                headers: (m.headers.start, m.headers.len),
            })
            .collect();
        identity(views)
    }

    fn via_columns(batch: Columns) -> Vec<Verdict> {
        let views = batch
            .spans
            .chunks_exact(6)
            .enumerate()
            .map(|(i, s)| View {
                offset: batch.offsets[i],
                timestamp: timestamp(batch.timestamps[i]),
                key: part(&batch.bytes, s[0], s[1]),
                value: part(&batch.bytes, s[2], s[3]),
                headers: (s[4], s[5]),
            })
            .collect();
        identity(views)
    }

    fn via_fixed(batch: Fixed) -> Vec<Verdict> {
        identity(fixed_views(&batch))
    }

    fn via_fixed_codes(batch: Fixed) -> Vec<u8> {
        identity(fixed_views(&batch))
            .iter()
            .map(|v| u8::from(!matches!(v, Verdict::Pass)))
            .collect()
    }
}

export!(Probe);
