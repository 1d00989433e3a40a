"""The exporter: what it writes, and what it refuses (with the list of what
is supported)."""
import json
import os
import subprocess
import sys
import tempfile
import unittest

import joblib
import numpy as np
from sklearn.datasets import load_iris
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.svm import SVC

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "src"))

from wasp_sklearn_export import SUPPORTED, UnsupportedEstimator, export  # noqa: E402

IRIS = load_iris(as_frame=True)
X, Y = IRIS.data, IRIS.target


class Refusals(unittest.TestCase):
    def test_unsupported_estimator_lists_what_is_supported(self):
        model = make_pipeline(StandardScaler(), SVC()).fit(X, Y)
        with self.assertRaises(UnsupportedEstimator) as e:
            export(model, X.head())
        msg = str(e.exception)
        self.assertIn("sklearn.svm._classes.SVC is not supported", msg)
        self.assertIn("model.svc", msg)
        for name in ("Pipeline", "RandomForestClassifier", "TfidfVectorizer", "IsolationForest"):
            self.assertIn(name, msg)

    def test_unsupported_settings_are_named(self):
        text = make_pipeline(TfidfVectorizer(analyzer="char"), LogisticRegression()).fit(
            ["good film", "bad film", "great", "awful"], [1, 0, 1, 0])
        with self.assertRaisesRegex(UnsupportedEstimator, "analyzer='char'"):
            export(text, ["good"])
        ohe = make_pipeline(OneHotEncoder(min_frequency=5), LogisticRegression()).fit(
            np.array([["a"]] * 10 + [["b"]] * 10 + [["c"]]), [0] * 10 + [1] * 11)
        with self.assertRaisesRegex(UnsupportedEstimator, "infrequent"):
            export(ohe, [{"x0": "a"}], fields=["x0"])

    def test_a_subclass_is_not_trusted(self):
        class MyKnn(KNeighborsClassifier):
            pass

        with self.assertRaises(UnsupportedEstimator):
            export(MyKnn().fit(X, Y), X.head())

    def test_check_rows_are_required(self):
        with self.assertRaisesRegex(ValueError, "check rows are required"):
            export(LogisticRegression(max_iter=500).fit(X, Y), [])

    def test_a_model_without_column_names_needs_fields(self):
        model = LogisticRegression(max_iter=500).fit(X.to_numpy(), Y)
        with self.assertRaisesRegex(ValueError, "--fields"):
            export(model, X.to_numpy()[:3])


class Document(unittest.TestCase):
    def test_cli_writes_a_document_with_sklearns_outputs(self):
        import sklearn

        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(X, Y)
        with tempfile.TemporaryDirectory() as d:
            joblib.dump(model, os.path.join(d, "m.joblib"))
            X.tail(7).to_csv(os.path.join(d, "rows.csv"), index=False)
            env = dict(os.environ, PYTHONPATH=os.path.join(HERE, "..", "src"))
            subprocess.run([sys.executable, "-m", "wasp_sklearn_export.cli", os.path.join(d, "m.joblib"),
                            "-o", os.path.join(d, "m.json"), "--check-rows", os.path.join(d, "rows.csv")],
                           check=True, env=env, capture_output=True)
            with open(os.path.join(d, "m.json"), encoding="utf-8") as f:
                doc = json.load(f)
        self.assertEqual(doc["format"], "wasp-sklearn-model")
        self.assertEqual(doc["sklearn_version"], sklearn.__version__)
        self.assertEqual(doc["input"], {"kind": "fields", "fields": list(X.columns)})
        self.assertEqual([s["type"] for s in doc["estimator"]["steps"]], ["StandardScaler", "LogisticRegression"])
        self.assertEqual(len(doc["checks"]), 7)
        want = model.predict_proba(X.tail(7))
        for row, p in zip(doc["checks"], want):
            # Floats survive JSON bit for bit.
            self.assertEqual(row["proba"], p.tolist())

    def test_cli_refuses_with_exit_code_2(self):
        model = SVC().fit(X, Y)
        with tempfile.TemporaryDirectory() as d:
            joblib.dump(model, os.path.join(d, "m.joblib"))
            X.tail(2).to_csv(os.path.join(d, "rows.csv"), index=False)
            env = dict(os.environ, PYTHONPATH=os.path.join(HERE, "..", "src"))
            r = subprocess.run([sys.executable, "-m", "wasp_sklearn_export.cli", os.path.join(d, "m.joblib"),
                                "-o", os.path.join(d, "m.json"), "--check-rows", os.path.join(d, "rows.csv")],
                               env=env, capture_output=True, text=True)
            self.assertEqual(r.returncode, 2)
            self.assertIn("not supported", r.stderr)
            self.assertFalse(os.path.exists(os.path.join(d, "m.json")))

    def test_supported_list(self):
        self.assertIn("GradientBoostingRegressor", SUPPORTED)
        self.assertIn("ColumnTransformer", SUPPORTED)


if __name__ == "__main__":
    unittest.main()
