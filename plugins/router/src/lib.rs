//! Routes each JSON record by the value of one field: `"next"` (or a
//! missing field) forwards it, `"feedback"` sends it to the feedback topic,
//! `"drop"` drops it, `"reject:<reason>"` dead-letters it, and any other
//! value names the topic to write it to (which the pipeline must allow-list).
//! With `partition_field` set, a record holding that field (a whole number)
//! goes to that partition of its topic. Useful on its own for fan-out by
//! record type, and in tests of routing.
//!
//! With a `routes` table the field's value is instead looked up there: each
//! value names a topic and optionally a partition (seed 002 sends each Iris
//! class to its own topic and partition). A value with no route, or a
//! record without the field, is rejected with a reason naming the value,
//! so it reaches the dead-letter topic instead of vanishing. The host checks
//! the routes' topics against the pipeline's allow-list when it starts.
use serde::Deserialize;
use std::collections::BTreeMap;
use wasp_sdk::{BatchInfo, Destination, Message, Output, Plugin, PluginInfo, Verdict};

/// The router plugin.
pub struct Router {
    field: String,
    partition_field: Option<String>,
    routes: Option<BTreeMap<String, Route>>,
}

/// Where records with one value of the field go.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Route {
    topic: String,
    #[serde(default)]
    partition: Option<i32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default = "default_field")]
    field: String,
    #[serde(default)]
    partition_field: Option<String>,
    #[serde(default)]
    routes: Option<BTreeMap<String, Route>>,
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
        if let Some(routes) = &self.routes {
            return self.route_by_table(routes, obj, value);
        }
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

impl Router {
    /// The verdict for a record when the field's value is looked up in
    /// `routes`.
    fn route_by_table(
        &self,
        routes: &BTreeMap<String, Route>,
        obj: &serde_json::Map<String, serde_json::Value>,
        value: Option<&[u8]>,
    ) -> Verdict {
        let key = match obj.get(&self.field) {
            None => {
                return Verdict::Reject(format!("record has no field '{}' to route by", self.field))
            }
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
        };
        let Some(route) = routes.get(&key) else {
            let known: Vec<&str> = routes.keys().map(String::as_str).collect();
            return Verdict::Reject(format!(
                "no route for {} '{key}' (routes exist for: {})",
                self.field,
                known.join(", ")
            ));
        };
        Verdict::Emit(vec![Output {
            destination: Destination::Topic(route.topic.clone()),
            partition: route.partition,
            key: None,
            value: value.map(<[u8]>::to_vec),
            headers: vec![],
        }])
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
        if let Some(routes) = &c.routes {
            if routes.is_empty() {
                return Err("routes is empty: map each value of the field to a topic, e.g. \
                            routes = { setosa = { topic = \"setosa\", partition = 1 } }"
                    .into());
            }
            if let Some((v, r)) = routes.iter().find(|(_, r)| r.partition.is_some_and(|p| p < 0)) {
                return Err(format!(
                    "the route of '{v}' names partition {}: partitions are numbered from 0",
                    r.partition.unwrap_or_default()
                ));
            }
        }
        Ok(Router { field: c.field, partition_field: c.partition_field, routes: c.routes })
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

    #[test]
    fn routes_by_table_and_rejects_unrouted_values() {
        let r = Router::init(
            r#"{"field":"species","routes":{
                "virginica":{"topic":"virginicasetosa","partition":0},
                "setosa":{"topic":"virginicasetosa","partition":1},
                "versicolor":{"topic":"versicolor"}}}"#,
        )
        .unwrap();
        let dest = |v: &[u8]| match r.route(Some(v)) {
            Verdict::Emit(o) => match &o[0].destination {
                Destination::Topic(t) => (t.clone(), o[0].partition),
                d => panic!("expected a topic, got {d:?}"),
            },
            v => panic!("expected emit, got {v:?}"),
        };
        assert_eq!(dest(br#"{"species":"virginica"}"#), ("virginicasetosa".into(), Some(0)));
        assert_eq!(dest(br#"{"species":"setosa"}"#), ("virginicasetosa".into(), Some(1)));
        assert_eq!(dest(br#"{"species":"versicolor"}"#), ("versicolor".into(), None));
        match r.route(Some(br#"{"species":"iris-x"}"#)) {
            Verdict::Reject(why) => assert!(why.contains("no route for species 'iris-x'"), "{why}"),
            v => panic!("expected reject, got {v:?}"),
        }
        assert!(matches!(r.route(Some(br#"{"petal":1}"#)), Verdict::Reject(_)));
        assert!(Router::init(r#"{"routes":{}}"#).is_err());
        assert!(Router::init(r#"{"routes":{"a":{"topic":"t","partition":-1}}}"#).is_err());
        assert!(Router::init(r#"{"routes":{"a":{"topc":"t"}}}"#).is_err());
    }
}
