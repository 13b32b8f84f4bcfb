#!/usr/bin/env bash
# CA-file mode: the real ct-agent on 127.0.0.1 (ephemeral port) with a
# site PKI made here with the openssl CLI (ECDSA CA, RSA and ECDSA and
# Ed25519 leaves), asked by ctctl (and check_ct, through the same config):
#  1. ctctl agent info/certs works; ct-agent --check-config shows the
#     mode; the agent's certificate may certify its Ed25519 key (no
#     tls_key) and the poller's may be RSA with its own key file;
#  2. refused, each with one line a person can act on: a poller
#     certificate from another CA, an expired one (ctctl refuses to load
#     it; a forced one is refused by the agent), one whose name is not in
#     tls_peer_names (also after a SIGHUP that changes the list), an agent
#     certificate from another CA or for another name, a pinned poller;
#  3. the request signature still counts: a poller whose certificate the
#     CA issued but whose Ed25519 key is not in authorized_keys is
#     refused ("key not authorized"), and works once the key is added;
#  4. bad CA-mode settings stop the agent at start with the reason, and a
#     SIGHUP with a broken CA file keeps the running configuration.
set -u
build=${1:-build}
ctctl=$build/ctctl
agent=$build/ct-agent
. tests/integration/lib.sh

for p in "$ctctl" "$agent"; do
	if [ ! -x "$p" ]; then
		echo "FAIL: $p is missing (make all)"
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
P=$T/pki
mkdir -p "$P"

# ------------------------------------------------------------ the PKI

# ca NAME SUBJECT-CN: a self-signed ECDSA CA, P/NAME.{key,pem}, valid
# from 60 days ago (so that a poller 35 days in the past still trusts it).
ca() {
	faketime -f -60d \
	    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout "$P/$1.key" -out "$P/$1.pem" -days 365 -subj "/CN=$2" \
	    -addext basicConstraints=critical,CA:TRUE \
	    -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
}

# leaf OUT KEYFILE CA DNSNAME EKU: a certificate for the key in KEYFILE
# (made here as ECDSA unless it exists), issued by CA, valid from 36 days
# ago for 60 days.
leaf() {
	local out=$1 key=$2 issuer=$3 dns=$4 eku=$5
	[ -f "$key" ] || openssl genpkey -algorithm ec \
	    -pkeyopt ec_paramgen_curve:P-256 -out "$key" 2>/dev/null
	openssl req -new -key "$key" -subj "/CN=$dns" -out "$out.csr" \
	    2>/dev/null || return 1
	printf '%s\n' "basicConstraints=critical,CA:FALSE" \
	    "keyUsage=critical,digitalSignature" "extendedKeyUsage=$eku" \
	    "subjectAltName=DNS:$dns" >"$out.ext"
	faketime -f -36d openssl x509 -req -in "$out.csr" \
	    -CA "$P/$issuer.pem" -CAkey "$P/$issuer.key" -CAcreateserial \
	    -days 60 -extfile "$out.ext" -out "$out" 2>/dev/null
}

ca site "Site CA" || { echo "FAIL: CA"; exit 1; }
ca other "Other CA" || { echo "FAIL: other CA"; exit 1; }

"$ctctl" keygen -o "$T/agent.key" -C "agent $NAME" >/dev/null &&
"$ctctl" keygen -o "$T/poller.key" -C poller@icinga1 >/dev/null &&
"$ctctl" keygen -o "$T/stranger.key" -C stranger@icinga9 >/dev/null || {
	echo "FAIL: keygen"
	exit 1
}
cp "$T/poller.key.pub" "$T/authorized_keys"

# The agent's certificate is for its own Ed25519 key (no tls_key).
leaf "$P/agent.pem" "$T/agent.key" site $NAME serverAuth || exit 1
# The poller's: RSA, with its own key file.
openssl genpkey -algorithm rsa -pkeyopt rsa_keygen_bits:2048 \
    -out "$P/icinga1.key" 2>/dev/null
