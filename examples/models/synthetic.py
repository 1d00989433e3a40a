"""Synthetic data for the seed's two systems, deterministic by seed.

Heart disease: the seed's JSON field names; the values are drawn at random
with a made-up risk rule (no heart data set ships with scikit-learn, and
nothing may be downloaded), so the model means nothing medically.
Reviews: short texts built from positive, negative and neutral word lists,
some of them non-ASCII.
"""
import numpy as np
import pandas as pd

HEART_NUMERIC = ["age", "resting bp s", "cholesterol", "max heart rate", "oldpeak"]
HEART_CATEGORICAL = ["sex", "chest pain type", "fasting blood sugar", "resting ecg", "exercise angina", "ST slope"]
HEART_FIELDS = ["age", "sex", "chest pain type", "resting bp s", "cholesterol", "fasting blood sugar",
                "resting ecg", "max heart rate", "exercise angina", "oldpeak", "ST slope"]


def heart_frame(n, seed):
    """(features DataFrame in the seed's field order, target Series 0/1)."""
    rng = np.random.default_rng(seed)
    age = rng.integers(28, 78, n)
    sex = rng.integers(0, 2, n)
    cp = rng.integers(1, 5, n)
    bp = rng.normal(132, 18, n).round()
    chol = rng.normal(240, 50, n).round()
    fbs = (rng.random(n) < 0.2).astype(int)
    ecg = rng.integers(0, 3, n)
    hr = rng.normal(140, 25, n).round()
    angina = (rng.random(n) < 0.35).astype(int)
    oldpeak = (rng.gamma(1.2, 0.9, n)).round(1)
    slope = rng.integers(1, 4, n)
    risk = (0.04 * (age - 50) + 0.6 * sex + 0.5 * (cp == 4) + 0.01 * (bp - 130) + 0.004 * (chol - 240)
            - 0.02 * (hr - 140) + 0.9 * angina + 0.6 * oldpeak + 0.5 * (slope == 2) - 1.0
            + rng.normal(0, 0.8, n))
    y = (risk > 0).astype(int)
    X = pd.DataFrame({
        "age": age, "sex": sex, "chest pain type": cp, "resting bp s": bp, "cholesterol": chol,
        "fasting blood sugar": fbs, "resting ecg": ecg, "max heart rate": hr, "exercise angina": angina,
        "oldpeak": oldpeak, "ST slope": slope,
    })
    # Some missing values, so the imputers learn something.
    X["cholesterol"] = X["cholesterol"].astype(float).mask(rng.random(n) < 0.04)
    X["ST slope"] = X["ST slope"].astype(float).mask(rng.random(n) < 0.03)
    return X[HEART_FIELDS], pd.Series(y, name="target")


POSITIVE = ["great", "wonderful", "loved", "excellent", "brilliant", "superb", "enjoyable", "fantastic",
            "génial", "magnífico", "отлично", "素晴らしい", "top-grade", "ideally", "strong", "memorable"]
NEGATIVE = ["awful", "terrible", "boring", "hated", "dull", "poor", "weak", "disappointing", "mess",
            "schrecklich", "ужасно", "nul", "worst", "forgettable", "clumsy", "tedious"]
NEUTRAL = ["the", "show", "film", "episode", "cast", "writing", "plot", "was", "it", "and", "I", "think",
           "about", "opening", "sequence", "theme", "song", "network", "season", "a", "of", "very", "to",
           "café", "naïve", "Straße", "ΣΟΦΟΣ", "don't", "can't", "x_y", "2nd", "10/10"]


def reviews(n, seed):
    """(list of review texts, list of labels 1 positive / 0 negative)."""
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for _ in range(n):
        y = int(rng.random() < 0.5)
        words = []
        for _ in range(int(rng.integers(5, 30))):
            r = rng.random()
            pool = NEUTRAL if r < 0.6 else (POSITIVE if (r < 0.9) == bool(y) else NEGATIVE)
            w = pool[int(rng.integers(len(pool)))]
            if rng.random() < 0.15:
                w = w.upper() if rng.random() < 0.5 else w.capitalize()
            words.append(w)
        sep = [" ", " ", ", ", ". ", "! "]
        text = words[0]
        for w in words[1:]:
            text += sep[int(rng.integers(len(sep)))] + w
        texts.append(text)
        labels.append(y)
    return texts, labels
