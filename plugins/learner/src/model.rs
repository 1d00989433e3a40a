//! Fitting, predicting and scoring, on smartcore; no wasp types here, so
//! all of it runs and is tested natively.
//!
//! Every fit is deterministic: the forests take their seed from the spec,
//! and smartcore is built without OS randomness (no `std_rand`, no `js`).
use crate::sample::{Sample, Target};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use smartcore::api::{Transformer, UnsupervisedEstimator};
use smartcore::ensemble::random_forest_classifier::{
    RandomForestClassifier, RandomForestClassifierParameters,
};
use smartcore::ensemble::random_forest_regressor::{
    RandomForestRegressor, RandomForestRegressorParameters,
};
use smartcore::linalg::basic::matrix::DenseMatrix;
use smartcore::linear::linear_regression::{LinearRegression, LinearRegressionParameters};
use smartcore::linear::logistic_regression::{LogisticRegression, LogisticRegressionParameters};
use smartcore::preprocessing::numerical::{StandardScaler, StandardScalerParameters};

type Matrix = DenseMatrix<f64>;

/// What the model predicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Task {
    /// A number.
    Regression,
    /// A class.
    Classification,
}

/// The algorithm and its hyper-parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Algorithm {
    /// A random forest (regressor or classifier, by task).
    RandomForest(Forest),
    /// Ordinary least squares (regression only).
    Linear,
    /// Logistic regression (classification only).
    Logistic {
        /// L2 regularisation strength; 0 is none.
        alpha: f64,
    },
}

impl Algorithm {
    /// The name used in config and status events.
    pub fn name(&self) -> &'static str {
        match self {
            Algorithm::RandomForest(_) => "random_forest",
            Algorithm::Linear => "linear",
            Algorithm::Logistic { .. } => "logistic",
        }
    }
}

/// A random forest's hyper-parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Forest {
    /// Trees in the forest (sklearn's `n_estimators`).
    pub n_trees: u16,
    /// Deepest a tree may grow; `None` grows until leaves are pure.
    pub max_depth: Option<u16>,
    /// Fewest samples in a leaf.
    pub min_samples_leaf: usize,
    /// Fewest samples a node needs to be split.
    pub min_samples_split: usize,
    /// Features tried per split; `None` is sklearn's default for the task:
    /// all of them for regression, the square root for classification.
    pub max_features: Option<usize>,
}

impl Default for Forest {
    /// scikit-learn's defaults.
    fn default() -> Self {
        Forest {
            n_trees: 100,
            max_depth: None,
            min_samples_leaf: 1,
            min_samples_split: 2,
            max_features: None,
        }
    }
}

/// Everything a fit depends on besides the samples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Spec {
    /// Regression or classification.
    pub task: Task,
    /// The algorithm.
    pub algorithm: Algorithm,
    /// Standardise features first (sklearn's `StandardScaler`).
    pub scale: bool,
    /// Seed of the forests' bootstrap and feature draws.
    pub seed: u64,
}

#[derive(Debug, Serialize, Deserialize)]
enum Estimator {
    ForestRegressor(RandomForestRegressor<f64, f64, Matrix, Vec<f64>>),
    Linear(LinearRegression<f64, f64, Matrix, Vec<f64>>),
    ForestClassifier(RandomForestClassifier<f64, u32, Matrix, Vec<u32>>),
    Logistic(LogisticRegression<f64, u32, Matrix, Vec<u32>>),
}

/// A fitted model: scaler, estimator and, for classification, the classes
/// in the order of the estimator's class numbers.
#[derive(Debug, Serialize, Deserialize)]
pub struct Fitted {
    scaler: Option<StandardScaler<f64>>,
    estimator: Estimator,
    classes: Vec<String>,
}

fn fail(what: &str) -> impl Fn(smartcore::error::Failed) -> String + '_ {
    move |e| format!("{what}: {e}")
}

