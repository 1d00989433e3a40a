//! The store: one ordered map shared by every worker of the process, the
//! bytes each stage namespace uses of it, and where its writes go besides
//! memory (a [`Backend`] changelog, a snapshot file).
//!
//! Writes are applied under one lock, briefly: encoding a write set for
//! the changelog and a snapshot for the file happen outside it.

use super::backend::Backend;
use super::codec::{self, Map, Writes};
use super::keys::{self, Part};
use super::snapshot;
use crate::offsets::Hold;
use anyhow::Result;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// The map and what each stage namespace uses of it.
#[derive(Default)]
struct Inner {
    map: Map,
    /// Bytes (keys + values) under a namespace prefix, computed on first
    /// use and kept up to date by [`StateStore::set_within`]; a plain
    /// [`StateStore::set`]/[`StateStore::delete`] forgets them all.
    usage: HashMap<String, usize>,
}

impl Inner {
    /// Put or remove one key, keeping every known namespace's usage exact.
    fn write(&mut self, key: String, value: Option<Vec<u8>>) {
        let old = self.map.get(&key).map_or(0, |v| key.len() + v.len());
        let new = value.as_ref().map_or(0, |v| key.len() + v.len());
        for (ns, used) in self.usage.iter_mut() {
            if key.starts_with(ns.as_str()) {
                *used = *used + new - old;
            }
        }
        match value {
            Some(v) => self.map.insert(key, v),
            None => self.map.remove(&key),
        };
    }

    fn usage(&mut self, ns: &str) -> usize {
        if let Some(&u) = self.usage.get(ns) {
            return u;
        }
        let u = self
            .map
            .range(ns.to_string()..)
            .take_while(|(k, _)| k.starts_with(ns))
            .map(|(k, v)| k.len() + v.len())
            .sum();
        self.usage.insert(ns.to_string(), u);
        u
    }
}

/// A `state.set` refused because the stage's state would outgrow its quota
/// (`[stage.limits] state_mib`).
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "state quota of {quota} bytes reached: the stage keeps {used} bytes and this value \
     needs {wanted} more; delete keys the plugin no longer needs, or raise \
     [stage.limits] state_mib"
)]
pub struct StateFull {
    /// Bytes the stage's namespace holds now.
    pub used: usize,
    /// Bytes the refused `set` would have added.
    pub wanted: usize,
    /// The quota.
    pub quota: usize,
}

/// A shared, optionally persistent, ordered key-value store.
#[derive(Clone, Default)]
pub struct StateStore {
    map: Arc<Mutex<Inner>>,
    file: Option<Arc<PathBuf>>,
    dirty: Arc<AtomicBool>,
    backend: Option<Arc<dyn Backend>>,
    /// Where the next read of the stage part's changelog starts.
    stage_read: Arc<AtomicI64>,
}

/// The input a call's writes came from: its partition and the offset after
/// the last of its inputs.
#[derive(Debug, Clone, Copy)]
pub struct Cause<'a> {
    /// Input topic.
    pub topic: &'a str,
    /// Input partition.
    pub partition: i32,
    /// The offset after the call's last input.
    pub next: i64,
}

impl StateStore {
    /// A store that lives only in memory.
    pub fn in_memory() -> Self {
        Self::default()
    }

    /// A store persisted in `path` (created on first flush), loading what is
    /// there.
    pub fn open(path: &Path) -> Result<Self> {
        let map = snapshot::load(path)?;
        Ok(StateStore {
            map: Arc::new(Mutex::new(Inner { map, usage: HashMap::new() })),
            file: Some(Arc::new(path.into())),
            dirty: Arc::default(),
            backend: None,
            stage_read: Arc::default(),
        })
    }

    /// A store in memory whose every write set is also appended to
    /// `backend` (the truth it is restored from).
    pub fn with_backend(backend: Arc<dyn Backend>) -> Self {
        StateStore { backend: Some(backend), ..Self::default() }
    }

