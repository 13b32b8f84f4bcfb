/*
 * Unit tests for poller/crtsh: the parser on the real github.com sample
 * (../shared/testdata/crtsh), every field with a wrong type, truncation at
 * every length, HTML, the 10,000-row cap; URL building and escaping;
 * download verification with real certificates (Let's Encrypt R11 and the
 * scan fixtures); and the driver against tests/unit/fixture_httpd on
 * 127.0.0.1: search + downloads + cache (the second run downloads
 * nothing), mismatch and failure per row, 503 and HTML errors, the
 * download cap, the in-flight limit, dedupe across the wildcard search,
 * cancel, and a corrupt cache entry. Every driver test ends with
 * uv_loop_close() == 0.
 */
#define _GNU_SOURCE /* nftw */
#include <dirent.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <uv.h>

#include "cert.h"
#include "crtsh.h"
#include "fixture_httpd.h"
#include "http.h"
#include "names.h"
#include "state.h"
#include "testutil.h"

#define CRTSH_SAMPLE SHARED_TESTDATA "crtsh/crtsh-github.com-2023.json"
#define LE_DATA SHARED_TESTDATA "letsencrypt/"
#define SCAN_DATA LOCAL_TESTDATA "scan/"
#define BIG_BODY_BYTES (8 * 1024 * 1024)
#define JSON_CT "Content-Type: application/json\r\n"
#define PEM_CT "Content-Type: application/pkix-cert\r\n"
#define FAST_RETRY "Retry-After: 0\r\n"

/* ------------------------------------------------------------ helpers */

static int
rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
rm_rf(const char *dir)
{
	nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static struct ct_cert *
load_cert(const char *path)
{
	struct ct_cert **v = NULL, *c;
	size_t n = 0;
	int rc = cert_load_file(path, &v, &n);

	ck_assert_msg(rc == 0 && n == 1, "%s: %s", path, ct_strerror(rc));
	c = v[0];
	free(v);
	return c;
}

static uint8_t *
read_pem(const char *path, size_t *len)
{
	return testutil_read(path, len);
}

static int
parse_str(const char *s, struct crtsh_rows *r, char *why, size_t whysz)
{
	return crtsh_parse(s, strlen(s), r, why, whysz);
}

/* crt.sh's time form: RFC 3339 without the zone. */
static void
crtsh_time(int64_t t, char out[UTIL_RFC3339_LEN])
{
	util_time_rfc3339(t, out);
	out[strlen(out) - 1] = '\0'; /* drop the Z */
}

/* Row fields as a test builds them. */
struct trow {
	uint64_t id;
	char serial[160];
	int64_t not_before, not_after;
	char names[1024]; /* JSON-escaped name_value */
	char cn[256];     /* "" for null */
};

static void
trow_from_cert(struct trow *r, uint64_t id, const struct ct_cert *c)
{
	size_t i, o = 0;

	memset(r, 0, sizeof(*r));
	r->id = id;
	cert_serial_hex(c, r->serial, sizeof(r->serial));
	r->not_before = c->not_before;
	r->not_after = c->not_after;
	for (i = 0; i < c->n_dns_names; i++)
		o += (size_t)snprintf(r->names + o, sizeof(r->names) - o,
		    "%s%s", i ? "\\n" : "", c->dns_names[i].name);
	if (c->n_dns_names == 0 && c->subject_cn != NULL)
		snprintf(r->names, sizeof(r->names), "%s", c->subject_cn);
	if (c->subject_cn != NULL)
		snprintf(r->cn, sizeof(r->cn), "%s", c->subject_cn);
}

static void
trow_json(struct util_buf *b, const struct trow *r)
{
	char nb[UTIL_RFC3339_LEN], na[UTIL_RFC3339_LEN];

	crtsh_time(r->not_before, nb);
	crtsh_time(r->not_after, na);
	ck_assert_int_eq(util_buf_append_str(b,
	                     "{\"issuer_ca_id\":16418,\"issuer_name\":\"C=US, "
	                     "O=Test CA\",\"common_name\":"),
	    0);
	if (r->cn[0] != '\0')
		ck_assert_int_eq(util_buf_printf(b, "\"%s\"", r->cn), 0);
	else
		ck_assert_int_eq(util_buf_append_str(b, "null"), 0);
	ck_assert_int_eq(util_buf_printf(b,
	                     ",\"name_value\":\"%s\",\"id\":%llu,"
	                     "\"entry_timestamp\":\"2026-11-27T21:16:00.5\","
	                     "\"not_before\":\"%s\",\"not_after\":\"%s\","
	                     "\"serial_number\":\"%s\",\"result_count\":3}",
	                     r->names, (unsigned long long)r->id, nb, na,
	                     r->serial),
	    0);
}

/* A JSON array of rows, NUL-terminated; the caller frees it. */
static char *
rows_json(const struct trow *rows, size_t n)
{
	struct util_buf b;
	size_t i;

	util_buf_init(&b, BIG_BODY_BYTES);
	ck_assert_int_eq(util_buf_append_str(&b, "["), 0);
	for (i = 0; i < n; i++) {
		if (i > 0)
			ck_assert_int_eq(util_buf_append_str(&b, ","), 0);
		trow_json(&b, &rows[i]);
	}
	ck_assert_int_eq(util_buf_append_str(&b, "]"), 0);
	ck_assert_int_eq(util_buf_cstr(&b), 0);
	return (char *)util_buf_take(&b, NULL);
}

/* ------------------------------------------------------------ parser */

START_TEST(test_parse_sample)
{
	struct crtsh_rows r;
	char why[200], *names[64];
	size_t len, i, j, k, nnames = 0, n185756 = 0, n244621 = 0, n239799 = 0;
	uint8_t *body = testutil_read(CRTSH_SAMPLE, &len);
	const struct crtsh_row *row;
	bool seen;

	ck_assert_int_eq(crtsh_parse((char *)body, len, &r, why, sizeof(why)),
	    0);
	ck_assert_str_eq(why, "");
	ck_assert_uint_eq(r.n, 11);
	ck_assert_uint_eq(r.n_sent, 11);
	ck_assert(!r.incomplete);
	for (i = 0; i < r.n; i++) {
		row = &r.rows[i];
		if (row->issuer_ca_id == 185756) {
			n185756++;
			ck_assert_ptr_nonnull(strstr(row->issuer_name,
			    "DigiCert TLS RSA SHA256 2020 CA1"));
		} else if (row->issuer_ca_id == 244621) {
			n244621++;
			ck_assert_ptr_nonnull(strstr(row->issuer_name,
			    "GlobalSign Atlas R3 DV TLS CA 2022 Q4"));
		} else if (row->issuer_ca_id == 239799) {
			n239799++;
			ck_assert_ptr_nonnull(strstr(row->issuer_name,
			    "GeoTrust Global TLS RSA4096 SHA256 2022 CA1"));
		}
		for (j = 0; j < row->n_names; j++) {
			seen = false;
			for (k = 0; k < nnames; k++)
				if (strlen(names[k]) == row->names[j].len &&
				    memcmp(names[k], row->names[j].name,
				        row->names[j].len) == 0)
					seen = true;
			if (!seen) {
				ck_assert_uint_lt(nnames, 64);
				names[nnames++] = strndup(row->names[j].name,
				    row->names[j].len);
			}
		}
		ck_assert(row->has_entry_timestamp);
		ck_assert_int_lt(row->not_before, row->not_after);
		ck_assert_uint_eq(strlen(row->serial), 32);
	}
	ck_assert_uint_eq(n185756, 9);
	ck_assert_uint_eq(n244621, 1);
	ck_assert_uint_eq(n239799, 1);
	ck_assert_uint_eq(nnames, 21);
	for (k = 0; k < nnames; k++)
		free(names[k]);
	/* The first row, field by field. */
	row = &r.rows[0];
	ck_assert_uint_eq(row->id, 8383197569ULL);
	ck_assert_str_eq(row->common_name, "skyline.github.com");
	ck_assert_uint_eq(row->common_name_len, 18);
	ck_assert_uint_eq(row->n_names, 2);
	ck_assert_uint_eq(row->names[1].len, strlen("www.skyline.github.com"));
	ck_assert_mem_eq(row->names[1].name, "www.skyline.github.com",
	    row->names[1].len);
	ck_assert_str_eq(row->serial, "071a522c3982234f64fdd14b8f4b9577");
	/* 2023-01-10T00:00:00, 2024-01-24T23:59:59, 2023-01-10T23:48:41 */
	ck_assert_int_eq(row->not_before, 1673308800);
	ck_assert_int_eq(row->not_after, 1706140799);
	ck_assert_int_eq(row->entry_timestamp, 1673394521);
	/* A two-digit fraction ("18:07:17.34") parses too. */
	ck_assert_uint_eq(r.rows[7].id, 7687547527ULL);
	ck_assert_int_eq(r.rows[7].entry_timestamp % 60, 17);
	crtsh_rows_clear(&r);
	ck_assert_ptr_null(r.rows);
	free(body);
}
END_TEST

START_TEST(test_parse_truncated)
{
	struct crtsh_rows r;
	size_t len, cut, end;
	uint8_t *body = testutil_read(CRTSH_SAMPLE, &len);
	int rc;

	end = len;
	while (end > 0 && body[end - 1] != ']')
		end--;
	ck_assert_uint_gt(end, 0);
	for (cut = 0; cut < end; cut++) {
		rc = crtsh_parse((char *)body, cut, &r, NULL, 0);
		ck_assert_msg(rc != 0, "a prefix of %zu bytes was accepted",
		    cut);
		ck_assert_ptr_null(r.rows);
		ck_assert_uint_eq(r.n, 0);
	}
	ck_assert_int_eq(crtsh_parse((char *)body, end, &r, NULL, 0), 0);
	crtsh_rows_clear(&r);
	free(body);
}
END_TEST

START_TEST(test_parse_shapes)
{
	static const char html[] =
	    "<!DOCTYPE html><html><body>crt.sh is down</body></html>";
	struct crtsh_rows r;
	char why[200];

	ck_assert_int_eq(parse_str(html, &r, why, sizeof(why)), CT_ERR_FORMAT);
	ck_assert_str_eq(why, "response is HTML, not JSON");
	ck_assert_int_eq(parse_str("  \n<html>", &r, why, sizeof(why)),
	    CT_ERR_FORMAT);
	ck_assert_int_eq(parse_str("", &r, why, sizeof(why)), CT_ERR_TRUNCATED);
	ck_assert_str_eq(why, "empty response");
	ck_assert_int_eq(parse_str(" \r\n", &r, why, sizeof(why)),
	    CT_ERR_TRUNCATED);
	ck_assert_int_eq(parse_str("[]", &r, why, sizeof(why)), 0);
	ck_assert_uint_eq(r.n, 0);
	ck_assert(!r.incomplete);
	crtsh_rows_clear(&r);
	ck_assert_int_eq(parse_str(" [ ]\n", &r, why, sizeof(why)), 0);
	crtsh_rows_clear(&r);
	ck_assert_int_eq(parse_str("{\"error\":\"x\"}", &r, why, sizeof(why)),
	    CT_ERR_FORMAT);
	ck_assert_str_eq(why, "response is a JSON object, not an array");
	ck_assert_int_eq(parse_str("null", &r, why, sizeof(why)),
	    CT_ERR_FORMAT);
	ck_assert_int_eq(parse_str("[1]", &r, why, sizeof(why)), CT_ERR_FORMAT);
	ck_assert_str_eq(why, "row 0 is not an object");
	ck_assert_int_eq(parse_str("[{}]", &r, why, sizeof(why)),
	    CT_ERR_FORMAT);
	ck_assert_str_eq(why, "row 0: no id");
	ck_assert_int_eq(parse_str("[] []", &r, why, sizeof(why)),
	    CT_ERR_TRAILING);
	ck_assert_int_eq(parse_str("[{\"id\":1,}]", &r, why, sizeof(why)),
	    CT_ERR_FORMAT);
	ck_assert_int_eq(crtsh_parse(NULL, 0, &r, why, sizeof(why)),
	    CT_ERR_TRUNCATED);
	ck_assert_int_eq(crtsh_parse("[]", 2, NULL, why, sizeof(why)),
	    CT_ERR_INVALID);
}
END_TEST

/* A valid row with one member replaced (or, with value NULL, removed). */
static char *
row_with(const char *key, const char *value)
{
	static const char *const keys[] = {"issuer_ca_id", "issuer_name",
	    "common_name", "name_value", "id", "entry_timestamp", "not_before",
	    "not_after", "serial_number", "result_count"};
	static const char *const vals[] = {"185756", "\"C=US, O=DigiCert Inc\"",
	    "\"www.example.org\"", "\"www.example.org\\nexample.org\"",
	    "8383197569", "\"2023-01-10T23:48:41.932\"",
	    "\"2023-01-10T00:00:00\"", "\"2024-01-24T23:59:59\"",
	    "\"071A522C3982234F\"", "1"};
	struct util_buf b;
	size_t i;
	bool first = true;

	util_buf_init(&b, 65536);
	ck_assert_int_eq(util_buf_append_str(&b, "[{"), 0);
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const char *v = vals[i];

		if (key != NULL && strcmp(key, keys[i]) == 0)
			v = value;
		if (v == NULL)
			continue;
		ck_assert_int_eq(util_buf_printf(&b, "%s\"%s\":%s",
		                     first ? "" : ",", keys[i], v),
		    0);
		first = false;
	}
	ck_assert_int_eq(util_buf_append_str(&b, "}]"), 0);
	ck_assert_int_eq(util_buf_cstr(&b), 0);
	return (char *)util_buf_take(&b, NULL);
}

