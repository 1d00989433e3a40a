//! The pipeline file (TOML): topics, Kafka settings, batching, state and
//! the ordered stages. Unknown keys are errors that name the key.

use crate::runtime::{FaultPolicy, Limits};
use anyhow::{bail, Context, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Environment variable that overrides `kafka.bootstrap_servers`.
pub const BOOTSTRAP_ENV: &str = "WASP_BOOTSTRAP_SERVERS";

/// A whole pipeline file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineConfig {
    /// Pipeline name: namespaces state and the default consumer group.
    pub name: String,
    /// Topics read and written.
    #[serde(default)]
    pub topics: Topics,
    /// Kafka connection; librdkafka properties pass through.
    #[serde(default)]
    pub kafka: KafkaConfig,
    /// Batching of records per partition.
    #[serde(default)]
    pub batch: BatchConfig,
    /// Where plugin state persists.
    #[serde(default)]
    pub state: StateConfig,
    /// Add a `wasp.plugin.version` header (content hash of the plugin
    /// version of the stage that produced it) to every output.
    #[serde(default)]
    pub version_header: bool,
    /// Database tables outputs can be routed to, by name (`[tables.NAME]`).
    #[serde(default)]
    pub tables: BTreeMap<String, crate::sinks::postgres::TableConfig>,
    /// The stages, in order.
    #[serde(rename = "stage")]
    pub stages: Vec<StageConfig>,
    /// The directory of the file; relative paths inside it resolve here.
    #[serde(skip)]
    pub base_dir: PathBuf,
}

/// Topic names.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Topics {
    /// Topics consumed.
    #[serde(default)]
    pub input: Vec<String>,
    /// Where `next` outputs of the last stage go.
    pub output: Option<String>,
    /// Where `feedback` outputs go.
    pub feedback: Option<String>,
    /// Where rejected and failed records go.
    pub dead_letter: Option<String>,
    /// Corrections delivered to the plugins' `learn`.
    pub corrections: Option<String>,
    /// Topics plugins may name in a `topic(...)` destination.
    #[serde(default)]
    pub allowed: Vec<String>,
    /// Fields (names or JSON pointers) removed from dead-lettered values,
    /// e.g. passwords; see [`crate::redact`].
    #[serde(default)]
    pub dead_letter_redact: Vec<String>,
    /// Topics the pipeline needs, with their partition counts
    /// (`[topics.partitions] virginicasetosa = 2`): `wasp run` creates the
    /// missing ones and refuses to start when one has fewer partitions.
    #[serde(default)]
    pub partitions: BTreeMap<String, i32>,
}

/// Kafka client settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KafkaConfig {
    /// Broker list; `WASP_BOOTSTRAP_SERVERS` overrides it.
    pub bootstrap_servers: Option<String>,
    /// Consumer group; default `wasp-<name>`.
    pub group_id: Option<String>,
    /// librdkafka properties set on both consumer and producer (TLS, SASL…).
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
    /// librdkafka properties for the consumer only (e.g. `session.timeout.ms`).
    #[serde(default)]
    pub consumer: BTreeMap<String, String>,
    /// librdkafka properties for the producer only (e.g. `linger.ms`).
    #[serde(default)]
    pub producer: BTreeMap<String, String>,
    /// How long a stop (a signal, the end of the input) or a partition
    /// hand-over may take to finish the records in hand and have them
    /// delivered, in ms. Past it, what was not delivered is not committed
    /// and `wasp run` exits with code 2. 30 s rides out a broker restart
    /// and stays far below the group's `max.poll.interval.ms` (300 s).
    pub shutdown_timeout_ms: u64,
}

impl Default for KafkaConfig {
    fn default() -> Self {
        KafkaConfig {
            bootstrap_servers: None,
            group_id: None,
            properties: BTreeMap::new(),
            consumer: BTreeMap::new(),
            producer: BTreeMap::new(),
            shutdown_timeout_ms: 30_000,
        }
    }
}

/// Batching per partition.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BatchConfig {
    /// Most records handed to the plugins in one call.
    pub max_records: usize,
    /// How long a partition worker waits to fill a batch, in ms.
    pub linger_ms: u64,
    /// Input values larger than this go to the dead-letter topic without
    /// reaching a plugin.
    pub max_value_bytes: usize,
}

