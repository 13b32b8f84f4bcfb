# Helpers for the integration tests: run a command, capture its output,
# assert on status, output lines and JSON fields (python3 reads the JSON).
# Every assertion counts; finish exits 1 when any failed.
fails=0
checks=0
# T: this test's scratch directory, removed on every exit path; tests add
# their own clean-up commands to cleanup_cmds.
T=$(mktemp -d)
out_file=$T/.stdout
err_file=$T/.stderr
cleanup_cmds=()
lib_cleanup() {
	local c
	for c in "${cleanup_cmds[@]}"; do eval "$c"; done
	rm -rf "$T"
}
trap lib_cleanup EXIT
trap 'exit 130' INT TERM

run() {
	last_cmd="$*"
	"$@" >"$out_file" 2>"$err_file"
	last_status=$?
}

fail() {
	fails=$((fails + 1))
	echo "FAIL: $*"
	echo "  command: $last_cmd"
	sed 's/^/  stdout: /' "$out_file" | head -20
	sed 's/^/  stderr: /' "$err_file" | head -10
}

ok() {
	checks=$((checks + 1))
}

expect_status() {
	if [ "$last_status" -eq "$1" ]; then ok; else fail "status $last_status, want $1"; fi
}

expect_out() {
	if grep -qF -- "$1" "$out_file"; then ok; else fail "stdout lacks '$1'"; fi
}

expect_no_out() {
	if grep -qF -- "$1" "$out_file"; then fail "stdout has '$1'"; else ok; fi
}

expect_err() {
	if grep -qF -- "$1" "$err_file"; then ok; else fail "stderr lacks '$1'"; fi
}

expect_lines() {
	local n
	n=$(wc -l <"$out_file")
	if [ "$n" -eq "$1" ]; then ok; else fail "$n stdout lines, want $1"; fi
}

expect_err_lines() {
	local n
	n=$(wc -l <"$err_file")
	if [ "$n" -eq "$1" ]; then ok; else fail "$n stderr lines, want $1"; fi
}

# jq_get EXPR [LINE]: a field of the JSON document on stdout line LINE
# (default 1). EXPR is a path like .a.b[0].c or len(.a).
jq_get() {
	python3 - "$1" "${2:-1}" "$out_file" <<'PY'
import json, re, sys
expr, line, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
doc = json.loads(open(path).read().splitlines()[line - 1])
m = re.fullmatch(r'len\((.*)\)', expr)
def walk(d, e):
    for key, idx in re.findall(r'\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]', e):
        d = d[key] if key else d[int(idx)]
    return d
v = len(walk(doc, m.group(1))) if m else walk(doc, expr)
if v is None: print("null")
elif v is True: print("true")
elif v is False: print("false")
else: print(v)
PY
}

jq_eq() {
	local got
	got=$(jq_get "$1" 1 2>&1)
	if [ "$got" = "$2" ]; then ok; else fail "$1 = '$got', want '$2'"; fi
}

jq_eq_line() {
	local got
	got=$(jq_get "$2" "$1" 2>&1)
	if [ "$got" = "$3" ]; then ok; else fail "line $1: $2 = '$got', want '$3'"; fi
}

finish() {
	echo "$checks checks passed, $fails failed"
	[ "$fails" -eq 0 ]
}
