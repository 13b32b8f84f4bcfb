/*
 * fixture_httpd: canned-response HTTP/1.1 server for tests (see the
 * header). Adapted from the fixture in test_http.c: one uv_tcp_t and one
 * uv_timer_t per connection, freed when both have closed.
 */
#define _GNU_SOURCE /* memmem */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "fixture_httpd.h"

struct fx_resp {
	int status;
	char *headers;
	char *body;
	size_t len;
	uint32_t delay_ms;
	struct fx_resp *next;
};

struct fx_route {
	char *target;
	struct fx_resp *first, *cur; /* cur: the next to serve */
	unsigned hits;
	char *last_head;
	struct fx_route *next;
};

struct fx_conn {
	uv_tcp_t tcp;
	uv_timer_t timer;
	struct fixture_httpd *srv;
	struct fx_conn *prev, *next;
	char in[FIXTURE_HTTPD_MAX_HEAD_BYTES];
	size_t inlen;
	int refs;
	bool closing;
	bool busy;
	const struct fx_resp *pending; /* delayed response */
};

struct fx_write {
	uv_write_t w;
	struct fx_conn *k;
	char *data;
};

struct fixture_httpd {
	uv_loop_t *loop;
	uv_tcp_t listener;
	bool listener_open;
	int port;
	bool stopped;
	struct fx_conn *conns;
	struct fx_route *routes;
	unsigned total, unmatched, busy, max_busy;
	char last_unmatched[FIXTURE_HTTPD_MAX_TARGET_BYTES];
};

static void
conn_closed(uv_handle_t *h)
{
	struct fx_conn *k = h->data;

	if (--k->refs == 0)
		free(k);
}

static void
conn_close(struct fx_conn *k)
{
	struct fixture_httpd *s = k->srv;

	if (k->closing)
		return;
	k->closing = true;
	if (k->busy) {
		k->busy = false;
		s->busy--;
	}
	if (k->prev != NULL)
		k->prev->next = k->next;
	else
		s->conns = k->next;
	if (k->next != NULL)
		k->next->prev = k->prev;
	uv_close((uv_handle_t *)&k->tcp, conn_closed);
	uv_close((uv_handle_t *)&k->timer, conn_closed);
}

static void handle_request(struct fx_conn *k);

static void
write_cb(uv_write_t *w, int status)
{
	struct fx_write *fw = (struct fx_write *)w;
	struct fx_conn *k = fw->k;

	free(fw->data);
	free(fw);
	if (status != 0) {
		conn_close(k);
		return;
	}
	if (!k->closing)
		handle_request(k); /* a pipelined or kept-alive request */
}

static const char *
reason_phrase(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 204:
		return "No Content";
	case 301:
		return "Moved Permanently";
	case 302:
		return "Found";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 429:
		return "Too Many Requests";
	case 500:
		return "Internal Server Error";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	case 504:
		return "Gateway Timeout";
	default:
		return "Status";
	}
}

static void
send_resp(struct fx_conn *k, int status, const char *headers, const char *body,
    size_t len)
{
	struct fixture_httpd *s = k->srv;
	struct fx_write *fw;
	char head[1024];
	size_t hl, hdrlen = headers != NULL ? strlen(headers) : 0;
	uv_buf_t b;
	int n;

	n = snprintf(head, sizeof(head),
	    "HTTP/1.1 %d %s\r\nContent-Length: %zu\r\n", status,
	    reason_phrase(status), len);
	hl = (size_t)n;
	if (k->busy) {
		k->busy = false;
		s->busy--;
	}
	if ((fw = calloc(1, sizeof(*fw))) == NULL ||
	    (fw->data = malloc(hl + hdrlen + 2 + len)) == NULL) {
		free(fw);
		conn_close(k);
		return;
	}
	memcpy(fw->data, head, hl);
	if (hdrlen > 0)
		memcpy(fw->data + hl, headers, hdrlen);
	memcpy(fw->data + hl + hdrlen, "\r\n", 2);
	if (len > 0)
		memcpy(fw->data + hl + hdrlen + 2, body, len);
	fw->k = k;
	b = uv_buf_init(fw->data, (unsigned)(hl + hdrlen + 2 + len));
	if (uv_write(&fw->w, (uv_stream_t *)&k->tcp, &b, 1, write_cb) != 0) {
		free(fw->data);
		free(fw);
		conn_close(k);
	}
}