static int
parse_row_with(const char *key, const char *value, struct crtsh_rows *r,
    char *why, size_t whysz)
{
	char *s = row_with(key, value);
	int rc = parse_str(s, r, why, whysz);

	free(s);
	return rc;
}

START_TEST(test_parse_types)
{
	static const struct {
		const char *key, *value, *why;
	} bad[] = {
	    {"id", "\"8383197569\"", "row 0: id is not a number"},
	    {"id", "1.5", "row 0: id is not a whole number"},
	    {"id", "-1", "row 0: id is not a whole number"},
	    {"id", "1e3", "row 0: id is not a whole number"},
	    {"id", "0", "row 0: id is 0"},
	    {"id", "null", "row 0: id is not a number"},
	    {"id", "true", "row 0: id is not a number"},
	    {"id", "[]", "row 0: id is not a number"},
	    {"id", "18446744073709551616", "row 0: id is not a whole number"},
	    {"id", NULL, "row 0: no id"},
	    {"issuer_ca_id", "\"185756\"",
	        "row 0: issuer_ca_id is not a "
	        "number"},
	    {"issuer_ca_id", "{}", "row 0: issuer_ca_id is not a number"},
	    {"issuer_ca_id", NULL, "row 0: no issuer_ca_id"},
	    {"issuer_name", "1", "row 0: issuer_name is not a string"},
	    {"issuer_name", "[]", "row 0: issuer_name is not a string"},
	    {"issuer_name", NULL, "row 0: no issuer_name"},
	    {"common_name", "false", "row 0: common_name is not a string"},
	    {"common_name", "{}", "row 0: common_name is not a string"},
	    {"name_value", "null", "row 0: name_value is not a string"},
	    {"name_value", "[\"a\"]", "row 0: name_value is not a string"},
	    {"name_value", NULL, "row 0: no name_value"},
	    {"entry_timestamp", "1673394521",
	        "row 0: entry_timestamp is "
	        "not a string"},
	    {"entry_timestamp", "\"yesterday\"",
	        "row 0: entry_timestamp is "
	        "not a time"},
	    {"not_before", "null", "row 0: not_before is not a string"},
	    {"not_before", "\"2023-13-10T00:00:00\"",
	        "row 0: not_before is "
	        "not a time"},
	    {"not_before", "\"2023-01-10T00:00:00+01:00\"",
	        "row 0: "
	        "not_before is "
	        "not a time"},
	    {"not_before", "\"2023-01-10\"",
	        "row 0: not_before is not a "
	        "time"},
	    {"not_before", NULL, "row 0: no not_before"},
	    {"not_after", "20240124", "row 0: not_after is not a string"},
	    {"not_after", NULL, "row 0: no not_after"},
	    {"serial_number", "123", "row 0: serial_number is not a string"},
	    {"serial_number", "null", "row 0: serial_number is not a string"},
	    {"serial_number", "\"\"",
	        "row 0: serial_number is not a hex "
	        "serial"},
	    {"serial_number", "\"abc\"",
	        "row 0: serial_number is not a hex "
	        "serial"},
	    {"serial_number", "\"0g\"",
	        "row 0: serial_number is not a hex "
	        "serial"},
	    {"serial_number", "\"07 1a\"",
	        "row 0: serial_number is not a "
	        "hex serial"},
	    {"serial_number", NULL, "row 0: no serial_number"},
	    {"result_count", "\"3\"", "row 0: result_count is not a number"},
	    {"result_count", "null", "row 0: result_count is not a number"},
	};
	struct crtsh_rows r;
	char why[200];
	size_t i;
	int rc;

	/* The template itself parses. */
	ck_assert_int_eq(parse_row_with(NULL, NULL, &r, why, sizeof(why)), 0);
	ck_assert_uint_eq(r.n, 1);
	ck_assert_str_eq(r.rows[0].serial, "071a522c3982234f"); /* lowered */
	crtsh_rows_clear(&r);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		rc = parse_row_with(bad[i].key, bad[i].value, &r, why,
		    sizeof(why));
		ck_assert_msg(rc == CT_ERR_FORMAT, "%s=%s: rc %d", bad[i].key,
		    bad[i].value ? bad[i].value : "(absent)", rc);
		ck_assert_msg(strcmp(why, bad[i].why) == 0,
		    "%s=%s: why \"%s\", want \"%s\"", bad[i].key,
		    bad[i].value ? bad[i].value : "(absent)", why, bad[i].why);
		ck_assert_ptr_null(r.rows);
	}
	/* Nullable fields and optional result_count. */
	ck_assert_int_eq(parse_row_with("common_name", "null", &r, why,
	                     sizeof(why)),
	    0);
	ck_assert_ptr_null(r.rows[0].common_name);
	crtsh_rows_clear(&r);
	ck_assert_int_eq(parse_row_with("issuer_name", "null", &r, why,
	                     sizeof(why)),
	    0);
	crtsh_rows_clear(&r);
	ck_assert_int_eq(parse_row_with("entry_timestamp", "null", &r, why,
	                     sizeof(why)),
	    0);
	ck_assert(!r.rows[0].has_entry_timestamp);
	crtsh_rows_clear(&r);
	ck_assert_int_eq(parse_row_with("result_count", NULL, &r, why,
	                     sizeof(why)),
	    0);
	crtsh_rows_clear(&r);
	ck_assert_int_eq(parse_row_with("not_after", "\"2024-01-24T23:59:59Z\"",
	                     &r, why, sizeof(why)),
	    0);
	ck_assert_int_eq(r.rows[0].not_after, 1706140799);
	crtsh_rows_clear(&r);
	/* A duplicated member is an error, never silently shadowed. */
	ck_assert_int_eq(parse_str("[{\"id\":1,\"id\":2}]", &r, why,
	                     sizeof(why)),
	    CT_ERR_FORMAT);
	ck_assert_str_eq(why, "row 0: id appears twice");
	/* A bad second row rejects the whole response. */
	{
		char *one = row_with(NULL, NULL),
		     *two = row_with("id", "\"x\"");
		char body[4096];

		one[strlen(one) - 1] = '\0'; /* drop ']' */
		snprintf(body, sizeof(body), "%s,%s", one, two + 1);
		ck_assert_int_eq(parse_str(body, &r, why, sizeof(why)),
		    CT_ERR_FORMAT);
		ck_assert_str_eq(why, "row 1: id is not a number");
		ck_assert_ptr_null(r.rows);
		free(one);
		free(two);
	}
}
END_TEST

