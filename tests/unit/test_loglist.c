/*
 * Tests for common/loglist: the real Chrome, Apple and Mozilla lists, the
 * Chrome list signature (and forgeries of it), and lists that must be
 * refused: a log ID that is not SHA-256 of its key, a state with two
 * keys, wrong types, missing fields, caps.
 */
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/hash.h>
#include <wolfssl/wolfcrypt/sha256.h>

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "loglist.h"
#include "testutil.h"
#include "util.h"

#define LL_DIR SHARED_TESTDATA "loglists/"

/* Google 'Argon2026h2' log, from the Chrome list. */
#define ARGON_ID "1219ENGn9XfCx+lf1wC/+YLJM1pl4dCzAXMXwMjFaXc="
#define ARGON_ID_ESCAPED "1219ENGn9XfCx+lf1wC\\/+YLJM1pl4dCzAXMXwMjFaXc="
#define ARGON_KEY                                                              \
	"MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEKjpni/66DIYrSlGK6Rf+e6F2c/28ZUv"  \
	"DJ79N81+gyimAESAyeNZ++TRgjHWg9TVQnKHTSU0T1TtqDupFnSQTIg=="
/* Google 'Xenon2026h2' log: another valid key. */
#define XENON_ID "2AlVO5RPev/IFhlvlE+Fq7D4/F6HVSYPFdEucrtFSxQ="

static void
b64(const char *s, uint8_t *out, size_t n)
{
	ck_assert_int_eq(util_b64_decode(s, strlen(s), out, n, false), (int)n);
}

static struct loglist *
load(const char *file, unsigned flags)
{
	struct loglist *l = NULL;
	uint8_t *js;
	size_t len;
	char why[256];
	int rc;

	js = testutil_read(file, &len);
	rc = loglist_parse(js, len, flags, &l, why, sizeof(why));
	ck_assert_msg(rc == 0, "%s: %s (%s)", file, ct_strerror(rc), why);
	free(js);
	return l;
}

/* Counts RFC 6962 and tiled logs, and checks every ID against its key. */
static void
counts(const struct loglist *l, size_t *plain, size_t *tiled)
{
	const struct loglist_log *log;
	uint8_t hash[32];
	size_t i;

	*plain = *tiled = 0;
	for (i = 0; i < loglist_count(l); i++) {
		log = loglist_get(l, i);
		ck_assert_ptr_nonnull(log);
		ck_assert_int_eq(wc_Sha256Hash(log->key, (word32)log->key_len,
		                     hash),
		    0);
		ck_assert_mem_eq(hash, log->log_id, 32);
		ck_assert_ptr_eq(loglist_find(l, log->log_id), log);
		ck_assert_ptr_nonnull(log->description);
		ck_assert_ptr_eq(log->op_name,
		    loglist_operator_name(l, log->op_index));
		if (log->tiled) {
			ck_assert_ptr_null(log->url);
			ck_assert_ptr_nonnull(log->submission_url);
			ck_assert_ptr_nonnull(log->monitoring_url);
			(*tiled)++;
		} else {
			ck_assert_ptr_nonnull(log->url);
			ck_assert_ptr_null(log->submission_url);
			ck_assert_ptr_null(log->monitoring_url);
			(*plain)++;
		}
	}
	ck_assert_ptr_null(loglist_get(l, loglist_count(l)));
}

static const struct loglist_log *
by_description(const struct loglist *l, const char *desc)
{
	size_t i;

	for (i = 0; i < loglist_count(l); i++)
		if (strcmp(loglist_get(l, i)->description, desc) == 0)
			return loglist_get(l, i);
	return NULL;
}

