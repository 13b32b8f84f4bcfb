/*
 * loglistcache: the shipped key, the cache file's encoding, and the
 * fetch / cache / fallback rules against fixture_httpd serving Chrome's
 * real all_logs_list.json with its real signature (../shared/testdata/
 * loglists) under the names log_list.json and log_list.sig: a fresh
 * fetch, a fresh cache (no request), a stale cache when the fetch fails,
 * a forged list refused (with and without a cache), a cache too old to
 * use, a busy lock, and a corrupted cache file.
 */
#include <wolfssl/options.h>

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "fixture_httpd.h"
#include "http.h"
#include "loglistcache.h"
#include "state.h"
#include "testutil.h"

#define LL_JSON SHARED_TESTDATA "loglists/all_logs_list.json"
#define LL_SIG SHARED_TESTDATA "loglists/all_logs_list.sig"
#define DAY 86400

struct fx {
	uv_loop_t loop;
	struct fixture_httpd *srv;
	struct http_client *http;
	struct state *st;
	char dir[64];
	char base[256];
	uint8_t *json, *sig;
	size_t json_len, sig_len;
	int64_t list_ts; /* the list's own log_list_timestamp */
	int calls;
};

static struct fx *
fx_new(void)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct loglist *ll;
	char why[256];

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(uv_loop_init(&f->loop), 0);
	f->srv = fixture_httpd_start(&f->loop);
	ck_assert_ptr_nonnull(f->srv);
	fixture_httpd_url(f->srv, "/ct/", f->base, sizeof(f->base));
	f->http = http_client_new(&f->loop);
	ck_assert_ptr_nonnull(f->http);
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_llc.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(f->dir));
	ck_assert_int_eq(state_open(f->dir, &f->st, why, sizeof(why)), 0);
	f->json = testutil_read(LL_JSON, &f->json_len);
	f->sig = testutil_read(LL_SIG, &f->sig_len);
	ck_assert_int_eq(loglist_parse(f->json, f->json_len, 0, &ll, why,
	                     sizeof(why)),
	    0);
	ck_assert_int_eq(loglist_timestamp(ll, &f->list_ts), 0);
	loglist_free(ll);
	return f;
}

static void
serve(struct fx *f, int status, const uint8_t *json, size_t json_len)
{
	ck_assert_int_eq(fixture_httpd_add(f->srv, "/ct/log_list.json", status,
	                     "Content-Type: application/json\r\n", json,
	                     json_len, 0),
	    0);
	ck_assert_int_eq(fixture_httpd_add(f->srv, "/ct/log_list.sig", status,
	                     "Content-Type: application/octet-stream\r\n",
	                     f->sig, f->sig_len, 0),
	    0);
}

static void
fx_free(struct fx *f)
{
	char cmd[128];

	http_client_free(f->http);
	fixture_httpd_stop(f->srv);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	fixture_httpd_free(f->srv);
	ck_assert_int_eq(uv_loop_close(&f->loop), 0);
	state_close(f->st);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	ck_assert_int_eq(system(cmd), 0);
	free(f->json);
	free(f->sig);
	free(f);
}

static void
done_cb(struct loglistcache_query *q, void *arg)
{
	struct fx *f = arg;

	(void)q;
	f->calls++;
	uv_stop(&f->loop); /* the fixture server keeps the loop alive */
}

/* One lookup at time now; returns loglistcache_run's value. */
static int
lookup(struct fx *f, int64_t now, struct loglistcache_query *q)
{
	int rc;

	loglistcache_query_init(q);
	q->http = f->http;
	q->state = f->st;
	q->base_url = f->base;
	q->allow_http = true;
	q->now = now;
	q->timeout_ms = 5000;
	f->calls = 0;
	rc = loglistcache_run(q, done_cb, f);
	ck_assert_int_eq(f->calls, 0); /* never from inside the call */
	if (rc == 0) {
		uv_run(&f->loop, UV_RUN_DEFAULT);
		ck_assert_int_eq(f->calls, 1);
	}
	return rc;
}

