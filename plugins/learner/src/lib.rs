//! Trains a model inside the stream and predicts with it: samples arrive on
//! the pipeline's training (corrections) topic through `learn`, the model is
//! fitted when there are enough, announced on a status topic, kept in the
//! host's state store, and every input record gets its prediction.
//!
//! # Config
//!
//! | key | default | meaning |
//! | --- | --- | --- |
//! | `features` | required | numeric fields, in vector order |
//! | `target` | required | the field to learn (training records) and predict |
//! | `task` | `"regression"` | or `"classification"` (target: a string or number label) |
//! | `algorithm` | `"random_forest"` | or `"linear"` (regression), `"logistic"` (classification) |
//! | `n_trees` | `100` | random forest: trees |
//! | `max_depth` | none | random forest: deepest tree |
//! | `min_samples_leaf` | `1` | random forest |
//! | `min_samples_split` | `2` | random forest |
//! | `max_features` | all (regression), √n (classification) | random forest: features tried per split, as sklearn's defaults |
//! | `alpha` | `0` | logistic: L2 regularisation |
//! | `scale` | `true` | standardise features first (sklearn's `StandardScaler`) |
//! | `seed` | `42` | seed of the forests' draws: the same samples give the same model |
//! | `min_samples` | `100` | samples before the first fit |
//! | `refit_every` | `0` | refit after this many new samples; `0` never refits |
//! | `holdout` | `0.2` | fraction held out to measure quality (every 5th sample at 0.2); `0` holds none out |
//! | `status_topic` | none | named topic for model-status events; must be in `topics.allowed` |
//! | `prediction_field` | `"prediction"` | output field for the prediction |
//! | `version_field` | `"model_version"` | output field for the model version that predicted |
//! | `before_model` | `"feedback"` | records before the first model: `"feedback"` or `"reject"` |
//!
//! # Records
//!
//! `learn` (training topic): a JSON object with the features and the target
//! is a sample. One missing a feature or the target, or holding a
//! non-number, is rejected with the reason (dead-letter topic). A sample is
//! stored under a key made of the record's timestamp, topic, partition and
//! offset, so a redelivered record counts once. When the store holds
//! `min_samples` (first fit) or `refit_every` more than the last fit used,
//! the model is fitted on all samples but the held-out ones, stored, and
//! the record's verdict carries one model-status event to `status_topic`:
//!
//! ```json
//! {"event":"model-ready","model_version":1,"task":"regression","algorithm":"random_forest",
//!  "target":"final_score","features":[..],"samples":1000,"trained_on":800,"held_out":200,
//!  "quality":{"r2":0.93},"fit_ms":412.5}
//! ```
//!
//! `quality` is `{"r2":..}` or `{"accuracy":..}` on the held-out samples
//! (`null` with none held out). `fit_ms` is `null` under the default
//! sandbox, whose clock is frozen; grant `[stage.limits] clock = "real"` to
//! measure it. A fit that fails emits `{"event":"fit-failed","error":..}`
//! instead, and the next sample tries again.
//!
//! `process` (input topic): a JSON object with the features gets
//! `prediction_field` and `version_field` set. One missing a feature is
//! rejected with the reason. Before the first model, records go to the
//! feedback topic unchanged, with a header `wasp.learner.status` saying no
//! model is ready yet (`before_model = "feedback"`), or to the dead-letter
//! topic with that reason (`"reject"`); none is dropped silently.
//!
//! # State layout (stage scope)
//!
//! - `learner/meta`: what the samples are (features, target, task). Another
//!   config's features, target or task discards the samples and the model.
//! - `learner/sample/{timestamp:016}-{topic}-{partition:05}-{offset:020}`:
//!   one sample, features as little-endian `f64`s then the target (8 bytes a
//!   number instead of JSON's up to 24).
//! - `learner/model`: the fitted model and its figures, postcard-encoded.
//!   Fitted with other hyper-parameters than the config's, it is not used;
//!   the next training sample fits a new one.
//! - `learner/model-version`: the version as text, read once per batch so
//!   every instance picks up a new model.
use serde_json::{json, Map, Value};
use wasp_sdk::{BatchInfo, Header, Level, Message, Plugin, PluginInfo, Verdict};

pub mod clock;
pub mod config;
pub mod model;
pub mod sample;
pub mod store;

pub use config::{BeforeModel, LearnerConfig};
use model::Task;
use store::ModelDoc;

/// The header on records sent to feedback before the first model.
pub const STATUS_HEADER: &str = "wasp.learner.status";

