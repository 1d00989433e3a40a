//! One table destination's insert: which columns, filled from where, cast
//! to what, and the conflict key that makes a replay insert nothing.

use super::config::{TableConfig, ORIGIN_COLUMNS};
use super::schema::{quote_ident, quote_table, Column};
use super::TableRow;
use crate::redact::pointer;

/// Where an inserted value comes from.
#[derive(Debug, Clone)]
enum Source {
    /// A JSON pointer into the output value.
    Field(String),
    Topic,
    Partition,
    Offset,
}

/// The insert of one `[tables.NAME]`, checked against the table.
#[derive(Debug, Clone)]
pub struct Table {
    /// `NAME` of `[tables.NAME]`.
    pub name: String,
    /// The table, as configured (possibly schema-qualified).
    pub table: String,
    /// Insert columns in statement order, and where each value comes from.
    sources: Vec<Source>,
    insert_head: String,
    casts: Vec<String>,
    conflict: String,
    /// Most rows in one statement.
    pub batch_rows: usize,
    /// The conflict key is the input's position: one row per input at most.
    pub keyed_by_origin: bool,
}

/// A JSON value as the text PostgreSQL parses into the column.
fn as_text(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

impl Table {
    /// The insert for `cfg`, whose mapping was checked against `columns`.
    pub fn new(name: &str, cfg: &TableConfig, columns: &[Column]) -> Self {
        let cast_of = |col: &str| {
            columns.iter().find(|c| c.name == col).map(|c| c.base_type.clone()).unwrap_or_default()
        };
        let mut names = Vec::new();
        let mut sources = Vec::new();
        for (col, field) in &cfg.columns {
            names.push(col.clone());
            sources.push(Source::Field(pointer(field)));
        }
        if cfg.keyed_by_origin() {
            names.extend(ORIGIN_COLUMNS.iter().map(|c| c.to_string()));
            sources.extend([Source::Topic, Source::Partition, Source::Offset]);
        }
        let casts = names.iter().map(|c| cast_of(c)).collect();
        let quoted = names.iter().map(|c| quote_ident(c)).collect::<Vec<_>>().join(", ");
        let key = cfg.key_columns().iter().map(|c| quote_ident(c)).collect::<Vec<_>>().join(", ");
        Table {
            name: name.to_string(),
            table: cfg.table.clone(),
            sources,
            insert_head: format!("insert into {} ({quoted}) values ", quote_table(&cfg.table)),
            casts,
            conflict: format!(" on conflict ({key}) do nothing"),
            // PostgreSQL takes at most 65,535 parameters per statement.
            batch_rows: cfg.batch_rows.min(65_535 / names.len().max(1)).max(1),
            keyed_by_origin: cfg.keyed_by_origin(),
        }
    }

    /// Values per row.
    pub fn width(&self) -> usize {
        self.casts.len()
    }

    /// The insert of `rows` rows, parameters as text cast to each column.
    pub fn insert(&self, rows: usize) -> String {
        let width = self.width();
        let mut sql = self.insert_head.clone();
        for r in 0..rows {
            sql.push_str(if r == 0 { "(" } else { ", (" });
            for (c, cast) in self.casts.iter().enumerate() {
                let sep = if c == 0 { "" } else { ", " };
                sql.push_str(&format!("{sep}${}::{cast}", r * width + c + 1));
            }
            sql.push(')');
        }
        sql.push_str(&self.conflict);
        sql
    }

    /// A statement that plans the insert without running it: it checks
    /// what preparing does not (a conflict key with no unique index).
    pub fn explain(&self) -> String {
        let nulls = self.casts.iter().map(|c| format!("null::{c}")).collect::<Vec<_>>();
        format!("explain {}({}){}", self.insert_head, nulls.join(", "), self.conflict)
    }

    /// The row's values as text, or why the output cannot be a row.
    pub fn values(&self, row: &TableRow<'_>) -> Result<Vec<Option<String>>, String> {
        let json: serde_json::Value = serde_json::from_slice(row.value)
            .map_err(|e| format!("the output for table {} is not JSON ({e})", self.table))?;
        if !json.is_object() {
            return Err(format!("the output for table {} is not a JSON object", self.table));
        }
        Ok(self
            .sources
            .iter()
            .map(|s| match s {
                Source::Field(p) => json.pointer(p).and_then(as_text),
                Source::Topic => Some(row.topic.to_string()),
                Source::Partition => Some(row.partition.to_string()),
                Source::Offset => Some(row.offset.to_string()),
            })
            .collect())
    }
}
