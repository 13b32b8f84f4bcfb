/*
 * Tests for poller/http: a fixture HTTP/1.1 server written with libuv runs
 * on the same loop as the client, on 127.0.0.1 with an ephemeral port, and
 * picks its behaviour from the request path. The HTTPS cases run nginx
 * with a throw-away CA (skipped, saying so, when nginx or openssl is
 * missing). Every test ends with uv_loop_close() == 0.
 */
#define _GNU_SOURCE /* memmem, strcasestr */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <uv.h>

#include "http.h"
#include "ratelimit.h"
#include "state.h"
#include "testutil.h"

#define FX_IN_BYTES 8192                  /* request head cap */
#define FX_BIG_BYTES ((uint64_t)1 << 30)  /* /big declares 1 GiB */
#define FX_CHUNK_BYTES (256 * 1024)       /* /big writes this at once */
#define FX_SLOW_MS 200                    /* /slow answers after this */
#define FX_BIG503_BYTES (2 * 1024 * 1024) /* /503big error page */
#define TEST_CAP_BYTES (1024 * 1024)      /* cap used by cap tests */
#define TEST_MAX_REQS 32
#define HTTP_DATA LOCAL_TESTDATA "http/"

/* ------------------------------------------------------------ fixture */

enum fx_route {
	FX_OK,
	FX_SLOW,
	FX_BIG,
	FX_429,
	FX_429DATE,
	FX_429LONG,
	FX_503,
	FX_503BIG,
	FX_404,
	FX_REDIRECT,
	FX_HTML,
	FX_GZIP,
	FX_BOMB,
	FX_HANG,
	FX_CLOSE,
	FX_SHORT,
	FX_HEADERS,
	FX__MAX
};

static const char *const fx_paths[FX__MAX] = {
    [FX_OK] = "/ok",
    [FX_SLOW] = "/slow",
    [FX_BIG] = "/big",
    [FX_429] = "/429",
    [FX_429DATE] = "/429date",
    [FX_429LONG] = "/429long",
    [FX_503] = "/503",
    [FX_503BIG] = "/503big",
    [FX_404] = "/404",
    [FX_REDIRECT] = "/redirect",
    [FX_HTML] = "/html",
    [FX_GZIP] = "/gzip",
    [FX_BOMB] = "/bomb",
    [FX_HANG] = "/hang",
    [FX_CLOSE] = "/close",
    [FX_SHORT] = "/short",
    [FX_HEADERS] = "/headers",
};

static const char fx_ok_body[] = "{\"ok\":true}";
static char fx_zeros[FX_CHUNK_BYTES];

struct fx_server;

struct fx_conn {
	uv_tcp_t tcp;
	uv_timer_t timer; /* /slow */
	struct fx_server *srv;
	struct fx_conn *prev, *next;
	char in[FX_IN_BYTES];
	size_t inlen;
	int refs; /* handles not yet closed */
	bool closing;
	bool busy;        /* a response is being produced */
	bool close_after; /* close once the queued writes are done */
	uint64_t big_left;
};

struct fx_write {
	uv_write_t w;
	struct fx_conn *k;
	char *data;
	size_t len;
	bool big;
};

struct fx_server {
	uv_loop_t *loop;
	uv_tcp_t listener;
	int port;
	bool stopped;
	struct fx_conn *conns;
	unsigned nconn;         /* connections accepted */
	unsigned hits[FX__MAX]; /* requests per route */
	uint64_t big_written;   /* /big body bytes the kernel accepted */
	int big_error;          /* how the /big stream ended */
	bool saw_gzip_accept;
	uint8_t *gz, *bomb;
	size_t gzlen, bomblen;
};

static void
fx_conn_closed(uv_handle_t *h)
{
	struct fx_conn *k = h->data;

	if (--k->refs == 0)
		free(k);
}

static void
fx_conn_close(struct fx_conn *k)
{
	struct fx_server *s = k->srv;

	if (k->closing)
		return;
	k->closing = true;
	if (k->prev != NULL)
		k->prev->next = k->next;
	else
		s->conns = k->next;
	if (k->next != NULL)
		k->next->prev = k->prev;
	uv_close((uv_handle_t *)&k->tcp, fx_conn_closed);
	uv_close((uv_handle_t *)&k->timer, fx_conn_closed);
}

static void fx_big_next(struct fx_conn *k);

static void
fx_write_cb(uv_write_t *w, int status)
{
	struct fx_write *fw = (struct fx_write *)w;
	struct fx_conn *k = fw->k;

	if (fw->big) {
		if (status == 0)
			k->srv->big_written += fw->len;
		else if (k->srv->big_error == 0)
			k->srv->big_error = status;
	}
	free(fw->data);
	free(fw);
	if (status != 0 || (k->close_after && k->big_left == 0)) {
		fx_conn_close(k);
		return;
	}
	if (k->big_left > 0 && !k->closing)
		fx_big_next(k);
}

/* Queues len bytes; takes data (malloc'd) unless big. */
static void
fx_write(struct fx_conn *k, char *data, size_t len, bool big)
{
	struct fx_write *fw;
	uv_buf_t b;

	ck_assert_ptr_nonnull(fw = calloc(1, sizeof(*fw)));
	fw->k = k;
	fw->data = big ? NULL : data;
	fw->len = len;
	fw->big = big;
	b = uv_buf_init(data, (unsigned)len);
	if (uv_write(&fw->w, (uv_stream_t *)&k->tcp, &b, 1, fx_write_cb) != 0) {
		free(fw->data);
		free(fw);
		fx_conn_close(k);
	}
}

static void
fx_big_next(struct fx_conn *k)
{
	size_t n =
	    k->big_left < FX_CHUNK_BYTES ? (size_t)k->big_left : FX_CHUNK_BYTES;

	k->big_left -= n;
	fx_write(k, fx_zeros, n, true);
}

/* Sends a whole response; declared_len (if not 0) overrides the length. */
static void
fx_send(struct fx_conn *k, const char *status, const char *extra,
    const void *body, size_t len, size_t declared_len)
{
	struct util_buf b;
	size_t n;

	util_buf_init(&b, len + FX_IN_BYTES);
	ck_assert_int_eq(util_buf_printf(&b,
	                     "HTTP/1.1 %s\r\nContent-Length: %zu\r\n%s\r\n",
	                     status, declared_len ? declared_len : len,
	                     extra != NULL ? extra : ""),
	    0);
	ck_assert_int_eq(util_buf_append(&b, body, len), 0);
	n = b.len;
	fx_write(k, (char *)util_buf_take(&b, NULL), n, false);
	k->busy = false;
}

static void
fx_send_ok(struct fx_conn *k)
{
	fx_send(k, "200 OK", "Content-Type: application/json\r\n", fx_ok_body,
	    strlen(fx_ok_body), 0);
}

static void
fx_slow_cb(uv_timer_t *t)
{
	fx_send_ok(t->data);
}

/* "Retry-After" as an HTTP-date, secs from now. */
static void
fx_http_date(time_t secs, char *out, size_t outsz)
{
	time_t t = time(NULL) + secs;
	struct tm tm;

	gmtime_r(&t, &tm);
	ck_assert_uint_gt(strftime(out, outsz, "%a, %d %b %Y %H:%M:%S GMT",
	                      &tm),
	    0);
}

