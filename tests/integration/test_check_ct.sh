#!/usr/bin/env bash
# check_ct against a local crt.sh and Cert Spotter (nginx on 127.0.0.1)
# whose JSON follows the real samples, with certificates minted by a test
# PKI: every verdict, broken sources, the older tool's command lines, the
# first-run baseline, and 50 concurrent runs on one state directory.
# The agent verdicts are in test_check_ct_agent.sh.
set -u
build=${1:-build}
. tests/integration/lib.sh
. tests/tools/pki.sh
. tests/tools/ctsource.sh
command -v nginx >/dev/null || { echo "skip: nginx not installed"; exit 77; }
cleanup_cmds+=("ctsource_stop")

cc=$build/check_ct
day() { date -u -d "$1" +%Y%m%d%H%M%SZ; }
pki_init "$T/pki" "$build/tests/mkct" || { echo "FAIL: pki_init"; exit 1; }
leaf() { pki_leaf "$T/pki" "$T/$1" "$2" "$(day "$3")" "$(day "$4")" "$5" ||
	{ echo "FAIL: pki_leaf $1"; exit 1; }; }
leaf cur r1 '-20 days' '+70 days' "www.example.org example.org"
leaf old r1 '-80 days' '+10 days' "www.example.org example.org"
leaf cdn r1 '-3 days' '+87 days' "www.example.org"
leaf evil evil '-2 days' '+88 days' "www.example.org"
leaf gone r1 '-120 days' '-30 days' "www.example.org"
leaf other r1 '-5 days' '+85 days' "mail.example.org"
leaf pipe r1 '-5 days' '+85 days' "www|x.example.org"
mkdir -p "$T/local" "$T/trusted"
cp "$T/cur.pem" "$T/local/cert-2.pem"
cp "$T/old.pem" "$T/local/cert-1.pem"
cp "$T/cur.key" "$T/local/privkey-2.pem"
cp "$T/pki/r1.pem" "$T/trusted/"

# serve AGE FILE...: what the local crt.sh and Cert Spotter hold now,
# logged AGE seconds ago (nginx keeps serving $T/ct/www).
serve() {
	local age=$1
	shift
	rm -rf "$T/ct/www"
	CTSOURCE_AGE_S=$age ctsource_build "$T/ct" "$build/ctctl" "$@" ||
	    { echo "FAIL: ctsource_build"; exit 1; }
}
# The sources hold everything; they logged it two days ago.
serve $((2 * 86400)) "$T/cur.pem" "$T/cur.pre.pem" "$T/old.pem" \
    "$T/cdn.pre.pem" "$T/cdn.pem" "$T/evil.pem" "$T/gone.pem" "$T/other.pem"
ctsource_start "$T/ct" || { echo "FAIL: ctsource_start"; exit 1; }
src=(--crtsh-url "$CTSOURCE_URL" --certspotter-url "$CTSOURCE_URL" --allow-http)
# A fresh state directory (mktemp: unique even from a subshell).
st() { mktemp -d -p "$T" state.XXXXXX; }

# 1. Known via --local-certs (current and renewed, the precert by tbs);
# the CDN's certificate is unknown (CRITICAL), the evil CA's untrusted.
s1=$(st)
run "$cc" -H www.example.org "${src[@]}" --local-certs "$T/local" \
    --trusted-issuer-certs "$T/trusted" --state-dir "$s1"
expect_status 2
expect_out "CT CRITICAL - www.example.org: 2 certificates in CT on none of your servers"
expect_out "[CRITICAL] untrusted certificate (crt.sh id"
expect_out 'issuer "C=XX, O=Evil CA, CN=Evil CA"'
expect_out "[CRITICAL] unknown certificate (crt.sh id"
expect_out "unknown=2;;0;0"
expect_out "untrusted=1;;0;0"
# cur, old, cdn, evil: precertificates share their certificate's tbs,
# gone is expired, other is for another name.
expect_out "ct_certs=4;;;0"
expect_no_out "mail.example.org"
cdn_tbs=$("$build/ctctl" inspect --json "$T/cdn.pem" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["tbs_sha256"][:16])')
expect_out "tbs $cdn_tbs"
expect_lines 3

