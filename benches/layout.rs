//! Bench-only: what wasmtime costs per record to lower one identity batch
//! in three layouts (`plugins/layout-probe/probe.wit`): 0.2.0's `list<message>`
//! of records with option and span fields, plain integer columns
//! (`list<s64>`, `list<u32>`), and fixed-size entries inside `bytes`. The
//! guest (`plugins/layout-probe`) builds the same borrowed view per record
//! and passes every record in each. Each iteration includes the host filling
//! its reusable buffers from `wasp::record::Record`s, as wasp's 0.2 encoder
//! does, and lifting the verdicts. `boundary/identity` through wasp runs in
//! the same process for reference.
//!
//! Run: `cargo bench -p wasp --bench layout` (plugins built by `cargo xtask plugins`).

mod common;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;
use wasmtime::component::{Component, Linker};
use wasmtime::Store;
use wasp::record::Record;
use wasp::runtime::Limits;

/// The probe's generated bindings (documented in `probe.wit`).
#[allow(missing_docs)]
mod bindings {
    wasmtime::component::bindgen!({ path: "../plugins/layout-probe/probe.wit", world: "probe" });
}

use bindings::exports::wasp::layout_probe::layouts::{
    Columns, Fixed, Header, Message, Rows, Span, Verdict,
};

const N: usize = 256;
/// Length that marks a missing key or value in `columns` and `fixed`.
const NONE: u32 = u32::MAX;

fn put(bytes: &mut Vec<u8>, data: &[u8]) -> Span {
    let start = bytes.len() as u32;
    bytes.extend_from_slice(data);
    Span { start, len: data.len() as u32 }
}

fn put_opt(bytes: &mut Vec<u8>, data: Option<&[u8]>) -> (u32, u32) {
    data.map(|d| put(bytes, d)).map_or((0, NONE), |s| (s.start, s.len))
}

fn fill_rows(b: &mut Rows, records: &[Record]) {
    b.messages.clear();
    b.headers.clear();
    b.bytes.clear();
    for r in records {
        let first = b.headers.len() as u32;
        for h in &r.headers {
            let key = put(&mut b.bytes, h.key.as_bytes());
            let value = put(&mut b.bytes, &h.value);
            b.headers.push(Header { key, value });
        }
        let key = r.key.as_deref().map(|k| put(&mut b.bytes, k));
        let value = r.value.as_deref().map(|v| put(&mut b.bytes, v));
        b.messages.push(Message {
            offset: r.offset,
            timestamp: r.timestamp,
            key,
            value,
            headers: Span { start: first, len: r.headers.len() as u32 },
        });
    }
}

/// The six per-record `u32`s and the four per header of `columns` and
/// `fixed`, in order, with `bytes` filled.
fn fill_spans(
    records: &[Record],
    bytes: &mut Vec<u8>,
    mut record: impl FnMut(&Record, [u32; 6]),
    mut header: impl FnMut([u32; 4]),
) {
    bytes.clear();
    let mut first = 0u32;
    for r in records {
        for h in &r.headers {
            let k = put(bytes, h.key.as_bytes());
            let v = put(bytes, &h.value);
            header([k.start, k.len, v.start, v.len]);
        }
        let (ks, kl) = put_opt(bytes, r.key.as_deref());
        let (vs, vl) = put_opt(bytes, r.value.as_deref());
        let n = r.headers.len() as u32;
        record(r, [ks, kl, vs, vl, first, n]);
        first += n;
    }
}

fn fill_columns(b: &mut Columns, records: &[Record]) {
    let (offsets, timestamps, spans, headers) =
        (&mut b.offsets, &mut b.timestamps, &mut b.spans, &mut b.headers);
    offsets.clear();
    timestamps.clear();
    spans.clear();
    headers.clear();
    fill_spans(
        records,
        &mut b.bytes,
        |r, s| {
            offsets.push(r.offset);
            timestamps.push(r.timestamp.unwrap_or(i64::MIN));
            spans.extend_from_slice(&s);
        },
        |h| headers.extend_from_slice(&h),
    );
}

