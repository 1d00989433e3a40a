//! Restoring a part of the store from its changelog: the stage part when a
//! process starts, an input partition's part when the partition is
//! assigned, before any of its records is processed. At that moment the
//! stage positions of the partition are also caught up from the stage
//! log's tail, so records the previous owner already applied (to the
//! stage-scoped state in Kafka) are not applied again when replayed.

use super::codec;
use super::keys::{self, Part};
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
    let next = backend
        .read(part, 0, &mut |_, raw| {
            let writes = codec::decode_set(raw)?;
            store.apply_restored(writes);
            done.sets += 1;
            done.bytes += raw.len() as u64;
            Ok(())
        })
        .with_context(|| format!("restoring the {part} state from its changelog"))?;
    if *part == Part::Stage {
        store.stage_read().store(next, std::sync::atomic::Ordering::Release);
    }
    done.took = started.elapsed();
    Ok(done)
}

/// Restore the state of input partition `topic`/`partition` when it is
/// assigned: its partition-scoped part, and its stage positions from what
/// the stage log gained since this process last read it (other processes
/// that owned the partition meanwhile). Only positions are taken from that
/// tail: stage-scoped values written elsewhere reach this process through
/// its follower (`super::follow`), which may lag behind this read.
pub fn restore_partition(store: &StateStore, topic: &str, partition: i32) -> Result<Restored> {
    let mut done = restore(store, &Part::Partition(topic.to_string(), partition))?;
    let Some(backend) = store.backend() else { return Ok(done) };
    let started = Instant::now();
    let suffix = format!(":pos/{topic}/{partition}");
    let mark = store.stage_read();
    let from = mark.load(std::sync::atomic::Ordering::Acquire);
    let next = backend
        .read(&Part::Stage, from, &mut |_, raw| {
            let positions = codec::decode_set(raw)?.into_iter().filter_map(|(k, v)| {
                let at = keys::decode_position(v.as_deref()?)?;
                k.ends_with(&suffix).then_some((k, at))
            });
            for (k, at) in positions {
                store.raise_position(k, at);
            }
            done.bytes += raw.len() as u64;
            Ok(())
        })
        .with_context(|| format!("reading the stage positions of {topic}/{partition}"))?;
    mark.fetch_max(next, std::sync::atomic::Ordering::AcqRel);
    done.took += started.elapsed();
    Ok(done)
}
