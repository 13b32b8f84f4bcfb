/*
 * agentc: the poller's agent client against an in-process fake agent
 * (common/tls server + common/proto) on 127.0.0.1 with an ephemeral port,
 * all on one libuv loop: an OK answer, every failure line of agentc.h
 * (refused, pin mismatch, key not authorised at the TLS and at the
 * protocol level, wrong agent name, clock skew, time-outs in each phase),
 * forged, unbound, oversized, truncated and trailing answers, 20
 * concurrent requests taking as long as the slowest, resumption and
 * cancellation; then the `certs` body parser, with every field's wrong
 * type and caps. Every loop test ends with uv_loop_close() == 0.
 */
#include <wolfssl/options.h>

#include <signal.h>
#include <string.h>

#include <uv.h>

#include "agentc.h"
#include "keys.h"
#include "proto.h"
#include "testutil.h"
#include "tls.h"
#include "util.h"

#define TEST_TIMEOUT_S 60
#define MAX_REQS 32
#define CONCURRENT_REQS 20
#define SLOW_ANSWER_MS 300
#define SHORT_TIMEOUT_MS 300
#define AGENT_NAME "web1.example.org"

enum fake_mode {
	FAKE_OK,         /* answer as a real agent would */
	FAKE_OTHER_NAME, /* the agent calls itself web2.example.org */
	FAKE_FORGED,     /* answer signed by another key */
	FAKE_UNBOUND,    /* answer bound to another request (hash) */
	FAKE_BIG_FRAME,  /* announce PROTO_MAX_RESPONSE_BYTES + 1 */
	FAKE_CLOSE,      /* close without an answer */
	FAKE_TRUNCATED,  /* half an answer, then close */
	FAKE_TRAILING,   /* an answer, then more bytes */
	FAKE_SILENT,     /* read the request, never answer */
	FAKE_ZERO_NONCE, /* BAD_REQUEST not bound to the request */
};

struct fx;

struct fake_conn {
	struct fx *fx;
	struct tls_conn *conn;
	struct proto_framer framer;
	uv_timer_t delay;
	struct util_buf answer;
	bool answered;
};

struct result {
	bool called;
	int status;
	int proto_status;
	char error[AGENTC_ERROR_BYTES];
	char *body;
	bool resumed;
	struct tls_session *session;
	uint64_t elapsed_us;
};

struct fx {
	uv_loop_t loop;
	uv_tcp_t listener;
	bool listening;
	uint16_t port;
	uv_tcp_t silent; /* a listener that never accepts */
	bool silent_open;
	uint16_t silent_port;
	struct keys_ed25519 agent, poller, other;
	struct tls_ctx *sctx;
	struct keys_authorized auth; /* protocol-level authorised keys */
	struct proto_replay *replay;
	struct agentc *ac;
	/* Behaviour of the fake agent. */
	enum fake_mode mode;
	bool tls_refuse;
	int64_t clock_offset_s;
	uint64_t delay_ms;
	const char *body;
	int accepted;
	/* Requests. */
	struct result res[MAX_REQS];
	int pending;
	uint64_t t0_ns, t_end_ns;
};

static void
make_key(struct keys_ed25519 *k, uint8_t fill)
{
	uint8_t seed[KEYS_PRIV_BYTES];

	memset(seed, fill, sizeof(seed));
	ck_assert_int_eq(keys_from_seed(k, seed), 0);
}

/* ------------------------------------------------------------ fake agent */

static int
fake_authorize(void *arg, const uint8_t pub[TLS_KEY_BYTES])
{
	struct fx *fx = arg;

	if (fx->tls_refuse)
		return -1;
	(void)pub;
	return 0; /* the protocol layer decides (fx->auth) */
}

static void
fake_delay_closed(uv_handle_t *h)
{
	struct fake_conn *fc = h->data;

	proto_framer_clear(&fc->framer);
	util_buf_clear(&fc->answer);
	free(fc);
}

static void
fake_send(struct fake_conn *fc)
{
	if (fc->conn == NULL || fc->answered)
		return;
	fc->answered = true;
	if (fc->answer.len > 0)
		(void)tls_write(fc->conn, fc->answer.data, fc->answer.len);
	tls_close(fc->conn);
}

static void
fake_on_delay(uv_timer_t *t)
{
	fake_send(t->data);
}

/* Builds the framed answer to the request payload p. */
static void
fake_answer(struct fake_conn *fc, const uint8_t *p, size_t n)
{
	struct fx *fx = fc->fx;
	struct proto_request req;
	struct proto_verify_params vp;
	struct util_buf out;
	enum proto_status st;
	const char *why = "", *name = AGENT_NAME, *body;
	const struct keys_ed25519 *key = &fx->agent;
	uint8_t hdr[PROTO_FRAME_HEADER_BYTES],
	    other_req[PROTO_MAX_REQUEST_BYTES];
	const uint8_t *bound = p, *nonce;
	int64_t now = util_now() + fx->clock_offset_s;
	size_t len;

	if (fx->mode == FAKE_OTHER_NAME)
		name = "web2.example.org";
	ck_assert_int_eq(proto_request_decode(p, n, &req, &why), 0);
	memset(&vp, 0, sizeof(vp));
	vp.now = now;
	vp.window_s = PROTO_WINDOW_S;
	vp.agent_name = name;
	vp.keys = &fx->auth;
	vp.replay = fx->replay;
	st = proto_request_verify(&req, &vp, &why);
	body = st == PROTO_OK ? fx->body : why;
	nonce = req.nonce;
	if (fx->mode == FAKE_FORGED)
		key = &fx->other;
	if (fx->mode == FAKE_UNBOUND) {
		ck_assert_uint_le(n, sizeof(other_req));
		memcpy(other_req, p, n);
		other_req[n - 1] ^= 1; /* another signature: another hash */
		bound = other_req;
	}
	if (fx->mode == FAKE_ZERO_NONCE) {
		st = PROTO_BAD_REQUEST;
		body = "cannot decode";
		nonce = NULL;
	}
	ck_assert_int_eq(proto_response_encode(key, st, bound, n, nonce, name,
	                     now, (const uint8_t *)body, strlen(body), &out),
	    0);
	util_buf_init(&fc->answer, PROTO_MAX_RESPONSE_BYTES + 64);
	len = fx->mode == FAKE_BIG_FRAME ? PROTO_MAX_RESPONSE_BYTES : out.len;
	ck_assert_int_eq(proto_frame_header(hdr, len, PROTO_MAX_RESPONSE_BYTES),
	    0);
	if (fx->mode == FAKE_BIG_FRAME)
		hdr[3]++; /* one byte over the cap */
	ck_assert_int_eq(util_buf_append(&fc->answer, hdr, sizeof(hdr)), 0);
	if (fx->mode == FAKE_TRUNCATED)
		out.len /= 2;
	if (fx->mode != FAKE_BIG_FRAME)
		ck_assert_int_eq(util_buf_append(&fc->answer, out.data,
		                     out.len),
		    0);
	if (fx->mode == FAKE_TRAILING)
		ck_assert_int_eq(util_buf_append(&fc->answer, "xx", 2), 0);
	util_buf_clear(&out);
}

