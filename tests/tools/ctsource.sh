# A local CT source for tests and the demo: nginx (Debian's nginx-light)
# serving crt.sh-shaped and Cert Spotter-shaped JSON, built from
# certificate files, on 127.0.0.1. The shapes follow the real samples in
# ../shared/testdata/crtsh and ../shared/testdata/certspotter.
#
# Source this file, then:
#   ctsource_build DIR CTCTL FILE...   one crt.sh row (and one Cert Spotter
#                                      issuance) per certificate, logged
#                                      CTSOURCE_AGE_S seconds ago (600)
#                                      a precertificate and its certificate
#                                      are separate crt.sh rows, as on
#                                      crt.sh, and one issuance
#   ctsource_start DIR                 starts nginx; sets CTSOURCE_URL and
#                                      CTSOURCE_PID
#   ctsource_stop                      stops it
#
# crt.sh: GET /?identity=...&output=json answers every row (the plugin
# filters by name itself); GET /?d=ID answers that certificate's PEM.
# Cert Spotter: GET /v1/issuances answers every issuance; with after=ID it
# answers the issuances after that one (none after the last).
# Broken sources: base URLs $CTSOURCE_URL/e503, /e429, /e404, /html,
# /trunc and /wrongtype answer that way.

ctsource_build() {
	local dir=$1 ctctl=$2
	shift 2
	mkdir -p "$dir/www/d" "$dir/www/cs" || return 1
	"$ctctl" inspect --json "$@" >"$dir/inspect.json" || return 1
	CTSOURCE_AGE_S=${CTSOURCE_AGE_S:-600} python3 - "$dir" "$@" <<'PY' || return 1
import base64, json, os, ssl, sys, time
dir, files = sys.argv[1], sys.argv[2:]
facts = [json.loads(l) for l in open(dir + "/inspect.json")]
rows, issuances, ca_ids = [], {}, {}
now = time.time()
age = int(os.environ["CTSOURCE_AGE_S"])
def crtsh_time(t):              # "2026-11-01T00:00:00Z" -> no zone
    return t.rstrip("Z")
for i, f in enumerate(facts):
    pems = open(f["file"]).read()
    # the index-th certificate of the file
    blocks = pems.split("-----END CERTIFICATE-----")
    pem = blocks[f["index"]].strip() + "\n-----END CERTIFICATE-----\n"
    pem = pem[pem.index("-----BEGIN CERTIFICATE-----"):]
    der = ssl.PEM_cert_to_DER_cert(pem)
    cid = 9000 + i
    open("%s/www/d/%d.pem" % (dir, cid), "w").write(pem)
    ca = ca_ids.setdefault(f["issuer"], 100 + len(ca_ids))
    names = f["dns_names"]
    rows.append({
        "issuer_ca_id": ca, "issuer_name": f["issuer"],
        "common_name": names[0] if names else None,
        "name_value": "\n".join(names), "id": cid,
        "entry_timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000",
                                         time.gmtime(now - age + i)),
        "not_before": crtsh_time(f["not_before"]),
        "not_after": crtsh_time(f["not_after"]),
        "serial_number": f["serial"],
    })
    # Cert Spotter coalesces precert and cert: the final one wins.
    old = issuances.get(f["tbs_sha256"])
    if old is None or old["cert"]["type"] == "precert":
        issuances[f["tbs_sha256"]] = {
            "id": str(20000 + i), "tbs_sha256": f["tbs_sha256"],
            "cert_sha256": f["sha256"], "dns_names": names,
            "pubkey_sha256": f["spki_sha256"],
            "issuer": {"name": f["issuer"], "pubkey_sha256": "00" * 32},
            "not_before": f["not_before"], "not_after": f["not_after"],
            "revoked": False,
            "cert": {"type": "precert" if f["precert"] else "cert",
                     "sha256": f["sha256"],
                     "data": base64.b64encode(der).decode()},
        }
rows.sort(key=lambda r: -r["id"])
json.dump(rows, open(dir + "/www/crtsh.json", "w"))
iss = sorted(issuances.values(), key=lambda x: int(x["id"]))
json.dump(iss, open(dir + "/www/cs/first.json", "w"))
for k, x in enumerate(iss):
    json.dump(iss[k + 1:], open(dir + "/www/cs/after-%s.json" % x["id"], "w"))
PY
}

ctsource_free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

ctsource_start() {
	local dir=$1 port user= i
	command -v nginx >/dev/null || { echo "nginx not installed"; return 77; }
	[ "$(id -u)" = 0 ] && user="user root;"
	for i in 1 2 3 4 5; do
		port=$(ctsource_free_port)
		cat >"$dir/nginx.conf" <<EOF
$user
daemon off;
master_process off;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log;
events { worker_connections 256; }
http {
	access_log $dir/access.log;
	client_body_temp_path $dir/tmp;
	proxy_temp_path $dir/tmp;
	fastcgi_temp_path $dir/tmp;
	uwsgi_temp_path $dir/tmp;
	scgi_temp_path $dir/tmp;
	server {
		listen 127.0.0.1:$port;
		root $dir/www;
		location = / {
			if (\$arg_d != "") { rewrite ^ /d/\$arg_d.pem last; }
			default_type application/json;
			try_files /crtsh.json =404;
		}
		location /d/ { default_type application/x-pem-file; }
		location = /v1/issuances {
			default_type application/json;
			if (\$arg_after != "") { rewrite ^ /cs/after-\$arg_after.json last; }
			try_files /cs/first.json =404;
		}
		location /cs/ { default_type application/json; }
		# Broken sources, as base URLs: /e503, /e429, /html, /trunc, /e404
		location /e503/ { return 503; }
		location /e429/ { add_header Retry-After 3600 always; return 429; }
		location /e404/ { return 404; }
		location /html/ {
			default_type text/html;
			return 200 "<html><body>crt.sh is having trouble</body></html>";
		}
		location /trunc/ {
			default_type application/json;
			return 200 '[{"issuer_ca_id":1,"issuer_name":"C=XX","common_name":"www.ex';
		}
		location /wrongtype/ {
			default_type application/json;
			return 200 '[{"issuer_ca_id":"one","id":"x"}]';
		}
	}
}
EOF
		mkdir -p "$dir/tmp"
		nginx -p "$dir" -c "$dir/nginx.conf" 2>>"$dir/start.log" &
		CTSOURCE_PID=$!
		CTSOURCE_URL=http://127.0.0.1:$port
		for _ in $(seq 50); do
			if curl -fsS "$CTSOURCE_URL/?identity=x&output=json" \
			    >/dev/null 2>&1; then
				return 0
			fi
			kill -0 "$CTSOURCE_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill "$CTSOURCE_PID" 2>/dev/null
		wait "$CTSOURCE_PID" 2>/dev/null
	done
	echo "nginx did not start: $(tail -3 "$dir/error.log" "$dir/start.log" 2>/dev/null)"
	return 1
}

ctsource_stop() {
	if [ -n "${CTSOURCE_PID:-}" ]; then
		kill "$CTSOURCE_PID" 2>/dev/null
		wait "$CTSOURCE_PID" 2>/dev/null
		CTSOURCE_PID=
	fi
}
