//! Per-record cost of crossing the Wasm boundary: the identity plugin
//! (every record `pass`) through `PluginInstance::process`, at several batch
//! sizes, with and without headers; and the same through
//! `PipelineInstance::process` (one identity stage) to show the host-side
//! routing on top. Throughput is per record, so criterion's "time per
//! element" is the per-record cost.
//!
//! Run: `cargo bench --bench boundary` (plugins built by `cargo xtask plugins`).

mod common;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;
use wasp::config::PipelineConfig;
use wasp::pipeline::Pipeline;
use wasp::record::{Record as Message, Verdict};
use wasp::runtime::Limits;

const BATCH_SIZES: [usize; 4] = [1, 16, 256, 1024];

fn identity_process(c: &mut Criterion) {
    let engine = common::default_engine();
    let plugin = common::load(&engine, "identity");
    let info = common::info();
    for (group_name, with_headers) in
        [("boundary/identity", false), ("boundary/identity-2-headers", true)]
    {
        let mut inst = common::instance(&plugin, "{}", Limits::default());
        let mut group = c.benchmark_group(group_name);
        for n in BATCH_SIZES {
            let batch = common::records(n, with_headers);
            let verdicts = inst.process(&info, &batch).expect("identity processes a batch");
            assert!(verdicts.iter().all(|v| matches!(v, Verdict::Pass)), "identity must pass");
            group.throughput(Throughput::Elements(n as u64));
            group.bench_with_input(BenchmarkId::from_parameter(n), &batch, |b, batch| {
                b.iter(|| inst.process(&info, black_box(batch)).expect("identity processes"))
            });
        }
        group.finish();
    }
}

/// A named way to build the `i`-th record.
type Shape = (&'static str, fn(usize) -> Message);

/// What the per-record cost is made of, at batch 256: records with less or
/// more to copy than the default shape (8-byte key, ~100-byte value, no
/// headers; with 2 headers in `identity-2-headers`).
fn record_shape(c: &mut Criterion) {
    const N: usize = 256;
    let engine = common::default_engine();
    let plugin = common::load(&engine, "identity");
    let info = common::info();
    let mut inst = common::instance(&plugin, "{}", Limits::default());
    let shapes: [Shape; 3] = [
        ("no-key-no-value", |i| Message { key: None, value: None, ..common::record(i, false) }),
        ("value-only", |i| Message { key: None, ..common::record(i, false) }),
        ("key+value-1kib", |i| {
            let mut value = common::json_value(i);
            value.truncate(value.len() - 1);
            value.extend_from_slice(
                format!(r#","pad":"{}"}}"#, "x".repeat(1024 - 10 - value.len())).as_bytes(),
            );
            assert_eq!(value.len(), 1024);
            Message { value: Some(value), ..common::record(i, false) }
        }),
    ];
    let mut group = c.benchmark_group("boundary/shape-256");
    group.throughput(Throughput::Elements(N as u64));
    for (name, make) in shapes {
        let batch: Vec<Message> = (0..N).map(make).collect();
        inst.process(&info, &batch).expect("identity processes a batch");
        group.bench_with_input(BenchmarkId::from_parameter(name), &batch, |b, batch| {
            b.iter(|| inst.process(&info, black_box(batch)).expect("identity processes"))
        });
    }
    group.finish();
}

fn identity_pipeline(c: &mut Criterion) {
    let engine = common::default_engine();
    let toml = format!(
        "name = \"bench\"\n[[stage]]\nname = \"identity\"\nplugin = \"{}\"\n",
        common::plugin_path("identity").display()
    );
    let cfg = PipelineConfig::parse(&toml).expect("bench pipeline");
    let pipeline = Pipeline::load(&engine, &cfg).expect("loading the bench pipeline");
    let mut inst = pipeline.instantiate().expect("instantiating the pipeline");
    let info = common::info();
    inst.set_partition(&info.topic, info.partition);
    let mut group = c.benchmark_group("boundary/pipeline-identity");
    for n in BATCH_SIZES {
        let batch = common::records(n, false);
        let outcomes = inst.process(&info, &batch);
        assert!(
            outcomes.iter().all(|o| o.produced.len() == 1 && o.failures.is_empty()),
            "one output per record through an identity pipeline"
        );
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::from_parameter(n), &batch, |b, batch| {
            b.iter(|| inst.process(&info, black_box(batch)))
        });
    }
    group.finish();
}

/// The same pass-through at the boundary under each contract version:
/// `compat-v01` in pass mode (0.1.0, a list per field per record) against
/// `identity` (0.2.0, a batch in a few buffers). Records with and without
/// headers, batch 256.
fn contract_versions(c: &mut Criterion) {
    const N: usize = 256;
    let engine = common::default_engine();
    let info = common::info();
    let mut group = c.benchmark_group("boundary/contract-256");
    group.throughput(Throughput::Elements(N as u64));
    for (name, plugin, config) in
        [("0.1.0", "compat-v01", r#"{"pass":true}"#), ("0.2.0", "identity", "{}")]
    {
        let plugin = common::load(&engine, plugin);
        assert_eq!(plugin.contract(), name, "the bench compares the contract versions it names");
        let mut inst = common::instance(&plugin, config, Limits::default());
        for headers in [false, true] {
            let batch = common::records(N, headers);
            let verdicts = inst.process(&info, &batch).expect("pass-through processes a batch");
            assert!(verdicts.iter().all(|v| matches!(v, Verdict::Pass)), "{name} must pass");
            let id = format!("{name}{}", if headers { "-2-headers" } else { "" });
            group.bench_with_input(BenchmarkId::from_parameter(id), &batch, |b, batch| {
                b.iter(|| inst.process(&info, black_box(batch)).expect("pass-through processes"))
            });
        }
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = identity_process, record_shape, identity_pipeline, contract_versions
}
criterion_main!(benches);