fn matrix(rows: &[&[f64]]) -> Result<Matrix, String> {
    let ncols = rows.first().map_or(0, |r| r.len());
    let values: Vec<f64> = rows.iter().flat_map(|r| r.iter().copied()).collect();
    DenseMatrix::new(rows.len(), ncols, values, false).map_err(fail("building the feature matrix"))
}

/// Fit `spec` to `samples` (all of one task's kind of target).
pub fn fit(spec: &Spec, samples: &[Sample]) -> Result<Fitted, String> {
    if samples.is_empty() {
        return Err("no samples to fit".into());
    }
    let rows: Vec<&[f64]> = samples.iter().map(|s| s.x.as_slice()).collect();
    let mut x = matrix(&rows)?;
    let scaler = if spec.scale {
        let s = StandardScaler::fit(&x, StandardScalerParameters::default())
            .map_err(fail("fitting the scaler"))?;
        x = s.transform(&x).map_err(fail("scaling"))?;
        Some(s)
    } else {
        None
    };
    let mut classes = Vec::new();
    let estimator = match spec.task {
        Task::Regression => {
            let y = samples
                .iter()
                .map(|s| match &s.y {
                    Target::Value(v) => Ok(*v),
                    Target::Class(c) => Err(format!("a class label ({c}) in a regression")),
                })
                .collect::<Result<Vec<f64>, String>>()?;
            match &spec.algorithm {
                Algorithm::RandomForest(f) => {
                    let p = RandomForestRegressorParameters {
                        n_trees: usize::from(f.n_trees),
                        max_depth: f.max_depth,
                        min_samples_leaf: f.min_samples_leaf,
                        min_samples_split: f.min_samples_split,
                        m: Some(f.max_features.unwrap_or(samples[0].x.len())),
                        seed: spec.seed,
                        ..Default::default()
                    };
                    Estimator::ForestRegressor(
                        RandomForestRegressor::fit(&x, &y, p).map_err(fail("random forest"))?,
                    )
                }
                Algorithm::Linear => Estimator::Linear(
                    LinearRegression::fit(&x, &y, LinearRegressionParameters::default())
                        .map_err(fail("linear regression"))?,
                ),
                Algorithm::Logistic { .. } => {
                    return Err("logistic regression is for classification".into())
                }
            }
        }
        Task::Classification => {
            let mut labels = Vec::with_capacity(samples.len());
            for s in samples {
                let Target::Class(c) = &s.y else {
                    return Err("a number target in a classification".into());
                };
                labels.push(c.clone());
            }
            classes = labels.clone();
            classes.sort();
            classes.dedup();
            let y: Vec<u32> = labels
                .iter()
                .map(|c| classes.binary_search(c).expect("every label is a class") as u32)
                .collect();
            match &spec.algorithm {
                Algorithm::RandomForest(f) => {
                    let p = RandomForestClassifierParameters {
                        n_trees: f.n_trees,
                        max_depth: f.max_depth,
                        min_samples_leaf: f.min_samples_leaf,
                        min_samples_split: f.min_samples_split,
                        m: f.max_features,
                        seed: spec.seed,
                        ..Default::default()
                    };
                    Estimator::ForestClassifier(
                        RandomForestClassifier::fit(&x, &y, p).map_err(fail("random forest"))?,
                    )
                }
                Algorithm::Logistic { alpha } => {
                    if classes.len() < 2 {
                        return Err(format!(
                            "logistic regression needs two classes or more; every sample is {}",
                            classes[0]
                        ));
                    }
                    let p = LogisticRegressionParameters::default().with_alpha(*alpha);
                    Estimator::Logistic(
                        LogisticRegression::fit(&x, &y, p).map_err(fail("logistic regression"))?,
                    )
                }
                Algorithm::Linear => {
                    return Err("linear regression is for regression, not classification".into())
                }
            }
        }
    };
    Ok(Fitted { scaler, estimator, classes })
}

