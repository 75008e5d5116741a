#!/usr/bin/python3
"""Writes the evaluation fixtures: models, inputs with a true-outcome column, and scikit-learn's metrics.

Run with Debian's Python (scikit-learn 1.2.1, XGBoost 1.7.4, pandas): /usr/bin/python3
scripts/make_evaluation_fixtures.py. Everything comes from datasets bundled with scikit-learn (nothing
is downloaded); seeds are fixed and XGBoost runs on one thread, so running it again rewrites the same
files.

For each of binary (breast cancer), multiclass (iris) and regression (diabetes), under
test/fixtures/evaluation/<kind>/:
  xgboost-model.json  a small XGBoost model trained on the other part of the data
  input.csv           no header: id, the features (a few cells left empty), the true outcome last
  request.json        the run request's results settings naming the id and actual columns
  expected.json       XGBoost's own predictions for every row (`scores`, as doubles), the true outcomes,
                      and scikit-learn's figures computed on exactly those: the reference the pipeline's
                      `evaluation` query must reproduce
"""
import json
import os

import numpy as np
import xgboost as xgb
from sklearn import datasets, metrics

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "test", "fixtures", "evaluation")
THRESHOLD = 0.5
RNG = np.random.default_rng(16)


def split(n, test):
    order = RNG.permutation(n)
    return order[test:], order[:test]


def with_missing(x, share=0.02):
    x = x.astype(np.float64).copy()
    mask = RNG.random(x.shape) < share
    x[mask] = np.nan
    return x


def fmt(value):
    return "" if np.isnan(value) else repr(float(value))


def write_case(kind, x, actual_text, feature_names, model, scores, figures, request):
    folder = os.path.join(OUT, kind)
    os.makedirs(folder, exist_ok=True)
    model.save_model(os.path.join(folder, "xgboost-model.json"))
    with open(os.path.join(folder, "input.csv"), "w") as f:
        for i, (row, actual) in enumerate(zip(x, actual_text)):
            f.write(",".join([f"r{i + 1:04d}"] + [fmt(v) for v in row] + [actual]) + "\n")
    results = {
        "featureNames": ["record_id"] + feature_names + ["outcome"],
        "idColumn": "record_id",
        "actualColumn": "outcome",
        **request,
    }
    with open(os.path.join(folder, "request.json"), "w") as f:
        json.dump({"results": results, "queries": ["evaluation"]}, f, indent=2)
        f.write("\n")
    with open(os.path.join(folder, "expected.json"), "w") as f:
        json.dump(
            {
                "kind": kind,
                "threshold": THRESHOLD,
                "scores": [s if isinstance(s, list) else float(s) for s in scores],
                "actual": list(actual_text),
                "figures": figures,
            },
            f,
            indent=1,
        )
        f.write("\n")


def train(x, y, params, rounds):
    booster = xgb.train({**params, "nthread": 1, "seed": 0}, xgb.DMatrix(x, label=y, missing=np.nan), rounds)
    return booster


def predict(booster, x):
    return booster.predict(xgb.DMatrix(x, missing=np.nan)).astype(np.float64)


def binary():
    data = datasets.load_breast_cancer()
    x = with_missing(data.data)
    train_rows, test_rows = split(len(x), 200)
    booster = train(x[train_rows], data.target[train_rows], {"objective": "binary:logistic", "max_depth": 2, "eta": 0.3}, 8)
    p = predict(booster, x[test_rows])
    closest = np.min(np.abs(p - THRESHOLD))
    assert closest > 1e-4, f"a score is {closest} from the threshold: float32 rounding could flip it"
    y = data.target[test_rows]
    y_pred = (p >= THRESHOLD).astype(int)
    labels = [str(n) for n in data.target_names]  # ['malignant', 'benign']: the score is P(benign)
    cm = metrics.confusion_matrix(y, y_pred, labels=[0, 1])
    figures = {
        "confusion": {labels[a]: {labels[b]: int(cm[a][b]) for b in range(2)} for a in range(2)},
        "accuracy": metrics.accuracy_score(y, y_pred),
        "precision": metrics.precision_score(y, y_pred),
        "recall": metrics.recall_score(y, y_pred),
        "f1": metrics.f1_score(y, y_pred),
        "roc_auc": metrics.roc_auc_score(y, p),
        "log_loss": metrics.log_loss(y, p),
        "records": int(len(y)),
    }
    # The true outcome as a user's file has it: the class name.
    write_case(
        "binary",
        x[test_rows],
        [labels[v] for v in y],
        [str(n).replace(" ", "_") for n in data.feature_names],
        booster,
        p,
        figures,
        {"labels": labels, "threshold": THRESHOLD},
    )


def multiclass():
    data = datasets.load_iris()
    x = with_missing(data.data, 0.03)
    train_rows, test_rows = split(len(x), 75)
    booster = train(x[train_rows], data.target[train_rows], {"objective": "multi:softprob", "num_class": 3, "max_depth": 1, "eta": 0.3}, 3)
    prob = booster.predict(xgb.DMatrix(x[test_rows], missing=np.nan)).astype(np.float64)
    y = data.target[test_rows]
    y_pred = prob.argmax(axis=1)
    labels = [str(n) for n in data.target_names]
    cm = metrics.confusion_matrix(y, y_pred, labels=[0, 1, 2])
    figures = {
        "confusion": {labels[a]: {labels[b]: int(cm[a][b]) for b in range(3)} for a in range(3)},
        "accuracy": metrics.accuracy_score(y, y_pred),
        "records": int(len(y)),
    }
    # The true outcome as a class index: the pipeline stores it as the class's label.
    write_case(
        "multiclass",
        x[test_rows],
        [str(int(v)) for v in y],
        [n.replace(" (cm)", "").replace(" ", "_") for n in data.feature_names],
        booster,
        [list(map(float, row)) for row in prob],
        figures,
        {"labels": labels},
    )


def regression():
    data = datasets.load_diabetes()
    x = with_missing(data.data)
    train_rows, test_rows = split(len(x), 142)
    booster = train(x[train_rows], data.target[train_rows], {"objective": "reg:squarederror", "max_depth": 3, "eta": 0.3}, 20)
    p = predict(booster, x[test_rows])
    y = data.target[test_rows].astype(np.float64)
    figures = {
        "mae": metrics.mean_absolute_error(y, p),
        "rmse": float(np.sqrt(metrics.mean_squared_error(y, p))),
        "r2": metrics.r2_score(y, p),
        "records": int(len(y)),
    }
    write_case(
        "regression",
        x[test_rows],
        [repr(float(v)) for v in y],
        list(data.feature_names),
        booster,
        p,
        figures,
        {},
    )


if __name__ == "__main__":
    binary()
    multiclass()
    regression()
