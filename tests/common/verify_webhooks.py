#!/usr/bin/env python3
"""Checks webhook requests with implementations independent of backproof's own code:
the signature with the `standardwebhooks` package (PyPI), the body against the JSON Schema
in schemas/ with `jsonschema`.

usage: verify_webhooks.py SECRET_FILE SCHEMA REQUESTS_JSON
REQUESTS_JSON: [{"headers": {name: value}, "body": "..."}]
Prints one line per request: `ok <type> <key or run id>`; exits 1 on the first failure.
A copy of each request with its body altered must fail verification (else exit 1).
"""
import json
import sys

import jsonschema
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

secret = open(sys.argv[1]).read().strip()
schema = json.load(open(sys.argv[2]))
requests = json.load(open(sys.argv[3]))
jsonschema.Draft202012Validator.check_schema(schema)
validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
hook = Webhook(secret)
for r in requests:
    headers = {k.lower(): v for k, v in r["headers"].items()}
    payload = hook.verify(r["body"], headers)
    validator.validate(payload)
    try:
        hook.verify(r["body"].replace('"data"', '"data" ', 1), headers)
    except WebhookVerificationError:
        pass
    else:
        print("an altered body verified", file=sys.stderr)
        sys.exit(1)
    data = payload["data"]
    print("ok", payload["type"], data.get("key") or data.get("run_id") or data.get("slot"))