impl Fitted {
    /// Predictions for `rows`: numbers, or class labels as the JSON the
    /// training records held.
    pub fn predict(&self, rows: &[&[f64]]) -> Result<Vec<Value>, String> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let mut x = matrix(rows)?;
        if let Some(s) = &self.scaler {
            x = s.transform(&x).map_err(fail("scaling"))?;
        }
        let numbers = |v: Vec<f64>| v.into_iter().map(Value::from).collect();
        let class = |v: Vec<u32>| {
            v.into_iter()
                .map(|c| self.classes.get(c as usize).map_or(Value::Null, |t| class_json(t)))
                .collect()
        };
        Ok(match &self.estimator {
            Estimator::ForestRegressor(m) => numbers(m.predict(&x).map_err(fail("predicting"))?),
            Estimator::Linear(m) => numbers(m.predict(&x).map_err(fail("predicting"))?),
            Estimator::ForestClassifier(m) => class(m.predict(&x).map_err(fail("predicting"))?),
            Estimator::Logistic(m) => class(m.predict(&x).map_err(fail("predicting"))?),
        })
    }

    /// The model as compact bytes (postcard).
    pub fn to_bytes(&self) -> Vec<u8> {
        postcard::to_allocvec(self).expect("a fitted model always serialises")
    }

    /// The model of [`Fitted::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Fitted, String> {
        postcard::from_bytes(bytes).map_err(|e| format!("stored model unreadable: {e}"))
    }
}

fn class_json(text: &str) -> Value {
    Target::Class(text.to_owned()).to_json()
}

/// R² of regression predictions, or accuracy of class predictions, on
/// `held`; `None` when `held` is empty or R² is undefined (a constant
/// target).
pub fn quality(model: &Fitted, task: Task, held: &[Sample]) -> Result<Option<f64>, String> {
    if held.is_empty() {
        return Ok(None);
    }
    let rows: Vec<&[f64]> = held.iter().map(|s| s.x.as_slice()).collect();
    let predicted = model.predict(&rows)?;
    Ok(match task {
        Task::Regression => {
            let truth: Vec<f64> = held
                .iter()
                .map(|s| match s.y {
                    Target::Value(v) => v,
                    Target::Class(_) => f64::NAN,
                })
                .collect();
            let mean = truth.iter().sum::<f64>() / truth.len() as f64;
            let total: f64 = truth.iter().map(|t| (t - mean).powi(2)).sum();
            let residual: f64 = truth
                .iter()
                .zip(&predicted)
                .map(|(t, p)| (t - p.as_f64().unwrap_or(f64::NAN)).powi(2))
                .sum();
            (total > 0.0).then(|| 1.0 - residual / total)
        }
        Task::Classification => {
            let right = held.iter().zip(&predicted).filter(|(s, p)| s.y.to_json() == **p).count();
            Some(right as f64 / held.len() as f64)
        }
    })
}

/// A fit with its quality measured on a held-out slice.
#[derive(Debug)]
pub struct Trained {
    /// The model, fitted on every sample but the held-out ones.
    pub model: Fitted,
    /// Samples the model was fitted on.
    pub trained_on: usize,
    /// Samples held out to measure `quality`.
    pub held_out: usize,
    /// R² (regression) or accuracy (classification) on the held-out slice.
    pub quality: Option<f64>,
}

