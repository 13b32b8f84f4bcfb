/*
 * Unit tests for poller/certspotter: the parser on the real github.com
 * sample (../shared/testdata/certspotter; it has no expand=cert data, so
 * every issuance is NO_CERT), the YR1 issuer key cross-checked against
 * letsencrypt/int-yr1.pem, every field with a wrong type, truncation at
 * every length, HTML, included certificates that match or do not (tbs,
 * sha256, type, dates, key, names, bad base64, junk DER), a precert; URL,
 * cursor path, token loading; and the driver against
 * tests/unit/fixture_httpd: two pages then an empty one, the cursor stored
 * and used by the next run, never moved back, deferred commit, the page
 * cap, 401 with and without a token, 503, HTML, and paging that does not
 * advance. Every driver test ends with uv_loop_close() == 0.
 */
#define _GNU_SOURCE /* nftw, setenv */
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <uv.h>

#include "cert.h"
#include "certspotter.h"
#include "fixture_httpd.h"
#include "http.h"
#include "names.h"
#include "state.h"
#include "testutil.h"

#define CS_SAMPLE                                                              \
	SHARED_TESTDATA "certspotter/certspotter-issuances-github.com.json"
#define YR1_PEM SHARED_TESTDATA "letsencrypt/int-yr1.pem"
#define PRECERT_PEM SHARED_TESTDATA "ct-testdata/test-embedded-pre-cert.pem"
#define SCAN_DATA LOCAL_TESTDATA "scan/"
#define JSON_CT "Content-Type: application/json\r\n"
#define BODY_MAX_BYTES (1024 * 1024)
#define Q_SUB                                                                  \
	"/v1/issuances?domain=example.org&include_subdomains=true"             \
	"&match_wildcards=true&expand=dns_names&expand=issuer&expand=cert"

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

static int
parse_str(const char *s, struct certspotter_page *p, char *why, size_t whysz)
{
	return certspotter_parse(s, strlen(s), p, why, whysz);
}

/* Mutations of an issuance built from a certificate. */
#define M_NO_CERT 0x001
#define M_BAD_TBS 0x002
#define M_BAD_SHA 0x004
#define M_PRECERT 0x008 /* type "precert" */
#define M_BAD_B64 0x010
#define M_JUNK_DER 0x020
#define M_EXTRA_NAME 0x040
#define M_BAD_DATES 0x080
#define M_BAD_PUBKEY 0x100
#define M_NO_NAMES 0x200
#define M_NAMES_UPPER 0x400

static void
hex32(const uint8_t *p, char out[65])
{
	util_hex_encode(p, 32, out);
}

/* One issuance object for c with id, changed as flags say. */
static void
iss_json(struct util_buf *b, uint64_t id, const struct ct_cert *c,
    unsigned flags)
{
	char tbs[65], sha[65], pk[65], nb[UTIL_RFC3339_LEN],
	    na[UTIL_RFC3339_LEN], *b64;
	uint8_t tmp[32];
	size_t i;

	memcpy(tmp, c->tbs_sha256, 32);
	if (flags & M_BAD_TBS)
		tmp[31] ^= 1;
	hex32(tmp, tbs);
	memcpy(tmp, c->sha256, 32);
	if (flags & M_BAD_SHA)
		tmp[0] ^= 0x80;
	hex32(tmp, sha);
	memcpy(tmp, c->spki_sha256, 32);
	if (flags & M_BAD_PUBKEY)
		tmp[5] ^= 1;
	hex32(tmp, pk);
	util_time_rfc3339(c->not_before + ((flags & M_BAD_DATES) ? 1 : 0), nb);
	util_time_rfc3339(c->not_after, na);
	ck_assert_int_eq(util_buf_printf(b,
	                     "{\"id\":\"%llu\",\"tbs_sha256\":\"%s\","
	                     "\"cert_sha256\":\"%s\",\"pubkey_sha256\":\"%s\","
	                     "\"not_before\":\"%s\",\"not_after\":\"%s\","
	                     "\"revoked\":false,\"issuer\":{\"friendly_name\":"
	                     "\"Test\",\"name\":\"CN=Test CA\","
	                     "\"pubkey_sha256\":\"%s\"}",
	                     (unsigned long long)id, tbs, sha, pk, nb, na, pk),
	    0);
	if (!(flags & M_NO_NAMES)) {
		ck_assert_int_eq(util_buf_append_str(b, ",\"dns_names\":["), 0);
		for (i = 0; i < c->n_dns_names; i++) {
			char name[300];
			size_t k;

			snprintf(name, sizeof(name), "%s",
			    c->dns_names[i].name);
			for (k = 0; (flags & M_NAMES_UPPER) && name[k]; k++)
				if (name[k] >= 'a' && name[k] <= 'z')
					name[k] = (char)(name[k] - 32);
			ck_assert_int_eq(util_buf_printf(b, "%s\"%s\"",
			                     i ? "," : "", name),
			    0);
		}
		if (flags & M_EXTRA_NAME)
			ck_assert_int_eq(util_buf_append_str(b,
			                     c->n_dns_names
			                         ? ",\"evil.example.org\""
			                         : "\"evil.example.org\""),
			    0);
		ck_assert_int_eq(util_buf_append_str(b, "]"), 0);
	}
	if (flags & M_NO_CERT) {
		ck_assert_int_eq(util_buf_append_str(b, "}"), 0);
		return;
	}
	if (flags & M_JUNK_DER) {
		b64 = strdup("AAECAwQFBgcICQ==");
	} else {
		b64 = malloc(util_b64_encoded_len(c->der_len) + 1);
		ck_assert_ptr_nonnull(b64);
		util_b64_encode(c->der, c->der_len, b64);
		if (flags & M_BAD_B64)
			b64[3] = '!';
	}
	ck_assert_int_eq(util_buf_printf(b,
	                     ",\"cert\":{\"type\":\"%s\",\"sha256\":\"%s\","
	                     "\"data\":\"%s\"}}",
	                     (flags & M_PRECERT) ? "precert" : "cert", sha,
	                     b64),
	    0);
	free(b64);
}

/* An array of issuances: ids[i] for certs[i] with flags[i]. */
static char *
page_json(const uint64_t *ids, struct ct_cert *const *certs,
    const unsigned *flags, size_t n)
{
	struct util_buf b;
	size_t i;

	util_buf_init(&b, BODY_MAX_BYTES);
	ck_assert_int_eq(util_buf_append_str(&b, "["), 0);
	for (i = 0; i < n; i++) {
		if (i > 0)
			ck_assert_int_eq(util_buf_append_str(&b, ","), 0);
		iss_json(&b, ids[i], certs[i], flags ? flags[i] : 0);
	}
	ck_assert_int_eq(util_buf_append_str(&b, "]"), 0);
	ck_assert_int_eq(util_buf_cstr(&b), 0);
	return (char *)util_buf_take(&b, NULL);
}