START_TEST(test_chrome_list)
{
	struct loglist *l = load(LL_DIR "all_logs_list.json", 0);
	const struct loglist_log *log;
	unsigned states[LOGLIST_STATE__MAX] = {0};
	size_t plain, tiled, i, ro = 0;
	int64_t t;

	ck_assert_str_eq(loglist_version(l), "89.25");
	ck_assert_int_eq(loglist_timestamp(l, &t), 0);
	ck_assert_int_eq(t, 1787232897); /* 2026-08-20T13:34:57Z */
	ck_assert_uint_eq(loglist_operator_count(l), 9);
	ck_assert_str_eq(loglist_operator_name(l, 0), "Google");
	ck_assert_str_eq(loglist_operator_name(l, 8), "Microsec");
	ck_assert_ptr_null(loglist_operator_name(l, 9));
	ck_assert_uint_eq(loglist_count(l), 117);
	counts(l, &plain, &tiled);
	ck_assert_uint_eq(plain, 42);
	ck_assert_uint_eq(tiled, 75);

	for (i = 0; i < loglist_count(l); i++) {
		log = loglist_get(l, i);
		states[log->state]++;
		if (log->state == LOGLIST_STATE_NONE)
			ck_assert_int_eq(log->state_time, 0);
		else
			ck_assert_int_gt(log->state_time, 1300000000);
		if (log->has_final_sth) {
			ck_assert_int_eq(log->state, LOGLIST_STATE_READONLY);
			ro++;
		}
	}
	/* Counted from the file with an independent JSON reader. */
	ck_assert_uint_eq(states[LOGLIST_STATE_NONE], 39);
	ck_assert_uint_eq(states[LOGLIST_STATE_USABLE], 37);
	ck_assert_uint_eq(states[LOGLIST_STATE_PENDING], 16);
	ck_assert_uint_eq(states[LOGLIST_STATE_REJECTED], 14);
	ck_assert_uint_eq(states[LOGLIST_STATE_QUALIFIED], 6);
	ck_assert_uint_eq(states[LOGLIST_STATE_RETIRED], 3);
	ck_assert_uint_eq(states[LOGLIST_STATE_READONLY], 2);
	ck_assert_uint_eq(ro, 2);

	log = by_description(l, "Geomys 'Tuscolo2026h1'");
	ck_assert_ptr_nonnull(log);
	ck_assert_int_eq(log->state, LOGLIST_STATE_REJECTED);
	ck_assert_str_eq(loglist_state_names[log->state], "rejected");
	ck_assert(log->tiled);
	ck_assert_str_eq(log->op_name, "Geomys");
	ck_assert_str_eq(log->monitoring_url,
	    "https://tuscolo2026h1.skylight.geomys.org/");
	ck_assert_str_eq(log->submission_url,
	    "https://tuscolo2026h1.sunlight.geomys.org/");
	ck_assert_uint_eq(log->mmd, 60);
	ck_assert(log->has_interval);
	ck_assert_int_eq(log->interval_start, 1767225600); /* 2026-01-01 */
	ck_assert_int_eq(log->interval_end, 1782864000);   /* 2026-07-01 */
	loglist_free(l);
}
END_TEST

START_TEST(test_find)
{
	struct loglist *l = load(LL_DIR "all_logs_list.json", 0);
	const struct loglist_log *log;
	uint8_t id[32];

	b64(ARGON_ID, id, sizeof(id));
	log = loglist_find(l, id);
	ck_assert_ptr_nonnull(log);
	ck_assert_str_eq(log->description, "Google 'Argon2026h2' log");
	ck_assert_str_eq(log->op_name, "Google");
	ck_assert_str_eq(log->url,
	    "https://ct.googleapis.com/logs/us1/argon2026h2/");
	ck_assert(!log->tiled);
	ck_assert_uint_eq(log->mmd, 86400);
	ck_assert_int_eq(log->state, LOGLIST_STATE_USABLE);
	ck_assert_int_eq(log->state_time,
	    1727734767); /* 2024-09-30T22:19:27Z */
	ck_assert_uint_eq(log->key_len, 91);
	ck_assert_int_eq(log->type, LOGLIST_TYPE_NONE);
	ck_assert_ptr_null(log->log_type);

	/* One bit off, all zeros, all ones: unknown. */
	id[31] ^= 1;
	ck_assert_ptr_null(loglist_find(l, id));
	memset(id, 0, sizeof(id));
	ck_assert_ptr_null(loglist_find(l, id));
	memset(id, 0xff, sizeof(id));
	ck_assert_ptr_null(loglist_find(l, id));
	/* An ID from another list (the RFC 6962 test log). */
	b64("3xwuwRUAlFJHqWFoMl3cXHlZ6PfG04j8AC4LvT9012Q=", id, sizeof(id));
	ck_assert_ptr_null(loglist_find(l, id));
	loglist_free(l);
}
END_TEST

