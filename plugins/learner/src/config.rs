//! The stage config, with errors that name the key at fault, and the
//! reading of features and targets out of records.
use crate::model::{Algorithm, Forest, Spec, Task};
use crate::sample::{Sample, Target};
use serde_json::{Map, Value};

/// What happens to an input record while no model is fitted yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BeforeModel {
    /// To the pipeline's feedback topic, unchanged, with a header saying why.
    Feedback,
    /// To the dead-letter topic with the reason.
    Reject,
}

/// The learner's config; see the crate docs for each key.
#[derive(Debug, Clone)]
pub struct LearnerConfig {
    /// Feature fields, in vector order.
    pub features: Vec<String>,
    /// The field to learn and predict.
    pub target: String,
    /// Task, algorithm, scaling and seed.
    pub spec: Spec,
    /// Samples needed before the first fit.
    pub min_samples: u64,
    /// Refit after this many new samples; 0 never refits.
    pub refit_every: u64,
    /// Every n-th sample is held out to measure quality; 0 holds none out.
    pub holdout_every: usize,
    /// Named topic for model-status events; none sends none.
    pub status_topic: Option<String>,
    /// Output field for the prediction.
    pub prediction_field: String,
    /// Output field for the version of the model that predicted.
    pub version_field: String,
    /// What happens to records before the first model.
    pub before_model: BeforeModel,
}

const KEYS: &[&str] = &[
    "features",
    "target",
    "task",
    "algorithm",
    "n_trees",
    "max_depth",
    "min_samples_leaf",
    "min_samples_split",
    "max_features",
    "alpha",
    "scale",
    "seed",
    "min_samples",
    "refit_every",
    "holdout",
    "status_topic",
    "prediction_field",
    "version_field",
    "before_model",
];

fn name(key: &str, v: &Value) -> Result<String, String> {
    v.as_str()
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| format!("'{key}' must be a non-empty string"))
}

fn whole(key: &str, v: &Value, min: u64, max: u64) -> Result<u64, String> {
    v.as_u64()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| format!("'{key}' must be a whole number from {min} to {max}, got {v}"))
}

