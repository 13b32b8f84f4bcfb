#!/usr/bin/env bash
# Regenerates tests/data/test-log-list.json: a log list in Chrome's v3
# shape holding the RFC 6962 test log (ct-server-key-public.pem) and the
# RSA test log of ../shared/testdata/ct-testdata, so that the embedded SCTs
# of the CT test PKI can be checked against "a log list".
set -euo pipefail
cd "$(dirname "$0")"
td=../../../shared/testdata/ct-testdata
entry() {
	local desc=$1 pem=$2 key id
	key=$(openssl pkey -pubin -in "$pem" -outform DER | base64 -w0)
	id=$(openssl pkey -pubin -in "$pem" -outform DER |
	    openssl dgst -sha256 -binary | base64 -w0)
	printf '{"description":"%s","log_id":"%s","key":"%s",' "$desc" "$id" "$key"
	printf '"url":"https://ct.example.invalid/%s/","mmd":86400,' "${desc// /_}"
	printf '"state":{"usable":{"timestamp":"2012-01-01T00:00:00Z"}}}'
}
{
	printf '{"version":"1.0","log_list_timestamp":"2026-11-27T00:00:00Z",'
	printf '"operators":[{"name":"CT test","email":["test@example.invalid"],'
	printf '"logs":['
	entry "CT test log" "$td/ct-server-key-public.pem"
	printf ','
	entry "CT test RSA log" "$td/ct-server-key-public-rsa.pem"
	printf '],"tiled_logs":[]}]}\n'
} >test-log-list.json
