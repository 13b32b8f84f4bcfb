/*
 * http: libcurl multi interface on a libuv loop (the "multi-uv" pattern).
 *
 * libcurl tells us which sockets to watch (CURLMOPT_SOCKETFUNCTION; one
 * uv_poll_t per socket, remembered with curl_multi_assign) and when to
 * call it back (CURLMOPT_TIMERFUNCTION; one uv_timer_t). Readiness and
 * timer expiry are handed back with curl_multi_socket_action, and finished
 * transfers are collected with curl_multi_info_read.
 *
 * Each request owns an easy handle, reused for a retry, and a uv_timer_t
 * for the wait before a retry (or to report an early error from the loop
 * rather than from inside http_get). Handle memory is freed only in close
 * callbacks; the client itself is freed when its last handle has closed.
 *
 * User callbacks may re-enter the client (new requests, cancel, free).
 * Everything that calls them brackets itself with client_enter/leave, and
 * the client's teardown waits until no such section is active.
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "http.h"
#include "ratelimit.h"
#include "util.h"

#define HTTP_TARGET_LEN 300 /* "host:port" for messages */
#define HTTP_DATE_LEN 64    /* an HTTP-date in Retry-After */

/* ------------------------------------------------------------ libcurl */

/*
 * libcurl is not linked: it is loaded with dlopen when first needed and
 * called through this table, so a program that never speaks HTTP (ctctl
 * agent, ctctl inspect) does not map and relocate it and the ~30 libraries
 * it pulls in (several ms of every process start). Only the headers are
 * used at build time, for types and constants.
 */
struct curl_api {
	CURLcode (*global_init)(long);
	void (*global_cleanup)(void);
	CURL *(*easy_init)(void);
	void (*easy_cleanup)(CURL *);
	CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
	const char *(*easy_strerror)(CURLcode);
	CURLM *(*multi_init)(void);
	CURLMcode (*multi_cleanup)(CURLM *);
	CURLMcode (*multi_setopt)(CURLM *, CURLMoption, ...);
	CURLMcode (*multi_add_handle)(CURLM *, CURL *);
	CURLMcode (*multi_remove_handle)(CURLM *, CURL *);
	CURLMcode (*multi_assign)(CURLM *, curl_socket_t, void *);
	CURLMcode (*multi_socket_action)(CURLM *, curl_socket_t, int, int *);
	CURLMsg *(*multi_info_read)(CURLM *, int *);
	const char *(*multi_strerror)(CURLMcode);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void (*slist_free_all)(struct curl_slist *);
	CURLU *(*url)(void);
	void (*url_cleanup)(CURLU *);
	CURLUcode (*url_set)(CURLU *, CURLUPart, const char *, unsigned int);
	CURLUcode (*url_get)(const CURLU *, CURLUPart, char **, unsigned int);
	const char *(*url_strerror)(CURLUcode);
	void (*free)(void *);
	time_t (*getdate)(const char *, const time_t *);
};

/* Where each entry of struct curl_api comes from. */
static const struct {
	const char *sym;
	size_t off;
} curl_syms[] = {
    {"curl_global_init", offsetof(struct curl_api, global_init)},
    {"curl_global_cleanup", offsetof(struct curl_api, global_cleanup)},
    {"curl_easy_init", offsetof(struct curl_api, easy_init)},
    {"curl_easy_cleanup", offsetof(struct curl_api, easy_cleanup)},
    {"curl_easy_setopt", offsetof(struct curl_api, easy_setopt)},
    {"curl_easy_getinfo", offsetof(struct curl_api, easy_getinfo)},
    {"curl_easy_strerror", offsetof(struct curl_api, easy_strerror)},
    {"curl_multi_init", offsetof(struct curl_api, multi_init)},
    {"curl_multi_cleanup", offsetof(struct curl_api, multi_cleanup)},
    {"curl_multi_setopt", offsetof(struct curl_api, multi_setopt)},
    {"curl_multi_add_handle", offsetof(struct curl_api, multi_add_handle)},
    {"curl_multi_remove_handle",
        offsetof(struct curl_api, multi_remove_handle)},
    {"curl_multi_assign", offsetof(struct curl_api, multi_assign)},
    {"curl_multi_socket_action",
        offsetof(struct curl_api, multi_socket_action)},
    {"curl_multi_info_read", offsetof(struct curl_api, multi_info_read)},
    {"curl_multi_strerror", offsetof(struct curl_api, multi_strerror)},
    {"curl_slist_append", offsetof(struct curl_api, slist_append)},
    {"curl_slist_free_all", offsetof(struct curl_api, slist_free_all)},
    {"curl_url", offsetof(struct curl_api, url)},
    {"curl_url_cleanup", offsetof(struct curl_api, url_cleanup)},
    {"curl_url_set", offsetof(struct curl_api, url_set)},
    {"curl_url_get", offsetof(struct curl_api, url_get)},
    {"curl_url_strerror", offsetof(struct curl_api, url_strerror)},
    {"curl_free", offsetof(struct curl_api, free)},
    {"curl_getdate", offsetof(struct curl_api, getdate)},
};

