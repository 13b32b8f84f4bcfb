#!/usr/bin/env bash
# Regenerates the leaf certificates used by tests/unit/test_scan.c and
# test_store.c: a throw-away ECDSA P-256 test CA ("CT Agent Test CA",
# ca.pem) and leaf certificates signed by it. Private keys live only in a
# temporary directory and are deleted; only certificates are kept.
# Usage: tests/data/scan/gen.sh   (from the project root; needs openssl)
set -eu
out=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"

openssl ecparam -name prime256v1 -genkey -noout -out ca.key
openssl req -x509 -new -key ca.key -sha256 -days 36500 \
    -subj "/O=CT Agent Test/CN=CT Agent Test CA" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" -out "$out/ca.pem"

# leaf NAME SANS CN: one leaf certificate, NAME.pem (SANS may be empty).
leaf() {
	openssl ecparam -name prime256v1 -genkey -noout -out "$1.key"
	openssl req -new -key "$1.key" -subj "/CN=$3" -out "$1.csr"
	printf 'basicConstraints=critical,CA:FALSE\n' >"$1.ext"
	[ -z "$2" ] || printf 'subjectAltName=%s\n' "$2" >>"$1.ext"
	openssl x509 -req -in "$1.csr" -CA "$out/ca.pem" -CAkey ca.key \
	    -set_serial "0x$(openssl rand -hex 8)" -days 36500 -sha256 \
	    -extfile "$1.ext" -out "$out/$1.pem"
}

leaf www-1 "DNS:www.example.org,DNS:example.org" www.example.org
leaf www-2 "DNS:www.example.org,DNS:example.org" www.example.org
leaf mail-1 "DNS:mail.example.org" mail.example.org
leaf mail-2 "DNS:mail.example.org" mail.example.org
leaf outside "DNS:outside.example.net" outside.example.net
leaf unreadable "DNS:unreadable.example.org" unreadable.example.org
# No SAN: the store keeps the subject CN as the name (DESIGN.md section 3).
leaf cnonly "" cnonly.example.org
# SAN bytes that must be sanitised in a store record header.
leaf oddnames "DNS:odd|pipe.example.org,DNS:sp ace.example.org" odd
