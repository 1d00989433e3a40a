//! Column transformers: scalers, the imputer and the categorical encoders.
use crate::value::{Cell, Data, F64};
use serde::Deserialize;

/// `StandardScaler`: `(x - mean_) / scale_` in float64, each step skipped
/// when scikit-learn skips it (`with_mean`/`with_std` false export `null`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StandardScaler {
    /// `mean_`, or `null` when `with_mean=False`.
    pub mean: Option<Vec<f64>>,
    /// `scale_`, or `null` when `with_std=False`.
    pub scale: Option<Vec<f64>>,
}

impl StandardScaler {
    /// Scale one row.
    pub fn transform(&self, x: Data) -> Result<Data, String> {
        let mut x = x.into_dense("StandardScaler")?;
        let width = self.mean.as_ref().or(self.scale.as_ref()).map_or(x.len(), Vec::len);
        expect_width("StandardScaler", width, x.len())?;
        if let Some(mean) = &self.mean {
            x.iter_mut().zip(mean).for_each(|(v, m)| *v -= m);
        }
        if let Some(scale) = &self.scale {
            x.iter_mut().zip(scale).for_each(|(v, s)| *v /= s);
        }
        Ok(Data::Dense(x))
    }
}

/// `MinMaxScaler`: `x * scale_ + min_`, then clipped to `feature_range`
/// when `clip=True`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MinMaxScaler {
    /// `scale_`.
    pub scale: Vec<f64>,
    /// `min_`.
    pub min: Vec<f64>,
    /// `feature_range` when `clip=True`.
    pub clip: Option<(f64, f64)>,
}

impl MinMaxScaler {
    /// Scale one row.
    pub fn transform(&self, x: Data) -> Result<Data, String> {
        let mut x = x.into_dense("MinMaxScaler")?;
        expect_width("MinMaxScaler", self.scale.len(), x.len())?;
        for ((v, s), m) in x.iter_mut().zip(&self.scale).zip(&self.min) {
            *v *= s;
            *v += m;
            if let Some((lo, hi)) = self.clip {
                // np.clip keeps NaN.
                *v = if *v < lo {
                    lo
                } else if *v > hi {
                    hi
                } else {
                    *v
                };
            }
        }
        Ok(Data::Dense(x))
    }
}

/// `SimpleImputer` with NaN/None as the missing marker: a missing cell takes
/// `statistics_`; columns whose statistic is missing (all-missing in fit)
/// are dropped, as scikit-learn drops them.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimpleImputer {
    /// `statistics_`, one per input column.
    pub statistics: Vec<Cell>,
}

impl SimpleImputer {
    /// Fill one row.
    pub fn transform(&self, x: Data) -> Result<Data, String> {
        let numeric = matches!(x, Data::Dense(_) | Data::Sparse(..));
        let cells = x.into_cells("SimpleImputer")?;
        expect_width("SimpleImputer", self.statistics.len(), cells.len())?;
        let out: Vec<Cell> = cells
            .into_iter()
            .zip(&self.statistics)
            .filter(|(_, s)| **s != Cell::Missing)
            .map(|(c, s)| if c == Cell::Missing { s.clone() } else { c })
            .collect();
        let all_numbers = out.iter().all(|c| matches!(c, Cell::Num(_)));
        if numeric || all_numbers {
            Ok(Data::Dense(Data::Cells(out).into_dense("SimpleImputer")?))
        } else {
            Ok(Data::Cells(out))
        }
    }
}

/// How an encoder meets a category it did not see in fit.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unknown {
    /// Refuse the record.
    Error,
    /// `OneHotEncoder`: all zeros for the column.
    Ignore,
    /// `OrdinalEncoder`: `unknown_value`.
    UseEncodedValue,
}

fn position(categories: &[Cell], cell: &Cell) -> Option<usize> {
    categories.iter().position(|c| c.same_category(cell))
}

fn unknown(step: &str, column: usize, cell: &Cell) -> String {
    format!(
        "{step}: column {column} holds {} which the model never saw in training \
         (the encoder has handle_unknown='error')",
        cell.to_json()
    )
}

/// `OneHotEncoder` (no infrequent categories; the exporter refuses them).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OneHotEncoder {
    /// `categories_`.
    pub categories: Vec<Vec<Cell>>,
    /// `handle_unknown` (`error` or `ignore`).
    pub handle_unknown: Unknown,
    /// `drop_idx_` per column (`null` entries drop nothing), or `null`.
    pub drop_idx: Option<Vec<Option<usize>>>,
}

impl OneHotEncoder {
    /// Encode one row as a sparse row (scikit-learn's default output).
    pub fn transform(&self, x: Data) -> Result<Data, String> {
        let cells = x.into_cells("OneHotEncoder")?;
        expect_width("OneHotEncoder", self.categories.len(), cells.len())?;
        let mut entries = Vec::new();
        let mut offset = 0;
        for (col, (cell, cats)) in cells.iter().zip(&self.categories).enumerate() {
            let drop = self.drop_idx.as_ref().and_then(|d| d[col]);
            let width = cats.len() - usize::from(drop.is_some());
            match position(cats, cell) {
                Some(i) if Some(i) != drop => {
                    let i = if drop.is_some_and(|d| i > d) { i - 1 } else { i };
                    entries.push((offset + i, 1.0));
                }
                Some(_) => {}
                None if self.handle_unknown == Unknown::Error => {
                    return Err(unknown("OneHotEncoder", col, cell))
                }
                None => {}
            }
            offset += width;
        }
        Ok(Data::Sparse(entries, offset))
    }
}

/// `OrdinalEncoder`: category index as float64.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrdinalEncoder {
    /// `categories_`.
    pub categories: Vec<Vec<Cell>>,
    /// `handle_unknown` (`error` or `use_encoded_value`).
    pub handle_unknown: Unknown,
    /// `unknown_value` (NaN allowed).
    pub unknown_value: Option<F64>,
    /// `encoded_missing_value` (NaN by default): what a missing cell becomes
    /// when missing was a category in fit (otherwise it is unknown).
    pub encoded_missing_value: F64,
}

impl OrdinalEncoder {
    /// Encode one row.
    pub fn transform(&self, x: Data) -> Result<Data, String> {
        let cells = x.into_cells("OrdinalEncoder")?;
        expect_width("OrdinalEncoder", self.categories.len(), cells.len())?;
        let mut out = Vec::with_capacity(cells.len());
        for (col, (cell, cats)) in cells.iter().zip(&self.categories).enumerate() {
            out.push(match position(cats, cell) {
                Some(_) if *cell == Cell::Missing => self.encoded_missing_value.0,
                Some(i) => i as f64,
                None => match (self.handle_unknown, self.unknown_value) {
                    (Unknown::UseEncodedValue, Some(v)) => v.0,
                    _ => return Err(unknown("OrdinalEncoder", col, cell)),
                },
            });
        }
        Ok(Data::Dense(out))
    }
}

/// A row of the wrong width means the document and the pipeline disagree.
pub fn expect_width(step: &str, want: usize, got: usize) -> Result<(), String> {
    if want == got {
        Ok(())
    } else {
        Err(format!("{step}: fitted on {want} columns, given {got}"))
    }
}
