/*
 * sig: signature verification with wolfCrypt over a DER SubjectPublicKeyInfo.
 * Each key object lives for one call only (ecc_key is not thread safe).
 */
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/ed25519.h>
#include <wolfssl/wolfcrypt/error-crypt.h>
#include <wolfssl/wolfcrypt/hash.h>
#include <wolfssl/wolfcrypt/rsa.h>
#include <wolfssl/wolfcrypt/signature.h>

#include <stdlib.h>
#include <string.h>

#include "der.h"
#include "sig.h"
#include "util.h"

/* Largest key and signature we hand to wolfCrypt (its RSA_MAX_SIZE). */
#define SIG_MAX_RSA_BYTES (RSA_MAX_SIZE / 8)
#define SIG_MAX_SPKI_BYTES 4096
#define SIG_MAX_DATA_BYTES ((size_t)UINT32_MAX)
#define SIG_ED25519_BYTES 64

const char *const sig_alg_names[SIG__MAX] = {
    [SIG_RSA_PKCS1_SHA1] = "rsa-pkcs1-sha1",
    [SIG_RSA_PKCS1_SHA256] = "rsa-pkcs1-sha256",
    [SIG_RSA_PKCS1_SHA384] = "rsa-pkcs1-sha384",
    [SIG_RSA_PKCS1_SHA512] = "rsa-pkcs1-sha512",
    [SIG_RSA_PSS_SHA256] = "rsa-pss-sha256",
    [SIG_RSA_PSS_SHA384] = "rsa-pss-sha384",
    [SIG_RSA_PSS_SHA512] = "rsa-pss-sha512",
    [SIG_ECDSA_SHA256] = "ecdsa-sha256",
    [SIG_ECDSA_SHA384] = "ecdsa-sha384",
    [SIG_ECDSA_SHA512] = "ecdsa-sha512",
    [SIG_ED25519] = "ed25519",
};

/* Object identifiers, DER content bytes. */
static const uint8_t oid_rsa_enc[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01,
    0x01, 0x01};
static const uint8_t oid_mgf1[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01,
    0x01, 0x08};
static const uint8_t oid_ec_pub[] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01};
static const uint8_t oid_p256[] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01,
    0x07};
static const uint8_t oid_p384[] = {0x2b, 0x81, 0x04, 0x00, 0x22};
static const uint8_t oid_ed25519[] = {0x2b, 0x65, 0x70};

/* 1.2.840.113549.1.1.<n>: PKCS#1 signature algorithms by last arc. */
static const uint8_t oid_pkcs1_prefix[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d,
    0x01, 0x01};
#define PKCS1_SHA1 5
#define PKCS1_PSS 10
#define PKCS1_SHA256 11
#define PKCS1_SHA384 12
#define PKCS1_SHA512 13

/* 1.2.840.10045.4.3.<n>: ECDSA with SHA-2. */
static const uint8_t oid_ecdsa_prefix[] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04,
    0x03};

/* 2.16.840.1.101.3.4.2.<n>: SHA-2 hashes. */
static const uint8_t oid_sha2_prefix[] = {0x60, 0x86, 0x48, 0x01, 0x65, 0x03,
    0x04, 0x02};

enum key_kind {
	KEY_RSA,
	KEY_EC,
	KEY_ED25519,
};

static bool
alg_is_rsa(enum sig_alg alg)
{
	return alg <= SIG_RSA_PSS_SHA512;
}

static bool
alg_is_pss(enum sig_alg alg)
{
	return alg >= SIG_RSA_PSS_SHA256 && alg <= SIG_RSA_PSS_SHA512;
}

static bool
alg_is_ecdsa(enum sig_alg alg)
{
	return alg >= SIG_ECDSA_SHA256 && alg <= SIG_ECDSA_SHA512;
}

static enum wc_HashType
alg_hash(enum sig_alg alg)
{
	switch (alg) {
	case SIG_RSA_PKCS1_SHA1:
		return WC_HASH_TYPE_SHA;
	case SIG_RSA_PKCS1_SHA256:
	case SIG_RSA_PSS_SHA256:
	case SIG_ECDSA_SHA256:
		return WC_HASH_TYPE_SHA256;
	case SIG_RSA_PKCS1_SHA384:
	case SIG_RSA_PSS_SHA384:
	case SIG_ECDSA_SHA384:
		return WC_HASH_TYPE_SHA384;
	case SIG_RSA_PKCS1_SHA512:
	case SIG_RSA_PSS_SHA512:
	case SIG_ECDSA_SHA512:
		return WC_HASH_TYPE_SHA512;
	default:
		return WC_HASH_TYPE_NONE;
	}
}

