#!/usr/bin/env bash
# The real ct-agent on 127.0.0.1 (ephemeral port) over a dehydrated-shaped
# tree of real certificates, asked by ctctl and by agentpoke:
#  1. keygen; info and certs (text and JSON, fields checked against
#     openssl and ctctl inspect); a renewal keeps the old certificate as
#     source "store"; HOST:PORT --pin; config lookup; usage errors;
#  2. every failure explained in one line: connection refused, pin
#     mismatch (both fingerprints), key not authorised (the hint line
#     works when followed), wrong agent name, time-out in the handshake,
#     clock skew (faketime);
#  3. forged, replayed, misaddressed, stale, malformed, unknown-op and
#     oversized requests (the agent's RSS stays flat), 500 idle
#     connections, a byte a second: each answered or cut off, and the
#     agent still serves ctctl after each;
#  4. kill -9 of the agent 100 times while it writes its store (import
#     and daemon start): every record visible afterwards is whole.
set -u
build=${1:-build}
ctctl=$build/ctctl
agent=$build/ct-agent
poke=$build/tests/agentpoke
mkct=$build/tests/mkct
. tests/integration/lib.sh
. tests/tools/pki.sh

for p in "$ctctl" "$agent" "$poke" "$mkct"; do
	if [ ! -x "$p" ]; then
		echo "FAIL: $p is missing (make all unit)"
		exit 1
	fi
done
for t in openssl python3 faketime; do
	if ! command -v $t >/dev/null; then
		echo "SKIP: $t is not installed (make deps)"
		exit 77
	fi
done

export HOME=$T/home # no user config of the person running the tests
mkdir -p "$HOME"
NAME=web1.example.org

# ------------------------------------------------------------ helpers

# fingerprint "ct-ed25519 B64 ...": SHA256:<unpadded base64 of sha256>
fingerprint() {
	python3 -c 'import base64,hashlib,sys
k=base64.b64decode(sys.argv[1].split()[1])
print("SHA256:"+base64.b64encode(hashlib.sha256(k).digest()).decode().rstrip("="))' "$1"
}

