//! Where write sets go to be durable, and are read back from: the
//! changelog. [`Memory`] keeps them in the process (tests, and what a
//! changelog must behave like); `super::changelog` keeps them in Kafka.

use super::keys::Part;
use crate::offsets::Hold;
use anyhow::Result;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// An append-only log of encoded write sets per [`Part`].
pub trait Backend: Send + Sync {
    /// Append one encoded write set (record key `key`) to `part`, after
    /// every set appended before it. Must not block on the network: `hold`
    /// is dropped once the set is durable, or failed (`Hold::fail`) if it
    /// never will be.
    fn append(&self, part: &Part, key: String, set: Vec<u8>, hold: Option<Arc<Hold>>);

    /// Every write set of `part` from position `from` (0: the first)
    /// until the last one appended before the call, oldest first, with its
    /// position. Returns where a later read should start to see only what
    /// came after these.
    fn read(
        &self,
        part: &Part,
        from: i64,
        each: &mut dyn FnMut(i64, &[u8]) -> Result<()>,
    ) -> Result<i64>;
}

/// A changelog in memory: durable as soon as appended.
#[derive(Default)]
pub struct Memory {
    parts: Mutex<BTreeMap<Part, Vec<Vec<u8>>>>,
}

impl Memory {
    /// Write sets held for `part`.
    pub fn len(&self, part: &Part) -> usize {
        self.parts.lock().unwrap_or_else(|p| p.into_inner()).get(part).map_or(0, Vec::len)
    }
}

impl Backend for Memory {
    fn append(&self, part: &Part, _key: String, set: Vec<u8>, _hold: Option<Arc<Hold>>) {
        let mut parts = self.parts.lock().unwrap_or_else(|p| p.into_inner());
        parts.entry(part.clone()).or_default().push(set);
    }

    fn read(
        &self,
        part: &Part,
        from: i64,
        each: &mut dyn FnMut(i64, &[u8]) -> Result<()>,
    ) -> Result<i64> {
        let sets = self.parts.lock().unwrap_or_else(|p| p.into_inner()).get(part).cloned();
        let sets = sets.unwrap_or_default();
        for (i, s) in sets.iter().enumerate().skip(usize::try_from(from).unwrap_or(0)) {
            each(i as i64, s)?;
        }
        Ok(sets.len() as i64)
    }
}
