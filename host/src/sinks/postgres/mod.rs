//! A PostgreSQL table as a destination.
//!
//! Rows are written in multi-row `INSERT … ON CONFLICT (key) DO NOTHING`
//! statements: at-least-once delivery becomes exactly-once rows, because a
//! replayed input carries the same key (by default its topic, partition and
//! offset) and inserts nothing. Values travel as text and are cast by the
//! server to each column's type, so a value the column cannot hold is
//! refused with the database's own message.
//!
//! A write answers per row: stored (or already there), or refused with the
//! database's reason (the caller dead-letters its input). A statement that
//! fails on data or a constraint is retried row by row under savepoints to
//! find which rows the database refuses; any other failure (connection lost,
//! server shutting down) is [`Unavailable`]: nothing is settled and the
//! caller retries the whole write, which the conflict key makes harmless.

pub mod config;
pub mod schema;
pub mod tls;

pub use config::{TableConfig, ORIGIN_COLUMNS};

use crate::redact::pointer;
use crate::sinks::health::SinkHealth;
use anyhow::{Context, Result};
use postgres::types::Type;
use postgres::{Client, Statement};
use schema::{quote_ident, quote_table};
use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

/// The database cannot be reached or is not accepting writes right now;
/// retry later. Nothing of the write may be settled.
#[derive(Debug, thiserror::Error)]
#[error("PostgreSQL unavailable for table {table}: {reason}")]
pub struct Unavailable {
    /// The table written to.
    pub table: String,
    /// What failed, as the client or server said it.
    pub reason: String,
}

/// One output bound for the table, with the input that produced it.
#[derive(Debug, Clone, Copy)]
pub struct TableRow<'a> {
    /// Input topic.
    pub topic: &'a str,
    /// Input partition.
    pub partition: i32,
    /// Input offset.
    pub offset: i64,
    /// The output's value: a JSON object.
    pub value: &'a [u8],
}

/// What happened to one row of a write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowResult {
    /// Inserted, or already there under the same conflict key.
    Stored,
    /// Refused; the reason is the database's message (or why the value
    /// could not become a row).
    Refused(String),
}

/// Where an inserted value comes from.
#[derive(Debug, Clone)]
enum Source {
    /// A JSON pointer into the output value.
    Field(String),
    Topic,
    Partition,
    Offset,
}

/// A table destination with its connection.
pub struct TableSink {
    name: String,
    table: String,
    connect: postgres::Config,
    tls: tls::Tls,
    client: Option<Client>,
    /// Insert columns in statement order, and where each value comes from.
    sources: Vec<Source>,
    insert_head: String,
    casts: Vec<String>,
    conflict: String,
    batch_rows: usize,
    keyed_by_origin: bool,
    /// Prepared inserts by row count (the full batch and the tails seen).
    statements: HashMap<usize, Statement>,
}

/// SQLSTATE classes of a row's own fault: data exceptions (22) and
/// integrity constraint violations (23). Anything else is not the row's.
fn refuses_row(e: &postgres::Error) -> bool {
    e.code().is_some_and(|c| {
        let c = c.code();
        c.starts_with("22") || c.starts_with("23")
    })
}

/// The database's message (with detail), or the client's.
fn reason(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => match db.detail() {
            Some(d) => format!("{} ({d})", db.message()),
            None => db.message().to_string(),
        },
        None => e.to_string(),
    }
}

