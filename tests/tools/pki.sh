# A throw-away test PKI with a test CT log, for tests, benchmarks and the
# demo. Source this file, then:
#
#   pki_init DIR MKCT            root CA, trusted issuer "CT Test R1",
#                                untrusted "Evil CA", two test log keys
#                                (log1: RFC 6962 style; log2: tiled, its
#                                SCTs carry leaf_index) and DIR/loglist.json
#   pki_leaf DIR OUT ISSUER START END "NAME..." [SERIAL] [OPTS]
#                                a leaf for the DNS names, issued by ISSUER
#                                (r1 | evil | root) valid START..END
#                                (YYYYMMDDHHMMSSZ). Writes OUT.key,
#                                OUT.pre.pem (the precertificate, with the
#                                poison), OUT.pem (the final certificate
#                                with SCTs from log1 and log2) and
#                                OUT.fullchain.pem. OPTS: corrupt (forged
#                                SCTs), noscts (no SCT extension).
#
# Keys are ECDSA P-256; everything is made with the openssl CLI and mkct.

pki_openssl_conf() {
	local dir=$1
	cat >"$dir/ca.cnf" <<EOF
[ca]
default_ca = ca_default
[ca_default]
dir = $dir
database = $dir/index.txt
new_certs_dir = $dir/newcerts
serial = $dir/serial
default_md = sha256
policy = policy_any
unique_subject = no
copy_extensions = none
email_in_dn = no
[policy_any]
commonName = optional
organizationName = optional
countryName = optional
[req]
distinguished_name = req_dn
prompt = no
[req_dn]
CN = unused
[v3_ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
}

# pki_ca DIR NAME SUBJECT PARENT(or "self")
pki_ca() {
	local dir=$1 name=$2 subj=$3 parent=$4
	openssl ecparam -name prime256v1 -genkey -noout \
	    -out "$dir/$name.key" 2>/dev/null || return 1
	if [ "$parent" = self ]; then
		openssl req -new -x509 -key "$dir/$name.key" -subj "$subj" \
		    -days 7300 -set_serial 0x$(openssl rand -hex 8) \
		    -config "$dir/ca.cnf" -extensions v3_ca \
		    -out "$dir/$name.pem" 2>/dev/null || return 1
	else
		openssl req -new -key "$dir/$name.key" -subj "$subj" \
		    -out "$dir/$name.csr" 2>/dev/null || return 1
		openssl rand -hex 8 >"$dir/serial"
		openssl ca -batch -config "$dir/ca.cnf" -notext \
		    -cert "$dir/$parent.pem" -keyfile "$dir/$parent.key" \
		    -extensions v3_ca -extfile "$dir/ca.cnf" -days 3650 \
		    -preserveDN -in "$dir/$name.csr" \
		    -out "$dir/$name.pem" 2>/dev/null || return 1
	fi
}

pki_init() {
	local dir=$1
	PKI_MKCT=$2
	mkdir -p "$dir/newcerts" || return 1
	: >"$dir/index.txt"
	pki_openssl_conf "$dir"
	pki_ca "$dir" root "/C=XX/O=CT Test PKI/CN=CT Test Root" self &&
	pki_ca "$dir" r1 "/C=XX/O=CT Test PKI/CN=CT Test R1" root &&
	pki_ca "$dir" evil "/C=XX/O=Evil CA/CN=Evil CA" self || return 1
	openssl ecparam -name prime256v1 -genkey -noout \
	    -out "$dir/log1.key" 2>/dev/null &&
	openssl ecparam -name prime256v1 -genkey -noout \
	    -out "$dir/log2.key" 2>/dev/null || return 1
	pki_loglist "$dir" >"$dir/loglist.json"
}

pki_loglist() {
	local dir=$1 k1 k2 id1 id2
	k1=$(openssl ec -in "$dir/log1.key" -pubout -outform DER 2>/dev/null | base64 -w0)
	k2=$(openssl ec -in "$dir/log2.key" -pubout -outform DER 2>/dev/null | base64 -w0)
	id1=$("$PKI_MKCT" logid "$dir/log1.key")
	id2=$("$PKI_MKCT" logid "$dir/log2.key")
	cat <<EOF
{"version":"test","log_list_timestamp":"2026-11-27T00:00:00Z","operators":[
{"name":"CT Test Operator","email":["ct@example.invalid"],
 "logs":[{"description":"CT Test Log 1","log_id":"$id1","key":"$k1",
  "url":"https://log1.example.invalid/","mmd":86400,
  "state":{"usable":{"timestamp":"2020-01-01T00:00:00Z"}}}],
 "tiled_logs":[{"description":"CT Test Tiled Log 2","log_id":"$id2","key":"$k2",
  "submission_url":"https://log2.example.invalid/",
  "monitoring_url":"https://mon.log2.example.invalid/","mmd":60,
  "state":{"usable":{"timestamp":"2020-01-01T00:00:00Z"}}}]}]}
EOF
}

pki_leaf_ext() {
	local names=$1 last=$2 i=1 n
	cat <<EOF
[leaf]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = @alt
$last
[alt]
EOF
	for n in $names; do
		echo "DNS.$i = $n"
		i=$((i + 1))
	done
}

pki_leaf() {
	local dir=$1 out=$2 issuer=$3 start=$4 end=$5 names=$6
	local serial=${7:-$(openssl rand -hex 12)} opts=${8:-} first hex
	local corrupt=
	first=${names%% *}
	case " $opts " in *" corrupt "*) corrupt=--corrupt ;; esac
	openssl ecparam -name prime256v1 -genkey -noout -out "$out.key" \
	    2>/dev/null || return 1
	openssl req -new -key "$out.key" -subj "/CN=$first" -out "$out.csr" \
	    -config "$dir/ca.cnf" 2>/dev/null || return 1
	pki_leaf_ext "$names" \
	    "1.3.6.1.4.1.11129.2.4.3 = critical,ASN1:NULL" >"$out.pre.cnf"
	pki_sign "$dir" "$issuer" "$out.csr" "$out.pre.cnf" "$start" "$end" \
	    "$serial" "$out.pre.pem" || return 1
	if [ -n "$opts" ] && [ -z "${opts##*noscts*}" ]; then
		pki_leaf_ext "$names" "" >"$out.cnf"
	else
		hex=$("$PKI_MKCT" sct --log-key "$dir/log1.key" \
		    --tiled-log-key "$dir/log2.key" $corrupt \
		    --leaf-index $((RANDOM * 1000 + RANDOM)) \
		    --issuer "$dir/$issuer.pem" "$out.pre.pem") || return 1
		pki_leaf_ext "$names" \
		    "1.3.6.1.4.1.11129.2.4.2 = DER:$hex" >"$out.cnf"
	fi
	pki_sign "$dir" "$issuer" "$out.csr" "$out.cnf" "$start" "$end" \
	    "$serial" "$out.pem" || return 1
	cat "$out.pem" "$dir/$issuer.pem" >"$out.fullchain.pem"
	rm -f "$out.csr" "$out.cnf" "$out.pre.cnf"
}

pki_sign() {
	local dir=$1 issuer=$2 csr=$3 ext=$4 start=$5 end=$6 serial=$7 out=$8
	# A precertificate and its certificate share the serial: the CA
	# database must not refuse the second, so each signing starts empty.
	: >"$dir/index.txt"
	echo "$serial" >"$dir/serial"
	openssl ca -batch -config "$dir/ca.cnf" -notext \
	    -cert "$dir/$issuer.pem" -keyfile "$dir/$issuer.key" \
	    -extfile "$ext" -extensions leaf -startdate "$start" \
	    -enddate "$end" -preserveDN -in "$csr" -out "$out" 2>/dev/null
}
