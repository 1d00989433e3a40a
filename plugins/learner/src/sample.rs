//! A training sample and its compact byte form in the state store.
//!
//! A sample is written once per training record, so thousands of them sit
//! in the store: raw little-endian `f64`s take 8 bytes a number where JSON
//! takes up to 24, and decode without parsing.
use serde_json::Value;

/// What a sample teaches: a number (regression) or a class (classification).
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// A regression target.
    Value(f64),
    /// A class label, as its JSON text (`"high"` with quotes, or `1`), so
    /// string and number labels round-trip to what the record held.
    Class(String),
}

impl Target {
    /// The label as the JSON value it came from.
    pub fn to_json(&self) -> Value {
        match self {
            Target::Value(v) => Value::from(*v),
            Target::Class(text) => serde_json::from_str(text).unwrap_or(Value::Null),
        }
    }
}

/// One training sample: the feature vector and its target.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Features, in config order.
    pub x: Vec<f64>,
    /// The target.
    pub y: Target,
}

const VALUE_TAG: u8 = 0;
const CLASS_TAG: u8 = 1;

impl Sample {
    /// `x` as little-endian `f64`s, a tag byte, then the target: an `f64`
    /// or the class label's JSON text.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.x.len() * 8 + 9);
        for v in &self.x {
            out.extend_from_slice(&v.to_le_bytes());
        }
        match &self.y {
            Target::Value(v) => {
                out.push(VALUE_TAG);
                out.extend_from_slice(&v.to_le_bytes());
            }
            Target::Class(text) => {
                out.push(CLASS_TAG);
                out.extend_from_slice(text.as_bytes());
            }
        }
        out
    }

    /// The sample of [`Sample::encode`] with `dim` features; `None` when the
    /// bytes are not one.
    pub fn decode(bytes: &[u8], dim: usize) -> Option<Sample> {
        let (xs, rest) = bytes.split_at_checked(dim * 8)?;
        let x = xs.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().unwrap())).collect();
        let (&tag, y) = rest.split_first()?;
        let y = match tag {
            VALUE_TAG => Target::Value(f64::from_le_bytes(y.try_into().ok()?)),
            CLASS_TAG => Target::Class(String::from_utf8(y.to_vec()).ok()?),
            _ => return None,
        };
        Some(Sample { x, y })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_both_kinds_and_refuses_other_shapes() {
        let reg = Sample { x: vec![1.5, -0.0, f64::MAX], y: Target::Value(181.25) };
        let bytes = reg.encode();
        assert_eq!(bytes.len(), 3 * 8 + 1 + 8);
        assert_eq!(Sample::decode(&bytes, 3), Some(reg));
        let cls = Sample { x: vec![2.0], y: Target::Class("\"high\"".into()) };
        assert_eq!(Sample::decode(&cls.encode(), 1), Some(cls.clone()));
        assert_eq!(cls.y.to_json(), Value::from("high"));
        // Written with other features: the length no longer fits.
        assert_eq!(Sample::decode(&bytes, 4), None);
        assert_eq!(Sample::decode(&bytes[..bytes.len() - 1], 3), None);
    }
}