/* Parses one issuance for c with flags. */
static int
parse_one(const struct ct_cert *c, unsigned flags, struct certspotter_page *p,
    char *why, size_t whysz)
{
	struct ct_cert *cc = (struct ct_cert *)(uintptr_t)c;
	uint64_t id = 42;
	char *s = page_json(&id, &cc, &flags, 1);
	int rc = parse_str(s, p, why, whysz);

	free(s);
	return rc;
}

/* ------------------------------------------------------------ parser */

START_TEST(test_parse_sample)
{
	struct certspotter_page p;
	struct ct_cert *yr1 = load_cert(YR1_PEM);
	const struct certspotter_issuance *it;
	size_t len, i, nyr1 = 0, nr36 = 0, ne36 = 0;
	uint8_t *body = testutil_read(CS_SAMPLE, &len);
	char why[200], hex[65];

	ck_assert_int_eq(certspotter_parse((char *)body, len, &p, why,
	                     sizeof(why)),
	    0);
	ck_assert_uint_eq(p.n, 9);
	ck_assert_uint_eq(p.items[0].id, 16246130557ULL);
	ck_assert_uint_eq(p.items[8].id, 17531471500ULL);
	for (i = 0; i < p.n; i++) {
		it = &p.items[i];
		if (i > 0)
			ck_assert_uint_gt(it->id, p.items[i - 1].id);
		ck_assert(it->has_revoked);
		ck_assert(!it->revoked);
		ck_assert(it->has_pubkey_sha256);
		ck_assert(it->has_dns_names);
		ck_assert(it->has_issuer);
		ck_assert(!it->has_cert);
		ck_assert_ptr_null(it->cert);
		ck_assert_int_eq(it->status, CERTSPOTTER_NO_CERT);
		ck_assert_str_eq(it->reason,
		    "no certificate data (expand=cert)");
		ck_assert_int_lt(it->not_before, it->not_after);
		if (strstr(it->issuer_name, "CN=YR1") != NULL) {
			nyr1++;
			ck_assert_str_eq(it->issuer_friendly_name,
			    "Let's Encrypt");
			ck_assert(it->has_issuer_pubkey_sha256);
			/* The sample's YR1 key is int-yr1.pem's. */
			ck_assert_mem_eq(it->issuer_pubkey_sha256,
			    yr1->spki_sha256, 32);
			hex32(it->issuer_pubkey_sha256, hex);
			ck_assert_str_eq(hex,
			    "2e8307068b6db620e4a39d068b5dee5d"
			    "6ef5788cbb2c0b6d23ead84fcc17178c");
		} else if (strstr(it->issuer_name, "DV R36") != NULL) {
			nr36++;
		} else if (strstr(it->issuer_name, "DV E36") != NULL) {
			ne36++;
		}
	}
	ck_assert_uint_eq(nyr1, 2);
	ck_assert_uint_eq(nr36, 5);
	ck_assert_uint_eq(ne36, 2);
	it = &p.items[0];
	hex32(it->tbs_sha256, hex);
	ck_assert_str_eq(hex,
	    "a445a23ecad6078069cb942f5c5945ace94be3503b0fbb"
	    "45e47505c88894cf15");
	ck_assert_uint_eq(it->n_dns_names, 6);
	ck_assert_str_eq(it->dns_names[0].name, "*.github.com");
	ck_assert_uint_eq(it->dns_names[5].len,
	    strlen("githubusercontent.com"));
	ck_assert_int_eq(it->not_before, 1785713882); /* 2026-08-02T23:38:02Z */
	certspotter_page_clear(&p);
	ck_assert_ptr_null(p.items);
	free(body);
	cert_free(yr1);
}
END_TEST

START_TEST(test_parse_truncated)
{
	struct certspotter_page p;
	size_t len, cut, end;
	uint8_t *body = testutil_read(CS_SAMPLE, &len);

	end = len;
	while (end > 0 && body[end - 1] != ']')
		end--;
	for (cut = 0; cut < end; cut++) {
		ck_assert_msg(certspotter_parse((char *)body, cut, &p, NULL,
		                  0) != 0,
		    "a prefix of %zu bytes was accepted", cut);
		ck_assert_ptr_null(p.items);
	}
	ck_assert_int_eq(certspotter_parse((char *)body, end, &p, NULL, 0), 0);
	certspotter_page_clear(&p);
	free(body);
}
END_TEST

START_TEST(test_parse_shapes)
{
	struct certspotter_page p;
	char why[200];

	ck_assert_int_eq(parse_str("[]", &p, why, sizeof(why)), 0);
	ck_assert_uint_eq(p.n, 0);
	certspotter_page_clear(&p);
	ck_assert_int_eq(parse_str("<html><body>502</body></html>", &p, why,
	                     sizeof(why)),
	    CT_ERR_FORMAT);
	ck_assert_str_eq(why, "response is HTML, not JSON");
	ck_assert_int_eq(parse_str("", &p, why, sizeof(why)), CT_ERR_TRUNCATED);
	ck_assert_int_eq(parse_str("{\"code\":\"not_found\"}", &p, why,
	                     sizeof(why)),
	    CT_ERR_FORMAT);
	ck_assert_str_eq(why, "response is a JSON object, not an array");
	ck_assert_int_eq(parse_str("[\"1\"]", &p, why, sizeof(why)),
	    CT_ERR_FORMAT);
	ck_assert_str_eq(why, "issuance 0 is not an object");
	ck_assert_int_eq(parse_str("[{}]", &p, why, sizeof(why)),
	    CT_ERR_FORMAT);
	ck_assert_str_eq(why, "issuance 0: no id");
}
END_TEST

