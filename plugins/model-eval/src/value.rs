//! The values that flow between pipeline steps: raw record cells before
//! encoding, text, and numeric rows (dense or sparse, as scikit-learn keeps
//! them, because the order of a sparse row's entries is the order sums run).
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// One input cell, as a record field or a fitted category holds it.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// A number (JSON number; NaN is [`Cell::Missing`]).
    Num(f64),
    /// Text.
    Str(String),
    /// Absent, JSON `null`, or NaN: what scikit-learn sees as NaN or `None`.
    Missing,
}

impl Cell {
    /// The cell of a JSON value; booleans count as 0/1 like numpy does.
    pub fn from_json(v: Option<&Value>) -> Result<Cell, String> {
        Ok(match v {
            None | Some(Value::Null) => Cell::Missing,
            Some(Value::Number(n)) => match n.as_f64() {
                Some(x) if !x.is_nan() => Cell::Num(x),
                _ => Cell::Missing,
            },
            Some(Value::String(s)) => Cell::Str(s.clone()),
            Some(Value::Bool(b)) => Cell::Num(f64::from(u8::from(*b))),
            Some(other) => return Err(format!("holds {other}, expected a number or text")),
        })
    }

    /// The cell as JSON, for messages.
    pub fn to_json(&self) -> Value {
        match self {
            Cell::Num(x) => serde_json::Number::from_f64(*x).map_or(Value::Null, Value::Number),
            Cell::Str(s) => Value::String(s.clone()),
            Cell::Missing => Value::Null,
        }
    }

    /// A category equal to this cell: numbers numerically, text exactly,
    /// missing with missing (scikit-learn keeps NaN/None as a category).
    pub fn same_category(&self, other: &Cell) -> bool {
        match (self, other) {
            (Cell::Num(a), Cell::Num(b)) => a == b,
            (Cell::Str(a), Cell::Str(b)) => a == b,
            (Cell::Missing, Cell::Missing) => true,
            _ => false,
        }
    }
}

impl<'de> Deserialize<'de> for Cell {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Cell::from_json(Some(&Value::deserialize(d)?)).map_err(serde::de::Error::custom)
    }
}

/// A float the exporter may write as `"NaN"`, `"Infinity"` or `"-Infinity"`
/// (JSON has no such numbers).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct F64(pub f64);

impl<'de> Deserialize<'de> for F64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::Number(n) => n
                .as_f64()
                .map(F64)
                .ok_or_else(|| serde::de::Error::custom(format!("{n} is not a float"))),
            Value::String(s) => match s.as_str() {
                "NaN" => Ok(F64(f64::NAN)),
                "Infinity" => Ok(F64(f64::INFINITY)),
                "-Infinity" => Ok(F64(f64::NEG_INFINITY)),
                _ => Err(serde::de::Error::custom(format!("{s:?} is not a float"))),
            },
            other => Err(serde::de::Error::custom(format!("{other} is not a float"))),
        }
    }
}

/// What a step receives and returns.
#[derive(Debug, Clone, PartialEq)]
pub enum Data {
    /// Raw cells in the step's column order.
    Cells(Vec<Cell>),
    /// One document (a vectorizer's input).
    Text(String),
    /// A dense numeric row.
    Dense(Vec<f64>),
    /// A sparse numeric row: (column, value) in increasing column order,
    /// and the row's width.
    Sparse(Vec<(usize, f64)>, usize),
}

impl Data {
    /// Number of columns.
    pub fn width(&self) -> usize {
        match self {
            Data::Cells(c) => c.len(),
            Data::Text(_) => 1,
            Data::Dense(x) => x.len(),
            Data::Sparse(_, w) => *w,
        }
    }

    /// The row as cells (numbers stay numbers, NaN becomes missing).
    pub fn into_cells(self, step: &str) -> Result<Vec<Cell>, String> {
        match self {
            Data::Cells(c) => Ok(c),
            Data::Text(t) => Ok(vec![Cell::Str(t)]),
            other => Ok(other
                .into_dense(step)?
                .into_iter()
                .map(|x| if x.is_nan() { Cell::Missing } else { Cell::Num(x) })
                .collect()),
        }
    }

    /// The row as float64, as `check_array` makes it: missing is NaN, text
    /// is refused.
    pub fn into_dense(self, step: &str) -> Result<Vec<f64>, String> {
        match self {
            Data::Dense(x) => Ok(x),
            Data::Sparse(entries, width) => {
                let mut x = vec![0.0; width];
                for (j, v) in entries {
                    x[j] = v;
                }
                Ok(x)
            }
            Data::Cells(cells) => cells
                .into_iter()
                .enumerate()
                .map(|(i, c)| match c {
                    Cell::Num(x) => Ok(x),
                    Cell::Missing => Ok(f64::NAN),
                    Cell::Str(s) => Err(format!(
                        "{step}: column {i} holds text {s:?} where a number is expected"
                    )),
                })
                .collect(),
            Data::Text(_) => Err(format!("{step}: expects numbers, got a text document")),
        }
    }
}

/// Refuse a row with NaN for estimators that scikit-learn refuses it for.
pub fn finite(step: &str, x: &[f64]) -> Result<(), String> {
    match x.iter().position(|v| !v.is_finite()) {
        Some(i) => Err(format!(
            "{step}: column {i} is missing or not finite after preprocessing; \
             this estimator does not accept missing values (add a SimpleImputer)"
        )),
        None => Ok(()),
    }
}