START_TEST(test_signature)
{
	uint8_t *js, *sig, *pem, *other;
	size_t len, siglen, pemlen, olen, pos[4], i;
	struct loglist *l = NULL;
	char why[256];

	js = testutil_read(LL_DIR "all_logs_list.json", &len);
	sig = testutil_read(LL_DIR "all_logs_list.sig", &siglen);
	pem = testutil_read(LL_DIR "log_list_pubkey.pem", &pemlen);
	ck_assert_uint_eq(siglen, 512);
	ck_assert_int_eq(loglist_verify_sig(js, len, sig, siglen, (char *)pem,
	                     pemlen),
	    0);

	/* One byte of the JSON flipped: first, middle, last, a digit. */
	pos[0] = 0;
	pos[1] = len / 2;
	pos[2] = len - 1;
	for (pos[3] = 0; memcmp(js + pos[3], "89.25", 5) != 0; pos[3]++)
		ck_assert_uint_lt(pos[3], len - 5);
	for (i = 0; i < 4; i++) {
		js[pos[i]] ^= 0x01;
		ck_assert_int_eq(loglist_verify_sig(js, len, sig, siglen,
		                     (char *)pem, pemlen),
		    CT_ERR_SIGNATURE);
		js[pos[i]] ^= 0x01;
	}
	/* One byte dropped or added. */
	ck_assert_int_eq(loglist_verify_sig(js, len - 1, sig, siglen,
	                     (char *)pem, pemlen),
	    CT_ERR_SIGNATURE);
	/* One byte of the signature flipped, and a short signature. */
	sig[100] ^= 0x80;
	ck_assert_int_eq(loglist_verify_sig(js, len, sig, siglen, (char *)pem,
	                     pemlen),
	    CT_ERR_SIGNATURE);
	sig[100] ^= 0x80;
	ck_assert_int_lt(loglist_verify_sig(js, len, sig, siglen - 1,
	                     (char *)pem, pemlen),
	    0);
	ck_assert_int_lt(loglist_verify_sig(js, len, sig, 0, (char *)pem,
	                     pemlen),
	    0);
	/* Another key (ECDSA): never valid. */
	other = testutil_read(SHARED_TESTDATA "ct-testdata/"
	                                      "ct-server-key-public.pem",
	    &olen);
	ck_assert_int_lt(loglist_verify_sig(js, len, sig, siglen, (char *)other,
	                     olen),
	    0);
	free(other);
	/* No PEM block at all. */
	ck_assert_int_eq(loglist_verify_sig(js, len, sig, siglen, "junk", 4),
	    CT_ERR_NOT_FOUND);
	ck_assert_int_eq(loglist_verify_sig(js, len, sig, siglen, (char *)pem,
	                     pemlen),
	    0);

	/* Through the files. */
	ck_assert_int_eq(loglist_load(LL_DIR "all_logs_list.json",
	                     LL_DIR "all_logs_list.sig",
	                     LL_DIR "log_list_pubkey.pem", 0, &l, why,
	                     sizeof(why)),
	    0);
	ck_assert_uint_eq(loglist_count(l), 117);
	loglist_free(l);
	/* A signature over another file. */
	ck_assert_int_eq(loglist_load(LL_DIR "known_logs_list.json",
	                     LL_DIR "all_logs_list.sig",
	                     LL_DIR "log_list_pubkey.pem",
	                     LOGLIST_F_STATE_HISTORY, &l, why, sizeof(why)),
	    CT_ERR_SIGNATURE);
	ck_assert_ptr_null(l);
	ck_assert_ptr_nonnull(strstr(why, "signature"));
	free(js);
	free(sig);
	free(pem);
}
END_TEST

START_TEST(test_apple_list)
{
	struct loglist *l = load(LL_DIR "current_log_list.json", 0);
	size_t plain, tiled;
	int64_t t;

	ck_assert_str_eq(loglist_version(l), "511");
	ck_assert_int_eq(loglist_timestamp(l, &t), CT_ERR_NOT_FOUND);
	ck_assert_uint_eq(loglist_operator_count(l), 16);
	counts(l, &plain, &tiled);
	ck_assert_uint_eq(plain, 135);
	ck_assert_uint_eq(tiled, 31);
	ck_assert_int_eq(by_description(l, "StartCom log")->state,
	    LOGLIST_STATE_REJECTED);
	loglist_free(l);
}
END_TEST

