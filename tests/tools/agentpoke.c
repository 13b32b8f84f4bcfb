/*
 * agentpoke: a misbehaving ct-agent client for the integration tests.
 *
 *   agentpoke HOST:PORT AGENT_NAME POLLER_KEY AGENT_PUBLINE MODE [ARG]
 *
 * TLS modes (a real pinned TLS 1.3 handshake with the poller key, then
 * one crafted frame; each answer is checked against the pinned agent key
 * and printed as "N: STATUS: reason", or "N: closed: why" when the agent
 * closed without one):
 *   ok          a correct `info` request (sanity)
 *   replay      one signed request sent twice, on two connections
 *   forge       a request whose signature has one byte flipped
 *   badname     a request signed for another agent name
 *   stale       a request 1000 s old
 *   badop       a request with an unknown op byte
 *   malformed   a frame of garbage, then a truncated request
 *   oversize N  N connections announcing a PROTO_MAX_REQUEST_BYTES + 1
 *               frame (then sending it), and N announcing 4 GiB - 1;
 *               prints "STATUS xCOUNT" per status seen
 *   slowreq S   a correct request sent one byte per second after the
 *               handshake; prints when the agent cut it off (give up
 *               after S seconds)
 * Raw TCP modes (no TLS):
 *   idle N S    opens N TCP connections that send nothing, prints
 *               "idle: N open", holds them S seconds (or until stdin
 *               closes), then prints how many the agent had closed
 *   slow S      sends one byte a second; prints "slow: closed by the
 *               agent after X s", or "slow: still open after S s"
 *
 * Exit status: 0 when it could do what was asked (whatever the agent
 * answered), 1 when it could not (bad arguments, no connection...).
 * Test tool only: not installed.
 */
#include <wolfssl/options.h>

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "keys.h"
#include "proto.h"
#include "tls.h"
#include "util.h"

#define POKE_TIMEOUT_MS 10000
#define POKE_MAX_IDLE 4096
#define POKE_REASON_BYTES 200
#define POKE_OVERSIZE_MAX 10000

struct poke {
	uv_loop_t loop;
	struct tls_ctx *ctx;
	struct sockaddr_storage addr;
	char host[256];
	uint16_t port;
	char name[PROTO_NAME_MAX_BYTES + 1];
	struct keys_ed25519 key;
	uint8_t pin[KEYS_PUB_BYTES];
};

/* One connection's exchange. */
struct xchg {
	struct poke *p;
	const uint8_t *send;
	size_t send_len;
	size_t sent;
	bool trickle; /* one byte per second */
	uv_timer_t trickle_timer;
	bool timer_open;
	struct tls_conn *conn;
	struct proto_framer fr;
	bool got;
	int status; /* proto status, or -1 */
	char reason[POKE_REASON_BYTES];
	char closed[TLS_ERROR_TEXT_BYTES];
	uint64_t t0_ns, t_close_ns;
};

static void
die(const char *msg)
{
	fprintf(stderr, "agentpoke: %s\n", msg);
	exit(1);
}

static void
x_on_trickle(uv_timer_t *t)
{
	struct xchg *x = t->data;

	if (x->conn == NULL || x->sent >= x->send_len) {
		uv_timer_stop(t);
		return;
	}
	if (tls_write(x->conn, x->send + x->sent, 1) == 0)
		x->sent++;
}

static void
x_on_handshake(struct tls_conn *c, int status)
{
	struct xchg *x = tls_conn_arg(c);

	if (status != 0)
		return;
	if (x->trickle) {
		uv_timer_start(&x->trickle_timer, x_on_trickle, 0, 1000);
		return;
	}
	if (tls_write(c, x->send, x->send_len) != 0)
		tls_close(c);
}

