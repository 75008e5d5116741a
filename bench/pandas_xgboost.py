"""The script a data scientist would write to score a CSV with an XGBoost model: read the CSV in
100,000-row chunks with pandas, predict in process with XGBoost's Booster, write one JSON line per
record with its record number, score and label. `npm run bench` times it against the pipeline on the
same file and model (run with /usr/bin/python3: Debian's python3-xgboost 1.7.4 and python3-pandas).

    /usr/bin/python3 bench/pandas_xgboost.py MODEL INPUT.csv OUTPUT.jsonl [--labels no,yes] [--threshold 0.5]
"""
import argparse
import json
import sys

import numpy as np
import pandas as pd
import xgboost as xgb


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("input")
    parser.add_argument("output")
    parser.add_argument("--labels", default="0,1")
    parser.add_argument("--threshold", type=float, default=0.5)
    args = parser.parse_args()
    negative, positive = args.labels.split(",")

    booster = xgb.Booster()
    booster.load_model(args.model)
    record = 0
    with open(args.output, "w", encoding="utf-8") as out:
        for chunk in pd.read_csv(args.input, header=None, chunksize=100_000, dtype=np.float32):
            scores = booster.predict(xgb.DMatrix(chunk.to_numpy(), missing=np.nan))
            lines = []
            for score in scores.tolist():
                label = positive if score >= args.threshold else negative
                lines.append(json.dumps({"record": record, "score": score, "label": label}))
                record += 1
            out.write("\n".join(lines))
            out.write("\n")
    print(json.dumps({"records": record}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
