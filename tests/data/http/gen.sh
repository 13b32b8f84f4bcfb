#!/bin/sh
# Regenerates the fixtures of tests/unit/test_http.c (run from anywhere).
#   ok.json     a small JSON body
#   ok.json.gz  the same, gzip-compressed (served with Content-Encoding)
#   bomb.gz     16 MiB of zero bytes, gzip-compressed (a decompression bomb)
set -eu
cd "$(dirname "$0")"
printf '{"ok":true,"source":"gzip fixture","names":["example.org","www.example.org"]}\n' >ok.json
python3 - <<'PY'
import gzip
with open("ok.json", "rb") as f:
    data = f.read()
with open("ok.json.gz", "wb") as f:
    f.write(gzip.compress(data, 9, mtime=0))
with open("bomb.gz", "wb") as f:
    f.write(gzip.compress(bytes(16 * 1024 * 1024), 9, mtime=0))
PY
