#!/usr/bin/env bash
# The remote TLS probe against real servers on loopback: nginx serving
# certificates of the test PKI (valid SCTs, forged SCTs, expiring in 5
# days, an untrusted CA, another name, no SCTs, TLS 1.2 only, a handshake
# refused with an alert) and a fixture SMTP/IMAP/POP3 server that
# upgrades with STARTTLS (and misbehaves on demand). Every verdict is
# asserted from `ctctl probe --json`; the log list comes from --log-list
# or from the state dir's cache, fetched from a local HTTP server and
# checked with a test key.
#
# One function per case: c_NAME runs ctctl, cc_NAME (when check_ct has
# --probe) runs check_ct on the same server.
set -u
build=${1:-build}
. tests/integration/lib.sh
. tests/tools/pki.sh
. tests/tools/probeserver.sh
command -v nginx >/dev/null || { echo "skip: nginx not installed"; exit 77; }
command -v python3 >/dev/null || { echo "skip: python3 not installed"; exit 77; }
cleanup_cmds+=("probeserver_stop" "stop_bg")

ctctl=$build/ctctl
cc=$build/check_ct
day() { date -u -d "$1" +%Y%m%d%H%M%SZ; }
pki_init "$T/pki" "$build/tests/mkct" || { echo "FAIL: pki_init"; exit 1; }
leaf() {
	pki_leaf "$T/pki" "$T/$1" "$2" "$(day "$3")" "$(day "$4")" "$5" "" \
	    "${6:-}" || { echo "FAIL: pki_leaf $1"; exit 1; }
}
leaf good r1 '-20 days' '+70 days' "www.example.org example.org"
leaf forged r1 '-20 days' '+70 days' "www.example.org" corrupt
leaf expiring r1 '-85 days' '+5 days' "www.example.org"
leaf evil evil '-2 days' '+88 days' "www.example.org"
leaf mail r1 '-5 days' '+85 days' "mail.example.org"
leaf noscts r1 '-5 days' '+85 days' "www.example.org" noscts
mkdir -p "$T/trusted" "$T/ng"
cp "$T/pki/r1.pem" "$T/trusted/"

s() { echo "$1:$T/$2.fullchain.pem:$T/$2.key:${3:-}"; }
probeserver_start "$T/ng" "$(s good good v6)" "$(s forged forged)" \
    "$(s expiring expiring)" "$(s evil evil)" "$(s other mail)" \
    "$(s noscts noscts)" "$(s tls12 good tls12)" "$(s reject good reject)" ||
	{ echo "FAIL: nginx"; exit 1; }

# Background helpers (fixture mail servers, HTTP, a silent listener).
bg_pids=()
stop_bg() {
	local p
	for p in "${bg_pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	bg_pids=()
}
# wait_file FILE: until it exists (the helper writes its port there).
wait_file() {
	for _ in $(seq 100); do [ -s "$1" ] && return 0; sleep 0.05; done
	echo "FAIL: $1 never appeared"; exit 1
}
# stls PROTO MODE: a fixture mail server (not in a subshell, so that its
# pid is kept for the clean-up); sets STLS_PORT.
stls_n=0
stls() {
	local f=$T/stls-$1-$2-$stls_n.port
	stls_n=$((stls_n + 1))
	python3 tests/tools/starttls_server.py "$T/good.fullchain.pem" \
	    "$T/good.key" "$1" "$2" "$f" >/dev/null 2>&1 &
	bg_pids+=($!)
	wait_file "$f"
	STLS_PORT=$(cat "$f")
}

LL=(--log-list "$T/pki/loglist.json")
TR=(--trusted-issuer-certs "$T/trusted")
probe() { run "$ctctl" probe --json "$@"; }
have_check_ct_probe() { [ -x "$cc" ] && "$cc" --help 2>/dev/null | grep -q -- '--probe'; }

# ---------------------------------------------------------------- cases

c_good() {
	probe 127.0.0.1:"$PORT_good" --sni www.example.org "${LL[@]}" "${TR[@]}"
	expect_status 0
	jq_eq .result ok
	jq_eq .state OK
	jq_eq .address "127.0.0.1:$PORT_good"
	jq_eq .sni www.example.org
	jq_eq .version TLSv1.3
	jq_eq 'len(.chain)' 2
	jq_eq '.chain[0].dns_names[0]' www.example.org
	jq_eq '.chain[1].subject' "C=XX, O=CT Test PKI, CN=CT Test R1"
	jq_eq .name_ok true
	jq_eq .issuer_trusted true
	jq_eq .scts_valid 2
	jq_eq '.scts[0].log' "CT Test Log 1"
	jq_eq '.scts[0].status' valid
	jq_eq '.scts[1].log' "CT Test Tiled Log 2"
	jq_eq '.scts[1].signature_valid' true
	jq_eq 'len(.findings)' 0
	local tbs
	tbs=$("$ctctl" inspect --json "$T/good.pem" | python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["tbs_sha256"])')
	jq_eq '.chain[0].tbs_sha256' "$tbs"
	# text form
	run "$ctctl" probe 127.0.0.1:"$PORT_good" --sni www.example.org "${LL[@]}"
	expect_status 0
	expect_out "127.0.0.1:$PORT_good SNI www.example.org: OK"
	expect_out "CT Test Log 1 ("
	expect_out "name covered: yes; issuer trusted: not checked"
}

