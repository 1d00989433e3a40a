//! Routes each JSON record by the value of one field: `"next"` (or a
//! missing field) forwards it, `"feedback"` sends it to the feedback topic,
//! `"drop"` drops it, `"reject:<reason>"` dead-letters it, and any other
//! value names the topic to write it to (which the pipeline must allow-list).
//! With `partition_field` set, a record holding that field (a whole number)
//! goes to that partition of its topic. Useful on its own for fan-out by
//! record type, and in tests of routing.
use serde::Deserialize;
use wasp_sdk::{BatchInfo, Destination, Message, Output, Plugin, PluginInfo, Verdict};

/// The router plugin.
pub struct Router {
    field: String,
    partition_field: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default = "default_field")]
    field: String,
    #[serde(default)]
    partition_field: Option<String>,
}

fn default_field() -> String {
    "route".into()
}

impl Router {
    /// The verdict for one record value.
    pub fn route(&self, value: Option<&[u8]>) -> Verdict {
        let parsed: Option<serde_json::Value> = value.and_then(|v| serde_json::from_slice(v).ok());
        let Some(obj) = parsed.as_ref().and_then(|v| v.as_object()) else {
            return Verdict::Reject("value is not a JSON object".into());
        };
        let dest = match obj.get(&self.field) {
            None => return Verdict::Pass,
            Some(serde_json::Value::String(s)) => s.as_str(),
            Some(_) => return Verdict::Reject(format!("field '{}' is not a string", self.field)),
        };
        let partition = match self.partition_field.as_ref().and_then(|f| obj.get(f)) {
            None => None,
            Some(p) => match p.as_i64().and_then(|p| i32::try_from(p).ok()) {
                Some(p) => Some(p),
                None => {
                    return Verdict::Reject(format!(
                        "field '{}' is not a partition number",
                        self.partition_field.as_deref().unwrap_or_default()
                    ))
                }
            },
        };
        let out = |destination| Output {
            destination,
            partition,
            key: None,
            value: value.map(<[u8]>::to_vec),
            headers: vec![],
        };
        match dest {
            "next" => Verdict::Pass,
            "feedback" => Verdict::Emit(vec![out(Destination::Feedback)]),
            "drop" => Verdict::Drop,
            d if d.starts_with("reject:") => Verdict::Reject(d["reject:".len()..].to_string()),
            topic => Verdict::Emit(vec![out(Destination::Topic(topic.to_string()))]),
        }
    }
}

impl Plugin for Router {
    fn info() -> PluginInfo {
        PluginInfo {
            name: "router".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "routes JSON records by a field to a topic, feedback, drop or reject"
                .into(),
        }
    }

    fn init(config: &str) -> Result<Self, String> {
        let c: Config = wasp_sdk::parse_config(config)?;
        Ok(Router { field: c.field, partition_field: c.partition_field })
    }

    fn process(&mut self, _info: &BatchInfo, record: Message) -> Verdict {
        self.route(record.value.as_deref())
    }
}

wasp_sdk::export_plugin!(Router);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_by_field() {
        let r = Router::init("{}").unwrap();
        assert!(matches!(r.route(Some(br#"{"a":1}"#)), Verdict::Pass));
        assert!(matches!(r.route(Some(br#"{"route":"drop"}"#)), Verdict::Drop));
        match r.route(Some(br#"{"route":"reject:bad id"}"#)) {
            Verdict::Reject(reason) => assert_eq!(reason, "bad id"),
            _ => panic!("expected reject"),
        }
        match r.route(Some(br#"{"route":"alerts"}"#)) {
            Verdict::Emit(o) => {
                assert!(matches!(&o[0].destination, Destination::Topic(t) if t == "alerts"))
            }
            _ => panic!("expected emit"),
        }
        assert!(Router::init(r#"{"feild":"x"}"#).is_err());
    }

    #[test]
    fn routes_to_a_partition_when_asked() {
        let r = Router::init(r#"{"partition_field":"p"}"#).unwrap();
        match r.route(Some(br#"{"route":"alerts","p":3}"#)) {
            Verdict::Emit(o) => assert_eq!(o[0].partition, Some(3)),
            v => panic!("expected emit, got {v:?}"),
        }
        match r.route(Some(br#"{"route":"alerts"}"#)) {
            Verdict::Emit(o) => assert_eq!(o[0].partition, None),
            v => panic!("expected emit, got {v:?}"),
        }
        assert!(matches!(r.route(Some(br#"{"route":"alerts","p":"x"}"#)), Verdict::Reject(_)));
    }
}
