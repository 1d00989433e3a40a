//! Kafka side of wasp: the consumer that feeds partition workers, the
//! producer that writes their results, and small admin helpers.
//!
//! Only librdkafka is spoken here; nothing depends on a particular broker.

pub mod admin;
pub mod declared;
pub mod partitions;
pub mod run;
pub mod sink;
pub mod source;
pub mod stats;
pub mod worker;

use crate::config::PipelineConfig;
use rdkafka::ClientConfig;

/// Settings wasp needs for correctness; user properties cannot loosen them.
const CONSUMER_FIXED: &[(&str, &str)] = &[
    // Offsets are stored only after delivery (see offsets.rs).
    ("enable.auto.offset.store", "false"),
];

/// Defaults a user may override.
const CONSUMER_DEFAULTS: &[(&str, &str)] = &[
    ("enable.auto.commit", "true"),
    ("auto.commit.interval.ms", "1000"),
    ("auto.offset.reset", "earliest"),
    ("enable.partition.eof", "false"),
    // Feeds the lag shown on the progress line.
    ("statistics.interval.ms", "1000"),
    // librdkafka prefetches up to `queued.min.messages` (100 000) records
    // per partition and, once that much is queued, postpones the next fetch
    // by this long (default 1 s). A pipeline that drains the queue faster
    // than that sat idle for most of a second (seen in the end-to-end
    // bench, docs/benchmarks.md); 50 ms keeps the queue fed.
    ("fetch.queue.backoff.ms", "50"),
];

const PRODUCER_DEFAULTS: &[(&str, &str)] = &[
    // Never give up on a record while the broker is away: an undelivered
    // record would hold its input's offset forever anyway.
    ("message.timeout.ms", "0"),
    ("linger.ms", "5"),
    ("message.max.bytes", "16777216"),
];

fn base(cfg: &PipelineConfig) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", cfg.bootstrap_servers());
    c
}

/// Settings for admin clients: the broker list and the user's common
/// properties (TLS, SASL…), without consumer or producer tuning.
pub fn common_config(cfg: &PipelineConfig) -> ClientConfig {
    let mut c = base(cfg);
    for (k, v) in &cfg.kafka.properties {
        c.set(k, v);
    }
    c
}

/// Consumer settings: defaults, then the user's properties, then wasp's fixed ones.
pub fn consumer_config(cfg: &PipelineConfig) -> ClientConfig {
    let mut c = base(cfg);
    c.set("group.id", cfg.group_id());
    for (k, v) in CONSUMER_DEFAULTS {
        c.set(*k, *v);
    }
    for (k, v) in cfg.kafka.properties.iter().chain(&cfg.kafka.consumer) {
        c.set(k, v);
    }
    for (k, v) in CONSUMER_FIXED {
        c.set(*k, *v);
    }
    c
}

/// Producer settings: defaults, then the user's properties.
pub fn producer_config(cfg: &PipelineConfig) -> ClientConfig {
    let mut c = base(cfg);
    for (k, v) in PRODUCER_DEFAULTS {
        c.set(*k, *v);
    }
    for (k, v) in cfg.kafka.properties.iter().chain(&cfg.kafka.producer) {
        c.set(k, v);
    }
    c
}
