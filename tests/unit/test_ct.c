/*
 * Unit tests for common/ct: SCT and SCT-list parsing, SCT verification
 * (x509, precert, embedded, tiled-log leaf_index), STH signatures,
 * MerkleTreeLeaf and TileLeaf parsing, leaf hashes, inclusion and
 * consistency proofs, the collapsed tree and tile paths. Fixtures come
 * from ../shared/testdata (see its SOURCES.md for the expected values).
 */
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/random.h>
#include <wolfssl/wolfcrypt/sha256.h>
#include <wolfssl/wolfcrypt/signature.h>

#include <dirent.h>
#include <stdio.h>
#include <string.h>

#include "cert.h"
#include "ct.h"
#include "testutil.h"

#define CTDATA SHARED_TESTDATA "ct-testdata/"
#define JSONDATA SHARED_TESTDATA "ct-json/"
#define MERKLEDATA SHARED_TESTDATA "merkle/"
#define TILEDATA SHARED_TESTDATA "static-ct/navigli2025h2/tile/"

#define TEST_MAX_PROBES 512
#define TEST_MAX_SCT_BYTES 1024
#define TEST_ORACLE_LEAVES 40

/* ---------------------------------------------------------------- helpers */

static void
hex2bin(const char *hex, uint8_t *out, size_t outsz)
{
	int n = util_hex_decode(hex, strlen(hex), out, outsz);

	ck_assert_msg(n == (int)outsz, "bad hex '%s'", hex);
}

static void
b64_32(const char *b64, uint8_t out[CT_HASH_BYTES])
{
	int n = util_b64_decode(b64, strlen(b64), out, CT_HASH_BYTES, false);

	ck_assert_msg(n == CT_HASH_BYTES, "bad base64 hash '%s'", b64);
}

static void
ck_hash_hex(const uint8_t h[CT_HASH_BYTES], const char *want)
{
	char got[2 * CT_HASH_BYTES + 1];

	util_hex_encode(h, CT_HASH_BYTES, got);
	ck_assert_str_eq(got, want);
}

/* The DER of the first PEM block of a file, with its label checked. */
static uint8_t *
pem_der(const char *path, const char *want_label, size_t *len)
{
	uint8_t *text, *der = NULL;
	size_t text_len, off = 0;
	char label[64];
	int rc;

	text = testutil_read(path, &text_len);
	rc = util_pem_next((const char *)text, text_len, &off, label,
	    sizeof(label), &der, len);
	ck_assert_msg(rc == 0, "%s: %s", path, ct_strerror(rc));
	ck_assert_str_eq(label, want_label);
	free(text);
	return der;
}

static struct ct_cert *
load_cert(const char *name)
{
	struct ct_cert **certs = NULL, *c;
	char path[256];
	size_t n = 0;
	int rc;

	snprintf(path, sizeof(path), "%s%s", CTDATA, name);
	rc = cert_load_file(path, &certs, &n);
	ck_assert_msg(rc == 0, "%s: %s", path, ct_strerror(rc));
	ck_assert_uint_eq(n, 1);
	c = certs[0];
	free(certs);
	return c;
}

static uint8_t *
read_ct(const char *name, size_t *len)
{
	char path[256];

	snprintf(path, sizeof(path), "%s%s", CTDATA, name);
	return testutil_read(path, len);
}

static uint8_t *log_key; /* the test log's SPKI (ECDSA P-256) */
static size_t log_key_len;
static uint8_t *rsa_log_key; /* the RSA test log's SPKI */
static size_t rsa_log_key_len;
static uint8_t *pilot_key; /* Google Pilot's SPKI */
static size_t pilot_key_len;

static void
keys_setup(void)
{
	log_key = pem_der(CTDATA "ct-server-key-public.pem", "PUBLIC KEY",
	    &log_key_len);
	rsa_log_key = pem_der(CTDATA "ct-server-key-public-rsa.pem",
	    "PUBLIC KEY", &rsa_log_key_len);
	pilot_key = pem_der(CTDATA "google-ct-pilot-server-key-public.pem",
	    "PUBLIC KEY", &pilot_key_len);
}

static void
keys_teardown(void)
{
	free(log_key);
	free(rsa_log_key);
	free(pilot_key);
}

/*
 * Tiny JSON extraction for the fixed fixture files (no escapes in them):
 * the value after the first "key": at or after from.
 */
static const char *
json_value(const char *from, const char *key)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\"", key);
	if ((p = strstr(from, pat)) == NULL)
		return NULL;
	p += strlen(pat);
	while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')
		p++;
	if (*p++ != ':')
		return NULL;
	while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')
		p++;
	return p;
}

/* A string value: *s and *n span its content; returns the end quote. */
static const char *
json_str(const char *v, const char **s, size_t *n)
{
	const char *e;

	ck_assert_msg(v != NULL && *v == '"', "not a JSON string");
	e = strchr(v + 1, '"');
	ck_assert(e != NULL);
	*s = v + 1;
	*n = (size_t)(e - v - 1);
	return e;
}

static uint64_t
json_u64(const char *v)
{
	uint64_t x;
	size_t n = 0;

	ck_assert(v != NULL);
	while (v[n] >= '0' && v[n] <= '9')
		n++;
	ck_assert_int_eq(util_parse_u64(v, n, UINT64_MAX, &x), 0);
	return x;
}

/* Decodes a base64 string value into a malloc'd buffer. */
static uint8_t *
json_b64(const char *v, size_t *len)
{
	const char *s;
	size_t n;
	uint8_t *out;
	int got;

	json_str(v, &s, &n);
	out = malloc(n + 1);
	ck_assert(out != NULL);
	got = util_b64_decode(s, n, out, n + 1, false);
	ck_assert_msg(got >= 0, "bad base64");
	*len = (size_t)got;
	return out;
}

/* ------------------------------------------------------- SCT parse */

static const char test_log_id_hex[] =
    "df1c2ec11500945247a96168325ddc5c7959e8f7c6d388fc002e0bbd3f74d764";

START_TEST(test_sct_parse_proof)
{
	struct ct_sct s;
	uint8_t *p, id[CT_HASH_BYTES];
	size_t len;

	p = read_ct("test-cert.proof", &len);
	ck_assert_uint_eq(len, 118);
	ck_assert_int_eq(ct_sct_parse(p, len, &s), 0);
	ck_assert_uint_eq(s.version, 0);
	hex2bin(test_log_id_hex, id, sizeof(id));
	ck_assert_mem_eq(s.log_id, id, CT_HASH_BYTES);
	ck_assert_uint_eq(s.timestamp, 1365181456089ULL);
	ck_assert_uint_eq(s.ext_len, 0);
	ck_assert(!s.has_leaf_index);
	ck_assert_uint_eq(s.hash_alg, 4);
	ck_assert_uint_eq(s.sig_alg, 3);
	ck_assert_uint_eq(s.sig_len, 0x47);
	ck_assert(s.sig == p + len - 0x47);
	free(p);

	p = read_ct("test-intermediate-cert.proof", &len);
	ck_assert_uint_eq(len, 119);
	ck_assert_int_eq(ct_sct_parse(p, len, &s), 0);
	ck_assert_uint_eq(s.timestamp, 1365181456860ULL);
	free(p);
}
END_TEST

START_TEST(test_sct_parse_bad)
{
	uint8_t *p, buf[TEST_MAX_SCT_BYTES];
	struct ct_sct s;
	size_t len, i;
	int rc;

	p = read_ct("test-cert.proof", &len);
	ck_assert_uint_lt(len + 1, sizeof(buf));
	/* Truncated at every length. */
	for (i = 0; i < len; i++) {
		rc = ct_sct_parse(p, i, &s);
		ck_assert_msg(rc != 0, "truncated to %zu parsed", i);
	}
	ck_assert_int_eq(ct_sct_parse(NULL, 0, &s), CT_ERR_TRUNCATED);
	/* A trailing byte. */
	memcpy(buf, p, len);
	buf[len] = 0;
	ck_assert_int_eq(ct_sct_parse(buf, len + 1, &s), CT_ERR_TRAILING);
	/* Version 1 (v2 is not v1 either). */
	buf[0] = 1;
	ck_assert_int_eq(ct_sct_parse(buf, len, &s), CT_ERR_UNSUPPORTED);
	buf[0] = 0;
	/* Oversized extensions length (offset 41). */
	buf[41] = 0xff;
	ck_assert_int_eq(ct_sct_parse(buf, len, &s), CT_ERR_TRUNCATED);
	buf[41] = 0;
	/* Oversized and undersized signature length (offset 45). */
	buf[45] = 0;
	buf[46] = 0x48;
	ck_assert_int_eq(ct_sct_parse(buf, len, &s), CT_ERR_TRUNCATED);
	buf[46] = 0x46;
	ck_assert_int_eq(ct_sct_parse(buf, len, &s), CT_ERR_TRAILING);
	/* An empty signature. */
	buf[46] = 0;
	ck_assert_int_eq(ct_sct_parse(buf, 47, &s), CT_ERR_FORMAT);
	free(p);
}
END_TEST

/* Builds list = uint16 total || n x (uint16 len || sct). */
static size_t
make_list(uint8_t *out, size_t outsz, const uint8_t *sct, size_t sct_len,
    size_t n)
{
	size_t total = n * (2 + sct_len), i, off = 2;

	ck_assert_uint_le(total + 2, outsz);
	ck_assert_uint_le(total, 0xffff);
	out[0] = (uint8_t)(total >> 8);
	out[1] = (uint8_t)total;
	for (i = 0; i < n; i++) {
		out[off++] = (uint8_t)(sct_len >> 8);
		out[off++] = (uint8_t)sct_len;
		memcpy(out + off, sct, sct_len);
		off += sct_len;
	}
	return off;
}

