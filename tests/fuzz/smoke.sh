#!/usr/bin/env bash
# Runs every built libFuzzer harness for a few seconds over its seed corpus
# (tests/fuzz/corpus/<name>/, copied so that new inputs stay out of the
# tree). A crash fails the run.
set -euo pipefail
build=$1
secs=${2:-10}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0
for bin in "$build"/fuzz/fuzz_*; do
	[ -x "$bin" ] || continue
	name=${bin##*/fuzz_}
	mkdir -p "$tmp/$name"
	if [ -d "tests/fuzz/corpus/$name" ]; then
		cp -r "tests/fuzz/corpus/$name/." "$tmp/$name/"
	fi
	echo "== fuzz_$name for ${secs}s"
	if ! "$bin" -max_total_time="$secs" -max_len=65536 -rss_limit_mb=2048 \
	    -artifact_prefix="$tmp/" "$tmp/$name" 2>"$tmp/$name.log"; then
		tail -40 "$tmp/$name.log"
		status=1
	else
		grep -E '^Done|stat::number_of_executed_units' "$tmp/$name.log" |
		    tail -1 || true
	fi
done
exit $status
