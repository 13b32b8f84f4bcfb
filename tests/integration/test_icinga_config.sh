#!/usr/bin/env bash
# The shipped Icinga 2 config (icinga/) against Debian's icinga2 and its
# ITL: `icinga2 daemon -C` in temporary config trees, as a single node and
# as the distributed setup of example-zones.conf (the CheckCommand and
# templates in the global zone, the check on a satellite through
# command_endpoint, or scheduled by the satellite); the objects the apply
# rules make; broken copies that must fail; and the CheckCommand against
# check_ct's option table (every option exposed, none invented).
set -u
build=${1:-build}
. tests/integration/lib.sh
# /usr/sbin is not in every user's PATH.
icinga2=$(PATH=$PATH:/usr/sbin command -v icinga2) ||
	{ echo "skip: icinga2 not installed (make deps installs it)"; exit 77; }
command -v python3 >/dev/null || { echo "FAIL: python3 not installed"; exit 1; }

b=$(cd "$build" && pwd) || exit 1

# validate TREE: icinga2 daemon -C on TREE/etc/icinga2.conf, every path
# the daemon writes redirected into TREE, as the current user.
validate() {
	local t=$1
	shift
	mkdir -p "$t/lib" "$t/log" "$t/cache" "$t/spool" "$t/run"
	run "$icinga2" daemon -C -c "$t/etc/icinga2.conf" \
	    -DRunAsUser="$(id -un)" -DRunAsGroup="$(id -gn)" \
	    -DDataDir="$t/lib" -DLogDir="$t/log" -DCacheDir="$t/cache" \
	    -DSpoolDir="$t/spool" -DInitRunDir="$t/run" \
	    -DZonesDir="$t/etc/zones.d" -DConfigDir="$t/etc" "$@"
}

# objects TREE: the objects of the last validation (the daemon's
# icinga2.debug, netstrings of JSON) as one JSON object per line,
# {"type", "name", "zone", "vars", ...}.
objects() {
	python3 - "$1/cache/icinga2.debug" <<'PY'
import json, sys
d = open(sys.argv[1], "rb").read()
i = 0
while i < len(d):
    j = d.index(b":", i)
    n = int(d[i:j])
    o = json.loads(d[j + 1:j + 1 + n])
    i = j + 1 + n + 1
    p = o["properties"]
    if o["type"] in ("Service", "Host", "CheckCommand"):
        print(json.dumps({"type": o["type"], "name": p["__name"],
            "zone": p.get("zone"),
            "command_endpoint": p.get("command_endpoint") or "",
            "check_interval": p.get("check_interval"),
            "retry_interval": p.get("retry_interval"),
            "check_command": p.get("check_command"),
            "timeout": p.get("timeout"),
            "vars": p.get("vars") or {}}, sort_keys=True))
PY
}

# obj TREE TYPE NAME EXPR: EXPR (python, on the object o) for one object.
obj() {
	objects "$1" | python3 -c '
import json, sys
found = [o for o in map(json.loads, sys.stdin)
         if o["type"] == sys.argv[1] and o["name"] == sys.argv[2]]
if not found:
    print("<no such object>")
else:
    o = found[0]
    v = eval(sys.argv[3])
    print(json.dumps(v, sort_keys=True) if isinstance(v, (list, dict)) else v)' "$2" "$3" "$4"
}
check() {
	if [ "$2" = "$3" ]; then ok; else
		fails=$((fails + 1)); echo "FAIL: $1"
		echo "  got:  $2"; echo "  want: $3"; fi
}

# ------------------------------------------------------------ single node
# /etc/icinga2/icinga2.conf as Debian ships it, trimmed to what has no
# side effects: the constants, the whole ITL, our files, test hosts.
S=$T/single
mkdir -p "$S/etc/conf.d"
cp icinga/command-ct.conf icinga/templates-ct.conf \
    icinga/example-services.conf "$S/etc/conf.d/"
cat >"$S/etc/icinga2.conf" <<EOF
const PluginDir = "$b"
const ManubulonPluginDir = "$b"
const PluginContribDir = "$b"
const NodeName = "icinga.example.org"
const ZoneName = NodeName
const TicketSalt = ""
include <itl>
include <plugins>
include <plugins-contrib>
include <manubulon>
include <windows-plugins>
include <nscp>
include_recursive "conf.d"
EOF
cat >"$S/etc/conf.d/hosts.conf" <<'EOF'
object Host "web1.example.org" {
	import "ct-agent-host"
	check_command = "hostalive"
	address = "192.0.2.10"
	vars.ct_names = [ "www.example.org", "example.org" ]
	vars.ct_probe_ports = [ 443, 25, "587" ]
}
object Host "mail.example.org" {
	check_command = "hostalive"
	address = "192.0.2.11"
	vars.ct_names = [ "mail.example.org" ]
	vars.ct_agents = [ "mx1.example.org", "mx2.example.org" ]
	vars.ct_trusted_issuer_certs = [ "/etc/ct/own-ca.pem" ]
	vars.ct_probe_ports = [ 993 ]
}
object Host "db.example.org" {
	check_command = "hostalive"
	address = "192.0.2.12"
}
EOF
validate "$S"
expect_status 0
expect_out "Finished validating the configuration file(s)."
expect_no_out "critical/"
expect_no_out "warning/"

