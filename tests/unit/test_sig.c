/*
 * Unit tests for common/sig: algorithm mapping and signature checks with
 * RSA PKCS#1 v1.5, RSA-PSS, ECDSA P-256/P-384 and Ed25519, on fixtures made
 * by tests/data/make-sig-fixtures.sh and on real CT data.
 */
#include <wolfssl/options.h>

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "sig.h"
#include "testutil.h"
#include "util.h"

#define SIGDATA LOCAL_TESTDATA "sig/"
#define CTDATA SHARED_TESTDATA "ct-testdata/"

/* Reads the first PEM block of a file (a PUBLIC KEY) as DER. */
static uint8_t *
read_pem_der(const char *path, size_t *len)
{
	size_t flen, off = 0;
	uint8_t *file = testutil_read(path, &flen), *der = NULL;
	char label[64];
	int rc;

	rc = util_pem_next((const char *)file, flen, &off, label, sizeof(label),
	    &der, len);
	free(file);
	ck_assert_msg(rc == 0, "PEM in %s: %s", path, ct_strerror(rc));
	return der;
}

struct vec {
	const char *spki;
	const char *sig;
	enum sig_alg alg;
};

static const struct vec vecs[] = {
    {"rsa.spki.der", "msg.rsa-pkcs1-sha1.sig", SIG_RSA_PKCS1_SHA1},
    {"rsa.spki.der", "msg.rsa-pkcs1-sha256.sig", SIG_RSA_PKCS1_SHA256},
    {"rsa.spki.der", "msg.rsa-pss-sha256.sig", SIG_RSA_PSS_SHA256},
    {"p256.spki.der", "msg.p256-sha256.sig", SIG_ECDSA_SHA256},
    {"p384.spki.der", "msg.p384-sha384.sig", SIG_ECDSA_SHA384},
    {"ed.spki.der", "msg.ed25519.sig", SIG_ED25519},
};
#define NVECS (sizeof(vecs) / sizeof(vecs[0]))

struct loaded {
	uint8_t *spki, *sig, *msg;
	size_t spki_len, sig_len, msg_len;
};

static void
load(const struct vec *v, struct loaded *l)
{
	char path[256];

	snprintf(path, sizeof(path), SIGDATA "%s", v->spki);
	l->spki = testutil_read(path, &l->spki_len);
	snprintf(path, sizeof(path), SIGDATA "%s", v->sig);
	l->sig = testutil_read(path, &l->sig_len);
	l->msg = testutil_read(SIGDATA "msg.bin", &l->msg_len);
}

static void
unload(struct loaded *l)
{
	free(l->spki);
	free(l->sig);
	free(l->msg);
}

START_TEST(test_valid)
{
	struct loaded l;
	int rc;

	load(&vecs[_i], &l);
	rc = sig_verify(l.spki, l.spki_len, vecs[_i].alg, l.msg, l.msg_len,
	    l.sig, l.sig_len);
	ck_assert_msg(rc == 0, "%s: %s", vecs[_i].sig, ct_strerror(rc));
	unload(&l);
}
END_TEST

START_TEST(test_flipped_message)
{
	struct loaded l;

	load(&vecs[_i], &l);
	l.msg[3] ^= 0x01;
	ck_assert_int_eq(sig_verify(l.spki, l.spki_len, vecs[_i].alg, l.msg,
	                     l.msg_len, l.sig, l.sig_len),
	    CT_ERR_SIGNATURE);
	unload(&l);
}
END_TEST

/* Every single-bit flip in the last bytes of the signature must fail. */
START_TEST(test_flipped_signature)
{
	struct loaded l;
	size_t i;
	int bit;

	load(&vecs[_i], &l);
	for (i = l.sig_len - 4; i < l.sig_len; i++) {
		for (bit = 0; bit < 8; bit++) {
			l.sig[i] ^= (uint8_t)(1 << bit);
			ck_assert_int_eq(sig_verify(l.spki, l.spki_len,
			                     vecs[_i].alg, l.msg, l.msg_len,
			                     l.sig, l.sig_len),
			    CT_ERR_SIGNATURE);
			l.sig[i] ^= (uint8_t)(1 << bit);
		}
	}
	/* A flip at the front, too. */
	l.sig[l.sig_len / 2] ^= 0x80;
	ck_assert_int_eq(sig_verify(l.spki, l.spki_len, vecs[_i].alg, l.msg,
	                     l.msg_len, l.sig, l.sig_len),
	    CT_ERR_SIGNATURE);
	unload(&l);
}
END_TEST

