#!/usr/bin/env python3
"""Writes the built-in model server's reference fixtures with the real XGBoost (1.7.4 here).

One small model per booster and objective XGBoost 1.7's predictor supports, each saved in every format
a SageMaker XGBoost container can load, with inputs that have missing values and XGBoost's own
predictions for them. The tests load every model in every format and compare with these predictions.

Writes test/fixtures/xgboost/:
  inputs.csv                      100 rows x 5 features, about 15% of the cells empty (missing)
  <name>/model.json               Booster.save_model('model.json')
  <name>/model.ubj                Booster.save_model('model.ubj')       (UBJSON)
  <name>/xgboost-model            Booster.save_model('xgboost-model')   (XGBoost 1.x legacy binary, as
                                  SageMaker's 1.x training jobs write it)
  <name>/model.tar.gz             xgboost-model in a tar.gz, as a training job's ModelArtifacts
  <name>/expected.json            {objective, booster, num_class, base_score, predictions: [[...] per row]}
  ensemble/model.tar.gz           two models as two top-level files (the container averages them)
  ensemble/expected.json          their mean, as the container computes it (float32 numpy mean)
  pickled/xgboost-model           a pickled Booster (the server refuses it and says how to re-save)
  manifest.json                   the list of fixtures

Deterministic (fixed seeds, one thread); run it again and the files are rewritten identically, except
for gzip timestamps, which are fixed to 0 too. Needs Debian's python3-xgboost:

  /usr/bin/python3 scripts/make_xgboost_fixtures.py
"""

import gzip
import io
import json
import os
import pickle
import shutil
import tarfile

import numpy as np
import xgboost as xgb

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "test", "fixtures", "xgboost")
SEED = 12
ROWS = 100
FEATURES = 5
ROUNDS = 6

rng = np.random.default_rng(SEED)
X = rng.normal(size=(ROWS, FEATURES)).astype(np.float32)
# Missing values: every column has some, so every default direction is exercised.
X[rng.random(size=X.shape) < 0.15] = np.nan
signal = np.nan_to_num(X[:, 0]) + 0.5 * np.nan_to_num(X[:, 1]) - 0.25 * np.nan_to_num(X[:, 2])


