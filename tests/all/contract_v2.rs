//! Contract 0.2 over the real broker: 0.1.0 and 0.2.0 plugins in one
//! pipeline, outputs routed to chosen partitions, files given to a stage
//! (and a changed file reloading it while records flow).

use crate::broker::*;
use crate::common::{plugin, temp_dir, text, wasp};
use crate::reload::{replace, short_hash};
use std::collections::BTreeMap;
use std::time::Duration;
use wasp::router::headers;

fn json(r: &wasp::kafka::admin::Record) -> serde_json::Value {
    serde_json::from_slice(r.value.as_deref().unwrap()).unwrap()
}

#[test]
fn a_0_1_and_a_0_2_plugin_share_a_pipeline_and_route_to_chosen_partitions() {
    let [input, output, routed, dlq] = ["v2-in", "v2-out", "v2-routed", "v2-dlq"].map(unique);
    create(&[&input, &output, &dlq], 2);
    create(&[&routed], 3);
    let dir = temp_dir("v2-mixed");
    // Records ask for partition id % 4 of `routed`: partition 3 does not
    // exist (the topic has 3), so those inputs must be dead-lettered.
    let records: Vec<(String, Vec<u8>)> = (0..200)
        .map(|i| {
            let v = format!(r#"{{"id":{i},"route":"{routed}","p":{}}}"#, i % 4);
            (i.to_string(), v.into_bytes())
        })
        .collect();
    let stages = format!(
        "{}{}",
        stage("v01", "compat-v01", ""),
        stage("route", "router", "partition_field = \"p\"")
    );
    let p = pipeline(
        &dir,
        "mixed",
        &format!(
            "input = [\"{input}\"]\noutput = \"{output}\"\ndead_letter = \"{dlq}\"\n\
             allowed = [\"{routed}\"]"
        ),
        &stages,
    );
    let w = Wasp::start(&p, &["--max-records", "200"], "run");
    produce(&input, &records, None);
    let log = w.wait_ok(Duration::from_secs(120));
    assert!(log.contains("v01") && log.contains("route"), "{log}");

    let out = read(&routed, Duration::from_secs(3));
    let dead = read(&dlq, Duration::from_secs(1));
    assert_eq!(out.len(), 150, "ids with p in 0..3 reach the routed topic");
    assert_eq!(dead.len(), 50, "ids with p = 3 are dead-lettered");
    for r in &out {
        let v = json(r);
        let id = v["id"].as_i64().unwrap();
        assert_eq!(i64::from(r.partition), id % 4, "record {id} is in the partition it asked for");
        // Stage 1 (0.1.0) tagged it, stage 2 (0.2.0) kept its header.
        assert_eq!(v["contract"], "0.1.0", "{v}");
        assert_eq!(r.header("wasp.contract").as_deref(), Some("0.1.0"));
    }
    let ids: std::collections::BTreeSet<i64> =
        out.iter().map(|r| json(r)["id"].as_i64().unwrap()).collect();
    assert_eq!(ids.len(), 150, "no record twice");
    for r in &dead {
        let v = json(r);
        assert_eq!(v["id"].as_i64().unwrap() % 4, 3);
        assert_eq!(r.header(headers::KIND).as_deref(), Some("routing"));
        let reason = r.header(headers::REASON).unwrap();
        assert!(reason.contains("partition 3") && reason.contains("3 partition(s)"), "{reason}");
    }
    assert!(read(&output, Duration::from_secs(1)).is_empty(), "nothing went to the output topic");
}

/// A pipeline with the lookup plugin reading `table` from `table_file`.
fn lookup_pipeline(dir: &std::path::Path, topics: &str, table_file: &str) -> std::path::PathBuf {
    let p = pipeline(
        dir,
        "lookup",
        topics,
        &format!(
            "[[stage]]\nname = \"lookup\"\nplugin = \"{}\"\n\
             [stage.files]\ntable = \"{table_file}\"\n[stage.config]\nkey = \"id\"\n",
            plugin("lookup").display()
        ),
    );
    let toml = std::fs::read_to_string(&p).unwrap();
    std::fs::write(&p, format!("version_header = true\n{toml}")).unwrap();
    p
}

#[test]
fn a_stage_reads_its_file_and_a_missing_file_is_a_clear_error() {
    let dir = temp_dir("v2-files");
    std::fs::write(dir.join("table.json"), r#"{"1":"one","2":"two"}"#).unwrap();
    std::fs::write(dir.join("in.jsonl"), "{\"id\":1}\n{\"id\":2}\n{\"id\":3}\n").unwrap();
    let p = lookup_pipeline(&dir, "", "table.json");
    let o = wasp(&["test", p.to_str().unwrap(), "--input", dir.join("in.jsonl").to_str().unwrap()]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    let lines: Vec<serde_json::Value> =
        out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines[0]["value"]["info"], "one");
    assert_eq!(lines[1]["value"]["info"], "two");
    assert!(lines[2]["reason"].as_str().unwrap().contains("no entry for \"3\""), "{out}");

    // The plugin asks for `table`; the pipeline gives `tabel`.
    let toml = std::fs::read_to_string(&p).unwrap().replace("table = ", "tabel = ");
    std::fs::write(&p, toml).unwrap();
    let o = wasp(&["test", p.to_str().unwrap(), "--input", dir.join("in.jsonl").to_str().unwrap()]);
    crate::common::assert_clean_failure(
        &o,
        &[
            "refused the config of stage 'lookup'",
            "no file named 'table'",
            "only tabel",
            "[stage.files]",
        ],
    );

    // A file that is not there is named with its path.
    let toml = std::fs::read_to_string(&p)
        .unwrap()
        .replace("tabel = \"table.json\"", "table = \"gone.json\"");
    std::fs::write(&p, toml).unwrap();
    let o = wasp(&["test", p.to_str().unwrap(), "--input", dir.join("in.jsonl").to_str().unwrap()]);
    crate::common::assert_clean_failure(&o, &["cannot read file 'table'", "gone.json"]);
}

#[test]
fn a_changed_file_reloads_its_stage_while_records_flow() {
    let [input, output, dlq] = ["v2f-in", "v2f-out", "v2f-dlq"].map(unique);
    create(&[&input, &output, &dlq], 2);
    const N: usize = 20_000;
    let dir = temp_dir("v2-file-reload");
    let table = |tag: &str| -> Vec<u8> {
        let entries: Vec<String> = (0..N).map(|i| format!("\"{i}\":\"{tag}\"")).collect();
        format!("{{{}}}", entries.join(",")).into_bytes()
    };
    let (first, second) = (table("first"), table("second"));
    replace(&dir.join("table.json"), &first);
    let p = lookup_pipeline(
        &dir,
        &format!("input = [\"{input}\"]\noutput = \"{output}\"\ndead_letter = \"{dlq}\""),
        "table.json",
    );
    let w = Wasp::start(&p, &["--max-records", &N.to_string()], "run");
    assert!(w.wait_for_log("partition assigned", Duration::from_secs(60)), "{}", w.log());
    let topic = input.clone();
    let producer =
        std::thread::spawn(move || produce(&topic, &numbered(N), Some(Duration::from_secs(8))));
    std::thread::sleep(Duration::from_secs(3));
    // A broken table first: refused, the first one keeps serving.
    replace(&dir.join("table.json"), b"[not a table");
    assert!(w.wait_for_log("refused: stage lookup", Duration::from_secs(30)), "{}", w.log());
    replace(&dir.join("table.json"), &second);
    assert!(
        w.wait_for_log("reload ok: stage lookup now runs", Duration::from_secs(30)),
        "{}",
        w.log()
    );
    producer.join().unwrap();
    let log = w.wait_ok(Duration::from_secs(180));
    assert!(!log.contains("panicked"), "{log}");

    let out = read(&output, Duration::from_secs(3));
    let counts = id_counts(&out);
    assert_eq!(counts.len(), N, "every input has an output");
    assert!(counts.values().all(|&c| c == 1), "no input has two outputs");
    assert!(read(&dlq, Duration::from_secs(1)).is_empty(), "nothing dead-lettered");
    // Each output's table matches the version that produced it, and each
    // partition moves from the first table to the second, never back.
    let mut versions = BTreeMap::new();
    let mut last: BTreeMap<i32, String> = BTreeMap::new();
    for r in &out {
        let tag = json(r)["info"].as_str().unwrap().to_string();
        let v = r.header(headers::PLUGIN_VERSION).unwrap();
        assert_eq!(
            versions.entry(v.clone()).or_insert_with(|| tag.clone()),
            &tag,
            "one table per version"
        );
        if let Some(prev) = last.insert(r.partition, tag.clone()) {
            assert!(!(prev == "second" && tag == "first"), "partition {} went back", r.partition);
        }
    }
    let tags: std::collections::BTreeSet<&String> = versions.values().collect();
    assert_eq!(tags.len(), 2, "both tables served: {versions:?}");
    let plugin_only = short_hash(&std::fs::read(plugin("lookup")).unwrap());
    assert!(
        !versions.contains_key(&plugin_only),
        "the version covers the file, not only the plugin"
    );
}