fn fill_fixed(b: &mut Fixed, records: &[Record]) {
    let (entries, headers) = (&mut b.entries, &mut b.headers);
    entries.clear();
    headers.clear();
    fill_spans(
        records,
        &mut b.bytes,
        |r, s| {
            entries.extend_from_slice(&r.offset.to_le_bytes());
            entries.extend_from_slice(&r.timestamp.unwrap_or(i64::MIN).to_le_bytes());
            s.iter().for_each(|x| entries.extend_from_slice(&x.to_le_bytes()));
        },
        |h| h.iter().for_each(|x| headers.extend_from_slice(&x.to_le_bytes())),
    );
}

fn passed(v: &[Verdict]) -> usize {
    v.iter().filter(|v| matches!(v, Verdict::Pass)).count()
}

fn layouts(c: &mut Criterion) {
    let engine = common::default_engine();
    let wasm = engine.wasmtime();
    let component = Component::from_file(wasm, common::plugin_path("layout-probe"))
        .expect("compiling layout-probe");
    let mut store = Store::new(wasm, ());
    // wasp's engine interrupts on epochs; the probe runs without a deadline.
    store.set_epoch_deadline(u64::MAX / 2);
    let probe = bindings::Probe::instantiate(&mut store, &component, &Linker::new(wasm))
        .expect("instantiating layout-probe");
    let p = probe.wasp_layout_probe_layouts();
    let topic = common::info().topic;

    let mut group = c.benchmark_group("layout-256");
    group.throughput(Throughput::Elements(N as u64));
    for headers in [false, true] {
        let records = common::records(N, headers);
        let suffix = if headers { "-2-headers" } else { "" };
        let mut rows = Rows {
            topic: topic.clone(),
            partition: 0,
            messages: Vec::new(),
            headers: Vec::new(),
            bytes: Vec::new(),
        };
        let mut columns = Columns {
            topic: topic.clone(),
            partition: 0,
            offsets: Vec::new(),
            timestamps: Vec::new(),
            spans: Vec::new(),
            headers: Vec::new(),
            bytes: Vec::new(),
        };
        let mut fixed = Fixed {
            topic: topic.clone(),
            partition: 0,
            entries: Vec::new(),
            headers: Vec::new(),
            bytes: Vec::new(),
        };
        let mut codes = fixed.clone();
        let records = &records;
        // Each fills its buffers from the records and calls the guest; it
        // returns how many records passed.
        type Call<'a> = Box<dyn FnMut(&mut Store<()>) -> usize + 'a>;
        let calls: [(&str, Call); 4] = [
            (
                "rows",
                Box::new(|s| {
                    fill_rows(&mut rows, black_box(records));
                    passed(&p.call_via_rows(s, &rows).expect("rows"))
                }),
            ),
            (
                "columns",
                Box::new(|s| {
                    fill_columns(&mut columns, black_box(records));
                    passed(&p.call_via_columns(s, &columns).expect("columns"))
                }),
            ),
            (
                "fixed",
                Box::new(|s| {
                    fill_fixed(&mut fixed, black_box(records));
                    passed(&p.call_via_fixed(s, &fixed).expect("fixed"))
                }),
            ),
            (
                "fixed-codes",
                Box::new(|s| {
                    fill_fixed(&mut codes, black_box(records));
                    let c = p.call_via_fixed_codes(s, &codes).expect("fixed-codes");
                    c.iter().filter(|&&c| c == 0).count()
                }),
            ),
        ];
        for (name, mut call) in calls {
            assert_eq!(call(&mut store), N, "{name}: every record passes");
            group.bench_function(BenchmarkId::from_parameter(format!("{name}{suffix}")), |b| {
                b.iter(|| call(&mut store))
            });
        }
        // The same batch through wasp's 0.2 identity plugin, for reference.
        let plugin = common::load(&engine, "identity");
        let mut inst = common::instance(&plugin, "{}", Limits::default());
        let info = common::info();
        group.bench_function(BenchmarkId::from_parameter(format!("wasp-identity{suffix}")), |b| {
            b.iter(|| inst.process(&info, black_box(records)).expect("identity processes"))
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = layouts
}
criterion_main!(benches);