static void
fx_headers_check(struct fx_conn *k, const char *head)
{
	char low[FX_IN_BYTES];
	size_t i, n = strlen(head);
	bool auth, ua, acc;

	for (i = 0; i < n && i + 1 < sizeof(low); i++)
		low[i] = (char)tolower((unsigned char)head[i]);
	low[i] = '\0';
	auth =
	    strstr(head, "\r\nAuthorization: Bearer secret-token\r\n") != NULL;
	ua = strstr(low, "\r\nuser-agent: ct-monitor/") != NULL;
	acc = strstr(low, "\r\naccept: application/json\r\n") != NULL;
	if (auth && ua && acc)
		fx_send(k, "200 OK", "Content-Type: text/plain\r\n",
		    "headers ok", 10, 0);
	else
		fx_send(k, "400 Bad Request", "Content-Type: text/plain\r\n",
		    "headers missing", 15, 0);
}

static void
fx_route(struct fx_conn *k, enum fx_route rt, const char *head)
{
	struct fx_server *s = k->srv;
	char extra[256], date[64];
	static const char html[] =
	    "<html><body><h1>502 Bad Gateway</h1></body></html>";
	char *page;

	s->hits[rt]++;
	k->busy = true;
	switch (rt) {
	case FX_OK:
		fx_send_ok(k);
		break;
	case FX_SLOW:
		uv_timer_start(&k->timer, fx_slow_cb, FX_SLOW_MS, 0);
		break;
	case FX_BIG:
		fx_send(k, "200 OK", "Content-Type: application/json\r\n", "",
		    0, FX_BIG_BYTES);
		k->big_left = FX_BIG_BYTES;
		fx_big_next(k);
		break;
	case FX_429:
		if (s->hits[rt] == 1)
			fx_send(k, "429 Too Many Requests",
			    "Retry-After: 1\r\n", "slow down", 9, 0);
		else
			fx_send_ok(k);
		break;
	case FX_429DATE:
		fx_http_date(2, date, sizeof(date));
		snprintf(extra, sizeof(extra), "Retry-After: %s\r\n", date);
		if (s->hits[rt] == 1)
			fx_send(k, "429 Too Many Requests", extra, "", 0, 0);
		else
			fx_send_ok(k);
		break;
	case FX_429LONG:
		fx_send(k, "429 Too Many Requests", "Retry-After: 3600\r\n", "",
		    0, 0);
		break;
	case FX_503:
		fx_send(k, "503 Service Unavailable",
		    "Content-Type: text/html\r\n", "Service Unavailable", 19,
		    0);
		break;
	case FX_503BIG:
		ck_assert_ptr_nonnull(page = calloc(1, FX_BIG503_BYTES));
		memset(page, 'x', FX_BIG503_BYTES);
		fx_send(k, "503 Service Unavailable",
		    "Content-Type: text/html\r\n", page, FX_BIG503_BYTES, 0);
		free(page);
		break;
	case FX_404:
		fx_send(k, "404 Not Found",
		    "Content-Type: application/json\r\n",
		    "{\"error\":\"no such thing\"}", 25, 0);
		break;
	case FX_REDIRECT:
		fx_send(k, "302 Found", "Location: /ok\r\n", "", 0, 0);
		break;
	case FX_HTML:
		fx_send(k, "200 OK",
		    "Content-Type: text/html; charset=utf-8\r\n", html,
		    sizeof(html) - 1, 0);
		break;
	case FX_GZIP:
	case FX_BOMB:
		fx_send(k, "200 OK",
		    "Content-Type: application/json\r\n"
		    "Content-Encoding: gzip\r\n",
		    rt == FX_GZIP ? s->gz : s->bomb,
		    rt == FX_GZIP ? s->gzlen : s->bomblen, 0);
		break;
	case FX_HANG:
		break;
	case FX_CLOSE:
		fx_conn_close(k);
		break;
	case FX_SHORT:
		fx_send(k, "200 OK", "Content-Type: application/json\r\n",
		    "{\"cut\":", 7, 100);
		k->close_after = true;
		break;
	case FX_HEADERS:
		fx_headers_check(k, head);
		break;
	case FX__MAX:
		break;
	}
}

/* Handles one request head in k->in if it is complete. */
static void
fx_request(struct fx_conn *k)
{
	char *end, *sp1, *sp2;
	size_t used, plen;
	char head[FX_IN_BYTES];
	int i;

	if (k->busy || (end = memmem(k->in, k->inlen, "\r\n\r\n", 4)) == NULL)
		return;
	used = (size_t)(end - k->in) + 4;
	memcpy(head, k->in, used);
	head[used] = '\0';
	memmove(k->in, k->in + used, k->inlen - used);
	k->inlen -= used;
	if (strcasestr(head, "\r\nAccept-Encoding:") != NULL &&
	    strstr(head, "gzip") != NULL)
		k->srv->saw_gzip_accept = true;
	if (strncmp(head, "GET ", 4) != 0 ||
	    (sp2 = strchr((sp1 = head + 4), ' ')) == NULL) {
		fx_conn_close(k);
		return;
	}
	plen = (size_t)(sp2 - sp1);
	for (i = 0; i < FX__MAX; i++)
		if (strlen(fx_paths[i]) == plen &&
		    memcmp(fx_paths[i], sp1, plen) == 0) {
			fx_route(k, (enum fx_route)i, head);
			return;
		}
	k->busy = true;
	fx_send(k, "404 Not Found", NULL, "", 0, 0);
}

static void
fx_alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct fx_conn *k = h->data;

	(void)hint;
	*buf = uv_buf_init(k->in + k->inlen,
	    (unsigned)(sizeof(k->in) - 1 - k->inlen));
}

static void
fx_read_cb(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
	struct fx_conn *k = st->data;

	(void)buf;
	if (nread < 0 || (nread == 0 && k->inlen + 1 >= sizeof(k->in))) {
		fx_conn_close(k);
		return;
	}
	k->inlen += (size_t)nread;
	fx_request(k);
}

static void
fx_accept_cb(uv_stream_t *l, int status)
{
	struct fx_server *s = l->data;
	struct fx_conn *k;

	if (status != 0)
		return;
	ck_assert_ptr_nonnull(k = calloc(1, sizeof(*k)));
	k->srv = s;
	ck_assert_int_eq(uv_tcp_init(s->loop, &k->tcp), 0);
	ck_assert_int_eq(uv_timer_init(s->loop, &k->timer), 0);
	k->tcp.data = k->timer.data = k;
	k->refs = 2;
	if ((k->next = s->conns) != NULL)
		k->next->prev = k;
	s->conns = k;
	if (uv_accept(l, (uv_stream_t *)&k->tcp) != 0) {
		fx_conn_close(k);
		return;
	}
	s->nconn++;
	ck_assert_int_eq(uv_read_start((uv_stream_t *)&k->tcp, fx_alloc_cb,
	                     fx_read_cb),
	    0);
}

