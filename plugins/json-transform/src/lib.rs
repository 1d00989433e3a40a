//! Reshapes JSON object records: require, select, scale numbers, rename, set.
//!
//! The steps run in that fixed order so a config reads top to bottom.
//! The Python plugin `plugins/python/json_transform` implements the same
//! spec and must give byte-identical outputs (a test checks it).
use serde_json::{Map, Value};
use wasp_sdk::{BatchInfo, Level, Message, Plugin, PluginInfo, Verdict};

mod config;
pub use config::{Scale, TransformConfig};

/// The json-transform plugin.
pub struct JsonTransform {
    config: TransformConfig,
}

impl JsonTransform {
    /// Transform one record value; `Err` is the reject reason.
    pub fn transform(&self, value: Option<&[u8]>) -> Result<Vec<u8>, String> {
        let bytes = match value {
            Some(b) if !b.is_empty() => b,
            _ => return Err("empty value: expected a JSON object".into()),
        };
        let parsed: Value =
            serde_json::from_slice(bytes).map_err(|e| format!("value is not valid JSON: {e}"))?;
        let Value::Object(mut obj) = parsed else {
            return Err("value is not a JSON object".into());
        };
        let c = &self.config;
        if let Some(missing) = c.require.iter().find(|f| !obj.contains_key(*f)) {
            return Err(format!("missing required field '{missing}'"));
        }
        if let Some(select) = &c.select {
            obj.retain(|k, _| select.contains(k));
        }
        for (field, scale) in &c.scale {
            if let Some(v) = obj.get_mut(field) {
                let x = v.as_f64().ok_or_else(|| format!("field '{field}' is not a number"))?;
                let y = x * scale.multiply + scale.offset;
                *v = serde_json::Number::from_f64(y)
                    .map(Value::Number)
                    .ok_or_else(|| format!("field '{field}' scaled to a non-finite number"))?;
            }
        }
        if !c.rename.is_empty() {
            obj = obj
                .into_iter()
                .map(|(k, v)| (c.rename.get(&k).cloned().unwrap_or(k), v))
                .collect::<Map<_, _>>();
        }
        for (k, v) in &c.set {
            obj.insert(k.clone(), v.clone());
        }
        Ok(serde_json::to_vec(&Value::Object(obj)).expect("a JSON value always serialises"))
    }
}

impl Plugin for JsonTransform {
    fn info() -> PluginInfo {
        PluginInfo {
            name: "json-transform".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "require, select, scale, rename and set fields of JSON records".into(),
        }
    }

    fn init(config: &str) -> Result<Self, String> {
        let config = TransformConfig::parse(config)?;
        wasp_sdk::log(
            Level::Info,
            &format!("json-transform configured: {} scale fields", config.scale.len()),
        );
        Ok(JsonTransform { config })
    }

    fn process(&mut self, _info: &BatchInfo, record: Message) -> Verdict {
        match self.transform(record.value.as_deref()) {
            Ok(v) => Verdict::Value(v),
            Err(reason) => Verdict::Reject(reason),
        }
    }
}

wasp_sdk::export_plugin!(JsonTransform);

#[cfg(test)]
mod tests {
    use super::*;

    fn run(config: &str, input: &str) -> Result<String, String> {
        let t = JsonTransform::init(config)?;
        t.transform(Some(input.as_bytes())).map(|v| String::from_utf8(v).unwrap())
    }

    #[test]
    fn applies_steps_in_order_and_keeps_key_order() {
        let cfg = r#"{"require":["a"],"select":["c","a","b"],"scale":{"a":{"multiply":2,"offset":1}},
                     "rename":{"a":"alpha"},"set":{"z":true,"b":"x"}}"#;
        let out = run(cfg, r#"{"a":5,"d":0,"b":1,"c":[1]}"#).unwrap();
        assert_eq!(out, r#"{"alpha":11.0,"b":"x","c":[1],"z":true}"#);
    }

    #[test]
    fn rejects_bad_records_with_reasons() {
        let t = JsonTransform::init(r#"{"require":["a"],"scale":{"b":{"multiply":2}}}"#).unwrap();
        let reason = |v: &[u8]| t.transform(Some(v)).unwrap_err();
        assert_eq!(t.transform(None).unwrap_err(), "empty value: expected a JSON object");
        assert!(reason(b"{oops").starts_with("value is not valid JSON: "));
        assert_eq!(reason(b"[1]"), "value is not a JSON object");
        assert_eq!(reason(b"{}"), "missing required field 'a'");
        assert_eq!(reason(br#"{"a":1,"b":true}"#), "field 'b' is not a number");
    }

    #[test]
    fn refuses_bad_config_naming_the_key() {
        let err = JsonTransform::init(r#"{"scael":{}}"#).err().unwrap();
        assert!(err.contains("unknown config key 'scael'"), "{err}");
        let err = JsonTransform::init(r#"{"select":"a"}"#).err().unwrap();
        assert!(err.contains("'select' must be a list of field names"), "{err}");
        let err = JsonTransform::init(r#"{"scale":{"a":{"times":2}}}"#).err().unwrap();
        assert!(err.contains("times"), "{err}");
    }
}