START_TEST(test_parse_names)
{
	struct crtsh_rows r;
	char why[200];

	/* Names are kept raw: a trailing newline gives an empty name, a
	 * \u0000 stays with its exact length. */
	ck_assert_int_eq(parse_row_with("name_value",
	                     "\"a.example.org\\n\\nb\\u0000.evil.com\\n\"", &r,
	                     why, sizeof(why)),
	    0);
	ck_assert_uint_eq(r.rows[0].n_names, 4);
	ck_assert_uint_eq(r.rows[0].names[0].len, 13);
	ck_assert_uint_eq(r.rows[0].names[1].len, 0);
	ck_assert_uint_eq(r.rows[0].names[2].len, 11);
	ck_assert_mem_eq(r.rows[0].names[2].name, "b\0.evil.com", 11);
	ck_assert_uint_eq(r.rows[0].names[3].len, 0);
	crtsh_rows_clear(&r);
	ck_assert_int_eq(parse_row_with("name_value", "\"\"", &r, why,
	                     sizeof(why)),
	    0);
	ck_assert_uint_eq(r.rows[0].n_names, 1);
	ck_assert_uint_eq(r.rows[0].names[0].len, 0);
	crtsh_rows_clear(&r);
	/* Unsanitised on purpose: the caller sanitises at output time. */
	ck_assert_int_eq(parse_row_with("issuer_name", "\"a|b\\u0007\"", &r,
	                     why, sizeof(why)),
	    0);
	ck_assert_str_eq(r.rows[0].issuer_name, "a|b\a");
	crtsh_rows_clear(&r);
}
END_TEST

/* n rows, ids 1..n, all for x.example.org. */
static char *
many_rows(size_t n)
{
	struct trow t;
	struct util_buf b;
	size_t i;

	memset(&t, 0, sizeof(t));
	snprintf(t.serial, sizeof(t.serial), "0a");
	snprintf(t.names, sizeof(t.names), "x.example.org");
	t.not_before = 1700000000;
	t.not_after = 1800000000;
	util_buf_init(&b, BIG_BODY_BYTES);
	ck_assert_int_eq(util_buf_append_str(&b, "["), 0);
	for (i = 0; i < n; i++) {
		t.id = i + 1;
		if (i > 0)
			ck_assert_int_eq(util_buf_append_str(&b, ","), 0);
		trow_json(&b, &t);
	}
	ck_assert_int_eq(util_buf_append_str(&b, "]"), 0);
	ck_assert_int_eq(util_buf_cstr(&b), 0);
	return (char *)util_buf_take(&b, NULL);
}

START_TEST(test_parse_row_cap)
{
	struct crtsh_rows r;
	char why[200], *s;

	s = many_rows(CRTSH_MAX_ROWS - 1);
	ck_assert_int_eq(parse_str(s, &r, why, sizeof(why)), 0);
	ck_assert_uint_eq(r.n, CRTSH_MAX_ROWS - 1);
	ck_assert(!r.incomplete);
	crtsh_rows_clear(&r);
	free(s);
	s = many_rows(CRTSH_MAX_ROWS);
	ck_assert_int_eq(parse_str(s, &r, why, sizeof(why)), 0);
	ck_assert_uint_eq(r.n, CRTSH_MAX_ROWS);
	ck_assert(r.incomplete);
	crtsh_rows_clear(&r);
	free(s);
	s = many_rows(CRTSH_MAX_ROWS + 1);
	ck_assert_int_eq(parse_str(s, &r, why, sizeof(why)), 0);
	ck_assert_uint_eq(r.n, CRTSH_MAX_ROWS);
	ck_assert_uint_eq(r.n_sent, CRTSH_MAX_ROWS + 1);
	ck_assert(r.incomplete);
	ck_assert_uint_eq(r.rows[CRTSH_MAX_ROWS - 1].id, CRTSH_MAX_ROWS);
	crtsh_rows_clear(&r);
	free(s);
}
END_TEST

START_TEST(test_parse_caps)
{
	struct crtsh_rows r;
	char why[200], *big, *s;
	size_t n = CRTSH_MAX_TEXT_BYTES + 3;

	big = malloc(n + 1);
	ck_assert_ptr_nonnull(big);
	memset(big, 'a', n);
	big[0] = big[n - 1] = '"';
	big[n] = '\0';
	s = row_with("issuer_name", big);
	ck_assert_int_eq(parse_str(s, &r, why, sizeof(why)), CT_ERR_TOO_BIG);
	ck_assert_str_eq(why, "row 0: issuer_name over 4096 bytes");
	free(s);
	free(big);
	/* The body cap is enforced by the JSON layer. */
	ck_assert_int_eq(crtsh_parse("[]", CRTSH_MAX_BODY_BYTES + 1, &r, why,
	                     sizeof(why)),
	    CT_ERR_TOO_BIG);
}
END_TEST

/* ------------------------------------------------------------ URLs */

START_TEST(test_urls)
{
	char out[CRTSH_MAX_URL_BYTES], small[40];
	char ids[CRTSH_MAX_SEARCHES][CRTSH_IDENTITY_LEN];
	struct names_watch w;

	ck_assert_int_eq(crtsh_search_url("https://crt.sh", "example.org",
	                     false, out, sizeof(out)),
	    0);
	ck_assert_str_eq(out,
	    "https://crt.sh/?identity=example.org&output=json&exclude=expired");
	ck_assert_int_eq(crtsh_search_url("https://crt.sh//", "example.org",
	                     true, out, sizeof(out)),
	    0);
	ck_assert_str_eq(out,
	    "https://crt.sh/?identity=example.org&output=json");
	ck_assert_int_eq(crtsh_search_url("http://127.0.0.1:8080",
	                     "*.example.org", false, out, sizeof(out)),
	    0);
	ck_assert_str_eq(out,
	    "http://127.0.0.1:8080/?identity=%2A.example.org"
	    "&output=json&exclude=expired");
	ck_assert_int_eq(crtsh_search_url("https://crt.sh",
	                     "a b&c=d/e%f?g#h+i\xc3\xa9~_-.", true, out,
	                     sizeof(out)),
	    0);
	ck_assert_str_eq(out,
	    "https://crt.sh/?identity=a%20b%26c%3Dd%2Fe%25f"
	    "%3Fg%23h%2Bi%C3%A9~_-.&output=json");
	ck_assert_int_eq(crtsh_search_url("https://crt.sh", "example.org",
	                     false, small, sizeof(small)),
	    CT_ERR_TOO_BIG);
	ck_assert_int_eq(crtsh_search_url("https://crt.sh", "", false, out,
	                     sizeof(out)),
	    CT_ERR_INVALID);
	ck_assert_int_eq(crtsh_search_url("/", "x", false, out, sizeof(out)),
	    CT_ERR_INVALID);
	ck_assert_int_eq(crtsh_download_url("https://crt.sh/", 8383197569ULL,
	                     out, sizeof(out)),
	    0);
	ck_assert_str_eq(out, "https://crt.sh/?d=8383197569");
	ck_assert_int_eq(crtsh_download_url("https://crt.sh", 1, small, 10),
	    CT_ERR_TOO_BIG);
	/* Identities per watch. */
	ck_assert_int_eq(names_watch_parse("www.Example.org.", 16, false, &w),
	    0);
	ck_assert_uint_eq(crtsh_identities(&w, ids), 2);
	ck_assert_str_eq(ids[0], "www.example.org");
	ck_assert_str_eq(ids[1], "*.example.org");
	ck_assert_int_eq(names_watch_parse(".example.org", 12, false, &w), 0);
	ck_assert_uint_eq(crtsh_identities(&w, ids), 1);
	ck_assert_str_eq(ids[0], "example.org");
	ck_assert_int_eq(names_watch_parse("example.org", 11, false, &w), 0);
	ck_assert_uint_eq(crtsh_identities(&w, ids), 1);
	crtsh_cache_path(8383197569ULL, out);
	ck_assert_str_eq(out, "crtsh/cert/8383197569.der");
	ck_assert_int_eq(state_relpath_check(out), 0);
}
END_TEST

