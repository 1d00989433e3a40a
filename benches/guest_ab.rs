//! Scratch: the same Wasm plugins built several ways (variant dist dirs in
//! GUEST_AB=name=dir,name=dir), measured in one process.
mod common;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;
use std::sync::Arc;
use wasp::record::Record as Message;
use wasp::runtime::{Limits, Plugin};

const JSON: &str = r#"{"select": ["id", "sensor", "temperature", "humidity", "ts"],
    "scale": {"temperature": {"multiply": 1.8, "offset": 32}, "humidity": {"multiply": 0.01}},
    "rename": {"temperature": "temperature_f", "ts": "timestamp"}}"#;
const KNN: &str = r#"{"builtin": "iris", "features": ["sepal_length", "sepal_width", "petal_length", "petal_width"], "label": "species", "k": 5}"#;
const ANOM: &str = r#"{"features":["temperature","humidity","pressure"],"warmup":1000,
        "trees":100,"sample_size":256,"contamination":0.05,"seed":42,"label_field":"is_anomaly"}"#;

fn iris(n: usize) -> Vec<Message> {
    let rows: Vec<&str> = knn::config::IRIS_CSV.lines().skip(1).filter(|l| !l.is_empty()).collect();
    (0..n).map(|i| {
        let f: Vec<&str> = rows[i % rows.len()].split(',').collect();
        let v = format!(r#"{{"sepal_length":{},"sepal_width":{},"petal_length":{},"petal_width":{},"species":"{}"}}"#, f[0], f[1], f[2], f[3], f[4]);
        common::value_record(i, v.into_bytes())
    }).collect()
}

fn sensors() -> Vec<Message> {
    let text =
        std::fs::read_to_string(common::root().join("tests/data/sensors/stream.jsonl")).unwrap();
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| common::value_record(i, l.as_bytes().to_vec()))
        .collect()
}

fn ab(c: &mut Criterion) {
    let engine = common::default_engine();
    let info = common::info();
    let variants: Vec<(String, String)> = std::env::var("GUEST_AB")
        .unwrap()
        .split(',')
        .map(|p| {
            let (a, b) = p.split_once('=').unwrap();
            (a.to_string(), b.to_string())
        })
        .collect();
    let sens = sensors();
    let warm: Vec<Vec<Message>> = sens[..1024].chunks(256).map(<[_]>::to_vec).collect();
    let cases: Vec<(&str, &str, Vec<Message>, Vec<Vec<Message>>)> = vec![
        ("identity", "{}", common::records(256, false), vec![]),
        ("identity-2h", "{}", common::records(256, true), vec![]),
        ("json-transform", JSON, common::records(256, false), vec![]),
        ("knn", KNN, iris(256), vec![]),
        ("anomaly", ANOM, sens[1024..1280].to_vec(), warm),
    ];
    for (name, cfg, batch, warmup) in &cases {
        let file = name.trim_end_matches("-2h");
        let mut group = c.benchmark_group(format!("guest-ab/{name}"));
        group.throughput(Throughput::Elements(256));
        for (v, dir) in &variants {
            let plugin: Arc<Plugin> =
                Plugin::load(&engine, &std::path::Path::new(dir).join(format!("{file}.wasm")))
                    .unwrap();
            let mut inst = common::instance(&plugin, cfg, Limits::default());
            for w in warmup {
                inst.process(&info, w).unwrap();
            }
            group.bench_function(v.as_str(), |b| {
                b.iter(|| inst.process(&info, black_box(batch)).unwrap())
            });
        }
        group.finish();
    }
}

criterion_group! { name = benches; config = common::criterion(); targets = ab }
criterion_main!(benches);