/// Fit on all samples but every `holdout_every`-th (in the order given),
/// which measure the quality; `holdout_every` of 0 holds none out.
pub fn train(spec: &Spec, samples: &[Sample], holdout_every: usize) -> Result<Trained, String> {
    let (mut fit_on, mut held) = (Vec::new(), Vec::new());
    for (i, s) in samples.iter().enumerate() {
        if holdout_every > 0 && i % holdout_every == holdout_every - 1 {
            held.push(s.clone());
        } else {
            fit_on.push(s.clone());
        }
    }
    let model = fit(spec, &fit_on)?;
    let quality = quality(&model, spec.task, &held)?;
    Ok(Trained { model, trained_on: fit_on.len(), held_out: held.len(), quality })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forest(n_trees: u16) -> Algorithm {
        Algorithm::RandomForest(Forest { n_trees, ..Forest::default() })
    }

    fn line(n: usize) -> Vec<Sample> {
        (0..n)
            .map(|i| {
                let a = i as f64;
                let b = (i * 7 % 11) as f64;
                Sample { x: vec![a, b], y: Target::Value(3.0 * a - 2.0 * b + 5.0) }
            })
            .collect()
    }

    #[test]
    fn linear_regression_recovers_a_plane_and_scores_one() {
        let spec =
            Spec { task: Task::Regression, algorithm: Algorithm::Linear, scale: true, seed: 1 };
        let t = train(&spec, &line(50), 5).unwrap();
        assert_eq!((t.trained_on, t.held_out), (40, 10));
        assert!((t.quality.unwrap() - 1.0).abs() < 1e-9, "{:?}", t.quality);
        let p = t.model.predict(&[&[100.0, 3.0]]).unwrap();
        assert!((p[0].as_f64().unwrap() - 299.0).abs() < 1e-6, "{p:?}");
    }

    #[test]
    fn a_seeded_forest_is_deterministic_and_survives_its_bytes() {
        let spec = Spec { task: Task::Regression, algorithm: forest(10), scale: true, seed: 42 };
        let samples = line(60);
        let a = fit(&spec, &samples).unwrap();
        let b = fit(&spec, &samples).unwrap();
        let rows: Vec<&[f64]> = samples.iter().map(|s| s.x.as_slice()).collect();
        let pa = a.predict(&rows).unwrap();
        assert_eq!(pa, b.predict(&rows).unwrap());
        assert_eq!(a.to_bytes(), b.to_bytes());
        let back = Fitted::from_bytes(&a.to_bytes()).unwrap();
        assert_eq!(back.predict(&rows).unwrap(), pa);
        // Another seed grows another forest.
        let other = fit(&Spec { seed: 7, ..spec }, &samples).unwrap();
        assert_ne!(other.to_bytes(), a.to_bytes());
    }

    #[test]
    fn classifiers_predict_the_labels_they_were_given() {
        let samples: Vec<Sample> = (0..80)
            .map(|i| {
                let a = i as f64;
                let label = if i < 40 { "\"low\"" } else { "\"high\"" };
                Sample { x: vec![a, (i % 3) as f64], y: Target::Class(label.into()) }
            })
            .collect();
        for algorithm in [forest(20), Algorithm::Logistic { alpha: 0.0 }] {
            let spec = Spec { task: Task::Classification, algorithm, scale: true, seed: 3 };
            let t = train(&spec, &samples, 4).unwrap();
            assert!(t.quality.unwrap() >= 0.9, "{spec:?}: {:?}", t.quality);
            let p = t.model.predict(&[&[2.0, 0.0], &[77.0, 1.0]]).unwrap();
            assert_eq!(p, vec![Value::from("low"), Value::from("high")], "{spec:?}");
        }
    }

    #[test]
    fn refuses_an_algorithm_of_the_other_task() {
        let reg = Spec {
            task: Task::Regression,
            algorithm: Algorithm::Logistic { alpha: 0.0 },
            scale: false,
            seed: 0,
        };
        assert!(fit(&reg, &line(5)).unwrap_err().contains("for classification"));
        let one_class = vec![Sample { x: vec![1.0], y: Target::Class("1".into()) }; 3];
        let cls = Spec {
            task: Task::Classification,
            algorithm: Algorithm::Logistic { alpha: 0.0 },
            ..reg
        };
        assert!(fit(&cls, &one_class).unwrap_err().contains("two classes"));
    }
}
