//! Isolation Forest anomaly detector over JSON object records, one model
//! per input partition.
//!
//! # Config
//!
//! | key | default | meaning |
//! | --- | --- | --- |
//! | `features` | required | numeric fields, in vector order |
//! | `warmup` | `256` | samples collected before the forest is fitted (>= 2) |
//! | `contamination` | `0.05` | expected share of anomalies in (0, 0.5], or `"auto"` |
//! | `trees` | `100` | trees in the forest (sklearn's `n_estimators`) |
//! | `sample_size` | `256` | points per tree (sklearn's `max_samples`) |
//! | `seed` | `42` | generator seed (sklearn's `random_state`) |
//! | `label_field` | none | ground-truth field (e.g. `is_anomaly`); passed through, and counted in metrics |
//! | `status_field` | `"status"` | output field: `WARMUP`, `NORMAL` or `ANOMALY` |
//! | `score_field` | `"anomaly_score"` | output field for the score |
//!
//! Unknown keys are refused.
//!
//! # Records
//!
//! A record is a JSON object; a missing or non-numeric feature rejects it,
//! naming the field. The first `warmup` records of a partition are kept as
//! samples and pass on with `status` `WARMUP` and no score. The record that
//! completes the warm-up fits the forest; every later record gets
//! `anomaly_score` and `status` `NORMAL` or `ANOMALY`. An anomaly goes to
//! `next` and, as an alert, to the feedback topic too.
//!
//! # Model, and agreement with scikit-learn
//!
//! The forest is built as sklearn's `IsolationForest` builds it: each tree
//! draws `psi = min(sample_size, warmup)` samples without replacement and
//! grows to depth `ceil(log2(psi))`, splitting on a feature picked
//! uniformly among the non-constant ones at a threshold uniform between
//! that feature's min and max in the node. A record's score is the paper's
//! `s(x, psi) = 2^(-E[h(x)] / c(psi))`, with `h` the depth at which `x` is
//! isolated plus `c(leaf size)`: in (0, 1], anomalous near 1. sklearn's
//! `score_samples` is exactly `-s`. As in sklearn, the threshold is set on
//! the training (warm-up) samples: with contamination `c`, it is the
//! `100 * (1 - c)` percentile (NumPy's linear method) of their scores, and
//! a record is an anomaly when its score is strictly above it (sklearn:
//! `score_samples < offset_`, `offset_` = the `100 * c` percentile of the
//! negated scores); `"auto"` uses 0.5.
//!
//! Deviations: the random numbers come from our own SplitMix64, seeded with
//! `seed` and used tree after tree, because sklearn's (NumPy's Mersenne
//! Twister, plus scikit-learn's own tree RNG) cannot run without their
//! libraries; so for the same seed the trees differ from sklearn's, and
//! scores agree in distribution, not value. Features stay `f64`, where
//! sklearn's trees cast to `f32`. `tests/sensors.rs` compares detection
//! quality (F1) with sklearn's on the stream of `scripts/sklearn-anomaly.py`.
//!
//! # State layout
//!
//! All of it in partition scope, so each partition has its own window and
//! model and only that partition's worker writes it:
//! - `anomaly/features`: the feature list (JSON) the samples were taken for.
//!   When the config names other features, the samples are discarded and the
//!   warm-up starts again.
//! - `anomaly/sample/{i:010}`: warm-up sample `i` (from 0), a JSON array of
//!   numbers in `features` order, written as each record arrives, so a
//!   recycled instance loses none.
//! - `anomaly/count`: the number of samples, written once per batch; a
//!   cached model still warming up compares it to what it holds and reloads
//!   when another instance added samples.
//!
//! The forest itself is not stored: it is a pure function of the first
//! `warmup` samples and (`trees`, `sample_size`, `seed`), so an instance
//! that finds a complete warm-up in state refits the identical forest and
//! scores identically, without a new warm-up. Changing those settings (or
//! `contamination`) refits from the same samples; raising `warmup` resumes
//! the warm-up.
use serde_json::{Map, Value};
use std::collections::HashMap;
use wasp_sdk::{state, BatchInfo, Level, Message, Plugin, PluginInfo, Scope, Verdict};

pub mod config;
pub mod forest;

pub use config::{AnomalyConfig, Contamination};
pub use forest::{Forest, Settings};

