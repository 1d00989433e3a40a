//! The results of a harness run: the machine, the ratios against the
//! baselines and peers, the Markdown tables (printed and written to
//! `target/bench/e2e.md`, with the raw numbers in `target/bench/e2e.json`)
//! and the chart of the sweeps (`target/bench/e2e.png`).

use crate::languages::LanguageRow;
use crate::measure::{Measured, System};
use crate::workload::Workload;
use serde::Serialize;
use std::fmt::Write as _;
use std::process::Command;

/// The machine the run was on.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    /// `lscpu` model name.
    pub cpu: String,
    /// Cores the process may use.
    pub cores: usize,
    /// Total memory, GiB.
    pub memory_gib: f64,
    /// `uname -sr`.
    pub kernel: String,
    /// `rustc -V`.
    pub rustc: String,
    /// The broker.
    pub broker: String,
    /// Python and package versions of the peers.
    pub python: String,
}

fn command_line(cmd: &str, args: &[&str]) -> String {
    Command::new(cmd)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}

impl Machine {
    /// Describe this machine.
    pub fn describe(root: &std::path::Path, python: String) -> Self {
        let cpu = command_line("lscpu", &[])
            .lines()
            .find_map(|l| l.strip_prefix("Model name:").map(|m| m.trim().to_string()))
            .unwrap_or_else(|| "unknown".into());
        let memory_gib = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("MemTotal:"))
                    .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
            })
            .map_or(0.0, |kib| kib / 1024.0 / 1024.0);
        let tansu = std::fs::read_to_string(root.join("scripts/broker"))
            .ok()
            .and_then(|s| {
                s.lines().find_map(|l| {
                    l.strip_prefix("readonly TANSU_VERSION=")
                        .map(|v| v.trim_matches('"').to_string())
                })
            })
            .unwrap_or_else(|| "?".into());
        Machine {
            cpu,
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            memory_gib,
            kernel: command_line("uname", &["-sr"]),
            rustc: command_line("rustc", &["-V"]),
            broker: format!(
                "Tansu {tansu} (scripts/broker), in-memory storage, on the same machine"
            ),
            python,
        }
    }
}

/// One ratio between two measured throughputs.
#[derive(Debug, Clone, Serialize)]
pub struct Ratio {
    /// What is compared.
    pub what: String,
    /// wasp's records/s over the other's.
    pub value: f64,
    /// The target (at least), if there is one.
    pub target: Option<f64>,
    /// Whether the target was met.
    pub met: Option<bool>,
}

/// Everything a run produced.
#[derive(Debug, Clone, Serialize)]
pub struct Results {
    /// How to reproduce the run.
    pub command: String,
    /// Where it ran.
    pub machine: Machine,
    /// Backlog records per run (Python per-record peer: `peer_records`).
    pub records: usize,
    /// Backlog records of the Python per-record peer.
    pub peer_records: usize,
    /// Partitions of the main comparison.
    pub partitions: i32,
    /// Batch size of the main comparison.
    pub batch: usize,
    /// Repetitions per run.
    pub repeat: usize,
    /// Pipelines × systems at `partitions` and `batch`, peers included.
    pub main: Vec<Measured>,
    /// wasp json-transform at each partition count.
    pub scale_sweep: Vec<Measured>,
    /// wasp json-transform at each batch size.
    pub batch_sweep: Vec<Measured>,
    /// wasp against each baseline and peer.
    pub ratios: Vec<Ratio>,
    /// The scale workload in every plugin language.
    pub languages: Vec<LanguageRow>,
    /// Instances created per language to measure memory per instance.
    pub instances: usize,
    /// Runs that failed, with the reason.
    pub errors: Vec<String>,
    /// Total wall time of the harness, seconds.
    pub wall_seconds: f64,
    /// The machine's load average (1, 5, 15 min) before and after the run:
    /// anything else running competes with the systems for the cores.
    pub load: String,
}

/// `/proc/loadavg`'s three load averages.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

impl Results {
    /// The languages row of `tag`.
    pub fn language_mut(&mut self, tag: &str) -> Option<&mut LanguageRow> {
        self.languages.iter_mut().find(|r| r.language.tag == tag)
    }

    fn find(&self, w: Workload, s: System) -> Option<&Measured> {
        self.main.iter().find(|m| m.workload == w && m.system == s)
    }