c_v6() {
	probeserver_v6 || { echo "note: no IPv6 loopback, [::1] not probed"; return; }
	probe "[::1]:$PORT_good" --sni www.example.org "${LL[@]}"
	expect_status 0
	jq_eq .address "[::1]:$PORT_good"
	jq_eq .state OK
}

c_forged() {
	probe 127.0.0.1:"$PORT_forged" --sni www.example.org "${LL[@]}" "${TR[@]}"
	expect_status 1
	jq_eq .state CRITICAL
	jq_eq '.scts[0].status' invalid
	jq_eq '.scts[0].signature_valid' false
	jq_eq .scts_valid 0
	jq_eq '.findings[0].text' "2 forged SCTs (signature invalid for CT Test Log 1, CT Test Tiled Log 2)"
}

c_expiring() {
	probe 127.0.0.1:"$PORT_expiring" --sni www.example.org "${LL[@]}"
	expect_status 1
	jq_eq .state CRITICAL
	jq_eq .days_left 4
	expect_out 'under -c 7 days'
	probe 127.0.0.1:"$PORT_expiring" --sni www.example.org "${LL[@]}" -c 3
	jq_eq .state WARNING
	expect_out 'under -w 20 days'
	# 90-day lifetime: 10% is 9 days (WARNING), 2% is 1.8 days
	probe 127.0.0.1:"$PORT_expiring" --sni www.example.org "${LL[@]}" \
	    -w 10% -c 2%
	jq_eq .state WARNING
	expect_out 'under -w 10% of its lifetime'
	probe 127.0.0.1:"$PORT_expiring" --sni www.example.org "${LL[@]}" \
	    -w 3 -c 1
	jq_eq .state OK
	run "$ctctl" probe 127.0.0.1:"$PORT_expiring" -w 5x
	expect_status 2
}

c_untrusted_issuer() {
	probe 127.0.0.1:"$PORT_evil" --sni www.example.org "${LL[@]}" "${TR[@]}"
	expect_status 1
	jq_eq .state CRITICAL
	jq_eq .issuer_trusted false
	expect_out 'issuer not trusted: \"C=XX, O=Evil CA, CN=Evil CA\"'
	# Its SCTs are real (the evil CA logged it): they verify.
	jq_eq .scts_valid 2
	# Without --trusted-issuer-certs the issuer is not judged.
	probe 127.0.0.1:"$PORT_evil" --sni www.example.org "${LL[@]}"
	jq_eq .issuer_trusted null
	jq_eq .state OK
}

c_name_mismatch() {
	probe 127.0.0.1:"$PORT_other" --sni www.example.org "${LL[@]}"
	expect_status 1
	jq_eq .state CRITICAL
	jq_eq .name_ok false
	jq_eq '.findings[0].text' "name mismatch: the certificate (mail.example.org) does not cover www.example.org"
	probe 127.0.0.1:"$PORT_other" --sni mail.example.org "${LL[@]}"
	jq_eq .state OK
}

c_no_scts() {
	probe 127.0.0.1:"$PORT_noscts" --sni www.example.org "${LL[@]}"
	expect_status 1
	jq_eq .state WARNING
	jq_eq 'len(.scts)' 0
	expect_out '0 valid SCTs, want 2 (the certificate has no embedded SCTs)'
	probe 127.0.0.1:"$PORT_good" --sni www.example.org "${LL[@]}" --min-scts 3
	jq_eq .state WARNING
	expect_out '2 valid SCTs, want 3'
}

c_tls12() {
	probe 127.0.0.1:"$PORT_tls12" --sni www.example.org "${LL[@]}"
	expect_status 0
	jq_eq .version TLSv1.2
	jq_eq .state OK
}

c_alert() {
	probe 127.0.0.1:"$PORT_reject" --sni www.example.org "${LL[@]}"
	expect_status 1
	jq_eq .result tls_alert
	jq_eq .alert 112
	jq_eq .state CRITICAL
	expect_out 'TLS alert from peer'
}

c_refused() {
	local p
	p=$(probeserver_free_port)
	probe 127.0.0.1:"$p" --sni www.example.org
	expect_status 1
	jq_eq .result refused
	jq_eq .error "connection refused"
	jq_eq .state CRITICAL
}

