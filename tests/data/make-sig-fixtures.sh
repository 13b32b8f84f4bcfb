#!/usr/bin/env bash
# Regenerates the signature and certificate fixtures in tests/data/sig/ with
# the openssl CLI (3.x): certificates signed with RSA-PSS, ECDSA P-256 and
# Ed25519 (which the ct-testdata and Let's Encrypt samples lack), a leaf with
# awkward names and extensions, and raw signatures over a message for
# test_sig. Every run makes new keys; the tests hard-code nothing that
# depends on them.
#
#   tests/data/make-sig-fixtures.sh        (from the project root)
set -euo pipefail
umask 022
out=tests/data/sig
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

days=36500

# A CA certificate with its own key: selfsigned NAME KEYFILE SUBJECT [SIGOPTS]
selfsigned() {
	local name=$1 key=$2 subj=$3
	shift 3
	openssl req -new -x509 -key "$key" -subj "$subj" -days "$days" \
	    -set_serial 1 -addext basicConstraints=critical,CA:TRUE \
	    -addext keyUsage=critical,keyCertSign,cRLSign \
	    -addext subjectKeyIdentifier=hash "$@" -out "$out/$name.pem"
}

# A leaf signed by a CA:
#   leaf NAME LEAFKEY CANAME CAKEY SUBJECT EXTFILE [SIGOPTS]
leaf() {
	local name=$1 key=$2 ca=$3 cakey=$4 subj=$5 ext=$6
	shift 6
	openssl req -new -key "$key" -subj "$subj" -out "$tmp/$name.csr"
	openssl x509 -req -in "$tmp/$name.csr" -CA "$out/$ca.pem" \
	    -CAkey "$cakey" -set_serial 0x0102030405060708090a \
	    -days "$days" -extfile "$ext" "$@" -out "$out/$name.pem"
}

cat >"$tmp/leaf.ext" <<'EOF'
basicConstraints = critical,CA:FALSE
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = DNS:www.example.org, DNS:example.org
EOF

# RSA-PSS: MGF1 with the same hash, salt = hash length.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
    -out "$tmp/rsa.key" 2>/dev/null
pss() {
	echo -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:digest \
	    -sigopt rsa_mgf1_md:"$1" -"$1"
}
selfsigned pss-ca "$tmp/rsa.key" "/CN=PSS Test CA" $(pss sha256)
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
    -out "$tmp/rsa-leaf.key" 2>/dev/null
leaf pss-sha384-leaf "$tmp/rsa-leaf.key" pss-ca "$tmp/rsa.key" \
    "/CN=www.example.org" "$tmp/leaf.ext" $(pss sha384)
leaf pss-sha512-leaf "$tmp/rsa-leaf.key" pss-ca "$tmp/rsa.key" \
    "/CN=www.example.org" "$tmp/leaf.ext" $(pss sha512)

# ECDSA P-256.
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
    -out "$tmp/p256.key"
selfsigned p256-ca "$tmp/p256.key" "/CN=P-256 Test CA" -sha256
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
    -out "$tmp/p256-leaf.key"
leaf p256-leaf "$tmp/p256-leaf.key" p256-ca "$tmp/p256.key" \
    "/CN=www.example.org" "$tmp/leaf.ext" -sha256

# Ed25519.
openssl genpkey -algorithm ED25519 -out "$tmp/ed.key"
selfsigned ed25519-ca "$tmp/ed.key" "/CN=Ed25519 Test CA"
openssl genpkey -algorithm ED25519 -out "$tmp/ed-leaf.key"
leaf ed25519-leaf "$tmp/ed-leaf.key" ed25519-ca "$tmp/ed.key" \
    "/CN=www.example.org" "$tmp/leaf.ext"