impl LearnerConfig {
    /// Parse the stage config JSON.
    pub fn parse(text: &str) -> Result<Self, String> {
        let root = &wasp_sdk::config::table(text, KEYS)?;
        let get = |k: &str| root.get(k);
        let features = wasp_sdk::config::field_names(root, "features")?;
        let target = match get("target") {
            Some(v) => name("target", v)?,
            None => return Err("'target' is required: the field to learn and predict".into()),
        };
        if features.contains(&target) {
            return Err(format!("'target' ('{target}') must not be one of 'features'"));
        }
        let task = match get("task").map(Value::as_str) {
            None | Some(Some("regression")) => Task::Regression,
            Some(Some("classification")) => Task::Classification,
            Some(_) => return Err("'task' must be \"regression\" or \"classification\"".into()),
        };
        let opt = |k: &str, min: u64, max: u64| get(k).map(|v| whole(k, v, min, max)).transpose();
        let forest_only =
            ["n_trees", "max_depth", "min_samples_leaf", "min_samples_split", "max_features"];
        let algo_name = match get("algorithm") {
            None => "random_forest".to_owned(),
            Some(v) => name("algorithm", v)?,
        };
        let algorithm = match (algo_name.as_str(), task) {
            ("random_forest", _) => {
                let d = Forest::default();
                let size = |k: &str, min: u64, default: usize| {
                    opt(k, min, u64::MAX).map(|v| v.map_or(default, |n| n as usize))
                };
                Algorithm::RandomForest(Forest {
                    n_trees: opt("n_trees", 1, u64::from(u16::MAX))?.map_or(d.n_trees, |n| n as u16),
                    max_depth: opt("max_depth", 1, u64::from(u16::MAX))?.map(|n| n as u16),
                    min_samples_leaf: size("min_samples_leaf", 1, d.min_samples_leaf)?,
                    min_samples_split: size("min_samples_split", 2, d.min_samples_split)?,
                    max_features: opt("max_features", 1, features.len() as u64)?.map(|n| n as usize),
                })
            }
            ("linear", Task::Regression) => Algorithm::Linear,
            ("logistic", Task::Classification) => Algorithm::Logistic {
                alpha: match get("alpha") {
                    None => 0.0,
                    Some(v) => v
                        .as_f64()
                        .filter(|a| *a >= 0.0 && a.is_finite())
                        .ok_or_else(|| format!("'alpha' must be a number >= 0, got {v}"))?,
                },
            },
            ("linear", Task::Classification) => {
                return Err("'algorithm' \"linear\" is for task \"regression\"; use \"logistic\" or \"random_forest\" for classification".into())
            }
            ("logistic", Task::Regression) => {
                return Err("'algorithm' \"logistic\" is for task \"classification\"; use \"linear\" or \"random_forest\" for regression".into())
            }
            (other, _) => {
                return Err(format!(
                    "'algorithm' must be \"random_forest\", \"linear\" (regression) or \"logistic\" (classification), got \"{other}\""
                ))
            }
        };
        if !matches!(algorithm, Algorithm::RandomForest(_)) {
            if let Some(k) = forest_only.iter().find(|k| get(k).is_some()) {
                return Err(format!(
                    "'{k}' is a random_forest setting; 'algorithm' is \"{algo_name}\""
                ));
            }
        }
        if get("alpha").is_some() && !matches!(algorithm, Algorithm::Logistic { .. }) {
            return Err("'alpha' is a logistic setting".into());
        }
        let scale = match get("scale") {
            None => true,
            Some(v) => v.as_bool().ok_or("'scale' must be true or false")?,
        };
        let seed = opt("seed", 0, u64::MAX)?.unwrap_or(42);
        let min_samples = opt("min_samples", 2, u64::MAX)?.unwrap_or(100);
        let refit_every = opt("refit_every", 0, u64::MAX)?.unwrap_or(0);
        let holdout_every = match get("holdout") {
            None => 5,
            Some(v) => match v.as_f64() {
                Some(0.0) => 0,
                Some(h) if h > 0.0 && h <= 0.5 => (1.0 / h).round() as usize,
                _ => return Err(format!("'holdout' must be a fraction from 0 to 0.5, got {v}")),
            },
        };
        let field = |k: &str, default: &str| get(k).map_or(Ok(default.to_owned()), |v| name(k, v));
        let c = LearnerConfig {
            spec: Spec { task, algorithm, scale, seed },
            min_samples,
            refit_every,
            holdout_every,
            status_topic: get("status_topic").map(|v| name("status_topic", v)).transpose()?,
            prediction_field: field("prediction_field", "prediction")?,
            version_field: field("version_field", "model_version")?,
            before_model: match get("before_model").map(Value::as_str) {
                None | Some(Some("feedback")) => BeforeModel::Feedback,
                Some(Some("reject")) => BeforeModel::Reject,
                Some(_) => return Err("'before_model' must be \"feedback\" or \"reject\"".into()),
            },
            features,
            target,
        };
        for f in [&c.prediction_field, &c.version_field] {
            if c.features.contains(f) {
                return Err(format!("'features' must not name the output field '{f}'"));
            }
        }
        Ok(c)
    }

    /// The feature vector of a record, or why it has none.
    pub fn features_of(&self, obj: &Map<String, Value>) -> Result<Vec<f64>, String> {
        self.features
            .iter()
            .map(|f| match obj.get(f) {
                None | Some(Value::Null) => Err(format!("missing feature '{f}'")),
                Some(v) => v
                    .as_f64()
                    .filter(|x| x.is_finite())
                    .ok_or_else(|| format!("feature '{f}' is not a number: {v}")),
            })
            .collect()
    }