    /// The changelog this store writes to, if any.
    pub fn backend(&self) -> Option<&Arc<dyn Backend>> {
        self.backend.as_ref()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the map half-written
        // (every operation is a single map call), so poisoning is ignored.
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Value under the full key.
    pub fn get(&self, key: &str) -> Option<Vec<u8>> {
        self.lock().map.get(key).cloned()
    }

    /// Store a value under the full key.
    pub fn set(&self, key: String, value: Vec<u8>) {
        let logged = self.encode_one(&key, Some(&value));
        let mut inner = self.lock();
        inner.usage.clear();
        inner.map.insert(key, value);
        self.append(logged, None);
        self.dirty.store(true, Ordering::Relaxed);
    }

    /// Store a value under `key`, which starts with the namespace `ns`,
    /// unless that makes the namespace hold more than `quota` bytes (keys +
    /// values). A `set` that does not grow the namespace is always taken,
    /// so a plugin over its quota (after the quota was lowered) can still
    /// shrink its state.
    pub fn set_within(
        &self,
        ns: &str,
        key: String,
        value: Vec<u8>,
        quota: usize,
    ) -> Result<(), StateFull> {
        debug_assert!(key.starts_with(ns));
        let logged = self.encode_one(&key, Some(&value));
        let mut inner = self.lock();
        let used = inner.usage(ns);
        let old = inner.map.get(&key).map_or(0, |v| key.len() + v.len());
        let new = key.len() + value.len();
        let after = used - old + new;
        if after > quota && new > old {
            return Err(StateFull { used, wanted: new - old, quota });
        }
        // `usage(ns)` above made the entry, which `write` keeps exact.
        inner.write(key, Some(value));
        self.append(logged, None);
        self.dirty.store(true, Ordering::Relaxed);
        Ok(())
    }

    /// Remove the full key.
    pub fn delete(&self, key: &str) {
        // Keeps the namespaces that hold the key exact rather than
        // forgetting them: deleting is what a full plugin does.
        let logged = self.encode_one(key, None);
        let mut inner = self.lock();
        inner.write(key.to_string(), None);
        self.append(logged, None);
        self.dirty.store(true, Ordering::Relaxed);
    }

    /// One write, encoded for the changelog (nothing without one).
    fn encode_one(&self, key: &str, value: Option<&Vec<u8>>) -> Vec<(Part, String, Vec<u8>)> {
        if self.backend.is_none() {
            return Vec::new();
        }
        let w = Writes::from([(key.to_string(), value.cloned())]);
        vec![(keys::part_of(key), codec::set_key(&w), codec::encode_set(&w))]
    }

    /// Hand encoded write sets to the changelog, in the order they were
    /// applied (the caller holds the lock).
    fn append(&self, sets: Vec<(Part, String, Vec<u8>)>, hold: Option<&Arc<Hold>>) {
        if let Some(b) = &self.backend {
            for (part, key, set) in sets {
                b.append(&part, key, set, hold.cloned());
            }
        }
    }

    /// Apply one call's writes (`None` deletes) of the stage `stage`
    /// (`pipeline/stage`) all at once, so other workers see all of them or
    /// none, and append them to the changelog, one record per part
    /// (stage-scoped, or one input partition's), each holding `hold`.
    ///
    /// With a `cause`, each part also records the position of the input
    /// partition; a part whose stored position is already at or past
    /// `cause.next` was applied before (its inputs are being replayed after
    /// a crash or a move) and is dropped. Returns the writes dropped so.
    pub(crate) fn commit(
        &self,
        writes: Writes,
        stage: &str,
        cause: Option<Cause<'_>>,
        hold: Option<&Arc<Hold>>,
    ) -> usize {
        if writes.is_empty() {
            return 0;
        }
        let mut parts: BTreeMap<Part, Writes> = BTreeMap::new();
        for (k, v) in writes {
            parts.entry(keys::part_of(&k)).or_default().insert(k, v);
        }
        let mut replayed = 0;
        if let Some(c) = cause {
            parts.retain(|part, w| {
                let at = match part {
                    Part::Stage => keys::position(stage, c.topic, c.partition),
                    Part::Partition(..) => keys::partition_position(stage, c.topic, c.partition),
                };
                let stored = self.get(&at).and_then(|v| keys::decode_position(&v));
                if stored.is_some_and(|s| s >= c.next) {
                    replayed += w.len();
                    return false;
                }
                w.entry(at).or_insert_with(|| Some(keys::encode_position(c.next)));
                true
            });
        }
        let encoded: Vec<(Part, String, Vec<u8>)> = match &self.backend {
            Some(_) => parts
                .iter()
                .map(|(p, w)| (p.clone(), codec::set_key(w), codec::encode_set(w)))
                .collect(),
            None => Vec::new(),
        };
        let mut inner = self.lock();
        for (key, value) in parts.into_values().flatten() {
            inner.write(key, value);
        }
        self.append(encoded, hold);
        self.dirty.store(true, Ordering::Relaxed);
        replayed
    }

    /// Forget every key of `part` (before restoring it).
    pub(crate) fn clear_part(&self, part: &Part) {
        let mut inner = self.lock();
        let stale: Vec<String> =
            inner.map.keys().filter(|k| keys::part_of(k) == *part).cloned().collect();
        for k in stale {
            inner.write(k, None);
        }
        self.dirty.store(true, Ordering::Relaxed);
    }

    /// How far this process has read the stage part's changelog.
    pub(crate) fn stage_read(&self) -> &AtomicI64 {
        &self.stage_read
    }

    /// Set the position under `key` to `at` unless it holds a later one.
    pub(crate) fn raise_position(&self, key: String, at: i64) {
        let mut inner = self.lock();
        let stored = inner.map.get(&key).and_then(|v| keys::decode_position(v));
        if stored.is_none_or(|s| s < at) {
            inner.write(key, Some(keys::encode_position(at)));
            self.dirty.store(true, Ordering::Relaxed);
        }
    }

    /// Apply one restored write set, all at once, without logging it again.
    pub(crate) fn apply_restored(&self, writes: Vec<(String, Option<Vec<u8>>)>) {
        let mut inner = self.lock();
        for (key, value) in writes {
            inner.write(key, value);
        }
        self.dirty.store(true, Ordering::Relaxed);
    }

    /// Bytes of the key and value stored under the full key, 0 if none.
    pub(super) fn size_of(&self, key: &str) -> usize {
        self.lock().map.get(key).map_or(0, |v| key.len() + v.len())
    }

    /// Bytes (keys + values) held under the namespace `ns`.
    pub fn used(&self, ns: &str) -> usize {
        self.lock().usage(ns)
    }

    /// Full keys starting with `prefix`, ascending.
    pub fn keys(&self, prefix: &str) -> Vec<String> {
        self.lock()
            .map
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Write the store to its file atomically (temp file + rename) if it
    /// changed since the last flush. A no-op for an in-memory store.
    pub fn flush(&self) -> Result<()> {
        let Some(path) = &self.file else { return Ok(()) };
        if !self.dirty.swap(false, Ordering::Relaxed) {
            return Ok(());
        }
        // A copy under the lock, encoded without it: workers keep writing.
        let map = self.lock().map.clone();
        snapshot::save(path, &map)
    }
}
