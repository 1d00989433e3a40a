//! Runs a scikit-learn model exported by `wasp-export-sklearn` on every
//! record, giving scikit-learn's own predictions (the `model-eval` crate
//! does the arithmetic; `docs/models.md` says what exact means).
//!
//! # Config
//!
//! | key | default | meaning |
//! | --- | --- | --- |
//! | `model_file` | `"model"` | name of the stage file (`[stage.files]`) holding the model document |
//! | `document` | none | the model document inline instead: a table, or its JSON text |
//! | `output` | `"record"` | `"record"`: the input with the prediction fields added; `"label"`: only the prediction (its `labels` text when one is set) |
//! | `prediction_field` | `"prediction"` | output field for the label (classifiers, outlier detectors: 1 or -1) or value (regressors) |
//! | `probabilities_field` | none | output field for `{class: probability}` (classifiers) |
//! | `score_field` | `"score"` | output field for an outlier detector's `decision_function` |
//! | `text_field` | `"text"` | text models, record output: the field holding the input text |
//! | `labels` | none | label to text, e.g. `{"1" = "Risk of Heart Disease", "0" = "No Risk of Heart Disease"}` |
//! | `topics` | none | label to topic: those predictions go to that topic (allow-list it in `[topics]`) instead of the output topic |
//! | `label_field` | none | input field with the true label: a wrong prediction also goes to the feedback topic |
//!
//! Labels are keyed as text: `1` for the number 1 (or 1.0), `pos` for the
//! string "pos". Unknown keys are refused.
//!
//! # Loading
//!
//! `init` reads the document (the stage file `model_file`, e.g.
//! `[stage.files] model = "models/heart.json"`, or `document`), parses it
//! and runs its check rows; a model whose output
//! differs from scikit-learn's on any row is refused, and the stage does
//! not start (the message names the row, the estimator and the
//! scikit-learn version).
//!
//! # Records
//!
//! Field models read a JSON object (fields by name, a missing field or
//! `null` is a missing value); text models read the whole value as UTF-8.
//! A record the model cannot take (not JSON, text where a number belongs,
//! an unknown category under `handle_unknown='error'`, a missing value for
//! an estimator without an imputer) is rejected with the reason.
use model_eval::{Input, Model, Prediction};
use serde_json::{Map, Value};
use wasp_sdk::{BatchInfo, Destination, Level, Message, Output, Plugin, PluginInfo, Verdict};

pub mod config;

pub use config::{label_key, ModelConfig, OutputMode, Source};

/// The model plugin.
pub struct ModelPlugin {
    cfg: ModelConfig,
    model: Model,
}

/// What one record became, before it is a verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct Scored {
    /// The output value.
    pub value: Vec<u8>,
    /// The topic for it (`None`: the output topic).
    pub topic: Option<String>,
    /// The record's true label differs from the prediction.
    pub wrong: bool,
}

impl ModelPlugin {
    /// Build the plugin from its config JSON, loading and checking the model.
    pub fn new(config: &str) -> Result<Self, String> {
        let cfg = ModelConfig::parse(config)?;
        let bytes = match &cfg.source {
            Source::File(name) => wasp_sdk::files::read(name)?,
            Source::Inline(text) => text.clone().into_bytes(),
        };
        let model = Model::load(&bytes)?;
        wasp_sdk::log(
            Level::Info,
            &format!(
                "model: {} fitted with scikit-learn {}, {} check rows agree",
                model.estimator(),
                model.sklearn_version(),
                model.checks()
            ),
        );
        Ok(ModelPlugin { cfg, model })
    }

