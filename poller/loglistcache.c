/*
 * loglistcache: the log list from Google (or --log-list-url) through the
 * state directory; see loglistcache.h.
 */
#include <wolfssl/options.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "loglistcache.h"
#include "state.h"
#include "util.h"

#define CACHE_MAGIC "ct-loglist-cache 1 "

/*
 * Google's RSA-4096 key for the v3 log list signatures, from
 * https://www.gstatic.com/ct/log_list/v3/log_list_pubkey.pem (see
 * data/SOURCES.md). test_loglistcache checks that it equals
 * data/log_list_pubkey.pem.
 */
const char loglistcache_google_key[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MIICIjANBgkqhkiG9w0BAQEFAAOCAg8AMIICCgKCAgEAsu0BHGnQ++W2CTdyZyxv\n"
    "HHRALOZPlnu/VMVgo2m+JZ8MNbAOH2cgXb8mvOj8flsX/qPMuKIaauO+PwROMjiq\n"
    "fUpcFm80Kl7i97ZQyBDYKm3MkEYYpGN+skAR2OebX9G2DfDqFY8+jUpOOWtBNr3L\n"
    "rmVcwx+FcFdMjGDlrZ5JRmoJ/SeGKiORkbbu9eY1Wd0uVhz/xI5bQb0OgII7hEj+\n"
    "i/IPbJqOHgB8xQ5zWAJJ0DmG+FM6o7gk403v6W3S8qRYiR84c50KppGwe4YqSMkF\n"
    "bLDleGQWLoaDSpEWtESisb4JiLaY4H+Kk0EyAhPSb+49JfUozYl+lf7iFN3qRq/S\n"
    "IXXTh6z0S7Qa8EYDhKGCrpI03/+qprwy+my6fpWHi6aUIk4holUCmWvFxZDfixox\n"
    "K0RlqbFDl2JXMBquwlQpm8u5wrsic1ksIv9z8x9zh4PJqNpCah0ciemI3YGRQqSe\n"
    "/mRRXBiSn9YQBUPcaeqCYan+snGADFwHuXCd9xIAdFBolw9R9HTedHGUfVXPJDiF\n"
    "4VusfX6BRR/qaadB+bqEArF/TzuDUr6FvOR4o8lUUxgLuZ/7HO+bHnaPFKYHHSm+\n"
    "+z1lVDhhYuSZ8ax3T0C3FZpb7HMjZtpEorSV5ElKJEJwrhrBCMOD8L01EoSPrGlS\n"
    "1w22i9uGHMn/uGQKo28u7AsCAwEAAQ==\n"
    "-----END PUBLIC KEY-----\n";

struct loglistcache_run {
	struct loglistcache_query *q;
	loglistcache_done_cb cb;
	void *arg;
	struct state_lock *lock; /* held while fetching, when we got it */
	/* The cached copy, verified and parsed (or NULL). */
	struct loglist *cached;
	int64_t cached_at;
	int pending; /* fetches not yet answered */
	uint8_t *json, *sig;
	size_t json_len, sig_len;
	int json_status, sig_status;
	char err[HTTP_ERROR_LEN];
};

void
loglistcache_query_init(struct loglistcache_query *q)
{
	memset(q, 0, sizeof(*q));
	q->timeout_ms = LOGLISTCACHE_TIMEOUT_MS;
}

/* ------------------------------------------------------------ encoding */

int
loglistcache_encode(int64_t fetched_at, const uint8_t *json, size_t json_len,
    const uint8_t *sig, size_t sig_len, uint8_t **out, size_t *out_len)
{
	struct util_buf b;

	*out = NULL;
	*out_len = 0;
	if (fetched_at < 0 || json_len > LOGLIST_MAX_BYTES ||
	    sig_len > LOGLIST_MAX_SIG_BYTES)
		return CT_ERR_INVALID;
	util_buf_init(&b, LOGLISTCACHE_MAX_FILE_BYTES);
	if (util_buf_printf(&b, CACHE_MAGIC "%lld %zu %zu\n",
	        (long long)fetched_at, json_len, sig_len) != 0 ||
	    util_buf_append(&b, json, json_len) != 0 ||
	    util_buf_append(&b, sig, sig_len) != 0) {
		util_buf_clear(&b);
		return CT_ERR_NOMEM;
	}
	*out = util_buf_take(&b, out_len);
	return 0;
}

/* The next space- or newline-terminated decimal field. */
static int
field(const uint8_t *buf, size_t len, size_t *off, char end, uint64_t max,
    uint64_t *v)
{
	size_t start = *off;

	while (*off < len && buf[*off] != (uint8_t)end)
		(*off)++;
	if (*off == len || *off == start)
		return CT_ERR_FORMAT;
	if (util_parse_u64((const char *)buf + start, *off - start, max, v) !=
	    0)
		return CT_ERR_FORMAT;
	(*off)++;
	return 0;
}

int
loglistcache_decode(const uint8_t *buf, size_t len, int64_t *fetched_at,
    const uint8_t **json, size_t *json_len, const uint8_t **sig,
    size_t *sig_len)
{
	size_t off = sizeof(CACHE_MAGIC) - 1;
	uint64_t t, jl, sl;

	if (len < off || memcmp(buf, CACHE_MAGIC, off) != 0)
		return CT_ERR_FORMAT;
	if (field(buf, len, &off, ' ', INT64_MAX, &t) != 0 ||
	    field(buf, len, &off, ' ', LOGLIST_MAX_BYTES, &jl) != 0 ||
	    field(buf, len, &off, '\n', LOGLIST_MAX_SIG_BYTES, &sl) != 0)
		return CT_ERR_FORMAT;
	if (off > LOGLISTCACHE_HEADER_MAX_BYTES || len - off != jl + sl)
		return CT_ERR_FORMAT;
	*fetched_at = (int64_t)t;
	*json = buf + off;
	*json_len = (size_t)jl;
	*sig = buf + off + jl;
	*sig_len = (size_t)sl;
	return 0;
}

/* ------------------------------------------------------------ checking */

static const char *
key_pem(const struct loglistcache_query *q, size_t *len)
{
	if (q->key_pem != NULL) {
		*len = q->key_pem_len;
		return q->key_pem;
	}
	*len = sizeof(loglistcache_google_key) - 1;
	return loglistcache_google_key;
}

/* Checks the signature, then parses. 0 with *out, or a ct_err + why. */
static int
verify_parse(const struct loglistcache_query *q, const uint8_t *json,
    size_t json_len, const uint8_t *sig, size_t sig_len, struct loglist **out,
    char *why, size_t whysz)
{
	const char *pem;
	size_t pem_len;
	char w[128];
	int rc;

	pem = key_pem(q, &pem_len);
	rc = loglist_verify_sig(json, json_len, sig, sig_len, pem, pem_len);
	if (rc != 0) {
		snprintf(why, whysz, "log list signature %s",
		    rc == CT_ERR_SIGNATURE ? "does not verify: refused"
		                           : ct_strerror(rc));
		return rc;
	}
	w[0] = '\0';
	if ((rc = loglist_parse(json, json_len, 0, out, w, sizeof(w))) != 0) {
		snprintf(why, whysz, "log list does not parse: %s",
		    w[0] ? w : ct_strerror(rc));
		return rc;
	}
	return 0;
}

/* Age: from the fetch, or from the list's own timestamp when older. */
static int64_t
list_age(const struct loglist *ll, int64_t fetched_at, int64_t now)
{
	int64_t t = fetched_at, ts;

	if (loglist_timestamp(ll, &ts) == 0 && ts < t)
		t = ts;
	return now > t ? now - t : 0;
}

static void
read_cache(struct loglistcache_run *run)
{
	struct loglistcache_query *q = run->q;
	const uint8_t *json, *sig;
	uint8_t *buf = NULL;
	size_t len, jl, sl;
	char why[LOGLISTCACHE_NOTE_BYTES];

	if (state_read(q->state, LOGLISTCACHE_PATH, LOGLISTCACHE_MAX_FILE_BYTES,
	        &buf, &len) != 0)
		return;
	if (loglistcache_decode(buf, len, &run->cached_at, &json, &jl, &sig,
	        &sl) != 0 ||
	    verify_parse(q, json, jl, sig, sl, &run->cached, why,
	        sizeof(why)) != 0)
		run->cached = NULL; /* a bad cache is as none: fetch */
	free(buf);
}

/* The result from the cached copy (note: why it was not refreshed). */
static void
use_cache(struct loglistcache_run *run, const char *note)
{
	struct loglistcache_result *res = &run->q->result;
	int64_t age = list_age(run->cached, run->cached_at, run->q->now);

	if (age > LOGLISTCACHE_MAX_AGE_S) {
		res->status = CT_ERR_NOT_FOUND;
		snprintf(res->note, sizeof(res->note),
		    "cached log list is %lld days old, too old to use%s%s",
		    (long long)(age / 86400), note[0] ? "; " : "", note);
		return;
	}
	res->status = 0;
	res->ll = run->cached;
	run->cached = NULL;
	res->fetched_at = run->cached_at;
	res->age_s = age;
	res->from_cache = true;
	res->stale = age > LOGLISTCACHE_STALE_S;
	snprintf(res->note, sizeof(res->note), "%s", note);
}

/* ------------------------------------------------------------ fetching */

static void
store_fetched(struct loglistcache_run *run)
{
	struct loglistcache_query *q = run->q;
	struct loglistcache_result *res = &q->result;
	struct loglist *ll = NULL;
	uint8_t *file = NULL;
	size_t flen;
	char why[LOGLISTCACHE_NOTE_BYTES - 32];

	if (run->json_status != 0 || run->sig_status != 0) {
		snprintf(why, sizeof(why), "log list fetch failed: %.200s",
		    run->err);
		goto fallback;
	}
	if (verify_parse(q, run->json, run->json_len, run->sig, run->sig_len,
	        &ll, why, sizeof(why)) != 0)
		goto fallback;
	res->status = 0;
	res->ll = ll;
	res->fetched = true;
	res->fetched_at = q->now;
	res->age_s = list_age(ll, q->now, q->now);
	res->stale = res->age_s > LOGLISTCACHE_STALE_S;
	if (loglistcache_encode(q->now, run->json, run->json_len, run->sig,
	        run->sig_len, &file, &flen) != 0 ||
	    state_write(q->state, LOGLISTCACHE_PATH, file, flen) != 0)
		snprintf(res->note, sizeof(res->note),
		    "log list fetched but not stored in the state dir");
	free(file);
	return;
fallback:
	if (run->cached != NULL) {
		use_cache(run, why);
		return;
	}
	res->status = CT_ERR_NOT_FOUND;
	snprintf(res->note, sizeof(res->note), "%s (and no cached copy)", why);
}

static void
finish(struct loglistcache_run *run)
{
	store_fetched(run);
	state_unlock(run->lock);
	run->lock = NULL;
	if (run->cb != NULL)
		run->cb(run->q, run->arg);
}

static void
fetch_done(struct http_response *resp, bool is_json,
    struct loglistcache_run *run)
{
	uint8_t **dst = is_json ? &run->json : &run->sig;
	size_t *dlen = is_json ? &run->json_len : &run->sig_len;

	if (is_json)
		run->json_status = resp->status;
	else
		run->sig_status = resp->status;
	if (resp->status == 0)
		*dst = http_response_take_body(resp, dlen);
	else if (run->err[0] == '\0')
		snprintf(run->err, sizeof(run->err), "%s", resp->error);
	if (--run->pending == 0)
		finish(run);
}

static void
json_cb(struct http_response *resp, void *arg)
{
	fetch_done(resp, true, arg);
}

static void
sig_cb(struct http_response *resp, void *arg)
{
	fetch_done(resp, false, arg);
}

static int
start_fetch(struct loglistcache_run *run)
{
	struct loglistcache_query *q = run->q;
	const char *base = q->base_url ? q->base_url : LOGLISTCACHE_DEFAULT_URL;
	char url[LOGLISTCACHE_MAX_URL_BYTES];
	struct http_request req;
	const char *sep;
	int n, rc;

	sep = base[0] != '\0' && base[strlen(base) - 1] == '/' ? "" : "/";
	http_request_init(&req);
	req.timeout_ms = q->timeout_ms;
	req.allow_http = q->allow_http;
	req.max_retries = 0;
	req.url = url;
	n = snprintf(url, sizeof(url), "%s%s%s", base, sep,
	    LOGLISTCACHE_JSON_NAME);
	if (n < 0 || (size_t)n >= sizeof(url))
		return CT_ERR_INVALID;
	req.max_body_bytes = LOGLIST_MAX_BYTES;
	if ((rc = http_get(q->http, &req, json_cb, run)) != 0)
		return rc;
	run->pending++;
	snprintf(url, sizeof(url), "%s%s%s", base, sep, LOGLISTCACHE_SIG_NAME);
	req.max_body_bytes = LOGLIST_MAX_SIG_BYTES;
	if ((rc = http_get(q->http, &req, sig_cb, run)) != 0) {
		/* the first one's callback still comes: count this as failed */
		run->sig_status = rc;
		snprintf(run->err, sizeof(run->err), "%s", ct_strerror(rc));
		return 0;
	}
	run->pending++;
	return 0;
}

int
loglistcache_run(struct loglistcache_query *q, loglistcache_done_cb cb,
    void *arg)
{
	struct loglistcache_run *run;
	struct loglistcache_result *res = &q->result;
	int64_t age;
	int rc;

	if (q->state == NULL || q->run != NULL)
		return CT_ERR_INVALID;
	memset(res, 0, sizeof(*res));
	if (q->now == 0)
		q->now = util_now();
	if ((run = calloc(1, sizeof(*run))) == NULL)
		return CT_ERR_NOMEM;
	run->q = q;
	run->cb = cb;
	run->arg = arg;
	q->run = run;
	read_cache(run);
	if (run->cached != NULL) {
		age = q->now - run->cached_at;
		if (age >= 0 && age < LOGLISTCACHE_REFRESH_S) {
			use_cache(run, "");
			return 1;
		}
	}
	if (q->http == NULL) {
		if (run->cached != NULL)
			use_cache(run, "not refreshed: no HTTP client");
		else {
			res->status = CT_ERR_NOT_FOUND;
			snprintf(res->note, sizeof(res->note),
			    "no cached log list");
		}
		return 1;
	}
	/* One run refreshes; the others use the cache meanwhile. */
	rc = state_lock(q->state, LOGLISTCACHE_LOCK, 0, &run->lock);
	if (rc == CT_ERR_TIMEOUT && run->cached != NULL) {
		use_cache(run, "");
		return 1;
	}
	if ((rc = start_fetch(run)) != 0) {
		state_unlock(run->lock);
		run->lock = NULL;
		if (run->pending > 0)
			return 0; /* cannot happen: start_fetch hides it */
		snprintf(run->err, sizeof(run->err), "%s", ct_strerror(rc));
		run->json_status = rc;
		store_fetched(run);
		return 1;
	}
	return 0;
}

struct loglist *
loglistcache_take(struct loglistcache_query *q)
{
	struct loglist *ll = q->result.ll;

	q->result.ll = NULL;
	return ll;
}

void
loglistcache_query_clear(struct loglistcache_query *q)
{
	struct loglistcache_run *run = q->run;

	if (run != NULL) {
		state_unlock(run->lock);
		loglist_free(run->cached);
		free(run->json);
		free(run->sig);
		free(run);
		q->run = NULL;
	}
	loglist_free(q->result.ll);
	q->result.ll = NULL;
}