free_port() {
	python3 -c 'import socket
s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

# write_agent_conf FILE STORE CERTDIR [EXTRA LINES]
write_agent_conf() {
	cat >"$1" <<EOF
# ct-agent for the integration test
name            = $NAME
listen          = 127.0.0.1:0
key             = $T/agent.key
authorized_keys = $T/authorized_keys
cert_dirs       = $3
store           = $2
timeout         = 2s          # slow clients are cut off after this
rate_limit      = 0           # many requests from one address below
${4:-}
EOF
}

agent_pid=
agent_port=
# start_agent CONF LOG: starts ct-agent and waits for its port.
start_agent() {
	local i
	: >"$2"
	"$agent" -c "$1" 2>>"$2" &
	agent_pid=$!
	for i in $(seq 100); do
		agent_port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$2" | head -1)
		[ -n "$agent_port" ] && grep -q 'authorized keys' "$2" && return 0
		kill -0 $agent_pid 2>/dev/null || break
		sleep 0.05
	done
	echo "FAIL: ct-agent did not start:"
	sed 's/^/  log: /' "$2"
	exit 1
}
stop_agent() {
	[ -n "$agent_pid" ] && kill "$agent_pid" 2>/dev/null
	[ -n "$agent_pid" ] && wait "$agent_pid" 2>/dev/null
	agent_pid=
}
cleanup_cmds+=('stop_agent')

write_ct_conf() {
	cat >"$T/ct.conf" <<EOF
key = poller.key     # relative to this file
agent $NAME = 127.0.0.1:$agent_port $(cat "$T/agent.key.pub")
agent web2.example.org = 127.0.0.1:$agent_port $(cat "$T/agent.key.pub")
EOF
}

# The agent still answers a legitimate request.
alive() {
	run "$ctctl" agent --config "$T/ct.conf" $NAME info -t 5
	if [ "$last_status" -eq 0 ]; then ok; else fail "agent stopped serving ($1)"; fi
}

# Many distinct certificates for NAMES, fast: one key, one CSR, one
# openssl ca run. mass_certs OUTFILE COUNT "NAMES"
mass_certs() {
	local out=$1 n=$2 names=$3 d
	d=$(mktemp -d "$T/mass.XXXXXX")
	openssl ecparam -name prime256v1 -genkey -noout -out "$d/k" 2>/dev/null
	openssl req -new -key "$d/k" -subj "/CN=${names%% *}" -out "$d/csr" \
	    -config "$T/pki/ca.cnf" 2>/dev/null
	pki_leaf_ext "$names" "" >"$d/ext"
	: >"$T/pki/index.txt"
	openssl rand -hex 8 >"$T/pki/serial"
	mkdir "$d/out"
	openssl ca -batch -config "$T/pki/ca.cnf" -notext \
	    -cert "$T/pki/r1.pem" -keyfile "$T/pki/r1.key" -extfile "$d/ext" \
	    -extensions leaf -startdate 20261101000000Z \
	    -enddate 20270130000000Z -preserveDN -outdir "$d/out" \
	    -out "$d/last.pem" -infiles $(yes "$d/csr" | head -n "$n") \
	    2>/dev/null
	cat "$d/out"/*.pem >"$out"
	rm -rf "$d"
}

# ------------------------------------------------------------ 1. keys, PKI

run "$ctctl" keygen -o "$T/poller.key" -C poller@test
expect_status 0
expect_lines 1
if grep -qE '^ct-ed25519 [A-Za-z0-9+/]{43}= poller@test$' "$out_file"; then ok; else fail "public line"; fi
if [ "$(cat "$out_file")" = "$(cat "$T/poller.key.pub")" ]; then ok; else fail "FILE.pub differs"; fi
if [ "$(stat -c %a "$T/poller.key")" = 600 ]; then ok; else fail "key mode $(stat -c %a "$T/poller.key")"; fi
if grep -q 'BEGIN PRIVATE KEY' "$T/poller.key"; then ok; else fail "not a PEM key"; fi
# Never overwrites, and leaves the existing key alone.
cp "$T/poller.key" "$T/poller.key.orig"
run "$ctctl" keygen -o "$T/poller.key"
expect_status 1
expect_err "exists; not overwriting it"
if cmp -s "$T/poller.key" "$T/poller.key.orig"; then ok; else fail "key overwritten"; fi
run "$ctctl" keygen -o "$T/other.key" -C "$(printf 'bad\tcomment')"
expect_status 2
# Without -o: the default poller key below $HOME, directories made 0700.
run "$ctctl" keygen
expect_status 0
if [ -f "$HOME/.config/ct/poller.key" ] && [ -f "$HOME/.config/ct/poller.key.pub" ] &&
    [ "$(stat -c %a "$HOME/.config/ct")" = 700 ]; then ok; else fail "default key path"; fi
rm -rf "$HOME/.config"
run "$ctctl" keygen -o "$T/agent.key" -C "agent $NAME"
expect_status 0
"$ctctl" keygen -o "$T/stranger.key" -C stranger@elsewhere >/dev/null 2>&1
cp "$T/poller.key.pub" "$T/authorized_keys"

pki_init "$T/pki" "$mkct" || { echo "FAIL: pki_init"; exit 1; }
pki_leaf "$T/pki" "$T/old" r1 20260801000000Z 20261030000000Z \
    "www.example.org example.org" || exit 1
pki_leaf "$T/pki" "$T/new" r1 20261101000000Z 20270130000000Z \
    "www.example.org example.org" || exit 1
pki_leaf "$T/pki" "$T/mail" r1 20261101000000Z 20270130000000Z \
    "mail.example.org" || exit 1

# A dehydrated tree: certs/NAME/cert.pem -> cert-TIMESTAMP.pem, next to
# chain, fullchain and a private key the agent must never open.
dh=$T/dehydrated/certs
mkdir -p "$dh/www.example.org" "$dh/mail.example.org"
cp "$T/old.pem" "$dh/www.example.org/cert-1780000000.pem"
ln -s cert-1780000000.pem "$dh/www.example.org/cert.pem"
cp "$T/pki/r1.pem" "$dh/www.example.org/chain-1780000000.pem"
ln -s chain-1780000000.pem "$dh/www.example.org/chain.pem"
cp "$T/old.key" "$dh/www.example.org/privkey-1780000000.pem"
chmod 600 "$dh/www.example.org/privkey-1780000000.pem"
ln -s privkey-1780000000.pem "$dh/www.example.org/privkey.pem"
cp "$T/mail.pem" "$dh/mail.example.org/cert-1780000000.pem"
ln -s cert-1780000000.pem "$dh/mail.example.org/cert.pem"

write_agent_conf "$T/agent.conf" "$T/store" "$dh"
start_agent "$T/agent.conf" "$T/agent.log"
write_ct_conf
cfg=(--config "$T/ct.conf")

# ------------------------------------------------------------ info, certs

run "$ctctl" agent "${cfg[@]}" $NAME info
expect_status 0
expect_out "agent:         $NAME at 127.0.0.1:$agent_port (key $(fingerprint "$(cat "$T/agent.key.pub")"))"
expect_out "name           $NAME"
expect_out "store_records  2"
expect_out "deployed       2"
expect_out "cert_dirs      $dh"
run "$ctctl" agent "${cfg[@]}" $NAME info --json
expect_status 0
expect_lines 1
jq_eq .agent $NAME
jq_eq .address "127.0.0.1:$agent_port"
jq_eq .info.name $NAME
jq_eq .info.store_records 2
jq_eq .info.deployed 2
jq_eq '.info.cert_dirs[0]' "$dh"

# Field by field against openssl and ctctl inspect.
old_tbs=$("$ctctl" inspect --json "$T/old.pem" | python3 -c 'import json,sys; print(json.load(sys.stdin)["tbs_sha256"])')
new_tbs=$("$ctctl" inspect --json "$T/new.pem" | python3 -c 'import json,sys; print(json.load(sys.stdin)["tbs_sha256"])')
old_sha=$(openssl x509 -in "$T/old.pem" -outform DER | sha256sum | cut -c1-64)
old_serial=$(openssl x509 -in "$T/old.pem" -noout -serial | cut -d= -f2 | tr A-F a-f)
case $old_serial in [89a-f]*) old_serial=00$old_serial ;; esac
run "$ctctl" agent "${cfg[@]}" $NAME certs www.example.org --json
expect_status 0
expect_lines 1
jq_eq .name www.example.org
jq_eq 'len(.certs)' 1
jq_eq '.certs[0].tbs_sha256' "$old_tbs"
jq_eq '.certs[0].sha256' "$old_sha"
jq_eq '.certs[0].serial' "$old_serial"
jq_eq '.certs[0].dns_names[0]' www.example.org
jq_eq '.certs[0].dns_names[1]' example.org
jq_eq 'len(.certs[0].dns_names)' 2
jq_eq '.certs[0].not_before' 2026-08-01T00:00:00Z
jq_eq '.certs[0].not_after' 2026-10-30T00:00:00Z
jq_eq '.certs[0].source' deployed
jq_eq '.certs[0].path' "$dh/www.example.org/cert.pem"
jq_eq '.certs[0].precert' false
if jq_get '.certs[0].first_seen' | grep -qE '^20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$'; then ok; else fail "first_seen"; fi
if grep -q 'BEGIN' "$T/agent.log"; then fail "agent logged PEM"; else ok; fi

# The renewal: a new cert-*.pem, cert.pem repointed, the old file gone.
cp "$T/new.pem" "$dh/www.example.org/cert-1790000000.pem"
ln -sfn cert-1790000000.pem "$dh/www.example.org/cert.pem"
rm "$dh/www.example.org/cert-1780000000.pem"
kill -HUP "$agent_pid"
for _ in $(seq 100); do
	"$ctctl" agent "${cfg[@]}" $NAME certs www.example.org --json >"$T/renew.json" 2>/dev/null
	grep -q "$new_tbs" "$T/renew.json" && break
	sleep 0.05
done
run "$ctctl" agent "${cfg[@]}" $NAME certs www.example.org --json
expect_status 0
jq_eq 'len(.certs)' 2
jq_eq '.certs[0].tbs_sha256' "$new_tbs"
jq_eq '.certs[0].source' deployed
jq_eq '.certs[1].tbs_sha256' "$old_tbs"
jq_eq '.certs[1].source' store
jq_eq '.certs[1].not_after' 2026-10-30T00:00:00Z
# Where the store first saw it (the agent may record the link's target).
case $(jq_get '.certs[1].path') in
"$dh/www.example.org/cert"*.pem) ok ;;
*) fail "store path $(jq_get '.certs[1].path')" ;;
esac
run "$ctctl" agent "${cfg[@]}" $NAME certs www.example.org
expect_status 0
expect_out "agent $NAME at 127.0.0.1:$agent_port: 2 certificates for www.example.org"
expect_out "deployed  2027-01-30T00:00:00Z  ${new_tbs:0:16}  www.example.org,example.org  $dh/www.example.org/cert.pem"
expect_out "store     2026-10-30T00:00:00Z  ${old_tbs:0:16}  www.example.org,example.org"
# Other names, and everything.
run "$ctctl" agent "${cfg[@]}" $NAME certs other.example.org --json
expect_status 0
jq_eq 'len(.certs)' 0
run "$ctctl" agent "${cfg[@]}" $NAME certs mail.example.org --json
jq_eq 'len(.certs)' 1
jq_eq '.certs[0].dns_names[0]' mail.example.org
run "$ctctl" agent "${cfg[@]}" $NAME certs --json
jq_eq .name '*'
jq_eq 'len(.certs)' 3

# HOST:PORT with --pin (no config at all), and the config found in ~.
run "$ctctl" agent "127.0.0.1:$agent_port" --pin "$(cat "$T/agent.key.pub")" \
    --name $NAME --key "$T/poller.key" certs www.example.org --json
expect_status 0
jq_eq 'len(.certs)' 2
mkdir -p "$HOME/.config/ct"
sed "s|^key = poller.key.*|key = $T/poller.key|" "$T/ct.conf" >"$HOME/.config/ct/ct.conf"
run "$ctctl" agent $NAME info
expect_status 0
expect_out "name           $NAME"
rm -rf "$HOME/.config"
# The default key below $HOME when the config names none.
mkdir -p "$HOME/.config/ct"
cp "$T/poller.key" "$HOME/.config/ct/poller.key"
grep -v '^key' "$T/ct.conf" >"$T/ct-nokey.conf"
run "$ctctl" agent --config "$T/ct-nokey.conf" $NAME info
expect_status 0
rm -rf "$HOME/.config"
run "$ctctl" agent --config "$T/ct-nokey.conf" $NAME info
expect_status 1
expect_err "no poller key"
# A key readable by others is refused.
cp "$T/poller.key" "$T/open.key" && chmod 644 "$T/open.key"
run "$ctctl" agent "${cfg[@]}" --key "$T/open.key" $NAME info
expect_status 1
expect_err "chmod 600"

# Usage errors: 2; a name not in the config: 1, listing the known ones.
run "$ctctl" agent "${cfg[@]}" $NAME
expect_status 2
run "$ctctl" agent "${cfg[@]}" $NAME bogus
expect_status 2
expect_err "unknown operation 'bogus'"
run "$ctctl" agent "${cfg[@]}" $NAME info extra
expect_status 2
run "$ctctl" agent "${cfg[@]}" $NAME certs 'a;b'
expect_status 2
run "$ctctl" agent "${cfg[@]}" $NAME info -t 0
expect_status 2
run "$ctctl" agent "127.0.0.1:$agent_port" --pin "ct-ed25519 AAAA" info
expect_status 2
run "$ctctl" agent "127.0.0.1:$agent_port" --pin "$(cat "$T/agent.key.pub")" info
expect_status 2
expect_err "give the agent's own name with --name NAME"
run "$ctctl" agent "${cfg[@]}" web9.example.org info
expect_status 1
expect_err "agent 'web9.example.org' is not in $T/ct.conf (known: $NAME, web2.example.org)"
printf 'key = x\nagentx = 1\n' >"$T/bad.conf"
run "$ctctl" agent --config "$T/bad.conf" $NAME info
expect_status 1
expect_err "$T/bad.conf:2: unknown setting 'agentx'"
run "$ctctl" agent --config "$T/nonexistent.conf" $NAME info
expect_status 1
expect_err "nonexistent.conf"

# ------------------------------------------------------------ 2. failures

# Connection refused.
port=$(free_port)
run "$ctctl" agent "127.0.0.1:$port" --pin "$(cat "$T/agent.key.pub")" \
    --name $NAME --key "$T/poller.key" info
expect_status 1
expect_err "ctctl: $NAME: connection refused to 127.0.0.1:$port"
expect_err_lines 1

# TLS pin mismatch: both fingerprints.
run "$ctctl" agent "127.0.0.1:$agent_port" --pin "$(cat "$T/stranger.key.pub")" \
    --name $NAME --key "$T/poller.key" info
expect_status 1
expect_err "TLS pin mismatch: expected $(fingerprint "$(cat "$T/stranger.key.pub")"), got $(fingerprint "$(cat "$T/agent.key.pub")")"
expect_err_lines 1

# A key the agent does not know: the line to add, which then works.
run "$ctctl" agent "${cfg[@]}" --key "$T/stranger.key" $NAME info
expect_status 1
expect_err "key not authorized by agent $NAME (add this line to its authorized_keys: $(cat "$T/stranger.key.pub"))"
expect_err_lines 1
hint=$(sed -n 's/.*authorized_keys: \(.*\))$/\1/p' "$err_file")
echo "$hint" >>"$T/authorized_keys"
kill -HUP "$agent_pid"
for _ in $(seq 100); do
	"$ctctl" agent "${cfg[@]}" --key "$T/stranger.key" $NAME info >/dev/null 2>&1 && break
	sleep 0.05
done
run "$ctctl" agent "${cfg[@]}" --key "$T/stranger.key" $NAME info
expect_status 0
cp "$T/poller.key.pub" "$T/authorized_keys"
kill -HUP "$agent_pid"
sleep 0.3

# The wrong agent name (web2 is the same address and key in ct.conf).
run "$ctctl" agent "${cfg[@]}" web2.example.org info
expect_status 1
expect_err "agent name mismatch: asked web2.example.org, it is $NAME"
expect_err_lines 1

# A server that accepts and never answers: the time-out names the stage.
python3 -c 'import socket,time
s=socket.socket(); s.bind(("127.0.0.1",0)); s.listen(16)
print(s.getsockname()[1], flush=True)
c=[]
while True:
    c.append(s.accept()[0])' >"$T/silent.port" &
silent=$!
cleanup_cmds+=("kill $silent 2>/dev/null")
for _ in $(seq 50); do [ -s "$T/silent.port" ] && break; sleep 0.1; done
sport=$(cat "$T/silent.port")
t0=$(date +%s%N)
run "$ctctl" agent "127.0.0.1:$sport" --pin "$(cat "$T/agent.key.pub")" \
    --name $NAME --key "$T/poller.key" info -t 1
t1=$(date +%s%N)
expect_status 1
expect_err "timed out after 1000 ms (during TLS handshake with 127.0.0.1:$sport)"
ms=$(((t1 - t0) / 1000000))
if [ $ms -ge 1000 ] && [ $ms -lt 3000 ]; then ok; else fail "time-out took $ms ms"; fi
kill $silent 2>/dev/null

# Clock skew: ctctl five minutes behind the agent.
run faketime -f -300s "$ctctl" agent "${cfg[@]}" $NAME info
expect_status 1
if grep -qE 'clock skew: agent time differs by (299|300|301) s \(agent ahead' "$err_file"; then ok; else fail "clock skew line"; fi
expect_err_lines 1
# Inside the window: fine, and the skew is shown.
run faketime -f -60s "$ctctl" agent "${cfg[@]}" $NAME info
expect_status 0
if grep -qE 'agent time: .*\(\+(59|60|61) s from here\)' "$out_file"; then ok; else fail "skew shown"; fi

# ------------------------------------------------------------ 3. bad clients

pk() { "$poke" "127.0.0.1:$agent_port" $NAME "$T/poller.key" "$(cat "$T/agent.key.pub")" "$@"; }

run pk ok
expect_status 0
expect_out "1: OK: {"
run pk replay
expect_out "1: OK: "
expect_out "2: REPLAY: "
alive replay
run pk forge
expect_out "1: BAD_SIGNATURE: "
alive forge
run pk badname
expect_out "1: WRONG_AGENT: "
alive badname
run pk stale
expect_out "1: CLOCK_SKEW: "
alive stale
run pk badop
expect_out "1: UNKNOWN_OP: "
alive badop
run pk malformed
expect_out "1: BAD_REQUEST: "
expect_out "2: BAD_REQUEST: "
alive malformed
# A stranger's key gets nothing but a refused handshake.
run "$poke" "127.0.0.1:$agent_port" $NAME "$T/stranger.key" "$(cat "$T/agent.key.pub")" ok
expect_out "1: closed: TLS alert from peer"
alive stranger
# Each refusal is logged with its reason.
for s in REPLAY BAD_SIGNATURE WRONG_AGENT CLOCK_SKEW UNKNOWN_OP BAD_REQUEST; do
	if grep -q "refused 127.0.0.1:[0-9]* key .*: $s" "$T/agent.log"; then ok; else fail "no log line for $s"; fi
done

# Oversized frames are refused on the length: RSS stays flat.
run pk oversize 20 # warm up allocator and TLS state
rss0=$(rss_kib $agent_pid)
run pk oversize 150
expect_out "TOO_BIG x300"
rss1=$(rss_kib $agent_pid)
echo "agent RSS around 300 oversized frames: $rss0 KiB -> $rss1 KiB"
if [ $((rss1 - rss0)) -lt 1024 ]; then ok; else fail "RSS grew by $((rss1 - rss0)) KiB"; fi
alive oversize

# 500 idle TCP connections: a legitimate request still gets through.
mkfifo "$T/idle.in"
pk idle 500 30 <"$T/idle.in" >"$T/idle.out" 2>&1 &
idle_pid=$!
exec 9>"$T/idle.in"
cleanup_cmds+=("kill $idle_pid 2>/dev/null")
for _ in $(seq 100); do grep -q 'open' "$T/idle.out" && break; sleep 0.05; done
if grep -q 'idle: 500 open' "$T/idle.out"; then ok; else fail "idle: $(cat "$T/idle.out")"; fi
t0=$(date +%s%N)
alive "500 idle connections"
t1=$(date +%s%N)
echo "info with 500 idle connections open: $(((t1 - t0) / 1000000)) ms"
exec 9>&-
wait $idle_pid
cat "$T/idle.out"
alive "after idle"

# A byte a second, before TLS and inside it: cut off at the deadline (2 s).
run pk slow 10
if grep -qE 'slow: closed by the agent after [1-4]\.[0-9] s' "$out_file"; then ok; else fail "slow: $(cat "$out_file")"; fi
run pk slowreq 10
if grep -qE 'slowreq: closed by the agent after [1-4]\.[0-9] s' "$out_file"; then ok; else fail "slowreq: $(cat "$out_file")"; fi
alive slow

# The agent stops cleanly on SIGTERM.
kill -TERM $agent_pid
wait $agent_pid
st=$?
agent_pid=
if [ $st -eq 0 ]; then ok; else fail "ct-agent exit status $st on SIGTERM"; fi

# ------------------------------------------------------------ 4. kill -9

# Each round: a fresh store; the agent imports (odd rounds) or learns at
# start from a cert dir (even rounds) 60 certificates and is killed with
# SIGKILL at a random moment. Then every *.rec file must be a valid record
# (--check-config counts only valid ones), and every 25th round a full
# restart must complete the store.
mass_certs "$T/mass.pem" 60 "www.example.org"
mkdir -p "$T/masscerts/bulk.example.org"
python3 - "$T/mass.pem" "$T/masscerts/bulk.example.org" <<'PY'
import re, sys
pems = re.findall(r'-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----\n', open(sys.argv[1]).read(), re.S)
for i, p in enumerate(pems):
    open("%s/cert-%04d.pem" % (sys.argv[2], i), "w").write(p)
PY
nmass=$(grep -c 'BEGIN CERTIFICATE' "$T/mass.pem")
if [ "$nmass" -eq 60 ]; then ok; else fail "$nmass certificates made"; fi
mkdir -p "$T/kill"
torn=0 bad=0 partial=0 t0=$(date +%s)
for i in $(seq 100); do
	s=$T/kill/s$i
	write_agent_conf "$T/kill.conf" "$s" "$T/masscerts"
	if [ $((i % 2)) -eq 1 ]; then
		"$agent" -c "$T/kill.conf" --import "$T/mass.pem" >/dev/null 2>&1 &
	else
		"$agent" -c "$T/kill.conf" >/dev/null 2>&1 &
	fi
	pid=$!
	sleep "$(printf '0.%03d' $((RANDOM % 60 + 5)))"
	kill -9 $pid 2>/dev/null
	wait $pid 2>/dev/null
	files=$(find "$s" -name '*.rec' 2>/dev/null | wc -l)
	tmps=$(find "$s" -name '.tmp-*' 2>/dev/null | wc -l)
	[ "$tmps" -gt 0 ] && torn=$((torn + 1))
	[ "$files" -gt 0 ] && [ "$files" -lt "$nmass" ] && partial=$((partial + 1))
	recs=$("$agent" -c "$T/kill.conf" --check-config 2>/dev/null |
	    sed -n 's/^store: .* (\([0-9]*\) records)$/\1/p')
	if [ -d "$s" ] && [ "${recs:-x}" != "$files" ]; then
		bad=$((bad + 1))
		echo "round $i: $files record files, --check-config counts '${recs:-}'"
	fi
	if [ $((i % 25)) -eq 0 ]; then
		"$agent" -c "$T/kill.conf" --import "$T/mass.pem" >"$T/kill.out" 2>&1
		recs=$("$agent" -c "$T/kill.conf" --check-config 2>/dev/null |
		    sed -n 's/^store: .* (\([0-9]*\) records)$/\1/p')
		if [ "$recs" = "$nmass" ]; then ok; else fail "round $i: restart left $recs of $nmass records: $(cat "$T/kill.out")"; fi
	fi
	rm -rf "$s"
done
echo "kill -9: 100 rounds in $(($(date +%s) - t0)) s; $partial killed with a partial store, $torn with a torn temporary file, $bad with an invalid record"
if [ $bad -eq 0 ]; then ok; else fail "$bad rounds left an invalid record"; fi
# The rounds must have caught the agent mid-store, or they prove nothing.
if [ $partial -gt 0 ]; then ok; else fail "no round killed the agent while it wrote"; fi

finish