static void
fake_on_data(struct tls_conn *c, const uint8_t *p, size_t n)
{
	struct fake_conn *fc = tls_conn_arg(c);
	const uint8_t *frame;
	size_t flen;
	int rc;

	if (fc->answered)
		return;
	rc = proto_framer_feed(&fc->framer, p, n, NULL);
	ck_assert_int_ge(rc, 0);
	if (rc == 0)
		return;
	if (fc->fx->mode == FAKE_SILENT) {
		fc->answered = true;
		return;
	}
	if (fc->fx->mode == FAKE_CLOSE) {
		fc->answered = true;
		tls_close(c);
		return;
	}
	frame = proto_framer_frame(&fc->framer, &flen);
	fake_answer(fc, frame, flen);
	if (fc->fx->delay_ms > 0)
		uv_timer_start(&fc->delay, fake_on_delay, fc->fx->delay_ms, 0);
	else
		fake_send(fc);
}

static void
fake_on_close(struct tls_conn *c, int status)
{
	struct fake_conn *fc = tls_conn_arg(c);

	(void)status;
	fc->conn = NULL;
	uv_close((uv_handle_t *)&fc->delay, fake_delay_closed);
}

static void
fake_on_connection(uv_stream_t *server, int status)
{
	struct fx *fx = server->data;
	struct tls_callbacks cb = {NULL, fake_on_data, fake_on_close, NULL};
	struct fake_conn *fc;

	ck_assert_int_eq(status, 0);
	fc = calloc(1, sizeof(*fc));
	ck_assert_ptr_nonnull(fc);
	fc->fx = fx;
	proto_framer_init(&fc->framer, PROTO_MAX_REQUEST_BYTES);
	util_buf_init(&fc->answer, 0);
	ck_assert_int_eq(uv_timer_init(&fx->loop, &fc->delay), 0);
	fc->delay.data = fc;
	cb.arg = fc;
	ck_assert_int_eq(tls_accept(fx->sctx, server, &cb, &fc->conn), 0);
	fx->accepted++;
}

static void
silent_on_connection(uv_stream_t *server, int status)
{
	(void)server;
	(void)status; /* never accepted: the TCP connection just waits */
}

static uint16_t
listen_on(uv_loop_t *loop, uv_tcp_t *t, uv_connection_cb cb, void *data)
{
	struct sockaddr_in sin;
	struct sockaddr_storage ss;
	int len = sizeof(ss);

	ck_assert_int_eq(uv_tcp_init(loop, t), 0);
	t->data = data;
	ck_assert_int_eq(uv_ip4_addr("127.0.0.1", 0, &sin), 0);
	ck_assert_int_eq(uv_tcp_bind(t, (struct sockaddr *)&sin, 0), 0);
	ck_assert_int_eq(uv_listen((uv_stream_t *)t, 128, cb), 0);
	ck_assert_int_eq(uv_tcp_getsockname(t, (struct sockaddr *)&ss, &len),
	    0);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static struct fx *
fx_new(void)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	char line[KEYS_PUBLINE_BUF_BYTES];

	ck_assert_ptr_nonnull(fx);
	ck_assert_int_eq(uv_loop_init(&fx->loop), 0);
	make_key(&fx->agent, 0x11);
	make_key(&fx->poller, 0x22);
	make_key(&fx->other, 0x33);
	ck_assert_int_eq(tls_ctx_new_server(fx->agent.priv, fx->agent.pub,
	                     AGENT_NAME, fake_authorize, fx, &fx->sctx),
	    0);
	ck_assert_int_eq(keys_format_public_line(fx->poller.pub, "poller@test",
	                     line, sizeof(line)),
	    0);
	ck_assert_int_eq(keys_authorized_parse(line, strlen(line), &fx->auth,
	                     NULL, NULL),
	    0);
	ck_assert_int_eq(proto_replay_new(1024, PROTO_WINDOW_S, &fx->replay),
	    0);
	ck_assert_int_eq(agentc_new(&fx->poller, "poller@test", NULL, &fx->ac),
	    0);
	fx->port = listen_on(&fx->loop, &fx->listener, fake_on_connection, fx);
	fx->listening = true;
	fx->body = "{\"version\":\"test\"}";
	return fx;
}

static void
fx_stop(struct fx *fx)
{
	if (fx->listening) {
		uv_close((uv_handle_t *)&fx->listener, NULL);
		fx->listening = false;
	}
	if (fx->silent_open) {
		uv_close((uv_handle_t *)&fx->silent, NULL);
		fx->silent_open = false;
	}
}

