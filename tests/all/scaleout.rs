//! Learning that scales out (issue 15, item 2): every process of a
//! pipeline reads every partition of the corrections topic, outside the
//! consumer group, so every copy of a model learns every correction; how
//! far each stage learned is kept in its state, so a restart neither loses
//! nor repeats a correction.

use crate::broker::*;
use crate::common::temp_dir;
use crate::ml::read_at_least;
use crate::telemetry::{free_port, get, samples};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const FEATURES: [&str; 4] = ["sepal_length", "sepal_width", "petal_length", "petal_width"];

/// A point far from every Iris row: with k = 1 its prediction is whatever
/// label the nearest learned row there has.
fn giant(extra: Value) -> Value {
    let mut v = json!({"sepal_length": 30.0, "sepal_width": 30.0,
                       "petal_length": 30.0, "petal_width": 30.0});
    v.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    v
}

/// k-NN on Iris (k = 1) learning from the corrections topic, with the
/// `[state]` table `state` (empty: state in memory only).
fn knn_pipeline(dir: &Path, topics: &str, state: &str) -> PathBuf {
    let config = format!(
        "features = {FEATURES:?}\nbuiltin = \"iris\"\nlabel = \"species\"\nk = 1\nid_field = \"id\"\n"
    );
    let rest = format!("[state]\n{state}\n{}", stage("knn", "knn", &config));
    pipeline(dir, "scaleout", topics, &rest)
}

/// The value of the series of `name` whose labels contain `label`, as the
/// process on `port` reports it (None while it does not serve yet).
fn metric(port: u16, name: &str, label: &str) -> Option<f64> {
    let (_, body) = get(port, "/metrics")?;
    let samples = samples(&body);
    let found = samples.iter().find(|(k, _)| k.starts_with(name) && k.contains(label));
    Some(found.map_or(0.0, |(_, v)| *v))
}

/// Wait until the process on `port` counted `n` learned corrections.
fn wait_learned(port: u16, n: f64, w: &Wasp) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(90) {
        let learned = metric(port, "wasp_plugin_counter_total", "\"knn_learned\"");
        if learned == Some(n) {
            return;
        }
        assert!(learned.unwrap_or(0.0) <= n, "learned more than {n} corrections:\n{}", w.log());
        std::thread::sleep(Duration::from_millis(300));
    }
    panic!("the process never learned {n} corrections:\n{}", w.log());
}

/// `wasp run PIPELINE --metrics` on `port`.
fn start_serving(pipeline: &Path, port: u16, tag: &str) -> Wasp {
    Wasp::start(pipeline, &["--metrics", &format!("127.0.0.1:{port}")], tag)
}

/// [`start_serving`] on a free port, and the port.
fn with_metrics(pipeline: &Path, tag: &str) -> (Wasp, u16) {
    let port = free_port();
    (start_serving(pipeline, port, tag), port)
}

/// A record nearest the third of [`three_corrections`] is classified with
/// its label: the model holds that correction.
fn predicts_the_last_of_three(input: &str, output: &str, w: &Wasp) {
    produce(input, &json_records(&[giant(json!({"id": 1, "sepal_length": 32.0}))]), None);
    let out = read_at_least(output, 1, Duration::from_secs(60));
    let v: Value = serde_json::from_slice(out[0].value.as_deref().unwrap()).unwrap();
    assert_eq!(v["prediction"], "Iris-giant-2", "{}", w.log());
}

fn json_records(values: &[Value]) -> Vec<(String, Vec<u8>)> {
    values
        .iter()
        .enumerate()
        .map(|(i, v)| (format!("k{i}"), serde_json::to_vec(v).unwrap()))
        .collect()
}

/// Two `wasp run` processes of one k-NN pipeline (4 input partitions, one
/// corrections partition), both in the group, each serving metrics.
struct Two {
    procs: Vec<Wasp>,
    ports: [u16; 2],
    input: String,
    output: String,
    corrections: String,
    dlq: String,
}