/* ------------------------------------------------------------ verify */

/* A parsed row for cert c, built through the parser. */
static void
row_for(const struct trow *t, struct crtsh_rows *r)
{
	char *s = rows_json(t, 1), why[200];
	int rc = parse_str(s, r, why, sizeof(why));

	ck_assert_msg(rc == 0, "%s: %s", s, why);
	free(s);
}

START_TEST(test_verify_r11)
{
	struct ct_cert *c = load_cert(LE_DATA "r11.pem"), *got = NULL;
	struct crtsh_rows r;
	struct trow t;
	char why[CRTSH_REASON_LEN];
	uint8_t *pem;
	size_t pemlen;

	pem = read_pem(LE_DATA "r11.pem", &pemlen);
	trow_from_cert(&t, 123, c);
	ck_assert_str_eq(t.serial, "008a7d3e13d62f30ef2386bd29076b34f8");
	ck_assert_str_eq(t.names, "R11");
	row_for(&t, &r);
	/* PEM as crt.sh sends it, and the DER. */
	ck_assert_int_eq(crtsh_verify_download(&r.rows[0], pem, pemlen, &got,
	                     why, sizeof(why)),
	    0);
	ck_assert_str_eq(why, "");
	ck_assert_mem_eq(got->tbs_sha256, c->tbs_sha256, 32);
	cert_free(got);
	ck_assert_int_eq(crtsh_verify_download(&r.rows[0], c->der, c->der_len,
	                     &got, why, sizeof(why)),
	    0);
	cert_free(got);
	crtsh_rows_clear(&r);
	/* Serial without the sign byte, in upper case; name in lower case. */
	snprintf(t.serial, sizeof(t.serial),
	    "8A7D3E13D62F30EF2386BD29076B34F8");
	snprintf(t.names, sizeof(t.names), "r11");
	row_for(&t, &r);
	ck_assert_int_eq(crtsh_verify_download(&r.rows[0], pem, pemlen, &got,
	                     why, sizeof(why)),
	    0);
	cert_free(got);
	crtsh_rows_clear(&r);
	/* Another serial. */
	trow_from_cert(&t, 123, c);
	snprintf(t.serial, sizeof(t.serial),
	    "008a7d3e13d62f30ef2386bd29076b34f9");
	row_for(&t, &r);
	ck_assert_int_eq(crtsh_verify_download(&r.rows[0], pem, pemlen, &got,
	                     why, sizeof(why)),
	    CT_ERR_FORMAT);
	ck_assert_ptr_null(got);
	ck_assert_str_eq(why,
	    "crt.sh id 123: downloaded certificate's serial "
	    "008a7d3e13d62f30ef2386bd29076b34f8 differs "
	    "from the row's "
	    "008a7d3e13d62f30ef2386bd29076b34f9");
	crtsh_rows_clear(&r);
	/* A serial that is a prefix of the real one. */
	snprintf(t.serial, sizeof(t.serial), "008a7d");
	row_for(&t, &r);
	ck_assert_int_eq(crtsh_verify_download(&r.rows[0], pem, pemlen, &got,
	                     why, sizeof(why)),
	    CT_ERR_FORMAT);
	crtsh_rows_clear(&r);
	/* Other dates. */
	trow_from_cert(&t, 123, c);
	t.not_before += 1;
	row_for(&t, &r);
	ck_assert_int_eq(crtsh_verify_download(&r.rows[0], pem, pemlen, &got,
	                     why, sizeof(why)),
	    CT_ERR_FORMAT);
	ck_assert_str_eq(why,
	    "crt.sh id 123: downloaded certificate's "
	    "notBefore 2024-03-13T00:00:00Z differs from the "
	    "row's 2024-03-13T00:00:01Z");
	crtsh_rows_clear(&r);
	trow_from_cert(&t, 123, c);
	t.not_after -= 86400;
	row_for(&t, &r);
	ck_assert_int_eq(crtsh_verify_download(&r.rows[0], pem, pemlen, &got,
	                     why, sizeof(why)),
	    CT_ERR_FORMAT);
	ck_assert_ptr_nonnull(strstr(why, "notAfter"));
	crtsh_rows_clear(&r);
	/* A name the certificate does not have. */
	trow_from_cert(&t, 123, c);
	snprintf(t.names, sizeof(t.names), "R11\\nevil.example.org");
	row_for(&t, &r);
	ck_assert_int_eq(crtsh_verify_download(&r.rows[0], pem, pemlen, &got,
	                     why, sizeof(why)),
	    CT_ERR_FORMAT);
	ck_assert_str_eq(why,
	    "crt.sh id 123: row name evil.example.org is "
	    "not in the downloaded certificate");
	crtsh_rows_clear(&r);
	cert_free(c);
	free(pem);
}
END_TEST

START_TEST(test_verify_bodies)
{
	struct ct_cert *c = load_cert(SCAN_DATA "www-1.pem"), *got = NULL;
	struct crtsh_rows r;
	struct trow t;
	char why[CRTSH_REASON_LEN];
	uint8_t *a, *b, *both;
	size_t alen, blen;

	trow_from_cert(&t, 7, c);
	ck_assert_str_eq(t.names, "www.example.org\\nexample.org");
	row_for(&t, &r);
	a = read_pem(SCAN_DATA "www-1.pem", &alen);
	b = read_pem(SCAN_DATA "www-2.pem", &blen);
	ck_assert_int_eq(crtsh_verify_download(&r.rows[0], a, alen, &got, why,
	                     sizeof(why)),
	    0);
	ck_assert_uint_eq(got->n_dns_names, 2);
	cert_free(got);
	/* The renewed certificate: same names, other serial. */
	ck_assert_int_eq(crtsh_verify_download(&r.rows[0], b, blen, &got, why,
	                     sizeof(why)),
	    CT_ERR_FORMAT);
	ck_assert_ptr_nonnull(strstr(why, "serial"));
	/* Two certificates in one body. */
	both = malloc(alen + blen);
	ck_assert_ptr_nonnull(both);
	memcpy(both, a, alen);
	memcpy(both + alen, b, blen);
	ck_assert_int_eq(crtsh_verify_download(&r.rows[0], both, alen + blen,
	                     &got, why, sizeof(why)),
	    CT_ERR_FORMAT);
	ck_assert_str_eq(why,
	    "crt.sh id 7: download holds 2 certificates, "
	    "not 1");
	/* Not a certificate at all; empty; truncated DER. */
	ck_assert_int_eq(crtsh_verify_download(&r.rows[0],
	                     (const uint8_t *)"<html>", 6, &got, why,
	                     sizeof(why)),
	    CT_ERR_FORMAT);
	ck_assert_ptr_nonnull(strstr(why, "is not a certificate"));
	ck_assert_int_eq(crtsh_verify_download(&r.rows[0], a, 0, &got, why,
	                     sizeof(why)),
	    CT_ERR_FORMAT);
	ck_assert_int_eq(crtsh_verify_download(&r.rows[0], c->der,
	                     c->der_len - 1, &got, why, sizeof(why)),
	    CT_ERR_FORMAT);
	ck_assert_ptr_null(got);
	free(both);
	free(a);
	free(b);
	crtsh_rows_clear(&r);
	cert_free(c);
}
END_TEST

/* ------------------------------------------------------------ driver */