START_TEST(test_shipped_key)
{
	size_t len;
	uint8_t *pem = testutil_read("data/log_list_pubkey.pem", &len);
	uint8_t *json, *sig;
	size_t jl, sl;

	ck_assert_uint_eq(len, strlen(loglistcache_google_key));
	ck_assert_mem_eq(pem, loglistcache_google_key, len);
	/* and it verifies Google's real signature */
	json = testutil_read(LL_JSON, &jl);
	sig = testutil_read(LL_SIG, &sl);
	ck_assert_int_eq(loglist_verify_sig(json, jl, sig, sl,
	                     loglistcache_google_key, len),
	    0);
	json[100] ^= 1;
	ck_assert_int_eq(loglist_verify_sig(json, jl, sig, sl,
	                     loglistcache_google_key, len),
	    CT_ERR_SIGNATURE);
	free(json);
	free(sig);
	free(pem);
}
END_TEST

START_TEST(test_encoding)
{
	static const uint8_t j[] = "{\"x\":1}", s[] = "SIG";
	const uint8_t *jp, *sp;
	uint8_t *buf;
	size_t len, jl, sl;
	int64_t t;

	ck_assert_int_eq(loglistcache_encode(1700000000, j, 7, s, 3, &buf,
	                     &len),
	    0);
	ck_assert_int_eq(loglistcache_decode(buf, len, &t, &jp, &jl, &sp, &sl),
	    0);
	ck_assert_int_eq(t, 1700000000);
	ck_assert_uint_eq(jl, 7);
	ck_assert_mem_eq(jp, j, 7);
	ck_assert_uint_eq(sl, 3);
	ck_assert_mem_eq(sp, "SIG", 3);
	/* one byte short, one too many, a bad header */
	ck_assert_int_eq(loglistcache_decode(buf, len - 1, &t, &jp, &jl, &sp,
	                     &sl),
	    CT_ERR_FORMAT);
	buf[0] = 'C';
	ck_assert_int_eq(loglistcache_decode(buf, len, &t, &jp, &jl, &sp, &sl),
	    CT_ERR_FORMAT);
	free(buf);
	ck_assert_int_eq(
	    loglistcache_decode((const uint8_t *)"ct-loglist-cache 1 5 x 1\nab",
	        27, &t, &jp, &jl, &sp, &sl),
	    CT_ERR_FORMAT);
	ck_assert_int_eq(loglistcache_decode(
	                     (const uint8_t *)"ct-loglist-cache 1 5 1 1\nabc",
	                     28, &t, &jp, &jl, &sp, &sl),
	    CT_ERR_FORMAT);
	ck_assert_int_eq(loglistcache_decode(
	                     (const uint8_t *)"ct-loglist-cache 1 5 1 1 \nab",
	                     28, &t, &jp, &jl, &sp, &sl),
	    CT_ERR_FORMAT);
}
END_TEST