START_TEST(test_truncated_signature)
{
	struct loaded l;

	load(&vecs[_i], &l);
	ck_assert_int_eq(sig_verify(l.spki, l.spki_len, vecs[_i].alg, l.msg,
	                     l.msg_len, l.sig, l.sig_len - 1),
	    CT_ERR_SIGNATURE);
	ck_assert_int_eq(sig_verify(l.spki, l.spki_len, vecs[_i].alg, l.msg,
	                     l.msg_len, l.sig, 0),
	    CT_ERR_SIGNATURE);
	unload(&l);
}
END_TEST

/* A truncated or garbled SPKI is a format error, never "valid". */
START_TEST(test_bad_spki)
{
	struct loaded l;
	size_t n;
	int rc;

	load(&vecs[_i], &l);
	for (n = 0; n < l.spki_len; n++) {
		rc = sig_verify(l.spki, n, vecs[_i].alg, l.msg, l.msg_len,
		    l.sig, l.sig_len);
		ck_assert_msg(rc == CT_ERR_FORMAT, "%s cut at %zu: %d",
		    vecs[_i].spki, n, rc);
	}
	/* The wrong outer tag. */
	l.spki[0] = 0x31;
	ck_assert_int_eq(sig_verify(l.spki, l.spki_len, vecs[_i].alg, l.msg,
	                     l.msg_len, l.sig, l.sig_len),
	    CT_ERR_FORMAT);
	unload(&l);
}
END_TEST

/* Padding or hash mix-ups fail as signatures. */
START_TEST(test_wrong_variant)
{
	static const struct {
		size_t vec;
		enum sig_alg alg;
	} cases[] = {
	    {1, SIG_RSA_PSS_SHA256},   /* PKCS#1 sig checked as PSS */
	    {2, SIG_RSA_PKCS1_SHA256}, /* PSS sig checked as PKCS#1 */
	    {0, SIG_RSA_PKCS1_SHA256}, /* SHA-1 sig checked as SHA-256 */
	    {1, SIG_RSA_PKCS1_SHA384},
	    {2, SIG_RSA_PSS_SHA512},
	    {3, SIG_ECDSA_SHA384},
	    {4, SIG_ECDSA_SHA256},
	};
	struct loaded l;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		load(&vecs[cases[i].vec], &l);
		ck_assert_msg(sig_verify(l.spki, l.spki_len, cases[i].alg,
		                  l.msg, l.msg_len, l.sig,
		                  l.sig_len) == CT_ERR_SIGNATURE,
		    "case %zu", i);
		unload(&l);
	}
}
END_TEST

/* A key of another type than the algorithm: unsupported, not valid. */
START_TEST(test_key_mismatch)
{
	static const struct {
		size_t key_vec, sig_vec;
		enum sig_alg alg;
	} cases[] = {
	    {3, 1, SIG_RSA_PKCS1_SHA256}, /* EC key, RSA alg */
	    {5, 2, SIG_RSA_PSS_SHA256},   /* Ed25519 key, PSS */
	    {0, 3, SIG_ECDSA_SHA256},     /* RSA key, ECDSA */
	    {5, 3, SIG_ECDSA_SHA256},     /* Ed25519 key, ECDSA */
	    {3, 5, SIG_ED25519},          /* EC key, Ed25519 */
	    {0, 5, SIG_ED25519},          /* RSA key, Ed25519 */
	};
	struct loaded k, s;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		load(&vecs[cases[i].key_vec], &k);
		load(&vecs[cases[i].sig_vec], &s);
		ck_assert_msg(sig_verify(k.spki, k.spki_len, cases[i].alg,
		                  s.msg, s.msg_len, s.sig,
		                  s.sig_len) == CT_ERR_UNSUPPORTED,
		    "case %zu", i);
		unload(&k);
		unload(&s);
	}
}
END_TEST

START_TEST(test_other_curve)
{
	struct loaded l;
	uint8_t *p521;
	size_t n;

	load(&vecs[3], &l);
	p521 = testutil_read(SIGDATA "p521.spki.der", &n);
	ck_assert_int_eq(sig_verify(p521, n, SIG_ECDSA_SHA256, l.msg, l.msg_len,
	                     l.sig, l.sig_len),
	    CT_ERR_UNSUPPORTED);
	free(p521);
	unload(&l);
}
END_TEST

