//! Plugins in other Wasm languages: the JavaScript `enrich`, C `scale`, Go
//! `scale` and Python `login-validator` plugins over a file (`wasp test`) and
//! over Kafka (`wasp run`), checked record by record; the C and Go twins of
//! the Rust json-transform give the same bytes; the native tests of their logic;
//! plugin stdout reaching the log; `recycle_after_calls`; and `wasp new`
//! projects of every language built and tested with their own scripts.

use crate::broker::*;
use crate::common::*;
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;
use std::time::Duration;
use wasp::router::headers;

fn stage_toml(name: &str, plugin: &str, config: &str) -> String {
    format!(
        "[[stage]]\nname = \"{name}\"\nplugin = \"{}\"\n[stage.config]\n{config}\n",
        crate::common::plugin(plugin).display()
    )
}

/// `wasp test` over `lines`; (stdout lines as JSON, raw stdout, stderr).
fn run_file(dir: &Path, pipeline_toml: &str, lines: &[&str]) -> (Vec<Value>, String, String) {
    let p = write_pipeline(dir, pipeline_toml);
    let input = write_input(dir, lines);
    let o = wasp(&["test", p.to_str().unwrap(), "--input", input.to_str().unwrap()]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "wasp test failed: {err}");
    assert!(!err.contains("panicked"), "{err}");
    (
        out.lines().map(|l| serde_json::from_str(l).expect("stdout lines are JSON")).collect(),
        out,
        err,
    )
}

// --- C twin of the Rust json-transform ----------------------------------------

/// Records exercising everything the C JSON reader and writer must agree
/// on with serde_json: number forms and ranges, float printing, strings and
/// escapes, nesting, duplicate keys, and every rejection.
const TWIN_INPUT: &[&str] = &[
    r#"{"id":1,"temperature":20,"humidity":40,"site":"a"}"#,
    r#"{"id":2,"temperature":21.5,"humidity":41.25,"site":"b"}"#,
    r#"{"id":3,"humidity":50}"#,
    r#"{"id":4,"temperature":"hot","humidity":1}"#,
    r#"{"id":5,"temperature":-3,"humidity":0}"#,
    r#"{"temperature":0.1,"humidity":0.7}"#,
    r#"{"temperature":1e300,"humidity":1e-300}"#,
    r#"{"temperature":123456789012345678901234567890,"humidity":-0}"#,
    r#"{"temperature":-9223372036854775808,"humidity":18446744073709551615}"#,
    r#"{"temperature":5e-324,"humidity":2.5e-5,"x":1E+2,"y":-1.5e-7,"z":1e16}"#,
    r#"{"temperature":1e308}"#,
    r#"{"temperature":null}"#,
    r#"{"a":{"b":[1,-2,3.5,{"c":null}],"d":""},"e":[],"temperature":2}"#,
    r#"{"a":1,"temperature":1,"a":3}"#,
    r#"{"é":"ü \u20ac \ud83d\ude00 \" \\ \/ \n\r\t\b\f \u0001 \u001f ","temperature":7}"#,
    r#"  {"temperature" : 4 , "k" : [ true , false ] }  "#,
    r#"not json"#,
    r#"[1,2]"#,
    r#""text""#,
    r#"{"temperature":NaN}"#,
    r#"{"temperature":01}"#,
    r#"{"temperature":1,}"#,
    r#"{"s":"\ud800"}"#,
    r#"{"temperature":1e400}"#,
    r#"{"temperature":1}x"#,
    r#""#,
];

const TWIN_CONFIG: &str =
    "scale = { temperature = { multiply = 2, offset = 0.5 }, humidity = { multiply = 0.1 } }";

fn run_twin(plugin: &str) -> String {
    let dir = temp_dir(&format!("twin-{plugin}"));
    let (_, raw, _) = run_file(
        &dir,
        &format!("name = \"t\"\n{}", stage_toml("scale", plugin, TWIN_CONFIG)),
        TWIN_INPUT,
    );
    raw
}