/* A valid issuance with member key replaced by value (NULL: removed). */
static char *
iss_with(const char *key, const char *value)
{
	static const char *const keys[] = {"id", "tbs_sha256", "cert_sha256",
	    "dns_names", "pubkey_sha256", "issuer", "not_before", "not_after",
	    "revoked", "cert"};
	static const char *const vals[] = {"\"16246130557\"",
	    "\"a445a23ecad6078069cb942f5c5945ace94be3503b0fbb45e47505c88894"
	    "cf15\"",
	    "\"71f1077db377fd7b8d68380da66fa68238a303b2911bcb770b3b2a426693"
	    "cf84\"",
	    "[\"github.com\",\"*.github.com\"]",
	    "\"a7831b0537d4dcc4f3a8fc4cd828efd2add638df0be85a92cda9bae4d544"
	    "91c3\"",
	    "{\"friendly_name\":\"Let's Encrypt\",\"pubkey_sha256\":"
	    "\"2e8307068b6db620e4a39d068b5dee5d6ef5788cbb2c0b6d23ead84fcc17"
	    "178c\",\"name\":\"C=US, O=Let's Encrypt, CN=YR1\"}",
	    "\"2026-08-02T23:38:02Z\"", "\"2026-10-31T23:38:01Z\"", "false",
	    "null"};
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
parse_iss_with(const char *key, const char *value, struct certspotter_page *p,
    char *why, size_t whysz)
{
	char *s = iss_with(key, value);
	int rc = parse_str(s, p, why, whysz);

	free(s);
	return rc;
}

START_TEST(test_parse_types)
{
	static const struct {
		const char *key, *value, *why;
	} bad[] = {
	    {"id", "16246130557", "issuance 0: id is not a string"},
	    {"id", "\"\"", "issuance 0: id is not a decimal number"},
	    {"id", "\"12a\"", "issuance 0: id is not a decimal number"},
	    {"id", "\"-1\"", "issuance 0: id is not a decimal number"},
	    {"id", "\"0\"", "issuance 0: id is not a decimal number"},
	    {"id", "\"0123\"", "issuance 0: id is not a decimal number"},
	    {"id", "\"18446744073709551616\"",
	        "issuance 0: id is not a "
	        "decimal number"},
	    {"id", "null", "issuance 0: id is not a string"},
	    {"id", NULL, "issuance 0: no id"},
	    {"tbs_sha256", "null", "issuance 0: tbs_sha256 is not a string"},
	    {"tbs_sha256", "\"a445\"",
	        "issuance 0: tbs_sha256 is not 64 hex "
	        "digits"},
	    {"tbs_sha256",
	        "\"x445a23ecad6078069cb942f5c5945ace94be3503b0fbb45e47505c8889"
	        "4cf15\"",
	        "issuance 0: tbs_sha256 is not 64 hex digits"},
	    {"tbs_sha256", "[]", "issuance 0: tbs_sha256 is not a string"},
	    {"tbs_sha256", NULL, "issuance 0: no tbs_sha256"},
	    {"pubkey_sha256", "1",
	        "issuance 0: pubkey_sha256 is not a "
	        "string"},
	    {"pubkey_sha256", "\"00\"",
	        "issuance 0: pubkey_sha256 is not 64 "
	        "hex digits"},
	    {"cert_sha256", "true", "issuance 0: cert_sha256 is not a string"},
	    {"not_before", "1785713882",
	        "issuance 0: not_before is not a "
	        "string"},
	    {"not_before", "\"2026-08-02T23:38:02\"",
	        "issuance 0: not_before "
	        "is not an RFC 3339 "
	        "time"},
	    {"not_before", NULL, "issuance 0: no not_before"},
	    {"not_after", "null", "issuance 0: not_after is not a string"},
	    {"not_after", "\"tomorrow\"",
	        "issuance 0: not_after is not an "
	        "RFC 3339 time"},
	    {"revoked", "\"false\"", "issuance 0: revoked is not a boolean"},
	    {"revoked", "0", "issuance 0: revoked is not a boolean"},
	    {"dns_names", "\"github.com\"",
	        "issuance 0: dns_names is not an "
	        "array"},
	    {"dns_names", "{}", "issuance 0: dns_names is not an array"},
	    {"dns_names", "[1]",
	        "issuance 0: dns_names is not an array of "
	        "strings"},
	    {"dns_names", "[\"a\",null]",
	        "issuance 0: dns_names is not an "
	        "array of strings"},
	    {"issuer", "\"YR1\"", "issuance 0: issuer is not an object"},
	    {"issuer", "[]", "issuance 0: issuer is not an object"},
	    {"issuer", "{\"name\":1}",
	        "issuance 0: issuer.name is not a "
	        "string"},
	    {"issuer", "{\"friendly_name\":[]}",
	        "issuance 0: "
	        "issuer.friendly_name is "
	        "not a string"},
	    {"issuer", "{\"pubkey_sha256\":\"2e83\"}",
	        "issuance 0: "
	        "issuer.pubkey_sha256 "
	        "is not 64 hex digits"},
	    {"issuer", "{\"name\":\"a\",\"name\":\"b\"}",
	        "issuance 0: "
	        "issuer.name appears "
	        "twice"},
	    {"cert", "\"MIIB\"", "issuance 0: cert is not an object"},
	    {"cert", "{\"data\":\"AAAA\"}", "issuance 0: no cert.type"},
	    {"cert", "{\"type\":\"cert\"}", "issuance 0: no cert.data"},
	    {"cert", "{\"type\":\"x509\",\"data\":\"AAAA\"}",
	        "issuance 0: "
	        "cert.type is not "
	        "\"cert\" or "
	        "\"precert\""},
	    {"cert", "{\"type\":1,\"data\":\"AAAA\"}",
	        "issuance 0: cert.type "
	        "is not \"cert\" or "
	        "\"precert\""},
	    {"cert", "{\"type\":\"cert\",\"data\":7}",
	        "issuance 0: cert.data "
	        "is not a string"},
	    {"cert", "{\"type\":\"cert\",\"data\":\"AAAA\",\"sha256\":5}",
	        "issuance 0: cert.sha256 is not a string"},
	};
	struct certspotter_page p;
	char why[200];
	size_t i;
	int rc;

	ck_assert_int_eq(parse_iss_with(NULL, NULL, &p, why, sizeof(why)), 0);
	ck_assert_uint_eq(p.n, 1);
	ck_assert_int_eq(p.items[0].status, CERTSPOTTER_NO_CERT);
	certspotter_page_clear(&p);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		rc = parse_iss_with(bad[i].key, bad[i].value, &p, why,
		    sizeof(why));
		ck_assert_msg(rc == CT_ERR_FORMAT, "%s=%s: rc %d", bad[i].key,
		    bad[i].value ? bad[i].value : "(absent)", rc);
		ck_assert_msg(strcmp(why, bad[i].why) == 0,
		    "%s=%s: why \"%s\", want \"%s\"", bad[i].key,
		    bad[i].value ? bad[i].value : "(absent)", why, bad[i].why);
		ck_assert_ptr_null(p.items);
	}
	/* Optional members may be absent or null. */
	static const char *const optional[] = {"cert_sha256", "pubkey_sha256",
	    "dns_names", "issuer", "revoked", "cert"};
	for (i = 0; i < sizeof(optional) / sizeof(optional[0]); i++) {
		ck_assert_msg(parse_iss_with(optional[i], NULL, &p, why,
		                  sizeof(why)) == 0,
		    "%s absent: %s", optional[i], why);
		certspotter_page_clear(&p);
		ck_assert_msg(parse_iss_with(optional[i], "null", &p, why,
		                  sizeof(why)) == 0,
		    "%s null: %s", optional[i], why);
		certspotter_page_clear(&p);
	}
	ck_assert_int_eq(parse_iss_with("revoked", "true", &p, why,
	                     sizeof(why)),
	    0);
	ck_assert(p.items[0].revoked);
	certspotter_page_clear(&p);
	ck_assert_int_eq(parse_iss_with("revoked", "null", &p, why,
	                     sizeof(why)),
	    0);
	ck_assert(!p.items[0].has_revoked);
	certspotter_page_clear(&p);
	/* Unknown members are ignored. */
	ck_assert_int_eq(parse_str("[{\"id\":\"5\",\"tbs_sha256\":\"a445a23ecad"
	                           "6078069cb942f5c5945ace94be3503b0fbb45e475"
	                           "05c88894cf15\",\"not_before\":\"2026-08-0"
	                           "2T23:38:02Z\",\"not_after\":\"2026-10-31T"
	                           "23:38:01+02:00\",\"pubkey\":{\"x\":[1]}}]",
	                     &p, why, sizeof(why)),
	    0);
	ck_assert_uint_eq(p.items[0].id, 5);
	ck_assert(!p.items[0].has_dns_names);
	certspotter_page_clear(&p);
}
END_TEST