static void
x_on_data(struct tls_conn *c, const uint8_t *p, size_t n)
{
	struct xchg *x = tls_conn_arg(c);
	struct proto_response resp;
	const uint8_t *f;
	size_t len;
	const char *why = "";
	int rc;

	if (x->got)
		return;
	rc = proto_framer_feed(&x->fr, p, n, NULL);
	if (rc == 0)
		return;
	x->got = true;
	if (rc < 0) {
		snprintf(x->reason, sizeof(x->reason), "bad frame: %s",
		    ct_strerror(rc));
		tls_close(c);
		return;
	}
	f = proto_framer_frame(&x->fr, &len);
	if (proto_response_decode(f, len, &resp, &why) != 0) {
		snprintf(x->reason, sizeof(x->reason), "bad answer: %s", why);
	} else if (proto_response_signature(&resp, x->p->pin) != 0) {
		snprintf(x->reason, sizeof(x->reason),
		    "answer not signed by the pinned key");
	} else {
		x->status = (int)resp.status;
		util_sanitize((const char *)resp.body,
		    resp.body_len < 150 ? resp.body_len : 150, x->reason,
		    sizeof(x->reason));
	}
	tls_close(c);
}

static void
x_on_close(struct tls_conn *c, int status)
{
	struct xchg *x = tls_conn_arg(c);

	(void)status;
	snprintf(x->closed, sizeof(x->closed), "%s", tls_conn_error(c));
	x->t_close_ns = uv_hrtime();
	x->conn = NULL;
	if (x->timer_open) {
		uv_close((uv_handle_t *)&x->trickle_timer, NULL);
		x->timer_open = false;
	}
}

/* Runs one connection that sends frame; fills x. */
static void
exchange(struct poke *p, const uint8_t *frame, size_t len, bool trickle,
    uint64_t deadline_ms, struct xchg *x)
{
	struct tls_callbacks cb;

	memset(x, 0, sizeof(*x));
	cb.on_handshake = x_on_handshake;
	cb.on_data = x_on_data;
	cb.on_close = x_on_close;
	cb.arg = x;
	x->p = p;
	x->send = frame;
	x->send_len = len;
	x->trickle = trickle;
	x->status = -1;
	proto_framer_init(&x->fr, PROTO_MAX_RESPONSE_BYTES);
	if (uv_timer_init(&p->loop, &x->trickle_timer) != 0)
		die("timer");
	x->trickle_timer.data = x;
	x->timer_open = true;
	x->t0_ns = uv_hrtime();
	if (tls_connect(p->ctx, &p->loop, (struct sockaddr *)&p->addr, p->pin,
	        NULL, &cb, &x->conn) != 0)
		die("cannot start a connection");
	tls_set_deadline(x->conn, deadline_ms);
	(void)uv_run(&p->loop, UV_RUN_DEFAULT);
	proto_framer_clear(&x->fr);
}

static void
print_x(int i, const struct xchg *x)
{
	if (x->status >= 0)
		printf("%d: %s: %s\n", i, proto_status_name(x->status),
		    x->reason);
	else if (x->got)
		printf("%d: invalid: %s\n", i, x->reason);
	else
		printf("%d: closed: %s\n", i,
		    x->closed[0] != '\0' ? x->closed : "no reason");
	fflush(stdout);
}

/* A signed request payload framed: header || payload. */
static void
make_request(struct poke *p, const char *name, enum proto_op op,
    const char *arg, int64_t when, struct util_buf *frame)
{
	struct util_buf payload;
	uint8_t nonce[PROTO_NONCE_BYTES], hdr[PROTO_FRAME_HEADER_BYTES];

	if (proto_nonce(nonce) != 0 ||
	    proto_request_encode(&p->key, name, op, arg, when, nonce,
	        &payload) != 0 ||
	    proto_frame_header(hdr, payload.len, PROTO_MAX_REQUEST_BYTES) != 0)
		die("cannot encode a request");
	util_buf_init(frame, PROTO_FRAME_HEADER_BYTES + payload.len);
	if (util_buf_append(frame, hdr, sizeof(hdr)) != 0 ||
	    util_buf_append(frame, payload.data, payload.len) != 0)
		die("out of memory");
	util_buf_clear(&payload);
}