struct drv {
	uv_loop_t loop;
	struct fixture_httpd *fx;
	struct http_client *http;
	struct state *st;
	char base[128];
	char dir[256];
	int done;
	bool cancel_on_timer;
	uv_timer_t timer;
	struct crtsh_query *q;
};

static void
drv_init(struct drv *t)
{
	const char *tmp = getenv("TMPDIR");
	char why[STATE_WHY_LEN];

	memset(t, 0, sizeof(*t));
	ck_assert_int_eq(uv_loop_init(&t->loop), 0);
	ck_assert_ptr_nonnull(t->fx = fixture_httpd_start(&t->loop));
	ck_assert_int_ne(fixture_httpd_port(t->fx), 0);
	ck_assert_ptr_nonnull(t->http = http_client_new(&t->loop));
	fixture_httpd_url(t->fx, "", t->base, sizeof(t->base));
	snprintf(t->dir, sizeof(t->dir), "%s/ct-crtsh-XXXXXX",
	    tmp ? tmp : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(t->dir));
	ck_assert_msg(state_open(t->dir, &t->st, why, sizeof(why)) == 0, "%s",
	    why);
}

static void
drv_fini(struct drv *t)
{
	fixture_httpd_stop(t->fx);
	http_client_free(t->http);
	uv_run(&t->loop, UV_RUN_DEFAULT);
	ck_assert_int_eq(uv_loop_close(&t->loop), 0);
	fixture_httpd_free(t->fx);
	state_close(t->st);
	rm_rf(t->dir);
}

static void
on_done(struct crtsh_query *q, void *arg)
{
	struct drv *t = arg;

	(void)q;
	t->done++;
	uv_stop(&t->loop);
}

static void
query_setup(struct drv *t, struct crtsh_query *q, struct names_watch *w,
    const char *watch)
{
	bool sub = watch[0] == '.';

	ck_assert_int_eq(names_watch_parse(watch, strlen(watch), sub, w), 0);
	crtsh_query_init(q);
	q->http = t->http;
	q->state = t->st;
	q->watch = w;
	q->base_url = t->base;
	q->allow_http = true;
}

/* Runs q to its callback. */
static void
drv_run(struct drv *t, struct crtsh_query *q)
{
	int before = t->done;

	ck_assert_int_eq(crtsh_run(q, on_done, t), 0);
	ck_assert_int_eq(t->done, before); /* never from inside crtsh_run */
	uv_run(&t->loop, UV_RUN_DEFAULT);
	ck_assert_int_eq(t->done, before + 1);
}

/* Serves cert file path (PEM) at ?d=id. */
static void
serve_cert(struct drv *t, uint64_t id, const char *path, uint32_t delay_ms)
{
	char target[64];
	uint8_t *pem;
	size_t len;

	pem = read_pem(path, &len);
	snprintf(target, sizeof(target), "/?d=%llu", (unsigned long long)id);
	ck_assert_int_eq(fixture_httpd_add(t->fx, target, 200, PEM_CT, pem, len,
	                     delay_ms),
	    0);
	free(pem);
}

static void
serve_search(struct drv *t, const char *identity, const struct trow *rows,
    size_t n)
{
	char target[256];
	char *body = rows_json(rows, n);

	snprintf(target, sizeof(target),
	    "/?identity=%s&output=json&exclude=expired", identity);
	ck_assert_int_eq(fixture_httpd_add_str(t->fx, target, 200, JSON_CT,
	                     body),
	    0);
	free(body);
}

static unsigned
dl_hits(struct drv *t, uint64_t id)
{
	char target[64];

	snprintf(target, sizeof(target), "/?d=%llu", (unsigned long long)id);
	return fixture_httpd_hits(t->fx, target);
}

static const struct crtsh_entry *
entry_by_id(const struct crtsh_result *r, uint64_t id)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		if (r->entries[i].row.id == id)
			return &r->entries[i];
	ck_abort_msg("no entry %llu", (unsigned long long)id);
	return NULL;
}

/* Four rows: www-1 (101), www-2 (102), mail-1 (103), outside (104). */
static void
four_rows(struct trow rows[4], struct ct_cert *certs[4])
{
	static const char *const files[] = {"www-1.pem", "www-2.pem",
	    "mail-1.pem", "outside.pem"};
	char path[256];
	int i;

	for (i = 0; i < 4; i++) {
		snprintf(path, sizeof(path), SCAN_DATA "%s", files[i]);
		certs[i] = load_cert(path);
		trow_from_cert(&rows[i], 101 + (uint64_t)i, certs[i]);
	}
}

static void
serve_four(struct drv *t, const struct trow rows[4], const char *identity)
{
	serve_search(t, identity, rows, 4);
	serve_cert(t, 101, SCAN_DATA "www-1.pem", 0);
	serve_cert(t, 102, SCAN_DATA "www-2.pem", 0);
	serve_cert(t, 103, SCAN_DATA "mail-1.pem", 0);
	serve_cert(t, 104, SCAN_DATA "outside.pem", 0);
}

static void
free_certs(struct ct_cert *certs[], size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		cert_free(certs[i]);
}

START_TEST(test_run_cache)
{
	struct ct_cert *certs[4];
	struct crtsh_query q;
	struct names_watch w;
	struct trow rows[4];
	const struct crtsh_entry *e;
	uint8_t *buf;
	size_t len;
	struct drv t;
	int i;

	drv_init(&t);
	four_rows(rows, certs);
	serve_four(&t, rows, "example.org");
	query_setup(&t, &q, &w, ".example.org");
	drv_run(&t, &q);
	ck_assert_msg(q.result.status == 0, "%s", q.result.error);
	ck_assert_str_eq(q.result.error, "");
	ck_assert(!q.result.incomplete);
	ck_assert_uint_eq(q.result.n_rows, 4);
	ck_assert_uint_eq(q.result.n, 3);
	ck_assert_uint_eq(q.result.n_unrelated, 1); /* outside.example.net */
	ck_assert_uint_eq(q.result.n_ok, 3);
	ck_assert_uint_eq(q.result.n_cached, 0);
	ck_assert_uint_eq(q.result.n_downloads, 3);
	ck_assert_uint_eq(q.result.requests, 4);
	/* Newest first, each with its certificate's identity. */
	for (i = 0; i < 3; i++) {
		e = &q.result.entries[i];
		ck_assert_uint_eq(e->row.id, 103 - (uint64_t)i);
		ck_assert_int_eq(e->status, CRTSH_ENTRY_OK);
		ck_assert_str_eq(e->reason, "");
		ck_assert(!e->cached);
		ck_assert_ptr_nonnull(e->cert);
		ck_assert_mem_eq(e->cert->tbs_sha256, certs[2 - i]->tbs_sha256,
		    32);
	}
	ck_assert_int_eq(entry_by_id(&q.result, 101)->match, NAMES_EXACT);
	ck_assert_int_eq(entry_by_id(&q.result, 103)->match, NAMES_SUBDOMAIN);
	ck_assert_uint_eq(dl_hits(&t, 101), 1);
	ck_assert_uint_eq(dl_hits(&t, 103), 1);
	ck_assert_uint_eq(dl_hits(&t, 104), 0); /* unrelated: not fetched */
	/* The cache holds the DER of each. */
	ck_assert_int_eq(state_read(t.st, "crtsh/cert/102.der", 100000, &buf,
	                     &len),
	    0);
	ck_assert_uint_eq(len, certs[1]->der_len);
	ck_assert_mem_eq(buf, certs[1]->der, len);
	free(buf);
	crtsh_query_clear(&q);
	/* Second run: the search again, no download. */
	query_setup(&t, &q, &w, ".example.org");
	drv_run(&t, &q);
	ck_assert_msg(q.result.status == 0, "%s", q.result.error);
	ck_assert_uint_eq(q.result.n_ok, 3);
	ck_assert_uint_eq(q.result.n_cached, 3);
	ck_assert_uint_eq(q.result.n_downloads, 0);
	ck_assert_uint_eq(q.result.requests, 1);
	ck_assert(q.result.entries[0].cached);
	ck_assert_uint_eq(dl_hits(&t, 101) + dl_hits(&t, 102) +
	        dl_hits(&t, 103),
	    3);
	ck_assert_uint_eq(fixture_httpd_hits(t.fx,
	                      "/?identity=example.org&output=json"
	                      "&exclude=expired"),
	    2);
	ck_assert_uint_eq(fixture_httpd_total(t.fx), 5);
	ck_assert_uint_eq(fixture_httpd_unmatched(t.fx), 0);
	crtsh_query_clear(&q);
	drv_fini(&t);
	free_certs(certs, 4);
}
END_TEST

