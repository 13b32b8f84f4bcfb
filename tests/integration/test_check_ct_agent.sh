#!/usr/bin/env bash
# check_ct with real ct-agents on 127.0.0.1: known via an agent's deployed
# certificate, via its store history (a renewed certificate no longer on
# disk), via the precertificate's tbs; an agent down, unknown to the
# config, or silent until -t; the states those give.
set -u
build=${1:-build}
. tests/integration/lib.sh
. tests/tools/pki.sh
. tests/tools/ctsource.sh
command -v nginx >/dev/null || { echo "skip: nginx not installed"; exit 77; }
cleanup_cmds+=("ctsource_stop")

cc=$build/check_ct
day() { date -u -d "$1" +%Y%m%d%H%M%SZ; }
st() { mktemp -d -p "$T" state.XXXXXX; }
pki_init "$T/pki" "$build/tests/mkct" || { echo "FAIL: pki_init"; exit 1; }
leaf() { pki_leaf "$T/pki" "$T/$1" "$2" "$(day "$3")" "$(day "$4")" "$5" ||
	{ echo "FAIL: pki_leaf $1"; exit 1; }; }
leaf old r1 '-80 days' '+10 days' "www.example.org"
leaf cur r1 '-20 days' '+70 days' "www.example.org"
leaf mail r1 '-20 days' '+70 days' "mail.example.org"
leaf evil evil '-2 days' '+88 days' "www.example.org"
mkdir -p "$T/trusted" && cp "$T/pki/r1.pem" "$T/trusted/"

"$build/ctctl" keygen -o "$T/poller.key" -C test >/dev/null 2>&1 ||
	{ echo "FAIL: keygen"; exit 1; }
cp "$T/poller.key.pub" "$T/authorized_keys"
echo "key = $T/poller.key" >"$T/ct.conf"

# agent NAME DIR: a real ct-agent for DIR, its line added to ct.conf.
agent() {
	local name=$1 dir=$2 port= pid
	"$build/ctctl" keygen -o "$T/$name.key" -C "$name" >/dev/null 2>&1
	cat >"$T/$name.conf" <<EOF
name            = $name
listen          = 127.0.0.1:0
key             = $T/$name.key
authorized_keys = $T/authorized_keys
cert_dirs       = $dir
store           = $T/$name.store
EOF
	"$build/ct-agent" -c "$T/$name.conf" 2>"$T/$name.log" &
	pid=$!
	cleanup_cmds+=("kill $pid 2>/dev/null")
	for _ in $(seq 200); do
		port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$T/$name.log" | head -1)
		[ -n "$port" ] && break
		sleep 0.02
	done
	[ -n "$port" ] || { echo "FAIL: $name did not start: $(cat "$T/$name.log")"; exit 1; }
	echo "agent $name = 127.0.0.1:$port $(cat "$T/$name.key.pub")" >>"$T/ct.conf"
	eval "pid_${name//[.-]/_}=$pid"
}

# web1 deploys the old certificate, then renews to the current one and
# the old file goes: only its store remembers the old one.
d1=$T/web1/certs/www.example.org
mkdir -p "$d1"
cp "$T/old.pem" "$d1/cert-1.pem"
ln -s cert-1.pem "$d1/cert.pem"
agent web1.example.org "$T/web1/certs"
mkdir -p "$T/web2/certs/mail.example.org"
cp "$T/mail.pem" "$T/web2/certs/mail.example.org/cert.pem"
agent web2.example.org "$T/web2/certs"
cp "$T/cur.pem" "$d1/cert-2.pem"
ln -sfn cert-2.pem "$d1/cert.pem"
rm "$d1/cert-1.pem"
# The agent notices the renewal through its directory watch.
for _ in $(seq 100); do
	[ "$(find "$T/web1.example.org.store" -name '*.rec' | wc -l)" -ge 2 ] && break
	sleep 0.05
done

serve() {
	local age=$1
	shift
	rm -rf "$T/ct/www"
	CTSOURCE_AGE_S=$age ctsource_build "$T/ct" "$build/ctctl" "$@" ||
	    { echo "FAIL: ctsource_build"; exit 1; }
}
serve $((2 * 86400)) "$T/old.pem" "$T/cur.pem" "$T/cur.pre.pem"
ctsource_start "$T/ct" || { echo "FAIL: ctsource_start"; exit 1; }
src=(--crtsh-url "$CTSOURCE_URL" --allow-http --config "$T/ct.conf"
    --trusted-issuer-certs "$T/trusted")

# 1. Known via the agent: deployed (cur, and its precert by tbs) and
# store history (old, no longer on disk).
run "$cc" -H www.example.org "${src[@]}" --agent web1.example.org \
    --state-dir "$(st)" -v
expect_status 0
expect_out "CT OK - www.example.org: 2 certificates in CT, all known"
expect_out "agents_ok=1;;;0;1"
expect_out "agent web1.example.org: 2 certificates"
run "$build/ctctl" agent --config "$T/ct.conf" web1.example.org certs \
    www.example.org --json
expect_status 0
expect_out '"source":"store"'
expect_out '"source":"deployed"'

# 2. Another agent for another name does not make www's certificates
# known; two agents are asked at once.
run "$cc" -H www.example.org "${src[@]}" --agent web2.example.org \
    --state-dir "$(st)"
expect_status 2
expect_out "unknown=2;;0;0"
run "$cc" -H www.example.org "${src[@]}" --agent web1.example.org \
    --agent web2.example.org --state-dir "$(st)"
