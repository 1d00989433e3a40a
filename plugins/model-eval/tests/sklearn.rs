//! Every fixture is a model scikit-learn fitted and exported, with held-out
//! check rows (unknown categories, missing values, non-ASCII text included)
//! and scikit-learn's outputs for them. Written by
//! `python/wasp_sklearn_export/tests/make_fixtures.py` (scikit-learn 1.9.1).
//!
//! Loading runs the check rows with the 1e-12 relative tolerance; these
//! tests also demand identical labels everywhere and identical bits where
//! scikit-learn's arithmetic has no `exp`, `log`, `pow` or BLAS sum.
use model_eval::check::{difference, CheckRow};
use model_eval::Model;
use serde_json::Value;
use std::path::PathBuf;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn names() -> Vec<String> {
    let index = std::fs::read_to_string(fixtures().join("INDEX")).expect("fixtures/INDEX");
    index.lines().filter(|l| !l.is_empty()).map(str::to_owned).collect()
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(fixtures().join(format!("{name}.json"))).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Fixtures whose numbers may differ from scikit-learn's in the last bits:
/// dense linear models, whose `X @ coef_` numpy hands to BLAS (OpenBLAS sums
/// in its own blocked order; here sums run in index order). Every other
/// fixture must be bit-identical, `exp` in the sparse (text) logistic
/// regressions and gradient boosting included.
const ULPS_ALLOWED: &[&str] = &[
    "heart_logistic",
    "iris_logistic_multinomial",
    "cancer_logistic",
    "diabetes_linear",
    "diabetes_ridge",
    "heart_onehot_drop_ridge",
    "iris_array_logistic",
];

struct Tally {
    rows: usize,
    numbers: usize,
    identical: usize,
    worst: f64,
}

fn tally(model: &Model, rows: &[CheckRow]) -> Tally {
    let mut t = Tally { rows: rows.len(), numbers: 0, identical: 0, worst: 0.0 };
    for (i, row) in rows.iter().enumerate() {
        let got = model.predict_json(&row.input).unwrap_or_else(|e| panic!("row {i}: {e}"));
        assert_eq!(got.label, row.label, "row {i}: label");
        assert_eq!(difference(row, &got), None, "row {i}");
        let mut pairs: Vec<(f64, f64)> = Vec::new();
        if let Some(want) = &row.proba {
            let got = got.proba.as_ref().expect("probabilities");
            pairs.extend(want.iter().map(|w| w.0).zip(got.iter().copied()));
        }
        for (w, g) in [(row.value, got.value), (row.score, got.score)] {
            if let (Some(w), Some(g)) = (w, g) {
                pairs.push((w.0, g));
            }
        }
        for (w, g) in pairs {
            t.numbers += 1;
            if w.to_bits() == g.to_bits() {
                t.identical += 1;
            } else {
                t.worst = t.worst.max((w - g).abs() / w.abs().max(g.abs()));
            }
        }
    }
    t
}

#[test]
fn every_fixture_matches_scikit_learn() {
    let names = names();
    assert!(names.len() >= 20, "expected the full fixture set, found {}", names.len());
    for name in &names {
        let bytes = read(name);
        let model = Model::load(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        let doc: Value = serde_json::from_slice(&bytes).unwrap();
        let rows: Vec<CheckRow> = serde_json::from_value(doc["checks"].clone()).unwrap();
        let t = tally(&model, &rows);
        eprintln!(
            "{name:32} {:>4} rows, {:>4}/{:<4} numbers bit-identical, worst relative difference {:.1e}",
            t.rows, t.identical, t.numbers, t.worst
        );
        assert!(t.worst <= 1e-12, "{name}: relative difference {:e}", t.worst);
        if !ULPS_ALLOWED.contains(&name.as_str()) {
            assert_eq!(t.identical, t.numbers, "{name}: every number must be bit-identical");
        }
    }
}