/// The learner plugin.
pub struct Learner {
    cfg: LearnerConfig,
    /// Samples in the store.
    samples: u64,
    /// The model in use.
    model: Option<ModelDoc>,
    /// [`store::MODEL_VERSION`] as of the last look.
    seen_version: u64,
}

fn object(value: Option<&[u8]>) -> Result<Map<String, Value>, String> {
    match value {
        Some(b) if !b.is_empty() => match serde_json::from_slice(b) {
            Ok(Value::Object(o)) => Ok(o),
            Ok(_) => Err("value is not a JSON object".into()),
            Err(e) => Err(format!("value is not valid JSON: {e}")),
        },
        _ => Err("empty value: expected a JSON object".into()),
    }
}

impl Learner {
    /// Build the plugin from its config JSON, opening the stored samples
    /// and model.
    pub fn new(config: &str) -> Result<Self, String> {
        let cfg = LearnerConfig::parse(config)?;
        let samples = store::open(&cfg) as u64;
        let mut l = Learner { cfg, samples, model: None, seen_version: 0 };
        l.refresh();
        wasp_sdk::log(
            Level::Info,
            &format!(
                "learner: {} {} of '{}' on {:?}; {} samples stored; {}",
                l.cfg.spec.algorithm.name(),
                task_name(l.cfg.spec.task),
                l.cfg.target,
                l.cfg.features,
                l.samples,
                match &l.model {
                    Some(m) => format!("model v{} loaded", m.version),
                    None => format!("no model yet (first fit at {} samples)", l.cfg.min_samples),
                }
            ),
        );
        Ok(l)
    }

    /// The model in use, if any.
    pub fn model(&self) -> Option<&ModelDoc> {
        self.model.as_ref()
    }

    /// Load the stored model when its version moved.
    fn refresh(&mut self) {
        let v = store::stored_version();
        if v != self.seen_version {
            self.seen_version = v;
            self.model = ModelDoc::load(&self.cfg.spec);
        }
    }

    fn due(&self) -> bool {
        match &self.model {
            None => self.samples >= self.cfg.min_samples,
            Some(m) => self.cfg.refit_every > 0 && self.samples >= m.samples + self.cfg.refit_every,
        }
    }

    /// Take one training record. `Ok(Some(event))` when it led to a fit.
    pub fn train(&mut self, info: &BatchInfo, record: &Message) -> Result<Option<Value>, String> {
        let obj = object(record.value.as_deref())?;
        let sample = self.cfg.sample_of(&obj)?;
        self.refresh();
        if store::add(&store::sample_key(info, record.offset, record.timestamp), &sample) {
            self.samples += 1;
        }
        if !self.due() {
            return Ok(None);
        }
        Ok(Some(self.fit()))
    }

    /// Fit on every stored sample; the status event says how it went.
    fn fit(&mut self) -> Value {
        let samples = store::all(self.cfg.features.len());
        // Keep the count honest if another instance added samples.
        self.samples = samples.len() as u64;
        let start = clock::now_ns();
        let trained = match model::train(&self.cfg.spec, &samples, self.cfg.holdout_every) {
            Ok(t) => t,
            Err(e) => {
                wasp_sdk::log(Level::Warn, &format!("learner: fit failed: {e}"));
                return json!({
                    "event": "fit-failed",
                    "error": e,
                    "samples": samples.len(),
                    "target": self.cfg.target,
                });
            }
        };
        let fit_ms = clock::elapsed_ms(start);
        let doc = ModelDoc {
            version: store::stored_version() + 1,
            samples: samples.len() as u64,
            trained_on: trained.trained_on as u64,
            held_out: trained.held_out as u64,
            quality: trained.quality,
            fit_ms,
            spec: self.cfg.spec.clone(),
            fitted: trained.model,
        };
        doc.save();
        let event = self.status(&doc);
        wasp_sdk::log(Level::Info, &format!("learner: {event}"));
        self.seen_version = doc.version;
        self.model = Some(doc);
        event
    }

    fn status(&self, doc: &ModelDoc) -> Value {
        let metric = match self.cfg.spec.task {
            Task::Regression => "r2",
            Task::Classification => "accuracy",
        };
        json!({
            "event": "model-ready",
            "model_version": doc.version,
            "task": task_name(self.cfg.spec.task),
            "algorithm": self.cfg.spec.algorithm.name(),
            "target": self.cfg.target,
            "features": self.cfg.features,
            "samples": doc.samples,
            "trained_on": doc.trained_on,
            "held_out": doc.held_out,
            "quality": doc.quality.map(|q| json!({ metric: q })),
            "fit_ms": doc.fit_ms,
        })
    }