START_TEST(test_mozilla_list)
{
	struct loglist *l = NULL;
	const struct loglist_log *log;
	uint8_t *js, id[32];
	size_t len, plain, tiled;
	char why[256];

	/* Its states carry history (two keys): refused unless asked for. */
	js = testutil_read(LL_DIR "known_logs_list.json", &len);
	ck_assert_int_eq(loglist_parse(js, len, 0, &l, why, sizeof(why)),
	    CT_ERR_FORMAT);
	ck_assert_ptr_null(l);
	ck_assert_ptr_nonnull(strstr(why, "more than one key"));
	free(js);

	l = load(LL_DIR "known_logs_list.json", LOGLIST_F_STATE_HISTORY);
	ck_assert_str_eq(loglist_version(l), "");
	ck_assert_uint_eq(loglist_operator_count(l), 8);
	counts(l, &plain, &tiled);
	ck_assert_uint_eq(plain, 26);
	ck_assert_uint_eq(tiled, 22);
	/* qualified 2025-08-11, usable 2025-09-22T12:29:18+01:00: usable. */
	b64(ARGON_ID, id, sizeof(id));
	log = loglist_find(l, id);
	ck_assert_ptr_nonnull(log);
	ck_assert_int_eq(log->state, LOGLIST_STATE_USABLE);
	ck_assert_int_eq(log->state_time, 1758540558);
	ck_assert_str_eq(log->url, "");
	ck_assert_uint_eq(log->mmd, 0);
	loglist_free(l);
}
END_TEST

/* Replaces the first occurrence of from in a copy of s by to. */
static char *
replace(const char *s, size_t len, const char *from, const char *to)
{
	struct util_buf b;
	const char *p;

	p = strstr(s, from);
	ck_assert_ptr_nonnull(p);
	util_buf_init(&b, len + strlen(to) + 1);
	ck_assert_int_eq(util_buf_append(&b, s, (size_t)(p - s)), 0);
	ck_assert_int_eq(util_buf_append_str(&b, to), 0);
	ck_assert_int_eq(util_buf_append_str(&b, p + strlen(from)), 0);
	ck_assert_int_eq(util_buf_cstr(&b), 0);
	return (char *)b.data;
}

/* Parses text; expects rc, and when want_why, that why holds it. */
static void
expect(const char *text, unsigned flags, int rc, const char *want_why)
{
	struct loglist *l = NULL;
	char why[256];
	int got;

	got = loglist_parse((const uint8_t *)text, strlen(text), flags, &l, why,
	    sizeof(why));
	ck_assert_msg(got == rc, "got %s (%s), want %s", ct_strerror(got), why,
	    ct_strerror(rc));
	if (rc == 0) {
		ck_assert_ptr_nonnull(l);
		ck_assert_uint_eq(loglist_count(l), 1);
	} else {
		ck_assert_ptr_null(l);
	}
	if (want_why != NULL)
		ck_assert_msg(strstr(why, want_why) != NULL, "why: %s", why);
	loglist_free(l);
}

START_TEST(test_chrome_modified)
{
	uint8_t *js;
	size_t len;
	char *m;

	js = testutil_read(LL_DIR "all_logs_list.json", &len);
	/* Argon2026h2's log_id becomes Xenon2026h2's: no longer its key's. */
	m = replace((char *)js, len, "\"" ARGON_ID "\"", "\"" XENON_ID "\"");
	expect(m, 0, CT_ERR_FORMAT,
	    "operators[0].logs[1]: log_id is not "
	    "SHA-256(key)");
	free(m);
	/* A state with two keys. */
	m = replace((char *)js, len, "\"state\": {",
	    "\"state\": {\"usable\": {\"timestamp\": \"2020-01-01T00:00:00Z\"},");
	expect(m, 0, CT_ERR_FORMAT, "operators[0].logs[0]: state has more");
	free(m);
	/* A log_id that is a number. */
	m = replace((char *)js, len, "\"" ARGON_ID "\"", "12345");
	expect(m, 0, CT_ERR_FORMAT, "operators[0].logs[1]: log_id");
	free(m);
	/* A key one character off. */
	m = replace((char *)js, len, "Kjpni/66DIYr", "KjpnI/66DIYr");
	expect(m, 0, CT_ERR_FORMAT, NULL);
	free(m);
	free(js);
}
END_TEST

/* One operator with one RFC 6962 log whose members are body. */
static char *
list1(const char *body)
{
	struct util_buf b;

	util_buf_init(&b, 1024 * 1024);
	ck_assert_int_eq(
	    util_buf_printf(&b,
	        "{\"version\":\"1\",\"operators\":[{\"name\":\"Op\","
	        "\"logs\":[{%s}]}]}",
	        body),
	    0);
	ck_assert_int_eq(util_buf_cstr(&b), 0);
	return (char *)b.data;
}