    /// Compute the ratios of wasp to every other system of its pipeline.
    pub fn compute_ratios(&mut self) {
        // Issue 12's targets (pass-through raised from round 1's 0.8).
        let targets = [
            (Workload::Pass, System::Raw, Some(0.9)),
            (Workload::Pass, System::Native, None),
            (Workload::Json, System::Native, Some(0.9)),
            (Workload::Json, System::Raw, None),
            (Workload::Knn, System::Native, None),
            (Workload::Knn, System::PyPerRecord, Some(100.0)),
            (Workload::Knn, System::PyBatched, Some(5.0)),
            (Workload::Heart, System::Native, None),
            (Workload::Heart, System::PyBatched, Some(5.0)),
            (Workload::Heart, System::PyPerRecord, None),
            (Workload::Reviews, System::Native, None),
            (Workload::Reviews, System::PyBatched, Some(5.0)),
            (Workload::Reviews, System::PyPerRecord, None),
        ];
        let mut ratios = Vec::new();
        for (w, s, target) in targets {
            let Some(wasp) = self.find(w, System::Wasp) else { continue };
            // The raw rdkafka loop only ever runs pass-through.
            let other =
                if s == System::Raw { self.find(Workload::Pass, s) } else { self.find(w, s) };
            let Some(other) = other else { continue };
            let value = wasp.records_per_sec / other.records_per_sec;
            ratios.push(Ratio {
                what: format!("{}: wasp / {}", w.name(), s.name()),
                value,
                target,
                met: target.map(|t| value >= t),
            });
        }
        self.ratios = ratios;
    }

    /// The Markdown report.
    pub fn markdown(&self) -> String {
        let mut s = String::new();
        let m = &self.machine;
        let _ = writeln!(s, "# wasp end-to-end benchmark\n");
        let _ = writeln!(s, "Reproduce (from the repository root):\n");
        let _ = writeln!(s, "```sh\n{}\n```\n", self.command);
        let _ = writeln!(s, "| machine | |\n| --- | --- |");
        let _ = writeln!(s, "| CPU | {} |", m.cpu);
        let _ = writeln!(s, "| cores | {} |", m.cores);
        let _ = writeln!(s, "| memory | {:.0} GiB |", m.memory_gib);
        let _ = writeln!(s, "| OS | {} |", m.kernel);
        let _ = writeln!(s, "| Rust | {} |", m.rustc);
        let _ = writeln!(s, "| broker | {} |", m.broker);
        let _ = writeln!(s, "| Python peers | {} |", m.python);
        let _ = writeln!(s, "| load average (1/5/15 min) | {} |", self.load);
        let _ = writeln!(s, "| harness wall time | {:.0} s |\n", self.wall_seconds);

        if !self.main.is_empty() {
            let _ = writeln!(
            s,
            "## Throughput, latency, memory\n\n{} partitions (wasp and the native twin run one \
             worker per partition), batch {}, a backlog of {} records per run ({} for the \
             Python per-record peer); records/s is the median of {} repetitions. Latency: \
             from the input's send to its output being readable from the broker, p50 / p99 \
             at the offered rate shown, after the backlog is drained. CPU: the system's \
             process and the broker's during the throughput window, per record.\n",
            self.partitions, self.batch, self.records, self.peer_records, self.repeat
        );
            let _ = writeln!(
            s,
            "| pipeline | system | records/s | min–max | MB/s | latency p50 / p99 (rate) | peak RSS | CPU µs/record | broker CPU µs/record | feedback |"
        );
            let _ = writeln!(
                s,
                "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
            );
            for r in &self.main {
                let _ = writeln!(s, "{}", row(r));
            }
            let _ = writeln!(s, "\n## Ratios (records/s, same run)\n");
            let _ =
                writeln!(s, "| comparison | ratio | target | met |\n| --- | ---: | ---: | --- |");
            for r in &self.ratios {
                let (target, met) = match (r.target, r.met) {
                    (Some(t), Some(m)) => (format!("≥ {t}"), if m { "yes" } else { "**no**" }),
                    _ => ("–".into(), "–"),
                };
                let _ = writeln!(s, "| {} | {} | {target} | {met} |", r.what, ratio(r.value));
            }
        }
        if !self.scale_sweep.is_empty() {
            let w = self.scale_sweep[0].workload.name();
            let _ = writeln!(
                s,
                "\n## Scaling: wasp {w}, batch {}\n\n| partitions = workers | records/s | min–max | × first | latency p50 / p99 (rate) | CPU µs/record |\n| ---: | ---: | ---: | ---: | ---: | ---: |",
                self.batch
            );
            let base = self.scale_sweep[0].records_per_sec;
            for r in &self.scale_sweep {
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {:.2} | {} | {:.1} |",
                    r.partitions,
                    thousands(r.records_per_sec),
                    spread(r),
                    r.records_per_sec / base,
                    latency(r),
                    r.window_cpu_us_per_record
                );
            }
        }
        if !self.batch_sweep.is_empty() {
            let w = self.batch_sweep[0].workload.name();
            let _ = writeln!(
                s,
                "\n## Batch size: wasp {w}, {} partitions\n\n| batch.max_records | records/s | min–max | latency p50 / p99 (rate) | CPU µs/record |\n| ---: | ---: | ---: | ---: | ---: |",
                self.partitions
            );
            for r in &self.batch_sweep {
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {} | {:.1} |",
                    r.batch,
                    thousands(r.records_per_sec),
                    spread(r),
                    latency(r),
                    r.window_cpu_us_per_record
                );
            }
        }
        if !self.languages.is_empty() {
            s.push_str(&crate::languages::markdown(
                &self.languages,
                self.partitions,
                self.batch,
                self.repeat,
                self.instances,
            ));
        }
        if !self.errors.is_empty() {
            let _ = writeln!(s, "\n## Failed runs\n");
            for e in &self.errors {
                let _ = writeln!(s, "- {}", e.replace('\n', " "));
            }
        }
        s
    }
}

