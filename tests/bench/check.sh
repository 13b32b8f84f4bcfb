#!/usr/bin/env bash
# Benchmark: one check_ct run against local fixtures (nginx as crt.sh),
# with 3 real ct-agents and 500 CT certificates, cold (every certificate
# downloaded) and warm (cache and seen store filled); and 20 agents that
# each take 200 ms to answer (a delaying TCP proxy in front of each)
# against one such agent. Prints wall time and peak RSS (median of 5).
#
# The peer, the older Python tool, cannot be run here (it needs crt.sh on
# the internet and Python packages not installed); its figure of about
# 0.3 s per run on a comparable fixture (REFERENCE.md 5) is printed as a
# quoted figure, and the ratio is against that quote.
set -u
build=${1:-build}
top=$(pwd)
. tests/tools/pki.sh
. tests/tools/ctsource.sh
command -v nginx >/dev/null || { echo "check bench: nginx missing, skipped"; exit 0; }
T=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	ctsource_stop
	wait 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT

echo "check bench: minting 500 certificates..."
pki_init "$T/pki" "$top/$build/tests/mkct" >/dev/null || exit 1
openssl ecparam -name prime256v1 -genkey -noout -out "$T/leaf.key" 2>/dev/null
openssl req -new -key "$T/leaf.key" -subj "/CN=www.example.org" \
    -out "$T/leaf.csr" 2>/dev/null
printf 'subjectAltName=DNS:www.example.org\n' >"$T/ext.cnf"
mkdir -p "$T/certs"
for i in $(seq 1 500); do
	openssl x509 -req -in "$T/leaf.csr" -CA "$T/pki/r1.pem" \
	    -CAkey "$T/pki/r1.key" -set_serial $((100000 + i)) -days 90 \
	    -extfile "$T/ext.cnf" -out "$T/certs/c$i.pem" 2>/dev/null
done
CTSOURCE_AGE_S=$((2 * 86400)) ctsource_build "$T/ct" "$build/ctctl" \
    "$T"/certs/c*.pem >/dev/null || exit 1
ctsource_start "$T/ct" >/dev/null || exit 1

"$build/ctctl" keygen -o "$T/poller.key" >/dev/null
cp "$T/poller.key.pub" "$T/authorized_keys"
echo "key = $T/poller.key" >"$T/ct.conf"

# agent NAME CERTDIR: starts a ct-agent, appends its line to ct.conf
# (at PORT_OVERRIDE when set, for the delaying proxy).
start_agent() {
	local name=$1 dir=$2 port=
	"$build/ctctl" keygen -o "$T/$name.key" >/dev/null
	cat >"$T/$name.conf" <<EOF
name            = $name
listen          = 127.0.0.1:0
key             = $T/$name.key
authorized_keys = $T/authorized_keys
cert_dirs       = $dir
store           = $T/$name.store
EOF
	"$build/ct-agent" -c "$T/$name.conf" 2>"$T/$name.log" &
	pids+=($!)
	for _ in $(seq 200); do
		port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$T/$name.log" | head -1)
		[ -n "$port" ] && break
		sleep 0.02
	done
	AGENT_PORT=$port
}

# Three agents share 498 of the 500 certificates: 2 stay unknown.
for a in 1 2 3; do mkdir -p "$T/dir$a"; done
for i in $(seq 1 498); do cp "$T/certs/c$i.pem" "$T/dir$(((i % 3) + 1))/"; done
for a in 1 2 3; do
	start_agent "web$a.example.org" "$T/dir$a"
	echo "agent web$a.example.org = 127.0.0.1:$AGENT_PORT $(cat "$T/web$a.example.org.key.pub")" >>"$T/ct.conf"
done

# measure NAGENTS CMD...: median wall ms, max RSS KiB, exit status and
# sanity of 5 runs (each a fresh process), via python3's resource
# accounting. A run counts as sane when its perfdata says all NAGENTS
# agents answered (agents_ok=NAGENTS agents_failed=0): a benchmark whose
# agents died (killed by someone else, say) measures nothing useful.
measure() {
	python3 - "$@" <<'PY'
import re, resource, subprocess, sys, time
want, cmd = int(sys.argv[1]), sys.argv[2:]
walls, last, bad = [], None, 0
for i in range(5):
    t0 = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, text=True)
    walls.append((time.monotonic() - t0) * 1000)
    ok = re.search(r"agents_ok=(\d+)", p.stdout)
    failed = re.search(r"agents_failed=(\d+)", p.stdout)
    if not ok or not failed or int(ok.group(1)) != want or int(failed.group(1)) != 0:
        bad += 1
    last = p
walls.sort()
print("%.1f %d %d %s" % (walls[2], resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
      last.returncode, "sane" if bad == 0 else "INSANE:%d/5-runs-with-agents-failing" % bad))
PY
}

base=(-H www.example.org --config "$T/ct.conf" --crtsh-url "$CTSOURCE_URL"
    --allow-http --max-downloads 1000 -t 30)