#define GOOD_ID "\"log_id\":\"" ARGON_ID "\""
#define GOOD_KEY "\"key\":\"" ARGON_KEY "\""
#define GOOD_BASE GOOD_ID "," GOOD_KEY ",\"url\":\"https://x/\",\"mmd\":86400"

static void
expect_log(const char *body, unsigned flags, int rc, const char *why)
{
	char *s = list1(body);

	expect(s, flags, rc, why);
	free(s);
}

START_TEST(test_synthetic_log)
{
	/* The minimum, and unknown keys anywhere. */
	expect_log(GOOD_BASE, 0, 0, NULL);
	expect_log(GOOD_BASE ",\"tls_only\":true,\"dns\":\"x\",\"x\":[{}]", 0,
	    0, NULL);
	/* "\/" in the base64. */
	expect_log("\"log_id\":\"" ARGON_ID_ESCAPED "\"," GOOD_KEY
	           ",\"url\":\"u\",\"mmd\":1",
	    0, 0, NULL);
	/* Wrong types and missing fields. */
	expect_log("\"log_id\":12," GOOD_KEY ",\"url\":\"u\",\"mmd\":1", 0,
	    CT_ERR_FORMAT, "log_id");
	expect_log(GOOD_KEY ",\"url\":\"u\",\"mmd\":1", 0, CT_ERR_FORMAT,
	    "missing log_id");
	expect_log(GOOD_ID ",\"url\":\"u\",\"mmd\":1", 0, CT_ERR_FORMAT,
	    "missing key");
	expect_log(GOOD_ID "," GOOD_KEY ",\"mmd\":1", 0, CT_ERR_FORMAT,
	    "missing url");
	expect_log(GOOD_ID "," GOOD_KEY ",\"url\":\"u\"", 0, CT_ERR_FORMAT,
	    "missing mmd");
	expect_log(GOOD_ID "," GOOD_KEY ",\"url\":7,\"mmd\":1", 0,
	    CT_ERR_FORMAT, "url");
	expect_log(GOOD_ID "," GOOD_KEY ",\"url\":\"u\",\"mmd\":\"1\"", 0,
	    CT_ERR_FORMAT, "mmd");
	expect_log(GOOD_ID "," GOOD_KEY ",\"url\":\"u\",\"mmd\":-1", 0,
	    CT_ERR_FORMAT, "mmd");
	expect_log(GOOD_ID "," GOOD_KEY ",\"url\":\"u\",\"mmd\":4294967296", 0,
	    CT_ERR_FORMAT, "mmd");
	expect_log(GOOD_ID "," GOOD_KEY ",\"url\":\"u\",\"mmd\":1.5", 0,
	    CT_ERR_FORMAT, "mmd");
	expect_log(GOOD_BASE ",\"description\":[]", 0, CT_ERR_FORMAT,
	    "description");
	expect_log(GOOD_BASE ",\"log_type\":null", 0, CT_ERR_FORMAT,
	    "log_type");
	/* A log_id of the wrong length, a key that is no DER SEQUENCE. */
	expect_log("\"log_id\":\"AAAA\"," GOOD_KEY ",\"url\":\"u\",\"mmd\":1",
	    0, CT_ERR_FORMAT, "log_id");
	expect_log(GOOD_ID ",\"key\":\"AAAA\",\"url\":\"u\",\"mmd\":1", 0,
	    CT_ERR_FORMAT, "DER");
	expect_log(GOOD_ID ",\"key\":\"MF!w\",\"url\":\"u\",\"mmd\":1", 0,
	    CT_ERR_FORMAT, "key");
	/* A key is a member once only. */
	expect_log(GOOD_BASE ",\"mmd\":5", 0, CT_ERR_FORMAT, NULL);
	/* \u0000 in text. */
	expect_log(GOOD_BASE ",\"description\":\"a\\u0000b\"", 0, CT_ERR_FORMAT,
	    "description");
}
END_TEST