static void
fx_free(struct fx *fx)
{
	int i;

	fx_stop(fx);
	agentc_free(fx->ac);
	(void)uv_run(&fx->loop, UV_RUN_DEFAULT);
	ck_assert_int_eq(uv_loop_close(&fx->loop), 0);
	tls_ctx_free(fx->sctx);
	keys_authorized_free(&fx->auth);
	proto_replay_free(fx->replay);
	for (i = 0; i < MAX_REQS; i++) {
		free(fx->res[i].body);
		tls_session_free(fx->res[i].session);
	}
	keys_clear(&fx->agent);
	keys_clear(&fx->poller);
	keys_clear(&fx->other);
	free(fx);
}

static void
on_result(struct agentc_req *req, struct agentc_result *r, void *arg)
{
	struct result *out = arg;

	(void)req;
	ck_assert(!out->called);
	out->called = true;
	out->status = r->status;
	out->proto_status = r->proto_status;
	snprintf(out->error, sizeof(out->error), "%s", r->error);
	out->body = r->body; /* taken */
	r->body = NULL;
	out->session = r->session; /* taken */
	r->session = NULL;
	out->resumed = r->resumed;
	out->elapsed_us = r->elapsed_us;
	ck_assert(r->status == 0 || r->error[0] != '\0');
}

/* The fixture of the running test (one per test process). */
static struct fx *current;

static void
on_result_count(struct agentc_req *req, struct agentc_result *r, void *arg)
{
	on_result(req, r, arg);
	if (--current->pending == 0) {
		current->t_end_ns = uv_hrtime();
		fx_stop(current);
	}
}

static void
target_init(struct fx *fx, struct agentc_target *t, uint16_t port)
{
	memset(t, 0, sizeof(*t));
	t->name = AGENT_NAME;
	t->host = "127.0.0.1";
	t->port = port;
	memcpy(t->pub, fx->agent.pub, KEYS_PUB_BYTES);
}

/* Starts n requests of op to t and runs the loop until all are done. */
static void
run_n(struct fx *fx, const struct agentc_target *t, enum proto_op op,
    const char *arg, uint32_t timeout_ms, int n)
{
	int i;

	current = fx;
	fx->pending = n;
	fx->t0_ns = uv_hrtime();
	for (i = 0; i < n; i++)
		ck_assert_int_eq(agentc_request(&fx->loop, fx->ac, t, op, arg,
		                     timeout_ms, on_result_count, &fx->res[i],
		                     NULL),
		    0);
	(void)uv_run(&fx->loop, UV_RUN_DEFAULT);
	ck_assert_int_eq(fx->pending, 0);
}

static void
run_one(struct fx *fx, enum proto_op op, const char *arg)
{
	struct agentc_target t;

	target_init(fx, &t, fx->port);
	run_n(fx, &t, op, arg, 5000, 1);
}

static void
assert_error(const struct result *r, int status, const char *text)
{
	ck_assert(r->called);
	ck_assert_msg(r->status == status, "status %d (%s), want %d: %s",
	    r->status, ct_strerror(r->status), status, r->error);
	ck_assert_msg(strstr(r->error, text) != NULL, "error '%s' lacks '%s'",
	    r->error, text);
}

/* ------------------------------------------------------------ tests */

START_TEST(test_ok_info)
{
	struct fx *fx = fx_new();

	run_one(fx, PROTO_OP_INFO, NULL);
	ck_assert_msg(fx->res[0].status == 0, "%s", fx->res[0].error);
	ck_assert_int_eq(fx->res[0].proto_status, PROTO_OK);
	ck_assert_str_eq(fx->res[0].body, "{\"version\":\"test\"}");
	ck_assert_str_eq(fx->res[0].error, "");
	ck_assert(!fx->res[0].resumed);
	fx_free(fx);
}
END_TEST

START_TEST(test_ok_certs_and_resume)
{
	struct fx *fx = fx_new();
	struct agentc_target t;

	target_init(fx, &t, fx->port);
	run_n(fx, &t, PROTO_OP_CERTS, "www.example.org", 5000, 1);
	ck_assert_msg(fx->res[0].status == 0, "%s", fx->res[0].error);
	ck_assert_ptr_nonnull(fx->res[0].session);
	/* A second request offering the session resumes it. */
	fx->port = listen_on(&fx->loop, &fx->listener, fake_on_connection, fx);
	fx->listening = true;
	target_init(fx, &t, fx->port);
	t.session = fx->res[0].session;
	current = fx;
	fx->pending = 1;
	ck_assert_int_eq(agentc_request(&fx->loop, fx->ac, &t, PROTO_OP_CERTS,
	                     "*", 5000, on_result_count, &fx->res[1], NULL),
	    0);
	(void)uv_run(&fx->loop, UV_RUN_DEFAULT);
	ck_assert_msg(fx->res[1].status == 0, "%s", fx->res[1].error);
	ck_assert(fx->res[1].resumed);
	fx_free(fx);
}
END_TEST

START_TEST(test_refused)
{
	struct fx *fx = fx_new();
	struct agentc_target t;
	char want[64];
	uint16_t port;
	uv_tcp_t tmp;

	/* A port that was just free: bind, learn, close. */
	port = listen_on(&fx->loop, &tmp, silent_on_connection, NULL);
	uv_close((uv_handle_t *)&tmp, NULL);
	(void)uv_run(&fx->loop, UV_RUN_NOWAIT);
	target_init(fx, &t, port);
	run_n(fx, &t, PROTO_OP_INFO, NULL, 5000, 1);
	snprintf(want, sizeof(want), "connection refused to 127.0.0.1:%u",
	    port);
	assert_error(&fx->res[0], CT_ERR_IO, want);
	ck_assert_str_eq(fx->res[0].error, want);
	fx_free(fx);
}
END_TEST

START_TEST(test_pin_mismatch)
{
	struct fx *fx = fx_new();
	struct agentc_target t;
	char want[256], fp_other[KEYS_FINGERPRINT_BUF_BYTES],
	    fp_agent[KEYS_FINGERPRINT_BUF_BYTES];

	target_init(fx, &t, fx->port);
	memcpy(t.pub, fx->other.pub, KEYS_PUB_BYTES);
	run_n(fx, &t, PROTO_OP_INFO, NULL, 5000, 1);
	keys_fingerprint(fx->other.pub, fp_other);
	keys_fingerprint(fx->agent.pub, fp_agent);
	snprintf(want, sizeof(want), "TLS pin mismatch: expected %s, got %s",
	    fp_other, fp_agent);
	assert_error(&fx->res[0], CT_ERR_AUTH, want);
	fx_free(fx);
}
END_TEST

