//! The `[tables.NAME]` section of a pipeline file: which table, how to
//! connect, which JSON field fills which column, and the conflict key.

use anyhow::{bail, Context, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Columns of the default conflict key: the position of the input that
/// produced the row, so a replay after a crash inserts nothing twice.
pub const ORIGIN_COLUMNS: [&str; 3] = ["source_topic", "source_partition", "source_offset"];

/// One table destination.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableConfig {
    /// Connection URL, `postgres://user@host:port/db` (key-value strings
    /// work too). A password in it is allowed but never required.
    pub url: String,
    /// Environment variable holding the password.
    pub password_env: Option<String>,
    /// File holding the password (first line); relative to the pipeline file.
    pub password_file: Option<PathBuf>,
    /// PEM file of the certificate authority (or the self-signed server
    /// certificate) that `sslmode=require` verifies the server against,
    /// besides the system's roots; relative to the pipeline file.
    #[serde(default)]
    pub ssl_root_cert: Option<PathBuf>,
    /// The table, optionally schema-qualified (`audit.events`).
    pub table: String,
    /// Column → JSON field of the output value. A field starting with `/`
    /// is a JSON pointer (`/user/name`); otherwise a top-level key.
    pub columns: BTreeMap<String, String>,
    /// Columns of a unique key: a row whose key exists is not inserted again.
    /// Default: `source_topic`, `source_partition`, `source_offset`, filled
    /// from the input that produced the row.
    #[serde(default)]
    pub conflict_key: Option<Vec<String>>,
    /// Most rows in one INSERT.
    #[serde(default = "default_batch_rows")]
    pub batch_rows: usize,
}

fn default_batch_rows() -> usize {
    // 500 rows of a handful of columns stays far below PostgreSQL's 65,535
    // parameters per statement while a round trip carries enough rows.
    500
}

impl TableConfig {
    /// Whether the conflict key is the input's position (the default).
    pub fn keyed_by_origin(&self) -> bool {
        self.conflict_key.is_none()
    }

    /// The conflict key's columns.
    pub fn key_columns(&self) -> Vec<String> {
        match &self.conflict_key {
            Some(k) => k.clone(),
            None => ORIGIN_COLUMNS.iter().map(|c| c.to_string()).collect(),
        }
    }

    /// Check what can be checked without the database.
    pub fn validate(&self, name: &str) -> Result<()> {
        if self.columns.is_empty() {
            bail!(
                "[tables.{name}] maps no columns: add `[tables.{name}.columns] column = \"field\"`"
            );
        }
        if self.password_env.is_some() && self.password_file.is_some() {
            bail!("[tables.{name}] sets both password_env and password_file: keep one");
        }
        if self.batch_rows == 0 {
            bail!("[tables.{name}] batch_rows is 0: set at least 1");
        }
        if let Some(key) = &self.conflict_key {
            if key.is_empty() {
                bail!("[tables.{name}] conflict_key is empty: name the unique columns, or leave it out for the input's topic/partition/offset");
            }
            if let Some(c) = key.iter().find(|c| !self.columns.contains_key(*c)) {
                bail!("[tables.{name}] conflict_key column '{c}' is not in [tables.{name}.columns]: map a field to it");
            }
        } else if let Some(c) = ORIGIN_COLUMNS.iter().find(|c| self.columns.contains_key(**c)) {
            bail!("[tables.{name}] maps a field to '{c}', which holds the input's position under the default conflict key: map another column, or set conflict_key");
        }
        Ok(())
    }

    /// `path` as given, or relative to the pipeline file's directory.
    pub fn resolve(path: &Path, base_dir: &Path) -> PathBuf {
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            base_dir.join(path)
        }
    }

    /// The password from `password_env` or `password_file`, if either is set.
    pub fn password(&self, base_dir: &Path) -> Result<Option<String>> {
        if let Some(var) = &self.password_env {
            let pw = std::env::var(var).with_context(|| {
                format!("the PostgreSQL password variable {var} is not set: export it, or use password_file")
            })?;
            return Ok(Some(pw));
        }
        if let Some(p) = &self.password_file {
            let path = Self::resolve(p, base_dir);
            let text = std::fs::read_to_string(&path).with_context(|| {
                format!("cannot read the PostgreSQL password file {}", path.display())
            })?;
            return Ok(Some(text.lines().next().unwrap_or("").to_string()));
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use crate::config::PipelineConfig;

    fn parse(tables: &str) -> anyhow::Result<PipelineConfig> {
        PipelineConfig::parse(&format!(
            "name='p'\n[[stage]]\nname='a'\nplugin='x.wasm'\n[tables.users]\nurl='postgres://u@h/db'\ntable='users'\n{tables}"
        ))
    }

    #[test]
    fn table_sections_are_checked_before_connecting() {
        let ok = parse("[tables.users.columns]\nusername='name'\n").unwrap();
        assert_eq!(ok.tables["users"].key_columns(), super::ORIGIN_COLUMNS);
        for (toml, named) in [
            ("[tables.users.columns]\n", "maps no columns"),
            ("conflict_key=['id']\n[tables.users.columns]\nusername='name'\n", "'id'"),
            ("[tables.users.columns]\nsource_offset='o'\n", "'source_offset'"),
            ("password_env='A'\npassword_file='f'\n[tables.users.columns]\nu='u'\n", "both"),
            ("passwd='x'\n[tables.users.columns]\nu='u'\n", "passwd"),
        ] {
            let err = format!("{:#}", parse(toml).unwrap_err());
            assert!(err.contains(named), "{named} not in: {err}");
        }
    }
}
