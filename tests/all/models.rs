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
    serde_json::from_slice(&std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
        .unwrap()
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
            .filter(|r| {
                !(text_input
                    && r["input"].as_str().is_some_and(|s| s.contains('\n') || s.trim().is_empty()))
            })
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
        let p = model_pipeline(
            &dir,
            &name,
            &doc,
            json!({"probabilities_field": "proba", "score_field": "score"}),
        );
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
                let got: Vec<f64> =
                    v["proba"].as_object().unwrap().values().map(|p| p.as_f64().unwrap()).collect();
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

/// The seed's two systems, as `examples/models/train.py` trained and
/// exported them: held-out records in, the seed's texts out, one per input,
/// each equal to scikit-learn's prediction mapped to its text.
struct SeedSystem {
    name: &'static str,
    doc: Value,
    records: Vec<Vec<u8>>,
    texts: [&'static str; 2],
}

impl SeedSystem {
    fn load(name: &'static str, input: &str, texts: [&'static str; 2]) -> SeedSystem {
        let dir = root().join("examples/models");
        let doc: Value =
            serde_json::from_slice(&std::fs::read(dir.join(format!("{name}.json"))).unwrap())
                .unwrap();
        let records: Vec<Vec<u8>> = std::fs::read_to_string(dir.join(input))
            .unwrap()
            .lines()
            .map(|l| l.as_bytes().to_vec())
            .collect();
        assert_eq!(
            records.len(),
            doc["checks"].as_array().unwrap().len(),
            "{name}: inputs = check rows"
        );
        SeedSystem { name, doc, records, texts }
    }

    /// scikit-learn's prediction of record `i`, as the seed prints it.
    fn expected(&self, i: usize) -> &'static str {
        if self.doc["checks"][i]["label"] == json!(1) {
            self.texts[0]
        } else {
            self.texts[1]
        }
    }

    fn config(&self) -> String {
        format!(
            "document = {}\noutput = \"label\"\nlabels = {{ \"1\" = \"{}\", \"0\" = \"{}\" }}\n",
            toml::Value::String(self.doc.to_string()),
            self.texts[0],
            self.texts[1]
        )
    }
}

fn keyed_range(sys: &SeedSystem, range: std::ops::Range<usize>) -> Vec<(String, Vec<u8>)> {
    range.map(|i| (i.to_string(), sys.records[i].clone())).collect()
}

#[test]
fn seed_systems_on_the_broker_print_sklearns_predictions_and_resume_after_a_restart() {
    use crate::broker::*;
    use std::time::Duration;
    let _b = shared();
    let dir = temp_dir("models-seed");
    let heart = SeedSystem::load(
        "heart",
        "heart-input.jsonl",
        ["Risk of Heart Disease", "No Risk of Heart Disease"],
    );
    let reviews = SeedSystem::load(
        "reviews",
        "reviews-input.txt",
        ["Positive Sentiment", "Negative Sentiment"],
    );
    for sys in [&heart, &reviews] {
        let [input, output, dlq] =
            [format!("{}input", sys.name), format!("{}output", sys.name), "dlq".into()]
                .map(|t| unique(&t));
        create(&[&input, &output, &dlq], 1);
        let p = pipeline(
            &dir,
            sys.name,
            &format!("input = [\"{input}\"]\noutput = \"{output}\"\ndead_letter = \"{dlq}\""),
            &stage("predict", "model", &sys.config()),
        );
        // First run: the first half, then stop (offsets committed).
        let half = sys.records.len() / 2;
        produce(&input, &keyed_range(sys, 0..half), None);
        Wasp::start(&p, &["--max-records", &half.to_string()], "first")
            .wait_ok(Duration::from_secs(120));
        // Second run, same consumer group: only the rest must be processed.
        let rest = sys.records.len() - half;
        produce(&input, &keyed_range(sys, half..sys.records.len()), None);
        Wasp::start(&p, &["--max-records", &rest.to_string()], "second")
            .wait_ok(Duration::from_secs(120));

        let out = read(&output, Duration::from_secs(2));
        let got: Vec<(usize, String)> = out
            .iter()
            .map(|r| {
                let key: usize =
                    std::str::from_utf8(r.key.as_deref().unwrap()).unwrap().parse().unwrap();
                (key, String::from_utf8(r.value.clone().unwrap()).unwrap())
            })
            .collect();
        let want: Vec<(usize, String)> =
            (0..sys.records.len()).map(|i| (i, sys.expected(i).to_string())).collect();
        assert_eq!(
            got.len(),
            want.len(),
            "{}: one output per input, none twice after the restart",
            sys.name
        );
        assert_eq!(
            got, want,
            "{}: every output is scikit-learn's prediction as the seed prints it",
            sys.name
        );
        assert!(
            read(&dlq, Duration::from_secs(1)).is_empty(),
            "{}: nothing dead-lettered",
            sys.name
        );
        let positive = want.iter().filter(|(_, t)| t == sys.texts[0]).count();
        note(&format!(
            "seed 001 {}: {} records through model.wasm on the broker in two runs (restart resumed at the \
             committed offset): all equal scikit-learn's, {positive} \"{}\", {} \"{}\"",
            sys.name,
            want.len(),
            sys.texts[0],
            want.len() - positive,
            sys.texts[1]
        ));
    }
}
