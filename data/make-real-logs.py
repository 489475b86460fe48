#!/usr/bin/env python3
"""Turn a machine's own logs into the NDJSON of data/real-logs.ndjson.zst (schema v1: integer `ts` in
Unix ms, string `msg`, plus the source file). A line without a timestamp of its own keeps the last one
seen. Usage: data/make-real-logs.py LOG... | zstd -19 > data/real-logs.ndjson.zst"""
import datetime
import json
import re
import sys

STAMP = re.compile(r"(\d{4}-\d\d-\d\d)\s+(\d\d:\d\d:\d\d)")
for path in sys.argv[1:]:
    last = 0
    with open(path, errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            m = STAMP.search(line)
            if m:
                t = datetime.datetime.strptime(m.group(1) + " " + m.group(2), "%Y-%m-%d %H:%M:%S")
                last = int(t.replace(tzinfo=datetime.timezone.utc).timestamp() * 1000)
            sys.stdout.write(json.dumps({"ts": last, "src": path, "msg": line}, separators=(",", ":")) + "\n")
