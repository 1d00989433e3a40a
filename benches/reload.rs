//! Hot-reload harness: how long from "plugin file changed" until every
//! worker runs the new version, and how much throughput dips meanwhile.
//!
//! Two workers (the machine's cores) process 256-record batches through a
//! json-transform stage in a loop, as partition workers do, while the
//! plugin file is replaced. Measured with the real file watcher (500 ms
//! poll, one more poll to debounce) and with an explicit reload (what
//! `wasp reload` triggers). No broker: this isolates the swap itself.
//!
//! `cargo bench --bench reload` runs it in full; under `cargo test` it runs
//! one short round so it cannot rot.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wasp::config::PipelineConfig;
use wasp::pipeline::Pipeline;
use wasp::record::{BatchInfo, Record as Message};
use wasp::reload::{self, Reloader};
use wasp::runtime::{Engine, EngineOptions};

mod common;

const WORKERS: usize = 2;
const BATCH: usize = 256;

fn batch() -> Vec<Message> {
    (0..BATCH)
        .map(|i| Message {
            offset: i as i64,
            timestamp: None,
            key: Some(i.to_string().into_bytes()),
            value: Some(format!(r#"{{"id":{i},"temperature":{i},"humidity":40}}"#).into_bytes()),
            headers: vec![],
        })
        .collect()
}

/// A copy of `base` with a custom section: same behaviour, new version.
/// The section holds the time too, so every run compiles genuinely new
/// versions instead of finding them in the compiled-code cache.
fn generation(base: &[u8], g: u8) -> Vec<u8> {
    let name = b"wasp-bench-generation";
    let salt =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
            as u64;
    let mut out = base.to_vec();
    out.push(0);
    out.push((1 + name.len() + 1 + 8) as u8);
    out.push(name.len() as u8);
    out.extend_from_slice(name);
    out.push(g);
    out.extend_from_slice(&salt.to_le_bytes());
    out
}

struct Shared {
    processed: AtomicU64,
    /// Version each worker ran in its last batch.
    versions: Mutex<Vec<String>>,
    stop: AtomicBool,
}

fn run_workers(pipeline: &Arc<Pipeline>, shared: &Arc<Shared>) -> Vec<std::thread::JoinHandle<()>> {
    (0..WORKERS)
        .map(|w| {
            let (pipeline, shared) = (pipeline.clone(), shared.clone());
            std::thread::spawn(move || {
                let mut inst = pipeline.instantiate().expect("instance");
                let info = BatchInfo { topic: "bench".into(), partition: w as i32 };
                let msgs = batch();
                while !shared.stop.load(Ordering::Relaxed) {
                    let out = inst.process(&info, &msgs);
                    assert_eq!(out.len(), BATCH);
                    shared.processed.fetch_add(BATCH as u64, Ordering::Relaxed);
                    shared.versions.lock().unwrap()[w] = inst.versions()[0].to_string();
                }
            })
        })
        .collect()
}

/// Sample throughput every 50 ms until all workers run `version`; returns
/// (time to switch, steady rate before, lowest 50 ms rate while switching).
fn measure_swap(
    shared: &Shared,
    version: &str,
    trigger: impl FnOnce() + Send + 'static,
) -> (Duration, f64, f64) {
    let window = Duration::from_millis(50);
    let rate_over = |d: Duration| {
        let before = shared.processed.load(Ordering::Relaxed);
        std::thread::sleep(d);
        (shared.processed.load(Ordering::Relaxed) - before) as f64 / d.as_secs_f64()
    };
    let steady = rate_over(Duration::from_millis(500));
    let start = Instant::now();
    // The trigger runs beside the sampling, as a reload runs beside workers.
    let triggered = std::thread::spawn(trigger);
    let mut lowest = f64::MAX;
    loop {
        lowest = lowest.min(rate_over(window));
        if shared.versions.lock().unwrap().iter().all(|v| v == version) {
            let took = start.elapsed();
            triggered.join().expect("the reload trigger failed");
            return (took, steady, lowest);
        }
        assert!(start.elapsed() < Duration::from_secs(30), "workers never switched to {version}");
    }
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let rounds = if full { 5 } else { 1 };
    let dir = common::root().join("target/bench-reload");
    std::fs::create_dir_all(&dir).unwrap();
    let base = std::fs::read(common::plugin_path("json-transform")).unwrap();
    let plugin = dir.join("stage.wasm");
    std::fs::write(&plugin, generation(&base, 0)).unwrap();
    let file = dir.join("pipeline.toml");
    std::fs::write(&file, "name = \"reload-bench\"\n[[stage]]\nname = \"t\"\nplugin = \"stage.wasm\"\n[stage.config]\nscale = { temperature = { multiply = 2 } }\n").unwrap();
    let cfg = PipelineConfig::load(&file).unwrap();
    let engine = Engine::new(&EngineOptions {
        cache_dir: Some(common::bench_cache_dir()),
        ..Default::default()
    })
    .unwrap();
    let pipeline = Arc::new(Pipeline::load(&engine, &cfg).unwrap());
    let reloader = Arc::new(Reloader::new(engine.clone(), pipeline.clone(), &file, cfg));
    let shared = Arc::new(Shared {
        processed: AtomicU64::new(0),
        versions: Mutex::new(vec![String::new(); WORKERS]),
        stop: AtomicBool::new(false),
    });
    let workers = run_workers(&pipeline, &shared);
    let stop_watch = Arc::new(AtomicBool::new(false));
    reload::watch(reloader.clone(), Duration::from_millis(500), stop_watch.clone());

    let mut g = 1u8;
    let report = |how: &str, results: Vec<(Duration, f64, f64)>| {
        let n = results.len() as f64;
        let switch_ms = results.iter().map(|r| r.0.as_secs_f64() * 1000.0).sum::<f64>() / n;
        let steady = results.iter().map(|r| r.1).sum::<f64>() / n;
        let lowest = results.iter().map(|r| r.2).fold(f64::MAX, f64::min);
        println!(
            "reload via {how}: file changed -> all {WORKERS} workers on the new version in {switch_ms:.0} ms (mean of {}); \
             steady {steady:.0} rec/s, lowest 50 ms window during the swap {lowest:.0} rec/s ({:.0}% of steady)",
            results.len(),
            100.0 * lowest / steady
        );
    };
    let mut watched = Vec::new();
    for _ in 0..rounds {
        let bytes = generation(&base, g);
        g += 1;
        let version = short_version(&bytes);
        let path = plugin.clone();
        watched
            .push(measure_swap(&shared, &version, move || std::fs::write(&path, &bytes).unwrap()));
    }
    report("file watcher", watched);
    stop_watch.store(true, Ordering::Relaxed);
    std::thread::sleep(Duration::from_millis(600));
    let mut explicit = Vec::new();
    for _ in 0..rounds {
        let bytes = generation(&base, g);
        g += 1;
        let version = short_version(&bytes);
        let (path, reloader) = (plugin.clone(), reloader.clone());
        explicit.push(measure_swap(&shared, &version, move || {
            std::fs::write(&path, &bytes).unwrap();
            let outcomes = reloader.reload();
            assert!(
                matches!(outcomes.as_slice(), [reload::Outcome::Swapped { .. }]),
                "{outcomes:?}"
            );
        }));
    }
    report("explicit reload", explicit);
    shared.stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }
}

fn short_version(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(&Sha256::digest(bytes)[..6])
}
