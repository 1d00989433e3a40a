//! The same workload in every plugin language: component size, records/s
//! through `wasp run`, and what one more instance of the plugin costs.
//!
//! The workload is `Workload::Scale` (the ~100-byte sensor records, two
//! fields scaled), which every language has a plugin for: Rust's
//! json-transform, its C, JavaScript and Go twins, and the Python
//! json-transform. Throughput is measured like every other run
//! (measure.rs). Memory per instance is measured in a child process of its
//! own (`e2e --child memory PIPELINE.toml N`), through wasp's runtime API:
//!
//! - linear memory: the bytes of every linear memory of the instance's
//!   store (and its table elements), as wasp's store limiter granted them,
//!   after `init` and after a warm-up of `WARMUP_BATCHES` batches of the
//!   workload. This is the guest's own size, whatever of it is touched.
//! - PSS per instance: the growth of the child's proportional set size
//!   (`/proc/self/smaps_rollup`) from creating N more instances (`init`, then
//!   the warm-up) divided by N, with one instance created and warmed up
//!   beforehand so one-time costs (the compiled code's pages, the engine's
//!   lazily built state) are left out. PSS, not RSS: wasmtime maps a
//!   module's initial memory image copy-on-write into every instance, and
//!   RSS would count a page shared by N instances N times. This is what
//!   the machine pays for one more instance: the pages the guest wrote, and
//!   the host's bookkeeping for the store.

use crate::measure::{Measured, Run};
use crate::workload::Workload;
use anyhow::{bail, ensure, Context, Result};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use wasp::config::PipelineConfig;
use wasp::record::{Record as Message, Verdict};
use wasp::runtime::{Engine, EngineOptions, Plugin, PluginInstance};

/// A plugin language and its plugin for `Workload::Scale`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Language {
    /// Name in reports.
    pub name: &'static str,
    /// Short tag for `--languages`, topic and file names.
    pub tag: &'static str,
    /// The component in `plugins/dist`, without `.wasm`.
    pub plugin: &'static str,
    /// Default backlog: about 1–3 s of work at the rates measured here.
    pub records: usize,
}

/// Every language wasp has plugins in: compiled ones first, then those
/// whose component carries an interpreter.
pub const LANGUAGES: [Language; 5] = [
    Language { name: "Rust", tag: "rust", plugin: "json-transform", records: 300_000 },
    Language { name: "C", tag: "c", plugin: "scale-c", records: 200_000 },
    Language { name: "Go", tag: "go", plugin: "scale-go", records: 200_000 },
    Language { name: "JavaScript", tag: "js", plugin: "scale-js", records: 100_000 },
    Language { name: "Python", tag: "python", plugin: "json-transform-py", records: 100_000 },
];

/// The language of `tag`.
pub fn by_tag(tag: &str) -> Result<&'static Language> {
    LANGUAGES.iter().find(|l| l.tag == tag).with_context(|| {
        let tags: Vec<&str> = LANGUAGES.iter().map(|l| l.tag).collect();
        format!("unknown language '{tag}': expected one of {}", tags.join(", "))
    })
}

/// A one-stage pipeline file body running `plugin` with the workload's
/// config and the default limits (every language gets the same sandbox);
/// `wasp run` gets topics on top.
pub fn stage_toml(workload: Workload, plugin: &Path) -> String {
    format!(
        "[[stage]]\nname = \"{}\"\nplugin = \"{}\"\n[stage.config]\n{}",
        workload.tag(),
        plugin.display(),
        workload.config_toml()
    )
}

/// Batches of the warm-up before the "after warm-up" numbers.
const WARMUP_BATCHES: usize = 8;

/// What one instance costs (see the module docs).
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
pub struct InstanceMemory {
    /// Instances created for the PSS growth (besides the first).
    pub instances: usize,
    /// Linear memory of one instance after `init`, bytes.
    pub linear_after_init: usize,
    /// Linear memory of one instance after the warm-up, bytes.
    pub linear_after_warmup: usize,
    /// Table elements of one instance after the warm-up.
    pub table_elements: usize,
    /// PSS growth per instance after `init`, bytes.
    pub pss_after_init: f64,
    /// PSS growth per instance after the warm-up, bytes.
    pub pss_after_warmup: f64,
    /// RSS growth per instance after the warm-up, bytes (counts shared
    /// copy-on-write pages once per instance, so it is above PSS).
    pub rss_after_warmup: f64,
}

/// One row of the languages table.
#[derive(Debug, Clone, Serialize)]
pub struct LanguageRow {
    /// The language.
    pub language: &'static Language,
    /// The component's path.
    pub path: String,
    /// Backlog of its run.
    pub records: usize,
    /// Size of the component, bytes; `None` when it is missing.
    pub component_bytes: Option<u64>,
    /// Why the language has no numbers (missing plugin, failed runs).
    pub missing: Option<String>,
    /// The median run through `wasp run`.
    pub run: Option<Measured>,
    /// Memory per instance.
    pub memory: Option<InstanceMemory>,
}

