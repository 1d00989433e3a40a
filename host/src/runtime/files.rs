//! Read-only files a pipeline gives a stage (`[stage.files]`), such as a
//! model document. wasp reads them once per stage version and hands their
//! bytes to the plugin through the `files` import: plugins still see no
//! file system, and a changed file is a new stage version (hot reload).

use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One given file.
#[derive(Debug)]
struct GivenFile {
    path: PathBuf,
    bytes: Arc<[u8]>,
    /// SHA-256 of `bytes`, taken once when read: the stage version is
    /// computed again on every reload check.
    digest: [u8; 32],
}

/// The files of one stage version, by the name the plugin asks for.
#[derive(Debug, Default)]
pub struct StageFiles {
    stage: String,
    files: BTreeMap<String, GivenFile>,
}

/// A file could not be given to a stage.
#[derive(Debug, thiserror::Error)]
pub enum FilesError {
    /// Not readable.
    #[error(
        "stage '{stage}': cannot read file '{name}' ({path}) named in [stage.files]: {source}"
    )]
    Unreadable {
        /// Stage name.
        stage: String,
        /// The name the plugin reads it by.
        name: String,
        /// The resolved path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Together over `files_mib`.
    #[error(
        "stage '{stage}': the files in [stage.files] hold {size} bytes, more than the stage's \
         limit of {limit} bytes ([stage.limits] files_mib); raise files_mib or give smaller files"
    )]
    TooLarge {
        /// Stage name.
        stage: String,
        /// Bytes of all files.
        size: usize,
        /// The limit in bytes.
        limit: usize,
    },
}

impl StageFiles {
    /// No files.
    pub fn none(stage: &str) -> Self {
        StageFiles { stage: stage.into(), files: BTreeMap::new() }
    }

    /// Read every file of `named` (name → resolved path), at most `limit`
    /// bytes in all.
    pub fn load(
        stage: &str,
        named: &BTreeMap<String, PathBuf>,
        limit: usize,
    ) -> Result<Self, FilesError> {
        let mut files = BTreeMap::new();
        let mut size = 0usize;
        for (name, path) in named {
            let unreadable = |source| FilesError::Unreadable {
                stage: stage.into(),
                name: name.clone(),
                path: path.clone(),
                source,
            };
            // Check the size before reading, so a huge file is refused
            // without being read into memory.
            let len = std::fs::metadata(path).map_err(unreadable)?.len();
            size = size.saturating_add(usize::try_from(len).unwrap_or(usize::MAX));
            if size > limit {
                return Err(FilesError::TooLarge { stage: stage.into(), size, limit });
            }
            let bytes = std::fs::read(path).map_err(unreadable)?;
            let digest = Sha256::digest(&bytes).into();
            files.insert(
                name.clone(),
                GivenFile { path: path.clone(), bytes: bytes.into(), digest },
            );
        }
        Ok(StageFiles { stage: stage.into(), files })
    }

    /// The bytes given under `name`, or a message for the plugin to show.
    pub fn read(&self, name: &str) -> Result<&[u8], String> {
        if let Some(f) = self.files.get(name) {
            return Ok(&f.bytes);
        }
        let given = if self.files.is_empty() {
            "no files".to_string()
        } else {
            format!("only {}", self.names().join(", "))
        };
        Err(format!(
            "stage '{}' was given no file named '{name}' (it was given {given}): add \
             `{name} = \"path/to/file\"` to the stage's [stage.files] table in the pipeline file",
            self.stage
        ))
    }

    /// The names given, ascending.
    pub fn names(&self) -> Vec<String> {
        self.files.keys().cloned().collect()
    }

    /// The paths read, for the reload watcher.
    pub fn paths(&self) -> impl Iterator<Item = &Path> {
        self.files.values().map(|f| f.path.as_path())
    }

    /// The stage version: `plugin_version` alone without files, else a hash
    /// of it and every file's name and content, so the version header
    /// changes when a file does.
    pub fn version(&self, plugin_version: &str) -> String {
        if self.files.is_empty() {
            return plugin_version.to_string();
        }
        let mut h = Sha256::new();
        h.update(plugin_version.as_bytes());
        for (name, f) in &self.files {
            h.update((name.len() as u64).to_le_bytes());
            h.update(name.as_bytes());
            h.update(f.digest);
        }
        hex::encode(&h.finalize()[..6])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str, bytes: &[u8]) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("wasp-files-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    #[test]
    fn reads_given_files_and_names_the_missing_one() {
        let named = BTreeMap::from([("model".to_string(), tmp("m.json", b"{}"))]);
        let f = StageFiles::load("s", &named, 1 << 20).unwrap();
        assert_eq!(f.read("model").unwrap(), b"{}");
        let err = f.read("modle").unwrap_err();
        assert!(err.contains("no file named 'modle'") && err.contains("only model"), "{err}");
        assert!(err.contains("[stage.files]"), "{err}");
        let none = StageFiles::none("s").read("x").unwrap_err();
        assert!(none.contains("given no files"), "{none}");
    }

    #[test]
    fn refuses_files_over_the_limit_and_missing_files() {
        let named = BTreeMap::from([("big".to_string(), tmp("big", &[0u8; 100]))]);
        let err = StageFiles::load("s", &named, 99).unwrap_err().to_string();
        assert!(err.contains("files_mib") && err.contains("100 bytes"), "{err}");
        let named = BTreeMap::from([("gone".to_string(), PathBuf::from("/nonexistent/x"))]);
        let err = StageFiles::load("s", &named, 99).unwrap_err().to_string();
        assert!(err.contains("cannot read file 'gone'") && err.contains("/nonexistent/x"), "{err}");
    }

    #[test]
    fn version_covers_file_contents() {
        let a = BTreeMap::from([("m".to_string(), tmp("va", b"1"))]);
        let b = BTreeMap::from([("m".to_string(), tmp("vb", b"2"))]);
        let va = StageFiles::load("s", &a, 10).unwrap().version("abc");
        let vb = StageFiles::load("s", &b, 10).unwrap().version("abc");
        assert_ne!(va, vb);
        assert_eq!(va.len(), 12);
        assert_eq!(StageFiles::none("s").version("abc"), "abc");
    }
}
