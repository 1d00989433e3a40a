//! The pipelines of the end-to-end bench and the records they read.
//!
//! Every system under test (wasp, its baselines, the Python peers) reads
//! the same records from the same kind of topic; a record's key is its
//! sequence number, so an output can be matched to its input by key.

use serde::Serialize;
use std::sync::OnceLock;

/// A pipeline measured end to end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Workload {
    /// The identity plugin: every record passes unchanged.
    Pass,
    /// json-transform: select, scale and rename fields of a sensor record.
    Json,
    /// k-NN over scikit-learn's Iris (builtin), wrong predictions also to feedback.
    Knn,
    /// Two numeric fields of a sensor record scaled: the one step every
    /// plugin language implements (languages.rs).
    Scale,
    /// Seed 001's heart-disease pipeline (`examples/models/heart.json`:
    /// impute, scale, one-hot, logistic regression) over JSON patient
    /// records, the seed's text out.
    Heart,
    /// Seed 001's review sentiment (`examples/models/reviews.json`: TF-IDF
    /// 1-2 grams, logistic regression) over plain-text records.
    Reviews,
}

/// json-transform's config, as in `benches/plugins.rs`.
const JSON_CONFIG: &str = r#"select = ["id", "sensor", "temperature", "humidity", "ts"]
scale = { temperature = { multiply = 1.8, offset = 32 }, humidity = { multiply = 0.01 } }
rename = { temperature = "temperature_f", ts = "timestamp" }
"#;

/// The scale config of the language twins (`TWIN_CONFIG` in
/// tests/all/polyglot.rs), which check that they agree with json-transform.
const SCALE_CONFIG: &str =
    "scale = { temperature = { multiply = 2, offset = 0.5 }, humidity = { multiply = 0.1 } }\n";

/// k-NN's config. `remember = 0`: the peers take no corrections, so wasp
/// keeps no per-record features for them either (same work on both sides).
const KNN_CONFIG: &str = r#"builtin = "iris"
features = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
label = "species"
k = 5
remember = 0
"#;

impl Workload {
    /// Name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Workload::Pass => "pass-through",
            Workload::Json => "json-transform",
            Workload::Knn => "iris-knn",
            Workload::Scale => "scale",
            Workload::Heart => "heart-model",
            Workload::Reviews => "reviews-model",
        }
    }

    /// Short tag for topic and file names.
    pub fn tag(self) -> &'static str {
        match self {
            Workload::Pass => "pass",
            Workload::Json => "json",
            Workload::Knn => "knn",
            Workload::Scale => "scale",
            Workload::Heart => "heart",
            Workload::Reviews => "reviews",
        }
    }

    /// The plugin in `plugins/dist` (Rust's, for `Scale`).
    pub fn plugin(self) -> &'static str {
        match self {
            Workload::Pass => "identity",
            Workload::Json | Workload::Scale => "json-transform",
            Workload::Knn => "knn",
            Workload::Heart | Workload::Reviews => "model",
        }
    }

    /// The body of the stage's `[stage.config]` table.
    pub fn config_toml(self) -> String {
        match self {
            Workload::Pass => String::new(),
            Workload::Json => JSON_CONFIG.into(),
            Workload::Knn => KNN_CONFIG.into(),
            Workload::Scale => SCALE_CONFIG.into(),
            Workload::Heart => {
                model_config("heart", ["Risk of Heart Disease", "No Risk of Heart Disease"])
            }
            Workload::Reviews => {
                model_config("reviews", ["Positive Sentiment", "Negative Sentiment"])
            }
        }
    }

    /// Whether records are plain text rather than JSON objects.
    pub fn text_records(self) -> bool {
        self == Workload::Reviews
    }

    /// The value of record `i`.
    pub fn value(self, i: usize) -> Vec<u8> {
        match self {
            Workload::Pass | Workload::Json | Workload::Scale => crate::common::json_value(i),
            Workload::Knn => iris(i),
            Workload::Heart => example_line(&HEART, "heart-input.jsonl", i),
            Workload::Reviews => example_line(&REVIEWS, "reviews-input.txt", i),
        }
    }
}

/// The `model` stage config of an `examples/models` document: the document
/// inline (the native twin has no stage files), the seed's texts as labels.
fn model_config(name: &str, texts: [&str; 2]) -> String {
    let path = crate::common::root().join("examples/models").join(format!("{name}.json"));
    let doc = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    format!(
        "output = \"label\"\nlabels = {{ \"1\" = \"{}\", \"0\" = \"{}\" }}\ndocument = {}\n",
        texts[0],
        texts[1],
        toml::Value::String(doc)
    )
}

static HEART: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
static REVIEWS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();

/// Line `i` (cycled) of an `examples/models` input file: the held-out
/// records of `examples/models/train.py`.
fn example_line(cache: &OnceLock<Vec<Vec<u8>>>, file: &str, i: usize) -> Vec<u8> {
    let lines = cache.get_or_init(|| {
        let path = crate::common::root().join("examples/models").join(file);
        std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
            .lines()
            .map(|l| l.as_bytes().to_vec())
            .collect()
    });
    lines[i % lines.len()].clone()
}

/// Iris rows (`[sepal_length, sepal_width, petal_length, petal_width, species]`
/// as the CSV spells them), from the plugin's own copy of the data set.
fn iris_rows() -> &'static [[String; 5]] {
    static ROWS: OnceLock<Vec<[String; 5]>> = OnceLock::new();
    ROWS.get_or_init(|| {
        let mut lines = knn::config::IRIS_CSV.lines();
        let header: Vec<&str> = lines.next().expect("iris.csv has a header").split(',').collect();
        let col = |name: &str| {
            header.iter().position(|h| h.trim() == name).expect("iris.csv has the Iris columns")
        };
        let cols =
            ["sepal_length", "sepal_width", "petal_length", "petal_width", "species"].map(col);
        lines
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let cells: Vec<&str> = l.split(',').collect();
                cols.map(|c| cells[c].trim().to_string())
            })
            .collect()
    })
}

/// Iris row `i % 150` with a record id and its true label: a correct
/// prediction goes to the output topic, a wrong one to feedback as well.
fn iris(i: usize) -> Vec<u8> {
    let rows = iris_rows();
    let r = &rows[i % rows.len()];
    format!(
        r#"{{"record_id":{i},"sepal_length":{},"sepal_width":{},"petal_length":{},"petal_width":{},"species":"{}"}}"#,
        r[0], r[1], r[2], r[3], r[4]
    )
    .into_bytes()
}
