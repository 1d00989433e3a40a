//! The stage config, with messages that name the key at fault.
use serde_json::{Map, Value};

/// What the output record's value is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OutputMode {
    /// The input (a JSON object, or `{text_field: text}` for text models)
    /// with the prediction fields added.
    Record,
    /// Only the prediction: its `labels` text when one is configured, else
    /// the label or value as JSON (the seed's "Risk of Heart Disease").
    Label,
}

/// The plugin's config; see the crate docs for each key.
#[derive(Debug, Clone)]
pub struct ModelConfig {
    /// Where the model document comes from.
    pub source: Source,
    /// What the output value is.
    pub output: OutputMode,
    /// Output field for the prediction.
    pub prediction_field: String,
    /// Output field for the class probabilities, when wanted.
    pub probabilities_field: Option<String>,
    /// Output field for `decision_function` (outlier detectors).
    pub score_field: String,
    /// Text models in record mode: the field that holds the input text.
    pub text_field: String,
    /// Label (as text: `"1"`, `"pos"`) to the text written instead.
    pub labels: Map<String, Value>,
    /// Label to the topic the output goes to instead of `next`.
    pub topics: Map<String, Value>,
    /// Field of the input holding the true label: a wrong prediction also
    /// goes to the feedback topic.
    pub label_field: Option<String>,
}

/// Where the model document is.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// A file the pipeline gives the stage (`[stage.files]`), by name.
    File(String),
    /// Inline in the config (`document`), as JSON text.
    Inline(String),
}

const KEYS: &[&str] = &[
    "model_file",
    "document",
    "output",
    "prediction_field",
    "probabilities_field",
    "score_field",
    "text_field",
    "labels",
    "topics",
    "label_field",
];

fn name(root: &Map<String, Value>, key: &str, default: &str) -> Result<String, String> {
    match root.get(key) {
        None => Ok(default.to_owned()),
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        Some(v) => Err(format!("'{key}' must be a non-empty field name (string), got {v}")),
    }
}

fn table_of_strings(root: &Map<String, Value>, key: &str) -> Result<Map<String, Value>, String> {
    match root.get(key) {
        None => Ok(Map::new()),
        Some(Value::Object(m)) => {
            if let Some((k, v)) = m.iter().find(|(_, v)| v.as_str().is_none_or(|s| s.is_empty())) {
                return Err(format!("'{key}.{k}' must be a non-empty string, got {v}"));
            }
            Ok(m.clone())
        }
        Some(v) => Err(format!("'{key}' must be a table of label = \"text\", got {v}")),
    }
}

impl ModelConfig {
    /// Parse the stage config JSON.
    pub fn parse(text: &str) -> Result<Self, String> {
        let root = &wasp_sdk::config::table(text, KEYS)?;
        let source = match (root.get("document"), root.get("model_file")) {
            (Some(_), Some(_)) => {
                return Err("give the model as 'model_file' or as 'document', not both".into())
            }
            (Some(Value::String(s)), None) => Source::Inline(s.clone()),
            (Some(v @ Value::Object(_)), None) => Source::Inline(v.to_string()),
            (Some(v), None) => {
                return Err(format!(
                    "'document' must be the model document (a table or JSON text), got {v}"
                ))
            }
            (None, _) => Source::File(name(root, "model_file", "model")?),
        };
        let output = match root.get("output").map(Value::as_str) {
            None | Some(Some("record")) => OutputMode::Record,
            Some(Some("label")) => OutputMode::Label,
            Some(_) => return Err("'output' must be \"record\" or \"label\"".into()),
        };
        let probabilities_field = match root.get("probabilities_field") {
            None => None,
            Some(_) => Some(name(root, "probabilities_field", "")?),
        };
        let label_field = match root.get("label_field") {
            None => None,
            Some(_) => Some(name(root, "label_field", "")?),
        };
        Ok(ModelConfig {
            source,
            output,
            prediction_field: name(root, "prediction_field", "prediction")?,
            probabilities_field,
            score_field: name(root, "score_field", "score")?,
            text_field: name(root, "text_field", "text")?,
            labels: table_of_strings(root, "labels")?,
            topics: table_of_strings(root, "topics")?,
            label_field,
        })
    }
}

/// A label as the key of `labels` and `topics`: text as is, whole numbers
/// without a fraction (`1`, not `1.0`).
pub fn label_key(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => match n.as_f64() {
            Some(x) if x.fract() == 0.0 && x.abs() < 9e15 => format!("{}", x as i64),
            _ => n.to_string(),
        },
        Value::Bool(b) => u8::from(*b).to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_bad_configs_naming_the_key() {
        let err = |cfg: &str| ModelConfig::parse(cfg).unwrap_err();
        assert_eq!(ModelConfig::parse("{}").unwrap().source, Source::File("model".into()));
        assert!(err(r#"{"document":{},"model_file":"m"}"#).contains("not both"));
        assert!(err(r#"{"model_file":""}"#).contains("'model_file'"));
        assert!(err(r#"{"document":{},"modle":1}"#).contains("unknown config key 'modle'"));
        assert!(err(r#"{"document":{},"output":"csv"}"#).contains("'output'"));
        assert!(err(r#"{"document":{},"labels":{"1":3}}"#).contains("'labels.1'"));
        assert!(err(r#"{"document":{},"topics":"x"}"#).contains("'topics'"));
        assert!(err(r#"{"document":{},"label_field":""}"#).contains("'label_field'"));
        assert!(err(r#"{"document":5}"#).contains("'document'"));
    }

    #[test]
    fn label_keys() {
        assert_eq!(label_key(&serde_json::json!(1)), "1");
        assert_eq!(label_key(&serde_json::json!(1.0)), "1");
        assert_eq!(label_key(&serde_json::json!(-1)), "-1");
        assert_eq!(label_key(&serde_json::json!(0.5)), "0.5");
        assert_eq!(label_key(&serde_json::json!("pos")), "pos");
    }
}