/* Well-framed SPKIs whose key bits wolfCrypt refuses: format errors. */
START_TEST(test_bad_key_bits)
{
	struct loaded l;

	load(&vecs[3], &l);                  /* P-256 */
	ck_assert_uint_eq(l.spki[26], 0x04); /* uncompressed point */
	l.spki[26] = 0x07;
	ck_assert_int_eq(sig_verify(l.spki, l.spki_len, SIG_ECDSA_SHA256, l.msg,
	                     l.msg_len, l.sig, l.sig_len),
	    CT_ERR_FORMAT);
	unload(&l);

	load(&vecs[1], &l); /* RSA: the modulus INTEGER becomes a BOOLEAN */
	ck_assert_uint_eq(l.spki[28], 0x02);
	l.spki[28] = 0x01;
	ck_assert_int_eq(sig_verify(l.spki, l.spki_len, SIG_RSA_PKCS1_SHA256,
	                     l.msg, l.msg_len, l.sig, l.sig_len),
	    CT_ERR_FORMAT);
	unload(&l);
}
END_TEST

START_TEST(test_bad_args)
{
	struct loaded l;

	load(&vecs[3], &l);
	ck_assert_int_eq(sig_verify(NULL, 0, SIG_ECDSA_SHA256, l.msg, l.msg_len,
	                     l.sig, l.sig_len),
	    CT_ERR_INVALID);
	ck_assert_int_eq(sig_verify(l.spki, l.spki_len, SIG__MAX, l.msg,
	                     l.msg_len, l.sig, l.sig_len),
	    CT_ERR_INVALID);
	ck_assert_int_eq(sig_verify(l.spki, l.spki_len, SIG_ECDSA_SHA256, NULL,
	                     5, l.sig, l.sig_len),
	    CT_ERR_INVALID);
	/* An empty message is allowed and fails honestly. */
	ck_assert_int_eq(sig_verify(l.spki, l.spki_len, SIG_ECDSA_SHA256, NULL,
	                     0, l.sig, l.sig_len),
	    CT_ERR_SIGNATURE);
	unload(&l);
}
END_TEST

/*
 * A real SCT: test-cert.proof is the test log's ECDSA P-256 SCT over
 * test-cert.pem as an x509_entry (REFERENCE.md section 1.4). The signed
 * input is built here by hand.
 */
START_TEST(test_real_sct)
{
	uint8_t *key, *cert, *proof, *in;
	size_t key_len, cert_len, proof_len, in_len, o = 0, sig_len;
	const size_t sig_off = 1 + 32 + 8 + 2 + 2 + 2;

	key = read_pem_der(CTDATA "ct-server-key-public.pem", &key_len);
	cert = read_pem_der(CTDATA "test-cert.pem", &cert_len);
	proof = testutil_read(CTDATA "test-cert.proof", &proof_len);
	ck_assert_uint_eq(proof_len, 118);
	ck_assert_uint_eq(proof[43], 4); /* sha256 */
	ck_assert_uint_eq(proof[44], 3); /* ecdsa */
	sig_len = (size_t)proof[45] << 8 | proof[46];
	ck_assert_uint_eq(sig_off + sig_len, proof_len);

	in_len = 2 + 8 + 2 + 3 + cert_len + 2;
	in = malloc(in_len);
	ck_assert_ptr_nonnull(in);
	in[o++] = 0; /* v1 */
	in[o++] = 0; /* certificate_timestamp */
	memcpy(in + o, proof + 33, 8);
	o += 8;
	in[o++] = 0;
	in[o++] = 0; /* x509_entry */
	in[o++] = (uint8_t)(cert_len >> 16);
	in[o++] = (uint8_t)(cert_len >> 8);
	in[o++] = (uint8_t)cert_len;
	memcpy(in + o, cert, cert_len);
	o += cert_len;
	in[o++] = 0;
	in[o++] = 0; /* no extensions */
	ck_assert_uint_eq(o, in_len);

	ck_assert_int_eq(sig_verify(key, key_len, SIG_ECDSA_SHA256, in, in_len,
	                     proof + sig_off, sig_len),
	    0);
	in[20] ^= 0x04;
	ck_assert_int_eq(sig_verify(key, key_len, SIG_ECDSA_SHA256, in, in_len,
	                     proof + sig_off, sig_len),
	    CT_ERR_SIGNATURE);
	free(in);
	free(proof);
	free(cert);
	free(key);
}
END_TEST

