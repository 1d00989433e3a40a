//! Config parsing with messages that name the offending key.
use crate::forest::Settings;
use serde_json::{Map, Value};

/// How the score threshold is set.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Contamination {
    /// Expected share of anomalies: the threshold is the score exceeded by
    /// that share of the warm-up samples.
    Share(f64),
    /// The paper's fixed threshold, a score of 0.5 (sklearn's "auto").
    Auto,
}

/// The plugin's config; see the crate docs for each key.
#[derive(Debug, Clone, PartialEq)]
pub struct AnomalyConfig {
    /// Numeric fields, in vector order.
    pub features: Vec<String>,
    /// Samples collected before the forest is fitted.
    pub warmup: usize,
    /// Threshold rule.
    pub contamination: Contamination,
    /// Forest settings.
    pub forest: Settings,
    /// Ground-truth field, only counted in metrics and passed through.
    pub label_field: Option<String>,
    /// Output field for WARMUP / NORMAL / ANOMALY.
    pub status_field: String,
    /// Output field for the score.
    pub score_field: String,
}

const KEYS: &[&str] = &[
    "features",
    "warmup",
    "contamination",
    "trees",
    "sample_size",
    "seed",
    "label_field",
    "status_field",
    "score_field",
];

fn whole(root: &Map<String, Value>, key: &str, default: u64, min: u64) -> Result<u64, String> {
    match root.get(key) {
        None => Ok(default),
        Some(v) => v
            .as_u64()
            .filter(|n| *n >= min)
            .ok_or_else(|| format!("'{key}' must be a whole number >= {min}, got {v}")),
    }
}

fn name(root: &Map<String, Value>, key: &str) -> Result<Option<String>, String> {
    match root.get(key) {
        None => Ok(None),
        Some(Value::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
        Some(v) => Err(format!("'{key}' must be a non-empty field name (string), got {v}")),
    }
}

impl AnomalyConfig {
    /// Parse the stage config JSON.
    pub fn parse(text: &str) -> Result<Self, String> {
        let root = &wasp_sdk::config::table(text, KEYS)?;
        let features = wasp_sdk::config::field_names(root, "features")?;
        let contamination = match root.get("contamination") {
            None => Contamination::Share(0.05),
            Some(Value::String(s)) if s == "auto" => Contamination::Auto,
            Some(v) => match v.as_f64() {
                Some(c) if c > 0.0 && c <= 0.5 => Contamination::Share(c),
                _ => {
                    return Err(format!(
                        "'contamination' must be a number in (0, 0.5] or \"auto\", got {v}"
                    ))
                }
            },
        };
        let c = AnomalyConfig {
            warmup: whole(root, "warmup", 256, 2)? as usize,
            contamination,
            forest: Settings {
                trees: whole(root, "trees", 100, 1)? as usize,
                sample_size: whole(root, "sample_size", 256, 2)? as usize,
                seed: whole(root, "seed", 42, 0)?,
            },
            label_field: name(root, "label_field")?,
            status_field: name(root, "status_field")?.unwrap_or_else(|| "status".into()),
            score_field: name(root, "score_field")?.unwrap_or_else(|| "anomaly_score".into()),
            features,
        };
        for (key, field) in [
            ("label_field", c.label_field.as_ref()),
            ("status_field", Some(&c.status_field)),
            ("score_field", Some(&c.score_field)),
        ] {
            if let Some(f) = field.filter(|f| c.features.contains(f)) {
                return Err(format!("'{key}' names '{f}', which is also a feature"));
            }
        }
        if c.status_field == c.score_field {
            return Err("'status_field' and 'score_field' must differ".into());
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let c = AnomalyConfig::parse(r#"{"features":["t"]}"#).unwrap();
        assert_eq!(c.warmup, 256);
        assert_eq!(c.contamination, Contamination::Share(0.05));
        assert_eq!(c.forest, Settings { trees: 100, sample_size: 256, seed: 42 });
        assert_eq!(
            (c.label_field, c.status_field.as_str(), c.score_field.as_str()),
            (None, "status", "anomaly_score")
        );
        let c =
            AnomalyConfig::parse(r#"{"features":["t"],"contamination":"auto","label_field":"y"}"#)
                .unwrap();
        assert_eq!((c.contamination, c.label_field.as_deref()), (Contamination::Auto, Some("y")));
    }

    #[test]
    fn refuses_bad_configs_naming_the_key() {
        let err = |cfg: &str| AnomalyConfig::parse(cfg).unwrap_err();
        assert!(err("{}").contains("'features' is required"));
        assert!(err(r#"{"features":["t"],"tres":3}"#).contains("unknown config key 'tres'"));
        assert!(err(r#"{"features":[]}"#).contains("'features' must be a non-empty list"));
        assert!(err(r#"{"features":["t","t"]}"#).contains("names 't' twice"));
        assert!(err(r#"{"features":["t"],"warmup":1}"#)
            .contains("'warmup' must be a whole number >= 2"));
        assert!(err(r#"{"features":["t"],"trees":0}"#).contains("'trees'"));
        assert!(err(r#"{"features":["t"],"seed":-1}"#).contains("'seed'"));
        assert!(err(r#"{"features":["t"],"contamination":0.7}"#).contains("'contamination'"));
        assert!(err(r#"{"features":["t"],"contamination":0}"#).contains("'contamination'"));
        assert!(err(r#"{"features":["t"],"label_field":"t"}"#).contains("'label_field' names 't'"));
        assert!(err(r#"{"features":["t"],"score_field":"status"}"#).contains("must differ"));
        assert!(err(r#"{"features":["t"],"status_field":3}"#).contains("'status_field'"));
    }
}
