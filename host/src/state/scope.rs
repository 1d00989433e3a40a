//! The namespace one plugin instance sees, and the write set of its call
//! in progress.

use super::keys;
use super::store::{Cause, StateFull, StateStore};
use crate::offsets::Hold;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The namespace one plugin instance sees: (pipeline, stage) plus the
/// partition it is processing for `scope::partition` keys.
///
/// Between [`StateScope::begin`] and [`StateScope::commit`] (one plugin
/// call) writes are held back: the call reads its own writes, nobody else
/// sees them, and a call that fails ([`StateScope::discard`]) leaves the
/// store as it was. So a trapped batch retried record by record does not
/// apply its writes twice, and validating a new plugin version (its
/// `init`) changes nothing until the version is accepted.
///
/// In a Kafka run ([`StateScope::set_batch`]) each call's write set also
/// records how far into its input partition it goes, and a call whose
/// inputs are already covered by the state (replayed after a crash or a
/// partition move) has its writes dropped (`StateStore::commit`).
#[derive(Clone)]
pub struct StateScope {
    store: StateStore,
    /// `pipeline/stage`, the stage's name in keys.
    stage: String,
    base: String,
    stage_prefix: String,
    partition_prefix: String,
    /// The input partition `scope::partition` keys refer to.
    partition: Option<(String, i32)>,
    /// The Kafka batch in progress: positions are recorded and the
    /// changelog writes hold the batch's inputs uncommitted.
    batch: Option<Arc<Hold>>,
    /// The offset after the last input of the call in progress.
    next: Option<i64>,
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
        let stage = keys::stage_name(pipeline, stage);
        let base = format!("{stage}/");
        let stage_prefix = format!("{base}stage/");
        let partition_prefix = format!("{base}partition/");
        StateScope {
            store,
            stage,
            base,
            stage_prefix,
            partition_prefix,
            partition: None,
            batch: None,
            next: None,
            pending: None,
        }
    }

    /// Set the topic and partition that `scope::partition` keys refer to.
    pub fn set_partition(&mut self, topic: &str, partition: i32) {
        self.partition_prefix = keys::partition_prefix(&self.stage, topic, partition);
        self.partition = Some((topic.to_string(), partition));
    }

    /// Enter (`Some`) or leave a Kafka batch of the partition: while in it,
    /// calls record their input position and their changelog writes keep
    /// `hold` (the batch's inputs) uncommitted until they are durable.
    pub fn set_batch(&mut self, hold: Option<Arc<Hold>>) {
        self.batch = hold;
    }

    /// Positions stored for this scope's partition (the stage-scoped and
    /// the partition-scoped one): a call must not straddle one, so that
    /// its writes are either all replayed or all new.
    pub fn replay_bounds(&self) -> Vec<i64> {
        let Some((topic, partition)) = &self.partition else { return Vec::new() };
        [
            keys::position(&self.stage, topic, *partition),
            keys::partition_position(&self.stage, topic, *partition),
        ]
        .iter()
        .filter_map(|k| self.store.get(k).and_then(|v| keys::decode_position(&v)))
        .collect()
    }

    /// Record, in the call's write set, that this stage's state now
    /// includes everything of `topic`/`partition` before `next_offset`: it
    /// is applied and made durable with the call's other writes, all or
    /// nothing, and read back by [`StateScope::position`] (also after a
    /// restore, on any process). Outside a call it is a write set of its
    /// own.
    pub fn record_position(&mut self, topic: &str, partition: i32, next_offset: i64) {
        let key = keys::position(&self.stage, topic, partition);
        let value = Some(keys::encode_position(next_offset));
        match self.pending.as_mut() {
            Some(p) => {
                p.writes.insert(key, value);
            }
            None => {
                let hold = self.batch.clone();
                self.store.commit(BTreeMap::from([(key, value)]), &self.stage, None, hold.as_ref());
            }
        }
    }

    /// The position last recorded for `topic`/`partition` (this call's
    /// own first), if any.
    pub fn position(&self, topic: &str, partition: i32) -> Option<i64> {
        let key = keys::position(&self.stage, topic, partition);
        let value = match self.pending.as_ref().and_then(|p| p.writes.get(&key)) {
            Some(v) => v.clone(),
            None => self.store.get(&key),
        };
        keys::decode_position(&value?)
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
        self.begin_inputs(None);
    }

    /// [`StateScope::begin`] a call on inputs of this scope's partition
    /// that end before `next` (their highest offset + 1).
    pub fn begin_inputs(&mut self, next: Option<i64>) {
        self.next = next;
        self.pending = Some(Pending::default());
    }

    /// Make the held-back writes visible to everyone, all at once, and
    /// durable in the changelog if there is one. Returns the writes dropped
    /// because their inputs are replayed.
    pub fn commit(&mut self) -> usize {
        let Some(p) = self.pending.take() else { return 0 };
        let cause = match (&self.partition, self.next.take(), &self.batch) {
            (Some((topic, partition)), Some(next), Some(_)) => {
                Some(Cause { topic, partition: *partition, next })
            }
            _ => None,
        };
        self.store.commit(p.writes, &self.stage, cause, self.batch.as_ref())
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
