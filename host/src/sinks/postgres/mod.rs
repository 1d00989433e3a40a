//! PostgreSQL tables as destinations.
//!
//! Rows are written in multi-row `INSERT … ON CONFLICT (key) DO NOTHING`
//! statements: at-least-once delivery becomes exactly-once rows, because a
//! replayed input carries the same key (by default its topic, partition and
//! offset) and inserts nothing. Values travel as text and are cast by the
//! server to each column's type, so a value the column cannot hold is
//! refused with the database's own message.
//!
//! The tables of one database share a [`Database`]: one connection, and one
//! transaction per write, so the rows an input produced for several tables
//! (seed 003: a `users` row and an `events` row for a registration) are
//! stored together or not at all. A write answers per row: stored (or
//! already there), refused with the database's reason (the caller
//! dead-letters its input), or withdrawn because another row of the same
//! input was refused. A transaction that fails on data or a constraint is
//! done again input by input under savepoints to find which inputs the
//! database refuses; any other failure (connection lost, server shutting
//! down) is [`Unavailable`]: nothing is settled and the caller retries the
//! whole write, which the conflict key makes harmless.

pub mod config;
pub mod schema;
pub mod table;
pub mod tls;

pub use config::{TableConfig, ORIGIN_COLUMNS};
pub use table::Table;

use crate::sinks::health::SinkHealth;
use anyhow::{Context, Result};
use postgres::types::{ToSql, Type};
use postgres::{Client, Statement, Transaction};
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// The database cannot be reached or is not accepting writes right now;
/// retry later. Nothing of the write may be settled.
#[derive(Debug, thiserror::Error)]
#[error("PostgreSQL unavailable for table {table}: {reason}")]
pub struct Unavailable {
    /// The tables written to.
    pub table: String,
    /// What failed, as the client or server said it.
    pub reason: String,
}

/// One output bound for a table, with the input that produced it.
#[derive(Debug, Clone, Copy)]
pub struct TableRow<'a> {
    /// Index of its table in the [`Database`] (the order it was opened with).
    pub table: usize,
    /// Input topic.
    pub topic: &'a str,
    /// Input partition.
    pub partition: i32,
    /// Input offset.
    pub offset: i64,
    /// The output's value: a JSON object.
    pub value: &'a [u8],
}

impl TableRow<'_> {
    fn input(&self) -> (&str, i32, i64) {
        (self.topic, self.partition, self.offset)
    }
}

/// What happened to one row of a write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowResult {
    /// Inserted, or already there under the same conflict key.
    Stored,
    /// Refused; the reason is the database's message (or why the value
    /// could not become a row).
    Refused(String),
    /// Not stored because another row of the same input was refused: an
    /// input's rows are stored together or not at all.
    Withdrawn,
}

/// The tables of one database, with their shared connection.
pub struct Database {
    tables: Vec<Table>,
    connect: postgres::Config,
    tls: tls::Tls,
    client: Option<Client>,
    /// Prepared inserts by (table, row count): full chunks and the tails seen.
    statements: HashMap<(usize, usize), Statement>,
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

/// Rows ready to insert: (row index, values), grouped by input in order.
type Ready = Vec<Vec<(usize, Vec<Option<String>>)>>;

/// A row's values, or why the output cannot be a row.
type Values = Result<Vec<Option<String>>, String>;

/// The rows of one input: (topic, partition, offset) and (row index, values).
type InputRows<'a> = ((&'a str, i32, i64), Vec<(usize, Values)>);

fn params(values: &[Option<String>]) -> impl Iterator<Item = &(dyn ToSql + Sync)> {
    values.iter().map(|x| x as &(dyn ToSql + Sync))
}

impl Database {
    /// Connect once for `tables` (all with the same connection settings),
    /// check each mapping against its table and plan each insert. A mapping
    /// the table does not match is refused naming the column.
    pub fn open(tables: &[(&str, &TableConfig)], base_dir: &Path) -> Result<Self> {
        let (name, first) = *tables.first().context("a database needs at least one table")?;
        let mut connect: postgres::Config = first
            .url
            .parse()
            .with_context(|| format!("[tables.{name}] url is not a PostgreSQL connection URL"))?;
        if let Some(pw) = first.password(base_dir)? {
            connect.password(pw);
        }
        // `wasp` names the connection in pg_stat_activity unless the URL does.
        if connect.get_application_name().is_none() {
            connect.application_name("wasp");
        }
        connect.connect_timeout(Duration::from_secs(5));
        let tls = tls::Tls::for_table(name, first, &connect, base_dir)?;
        let mut client = tls
            .connect(&connect)
            .with_context(|| format!("[tables.{name}] cannot connect to PostgreSQL"))?;
        let mut checked = Vec::with_capacity(tables.len());
        for (name, cfg) in tables {
            cfg.validate(name)?;
            let columns = schema::describe(&mut client, &cfg.table)?;
            schema::check(name, cfg, &columns)?;
            let table = Table::new(name, cfg, &columns);
            client.batch_execute(&table.explain()).map_err(|e| {
                anyhow::anyhow!(
                    "[tables.{name}] the insert into {} is refused: {}",
                    cfg.table,
                    reason(&e)
                )
            })?;
            checked.push(table);
        }
        Ok(Database {
            tables: checked,
            connect,
            tls,
            client: Some(client),
            statements: HashMap::new(),
        })
    }

