//! The `learner` plugin as seed 004's score predictor: real Wasm, the real
//! `wasp` binary, the real broker, the cricket states of
//! plugins/learner/data/ (scripts/cricket.py).
//!
//! - before `min_samples` training samples no record is predicted: each
//!   goes to the feedback topic with a header saying why; at `min_samples`
//!   one model-status event arrives and records are predicted, well;
//! - `refit_every` more samples bring model version 2;
//! - a training sample missing a feature is dead-lettered with the reason;
//! - a restart keeps the model: the same predictions, no new fit.

use crate::broker::*;
use crate::common::{plugin, temp_dir};
use crate::ml::{read_at_least, value, write_pipeline};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::Duration;
use wasp::kafka::admin::Record;
use wasp::router::headers;

const FEATURES: [&str; 6] =
    ["current_over", "current_score", "wickets", "run_rate", "batting_strength", "pitch_condition"];

fn states(file: &str) -> Vec<Value> {
    let path = crate::common::root().join("plugins/learner/data").join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// `(key, value)` records keyed by position.
fn records(values: &[Value]) -> Vec<(String, Vec<u8>)> {
    values
        .iter()
        .enumerate()
        .map(|(i, v)| (i.to_string(), serde_json::to_vec(v).unwrap()))
        .collect()
}

/// Match states as input: the features and the true final score, which the
/// learner passes through, so the output can be scored.
fn inputs(values: &[Value], tag: &str) -> Vec<Value> {
    values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let mut o = json!({"id": format!("{tag}-{i}"), "final_score": v["final_score"]});
            for f in FEATURES {
                o[f] = v[f].clone();
            }
            o
        })
        .collect()
}

fn learner_stage(min_samples: u64, refit_every: u64, status: &str) -> Value {
    json!({
        "name": "predict",
        "plugin": plugin("learner").display().to_string(),
        "config": {
            "features": FEATURES, "target": "final_score",
            // 20 trees keep the fits short on a busy 2-core machine.
            "n_trees": 20, "min_samples": min_samples, "refit_every": refit_every,
            "status_topic": status,
        },
        // A real clock so the status event carries the fit time.
        "limits": {"clock": "real", "deadline_ms": 60_000},
    })
}

/// A pipeline file; runs of the same `name` share the consumer group and
/// the stage's state.
fn pipeline(
    dir: &Path,
    file: &str,
    name: &str,
    topics: Value,
    stage: Value,
    state: bool,
) -> PathBuf {
    let mut p = json!({"name": name, "topics": topics, "stage": [stage]});
    if state {
        p["state"] = json!({"path": "state.json"});
    }
    write_pipeline(&dir.join(file), p)
}

/// R² of the `prediction` fields against the `final_score` fields.
fn r2(outputs: &[Value]) -> f64 {
    let truth: Vec<f64> = outputs.iter().map(|v| v["final_score"].as_f64().unwrap()).collect();
    let mean = truth.iter().sum::<f64>() / truth.len() as f64;
    let total: f64 = truth.iter().map(|t| (t - mean).powi(2)).sum();
    let residual: f64 = outputs
        .iter()
        .zip(&truth)
        .map(|(v, t)| (t - v["prediction"].as_f64().expect("a numeric prediction")).powi(2))
        .sum();
    1.0 - residual / total
}

fn header(r: &Record, name: &str) -> String {
    r.header(name).unwrap_or_else(|| panic!("no header {name} on {:?}", r.to_json()))
}

