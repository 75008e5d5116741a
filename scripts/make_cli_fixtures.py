"""Makes the CLI's end-to-end fixtures the way a data scientist makes their files: pandas and XGBoost.

Run with Debian's Python (pandas 1.5.3, XGBoost 1.7.4, scikit-learn):

    /usr/bin/python3 scripts/make_cli_fixtures.py

Writes test/fixtures/cli/ (deterministic: the same bytes each run):
  model.json              XGBClassifier (binary:logistic) saved with save_model
  model.ubj               the same booster saved as UBJSON (feature names kept, as in JSON)
  test.csv                X_test.to_csv("test.csv"): pandas' defaults, a header row and the unnamed index
  test.csv.gz             the same through to_csv(compression="gzip")
  test-noheader.csv       to_csv(header=False, index=False): data lines only
  test-id.csv             a named id column first (patient_id), to_csv(index=False)
  folder/part-1.csv, folder/part-2.csv   X_test split in two, to_csv defaults; folder/README.txt beside them
  test.jsonl              to_json(orient="records", lines=True)
  numbered.csv            X_test as a numpy array's DataFrame (columns 0..29), to_csv(index=False):
                          the header line is 0,1,...,29
  numbered-index.csv      the same with pandas' defaults: header ,0,1,...,29 and the index first
  reordered.csv           X_test's columns reversed, to_csv(index=False): the model's feature names in
                          another order (XGBoost's predict refuses it: feature_names mismatch)
  text-cell.csv           X_test with one cell of text ("n/a" in "mean compactness", the 11th row), pandas'
                          defaults (header and index): a value the model cannot read, on line 12, field 7
  header-only.csv         X_test.iloc[:0].to_csv(): pandas' header line (index column first) and no records
  ragged.csv              X_test.to_csv() with the last 3 fields of line 21 cut off (28 fields, header 31)
  noheader-29.csv         the first 29 of the model's 30 features, to_csv(header=False, index=False)
  empty.csv               0 bytes, as an export that failed before writing leaves it
  expected.csv            index,probability: XGBoost's own predict_proba(X_test)[:, 1]
"""
import gzip
import io
import os

import numpy as np
import pandas as pd
import xgboost as xgb
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures", "cli")


def main() -> None:
    os.makedirs(os.path.join(OUT, "folder"), exist_ok=True)
    data = load_breast_cancer(as_frame=True)
    X, y = data.data, data.target
    X_train, X_test, y_train, _ = train_test_split(X, y, test_size=40, random_state=7)
    # A few missing cells, as real files have: XGBoost reads them as missing, and so must the pipeline.
    X_test = X_test.copy()
    X_test.iloc[3, 2] = np.nan
    X_test.iloc[10, 0] = np.nan

    model = xgb.XGBClassifier(n_estimators=12, max_depth=3, learning_rate=0.3, random_state=0, n_jobs=1)
    model.fit(X_train, y_train)
    model.save_model(os.path.join(OUT, "model.json"))
    model.get_booster().save_model(os.path.join(OUT, "model.ubj"))

    X_test.to_csv(os.path.join(OUT, "test.csv"))
    # gzip's header carries a time stamp: write it with mtime 0 so the file is the same each run.
    with open(os.path.join(OUT, "test.csv.gz"), "wb") as raw:
        with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as gz:
            gz.write(X_test.to_csv().encode("utf-8"))
    X_test.to_csv(os.path.join(OUT, "test-noheader.csv"), header=False, index=False)
    with_id = X_test.copy()
    with_id.insert(0, "patient_id", [f"p{i:04d}" for i in X_test.index])
    with_id.to_csv(os.path.join(OUT, "test-id.csv"), index=False)
    X_test.iloc[:25].to_csv(os.path.join(OUT, "folder", "part-1.csv"))
    X_test.iloc[25:].to_csv(os.path.join(OUT, "folder", "part-2.csv"))
    with open(os.path.join(OUT, "folder", "README.txt"), "w") as readme:
        readme.write("Test rows of the breast cancer data, split in two files.\n")
    X_test.to_json(os.path.join(OUT, "test.jsonl"), orient="records", lines=True)
    # What pd.DataFrame(X) of a numpy array writes: columns named by number (the index kept as X_test's,
    # so ids match expected.csv).
    numbered = pd.DataFrame(X_test.to_numpy(), index=X_test.index)
    numbered.to_csv(os.path.join(OUT, "numbered.csv"), index=False)
    numbered.to_csv(os.path.join(OUT, "numbered-index.csv"))
    reordered = X_test[X_test.columns[::-1]]
    reordered.to_csv(os.path.join(OUT, "reordered.csv"), index=False)
    # The pipeline refuses reordered.csv because XGBoost does: check that it still does.
    try:
        model.get_booster().predict(xgb.DMatrix(reordered))
    except ValueError as error:
        assert "feature_names mismatch" in str(error), error
    else:
        raise AssertionError("XGBoost scored reordered.csv; the pipeline's refusal would no longer mirror it")

    # One cell of text where the model needs a number, as a hand-edited or badly joined frame has.
    text_cell = X_test.copy().astype(object)
    text_cell.iloc[10, 5] = "n/a"
    text_cell.to_csv(os.path.join(OUT, "text-cell.csv"))

    # A frame filtered down to nothing: pandas still writes the header line.
    X_test.iloc[:0].to_csv(os.path.join(OUT, "header-only.csv"))
    open(os.path.join(OUT, "empty.csv"), "w").close()
    # A line cut short, as a bad hand edit or a broken join leaves it.
    lines = X_test.to_csv().split("\n")
    lines[20] = ",".join(lines[20].split(",")[:-3])
    with open(os.path.join(OUT, "ragged.csv"), "w") as ragged:
        ragged.write("\n".join(lines))
    X_test.iloc[:, :29].to_csv(os.path.join(OUT, "noheader-29.csv"), header=False, index=False)

    probability = model.predict_proba(X_test)[:, 1]
    pd.DataFrame({"index": X_test.index, "probability": probability}).to_csv(
        os.path.join(OUT, "expected.csv"), index=False, float_format="%.9g"
    )
    print(f"wrote {OUT}: {len(X_test)} test rows, XGBoost {xgb.__version__}, pandas {pd.__version__}")


if __name__ == "__main__":
    main()