/// Partition-scope key: the features the samples were taken for.
pub const FEATURES: &str = "anomaly/features";
/// Partition-scope prefix: one warm-up sample per key.
pub const SAMPLE: &str = "anomaly/sample/";
/// Partition-scope key: the number of samples.
pub const COUNT: &str = "anomaly/count";

/// A fitted model: the forest and its score threshold.
#[derive(Debug, Clone, PartialEq)]
pub struct Fitted {
    /// The forest.
    pub forest: Forest,
    /// Scores strictly above this are anomalies.
    pub threshold: f64,
}

impl Fitted {
    /// Fit on `samples` and set the threshold from their scores.
    pub fn fit(samples: &[Vec<f64>], cfg: &AnomalyConfig) -> Fitted {
        let forest = Forest::fit(samples, cfg.forest);
        let threshold = match cfg.contamination {
            Contamination::Auto => 0.5,
            Contamination::Share(c) => {
                let scores: Vec<f64> = samples.iter().map(|x| forest.score(x)).collect();
                forest::percentile(&scores, 100.0 * (1.0 - c))
            }
        };
        Fitted { forest, threshold }
    }
}

/// One partition's window and model.
#[derive(Debug)]
struct Part {
    samples: Vec<Vec<f64>>,
    stored_count: usize,
    fitted: Option<Fitted>,
}

fn sample_key(i: usize) -> String {
    format!("{SAMPLE}{i:010}")
}

fn stored_count() -> Option<usize> {
    String::from_utf8(state::get(Scope::Partition, COUNT)?).ok()?.parse().ok()
}

impl Part {
    /// The partition's window from state (the host has pointed partition
    /// scope at it for this call).
    fn load(cfg: &AnomalyConfig) -> Part {
        let want = Value::from(cfg.features.clone());
        let have = state::get(Scope::Partition, FEATURES)
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok());
        if have.as_ref() != Some(&want) {
            if let Some(old) = have {
                wasp_sdk::log(
                    Level::Warn,
                    &format!("anomaly: warm-up samples were for features {old}; starting a new warm-up for {want}"),
                );
            }
            for k in state::keys(Scope::Partition, SAMPLE) {
                state::delete(Scope::Partition, &k);
            }
            state::delete(Scope::Partition, COUNT);
            state::set(Scope::Partition, FEATURES, want.to_string().as_bytes());
        }
        let dim = cfg.features.len();
        let mut samples = Vec::new();
        for k in state::keys(Scope::Partition, SAMPLE) {
            let x = state::get(Scope::Partition, &k)
                .and_then(|b| serde_json::from_slice::<Vec<f64>>(&b).ok())
                .filter(|x| x.len() == dim);
            match x {
                // Keys are contiguous from 0 unless state was tampered with;
                // a sample must land at its own index for later writes.
                Some(x) if k == sample_key(samples.len()) => samples.push(x),
                _ => {
                    wasp_sdk::log(Level::Warn, &format!("anomaly: ignoring samples from '{k}' on"));
                    break;
                }
            }
        }
        let mut part = Part { stored_count: samples.len(), samples, fitted: None };
        if stored_count() != Some(part.samples.len()) {
            state::set(Scope::Partition, COUNT, part.samples.len().to_string().as_bytes());
        }
        part.fit_if_ready(cfg);
        part
    }

    fn fit_if_ready(&mut self, cfg: &AnomalyConfig) {
        if self.fitted.is_none() && self.samples.len() >= cfg.warmup {
            self.fitted = Some(Fitted::fit(&self.samples[..cfg.warmup], cfg));
            wasp_sdk::log(
                Level::Info,
                &format!("anomaly: forest fitted on {} samples", cfg.warmup),
            );
        }
    }
}

/// The anomaly plugin.
pub struct AnomalyPlugin {
    cfg: AnomalyConfig,
    parts: HashMap<(String, i32), Part>,
}

fn object(value: Option<&[u8]>) -> Result<Map<String, Value>, String> {
    let bytes = match value {
        Some(b) if !b.is_empty() => b,
        _ => return Err("empty value: expected a JSON object".into()),
    };
    match serde_json::from_slice(bytes) {
        Ok(Value::Object(o)) => Ok(o),
        Ok(_) => Err("value is not a JSON object".into()),
        Err(e) => Err(format!("value is not valid JSON: {e}")),
    }
}

