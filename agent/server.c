/*
 * server: the listening socket and the connections (DESIGN.md section 4,
 * REFERENCE.md section 3.2).
 *
 * One connection carries one request and one response:
 *	accept -> TLS 1.3 handshake (client key must be in authorized_keys)
 *	-> one request frame (at most PROTO_MAX_REQUEST_BYTES, refused on
 *	the length prefix) -> decode -> rate limit -> verify (signature,
 *	name, clock, replay) -> the request must be signed by the TLS
 *	client's own key -> answer -> signed response frame -> close.
 * In CA-file mode (tls_ca) the handshake instead wants a client
 * certificate issued by the CA (named in tls_peer_names when set); the
 * request must still be signed by a key in authorized_keys, but there
 * is no TLS client key to compare its signer with.
 * A deadline of `timeout` covers everything up to the request, so a
 * client that sends nothing, or a byte a second, is cut off; once the
 * answer is queued it gets another `timeout` to drain.
 *
 * At max_connections, a new connection displaces the oldest one that has
 * not finished its handshake (idle or slow clients cannot lock out a
 * poller); when every connection is past its handshake, the new one is
 * accepted and closed at once.
 *
 * Every answered request is logged in one line (peer, key fingerprint,
 * op, argument, status, duration); so is every refusal (at most
 * LOG_LIMIT_PER_S refusal lines a second; the rest are counted).
 */
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "agent.h"

struct conn {
	struct agent *a;
	struct tls_conn *tls;
	struct conn *prev;
	struct conn *next;
	struct proto_framer fr;
	uint64_t t0_ns; /* uv_hrtime() at accept */
	struct sockaddr_storage peer;
	char peer_text[CONF_ADDR_TEXT_BYTES];
	uint8_t pub[KEYS_PUB_BYTES]; /* the TLS client key, once known */
	char fpr[KEYS_FINGERPRINT_BUF_BYTES];
	bool handshaken;
	bool ca; /* TLS by CA-file mode: c->pub is the request's signer */
	bool closing;
	bool answered; /* a response went out (and was logged) */
	bool evicted;
};

/* What one request came to, for the log line. */
struct outcome {
	enum proto_status status;
	const char *reason;
	const char *op;
	const char *arg;
	size_t body_len;
};

static uint64_t
elapsed_ms(const struct conn *c)
{
	return (uv_hrtime() - c->t0_ns) / 1000000;
}

static const char *
conn_fpr(const struct conn *c)
{
	return c->fpr[0] != '\0' ? c->fpr : "-";
}

/* ------------------------------------------------------------ lists */

static void
conn_link(struct agent *a, struct conn *c)
{
	c->prev = a->conn_tail;
	c->next = NULL;
	if (a->conn_tail != NULL)
		a->conn_tail->next = c;
	else
		a->conn_head = c;
	a->conn_tail = c;
	a->n_conns++;
}

static void
conn_unlink(struct agent *a, struct conn *c)
{
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		a->conn_head = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	else
		a->conn_tail = c->prev;
	a->n_conns--;
	if (c->closing)
		a->n_closing--;
}

static void
mark_closing(struct conn *c)
{
	if (!c->closing) {
		c->closing = true;
		c->a->n_closing++;
	}
}

/* ------------------------------------------------------------ responses */

static void
log_outcome(struct conn *c, const struct outcome *o)
{
	struct agent *a = c->a;

	if (o->status == PROTO_OK) {
		a->requests_ok++;
		log_info("%s key %s: %s %s: OK, %zu bytes (%llu ms)",
		    c->peer_text, conn_fpr(c), o->op, o->arg, o->body_len,
		    (unsigned long long)elapsed_ms(c));
		return;
	}
	a->requests_refused++;
	if (!log_limit_pass(&a->conn_log, uv_now(&a->loop)))
		return;
	log_warn("refused %s key %s: %s %s: %s: %s (%llu ms)", c->peer_text,
	    conn_fpr(c), o->op, o->arg, proto_status_name(o->status),
	    o->reason != NULL ? o->reason : "-",
	    (unsigned long long)elapsed_ms(c));
}

/* The JSON of a PROTO_OK answer: where it is, and what to free after. */
struct answer {
	const uint8_t *body; /* in own, or in the agent's answer cache */
	size_t len;
	const uint8_t *digest; /* kept with a cached body, or NULL */
	struct util_buf *own;
};

/*
 * Sends the signed response for the request bytes req (as received; may
 * be empty) and closes. The body is the JSON of *json for PROTO_OK (its
 * own buffer freed here as soon as the body is copied into the response,
 * to keep the peak memory of a large answer down), else the reason text.
 */