impl Default for BatchConfig {
    fn default() -> Self {
        // 256 amortises the per-call cost (see the boundary bench) while a
        // batch of typical 1 KiB records stays well under a MiB.
        // 1,000,000 bytes is Kafka's default record limit (`message.max.bytes`
        // is 1 MiB including overhead): a larger value is unusual enough to
        // be a mistake, and plugins should not have to defend against it.
        BatchConfig { max_records: 256, linger_ms: 5, max_value_bytes: 1_000_000 }
    }
}

/// Plugin state persistence.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateConfig {
    /// File holding the state; relative to the pipeline file. Without it
    /// state lives in memory only.
    pub path: Option<PathBuf>,
    /// Keep the state in changelog topics in Kafka (`wasp run`): restored
    /// from there at start and when a partition is assigned, written
    /// there before the inputs that caused each write are committed
    /// (docs/state.md).
    #[serde(default)]
    pub changelog: bool,
}

/// One stage.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageConfig {
    /// Stage name, unique in the pipeline.
    pub name: String,
    /// Plugin component file; relative to the pipeline file.
    pub plugin: PathBuf,
    /// Limits; defaults documented on [`Limits`].
    #[serde(default)]
    pub limits: Limits,
    /// When the stage is disabled and what happens then, from
    /// `[stage.faults]`; defaults documented on [`FaultPolicy`].
    #[serde(default)]
    pub faults: FaultPolicy,
    /// The plugin's config, handed to `init` as JSON.
    #[serde(default)]
    pub config: Option<toml::Table>,
    /// Read-only files the plugin reads by name through the `files` import
    /// (`[stage.files] model = "models/heart.json"`); relative to the
    /// pipeline file.
    #[serde(default)]
    pub files: BTreeMap<String, PathBuf>,
}

impl StageConfig {
    /// The stage config as the JSON text `init` receives.
    pub fn config_json(&self) -> String {
        match &self.config {
            Some(t) => serde_json::to_string(t).expect("TOML values are valid JSON"),
            None => "{}".into(),
        }
    }
}

/// Longest pipeline or stage name: the pipeline name goes into the reload
/// socket's path, which Unix limits to 107 bytes.
const MAX_NAME: usize = 64;

/// Names go into state keys (`pipeline/stage/…`), the consumer group and
/// the reload socket's file name: a `/` would make two names share keys,
/// and other characters would make paths that cannot be created.
fn check_name(what: &str, name: &str) -> Result<()> {
    let ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if name.is_empty() || name.len() > MAX_NAME || !name.chars().all(ok) || name.starts_with('.') {
        bail!(
            "{what} '{name}' is not allowed: use 1 to {MAX_NAME} letters, digits, '.', '_' or \
             '-', not starting with '.' (it names state keys, the consumer group and the reload \
             socket)"
        );
    }
    Ok(())
}

impl Topics {
    /// Refuse topic settings that would feed the pipeline its own records.
    fn check(&self) -> Result<()> {
        let loops = [
            ("topics.output", &self.output),
            ("topics.dead_letter", &self.dead_letter),
            ("topics.feedback", &self.feedback),
        ];
        for (what, topic) in loops {
            if let Some(t) = topic.as_ref().filter(|t| self.input.contains(t)) {
                bail!(
                    "{what} '{t}' is also an input topic: every record written there would be \
                     consumed again, without end; use another topic"
                );
            }
        }
        if let Some(c) = self.corrections.as_ref().filter(|c| self.input.contains(c)) {
            bail!(
                "topics.corrections '{c}' is also listed in topics.input: its records would go \
                 both to the plugins' learn and to process; remove it from topics.input"
            );
        }
        Ok(())
    }
}