# The CheckCommand: its timeout above ct_timeout, its program in PluginDir.
check "CheckCommand ct: timeout" "$(obj "$S" CheckCommand ct 'o["timeout"]')" 60
check "CheckCommand ct: ct_timeout default below it" \
    "$(obj "$S" CheckCommand ct 'o["vars"]["ct_timeout"] < o["timeout"]')" True

# The apply rules: services only for hosts with ct_names, one probe per port.
check "services made by the apply rules" \
    "$(objects "$S" | python3 -c '
import json, sys
print(" ".join(sorted(o["name"] for o in map(json.loads, sys.stdin) if o["type"] == "Service")))')" \
    "mail.example.org!ct mail.example.org!ct-probe-993 web1.example.org!ct web1.example.org!ct-probe-25 web1.example.org!ct-probe-443 web1.example.org!ct-probe-587"
check "ct: every hour, retry 10 min" \
    "$(obj "$S" Service 'web1.example.org!ct' '[o["check_command"], o["check_interval"], o["retry_interval"]]')" \
    '["ct", 3600, 600]'
check "probe: every 15 min" \
    "$(obj "$S" Service 'web1.example.org!ct-probe-443' '[o["check_command"], o["check_interval"], o["retry_interval"]]')" \
    '["ct", 900, 300]'
check "ct: names, default trusted issuers" \
    "$(obj "$S" Service 'web1.example.org!ct' 'o["vars"]')" \
    '{"ct_names": ["www.example.org", "example.org"], "ct_trusted_issuer_certs": ["/etc/ct/trusted-issuers"]}'
check "ct-agent-host: the host is its own agent" \
    "$(obj "$S" Host 'web1.example.org' 'o["vars"]["ct_agents"]')" '["web1.example.org"]'
check "a host's own trusted issuers are kept (no service override)" \
    "$(obj "$S" Service 'mail.example.org!ct' '"ct_trusted_issuer_certs" in o["vars"]')" False
check "probe 443: the port, no STARTTLS (check_ct picks it by port)" \
    "$(obj "$S" Service 'web1.example.org!ct-probe-443' '[o["vars"]["ct_probe"], o["vars"].get("ct_starttls")]')" \
    '[["443"], null]'
check "probe: without agents (no CT judged every 15 min)" \
    "$(obj "$S" Service 'web1.example.org!ct-probe-443' 'o["vars"]["ct_agents"]')" '[]'
check "probe 587: the port as a string" \
    "$(obj "$S" Service 'web1.example.org!ct-probe-587' 'o["vars"]["ct_probe"]')" '["587"]'
check "no command_endpoint without vars.ct_endpoint" \
    "$(obj "$S" Service 'web1.example.org!ct' 'o["command_endpoint"]')" ""

# ------------------------------------------------------------ distributed
# The master of example-zones.conf: zones.conf is the example verbatim;
# the CheckCommand, the templates and the apply rules in the global zone;
# a host checked through command_endpoint in zones.d/master, and a host
# the satellite schedules itself in zones.d/dmz.
Z=$T/zones
mkdir -p "$Z/etc/zones.d/global-templates" "$Z/etc/zones.d/master" \
    "$Z/etc/zones.d/dmz"
cp icinga/example-zones.conf "$Z/etc/zones.conf"
cp icinga/command-ct.conf icinga/templates-ct.conf \
    icinga/example-services.conf "$Z/etc/zones.d/global-templates/"
cat >"$Z/etc/icinga2.conf" <<EOF
const PluginDir = "$b"
const NodeName = "master1.example.org"
const ZoneName = "master"
include "zones.conf"
include <itl>
include <plugins>
EOF
cat >"$Z/etc/zones.d/master/hosts.conf" <<'EOF'
object Host "web1.example.org" {
	import "ct-agent-host"
	check_command = "dummy"
	vars.ct_names = [ "www.example.org" ]
	vars.ct_probe_ports = [ 443 ]
	vars.ct_endpoint = "satellite-dmz.example.org"
}
EOF
cat >"$Z/etc/zones.d/dmz/hosts.conf" <<'EOF'
object Host "web2.example.org" {
	import "ct-agent-host"
	check_command = "dummy"
	vars.ct_names = [ "shop.example.org" ]
}
EOF
validate "$Z"
expect_status 0
expect_out "Finished validating the configuration file(s)."
expect_no_out "critical/"
check "zones: ct through command_endpoint on the satellite" \
    "$(obj "$Z" Service 'web1.example.org!ct' '[o["zone"], o["command_endpoint"]]')" \
    '["master", "satellite-dmz.example.org"]'
