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

    /// The stage as a user writes it: the exported document as the stage
    /// file `model`, the seed's texts as labels.
    fn stage(&self) -> String {
        format!(
            "[[stage]]\nname = \"predict\"\nplugin = \"{}\"\n[stage.files]\nmodel = \"{}\"\n\
             [stage.config]\noutput = \"label\"\nlabels = {{ \"1\" = \"{}\", \"0\" = \"{}\" }}\n",
            plugin("model").display(),
            root().join("examples/models").join(format!("{}.json", self.name)).display(),
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
            &sys.stage(),
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

#[test]
fn a_changed_model_file_hot_swaps_while_records_flow_with_nothing_lost() {
    use crate::broker::*;
    use crate::reload::replace;
    use std::collections::BTreeMap;
    use std::time::Duration;
    use wasp::router::headers;
    let [input, output, dlq] = ["model-swap-in", "model-swap-out", "model-swap-dlq"].map(unique);
    create(&[&input, &output, &dlq], 2);
    // Two models over the same fields: the seed's logistic regression
    // (examples/models) and a random forest (a model-eval fixture). Records
    // are both documents' check rows, so each output can be checked against
    // scikit-learn for whichever model made it, when that model's
    // document holds the record.
    let first = std::fs::read(root().join("examples/models/heart.json")).unwrap();
    let second = std::fs::read(fixtures().join("heart_forest.json")).unwrap();
    let mut sklearn: [BTreeMap<String, Value>; 2] = Default::default();
    let mut records = Vec::new();
    for (k, bytes) in [&first, &second].into_iter().enumerate() {
        let doc: Value = serde_json::from_slice(bytes).unwrap();
        for row in doc["checks"].as_array().unwrap() {
            let text = row["input"].to_string();
            sklearn[k].insert(text.clone(), row["label"].clone());
            records.push(text);
        }
    }
    const ROUNDS: usize = 20;
    let n = records.len() * ROUNDS;
    let values: Vec<(String, Vec<u8>)> = (0..n)
        .map(|i| {
            let mut v: Value = serde_json::from_str(&records[i % records.len()]).unwrap();
            v["id"] = json!(i);
            (i.to_string(), v.to_string().into_bytes())
        })
        .collect();

    let dir = temp_dir("models-swap");
    replace(&dir.join("model.json"), &first);
    let p = pipeline(
        &dir,
        "swap",
        &format!("input = [\"{input}\"]\noutput = \"{output}\"\ndead_letter = \"{dlq}\""),
        &format!(
            "[[stage]]\nname = \"predict\"\nplugin = \"{}\"\n[stage.files]\nmodel = \"model.json\"\n\
             [stage.config]\nprediction_field = \"prediction\"\n",
            plugin("model").display()
        ),
    );
    let toml = std::fs::read_to_string(&p).unwrap();
    std::fs::write(&p, format!("version_header = true\n{toml}")).unwrap();
    let w = Wasp::start(&p, &["--max-records", &n.to_string()], "run");
    assert!(w.wait_for_log("partition assigned", Duration::from_secs(60)), "{}", w.log());
    let topic = input.clone();
    let producer =
        std::thread::spawn(move || produce(&topic, &values, Some(Duration::from_secs(8))));
    std::thread::sleep(Duration::from_secs(3));
    // A model that fails its own check rows is refused; the first keeps serving.
    let mut broken: Value = serde_json::from_slice(&second).unwrap();
    broken["checks"][0]["proba"][0] = json!(0.123);
    replace(&dir.join("model.json"), broken.to_string().as_bytes());
    assert!(w.wait_for_log("refused: stage predict", Duration::from_secs(30)), "{}", w.log());
    replace(&dir.join("model.json"), &second);
    assert!(w.wait_for_log("reload ok: stage predict", Duration::from_secs(30)), "{}", w.log());
    producer.join().unwrap();
    w.wait_ok(Duration::from_secs(180));

    let out = read(&output, Duration::from_secs(3));
    let counts = id_counts(&out);
    assert_eq!(counts.len(), n, "every input has an output");
    assert!(counts.values().all(|&c| c == 1), "no input has two outputs");
    assert!(read(&dlq, Duration::from_secs(1)).is_empty(), "nothing dead-lettered");
    // Which model made each output: the version header, mapped to a model by
    // the outputs it explains.
    // Per version and model: (outputs equal to that model's scikit-learn
    // label, outputs of records that model's document holds).
    let mut by_version: BTreeMap<String, [(usize, usize); 2]> = BTreeMap::new();
    for r in &out {
        let mut v: Value = serde_json::from_slice(r.value.as_deref().unwrap()).unwrap();
        let prediction = v["prediction"].clone();
        let obj = v.as_object_mut().unwrap();
        obj.remove("id");
        obj.remove("prediction");
        let key = v.to_string();
        let version = r.header(headers::PLUGIN_VERSION).unwrap();
        let tally = by_version.entry(version).or_default();
        for k in 0..2 {
            if let Some(want) = sklearn[k].get(&key) {
                tally[k].0 += usize::from(*want == prediction);
                tally[k].1 += 1;
            }
        }
    }
    assert_eq!(by_version.len(), 2, "both models served: {by_version:?}");
    // Each version is exactly one of the two models on every record its
    // document holds, and the two versions are different models.
    let model_of: Vec<usize> = by_version
        .values()
        .map(|t| {
            (0..2)
                .find(|&k| t[k].1 > 0 && t[k].0 == t[k].1)
                .unwrap_or_else(|| panic!("a version matches neither model: {by_version:?}"))
        })
        .collect();
    assert_ne!(model_of[0], model_of[1], "{by_version:?}");
    note(&format!(
        "model hot swap: {n} records, each output once, none dead-lettered; a model failing its \
         check rows was refused mid-stream; per version (matches, records) against scikit-learn's \
         logistic regression and random forest: {by_version:?}"
    ));
}

#[test]
fn the_seed_example_pipelines_print_sklearns_predictions_offline() {
    for (pipeline, input, name, texts) in [
        (
            "heart.toml",
            "heart-input.jsonl",
            "heart",
            ["Risk of Heart Disease", "No Risk of Heart Disease"],
        ),
        (
            "reviews.toml",
            "reviews-input.txt",
            "reviews",
            ["Positive Sentiment", "Negative Sentiment"],
        ),
    ] {
        let sys = SeedSystem::load(name, input, texts);
        let o = wasp(&[
            "test",
            root().join("examples").join(pipeline).to_str().unwrap(),
            "--input",
            root().join("examples/models").join(input).to_str().unwrap(),
        ]);
        let (out, err) = text(&o);
        assert!(o.status.success(), "{pipeline}: {err}");
        let got: Vec<String> = out
            .lines()
            .map(|l| {
                serde_json::from_str::<Value>(l).unwrap()["value"].as_str().unwrap().to_string()
            })
            .collect();
        let want: Vec<String> =
            (0..sys.records.len()).map(|i| sys.expected(i).to_string()).collect();
        assert_eq!(got, want, "{pipeline}: scikit-learn's predictions as the seed prints them");
    }
}
