#!/usr/bin/env python3
"""Export scikit-learn k-NN predictions that the `knn` plugin must reproduce.

Writes, relative to the repository root:
  plugins/knn/data/iris.csv   the Iris data the plugin embeds (`"builtin": "iris"`),
                              converted from scikit-learn's bundled copy
  tests/data/knn/iris.json    train/test split, sklearn predictions for k=5 and k=3
  tests/data/knn/wine.json    train/test split, sklearn predictions for k=5
  tests/data/knn/ties.json    a small grid data set full of equal distances,
                              sklearn predictions for k=3, 4 and 5

Split: train_test_split(X, y, test_size=0.3, random_state=42, stratify=y).
Model: KNeighborsClassifier(n_neighbors=k) with every other setting default.

Before writing, every prediction is recomputed with the plugin's rule (the
k nearest as sklearn's heap keeps them, pushed in training order; most
votes, ties to the smallest label) and the script fails on any difference.

scikit-learn is pinned (SKLEARN_VERSION) and installed with pip when the
running Python lacks that exact version, because kd-tree neighbour order and
the split itself may change between releases.

Usage: python3 scripts/sklearn-expectations.py
"""
import json
import os
import re
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "scripts", "lib"))
from sklearn_pin import ensure_sklearn  # noqa: E402


ensure_sklearn()

import numpy as np  # noqa: E402
import sklearn  # noqa: E402
from sklearn.datasets import load_iris, load_wine  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.neighbors import KNeighborsClassifier  # noqa: E402

IRIS_FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
IRIS_CLASSES = ["Iris-setosa", "Iris-versicolor", "Iris-virginica"]


def snake(name):
    """'od280/od315_of_diluted_wines' -> 'od280_od315_of_diluted_wines'."""
    return re.sub(r"[^0-9a-z]+", "_", name.lower()).strip("_")


def num(x):
    """A float as JSON writes it shortest; integral values stay floats so the
    Rust side reads exactly the f64 that sklearn used."""
    return float(x)


def heap_select(d, k):
    """Indices kept by sklearn's bounded max-heap (`sklearn/utils/_heap.pyx`
    heap_push) when distances arrive in training order, as in brute force
    and in a kd-tree leaf. A value equal to the heap's largest is refused."""
    vals, idx = [np.inf] * k, [-1] * k
    for j, v in enumerate(d):
        if v >= vals[0]:
            continue
        cur = 0
        while True:
            left, right = 2 * cur + 1, 2 * cur + 2
            if left >= k:
                break
            if right >= k:
                if vals[left] > v:
                    swap = left
                else:
                    break
            elif vals[left] >= vals[right]:
                if v < vals[left]:
                    swap = left
                else:
                    break
            elif v < vals[right]:
                swap = right
            else:
                break
            vals[cur], idx[cur] = vals[swap], idx[swap]
            cur = swap
        vals[cur], idx[cur] = v, j
    return [i for i in idx if i >= 0]


def vote(labels):
    """Most votes; ties to the smallest label, like sklearn's mode."""
    classes, counts = np.unique(labels, return_counts=True)
    return classes[np.argmax(counts)]


def plugin_predict(train_x, train_y, test_x, k, rule):
    """The plugin's rule ('heap'), or a plain stable (distance, index)
    order ('stable') for comparison."""
    out = []
    for x in test_x:
        d = ((train_x - x) ** 2).sum(axis=1)
        if rule == "heap":
            chosen = heap_select(d, k)
        else:
            chosen = np.lexsort((np.arange(len(d)), d))[:k]
        out.append(vote(train_y[chosen]))
    return np.array(out)


def boundary_ties(train_x, test_x, k):
    """Test rows whose k-th and (k+1)-th nearest distances are equal: the
    only rows where the neighbour set depends on the tie rule."""
    n = 0
    for x in test_x:
        d = np.sort(((train_x - x) ** 2).sum(axis=1))
        n += int(d[k - 1] == d[k])
    return n


