//! The topics a pipeline file declares under `[topics.partitions]`:
//! created by `wasp run` when missing, and checked when present, so a
//! pipeline that routes to partition 1 never starts against a topic that
//! has only partition 0. Like the `KAFKA_CREATE_TOPICS` line of a compose
//! file, but kept with the pipeline that needs the topics.

use crate::config::PipelineConfig;
use anyhow::{bail, Context, Result};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::types::RDKafkaErrorCode;
use std::collections::BTreeMap;
use std::time::Duration;

/// How long topic creation and metadata requests may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Create the declared topics that are missing and check that the others
/// have at least their declared partition count. Returns the names created.
pub fn ensure(cfg: &PipelineConfig) -> Result<Vec<String>> {
    let declared = &cfg.topics.partitions;
    if declared.is_empty() {
        return Ok(Vec::new());
    }
    let admin: AdminClient<DefaultClientContext> =
        super::common_config(cfg).create().context("creating the Kafka admin client")?;
    let wanted: Vec<(String, i32)> = declared.iter().map(|(n, c)| (n.clone(), *c)).collect();
    let created = create_missing(&admin, &wanted, &[], "of [topics.partitions]")?;
    let found = counts(admin.inner(), declared.keys())?;
    for (name, want) in declared {
        match found.get(name) {
            Some(have) if have >= want => {}
            Some(have) => bail!(
                "topic '{name}' has {have} partition(s) but the pipeline declares {want} in \
                 [topics.partitions]: add partitions to the topic (e.g. \
                 kafka-topics.sh --alter --topic {name} --partitions {want}) or lower the count"
            ),
            None => bail!(
                "topic '{name}' of [topics.partitions] was not reported by the broker after \
                 creating it; check the broker's log"
            ),
        }
    }
    if !created.is_empty() {
        tracing::info!(topics = ?created, "created the declared topics that were missing");
    }
    Ok(created)
}

/// Create the topics of `wanted` (name, partitions) with the topic
/// `config`, leaving those that exist; returns the names created. `what`
/// names them in errors.
pub fn create_missing(
    admin: &AdminClient<DefaultClientContext>,
    wanted: &[(String, i32)],
    config: &[(&str, &str)],
    what: &str,
) -> Result<Vec<String>> {
    let topics: Vec<NewTopic<'_>> = wanted
        .iter()
        .map(|(name, n)| {
            config
                .iter()
                .fold(NewTopic::new(name, *n, TopicReplication::Fixed(1)), |t, (k, v)| t.set(k, v))
        })
        .collect();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let opts = AdminOptions::new().operation_timeout(Some(TIMEOUT));
    let results = rt
        .block_on(admin.create_topics(&topics, &opts))
        .with_context(|| format!("creating the topics {what}"))?;
    let mut created = Vec::new();
    for r in results {
        match r {
            Ok(name) => created.push(name),
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((name, code)) => bail!("cannot create topic '{name}' {what}: {code}"),
        }
    }
    Ok(created)
}

/// Partition counts of `names` from broker metadata (topics the broker
/// does not report are absent).
pub fn counts<'a>(
    client: &rdkafka::client::Client<DefaultClientContext>,
    names: impl Iterator<Item = &'a String>,
) -> Result<BTreeMap<String, i32>> {
    let mut out = BTreeMap::new();
    for name in names {
        let md = client
            .fetch_metadata(Some(name), TIMEOUT)
            .with_context(|| format!("reading the metadata of topic '{name}'"))?;
        for t in md.topics() {
            if t.name() == name && t.error().is_none() && !t.partitions().is_empty() {
                out.insert(name.clone(), i32::try_from(t.partitions().len()).unwrap_or(i32::MAX));
            }
        }
    }
    Ok(out)
}