static void
assert_unauthorized(struct fx *fx, const struct result *r)
{
	char want[512];

	snprintf(want, sizeof(want),
	    "key not authorized by agent " AGENT_NAME
	    " (add this line to its authorized_keys: %s)",
	    agentc_public_line(fx->ac));
	assert_error(r, CT_ERR_AUTH, want);
	ck_assert(strstr(r->error, "poller@test") != NULL);
}

START_TEST(test_unauthorized_tls)
{
	struct fx *fx = fx_new();

	fx->tls_refuse = true;
	run_one(fx, PROTO_OP_INFO, NULL);
	assert_unauthorized(fx, &fx->res[0]);
	ck_assert_int_eq(fx->res[0].proto_status, -1);
	fx_free(fx);
}
END_TEST

START_TEST(test_unauthorized_proto)
{
	struct fx *fx = fx_new();

	keys_authorized_free(&fx->auth); /* nobody */
	run_one(fx, PROTO_OP_INFO, NULL);
	assert_unauthorized(fx, &fx->res[0]);
	ck_assert_int_eq(fx->res[0].proto_status, PROTO_UNKNOWN_KEY);
	fx_free(fx);
}
END_TEST

START_TEST(test_wrong_agent_name)
{
	struct fx *fx = fx_new();

	fx->mode = FAKE_OTHER_NAME;
	run_one(fx, PROTO_OP_INFO, NULL);
	assert_error(&fx->res[0], CT_ERR_AUTH,
	    "agent name mismatch: asked web1.example.org, it is "
	    "web2.example.org");
	fx_free(fx);
}
END_TEST

START_TEST(test_clock_skew)
{
	struct fx *fx = fx_new();

	fx->clock_offset_s = 312;
	run_one(fx, PROTO_OP_INFO, NULL);
	/* The request's second and the agent's may differ by one. */
	ck_assert_msg(strstr(fx->res[0].error,
	                  "clock skew: agent time differs by 312 s") != NULL ||
	        strstr(fx->res[0].error,
	            "clock skew: agent time differs by 313 s") != NULL,
	    "%s", fx->res[0].error);
	assert_error(&fx->res[0], CT_ERR_CLOCK, "agent ahead");
	ck_assert_int_eq(fx->res[0].proto_status, PROTO_CLOCK_SKEW);
	fx_free(fx);
}
END_TEST

START_TEST(test_clock_skew_behind)
{
	struct fx *fx = fx_new();

	fx->clock_offset_s = -300;
	run_one(fx, PROTO_OP_INFO, NULL);
	assert_error(&fx->res[0], CT_ERR_CLOCK, "agent behind");
	ck_assert(strstr(fx->res[0].error, "differs by 300 s") != NULL ||
	    strstr(fx->res[0].error, "differs by 299 s") != NULL);
	fx_free(fx);
}
END_TEST

START_TEST(test_timeout_handshake)
{
	struct fx *fx = fx_new();
	struct agentc_target t;
	char want[128];
	uint64_t ms;

	fx->silent_port =
	    listen_on(&fx->loop, &fx->silent, silent_on_connection, NULL);
	fx->silent_open = true;
	target_init(fx, &t, fx->silent_port);
	run_n(fx, &t, PROTO_OP_INFO, NULL, SHORT_TIMEOUT_MS, 1);
	snprintf(want, sizeof(want),
	    "timed out after %d ms (during TLS handshake with 127.0.0.1:%u)",
	    SHORT_TIMEOUT_MS, fx->silent_port);
	assert_error(&fx->res[0], CT_ERR_TIMEOUT, want);
	ms = fx->res[0].elapsed_us / 1000;
	ck_assert_uint_ge(ms, SHORT_TIMEOUT_MS - 5);
	ck_assert_uint_lt(ms, SHORT_TIMEOUT_MS + 500);
	fx_free(fx);
}
END_TEST

START_TEST(test_timeout_waiting)
{
	struct fx *fx = fx_new();
	struct agentc_target t;

	fx->mode = FAKE_SILENT;
	target_init(fx, &t, fx->port);
	run_n(fx, &t, PROTO_OP_INFO, NULL, SHORT_TIMEOUT_MS, 1);
	assert_error(&fx->res[0], CT_ERR_TIMEOUT,
	    "(waiting for the answer of agent " AGENT_NAME " at 127.0.0.1:");
	fx_free(fx);
}
END_TEST

START_TEST(test_forged_answer)
{
	struct fx *fx = fx_new();

	fx->mode = FAKE_FORGED;
	run_one(fx, PROTO_OP_INFO, NULL);
	assert_error(&fx->res[0], CT_ERR_SIGNATURE,
	    "does not verify under the pinned key of agent " AGENT_NAME);
	ck_assert_ptr_null(fx->res[0].body);
	fx_free(fx);
}
END_TEST

START_TEST(test_unbound_answer)
{
	struct fx *fx = fx_new();

	fx->mode = FAKE_UNBOUND;
	run_one(fx, PROTO_OP_INFO, NULL);
	assert_error(&fx->res[0], CT_ERR_PROTO, "is not for our request");
	ck_assert_ptr_null(fx->res[0].body);
	fx_free(fx);
}
END_TEST

START_TEST(test_zero_nonce_refusal)
{
	struct fx *fx = fx_new();

	fx->mode = FAKE_ZERO_NONCE;
	run_one(fx, PROTO_OP_INFO, NULL);
	assert_error(&fx->res[0], CT_ERR_PROTO,
	    "could not read the request (BAD_REQUEST: cannot decode)");
	fx_free(fx);
}
END_TEST

