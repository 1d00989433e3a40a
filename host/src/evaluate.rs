//! `wasp evaluate`: how good a finished run's predictions are, in the terms
//! a data person uses.
//!
//! It reads the run's output records, from a topic (from the beginning
//! until the topic is quiet) or from a JSON-lines file: plain record values,
//! or the lines `wasp test` and `wasp consume` print, whose `value` field is
//! the record. Then, for a classifier (`--label` and `--prediction`), it
//! prints scikit-learn's classification report (per-class precision,
//! recall, F1 and support, accuracy, macro and weighted averages) and the
//! confusion matrix; for an anomaly detector (`--status`, optionally
//! `--truth`), the counts and precision, recall and F1 against the truth.
//! `--json` prints the same numbers as one JSON object; `--png` draws the
//! confusion matrix, or the anomaly scores over the stream with the
//! anomalies marked (see [`crate::plot`]).
//!
//! Metrics follow scikit-learn's definitions, with its default for an
//! undefined ratio (no predictions of a class, say): 0.

use crate::kafka::admin;
use crate::plot::{self, Image};
use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::time::Duration;

/// Arguments of `wasp evaluate`.
#[derive(Debug, Clone, clap::Args)]
pub struct EvaluateArgs {
    /// Read this topic from the beginning until it is quiet (e.g. the
    /// pipeline's output topic).
    #[arg(long, conflicts_with = "input", required_unless_present = "input")]
    pub topic: Option<String>,
    /// Read a JSON-lines file (`-` for stdin): one record value per line,
    /// or the lines of `wasp test` / `wasp consume`, whose `value` is used.
    #[arg(long)]
    pub input: Option<PathBuf>,
    /// With --input: use only the lines whose `topic` is this, e.g. the
    /// output topic in `wasp test` output (which also has feedback lines).
    #[arg(long)]
    pub only_topic: Option<String>,
    /// Classifier: the field holding a record's true label.
    #[arg(long, requires = "prediction", conflicts_with = "status")]
    pub label: Option<String>,
    /// Classifier: the field holding the predicted label.
    #[arg(long, requires = "label")]
    pub prediction: Option<String>,
    /// Anomaly detector: the field holding its verdict (the anomaly
    /// plugin's is `status`: ANOMALY, NORMAL, or WARMUP = not scored).
    #[arg(long, required_unless_present = "label")]
    pub status: Option<String>,
    /// Anomaly detector: the ground-truth field (true/false, 1/0, "yes"/"no").
    #[arg(long, requires = "status")]
    pub truth: Option<String>,
    /// Anomaly detector: the score field, plotted by --png.
    #[arg(long, default_value = "anomaly_score")]
    pub score: String,
    /// The --status value of an anomaly (`true` and non-zero numbers count too).
    #[arg(long, default_value = "ANOMALY")]
    pub anomaly_value: String,
    /// The --status value of a normal record; any other value means "not
    /// scored" (e.g. WARMUP) and is left out of the metrics.
    #[arg(long, default_value = "NORMAL")]
    pub normal_value: String,
    /// Print the numbers as one JSON object instead of the text report.
    #[arg(long)]
    pub json: bool,
    /// Also draw a PNG: the confusion matrix, or the scores over the stream.
    #[arg(long)]
    pub png: Option<PathBuf>,
    /// With --topic: stop reading after this many seconds without a record.
    #[arg(long, default_value_t = 3.0)]
    pub idle: f64,
    /// Broker list.
    #[arg(long, env = "WASP_BOOTSTRAP_SERVERS", default_value = "127.0.0.1:9092")]
    pub bootstrap_servers: String,
}

/// Records read for evaluation, in stream order.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    /// Where they came from (topic or file name), for titles.
    pub source: String,
    /// Record values that are JSON, with the topic each line named (for
    /// `wasp test` lines).
    pub records: Vec<(Option<String>, Value)>,
    /// Values that are not JSON (or tombstones), skipped.
    pub unreadable: usize,
}

