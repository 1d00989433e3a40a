//! Config parsing with messages that name the offending key, and the
//! training sources the config can name (inline rows, CSV text, builtins).
use crate::model::{Distance, Label, Row};
use serde_json::{Map, Value};

/// The Iris data set as scikit-learn ships it, converted to a plain CSV by
/// `scripts/sklearn-expectations.py`.
pub const IRIS_CSV: &str = include_str!("../data/iris.csv");

/// The plugin's config; see the crate docs for each key.
#[derive(Debug, Clone)]
pub struct KnnConfig {
    /// Feature fields, in the order vectors are built.
    pub features: Vec<String>,
    /// Field holding a record's true label (and the label of a labelled
    /// correction).
    pub label: String,
    /// Field of a correction holding the corrected label.
    pub correction_field: String,
    /// Neighbours per vote.
    pub k: usize,
    /// Metric.
    pub distance: Distance,
    /// Output field for the predicted label.
    pub prediction_field: String,
    /// Output field for the winner's share of the votes.
    pub vote_field: String,
    /// Field identifying a record, so a later correction can name it.
    pub id_field: String,
    /// How many record ids per input partition keep their features for
    /// corrections; 0 remembers none.
    pub remember: u64,
    /// Seed training rows from `builtin`, `training_csv` and `training`, in
    /// that order. Used only when the state store holds no training set.
    pub seed: Vec<Row>,
}

const KEYS: &[&str] = &[
    "features",
    "label",
    "correction_field",
    "k",
    "distance",
    "prediction_field",
    "vote_field",
    "id_field",
    "remember",
    "training",
    "training_csv",
    "builtin",
];

fn string(key: &str, v: &Value) -> Result<String, String> {
    match v.as_str() {
        Some(s) if !s.is_empty() => Ok(s.to_owned()),
        _ => Err(format!("'{key}' must be a non-empty field name (string)")),
    }
}

fn count(key: &str, v: &Value) -> Result<u64, String> {
    v.as_u64().ok_or_else(|| format!("'{key}' must be a whole number >= 0"))
}

/// Why a record has no feature vector.
#[derive(Debug, Clone, PartialEq)]
pub enum FeatureError {
    /// The field is absent or null.
    Missing(String),
    /// The field holds something other than a number.
    NotNumber(String, Value),
}

impl std::fmt::Display for FeatureError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FeatureError::Missing(name) => write!(f, "missing feature '{name}'"),
            FeatureError::NotNumber(name, v) => write!(f, "feature '{name}' is not a number: {v}"),
        }
    }
}

impl From<FeatureError> for String {
    fn from(e: FeatureError) -> String {
        e.to_string()
    }
}

/// Feature values of `obj` in `features` order.
pub fn feature_vector(
    obj: &Map<String, Value>,
    features: &[String],
) -> Result<Vec<f64>, FeatureError> {
    features
        .iter()
        .map(|f| match obj.get(f) {
            None | Some(Value::Null) => Err(FeatureError::Missing(f.clone())),
            Some(v) => v.as_f64().ok_or_else(|| FeatureError::NotNumber(f.clone(), v.clone())),
        })
        .collect()
}

