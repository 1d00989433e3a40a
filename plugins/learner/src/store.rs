//! The samples and the fitted model in the host's state store (layout in
//! the crate docs), so a restart, a hot reload or a recycled instance keeps
//! both, and instances of other partitions pick the model up.
use crate::config::LearnerConfig;
use crate::model::{Fitted, Spec};
use crate::sample::Sample;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use wasp_sdk::{state, BatchInfo, Level, Scope};

/// Stage-scope key: `{"format":1,"features":[..],"target":..,"task":..}`,
/// what the stored samples are samples of.
pub const META: &str = "learner/meta";
/// Stage-scope prefix: one training sample per key ([`Sample::encode`]).
pub const SAMPLES: &str = "learner/sample/";
/// Stage-scope key: the current model ([`ModelDoc`], postcard).
pub const MODEL: &str = "learner/model";
/// Stage-scope key: the current model's version as decimal text, read once
/// per batch to notice a new model.
pub const MODEL_VERSION: &str = "learner/model-version";

const FORMAT: u64 = 1;

/// A fitted model with what the status event says about it.
#[derive(Debug, Serialize, Deserialize)]
pub struct ModelDoc {
    /// 1 for the first fit, then one more per fit.
    pub version: u64,
    /// Samples in the store when it was fitted (trained on + held out).
    pub samples: u64,
    /// Samples it was fitted on.
    pub trained_on: u64,
    /// Samples held out to measure `quality`.
    pub held_out: u64,
    /// R² or accuracy on the held-out samples.
    pub quality: Option<f64>,
    /// Milliseconds the fit took, when the stage has a real clock.
    pub fit_ms: Option<f64>,
    /// The spec it was fitted with; another spec makes it stale.
    pub spec: Spec,
    /// The model.
    pub fitted: Fitted,
}

impl ModelDoc {
    /// The stored model, if there is one for `spec`.
    pub fn load(spec: &Spec) -> Option<ModelDoc> {
        let bytes = state::get(Scope::Stage, MODEL)?;
        match postcard::from_bytes::<ModelDoc>(&bytes) {
            Ok(doc) if doc.spec == *spec => Some(doc),
            Ok(doc) => {
                wasp_sdk::log(
                    Level::Info,
                    &format!(
                        "learner: stored model v{} was fitted with other settings; \
                         the next training sample fits one for these",
                        doc.version
                    ),
                );
                None
            }
            Err(e) => {
                wasp_sdk::log(
                    Level::Warn,
                    &format!("learner: stored model unreadable ({e}); refitting"),
                );
                None
            }
        }
    }

    /// Store the model, then its version (so a reader that sees the new
    /// version finds the new model).
    pub fn save(&self) {
        let bytes = postcard::to_allocvec(self).expect("a model document always serialises");
        state::set(Scope::Stage, MODEL, &bytes);
        state::set(Scope::Stage, MODEL_VERSION, self.version.to_string().as_bytes());
    }
}

/// The stored model version, 0 when none was ever fitted.
pub fn stored_version() -> u64 {
    state::get(Scope::Stage, MODEL_VERSION)
        .and_then(|b| String::from_utf8(b).ok()?.parse().ok())
        .unwrap_or(0)
}

/// Make the store hold samples of `cfg`'s features, target and task: when
/// it holds samples of others, they and the model are useless and go.
/// Returns how many samples it holds.
pub fn open(cfg: &LearnerConfig) -> usize {
    let meta = json!({
        "format": FORMAT,
        "features": cfg.features,
        "target": cfg.target,
        "task": format!("{:?}", cfg.spec.task),
    });
    let stored: Option<Value> =
        state::get(Scope::Stage, META).and_then(|b| serde_json::from_slice(&b).ok());
    if stored.as_ref() != Some(&meta) {
        let old = state::keys(Scope::Stage, SAMPLES);
        if stored.is_some() || !old.is_empty() {
            wasp_sdk::log(
                Level::Warn,
                &format!(
                    "learner: the state holds {} samples for {}; starting over for {meta}",
                    old.len(),
                    stored.unwrap_or(Value::Null)
                ),
            );
        }
        for k in old {
            state::delete(Scope::Stage, &k);
        }
        state::delete(Scope::Stage, MODEL);
        state::set(Scope::Stage, META, meta.to_string().as_bytes());
    }
    state::keys(Scope::Stage, SAMPLES).len()
}

/// The key of the sample from a training-topic record: ordered by the
/// record's timestamp, unique per record, so a redelivered record is
/// learned once and samples are fitted in the same order everywhere.
pub fn sample_key(info: &BatchInfo, offset: i64, timestamp: Option<i64>) -> String {
    let ts = timestamp.unwrap_or(0).max(0);
    format!("{SAMPLES}{ts:016}-{}-{:05}-{:020}", info.topic, info.partition, offset.max(0))
}

/// Store `sample` under `key`; `false` when the key is there already.
pub fn add(key: &str, sample: &Sample) -> bool {
    if state::get(Scope::Stage, key).is_some() {
        return false;
    }
    state::set(Scope::Stage, key, &sample.encode());
    true
}

/// Every stored sample, in key order; unreadable ones are skipped with a
/// warning.
pub fn all(dim: usize) -> Vec<Sample> {
    let keys = state::keys(Scope::Stage, SAMPLES);
    let mut out = Vec::with_capacity(keys.len());
    for k in keys {
        match state::get(Scope::Stage, &k).and_then(|b| Sample::decode(&b, dim)) {
            Some(s) => out.push(s),
            None => {
                wasp_sdk::log(Level::Warn, &format!("learner: skipping unreadable sample '{k}'"))
            }
        }
    }
    out
}
