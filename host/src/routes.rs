//! Start-time checks of the topics a pipeline file names besides its
//! stages' plugins: the partition counts under `[topics.partitions]`, and
//! the `routes` table of a routing stage's config (the router plugin's,
//! or any plugin that takes the same shape: `routes = { VALUE = { topic =
//! "T", partition = N } }`).
//!
//! The allow-list is enforced again on every write (`router.rs`); checking
//! it here too turns a typo in a route into a refusal to start rather than
//! a stream of dead letters.

use crate::config::PipelineConfig;
use anyhow::{bail, Result};

/// One entry of a stage's `routes` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// Stage whose config holds the route.
    pub stage: String,
    /// The field value routed.
    pub value: String,
    /// Topic it goes to.
    pub topic: String,
    /// Partition, when the route names one.
    pub partition: Option<i64>,
}

/// The routes of every stage config that has a `routes` table.
pub fn routes(cfg: &PipelineConfig) -> Vec<Route> {
    let mut out = Vec::new();
    for stage in &cfg.stages {
        let Some(table) = stage.config.as_ref().and_then(|c| c.get("routes")?.as_table()) else {
            continue;
        };
        for (value, route) in table {
            // Malformed entries are the plugin's to refuse in `init`.
            let Some(topic) = route.get("topic").and_then(|t| t.as_str()) else { continue };
            out.push(Route {
                stage: stage.name.clone(),
                value: value.clone(),
                topic: topic.to_string(),
                partition: route.get("partition").and_then(|p| p.as_integer()),
            });
        }
    }
    out
}

/// Refuse partition counts below 1, routes to topics outside
/// `topics.allowed`, and routes to a partition past a declared count.
pub fn check(cfg: &PipelineConfig) -> Result<()> {
    for (topic, n) in &cfg.topics.partitions {
        if *n < 1 {
            bail!("[topics.partitions] gives topic '{topic}' {n} partitions: give it 1 or more");
        }
    }
    for r in routes(cfg) {
        if !cfg.topics.allowed.contains(&r.topic) {
            bail!(
                "stage '{}' routes '{}' to topic '{}', which is not in topics.allowed; add it \
                 (allowed = [\"{}\"]) or fix the route",
                r.stage,
                r.value,
                r.topic,
                r.topic
            );
        }
        let (Some(p), Some(&count)) = (r.partition, cfg.topics.partitions.get(&r.topic)) else {
            continue;
        };
        if p >= i64::from(count) {
            bail!(
                "stage '{}' routes '{}' to partition {p} of topic '{}', which is declared with \
                 {count} partition(s) in [topics.partitions]; raise the count or fix the route",
                r.stage,
                r.value,
                r.topic
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::config::PipelineConfig;

    const STAGE: &str = "[[stage]]\nname='route'\nplugin='router.wasm'\n[stage.config]\n\
                         field='species'\nroutes.setosa={topic='vs',partition=1}\n";

    fn parse(topics: &str) -> anyhow::Result<PipelineConfig> {
        PipelineConfig::parse(&format!("name='p'\n[topics]\n{topics}\n{STAGE}"))
    }

    #[test]
    fn routes_must_be_allowed_and_fit_the_declared_partitions() {
        let err = parse("allowed=[]").unwrap_err();
        assert!(
            format!("{err:#}")
                .contains("routes 'setosa' to topic 'vs', which is not in topics.allowed"),
            "{err:#}"
        );
        let err = parse("allowed=['vs']\npartitions={vs=1}").unwrap_err();
        assert!(
            format!("{err:#}").contains("partition 1 of topic 'vs', which is declared with 1"),
            "{err:#}"
        );
        parse("allowed=['vs']\npartitions={vs=2}").unwrap();
        parse("allowed=['vs']").unwrap();
        let err = parse("allowed=['vs']\npartitions={vs=0}").unwrap_err();
        assert!(format!("{err:#}").contains("give it 1 or more"), "{err:#}");
    }
}
