#!/usr/bin/env python3
"""A test stand-in for SageMaker's XGBoost algorithm container, predicting with real XGBoost.

It follows the encoding rules of aws/sagemaker-xgboost-container (algorithm_mode/serve.py,
serve_utils.py, encoder.py), re-expressed here for the tests: the built-in TypeScript server is checked
against it, and full pipeline runs use it as "any container speaking the SageMaker contract". Only the
standard library, numpy, scipy and Debian's python3-xgboost 1.7 are needed (no Flask, no gunicorn).

  /usr/bin/python3 test/helpers/sagemaker_xgboost_container.py serve --model M [--port 0]
      prints "Model server listening on http://127.0.0.1:PORT" once it listens; stops on SIGTERM.
  /usr/bin/python3 test/helpers/sagemaker_xgboost_container.py encode < cases.json
      [{"objective", "num_class", "predictions", "accept", "batch", "selected"}, ...]: prints (as a JSON
      list) the response bodies the container would write for those predictions.

Environment, as the container reads it: SAGEMAKER_BATCH, SAGEMAKER_INFERENCE_OUTPUT,
SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT, SAGEMAKER_INFERENCE_ENSEMBLE, MAX_CONTENT_LENGTH.
"""

import csv
import json
import os
import pickle
import signal
import sys
import tarfile
import tempfile
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import xgboost as xgb
from scipy.sparse import csr_matrix

BATCH = bool(os.environ.get("SAGEMAKER_BATCH"))
SELECTED = os.environ.get("SAGEMAKER_INFERENCE_OUTPUT")
DEFAULT_ACCEPT = os.environ.get("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", "text/csv")
ENSEMBLE = os.environ.get("SAGEMAKER_INFERENCE_ENSEMBLE", "true") == "true"
MAX_CONTENT_LENGTH = int(os.environ.get("MAX_CONTENT_LENGTH", str(6 * 1024 * 1024)))
ACCEPTS = ["application/json", "application/jsonlines", "application/x-recordio-protobuf", "text/csv"]

# What each objective's selectable output can hold; anything else selected is NaN.
SELECTABLE = {
    "reg:squarederror": ["predicted_score"],
    "reg:logistic": ["predicted_score"],
    "reg:gamma": ["predicted_score"],
    "reg:absoluteerror": ["predicted_score"],
    "reg:tweedie": ["predicted_score"],
    "binary:logistic": ["predicted_label", "labels", "probability", "probabilities", "raw_score", "raw_scores"],
    "binary:logitraw": ["predicted_label", "labels", "raw_score", "raw_scores"],
    "binary:hinge": ["predicted_label", "labels", "raw_score", "raw_scores"],
    "multi:softmax": ["predicted_label", "labels", "raw_score", "raw_scores"],
    "multi:softprob": ["predicted_label", "labels", "probability", "probabilities", "raw_score", "raw_scores"],
}
KEY_ORDER = ["predicted_label", "labels", "probability", "probabilities", "raw_score", "raw_scores", "predicted_score"]


class HttpError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


# ---------------------------------------------------------------- model loading


def model_files(path):
    """Top-level files of the model directory (a tar.gz is extracted first, as SageMaker does)."""
    if os.path.isfile(path) and tarfile.is_tarfile(path):
        target = tempfile.mkdtemp(prefix="xgb-model-")
        with tarfile.open(path) as archive:
            archive.extractall(target)
        path = target
    if os.path.isfile(path):
        return [path]
    return [os.path.join(path, n) for n in sorted(os.listdir(path))
            if not n.startswith(".") and os.path.isfile(os.path.join(path, n))]


def load_boosters(path):
    boosters = []
    for file in model_files(path) if ENSEMBLE else model_files(path)[:1]:
        try:
            with open(file, "rb") as f:
                booster = pickle.load(f)
        except Exception:
            booster = xgb.Booster()
            booster.load_model(file)
        booster.set_param("nthread", 1)
        boosters.append(booster)
    return boosters


# ---------------------------------------------------------------- request parsing


