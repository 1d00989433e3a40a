//! Feedback, corrections and state, through the plugin's `Plugin` API with
//! the SDK's native state stub (per thread, so every test starts empty).
use serde_json::{json, Value};
use wasp_sdk::{state, BatchInfo, Destination, Message, Plugin, Scope, Verdict};

use knn::{store, KnnPlugin};

const IRIS: &str =
    r#"{"features":["sepal_length","sepal_width","petal_length","petal_width"],"builtin":"iris"}"#;

fn msg(offset: i64, v: &Value) -> Message<'static> {
    Message {
        offset,
        timestamp: Some(1_700_000_000_000 + offset),
        key: None,
        value: Some(serde_json::to_vec(v).unwrap().into()),
        headers: vec![],
    }
}

/// Learn one correction and require it to be used (a `drop` verdict).
fn learned(p: &mut KnnPlugin, offset: i64, v: &Value) {
    let verdict = p.learn(&corrections(), msg(offset, v));
    assert!(matches!(verdict, Verdict::Drop), "{v} gave {verdict:?}");
}

fn input() -> BatchInfo {
    BatchInfo { topic: "flowers".into(), partition: 3 }
}

fn corrections() -> BatchInfo {
    BatchInfo { topic: "flowers-corrections".into(), partition: 0 }
}

fn process(p: &mut KnnPlugin, records: &[Value]) -> Vec<Verdict> {
    let batch = records.iter().enumerate().map(|(i, r)| msg(i as i64, r)).collect();
    p.process_batch(&input(), batch)
}

/// The Next output and whether a Feedback copy came with it.
fn outcome(v: &Verdict) -> (Value, bool) {
    match v {
        Verdict::Value(b) => (serde_json::from_slice(b).unwrap(), false),
        Verdict::Emit(outs) => {
            assert_eq!(outs.len(), 2, "{v:?}");
            assert!(matches!(outs[0].destination, Destination::Next));
            assert!(matches!(outs[1].destination, Destination::Feedback));
            assert_eq!(outs[0].value, outs[1].value);
            assert!(outs.iter().all(|o| o.key.is_none() && o.headers.is_empty()));
            (serde_json::from_slice(outs[0].value.as_ref().unwrap()).unwrap(), true)
        }
        other => panic!("expected an output, got {other:?}"),
    }
}

