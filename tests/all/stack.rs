//! Several pipelines from one `wasp run` (seed 004's compose, without
//! Docker): they run in one process, stop together on SIGTERM each having
//! committed its offsets, and share one exit status. Real broker.

use crate::broker::{self, Wasp};
use crate::common::{assert_clean_failure, temp_dir, text, wasp};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A pipeline of one identity stage from `input` (2 partitions) to `output`.
struct Piece {
    file: PathBuf,
    group: String,
    input: String,
    output: String,
}

fn piece(dir: &Path, tag: &str) -> Piece {
    let (input, output, dlq) = (
        broker::unique(&format!("{tag}-in")),
        broker::unique(&format!("{tag}-out")),
        broker::unique(&format!("{tag}-dlq")),
    );
    let topics = format!(
        "input = [\"{input}\"]\noutput = \"{output}\"\ndead_letter = \"{dlq}\"\n\
         [topics.partitions]\n\"{input}\" = 2\n\"{output}\" = 2\n\"{dlq}\" = 1\n"
    );
    let file = broker::pipeline(dir, tag, &topics, &broker::stage("id", "identity", ""));
    let cfg = wasp::config::PipelineConfig::load(&file).unwrap();
    Piece { file, group: cfg.group_id(), input, output }
}

/// Sum of the offsets `group` committed on the partitions of `topic`.
fn committed(group: &str, topic: &str, partitions: i32) -> i64 {
    let c: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", broker::bootstrap())
        .set("group.id", group)
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition(topic, p);
    }
    let got = c.committed_offsets(tpl, Duration::from_secs(10)).unwrap();
    got.elements()
        .iter()
        .map(|e| match e.offset() {
            Offset::Offset(o) => o,
            _ => 0,
        })
        .sum()
}

/// Wait until `topic` holds `n` records, up to `timeout` (the run creates
/// the topic, so at first it may not exist).
fn wait_for(topic: &str, n: usize, timeout: Duration) {
    let start = Instant::now();
    loop {
        let have = wasp::kafka::admin::read_topic(
            &broker::bootstrap(),
            topic,
            Duration::from_secs(1),
            None,
        )
        .map_or(0, |r| r.len());
        if have >= n {
            return;
        }
        assert!(start.elapsed() < timeout, "{topic}: {have} of {n} records after {timeout:?}");
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn two_pipelines_run_from_one_command_and_stop_together_on_sigterm() {
    let dir = temp_dir("stack-sigterm");
    let (a, b) = (piece(&dir, "stack-a"), piece(&dir, "stack-b"));
    const N: usize = 300;
    for p in [&a, &b] {
        broker::create(&[&p.input], 2);
        broker::produce(&p.input, &broker::numbered(N), None);
    }
    let run = Wasp::start(&a.file, &[b.file.to_str().unwrap(), "--no-watch"], "stack");
    for p in [&a, &b] {
        wait_for(&p.output, N, Duration::from_secs(90));
    }
    // Both joined their own groups; let the periodic offset store run once
    // more, then stop the process with one signal.
    std::thread::sleep(Duration::from_secs(1));
    run.sigterm();
    let log = run.wait_ok(Duration::from_secs(60));
    for p in [&a, &b] {
        let name = p.group.trim_start_matches("wasp-");
        assert!(log.contains(&format!("pipeline '{name}' running")), "{name} ran:\n{log}");
        assert!(log.contains(&format!("wasp: {name}: in={N}")), "{name}'s summary:\n{log}");
        assert_eq!(committed(&p.group, &p.input, 2), N as i64, "{} committed every input", p.group);
        let out = broker::read(&p.output, Duration::from_secs(2));
        assert_eq!(broker::id_counts(&out).len(), N, "{}: every record once at least", p.output);
    }
}

#[test]
fn a_stack_file_fails_as_one_when_one_pipeline_cannot_start() {
    let dir = temp_dir("stack-file");
    let (good, bad) = (piece(&dir, "stack-good"), piece(&dir, "stack-bad"));
    // The bad one's output exists with 1 partition; it declares 2.
    broker::create(&[&bad.output], 1);
    let stack = dir.join("stack.toml");
    std::fs::write(&stack, "pipelines = [\"stack-good.toml\", \"stack-bad.toml\"]\n").unwrap();
    let started = Instant::now();
    let o = wasp(&["run", stack.to_str().unwrap(), "--no-watch"]);
    let bad_name = bad.group.trim_start_matches("wasp-");
    assert_clean_failure(
        &o,
        &[
            "1 of 2 pipelines failed",
            &format!("{bad_name}: topic '{}' has 1 partition(s)", bad.output),
        ],
    );
    let (_, err) = text(&o);
    let good_name = good.group.trim_start_matches("wasp-");
    assert!(
        err.contains(&format!("wasp: {good_name}: ")),
        "the good pipeline stopped with a summary:\n{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(60), "the stack stopped promptly");

    // Same names twice: refused before anything starts.
    let o = wasp(&["run", good.file.to_str().unwrap(), good.file.to_str().unwrap()]);
    assert_clean_failure(&o, &["are both named", "give each pipeline of a stack its own name"]);
}
