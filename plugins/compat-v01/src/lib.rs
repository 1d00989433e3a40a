//! A compatibility fixture: a plugin written against the first contract,
//! `wasp:plugin@0.1.0` (wit/0.1), with wit-bindgen directly and no SDK, the
//! way a 0.1 plugin was built. The host must keep running it unchanged.
//!
//! It adds `"contract": "0.1.0"` to each JSON object and a header saying
//! so, rejects anything else, and learns nothing. With the config
//! `{"pass": true}` it passes every record unchanged instead: the 0.1
//! identity that the boundary bench compares with 0.2's.

// Natively the bindings' `export!` goes unused (see the end of the file).
#![cfg_attr(not(target_arch = "wasm32"), allow(unused_imports))]

// The 0.1 contract's bindings, checked in (scripts/rust-bindings).
include!("bindings.rs");

use exports::wasp::plugin::processor::{BatchInfo, Guest, Message, PluginInfo, Verdict};
use wasp::plugin::types::{Destination, Header, Output};

/// The plugin's per-record logic, plain so it is tested natively.
pub fn tag(value: Option<&[u8]>) -> Verdict {
    let parsed = value.and_then(|v| serde_json::from_slice::<serde_json::Value>(v).ok());
    let Some(serde_json::Value::Object(mut obj)) = parsed else {
        return Verdict::Reject("value is not a JSON object".into());
    };
    obj.insert("contract".into(), "0.1.0".into());
    Verdict::Emit(vec![Output {
        destination: Destination::Next,
        key: None,
        value: Some(serde_json::to_vec(&obj).expect("a JSON object serializes")),
        headers: vec![Header { key: "wasp.contract".into(), value: b"0.1.0".to_vec() }],
    }])
}

struct Compat;

thread_local! {
    static PASS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether the config asks for pass-through.
pub fn pass_mode(config: &str) -> Result<bool, String> {
    match serde_json::from_str::<serde_json::Value>(if config.trim().is_empty() {
        "{}"
    } else {
        config
    }) {
        Ok(serde_json::Value::Object(m)) => match (m.len(), m.get("pass")) {
            (0, _) => Ok(false),
            (1, Some(serde_json::Value::Bool(b))) => Ok(*b),
            _ => Err("config takes one key, `pass` (true or false)".into()),
        },
        _ => Err("config must be a JSON object".into()),
    }
}

impl Guest for Compat {
    fn info() -> PluginInfo {
        PluginInfo {
            name: "compat-v01".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "a wasp:plugin@0.1.0 fixture: tags JSON objects with their contract"
                .into(),
        }
    }
    fn init(config: String) -> Result<(), String> {
        let pass = pass_mode(&config)?;
        PASS.with(|p| p.set(pass));
        Ok(())
    }
    fn process(_info: BatchInfo, batch: Vec<Message>) -> Vec<Verdict> {
        if PASS.with(|p| p.get()) {
            return batch.iter().map(|_| Verdict::Pass).collect();
        }
        batch.iter().map(|m| tag(m.value.as_deref())).collect()
    }
    fn learn(_info: BatchInfo, batch: Vec<Message>) -> Vec<Verdict> {
        batch.iter().map(|_| Verdict::Drop).collect()
    }
}

// Natively the export symbols (with `:` in them) do not link; the logic
// above is what native tests exercise.
#[cfg(target_arch = "wasm32")]
export!(Compat);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_objects_and_rejects_the_rest() {
        match tag(Some(br#"{"a":1}"#)) {
            Verdict::Emit(o) => {
                assert_eq!(o[0].value.as_deref(), Some(&br#"{"a":1,"contract":"0.1.0"}"#[..]));
                assert_eq!(o[0].headers[0].key, "wasp.contract");
            }
            _ => panic!("expected emit"),
        }
        assert!(matches!(tag(Some(b"[1]")), Verdict::Reject(_)));
        assert!(matches!(tag(None), Verdict::Reject(_)));
    }

    #[test]
    fn pass_mode_is_the_only_config() {
        assert_eq!(pass_mode("{}"), Ok(false));
        assert_eq!(pass_mode(r#"{"pass":true}"#), Ok(true));
        assert!(pass_mode(r#"{"pas":true}"#).is_err());
    }
}