/* Fetch, then the cache for a day, then a refresh. */
START_TEST(test_fetch_then_cache)
{
	struct fx *f = fx_new();
	struct loglistcache_query q;
	int64_t t0 = f->list_ts + 3600;

	serve(f, 200, f->json, f->json_len);
	ck_assert_int_eq(lookup(f, t0, &q), 0);
	ck_assert_int_eq(q.result.status, 0);
	ck_assert(q.result.fetched);
	ck_assert(!q.result.from_cache);
	ck_assert(!q.result.stale);
	ck_assert_int_eq(q.result.age_s, 3600); /* from the list's timestamp */
	ck_assert_uint_gt(loglist_count(q.result.ll), 10);
	ck_assert_str_eq(q.result.note, "");
	loglistcache_query_clear(&q);
	ck_assert_uint_eq(fixture_httpd_hits(f->srv, "/ct/log_list.json"), 1);
	ck_assert_uint_eq(fixture_httpd_hits(f->srv, "/ct/log_list.sig"), 1);
	/* Fresh: no request at all. */
	ck_assert_int_eq(lookup(f, t0 + DAY - 1, &q), 1);
	ck_assert_int_eq(q.result.status, 0);
	ck_assert(q.result.from_cache);
	ck_assert_ptr_nonnull(q.result.ll);
	ck_assert_int_eq(q.result.fetched_at, t0);
	loglistcache_query_clear(&q);
	ck_assert_uint_eq(fixture_httpd_hits(f->srv, "/ct/log_list.json"), 1);
	/* A day later: fetched again. */
	ck_assert_int_eq(lookup(f, t0 + DAY + 1, &q), 0);
	ck_assert(q.result.fetched);
	loglistcache_query_clear(&q);
	ck_assert_uint_eq(fixture_httpd_hits(f->srv, "/ct/log_list.json"), 2);
	fx_free(f);
}
END_TEST

/* The fetch fails: the cache serves, and after 7 days says it is old. */
START_TEST(test_fetch_fails_cache_used)
{
	struct fx *f = fx_new();
	struct loglistcache_query q;
	int64_t t0 = f->list_ts + 60;

	/* fixture_httpd serves a target's responses in the order added */
	serve(f, 200, f->json, f->json_len);
	serve(f, 503, f->json, f->json_len); /* from the second on */
	ck_assert_int_eq(lookup(f, t0, &q), 0);
	loglistcache_query_clear(&q);
	ck_assert_int_eq(lookup(f, t0 + 2 * DAY, &q), 0);
	ck_assert_int_eq(q.result.status, 0);
	ck_assert(q.result.from_cache);
	ck_assert(!q.result.stale);
	ck_assert_msg(strstr(q.result.note, "fetch failed") != NULL, "%s",
	    q.result.note);
	loglistcache_query_clear(&q);
	ck_assert_int_eq(lookup(f, t0 + 8 * DAY, &q), 0);
	ck_assert_int_eq(q.result.status, 0);
	ck_assert(q.result.stale);
	ck_assert_int_eq(q.result.age_s / DAY, 8);
	loglistcache_query_clear(&q);
	/* Past the hard limit it is not used. */
	ck_assert_int_eq(lookup(f, t0 + 80 * DAY, &q), 0);
	ck_assert_int_eq(q.result.status, CT_ERR_NOT_FOUND);
	ck_assert_ptr_null(q.result.ll);
	ck_assert_msg(strstr(q.result.note, "too old") != NULL, "%s",
	    q.result.note);
	loglistcache_query_clear(&q);
	fx_free(f);
}
END_TEST

/* A list whose signature does not verify is refused and never stored. */
START_TEST(test_bad_signature_refused)
{
	struct fx *f = fx_new();
	struct loglistcache_query q;
	uint8_t *bad = malloc(f->json_len);
	int64_t t0 = f->list_ts + 60;
	uint8_t *buf;
	size_t len;

	memcpy(bad, f->json, f->json_len);
	bad[f->json_len / 2] ^= 0x20;
	serve(f, 200, bad, f->json_len);
	serve(f, 200, f->json, f->json_len);
	serve(f, 200, bad, f->json_len);
	ck_assert_int_eq(lookup(f, t0, &q), 0);
	ck_assert_int_eq(q.result.status, CT_ERR_NOT_FOUND);
	ck_assert_ptr_null(q.result.ll);
	ck_assert_msg(strstr(q.result.note, "does not verify: refused") != NULL,
	    "%s", q.result.note);
	loglistcache_query_clear(&q);
	ck_assert_int_eq(state_read(f->st, LOGLISTCACHE_PATH, 1 << 24, &buf,
	                     &len),
	    CT_ERR_NOT_FOUND);
	/* With a good cache, the forgery leaves the cache in use. */
	ck_assert_int_eq(lookup(f, t0 + 3 * DAY, &q), 0); /* good: stored */
	ck_assert(q.result.fetched);
	loglistcache_query_clear(&q);
	ck_assert_int_eq(lookup(f, t0 + 5 * DAY, &q), 0);
	ck_assert_int_eq(q.result.status, 0);
	ck_assert(q.result.from_cache);
	ck_assert_int_eq(q.result.fetched_at, t0 + 3 * DAY);
	ck_assert_msg(strstr(q.result.note, "refused") != NULL, "%s",
	    q.result.note);
	loglistcache_query_clear(&q);
	free(bad);
	fx_free(f);
}
END_TEST