fn truthy(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => n.as_f64().map(|x| x != 0.0),
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" => Some(true),
            "0" | "false" | "no" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

impl AnomalyPlugin {
    /// Build the plugin from its config JSON. Partition state is read on
    /// the first batch of each partition, when the host has set the scope.
    pub fn new(config: &str) -> Result<Self, String> {
        let cfg = AnomalyConfig::parse(config)?;
        wasp_sdk::log(
            Level::Info,
            &format!(
                "anomaly: isolation forest of {} trees after {} warm-up samples",
                cfg.forest.trees, cfg.warmup
            ),
        );
        Ok(AnomalyPlugin { cfg, parts: HashMap::new() })
    }

    /// The model of a partition this instance has seen, if fitted.
    pub fn model(&self, topic: &str, partition: i32) -> Option<&Fitted> {
        self.parts.get(&(topic.to_owned(), partition))?.fitted.as_ref()
    }

    fn one(cfg: &AnomalyConfig, part: &mut Part, record: &Message) -> Verdict {
        let mut obj = match object(record.value.as_deref()) {
            Ok(o) => o,
            Err(e) => return Verdict::Reject(e),
        };
        let mut x = Vec::with_capacity(cfg.features.len());
        for f in &cfg.features {
            match obj.get(f) {
                None | Some(Value::Null) => {
                    return Verdict::Reject(format!("missing feature '{f}'"))
                }
                Some(v) => match v.as_f64() {
                    Some(n) => x.push(n),
                    None => return Verdict::Reject(format!("feature '{f}' is not a number: {v}")),
                },
            }
        }
        let Some(fitted) = &part.fitted else {
            state::set(
                Scope::Partition,
                &sample_key(part.samples.len()),
                &serde_json::to_vec(&x).expect("numbers always serialise"),
            );
            part.samples.push(x);
            part.fit_if_ready(cfg);
            obj.insert(cfg.status_field.clone(), Value::from("WARMUP"));
            return Verdict::Value(
                serde_json::to_vec(&obj).expect("a JSON value always serialises"),
            );
        };
        let score = fitted.forest.score(&x);
        let anomaly = score > fitted.threshold;
        if let Some(truth) = cfg.label_field.as_ref().and_then(|f| obj.get(f)).and_then(truthy) {
            let name = match (anomaly, truth) {
                (true, true) => "anomaly_true_positives",
                (true, false) => "anomaly_false_positives",
                (false, true) => "anomaly_false_negatives",
                (false, false) => "anomaly_true_negatives",
            };
            wasp_sdk::counter_add(name, 1);
        }
        obj.insert(
            cfg.status_field.clone(),
            Value::from(if anomaly { "ANOMALY" } else { "NORMAL" }),
        );
        obj.insert(cfg.score_field.clone(), Value::from(score));
        let value = serde_json::to_vec(&obj).expect("a JSON value always serialises");
        if anomaly {
            wasp_sdk::counter_add("anomalies", 1);
            let alert = wasp_sdk::feedback(value.clone());
            Verdict::Emit(vec![wasp_sdk::output(value), alert])
        } else {
            Verdict::Value(value)
        }
    }
}

impl Plugin for AnomalyPlugin {
    fn info() -> PluginInfo {
        PluginInfo {
            name: "anomaly".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description:
                "Isolation Forest anomaly detector; anomalies also go to the feedback topic".into(),
        }
    }

    fn init(config: &str) -> Result<Self, String> {
        AnomalyPlugin::new(config)
    }

    fn process(&mut self, info: &BatchInfo, record: Message) -> Verdict {
        let mut v = self.process_batch(info, vec![record]);
        v.pop().expect("one verdict per record")
    }

    fn process_batch(&mut self, info: &BatchInfo, batch: Vec<Message>) -> Vec<Verdict> {
        let cfg = &self.cfg;
        let key = (info.topic.clone(), info.partition);
        let stale = match self.parts.get(&key) {
            None => true,
            // Another instance may have owned the partition meanwhile; a
            // fitted model cannot change, a warm-up can.
            Some(p) => p.fitted.is_none() && stored_count() != Some(p.stored_count),
        };
        if stale {
            self.parts.insert(key.clone(), Part::load(cfg));
        }
        let part = self.parts.get_mut(&key).expect("just loaded");
        let verdicts = batch.iter().map(|m| Self::one(cfg, part, m)).collect();
        if part.samples.len() != part.stored_count {
            state::set(Scope::Partition, COUNT, part.samples.len().to_string().as_bytes());
            part.stored_count = part.samples.len();
        }
        verdicts
    }
}

wasp_sdk::export_plugin!(AnomalyPlugin);
