#!/usr/bin/env bash
# Benchmark: ct-agent asked through its command-line client, against NRPE
# asked through check_nrpe, on this machine, in this run.
#
#   ours:  ctctl agent web1.example.org certs www.example.org
#          (100 store records for the name; TLS 1.3, pinned Ed25519 keys,
#          signed request and response)
#   NRPE:  check_nrpe -H 127.0.0.1 -p PORT -c check_dummy
#          (Debian's nagios-nrpe-server running check_dummy 0 ok)
#
# Each "fresh" request is a new process, as an operator or Icinga runs
# it: process start, key load, a full TLS handshake. "resumed" runs
# `ctctl agent ... --repeat 200` processes: 200 requests one after
# another in one process, each resuming the previous TLS session (one
# full handshake per 200). 1 and 16 concurrent clients, each for
# AGENT_BENCH_SECONDS (default 3) seconds; requests/s over the wall
# time, p50/p99 of the per-request latency. Then the agent's RSS with
# 1,000 store records. Without nrpe/check_nrpe installed (make deps), only
# ours is measured.
set -euo pipefail
build=${1:-build}
secs=${AGENT_BENCH_SECONDS:-3}
ctctl=$build/ctctl
agent=$build/ct-agent
NRPE=/usr/sbin/nrpe
CHECK_NRPE=/usr/lib/nagios/plugins/check_nrpe
CHECK_DUMMY=/usr/lib/nagios/plugins/check_dummy
NAME=web1.example.org
. tests/tools/pki.sh

for p in "$ctctl" "$agent" "$build/tests/mkct"; do
	[ -x "$p" ] || { echo "agent bench: $p missing (make all unit)"; exit 1; }
done
T=$(mktemp -d)
chmod 755 "$T"
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$T"
}
trap cleanup EXIT

