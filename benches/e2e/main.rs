//! End-to-end throughput of wasp on the local broker, side by side with
//! its baselines and Python peers, all measured in one run.
//!
//! ```sh
//! export WASP_BOOTSTRAP_SERVERS=$(scripts/broker start)
//! cargo xtask plugins
//! cargo bench -p wasp --bench e2e            # -- --help lists the knobs
//! ```
//!
//! For each pipeline (pass-through, json-transform, Iris k-NN, seed 001's
//! heart and review models) it measures `wasp run`, the native twin (the
//! plugin crate compiled natively in wasp's shape), the raw rdkafka loop
//! (pass-through), and for the models the two Python peers in
//! `scripts/peers/`; then wasp json-transform over 1, 2, 4
//! partitions and over batch sizes; and the same scale workload with a
//! plugin in every language (languages.rs). Every system runs as its own child
//! process on fresh, pre-filled topics (measure.rs says how). Results go
//! to `target/bench/e2e.{md,json,png}`; docs/benchmarks.md discusses them.
//!
//! Under `cargo test` (no `--bench` argument) it only checks its workloads.

// The helpers every bench shares: the repository root, the sensor records,
// instance contexts.
#[path = "../common.rs"]
mod common;
mod languages;
mod measure;
mod peers;
mod report;
mod twin;
mod workload;

use anyhow::{bail, Context, Result};
use clap::Parser;
use measure::{Env, Measured, Run, System};
use report::{Machine, Results};
use std::path::{Path, PathBuf};
use std::time::Instant;
use workload::Workload;

/// Which parts of the harness to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Section {
    /// Each pipeline: wasp, native twin, raw rdkafka (pass-through).
    Main,
    /// The Python peers on Iris k-NN and seed 001's two models.
    Peers,
    /// wasp json-transform over `--workers` partitions.
    Scale,
    /// wasp json-transform over `--batches`.
    Batch,
    /// The scale workload with each language's plugin: size, records/s,
    /// memory per instance.
    Languages,
}

/// End-to-end bench of wasp against baselines and peers.
#[derive(Debug, Parser)]
#[command(name = "e2e")]
struct Options {
    /// Backlog records per run.
    #[arg(long, default_value_t = 300_000)]
    records: usize,
    /// Backlog records for the Python per-record peer (it is slow; rates
    /// are compared as records/s).
    #[arg(long, default_value_t = 5_000)]
    peer_records: usize,
    /// Partitions of the main comparison (wasp runs one worker each).
    #[arg(long, default_value_t = 2)]
    partitions: i32,
    /// `batch.max_records` of the main comparison.
    #[arg(long, default_value_t = 256)]
    batch: usize,
    /// Partition counts of the scaling sweep (capped at 2 × cores).
    #[arg(long, value_delimiter = ',', default_values_t = [1, 2, 4])]
    workers: Vec<i32>,
    /// Batch sizes of the batch sweep.
    #[arg(long, value_delimiter = ',', default_values_t = [1, 16, 256, 1024])]
    batches: Vec<usize>,
    /// Offered rate of the latency phase, records/s (at most half of the
    /// system's measured throughput).
    #[arg(long, default_value_t = 10_000.0)]
    latency_rate: f64,
    /// Length of the latency phase, seconds.
    #[arg(long, default_value_t = 2.0)]
    latency_secs: f64,
    /// Repetitions of every run; each run reports its median repetition.
    #[arg(long, default_value_t = 3)]
    repeat: usize,
    /// Systems of the main comparison (comma-separated: wasp, raw, native).
    #[arg(long, value_delimiter = ',', default_values = ["wasp", "raw", "native"])]
    systems: Vec<String>,
    /// The `wasp` binary to measure (default: the one this bench was built with),
    /// e.g. an older build for a before/after comparison.
    #[arg(long)]
    wasp: Option<PathBuf>,
    /// Pipelines of the main comparison (comma-separated).
    #[arg(long, value_delimiter = ',', default_values = ["pass", "json", "knn", "heart", "reviews"])]
    pipelines: Vec<Workload>,
    /// Parts to run (comma-separated).
    #[arg(long, value_delimiter = ',', default_values = ["main", "peers", "scale", "batch", "languages"])]
    only: Vec<Section>,
    /// Languages of the `languages` section (comma-separated: rust, c, go,
    /// js, python).
    #[arg(long, value_delimiter = ',', default_values = ["rust", "c", "go", "js", "python"])]
    languages: Vec<String>,
    /// Backlog of a language instead of its default (`LANG=N`,
    /// comma-separated or repeated), e.g. `python=50000`.
    #[arg(long = "language-records", value_name = "LANG=N", value_delimiter = ',')]
    language_records: Vec<String>,
    /// Instances created to measure memory per instance.
    #[arg(long, default_value_t = 16)]
    instances: usize,
    /// Extra librdkafka consumer property for wasp and the Rust baselines
    /// (`KEY=VALUE`, repeatable), e.g. `fetch.wait.max.ms=10`.
    #[arg(long = "consumer", value_name = "KEY=VALUE")]
    consumer: Vec<String>,
    /// Extra librdkafka producer property for wasp and the Rust baselines.
    #[arg(long = "producer", value_name = "KEY=VALUE")]
    producer: Vec<String>,
    /// Output directory, relative to the repository root.
    #[arg(long, default_value = "target/bench")]
    out: PathBuf,
    /// Passed by `cargo bench`.
    #[arg(long, hide = true)]
    bench: bool,
}

