//! Enriches JSON records from a table the pipeline gives the stage as a
//! file (`[stage.files]`): the value of the record's `key` field is looked
//! up in the table (a JSON object), and the entry is added to the record
//! under `into`. A record whose key is not in the table is rejected with
//! the key named. Changing the file hot-reloads the stage.
//!
//! Config: `file` (the name the table is given under, default `table`),
//! `key` (default `id`), `into` (default `info`).
use serde::Deserialize;
use serde_json::{Map, Value};
use wasp_sdk::{BatchInfo, Message, Plugin, PluginInfo, Verdict};

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Config {
    file: String,
    key: String,
    into: String,
}

impl Default for Config {
    fn default() -> Self {
        Config { file: "table".into(), key: "id".into(), into: "info".into() }
    }
}

/// The lookup plugin: its config and the table read at `init`.
pub struct Lookup {
    key: String,
    into: String,
    table: Map<String, Value>,
}

impl Lookup {
    /// The verdict for one record value.
    pub fn enrich(&self, value: Option<&[u8]>) -> Verdict {
        let parsed = value.and_then(|v| serde_json::from_slice::<Value>(v).ok());
        let Some(Value::Object(mut record)) = parsed else {
            return Verdict::Reject("value is not a JSON object".into());
        };
        let key = match record.get(&self.key) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => {
                return Verdict::Reject(format!(
                    "field '{}' is missing or not a string or number",
                    self.key
                ))
            }
        };
        let Some(entry) = self.table.get(&key) else {
            return Verdict::Reject(format!("no entry for {key:?} in the lookup table"));
        };
        record.insert(self.into.clone(), entry.clone());
        Verdict::Value(serde_json::to_vec(&record).expect("a JSON object serializes"))
    }
}

impl Plugin for Lookup {
    fn info() -> PluginInfo {
        PluginInfo {
            name: "lookup".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "adds the entry of a table file (a JSON object) to each JSON record"
                .into(),
        }
    }

    fn init(config: &str) -> Result<Self, String> {
        let c: Config = wasp_sdk::parse_config(config)?;
        let bytes = wasp_sdk::files::read(&c.file)?;
        let table = match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(t)) => t,
            Ok(_) => {
                return Err(format!("file '{}' must hold a JSON object (key → entry)", c.file))
            }
            Err(e) => return Err(format!("file '{}' is not valid JSON: {e}", c.file)),
        };
        Ok(Lookup { key: c.key, into: c.into, table })
    }

    fn process(&mut self, _info: &BatchInfo, record: Message) -> Verdict {
        self.enrich(record.value.as_deref())
    }
}

wasp_sdk::export_plugin!(Lookup);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enriches_from_the_given_file() {
        wasp_sdk::files::provide("table", br#"{"s1":{"room":"lab"},"7":"seven"}"#);
        let l = Lookup::init("{}").unwrap();
        assert_eq!(
            l.enrich(Some(br#"{"id":"s1","t":1}"#)),
            Verdict::Value(br#"{"id":"s1","t":1,"info":{"room":"lab"}}"#.to_vec())
        );
        assert_eq!(
            l.enrich(Some(br#"{"id":7}"#)),
            Verdict::Value(br#"{"id":7,"info":"seven"}"#.to_vec())
        );
        assert!(
            matches!(l.enrich(Some(br#"{"id":"s9"}"#)), Verdict::Reject(r) if r.contains("s9"))
        );
        assert!(matches!(l.enrich(Some(b"nope")), Verdict::Reject(_)));
    }

    #[test]
    fn refuses_a_missing_or_bad_file() {
        let err = Lookup::init(r#"{"file":"other"}"#).err().unwrap();
        assert!(err.contains("other"), "{err}");
        wasp_sdk::files::provide("list", b"[1,2]");
        let err = Lookup::init(r#"{"file":"list"}"#).err().unwrap();
        assert!(err.contains("JSON object"), "{err}");
    }
}
