#!/usr/bin/env bash
# A real icinga2 daemon (Debian's 2.13), in a temporary prefix and as the
# current user, runs check_ct through the shipped CheckCommand "ct",
# templates and apply rules (a host with vars.ct_names gets the service
# "ct") against a real ct-agent on loopback and fixture certificates from
# the test PKI (--logged-certs stands in for the CT sources). The test forces the checks through the REST API
# (POST /v1/actions/reschedule-check) and reads the results back (GET
# /v1/objects/services): state, output and parsed perfdata must be what
# check_ct prints when run by hand with the same arguments. A copy of the
# CheckCommand pointed at an argv/environment dumper shows how every ct_*
# variable becomes an argument, and that the Cert Spotter token travels in
# the environment, never on the command line.
set -u
build=${1:-build}
. tests/integration/lib.sh
. tests/tools/pki.sh
# /usr/sbin is not in every user's PATH.
icinga2=$(PATH=$PATH:/usr/sbin command -v icinga2) ||
	{ echo "skip: icinga2 not installed (make deps installs it)"; exit 77; }
for t in curl openssl python3; do
	command -v $t >/dev/null || { echo "FAIL: $t not installed"; exit 1; }
done

b=$(cd "$build" && pwd) || exit 1
for p in check_ct ctctl ct-agent tests/mkct; do
	[ -x "$b/$p" ] || { echo "FAIL: $b/$p not built"; exit 1; }
done
log() { echo "--- $*"; }

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# ------------------------------------------------------------ fixtures
day() { date -u -d "$1" +%Y%m%d%H%M%SZ; }
pki_init "$T/pki" "$b/tests/mkct" || { echo "FAIL: pki_init"; exit 1; }
leaf() { pki_leaf "$T/pki" "$T/$1" "$2" "$(day "$3")" "$(day "$4")" "$5" ||
	{ echo "FAIL: pki_leaf $1"; exit 1; }; }
leaf cur r1 '-20 days' '+70 days' "www.example.org example.org"
leaf old r1 '-80 days' '+10 days' "www.example.org example.org"
leaf cdn r1 '-3 days' '+87 days' "www.example.org"
leaf evil evil '-2 days' '+88 days' "www.example.org"
# cur: deployed on the agent's server; old: a local file; cdn: nobody has
# it; evil: from an issuer nobody trusts. CT has all four.
mkdir -p "$T/agent/certs/www" "$T/local" "$T/logged" "$T/trusted" \
    "$T/poller"
cp "$T/cur.fullchain.pem" "$T/agent/certs/www/fullchain.pem"
cp "$T/old.pem" "$T/local/"
cp "$T/cur.pem" "$T/cur.pre.pem" "$T/old.pem" "$T/cdn.pre.pem" \
    "$T/cdn.pem" "$T/evil.pem" "$T/logged/"
cp "$T/pki/r1.pem" "$T/trusted/"

# ------------------------------------------------------------ ct-agent
"$b/ctctl" keygen -o "$T/agent/agent.key" -C agent >/dev/null 2>&1 &&
    "$b/ctctl" keygen -o "$T/poller/poller.key" -C poller >/dev/null 2>&1 ||
    { echo "FAIL: ctctl keygen"; exit 1; }
cp "$T/poller/poller.key.pub" "$T/agent/authorized_keys"
agent_port=$(free_port)
cat >"$T/agent/ct-agent.conf" <<EOF
name            = web1.example.org
listen          = 127.0.0.1:$agent_port
key             = $T/agent/agent.key
authorized_keys = $T/agent/authorized_keys
cert_dirs       = $T/agent/certs
store           = $T/agent/store
EOF
cat >"$T/poller/ct.conf" <<EOF
key = poller.key
agent web1.example.org = 127.0.0.1:$agent_port $(cat "$T/agent/agent.key.pub")
EOF
setsid "$b/ct-agent" -c "$T/agent/ct-agent.conf" >"$T/agent.log" 2>&1 &
agent_pid=$!
cleanup_cmds+=("kill $agent_pid 2>/dev/null; wait $agent_pid 2>/dev/null")
for i in $(seq 50); do
	grep -q 'listening on' "$T/agent.log" && break
	kill -0 $agent_pid 2>/dev/null || break
	sleep 0.1
done
grep -q 'listening on' "$T/agent.log" ||
	{ echo "FAIL: ct-agent did not start"; cat "$T/agent.log"; exit 1; }