static int
pss_mgf(enum sig_alg alg)
{
	switch (alg) {
	case SIG_RSA_PSS_SHA256:
		return WC_MGF1SHA256;
	case SIG_RSA_PSS_SHA384:
		return WC_MGF1SHA384;
	default:
		return WC_MGF1SHA512;
	}
}

/*
 * Reads the algorithm of a SubjectPublicKeyInfo: 0 with *kind set,
 * CT_ERR_FORMAT when it is not an SPKI, CT_ERR_UNSUPPORTED for a key type
 * or curve we do not verify with.
 */
static int
spki_kind(const uint8_t *spki, size_t len, enum key_kind *kind)
{
	struct der_cursor c, in, alg;
	struct der_tlv seq, algid, oid, param, bits;
	int rc;

	der_init(&c, spki, len);
	if (der_expect(&c, DER_SEQUENCE, &seq) != 0 || !der_empty(&c))
		return CT_ERR_FORMAT;
	der_enter(&seq, &in);
	if (der_expect(&in, DER_SEQUENCE, &algid) != 0 ||
	    der_expect(&in, DER_BIT_STRING, &bits) != 0 || !der_empty(&in))
		return CT_ERR_FORMAT;
	der_enter(&algid, &alg);
	if (der_expect(&alg, DER_OID, &oid) != 0)
		return CT_ERR_FORMAT;
	if (der_oid_eq(&oid, oid_rsa_enc, sizeof(oid_rsa_enc))) {
		*kind = KEY_RSA;
		return 0;
	}
	if (der_oid_eq(&oid, oid_ed25519, sizeof(oid_ed25519))) {
		*kind = KEY_ED25519;
		return 0;
	}
	if (!der_oid_eq(&oid, oid_ec_pub, sizeof(oid_ec_pub)))
		return CT_ERR_UNSUPPORTED;
	if ((rc = der_next(&alg, &param)) != 0)
		return rc == CT_ERR_TRUNCATED ? CT_ERR_FORMAT : rc;
	if (!der_oid_eq(&param, oid_p256, sizeof(oid_p256)) &&
	    !der_oid_eq(&param, oid_p384, sizeof(oid_p384)))
		return CT_ERR_UNSUPPORTED; /* explicit or other curves */
	*kind = KEY_EC;
	return 0;
}

/* Maps a wolfCrypt failure while checking a signature. */
static int
map_verify_err(int ret)
{
	if (ret == MEMORY_E)
		return CT_ERR_NOMEM;
	return CT_ERR_SIGNATURE;
}

static int
verify_rsa(const uint8_t *spki, size_t spki_len, enum sig_alg alg,
    const uint8_t *data, size_t data_len, const uint8_t *sig, size_t sig_len)
{
	RsaKey key;
	uint8_t digest[WC_MAX_DIGEST_SIZE];
	uint8_t *in = NULL, *out = NULL;
	word32 idx = 0;
	enum wc_HashType ht = alg_hash(alg);
	int ret, hlen, rc;

	if (wc_InitRsaKey(&key, NULL) != 0)
		return CT_ERR_CRYPTO;
	if (wc_RsaPublicKeyDecode(spki, &idx, &key, (word32)spki_len) != 0) {
		rc = CT_ERR_FORMAT;
		goto out;
	}
	if ((ret = wc_RsaEncryptSize(&key)) <= 0 || ret > SIG_MAX_RSA_BYTES) {
		rc = CT_ERR_UNSUPPORTED;
		goto out;
	}
	if (sig_len != (size_t)ret) {
		rc = CT_ERR_SIGNATURE;
		goto out;
	}
	if (!alg_is_pss(alg)) {
		ret = wc_SignatureVerify(ht, WC_SIGNATURE_TYPE_RSA_W_ENC, data,
		    (word32)data_len, sig, (word32)sig_len, &key, sizeof(key));
		rc = ret == 0 ? 0 : map_verify_err(ret);
		goto out;
	}
	/* RSASSA-PSS: wolfCrypt decrypts in place, so work on copies. */
	hlen = wc_HashGetDigestSize(ht);
	if (hlen <= 0 ||
	    wc_Hash(ht, data, (word32)data_len, digest, sizeof(digest)) != 0) {
		rc = CT_ERR_CRYPTO;
		goto out;
	}
	if ((in = malloc(sig_len)) == NULL || (out = malloc(sig_len)) == NULL) {
		rc = CT_ERR_NOMEM;
		goto out;
	}
	memcpy(in, sig, sig_len);
	ret = wc_RsaPSS_VerifyCheck(in, (word32)sig_len, out, (word32)sig_len,
	    digest, (word32)hlen, ht, pss_mgf(alg), &key);
	rc = ret > 0 ? 0 : map_verify_err(ret);
out:
	free(in);
	free(out);
	wc_FreeRsaKey(&key);
	return rc;
}

