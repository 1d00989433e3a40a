//! Linear models: `X @ coef_.T + intercept_`, then scikit-learn's link.
use crate::numeric::{argmax, dot, expit, softmax, sparse_dot};
use crate::preprocess::expect_width;
use crate::value::{finite, Data};
use crate::Prediction;
use serde::Deserialize;
use serde_json::Value;

fn decision(x: &Data, coef: &[f64], intercept: f64) -> f64 {
    match x {
        Data::Sparse(entries, _) => sparse_dot(entries, coef) + intercept,
        Data::Dense(x) => dot(x, coef) + intercept,
        _ => unreachable!("numeric row checked by the caller"),
    }
}

fn numeric(step: &str, x: Data, width: usize) -> Result<Data, String> {
    let x = match x {
        Data::Sparse(..) => x,
        other => Data::Dense(other.into_dense(step)?),
    };
    expect_width(step, width, x.width())?;
    match &x {
        Data::Sparse(entries, _) => finite(step, &entries.iter().map(|e| e.1).collect::<Vec<_>>())?,
        Data::Dense(v) => finite(step, v)?,
        _ => {}
    }
    Ok(x)
}

/// `LogisticRegression`: binary (one row of `coef_`, `expit`) or
/// multinomial (one row per class, `softmax`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogisticRegression {
    /// `coef_`, one row per class (one row for two classes).
    pub coef: Vec<Vec<f64>>,
    /// `intercept_`.
    pub intercept: Vec<f64>,
    /// `classes_`.
    pub classes: Vec<Value>,
}

impl LogisticRegression {
    /// Classify one row.
    pub fn predict(&self, x: Data) -> Result<Prediction, String> {
        let step = "LogisticRegression";
        let x = numeric(step, x, self.coef[0].len())?;
        let scores: Vec<f64> =
            self.coef.iter().zip(&self.intercept).map(|(w, b)| decision(&x, w, *b)).collect();
        if scores.len() == 1 {
            let p = expit(scores[0]);
            let label = self.classes[usize::from(scores[0] > 0.0)].clone();
            return Ok(Prediction::class(label, vec![1.0 - p, p]));
        }
        let label = self.classes[argmax(&scores)].clone();
        Ok(Prediction::class(label, softmax(&scores)))
    }
}

/// `LinearRegression` and `Ridge` with one target.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinearModel {
    /// `coef_`.
    pub coef: Vec<f64>,
    /// `intercept_`.
    pub intercept: f64,
}

impl LinearModel {
    /// Predict one row.
    pub fn predict(&self, step: &str, x: Data) -> Result<Prediction, String> {
        let x = numeric(step, x, self.coef.len())?;
        Ok(Prediction::value(decision(&x, &self.coef, self.intercept)))
    }
}
