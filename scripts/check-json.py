#!/usr/bin/env python3
# Checks that a document (a file, or standard input) is one JSON document valid against a JSON Schema of
# docs/schemas (python3-jsonschema). Says what is wrong and exits 1 if it is not.
#   scripts/check-json.py docs/schemas/run.schema.json [DOCUMENT]
import json
import sys

import jsonschema


def main():
    schema = json.load(open(sys.argv[1]))
    # The schemas name themselves with a relative $id ("side-bench/1"); jsonschema before 4.18 resolves their
    # local $refs against it as a URL and fails. As a URN it is absolute, and the same name.
    if ":" not in schema.get("$id", ":"):
        schema["$id"] = "urn:side:" + schema["$id"]
    text = open(sys.argv[2]).read() if len(sys.argv) > 2 else sys.stdin.read()
    try:
        document = json.loads(text)  # exactly one document: anything after it is an error
    except json.JSONDecodeError as e:
        print(f"not one JSON document: {e}", file=sys.stderr)
        return 1
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.path))
    for e in errors[:10]:
        print(f"{'/'.join(str(p) for p in e.path) or '(document)'}: {e.message}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