/// Read a JSON-lines file: plain record values, or `wasp test` / `wasp
/// consume` lines (objects with `value` and `offset`). Lines `wasp test`
/// prints for dropped records are skipped; with `only_topic`, so is every
/// line whose `topic` differs.
pub fn load_lines(reader: impl BufRead, only_topic: Option<&str>) -> Result<Loaded> {
    let mut loaded = Loaded::default();
    for (n, line) in reader.lines().enumerate() {
        let line = line.context("reading the input")?;
        if line.trim().is_empty() {
            continue;
        }
        let v: Value = serde_json::from_str(&line)
            .with_context(|| format!("line {} is not JSON: {}", n + 1, clip(&line)))?;
        let wrapped =
            v.get("offset").is_some() && (v.get("value").is_some() || v.get("dropped").is_some());
        if !wrapped {
            if only_topic.is_none() {
                loaded.records.push((None, v));
            }
            continue;
        }
        if v.get("dropped") == Some(&Value::Bool(true)) {
            continue;
        }
        let topic = v.get("topic").and_then(Value::as_str).map(str::to_owned);
        if only_topic.is_some_and(|t| topic.as_deref() != Some(t)) {
            continue;
        }
        match v.get("value") {
            Some(inner @ Value::Object(_)) => loaded.records.push((topic, inner.clone())),
            _ => loaded.unreadable += 1,
        }
    }
    Ok(loaded)
}

/// Read a topic from the beginning until quiet for `idle`, in (partition,
/// offset) order.
pub fn load_topic(bootstrap: &str, topic: &str, idle: Duration) -> Result<Loaded> {
    let mut recs = admin::read_topic(bootstrap, topic, idle, None)?;
    recs.sort_by_key(|r| (r.partition, r.offset));
    let mut loaded = Loaded { source: topic.to_string(), ..Default::default() };
    for r in recs {
        match r.value.as_deref().map(serde_json::from_slice::<Value>) {
            Some(Ok(v @ Value::Object(_))) => loaded.records.push((None, v)),
            _ => loaded.unreadable += 1,
        }
    }
    Ok(loaded)
}

/// Where records are read from: a topic, else a JSON-lines file, else
/// stdin (no file, or `-`).
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    /// Read this topic from the beginning until quiet.
    pub topic: Option<&'a str>,
    /// Read this JSON-lines file.
    pub input: Option<&'a std::path::Path>,
    /// With a file: only the lines of this topic.
    pub only_topic: Option<&'a str>,
    /// Broker list, for a topic.
    pub bootstrap_servers: &'a str,
    /// Seconds without a record that end a topic.
    pub idle: f64,
}

impl Input<'_> {
    /// Read the records.
    pub fn load(&self) -> Result<Loaded> {
        Ok(match (self.topic, self.input) {
            (Some(topic), _) => {
                load_topic(self.bootstrap_servers, topic, Duration::from_secs_f64(self.idle))?
            }
            (None, Some(path)) if path.as_os_str() != "-" => {
                let f = std::fs::File::open(path)
                    .with_context(|| format!("cannot open input {}", path.display()))?;
                let mut l = load_lines(std::io::BufReader::new(f), self.only_topic)?;
                l.source = path.file_name().unwrap_or_default().to_string_lossy().into_owned();
                l
            }
            _ => {
                let mut l = load_lines(std::io::stdin().lock(), self.only_topic)?;
                l.source = "stdin".into();
                l
            }
        })
    }
}

fn clip(s: &str) -> String {
    let mut c: String = s.chars().take(80).collect();
    if c.len() < s.len() {
        c.push('…');
    }
    c
}

/// A label as text: strings as they are, whole numbers without a fraction
/// (so `1` and `1.0` are the same class), anything else as JSON.
pub fn label_text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(match n.as_f64() {
            Some(x) if x.fract() == 0.0 && x.abs() < 1e15 => format!("{}", x as i64),
            _ => n.to_string(),
        }),
        other => Some(other.to_string()),
    }
}

/// Sort labels as scikit-learn sorts `classes_`: numerically when every
/// label is a number, else by code point.
fn sort_labels(labels: &mut [String]) {
    let nums: Option<Vec<f64>> = labels.iter().map(|l| l.parse::<f64>().ok()).collect();
    if nums.is_some() {
        labels.sort_by(|a, b| a.parse::<f64>().unwrap().total_cmp(&b.parse::<f64>().unwrap()));
    } else {
        labels.sort();
    }
}

fn ratio(num: f64, den: f64) -> f64 {
    if den == 0.0 {
        0.0
    } else {
        num / den
    }
}

fn f1(p: f64, r: f64) -> f64 {
    ratio(2.0 * p * r, p + r)
}

