//! The plugin over real exported models (model-eval's fixtures): seed 001's
//! label texts, probabilities, feedback on a wrong prediction, per-class
//! topics, rejects, and a model refused at init.
use model::ModelPlugin;
use serde_json::{json, Value};
use wasp_sdk::{BatchInfo, Destination, Message, Plugin, Verdict};

fn fixture(name: &str) -> Value {
    let path = format!("{}/../model-eval/tests/fixtures/{name}.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn plugin(doc: &Value, extra: Value) -> Result<ModelPlugin, String> {
    let mut cfg = extra;
    cfg["document"] = doc.clone();
    ModelPlugin::init(&cfg.to_string())
}

fn msg(value: &[u8]) -> Message<'_> {
    Message { offset: 0, timestamp: None, key: None, value: Some(value.into()), headers: vec![] }
}

fn info() -> BatchInfo {
    BatchInfo { topic: "heartinput".into(), partition: 0 }
}

fn run(p: &mut ModelPlugin, values: &[Vec<u8>]) -> Vec<Verdict> {
    p.process_batch(&info(), values.iter().map(|v| msg(v)).collect())
}

fn heart_rows(doc: &Value) -> Vec<(Value, Value)> {
    doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["input"].clone(), r["label"].clone()))
        .collect()
}

#[test]
fn label_output_prints_the_seeds_texts() {
    let doc = fixture("heart_logistic");
    let mut p = plugin(
        &doc,
        json!({"output": "label",
        "labels": {"1": "Risk of Heart Disease", "0": "No Risk of Heart Disease"}}),
    )
    .unwrap();
    let rows = heart_rows(&doc);
    let values: Vec<Vec<u8>> = rows.iter().map(|(r, _)| r.to_string().into_bytes()).collect();
    let verdicts = run(&mut p, &values);
    let mut seen = [0, 0];
    for ((_, want), v) in rows.iter().zip(&verdicts) {
        let Verdict::Value(text) = v else { panic!("{v:?}") };
        let want_text =
            if want == &json!(1) { "Risk of Heart Disease" } else { "No Risk of Heart Disease" };
        assert_eq!(std::str::from_utf8(text).unwrap(), want_text);
        seen[usize::from(want == &json!(1))] += 1;
    }
    assert!(seen[0] > 10 && seen[1] > 10, "both classes appear: {seen:?}");
}

#[test]
fn record_output_adds_prediction_and_probabilities() {
    let doc = fixture("heart_forest");
    let mut p = plugin(&doc, json!({"probabilities_field": "probabilities"})).unwrap();
    let row = &doc["checks"][0];
    let out = run(&mut p, &[row["input"].to_string().into_bytes()]);
    let Verdict::Value(v) = &out[0] else { panic!("{out:?}") };
    let v: Value = serde_json::from_slice(v).unwrap();
    assert_eq!(v["prediction"], row["label"]);
    assert_eq!(v["probabilities"]["1"].as_f64(), row["proba"][1].as_f64());
    assert_eq!(v["chest pain type"], row["input"]["chest pain type"]);
}

#[test]
fn a_wrong_prediction_also_goes_to_feedback() {
    let doc = fixture("heart_logistic");
    let mut p = plugin(&doc, json!({"label_field": "target"})).unwrap();
    let (mut rec, label) = heart_rows(&doc).remove(0);
    rec["target"] = label.clone();
    let right = run(&mut p, &[rec.to_string().into_bytes()]);
    assert!(matches!(right[0], Verdict::Value(_)), "{right:?}");
    rec["target"] = json!(1 - label.as_i64().unwrap());
    let wrong = run(&mut p, &[rec.to_string().into_bytes()]);
    let Verdict::Emit(outs) = &wrong[0] else { panic!("{wrong:?}") };
    assert_eq!(outs.len(), 2);
    assert!(matches!(outs[0].destination, Destination::Next));
    assert!(matches!(outs[1].destination, Destination::Feedback));
    assert_eq!(outs[0].value, outs[1].value);
}

