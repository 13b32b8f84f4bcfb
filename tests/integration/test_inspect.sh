#!/usr/bin/env bash
# ctctl inspect on the CT test PKI, the Let's Encrypt intermediates and bad
# input: every DESIGN.md section 6 field, checked against openssl's view.
set -u
build=${1:-build}
ctctl=$build/ctctl
td=../shared/testdata
ll=tests/data/test-log-list.json
. tests/integration/lib.sh

tmp=$T

# 1. The CT test PKI: embedded SCT valid, issuer valid, text and JSON.
run "$ctctl" inspect --json --issuer $td/ct-testdata/ca-cert.pem \
    --log-list $ll $td/ct-testdata/test-embedded-cert.pem
expect_status 0
jq_eq '.file' "$td/ct-testdata/test-embedded-cert.pem"
jq_eq '.index' 0
jq_eq '.serial' 07
jq_eq '.precert' false
jq_eq '.issuer_signature_valid' true
jq_eq '.not_before' 2012-06-01T00:00:00Z
jq_eq '.not_after' 2022-06-01T00:00:00Z
jq_eq '.sha256' d9863e419fc90a7faab64952d3d71a389734f82214fb3817cb5c88be81c2f1cb
jq_eq 'len(.scts)' 1
jq_eq '.scts[0].log_id' 3xwuwRUAlFJHqWFoMl3cXHlZ6PfG04j8AC4LvT9012Q=
jq_eq '.scts[0].log' "CT test log"
jq_eq '.scts[0].timestamp' 1365181456275
jq_eq '.scts[0].signature_valid' true
jq_eq '.subject' "C=GB, O=Certificate Transparency, ST=Wales, L=Erw Wen"
jq_eq '.issuer' "C=GB, O=Certificate Transparency CA, ST=Wales, L=Erw Wen"
tbs_final=$(jq_get '.tbs_sha256')

# The precertificate shares tbs_sha256 and says it is one.
run "$ctctl" inspect --json $td/ct-testdata/test-embedded-pre-cert.pem
expect_status 0
jq_eq '.precert' true
jq_eq '.tbs_sha256' "$tbs_final"
jq_eq '.issuer_signature_valid' null

# Without a log list the SCT cannot be checked: null, not false.
run "$ctctl" inspect --json --issuer $td/ct-testdata/ca-cert.pem \
    $td/ct-testdata/test-embedded-cert.pem
jq_eq '.scts[0].signature_valid' null
jq_eq '.scts[0].log' null

# 2. The invalid embedded SCT reports false.
run "$ctctl" inspect --json --issuer $td/ct-testdata/ca-cert.pem \
    --log-list $ll $td/ct-testdata/test-invalid-embedded-cert.pem
expect_status 0
jq_eq '.scts[0].signature_valid' false

# The wrong issuer: signature invalid, SCT unverifiable.
run "$ctctl" inspect --json --issuer $td/letsencrypt/r11.pem \
    --log-list $ll $td/ct-testdata/test-embedded-cert.pem
jq_eq '.issuer_signature_valid' false
jq_eq '.scts[0].signature_valid' null

# Text output carries the same facts.
run "$ctctl" inspect --issuer $td/ct-testdata/ca-cert.pem --log-list $ll \
    $td/ct-testdata/test-embedded-cert.pem
expect_status 0
expect_out "tbs_sha256:   $tbs_final"
expect_out "issuer signature: valid"
expect_out "CT test log 3xwuwRUAlFJHqWFoMl3cXHlZ6PfG04j8AC4LvT9012Q= at 2013-04-05T17:04:16Z: signature valid"

# 3. Let's Encrypt intermediates against openssl's view; a bundle and DER.
for f in r10 r11 e5 e6 lets-encrypt-r3; do
	pem=$td/letsencrypt/$f.pem
	root=$td/letsencrypt/isrgrootx1.pem
	case $f in e5 | e6) root=$td/letsencrypt/isrg-root-x2.pem ;; esac
	run "$ctctl" inspect --json --issuer "$root" "$pem"
	expect_status 0
	jq_eq '.sha256' "$(openssl x509 -in "$pem" -outform DER | sha256sum | cut -c1-64)"
	jq_eq '.spki_sha256' "$(openssl x509 -in "$pem" -pubkey -noout |
	    openssl pkey -pubin -outform DER | sha256sum | cut -c1-64)"
	# The INTEGER content bytes: openssl drops the 00 before a high bit.
	serial=$(openssl x509 -in "$pem" -noout -serial | cut -d= -f2 | tr A-F a-f)
	case $serial in [89a-f]*) serial=00$serial ;; esac
	jq_eq '.serial' "$serial"
	jq_eq '.issuer_signature_valid' true
	jq_eq '.precert' false