    /// Verdicts for a batch of input records: predictions for the records
    /// that have every feature, all from one matrix.
    pub fn predict_batch(&mut self, batch: &[Message]) -> Vec<Verdict> {
        self.refresh();
        let Some(doc) = &self.model else {
            let why = format!(
                "no model yet: '{}' is predicted once {} training samples have arrived",
                self.cfg.target, self.cfg.min_samples
            );
            return batch.iter().map(|m| self.unready(m, &why)).collect();
        };
        let mut verdicts: Vec<Option<Verdict>> = Vec::with_capacity(batch.len());
        let mut ready: Vec<(usize, Map<String, Value>, Vec<f64>)> = Vec::new();
        for (i, m) in batch.iter().enumerate() {
            match object(m.value.as_deref()).and_then(|o| self.cfg.features_of(&o).map(|x| (o, x)))
            {
                Ok((o, x)) => {
                    ready.push((i, o, x));
                    verdicts.push(None);
                }
                Err(reason) => verdicts.push(Some(Verdict::Reject(reason))),
            }
        }
        let rows: Vec<&[f64]> = ready.iter().map(|(_, _, x)| x.as_slice()).collect();
        match doc.fitted.predict(&rows) {
            Ok(predictions) => {
                for ((i, mut o, _), p) in ready.into_iter().zip(predictions) {
                    o.insert(self.cfg.prediction_field.clone(), p);
                    o.insert(self.cfg.version_field.clone(), Value::from(doc.version));
                    let bytes = serde_json::to_vec(&Value::Object(o)).expect("JSON serialises");
                    verdicts[i] = Some(Verdict::Value(bytes));
                }
            }
            Err(e) => {
                for (i, _, _) in ready {
                    verdicts[i] = Some(Verdict::Reject(format!("prediction failed: {e}")));
                }
            }
        }
        wasp_sdk::counter_add("learner_predictions", batch.len() as u64);
        verdicts.into_iter().map(|v| v.expect("every record has a verdict")).collect()
    }

    fn unready(&self, m: &Message, why: &str) -> Verdict {
        match self.cfg.before_model {
            BeforeModel::Reject => Verdict::Reject(why.to_owned()),
            BeforeModel::Feedback => {
                let mut out = wasp_sdk::feedback(Vec::new());
                // Unchanged, a tombstone included.
                out.value = m.value.as_deref().map(<[u8]>::to_vec);
                out.headers
                    .push(Header { key: STATUS_HEADER.into(), value: why.as_bytes().to_vec() });
                Verdict::Emit(vec![out])
            }
        }
    }
}

fn task_name(t: Task) -> &'static str {
    match t {
        Task::Regression => "regression",
        Task::Classification => "classification",
    }
}

impl Plugin for Learner {
    fn info() -> PluginInfo {
        PluginInfo {
            name: "learner".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "trains a random forest, linear or logistic model from the training topic and predicts".into(),
        }
    }

    fn init(config: &str) -> Result<Self, String> {
        Learner::new(config)
    }

    fn process(&mut self, _info: &BatchInfo, record: Message) -> Verdict {
        self.predict_batch(std::slice::from_ref(&record)).pop().expect("one verdict")
    }

    fn process_batch(&mut self, _info: &BatchInfo, batch: Vec<Message>) -> Vec<Verdict> {
        self.predict_batch(&batch)
    }

    fn learn(&mut self, info: &BatchInfo, record: Message) -> Verdict {
        match self.train(info, &record) {
            Err(reason) => Verdict::Reject(format!("training sample rejected: {reason}")),
            Ok(None) => Verdict::Drop,
            Ok(Some(event)) => match &self.cfg.status_topic {
                None => Verdict::Drop,
                Some(topic) => {
                    let bytes = serde_json::to_vec(&event).expect("JSON serialises");
                    Verdict::Emit(vec![wasp_sdk::to_topic(topic, bytes)])
                }
            },
        }
    }
}

wasp_sdk::export_plugin!(Learner);

#[cfg(test)]
mod tests {
    use super::*;
    use wasp_sdk::Destination;

    fn info() -> BatchInfo {
        BatchInfo { topic: "training".into(), partition: 0 }
    }