c_timeout() {
	local f=$T/silent.port t0 t1
	# accepts TCP (the backlog), never speaks TLS
	python3 -c 'import socket,sys,time; s=socket.socket(); s.bind(("127.0.0.1",0)); s.listen(8); open(sys.argv[1],"w").write("%d\n"%s.getsockname()[1]); time.sleep(60)' "$f" &
	bg_pids+=($!)
	wait_file "$f"
	t0=$(date +%s%N)
	probe 127.0.0.1:"$(cat "$f")" --sni www.example.org --probe-timeout 1
	t1=$(date +%s%N)
	expect_status 1
	jq_eq .result timeout
	jq_eq .state CRITICAL
	expect_out 'deadline passed in the TLS handshake'
	if [ $(((t1 - t0) / 1000000)) -lt 3000 ]; then ok; else fail "timeout took $(((t1 - t0) / 1000000)) ms"; fi
}

c_resolve() {
	probe does-not-exist.invalid:443
	expect_status 1
	jq_eq .result resolve
	jq_eq .state UNKNOWN
}

c_several_targets() {
	run "$ctctl" probe --json --sni www.example.org "${LL[@]}" \
	    127.0.0.1:"$PORT_good" 127.0.0.1:"$PORT_tls12"
	expect_status 0
	expect_lines 2
	jq_eq_line 1 .version TLSv1.3
	jq_eq_line 2 .version TLSv1.2
	# the second serves the same chain: its verdict is the memo's copy
	jq_eq_line 2 .scts_valid 2
	jq_eq_line 2 .state OK
	jq_eq_line 2 .address "127.0.0.1:$PORT_tls12"
	# the same chain under another name is judged again
	run "$ctctl" probe --json "${LL[@]}" \
	    127.0.0.1:"$PORT_good" --sni www.example.org
	expect_status 0
	run "$ctctl" probe --json "${LL[@]}" --sni mail.example.org \
	    127.0.0.1:"$PORT_good" 127.0.0.1:"$PORT_other"
	expect_status 1
	jq_eq_line 1 .state CRITICAL
	jq_eq_line 2 .state OK
}

c_starttls_ok() {
	local proto p
	for proto in smtp imap pop3; do
		stls "$proto" ok
		p=$STLS_PORT
		probe 127.0.0.1:"$p" --starttls "$proto" --sni www.example.org "${LL[@]}" "${TR[@]}"
		expect_status 0
		jq_eq .starttls "$proto"
		jq_eq .result ok
		jq_eq .state OK
		jq_eq .scts_valid 2
	done
	stls smtp ok
	p=$STLS_PORT
	probe 127.0.0.1:"$p" --starttls submission --sni www.example.org "${LL[@]}"
	jq_eq .state OK
}

# starttls_bad PROTO MODE TEXT
starttls_bad() {
	local p
	stls "$1" "$2"
	p=$STLS_PORT
	probe 127.0.0.1:"$p" --starttls "$1" --sni www.example.org "${LL[@]}"
	expect_status 1
	jq_eq .result starttls
	jq_eq .state CRITICAL
	expect_out "$3"
}

c_starttls_failures() {
	starttls_bad smtp nostarttls 'does not offer STARTTLS'
	starttls_bad smtp refuse "STARTTLS refused: '454 4.7.0 TLS not available'"
	starttls_bad smtp greetrefuse "SMTP greeting refuses: '554 5.3.2"
	starttls_bad smtp inject 'bytes after its STARTTLS go-ahead'
	starttls_bad imap refuse "STARTTLS refused: 'a001 NO not now'"
	starttls_bad imap greetrefuse 'IMAP greeting refuses'
	starttls_bad imap inject 'bytes after its STARTTLS go-ahead'
	starttls_bad pop3 refuse "STLS refused: '-ERR no TLS'"
	starttls_bad pop3 greetrefuse 'POP3 greeting refuses'
	# Implicit TLS against a STARTTLS server: the banner is not TLS.
	local p
	stls smtp ok
	p=$STLS_PORT
	probe 127.0.0.1:"$p" --starttls none --sni www.example.org
	expect_status 1
	jq_eq .result tls_error
}

# A signed test log list served over HTTP, fetched into the state dir.
loglist_serve() {
	local d=$T/llweb f=$T/llweb.port
	mkdir -p "$d"
	openssl genrsa -out "$T/llkey.pem" 2048 2>/dev/null
	openssl rsa -in "$T/llkey.pem" -pubout -out "$T/llpub.pem" 2>/dev/null
	cp "$T/pki/loglist.json" "$d/log_list.json"
	openssl dgst -sha256 -sign "$T/llkey.pem" -out "$d/log_list.sig" \
	    "$d/log_list.json"
	# the same list, one byte changed, with that signature
	mkdir -p "$d/forged"
	sed 's/CT Test Log 1/CT Test Log 7/' "$d/log_list.json" >"$d/forged/log_list.json"
	cp "$d/log_list.sig" "$d/forged/"
	python3 -c '
import functools, http.server, sys
h = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[1])
h.log_message = lambda *a: None
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), h)
open(sys.argv[2], "w").write("%d\n" % s.server_address[1])
s.serve_forever()' "$d" "$f" >/dev/null 2>&1 &
	bg_pids+=($!)
	wait_file "$f"
	LLURL=http://127.0.0.1:$(cat "$f")
}