# 2. Only known certificates: OK, and it says what it looked at.
CTSOURCE_AGE_S=$((2 * 86400)) ctsource_build "$T/ct2" "$build/ctctl" \
    "$T/cur.pem" "$T/cur.pre.pem" "$T/old.pem" "$T/other.pem"
cp -r "$T/ct2/www/." "$T/ct/www/"
run "$cc" -H www.example.org "${src[@]}" --local-certs "$T/local" \
    --trusted-issuer-certs "$T/trusted" --state-dir "$(st)"
expect_status 0
expect_out "CT OK - www.example.org: 2 certificates in CT, all known"
expect_out "unknown=0;;0;0"

# 3. An unknown certificate stays reported on the next run, when the
# source no longer lists it (a cursor moved on): state dir 1 has it.
run "$cc" -H www.example.org "${src[@]}" --local-certs "$T/local" \
    --trusted-issuer-certs "$T/trusted" --state-dir "$s1"
expect_status 2
expect_out "Evil CA"

# 4. Young: logged minutes ago, within --grace: WARNING, not CRITICAL.
serve 300 "$T/cur.pem" "$T/cdn.pem"
pki_leaf "$T/pki" "$T/fresh" r1 "$(day '-1 hour')" "$(day '+89 days')" \
    "www.example.org"
serve 300 "$T/cur.pem" "$T/fresh.pem"
run "$cc" -H www.example.org "${src[@]}" --local-certs "$T/local" \
    --trusted-issuer-certs "$T/trusted" --state-dir "$(st)" --grace 60
expect_status 1
expect_out "[WARNING] new certificate"
expect_out "within the grace period"
run "$cc" -H www.example.org "${src[@]}" --local-certs "$T/local" \
    --trusted-issuer-certs "$T/trusted" --state-dir "$(st)" --grace 0
expect_status 2

# 5. Expired certificates are ignored unless --include-expired.
CTSOURCE_AGE_S=$((200 * 86400)) ctsource_build "$T/ct4" "$build/ctctl" \
    "$T/cur.pem" "$T/gone.pem"
cp -r "$T/ct4/www/." "$T/ct/www/"
run "$cc" -H www.example.org "${src[@]}" --local-certs "$T/local" \
    --state-dir "$(st)"
expect_status 0
run "$cc" -H www.example.org "${src[@]}" --local-certs "$T/local" \
    --state-dir "$(st)" --include-expired
expect_status 2
expect_out "unknown certificate"

# 6. Cert Spotter alone finds the same (one issuance for precert + cert).
CTSOURCE_AGE_S=$((2 * 86400)) ctsource_build "$T/ct5" "$build/ctctl" \
    "$T/cur.pem" "$T/cur.pre.pem" "$T/evil.pem"
rm -rf "$T/ct/www/cs" && cp -r "$T/ct5/www/." "$T/ct/www/"
run "$cc" -H www.example.org "${src[@]}" --source certspotter \
    --local-certs "$T/local" --trusted-issuer-certs "$T/trusted" \
    --state-dir "$(st)" --grace 0
expect_status 2
expect_out "(Cert Spotter id"
expect_out "Evil CA"
expect_out "unknown=1;;0;0"

# 7. Broken sources: UNKNOWN naming the source, never OK; the state is
# configurable; a real finding still wins over an unreachable source.
for b in e503 e429 e404 html trunc wrongtype; do
	run "$cc" -H www.example.org --crtsh-url "$CTSOURCE_URL/$b" \
	    --allow-http --local-certs "$T/local" --state-dir "$(st)" -t 10
	expect_status 3
	expect_out "CT UNKNOWN - www.example.org: crt.sh"
