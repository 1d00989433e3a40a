#!/usr/bin/env python3
"""Train the two models of seed 001 in scikit-learn and export them for the
`model` plugin, as a user would.

  heart:   JSON patient records with the seed's field names (synthetic data:
           see synthetic.py) -> imputation, scaling, one-hot encoding ->
           LogisticRegression; 1 means "Risk of Heart Disease".
  reviews: plain-text reviews (synthetic corpus) -> TF-IDF (1-2 grams,
           sublinear tf) -> LogisticRegression; 1 means "Positive Sentiment".

Writes, beside this script:
  heart.json, reviews.json         the model documents (wasp-export-sklearn),
                                   whose check rows are the held-out records
  heart-input.jsonl                the held-out patient records, one per line
  reviews-input.txt                the held-out reviews, one per line

Usage: python3 examples/models/train.py
"""
import json
import os
import sys

from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "python", "wasp_sklearn_export", "src"))

from synthetic import HEART_CATEGORICAL, HEART_NUMERIC, heart_frame, reviews  # noqa: E402
from wasp_sklearn_export import cell, export, write  # noqa: E402


def heart_model():
    """The fitted heart pipeline, its training size and its held-out rows
    (deterministic: the same pipeline on every call with the same versions)."""
    X, y = heart_frame(800, seed=7)
    X_train, X_test, y_train, _ = train_test_split(X, y, test_size=0.25, random_state=7, stratify=y)
    prep = ColumnTransformer([
        ("numeric", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), HEART_NUMERIC),
        ("categories", make_pipeline(SimpleImputer(strategy="most_frequent"),
                                     OneHotEncoder(handle_unknown="ignore")), HEART_CATEGORICAL),
    ])
    model = Pipeline([("prep", prep), ("classifier", LogisticRegression(max_iter=1000))]).fit(X_train, y_train)
    return model, len(X_train), X_test


def heart():
    model, trained, X_test = heart_model()
    write(export(model, X_test), os.path.join(HERE, "heart.json"))
    with open(os.path.join(HERE, "heart-input.jsonl"), "w", encoding="utf-8") as f:
        for row in X_test.itertuples(index=False):
            f.write(json.dumps({k: cell(v) for k, v in zip(X_test.columns, row)}, ensure_ascii=False) + "\n")
    print(f"heart: trained on {trained} synthetic patients, exported with {len(X_test)} check rows",
          file=sys.stderr)


def sentiment_model():
    """The fitted review pipeline, its training size and its held-out texts."""
    texts, labels = reviews(800, seed=11)
    t_train, t_test, y_train, _ = train_test_split(texts, labels, test_size=0.25, random_state=11, stratify=labels)
    model = Pipeline([
        ("tfidf", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)),
        ("classifier", LogisticRegression(max_iter=1000)),
    ]).fit(t_train, y_train)
    return model, len(t_train), t_test


def sentiment():
    model, trained, t_test = sentiment_model()
    write(export(model, t_test), os.path.join(HERE, "reviews.json"))
    with open(os.path.join(HERE, "reviews-input.txt"), "w", encoding="utf-8") as f:
        f.write("".join(t + "\n" for t in t_test))
    print(f"reviews: trained on {trained} synthetic reviews, exported with {len(t_test)} check rows",
          file=sys.stderr)


if __name__ == "__main__":
    heart()
    sentiment()
