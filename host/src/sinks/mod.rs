//! Where routed records go: Kafka topics, database tables, or the JSON
//! lines `wasp test` prints.
//!
//! One path for all of them: the [`route`] step turns a batch's outcomes
//! into [`Outgoing`] records, each naming its destination (the router
//! decides, and checks the allow-list); the [`Dispatcher`] hands each
//! record to the [`Sink`] of its kind of destination; each sink settles
//! every record it was given through the batch's [`BatchAcks`] —
//! delivered, refused (its input is dead-lettered, once, through the
//! dead-letter topic's sink) or lost (its input is never committed) — now
//! or later. A batch's inputs are acknowledged to the partition's offset
//! tracker when the last of its records is settled, whichever sinks they
//! went to. `wasp run` uses the Kafka sink (`kafka::sink`) and, for
//! `[tables.NAME]`, the [`tables`] sink; `wasp test` uses the [`lines`] sink
//! for both.

pub mod dispatch;
pub mod health;
pub mod lines;
pub mod postgres;
pub mod route;
pub mod settle;
pub mod tables;

pub use dispatch::Dispatcher;
pub use route::Outgoing;
pub use settle::BatchAcks;

use std::sync::Arc;
use std::time::Instant;

/// A writer for one kind of destination.
pub trait Sink: Send + Sync {
    /// Deliver `records`, all bound for this sink, in order. Every record
    /// must be settled through `acks` exactly once, before this returns or
    /// later (a delivery report): [`BatchAcks::delivered`],
    /// [`BatchAcks::refused`] or [`BatchAcks::lost`].
    fn deliver(&self, acks: &Arc<BatchAcks>, records: Vec<Outgoing<'_>>);

    /// The run is ending: stop waiting for a destination that is down.
    fn stop_retrying(&self) {}

    /// Wait up to `deadline` for deliveries still in flight; false if some
    /// are still outstanding.
    fn flush(&self, _deadline: Instant) -> bool {
        true
    }
}