/// `plugin`'s output on TWIN_INPUT is the Rust json-transform's, byte for
/// byte, and is what serde_json writes.
fn assert_byte_twin_of_json_transform(plugin: &str) {
    let rust = run_twin("json-transform");
    let c = run_twin(plugin);
    assert_eq!(rust.lines().count(), TWIN_INPUT.len(), "{rust}");
    // The parsers word the detail of a syntax error their own way.
    let strip = |raw: &str| -> Vec<String> {
        raw.lines()
            .map(|l| match l.find("value is not valid JSON: ") {
                Some(i) => l[..i].to_string() + &l[l.rfind(",\"value\":").unwrap()..],
                None => l.to_string(),
            })
            .collect()
    };
    let (rust_lines, c_lines) = (strip(&rust), strip(&c));
    for (i, (r, c)) in rust_lines.iter().zip(&c_lines).enumerate() {
        assert_eq!(c, r, "record {i} ({}) differs", TWIN_INPUT[i]);
    }
    assert_eq!(c_lines.len(), rust_lines.len());
    // And the bytes are what serde_json writes, not just what both agree on.
    let c: Vec<&str> = c.lines().collect();
    assert!(
        c[0].contains(r#""value":{"id":1,"temperature":40.5,"humidity":4.0,"site":"a"}"#),
        "{}",
        c[0]
    );
    assert!(
        c[5].contains(r#""value":{"temperature":0.7,"humidity":0.06999999999999999}"#),
        "{}",
        c[5]
    );
    assert!(c[8].contains(r#""humidity":1.8446744073709553e+18"#), "{}", c[8]);
    assert!(c[9].contains(r#""x":100.0,"y":-1.5e-7,"z":1e+16"#), "{}", c[9]);
    assert!(c[10].contains("field 'temperature' scaled to a non-finite number"), "{}", c[10]);
    assert!(c[13].contains(r#""value":{"a":3,"temperature":2.5}"#), "{}", c[13]);
    assert!(c[25].contains("empty value: expected a JSON object"), "{}", c[25]);
}

#[test]
fn c_scale_gives_the_same_bytes_as_the_rust_json_transform() {
    assert_byte_twin_of_json_transform("scale-c");
}

#[test]
fn go_scale_gives_the_same_bytes_as_the_rust_json_transform() {
    assert_byte_twin_of_json_transform("scale-go");
    let o =
        wasp(&["check", plugin("scale-go").to_str().unwrap(), "--config", r#"{"select":["id"]}"#]);
    assert_clean_failure(&o, &["unknown config key 'select'", "implements only 'scale'"]);
}

#[test]
fn c_scale_passes_the_contract_scale_case_and_refuses_what_it_does_not_implement() {
    let (rust_lines, _) = crate::contract::run_scale("json-transform");
    // The shared contract input with only the scale step configured.
    let dir = temp_dir("c-contract");
    let (lines, _, _) = run_file(
        &dir,
        &format!(
            "name = \"t\"\n{}",
            stage_toml(
                "scale",
                "scale-c",
                "scale = { temperature = { multiply = 2, offset = 0.5 } }"
            )
        ),
        &[r#"{"id":1,"temperature":20,"humidity":40,"site":"a"}"#, r#"{"id":3,"humidity":50}"#],
    );
    assert_eq!(lines[0]["value"], json!({"id":1,"temperature":40.5,"humidity":40,"site":"a"}));
    assert_eq!(lines[1]["value"], json!({"id":3,"humidity":50}));
    assert_eq!(rust_lines[0]["value"]["t2"], 40.5, "the Rust twin agrees on the number");
    let o =
        wasp(&["check", plugin("scale-c").to_str().unwrap(), "--config", r#"{"select":["id"]}"#]);
    assert_clean_failure(&o, &["unknown config key 'select'", "implements only 'scale'"]);
    let o =
        wasp(&["check", plugin("scale-c").to_str().unwrap(), "--config", r#"{"scale":{"a":2}}"#]);
    assert_clean_failure(&o, &["'scale.a' must be a table with multiply and/or offset"]);
}

// --- JavaScript enrich -------------------------------------------------------------

const ENRICH_CONFIG: &str = "lowercase = [\"email\"]\nset = { ingested = true }\n\
     concat = { full_name = { fields = [\"first_name\", \"last_name\"] } }\n\
     domain = { email_domain = \"email\" }";

#[test]
fn js_enrich_over_a_file_record_by_record() {
    let dir = temp_dir("js-enrich");
    let (lines, _, err) = run_file(
        &dir,
        &format!("name = \"t\"\n{}", stage_toml("enrich", "enrich-js", ENRICH_CONFIG)),
        &[
            r#"{"id":1,"first_name":"Ada","last_name":"Lovelace","email":"Ada@Example.COM"}"#,
            r#"{"id":2,"first_name":"Bob"}"#,
            r#"{"id":3,"email":"no-at-sign","n":[1,{"x":null}]}"#,
            "not json",
            "[1]",
        ],
    );
    assert_eq!(
        lines,
        vec![
            json!({"offset":0,"topic":"output","key":null,"value":{"id":1,"first_name":"Ada","last_name":"Lovelace",
                "email":"ada@example.com","full_name":"Ada Lovelace","email_domain":"example.com","ingested":true}}),
            json!({"offset":1,"topic":"output","key":null,"value":{"id":2,"first_name":"Bob","full_name":"Bob","ingested":true}}),
            json!({"offset":2,"topic":"output","key":null,"value":{"id":3,"email":"no-at-sign","n":[1,{"x":null}],"ingested":true}}),
            json!({"offset":3,"topic":"dead-letter","stage":"enrich","kind":"rejected",
                "reason":"value is not valid JSON: JSON.parse: unexpected keyword at line 1 column 1 of the JSON data","value":"not json"}),
            json!({"offset":4,"topic":"dead-letter","stage":"enrich","kind":"rejected","reason":"value is not a JSON object","value":[1]}),
        ]
    );
    assert!(err.contains("plugin.enriched=3"), "the plugin's counter is reported: {err}");
    let o = wasp(&[
        "check",
        plugin("enrich-js").to_str().unwrap(),
        "--config",
        r#"{"lowercase":"email"}"#,
    ]);
    assert_clean_failure(&o, &["'lowercase' must be a list of field names"]);
}

// --- JavaScript scale (the e2e bench's per-language workload) ----------------------

/// `v` with every number as an f64. JavaScript prints a whole float as `4`
/// where serde_json prints `4.0`, and serde_json's `Value` tells the two
/// apart, so the JS and Rust outputs are compared as numbers, not bytes.
fn numbers_as_f64(v: Value) -> Value {
    match v {
        Value::Number(n) => json!(n.as_f64().expect("a JSON number")),
        Value::Array(a) => Value::Array(a.into_iter().map(numbers_as_f64).collect()),
        Value::Object(o) => {
            Value::Object(o.into_iter().map(|(k, v)| (k, numbers_as_f64(v))).collect())
        }
        other => other,
    }
}

#[test]
fn js_scale_gives_the_same_values_as_the_rust_json_transform_on_sensor_records() {
    let mut records: Vec<String> = (0..40)
        .map(|i| {
            format!(
                r#"{{"id":{},"sensor":"boiler-{}","temperature":{:.2},"humidity":{:.2},"ts":{},"ok":true}}"#,
                100_000 + i,
                i % 10,
                18.0 + (i % 70) as f64 * 0.1,
                40.0 + (i * 37 % 300) as f64 * 0.1,
                1_718_000_000_000u64 + i as u64
            )
        })
        .collect();
    records.extend(
        [
            r#"{"id":1,"temperature":20,"humidity":40,"site":"a"}"#,
            r#"{"id":3,"humidity":50}"#,
            r#"{"temperature":-3.75,"humidity":0,"tags":["x",{"y":null}]}"#,
            r#"{"id":4,"temperature":"hot","humidity":1}"#,
            r#"[1,2]"#,
        ]
        .map(String::from),
    );
    let lines: Vec<&str> = records.iter().map(String::as_str).collect();
    let run = |plugin: &str| {
        let dir = temp_dir(&format!("scale-values-{plugin}"));
        let toml = format!("name = \"t\"\n{}", stage_toml("scale", plugin, TWIN_CONFIG));
        run_file(&dir, &toml, &lines).0.into_iter().map(numbers_as_f64).collect::<Vec<_>>()
    };
    let (rust, js) = (run("json-transform"), run("scale-js"));
    assert_eq!(rust.len(), records.len());
    for (i, (r, j)) in rust.iter().zip(&js).enumerate() {
        assert_eq!(j, r, "record {i} ({}) differs", records[i]);
    }
    assert_eq!(js.len(), rust.len());
    assert_eq!(
        js[40]["value"],
        numbers_as_f64(json!({"id":1,"temperature":40.5,"humidity":4,"site":"a"}))
    );
    assert_eq!(js[43]["reason"], "field 'temperature' is not a number");
    let out = run_ok(
        Command::new("node").arg("--test").current_dir(root().join("plugins/js/scale")),
        "node --test in plugins/js/scale",
    );
    assert!(out.contains("# fail 0"), "{out}");
}

// --- Python login validator ------------------------------------------------------

#[test]
fn python_login_validator_over_a_file_record_by_record_and_its_print_is_logged() {
    let dir = temp_dir("py-login");
    let (lines, _, err) = run_file(
        &dir,
        &format!(
            "name = \"t\"\n[topics]\nfeedback = \"bad-logins\"\n{}",
            stage_toml("validate", "login-validator-py", "")
        ),
        &[
            r#"{"username":"ada1815","password":"Analytical1!"}"#,
            r#"{"username":"al","password":"short","ts":1}"#,
            r#"{"username":"grace_h","password":"c0b0lrules"}"#,
            r#"{"user":"x"}"#,
            "not json",
        ],
    );
    assert_eq!(
        lines,
        vec![
            json!({"offset":0,"topic":"output","key":null,"value":{"username":"ada1815","password":"Analytical1!"}}),
            json!({"offset":1,"topic":"bad-logins","key":null,"value":{"username":"al","password":"short","ts":1,
                "invalid_reason":"username must be 4 to 15 characters; password must be at least 8 characters; \
                                  password needs an uppercase letter; password needs a digit; password needs a special character"}}),
            json!({"offset":2,"topic":"bad-logins","key":null,"value":{"username":"grace_h","password":"c0b0lrules",
                "invalid_reason":"username must hold only letters and digits; password needs an uppercase letter; password needs a special character"}}),
            json!({"offset":3,"topic":"bad-logins","key":null,"value":{"user":"x",
                "invalid_reason":"username is missing or not a string; password is missing or not a string"}}),
            json!({"offset":4,"topic":"dead-letter","stage":"validate","kind":"rejected",
                "reason":"value is not valid JSON: Expecting value: line 1 column 1 (char 0)","value":"not json"}),
        ]
    );
    assert!(err.contains("plugin.invalid_logins=3"), "{err}");
    // print() in the plugin lands in wasp's log, tagged with the stage/plugin.
    let printed = err
        .lines()
        .find(|l| l.contains("login-validator ready"))
        .unwrap_or_else(|| panic!("{err}"));
    assert!(
        printed.contains("validate/login-validator-py") && printed.contains("stdout"),
        "{printed}"
    );
}

// --- native tests of the logic ------------------------------------------------------

fn run_ok(cmd: &mut Command, what: &str) -> String {
    let o = cmd.output().unwrap_or_else(|e| panic!("{what}: cannot start: {e}"));
    let (out, err) = text(&o);
    assert!(o.status.success(), "{what} failed ({}):\n{out}\n{err}", o.status);
    out + &err
}

#[test]
fn native_go_test_of_the_scale_logic_passes() {
    // With the pinned toolchain that scripts/build-go-plugins installed.
    let out = run_ok(
        Command::new("bash")
            .arg("-c")
            .arg("source scripts/lib/go-toolchain.sh && go_toolchain \"$PWD\" && cd plugins/go/scale && go test -count=1 -v ./scale")
            .current_dir(root()),
        "go test in plugins/go/scale",
    );
    assert!(out.contains("ok  \twit_component/scale"), "{out}");
    assert!(out.contains("--- PASS: TestNumberFormsAreSerdeJsons"), "{out}");
    assert!(!out.contains("--- FAIL"), "{out}");
}

#[test]
fn native_tests_of_the_c_js_and_python_logic_pass() {
    let root = root();
    let dir = temp_dir("native");
    let exe = dir.join("test_scale");
    let c = root.join("plugins/c/scale");
    run_ok(
        Command::new("cc")
            .args(["-std=c11", "-Wall", "-Werror", "-ffp-contract=off", "-o"])
            .arg(&exe)
            .args(["test_scale.c", "scale.c", "json.c", "-lm"])
            .current_dir(&c),
        "compiling the C scale tests",
    );
    let out = run_ok(&mut Command::new(&exe), "the C scale tests");
    assert!(out.contains(" passed, 0 failed"), "{out}");
    let out = run_ok(
        Command::new("node").arg("--test").current_dir(root.join("plugins/js/enrich")),
        "node --test in plugins/js/enrich",
    );
    assert!(out.contains("# fail 0"), "{out}");
    let out = run_ok(
        Command::new("python3")
            .args(["-m", "unittest", "-q"])
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .current_dir(root.join("plugins/python/login_validator")),
        "the login validator's unittests",
    );
    assert!(out.contains("OK"), "{out}");
}

// --- instance recycling ---------------------------------------------------------------

#[test]
fn recycle_after_calls_rebuilds_the_instance_every_n_calls() {
    let dir = temp_dir("recycle");
    let toml = format!(
        "name = \"t\"\n[batch]\nmax_records = 1\n{}[stage.limits]\nrecycle_after_calls = 2\n",
        stage_toml("scale", "scale-c", "scale = { v = { multiply = 3 } }")
    );
    let (lines, _, err) = run_file(
        &dir,
        &toml,
        &[r#"{"v":1}"#, r#"{"v":2}"#, r#"{"v":3}"#, r#"{"v":4}"#, r#"{"v":5}"#],
    );
    let values: Vec<f64> = lines.iter().map(|l| l["value"]["v"].as_f64().unwrap()).collect();
    assert_eq!(values, vec![3.0, 6.0, 9.0, 12.0, 15.0], "recycling loses nothing");
    // Five one-record calls, two per instance: rebuilt before calls 3 and 5.
    assert!(err.contains("instance_recycles=2"), "{err}");
    let inits = err.matches("scale-c configured").count();
    let (_, _, plain) = run_file(
        &dir,
        &toml.replace("recycle_after_calls = 2", "deadline_ms = 5000"),
        &[r#"{"v":1}"#],
    );
    assert_eq!(
        inits,
        plain.matches("scale-c configured").count() + 2,
        "init ran again for each rebuild: {err}"
    );
}

// --- one pipeline, three languages, over Kafka ----------------------------------------

#[test]
fn js_c_and_python_stages_in_one_pipeline_over_kafka() {
    let [input, output, feedback, dlq] = ["poly-in", "poly-out", "poly-fb", "poly-dlq"].map(unique);
    create(&[&input, &output, &feedback, &dlq], 1);
    let good = |i: usize| {
        format!(
            r#"{{"username":"user{i}","password":"Passw0rd!{i}","first_name":"Ada","last_name":"L{i}","email":"u{i}@Example.ORG","score":{i}.5}}"#
        )
    };
    let mut records: Vec<String> = (0..6).map(good).collect();
    records.push(r#"{"username":"al","password":"short","score":2}"#.into());
    records.push("not json".into());
    records.push(r#"{"username":"grace","password":"C0b0lRules","score":"high"}"#.into());
    let produced: Vec<(String, Vec<u8>)> = records
        .iter()
        .enumerate()
        .map(|(i, r)| (format!("k{i}"), r.clone().into_bytes()))
        .collect();
    produce(&input, &produced, None);

    let dir = temp_dir("poly");
    let topics = format!(
        "input = [\"{input}\"]\noutput = \"{output}\"\nfeedback = \"{feedback}\"\ndead_letter = \"{dlq}\""
    );
    let stages = [
        stage(
            "enrich",
            "enrich-js",
            "concat = { full_name = { fields = [\"first_name\", \"last_name\"] } }\n\
               domain = { email_domain = \"email\" }\nset = { ingested = true }",
        ),
        stage("scale", "scale-c", "scale = { score = { multiply = 10 } }"),
        stage("validate", "login-validator-py", ""),
    ]
    .concat();
    let p = pipeline(&dir, "poly", &topics, &stages);
    let log = Wasp::start(&p, &["--max-records", &records.len().to_string()], "run")
        .wait_ok(Duration::from_secs(300));
    assert!(log.contains("login-validator ready"), "plugin stdout is in the run's log:\n{log}");

    let out = read(&output, Duration::from_secs(3));
    let values: Vec<String> =
        out.iter().map(|r| String::from_utf8(r.value.clone().unwrap()).unwrap()).collect();
    let expected: Vec<String> = (0..6)
        .map(|i| {
            format!(
                r#"{{"username":"user{i}","password":"Passw0rd!{i}","first_name":"Ada","last_name":"L{i}","email":"u{i}@Example.ORG","score":{}.0,"full_name":"Ada L{i}","email_domain":"example.org","ingested":true}}"#,
                i * 10 + 5
            )
        })
        .collect();
    assert_eq!(
        values, expected,
        "valid logins, enriched (JS) and scaled (C), in order, byte for byte"
    );
    let keys: Vec<String> =
        out.iter().map(|r| String::from_utf8(r.key.clone().unwrap()).unwrap()).collect();
    assert_eq!(
        keys,
        (0..6).map(|i| format!("k{i}")).collect::<Vec<_>>(),
        "outputs keep input keys"
    );

    let fb = read(&feedback, Duration::from_secs(2));
    assert_eq!(fb.len(), 1, "{fb:?}");
    assert_eq!(fb[0].key.as_deref(), Some(&b"k6"[..]), "feedback keeps the input key");
    let v: Value = serde_json::from_slice(fb[0].value.as_deref().unwrap()).unwrap();
    assert_eq!(
        v,
        json!({"username":"al","password":"short","score":20.0,"ingested":true,
               "invalid_reason":"username must be 4 to 15 characters; password must be at least 8 characters; \
                                 password needs an uppercase letter; password needs a digit; password needs a special character"})
    );

    let mut dead = read(&dlq, Duration::from_secs(2));
    dead.sort_by(|a, b| a.key.cmp(&b.key));
    assert_eq!(dead.len(), 2, "{dead:?}");
    assert_eq!(dead[0].key.as_deref(), Some(&b"k7"[..]));
    assert_eq!(
        dead[0].value.as_deref(),
        Some(&b"not json"[..]),
        "dead letters hold the original input"
    );
    assert_eq!(dead[0].header(headers::STAGE).as_deref(), Some("enrich"));
    assert!(dead[0].header(headers::REASON).unwrap().starts_with("value is not valid JSON: "));
    assert_eq!(dead[1].key.as_deref(), Some(&b"k8"[..]));
    assert_eq!(dead[1].value.as_deref(), Some(records[8].as_bytes()));
    assert_eq!(dead[1].header(headers::STAGE).as_deref(), Some("scale"));
    assert_eq!(dead[1].header(headers::REASON).as_deref(), Some("field 'score' is not a number"));
    assert_eq!(dead[1].header(headers::KIND).as_deref(), Some("rejected"));
}

// --- Go over Kafka -----------------------------------------------------------------------

#[test]
fn go_stage_in_a_pipeline_over_kafka_record_by_record() {
    let [input, output, dlq] = ["go-in", "go-out", "go-dlq"].map(unique);
    create(&[&input, &output, &dlq], 1);
    // Go scales temperature, then C scales humidity: Go's output feeds
    // another language's stage. Every value is exact in binary, so the
    // expected floats are plain to write down.
    let mut records: Vec<String> = (0..8)
        .map(|i| {
            format!(r#"{{"id":{i},"temperature":{}.25,"humidity":{},"site":"s{i}"}}"#, i, 40 + i)
        })
        .collect();
    records.push("not json".into());
    records.push(r#"{"id":9,"temperature":"hot","humidity":1}"#.into());
    records.push(r#"{"id":10,"temperature":1e308,"humidity":1}"#.into());
    records.push(r#"{"id":11,"humidity":3,"a":1,"a":2,"n":-0}"#.into());
    let produced: Vec<(String, Vec<u8>)> = records
        .iter()
        .enumerate()
        .map(|(i, r)| (format!("k{i}"), r.clone().into_bytes()))
        .collect();
    produce(&input, &produced, None);

    let dir = temp_dir("go-kafka");
    let topics = format!("input = [\"{input}\"]\noutput = \"{output}\"\ndead_letter = \"{dlq}\"");
    let stages = [
        // Default limits: the frozen clocks Go must start under.
        stage("go-scale", "scale-go", "scale = { temperature = { multiply = 2, offset = 0.5 } }"),
        stage("c-scale", "scale-c", "scale = { humidity = { multiply = 0.5 } }"),
    ]
    .concat();
    let p = pipeline(&dir, "go", &topics, &stages);
    let log = Wasp::start(&p, &["--max-records", &records.len().to_string()], "run")
        .wait_ok(Duration::from_secs(300));
    assert!(log.contains("scale-go configured: 1 scale fields"), "the Go plugin's log:\n{log}");

    let out = read(&output, Duration::from_secs(3));
    let got: Vec<(String, String)> = out
        .iter()
        .map(|r| {
            (
                String::from_utf8(r.key.clone().unwrap()).unwrap(),
                String::from_utf8(r.value.clone().unwrap()).unwrap(),
            )
        })
        .collect();
    let mut expected: Vec<(String, String)> = (0..8)
        .map(|i| {
            let (t, h) = (2.0 * (i as f64 + 0.25) + 0.5, (40 + i) as f64 * 0.5);
            (
                format!("k{i}"),
                format!(r#"{{"id":{i},"temperature":{t:?},"humidity":{h:?},"site":"s{i}"}}"#),
            )
        })
        .collect();
    expected.push(("k11".into(), r#"{"id":11,"humidity":1.5,"a":2,"n":-0.0}"#.into()));
    assert_eq!(got, expected, "scaled by Go then C, in order, keys kept, byte for byte");

    let dead = read(&dlq, Duration::from_secs(2));
    let dead: Vec<(String, String, String, String)> = dead
        .iter()
        .map(|r| {
            (
                String::from_utf8(r.key.clone().unwrap()).unwrap(),
                String::from_utf8(r.value.clone().unwrap()).unwrap(),
                r.header(headers::STAGE).unwrap_or_default(),
                r.header(headers::REASON).unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(dead.len(), 3, "{dead:?}");
    assert_eq!((dead[0].0.as_str(), dead[0].1.as_str()), ("k8", "not json"), "{dead:?}");
    assert_eq!(dead[0].2, "go-scale");
    assert!(dead[0].3.starts_with("value is not valid JSON: "), "{dead:?}");
    assert_eq!(
        dead[1],
        (
            "k9".into(),
            records[9].clone(),
            "go-scale".into(),
            "field 'temperature' is not a number".into()
        )
    );
    assert_eq!(
        dead[2],
        (
            "k10".into(),
            records[10].clone(),
            "go-scale".into(),
            "field 'temperature' scaled to a non-finite number".into()
        )
    );
}

// --- wasp new -----------------------------------------------------------------------------

/// `wasp new` for `lang`, then the project's own `./build.sh` and `./test.sh`.
fn scaffold_builds_and_passes(lang: &str) {
    let dir = temp_dir(&format!("new-{lang}"));
    let project = dir.join(format!("demo-{lang}"));
    let name = format!("demo-{lang}");
    let o = wasp(&["new", &name, "--lang", lang, "--dir", project.to_str().unwrap()]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "wasp new failed: {err}");
    assert!(out.contains("./build.sh && ./test.sh"), "{out}");
    for f in [
        "README.md",
        "pipeline.toml",
        "sample.jsonl",
        "expected.jsonl",
        "wit/plugin.wit",
        "build.sh",
        "test.sh",
    ] {
        assert!(project.join(f).exists(), "{f} missing in the {lang} project");
    }
    let readme = std::fs::read_to_string(project.join("README.md")).unwrap();
    assert!(readme.contains("./build.sh") && readme.contains("./test.sh"), "{readme}");
    let env = |c: &mut Command| {
        c.current_dir(&project)
            .env("WASP", env!("CARGO_BIN_EXE_wasp"))
            .env("PYTHONDONTWRITEBYTECODE", "1")
            // Rust projects share one target dir across runs (seconds, not minutes).
            .env("CARGO_TARGET_DIR", root().join("target/test-tmp/scaffold-rust-target"))
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_BUILD_TARGET")
            // scripts/test builds wasp with clippy-driver as the workspace's
            // compiler; a user's project is built with plain rustc.
            .env_remove("RUSTC_WORKSPACE_WRAPPER")
            .env_remove("CLIPPY_ARGS");
    };
    let mut build = Command::new("./build.sh");
    env(&mut build);
    let out = run_ok(&mut build, &format!("./build.sh of the {lang} project"));
    assert!(out.contains(&format!("built {name}.wasm")), "{out}");
    let mut test = Command::new("./test.sh");
    env(&mut test);
    let out = run_ok(&mut test, &format!("./test.sh of the {lang} project"));
    assert!(out.contains("wasp test: 5 lines as expected"), "{out}");
    let actual = std::fs::read_to_string(project.join("actual.jsonl")).unwrap();
    assert!(actual.contains(r#"{"offset":1,"dropped":true}"#), "{actual}");
}

#[test]
fn wasp_new_rust_builds_and_passes_its_tests() {
    scaffold_builds_and_passes("rust");
}

#[test]
fn wasp_new_python_builds_and_passes_its_tests() {
    scaffold_builds_and_passes("python");
}

#[test]
fn wasp_new_js_builds_and_passes_its_tests() {
    scaffold_builds_and_passes("js");
}

#[test]
fn wasp_new_c_builds_and_passes_its_tests() {
    scaffold_builds_and_passes("c");
}

#[test]
fn wasp_new_go_builds_and_passes_its_tests() {
    scaffold_builds_and_passes("go");
}

#[test]
fn wasp_new_refuses_bad_names_and_existing_directories() {
    let dir = temp_dir("new-bad");
    let d = dir.join("x");
    assert_clean_failure(
        &wasp(&["new", "Bad_Name", "--lang", "c", "--dir", d.to_str().unwrap()]),
        &["plugin name 'Bad_Name' is not valid"],
    );
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("keep.txt"), "mine").unwrap();
    assert_clean_failure(
        &wasp(&["new", "x", "--lang", "c", "--dir", d.to_str().unwrap()]),
        &["already exists and is not empty"],
    );
}