static void
respond(struct conn *c, enum proto_status status, const uint8_t *req,
    size_t req_len, const uint8_t *nonce, const struct answer *json,
    const char *reason)
{
	static const uint8_t nothing[1];
	struct agent *a = c->a;
	struct util_buf out;
	uint8_t hdr[PROTO_FRAME_HEADER_BYTES];
	const uint8_t *body = (const uint8_t *)reason, *digest = NULL;
	size_t body_len = reason != NULL ? strlen(reason) : 0;
	int rc;

	if (req == NULL) {
		req = nothing;
		req_len = 0;
	}
	if (json != NULL) {
		body = json->body;
		body_len = json->len;
		digest = json->digest;
	}
	rc = proto_response_encode_digest(&a->key, status, req, req_len, nonce,
	    a->conf.name, util_now(), body, body_len, digest, &out);
	if (json != NULL)
		util_buf_clear(json->own);
	if (rc == 0)
		rc = proto_frame_header(hdr, out.len, PROTO_MAX_RESPONSE_BYTES);
	if (rc == 0 && util_buf_reserve(&out, sizeof(hdr)) == 0) {
		/* Header and response in one write: one record stream, one
		 * send, one wake-up of the client. */
		memmove(out.data + sizeof(hdr), out.data, out.len);
		memcpy(out.data, hdr, sizeof(hdr));
		out.len += sizeof(hdr);
		rc = tls_write(c->tls, out.data, out.len);
	} else if (rc == 0 && (rc = tls_write(c->tls, hdr, sizeof(hdr))) == 0)
		rc = tls_write(c->tls, out.data, out.len);
	if (rc != 0)
		log_error("%s: cannot send the response: %s", c->peer_text,
		    ct_strerror(rc));
	util_buf_clear(&out);
	c->answered = true;
	tls_set_deadline(c->tls, c->a->conf.timeout_ms);
	mark_closing(c);
	tls_close(c->tls);
}

/* ------------------------------------------------------------ requests */

/* The checks of proto_request_verify, then ours: the signer is the peer. */
static enum proto_status
verify(struct conn *c, const struct proto_request *req, const char **reason)
{
	struct agent *a = c->a;
	struct proto_verify_params vp;
	enum proto_status st;

	memset(&vp, 0, sizeof(vp));
	vp.now = util_now();
	vp.window_s = PROTO_WINDOW_S;
	vp.agent_name = a->conf.name;
	vp.keys = &a->auth;
	vp.replay = a->replay;
	if (c->ca) { /* for the log line */
		memcpy(c->pub, req->client_pub, KEYS_PUB_BYTES);
		(void)keys_fingerprint(c->pub, c->fpr);
	}
	st = proto_request_verify(req, &vp, reason);
	if (st == PROTO_OK && !c->ca &&
	    !util_ct_equal(req->client_pub, c->pub, KEYS_PUB_BYTES)) {
		*reason = "request signed by another key than the TLS client's";
		st = PROTO_UNKNOWN_KEY;
	}
	return st;
}

static void
handle_request(struct conn *c, const uint8_t *p, size_t len)
{
	struct agent *a = c->a;
	struct proto_request req;
	struct util_buf body;
	struct answer ans;
	struct outcome o;
	int rc;

	memset(&o, 0, sizeof(o));
	memset(&body, 0, sizeof(body));
	memset(&ans, 0, sizeof(ans));
	ans.own = &body;
	o.op = "-";
	o.arg = "-";
	if ((rc = proto_request_decode(p, len, &req, &o.reason)) != 0) {
		o.status = proto_status_from_err(rc);
		respond(c, o.status, p, len, NULL, NULL,
		    o.reason != NULL ? o.reason : "malformed request");
		log_outcome(c, &o);
		return;
	}
	o.op = proto_op_name(req.op);
	o.arg = req.arg_len > 0 ? req.arg : "-";
	if (!rate_take(a->rate, &c->peer, uv_now(&a->loop))) {
		o.status = PROTO_BUSY;
		o.reason = "too many requests from this address; try later";
	} else if ((o.status = verify(c, &req, &o.reason)) == PROTO_OK) {
		o.status = ops_answer(a, &req, &body, &ans.body, &ans.len,
		    &ans.digest, &o.reason);
	}
	if (o.status == PROTO_OK) {
		o.body_len = ans.len;
		respond(c, PROTO_OK, p, len, req.nonce, &ans, NULL);
	} else {
		respond(c, o.status, p, len, req.nonce, NULL,
		    o.reason != NULL ? o.reason : proto_status_name(o.status));
	}
	util_buf_clear(&body);
	log_outcome(c, &o);
}

/* ------------------------------------------------------------ callbacks */

static void
on_handshake(struct tls_conn *t, int status)
{
	struct conn *c = tls_conn_arg(t);

	if (status != 0) {
		mark_closing(c); /* on_close follows and logs */
		return;
	}
	c->handshaken = true;
	c->ca = tls_conn_ca_mode(t);
	if (tls_conn_peer_pub(t, c->pub) == 0)
		(void)keys_fingerprint(c->pub, c->fpr);
}