START_TEST(test_run_mismatch_and_failure)
{
	struct ct_cert *certs[4];
	struct crtsh_query q;
	struct names_watch w;
	struct trow rows[4];
	const struct crtsh_entry *e;
	uint8_t *buf;
	size_t len;
	struct drv t;

	drv_init(&t);
	four_rows(rows, certs);
	serve_search(&t, "example.org", rows, 4);
	serve_cert(&t, 101, SCAN_DATA "www-1.pem", 0);
	serve_cert(&t, 102, SCAN_DATA "www-1.pem", 0); /* the wrong one */
	ck_assert_int_eq(fixture_httpd_add_str(t.fx, "/?d=103", 404,
	                     "Content-Type: text/html\r\n", "<h1>no</h1>"),
	    0);
	query_setup(&t, &q, &w, ".example.org");
	drv_run(&t, &q);
	ck_assert_msg(q.result.status == 0, "%s", q.result.error);
	ck_assert_uint_eq(q.result.n, 3);
	ck_assert_uint_eq(q.result.n_ok, 1);
	ck_assert_uint_eq(q.result.n_mismatch, 1);
	ck_assert_uint_eq(q.result.n_failed, 1);
	e = entry_by_id(&q.result, 102);
	ck_assert_int_eq(e->status, CRTSH_ENTRY_MISMATCH);
	ck_assert_ptr_null(e->cert);
	ck_assert_ptr_nonnull(strstr(e->reason,
	    "crt.sh id 102: downloaded certificate's serial"));
	e = entry_by_id(&q.result, 103);
	ck_assert_int_eq(e->status, CRTSH_ENTRY_DOWNLOAD_FAILED);
	ck_assert_str_eq(e->reason, "crt.sh id 103: HTTP 404");
	ck_assert_str_eq(crtsh_entry_status_names[e->status],
	    "download failed");
	ck_assert_int_eq(entry_by_id(&q.result, 101)->status, CRTSH_ENTRY_OK);
	/* Only the verified one is cached. */
	ck_assert_int_eq(state_read(t.st, "crtsh/cert/101.der", 100000, &buf,
	                     &len),
	    0);
	free(buf);
	ck_assert_int_eq(state_read(t.st, "crtsh/cert/102.der", 100000, &buf,
	                     &len),
	    CT_ERR_NOT_FOUND);
	ck_assert_int_eq(state_read(t.st, "crtsh/cert/103.der", 100000, &buf,
	                     &len),
	    CT_ERR_NOT_FOUND);
	crtsh_query_clear(&q);
	drv_fini(&t);
	free_certs(certs, 4);
}
END_TEST

START_TEST(test_run_errors)
{
	static const char target[] =
	    "/?identity=example.org&output=json&exclude=expired";
	struct crtsh_query q;
	struct names_watch w;
	struct drv t;

	/* 503 twice (one retry). */
	drv_init(&t);
	ck_assert_int_eq(fixture_httpd_add_str(t.fx, target, 503,
	                     FAST_RETRY "Content-Type: text/html\r\n",
	                     "<h1>busy</h1>"),
	    0);
	query_setup(&t, &q, &w, ".example.org");
	drv_run(&t, &q);
	ck_assert_int_eq(q.result.status, CT_ERR_PROTO);
	ck_assert_str_eq(q.result.error, "crt.sh: HTTP 503 after 2 attempts");
	ck_assert_uint_eq(q.result.n, 0);
	ck_assert_uint_eq(fixture_httpd_hits(t.fx, target), 2);
	crtsh_query_clear(&q);
	drv_fini(&t);

	/* HTML with 200. */
	drv_init(&t);
	ck_assert_int_eq(fixture_httpd_add_str(t.fx, target, 200,
	                     "Content-Type: text/html; charset=utf-8\r\n",
	                     "<html><body>slow down</body></html>"),
	    0);
	query_setup(&t, &q, &w, ".example.org");
	drv_run(&t, &q);
	ck_assert_int_eq(q.result.status, CT_ERR_FORMAT);
	ck_assert_str_eq(q.result.error,
	    "crt.sh: response is not JSON (text/html; charset=utf-8)");
	crtsh_query_clear(&q);
	drv_fini(&t);

	/* JSON of the wrong shape: the parser's reason, whatever the
	 * Content-Type says. */
	drv_init(&t);
	ck_assert_int_eq(fixture_httpd_add_str(t.fx, target, 200,
	                     "Content-Type: text/plain\r\n",
	                     "{\"error\":\"x\"}"),
	    0);
	query_setup(&t, &q, &w, ".example.org");
	drv_run(&t, &q);
	ck_assert_int_eq(q.result.status, CT_ERR_FORMAT);
	ck_assert_str_eq(q.result.error,
	    "crt.sh: response is a JSON object, not an array");
	crtsh_query_clear(&q);
	drv_fini(&t);

	/* Plain text with 200. */
	drv_init(&t);
	ck_assert_int_eq(fixture_httpd_add_str(t.fx, target, 200,
	                     "Content-Type: text/plain\r\n",
	                     "Service temporarily unavailable"),
	    0);
	query_setup(&t, &q, &w, ".example.org");
	drv_run(&t, &q);
	ck_assert_int_eq(q.result.status, CT_ERR_FORMAT);
	ck_assert_str_eq(q.result.error,
	    "crt.sh: response is not JSON (text/plain)");
	crtsh_query_clear(&q);
	drv_fini(&t);

	/* An empty body, and a body cut short. */
	drv_init(&t);
	ck_assert_int_eq(fixture_httpd_add_str(t.fx, target, 200, JSON_CT, ""),
	    0);
	query_setup(&t, &q, &w, ".example.org");
	drv_run(&t, &q);
	ck_assert_int_eq(q.result.status, CT_ERR_TRUNCATED);
	ck_assert_str_eq(q.result.error, "crt.sh: empty response");
	crtsh_query_clear(&q);
	drv_fini(&t);

	drv_init(&t);
	ck_assert_int_eq(fixture_httpd_add_str(t.fx, target, 200, JSON_CT,
	                     "[{\"id\":1"),
	    0);
	query_setup(&t, &q, &w, ".example.org");
	drv_run(&t, &q);
	ck_assert_int_eq(q.result.status, CT_ERR_TRUNCATED);
	ck_assert_str_eq(q.result.error, "crt.sh: response is cut short");
	crtsh_query_clear(&q);
	drv_fini(&t);

	/* Nobody listening. */
	drv_init(&t);
	query_setup(&t, &q, &w, ".example.org");
	q.base_url = "http://127.0.0.1:1";
	drv_run(&t, &q);
	ck_assert_int_eq(q.result.status, CT_ERR_IO);
	ck_assert_str_eq(q.result.error,
	    "crt.sh: connection refused to 127.0.0.1:1");
	crtsh_query_clear(&q);
	drv_fini(&t);
}
END_TEST

START_TEST(test_run_download_cap)
{
	struct ct_cert *certs[4];
	struct crtsh_query q;
	struct names_watch w;
	struct trow rows[4];
	struct drv t;

	drv_init(&t);
	four_rows(rows, certs);
	serve_four(&t, rows, "example.org");
	query_setup(&t, &q, &w, ".example.org");
	q.max_downloads = 1;
	drv_run(&t, &q);
	ck_assert_msg(q.result.status == 0, "%s", q.result.error);
	ck_assert_uint_eq(q.result.n, 3);
	ck_assert_uint_eq(q.result.n_ok, 1);
	ck_assert_uint_eq(q.result.n_pending, 2);
	ck_assert_uint_eq(q.result.n_downloads, 1);
	/* The newest is fetched first. */
	ck_assert_int_eq(entry_by_id(&q.result, 103)->status, CRTSH_ENTRY_OK);
	ck_assert_int_eq(entry_by_id(&q.result, 101)->status,
	    CRTSH_ENTRY_PENDING);
	ck_assert_str_eq(entry_by_id(&q.result, 101)->reason,
	    "not downloaded: per-run download cap");
	ck_assert_ptr_null(entry_by_id(&q.result, 101)->cert);
	crtsh_query_clear(&q);
	/* The next run makes progress with the cache. */
	query_setup(&t, &q, &w, ".example.org");
	q.max_downloads = 1;
	drv_run(&t, &q);
	ck_assert_uint_eq(q.result.n_ok, 2);
	ck_assert_uint_eq(q.result.n_cached, 1);
	ck_assert_uint_eq(q.result.n_pending, 1);
	ck_assert_int_eq(entry_by_id(&q.result, 102)->status, CRTSH_ENTRY_OK);
	crtsh_query_clear(&q);
	/* No downloads at all: everything not cached is pending. */
	query_setup(&t, &q, &w, ".example.org");
	q.max_downloads = 0;
	drv_run(&t, &q);
	ck_assert_uint_eq(q.result.n_ok, 2);
	ck_assert_uint_eq(q.result.n_pending, 1);
	ck_assert_uint_eq(dl_hits(&t, 101), 0);
	crtsh_query_clear(&q);
	drv_fini(&t);
	free_certs(certs, 4);
}
END_TEST