/// Precision, recall, F1 and support.
#[derive(Debug, Clone, PartialEq)]
pub struct Scores {
    /// Precision.
    pub precision: f64,
    /// Recall.
    pub recall: f64,
    /// F1 score.
    pub f1: f64,
    /// Records with this true label (or all, for averages).
    pub support: u64,
}

impl Scores {
    fn json(&self) -> Value {
        json!({"precision": self.precision, "recall": self.recall, "f1": self.f1, "support": self.support})
    }
}

/// A classifier's report.
#[derive(Debug, Clone, PartialEq)]
pub struct Classification {
    /// Records read.
    pub records: usize,
    /// Records with both a label and a prediction.
    pub evaluated: usize,
    /// Records with a prediction but no true label (not evaluated).
    pub without_label: usize,
    /// Records without a prediction (e.g. dead letters; not evaluated).
    pub without_prediction: usize,
    /// Every label seen as truth or prediction, sorted.
    pub labels: Vec<String>,
    /// `matrix[t][p]`: records of true label `labels[t]` predicted `labels[p]`.
    pub matrix: Vec<Vec<u64>>,
    /// Per-label scores, in `labels` order.
    pub classes: Vec<Scores>,
    /// Share of records predicted right.
    pub accuracy: f64,
    /// Unweighted mean over labels.
    pub macro_avg: Scores,
    /// Mean over labels weighted by support.
    pub weighted_avg: Scores,
}

/// Score predictions against labels.
pub fn classification(values: &[Value], label: &str, prediction: &str) -> Classification {
    let mut pairs = Vec::new();
    let (mut without_label, mut without_prediction) = (0, 0);
    for v in values {
        let t = v.get(label).and_then(label_text);
        let p = v.get(prediction).and_then(label_text);
        match (t, p) {
            (Some(t), Some(p)) => pairs.push((t, p)),
            (None, Some(_)) => without_label += 1,
            (_, None) => without_prediction += 1,
        }
    }
    let mut labels: Vec<String> = pairs.iter().flat_map(|(t, p)| [t.clone(), p.clone()]).collect();
    sort_labels(&mut labels);
    labels.dedup();
    let index: BTreeMap<&str, usize> =
        labels.iter().enumerate().map(|(i, l)| (l.as_str(), i)).collect();
    let n = labels.len();
    let mut matrix = vec![vec![0u64; n]; n];
    for (t, p) in &pairs {
        matrix[index[t.as_str()]][index[p.as_str()]] += 1;
    }
    let total = pairs.len() as f64;
    let classes: Vec<Scores> = (0..n)
        .map(|i| {
            let tp = matrix[i][i] as f64;
            let support: u64 = matrix[i].iter().sum();
            let predicted: u64 = matrix.iter().map(|row| row[i]).sum();
            let precision = ratio(tp, predicted as f64);
            let recall = ratio(tp, support as f64);
            Scores { precision, recall, f1: f1(precision, recall), support }
        })
        .collect();
    let correct: u64 = (0..n).map(|i| matrix[i][i]).sum();
    let mean = |w: &dyn Fn(&Scores) -> f64, f: &dyn Fn(&Scores) -> f64| {
        let den: f64 = classes.iter().map(w).sum();
        ratio(classes.iter().map(|c| w(c) * f(c)).sum(), den)
    };
    let avg = |w: &dyn Fn(&Scores) -> f64| Scores {
        precision: mean(w, &|c| c.precision),
        recall: mean(w, &|c| c.recall),
        f1: mean(w, &|c| c.f1),
        support: pairs.len() as u64,
    };
    Classification {
        records: values.len(),
        evaluated: pairs.len(),
        without_label,
        without_prediction,
        macro_avg: avg(&|_| 1.0),
        weighted_avg: avg(&|c| c.support as f64),
        accuracy: ratio(correct as f64, total),
        labels,
        matrix,
        classes,
    }
}

impl Classification {
    /// The report as JSON.
    pub fn to_json(&self) -> Value {
        let classes: Vec<Value> = self
            .labels
            .iter()
            .zip(&self.classes)
            .map(|(l, s)| {
                let mut v = s.json();
                v["label"] = Value::from(l.clone());
                v
            })
            .collect();
        json!({
            "kind": "classification",
            "records": self.records,
            "evaluated": self.evaluated,
            "without_label": self.without_label,
            "without_prediction": self.without_prediction,
            "labels": self.labels,
            "classes": classes,
            "accuracy": self.accuracy,
            "macro_avg": self.macro_avg.json(),
            "weighted_avg": self.weighted_avg.json(),
            "confusion_matrix": self.matrix,
        })
    }

