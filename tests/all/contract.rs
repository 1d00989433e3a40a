//! The plugin contract end to end: the json-transform plugin over a file,
//! chains of stages, and the errors a user meets with a bad plugin or config.

use crate::common::*;
use serde_json::json;

const INPUT: &[&str] = &[
    r#"{"id":1,"temperature":20,"humidity":40,"site":"a"}"#,
    r#"{"id":2,"temperature":21.5,"humidity":41.25,"site":"b"}"#,
    r#"{"id":3,"humidity":50}"#,
    r#"not json"#,
    r#"[1,2]"#,
    r#"{"id":4,"temperature":"hot","humidity":1}"#,
    r#"{"id":5,"temperature":-3,"humidity":0}"#,
];

fn transform_stage(name: &str, plugin: &str, config: &str) -> String {
    format!(
        "[[stage]]\nname = \"{name}\"\nplugin = \"{}\"\n[stage.config]\n{config}\n",
        crate::common::plugin(plugin).display()
    )
}

fn scale_config() -> &'static str {
    "require = [\"temperature\"]\nselect = [\"id\", \"temperature\", \"humidity\"]\n\
     scale = { temperature = { multiply = 2, offset = 0.5 } }\n\
     rename = { temperature = \"t2\" }\nset = { unit = \"x2\" }"
}

/// The transformer's output for `INPUT`, checked field by field and byte by byte.
pub fn expected_scaled() -> Vec<serde_json::Value> {
    vec![
        json!({"offset":0,"topic":"output","key":null,"value":{"id":1,"t2":40.5,"humidity":40,"unit":"x2"}}),
        json!({"offset":1,"topic":"output","key":null,"value":{"id":2,"t2":43.5,"humidity":41.25,"unit":"x2"}}),
        json!({"offset":2,"topic":"dead-letter","stage":"scale","kind":"rejected","reason":"missing required field 'temperature'","value":{"id":3,"humidity":50}}),
    ]
}

pub fn run_scale(plugin: &str) -> (Vec<serde_json::Value>, String) {
    let dir = temp_dir("scale");
    let p = write_pipeline(
        &dir,
        &format!("name = \"t\"\n{}", transform_stage("scale", plugin, scale_config())),
    );
    let input = write_input(&dir, INPUT);
    let o = wasp(&["test", p.to_str().unwrap(), "--input", input.to_str().unwrap()]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "wasp test failed: {err}");
    (out.lines().map(|l| serde_json::from_str(l).unwrap()).collect(), out)
}

#[test]
fn json_transform_outputs_are_exactly_right() {
    let (lines, raw) = run_scale("json-transform");
    assert_eq!(lines.len(), INPUT.len(), "one line per input: {raw}");
    assert_eq!(lines[..3], expected_scaled()[..]);
    // Key order inside values is the plugin's, kept byte for byte.
    assert!(raw.contains(r#""value":{"id":1,"t2":40.5,"humidity":40,"unit":"x2"}"#), "{raw}");
    let reasons: Vec<&str> = lines[3..6].iter().map(|l| l["reason"].as_str().unwrap()).collect();
    assert!(reasons[0].starts_with("value is not valid JSON: "), "{reasons:?}");
    assert_eq!(reasons[1], "value is not a JSON object");
    assert_eq!(reasons[2], "field 'temperature' is not a number");
    assert_eq!(lines[6]["topic"], "output");
    assert_eq!(lines[6]["value"], json!({"id":5,"t2":-5.5,"humidity":0,"unit":"x2"}));
}

#[test]
fn two_stages_compose() {
    let dir = temp_dir("chain");
    let first =
        transform_stage("scale", "json-transform", "scale = { temperature = { multiply = 10 } }");
    let second = transform_stage(
        "shape",
        "json-transform",
        "select = [\"id\", \"temperature\"]\nrename = { temperature = \"deci\" }",
    );
    let p = write_pipeline(&dir, &format!("name = \"chain\"\n{first}{second}"));
    let input = write_input(&dir, &[r#"{"id":7,"temperature":1.5,"x":0}"#, r#"{"id":8}"#, "{}"]);
    let lines = wasp_test(&p, &input);
    assert_eq!(
        lines,
        vec![
            json!({"offset":0,"topic":"output","key":null,"value":{"id":7,"deci":15.0}}),
            json!({"offset":1,"topic":"output","key":null,"value":{"id":8}}),
            json!({"offset":2,"topic":"output","key":null,"value":{}}),
        ]
    );
}

#[test]
fn a_text_file_is_not_a_plugin() {
    let dir = temp_dir("notwasm");
    let f = dir.join("plugin.wasm");
    std::fs::write(&f, "hello").unwrap();
    assert_clean_failure(
        &wasp(&["check", f.to_str().unwrap()]),
        &["is not a WebAssembly file", "plugin.wasm"],
    );
}

#[test]
fn a_core_module_is_not_a_component() {
    let module = root().join("plugins/target/wasm32-unknown-unknown/release/identity.wasm");
    assert!(module.exists(), "{} missing: run `cargo xtask plugins`", module.display());
    assert_clean_failure(
        &wasp(&["check", module.to_str().unwrap()]),
        &["is a core WebAssembly module, not a component", "wasm-tools component new"],
    );
}

#[test]
fn a_component_of_another_world_is_refused() {
    let p = plugin("wrong-world");
    assert_clean_failure(
        &wasp(&["check", p.to_str().unwrap()]),
        &["does not implement the wasp:plugin/plugin world", "wrong-world.wasm"],
    );
}

#[test]
fn a_refused_config_names_the_stage_and_the_key() {
    let dir = temp_dir("badcfg");
    let p = write_pipeline(
        &dir,
        &format!("name = \"t\"\n{}", transform_stage("scale", "json-transform", "scael = {}")),
    );
    let input = write_input(&dir, &["{}"]);
    assert_clean_failure(
        &wasp(&["test", p.to_str().unwrap(), "--input", input.to_str().unwrap()]),
        &["refused the config of stage 'scale'", "unknown config key 'scael'"],
    );
    let o = wasp(&[
        "check",
        plugin("json-transform").to_str().unwrap(),
        "--config",
        r#"{"select":"id"}"#,
    ]);
    assert_clean_failure(&o, &["'select' must be a list of field names"]);
}

#[test]
fn check_describes_a_good_plugin() {
    let o = wasp(&[
        "check",
        plugin("json-transform").to_str().unwrap(),
        "--config",
        r#"{"select":["id"]}"#,
    ]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(out.contains("json-transform 0.1.0"), "{out}");
    assert!(out.contains("implements wasp:plugin/plugin@0.2.0"), "{out}");
    assert!(out.contains("accepts the config"), "{out}");
    // A 0.1.0 plugin is recognised as such.
    let o = wasp(&["check", plugin("compat-v01").to_str().unwrap()]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(out.contains("implements wasp:plugin/plugin@0.1.0"), "{out}");
}

#[test]
fn unknown_pipeline_keys_are_named() {
    let dir = temp_dir("badpipe");
    let p = write_pipeline(
        &dir,
        &format!("name = \"t\"\nbatchsize = 3\n{}", transform_stage("s", "identity", "")),
    );
    let input = write_input(&dir, &["{}"]);
    assert_clean_failure(
        &wasp(&["test", p.to_str().unwrap(), "--input", input.to_str().unwrap()]),
        &["batchsize"],
    );
}