static struct curl_api cu;            /* valid once curl_ok */
static bool curl_ok;                  /* every symbol resolved */
static char curl_why[HTTP_ERROR_LEN]; /* why not, when !curl_ok */
static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static const char *curl_soname = HTTP_CURL_SONAME;
static unsigned curl_inits; /* successful http_global_init calls */

/*
 * Loads libcurl and resolves every function of struct curl_api, or notes
 * why not. The library stays loaded until the process ends (libcurl and
 * its TLS library do not support being unloaded).
 */
static void
curl_load(void)
{
	struct curl_api api;
	const char *e;
	void *h, *f;
	size_t i;

	memset(&api, 0, sizeof(api));
	if ((h = dlopen(curl_soname, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		e = dlerror();
		snprintf(curl_why, sizeof(curl_why),
		    "libcurl not available: %s", e != NULL ? e : curl_soname);
		return;
	}
	for (i = 0; i < sizeof(curl_syms) / sizeof(curl_syms[0]); i++) {
		(void)dlerror();
		if ((f = dlsym(h, curl_syms[i].sym)) == NULL) {
			snprintf(curl_why, sizeof(curl_why),
			    "libcurl not available: %s has no %s (too old)",
			    curl_soname, curl_syms[i].sym);
			return; /* h stays: it may be in use elsewhere */
		}
		/* POSIX: a function pointer may be stored through void *. */
		memcpy((char *)&api + curl_syms[i].off, &f, sizeof(f));
	}
	cu = api;
	curl_ok = true;
}

/* 0 when libcurl is loaded (loading it the first time), else CT_ERR_IO. */
static int
curl_need(void)
{
	if (pthread_once(&curl_once, curl_load) != 0)
		return CT_ERR_IO;
	return curl_ok ? 0 : CT_ERR_IO;
}

void
http_curl_soname_for_tests(const char *soname)
{
	curl_soname = soname;
}

int
http_global_init(char *err, size_t errsz)
{
	CURLcode cc;

	if (err != NULL && errsz > 0)
		err[0] = '\0';
	if (curl_need() != 0) {
		if (err != NULL && errsz > 0)
			snprintf(err, errsz, "%s", curl_why);
		return CT_ERR_IO;
	}
	if ((cc = cu.global_init(CURL_GLOBAL_DEFAULT)) != CURLE_OK) {
		if (err != NULL && errsz > 0)
			snprintf(err, errsz, "libcurl did not initialise: %s",
			    cu.easy_strerror(cc));
		return cc == CURLE_OUT_OF_MEMORY ? CT_ERR_NOMEM : CT_ERR_IO;
	}
	curl_inits++;
	return 0;
}

void
http_global_cleanup(void)
{
	if (curl_inits == 0)
		return;
	curl_inits--;
	cu.global_cleanup();
}

const char *
http_client_error(void)
{
	if (curl_need() != 0)
		return curl_why;
	return "out of memory";
}

enum req_state {
	REQ_EARLY,   /* failed before starting; reported from the timer */
	REQ_RUNNING, /* the easy handle is in the multi handle */
	REQ_WAITING, /* between attempts: before the first, or before a retry */
	REQ_DONE
};

struct http_sock {
	uv_poll_t poll;
	struct http_client *c;
	curl_socket_t fd;
	struct http_sock *prev, *next;
};

struct http_req {
	struct http_client *c;
	struct http_req *prev, *next;
	bool linked; /* on c->reqs */
	enum req_state state;
	CURL *easy;
	struct curl_slist *headers;
	uv_timer_t timer;
	http_done_cb cb;
	void *arg;
	char *expect_type;
	char target[HTTP_TARGET_LEN];
	size_t max_body_bytes;
	uint32_t timeout_ms, connect_timeout_ms, retry_wait_ms;
	uint32_t attempt_connect_ms; /* connect limit of the current attempt */
	unsigned max_retries;
	uint64_t start_ns;
	uint64_t deadline_ms; /* on the uv_hrtime clock, in ms */
	struct util_buf body;
	bool over_cap;
	bool write_failed;
	bool have_response; /* the last attempt got a whole response */
	int64_t retry_after_s;
	struct ratelimit *rate; /* shared rate, or NULL */
	bool slot_ready;        /* the rate's slot for the next attempt */
	int early_status;
	char early_error[HTTP_ERROR_LEN];
	struct http_response resp;
	char errbuf[CURL_ERROR_SIZE];
};

struct http_client {
	uv_loop_t *loop;
	CURLM *multi;
	uv_timer_t timer;
	struct http_req *reqs;
	struct http_sock *socks;
	unsigned npending;
	unsigned open_handles;
	unsigned busy;
	bool closing;
	bool torn_down;
};

static void finish(struct http_req *, int, const char *, ...)
    __attribute__((format(printf, 3, 4)));
static void teardown(struct http_client *);

static uint64_t
now_ms(void)
{
	return uv_hrtime() / 1000000;
}

static void
maybe_free_client(struct http_client *c)
{
	if (c->torn_down && c->open_handles == 0)
		free(c);
}

static void
client_enter(struct http_client *c)
{
	c->busy++;
}

static void
client_leave(struct http_client *c)
{
	if (--c->busy == 0 && c->closing && !c->torn_down)
		teardown(c);
}

/* ------------------------------------------------------------ sockets */

static void
sock_closed(uv_handle_t *h)
{
	struct http_sock *s = h->data;
	struct http_client *c = s->c;

	free(s);
	c->open_handles--;
	maybe_free_client(c);
}

/* Stops watching s and closes its handle; curl keeps the socket itself. */
static void
sock_close(struct http_sock *s)
{
	struct http_client *c = s->c;

	uv_poll_stop(&s->poll);
	if (c->multi != NULL)
		cu.multi_assign(c->multi, s->fd, NULL);
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		c->socks = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	s->prev = s->next = NULL;
	uv_close((uv_handle_t *)&s->poll, sock_closed);
}

static void process_done(struct http_client *);

static void
poll_cb(uv_poll_t *h, int status, int events)
{
	struct http_sock *s = h->data;
	struct http_client *c = s->c;
	int flags = 0, running;

	if (status < 0)
		flags = CURL_CSELECT_ERR;
	else {
		if (events & UV_READABLE)
			flags |= CURL_CSELECT_IN;
		if (events & UV_WRITABLE)
			flags |= CURL_CSELECT_OUT;
	}
	client_enter(c);
	/* s may be closed by the socket callback from here on. */
	cu.multi_socket_action(c->multi, s->fd, flags, &running);
	process_done(c);
	client_leave(c);
}

/* CURLMOPT_SOCKETFUNCTION: 0, or -1 to abort the multi's transfers. */
static int
socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct http_client *c = userp;
	struct http_sock *s = socketp;
	int events = 0;

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		if (s != NULL)
			sock_close(s);
		return 0;
	}
	if (c->torn_down)
		return 0; /* curl_multi_cleanup closes what is left */
	if (s == NULL) {
		if ((s = calloc(1, sizeof(*s))) == NULL)
			return -1;
		if (uv_poll_init_socket(c->loop, &s->poll, fd) != 0) {
			free(s);
			return -1;
		}
		s->poll.data = s;
		s->c = c;
		s->fd = fd;
		c->open_handles++;
		if ((s->next = c->socks) != NULL)
			s->next->prev = s;
		c->socks = s;
		if (cu.multi_assign(c->multi, fd, s) != CURLM_OK) {
			sock_close(s);
			return -1;
		}
	}
	if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
		events |= UV_READABLE;
	if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
		events |= UV_WRITABLE;
	if (uv_poll_start(&s->poll, events, poll_cb) != 0)
		return -1;
	return 0;
}