    /// The loaded model.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// Predict one record value. `Err` is the reject reason.
    pub fn score(&self, value: Option<&[u8]>) -> Result<Scored, String> {
        let bytes = value.ok_or("empty value: expected a record")?;
        let (input, mut record) = match self.model.input() {
            Input::Fields { .. } => match serde_json::from_slice(bytes) {
                Ok(Value::Object(o)) => (Value::Object(o.clone()), o),
                Ok(_) => return Err("value is not a JSON object".into()),
                Err(e) => return Err(format!("value is not valid JSON: {e}")),
            },
            Input::Text => {
                let text = std::str::from_utf8(bytes)
                    .map_err(|e| format!("value is not UTF-8 text: {e}"))?;
                let mut o = Map::new();
                o.insert(self.cfg.text_field.clone(), Value::String(text.to_owned()));
                (Value::String(text.to_owned()), o)
            }
        };
        let p = self.model.predict_json(&input)?;
        let key = p.label.as_ref().map(label_key);
        let shown = self.shown(&p, key.as_deref());
        let topic = key
            .as_ref()
            .and_then(|k| self.cfg.topics.get(k))
            .and_then(Value::as_str)
            .map(str::to_owned);
        let wrong = match (&self.cfg.label_field, &key) {
            (Some(f), Some(k)) => record.get(f).is_some_and(|t| !t.is_null() && label_key(t) != *k),
            _ => false,
        };
        let value = match self.cfg.output {
            OutputMode::Label => match &shown {
                Value::String(s) => s.clone().into_bytes(),
                other => other.to_string().into_bytes(),
            },
            OutputMode::Record => {
                record.insert(self.cfg.prediction_field.clone(), shown);
                if let (Some(f), Some(proba), Some(classes)) =
                    (&self.cfg.probabilities_field, &p.proba, self.model.classes())
                {
                    let probs: Map<String, Value> = classes
                        .iter()
                        .zip(proba)
                        .map(|(c, p)| (label_key(c), Value::from(*p)))
                        .collect();
                    record.insert(f.clone(), Value::Object(probs));
                }
                if let Some(s) = p.score {
                    record.insert(self.cfg.score_field.clone(), Value::from(s));
                }
                serde_json::to_vec(&Value::Object(record)).expect("a JSON value always serialises")
            }
        };
        Ok(Scored { value, topic, wrong })
    }

    /// The prediction as written: the label's configured text, the label,
    /// or the regression value.
    fn shown(&self, p: &Prediction, key: Option<&str>) -> Value {
        if let Some(text) = key.and_then(|k| self.cfg.labels.get(k)) {
            return text.clone();
        }
        match (&p.label, p.value) {
            (Some(l), _) => l.clone(),
            (None, Some(v)) => Value::from(v),
            (None, None) => Value::Null,
        }
    }

    fn verdict(&self, record: &Message) -> Verdict {
        match self.score(record.value.as_deref()) {
            Ok(s) => {
                if !s.wrong && s.topic.is_none() {
                    return Verdict::Value(s.value);
                }
                let mut out = wasp_sdk::output(s.value.clone());
                if let Some(t) = s.topic {
                    out.destination = Destination::Topic(t);
                }
                let mut outs: Vec<Output> = vec![out];
                if s.wrong {
                    wasp_sdk::counter_add("model_wrong", 1);
                    outs.push(wasp_sdk::feedback(s.value));
                }
                Verdict::Emit(outs)
            }
            Err(reason) => Verdict::Reject(reason),
        }
    }
}

impl Plugin for ModelPlugin {
    fn info() -> PluginInfo {
        PluginInfo {
            name: "model".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "scikit-learn model (exported by wasp-export-sklearn) with scikit-learn's predictions".into(),
        }
    }

    fn init(config: &str) -> Result<Self, String> {
        ModelPlugin::new(config)
    }

    fn process(&mut self, _info: &BatchInfo, record: Message) -> Verdict {
        wasp_sdk::counter_add("model_predictions", 1);
        self.verdict(&record)
    }

    fn process_batch(&mut self, _info: &BatchInfo, batch: Vec<Message>) -> Vec<Verdict> {
        wasp_sdk::counter_add("model_predictions", batch.len() as u64);
        batch.iter().map(|m| self.verdict(m)).collect()
    }
}

wasp_sdk::export_plugin!(ModelPlugin);
