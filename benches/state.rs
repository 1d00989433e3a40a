//! State in Kafka, measured against the local broker (docs/benchmarks.md,
//! "State: changelog and restore"):
//!
//! - throughput of a stateful pipeline (k-NN remembering every record's
//!   features for later corrections: one stage-scoped write per record)
//!   with state in memory only, in the local file, and in the changelog;
//! - restore time of 1, 16 and 64 MiB of stage state from the changelog,
//!   and the memory it takes.
//!
//! ```sh
//! export WASP_BOOTSTRAP_SERVERS=$(scripts/broker start)
//! cargo bench -p wasp --bench state            # -- --records N --sizes 1,16,64
//! ```
//!
//! Under `cargo test` (no `--bench` argument) it only checks its pipeline
//! files.

#[path = "common.rs"]
mod common;

use anyhow::{Context, Result};
use clap::Parser;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use wasp::config::PipelineConfig;
use wasp::kafka::admin;
use wasp::offsets::OffsetTracker;
use wasp::state::changelog::KafkaChangelog;
use wasp::state::keys::Part;
use wasp::state::{StateScope, StateStore};

/// State bench options.
#[derive(Debug, Parser)]
#[command(name = "state")]
struct Options {
    /// Backlog records of each throughput run.
    #[arg(long, default_value_t = 100_000)]
    records: usize,
    /// Input partitions (one worker each).
    #[arg(long, default_value_t = 2)]
    partitions: i32,
    /// Stage state to restore, MiB (comma-separated).
    #[arg(long, value_delimiter = ',', default_values_t = [1, 16, 64])]
    sizes: Vec<usize>,
    /// Passed by `cargo bench`.
    #[arg(long, hide = true)]
    bench: bool,
}

/// Where the pipeline keeps its state.
#[derive(Debug, Clone, Copy)]
enum Mode {
    Memory,
    File,
    Changelog,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Memory => "memory only",
            Mode::File => "local file",
            Mode::Changelog => "Kafka changelog",
        }
    }

    fn toml(self) -> &'static str {
        match self {
            Mode::Memory => "",
            Mode::File => "[state]\npath = \"state.bin\"\n",
            Mode::Changelog => "[state]\nchangelog = true\n",
        }
    }
}

/// k-NN over Iris with `remember`: every record's features are kept in
/// stage state under its id, so each batch writes one key per record.
const KNN: &str = r#"builtin = "iris"
features = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
label = "species"
id_field = "id"
k = 5
remember = 1000000
"#;

fn pipeline_toml(name: &str, input: &str, output: &str, dlq: &str, mode: Mode) -> String {
    format!(
        "name = \"{name}\"\n[topics]\ninput = [\"{input}\"]\noutput = \"{output}\"\n\
         dead_letter = \"{dlq}\"\n{}[[stage]]\nname = \"knn\"\nplugin = \"{}\"\n[stage.config]\n{KNN}",
        mode.toml(),
        common::root().join("plugins/dist/knn.wasm").display()
    )
}

fn record(i: usize) -> Vec<u8> {
    let f = |k: usize| 4.0 + ((i * k) % 40) as f64 / 10.0;
    format!(
        r#"{{"id":{i},"sepal_length":{},"sepal_width":{},"petal_length":{},"petal_width":{}}}"#,
        f(7),
        f(3) / 2.0,
        f(11) - 3.0,
        f(5) / 3.0
    )
    .into_bytes()
}

fn unique(tag: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("bench-{tag}-{}-{}", std::process::id(), nanos % 1_000_000_000_000)
}

fn fill(bootstrap: &str, topic: &str, n: usize) -> Result<()> {
    use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
    let p: ThreadedProducer<DefaultProducerContext> = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("linger.ms", "20")
        .create()?;
    for i in 0..n {
        let key = i.to_string();
        admin::send(&p, BaseRecord::to(topic).key(&key).payload(&record(i)))?;
    }
    p.flush(Duration::from_secs(120))?;
    Ok(())
}

/// One throughput run: records/s from the first to the last output's
/// `CreateTime` (start-up left out), and the whole run's wall time.
struct Throughput {
    mode: Mode,
    records_per_sec: f64,
    wall: Duration,
    outputs: usize,
}

