//! Restoring a part of the store from its changelog: the stage part when a
//! process starts, an input partition's part when the partition is
//! assigned, before any of its records is processed.

use super::codec;
use super::keys::Part;
use super::store::StateStore;
use anyhow::{Context, Result};
use std::time::{Duration, Instant};

/// What a restore read.
#[derive(Debug, Default, Clone, Copy)]
pub struct Restored {
    /// Write sets applied.
    pub sets: u64,
    /// Their encoded bytes.
    pub bytes: u64,
    /// How long it took.
    pub took: Duration,
}

/// Replace `part` of `store` by its changelog's content. Sets are applied
/// one at a time as they are read, so memory holds the state, never the
/// whole log. A store without a changelog is left as it is.
pub fn restore(store: &StateStore, part: &Part) -> Result<Restored> {
    let started = Instant::now();
    let Some(backend) = store.backend() else { return Ok(Restored::default()) };
    store.clear_part(part);
    let mut done = Restored::default();
    backend
        .read(part, &mut |raw| {
            let writes = codec::decode_set(raw)?;
            store.apply_restored(writes);
            done.sets += 1;
            done.bytes += raw.len() as u64;
            Ok(())
        })
        .with_context(|| format!("restoring the {part} state from its changelog"))?;
    done.took = started.elapsed();
    Ok(done)
}