/* ------------------------------------------------------------ timer */

static void
client_timer_cb(uv_timer_t *t)
{
	struct http_client *c = t->data;
	int running;

	client_enter(c);
	cu.multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	process_done(c);
	client_leave(c);
}

/*
 * CURLMOPT_TIMERFUNCTION. curl_multi_socket_action must not be called from
 * here, so even a zero timeout goes through the loop.
 */
static int
multi_timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct http_client *c = userp;

	(void)multi;
	if (timeout_ms < 0)
		uv_timer_stop(&c->timer);
	else if (uv_timer_start(&c->timer, client_timer_cb,
	             (uint64_t)timeout_ms, 0) != 0)
		return -1;
	return 0;
}

/* ------------------------------------------------------------ requests */

/* CURLOPT_WRITEFUNCTION: a short count stops the transfer at the cap. */
static size_t
write_cb(char *p, size_t size, size_t nmemb, void *userp)
{
	struct http_req *r = userp;
	size_t n = size * nmemb;
	int rc;

	if ((rc = util_buf_append(&r->body, p, n)) != 0) {
		if (rc == CT_ERR_TOO_BIG)
			r->over_cap = true;
		else
			r->write_failed = true;
		return 0;
	}
	return n;
}

/* Reads a Retry-After value: delay-seconds or an HTTP-date. */
static int64_t
parse_retry_after(const char *v, size_t n)
{
	char date[HTTP_DATE_LEN];
	uint64_t secs;
	time_t t;
	int64_t now;

	if (n > 0 && v[0] >= '0' && v[0] <= '9') {
		size_t i;

		for (i = 0; i < n; i++)
			if (v[i] < '0' || v[i] > '9')
				return -1;
		/* All digits: only a value over the clamp fails here. */
		if (util_parse_u64(v, n, HTTP_RETRY_AFTER_MAX_S, &secs) != 0)
			return HTTP_RETRY_AFTER_MAX_S;
		return (int64_t)secs;
	}
	if (n == 0 || n >= sizeof(date))
		return -1;
	memcpy(date, v, n);
	date[n] = '\0';
	if ((t = cu.getdate(date, NULL)) == -1)
		return -1;
	now = util_now();
	if ((int64_t)t <= now)
		return 0;
	if ((int64_t)t - now > HTTP_RETRY_AFTER_MAX_S)
		return HTTP_RETRY_AFTER_MAX_S;
	return (int64_t)t - now;
}