/// The same allocator as the `wasp` binary, so the Rust baselines (the
/// `--child` processes) differ from wasp only in what they do.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let result = if args.get(1).map(String::as_str) == Some("--child") {
        if args.get(2).map(String::as_str) == Some("memory") {
            languages::memory_child(&args[3..])
        } else {
            twin::main(&args[2..])
        }
    } else if !args.iter().any(|a| a == "--bench") {
        smoke()
    } else {
        harness(Options::parse())
    };
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

/// `cargo test` runs bench targets without `--bench`: check the workloads
/// and pipeline files without a broker.
fn smoke() -> Result<()> {
    for w in [
        Workload::Pass,
        Workload::Json,
        Workload::Knn,
        Workload::Scale,
        Workload::Heart,
        Workload::Reviews,
    ] {
        for i in [0, 149, 150, 99_999] {
            let v = w.value(i);
            if w.text_records() {
                std::str::from_utf8(&v)
                    .with_context(|| format!("{} record {i} is not UTF-8", w.name()))?;
            } else {
                serde_json::from_slice::<serde_json::Value>(&v)
                    .with_context(|| format!("{} record {i} is not JSON", w.name()))?;
            }
        }
        let toml = format!(
            "name='x'\n{}",
            languages::stage_toml(w, Path::new(&format!("{}.wasm", w.plugin())))
        );
        wasp::config::PipelineConfig::parse(&toml)
            .with_context(|| format!("{} pipeline", w.name()))?;
    }
    println!("e2e: workloads checked; the harness runs with `cargo bench -p wasp --bench e2e`");
    Ok(())
}