free_port() {
	python3 -c 'import socket
s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# COUNT distinct certificates for www.example.org, fast (one openssl ca).
mass_certs() {
	local out=$1 n=$2 d=$T/mass
	rm -rf "$d" && mkdir -p "$d/out"
	openssl ecparam -name prime256v1 -genkey -noout -out "$d/k" 2>/dev/null
	openssl req -new -key "$d/k" -subj "/CN=www.example.org" -out "$d/csr" \
	    -config "$T/pki/ca.cnf" 2>/dev/null
	pki_leaf_ext "www.example.org" "" >"$d/ext"
	: >"$T/pki/index.txt"
	openssl rand -hex 8 >"$T/pki/serial"
	openssl ca -batch -config "$T/pki/ca.cnf" -notext \
	    -cert "$T/pki/r1.pem" -keyfile "$T/pki/r1.key" -extfile "$d/ext" \
	    -extensions leaf -startdate 20261101000000Z \
	    -enddate 20270130000000Z -preserveDN -outdir "$d/out" \
	    -out "$d/last.pem" -infiles $(yes "$d/csr" | head -n "$n") \
	    2>/dev/null
	cat "$d/out"/*.pem >"$out"
}

# start_agent STORE LOG: prints the port.
start_agent() {
	cat >"$T/agent-$1.conf" <<EOF
name            = $NAME
listen          = 127.0.0.1:0
key             = $T/agent.key
authorized_keys = $T/authorized_keys
cert_dirs       = $T/empty
store           = $T/$1
rate_limit      = 0     # the benchmark is one busy address
EOF
	"$agent" -c "$T/agent-$1.conf" 2>"$T/$1.log" &
	pids+=($!)
	agent_pid=$!
	for _ in $(seq 100); do
		port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$T/$1.log" | head -1)
		[ -n "$port" ] && grep -q 'authorized keys' "$T/$1.log" && return 0
		sleep 0.05
	done
	echo "agent bench: ct-agent did not start"; cat "$T/$1.log"; exit 1
}

rss() { awk -v k="$2" '$1 == k":" {print $2}' "/proc/$1/status"; }

# The load driver, in C so that it costs little next to what it measures
# (a Python driver's fork from a threaded interpreter capped out near 200
# spawns/s here): CONC worker processes, each posix_spawn + waitpid in a
# loop until the deadline. spawn mode runs CMD once per request; repeat
# mode runs CMD --repeat N --latencies FILE per process. Prints one JSON
# line: requests, failures, wall time, req/s, p50 and p99 in ms.
cat >"$T/drive.c" <<'EOF'
#define _GNU_SOURCE
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
extern char **environ;
static double
now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}
static int
cmpd(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}
/* One worker: requests until the deadline, latencies (ms) to its file. */
static void
worker(int k, int repeat, const char *rep, const char *tmp, double end,
    char **cmd, int nc, posix_spawn_file_actions_t *fa)
{
	char out[512], lat[512], line[64];
	FILE *o, *l;
	long fails = 0;
	int it = 0, st;
	pid_t p;
	double s, d;

	snprintf(out, sizeof(out), "%s/w%d", tmp, k);
	if ((o = fopen(out, "w")) == NULL)
		_exit(1);
	while (now() < end) {
		if (repeat) {
			snprintf(lat, sizeof(lat), "%s/l%d-%d", tmp, k, it++);
			cmd[nc] = "--repeat";
			cmd[nc + 1] = (char *)rep;
			cmd[nc + 2] = "--latencies";
			cmd[nc + 3] = lat;
			cmd[nc + 4] = NULL;
		}
		s = now();
		if (posix_spawn(&p, cmd[0], fa, NULL, cmd, environ) != 0 ||
		    waitpid(p, &st, 0) != p) {
			fails++;
			continue;
		}
		d = (now() - s) * 1000.0;
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			fails += repeat ? strtol(rep, NULL, 10) : 1;
			continue;
		}
		if (!repeat) {
			fprintf(o, "%.3f\n", d);
			continue;
		}
		if ((l = fopen(lat, "r")) != NULL) {
			while (fgets(line, sizeof(line), l) != NULL)
				fprintf(o, "%.3f\n", strtod(line, NULL) / 1000.0);
			fclose(l);
		}
		unlink(lat);
	}
	fprintf(o, "F %ld\n", fails);
	fclose(o);
	_exit(0);
}
int
main(int argc, char **argv)
{
	posix_spawn_file_actions_t fa;
	char out[512], line[64], **cmd;
	double t0, end, wall, *v, p50, p99;
	size_t n = 0, cap = 1024;
	long fails = 0;
	int k, conc, nc, repeat;
	FILE *o;

	if (argc < 7)
		return 2;
	repeat = strcmp(argv[1], "repeat") == 0;
	conc = (int)strtol(argv[3], NULL, 10);
	nc = argc - 6;
	if ((cmd = calloc((size_t)nc + 5, sizeof(char *))) == NULL ||
	    (v = malloc(cap * sizeof(double))) == NULL)
		return 1;
	memcpy(cmd, argv + 6, (size_t)nc * sizeof(char *));
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	t0 = now();
	end = t0 + strtod(argv[2], NULL);
	for (k = 0; k < conc; k++)
		if (fork() == 0)
			worker(k, repeat, argv[4], argv[5], end, cmd, nc, &fa);
	while (wait(NULL) > 0)
		;
	wall = now() - t0;
	for (k = 0; k < conc; k++) {
		snprintf(out, sizeof(out), "%s/w%d", argv[5], k);
		if ((o = fopen(out, "r")) == NULL)
			continue;
		while (fgets(line, sizeof(line), o) != NULL) {
			if (line[0] == 'F') {
				fails += strtol(line + 2, NULL, 10);
				continue;
			}
			if (n == cap &&
			    (v = realloc(v, (cap *= 2) * sizeof(double))) == NULL)
				return 1;
			v[n++] = strtod(line, NULL);
		}
		fclose(o);
		unlink(out);
	}
	qsort(v, n, sizeof(double), cmpd);
	p50 = n > 0 ? v[(n - 1) * 50 / 100] : 0;
	p99 = n > 0 ? v[(n - 1) * 99 / 100] : 0;
	printf("{\"n\": %zu, \"fails\": %ld, \"wall\": %.3f, \"rps\": %.2f, "
	       "\"p50\": %.3f, \"p99\": %.3f}\n",
	    n, fails, wall, (double)n / wall, p50, p99);
	return 0;
}
EOF
${CC:-cc} -O2 -o "$T/drive" "$T/drive.c"

# measure LABEL MODE CONC CMD...: prints a line, leaves the JSON in $T/r-LABEL
measure() {
	local label=$1 mode=$2 conc=$3
	shift 3
	"$T/drive" "$mode" "$secs" "$conc" 200 "$T" "$@" >"$T/r-$label"
	python3 - "$label" "$T/r-$label" <<'PY'
import json, sys
r = json.load(open(sys.argv[2]))
print("  %-28s %8.1f req/s   p50 %7.2f ms   p99 %7.2f ms   (%d requests, %d failed)"
      % (sys.argv[1], r["rps"], r["p50"], r["p99"], r["n"], r["fails"]))
PY
}


# ------------------------------------------------------------ set-up

mkdir -p "$T/empty"
pki_init "$T/pki" "$build/tests/mkct" >/dev/null
"$ctctl" keygen -o "$T/agent.key" -C agent >/dev/null 2>&1
"$ctctl" keygen -o "$T/poller.key" -C poller >/dev/null 2>&1
cp "$T/poller.key.pub" "$T/authorized_keys"
mass_certs "$T/c100.pem" 100
mass_certs "$T/c1000.pem" 1000
cat >"$T/agent-s100.conf" <<EOF
name = $NAME
key = $T/agent.key
authorized_keys = $T/authorized_keys
cert_dirs = $T/empty
store = $T/s100
EOF
sed "s|s100|s1000|" "$T/agent-s100.conf" >"$T/agent-s1000.conf"
"$agent" -c "$T/agent-s100.conf" --import "$T/c100.pem" >/dev/null
"$agent" -c "$T/agent-s1000.conf" --import "$T/c1000.pem" >/dev/null

start_agent s100
cat >"$T/ct.conf" <<EOF
key = $T/poller.key
agent $NAME = 127.0.0.1:$port $(cat "$T/agent.key.pub")
EOF
q=("$ctctl" agent --config "$T/ct.conf" $NAME certs www.example.org)
n=$("${q[@]}" --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["certs"]))')
echo "agent: $NAME on 127.0.0.1:$port, 'certs www.example.org' answers $n certificates ($(nproc) CPUs, ${secs} s per measurement)"
[ "$n" -eq 100 ] || { echo "agent bench: expected 100 certificates"; exit 1; }