static int
verify_ecdsa(const uint8_t *spki, size_t spki_len, enum sig_alg alg,
    const uint8_t *data, size_t data_len, const uint8_t *sig, size_t sig_len)
{
	ecc_key key;
	word32 idx = 0;
	int ret, rc;

	if (wc_ecc_init(&key) != 0)
		return CT_ERR_CRYPTO;
	if (wc_EccPublicKeyDecode(spki, &idx, &key, (word32)spki_len) != 0) {
		rc = CT_ERR_FORMAT;
		goto out;
	}
	if (sig_len == 0 || sig_len > (size_t)wc_ecc_sig_size(&key)) {
		rc = CT_ERR_SIGNATURE;
		goto out;
	}
	ret = wc_SignatureVerify(alg_hash(alg), WC_SIGNATURE_TYPE_ECC, data,
	    (word32)data_len, sig, (word32)sig_len, &key, sizeof(key));
	rc = ret == 0 ? 0 : map_verify_err(ret);
out:
	wc_ecc_free(&key);
	return rc;
}

static int
verify_ed25519(const uint8_t *spki, size_t spki_len, const uint8_t *data,
    size_t data_len, const uint8_t *sig, size_t sig_len)
{
	ed25519_key key;
	word32 idx = 0;
	int ret, res = 0, rc;

	if (wc_ed25519_init(&key) != 0)
		return CT_ERR_CRYPTO;
	if (wc_Ed25519PublicKeyDecode(spki, &idx, &key, (word32)spki_len) !=
	    0) {
		rc = CT_ERR_FORMAT;
		goto out;
	}
	if (sig_len != SIG_ED25519_BYTES) {
		rc = CT_ERR_SIGNATURE;
		goto out;
	}
	ret = wc_ed25519_verify_msg(sig, (word32)sig_len, data,
	    (word32)data_len, &res, &key);
	if (ret == 0 && res == 1)
		rc = 0;
	else
		rc = map_verify_err(ret);
out:
	wc_ed25519_free(&key);
	return rc;
}

/*
 * The SPKI's framing is checked by spki_kind (wolfCrypt's decoders do not
 * all consume the whole input: Ed25519 stops after the algorithm).
 * 0 when sig is a valid signature over data by the key in spki;
 * CT_ERR_SIGNATURE when not; CT_ERR_UNSUPPORTED when the key does not
 * suit alg; CT_ERR_FORMAT for a malformed key.
 */
int
sig_verify(const uint8_t *spki, size_t spki_len, enum sig_alg alg,
    const uint8_t *data, size_t data_len, const uint8_t *sig, size_t sig_len)
{
	enum key_kind kind;
	int rc;

	if (spki == NULL || (data == NULL && data_len > 0) ||
	    (sig == NULL && sig_len > 0) || (unsigned)alg >= SIG__MAX)
		return CT_ERR_INVALID;
	if (spki_len > SIG_MAX_SPKI_BYTES)
		return CT_ERR_TOO_BIG;
	if (data_len > SIG_MAX_DATA_BYTES)
		return CT_ERR_TOO_BIG;
	if (data == NULL)
		data = (const uint8_t *)"";
	if ((rc = spki_kind(spki, spki_len, &kind)) != 0)
		return rc;
	if (sig == NULL || sig_len == 0)
		return CT_ERR_SIGNATURE;
	if (alg_is_rsa(alg)) {
		if (kind != KEY_RSA)
			return CT_ERR_UNSUPPORTED;
		return verify_rsa(spki, spki_len, alg, data, data_len, sig,
		    sig_len);
	}
	if (alg_is_ecdsa(alg)) {
		if (kind != KEY_EC)
			return CT_ERR_UNSUPPORTED;
		return verify_ecdsa(spki, spki_len, alg, data, data_len, sig,
		    sig_len);
	}
	if (kind != KEY_ED25519)
		return CT_ERR_UNSUPPORTED;
	return verify_ed25519(spki, spki_len, data, data_len, sig, sig_len);
}