fn harness(opts: Options) -> Result<()> {
    let started = Instant::now();
    let load_before = report::load_average();
    let root = common::root();
    let bootstrap =
        std::env::var("WASP_BOOTSTRAP_SERVERS").ok().filter(|s| !s.is_empty()).context(
            "WASP_BOOTSTRAP_SERVERS is not set: start the local broker with \
         `export WASP_BOOTSTRAP_SERVERS=$(scripts/broker start)`",
        )?;
    preflight(&bootstrap)?;
    let out = root.join(&opts.out);
    let logs = out.join("e2e-logs");
    std::fs::create_dir_all(&logs)?;
    let wants = |s: Section| opts.only.contains(&s);

    let python = if wants(Section::Peers) {
        match peers::setup(&root) {
            Ok(p) => Some(p),
            Err(e) => {
                eprintln!("e2e: the Python peers are skipped: {e:#}");
                None
            }
        }
    } else {
        None
    };
    let versions = python.as_deref().map_or_else(|| "not run".into(), peers::versions);
    let env = Env {
        root: root.clone(),
        bootstrap,
        logs,
        plugins: root.join("plugins/dist"),
        wasp: opts.wasp.clone().unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_wasp"))),
        me: std::env::current_exe()?,
        python: python.clone().map(|p| (p, root.join("scripts/peers/peer.py"))),
        latency_rate: opts.latency_rate,
        latency_secs: opts.latency_secs,
        consumer: key_values(&opts.consumer)?,
        producer: key_values(&opts.producer)?,
    };
    let (langs, lang_errors) =
        if wants(Section::Languages) { language_plan(&opts, &env)? } else { Default::default() };

    let (p, b, n) = (opts.partitions, opts.batch, opts.records);
    let run = |system, workload, partitions, batch, records| Run {
        system,
        workload,
        partitions,
        batch,
        records,
        language: None,
    };
    // (section, run): the plan, in order.
    let mut plan: Vec<(Section, Run)> = Vec::new();
    if wants(Section::Main) {
        for (w, systems) in [
            (Workload::Pass, &[System::Raw, System::Native, System::Wasp][..]),
            (Workload::Json, &[System::Native, System::Wasp]),
            (Workload::Knn, &[System::Native, System::Wasp]),
            (Workload::Heart, &[System::Native, System::Wasp]),
            (Workload::Reviews, &[System::Native, System::Wasp]),
        ] {
            if !opts.pipelines.contains(&w) {
                continue;
            }
            for &s in systems {
                if !opts.systems.iter().any(|x| x == s.tag()) {
                    continue;
                }
                plan.push((Section::Main, run(s, w, p, b, n)));
            }
        }
    }
    if wants(Section::Peers) && python.is_some() {
        for w in [Workload::Knn, Workload::Heart, Workload::Reviews] {
            if opts.pipelines.contains(&w) {
                plan.push((Section::Peers, run(System::PyBatched, w, p, b, n)));
                plan.push((Section::Peers, run(System::PyPerRecord, w, p, b, opts.peer_records)));
            }
        }
    }
    let max_workers = 2 * std::thread::available_parallelism().map_or(1, |c| c.get()) as i32;
    let main_json = wants(Section::Main) && opts.pipelines.contains(&Workload::Json);
    if wants(Section::Scale) {
        for &w in opts.workers.iter().filter(|&&w| w >= 1 && w <= max_workers) {
            if !(main_json && w == p) {
                plan.push((Section::Scale, run(System::Wasp, Workload::Json, w, b, n)));
            }
        }
    }
    if wants(Section::Batch) {
        for &bs in &opts.batches {
            if !(main_json && bs == b) {
                plan.push((Section::Batch, run(System::Wasp, Workload::Json, p, bs, n)));
            }
        }
    }

    for row in langs.iter().filter(|r| r.missing.is_none()) {
        plan.push((Section::Languages, languages::run(row.language, p, b, row.records)));
    }

    let mut results = Results {
        command: reproduce(),
        machine: Machine::describe(&root, versions),
        records: n,
        peer_records: opts.peer_records,
        partitions: p,
        batch: b,
        repeat: opts.repeat,
        main: Vec::new(),
        scale_sweep: Vec::new(),
        batch_sweep: Vec::new(),
        ratios: Vec::new(),
        languages: langs,
        instances: opts.instances,
        errors: lang_errors,
        wall_seconds: 0.0,
        load: String::new(),
    };
    // Round-robin over the plan, `repeat` times, so a spell of load from
    // elsewhere on the machine hits one repetition of many runs rather than
    // every repetition of one; each run keeps its median repetition.
    let total = plan.len() * opts.repeat;
    let mut samples: Vec<Vec<Measured>> = vec![Vec::new(); plan.len()];
    let mut step = 0;
    for rep in 0..opts.repeat {
        for (i, (_, r)) in plan.iter().enumerate() {
            step += 1;
            let what = describe(r);
            eprintln!("e2e [{step}/{total}] {what}");
            match measure::measure(&env, r) {
                Ok(m) => {
                    eprintln!(
                        "e2e [{step}/{total}]   {:.0} records/s, p50 {:.0} ms, p99 {:.0} ms, peak RSS {:.0} MiB, CPU {:.1} µs/record (broker {:.1})",
                        m.records_per_sec,
                        m.p50_ms,
                        m.p99_ms,
                        m.peak_rss_mib,
                        m.window_cpu_us_per_record,
                        m.window_broker_cpu_us_per_record
                    );
                    samples[i].push(m);
                }
                Err(e) => {
                    eprintln!("e2e [{step}/{total}]   failed: {e:#}");
                    results.errors.push(format!("{what} (repetition {}): {e:#}", rep + 1));
                }
            }
        }
    }
    for ((section, r), mut runs) in plan.into_iter().zip(samples) {
        if runs.is_empty() {
            if let Some(row) = r.language.and_then(|l| results.language_mut(l.tag)) {
                row.missing = Some("every repetition of its run failed (see Failed runs)".into());
            }
            continue;
        }
        runs.sort_by(|a, b| a.records_per_sec.total_cmp(&b.records_per_sec));
        let rates: Vec<f64> = runs.iter().map(|m| m.records_per_sec).collect();
        let mut m = runs.swap_remove(runs.len() / 2);
        m.samples = rates;
        match section {
            Section::Main | Section::Peers => results.main.push(m),
            Section::Scale => results.scale_sweep.push(m),
            Section::Batch => results.batch_sweep.push(m),
            Section::Languages => {
                if let Some(row) = r.language.and_then(|l| results.language_mut(l.tag)) {
                    row.run = Some(m);
                }
            }
        }
    }
    // The main comparison's wasp json-transform run is also a sweep point.
    if let Some(m) = results
        .main
        .iter()
        .find(|m| m.system == System::Wasp && m.workload == Workload::Json)
        .cloned()
    {
        if wants(Section::Scale) && opts.workers.contains(&p) {
            results.scale_sweep.push(m.clone());
        }
        if wants(Section::Batch) && opts.batches.contains(&b) {
            results.batch_sweep.push(m);
        }
    }
    results.scale_sweep.sort_by_key(|m: &Measured| m.partitions);
    results.batch_sweep.sort_by_key(|m: &Measured| m.batch);
    results.compute_ratios();
    results.wall_seconds = started.elapsed().as_secs_f64();
    results.load = format!("{load_before} before, {} after", report::load_average());

    let md = results.markdown();
    let json_path = out.join("e2e.json");
    std::fs::write(&json_path, serde_json::to_string_pretty(&results)?)?;
    std::fs::write(out.join("e2e.md"), &md)?;
    println!("{md}");
    let png = out.join("e2e.png");
    results.chart()?.save(&png)?;
    eprintln!("e2e: chart in {}", png.display());
    eprintln!(
        "e2e: report in {}, numbers in {}",
        out.join("e2e.md").display(),
        json_path.display()
    );
    languages::warn_missing(&results.languages);
    if !results.errors.is_empty() {
        bail!("{} runs failed (see the report)", results.errors.len());
    }
    Ok(())
}

