//! Helpers shared by the benches (`mod common;` in each bench file).
#![allow(dead_code)]

use criterion::Criterion;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use wasp::record::{BatchInfo, Header, Record as Message};
use wasp::runtime::{Engine, EngineOptions, InstanceContext, Limits, Plugin, PluginInstance};

/// Criterion settings that keep every bench file to about a minute.
pub fn criterion() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20)
        .configure_from_args()
}

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("host/ has a parent").to_path_buf()
}

/// A built plugin component; panics with the fix when it was not built.
pub fn plugin_path(name: &str) -> PathBuf {
    let p = root().join("plugins/dist").join(format!("{name}.wasm"));
    assert!(
        p.exists(),
        "{} is missing: build the plugins with `cargo xtask plugins` before running the benches",
        p.display()
    );
    p
}

/// The compiled-code cache the benches share, so only the first run compiles.
pub fn bench_cache_dir() -> PathBuf {
    root().join("target/bench-cache")
}

/// An engine with the benches' cache and the given options.
pub fn engine(mut opts: EngineOptions) -> Engine {
    if opts.cache_dir.is_none() {
        opts.cache_dir = Some(bench_cache_dir());
    }
    Engine::new(&opts).expect("creating the engine")
}

/// The default engine (on-demand allocation, no fuel, cached code).
pub fn default_engine() -> Engine {
    engine(EngineOptions::default())
}

/// Load a plugin from `plugins/dist`.
pub fn load(engine: &Engine, name: &str) -> Arc<Plugin> {
    Plugin::load(engine, &plugin_path(name)).unwrap_or_else(|e| panic!("loading {name}: {e}"))
}

/// The instance context of a stage named `stage`.
pub fn context(stage: &str, config_json: &str, limits: Limits) -> InstanceContext {
    InstanceContext::standalone(stage, config_json, limits)
}

/// A started instance of `plugin` with the partition of [`info`] set.
pub fn instance(plugin: &Arc<Plugin>, config_json: &str, limits: Limits) -> PluginInstance {
    let mut inst = plugin
        .instantiate(context("bench", config_json, limits))
        .unwrap_or_else(|e| panic!("instantiating {}: {e}", plugin.path().display()));
    let i = info();
    inst.set_partition(&i.topic, i.partition);
    inst
}

/// The batch info every bench uses.
pub fn info() -> BatchInfo {
    BatchInfo { topic: "bench-input".into(), partition: 0 }
}

/// A sensor-like JSON object of about 100 bytes, different per `i`.
pub fn json_value(i: usize) -> Vec<u8> {
    format!(
        r#"{{"id":{},"sensor":"boiler-{}","temperature":{:.2},"humidity":{:.2},"ts":{},"ok":true}}"#,
        100_000 + i,
        i % 10,
        18.0 + (i % 70) as f64 * 0.1,
        40.0 + (i % 300) as f64 * 0.1,
        1_718_000_000_000u64 + i as u64,
    )
    .into_bytes()
}

/// An 8-byte key.
pub fn key(i: usize) -> Vec<u8> {
    format!("k{:07}", i % 10_000_000).into_bytes()
}

/// Two typical headers (a trace id and a source name).
pub fn headers(i: usize) -> Vec<Header> {
    vec![
        Header { key: "trace-id".into(), value: format!("{:016x}", i * 7919).into_bytes() },
        Header { key: "source".into(), value: b"gateway-eu-1".to_vec() },
    ]
}

/// A record with an 8-byte key and a ~100-byte JSON value, with or without headers.
pub fn record(i: usize, with_headers: bool) -> Message {
    Message {
        offset: i as i64,
        timestamp: Some(1_718_000_000_000 + i as i64),
        key: Some(key(i)),
        value: Some(json_value(i)),
        headers: if with_headers { headers(i) } else { Vec::new() },
    }
}

/// `n` records from [`record`].
pub fn records(n: usize, with_headers: bool) -> Vec<Message> {
    (0..n).map(|i| record(i, with_headers)).collect()
}

/// A record carrying `value` (no key, no headers).
pub fn value_record(offset: usize, value: Vec<u8>) -> Message {
    Message {
        offset: offset as i64,
        timestamp: Some(1_718_000_000_000 + offset as i64),
        key: None,
        value: Some(value),
        headers: Vec::new(),
    }
}

/// The host's record as the SDK's native type, for plugins compiled
/// natively: key and value borrowed, as the SDK gives them inside Wasm.
pub fn native(m: &Message) -> wasp_sdk::Message<'_> {
    wasp_sdk::Message {
        offset: m.offset,
        timestamp: m.timestamp,
        key: m.key.as_deref().map(Into::into),
        value: m.value.as_deref().map(Into::into),
        headers: m
            .headers
            .iter()
            .map(|h| wasp_sdk::Header { key: h.key.clone(), value: h.value.clone() })
            .collect(),
    }
}

/// [`native`] of every record.
pub fn native_batch(batch: &[Message]) -> Vec<wasp_sdk::Message<'_>> {
    batch.iter().map(native).collect()
}

/// json-transform's bench config: select 5 of 6 fields, scale 2, rename 2.
pub const JSON_TRANSFORM_CONFIG: &str = r#"{
    "select": ["id", "sensor", "temperature", "humidity", "ts"],
    "scale": {"temperature": {"multiply": 1.8, "offset": 32}, "humidity": {"multiply": 0.01}},
    "rename": {"temperature": "temperature_f", "ts": "timestamp"}
}"#;

/// knn's bench config: the builtin Iris set, 4 features, k = 5.
pub const KNN_CONFIG: &str = r#"{
    "builtin": "iris",
    "features": ["sepal_length", "sepal_width", "petal_length", "petal_width"],
    "label": "species",
    "k": 5
}"#;

/// The anomaly plugin with scikit-learn's settings of
/// tests/data/sensors/sklearn.json: 1000 warm-up samples, 100 trees of 256.
pub const ANOMALY_CONFIG: &str = r#"{"features":["temperature","humidity","pressure"],"warmup":1000,
    "trees":100,"sample_size":256,"contamination":0.05,"seed":42,"label_field":"is_anomaly"}"#;

/// The Iris rows as JSON records with their true species, cycled to `n`.
pub fn iris_records(n: usize) -> Vec<Message> {
    let rows: Vec<&str> = knn::config::IRIS_CSV.lines().skip(1).filter(|l| !l.is_empty()).collect();
    (0..n)
        .map(|i| {
            let f: Vec<&str> = rows[i % rows.len()].split(',').collect();
            let value = format!(
                r#"{{"sepal_length":{},"sepal_width":{},"petal_length":{},"petal_width":{},"species":"{}"}}"#,
                f[0], f[1], f[2], f[3], f[4]
            );
            value_record(i, value.into_bytes())
        })
        .collect()
}

/// The labelled sensor stream of `tests/data/sensors/stream.jsonl`.
pub fn sensor_records() -> Vec<Message> {
    let path = root().join("tests/data/sensors/stream.jsonl");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| value_record(i, l.as_bytes().to_vec()))
        .collect()
}