/* CURLOPT_HEADERFUNCTION: notes Retry-After of the latest response. */
static size_t
header_cb(char *p, size_t size, size_t nitems, void *userp)
{
	static const char name[] = "retry-after:";
	struct http_req *r = userp;
	size_t n = size * nitems, nl = sizeof(name) - 1, i, j;

	if (n >= 5 && memcmp(p, "HTTP/", 5) == 0) {
		r->retry_after_s = -1; /* a new response begins */
		return n;
	}
	if (n < nl || strncasecmp(p, name, nl) != 0)
		return n;
	i = nl;
	j = n;
	while (i < j && (p[i] == ' ' || p[i] == '\t'))
		i++;
	while (j > i &&
	    (p[j - 1] == '\r' || p[j - 1] == '\n' || p[j - 1] == ' ' ||
	        p[j - 1] == '\t'))
		j--;
	r->retry_after_s = parse_retry_after(p + i, j - i);
	return n;
}

static void
req_closed(uv_handle_t *h)
{
	struct http_req *r = h->data;
	struct http_client *c = r->c;

	free(r);
	c->open_handles--;
	maybe_free_client(c);
}

static void
unlink_req(struct http_req *r)
{
	struct http_client *c = r->c;

	if (!r->linked)
		return;
	if (r->prev != NULL)
		r->prev->next = r->next;
	else
		c->reqs = r->next;
	if (r->next != NULL)
		r->next->prev = r->prev;
	r->prev = r->next = NULL;
	r->linked = false;
}

static void
free_headers(struct curl_slist *l)
{
	struct curl_slist *h;

	for (h = l; h != NULL; h = h->next)
		util_zero(h->data, strlen(h->data));
	cu.slist_free_all(l);
}

/* Whether the callback gets the body with this status (see http.h). */
static bool
hands_body(const struct http_req *r, int status)
{
	if (r->over_cap)
		return false;
	if (status == 0)
		return true;
	return r->have_response &&
	    (status == CT_ERR_PROTO || status == CT_ERR_FORMAT);
}

/*
 * Completes r: detaches it from curl and the loop, calls the callback once
 * and releases everything (the memory itself in the timer's close
 * callback). status 0 hands over the body; CT_ERR_PROTO and CT_ERR_FORMAT
 * hand it over when a response arrived.
 */
static void
finish(struct http_req *r, int status, const char *fmt, ...)
{
	struct http_client *c = r->c;
	struct http_response *resp = &r->resp;
	char msg[HTTP_ERROR_LEN];
	va_list ap;
	int n;

	if (r->state == REQ_DONE)
		return;
	if (r->state == REQ_RUNNING && c->multi != NULL)
		cu.multi_remove_handle(c->multi, r->easy);
	uv_timer_stop(&r->timer);
	r->state = REQ_DONE;
	unlink_req(r);
	c->npending--;

	resp->status = status;
	resp->error[0] = '\0';
	if (status != 0 && fmt != NULL) {
		va_start(ap, fmt);
		n = vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
		if (n > 0)
			util_sanitize(msg, strlen(msg), resp->error,
			    sizeof(resp->error));
	}
	if (hands_body(r, status) && util_buf_cstr(&r->body) == 0)
		resp->body = util_buf_take(&r->body, &resp->len);
	else if (status == 0) {
		/* No room for the NUL: report it rather than a NULL body. */
		resp->status = CT_ERR_NOMEM;
		snprintf(resp->error, sizeof(resp->error), "out of memory");
	}
	util_buf_clear(&r->body);
	resp->total_s = (double)(uv_hrtime() - r->start_ns) / 1e9;

	r->cb(resp, r->arg);

	free(resp->body);
	resp->body = NULL;
	if (r->easy != NULL)
		cu.easy_cleanup(r->easy);
	r->easy = NULL;
	free_headers(r->headers);
	r->headers = NULL;
	free(r->expect_type);
	r->expect_type = NULL;
	uv_close((uv_handle_t *)&r->timer, req_closed);
}

/* Starts one attempt within what is left of the deadline. */
static void
attempt_start(struct http_req *r)
{
	struct http_client *c = r->c;
	uint64_t now = now_ms(), left;
	CURLcode cc = CURLE_OK;
	CURLMcode mc;

	if (now >= r->deadline_ms) {
		finish(r, CT_ERR_TIMEOUT, "timed out after %u ms",
		    r->timeout_ms);
		return;
	}
	left = r->deadline_ms - now;
	r->attempt_connect_ms = r->connect_timeout_ms < left
	    ? r->connect_timeout_ms
	    : (uint32_t)left;
	util_buf_clear(&r->body);
	r->over_cap = r->write_failed = r->have_response = false;
	r->retry_after_s = -1;
	r->errbuf[0] = '\0';
	cc = cu.easy_setopt(r->easy, CURLOPT_TIMEOUT_MS, (long)left);
	if (cc == CURLE_OK)
		cc = cu.easy_setopt(r->easy, CURLOPT_CONNECTTIMEOUT_MS,
		    (long)r->attempt_connect_ms);
	if (cc != CURLE_OK) {
		finish(r, CT_ERR_INVALID, "curl rejected a timeout: %s",
		    cu.easy_strerror(cc));
		return;
	}
	if ((mc = cu.multi_add_handle(c->multi, r->easy)) != CURLM_OK) {
		finish(r, mc == CURLM_OUT_OF_MEMORY ? CT_ERR_NOMEM : CT_ERR_IO,
		    "cannot start the request: %s", cu.multi_strerror(mc));
		return;
	}
	r->state = REQ_RUNNING;
	r->resp.attempts++;
}

static void req_timer_cb(uv_timer_t *t);

