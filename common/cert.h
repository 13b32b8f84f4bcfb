/*
 * cert: the certificate model. Parses certificates and precertificates
 * (PEM or DER) with our own DER walker, computes the identity hashes of
 * DESIGN.md section 3, and checks a signature by a given issuer.
 */
#ifndef CT_CERT_H
#define CT_CERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CERT_MAX_DER_BYTES (64 * 1024) /* one certificate */
#define CERT_MAX_NAMES 1000            /* DNS SANs kept per certificate */
#define CERT_MAX_NAME_BYTES 255        /* one DNS name (longer: cut) */
#define CERT_MAX_DN_TEXT 1024          /* subject/issuer text */
#define CERT_MAX_FILE_BYTES (4 * 1024 * 1024)
#define CERT_MAX_PER_FILE 1000

/* A DNS name as found: may hold NUL or non-LDH bytes (len is exact). */
struct cert_name {
	char *name; /* NUL-terminated copy; strlen(name) < len if it has NUL */
	size_t len;
};

struct ct_cert {
	uint8_t *der; /* owned copy of the whole certificate */
	size_t der_len;

	/* Views into der. */
	const uint8_t *tbs; /* TBSCertificate, whole TLV */
	size_t tbs_len;
	const uint8_t *serial; /* INTEGER content bytes */
	size_t serial_len;
	const uint8_t *issuer_dn; /* Name, whole TLV */
	size_t issuer_dn_len;
	const uint8_t *subject_dn;
	size_t subject_dn_len;
	const uint8_t *spki; /* SubjectPublicKeyInfo, whole TLV */
	size_t spki_len;
	const uint8_t *sig_algid; /* outer AlgorithmIdentifier, whole TLV */
	size_t sig_algid_len;
	/* BIT STRING content without the unused-bits byte */
	const uint8_t *sig;
	size_t sig_len;
	/* TLS SignedCertificateTimestampList, or NULL */
	const uint8_t *sct_list;
	size_t sct_list_len;

	int64_t not_before; /* seconds since the epoch */
	int64_t not_after;
	/* "CN=..., O=..." text, last RDN first (RFC 4514), sanitised, capped */
	char *subject;
	char *issuer;
	char *subject_cn; /* first CN, raw bytes NUL-terminated, or NULL */
	struct cert_name *dns_names;
	size_t n_dns_names;
	bool dns_names_truncated; /* more than CERT_MAX_NAMES */

	/* CT poison extension present (critical per RFC 6962; a non-critical
	 * one counts too) */
	bool precert;
	bool is_ca;          /* basicConstraints cA */
	bool precert_signer; /* EKU 1.3.6.1.4.1.11129.2.4.4 */

	uint8_t sha256[32];      /* of der */
	uint8_t tbs_sha256[32];  /* CT-normalised TBS (DESIGN.md section 3) */
	uint8_t spki_sha256[32]; /* of the SPKI DER */
};

/* Parses one DER certificate (copied). 0 or a negative ct_err. */
int cert_parse_der(const uint8_t *der, size_t len, struct ct_cert **out);
void cert_free(struct ct_cert *c);

/*
 * Parses every certificate in a buffer that is either PEM (any number of
 * CERTIFICATE blocks; other blocks such as keys are skipped without being
 * decoded) or one DER certificate. *certs is a malloc'd array of *n
 * certificates, freed with cert_free_all. Returns 0 with *n >= 1,
 * CT_ERR_NOT_FOUND when there is no certificate, or the error of the first
 * bad certificate.
 */
int cert_parse_buf(const uint8_t *buf, size_t len, struct ct_cert ***certs,
    size_t *n);
int cert_load_file(const char *path, struct ct_cert ***certs, size_t *n);
void cert_free_all(struct ct_cert **certs, size_t n);

/*
 * The TBS with the poison and SCT-list extensions removed and every
 * enclosing length re-encoded (an empty extensions list loses its [3]
 * wrapper). malloc'd into *out.
 */
int cert_tbs_normalized(const struct ct_cert *c, uint8_t **out,
    size_t *out_len);

/*
 * Precert TBS as the log signed it (RFC 6962 section 3.2), for a
 * precertificate issued by a Precertificate Signing Certificate: as
 * cert_tbs_normalized, with the issuer Name replaced by final_issuer's
 * subject, and in the AKI each field the precert has replaced by the final
 * issuer's: keyIdentifier by its SKI (kept when it has none),
 * authorityCertIssuer by its issuer Name, authorityCertSerialNumber by its
 * serial. final_issuer is the CA that issued the signing certificate.
 */
int cert_tbs_precert_rewrite(const struct ct_cert *c,
    const struct ct_cert *final_issuer, uint8_t **out, size_t *out_len);

/*
 * 0 when issuer's key verifies c's signature; CT_ERR_SIGNATURE when not
 * (also when issuer's key is of another type than the signature);
 * CT_ERR_UNSUPPORTED when the algorithm or issuer's key (a curve other than
 * P-256/P-384, RSA over 4096 bits) is one we cannot check.
 */
int cert_verify_signed_by(const struct ct_cert *c,
    const struct ct_cert *issuer);

/*
 * Serial as lower-case hex of the INTEGER content, sign byte included
 * (out: 2*len+1; a smaller out gets the leading bytes that fit).
 */
void cert_serial_hex(const struct ct_cert *c, char *out, size_t outsz);

#endif