static void
on_data(struct tls_conn *t, const uint8_t *p, size_t n)
{
	struct conn *c = tls_conn_arg(t);
	struct outcome o;
	const uint8_t *frame;
	size_t len;
	int rc;

	if (c->answered || c->closing)
		return; /* one request per connection; the rest is ignored */
	rc = proto_framer_feed(&c->fr, p, n, NULL);
	if (rc == 0)
		return;
	if (rc < 0) {
		memset(&o, 0, sizeof(o));
		o.op = "-";
		o.arg = "-";
		o.status =
		    rc == CT_ERR_TOO_BIG ? PROTO_TOO_BIG : PROTO_BAD_REQUEST;
		o.reason = rc == CT_ERR_TOO_BIG
		    ? "request frame longer than 16 KiB"
		    : "malformed request frame";
		respond(c, o.status, NULL, 0, NULL, NULL, o.reason);
		log_outcome(c, &o);
		return;
	}
	frame = proto_framer_frame(&c->fr, &len);
	handle_request(c, frame, len);
}

static void
on_trim(uv_timer_t *t)
{
	struct agent *a = t->data;

	if (a->n_conns == 0)
		(void)malloc_trim(0);
}

static void
on_close(struct tls_conn *t, int status)
{
	struct conn *c = tls_conn_arg(t);
	struct agent *a = c->a;
	const char *why;

	if (!c->answered && !a->stopping &&
	    log_limit_pass(&a->conn_log, uv_now(&a->loop))) {
		if (c->fpr[0] == '\0' && tls_conn_peer_pub(t, c->pub) == 0)
			(void)keys_fingerprint(c->pub, c->fpr);
		if (c->evicted)
			why = "dropped to make room: connection limit reached";
		else if (tls_conn_error(t)[0] != '\0')
			why = tls_conn_error(t);
		else
			why = ct_strerror(status);
		log_warn("refused %s key %s: no request %s: %s (%llu ms)",
		    c->peer_text, conn_fpr(c),
		    c->handshaken ? "after the handshake" : "(TLS)", why,
		    (unsigned long long)elapsed_ms(c));
	}
	conn_unlink(a, c);
	proto_framer_clear(&c->fr);
	free(c);
	/* Idle again: hand the freed memory back, unless busy again soon. */
	if (a->n_conns == 0 && a->trim_ready &&
	    uv_timer_start(&a->trim, on_trim, AGENT_TRIM_DELAY_MS, 0) != 0)
		(void)malloc_trim(0);
}

/* ------------------------------------------------------------ accepting */

static void
on_reject_closed(uv_handle_t *h)
{
	free(h);
}

/* Accepts a pending connection only to close it at once. */
static void
reject(struct agent *a, uv_stream_t *srv, const char *why)
{
	struct sockaddr_storage ss;
	char text[CONF_ADDR_TEXT_BYTES] = "?";
	uv_tcp_t *t;
	int len = sizeof(ss);

	if ((t = malloc(sizeof(*t))) == NULL)
		return;
	if (uv_tcp_init(&a->loop, t) != 0) {
		free(t);
		return;
	}
	if (uv_accept(srv, (uv_stream_t *)t) == 0 && why != NULL &&
	    log_limit_pass(&a->conn_log, uv_now(&a->loop))) {
		if (uv_tcp_getpeername(t, (struct sockaddr *)&ss, &len) == 0)
			conf_format_addr((struct sockaddr *)&ss, text,
			    sizeof(text));
		log_warn("refused %s: %s", text, why);
	}
	uv_close((uv_handle_t *)t, on_reject_closed);
}

/* Closes the oldest connection still in (or before) its handshake. */
static bool
evict_one(struct agent *a)
{
	struct conn *c;

	for (c = a->conn_head; c != NULL; c = c->next) {
		if (c->handshaken || c->closing)
			continue;
		c->evicted = true;
		mark_closing(c);
		tls_close(c->tls);
		return true;
	}
	return false;
}

