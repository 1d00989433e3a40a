"""Fitted scikit-learn objects to the nodes of a wasp model document.

One function per supported class. Each reads the fitted attributes the
model plugin needs and refuses parameter values the plugin does not
reproduce, saying which and what to use instead. Classes are matched by
exact type: a subclass may change the arithmetic.
"""
import math

import numpy as np

DEFAULT_TOKEN_PATTERN = r"(?u)\b\w\w+\b"


class UnsupportedEstimator(ValueError):
    """The model holds an estimator, or a setting, the plugin cannot run."""


def refuse(path, what):
    raise UnsupportedEstimator(f"{path}: {what}")


def f64(x):
    """A float for the document; JSON has no NaN or infinity."""
    x = float(x)
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    return x


def floats(a):
    a = np.asarray(a, dtype=np.float64)
    if not np.all(np.isfinite(a)):
        raise UnsupportedEstimator("a fitted array holds NaN or infinity")
    return a.tolist()


def cell(v):
    """A category or statistic: number, text, or null for NaN/None."""
    if v is None:
        return None
    if isinstance(v, (bool, np.bool_)):
        return int(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return None if math.isnan(v) else float(v)
    if isinstance(v, str):
        return v
    try:
        import pandas as pd

        if v is pd.NA or v is pd.NaT:
            return None
    except ImportError:  # pragma: no cover - pandas is a dependency
        pass
    raise UnsupportedEstimator(f"category {v!r} of type {type(v).__name__} is neither a number nor text")


def label(v):
    """A class label as JSON (numpy scalars to Python)."""
    c = cell(v)
    if c is None:
        raise UnsupportedEstimator("a class label is missing (NaN/None)")
    return c


def is_nan_marker(v):
    return v is None or (isinstance(v, float) and math.isnan(v))


def pipeline(est, path):
    steps = []
    for name, step in est.steps:
        if step is None or (isinstance(step, str) and step == "passthrough"):
            continue
        steps.append(convert(step, f"{path}.{name}"))
    if not steps:
        refuse(path, "the Pipeline has only passthrough steps")
    return {"steps": steps}


def column_transformer(est, path):
    parts = []
    indices = est._transformer_to_input_indices
    for name, trans, columns in est.transformers_:
        if isinstance(trans, str) and trans == "drop":
            continue
        cols = [int(i) for i in indices[name]]
        if not cols:
            continue
        scalar = isinstance(columns, (str, int, np.integer))
        if isinstance(trans, str) and trans == "passthrough":
            node = None
        else:
            node = convert(trans, f"{path}.{name}")
        parts.append({"name": name, "columns": cols, "scalar": scalar, "transformer": node})
    return {"parts": parts, "sparse": bool(est.sparse_output_)}


def standard_scaler(est, path):
    return {
        "mean": floats(est.mean_) if est.with_mean else None,
        "scale": floats(est.scale_) if est.with_std else None,
    }


def min_max_scaler(est, path):
    return {
        "scale": floats(est.scale_),
        "min": floats(est.min_),
        "clip": [float(est.feature_range[0]), float(est.feature_range[1])] if est.clip else None,
    }


def simple_imputer(est, path):
    if not is_nan_marker(est.missing_values):
        refuse(path, f"SimpleImputer(missing_values={est.missing_values!r}) is not supported; use np.nan or None")
    if est.add_indicator:
        refuse(path, "SimpleImputer(add_indicator=True) is not supported")
    stats = [cell(v) for v in est.statistics_]
    if est.keep_empty_features and any(s is None for s in stats):
        refuse(path, "SimpleImputer(keep_empty_features=True) with an all-missing column is not supported")
    return {"statistics": stats}


def _categories(est, path, kind):
    if getattr(est, "_infrequent_enabled", False):
        refuse(path, f"{kind} with infrequent categories (min_frequency/max_categories) is not supported")
    if np.dtype(est.dtype) != np.float64:
        refuse(path, f"{kind}(dtype={est.dtype}) is not supported; use the default float64")
    return [[cell(v) for v in cats] for cats in est.categories_]


def one_hot_encoder(est, path):
    cats = _categories(est, path, "OneHotEncoder")
    if est.handle_unknown not in ("error", "ignore", "infrequent_if_exist"):
        refuse(path, f"OneHotEncoder(handle_unknown={est.handle_unknown!r}) is not supported")
    drop = None
    if est.drop_idx_ is not None:
        drop = [None if d is None else int(d) for d in est.drop_idx_]
    # Without infrequent categories, infrequent_if_exist behaves as ignore.
    unknown = "error" if est.handle_unknown == "error" else "ignore"
    return {"categories": cats, "handle_unknown": unknown, "drop_idx": drop}


def ordinal_encoder(est, path):
    cats = _categories(est, path, "OrdinalEncoder")
    unknown_value = None
    if est.handle_unknown == "use_encoded_value":
        unknown_value = f64(est.unknown_value)
    return {
        "categories": cats,
        "handle_unknown": est.handle_unknown,
        "unknown_value": unknown_value,
        "encoded_missing_value": f64(est.encoded_missing_value),
    }


def logistic_regression(est, path):
    n_classes = len(est.classes_)
    if n_classes > 2 and getattr(est, "multi_class", "deprecated") == "ovr":
        refuse(path, "LogisticRegression(multi_class='ovr') with more than two classes is not supported; "
                     "use the default (multinomial)")
    return {
        "coef": [floats(row) for row in est.coef_],
        "intercept": floats(est.intercept_),
        "classes": [label(c) for c in est.classes_],
    }


def linear_model(est, path):
    coef = np.asarray(est.coef_)
    if coef.ndim != 1:
        refuse(path, f"{type(est).__name__} with several targets is not supported (coef_ has shape {coef.shape})")
    return {"coef": floats(coef), "intercept": float(est.intercept_)}


def tree_arrays(tree, path):
    t = tree.tree_
    if t.n_outputs != 1:
        refuse(path, "trees with several outputs are not supported")
    leaf = t.children_left == -1
    return {
        "left": t.children_left.tolist(),
        "right": t.children_right.tolist(),
        "feature": np.where(leaf, 0, t.feature).tolist(),
        "threshold": floats(t.threshold),
        "missing_left": [bool(v) for v in t.missing_go_to_left],
        "value": [floats(v[0]) for v in t.value],
    }


def _single_output(est, path):
    if getattr(est, "n_outputs_", 1) != 1:
        refuse(path, f"{type(est).__name__} with several outputs is not supported")


def tree_regressor(est, path):
    """A single tree or a forest of them: the trees, averaged unless single."""
    _single_output(est, path)
    single = not hasattr(est, "estimators_")
    trees = [est] if single else list(est.estimators_)
    return {
        "n_features": int(est.n_features_in_),
        "trees": [tree_arrays(t, f"{path}.tree[{i}]") for i, t in enumerate(trees)],
        "single": single,
    }


def tree_classifier(est, path):
    return {**tree_regressor(est, path), "classes": [label(c) for c in est.classes_]}


def gradient_boosting(est, path):
    from sklearn.base import is_classifier

    if est.init not in (None, "zero"):
        refuse(path, f"{type(est).__name__}(init=...) with a custom init estimator is not supported")
    classifier = is_classifier(est)
    if classifier and est.loss != "log_loss":
        refuse(path, f"GradientBoostingClassifier(loss={est.loss!r}) is not supported; use 'log_loss'")
    # The init estimator's raw prediction is the same for every row.
    init = est._raw_predict_init(np.zeros((1, est.n_features_in_), dtype=np.float32))[0]
    stages = [
        [tree_arrays(t, f"{path}.stage[{i}]") for t in row]
        for i, row in enumerate(est.estimators_)
    ]
    return {
        "n_features": int(est.n_features_in_),
        "init": floats(init),
        "learning_rate": float(est.learning_rate),
        "stages": stages,
        "classes": [label(c) for c in est.classes_] if classifier else None,
    }


def isolation_forest(est, path):
    from sklearn.ensemble._iforest import _average_path_length

    n = int(est.n_features_in_)
    subsample = est._max_features != n
    trees = []
    for i, (tree, feats) in enumerate(zip(est.estimators_, est.estimators_features_)):
        trees.append({
            "tree": tree_arrays(tree, f"{path}.tree[{i}]"),
            "features": [int(f) for f in feats] if subsample else list(range(n)),
            "path": floats(est._decision_path_lengths[i]),
            "average": floats(est._average_path_length_per_tree[i]),
        })
    denominator = len(est.estimators_) * _average_path_length([est._max_samples])[0]
    return {
        "n_features": n,
        "trees": trees,
        "denominator": float(denominator),
        "offset": float(est.offset_),
    }


def tfidf(est, path):
    return {
        "sublinear_tf": bool(est.sublinear_tf),
        "idf": floats(est.idf_) if est.use_idf else None,
        "norm": est.norm,
    }


def _check_tfidf_params(est, path, kind):
    if est.norm not in (None, "l1", "l2"):
        refuse(path, f"{kind}(norm={est.norm!r}) is not supported")


def vectorizer(est, path):
    kind = type(est).__name__
    wrong = []
    if est.analyzer != "word":
        wrong.append(f"analyzer={est.analyzer!r} (only 'word')")
    if est.preprocessor is not None:
        wrong.append("a custom preprocessor")
    if est.tokenizer is not None:
        wrong.append("a custom tokenizer")
    if est.token_pattern != DEFAULT_TOKEN_PATTERN:
        wrong.append(f"token_pattern={est.token_pattern!r} (only the default {DEFAULT_TOKEN_PATTERN!r})")
    if est.strip_accents:
        wrong.append(f"strip_accents={est.strip_accents!r} (only None)")
    if est.input != "content":
        wrong.append(f"input={est.input!r} (only 'content')")
    if kind == "TfidfVectorizer" and np.dtype(est.dtype) != np.float64:
        wrong.append(f"dtype={est.dtype} (only float64)")
    if wrong:
        refuse(path, f"{kind} with " + ", ".join(wrong) + " is not supported")
    stop = est.get_stop_words()
    node = {
        "lowercase": bool(est.lowercase),
        "ngram_range": [int(est.ngram_range[0]), int(est.ngram_range[1])],
        "stop_words": sorted(stop) if stop else [],
        "vocabulary": {str(k): int(v) for k, v in est.vocabulary_.items()},
        "binary": bool(est.binary),
        "tfidf": None,
    }
    if kind == "TfidfVectorizer":
        _check_tfidf_params(est, path, kind)
        node["tfidf"] = tfidf(est._tfidf, path)
    return node


def tfidf_transformer(est, path):
    _check_tfidf_params(est, path, "TfidfTransformer")
    return tfidf(est, path)


CONVERTERS = {
    "Pipeline": pipeline,
    "ColumnTransformer": column_transformer,
    "StandardScaler": standard_scaler,
    "MinMaxScaler": min_max_scaler,
    "SimpleImputer": simple_imputer,
    "OneHotEncoder": one_hot_encoder,
    "OrdinalEncoder": ordinal_encoder,
    "CountVectorizer": vectorizer,
    "TfidfVectorizer": vectorizer,
    "TfidfTransformer": tfidf_transformer,
    "LogisticRegression": logistic_regression,
    "LinearRegression": linear_model,
    "Ridge": linear_model,
    "DecisionTreeClassifier": tree_classifier,
    "RandomForestClassifier": tree_classifier,
    "ExtraTreesClassifier": tree_classifier,
    "DecisionTreeRegressor": tree_regressor,
    "RandomForestRegressor": tree_regressor,
    "ExtraTreesRegressor": tree_regressor,
    "GradientBoostingClassifier": gradient_boosting,
    "GradientBoostingRegressor": gradient_boosting,
    "IsolationForest": isolation_forest,
}

SUPPORTED = sorted(CONVERTERS)


def convert(est, path="model"):
    """The document node of a fitted estimator; refuses what is unsupported."""
    cls = type(est)
    name = cls.__name__
    if name not in CONVERTERS or not cls.__module__.startswith("sklearn."):
        refuse(path, f"{cls.__module__}.{name} is not supported. Supported: {', '.join(SUPPORTED)}")
    node = CONVERTERS[name](est, path)
    return {"type": name, **node}
