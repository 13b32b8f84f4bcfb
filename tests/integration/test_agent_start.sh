#!/usr/bin/env bash
# ct-agent as a daemon, without a client: start-up on 127.0.0.1 port 0
# over a dehydrated-shaped tree of real certificates, --check-config,
# --import, learning on start and on a directory change, SIGHUP reload
# (good and bad), the deadline for a client that sends nothing, the
# privilege drop (when run as root), and a clean SIGTERM (exit 0; with an
# ASan build that includes LeakSanitizer's verdict). The request path
# (info, certs, refusals) is tested by test_agent.sh with real clients.
set -u
build=${1:-build}
agent=$build/ct-agent
mkct=$build/tests/mkct
. tests/integration/lib.sh
. tests/tools/pki.sh

for p in "$agent" "$mkct"; do
	if [ ! -x "$p" ]; then
		echo "FAIL: $p is missing (make all unit)"
		exit 1
	fi
done
for t in openssl base64 timeout; do
	if ! command -v $t >/dev/null; then
		echo "SKIP: $t is not installed (make deps)"
		exit 77
	fi
done

NAME=web1.example.org

# publine KEYFILE COMMENT: the "ct-ed25519 <base64> comment" line.
publine() {
	echo "ct-ed25519 $(openssl pkey -in "$1" -pubout -outform DER |
	    tail -c 32 | base64 -w0) $2"
}

# write_conf FILE STORE [EXTRA LINES]
write_conf() {
	cat >"$1" <<EOF
# ct-agent for test_agent_start.sh
name            = $NAME   # the name pollers ask for
listen          = 127.0.0.1:0
key             = $T/agent.key
authorized_keys = $T/authorized_keys
cert_dirs       = $T/dehydrated/certs
store           = $2
timeout         = 1 s
rescan_interval = 0
${3:-}
EOF
}