START_TEST(test_big_frame)
{
	struct fx *fx = fx_new();

	fx->mode = FAKE_BIG_FRAME;
	run_one(fx, PROTO_OP_INFO, NULL);
	assert_error(&fx->res[0], CT_ERR_TOO_BIG, "over the 16 MiB cap");
	fx_free(fx);
}
END_TEST

START_TEST(test_closed_without_answer)
{
	struct fx *fx = fx_new();

	fx->mode = FAKE_CLOSE;
	run_one(fx, PROTO_OP_INFO, NULL);
	assert_error(&fx->res[0], CT_ERR_CLOSED,
	    "closed the connection without an answer");
	fx_free(fx);
}
END_TEST

START_TEST(test_truncated_answer)
{
	struct fx *fx = fx_new();

	fx->mode = FAKE_TRUNCATED;
	run_one(fx, PROTO_OP_INFO, NULL);
	assert_error(&fx->res[0], CT_ERR_CLOSED, "in the middle of its answer");
	fx_free(fx);
}
END_TEST

START_TEST(test_trailing_bytes)
{
	struct fx *fx = fx_new();

	fx->mode = FAKE_TRAILING;
	run_one(fx, PROTO_OP_INFO, NULL);
	assert_error(&fx->res[0], CT_ERR_PROTO, "bytes after its answer");
	fx_free(fx);
}
END_TEST

/* 20 agents' worth of slow answers take as long as one, not 20. */
START_TEST(test_concurrent)
{
	struct fx *fx = fx_new();
	struct agentc_target t;
	uint64_t ms;
	int i;

	fx->delay_ms = SLOW_ANSWER_MS;
	target_init(fx, &t, fx->port);
	run_n(fx, &t, PROTO_OP_CERTS, "*", 10000, CONCURRENT_REQS);
	for (i = 0; i < CONCURRENT_REQS; i++)
		ck_assert_msg(fx->res[i].status == 0, "%d: %s", i,
		    fx->res[i].error);
	ck_assert_int_eq(fx->accepted, CONCURRENT_REQS);
	ms = (fx->t_end_ns - fx->t0_ns) / 1000000;
	ck_assert_uint_ge(ms, SLOW_ANSWER_MS);
	ck_assert_msg(ms < 3 * SLOW_ANSWER_MS,
	    "%d requests took %llu ms: serialised?", CONCURRENT_REQS,
	    (unsigned long long)ms);
	fx_free(fx);
}
END_TEST

START_TEST(test_cancel)
{
	struct fx *fx = fx_new();
	struct agentc_target t;
	struct agentc_req *req = NULL;

	fx->mode = FAKE_SILENT;
	target_init(fx, &t, fx->port);
	current = fx;
	fx->pending = 1;
	ck_assert_int_eq(agentc_request(&fx->loop, fx->ac, &t, PROTO_OP_INFO,
	                     NULL, 10000, on_result_count, &fx->res[0], &req),
	    0);
	ck_assert_ptr_nonnull(req);
	agentc_cancel(req);
	ck_assert(!fx->res[0].called); /* never from inside a call */
	(void)uv_run(&fx->loop, UV_RUN_DEFAULT);
	assert_error(&fx->res[0], CT_ERR_CLOSED, "cancelled");
	ck_assert_uint_lt(fx->res[0].elapsed_us, 1000000);
	fx_free(fx);
}
END_TEST

START_TEST(test_bad_calls)
{
	struct fx *fx = fx_new();
	struct agentc_target t;
	struct agentc_req *req = (struct agentc_req *)&t;

	target_init(fx, &t, fx->port);
	t.name = "bad name!";
	ck_assert_int_eq(agentc_request(&fx->loop, fx->ac, &t, PROTO_OP_INFO,
	                     NULL, 1000, on_result, &fx->res[0], &req),
	    CT_ERR_INVALID);
	ck_assert_ptr_null(req);
	target_init(fx, &t, fx->port);
	ck_assert_int_eq(agentc_request(&fx->loop, fx->ac, &t, PROTO_OP_CERTS,
	                     "a b", 1000, on_result, &fx->res[0], NULL),
	    CT_ERR_INVALID);
	ck_assert_int_eq(agentc_request(&fx->loop, fx->ac, &t, PROTO_OP_CERTS,
	                     NULL, 1000, on_result, &fx->res[0], NULL),
	    CT_ERR_INVALID);
	t.port = 0;
	ck_assert_int_eq(agentc_request(&fx->loop, fx->ac, &t, PROTO_OP_INFO,
	                     NULL, 1000, on_result, &fx->res[0], NULL),
	    CT_ERR_INVALID);
	target_init(fx, &t, fx->port);
	t.host = "";
	ck_assert_int_eq(agentc_request(&fx->loop, fx->ac, &t, PROTO_OP_INFO,
	                     NULL, 1000, on_result, &fx->res[0], NULL),
	    CT_ERR_INVALID);
	(void)uv_run(&fx->loop, UV_RUN_NOWAIT);
	ck_assert(!fx->res[0].called);
	fx_free(fx);
}
END_TEST

/* ------------------------------------------------------------ certs body */

#define CERT_OK                                                                \
	"{\"tbs_sha256\":\"" HEX64 "\",\"sha256\":\"" HEX64 "\","              \
	"\"serial\":\"0a1b\",\"dns_names\":[\"www.example.org\","              \
	"\"example.org\"],\"not_before\":\"2026-11-01T00:00:00Z\","            \
	"\"not_after\":\"2027-01-30T00:00:00Z\",\"source\":\"deployed\","      \
	"\"path\":\"/var/lib/dehydrated/certs/www/cert.pem\","                 \
	"\"first_seen\":\"2026-11-02T10:00:00Z\",\"precert\":false,"           \
	"\"spki_sha256\":\"" HEX64 "\",\"live\":true}"
#define HEX64 "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

static int
parse(const char *s, struct agentc_certs *c, char *err)
{
	return agentc_parse_certs(s, strlen(s), c, err,
	    AGENTC_PARSE_ERROR_BYTES);
}

