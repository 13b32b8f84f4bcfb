/*
 * agentc: asks ct-agents over pinned TLS (see agentc.h).
 *
 * A request holds up to three things that outlive callbacks: the deadline
 * timer (closed when the request ends), a pending uv_getaddrinfo, and the
 * TLS connection. It is freed once the result has been delivered and all
 * three are gone (req_maybe_free). Results are delivered by finish(),
 * which is only ever called from loop callbacks.
 */
#include <wolfssl/options.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentc.h"
#include "keys.h"
#include "proto.h"
#include "tls.h"
#include "util.h"

/* The TLS layer's own deadline, past ours: a backstop only. */
#define AGENTC_TLS_BACKSTOP_MS 1000
#define AGENTC_PORT_TEXT_BYTES 8

/* The prefix tls.c gives a failed TCP connect ("connect: <uv text>"). */
#define TLS_CONNECT_PREFIX "connect: "

struct agentc {
	struct tls_ctx *tls;
	struct keys_ed25519 key;
	char line[KEYS_PUBLINE_BUF_BYTES];
	unsigned refs;
};

enum phase {
	PHASE_RESOLVING,
	PHASE_CONNECTING, /* TCP connect, then the TLS handshake */
	PHASE_WAITING,    /* request sent, reading the answer */
	PHASE_DONE
};

struct agentc_req {
	uv_loop_t *loop;
	struct agentc *ac;
	char name[PROTO_NAME_MAX_BYTES + 1];
	char host[PROTO_NAME_MAX_BYTES + 1];
	uint16_t port;
	uint8_t pin[KEYS_PUB_BYTES];
	const struct tls_session *session;
	enum proto_op op;
	struct util_buf frame; /* header || payload */
	int64_t req_time;
	uint32_t timeout_ms;
	uint64_t start_ns;

	uv_timer_t timer;
	bool timer_open;
	uv_getaddrinfo_t gai;
	bool gai_pending;
	struct sockaddr_storage addrs[AGENTC_MAX_ADDRS];
	size_t n_addrs, next_addr;
	struct tls_conn *conn;
	bool handshake_ok;
	struct proto_framer framer;

	enum phase phase;
	bool done;      /* the result was delivered (or never will be) */
	bool cancelled; /* agentc_cancel was called */
	agentc_cb cb;
	void *cb_arg;
	struct agentc_result res;
};

/* ------------------------------------------------------------ identity */

int
agentc_new(const struct keys_ed25519 *key, const char *comment, const char *cn,
    struct agentc **out)
{
	struct agentc *ac;
	int rc;

	*out = NULL;
	if (key == NULL)
		return CT_ERR_INVALID;
	if ((ac = calloc(1, sizeof(*ac))) == NULL)
		return CT_ERR_NOMEM;
	ac->refs = 1;
	ac->key = *key;
	rc = keys_format_public_line(key->pub, comment, ac->line,
	    sizeof(ac->line));
	if (rc == 0)
		rc = tls_ctx_new_client(key->priv, key->pub,
		    cn != NULL ? cn : AGENTC_DEFAULT_CN, NULL, NULL, &ac->tls);
	if (rc != 0) {
		keys_clear(&ac->key);
		free(ac);
		return rc;
	}
	*out = ac;
	return 0;
}

void
agentc_free(struct agentc *ac)
{
	if (ac == NULL || --ac->refs > 0)
		return;
	tls_ctx_free(ac->tls);
	keys_clear(&ac->key);
	free(ac);
}

const char *
agentc_public_line(const struct agentc *ac)
{
	return ac->line;
}

int
agentc_use_ca(struct agentc *ac, const char *ca_file, const char *cert_file,
    const char *key_file, char *err, size_t errsz)
{
	struct tls_ca_opts o;

	memset(&o, 0, sizeof(o));
	o.ca_file = ca_file;
	o.cert_file = cert_file;
	o.key_file = key_file;
	return tls_ctx_use_ca_file(ac->tls, &o, err, errsz);
}

