#!/usr/bin/python3
"""Checks `ipvsadm --watch --json` output: N lines, each one JSON document that validates
against Docs/ipvsadm.schema.json as a watch frame; the first without rates (one read), the
others with rates and the seconds between their reads.

    watch_frames.py SCHEMA FILE N
"""
import json
import sys

import jsonschema

schema_path, path, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
validator = jsonschema.Draft202012Validator(json.load(open(schema_path)))
lines = open(path).read().splitlines()
problems = []
if len(lines) != count:
    problems.append("%d lines, not %d" % (len(lines), count))
for number, line in enumerate(lines):
    frame = json.loads(line)
    problems += ["frame %d: %s" % (number, e.message) for e in validator.iter_errors(frame)]
    if "elapsed" not in frame or "version" in frame:
        problems.append("frame %d is not a watch frame" % number)
        continue
    services = frame["services"]
    if not services:
        problems.append("frame %d: no services" % number)
    elif number == 0 and (frame["elapsed"] is not None or services[0]["rates"] is not None):
        problems.append("frame 0 has rates")
    elif number > 0 and (frame["elapsed"] is None or services[0]["rates"] is None):
        problems.append("frame %d has no rates" % number)
for problem in problems:
    print(problem)
sys.exit(1 if problems else 0)