START_TEST(test_certs_ok)
{
	struct agentc_certs c;
	char err[AGENTC_PARSE_ERROR_BYTES];
	const char *body =
	    "{\"name\":\"www.example.org\",\"certs\":[" CERT_OK ","
	    "{\"tbs_sha256\":\"" HEX64 "\",\"sha256\":\"" HEX64 "\","
	    "\"serial\":\"01\",\"dns_names\":[],\"not_before\":"
	    "\"2025-01-01T00:00:00Z\",\"not_after\":\"2025-03-01T00:00:00Z\","
	    "\"source\":\"store\",\"path\":null,\"first_seen\":null,"
	    "\"precert\":true,\"extra\":1}],\"more\":[1,2]}";

	ck_assert_int_eq(parse(body, &c, err), 0);
	ck_assert_str_eq(c.name, "www.example.org");
	ck_assert_uint_eq(c.n, 2);
	ck_assert_uint_eq(c.certs[0].tbs_sha256[1], 0x11);
	ck_assert_uint_eq(c.certs[0].sha256[31], 0xff);
	ck_assert_str_eq(c.certs[0].serial, "0a1b");
	ck_assert_uint_eq(c.certs[0].n_dns_names, 2);
	ck_assert_str_eq(c.certs[0].dns_names[0], "www.example.org");
	ck_assert_str_eq(c.certs[0].dns_names[1], "example.org");
	ck_assert_int_eq(c.certs[0].not_before, 1793491200);
	ck_assert_int_eq(c.certs[0].source, AGENTC_SOURCE_DEPLOYED);
	ck_assert_str_eq(c.certs[0].path,
	    "/var/lib/dehydrated/certs/www/cert.pem");
	ck_assert(c.certs[0].has_first_seen);
	ck_assert(!c.certs[0].precert);
	ck_assert(c.certs[0].has_spki);
	ck_assert_uint_eq(c.certs[0].spki_sha256[2], 0x22);
	ck_assert(c.certs[0].live);
	ck_assert(!c.certs[1].has_spki);
	ck_assert(!c.certs[1].live);
	ck_assert_int_eq(c.certs[1].source, AGENTC_SOURCE_STORE);
	ck_assert_str_eq(c.certs[1].path, "");
	ck_assert(!c.certs[1].has_first_seen);
	ck_assert(c.certs[1].precert);
	ck_assert_uint_eq(c.certs[1].n_dns_names, 0);
	agentc_certs_free(&c);

	ck_assert_int_eq(parse("{\"name\":\"*\",\"certs\":[]}", &c, err), 0);
	ck_assert_uint_eq(c.n, 0);
	agentc_certs_free(&c);
	agentc_certs_free(NULL);
}
END_TEST

/* CERT_OK with one member's value replaced. */
static void
expect_bad_field(const char *key, const char *value, int rc, const char *err)
{
	char body[4096], cert[2048], got[AGENTC_PARSE_ERROR_BYTES];
	const char *p, *q;
	struct agentc_certs c;
	char needle[64];
	int n;

	snprintf(cert, sizeof(cert), "%s", CERT_OK);
	snprintf(needle, sizeof(needle), "\"%s\":", key);
	p = strstr(cert, needle);
	ck_assert_ptr_nonnull(p);
	p += strlen(needle);
	/* the value ends at the next ",\"" at depth 0 or at the final '}' */
	q = p;
	if (*q == '[')
		q = strchr(q, ']') + 1;
	else if (*q == '"')
		q = strchr(q + 1, '"') + 1;
	else
		while (*q != ',' && *q != '}')
			q++;
	if (value == NULL) { /* drop the member */
		const char *start = p - strlen(needle);

		if (*q == ',')
			q++;
		else if (start[-1] == ',')
			start--;
		n = snprintf(body, sizeof(body),
		    "{\"name\":\"x\",\"certs\":[%.*s%s]}", (int)(start - cert),
		    cert, q);
	} else {
		n = snprintf(body, sizeof(body),
		    "{\"name\":\"x\",\"certs\":[%.*s%s%s]}", (int)(p - cert),
		    cert, value, q);
	}
	ck_assert_int_lt(n, (int)sizeof(body));
	ck_assert_msg(parse(body, &c, got) == rc, "%s=%s: want %s, got '%s'",
	    key, value != NULL ? value : "(absent)", ct_strerror(rc), got);
	ck_assert_msg(strstr(got, err) != NULL, "'%s' lacks '%s'", got, err);
	if (rc == 0) {
		ck_assert_uint_eq(c.n, 1);
		agentc_certs_free(&c);
	}
	ck_assert_ptr_null(c.certs);
	ck_assert_uint_eq(c.n, 0);
}

