//! Each shipped Rust plugin run as a Wasm component through
//! `PluginInstance::process` against the same crate compiled natively and
//! called through its `wasp_sdk::Plugin` API (with the SDK's native stubs
//! for state, log and counters). Batches of 256 records; throughput is per
//! record.
//!
//! The native side excludes cloning the input batch (the plugin takes it by
//! value) and dropping the verdicts; the Wasm side includes copying the batch
//! into the guest and the verdicts out, which is the boundary cost measured.
//!
//! Run: `cargo bench --bench plugins` (plugins built by `cargo xtask plugins`).

mod common;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use std::hint::black_box;
use wasp::record::{Record as Message, Verdict};
use wasp::runtime::Limits;

const BATCH: usize = 256;

/// A comparable summary of a host-side verdict.
fn summary(v: &Verdict) -> String {
    let text =
        |b: &Option<Vec<u8>>| String::from_utf8_lossy(b.as_deref().unwrap_or(b"")).into_owned();
    match v {
        Verdict::Pass => "pass".into(),
        Verdict::Value(b) => format!("value {}", String::from_utf8_lossy(b)),
        Verdict::Emit(outs) => {
            format!("emit {:?}", outs.iter().map(|o| text(&o.value)).collect::<Vec<_>>())
        }
        Verdict::Drop => "drop".into(),
        Verdict::Reject(r) => format!("reject {r}"),
    }
}

/// The same summary of a native verdict.
fn native_summary(v: &wasp_sdk::Verdict) -> String {
    let text =
        |b: &Option<Vec<u8>>| String::from_utf8_lossy(b.as_deref().unwrap_or(b"")).into_owned();
    match v {
        wasp_sdk::Verdict::Pass => "pass".into(),
        wasp_sdk::Verdict::Value(b) => format!("value {}", String::from_utf8_lossy(b)),
        wasp_sdk::Verdict::Emit(outs) => {
            format!("emit {:?}", outs.iter().map(|o| text(&o.value)).collect::<Vec<_>>())
        }
        wasp_sdk::Verdict::Drop => "drop".into(),
        wasp_sdk::Verdict::Reject(r) => format!("reject {r}"),
    }
}

/// Benchmark one plugin both ways on `batch`, after checking that both give
/// the same verdicts and that none is a rejection (a benchmark of error
/// paths would measure the wrong thing).
fn compare<P: wasp_sdk::Plugin>(
    c: &mut Criterion,
    name: &str,
    config: &str,
    warmup: &[Vec<Message>],
    batch: &[Message],
) {
    compare_named::<P>(c, name, name, config, warmup, batch)
}

/// [`compare`] with a bench group name other than the plugin's.
fn compare_named<P: wasp_sdk::Plugin>(
    c: &mut Criterion,
    name: &str,
    group_name: &str,
    config: &str,
    warmup: &[Vec<Message>],
    batch: &[Message],
) {
    let engine = common::default_engine();
    let plugin = common::load(&engine, name);
    let mut wasm = common::instance(&plugin, config, Limits::default());
    let mut native_plugin = P::init(config).unwrap_or_else(|e| panic!("{name} init: {e}"));
    let info = common::info();
    let native_info = wasp_sdk::BatchInfo { topic: info.topic.clone(), partition: info.partition };
    for w in warmup {
        wasm.process(&info, w).expect("warm-up batch");
        native_plugin.process_batch(&native_info, common::native_batch(w));
    }
    let wasm_out: Vec<String> =
        wasm.process(&info, batch).expect("Wasm processes the batch").iter().map(summary).collect();
    let native_out: Vec<String> = native_plugin
        .process_batch(&native_info, common::native_batch(batch))
        .iter()
        .map(native_summary)
        .collect();
    assert_eq!(wasm_out.len(), batch.len());
    assert!(!wasm_out.iter().any(|s| s.starts_with("reject")), "{name} rejected: {wasm_out:?}");
    assert_eq!(wasm_out, native_out, "{name}: Wasm and native verdicts differ");

    let mut group = c.benchmark_group(format!("plugins/{group_name}"));
    group.throughput(Throughput::Elements(batch.len() as u64));
    group.bench_function("wasm", |b| {
        b.iter_batched(
            || (),
            |()| wasm.process(&info, black_box(batch)).expect("Wasm processes the batch"),
            BatchSize::SmallInput,
        )
    });
    let input = common::native_batch(batch);
    group.bench_function("native", |b| {
        b.iter_batched(
            || input.clone(),
            |records| native_plugin.process_batch(&native_info, records),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

fn json_transform(c: &mut Criterion) {
    let batch = common::records(BATCH, false);
    compare::<json_transform::JsonTransform>(
        c,
        "json-transform",
        common::JSON_TRANSFORM_CONFIG,
        &[],
        &batch,
    );
}

fn knn(c: &mut Criterion) {
    let batch = common::iris_records(BATCH);
    compare::<knn::KnnPlugin>(c, "knn", common::KNN_CONFIG, &[], &batch);
}

fn anomaly(c: &mut Criterion) {
    let config = common::ANOMALY_CONFIG;
    let records = common::sensor_records();
    let warmup: Vec<Vec<Message>> = records[..1024].chunks(BATCH).map(<[_]>::to_vec).collect();
    let batch = &records[1024..1024 + BATCH];
    compare::<anomaly::AnomalyPlugin>(c, "anomaly", config, &warmup, batch);
}

/// A `model` config for a document of `examples/models` (written by
/// `examples/models/train.py`), printing the seed's texts.
fn model_config(name: &str, texts: [&str; 2]) -> String {
    let path = common::root().join("examples/models").join(format!("{name}.json"));
    let doc = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::json!({"document": doc, "output": "label",
        "labels": {"1": texts[0], "0": texts[1]}})
    .to_string()
}

/// Lines of an `examples/models` input file as records, cycled to `n`.
fn example_records(file: &str, n: usize) -> Vec<Message> {
    let path = common::root().join("examples/models").join(file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let lines: Vec<&str> = text.lines().collect();
    (0..n).map(|i| common::value_record(i, lines[i % lines.len()].as_bytes().to_vec())).collect()
}

/// Seed 001's heart-disease pipeline (impute, scale, one-hot, logistic
/// regression over JSON records) and review sentiment (TF-IDF 1-2 grams,
/// logistic regression over plain text).
fn model(c: &mut Criterion) {
    let heart = model_config("heart", ["Risk of Heart Disease", "No Risk of Heart Disease"]);
    let batch = example_records("heart-input.jsonl", BATCH);
    compare_named::<model::ModelPlugin>(c, "model", "model-heart", &heart, &[], &batch);
    let reviews = model_config("reviews", ["Positive Sentiment", "Negative Sentiment"]);
    let batch = example_records("reviews-input.txt", BATCH);
    compare_named::<model::ModelPlugin>(c, "model", "model-reviews", &reviews, &[], &batch);
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = json_transform, knn, anomaly, model
}
criterion_main!(benches);