START_TEST(test_run_inflight)
{
	struct ct_cert *c = load_cert(SCAN_DATA "www-1.pem");
	struct trow rows[10];
	struct crtsh_query q;
	struct names_watch w;
	struct drv t;
	uint64_t t0;
	size_t i;

	drv_init(&t);
	for (i = 0; i < 10; i++) {
		trow_from_cert(&rows[i], 201 + i, c);
		serve_cert(&t, 201 + i, SCAN_DATA "www-1.pem", 100);
	}
	serve_search(&t, "example.org", rows, 10);
	query_setup(&t, &q, &w, ".example.org");
	t0 = uv_hrtime();
	drv_run(&t, &q);
	ck_assert_uint_eq(q.result.n_ok, 10);
	ck_assert_uint_eq(fixture_httpd_max_busy(t.fx), CRTSH_DEFAULT_INFLIGHT);
	/* 10 downloads of 100 ms, 4 at a time: at least 3 rounds. */
	ck_assert_uint_ge((uv_hrtime() - t0) / 1000000, 300);
	crtsh_query_clear(&q);
	drv_fini(&t);
	cert_free(c);
}
END_TEST

START_TEST(test_run_wildcard_search)
{
	struct ct_cert *certs[4];
	struct crtsh_query q;
	struct names_watch w;
	struct trow rows[4];
	struct drv t;

	drv_init(&t);
	four_rows(rows, certs);
	/* The name's search finds www-1; the wildcard search finds www-1
	 * again, www-2 and mail-1 (the last does not cover www). */
	serve_search(&t, "www.example.org", rows, 1);
	serve_search(&t, "%2A.example.org", rows, 3);
	serve_cert(&t, 101, SCAN_DATA "www-1.pem", 0);
	serve_cert(&t, 102, SCAN_DATA "www-2.pem", 0);
	query_setup(&t, &q, &w, "www.example.org");
	drv_run(&t, &q);
	ck_assert_msg(q.result.status == 0, "%s", q.result.error);
	ck_assert_uint_eq(q.result.n_rows, 3); /* 101 once */
	ck_assert_uint_eq(q.result.n, 2);
	ck_assert_uint_eq(q.result.n_unrelated, 1);
	ck_assert_uint_eq(q.result.n_ok, 2);
	ck_assert_int_eq(entry_by_id(&q.result, 101)->match, NAMES_EXACT);
	ck_assert_uint_eq(fixture_httpd_unmatched(t.fx), 0);
	crtsh_query_clear(&q);
	/* When the wildcard search fails, the lookup fails. */
	drv_fini(&t);
	drv_init(&t);
	serve_search(&t, "www.example.org", rows, 1);
	ck_assert_int_eq(fixture_httpd_add_str(t.fx,
	                     "/?identity=%2A.example.org&output=json"
	                     "&exclude=expired",
	                     429, "Retry-After: 0\r\n", "slow down"),
	    0);
	query_setup(&t, &q, &w, "www.example.org");
	drv_run(&t, &q);
	ck_assert_int_eq(q.result.status, CT_ERR_PROTO);
	ck_assert_str_eq(q.result.error,
	    "crt.sh (*.example.org): HTTP 429 after 2 attempts");
	ck_assert_uint_eq(q.result.n, 0);
	crtsh_query_clear(&q);
	drv_fini(&t);
	free_certs(certs, 4);
}
END_TEST

START_TEST(test_run_incomplete)
{
	static const char target[] =
	    "/?identity=example.org&output=json&exclude=expired";
	struct crtsh_query q;
	struct names_watch w;
	struct drv t;
	char *body = many_rows(CRTSH_MAX_ROWS);

	drv_init(&t);
	ck_assert_int_eq(fixture_httpd_add_str(t.fx, target, 200, JSON_CT,
	                     body),
	    0);
	query_setup(&t, &q, &w, ".example.org");
	q.max_downloads = 0;
	drv_run(&t, &q);
	ck_assert_msg(q.result.status == 0, "%s", q.result.error);
	ck_assert(q.result.incomplete);
	ck_assert_uint_eq(q.result.n, CRTSH_MAX_ROWS);
	ck_assert_uint_eq(q.result.n_pending, CRTSH_MAX_ROWS);
	crtsh_query_clear(&q);
	drv_fini(&t);
	free(body);
}
END_TEST

static void
cancel_cb(uv_timer_t *tm)
{
	struct drv *t = tm->data;

	crtsh_cancel(t->q);
	http_client_cancel_all(t->http);
	uv_close((uv_handle_t *)tm, NULL);
}

START_TEST(test_run_cancel)
{
	struct ct_cert *certs[4];
	struct crtsh_query q;
	struct names_watch w;
	struct trow rows[4];
	struct drv t;

	drv_init(&t);
	four_rows(rows, certs);
	serve_search(&t, "example.org", rows, 4);
	serve_cert(&t, 101, SCAN_DATA "www-1.pem", 2000);
	serve_cert(&t, 102, SCAN_DATA "www-2.pem", 2000);
	serve_cert(&t, 103, SCAN_DATA "mail-1.pem", 2000);
	query_setup(&t, &q, &w, ".example.org");
	q.max_inflight = 1;
	t.q = &q;
	ck_assert_int_eq(uv_timer_init(&t.loop, &t.timer), 0);
	t.timer.data = &t;
	ck_assert_int_eq(uv_timer_start(&t.timer, cancel_cb, 200, 0), 0);
	drv_run(&t, &q);
	ck_assert_int_eq(q.result.status, 0);
	ck_assert_uint_eq(q.result.n, 3);
	ck_assert_uint_eq(q.result.n_failed, 1);
	ck_assert_uint_eq(q.result.n_pending, 2);
	ck_assert_int_eq(entry_by_id(&q.result, 103)->status,
	    CRTSH_ENTRY_DOWNLOAD_FAILED);
	ck_assert_ptr_nonnull(
	    strstr(entry_by_id(&q.result, 103)->reason, "cancelled"));
	ck_assert_str_eq(entry_by_id(&q.result, 101)->reason,
	    "not downloaded: cancelled");
	ck_assert_uint_eq(dl_hits(&t, 101) + dl_hits(&t, 102), 0);
	crtsh_query_clear(&q);
	drv_fini(&t);
	free_certs(certs, 4);
}
END_TEST

START_TEST(test_run_bad_cache)
{
	struct ct_cert *certs[4];
	struct crtsh_query q;
	struct names_watch w;
	struct trow rows[4];
	struct drv t;
	uint8_t *buf;
	size_t len;

	drv_init(&t);
	four_rows(rows, certs);
	serve_four(&t, rows, "example.org");
	/* A foreign certificate under 101's name, and junk under 102's. */
	ck_assert_int_eq(state_write(t.st, "crtsh/cert/101.der", certs[2]->der,
	                     certs[2]->der_len),
	    0);
	ck_assert_int_eq(state_write(t.st, "crtsh/cert/102.der", "junk", 4), 0);
	query_setup(&t, &q, &w, ".example.org");
	drv_run(&t, &q);
	ck_assert_uint_eq(q.result.n_ok, 3);
	ck_assert_uint_eq(q.result.n_cached, 0);
	ck_assert_uint_eq(dl_hits(&t, 101), 1);
	ck_assert_uint_eq(dl_hits(&t, 102), 1);
	ck_assert_int_eq(state_read(t.st, "crtsh/cert/101.der", 100000, &buf,
	                     &len),
	    0);
	ck_assert_uint_eq(len, certs[0]->der_len);
	ck_assert_mem_eq(buf, certs[0]->der, len);
	free(buf);
	crtsh_query_clear(&q);
	/* Without a state directory there is no cache at all. */
	query_setup(&t, &q, &w, ".example.org");
	q.state = NULL;
	drv_run(&t, &q);
	ck_assert_uint_eq(q.result.n_ok, 3);
	ck_assert_uint_eq(q.result.n_downloads, 3);
	crtsh_query_clear(&q);
	drv_fini(&t);
	free_certs(certs, 4);
}
END_TEST

/* The one file in dir (a summary), its path into out; false if none. */
static bool
only_file(const char *dir, char *out, size_t outsz)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	int n = 0;

	if (d == NULL)
		return false;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(out, outsz, "%s/%s", dir, de->d_name);
		n++;
	}
	closedir(d);
	return n == 1;
}

/*
 * lazy: the first run verifies in full and keeps summaries; the next one
 * is OK from them without a certificate, which crtsh_entry_load reads and
 * checks when asked. A row that no longer agrees with its summary, or a
 * damaged summary file, falls back to the full checks.
 */