/* Another run is refreshing (holds the lock): the cache is used. */
START_TEST(test_lock_busy_uses_cache)
{
	struct fx *f = fx_new();
	struct loglistcache_query q;
	struct state_lock *l;
	int64_t t0 = f->list_ts + 60;

	serve(f, 200, f->json, f->json_len);
	ck_assert_int_eq(lookup(f, t0, &q), 0);
	loglistcache_query_clear(&q);
	ck_assert_int_eq(state_lock(f->st, LOGLISTCACHE_LOCK, 0, &l), 0);
	ck_assert_int_eq(lookup(f, t0 + 2 * DAY, &q), 1);
	ck_assert(q.result.from_cache);
	loglistcache_query_clear(&q);
	state_unlock(l);
	ck_assert_uint_eq(fixture_httpd_hits(f->srv, "/ct/log_list.json"), 1);
	fx_free(f);
}
END_TEST

/* A damaged cache file counts as none. */
START_TEST(test_corrupt_cache_refetched)
{
	struct fx *f = fx_new();
	struct loglistcache_query q;
	uint8_t *buf;
	size_t len;
	int64_t t0 = f->list_ts + 60;

	serve(f, 200, f->json, f->json_len);
	ck_assert_int_eq(lookup(f, t0, &q), 0);
	loglistcache_query_clear(&q);
	ck_assert_int_eq(state_read(f->st, LOGLISTCACHE_PATH, 1 << 24, &buf,
	                     &len),
	    0);
	buf[len - 10] ^= 1; /* inside the signature */
	ck_assert_int_eq(state_write(f->st, LOGLISTCACHE_PATH, buf, len), 0);
	free(buf);
	ck_assert_int_eq(lookup(f, t0 + 60, &q), 0); /* fetched, not cached */
	ck_assert(q.result.fetched);
	loglistcache_query_clear(&q);
	ck_assert_uint_eq(fixture_httpd_hits(f->srv, "/ct/log_list.json"), 2);
	fx_free(f);
}
END_TEST

/* No HTTP client: the cache or nothing. */
START_TEST(test_no_http)
{
	struct fx *f = fx_new();
	struct loglistcache_query q;

	loglistcache_query_init(&q);
	q.state = f->st;
	q.now = f->list_ts;
	ck_assert_int_eq(loglistcache_run(&q, done_cb, f), 1);
	ck_assert_int_eq(q.result.status, CT_ERR_NOT_FOUND);
	loglistcache_query_clear(&q);
	loglistcache_query_init(&q);
	ck_assert_int_eq(loglistcache_run(&q, done_cb, f), CT_ERR_INVALID);
	fx_free(f);
}
END_TEST

static Suite *
llc_suite(void)
{
	Suite *s = suite_create("loglistcache");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_shipped_key);
	tcase_add_test(tc, test_encoding);
	tcase_add_test(tc, test_fetch_then_cache);
	tcase_add_test(tc, test_fetch_fails_cache_used);
	tcase_add_test(tc, test_bad_signature_refused);
	tcase_add_test(tc, test_lock_busy_uses_cache);
	tcase_add_test(tc, test_corrupt_cache_refetched);
	tcase_add_test(tc, test_no_http);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	int rc;

	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = testutil_run(llc_suite());
	curl_global_cleanup();
	return rc;
}
