//! The host-owned key-value store behind the `state` import.
//!
//! Plugins keep models and windows here rather than in guest globals, so
//! that a recycled instance, a hot reload or a restart finds them again.
//! Keys are namespaced by (pipeline, stage, scope) by [`StateScope`]; the
//! store itself is one ordered map shared by every worker of the process.
//! With a file path it is persisted on [`StateStore::flush`].

use anyhow::{Context, Result};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

type Map = BTreeMap<String, Vec<u8>>;

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
}

impl StateStore {
    /// A store that lives only in memory.
    pub fn in_memory() -> Self {
        Self::default()
    }

    /// A store persisted in `path` (created on first flush), loading what is
    /// there.
    pub fn open(path: &Path) -> Result<Self> {
        let map = match std::fs::read(path) {
            Ok(bytes) => {
                serde_json::from_slice::<BTreeMap<String, Vec<u8>>>(&bytes).with_context(|| {
                    format!(
                        "state file {} is corrupt: move it away to start with empty state",
                        path.display()
                    )
                })?
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Map::new(),
            Err(e) => return Err(e).with_context(|| format!("reading state {}", path.display())),
        };
        Ok(StateStore {
            map: Arc::new(Mutex::new(Inner { map, usage: HashMap::new() })),
            file: Some(Arc::new(path.into())),
            dirty: Arc::default(),
        })
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
        let mut inner = self.lock();
        inner.usage.clear();
        inner.map.insert(key, value);
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
        self.dirty.store(true, Ordering::Relaxed);
        Ok(())
    }

    /// Remove the full key.
    pub fn delete(&self, key: &str) {
        // Keeps the namespaces that hold the key exact rather than
        // forgetting them: deleting is what a full plugin does.
        self.lock().write(key.to_string(), None);
        self.dirty.store(true, Ordering::Relaxed);
    }

    /// Apply a call's writes (`None` deletes) under one lock, so other
    /// workers see all of them or none.
    fn apply(&self, writes: BTreeMap<String, Option<Vec<u8>>>) {
        if writes.is_empty() {
            return;
        }
        let mut inner = self.lock();
        for (key, value) in writes {
            inner.write(key, value);
        }
        self.dirty.store(true, Ordering::Relaxed);
    }

    /// Bytes of the key and value stored under the full key, 0 if none.
    fn size_of(&self, key: &str) -> usize {
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
        let bytes = serde_json::to_vec(&self.lock().map)?;
        let tmp = path.with_extension("tmp");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, path.as_ref())
            .with_context(|| format!("replacing {}", path.display()))
    }
}

/// The namespace one plugin instance sees: (pipeline, stage) plus the
/// partition it is processing for `scope::partition` keys.
///
/// Between [`StateScope::begin`] and [`StateScope::commit`] (one plugin
/// call) writes are held back: the call reads its own writes, nobody else
/// sees them, and a call that fails ([`StateScope::discard`]) leaves the
/// store as it was. So a trapped batch retried record by record does not
/// apply its writes twice, and validating a new plugin version (its
/// `init`) changes nothing until the version is accepted.
#[derive(Clone)]
pub struct StateScope {
    store: StateStore,
    base: String,
    stage_prefix: String,
    partition_prefix: String,
    pending: Option<Pending>,
}

/// The writes of the call in progress.
#[derive(Clone, Default)]
struct Pending {
    /// Full key → new value, or `None` for a delete.
    writes: BTreeMap<String, Option<Vec<u8>>>,
    /// What the writes add to the stage's bytes (negative: they free).
    delta: isize,
}

impl StateScope {
    /// The view of `store` for a stage of a pipeline.
    pub fn new(store: StateStore, pipeline: &str, stage: &str) -> Self {
        let base = format!("{pipeline}/{stage}/");
        let stage_prefix = format!("{base}stage/");
        let partition_prefix = format!("{base}partition/");
        StateScope { store, base, stage_prefix, partition_prefix, pending: None }
    }

