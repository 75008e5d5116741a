#!/usr/bin/env python3
"""Trains the sample model and the test fixture models with the real XGBoost.

Everything comes from datasets bundled with scikit-learn, so nothing is downloaded. The script is
deterministic (fixed seeds, one thread): running it again rewrites the same files.

Writes:
  examples/model/xgboost-model.json           binary:logistic on breast cancer (the `npm start` sample)
  examples/sample/input/part-000{1,2}.csv     the sample's features: no header, no label, some empty fields
  examples/sample/expected-predictions.csv    XGBoost's own predict() for every input row, in file order
  examples/sample/dataset.json                feature and class names, score orientation, provenance
  test/fixtures/models/iris-softprob/         multi:softprob (3 classes) model, input and expected output
  test/fixtures/models/diabetes-regression/   reg:squarederror model, input and expected output

Needs xgboost and scikit-learn (Debian: `apt-get install -y python3-xgboost python3-sklearn`, then run
with /usr/bin/python3 if another python3 comes first on PATH):

  /usr/bin/python3 scripts/train_sample_model.py
"""

import json
import os
import sys

import numpy as np
import sklearn
import xgboost as xgb
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.model_selection import train_test_split

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEED = 20240607


def fmt(value):
    """Shortest text that reads back as the same double; empty for a missing value (NaN)."""
    value = float(value)
    return "" if np.isnan(value) else repr(value)


def write_lines(path, lines):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    # newline="\n" so the files are byte-identical on every platform.
    with open(path, "w", encoding="utf-8", newline="\n") as out:
        for line in lines:
            out.write(line + "\n")


def write_json(path, value):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as out:
        json.dump(value, out, indent=2)
        out.write("\n")


def csv_rows(features):
    return [",".join(fmt(v) for v in row) for row in features]


def blank_some_cells(features, rows, seed, per_row=(1, 3)):
    """Empties a few cells in `rows` so missing-value handling (NaN -> default direction) is exercised."""
    rng = np.random.default_rng(seed)
    features = features.copy()
    cells = []
    for row in rows:
        count = int(rng.integers(per_row[0], per_row[1] + 1))
        for column in sorted(rng.choice(features.shape[1], size=count, replace=False).tolist()):
            features[row, column] = np.nan
            cells.append((int(row), int(column)))
    return features, cells


def train(params, features, target, rounds):
    # nthread=1 and a fixed seed: the same trees on every run and every machine.
    params = {"nthread": 1, "seed": SEED, "tree_method": "hist", **params}
    dtrain = xgb.DMatrix(features, label=target, missing=np.nan)
    return xgb.train(params, dtrain, num_boost_round=rounds)


def predict(booster, features):
    return booster.predict(xgb.DMatrix(features, missing=np.nan))