done
cat $td/letsencrypt/r10.pem $td/letsencrypt/r11.pem >"$tmp/bundle.pem"
openssl x509 -in $td/letsencrypt/e6.pem -outform DER -out "$tmp/e6.der"
run "$ctctl" inspect --json "$tmp/bundle.pem" "$tmp/e6.der"
expect_status 0
expect_lines 3
jq_eq_line 2 '.index' 1
jq_eq_line 3 '.file' "$tmp/e6.der"

# 4. Bad input: one line naming the file, status 1, the others reported.
printf 'not a certificate\n' >"$tmp/garbage.pem"
head -c 300 "$tmp/e6.der" >"$tmp/truncated.der"
openssl genpkey -algorithm ed25519 -out "$tmp/key.pem" 2>/dev/null
run "$ctctl" inspect --json "$tmp/garbage.pem" "$tmp/e6.der" \
    "$tmp/truncated.der" "$tmp/key.pem" "$tmp/missing.pem"
expect_status 1
expect_lines 1
expect_err "$tmp/garbage.pem: not a certificate"
expect_err "$tmp/truncated.der: not a certificate (truncated input)"
expect_err "$tmp/key.pem: no certificate found"
expect_err "$tmp/missing.pem: cannot read: No such file or directory"
expect_err_lines 4

# 5. A test PKI minted here: a final certificate whose SCTs come from an
# RFC 6962 log and a tiled log (leaf_index extension), its precertificate,
# and a certificate with forged SCTs.
. tests/tools/pki.sh
pki_init "$tmp/pki" "$build/tests/mkct" || { echo "FAIL: pki_init"; exit 1; }
pki_leaf "$tmp/pki" "$tmp/www" r1 20261101000000Z 20270130000000Z \
    "www.example.org example.org" || { echo "FAIL: pki_leaf"; exit 1; }
pki_leaf "$tmp/pki" "$tmp/forged" r1 20261101000000Z 20270130000000Z \
    "www.example.org" "" corrupt || { echo "FAIL: pki_leaf"; exit 1; }
run "$ctctl" inspect --json --issuer "$tmp/pki/r1.pem" \
    --log-list "$tmp/pki/loglist.json" "$tmp/www.pem" "$tmp/www.pre.pem" \
    "$tmp/forged.pem"
expect_status 0
expect_lines 3
jq_eq '.dns_names[0]' www.example.org
jq_eq '.dns_names[1]' example.org
jq_eq 'len(.scts)' 2
jq_eq '.scts[0].log' "CT Test Log 1"
jq_eq '.scts[0].signature_valid' true
jq_eq '.scts[1].log' "CT Test Tiled Log 2"
jq_eq '.scts[1].signature_valid' true
jq_eq '.issuer_signature_valid' true
tbs=$(jq_get '.tbs_sha256')
jq_eq_line 2 '.tbs_sha256' "$tbs"
jq_eq_line 2 '.precert' true
jq_eq_line 3 '.scts[0].signature_valid' false
jq_eq_line 3 '.scts[1].signature_valid' false
# The same SCTs found through the fullchain, without --issuer.
run "$ctctl" inspect --json --log-list "$tmp/pki/loglist.json" \
    "$tmp/www.fullchain.pem"
jq_eq '.scts[1].signature_valid' true
jq_eq '.issuer_signature_valid' null
# One flipped byte inside the SCT extension of a valid certificate.
openssl x509 -in "$tmp/www.pem" -outform DER -out "$tmp/www.der"
python3 - "$tmp/www.der" "$tmp/tampered.der" <<'PY'
import sys
d = bytearray(open(sys.argv[1], 'rb').read())
i = d.find(bytes.fromhex('060a2b06010401d679020402'))   # the SCT list OID
assert i > 0
d[i + 80] ^= 0x01    # inside the first SCT
open(sys.argv[2], 'wb').write(d)
PY
run "$ctctl" inspect --json --issuer "$tmp/pki/r1.pem" \
    --log-list "$tmp/pki/loglist.json" "$tmp/tampered.der"
expect_status 0
jq_eq '.scts[0].signature_valid' false
jq_eq '.scts[1].signature_valid' true
jq_eq '.issuer_signature_valid' false

# 6. Usage errors.
run "$ctctl" inspect
expect_status 2
run "$ctctl" frobnicate
expect_status 2

finish