impl Results {
    /// The sweeps as a chart: throughput against batch size and against
    /// partitions (= workers), each point the median of its repetitions
    /// with a bar from the lowest to the highest.
    pub fn chart(&self) -> anyhow::Result<wasp::plot::Image> {
        use wasp::plot::sweep::{draw, Panel, Sample};
        let samples = |rows: &[Measured], x: fn(&Measured) -> f64| -> Vec<Sample> {
            rows.iter()
                .map(|r| {
                    let (lo, hi) = match (r.samples.first(), r.samples.last()) {
                        (Some(lo), Some(hi)) => (*lo, *hi),
                        _ => (r.records_per_sec, r.records_per_sec),
                    };
                    Sample {
                        x: x(r),
                        median: r.records_per_sec / 1000.0,
                        low: lo / 1000.0,
                        high: hi / 1000.0,
                    }
                })
                .collect()
        };
        let name = |rows: &[Measured]| rows.first().map_or("", |r| r.workload.name());
        let y_desc = "thousand records/s (median, min–max)".to_string();
        let panels = [
            Panel {
                title: format!("wasp {}, {} partitions", name(&self.batch_sweep), self.partitions),
                x_desc: "batch.max_records".into(),
                y_desc: y_desc.clone(),
                log2: true,
                samples: samples(&self.batch_sweep, |r| r.batch as f64),
                annotate: |v| format!("{v:.0}k"),
            },
            Panel {
                title: format!("wasp {}, batch {}", name(&self.scale_sweep), self.batch),
                x_desc: "partitions = workers".into(),
                y_desc,
                log2: false,
                samples: samples(&self.scale_sweep, |r| f64::from(r.partitions)),
                annotate: |v| format!("{v:.0}k"),
            },
        ];
        let subtitle = format!(
            "{} cores shared with a local Tansu broker; load average {}",
            self.machine.cores, self.load
        );
        draw("wasp end to end", &subtitle, &panels)
    }
}

pub fn thousands(x: f64) -> String {
    let n = x.round() as u64;
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

fn ratio(x: f64) -> String {
    if x >= 10.0 {
        format!("{x:.0}×")
    } else {
        format!("{x:.2}×")
    }
}

fn latency(r: &Measured) -> String {
    format!("{:.0} / {:.0} ms ({} /s)", r.p50_ms, r.p99_ms, thousands(r.latency_rate))
}

/// Lowest and highest records/s of the repetitions, in thousands (one
/// decimal below 10 k, so slow systems still show their spread).
pub fn spread(r: &Measured) -> String {
    match (r.samples.first(), r.samples.last()) {
        (Some(lo), Some(hi)) if r.samples.len() > 1 => {
            let digits = if *hi < 10_000.0 { 1 } else { 0 };
            format!("{:.digits$}–{:.digits$} k", lo / 1000.0, hi / 1000.0)
        }
        _ => "–".into(),
    }
}

fn row(r: &Measured) -> String {
    format!(
        "| {} | {} | {} | {} | {:.1} | {} | {:.0} MiB | {:.1} | {:.1} | {} |",
        r.workload.name(),
        r.system_name,
        thousands(r.records_per_sec),
        spread(r),
        r.mb_per_sec,
        latency(r),
        r.peak_rss_mib,
        r.window_cpu_us_per_record,
        r.window_broker_cpu_us_per_record,
        r.feedback.map_or("–".into(), |f| f.to_string()),
    )
}
