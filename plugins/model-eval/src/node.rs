//! The estimator tree of a model document: one variant per supported
//! scikit-learn class, `Pipeline` and `ColumnTransformer` composing them.
use crate::linear::{LinearModel, LogisticRegression};
use crate::preprocess::{
    MinMaxScaler, OneHotEncoder, OrdinalEncoder, SimpleImputer, StandardScaler,
};
use crate::text::{Tfidf, Vectorizer};
use crate::trees::{GradientBoosting, IsolationForest, TreeClassifier, TreeRegressor};
use crate::value::{Cell, Data};
use crate::Prediction;
use serde::Deserialize;

/// One step: its scikit-learn class name is the `type` tag.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type")]
#[allow(missing_docs)] // each variant is the scikit-learn class it names
pub enum Node {
    Pipeline(Pipeline),
    ColumnTransformer(ColumnTransformer),
    StandardScaler(StandardScaler),
    MinMaxScaler(MinMaxScaler),
    SimpleImputer(SimpleImputer),
    OneHotEncoder(OneHotEncoder),
    OrdinalEncoder(OrdinalEncoder),
    CountVectorizer(Vectorizer),
    TfidfVectorizer(Vectorizer),
    TfidfTransformer(Tfidf),
    LogisticRegression(LogisticRegression),
    LinearRegression(LinearModel),
    Ridge(LinearModel),
    DecisionTreeClassifier(TreeClassifier),
    RandomForestClassifier(TreeClassifier),
    ExtraTreesClassifier(TreeClassifier),
    DecisionTreeRegressor(TreeRegressor),
    RandomForestRegressor(TreeRegressor),
    ExtraTreesRegressor(TreeRegressor),
    GradientBoostingClassifier(GradientBoosting),
    GradientBoostingRegressor(GradientBoosting),
    IsolationForest(IsolationForest),
}

impl Node {
    /// The class name, for messages.
    pub fn name(&self) -> &'static str {
        match self {
            Node::Pipeline(_) => "Pipeline",
            Node::ColumnTransformer(_) => "ColumnTransformer",
            Node::StandardScaler(_) => "StandardScaler",
            Node::MinMaxScaler(_) => "MinMaxScaler",
            Node::SimpleImputer(_) => "SimpleImputer",
            Node::OneHotEncoder(_) => "OneHotEncoder",
            Node::OrdinalEncoder(_) => "OrdinalEncoder",
            Node::CountVectorizer(_) => "CountVectorizer",
            Node::TfidfVectorizer(_) => "TfidfVectorizer",
            Node::TfidfTransformer(_) => "TfidfTransformer",
            Node::LogisticRegression(_) => "LogisticRegression",
            Node::LinearRegression(_) => "LinearRegression",
            Node::Ridge(_) => "Ridge",
            Node::DecisionTreeClassifier(_) => "DecisionTreeClassifier",
            Node::RandomForestClassifier(_) => "RandomForestClassifier",
            Node::ExtraTreesClassifier(_) => "ExtraTreesClassifier",
            Node::DecisionTreeRegressor(_) => "DecisionTreeRegressor",
            Node::RandomForestRegressor(_) => "RandomForestRegressor",
            Node::ExtraTreesRegressor(_) => "ExtraTreesRegressor",
            Node::GradientBoostingClassifier(_) => "GradientBoostingClassifier",
            Node::GradientBoostingRegressor(_) => "GradientBoostingRegressor",
            Node::IsolationForest(_) => "IsolationForest",
        }
    }

    /// The estimator that makes the final prediction (the last step of
    /// nested pipelines).
    pub fn final_estimator(&self) -> &Node {
        match self {
            Node::Pipeline(p) => p.steps.last().map_or(self, |s| s.final_estimator()),
            other => other,
        }
    }

    /// `classes_` of the final estimator, for classifiers.
    pub fn classes(&self) -> Option<&[serde_json::Value]> {
        match self.final_estimator() {
            Node::LogisticRegression(m) => Some(&m.classes),
            Node::DecisionTreeClassifier(t)
            | Node::RandomForestClassifier(t)
            | Node::ExtraTreesClassifier(t) => Some(&t.classes),
            Node::GradientBoostingClassifier(g) => g.classes.as_deref(),
            _ => None,
        }
    }

    /// Check internal consistency that serde cannot.
    pub fn validate(&self) -> Result<(), String> {
        let r = match self {
            Node::Pipeline(p) => {
                if p.steps.is_empty() {
                    return Err("Pipeline has no steps".into());
                }
                p.steps.iter().try_for_each(Node::validate)
            }
            Node::ColumnTransformer(c) => c.parts.iter().try_for_each(|p| match &p.transformer {
                Some(t) => t.validate(),
                None => Ok(()),
            }),
            Node::CountVectorizer(v) | Node::TfidfVectorizer(v) => v.validate(),
            Node::DecisionTreeClassifier(t)
            | Node::RandomForestClassifier(t)
            | Node::ExtraTreesClassifier(t) => t.validate(),
            Node::DecisionTreeRegressor(t)
            | Node::RandomForestRegressor(t)
            | Node::ExtraTreesRegressor(t) => t.validate(),
            Node::GradientBoostingClassifier(g) | Node::GradientBoostingRegressor(g) => {
                g.validate()
            }
            Node::IsolationForest(f) => f.validate(),
            Node::LogisticRegression(l) => {
                let two = l.coef.len() == 1 && l.classes.len() == 2;
                if !(two || (l.coef.len() == l.classes.len() && l.classes.len() > 2))
                    || l.intercept.len() != l.coef.len()
                {
                    Err("LogisticRegression: coef, intercept and classes do not agree".into())
                } else {
                    Ok(())
                }
            }
            _ => Ok(()),
        };
        r.map_err(|e| format!("{}: {e}", self.name()))
    }

    /// Run a transformer step.
    pub fn transform(&self, x: Data) -> Result<Data, String> {
        match self {
            Node::Pipeline(p) => p.steps.iter().try_fold(x, |x, s| s.transform(x)),
            Node::ColumnTransformer(c) => c.transform(x),
            Node::StandardScaler(s) => s.transform(x),
            Node::MinMaxScaler(s) => s.transform(x),
            Node::SimpleImputer(s) => s.transform(x),
            Node::OneHotEncoder(e) => e.transform(x),
            Node::OrdinalEncoder(e) => e.transform(x),
            Node::CountVectorizer(v) | Node::TfidfVectorizer(v) => v.transform(x),
            Node::TfidfTransformer(t) => t.transform(x),
            other => Err(format!("{} cannot be used as a transformer", other.name())),
        }
    }

    /// Run the node as the model: transformers, then the final estimator.
    pub fn predict(&self, x: Data) -> Result<Prediction, String> {
        match self {
            Node::Pipeline(p) => {
                let (last, head) = p.steps.split_last().ok_or("Pipeline has no steps")?;
                let x = head.iter().try_fold(x, |x, s| s.transform(x))?;
                last.predict(x)
            }
            Node::LogisticRegression(m) => m.predict(x),
            Node::LinearRegression(m) => m.predict("LinearRegression", x),
            Node::Ridge(m) => m.predict("Ridge", x),
            Node::DecisionTreeClassifier(t) => t.predict("DecisionTreeClassifier", x),
            Node::RandomForestClassifier(t) => t.predict("RandomForestClassifier", x),
            Node::ExtraTreesClassifier(t) => t.predict("ExtraTreesClassifier", x),
            Node::DecisionTreeRegressor(t) => t.predict("DecisionTreeRegressor", x),
            Node::RandomForestRegressor(t) => t.predict("RandomForestRegressor", x),
            Node::ExtraTreesRegressor(t) => t.predict("ExtraTreesRegressor", x),
            Node::GradientBoostingClassifier(g) => g.predict("GradientBoostingClassifier", x),
            Node::GradientBoostingRegressor(g) => g.predict("GradientBoostingRegressor", x),
            Node::IsolationForest(f) => f.predict("IsolationForest", x),
            other => Err(format!(
                "{} is a transformer: the model must end in an estimator",
                other.name()
            )),
        }
    }
}

