/*
 * fixture_httpd: a small HTTP/1.1 server for unit tests, on the test's
 * libuv loop, listening on 127.0.0.1 with an ephemeral port. It serves
 * canned responses chosen by the request target (path and query, exactly
 * as sent), with a status, extra headers and an optional delay, counts
 * requests per target, and keeps the last request head of each target so
 * a test can look at the headers that were sent.
 *
 *	s = fixture_httpd_start(&loop);
 *	fixture_httpd_add(s, "/?d=1", 200, "Content-Type: x\r\n", body, n, 0);
 *	fixture_httpd_url(s, "", base, sizeof(base));   "http://127.0.0.1:N"
 *	... run the client on the loop ...
 *	fixture_httpd_stop(s);		closes its handles (from a callback)
 *	uv_run(&loop, UV_RUN_DEFAULT);	lets the close callbacks run
 *	fixture_httpd_free(s);
 *
 * Several responses added for one target are served in turn; the last one
 * repeats. A target with no response gets a 404. Keep-alive connections
 * are served one request at a time. Nothing here prints.
 */
#ifndef CT_FIXTURE_HTTPD_H
#define CT_FIXTURE_HTTPD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#define FIXTURE_HTTPD_MAX_HEAD_BYTES 8192 /* a request head */
#define FIXTURE_HTTPD_MAX_TARGET_BYTES 2048

struct fixture_httpd;

/*
 * Listens on 127.0.0.1:0. NULL when out of memory or the loop refuses a
 * handle; when binding or listening fails the server is returned already
 * stopped, with port 0 (run the loop, then free it).
 */
struct fixture_httpd *fixture_httpd_start(uv_loop_t *loop);
int fixture_httpd_port(const struct fixture_httpd *s);
/* "http://127.0.0.1:<port><path>" into out. */
void fixture_httpd_url(const struct fixture_httpd *s, const char *path,
    char *out, size_t outsz);

/*
 * Adds a response for target. headers: extra header lines, each ending in
 * "\r\n", or NULL (Content-Length is always sent). body is copied.
 * delay_ms > 0 delays the answer. Returns 0 or -1 (no memory).
 */
int fixture_httpd_add(struct fixture_httpd *s, const char *target, int status,
    const char *headers, const void *body, size_t len, uint32_t delay_ms);
/* As fixture_httpd_add with a NUL-terminated body. */
int fixture_httpd_add_str(struct fixture_httpd *s, const char *target,
    int status, const char *headers, const char *body);

/* Requests for target so far. */
unsigned fixture_httpd_hits(const struct fixture_httpd *s, const char *target);
/* All requests, and those that had no response (404). */
unsigned fixture_httpd_total(const struct fixture_httpd *s);
unsigned fixture_httpd_unmatched(const struct fixture_httpd *s);
/* The target of the last unmatched request, or "". */
const char *fixture_httpd_last_unmatched(const struct fixture_httpd *s);
/* The most requests being answered at once (delays make this useful). */
unsigned fixture_httpd_max_busy(const struct fixture_httpd *s);
/* The head of the last request for target (request line + headers), or
 * NULL when none came. */
const char *fixture_httpd_last_head(const struct fixture_httpd *s,
    const char *target);
/* Forgets the counters and heads (not the responses). */
void fixture_httpd_reset_counts(struct fixture_httpd *s);

/* Closes the listener and every connection; run the loop afterwards. */
void fixture_httpd_stop(struct fixture_httpd *s);
/* Frees s after fixture_httpd_stop and the loop run. Accepts NULL. */
void fixture_httpd_free(struct fixture_httpd *s);

#endif
