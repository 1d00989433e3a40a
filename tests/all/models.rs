//! Bring-your-own scikit-learn models (plugins/model) as a user runs them:
//! the real `model.wasm`, the real `wasp` binary, documents exported by
//! `wasp-export-sklearn` (plugins/model-eval/tests/fixtures, written by
//! python/wasp_sklearn_export/tests/make_fixtures.py with scikit-learn 1.9.1).
//!
//! - every exported model loads in Wasm (its check rows pass inside the
//!   sandbox) and predicts, record for record, scikit-learn's labels, with
//!   probabilities, values and scores within 1e-12 relative;
//! - a model whose check rows disagree does not start, and says why.

use crate::common::{plugin, root, temp_dir, text, wasp};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    root().join("plugins/model-eval/tests/fixtures")
}

fn fixture(name: &str) -> Value {
    let p = fixtures().join(format!("{name}.json"));
    serde_json::from_slice(&std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))).unwrap()
}

fn fixture_names() -> Vec<String> {
    std::fs::read_to_string(fixtures().join("INDEX")).unwrap().lines().map(str::to_owned).collect()
}

/// A one-stage pipeline running `doc` through the model plugin.
fn model_pipeline(dir: &Path, name: &str, doc: &Value, extra: Value) -> PathBuf {
    let mut config = extra;
    // JSON text: TOML has no null, and documents hold nulls.
    config["document"] = Value::String(doc.to_string());
    let pipeline = json!({
        "name": name,
        "topics": {"output": "predictions", "feedback": "wrong"},
        "stage": [{"name": "model", "plugin": plugin("model").to_str().unwrap(), "config": config}],
    });
    let toml_value: toml::Value = toml::Value::try_from(&pipeline).expect("JSON pipeline as TOML");
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, toml::to_string(&toml_value).unwrap()).unwrap();
    path
}

fn close(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= 1e-12 * a.abs().max(b.abs())
}

#[test]
fn every_exported_model_predicts_in_wasm_what_scikit_learn_predicts() {
    let dir = temp_dir("models-wasm");
    let mut summary = Vec::new();
    for name in fixture_names() {
        let doc = fixture(&name);
        let text_input = doc["input"]["kind"] == "text";
        // A JSON-lines file holds one record per line: documents with a line
        // break cannot be given to `wasp test` (they still ran as check rows
        // inside the plugin at init).
        let rows: Vec<&Value> = doc["checks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| !(text_input && r["input"].as_str().is_some_and(|s| s.contains('\n') || s.trim().is_empty())))
            .collect();
        let lines: String = rows
            .iter()
            .map(|r| match &r["input"] {
                Value::String(s) => format!("{s}\n"),
                v => format!("{v}\n"),
            })
            .collect();
        let input = dir.join(format!("{name}.jsonl"));
        std::fs::write(&input, lines).unwrap();
        let p = model_pipeline(&dir, &name, &doc, json!({"probabilities_field": "proba", "score_field": "score"}));
        let o = wasp(&["test", p.to_str().unwrap(), "--input", input.to_str().unwrap()]);
        let (out, err) = text(&o);
        assert!(o.status.success(), "{name}: wasp test failed: {err}");
        let outputs: Vec<Value> = out
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter(|l| l["topic"] == "predictions")
            .collect();
        assert_eq!(outputs.len(), rows.len(), "{name}: one prediction per record: {out}");
        for (i, (row, got)) in rows.iter().zip(&outputs).enumerate() {
            let v = &got["value"];
            if let Some(label) = row.get("label") {
                assert_eq!(&v["prediction"], label, "{name} row {i}: label");
            }
            if let Some(want) = row["value"].as_f64() {
                let g = v["prediction"].as_f64().unwrap();
                assert!(close(g, want), "{name} row {i}: value {g} vs scikit-learn {want}");
            }
            if let Some(want) = row["score"].as_f64() {
                let g = v["score"].as_f64().unwrap();
                assert!(close(g, want), "{name} row {i}: score {g} vs scikit-learn {want}");
            }
            if let Some(want) = row["proba"].as_array() {
                let got: Vec<f64> = v["proba"].as_object().unwrap().values().map(|p| p.as_f64().unwrap()).collect();
                assert_eq!(got.len(), want.len(), "{name} row {i}");
                for (g, w) in got.iter().zip(want) {
                    let w = w.as_f64().unwrap();
                    assert!(close(*g, w), "{name} row {i}: probability {g} vs scikit-learn {w}");
                }
            }
        }
        summary.push(format!("{name} ({})", rows.len()));
    }
    crate::broker::note(&format!(
        "model.wasm: scikit-learn's labels on every held-out row, numbers within 1e-12: {}",
        summary.join(", ")
    ));
}

#[test]
fn a_model_whose_check_rows_disagree_does_not_start() {
    let dir = temp_dir("models-refused");
    let mut doc = fixture("heart_forest");
    let p = doc["checks"][2]["proba"][0].as_f64().unwrap();
    doc["checks"][2]["proba"][0] = json!(p + 1e-6);
    let pipeline = model_pipeline(&dir, "refused", &doc, json!({}));
    let input = dir.join("in.jsonl");
    std::fs::write(&input, format!("{}\n", doc["checks"][0]["input"])).unwrap();
    let o = wasp(&["test", pipeline.to_str().unwrap(), "--input", input.to_str().unwrap()]);
    let (_, err) = text(&o);
    assert!(!o.status.success(), "a refused model must stop the run: {err}");
    for needle in ["check row 2", "RandomForestClassifier", "scikit-learn 1.9.1"] {
        assert!(err.contains(needle), "stderr should name {needle:?}: {err}");
    }
    assert!(!err.contains("panicked"), "{err}");
}
