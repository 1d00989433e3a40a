//! The `Dockerfile` and `compose.yaml` cannot be built or run here (no
//! image registry is reachable), so they are checked statically: every
//! path they copy or name exists in the repository (or is made by a build
//! command of the Dockerfile that exists), every `wasp` command they run
//! is a real subcommand whose pipeline file loads, and the services they
//! name exist. No broker needed.

use crate::common::{root, text, wasp};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Dockerfile instructions (continuation lines joined), comments dropped.
fn instructions(dockerfile: &str) -> Vec<(String, String)> {
    let joined = dockerfile.replace("\\\n", " ");
    joined
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (op, rest) = l.split_once(' ').unwrap_or((l, ""));
            (op.to_uppercase(), rest.trim().to_string())
        })
        .collect()
}

/// What each build command of the Dockerfile makes, under the build
/// stage's copy of the repository.
const MADE_BY: &[(&str, &str)] = &[
    ("target/release/wasp", "cargo build --release -p wasp"),
    ("plugins/dist", "cargo xtask plugins --rust-only"),
];

/// Image paths (under the final stage's `/opt/wasp`) → repository paths.
fn image_layout(ins: &[(String, String)]) -> BTreeMap<PathBuf, PathBuf> {
    let mut layout = BTreeMap::new();
    for (op, rest) in ins {
        if op != "COPY" {
            continue;
        }
        let words: Vec<&str> = rest.split_whitespace().collect();
        let (src, dst) = match words.as_slice() {
            [from, src, dst] if from.starts_with("--from=") => {
                (src.strip_prefix("/src/").expect("build-stage paths are under /src/"), *dst)
            }
            [src, dst] => (*src, *dst),
            other => panic!("COPY with an unexpected shape: {other:?}"),
        };
        layout.insert(PathBuf::from(dst), PathBuf::from(src));
    }
    layout
}

#[test]
fn the_dockerfile_names_only_paths_and_commands_that_exist() {
    let root = root();
    let ins = instructions(&std::fs::read_to_string(root.join("Dockerfile")).unwrap());
    let runs: Vec<&str> =
        ins.iter().filter(|(op, _)| op == "RUN").map(|(_, r)| r.as_str()).collect();
    assert!(!runs.is_empty(), "the Dockerfile builds something");
    for cmd in runs.iter().flat_map(|r| r.split("&&")).map(str::trim) {
        let words: Vec<&str> = cmd.split_whitespace().collect();
        match words.as_slice() {
            ["scripts/setup", ..] => {
                use std::os::unix::fs::PermissionsExt;
                let mode =
                    std::fs::metadata(root.join("scripts/setup")).unwrap().permissions().mode();
                assert!(mode & 0o111 != 0, "scripts/setup is executable");
            }
            ["cargo", "build", "--release", "-p", pkg] => {
                let manifest = std::fs::read_to_string(root.join("host/Cargo.toml")).unwrap();
                assert!(manifest.contains(&format!("name = \"{pkg}\"")), "package {pkg} exists");
                assert!(
                    manifest.contains("[profile.release]")
                        || std::fs::read_to_string(root.join("Cargo.toml"))
                            .unwrap()
                            .contains("[profile.release]")
                );
            }
            ["cargo", "xtask", "plugins", flags @ ..] => {
                let alias = std::fs::read_to_string(root.join(".cargo/config.toml")).unwrap();
                assert!(alias.contains("xtask = "), "the xtask alias exists");
                let xtask = std::fs::read_to_string(root.join("xtask/src/main.rs")).unwrap();
                for f in flags {
                    assert!(xtask.contains(&format!("\"{f}\"")), "xtask takes {f}");
                }
            }
            other => panic!("a build command this test does not know: {other:?}; teach it"),
        }
    }
    for (made, by) in MADE_BY {
        assert!(runs.iter().any(|r| r.contains(by)), "{made} is made by `{by}` in a RUN line");
    }
    let layout = image_layout(&ins);
    for (dst, src) in &layout {
        let made = MADE_BY.iter().any(|(m, _)| Path::new(m) == src);
        assert!(
            made || root.join(src).exists(),
            "COPY {} → {}: not in the repository",
            src.display(),
            dst.display()
        );
    }
    assert_eq!(
        layout.get(Path::new("/usr/local/bin/wasp")).map(PathBuf::as_path),
        Some(Path::new("target/release/wasp"))
    );
    let entry = ins.iter().find(|(op, _)| op == "ENTRYPOINT").expect("an ENTRYPOINT");
    assert_eq!(entry.1, "[\"wasp\"]");
    // The build context leaves out build output (GiBs) but keeps the sources.
    let ignore = std::fs::read_to_string(root.join(".dockerignore")).unwrap();
    assert!(ignore.lines().any(|l| l.trim() == "target"), ".dockerignore leaves out target");
    for src in layout.values() {
        let first = src.components().next().unwrap().as_os_str().to_str().unwrap();
        if !MADE_BY.iter().any(|(m, _)| Path::new(m) == src) {
            assert!(!ignore.lines().any(|l| l.trim() == first), "{first} is copied but ignored");
        }
    }
}