/* Google's RSA-4096 signature over Chrome's log list (SOURCES.md). */
START_TEST(test_real_rsa4096)
{
	uint8_t *key, *json, *sig;
	size_t key_len, json_len, sig_len;

	key = read_pem_der(SHARED_TESTDATA "loglists/log_list_pubkey.pem",
	    &key_len);
	json = testutil_read(SHARED_TESTDATA "loglists/all_logs_list.json",
	    &json_len);
	sig = testutil_read(SHARED_TESTDATA "loglists/all_logs_list.sig",
	    &sig_len);
	ck_assert_int_eq(sig_verify(key, key_len, SIG_RSA_PKCS1_SHA256, json,
	                     json_len, sig, sig_len),
	    0);
	json[json_len - 2] ^= 0x01;
	ck_assert_int_eq(sig_verify(key, key_len, SIG_RSA_PKCS1_SHA256, json,
	                     json_len, sig, sig_len),
	    CT_ERR_SIGNATURE);
	free(sig);
	free(json);
	free(key);
}
END_TEST

START_TEST(test_tls_mapping)
{
	enum sig_alg alg = SIG__MAX;
	unsigned h, s;

	ck_assert_int_eq(sig_alg_from_tls(4, 1, &alg), 0);
	ck_assert_int_eq(alg, SIG_RSA_PKCS1_SHA256);
	ck_assert_int_eq(sig_alg_from_tls(4, 3, &alg), 0);
	ck_assert_int_eq(alg, SIG_ECDSA_SHA256);
	for (h = 0; h < 256; h++) {
		for (s = 0; s < 256; s++) {
			if (h == 4 && (s == 1 || s == 3))
				continue;
			ck_assert_int_eq(sig_alg_from_tls((uint8_t)h,
			                     (uint8_t)s, &alg),
			    CT_ERR_UNSUPPORTED);
		}
	}
}
END_TEST

START_TEST(test_names)
{
	size_t i, j;

	for (i = 0; i < SIG__MAX; i++) {
		ck_assert_ptr_nonnull(sig_alg_names[i]);
		for (j = 0; j < i; j++)
			ck_assert_str_ne(sig_alg_names[i], sig_alg_names[j]);
	}
	ck_assert_str_eq(sig_alg_names[SIG_ED25519], "ed25519");
}
END_TEST

/* AlgorithmIdentifier encodings, in hex, and what they must map to. */
struct algid_case {
	const char *hex;
	int rc;
	enum sig_alg alg;
};

#define PKCS1(x) "06092a864886f70d0101" x
#define PSS_HASH256 "300d06096086480165030402010500"
#define PSS_HASH384 "300d06096086480165030402020500"
#define PSS_MGF(h) "301a06092a864886f70d010108" h

static const struct algid_case algids[] = {
    {"300d" PKCS1("05") "0500", 0, SIG_RSA_PKCS1_SHA1},
    {"300d" PKCS1("0b") "0500", 0, SIG_RSA_PKCS1_SHA256},
    {"300b" PKCS1("0b"), 0, SIG_RSA_PKCS1_SHA256}, /* NULL absent */
    {"300d" PKCS1("0c") "0500", 0, SIG_RSA_PKCS1_SHA384},
    {"300d" PKCS1("0d") "0500", 0, SIG_RSA_PKCS1_SHA512},
    {"300a06082a8648ce3d040302", 0, SIG_ECDSA_SHA256},
    {"300a06082a8648ce3d040303", 0, SIG_ECDSA_SHA384},
    {"300a06082a8648ce3d040304", 0, SIG_ECDSA_SHA512},
    {"300506032b6570", 0, SIG_ED25519},
    /* RSASSA-PSS, SHA-256, MGF1-SHA-256, salt 32 (as openssl writes). */
    {"3041" PKCS1("0a") "3034a00f" PSS_HASH256
                        "a11c" PSS_MGF(PSS_HASH256) "a203020120",
        0, SIG_RSA_PSS_SHA256},
    {"3041" PKCS1("0a") "3034a00f" PSS_HASH384
                        "a11c" PSS_MGF(PSS_HASH384) "a203020130",
        0, SIG_RSA_PSS_SHA384},
    /* ... with an explicit trailer field 1. */
    {"3046" PKCS1("0a") "3039a00f" PSS_HASH256
                        "a11c" PSS_MGF(PSS_HASH256) "a203020120a303020101",
        0, SIG_RSA_PSS_SHA256},
    /* ... salt 20, MGF hash differs, trailer 2, defaults (SHA-1). */
    {"3041" PKCS1("0a") "3034a00f" PSS_HASH256
                        "a11c" PSS_MGF(PSS_HASH256) "a203020114",
        CT_ERR_UNSUPPORTED, 0},
    {"3041" PKCS1("0a") "3034a00f" PSS_HASH256
                        "a11c" PSS_MGF(PSS_HASH384) "a203020120",
        CT_ERR_UNSUPPORTED, 0},
    {"3046" PKCS1("0a") "3039a00f" PSS_HASH256
                        "a11c" PSS_MGF(PSS_HASH256) "a203020120a303020102",
        CT_ERR_UNSUPPORTED, 0},
    {"300d" PKCS1("0a") "3000", CT_ERR_UNSUPPORTED, 0},
    /* ... parameters missing, or trailing bytes inside them. */
    {"300b" PKCS1("0a"), CT_ERR_FORMAT, 0},
    {"3043" PKCS1("0a") "3036a00f" PSS_HASH256
                        "a11c" PSS_MGF(PSS_HASH256) "a2030201200500",
        CT_ERR_FORMAT, 0},
    /* md5WithRSA, ECDSA-SHA224, Ed448, DSA: not ours. */
    {"300d" PKCS1("04") "0500", CT_ERR_UNSUPPORTED, 0},
    {"300a06082a8648ce3d040301", CT_ERR_UNSUPPORTED, 0},
    {"300506032b6571", CT_ERR_UNSUPPORTED, 0},
    {"300906072a8648ce380403", CT_ERR_UNSUPPORTED, 0},
    /* Malformed: ECDSA/Ed25519 with parameters, bad NULL, trailing. */
    {"300c06082a8648ce3d0403020500", CT_ERR_FORMAT, 0},
    {"300706032b65700500", CT_ERR_FORMAT, 0},
    {"300e" PKCS1("0b") "050100", CT_ERR_FORMAT, 0},
    {"300d" PKCS1("0b") "050000", CT_ERR_FORMAT, 0},
    {"310d" PKCS1("0b") "0500", CT_ERR_FORMAT, 0},
    {"300e" PKCS1("0b") "0500", CT_ERR_FORMAT, 0},
    {"", CT_ERR_FORMAT, 0},
    {"3000", CT_ERR_FORMAT, 0},
};

