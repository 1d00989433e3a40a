//! Decision trees and their ensembles. scikit-learn casts the input to
//! float32 once and compares `f32(x) <= threshold` in float64; ensembles add
//! tree outputs in tree order, then scale.
use crate::numeric::{argmax, expit, softmax};
use crate::preprocess::expect_width;
use crate::value::{finite, Data};
use crate::Prediction;
use serde::Deserialize;
use serde_json::Value;

/// One fitted `tree_`, as parallel node arrays.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tree {
    /// `children_left` (-1 at leaves).
    pub left: Vec<i64>,
    /// `children_right`.
    pub right: Vec<i64>,
    /// `feature`.
    pub feature: Vec<usize>,
    /// `threshold`.
    pub threshold: Vec<f64>,
    /// `missing_go_to_left`.
    pub missing_left: Vec<bool>,
    /// `value[:, 0, :]`: per node, class fractions or the regression value.
    pub value: Vec<Vec<f64>>,
}

impl Tree {
    /// Check the arrays agree and every child index points inside the tree
    /// and further down (so a walk always ends).
    pub fn validate(&self, width: usize) -> Result<(), String> {
        let n = self.left.len();
        let lens = [
            self.right.len(),
            self.feature.len(),
            self.threshold.len(),
            self.missing_left.len(),
            self.value.len(),
        ];
        if n == 0 || lens.iter().any(|&l| l != n) {
            return Err("tree arrays have different lengths".into());
        }
        for i in 0..n {
            let (l, r) = (self.left[i], self.right[i]);
            if l == -1 {
                continue;
            }
            let inside = |c: i64| c > i as i64 && (c as usize) < n;
            if !inside(l) || !inside(r) {
                return Err(format!("tree node {i} has children {l}, {r} outside the tree"));
            }
            if self.feature[i] >= width {
                return Err(format!("tree node {i} reads feature {} of {width}", self.feature[i]));
            }
        }
        Ok(())
    }

    /// The leaf a float32 row lands in (`tree_.apply`).
    pub fn leaf(&self, x: &[f32]) -> usize {
        let mut node = 0usize;
        while self.left[node] != -1 {
            let v = x[self.feature[node]];
            let go_left = if v.is_nan() {
                self.missing_left[node]
            } else {
                f64::from(v) <= self.threshold[node]
            };
            node = if go_left { self.left[node] } else { self.right[node] } as usize;
        }
        node
    }
}

fn float32_row(step: &str, x: Data, width: usize) -> Result<Vec<f32>, String> {
    let x = x.into_dense(step)?;
    expect_width(step, width, x.len())?;
    // numpy's float64 -> float32 cast rounds to nearest, as `as` does.
    Ok(x.into_iter().map(|v| v as f32).collect())
}

fn validate_all(trees: &[Tree], width: usize) -> Result<(), String> {
    trees
        .iter()
        .enumerate()
        .try_for_each(|(i, t)| t.validate(width).map_err(|e| format!("tree {i}: {e}")))
}

/// `DecisionTreeClassifier`, `RandomForestClassifier`, `ExtraTrees*`:
/// class fractions averaged over the trees.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TreeClassifier {
    /// `n_features_in_`.
    pub n_features: usize,
    /// The trees (one for a single decision tree).
    pub trees: Vec<Tree>,
    /// `classes_`.
    pub classes: Vec<Value>,
    /// A single tree: no averaging (`predict` takes the argmax of the
    /// leaf values as stored).
    pub single: bool,
}

impl TreeClassifier {
    /// Check the trees.
    pub fn validate(&self) -> Result<(), String> {
        validate_all(&self.trees, self.n_features)
    }

    /// Classify one row.
    pub fn predict(&self, step: &str, x: Data) -> Result<Prediction, String> {
        let x = float32_row(step, x, self.n_features)?;
        let k = self.classes.len();
        let mut proba = vec![0.0; k];
        for t in &self.trees {
            let leaf = &t.value[t.leaf(&x)];
            proba.iter_mut().zip(leaf).for_each(|(p, v)| *p += v);
        }
        if !self.single {
            let n = self.trees.len() as f64;
            proba.iter_mut().for_each(|p| *p /= n);
        }
        Ok(Prediction::class(self.classes[argmax(&proba)].clone(), proba))
    }
}

/// `DecisionTreeRegressor`, `RandomForestRegressor`, `ExtraTreesRegressor`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TreeRegressor {
    /// `n_features_in_`.
    pub n_features: usize,
    /// The trees.
    pub trees: Vec<Tree>,
    /// A single tree: no division.
    pub single: bool,
}

impl TreeRegressor {
    /// Check the trees.
    pub fn validate(&self) -> Result<(), String> {
        validate_all(&self.trees, self.n_features)
    }

