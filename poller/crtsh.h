/*
 * crtsh: the crt.sh source (REFERENCE.md 1.9).
 *
 * Search. GET <base>/?identity=<name>&output=json&exclude=expired (no
 * exclude with include_expired). identity= searches every identity field
 * (SAN dNSName, CN, ...), never CN= alone (REFERENCE.md 0.3). No
 * deduplicate=Y: a precertificate and its certificate are two rows with
 * two IDs, and each is an issuance record we want to see (often only the
 * precertificate is logged; REFERENCE.md 0.2). A subdomain watch searches
 * the bare domain, since identity search already returns every name below
 * it. An exact watch of three or more labels also searches "*.<parent>",
 * because a wildcard certificate covers it and is not returned for the name
 * itself. Rows whose names do not match the watch (names_match) are
 * dropped and counted.
 *
 * crt.sh returns at most CRTSH_MAX_ROWS rows per search and says nothing
 * when it cuts: a search that returns that many is reported incomplete.
 *
 * Download. GET <base>/?d=<id> gives the certificate, which nothing ties
 * to the row: crtsh_verify_download checks that the body is exactly one
 * certificate whose serial, validity and names agree with the row. A
 * verified certificate is cached forever in the state directory as
 * crtsh/cert/<id>.der (immutable, so written without a lock), and is
 * verified again whenever it is read back.
 *
 * Texts from crt.sh (names, issuer) are kept raw here; sanitise them
 * (util_sanitize) when printing.
 */
#ifndef CT_CRTSH_H
#define CT_CRTSH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cert.h"
#include "names.h"
#include "util.h"

struct http_client;
struct state;

#define CRTSH_DEFAULT_URL "https://crt.sh"
#define CRTSH_MAX_ROWS 10000                    /* crt.sh's c_resultLimit */
#define CRTSH_MAX_BODY_BYTES (32 * 1024 * 1024) /* one search response */
#define CRTSH_MAX_CERT_BODY_BYTES (256 * 1024)  /* one ?d= download */
#define CRTSH_MAX_NAME_VALUE_BYTES (1024 * 1024)
#define CRTSH_MAX_TEXT_BYTES 4096 /* issuer_name, common_name */
#define CRTSH_MAX_SERIAL_HEX 128  /* hex digits of serial_number */
#define CRTSH_MAX_TIME_BYTES 40   /* "2023-03-07T13:44:19.123456" */
#define CRTSH_MAX_URL_BYTES 2048  /* a base URL or a whole URL */
#define CRTSH_DEFAULT_MAX_DOWNLOADS 100
#define CRTSH_DEFAULT_INFLIGHT 4 /* downloads at once */
#define CRTSH_MAX_INFLIGHT 32
#define CRTSH_SEARCH_TIMEOUT_MS 30000 /* crt.sh is slow; retries included */
#define CRTSH_DOWNLOAD_TIMEOUT_MS 15000
#define CRTSH_MAX_SEARCHES 2 /* the name, and "*.<parent>" */
#define CRTSH_REASON_LEN 256
#define CRTSH_ERROR_LEN 320
/* Summaries of verified certificates (crtsh_query.lazy), per watch. */
#define CRTSH_SUM_DIR "crtsh/sum/"
#define CRTSH_SUM_PATH_LEN (sizeof(CRTSH_SUM_DIR) + 32)
#define CRTSH_MAX_SUM_BYTES (32 * 1024 * 1024)
#define CRTSH_MAX_SUM_ENTRIES (CRTSH_MAX_SEARCHES * CRTSH_MAX_ROWS)

/* One row of a search response, raw (unsanitised) texts included. */
struct crtsh_row {
	uint64_t id;
	uint64_t issuer_ca_id;
	char *issuer_name; /* NULL when crt.sh sent null */
	char *common_name; /* NULL when crt.sh sent null */
	size_t common_name_len;
	char *name_value; /* as sent: names separated by '\n' */
	size_t name_value_len;
	/* name_value split at '\n': views into name_value */
	struct names_item *names;
	size_t n_names;
	bool has_entry_timestamp; /* false when crt.sh sent null */
	int64_t entry_timestamp;  /* seconds, UTC (fraction dropped) */
	int64_t not_before;       /* seconds, UTC */
	int64_t not_after;
	char serial[CRTSH_MAX_SERIAL_HEX + 1]; /* lower-case hex as sent */
};