fn two_processes(tag: &str, state: &str) -> Two {
    let [input, output, corrections, dlq] =
        ["in", "out", "fix", "dlq"].map(|t| unique(&format!("{tag}-{t}")));
    create(&[&input], 4);
    create(&[&output, &corrections, &dlq], 1);
    let dir = temp_dir(&format!("scaleout-{tag}"));
    let topics = format!(
        "input = [\"{input}\"]\noutput = \"{output}\"\ncorrections = \"{corrections}\"\n\
         dead_letter = \"{dlq}\""
    );
    let p = knn_pipeline(&dir, &topics, state);
    let ports = [free_port(), free_port()];
    let procs: Vec<Wasp> = ports
        .iter()
        .enumerate()
        .map(|(i, port)| start_serving(&p, *port, &format!("p{i}")))
        .collect();
    // Each joined the group (the corrections partitions are assigned
    // outside it, with mode=Learn).
    for w in &procs {
        assert!(w.wait_for_log("mode=Process", Duration::from_secs(60)), "{}", w.log());
    }
    Two { procs, ports, input, output, corrections, dlq }
}

/// Both processes classified some input: 4 partitions shared by two group
/// members, else the test would show nothing.
fn both_classified(procs: &[Wasp], ports: [u16; 2]) {
    for (w, port) in procs.iter().zip(ports) {
        let got = metric(port, "wasp_input_records_total", "").unwrap_or(0.0);
        assert!(got > 0.0, "one process classified nothing, so this shows nothing:\n{}", w.log());
    }
}