agent_pid=
agent_port=
# start_agent CONF LOG: starts ct-agent, waits for "listening on" and the
# end of start-up (its summary line).
start_agent() {
	local i
	: >"$2"
	"$agent" -c "$1" 2>>"$2" &
	agent_pid=$!
	for i in $(seq 200); do
		agent_port=$(sed -n 's/^ct-agent: listening on 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' "$2")
		[ -n "$agent_port" ] && grep -q 'authorized keys' "$2" && return 0
		kill -0 "$agent_pid" 2>/dev/null || break
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

# wait_log FILE TEXT [TENTHS]: until FILE holds TEXT (default 5 s).
wait_log() {
	local i
	for i in $(seq "${3:-50}"); do
		grep -qF -- "$2" "$1" && return 0
		sleep 0.1
	done
	return 1
}

log_has() {
	if grep -qF -- "$2" "$1"; then ok; else fail "log lacks '$2'"; sed 's/^/  log: /' "$1" | tail -20; fi
}

nrec() { find "$1" -maxdepth 1 -name '*.rec' 2>/dev/null | wc -l; }

# ------------------------------------------------------------ fixtures

openssl genpkey -algorithm ed25519 -out "$T/agent.key" 2>/dev/null &&
openssl genpkey -algorithm ed25519 -out "$T/poller.key" 2>/dev/null &&
openssl genpkey -algorithm ed25519 -out "$T/other.key" 2>/dev/null ||
	{ echo "FAIL: openssl genpkey ed25519"; exit 1; }
chmod 600 "$T"/*.key
publine "$T/poller.key" poller@test >"$T/authorized_keys"

pki_init "$T/pki" "$mkct" || { echo "FAIL: pki_init"; exit 1; }
pki_leaf "$T/pki" "$T/www1" r1 20261101000000Z 20270130000000Z \
    "www.example.org" || { echo "FAIL: pki_leaf"; exit 1; }
pki_leaf "$T/pki" "$T/www2" r1 20261201000000Z 20270301000000Z \
    "www.example.org" || exit 1
pki_leaf "$T/pki" "$T/cdn" r1 20261101000000Z 20270130000000Z \
    "cdn.example.org" || exit 1
pki_leaf "$T/pki" "$T/cdn2" r1 20261201000000Z 20270301000000Z \
    "cdn.example.org" || exit 1

# dehydrated: certs/NAME/cert.pem -> cert-TS.pem next to its chain,
# fullchain and a 0600 private key the agent must never open.
d=$T/dehydrated/certs/www.example.org
mkdir -p "$d"
cp "$T/www1.pem" "$d/cert-1700000000.pem"
ln -s cert-1700000000.pem "$d/cert.pem"
cp "$T/pki/r1.pem" "$d/chain-1700000000.pem"
ln -s chain-1700000000.pem "$d/chain.pem"
cat "$T/www1.pem" "$T/pki/r1.pem" >"$d/fullchain-1700000000.pem"
ln -s fullchain-1700000000.pem "$d/fullchain.pem"
cp "$T/www1.key" "$d/privkey-1700000000.pem"
chmod 600 "$d/privkey-1700000000.pem"
ln -s privkey-1700000000.pem "$d/privkey.pem"
# A key under an innocent name: read, recognised, skipped, never logged.
cp "$T/www1.key" "$d/stray.pem"
key_b64=$(sed -n 2p "$T/www1.key")

# ------------------------------------------------------------ command line

run "$agent" --version
expect_status 0
expect_out "ct-agent "
run "$agent" --bogus
expect_status 2
run "$agent" -c "$T/x.conf" surplus
expect_status 2
expect_err "unexpected argument 'surplus'"
run "$agent" -c "$T/x.conf" --import
expect_status 2
run "$agent" -c "$T/missing.conf"
expect_status 1
expect_err "$T/missing.conf: No such file or directory"

# ------------------------------------------------------------ --check-config

write_conf "$T/agent.conf" "$T/store"
run "$agent" -c "$T/agent.conf" --check-config
expect_status 0
expect_out "name: $NAME"
expect_out "public: $(publine "$T/agent.key" "" | sed 's/ $//')"
expect_out "authorized_keys: $T/authorized_keys (1 keys)"
expect_out "cert_dir: $T/dehydrated/certs"
expect_out "store: $T/store (does not exist yet; created at start)"
expect_out "configuration OK"
if [ ! -e "$T/store" ]; then ok; else fail "--check-config created the store"; fi

write_conf "$T/bad.conf" "$T/store" "colour = blue"
run "$agent" -c "$T/bad.conf" --check-config
expect_status 1
expect_err "$T/bad.conf:10: unknown key 'colour'"
write_conf "$T/bad.conf" "$T/store" "max_connections = many"
run "$agent" -c "$T/bad.conf"
expect_status 1
expect_err "$T/bad.conf:10: max_connections: 'many' is not a whole number"
# Broken key files: errors name the file and the line.
echo "ct-ed25519 AAAA short" >"$T/bad_keys"
write_conf "$T/bad.conf" "$T/store" "authorized_keys = $T/bad_keys"
sed -i "/^authorized_keys .*authorized_keys$/d" "$T/bad.conf"
run "$agent" -c "$T/bad.conf" --check-config
expect_status 1
expect_err "$T/bad_keys:1: "
run "$agent" -c "$T/bad.conf"
expect_status 1
expect_err "$T/bad_keys:1: "
write_conf "$T/bad.conf" "$T/store" "key = $T/authorized_keys"
sed -i "/^key .*agent.key$/d" "$T/bad.conf"
run "$agent" -c "$T/bad.conf"
expect_status 1
expect_err "$T/authorized_keys: "

# ------------------------------------------------------------ start, learn

start_agent "$T/agent.conf" "$T/agent.log"
log_has "$T/agent.log" "ct-agent: listening on 127.0.0.1:$agent_port"
log_has "$T/agent.log" "learned www.example.org"
log_has "$T/agent.log" "$d/stray.pem: skipped: "
log_has "$T/agent.log" "scan (start): 1 certificates deployed"
if [ "$(nrec "$T/store")" -eq 1 ]; then ok; else fail "$(nrec "$T/store") records after start, want 1"; fi
tbs1=$(sed -n 's/.*learned www.example.org (tbs_sha256 \([0-9a-f]\{64\}\)).*/\1/p' "$T/agent.log")
if [ -f "$T/store/$tbs1.rec" ]; then ok; else fail "no record $tbs1.rec"; fi
# The source is the first path the scan met it at (cert.pem or its target).
if grep -qE "^source: $d/cert(-1700000000)?\.pem$" "$T/store/$tbs1.rec"; then ok; else fail "record source: $(grep source "$T/store/$tbs1.rec")"; fi

# The port really listens; a client that sends nothing is cut off at the
# deadline (1 s) and logged in one line.
t0=$(date +%s%N)
if exec 3<>"/dev/tcp/127.0.0.1/$agent_port"; then
	timeout 5 cat <&3 >/dev/null
	exec 3<&-
	ms=$((($(date +%s%N) - t0) / 1000000))
	if [ $ms -ge 800 ] && [ $ms -lt 3000 ]; then ok; else fail "idle client cut off after $ms ms"; fi
else
	fail "cannot connect to 127.0.0.1:$agent_port"
fi
wait_log "$T/agent.log" "deadline passed"
log_has "$T/agent.log" "deadline passed in the TLS handshake"

# A renewal dropped into the directory is learned within seconds.
cp "$T/www2.pem" "$d/cert-1710000000.pem"
ln -sfn cert-1710000000.pem "$d/cert.pem"
for _ in $(seq 50); do [ "$(nrec "$T/store")" -ge 2 ] && break; sleep 0.1; done
if [ "$(nrec "$T/store")" -eq 2 ]; then ok; else fail "$(nrec "$T/store") records after the renewal, want 2"; fi
wait_log "$T/agent.log" "scan (change)"
log_has "$T/agent.log" "scan (change): 2 certificates deployed"
# A new name's directory, then its certificate.
mkdir "$T/dehydrated/certs/cdn.example.org"
sleep 0.3
cp "$T/cdn.pem" "$T/dehydrated/certs/cdn.example.org/cert-1.pem"
for _ in $(seq 80); do [ "$(nrec "$T/store")" -ge 3 ] && break; sleep 0.1; done
if [ "$(nrec "$T/store")" -eq 3 ]; then ok; else fail "$(nrec "$T/store") records after a new name, want 3"; fi
# The same directory deleted and made again at once: the new one is
# watched (not the old, dead inode), so a file put there later is seen.
rm -rf "$T/dehydrated/certs/cdn.example.org"
mkdir "$T/dehydrated/certs/cdn.example.org"
sleep 2.5
cp "$T/cdn2.pem" "$T/dehydrated/certs/cdn.example.org/cert-2.pem"
for _ in $(seq 80); do [ "$(nrec "$T/store")" -ge 4 ] && break; sleep 0.1; done
if [ "$(nrec "$T/store")" -eq 4 ]; then ok; else fail "$(nrec "$T/store") records after re-making a directory, want 4"; fi

# ------------------------------------------------------------ --import

rm -rf "$T/dehydrated/certs/cdn.example.org"
write_conf "$T/import.conf" "$T/istore"
run "$agent" -c "$T/import.conf" --import "$T/cdn.fullchain.pem"
expect_status 0
expect_out "1 new certificates recorded, 0 already known, 1 CA certificates skipped"
run "$agent" -c "$T/import.conf" --import "$T/cdn.pem" "$T/www1.pem"
expect_status 0
expect_out "1 new certificates recorded, 1 already known"
expect_out "holds 2 records"
if grep -qx "source: imported from $T/cdn.fullchain.pem" "$T/istore"/*.rec; then ok; else fail "import source"; fi
# Key files are refused: by name without opening, or by content.
run "$agent" -c "$T/import.conf" --import "$T/cdn.key" "$d/stray.pem" "$T/nope.pem"
expect_status 1
expect_err "$T/cdn.key: skipped: named like a private key (not opened)"
expect_err "$d/stray.pem: skipped: contains a private key"
expect_err "$T/nope.pem: No such file or directory"
expect_err "3 of 3 files failed"
expect_out "0 new certificates recorded"
if grep -qF -- "$key_b64" "$err_file" "$out_file"; then fail "key bytes printed"; else ok; fi
# Imported into the running agent's store: picked up while it runs.
run "$agent" -c "$T/agent.conf" --import "$T/cdn.fullchain.pem"
expect_status 0
expect_out "0 new certificates recorded, 1 already known"
pki_leaf "$T/pki" "$T/lb" r1 20261101000000Z 20270130000000Z \
    "lb.example.org" || exit 1
run "$agent" -c "$T/agent.conf" --import "$T/lb.pem"
expect_out "1 new certificates recorded"
wait_log "$T/agent.log" "records added by another process"
log_has "$T/agent.log" "store $T/store: 1 records added by another process; it holds 5"

# ------------------------------------------------------------ SIGHUP

publine "$T/other.key" other@test >>"$T/authorized_keys"
sed -i "s/^name .*/name = web2.example.org/" "$T/agent.conf"
kill -HUP "$agent_pid"
wait_log "$T/agent.log" "reloaded"
log_has "$T/agent.log" "reloaded $T/agent.conf: name web2.example.org"
log_has "$T/agent.log" "2 authorized keys"
log_has "$T/agent.log" "scan (reload)"
# A broken authorized_keys: the reload is refused, the agent runs on.
echo "ssh-rsa AAAA nope" >>"$T/authorized_keys"
kill -HUP "$agent_pid"
wait_log "$T/agent.log" "reload failed"
log_has "$T/agent.log" "reload failed: $T/authorized_keys:3: "
log_has "$T/agent.log" "keeping the running configuration"
# A new listen address needs a restart; the rest is taken.
sed -i '$d' "$T/authorized_keys"
sed -i "s/^listen .*/listen = 127.0.0.1:1/" "$T/agent.conf"
kill -HUP "$agent_pid"
wait_log "$T/agent.log" "needs a restart"
log_has "$T/agent.log" "still listening on 127.0.0.1:$agent_port"
if kill -0 "$agent_pid" 2>/dev/null; then ok; else fail "agent died on reload"; fi
if exec 3<>"/dev/tcp/127.0.0.1/$agent_port"; then ok; exec 3<&-; else fail "port closed after reload"; fi

# Nothing secret reached the log.
if grep -q 'BEGIN\|PRIVATE' "$T/agent.log"; then fail "PEM in the log"; else ok; fi
if grep -qF -- "$key_b64" "$T/agent.log"; then fail "key bytes in the log"; else ok; fi

# ------------------------------------------------------------ SIGTERM

kill -TERM "$agent_pid"
wait "$agent_pid"
st=$?
agent_pid=
if [ $st -eq 0 ]; then ok; else fail "exit status $st on SIGTERM"; sed 's/^/  log: /' "$T/agent.log" | tail -30; fi
log_has "$T/agent.log" "SIGTERM: stopping"
log_has "$T/agent.log" "ct-agent: stopped"
if grep -q 'handles were still open\|did not close' "$T/agent.log"; then fail "unclean loop shutdown"; else ok; fi

# ------------------------------------------------------------ privileges

# As root with user = nobody: every id switched, no way back, and the
# store belongs to the user.
if [ "$(id -u)" -eq 0 ] && id nobody >/dev/null 2>&1; then
	mkdir -p "$T/nstore"
	chown nobody "$T/nstore"
	chmod 755 "$T"
	write_conf "$T/drop.conf" "$T/nstore" "user = nobody"
	start_agent "$T/drop.conf" "$T/drop.log"
	uid=$(id -u nobody)
	if grep -qE "^Uid:[[:space:]]+$uid[[:space:]]+$uid[[:space:]]+$uid[[:space:]]+$uid$" "/proc/$agent_pid/status"; then ok; else fail "uids: $(grep Uid "/proc/$agent_pid/status")"; fi
	if grep -qE '^NoNewPrivs:[[:space:]]+1$' "/proc/$agent_pid/status"; then ok; else fail "NoNewPrivs not set"; fi
	if grep -qE '^CapEff:[[:space:]]+0+$' "/proc/$agent_pid/status"; then ok; else fail "capabilities left: $(grep CapEff "/proc/$agent_pid/status")"; fi
	owner=$(stat -c %U "$(find "$T/nstore" -name '*.rec' | head -1)")
	if [ "$owner" = nobody ]; then ok; else fail "record owned by '$owner'"; fi
	stop_agent
	# A user that does not exist stops the start.
	write_conf "$T/drop.conf" "$T/nstore" "user = no-such-user-ct"
	run "$agent" -c "$T/drop.conf"
	expect_status 1
	expect_err "user no-such-user-ct"
else
	echo "note: not root: the privilege drop is not tested"
fi

finish
