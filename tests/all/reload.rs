//! Hot reload against the real broker: plugins replaced while records flow,
//! nothing lost or duplicated, versions never go back, and broken versions
//! are refused while the old one keeps serving.

use crate::broker::*;
use crate::common::{plugin, temp_dir, text};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::process::Command;
use std::time::Duration;
use wasp::router::headers;

/// `base` with a custom section naming `generation`: a valid component with
/// the same behaviour and a new content hash, i.e. a new plugin version.
pub(crate) fn generation_of(base: &[u8], generation: u32) -> Vec<u8> {
    fn leb(mut n: usize, out: &mut Vec<u8>) {
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }
    let name = b"wasp-test-generation";
    let payload = generation.to_le_bytes();
    let mut body = Vec::new();
    leb(name.len(), &mut body);
    body.extend_from_slice(name);
    body.extend_from_slice(&payload);
    let mut out = base.to_vec();
    out.push(0);
    leb(body.len(), &mut out);
    out.extend(body);
    out
}

/// Replace a file the way a deploy does: write beside it, then rename.
pub(crate) fn replace(path: &Path, bytes: &[u8]) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

pub(crate) fn short_hash(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(&Sha256::digest(bytes)[..6])
}

#[test]
fn ten_swaps_while_streaming_lose_and_duplicate_nothing() {
    let [input, output, dlq] = ["hot-in", "hot-out", "hot-dlq"].map(unique);
    create(&[&input, &output, &dlq], 4);
    const N: usize = 200_000;
    let dir = temp_dir("hot");
    let identity = std::fs::read(plugin("identity")).unwrap();
    let transform = std::fs::read(plugin("json-transform")).unwrap();
    // Even generations forward records as they are, odd ones re-encode them:
    // the outputs differ by version, and the version header names which.
    let gens: Vec<Vec<u8>> = (0..=10)
        .map(|g| generation_of(if g % 2 == 0 { &identity } else { &transform }, g))
        .collect();
    let gen_of: HashMap<String, usize> =
        gens.iter().enumerate().map(|(g, b)| (short_hash(b), g)).collect();
    let plugin_file = dir.join("hot.wasm");
    replace(&plugin_file, &gens[0]);
    let p = pipeline(
        &dir,
        "hot",
        &format!("input = [\"{input}\"]\noutput = \"{output}\"\ndead_letter = \"{dlq}\""),
        "[[stage]]\nname = \"hot\"\nplugin = \"hot.wasm\"\n",
    );
    let toml = std::fs::read_to_string(&p).unwrap();
    std::fs::write(&p, format!("version_header = true\n{toml}")).unwrap();
    let w = Wasp::start(&p, &["--max-records", &N.to_string()], "run");
    assert!(w.wait_for_log("partition assigned", Duration::from_secs(60)), "{}", w.log());
    let topic = input.clone();
    let producer =
        std::thread::spawn(move || produce(&topic, &numbered(N), Some(Duration::from_secs(32))));
    for (g, bytes) in gens.iter().enumerate().skip(1) {
        std::thread::sleep(Duration::from_millis(800));
        replace(&plugin_file, bytes);
        let swapped = format!("now runs {}", short_hash(bytes));
        assert!(
            w.wait_for_log(&swapped, Duration::from_secs(30)),
            "generation {g} was not loaded:\n{}",
            w.log()
        );
    }
    producer.join().unwrap();
    let log = w.wait_ok(Duration::from_secs(300));
    assert_eq!(log.matches("reload ok: stage hot now runs").count(), 10, "{log}");

    let out = read(&output, Duration::from_secs(3));
    let counts = id_counts(&out);
    assert_eq!(counts.len(), N, "every input has an output");
    assert!(counts.values().all(|&c| c == 1), "no input has two outputs");
    let mut last: BTreeMap<i32, usize> = BTreeMap::new();
    let mut seen = std::collections::BTreeSet::new();
    for r in &out {
        let v = r.header(headers::PLUGIN_VERSION).expect("version header");
        let g = gen_of[&v];
        seen.insert(g);
        let prev = last.insert(r.partition, g).unwrap_or(0);
        assert!(prev <= g, "partition {} went back from generation {prev} to {g}", r.partition);
    }
    note(&format!("generations seen in outputs: {seen:?}"));
    assert!(
        seen.contains(&0) && seen.contains(&10),
        "first and last versions both served: {seen:?}"
    );
    assert!(seen.len() >= 8, "most versions served while records flowed: {seen:?}");
}

fn wasp_reload(pipeline: &Path) -> (bool, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_wasp")).arg("reload").arg(pipeline).output().unwrap();
    let (out, err) = text(&o);
    (o.status.success(), format!("{out}{err}"))
}

#[test]
fn broken_versions_are_refused_and_the_old_one_keeps_serving() {
    let [input, output, dlq] = ["brk-in", "brk-out", "brk-dlq"].map(unique);
    create(&[&input, &output, &dlq], 2);
    const N: usize = 6_000;
    let dir = temp_dir("broken");
    let good = std::fs::read(plugin("json-transform")).unwrap();
    let plugin_file = dir.join("stage.wasm");
    replace(&plugin_file, &good);
    let p = pipeline(
        &dir,
        "broken",
        &format!("input = [\"{input}\"]\noutput = \"{output}\"\ndead_letter = \"{dlq}\""),
        "[[stage]]\nname = \"scale\"\nplugin = \"stage.wasm\"\n[stage.config]\nscale = { temperature = { multiply = 2 } }\n",
    );
    let w = Wasp::start(&p, &["--max-records", &N.to_string(), "--no-watch"], "run");
    assert!(w.wait_for_log("partition assigned", Duration::from_secs(60)), "{}", w.log());
    let topic = input.clone();
    let producer =
        std::thread::spawn(move || produce(&topic, &numbered(N), Some(Duration::from_secs(8))));

    replace(&plugin_file, b"definitely not wasm");
    let (ok, said) = wasp_reload(&p);
    assert!(!ok && said.contains("refused") && said.contains("not a WebAssembly file"), "{said}");

    replace(&plugin_file, &std::fs::read(plugin("wrong-world")).unwrap());
    let (ok, said) = wasp_reload(&p);
    assert!(!ok && said.contains("does not implement the wasp:plugin/plugin world"), "{said}");

    // A version whose init refuses the stage config.
    replace(&plugin_file, &std::fs::read(plugin("knn")).unwrap());
    let (ok, said) = wasp_reload(&p);
    assert!(!ok && said.contains("refused the config of stage 'scale'"), "{said}");

    // Back to a good file (same bytes as running): nothing to do.
    replace(&plugin_file, &good);
    let (ok, said) = wasp_reload(&p);
    assert!(ok && said.contains("nothing changed"), "{said}");
    producer.join().unwrap();
    let log = w.wait_ok(Duration::from_secs(300));
    assert_eq!(log.matches("reload refused").count(), 3, "{log}");

    let out = read(&output, Duration::from_secs(3));
    let counts = id_counts(&out);
    assert_eq!(counts.len(), N, "zero records lost while broken versions were refused");
    for r in &out {
        let v: serde_json::Value = serde_json::from_slice(r.value.as_deref().unwrap()).unwrap();
        assert_eq!(
            v["temperature"].as_f64().unwrap(),
            2.0 * v["id"].as_f64().unwrap(),
            "old version served"
        );
    }
    assert!(read(&dlq, Duration::from_secs(1)).is_empty());
}