    /// Set the topic and partition that `scope::partition` keys refer to.
    pub fn set_partition(&mut self, topic: &str, partition: i32) {
        self.partition_prefix = format!("{}partition/{topic}/{partition}/", self.base);
    }

    fn prefix(&self, partition_scope: bool) -> &str {
        if partition_scope {
            &self.partition_prefix
        } else {
            &self.stage_prefix
        }
    }

    /// Bytes (keys + values) the stage keeps, every scope of it: what
    /// `[stage.limits] state_mib` bounds.
    pub fn bytes(&self) -> usize {
        self.store.used(&self.base)
    }

    /// Hold back writes until [`StateScope::commit`] or
    /// [`StateScope::discard`].
    pub fn begin(&mut self) {
        self.pending = Some(Pending::default());
    }

    /// Make the held-back writes visible to everyone, all at once.
    pub fn commit(&mut self) {
        if let Some(p) = self.pending.take() {
            self.store.apply(p.writes);
        }
    }

    /// Forget the held-back writes.
    pub fn discard(&mut self) {
        self.pending = None;
    }

    /// Bytes of `full` as this scope sees it (its own pending writes first).
    fn visible_size(&self, full: &str) -> usize {
        match self.pending.as_ref().and_then(|p| p.writes.get(full)) {
            Some(v) => v.as_ref().map_or(0, |v| full.len() + v.len()),
            None => self.store.size_of(full),
        }
    }

    /// Value under a plugin key.
    pub fn get(&self, partition_scope: bool, key: &str) -> Option<Vec<u8>> {
        let full = format!("{}{key}", self.prefix(partition_scope));
        match self.pending.as_ref().and_then(|p| p.writes.get(&full)) {
            Some(v) => v.clone(),
            None => self.store.get(&full),
        }
    }

    /// Store under a plugin key, unless the stage's state (every scope of
    /// it) would then hold more than `quota` bytes.
    pub fn set(
        &mut self,
        partition_scope: bool,
        key: &str,
        value: Vec<u8>,
        quota: usize,
    ) -> Result<(), StateFull> {
        let full = format!("{}{key}", self.prefix(partition_scope));
        if self.pending.is_none() {
            return self.store.set_within(&self.base, full, value, quota);
        }
        let old = self.visible_size(&full);
        let new = full.len() + value.len();
        let stored = self.store.used(&self.base);
        let Some(p) = self.pending.as_mut() else { unreachable!("checked above") };
        let used = usize::try_from(stored as isize + p.delta).unwrap_or(0);
        let after = used - old.min(used) + new;
        if after > quota && new > old {
            return Err(StateFull { used, wanted: new - old, quota });
        }
        p.delta += new as isize - old as isize;
        p.writes.insert(full, Some(value));
        Ok(())
    }

    /// Remove a plugin key.
    pub fn delete(&mut self, partition_scope: bool, key: &str) {
        let full = format!("{}{key}", self.prefix(partition_scope));
        if self.pending.is_none() {
            return self.store.delete(&full);
        }
        let old = self.visible_size(&full);
        let Some(p) = self.pending.as_mut() else { unreachable!("checked above") };
        p.delta -= old as isize;
        p.writes.insert(full, None);
    }

    /// Host-owned key (outside the plugin's `stage/` and `partition/`
    /// spaces) holding the next offset of `topic`/`partition` to learn.
    fn position_key(&self, topic: &str, partition: i32) -> String {
        format!("{}host/pos/{topic}/{partition}", self.base)
    }

    /// Record that every record of `topic`/`partition` before `next_offset`
    /// has been learned. Inside a call it joins the call's held-back
    /// writes, so the position and what the records taught the plugin are
    /// applied (and kept) together or not at all.
    pub fn record_position(&mut self, topic: &str, partition: i32, next_offset: i64) {
        let key = self.position_key(topic, partition);
        let value = next_offset.to_le_bytes().to_vec();
        let old = self.visible_size(&key) as isize;
        match self.pending.as_mut() {
            Some(p) => {
                p.delta += (key.len() + value.len()) as isize - old;
                p.writes.insert(key, Some(value));
            }
            None => self.store.set(key, value),
        }
    }