done
run "$cc" -H www.example.org --crtsh-url "$CTSOURCE_URL/e503" \
    --allow-http --local-certs "$T/local" --state-dir "$(st)" \
    --source-error-state WARNING
expect_status 1
run "$cc" -H www.example.org --source crtsh,certspotter \
    --crtsh-url "$CTSOURCE_URL/e503" --certspotter-url "$CTSOURCE_URL" \
    --allow-http --local-certs "$T/local" --state-dir "$(st)" --grace 0
expect_status 2
expect_out "[UNKNOWN] crt.sh: HTTP 503"
expect_out "CT CRITICAL - "
# Nothing listening: connection refused.
run "$cc" -H www.example.org --crtsh-url http://127.0.0.1:9 --allow-http \
    --local-certs "$T/local" --state-dir "$(st)"
expect_status 3
expect_out "connection refused"
# A server that accepts and never answers: our -t, naming the stage.
python3 -c 'import socket,sys,time
s=socket.socket(); s.bind(("127.0.0.1",0)); s.listen(16)
print(s.getsockname()[1], flush=True); time.sleep(30)' >"$T/silent.port" &
silent=$!
cleanup_cmds+=("kill $silent 2>/dev/null")
for _ in $(seq 50); do [ -s "$T/silent.port" ] && break; sleep 0.1; done
t0=$(date +%s%N)
run "$cc" -H www.example.org --crtsh-url "http://127.0.0.1:$(cat "$T/silent.port")" \
    --allow-http --local-certs "$T/local" --state-dir "$(st)" -t 2
t1=$(date +%s%N)
expect_status 3
expect_out "[UNKNOWN] timeout in crt.sh lookup for www.example.org: -t ran out"
if [ $(((t1 - t0) / 1000000)) -lt 2900 ]; then ok; else fail "-t 2 took $(((t1 - t0) / 1000000)) ms"; fi

# 8. The older tool's command lines: --hostname, nargs '+' for the
# issuers, abbreviated options, --verbose; and its offline mode.
serve $((2 * 86400)) "$T/cur.pem" "$T/cur.pre.pem" "$T/old.pem"
run "$cc" --hostname www.example.org --local-certs "$T/local" \
    --trusted-issuer-certs "$T/pki/r1.pem" "$T/pki/root.pem" --verbose \
    "${src[@]}" --state-dir "$(st)"
expect_status 0
run "$cc" --hostname www.example.org --local "$T/local" --trusted \
    "$T/pki/evil.pem" "$T/pki/root.pem" "${src[@]}" --state-dir "$(st)"
expect_status 0
serve $((2 * 86400)) "$T/cur.pem" "$T/cdn.pem"
run "$cc" --hostname www.example.org --local "$T/local" --trusted \
    "$T/pki/evil.pem" "$T/pki/root.pem" "${src[@]}" --state-dir "$(st)"
expect_status 2
expect_out "not signed by a trusted issuer"
mkdir -p "$T/logged" && cp "$T/cur.pem" "$T/evil.pem" "$T/logged/"
run "$cc" --hostname www.example.org --local-certs "$T/local" \
    --logged-certs "$T/logged" --trusted-issuer-certs "$T/trusted" \
    --state-dir "$(st)" --grace 0
expect_status 2
expect_out "(logged-certs $T/logged/evil.pem)"
run "$cc" --hostname www.example.org --bogus-flag
expect_status 3
expect_out "CT UNKNOWN - usage: unknown option --bogus-flag"
run "$cc" --local-certs "$T/local"
expect_status 3
expect_out "-H NAME is required"
run "$cc" --help
expect_status 3
expect_out "Usage: check_ct"

