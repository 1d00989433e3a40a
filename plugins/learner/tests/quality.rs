//! The learner against scikit-learn on seed 004's cricket data: the same
//! 1,000 training states and 2,000 held-out states
//! (plugins/learner/data/, written by scripts/sklearn-cricket.py from
//! scripts/cricket.py), the same preprocessing (StandardScaler), the same
//! forest size. The learner's R² and accuracy must come within 0.05 of
//! sklearn's figures in data/sklearn.json.
use learner::config::LearnerConfig;
use learner::model::{fit, quality};
use learner::sample::Sample;
use serde_json::Value;

const TOLERANCE: f64 = 0.05;
const FEATURES: &str =
    r#"["current_over","current_score","wickets","run_rate","batting_strength","pitch_condition"]"#;

fn data(name: &str) -> String {
    let path = format!("{}/data/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn samples(cfg: &LearnerConfig, name: &str) -> Vec<Sample> {
    data(name)
        .lines()
        .map(|l| {
            let v: serde_json::Map<String, Value> = serde_json::from_str(l).unwrap();
            cfg.sample_of(&v).unwrap()
        })
        .collect()
}

fn sklearn(metric: &str, algorithm: &str) -> f64 {
    let v: Value = serde_json::from_str(&data("sklearn.json")).unwrap();
    v[metric][algorithm]
        .as_f64()
        .unwrap_or_else(|| panic!("no {metric}.{algorithm} in sklearn.json"))
}

/// The learner's figure for a config, and sklearn's for the same model.
fn compare(task_cfg: &str, metric: &str, algorithm: &str) -> (f64, f64) {
    let cfg = LearnerConfig::parse(&format!(
        r#"{{"features":{FEATURES},{task_cfg},"algorithm":"{algorithm}"}}"#
    ))
    .unwrap();
    let train = samples(&cfg, "cricket-train.jsonl");
    let held = samples(&cfg, "cricket-holdout.jsonl");
    assert_eq!((train.len(), held.len()), (1000, 2000));
    let model = fit(&cfg.spec, &train).unwrap();
    let ours = quality(&model, cfg.spec.task, &held).unwrap().unwrap();
    let theirs = sklearn(metric, algorithm);
    eprintln!("{metric} {algorithm}: learner {ours:.4}, scikit-learn {theirs:.4}");
    (ours, theirs)
}

fn assert_close((ours, theirs): (f64, f64), what: &str) {
    assert!(
        (ours - theirs).abs() <= TOLERANCE,
        "{what}: learner {ours:.4} vs scikit-learn {theirs:.4}, more than {TOLERANCE} apart"
    );
}

#[test]
fn random_forest_regression_r2_within_005_of_sklearn() {
    assert_close(compare(r#""target":"final_score""#, "r2", "random_forest"), "R²");
}

#[test]
fn linear_regression_r2_within_005_of_sklearn() {
    assert_close(compare(r#""target":"final_score""#, "r2", "linear"), "R²");
}

#[test]
fn random_forest_classification_accuracy_within_005_of_sklearn() {
    let cls = r#""target":"band","task":"classification""#;
    assert_close(compare(cls, "accuracy", "random_forest"), "accuracy");
}

#[test]
fn logistic_classification_accuracy_within_005_of_sklearn() {
    let cls = r#""target":"band","task":"classification""#;
    assert_close(compare(cls, "accuracy", "logistic"), "accuracy");
}
