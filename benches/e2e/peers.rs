//! The Python peers (`scripts/peers/`): set up their pinned virtualenv and
//! report its versions.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Run `scripts/peers/setup` (idempotent); the venv's interpreter.
pub fn setup(root: &Path) -> Result<PathBuf> {
    let out = Command::new(root.join("scripts/peers/setup"))
        .output()
        .context("running scripts/peers/setup")?;
    if !out.status.success() {
        bail!(
            "scripts/peers/setup failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let python = String::from_utf8_lossy(&out.stdout).trim().to_string();
    Ok(PathBuf::from(python))
}

/// Versions of the interpreter and the packages the peers use.
pub fn versions(python: &Path) -> String {
    let code = "import sys, importlib.metadata as m\n\
        names = ['kafka-python', 'confluent-kafka', 'scikit-learn', 'numpy', 'pandas', 'psycopg2-binary']\n\
        print('Python ' + sys.version.split()[0] + ', ' + ', '.join(n + ' ' + m.version(n) for n in names))";
    Command::new(python)
        .args(["-c", code])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}
