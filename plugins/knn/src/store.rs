//! The training set and the recently-seen records, kept in the host's state
//! store (layout in the crate docs) with an in-memory copy for speed.
use crate::config::KnnConfig;
use crate::model::{Label, Row};
use serde_json::{json, Value};
use wasp_sdk::{state, BatchInfo, Level, Scope};

/// Stage-scope key: `{"version":1,"features":[...]}`, written after the seed.
pub const META: &str = "knn/meta";
/// Stage-scope key: the seed training set, `{"x":[[..],..],"y":[..]}`.
pub const BASE: &str = "knn/base";
/// Stage-scope prefix: one learned row per key, `{"x":[..],"y":label}`.
pub const LEARNED: &str = "knn/learned/";
/// Stage-scope key: the name of the last learned row written; a change
/// tells other instances to rescan [`LEARNED`].
pub const LEARNED_TAG: &str = "knn/learned-tag";
/// Stage-scope prefix: `knn/seen/{id}` → `{"o":owner,"s":seq,"x":[..]}`.
pub const SEEN: &str = "knn/seen/";
/// Partition-scope key: the next sequence number of the seen-id ring.
pub const SEEN_NEXT: &str = "knn/seen-next";
/// Partition-scope prefix: `knn/seen-slot/{seq % remember}` → the id.
pub const SEEN_SLOT: &str = "knn/seen-slot/";

const VERSION: u64 = 1;

fn get_json(scope: Scope, key: &str) -> Option<Value> {
    state::get(scope, key).and_then(|b| serde_json::from_slice(&b).ok())
}

fn set_json(scope: Scope, key: &str, v: &Value) {
    state::set(scope, key, &serde_json::to_vec(v).expect("a JSON value always serialises"));
}

/// The training set: seed rows, then learned rows in key order.
#[derive(Debug)]
pub struct Training {
    dim: usize,
    base_len: usize,
    rows: Vec<Row>,
    /// Sorted keys of the learned rows, parallel to `rows[base_len..]`.
    learned: Vec<String>,
    /// [`LEARNED_TAG`] as of the last scan.
    tag: Option<Vec<u8>>,
}

impl Training {
    /// The training set in the state store if it was made for these
    /// features; otherwise seed the store from the config.
    pub fn load_or_seed(cfg: &KnnConfig) -> Result<Training, String> {
        let dim = cfg.features.len();
        let meta = get_json(Scope::Stage, META);
        let same_features = meta.as_ref().and_then(|m| m.get("features"))
            == Some(&Value::from(cfg.features.clone()));
        let stored = same_features.then(|| get_json(Scope::Stage, BASE)).flatten().and_then(|b| {
            let xs = b.get("x")?.as_array()?;
            let ys = b.get("y")?.as_array()?;
            if xs.len() != ys.len() {
                return None;
            }
            xs.iter()
                .zip(ys)
                .map(|(x, y)| Row::from_json(&json!({"x": x, "y": y})).filter(|r| r.x.len() == dim))
                .collect::<Option<Vec<Row>>>()
        });
        let base = match stored {
            Some(rows) => rows,
            None => {
                if let Some(m) = &meta {
                    // Rows of other features cannot be used with these; the
                    // learned rows and remembered records go with them.
                    wasp_sdk::log(
                        Level::Warn,
                        &format!(
                            "knn: state holds a training set for features {}; starting over \
                             from the config for {:?}",
                            m.get("features").unwrap_or(&Value::Null),
                            cfg.features
                        ),
                    );
                    for prefix in [LEARNED, SEEN] {
                        for k in state::keys(Scope::Stage, prefix) {
                            state::delete(Scope::Stage, &k);
                        }
                    }
                    state::delete(Scope::Stage, LEARNED_TAG);
                }
                if cfg.seed.is_empty() {
                    return Err("no training data: the state store holds none for these \
                                features; set 'builtin', 'training' or 'training_csv'"
                        .into());
                }
                let xs: Vec<Value> = cfg.seed.iter().map(|r| Value::from(r.x.clone())).collect();
                let ys: Vec<Value> = cfg.seed.iter().map(|r| r.y.to_json()).collect();
                set_json(Scope::Stage, BASE, &json!({"x": xs, "y": ys}));
                // Written last: a seed cut short is redone by the next init.
                set_json(
                    Scope::Stage,
                    META,
                    &json!({"version": VERSION, "features": cfg.features}),
                );
                cfg.seed.clone()
            }
        };
        let mut t =
            Training { dim, base_len: base.len(), rows: base, learned: Vec::new(), tag: None };
        t.rescan();
        Ok(t)
    }

    /// Every row, in training order.
    pub fn rows(&self) -> &[Row] {
        &self.rows
    }

    /// How many rows were learned on top of the seed.
    pub fn learned_len(&self) -> usize {
        self.learned.len()
    }

    /// Pick up rows other instances learned. One `get` when nothing changed.
    pub fn refresh(&mut self) {
        if state::get(Scope::Stage, LEARNED_TAG) != self.tag {
            self.rescan();
        }
    }