def export(name, X, y, features, label, ks, split=None):
    if split is None:
        split = train_test_split(X, y, test_size=0.3, random_state=42, stratify=y)
        how = "train_test_split(X, y, test_size=0.3, random_state=42, stratify=y)"
    else:
        how = split.pop()
    x_train, x_test, y_train, y_test = split
    doc = {
        "dataset": name,
        "sklearn_version": sklearn.__version__,
        "split": how,
        "model": "KNeighborsClassifier(n_neighbors=k), other settings default",
        "features": features,
        "label": label,
        "train_x": [[num(v) for v in row] for row in x_train],
        "train_y": [str(v) for v in y_train],
        "test_x": [[num(v) for v in row] for row in x_test],
        "test_y": [str(v) for v in y_test],
        "predictions": {},
    }
    for k in ks:
        clf = KNeighborsClassifier(n_neighbors=k).fit(x_train, y_train)
        pred = clf.predict(x_test)
        heap = plugin_predict(x_train, y_train, x_test, k, "heap")
        stable = plugin_predict(x_train, y_train, x_test, k, "stable")
        agree = int((pred == heap).sum())
        print(
            f"{name} k={k}: method={clf._fit_method} accuracy={(pred == y_test).mean():.4f} "
            f"plugin-rule agreement={agree}/{len(pred)} "
            f"(a stable sort would agree on {int((pred == stable).sum())}) "
            f"boundary ties={boundary_ties(x_train, x_test, k)}"
        )
        if agree != len(pred):
            sys.exit(f"{name} k={k}: the plugin's neighbour rule disagrees with sklearn")
        doc["predictions"][str(k)] = [str(v) for v in pred]
    path = os.path.join(ROOT, "tests", "data", "knn", f"{name}.json")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        # One row per line: small diffs, still easy to read.
        f.write(json.dumps(doc, separators=(",", ":")).replace("],[", "],\n["))
        f.write("\n")
    print(f"wrote {os.path.relpath(path, ROOT)}")


def main():
    iris = load_iris()
    iris_y = np.array([IRIS_CLASSES[t] for t in iris.target])
    csv = os.path.join(ROOT, "plugins", "knn", "data", "iris.csv")
    os.makedirs(os.path.dirname(csv), exist_ok=True)
    with open(csv, "w") as f:
        f.write(",".join(IRIS_FEATURES + ["species"]) + "\n")
        for row, label in zip(iris.data, iris_y):
            f.write(",".join(repr(float(v)) for v in row) + f",{label}\n")
    print(f"wrote {os.path.relpath(csv, ROOT)}")
    export("iris", iris.data, iris_y, IRIS_FEATURES, "species", [5, 3])

    wine = load_wine()
    wine_y = np.array([str(wine.target_names[t]) for t in wine.target])
    export("wine", wine.data, wine_y, [snake(n) for n in wine.feature_names], "class", [5])

    # Many exactly equal distances with different labels, few enough rows
    # (< 61) that sklearn's kd-tree is a single leaf: which tied rows make
    # the k nearest is then decided by sklearn's heap alone, and a plain
    # stable sort by (distance, index) gets some rows wrong.
    rng = np.random.default_rng(7)
    x_train = rng.integers(0, 3, size=(48, 2)).astype(float)
    y_train = np.array([f"c{c}" for c in rng.integers(0, 4, size=48)])
    x_test = np.array([[a, b] for a in range(3) for b in range(3)] * 2, dtype=float)
    x_test[9:] += rng.integers(-1, 2, size=(9, 2)) * 0.5
    y_test = np.array([f"c{c}" for c in rng.integers(0, 4, size=len(x_test))])
    how = "48 random points on a 3x3 grid (numpy seed 7), labels c0..c3; test: the grid and 9 half-step points"
    export("ties", None, None, ["x1", "x2"], "label", [3, 4, 5], [x_train, x_test, y_train, y_test, how])


if __name__ == "__main__":
    main()