START_TEST(test_parse_certs)
{
	struct ct_cert *www = load_cert(SCAN_DATA "www-1.pem");
	struct ct_cert *pre = load_cert(PRECERT_PEM);
	struct certspotter_page p;
	static const struct {
		unsigned flags;
		const char *reason;
	} bad[] = {
	    {M_BAD_TBS, "certificate's tbs_sha256"},
	    {M_BAD_SHA, "does not hash to cert.sha256"},
	    {M_PRECERT, "cert.type is precert but the data is a certificate"},
	    {M_BAD_B64, "cert.data is not base64"},
	    {M_JUNK_DER, "certificate data does not parse"},
	    {M_EXTRA_NAME, "dns_names entry 2 is not in the certificate"},
	    {M_BAD_DATES, "certificate validity differs"},
	    {M_BAD_PUBKEY, "certificate key differs from pubkey_sha256"},
	};
	char why[200];
	size_t i;

	ck_assert_int_eq(parse_one(www, 0, &p, why, sizeof(why)), 0);
	ck_assert_int_eq(p.items[0].status, CERTSPOTTER_OK);
	ck_assert_str_eq(p.items[0].reason, "");
	ck_assert(p.items[0].has_cert);
	ck_assert(!p.items[0].cert_is_precert);
	ck_assert_ptr_nonnull(p.items[0].cert);
	ck_assert_mem_eq(p.items[0].cert->tbs_sha256, www->tbs_sha256, 32);
	certspotter_page_clear(&p);
	/* Names compare case-insensitively. */
	ck_assert_int_eq(parse_one(www, M_NAMES_UPPER, &p, why, sizeof(why)),
	    0);
	ck_assert_int_eq(p.items[0].status, CERTSPOTTER_OK);
	certspotter_page_clear(&p);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_eq(parse_one(www, bad[i].flags, &p, why,
		                     sizeof(why)),
		    0);
		ck_assert_msg(p.items[0].status == CERTSPOTTER_MISMATCH,
		    "flags %#x accepted", bad[i].flags);
		ck_assert_ptr_null(p.items[0].cert);
		ck_assert_msg(strstr(p.items[0].reason, bad[i].reason) != NULL,
		    "flags %#x: reason \"%s\"", bad[i].flags,
		    p.items[0].reason);
		ck_assert_msg(strncmp(p.items[0].reason,
		                  "Cert Spotter issuance 42: ", 26) == 0,
		    "%s", p.items[0].reason);
		certspotter_page_clear(&p);
	}
	/* A precertificate (issued directly by its CA): its tbs_sha256 is
	 * the poison-free TBS, and the type must say precert. */
	ck_assert(pre->precert);
	ck_assert_int_eq(parse_one(pre, M_PRECERT, &p, why, sizeof(why)), 0);
	ck_assert_msg(p.items[0].status == CERTSPOTTER_OK, "%s",
	    p.items[0].reason);
	ck_assert(p.items[0].cert_is_precert);
	ck_assert(p.items[0].cert->precert);
	certspotter_page_clear(&p);
	ck_assert_int_eq(parse_one(pre, 0, &p, why, sizeof(why)), 0);
	ck_assert_int_eq(p.items[0].status, CERTSPOTTER_MISMATCH);
	ck_assert_ptr_nonnull(strstr(p.items[0].reason,
	    "cert.type is cert but the data is a precertificate"));
	certspotter_page_clear(&p);
	/* No cert: only the hash is known. */
	ck_assert_int_eq(parse_one(www, M_NO_CERT, &p, why, sizeof(why)), 0);
	ck_assert_int_eq(p.items[0].status, CERTSPOTTER_NO_CERT);
	ck_assert_str_eq(certspotter_status_names[p.items[0].status],
	    "no certificate");
	certspotter_page_clear(&p);
	cert_free(www);
	cert_free(pre);
}
END_TEST

/* ------------------------------------------------------------ URL etc. */

