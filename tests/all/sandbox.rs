//! Sandbox and fault isolation: hostile plugins (`plugins/hostile`, the
//! Python `snoop`) against the real broker and over files, the policy that
//! disables a plugin failing on every record, and fuzzing of records and
//! plugin bytes through the library. Nothing here may take wasp down: a
//! panic anywhere fails the test.

use crate::broker::*;
use crate::common::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};
use wasp::router::headers;

fn topics_toml(input: &str, output: &str, dlq: &str) -> String {
    format!("input = [\"{input}\"]\noutput = \"{output}\"\ndead_letter = \"{dlq}\"\n")
}

/// A `[[stage]]` of the hostile plugin; `tables` holds `[stage.limits]` or
/// `[stage.faults]` tables.
fn hostile(name: &str, config: &str, tables: &str) -> String {
    format!(
        "[[stage]]\nname = \"{name}\"\nplugin = \"{}\"\n{tables}\n[stage.config]\n{config}\n",
        plugin("hostile").display()
    )
}

/// A dead-letter record, decoded.
#[derive(Debug)]
struct Dead {
    id: u64,
    kind: String,
    reason: String,
    stage: String,
}

fn dead_letters(dlq: &str) -> Vec<Dead> {
    read(dlq, Duration::from_secs(2))
        .iter()
        .map(|r| Dead {
            id: serde_json::from_slice::<Value>(r.value.as_deref().unwrap()).unwrap()["id"]
                .as_u64()
                .unwrap(),
            kind: r.header(headers::KIND).unwrap_or_default(),
            reason: r.header(headers::REASON).unwrap_or_default(),
            stage: r.header(headers::STAGE).unwrap_or_default(),
        })
        .collect()
}

/// `peak_rss_mib=` of the final summary line of `wasp run`.
fn peak_rss_mib(log: &str) -> u64 {
    let line = log.lines().rev().find(|l| l.starts_with("wasp: ")).expect("summary line");
    line.split_whitespace()
        .find_map(|w| w.strip_prefix("peak_rss_mib="))
        .unwrap_or_else(|| panic!("no peak_rss_mib in {line}"))
        .parse()
        .unwrap()
}

/// The counters line of `stage` printed at the end of a run.
fn stage_line<'a>(log: &'a str, stage: &str) -> &'a str {
    let prefix = format!("  stage {stage} ");
    log.lines()
        .rev()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no {prefix}in:\n{log}"))
}

fn counter(line: &str, name: &str) -> u64 {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(&format!("{name}=")))
        .map_or(0, |v| v.parse().unwrap())
}

/// Run the wasp binary to its end (up to `timeout`) with extra environment;
/// exit status and stderr.
fn wasp_env(args: &[&str], env: &[(&str, &str)], timeout: Duration) -> (ExitStatus, String) {
    let dir = temp_dir("wasp-env");
    let log = dir.join("stderr.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_wasp"))
        .args(args)
        .envs(env.iter().copied())
        .env("WASP_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("starting wasp");
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            panic!("wasp {args:?} did not finish in {timeout:?}:\n{}", read_log(&log));
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let err = read_log(&log);
    assert!(!err.contains("panicked"), "wasp panicked:\n{err}");
    (status, err)
}

