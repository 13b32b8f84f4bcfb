#!/usr/bin/env bash
# make demo: the project's main job on built-in sample data, no network.
#
# A throw-away test PKI; a real ct-agent on 127.0.0.1 serving a
# dehydrated-style directory (the current certificate and the one it
# renewed); a local crt.sh holding those, the current one's
# precertificate, a certificate for the name from the trusted issuer that
# no server has, and one from an untrusted CA. check_ct runs (CRITICAL,
# naming both), the legitimate one is imported into the agent
# (ct-agent --import, as for a certificate deployed on a CDN), and
# check_ct runs again (still CRITICAL for the untrusted CA's only).
set -u
build=${1:-build}
top=$(pwd)
. tests/tools/pki.sh
. tests/tools/ctsource.sh

T=$(mktemp -d)
agent_pid=
cleanup() {
	[ -n "$agent_pid" ] && kill "$agent_pid" 2>/dev/null && wait "$agent_pid" 2>/dev/null
	ctsource_stop
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
die() { echo "demo: $*" >&2; exit 1; }
day() { date -u -d "$1" +%Y%m%d%H%M%SZ; }

say "A test PKI: root, trusted issuer 'CT Test R1', untrusted 'Evil CA', two test logs"
pki_init "$T/pki" "$top/$build/tests/mkct" || die "pki_init failed"
pki_leaf "$T/pki" "$T/old" r1 "$(day '-80 days')" "$(day '+10 days')" \
    "www.example.org example.org" || die "pki_leaf failed"
pki_leaf "$T/pki" "$T/cur" r1 "$(day '-20 days')" "$(day '+70 days')" \
    "www.example.org example.org" || die "pki_leaf failed"
pki_leaf "$T/pki" "$T/cdn" r1 "$(day '-3 days')" "$(day '+87 days')" \
    "www.example.org" || die "pki_leaf failed"
pki_leaf "$T/pki" "$T/evil" evil "$(day '-2 days')" "$(day '+88 days')" \
    "www.example.org" || die "pki_leaf failed"

say "web1: a dehydrated directory with the current certificate and the one it renewed"
d=$T/dehydrated/certs/www.example.org
mkdir -p "$d"
cp "$T/old.pem" "$d/cert-1760000000.pem"
cp "$T/cur.pem" "$d/cert-1765000000.pem"
ln -s cert-1765000000.pem "$d/cert.pem"
cp "$T/cur.key" "$d/privkey-1765000000.pem"
chmod 600 "$d/privkey-1765000000.pem"
ls -l "$d" | sed 's/^/  /'

say "Keys: one for the agent, one for the poller (ctctl keygen)"
"$build/ctctl" keygen -o "$T/agent.key" -C web1 >/dev/null || die "keygen failed"
"$build/ctctl" keygen -o "$T/poller.key" -C icinga >/dev/null || die "keygen failed"
cp "$T/poller.key.pub" "$T/authorized_keys"
cat >"$T/ct-agent.conf" <<EOF
name            = web1.example.org
listen          = 127.0.0.1:0
key             = $T/agent.key
authorized_keys = $T/authorized_keys
cert_dirs       = $T/dehydrated/certs
store           = $T/agent-store
EOF
sed 's/^/  /' "$T/ct-agent.conf"

say "Starting ct-agent on 127.0.0.1"
"$build/ct-agent" -c "$T/ct-agent.conf" 2>"$T/agent.log" &
agent_pid=$!
port=
for _ in $(seq 100); do
	port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$T/agent.log" | head -1)
	[ -n "$port" ] && break
	kill -0 "$agent_pid" 2>/dev/null || break
	sleep 0.05
done
[ -n "$port" ] || die "ct-agent did not start: $(cat "$T/agent.log")"
echo "  listening on port $port"
cat >"$T/ct.conf" <<EOF
key = $T/poller.key
agent web1.example.org = 127.0.0.1:$port $(cat "$T/agent.key.pub")
EOF
"$build/ctctl" agent --config "$T/ct.conf" web1.example.org certs www.example.org |
    sed 's/^/  /'

say "A local crt.sh: what CT holds for www.example.org"
CTSOURCE_AGE_S=$((2 * 86400))
export CTSOURCE_AGE_S
ctsource_build "$T/ct" "$build/ctctl" "$T/cur.pem" "$T/cur.pre.pem" \
    "$T/old.pem" "$T/cdn.pre.pem" "$T/cdn.pem" "$T/evil.pem" ||
    die "ctsource_build failed"
ctsource_start "$T/ct" || die "the local crt.sh did not start"
python3 -c 'import json,sys
for r in json.load(open(sys.argv[1])):
    print("  crt.sh id %d  %-40s %s" % (r["id"], r["issuer_name"][:40], r["name_value"].replace("\n", " ")))' \
    "$T/ct/www/crtsh.json"

check() {
	echo "\$ check_ct -H www.example.org --agent web1.example.org --trusted-issuer-certs r1.pem ..."
	"$build/check_ct" -H www.example.org --agent web1.example.org \
	    --config "$T/ct.conf" --crtsh-url "$CTSOURCE_URL" --allow-http \
	    --trusted-issuer-certs "$T/pki/r1.pem" --state-dir "$T/state" \
	    -t 20
	echo "(exit status $?)"
}

say "check_ct: two certificates in CT that web1 never had"
check

say "The CDN's certificate is ours after all: ct-agent --import"
"$build/ct-agent" -c "$T/ct-agent.conf" --import "$T/cdn.pem" 2>&1 | sed 's/^/  /'
# The running agent notices the new record (it watches its store).
for _ in $(seq 50); do
	grep -q "records added by another process" "$T/agent.log" && break
	sleep 0.1
done
grep "records added by another process" "$T/agent.log" | sed 's/^/  /'

say "check_ct again: only the untrusted CA's certificate is left"
check

say "Done: everything was on 127.0.0.1 and is removed now"