START_TEST(test_urls)
{
	char out[CERTSPOTTER_MAX_URL_BYTES], small[32];
	char path[CERTSPOTTER_CURSOR_PATH_LEN], name[260];
	struct names_watch w;

	ck_assert_int_eq(names_watch_parse("www.example.org", 15, false, &w),
	    0);
	ck_assert_int_eq(certspotter_url("https://api.certspotter.com", &w,
	                     false, 0, out, sizeof(out)),
	    0);
	ck_assert_str_eq(out,
	    "https://api.certspotter.com/v1/issuances?"
	    "domain=www.example.org&match_wildcards=true"
	    "&expand=dns_names&expand=issuer&expand=cert");
	ck_assert_int_eq(certspotter_url("http://127.0.0.1:9/", &w, true,
	                     16246130557ULL, out, sizeof(out)),
	    0);
	ck_assert_str_eq(out,
	    "http://127.0.0.1:9/v1/issuances?"
	    "domain=www.example.org&match_wildcards=true"
	    "&expand=dns_names&expand=issuer&expand=cert"
	    "&expired=true&after=16246130557");
	certspotter_cursor_path(&w, path);
	ck_assert_str_eq(path, "certspotter/www.example.org.cursor");
	ck_assert_int_eq(state_relpath_check(path), 0);
	ck_assert_int_eq(names_watch_parse(".example.org", 12, false, &w), 0);
	ck_assert_int_eq(certspotter_url("https://x", &w, false, 0, out,
	                     sizeof(out)),
	    0);
	ck_assert_str_eq(out,
	    "https://x/v1/issuances?domain=example.org"
	    "&include_subdomains=true&match_wildcards=true"
	    "&expand=dns_names&expand=issuer&expand=cert");
	certspotter_cursor_path(&w, path);
	ck_assert_str_eq(path, "certspotter/.example.org.cursor");
	ck_assert_int_eq(certspotter_url("https://x", &w, false, 0, small,
	                     sizeof(small)),
	    CT_ERR_TOO_BIG);
	ck_assert_int_eq(certspotter_url("", &w, false, 0, out, sizeof(out)),
	    CT_ERR_INVALID);
	/* Underscores pass through; nothing else is possible in a watch. */
	ck_assert_int_eq(names_watch_parse("_dmarc.example.org", 18, false, &w),
	    0);
	ck_assert_int_eq(certspotter_url("https://x", &w, false, 0, out,
	                     sizeof(out)),
	    0);
	ck_assert_ptr_nonnull(strstr(out, "domain=_dmarc.example.org&"));
	/* A long name is hashed into a short file name. */
	memset(name, 'a', 60);
	memcpy(name + 60, ".", 1);
	memset(name + 61, 'b', 60);
	memcpy(name + 121, ".", 1);
	memset(name + 122, 'c', 60);
	memcpy(name + 182, ".", 1);
	memset(name + 183, 'd', 60);
	memcpy(name + 243, ".org", 5);
	ck_assert_int_eq(names_watch_parse(name, strlen(name), false, &w), 0);
	certspotter_cursor_path(&w, path);
	ck_assert_uint_eq(strlen(path),
	    strlen("certspotter/sha256-.cursor") + 64);
	ck_assert_int_eq(state_relpath_check(path), 0);
	{
		char path2[CERTSPOTTER_CURSOR_PATH_LEN];

		w.subdomains = true;
		certspotter_cursor_path(&w, path2);
		ck_assert_str_ne(path, path2);
	}
}
END_TEST

