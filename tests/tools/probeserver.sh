# TLS servers for the probe's tests and benchmark: nginx (Debian's
# nginx-light) on 127.0.0.1, one port per case, serving certificates of
# the test PKI (tests/tools/pki.sh). Source this file, then:
#
#   probeserver_free_port             a free TCP port on 127.0.0.1
#   probeserver_start DIR NAME:CHAIN:KEY[:OPTS]...
#                                     starts one nginx with a server per
#                                     argument on its own port, and sets
#                                     PORT_<NAME> and PROBESERVER_PID.
#                                     OPTS (comma-separated): tls12 (TLS
#                                     1.2 only), v6 (also on [::1]),
#                                     reject (ssl_reject_handshake: an
#                                     unrecognized_name alert), lo10
#                                     (also on 127.0.0.2 .. 127.0.0.11)
#   probeserver_stop                  stops it
#
# nginx runs unprivileged from DIR (as root: "user root;").

probeserver_free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

probeserver_v6() {
	python3 -c 'import socket; s=socket.socket(socket.AF_INET6); s.bind(("::1", 0))' 2>/dev/null
}

probeserver_conf() {
	local dir=$1 user= spec name chain key opts port listen i
	shift
	[ "$(id -u)" = 0 ] && user="user root;"
	cat <<EOF
$user
daemon off;
master_process off;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log;
events { worker_connections 1024; }
http {
	access_log off;
	client_body_temp_path $dir/tmp;
	proxy_temp_path $dir/tmp;
	fastcgi_temp_path $dir/tmp;
	uwsgi_temp_path $dir/tmp;
	scgi_temp_path $dir/tmp;
EOF
	for spec in "$@"; do
		IFS=: read -r name chain key opts <<<"$spec"
		port=$(probeserver_free_port)
		eval "PORT_$name=$port"
		listen="listen 127.0.0.1:$port ssl;"
		case ",$opts," in *,v6,*)
			probeserver_v6 && listen="$listen listen [::1]:$port ssl;" ;;
		esac
		case ",$opts," in *,lo10,*)
			for i in 2 3 4 5 6 7 8 9 10 11; do
				listen="$listen listen 127.0.0.$i:$port ssl;"
			done ;;
		esac
		echo "	server {"
		echo "		$listen"
		echo "		ssl_certificate $chain;"
		echo "		ssl_certificate_key $key;"
		case ",$opts," in
		*,tls12,*) echo "		ssl_protocols TLSv1.2;" ;;
		*) echo "		ssl_protocols TLSv1.2 TLSv1.3;" ;;
		esac
		case ",$opts," in *,reject,*)
			echo "		ssl_reject_handshake on;" ;;
		esac
		echo "		return 200 \"probe fixture\\n\";"
		echo "	}"
	done
	echo "}"
}

probeserver_start() {
	local dir=$1 try spec name port ok
	shift
	command -v nginx >/dev/null || { echo "nginx not installed"; return 77; }
	mkdir -p "$dir/tmp"
	for try in 1 2 3 4 5; do
		probeserver_conf "$dir" "$@" >"$dir/nginx.conf"
		nginx -p "$dir" -c "$dir/nginx.conf" 2>>"$dir/start.log" &
		PROBESERVER_PID=$!
		for _ in $(seq 50); do
			ok=1
			for spec in "$@"; do
				name=${spec%%:*}
				eval "port=\$PORT_$name"
				if ! (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null; then
					ok=0
					break
				fi
			done
			[ $ok = 1 ] && return 0
			kill -0 "$PROBESERVER_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill "$PROBESERVER_PID" 2>/dev/null
		wait "$PROBESERVER_PID" 2>/dev/null
	done
	echo "nginx did not start: $(tail -3 "$dir/error.log" "$dir/start.log" 2>/dev/null)"
	return 1
}

probeserver_stop() {
	if [ -n "${PROBESERVER_PID:-}" ]; then
		kill "$PROBESERVER_PID" 2>/dev/null
		wait "$PROBESERVER_PID" 2>/dev/null
		PROBESERVER_PID=
	fi
}