START_TEST(test_certs_bad_fields)
{
	/* Sanity: the helper's unchanged value passes. */
	expect_bad_field("serial", "\"ff\"", 0, "");
	expect_bad_field("tbs_sha256", NULL, CT_ERR_NOT_FOUND,
	    "certs[0].tbs_sha256: missing");
	expect_bad_field("tbs_sha256", "\"00\"", CT_ERR_FORMAT,
	    "certs[0].tbs_sha256");
	expect_bad_field("tbs_sha256", "\"" HEX64 "00\"", CT_ERR_FORMAT,
	    "certs[0].tbs_sha256");
	expect_bad_field("tbs_sha256",
	    "\"zz112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
	    "\"",
	    CT_ERR_FORMAT, "tbs_sha256");
	expect_bad_field("sha256", "1", CT_ERR_FORMAT, "certs[0].sha256");
	expect_bad_field("serial", "\"\"", CT_ERR_FORMAT, "serial");
	expect_bad_field("serial", "\"0A\"", CT_ERR_FORMAT, "serial");
	expect_bad_field("serial", "10", CT_ERR_FORMAT, "serial");
	expect_bad_field("dns_names", "\"www.example.org\"", CT_ERR_FORMAT,
	    "dns_names");
	expect_bad_field("dns_names", "[1]", CT_ERR_FORMAT, "dns_names");
	expect_bad_field("dns_names", "[\"\"]", CT_ERR_FORMAT, "dns_names");
	expect_bad_field("dns_names", NULL, CT_ERR_NOT_FOUND,
	    "dns_names: missing");
	expect_bad_field("not_before", "\"yesterday\"", CT_ERR_FORMAT,
	    "not_before");
	expect_bad_field("not_after", "1793491200", CT_ERR_FORMAT, "not_after");
	expect_bad_field("not_after", "null", 0, ""); /* before 1970 */
	expect_bad_field("not_before", "null", 0, "");
	expect_bad_field("serial", "null", 0, ""); /* over 64 bytes */
	expect_bad_field("sha256",
	    "\"00112233445566778899AABBCCDDEEFF00112233445566778899aabbccddeeff"
	    "\"",
	    CT_ERR_FORMAT, "certs[0].sha256");
	expect_bad_field("spki_sha256", "\"00\"", CT_ERR_FORMAT, "spki_sha256");
	expect_bad_field("spki_sha256", "null", CT_ERR_FORMAT, "spki_sha256");
	expect_bad_field("spki_sha256", NULL, 0, "");
	expect_bad_field("live", "\"yes\"", CT_ERR_FORMAT, "certs[0].live");
	expect_bad_field("live", NULL, 0, "");
	expect_bad_field("source", "\"elsewhere\"", CT_ERR_FORMAT, "source");
	expect_bad_field("source", "true", CT_ERR_FORMAT, "source");
	expect_bad_field("path", "7", CT_ERR_FORMAT, "path");
	expect_bad_field("path", NULL, CT_ERR_NOT_FOUND, "path: missing");
	expect_bad_field("first_seen", "0", CT_ERR_FORMAT, "first_seen");
	expect_bad_field("first_seen", NULL, CT_ERR_NOT_FOUND, "first_seen");
	expect_bad_field("precert", "\"no\"", CT_ERR_FORMAT, "precert");
	expect_bad_field("precert", NULL, CT_ERR_NOT_FOUND, "precert");
}
END_TEST

START_TEST(test_certs_bad_documents)
{
	struct agentc_certs c;
	char err[AGENTC_PARSE_ERROR_BYTES];

	ck_assert_int_eq(parse("", &c, err), CT_ERR_TRUNCATED);
	ck_assert_int_eq(parse("[]", &c, err), CT_ERR_FORMAT);
	ck_assert_int_eq(parse("{\"certs\":[]}", &c, err), CT_ERR_NOT_FOUND);
	ck_assert(strstr(err, "name: missing") != NULL);
	ck_assert_int_eq(parse("{\"name\":1,\"certs\":[]}", &c, err),
	    CT_ERR_FORMAT);
	ck_assert_int_eq(parse("{\"name\":\"x\"}", &c, err), CT_ERR_NOT_FOUND);
	ck_assert_int_eq(parse("{\"name\":\"x\",\"certs\":{}}", &c, err),
	    CT_ERR_FORMAT);
	ck_assert_int_eq(parse("{\"name\":\"x\",\"certs\":[1]}", &c, err),
	    CT_ERR_FORMAT);
	ck_assert(strstr(err, "certs[0]") != NULL);
	ck_assert_int_eq(parse("{\"name\":\"x\",\"name\":\"y\",\"certs\":[]}",
	                     &c, err),
	    CT_ERR_FORMAT);
	ck_assert_int_eq(parse("{\"name\":\"x\",\"certs\":[]} {}", &c, err),
	    CT_ERR_TRAILING);
	/* The second certificate is bad: nothing is kept. */
	ck_assert_int_eq(parse("{\"name\":\"x\",\"certs\":[" CERT_OK ",{}]}",
	                     &c, err),
	    CT_ERR_NOT_FOUND);
	ck_assert(strstr(err, "certs[1].tbs_sha256") != NULL);
	ck_assert_ptr_null(c.certs);
}
END_TEST

START_TEST(test_certs_caps)
{
	struct util_buf b;
	struct agentc_certs c;
	char err[AGENTC_PARSE_ERROR_BYTES];
	int i;

	/* One name too many. */
	util_buf_init(&b, 1024 * 1024);
	ck_assert_int_eq(
	    util_buf_append_str(&b,
	        "{\"name\":\"x\",\"certs\":[{\"tbs_sha256\":\"" HEX64
	        "\",\"sha256\":\"" HEX64
	        "\",\"serial\":\"01\",\"dns_names\":["),
	    0);
	for (i = 0; i <= AGENTC_MAX_DNS_NAMES; i++)
		ck_assert_int_eq(util_buf_printf(&b, "%s\"n%d.example\"",
		                     i ? "," : "", i),
		    0);
	ck_assert_int_eq(util_buf_append_str(&b,
	                     "],\"not_before\":\"2026-11-01T00:00:00Z\","
	                     "\"not_after\":\"2027-01-30T00:00:00Z\","
	                     "\"source\":\"store\",\"path\":null,"
	                     "\"first_seen\":null,\"precert\":false}]}"),
	    0);
	ck_assert_int_eq(agentc_parse_certs((const char *)b.data, b.len, &c,
	                     err, sizeof(err)),
	    CT_ERR_TOO_BIG);
	ck_assert(strstr(err, "dns_names: over a cap") != NULL);
	util_buf_clear(&b);

	/* A name over AGENTC_NAME_MAX_BYTES, a serial over its cap. */
	util_buf_init(&b, 1024 * 1024);
	ck_assert_int_eq(util_buf_append_str(&b, "[\""), 0);
	for (i = 0; i <= AGENTC_NAME_MAX_BYTES; i++)
		ck_assert_int_eq(util_buf_append_str(&b, "a"), 0);
	ck_assert_int_eq(util_buf_append_str(&b, "\"]"), 0);
	ck_assert_int_eq(util_buf_cstr(&b), 0);
	expect_bad_field("dns_names", (const char *)b.data, CT_ERR_TOO_BIG,
	    "dns_names: over a cap");
	util_buf_clear(&b);
	util_buf_init(&b, 1024 * 1024);
	ck_assert_int_eq(util_buf_append_str(&b, "\""), 0);
	for (i = 0; i <= AGENTC_SERIAL_MAX_BYTES; i++)
		ck_assert_int_eq(util_buf_append_str(&b, "a"), 0);
	ck_assert_int_eq(util_buf_append_str(&b, "\""), 0);
	ck_assert_int_eq(util_buf_cstr(&b), 0);
	expect_bad_field("serial", (const char *)b.data, CT_ERR_TOO_BIG,
	    "serial: over a cap");
	util_buf_clear(&b);
}
END_TEST