# ------------------------------------------------------------ icinga2
I=$T/icinga
mkdir -p "$I/etc" "$I/pki" "$I/lib" "$I/log" "$I/cache" "$I/spool" \
    "$I/run" "$I/plugins"
mkdir -m 0700 "$T/state" "$T/state-hand"
node=ct-e2e.localhost
openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=ct-e2e-ca -days 2 \
    -keyout "$I/pki/ca.key" -out "$I/pki/ca.crt" 2>/dev/null &&
    openssl req -newkey rsa:2048 -nodes -subj "/CN=$node" \
    -keyout "$I/pki/node.key" -out "$I/pki/node.csr" 2>/dev/null &&
    openssl x509 -req -in "$I/pki/node.csr" -CA "$I/pki/ca.crt" \
    -CAkey "$I/pki/ca.key" -CAcreateserial -days 2 \
    -out "$I/pki/node.crt" 2>/dev/null ||
    { echo "FAIL: API certificates"; exit 1; }
api_port=$(free_port)
api_pw=$(openssl rand -hex 16)
api_token=e2e-token-$(openssl rand -hex 8)

# The shipped files, unchanged.
cp icinga/command-ct.conf icinga/templates-ct.conf \
    icinga/example-services.conf "$I/etc/"
# The dumper: prints its environment's token and exits 0; Icinga records
# the argv it was given in last_check_result.command.
cat >"$I/plugins/argv-dump" <<'EOF'
#!/bin/sh
echo "OK - token=${CT_CERTSPOTTER_TOKEN-<unset>} argc=$#"
EOF
chmod 0755 "$I/plugins/argv-dump"
# The same CheckCommand under another name and with the dumper as the
# program; the edit must touch exactly those two lines.
sed -e 's|^object CheckCommand "ct" {|object CheckCommand "ct-dump" {|' \
    -e 's|command = \[ PluginDir + "/check_ct" \]|command = [ "'"$I"'/plugins/argv-dump" ]|' \
    icinga/command-ct.conf >"$I/etc/command-ct-dump.conf"
n=$(diff icinga/command-ct.conf "$I/etc/command-ct-dump.conf" | grep -c '^>')
[ "$n" -eq 2 ] || { echo "FAIL: the dumper copy changed $n lines, not 2"; exit 1; }

cat >"$I/etc/icinga2.conf" <<EOF
const PluginDir = "$b"
const NodeName = "$node"
const ZoneName = NodeName
object Endpoint NodeName { }
object Zone ZoneName { endpoints = [ NodeName ] }
include <itl>
include "command-ct.conf"
include "command-ct-dump.conf"
include "templates-ct.conf"
include "example-services.conf"
object CheckerComponent "checker" { }
object FileLogger "main" {
	path = LogDir + "/icinga2.log"
	severity = "notice"
}
object ApiListener "api" {
	bind_host = "127.0.0.1"
	bind_port = $api_port
	cert_path = "$I/pki/node.crt"
	key_path = "$I/pki/node.key"
	ca_path = "$I/pki/ca.crt"
}
object ApiUser "e2e" {
	password = "$api_pw"
	permissions = [ "*" ]
}

/*
 * The host as an operator writes it: the shipped apply rules make its
 * service "ct"; the ct_* variables of the host reach check_ct.
 */
