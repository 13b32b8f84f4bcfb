#!/usr/bin/env bash
# Benchmark: ctctl inspect --json over 1,000 certificates (with issuer and
# log list: every SCT and issuer signature verified), against openssl
# printing the same 1,000 certificates as text in one process.
# Prints the median of 5 runs of each, per certificate, and the ratio.
set -euo pipefail
build=${1:-build}
td=../shared/testdata
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# 1,000 certificates: the CT test PKI and Let's Encrypt CAs, repeated.
files=($td/ct-testdata/test-embedded-cert.pem
    $td/ct-testdata/test-embedded-with-preca-cert.pem
    $td/ct-testdata/test-cert.pem $td/ct-testdata/test-embedded-pre-cert.pem
    $td/letsencrypt/r11.pem $td/letsencrypt/e6.pem
    $td/letsencrypt/r10.pem $td/letsencrypt/e5.pem)
for i in $(seq 125); do cat "${files[@]}"; done >"$tmp/bundle.pem"
n=$(grep -c 'BEGIN CERTIFICATE' "$tmp/bundle.pem")
cat $td/ct-testdata/ca-cert.pem $td/letsencrypt/isrgrootx1.pem \
    $td/letsencrypt/isrg-root-x2.pem >"$tmp/issuers.pem"

now_ns() { date +%s%N; }
median5() { printf '%s\n' "$@" | sort -n | sed -n 3p; }
time_cmd() {
	local t0 t1 runs=()
	for r in 1 2 3 4 5; do
		t0=$(now_ns)
		"$@" >/dev/null
		t1=$(now_ns)
		runs+=($(((t1 - t0) / 1000)))
	done
	median5 "${runs[@]}"
}

ours=$(time_cmd "$build/ctctl" inspect --json --issuer "$tmp/issuers.pem" \
    --log-list tests/data/test-log-list.json "$tmp/bundle.pem")
parse=$(time_cmd "$build/ctctl" inspect --json "$tmp/bundle.pem")
theirs=$(time_cmd bash -c "openssl crl2pkcs7 -nocrl -certfile '$tmp/bundle.pem' |
    openssl pkcs7 -print_certs -text -noout")
echo "inspect: $n certificates"
awk -v o="$ours" -v p="$parse" -v t="$theirs" -v n="$n" 'BEGIN {
	printf "ctctl inspect --json (no --issuer, no log list):     %8d us, %6.1f us/cert\n", p, p / n
	printf "ctctl inspect --json (signatures + SCTs verified): %8d us, %6.1f us/cert\n", o, o / n
	printf "openssl pkcs7 -print_certs -text (parse + print):  %8d us, %6.1f us/cert\n", t, t / n
	printf "ratio openssl/ctctl: %.2f (with signatures), %.2f (parse only)\n", t / o, t / p
}'
