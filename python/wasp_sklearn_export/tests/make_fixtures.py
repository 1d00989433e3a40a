#!/usr/bin/env python3
"""Train every supported estimator on small deterministic data, export it with
held-out check rows, and write the documents the evaluator's tests read:
plugins/model-eval/tests/fixtures/<name>.json.

The check rows are held-out rows (never seen in fit) plus hand-made rows with
unknown categories, missing values and non-ASCII text; their outputs are
scikit-learn's own. Data: scikit-learn's bundled Iris, Wine, Diabetes and
Breast Cancer sets (no download), a synthetic heart-disease table with the
field names of the seed (synthetic: no heart data set ships with scikit-learn)
and a synthetic review corpus.

Run after changing the pins in python/requirements.txt:
    python3 python/wasp_sklearn_export/tests/make_fixtures.py
"""
import os
import sys

import numpy as np
import pandas as pd
from sklearn import datasets
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import (ExtraTreesClassifier, ExtraTreesRegressor, GradientBoostingClassifier,
                              GradientBoostingRegressor, IsolationForest, RandomForestClassifier,
                              RandomForestRegressor)
from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer, TfidfVectorizer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import MinMaxScaler, OneHotEncoder, OrdinalEncoder, StandardScaler
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(HERE, "..", "src"))
sys.path.insert(0, os.path.join(ROOT, "examples", "models"))

from wasp_sklearn_export import export, write  # noqa: E402
from synthetic import heart_frame, reviews, HEART_CATEGORICAL, HEART_NUMERIC  # noqa: E402

OUT = os.path.join(ROOT, "plugins", "model-eval", "tests", "fixtures")


def frame(loader):
    d = loader(as_frame=True)
    return d.frame.drop(columns=[d.target.name]), d.target


def split(X, y, **kw):
    return train_test_split(X, y, test_size=0.3, random_state=42, **kw)


def heart_preprocess(scale=True):
    numeric = make_pipeline(SimpleImputer(strategy="median"), StandardScaler()) if scale \
        else SimpleImputer(strategy="median")
    categorical = make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore"))
    return ColumnTransformer([("num", numeric, HEART_NUMERIC), ("cat", categorical, HEART_CATEGORICAL)])


def heart_odd_rows(test):
    """Held-out rows with missing values and categories never seen in fit."""
    odd = test.head(6).copy()
    odd.iloc[0, odd.columns.get_loc("cholesterol")] = np.nan
    odd.iloc[1, odd.columns.get_loc("chest pain type")] = 9  # unknown category
    odd.iloc[2, odd.columns.get_loc("ST slope")] = np.nan  # missing category
    odd.iloc[3, odd.columns.get_loc("max heart rate")] = np.nan
    odd.iloc[4, odd.columns.get_loc("resting ecg")] = 7  # unknown category
    odd.iloc[5, odd.columns.get_loc("oldpeak")] = np.nan
    return pd.concat([test, odd], ignore_index=True)