static int
fx_local_port(uv_tcp_t *t)
{
	struct sockaddr_storage ss;
	int len = sizeof(ss);

	ck_assert_int_eq(uv_tcp_getsockname(t, (struct sockaddr *)&ss, &len),
	    0);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static void
fx_start(struct fx_server *s, uv_loop_t *loop)
{
	struct sockaddr_in sa;

	memset(s, 0, sizeof(*s));
	s->loop = loop;
	s->gz = testutil_read(HTTP_DATA "ok.json.gz", &s->gzlen);
	s->bomb = testutil_read(HTTP_DATA "bomb.gz", &s->bomblen);
	ck_assert_int_eq(uv_ip4_addr("127.0.0.1", 0, &sa), 0);
	ck_assert_int_eq(uv_tcp_init(loop, &s->listener), 0);
	s->listener.data = s;
	ck_assert_int_eq(uv_tcp_bind(&s->listener, (const struct sockaddr *)&sa,
	                     0),
	    0);
	ck_assert_int_eq(uv_listen((uv_stream_t *)&s->listener, 128,
	                     fx_accept_cb),
	    0);
	s->port = fx_local_port(&s->listener);
}

static void
fx_stop(struct fx_server *s)
{
	if (s->stopped)
		return;
	s->stopped = true;
	while (s->conns != NULL)
		fx_conn_close(s->conns);
	uv_close((uv_handle_t *)&s->listener, NULL);
	free(s->gz);
	free(s->bomb);
	s->gz = s->bomb = NULL;
}

/* ------------------------------------------------------------ client side */

struct tctx;

struct res {
	struct tctx *t;
	int calls;
	int status;
	long code;
	int version;
	uint8_t *body;
	size_t len;
	char ctype[HTTP_CONTENT_TYPE_LEN];
	char error[HTTP_ERROR_LEN];
	int attempts;
	int64_t retry_after_s;
	double total_s;
	uint64_t done_ns;
	unsigned pending_in_cb; /* http_client_pending during the callback */
};

struct tctx {
	uv_loop_t loop;
	struct fx_server srv;
	struct http_client *client;
	int expected, done;
	bool stopped;
	bool client_freed;
	bool free_on_first; /* free the client from the first callback */
	bool chain;         /* start another /ok from the first callback */
	struct res res[TEST_MAX_REQS];
	int nres;
};

static void
ctx_stop(struct tctx *t)
{
	if (t->stopped)
		return;
	t->stopped = true;
	fx_stop(&t->srv);
	if (!t->client_freed) {
		t->client_freed = true;
		http_client_free(t->client);
	}
}

static void
ctx_init(struct tctx *t)
{
	memset(t, 0, sizeof(*t));
	ck_assert_int_eq(uv_loop_init(&t->loop), 0);
	fx_start(&t->srv, &t->loop);
	ck_assert_ptr_nonnull(t->client = http_client_new(&t->loop));
}

static void
ctx_url(struct tctx *t, const char *path, char *buf, size_t n)
{
	snprintf(buf, n, "http://127.0.0.1:%d%s", t->srv.port, path);
}

static void
on_done(struct http_response *resp, void *arg)
{
	struct res *r = arg;
	struct tctx *t = r->t;

	r->calls++;
	r->status = resp->status;
	r->code = resp->http_code;
	r->version = resp->http_version;
	r->body = http_response_take_body(resp, &r->len);
	ck_assert_ptr_null(resp->body);
	memcpy(r->ctype, resp->content_type, sizeof(r->ctype));
	memcpy(r->error, resp->error, sizeof(r->error));
	r->attempts = resp->attempts;
	r->retry_after_s = resp->retry_after_s;
	r->total_s = resp->total_s;
	r->done_ns = uv_hrtime();
	r->pending_in_cb = http_client_pending(t->client);
	t->done++;
	if (t->free_on_first && t->done == 1) {
		t->client_freed = true;
		http_client_free(t->client);
	}
	if (t->chain && t->done == 1 && !t->stopped) {
		struct http_request req;
		char url[128];

		http_request_init(&req);
		ctx_url(t, "/ok", url, sizeof(url));
		req.url = url;
		req.allow_http = true;
		t->res[t->nres].t = t;
		ck_assert_int_eq(http_get(t->client, &req, on_done,
		                     &t->res[t->nres]),
		    0);
		t->nres++;
	}
	if (t->done == t->expected)
		ctx_stop(t);
}

/* Starts a GET of path; req may be NULL for the loopback defaults. */
static struct res *
ctx_get(struct tctx *t, const char *path, struct http_request *req)
{
	struct http_request def;
	struct res *r;
	char url[256];

	ck_assert_int_lt(t->nres, TEST_MAX_REQS);
	r = &t->res[t->nres++];
	r->t = t;
	if (req == NULL) {
		http_request_init(&def);
		def.allow_http = true;
		req = &def;
	}
	if (req->url == NULL || path != NULL) {
		ctx_url(t, path, url, sizeof(url));
		req->url = url;
	}
	ck_assert_int_eq(http_get(t->client, req, on_done, r), 0);
	req->url = NULL;
	t->expected++;
	return r;
}

/* Runs the loop until every callback fired, then checks the teardown. */
static void
ctx_run(struct tctx *t)
{
	int i;

	uv_run(&t->loop, UV_RUN_DEFAULT);
	ck_assert_int_eq(t->done, t->expected);
	ck_assert(t->stopped);
	ck_assert_int_eq(uv_loop_close(&t->loop), 0);
	for (i = 0; i < t->nres; i++)
		ck_assert_int_eq(t->res[i].calls, 1);
}

static void
ctx_clear(struct tctx *t)
{
	int i;

	for (i = 0; i < t->nres; i++)
		free(t->res[i].body);
}

static struct http_request
loopback_req(void)
{
	struct http_request req;

	http_request_init(&req);
	req.allow_http = true;
	return req;
}

/* ------------------------------------------------------------ tests */

START_TEST(test_ok)
{
	struct tctx t;
	struct res *r;

	ctx_init(&t);
	r = ctx_get(&t, "/ok", NULL);
	ck_assert_int_eq(t.res[0].calls, 0); /* never from inside http_get */
	ctx_run(&t);
	ck_assert_int_eq(r->status, 0);
	ck_assert_str_eq(r->error, "");
	ck_assert_int_eq(r->code, 200);
	ck_assert_int_eq(r->version, 11);
	ck_assert_int_eq(r->attempts, 1);
	ck_assert_int_eq(r->retry_after_s, -1);
	ck_assert_uint_eq(r->len, strlen(fx_ok_body));
	ck_assert_str_eq((char *)r->body, fx_ok_body);
	ck_assert_str_eq(r->ctype, "application/json");
	ck_assert(r->total_s > 0 && r->total_s < 2);
	ck_assert_uint_eq(r->pending_in_cb, 0);
	ck_assert(t.srv.saw_gzip_accept);
	ctx_clear(&t);
}
END_TEST

START_TEST(test_headers_sent)
{
	static const char *const hdrs[] = {
	    "Authorization: Bearer secret-token",
	    "Accept: application/json",
	};
	struct http_request req = loopback_req();
	struct tctx t;
	struct res *r;

	ctx_init(&t);
	req.headers = hdrs;
	req.nheaders = 2;
	r = ctx_get(&t, "/headers", &req);
	ctx_run(&t);
	ck_assert_msg(r->status == 0, "%s: %s", r->error,
	    r->body ? (char *)r->body : "");
	ck_assert_str_eq((char *)r->body, "headers ok");
	ctx_clear(&t);
}
END_TEST

START_TEST(test_expect_type)
{
	struct http_request req = loopback_req();
	struct res *html, *json, *plain;
	struct tctx t;

	ctx_init(&t);
	req.expect_type = "application/json";
	html = ctx_get(&t, "/html", &req);
	json = ctx_get(&t, "/ok", &req);
	plain = ctx_get(&t, "/html", NULL);
	ctx_run(&t);
	ck_assert_int_eq(html->status, CT_ERR_FORMAT);
	ck_assert_str_eq(html->error,
	    "expected application/json, got text/html; charset=utf-8 "
	    "(HTTP 200)");
	ck_assert_ptr_nonnull(html->body); /* kept for diagnostics */
	ck_assert_int_eq(json->status, 0);
	ck_assert_int_eq(plain->status, 0);
	ck_assert_str_eq(plain->ctype, "text/html; charset=utf-8");
	ck_assert_ptr_nonnull(strstr((char *)plain->body, "Bad Gateway"));
	ctx_clear(&t);
}
END_TEST

START_TEST(test_body_over_cap)
{
	struct http_request req = loopback_req();
	struct tctx t;
	struct res *r, *d;

	ctx_init(&t);
	req.max_body_bytes = TEST_CAP_BYTES;
	r = ctx_get(&t, "/big", &req);
	d = ctx_get(&t, "/big", NULL); /* the default cap */
	ctx_run(&t);
	ck_assert_int_eq(r->status, CT_ERR_TOO_BIG);
	ck_assert_str_eq(r->error, "body over 1048576 bytes");
	ck_assert_ptr_null(r->body);
	ck_assert_uint_eq(r->len, 0);
	ck_assert_int_eq(d->status, CT_ERR_TOO_BIG);
	ck_assert_str_eq(d->error, "body over 8388608 bytes");
	/* The client stopped reading: the server could not send it all. */
	ck_assert_uint_lt(t.srv.big_written, FX_BIG_BYTES / 4);
	ck_assert_int_ne(t.srv.big_error, 0);
	ck_assert(r->total_s < 5 && d->total_s < 5);
	printf("test_http: /big stopped after the server wrote %llu of "
	       "%llu bytes\n",
	    (unsigned long long)t.srv.big_written,
	    (unsigned long long)FX_BIG_BYTES);
	ctx_clear(&t);
}
END_TEST

START_TEST(test_error_page_over_cap)
{
	struct http_request req = loopback_req();
	struct tctx t;
	struct res *r;

	ctx_init(&t);
	req.max_body_bytes = TEST_CAP_BYTES;
	req.max_retries = 0;
	r = ctx_get(&t, "/503big", &req);
	ctx_run(&t);
	/* The status decides, the oversized page is dropped. */
	ck_assert_int_eq(r->status, CT_ERR_PROTO);
	ck_assert_int_eq(r->code, 503);
	ck_assert_str_eq(r->error, "HTTP 503");
	ck_assert_ptr_null(r->body);
	ctx_clear(&t);
}
END_TEST

START_TEST(test_gzip)
{
	struct tctx t;
	struct res *r;
	uint8_t *want;
	size_t wantlen;

	want = testutil_read(HTTP_DATA "ok.json", &wantlen);
	ctx_init(&t);
	r = ctx_get(&t, "/gzip", NULL);
	ctx_run(&t);
	ck_assert_msg(r->status == 0, "%s", r->error);
	ck_assert_uint_eq(r->len, wantlen);
	ck_assert_mem_eq(r->body, want, wantlen);
	free(want);
	ctx_clear(&t);
}
END_TEST

START_TEST(test_gzip_bomb)
{
	struct http_request req = loopback_req();
	struct tctx t;
	struct res *r;

	ctx_init(&t);
	req.max_body_bytes = TEST_CAP_BYTES;
	r = ctx_get(&t, "/bomb", &req);
	ctx_run(&t);
	/* 16 KiB on the wire, 16 MiB decoded: stopped at the cap. */
	ck_assert_int_eq(r->status, CT_ERR_TOO_BIG);
	ck_assert_str_eq(r->error, "body over 1048576 bytes");
	ctx_clear(&t);
}
END_TEST

START_TEST(test_timeout)
{
	struct http_request req = loopback_req();
	struct tctx t;
	struct res *r;

	ctx_init(&t);
	req.timeout_ms = 500;
	r = ctx_get(&t, "/hang", &req);
	ctx_run(&t);
	ck_assert_int_eq(r->status, CT_ERR_TIMEOUT);
	ck_assert_str_eq(r->error, "timed out after 500 ms");
	ck_assert_msg(r->total_s >= 0.45 && r->total_s < 1.5, "%.3f s",
	    r->total_s);
	ck_assert_int_eq(r->code, 0);
	ck_assert_ptr_null(r->body);
	ctx_clear(&t);
}
END_TEST

static void
closed_port_cb(uv_handle_t *h)
{
	(void)h;
}

START_TEST(test_refused)
{
	struct http_request req = loopback_req();
	struct sockaddr_in sa;
	char url[128], want[128];
	struct tctx t;
	uv_tcp_t tmp;
	struct res *r;
	int port;

	ctx_init(&t);
	/* A port that was just free: bind it, note it, close it. */
	ck_assert_int_eq(uv_ip4_addr("127.0.0.1", 0, &sa), 0);
	ck_assert_int_eq(uv_tcp_init(&t.loop, &tmp), 0);
	ck_assert_int_eq(uv_tcp_bind(&tmp, (const struct sockaddr *)&sa, 0), 0);
	port = fx_local_port(&tmp);
	uv_close((uv_handle_t *)&tmp, closed_port_cb);
	uv_run(&t.loop, UV_RUN_NOWAIT);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/ok", port);
	req.url = url;
	r = ctx_get(&t, NULL, &req);
	ctx_run(&t);
	snprintf(want, sizeof(want), "connection refused to 127.0.0.1:%d",
	    port);
	ck_assert_int_eq(r->status, CT_ERR_IO);
	ck_assert_str_eq(r->error, want);
	ck_assert_int_eq(r->attempts, 1);
	ctx_clear(&t);
}
END_TEST

START_TEST(test_closed_and_short)
{
	struct tctx t;
	struct res *c, *s;
	char want[128];

	ctx_init(&t);
	c = ctx_get(&t, "/close", NULL);
	s = ctx_get(&t, "/short", NULL);
	ctx_run(&t);
	snprintf(want, sizeof(want),
	    "127.0.0.1:%d closed the connection without a response",
	    t.srv.port);
	ck_assert_int_eq(c->status, CT_ERR_CLOSED);
	ck_assert_str_eq(c->error, want);
	ck_assert_int_eq(s->status, CT_ERR_TRUNCATED);
	ck_assert_ptr_null(s->body);
	ctx_clear(&t);
}
END_TEST

START_TEST(test_retry_after_429)
{
	struct http_request req = loopback_req();
	struct tctx t;
	struct res *r;

	ctx_init(&t);
	req.timeout_ms = 5000;
	req.retry_wait_ms = 100; /* what a missed Retry-After would give */
	r = ctx_get(&t, "/429", &req);
	ctx_run(&t);
	ck_assert_msg(r->status == 0, "%s", r->error);
	ck_assert_int_eq(r->attempts, 2);
	ck_assert_uint_eq(t.srv.hits[FX_429], 2);
	ck_assert_str_eq((char *)r->body, fx_ok_body);
	/* Retry-After: 1 was honoured. */
	ck_assert_msg(r->total_s >= 0.95 && r->total_s < 3, "%.3f s",
	    r->total_s);
	ctx_clear(&t);
}
END_TEST

START_TEST(test_retry_after_date)
{
	struct http_request req = loopback_req();
	struct tctx t;
	struct res *r;

	ctx_init(&t);
	req.timeout_ms = 5000;
	req.retry_wait_ms = 100; /* what a missed Retry-After would give */
	r = ctx_get(&t, "/429date", &req);
	ctx_run(&t);
	ck_assert_msg(r->status == 0, "%s", r->error);
	ck_assert_int_eq(r->attempts, 2);
	ck_assert_uint_eq(t.srv.hits[FX_429DATE], 2);
	/* The date was two seconds ahead, at one-second resolution. */
	ck_assert_msg(r->total_s >= 0.95 && r->total_s < 4, "%.3f s",
	    r->total_s);
	ctx_clear(&t);
}
END_TEST

START_TEST(test_retry_after_too_long)
{
	struct http_request req = loopback_req();
	struct tctx t;
	struct res *r;

	ctx_init(&t);
	req.timeout_ms = 5000;
	r = ctx_get(&t, "/429long", &req);
	ctx_run(&t);
	ck_assert_int_eq(r->status, CT_ERR_PROTO);
	ck_assert_int_eq(r->code, 429);
	ck_assert_int_eq(r->attempts, 1);
	ck_assert_int_eq(r->retry_after_s, 3600);
	ck_assert_uint_eq(t.srv.hits[FX_429LONG], 1);
	ck_assert_msg(strncmp(r->error,
	                  "HTTP 429, Retry-After 3600 s does not fit the "
	                  "remaining ",
	                  55) == 0,
	    "%s", r->error);
	ck_assert_msg(r->total_s < 1, "not immediate: %.3f s", r->total_s);
	ctx_clear(&t);
}
END_TEST

/* A shared rate in a fresh state directory under the test's temp dir. */
static struct state *
rate_state(char *dir, size_t dirsz)
{
	struct state *st = NULL;

	snprintf(dir, dirsz, "/tmp/test_http_rate.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(state_open(dir, &st, NULL, 0), 0);
	return st;
}

static void
rate_state_free(struct state *st, const char *dir)
{
	char cmd[256];

	state_close(st);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* A test context whose requests share rl (name, per_minute, burst). */
static void
rate_begin(struct tctx *t, struct http_request *req, struct ratelimit *rl,
    struct state *st, const char *name, unsigned per_minute, unsigned burst,
    uint32_t timeout_ms)
{
	ck_assert_int_eq(ratelimit_init(rl, st, name, per_minute, burst), 0);
	ctx_init(t);
	req->rate = rl;
	req->timeout_ms = timeout_ms;
}

/*
 * A request with a shared rate waits for its slot; one whose slot lies
 * beyond its deadline is not sent at all, and says why.
 */
START_TEST(test_rate_slots)
{
	struct http_request req = loopback_req();
	struct ratelimit rl;
	struct state *st;
	struct tctx t;
	struct res *r[3];
	char dir[64];

	st = rate_state(dir, sizeof(dir));
	/* 120 a minute, burst 2: two at once, the third 500 ms later. */
	rate_begin(&t, &req, &rl, st, "test", 120, 2, 5000);
	r[0] = ctx_get(&t, "/ok", &req);
	r[1] = ctx_get(&t, "/ok", &req);
	r[2] = ctx_get(&t, "/ok", &req);
	ctx_run(&t);
	ck_assert_msg(r[0]->status == 0 && r[1]->status == 0 &&
	        r[2]->status == 0,
	    "%s %s %s", r[0]->error, r[1]->error, r[2]->error);
	ck_assert_uint_eq(t.srv.hits[FX_OK], 3);
	ck_assert_uint_eq(rl.taken, 3);
	/* The third waited for its slot (a lower bound only). */
	ck_assert_msg(r[2]->total_s >= 0.45, "%.3f s", r[2]->total_s);
	ctx_clear(&t);

	/* 1 a minute, burst 1, the slot just taken: the next is a minute
	 * away, past a 2 s deadline: not sent. */
	rate_begin(&t, &req, &rl, st, "test2", 1, 1, 2000);
	r[0] = ctx_get(&t, "/ok", &req);
	r[1] = ctx_get(&t, "/ok", &req);
	ctx_run(&t);
	ck_assert_msg(r[0]->status == 0, "%s", r[0]->error);
	ck_assert_int_eq(r[1]->status, CT_ERR_TIMEOUT);
	ck_assert_int_eq(r[1]->attempts, 0);
	ck_assert_msg(strstr(r[1]->error, "not sent to 127.0.0.1:") != NULL &&
	        strstr(r[1]->error, "shared limit of 1 request a minute") !=
	            NULL,
	    "%s", r[1]->error);
	ck_assert_uint_eq(t.srv.hits[FX_OK], 1);
	ck_assert_uint_eq(rl.refused, 1);
	ctx_clear(&t);
	rate_state_free(st, dir);
}
END_TEST

/* A 429 holds off every request that shares the rate for its
 * Retry-After, not only its own retry. */
START_TEST(test_rate_blocked_by_429)
{
	struct http_request req = loopback_req();
	struct ratelimit rl, other;
	struct state *st;
	struct tctx t;
	struct res *r;
	uint64_t wait = 0;
	char dir[64];

	st = rate_state(dir, sizeof(dir));
	rate_begin(&t, &req, &rl, st, "crtsh", 6000, 10, 5000);
	r = ctx_get(&t, "/429long", &req); /* Retry-After: 3600 */
	ctx_run(&t);
	ck_assert_int_eq(r->status, CT_ERR_PROTO);
	ctx_clear(&t);
	/* Another process's limiter on the same directory sees the block. */
	ck_assert_int_eq(ratelimit_init(&other, st, "crtsh", 6000, 10), 0);
	ck_assert_int_eq(ratelimit_take(&other, util_now_ms(), 1000, &wait),
	    CT_ERR_TIMEOUT);
	ck_assert_msg(wait > 3500 * 1000 && wait <= 3600 * 1000, "%llu",
	    (unsigned long long)wait);
	rate_state_free(st, dir);
}
END_TEST

START_TEST(test_503_retried)
{
	struct http_request req = loopback_req();
	struct res *r, *none, *late;
	struct tctx t;

	ctx_init(&t);
	req.retry_wait_ms = 100;
	r = ctx_get(&t, "/503", &req);
	req.max_retries = 0;
	none = ctx_get(&t, "/503", &req);
	/* No Retry-After, and the 1 s default wait does not fit 1 s. */
	req.max_retries = 1;
	req.retry_wait_ms = HTTP_RETRY_WAIT_MS;
	req.timeout_ms = 1000;
	late = ctx_get(&t, "/503", &req);
	ctx_run(&t);
	ck_assert_int_eq(r->status, CT_ERR_PROTO);
	ck_assert_int_eq(r->code, 503);
	ck_assert_int_eq(r->attempts, 2);
	ck_assert_str_eq(r->error, "HTTP 503 after 2 attempts");
	ck_assert_str_eq((char *)r->body, "Service Unavailable");
	ck_assert_int_eq(none->attempts, 1);
	ck_assert_str_eq(none->error, "HTTP 503");
	ck_assert_int_eq(late->attempts, 1);
	ck_assert_str_eq(late->error, "HTTP 503, no time left to retry");
	ck_assert_uint_eq(t.srv.hits[FX_503], 4);
	ctx_clear(&t);
}
END_TEST

START_TEST(test_no_retry_404_redirect)
{
	struct tctx t;
	struct res *nf, *rd;

	ctx_init(&t);
	nf = ctx_get(&t, "/404", NULL);
	rd = ctx_get(&t, "/redirect", NULL);
	ctx_run(&t);
	ck_assert_int_eq(nf->status, CT_ERR_PROTO);
	ck_assert_int_eq(nf->code, 404);
	ck_assert_int_eq(nf->attempts, 1);
	ck_assert_str_eq(nf->error, "HTTP 404");
	ck_assert_str_eq((char *)nf->body, "{\"error\":\"no such thing\"}");
	ck_assert_int_eq(rd->status, CT_ERR_PROTO);
	ck_assert_int_eq(rd->code, 302);
	ck_assert_str_eq(rd->error, "HTTP 302 (redirects are not followed)");
	ck_assert_uint_eq(t.srv.hits[FX_404], 1);
	ck_assert_uint_eq(t.srv.hits[FX_OK], 0); /* Location not followed */
	ctx_clear(&t);
}
END_TEST

START_TEST(test_scheme_refused)
{
	struct http_request req;
	struct res *h, *f, *bad;
	char url[128];
	struct tctx t;

	ctx_init(&t);
	http_request_init(&req);
	ctx_url(&t, "/ok", url, sizeof(url));
	req.url = url;
	h = ctx_get(&t, NULL, &req); /* allow_http is false */
	req.allow_http = true;
	req.url = "ftp://127.0.0.1/ok";
	f = ctx_get(&t, NULL, &req);
	req.url = "http://[::1";
	bad = ctx_get(&t, NULL, &req);
	ctx_run(&t);
	ck_assert_int_eq(h->status, CT_ERR_INVALID);
	ck_assert_str_eq(h->error, "URL scheme http not allowed (https only)");
	ck_assert_int_eq(h->attempts, 0);
	ck_assert_int_eq(f->status, CT_ERR_INVALID);
	ck_assert_str_eq(f->error,
	    "URL scheme ftp not allowed (http and https only)");
	ck_assert_int_eq(bad->status, CT_ERR_INVALID);
	ck_assert_msg(strncmp(bad->error, "malformed URL: ", 15) == 0, "%s",
	    bad->error);
	ck_assert_uint_eq(t.srv.nconn, 0);
	ctx_clear(&t);
}
END_TEST

/* libcurl is loaded at run time: init and cleanup pair up. */
START_TEST(test_global_init)
{
	char err[HTTP_ERROR_LEN];

	ck_assert_int_eq(http_global_init(err, sizeof(err)), 0);
	ck_assert_str_eq(err, "");
	ck_assert_int_eq(http_global_init(NULL, 0), 0);
	http_global_cleanup();
	http_global_cleanup();
	http_global_cleanup(); /* one too many: nothing happens */
}
END_TEST

/*
 * Without libcurl: a clear error from http_global_init and from
 * http_client_new, no crash. In a child, since the library is looked for
 * once per process.
 */
START_TEST(test_curl_missing)
{
	static const char want[] = "libcurl not available: ";
	char err[HTTP_ERROR_LEN];
	uv_loop_t loop;
	const char *fork_mode = getenv("CK_FORK");
	int status, bad = 0;
	pid_t pid;

	if (fork_mode != NULL && strcmp(fork_mode, "no") == 0) {
		/* Earlier tests of this process have loaded libcurl. */
		fprintf(stderr, "test_curl_missing: not run with CK_FORK=no\n");
		return;
	}
	ck_assert_int_ge(pid = fork(), 0);
	if (pid == 0) {
		http_curl_soname_for_tests("libct-no-such-curl.so.0");
		if (http_global_init(err, sizeof(err)) != CT_ERR_IO ||
		    strncmp(err, want, sizeof(want) - 1) != 0 ||
		    strstr(err, "libct-no-such-curl.so.0") == NULL)
			bad |= 1;
		http_global_cleanup();
		if (uv_loop_init(&loop) != 0 || http_client_new(&loop) != NULL)
			bad |= 2;
		if (strncmp(http_client_error(), want, sizeof(want) - 1) != 0)
			bad |= 4;
		if (uv_loop_close(&loop) != 0)
			bad |= 8;
		_exit(bad);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "child status 0x%x", status);
}
END_TEST

START_TEST(test_bad_arguments)
{
	struct http_request req;
	struct http_client *c;
	uv_loop_t loop;
	int dummy = 0;

	ck_assert_int_eq(uv_loop_init(&loop), 0);
	ck_assert_ptr_nonnull(c = http_client_new(&loop));
	http_request_init(&req);
	ck_assert_int_eq(http_get(c, &req, on_done, &dummy), CT_ERR_INVALID);
	req.url = "https://127.0.0.1/";
	ck_assert_int_eq(http_get(c, &req, NULL, &dummy), CT_ERR_INVALID);
	ck_assert_int_eq(http_get(NULL, &req, on_done, &dummy), CT_ERR_INVALID);
	req.timeout_ms = 0;
	ck_assert_int_eq(http_get(c, &req, on_done, &dummy), CT_ERR_INVALID);
	http_request_init(&req);
	req.url = "https://127.0.0.1/";
	req.max_body_bytes = 0;
	ck_assert_int_eq(http_get(c, &req, on_done, &dummy), CT_ERR_INVALID);
	http_request_init(&req);
	req.url = "https://127.0.0.1/";
	req.nheaders = HTTP_MAX_HEADERS + 1;
	ck_assert_int_eq(http_get(c, &req, on_done, &dummy), CT_ERR_INVALID);
	ck_assert_uint_eq(http_client_pending(c), 0);
	ck_assert_ptr_null(http_client_new(NULL));
	http_client_free(NULL);
	http_client_free(c);
	uv_run(&loop, UV_RUN_DEFAULT);
	ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

START_TEST(test_concurrent_slow)
{
	struct tctx t;
	uint64_t t0, last = 0;
	double ms;
	int i, n = 20;

	ctx_init(&t);
	t0 = uv_hrtime();
	for (i = 0; i < n; i++)
		ctx_get(&t, "/slow", NULL);
	ck_assert_uint_eq(http_client_pending(t.client), (unsigned)n);
	ctx_run(&t);
	for (i = 0; i < n; i++) {
		ck_assert_msg(t.res[i].status == 0, "%d: %s", i,
		    t.res[i].error);
		if (t.res[i].done_ns > last)
			last = t.res[i].done_ns;
	}
	ms = (double)(last - t0) / 1e6;
	printf("test_http: %d concurrent requests to a %d ms server took "
	       "%.1f ms (serial would be %d ms)\n",
	    n, FX_SLOW_MS, ms, n * FX_SLOW_MS);
	ck_assert_uint_eq(t.srv.hits[FX_SLOW], (unsigned)n);
	ck_assert_msg(ms >= FX_SLOW_MS * 0.95, "%.1f ms", ms);
	ck_assert_msg(ms < 1000, "not concurrent: %.1f ms", ms);
	ctx_clear(&t);
}
END_TEST

static void
cancel_cb(uv_timer_t *tm)
{
	struct tctx *t = tm->data;
	int i;

	ck_assert_uint_eq(http_client_pending(t->client), 6);
	http_client_cancel_all(t->client);
	/* Every callback fired, inside cancel_all. */
	ck_assert_uint_eq(http_client_pending(t->client), 0);
	for (i = 0; i < t->nres; i++)
		ck_assert_int_eq(t->res[i].calls, 1);
	uv_close((uv_handle_t *)tm, NULL);
}

START_TEST(test_cancel_all)
{
	struct http_request req = loopback_req();
	struct tctx t;
	uv_timer_t tm;
	int i;

	ctx_init(&t);
	for (i = 0; i < 4; i++)
		ctx_get(&t, "/hang", NULL);
	ctx_get(&t, "/slow", NULL);
	req.retry_wait_ms = 10000; /* waiting to retry when cancelled */
	ctx_get(&t, "/503", &req);
	ck_assert_int_eq(uv_timer_init(&t.loop, &tm), 0);
	tm.data = &t;
	ck_assert_int_eq(uv_timer_start(&tm, cancel_cb, 100, 0), 0);
	ctx_run(&t);
	for (i = 0; i < t.nres; i++) {
		ck_assert_int_eq(t.res[i].status, CT_ERR_TIMEOUT);
		ck_assert_msg(strncmp(t.res[i].error, "cancelled after ", 16) ==
		        0,
		    "%s", t.res[i].error);
		ck_assert_ptr_nonnull(strstr(t.res[i].error, "(run deadline)"));
	}
	ck_assert_uint_eq(t.srv.hits[FX_503], 1);
	ck_assert_int_eq(t.res[5].attempts, 1);
	ctx_clear(&t);
}
END_TEST

static void
free_cb(uv_timer_t *tm)
{
	struct tctx *t = tm->data;

	/* The callbacks stop the fixture once the last one has fired. */
	t->client_freed = true;
	http_client_free(t->client);
	uv_close((uv_handle_t *)tm, NULL);
}

START_TEST(test_free_pending)
{
	struct tctx t;
	uv_timer_t tm;
	int i;

	ctx_init(&t);
	for (i = 0; i < 3; i++)
		ctx_get(&t, "/hang", NULL);
	ck_assert_int_eq(uv_timer_init(&t.loop, &tm), 0);
	tm.data = &t;
	ck_assert_int_eq(uv_timer_start(&tm, free_cb, 50, 0), 0);
	ctx_run(&t);
	for (i = 0; i < t.nres; i++) {
		ck_assert_int_eq(t.res[i].status, CT_ERR_TIMEOUT);
		ck_assert_ptr_nonnull(
		    strstr(t.res[i].error, "(client closed)"));
	}
	ctx_clear(&t);
}
END_TEST

START_TEST(test_free_from_callback)
{
	struct tctx t;
	struct res *ok;
	int i;

	ctx_init(&t);
	t.free_on_first = true;
	ok = ctx_get(&t, "/ok", NULL);
	for (i = 0; i < 3; i++)
		ctx_get(&t, "/hang", NULL);
	ctx_run(&t);
	ck_assert_int_eq(ok->status, 0);
	for (i = 1; i < t.nres; i++) {
		ck_assert_int_eq(t.res[i].status, CT_ERR_TIMEOUT);
		ck_assert_ptr_nonnull(
		    strstr(t.res[i].error, "(client closed)"));
	}
	ctx_clear(&t);
}
END_TEST

START_TEST(test_chain_from_callback)
{
	struct tctx t;
	struct res *first;

	ctx_init(&t);
	t.chain = true;
	first = ctx_get(&t, "/ok", NULL);
	t.expected = 2; /* the one started from the callback, too */
	ctx_run(&t);
	ck_assert_int_eq(first->status, 0);
	ck_assert_int_eq(t.nres, 2);
	ck_assert_int_eq(t.res[1].status, 0);
	ck_assert_uint_eq(t.srv.hits[FX_OK], 2);
	ctx_clear(&t);
}
END_TEST

/* ------------------------------------------------------------ HTTPS */

/* nginx with HTTP/2 and a certificate from a throw-away CA. */
static struct {
	bool ready;
	char why[256]; /* reason for skipping */
	char dir[64];
	int port;
} tls_fx;

static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
run(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(cmd))
		return -1;
	return system(cmd);
}

static int
free_port(void)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int fd, port = -1;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
		port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

static bool
port_open(int port)
{
	struct sockaddr_in sa;
	int fd;
	bool ok;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
		return false;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

static void
tls_setup(void)
{
	const char *d;
	FILE *f;
	char path[128];
	int i;

	if (run("command -v nginx >/dev/null 2>&1 || "
	        "test -x /usr/sbin/nginx") != 0) {
		snprintf(tls_fx.why, sizeof(tls_fx.why), "nginx not found");
		return;
	}
	if (run("command -v openssl >/dev/null 2>&1") != 0) {
		snprintf(tls_fx.why, sizeof(tls_fx.why), "openssl not found");
		return;
	}
	snprintf(tls_fx.dir, sizeof(tls_fx.dir), "/tmp/test_http.XXXXXX");
	if (mkdtemp(tls_fx.dir) == NULL) {
		snprintf(tls_fx.why, sizeof(tls_fx.why), "mkdtemp: %s",
		    strerror(errno));
		return;
	}
	d = tls_fx.dir;
	/* As root, nginx workers run as nobody: let them read www/. */
	if (run("(cd %s && chmod 755 . && mkdir -p www logs tmp && "
	        "printf '%s' > www/ok.json && "
	        "printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > ext && "
	        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
	        "-nodes -days 2 -subj /CN=test-http-ca -keyout ca.key "
	        "-out ca.pem && "
	        "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
	        "-nodes -subj /CN=localhost -keyout srv.key -out srv.csr && "
	        "openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key "
	        "-CAcreateserial -days 2 -extfile ext -out srv.pem"
	        ") >%s/openssl.log 2>&1",
	        d, fx_ok_body, d) != 0) {
		snprintf(tls_fx.why, sizeof(tls_fx.why),
		    "openssl failed, see %s/openssl.log", d);
		return;
	}
	if ((tls_fx.port = free_port()) < 0) {
		snprintf(tls_fx.why, sizeof(tls_fx.why), "no free port");
		return;
	}
	snprintf(path, sizeof(path), "%s/nginx.conf", d);
	if ((f = fopen(path, "w")) == NULL) {
		snprintf(tls_fx.why, sizeof(tls_fx.why), "%s: %s", path,
		    strerror(errno));
		return;
	}
	fprintf(f,
	    "daemon on; pid %s/nginx.pid; error_log %s/logs/error.log;\n"
	    "worker_processes 1;\n"
	    "events { worker_connections 256; }\n"
	    "http {\n"
	    "  log_format c '$connection $request $server_protocol';\n"
	    "  access_log %s/logs/access.log c;\n"
	    "  client_body_temp_path %s/tmp; proxy_temp_path %s/tmp;\n"
	    "  fastcgi_temp_path %s/tmp; uwsgi_temp_path %s/tmp;\n"
	    "  scgi_temp_path %s/tmp;\n"
	    "  server {\n"
	    "    listen 127.0.0.1:%d ssl http2;\n"
	    "    ssl_certificate %s/srv.pem; ssl_certificate_key %s/srv.key;\n"
	    "    root %s/www; default_type application/json;\n"
	    "  }\n"
	    "}\n",
	    d, d, d, d, d, d, d, d, tls_fx.port, d, d, d);
	fclose(f);
	if (run("nginx -p %s -c %s/nginx.conf >%s/logs/start.log 2>&1", d, d,
	        d) != 0) {
		snprintf(tls_fx.why, sizeof(tls_fx.why),
		    "nginx did not start, see %s/logs", d);
		return;
	}
	for (i = 0; i < 100 && !port_open(tls_fx.port); i++)
		usleep(50 * 1000);
	if (!port_open(tls_fx.port)) {
		snprintf(tls_fx.why, sizeof(tls_fx.why),
		    "nginx not listening on %d", tls_fx.port);
		return;
	}
	tls_fx.ready = true;
}

static void
tls_teardown(void)
{
	if (tls_fx.dir[0] == '\0')
		return;
	run("test -f %s/nginx.pid && kill $(cat %s/nginx.pid) 2>/dev/null; "
	    "sleep 0.2; rm -rf %s",
	    tls_fx.dir, tls_fx.dir, tls_fx.dir);
	tls_fx.dir[0] = '\0';
}

/* Says why an HTTPS test is skipped; returns true when it is. */
static bool
tls_skip(const char *name)
{
	if (tls_fx.ready)
		return false;
	fprintf(stderr, "test_http: %s SKIPPED: %s\n", name, tls_fx.why);
	return true;
}

static struct http_request
tls_req(char *url, size_t n, char *ca, size_t casz)
{
	struct http_request req;

	http_request_init(&req);
	snprintf(url, n, "https://127.0.0.1:%d/ok.json", tls_fx.port);
	snprintf(ca, casz, "%s/ca.pem", tls_fx.dir);
	req.url = url;
	req.ca_file = ca;
	return req;
}

/* Distinct connections nginx logged for the HTTP/2 requests. */
static int
tls_connections(void)
{
	char path[128], line[512];
	long ids[TEST_MAX_REQS * 4];
	int nids = 0, i;
	FILE *f;
	long id;
	char *end;

	snprintf(path, sizeof(path), "%s/logs/access.log", tls_fx.dir);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		errno = 0;
		id = strtol(line, &end, 10);
		if (errno != 0 || end == line || strstr(line, "HTTP/2") == NULL)
			continue;
		for (i = 0; i < nids && ids[i] != id; i++)
			;
		if (i == nids && nids < (int)(sizeof(ids) / sizeof(ids[0])))
			ids[nids++] = id;
	}
	fclose(f);
	return nids;
}

START_TEST(test_https_h2)
{
	char url[128], ca[128];
	struct http_request req;
	struct tctx t;
	int i, n = 10;

	if (tls_skip("test_https_h2"))
		return;
	ctx_init(&t);
	req = tls_req(url, sizeof(url), ca, sizeof(ca));
	for (i = 0; i < n; i++) {
		req.url = url;
		ctx_get(&t, NULL, &req);
	}
	ctx_run(&t);
	for (i = 0; i < n; i++) {
		ck_assert_msg(t.res[i].status == 0, "%s", t.res[i].error);
		ck_assert_int_eq(t.res[i].version, 20);
		ck_assert_str_eq((char *)t.res[i].body, fx_ok_body);
		ck_assert_str_eq(t.res[i].ctype, "application/json");
	}
	/* Multiplexed: one connection carried them all. */
	ck_assert_int_eq(tls_connections(), 1);
	ctx_clear(&t);
}
END_TEST

START_TEST(test_https_untrusted)
{
	char url[128], ca[128], want[128];
	struct http_request req;
	struct tctx t;
	struct res *r;

	if (tls_skip("test_https_untrusted"))
		return;
	ctx_init(&t);
	req = tls_req(url, sizeof(url), ca, sizeof(ca));
	req.ca_file = NULL; /* the system store does not know our CA */
	r = ctx_get(&t, NULL, &req);
	ctx_run(&t);
	snprintf(want, sizeof(want),
	    "TLS certificate of 127.0.0.1:%d not accepted", tls_fx.port);
	ck_assert_int_eq(r->status, CT_ERR_AUTH);
	ck_assert_msg(strncmp(r->error, want, strlen(want)) == 0, "%s",
	    r->error);
	ctx_clear(&t);
}
END_TEST

START_TEST(test_http_to_https_port_refused_scheme)
{
	char url[128], ca[128];
	struct http_request req;
	struct tctx t;
	struct res *r;

	if (tls_skip("test_http_to_https_port_refused_scheme"))
		return;
	ctx_init(&t);
	req = tls_req(url, sizeof(url), ca, sizeof(ca));
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/ok.json", tls_fx.port);
	r = ctx_get(&t, NULL, &req);
	ctx_run(&t);
	ck_assert_int_eq(r->status, CT_ERR_INVALID);
	ck_assert_str_eq(r->error, "URL scheme http not allowed (https only)");
	ctx_clear(&t);
}
END_TEST

static Suite *
http_suite(void)
{
	Suite *s = suite_create("http");
	TCase *tc = tcase_create("loopback");
	TCase *tls = tcase_create("https");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_ok);
	tcase_add_test(tc, test_headers_sent);
	tcase_add_test(tc, test_expect_type);
	tcase_add_test(tc, test_body_over_cap);
	tcase_add_test(tc, test_error_page_over_cap);
	tcase_add_test(tc, test_gzip);
	tcase_add_test(tc, test_gzip_bomb);
	tcase_add_test(tc, test_timeout);
	tcase_add_test(tc, test_refused);
	tcase_add_test(tc, test_closed_and_short);
	tcase_add_test(tc, test_retry_after_429);
	tcase_add_test(tc, test_retry_after_date);
	tcase_add_test(tc, test_retry_after_too_long);
	tcase_add_test(tc, test_rate_slots);
	tcase_add_test(tc, test_rate_blocked_by_429);
	tcase_add_test(tc, test_503_retried);
	tcase_add_test(tc, test_no_retry_404_redirect);
	tcase_add_test(tc, test_scheme_refused);
	tcase_add_test(tc, test_bad_arguments);
	tcase_add_test(tc, test_global_init);
	tcase_add_test(tc, test_curl_missing);
	tcase_add_test(tc, test_concurrent_slow);
	tcase_add_test(tc, test_cancel_all);
	tcase_add_test(tc, test_free_pending);
	tcase_add_test(tc, test_free_from_callback);
	tcase_add_test(tc, test_chain_from_callback);
	suite_add_tcase(s, tc);

	tcase_set_timeout(tls, 30);
	tcase_add_unchecked_fixture(tls, tls_setup, tls_teardown);
	tcase_add_test(tls, test_https_h2);
	tcase_add_test(tls, test_https_untrusted);
	tcase_add_test(tls, test_http_to_https_port_refused_scheme);
	suite_add_tcase(s, tls);
	return s;
}

int
main(void)
{
	static const char *const proxies[] = {"http_proxy", "https_proxy",
	    "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"};
	size_t i;
	int rc;

	/* The fixtures are on loopback: no proxy in between. */
	for (i = 0; i < sizeof(proxies) / sizeof(proxies[0]); i++)
		unsetenv(proxies[i]);
	signal(SIGPIPE, SIG_IGN);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "curl_global_init failed\n");
		return EXIT_FAILURE;
	}
	rc = testutil_run(http_suite());
	tls_teardown();
	curl_global_cleanup();
	return rc;
}
