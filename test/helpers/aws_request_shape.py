"""Checks an API request against AWS's own service model (botocore's JSON models, installed with moto).

Reads a JSON list of {"service", "operation", "params"} on stdin and prints, for each, its list of
errors (one JSON list of lists on stdout): one process for many requests, since loading a service model
takes a second.
botocore's ParamValidator checks what the SDKs check before sending (required members, unknown members,
types, minimum lengths and values); the walk below adds what only the service checks: enums, maximum
lengths and values, and patterns. An empty list means the request has the shape AWS documents.
"""

import json
import re
import sys

import botocore.session
from botocore.validate import ParamValidator


def main() -> None:
    session = botocore.session.get_session()
    models = {}
    results = []
    for request in json.load(sys.stdin):
        service = request["service"]
        if service not in models:
            models[service] = session.get_service_model(service)
        shape = models[service].operation_model(request["operation"]).input_shape
        params = request["params"]
        errors = []
        report = ParamValidator().validate(params, shape)
        if report.has_errors():
            errors.extend(line.strip() for line in report.generate_report().splitlines() if line.strip())
        walk(params, shape, request["operation"], errors)
        results.append(errors)
    json.dump(results, sys.stdout)


def walk(value, shape, path, errors):
    meta = shape.metadata
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        for key, member in value.items():
            if key in shape.members:
                walk(member, shape.members[key], f"{path}.{key}", errors)
    elif kind == "list" and isinstance(value, list):
        if "max" in meta and len(value) > meta["max"]:
            errors.append(f"{path}: {len(value)} items, at most {meta['max']}")
        for index, item in enumerate(value):
            walk(item, shape.member, f"{path}[{index}]", errors)
    elif kind == "map" and isinstance(value, dict):
        if "max" in meta and len(value) > meta["max"]:
            errors.append(f"{path}: {len(value)} entries, at most {meta['max']}")
        for key, item in value.items():
            walk(key, shape.key, f"{path} key {key!r}", errors)
            walk(item, shape.value, f"{path}.{key}", errors)
    elif kind == "string" and isinstance(value, str):
        if shape.enum and value not in shape.enum:
            errors.append(f"{path}: {value!r} is not one of {shape.enum}")
        if "max" in meta and len(value) > meta["max"]:
            errors.append(f"{path}: {len(value)} characters, at most {meta['max']}")
        pattern = meta.get("pattern")
        if pattern is not None:
            try:
                matches = re.fullmatch(pattern, value, re.DOTALL) is not None
            except re.error:
                matches = True  # a Java-only construct (e.g. \p{...}): left to the service
            if not matches:
                errors.append(f"{path}: {value!r} does not match {pattern}")
    elif kind in ("integer", "long") and isinstance(value, int):
        if "max" in meta and value > meta["max"]:
            errors.append(f"{path}: {value}, at most {meta['max']}")


if __name__ == "__main__":
    main()