    /// The confusion matrix as a chart, with the accuracy and macro F1.
    pub fn plot(&self, source: &str) -> Result<Image> {
        let subtitle = format!(
            "{}: {} records, accuracy {:.3}, macro F1 {:.3}",
            plot::clip(source, 60),
            self.evaluated,
            self.accuracy,
            self.macro_avg.f1
        );
        plot::confusion::draw(&self.labels, &self.matrix, &subtitle)
    }

    /// The text report: scikit-learn's `classification_report` layout,
    /// then the confusion matrix.
    pub fn write_text(&self, out: &mut impl Write, what: &str) -> std::io::Result<()> {
        writeln!(out, "Classification report: {what}")?;
        let mut skipped = Vec::new();
        if self.without_label > 0 {
            skipped.push(format!("{} without a true label", self.without_label));
        }
        if self.without_prediction > 0 {
            skipped.push(format!("{} without a prediction", self.without_prediction));
        }
        write!(out, "{} records, {} evaluated", self.records, self.evaluated)?;
        if !skipped.is_empty() {
            write!(out, " (skipped: {})", skipped.join(", "))?;
        }
        writeln!(out, "\n")?;
        let w = self.labels.iter().map(|l| l.chars().count()).max().unwrap_or(0).max(12);
        writeln!(
            out,
            "{:>w$}  {:>9} {:>9} {:>9} {:>9}",
            "", "precision", "recall", "f1-score", "support"
        )?;
        writeln!(out)?;
        for (l, s) in self.labels.iter().zip(&self.classes) {
            writeln!(
                out,
                "{l:>w$}  {:>9.3} {:>9.3} {:>9.3} {:>9}",
                s.precision, s.recall, s.f1, s.support
            )?;
        }
        writeln!(out)?;
        writeln!(
            out,
            "{:>w$}  {:>9} {:>9} {:>9.3} {:>9}",
            "accuracy", "", "", self.accuracy, self.evaluated
        )?;
        for (name, s) in [("macro avg", &self.macro_avg), ("weighted avg", &self.weighted_avg)] {
            writeln!(
                out,
                "{name:>w$}  {:>9.3} {:>9.3} {:>9.3} {:>9}",
                s.precision, s.recall, s.f1, s.support
            )?;
        }
        writeln!(out)?;
        writeln!(out, "Confusion matrix (rows: true label, columns: predicted label)")?;
        let cw = self.labels.iter().map(|l| l.chars().count()).max().unwrap_or(1).max(5);
        write!(out, "{:>w$} ", "")?;
        for l in &self.labels {
            write!(out, " {l:>cw$}")?;
        }
        writeln!(out)?;
        for (l, row) in self.labels.iter().zip(&self.matrix) {
            write!(out, "{l:>w$} ")?;
            for n in row {
                write!(out, " {n:>cw$}")?;
            }
            writeln!(out)?;
        }
        Ok(())
    }
}

/// What a detector said about one record, in stream order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// The score, if the record has one.
    pub score: Option<f64>,
    /// `Some(true)` flagged, `Some(false)` normal, `None` not scored.
    pub flagged: Option<bool>,
    /// The ground truth, if the record has one.
    pub truth: Option<bool>,
}

/// An anomaly detector's report.
#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    /// Records read.
    pub records: usize,
    /// Records without the status field (e.g. dead letters; left out).
    pub without_status: usize,
    /// Records the detector judged (status anomaly or normal).
    pub scored: usize,
    /// Records with another status (e.g. WARMUP).
    pub not_scored: usize,
    /// Scored records flagged as anomalies.
    pub flagged: usize,
    /// Scored records with a truth value.
    pub labelled: usize,
    /// True anomalies among the labelled scored records.
    pub actual: usize,
    /// True anomalies among records not scored.
    pub actual_not_scored: usize,
    /// Flagged and truly anomalous.
    pub true_positives: u64,
    /// Flagged but normal.
    pub false_positives: u64,
    /// Missed anomalies.
    pub false_negatives: u64,
    /// Normal and not flagged.
    pub true_negatives: u64,
    /// Points in stream order, for the plot.
    pub points: Vec<Point>,
}