# ------------------------------------------------------------ ours

echo "ctctl agent ... certs www.example.org:"
measure "fresh, 1 client" spawn 1 "${q[@]}"
cpu0=$(awk '{print $14 + $15}' "/proc/$agent_pid/stat")
measure "fresh, 16 clients" spawn 16 "${q[@]}"
cpu1=$(awk '{print $14 + $15}' "/proc/$agent_pid/stat")
measure "resumed, 1 client" repeat 1 "${q[@]}"
measure "resumed, 16 clients" repeat 16 "${q[@]}"
cp "$T/r-fresh, 1 client" "$T/r-o1"
cp "$T/r-fresh, 16 clients" "$T/r-o16"
echo "  agent RSS with 100 records after the load: $(rss $agent_pid VmRSS) KiB (peak $(rss $agent_pid VmHWM) KiB)"
# Where the time of a fresh request goes at 16 clients: the agent's CPU
# per request (from its /proc ticks), and the floor of a new process
# (ctctl --version, spawned the same way), which no client work removes.
python3 - "$T/r-fresh, 16 clients" "$cpu0" "$cpu1" "$(getconf CLK_TCK)" \
    "$(nproc)" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
ticks = int(sys.argv[3]) - int(sys.argv[2])
cpus = int(sys.argv[5])
if r["n"]:
    print("  16 clients: %.2f ms of CPU time per request (%d CPUs busy), %.2f ms of it in ct-agent"
          % (cpus * r["wall"] * 1000 / r["n"], cpus,
             ticks * 1000.0 / int(sys.argv[4]) / r["n"]))
