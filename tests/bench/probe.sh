#!/usr/bin/env bash
# Benchmark: the remote TLS probe against nginx on loopback (a test-PKI
# certificate with two real embedded SCTs), side by side with
# check_ssl_cert (Debian's monitoring-plugins-contrib) probing the same
# server in the same run; then ten addresses (nginx on 127.0.0.2 ..
# 127.0.0.11) probed at once by one ctctl against one address.
# Prints the median wall time and the peak RSS of each, and the ratios.
# Goals (issue 5): at least 30x faster per probe than check_ssl_cert, and
# ten addresses in under twice the time of one.
set -euo pipefail
build=${1:-build}
RUNS=${PROBE_BENCH_RUNS:-7}
THEIR_RUNS=${PROBE_BENCH_THEIR_RUNS:-3}
CSC=/usr/lib/nagios/plugins/check_ssl_cert
tmp=$(mktemp -d)
. tests/tools/pki.sh
. tests/tools/probeserver.sh
trap 'probeserver_stop; rm -rf "$tmp"' EXIT
command -v nginx >/dev/null || { echo "skip: nginx not installed"; exit 0; }

day() { date -u -d "$1" +%Y%m%d%H%M%SZ; }
pki_init "$tmp/pki" "$build/tests/mkct" >/dev/null
pki_leaf "$tmp/pki" "$tmp/www" r1 "$(day '-20 days')" "$(day '+70 days')" \
    "www.example.org example.org" >/dev/null
probeserver_start "$tmp/ng" \
    "one:$tmp/www.fullchain.pem:$tmp/www.key:lo10" >/dev/null
port=$PORT_one

# measure RUNS CMD...: "median_us max_rss_kb" over RUNS runs (wall time
# and peak RSS of each child, from wait4).
measure() {
	python3 - "$@" <<'PY'
import os, subprocess, sys, time
runs, cmd = int(sys.argv[1]), sys.argv[2:]
walls, rss = [], 0
for _ in range(runs):
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    walls.append((time.perf_counter() - t0) * 1e6)
    rss = max(rss, ru.ru_maxrss)
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        sys.exit("exit %d: %s" % (code, " ".join(cmd)))
walls.sort()
print("%d %d" % (walls[len(walls) // 2], rss))
PY
}

ms() { awk -v u="$1" 'BEGIN { printf "%.1f", u / 1000 }'; }

ours=("$build/ctctl" probe --sni www.example.org
    --log-list "$tmp/pki/loglist.json"
    --trusted-issuer-certs "$tmp/pki/r1.pem")
# One run each first: both must see the server and say OK.
"${ours[@]}" 127.0.0.1:"$port" >/dev/null
read -r one_us one_rss < <(measure "$RUNS" "${ours[@]}" 127.0.0.1:"$port")
ten=()
for i in 2 3 4 5 6 7 8 9 10 11; do ten+=("127.0.0.$i:$port"); done
"${ours[@]}" "${ten[@]}" >/dev/null
read -r ten_us ten_rss < <(measure "$RUNS" "${ours[@]}" "${ten[@]}")

printf 'probe of nginx on loopback (TLS 1.3, chain of 2, 2 SCTs verified)\n'
printf '%-58s %9s %9s\n' "" "wall" "peak RSS"
printf '%-58s %7.1f ms %6d KB\n' "ctctl probe, 1 address" \
    "$(ms "$one_us")" "$one_rss"
printf '%-58s %7.1f ms %6d KB\n' "ctctl probe, 10 addresses at once" \
    "$(ms "$ten_us")" "$ten_rss"

# (grep -q on a pipe would end check_ct with SIGPIPE under pipefail)
cc_help=$("$build/check_ct" --help 2>/dev/null || true)
if [ -x "$build/check_ct" ] && grep -q -- '--probe' <<<"$cc_help"; then
	mkdir -p "$tmp/empty"
	cc=("$build/check_ct" -H www.example.org --state-dir "$tmp/ccstate"
	    --logged-certs "$tmp/empty" --log-list "$tmp/pki/loglist.json"
	    --trusted-issuer-certs "$tmp/pki/r1.pem"
	    --probe 127.0.0.1:"$port")
	read -r cc_us cc_rss < <(measure "$RUNS" "${cc[@]}")
	printf '%-58s %7.1f ms %6d KB\n' "check_ct --probe, 1 address" \
	    "$(ms "$cc_us")" "$cc_rss"
else
	echo "(check_ct has no --probe yet: not measured)"
fi

if [ -x "$CSC" ]; then
	theirs=("$CSC" -H 127.0.0.1 -p "$port" --sni www.example.org
	    -m www.example.org --rootcert-file "$tmp/pki/root.pem"
	    --ignore-ocsp -t 30)
	if ! "${theirs[@]}" >"$tmp/csc.out" 2>&1; then
		echo "check_ssl_cert did not say OK: $(head -1 "$tmp/csc.out")"
		exit 1
	fi
	read -r csc_us csc_rss < <(measure "$THEIR_RUNS" "${theirs[@]}")
	printf '%-58s %7.1f ms %6d KB\n' \
	    "check_ssl_cert $(sed -n 's/^check_ssl_cert version \([0-9.]*\).*/\1/p' <("$CSC" -V 2>&1)) (--ignore-ocsp), 1 address" \
	    "$(ms "$csc_us")" "$csc_rss"
	awk -v o="$one_us" -v t="$csc_us" 'BEGIN {
		printf "ratio check_ssl_cert/ctctl per probe: %.1fx (goal >= 30x: %s)\n",
		    t / o, (t / o >= 30) ? "met" : "MISSED" }'
else
	echo "(check_ssl_cert not installed: apt-get install monitoring-plugins-contrib bind9-host)"
fi
awk -v o="$one_us" -v t="$ten_us" 'BEGIN {
	printf "ratio 10 addresses/1 address: %.2fx (goal < 2x: %s)\n",
	    t / o, (t / o < 2) ? "met" : "MISSED" }'
