#!/usr/bin/env python3
"""scikit-learn's figures on seed 004's cricket data, which the `learner`
plugin must come within 0.05 of.

Writes, relative to the repository root:
  plugins/learner/data/cricket-train.jsonl    1,000 training states
  plugins/learner/data/cricket-holdout.jsonl  2,000 held-out states
  plugins/learner/data/cricket-match.jsonl    one simulated match (the demo's)
  plugins/learner/data/sklearn.json           the figures below

Data: scripts/cricket.py, 3,000 states from seed 42, the first 1,000 for
training and the next 2,000 held out; the match from its default seed.

Figures, each a StandardScaler fitted on the training states, then:
  regression (target final_score, R² on the held-out states):
    random_forest  RandomForestRegressor(n_estimators=100, random_state=42)
    linear         LinearRegression()
  classification (target band, accuracy on the held-out states):
    random_forest  RandomForestClassifier(n_estimators=100, random_state=42)
    logistic       LogisticRegression()

plugins/learner/tests/quality.rs reads the same files and checks the
learner's figures against these.

Usage: python3 scripts/sklearn-cricket.py
"""
import json
import os
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "scripts", "lib"))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
from sklearn_pin import ensure_sklearn  # noqa: E402

ensure_sklearn()

import sklearn  # noqa: E402
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor  # noqa: E402
from sklearn.linear_model import LinearRegression, LogisticRegression  # noqa: E402
from sklearn.metrics import accuracy_score, r2_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

import cricket  # noqa: E402

TRAIN = 1000
HOLDOUT = 2000
SEED = 42
OUT = os.path.join(ROOT, "plugins", "learner", "data")


def write_jsonl(name, rows):
    with open(os.path.join(OUT, name), "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")


def main():
    os.makedirs(OUT, exist_ok=True)
    states = cricket.training(TRAIN + HOLDOUT, SEED)
    train, held = states[:TRAIN], states[TRAIN:]
    write_jsonl("cricket-train.jsonl", train)
    write_jsonl("cricket-holdout.jsonl", held)
    write_jsonl("cricket-match.jsonl", cricket.simulate_match(7))

    def xs(rows):
        return [[r[f] for f in cricket.FEATURES] for r in rows]

    x_train, x_held = xs(train), xs(held)
    regression = {
        "random_forest": RandomForestRegressor(n_estimators=100, random_state=42),
        "linear": LinearRegression(),
    }
    classification = {
        "random_forest": RandomForestClassifier(n_estimators=100, random_state=42),
        "logistic": LogisticRegression(),
    }
    figures = {"sklearn_version": sklearn.__version__, "train": TRAIN, "holdout": HOLDOUT}
    figures["r2"] = {}
    for name, model in regression.items():
        m = make_pipeline(StandardScaler(), model).fit(x_train, [r["final_score"] for r in train])
        figures["r2"][name] = r2_score([r["final_score"] for r in held], m.predict(x_held))
    figures["accuracy"] = {}
    for name, model in classification.items():
        m = make_pipeline(StandardScaler(), model).fit(x_train, [r["band"] for r in train])
        figures["accuracy"][name] = accuracy_score([r["band"] for r in held], m.predict(x_held))
    with open(os.path.join(OUT, "sklearn.json"), "w") as f:
        json.dump(figures, f, indent=2)
        f.write("\n")
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