/*
 * Before each attempt: a slot of the shared rate (when the request has
 * one), waited for on the request's timer. A slot beyond the deadline is
 * not taken, and the request ends unsent.
 */
static void
attempt_when_allowed(struct http_req *r)
{
	uint64_t now = now_ms(), left, wait = 0;

	if (r->rate == NULL || r->slot_ready) {
		r->slot_ready = false;
		attempt_start(r);
		return;
	}
	left = r->deadline_ms > now ? r->deadline_ms - now : 0;
	left =
	    left > HTTP_RETRY_MIN_LEFT_MS ? left - HTTP_RETRY_MIN_LEFT_MS : 0;
	if (ratelimit_take(r->rate, util_now_ms(), left, &wait) != 0) {
		finish(r, CT_ERR_TIMEOUT,
		    "not sent to %s: the shared limit of %u request%s a minute "
		    "is used up for the next %llu s (other runs on this state "
		    "directory)",
		    r->target, r->rate->per_minute,
		    r->rate->per_minute == 1 ? "" : "s",
		    (unsigned long long)(wait + 999) / 1000);
		return;
	}
	if (wait == 0) {
		attempt_start(r);
		return;
	}
	r->slot_ready = true;
	if (uv_timer_start(&r->timer, req_timer_cb, wait, 0) != 0)
		finish(r, CT_ERR_IO, "cannot schedule the request");
}

static void
req_timer_cb(uv_timer_t *t)
{
	struct http_req *r = t->data;
	struct http_client *c = r->c;

	client_enter(c);
	if (r->state == REQ_EARLY)
		finish(r, r->early_status, "%s", r->early_error);
	else if (r->state == REQ_WAITING)
		attempt_when_allowed(r);
	client_leave(c);
}

static bool
retryable(long code)
{
	return code == 429 || code == 502 || code == 503 || code == 504;
}

/* True when the Content-Type's media type is want (case-insensitive). */
static bool
type_matches(const char *ctype, const char *want)
{
	size_t n = strcspn(ctype, ";");

	while (n > 0 && (ctype[n - 1] == ' ' || ctype[n - 1] == '\t'))
		n--;
	return n == strlen(want) && strncasecmp(ctype, want, n) == 0;
}

/* A response with an HTTP status arrived (its body may be over the cap). */
static void
status_done(struct http_req *r)
{
	struct http_response *resp = &r->resp;
	long code = resp->http_code;
	uint64_t wait_ms, left, now = now_ms();

	if (code >= 200 && code < 300) {
		if (r->over_cap)
			finish(r, CT_ERR_TOO_BIG, "body over %zu bytes",
			    r->max_body_bytes);
		else if (r->expect_type != NULL &&
		    !type_matches(resp->content_type, r->expect_type))
			finish(r, CT_ERR_FORMAT,
			    "expected %s, got %s (HTTP %ld)", r->expect_type,
			    resp->content_type[0] != '\0' ? resp->content_type
			                                  : "no Content-Type",
			    code);
		else
			finish(r, 0, NULL);
		return;
	}
	if (!retryable(code) || (unsigned)resp->attempts > r->max_retries) {
		if (code >= 300 && code < 400)
			finish(r, CT_ERR_PROTO,
			    "HTTP %ld (redirects are not followed)", code);
		else if (resp->attempts > 1)
			finish(r, CT_ERR_PROTO, "HTTP %ld after %d attempts",
			    code, resp->attempts);
		else
			finish(r, CT_ERR_PROTO, "HTTP %ld", code);
		return;
	}
	wait_ms = r->retry_after_s >= 0 ? (uint64_t)r->retry_after_s * 1000
	                                : r->retry_wait_ms;
	/* Over its limit, the server holds off every run that shares the
	 * rate, not only this request's retry. */
	if (r->rate != NULL && (code == 429 || code == 503))
		ratelimit_block(r->rate, util_now_ms(), wait_ms);
	left = r->deadline_ms > now ? r->deadline_ms - now : 0;
	if (wait_ms + HTTP_RETRY_MIN_LEFT_MS > left) {
		if (r->retry_after_s >= 0)
			finish(r, CT_ERR_PROTO,
			    "HTTP %ld, Retry-After %lld s does not fit the "
			    "remaining %llu ms",
			    code, (long long)r->retry_after_s,
			    (unsigned long long)left);
		else
			finish(r, CT_ERR_PROTO,
			    "HTTP %ld, no time left to retry", code);
		return;
	}
	util_buf_clear(&r->body);
	r->state = REQ_WAITING;
	if (uv_timer_start(&r->timer, req_timer_cb, wait_ms, 0) != 0)
		finish(r, CT_ERR_IO, "HTTP %ld, cannot schedule a retry", code);
}

