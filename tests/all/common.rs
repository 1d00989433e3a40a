//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// A built plugin component; fails loudly when it was not built.
pub fn plugin(name: &str) -> PathBuf {
    let p = root().join("plugins/dist").join(format!("{name}.wasm"));
    assert!(
        p.exists(),
        "{} is missing: build the plugins with `cargo xtask plugins` (the README's test command does)",
        p.display()
    );
    p
}

/// A fresh directory for one test.
pub fn temp_dir(tag: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let d = root().join("target/test-tmp").join(format!(
        "{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Run the `wasp` binary.
pub fn wasp(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wasp")).args(args).output().expect("running wasp")
}

/// stdout and stderr as text.
pub fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Assert a failed run with a clear error and no panic.
pub fn assert_clean_failure(o: &Output, expected: &[&str]) {
    let (_, err) = text(o);
    assert!(!o.status.success(), "expected failure, got success; stderr: {err}");
    assert_eq!(o.status.code(), Some(1), "expected exit code 1; stderr: {err}");
    assert!(!err.contains("panicked"), "wasp panicked: {err}");
    for e in expected {
        assert!(err.contains(e), "stderr should contain {e:?}; got: {err}");
    }
}

/// Write a pipeline file in `dir` and return its path.
pub fn write_pipeline(dir: &Path, toml: &str) -> PathBuf {
    let p = dir.join("pipeline.toml");
    std::fs::write(&p, toml).unwrap();
    p
}

/// Write `lines` as a JSON-lines file in `dir`.
pub fn write_input(dir: &Path, lines: &[&str]) -> PathBuf {
    let p = dir.join("input.jsonl");
    std::fs::write(&p, lines.join("\n") + "\n").unwrap();
    p
}

/// Run `wasp test` and return its stdout lines parsed as JSON.
pub fn wasp_test(pipeline: &Path, input: &Path) -> Vec<serde_json::Value> {
    let o = wasp(&["test", pipeline.to_str().unwrap(), "--input", input.to_str().unwrap()]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "wasp test failed: {err}");
    out.lines().map(|l| serde_json::from_str(l).expect("stdout lines are JSON")).collect()
}

/// The 150 Iris flowers (scikit-learn's train and test splits) as JSON
/// objects: the four measurements and `species`.
pub fn iris_rows() -> Vec<serde_json::Value> {
    use serde_json::Value;
    let d: Value =
        serde_json::from_slice(&std::fs::read(root().join("tests/data/knn/iris.json")).unwrap())
            .unwrap();
    let names: Vec<&str> =
        d["features"].as_array().unwrap().iter().flat_map(Value::as_str).collect();
    let mut rows = Vec::new();
    for (xs, ys) in [("train_x", "train_y"), ("test_x", "test_y")] {
        for (x, y) in d[xs].as_array().unwrap().iter().zip(d[ys].as_array().unwrap()) {
            let mut row = serde_json::Map::new();
            for (n, v) in names.iter().zip(x.as_array().unwrap()) {
                row.insert(n.to_string(), v.clone());
            }
            row.insert("species".into(), y.clone());
            rows.push(Value::Object(row));
        }
    }
    rows
}
