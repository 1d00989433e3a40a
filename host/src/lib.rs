//! wasp: a WebAssembly plugin stream processor for Kafka.
//!
//! Records flow one way:
//!
//! ```text
//! Source (Kafka consumer, or a JSON-lines file)
//!   └─ Worker, one per partition: batches in partition order
//!        └─ Pipeline: stages of plugin instances; stage i's `next` outputs feed stage i+1
//!        └─ Router: output | feedback | allow-listed topic | dead-letter
//!   └─ Sink (Kafka producer) and OffsetTracker (commit after delivery)
//! ```
//!
//! [`runtime`] holds the Wasm engine; [`pipeline`] runs a batch through the
//! stages; [`router`] decides topics; [`config`] reads pipeline files.
#![deny(missing_docs)]

pub mod cli;
pub mod config;
pub mod error;
pub mod evaluate;
pub mod filerun;
pub mod kafka;
pub mod metrics;
pub mod offsets;
pub mod pipeline;
pub mod plot;
pub mod procfs;
pub mod progress;
pub mod record;
pub mod redact;
pub mod reload;
pub mod router;
pub mod routes;
pub mod runtime;
pub mod scaffold;
pub mod signals;
pub mod sinks;
pub mod stack;
pub mod state;
pub mod telemetry;
pub mod text;