def fixtures():
    hx, hy = heart_frame(600, seed=1)
    htr, hte, hytr, _ = split(hx, hy, stratify=hy)
    heart_checks = heart_odd_rows(hte)

    yield "heart_logistic", Pipeline([("prep", heart_preprocess()), ("clf", LogisticRegression(max_iter=1000))]) \
        .fit(htr, hytr), heart_checks
    yield "heart_forest", Pipeline([("prep", heart_preprocess(scale=False)),
                                    ("clf", RandomForestClassifier(n_estimators=25, max_depth=6, random_state=0))]) \
        .fit(htr, hytr), heart_checks

    ix, iy = frame(datasets.load_iris)
    ixtr, ixte, iytr, _ = split(ix, iy, stratify=iy)
    iy_names = iy.map(dict(enumerate(datasets.load_iris().target_names)))
    yield "iris_logistic_multinomial", make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)) \
        .fit(ixtr, iy_names[ixtr.index]), ixte
    yield "iris_gradient_boosting", GradientBoostingClassifier(n_estimators=30, max_depth=2, random_state=0) \
        .fit(ixtr, iytr), ixte
    yield "iris_extra_trees", ExtraTreesClassifier(n_estimators=15, max_depth=5, random_state=0) \
        .fit(ixtr, iytr), ixte

    wx, wy = frame(datasets.load_wine)
    wxtr, wxte, wytr, _ = split(wx, wy, stratify=wy)
    yield "wine_decision_tree", DecisionTreeClassifier(random_state=0).fit(wxtr, wytr), wxte
    yield "wine_minmax_forest", make_pipeline(MinMaxScaler(clip=True), RandomForestClassifier(
        n_estimators=20, max_depth=5, random_state=0)).fit(wxtr, wytr), wxte
    yield "wine_isolation_forest", IsolationForest(n_estimators=20, max_features=0.6, random_state=0) \
        .fit(wxtr), wxte
    yield "wine_isolation_forest_default", IsolationForest(n_estimators=15, contamination=0.1, random_state=0) \
        .fit(wxtr), wxte

    bx, by = frame(datasets.load_breast_cancer)
    bxtr, bxte, bytr, _ = split(bx, by, stratify=by)
    yield "cancer_gradient_boosting", GradientBoostingClassifier(n_estimators=40, max_depth=3, random_state=0) \
        .fit(bxtr, bytr), bxte
    yield "cancer_logistic", make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)) \
        .fit(bxtr, bytr), bxte

    dx, dy = frame(datasets.load_diabetes)
    dxtr, dxte, dytr, _ = split(dx, dy)
    yield "diabetes_linear", LinearRegression().fit(dxtr, dytr), dxte
    yield "diabetes_ridge", make_pipeline(StandardScaler(), Ridge(alpha=0.5)).fit(dxtr, dytr), dxte
    yield "diabetes_decision_tree", DecisionTreeRegressor(max_depth=6, random_state=0).fit(dxtr, dytr), dxte
    yield "diabetes_forest", RandomForestRegressor(n_estimators=20, max_depth=6, random_state=0) \
        .fit(dxtr, dytr), dxte
    yield "diabetes_gradient_boosting", GradientBoostingRegressor(n_estimators=50, max_depth=3, random_state=0) \
        .fit(dxtr, dytr), dxte
    yield "diabetes_extra_trees", ExtraTreesRegressor(n_estimators=15, max_depth=6, random_state=0) \
        .fit(dxtr, dytr), dxte

    # Ordinal-encoded categories, unknown and missing ones included.
    ordinal = ColumnTransformer([
        ("cat", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1), HEART_CATEGORICAL),
        ("num", SimpleImputer(strategy="mean"), HEART_NUMERIC),
    ])
    yield "heart_ordinal_tree", Pipeline([("prep", ordinal), ("tree", DecisionTreeClassifier(
        max_depth=5, random_state=0))]).fit(htr, hytr), heart_checks
    # OneHotEncoder dropping the first category, dense output.
    dropped = ColumnTransformer([
        ("cat", make_pipeline(SimpleImputer(strategy="most_frequent"),
                              OneHotEncoder(drop="first", handle_unknown="ignore", sparse_output=False)),
         HEART_CATEGORICAL),
        ("num", make_pipeline(SimpleImputer(), MinMaxScaler()), HEART_NUMERIC),
    ])
    yield "heart_onehot_drop_ridge", Pipeline([("prep", dropped), ("reg", Ridge())]).fit(htr, hx.loc[htr.index, "cholesterol"].fillna(200)), heart_checks

    # A model fitted on a bare array: field names come from --fields.
    arr = LogisticRegression(max_iter=1000).fit(ixtr.to_numpy(), iytr)
    yield "iris_array_logistic", (arr, ["sl", "sw", "pl", "pw"]), ixte.rename(
        columns=dict(zip(ixte.columns, ["sl", "sw", "pl", "pw"])))

    docs, labels = reviews(400, seed=2)
    dtr, dte, ltr, _ = split(docs, labels, stratify=labels)
    dte = list(dte) + extra_reviews()
    yield "reviews_tfidf_logistic", Pipeline([
        ("tfidf", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2)),
        ("clf", LogisticRegression(max_iter=1000)),
    ]).fit(dtr, ltr), dte
    yield "reviews_tfidf_plain", Pipeline([
        ("tfidf", TfidfVectorizer()), ("clf", LogisticRegression(max_iter=1000))]).fit(dtr, ltr), dte
    three = ["pos" if l == 1 else "neg" for l in ltr]
    three = [t if i % 5 else "neutral" for i, t in enumerate(three)]
    yield "reviews_counts_multinomial", Pipeline([
        ("counts", CountVectorizer(stop_words="english", ngram_range=(1, 3), min_df=2)),
        ("tfidf", TfidfTransformer(norm="l1")),
        ("clf", LogisticRegression(max_iter=2000)),
    ]).fit(dtr, three), dte
    yield "reviews_binary_counts_forest", Pipeline([
        ("counts", CountVectorizer(binary=True, lowercase=False)),
        ("clf", RandomForestClassifier(n_estimators=15, max_depth=8, random_state=0)),
    ]).fit(dtr, ltr), dte


def extra_reviews():
    return [
        "Ce film était génial, vraiment GÉNIAL et naïve à la fois",
        "ΤΕΛΟΣ καλό ΟΛΑ ΚΑΛΆ ΣΟΦΟΣ",
        "İstanbul STRASSE straße Straße",
        "cafe\u0301s and cafés: decomposed versus composed",
        "日本語のレビュー 素晴らしい great",
        "m² x² ½ Ⅻ ٣٤ numbers ①② and_underscores __",
        "",
        "a b c I",
        "GREAT great Great gReAt terrible TERRIBLE",
        "\u00a0nbsp\u2003em-space\ttab\nnewline awful",
    ]


def main():
    os.makedirs(OUT, exist_ok=True)
    names = []
    for name, model, checks in fixtures():
        fields = None
        if isinstance(model, tuple):
            model, fields = model
        doc = export(model, checks, fields=fields)
        write(doc, os.path.join(OUT, f"{name}.json"))
        names.append(name)
        size = os.path.getsize(os.path.join(OUT, f"{name}.json"))
        print(f"{name}: {len(doc['checks'])} check rows, {size // 1024} KiB", file=sys.stderr)
    with open(os.path.join(OUT, "INDEX"), "w") as f:
        f.write("\n".join(names) + "\n")


if __name__ == "__main__":
    main()
