//! For plugins that read their config by hand rather than through serde,
//! so that every error names the key at fault and what it accepts.

use serde_json::{Map, Value};

/// The stage config as a JSON object (empty text is `{}`), refusing any key
/// not in `keys`.
pub fn table(text: &str, keys: &[&str]) -> Result<Map<String, Value>, String> {
    let text = if text.trim().is_empty() { "{}" } else { text };
    let root: Value =
        serde_json::from_str(text).map_err(|e| format!("config is not valid JSON: {e}"))?;
    let Value::Object(root) = root else {
        return Err("config must be a table (JSON object)".into());
    };
    if let Some(key) = root.keys().find(|k| !keys.contains(&k.as_str())) {
        return Err(format!("unknown config key '{key}': expected one of {}", keys.join(", ")));
    }
    Ok(root)
}

/// The required list of record field names under `key`: not empty, no
/// empty or repeated name.
pub fn field_names(root: &Map<String, Value>, key: &str) -> Result<Vec<String>, String> {
    let v = root
        .get(key)
        .ok_or_else(|| format!("'{key}' is required: a list of numeric field names"))?;
    let err = || format!("'{key}' must be a non-empty list of field names");
    let list = v.as_array().filter(|a| !a.is_empty()).ok_or_else(err)?;
    let mut out: Vec<String> = Vec::new();
    for f in list {
        let f = f.as_str().filter(|s| !s.is_empty()).ok_or_else(err)?;
        if out.iter().any(|o| o == f) {
            return Err(format!("'{key}' names '{f}' twice"));
        }
        out.push(f.to_owned());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_key_at_fault() {
        let keys = ["features", "k"];
        assert!(table("", &keys).unwrap().is_empty());
        assert!(table("[1]", &keys).unwrap_err().contains("must be a table"));
        assert!(table("{", &keys).unwrap_err().contains("not valid JSON"));
        assert_eq!(
            table(r#"{"kk":1}"#, &keys).unwrap_err(),
            "unknown config key 'kk': expected one of features, k"
        );
        let root = table(r#"{"features":["a","b"]}"#, &keys).unwrap();
        assert_eq!(field_names(&root, "features").unwrap(), ["a", "b"]);
        assert!(field_names(&root, "k").unwrap_err().contains("'k' is required"));
        for bad in [r#"[]"#, r#"["a",""]"#, r#"[1]"#, r#""a""#] {
            let root = table(&format!(r#"{{"features":{bad}}}"#), &keys).unwrap();
            assert!(
                field_names(&root, "features").unwrap_err().contains("non-empty list"),
                "{bad}"
            );
        }
        let root = table(r#"{"features":["a","a"]}"#, &keys).unwrap();
        assert_eq!(field_names(&root, "features").unwrap_err(), "'features' names 'a' twice");
    }
}