impl PipelineConfig {
    /// Read and validate a pipeline file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read pipeline file {}", path.display()))?;
        let mut cfg = Self::parse(&text)
            .with_context(|| format!("invalid pipeline file {}", path.display()))?;
        cfg.base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Ok(cfg)
    }

    /// Parse and validate pipeline TOML.
    pub fn parse(text: &str) -> Result<Self> {
        let cfg: PipelineConfig = toml::from_str(text)?;
        if cfg.stages.is_empty() {
            bail!("the pipeline has no [[stage]]: add at least one stage with a plugin");
        }
        check_name("pipeline name", &cfg.name)?;
        for (name, table) in &cfg.tables {
            table.validate(name)?;
        }
        let mut names = std::collections::HashSet::new();
        for s in &cfg.stages {
            check_name("stage name", &s.name)?;
            if !names.insert(&s.name) {
                bail!("stage name '{}' is used twice: stage names must be unique", s.name);
            }
        }
        cfg.topics.check()?;
        crate::routes::check(&cfg)?;
        if cfg.state.changelog && cfg.state.path.is_some() {
            bail!(
                "[state] sets both path and changelog: with a changelog the state lives in Kafka                  and is restored from there, so a state file would never be read; remove path                  (or changelog, to keep the state in the file)"
            );
        }
        Ok(cfg)
    }

    /// A path from the file, resolved against the file's directory.
    pub fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base_dir.join(p)
        }
    }

    /// A stage's files, name → resolved path.
    pub fn stage_files(&self, stage: &StageConfig) -> BTreeMap<String, PathBuf> {
        stage.files.iter().map(|(name, p)| (name.clone(), self.resolve(p))).collect()
    }

    /// The broker list: the environment override, else the file, else
    /// `127.0.0.1:9092`.
    pub fn bootstrap_servers(&self) -> String {
        std::env::var(BOOTSTRAP_ENV)
            .ok()
            .filter(|s| !s.is_empty())
            .or_else(|| self.kafka.bootstrap_servers.clone())
            .unwrap_or_else(|| "127.0.0.1:9092".into())
    }

    /// The consumer group.
    pub fn group_id(&self) -> String {
        self.kafka.group_id.clone().unwrap_or_else(|| format!("wasp-{}", self.name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_are_named() {
        let err =
            PipelineConfig::parse("name='p'\n[[stage]]\nname='a'\nplugin='x.wasm'\nbatchsize=3\n")
                .unwrap_err();
        assert!(format!("{err:#}").contains("batchsize"), "{err:#}");
        let err = PipelineConfig::parse(
            "name='p'\n[[stage]]\nname='a'\nplugin='x'\n[stage.limits]\nmemory=1\n",
        )
        .unwrap_err();
        assert!(format!("{err:#}").contains("memory"), "{err:#}");
    }

    #[test]
    fn names_and_loops_are_refused() {
        let stage = "[[stage]]\nname='a'\nplugin='x.wasm'\n";
        let err = |toml: &str| format!("{:#}", PipelineConfig::parse(toml).unwrap_err());
        assert!(err(&format!("name='a/b'\n{stage}")).contains("pipeline name 'a/b'"));
        assert!(err("name='p'\n[[stage]]\nname='s/t'\nplugin='x'\n").contains("stage name 's/t'"));
        let topics = |t: &str| format!("name='p'\n[topics]\ninput=['in']\n{t}\n{stage}");
        assert!(err(&topics("output='in'")).contains("topics.output 'in'"));
        assert!(err(&topics("dead_letter='in'")).contains("topics.dead_letter 'in'"));
        assert!(err(&topics("corrections='in'")).contains("topics.corrections 'in'"));
        assert!(PipelineConfig::parse(&topics("output='out'\ncorrections='c'")).is_ok());
    }

    #[test]
    fn a_state_file_and_a_changelog_together_are_refused() {
        let stage = "[[stage]]\nname='a'\nplugin='x.wasm'\n";
        let both = format!("name='p'\n[state]\npath='s.bin'\nchangelog=true\n{stage}");
        let err = format!("{:#}", PipelineConfig::parse(&both).unwrap_err());
        assert!(err.contains("both path and changelog") && err.contains("remove path"), "{err}");
        let log = format!("name='p'\n[state]\nchangelog=true\n{stage}");
        assert!(PipelineConfig::parse(&log).unwrap().state.changelog);
    }

    #[test]
    fn stage_config_becomes_json() {
        let cfg = PipelineConfig::parse(
            "name='p'\n[[stage]]\nname='a'\nplugin='x.wasm'\n[stage.config]\nk=3\nf=['a','b']\n",
        )
        .unwrap();
        assert_eq!(cfg.stages[0].config_json(), r#"{"f":["a","b"],"k":3}"#);
        assert_eq!(cfg.stages[0].limits, Limits::default());
    }
}