    fn rescan(&mut self) {
        // Read the tag before listing: a row written after the listing also
        // rewrites the tag, so the next refresh sees a change.
        self.tag = state::get(Scope::Stage, LEARNED_TAG);
        let keys = state::keys(Scope::Stage, LEARNED);
        let mut rows = Vec::with_capacity(keys.len());
        let mut learned = Vec::with_capacity(keys.len());
        for key in keys {
            let row = match self.learned.binary_search(&key) {
                Ok(i) => Some(self.rows[self.base_len + i].clone()),
                Err(_) => get_json(Scope::Stage, &key).and_then(|v| Row::from_json(&v)),
            };
            match row.filter(|r| r.x.len() == self.dim) {
                Some(r) => {
                    rows.push(r);
                    learned.push(key);
                }
                None => wasp_sdk::log(Level::Warn, &format!("knn: ignoring malformed row '{key}'")),
            }
        }
        self.rows.truncate(self.base_len);
        self.rows.extend(rows);
        self.learned = learned;
    }

    /// Add a row under `key` to the store, then to memory. `false` when the
    /// key is already there: a redelivered correction is learned once.
    pub fn learn(&mut self, key: String, row: Row) -> bool {
        if state::get(Scope::Stage, &key).is_some() {
            return false;
        }
        set_json(Scope::Stage, &key, &row.to_json());
        state::set(Scope::Stage, LEARNED_TAG, key.as_bytes());
        // The cached tag stays stale on purpose: another instance may have
        // learned a row between our last scan and this write, and the next
        // refresh must rescan to find it.
        let at = self.learned.binary_search(&key).unwrap_or_else(|i| i);
        self.learned.insert(at, key);
        self.rows.insert(self.base_len + at, row);
        true
    }
}

/// The key of a row learned from a correction: ordered by the correction's
/// timestamp, unique per corrections-topic record, so a redelivery maps to
/// the same key.
pub fn learned_key(info: &BatchInfo, offset: i64, timestamp: Option<i64>) -> String {
    let ts = timestamp.unwrap_or(0).max(0);
    format!("{LEARNED}{ts:016}-{}-{:05}-{:020}", info.topic, info.partition, offset.max(0))
}

/// The ring of recently seen record ids of one input partition.
pub struct SeenLog {
    owner: String,
    cap: u64,
    next: u64,
    loaded: u64,
}

impl SeenLog {
    /// The ring for the partition of `info`; `cap` ids are kept.
    pub fn load(info: &BatchInfo, cap: u64) -> SeenLog {
        let next = state::get(Scope::Partition, SEEN_NEXT)
            .and_then(|b| String::from_utf8(b).ok()?.parse().ok())
            .unwrap_or(0);
        SeenLog { owner: format!("{}/{}", info.topic, info.partition), cap, next, loaded: next }
    }

    /// Remember the features of record `id`, forgetting the id that was
    /// remembered `cap` records ago in this partition.
    pub fn remember(&mut self, id: &str, x: &[f64]) {
        if self.cap == 0 {
            return;
        }
        let seq = self.next;
        let slot = format!("{SEEN_SLOT}{}", seq % self.cap);
        if seq >= self.cap {
            if let Some(old) = state::get(Scope::Partition, &slot) {
                let old_key = format!("{SEEN}{}", String::from_utf8_lossy(&old));
                // Only if that entry is still the one this slot wrote: the id
                // may have been seen again since, here or in another partition.
                let entry = get_json(Scope::Stage, &old_key);
                let ours = entry.as_ref().is_some_and(|e| {
                    e.get("o").and_then(Value::as_str) == Some(self.owner.as_str())
                        && e.get("s").and_then(Value::as_u64) == Some(seq - self.cap)
                });
                if ours {
                    state::delete(Scope::Stage, &old_key);
                }
            }
        }
        set_json(Scope::Stage, &format!("{SEEN}{id}"), &json!({"o": self.owner, "s": seq, "x": x}));
        state::set(Scope::Partition, &slot, id.as_bytes());
        self.next += 1;
    }

    /// Persist the ring position; once per batch.
    pub fn save(&self) {
        if self.next != self.loaded {
            state::set(Scope::Partition, SEEN_NEXT, self.next.to_string().as_bytes());
        }
    }
}

/// The features remembered for record `id`, if still remembered and of the
/// expected length.
pub fn seen_features(id: &str, dim: usize) -> Option<Vec<f64>> {
    let v = get_json(Scope::Stage, &format!("{SEEN}{id}"))?;
    let x: Vec<f64> = v.get("x")?.as_array()?.iter().map(Value::as_f64).collect::<Option<_>>()?;
    (x.len() == dim).then_some(x)
}

/// A record id as a string: JSON strings as they are, numbers as written.
pub fn id_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A label field of a record: absent or null is "no label".
pub fn label_of(
    obj: &serde_json::Map<String, Value>,
    field: &str,
) -> Result<Option<Label>, String> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => Label::from_json(v)
            .map(Some)
            .ok_or_else(|| format!("field '{field}' must be a string or number label, got {v}")),
    }
}