/// `Pipeline`: steps in order (`"passthrough"` steps are left out by the
/// exporter).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pipeline {
    /// The steps.
    pub steps: Vec<Node>,
}

/// One entry of `transformers_`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Part {
    /// The transformer's name in the pipeline, for messages.
    pub name: String,
    /// Input column indexes it reads.
    pub columns: Vec<usize>,
    /// A scalar column selection (`"review"` rather than `["review"]`):
    /// the transformer gets that one column as a 1-D input (text).
    pub scalar: bool,
    /// The transformer, or `null` for `"passthrough"`.
    pub transformer: Option<Node>,
}

/// `ColumnTransformer`: each part's output side by side, in
/// `transformers_` order (dropped parts are left out by the exporter).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnTransformer {
    /// The parts, remainder included.
    pub parts: Vec<Part>,
    /// The output stays sparse (scikit-learn's `sparse_output_`).
    pub sparse: bool,
}

impl ColumnTransformer {
    fn transform(&self, x: Data) -> Result<Data, String> {
        let cells = x.into_cells("ColumnTransformer")?;
        let mut entries: Vec<(usize, f64)> = Vec::new();
        let mut width = 0;
        for part in &self.parts {
            let mut picked = Vec::with_capacity(part.columns.len());
            for &c in &part.columns {
                let cell = cells.get(c).ok_or_else(|| {
                    format!("ColumnTransformer '{}': no input column {c}", part.name)
                })?;
                picked.push(cell.clone());
            }
            let input = match (part.scalar, picked.pop()) {
                (true, Some(Cell::Str(s))) => Data::Text(s),
                (_, Some(last)) => {
                    picked.push(last);
                    Data::Cells(picked)
                }
                (_, None) => Data::Cells(picked),
            };
            let out = match &part.transformer {
                Some(t) => t.transform(input).map_err(|e| format!("'{}': {e}", part.name))?,
                None => Data::Dense(input.into_dense(&part.name)?),
            };
            let w = out.width();
            match out {
                Data::Sparse(e, _) => entries.extend(e.into_iter().map(|(j, v)| (j + width, v))),
                other => {
                    let dense = other.into_dense(&part.name)?;
                    entries.extend(dense.into_iter().enumerate().map(|(j, v)| (j + width, v)));
                }
            }
            width += w;
        }
        if self.sparse {
            entries.retain(|e| e.1 != 0.0);
            Ok(Data::Sparse(entries, width))
        } else {
            Ok(Data::Dense(Data::Sparse(entries, width).into_dense("ColumnTransformer")?))
        }
    }
}