check "zones: the probe too" \
    "$(obj "$Z" Service 'web1.example.org!ct-probe-443' '[o["zone"], o["command_endpoint"]]')" \
    '["master", "satellite-dmz.example.org"]'
check "zones: a host in zones.d/dmz is checked by the satellite" \
    "$(obj "$Z" Service 'web2.example.org!ct' '[o["zone"], o["command_endpoint"]]')" \
    '["dmz", ""]'
check "zones: the CheckCommand lives in the global zone" \
    "$(obj "$Z" CheckCommand ct 'o["zone"]')" global-templates

# ------------------------------------------------------------ must fail
# A syntax error in a copy of the CheckCommand.
N=$T/broken
cp -r "$S" "$N"
rm -rf "$N/cache" "$N/lib" "$N/log" "$N/spool" "$N/run"
sed -i '0,/set_if = "\$ct_subdomains\$"/s//set_if = "$ct_subdomains$/' \
    "$N/etc/conf.d/command-ct.conf"
cmp -s icinga/command-ct.conf "$N/etc/conf.d/command-ct.conf" &&
	{ echo "FAIL: the broken copy is not broken"; exit 1; }
validate "$N"
expect_status 1
expect_out "critical/config"
expect_no_out "Finished validating"
# An attribute Icinga does not know, in a copy of the templates.
cp icinga/command-ct.conf "$N/etc/conf.d/"
sed -i 's/check_interval = 1h/check_intervall = 1h/' \
    "$N/etc/conf.d/templates-ct.conf"
validate "$N"
expect_status 1
expect_out "check_intervall"
# command_endpoint to an endpoint outside the checkable's zone: the dmz
# host asks the master to run its check.
cp -r "$Z" "$T/badzone"
cat >>"$T/badzone/etc/zones.d/dmz/hosts.conf" <<'EOF'
object Host "web3.example.org" {
	check_command = "dummy"
	vars.ct_names = [ "www3.example.org" ]
	vars.ct_endpoint = "master1.example.org"
}
EOF
validate "$T/badzone"
expect_status 1
expect_out "Command endpoint must be in zone"
# A host without ct_names gets no service; a service that names the
# command without names is still valid config (the missing macro is a
# run-time error, tested in test_icinga_e2e.sh).

# ------------------------------------------------------------ options
# check_ct itself is the truth: every option its --help names is an
# argument of the CheckCommand, and every argument of the CheckCommand is
# an option check_ct takes (asked one by one without a value: "needs a
# value" for an option with an argument, "unknown option" for none), with
# value = "$ct_...$" for those and set_if for flags, and a description.
# Left out on purpose: --help, --version, --interactive (a terminal
# prompt), --expect-sslmate (the older tool's name of --expect-certspotter).
"$b/check_ct" --help >"$T/help.txt"
check "check_ct --help exits 3" "$?" 3
for o in $(sed -n 's/^\t\t"--\([a-z0-9-]*\)" = {$/\1/p' icinga/command-ct.conf); do
	"$b/check_ct" --"$o" >"$T/opt.out" 2>&1
	if grep -q "unknown option" "$T/opt.out"; then
		echo "--$o arg"
	elif grep -q "needs a value" "$T/opt.out"; then
		echo "--$o value"
	else
		echo "--$o flag"
	fi
done >"$T/kinds.txt"
run python3 - "$T/help.txt" icinga/command-ct.conf "$T/kinds.txt" <<'PY'
import re, sys
help_opts = set(re.findall(r"--([a-z][a-z0-9-]*[a-z0-9])", open(sys.argv[1]).read()))
conf = open(sys.argv[2]).read()
kinds = dict((l.split()[0][2:], l.split()[1])
             for l in open(sys.argv[3]) if l.strip())
skip = {"help", "version", "interactive", "expect-sslmate"}
args = dict(re.findall(r'^\t\t"--([a-z0-9-]+)" = \{(.*?)^\t\t\}', conf, re.S | re.M))
bad = []
for o in sorted(help_opts - skip):
    if o not in args:
        bad.append("--%s: in check_ct --help, not in the CheckCommand" % o)
for o, body in sorted(args.items()):
    k = kinds.get(o)
    if k == "arg":
        bad.append("--%s: in the CheckCommand, check_ct does not know it" % o)
    elif k == "flag" and "set_if" not in body:
        bad.append("--%s: check_ct takes it as a flag: no set_if" % o)
    elif k == "value" and not re.search(r'value = "\$ct_[a-z_]+\$"', body):
        bad.append("--%s: takes a value: no value = \"$ct_...$\"" % o)
    if 'description = "' not in body:
        bad.append("--%s: no description" % o)
for v in re.findall(r"\$([a-z_.]+)\$", conf):
    if not v.startswith("ct_"):
        bad.append("macro $%s$ is not a ct_ variable" % v)
print("\n".join(bad) if bad else "all %d options" % len(args))
sys.exit(1 if bad else 0)
PY
expect_status 0
finish
