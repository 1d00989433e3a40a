"""Export fitted scikit-learn models to wasp model documents.

A document holds the fitted attributes the `model` plugin evaluates, the
scikit-learn version, the input (named fields of a JSON record, or the whole
record as text) and check rows: inputs with the outputs scikit-learn itself
computed. The plugin evaluates the check rows when it loads the document and
refuses a model whose outputs differ.

    from wasp_sklearn_export import export, write
    doc = export(pipeline, check_inputs=held_out_dataframe)
    write(doc, "model.json")
"""
import json

import numpy as np

from .convert import SUPPORTED, UnsupportedEstimator, cell, convert, f64, label

__all__ = ["export", "write", "SUPPORTED", "UnsupportedEstimator", "FORMAT", "FORMAT_VERSION"]
__version__ = "0.1.0"

FORMAT = "wasp-sklearn-model"
FORMAT_VERSION = 1
TEXT_INPUTS = ("CountVectorizer", "TfidfVectorizer")


def _first_step(est):
    while type(est).__name__ == "Pipeline":
        steps = [s for _, s in est.steps if s is not None and s != "passthrough"]
        est = steps[0]
    return est


def _final_step(est):
    while type(est).__name__ == "Pipeline":
        steps = [s for _, s in est.steps if s is not None and s != "passthrough"]
        est = steps[-1]
    return est


def _input_spec(model, fields):
    if type(_first_step(model)).__name__ in TEXT_INPUTS:
        if fields:
            raise ValueError("the model starts with a vectorizer: it reads the whole record as text, "
                             "so --fields does not apply")
        return {"kind": "text"}
    names = getattr(model, "feature_names_in_", None)
    if names is not None:
        names = [str(n) for n in names]
        if fields and list(fields) != names:
            raise ValueError(f"the model was fitted on columns {names}; --fields says {list(fields)}")
        return {"kind": "fields", "fields": names}
    n = getattr(model, "n_features_in_", None)
    if not fields:
        raise ValueError("the model was fitted without column names: give the record field names "
                         f"in column order with --fields ({n} of them)")
    if n is not None and len(fields) != n:
        raise ValueError(f"the model reads {n} columns; --fields names {len(fields)}")
    return {"kind": "fields", "fields": list(fields)}


def _records(check_inputs, spec):
    """Check inputs as JSON records, and as the object sklearn predicts on."""
    import pandas as pd

    if spec["kind"] == "text":
        if isinstance(check_inputs, pd.DataFrame):
            if check_inputs.shape[1] != 1:
                raise ValueError("text check rows: give one column of documents")
            check_inputs = check_inputs.iloc[:, 0]
        texts = [str(t) for t in list(check_inputs)]
        return texts, texts
    fields = spec["fields"]
    if isinstance(check_inputs, pd.DataFrame):
        frame = check_inputs
    else:
        frame = pd.DataFrame(list(check_inputs))
    missing = [f for f in fields if f not in frame.columns]
    if missing:
        raise ValueError(f"check rows lack the fields {missing}")
    frame = frame[fields]
    records = [{f: cell(v) for f, v in zip(fields, row)} for row in frame.itertuples(index=False)]
    return records, frame


def _outputs(model, X, n, use_array):
    from sklearn.base import is_classifier, is_outlier_detector, is_regressor

    final = _final_step(model)
    if use_array:
        X = X.to_numpy()
    out = [dict() for _ in range(n)]
    if is_outlier_detector(final):
        for o, y, s in zip(out, model.predict(X), model.decision_function(X)):
            o["label"], o["score"] = label(y), f64(s)
    elif is_classifier(final):
        for o, y in zip(out, model.predict(X)):
            o["label"] = label(y)
        if hasattr(model, "predict_proba"):
            for o, p in zip(out, model.predict_proba(X)):
                o["proba"] = [f64(v) for v in p]
    elif is_regressor(final):
        for o, y in zip(out, np.asarray(model.predict(X)).ravel()):
            o["value"] = f64(y)
    else:
        raise UnsupportedEstimator(f"{type(final).__name__} is not a classifier, regressor or outlier detector")
    return out


def export(model, check_inputs, fields=None, max_check_rows=500):
    """The document (a dict) for a fitted estimator or Pipeline.

    check_inputs: rows to verify the model with, as scikit-learn would be
    given them (a DataFrame or a list of dicts for field input, a list of
    strings for text input); the first `max_check_rows` are used.
    """
    import sklearn

    node = convert(model)
    spec = _input_spec(model, fields)
    if check_inputs is None or len(check_inputs) == 0:
        raise ValueError("check rows are required: the plugin verifies the model with them on load")
    check_inputs = check_inputs[:max_check_rows]
    records, X = _records(check_inputs, spec)
    use_array = spec["kind"] == "fields" and getattr(model, "feature_names_in_", None) is None
    outputs = _outputs(model, X, len(records), use_array)
    checks = [{"input": r, **o} for r, o in zip(records, outputs)]
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "sklearn_version": sklearn.__version__,
        "meta": {"exporter": f"wasp-sklearn-export {__version__}", "model": type(model).__name__},
        "input": spec,
        "estimator": node,
        "checks": checks,
    }


def write(doc, path):
    """Write a document as JSON; floats keep every bit (Python's repr)."""
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        f.write("\n")

