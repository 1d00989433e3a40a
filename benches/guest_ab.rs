//! The same Wasm plugins built several ways, in one process: for A/B of
//! guest-side changes (the SDK, an allocator, a toolchain) on a busy
//! machine. Copy `plugins/dist` after each build into its own folder, then
//!
//! `GUEST_AB=before=/tmp/a,after=/tmp/b cargo bench -p wasp --bench guest_ab`
//!
//! (optional: `GUEST_AB_ONLY=identity,knn`, `GUEST_AB_ROUNDS=300`). Each
//! round times a few batches of 256 through every variant in turn, so the
//! variants share the machine's load; the minimum over the rounds is the
//! figure to compare (docs/benchmarks.md, section 1). Not criterion:
//! criterion runs one variant after another, and on a machine whose load
//! swings its medians moved more than the differences measured here.

mod common;

use std::hint::black_box;
use std::path::Path;
use std::time::Instant;
use wasp::record::Record;
use wasp::runtime::{Limits, Plugin, PluginInstance};

const BATCH: usize = 256;

/// A plugin, its config, its batch, warm-up batches and batches per timing.
type Case = (&'static str, &'static str, &'static str, Vec<Record>, Vec<Vec<Record>>, usize);

fn cases() -> Vec<Case> {
    let sensors = common::sensor_records();
    let warmup: Vec<Vec<Record>> = sensors[..1024].chunks(BATCH).map(<[_]>::to_vec).collect();
    vec![
        ("identity", "identity", "{}", common::records(BATCH, false), vec![], 50),
        ("identity-2-headers", "identity", "{}", common::records(BATCH, true), vec![], 20),
        (
            "json-transform",
            "json-transform",
            common::JSON_TRANSFORM_CONFIG,
            common::records(BATCH, false),
            vec![],
            4,
        ),
        ("knn", "knn", common::KNN_CONFIG, common::iris_records(BATCH), vec![], 4),
        (
            "anomaly",
            "anomaly",
            common::ANOMALY_CONFIG,
            sensors[1024..1024 + BATCH].to_vec(),
            warmup,
            2,
        ),
    ]
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_default()
}

fn main() {
    let variants: Vec<(String, String)> = env("GUEST_AB")
        .split(',')
        .filter_map(|p| p.split_once('=').map(|(a, b)| (a.to_string(), b.to_string())))
        .collect();
    if variants.is_empty() {
        // Also reached by `cargo test --all-targets`: nothing to compare.
        println!("guest_ab: set GUEST_AB=name=dir,name=dir to compare plugin builds");
        return;
    }
    let only = env("GUEST_AB_ONLY");
    let rounds: usize = env("GUEST_AB_ROUNDS").parse().unwrap_or(40);
    let engine = common::default_engine();
    let info = common::info();
    for (name, file, config, batch, warmup, iters) in cases() {
        if !only.is_empty() && !only.split(',').any(|o| o == name) {
            continue;
        }
        let mut insts: Vec<PluginInstance> = variants
            .iter()
            .map(|(_, dir)| {
                let path = Path::new(dir).join(format!("{file}.wasm"));
                let plugin = Plugin::load(&engine, &path)
                    .unwrap_or_else(|e| panic!("loading {}: {e}", path.display()));
                let mut inst = common::instance(&plugin, config, Limits::default());
                for w in warmup.iter().chain(std::iter::repeat_n(&batch, iters)) {
                    inst.process(&info, w).expect("warm-up batch");
                }
                inst
            })
            .collect();
        let mut samples = vec![Vec::with_capacity(rounds); variants.len()];
        for _ in 0..rounds {
            for (inst, s) in insts.iter_mut().zip(&mut samples) {
                let t = Instant::now();
                for _ in 0..iters {
                    black_box(inst.process(&info, black_box(&batch)).expect("a batch"));
                }
                s.push(t.elapsed().as_nanos() as f64 / (iters * BATCH) as f64);
            }
        }
        for ((variant, _), s) in variants.iter().zip(&mut samples) {
            s.sort_by(f64::total_cmp);
            let (min, median) = (s[0], s[s.len() / 2]);
            println!("{name:20} {variant:16} min {min:7.0} ns/record  median {median:7.0}");
        }
    }
}
