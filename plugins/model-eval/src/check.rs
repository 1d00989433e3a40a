//! Check rows: inputs with scikit-learn's own outputs, evaluated on load so
//! that a model this evaluator gets wrong never predicts.
use crate::value::F64;
use crate::{Model, Prediction};
use serde::Deserialize;
use serde_json::Value;

/// Relative tolerance for probabilities, values and scores: scikit-learn's
/// `exp`/`log` and BLAS may differ from Rust's by a few units in the last
/// place; anything larger is a wrong model.
pub const RELATIVE: f64 = 1e-12;

/// One check row of the document.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckRow {
    /// The record: an object of fields, or the text.
    pub input: Value,
    /// `predict` (classifiers, `IsolationForest`).
    #[serde(default)]
    pub label: Option<Value>,
    /// `predict_proba`.
    #[serde(default)]
    pub proba: Option<Vec<F64>>,
    /// `predict` (regressors).
    #[serde(default)]
    pub value: Option<F64>,
    /// `decision_function` (`IsolationForest`).
    #[serde(default)]
    pub score: Option<F64>,
}

/// `a` and `b` agree: the same bits, or within [`RELATIVE`] of the larger.
pub fn close(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || a == b || (a - b).abs() <= RELATIVE * a.abs().max(b.abs())
}

/// How a prediction differs from a check row, or `None`.
pub fn difference(row: &CheckRow, got: &Prediction) -> Option<String> {
    if let Some(want) = &row.label {
        if got.label.as_ref() != Some(want) {
            return Some(format!(
                "predicted {}, scikit-learn predicted {want}",
                got.label.as_ref().map_or("nothing".to_string(), Value::to_string)
            ));
        }
    }
    let number = |what: &str, want: Option<F64>, got: Option<f64>| match (want, got) {
        (Some(w), Some(g)) if close(g, w.0) => None,
        (Some(w), g) => Some(format!("{what} {g:?}, scikit-learn {}", w.0)),
        (None, _) => None,
    };
    if let Some(want) = &row.proba {
        let got_p = got.proba.as_deref().unwrap_or(&[]);
        if want.len() != got_p.len() {
            return Some(format!("{} probabilities, scikit-learn {}", got_p.len(), want.len()));
        }
        for (i, (w, g)) in want.iter().zip(got_p).enumerate() {
            if let Some(d) = number(&format!("probability {i}"), Some(*w), Some(*g)) {
                return Some(d);
            }
        }
    }
    number("value", row.value, got.value).or_else(|| number("score", row.score, got.score))
}

/// Evaluate every row; the first disagreement refuses the model.
pub fn run(model: &Model, rows: &[CheckRow]) -> Result<(), String> {
    for (i, row) in rows.iter().enumerate() {
        let why = match model.predict_json(&row.input) {
            Ok(p) => difference(row, &p),
            Err(e) => Some(format!("failed: {e}")),
        };
        if let Some(why) = why {
            return Err(format!(
                "model refused: check row {i} ({}) disagrees with scikit-learn {}: {} {why}. \
                 This evaluator does not reproduce this model; export it with a supported \
                 scikit-learn version (see docs/models.md) or report the model",
                short(&row.input),
                model.sklearn_version(),
                model.estimator(),
            ));
        }
    }
    Ok(())
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    match s.char_indices().nth(80) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s,
    }
}