    /// Predict one row.
    pub fn predict(&self, step: &str, x: Data) -> Result<Prediction, String> {
        let x = float32_row(step, x, self.n_features)?;
        let mut y = 0.0;
        for t in &self.trees {
            y += t.value[t.leaf(&x)][0];
        }
        if !self.single {
            y /= self.trees.len() as f64;
        }
        Ok(Prediction::value(y))
    }
}

/// `GradientBoostingClassifier`/`Regressor`: the init estimator's raw
/// prediction plus `learning_rate * leaf` for every stage, in stage order.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GradientBoosting {
    /// `n_features_in_`.
    pub n_features: usize,
    /// Raw prediction of the init estimator (constant), one per tree column.
    pub init: Vec<f64>,
    /// `learning_rate`.
    pub learning_rate: f64,
    /// `estimators_`: per stage, one tree per column.
    pub stages: Vec<Vec<Tree>>,
    /// `classes_` for a classifier (log loss); absent for a regressor.
    pub classes: Option<Vec<Value>>,
}

impl GradientBoosting {
    /// Check the trees.
    pub fn validate(&self) -> Result<(), String> {
        if self.stages.iter().any(|s| s.len() != self.init.len()) {
            return Err("every stage must have one tree per init value".into());
        }
        self.stages.iter().try_for_each(|s| validate_all(s, self.n_features))
    }

    /// Predict one row.
    pub fn predict(&self, step: &str, x: Data) -> Result<Prediction, String> {
        let x = x.into_dense(step)?;
        finite(step, &x)?;
        let x = float32_row(step, Data::Dense(x), self.n_features)?;
        let mut raw = self.init.clone();
        for stage in &self.stages {
            for (r, t) in raw.iter_mut().zip(stage) {
                *r += self.learning_rate * t.value[t.leaf(&x)][0];
            }
        }
        let Some(classes) = &self.classes else {
            return Ok(Prediction::value(raw[0]));
        };
        if raw.len() == 1 {
            let p = expit(raw[0]);
            let label = classes[usize::from(raw[0] >= 0.0)].clone();
            return Ok(Prediction::class(label, vec![1.0 - p, p]));
        }
        Ok(Prediction::class(classes[argmax(&raw)].clone(), softmax(&raw)))
    }
}

/// One isolation tree with its feature subset and per-node path lengths.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IsolationTree {
    /// The tree over `features`.
    pub tree: Tree,
    /// `estimators_features_[i]`: input columns the tree sees, in order.
    pub features: Vec<usize>,
    /// `_decision_path_lengths[i]`, per node.
    pub path: Vec<f64>,
    /// `_average_path_length_per_tree[i]`, per node.
    pub average: Vec<f64>,
}

/// `IsolationForest`: `score_samples = -(2 ** -(depth sum / denominator))`;
/// `decision = score_samples - offset_`; outlier (-1) when the decision is below 0.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IsolationForest {
    /// `n_features_in_`.
    pub n_features: usize,
    /// The trees.
    pub trees: Vec<IsolationTree>,
    /// `len(estimators_) * _average_path_length([max_samples_])`.
    pub denominator: f64,
    /// `offset_`.
    pub offset: f64,
}

impl IsolationForest {
    /// Check the trees.
    pub fn validate(&self) -> Result<(), String> {
        for (i, t) in self.trees.iter().enumerate() {
            t.tree.validate(t.features.len()).map_err(|e| format!("tree {i}: {e}"))?;
            let n = t.tree.left.len();
            if t.path.len() != n || t.average.len() != n {
                return Err(format!("tree {i}: path lengths do not match its nodes"));
            }
            if t.features.iter().any(|&f| f >= self.n_features) {
                return Err(format!("tree {i}: a feature index is out of range"));
            }
        }
        Ok(())
    }

    /// Score one row; the label is 1 (inlier) or -1 (outlier).
    pub fn predict(&self, step: &str, x: Data) -> Result<Prediction, String> {
        let x = float32_row(step, x, self.n_features)?;
        let mut depth = 0.0;
        let mut sub = Vec::new();
        for t in &self.trees {
            sub.clear();
            sub.extend(t.features.iter().map(|&f| x[f]));
            let leaf = t.tree.leaf(&sub);
            depth += t.path[leaf] + t.average[leaf] - 1.0;
        }
        let ratio = if self.denominator != 0.0 { depth / self.denominator } else { 1.0 };
        // score_samples is the negated anomaly score.
        let score_samples = -2f64.powf(-ratio);
        let decision = score_samples - self.offset;
        let label = Value::from(if decision < 0.0 { -1 } else { 1 });
        Ok(Prediction { label: Some(label), score: Some(decision), ..Prediction::default() })
    }
}
