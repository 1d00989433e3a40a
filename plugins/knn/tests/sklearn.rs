//! The plugin's predictions against scikit-learn's, exported by
//! `scripts/sklearn-expectations.py` into `tests/data/knn/`.
use serde_json::{json, Map, Value};
use wasp_sdk::{BatchInfo, Message, Plugin, Verdict};

use knn::KnnPlugin;

fn load(name: &str) -> Value {
    let path = format!("{}/../../tests/data/knn/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_owned()).collect()
}

fn record(features: &[String], x: &Value) -> Map<String, Value> {
    features.iter().cloned().zip(x.as_array().unwrap().iter().cloned()).collect()
}

/// How the training rows reach the plugin; both paths must agree with sklearn.
enum Source {
    Inline,
    Csv,
}

fn check(name: &str, k: usize, source: Source) {
    let doc = load(name);
    let features = strings(&doc["features"]);
    let label = doc["label"].as_str().unwrap();
    let train_y = strings(&doc["train_y"]);
    let train_x = doc["train_x"].as_array().unwrap();
    let mut cfg = json!({"features": features, "label": label, "k": k});
    match source {
        Source::Inline => {
            let rows: Vec<Value> = train_x
                .iter()
                .zip(&train_y)
                .map(|(x, y)| {
                    let mut r = record(&features, x);
                    r.insert(label.into(), json!(y));
                    Value::Object(r)
                })
                .collect();
            cfg["training"] = Value::from(rows);
        }
        Source::Csv => {
            let mut csv = format!("{},{label}\n", features.join(","));
            for (x, y) in train_x.iter().zip(&train_y) {
                let cells: Vec<String> =
                    x.as_array().unwrap().iter().map(|v| v.as_f64().unwrap().to_string()).collect();
                csv += &format!("{},{y}\n", cells.join(","));
            }
            cfg["training_csv"] = Value::from(csv);
        }
    }
    let mut plugin = KnnPlugin::init(&cfg.to_string()).unwrap();
    assert_eq!(plugin.rows().len(), train_y.len());

    let expected = strings(&doc["predictions"][k.to_string()]);
    let test_x = doc["test_x"].as_array().unwrap();
    assert_eq!(expected.len(), test_x.len());
    let batch: Vec<Message> = test_x
        .iter()
        .enumerate()
        .map(|(i, x)| Message {
            offset: i as i64,
            timestamp: None,
            key: None,
            value: Some(serde_json::to_vec(&Value::Object(record(&features, x))).unwrap().into()),
            headers: vec![],
        })
        .collect();
    let info = BatchInfo { topic: format!("{name}-test"), partition: 0 };
    let verdicts = plugin.process_batch(&info, batch);
    let mut mismatches = Vec::new();
    for (i, (v, want)) in verdicts.iter().zip(&expected).enumerate() {
        let Verdict::Value(bytes) = v else { panic!("row {i}: unlabelled record gave {v:?}") };
        let out: Value = serde_json::from_slice(bytes).unwrap();
        if out["prediction"] != json!(want) {
            mismatches.push(format!("row {i}: sklearn {want}, plugin {}", out["prediction"]));
        }
        // The winner has at least ceil(k / 4) of the k votes (at most 4 classes).
        let share = out["vote_share"].as_f64().unwrap();
        let votes = share * k as f64;
        assert!(
            (votes - votes.round()).abs() < 1e-9
                && votes >= (k as f64 / 4.0).ceil() - 1e-9
                && votes <= k as f64 + 1e-9
        );
    }
    assert!(
        mismatches.is_empty(),
        "{name} k={k}: {} of {} differ from sklearn:\n{}",
        mismatches.len(),
        expected.len(),
        mismatches.join("\n")
    );
    eprintln!(
        "{name} k={k}: {} predictions identical to scikit-learn {}",
        expected.len(),
        doc["sklearn_version"]
    );
}

#[test]
fn iris_k5_matches_sklearn() {
    check("iris", 5, Source::Inline);
}

#[test]
fn iris_k3_matches_sklearn() {
    check("iris", 3, Source::Csv);
}

#[test]
fn wine_k5_matches_sklearn() {
    check("wine", 5, Source::Inline);
}

#[test]
fn wine_k5_from_csv_matches_sklearn() {
    check("wine", 5, Source::Csv);
}

#[test]
fn builtin_iris_is_the_exported_iris() {
    let doc = load("iris");
    let plugin = KnnPlugin::init(
        r#"{"features":["sepal_length","sepal_width","petal_length","petal_width"],"builtin":"iris"}"#,
    )
    .unwrap();
    let mut builtin: Vec<String> =
        plugin.rows().iter().map(|r| format!("{:?} {:?}", r.x, r.y.to_json())).collect();
    let mut exported: Vec<String> = ["train", "test"]
        .iter()
        .flat_map(|part| {
            let xs = doc[format!("{part}_x")].as_array().unwrap().clone();
            let ys = strings(&doc[format!("{part}_y")]);
            xs.into_iter().zip(ys).map(|(x, y)| {
                let x: Vec<f64> =
                    x.as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
                format!("{x:?} {:?}", json!(y))
            })
        })
        .collect();
    builtin.sort();
    exported.sort();
    assert_eq!(builtin, exported);
}

#[test]
fn ties_k3_matches_sklearn() {
    check("ties", 3, Source::Inline);
}

#[test]
fn ties_k4_matches_sklearn() {
    check("ties", 4, Source::Csv);
}

#[test]
fn ties_k5_matches_sklearn() {
    check("ties", 5, Source::Inline);
}