# 9. First-run baseline: --accept-existing records what CT holds into
# --db, says how many, and the next run is OK; --learn records local ones.
CTSOURCE_AGE_S=$((2 * 86400)) ctsource_build "$T/ct6" "$build/ctctl" \
    "$T/cur.pem" "$T/old.pem" "$T/cdn.pem"
rm -rf "$T/ct/www/cs" && cp -r "$T/ct6/www/." "$T/ct/www/"
s=$(st)
run "$cc" -H www.example.org "${src[@]}" --state-dir "$s" --accept-existing
expect_status 0
expect_out "3 certificates accepted as known into --db (first-run baseline)"
run "$cc" -H www.example.org "${src[@]}" --state-dir "$s"
expect_status 0
expect_out "all known"
s=$(st)
run "$cc" -H www.example.org "${src[@]}" --state-dir "$s" \
    --local-certs "$T/local" --learn --db "$T/db"
expect_status 2
expect_out "--learn: 2 local certificates recorded in --db (2 new)"
run "$cc" -H www.example.org "${src[@]}" --state-dir "$s" --db "$T/db"
expect_status 2
expect_out "unknown=1;;0;0"
# The baseline never takes a certificate from an untrusted issuer.
serve $((2 * 86400)) "$T/cur.pem" "$T/cdn.pem" "$T/evil.pem"
s2=$(st)
run "$cc" -H www.example.org "${src[@]}" --state-dir "$s2" --accept-existing \
    --trusted-issuer-certs "$T/trusted"
expect_status 2
expect_out "2 certificates accepted as known into --db (first-run baseline)"
expect_out "1 certificates from untrusted issuers were not accepted"
expect_out "Evil CA"
run "$cc" -H www.example.org "${src[@]}" --state-dir "$s2" \
    --trusted-issuer-certs "$T/trusted"
expect_status 2
expect_out "unknown=1;;0;0"
expect_out "untrusted=1;;0;0"
# --interactive refuses without a terminal, and says so.
run "$cc" -H www.example.org "${src[@]}" --state-dir "$s" --interactive \
    </dev/null
expect_status 2
expect_out "--interactive needs a terminal"

# 10. Names from certificates are sanitised: no '|' but the perfdata one.
CTSOURCE_AGE_S=$((2 * 86400)) ctsource_build "$T/ct7" "$build/ctctl" \
    "$T/cur.pem" "$T/pipe.pem"
rm -rf "$T/ct/www/cs" && cp -r "$T/ct7/www/." "$T/ct/www/"
run "$cc" -H www.example.org "${src[@]}" --local-certs "$T/local" \
    --state-dir "$(st)"
expect_status 2
expect_out "www?x.example.org"
if [ "$(tr -cd '|' <"$out_file" | wc -c)" -eq 1 ]; then ok; else fail "more than one |"; fi

# 11. 50 concurrent runs on one state directory: all agree, nothing torn.
CTSOURCE_AGE_S=$((2 * 86400)) ctsource_build "$T/ct8" "$build/ctctl" \
    "$T/cur.pem" "$T/old.pem" "$T/cdn.pem" "$T/evil.pem"
rm -rf "$T/ct/www/cs" && cp -r "$T/ct8/www/." "$T/ct/www/"
s=$(st)
pids=()
for i in $(seq 50); do
	"$cc" -H www.example.org "${src[@]}" --source crtsh,certspotter \
	    --local-certs "$T/local" --trusted-issuer-certs "$T/trusted" \
	    --state-dir "$s" >"$T/par.$i" 2>&1 &
	pids+=($!)
done
bad=0
for i in $(seq 50); do
	wait "${pids[$((i - 1))]}"
	rc=$?
	head -1 "$T/par.$i" | grep -q "^CT CRITICAL - www.example.org: 2 certificates" || bad=$((bad + 1))
	[ $rc -eq 2 ] || bad=$((bad + 1))