START_TEST(test_run_lazy)
{
	struct ct_cert *certs[4];
	struct crtsh_query q;
	struct names_watch w;
	struct trow rows[4];
	struct crtsh_entry *e;
	char sumdir[300], sum[600], why[CRTSH_REASON_LEN];
	uint8_t *buf;
	size_t len;
	struct drv t;
	FILE *f;
	int i;

	drv_init(&t);
	four_rows(rows, certs);
	serve_four(&t, rows, "example.org");
	query_setup(&t, &q, &w, ".example.org");
	q.lazy = true;
	drv_run(&t, &q);
	ck_assert_msg(q.result.status == 0, "%s", q.result.error);
	ck_assert_uint_eq(q.result.n_ok, 3);
	ck_assert_uint_eq(q.result.n_downloads, 3);
	for (i = 0; i < 3; i++) {
		e = &q.result.entries[i];
		ck_assert(!e->summarised);
		ck_assert_ptr_nonnull(e->cert);
		ck_assert_mem_eq(e->tbs_sha256, certs[2 - i]->tbs_sha256, 32);
	}
	crtsh_query_clear(&q);
	snprintf(sumdir, sizeof(sumdir), "%s/crtsh/sum", t.dir);
	ck_assert(only_file(sumdir, sum, sizeof(sum)));

	/* From the summaries: no certificate until asked for. */
	query_setup(&t, &q, &w, ".example.org");
	q.lazy = true;
	drv_run(&t, &q);
	ck_assert_uint_eq(q.result.n_ok, 3);
	ck_assert_uint_eq(q.result.n_cached, 3);
	ck_assert_uint_eq(q.result.n_downloads, 0);
	for (i = 0; i < 3; i++) {
		e = &q.result.entries[i];
		ck_assert_int_eq(e->status, CRTSH_ENTRY_OK);
		ck_assert(e->summarised && e->cached);
		ck_assert_ptr_null(e->cert);
		ck_assert_mem_eq(e->tbs_sha256, certs[2 - i]->tbs_sha256, 32);
		ck_assert_int_eq(crtsh_entry_load(&q, e, why, sizeof(why)), 0);
		ck_assert_ptr_nonnull(e->cert);
		ck_assert_mem_eq(e->cert->der, certs[2 - i]->der,
		    certs[2 - i]->der_len);
		ck_assert_int_eq(crtsh_entry_load(&q, e, why, sizeof(why)), 0);
	}
	crtsh_query_clear(&q);

	/* Without lazy, summaries are not used. */
	query_setup(&t, &q, &w, ".example.org");
	drv_run(&t, &q);
	ck_assert_uint_eq(q.result.n_ok, 3);
	for (i = 0; i < 3; i++) {
		ck_assert(!q.result.entries[i].summarised);
		ck_assert_ptr_nonnull(q.result.entries[i].cert);
	}
	crtsh_query_clear(&q);

	/* The cached copy gone, or replaced: crtsh_entry_load says so. */
	query_setup(&t, &q, &w, ".example.org");
	q.lazy = true;
	drv_run(&t, &q);
	ck_assert(q.result.entries[0].summarised);
	ck_assert(q.result.entries[1].summarised);
	snprintf(sum, sizeof(sum), "%s/crtsh/cert/103.der", t.dir);
	ck_assert_int_eq(unlink(sum), 0);
	ck_assert_int_eq(crtsh_entry_load(&q, &q.result.entries[0], why,
	                     sizeof(why)),
	    CT_ERR_NOT_FOUND);
	ck_assert_str_eq(why,
	    "crt.sh id 103: the cached certificate cannot be read");
	ck_assert_int_eq(state_write(t.st, "crtsh/cert/102.der", certs[0]->der,
	                     certs[0]->der_len),
	    0);
	ck_assert_int_eq(crtsh_entry_load(&q, &q.result.entries[1], why,
	                     sizeof(why)),
	    CT_ERR_FORMAT);
	ck_assert_ptr_null(q.result.entries[1].cert);
	ck_assert_int_eq(crtsh_entry_load(&q, NULL, why, sizeof(why)),
	    CT_ERR_INVALID);
	crtsh_query_clear(&q);
	ck_assert_int_eq(state_write(t.st, "crtsh/cert/102.der", certs[1]->der,
	                     certs[1]->der_len),
	    0);
	ck_assert_int_eq(state_write(t.st, "crtsh/cert/103.der", certs[2]->der,
	                     certs[2]->der_len),
	    0);

	/* A damaged summary file: every row is checked in full again. */
	snprintf(sumdir, sizeof(sumdir), "%s/crtsh/sum", t.dir);
	ck_assert(only_file(sumdir, sum, sizeof(sum)));
	ck_assert_ptr_nonnull(f = fopen(sum, "r+b"));
	ck_assert_int_eq(fseek(f, 30, SEEK_SET), 0);
	ck_assert_int_eq(fputc('#', f), '#');
	fclose(f);
	query_setup(&t, &q, &w, ".example.org");
	q.lazy = true;
	drv_run(&t, &q);
	ck_assert_uint_eq(q.result.n_ok, 3);
	ck_assert_uint_eq(q.result.n_cached, 3);
	for (i = 0; i < 3; i++) {
		ck_assert(!q.result.entries[i].summarised);
		ck_assert_ptr_nonnull(q.result.entries[i].cert);
	}
	crtsh_query_clear(&q);

	/* A row that no longer agrees with its summary (serial): refused as
	 * before, summary or not. */
	rows[0].serial[strlen(rows[0].serial) - 1] ^= 1;
	serve_search(&t, "example.org", rows, 4);
	query_setup(&t, &q, &w, ".example.org"); /* the old rows, once more */
	q.lazy = true;
	drv_run(&t, &q);
	ck_assert_uint_eq(q.result.n_ok, 3);
	crtsh_query_clear(&q);
	query_setup(&t, &q, &w, ".example.org");
	q.lazy = true;
	drv_run(&t, &q);
	ck_assert_int_eq(entry_by_id(&q.result, 101)->status,
	    CRTSH_ENTRY_MISMATCH);
	ck_assert(!entry_by_id(&q.result, 101)->summarised);
	ck_assert_ptr_nonnull(
	    strstr(entry_by_id(&q.result, 101)->reason, "serial"));
	ck_assert(entry_by_id(&q.result, 102)->summarised);
	ck_assert_uint_eq(q.result.n_ok, 2);
	ck_assert_uint_eq(q.result.n_mismatch, 1);
	crtsh_query_clear(&q);
	ck_assert_int_eq(state_read(t.st, "crtsh/cert/101.der", 100000, &buf,
	                     &len),
	    0);
	free(buf);
	drv_fini(&t);
	free_certs(certs, 4);
}
END_TEST

START_TEST(test_run_invalid)
{
	struct crtsh_query q;
	struct names_watch w;
	struct drv t;

	drv_init(&t);
	query_setup(&t, &q, &w, ".example.org");
	ck_assert_int_eq(crtsh_run(&q, NULL, &t), CT_ERR_INVALID);
	q.max_inflight = 0;
	ck_assert_int_eq(crtsh_run(&q, on_done, &t), CT_ERR_INVALID);
	q.max_inflight = CRTSH_MAX_INFLIGHT + 1;
	ck_assert_int_eq(crtsh_run(&q, on_done, &t), CT_ERR_INVALID);
	query_setup(&t, &q, &w, ".example.org");
	q.base_url = "";
	ck_assert_int_eq(crtsh_run(&q, on_done, &t), CT_ERR_INVALID);
	query_setup(&t, &q, &w, ".example.org");
	q.watch = NULL;
	ck_assert_int_eq(crtsh_run(&q, on_done, &t), CT_ERR_INVALID);
	ck_assert_int_eq(t.done, 0);
	crtsh_query_clear(&q);
	drv_fini(&t);
}
END_TEST

static Suite *
crtsh_suite(void)
{
	Suite *s = suite_create("crtsh");
	TCase *p = tcase_create("parse");
	TCase *d = tcase_create("driver");

	tcase_set_timeout(p, 60);
	tcase_set_timeout(d, 60);
	tcase_add_test(p, test_parse_sample);
	tcase_add_test(p, test_parse_truncated);
	tcase_add_test(p, test_parse_shapes);
	tcase_add_test(p, test_parse_types);
	tcase_add_test(p, test_parse_names);
	tcase_add_test(p, test_parse_row_cap);
	tcase_add_test(p, test_parse_caps);
	tcase_add_test(p, test_urls);
	tcase_add_test(p, test_verify_r11);
	tcase_add_test(p, test_verify_bodies);
	tcase_add_test(d, test_run_cache);
	tcase_add_test(d, test_run_mismatch_and_failure);
	tcase_add_test(d, test_run_errors);
	tcase_add_test(d, test_run_download_cap);
	tcase_add_test(d, test_run_inflight);
	tcase_add_test(d, test_run_wildcard_search);
	tcase_add_test(d, test_run_incomplete);
	tcase_add_test(d, test_run_cancel);
	tcase_add_test(d, test_run_bad_cache);
	tcase_add_test(d, test_run_lazy);
	tcase_add_test(d, test_run_invalid);
	suite_add_tcase(s, p);
	suite_add_tcase(s, d);
	return s;
}

int
main(void)
{
	int rc;

	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = testutil_run(crtsh_suite());
	curl_global_cleanup();
	return rc;
}
