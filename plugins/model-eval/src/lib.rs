//! Evaluates scikit-learn models exported by `wasp-export-sklearn`
//! (`python/wasp_sklearn_export`) with scikit-learn's own arithmetic, so that
//! labels are identical and numbers equal to the last bit wherever
//! scikit-learn's order of operations is known (see `docs/models.md`).
//!
//! A model document is JSON: the format version, the scikit-learn version
//! that fitted it, the input (named fields of a JSON object, or the whole
//! value as text), the estimator tree ([`node::Node`]) and check rows with
//! scikit-learn's own outputs. [`Model::load`] evaluates every check row and
//! refuses the model when one differs, naming the row, the estimator and the
//! scikit-learn version.
//!
//! Plain Rust, no Wasm dependency: the `model` plugin wraps it, and it is
//! tested natively against fixtures that scikit-learn wrote.
#![deny(missing_docs)]

pub mod check;
pub mod linear;
pub mod node;
pub mod numeric;
pub mod preprocess;
pub mod text;
pub mod trees;
pub mod value;

use node::Node;
use serde::Deserialize;
use serde_json::{Map, Value};
use value::{Cell, Data};

/// The `format` every document carries.
pub const FORMAT: &str = "wasp-sklearn-model";
/// The document version this evaluator reads.
pub const FORMAT_VERSION: u32 = 1;

/// What one record predicts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Prediction {
    /// The class (classifiers; 1 or -1 for `IsolationForest`).
    pub label: Option<Value>,
    /// Class probabilities in `classes_` order (classifiers).
    pub proba: Option<Vec<f64>>,
    /// The predicted value (regressors).
    pub value: Option<f64>,
    /// `decision_function` (`IsolationForest`).
    pub score: Option<f64>,
}

impl Prediction {
    /// A classifier's answer.
    pub fn class(label: Value, proba: Vec<f64>) -> Self {
        Prediction { label: Some(label), proba: Some(proba), ..Prediction::default() }
    }

    /// A regressor's answer.
    pub fn value(v: f64) -> Self {
        Prediction { value: Some(v), ..Prediction::default() }
    }
}

/// Where a record's input comes from.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum Input {
    /// Fields of a JSON object, by name, in the order the model was fitted on.
    Fields {
        /// Field names (`feature_names_in_`), spaces allowed.
        fields: Vec<String>,
    },
    /// The whole record value as UTF-8 text (a vectorizer first).
    Text,
}

/// The document as written by the exporter.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Document {
    format: String,
    format_version: u32,
    sklearn_version: String,
    /// Free-form provenance (exporter version, time); not read.
    #[serde(default)]
    #[allow(dead_code)]
    meta: Value,
    input: Input,
    estimator: Node,
    checks: Vec<check::CheckRow>,
}

/// A loaded, self-checked model.
#[derive(Debug, Clone)]
pub struct Model {
    input: Input,
    estimator: Node,
    sklearn_version: String,
    checks: usize,
}

impl Model {
    /// Parse a document, validate it and run its check rows. The error says
    /// what is wrong and what to do.
    pub fn load(bytes: &[u8]) -> Result<Model, String> {
        let head: Value = serde_json::from_slice(bytes)
            .map_err(|e| format!("model document is not valid JSON: {e}"))?;
        let format = head.get("format").and_then(Value::as_str);
        let version = head.get("format_version").and_then(Value::as_u64);
        if format != Some(FORMAT) {
            return Err(format!(
                "not a wasp model document (format {format:?}, expected \"{FORMAT}\"): \
                 export the model with wasp-export-sklearn"
            ));
        }
        if version != Some(u64::from(FORMAT_VERSION)) {
            return Err(format!(
                "model document format_version {version:?} is not supported: this evaluator \
                 reads version {FORMAT_VERSION}; export again with a matching wasp-export-sklearn"
            ));
        }
        let doc: Document = serde_json::from_value(head).map_err(|e| {
            format!("model document does not match format version {FORMAT_VERSION}: {e}")
        })?;
        debug_assert_eq!((doc.format.as_str(), doc.format_version), (FORMAT, FORMAT_VERSION));
        doc.estimator.validate().map_err(|e| format!("model document is inconsistent: {e}"))?;
        if doc.checks.is_empty() {
            return Err("model document has no check rows: export it with check rows \
                        (wasp-export-sklearn --check-rows) so it can be verified on load"
                .into());
        }
        let model = Model {
            input: doc.input,
            estimator: doc.estimator,
            sklearn_version: doc.sklearn_version,
            checks: doc.checks.len(),
        };
        check::run(&model, &doc.checks)?;
        Ok(model)
    }

    /// The input the model reads.
    pub fn input(&self) -> &Input {
        &self.input
    }

    /// The scikit-learn version that fitted the model.
    pub fn sklearn_version(&self) -> &str {
        &self.sklearn_version
    }

    /// The final estimator's class name.
    pub fn estimator(&self) -> &'static str {
        self.estimator.final_estimator().name()
    }

    /// `classes_`, in the order of [`Prediction::proba`] (classifiers).
    pub fn classes(&self) -> Option<&[Value]> {
        self.estimator.classes()
    }

    /// How many check rows passed on load.
    pub fn checks(&self) -> usize {
        self.checks
    }

    /// Predict from a parsed JSON value: an object for field input, a string
    /// for text input.
    pub fn predict_json(&self, v: &Value) -> Result<Prediction, String> {
        match (&self.input, v) {
            (Input::Fields { fields }, Value::Object(obj)) => self.predict_fields(fields, obj),
            (Input::Fields { .. }, _) => Err("record is not a JSON object".into()),
            (Input::Text, Value::String(s)) => self.estimator.predict(Data::Text(s.clone())),
            (Input::Text, _) => Err("expected text".into()),
        }
    }

    /// Predict from a record value: a JSON object for field input, UTF-8
    /// text for text input.
    pub fn predict_record(&self, value: &[u8]) -> Result<Prediction, String> {
        match &self.input {
            Input::Fields { fields } => match serde_json::from_slice(value) {
                Ok(Value::Object(obj)) => self.predict_fields(fields, &obj),
                Ok(_) => Err("value is not a JSON object".into()),
                Err(e) => Err(format!("value is not valid JSON: {e}")),
            },
            Input::Text => match std::str::from_utf8(value) {
                Ok(s) => self.estimator.predict(Data::Text(s.to_owned())),
                Err(e) => Err(format!("value is not UTF-8 text: {e}")),
            },
        }
    }

    fn predict_fields(
        &self,
        fields: &[String],
        obj: &Map<String, Value>,
    ) -> Result<Prediction, String> {
        let cells = fields
            .iter()
            .map(|f| Cell::from_json(obj.get(f)).map_err(|e| format!("field '{f}' {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        self.estimator.predict(Data::Cells(cells))
    }
}