leaf "$P/icinga1.pem" "$P/icinga1.key" site icinga1.example.org clientAuth || exit 1
# Another poller the CA vouches for, and ones it does not.
leaf "$P/icinga2.pem" "$P/icinga2.key" site icinga2.example.org clientAuth || exit 1
leaf "$P/foreign.pem" "$P/foreign.key" other icinga1.example.org clientAuth || exit 1
# An agent certificate from the other CA, and one for another name.
leaf "$P/agent-other.pem" "$P/agent-other.key" other $NAME serverAuth || exit 1
leaf "$P/agent-web2.pem" "$P/agent-web2.key" site web2.example.org serverAuth || exit 1
# Expired a month ago (faketime steers openssl's clock).
openssl genpkey -algorithm ec -pkeyopt ec_paramgen_curve:P-256 \
    -out "$P/expired.key" 2>/dev/null
openssl req -new -key "$P/expired.key" -subj /CN=icinga1.example.org \
    -out "$P/expired.csr" 2>/dev/null
faketime -f -40d openssl x509 -req -in "$P/expired.csr" -CA "$P/site.pem" \
    -CAkey "$P/site.key" -CAcreateserial -days 10 \
    -extfile "$P/icinga1.pem.ext" -out "$P/expired.pem" 2>/dev/null
for f in agent icinga1 icinga2 foreign agent-other agent-web2 expired; do
	[ -s "$P/$f.pem" ] || { echo "FAIL: PKI: $f.pem"; exit 1; }
done
if openssl x509 -in "$P/expired.pem" -noout -checkend 0 >/dev/null; then
	echo "FAIL: PKI: expired.pem is not expired"
	exit 1
fi

# ------------------------------------------------------------ helpers

mkdir -p "$T/certs" # nothing deployed: the mode is what is tested