object Host "web1.example.org" {
	import "ct-agent-host"
	check_command = "dummy"
	enable_active_checks = false
	vars.ct_names = [ "www.example.org", "example.org" ]
	vars.ct_config = "$T/poller/ct.conf"
	vars.ct_logged_certs = [ "$T/logged" ]
	vars.ct_local_certs = [ "$T/local" ]
	vars.ct_trusted_issuer_certs = [ "$T/trusted" ]
	vars.ct_state_dir = "$T/state"
}
/* No ct_names anywhere: the required --hostname is missing. */
object Host "nameless" {
	check_command = "dummy"
	enable_active_checks = false
}
object Service "ct" {
	import "ct-service"
	host_name = "nameless"
}
/* The dumpers' host: no ct_* variables of its own. */
object Host "dump.example.org" {
	check_command = "dummy"
	enable_active_checks = false
}
/* Every variable set: the argv the CheckCommand makes of them. */
object Service "dump-all" {
	import "ct-service"
	check_command = "ct-dump"
	host_name = "dump.example.org"
	vars.ct_names = [ "a.example.org", ".b.example.org" ]
	vars.ct_subdomains = true
	vars.ct_agents = [ "web1.example.org", "web2.example.org" ]
	vars.ct_config = "/c/ct.conf"
	vars.ct_local_certs = [ "/l1", "/l2" ]
	vars.ct_db = "/db"
	vars.ct_learn = true
	vars.ct_accept_existing = true
	vars.ct_source = "crtsh,certspotter"
	vars.ct_crtsh_url = "https://crtsh.example/"
	vars.ct_certspotter_url = "https://cs.example/"
	vars.ct_certspotter_token_file = "/tok"
	vars.ct_certspotter_token = "$api_token"
	vars.ct_logged_certs = [ "/g1" ]
	vars.ct_include_expired = true
	vars.ct_max_downloads = 7
	vars.ct_trusted_issuer_certs = [ "/t1", "/t2" ]
	vars.ct_grace = 30
	vars.ct_source_error_state = "WARNING"
	vars.ct_agent_error_state = "CRITICAL"
	vars.ct_probe = [ "443", "mx.example.org:25" ]
	vars.ct_starttls = "smtp"
	vars.ct_probe_one = true
	vars.ct_port = 8443
	vars.ct_warning = "20"
	vars.ct_critical = "10%"
	vars.ct_min_scts = 3
	vars.ct_log_list = "/ll.json"
	vars.ct_log_list_url = "https://ll.example/list.json"
	vars.ct_expect_crtsh = true
	vars.ct_expect_certspotter = true
	vars.ct_probe_error_state = [ "UNKNOWN", "refused=WARNING" ]
	vars.ct_probe_timeout = 5
	vars.ct_state_dir = "/st"
	vars.ct_timeout = 40
	vars.ct_verbose = true
}
/* Flags false, nothing optional set: only the defaults. */
object Service "dump-none" {
	import "ct-service"
	check_command = "ct-dump"
	host_name = "dump.example.org"
	vars.ct_names = "www.example.org"
	vars.ct_subdomains = false
	vars.ct_learn = false
	vars.ct_verbose = false
	vars.ct_probe_one = false
	vars.ct_agents = [ ]
}
EOF

defs=(-DRunAsUser="$(id -un)" -DRunAsGroup="$(id -gn)"
    -DDataDir="$I/lib" -DLogDir="$I/log" -DCacheDir="$I/cache"
    -DSpoolDir="$I/spool" -DInitRunDir="$I/run" -DZonesDir="$I/etc/zones.d"
    -DConfigDir="$I/etc")
run "$icinga2" daemon -C -c "$I/etc/icinga2.conf" "${defs[@]}"
expect_status 0
[ "$last_status" -eq 0 ] || { finish; exit 1; }

setsid "$icinga2" daemon -c "$I/etc/icinga2.conf" "${defs[@]}" \
    >"$I/daemon.out" 2>&1 &
