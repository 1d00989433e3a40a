//! Config parsing with messages that name the offending key, written by hand
//! so the Rust and Python twins can refuse the same configs the same way.
use serde_json::{Map, Value};
use std::collections::HashMap;

/// `value * multiply + offset`, applied to one numeric field.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scale {
    /// Factor, default 1.
    pub multiply: f64,
    /// Added after multiplying, default 0.
    pub offset: f64,
}

/// The plugin's config; see the crate docs for the meaning of each step.
#[derive(Debug, Default)]
pub struct TransformConfig {
    /// Fields that must be present.
    pub require: Vec<String>,
    /// Fields to keep, if set.
    pub select: Option<Vec<String>>,
    /// Numeric fields to scale, in config order.
    pub scale: Vec<(String, Scale)>,
    /// Old name to new name.
    pub rename: HashMap<String, String>,
    /// Constant fields to add or overwrite, in config order.
    pub set: Map<String, Value>,
}

const KEYS: &str = "require, select, scale, rename, set";

fn field_list(key: &str, v: &Value) -> Result<Vec<String>, String> {
    let err = || format!("'{key}' must be a list of field names");
    v.as_array()
        .ok_or_else(err)?
        .iter()
        .map(|f| f.as_str().map(str::to_owned).ok_or_else(err))
        .collect()
}

fn object<'a>(key: &str, v: &'a Value) -> Result<&'a Map<String, Value>, String> {
    v.as_object().ok_or_else(|| format!("'{key}' must be a table of field names"))
}

fn scale_entry(field: &str, v: &Value) -> Result<Scale, String> {
    let entry = v
        .as_object()
        .ok_or_else(|| format!("'scale.{field}' must be a table with multiply and/or offset"))?;
    let mut scale = Scale { multiply: 1.0, offset: 0.0 };
    for (k, n) in entry {
        let x = n.as_f64().ok_or_else(|| format!("'scale.{field}.{k}' must be a number"))?;
        match k.as_str() {
            "multiply" => scale.multiply = x,
            "offset" => scale.offset = x,
            _ => {
                return Err(format!("unknown key 'scale.{field}.{k}': expected multiply or offset"))
            }
        }
    }
    Ok(scale)
}

impl TransformConfig {
    /// Parse the stage config JSON.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = if text.trim().is_empty() { "{}" } else { text };
        let root: Value =
            serde_json::from_str(text).map_err(|e| format!("config is not valid JSON: {e}"))?;
        let root = root.as_object().ok_or("config must be a table (JSON object)")?;
        let mut c = TransformConfig::default();
        for (key, v) in root {
            match key.as_str() {
                "require" => c.require = field_list(key, v)?,
                "select" => c.select = Some(field_list(key, v)?),
                "scale" => {
                    for (field, e) in object(key, v)? {
                        c.scale.push((field.clone(), scale_entry(field, e)?));
                    }
                }
                "rename" => {
                    for (old, new) in object(key, v)? {
                        let new = new
                            .as_str()
                            .ok_or_else(|| format!("'rename.{old}' must be a field name"))?;
                        c.rename.insert(old.clone(), new.to_owned());
                    }
                }
                "set" => c.set = object(key, v)?.clone(),
                _ => return Err(format!("unknown config key '{key}': expected one of {KEYS}")),
            }
        }
        Ok(c)
    }
}