expect_status 0
expect_out "agents_ok=2;;;0;2"

# 3. An unknown certificate with every agent answering: CRITICAL.
serve $((2 * 86400)) "$T/cur.pem" "$T/evil.pem"
run "$cc" -H www.example.org "${src[@]}" --agent web1.example.org \
    --state-dir "$(st)"
expect_status 2
expect_out "untrusted certificate"

# 4. An agent down: UNKNOWN naming it (never OK); configurable; a real
# finding still wins.
serve $((2 * 86400)) "$T/cur.pem"
kill "$pid_web2_example_org" 2>/dev/null
wait "$pid_web2_example_org" 2>/dev/null
run "$cc" -H www.example.org "${src[@]}" --agent web1.example.org \
    --agent web2.example.org --state-dir "$(st)"
expect_status 3
expect_out "[UNKNOWN] agent web2.example.org: connection refused"
expect_out "agents_failed=1;;;0;2"
run "$cc" -H www.example.org "${src[@]}" --agent web1.example.org \
    --agent web2.example.org --state-dir "$(st)" --agent-error-state WARNING
expect_status 1
serve $((2 * 86400)) "$T/cur.pem" "$T/evil.pem"
run "$cc" -H www.example.org "${src[@]}" --agent web1.example.org \
    --agent web2.example.org --state-dir "$(st)"
expect_status 2
expect_out "[UNKNOWN] agent web2.example.org"

# An unknown certificate while an agent is down may be that agent's: not
# CRITICAL then, but the agent error state, naming the agent.
serve $((2 * 86400)) "$T/cur.pem"
run "$cc" -H www.example.org "${src[@]}" --agent web2.example.org \
    --state-dir "$(st)"
expect_status 3
expect_out "on no server that answered; may be on web2.example.org, which could not be asked"
expect_out "unknown=1;;0;0"

# 5. An agent the config does not name; a config without a key line.
run "$cc" -H www.example.org "${src[@]}" --agent nosuch.example.org \
    --state-dir "$(st)"
expect_status 3
expect_out "agent nosuch.example.org: not in $T/ct.conf"
grep -v '^key' "$T/ct.conf" >"$T/nokey.conf"
run "$cc" -H www.example.org --crtsh-url "$CTSOURCE_URL" --allow-http \
    --config "$T/nokey.conf" --agent web1.example.org --state-dir "$(st)"
expect_status 3
expect_out 'no "key =" line'

# 6. Probes against what the agents know: the current certificate is
# fine; the old one means the server was not reloaded after the renewal;
# one no agent has is a stale reload or an interception.
. tests/tools/probeserver.sh
cleanup_cmds+=("probeserver_stop")
probeserver_start "$T/nginx" "cur:$T/cur.fullchain.pem:$T/cur.key" \
    "old:$T/old.fullchain.pem:$T/old.key" \
    "evil:$T/evil.fullchain.pem:$T/evil.key" ||
    { echo "FAIL: probeserver_start"; exit 1; }
serve $((2 * 86400)) "$T/cur.pem"
probe=(-H www.example.org "${src[@]}" --agent web1.example.org
    --log-list "$T/pki/loglist.json")
run "$cc" "${probe[@]}" --probe "127.0.0.1:$PORT_cur" --state-dir "$(st)"
expect_status 0
expect_out "[OK] probe 127.0.0.1:$PORT_cur serves a known trusted certificate"
run "$cc" "${probe[@]}" --probe "127.0.0.1:$PORT_old" --state-dir "$(st)"
expect_status 1
expect_out "server not reloaded after renewal"
run "$cc" "${probe[@]}" --probe "127.0.0.1:$PORT_evil" --state-dir "$(st)"
expect_status 2
expect_out "served certificate not deployed by any agent"
run "$cc" "${probe[@]}" --probe "127.0.0.1:$PORT_cur" \
    --probe "127.0.0.1:$PORT_evil" --state-dir "$(st)"
expect_status 2
expect_out "'127.0.0.1:$PORT_cur days_left'="
expect_out "'127.0.0.1:$PORT_evil days_left'="
probeserver_stop

# 7. An agent that accepts and never answers: -t ends the run, naming it.
python3 -c 'import socket,time
s=socket.socket(); s.bind(("127.0.0.1",0)); s.listen(16)
print(s.getsockname()[1], flush=True); time.sleep(30)' >"$T/silent.port" &
silent=$!
cleanup_cmds+=("kill $silent 2>/dev/null")
for _ in $(seq 50); do [ -s "$T/silent.port" ] && break; sleep 0.1; done
sed "s/^agent web1.example.org = 127.0.0.1:[0-9]*/agent web1.example.org = 127.0.0.1:$(cat "$T/silent.port")/" \
    "$T/ct.conf" >"$T/silent.conf"
t0=$(date +%s%N)
run "$cc" -H www.example.org --crtsh-url "$CTSOURCE_URL" --allow-http \
    --config "$T/silent.conf" --agent web1.example.org --state-dir "$(st)" -t 2
t1=$(date +%s%N)
expect_status 3
expect_out "[UNKNOWN] agent web1.example.org: timeout: -t ran out"
expect_no_out "CRITICAL"
if [ $(((t1 - t0) / 1000000)) -lt 2900 ]; then ok; else fail "-t 2 took $(((t1 - t0) / 1000000)) ms"; fi

finish