static void
mode_tls(struct poke *p, const char *mode, const char *arg)
{
	struct util_buf f, g;
	struct xchg x;
	uint8_t big[PROTO_FRAME_HEADER_BYTES + PROTO_MAX_REQUEST_BYTES + 1];
	unsigned long n = 1, i, counts[PROTO_STATUS__MAX + 1];
	uint64_t v;
	int k;

	if (strcmp(mode, "ok") == 0 || strcmp(mode, "replay") == 0) {
		make_request(p, p->name, PROTO_OP_INFO, NULL, util_now(), &f);
		exchange(p, f.data, f.len, false, POKE_TIMEOUT_MS, &x);
		print_x(1, &x);
		if (strcmp(mode, "replay") == 0) {
			exchange(p, f.data, f.len, false, POKE_TIMEOUT_MS, &x);
			print_x(2, &x);
		}
		util_buf_clear(&f);
	} else if (strcmp(mode, "forge") == 0) {
		make_request(p, p->name, PROTO_OP_INFO, NULL, util_now(), &f);
		f.data[f.len - 10] ^= 0x01; /* inside the signature */
		exchange(p, f.data, f.len, false, POKE_TIMEOUT_MS, &x);
		print_x(1, &x);
		util_buf_clear(&f);
	} else if (strcmp(mode, "badname") == 0) {
		make_request(p, "wrong.example.org", PROTO_OP_INFO, NULL,
		    util_now(), &f);
		exchange(p, f.data, f.len, false, POKE_TIMEOUT_MS, &x);
		print_x(1, &x);
		util_buf_clear(&f);
	} else if (strcmp(mode, "stale") == 0) {
		make_request(p, p->name, PROTO_OP_INFO, NULL, util_now() - 1000,
		    &f);
		exchange(p, f.data, f.len, false, POKE_TIMEOUT_MS, &x);
		print_x(1, &x);
		util_buf_clear(&f);
	} else if (strcmp(mode, "badop") == 0) {
		make_request(p, p->name, PROTO_OP_INFO, NULL, util_now(), &f);
		/* magic(4) key(32) namelen(1) name op */
		f.data[PROTO_FRAME_HEADER_BYTES + 4 + 32 + 1 +
		    strlen(p->name)] = 9;
		exchange(p, f.data, f.len, false, POKE_TIMEOUT_MS, &x);
		print_x(1, &x);
		util_buf_clear(&f);
	} else if (strcmp(mode, "malformed") == 0) {
		static const uint8_t junk[] = {0, 0, 0, 12, 'G', 'E', 'T', ' ',
		    '/', ' ', 'H', 'T', 'T', 'P', '/', '1'};

		exchange(p, junk, sizeof(junk), false, POKE_TIMEOUT_MS, &x);
		print_x(1, &x);
		/* A real request cut short, with its frame length fixed. */
		make_request(p, p->name, PROTO_OP_INFO, NULL, util_now(), &f);
		util_buf_init(&g, f.len);
		if (proto_frame_header(big, f.len - 4 - 20,
		        PROTO_MAX_REQUEST_BYTES) != 0 ||
		    util_buf_append(&g, big, 4) != 0 ||
		    util_buf_append(&g, f.data + 4, f.len - 4 - 20) != 0)
			die("out of memory");
		exchange(p, g.data, g.len, false, POKE_TIMEOUT_MS, &x);
		print_x(2, &x);
		util_buf_clear(&f);
		util_buf_clear(&g);
	} else if (strcmp(mode, "oversize") == 0) {
		if (arg != NULL) {
			if (util_parse_u64(arg, strlen(arg), POKE_OVERSIZE_MAX,
			        &v) != 0 ||
			    v == 0)
				die("oversize N: 1 to 10000");
			n = (unsigned long)v;
		}
		memset(counts, 0, sizeof(counts));
		memset(big, 'A', sizeof(big));
		for (i = 0; i < 2 * n; i++) {
			uint32_t len =
			    i < n ? PROTO_MAX_REQUEST_BYTES + 1 : UINT32_MAX;

			big[0] = (uint8_t)(len >> 24);
			big[1] = (uint8_t)(len >> 16);
			big[2] = (uint8_t)(len >> 8);
			big[3] = (uint8_t)len;
			exchange(p, big, sizeof(big), false, POKE_TIMEOUT_MS,
			    &x);
			counts[x.status >= 0 ? x.status : PROTO_STATUS__MAX]++;
		}
		for (k = 0; k <= PROTO_STATUS__MAX; k++)
			if (counts[k] > 0)
				printf("%s x%lu\n",
				    k < PROTO_STATUS__MAX ? proto_status_name(k)
				                          : "no-answer",
				    counts[k]);
	} else if (strcmp(mode, "slowreq") == 0) {
		if (arg == NULL ||
		    util_parse_u64(arg, strlen(arg), 3600, &v) != 0 || v == 0)
			die("slowreq SECONDS");
		make_request(p, p->name, PROTO_OP_INFO, NULL, util_now(), &f);
		exchange(p, f.data, f.len, true, v * 1000, &x);
		if (x.got || x.status >= 0)
			printf("slowreq: answered after %.1f s: %s\n",
			    (double)(x.t_close_ns - x.t0_ns) / 1e9,
			    x.status >= 0 ? proto_status_name(x.status) : "?");
		else if (strstr(x.closed, "deadline") != NULL)
			printf("slowreq: still open after %llu s\n",
			    (unsigned long long)v);
		else
			printf("slowreq: closed by the agent after %.1f s "
			       "(%zu of %zu bytes sent): %s\n",
			    (double)(x.t_close_ns - x.t0_ns) / 1e9, x.sent,
			    f.len, x.closed);
		util_buf_clear(&f);
	} else {
		die("unknown mode");
	}
}