/// A truth or status value as a boolean: booleans, numbers (non-zero is
/// true) and the strings 1/0, true/false, yes/no.
pub fn truthy(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => n.as_f64().map(|x| x != 0.0),
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" => Some(true),
            "0" | "false" | "no" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// Field names and values that define the detector's output.
#[derive(Debug, Clone)]
pub struct DetectorFields<'a> {
    /// Verdict field.
    pub status: &'a str,
    /// Truth field.
    pub truth: Option<&'a str>,
    /// Score field.
    pub score: &'a str,
    /// Status value of an anomaly.
    pub anomaly_value: &'a str,
    /// Status value of a normal record.
    pub normal_value: &'a str,
}

/// Score a detector's verdicts against the truth.
pub fn detection(values: &[Value], f: &DetectorFields<'_>) -> Detection {
    let mut d = Detection {
        records: values.len(),
        without_status: 0,
        scored: 0,
        not_scored: 0,
        flagged: 0,
        labelled: 0,
        actual: 0,
        actual_not_scored: 0,
        true_positives: 0,
        false_positives: 0,
        false_negatives: 0,
        true_negatives: 0,
        points: Vec::new(),
    };
    for v in values {
        let Some(status) = v.get(f.status).filter(|s| !s.is_null()) else {
            d.without_status += 1;
            continue;
        };
        let flagged = match status {
            Value::String(s) if s == f.anomaly_value => Some(true),
            Value::String(s) if s == f.normal_value => Some(false),
            Value::String(_) => None,
            other => truthy(other),
        };
        let truth = f.truth.and_then(|t| v.get(t)).and_then(truthy);
        let score = v.get(f.score).and_then(Value::as_f64);
        d.points.push(Point { score, flagged, truth });
        let Some(flagged) = flagged else {
            d.not_scored += 1;
            d.actual_not_scored += usize::from(truth == Some(true));
            continue;
        };
        d.scored += 1;
        d.flagged += usize::from(flagged);
        if let Some(truth) = truth {
            d.labelled += 1;
            d.actual += usize::from(truth);
            match (flagged, truth) {
                (true, true) => d.true_positives += 1,
                (true, false) => d.false_positives += 1,
                (false, true) => d.false_negatives += 1,
                (false, false) => d.true_negatives += 1,
            }
        }
    }
    d
}

impl Detection {
    /// Flagged records that are true anomalies, among the flagged.
    pub fn precision(&self) -> f64 {
        ratio(self.true_positives as f64, (self.true_positives + self.false_positives) as f64)
    }

    /// True anomalies that were flagged, among the true anomalies.
    pub fn recall(&self) -> f64 {
        ratio(self.true_positives as f64, (self.true_positives + self.false_negatives) as f64)
    }

    /// Harmonic mean of precision and recall.
    pub fn f1(&self) -> f64 {
        f1(self.precision(), self.recall())
    }

    /// Share of labelled scored records judged right.
    pub fn accuracy(&self) -> f64 {
        ratio((self.true_positives + self.true_negatives) as f64, self.labelled as f64)
    }

    /// The scores over the stream as a chart, with the metrics when the
    /// records carry the truth.
    pub fn plot(&self, source: &str, score_field: &str) -> Result<Image> {
        let mut subtitle = format!(
            "{}: {} records, {} scored, {} flagged",
            plot::clip(source, 60),
            self.points.len(),
            self.scored,
            self.flagged
        );
        if self.labelled > 0 {
            subtitle.push_str(&format!(
                "   precision {:.3}, recall {:.3}, F1 {:.3} ({} true anomalies among the scored)",
                self.precision(),
                self.recall(),
                self.f1(),
                self.actual
            ));
        }
        plot::scores::draw(&self.points, score_field, &subtitle)
    }

