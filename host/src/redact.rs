//! Fields kept out of the dead-letter topic (`topics.dead_letter_redact`).
//!
//! A dead letter carries its input unchanged, so that it can be inspected
//! and replayed; when inputs hold secrets (seed 003's registrations carry a
//! password in clear), the copy would keep them in one more topic, for as
//! long as that topic's retention. The pipeline names the fields, and every
//! dead-lettered value loses them. A value that is not a JSON object cannot
//! be searched for them, so it is dead-lettered without a value at all.

use std::borrow::Cow;

/// A JSON pointer for a field name: `/a/b` as is, a plain key escaped.
/// Pipeline files name fields either way (table columns, redactions).
pub fn pointer(field: &str) -> String {
    if field.starts_with('/') {
        field.to_string()
    } else {
        format!("/{}", field.replace('~', "~0").replace('/', "~1"))
    }
}

/// The fields to remove from dead-lettered values, as JSON pointers.
#[derive(Debug, Clone, Default)]
pub struct Redaction {
    pointers: Vec<String>,
}

impl Redaction {
    /// Redact `fields` (names or JSON pointers); none: values unchanged.
    pub fn new(fields: &[String]) -> Self {
        Redaction { pointers: fields.iter().map(|f| pointer(f)).collect() }
    }

    /// `value` without the redacted fields; `None` for a value that is not
    /// a JSON object when there is anything to redact.
    pub fn apply<'a>(&self, value: Option<&'a [u8]>) -> Option<Cow<'a, [u8]>> {
        let value = value?;
        if self.pointers.is_empty() {
            return Some(Cow::Borrowed(value));
        }
        let mut json = match serde_json::from_slice::<serde_json::Value>(value) {
            Ok(j) if j.is_object() => j,
            _ => return None,
        };
        let mut changed = false;
        for p in &self.pointers {
            changed |= remove(&mut json, p);
        }
        if !changed {
            return Some(Cow::Borrowed(value));
        }
        Some(Cow::Owned(serde_json::to_vec(&json).expect("a JSON value serialises")))
    }
}

/// Remove the member or element `ptr` points at; whether there was one.
fn remove(json: &mut serde_json::Value, ptr: &str) -> bool {
    let Some((parent, last)) = ptr.rsplit_once('/') else { return false };
    let key = last.replace("~1", "/").replace("~0", "~");
    match json.pointer_mut(parent) {
        Some(serde_json::Value::Object(m)) => m.remove(&key).is_some(),
        Some(serde_json::Value::Array(a)) => match key.parse::<usize>() {
            Ok(i) if i < a.len() => {
                a.remove(i);
                true
            }
            _ => false,
        },
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redact(fields: &[&str], value: &str) -> Option<String> {
        let r = Redaction::new(&fields.iter().map(|f| f.to_string()).collect::<Vec<_>>());
        r.apply(Some(value.as_bytes())).map(|v| String::from_utf8(v.into_owned()).unwrap())
    }

    #[test]
    fn named_fields_and_pointers_are_removed() {
        let v = r#"{"username":"ada","password":"Secret#1","meta":{"token":"t","a/b":1}}"#;
        assert_eq!(
            redact(&["password", "/meta/token", "/meta/a~1b"], v).unwrap(),
            r#"{"username":"ada","meta":{}}"#
        );
        assert_eq!(redact(&["pin"], v).unwrap(), v, "nothing to remove: the value as it was");
        assert_eq!(redact(&[], "not json").unwrap(), "not json", "no redaction configured");
    }

    #[test]
    fn a_value_that_cannot_be_searched_is_left_out() {
        assert_eq!(redact(&["password"], "password=Secret#1"), None);
        assert_eq!(redact(&["password"], r#"["Secret#1"]"#), None);
        assert!(Redaction::new(&["password".into()]).apply(None).is_none());
    }
}