/// Rows from CSV text with a header row; feature and label columns by name.
/// Read by the `csv` crate (RFC 4180: quoted cells, `""` escapes, LF or
/// CRLF); blank lines are skipped.
pub fn csv_rows(
    what: &str,
    text: &str,
    features: &[String],
    label: &str,
) -> Result<Vec<Row>, String> {
    // Flexible: a short row gets this plugin's error naming the column,
    // rather than the reader's field-count error.
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(text.as_bytes());
    let header = reader.headers().map_err(|e| format!("{what}: {e}"))?.clone();
    if header.iter().all(|h| h.trim().is_empty()) {
        return Err(format!("{what}: no header row"));
    }
    let col = |name: &str| {
        header.iter().position(|h| h.trim() == name).ok_or_else(|| {
            let names: Vec<&str> = header.iter().collect();
            format!("{what}: no column '{name}' in the header ({})", names.join(","))
        })
    };
    let fcols = features.iter().map(|f| col(f)).collect::<Result<Vec<_>, _>>()?;
    let lcol = col(label)?;
    let mut rows = Vec::new();
    for cells in reader.records() {
        let cells = cells.map_err(|e| format!("{what}: {e}"))?;
        // From the byte offset, past the blank lines the reader skipped
        // before the record (its own line count leaves them out).
        let bytes = text.as_bytes();
        let mut start = cells.position().map_or(0, |p| p.byte() as usize).min(bytes.len());
        while matches!(bytes.get(start), Some(b'\n' | b'\r')) {
            start += 1;
        }
        let line = 1 + bytes[..start].iter().filter(|b| **b == b'\n').count();
        if cells.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        let cell = |c: usize, name: &str| {
            cells.get(c).ok_or_else(|| format!("{what} line {line}: no value for column '{name}'"))
        };
        let mut x = Vec::with_capacity(features.len());
        for (f, &c) in features.iter().zip(&fcols) {
            let text = cell(c, f)?;
            let v = text.trim().parse::<f64>().ok().filter(|v| v.is_finite()).ok_or_else(|| {
                format!("{what} line {line}: column '{f}' is not a number: {text:?}")
            })?;
            x.push(v);
        }
        let y = cell(lcol, label)?;
        if y.trim().is_empty() {
            return Err(format!("{what} line {line}: column '{label}' is empty"));
        }
        rows.push(Row { x, y: Label::from_text(y.trim()) });
    }
    Ok(rows)
}

impl KnnConfig {
    /// Parse the stage config JSON.
    pub fn parse(text: &str) -> Result<Self, String> {
        let root = &wasp_sdk::config::table(text, KEYS)?;
        let get = |k: &str| root.get(k);
        let features = wasp_sdk::config::field_names(root, "features")?;
        let field = |k: &str, default: &str| match get(k) {
            Some(v) => string(k, v),
            None => Ok(default.to_owned()),
        };
        let label = field("label", "label")?;
        let k = match get("k") {
            None => 5,
            Some(v) => match v.as_u64() {
                Some(k) if k >= 1 => k as usize,
                _ => return Err(format!("'k' must be a whole number >= 1, got {v}")),
            },
        };
        let distance = match get("distance").map(|v| v.as_str()) {
            None | Some(Some("euclidean")) => Distance::Euclidean,
            Some(Some("manhattan")) => Distance::Manhattan,
            Some(_) => return Err("'distance' must be \"euclidean\" or \"manhattan\"".into()),
        };
        let mut c = KnnConfig {
            label,
            correction_field: field("correction_field", "correct_label")?,
            k,
            distance,
            prediction_field: field("prediction_field", "prediction")?,
            vote_field: field("vote_field", "vote_share")?,
            id_field: field("id_field", "record_id")?,
            remember: get("remember").map_or(Ok(10_000), |v| count("remember", v))?,
            seed: Vec::new(),
            features,
        };
        if c.features.iter().any(|f| [&c.prediction_field, &c.vote_field].contains(&f)) {
            return Err("'features' must not name 'prediction_field' or 'vote_field'".into());
        }
        if let Some(v) = get("builtin") {
            c.seed.extend(builtin(v, &c.features)?);
        }
        if let Some(v) = get("training_csv") {
            let text = v.as_str().ok_or("'training_csv' must be CSV text (a string)")?;
            c.seed.extend(csv_rows("training_csv", text, &c.features, &c.label)?);
        }
        if let Some(v) = get("training") {
            let list = v.as_array().ok_or("'training' must be a list of objects")?;
            for (i, item) in list.iter().enumerate() {
                let obj =
                    item.as_object().ok_or_else(|| format!("'training[{i}]' must be an object"))?;
                let x = feature_vector(obj, &c.features)
                    .map_err(|e| format!("'training[{i}]': {e}"))?;
                let y = obj.get(&c.label).and_then(Label::from_json).ok_or_else(|| {
                    format!(
                        "'training[{i}]': field '{}' must hold a string or number label",
                        c.label
                    )
                })?;
                c.seed.push(Row { x, y });
            }
        }
        Ok(c)
    }
}