def sample():
    data = load_breast_cancer()
    rng_rows = np.random.default_rng(SEED).choice(len(data.target), size=8, replace=False)
    features, blanks = blank_some_cells(data.data, sorted(rng_rows.tolist()), SEED + 1)
    target = data.target

    train_x, holdout_x, train_y, holdout_y = train_test_split(
        features, target, test_size=0.3, random_state=SEED, stratify=target
    )
    params = {
        "objective": "binary:logistic",
        "max_depth": 4,
        "eta": 0.1,
        "subsample": 0.8,
        "colsample_bytree": 0.8,
        "eval_metric": "logloss",
    }
    rounds = 80
    booster = train(params, train_x, train_y, rounds)
    holdout = predict(booster, holdout_x)

    model_path = os.path.join(ROOT, "examples/model/xgboost-model.json")
    os.makedirs(os.path.dirname(model_path), exist_ok=True)
    booster.save_model(model_path)

    split = 300
    parts = [("part-0001.csv", features[:split]), ("part-0002.csv", features[split:])]
    for name, part in parts:
        write_lines(os.path.join(ROOT, "examples/sample/input", name), csv_rows(part))
    # Predicted on the rows as they are written (missing cells included), in file order.
    expected = predict(booster, features)
    write_lines(os.path.join(ROOT, "examples/sample/expected-predictions.csv"), [fmt(p) for p in expected])

    names = [str(n) for n in data.feature_names]
    write_json(
        os.path.join(ROOT, "examples/sample/dataset.json"),
        {
            "name": "breast-cancer-wisconsin-diagnostic",
            "description": (
                "Features computed from digitized images of fine needle aspirates of breast masses; "
                "one row per mass. The input files hold the 30 features only: no header, no label."
            ),
            "provenance": {
                "source": "UCI Machine Learning Repository: Breast Cancer Wisconsin (Diagnostic)",
                "url": "https://archive.ics.uci.edu/dataset/17/breast+cancer+wisconsin+diagnostic",
                "creators": "W. Wolberg, O. Mangasarian, N. Street, W. Street (1995)",
                "license": "CC BY 4.0",
                "via": f"scikit-learn {sklearn.__version__} sklearn.datasets.load_breast_cancer (bundled copy)",
                "changes": (
                    f"{len(blanks)} cells in {len(rng_rows)} rows were emptied on purpose so that "
                    "missing-value handling is exercised; see missingCells"
                ),
            },
            "featureNames": names,
            "labels": [str(n) for n in data.target_names],
            "score": {
                "classIndex": 1,
                "class": str(data.target_names[1]),
                "meaning": (
                    "Each prediction is the probability that the mass is benign (sklearn target 1). "
                    "The probability of malignant (target 0) is 1 - score."
                ),
            },
            "classCounts": {str(data.target_names[i]): int((target == i).sum()) for i in (0, 1)},
            "model": {
                "file": "examples/model/xgboost-model.json",
                "format": "XGBoost JSON (Booster.save_model)",
                "xgboostVersion": xgb.__version__,
                "booster": "gbtree",
                "objective": params["objective"],
                "numTrees": rounds,
                "maxDepth": params["max_depth"],
                "eta": params["eta"],
                "seed": SEED,
                "trainedOn": f"{len(train_y)} rows (70% stratified split, random_state={SEED})",
                "holdout": {
                    "rows": int(len(holdout_y)),
                    "accuracyAtHalf": round(float(accuracy_score(holdout_y, holdout >= 0.5)), 4),
                    "rocAuc": round(float(roc_auc_score(holdout_y, holdout)), 4),
                },
            },
            "rows": {
                "total": int(len(target)),
                "files": {name: int(len(part)) for name, part in parts},
            },
            "missingCells": [
                {
                    "file": parts[0][0] if row < split else parts[1][0],
                    "line": (row if row < split else row - split) + 1,
                    "feature": names[column],
                }
                for row, column in blanks
            ],
            "expectedPredictions": "examples/sample/expected-predictions.csv (XGBoost predict(), one per input row)",
        },
    )
    return booster


def fixture(name, features, target, params, rounds, blank_rows, expected_line, keep_rows=None):
    features, _ = blank_some_cells(features, blank_rows, SEED + 2, per_row=(1, 2))
    booster = train(params, features, target, rounds)
    # Trained on every row; only the first keep_rows are written, to keep the fixture small.
    features = features[:keep_rows]
    directory = os.path.join(ROOT, "test/fixtures/models", name)
    os.makedirs(directory, exist_ok=True)
    booster.save_model(os.path.join(directory, "xgboost-model.json"))
    write_lines(os.path.join(directory, "input.csv"), csv_rows(features))
    write_lines(
        os.path.join(directory, "expected-predictions.csv"),
        [expected_line(p) for p in predict(booster, features)],
    )


def fixtures():
    iris = load_iris()
    fixture(
        "iris-softprob",
        iris.data,
        iris.target,
        {"objective": "multi:softprob", "num_class": 3, "max_depth": 3, "eta": 0.3},
        15,
        [3, 57, 98, 120, 149],
        lambda p: ",".join(fmt(v) for v in p),
    )
    diabetes = load_diabetes()
    fixture(
        "diabetes-regression",
        diabetes.data,
        diabetes.target,
        # base_score at the target mean: a non-default base_score the server must add to every margin.
        {
            "objective": "reg:squarederror",
            "max_depth": 3,
            "eta": 0.1,
            "base_score": float(np.mean(diabetes.target)),
        },
        40,
        [0, 10, 75, 149],
        fmt,
        keep_rows=150,
    )


def main():
    if not xgb.__version__.startswith("1.7"):
        # The JSON model layout (base_score in output space) is what the TypeScript loader is tested on.
        print(f"note: trained with xgboost {xgb.__version__}; fixtures were made with 1.7.x", file=sys.stderr)
    sample()
    fixtures()
    print(f"wrote sample and fixtures with xgboost {xgb.__version__}, scikit-learn {sklearn.__version__}")


if __name__ == "__main__":
    main()
