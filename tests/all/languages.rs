//! "Any language" holds: non-Rust plugins implement the same contract and
//! give byte-identical outputs to their Rust twins.

use crate::contract::{expected_scaled, run_scale};

#[test]
fn python_json_transform_matches_rust_byte_for_byte() {
    let (rust_lines, rust_raw) = run_scale("json-transform");
    let (py_lines, py_raw) = run_scale("json-transform-py");
    assert_eq!(py_lines[..3], expected_scaled()[..], "python output: {}", py_raw);
    // Rejections agree on the reason up to the parser's own detail.
    let strip = |raw: &str| -> Vec<String> {
        raw.lines()
            .map(|l| match l.find("value is not valid JSON: ") {
                Some(i) => l[..i].to_string(),
                None => l.to_string(),
            })
            .collect()
    };
    assert_eq!(strip(&py_raw), strip(&rust_raw));
    assert_eq!(rust_lines.len(), py_lines.len());
}
