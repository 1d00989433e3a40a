//! A model the evaluator would get wrong is refused on load with a message
//! naming the check row, the estimator and the scikit-learn version; bad
//! records are refused with a message naming the field.
use model_eval::Model;
use serde_json::{json, Value};

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn load(doc: &Value) -> Result<Model, String> {
    Model::load(&serde_json::to_vec(doc).unwrap())
}

#[test]
fn a_check_row_that_disagrees_refuses_the_model() {
    let mut doc = fixture("heart_forest");
    let p = doc["checks"][3]["proba"][1].as_f64().unwrap();
    doc["checks"][3]["proba"][1] = json!(p + 1e-9);
    let err = load(&doc).unwrap_err();
    assert!(err.contains("check row 3"), "{err}");
    assert!(err.contains("RandomForestClassifier"), "{err}");
    assert!(err.contains("scikit-learn 1.9.1"), "{err}");
    assert!(err.contains("probability 1"), "{err}");
}

#[test]
fn a_wrong_label_refuses_the_model() {
    let mut doc = fixture("reviews_tfidf_logistic");
    let l = doc["checks"][0]["label"].as_i64().unwrap();
    doc["checks"][0]["label"] = json!(1 - l);
    let err = load(&doc).unwrap_err();
    assert!(err.contains("check row 0") && err.contains("LogisticRegression"), "{err}");
}

#[test]
fn a_changed_fitted_attribute_is_caught_by_the_checks() {
    // As if a newer scikit-learn scaled differently: the document's own
    // check rows no longer match the arithmetic.
    let mut doc = fixture("diabetes_ridge");
    let scale = doc["estimator"]["steps"][0]["scale"][2].as_f64().unwrap();
    doc["estimator"]["steps"][0]["scale"][2] = json!(scale * 1.001);
    let err = load(&doc).unwrap_err();
    assert!(err.contains("Ridge") && err.contains("value"), "{err}");
}

#[test]
fn documents_without_checks_or_of_another_version_are_refused() {
    let mut doc = fixture("iris_extra_trees");
    doc["checks"] = json!([]);
    assert!(load(&doc).unwrap_err().contains("no check rows"));
    let mut doc = fixture("iris_extra_trees");
    doc["format_version"] = json!(2);
    assert!(load(&doc).unwrap_err().contains("format_version"));
    assert!(Model::load(b"{}").unwrap_err().contains("not a wasp model document"));
    let mut doc = fixture("iris_extra_trees");
    doc["estimator"]["type"] = json!("SVC");
    assert!(load(&doc).unwrap_err().contains("SVC"));
}

#[test]
fn bad_records_name_the_field() {
    let model = load(&fixture("heart_logistic")).unwrap();
    let rec = json!({"age": 60, "sex": 1, "chest pain type": 4, "resting bp s": 140, "cholesterol": 280,
        "fasting blood sugar": 0, "resting ecg": 0, "max heart rate": 172, "exercise angina": 0,
        "oldpeak": 2.5, "ST slope": 1});
    let ok = model.predict_record(rec.to_string().as_bytes()).unwrap();
    assert_eq!(ok.proba.as_ref().map(Vec::len), Some(2));
    let mut bad = rec.clone();
    bad["cholesterol"] = json!([1]);
    let err = model.predict_record(bad.to_string().as_bytes()).unwrap_err();
    assert!(err.contains("field 'cholesterol'"), "{err}");
    let mut text = rec.clone();
    text["age"] = json!("sixty");
    let err = model.predict_record(text.to_string().as_bytes()).unwrap_err();
    assert!(err.contains("\"sixty\""), "{err}");
    assert!(model.predict_record(b"not json").unwrap_err().contains("not valid JSON"));
}

#[test]
fn handle_unknown_error_refuses_the_record() {
    let doc = json!({
        "format": "wasp-sklearn-model", "format_version": 1, "sklearn_version": "test",
        "input": {"kind": "fields", "fields": ["colour"]},
        "estimator": {"type": "Pipeline", "steps": [
            {"type": "OneHotEncoder", "categories": [["blue", "red"]], "handle_unknown": "error", "drop_idx": null},
            {"type": "LinearRegression", "coef": [2.0, 3.0], "intercept": 0.5}]},
        "checks": [{"input": {"colour": "red"}, "value": 3.5}]
    });
    let model = load(&doc).unwrap();
    let err = model.predict_record(br#"{"colour":"green"}"#).unwrap_err();
    assert!(err.contains("\"green\"") && err.contains("never saw"), "{err}");
}