def labels_for(objective):
    """Labels (and extra DMatrix fields) a model of this objective can train on."""
    noise = rng.normal(scale=0.3, size=ROWS)
    extra = {}
    if objective.startswith("binary:"):
        y = (signal + noise > 0).astype(np.float32)
    elif objective.startswith("multi:"):
        y = np.digitize(signal + noise, [-0.5, 0.5]).astype(np.float32)
    elif objective in ("reg:gamma", "reg:tweedie", "count:poisson"):
        y = np.exp(0.5 * signal + noise).astype(np.float32)
        if objective == "count:poisson":
            y = np.floor(y * 2)
    elif objective == "reg:logistic":
        y = 1 / (1 + np.exp(-(signal + noise)))
    elif objective == "reg:squaredlogerror":
        y = np.exp(signal + noise)
    elif objective == "survival:cox":
        time = np.exp(-0.5 * signal + noise)
        # Negative times are right-censored in XGBoost's Cox convention.
        y = np.where(rng.random(ROWS) < 0.2, -time, time)
    elif objective == "survival:aft":
        y = np.exp(0.5 * signal + noise)
        upper = np.where(rng.random(ROWS) < 0.2, np.inf, y)
        extra = {"label_lower_bound": y, "label_upper_bound": upper}
        y = None
    elif objective.startswith("rank:"):
        y = np.clip(np.round(signal + noise + 1), 0, 3)
        extra = {"qid": np.repeat(np.arange(10), ROWS // 10)}
    else:
        y = signal + noise
    return y, extra


def train(objective, booster="gbtree", base_score=None, rounds=ROUNDS, extra_params=None):
    y, extra = labels_for(objective)
    dtrain = xgb.DMatrix(X, label=y, missing=np.nan, **extra)
    params = {
        "objective": objective,
        "booster": booster,
        "max_depth": 3,
        "eta": 0.3,
        "nthread": 1,
        "seed": SEED,
    }
    if objective.startswith("multi:"):
        params["num_class"] = 3
    if base_score is not None:
        params["base_score"] = base_score
    if booster == "dart":
        # Drops at training time give the trees unequal weights, which prediction must apply.
        params.update({"rate_drop": 0.3, "skip_drop": 0.0, "sample_type": "weighted"})
    if booster == "gblinear":
        params.pop("max_depth")
        params["updater"] = "coord_descent"
    params.update(extra_params or {})
    return xgb.train(params, dtrain, num_boost_round=rounds)


def predict(bst):
    out = bst.predict(xgb.DMatrix(X, missing=np.nan))
    return out.reshape(ROWS, -1)


def tar_gz(path, members):
    """A deterministic tar.gz of (name, bytes) members."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 0
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    with open(path, "wb") as out:
        with gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as gz:
            gz.write(raw.getvalue())


def write_json(path, value):
    with open(path, "w", encoding="utf-8", newline="\n") as out:
        json.dump(value, out, indent=1)
        out.write("\n")


def floats(array):
    """Each value as the double of XGBoost's float32 output (what `.tolist()` gives)."""
    return [[float(v) for v in row] for row in array]


def save_all(name, bst, objective, booster):
    folder = os.path.join(OUT, name)
    os.makedirs(folder, exist_ok=True)
    bst.save_model(os.path.join(folder, "model.json"))
    bst.save_model(os.path.join(folder, "model.ubj"))
    bst.save_model(os.path.join(folder, "xgboost-model"))
    with open(os.path.join(folder, "xgboost-model"), "rb") as f:
        tar_gz(os.path.join(folder, "model.tar.gz"), [("xgboost-model", f.read())])
    config = json.loads(bst.save_config())["learner"]
    write_json(
        os.path.join(folder, "expected.json"),
        {
            "objective": objective,
            "booster": booster,
            "num_class": int(config["learner_model_param"]["num_class"]),
            "base_score": float(config["learner_model_param"]["base_score"]),
            "predictions": floats(predict(bst)),
        },
    )
    return name


def main():
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    with open(os.path.join(OUT, "inputs.csv"), "w", encoding="utf-8", newline="\n") as out:
        for row in X:
            out.write(",".join("" if np.isnan(v) else repr(float(v)) for v in row) + "\n")

    names = []
    gbtree_objectives = [
        "reg:squarederror",
        "reg:squaredlogerror",
        "reg:logistic",
        "reg:pseudohubererror",
        "reg:absoluteerror",
        "reg:gamma",
        "reg:tweedie",
        "count:poisson",
        "survival:cox",
        "survival:aft",
        "binary:logistic",
        "binary:logitraw",
        "binary:hinge",
        "multi:softmax",
        "multi:softprob",
        "rank:pairwise",
        "rank:ndcg",
        "rank:map",
    ]
    for objective in gbtree_objectives:
        name = "gbtree-" + objective.replace(":", "-")
        names.append(save_all(name, train(objective), objective, "gbtree"))
    # base_score away from the default: binary:logitraw keeps it as the raw margin, logistic maps it.
    for objective, base in [("binary:logitraw", 0.7), ("binary:logistic", 0.3), ("reg:gamma", 2.5)]:
        name = "gbtree-" + objective.replace(":", "-") + "-base" + str(base).replace(".", "_")
        names.append(save_all(name, train(objective, base_score=base), objective, "gbtree"))
    for objective in ["reg:squarederror", "binary:logistic", "multi:softprob", "count:poisson"]:
        name = "dart-" + objective.replace(":", "-")
        names.append(save_all(name, train(objective, booster="dart"), objective, "dart"))
    for objective in ["reg:squarederror", "binary:logistic", "multi:softprob", "count:poisson"]:
        name = "gblinear-" + objective.replace(":", "-")
        names.append(save_all(name, train(objective, booster="gblinear"), objective, "gblinear"))

    # Ensemble: two top-level files in one archive, averaged the way the container does (np.mean of the
    # float32 predictions, which numpy accumulates in float32).
    first = train("binary:logistic")
    second = train("binary:logistic", extra_params={"max_depth": 2, "seed": SEED + 1}, rounds=4)
    ensemble = os.path.join(OUT, "ensemble")
    os.makedirs(ensemble)
    members = []
    for file_name, bst in [("model-a.json", first), ("model-b", second)]:
        path = os.path.join(ensemble, file_name)
        bst.save_model(path)
        with open(path, "rb") as f:
            members.append((file_name, f.read()))
        os.remove(path)
    tar_gz(os.path.join(ensemble, "model.tar.gz"), members)
    mean = np.mean([first.predict(xgb.DMatrix(X, missing=np.nan)), second.predict(xgb.DMatrix(X, missing=np.nan))], axis=0)
    write_json(
        os.path.join(ensemble, "expected.json"),
        {"objective": "binary:logistic", "booster": "gbtree", "num_class": 0, "base_score": 0.5,
         "predictions": floats(mean.reshape(ROWS, -1))},
    )

    # A pickled Booster, as SageMaker's oldest XGBoost containers wrote it: cannot be read without Python.
    pickled = os.path.join(OUT, "pickled")
    os.makedirs(pickled)
    with open(os.path.join(pickled, "xgboost-model"), "wb") as out:
        pickle.dump(train("reg:squarederror", rounds=2), out, protocol=2)

    write_json(os.path.join(OUT, "manifest.json"), {"xgboost": xgb.__version__, "models": names})
    print(f"wrote {len(names)} models in 4 formats, an ensemble and a pickle under {OUT}")


if __name__ == "__main__":
    main()
