//! Kafka side of wasp: the consumer that feeds partition workers, the
//! producer that writes their results, and small admin helpers.
//!
//! Only librdkafka is spoken here; nothing depends on a particular broker.

pub mod admin;
pub mod corrections;
pub mod declared;
pub mod headers;
pub mod partitions;
pub mod run;
pub mod sink;
pub mod source;
pub mod stats;
pub mod wake;
pub mod worker;

use crate::config::PipelineConfig;
use rdkafka::ClientConfig;

/// Settings wasp needs for correctness; user properties cannot loosen them
/// (a user value that differs is refused by [`check_properties`]).
const CONSUMER_FIXED: &[(&str, &str)] = &[
    // wasp commits by itself (see run.rs and source.rs): librdkafka's
    // auto-commit would commit a stored offset older than wasp's own final
    // commit when a partition is unassigned, and the next owner would
    // replay what was already delivered.
    ("enable.auto.commit", "false"),
    ("enable.auto.offset.store", "false"),
];

/// How often wasp commits the delivered offsets, unless the consumer
/// property `auto.commit.interval.ms` says otherwise: a crash replays at
/// most about this much of each partition.
pub const COMMIT_INTERVAL_MS: u64 = 1000;

/// Defaults a user may override.
const CONSUMER_DEFAULTS: &[(&str, &str)] = &[
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
    // librdkafka's retries never duplicate or reorder records within a
    // partition (it also sets acks=all and at most 5 requests in flight).
    ("enable.idempotence", "true"),
    ("linger.ms", "5"),
    ("message.max.bytes", "16777216"),
    // Records queued in the producer, in KiB: 64 MiB bounds what a backlog
    // (a slow or absent broker) holds in memory; a full queue makes the
    // workers wait, which pauses their partitions, never the poll loop.
    ("queue.buffering.max.kbytes", "65536"),
    ("queue.buffering.max.messages", "100000"),
];

fn base(cfg: &PipelineConfig) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", cfg.bootstrap_servers());
    c
}

/// Refuse user properties that would break wasp's guarantees.
pub fn check_properties(cfg: &PipelineConfig) -> anyhow::Result<()> {
    for (k, v) in cfg.kafka.properties.iter().chain(&cfg.kafka.consumer) {
        if let Some((_, fixed)) = CONSUMER_FIXED.iter().find(|(f, _)| f == k) {
            if v != fixed {
                anyhow::bail!(
                    "kafka property {k} = \"{v}\" is not allowed: wasp commits an input's offset \
                     itself, only after everything it produced was delivered; remove it \
                     (auto.commit.interval.ms sets how often wasp commits)"
                );
            }
        }
    }
    commit_interval(cfg)?;
    Ok(())
}

/// How often to commit: the consumer property `auto.commit.interval.ms`,
/// else [`COMMIT_INTERVAL_MS`].
pub fn commit_interval(cfg: &PipelineConfig) -> anyhow::Result<std::time::Duration> {
    let ms = match cfg.kafka.consumer.get("auto.commit.interval.ms") {
        Some(v) => v.parse::<u64>().ok().filter(|&ms| ms > 0).ok_or_else(|| {
            anyhow::anyhow!(
                "kafka.consumer auto.commit.interval.ms = \"{v}\" must be a positive number of ms"
            )
        })?,
        None => COMMIT_INTERVAL_MS,
    };
    Ok(std::time::Duration::from_millis(ms))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn get(c: &ClientConfig, k: &str) -> Option<String> {
        c.get(k).map(str::to_string)
    }

    #[test]
    fn the_producer_is_idempotent_unless_the_user_says_otherwise() {
        let cfg =
            PipelineConfig::parse("name='p'\n[[stage]]\nname='a'\nplugin='x.wasm'\n").unwrap();
        assert_eq!(get(&producer_config(&cfg), "enable.idempotence").as_deref(), Some("true"));
        let cfg = PipelineConfig::parse(
            "name='p'\n[kafka.producer]\n'enable.idempotence'='false'\n[[stage]]\nname='a'\nplugin='x.wasm'\n",
        )
        .unwrap();
        assert_eq!(get(&producer_config(&cfg), "enable.idempotence").as_deref(), Some("false"));
    }

    #[test]
    fn auto_commit_cannot_be_turned_on() {
        let cfg = PipelineConfig::parse(
            "name='p'\n[kafka.consumer]\n'enable.auto.commit'='true'\n[[stage]]\nname='a'\nplugin='x.wasm'\n",
        )
        .unwrap();
        let e = check_properties(&cfg).unwrap_err().to_string();
        assert!(e.contains("enable.auto.commit"), "{e}");
        assert_eq!(get(&consumer_config(&cfg), "enable.auto.commit").as_deref(), Some("false"));
    }
}
