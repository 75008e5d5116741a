"""Native XGBoost's side of bench/predictor.ts: a long-lived child that reads one JSON command per line
on stdin and answers one JSON line on stdout. Run with Debian's /usr/bin/python3 (python3-xgboost 1.7,
python3-pandas). Commands:

  {"op": "train", "dir": D, "rows": N, "trees": T, "depth": K}
      trains a binary:logistic model of T trees of depth K on synthetic data (30 features, ~10% missing),
      saves D/model.json and writes N fresh rows of the same distribution to D/rows.csv (empty = missing)
  {"op": "load", "model": M, "rows": CSV}
      loads the model (nthread=1) and reads the rows once
  {"op": "predict"}
      one timed Booster.predict over the loaded rows (a fresh DMatrix, built untimed):
      {"seconds": wall s, "cpuSeconds": CPU s of the process, "sum": Σ predictions}
"""

import json
import sys
import time

try:
    import numpy as np
    import pandas as pd
    import xgboost as xgb
except ImportError as error:  # the caller prints how to install them
    print(json.dumps({"error": f"{error}"}), flush=True)
    sys.exit(0)

FEATURES = 30


def synthetic(rng, rows):
    x = rng.normal(size=(rows, FEATURES)).astype(np.float32)
    x[rng.random(size=x.shape) < 0.1] = np.nan
    return x


def train(cmd):
    rng = np.random.default_rng(15)
    x = synthetic(rng, max(20_000, cmd["trees"] * 50))
    filled = np.nan_to_num(x)
    signal = filled[:, 0] * filled[:, 1] + np.sin(3 * filled[:, 2]) + filled[:, 3:10].sum(axis=1) / 3
    y = (signal + rng.normal(scale=0.5, size=len(signal)) > 0).astype(np.float32)
    params = {"objective": "binary:logistic", "max_depth": cmd["depth"], "eta": 0.1, "tree_method": "hist",
              "nthread": 2, "min_child_weight": 0.5}
    booster = xgb.train(params, xgb.DMatrix(x, label=y, missing=np.nan), num_boost_round=cmd["trees"])
    booster.save_model(f"{cmd['dir']}/model.json")
    rows = synthetic(rng, cmd["rows"])
    pd.DataFrame(rows).to_csv(f"{cmd['dir']}/rows.csv", header=False, index=False, float_format="%.6g",
                              na_rep="")
    return {"ok": True}


state = {}


def load(cmd):
    booster = xgb.Booster(model_file=cmd["model"])
    booster.set_param({"nthread": 1})
    rows = pd.read_csv(cmd["rows"], header=None, float_precision="round_trip").to_numpy(dtype=np.float32)
    state["booster"] = booster
    state["rows"] = rows
    return {"rows": int(rows.shape[0]), "xgboost": xgb.__version__}


def predict(_cmd):
    # A new DMatrix each time, built before the clock starts: XGBoost caches the predictions of a
    # DMatrix it has predicted, and a second predict on the same one would only copy them.
    matrix = xgb.DMatrix(state["rows"], missing=np.nan, nthread=1)
    cpu = time.process_time()
    start = time.perf_counter()
    out = state["booster"].predict(matrix)
    seconds = time.perf_counter() - start
    cpu_seconds = time.process_time() - cpu
    return {"seconds": seconds, "cpuSeconds": cpu_seconds, "sum": float(np.sum(out, dtype=np.float64))}


OPS = {"train": train, "load": load, "predict": predict}

for line in sys.stdin:
    command = json.loads(line)
    try:
        answer = OPS[command["op"]](command)
    except Exception as error:  # reported to the caller, which stops the bench with it
        answer = {"error": f"{type(error).__name__}: {error}"}
    print(json.dumps(answer), flush=True)