c_loglist_cache() {
	loglist_serve
	local st=$T/state1
	probe 127.0.0.1:"$PORT_good" --sni www.example.org --state-dir "$st" \
	    --log-list-url "$LLURL/" --log-list-key "$T/llpub.pem" --allow-http
	expect_status 0
	jq_eq .scts_valid 2
	jq_eq .state OK
	if [ -s "$st/loglist/cache" ]; then ok; else fail "no cache file"; fi
	# The server is gone: the fresh cache serves.
	probe 127.0.0.1:"$PORT_good" --sni www.example.org --state-dir "$st" \
	    --log-list-url http://127.0.0.1:1/ --log-list-key "$T/llpub.pem" --allow-http
	jq_eq .scts_valid 2
	# A forged list (valid JSON, signature of another) is refused.
	probe 127.0.0.1:"$PORT_good" --sni www.example.org --state-dir "$T/state2" \
	    --log-list-url "$LLURL/forged/" --log-list-key "$T/llpub.pem" --allow-http
	expect_status 1
	jq_eq .state UNKNOWN
	jq_eq '.scts[0].status' unchecked
	expect_out 'signature does not verify: refused'
	# Google's key (the default) does not verify the test list either.
	probe 127.0.0.1:"$PORT_good" --sni www.example.org --state-dir "$T/state3" \
	    --log-list-url "$LLURL/" --allow-http
	jq_eq .state UNKNOWN
	# No list at all: the SCTs are not checked, and that is not OK.
	probe 127.0.0.1:"$PORT_good" --sni www.example.org --state-dir "$T/state4" \
	    --log-list-url http://127.0.0.1:1/ --allow-http
	jq_eq .state UNKNOWN
	expect_out 'SCTs not checked: log list fetch failed'
}

# ---------------------------------------------------------------- check_ct
# check_ct -H www.example.org --probe 127.0.0.1:PORT ...: exit code and
# output, once check_ct takes --probe.

ccrun() {
	run "$cc" -H www.example.org --state-dir "$T/ccstate" --source crtsh \
	    --crtsh-url http://127.0.0.1:1 --allow-http "$@"
}

cc_good() {
	ccrun --probe 127.0.0.1:"$PORT_good" "${LL[@]}" "${TR[@]}"
	expect_out "[OK] probe 127.0.0.1:$PORT_good serves a trusted certificate"
	expect_out "2 valid SCTs"
	expect_out "'127.0.0.1:$PORT_good days_left'="
	expect_out "'127.0.0.1:$PORT_good scts_valid'=2;2:;;0"
	expect_out "'127.0.0.1:$PORT_good handshake_time'="
}

cc_forged() {
	ccrun --probe 127.0.0.1:"$PORT_forged" "${LL[@]}"
	expect_status 2
	expect_out "[CRITICAL] probe 127.0.0.1:$PORT_forged: 2 forged SCTs"
}

cc_expiring() {
	ccrun --probe 127.0.0.1:"$PORT_expiring" "${LL[@]}" -w 20 -c 3
	expect_status 1
	expect_out "[WARNING] probe 127.0.0.1:$PORT_expiring: certificate expires in "
}

cc_untrusted() {
	ccrun --probe 127.0.0.1:"$PORT_evil" "${LL[@]}" "${TR[@]}"
	expect_status 2
	expect_out 'issuer not trusted'
}

cc_refused_state() {
	local p
	p=$(probeserver_free_port)
	ccrun --probe 127.0.0.1:"$p"
	expect_status 2
	expect_out 'connection refused'
	ccrun --probe 127.0.0.1:"$p" --probe-error-state refused=WARNING
	expect_status 1
}


for c in c_good c_v6 c_forged c_expiring c_untrusted_issuer c_name_mismatch \
    c_no_scts c_tls12 c_alert c_refused c_timeout c_resolve \
    c_several_targets c_starttls_ok c_starttls_failures c_loglist_cache; do
	echo "--- $c"
	$c
done
if have_check_ct_probe; then
	for c in cc_good cc_forged cc_expiring cc_untrusted cc_refused_state; do
		echo "--- $c"
		$c
	done
else
	echo "note: check_ct has no --probe yet: its cases are not run"
fi
finish
