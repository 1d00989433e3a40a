//! The two steps of `wit-bindgen` and `wasm-tools` that the C and Go plugin
//! builds need, done by the libraries those tools are made of.
//!
//! `cargo install wit-bindgen-cli wasm-tools` compiled two whole programs
//! from source on every fresh machine (7 minutes of the 2 cores in CI);
//! this crate links only the libraries those steps use (`wit-bindgen-c`,
//! `wit-bindgen-go`, `wit-component`, `wasmparser`), with the options those
//! CLIs use by default (docs/decisions.md, "Component tools").
//!
//! ```text
//! component-tools wit-bindgen c|go WIT --world NAME --out-dir DIR
//! component-tools component embed WIT --world NAME CORE.wasm -o OUT.wasm
//! component-tools component new CORE.wasm [--adapt NAME=ADAPTER.wasm] [--realloc-via-memory-grow] -o OUT.wasm
//! ```
//! `component new` validates what it writes with every Wasm feature
//! enabled, as `wasm-tools validate --features all` did.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use wit_bindgen_core::wit_parser::{Resolve, WorldId};
use wit_bindgen_core::{Files, WorldGenerator};
use wit_component::{ComponentEncoder, StringEncoding};

const USAGE: &str = "usage:\n  component-tools wit-bindgen c|go WIT --world NAME --out-dir DIR\n  \
     component-tools component embed WIT --world NAME CORE.wasm -o OUT.wasm\n  \
     component-tools component new CORE.wasm [--adapt NAME=ADAPTER.wasm] [--realloc-via-memory-grow] -o OUT.wasm";

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.split_first() {
        Some((&"wit-bindgen", rest)) => wit_bindgen(rest),
        Some((&"component", rest)) => component(rest),
        _ => {
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
    }
}

/// `wit-bindgen LANG …`: writes the guest bindings of a WIT world.
fn wit_bindgen(args: &[&str]) -> Result<()> {
    let (lang, rest) = args.split_first().context(USAGE)?;
    let mut generator: Box<dyn WorldGenerator> = match *lang {
        "c" => wit_bindgen_c::Opts::default().build(),
        "go" => wit_bindgen_go::Opts {
            // The CLI's default: gofmt formats the output when it is on PATH.
            format: wit_bindgen_go::Format::True,
            ..Default::default()
        }
        .build(),
        other => bail!("wit-bindgen: no '{other}' generator here (c or go)\n{USAGE}"),
    };
    let opts = Options::parse(rest, &["--world", "--out-dir"], &[])?;
    let wit = opts.one_input()?;
    let out_dir = PathBuf::from(opts.value("--out-dir")?);
    let (mut resolve, world) = load_world(&wit, opts.value("--world")?)?;
    let mut files = Files::default();
    generator
        .generate(&mut resolve, world, &mut files)
        .with_context(|| format!("generating {lang} bindings for {}", wit.display()))?;
    for (name, contents) in files.iter() {
        let dst = out_dir.join(name);
        if let Some(parent) = dst.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&dst, contents).with_context(|| format!("writing {}", dst.display()))?;
    }
    Ok(())
}

/// `component embed|new …`.
fn component(args: &[&str]) -> Result<()> {
    match args.split_first() {
        Some((&"embed", rest)) => embed(rest),
        Some((&"new", rest)) => new(rest),
        _ => bail!("{USAGE}"),
    }
}

/// Puts the world's component type into a core module's custom section.
fn embed(args: &[&str]) -> Result<()> {
    let opts = Options::parse(args, &["--world", "-o"], &[])?;
    let [wit, core] = opts.inputs.as_slice() else {
        bail!("component embed takes a WIT path and a core module\n{USAGE}");
    };
    let (resolve, world) = load_world(Path::new(wit), opts.value("--world")?)?;
    let mut wasm = read(Path::new(core))?;
    wit_component::embed_component_metadata(
        &mut wasm,
        &resolve,
        world,
        StringEncoding::UTF8,
        false,
    )
    .with_context(|| format!("embedding the component type into {core}"))?;
    write(Path::new(opts.value("-o")?), &wasm)
}

/// Turns a core module with embedded component type into a component.
fn new(args: &[&str]) -> Result<()> {
    let opts = Options::parse(args, &["--adapt", "-o"], &["--realloc-via-memory-grow"])?;
    let core = opts.one_input()?;
    let mut encoder = ComponentEncoder::default();
    encoder
        .validate(true)
        .debug_names(true)
        .merge_imports_based_on_semver(true)
        .realloc_via_memory_grow(opts.flags.contains(&"--realloc-via-memory-grow"));
    encoder.module(&read(&core)?).with_context(|| {
        format!("reading {} as a core module with a component type", core.display())
    })?;
    // Modules that import WASI preview 1 (C, Go) need the adapter; Rust
    // plugins import only the contract.
    if let Ok(adapt) = opts.value("--adapt") {
        let (name, adapter) = adapt
            .split_once('=')
            .with_context(|| format!("--adapt takes NAME=ADAPTER.wasm, not '{adapt}'"))?;
        encoder
            .adapter(name, &read(Path::new(adapter))?)
            .with_context(|| format!("using {adapter} as the {name} adapter"))?;
    }
    let bytes =
        encoder.encode().with_context(|| format!("making a component of {}", core.display()))?;
    wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::all())
        .validate_all(&bytes)
        .with_context(|| format!("the component made of {} does not validate", core.display()))?;
    write(Path::new(opts.value("-o")?), &bytes)
}

fn load_world(wit: &Path, world: &str) -> Result<(Resolve, WorldId)> {
    let mut resolve = Resolve::default();
    let (pkg, _) = resolve
        .push_path(wit)
        .with_context(|| format!("reading the WIT package at {}", wit.display()))?;
    let world = resolve.select_world(&[pkg], Some(world))?;
    Ok((resolve, world))
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
}

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}

/// The few command-line shapes above: options with a value, bare flags,
/// and positional inputs.
struct Options<'a> {
    values: Vec<(&'a str, &'a str)>,
    flags: Vec<&'a str>,
    inputs: Vec<&'a str>,
}

impl<'a> Options<'a> {
    fn parse(args: &[&'a str], with_value: &[&str], bare: &[&str]) -> Result<Self> {
        let mut o = Options { values: Vec::new(), flags: Vec::new(), inputs: Vec::new() };
        let mut it = args.iter();
        while let Some(&a) = it.next() {
            if with_value.contains(&a) {
                let v = it.next().with_context(|| format!("{a} needs a value\n{USAGE}"))?;
                o.values.push((a, v));
            } else if bare.contains(&a) {
                o.flags.push(a);
            } else if a.starts_with('-') {
                bail!("unknown option {a}\n{USAGE}");
            } else {
                o.inputs.push(a);
            }
        }
        Ok(o)
    }

    fn value(&self, name: &str) -> Result<&'a str> {
        self.values
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| *v)
            .with_context(|| format!("{name} is required\n{USAGE}"))
    }

    fn one_input(&self) -> Result<PathBuf> {
        match self.inputs.as_slice() {
            [one] => Ok(PathBuf::from(one)),
            _ => bail!("expected one input path, got {}\n{USAGE}", self.inputs.len()),
        }
    }
}