done
if [ $bad -eq 0 ]; then ok; else fail "$bad of 50 concurrent runs disagreed: $(head -3 "$T/par.1")"; fi
left=$(find "$s" -name '.tmp-*' -o -name '.~tmp-*' | wc -l)
if [ "$left" -eq 0 ]; then ok; else fail "$left temporary files left"; fi
run "$cc" -H www.example.org "${src[@]}" --local-certs "$T/local" \
    --trusted-issuer-certs "$T/trusted" --state-dir "$s"
expect_status 2
expect_out "unknown=2;;0;0"

# 12. ctctl lookup shows what the sources return, with every download
# checked; a failing source is named and the status is 1.
serve $((2 * 86400)) "$T/cur.pem" "$T/cur.pre.pem" "$T/evil.pem"
run "$build/ctctl" lookup www.example.org "${src[@]}" \
    --source crtsh,certspotter --state-dir "$(st)" --json
expect_status 0
jq_eq 'len(.sources)' 2
jq_eq 'len(.sources[0].entries)' 3
jq_eq '.sources[0].entries[0].status' ok
jq_eq '.sources[0].entries[0].issuer' "C=XX, O=Evil CA, CN=Evil CA"
jq_eq 'len(.sources[1].entries)' 2
run "$build/ctctl" lookup www.example.org --crtsh-url "$CTSOURCE_URL/html" \
    --allow-http --state-dir "$(st)"
expect_status 1
expect_out "crt.sh: "


# 13. crt.sh requests are rate-limited across runs on one state directory
# (REFERENCE.md 2.8): at 1 a minute with crt.sh's burst of 5, a cold run
# sends the search and four downloads, the rest wait for a later run; the
# next run cannot even search and says why (UNKNOWN, never OK).
serve $((2 * 86400)) "$T/cur.pem" "$T/cur.pre.pem" "$T/old.pem" \
    "$T/cdn.pre.pem" "$T/cdn.pem" "$T/evil.pem" "$T/gone.pem" "$T/other.pem"
s=$(st)
run "$cc" -H www.example.org "${src[@]}" --local-certs "$T/local" \
    --trusted-issuer-certs "$T/trusted" --state-dir "$s" --crtsh-rate 1 -v
expect_status 2
expect_out "CT CRITICAL - www.example.org: 2 certificates in CT on none of your servers"
expect_out "[CRITICAL] untrusted certificate (crt.sh id"
expect_out ": not sent to 127.0.0.1:"
expect_out "the shared limit of 1 request a minute is used up for the next 60 s (other runs on this state directory)"
# The search and four downloads went; the other rows waited.
if [ "$(grep -c '^\[UNKNOWN\] crt.sh id [0-9]* could not be checked: crt.sh id [0-9]*: not sent' "$out_file")" -eq 3 ] &&
    grep -qF "[UNKNOWN] crt.sh: 1 more entries could not be checked" "$out_file"; then ok; else fail "four rows not sent"; fi
expect_out "7 downloads started"
run "$cc" -H www.example.org "${src[@]}" --local-certs "$T/local" \
    --trusted-issuer-certs "$T/trusted" --state-dir "$s" --crtsh-rate 1
expect_status 2 # what the seen store holds stays CRITICAL
expect_out "[UNKNOWN] crt.sh: not sent to 127.0.0.1:"
expect_out "unknown=2;;0;0"
if grep -q '^ratelimit v1 [0-9]* [0-9]*$' "$s/ratelimit/crtsh"; then ok; else fail "rate state: $(cat "$s/ratelimit/crtsh")"; fi
# Another state directory has its own rate; --crtsh-rate 0 has none.
run "$cc" -H www.example.org "${src[@]}" --local-certs "$T/local" \
    --trusted-issuer-certs "$T/trusted" --state-dir "$(st)" --crtsh-rate 0
expect_status 2
expect_no_out "not sent"
run "$cc" -H www.example.org --crtsh-rate 6001
expect_status 3
expect_out "--crtsh-rate 6001"

finish