def parse_csv(payload):
    text = payload.strip().decode("utf-8")
    sniffed = csv.Sniffer().sniff(text.split("\n")[0][:512]).delimiter
    delimiter = "," if sniffed.isalnum() else sniffed
    rows = [["nan" if cell == "" else cell for cell in line.split(delimiter)] for line in text.split("\n")]
    widths = {len(row) for row in rows}
    if len(widths) != 1:
        raise ValueError("rows of different lengths")
    return xgb.DMatrix(np.array(rows).astype(float))


def parse_libsvm(payload):
    rows, cols, data = [], [], []
    for r, line in enumerate(payload.strip().decode("utf-8").split("\n")):
        for item in line.split(" "):
            if ":" in item:
                rows.append(r)
                cols.append(int(item.split(":")[0]))
                data.append(item.split(":")[1])
    cols = np.array(cols).astype(int)
    if len(cols) > 0 and cols.min() >= 1:
        cols = cols - 1
    return xgb.DMatrix(csr_matrix((np.array(data).astype(float), (np.array(rows), cols))))


def parse_request(payload, content_type):
    if content_type is None:
        kind = "libsvm"
    else:
        kind = content_type.split(";")[0].strip().lower()
    try:
        if kind in ("csv", "text/csv"):
            return parse_csv(payload)
        if kind in ("libsvm", "text/libsvm", "text/x-libsvm"):
            return parse_libsvm(payload)
    except Exception as error:
        raise HttpError(415, "Loading data failed: {}".format(error))
    raise HttpError(415, "{} is not an accepted ContentType".format(content_type))


# ---------------------------------------------------------------- prediction


def predict(boosters, objective, dmatrix):
    try:
        outputs = [b.predict(dmatrix, validate_features=False) for b in boosters]
    except Exception as error:
        raise HttpError(400, "Unable to evaluate payload provided: {}".format(error))
    if len(outputs) == 1:
        return outputs[0]
    if objective in ("multi:softmax", "binary:hinge"):
        # The most frequent value per record; the smallest on a tie.
        stacked = np.array(outputs)
        voted = [sorted(Counter(column).items(), key=lambda kv: (-kv[1], kv[0]))[0][0] for column in stacked.T]
        return np.array(voted, dtype=stacked.dtype)
    return np.mean(outputs, axis=0)


# ---------------------------------------------------------------- response encoding


def selected_value(key, objective, num_class, raw):
    if key == "predicted_label":
        if objective in ("binary:hinge", "multi:softmax"):
            return raw.item()
        if objective == "binary:logistic":
            return int(raw > 0.5)
        if objective == "binary:logitraw":
            return int(raw > 0)
        return np.argmax(raw).item()
    if key == "labels":
        if "binary:" in objective:
            return [0, 1]
        return list(range(int(num_class)))
    if key in ("probability", "raw_score"):
        return max(raw).item() if objective == "multi:softprob" else raw.item()
    if key in ("probabilities", "raw_scores"):
        if objective == "multi:softprob":
            return raw.tolist()
        one = raw.item()
        return [1.0 - one, one]
    return raw.item()  # predicted_score


def encode_selected(predictions, objective, num_class, accept):
    keys = SELECTED.replace(" ", "").lower().split(",")
    if objective not in SELECTABLE:
        raise HttpError(500, "Objective `{}` unsupported for selectable inference predictions.".format(objective))
    valid = [k for k in KEY_ORDER if k in keys and k in SELECTABLE[objective]]
    invalid = [k for k in keys if k not in SELECTABLE[objective]]
    records = []
    for raw in predictions:
        record = {k: selected_value(k, objective, num_class, raw) for k in valid}
        for k in invalid:
            record[k] = np.nan
        records.append(record)
    if accept == "application/json":
        return json.dumps({"predictions": records})
    if accept == "application/jsonlines":
        return "".join(json.dumps(r) + "\n" for r in records)
    if accept == "text/csv":
        lines = [",".join('"{}"'.format(r[k]) if isinstance(r[k], list) else str(r[k]) for k in keys) for r in records]
        return "\n".join(lines) + ("\n" if BATCH else "")
    raise HttpError(500, "Cannot encode selected predictions into accept type '{}'.".format(accept))