static void
send_canned(struct fx_conn *k, const struct fx_resp *r)
{
	send_resp(k, r->status, r->headers, r->body, r->len);
}

static void
delay_cb(uv_timer_t *t)
{
	struct fx_conn *k = t->data;
	const struct fx_resp *r = k->pending;

	k->pending = NULL;
	if (r != NULL && !k->closing)
		send_canned(k, r);
}

static struct fx_route *
find_route(const struct fixture_httpd *s, const char *target, size_t n)
{
	struct fx_route *r;

	for (r = s->routes; r != NULL; r = r->next)
		if (strlen(r->target) == n && memcmp(r->target, target, n) == 0)
			return r;
	return NULL;
}

/* Answers one complete request head from k->in, if there is one. */
static void
handle_request(struct fx_conn *k)
{
	struct fixture_httpd *s = k->srv;
	struct fx_route *rt;
	const struct fx_resp *r;
	char *end, *sp;
	size_t used, tlen;

	if (k->busy || (end = memmem(k->in, k->inlen, "\r\n\r\n", 4)) == NULL)
		return;
	used = (size_t)(end - k->in) + 4;
	k->busy = true;
	s->busy++;
	if (s->busy > s->max_busy)
		s->max_busy = s->busy;
	s->total++;
	if (strncmp(k->in, "GET ", 4) != 0 ||
	    (sp = memchr(k->in + 4, ' ', used - 4)) == NULL) {
		conn_close(k);
		return;
	}
	tlen = (size_t)(sp - (k->in + 4));
	rt = find_route(s, k->in + 4, tlen);
	if (rt == NULL || rt->cur == NULL) {
		s->unmatched++;
		snprintf(s->last_unmatched, sizeof(s->last_unmatched), "%.*s",
		    (int)tlen, k->in + 4);
		memmove(k->in, k->in + used, k->inlen - used);
		k->inlen -= used;
		send_resp(k, 404, "Content-Type: text/plain\r\n", "no route",
		    8);
		return;
	}
	rt->hits++;
	free(rt->last_head);
	if ((rt->last_head = malloc(used + 1)) != NULL) {
		memcpy(rt->last_head, k->in, used);
		rt->last_head[used] = '\0';
	}
	memmove(k->in, k->in + used, k->inlen - used);
	k->inlen -= used;
	r = rt->cur;
	if (rt->cur->next != NULL)
		rt->cur = rt->cur->next;
	if (r->delay_ms > 0) {
		k->pending = r;
		uv_timer_start(&k->timer, delay_cb, r->delay_ms, 0);
		return;
	}
	send_canned(k, r);
}

static void
alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct fx_conn *k = h->data;

	(void)hint;
	*buf = uv_buf_init(k->in + k->inlen,
	    (unsigned)(sizeof(k->in) - 1 - k->inlen));
}

static void
read_cb(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
	struct fx_conn *k = st->data;

	(void)buf;
	if (nread < 0 || (nread == 0 && k->inlen + 1 >= sizeof(k->in))) {
		conn_close(k);
		return;
	}
	k->inlen += (size_t)nread;
	handle_request(k);
}

static void
accept_cb(uv_stream_t *l, int status)
{
	struct fixture_httpd *s = l->data;
	struct fx_conn *k;

	if (status != 0 || (k = calloc(1, sizeof(*k))) == NULL)
		return;
	k->srv = s;
	uv_tcp_init(s->loop, &k->tcp);
	uv_timer_init(s->loop, &k->timer);
	k->tcp.data = k->timer.data = k;
	k->refs = 2;
	if ((k->next = s->conns) != NULL)
		k->next->prev = k;
	s->conns = k;
	if (uv_accept(l, (uv_stream_t *)&k->tcp) != 0 ||
	    uv_read_start((uv_stream_t *)&k->tcp, alloc_cb, read_cb) != 0)
		conn_close(k);
}