    fn msg(offset: i64, v: Value) -> Message<'static> {
        Message {
            offset,
            timestamp: Some(1_000 + offset),
            key: None,
            value: Some(serde_json::to_vec(&v).unwrap().into()),
            headers: Vec::new(),
        }
    }

    fn sample(i: i64) -> Value {
        let a = i as f64;
        let b = (i * 7 % 11) as f64;
        json!({"a": a, "b": b, "y": 2.0 * a + b})
    }

    const CFG: &str = r#"{"features":["a","b"],"target":"y","algorithm":"linear",
        "min_samples":10,"refit_every":5,"status_topic":"model-status"}"#;

    fn dropped(v: Verdict) -> bool {
        matches!(v, Verdict::Drop)
    }

    fn reason(v: Verdict) -> String {
        match v {
            Verdict::Reject(r) => r,
            other => panic!("not rejected: {other:?}"),
        }
    }

    fn status_of(v: Verdict) -> Value {
        let Verdict::Emit(outs) = v else { panic!("no status event: {v:?}") };
        assert!(matches!(&outs[0].destination, Destination::Topic(t) if t == "model-status"));
        serde_json::from_slice(outs[0].value.as_ref().unwrap()).unwrap()
    }

    #[test]
    fn feedback_before_the_first_fit_then_predictions_and_refits() {
        let mut l = Learner::new(CFG).unwrap();
        let query = msg(0, json!({"a": 3.0, "b": 4.0}));
        let Verdict::Emit(outs) = l.predict_batch(std::slice::from_ref(&query)).remove(0) else {
            panic!("not sent to feedback")
        };
        assert!(matches!(outs[0].destination, Destination::Feedback));
        assert_eq!(outs[0].value.as_deref(), query.value.as_deref());
        assert!(String::from_utf8_lossy(&outs[0].headers[0].value).contains("10 training samples"));
        for i in 0..9 {
            assert!(dropped(l.learn(&info(), msg(i, sample(i)))), "sample {i}");
        }
        // A redelivered sample counts once.
        assert!(dropped(l.learn(&info(), msg(8, sample(8)))));
        let ev = status_of(l.learn(&info(), msg(9, sample(9))));
        assert_eq!(ev["model_version"], 1);
        assert_eq!(
            (ev["samples"].as_u64(), ev["trained_on"].as_u64(), ev["held_out"].as_u64()),
            (Some(10), Some(8), Some(2))
        );
        assert!((ev["quality"]["r2"].as_f64().unwrap() - 1.0).abs() < 1e-9, "{ev}");
        assert!(ev["fit_ms"].as_f64().is_some(), "natively the clock is real: {ev}");
        let Verdict::Value(v) = l.predict_batch(&[query]).remove(0) else { panic!() };
        let out: Value = serde_json::from_slice(&v).unwrap();
        assert!((out["prediction"].as_f64().unwrap() - 10.0).abs() < 1e-6, "{out}");
        assert_eq!(out["model_version"], 1);
        for i in 10..14 {
            assert!(dropped(l.learn(&info(), msg(i, sample(i)))));
        }
        assert_eq!(status_of(l.learn(&info(), msg(14, sample(14))))["model_version"], 2);
        // A new instance (restart, reload) finds the model: no refit.
        let again = Learner::new(CFG).unwrap();
        assert_eq!(again.model().map(|m| m.version), Some(2));
        assert_eq!(again.samples, 15);
    }

    #[test]
    fn rejects_samples_and_records_missing_a_feature() {
        let mut l = Learner::new(CFG).unwrap();
        assert_eq!(
            reason(l.learn(&info(), msg(0, json!({"a": 1, "y": 2})))),
            "training sample rejected: missing feature 'b'"
        );
        assert_eq!(
            reason(l.learn(&info(), msg(1, json!({"a": 1, "b": 2})))),
            "training sample rejected: missing target 'y'"
        );
        for i in 0..10 {
            l.learn(&info(), msg(i, sample(i)));
        }
        let mut v = l.predict_batch(&[msg(0, json!({"a": 1})), msg(1, json!({"a": 1, "b": 1}))]);
        assert!(matches!(v[1], Verdict::Value(_)));
        assert_eq!(reason(v.remove(0)), "missing feature 'b'");
    }

    #[test]
    fn other_features_start_over_and_other_settings_refit() {
        let mut l = Learner::new(CFG).unwrap();
        for i in 0..10 {
            l.learn(&info(), msg(i, sample(i)));
        }
        // Other hyper-parameters: the samples stay, the model waits for a refit.
        let forest = CFG.replace(r#""algorithm":"linear""#, r#""n_trees":5"#);
        let mut f = Learner::new(&forest).unwrap();
        assert!(f.model().is_none());
        assert_eq!(f.samples, 10);
        assert_eq!(status_of(f.learn(&info(), msg(10, sample(10))))["model_version"], 2);
        // Other features: nothing stored is of use.
        let other = CFG.replace(r#"["a","b"]"#, r#"["a"]"#);
        let o = Learner::new(&other).unwrap();
        assert_eq!((o.samples, o.model().is_none()), (0, true));
    }
}