# A leaf with awkward names and extensions, signed by the P-256 CA:
# a multi-valued RDN, DC and emailAddress attributes, a BMPString and a
# T61String value (string_mask=default), DNS SANs one of which holds a NUL
# byte and one a space, other GeneralName types between them, an unknown
# critical extension, and the CT Precertificate Signing EKU.
cat >"$tmp/odd.cnf" <<'EOF'
[req]
distinguished_name = dn
string_mask = default
utf8 = yes
prompt = no
[dn]
EOF
# bad\0.example.org, "x y.example.org", an email, an IP and a DNS name,
# each a GeneralName TLV (tag, one length byte, content) built from hex.
tlv() {
	printf '%s%02x%s' "$1" $((${#2} / 2)) "$2"
}
hexof() {
	printf '%b' "$1" | od -An -v -tx1 | tr -d ' \n'
}
gn=$(tlv 82 "$(hexof 'www.odd.org')")
gn=$gn$(tlv 82 "$(hexof 'bad\0000.example.org')")
gn=$gn$(tlv 81 "$(hexof 'a@example.org')")
gn=$gn$(tlv 87 7f000001)
gn=$gn$(tlv 82 "$(hexof 'x y.example.org')")
san="DER:$(tlv 30 "$gn")"
cat >"$tmp/odd.ext" <<EOF
basicConstraints = critical,CA:TRUE
extendedKeyUsage = serverAuth,1.3.6.1.4.1.11129.2.4.4
subjectAltName = $san
1.2.3.4.5 = critical,DER:0500
authorityKeyIdentifier = keyid
EOF
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
    -out "$tmp/odd.key"
u_uml=$(printf '\xc3\xbc')      # u with diaeresis, UTF-8
euro=$(printf '\xe2\x82\xac')     # euro sign, UTF-8
odd_subj="/DC=org/DC=example/O=Z${u_uml}rich, Inc./OU=Ops+CN=odd.example.org"
odd_subj="$odd_subj/CN=$euro Euro/emailAddress=a@example.org"
openssl req -new -key "$tmp/odd.key" -config "$tmp/odd.cnf" -multivalue-rdn \
    -subj "$odd_subj" \
    -out "$tmp/odd.csr"
openssl x509 -req -in "$tmp/odd.csr" -CA "$out/p256-ca.pem" \
    -CAkey "$tmp/p256.key" -set_serial 0x00ff -days "$days" \
    -extfile "$tmp/odd.ext" -sha256 -out "$out/odd-names.pem"

# A precertificate whose only extension is the CT poison and its "final"
# certificate whose only extension is an (empty) SCT list: same key, serial
# and dates (fixed with faketime), so both normalise to one TBS without a
# [3] wrapper. And a v1 certificate (no extensions at all).
command -v faketime >/dev/null || {
	echo "faketime is needed (apt-get install faketime)" >&2
	exit 1
}
openssl req -new -key "$tmp/p256-leaf.key" -subj "/CN=ct.example.org" \
    -out "$tmp/ct.csr"
# ("none" keeps openssl 3 from adding its default SKI and AKI.)
for v in poison scts; do
	printf 'subjectKeyIdentifier = none\nauthorityKeyIdentifier = none\n' \
	    >"$tmp/$v.ext"
done
echo '1.3.6.1.4.1.11129.2.4.3 = critical,ASN1:NULL' >>"$tmp/poison.ext"
echo '1.3.6.1.4.1.11129.2.4.2 = ASN1:FORMAT:HEX,OCTETSTRING:0000' \
    >>"$tmp/scts.ext"
for v in poison scts; do
	faketime -f '2025-01-01 00:00:00' openssl x509 -req -in "$tmp/ct.csr" \
	    -CA "$out/p256-ca.pem" -CAkey "$tmp/p256.key" -set_serial 5 \
	    -days 365 -extfile "$tmp/$v.ext" -sha256 -out "$out/only-$v.pem"
done
openssl x509 -req -in "$tmp/ct.csr" -CA "$out/p256-ca.pem" \
    -CAkey "$tmp/p256.key" -set_serial 6 -days "$days" -sha256 \
    -out "$out/v1-leaf.pem"

# Caps: a subject longer than the DN text cap (20 OUs of 60 letters), and
# more DNS SANs than CERT_MAX_NAMES (1005), the first 300 bytes long.
long=$(printf 'a%.0s' $(seq 60))
subj="/CN=long.example.org"
for i in $(seq 10 29); do subj="$subj/OU=$i$long"; done
{
	echo "subjectAltName = @alt"
	echo "[alt]"
	echo "DNS.0 = $(printf 'b%.0s' $(seq 288)).example.org"
	for i in $(seq 1 1004); do echo "DNS.$i = n$i.example.org"; done
} >"$tmp/many.ext"
openssl req -new -key "$tmp/p256-leaf.key" -subj "$subj" -out "$tmp/long.csr"
openssl x509 -req -in "$tmp/long.csr" -CA "$out/p256-ca.pem" \
    -CAkey "$tmp/p256.key" -set_serial 7 -days "$days" -sha256 \
    -extfile "$tmp/many.ext" -out "$out/many-names.pem"

# A P-521 key, which sig_verify does not take.
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-521 \
    -out "$tmp/p521.key"
openssl pkey -in "$tmp/p521.key" -pubout -outform DER -out "$out/p521.spki.der"

# Raw signatures over one message, for test_sig, with the SPKIs as DER.
printf 'Certificate Transparency signature fixture\n' >"$out/msg.bin"
for k in rsa p256 ed; do
	openssl pkey -in "$tmp/$k.key" -pubout -outform DER \
	    -out "$out/$k.spki.der"
done
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 \
    -out "$tmp/p384.key"
openssl pkey -in "$tmp/p384.key" -pubout -outform DER -out "$out/p384.spki.der"
openssl dgst -sha256 -sign "$tmp/rsa.key" -out "$out/msg.rsa-pkcs1-sha256.sig" \
    "$out/msg.bin"
openssl dgst -sha1 -sign "$tmp/rsa.key" -out "$out/msg.rsa-pkcs1-sha1.sig" \
    "$out/msg.bin"
openssl dgst -sha256 -sign "$tmp/rsa.key" -sigopt rsa_padding_mode:pss \
    -sigopt rsa_pss_saltlen:digest -sigopt rsa_mgf1_md:sha256 \
    -out "$out/msg.rsa-pss-sha256.sig" "$out/msg.bin"
openssl dgst -sha256 -sign "$tmp/p256.key" -out "$out/msg.p256-sha256.sig" \
    "$out/msg.bin"
openssl dgst -sha384 -sign "$tmp/p384.key" -out "$out/msg.p384-sha384.sig" \
    "$out/msg.bin"
openssl pkeyutl -sign -rawin -inkey "$tmp/ed.key" -in "$out/msg.bin" \
    -out "$out/msg.ed25519.sig"

# Self-checks with openssl itself.
openssl verify -CAfile "$out/pss-ca.pem" "$out/pss-sha384-leaf.pem" \
    "$out/pss-sha512-leaf.pem" >/dev/null
openssl verify -CAfile "$out/p256-ca.pem" "$out/p256-leaf.pem" >/dev/null
openssl verify -CAfile "$out/ed25519-ca.pem" "$out/ed25519-leaf.pem" \
    >/dev/null
echo "fixtures written to $out"
