/*
 * certspotter: the Cert Spotter API source (REFERENCE.md 1.10).
 *
 * GET <base>/v1/issuances?domain=<name>[&include_subdomains=true]
 *     &match_wildcards=true&expand=dns_names&expand=issuer&expand=cert
 *     [&expired=true][&after=<cursor>]
 * with "Authorization: Bearer <token>" when a token is given. The answer
 * is a JSON array of issuances in discovery order; the driver pages with
 * after=<last id> until an empty array comes back, at most max_pages
 * pages per run (beyond: incomplete).
 *
 * Identity is tbs_sha256 (never cert_sha256, which is not relied on).
 * When the certificate is included (expand=cert), it must parse and its
 * computed tbs_sha256 must equal the issuance's, and its SHA-256, type,
 * validity, key hash and names must agree with the issuance; otherwise
 * the issuance is kept with status MISMATCH and a reason, never dropped.
 *
 * Cursor: the last id of a whole successful pass (an empty page reached)
 * is stored in the state directory as certspotter/<watch>.cursor
 * ("<watch>" is the watched name, with a leading '.' for a subdomain
 * watch), with state_write under state_lock("certspotter"), and never
 * moved backwards. The next run starts after it, so it only saves work:
 * the caller keeps every certificate it has seen in its own store. A
 * caller that wants to store the certificates first sets defer_cursor and
 * calls certspotter_commit_cursor afterwards.
 *
 * The token is a secret: it is copied into the request header only,
 * never into a URL, an argv, an error text or a log, and is zeroed when
 * no longer needed.
 */
#ifndef CT_CERTSPOTTER_H
#define CT_CERTSPOTTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cert.h"
#include "names.h"
#include "util.h"

struct http_client;
struct state;

#define CERTSPOTTER_DEFAULT_URL "https://api.certspotter.com"
#define CERTSPOTTER_TOKEN_ENV "CT_CERTSPOTTER_TOKEN"
#define CERTSPOTTER_MAX_TOKEN_BYTES 256
#define CERTSPOTTER_MAX_TOKEN_FILE_BYTES 1024
#define CERTSPOTTER_MAX_BODY_BYTES (16 * 1024 * 1024) /* one page */
#define CERTSPOTTER_MAX_PAGE_ITEMS 10000              /* issuances a page */
#define CERTSPOTTER_MAX_ITEMS 100000                  /* kept a run */
#define CERTSPOTTER_MAX_NAMES 10000     /* dns_names of one issuance */
#define CERTSPOTTER_MAX_TEXT_BYTES 4096 /* issuer name, friendly_name */
#define CERTSPOTTER_MAX_ID_DIGITS 20    /* a u64 */
#define CERTSPOTTER_MAX_TIME_BYTES 64
#define CERTSPOTTER_DEFAULT_MAX_PAGES 20
#define CERTSPOTTER_TIMEOUT_MS 20000 /* one page, retries included */
#define CERTSPOTTER_CURSOR_MAX_BYTES 64
#define CERTSPOTTER_LOCK_NAME "certspotter"
#define CERTSPOTTER_MAX_URL_BYTES 2048
#define CERTSPOTTER_REASON_LEN 256
#define CERTSPOTTER_ERROR_LEN 320

enum certspotter_status {
	CERTSPOTTER_OK,       /* certificate included and consistent */
	CERTSPOTTER_NO_CERT,  /* no certificate data: tbs_sha256 only */
	CERTSPOTTER_MISMATCH, /* certificate data bad or inconsistent */
	CERTSPOTTER__MAX
};

/* "ok", "no certificate", "mismatch". */
extern const char *const certspotter_status_names[CERTSPOTTER__MAX];

struct certspotter_issuance {
	uint64_t id;
	uint8_t tbs_sha256[32];
	bool has_pubkey_sha256;
	uint8_t pubkey_sha256[32];
	int64_t not_before; /* seconds, UTC */
	int64_t not_after;
	bool has_revoked; /* false when absent or null */
	bool revoked;
	/* dns_names as sent (raw; may hold any bytes, len exact) */
	bool has_dns_names;
	struct cert_name *dns_names;
	size_t n_dns_names;
	/* issuer (expand=issuer) */
	bool has_issuer;
	char *issuer_name;          /* NULL when absent or null */
	char *issuer_friendly_name; /* NULL when absent or null */
	bool has_issuer_pubkey_sha256;
	uint8_t issuer_pubkey_sha256[32];
	/* cert (expand=cert) */
	bool has_cert;
	bool cert_is_precert; /* cert.type was "precert" */
	struct ct_cert *cert; /* parsed; set only when status is OK */
	enum certspotter_status status;
	char reason[CERTSPOTTER_REASON_LEN]; /* "" when OK */
	enum names_match match;              /* set by the driver */
};

/* One page (a parsed response). */
struct certspotter_page {
	struct certspotter_issuance *items;
	size_t n;
};

/* certspotter.c */

/*
 * Parses one response: a JSON array of issuance objects. id (a string of
 * decimal digits), tbs_sha256 (64 hex digits), not_before and not_after
 * (RFC 3339) are required; pubkey_sha256, cert_sha256 (hex), revoked
 * (bool or null), dns_names (array of strings), issuer (object or null:
 * name and friendly_name strings or null, pubkey_sha256 hex) and cert
 * (object or null: type "cert" or "precert", data base64 string, sha256
 * hex) are type-checked when present; other members are ignored. A type
 * error anywhere rejects the response (CT_ERR_FORMAT, why says where);
 * bad certificate content marks that issuance MISMATCH instead. Returns
 * 0, CT_ERR_TRUNCATED (empty or cut short), CT_ERR_FORMAT, CT_ERR_TOO_BIG,
 * CT_ERR_NOMEM. Free with certspotter_page_clear.
 */