/* ------------------------------------------------------------ helpers */

static void
addr_text(const struct sockaddr *sa, char out[AGENTC_ADDR_BYTES])
{
	char ip[INET6_ADDRSTRLEN];
	unsigned port;

	out[0] = '\0';
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		if (uv_ip4_name(in, ip, sizeof(ip)) != 0)
			return;
		port = ntohs(in->sin_port);
		snprintf(out, AGENTC_ADDR_BYTES, "%s:%u", ip, port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 =
		    (const struct sockaddr_in6 *)sa;

		if (uv_ip6_name(in6, ip, sizeof(ip)) != 0)
			return;
		port = ntohs(in6->sin6_port);
		snprintf(out, AGENTC_ADDR_BYTES, "[%s]:%u", ip, port);
	}
}

static void set_error(struct agentc_req *r, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
set_error(struct agentc_req *r, int status, const char *fmt, ...)
{
	va_list ap;

	r->res.status = status;
	va_start(ap, fmt);
	vsnprintf(r->res.error, sizeof(r->res.error), fmt, ap);
	va_end(ap);
}

static void
req_maybe_free(struct agentc_req *r)
{
	if (!r->done || r->gai_pending || r->conn != NULL || r->timer_open)
		return;
	util_buf_clear(&r->frame);
	proto_framer_clear(&r->framer);
	free(r->res.body);
	tls_session_free(r->res.session);
	agentc_free(r->ac);
	util_zero(r, sizeof(*r));
	free(r);
}

static void
on_timer_closed(uv_handle_t *h)
{
	struct agentc_req *r = h->data;

	r->timer_open = false;
	req_maybe_free(r);
}

/*
 * Delivers the result (status and error already set) and starts taking
 * the request down. Loop callbacks only.
 */
static void
finish(struct agentc_req *r)
{
	if (r->done)
		return;
	r->done = true;
	r->phase = PHASE_DONE;
	r->res.elapsed_us = (uv_hrtime() - r->start_ns) / 1000;
	if (r->res.status == 0)
		r->res.error[0] = '\0';
	if (r->cb != NULL)
		r->cb(r, &r->res, r->cb_arg);
	free(r->res.body);
	r->res.body = NULL;
	tls_session_free(r->res.session);
	r->res.session = NULL;
	if (r->gai_pending)
		(void)uv_cancel((uv_req_t *)&r->gai);
	if (r->conn != NULL)
		tls_close(r->conn);
	if (r->timer_open && !uv_is_closing((uv_handle_t *)&r->timer)) {
		uv_timer_stop(&r->timer);
		uv_close((uv_handle_t *)&r->timer, on_timer_closed);
	}
	req_maybe_free(r);
}

static uint64_t
remaining_ms(const struct agentc_req *r)
{
	uint64_t spent = (uv_hrtime() - r->start_ns) / 1000000;

	return spent >= r->timeout_ms ? 1 : r->timeout_ms - spent;
}

/* ------------------------------------------------------------ answers */

static const char *
skew_side(int64_t skew)
{
	return skew > 0 ? "agent ahead" : "agent behind";
}

/* The agent's reason for a refusal, made safe to print. */
static void
reason_text(const struct proto_response *resp, char *out, size_t outsz)
{
	if (resp->body_len == 0) {
		snprintf(out, outsz, "no reason given");
		return;
	}
	util_sanitize((const char *)resp->body, resp->body_len, out, outsz);
}

static void
unauthorized(struct agentc_req *r)
{
	set_error(r, CT_ERR_AUTH,
	    "key not authorized by agent %s (add this line to its "
	    "authorized_keys: %s)",
	    r->name, r->ac->line);
}

/* A verified refusal: status and the agent's reason to an error line. */
static void
refusal(struct agentc_req *r, const struct proto_response *resp)
{
	char why[AGENTC_REASON_MAX_BYTES];
	const char *st = proto_status_name((int)resp->status);
	int64_t skew = r->res.skew_s;

	reason_text(resp, why, sizeof(why));
	switch (resp->status) {
	case PROTO_UNKNOWN_KEY:
		unauthorized(r);
		break;
	case PROTO_BAD_SIGNATURE:
		set_error(r, CT_ERR_AUTH,
		    "agent %s rejected the request signature (%s: %s)", r->name,
		    st, why);
		break;
	case PROTO_WRONG_AGENT:
		set_error(r, CT_ERR_AUTH,
		    "agent name mismatch: asked %s, agent refused (%s: %s)",
		    r->name, st, why);
		break;
	case PROTO_CLOCK_SKEW:
		set_error(r, CT_ERR_CLOCK,
		    "clock skew: agent time differs by %lld s (%s; allowed "
		    "%d s; check NTP on both hosts)",
		    (long long)(skew < 0 ? -skew : skew), skew_side(skew),
		    PROTO_WINDOW_S);
		break;
	case PROTO_REPLAY:
		set_error(r, CT_ERR_REPLAY,
		    "agent %s refused the request as a replay (%s: %s)",
		    r->name, st, why);
		break;
	case PROTO_UNKNOWN_OP:
		set_error(r, CT_ERR_PROTO,
		    "agent %s does not know the operation '%s' (%s: %s)",
		    r->name, proto_op_name((int)r->op), st, why);
		break;
	case PROTO_BUSY:
		set_error(r, CT_ERR_PROTO,
		    "agent %s is busy, try again later (%s: %s)", r->name, st,
		    why);
		break;
	case PROTO_INTERNAL:
		set_error(r, CT_ERR_PROTO,
		    "agent %s failed (%s: %s); see its log", r->name, st, why);
		break;
	default:
		set_error(r, CT_ERR_PROTO,
		    "agent %s refused the request (%s: %s)", r->name, st, why);
		break;
	}
}

static int
copy_body(struct agentc_req *r, const struct proto_response *resp)
{
	if ((r->res.body = malloc(resp->body_len + 1)) == NULL)
		return CT_ERR_NOMEM;
	memcpy(r->res.body, resp->body, resp->body_len);
	r->res.body[resp->body_len] = '\0';
	r->res.body_len = resp->body_len;
	return 0;
}

/* A whole response frame: decode, verify, interpret. Sets res. */
static void
take_response(struct agentc_req *r, const uint8_t *p, size_t len)
{
	struct proto_response resp;
	const uint8_t *sent = r->frame.data + PROTO_FRAME_HEADER_BYTES;
	size_t sent_len = r->frame.len - PROTO_FRAME_HEADER_BYTES;
	const char *reason = "";
	char why[AGENTC_REASON_MAX_BYTES];
	int rc;

	if ((rc = proto_response_decode(p, len, &resp, &reason)) != 0) {
		set_error(r, CT_ERR_PROTO,
		    "malformed answer from agent %s at %s: %s", r->name,
		    r->res.addr, reason);
		return;
	}
	rc = proto_response_verify(&resp, r->pin, sent, sent_len, r->name,
	    &reason);
	if (rc == CT_ERR_SIGNATURE) {
		set_error(r, CT_ERR_SIGNATURE,
		    "answer from %s does not verify under the pinned key of "
		    "agent %s",
		    r->res.addr, r->name);
		return;
	}
	if (rc == CT_ERR_AUTH) {
		set_error(r, CT_ERR_AUTH,
		    "agent name mismatch: asked %s, it is %s", r->name,
		    resp.agent_name);
		return;
	}
	if (rc == CT_ERR_PROTO && resp.status != PROTO_OK) {
		/* Signed by the agent, but not bound to our request: it could
		 * not decode it (a zero nonce). Report what it said. */
		reason_text(&resp, why, sizeof(why));
		set_error(r, CT_ERR_PROTO,
		    "agent %s could not read the request (%s: %s)", r->name,
		    proto_status_name((int)resp.status), why);
		return;
	}
	if (rc != 0) {
		set_error(r, rc == CT_ERR_PROTO ? CT_ERR_PROTO : rc,
		    "answer from agent %s at %s is not for our request: %s",
		    r->name, r->res.addr, reason);
		return;
	}
	r->res.proto_status = (int)resp.status;
	r->res.agent_time = (int64_t)resp.agent_time;
	r->res.skew_s = (int64_t)resp.agent_time - r->req_time;
	if ((rc = copy_body(r, &resp)) != 0) {
		set_error(r, rc, "out of memory");
		return;
	}
	if (resp.status == PROTO_OK) {
		r->res.status = 0;
		return;
	}
	refusal(r, &resp);
}

/* ------------------------------------------------------------ connection */

static int connect_next(struct agentc_req *r);

static void
conn_on_handshake(struct tls_conn *c, int status)
{
	struct agentc_req *r = tls_conn_arg(c);
	int rc;

	if (status != 0 || r->done)
		return; /* on_close follows and says why */
	r->handshake_ok = true;
	r->res.resumed = tls_conn_resumed(c);
	r->phase = PHASE_WAITING;
	if ((rc = tls_write(c, r->frame.data, r->frame.len)) != 0) {
		set_error(r, rc, "cannot send the request to %s: %s",
		    r->res.addr, ct_strerror(rc));
		finish(r);
	}
}

static void
conn_on_data(struct tls_conn *c, const uint8_t *p, size_t n)
{
	struct agentc_req *r = tls_conn_arg(c);
	const uint8_t *frame;
	size_t used = 0, flen;
	int rc;

	if (r->done)
		return;
	rc = proto_framer_feed(&r->framer, p, n, &used);
	if (rc == 0)
		return;
	if (rc == CT_ERR_TOO_BIG) {
		set_error(r, CT_ERR_TOO_BIG,
		    "agent %s announced an answer over the %d MiB cap", r->name,
		    PROTO_MAX_RESPONSE_BYTES / (1024 * 1024));
	} else if (rc < 0) {
		set_error(r, CT_ERR_PROTO, "agent %s sent a bad frame: %s",
		    r->name, ct_strerror(rc));
	} else if (used != n) {
		set_error(r, CT_ERR_PROTO,
		    "agent %s sent %zu bytes after its answer", r->name,
		    n - used);
	} else {
		frame = proto_framer_frame(&r->framer, &flen);
		take_response(r, frame, flen);
		if (r->res.status == 0)
			(void)tls_conn_get_session(c, &r->res.session);
	}
	finish(r);
}

/* A connection ended before an answer: say why, or try the next address. */
static void
conn_failed(struct agentc_req *r, struct tls_conn *c, int status)
{
	const char *text = tls_conn_error(c);
	uint8_t peer[KEYS_PUB_BYTES];
	char want[KEYS_FINGERPRINT_BUF_BYTES], got[KEYS_FINGERPRINT_BUF_BYTES];
	size_t plen = strlen(TLS_CONNECT_PREFIX);
	bool has_peer = tls_conn_peer_pub(c, peer) == 0;

	if (!r->handshake_ok && status == CT_ERR_IO &&
	    strncmp(text, TLS_CONNECT_PREFIX, plen) == 0) {
		if (strcmp(text + plen, uv_strerror(UV_ECONNREFUSED)) == 0) {
			set_error(r, CT_ERR_IO, "connection refused to %s",
			    r->res.addr);
		} else {
			set_error(r, CT_ERR_IO, "cannot connect to %s: %s",
			    r->res.addr, text + plen);
		}
		if (r->next_addr < r->n_addrs && connect_next(r) == 0)
			return;
		if (r->n_addrs > 1) {
			size_t len = strlen(r->res.error);

			snprintf(r->res.error + len, sizeof(r->res.error) - len,
			    " (and %zu other address%s of %s)", r->n_addrs - 1,
			    r->n_addrs > 2 ? "es" : "", r->host);
		}
		return;
	}
	if (status == CT_ERR_AUTH && tls_conn_ca_mode(c)) {
		if (tls_conn_alert(c) >= 0)
			set_error(r, CT_ERR_AUTH,
			    "agent %s at %s refused our TLS certificate (%s): "
			    "it must be issued by a CA in the agent's tls_ca, "
			    "valid now, and carry one of its tls_peer_names",
			    r->name, r->res.addr, text);
		else
			set_error(r, CT_ERR_AUTH,
			    "TLS with agent %s at %s failed: %s", r->name,
			    r->res.addr, text);
		return;
	}
	if (status == CT_ERR_AUTH && has_peer &&
	    !util_ct_equal(peer, r->pin, KEYS_PUB_BYTES)) {
		keys_fingerprint(r->pin, want);
		keys_fingerprint(peer, got);
		set_error(r, CT_ERR_AUTH,
		    "TLS pin mismatch: expected %s, got %s (agent %s at %s)",
		    want, got, r->name, r->res.addr);
		return;
	}
	if (status == CT_ERR_AUTH && tls_conn_alert(c) < 0) {
		/* We refused the agent's certificate (no alert came). */
		set_error(r, CT_ERR_AUTH,
		    "TLS handshake with agent %s at %s failed: %s", r->name,
		    r->res.addr, text);
		return;
	}
	if (status == CT_ERR_AUTH) {
		/* The agent refused our certificate key (a TLS alert). */
		unauthorized(r);
		return;
	}
	if (status == CT_ERR_TIMEOUT) {
		set_error(r, CT_ERR_TIMEOUT, "timed out after %u ms (%s)",
		    r->timeout_ms, text);
		return;
	}
	if (!r->handshake_ok) {
		set_error(r, status,
		    "TLS handshake with agent %s at %s failed: %s", r->name,
		    r->res.addr, text);
		return;
	}
	if (status == CT_ERR_CLOSED && proto_framer_partial(&r->framer)) {
		set_error(r, CT_ERR_CLOSED,
		    "agent %s at %s closed the connection in the middle of its "
		    "answer",
		    r->name, r->res.addr);
		return;
	}
	if (status == CT_ERR_CLOSED) {
		set_error(r, CT_ERR_CLOSED,
		    "agent %s at %s closed the connection without an answer%s",
		    r->name, r->res.addr,
		    r->res.resumed ? " (it refused the resumed session: is "
		                     "this key still authorized?)"
		                   : " (see its log)");
		return;
	}
	set_error(r, status != 0 ? status : CT_ERR_PROTO,
	    "connection to agent %s at %s failed: %s", r->name, r->res.addr,
	    text);
}

static void
conn_on_close(struct tls_conn *c, int status)
{
	struct agentc_req *r = tls_conn_arg(c);

	r->conn = NULL;
	if (!r->done) {
		conn_failed(r, c, status);
		if (r->conn != NULL)
			return; /* trying the next address */
		finish(r);
		return;
	}
	req_maybe_free(r);
}

static const struct tls_callbacks conn_callbacks = {
    .on_handshake = conn_on_handshake,
    .on_data = conn_on_data,
    .on_close = conn_on_close,
};

/*
 * Connects to the next address that tls_connect takes. 0 when one is
 * connecting, else a negative ct_err with the error set.
 */
static int
connect_next(struct agentc_req *r)
{
	struct tls_callbacks cb = conn_callbacks;
	const struct sockaddr *sa;
	int rc = CT_ERR_IO;

	cb.arg = r;
	while (r->next_addr < r->n_addrs) {
		sa = (const struct sockaddr *)&r->addrs[r->next_addr];
		addr_text(sa, r->res.addr);
		if (tls_ctx_ca_mode(r->ac->tls)) /* the name, not the pin */
			rc = tls_connect_name(r->ac->tls, r->loop, sa, r->name,
			    &cb, &r->conn);
		else
			rc = tls_connect(r->ac->tls, r->loop, sa, r->pin,
			    r->next_addr == 0 ? r->session : NULL, &cb,
			    &r->conn);
		r->next_addr++;
		if (rc == 0) {
			r->phase = PHASE_CONNECTING;
			r->handshake_ok = false;
			proto_framer_reset(&r->framer);
			tls_set_deadline(r->conn,
			    remaining_ms(r) + AGENTC_TLS_BACKSTOP_MS);
			return 0;
		}
		set_error(r, rc, "cannot connect to %s: %s", r->res.addr,
		    ct_strerror(rc));
	}
	return rc;
}

static void
on_resolved(uv_getaddrinfo_t *g, int status, struct addrinfo *ai)
{
	struct agentc_req *r = g->data;
	struct addrinfo *a;

	r->gai_pending = false;
	for (a = ai; status == 0 && a != NULL && r->n_addrs < AGENTC_MAX_ADDRS;
	     a = a->ai_next) {
		if ((a->ai_family != AF_INET && a->ai_family != AF_INET6) ||
		    a->ai_addrlen > sizeof(r->addrs[0]))
			continue;
		memcpy(&r->addrs[r->n_addrs++], a->ai_addr, a->ai_addrlen);
	}
	uv_freeaddrinfo(ai);
	if (r->done) {
		req_maybe_free(r);
		return;
	}
	if (status < 0 || r->n_addrs == 0) {
		set_error(r, CT_ERR_IO, "cannot resolve %s: %s", r->host,
		    status < 0 ? uv_strerror(status)
		               : "no IPv4 or IPv6 address");
		finish(r);
		return;
	}
	if (connect_next(r) != 0)
		finish(r);
}

/* The deadline, or agentc_cancel (which fires the timer at once). */
static void
on_timer(uv_timer_t *t)
{
	struct agentc_req *r = t->data;
	struct sockaddr_storage ss;

	if (r->done)
		return;
	if (r->cancelled) {
		set_error(r, CT_ERR_CLOSED, "cancelled");
	} else if (r->phase == PHASE_RESOLVING) {
		set_error(r, CT_ERR_TIMEOUT,
		    "timed out after %u ms (resolving %s)", r->timeout_ms,
		    r->host);
	} else if (r->phase == PHASE_CONNECTING && r->conn != NULL &&
	    tls_conn_peer_addr(r->conn, &ss) != 0) {
		set_error(r, CT_ERR_TIMEOUT,
		    "timed out after %u ms (connecting to %s)", r->timeout_ms,
		    r->res.addr);
	} else if (r->phase == PHASE_CONNECTING) {
		set_error(r, CT_ERR_TIMEOUT,
		    "timed out after %u ms (during TLS handshake with %s)",
		    r->timeout_ms, r->res.addr);
	} else {
		set_error(r, CT_ERR_TIMEOUT,
		    "timed out after %u ms (waiting for the answer of agent %s "
		    "at %s%s)",
		    r->timeout_ms, r->name, r->res.addr,
		    proto_framer_partial(&r->framer) ? ", which began" : "");
	}
	finish(r);
}

void
agentc_cancel(struct agentc_req *req)
{
	if (req == NULL || req->done || req->cancelled)
		return;
	req->cancelled = true;
	uv_timer_start(&req->timer, on_timer, 0, 0);
}

/* ------------------------------------------------------------ requests */

/* A numeric host as the only address; false for a DNS name. */
static bool
numeric_addr(struct agentc_req *r)
{
	struct sockaddr_in *in = (struct sockaddr_in *)&r->addrs[0];
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&r->addrs[0];

	if (uv_ip4_addr(r->host, r->port, in) == 0 ||
	    uv_ip6_addr(r->host, r->port, in6) == 0) {
		r->n_addrs = 1;
		return true;
	}
	return false;
}

static int
copy_str(char *out, size_t outsz, const char *s)
{
	size_t n;

	if (s == NULL || (n = strnlen(s, outsz)) == 0 || n >= outsz)
		return CT_ERR_INVALID;
	memcpy(out, s, n + 1);
	return 0;
}

/* The request frame: header || signed payload. */
static int
build_frame(struct agentc_req *r, const char *arg)
{
	struct util_buf payload;
	uint8_t nonce[PROTO_NONCE_BYTES], hdr[PROTO_FRAME_HEADER_BYTES];
	int rc;

	util_buf_init(&r->frame,
	    PROTO_FRAME_HEADER_BYTES + PROTO_MAX_REQUEST_BYTES);
	if ((rc = proto_nonce(nonce)) != 0)
		return rc;
	r->req_time = util_now();
	rc = proto_request_encode(&r->ac->key, r->name, r->op, arg, r->req_time,
	    nonce, &payload);
	if (rc == 0 &&
	    (rc = proto_frame_header(hdr, payload.len,
	         PROTO_MAX_REQUEST_BYTES)) == 0 &&
	    (rc = util_buf_append(&r->frame, hdr, sizeof(hdr))) == 0)
		rc = util_buf_append(&r->frame, payload.data, payload.len);
	util_buf_clear(&payload);
	return rc;
}

int
agentc_request(uv_loop_t *loop, struct agentc *ac,
    const struct agentc_target *t, enum proto_op op, const char *arg,
    uint32_t timeout_ms, agentc_cb cb, void *cb_arg, struct agentc_req **out)
{
	struct agentc_req *r;
	char port[AGENTC_PORT_TEXT_BYTES];
	struct addrinfo hints;
	int rc;

	if (out != NULL)
		*out = NULL;
	if (loop == NULL || ac == NULL || t == NULL || cb == NULL ||
	    t->port == 0 || timeout_ms > AGENTC_MAX_TIMEOUT_MS)
		return CT_ERR_INVALID;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return CT_ERR_NOMEM;
	r->loop = loop;
	r->ac = ac;
	ac->refs++;
	r->op = op;
	r->port = t->port;
	r->session = t->session;
	r->cb = cb;
	r->cb_arg = cb_arg;
	r->timeout_ms =
	    timeout_ms != 0 ? timeout_ms : AGENTC_DEFAULT_TIMEOUT_MS;
	r->start_ns = uv_hrtime();
	r->res.proto_status = -1;
	r->done = true; /* until set up: req_maybe_free may free it */
	memcpy(r->pin, t->pub, KEYS_PUB_BYTES);
	proto_framer_init(&r->framer, PROTO_MAX_RESPONSE_BYTES);
	if ((rc = copy_str(r->name, sizeof(r->name), t->name)) != 0 ||
	    (rc = copy_str(r->host, sizeof(r->host), t->host)) != 0 ||
	    (rc = build_frame(r, arg)) != 0) {
		req_maybe_free(r);
		return rc;
	}
	r->timer.data = r;
	r->gai.data = r;
	(void)uv_timer_init(loop, &r->timer);
	r->timer_open = true;
	r->done = false;
	if (numeric_addr(r)) {
		rc = connect_next(r);
	} else {
		r->phase = PHASE_RESOLVING;
		memset(&hints, 0, sizeof(hints));
		hints.ai_family = AF_UNSPEC;
		hints.ai_socktype = SOCK_STREAM;
		snprintf(port, sizeof(port), "%u", (unsigned)r->port);
		rc = uv_getaddrinfo(loop, &r->gai, on_resolved, r->host, port,
		    &hints);
		if (rc == 0)
			r->gai_pending = true;
		else
			rc = CT_ERR_IO;
	}
	if (rc != 0) {
		r->done = true;
		uv_close((uv_handle_t *)&r->timer, on_timer_closed);
		return rc;
	}
	uv_timer_start(&r->timer, on_timer, r->timeout_ms, 0);
	if (out != NULL)
		*out = r;
	return 0;
}