/* ------------------------------------------------------------ raw TCP */

static int
tcp_open(const struct poke *p)
{
	int fd = socket(p->addr.ss_family, SOCK_STREAM, 0);
	socklen_t len = p->addr.ss_family == AF_INET
	    ? sizeof(struct sockaddr_in)
	    : sizeof(struct sockaddr_in6);

	if (fd < 0)
		return -1;
	if (connect(fd, (const struct sockaddr *)&p->addr, len) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* True when the peer has closed fd (EOF or reset). */
static bool
peer_closed(int fd, int wait_ms)
{
	struct pollfd pf = {fd, POLLIN, 0};
	char b[256];
	ssize_t r;

	if (poll(&pf, 1, wait_ms) <= 0)
		return false;
	r = recv(fd, b, sizeof(b), MSG_DONTWAIT);
	return r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

static void
mode_idle(struct poke *p, const char *n_arg, const char *s_arg)
{
	static int fds[POKE_MAX_IDLE];
	uint64_t n, secs, i, closed = 0;
	struct pollfd in = {0, POLLIN, 0};
	int64_t end;

	if (n_arg == NULL || s_arg == NULL ||
	    util_parse_u64(n_arg, strlen(n_arg), POKE_MAX_IDLE, &n) != 0 ||
	    util_parse_u64(s_arg, strlen(s_arg), 3600, &secs) != 0)
		die("idle N SECONDS");
	for (i = 0; i < n; i++)
		if ((fds[i] = tcp_open(p)) < 0)
			die("cannot open an idle connection");
	printf("idle: %llu open\n", (unsigned long long)n);
	fflush(stdout);
	end = util_now_ms() + (int64_t)secs * 1000;
	while (util_now_ms() < end) {
		int left = (int)(end - util_now_ms());

		if (poll(&in, 1, left > 0 ? left : 0) > 0) {
			char b[64];

			if (read(0, b, sizeof(b)) <= 0)
				break; /* stdin closed: done */
		}
	}
	for (i = 0; i < n; i++) {
		closed += peer_closed(fds[i], 0);
		close(fds[i]);
	}
	printf("idle: %llu of %llu closed by the agent\n",
	    (unsigned long long)closed, (unsigned long long)n);
}

static void
mode_slow(struct poke *p, const char *s_arg)
{
	uint64_t secs;
	int64_t t0, now;
	int fd;
	uint8_t b = 0x16; /* a TLS handshake record, one byte at a time */

	if (s_arg == NULL ||
	    util_parse_u64(s_arg, strlen(s_arg), 3600, &secs) != 0 || secs == 0)
		die("slow SECONDS");
	if ((fd = tcp_open(p)) < 0)
		die("cannot connect");
	t0 = util_now_ms();
	for (;;) {
		now = util_now_ms();
		if (now - t0 >= (int64_t)secs * 1000) {
			printf("slow: still open after %llu s\n",
			    (unsigned long long)secs);
			break;
		}
		if (send(fd, &b, 1, MSG_NOSIGNAL) != 1 ||
		    peer_closed(fd, 1000)) {
			printf("slow: closed by the agent after %.1f s\n",
			    (double)(util_now_ms() - t0) / 1000.0);
			break;
		}
		b = 0x03;
	}
	close(fd);
}

/* ------------------------------------------------------------ main */

static void
parse_addr(struct poke *p, const char *s)
{
	const char *colon = strrchr(s, ':');
	uint64_t port;
	size_t hlen;
	struct sockaddr_in *in = (struct sockaddr_in *)&p->addr;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&p->addr;

	if (colon == NULL ||
	    util_parse_u64(colon + 1, strlen(colon + 1), 65535, &port) != 0 ||
	    port == 0)
		die("HOST:PORT with a numeric address");
	hlen = (size_t)(colon - s);
	if (hlen >= 2 && s[0] == '[' && s[hlen - 1] == ']') {
		s++;
		hlen -= 2;
	}
	if (hlen == 0 || hlen >= sizeof(p->host))
		die("bad host");
	memcpy(p->host, s, hlen);
	p->host[hlen] = '\0';
	p->port = (uint16_t)port;
	if (uv_ip4_addr(p->host, p->port, in) != 0 &&
	    uv_ip6_addr(p->host, p->port, in6) != 0)
		die("HOST must be a numeric address");
}

int
main(int argc, char **argv)
{
	struct poke p;
	struct keys_pubkey pk;
	const char *why = "";
	const char *mode;
	int rc;

	signal(SIGPIPE, SIG_IGN);
	if (argc < 6 || argc > 8) {
		fprintf(stderr,
		    "usage: agentpoke HOST:PORT AGENT_NAME "
		    "POLLER_KEY AGENT_PUBLINE MODE [ARG...]\n");
		return 1;
	}
	memset(&p, 0, sizeof(p));
	parse_addr(&p, argv[1]);
	if (strlen(argv[2]) > PROTO_NAME_MAX_BYTES)
		die("agent name too long");
	snprintf(p.name, sizeof(p.name), "%s", argv[2]);
	mode = argv[5];
	if (strcmp(mode, "idle") == 0) {
		mode_idle(&p, argc > 6 ? argv[6] : NULL,
		    argc > 7 ? argv[7] : NULL);
		return 0;
	}
	if (strcmp(mode, "slow") == 0) {
		mode_slow(&p, argc > 6 ? argv[6] : NULL);
		return 0;
	}
	if ((rc = keys_load_private(argv[3], &p.key, &why)) != 0) {
		fprintf(stderr, "agentpoke: %s: %s\n", argv[3], why);
		return 1;
	}
	if (keys_parse_public_line(argv[4], strlen(argv[4]), &pk, &why) != 0) {
		fprintf(stderr, "agentpoke: agent key: %s\n", why);
		return 1;
	}
	memcpy(p.pin, pk.pub, KEYS_PUB_BYTES);
	if (tls_global_init() != 0 || uv_loop_init(&p.loop) != 0 ||
	    tls_ctx_new_client(p.key.priv, p.key.pub, "agentpoke", NULL, NULL,
	        &p.ctx) != 0)
		die("cannot set up TLS");
	mode_tls(&p, mode, argc > 6 ? argv[6] : NULL);
	tls_ctx_free(p.ctx);
	(void)uv_run(&p.loop, UV_RUN_DEFAULT);
	if (uv_loop_close(&p.loop) != 0)
		die("loop not empty");
	keys_clear(&p.key);
	tls_global_cleanup();
	return 0;
}