int certspotter_parse(const char *body, size_t len,
    struct certspotter_page *out, char *why, size_t whysz);
void certspotter_page_clear(struct certspotter_page *p);
void certspotter_issuance_clear(struct certspotter_issuance *it);

/*
 * The URL of one page; after == 0 means no cursor. The name is
 * percent-encoded. 0, CT_ERR_TOO_BIG (out too small), CT_ERR_INVALID.
 */
int certspotter_url(const char *base, const struct names_watch *w,
    bool include_expired, uint64_t after, char *out, size_t outsz);

/* The cursor's relpath in the state dir ("certspotter/<watch>.cursor"). */
#define CERTSPOTTER_CURSOR_PATH_LEN (NAMES_MAX_NAME_BYTES + 24)
void certspotter_cursor_path(const struct names_watch *w,
    char out[CERTSPOTTER_CURSOR_PATH_LEN]);
/* The stored cursor: 0, or CT_ERR_NOT_FOUND, CT_ERR_FORMAT (a bad file). */
int certspotter_cursor_load(struct state *st, const struct names_watch *w,
    uint64_t *cursor);
/*
 * Stores cursor under state_lock(CERTSPOTTER_LOCK_NAME, lock_timeout_ms)
 * unless the stored one is already at or past it. 0, CT_ERR_TIMEOUT (the
 * lock), CT_ERR_IO, ...
 */
int certspotter_cursor_store(struct state *st, const struct names_watch *w,
    uint64_t cursor, uint32_t lock_timeout_ms);

/*
 * The API token: from the file path when it is not NULL, else from the
 * environment variable CT_CERTSPOTTER_TOKEN. One trailing newline (LF or
 * CRLF) is dropped; the token must then be 1..CERTSPOTTER_MAX_TOKEN_BYTES
 * printable ASCII bytes without spaces (it goes into an HTTP header).
 * *loose (may be NULL) is set when the file can be read or written by
 * group or others (a warning for the caller). Returns 0 with the token in
 * buf (NUL-terminated), CT_ERR_NOT_FOUND (no path and the variable unset
 * or empty), CT_ERR_FORMAT (not a valid token), CT_ERR_TOO_BIG, CT_ERR_IO
 * (errno kept). buf is zeroed on failure.
 */
int certspotter_load_token(const char *path, char *buf, size_t bufsz,
    bool *loose);

/* ------------------------------------------------------------ driver */

struct certspotter_result {
	/* 0, or a negative ct_err: "Cert Spotter: token rejected (HTTP
	 * 401)". Issuances of pages that did arrive are kept. */
	int status;
	char error[CERTSPOTTER_ERROR_LEN];
	bool incomplete; /* max_pages pages came back without an empty one */
	/* issuances concerning the watch, in discovery order */
	struct certspotter_issuance *items;
	size_t n;
	size_t n_unrelated; /* dropped: no name matches the watch */
	size_t n_mismatch, n_no_cert;
	unsigned pages; /* responses received (the empty one included) */
	bool had_cursor;
	uint64_t cursor_in;  /* the cursor the run started after */
	uint64_t cursor_out; /* the last id seen (cursor_in when none) */
	bool cursor_stored;
	char cursor_note[CERTSPOTTER_REASON_LEN]; /* why it was not stored */
};

struct certspotter_run;
struct certspotter_query;
typedef void (*certspotter_done_cb)(struct certspotter_query *q, void *arg);

/* Set up with certspotter_query_init, then http and watch at least. */
struct certspotter_query {
	struct http_client *http;
	struct state *state;             /* cursor; NULL: none */
	const struct names_watch *watch; /* what to look for */
	const char *base_url;            /* NULL: CERTSPOTTER_DEFAULT_URL */
	const char *token;               /* NULL: unauthenticated */
	bool include_expired;            /* expired=true */
	bool use_cursor;                 /* read and store it (default) */
	bool defer_cursor;               /* store only on commit_cursor */
	unsigned max_pages;
	uint32_t timeout_ms;      /* per page */
	uint32_t lock_timeout_ms; /* for storing the cursor */
	bool allow_http;          /* plain http (loopback tests) */
	const char *ca_file;

	struct certspotter_result result;
	struct certspotter_run *run; /* private */
};

void certspotter_query_init(struct certspotter_query *q);

/*
 * Starts the lookup. Returns 0 when started: cb then fires exactly once,
 * from the loop, never from inside certspotter_run. Otherwise a negative
 * ct_err and cb never fires. q must stay in place until the callback.
 */
int certspotter_run(struct certspotter_query *q, certspotter_done_cb cb,
    void *arg);

/*
 * With defer_cursor, once the caller has recorded every issuance of the
 * result: stores result.cursor_out, also after a pass cut short (page cap
 * or a failed page), so that a long backlog drains over several runs. 0
 * when stored or nothing to store.
 */
int certspotter_commit_cursor(struct certspotter_query *q);

/* Frees the result and private state; may be called in the callback. */
void certspotter_query_clear(struct certspotter_query *q);

#endif