    /// The tables, in the order they were opened with.
    pub fn tables(&self) -> &[Table] {
        &self.tables
    }

    fn unavailable(&mut self, e: &postgres::Error) -> Unavailable {
        // The connection may be broken: the next write connects afresh.
        self.client = None;
        self.statements.clear();
        self.outage(reason(e))
    }

    fn outage(&self, reason: String) -> Unavailable {
        let names: Vec<&str> = self.tables.iter().map(|t| t.table.as_str()).collect();
        Unavailable { table: names.join(", "), reason }
    }

    fn client(&mut self) -> Result<&mut Client, Unavailable> {
        if self.client.as_ref().is_none_or(Client::is_closed) {
            self.statements.clear();
            let connected = self.tls.connect(&self.connect);
            self.client = Some(connected.map_err(|e| self.outage(reason(&e)))?);
        }
        Ok(self.client.as_mut().expect("connected above"))
    }

    /// The prepared insert of `rows` rows into table `t`.
    fn statement(&mut self, t: usize, rows: usize) -> Result<Statement, Unavailable> {
        if let Some(s) = self.statements.get(&(t, rows)) {
            return Ok(s.clone());
        }
        let sql = self.tables[t].insert(rows);
        let types = vec![Type::TEXT; rows * self.tables[t].width()];
        let prepared = self.client()?.prepare_typed(&sql, &types);
        let s = prepared.map_err(|e| self.unavailable(&e))?;
        self.statements.insert((t, rows), s.clone());
        Ok(s)
    }

