/*
 * http: HTTP GET client on libcurl's multi interface, driven by a libuv
 * loop, so that every request of one check_ct run (crt.sh, Cert Spotter,
 * ...) proceeds concurrently on the run's single loop.
 *
 * libcurl is loaded on first use (dlopen of HTTP_CURL_SONAME), not linked,
 * so programs and commands that never speak HTTP do not pay for loading it
 * and its dependencies at every start.
 *
 * Life cycle:
 *
 *	http_global_init(err, sizeof(err));	once, in main()
 *	c = http_client_new(loop);
 *	http_request_init(&req); req.url = ...; http_get(c, &req, cb, arg);
 *	uv_run(loop, UV_RUN_DEFAULT);		callbacks fire
 *	http_client_cancel_all(c);		at the run's deadline, if needed
 *	http_client_free(c);			cancels what is left, closes
 *	uv_run(loop, UV_RUN_DEFAULT);		lets the close callbacks run
 *	uv_loop_close(loop);			now returns 0
 *	http_global_cleanup();			once, at exit
 *
 * The client keeps no handle active while nothing is pending, so uv_run
 * returns once every request has completed (unless other handles keep the
 * loop alive). The program must ignore SIGPIPE (libuv does not).
 *
 * Nothing here prints or logs; request headers (which may carry a bearer
 * token) never appear in error texts.
 */
#ifndef CT_HTTP_H
#define CT_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#ifndef CT_VERSION
#define CT_VERSION "0.1"
#endif
#define HTTP_USER_AGENT "ct-monitor/" CT_VERSION
/* The libcurl loaded at run time (Debian's libcurl4). */
#define HTTP_CURL_SONAME "libcurl.so.4"

/* Defaults set by http_request_init. */
#define HTTP_MAX_BODY_BYTES (8 * 1024 * 1024) /* decoded body cap */
#define HTTP_TIMEOUT_MS 30000                 /* whole request, retries too */
#define HTTP_CONNECT_TIMEOUT_MS 10000         /* TCP + TLS set-up */
#define HTTP_MAX_RETRIES 1                    /* for 429, 502, 503, 504 */
#define HTTP_RETRY_WAIT_MS 1000               /* when there is no Retry-After */

/* A retry must leave at least this much of the deadline after its wait. */
#define HTTP_RETRY_MIN_LEFT_MS 250
/* Retry-After values are clamped to this (a week). */
#define HTTP_RETRY_AFTER_MAX_S (7 * 86400)
#define HTTP_MAX_HEADERS 32
#define HTTP_CONTENT_TYPE_LEN 128
#define HTTP_ERROR_LEN 256

struct ratelimit;

/*
 * One GET. http_get copies everything it needs, so the request and the
 * strings it points to may be released as soon as http_get returns.
 */
struct http_request {
	const char *url;             /* https://... (http:// with allow_http) */
	const char *const *headers;  /* "Name: value" lines; never logged */
	size_t nheaders;             /* at most HTTP_MAX_HEADERS */
	size_t max_body_bytes;       /* cap on the decoded body */
	uint32_t timeout_ms;         /* whole request: attempts and waits */
	uint32_t connect_timeout_ms; /* per attempt, TCP and TLS set-up */
	unsigned max_retries;        /* extra attempts on 429/502/503/504 */
	uint32_t retry_wait_ms;      /* wait when there is no Retry-After */
	bool allow_http;             /* permit plain http (loopback tests) */
	const char *ca_file;         /* PEM trust anchors; NULL: system */
	const char *expect_type;     /* media type a 2xx must have, or NULL */
	/*
	 * A rate shared with other processes (ratelimit.h), or NULL: each
	 * attempt waits for a slot; a slot beyond the deadline ends the
	 * request unsent (CT_ERR_TIMEOUT, "not sent to ..."); a 429 or 503
	 * blocks the rate for its Retry-After. Not copied: it must outlive
	 * the request.
	 */
	struct ratelimit *rate;
};