START_TEST(test_algid)
{
	const struct algid_case *t = &algids[_i];
	uint8_t der[128];
	enum sig_alg alg = SIG__MAX;
	int n, rc;

	n = util_hex_decode(t->hex, strlen(t->hex), der, sizeof(der));
	ck_assert_msg(n >= 0, "bad hex in case %d", _i);
	rc = sig_alg_from_algid(der, (size_t)n, &alg);
	ck_assert_msg(rc == t->rc, "case %d (%s): %d, want %d", _i, t->hex, rc,
	    t->rc);
	if (rc == 0)
		ck_assert_int_eq(alg, t->alg);
}
END_TEST

/* Every prefix of a valid PSS AlgorithmIdentifier is rejected. */
START_TEST(test_algid_truncated)
{
	const char *hex = algids[9].hex;
	uint8_t der[128];
	enum sig_alg alg;
	int n, k;

	n = util_hex_decode(hex, strlen(hex), der, sizeof(der));
	ck_assert_int_gt(n, 0);
	for (k = 0; k < n; k++)
		ck_assert_int_lt(sig_alg_from_algid(der, (size_t)k, &alg), 0);
}
END_TEST

static Suite *
sig_suite(void)
{
	Suite *s = suite_create("sig");
	TCase *tc = tcase_create("verify");
	TCase *ta = tcase_create("algorithms");

	tcase_add_loop_test(tc, test_valid, 0, NVECS);
	tcase_add_loop_test(tc, test_flipped_message, 0, NVECS);
	tcase_add_loop_test(tc, test_flipped_signature, 0, NVECS);
	tcase_add_loop_test(tc, test_truncated_signature, 0, NVECS);
	tcase_add_loop_test(tc, test_bad_spki, 0, NVECS);
	tcase_add_test(tc, test_wrong_variant);
	tcase_add_test(tc, test_key_mismatch);
	tcase_add_test(tc, test_other_curve);
	tcase_add_test(tc, test_bad_key_bits);
	tcase_add_test(tc, test_bad_args);
	tcase_add_test(tc, test_real_sct);
	tcase_add_test(tc, test_real_rsa4096);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);

	tcase_add_test(ta, test_tls_mapping);
	tcase_add_test(ta, test_names);
	tcase_add_loop_test(ta, test_algid, 0,
	    (int)(sizeof(algids) / sizeof(algids[0])));
	tcase_add_test(ta, test_algid_truncated);
	suite_add_tcase(s, ta);
	return s;
}

int
main(void)
{
	return testutil_run(sig_suite());
}