PY
measure "floor: ctctl --version, 16" spawn 16 "$ctctl" --version

# ------------------------------------------------------------ NRPE

if [ -x "$NRPE" ] && [ -x "$CHECK_NRPE" ] && [ -x "$CHECK_DUMMY" ]; then
	nport=$(free_port)
	user=nagios
	id -u $user >/dev/null 2>&1 || user=$(id -un)
	cat >"$T/nrpe.cfg" <<EOF
log_facility=daemon
pid_file=$T/nrpe.pid
server_port=$nport
server_address=127.0.0.1
nrpe_user=$user
nrpe_group=$(id -gn $user)
allowed_hosts=127.0.0.1
dont_blame_nrpe=0
command_timeout=60
connection_timeout=300
command[check_dummy]=$CHECK_DUMMY 0 ok
EOF
	chmod 777 "$T"
	"$NRPE" -c "$T/nrpe.cfg" -f &
	pids+=($!)
	for _ in $(seq 100); do
		"$CHECK_NRPE" -H 127.0.0.1 -p "$nport" -c check_dummy >/dev/null 2>&1 && break
		sleep 0.05
	done
	"$CHECK_NRPE" -H 127.0.0.1 -p "$nport" -c check_dummy >/dev/null ||
	    { echo "agent bench: nrpe did not answer"; exit 1; }
	echo "check_nrpe -H 127.0.0.1 -p $nport -c check_dummy (nrpe $("$NRPE" -V 2>/dev/null | grep -m1 -o 'Version: [0-9.]*' | cut -d' ' -f2)):"
	measure "fresh, 1 client" spawn 1 "$CHECK_NRPE" -H 127.0.0.1 -p "$nport" -c check_dummy
	cp "$T/r-fresh, 1 client" "$T/r-n1"
	measure "fresh, 16 clients" spawn 16 "$CHECK_NRPE" -H 127.0.0.1 -p "$nport" -c check_dummy
	cp "$T/r-fresh, 16 clients" "$T/r-n16"
	echo "ratio (ctctl fresh / check_nrpe, requests per second; goal >= 10):"
	for c in 1 16; do
		python3 - "$c" "$T/r-o$c" "$T/r-n$c" <<'PY'
import json, sys
o, n = json.load(open(sys.argv[2])), json.load(open(sys.argv[3]))
r = o["rps"] / n["rps"] if n["rps"] else float("inf")
print("  %2s client%s: %6.1f / %6.1f = %5.1fx  %s" % (sys.argv[1],
      " " if sys.argv[1] == "1" else "s", o["rps"], n["rps"], r,
      "(goal met)" if r >= 10 else "(goal NOT met)"))
PY
	done
else
	echo "NRPE: not installed ($NRPE, $CHECK_NRPE, $CHECK_DUMMY: packages nagios-nrpe-server, nagios-nrpe-plugin, monitoring-plugins-basic; make deps); measured ours only"
fi

# ------------------------------------------------------------ RSS

kill "$agent_pid"
wait "$agent_pid" 2>/dev/null || true
start_agent s1000
sed -i "s|127.0.0.1:[0-9]* |127.0.0.1:$port |" "$T/ct.conf"
idle=$(rss $agent_pid VmRSS)
n=$("$ctctl" agent --config "$T/ct.conf" $NAME certs '*' --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["certs"]))')
for _ in $(seq 20); do "${q[@]}" >/dev/null; done
after=$(rss $agent_pid VmRSS)
peak=$(rss $agent_pid VmHWM)
echo "agent RSS with $n store records: $idle KiB at start, $after KiB after answering them all and 20 more requests (peak $peak KiB); goal < 8192 KiB: $([ "$after" -lt 8192 ] && echo met || echo NOT met)"