#[test]
fn learns_from_the_training_topic_announces_each_model_and_predicts() {
    let [input, output, feedback, training, dlq, status] =
        ["ln-in", "ln-out", "ln-wait", "ln-train", "ln-dlq", "ln-status"].map(unique);
    create(&[&input, &output, &feedback, &training, &dlq, &status], 1);
    let dir = temp_dir("learner");
    let topics = json!({"input": [input], "output": output, "feedback": feedback,
        "corrections": training, "dead_letter": dlq, "allowed": [status]});
    let p = pipeline(
        &dir,
        "learner.toml",
        &unique("learner"),
        topics,
        learner_stage(200, 100, &status),
        false,
    );
    let train = states("cricket-train.jsonl");
    let held = states("cricket-holdout.jsonl");

    let w = Wasp::start(&p, &[], "run");
    assert!(w.wait_for_log("partition assigned", Duration::from_secs(60)), "{}", w.log());

    // 199 samples, then one missing a feature: once it is dead-lettered,
    // the 199 before it (same partition) have been learned.
    let mut bad = train[199].clone();
    bad.as_object_mut().unwrap().remove("wickets");
    let mut first = records(&train[..199]);
    first.push(("bad".into(), serde_json::to_vec(&bad).unwrap()));
    produce(&training, &first, None);
    let dead = read_at_least(&dlq, 1, Duration::from_secs(60));
    assert_eq!(dead.len(), 1, "{}", w.log());
    assert_eq!(value(&dead[0]), bad, "dead-lettered unchanged");
    assert_eq!(
        header(&dead[0], headers::REASON),
        "training sample rejected: missing feature 'wickets'"
    );

    // 199 good samples < min_samples: no model, nothing predicted, nothing
    // dropped: every record reaches the feedback topic saying why.
    let early = inputs(&held[..10], "early");
    produce(&input, &records(&early), None);
    let waiting = read_at_least(&feedback, 10, Duration::from_secs(60));
    assert_eq!(waiting.iter().map(value).collect::<Vec<_>>(), early);
    for r in &waiting {
        assert_eq!(
            header(r, "wasp.learner.status"),
            "no model yet: 'final_score' is predicted once 200 training samples have arrived"
        );
    }
    assert!(read(&status, Duration::from_secs(1)).is_empty(), "no fit before 200 samples");
    assert!(read(&output, Duration::from_secs(1)).is_empty(), "no prediction before 200 samples");

    // The 200th sample: one fit, one status event.
    produce(&training, &records(&train[199..200]), None);
    let events = read_at_least(&status, 1, Duration::from_secs(60));
    assert_eq!(events.len(), 1, "{}", w.log());
    let v1 = value(&events[0]);
    assert_eq!(v1["event"], "model-ready");
    assert_eq!(v1["model_version"], 1);
    assert_eq!(
        (v1["samples"].as_u64(), v1["trained_on"].as_u64(), v1["held_out"].as_u64()),
        (Some(200), Some(160), Some(40))
    );
    assert_eq!(
        (v1["algorithm"].as_str(), v1["target"].as_str()),
        (Some("random_forest"), Some("final_score"))
    );
    let q1 = v1["quality"]["r2"].as_f64().expect("R² on the held-out slice");
    assert!(q1 > 0.8, "R² {q1} on the held-out slice: {v1}");
    assert!(v1["fit_ms"].as_f64().is_some_and(|ms| ms > 0.0), "the real clock times the fit: {v1}");

    // Predictions, scored against the states' true final scores.
    let scored = inputs(&held[..300], "v1");
    produce(&input, &records(&scored), None);
    let out: Vec<Value> =
        read_at_least(&output, 300, Duration::from_secs(60)).iter().map(value).collect();
    assert_eq!(out.len(), 300, "{}", w.log());
    assert!(out.iter().all(|v| v["model_version"] == 1));
    let r2_v1 = r2(&out);
    assert!(r2_v1 > 0.8, "R² of model 1 through Kafka: {r2_v1}");

    // refit_every = 100: 99 more samples change nothing, the 100th refits.
    produce(&training, &records(&train[200..299]), None);
    produce(&training, &records(&train[299..300]), None);
    let events = read_at_least(&status, 2, Duration::from_secs(60));
    assert_eq!(events.len(), 2, "{}", w.log());
    let v2 = value(&events[1]);
    assert_eq!(
        (v2["model_version"].as_u64(), v2["samples"].as_u64()),
        (Some(2), Some(300)),
        "{v2}"
    );
    // Model 2 is picked up by the input's worker within a batch or two.
    let start = std::time::Instant::now();
    let mut round = 0;
    let later = loop {
        round += 1;
        let batch = inputs(&held[300..310], &format!("v2-{round}"));
        produce(&input, &records(&batch), None);
        let got: Vec<Value> = read_at_least(&output, 300 + 10 * round, Duration::from_secs(30))
            .iter()
            .map(value)
            .filter(|v| v["id"].as_str().unwrap().starts_with(&format!("v2-{round}-")))
            .collect();
        if got.len() == 10 && got.iter().all(|v| v["model_version"] == 2) {
            break got;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "model 2 never predicted: {got:?}");
    };
    assert_eq!(later.len(), 10);
    assert_eq!(
        read(&dlq, Duration::from_secs(1)).len(),
        1,
        "only the bad sample was dead-lettered"
    );
    w.sigterm();
    w.wait_ok(Duration::from_secs(60));
    note(&format!(
        "learner: v1 on 200 samples, held-out R² {q1:.3}, fit {} ms; R² over Kafka {r2_v1:.3}; v2 on 300",
        v1["fit_ms"]
    ));
}