/*
 * The outcome, passed to the done callback and valid only during it.
 *
 * status is 0 for a 2xx response (of the expected media type), else:
 *   CT_ERR_TIMEOUT   the deadline passed, or the request was cancelled
 *   CT_ERR_TOO_BIG   the decoded body passed max_body_bytes
 *   CT_ERR_IO        connection refused, DNS failure, send/receive error
 *   CT_ERR_CLOSED    the server closed the connection without a response
 *   CT_ERR_TRUNCATED the body ended early
 *   CT_ERR_AUTH      the server's TLS certificate was not accepted
 *   CT_ERR_PROTO     an HTTP status other than 2xx (http_code says which;
 *                    429/502/503/504 only once retries are spent or the
 *                    wait would not fit the deadline), TLS or HTTP/2
 *                    protocol failure
 *   CT_ERR_FORMAT    a 2xx body that is not of expect_type, or a bad
 *                    Content-Encoding
 *   CT_ERR_INVALID   a malformed URL or a scheme that is not allowed
 *   CT_ERR_NOMEM     out of memory
 * error then holds one sanitised line a person can act on ("connection
 * refused to 127.0.0.1:8443", "HTTP 503 after 2 attempts").
 *
 * body is set (NUL-terminated, the NUL not counted in len) when a whole
 * response arrived: always for status 0, and for CT_ERR_PROTO or
 * CT_ERR_FORMAT with an HTTP status, so an API's error message can be
 * read. It is freed after the callback unless taken with
 * http_response_take_body.
 */
struct http_response {
	int status;
	long http_code;   /* last HTTP status; 0 when none arrived */
	int http_version; /* 10, 11, 20, or 0 when unknown */
	uint8_t *body;
	size_t len;
	char content_type[HTTP_CONTENT_TYPE_LEN]; /* sanitised, "" if none */
	int64_t retry_after_s;      /* last Retry-After in seconds, -1: none */
	char error[HTTP_ERROR_LEN]; /* "" when status is 0 */
	int attempts;               /* requests sent (0 if none was) */
	double total_s;             /* from http_get to the callback */
};

typedef void (*http_done_cb)(struct http_response *resp, void *arg);

struct http_client;

/* http.c */

/*
 * Loads libcurl (the first time) and runs curl_global_init: call it once
 * from main() while the program has one thread. 0, or CT_ERR_IO when
 * libcurl cannot be loaded or initialised (CT_ERR_NOMEM for memory), with
 * err (errsz bytes; may be NULL) set to one line such as "libcurl not
 * available: libcurl.so.4: cannot open shared object file".
 */
int http_global_init(char *err, size_t errsz);
/* Undoes one successful http_global_init; does nothing without one. */
void http_global_cleanup(void);

/* Fills in the defaults above; url and the optional fields are NULL. */
void http_request_init(struct http_request *req);

/*
 * A client on loop (loading libcurl if no http_global_init did). Returns
 * NULL when libcurl cannot be loaded, or memory or libcurl's multi handle
 * cannot be had; http_client_error then says which.
 */
struct http_client *http_client_new(uv_loop_t *loop);
/* Why http_client_new failed: "libcurl not available: ..." or
 * "out of memory". */
const char *http_client_error(void);
/* Tests only: the library name to load instead of HTTP_CURL_SONAME, set
 * before anything loads libcurl. */
void http_curl_soname_for_tests(const char *soname);

/*
 * Starts a GET. Returns 0 when the request was accepted: cb then fires
 * exactly once, from the loop and never from inside http_get, whatever
 * happens (a malformed URL or a refused scheme included). Returns
 * CT_ERR_INVALID (NULL argument, zero timeout or cap, too many headers,
 * client being freed), CT_ERR_NOMEM, or CT_ERR_IO (the loop refused a
 * timer), and then cb never fires.
 * Callbacks may start new requests, cancel, or free the client.
 */
int http_get(struct http_client *c, const struct http_request *req,
    http_done_cb cb, void *arg);

/* Requests started and not yet completed. */
unsigned http_client_pending(const struct http_client *c);

/*
 * For the run's deadline: completes every pending request at once with
 * CT_ERR_TIMEOUT ("cancelled after N ms"); each callback fires once,
 * before this returns. Requests started by those callbacks are left
 * running. The client stays usable.
 */
void http_client_cancel_all(struct http_client *c);

/*
 * Cancels what is pending (as above), then closes the client's handles.
 * The memory is released by the close callbacks, so the caller runs the
 * loop afterwards (uv_run(loop, UV_RUN_DEFAULT)) before uv_loop_close.
 * Accepts NULL. Call it once; it may be called from a done callback.
 */
void http_client_free(struct http_client *c);

/* Hands the body to the caller, who frees it; resp->body becomes NULL. */
uint8_t *http_response_take_body(struct http_response *resp, size_t *len);

#endif