fn throughput(bootstrap: &str, dir: &Path, opts: &Options, mode: Mode) -> Result<Throughput> {
    let name = unique("st");
    let (input, output, dlq) = (format!("{name}-in"), format!("{name}-out"), format!("{name}-dlq"));
    admin::create_topics(bootstrap, std::slice::from_ref(&input), opts.partitions)?;
    admin::create_topics(bootstrap, &[output.clone(), dlq.clone()], 1)?;
    fill(bootstrap, &input, opts.records)?;
    let file = dir.join(format!("{name}.toml"));
    std::fs::write(&file, pipeline_toml(&name, &input, &output, &dlq, mode))?;
    let started = Instant::now();
    let status = Command::new(env!("CARGO_BIN_EXE_wasp"))
        .args(["run", "--until-idle", "2", "--max-records"])
        .arg(opts.records.to_string())
        .arg(&file)
        .env("WASP_BOOTSTRAP_SERVERS", bootstrap)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(file.with_extension("log"))?)
        .status()?;
    let wall = started.elapsed();
    anyhow::ensure!(
        status.success(),
        "wasp run failed: see {}",
        file.with_extension("log").display()
    );
    let outs = admin::read_topic(bootstrap, &output, Duration::from_secs(2), None)?;
    let stamps: Vec<i64> = outs.iter().filter_map(|r| r.timestamp).collect();
    let (first, last) = (stamps.iter().min().copied(), stamps.iter().max().copied());
    let window = match (first, last) {
        (Some(a), Some(b)) => ((b - a) as f64 / 1000.0).max(0.001),
        _ => anyhow::bail!("no outputs"),
    };
    Ok(Throughput {
        mode,
        records_per_sec: (outs.len().saturating_sub(1)) as f64 / window,
        wall,
        outputs: outs.len(),
    })
}

/// One restore: what writing `mib` of stage state took, and restoring it
/// on a store of its own.
struct Restore {
    mib: usize,
    sets: u64,
    write: Duration,
    restore: Duration,
    /// Peak RSS of the restoring process.
    rss_mib: f64,
    /// The same before it began (libraries, runtime).
    base_mib: f64,
}

/// Values of 1 KiB, 64 to a write set (one call's writes).
fn restore(bootstrap: &str, mib: usize) -> Result<Restore> {
    let name = unique(&format!("rs{mib}"));
    let input = format!("{name}-in");
    admin::create_topics(bootstrap, std::slice::from_ref(&input), 1)?;
    let cfg = changelog_cfg(&name, &input)?;
    let tracker = Arc::new(OffsetTracker::default());
    let started = Instant::now();
    let sets = {
        let store = StateStore::with_backend(KafkaChangelog::open(&cfg)?);
        let mut scope = StateScope::new(store, &name, "s");
        scope.set_batch(Some(tracker.hold(0)));
        let value = vec![7u8; 1024];
        let per_set = 64;
        let sets = (mib * 1024 / per_set) as u64;
        for s in 0..sets {
            scope.begin();
            for k in 0..per_set {
                scope.set(false, &format!("row/{s:08}/{k:02}"), value.clone(), usize::MAX)?;
            }
            scope.commit();
        }
        scope.set_batch(None);
        sets
    };
    tracker.begin(&[(0, 0)]);
    anyhow::ensure!(
        tracker.wait_settled(Duration::from_secs(300)),
        "the changelog writes were not acknowledged"
    );
    let write = started.elapsed();
    // The restore runs in a process of its own, so its peak memory is the
    // restore's, not this process's history.
    let out = Command::new(std::env::current_exe()?)
        .args(["--child-restore", &name, &input])
        .env("WASP_BOOTSTRAP_SERVERS", bootstrap)
        .stderr(Stdio::inherit())
        .output()?;
    anyhow::ensure!(out.status.success(), "the restore child failed");
    let line = String::from_utf8(out.stdout)?;
    let f: Vec<f64> = line.split_whitespace().filter_map(|x| x.parse().ok()).collect();
    anyhow::ensure!(f.len() == 4, "the restore child said {line:?}");
    anyhow::ensure!(f[0] as u64 == sets, "restored {} sets of {sets}", f[0]);
    Ok(Restore {
        mib,
        sets,
        write,
        restore: Duration::from_secs_f64(f[1]),
        rss_mib: f[2] / 1024.0,
        base_mib: f[3] / 1024.0,
    })
}

fn changelog_cfg(name: &str, input: &str) -> Result<PipelineConfig> {
    PipelineConfig::parse(&format!(
        "name = \"{name}\"\n[topics]\ninput = [\"{input}\"]\n\
         [state]\nchangelog = true\n[[stage]]\nname = \"s\"\nplugin = \"x.wasm\"\n"
    ))
}