/* Maps a transfer failure to a ct_err and a message. */
static void
transfer_failed(struct http_req *r, CURLcode res)
{
	const char *detail =
	    r->errbuf[0] != '\0' ? r->errbuf : cu.easy_strerror(res);
	curl_off_t pre = 0;
	long oserr = 0;

	switch (res) {
	case CURLE_OPERATION_TIMEDOUT:
		cu.easy_getinfo(r->easy, CURLINFO_PRETRANSFER_TIME_T, &pre);
		if (pre == 0 && r->attempt_connect_ms < r->timeout_ms &&
		    now_ms() < r->deadline_ms)
			finish(r, CT_ERR_TIMEOUT,
			    "connecting to %s timed out after %u ms", r->target,
			    r->attempt_connect_ms);
		else
			finish(r, CT_ERR_TIMEOUT, "timed out after %u ms",
			    r->timeout_ms);
		break;
	case CURLE_COULDNT_CONNECT:
		cu.easy_getinfo(r->easy, CURLINFO_OS_ERRNO, &oserr);
		if (oserr == ECONNREFUSED)
			finish(r, CT_ERR_IO, "connection refused to %s",
			    r->target);
		else
			finish(r, CT_ERR_IO, "cannot connect to %s: %s",
			    r->target,
			    oserr != 0 ? strerror((int)oserr) : detail);
		break;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		finish(r, CT_ERR_IO, "cannot resolve %s: %s", r->target,
		    detail);
		break;
	case CURLE_GOT_NOTHING:
		finish(r, CT_ERR_CLOSED,
		    "%s closed the connection without a response", r->target);
		break;
	case CURLE_PARTIAL_FILE:
		finish(r, CT_ERR_TRUNCATED, "response from %s cut short: %s",
		    r->target, detail);
		break;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_CACERT_BADFILE:
		finish(r, CT_ERR_AUTH, "TLS certificate of %s not accepted: %s",
		    r->target, detail);
		break;
	case CURLE_SSL_CONNECT_ERROR:
		finish(r, CT_ERR_PROTO, "TLS handshake with %s failed: %s",
		    r->target, detail);
		break;
	case CURLE_BAD_CONTENT_ENCODING:
		finish(r, CT_ERR_FORMAT, "bad Content-Encoding from %s: %s",
		    r->target, detail);
		break;
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_WEIRD_SERVER_REPLY:
	case CURLE_UNSUPPORTED_PROTOCOL:
		finish(r, CT_ERR_PROTO, "protocol error with %s: %s", r->target,
		    detail);
		break;
	case CURLE_OUT_OF_MEMORY:
		finish(r, CT_ERR_NOMEM, "out of memory");
		break;
	case CURLE_WRITE_ERROR:
		if (r->write_failed) {
			finish(r, CT_ERR_NOMEM, "out of memory for the body");
			break;
		}
		/* FALLTHROUGH */
	default:
		finish(r, CT_ERR_IO, "%s: %s", r->target, detail);
		break;
	}
}

/* CURLINFO_HTTP_VERSION as 10, 11, 20, or 0. */
static int
version_number(long ver)
{
	switch (ver) {
	case CURL_HTTP_VERSION_1_0:
		return 10;
	case CURL_HTTP_VERSION_1_1:
		return 11;
	case CURL_HTTP_VERSION_2_0:
		return 20;
	default:
		return 0;
	}
}

/* One transfer of r ended with res. */
static void
attempt_done(struct http_req *r, CURLcode res)
{
	struct http_client *c = r->c;
	struct http_response *resp = &r->resp;
	const char *ctype = NULL;
	long code = 0, ver = 0;

	cu.multi_remove_handle(c->multi, r->easy);
	r->state = REQ_WAITING;
	cu.easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &code);
	cu.easy_getinfo(r->easy, CURLINFO_HTTP_VERSION, &ver);
	resp->http_code = code;
	resp->http_version = version_number(ver);
	resp->retry_after_s = r->retry_after_s;
	resp->content_type[0] = '\0';
	if (cu.easy_getinfo(r->easy, CURLINFO_CONTENT_TYPE, &ctype) != 0)
		ctype = NULL;
	if (ctype != NULL)
		util_sanitize(ctype, strlen(ctype), resp->content_type,
		    sizeof(resp->content_type));

	/*
	 * A body over the cap ends the transfer with a write error; the
	 * status still decides (a 503 with a huge page is a 503).
	 */
	if (code != 0 &&
	    (res == CURLE_OK || (res == CURLE_WRITE_ERROR && r->over_cap))) {
		r->have_response = true;
		status_done(r);
	} else
		transfer_failed(r, res);
}