/* A parsed search response. */
struct crtsh_rows {
	struct crtsh_row *rows;
	size_t n;
	/* CRTSH_MAX_ROWS or more rows came back: crt.sh may have cut. */
	bool incomplete;
	size_t n_sent; /* rows in the response (> n when over the cap) */
};

/* crtsh.c */

/*
 * Parses a search response of len bytes. The body must be a JSON array of
 * row objects; every field named in struct crtsh_row is type-checked
 * (issuer_name, common_name and entry_timestamp may be null; result_count,
 * when present, must be a number; other members are ignored). Rows past
 * CRTSH_MAX_ROWS are not kept. Returns 0 with *out filled (free with
 * crtsh_rows_clear), or CT_ERR_TRUNCATED (empty or cut short),
 * CT_ERR_FORMAT (HTML, not an array, a field of the wrong type or form),
 * CT_ERR_TOO_BIG, CT_ERR_NOMEM; why (may be NULL) then says what, e.g.
 * "row 3: id is not a number".
 */
int crtsh_parse(const char *body, size_t len, struct crtsh_rows *out, char *why,
    size_t whysz);
void crtsh_rows_clear(struct crtsh_rows *r);
void crtsh_row_clear(struct crtsh_row *row);

/*
 * URLs. base: "https://crt.sh" (a trailing '/' is dropped). The identity
 * is percent-encoded (everything but ALPHA DIGIT - . _ ~). Return 0, or
 * CT_ERR_TOO_BIG when out (outsz bytes) is too small, CT_ERR_INVALID.
 */
int crtsh_search_url(const char *base, const char *identity,
    bool include_expired, char *out, size_t outsz);
int crtsh_download_url(const char *base, uint64_t id, char *out, size_t outsz);
/*
 * The identities to search for a watch (see the top): 1 or 2 of them,
 * written to ids[i] (each NAMES_MAX_NAME_BYTES + 3 bytes). Returns the
 * count.
 */
#define CRTSH_IDENTITY_LEN (NAMES_MAX_NAME_BYTES + 3)
size_t crtsh_identities(const struct names_watch *w,
    char ids[CRTSH_MAX_SEARCHES][CRTSH_IDENTITY_LEN]);

/*
 * Checks a downloaded body (PEM or DER) against its row: exactly one
 * certificate; its serial equals the row's (hex, case and one leading 00
 * sign byte ignored); its notBefore and notAfter equal the row's; every
 * name of the row's name_value is the certificate's subject CN or one of
 * its DNS SANs (ASCII case-insensitive). Returns 0 with *cert set (free
 * with cert_free), or CT_ERR_FORMAT with why saying which check failed
 * ("crt.sh id 123: downloaded certificate's serial 0a.. differs from the
 * row's 0b.."), or the parser's error, or CT_ERR_NOMEM.
 */
int crtsh_verify_download(const struct crtsh_row *row, const uint8_t *body,
    size_t len, struct ct_cert **cert, char *why, size_t whysz);

/* The state-dir path of a row's cached certificate: "crtsh/cert/<id>.der". */
#define CRTSH_CACHE_PATH_LEN 48
void crtsh_cache_path(uint64_t id, char out[CRTSH_CACHE_PATH_LEN]);

/* ------------------------------------------------------------ driver */

enum crtsh_entry_status {
	CRTSH_ENTRY_OK,              /* certificate verified (cert set) */
	CRTSH_ENTRY_PENDING,         /* not downloaded in this run (cap) */
	CRTSH_ENTRY_DOWNLOAD_FAILED, /* reason says why */
	CRTSH_ENTRY_MISMATCH,        /* the body did not match the row */
	CRTSH_ENTRY__MAX
};

/* "ok", "pending", "download failed", "mismatch". */
extern const char *const crtsh_entry_status_names[CRTSH_ENTRY__MAX];

struct crtsh_entry {
	struct crtsh_row row;
	enum names_match match; /* why the row concerns the watch */
	enum crtsh_entry_status status;
	/* set when status is OK, unless summarised (crtsh_entry_load) */
	struct ct_cert *cert;
	uint8_t tbs_sha256[32]; /* the certificate's, when status is OK */
	bool cached;            /* read from the state dir, not downloaded */
	bool summarised;        /* OK from its summary (lazy), cert NULL */
	char reason[CRTSH_REASON_LEN]; /* "" when OK */
};