START_TEST(test_synthetic_state)
{
	struct loglist *l = NULL;
	const struct loglist_log *log;
	char *s;

	expect_log(GOOD_BASE ",\"state\":{\"usable\":{\"timestamp\":"
	                     "\"2024-01-01T00:00:00Z\"}}",
	    0, 0, NULL);
	/* Two keys; with the history flag the latest wins. */
	s = list1(GOOD_BASE ",\"state\":{\"usable\":{\"timestamp\":"
	                    "\"2024-01-01T00:00:00Z\"},\"readonly\":"
	                    "{\"timestamp\":\"2025-01-01T00:00:00Z\","
	                    "\"final_tree_head\":{\"tree_size\":7,"
	                    "\"sha256_root_hash\":\"" ARGON_ID "\"}}}");
	expect(s, 0, CT_ERR_FORMAT, "state has more than one key");
	ck_assert_int_eq(loglist_parse((uint8_t *)s, strlen(s),
	                     LOGLIST_F_STATE_HISTORY, &l, NULL, 0),
	    0);
	log = loglist_get(l, 0);
	ck_assert_int_eq(log->state, LOGLIST_STATE_READONLY);
	ck_assert_int_eq(log->state_time, 1735689600);
	ck_assert(log->has_final_sth);
	ck_assert_uint_eq(log->final_tree_size, 7);
	ck_assert_mem_eq(log->final_root_hash, log->log_id, 32);
	loglist_free(l);
	free(s);
	/* The same state twice, unknown, empty, not an object. */
	expect_log(GOOD_BASE ",\"state\":{\"usable\":{\"timestamp\":"
	                     "\"2024-01-01T00:00:00Z\"},\"usable\":"
	                     "{\"timestamp\":\"2024-01-01T00:00:00Z\"}}",
	    LOGLIST_F_STATE_HISTORY, CT_ERR_FORMAT, "twice");
	expect_log(GOOD_BASE ",\"state\":{\"frozen\":{\"timestamp\":"
	                     "\"2024-01-01T00:00:00Z\"}}",
	    0, CT_ERR_FORMAT, "unknown state");
	expect_log(GOOD_BASE ",\"state\":{}", 0, CT_ERR_FORMAT, "empty");
	expect_log(GOOD_BASE ",\"state\":\"usable\"", 0, CT_ERR_FORMAT,
	    "state");
	expect_log(GOOD_BASE ",\"state\":{\"usable\":true}", 0, CT_ERR_FORMAT,
	    "state");
	/* Timestamps: missing, wrong type, not RFC 3339. */
	expect_log(GOOD_BASE ",\"state\":{\"usable\":{}}", 0, CT_ERR_FORMAT,
	    "timestamp");
	expect_log(GOOD_BASE ",\"state\":{\"usable\":{\"timestamp\":1}}", 0,
	    CT_ERR_FORMAT, "timestamp");
	expect_log(GOOD_BASE ",\"state\":{\"usable\":{\"timestamp\":"
	                     "\"yesterday\"}}",
	    0, CT_ERR_FORMAT, "timestamp");
	/* A bad final tree head. */
	expect_log(GOOD_BASE
	    ",\"state\":{\"readonly\":{\"timestamp\":"
	    "\"2024-01-01T00:00:00Z\",\"final_tree_head\":"
	    "{\"tree_size\":-1,\"sha256_root_hash\":\"" ARGON_ID "\"}}}",
	    0, CT_ERR_FORMAT, "tree_size");
	/* Temporal interval. */
	expect_log(GOOD_BASE ",\"temporal_interval\":{\"start_inclusive\":"
	                     "\"2026-01-01T00:00:00Z\",\"end_exclusive\":"
	                     "\"2026-07-01T00:00:00Z\"}",
	    0, 0, NULL);
	expect_log(GOOD_BASE ",\"temporal_interval\":{\"start_inclusive\":"
	                     "\"2026-07-01T00:00:00Z\",\"end_exclusive\":"
	                     "\"2026-01-01T00:00:00Z\"}",
	    0, CT_ERR_FORMAT, "temporal_interval");
	expect_log(GOOD_BASE ",\"temporal_interval\":{\"start_inclusive\":"
	                     "\"2026-07-01T00:00:00Z\"}",
	    0, CT_ERR_FORMAT, "end_exclusive");
	expect_log(GOOD_BASE ",\"temporal_interval\":[]", 0, CT_ERR_FORMAT,
	    "temporal_interval");
}
END_TEST