/* Last arc of a hash AlgorithmIdentifier under 2.16.840.1.101.3.4.2. */
static int
hash_algid(struct der_cursor *c, unsigned *arc)
{
	struct der_cursor in;
	struct der_tlv algid, oid, param;
	int rc;

	if (der_expect(c, DER_SEQUENCE, &algid) != 0)
		return CT_ERR_FORMAT;
	der_enter(&algid, &in);
	if (der_expect(&in, DER_OID, &oid) != 0)
		return CT_ERR_FORMAT;
	if ((rc = der_optional(&in, DER_NULL, &param)) < 0 ||
	    (rc == 1 && param.len != 0) || !der_empty(&in))
		return CT_ERR_FORMAT;
	if (oid.len != sizeof(oid_sha2_prefix) + 1 ||
	    memcmp(oid.val, oid_sha2_prefix, sizeof(oid_sha2_prefix)) != 0)
		return CT_ERR_UNSUPPORTED; /* SHA-1 and others */
	*arc = oid.val[sizeof(oid_sha2_prefix)];
	return 0;
}

/*
 * RSASSA-PSS-params (RFC 4055): hash SHA-256/384/512, MGF1 with the same
 * hash, salt length equal to the hash length, trailer field 1. The
 * defaults (SHA-1) are not supported.
 */
static int
pss_params(struct der_cursor *c, enum sig_alg *alg)
{
	struct der_cursor in, x, mgf;
	struct der_tlv params, t, oid, val;
	unsigned hash = 0, mgf_hash = 0;
	uint64_t v;
	int rc;

	if (der_expect(c, DER_SEQUENCE, &params) != 0 || !der_empty(c))
		return CT_ERR_FORMAT;
	der_enter(&params, &in);
	if ((rc = der_optional(&in, DER_CTX_CONS(0), &t)) < 0)
		return CT_ERR_FORMAT;
	if (rc == 0)
		return CT_ERR_UNSUPPORTED; /* default SHA-1 */
	der_enter(&t, &x);
	if ((rc = hash_algid(&x, &hash)) != 0)
		return rc;
	if (!der_empty(&x))
		return CT_ERR_FORMAT;
	if ((rc = der_optional(&in, DER_CTX_CONS(1), &t)) < 0)
		return CT_ERR_FORMAT;
	if (rc == 0)
		return CT_ERR_UNSUPPORTED; /* default MGF1 with SHA-1 */
	der_enter(&t, &x);
	if (der_expect(&x, DER_SEQUENCE, &val) != 0 || !der_empty(&x))
		return CT_ERR_FORMAT;
	der_enter(&val, &mgf);
	if (der_expect(&mgf, DER_OID, &oid) != 0)
		return CT_ERR_FORMAT;
	if (!der_oid_eq(&oid, oid_mgf1, sizeof(oid_mgf1)))
		return CT_ERR_UNSUPPORTED;
	if ((rc = hash_algid(&mgf, &mgf_hash)) != 0)
		return rc;
	if (!der_empty(&mgf))
		return CT_ERR_FORMAT;
	if (mgf_hash != hash)
		return CT_ERR_UNSUPPORTED;
	switch (hash) {
	case 1:
		*alg = SIG_RSA_PSS_SHA256;
		break;
	case 2:
		*alg = SIG_RSA_PSS_SHA384;
		break;
	case 3:
		*alg = SIG_RSA_PSS_SHA512;
		break;
	default:
		return CT_ERR_UNSUPPORTED;
	}
	if ((rc = der_optional(&in, DER_CTX_CONS(2), &t)) < 0)
		return CT_ERR_FORMAT;
	if (rc == 0)
		return CT_ERR_UNSUPPORTED; /* default salt length 20 */
	der_enter(&t, &x);
	if (der_expect(&x, DER_INTEGER, &val) != 0 || !der_empty(&x) ||
	    der_get_uint(&val, &v) != 0)
		return CT_ERR_FORMAT;
	if (v != (uint64_t)wc_HashGetDigestSize(alg_hash(*alg)))
		return CT_ERR_UNSUPPORTED;
	if ((rc = der_optional(&in, DER_CTX_CONS(3), &t)) < 0)
		return CT_ERR_FORMAT;
	if (rc == 1) {
		der_enter(&t, &x);
		if (der_expect(&x, DER_INTEGER, &val) != 0 || !der_empty(&x) ||
		    der_get_uint(&val, &v) != 0)
			return CT_ERR_FORMAT;
		if (v != 1)
			return CT_ERR_UNSUPPORTED;
	}
	return der_empty(&in) ? 0 : CT_ERR_FORMAT;
}