# write_agent_conf FILE [EXTRA LINES]
write_agent_conf() {
	cat >"$1" <<EOF
name            = $NAME
listen          = 127.0.0.1:0
key             = $T/agent.key
authorized_keys = $T/authorized_keys
cert_dirs       = $T/certs
store           = $T/store
timeout         = 2s
rate_limit      = 0
${2:-}
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

# write_ct_conf FILE [CA-MODE LINES]: the poller config, key pinned for
# the agent's answers.
write_ct_conf() {
	cat >"$1" <<EOF
key = $T/poller.key
agent $NAME = 127.0.0.1:$agent_port $(cat "$T/agent.key.pub")
${2:-}
EOF
}

ca_lines() { # CERT KEY [CAFILE]
	printf 'tls_ca = %s\ntls_cert = %s\n' "${3:-$P/site.pem}" "$1"
	[ -n "$2" ] && printf 'tls_key = %s\n' "$2"
}

# wait_log TEXT: until the agent log has TEXT (a reload is done).
wait_log() {
	local i
	for i in $(seq 100); do
		grep -qF -- "$1" "$T/agent.log" && return 0
		sleep 0.05
	done
	return 1
}

# ------------------------------------------------------------ 1. it works

AGENT_CA="tls_ca = $P/site.pem
tls_cert = $P/agent.pem
tls_peer_names = icinga1.example.org icinga2.example.org"
write_agent_conf "$T/agent.conf" "$AGENT_CA"

run "$agent" -c "$T/agent.conf" --check-config
expect_status 0
expect_out "tls: CA-file mode"
expect_out "tls_ca: $P/site.pem"
expect_out "tls_key: (none: tls_cert is for key)"
expect_out "tls_peer_names: icinga1.example.org icinga2.example.org"
expect_out "configuration OK"

start_agent "$T/agent.conf" "$T/agent.log"
if grep -qF "TLS by CA file $P/site.pem, poller names: icinga1.example.org icinga2.example.org" "$T/agent.log"; then ok; else fail "start line names the mode"; fi
write_ct_conf "$T/ct.conf" "$(ca_lines "$P/icinga1.pem" "$P/icinga1.key")"
cfg=(--config "$T/ct.conf")

run "$ctctl" agent "${cfg[@]}" $NAME info
expect_status 0
expect_out "name           $NAME"
run "$ctctl" agent "${cfg[@]}" $NAME certs --json
expect_status 0
jq_eq .name '*'
jq_eq 'len(.certs)' 0
# The agent logs the request with the signer's key.
fpr=$(python3 -c 'import base64,hashlib,sys
k=base64.b64decode(sys.argv[1].split()[1])
print("SHA256:"+base64.b64encode(hashlib.sha256(k).digest()).decode().rstrip("="))' "$(cat "$T/poller.key.pub")")
if grep -qF "key $fpr: info -: OK" "$T/agent.log"; then ok; else fail "agent log names the signer"; fi
# A second poller name of the list, with an ECDSA certificate.
write_ct_conf "$T/ct2.conf" "$(ca_lines "$P/icinga2.pem" "$P/icinga2.key")"
run "$ctctl" agent --config "$T/ct2.conf" $NAME info
expect_status 0
# Repeated requests: each a full handshake (no tickets in this mode).
run "$ctctl" agent "${cfg[@]}" $NAME info --repeat 3
expect_status 0
expect_err "3 requests to $NAME"
expect_err "0 resumed"

# check_ct asks the agent in CA-file mode through the same config. No CT
# source answers here (a refused port), so the check is UNKNOWN, but the
# agent part is done and counted.
run "$build/check_ct" -H www.example.org --agent $NAME --config "$T/ct.conf" \
    --crtsh-url http://127.0.0.1:9/ --allow-http --state-dir "$T/cc1" -v
expect_status 3
expect_out "agents_ok=1;;;0;1"
expect_out "agent $NAME: 0 certificates"

# ------------------------------------------------------------ 2. refusals

# A poller certificate from another CA: the agent refuses it.
write_ct_conf "$T/ct-foreign.conf" "$(ca_lines "$P/foreign.pem" "$P/foreign.key" "$P/site.pem")"
run "$ctctl" agent --config "$T/ct-foreign.conf" $NAME info
expect_status 1
expect_err "ctctl: $NAME: agent $NAME at 127.0.0.1:$agent_port refused our TLS certificate (TLS alert from peer:"
expect_err "it must be issued by a CA in the agent's tls_ca"
expect_err_lines 1
if wait_log "client certificate CN=icinga1.example.org is not issued by a CA in the CA file"; then ok; else fail "agent log: other CA"; fi
# check_ct with that certificate: the agent counts as failed, and why.
run "$build/check_ct" -H www.example.org --agent $NAME \
    --config "$T/ct-foreign.conf" --crtsh-url http://127.0.0.1:9/ \
    --allow-http --state-dir "$T/cc2" -v
expect_status 3
expect_out "agents_ok=0;;;0;1 agents_failed=1;;;0;1"
expect_out "CT UNKNOWN - www.example.org: agent $NAME: agent $NAME at 127.0.0.1:$agent_port refused our TLS certificate"

# An expired poller certificate: ctctl will not even load it ...
write_ct_conf "$T/ct-expired.conf" "$(ca_lines "$P/expired.pem" "$P/expired.key")"
run "$ctctl" agent --config "$T/ct-expired.conf" $NAME info
expect_status 1
expect_err "ctctl: CA-file mode: $P/expired.pem: certificate 1 (CN=icinga1.example.org) expired on"
expect_err_lines 1
# ... and one that thinks it is still valid is refused by the agent.
run faketime -f -35d "$ctctl" agent --config "$T/ct-expired.conf" $NAME info
expect_status 1
expect_err "refused our TLS certificate"
if wait_log "client certificate CN=icinga1.example.org expired on"; then ok; else fail "agent log: expired"; fi

# A certificate of the CA with a name not in tls_peer_names.
leaf "$P/icinga3.pem" "$P/icinga3.key" site icinga3.example.org clientAuth
write_ct_conf "$T/ct3.conf" "$(ca_lines "$P/icinga3.pem" "$P/icinga3.key")"
run "$ctctl" agent --config "$T/ct3.conf" $NAME info
expect_status 1
expect_err "refused our TLS certificate"
expect_err_lines 1
if wait_log "client certificate CN=icinga3.example.org is for icinga3.example.org: not one of the accepted peer names"; then ok; else fail "agent log: peer names"; fi

# A pinned poller (no CA-mode lines) against the CA-mode agent.
write_ct_conf "$T/ct-pinned.conf"
run "$ctctl" agent --config "$T/ct-pinned.conf" $NAME info
expect_status 1
expect_err "ctctl: $NAME: TLS handshake with agent $NAME at 127.0.0.1:$agent_port failed: peer certificate unusable for pinning"
expect_err "a peer in CA-file mode sends one its CA issued"
expect_err_lines 1

# ------------------------------------------------------------ 3. signatures

# The CA vouches for the certificate, but the request is signed with a
# key the agent does not know: refused, with the line to add.
run "$ctctl" agent "${cfg[@]}" --key "$T/stranger.key" $NAME info
expect_status 1
expect_err "key not authorized by agent $NAME (add this line to its authorized_keys: $(cat "$T/stranger.key.pub"))"
expect_err_lines 1
if wait_log "UNKNOWN_KEY"; then ok; else fail "agent log: unknown key"; fi
cp "$T/agent.log" "$T/agent.log.before"
# Added to authorized_keys (SIGHUP): the same certificate now works.
cat "$T/stranger.key.pub" >>"$T/authorized_keys"
kill -HUP "$agent_pid"
wait_log "reloaded $T/agent.conf" || fail "reload"
run "$ctctl" agent "${cfg[@]}" --key "$T/stranger.key" $NAME info
expect_status 0
cp "$T/poller.key.pub" "$T/authorized_keys"

# ------------------------------------------------------------ agent side

# The agent presents a certificate of another CA, then one for another
# name: the poller refuses it, saying so.
stop_agent
write_agent_conf "$T/agent-other.conf" "tls_ca = $P/site.pem
tls_cert = $P/agent-other.pem
tls_key = $P/agent-other.key"
start_agent "$T/agent-other.conf" "$T/agent.log"
write_ct_conf "$T/ct.conf" "$(ca_lines "$P/icinga1.pem" "$P/icinga1.key")"
run "$ctctl" agent "${cfg[@]}" $NAME info
expect_status 1
expect_err "ctctl: $NAME: TLS with agent $NAME at 127.0.0.1:$agent_port failed: server certificate CN=$NAME is not issued by a CA in the CA file"
expect_err_lines 1
stop_agent
write_agent_conf "$T/agent-web2.conf" "tls_ca = $P/site.pem
tls_cert = $P/agent-web2.pem
tls_key = $P/agent-web2.key"
start_agent "$T/agent-web2.conf" "$T/agent.log"
write_ct_conf "$T/ct.conf" "$(ca_lines "$P/icinga1.pem" "$P/icinga1.key")"
run "$ctctl" agent "${cfg[@]}" $NAME info
expect_status 1
expect_err "failed: server certificate is for web2.example.org, not for $NAME"
expect_err_lines 1
stop_agent

# A CA-mode poller against a pinning agent.
write_agent_conf "$T/agent-pinned.conf"
start_agent "$T/agent-pinned.conf" "$T/agent.log"
if grep -qF "TLS keys pinned" "$T/agent.log"; then ok; else fail "start line: pinned"; fi
write_ct_conf "$T/ct.conf" "$(ca_lines "$P/icinga1.pem" "$P/icinga1.key")"
run "$ctctl" agent "${cfg[@]}" $NAME info
expect_status 1
expect_err "failed: server certificate CN=$NAME is not issued by a CA in the CA file"
expect_err_lines 1
stop_agent

# Without tls_peer_names: any poller certificate the CA issued.
write_agent_conf "$T/agent-any.conf" "tls_ca = $P/site.pem
tls_cert = $P/agent.pem"
start_agent "$T/agent-any.conf" "$T/agent.log"
if grep -qF "poller names: any" "$T/agent.log"; then ok; else fail "start line: any"; fi
write_ct_conf "$T/ct3.conf" "$(ca_lines "$P/icinga3.pem" "$P/icinga3.key")"
run "$ctctl" agent --config "$T/ct3.conf" $NAME info
expect_status 0
# Still not one from another CA.
write_ct_conf "$T/ct-foreign.conf" "$(ca_lines "$P/foreign.pem" "$P/foreign.key")"
run "$ctctl" agent --config "$T/ct-foreign.conf" $NAME info
expect_status 1
expect_err "refused our TLS certificate"
stop_agent

# ------------------------------------------------------------ 4. settings

write_agent_conf "$T/agent.conf" "$AGENT_CA"
start_agent "$T/agent.conf" "$T/agent.log"
write_ct_conf "$T/ct.conf" "$(ca_lines "$P/icinga1.pem" "$P/icinga1.key")"
write_ct_conf "$T/ct2.conf" "$(ca_lines "$P/icinga2.pem" "$P/icinga2.key")"
run "$ctctl" agent "${cfg[@]}" $NAME info
expect_status 0
# A reload that narrows tls_peer_names refuses icinga1 from then on.
write_agent_conf "$T/agent.conf" "tls_ca = $P/site.pem
tls_cert = $P/agent.pem
tls_peer_names = icinga2.example.org"
kill -HUP "$agent_pid"
wait_log "poller names: icinga2.example.org" || fail "reload with new names"
run "$ctctl" agent "${cfg[@]}" $NAME info
expect_status 1
expect_err "refused our TLS certificate"
run "$ctctl" agent --config "$T/ct2.conf" $NAME info
expect_status 0
# A reload with a broken CA file keeps the running configuration.
echo "not a certificate" >"$T/broken.pem"
write_agent_conf "$T/agent.conf" "tls_ca = $T/broken.pem
tls_cert = $P/agent.pem"
kill -HUP "$agent_pid"
if wait_log "reload failed: $T/broken.pem: no CERTIFICATE block; keeping the running configuration"; then ok; else fail "reload with a broken CA file"; fi
run "$ctctl" agent --config "$T/ct2.conf" $NAME info
expect_status 0
stop_agent

# Bad settings stop the agent at start, naming the reason.
start_fails() { # CONF-LINES WANT
	write_agent_conf "$T/bad.conf" "$1"
	run "$agent" -c "$T/bad.conf"
	expect_status 1
	expect_err "$2"
}
start_fails "tls_ca = $P/site.pem" "'tls_ca' needs 'tls_cert'"
start_fails "tls_cert = $P/agent.pem" "'tls_cert' belongs to CA-file mode"
start_fails "tls_ca = $T/nonexistent.pem
tls_cert = $P/agent.pem" "$T/nonexistent.pem: No such file or directory"
start_fails "tls_ca = $P/site.pem
tls_cert = $P/agent-other.pem" "$P/agent-other.pem: the certificate is not for this side's Ed25519 key"
start_fails "tls_ca = $P/site.pem
tls_cert = $P/icinga1.pem
tls_key = $P/icinga2.key" "$P/icinga2.key does not hold the key of the certificate in $P/icinga1.pem"
start_fails "tls_ca = $P/site.pem
tls_cert = $P/expired.pem
tls_key = $P/expired.key" "$P/expired.pem: certificate 1 (CN=icinga1.example.org) expired on"
# --check-config says the same.
run "$agent" -c "$T/bad.conf" --check-config
expect_status 1
expect_err "expired on"
expect_out "configuration has errors"

finish