    /// Write rows, in one transaction; the answer has one [`RowResult`]
    /// per row, in order. `Err` means nothing may be settled: retry the
    /// whole write.
    pub fn write(&mut self, rows: &[TableRow<'_>]) -> Result<Vec<RowResult>, Unavailable> {
        let mut results = vec![RowResult::Stored; rows.len()];
        let ready = self.prepare_rows(rows, &mut results);
        if ready.is_empty() {
            return Ok(results);
        }
        match self.insert_all(rows, &ready)? {
            Ok(()) => Ok(results),
            Err(e) if refuses_row(&e) => {
                self.insert_input_by_input(rows, &ready, &mut results)?;
                Ok(results)
            }
            Err(e) => Err(self.unavailable(&e)),
        }
    }

    /// Each row's values, grouped by input; an input with a row that
    /// cannot be one is refused whole before the database sees it.
    fn prepare_rows(&self, rows: &[TableRow<'_>], results: &mut [RowResult]) -> Ready {
        let mut groups: Vec<InputRows<'_>> = Vec::new();
        let mut seen = HashSet::new();
        for (i, row) in rows.iter().enumerate() {
            let table = &self.tables[row.table];
            let values = if table.keyed_by_origin && !seen.insert((row.table, row.input())) {
                Err(format!(
                    "input {}/{}/{} produced more than one row for table {}, whose conflict key is the input's position: set conflict_key in [tables.{}]",
                    row.topic, row.partition, row.offset, table.table, table.name
                ))
            } else {
                table.values(row)
            };
            match groups.last_mut() {
                Some((input, g)) if *input == row.input() => g.push((i, values)),
                _ => groups.push((row.input(), vec![(i, values)])),
            }
        }
        let mut ready = Vec::with_capacity(groups.len());
        for (_, group) in groups {
            if group.iter().any(|(_, v)| v.is_err()) {
                for (i, v) in group {
                    results[i] = match v {
                        Err(why) => RowResult::Refused(why),
                        Ok(_) => RowResult::Withdrawn,
                    };
                }
            } else {
                ready.push(group.into_iter().map(|(i, v)| (i, v.expect("checked"))).collect());
            }
        }
        ready
    }

    /// Every ready row in multi-row inserts, in one transaction: the inner
    /// result is the transaction's, the outer one preparing the statements.
    fn insert_all(
        &mut self,
        rows: &[TableRow<'_>],
        ready: &Ready,
    ) -> Result<Result<(), postgres::Error>, Unavailable> {
        let mut by_table: Vec<Vec<&Vec<Option<String>>>> = vec![Vec::new(); self.tables.len()];
        for (i, values) in ready.iter().flatten() {
            by_table[rows[*i].table].push(values);
        }
        let mut work = Vec::new();
        for (t, values) in by_table.iter().enumerate() {
            for chunk in values.chunks(self.tables[t].batch_rows) {
                let statement = self.statement(t, chunk.len())?;
                work.push((statement, chunk));
            }
        }
        let client = self.client()?;
        Ok((|| {
            let mut tx = client.transaction()?;
            for (statement, chunk) in work {
                let p: Vec<_> = chunk.iter().flat_map(|v| params(v)).collect();
                tx.execute(&statement, &p)?;
            }
            tx.commit()
        })())
    }

    /// A transaction the database refused as a whole: insert input by
    /// input, each under a savepoint, to store the good inputs and name the
    /// database's reason for each bad one (its other rows are withdrawn).
    fn insert_input_by_input(
        &mut self,
        rows: &[TableRow<'_>],
        ready: &Ready,
        results: &mut [RowResult],
    ) -> Result<(), Unavailable> {
        let mut single = HashMap::new();
        for (i, _) in ready.iter().flatten() {
            let t = rows[*i].table;
            if let std::collections::hash_map::Entry::Vacant(e) = single.entry(t) {
                e.insert(self.statement(t, 1)?);
            }
        }
        let mut refused = Vec::new();
        let done = (|| -> Result<(), postgres::Error> {
            let client = self.client.as_mut().expect("connected by statement()");
            let mut tx = client.transaction()?;
            for group in ready {
                if let Some(why) = insert_input(&mut tx, rows, group, &single)? {
                    refused.push((group, why));
                }
            }
            tx.commit()
        })();
        match done {
            Ok(()) => {
                for (group, (failing, why)) in refused {
                    for (i, _) in group {
                        results[*i] = match *i == failing {
                            true => RowResult::Refused(why.clone()),
                            false => RowResult::Withdrawn,
                        };
                    }
                }
                Ok(())
            }
            Err(e) => Err(self.unavailable(&e)),
        }
    }

    /// [`write`](Self::write) until the database takes it, waiting between
    /// attempts (doubling from 100 ms to 5 s). `stop` is asked before each
    /// wait; when it says so, the last [`Unavailable`] is returned. Every
    /// attempt's outcome goes to the health of the tables written
    /// (`health[t]` for table `t`).
    pub fn write_retrying(
        &mut self,
        rows: &[TableRow<'_>],
        stop: &dyn Fn() -> bool,
        health: &[Arc<SinkHealth>],
    ) -> Result<Vec<RowResult>, Unavailable> {
        let written: HashSet<usize> = rows.iter().map(|r| r.table).collect();
        let mut wait = Duration::from_millis(100);
        loop {
            match self.write(rows) {
                Ok(results) => {
                    for &t in &written {
                        let mine = || rows.iter().zip(&results).filter(move |(r, _)| r.table == t);
                        let stored = mine().filter(|(_, r)| **r == RowResult::Stored).count();
                        let refused =
                            mine().filter(|(_, r)| matches!(r, RowResult::Refused(_))).count();
                        health[t].written(stored as u64, refused as u64);
                    }
                    return Ok(results);
                }
                Err(e) => {
                    for &t in &written {
                        health[t].failed(&e.reason);
                    }
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

/// One input's rows under a savepoint: `Some((row, reason))` when the
/// database refused one of them (the savepoint is rolled back).
fn insert_input(
    tx: &mut Transaction<'_>,
    rows: &[TableRow<'_>],
    group: &[(usize, Vec<Option<String>>)],
    single: &HashMap<usize, Statement>,
) -> Result<Option<(usize, String)>, postgres::Error> {
    let mut sp = tx.savepoint("input")?;
    for (i, values) in group {
        let p: Vec<_> = params(values).collect();
        match sp.execute(&single[&rows[*i].table], &p) {
            Ok(_) => {}
            Err(e) if refuses_row(&e) => {
                sp.rollback()?;
                return Ok(Some((*i, reason(&e))));
            }
            Err(e) => return Err(e),
        }
    }
    sp.commit()?;
    Ok(None)
}