icinga_pid=$!
# The daemon (an umbrella process that forwards signals to its worker)
# forks into its own process group, which setsid made: ask it to stop,
# then make sure of the whole group.
cleanup_cmds+=("kill -TERM $icinga_pid 2>/dev/null;
	for i in \$(seq 100); do kill -0 -- -$icinga_pid 2>/dev/null || break; sleep 0.1; done;
	kill -KILL -- -$icinga_pid 2>/dev/null; wait $icinga_pid 2>/dev/null")

api() {
	local method=$1 path=$2
	shift 2
	curl -s --max-time 10 --cacert "$I/pki/ca.crt" \
	    --resolve "$node:$api_port:127.0.0.1" -u "e2e:$api_pw" \
	    -H 'Accept: application/json' -X "$method" \
	    "https://$node:$api_port$path" "$@"
}
for i in $(seq 150); do
	api GET /v1/status/IcingaApplication -o /dev/null -f && break
	kill -0 $icinga_pid 2>/dev/null || break
	sleep 0.2
done
api GET /v1/status/IcingaApplication -o /dev/null -f || {
	echo "FAIL: the icinga2 API did not come up"
	tail -20 "$I/daemon.out"
	exit 1
}
log "icinga2 up on 127.0.0.1:$api_port"

# Force every check now; results must be newer than this.
t_force=$(date +%s)
api POST /v1/actions/reschedule-check \
    -d '{"type":"Service","filter":"true","force":true}' >"$T/resched.json"
grep -q '"code":200' "$T/resched.json" ||
	{ echo "FAIL: reschedule-check"; cat "$T/resched.json"; exit 1; }

# result HOST!SERVICE OUT: waits for a check result newer than t_force and
# writes last_check_result as JSON to OUT.
result() {
	local i
	for i in $(seq 150); do
		api GET "/v1/objects/services" -G \
		    --data-urlencode "service=$1" \
		    --data-urlencode "attrs=last_check_result" >"$2.raw"
		if python3 - "$2.raw" "$t_force" "$2" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
cr = doc["results"][0]["attrs"]["last_check_result"]
if cr is None or cr["execution_start"] < float(sys.argv[2]):
    sys.exit(1)
json.dump(cr, open(sys.argv[3], "w"))
PY
		then return 0; fi
		sleep 0.2
	done
	echo "FAIL: no check result for $1 after 30 s"
	cat "$2.raw"
	tail -20 "$I/log/icinga2.log"
	return 1
}
# field FILE EXPR: a field of a saved check result (python expression on cr).
field() {
	python3 -c 'import json,sys; cr=json.load(open(sys.argv[1])); v=eval(sys.argv[2]); print(json.dumps(v) if isinstance(v,(list,dict)) else v)' "$1" "$2"
}
check() {
	if [ "$2" = "$3" ]; then ok; else
		fails=$((fails + 1)); echo "FAIL: $1"
		echo "  got:  $2"; echo "  want: $3"; fi
}

# ------------------------------------------------------------ 1. check_ct
result 'web1.example.org!ct' "$T/ct.json" || { finish; exit 1; }
# The argv Icinga built from the CheckCommand and the service.
want_argv=("$b/check_ct" --agent web1.example.org --config "$T/poller/ct.conf"
    --hostname www.example.org --hostname example.org
    --local-certs "$T/local" --logged-certs "$T/logged"
    --state-dir "$T/state" --timeout 50
    --trusted-issuer-certs "$T/trusted")
check "argv of the ct service" "$(field "$T/ct.json" 'cr["command"]')" \
    "$(python3 -c 'import json,sys; print(json.dumps(sys.argv[1:]))' "${want_argv[@]}")"

# The same arguments by hand, but for a state directory of its own, so
# that both runs start from the same fresh state.
hand_argv=("${want_argv[@]}")
hand_argv[14]=$T/state-hand
[ "${want_argv[13]}" = --state-dir ] || { echo "FAIL: argv layout"; exit 1; }
"${hand_argv[@]}" >"$T/hand.out" 2>"$T/hand.err"
hand_rc=$?
log "check_ct by hand: exit $hand_rc: $(head -1 "$T/hand.out")"
check "check_ct wrote to stderr" "$(cat "$T/hand.err")" ""
check "the fixtures give CRITICAL" "$hand_rc" 2
check "state" "$(field "$T/ct.json" 'int(cr["state"])')" "$hand_rc"
check "exit status" "$(field "$T/ct.json" 'int(cr["exit_status"])')" "$hand_rc"

# What Icinga makes of check_ct's output (PluginUtility::ParseCheckOutput):
# every line with '|' followed by '=' gives its text before the '|' to the
# output and the rest to the perfdata, which is split at blanks outside
# quotes.
python3 - "$T/hand.out" >"$T/hand.parsed" <<'PY'
import json, sys
text = open(sys.argv[1]).read().strip()
out, perf = [], []
for line in text.split("\n"):
    d = line.find("|")
    if d >= 0 and "=" in line[d:]:
        out.append(line[:d])
        perf.append(line[d + 1:])
    else:
        out.append(line)
items, cur, q = [], "", False
for ch in " ".join(perf):
    if ch == "'":
        q = not q
    if ch == " " and not q:
        if cur: items.append(cur)
        cur = ""
    else:
        cur += ch
if cur: items.append(cur)
print(json.dumps({"output": "\n".join(out).strip(), "perf": items}))
PY
hp() { python3 -c 'import json,sys; print(json.dumps(eval(sys.argv[2], {"h": json.load(open(sys.argv[1]))})))' "$T/hand.parsed" "$1"; }
check "first line" "$(field "$T/ct.json" 'cr["output"].split("\n")[0].rstrip()')" \
    "$(head -1 "$T/hand.out" | sed 's/ *|.*//')"
check "all output lines" "$(field "$T/ct.json" '[l.rstrip() for l in cr["output"].strip().split("\n")]')" \
    "$(hp '[l.rstrip() for l in h["output"].split("\n")]')"
# Perfdata: equal item by item; 'time' (the run time) only by label and
# unit, since two runs take different times.
norm='[p if not p.startswith("time=") else "time=%ss" % ("N" if p.split("=")[1].split(";")[0].rstrip("s").replace(".","",1).isdigit() else "?") for p in '
check "perfdata" "$(field "$T/ct.json" "${norm}cr['performance_data']]")" \
    "$(hp "${norm}h['perf']]")"