/// The rows of the languages section, with component sizes and memory per
/// instance measured, and the measurements that failed; a missing plugin is
/// said loudly here and in the report.
fn language_plan(opts: &Options, env: &Env) -> Result<(Vec<languages::LanguageRow>, Vec<String>)> {
    let (mut rows, mut errors) = (Vec::new(), Vec::new());
    let backlogs = key_values(&opts.language_records)?;
    for (tag, n) in &backlogs {
        languages::by_tag(tag)?;
        n.parse::<usize>().with_context(|| format!("--language-records {tag}={n}"))?;
    }
    for tag in &opts.languages {
        let lang = languages::by_tag(tag)?;
        let records = backlogs
            .iter()
            .find(|(t, _)| t == tag)
            .map_or(Ok(lang.records), |(_, n)| n.parse::<usize>())?;
        let (path, size) = languages::component(&env.plugins, lang);
        let mut row = languages::LanguageRow {
            language: lang,
            path: path.display().to_string(),
            records,
            component_bytes: None,
            missing: None,
            run: None,
            memory: None,
        };
        match size {
            Ok(bytes) => {
                row.component_bytes = Some(bytes);
                eprintln!("e2e: {} memory per instance ({} instances)", lang.name, opts.instances);
                let memory = languages::measure_memory(
                    &env.me,
                    &env.logs,
                    lang,
                    &path,
                    opts.batch,
                    opts.instances,
                );
                match memory {
                    Ok(m) => row.memory = Some(m),
                    Err(e) => {
                        eprintln!("e2e: {} memory per instance failed: {e:#}", lang.name);
                        errors.push(format!("{} memory per instance: {e:#}", lang.name));
                    }
                }
            }
            Err(e) => row.missing = Some(format!("{e}")),
        }
        rows.push(row);
    }
    languages::warn_missing(&rows);
    Ok((rows, errors))
}

fn describe(r: &Run) -> String {
    format!(
        "{} / {} / {} partitions / batch {} / {} records",
        r.workload.name(),
        r.language.map_or(r.system.name(), |l| l.name),
        r.partitions,
        r.batch,
        r.records
    )
}

/// Fail at once, not run by run, when the broker does not answer.
fn preflight(bootstrap: &str) -> Result<()> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let consumer: BaseConsumer =
        rdkafka::ClientConfig::new().set("bootstrap.servers", bootstrap).create()?;
    consumer.fetch_metadata(None, std::time::Duration::from_secs(10)).with_context(|| {
        format!(
            "the broker at {bootstrap} does not answer: start it with \
             `export WASP_BOOTSTRAP_SERVERS=$(scripts/broker start)`"
        )
    })?;
    Ok(())
}

/// `KEY=VALUE` arguments as pairs.
fn key_values(args: &[String]) -> Result<Vec<(String, String)>> {
    args.iter()
        .map(|a| match a.split_once('=') {
            Some((k, v)) => Ok((k.to_string(), v.to_string())),
            None => bail!("'{a}' is not KEY=VALUE"),
        })
        .collect()
}

/// The command line that reproduces this run.
fn reproduce() -> String {
    let user: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let extra = if user.is_empty() { String::new() } else { format!(" -- {}", user.join(" ")) };
    format!(
        "export WASP_BOOTSTRAP_SERVERS=$(scripts/broker start)\ncargo xtask plugins\ncargo bench -p wasp --bench e2e{extra}"
    )
}
