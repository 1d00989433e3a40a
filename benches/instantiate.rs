//! Costs around the plugin call rather than in it:
//! - `instantiate`: `Plugin::instantiate` (new store, instantiation, `init`
//!   with the stage config) and dropping the instance, with wasmtime's
//!   default on-demand allocator and with the pooling allocator
//!   (`EngineOptions::pooling`). This is what starting a worker or
//!   recycling a poisoned instance costs.
//! - `limits/*`: throughput at batch 256 under default limits, with fuel
//!   metering on, with a small memory cap, and with the pooling allocator.
//! - `compile/*`: `Plugin::load` compiling without the code cache versus
//!   loading from a warm cache (a restart).
//!
//! Run: `cargo bench --bench instantiate` (plugins built by `cargo xtask plugins`).

mod common;

use criterion::{
    criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput,
};
use std::hint::black_box;
use std::time::Duration;
use wasp::runtime::{EngineOptions, Limits, Plugin};

const BATCH: usize = 256;

/// The plugins measured, with the config their stage would give.
const PLUGINS: [(&str, &str); 2] = [
    ("identity", "{}"),
    (
        "json-transform",
        r#"{"select":["id","sensor","temperature","humidity","ts"],
            "scale":{"temperature":{"multiply":1.8,"offset":32}},
            "rename":{"temperature":"temperature_f"}}"#,
    ),
];

/// Fuel per call when metering is on: far more than a batch uses, so it
/// measures the cost of counting, not of running out.
const BIG_FUEL: u64 = 10_000_000_000;

/// The small memory cap: a few MiB, above what these plugins need for a
/// batch of 256 records.
const SMALL_MEMORY_MIB: u64 = 4;

fn instantiate(c: &mut Criterion) {
    let engines = [
        ("on-demand", common::default_engine()),
        ("pooling", common::engine(EngineOptions { pooling: true, ..Default::default() })),
    ];
    let mut group = c.benchmark_group("instantiate");
    for (name, config) in PLUGINS {
        for (alloc, engine) in &engines {
            let plugin = common::load(engine, name);
            let ctx = common::context("bench", config, Limits::default());
            // Checks the config is accepted before timing.
            drop(plugin.instantiate(ctx.clone()).expect("instantiating"));
            group.bench_function(BenchmarkId::new(name, alloc), |b| {
                b.iter(|| plugin.instantiate(ctx.clone()).expect("instantiating"))
            });
        }
    }
    group.finish();
}

fn limits(c: &mut Criterion) {
    let plain = common::default_engine();
    let fuel = common::engine(EngineOptions { fuel: true, ..Default::default() });
    let pooling = common::engine(EngineOptions { pooling: true, ..Default::default() });
    let variants = [
        ("default", &plain, Limits::default()),
        ("fuel", &fuel, Limits { fuel: Some(BIG_FUEL), ..Limits::default() }),
        ("memory-cap-4mib", &plain, Limits { memory_mib: SMALL_MEMORY_MIB, ..Limits::default() }),
        ("pooling", &pooling, Limits::default()),
    ];
    let batch = common::records(BATCH, false);
    let info = common::info();
    for (name, config) in PLUGINS {
        let mut group = c.benchmark_group(format!("limits/{name}"));
        group.throughput(Throughput::Elements(BATCH as u64));
        for (variant, engine, limits) in &variants {
            let plugin = common::load(engine, name);
            let mut inst = common::instance(&plugin, config, *limits);
            let verdicts = inst
                .process(&info, &batch)
                .unwrap_or_else(|f| panic!("{name} under {variant} limits: {f}"));
            assert_eq!(verdicts.len(), BATCH);
            group.bench_function(*variant, |b| {
                b.iter(|| inst.process(&info, black_box(&batch)).expect("processing"))
            });
        }
        group.finish();
    }
}

fn compile(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("wasp-bench-cache-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let uncached = common::engine(EngineOptions { no_cache: true, ..Default::default() });
    let cached =
        common::engine(EngineOptions { cache_dir: Some(dir.clone()), ..Default::default() });
    let mut group = c.benchmark_group("compile");
    // A compile takes up to ~100 ms: flat sampling keeps 10 samples within
    // a few seconds.
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .measurement_time(Duration::from_secs(3));
    for (name, _) in PLUGINS.iter().chain(&[("knn", "")]) {
        let path = common::plugin_path(name);
        group.bench_function(BenchmarkId::new(*name, "no-cache"), |b| {
            b.iter(|| Plugin::load(&uncached, &path).expect("compiling"))
        });
        // Fill the cache, then every load is a cache hit.
        Plugin::load(&cached, &path).expect("compiling into the cache");
        group.bench_function(BenchmarkId::new(*name, "cached"), |b| {
            b.iter(|| Plugin::load(&cached, &path).expect("loading from the cache"))
        });
    }
    group.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = instantiate, limits, compile
}
criterion_main!(benches);
