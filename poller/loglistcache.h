/*
 * loglistcache: Chrome's CT log list for the probe's SCT checks, kept in
 * check_ct's state directory (REFERENCE.md 1.8).
 *
 * The list and its detached signature are fetched from BASE/log_list.json
 * and BASE/log_list.sig (BASE defaults to Google's v3 directory), the
 * signature is checked with Google's key (shipped with the project:
 * data/log_list_pubkey.pem, compiled in here) before anything is parsed
 * or stored, and both go into one file, loglist/cache, written atomically
 * (state_write) under the lock "loglist":
 *
 *	"ct-loglist-cache 1 <fetched epoch s> <json bytes> <sig bytes>\n"
 *	<json><sig>
 *
 * A run uses the cached copy while it is younger than
 * LOGLISTCACHE_REFRESH_S; past that it fetches (one run at a time: a run
 * that finds the lock taken uses the cache). When the fetch fails, or
 * brings a list whose signature does not verify (refused, never stored),
 * the cached copy is used if it is younger than LOGLISTCACHE_MAX_AGE_S.
 * The cache is verified again every time it is read. A list older than
 * LOGLISTCACHE_STALE_S is marked stale ("log list is N days old"). Age is
 * counted from the fetch, or from the list's own log_list_timestamp when
 * that is older.
 */
#ifndef CT_LOGLISTCACHE_H
#define CT_LOGLISTCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loglist.h"

struct http_client;
struct state;

#define LOGLISTCACHE_DEFAULT_URL "https://www.gstatic.com/ct/log_list/v3/"
#define LOGLISTCACHE_JSON_NAME "log_list.json"
#define LOGLISTCACHE_SIG_NAME "log_list.sig"
#define LOGLISTCACHE_PATH "loglist/cache"
#define LOGLISTCACHE_LOCK "loglist"
#define LOGLISTCACHE_REFRESH_S 86400        /* fetch once a day */
#define LOGLISTCACHE_STALE_S (7 * 86400)    /* then say it is old */
#define LOGLISTCACHE_MAX_AGE_S (70 * 86400) /* then do not use it */
#define LOGLISTCACHE_TIMEOUT_MS 10000       /* both fetches */
#define LOGLISTCACHE_MAX_URL_BYTES 2048
#define LOGLISTCACHE_NOTE_BYTES 256
#define LOGLISTCACHE_HEADER_MAX_BYTES 96
#define LOGLISTCACHE_MAX_FILE_BYTES                                            \
	(LOGLIST_MAX_BYTES + LOGLIST_MAX_SIG_BYTES +                           \
	    LOGLISTCACHE_HEADER_MAX_BYTES)

/* Google's log list key (PEM), a copy of data/log_list_pubkey.pem. */
extern const char loglistcache_google_key[];

struct loglistcache_result {
	int status;         /* 0: ll is set; else a negative ct_err */
	struct loglist *ll; /* owned by the result; see _take */
	int64_t fetched_at; /* when the list in use was fetched */
	int64_t age_s;      /* see the top */
	bool from_cache;    /* the list in use came from the state dir */
	bool fetched;       /* a new list was fetched and stored */
	bool stale;         /* older than LOGLISTCACHE_STALE_S */
	/* Why there is no list, or why the cache was used although old
	 * enough to refresh ("fetch failed: HTTP 503"); "" when neither. */
	char note[LOGLISTCACHE_NOTE_BYTES];
};

struct loglistcache_run;
struct loglistcache_query;
typedef void (*loglistcache_done_cb)(struct loglistcache_query *q, void *arg);

struct loglistcache_query {
	struct http_client *http; /* NULL: cache only */
	struct state *state;      /* required */
	const char *base_url;     /* NULL: LOGLISTCACHE_DEFAULT_URL */
	const char *key_pem;      /* NULL: loglistcache_google_key */
	size_t key_pem_len;
	bool allow_http; /* plain http (loopback tests) */
	uint32_t timeout_ms;
	int64_t now; /* 0: util_now() */

	struct loglistcache_result result;
	struct loglistcache_run *run; /* private */
};

/* loglistcache.c */
void loglistcache_query_init(struct loglistcache_query *q);
/*
 * Looks up the list. Returns 1 when the result is ready at once (a fresh
 * cache, or no way to fetch): cb is not called. Returns 0 when a fetch
 * started: cb fires once from the loop with q->result filled. Returns a
 * negative ct_err (bad arguments) and cb never fires.
 */
int loglistcache_run(struct loglistcache_query *q, loglistcache_done_cb cb,
    void *arg);
/* The caller takes the list (frees it with loglist_free). */
struct loglist *loglistcache_take(struct loglistcache_query *q);
/* Frees the result and what is private; call once done (or cancelled by
 * http_client_cancel_all, which completes the fetches). */
void loglistcache_query_clear(struct loglistcache_query *q);

/* The cache file's encoding (exposed for tests). */
int loglistcache_encode(int64_t fetched_at, const uint8_t *json,
    size_t json_len, const uint8_t *sig, size_t sig_len, uint8_t **out,
    size_t *out_len);
/* Views into buf. 0 or CT_ERR_FORMAT. */
int loglistcache_decode(const uint8_t *buf, size_t len, int64_t *fetched_at,
    const uint8_t **json, size_t *json_len, const uint8_t **sig,
    size_t *sig_len);

#endif