def encode(predictions, objective, num_class, accept):
    if SELECTED is not None:
        return encode_selected(predictions, objective, num_class, accept)
    values = predictions.tolist()
    if BATCH:
        return "\n".join(map(str, values)) + "\n"
    if accept == "application/json":
        return json.dumps({"predictions": [{"score": v} for v in values]})
    if accept == "text/csv":
        array = np.array(values)
        if array.ndim == 1:
            array = array.reshape(-1, 1)
        return "".join(",".join(str(v) for v in row) + "\n" for row in array)
    raise HttpError(500, "Content type {} is not supported by this framework.".format(accept))


def parse_accept(header):
    accept = (header or "").split(";")[0].strip()
    if not accept or accept == "*/*":
        return DEFAULT_ACCEPT
    if accept.lower() not in ACCEPTS:
        raise HttpError(406, "Accept type {} is not supported.".format(accept))
    return accept.lower()


# ---------------------------------------------------------------- HTTP


def make_handler(boosters):
    config = json.loads(boosters[0].save_config())["learner"]
    objective = config["objective"]["name"]
    num_class = config["learner_model_param"].get("num_class", "")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def reply(self, status, body, content_type="text/plain"):
            data = body.encode("utf-8") if isinstance(body, str) else body
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            if self.path == "/ping":
                self.reply(200, "")
            elif self.path == "/execution-parameters":
                self.reply(200, json.dumps({
                    "MaxConcurrentTransforms": os.cpu_count(),
                    "BatchStrategy": "MULTI_RECORD",
                    "MaxPayloadInMB": int(MAX_CONTENT_LENGTH / (1024 ** 2)),
                }), "application/json")
            else:
                self.reply(404, "not found")

        def do_POST(self):
            length = int(self.headers.get("Content-Length", "0"))
            payload = self.rfile.read(length)
            if self.path != "/invocations":
                self.reply(404, "not found")
                return
            if length > MAX_CONTENT_LENGTH:
                self.reply(413, "Request Entity Too Large")
                return
            if length == 0:
                self.reply(204, "")
                return
            try:
                dmatrix = parse_request(payload, self.headers.get("Content-Type"))
                predictions = predict(boosters, objective, dmatrix)
                accept = parse_accept(self.headers.get("Accept"))
                self.reply(200, encode(predictions, objective, num_class, accept), accept)
            except HttpError as error:
                self.reply(error.status, str(error))

    return Handler


def serve(model, port):
    server = ThreadingHTTPServer(("127.0.0.1", port), make_handler(load_boosters(model)))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print("Model server listening on http://127.0.0.1:{}".format(server.server_address[1]), flush=True)
    server.serve_forever()


def encode_command():
    """Encodes each case of a JSON list read from stdin; prints the bodies as a JSON list. A case's
    "batch" and "selected" stand for SAGEMAKER_BATCH and SAGEMAKER_INFERENCE_OUTPUT."""
    global BATCH, SELECTED
    bodies = []
    for case in json.load(sys.stdin):
        BATCH = bool(case.get("batch"))
        SELECTED = case.get("selected")
        predictions = np.array(case["predictions"], dtype=np.float32)
        if predictions.ndim == 2 and predictions.shape[1] == 1:
            predictions = predictions.reshape(-1)
        try:
            body = encode(predictions, case["objective"], str(case["num_class"]), case["accept"])
        except HttpError as error:
            body = "HTTP {}: {}".format(error.status, error)
        bodies.append(body)
    json.dump(bodies, sys.stdout)


if __name__ == "__main__":
    if sys.argv[1] == "encode":
        encode_command()
    else:
        args = dict(zip(sys.argv[2::2], sys.argv[3::2]))
        serve(args.get("--model", os.environ.get("SM_MODEL_DIR", "/opt/ml/model")), int(args.get("--port", "8080")))