fn read_log(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

#[test]
fn a_plugin_looping_forever_on_one_record_in_ten_thousand_costs_only_that_record() {
    let [input, output, dlq] = ["loop-in", "loop-out", "loop-dlq"].map(unique);
    create(&[&input, &output, &dlq], 2);
    const N: usize = 10_000;
    const POISON: u64 = 4321;
    produce(&input, &numbered(N), None);
    let dir = temp_dir("loop");
    let p = pipeline(
        &dir,
        "loop",
        &topics_toml(&input, &output, &dlq),
        &hostile(
            "spin",
            &format!("mode = \"loop\"\npoison_id = {POISON}"),
            "[stage.limits]\ndeadline_ms = 200",
        ),
    );
    let log = Wasp::start(&p, &["--max-records", &N.to_string()], "run")
        .wait_ok(Duration::from_secs(300));
    note(log.lines().rev().find(|l| l.starts_with("wasp: ")).unwrap_or_default());

    let out = id_counts(&read(&output, Duration::from_secs(3)));
    assert_eq!(out.len(), N - 1, "every other record is output");
    assert!(!out.contains_key(&POISON));
    assert!(out.values().all(|&c| c == 1), "each once");
    let dead = dead_letters(&dlq);
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!((dead[0].id, dead[0].kind.as_str()), (POISON, "deadline"));
    assert_eq!(dead[0].reason, "deadline of 200 ms CPU time per call exceeded");
    assert!(counter(stage_line(&log, "spin"), "timeouts") >= 1, "{log}");
}

#[test]
fn a_plugin_allocating_without_bound_hits_its_memory_cap_and_the_host_stays_small() {
    let [input, output, dlq] = ["alloc-in", "alloc-out", "alloc-dlq"].map(unique);
    create(&[&input, &output, &dlq], 1);
    const N: usize = 2_000;
    produce(&input, &numbered(N), None);
    let dir = temp_dir("alloc");
    let p = pipeline(
        &dir,
        "alloc",
        &topics_toml(&input, &output, &dlq),
        &hostile("hoard", "mode = \"alloc\"\npoison_id = 777", "[stage.limits]\nmemory_mib = 64"),
    );
    let log = Wasp::start(&p, &["--max-records", &N.to_string()], "run")
        .wait_ok(Duration::from_secs(300));
    let peak = peak_rss_mib(&log);
    note(&format!("alloc: wasp peak RSS {peak} MiB with a 64 MiB plugin memory cap"));

    assert_eq!(id_counts(&read(&output, Duration::from_secs(3))).len(), N - 1);
    let dead = dead_letters(&dlq);
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!((dead[0].id, dead[0].kind.as_str()), (777, "memory-limit"));
    assert!(dead[0].reason.starts_with("memory limit of 64 MiB reached"), "{}", dead[0].reason);
    assert!(counter(stage_line(&log, "hoard"), "memory_limit_hits") >= 1, "{log}");
    // The process itself (librdkafka, wasmtime, compiled code) needs about
    // 30 MiB; 128 MiB of margin is generous. A plugin that could allocate
    // without bound would take gigabytes.
    assert!(peak < 64 + 128, "peak RSS {peak} MiB is not bounded by the 64 MiB cap");
}

#[test]
fn a_panicking_plugin_loses_only_its_poison_records_with_the_panic_message() {
    let [input, output, dlq] = ["panic-in", "panic-out", "panic-dlq"].map(unique);
    create(&[&input, &output, &dlq], 2);
    const N: usize = 1_000;
    produce(&input, &numbered(N), None);
    let dir = temp_dir("panic");
    let p = pipeline(
        &dir,
        "panic",
        &topics_toml(&input, &output, &dlq),
        &hostile("boom", "mode = \"panic\"\nevery = 100", ""),
    );
    let log = Wasp::start(&p, &["--max-records", &N.to_string()], "run")
        .wait_ok(Duration::from_secs(300));

    let out = id_counts(&read(&output, Duration::from_secs(3)));
    assert_eq!(out.len(), N - 10);
    let mut dead = dead_letters(&dlq);
    dead.sort_by_key(|d| d.id);
    assert_eq!(
        dead.iter().map(|d| d.id).collect::<Vec<_>>(),
        (0..10).map(|i| i * 100).collect::<Vec<_>>()
    );
    for d in &dead {
        assert_eq!(d.kind, "trap");
        assert!(d.reason.contains("unreachable"), "{}", d.reason);
        assert!(
            d.reason.contains(&format!("hostile plugin panics on record id {}", d.id)),
            "the panic message is in the reason: {}",
            d.reason
        );
    }
    let line = stage_line(&log, "boom");
    assert!(counter(line, "traps") >= 10 && counter(line, "instance_recycles") >= 10, "{line}");
    assert_eq!(counter(line, "dead_lettered"), 10, "{line}");
}

#[test]
fn outputs_over_the_caps_are_dead_lettered_with_a_clear_reason() {
    let [input, output, dlq] = ["caps-in", "caps-out", "caps-dlq"].map(unique);
    create(&[&input, &output, &dlq], 1);
    const N: usize = 20;
    produce(&input, &numbered(N), None);
    let dir = temp_dir("caps");
    let stages = [
        hostile("fanout", "mode = \"outputs\"\npoison_id = 3\noutputs = 10000", ""),
        hostile("huge", "mode = \"huge\"\npoison_id = 7\nhuge_mib = 100", ""),
        hostile(
            "huge-small",
            "mode = \"huge\"\npoison_id = 9\nhuge_mib = 100",
            "[stage.limits]\nmemory_mib = 64",
        ),
    ]
    .concat();
    let p = pipeline(&dir, "caps", &topics_toml(&input, &output, &dlq), &stages);
    let log = Wasp::start(&p, &["--max-records", &N.to_string()], "run")
        .wait_ok(Duration::from_secs(300));
    let peak = peak_rss_mib(&log);
    note(&format!("caps: wasp peak RSS {peak} MiB with a 100 MiB value"));

    let out = id_counts(&read(&output, Duration::from_secs(3)));
    assert_eq!(out.len(), N - 3, "{out:?}");
    let dead: BTreeMap<u64, Dead> = dead_letters(&dlq).into_iter().map(|d| (d.id, d)).collect();
    assert_eq!(dead.keys().copied().collect::<Vec<_>>(), vec![3, 7, 9], "{dead:?}");
    let d = &dead[&3];
    assert_eq!((d.stage.as_str(), d.kind.as_str()), ("fanout", "contract"));
    assert_eq!(
        d.reason,
        "emitted 10000 outputs for one record, more than the cap of 1000 outputs per input record"
    );
    let d = &dead[&7];
    assert_eq!((d.stage.as_str(), d.kind.as_str()), ("huge", "contract"));
    assert_eq!(
        d.reason,
        "returned a value of 104857600 bytes, more than the output cap of 8388608 bytes"
    );
    let d = &dead[&9];
    assert_eq!((d.stage.as_str(), d.kind.as_str()), ("huge-small", "memory-limit"));
    assert!(d.reason.starts_with("memory limit of 64 MiB reached"), "{}", d.reason);
    // 100 MiB in the plugin's memory plus its copy lifted into the host
    // (then dropped): at most the 256 MiB memory cap twice, plus the
    // process's own margin.
    assert!(peak < 2 * 256 + 128, "peak RSS {peak} MiB");
}

fn disabled_pipeline(dir: &Path, name: &str, topics: &str, faults: &str) -> std::path::PathBuf {
    pipeline(
        dir,
        name,
        topics,
        &hostile(
            "broken",
            "mode = \"panic\"\nevery = 1",
            &format!("[stage.faults]\nmax_consecutive_failures = 20\n{faults}"),
        ),
    )
}

#[test]
fn a_plugin_failing_on_every_record_is_disabled_and_then_dead_letters_everything() {
    let [input, output, dlq] = ["dis-in", "dis-out", "dis-dlq"].map(unique);
    create(&[&input, &output, &dlq], 1);
    const N: usize = 300;
    produce(&input, &numbered(N), None);
    let dir = temp_dir("disabled-dl");
    let p = disabled_pipeline(
        &dir,
        "disdl",
        &topics_toml(&input, &output, &dlq),
        "on_disabled = \"dead-letter\"",
    );
    let log = Wasp::start(&p, &["--max-records", &N.to_string()], "run")
        .wait_ok(Duration::from_secs(300));

    assert!(log.contains("STAGE DISABLED: stage 'broken' is disabled"), "a loud error:\n{log}");
    assert!(read(&output, Duration::from_secs(1)).is_empty());
    let dead = dead_letters(&dlq);
    assert_eq!(dead.len(), N, "every record is dead-lettered");
    let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
    for d in &dead {
        *kinds.entry(d.kind.as_str()).or_default() += 1;
    }
    assert_eq!(kinds, BTreeMap::from([("trap", 20), ("disabled", N - 20)]));
    let d = dead.iter().find(|d| d.kind == "disabled").unwrap();
    assert!(
        d.reason.starts_with(
            "stage 'broken' is disabled: plugin hostile.wasm failed 20 records in a row"
        ),
        "{}",
        d.reason
    );
    assert!(d.reason.contains("the last failure was trap: "), "{}", d.reason);
    let line = stage_line(&log, "broken");
    assert_eq!(counter(line, "disabled"), (N - 20) as u64, "{line}");
    assert_eq!(counter(line, "dead_lettered"), N as u64, "{line}");
    assert!(counter(line, "traps") >= 20, "{line}");
}

#[test]
fn a_plugin_failing_on_every_record_stops_the_run_by_default_and_loses_nothing() {
    let [input, output, dlq] = ["stop-in", "stop-out", "stop-dlq"].map(unique);
    create(&[&input, &output, &dlq], 1);
    const N: usize = 300;
    produce(&input, &numbered(N), None);
    let dir = temp_dir("disabled-stop");
    let p = disabled_pipeline(&dir, "disstop", &topics_toml(&input, &output, &dlq), "");
    let (status, log) = wasp_env(
        &["run", p.to_str().unwrap(), "--max-records", &N.to_string()],
        &[],
        Duration::from_secs(300),
    );
    assert_eq!(status.code(), Some(1), "the run fails:\n{log}");
    let error = log.lines().find(|l| l.starts_with("error: ")).expect("an error line");
    assert!(
        error
            .contains("stage 'broken' is disabled: plugin hostile.wasm failed 20 records in a row"),
        "{error}"
    );
    assert!(error.contains("on_disabled = \"stop\""), "{error}");
    assert!(read(&output, Duration::from_secs(1)).is_empty());
    // Batches before the one that disabled the stage were written (their
    // poison records dead-lettered); the failing batch was not.
    let dead = dead_letters(&dlq);
    assert!(dead.len() < 20 && dead.iter().all(|d| d.kind == "trap"), "{dead:?}");

    // After the fix (here: another plugin), the same consumer group gets
    // every record that was not dead-lettered: nothing was lost.
    let fixed = std::fs::read_to_string(&p).unwrap();
    let head = &fixed[..fixed.find("[[stage]]").unwrap()];
    let p2 = dir.join("fixed.toml");
    std::fs::write(&p2, format!("{head}{}", stage("fixed", "identity", ""))).unwrap();
    let left = N - dead.len();
    Wasp::start(&p2, &["--max-records", &left.to_string()], "fixed")
        .wait_ok(Duration::from_secs(300));
    let out = id_counts(&read(&output, Duration::from_secs(3)));
    let mut seen: Vec<u64> = out.keys().copied().chain(dead.iter().map(|d| d.id)).collect();
    seen.sort_unstable();
    assert_eq!(
        seen,
        (0..N as u64).collect::<Vec<_>>(),
        "every record output or dead-lettered once"
    );
}

/// A pipeline over a file; stdout lines as JSON and stderr, success expected.
fn file_run(toml: &str, lines: &[String]) -> (Vec<Value>, String) {
    let dir = temp_dir("sbx-file");
    let p = write_pipeline(&dir, toml);
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    let input = write_input(&dir, &refs);
    let o = wasp(&["test", p.to_str().unwrap(), "--input", input.to_str().unwrap()]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "wasp test failed: {err}");
    assert!(!err.contains("panicked"), "{err}");
    (out.lines().map(|l| serde_json::from_str(l).unwrap()).collect(), err)
}

fn ids(n: u64) -> Vec<String> {
    (0..n).map(|i| format!(r#"{{"id":{i}}}"#)).collect()
}

#[test]
fn every_hostile_mode_is_isolated_and_counted_over_a_file() {
    // (mode, limits, expected kind, reason start, counter)
    let cases = [
        ("loop", "deadline_ms = 100", "deadline", "deadline of 100 ms", "timeouts"),
        (
            "loop",
            "fuel = 10_000_000",
            "fuel",
            "fuel budget of 10000000 exhausted",
            "fuel_exhausted",
        ),
        (
            "alloc",
            "memory_mib = 32",
            "memory-limit",
            "memory limit of 32 MiB reached",
            "memory_limit_hits",
        ),
        ("panic", "", "trap", "wasm trap: wasm `unreachable` instruction executed", "traps"),
        ("stack", "", "trap", "", "traps"),
    ];
    for (mode, limits, kind, reason, count) in cases {
        let toml = format!(
            "name = \"t\"\n{}",
            hostile(
                "h",
                &format!("mode = \"{mode}\"\nevery = 5"),
                &format!("[stage.limits]\n{limits}")
            )
        );
        let (lines, err) = file_run(&toml, &ids(12));
        let dead: Vec<&Value> = lines.iter().filter(|l| l["topic"] == "dead-letter").collect();
        let offsets: Vec<u64> = dead.iter().map(|l| l["offset"].as_u64().unwrap()).collect();
        assert_eq!(offsets, vec![0, 5, 10], "{mode}: {lines:?}");
        assert_eq!(lines.iter().filter(|l| l["topic"] == "output").count(), 9, "{mode}");
        for d in dead {
            assert_eq!(d["kind"], kind, "{mode}: {d}");
            assert!(d["reason"].as_str().unwrap().starts_with(reason), "{mode}: {d}");
        }
        let line = err.lines().find(|l| l.starts_with("  stage h ")).unwrap();
        assert!(counter(line, count) >= 3, "{mode}: {line}");
        assert!(counter(line, "instance_recycles") >= 3, "{mode}: {line}");
        assert_eq!(counter(line, "dead_lettered"), 3, "{mode}: {line}");
    }
}

#[test]
fn state_quota_log_rate_and_counter_names_bound_what_a_plugin_keeps_in_the_host() {
    // State: 1 MiB per record against a 3 MiB quota. Two values fit (the
    // keys take a few bytes more), every later `state.set` fails its record.
    let toml = format!(
        "name = \"t\"\n{}",
        hostile(
            "hoard",
            "mode = \"state\"\nevery = 1\nhuge_mib = 1",
            "[stage.limits]\nstate_mib = 3"
        )
    );
    let (lines, err) = file_run(&toml, &ids(6));
    let dead: Vec<&Value> = lines.iter().filter(|l| l["topic"] == "dead-letter").collect();
    let offsets: Vec<u64> = dead.iter().map(|l| l["offset"].as_u64().unwrap()).collect();
    assert_eq!(offsets, vec![2, 3, 4, 5], "{lines:?}");
    for d in &dead {
        assert_eq!(d["kind"], "state-limit", "{d}");
        let reason = d["reason"].as_str().unwrap();
        assert!(reason.contains("state quota of 3145728 bytes reached"), "{reason}");
        assert!(reason.contains("[stage.limits] state_mib"), "{reason}");
    }
    let line = err.lines().find(|l| l.starts_with("  stage hoard ")).unwrap();
    // At least: the batch call fails first, then each record alone.
    assert!(counter(line, "state_limit_hits") >= 4, "{line}");
    assert_eq!(counter(line, "dead_lettered"), 4, "{line}");

    // Log: 3 records × 5 000 lines against 100 lines a second. The run
    // takes well under a few seconds, so at most a few hundred get through.
    let toml = format!(
        "name = \"t\"\n{}",
        hostile(
            "chatty",
            "mode = \"log\"\nevery = 1\noutputs = 5000",
            "[stage.limits]\nlog_lines_per_second = 100"
        )
    );
    let (lines, err) = file_run(&toml, &ids(3));
    assert_eq!(lines.iter().filter(|l| l["topic"] == "output").count(), 3, "{lines:?}");
    let logged = err.lines().filter(|l| l.contains(": line ")).count();
    let line = err.lines().find(|l| l.starts_with("  stage chatty ")).unwrap();
    let dropped = counter(line, "log_lines_dropped");
    assert_eq!(logged as u64 + dropped, 15_000, "every line logged or counted: {line}");
    assert!((100..1_000).contains(&logged), "{logged} lines logged");
    assert!(err.contains("plugin logs more than 100 lines a second"), "{err}");

    // Counters: 2 records × 300 new names; a stage keeps 256.
    let toml = format!(
        "name = \"t\"\n{}",
        hostile("counting", "mode = \"counters\"\nevery = 1\noutputs = 300", "")
    );
    let (lines, err) = file_run(&toml, &ids(2));
    assert_eq!(lines.iter().filter(|l| l["topic"] == "output").count(), 2, "{lines:?}");
    let line = err.lines().find(|l| l.starts_with("  stage counting ")).unwrap();
    assert_eq!(counter(line, "plugin_counters_dropped"), 600 - 256, "{line}");
    assert_eq!(line.matches("plugin.c-").count(), 256, "{line}");
    assert!(err.contains("a stage keeps at most 256 plugin counters"), "{err}");
}

#[test]
fn a_huge_reject_reason_is_cut_and_an_overlong_topic_name_refused() {
    let toml = format!(
        "name = \"t\"\n{}{}",
        hostile("reject", "mode = \"reject\"\npoison_id = 1\nhuge_mib = 20", ""),
        hostile("topic", "mode = \"topic\"\npoison_id = 2", "")
    );
    let (lines, _) = file_run(&toml, &ids(4));
    let dead: Vec<&Value> = lines.iter().filter(|l| l["topic"] == "dead-letter").collect();
    assert_eq!(dead.len(), 2, "{lines:?}");
    let reason = dead[0]["reason"].as_str().unwrap();
    assert_eq!(
        (dead[0]["stage"].as_str(), dead[0]["kind"].as_str()),
        (Some("reject"), Some("rejected"))
    );
    assert!(reason.len() < 5000 && reason.ends_with("… (cut)"), "{} bytes", reason.len());
    assert_eq!(
        (dead[1]["stage"].as_str(), dead[1]["kind"].as_str()),
        (Some("topic"), Some("contract"))
    );
    assert_eq!(dead[1]["reason"], "emitted to a topic name of 10000 bytes; Kafka allows 249");
}

#[test]
fn the_stop_policy_makes_wasp_test_fail_with_the_reason() {
    let dir = temp_dir("stop-file");
    let p = write_pipeline(
        &dir,
        &format!(
            "name = \"t\"\n{}",
            hostile(
                "broken",
                "mode = \"panic\"\nevery = 1",
                "[stage.faults]\nmax_consecutive_failures = 5"
            )
        ),
    );
    let input = write_input(&dir, &ids(50).iter().map(String::as_str).collect::<Vec<_>>());
    let o = wasp(&["test", p.to_str().unwrap(), "--input", input.to_str().unwrap()]);
    assert_clean_failure(
        &o,
        &[
            "stage 'broken' is disabled: plugin hostile.wasm failed 5 records in a row",
            "([stage.faults] max_consecutive_failures = 5)",
            "the last failure was trap: wasm trap",
            "on_disabled = \"stop\"",
        ],
    );
    // A plugin failing on some records only is never disabled.
    let toml = format!(
        "name = \"t\"\n{}",
        hostile(
            "flaky",
            "mode = \"panic\"\nevery = 2",
            "[stage.faults]\nmax_consecutive_failures = 2"
        )
    );
    let (lines, _) = file_run(&toml, &ids(40));
    assert_eq!(lines.iter().filter(|l| l["kind"] == "trap").count(), 20);
    assert_eq!(lines.iter().filter(|l| l["topic"] == "output").count(), 20);
}

#[test]
fn fault_policy_keys_are_checked() {
    let base = "name = 'p'\n[[stage]]\nname = 'a'\nplugin = 'x.wasm'\n[stage.faults]\n";
    let err =
        wasp::config::PipelineConfig::parse(&format!("{base}max_failures = 3\n")).unwrap_err();
    assert!(format!("{err:#}").contains("max_failures"), "{err:#}");
    let err = wasp::config::PipelineConfig::parse(&format!("{base}on_disabled = \"ignore\"\n"))
        .unwrap_err();
    assert!(format!("{err:#}").contains("dead-letter"), "{err:#}");
    let cfg =
        wasp::config::PipelineConfig::parse(&format!("{base}on_disabled = \"dead-letter\"\n"))
            .unwrap();
    assert_eq!(cfg.stages[0].faults.on_disabled, wasp::runtime::OnDisabled::DeadLetter);
    assert_eq!(cfg.stages[0].faults.max_consecutive_failures, 100, "documented default");
    let cfg =
        wasp::config::PipelineConfig::parse("name = 'p'\n[[stage]]\nname = 'a'\nplugin = 'x'\n")
            .unwrap();
    assert_eq!(cfg.stages[0].faults, wasp::runtime::FaultPolicy::default());
    assert_eq!(
        cfg.stages[0].faults.on_disabled,
        wasp::runtime::OnDisabled::Stop,
        "documented default"
    );
}

#[test]
fn the_snoop_plugin_gets_no_files_no_environment_no_network_and_a_frozen_clock() {
    const SECRET: &str = "wasp-secret-7f3a9c";
    let dir = temp_dir("snoop");
    let p = write_pipeline(
        &dir,
        &format!(
            "name = \"snoop\"\n[[stage]]\nname = \"snoop\"\nplugin = \"{}\"\n",
            plugin("snoop-py").display()
        ),
    );
    let input = write_input(&dir, &[r#"{"id":1}"#]);
    let o = Command::new(env!("CARGO_BIN_EXE_wasp"))
        .args(["test", p.to_str().unwrap(), "--input", input.to_str().unwrap()])
        .env("WASP_SECRET", SECRET)
        .env("HOME", "/root/snoop-home")
        .output()
        .unwrap();
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(!out.contains(SECRET) && !out.contains("snoop-home"), "the environment leaked: {out}");
    assert!(!out.contains("root:x:0:0"), "/etc/passwd leaked: {out}");
    let line: Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    let r = &line["value"];
    let is_error = |v: &Value| v.as_str().is_some_and(|s| s.starts_with("error: "));
    for (path, got) in r["files"].as_object().unwrap() {
        assert!(is_error(got), "opened {path}: {got}");
    }
    for (path, got) in r["listdir"].as_object().unwrap() {
        assert!(is_error(got) || got.as_array().is_some_and(Vec::is_empty), "listed {path}: {got}");
    }
    assert_eq!(r["env"], serde_json::json!({}), "os.environ is empty");
    for (name, got) in r["getenv"].as_object().unwrap() {
        assert!(got.is_null(), "${name} = {got}");
    }
    assert_eq!(r["time"], 0.0, "the wall clock is frozen at the Unix epoch");
    assert_eq!(r["time_ns"], 0);
    // One second, not zero: Go's runtime refuses a zero monotonic clock
    // (docs/sandbox.md).
    assert_eq!(r["monotonic_ns"], 1_000_000_000, "the monotonic clock stands at one second");
    assert!(is_error(&r["network"]), "network: {}", r["network"]);
    assert_eq!(r["print"], "ok", "printing works (and goes nowhere harmful)");
}

#[test]
fn a_stage_granted_the_real_clock_sees_it_and_nothing_else() {
    let dir = temp_dir("snoop-clock");
    let p = write_pipeline(
        &dir,
        &format!(
            "name = \"snoop\"\n[[stage]]\nname = \"snoop\"\nplugin = \"{}\"\n[stage.limits]\nclock = \"real\"\n",
            plugin("snoop-py").display()
        ),
    );
    let input = write_input(&dir, &[r#"{"id":1}"#]);
    let o = Command::new(env!("CARGO_BIN_EXE_wasp"))
        .args(["test", p.to_str().unwrap(), "--input", input.to_str().unwrap()])
        .output()
        .unwrap();
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    let line: Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    let r = &line["value"];
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();
    let seen = r["time"].as_f64().unwrap();
    assert!((now - seen).abs() < 600.0, "the granted wall clock is the host's: {seen} vs {now}");
    assert_eq!(r["env"], serde_json::json!({}), "granting the clock grants nothing else");
    assert!(r["files"]
        .as_object()
        .unwrap()
        .values()
        .all(|v| v.as_str().is_some_and(|s| s.starts_with("error: "))));
}

// ---------------------------------------------------------------------------
// Fuzzing through the library. A hand-rolled seeded generator keeps it
// dependency-free and reproducible: the seed is printed, and
// WASP_FUZZ_SEED=<n> replays a run; WASP_FUZZ_SCALE=<k> runs k times longer.

/// xorshift64*.
struct Rng(u64);

impl Rng {
    fn from_env(test: &str) -> Rng {
        let seed = std::env::var("WASP_FUZZ_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
            });
        note(&format!("{test}: WASP_FUZZ_SEED={seed}"));
        Rng(seed | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    fn bytes(&mut self, max: usize) -> Vec<u8> {
        let n = self.below(max + 1);
        (0..n).map(|_| self.next() as u8).collect()
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// A string of random characters, multi-byte and control ones included.
    fn text(&mut self, max: usize) -> String {
        let n = self.below(max + 1);
        (0..n)
            .map(|_| match self.below(4) {
                0 => char::from_u32(self.below(0x80) as u32).unwrap(),
                1 => *self.pick(&['"', '\\', '{', '}', ':', ',', '\0', '\n', 'é', '€', '😀']),
                2 => char::from_u32(self.below(0xD7FF) as u32).unwrap_or('x'),
                _ => (b'a' + self.below(26) as u8) as char,
            })
            .collect()
    }

    fn scale() -> usize {
        std::env::var("WASP_FUZZ_SCALE").ok().and_then(|s| s.parse().ok()).unwrap_or(1)
    }
}

/// A JSON-ish value for the json-transform + router pipeline: often
/// well-formed, with fields those plugins look at, then maybe mutated.
fn json_ish(rng: &mut Rng) -> Vec<u8> {
    let number = |rng: &mut Rng| -> String {
        rng.pick(&[
            "0",
            "-1",
            "1e308",
            "-1e308",
            "1e309",
            "3.14",
            "-0.0",
            "18446744073709551616",
            "1e-400",
            "NaN",
            "\"hot\"",
            "null",
            "true",
            "[1,2]",
            "{\"a\":1}",
        ])
        .to_string()
    };
    let mut fields = Vec::new();
    for _ in 0..rng.below(6) {
        let f = match rng.below(6) {
            0 => format!("\"id\":{}", number(rng)),
            1 | 2 => format!("\"temperature\":{}", number(rng)),
            3 => {
                let route =
                    rng.pick(&["next", "feedback", "drop", "reject:bad", "alerts", "other"]);
                match rng.below(3) {
                    0 => format!("\"route\":{}", serde_json::to_string(&rng.text(12)).unwrap()),
                    1 => format!("\"route\":{}", number(rng)),
                    _ => format!("\"route\":\"{route}\""),
                }
            }
            4 => format!("{}:{}", serde_json::to_string(&rng.text(8)).unwrap(), number(rng)),
            _ => format!(
                "\"nested\":{{\"deep\":[{}]}}",
                "[".repeat(rng.below(200)) + &"]".repeat(rng.below(200))
            ),
        };
        fields.push(f);
    }
    let mut v = format!("{{{}}}", fields.join(",")).into_bytes();
    match rng.below(6) {
        0 if !v.is_empty() => {
            let i = rng.below(v.len());
            v[i] = rng.next() as u8;
        }
        1 => v.truncate(rng.below(v.len() + 1)),
        2 => {
            let i = rng.below(v.len() + 1);
            let junk = rng.bytes(8);
            v.splice(i..i, junk);
        }
        _ => {}
    }
    v
}

fn random_message(rng: &mut Rng, offset: i64) -> wasp::record::Record {
    use wasp::record::{Header, Record as Message};
    let value = match rng.below(10) {
        0 => None,
        1 => Some(Vec::new()),
        2 | 3 => Some(rng.bytes(300)),
        _ => Some(json_ish(rng)),
    };
    let value = if rng.below(500) == 0 { Some(vec![b'{'; 1_000_001]) } else { value };
    Message {
        offset,
        timestamp: if rng.chance(50) { Some(rng.next() as i64) } else { None },
        key: if rng.chance(50) { Some(rng.bytes(40)) } else { None },
        value,
        headers: (0..rng.below(4))
            .map(|_| Header { key: rng.text(10), value: rng.bytes(20) })
            .collect(),
    }
}

#[test]
fn fuzz_arbitrary_records_through_the_real_wasm_pipeline() {
    use wasp::config::PipelineConfig;
    use wasp::pipeline::{Pipeline, Route};
    use wasp::record::BatchInfo;
    use wasp::runtime::{Engine, EngineOptions};

    let mut rng = Rng::from_env("fuzz_arbitrary_records_through_the_real_wasm_pipeline");
    let toml = format!(
        "name = \"fuzz\"\n[topics]\nallowed = [\"alerts\"]\n\
         [[stage]]\nname = \"transform\"\nplugin = \"{}\"\n[stage.config]\n\
         scale = {{ temperature = {{ multiply = 2, offset = 1 }} }}\nrename = {{ temperature = \"t\" }}\n\
         [[stage]]\nname = \"route\"\nplugin = \"{}\"\n",
        plugin("json-transform").display(),
        plugin("router").display()
    );
    let cfg = PipelineConfig::parse(&toml).unwrap();
    let engine = Engine::new(&EngineOptions::default()).unwrap();
    let pipeline = Pipeline::load(&engine, &cfg).unwrap();
    let mut instance = pipeline.instantiate().unwrap();
    let info = BatchInfo { topic: "fuzz".into(), partition: 0 };
    instance.set_partition(&info.topic, info.partition);
    let started = Instant::now();
    let (mut records, mut produced, mut failed) = (0usize, 0usize, 0usize);
    let mut offset = 0i64;
    for _ in 0..600 * Rng::scale() {
        let batch: Vec<_> = (0..1 + rng.below(64))
            .map(|_| {
                offset += 1;
                random_message(&mut rng, offset)
            })
            .collect();
        let outcomes = instance.process(&info, &batch);
        assert_eq!(outcomes.len(), batch.len(), "one outcome per record");
        for (m, o) in batch.iter().zip(&outcomes) {
            for f in &o.failures {
                // Bad input is the plugins' to reject, never a fault.
                assert!(
                    ["rejected", "input"].contains(&f.kind.as_str()),
                    "record {:?} made a plugin fail: {f:?}",
                    m.value.as_deref().map(String::from_utf8_lossy)
                );
                assert!(!f.reason.is_empty());
            }
            for p in &o.produced {
                assert!(matches!(&p.route, Route::Output | Route::Feedback | Route::Topic(_)));
            }
            produced += o.produced.len();
            failed += o.failures.len();
        }
        records += batch.len();
    }
    assert!(instance.stop_reason().is_none());
    note(&format!(
        "fuzzed {records} records ({produced} outputs, {failed} dead letters) in {:.1} s",
        started.elapsed().as_secs_f64()
    ));
    assert!(produced > 0 && failed > 0, "the generator reaches both outcomes");
}

#[test]
fn fuzz_arbitrary_and_mutated_plugin_files_through_the_loader() {
    use wasp::error::PluginError;
    use wasp::record::{BatchInfo, Record as Message};
    use wasp::runtime::{Engine, EngineOptions, InstanceContext, Limits, Plugin};

    let mut rng = Rng::from_env("fuzz_arbitrary_and_mutated_plugin_files_through_the_loader");
    // No cache: mutants must not fill the compiled-code cache.
    let engine = Engine::new(&EngineOptions { no_cache: true, ..Default::default() }).unwrap();
    let real: Vec<Vec<u8>> = ["identity", "wrong-world", "router"]
        .iter()
        .map(|n| std::fs::read(plugin(n)).unwrap())
        .collect();
    let limits = Limits { memory_mib: 32, deadline_ms: 100, ..Limits::default() };
    let ctx = |config: &str| InstanceContext::standalone("fuzz", config, limits);
    let info = BatchInfo { topic: "fuzz".into(), partition: 0 };
    let record = Message {
        offset: 0,
        timestamp: None,
        key: None,
        value: Some(b"{}".to_vec()),
        headers: vec![],
    };
    let started = Instant::now();
    let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
    for i in 0..500 * Rng::scale() {
        let bytes: Vec<u8> = match i % 5 {
            0 => rng.bytes(2000),
            1 => {
                let mut b = b"\0asm".to_vec();
                b.extend(rng.pick(&[[0x0d, 0, 1, 0], [1, 0, 0, 0], [0x0e, 0, 1, 0]]));
                b.extend(rng.bytes(500));
                b
            }
            _ => {
                // Mostly the small plugins: a mutant that stays valid is
                // compiled in full.
                let mut b =
                    if rng.chance(90) { real[rng.below(2)].clone() } else { real[2].clone() };
                match rng.below(5) {
                    0 => {
                        for _ in 0..1 + rng.below(8) {
                            let j = rng.below(b.len());
                            b[j] ^= 1 << rng.below(8);
                        }
                    }
                    1 => {
                        let j = rng.below(b.len());
                        let junk = rng.bytes(64);
                        let end = (j + junk.len()).min(b.len());
                        b.splice(j..end, junk);
                    }
                    2 => b.truncate(rng.below(b.len())),
                    3 => {
                        let j = rng.below(b.len());
                        let k = (j + rng.below(256)).min(b.len());
                        let chunk = b[j..k].to_vec();
                        b.splice(j..j, chunk);
                    }
                    _ => {
                        let other = rng.pick(&real);
                        let j = rng.below(b.len().min(other.len()));
                        b.truncate(j);
                        b.extend_from_slice(&other[j..]);
                    }
                }
                b
            }
        };
        let outcome = match Plugin::from_bytes(&engine, Path::new("mutant.wasm"), &bytes) {
            Err(e) => {
                let msg = e.to_string();
                assert!(msg.contains("mutant.wasm"), "errors name the file: {msg}");
                match e {
                    PluginError::NotWasm { .. } => "not wasm",
                    PluginError::CoreModule { .. } => "core module",
                    PluginError::Invalid { .. } => "invalid",
                    PluginError::WrongWorld { .. } => "wrong world",
                    _ => "other error",
                }
                .to_string()
            }
            Ok(p) => {
                // A mutant that loads is run, under tight limits.
                let _ = p.info();
                match p.instantiate(ctx("{}")) {
                    Ok(mut inst) => {
                        let _ = inst.process(&info, std::slice::from_ref(&record));
                        "loaded and ran".into()
                    }
                    Err(_) => "loaded, failed to start".into(),
                }
            }
        };
        *outcomes.entry(outcome).or_default() += 1;
    }
    // Arbitrary init configs, for the plugins that parse one.
    for name in ["json-transform", "router"] {
        let p = Plugin::load(&engine, &plugin(name)).unwrap();
        for _ in 0..40 * Rng::scale() {
            let config = if rng.chance(50) {
                rng.text(40)
            } else {
                format!(
                    "{{{}:{}}}",
                    serde_json::to_string(&rng.text(8)).unwrap(),
                    rng.pick(&["1", "\"x\"", "[]", "{}", "null"])
                )
            };
            if let Ok(mut inst) = p.instantiate(ctx(&config)) {
                let _ = inst.process(&info, std::slice::from_ref(&record));
            }
        }
    }
    note(&format!("loader fuzz in {:.1} s: {outcomes:?}", started.elapsed().as_secs_f64()));
}
