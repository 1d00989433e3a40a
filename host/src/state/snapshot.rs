//! The local state file: a snapshot of the whole store, written atomically
//! (temp file, then rename). Without a changelog it is where state
//! survives a restart; with one, Kafka is the truth and the file is not
//! read (docs/state.md).

use super::codec::{self, Map};
use anyhow::{Context, Result};
use std::path::Path;

/// The map saved in `path`, empty when there is no file yet.
pub fn load(path: &Path) -> Result<Map> {
    match std::fs::read(path) {
        Ok(bytes) => codec::decode_snapshot(&bytes).with_context(|| {
            format!(
                "state file {} cannot be read: move it away to start with empty state",
                path.display()
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Map::new()),
        Err(e) => Err(e).with_context(|| format!("reading state {}", path.display())),
    }
}

/// Replace `path` by a snapshot of `map`.
pub fn save(path: &Path, map: &Map) -> Result<()> {
    let bytes = codec::encode_snapshot(map);
    let tmp = path.with_extension("tmp");
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))
}
