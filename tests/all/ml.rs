//! The machine-learning plugins as a user runs them: real Wasm, the real
//! `wasp` binary, the real broker, checked against scikit-learn's committed
//! results (tests/data/knn/*.json from scripts/sklearn-expectations.py,
//! tests/data/sensors/sklearn.json from scripts/sklearn-anomaly.py).
//!
//! - k-NN predictions on Iris (k=5, k=3) and Wine (k=5) equal sklearn's,
//!   record for record, through `wasp test`;
//! - the feedback topic holds exactly the misclassified records, each with
//!   its prediction;
//! - a correction on the corrections topic changes the next prediction of
//!   the record, and still does after a hot reload and a restart;
//! - the anomaly detector's F1 on the labelled sensor stream through Kafka
//!   is within 0.05 of sklearn's IsolationForest;
//! - `wasp evaluate` reports exact numbers on a handmade example.

use crate::broker::*;
use crate::common::{plugin, temp_dir, text, wasp};
use crate::reload::{generation_of, replace, short_hash};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use wasp::kafka::admin::Record;
use wasp::router::headers;

fn data(rel: &str) -> String {
    let path = crate::common::root().join("tests/data").join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A data set exported by scripts/sklearn-expectations.py.
struct Dataset {
    json: Value,
}

impl Dataset {
    fn load(name: &str) -> Dataset {
        Dataset { json: serde_json::from_str(&data(&format!("knn/{name}.json"))).unwrap() }
    }

    fn features(&self) -> Vec<String> {
        self.json["features"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f.as_str().unwrap().into())
            .collect()
    }

    fn label(&self) -> &str {
        self.json["label"].as_str().unwrap()
    }

    fn strings(&self, key: &str) -> Vec<String> {
        self.json[key].as_array().unwrap().iter().map(|v| v.as_str().unwrap().into()).collect()
    }

    fn test_y(&self) -> Vec<String> {
        self.strings("test_y")
    }

    /// scikit-learn's predictions for the test rows with `k` neighbours.
    fn sklearn(&self, k: usize) -> Vec<String> {
        self.json["predictions"][k.to_string()]
            .as_array()
            .unwrap_or_else(|| panic!("no sklearn predictions for k={k}"))
            .iter()
            .map(|v| v.as_str().unwrap().into())
            .collect()
    }

    /// Rows as JSON objects: the features, the label, and `id` = row index.
    fn rows(&self, x: &str, y: &str) -> Vec<Value> {
        let features = self.features();
        let ys = self.strings(y);
        self.json[x]
            .as_array()
            .unwrap()
            .iter()
            .zip(ys)
            .enumerate()
            .map(|(i, (xs, y))| {
                let mut o = serde_json::Map::new();
                o.insert("id".into(), json!(i));
                for (f, v) in features.iter().zip(xs.as_array().unwrap()) {
                    o.insert(f.clone(), v.clone());
                }
                o.insert(self.label().into(), json!(y));
                Value::Object(o)
            })
            .collect()
    }

    fn training(&self) -> Vec<Value> {
        // Training rows need no id.
        self.rows("train_x", "train_y")
            .into_iter()
            .map(|mut r| {
                r.as_object_mut().unwrap().remove("id");
                r
            })
            .collect()
    }

    fn test_rows(&self) -> Vec<Value> {
        self.rows("test_x", "test_y")
    }

    /// The knn stage config: the training split passed in `training`.
    fn knn_config(&self, k: usize) -> Value {
        json!({
            "features": self.features(),
            "label": self.label(),
            "k": k,
            "id_field": "id",
            "training": self.training(),
        })
    }
}

/// Write a pipeline file from JSON (converted to TOML), with the fast
/// consumer-group settings the broker tests use.
pub(crate) fn write_pipeline(path: &Path, mut pipeline: Value) -> PathBuf {
    pipeline["kafka"] =
        json!({"consumer": {"session.timeout.ms": "6000", "heartbeat.interval.ms": "1000"}});
    let toml_value: toml::Value = toml::Value::try_from(&pipeline).expect("JSON pipeline as TOML");
    std::fs::write(path, toml::to_string(&toml_value).unwrap()).unwrap();
    path.to_path_buf()
}

fn stage(name: &str, plugin: &Path, config: Value) -> Value {
    json!({"name": name, "plugin": plugin.to_str().unwrap(), "config": config})
}

pub(crate) fn value(r: &Record) -> Value {
    serde_json::from_slice(r.value.as_deref().expect("a value")).expect("a JSON value")
}

/// Lines of a JSONL file of `values`.
fn write_jsonl(path: &Path, values: &[Value]) -> PathBuf {
    let text: String = values.iter().map(|v| format!("{v}\n")).collect();
    std::fs::write(path, text).unwrap();
    path.to_path_buf()
}

/// `(key, value)` records keyed by each value's `id`.
fn keyed(values: &[Value]) -> Vec<(String, Vec<u8>)> {
    values.iter().map(|v| (v["id"].to_string(), serde_json::to_vec(v).unwrap())).collect()
}

/// Read `topic` until it holds at least `n` records or `timeout` passes.
pub(crate) fn read_at_least(topic: &str, n: usize, timeout: Duration) -> Vec<Record> {
    let start = Instant::now();
    loop {
        let recs = read(topic, Duration::from_millis(1500));
        if recs.len() >= n || start.elapsed() > timeout {
            return recs;
        }
    }
}

/// `wasp evaluate ARGS --json`, parsed.
fn evaluate_json(args: &[&str]) -> Value {
    let mut all = vec!["evaluate"];
    all.extend_from_slice(args);
    all.push("--json");
    let o = wasp(&all);
    let (out, err) = text(&o);
    assert!(o.status.success(), "wasp evaluate failed: {err}");
    serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"))
}

fn accuracy(predicted: &[String], truth: &[String]) -> f64 {
    predicted.iter().zip(truth).filter(|(p, t)| p == t).count() as f64 / truth.len() as f64
}

#[test]
fn knn_in_wasm_predicts_exactly_what_scikit_learn_predicts() {
    let dir = temp_dir("ml-sklearn");
    for (name, k) in [("iris", 5), ("iris", 3), ("wine", 5)] {
        let d = Dataset::load(name);
        let p = write_pipeline(
            &dir.join(format!("{name}-{k}.toml")),
            json!({
                "name": format!("{name}-{k}"),
                "topics": {"output": "predictions", "feedback": "wrong"},
                "stage": [stage("knn", &plugin("knn"), d.knn_config(k))],
            }),
        );
        let input = write_jsonl(&dir.join(format!("{name}.jsonl")), &d.test_rows());
        let o = wasp(&["test", p.to_str().unwrap(), "--input", input.to_str().unwrap()]);
        let (out, err) = text(&o);
        assert!(o.status.success(), "wasp test failed: {err}");
        let lines: Vec<Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        let on = |topic: &str| -> BTreeMap<u64, String> {
            lines
                .iter()
                .filter(|l| l["topic"] == topic)
                .map(|l| {
                    (
                        l["offset"].as_u64().unwrap(),
                        l["value"]["prediction"].as_str().unwrap().into(),
                    )
                })
                .collect()
        };
        let predicted: Vec<String> = on("predictions").into_values().collect();
        let (sklearn, truth) = (d.sklearn(k), d.test_y());
        assert_eq!(predicted.len(), truth.len(), "one prediction per test row: {out}");
        let differ: Vec<usize> = (0..truth.len()).filter(|&i| predicted[i] != sklearn[i]).collect();
        assert!(differ.is_empty(), "{name} k={k}: rows {differ:?} differ from scikit-learn");
        // Wrong predictions, and only those, also reached the feedback topic.
        let wrong: BTreeMap<u64, String> = (0..truth.len())
            .filter(|&i| sklearn[i] != truth[i])
            .map(|i| (i as u64, sklearn[i].clone()))
            .collect();
        assert_eq!(on("wrong"), wrong, "{name} k={k}: feedback = the misclassified rows");
        // `wasp evaluate` over the same output agrees.
        let out_file = dir.join(format!("{name}-{k}.out.jsonl"));
        std::fs::write(&out_file, &out).unwrap();
        let report = evaluate_json(&[
            "--input",
            out_file.to_str().unwrap(),
            "--only-topic",
            "predictions",
            "--label",
            d.label(),
            "--prediction",
            "prediction",
        ]);
        let (wasm_acc, sk_acc) = (report["accuracy"].as_f64().unwrap(), accuracy(&sklearn, &truth));
        assert_eq!(wasm_acc, sk_acc, "{report}");
        assert_eq!(report["evaluated"], truth.len());
        note(&format!(
            "{name} k={k}: all {} Wasm predictions identical to scikit-learn's; accuracy {wasm_acc:.4} \
             (scikit-learn {sk_acc:.4}), macro F1 {:.4}; the {} misclassified = the feedback records",
            truth.len(),
            report["macro_avg"]["f1"].as_f64().unwrap(),
            wrong.len()
        ));
    }
}

#[test]
fn feedback_topic_holds_exactly_the_misclassified_iris_records() {
    let [input, output, feedback, dlq] =
        ["ml-fb-in", "ml-fb-out", "ml-fb-wrong", "ml-fb-dlq"].map(unique);
    create(&[&input], 5);
    create(&[&output, &feedback, &dlq], 1);
    let d = Dataset::load("iris");
    let rows = d.test_rows();
    produce(&input, &keyed(&rows), None);
    let dir = temp_dir("ml-feedback");
    let k = 3;
    let p = write_pipeline(
        &dir.join("iris.toml"),
        json!({
            "name": unique("ml-fb"),
            "topics": {"input": [input], "output": output, "feedback": feedback, "dead_letter": dlq},
            "stage": [stage("knn", &plugin("knn"), d.knn_config(k))],
        }),
    );
    Wasp::start(&p, &["--max-records", &rows.len().to_string()], "run")
        .wait_ok(Duration::from_secs(120));

    let (sklearn, truth) = (d.sklearn(k), d.test_y());
    let expected: BTreeSet<(u64, String, String)> = (0..truth.len())
        .filter(|&i| sklearn[i] != truth[i])
        .map(|i| (i as u64, sklearn[i].clone(), truth[i].clone()))
        .collect();
    assert!(!expected.is_empty(), "the split has misclassified rows at k={k}");
    let fb = read(&feedback, Duration::from_secs(2));
    let got: BTreeSet<(u64, String, String)> = fb
        .iter()
        .map(|r| {
            let v = value(r);
            assert_eq!(
                r.key.as_deref(),
                Some(v["id"].to_string().as_bytes()),
                "keeps the input key"
            );
            (
                v["id"].as_u64().unwrap(),
                v["prediction"].as_str().unwrap().into(),
                v["species"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(fb.len(), expected.len(), "one feedback record per wrong prediction");
    assert_eq!(got, expected, "feedback = (id, sklearn's wrong prediction, true label)");

    let out = read(&output, Duration::from_secs(2));
    let by_id: BTreeMap<u64, String> = out
        .iter()
        .map(|r| {
            let v = value(r);
            (v["id"].as_u64().unwrap(), v["prediction"].as_str().unwrap().into())
        })
        .collect();
    assert_eq!(by_id.into_values().collect::<Vec<_>>(), sklearn, "every prediction is sklearn's");
    assert!(read(&dlq, Duration::from_secs(1)).is_empty());
    let report =
        evaluate_json(&["--topic", &output, "--label", "species", "--prediction", "prediction"]);
    assert_eq!(report["accuracy"].as_f64().unwrap(), accuracy(&sklearn, &truth), "{report}");
    note(&format!(
        "Kafka, Iris k={k}: {} outputs, feedback holds exactly the {} misclassified records {:?}",
        out.len(),
        got.len(),
        got.iter().map(|(id, p, _)| format!("{id}:{p}")).collect::<Vec<_>>()
    ));
}

/// The output records of `id` in `recs` whose `attempt` is `attempt`.
fn attempt_of<'a>(recs: &'a [Record], id: u64, attempt: &str) -> Option<&'a Record> {
    recs.iter().find(|r| {
        let v = value(r);
        v["id"] == json!(id) && v["attempt"] == json!(attempt)
    })
}

#[test]
fn a_correction_is_learned_and_survives_a_hot_reload_and_a_restart() {
    let [input, output, feedback, corrections, dlq] =
        ["ml-c-in", "ml-c-out", "ml-c-wrong", "ml-c-fix", "ml-c-dlq"].map(unique);
    create(&[&input], 2);
    create(&[&output, &feedback, &corrections, &dlq], 1);
    let d = Dataset::load("iris");
    let rows = d.test_rows();
    let dir = temp_dir("ml-correct");
    let knn = std::fs::read(plugin("knn")).unwrap();
    let plugin_file = dir.join("knn.wasm");
    replace(&plugin_file, &knn);
    // k=1: one correction outvotes the training set for its own record.
    let name = unique("ml-correct");
    let mut pipeline = json!({
        "name": name,
        "version_header": true,
        "topics": {"input": [input], "output": output, "feedback": feedback,
                   "corrections": corrections, "dead_letter": dlq},
        "state": {"path": "state.json"},
        // A stage that does not learn sits in front: corrections must still
        // reach the k-NN stage behind it.
        "stage": [
            {"name": "shape", "plugin": plugin("json-transform").display().to_string(), "config": {}},
            {"name": "knn", "plugin": "knn.wasm", "config": d.knn_config(1)},
        ],
    });
    let with_corrections = write_pipeline(&dir.join("learning.toml"), pipeline.clone());
    // The restart runs without a corrections topic, so what it knows of the
    // correction can only come from the state file.
    pipeline["topics"].as_object_mut().unwrap().remove("corrections");
    let without_corrections = write_pipeline(&dir.join("restarted.toml"), pipeline);

    // Row 42 (4.9, 2.5, 4.5, 1.7) is an Iris-virginica that k=1 calls
    // Iris-versicolor: its nearest training row is a versicolor.
    let id = 42u64;
    let row = rows[id as usize].clone();
    assert_eq!(row["species"], "Iris-virginica");
    let resend = |attempt: &str| {
        let mut v = row.clone();
        v["attempt"] = json!(attempt);
        produce(&input, &keyed(&[v]), None);
    };
    let wait_attempt = |attempt: &str| -> (Value, Record) {
        let start = Instant::now();
        loop {
            let recs = read(&output, Duration::from_millis(1200));
            if let Some(r) = attempt_of(&recs, id, attempt) {
                return (value(r), r.clone());
            }
            assert!(start.elapsed() < Duration::from_secs(60), "attempt {attempt} never came out");
        }
    };

    let w = Wasp::start(&with_corrections, &[], "learning");
    assert!(w.wait_for_log("partition assigned", Duration::from_secs(60)), "{}", w.log());
    produce(&input, &keyed(&rows), None);
    let first = read_at_least(&output, rows.len(), Duration::from_secs(60));
    assert_eq!(first.len(), rows.len(), "{}", w.log());
    let before = first.iter().map(value).find(|v| v["id"] == json!(id)).unwrap();
    assert_eq!(before["prediction"], "Iris-versicolor", "wrong before the correction");

    // The correction names the record by id; the features are those the
    // plugin remembered when it classified it.
    let correction = json!({"id": id, "correct_label": "Iris-virginica"});
    produce(&corrections, &[(id.to_string(), serde_json::to_vec(&correction).unwrap())], None);
    // Learning and classifying run on different partition workers: re-send
    // until the correction shows (it must within seconds).
    let start = Instant::now();
    let mut attempts = 0;
    let learned = loop {
        attempts += 1;
        let attempt = format!("learn-{attempts}");
        resend(&attempt);
        let (v, _) = wait_attempt(&attempt);
        if v["prediction"] == "Iris-virginica" {
            break v;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the correction was never applied: {}",
            w.log()
        );
    };
    assert_eq!(learned["vote_share"], json!(1.0));
    resend("after-learning");
    assert_eq!(wait_attempt("after-learning").0["prediction"], "Iris-virginica", "and it stays");

    // Hot reload: a new version of the plugin (same code, new content hash).
    let next = generation_of(&knn, 1);
    replace(&plugin_file, &next);
    let new_version = short_hash(&next);
    assert!(
        w.wait_for_log(&format!("now runs {new_version}"), Duration::from_secs(30)),
        "the new version was not loaded:\n{}",
        w.log()
    );
    resend("after-reload");
    let (v, r) = wait_attempt("after-reload");
    assert_eq!(r.header(headers::PLUGIN_VERSION).as_deref(), Some(new_version.as_str()));
    assert_eq!(v["prediction"], "Iris-virginica", "the correction survives the hot reload");
    w.sigterm();
    let log = w.wait_ok(Duration::from_secs(60));
    assert!(log.contains("(1 learned)"), "the new version loaded the learned row:\n{log}");

    // Restart: a new process, the same state file, no corrections topic.
    let w = Wasp::start(&without_corrections, &[], "restarted");
    assert!(w.wait_for_log("partition assigned", Duration::from_secs(60)), "{}", w.log());
    resend("after-restart");
    let (v, _) = wait_attempt("after-restart");
    assert_eq!(v["prediction"], "Iris-virginica", "the correction survives a restart");
    w.sigterm();
    let log = w.wait_ok(Duration::from_secs(60));
    assert!(log.contains("over 106 training rows (1 learned)"), "{log}");
    let fb: Vec<Value> = read(&feedback, Duration::from_secs(1)).iter().map(value).collect();
    assert!(
        fb.iter().all(|v| v["attempt"].is_null() || v["attempt"].as_str().unwrap().starts_with("learn-")),
        "no feedback after the correction took effect: {fb:?}"
    );
    assert!(read(&dlq, Duration::from_secs(1)).is_empty(), "the correction was usable");
    note(&format!(
        "correction of row {id}: applied by attempt {attempts}, kept after a hot reload to {new_version} and a restart"
    ));
}

#[test]
fn anomaly_f1_through_wasm_and_kafka_is_within_005_of_scikit_learn() {
    let [input, output, alerts, dlq] =
        ["ml-an-in", "ml-an-out", "ml-an-alerts", "ml-an-dlq"].map(unique);
    // One partition: the detector keeps one model per partition.
    create(&[&input, &output, &alerts, &dlq], 1);
    let sk: Value = serde_json::from_str(&data("sensors/sklearn.json")).unwrap();
    let stream = data("sensors/stream.jsonl");
    let lines: Vec<(String, Vec<u8>)> =
        stream.lines().enumerate().map(|(i, l)| (i.to_string(), l.as_bytes().to_vec())).collect();
    produce(&input, &lines, None);
    let dir = temp_dir("ml-anomaly");
    let mut config = sk["settings"].clone();
    config["status_field"] = json!("status");
    let p = write_pipeline(
        &dir.join("sensors.toml"),
        json!({
            "name": unique("ml-anomaly"),
            "topics": {"input": [input], "output": output, "feedback": alerts, "dead_letter": dlq},
            "stage": [stage("detect", &plugin("anomaly"), config)],
        }),
    );
    Wasp::start(&p, &["--max-records", &lines.len().to_string()], "run")
        .wait_ok(Duration::from_secs(180));

    let mut out = read(&output, Duration::from_secs(2));
    out.sort_by_key(|r| r.offset);
    assert_eq!(out.len(), lines.len());
    let warmup = sk["settings"]["warmup"].as_u64().unwrap() as usize;
    let (mut tp, mut fp, mut fne) = (0u32, 0u32, 0u32);
    for (i, r) in out.iter().enumerate() {
        let v = value(r);
        assert_eq!(r.key.as_deref(), Some(i.to_string().as_bytes()), "stream order kept");
        let status = v["status"].as_str().unwrap();
        if i < warmup {
            assert_eq!(status, "WARMUP");
            continue;
        }
        match (status == "ANOMALY", v["is_anomaly"] == json!(1)) {
            (true, true) => tp += 1,
            (true, false) => fp += 1,
            (false, true) => fne += 1,
            _ => {}
        }
    }
    let (precision, recall) = (tp as f64 / (tp + fp) as f64, tp as f64 / (tp + fne) as f64);
    let f1 = 2.0 * precision * recall / (precision + recall);
    let sk_f1 = sk["f1"].as_f64().unwrap();
    assert_eq!(
        read(&alerts, Duration::from_secs(1)).len(),
        (tp + fp) as usize,
        "alerts = anomalies"
    );
    let png = dir.join("scores.png");
    let report = evaluate_json(&[
        "--topic",
        &output,
        "--status",
        "status",
        "--truth",
        "is_anomaly",
        "--png",
        png.to_str().unwrap(),
    ]);
    assert_eq!(report["f1"].as_f64().unwrap(), f1, "wasp evaluate agrees: {report}");
    assert_eq!(report["not_scored"], warmup);
    assert!(std::fs::read(&png).unwrap().starts_with(b"\x89PNG"));
    note(&format!(
        "anomaly F1 on {} scored readings: Wasm plugin {f1:.3} (precision {precision:.3}, recall {recall:.3}) \
         vs scikit-learn IsolationForest {sk_f1:.3} (precision {:.3}, recall {:.3}); seeds 0-9 mean {:.3}",
        lines.len() - warmup,
        sk["precision"].as_f64().unwrap(),
        sk["recall"].as_f64().unwrap(),
        sk["f1_mean_seeds_0_to_9"].as_f64().unwrap()
    ));
    assert!(f1 >= sk_f1 - 0.05, "F1 {f1:.3} is more than 0.05 below scikit-learn's {sk_f1:.3}");
}

/// PNG width and height from the IHDR chunk.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    let be = |b: &[u8]| u32::from_be_bytes(b.try_into().unwrap());
    (be(&bytes[16..20]), be(&bytes[20..24]))
}

#[test]
fn evaluate_reports_exact_numbers_on_a_handmade_example() {
    let dir = temp_dir("ml-evaluate");
    // `wasp test`-style lines: 10 labelled predictions on topic "out" (see
    // the hand computation below), a feedback copy of a wrong one, a record
    // without a label and a dead letter.
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
    let mut lines: Vec<Value> = pairs
        .iter()
        .enumerate()
        .map(|(i, (t, p))| json!({"offset": i, "topic": "out", "key": null, "value": {"y": t, "pred": p}}))
        .collect();
    lines.push(
        json!({"offset": 2, "topic": "wrong", "key": null, "value": {"y": "a", "pred": "b"}}),
    );
    lines.push(json!({"offset": 10, "topic": "out", "key": null, "value": {"pred": "c"}}));
    lines.push(json!({"offset": 11, "topic": "dlq", "stage": "s", "kind": "rejected", "reason": "r", "value": "oops"}));
    let input = write_jsonl(&dir.join("classified.jsonl"), &lines);
    let input = input.to_str().unwrap();

    // Without --only-topic the feedback copy would count twice: refused.
    let o = wasp(&["evaluate", "--input", input, "--label", "y", "--prediction", "pred"]);
    crate::common::assert_clean_failure(
        &o,
        &["several topics", "out (10)", "wrong (1)", "--only-topic"],
    );

    let png = dir.join("confusion.png");
    let args = ["--input", input, "--only-topic", "out", "--label", "y", "--prediction", "pred"];
    let r = evaluate_json(&[&args[..], &["--png", png.to_str().unwrap()]].concat());
    // Confusion (rows true a, b, c; columns predicted): [3 1 0] [1 2 0] [1 0 2].
    assert_eq!(r["confusion_matrix"], json!([[3, 1, 0], [1, 2, 0], [1, 0, 2]]));
    assert_eq!(
        (r["records"].as_u64(), r["evaluated"].as_u64(), r["without_label"].as_u64()),
        (Some(11), Some(10), Some(1))
    );
    // a: predicted 5 times, 3 right, 4 true -> P 3/5 R 3/4 F1 2/3
    // b: predicted 3 times, 2 right, 3 true -> P 2/3 R 2/3 F1 2/3
    // c: predicted 2 times, 2 right, 3 true -> P 1   R 2/3 F1 4/5
    let close = |v: &Value, x: f64| (v.as_f64().unwrap() - x).abs() < 1e-12;
    let want = [
        ("a", 3. / 5., 3. / 4., 2. / 3., 4),
        ("b", 2. / 3., 2. / 3., 2. / 3., 3),
        ("c", 1., 2. / 3., 4. / 5., 3),
    ];
    for (c, (label, p, rec, f, n)) in r["classes"].as_array().unwrap().iter().zip(want) {
        assert_eq!(c["label"], label);
        assert!(close(&c["precision"], p) && close(&c["recall"], rec) && close(&c["f1"], f), "{c}");
        assert_eq!(c["support"], n);
    }
    assert!(close(&r["accuracy"], 7. / 10.));
    assert!(
        close(&r["macro_avg"]["precision"], 34. / 45.)
            && close(&r["macro_avg"]["recall"], 25. / 36.)
    );
    assert!(close(&r["macro_avg"]["f1"], 32. / 45.));
    assert!(
        close(&r["weighted_avg"]["precision"], 37. / 50.)
            && close(&r["weighted_avg"]["f1"], 53. / 75.)
    );
    let (w, h) = png_size(&std::fs::read(&png).unwrap());
    assert!(w >= 520 && h >= 400, "{w}x{h}");

    // The text report, scikit-learn's layout.
    let o =
        wasp(&["evaluate", args[0], args[1], args[2], args[3], args[4], args[5], args[6], args[7]]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    for line in [
        "           a      0.600     0.750     0.667         4",
        "           c      1.000     0.667     0.800         3",
        "    accuracy                          0.700        10",
        "   macro avg      0.756     0.694     0.711        10",
    ] {
        assert!(out.contains(line), "missing {line:?} in:\n{out}");
    }

    // A detector: 2 warm-up records, then 3 hits, 1 false alarm, 2 misses,
    // 4 correct normals -> precision 3/4, recall 3/5, F1 2/3.
    let mut det = vec![
        json!({"status": "WARMUP", "truth": true}),
        json!({"status": "WARMUP", "truth": false}),
    ];
    for (status, truth, n, score) in [
        ("ANOMALY", 1, 3, 0.8),
        ("ANOMALY", 0, 1, 0.7),
        ("NORMAL", 1, 2, 0.45),
        ("NORMAL", 0, 4, 0.4),
    ] {
        det.extend(
            (0..n).map(|_| json!({"status": status, "truth": truth, "anomaly_score": score})),
        );
    }
    let input = write_jsonl(&dir.join("detected.jsonl"), &det);
    let png = dir.join("scores.png");
    let r = evaluate_json(&[
        "--input",
        input.to_str().unwrap(),
        "--status",
        "status",
        "--truth",
        "truth",
        "--png",
        png.to_str().unwrap(),
    ]);
    let counts = [
        "scored",
        "not_scored",
        "flagged",
        "true_positives",
        "false_positives",
        "false_negatives",
        "true_negatives",
    ]
    .map(|k| r[k].as_u64().unwrap());
    assert_eq!(counts, [10, 2, 4, 3, 1, 2, 4], "{r}");
    assert!(
        close(&r["precision"], 3. / 4.) && close(&r["recall"], 3. / 5.) && close(&r["f1"], 2. / 3.),
        "{r}"
    );
    assert!(close(&r["accuracy"], 7. / 10.));
    assert_eq!(png_size(&std::fs::read(&png).unwrap()), (1400, 680));

    // A mistyped field is named, with the fields that exist.
    let o = wasp(&["evaluate", "--input", input.to_str().unwrap(), "--status", "state"]);
    crate::common::assert_clean_failure(&o, &["'state'", "status, truth"]);
}