    /// The report as JSON; the metrics are null without labelled records.
    pub fn to_json(&self) -> Value {
        let m = |x: f64| if self.labelled > 0 { Value::from(x) } else { Value::Null };
        json!({
            "kind": "anomaly",
            "records": self.records,
            "without_status": self.without_status,
            "scored": self.scored,
            "not_scored": self.not_scored,
            "flagged": self.flagged,
            "labelled": self.labelled,
            "actual_anomalies": self.actual,
            "actual_anomalies_not_scored": self.actual_not_scored,
            "true_positives": self.true_positives,
            "false_positives": self.false_positives,
            "false_negatives": self.false_negatives,
            "true_negatives": self.true_negatives,
            "precision": m(self.precision()),
            "recall": m(self.recall()),
            "f1": m(self.f1()),
            "accuracy": m(self.accuracy()),
        })
    }

    /// The text report.
    pub fn write_text(&self, out: &mut impl Write, what: &str) -> std::io::Result<()> {
        writeln!(out, "Anomaly detection report: {what}")?;
        write!(
            out,
            "{} records: {} scored, {} not scored (warm-up)",
            self.records, self.scored, self.not_scored
        )?;
        if self.without_status > 0 {
            write!(out, ", {} without a status (skipped)", self.without_status)?;
        }
        writeln!(out)?;
        let share = 100.0 * ratio(self.flagged as f64, self.scored as f64);
        writeln!(out, "flagged as anomalies: {} ({share:.1}% of scored)", self.flagged)?;
        if self.labelled == 0 {
            writeln!(
                out,
                "no ground truth on the scored records: precision/recall need --truth FIELD"
            )?;
            return Ok(());
        }
        write!(
            out,
            "true anomalies among the {} labelled scored records: {}",
            self.labelled, self.actual
        )?;
        if self.actual_not_scored > 0 {
            write!(out, " (and {} during warm-up, not scored)", self.actual_not_scored)?;
        }
        writeln!(out, "\n")?;
        writeln!(out, "{:>14}  {:>17} {:>17}", "", "flagged anomaly", "flagged normal")?;
        writeln!(
            out,
            "{:>14}  {:>17} {:>17}",
            "true anomaly", self.true_positives, self.false_negatives
        )?;
        writeln!(
            out,
            "{:>14}  {:>17} {:>17}",
            "true normal", self.false_positives, self.true_negatives
        )?;
        writeln!(out)?;
        writeln!(
            out,
            "precision {:.3}   recall {:.3}   F1 {:.3}   accuracy {:.3}",
            self.precision(),
            self.recall(),
            self.f1(),
            self.accuracy()
        )
    }
}

/// `wasp evaluate`: load, score, print, and draw when asked.
pub fn run(args: &EvaluateArgs, out: &mut impl Write) -> Result<()> {
    let from = Input {
        topic: args.topic.as_deref(),
        input: args.input.as_deref(),
        only_topic: args.only_topic.as_deref(),
        bootstrap_servers: &args.bootstrap_servers,
        idle: args.idle,
    };
    let loaded = from.load()?;
    let fields: Vec<&str> = match (&args.label, &args.prediction, &args.status) {
        (Some(l), Some(p), _) => vec![l, p],
        (_, _, Some(s)) => vec![s],
        _ => bail!("say what to evaluate: --label and --prediction for a classifier, or --status (and --truth) for an anomaly detector"),
    };
    check_one_topic(&loaded, &fields)?;
    let values: Vec<Value> = loaded.records.iter().map(|(_, v)| v.clone()).collect();
    let has_fields = |v: &Value| fields.iter().any(|f| v.get(*f).is_some());
    if !values.iter().any(has_fields) {
        let example = values
            .first()
            .and_then(Value::as_object)
            .map(|o| o.keys().cloned().collect::<Vec<_>>().join(", "))
            .unwrap_or_else(|| "none".into());
        bail!(
            "none of the {} records read from {} has the field(s) {}; fields of the first record: {example}",
            values.len(),
            loaded.source,
            fields.iter().map(|f| format!("'{f}'")).collect::<Vec<_>>().join(" or ")
        );
    }
    if loaded.unreadable > 0 {
        eprintln!(
            "evaluate: skipped {} records whose value is not a JSON object",
            loaded.unreadable
        );
    }
    if let (Some(label), Some(prediction)) = (&args.label, &args.prediction) {
        let c = classification(&values, label, prediction);
        if c.evaluated == 0 {
            bail!("no record of {} has both '{label}' and '{prediction}' set", loaded.source);
        }
        let what = format!("{} (label '{label}', prediction '{prediction}')", loaded.source);
        if args.json {
            writeln!(out, "{}", c.to_json())?;
        } else {
            c.write_text(out, &what)?;
        }
        if let Some(png) = &args.png {
            c.plot(&loaded.source)?.save(png)?;
            eprintln!("evaluate: wrote {}", png.display());
        }
    } else if let Some(status) = &args.status {
        let f = DetectorFields {
            status,
            truth: args.truth.as_deref(),
            score: &args.score,
            anomaly_value: &args.anomaly_value,
            normal_value: &args.normal_value,
        };
        let d = detection(&values, &f);
        let mut what = format!("{} (status '{status}'", loaded.source);
        if let Some(t) = &args.truth {
            what.push_str(&format!(", truth '{t}'"));
        }
        what.push(')');
        if args.json {
            writeln!(out, "{}", d.to_json())?;
        } else {
            d.write_text(out, &what)?;
        }
        if let Some(png) = &args.png {
            d.plot(&loaded.source, &args.score)?.save(png)?;
            eprintln!("evaluate: wrote {}", png.display());
        }
    }
    Ok(())
}