START_TEST(test_synthetic_top)
{
	char *s;
	struct util_buf b;
	size_t i;

	expect("[]", 0, CT_ERR_FORMAT, "not a JSON object");
	expect("{}", 0, CT_ERR_FORMAT, "missing operators");
	expect("{\"operators\":{}}", 0, CT_ERR_FORMAT, "operators");
	expect("{\"operators\":[1]}", 0, CT_ERR_FORMAT,
	    "operators[0]: "
	    "operator");
	expect("{\"operators\":[{\"logs\":[]}]}", 0, CT_ERR_FORMAT,
	    "missing name");
	expect("{\"operators\":[{\"name\":\"a\",\"logs\":{}}]}", 0,
	    CT_ERR_FORMAT, "logs not an array");
	expect("{\"operators\":[{\"name\":\"a\",\"logs\":[7]}]}", 0,
	    CT_ERR_FORMAT, "not an object");
	expect("{\"version\":89.25,\"operators\":[]}", 0, CT_ERR_FORMAT,
	    "version");
	expect("{\"log_list_timestamp\":\"x\",\"operators\":[]}", 0,
	    CT_ERR_FORMAT, "log_list_timestamp");
	expect("{\"operators\":[]} {}", 0, CT_ERR_TRAILING, "JSON");
	expect("{\"operators\":[{\"name\":\"a\",\"logs\":[{", 0,
	    CT_ERR_TRUNCATED, NULL);

	/* The same log twice. */
	s = NULL;
	util_buf_init(&b, 1024 * 1024);
	ck_assert_int_eq(util_buf_printf(&b,
	                     "{\"operators\":[{\"name\":\"a\",\"logs\":[{%s}]},"
	                     "{\"name\":\"b\",\"logs\":[{%s}]}]}",
	                     GOOD_BASE, GOOD_BASE),
	    0);
	ck_assert_int_eq(util_buf_cstr(&b), 0);
	expect((char *)b.data, 0, CT_ERR_FORMAT, "listed twice");
	util_buf_clear(&b);

	/* A tiled log needs both URLs. */
	util_buf_init(&b, 1024 * 1024);
	ck_assert_int_eq(util_buf_printf(&b,
	                     "{\"operators\":[{\"name\":\"a\",\"tiled_logs\":"
	                     "[{%s,%s,\"mmd\":60,\"submission_url\":\"s\"}]}]}",
	                     GOOD_ID, GOOD_KEY),
	    0);
	ck_assert_int_eq(util_buf_cstr(&b), 0);
	expect((char *)b.data, 0, CT_ERR_FORMAT,
	    "operators[0].tiled_logs[0]: missing monitoring_url");
	util_buf_clear(&b);

	/* More logs than the cap: counted before any is parsed. */
	util_buf_init(&b, 4 * 1024 * 1024);
	ck_assert_int_eq(util_buf_append_str(&b,
	                     "{\"operators\":[{\"name\":"
	                     "\"a\",\"logs\":["),
	    0);
	for (i = 0; i <= LOGLIST_MAX_LOGS; i++)
		ck_assert_int_eq(util_buf_append_str(&b, i ? ",{}" : "{}"), 0);
	ck_assert_int_eq(util_buf_append_str(&b, "]}]}"), 0);
	ck_assert_int_eq(util_buf_cstr(&b), 0);
	expect((char *)b.data, 0, CT_ERR_TOO_BIG, "too many logs");
	util_buf_clear(&b);

	/* Larger than the byte cap. */
	s = malloc(LOGLIST_MAX_BYTES + 2);
	ck_assert_ptr_nonnull(s);
	memset(s, ' ', LOGLIST_MAX_BYTES + 1);
	s[0] = '{';
	s[LOGLIST_MAX_BYTES - 1] = '}';
	s[LOGLIST_MAX_BYTES + 1] = '\0';
	expect(s, 0, CT_ERR_TOO_BIG, "too large");
	free(s);
}
END_TEST

static Suite *
loglist_suite(void)
{
	Suite *s = suite_create("loglist");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_chrome_list);
	tcase_add_test(tc, test_find);
	tcase_add_test(tc, test_signature);
	tcase_add_test(tc, test_apple_list);
	tcase_add_test(tc, test_mozilla_list);
	tcase_add_test(tc, test_chrome_modified);
	tcase_add_test(tc, test_synthetic_log);
	tcase_add_test(tc, test_synthetic_state);
	tcase_add_test(tc, test_synthetic_top);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return testutil_run(loglist_suite());
}