fn iris_split() -> Value {
    let path = format!("{}/../../tests/data/knn/iris.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The iris test rows as records with `label` and `record_id`, and a
/// config trained on the split's training rows.
fn iris_records() -> (String, Vec<Value>) {
    let doc = iris_split();
    let f: Vec<String> = serde_json::from_value(doc["features"].clone()).unwrap();
    let obj = |x: &Value, y: &Value, id: Option<usize>| {
        let mut m: serde_json::Map<String, Value> =
            f.iter().cloned().zip(x.as_array().unwrap().iter().cloned()).collect();
        m.insert("label".into(), y.clone());
        if let Some(id) = id {
            m.insert("record_id".into(), json!(format!("r{id}")));
        }
        Value::Object(m)
    };
    let training: Vec<Value> = doc["train_x"]
        .as_array()
        .unwrap()
        .iter()
        .zip(doc["train_y"].as_array().unwrap())
        .map(|(x, y)| obj(x, y, None))
        .collect();
    let tests = doc["test_x"]
        .as_array()
        .unwrap()
        .iter()
        .zip(doc["test_y"].as_array().unwrap())
        .enumerate()
        .map(|(i, (x, y))| obj(x, y, Some(i)))
        .collect();
    (json!({"features": f, "training": training}).to_string(), tests)
}

#[test]
fn feedback_is_emitted_exactly_when_wrong() {
    let (cfg, records) = iris_records();
    let mut p = KnnPlugin::init(&cfg).unwrap();
    let verdicts = process(&mut p, &records);
    let mut wrong = 0;
    for (rec, v) in records.iter().zip(&verdicts) {
        let (out, fed_back) = outcome(v);
        assert_eq!(fed_back, out["prediction"] != rec["label"], "{out}");
        wrong += fed_back as usize;
        // The output is the input plus the two fields, input order kept.
        let mut expected = rec.as_object().unwrap().clone();
        expected.insert("prediction".into(), out["prediction"].clone());
        expected.insert("vote_share".into(), out["vote_share"].clone());
        assert_eq!(serde_json::to_string(&out).unwrap(), serde_json::to_string(&expected).unwrap());
    }
    // sklearn gets exactly one of the 45 wrong at k=5 (accuracy 0.9778).
    assert_eq!(wrong, 1);

    // Unlabelled copies of the same records never go to feedback.
    let unlabelled: Vec<Value> = records
        .iter()
        .map(|r| {
            let mut r = r.clone();
            r.as_object_mut().unwrap().remove("label");
            r
        })
        .collect();
    assert!(process(&mut p, &unlabelled).iter().all(|v| matches!(v, Verdict::Value(_))));
}

#[test]
fn a_correction_by_id_changes_the_prediction_of_a_repeated_record() {
    let (cfg, records) = iris_records();
    let mut p = KnnPlugin::init(&cfg).unwrap();
    let verdicts = process(&mut p, &records);
    let i = verdicts.iter().position(|v| outcome(v).1).expect("one wrong prediction");
    let rec = &records[i];
    let truth = rec["label"].clone();
    let (before, _) = outcome(&verdicts[i]);
    assert_ne!(before["prediction"], truth);

    // Corrections carry only the id: the features come from what `process`
    // remembered. Three rows at distance 0 outvote the 2 left of k=5.
    let correction = json!({"record_id": rec["record_id"], "correct_label": truth});
    let rows_before = p.rows().len();
    for offset in 0..3 {
        learned(&mut p, offset, &correction);
    }
    assert_eq!(p.rows().len(), rows_before + 3);
    let (after, fed_back) = outcome(&process(&mut p, std::slice::from_ref(rec))[0]);
    assert_eq!(after["prediction"], truth);
    assert!(!fed_back);
    assert_eq!(after["vote_share"], json!(0.6));
}

#[test]
fn a_labelled_record_is_a_correction_and_redelivery_is_learned_once() {
    let mut p = KnnPlugin::init(
        r#"{"features":["x"],"k":1,"training":[{"x":0,"label":"low"},{"x":10,"label":"high"}]}"#,
    )
    .unwrap();
    let (out, _) = outcome(&process(&mut p, &[json!({"x": 4})])[0]);
    assert_eq!(out, json!({"x": 4, "prediction": "low", "vote_share": 1.0}));
    let labelled = json!({"x": 4.5, "label": "high"});
    learned(&mut p, 7, &labelled);
    learned(&mut p, 7, &labelled);
    assert_eq!(p.rows().len(), 3);
    let (out, _) = outcome(&process(&mut p, &[json!({"x": 4})])[0]);
    assert_eq!(out["prediction"], "high");
    // `correct_label` wins over the record's own (wrong) label.
    let fix = json!({"x": 4.25, "label": "high", "correct_label": "low"});
    learned(&mut p, 8, &fix);
    assert_eq!(p.rows()[3].y, knn::Label::Str("low".into()));
}

#[test]
fn state_survives_a_new_plugin_value() {
    let mut a = KnnPlugin::init(IRIS).unwrap();
    let odd = json!({"sepal_length": 30.0, "sepal_width": 30.0, "petal_length": 30.0,
                     "petal_width": 30.0, "label": "Iris-gigantea"});
    learned(&mut a, 1, &odd);
    let query = json!({"sepal_length": 29.0, "sepal_width": 29.0, "petal_length": 29.0, "petal_width": 29.0});

    // A recycled instance: a fresh value, same thread, same host state. Its
    // config even seeds differently; the stored training set wins.
    let other_seed = IRIS.replace(r#""builtin":"iris""#, r#""training":[{"sepal_length":1,"sepal_width":1,"petal_length":1,"petal_width":1,"label":"x"}]"#);
    let mut b = KnnPlugin::init(&other_seed).unwrap();
    assert_eq!(b.rows(), a.rows());
    assert_eq!(b.rows().len(), 151);
    let b_out = outcome(&process(&mut b, std::slice::from_ref(&query))[0]).0;
    let a_out = outcome(&process(&mut a, std::slice::from_ref(&query))[0]).0;
    assert_eq!(a_out, b_out);
    // k=5: the one learned row plus 4 irises, all far; the vote is 4 to 1.
    assert_eq!(b_out["vote_share"], json!(0.8));

    // Both alive: a row learned by one is used by the other's next batch.
    let near = json!({"sepal_length": 29.0, "sepal_width": 29.0, "petal_length": 29.0,
                      "petal_width": 29.0, "correct_label": "Iris-gigantea"});
    for offset in 2..5 {
        learned(&mut b, offset, &near);
    }
    let a_out = outcome(&process(&mut a, &[query])[0]).0;
    assert_eq!(a_out["prediction"], "Iris-gigantea");
    assert_eq!(a.rows().len(), 154);
}

#[test]
fn changing_the_features_starts_over_from_the_config() {
    let mut a = KnnPlugin::init(IRIS).unwrap();
    let row = json!({"sepal_length": 1, "sepal_width": 2, "petal_length": 3, "petal_width": 4, "label": "z"});
    learned(&mut a, 1, &row);
    assert_eq!(a.rows().len(), 151);
    let b =
        KnnPlugin::init(r#"{"features":["petal_length","petal_width"],"builtin":"iris"}"#).unwrap();
    assert_eq!(b.rows().len(), 150);
    assert!(state::keys(Scope::Stage, store::LEARNED).is_empty());
}

#[test]
fn no_training_data_anywhere_is_refused() {
    let err = KnnPlugin::init(r#"{"features":["a"]}"#).err().unwrap();
    assert!(err.contains("no training data"), "{err}");
}

#[test]
fn bad_records_and_corrections_are_rejected_with_reasons() {
    let mut p = KnnPlugin::init(IRIS).unwrap();
    let v = process(
        &mut p,
        &[
            json!({"sepal_length": 5, "sepal_width": 3, "petal_length": 1}),
            json!({"sepal_length": 5, "sepal_width": "3", "petal_length": 1, "petal_width": 0.2}),
            json!({"sepal_length": 5, "sepal_width": 3, "petal_length": 1, "petal_width": 0.2, "label": [1]}),
            json!([1, 2]),
        ],
    );
    let reasons: Vec<&str> = v
        .iter()
        .map(|v| match v {
            Verdict::Reject(r) => r.as_str(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(reasons[0], "missing feature 'petal_width'");
    assert_eq!(reasons[1], "feature 'sepal_width' is not a number: \"3\"");
    assert!(reasons[2].starts_with("field 'label' must be a string or number label"));
    assert_eq!(reasons[3], "value is not a JSON object");

    let learn = |p: &mut KnnPlugin, v: Value| match p.learn(&corrections(), msg(9, &v)) {
        Verdict::Reject(r) => r,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        learn(&mut p, json!({"record_id": "r1"})),
        "correction has neither 'correct_label' nor 'label'"
    );
    let r = learn(&mut p, json!({"record_id": "nope", "correct_label": "Iris-setosa"}));
    assert!(
        r.contains("record_id 'nope' is not among the records seen recently (the last 10000"),
        "{r}"
    );
    let r = learn(&mut p, json!({"correct_label": "Iris-setosa", "sepal_length": 1}));
    assert_eq!(r, "missing feature 'sepal_width', and no 'record_id' to look the record up");
    let r = learn(
        &mut p,
        json!({"record_id": "r1", "correct_label": "Iris-setosa", "sepal_width": true}),
    );
    assert_eq!(r, "feature 'sepal_width' is not a number: true");
    assert_eq!(p.rows().len(), 150);
}

#[test]
fn remembered_ids_are_bounded_per_partition() {
    let cfg = IRIS.replace("{", r#"{"remember":3,"#);
    let mut p = KnnPlugin::init(&cfg).unwrap();
    let rec = |id: &str, x: f64| json!({"record_id": id, "sepal_length": x, "sepal_width": 3, "petal_length": 1, "petal_width": 0.2});
    // r0 is seen again before its slot comes round: the later sighting
    // keeps it, while r1 and r2 age out.
    process(&mut p, &[rec("r0", 1.0), rec("r1", 2.0), rec("r2", 3.0), rec("r0", 4.0)]);
    process(&mut p, &[rec("r3", 5.0), rec("r4", 6.0)]);
    let seen = state::keys(Scope::Stage, store::SEEN);
    assert_eq!(seen, ["knn/seen/r0", "knn/seen/r3", "knn/seen/r4"]);
    assert_eq!(store::seen_features("r0", 4), Some(vec![4.0, 3.0, 1.0, 0.2]));
    // Numeric ids are remembered by their JSON text.
    process(
        &mut p,
        &[
            json!({"record_id": 17, "sepal_length": 1, "sepal_width": 3, "petal_length": 1, "petal_width": 0.2}),
        ],
    );
    let fix = json!({"record_id": 17, "correct_label": "Iris-virginica"});
    learned(&mut p, 1, &fix);
    assert_eq!(p.rows().last().unwrap().x, vec![1.0, 3.0, 1.0, 0.2]);
    let r = p
        .learn(&corrections(), msg(2, &json!({"record_id": "r1", "correct_label": "Iris-setosa"})));
    assert!(
        matches!(r, Verdict::Reject(ref s) if s.contains("last 3 per input partition")),
        "{r:?}"
    );
}

#[test]
fn manhattan_distance_is_used_when_configured() {
    let cfg = |d: &str| {
        json!({"features": ["a", "b"], "k": 1, "distance": d,
               "training": [{"a": 3, "b": 0, "label": "axis"}, {"a": 2, "b": 2, "label": "diagonal"}]})
        .to_string()
    };
    let q = [json!({"a": 0, "b": 0})];
    let mut e = KnnPlugin::init(&cfg("euclidean")).unwrap();
    assert_eq!(outcome(&process(&mut e, &q)[0]).0["prediction"], "diagonal");
    // Fresh state for a fresh training set: the stage state is shared.
    for k in state::keys(Scope::Stage, "knn/") {
        state::delete(Scope::Stage, &k);
    }
    let mut m = KnnPlugin::init(&cfg("manhattan")).unwrap();
    assert_eq!(outcome(&process(&mut m, &q)[0]).0["prediction"], "axis");
}

#[test]
fn custom_field_names_and_numeric_labels() {
    let cfg = json!({"features": ["a"], "label": "truth", "k": 3, "prediction_field": "guess",
                     "vote_field": "confidence", "training_csv": "a,truth\n0,1\n1,1\n5,2\n6,2\n7,2\n"});
    let mut p = KnnPlugin::init(&cfg.to_string()).unwrap();
    let v = process(&mut p, &[json!({"a": 0.5, "truth": 2})]);
    let (out, fed_back) = outcome(&v[0]);
    assert_eq!(out, json!({"a": 0.5, "truth": 2, "guess": 1, "confidence": 2.0 / 3.0}));
    assert!(fed_back);
}