struct fixture_httpd *
fixture_httpd_start(uv_loop_t *loop)
{
	struct fixture_httpd *s;
	struct sockaddr_in sa;
	struct sockaddr_storage ss;
	int len = sizeof(ss);

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->loop = loop;
	if (uv_ip4_addr("127.0.0.1", 0, &sa) != 0 ||
	    uv_tcp_init(loop, &s->listener) != 0) {
		free(s);
		return NULL;
	}
	s->listener_open = true;
	s->listener.data = s;
	if (uv_tcp_bind(&s->listener, (const struct sockaddr *)&sa, 0) != 0 ||
	    uv_listen((uv_stream_t *)&s->listener, 128, accept_cb) != 0 ||
	    uv_tcp_getsockname(&s->listener, (struct sockaddr *)&ss, &len) !=
	        0) {
		fixture_httpd_stop(s); /* the caller runs the loop and frees */
		return s;
	}
	s->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return s;
}

int
fixture_httpd_port(const struct fixture_httpd *s)
{
	return s->port;
}

void
fixture_httpd_url(const struct fixture_httpd *s, const char *path, char *out,
    size_t outsz)
{
	snprintf(out, outsz, "http://127.0.0.1:%d%s", s->port, path);
}

int
fixture_httpd_add(struct fixture_httpd *s, const char *target, int status,
    const char *headers, const void *body, size_t len, uint32_t delay_ms)
{
	struct fx_route *rt;
	struct fx_resp *r, **pp;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return -1;
	r->status = status;
	r->delay_ms = delay_ms;
	r->len = len;
	if ((headers != NULL && (r->headers = strdup(headers)) == NULL) ||
	    (r->body = malloc(len + 1)) == NULL) {
		free(r->headers);
		free(r);
		return -1;
	}
	if (len > 0)
		memcpy(r->body, body, len);
	if ((rt = find_route(s, target, strlen(target))) == NULL) {
		if ((rt = calloc(1, sizeof(*rt))) == NULL ||
		    (rt->target = strdup(target)) == NULL) {
			free(rt);
			free(r->headers);
			free(r->body);
			free(r);
			return -1;
		}
		rt->next = s->routes;
		s->routes = rt;
	}
	for (pp = &rt->first; *pp != NULL; pp = &(*pp)->next)
		;
	*pp = r;
	if (rt->cur == NULL)
		rt->cur = r;
	return 0;
}

int
fixture_httpd_add_str(struct fixture_httpd *s, const char *target, int status,
    const char *headers, const char *body)
{
	return fixture_httpd_add(s, target, status, headers, body, strlen(body),
	    0);
}

unsigned
fixture_httpd_hits(const struct fixture_httpd *s, const char *target)
{
	const struct fx_route *rt = find_route(s, target, strlen(target));

	return rt != NULL ? rt->hits : 0;
}

unsigned
fixture_httpd_total(const struct fixture_httpd *s)
{
	return s->total;
}

unsigned
fixture_httpd_unmatched(const struct fixture_httpd *s)
{
	return s->unmatched;
}

const char *
fixture_httpd_last_unmatched(const struct fixture_httpd *s)
{
	return s->last_unmatched;
}

unsigned
fixture_httpd_max_busy(const struct fixture_httpd *s)
{
	return s->max_busy;
}

const char *
fixture_httpd_last_head(const struct fixture_httpd *s, const char *target)
{
	const struct fx_route *rt = find_route(s, target, strlen(target));

	return rt != NULL ? rt->last_head : NULL;
}

void
fixture_httpd_reset_counts(struct fixture_httpd *s)
{
	struct fx_route *rt;

	s->total = s->unmatched = s->max_busy = 0;
	s->last_unmatched[0] = '\0';
	for (rt = s->routes; rt != NULL; rt = rt->next) {
		rt->hits = 0;
		free(rt->last_head);
		rt->last_head = NULL;
	}
}

void
fixture_httpd_stop(struct fixture_httpd *s)
{
	if (s == NULL || s->stopped)
		return;
	s->stopped = true;
	while (s->conns != NULL)
		conn_close(s->conns);
	if (s->listener_open)
		uv_close((uv_handle_t *)&s->listener, NULL);
}

void
fixture_httpd_free(struct fixture_httpd *s)
{
	struct fx_route *rt, *nrt;
	struct fx_resp *r, *nr;

	if (s == NULL)
		return;
	for (rt = s->routes; rt != NULL; rt = nrt) {
		nrt = rt->next;
		for (r = rt->first; r != NULL; r = nr) {
			nr = r->next;
			free(r->headers);
			free(r->body);
			free(r);
		}
		free(rt->target);
		free(rt->last_head);
		free(rt);
	}
	free(s);
}