/// In a child: restore the stage state of pipeline `name`; print the sets
/// restored, the seconds it took, the peak RSS (KiB) after and before.
fn restore_child(name: &str, input: &str) -> Result<()> {
    let cfg = changelog_cfg(name, input)?;
    let base = wasp::procfs::kib("/proc/self/status", "VmHWM:").unwrap_or(0);
    let started = Instant::now();
    let store = StateStore::with_backend(KafkaChangelog::open(&cfg)?);
    let opened = started.elapsed();
    let done = wasp::state::restore::restore(&store, &Part::Stage)?;
    let took = started.elapsed();
    let hwm = wasp::procfs::kib("/proc/self/status", "VmHWM:").unwrap_or(0);
    // The fixed cost of a read: an empty changelog partition.
    let empty = Instant::now();
    wasp::state::restore::restore(&store, &Part::Partition(input.to_string(), 0))?;
    eprintln!(
        "state bench: open {opened:.2?}, restore {:.2?}, an empty partition {:.2?}",
        done.took,
        empty.elapsed()
    );
    println!("{} {} {hwm} {base}", done.sets, took.as_secs_f64());
    Ok(())
}

fn bootstrap_of_env() -> Result<String> {
    std::env::var("WASP_BOOTSTRAP_SERVERS").ok().filter(|s| !s.is_empty()).context(
        "WASP_BOOTSTRAP_SERVERS is not set: start the local broker with \
         `export WASP_BOOTSTRAP_SERVERS=$(scripts/broker start)`",
    )
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn bench(opts: &Options) -> Result<()> {
    let bootstrap = bootstrap_of_env()?;
    let dir: PathBuf = common::root().join("target/bench/state");
    std::fs::create_dir_all(&dir)?;
    let mut out = String::new();
    out.push_str(&format!(
        "load average before: {}; {} cores\n\n",
        load_average(),
        std::thread::available_parallelism().map_or(1, |n| n.get())
    ));
    out.push_str(&format!(
        "Throughput, k-NN remembering every record ({} records, {} partitions):\n\n\
         | state | records/s | wall (s, start-up included) | outputs |\n|---|---:|---:|---:|\n",
        opts.records, opts.partitions
    ));
    for mode in [Mode::Memory, Mode::File, Mode::Changelog] {
        eprintln!("state bench: throughput, {}", mode.name());
        let t = throughput(&bootstrap, &dir, opts, mode)?;
        out.push_str(&format!(
            "| {} | {:.0} | {:.1} | {} |\n",
            t.mode.name(),
            t.records_per_sec,
            t.wall.as_secs_f64(),
            t.outputs
        ));
    }
    out.push_str(
        "\nRestore of stage state from the changelog (1 KiB values, 64 per write set):\n\n\
         | state | write sets | write + ack (s) | restore (s) | restore MiB/s | peak RSS (MiB) | RSS at start (MiB) |\n\
         |---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for &mib in &opts.sizes {
        eprintln!("state bench: restore of {mib} MiB");
        let r = restore(&bootstrap, mib)?;
        out.push_str(&format!(
            "| {} MiB | {} | {:.2} | {:.2} | {:.1} | {:.0} | {:.0} |\n",
            r.mib,
            r.sets,
            r.write.as_secs_f64(),
            r.restore.as_secs_f64(),
            r.mib as f64 / r.restore.as_secs_f64(),
            r.rss_mib,
            r.base_mib
        ));
    }
    out.push_str(&format!("\nload average after: {}\n", load_average()));
    std::fs::write(dir.join("state.md"), &out)?;
    println!("{out}");
    Ok(())
}

/// `cargo test` runs bench targets without `--bench`: check the pipeline
/// files parse, without a broker.
fn smoke() -> Result<()> {
    for mode in [Mode::Memory, Mode::File, Mode::Changelog] {
        PipelineConfig::parse(&pipeline_toml("x", "i", "o", "d", mode))
            .with_context(|| format!("the {} pipeline", mode.name()))?;
    }
    let _ = record(3);
    println!("state: pipelines checked; the bench runs with `cargo bench -p wasp --bench state`");
    Ok(())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let result = if args.get(1).map(String::as_str) == Some("--child-restore") && args.len() == 4 {
        restore_child(&args[2], &args[3])
    } else if args.iter().any(|a| a == "--bench") {
        bench(&Options::parse())
    } else {
        smoke()
    };
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