/*
 * One bad digit at each of a hash's 64 places (across the 8-digit words
 * it is decoded by): upper case, the neighbours of 0-9 and a-f, others.
 */
START_TEST(test_certs_hash_every_digit)
{
	static const char bad[] = "AFG/:`g \x7f";
	char v[80];
	size_t pos, k;

	for (pos = 0; pos < 64; pos++) {
		for (k = 0; k < sizeof(bad) - 1; k++) {
			snprintf(v, sizeof(v), "\"%s\"", HEX64);
			v[1 + pos] = bad[k];
			expect_bad_field("sha256", v, CT_ERR_FORMAT,
			    "certs[0].sha256: wrong type or form");
			expect_bad_field("tbs_sha256", v, CT_ERR_FORMAT,
			    "certs[0].tbs_sha256: wrong type or form");
		}
		/* Every digit value at this place. */
		for (k = 0; k < 16; k++) {
			snprintf(v, sizeof(v), "\"%s\"", HEX64);
			v[1 + pos] = "0123456789abcdef"[k];
			expect_bad_field("spki_sha256", v, 0, "");
		}
	}
}
END_TEST

/* Escapes are decoded; a NUL escape is refused. */
START_TEST(test_certs_escapes)
{
	expect_bad_field("dns_names", "[\"a\\u0000b\"]", CT_ERR_FORMAT,
	    "dns_names");
	expect_bad_field("dns_names", "[\"\\u0077ww.example.org\"]", 0, "");
	expect_bad_field("sha256",
	    "\"\\u00300112233445566778899aabbccddeeff00112233445566778899aabbc"
	    "cddeeff\"",
	    0, "");
	expect_bad_field("not_after", "\"2027-01-30T00:00:00\\u005a\"", 0, "");
}
END_TEST

/* A member given twice, even written with escapes, is refused. */
START_TEST(test_certs_duplicates)
{
	struct agentc_certs c;
	char err[AGENTC_PARSE_ERROR_BYTES];
	char body[4096];

	snprintf(body, sizeof(body),
	    "{\"name\":\"x\",\"certs\":[%.*s,\"precert\":true}]}",
	    (int)strlen(CERT_OK) - 1, CERT_OK);
	ck_assert_int_eq(parse(body, &c, err), CT_ERR_FORMAT);
	ck_assert_str_eq(err, "certs[0].precert: wrong type or form");
	snprintf(body, sizeof(body),
	    "{\"name\":\"x\",\"certs\":[%.*s,\"\\u0073ource\":\"store\"}]}",
	    (int)strlen(CERT_OK) - 1, CERT_OK);
	ck_assert_int_eq(parse(body, &c, err), CT_ERR_FORMAT);
	ck_assert_str_eq(err, "certs[0].source: wrong type or form");
	/* An unknown member, even twice, is ignored. */
	snprintf(body, sizeof(body),
	    "{\"name\":\"x\",\"certs\":[%.*s,\"x\":1,\"y\":2}]}",
	    (int)strlen(CERT_OK) - 1, CERT_OK);
	ck_assert_int_eq(parse(body, &c, err), 0);
	ck_assert_uint_eq(c.n, 1);
	agentc_certs_free(&c);
}
END_TEST

static void
setup(void)
{
	ck_assert_int_eq(tls_global_init(), 0);
}

static void
teardown(void)
{
	tls_global_cleanup();
}

static Suite *
agentc_suite(void)
{
	Suite *s = suite_create("agentc");
	TCase *tc = tcase_create("client");
	TCase *tp = tcase_create("certs");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, TEST_TIMEOUT_S);
	tcase_add_test(tc, test_ok_info);
	tcase_add_test(tc, test_ok_certs_and_resume);
	tcase_add_test(tc, test_refused);
	tcase_add_test(tc, test_pin_mismatch);
	tcase_add_test(tc, test_unauthorized_tls);
	tcase_add_test(tc, test_unauthorized_proto);
	tcase_add_test(tc, test_wrong_agent_name);
	tcase_add_test(tc, test_clock_skew);
	tcase_add_test(tc, test_clock_skew_behind);
	tcase_add_test(tc, test_timeout_handshake);
	tcase_add_test(tc, test_timeout_waiting);
	tcase_add_test(tc, test_forged_answer);
	tcase_add_test(tc, test_unbound_answer);
	tcase_add_test(tc, test_zero_nonce_refusal);
	tcase_add_test(tc, test_big_frame);
	tcase_add_test(tc, test_closed_without_answer);
	tcase_add_test(tc, test_truncated_answer);
	tcase_add_test(tc, test_trailing_bytes);
	tcase_add_test(tc, test_concurrent);
	tcase_add_test(tc, test_cancel);
	tcase_add_test(tc, test_bad_calls);
	suite_add_tcase(s, tc);
	tcase_add_test(tp, test_certs_ok);
	tcase_add_test(tp, test_certs_bad_fields);
	tcase_add_test(tp, test_certs_bad_documents);
	tcase_add_test(tp, test_certs_caps);
	tcase_add_test(tp, test_certs_hash_every_digit);
	tcase_add_test(tp, test_certs_escapes);
	tcase_add_test(tp, test_certs_duplicates);
	suite_add_tcase(s, tp);
	return s;
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	return testutil_run(agentc_suite());
}