struct crtsh_result {
	/* 0, or a negative ct_err when the search itself failed (then there
	 * are no entries) */
	int status;
	char error[CRTSH_ERROR_LEN]; /* "crt.sh: HTTP 503 after 2 attempts" */
	bool incomplete;             /* a search hit CRTSH_MAX_ROWS */
	/* rows concerning the watch, newest (highest id) first */
	struct crtsh_entry *entries;
	size_t n;
	size_t n_rows;      /* rows returned by the searches, deduplicated */
	size_t n_unrelated; /* rows dropped as not matching the watch */
	size_t n_ok, n_pending, n_failed, n_mismatch;
	size_t n_cached;     /* OK from the cache */
	size_t n_downloads;  /* downloads started */
	size_t cache_errors; /* verified but not written to the cache */
	unsigned requests;   /* HTTP requests started */
};

struct crtsh_run;
struct crtsh_query;
typedef void (*crtsh_done_cb)(struct crtsh_query *q, void *arg);

/*
 * One crt.sh lookup for one watch. crtsh_query_init sets the defaults;
 * the caller sets http and watch (and optionally the rest), then calls
 * crtsh_run. Inputs are copied by crtsh_run.
 */
struct crtsh_query {
	struct http_client *http;
	struct state *state;             /* certificate cache; NULL: none */
	const struct names_watch *watch; /* what to look for */
	const char *base_url;            /* NULL: CRTSH_DEFAULT_URL */
	bool include_expired;            /* no exclude=expired */
	unsigned max_downloads;          /* per run; the rest stay pending */
	unsigned max_inflight;           /* downloads at once, 1..32 */
	uint32_t search_timeout_ms;
	uint32_t download_timeout_ms;
	bool allow_http; /* plain http (loopback tests) */
	const char *ca_file;
	/*
	 * Requests a minute shared by every run on this state directory
	 * (ratelimit.h; needs state), 0 for no limit; at most
	 * RATELIMIT_MAX_PER_MINUTE. crtsh_rate_default() gives the usual.
	 */
	unsigned rate_per_minute;
	/*
	 * lazy (needs state): a row whose certificate an earlier lazy run
	 * verified is checked against that verification's summary (kept in
	 * the state directory) and is OK without reading the certificate:
	 * summarised, cert NULL, tbs_sha256 set. crtsh_entry_load reads it
	 * when it is needed. Without lazy, every OK entry has its cert.
	 */
	bool lazy;

	struct crtsh_result result; /* valid in and after the done callback */
	struct crtsh_run *run;      /* private */
};

void crtsh_query_init(struct crtsh_query *q);
/*
 * The shared rate for base_url (NULL: the default URL): crt.sh's published
 * 60 a minute for crt.sh itself, none for another server (a mirror or a
 * test fixture sets its own with --crtsh-rate).
 */
unsigned crtsh_rate_default(const char *base_url);

/*
 * Starts the lookup: the search(es), then the downloads of every row not
 * in the cache, at most max_inflight at once and max_downloads in all.
 * Returns 0 when started: cb then fires exactly once, from the loop,
 * never from inside crtsh_run, with q->result filled in. Otherwise a
 * negative ct_err (CT_ERR_INVALID, CT_ERR_NOMEM, or http_get's error) and
 * cb never fires. q must stay in place until the callback.
 */
int crtsh_run(struct crtsh_query *q, crtsh_done_cb cb, void *arg);

/*
 * For the run's deadline: no further download starts; entries still
 * queued become pending ("not downloaded: cancelled"). Requests in
 * flight finish when the caller calls http_client_cancel_all.
 */
void crtsh_cancel(struct crtsh_query *q);

/*
 * The certificate of an OK entry of q's result: e->cert, or for a
 * summarised one, read from the cache and verified against its row again
 * (crtsh_verify_download) and against the summary's tbs_sha256; then set
 * in e->cert (freed with the result). 0, or CT_ERR_INVALID (not OK),
 * CT_ERR_NOT_FOUND (the cached copy is gone), CT_ERR_FORMAT (it no longer
 * matches), CT_ERR_NOMEM, with why (may be NULL) saying so.
 */
int crtsh_entry_load(struct crtsh_query *q, struct crtsh_entry *e, char *why,
    size_t whysz);

/* Frees the result and the private state; may be called in the callback. */
void crtsh_query_clear(struct crtsh_query *q);

#endif