/// The compose file's services: name → (key → value), from its plain
/// two-space layout (the test fails if the layout changes).
fn services(compose: &str) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut out: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut current: Option<String> = None;
    let mut section: Option<String> = None;
    for line in compose.lines().filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
    {
        let indent = line.len() - line.trim_start().len();
        let (k, v) =
            line.trim().split_once(':').unwrap_or_else(|| panic!("unexpected line {line:?}"));
        let v = v.trim().to_string();
        match indent {
            0 => assert_eq!(k, "services", "only services at the top"),
            2 => {
                current = Some(k.to_string());
                out.insert(k.to_string(), BTreeMap::new());
            }
            4 => {
                section = Some(k.to_string());
                out.get_mut(current.as_ref().unwrap()).unwrap().insert(k.to_string(), v);
            }
            6 => {
                let key = format!("{}.{k}", section.as_ref().unwrap());
                out.get_mut(current.as_ref().unwrap())
                    .unwrap()
                    .insert(key, v.trim_matches('"').to_string());
            }
            _ => panic!("unexpected indentation in {line:?}"),
        }
    }
    out
}

#[test]
fn the_compose_file_runs_real_wasp_commands_on_files_in_the_image() {
    let root = root();
    let ins = instructions(&std::fs::read_to_string(root.join("Dockerfile")).unwrap());
    let layout = image_layout(&ins);
    let workdir =
        ins.iter().rev().find(|(op, _)| op == "WORKDIR").map(|(_, w)| PathBuf::from(w)).unwrap();
    // A path inside the image, as a repository path.
    let in_repo = |image_path: &Path| -> PathBuf {
        let abs = workdir.join(image_path);
        let (dst, src) = layout
            .iter()
            .find(|(dst, _)| abs.starts_with(dst))
            .unwrap_or_else(|| panic!("{} is not copied into the image", abs.display()));
        root.join(src).join(abs.strip_prefix(dst).unwrap())
    };
    let svcs = services(&std::fs::read_to_string(root.join("compose.yaml")).unwrap());
    let broker = &svcs["broker"];
    assert!(broker["image"].contains("kafka"), "a Kafka-compatible broker");
    let advertised = &broker["environment.KAFKA_ADVERTISED_LISTENERS"];
    let mut inputs = Vec::new();
    let mut produced = Vec::new();
    for (name, svc) in &svcs {
        for dep in svc
            .get("depends_on")
            .map(|d| d.trim_matches(['[', ']']))
            .into_iter()
            .flat_map(|d| d.split(','))
        {
            assert!(svcs.contains_key(dep.trim()), "{name} depends on unknown service {dep}");
        }
        if svc.get("build").map(String::as_str) != Some(".") {
            continue;
        }
        let servers = &svc["environment.WASP_BOOTSTRAP_SERVERS"];
        assert!(
            advertised.contains(servers.as_str()),
            "{name} talks to {servers}, which the broker advertises ({advertised})"
        );
        let args: Vec<String> =
            serde_json::from_str(&svc["command"]).expect("command is a flow list of strings");
        let o = wasp(&[args[0].as_str(), "--help"]);
        assert!(o.status.success(), "`wasp {}` is a subcommand: {}", args[0], text(&o).1);
        for a in args.iter().skip(1).filter(|a| a.contains('/')) {
            let p = in_repo(Path::new(a));
            assert!(
                p.exists(),
                "{name}: {a} is {} in the repository, which does not exist",
                p.display()
            );
            if a.ends_with(".toml") {
                let cfg = wasp::config::PipelineConfig::load(&p).expect("the pipeline file loads");
                for s in &cfg.stages {
                    let plugin = cfg.resolve(&s.plugin);
                    assert!(
                        plugin.exists(),
                        "{name}: stage {} plugin {} is built by the image",
                        s.name,
                        plugin.display()
                    );
                }
                inputs.extend(cfg.topics.input.clone());
            }
        }
        if args[0] == "produce" {
            produced.push(args[1].clone());
        }
    }
    assert!(
        !produced.is_empty() && produced.iter().all(|t| inputs.contains(t)),
        "the producer writes a pipeline's input ({produced:?} vs {inputs:?})"
    );
    // The Dockerfile's default command runs.
    assert!(wasp(&["--help"]).status.success());
}