# Cold: a fresh state dir each run (5 runs, 5 dirs).
cold=$(python3 - "$build/check_ct" "$T" "${base[@]}" <<'PY'
import re, resource, subprocess, sys, time
exe, T, args = sys.argv[1], sys.argv[2], sys.argv[3:]
walls, bad = [], 0
for i in range(5):
    t0 = time.monotonic()
    p = subprocess.run([exe] + args + ["--agent", "web1.example.org",
        "--agent", "web2.example.org", "--agent", "web3.example.org",
        "--state-dir", "%s/cold%d" % (T, i)], capture_output=True, text=True)
    walls.append((time.monotonic() - t0) * 1000)
    if not re.search(r"agents_ok=3;", p.stdout) or not re.search(r"agents_failed=0;", p.stdout):
        bad += 1
walls.sort()
print("%.1f %d %d %s" % (walls[2], resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
      p.returncode, "sane" if bad == 0 else "INSANE:%d/5-runs-with-agents-failing" % bad))
PY
)
# The warm state: one run fills the cache and the seen store; a second
# one, more than 2 s later, finds every record file old enough to be
# indexed (common/store.c) and writes the store's index, as an hourly
# check would find it.
"$build/check_ct" "${base[@]}" --agent web1.example.org --agent web2.example.org \
    --agent web3.example.org --state-dir "$T/warm" >/dev/null
sleep 2.5
"$build/check_ct" "${base[@]}" --agent web1.example.org --agent web2.example.org \
    --agent web3.example.org --state-dir "$T/warm" >/dev/null
warm=$(measure 3 "$build/check_ct" "${base[@]}" --agent web1.example.org \
    --agent web2.example.org --agent web3.example.org --state-dir "$T/warm")

# Slow agents: a proxy that holds each connection's first reply 200 ms.
cat >"$T/proxy.py" <<'PY'
import asyncio, sys
DELAY = 0.2
async def pipe(r, w, delay):
    first = True
    try:
        while True:
            data = await r.read(65536)
            if not data:
                break
            if first and delay:
                await asyncio.sleep(DELAY)
                first = False
            w.write(data)
            await w.drain()
    except Exception:
        pass
    finally:
        w.close()
async def handle(cr, cw, port):
    sr, sw = await asyncio.open_connection("127.0.0.1", port)
    await asyncio.gather(pipe(cr, sw, False), pipe(sr, cw, True))
async def main():
    out = []
    for b in [int(p) for p in sys.argv[2:]]:
        s = await asyncio.start_server(lambda r, w, b=b: handle(r, w, b),
                                       "127.0.0.1", 0)
        out.append(str(s.sockets[0].getsockname()[1]))
    open(sys.argv[1], "w").write(" ".join(out))
    await asyncio.sleep(3600)
asyncio.run(main())
PY
mkdir -p "$T/slowdir" && cp "$T/certs/c1.pem" "$T/slowdir/"
echo "key = $T/poller.key" >"$T/slow.conf"
names=()
backends=()
for a in $(seq 1 20); do
	start_agent "slow$a.example.org" "$T/slowdir"
	backends+=("$AGENT_PORT")
	names+=("slow$a.example.org")
done
python3 "$T/proxy.py" "$T/proxy.ports" "${backends[@]}" &
pids+=($!)
for _ in $(seq 100); do [ -s "$T/proxy.ports" ] && break; sleep 0.05; done
read -r -a ports <"$T/proxy.ports"
for a in $(seq 1 20); do
	echo "agent slow$a.example.org = 127.0.0.1:${ports[$((a - 1))]} $(cat "$T/slow$a.example.org.key.pub")" >>"$T/slow.conf"
done
slowargs=(-H www.example.org --config "$T/slow.conf" --source crtsh
    --crtsh-url "$CTSOURCE_URL" --allow-http -t 30 --state-dir "$T/slow")
agents20=()
for nme in "${names[@]}"; do agents20+=(--agent "$nme"); done
# Fill the slow state dir first, so that both cases run warm and differ
# only in the agents.
"$build/check_ct" "${slowargs[@]}" --agent slow1.example.org >/dev/null
one=$(measure 1 "$build/check_ct" "${slowargs[@]}" --agent slow1.example.org)
twenty=$(measure 20 "$build/check_ct" "${slowargs[@]}" "${agents20[@]}")

report() {
	local label=$1 r=$2 wall rss rc sane
	read -r wall rss rc sane <<<"$r"
	printf '%-44s %8.1f ms  %6d KiB  exit %s  %s\n' "$label" "$wall" "$rss" \
	    "$rc" "$sane"
}
echo
echo "check_ct, 500 CT certificates, 3 agents (median of 5 runs):"
report "cold (downloads 500 certificates)" "$cold"
report "warm (cache and seen store filled)" "$warm"
report "1 agent answering after 200 ms" "$one"
report "20 agents each answering after 200 ms" "$twenty"
read -r w1 _ <<<"$one"
read -r w20 _ <<<"$twenty"
read -r ww _ <<<"$warm"
awk -v a="$w1" -v b="$w20" 'BEGIN { printf "20 slow agents / 1 slow agent: %.2fx (goal: under 2x); 20 slow agents / the 200 ms delay: %.2fx\n", b / a, b / 200 }'
awk -v w="$ww" 'BEGIN { printf "older Python tool (quoted, not measured here): 300 ms per run; ratio %.1fx\n", 300 / w }'
echo "goals: warm run under 30 ms wall and 30 MiB RSS"
