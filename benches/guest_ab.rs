//! Scratch: the same Wasm plugins built several ways (variant dist dirs in
//! GUEST_AB=name=dir,name=dir), measured in one process.
mod common;

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;
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

fn main() {
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
    let only = std::env::var("GUEST_AB_ONLY").unwrap_or_default();
    let rounds: usize =
        std::env::var("GUEST_AB_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(40);
    let sens = sensors();
    let warm: Vec<Vec<Message>> = sens[..1024].chunks(256).map(<[_]>::to_vec).collect();
    let cases: Vec<(&str, &str, Vec<Message>, Vec<Vec<Message>>, usize)> = vec![
        ("identity", "{}", common::records(256, false), vec![], 50),
        ("identity-2h", "{}", common::records(256, true), vec![], 20),
        ("json-transform", JSON, common::records(256, false), vec![], 4),
        ("knn", KNN, iris(256), vec![], 4),
        ("anomaly", ANOM, sens[1024..1280].to_vec(), warm, 2),
    ];
    for (name, cfg, batch, warmup, iters) in &cases {
        if !only.is_empty() && !only.split(',').any(|o| o == *name) {
            continue;
        }
        let file = name.trim_end_matches("-2h");
        let mut insts = Vec::new();
        for (_, dir) in &variants {
            let plugin: Arc<Plugin> =
                Plugin::load(&engine, &std::path::Path::new(dir).join(format!("{file}.wasm")))
                    .unwrap();
            let mut inst = common::instance(&plugin, cfg, Limits::default());
            for w in warmup {
                inst.process(&info, w).unwrap();
            }
            for _ in 0..*iters {
                inst.process(&info, batch).unwrap();
            }
            insts.push(inst);
        }
        let mut samples: Vec<Vec<f64>> = vec![Vec::new(); variants.len()];
        for _ in 0..rounds {
            for (i, inst) in insts.iter_mut().enumerate() {
                let t = Instant::now();
                for _ in 0..*iters {
                    black_box(inst.process(&info, black_box(batch)).unwrap());
                }
                samples[i].push(t.elapsed().as_nanos() as f64 / (*iters * batch.len()) as f64);
            }
        }
        for (i, (v, _)) in variants.iter().enumerate() {
            let s = &mut samples[i];
            s.sort_by(|a, b| a.partial_cmp(b).unwrap());
            println!(
                "{name:16} {v:16} min {:8.0} ns/rec  p25 {:8.0}  median {:8.0}",
                s[0],
                s[s.len() / 4],
                s[s.len() / 2]
            );
        }
    }
}