static void
on_connection(uv_stream_t *srv, int status)
{
	struct agent *a = srv->data;
	struct tls_callbacks cb;
	struct conn *c;
	int rc;

	if (status < 0) {
		if (log_limit_pass(&a->conn_log, uv_now(&a->loop)))
			log_warn("accept: %s", uv_strerror(status));
		return;
	}
	if (a->stopping) {
		reject(a, srv, NULL);
		return;
	}
	if (a->n_conns - a->n_closing >= a->conf.max_connections &&
	    !evict_one(a)) {
		reject(a, srv, "connection limit reached");
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		reject(a, srv, "out of memory");
		return;
	}
	c->a = a;
	c->t0_ns = uv_hrtime();
	proto_framer_init(&c->fr, PROTO_MAX_REQUEST_BYTES);
	memset(&cb, 0, sizeof(cb));
	cb.on_handshake = on_handshake;
	cb.on_data = on_data;
	cb.on_close = on_close;
	cb.arg = c;
	if ((rc = tls_accept(a->tls, srv, &cb, &c->tls)) != 0) {
		proto_framer_clear(&c->fr);
		free(c);
		/* If the connection is still pending, take it off the queue. */
		reject(a, srv, ct_strerror(rc));
		return;
	}
	conn_link(a, c);
	tls_set_deadline(c->tls, a->conf.timeout_ms);
	if (tls_conn_peer_addr(c->tls, &c->peer) == 0)
		conf_format_addr((struct sockaddr *)&c->peer, c->peer_text,
		    sizeof(c->peer_text));
	else
		snprintf(c->peer_text, sizeof(c->peer_text), "?");
}

/* ------------------------------------------------------------ set-up */

static int
authorize(void *arg, const uint8_t pub[TLS_KEY_BYTES])
{
	const struct agent *a = arg;

	return keys_authorized_find(&a->auth, pub) != NULL ? 0 : CT_ERR_AUTH;
}

int
server_make_tls(struct agent *a, const struct keys_ed25519 *key,
    const char *name, struct tls_ctx **out)
{
	char cn[TLS_CN_MAX_BYTES + 1];

	/* The CN is only a label (keys are pinned); long names are cut. */
	snprintf(cn, sizeof(cn), "%s", name);
	return tls_ctx_new_server(key->priv, key->pub, cn, authorize, a, out);
}

/* Enough descriptors for max_connections, raising the soft limit. */
static void
fd_budget(struct agent *a)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)a->conf.max_connections + AGENT_FD_RESERVE;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
		return;
	if (rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= want)
		rl.rlim_cur = want;
	else
		rl.rlim_cur = rl.rlim_max;
	(void)setrlimit(RLIMIT_NOFILE, &rl);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < want) {
		a->conf.max_connections = rl.rlim_cur > 2 * AGENT_FD_RESERVE
		    ? (uint64_t)(rl.rlim_cur - AGENT_FD_RESERVE)
		    : AGENT_FD_RESERVE;
		log_warn("only %llu file descriptors allowed: max_connections "
		         "lowered to %llu",
		    (unsigned long long)rl.rlim_cur,
		    (unsigned long long)a->conf.max_connections);
	}
}

int
server_listen(struct agent *a, char *err, size_t errsz)
{
	struct sockaddr_storage ss;
	int rc, len = sizeof(ss);

	fd_budget(a);
	if (!a->trim_ready && uv_timer_init(&a->loop, &a->trim) == 0) {
		a->trim.data = a;
		a->trim_ready = true;
	}
	/* Responses are signed on this thread only: keep the key imported. */
	keys_sign_keep(true);
	if ((rc = uv_tcp_init(&a->loop, &a->listener)) != 0) {
		snprintf(err, errsz, "listen %s: %s", a->conf.listen,
		    uv_strerror(rc));
		return CT_ERR_IO;
	}
	a->listener.data = a;
	a->listening = true;
	if ((rc = uv_tcp_bind(&a->listener,
	         (const struct sockaddr *)&a->conf.listen_addr, 0)) != 0 ||
	    (rc = uv_listen((uv_stream_t *)&a->listener, AGENT_LISTEN_BACKLOG,
	         on_connection)) != 0) {
		snprintf(err, errsz, "listen %s: %s", a->conf.listen,
		    uv_strerror(rc));
		return CT_ERR_IO;
	}
	if (uv_tcp_getsockname(&a->listener, (struct sockaddr *)&ss, &len) == 0)
		conf_format_addr((struct sockaddr *)&ss, a->listen_text,
		    sizeof(a->listen_text));
	else
		snprintf(a->listen_text, sizeof(a->listen_text), "%s",
		    a->conf.listen);
	log_notice("listening on %s", a->listen_text);
	return 0;
}

void
server_stop(struct agent *a)
{
	struct conn *c;

	if (a->listening) {
		uv_close((uv_handle_t *)&a->listener, NULL);
		a->listening = false;
	}
	if (a->trim_ready) {
		uv_close((uv_handle_t *)&a->trim, NULL);
		a->trim_ready = false;
	}
	for (c = a->conn_head; c != NULL; c = c->next) {
		mark_closing(c);
		tls_set_deadline(c->tls, 1);
		tls_close(c->tls);
	}
	ops_cache_clear(a);
	keys_sign_keep(false);
}

bool
server_owns(const struct agent *a, const uv_handle_t *h)
{
	return h == (const uv_handle_t *)&a->listener ||
	    h == (const uv_handle_t *)&a->trim;
}