/// The component of `lang` in `dist`, or a loud message that it is missing.
pub fn component(dist: &Path, lang: &Language) -> (PathBuf, Result<u64>) {
    let path = dist.join(format!("{}.wasm", lang.plugin));
    let size = std::fs::metadata(&path).map(|m| m.len()).map_err(|_| {
        anyhow::anyhow!(
            "{} plugin MISSING: {} is not built (`cargo xtask plugins`); the {} row has no numbers",
            lang.name,
            path.display(),
            lang.name
        )
    });
    (path, size)
}

/// Say loudly, on stderr, which languages have no numbers and why.
pub fn warn_missing(rows: &[LanguageRow]) {
    for row in rows {
        if let Some(why) = &row.missing {
            eprintln!("\n!!!!!!!! e2e: NO {} ROW: {why}\n", row.language.name.to_uppercase());
        }
    }
}

/// The run of `lang` with the common workload.
pub fn run(lang: &'static Language, partitions: i32, batch: usize, records: usize) -> Run {
    Run {
        system: crate::measure::System::Wasp,
        workload: Workload::Scale,
        partitions,
        batch,
        records,
        language: Some(lang),
    }
}

/// Measure the memory per instance of `lang` in a child process.
pub fn measure_memory(
    me: &Path,
    logs: &Path,
    lang: &Language,
    plugin: &Path,
    batch: usize,
    instances: usize,
) -> Result<InstanceMemory> {
    let file = logs.join(format!("memory-{}.toml", lang.tag));
    let toml = format!(
        "name = \"memory-{}\"\n[batch]\nmax_records = {batch}\n{}",
        lang.tag,
        stage_toml(Workload::Scale, plugin)
    );
    std::fs::write(&file, toml)?;
    let out = Command::new(me)
        .args(["--child", "memory"])
        .arg(&file)
        .arg(instances.to_string())
        .output()
        .context("starting the memory child")?;
    if !out.status.success() {
        bail!("the memory child failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr));
    }
    serde_json::from_slice(&out.stdout).context("reading the memory child's report")
}

/// `(Pss, Rss)` of this process, bytes.
fn pss_rss() -> Result<(f64, f64)> {
    let field = |name: &str| -> Result<f64> {
        let kib = wasp::procfs::kib("/proc/self/smaps_rollup", name)
            .with_context(|| format!("no {name} in /proc/self/smaps_rollup"))?;
        Ok(kib as f64 * 1024.0)
    };
    Ok((field("Pss:")?, field("Rss:")?))
}

/// A started instance of the pipeline's only stage.
fn start(
    plugin: &Arc<Plugin>,
    stage: &wasp::config::StageConfig,
    n: usize,
) -> Result<PluginInstance> {
    let ctx =
        crate::common::context(&format!("{}-{n}", stage.name), &stage.config_json(), stage.limits);
    let mut inst = plugin.instantiate(ctx)?;
    let info = crate::common::info();
    inst.set_partition(&info.topic, info.partition);
    Ok(inst)
}

/// Process the warm-up batches; every record must come out scaled.
fn warm_up(inst: &mut PluginInstance, batch: usize) -> Result<()> {
    let info = crate::common::info();
    for b in 0..WARMUP_BATCHES {
        // The records of `Workload::Scale`, with an 8-byte key.
        let msgs: Vec<Message> =
            (0..batch).map(|i| crate::common::record(b * batch + i, false)).collect();
        let verdicts = inst.process(&info, &msgs).map_err(|f| anyhow::anyhow!("{f}"))?;
        let scaled = verdicts.iter().filter(|v| matches!(v, Verdict::Value(_))).count();
        ensure!(scaled == batch, "warm-up: {scaled} of {batch} records scaled");
    }
    Ok(())
}

/// Entry point of `e2e --child memory PIPELINE.toml N`: prints an
/// [`InstanceMemory`] as JSON.
pub fn memory_child(args: &[String]) -> Result<()> {
    let [pipeline, n] = args else { bail!("usage: e2e --child memory PIPELINE.toml N") };
    let n: usize = n.parse().context("N")?;
    ensure!(n >= 1, "N must be at least 1");
    let cfg = PipelineConfig::load(Path::new(pipeline))?;
    let stage = &cfg.stages[0];
    let engine = Engine::new(&EngineOptions::default())?;
    let plugin = Plugin::load(&engine, &cfg.resolve(&stage.plugin))?;
    let batch = cfg.batch.max_records;
    let mut first = start(&plugin, stage, 0)?;
    warm_up(&mut first, batch)?;
    let (pss0, rss0) = pss_rss()?;
    let mut all = Vec::with_capacity(n);
    for i in 1..=n {
        all.push(start(&plugin, stage, i)?);
    }
    let after_init = all[0].footprint();
    let (pss1, _) = pss_rss()?;
    for inst in &mut all {
        warm_up(inst, batch)?;
    }
    let after_warmup = all[0].footprint();
    let (pss2, rss2) = pss_rss()?;
    let report = InstanceMemory {
        instances: n,
        linear_after_init: after_init.memory_bytes,
        linear_after_warmup: after_warmup.memory_bytes,
        table_elements: after_warmup.table_elements,
        pss_after_init: (pss1 - pss0) / n as f64,
        pss_after_warmup: (pss2 - pss0) / n as f64,
        rss_after_warmup: (rss2 - rss0) / n as f64,
    };
    drop(all);
    drop(first);
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

/// A component size as `docs/languages.md` writes them (10³ multiples).
fn size(bytes: u64) -> String {
    if bytes >= 1_000_000 {
        format!("{:.1} MB", bytes as f64 / 1e6)
    } else {
        format!("{:.0} KB", bytes as f64 / 1e3)
    }
}

/// Memory in MiB, or KiB below 1 MiB (the compiled languages' instances).
fn mib(bytes: f64) -> String {
    if bytes < 1024.0 * 1024.0 {
        format!("{:.0} KiB", bytes / 1024.0)
    } else {
        format!("{:.1} MiB", bytes / (1024.0 * 1024.0))
    }
}

/// The languages section of the report: the full table, then the short one
/// for the README.
pub fn markdown(
    rows: &[LanguageRow],
    partitions: i32,
    batch: usize,
    repeat: usize,
    instances: usize,
) -> String {
    use crate::report::{spread, thousands};
    use std::fmt::Write as _;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "\n## Languages: one workload, a plugin in each language\n\n\
         `wasp run` with one stage that scales two fields of the ~100-byte sensor records \
         (`{}`), {partitions} partitions, batch {batch}; records/s is the median of {repeat} \
         repetitions. Peak RSS: the `wasp run` process. Memory per instance \
         (`e2e --child memory`, {instances} instances, after {WARMUP_BATCHES} batches of \
         warm-up each): linear memory is the size of the instance's linear memories as \
         wasp's store limiter granted them; PSS is the growth of the process's \
         proportional set size per extra instance, after `init` and after the warm-up.\n",
        Workload::Scale.config_toml().trim()
    );
    let _ = writeln!(
        s,
        "| language | plugin | component | backlog | records/s | min–max | CPU µs/record | wasp peak RSS | linear memory (init / warm) | table elements | PSS per instance (init / warm) |\n\
         | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    for r in rows {
        let l = r.language;
        if let Some(why) = &r.missing {
            let _ = writeln!(
                s,
                "| {} | `{}` | **MISSING**: {} | | | | | | | | |",
                l.name, l.plugin, why
            );
            continue;
        }
        let comp = r.component_bytes.map_or("–".into(), size);
        let run = r.run.as_ref().map_or_else(
            || "| – | – | – | – | – ".to_string(),
            |m| {
                format!(
                    "| {} | {} | {} | {:.1} | {:.0} MiB ",
                    m.records,
                    thousands(m.records_per_sec),
                    spread(m),
                    m.window_cpu_us_per_record,
                    m.peak_rss_mib
                )
            },
        );
        let mem = r.memory.as_ref().map_or_else(
            || "| – | – | – |".to_string(),
            |m| {
                format!(
                    "| {} / {} | {} | {} / {} |",
                    mib(m.linear_after_init as f64),
                    mib(m.linear_after_warmup as f64),
                    m.table_elements,
                    mib(m.pss_after_init),
                    mib(m.pss_after_warmup)
                )
            },
        );
        let _ = writeln!(s, "| {} | `{}` | {comp} {run}{mem}", l.name, l.plugin);
    }
    let _ = writeln!(
        s,
        "\nFor the README (memory per instance: PSS growth per extra instance after warm-up; \
         the guest's linear memory in parentheses):\n\n\
         | Language | Component size | Records/s | Memory per instance |\n| --- | ---: | ---: | ---: |"
    );
    for r in rows {
        let l = r.language;
        if r.missing.is_some() {
            let _ = writeln!(s, "| {} | – | not measured (plugin missing) | – |", l.name);
            continue;
        }
        let rate = r.run.as_ref().map_or("–".into(), |m| thousands(m.records_per_sec));
        let mem = r.memory.as_ref().map_or("–".into(), |m| {
            format!("{} ({})", mib(m.pss_after_warmup), mib(m.linear_after_warmup as f64))
        });
        let comp = r.component_bytes.map_or("–".into(), size);
        let _ = writeln!(s, "| {} | {comp} | {rate} | {mem} |", l.name);
    }
    s
}