#[test]
fn per_class_topics_route_text_predictions() {
    let doc = fixture("reviews_tfidf_logistic");
    let mut p = plugin(
        &doc,
        json!({"output": "label",
        "labels": {"1": "Positive Sentiment", "0": "Negative Sentiment"},
        "topics": {"0": "negative-reviews"}}),
    )
    .unwrap();
    let rows = doc["checks"].as_array().unwrap();
    let values: Vec<Vec<u8>> =
        rows.iter().map(|r| r["input"].as_str().unwrap().as_bytes().to_vec()).collect();
    let verdicts = run(&mut p, &values);
    let (mut pos, mut neg) = (0, 0);
    for (row, v) in rows.iter().zip(&verdicts) {
        if row["label"] == json!(1) {
            assert!(matches!(v, Verdict::Value(t) if t == b"Positive Sentiment"), "{v:?}");
            pos += 1;
        } else {
            let Verdict::Emit(outs) = v else { panic!("{v:?}") };
            assert!(
                matches!(&outs[0].destination, Destination::Topic(t) if t == "negative-reviews")
            );
            assert_eq!(outs[0].value.as_deref(), Some(&b"Negative Sentiment"[..]));
            neg += 1;
        }
    }
    assert!(pos > 10 && neg > 10, "{pos} {neg}");
}

#[test]
fn bad_records_are_rejected_with_the_reason() {
    let doc = fixture("heart_logistic");
    let mut p = plugin(&doc, json!({})).unwrap();
    let out = run(&mut p, &[b"[1,2]".to_vec(), br#"{"age":"old"}"#.to_vec(), b"{".to_vec()]);
    let reasons: Vec<&str> = out
        .iter()
        .map(|v| match v {
            Verdict::Reject(r) => r.as_str(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert!(reasons[0].contains("not a JSON object"));
    assert!(reasons[1].contains("\"old\""), "{}", reasons[1]);
    assert!(reasons[2].contains("not valid JSON"));
}

#[test]
fn a_model_that_fails_its_checks_does_not_start() {
    let mut doc = fixture("diabetes_forest");
    doc["checks"][5]["value"] = json!(doc["checks"][5]["value"].as_f64().unwrap() + 0.5);
    let err = plugin(&doc, json!({})).err().expect("refused");
    assert!(
        err.contains("check row 5")
            && err.contains("RandomForestRegressor")
            && err.contains("1.9.1"),
        "{err}"
    );
}

#[test]
fn outlier_detectors_write_the_score() {
    let doc = fixture("wine_isolation_forest");
    let mut p = plugin(&doc, json!({"score_field": "anomaly_score"})).unwrap();
    let row = &doc["checks"][0];
    let out = run(&mut p, &[row["input"].to_string().into_bytes()]);
    let Verdict::Value(v) = &out[0] else { panic!("{out:?}") };
    let v: Value = serde_json::from_slice(v).unwrap();
    assert_eq!(v["prediction"], row["label"]);
    assert_eq!(v["anomaly_score"].as_f64(), row["score"].as_f64());
}

#[test]
fn reads_the_model_from_the_stage_file() {
    let doc = fixture("reviews_tfidf_logistic");
    wasp_sdk::files::provide("reviews", doc.to_string().as_bytes());
    let mut p = ModelPlugin::init(r#"{"model_file":"reviews","output":"label"}"#).unwrap();
    let row = &doc["checks"][0];
    let out = run(&mut p, &[row["input"].as_str().unwrap().as_bytes().to_vec()]);
    assert!(
        matches!(&out[0], Verdict::Value(v) if v == row["label"].to_string().as_bytes()),
        "{out:?}"
    );
    let err = ModelPlugin::init("{}").err().expect("no file named model");
    assert!(err.contains("model"), "{err}");
}