    /// The training sample of a record, or why it is not one.
    pub fn sample_of(&self, obj: &Map<String, Value>) -> Result<Sample, String> {
        let x = self.features_of(obj)?;
        let t = &self.target;
        let y = match (obj.get(t), self.spec.task) {
            (None | Some(Value::Null), _) => return Err(format!("missing target '{t}'")),
            (Some(v), Task::Regression) => Target::Value(
                v.as_f64()
                    .filter(|y| y.is_finite())
                    .ok_or_else(|| format!("target '{t}' is not a number: {v}"))?,
            ),
            (Some(v @ (Value::String(_) | Value::Number(_))), Task::Classification) => {
                Target::Class(v.to_string())
            }
            (Some(v), Task::Classification) => {
                return Err(format!("target '{t}' must be a string or number label, got {v}"))
            }
        };
        Ok(Sample { x, y })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#""features":["a","b"],"target":"y""#;

    fn cfg(extra: &str) -> Result<LearnerConfig, String> {
        let sep = if extra.is_empty() { "" } else { "," };
        LearnerConfig::parse(&format!("{{{BASE}{sep}{extra}}}"))
    }

    #[test]
    fn defaults_are_sklearns_forest_and_a_fifth_held_out() {
        let c = cfg("").unwrap();
        assert_eq!(c.spec.task, Task::Regression);
        let sklearn = Forest {
            n_trees: 100,
            max_depth: None,
            min_samples_leaf: 1,
            min_samples_split: 2,
            max_features: None,
        };
        assert_eq!(c.spec.algorithm, Algorithm::RandomForest(sklearn));
        let f = cfg(r#""n_trees":7,"max_depth":3,"min_samples_leaf":2,"min_samples_split":4,"max_features":1"#)
            .unwrap();
        assert_eq!(
            f.spec.algorithm,
            Algorithm::RandomForest(Forest {
                n_trees: 7,
                max_depth: Some(3),
                min_samples_leaf: 2,
                min_samples_split: 4,
                max_features: Some(1)
            })
        );
        assert_eq!((c.spec.scale, c.spec.seed), (true, 42));
        assert_eq!((c.min_samples, c.refit_every, c.holdout_every), (100, 0, 5));
        assert_eq!(c.status_topic, None);
        assert_eq!(c.before_model, BeforeModel::Feedback);
        let l = cfg(r#""task":"classification","algorithm":"logistic","alpha":0.5"#).unwrap();
        assert_eq!(l.spec.algorithm, Algorithm::Logistic { alpha: 0.5 });
        assert_eq!(cfg(r#""holdout":0"#).unwrap().holdout_every, 0);
        assert_eq!(cfg(r#""holdout":0.1"#).unwrap().holdout_every, 10);
    }

    #[test]
    fn refuses_bad_configs_naming_the_key() {
        let err = |extra: &str| cfg(extra).unwrap_err();
        assert!(LearnerConfig::parse(r#"{"features":["a"]}"#)
            .unwrap_err()
            .contains("'target' is required"));
        assert!(LearnerConfig::parse(r#"{"features":["a"],"target":"a"}"#)
            .unwrap_err()
            .contains("must not be one of 'features'"));
        assert!(err(r#""algo":"x""#).contains("unknown config key 'algo'"));
        assert!(err(r#""algorithm":"svm""#).contains("'algorithm' must be"));
        assert!(err(r#""algorithm":"logistic""#).contains("is for task \"classification\""));
        assert!(err(r#""task":"classification","algorithm":"linear""#)
            .contains("is for task \"regression\""));
        assert!(err(r#""algorithm":"linear","n_trees":5"#)
            .contains("'n_trees' is a random_forest setting"));
        assert!(err(r#""alpha":1"#).contains("'alpha' is a logistic setting"));
        assert!(err(r#""n_trees":0"#).contains("'n_trees' must be a whole number from 1"));
        assert!(err(r#""max_features":3"#)
            .contains("'max_features' must be a whole number from 1 to 2"));
        assert!(err(r#""min_samples":1"#).contains("'min_samples'"));
        assert!(err(r#""holdout":0.9"#).contains("'holdout' must be a fraction"));
        assert!(err(r#""status_topic":"""#).contains("'status_topic'"));
        assert!(err(r#""before_model":"drop""#).contains("'before_model'"));
        assert!(err(r#""task":"ranking""#).contains("'task'"));
    }

    #[test]
    fn samples_name_what_is_missing() {
        let c = cfg("").unwrap();
        let obj = |s: &str| serde_json::from_str::<Map<String, Value>>(s).unwrap();
        assert_eq!(
            c.sample_of(&obj(r#"{"a":1,"b":2.5,"y":3}"#)).unwrap(),
            Sample { x: vec![1.0, 2.5], y: Target::Value(3.0) }
        );
        assert_eq!(c.sample_of(&obj(r#"{"a":1,"y":3}"#)).unwrap_err(), "missing feature 'b'");
        assert_eq!(
            c.sample_of(&obj(r#"{"a":1,"b":null,"y":3}"#)).unwrap_err(),
            "missing feature 'b'"
        );
        assert_eq!(c.sample_of(&obj(r#"{"a":1,"b":2}"#)).unwrap_err(), "missing target 'y'");
        assert!(c
            .sample_of(&obj(r#"{"a":"1","b":2,"y":3}"#))
            .unwrap_err()
            .contains("feature 'a' is not a number"));
        assert!(c
            .sample_of(&obj(r#"{"a":1,"b":2,"y":"3"}"#))
            .unwrap_err()
            .contains("target 'y' is not a number"));
        let k = cfg(r#""task":"classification""#).unwrap();
        assert_eq!(
            k.sample_of(&obj(r#"{"a":1,"b":2,"y":"high"}"#)).unwrap().y,
            Target::Class("\"high\"".into())
        );
        assert!(k
            .sample_of(&obj(r#"{"a":1,"b":2,"y":[1]}"#))
            .unwrap_err()
            .contains("string or number label"));
    }
}