/* Collects finished transfers; their callbacks may re-enter the client. */
static void
process_done(struct http_client *c)
{
	struct http_req *r;
	CURLMsg *msg;
	CURLcode res;
	CURL *easy;
	int left;

	while (c->multi != NULL &&
	    (msg = cu.multi_info_read(c->multi, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		easy = msg->easy_handle;
		res = msg->data.result;
		r = NULL;
		if (cu.easy_getinfo(easy, CURLINFO_PRIVATE, &r) != CURLE_OK ||
		    r == NULL || r->state != REQ_RUNNING)
			continue;
		attempt_done(r, res);
	}
}

/* ------------------------------------------------------------ setup */

/* Builds the easy handle; returns 0 or a ct_err with msg set. */
static int
easy_setup(struct http_req *r, const struct http_request *req,
    const char *scheme, char *msg, size_t msgsz)
{
	CURLcode cc = CURLE_OK;
	struct curl_slist *l;
	CURL *e;
	size_t i;

	if ((r->easy = e = cu.easy_init()) == NULL) {
		snprintf(msg, msgsz, "out of memory");
		return CT_ERR_NOMEM;
	}
	for (i = 0; i < req->nheaders; i++) {
		if ((l = cu.slist_append(r->headers, req->headers[i])) ==
		    NULL) {
			snprintf(msg, msgsz, "out of memory");
			return CT_ERR_NOMEM;
		}
		r->headers = l;
	}

#define SET(opt, val)                                                          \
	do {                                                                   \
		if (cc == CURLE_OK)                                            \
			cc = cu.easy_setopt(e, opt, val);                      \
	} while (0)
	SET(CURLOPT_PRIVATE, (void *)r);
	SET(CURLOPT_URL, req->url);
	SET(CURLOPT_PROTOCOLS_STR, req->allow_http ? "http,https" : "https");
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	SET(CURLOPT_HTTPGET, 1L);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_ACCEPT_ENCODING, "");
	SET(CURLOPT_USERAGENT, HTTP_USER_AGENT);
	SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
	/* Wait to share an HTTP/2 connection; HTTP/1.1 would serialise. */
	SET(CURLOPT_PIPEWAIT, strcmp(scheme, "https") == 0 ? 1L : 0L);
	SET(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	SET(CURLOPT_SSL_VERIFYPEER, 1L);
	SET(CURLOPT_SSL_VERIFYHOST, 2L);
	if (req->ca_file != NULL)
		SET(CURLOPT_CAINFO, req->ca_file);
	if (r->headers != NULL)
		SET(CURLOPT_HTTPHEADER, r->headers);
	SET(CURLOPT_WRITEFUNCTION, write_cb);
	SET(CURLOPT_WRITEDATA, (void *)r);
	SET(CURLOPT_HEADERFUNCTION, header_cb);
	SET(CURLOPT_HEADERDATA, (void *)r);
	SET(CURLOPT_ERRORBUFFER, r->errbuf);
#undef SET
	if (cc != CURLE_OK) {
		snprintf(msg, msgsz, "curl rejected an option: %s",
		    cu.easy_strerror(cc));
		return cc == CURLE_OUT_OF_MEMORY ? CT_ERR_NOMEM
		                                 : CT_ERR_INVALID;
	}
	return 0;
}

/*
 * Checks the URL and notes "host:port" for messages. Returns 0 or a
 * ct_err with msg set. The URL itself is not quoted: it may carry a key.
 */
static int
url_check(struct http_req *r, const struct http_request *req, char *scheme,
    size_t schemesz, char *msg, size_t msgsz)
{
	char *sch = NULL, *host = NULL, *port = NULL;
	CURLUcode uc;
	CURLU *u;
	int rc = CT_ERR_INVALID;

	if ((u = cu.url()) == NULL) {
		snprintf(msg, msgsz, "out of memory");
		return CT_ERR_NOMEM;
	}
	if ((uc = cu.url_set(u, CURLUPART_URL, req->url, 0)) != CURLUE_OK ||
	    (uc = cu.url_get(u, CURLUPART_SCHEME, &sch, 0)) != CURLUE_OK ||
	    (uc = cu.url_get(u, CURLUPART_HOST, &host, 0)) != CURLUE_OK ||
	    (uc = cu.url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT)) !=
	        CURLUE_OK) {
		snprintf(msg, msgsz, "malformed URL: %s", cu.url_strerror(uc));
		goto out;
	}
	snprintf(r->target, sizeof(r->target), "%s:%s", host, port);
	snprintf(scheme, schemesz, "%s", sch);
	if (strcmp(sch, "https") != 0 &&
	    !(req->allow_http && strcmp(sch, "http") == 0)) {
		snprintf(msg, msgsz, "URL scheme %s not allowed (%s only)", sch,
		    req->allow_http ? "http and https" : "https");
		goto out;
	}
	rc = 0;
out:
	cu.free(sch);
	cu.free(host);
	cu.free(port);
	cu.url_cleanup(u);
	return rc;
}

void
http_request_init(struct http_request *req)
{
	memset(req, 0, sizeof(*req));
	req->max_body_bytes = HTTP_MAX_BODY_BYTES;
	req->timeout_ms = HTTP_TIMEOUT_MS;
	req->connect_timeout_ms = HTTP_CONNECT_TIMEOUT_MS;
	req->max_retries = HTTP_MAX_RETRIES;
	req->retry_wait_ms = HTTP_RETRY_WAIT_MS;
}

struct http_client *
http_client_new(uv_loop_t *loop)
{
	struct http_client *c;
	CURLMcode mc = CURLM_OK;

	if (loop == NULL || curl_need() != 0 ||
	    (c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->loop = loop;
	if ((c->multi = cu.multi_init()) == NULL) {
		free(c);
		return NULL;
	}
	mc = cu.multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
	if (mc == CURLM_OK)
		mc = cu.multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
	if (mc == CURLM_OK)
		mc = cu.multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION,
		    multi_timer_cb);
	if (mc == CURLM_OK)
		mc = cu.multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
	if (mc == CURLM_OK)
		mc = cu.multi_setopt(c->multi, CURLMOPT_PIPELINING,
		    (long)CURLPIPE_MULTIPLEX);
	if (mc != CURLM_OK || uv_timer_init(loop, &c->timer) != 0) {
		cu.multi_cleanup(c->multi);
		free(c);
		return NULL;
	}
	c->timer.data = c;
	c->open_handles = 1;
	return c;
}

int
http_get(struct http_client *c, const struct http_request *req, http_done_cb cb,
    void *arg)
{
	char scheme[16], msg[HTTP_ERROR_LEN];
	struct http_req *r;
	int rc;

	if (c == NULL || req == NULL || cb == NULL || req->url == NULL ||
	    c->closing || req->timeout_ms == 0 || req->max_body_bytes == 0 ||
	    req->connect_timeout_ms == 0 || req->nheaders > HTTP_MAX_HEADERS ||
	    (req->nheaders > 0 && req->headers == NULL))
		return CT_ERR_INVALID;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return CT_ERR_NOMEM;
	if (req->expect_type != NULL &&
	    (r->expect_type = strdup(req->expect_type)) == NULL) {
		free(r);
		return CT_ERR_NOMEM;
	}
	if (uv_timer_init(c->loop, &r->timer) != 0) {
		free(r->expect_type);
		free(r);
		return CT_ERR_NOMEM;
	}
	r->timer.data = r;
	c->open_handles++;
	r->c = c;
	r->cb = cb;
	r->arg = arg;
	r->max_body_bytes = req->max_body_bytes;
	r->timeout_ms = req->timeout_ms;
	r->connect_timeout_ms = req->connect_timeout_ms;
	r->retry_wait_ms = req->retry_wait_ms;
	r->max_retries = req->max_retries;
	r->start_ns = uv_hrtime();
	r->deadline_ms = r->start_ns / 1000000 + req->timeout_ms;
	r->retry_after_s = -1;
	r->resp.retry_after_s = -1;
	r->rate = req->rate;
	util_buf_init(&r->body, req->max_body_bytes);
	snprintf(r->target, sizeof(r->target), "?");
	if ((r->next = c->reqs) != NULL)
		r->next->prev = r;
	c->reqs = r;
	r->linked = true;
	c->npending++;

	scheme[0] = '\0';
	if ((rc = url_check(r, req, scheme, sizeof(scheme), msg,
	         sizeof(msg))) != 0 ||
	    (rc = easy_setup(r, req, scheme, msg, sizeof(msg))) != 0) {
		/* Reported from the loop, as every other outcome. */
		r->state = REQ_EARLY;
		r->early_status = rc;
		snprintf(r->early_error, sizeof(r->early_error), "%s", msg);
		if (uv_timer_start(&r->timer, req_timer_cb, 0, 0) != 0)
			goto undo;
		return 0;
	}
	/* The first attempt also starts from the loop (the timer is 0). */
	r->state = REQ_WAITING;
	if (uv_timer_start(&r->timer, req_timer_cb, 0, 0) != 0)
		goto undo;
	return 0;

undo:
	/* Only when uv_timer_start fails, which it does not for timers. */
	unlink_req(r);
	c->npending--;
	if (r->easy != NULL)
		cu.easy_cleanup(r->easy);
	free_headers(r->headers);
	free(r->expect_type);
	r->state = REQ_DONE;
	uv_close((uv_handle_t *)&r->timer, req_closed);
	return CT_ERR_IO;
}

unsigned
http_client_pending(const struct http_client *c)
{
	return c != NULL ? c->npending : 0;
}

/* Completes every request pending now; see http_client_cancel_all. */
static void
cancel_list(struct http_client *c, const char *why)
{
	struct http_req *list = c->reqs, *r;

	/* Detach them, so callbacks that start requests do not extend it. */
	c->reqs = NULL;
	for (r = list; r != NULL; r = r->next)
		r->linked = false;
	while ((r = list) != NULL) {
		list = r->next;
		r->next = r->prev = NULL;
		finish(r, CT_ERR_TIMEOUT, "cancelled after %llu ms (%s)",
		    (unsigned long long)((uv_hrtime() - r->start_ns) / 1000000),
		    why);
	}
}

void
http_client_cancel_all(struct http_client *c)
{
	if (c == NULL || c->torn_down)
		return;
	client_enter(c);
	cancel_list(c, "run deadline");
	client_leave(c);
}

static void
client_timer_closed(uv_handle_t *h)
{
	struct http_client *c = h->data;

	c->open_handles--;
	maybe_free_client(c);
}

/*
 * Releases curl and closes the handles once no callback is running. The
 * polls are closed before curl closes its sockets, so libuv never watches
 * a descriptor number that may be reused.
 */
static void
teardown(struct http_client *c)
{
	c->torn_down = true;
	while (c->socks != NULL)
		sock_close(c->socks);
	cu.multi_cleanup(c->multi);
	c->multi = NULL;
	uv_close((uv_handle_t *)&c->timer, client_timer_closed);
}

void
http_client_free(struct http_client *c)
{
	if (c == NULL || c->closing)
		return;
	c->closing = true;
	client_enter(c);
	cancel_list(c, "client closed");
	client_leave(c);
}

uint8_t *
http_response_take_body(struct http_response *resp, size_t *len)
{
	uint8_t *p = resp->body;

	if (len != NULL)
		*len = resp->len;
	resp->body = NULL;
	resp->len = 0;
	return p;
}