static int
pkcs1_alg(unsigned arc, struct der_cursor *rest, enum sig_alg *alg)
{
	struct der_tlv param;
	int rc;

	if (arc == PKCS1_PSS)
		return pss_params(rest, alg);
	switch (arc) {
	case PKCS1_SHA1:
		*alg = SIG_RSA_PKCS1_SHA1;
		break;
	case PKCS1_SHA256:
		*alg = SIG_RSA_PKCS1_SHA256;
		break;
	case PKCS1_SHA384:
		*alg = SIG_RSA_PKCS1_SHA384;
		break;
	case PKCS1_SHA512:
		*alg = SIG_RSA_PKCS1_SHA512;
		break;
	default:
		return CT_ERR_UNSUPPORTED;
	}
	/* Parameters: NULL, or (tolerated) absent. */
	if ((rc = der_optional(rest, DER_NULL, &param)) < 0 ||
	    (rc == 1 && param.len != 0) || !der_empty(rest))
		return CT_ERR_FORMAT;
	return 0;
}

/*
 * Maps an AlgorithmIdentifier TLV to a signature algorithm. 0,
 * CT_ERR_UNSUPPORTED for algorithms we lack, CT_ERR_FORMAT when malformed.
 */
int
sig_alg_from_algid(const uint8_t *algid, size_t len, enum sig_alg *alg)
{
	struct der_cursor c, in;
	struct der_tlv seq, oid;
	unsigned arc;

	if (algid == NULL || alg == NULL)
		return CT_ERR_INVALID;
	der_init(&c, algid, len);
	if (der_expect(&c, DER_SEQUENCE, &seq) != 0 || !der_empty(&c))
		return CT_ERR_FORMAT;
	der_enter(&seq, &in);
	if (der_expect(&in, DER_OID, &oid) != 0)
		return CT_ERR_FORMAT;
	if (oid.len == sizeof(oid_pkcs1_prefix) + 1 &&
	    memcmp(oid.val, oid_pkcs1_prefix, sizeof(oid_pkcs1_prefix)) == 0) {
		arc = oid.val[sizeof(oid_pkcs1_prefix)];
		return pkcs1_alg(arc, &in, alg);
	}
	if (oid.len == sizeof(oid_ecdsa_prefix) + 1 &&
	    memcmp(oid.val, oid_ecdsa_prefix, sizeof(oid_ecdsa_prefix)) == 0) {
		switch (oid.val[sizeof(oid_ecdsa_prefix)]) {
		case 2:
			*alg = SIG_ECDSA_SHA256;
			break;
		case 3:
			*alg = SIG_ECDSA_SHA384;
			break;
		case 4:
			*alg = SIG_ECDSA_SHA512;
			break;
		default:
			return CT_ERR_UNSUPPORTED;
		}
		/* RFC 5758: parameters absent. */
		return der_empty(&in) ? 0 : CT_ERR_FORMAT;
	}
	if (der_oid_eq(&oid, oid_ed25519, sizeof(oid_ed25519))) {
		*alg = SIG_ED25519;
		/* RFC 8410: parameters absent. */
		return der_empty(&in) ? 0 : CT_ERR_FORMAT;
	}
	return CT_ERR_UNSUPPORTED;
}

/* TLS SignatureAndHashAlgorithm as RFC 6962 uses it. */
#define TLS_HASH_SHA256 4
#define TLS_SIG_RSA 1
#define TLS_SIG_ECDSA 3

int
sig_alg_from_tls(uint8_t hash, uint8_t sig, enum sig_alg *alg)
{
	if (alg == NULL)
		return CT_ERR_INVALID;
	if (hash != TLS_HASH_SHA256)
		return CT_ERR_UNSUPPORTED;
	if (sig == TLS_SIG_RSA) {
		*alg = SIG_RSA_PKCS1_SHA256;
		return 0;
	}
	if (sig == TLS_SIG_ECDSA) {
		*alg = SIG_ECDSA_SHA256;
		return 0;
	}
	return CT_ERR_UNSUPPORTED;
}