/// `wasp test` prints a record once per topic it reached (a wrong
/// prediction reaches output and feedback), so counting every line would
/// count some records twice: insist on one topic.
fn check_one_topic(loaded: &Loaded, fields: &[&str]) -> Result<()> {
    let mut topics: BTreeMap<&str, usize> = BTreeMap::new();
    for (t, v) in &loaded.records {
        if let Some(t) = t {
            if fields.iter().all(|f| v.get(*f).is_some()) {
                *topics.entry(t).or_default() += 1;
            }
        }
    }
    if topics.len() > 1 {
        let list: Vec<String> = topics.iter().map(|(t, n)| format!("{t} ({n})")).collect();
        bail!(
            "the input holds records of several topics: {}; a record can appear on more than one \
             (e.g. output and feedback), so choose one with --only-topic",
            list.join(", ")
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    /// Ten labelled predictions with known scores (see the comments), plus
    /// a record without a label and a dead letter without a prediction.
    pub(crate) fn handmade_classifier() -> Vec<Value> {
        let pairs = [
            ("a", "a"),
            ("a", "a"),
            ("a", "b"),
            ("a", "a"),
            ("b", "b"),
            ("b", "b"),
            ("b", "a"),
            ("c", "c"),
            ("c", "a"),
            ("c", "c"),
        ];
        let mut v: Vec<Value> = pairs.iter().map(|(t, p)| json!({"y": t, "pred": p})).collect();
        v.push(json!({"pred": "a"}));
        v.push(json!({"y": "b"}));
        v
    }

    #[test]
    fn classification_matches_hand_computed_scores() {
        let c = classification(&handmade_classifier(), "y", "pred");
        assert_eq!((c.records, c.evaluated, c.without_label, c.without_prediction), (12, 10, 1, 1));
        assert_eq!(c.labels, ["a", "b", "c"]);
        assert_eq!(c.matrix, vec![vec![3, 1, 0], vec![1, 2, 0], vec![1, 0, 2]]);
        // a: predicted 5 times, 3 right, of 4 -> P 3/5, R 3/4, F1 2/3.
        // b: predicted 3 times, 2 right, of 3 -> P 2/3, R 2/3, F1 2/3.
        // c: predicted 2 times, 2 right, of 3 -> P 1, R 2/3, F1 4/5.
        let want = [
            (3. / 5., 3. / 4., 2. / 3., 4),
            (2. / 3., 2. / 3., 2. / 3., 3),
            (1., 2. / 3., 4. / 5., 3),
        ];
        for (s, (p, r, f, n)) in c.classes.iter().zip(want) {
            assert!(close(s.precision, p) && close(s.recall, r) && close(s.f1, f), "{s:?}");
            assert_eq!(s.support, n);
        }
        assert!(close(c.accuracy, 0.7));
        assert!(close(c.macro_avg.precision, 34. / 45.), "{:?}", c.macro_avg);
        assert!(close(c.macro_avg.recall, 25. / 36.));
        assert!(close(c.macro_avg.f1, 32. / 45.));
        assert!(close(c.weighted_avg.precision, 37. / 50.));
        assert!(close(c.weighted_avg.recall, 0.7));
        assert!(close(c.weighted_avg.f1, 53. / 75.));
        let mut text = Vec::new();
        c.write_text(&mut text, "handmade").unwrap();
        let text = String::from_utf8(text).unwrap();
        assert!(text.contains("           a      0.600     0.750     0.667         4"), "{text}");
        assert!(text.contains("    accuracy                          0.700        10"), "{text}");
    }

    #[test]
    fn numeric_labels_sort_numerically_and_one_equals_one_point_zero() {
        let v =
            vec![json!({"y": 10, "p": 10.0}), json!({"y": 2, "p": 2}), json!({"y": 9, "p": "2"})];
        let c = classification(&v, "y", "p");
        assert_eq!(c.labels, ["2", "9", "10"]);
        assert_eq!(c.matrix, vec![vec![1, 0, 0], vec![1, 0, 0], vec![0, 0, 1]]);
        // A class never predicted has precision 0, as in scikit-learn.
        assert_eq!(c.classes[1].precision, 0.0);
    }

    /// The field names of the handmade detector records.
    pub(crate) fn handmade_fields() -> DetectorFields<'static> {
        DetectorFields {
            status: "status",
            truth: Some("truth"),
            score: "anomaly_score",
            anomaly_value: "ANOMALY",
            normal_value: "NORMAL",
        }
    }

    pub(crate) fn handmade_detector() -> Vec<Value> {
        let mut v =
            vec![json!({"status": "WARMUP", "truth": 1}), json!({"status": "WARMUP", "truth": 0})];
        // 3 true positives, 1 false positive, 2 false negatives, 4 true negatives.
        for (flag, truth, n) in
            [(true, true, 3), (true, false, 1), (false, true, 2), (false, false, 4)]
        {
            for i in 0..n {
                let status = if flag { "ANOMALY" } else { "NORMAL" };
                let score = if flag { 0.7 + i as f64 / 100.0 } else { 0.4 + i as f64 / 100.0 };
                v.push(json!({"status": status, "truth": truth, "anomaly_score": score}));
            }
        }
        v
    }

    #[test]
    fn detection_matches_hand_computed_scores() {
        let f = handmade_fields();
        let d = detection(&handmade_detector(), &f);
        assert_eq!((d.records, d.scored, d.not_scored, d.flagged, d.labelled), (12, 10, 2, 4, 10));
        assert_eq!((d.actual, d.actual_not_scored), (5, 1));
        assert_eq!(
            (d.true_positives, d.false_positives, d.false_negatives, d.true_negatives),
            (3, 1, 2, 4)
        );
        assert!(close(d.precision(), 3. / 4.));
        assert!(close(d.recall(), 3. / 5.));
        assert!(close(d.f1(), 2. / 3.));
        assert!(close(d.accuracy(), 7. / 10.));
        let no_truth = detection(&handmade_detector(), &DetectorFields { truth: None, ..f });
        assert_eq!(no_truth.labelled, 0);
        assert_eq!(no_truth.to_json()["f1"], Value::Null);
    }

    #[test]
    fn wasp_test_lines_are_unwrapped_and_filtered_by_topic() {
        let text = concat!(
            r#"{"offset":0,"topic":"out","key":null,"value":{"y":"a","pred":"a"}}"#,
            "\n",
            r#"{"offset":1,"topic":"out","key":null,"value":{"y":"a","pred":"b"}}"#,
            "\n",
            r#"{"offset":1,"topic":"fb","key":null,"value":{"y":"a","pred":"b"}}"#,
            "\n",
            r#"{"offset":2,"dropped":true}"#,
            "\n",
            r#"{"offset":3,"topic":"dlq","stage":"s","kind":"rejected","reason":"x","value":"not json"}"#,
            "\n"
        );
        let all = load_lines(text.as_bytes(), None).unwrap();
        assert_eq!((all.records.len(), all.unreadable), (3, 1));
        let err = check_one_topic(&all, &["y", "pred"]).unwrap_err().to_string();
        assert!(err.contains("fb (1), out (2)") && err.contains("--only-topic"), "{err}");
        let out = load_lines(text.as_bytes(), Some("out")).unwrap();
        assert_eq!(out.records.len(), 2);
        check_one_topic(&out, &["y", "pred"]).unwrap();
        let plain =
            load_lines(&b"{\"y\":1,\"pred\":1}\n\n{\"y\":2,\"pred\":1}\n"[..], None).unwrap();
        assert_eq!(plain.records.len(), 2);
    }
}