    /// The next offset of `topic`/`partition` to learn, if any was learned.
    pub fn position(&self, topic: &str, partition: i32) -> Option<i64> {
        let key = self.position_key(topic, partition);
        let bytes = match self.pending.as_ref().and_then(|p| p.writes.get(&key)) {
            Some(v) => v.clone(),
            None => self.store.get(&key),
        }?;
        Some(i64::from_le_bytes(bytes.try_into().ok()?))
    }

    /// Plugin keys starting with `prefix`, without the namespace.
    pub fn keys(&self, partition_scope: bool, prefix: &str) -> Vec<String> {
        let ns = self.prefix(partition_scope);
        let wanted = format!("{ns}{prefix}");
        let mut keys: std::collections::BTreeSet<String> =
            self.store.keys(&wanted).into_iter().collect();
        if let Some(p) = &self.pending {
            let mine = p.writes.range(wanted.clone()..).take_while(|(k, _)| k.starts_with(&wanted));
            for (k, v) in mine {
                if v.is_some() {
                    keys.insert(k.clone());
                } else {
                    keys.remove(k);
                }
            }
        }
        keys.into_iter().map(|k| k[ns.len()..].to_string()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stage_s_bytes_count_its_keys_and_values_in_every_scope_only() {
        let store = StateStore::in_memory();
        let mut a = StateScope::new(store.clone(), "p", "a");
        a.set_partition("t", 0);
        let mut b = StateScope::new(store, "p", "b");
        a.set(false, "model", vec![0; 100], usize::MAX).unwrap();
        a.set(true, "window", vec![0; 10], usize::MAX).unwrap();
        b.set(false, "other", vec![0; 1000], usize::MAX).unwrap();
        let keys = "p/a/stage/model".len() + "p/a/partition/t/0/window".len();
        assert_eq!(a.bytes(), keys + 110);
        a.delete(false, "model");
        assert_eq!(a.bytes(), "p/a/partition/t/0/window".len() + 10);
    }

    #[test]
    fn held_back_writes_are_read_back_by_their_call_and_seen_by_others_only_on_commit() {
        let store = StateStore::in_memory();
        let mut call = StateScope::new(store.clone(), "p", "s");
        let other = StateScope::new(store.clone(), "p", "s");
        call.set(false, "kept", b"1".to_vec(), usize::MAX).unwrap();
        call.begin();
        call.set(false, "new", b"2".to_vec(), usize::MAX).unwrap();
        call.delete(false, "kept");
        assert_eq!(call.get(false, "new"), Some(b"2".to_vec()));
        assert_eq!(call.get(false, "kept"), None);
        assert_eq!(call.keys(false, ""), vec!["new".to_string()]);
        assert_eq!(other.keys(false, ""), vec!["kept".to_string()]);
        call.commit();
        assert_eq!(other.keys(false, ""), vec!["new".to_string()]);
        assert_eq!(other.bytes(), "p/s/stage/new".len() + 1);
    }

    #[test]
    fn discarded_writes_leave_the_store_as_it_was() {
        let store = StateStore::in_memory();
        let mut call = StateScope::new(store.clone(), "p", "s");
        call.set(false, "kept", b"1".to_vec(), usize::MAX).unwrap();
        call.begin();
        call.set(false, "kept", b"changed".to_vec(), usize::MAX).unwrap();
        call.delete(false, "kept");
        call.set(false, "new", b"2".to_vec(), usize::MAX).unwrap();
        call.discard();
        assert_eq!(call.get(false, "kept"), Some(b"1".to_vec()));
        assert_eq!(call.keys(false, ""), vec!["kept".to_string()]);
        assert_eq!(store.keys("p/s/"), vec!["p/s/stage/kept".to_string()]);
    }

    #[test]
    fn the_quota_counts_held_back_writes() {
        let store = StateStore::in_memory();
        let mut call = StateScope::new(store, "p", "s");
        call.begin();
        // "p/s/stage/a" is 11 bytes: 11 + 9 = 20 each.
        call.set(false, "a", vec![0; 9], 40).unwrap();
        call.set(false, "b", vec![0; 9], 40).unwrap();
        let err = call.set(false, "c", vec![0; 9], 40).unwrap_err();
        assert_eq!((err.used, err.wanted), (40, 20), "{err}");
        call.delete(false, "a");
        call.set(false, "c", vec![0; 9], 40).unwrap();
        call.commit();
        assert_eq!(call.bytes(), 40);
    }

    #[test]
    fn scopes_do_not_see_each_other_and_state_survives_reopen() {
        let dir = std::env::temp_dir().join(format!("wasp-state-{}", std::process::id()));
        let path = dir.join("state.json");
        let store = StateStore::open(&path).unwrap();
        let mut a = StateScope::new(store.clone(), "p", "knn");
        let b = StateScope::new(store.clone(), "p", "other");
        a.set(false, "model/1", b"x".to_vec(), usize::MAX).unwrap();
        a.set_partition("t", 3);
        a.set(true, "window", b"w".to_vec(), usize::MAX).unwrap();
        assert_eq!(b.get(false, "model/1"), None);
        assert_eq!(a.keys(false, "model/"), vec!["model/1".to_string()]);
        store.flush().unwrap();
        let again = StateScope::new(StateStore::open(&path).unwrap(), "p", "knn");
        assert_eq!(again.get(false, "model/1"), Some(b"x".to_vec()));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn the_quota_counts_every_scope_of_the_stage_and_deleting_makes_room() {
        let store = StateStore::in_memory();
        let mut a = StateScope::new(store.clone(), "p", "s");
        let mut other = StateScope::new(store.clone(), "p", "t");
        // "p/s/stage/k" is 11 bytes; with a 10-byte value 21.
        a.set(false, "k", vec![0; 10], 60).unwrap();
        a.set_partition("topic", 0);
        a.set(true, "w", vec![0; 10], 60).unwrap(); // "p/s/partition/topic/0/w" = 23 + 10
        let err = a.set(false, "k2", vec![0; 10], 60).unwrap_err();
        assert_eq!((err.used, err.wanted, err.quota), (54, 22, 60), "{err}");
        assert!(err.to_string().contains("state_mib"), "{err}");
        // Other stages have their own quota.
        other.set(false, "k", vec![0; 30], 50).unwrap();
        // Replacing with a smaller value is taken even when over quota.
        a.set(false, "k", vec![0; 5], 10).unwrap();
        a.delete(true, "w");
        a.set(false, "k2", vec![0; 10], 50).unwrap();
        assert_eq!(a.keys(false, ""), vec!["k".to_string(), "k2".to_string()]);
        // A store written around the scope (state loaded from a file, say)
        // is counted again.
        store.set("p/s/stage/big".into(), vec![0; 100]);
        assert!(a.set(false, "k3", vec![0], 100).is_err());
    }

    #[test]
    fn a_learning_position_is_kept_or_lost_with_the_call_s_writes() {
        let store = StateStore::in_memory();
        let mut call = StateScope::new(store.clone(), "p", "s");
        assert_eq!(call.position("fix", 0), None);
        call.begin();
        call.set(false, "row", b"x".to_vec(), usize::MAX).unwrap();
        call.record_position("fix", 0, 8);
        assert_eq!(call.position("fix", 0), Some(8), "the call sees its own position");
        call.discard();
        assert_eq!(call.position("fix", 0), None);
        assert_eq!(call.keys(false, ""), Vec::<String>::new());
        call.begin();
        call.set(false, "row", b"x".to_vec(), usize::MAX).unwrap();
        call.record_position("fix", 0, 8);
        call.commit();
        let other = StateScope::new(store, "p", "s");
        assert_eq!(other.position("fix", 0), Some(8));
        assert_eq!(other.keys(false, ""), vec!["row".to_string()], "not a plugin key");
    }
}