check "perfdata is not empty" "$(hp 'len(h["perf"]) > 0')" true
# The agent on loopback was asked and answered.
grep -q "agents_ok=1;" "$T/hand.out"
check "check_ct asked the real ct-agent (agents_ok=1)" "$?" 0
check "the untrusted certificate is reported" \
    "$(grep -c 'Evil CA' "$T/hand.out")" 1

# ------------------------------------------------------------ 2. no names
result 'nameless!ct' "$T/nameless.json" || { finish; exit 1; }
check "required ct_names: state" "$(field "$T/nameless.json" 'int(cr["state"])')" 3
check "required ct_names: message" \
    "$(field "$T/nameless.json" '"ct_names" in cr["output"] and "--hostname" in cr["output"]')" True

# ------------------------------------------------------------ 3. argv mapping
result 'dump.example.org!dump-all' "$T/all.json" || { finish; exit 1; }
# Icinga orders arguments without "order" by key; compare as sorted
# (option, value) pairs, and flags as options without a value.
pairs() {
	python3 - "$1" <<'PY'
import json, sys
argv = json.load(open(sys.argv[1]))["command"][1:]
flags = {"--subdomains", "--learn", "--accept-existing", "--include-expired",
         "--probe-one", "--expect-crtsh", "--expect-certspotter",
         "--verbose"}
out, i = [], 0
while i < len(argv):
    if argv[i] in flags:
        out.append(argv[i]); i += 1
    else:
        out.append(argv[i] + " " + argv[i + 1]); i += 2
print("\n".join(sorted(out)))
PY
}
want=$(sort <<EOF
--hostname a.example.org
--hostname .b.example.org
--subdomains
--agent web1.example.org
--agent web2.example.org
--config /c/ct.conf
--local-certs /l1
--local-certs /l2
--db /db
--learn
--accept-existing
--source crtsh,certspotter
--crtsh-url https://crtsh.example/
--certspotter-url https://cs.example/
--certspotter-token-file /tok
--logged-certs /g1
--include-expired
--max-downloads 7
--trusted-issuer-certs /t1
--trusted-issuer-certs /t2
--grace 30
--source-error-state WARNING
--agent-error-state CRITICAL
--probe 443
--probe mx.example.org:25
--starttls smtp
--probe-one
--port 8443
--warning 20
--critical 10%
--min-scts 3
--log-list /ll.json
--log-list-url https://ll.example/list.json
--expect-crtsh
--expect-certspotter
--probe-error-state UNKNOWN
--probe-error-state refused=WARNING
--probe-timeout 5
--state-dir /st
--timeout 40
--verbose
EOF
)
check "every ct_* variable becomes its option" "$(pairs "$T/all.json")" "$want"
check "the token reaches the environment" \
    "$(field "$T/all.json" 'cr["output"].split(" argc=")[0]')" "OK - token=$api_token"
check "the token is not on the command line" \
    "$(field "$T/all.json" 'any("'"$api_token"'" in a for a in cr["command"])')" False

result 'dump.example.org!dump-none' "$T/none.json" || { finish; exit 1; }
check "defaults only; false flags and an empty array give nothing" \
    "$(pairs "$T/none.json")" "$(sort <<EOF
--hostname www.example.org
--state-dir /var/lib/check_ct
--timeout 50
EOF
)"
check "an unset token is empty in the environment" \
    "$(field "$T/none.json" 'cr["output"].split(" argc=")[0]')" "OK - token="

# The daemon logged no configuration or execution errors of ours.
grep -E 'critical/|warning/(PluginUtility|Process|CheckCommand)' \
    "$I/log/icinga2.log" | grep -v "Non-optional macro 'ct_names'" >"$T/errs"
check "icinga2 logged no errors (but the one for host 'nameless')" \
    "$(cat "$T/errs")" ""
finish