fn builtin(v: &Value, features: &[String]) -> Result<Vec<Row>, String> {
    match v.as_str() {
        Some("iris") => csv_rows("builtin 'iris'", IRIS_CSV, features, "species").map_err(|e| {
            format!("{e}; with \"builtin\": \"iris\" the features are sepal_length, sepal_width, petal_length, petal_width")
        }),
        _ => Err(format!("'builtin' must be \"iris\", got {v}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let c = KnnConfig::parse(r#"{"features":["a"],"training":[{"a":1,"label":"x"}]}"#).unwrap();
        assert_eq!((c.k, c.distance, c.remember), (5, Distance::Euclidean, 10_000));
        assert_eq!(
            [&c.label, &c.correction_field, &c.prediction_field, &c.vote_field, &c.id_field],
            ["label", "correct_label", "prediction", "vote_share", "record_id"]
        );
        assert_eq!(c.seed, vec![Row { x: vec![1.0], y: Label::Str("x".into()) }]);
    }

    #[test]
    fn refuses_bad_configs_naming_the_key() {
        let err = |cfg: &str| KnnConfig::parse(cfg).unwrap_err();
        assert!(err("{}").contains("'features' is required"));
        assert!(err(r#"{"features":["a"],"kk":3}"#).contains("unknown config key 'kk'"));
        assert!(err(r#"{"features":"a"}"#).contains("'features' must be"));
        assert!(err(r#"{"features":["a"],"k":0}"#).contains("'k' must be a whole number >= 1"));
        assert!(err(r#"{"features":["a"],"k":2.5}"#).contains("'k'"));
        assert!(err(r#"{"features":["a"],"distance":"cosine"}"#).contains("'distance'"));
        assert!(err(r#"{"features":["a"],"builtin":"mnist"}"#).contains("'builtin'"));
        assert!(err(r#"{"features":["a"],"builtin":"iris"}"#).contains("no column 'a'"));
        assert!(err(r#"{"features":["a"],"training":[{"a":"1","label":"x"}]}"#)
            .contains("'training[0]': feature 'a' is not a number"));
        assert!(err(r#"{"features":["a"],"training":[{"a":1}]}"#).contains("field 'label'"));
        assert!(err(r#"{"features":["a"],"training_csv":"a,label\n1,x\nz,y\n"}"#)
            .contains("training_csv line 3: column 'a' is not a number"));
        assert!(err(r#"{"features":["a"],"prediction_field":""}"#).contains("'prediction_field'"));
    }

    #[test]
    fn csv_training_with_quotes_crlf_and_numeric_labels() {
        let cfg = serde_json::json!({
            "features": ["b", "a"],
            "label": "cls",
            "training_csv": "a,\"b, quoted\",b,cls\r\n1,\"x\"\"y\",2,0\r\n3,z,4,\"hi, there\"\r\n",
        });
        let c = KnnConfig::parse(&cfg.to_string()).unwrap();
        assert_eq!(
            c.seed,
            vec![
                Row { x: vec![2.0, 1.0], y: Label::Num(0.0) },
                Row { x: vec![4.0, 3.0], y: Label::Str("hi, there".into()) },
            ]
        );
    }

    #[test]
    fn csv_short_rows_blank_lines_and_no_header_are_named() {
        let err = |csv: &str| {
            let cfg = serde_json::json!({"features": ["a"], "training_csv": csv});
            KnnConfig::parse(&cfg.to_string()).unwrap_err()
        };
        assert_eq!(err(""), "training_csv: no header row");
        let e = err("a,label\n1,x\n\n2\n");
        assert_eq!(e, "training_csv line 4: no value for column 'label'");
        let e = err("b,label\n1,x\n");
        assert!(e.contains("no column 'a' in the header (b,label)"), "{e}");
        let cfg = r#"{"features":["a"],"training_csv":"a,label\n\n1,x\n\n2,y\n"}"#;
        assert_eq!(KnnConfig::parse(cfg).unwrap().seed.len(), 2);
    }

    #[test]
    fn builtin_iris_is_sklearns_150_rows() {
        let c = KnnConfig::parse(r#"{"features":["petal_width","sepal_length"],"builtin":"iris"}"#)
            .unwrap();
        assert_eq!(c.seed.len(), 150);
        assert_eq!(c.seed[0], Row { x: vec![0.2, 5.1], y: Label::Str("Iris-setosa".into()) });
        let n = |s: &str| c.seed.iter().filter(|r| r.y == Label::Str(s.into())).count();
        assert_eq!([n("Iris-setosa"), n("Iris-versicolor"), n("Iris-virginica")], [50, 50, 50]);
    }
}