/// A JSON value as the text PostgreSQL parses into the column.
fn as_text(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

impl TableSink {
    /// Connect, check the mapping against the table and prepare the insert.
    /// A mapping the table does not match is refused naming the column.
    pub fn open(name: &str, cfg: &TableConfig, base_dir: &Path) -> Result<Self> {
        cfg.validate(name)?;
        let mut connect: postgres::Config = cfg
            .url
            .parse()
            .with_context(|| format!("[tables.{name}] url is not a PostgreSQL connection URL"))?;
        if let Some(pw) = cfg.password(base_dir)? {
            connect.password(pw);
        }
        connect.application_name("wasp").connect_timeout(Duration::from_secs(5));
        let tls = tls::Tls::for_table(name, cfg, &connect, base_dir)?;
        let mut client = tls
            .connect(&connect)
            .with_context(|| format!("[tables.{name}] cannot connect to PostgreSQL"))?;
        let columns = schema::describe(&mut client, &cfg.table)?;
        schema::check(name, cfg, &columns)?;

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
        let mut sink = TableSink {
            name: name.to_string(),
            table: cfg.table.clone(),
            connect,
            tls,
            client: Some(client),
            sources,
            insert_head: format!("insert into {} ({quoted}) values ", quote_table(&cfg.table)),
            casts,
            conflict: format!(" on conflict ({key}) do nothing"),
            batch_rows: cfg.batch_rows.min(65_535 / names.len().max(1)).max(1),
            keyed_by_origin: cfg.keyed_by_origin(),
            statements: HashMap::new(),
        };
        // Planning checks what preparing does not: a conflict key without a
        // unique index on it is refused here, in the database's words.
        let nulls = sink.casts.iter().map(|c| format!("null::{c}")).collect::<Vec<_>>();
        let explain =
            format!("explain {}({}){}", sink.insert_head, nulls.join(", "), sink.conflict);
        let planned = sink.client()?.batch_execute(&explain);
        planned.map_err(|e| {
            anyhow::anyhow!(
                "[tables.{name}] the insert into {} is refused: {}",
                cfg.table,
                reason(&e)
            )
        })?;
        Ok(sink)
    }

    /// The destination's name (`[tables.NAME]`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Most rows written in one statement.
    pub fn batch_rows(&self) -> usize {
        self.batch_rows
    }

    fn unavailable(&mut self, e: &postgres::Error) -> Unavailable {
        // The connection may be broken: the next write connects afresh.
        self.client = None;
        self.statements.clear();
        Unavailable { table: self.table.clone(), reason: reason(e) }
    }

    fn client(&mut self) -> Result<&mut Client, Unavailable> {
        if self.client.as_ref().is_none_or(Client::is_closed) {
            self.statements.clear();
            let client = self
                .tls
                .connect(&self.connect)
                .map_err(|e| Unavailable { table: self.table.clone(), reason: reason(&e) })?;
            self.client = Some(client);
        }
        Ok(self.client.as_mut().expect("connected above"))
    }

    /// The prepared insert of `rows` rows.
    fn statement(&mut self, rows: usize) -> Result<Statement, Unavailable> {
        if let Some(s) = self.statements.get(&rows) {
            return Ok(s.clone());
        }
        let width = self.casts.len();
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
        let types = vec![Type::TEXT; rows * width];
        let prepared = self.client()?.prepare_typed(&sql, &types);
        let s = prepared.map_err(|e| self.unavailable(&e))?;
        self.statements.insert(rows, s.clone());
        Ok(s)
    }

    /// The row's values as text, or why the output cannot be a row.
    fn values(&self, row: &TableRow<'_>) -> Result<Vec<Option<String>>, String> {
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

    /// Write rows; the answer has one [`RowResult`] per row, in order.
    /// `Err` means nothing may be settled: retry the whole write.
    pub fn write(&mut self, rows: &[TableRow<'_>]) -> Result<Vec<RowResult>, Unavailable> {
        let mut results = vec![RowResult::Stored; rows.len()];
        let mut ready: Vec<(usize, Vec<Option<String>>)> = Vec::with_capacity(rows.len());
        let mut seen = std::collections::HashSet::new();
        for (i, row) in rows.iter().enumerate() {
            if self.keyed_by_origin && !seen.insert((row.topic, row.partition, row.offset)) {
                results[i] = RowResult::Refused(format!(
                    "input {}/{}/{} produced more than one row for table {}, whose conflict key is the input's position: set conflict_key in [tables.{}]",
                    row.topic, row.partition, row.offset, self.table, self.name
                ));
                continue;
            }
            match self.values(row) {
                Ok(v) => ready.push((i, v)),
                Err(why) => results[i] = RowResult::Refused(why),
            }
        }
        for chunk in ready.chunks(self.batch_rows) {
            let statement = self.statement(chunk.len())?;
            let params: Vec<&(dyn postgres::types::ToSql + Sync)> = chunk
                .iter()
                .flat_map(|(_, v)| v.iter().map(|x| x as &(dyn postgres::types::ToSql + Sync)))
                .collect();
            let outcome = self.client()?.execute(&statement, &params);
            match outcome {
                Ok(_) => {}
                Err(e) if refuses_row(&e) => self.write_one_by_one(chunk, &mut results)?,
                Err(e) => return Err(self.unavailable(&e)),
            }
        }
        Ok(results)
    }

    /// A chunk the database refused as a whole: insert its rows one at a
    /// time, each under a savepoint, to store the good ones and name the
    /// database's reason for each bad one.
    fn write_one_by_one(
        &mut self,
        chunk: &[(usize, Vec<Option<String>>)],
        results: &mut [RowResult],
    ) -> Result<(), Unavailable> {
        let statement = self.statement(1)?;
        let mut refused = Vec::new();
        let done = (|| -> Result<(), postgres::Error> {
            let mut tx = self.client.as_mut().expect("connected by statement()").transaction()?;
            for (i, values) in chunk {
                let mut sp = tx.savepoint("row")?;
                let params: Vec<&(dyn postgres::types::ToSql + Sync)> =
                    values.iter().map(|x| x as &(dyn postgres::types::ToSql + Sync)).collect();
                match sp.execute(&statement, &params) {
                    Ok(_) => sp.commit()?,
                    Err(e) if refuses_row(&e) => {
                        sp.rollback()?;
                        refused.push((*i, reason(&e)));
                    }
                    Err(e) => return Err(e),
                }
            }
            tx.commit()
        })();
        match done {
            Ok(()) => {
                for (i, why) in refused {
                    results[i] = RowResult::Refused(why);
                }
                Ok(())
            }
            Err(e) => Err(self.unavailable(&e)),
        }
    }

    /// [`write`](Self::write) until the database takes it, waiting between
    /// attempts (doubling from 100 ms to 5 s). `stop` is asked before each
    /// wait; when it says so, the last [`Unavailable`] is returned. Every
    /// attempt's outcome goes to `health`.
    pub fn write_retrying(
        &mut self,
        rows: &[TableRow<'_>],
        stop: &dyn Fn() -> bool,
        health: &SinkHealth,
    ) -> Result<Vec<RowResult>, Unavailable> {
        let mut wait = Duration::from_millis(100);
        loop {
            match self.write(rows) {
                Ok(r) => {
                    let refused = r.iter().filter(|r| **r != RowResult::Stored).count();
                    health.written((r.len() - refused) as u64, refused as u64);
                    return Ok(r);
                }
                Err(e) => {
                    health.failed(&e.reason);
                    tracing::warn!("{e}; retrying in {wait:?}, nothing committed meanwhile");
                    if stop() {
                        return Err(e);
                    }
                    std::thread::sleep(wait);
                    wait = (wait * 2).min(Duration::from_secs(5));
                }
            }
        }
    }
}