#[test]
fn two_processes_both_use_a_correction_from_a_one_partition_topic() {
    let Two { procs, ports, input, output, corrections, .. } = two_processes("so", "");

    // One labelled correction on the one corrections partition: whichever
    // process owns it in the group, both must learn it.
    let fix = giant(json!({"species": "Iris-giant"}));
    produce(&corrections, &json_records(&[fix]), None);
    for (w, port) in procs.iter().zip(ports) {
        wait_learned(port, 1.0, w);
    }

    let records: Vec<Value> = (0..40).map(|i| giant(json!({"id": i}))).collect();
    produce(&input, &json_records(&records), None);
    let out = read_at_least(&output, 40, Duration::from_secs(90));
    let predictions: Vec<String> = out
        .iter()
        .map(|r| {
            let v: Value = serde_json::from_slice(r.value.as_deref().unwrap()).unwrap();
            v["prediction"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(predictions.len(), 40);
    let used = predictions.iter().filter(|p| *p == "Iris-giant").count();
    // Both classified some of the 40, so 40 of 40 means both had learned it.
    both_classified(&procs, ports);
    assert_eq!(used, 40, "predictions: {predictions:?}");
}

#[test]
fn a_restart_neither_loses_nor_learns_again_what_its_state_holds_and_empty_state_learns_it_all() {
    let (topics, input, output) = three_corrections("sr");
    let dir = temp_dir("scaleout-restart");
    let kept = knn_pipeline(&dir, &topics, "path = \"state.json\"");

    // First run: learns the three corrections, keeps them in its state file.
    let (first, port) = with_metrics(&kept, "first");
    wait_learned(port, 3.0, &first);
    assert!(first.wait_for_log("mode=Process", Duration::from_secs(60)), "{}", first.log());
    first.sigterm();
    first.wait_ok(Duration::from_secs(60));

    // Restart on the same state: the corrections are not learned again
    // (nor counted as re-learned), and the model still has them.
    let (again, port) = with_metrics(&kept, "again");
    assert!(again.wait_for_log("mode=Process", Duration::from_secs(60)), "{}", again.log());
    predicts_the_last_of_three(&input, &output, &again);
    for counter in ["\"knn_learned\"", "\"knn_relearned\""] {
        assert_eq!(metric(port, "wasp_plugin_counter_total", counter), Some(0.0), "{counter}");
    }
    again.sigterm();
    again.wait_ok(Duration::from_secs(60));

    // A process with no state at all reads the corrections from the start
    // and learns every one of them, once.
    let fresh_dir = temp_dir("scaleout-fresh");
    let fresh = knn_pipeline(&fresh_dir, &topics, "");
    let (w, port) = with_metrics(&fresh, "fresh");
    wait_learned(port, 3.0, &w);
    assert_eq!(metric(port, "wasp_plugin_counter_total", "\"knn_relearned\""), Some(0.0));
}

/// Three corrections on two partitions, and the topics of a pipeline
/// learning them: (topics table, input, output).
fn three_corrections(tag: &str) -> (String, String, String) {
    let [input, output, corrections, dlq] =
        ["in", "out", "fix", "dlq"].map(|t| unique(&format!("{tag}-{t}")));
    create(&[&input, &output, &dlq], 1);
    create(&[&corrections], 2);
    let fixes: Vec<Value> = (0..3)
        .map(|i| {
            giant(json!({"sepal_length": 30.0 + i as f64, "species": format!("Iris-giant-{i}")}))
        })
        .collect();
    produce(&corrections, &json_records(&fixes), None);
    let topics = format!(
        "input = [\"{input}\"]\noutput = \"{output}\"\ncorrections = \"{corrections}\"\n\
         dead_letter = \"{dlq}\""
    );
    (topics, input, output)
}

#[test]
fn with_the_changelog_corrections_learned_just_before_kill_9_are_neither_lost_nor_doubled() {
    let (topics, input, output) = three_corrections("sk");
    let dir = temp_dir("scaleout-kill");
    let p = knn_pipeline(&dir, &topics, "changelog = true");
    let (first, port) = with_metrics(&p, "first");
    wait_learned(port, 3.0, &first);
    first.kill9();

    // Whatever reached the changelog before the kill is restored with its
    // positions; the rest is learned again from the topic: three rows in
    // all, none twice.
    let (again, port) = with_metrics(&p, "again");
    assert!(again.wait_for_log("mode=Process", Duration::from_secs(60)), "{}", again.log());
    let log = again.log();
    let restored: f64 = log
        .split_once("training rows (")
        .and_then(|(_, rest)| rest.split_once(" learned)"))
        .and_then(|(n, _)| n.parse().ok())
        .unwrap_or_else(|| panic!("no model line in the log:\n{log}"));
    wait_learned(port, 3.0 - restored, &again);
    predicts_the_last_of_three(&input, &output, &again);
    assert_eq!(metric(port, "wasp_plugin_counter_total", "\"knn_learned\""), Some(3.0 - restored));
    assert_eq!(metric(port, "wasp_plugin_counter_total", "\"knn_relearned\""), Some(0.0));
    note(&format!("{restored} of 3 corrections restored from the changelog after kill -9"));
}

#[test]
fn with_the_changelog_a_correction_naming_a_record_another_process_classified_works() {
    let Two { procs, ports, input, output, corrections, dlq } =
        two_processes("sx", "changelog = true");
    // 40 records, each classified by one of the two processes, which
    // remembers its features under its id in stage-scoped state.
    let records: Vec<Value> = (0..40).map(|i| giant(json!({"id": i}))).collect();
    produce(&input, &json_records(&records), None);
    let first = read_at_least(&output, 40, Duration::from_secs(90));
    assert!(first
        .iter()
        .all(|r| !String::from_utf8_lossy(r.value.as_deref().unwrap()).contains("Iris-giant")));
    both_classified(&procs, ports);
    // Corrections that carry only an id, one per record: each is learned
    // by both processes, half of them from features the other one kept.
    let fixes: Vec<Value> =
        (0..40).map(|i| json!({"id": i, "correct_label": "Iris-giant"})).collect();
    let start = Instant::now();
    produce(&corrections, &json_records(&fixes), None);
    for (w, port) in procs.iter().zip(ports) {
        let learned = || {
            let l = metric(port, "wasp_plugin_counter_total", "\"knn_learned\"").unwrap_or(0.0);
            let r = metric(port, "wasp_plugin_counter_total", "\"knn_relearned\"").unwrap_or(0.0);
            l + r
        };
        while learned() < 40.0 {
            assert!(
                start.elapsed() < Duration::from_secs(90),
                "learned {} of 40 id-only corrections; dead letters: {:?}\n{}",
                learned(),
                read(&dlq, Duration::from_millis(500)).len(),
                w.log()
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    }
    assert!(read(&dlq, Duration::from_secs(1)).is_empty(), "no correction was refused");
}