#[test]
fn a_restart_keeps_the_model_without_refitting() {
    let [input, output, feedback, training, dlq, status] =
        ["lr-in", "lr-out", "lr-wait", "lr-train", "lr-dlq", "lr-status"].map(unique);
    create(&[&input, &output, &feedback, &training, &dlq, &status], 1);
    let dir = temp_dir("learner-restart");
    let mut topics = json!({"input": [input], "output": output, "feedback": feedback,
        "corrections": training, "dead_letter": dlq, "allowed": [status]});
    let mut stage = learner_stage(100, 0, &status);
    // The default sandbox: a frozen clock, so no fit time.
    stage.as_object_mut().unwrap().remove("limits");
    let name = unique("learner-restart");
    let learning = pipeline(&dir, "learning.toml", &name, topics.clone(), stage.clone(), true);
    // The restart has no training topic: a model can only come from the state file.
    topics.as_object_mut().unwrap().remove("corrections");
    let restarted = pipeline(&dir, "restarted.toml", &name, topics, stage, true);
    let train = states("cricket-train.jsonl");
    let held = inputs(&states("cricket-holdout.jsonl")[..50], "q");

    let w = Wasp::start(&learning, &[], "learning");
    assert!(w.wait_for_log("partition assigned", Duration::from_secs(60)), "{}", w.log());
    produce(&training, &records(&train[..100]), None);
    let events = read_at_least(&status, 1, Duration::from_secs(60));
    assert_eq!(events.len(), 1, "{}", w.log());
    let v1 = value(&events[0]);
    assert_eq!(v1["model_version"], 1);
    assert_eq!(v1["fit_ms"], Value::Null, "the frozen clock cannot time a fit: {v1}");
    produce(&input, &records(&held), None);
    let before: Vec<Value> =
        read_at_least(&output, 50, Duration::from_secs(60)).iter().map(value).collect();
    assert_eq!(before.len(), 50, "{}", w.log());
    w.sigterm();
    w.wait_ok(Duration::from_secs(60));

    let w = Wasp::start(&restarted, &[], "restarted");
    assert!(w.wait_for_log("partition assigned", Duration::from_secs(60)), "{}", w.log());
    produce(&input, &records(&held), None);
    let all: Vec<Value> =
        read_at_least(&output, 100, Duration::from_secs(60)).iter().map(value).collect();
    assert_eq!(all.len(), 100, "{}", w.log());
    assert_eq!(
        all[50..],
        before[..],
        "the same model makes the same predictions after the restart"
    );
    w.sigterm();
    let log = w.wait_ok(Duration::from_secs(60));
    assert!(log.contains("100 samples stored; model v1 loaded"), "{log}");
    assert_eq!(read(&status, Duration::from_secs(1)).len(), 1, "no refit after the restart");
    assert!(read(&feedback, Duration::from_secs(1)).is_empty(), "the model was ready at once");
}