START_TEST(test_sct_list)
{
	static uint8_t list[(CT_MAX_SCTS + 1) * 130];
	struct ct_sct scts[CT_MAX_SCTS];
	uint8_t *p, *q, two[512];
	size_t len, qlen, n, ll, i, off;
	int rc;

	p = read_ct("test-cert.proof", &len);
	q = read_ct("test-intermediate-cert.proof", &qlen);

	ll = make_list(list, sizeof(list), p, len, 1);
	ck_assert_int_eq(ct_sct_list_parse(list, ll, scts, CT_MAX_SCTS, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(scts[0].timestamp, 1365181456089ULL);
	ck_assert(scts[0].sig >= list && scts[0].sig < list + ll);

	/* Two different SCTs. */
	off = 2;
	two[off++] = 0;
	two[off++] = (uint8_t)len;
	memcpy(two + off, p, len);
	off += len;
	two[off++] = 0;
	two[off++] = (uint8_t)qlen;
	memcpy(two + off, q, qlen);
	off += qlen;
	two[0] = (uint8_t)((off - 2) >> 8);
	two[1] = (uint8_t)(off - 2);
	ck_assert_int_eq(ct_sct_list_parse(two, off, scts, CT_MAX_SCTS, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(scts[1].timestamp, 1365181456860ULL);
	/* Truncated at every length, and the outer length then too long. */
	for (i = 0; i < off; i++) {
		rc = ct_sct_list_parse(two, i, scts, CT_MAX_SCTS, &n);
		ck_assert_msg(rc != 0, "list truncated to %zu parsed", i);
		ck_assert_uint_eq(n, 0);
	}
	/* Trailing bytes after the list. */
	two[off] = 0;
	ck_assert_int_eq(ct_sct_list_parse(two, off + 1, scts, CT_MAX_SCTS, &n),
	    CT_ERR_TRAILING);
	/* Outer length one short: the last SCT is cut. */
	two[1]--;
	ck_assert(ct_sct_list_parse(two, off, scts, CT_MAX_SCTS, &n) != 0);
	two[1]++;
	/* First inner length too long and too short. */
	two[3]++;
	ck_assert(ct_sct_list_parse(two, off, scts, CT_MAX_SCTS, &n) != 0);
	two[3] -= 2;
	ck_assert(ct_sct_list_parse(two, off, scts, CT_MAX_SCTS, &n) != 0);
	two[3]++;
	/* The caller's array holds only one. */
	ck_assert_int_eq(ct_sct_list_parse(two, off, scts, 1, &n),
	    CT_ERR_TOO_BIG);
	ck_assert_uint_eq(n, 0);

	/* Zero SCTs, and a zero-length SCT. */
	ck_assert_int_eq(ct_sct_list_parse((const uint8_t *)"\0\0", 2, scts,
	                     CT_MAX_SCTS, &n),
	    CT_ERR_FORMAT);
	ck_assert_int_eq(ct_sct_list_parse((const uint8_t *)"\0\2\0\0", 4, scts,
	                     CT_MAX_SCTS, &n),
	    CT_ERR_FORMAT);
	ck_assert(ct_sct_list_parse(NULL, 0, scts, CT_MAX_SCTS, &n) != 0);
	ck_assert(ct_sct_list_parse((const uint8_t *)"\0", 1, scts, CT_MAX_SCTS,
	              &n) != 0);
	/* An oversized outer length. */
	ck_assert_int_eq(ct_sct_list_parse((const uint8_t *)"\xff\xff\0\1\0", 5,
	                     scts, CT_MAX_SCTS, &n),
	    CT_ERR_TRUNCATED);

	/* The cap: CT_MAX_SCTS parse, one more does not. */
	ll = make_list(list, sizeof(list), p, len, CT_MAX_SCTS);
	ck_assert_int_eq(ct_sct_list_parse(list, ll, scts, CT_MAX_SCTS, &n), 0);
	ck_assert_uint_eq(n, CT_MAX_SCTS);
	ll = make_list(list, sizeof(list), p, len, CT_MAX_SCTS + 1);
	ck_assert_int_eq(ct_sct_list_parse(list, ll, scts, CT_MAX_SCTS + 10,
	                     &n),
	    CT_ERR_TOO_BIG);
	free(p);
	free(q);
}
END_TEST

START_TEST(test_ext_parse)
{
	bool has;
	uint64_t idx;

	ck_assert_int_eq(ct_ext_parse(NULL, 0, &has, &idx), 0);
	ck_assert(!has);
	ck_assert_int_eq(ct_ext_parse((const uint8_t *)"\0\0\5\0\0\0\1\x2c", 8,
	                     &has, &idx),
	    0);
	ck_assert(has);
	ck_assert_uint_eq(idx, 300);
	ck_assert_int_eq(ct_ext_parse((const uint8_t *)"\0\0\5\xff\xff\xff\xff"
	                                               "\xff",
	                     8, &has, &idx),
	    0);
	ck_assert_uint_eq(idx, 0xffffffffffULL);
	/* Unknown types are skipped, before and after the index. */
	ck_assert_int_eq(ct_ext_parse((const uint8_t *)"\7\0\2\xaa\xbb"
	                                               "\0\0\5\0\0\0\0\7"
	                                               "\x80\0\0",
	                     16, &has, &idx),
	    0);
	ck_assert(has);
	ck_assert_uint_eq(idx, 7);
	ck_assert_int_eq(ct_ext_parse((const uint8_t *)"\7\0\2\xaa\xbb", 5,
	                     &has, &idx),
	    0);
	ck_assert(!has);
	/* Duplicates, of the index and of an unknown type. */
	ck_assert_int_eq(ct_ext_parse((const uint8_t *)"\0\0\5\0\0\0\0\1"
	                                               "\0\0\5\0\0\0\0\1",
	                     16, &has, &idx),
	    CT_ERR_FORMAT);
	ck_assert_int_eq(ct_ext_parse((const uint8_t *)"\7\0\0\7\0\0", 6, &has,
	                     &idx),
	    CT_ERR_FORMAT);
	/* leaf_index of the wrong length. */
	ck_assert_int_eq(ct_ext_parse((const uint8_t *)"\0\0\4\0\0\0\1", 7,
	                     &has, &idx),
	    CT_ERR_FORMAT);
	ck_assert_int_eq(ct_ext_parse((const uint8_t *)"\0\0\6\0\0\0\0\0\1", 9,
	                     &has, &idx),
	    CT_ERR_FORMAT);
	/* Truncated. */
	ck_assert_int_eq(ct_ext_parse((const uint8_t *)"\0\0\5\0\0\0\1", 7,
	                     &has, &idx),
	    CT_ERR_TRUNCATED);
	ck_assert_int_eq(ct_ext_parse((const uint8_t *)"\0\0", 2, &has, &idx),
	    CT_ERR_TRUNCATED);
	ck_assert_int_eq(ct_ext_parse((const uint8_t *)"\0", 1, &has, &idx),
	    CT_ERR_TRUNCATED);
}
END_TEST

/* ------------------------------------------------------- SCT verify */

/* test-cert.proof over test-cert.pem, intermediate likewise. */
START_TEST(test_sct_verify_x509)
{
	struct ct_cert *cert, *icert;
	struct ct_sct s, si;
	uint8_t *p, *q;
	size_t len, qlen;

	cert = load_cert("test-cert.pem");
	icert = load_cert("test-intermediate-cert.pem");
	p = read_ct("test-cert.proof", &len);
	q = read_ct("test-intermediate-cert.proof", &qlen);
	ck_assert_int_eq(ct_sct_parse(p, len, &s), 0);
	ck_assert_int_eq(ct_sct_parse(q, qlen, &si), 0);

	ck_assert_int_eq(ct_sct_verify_x509(&s, cert->der, cert->der_len,
	                     log_key, log_key_len),
	    0);
	ck_assert_int_eq(ct_sct_verify_x509(&si, icert->der, icert->der_len,
	                     log_key, log_key_len),
	    0);
	/* Swapped certificates. */
	ck_assert_int_eq(ct_sct_verify_x509(&s, icert->der, icert->der_len,
	                     log_key, log_key_len),
	    CT_ERR_SIGNATURE);
	ck_assert_int_eq(ct_sct_verify_x509(&si, cert->der, cert->der_len,
	                     log_key, log_key_len),
	    CT_ERR_SIGNATURE);
	/* Another log's key (log_id no longer matches). */
	ck_assert_int_eq(ct_sct_verify_x509(&s, cert->der, cert->der_len,
	                     pilot_key, pilot_key_len),
	    CT_ERR_SIGNATURE);
	ck_assert_int_eq(ct_sct_verify_x509(&s, cert->der, cert->der_len,
	                     rsa_log_key, rsa_log_key_len),
	    CT_ERR_SIGNATURE);
	/* Right log_id, wrong key type: the key itself is checked. */
	{
		struct ct_sct forged = s;
		uint8_t id[CT_HASH_BYTES];

		ck_assert_int_eq(wc_Sha256Hash(rsa_log_key,
		                     (word32)rsa_log_key_len, id),
		    0);
		memcpy(forged.log_id, id, CT_HASH_BYTES);
		ck_assert(ct_sct_verify_x509(&forged, cert->der, cert->der_len,
		              rsa_log_key, rsa_log_key_len) != 0);
	}
	/* Unknown algorithms. */
	s.hash_alg = 5;
	ck_assert_int_eq(ct_sct_verify_x509(&s, cert->der, cert->der_len,
	                     log_key, log_key_len),
	    CT_ERR_UNSUPPORTED);
	s.hash_alg = 4;
	s.sig_alg = 7;
	ck_assert_int_eq(ct_sct_verify_x509(&s, cert->der, cert->der_len,
	                     log_key, log_key_len),
	    CT_ERR_UNSUPPORTED);
	s.sig_alg = 1; /* claims RSA, the key is EC */
	ck_assert(ct_sct_verify_x509(&s, cert->der, cert->der_len, log_key,
	              log_key_len) != 0);
	s.sig_alg = 3;
	ck_assert_int_eq(ct_sct_verify_x509(&s, cert->der, cert->der_len,
	                     log_key, log_key_len),
	    0);
	ck_assert_int_eq(ct_sct_verify_x509(&s, cert->der, 0, log_key,
	                     log_key_len),
	    CT_ERR_INVALID);
	free(p);
	free(q);
	cert_free(cert);
	cert_free(icert);
}
END_TEST

/*
 * Flips every byte of a valid serialized SCT, three ways: each copy must
 * then fail to parse or fail to verify with verify().
 */
static void
flip_every_byte(const uint8_t *sct, size_t len,
    int (*verify)(const struct ct_sct *, void *), void *arg)
{
	static const uint8_t masks[] = {0x01, 0x80, 0xff};
	uint8_t buf[TEST_MAX_SCT_BYTES];
	struct ct_sct s;
	size_t i, m;

	ck_assert_uint_le(len, sizeof(buf));
	ck_assert_int_eq(ct_sct_parse(sct, len, &s), 0);
	ck_assert_int_eq(verify(&s, arg), 0);
	for (i = 0; i < len; i++) {
		for (m = 0; m < sizeof(masks); m++) {
			memcpy(buf, sct, len);
			buf[i] ^= masks[m];
			if (ct_sct_parse(buf, len, &s) != 0)
				continue;
			ck_assert_msg(verify(&s, arg) != 0,
			    "SCT with byte %zu ^ 0x%02x still verifies", i,
			    masks[m]);
		}
	}
}

static int
verify_test_cert(const struct ct_sct *s, void *arg)
{
	const struct ct_cert *cert = arg;

	return ct_sct_verify_x509(s, cert->der, cert->der_len, log_key,
	    log_key_len);
}

START_TEST(test_sct_flip_x509)
{
	struct ct_cert *cert = load_cert("test-cert.pem");
	uint8_t *p;
	size_t len;

	p = read_ct("test-cert.proof", &len);
	flip_every_byte(p, len, verify_test_cert, cert);
	free(p);
	cert_free(cert);
}
END_TEST

struct embedded_case {
	const char *cert;
	const char *issuer;
	const char *wrong_issuer;
	uint64_t timestamp;
};

static const struct embedded_case embedded_cases[] = {
    {"test-embedded-cert.pem", "ca-cert.pem", "intermediate-cert.pem",
        1365181456275ULL},
    {"test-embedded-with-preca-cert.pem", "ca-cert.pem", "ca-pre-cert.pem",
        1365181456475ULL},
    {"test-embedded-with-intermediate-cert.pem", "intermediate-cert.pem",
        "ca-cert.pem", 1365181457060ULL},
    {"test-embedded-with-intermediate-preca-cert.pem", "intermediate-cert.pem",
        "intermediate-pre-cert.pem", 1365181457342ULL},
};

START_TEST(test_sct_verify_embedded)
{
	const struct embedded_case *tc = &embedded_cases[_i];
	struct ct_cert *cert, *issuer, *wrong;
	struct ct_sct scts[CT_MAX_SCTS];
	size_t n, i;

	cert = load_cert(tc->cert);
	issuer = load_cert(tc->issuer);
	wrong = load_cert(tc->wrong_issuer);
	ck_assert_msg(cert->sct_list != NULL, "%s: no SCT list", tc->cert);
	ck_assert_int_eq(ct_sct_list_parse(cert->sct_list, cert->sct_list_len,
	                     scts, CT_MAX_SCTS, &n),
	    0);
	ck_assert_uint_ge(n, 1);
	ck_assert_uint_eq(scts[0].timestamp, tc->timestamp);
	for (i = 0; i < n; i++) {
		ck_assert_msg(ct_sct_verify_embedded(&scts[i], cert, issuer,
		                  log_key, log_key_len) == 0,
		    "%s SCT %zu does not verify", tc->cert, i);
		ck_assert_int_eq(ct_sct_verify_embedded(&scts[i], cert, wrong,
		                     log_key, log_key_len),
		    CT_ERR_SIGNATURE);
		ck_assert_int_eq(ct_sct_verify_embedded(&scts[i], cert, issuer,
		                     pilot_key, pilot_key_len),
		    CT_ERR_SIGNATURE);
		/* As an x509_entry the same SCT is not valid. */
		ck_assert_int_eq(ct_sct_verify_x509(&scts[i], cert->der,
		                     cert->der_len, log_key, log_key_len),
		    CT_ERR_SIGNATURE);
	}
	cert_free(cert);
	cert_free(issuer);
	cert_free(wrong);
}
END_TEST

START_TEST(test_sct_invalid_embedded)
{
	struct ct_cert *cert, *ca;
	struct ct_sct scts[CT_MAX_SCTS];
	size_t n;

	cert = load_cert("test-invalid-embedded-cert.pem");
	ca = load_cert("ca-cert.pem");
	ck_assert(cert->sct_list != NULL);
	ck_assert_int_eq(ct_sct_list_parse(cert->sct_list, cert->sct_list_len,
	                     scts, CT_MAX_SCTS, &n),
	    0);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(scts[0].timestamp, 1365181457060ULL);
	ck_assert_int_eq(ct_sct_verify_embedded(&scts[0], cert, ca, log_key,
	                     log_key_len),
	    CT_ERR_SIGNATURE);
	cert_free(cert);
	cert_free(ca);
}
END_TEST

struct precert_arg {
	const uint8_t *ikh;
	const uint8_t *tbs;
	size_t tbs_len;
};

static int
verify_precert_arg(const struct ct_sct *s, void *arg)
{
	const struct precert_arg *a = arg;

	return ct_sct_verify_precert(s, a->ikh, a->tbs, a->tbs_len, log_key,
	    log_key_len);
}

/* Flips every byte of the (precert) SCT embedded in test-embedded-cert. */
START_TEST(test_sct_flip_embedded)
{
	struct ct_cert *cert, *ca;
	struct precert_arg a;
	uint8_t *tbs = NULL;
	size_t tbs_len, n;
	struct ct_sct scts[CT_MAX_SCTS];

	cert = load_cert("test-embedded-cert.pem");
	ca = load_cert("ca-cert.pem");
	ck_assert_int_eq(ct_sct_list_parse(cert->sct_list, cert->sct_list_len,
	                     scts, CT_MAX_SCTS, &n),
	    0);
	ck_assert_int_eq(cert_tbs_normalized(cert, &tbs, &tbs_len), 0);
	a.ikh = ca->spki_sha256;
	a.tbs = tbs;
	a.tbs_len = tbs_len;
	/* The list holds one SCT: it starts after the two length fields. */
	ck_assert_uint_eq(n, 1);
	ck_assert(scts[0].sig + scts[0].sig_len ==
	    cert->sct_list + cert->sct_list_len);
	flip_every_byte(cert->sct_list + 4, cert->sct_list_len - 4,
	    verify_precert_arg, &a);
	free(tbs);
	cert_free(cert);
	cert_free(ca);
}
END_TEST

struct proof_case {
	const char *proof;
	const char *precert; /* the precertificate */
	const char *final;   /* its final certificate */
	const char *issuer;  /* the final issuer (issuer_key_hash) */
	bool preca;          /* precert signed by a Precert Signing CA */
};

static const struct proof_case proof_cases[] = {
    {"test-embedded-pre-cert.proof", "test-embedded-pre-cert.pem",
        "test-embedded-cert.pem", "ca-cert.pem", false},
    {"test-embedded-with-preca-pre-cert.proof",
        "test-embedded-with-preca-pre-cert.pem",
        "test-embedded-with-preca-cert.pem", "ca-cert.pem", true},
    {"test-embedded-with-intermediate-pre-cert.proof",
        "test-embedded-with-intermediate-pre-cert.pem",
        "test-embedded-with-intermediate-cert.pem", "intermediate-cert.pem",
        false},
    {"test-embedded-with-intermediate-preca-pre-cert.proof",
        "test-embedded-with-intermediate-preca-pre-cert.pem",
        "test-embedded-with-intermediate-preca-cert.pem",
        "intermediate-cert.pem", true},
};

/* The *.proof SCTs of the precerts, verified as precert entries. */
START_TEST(test_sct_verify_precert_proof)
{
	const struct proof_case *tc = &proof_cases[_i];
	struct ct_cert *pre, *fin, *issuer;
	uint8_t *p, *tbs = NULL, *ptbs = NULL;
	size_t len, tbs_len, ptbs_len, n;
	struct ct_sct s, scts[CT_MAX_SCTS];

	pre = load_cert(tc->precert);
	fin = load_cert(tc->final);
	issuer = load_cert(tc->issuer);
	ck_assert(pre->precert);
	p = read_ct(tc->proof, &len);
	ck_assert_int_eq(ct_sct_parse(p, len, &s), 0);

	/* Over the final certificate's normalised TBS. */
	ck_assert_int_eq(cert_tbs_normalized(fin, &tbs, &tbs_len), 0);
	ck_assert_int_eq(ct_sct_verify_precert(&s, issuer->spki_sha256, tbs,
	                     tbs_len, log_key, log_key_len),
	    0);
	/* Over the TBS rebuilt from the precertificate itself. */
	if (tc->preca)
		ck_assert_int_eq(cert_tbs_precert_rewrite(pre, issuer, &ptbs,
		                     &ptbs_len),
		    0);
	else
		ck_assert_int_eq(cert_tbs_normalized(pre, &ptbs, &ptbs_len), 0);
	ck_assert_int_eq(ct_sct_verify_precert(&s, issuer->spki_sha256, ptbs,
	                     ptbs_len, log_key, log_key_len),
	    0);
	/* Not as an x509_entry, and not with a zeroed issuer_key_hash. */
	ck_assert_int_eq(ct_sct_verify_x509(&s, pre->der, pre->der_len, log_key,
	                     log_key_len),
	    CT_ERR_SIGNATURE);
	{
		uint8_t zero[CT_HASH_BYTES] = {0};

		ck_assert_int_eq(ct_sct_verify_precert(&s, zero, tbs, tbs_len,
		                     log_key, log_key_len),
		    CT_ERR_SIGNATURE);
	}
	/* The same SCT is embedded in the final certificate. */
	ck_assert_int_eq(ct_sct_list_parse(fin->sct_list, fin->sct_list_len,
	                     scts, CT_MAX_SCTS, &n),
	    0);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(fin->sct_list_len, 4 + len);
	ck_assert_mem_eq(fin->sct_list + 4, p, len);
	free(tbs);
	free(ptbs);
	free(p);
	cert_free(pre);
	cert_free(fin);
	cert_free(issuer);
}
END_TEST

/* ---------------------------------------------------------------- leaves */

START_TEST(test_leaf_hash_from_sct)
{
	struct ct_cert *cert, *ecert, *ca;
	struct ct_sct s, scts[CT_MAX_SCTS];
	struct ct_leaf leaf, back;
	struct util_buf b;
	uint8_t *p, *tbs = NULL, h[CT_HASH_BYTES], want[CT_HASH_BYTES];
	size_t len, tbs_len, n;

	cert = load_cert("test-cert.pem");
	ecert = load_cert("test-embedded-cert.pem");
	ca = load_cert("ca-cert.pem");

	/* x509_entry leaf of test-cert. */
	p = read_ct("test-cert.proof", &len);
	ck_assert_int_eq(ct_sct_parse(p, len, &s), 0);
	ck_assert_int_eq(ct_leaf_from_sct(&leaf, &s, CT_ENTRY_X509, cert->der,
	                     cert->der_len, NULL),
	    0);
	ck_assert_int_eq(ct_leaf_hash(&leaf, h), 0);
	b64_32("BKZLZGMbAnDW0gQWjNJNCyS2IgweWn76YW3tFlu3AuY=", want);
	ck_assert_mem_eq(h, want, CT_HASH_BYTES);
	/* The same through the encoding, and the encoding parses back. */
	util_buf_init(&b, CT_MAX_LEAF_BYTES);
	ck_assert_int_eq(ct_leaf_encode(&leaf, &b), 0);
	ck_assert_uint_eq(b.len, 2 + 8 + 2 + 3 + cert->der_len + 2);
	ck_assert_int_eq(ct_hash_leaf(b.data, b.len, h), 0);
	ck_assert_mem_eq(h, want, CT_HASH_BYTES);
	ck_assert_int_eq(ct_leaf_parse(b.data, b.len, &back), 0);
	ck_assert_int_eq(back.type, CT_ENTRY_X509);
	ck_assert_uint_eq(back.timestamp, 1365181456089ULL);
	ck_assert_uint_eq(back.cert_len, cert->der_len);
	ck_assert_mem_eq(back.cert, cert->der, cert->der_len);
	util_buf_clear(&b);

	/* precert_entry leaf of test-embedded-cert with the ca-cert key. */
	ck_assert_int_eq(ct_sct_list_parse(ecert->sct_list, ecert->sct_list_len,
	                     scts, CT_MAX_SCTS, &n),
	    0);
	ck_assert_int_eq(cert_tbs_normalized(ecert, &tbs, &tbs_len), 0);
	ck_assert_int_eq(ct_leaf_from_sct(&leaf, &scts[0], CT_ENTRY_PRECERT,
	                     tbs, tbs_len, ca->spki_sha256),
	    0);
	ck_hash_hex(ca->spki_sha256,
	    "02adddca08b8bf9861f035940c940156d8350fdff899a6239c6bd77255b8f8fc");
	ck_assert_int_eq(ct_leaf_hash(&leaf, h), 0);
	b64_32("mbk+d5FDW3oNZJCbOi828rqC3hf+qhigTWVGcXEZq1U=", want);
	ck_assert_mem_eq(h, want, CT_HASH_BYTES);
	util_buf_init(&b, CT_MAX_LEAF_BYTES);
	ck_assert_int_eq(ct_leaf_encode(&leaf, &b), 0);
	ck_assert_int_eq(ct_leaf_parse(b.data, b.len, &back), 0);
	ck_assert_int_eq(back.type, CT_ENTRY_PRECERT);
	ck_assert_mem_eq(back.issuer_key_hash, ca->spki_sha256, CT_HASH_BYTES);
	ck_assert_uint_eq(back.cert_len, tbs_len);
	util_buf_clear(&b);
	/* A precert leaf needs an issuer_key_hash. */
	ck_assert_int_eq(ct_leaf_from_sct(&leaf, &scts[0], CT_ENTRY_PRECERT,
	                     tbs, tbs_len, NULL),
	    CT_ERR_INVALID);
	free(tbs);
	free(p);
	cert_free(cert);
	cert_free(ecert);
	cert_free(ca);
}
END_TEST

START_TEST(test_leaf_parse_bad)
{
	struct ct_cert *cert = load_cert("test-cert.pem");
	struct ct_leaf leaf, l2;
	struct util_buf b;
	uint8_t *p;
	size_t i;

	memset(&leaf, 0, sizeof(leaf));
	leaf.timestamp = 1;
	leaf.type = CT_ENTRY_X509;
	leaf.cert = cert->der;
	leaf.cert_len = cert->der_len;
	util_buf_init(&b, CT_MAX_LEAF_BYTES);
	ck_assert_int_eq(ct_leaf_encode(&leaf, &b), 0);
	ck_assert_int_eq(ct_leaf_parse(b.data, b.len, &l2), 0);
	for (i = 0; i < b.len; i++)
		ck_assert_msg(ct_leaf_parse(b.data, i, &l2) != 0,
		    "leaf truncated to %zu parsed", i);
	ck_assert_int_eq(util_buf_append(&b, "", 1), 0);
	p = b.data;
	ck_assert_int_eq(ct_leaf_parse(p, b.len, &l2), CT_ERR_TRAILING);
	b.len--;
	p[0] = 1; /* version */
	ck_assert_int_eq(ct_leaf_parse(p, b.len, &l2), CT_ERR_UNSUPPORTED);
	p[0] = 0;
	p[1] = 1; /* leaf_type */
	ck_assert_int_eq(ct_leaf_parse(p, b.len, &l2), CT_ERR_UNSUPPORTED);
	p[1] = 0;
	p[11] = 2; /* entry_type */
	ck_assert_int_eq(ct_leaf_parse(p, b.len, &l2), CT_ERR_UNSUPPORTED);
	p[11] = 0;
	p[12] = 0xff; /* certificate length */
	ck_assert_int_eq(ct_leaf_parse(p, b.len, &l2), CT_ERR_TRUNCATED);
	p[12] = 0;
	/* An empty certificate. */
	ck_assert_int_eq(ct_leaf_parse((const uint8_t *)"\0\0\0\0\0\0\0\0\0\1"
	                                                "\0\0\0\0\0\0\0",
	                     17, &l2),
	    CT_ERR_FORMAT);
	/* A bad extension block inside a leaf. */
	ck_assert_int_eq(ct_leaf_parse((const uint8_t *)"\0\0\0\0\0\0\0\0\0\1"
	                                                "\0\0\0\0\1\x30\0\2"
	                                                "\0\0",
	                     20, &l2),
	    CT_ERR_TRUNCATED);
	ck_assert_int_eq(ct_leaf_parse((const uint8_t *)"\0\0\0\0\0\0\0\0\0\1"
	                                                "\0\0\0\0\1\x30\0\0",
	                     18, &l2),
	    0);
	/* Encoding rejects what cannot be encoded. */
	leaf.cert_len = 0;
	ck_assert_int_eq(ct_leaf_encode(&leaf, &b), CT_ERR_INVALID);
	leaf.cert_len = CT_MAX_UINT24 + 1;
	ck_assert_int_eq(ct_leaf_encode(&leaf, &b), CT_ERR_TOO_BIG);
	leaf.cert_len = cert->der_len;
	leaf.type = CT_ENTRY__MAX;
	ck_assert_int_eq(ct_leaf_encode(&leaf, &b), CT_ERR_INVALID);
	util_buf_clear(&b);
	cert_free(cert);
}
END_TEST

/* Leaf hashes of the get-entries samples (leaf_input decoded here). */
static size_t
entries_hashes(const char *file, uint8_t (*out)[CT_HASH_BYTES],
    struct ct_leaf *leaves, uint8_t **inputs, size_t max)
{
	const char *text, *v, *s;
	uint8_t *raw;
	size_t len, n = 0, slen;

	raw = testutil_read(file, &len);
	text = (const char *)raw;
	while ((v = json_value(text, "leaf_input")) != NULL) {
		ck_assert_uint_lt(n, max);
		inputs[n] = json_b64(v, &len);
		ck_assert_int_eq(ct_hash_leaf(inputs[n], len, out[n]), 0);
		ck_assert_int_eq(ct_leaf_parse(inputs[n], len, &leaves[n]), 0);
		text = json_str(v, &s, &slen) + 1;
		n++;
	}
	free(raw);
	return n;
}

START_TEST(test_get_entries)
{
	uint8_t h[4][CT_HASH_BYTES], root[CT_HASH_BYTES], want[CT_HASH_BYTES];
	struct ct_leaf leaves[4];
	uint8_t *inputs[4] = {NULL};
	struct ct_tree t;
	size_t n, i;

	n = entries_hashes(JSONDATA "get-entries-four.json", h, leaves, inputs,
	    4);
	ck_assert_uint_eq(n, 4);
	ck_hash_hex(h[0],
	    "c036e5ae4065859ed4aa298e6914b5f0c8eabcdcadfc5736b5ccba9d638d63ce");
	ck_hash_hex(h[1],
	    "fcd783d915495279f3ade05e28ce1f0825a4f8a6731b672d1dd9bd2cb9e0c096");
	ck_hash_hex(h[2],
	    "87a5a8eb3bcef9ddbddea6ddff96dfc0c69ef5e8788c06542ebea2d9f2c0a29e");
	ck_hash_hex(h[3],
	    "6504ccf20e26a9ff3431becb1d31097cc58adc39490beced33758d3e7601f587");
	ck_assert_uint_eq(leaves[0].timestamp, 1364258252899ULL);
	for (i = 0; i < n; i++) {
		uint8_t h2[CT_HASH_BYTES];

		ck_assert_int_eq(leaves[i].type, CT_ENTRY_X509);
		ck_assert_int_eq(ct_leaf_hash(&leaves[i], h2), 0);
		ck_assert_mem_eq(h2, h[i], CT_HASH_BYTES);
	}
	/* The companion STH's root is not the RFC 6962 root of these. */
	ct_tree_init(&t);
	for (i = 0; i < n; i++)
		ck_assert_int_eq(ct_tree_append(&t, h[i]), 0);
	ck_assert_int_eq(ct_tree_root(&t, root), 0);
	b64_32("0JBu0CkZnKXc1niEndDaqqgCRHucCfVt1/WBAXs/5T8=", want);
	ck_assert(memcmp(root, want, CT_HASH_BYTES) != 0);
	for (i = 0; i < n; i++)
		free(inputs[i]);

	memset(inputs, 0, sizeof(inputs));
	n = entries_hashes(JSONDATA "get-entries-precert-and-cert.json", h,
	    leaves, inputs, 4);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(leaves[0].type, CT_ENTRY_PRECERT);
	ck_assert_uint_eq(leaves[0].timestamp, 1422867427528ULL);
	ck_hash_hex(leaves[0].issuer_key_hash,
	    "3760e2790f33a498f9b6c149fecfca3993954b536fbf36ad45d0a8415b79337d");
	ck_assert_uint_eq(leaves[0].cert_len, 1146);
	ck_hash_hex(h[0],
	    "fbdc3e2ec787ef25d3d615509ff36c44930577601973b612cd791340920a3654");
	ck_assert_int_eq(leaves[1].type, CT_ENTRY_X509);
	ck_assert_uint_eq(leaves[1].timestamp, 1415843953342ULL);
	ck_hash_hex(h[1],
	    "965cd2f5dd443104cea4ac63605574d205520006a11042ee7871a45dcfbcbd03");
	for (i = 0; i < n; i++)
		free(inputs[i]);

	memset(inputs, 0, sizeof(inputs));
	n = entries_hashes(JSONDATA "get-entry-and-proof.json", h, leaves,
	    inputs, 4);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(leaves[0].type, CT_ENTRY_X509);
	ck_assert_uint_eq(leaves[0].timestamp, 1519407928245ULL);
	free(inputs[0]);
}
END_TEST

/* ------------------------------------------------------- tiled SCT */

/*
 * A static-ct-api style SCT with a leaf_index extension, signed here with a
 * fresh P-256 key over test-cert.pem. The signed input is built by hand.
 */
START_TEST(test_sct_leaf_index)
{
	static const uint8_t ext[] = {0x00, 0x00, 0x05, 0x00, 0x00, 0x01, 0x23,
	    0x45};
	struct ct_cert *cert = load_cert("test-cert.pem");
	uint8_t spki[256], id[CT_HASH_BYTES], sig[128], sct[512], buf[512];
	uint8_t h[CT_HASH_BYTES], h2[CT_HASH_BYTES];
	uint64_t ts = 1700000000123ULL;
	struct util_buf data;
	struct ct_sct s;
	struct ct_leaf leaf;
	word32 sig_len = sizeof(sig);
	size_t off, ext_off, i;
	int spki_len;
	ecc_key key;
	WC_RNG rng;

	ck_assert_int_eq(wc_InitRng(&rng), 0);
	ck_assert_int_eq(wc_ecc_init(&key), 0);
	ck_assert_int_eq(wc_ecc_make_key(&rng, 32, &key), 0);
	spki_len = wc_EccPublicKeyToDer(&key, spki, sizeof(spki), 1);
	ck_assert_int_gt(spki_len, 0);
	ck_assert_int_eq(wc_Sha256Hash(spki, (word32)spki_len, id), 0);

	/* 0 || 0 || timestamp || x509_entry || uint24 cert || exts. */
	util_buf_init(&data, CT_MAX_LEAF_BYTES);
	buf[0] = 0;
	buf[1] = 0;
	for (i = 0; i < 8; i++)
		buf[2 + i] = (uint8_t)(ts >> (56 - 8 * i));
	buf[10] = 0;
	buf[11] = 0;
	buf[12] = (uint8_t)(cert->der_len >> 16);
	buf[13] = (uint8_t)(cert->der_len >> 8);
	buf[14] = (uint8_t)cert->der_len;
	ck_assert_int_eq(util_buf_append(&data, buf, 15), 0);
	ck_assert_int_eq(util_buf_append(&data, cert->der, cert->der_len), 0);
	buf[0] = 0;
	buf[1] = sizeof(ext);
	ck_assert_int_eq(util_buf_append(&data, buf, 2), 0);
	ck_assert_int_eq(util_buf_append(&data, ext, sizeof(ext)), 0);
	ck_assert_int_eq(wc_SignatureGenerate(WC_HASH_TYPE_SHA256,
	                     WC_SIGNATURE_TYPE_ECC, data.data, (word32)data.len,
	                     sig, &sig_len, &key, sizeof(key), &rng),
	    0);

	/* The serialized SCT. */
	off = 0;
	sct[off++] = 0;
	memcpy(sct + off, id, CT_HASH_BYTES);
	off += CT_HASH_BYTES;
	for (i = 0; i < 8; i++)
		sct[off++] = (uint8_t)(ts >> (56 - 8 * i));
	ext_off = off;
	sct[off++] = 0;
	sct[off++] = sizeof(ext);
	memcpy(sct + off, ext, sizeof(ext));
	off += sizeof(ext);
	sct[off++] = 4;
	sct[off++] = 3;
	sct[off++] = (uint8_t)(sig_len >> 8);
	sct[off++] = (uint8_t)sig_len;
	memcpy(sct + off, sig, sig_len);
	off += sig_len;

	ck_assert_int_eq(ct_sct_parse(sct, off, &s), 0);
	ck_assert(s.has_leaf_index);
	ck_assert_uint_eq(s.leaf_index, 0x12345);
	ck_assert_uint_eq(s.ext_len, sizeof(ext));
	ck_assert_int_eq(ct_sct_verify_x509(&s, cert->der, cert->der_len, spki,
	                     (size_t)spki_len),
	    0);
	/* The leaf carries the extension: its hash covers data exactly. */
	ck_assert_int_eq(ct_leaf_from_sct(&leaf, &s, CT_ENTRY_X509, cert->der,
	                     cert->der_len, NULL),
	    0);
	ck_assert(leaf.has_leaf_index);
	ck_assert_int_eq(ct_leaf_hash(&leaf, h), 0);
	ck_assert_int_eq(ct_hash_leaf(data.data, data.len, h2), 0);
	ck_assert_mem_eq(h, h2, CT_HASH_BYTES);

	/* Any flipped extension byte (or length) breaks it. */
	for (i = ext_off; i < ext_off + 2 + sizeof(ext); i++) {
		memcpy(buf, sct, off);
		buf[i] ^= 0x01;
		if (ct_sct_parse(buf, off, &s) != 0)
			continue;
		ck_assert_msg(ct_sct_verify_x509(&s, cert->der, cert->der_len,
		                  spki, (size_t)spki_len) != 0,
		    "extension byte %zu flipped still verifies", i - ext_off);
	}
	/* Dropping the extensions (same signature) breaks it too. */
	memcpy(buf, sct, ext_off);
	buf[ext_off] = 0;
	buf[ext_off + 1] = 0;
	memcpy(buf + ext_off + 2, sct + ext_off + 2 + sizeof(ext),
	    off - ext_off - 2 - sizeof(ext));
	ck_assert_int_eq(ct_sct_parse(buf, off - sizeof(ext), &s), 0);
	ck_assert(!s.has_leaf_index);
	ck_assert_int_eq(ct_sct_verify_x509(&s, cert->der, cert->der_len, spki,
	                     (size_t)spki_len),
	    CT_ERR_SIGNATURE);

	util_buf_clear(&data);
	wc_ecc_free(&key);
	wc_FreeRng(&rng);
	cert_free(cert);
}
END_TEST

/* ---------------------------------------------------------------- STH */

START_TEST(test_sth_pilot)
{
	uint8_t *raw, *sig, *root, data[CT_STH_SIGNED_BYTES];
	const char *text;
	size_t len, sig_len, root_len;
	struct ct_sth sth;

	raw = testutil_read(JSONDATA "get-sth-pilot-2014.json", &len);
	text = (const char *)raw;
	memset(&sth, 0, sizeof(sth));
	sth.tree_size = json_u64(json_value(text, "tree_size"));
	sth.timestamp = json_u64(json_value(text, "timestamp"));
	root = json_b64(json_value(text, "sha256_root_hash"), &root_len);
	sig = json_b64(json_value(text, "tree_head_signature"), &sig_len);
	ck_assert_uint_eq(sth.tree_size, 3721782);
	ck_assert_uint_eq(sth.timestamp, 1396609800587ULL);
	ck_assert_uint_eq(root_len, CT_HASH_BYTES);
	memcpy(sth.root, root, CT_HASH_BYTES);
	sth.sig = sig;
	sth.sig_len = sig_len;

	ct_sth_signed_data(&sth, data);
	ck_assert_uint_eq(data[0], 0);
	ck_assert_uint_eq(data[1], 1);
	ck_assert_uint_eq(data[17], (uint8_t)3721782);
	ck_assert_mem_eq(data + 18, root, CT_HASH_BYTES);

	ck_assert_int_eq(ct_sth_verify(&sth, pilot_key, pilot_key_len), 0);
	ck_assert_int_eq(ct_sth_verify(&sth, log_key, log_key_len),
	    CT_ERR_SIGNATURE);
	ck_assert(ct_sth_verify(&sth, rsa_log_key, rsa_log_key_len) != 0);
	sth.tree_size++;
	ck_assert_int_eq(ct_sth_verify(&sth, pilot_key, pilot_key_len),
	    CT_ERR_SIGNATURE);
	sth.tree_size--;
	sth.timestamp++;
	ck_assert_int_eq(ct_sth_verify(&sth, pilot_key, pilot_key_len),
	    CT_ERR_SIGNATURE);
	sth.timestamp--;
	sth.root[31] ^= 1;
	ck_assert_int_eq(ct_sth_verify(&sth, pilot_key, pilot_key_len),
	    CT_ERR_SIGNATURE);
	sth.root[31] ^= 1;
	/* The DigitallySigned must be exact. */
	sth.sig_len--;
	ck_assert_int_eq(ct_sth_verify(&sth, pilot_key, pilot_key_len),
	    CT_ERR_TRUNCATED);
	sth.sig_len++;
	sig[0] = 5;
	ck_assert_int_eq(ct_sth_verify(&sth, pilot_key, pilot_key_len),
	    CT_ERR_UNSUPPORTED);
	sig[0] = 4;
	ck_assert_int_eq(ct_sth_verify(&sth, pilot_key, pilot_key_len), 0);
	free(root);
	free(sig);
	free(raw);
}
END_TEST

START_TEST(test_sth_badsig)
{
	uint8_t *raw, *sig, *root;
	const char *text;
	size_t len, sig_len, root_len;
	struct ct_sth sth;

	raw = testutil_read(JSONDATA "get-sth-four-entries-badsig.json", &len);
	text = (const char *)raw;
	memset(&sth, 0, sizeof(sth));
	sth.tree_size = json_u64(json_value(text, "tree_size"));
	sth.timestamp = json_u64(json_value(text, "timestamp"));
	root = json_b64(json_value(text, "sha256_root_hash"), &root_len);
	sig = json_b64(json_value(text, "tree_head_signature"), &sig_len);
	ck_assert_uint_eq(sth.tree_size, 4);
	ck_assert_uint_eq(root_len, CT_HASH_BYTES);
	memcpy(sth.root, root, CT_HASH_BYTES);
	sth.sig = sig;
	sth.sig_len = sig_len;
	ck_assert(ct_sth_verify(&sth, log_key, log_key_len) != 0);
	ck_assert(ct_sth_verify(&sth, pilot_key, pilot_key_len) != 0);
	ck_assert(ct_sth_verify(&sth, rsa_log_key, rsa_log_key_len) != 0);
	/* Even as an ECDSA/SHA-256 claim, "signature" does not verify. */
	sig[0] = 4;
	sig[1] = 3;
	ck_assert(ct_sth_verify(&sth, log_key, log_key_len) != 0);
	free(root);
	free(sig);
	free(raw);
}
END_TEST

/* ---------------------------------------------------------------- merkle */

static const char *const ref_leaves_hex[] = {"", "00", "10", "2021", "3031",
    "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"};

static const char *const ref_roots[] = {
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
};

static const char *const ref_leaf_hashes[] = {
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
    "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
    "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
    "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
    "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
};

/* rfc6962-reference-vectors.json, inclusion_proofs and consistency_proofs */
struct ref_proof {
	uint64_t a, b; /* leaf index and tree size, or size1 and size2 */
	size_t n;
	const char *proof[3];
};

static const struct ref_proof ref_inclusion[] = {
    {0, 1, 0, {NULL}},
    {0, 2, 1,
        {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"}},
    {1, 2, 1,
        {"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"}},
    {2, 3, 1,
        {"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"}},
    {1, 5, 3,
        {"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f7"
            "9a838b6cf9ec5b5c283e1f4d88599e6b"}},
    {0, 8, 3,
        {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254d"
            "abd31177f16232dd6aab035ca39bf6e4"}},
    {5, 8, 3,
        {"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398f"
            "a2a2cf9b4ff0fdfe8b30cd95209614b7"}},
};

static const struct ref_proof ref_consistency[] = {
    {1, 1, 0, {NULL}},
    {1, 8, 3,
        {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254d"
            "abd31177f16232dd6aab035ca39bf6e4"}},
    {6, 8, 3,
        {"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398f"
            "a2a2cf9b4ff0fdfe8b30cd95209614b7"}},
    {2, 5, 2,
        {"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f7"
            "9a838b6cf9ec5b5c283e1f4d88599e6b"}},
};

START_TEST(test_merkle_reference)
{
	uint8_t lh[8][CT_HASH_BYTES], root[CT_HASH_BYTES], want[CT_HASH_BYTES];
	uint8_t proof[3][CT_HASH_BYTES], leaf[16], r1[CT_HASH_BYTES];
	struct ct_tree t;
	size_t i, j, n;

	/* Hasher vectors. */
	ck_assert_int_eq(ct_hash_leaf(NULL, 0, root), 0);
	ck_hash_hex(root,
	    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
	ck_assert_int_eq(ct_hash_leaf((const uint8_t *)"L123456", 7, root), 0);
	ck_hash_hex(root,
	    "395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56");
	ck_assert_int_eq(ct_hash_empty(root), 0);
	ck_hash_hex(root, ref_roots[0]);

	/* Leaf hashes and the roots of every prefix of the 8 leaves. */
	ct_tree_init(&t);
	ck_assert_int_eq(ct_tree_root(&t, root), 0);
	ck_hash_hex(root, ref_roots[0]);
	for (i = 0; i < 8; i++) {
		n = strlen(ref_leaves_hex[i]) / 2;
		if (n > 0)
			hex2bin(ref_leaves_hex[i], leaf, n);
		ck_assert_int_eq(ct_hash_leaf(leaf, n, lh[i]), 0);
		ck_hash_hex(lh[i], ref_leaf_hashes[i]);
		ck_assert_int_eq(ct_tree_append(&t, lh[i]), 0);
		ck_assert_uint_eq(t.size, i + 1);
		ck_assert_uint_eq(t.n, (size_t)__builtin_popcountll(i + 1));
		ck_assert_int_eq(ct_tree_root(&t, root), 0);
		ck_hash_hex(root, ref_roots[i + 1]);
	}
	/* Level-1 node hash. */
	ck_assert_int_eq(ct_hash_node(lh[0], lh[1], root), 0);
	ck_hash_hex(root,
	    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125");

	for (i = 0; i < sizeof(ref_inclusion) / sizeof(ref_inclusion[0]); i++) {
		const struct ref_proof *rp = &ref_inclusion[i];

		for (j = 0; j < rp->n; j++)
			hex2bin(rp->proof[j], proof[j], CT_HASH_BYTES);
		hex2bin(ref_roots[rp->b], root, CT_HASH_BYTES);
		ck_assert_msg(ct_verify_inclusion(rp->a, rp->b, lh[rp->a],
		                  (const uint8_t(*)[CT_HASH_BYTES])proof, rp->n,
		                  root) == 0,
		    "inclusion %zu", i);
		/* Wrong leaf, wrong index. */
		ck_assert(ct_verify_inclusion(rp->a, rp->b, lh[(rp->a + 1) % 8],
		              (const uint8_t(*)[CT_HASH_BYTES])proof, rp->n,
		              root) != 0);
		if (rp->b > 1)
			ck_assert(ct_verify_inclusion((rp->a + 1) % rp->b,
			              rp->b, lh[rp->a],
			              (const uint8_t(*)[CT_HASH_BYTES])proof,
			              rp->n, root) != 0);
	}
	for (i = 0; i < sizeof(ref_consistency) / sizeof(ref_consistency[0]);
	     i++) {
		const struct ref_proof *rp = &ref_consistency[i];

		for (j = 0; j < rp->n; j++)
			hex2bin(rp->proof[j], proof[j], CT_HASH_BYTES);
		hex2bin(ref_roots[rp->a], r1, CT_HASH_BYTES);
		hex2bin(ref_roots[rp->b], want, CT_HASH_BYTES);
		ck_assert_msg(ct_verify_consistency(rp->a, rp->b, r1, want,
		                  (const uint8_t(*)[CT_HASH_BYTES])proof,
		                  rp->n) == 0,
		    "consistency %zu", i);
		if (rp->a != rp->b)
			ck_assert_int_eq(ct_verify_consistency(rp->a, rp->b,
			                     want, r1,
			                     (const uint8_t(*)[CT_HASH_BYTES])
			                         proof,
			                     rp->n),
			    CT_ERR_SIGNATURE);
	}
}
END_TEST

/* An independent oracle: the recursive definitions of RFC 6962 2.1. */
static size_t
largest_pow2_below(size_t n)
{
	size_t k = 1;

	while (k << 1 < n)
		k <<= 1;
	return k;
}

static void
oracle_mth(const uint8_t (*lh)[CT_HASH_BYTES], size_t n,
    uint8_t out[CT_HASH_BYTES])
{
	uint8_t l[CT_HASH_BYTES], r[CT_HASH_BYTES], in[1 + 2 * CT_HASH_BYTES];
	size_t k;

	if (n == 0) {
		ck_assert_int_eq(wc_Sha256Hash(NULL, 0, out), 0);
		return;
	}
	if (n == 1) {
		memcpy(out, lh[0], CT_HASH_BYTES);
		return;
	}
	k = largest_pow2_below(n);
	oracle_mth(lh, k, l);
	oracle_mth(lh + k, n - k, r);
	in[0] = 1;
	memcpy(in + 1, l, CT_HASH_BYTES);
	memcpy(in + 1 + CT_HASH_BYTES, r, CT_HASH_BYTES);
	ck_assert_int_eq(wc_Sha256Hash(in, sizeof(in), out), 0);
}

/* PATH(m, D[n]) into out; returns its length. */
static size_t
oracle_path(size_t m, const uint8_t (*lh)[CT_HASH_BYTES], size_t n,
    uint8_t (*out)[CT_HASH_BYTES])
{
	size_t k, len;

	if (n <= 1)
		return 0;
	k = largest_pow2_below(n);
	if (m < k) {
		len = oracle_path(m, lh, k, out);
		oracle_mth(lh + k, n - k, out[len]);
	} else {
		len = oracle_path(m - k, lh + k, n - k, out);
		oracle_mth(lh, k, out[len]);
	}
	return len + 1;
}

/* SUBPROOF(m, D[n], b) into out; returns its length. */
static size_t
oracle_subproof(size_t m, const uint8_t (*lh)[CT_HASH_BYTES], size_t n, bool b,
    uint8_t (*out)[CT_HASH_BYTES])
{
	size_t k, len;

	if (m == n) {
		if (b)
			return 0;
		oracle_mth(lh, n, out[0]);
		return 1;
	}
	k = largest_pow2_below(n);
	if (m <= k) {
		len = oracle_subproof(m, lh, k, b, out);
		oracle_mth(lh + k, n - k, out[len]);
	} else {
		len = oracle_subproof(m - k, lh + k, n - k, false, out);
		oracle_mth(lh, k, out[len]);
	}
	return len + 1;
}

/*
 * Every inclusion and consistency proof for trees of up to
 * TEST_ORACLE_LEAVES leaves verifies; a flipped bit in any proof hash,
 * swapped roots, an index past the end, or a shortened or lengthened
 * proof does not. (A proof checked against a different tree size can
 * legitimately succeed when the tree shapes agree, so that is not tested.)
 */
START_TEST(test_merkle_oracle)
{
	static uint8_t lh[TEST_ORACLE_LEAVES][CT_HASH_BYTES];
	uint8_t proof[CT_MAX_PROOF_HASHES + 1][CT_HASH_BYTES];
	uint8_t root[CT_HASH_BYTES], root1[CT_HASH_BYTES], got[CT_HASH_BYTES];
	const uint8_t(*cp)[CT_HASH_BYTES] =
	    (const uint8_t(*)[CT_HASH_BYTES])proof;
	struct ct_tree t;
	size_t n, m, len, j;
	uint8_t byte;

	ct_tree_init(&t);
	for (n = 0; n < TEST_ORACLE_LEAVES; n++) {
		byte = (uint8_t)n;
		ck_assert_int_eq(ct_hash_leaf(&byte, 1, lh[n]), 0);
	}
	for (n = 1; n <= TEST_ORACLE_LEAVES; n++) {
		oracle_mth((const uint8_t(*)[CT_HASH_BYTES])lh, n, root);
		ck_assert_int_eq(ct_tree_append(&t, lh[n - 1]), 0);
		ck_assert_int_eq(ct_tree_root(&t, got), 0);
		ck_assert_mem_eq(got, root, CT_HASH_BYTES);
		for (m = 0; m < n; m++) {
			len = oracle_path(m,
			    (const uint8_t(*)[CT_HASH_BYTES])lh, n, proof);
			ck_assert_msg(ct_verify_inclusion(m, n, lh[m], cp, len,
			                  root) == 0,
			    "inclusion %zu in %zu", m, n);
			ck_assert(ct_verify_inclusion(n, n, lh[m], cp, len,
			              root) != 0);
			if (len > 0)
				ck_assert(ct_verify_inclusion(m, n, lh[m], cp,
				              len - 1, root) != 0);
			memcpy(proof[len], root, CT_HASH_BYTES);
			ck_assert(ct_verify_inclusion(m, n, lh[m], cp, len + 1,
			              root) != 0);
			for (j = 0; j < len; j++) {
				proof[j][j % CT_HASH_BYTES] ^= 0x10;
				ck_assert(ct_verify_inclusion(m, n, lh[m], cp,
				              len, root) != 0);
				proof[j][j % CT_HASH_BYTES] ^= 0x10;
			}
			if (m == 0)
				continue;
			/* Consistency from size m to size n. */
			oracle_mth((const uint8_t(*)[CT_HASH_BYTES])lh, m,
			    root1);
			len = oracle_subproof(m,
			    (const uint8_t(*)[CT_HASH_BYTES])lh, n, true,
			    proof);
			ck_assert_msg(ct_verify_consistency(m, n, root1, root,
			                  cp, len) == 0,
			    "consistency %zu -> %zu", m, n);
			ck_assert(ct_verify_consistency(m, n, root, root1, cp,
			              len) != 0);
			if (len > 0)
				ck_assert(ct_verify_consistency(m, n, root1,
				              root, cp, len - 1) != 0);
			for (j = 0; j < len; j++) {
				proof[j][j % CT_HASH_BYTES] ^= 0x01;
				ck_assert_msg(ct_verify_consistency(m, n, root1,
				                  root, cp, len) != 0,
				    "consistency %zu -> %zu, hash %zu flipped",
				    m, n, j);
				proof[j][j % CT_HASH_BYTES] ^= 0x01;
			}
		}
	}
	/* Equal sizes; size1 == 0; size1 > size2; an oversized proof. */
	ck_assert_int_eq(ct_verify_consistency(5, 5, root, root, cp, 0), 0);
	ck_assert_int_eq(ct_verify_consistency(5, 5, root, root1, cp, 0),
	    CT_ERR_SIGNATURE);
	ck_assert_int_eq(ct_verify_consistency(5, 5, root, root, cp, 1),
	    CT_ERR_FORMAT);
	ck_assert_int_eq(ct_verify_consistency(0, 0, root, root, cp, 0),
	    CT_ERR_FORMAT);
	ck_assert_int_eq(ct_verify_consistency(0, 5, root, root, cp, 0),
	    CT_ERR_FORMAT);
	ck_assert_int_eq(ct_verify_consistency(6, 5, root, root, cp, 0),
	    CT_ERR_FORMAT);
	ck_assert_int_eq(ct_verify_consistency(1, 2, root, root, cp,
	                     CT_MAX_PROOF_HASHES + 1),
	    CT_ERR_TOO_BIG);
	ck_assert_int_eq(ct_verify_inclusion(0, 1, root, cp,
	                     CT_MAX_PROOF_HASHES + 1, root),
	    CT_ERR_TOO_BIG);
	ck_assert_int_eq(ct_verify_inclusion(0, 0, root, cp, 0, root),
	    CT_ERR_FORMAT);
	ck_assert_int_eq(ct_verify_inclusion(0, 1, root, cp, 0, root), 0);
}
END_TEST

/* A big tree: sizes near 2^64 do not overflow anything. */
START_TEST(test_merkle_huge)
{
	uint8_t proof[CT_MAX_PROOF_HASHES][CT_HASH_BYTES], r[CT_HASH_BYTES];
	const uint8_t(*cp)[CT_HASH_BYTES] =
	    (const uint8_t(*)[CT_HASH_BYTES])proof;
	uint8_t nodes[64][CT_HASH_BYTES];
	struct ct_tree t;
	uint64_t idx = UINT64_MAX - 1, size = UINT64_MAX;
	size_t i;

	memset(proof, 0x42, sizeof(proof));
	memset(nodes, 0x17, sizeof(nodes));
	/* The last leaf of a 2^64-1 tree: 63 left siblings, root computed. */
	memcpy(r, proof[0], CT_HASH_BYTES);
	for (i = 0; i < 63; i++)
		ck_assert_int_eq(ct_hash_node(proof[i], r, r), 0);
	ck_assert_int_eq(ct_verify_inclusion(idx, size, proof[0], cp, 63, r),
	    0);
	ck_assert(ct_verify_inclusion(idx, size, proof[0], cp, 62, r) != 0);
	ck_assert(ct_verify_inclusion(idx, size, proof[0], cp, 64, r) != 0);
	/* Collapsed tree at its limit. */
	ck_assert_int_eq(ct_tree_load(&t, UINT64_MAX - 1,
	                     (const uint8_t(*)[CT_HASH_BYTES])nodes, 63),
	    0);
	ck_assert_int_eq(ct_tree_append(&t, proof[0]), 0);
	ck_assert_uint_eq(t.size, UINT64_MAX);
	ck_assert_uint_eq(t.n, 64);
	ck_assert_int_eq(ct_tree_append(&t, proof[0]), CT_ERR_TOO_BIG);
	ck_assert_int_eq(ct_tree_root(&t, r), 0);
	ck_assert_int_eq(ct_tree_load(&t, 5,
	                     (const uint8_t(*)[CT_HASH_BYTES])nodes, 3),
	    CT_ERR_INVALID);
	ck_assert_int_eq(ct_tree_load(&t, 5,
	                     (const uint8_t(*)[CT_HASH_BYTES])nodes, 2),
	    0);
	ck_assert_uint_eq(t.size, 5);
}
END_TEST

/* The transparency-dev/merkle JSON probes. */
struct probe_list {
	char *paths[TEST_MAX_PROBES];
	size_t n;
};

static void
probe_walk(const char *dir, struct probe_list *pl)
{
	struct dirent *de;
	char path[512];
	size_t nl;
	DIR *d;

	d = opendir(dir);
	ck_assert_msg(d != NULL, "opendir %s", dir);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		nl = strlen(de->d_name);
		if (nl > 5 && strcmp(de->d_name + nl - 5, ".json") == 0) {
			ck_assert_uint_lt(pl->n, TEST_MAX_PROBES);
			pl->paths[pl->n] = strdup(path);
			ck_assert(pl->paths[pl->n] != NULL);
			pl->n++;
		} else {
			probe_walk(path, pl);
		}
	}
	closedir(d);
}

/*
 * A hash field of a probe. Roots are compared bytewise by the reference
 * code; a root that is not 32 bytes can never equal a computed one, so it
 * is zero-padded into the 32-byte API (two equal short roots stay equal).
 * *len is the decoded length, for the callers' checks.
 */
static void
probe_hash(const char *v, uint8_t out[CT_HASH_BYTES], size_t *len)
{
	uint8_t tmp[256];
	const char *s;
	size_t n;
	int got;

	memset(out, 0, CT_HASH_BYTES);
	json_str(v, &s, &n);
	got = util_b64_decode(s, n, tmp, sizeof(tmp), false);
	ck_assert_int_ge(got, 0);
	*len = (size_t)got;
	memcpy(out, tmp, *len < CT_HASH_BYTES ? *len : CT_HASH_BYTES);
}

/* The proof array; false when an element is not 32 bytes. */
static bool
probe_proof(const char *v, uint8_t (*proof)[CT_HASH_BYTES], size_t *n)
{
	const char *e;
	size_t len;
	bool ok = true;

	*n = 0;
	ck_assert(v != NULL);
	if (strncmp(v, "null", 4) == 0)
		return true;
	ck_assert(*v == '[');
	v++;
	for (;;) {
		while (*v == ' ' || *v == '\n' || *v == ',' || *v == '\r')
			v++;
		if (*v == ']')
			break;
		ck_assert_uint_lt(*n, CT_MAX_PROOF_HASHES);
		probe_hash(v, proof[*n], &len);
		if (len != CT_HASH_BYTES)
			ok = false;
		(*n)++;
		e = strchr(v + 1, '"');
		ck_assert(e != NULL);
		v = e + 1;
	}
	return ok;
}

static bool
probe_run(const char *path, bool *want_err)
{
	uint8_t proof[CT_MAX_PROOF_HASHES][CT_HASH_BYTES];
	uint8_t a[CT_HASH_BYTES], b[CT_HASH_BYTES];
	const uint8_t(*cp)[CT_HASH_BYTES] =
	    (const uint8_t(*)[CT_HASH_BYTES])proof;
	uint8_t *raw;
	const char *text, *v;
	size_t len, alen, blen, n;
	bool ok;
	int rc;

	raw = testutil_read(path, &len);
	text = (const char *)raw;
	v = json_value(text, "wantErr");
	ck_assert(v != NULL);
	*want_err = strncmp(v, "true", 4) == 0;
	ok = probe_proof(json_value(text, "proof"), proof, &n);
	if ((v = json_value(text, "leafHash")) != NULL) {
		probe_hash(v, a, &alen);
		probe_hash(json_value(text, "root"), b, &blen);
		/* leafHash must be exactly 32 bytes (SOURCES.md). */
		if (!ok || alen != CT_HASH_BYTES)
			rc = CT_ERR_FORMAT;
		else
			rc = ct_verify_inclusion(json_u64(json_value(text,
			                             "leafIdx")),
			    json_u64(json_value(text, "treeSize")), a, cp, n,
			    b);
	} else {
		probe_hash(json_value(text, "root1"), a, &alen);
		probe_hash(json_value(text, "root2"), b, &blen);
		if (!ok)
			rc = CT_ERR_FORMAT;
		else
			rc = ct_verify_consistency(json_u64(json_value(text,
			                               "size1")),
			    json_u64(json_value(text, "size2")), a, b, cp, n);
	}
	free(raw);
	return rc != 0;
}

START_TEST(test_merkle_probes)
{
	struct probe_list pl;
	size_t i, nerr = 0;
	bool want_err, got_err;

	memset(&pl, 0, sizeof(pl));
	probe_walk(MERKLEDATA "inclusion", &pl);
	probe_walk(MERKLEDATA "consistency", &pl);
	ck_assert_uint_eq(pl.n, 196);
	for (i = 0; i < pl.n; i++) {
		got_err = probe_run(pl.paths[i], &want_err);
		ck_assert_msg(got_err == want_err, "%s: got %s, want %s",
		    pl.paths[i], got_err ? "error" : "ok",
		    want_err ? "error" : "ok");
		nerr += want_err;
		free(pl.paths[i]);
	}
	/* Both outcomes are exercised. */
	ck_assert_uint_gt(nerr, 0);
	ck_assert_uint_lt(nerr, pl.n);
}
END_TEST

/* ---------------------------------------------------------------- tiles */

START_TEST(test_tile_leaves)
{
	struct ct_tile_leaf tl;
	uint8_t *data, *hashes, *full, h[CT_HASH_BYTES];
	size_t dlen, hlen, flen, off = 0, used, i, first_len = 0;
	struct ct_tree t;

	data = testutil_read(TILEDATA "data/003.p/10", &dlen);
	hashes = testutil_read(TILEDATA "0/003.p/10", &hlen);
	full = testutil_read(TILEDATA "0/003", &flen);
	ck_assert_uint_eq(hlen, 10 * CT_HASH_BYTES);
	ck_assert_uint_eq(flen, CT_TILE_WIDTH * CT_HASH_BYTES);
	ck_assert_mem_eq(hashes, full, hlen);
	ct_tree_init(&t);
	for (i = 0; i < 10; i++) {
		ck_assert_int_eq(ct_tile_leaf_parse(data + off, dlen - off, &tl,
		                     &used),
		    0);
		if (i == 0)
			first_len = used;
		ck_assert_int_eq(tl.leaf.type, CT_ENTRY_PRECERT);
		ck_assert(tl.leaf.has_leaf_index);
		ck_assert_uint_eq(tl.leaf.leaf_index, 768 + i);
		ck_assert_uint_eq(tl.n_chain, 2);
		ck_assert(tl.precert != NULL && tl.precert_len > 0);
		ck_assert_int_eq(ct_leaf_hash(&tl.leaf, h), 0);
		ck_assert_msg(memcmp(h, hashes + i * CT_HASH_BYTES,
		                  CT_HASH_BYTES) == 0,
		    "entry %zu hash", 768 + i);
		if (i == 0) {
			ck_assert_uint_eq(tl.leaf.timestamp, 1746292632101ULL);
			ck_hash_hex(h,
			    "ec64c880cd0bf607c6b40837b4d296659b140a247610b0d3"
			    "f347fcff1610d6cb");
		}
		if (i == 9)
			ck_hash_hex(h,
			    "30e57023cac8495e628d4adeccd30baa1e4e60ea414288c2"
			    "e325d192be01d0af");
		ck_assert_int_eq(ct_tree_append(&t, h), 0);
		off += used;
	}
	ck_assert_uint_eq(off, dlen);
	/* Truncated entries never parse. */
	for (i = 0; i < first_len; i++)
		ck_assert_msg(ct_tile_leaf_parse(data, i, &tl, &used) != 0,
		    "tile leaf truncated to %zu parsed", i);
	free(data);
	free(hashes);
	free(full);
}
END_TEST

START_TEST(test_tile_leaf_bad)
{
	/* x509 entry: ts, type 0, cert len 1 "0", ext 0, chain len 32. */
	uint8_t buf[8 + 2 + 3 + 1 + 2 + 2 + 32] = {0};
	struct ct_tile_leaf tl;
	size_t used;

	buf[12] = 1;
	buf[13] = 0x30;
	buf[17] = 32;
	ck_assert_int_eq(ct_tile_leaf_parse(buf, sizeof(buf), &tl, &used), 0);
	ck_assert_uint_eq(used, sizeof(buf));
	ck_assert_uint_eq(tl.n_chain, 1);
	ck_assert(tl.precert == NULL);
	buf[17] = 31;
	ck_assert_int_eq(ct_tile_leaf_parse(buf, sizeof(buf), &tl, &used),
	    CT_ERR_FORMAT);
	buf[17] = 33;
	ck_assert_int_eq(ct_tile_leaf_parse(buf, sizeof(buf), &tl, &used),
	    CT_ERR_TRUNCATED);
	buf[17] = 0;
	/* With the chain empty, the rest is left for the next entry. */
	ck_assert_int_eq(ct_tile_leaf_parse(buf, sizeof(buf), &tl, &used), 0);
	ck_assert_uint_eq(used, 18);
	buf[9] = 2;
	ck_assert_int_eq(ct_tile_leaf_parse(buf, sizeof(buf), &tl, &used),
	    CT_ERR_UNSUPPORTED);
}
END_TEST

START_TEST(test_tile_path)
{
	char p[CT_TILE_PATH_MAX];

	ck_assert_int_eq(ct_tile_path(p, sizeof(p), false, 0, 0, 0), 0);
	ck_assert_str_eq(p, "tile/0/000");
	ck_assert_int_eq(ct_tile_path(p, sizeof(p), false, 1, 5, 256), 0);
	ck_assert_str_eq(p, "tile/1/005");
	ck_assert_int_eq(ct_tile_path(p, sizeof(p), false, 2, 1234, 0), 0);
	ck_assert_str_eq(p, "tile/2/x001/234");
	ck_assert_int_eq(ct_tile_path(p, sizeof(p), true, 0, 1234067, 0), 0);
	ck_assert_str_eq(p, "tile/data/x001/x234/067");
	ck_assert_int_eq(ct_tile_path(p, sizeof(p), true, 0, 3, 10), 0);
	ck_assert_str_eq(p, "tile/data/003.p/10");
	ck_assert_int_eq(ct_tile_path(p, sizeof(p), false, 0, 273, 112), 0);
	ck_assert_str_eq(p, "tile/0/273.p/112");
	ck_assert_int_eq(ct_tile_path(p, sizeof(p), true, 0, UINT64_MAX, 255),
	    0);
	ck_assert_str_eq(p,
	    "tile/data/x018/x446/x744/x073/x709/x551/615.p/255");
	ck_assert_int_eq(ct_tile_path(p, sizeof(p), false, 6, 0, 0),
	    CT_ERR_INVALID);
	ck_assert_int_eq(ct_tile_path(p, sizeof(p), false, 0, 0, 257),
	    CT_ERR_INVALID);
	ck_assert_int_eq(ct_tile_path(p, 10, false, 0, 1234, 0),
	    CT_ERR_TOO_BIG);
}
END_TEST

/* ------------------------------------------------------- checkpoints */

#define CP_ORIGIN "example.com/log2025"
#define CP_MAX_NOTE 16384

struct cp_fixture {
	ecc_key key;
	WC_RNG rng;
	uint8_t spki[256];
	size_t spki_len;
	uint8_t key_id[4];
};

static void
cp_init(struct cp_fixture *f)
{
	uint8_t log_id[CT_HASH_BYTES], h[CT_HASH_BYTES], buf[128];
	size_t n;
	int len;

	ck_assert_int_eq(wc_InitRng(&f->rng), 0);
	ck_assert_int_eq(wc_ecc_init(&f->key), 0);
	ck_assert_int_eq(wc_ecc_make_key(&f->rng, 32, &f->key), 0);
	len = wc_EccPublicKeyToDer(&f->key, f->spki, sizeof(f->spki), 1);
	ck_assert_int_gt(len, 0);
	f->spki_len = (size_t)len;
	ck_assert_int_eq(wc_Sha256Hash(f->spki, (word32)len, log_id), 0);
	/* key ID = SHA-256(origin || 0x0A || 0x05 || LogID)[0..4) */
	n = strlen(CP_ORIGIN);
	memcpy(buf, CP_ORIGIN, n);
	buf[n++] = 0x0a;
	buf[n++] = 0x05;
	memcpy(buf + n, log_id, CT_HASH_BYTES);
	n += CT_HASH_BYTES;
	ck_assert_int_eq(wc_Sha256Hash(buf, (word32)n, h), 0);
	memcpy(f->key_id, h, 4);
}

static void
cp_free(struct cp_fixture *f)
{
	wc_ecc_free(&f->key);
	wc_FreeRng(&f->rng);
}

/*
 * The log's signature line for (size, root, ts): key ID || timestamp ||
 * DigitallySigned(ecdsa, sha256) over the TreeHeadSignature, built by
 * hand. ds receives the DigitallySigned.
 */
static void
cp_sig_line(struct cp_fixture *f, uint64_t size, const uint8_t *root,
    uint64_t ts, char *out, size_t outsz, uint8_t *ds, size_t *ds_len)
{
	uint8_t th[50], sig[128], body[256];
	word32 sig_len = sizeof(sig);
	char b64[512];
	size_t i, n = 0;

	th[0] = 0;
	th[1] = 1;
	for (i = 0; i < 8; i++) {
		th[2 + i] = (uint8_t)(ts >> (56 - 8 * i));
		th[10 + i] = (uint8_t)(size >> (56 - 8 * i));
	}
	memcpy(th + 18, root, 32);
	ck_assert_int_eq(wc_SignatureGenerate(WC_HASH_TYPE_SHA256,
	                     WC_SIGNATURE_TYPE_ECC, th, sizeof(th), sig,
	                     &sig_len, &f->key, sizeof(f->key), &f->rng),
	    0);
	memcpy(body, f->key_id, 4);
	n = 4;
	for (i = 0; i < 8; i++)
		body[n++] = (uint8_t)(ts >> (56 - 8 * i));
	body[n++] = 4;
	body[n++] = 3;
	body[n++] = (uint8_t)(sig_len >> 8);
	body[n++] = (uint8_t)sig_len;
	memcpy(body + n, sig, sig_len);
	n += sig_len;
	memcpy(ds, body + 12, n - 12);
	*ds_len = n - 12;
	util_b64_encode(body, n, b64);
	ck_assert_int_lt(snprintf(out, outsz, "\xe2\x80\x94 %s %s\n", CP_ORIGIN,
	                     b64),
	    (int)outsz);
}

static int
cp_verify(struct cp_fixture *f, const char *note, struct ct_sth *sth)
{
	return ct_checkpoint_verify((const uint8_t *)note, strlen(note),
	    CP_ORIGIN, strlen(CP_ORIGIN), f->spki, f->spki_len, sth);
}

/* A witness cosignature line: another key's name and ID. */
static const char witness[] =
    "\xe2\x80\x94 witness.example/w1 "
    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEy\n";
/* The same with a '+' in the name, which signed notes forbid. */
static const char witness_plus[] =
    "\xe2\x80\x94 witness.example+0a0b0c0d "
    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEy\n";

/* Appends s to the NUL-terminated text in buf (bounded, no strcat). */
static void
cp_append(char *buf, size_t bufsz, const char *s)
{
	size_t have = strlen(buf), n = strlen(s);

	ck_assert_uint_lt(have + n, bufsz);
	memcpy(buf + have, s, n + 1);
}

START_TEST(test_checkpoint)
{
	static char note[CP_MAX_NOTE], line[1024], other[1024],
	    bad[CP_MAX_NOTE];
	static const char text[] =
	    CP_ORIGIN "\n12345\n"
	              "q6urq6urq6urq6urq6urq6urq6urq6urq6u"
	              "rq6urq6s=\n\n";
	uint8_t root[32], ds[256];
	struct cp_fixture f;
	struct ct_sth sth;
	size_t ds_len, i, m, len;
	int rc;

	cp_init(&f);
	memset(root, 0xab, sizeof(root));
	cp_sig_line(&f, 12345, root, 1750000000123ULL, line, sizeof(line), ds,
	    &ds_len);
	snprintf(note, sizeof(note), "%s%s", text, line);
	memset(&sth, 0, sizeof(sth));
	ck_assert_int_eq(cp_verify(&f, note, &sth), 0);
	ck_assert_uint_eq(sth.tree_size, 12345);
	ck_assert_uint_eq(sth.timestamp, 1750000000123ULL);
	ck_assert_mem_eq(sth.root, root, 32);
	ck_assert(sth.sig == NULL);
	/* The same signature as a get-sth DigitallySigned. */
	sth.sig = ds;
	sth.sig_len = ds_len;
	ck_assert_int_eq(ct_sth_verify(&sth, f.spki, f.spki_len), 0);

	/* Witness lines around it are ignored. */
	snprintf(note, sizeof(note), "%s%s%s%s", text, witness, line, witness);
	ck_assert_int_eq(cp_verify(&f, note, &sth), 0);
	/* Only a witness: not signed by the log. */
	snprintf(note, sizeof(note), "%s%s", text, witness);
	ck_assert_int_eq(cp_verify(&f, note, &sth), CT_ERR_NOT_FOUND);
	/* The log's name with another key ID is someone else. */
	snprintf(other, sizeof(other), "\xe2\x80\x94 %s %s\n", CP_ORIGIN,
	    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g");
	snprintf(note, sizeof(note), "%s%s", text, other);
	ck_assert_int_eq(cp_verify(&f, note, &sth), CT_ERR_NOT_FOUND);
	/* Signed twice by the log. */
	snprintf(note, sizeof(note), "%s%s%s", text, line, line);
	ck_assert_int_eq(cp_verify(&f, note, &sth), CT_ERR_FORMAT);
	/* Another log's key. */
	snprintf(note, sizeof(note), "%s%s", text, line);
	ck_assert_int_eq(ct_checkpoint_verify((const uint8_t *)note,
	                     strlen(note), CP_ORIGIN, strlen(CP_ORIGIN),
	                     log_key, log_key_len, &sth),
	    CT_ERR_NOT_FOUND);
	/* Another origin expected. */
	ck_assert_int_eq(ct_checkpoint_verify((const uint8_t *)note,
	                     strlen(note), "example.com/log2026", 19, f.spki,
	                     f.spki_len, &sth),
	    CT_ERR_AUTH);

	/* A changed size, a leading zero, an extension line. */
	snprintf(note, sizeof(note), "%s%s", text, line);
	note[strlen(CP_ORIGIN) + 5] = '6';
	ck_assert_int_eq(cp_verify(&f, note, &sth), CT_ERR_SIGNATURE);
	snprintf(note, sizeof(note),
	    CP_ORIGIN
	    "\n012345\nq6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=\n\n%s",
	    line);
	ck_assert_int_eq(cp_verify(&f, note, &sth), CT_ERR_FORMAT);
	snprintf(note, sizeof(note),
	    CP_ORIGIN "\n12345\nq6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=\n"
	              "ext\n\n%s",
	    line);
	ck_assert_int_eq(cp_verify(&f, note, &sth), CT_ERR_FORMAT);
	/* No signatures, no final newline, no blank line. */
	ck_assert_int_eq(cp_verify(&f, text, &sth), CT_ERR_FORMAT);
	snprintf(note, sizeof(note), "%s%s", text, line);
	note[strlen(note) - 1] = '\0';
	ck_assert_int_eq(cp_verify(&f, note, &sth), CT_ERR_FORMAT);
	snprintf(note, sizeof(note), "%s", text);
	note[strlen(note) - 1] = '\0';
	cp_append(note, sizeof(note), line);
	ck_assert_int_eq(cp_verify(&f, note, &sth), CT_ERR_FORMAT);
	/* Names with '+', bad base64, a short signature. */
	snprintf(note, sizeof(note), "%s%s%s", text, witness_plus, line);
	ck_assert_int_eq(cp_verify(&f, note, &sth), CT_ERR_FORMAT);
	snprintf(note, sizeof(note), "%s\xe2\x80\x94 w AAEC*===\n%s", text,
	    line);
	ck_assert_int_eq(cp_verify(&f, note, &sth), CT_ERR_FORMAT);
	snprintf(note, sizeof(note), "%s\xe2\x80\x94 w AAECAw==\n%s", text,
	    line);
	ck_assert_int_eq(cp_verify(&f, note, &sth), CT_ERR_FORMAT);
	/* Control bytes and bad UTF-8, even in a witness line. */
	snprintf(note, sizeof(note), "%s\xe2\x80\x94 w\t AAECAwQF\n%s", text,
	    line);
	ck_assert_int_eq(cp_verify(&f, note, &sth), CT_ERR_FORMAT);
	snprintf(note, sizeof(note), "%s\xe2\x80\x94 w\xc0\xaf AAECAwQF\n%s",
	    text, line);
	ck_assert_int_eq(cp_verify(&f, note, &sth), CT_ERR_FORMAT);
	snprintf(note, sizeof(note),
	    "%s\xe2\x80\x94 w\xed\xa0\x80 AAECAwQF\n%s", text, line);
	ck_assert_int_eq(cp_verify(&f, note, &sth), CT_ERR_FORMAT);
	snprintf(note, sizeof(note), "%s\xe2\x80\x94 w\xc3\xa9 AAECAwQF\n%s",
	    text, line);
	ck_assert_int_eq(cp_verify(&f, note, &sth), 0);
	/* Too many signature lines. */
	snprintf(note, sizeof(note), "%s", text);
	for (i = 0; i < CT_NOTE_MAX_SIGS; i++)
		cp_append(note, sizeof(note), witness);
	cp_append(note, sizeof(note), line);
	ck_assert_int_eq(cp_verify(&f, note, &sth), CT_ERR_TOO_BIG);

	/* Every single flipped byte breaks the note. */
	snprintf(note, sizeof(note), "%s%s", text, line);
	len = strlen(note);
	for (i = 0; i < len; i++) {
		for (m = 0; m < 2; m++) {
			memcpy(bad, note, len);
			bad[i] ^= m == 0 ? 0x01 : 0x80;
			rc = ct_checkpoint_verify((const uint8_t *)bad, len,
			    CP_ORIGIN, strlen(CP_ORIGIN), f.spki, f.spki_len,
			    &sth);
			ck_assert_msg(rc != 0, "note byte %zu flipped verifies",
			    i);
		}
	}
	cp_free(&f);
}
END_TEST

static Suite *
ct_suite(void)
{
	Suite *s = suite_create("ct");
	TCase *tc;

	tc = tcase_create("sct");
	tcase_add_unchecked_fixture(tc, keys_setup, keys_teardown);
	tcase_add_test(tc, test_sct_parse_proof);
	tcase_add_test(tc, test_sct_parse_bad);
	tcase_add_test(tc, test_sct_list);
	tcase_add_test(tc, test_ext_parse);
	tcase_add_test(tc, test_sct_verify_x509);
	tcase_add_test(tc, test_sct_flip_x509);
	tcase_add_loop_test(tc, test_sct_verify_embedded, 0,
	    sizeof(embedded_cases) / sizeof(embedded_cases[0]));
	tcase_add_test(tc, test_sct_invalid_embedded);
	tcase_add_test(tc, test_sct_flip_embedded);
	tcase_add_loop_test(tc, test_sct_verify_precert_proof, 0,
	    sizeof(proof_cases) / sizeof(proof_cases[0]));
	tcase_add_test(tc, test_sct_leaf_index);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);

	tc = tcase_create("sth");
	tcase_add_unchecked_fixture(tc, keys_setup, keys_teardown);
	tcase_add_test(tc, test_sth_pilot);
	tcase_add_test(tc, test_sth_badsig);
	tcase_add_test(tc, test_checkpoint);
	suite_add_tcase(s, tc);

	tc = tcase_create("leaf");
	tcase_add_test(tc, test_leaf_hash_from_sct);
	tcase_add_test(tc, test_leaf_parse_bad);
	tcase_add_test(tc, test_get_entries);
	tcase_add_test(tc, test_tile_leaves);
	tcase_add_test(tc, test_tile_leaf_bad);
	tcase_add_test(tc, test_tile_path);
	suite_add_tcase(s, tc);

	tc = tcase_create("merkle");
	tcase_add_test(tc, test_merkle_reference);
	tcase_add_test(tc, test_merkle_oracle);
	tcase_add_test(tc, test_merkle_huge);
	tcase_add_test(tc, test_merkle_probes);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return testutil_run(ct_suite());
}
