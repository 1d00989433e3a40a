//! The table as the database describes it, and the check of a mapping
//! against it at start: every mapped column exists and can be filled from
//! JSON, the default key's columns are there, and no NOT NULL column without
//! a default is left unmapped. A refusal names the column.

use super::config::{TableConfig, ORIGIN_COLUMNS};
use anyhow::{bail, Context, Result};
use postgres::Client;

/// One column of the table.
#[derive(Debug, Clone)]
pub struct Column {
    /// Column name.
    pub name: String,
    /// Its type without modifiers (`character varying`, not `(15)`): values
    /// are cast to it, and the column's own modifiers then apply on
    /// assignment, so an over-long string is refused rather than cut.
    pub base_type: String,
    /// Its type as declared, for messages.
    pub declared: String,
    /// `pg_type.typcategory`: S string, N numeric, B boolean, D date/time, …
    category: i8,
    /// NOT NULL with no default, identity or generation: must be mapped.
    pub required: bool,
}

/// The quoted, possibly schema-qualified table name.
pub fn quote_table(table: &str) -> String {
    table.split('.').map(quote_ident).collect::<Vec<_>>().join(".")
}

/// An identifier in double quotes, as PostgreSQL wants it.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The table's columns, in table order; an error if there is no such table.
pub fn describe(client: &mut Client, table: &str) -> Result<Vec<Column>> {
    let rows = client
        .query(
            "select a.attname::text, format_type(a.atttypid, null), \
                    format_type(a.atttypid, a.atttypmod), t.typcategory::\"char\", \
                    a.attnotnull and not a.atthasdef and a.attidentity = '' \
                        and a.attgenerated = '' \
             from pg_attribute a join pg_type t on t.oid = a.atttypid \
             where a.attrelid = to_regclass($1) and a.attnum > 0 and not a.attisdropped \
             order by a.attnum",
            &[&quote_table(table)],
        )
        .with_context(|| format!("reading the columns of table {table}"))?;
    if rows.is_empty() {
        bail!(
            "table {table} does not exist (or has no columns) in the database: create it first (docs/sinks.md shows a CREATE TABLE)"
        );
    }
    Ok(rows
        .iter()
        .map(|r| Column {
            name: r.get(0),
            base_type: r.get(1),
            declared: r.get(2),
            category: r.get(3),
            required: r.get(4),
        })
        .collect())
}

/// Whether a JSON value, as text, can fill a column of this type.
fn fillable(c: &Column) -> bool {
    // Arrays, composites, pseudo-types and bytea have text forms JSON values
    // do not carry; everything else parses from text (numbers, booleans,
    // times, json/jsonb, uuid, enums, network types).
    !matches!(c.category as u8, b'A' | b'C' | b'P' | b'X') && c.base_type != "bytea"
}

/// Check the mapping of `cfg` against the table's columns.
pub fn check(name: &str, cfg: &TableConfig, columns: &[Column]) -> Result<()> {
    let find = |col: &str| columns.iter().find(|c| c.name == col);
    let listed = || columns.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", ");
    for (col, field) in &cfg.columns {
        let Some(c) = find(col) else {
            bail!(
                "[tables.{name}] maps field '{field}' to column '{col}', but table {} has no column '{col}' (its columns: {})",
                cfg.table,
                listed()
            );
        };
        if !fillable(c) {
            bail!(
                "[tables.{name}] column '{col}' of table {} has type {}, which a JSON field cannot fill: map it to a text, number, boolean, time or json column",
                cfg.table,
                c.declared
            );
        }
    }
    if cfg.keyed_by_origin() {
        for (col, category, want) in [
            (ORIGIN_COLUMNS[0], b'S', "text"),
            (ORIGIN_COLUMNS[1], b'N', "integer"),
            (ORIGIN_COLUMNS[2], b'N', "bigint"),
        ] {
            match find(col) {
                Some(c) if c.category as u8 == category => {}
                Some(c) => bail!(
                    "[tables.{name}] column '{col}' of table {} has type {}, but holds the input's position: make it {want}",
                    cfg.table,
                    c.declared
                ),
                None => bail!(
                    "[tables.{name}] table {} has no column '{col}', which the default conflict key needs: add `{col} {want}` and a unique key on ({}), or set conflict_key",
                    cfg.table,
                    ORIGIN_COLUMNS.join(", ")
                ),
            }
        }
    }
    let origin = |c: &str| cfg.keyed_by_origin() && ORIGIN_COLUMNS.contains(&c);
    if let Some(c) = columns
        .iter()
        .find(|c| c.required && !cfg.columns.contains_key(&c.name) && !origin(&c.name))
    {
        bail!(
            "[tables.{name}] column '{}' of table {} is NOT NULL without a default, and no field is mapped to it: add it to [tables.{name}.columns]",
            c.name,
            cfg.table
        );
    }
    Ok(())
}