START_TEST(test_token)
{
	char dir[256], path[512], buf[CERTSPOTTER_MAX_TOKEN_BYTES + 1],
	    big[CERTSPOTTER_MAX_TOKEN_BYTES + 10];
	const char *tmp = getenv("TMPDIR");
	bool loose = true;
	int fd;

	snprintf(dir, sizeof(dir), "%s/ct-token-XXXXXX", tmp ? tmp : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/token", dir);
#define PUT(text, mode)                                                        \
	do {                                                                   \
		unlink(path);                                                  \
		ck_assert_int_ge(fd = open(path, O_CREAT | O_WRONLY, (mode)),  \
		    0);                                                        \
		ck_assert_int_eq(write(fd, (text), strlen(text)),              \
		    (ssize_t)strlen(text));                                    \
		ck_assert_int_eq(fchmod(fd, (mode)), 0);                       \
		close(fd);                                                     \
	} while (0)
	PUT("tok-123\n", 0600);
	ck_assert_int_eq(certspotter_load_token(path, buf, sizeof(buf), &loose),
	    0);
	ck_assert_str_eq(buf, "tok-123");
	ck_assert(!loose);
	PUT("k_AbC.9\r\n", 0644);
	ck_assert_int_eq(certspotter_load_token(path, buf, sizeof(buf), &loose),
	    0);
	ck_assert_str_eq(buf, "k_AbC.9");
	ck_assert(loose); /* readable by others: the caller warns */
	PUT("tok", 0640);
	ck_assert_int_eq(certspotter_load_token(path, buf, sizeof(buf), &loose),
	    0);
	ck_assert_str_eq(buf, "tok");
	ck_assert(loose);
	PUT("", 0600);
	ck_assert_int_eq(certspotter_load_token(path, buf, sizeof(buf), NULL),
	    CT_ERR_FORMAT);
	PUT("\n", 0600);
	ck_assert_int_eq(certspotter_load_token(path, buf, sizeof(buf), NULL),
	    CT_ERR_FORMAT);
	/* Anything that could break the header is refused. */
	PUT("tok 123\n", 0600);
	ck_assert_int_eq(certspotter_load_token(path, buf, sizeof(buf), NULL),
	    CT_ERR_FORMAT);
	ck_assert_str_eq(buf, "");
	PUT("tok\r\nX-Evil: 1\n", 0600);
	ck_assert_int_eq(certspotter_load_token(path, buf, sizeof(buf), NULL),
	    CT_ERR_FORMAT);
	PUT("tok\n\n", 0600);
	ck_assert_int_eq(certspotter_load_token(path, buf, sizeof(buf), NULL),
	    CT_ERR_FORMAT);
	PUT("t\xc3\xa9k", 0600);
	ck_assert_int_eq(certspotter_load_token(path, buf, sizeof(buf), NULL),
	    CT_ERR_FORMAT);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	PUT(big, 0600);
	ck_assert_int_eq(certspotter_load_token(path, buf, sizeof(buf), NULL),
	    CT_ERR_TOO_BIG);
	PUT("tok-123", 0600);
	ck_assert_int_eq(certspotter_load_token(path, buf, 4, NULL),
	    CT_ERR_TOO_BIG);
	ck_assert_int_eq(certspotter_load_token(dir, buf, sizeof(buf), NULL),
	    CT_ERR_IO);
	snprintf(path, sizeof(path), "%s/missing", dir);
	ck_assert_int_eq(certspotter_load_token(path, buf, sizeof(buf), NULL),
	    CT_ERR_IO);
	/* The environment. */
	unsetenv(CERTSPOTTER_TOKEN_ENV);
	ck_assert_int_eq(certspotter_load_token(NULL, buf, sizeof(buf), NULL),
	    CT_ERR_NOT_FOUND);
	setenv(CERTSPOTTER_TOKEN_ENV, "", 1);
	ck_assert_int_eq(certspotter_load_token(NULL, buf, sizeof(buf), NULL),
	    CT_ERR_NOT_FOUND);
	setenv(CERTSPOTTER_TOKEN_ENV, "env-tok", 1);
	ck_assert_int_eq(certspotter_load_token(NULL, buf, sizeof(buf), &loose),
	    0);
	ck_assert_str_eq(buf, "env-tok");
	ck_assert(!loose);
	setenv(CERTSPOTTER_TOKEN_ENV, "env tok", 1);
	ck_assert_int_eq(certspotter_load_token(NULL, buf, sizeof(buf), NULL),
	    CT_ERR_FORMAT);
	/* A file wins over the environment. */
	setenv(CERTSPOTTER_TOKEN_ENV, "env-tok", 1);
	snprintf(path, sizeof(path), "%s/token", dir);
	PUT("file-tok\n", 0600);
	ck_assert_int_eq(certspotter_load_token(path, buf, sizeof(buf), NULL),
	    0);
	ck_assert_str_eq(buf, "file-tok");
	unsetenv(CERTSPOTTER_TOKEN_ENV);
#undef PUT
	rm_rf(dir);
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
	snprintf(t->dir, sizeof(t->dir), "%s/ct-cs-XXXXXX", tmp ? tmp : "/tmp");
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
on_done(struct certspotter_query *q, void *arg)
{
	struct drv *t = arg;

	(void)q;
	t->done++;
	uv_stop(&t->loop);
}

static void
query_setup(struct drv *t, struct certspotter_query *q, struct names_watch *w,
    const char *watch)
{
	bool sub = watch[0] == '.';

	ck_assert_int_eq(names_watch_parse(watch, strlen(watch), sub, w), 0);
	certspotter_query_init(q);
	q->http = t->http;
	q->state = t->st;
	q->watch = w;
	q->base_url = t->base;
	q->allow_http = true;
}

static void
drv_run(struct drv *t, struct certspotter_query *q)
{
	int before = t->done;

	ck_assert_int_eq(certspotter_run(q, on_done, t), 0);
	ck_assert_int_eq(t->done, before);
	uv_run(&t->loop, UV_RUN_DEFAULT);
	ck_assert_int_eq(t->done, before + 1);
}

static void
serve_page(struct drv *t, uint64_t after, const char *body, int status,
    const char *headers)
{
	char target[512];

	if (after != 0)
		snprintf(target, sizeof(target), Q_SUB "&after=%llu",
		    (unsigned long long)after);
	else
		snprintf(target, sizeof(target), Q_SUB);
	ck_assert_int_eq(fixture_httpd_add_str(t->fx, target, status,
	                     headers != NULL ? headers : JSON_CT, body),
	    0);
}

static unsigned
page_hits(struct drv *t, uint64_t after)
{
	char target[512];

	if (after != 0)
		snprintf(target, sizeof(target), Q_SUB "&after=%llu",
		    (unsigned long long)after);
	else
		snprintf(target, sizeof(target), Q_SUB);
	return fixture_httpd_hits(t->fx, target);
}

/* Certificates www-1, mail-1, outside, www-2. */
static void
four_certs(struct ct_cert *c[4])
{
	c[0] = load_cert(SCAN_DATA "www-1.pem");
	c[1] = load_cert(SCAN_DATA "mail-1.pem");
	c[2] = load_cert(SCAN_DATA "outside.pem");
	c[3] = load_cert(SCAN_DATA "www-2.pem");
}

/* Page 1: 10, 11, 12 (12 is outside.example.net, 11 mismatches);
 * page 2 after 12: 13; page 3 after 13: []. */
static void
serve_three_pages(struct drv *t, struct ct_cert *c[4])
{
	static const uint64_t ids1[] = {10, 11, 12}, ids2[] = {13};
	static const unsigned fl1[] = {0, M_BAD_TBS, 0};
	char *p1 = page_json(ids1, c, fl1, 3),
	     *p2 = page_json(ids2, c + 3, NULL, 1);

	serve_page(t, 0, p1, 200, NULL);
	serve_page(t, 12, p2, 200, NULL);
	serve_page(t, 13, "[]", 200, NULL);
	free(p1);
	free(p2);
}

static void
free_certs(struct ct_cert *c[], size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		cert_free(c[i]);
}

START_TEST(test_run_pages_and_cursor)
{
	struct certspotter_query q;
	struct names_watch w;
	struct ct_cert *c[4];
	const char *head;
	uint8_t *buf;
	size_t len;
	struct drv t;
	uint64_t cur;

	drv_init(&t);
	four_certs(c);
	serve_three_pages(&t, c);
	query_setup(&t, &q, &w, ".example.org");
	q.token = "tok-123";
	drv_run(&t, &q);
	ck_assert_msg(q.result.status == 0, "%s", q.result.error);
	ck_assert(!q.result.incomplete);
	ck_assert_uint_eq(q.result.pages, 3);
	ck_assert_uint_eq(q.result.n, 3);
	ck_assert_uint_eq(q.result.n_unrelated, 1);
	ck_assert_uint_eq(q.result.n_mismatch, 1);
	ck_assert_uint_eq(q.result.items[0].id, 10);
	ck_assert_int_eq(q.result.items[0].status, CERTSPOTTER_OK);
	ck_assert_int_eq(q.result.items[0].match, NAMES_EXACT);
	ck_assert_uint_eq(q.result.items[1].id, 11);
	ck_assert_int_eq(q.result.items[1].status, CERTSPOTTER_MISMATCH);
	ck_assert_int_eq(q.result.items[1].match, NAMES_SUBDOMAIN);
	ck_assert_uint_eq(q.result.items[2].id, 13);
	ck_assert_mem_eq(q.result.items[2].cert->tbs_sha256, c[3]->tbs_sha256,
	    32);
	ck_assert(!q.result.had_cursor);
	ck_assert_uint_eq(q.result.cursor_out, 13);
	ck_assert(q.result.cursor_stored);
	ck_assert_uint_eq(page_hits(&t, 0), 1);
	ck_assert_uint_eq(page_hits(&t, 12), 1);
	ck_assert_uint_eq(page_hits(&t, 13), 1);
	ck_assert_uint_eq(fixture_httpd_unmatched(t.fx), 0);
	/* The token went in the header, and only there. */
	head = fixture_httpd_last_head(t.fx, Q_SUB);
	ck_assert_ptr_nonnull(head);
	ck_assert_ptr_nonnull(
	    strstr(head, "\r\nAuthorization: Bearer tok-123\r\n"));
	ck_assert_ptr_nonnull(strstr(head, "\r\nAccept: application/json\r\n"));
	ck_assert_ptr_null(strstr(head, "GET /v1/issuances?tok"));
	ck_assert_int_eq(state_read(t.st, "certspotter/.example.org.cursor", 64,
	                     &buf, &len),
	    0);
	ck_assert_str_eq((char *)buf, "13\n");
	free(buf);
	certspotter_query_clear(&q);
	/* The next run starts after the cursor. */
	query_setup(&t, &q, &w, ".example.org");
	drv_run(&t, &q);
	ck_assert_msg(q.result.status == 0, "%s", q.result.error);
	ck_assert(q.result.had_cursor);
	ck_assert_uint_eq(q.result.cursor_in, 13);
	ck_assert_uint_eq(q.result.cursor_out, 13);
	ck_assert_uint_eq(q.result.n, 0);
	ck_assert_uint_eq(q.result.pages, 1);
	ck_assert(!q.result.cursor_stored); /* nothing new to store */
	ck_assert_uint_eq(page_hits(&t, 0), 1);
	ck_assert_uint_eq(page_hits(&t, 13), 2);
	/* Without a token there is no Authorization header. */
	head = fixture_httpd_last_head(t.fx, Q_SUB "&after=13");
	ck_assert_ptr_null(strstr(head, "Authorization"));
	certspotter_query_clear(&q);
	/* The cursor never moves backwards. */
	ck_assert_int_eq(certspotter_cursor_store(t.st, &w, 5, 1000), 0);
	ck_assert_int_eq(certspotter_cursor_load(t.st, &w, &cur), 0);
	ck_assert_uint_eq(cur, 13);
	ck_assert_int_eq(certspotter_cursor_store(t.st, &w, 20, 1000), 0);
	ck_assert_int_eq(certspotter_cursor_load(t.st, &w, &cur), 0);
	ck_assert_uint_eq(cur, 20);
	/* A corrupt cursor is reported by load and ignored by a run. */
	ck_assert_int_eq(state_write(t.st, "certspotter/.example.org.cursor",
	                     "x1\n", 3),
	    0);
	ck_assert_int_eq(certspotter_cursor_load(t.st, &w, &cur),
	    CT_ERR_FORMAT);
	query_setup(&t, &q, &w, ".example.org");
	drv_run(&t, &q);
	ck_assert(!q.result.had_cursor);
	ck_assert_uint_eq(q.result.n, 3);
	ck_assert_uint_eq(page_hits(&t, 0), 2);
	certspotter_query_clear(&q);
	drv_fini(&t);
	free_certs(c, 4);
}
END_TEST

START_TEST(test_run_deferred_and_cap)
{
	struct certspotter_query q;
	struct names_watch w;
	struct ct_cert *c[4];
	struct drv t;
	uint64_t cur;

	drv_init(&t);
	four_certs(c);
	serve_three_pages(&t, c);
	/* The page cap: two pages without an empty one. */
	query_setup(&t, &q, &w, ".example.org");
	q.max_pages = 2;
	drv_run(&t, &q);
	ck_assert_msg(q.result.status == 0, "%s", q.result.error);
	ck_assert(q.result.incomplete);
	ck_assert_uint_eq(q.result.pages, 2);
	ck_assert_uint_eq(q.result.n, 3);
	ck_assert_uint_eq(q.result.cursor_out, 13);
	ck_assert(!q.result.cursor_stored);
	ck_assert_str_eq(q.result.cursor_note,
	    "cursor not stored: the pass did not finish");
	ck_assert_int_eq(certspotter_cursor_load(t.st, &w, &cur),
	    CT_ERR_NOT_FOUND);
	ck_assert_uint_eq(page_hits(&t, 13), 0);
	/*
	 * A caller that recorded what it got may still move the cursor
	 * past it, so that a backlog longer than the cap drains.
	 */
	ck_assert_int_eq(certspotter_commit_cursor(&q), 0);
	ck_assert_int_eq(certspotter_cursor_load(t.st, &w, &cur), 0);
	ck_assert_uint_eq(cur, 13);
	{
		char rel[CERTSPOTTER_CURSOR_PATH_LEN], path[4096];

		certspotter_cursor_path(&w, rel);
		snprintf(path, sizeof(path), "%s/%s", state_path(t.st), rel);
		ck_assert_int_eq(unlink(path), 0);
	}
	certspotter_query_clear(&q);
	/* Deferred: nothing stored until the caller commits. */
	query_setup(&t, &q, &w, ".example.org");
	q.defer_cursor = true;
	drv_run(&t, &q);
	ck_assert(!q.result.incomplete);
	ck_assert(!q.result.cursor_stored);
	ck_assert_int_eq(certspotter_cursor_load(t.st, &w, &cur),
	    CT_ERR_NOT_FOUND);
	ck_assert_int_eq(certspotter_commit_cursor(&q), 0);
	ck_assert(q.result.cursor_stored);
	ck_assert_int_eq(certspotter_cursor_load(t.st, &w, &cur), 0);
	ck_assert_uint_eq(cur, 13);
	certspotter_query_clear(&q);
	/* use_cursor off: no read, no write. */
	query_setup(&t, &q, &w, ".example.org");
	q.use_cursor = false;
	drv_run(&t, &q);
	ck_assert(!q.result.had_cursor);
	ck_assert_uint_eq(q.result.n, 3);
	certspotter_query_clear(&q);
	drv_fini(&t);
	free_certs(c, 4);
}
END_TEST

START_TEST(test_run_lock_busy)
{
	struct certspotter_query q;
	struct names_watch w;
	struct state_lock *l = NULL;
	struct ct_cert *c[4];
	struct drv t;
	uint64_t cur;

	drv_init(&t);
	four_certs(c);
	serve_three_pages(&t, c);
	ck_assert_int_eq(state_lock(t.st, CERTSPOTTER_LOCK_NAME, 0, &l), 0);
	query_setup(&t, &q, &w, ".example.org");
	q.lock_timeout_ms = 50;
	drv_run(&t, &q);
	ck_assert_msg(q.result.status == 0, "%s", q.result.error);
	ck_assert_uint_eq(q.result.n, 3);
	ck_assert(!q.result.cursor_stored);
	ck_assert_str_eq(q.result.cursor_note,
	    "cursor not stored: the state lock stayed busy");
	ck_assert_int_eq(certspotter_cursor_load(t.st, &w, &cur),
	    CT_ERR_NOT_FOUND);
	state_unlock(l);
	certspotter_query_clear(&q);
	drv_fini(&t);
	free_certs(c, 4);
}
END_TEST

START_TEST(test_run_errors)
{
	struct certspotter_query q;
	struct names_watch w;
	struct ct_cert *c[4];
	struct drv t;
	uint64_t cur;

	/* 401 with a token. */
	drv_init(&t);
	serve_page(&t, 0, "{\"code\":\"unauthorized\",\"message\":\"bad\"}",
	    401, NULL);
	query_setup(&t, &q, &w, ".example.org");
	q.token = "secret-tok";
	drv_run(&t, &q);
	ck_assert_int_eq(q.result.status, CT_ERR_AUTH);
	ck_assert_str_eq(q.result.error,
	    "Cert Spotter: token rejected (HTTP 401)");
	ck_assert_ptr_null(strstr(q.result.error, "secret"));
	certspotter_query_clear(&q);
	/* The same without a token. */
	query_setup(&t, &q, &w, ".example.org");
	drv_run(&t, &q);
	ck_assert_int_eq(q.result.status, CT_ERR_AUTH);
	ck_assert_str_eq(q.result.error,
	    "Cert Spotter: HTTP 401 without an "
	    "API token (set "
	    "CT_CERTSPOTTER_TOKEN)");
	certspotter_query_clear(&q);
	drv_fini(&t);

	/* 503 with the API's message, after the retry. */
	drv_init(&t);
	serve_page(&t, 0,
	    "{\"code\":\"unavailable\",\"message\":\"try "
	    "later|now\"}",
	    503, JSON_CT "Retry-After: 0\r\n");
	query_setup(&t, &q, &w, ".example.org");
	drv_run(&t, &q);
	ck_assert_int_eq(q.result.status, CT_ERR_PROTO);
	ck_assert_str_eq(q.result.error,
	    "Cert Spotter: HTTP 503 after 2 attempts: try later?now");
	ck_assert_uint_eq(page_hits(&t, 0), 2);
	certspotter_query_clear(&q);
	drv_fini(&t);

	/* HTML with 200. */
	drv_init(&t);
	serve_page(&t, 0, "<html>maintenance</html>", 200,
	    "Content-Type: text/html\r\n");
	query_setup(&t, &q, &w, ".example.org");
	drv_run(&t, &q);
	ck_assert_int_eq(q.result.status, CT_ERR_FORMAT);
	ck_assert_str_eq(q.result.error,
	    "Cert Spotter: response is not JSON (text/html)");
	certspotter_query_clear(&q);
	drv_fini(&t);

	/* A bad second page: the first page's issuances are kept, the
	 * cursor is not stored. */
	drv_init(&t);
	four_certs(c);
	{
		static const uint64_t ids[] = {10};
		char *p1 = page_json(ids, c, NULL, 1);

		serve_page(&t, 0, p1, 200, NULL);
		serve_page(&t, 10, "[{\"id\":\"11\"}]", 200, NULL);
		free(p1);
	}
	query_setup(&t, &q, &w, ".example.org");
	drv_run(&t, &q);
	ck_assert_int_eq(q.result.status, CT_ERR_FORMAT);
	ck_assert_str_eq(q.result.error,
	    "Cert Spotter: issuance 0: no tbs_sha256");
	ck_assert_uint_eq(q.result.n, 1);
	ck_assert(!q.result.cursor_stored);
	ck_assert_int_eq(certspotter_cursor_load(t.st, &w, &cur),
	    CT_ERR_NOT_FOUND);
	certspotter_query_clear(&q);
	drv_fini(&t);

	/* Paging that does not advance. */
	drv_init(&t);
	{
		static const uint64_t ids[] = {10};
		char *p1 = page_json(ids, c, NULL, 1);

		serve_page(&t, 0, p1, 200, NULL);
		serve_page(&t, 10, p1, 200, NULL);
		free(p1);
	}
	query_setup(&t, &q, &w, ".example.org");
	drv_run(&t, &q);
	ck_assert_int_eq(q.result.status, CT_ERR_PROTO);
	ck_assert_str_eq(q.result.error,
	    "Cert Spotter: paging did not advance past id 10");
	ck_assert_uint_eq(page_hits(&t, 10), 1);
	certspotter_query_clear(&q);
	drv_fini(&t);
	free_certs(c, 4);

	/* A refused token and a bad call never start. */
	drv_init(&t);
	query_setup(&t, &q, &w, ".example.org");
	q.token = "two words";
	ck_assert_int_eq(certspotter_run(&q, on_done, &t), CT_ERR_INVALID);
	q.token = NULL;
	q.max_pages = 0;
	ck_assert_int_eq(certspotter_run(&q, on_done, &t), CT_ERR_INVALID);
	ck_assert_int_eq(t.done, 0);
	certspotter_query_clear(&q);
	drv_fini(&t);
}
END_TEST

START_TEST(test_run_exact_watch)
{
	static const char target[] =
	    "/v1/issuances?domain=www.example.org&match_wildcards=true"
	    "&expand=dns_names&expand=issuer&expand=cert";
	struct certspotter_query q;
	struct names_watch w;
	struct ct_cert *c[4];
	struct drv t;
	uint64_t ids[] = {7};
	char *p1, after[sizeof(target) + 16];

	drv_init(&t);
	four_certs(c);
	p1 = page_json(ids, c, NULL, 1);
	ck_assert_int_eq(fixture_httpd_add_str(t.fx, target, 200, JSON_CT, p1),
	    0);
	snprintf(after, sizeof(after), "%s&after=7", target);
	ck_assert_int_eq(fixture_httpd_add_str(t.fx, after, 200, JSON_CT, "[]"),
	    0);
	query_setup(&t, &q, &w, "www.example.org");
	drv_run(&t, &q);
	ck_assert_msg(q.result.status == 0, "%s", q.result.error);
	ck_assert_uint_eq(q.result.n, 1);
	ck_assert(q.result.cursor_stored);
	ck_assert_uint_eq(fixture_httpd_unmatched(t.fx), 0);
	certspotter_query_clear(&q);
	free(p1);
	drv_fini(&t);
	free_certs(c, 4);
}
END_TEST

static Suite *
certspotter_suite(void)
{
	Suite *s = suite_create("certspotter");
	TCase *p = tcase_create("parse");
	TCase *d = tcase_create("driver");

	tcase_set_timeout(p, 60);
	tcase_set_timeout(d, 60);
	tcase_add_test(p, test_parse_sample);
	tcase_add_test(p, test_parse_truncated);
	tcase_add_test(p, test_parse_shapes);
	tcase_add_test(p, test_parse_types);
	tcase_add_test(p, test_parse_certs);
	tcase_add_test(p, test_urls);
	tcase_add_test(p, test_token);
	tcase_add_test(d, test_run_pages_and_cursor);
	tcase_add_test(d, test_run_deferred_and_cap);
	tcase_add_test(d, test_run_lock_busy);
	tcase_add_test(d, test_run_errors);
	tcase_add_test(d, test_run_exact_watch);
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
	rc = testutil_run(certspotter_suite());
	curl_global_cleanup();
	return rc;
}
