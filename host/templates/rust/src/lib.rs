//! {{name}}: a wasp processor plugin.
//!
//! Drops records whose JSON field `field` holds one of the strings in
//! `drop`, forwards every other JSON object unchanged and rejects values
//! that are not JSON objects.
use serde::Deserialize;
use wasp_sdk::{BatchInfo, Level, Message, Plugin, PluginInfo, Verdict};

/// The stage's `[stage.config]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The field to look at.
    pub field: String,
    /// Values of that field whose records are dropped.
    pub drop: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config { field: "level".into(), drop: Vec::new() }
    }
}

/// The plugin; one value lives per instance.
pub struct Filter {
    config: Config,
}

impl Filter {
    /// The verdict for one record value.
    pub fn decide(&self, value: Option<&[u8]>) -> Verdict {
        let record = match value.map(serde_json::from_slice::<serde_json::Value>) {
            Some(Ok(serde_json::Value::Object(record))) => record,
            _ => return Verdict::Reject("value is not a JSON object".into()),
        };
        match record.get(&self.config.field).and_then(|v| v.as_str()) {
            Some(s) if self.config.drop.iter().any(|d| d == s) => Verdict::Drop,
            _ => Verdict::Pass,
        }
    }
}

impl Plugin for Filter {
    fn info() -> PluginInfo {
        PluginInfo {
            name: "{{name}}".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "drops records by the value of a field".into(),
        }
    }

    fn init(config: &str) -> Result<Self, String> {
        let config: Config = wasp_sdk::parse_config(config)?;
        wasp_sdk::log(
            Level::Info,
            &format!("{{name}}: dropping {} values of '{}'", config.drop.len(), config.field),
        );
        Ok(Filter { config })
    }

    fn process(&mut self, _info: &BatchInfo, record: Message) -> Verdict {
        self.decide(record.value.as_deref())
    }
}

wasp_sdk::export_plugin!(Filter);

#[cfg(test)]
mod tests {
    use super::*;

    fn filter() -> Filter {
        Filter::init(r#"{"field":"level","drop":["debug"]}"#).unwrap()
    }

    #[test]
    fn drops_configured_values_and_passes_the_rest() {
        let f = filter();
        assert!(matches!(f.decide(Some(br#"{"level":"debug"}"#)), Verdict::Drop));
        assert!(matches!(f.decide(Some(br#"{"level":"info"}"#)), Verdict::Pass));
        assert!(matches!(f.decide(Some(br#"{"msg":"x"}"#)), Verdict::Pass));
        assert!(matches!(f.decide(Some(br#"{"level":1}"#)), Verdict::Pass));
    }

    #[test]
    fn rejects_values_that_are_not_objects() {
        let f = filter();
        for v in [&b"not json"[..], b"[1]", b""] {
            assert!(matches!(f.decide(Some(v)), Verdict::Reject(r) if r == "value is not a JSON object"));
        }
        assert!(matches!(f.decide(None), Verdict::Reject(_)));
    }

    #[test]
    fn refuses_unknown_config_keys() {
        let err = Filter::init(r#"{"feild":"x"}"#).err().unwrap();
        assert!(err.contains("feild"), "{err}");
        assert_eq!(Filter::init("").unwrap().config.field, "level");
    }
}
