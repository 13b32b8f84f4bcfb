/*
 * sig: signature verification over arbitrary bytes with a key given as a
 * DER SubjectPublicKeyInfo (wolfCrypt underneath). Used by cert (issuer
 * signatures), ct (SCT and STH signatures) and loglist (list signature).
 */
#ifndef CT_SIG_H
#define CT_SIG_H

#include <stddef.h>
#include <stdint.h>

enum sig_alg {
	SIG_RSA_PKCS1_SHA1,
	SIG_RSA_PKCS1_SHA256,
	SIG_RSA_PKCS1_SHA384,
	SIG_RSA_PKCS1_SHA512,
	SIG_RSA_PSS_SHA256, /* MGF1 with the same hash, salt = hash length */
	SIG_RSA_PSS_SHA384,
	SIG_RSA_PSS_SHA512,
	SIG_ECDSA_SHA256, /* DER Ecdsa-Sig-Value */
	SIG_ECDSA_SHA384,
	SIG_ECDSA_SHA512,
	SIG_ED25519,
	SIG__MAX
};

extern const char *const sig_alg_names[SIG__MAX];

/*
 * Verifies sig over data with the public key in spki. 0 when valid,
 * CT_ERR_SIGNATURE when not, CT_ERR_UNSUPPORTED when the key type does not
 * fit alg (or is an EC curve other than P-256/P-384, or RSA over 4096
 * bits), CT_ERR_FORMAT for a malformed SPKI, or another negative ct_err.
 * Each call decodes its own key object; none is shared between calls.
 */
int sig_verify(const uint8_t *spki, size_t spki_len, enum sig_alg alg,
    const uint8_t *data, size_t data_len, const uint8_t *sig, size_t sig_len);

/*
 * Maps an X.509 AlgorithmIdentifier (the whole SEQUENCE TLV) to an
 * algorithm, including RSASSA-PSS parameters (SHA-256/384/512, MGF1 with
 * the same hash, salt length = hash length). CT_ERR_UNSUPPORTED for others,
 * CT_ERR_FORMAT when malformed.
 */
int sig_alg_from_algid(const uint8_t *algid, size_t len, enum sig_alg *alg);

/*
 * Maps a TLS SignatureAndHashAlgorithm as CT uses it (hash 4 = sha256;
 * signature 1 = rsa, 3 = ecdsa) to an algorithm.
 */
int sig_alg_from_tls(uint8_t hash, uint8_t sig, enum sig_alg *alg);

#endif
