/*
 * tls: wolfSSL TLS 1.3 with pinned Ed25519 keys (or, in CA-file mode, X.509
 * verification against a site's CA), driven by libuv streams.
 *
 * Data flow: libuv's read_cb appends ciphertext to c->in; drive() runs the
 * handshake, then wolfSSL_read until WANT_READ; wolfSSL pulls ciphertext
 * from c->in through io_recv and pushes records through io_send, which
 * copies each into a heap write request for uv_write. Handle memory, the
 * WOLFSSL object and the context reference are released only once both
 * handles (the TCP stream and the deadline timer) have closed.
 */
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/error-ssl.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/chacha.h>
#include <wolfssl/wolfcrypt/chacha20_poly1305.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/ed25519.h>
#include <wolfssl/wolfcrypt/error-crypt.h>
#include <wolfssl/wolfcrypt/random.h>

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "der.h"
#include "keys.h"
#include "tls.h"
#include "util.h"

/* One plaintext read from wolfSSL: a full TLS record. */
#define TLS_PLAINTEXT_CHUNK_BYTES (16 * 1024)
/* Record overhead io_send tolerates above TLS_MAX_PENDING_WRITE_BYTES. */
#define TLS_WRITE_SLACK_BYTES (1024 * 1024)
/* wc_Ed25519PrivateKeyToDer output (PKCS#8 v0): 48 bytes. */
#define TLS_KEY_DER_MAX_BYTES 128
#define TLS_ED25519_SIG_BYTES 64
#define TLS_TICKET_KEY_BYTES 32
/* CA-file mode: names quoted in an error text, and their room. */
#define TLS_NAMES_SHOWN 3
#define TLS_NAMES_TEXT_BYTES 128
#define TLS_CN_TEXT_BYTES 64 /* one CN quoted in an error text */
#define TLS_PEM_LABEL_BYTES 32

_Static_assert(TLS_CN_MAX_BYTES < CTC_NAME_SIZE,
    "TLS_CN_MAX_BYTES must leave room for the NUL in CTC_NAME_SIZE");

/* TLS alert descriptions (RFC 8446 §6) that mean "your identity". */
#define ALERT_CLOSE_NOTIFY 0
#define ALERT_BAD_CERTIFICATE 42
#define ALERT_UNSUPPORTED_CERTIFICATE 43
#define ALERT_CERTIFICATE_REVOKED 44
#define ALERT_CERTIFICATE_EXPIRED 45
#define ALERT_CERTIFICATE_UNKNOWN 46
#define ALERT_UNKNOWN_CA 48
#define ALERT_ACCESS_DENIED 49
#define ALERT_CERTIFICATE_REQUIRED 116

struct tls_ctx {
	WOLFSSL_CTX *ssl_ctx;
	bool server;
	tls_authorize_fn authorize;
	void *arg;
	uint8_t own_pub[TLS_KEY_BYTES]; /* our Ed25519 key */
	ed25519_key own_key;            /* the pair, for sign_cb */
	bool own_key_ok;
	unsigned refs;      /* the owner plus one per connection */
	bool probe;         /* tls_ctx_new_probe: no key, no pin */
	uint64_t linger_ms; /* close_flush's wait for the peer's EOF */
	/* Server: session ticket keys (see ticket_cb). */
	uint8_t ticket_key[TLS_TICKET_KEY_BYTES];   /* ChaCha20-Poly1305 */
	uint8_t peer_key_key[TLS_TICKET_KEY_BYTES]; /* ChaCha20 */
	WC_RNG rng;
	bool rng_ok;
	/* CA-file mode (tls_ctx_use_ca_file). */
	bool ca_mode;
	bool unusable;         /* tls_ctx_use_ca_file failed */
	int64_t ca_not_before; /* the latest notBefore of the anchors */
	int64_t ca_not_after;  /* the earliest notAfter of the anchors */
	char **peer_names;     /* server: accepted client names, or NULL */
	size_t n_peer_names;
};

struct tls_session {
	WOLFSSL_SESSION *s;
};

enum conn_state {
	CONN_CONNECTING, /* client: TCP connect pending */
	CONN_PLAIN,      /* probe: plaintext phase before TLS (STARTTLS) */
	CONN_HANDSHAKE,
	CONN_OPEN,     /* handshake done, peer accepted */
	CONN_SHUTDOWN, /* draining writes, waiting for the peer's EOF */
	CONN_CLOSING   /* uv_close called on both handles */
};

struct tls_conn {
	uv_tcp_t tcp;
	uv_timer_t timer;
	uv_connect_t connect_req;
	uv_shutdown_t shutdown_req;
	struct tls_ctx *ctx;
	WOLFSSL *ssl;
	struct tls_callbacks cb;
	struct util_buf in; /* ciphertext; in.data[in_off..in.len) unread */
	size_t in_off;
	enum conn_state state;
	int status;       /* first error, 0 if none */
	int open_handles; /* handles whose close_cb is still due */
	bool silent;      /* creation failed: no user callbacks */
	bool reported;    /* on_handshake was called */
	bool eof;         /* the peer's FIN arrived */
	bool resumed;
	bool has_pin;
	bool has_peer_pub;
	bool accepted;       /* peer_check passed after the handshake */
	bool early_accepted; /* the verify callback accepted early_pub */
	bool has_ticket_pub; /* server: the client key from a resumed ticket */
	uint8_t pin[TLS_KEY_BYTES];
	uint8_t ticket_pub[TLS_KEY_BYTES];
	uint8_t peer_pub[TLS_KEY_BYTES];
	uint8_t early_pub[TLS_KEY_BYTES];
	uint8_t *early_der; /* the leaf the verify callback checked */
	size_t early_der_len;
	char error[TLS_ERROR_TEXT_BYTES];
	/* CA-file mode: the name we want (client) and the one accepted. */
	char want_name[TLS_NAME_MAX_BYTES + 1];
	char peer_name[TLS_NAME_MAX_BYTES + 1];
	/* Probe connections. */
	tls_plain_fn on_plain;
	uint8_t *chain[TLS_PROBE_MAX_CHAIN]; /* the peer's DER, leaf first */
	size_t chain_len[TLS_PROBE_MAX_CHAIN];
	size_t n_chain;
	int alert;   /* fatal alert received, -1 if none */
	int sys_err; /* libuv error that ended it, 0 if none */
	uint64_t t_start, t_connected, t_tls, t_done; /* uv_hrtime() */
	char version[TLS_VERSION_TEXT_BYTES];
	char cipher[TLS_CIPHER_TEXT_BYTES];
};

struct write_req {
	uv_write_t req;
	uint8_t data[];
};

static const uint8_t oid_ed25519[] = {0x2b, 0x65, 0x70}; /* 1.3.101.112 */
static const uint8_t oid_san[] = {0x55, 0x1d, 0x11};     /* 2.5.29.17 */
static const uint8_t oid_cn[] = {0x55, 0x04, 0x03};      /* 2.5.4.3 */

static void close_now(struct tls_conn *c);

int
tls_global_init(void)
{
	return wolfSSL_Init() == WOLFSSL_SUCCESS ? 0 : CT_ERR_CRYPTO;
}

void
tls_global_cleanup(void)
{
	wolfSSL_Cleanup();
}

/* ------------------------------------------------------------ keys, certs */

/*
 * Loads the key pair into key after checking that pub is seed's public
 * key (once per pair and thread: keys_import_pair). 0 (key initialised;
 * the caller frees it) or a negative ct_err.
 */
static int
key_load(ed25519_key *key, const uint8_t seed[TLS_KEY_BYTES],
    const uint8_t pub[TLS_KEY_BYTES])
{
	struct keys_ed25519 pair;
	int rc;

	memcpy(pair.priv, seed, TLS_KEY_BYTES);
	memcpy(pair.pub, pub, TLS_KEY_BYTES);
	rc = keys_import_pair(&pair, key);
	keys_clear(&pair);
	return rc;
}

/* A CN we put into a certificate: 1..TLS_CN_MAX_BYTES printable bytes. */
static int
cn_check(const char *cn, size_t *len)
{
	size_t i, n;

	if (cn == NULL)
		return CT_ERR_INVALID;
	n = strnlen(cn, TLS_CN_MAX_BYTES + 1);
	if (n == 0 || n > TLS_CN_MAX_BYTES)
		return CT_ERR_INVALID;
	for (i = 0; i < n; i++)
		if ((unsigned char)cn[i] < 0x20 || (unsigned char)cn[i] == 0x7f)
			return CT_ERR_INVALID;
	*len = n;
	return 0;
}

/*
 * Writes a self-signed certificate for an initialised key. Validity runs
 * from now less one day (wolfSSL's SetValidity backdates by a day) for
 * TLS_CERT_VALID_DAYS days.
 */
static int
make_cert(ed25519_key *key, const char *cn, size_t cn_len, uint8_t **der_out,
    size_t *len_out)
{
	Cert *cert = NULL;
	WC_RNG *rng;
	uint8_t *der = NULL;
	int ret, rc = CT_ERR_CRYPTO;

	if ((cert = calloc(1, sizeof(*cert))) == NULL ||
	    (der = malloc(TLS_CERT_MAX_BYTES)) == NULL) {
		rc = CT_ERR_NOMEM;
		goto out;
	}
	if (keys_rng(&rng) != 0 || wc_InitCert(cert) != 0)
		goto out;
	memcpy(cert->subject.commonName, cn, cn_len);
	cert->subject.commonName[cn_len] = '\0';
	cert->sigType = CTC_ED25519;
	cert->daysValid = TLS_CERT_VALID_DAYS;
	cert->selfSigned = 1;
	cert->isCA = 0;
	ret = wc_MakeCert_ex(cert, der, TLS_CERT_MAX_BYTES, ED25519_TYPE, key,
	    rng);
	if (ret < 0)
		goto out;
	ret = wc_SignCert_ex(cert->bodySz, cert->sigType, der,
	    TLS_CERT_MAX_BYTES, ED25519_TYPE, key, rng);
	if (ret <= 0)
		goto out;
	*der_out = der;
	*len_out = (size_t)ret;
	der = NULL;
	rc = 0;
out:
	free(cert);
	free(der);
	return rc;
}

int
tls_make_cert(const uint8_t seed[TLS_KEY_BYTES],
    const uint8_t pub[TLS_KEY_BYTES], const char *cn, uint8_t **der,
    size_t *der_len)
{
	ed25519_key key;
	size_t cn_len;
	int rc;

	*der = NULL;
	*der_len = 0;
	if ((rc = cn_check(cn, &cn_len)) != 0)
		return rc;
	if ((rc = key_load(&key, seed, pub)) != 0)
		return rc;
	rc = make_cert(&key, cn, cn_len, der, der_len);
	wc_ed25519_free(&key);
	return rc;
}

/* AlgorithmIdentifier for Ed25519: the OID and no parameters (RFC 8410). */
static int
algid_is_ed25519(const struct der_tlv *algid)
{
	struct der_cursor in;
	struct der_tlv oid;
	int rc;

	der_enter(algid, &in);
	if ((rc = der_expect(&in, DER_OID, &oid)) != 0)
		return rc;
	if (!der_oid_eq(&oid, oid_ed25519, sizeof(oid_ed25519)))
		return CT_ERR_UNSUPPORTED;
	return der_empty(&in) ? 0 : CT_ERR_UNSUPPORTED;
}

/* SEQUENCE { AlgorithmIdentifier(Ed25519), BIT STRING 00 || key } */
static int
spki_ed25519(const struct der_tlv *spki, uint8_t pub[TLS_KEY_BYTES])
{
	struct der_cursor in;
	struct der_tlv alg, bits;
	int rc;

	der_enter(spki, &in);
	if ((rc = der_expect(&in, DER_SEQUENCE, &alg)) != 0 ||
	    (rc = algid_is_ed25519(&alg)) != 0 ||
	    (rc = der_expect(&in, DER_BIT_STRING, &bits)) != 0)
		return rc;
	if (!der_empty(&in))
		return CT_ERR_TRAILING;
	if (bits.len != 1 + TLS_KEY_BYTES || bits.val[0] != 0)
		return CT_ERR_FORMAT;
	memcpy(pub, bits.val + 1, TLS_KEY_BYTES);
	return 0;
}

/* Checks sig over msg with the raw Ed25519 key pub. */
static int
ed25519_verify(const uint8_t pub[TLS_KEY_BYTES], const uint8_t *msg,
    size_t msg_len, const uint8_t *sig)
{
	ed25519_key key;
	int ret, res = 0, rc;

	if (msg_len > UINT32_MAX)
		return CT_ERR_TOO_BIG;
	if (wc_ed25519_init(&key) != 0)
		return CT_ERR_CRYPTO;
	if (wc_ed25519_import_public(pub, TLS_KEY_BYTES, &key) != 0) {
		rc = CT_ERR_FORMAT; /* not a valid curve point */
		goto out;
	}
	ret = wc_ed25519_verify_msg(sig, TLS_ED25519_SIG_BYTES, msg,
	    (word32)msg_len, &res, &key);
	if (ret == 0 && res == 1)
		rc = 0;
	else if (ret == 0 || ret == SIG_VERIFY_E)
		rc = CT_ERR_SIGNATURE;
	else
		rc = CT_ERR_CRYPTO;
out:
	wc_ed25519_free(&key);
	return rc;
}

/*
 * Walks an Ed25519 certificate: its key, views of the TBS and the
 * signature for checking, and whether issuer and subject are the same
 * bytes (self_issued; may be NULL). Verifies nothing.
 */
static int
cert_parse(const uint8_t *der, size_t len, uint8_t pub[TLS_KEY_BYTES],
    struct der_tlv *tbs_out, const uint8_t **sig, bool *self_issued)
{
	struct der_cursor top, cert, tbs;
	struct der_tlv t_cert, t_tbs, t_alg, t_sig, t, issuer;
	int rc;

	if (der == NULL)
		return CT_ERR_INVALID;
	if (len > TLS_PEER_CERT_MAX_BYTES)
		return CT_ERR_TOO_BIG;
	der_init(&top, der, len);
	if ((rc = der_expect(&top, DER_SEQUENCE, &t_cert)) != 0)
		return rc;
	if (!der_empty(&top))
		return CT_ERR_TRAILING;
	der_enter(&t_cert, &cert);
	if ((rc = der_expect(&cert, DER_SEQUENCE, &t_tbs)) != 0 ||
	    (rc = der_expect(&cert, DER_SEQUENCE, &t_alg)) != 0 ||
	    (rc = algid_is_ed25519(&t_alg)) != 0 ||
	    (rc = der_expect(&cert, DER_BIT_STRING, &t_sig)) != 0)
		return rc;
	if (!der_empty(&cert))
		return CT_ERR_TRAILING;
	if (t_sig.len != 1 + TLS_ED25519_SIG_BYTES || t_sig.val[0] != 0)
		return CT_ERR_FORMAT;

	/* TBSCertificate: [0] version, serial, signature, issuer, validity,
	 * subject, subjectPublicKeyInfo, ... */
	der_enter(&t_tbs, &tbs);
	if ((rc = der_optional(&tbs, DER_CTX_CONS(0), &t)) < 0 ||
	    (rc = der_expect(&tbs, DER_INTEGER, &t)) != 0 ||
	    (rc = der_expect(&tbs, DER_SEQUENCE, &t)) != 0 ||
	    (rc = algid_is_ed25519(&t)) != 0)
		return rc;
	if ((rc = der_expect(&tbs, DER_SEQUENCE, &issuer)) != 0 ||
	    (rc = der_expect(&tbs, DER_SEQUENCE, &t)) != 0 || /* validity */
	    (rc = der_expect(&tbs, DER_SEQUENCE, &t)) != 0)   /* subject */
		return rc;
	if (self_issued != NULL)
		*self_issued = issuer.raw_len == t.raw_len &&
		    memcmp(issuer.raw, t.raw, t.raw_len) == 0;
	if ((rc = der_expect(&tbs, DER_SEQUENCE, &t)) != 0 ||
	    (rc = spki_ed25519(&t, pub)) != 0)
		return rc;
	*tbs_out = t_tbs;
	*sig = t_sig.val + 1;
	return 0;
}

int
tls_cert_pub(const uint8_t *der, size_t len, uint8_t pub[TLS_KEY_BYTES])
{
	struct der_tlv tbs;
	const uint8_t *sig;
	uint8_t key[TLS_KEY_BYTES];
	int rc;

	if ((rc = cert_parse(der, len, key, &tbs, &sig, NULL)) != 0)
		return rc;
	if ((rc = ed25519_verify(key, tbs.raw, tbs.raw_len, sig)) != 0)
		return rc;
	memcpy(pub, key, TLS_KEY_BYTES);
	return 0;
}

/*
 * What CA-file mode needs of an X.509 certificate (any key type): its
 * validity, its subject and its subjectAltName extension, as views into
 * der. Walks the DER only; verifies nothing.
 */
struct cert_facts {
	int64_t not_before;
	int64_t not_after;
	struct der_tlv subject; /* Name */
	struct der_tlv spki;    /* SubjectPublicKeyInfo */
	struct der_tlv san;     /* GeneralNames; san.raw == NULL when none */
};

/* Extensions ::= SEQUENCE OF Extension: finds subjectAltName. */
static int
facts_extensions(const struct der_tlv *wrapper, struct cert_facts *f)
{
	struct der_cursor in, exts, ext, inner;
	struct der_tlv t, oid, flag, val;
	int rc;

	der_enter(wrapper, &in);
	if ((rc = der_expect(&in, DER_SEQUENCE, &t)) != 0)
		return rc;
	if (!der_empty(&in))
		return CT_ERR_TRAILING;
	der_enter(&t, &exts);
	while (!der_empty(&exts)) {
		if ((rc = der_expect(&exts, DER_SEQUENCE, &t)) != 0)
			return rc;
		der_enter(&t, &ext);
		if ((rc = der_expect(&ext, DER_OID, &oid)) != 0 ||
		    (rc = der_optional(&ext, DER_BOOLEAN, &flag)) < 0 ||
		    (rc = der_expect(&ext, DER_OCTET_STRING, &val)) != 0)
			return rc;
		if (!der_oid_eq(&oid, oid_san, sizeof(oid_san)))
			continue;
		if (f->san.raw != NULL)
			return CT_ERR_FORMAT; /* two subjectAltNames */
		der_enter(&val, &inner);
		if ((rc = der_expect(&inner, DER_SEQUENCE, &f->san)) != 0)
			return rc;
		if (!der_empty(&inner))
			return CT_ERR_TRAILING;
	}
	return 0;
}

static int
cert_facts(const uint8_t *der, size_t len, struct cert_facts *f)
{
	struct der_cursor top, cert, tbs, val;
	struct der_tlv t, nb, na;
	int i, rc;

	memset(f, 0, sizeof(*f));
	if (der == NULL || len == 0)
		return CT_ERR_INVALID;
	if (len > TLS_PEER_CERT_MAX_BYTES)
		return CT_ERR_TOO_BIG;
	der_init(&top, der, len);
	if ((rc = der_expect(&top, DER_SEQUENCE, &t)) != 0)
		return rc;
	if (!der_empty(&top))
		return CT_ERR_TRAILING;
	der_enter(&t, &cert);
	if ((rc = der_expect(&cert, DER_SEQUENCE, &t)) != 0)
		return rc;
	/* TBSCertificate: [0] version, serial, signature, issuer, validity,
	 * subject, subjectPublicKeyInfo, [1], [2], [3] extensions. */
	der_enter(&t, &tbs);
	if ((rc = der_optional(&tbs, DER_CTX_CONS(0), &t)) < 0 ||
	    (rc = der_expect(&tbs, DER_INTEGER, &t)) != 0)
		return rc;
	for (i = 0; i < 2; i++) /* signature, issuer */
		if ((rc = der_expect(&tbs, DER_SEQUENCE, &t)) != 0)
			return rc;
	if ((rc = der_expect(&tbs, DER_SEQUENCE, &t)) != 0)
		return rc;
	der_enter(&t, &val);
	if ((rc = der_next(&val, &nb)) != 0 ||
	    (rc = der_get_time(&nb, &f->not_before)) != 0 ||
	    (rc = der_next(&val, &na)) != 0 ||
	    (rc = der_get_time(&na, &f->not_after)) != 0)
		return rc;
	if ((rc = der_expect(&tbs, DER_SEQUENCE, &f->subject)) != 0 ||
	    (rc = der_expect(&tbs, DER_SEQUENCE, &f->spki)) != 0 ||
	    (rc = der_optional(&tbs, DER_CTX(1), &t)) < 0 ||
	    (rc = der_optional(&tbs, DER_CTX(2), &t)) < 0 ||
	    (rc = der_optional(&tbs, DER_CTX_CONS(3), &t)) < 0)
		return rc;
	if (rc == 1 && (rc = facts_extensions(&t, f)) != 0)
		return rc;
	return der_empty(&tbs) ? 0 : CT_ERR_TRAILING;
}

/* Called for each name; returning true stops the walk. */
typedef bool (*name_fn)(void *arg, const uint8_t *name, size_t len);

/* Every CN of a Name (RDNs are SETs of type-and-value pairs). */
static int
subject_each_cn(const struct der_tlv *subject, name_fn fn, void *arg)
{
	struct der_cursor rdns, rdn, atv;
	struct der_tlv set, seq, oid, v;
	int rc;

	der_enter(subject, &rdns);
	while (!der_empty(&rdns)) {
		if ((rc = der_expect(&rdns, DER_SET, &set)) != 0)
			return rc;
		der_enter(&set, &rdn);
		while (!der_empty(&rdn)) {
			if ((rc = der_expect(&rdn, DER_SEQUENCE, &seq)) != 0)
				return rc;
			der_enter(&seq, &atv);
			if ((rc = der_expect(&atv, DER_OID, &oid)) != 0 ||
			    (rc = der_next(&atv, &v)) != 0)
				return rc;
			if (der_oid_eq(&oid, oid_cn, sizeof(oid_cn)) &&
			    fn(arg, v.val, v.len))
				return 1;
		}
	}
	return 0;
}

/*
 * The names a certificate is for: its DNS subjectAltNames, or its subject
 * CNs when it has none (RFC 6125). 1 when fn stopped the walk, 0 when it
 * did not, or a negative ct_err.
 */
static int
cert_each_name(const struct cert_facts *f, name_fn fn, void *arg)
{
	struct der_cursor in;
	struct der_tlv t;
	bool any_dns = false;
	int rc;

	if (f->san.raw != NULL) {
		der_enter(&f->san, &in);
		while (!der_empty(&in)) {
			if ((rc = der_next(&in, &t)) != 0)
				return rc;
			if (t.tag != DER_CTX(2)) /* dNSName */
				continue;
			any_dns = true;
			if (fn(arg, t.val, t.len))
				return 1;
		}
	}
	if (any_dns)
		return 0;
	return subject_each_cn(&f->subject, fn, arg);
}

/* Names joined by ", " for an error text, sanitised and cut. */
struct names_text {
	char text[TLS_NAMES_TEXT_BYTES];
	size_t n;
};

static bool
names_text_add(void *arg, const uint8_t *name, size_t len)
{
	struct names_text *nt = arg;
	char one[TLS_NAME_MAX_BYTES + 1];
	size_t used = strlen(nt->text);

	if (nt->n++ == TLS_NAMES_SHOWN) {
		snprintf(nt->text + used, sizeof(nt->text) - used, ", ...");
		return true;
	}
	util_sanitize((const char *)name, len, one, sizeof(one));
	snprintf(nt->text + used, sizeof(nt->text) - used, "%s%s",
	    used > 0 ? ", " : "", one);
	return false;
}

static void
cert_names_text(const struct cert_facts *f, char *out, size_t outsz)
{
	struct names_text nt;

	memset(&nt, 0, sizeof(nt));
	if (cert_each_name(f, names_text_add, &nt) < 0 || nt.n == 0)
		snprintf(out, outsz, "no DNS name or CN");
	else
		snprintf(out, outsz, "%s", nt.text);
}

static bool
first_cn(void *arg, const uint8_t *name, size_t len)
{
	util_sanitize((const char *)name, len, arg, TLS_CN_TEXT_BYTES);
	return true;
}

/* "CN=..." of a certificate for an error text, or a placeholder. */
static void
cert_label(const struct cert_facts *f, char *out, size_t outsz)
{
	char cn[TLS_CN_TEXT_BYTES];

	if (subject_each_cn(&f->subject, first_cn, cn) == 1)
		snprintf(out, outsz, "CN=%s", cn);
	else
		snprintf(out, outsz, "without a CN");
}

/* Equal ignoring ASCII case. */
static bool
name_eq(const uint8_t *a, size_t alen, const char *b)
{
	size_t i;
	uint8_t x, y;

	if (alen != strlen(b))
		return false;
	for (i = 0; i < alen; i++) {
		x = a[i] >= 'A' && a[i] <= 'Z' ? (uint8_t)(a[i] + 32) : a[i];
		y = (uint8_t)b[i];
		y = y >= 'A' && y <= 'Z' ? (uint8_t)(y + 32) : y;
		if (x != y)
			return false;
	}
	return true;
}

/* ------------------------------------------------------------ errors */

static void set_error(struct tls_conn *c, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Records the first error and its text; later ones are dropped. */
static void
set_error(struct tls_conn *c, int status, const char *fmt, ...)
{
	va_list ap;

	if (c->status != 0)
		return;
	c->status = status;
	va_start(ap, fmt);
	vsnprintf(c->error, sizeof(c->error), fmt, ap);
	va_end(ap);
}

static int
alert_status(int code)
{
	switch (code) {
	case ALERT_CLOSE_NOTIFY:
		return CT_ERR_CLOSED;
	case ALERT_BAD_CERTIFICATE:
	case ALERT_UNSUPPORTED_CERTIFICATE:
	case ALERT_CERTIFICATE_REVOKED:
	case ALERT_CERTIFICATE_EXPIRED:
	case ALERT_CERTIFICATE_UNKNOWN:
	case ALERT_UNKNOWN_CA:
	case ALERT_ACCESS_DENIED:
	case ALERT_CERTIFICATE_REQUIRED:
		return CT_ERR_AUTH;
	default:
		return CT_ERR_PROTO;
	}
}

/* Maps a wolfSSL error (from wolfSSL_get_error) to a ct_err and a text. */
static void
ssl_error(struct tls_conn *c, int err)
{
	WOLFSSL_ALERT_HISTORY h;
	char text[WOLFSSL_MAX_ERROR_SZ];

	memset(&h, 0, sizeof(h));
	if (err == FATAL_ERROR &&
	    wolfSSL_get_alert_history(c->ssl, &h) == WOLFSSL_SUCCESS &&
	    h.last_rx.level == alert_fatal) {
		c->alert = h.last_rx.code;
		set_error(c, alert_status(h.last_rx.code),
		    "TLS alert from peer: %s (%d)",
		    wolfSSL_alert_desc_string_long(h.last_rx.code),
		    h.last_rx.code);
		return;
	}
	wolfSSL_ERR_error_string_n((unsigned long)err, text, sizeof(text));
	switch (err) {
	case NO_PEER_CERT:
		set_error(c, CT_ERR_AUTH, "peer sent no certificate");
		break;
	case VERIFY_SIGN_ERROR:
		set_error(c, CT_ERR_AUTH,
		    "peer's CertificateVerify does not verify under its "
		    "certificate key");
		break;
	case VERSION_ERROR:
		set_error(c, CT_ERR_PROTO, "peer does not speak TLS %s (%s)",
		    c->ctx->probe ? "1.2 or 1.3" : "1.3", text);
		break;
	case SOCKET_ERROR_E:
	case SOCKET_PEER_CLOSED_E:
		set_error(c, CT_ERR_IO, "TLS transport failed (%s)", text);
		break;
	default:
		set_error(c, CT_ERR_PROTO, "TLS error %d: %s", err, text);
		break;
	}
}

/* ------------------------------------------------------------ peer check */

/* The peer key decision: the connection's pin, or the context's callback. */
static int
peer_authorize(struct tls_conn *c, const uint8_t pub[TLS_KEY_BYTES])
{
	if (c->has_pin)
		return util_ct_equal(c->pin, pub, TLS_KEY_BYTES) ? 0
		                                                 : CT_ERR_AUTH;
	if (c->ctx->authorize == NULL)
		return CT_ERR_AUTH;
	return c->ctx->authorize(c->ctx->arg, pub) == 0 ? 0 : CT_ERR_AUTH;
}

static void
refuse(struct tls_conn *c)
{
	if (c->ctx->server)
		set_error(c, CT_ERR_AUTH, "client key not authorized");
	else
		set_error(c, CT_ERR_AUTH, "server key does not match the pin");
}

/* Records the peer key and asks the pin or the callback. */
static int
accept_key(struct tls_conn *c, const uint8_t pub[TLS_KEY_BYTES])
{
	memcpy(c->peer_pub, pub, TLS_KEY_BYTES);
	c->has_peer_pub = true;
	if (peer_authorize(c, pub) != 0) {
		refuse(c);
		return CT_ERR_AUTH;
	}
	return 0;
}

/*
 * Checks a leaf certificate: its Ed25519 key, its self-signature and the
 * caller's decision. Records the key. 0 or CT_ERR_AUTH (with a text).
 */
static int
check_leaf(struct tls_conn *c, const uint8_t *der, size_t len,
    uint8_t pub[TLS_KEY_BYTES])
{
	struct der_tlv tbs;
	const uint8_t *sig;
	bool self_issued = false;
	int rc;

	/*
	 * The self-signature is not verified: the pinned key is the
	 * identity, and CertificateVerify, which wolfSSL checks under this
	 * certificate's key, proves that the peer holds it; a valid
	 * self-signature would prove nothing more. That spares one Ed25519
	 * verification per handshake on each side. Issuer and subject must
	 * still match, so that a CA-issued certificate gets the explanation.
	 */
	if ((rc = cert_parse(der, len, pub, &tbs, &sig, &self_issued)) != 0 ||
	    !self_issued) {
		set_error(c, CT_ERR_AUTH,
		    "peer certificate unusable for pinning: %s (not a "
		    "self-signed Ed25519 certificate; a peer in CA-file mode "
		    "sends one its CA issued)",
		    rc != 0 ? ct_strerror(rc) : "issuer is not the subject");
		return CT_ERR_AUTH;
	}
	return accept_key(c, pub);
}

/* Frees the probe chain copy. */
static void
chain_clear(struct tls_conn *c)
{
	size_t i;

	for (i = 0; i < c->n_chain; i++) {
		free(c->chain[i]);
		c->chain[i] = NULL;
	}
	c->n_chain = 0;
}

/*
 * Copies up to TLS_PROBE_MAX_CHAIN certificates (leaf first) into c. An
 * oversized certificate is kept as an empty entry so that the positions
 * stay right. 0 or CT_ERR_NOMEM.
 */
static int
chain_copy(struct tls_conn *c, const uint8_t *const *der, const size_t *len,
    size_t n)
{
	size_t i;

	chain_clear(c);
	if (n > TLS_PROBE_MAX_CHAIN)
		n = TLS_PROBE_MAX_CHAIN;
	for (i = 0; i < n; i++) {
		c->chain_len[i] = 0;
		c->n_chain = i + 1;
		if (der[i] == NULL || len[i] == 0 ||
		    len[i] > TLS_PEER_CERT_MAX_BYTES)
			continue;
		if ((c->chain[i] = malloc(len[i])) == NULL)
			return CT_ERR_NOMEM;
		memcpy(c->chain[i], der[i], len[i]);
		c->chain_len[i] = len[i];
	}
	return 0;
}

/*
 * A probe's verify callback: accepts everything (the caller judges the
 * chain), keeping a copy of what the server sent so that it survives a
 * handshake that fails later.
 */
static int
probe_verify(struct tls_conn *c, WOLFSSL_X509_STORE_CTX *store)
{
	const uint8_t *der[TLS_PROBE_MAX_CHAIN];
	size_t len[TLS_PROBE_MAX_CHAIN], n, i;

	if (store->certs == NULL || store->totalCerts < 1 ||
	    (size_t)store->totalCerts <= c->n_chain)
		return 1; /* called again for another certificate */
	n = (size_t)store->totalCerts;
	if (n > TLS_PROBE_MAX_CHAIN)
		n = TLS_PROBE_MAX_CHAIN;
	for (i = 0; i < n; i++) {
		der[i] = store->certs[i].buffer;
		len[i] = store->certs[i].length;
	}
	if (chain_copy(c, der, len, n) != 0) {
		set_error(c, CT_ERR_NOMEM, "out of memory");
		return 0;
	}
	return 1;
}

/* ------------------------------------------------------------ CA-file mode */

static const char *
side_name(const struct tls_conn *c)
{
	return c->ctx->server ? "client" : "server";
}

/* A date error (wolfSSL's own codes, and the OpenSSL ones it maps to). */
static bool
is_date_error(int e)
{
	return e == ASN_BEFORE_DATE_E || e == ASN_AFTER_DATE_E ||
	    e == X509_V_ERR_CERT_NOT_YET_VALID ||
	    e == X509_V_ERR_CERT_HAS_EXPIRED ||
	    e == X509_V_ERR_ERROR_IN_CERT_NOT_BEFORE_FIELD ||
	    e == X509_V_ERR_ERROR_IN_CERT_NOT_AFTER_FIELD;
}

static bool
is_issuer_error(int e)
{
	return e == ASN_NO_SIGNER_E ||
	    e == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT ||
	    e == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
	    e == X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE ||
	    e == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT ||
	    e == X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN;
}

/* "expired on DATE" or "is not valid before DATE"; false when in dates. */
static bool
dates_text(const struct cert_facts *f, int64_t now, char *out, size_t outsz)
{
	char when[UTIL_RFC3339_LEN];

	if (now > f->not_after) {
		util_time_rfc3339(f->not_after, when);
		snprintf(out, outsz, "expired on %s", when);
		return true;
	}
	if (now < f->not_before) {
		util_time_rfc3339(f->not_before, when);
		snprintf(out, outsz, "is not valid before %s", when);
		return true;
	}
	return false;
}

/* Why wolfSSL's verification refused certificate error_depth. */
static void
ca_refuse(struct tls_conn *c, const WOLFSSL_X509_STORE_CTX *store)
{
	struct cert_facts f;
	char label[TLS_NAMES_TEXT_BYTES], names[TLS_NAMES_TEXT_BYTES];
	char dates[TLS_NAMES_TEXT_BYTES], text[WOLFSSL_MAX_ERROR_SZ];
	const char *what = side_name(c);
	int e = store->error, d = store->error_depth;
	bool facts = false;

	if (store->certs != NULL && d >= 0 && d < store->totalCerts)
		facts = cert_facts(store->certs[d].buffer,
		            store->certs[d].length, &f) == 0;
	if (facts)
		cert_label(&f, label, sizeof(label));
	else
		snprintf(label, sizeof(label), "(unreadable)");
	if (d > 0) /* an intermediate the peer sent */
		what = "issuing";
	if (facts && is_date_error(e) &&
	    dates_text(&f, util_now(), dates, sizeof(dates)))
		set_error(c, CT_ERR_AUTH, "%s certificate %s %s", what, label,
		    dates);
	else if (is_date_error(e))
		set_error(c, CT_ERR_AUTH,
		    "%s certificate %s is outside its validity dates", what,
		    label);
	else if (is_issuer_error(e))
		set_error(c, CT_ERR_AUTH,
		    "%s certificate %s is not issued by a CA in the CA file",
		    what, label);
	else if (e == ASN_SIG_CONFIRM_E ||
	    e == X509_V_ERR_CERT_SIGNATURE_FAILURE)
		set_error(c, CT_ERR_AUTH,
		    "%s certificate %s has a bad signature", what, label);
	else if (e == DOMAIN_NAME_MISMATCH && facts) {
		cert_names_text(&f, names, sizeof(names));
		set_error(c, CT_ERR_AUTH,
		    "server certificate is for %s, not for %s", names,
		    c->want_name);
	} else if (e == EXTKEYUSE_AUTH_E)
		set_error(c, CT_ERR_AUTH,
		    "%s certificate %s is not for TLS %s authentication "
		    "(extended key usage)",
		    what, label, side_name(c));
	else {
		if (e < 0)
			wolfSSL_ERR_error_string_n((unsigned long)e, text,
			    sizeof(text));
		else
			snprintf(text, sizeof(text), "%s",
			    wolfSSL_X509_verify_cert_error_string(e));
		set_error(c, CT_ERR_AUTH,
		    "%s certificate %s refused by X.509 verification (%d: %s)",
		    what, label, e, text);
	}
}

static bool
match_peer_names(void *arg, const uint8_t *name, size_t len)
{
	struct tls_conn *c = arg;
	size_t i;

	for (i = 0; i < c->ctx->n_peer_names; i++)
		if (name_eq(name, len, c->ctx->peer_names[i])) {
			snprintf(c->peer_name, sizeof(c->peer_name), "%s",
			    c->ctx->peer_names[i]);
			return true;
		}
	return false;
}

static bool
record_first_name(void *arg, const uint8_t *name, size_t len)
{
	struct tls_conn *c = arg;

	util_sanitize((const char *)name, len, c->peer_name,
	    sizeof(c->peer_name));
	return true;
}

/*
 * Our checks of a leaf that wolfSSL has verified up to an anchor: the
 * anchors' dates (which wolfSSL does not check), the leaf's dates again,
 * and on a server the accepted names. Records the peer name.
 */
static int
ca_check_leaf(struct tls_conn *c, const uint8_t *der, size_t len)
{
	const struct tls_ctx *ctx = c->ctx;
	struct cert_facts f;
	char label[TLS_NAMES_TEXT_BYTES], names[TLS_NAMES_TEXT_BYTES];
	char when[UTIL_RFC3339_LEN], dates[TLS_NAMES_TEXT_BYTES];
	int64_t now = util_now();
	int rc;

	if ((rc = cert_facts(der, len, &f)) != 0) {
		set_error(c, CT_ERR_AUTH, "%s certificate unusable: %s",
		    side_name(c), ct_strerror(rc));
		return CT_ERR_AUTH;
	}
	cert_label(&f, label, sizeof(label));
	if (now > ctx->ca_not_after || now < ctx->ca_not_before) {
		util_time_rfc3339(now > ctx->ca_not_after ? ctx->ca_not_after
		                                          : ctx->ca_not_before,
		    when);
		set_error(c, CT_ERR_AUTH,
		    "a CA certificate of the CA file %s %s: renew the CA file "
		    "and reload",
		    now > ctx->ca_not_after ? "expired on"
		                            : "is not valid before",
		    when);
		return CT_ERR_AUTH;
	}
	if (dates_text(&f, now, dates, sizeof(dates))) {
		set_error(c, CT_ERR_AUTH, "%s certificate %s %s", side_name(c),
		    label, dates);
		return CT_ERR_AUTH;
	}
	if (ctx->server && ctx->n_peer_names > 0) {
		rc = cert_each_name(&f, match_peer_names, c);
		if (rc == 1)
			return 0;
		cert_names_text(&f, names, sizeof(names));
		set_error(c, CT_ERR_AUTH,
		    "client certificate %s is for %s: not one of the accepted "
		    "peer names",
		    label, names);
		return CT_ERR_AUTH;
	}
	(void)cert_each_name(&f, record_first_name, c);
	return 0;
}

/*
 * The verify callback in CA-file mode: wolfSSL's verdict stands (it is
 * called for each certificate of the chain, the leaf last), and the leaf
 * then gets our own checks.
 */
static int
ca_verify(struct tls_conn *c, int preverify, WOLFSSL_X509_STORE_CTX *store)
{
	const uint8_t *der;
	size_t len;

	if (!preverify) {
		ca_refuse(c, store);
		return 0;
	}
	if (store->error_depth != 0)
		return 1; /* an intermediate that wolfSSL accepted */
	if (store->certs == NULL || store->totalCerts < 1 ||
	    store->certs[0].buffer == NULL) {
		set_error(c, CT_ERR_AUTH, "peer sent no certificate");
		return 0;
	}
	der = store->certs[0].buffer;
	len = store->certs[0].length;
	if (c->early_accepted) /* called again for the same leaf */
		return len == c->early_der_len &&
		    memcmp(der, c->early_der, len) == 0;
	if (ca_check_leaf(c, der, len) != 0)
		return 0;
	if ((c->early_der = malloc(len)) == NULL) {
		set_error(c, CT_ERR_NOMEM, "out of memory");
		return 0;
	}
	memcpy(c->early_der, der, len);
	c->early_der_len = len;
	c->early_accepted = true;
	return 1;
}

/*
 * wolfSSL's verify callback. Nothing here is trusted yet (CertificateVerify
 * comes later); it only lets a refusal end the handshake with an alert.
 * In pinned mode every X.509 verdict (no issuer, dates) is overridden:
 * pinning decides. CA-file mode keeps wolfSSL's verdict (ca_verify).
 */
static int
verify_cb(int preverify, WOLFSSL_X509_STORE_CTX *store)
{
	WOLFSSL *ssl;
	struct tls_conn *c;
	const uint8_t *der;
	size_t len;
	uint8_t pub[TLS_KEY_BYTES];

	(void)preverify;
	ssl = wolfSSL_X509_STORE_CTX_get_ex_data(store,
	    wolfSSL_get_ex_data_X509_STORE_CTX_idx());
	if (ssl == NULL || (c = wolfSSL_get_app_data(ssl)) == NULL)
		return 0;
	if (c->ctx->probe)
		return probe_verify(c, store);
	if (c->ctx->ca_mode)
		return ca_verify(c, preverify, store);
	if (c->early_accepted)
		return 1; /* called again for another certificate */
	if (store->certs == NULL || store->totalCerts < 1 ||
	    store->certs[0].buffer == NULL) {
		set_error(c, CT_ERR_AUTH, "peer sent no certificate");
		return 0;
	}
	der = store->certs[0].buffer;
	len = store->certs[0].length;
	if (check_leaf(c, der, len, pub) != 0)
		return 0;
	/* Kept so the check after the handshake need not verify again. */
	if ((c->early_der = malloc(len)) == NULL) {
		set_error(c, CT_ERR_NOMEM, "out of memory");
		return 0;
	}
	memcpy(c->early_der, der, len);
	c->early_der_len = len;
	memcpy(c->early_pub, pub, TLS_KEY_BYTES);
	c->early_accepted = true;
	return 1;
}

/* The peer's leaf from the session: 0 or CT_ERR_NOT_FOUND. */
static int
session_leaf(struct tls_conn *c, const uint8_t **der, size_t *len)
{
	WOLFSSL_X509_CHAIN *chain;
	int n;

	chain = wolfSSL_get_peer_chain(c->ssl);
	if (chain == NULL || wolfSSL_get_chain_count(chain) < 1 ||
	    (*der = wolfSSL_get_chain_cert(chain, 0)) == NULL ||
	    (n = wolfSSL_get_chain_length(chain, 0)) <= 0)
		return CT_ERR_NOT_FOUND;
	*len = (size_t)n;
	return 0;
}

/*
 * A resumed server connection: the client key comes from our ticket (see
 * ticket_cb). If wolfSSL also restored a chain, it must name the same key.
 */
static int
peer_check_resumed_server(struct tls_conn *c)
{
	const uint8_t *der, *sig;
	struct der_tlv tbs;
	uint8_t pub[TLS_KEY_BYTES];
	size_t len;

	if (!c->has_ticket_pub) {
		set_error(c, CT_ERR_AUTH, "resumed without a client key");
		return CT_ERR_AUTH;
	}
	if (session_leaf(c, &der, &len) == 0 &&
	    (cert_parse(der, len, pub, &tbs, &sig, NULL) != 0 ||
	        !util_ct_equal(pub, c->ticket_pub, TLS_KEY_BYTES))) {
		set_error(c, CT_ERR_AUTH, "resumed session names another key");
		return CT_ERR_AUTH;
	}
	return accept_key(c, c->ticket_pub);
}

/*
 * CA-file mode, after the handshake: the leaf in the session must be the
 * one the verify callback accepted. No session is resumed in this mode.
 */
static int
peer_check_ca(struct tls_conn *c)
{
	const uint8_t *der;
	size_t len;

	if (c->resumed) {
		set_error(c, CT_ERR_AUTH,
		    "a resumed session in CA-file mode (not offered)");
		return CT_ERR_AUTH;
	}
	if (session_leaf(c, &der, &len) != 0) {
		set_error(c, CT_ERR_AUTH,
		    "no peer certificate after the "
		    "handshake");
		return CT_ERR_AUTH;
	}
	if (!c->early_accepted) {
		set_error(c, CT_ERR_AUTH, "peer certificate was not checked");
		return CT_ERR_AUTH;
	}
	if (len != c->early_der_len || memcmp(der, c->early_der, len) != 0) {
		set_error(c, CT_ERR_AUTH,
		    "peer certificate changed in the handshake");
		return CT_ERR_AUTH;
	}
	return 0;
}

/*
 * The check that counts, after the handshake, on the leaf wolfSSL keeps in
 * the session (whose CertificateVerify it has checked by now). A full
 * handshake's leaf must be the one the verify callback accepted; a client
 * resuming takes the server's leaf from the stored session and checks it
 * in full.
 */
static int
peer_check(struct tls_conn *c)
{
	const uint8_t *der;
	uint8_t pub[TLS_KEY_BYTES];
	size_t len;
	int rc;

	if (c->ctx->ca_mode)
		return peer_check_ca(c);
	if (c->ctx->server && c->resumed)
		return peer_check_resumed_server(c);
	if (session_leaf(c, &der, &len) != 0) {
		set_error(c, CT_ERR_AUTH, "no peer certificate after the %s",
		    c->resumed ? "resumed handshake" : "handshake");
		return CT_ERR_AUTH;
	}
	if (c->resumed)
		return check_leaf(c, der, len, pub);
	if (!c->early_accepted) {
		set_error(c, CT_ERR_AUTH, "peer certificate was not checked");
		return CT_ERR_AUTH;
	}
	if (len != c->early_der_len || memcmp(der, c->early_der, len) != 0) {
		if ((rc = tls_cert_pub(der, len, pub)) != 0 ||
		    !util_ct_equal(pub, c->early_pub, TLS_KEY_BYTES)) {
			set_error(c, CT_ERR_AUTH,
			    "peer certificate changed in the handshake");
			return CT_ERR_AUTH;
		}
	}
	return accept_key(c, c->early_pub);
}

/* ------------------------------------------------------------ tickets */

/*
 * Session tickets (server side). A TLS 1.3 resumption carries no client
 * certificate, and wolfSSL keeps the client's chain only in its small
 * process-wide session cache: once that entry is evicted (measured: after
 * a few hundred other handshakes), a resumed connection has no client key
 * left to authorise. So our tickets carry the key themselves.
 *
 * wolfSSL's ticket is key_name(16) || iv(16) || length || state || mac(32),
 * and this callback fills key_name, iv and mac as it likes. The state is
 * sealed with ChaCha20-Poly1305 under ticket_key (nonce iv[0..12), tag
 * mac[0..16)). The client key, encrypted with ChaCha20 under peer_key_key
 * and the same nonce, rides in the 32 bytes the AEAD leaves free: key_name
 * (16), iv[12..16) (4) and mac[16..28) (12); mac[28..32) is zero. The AEAD's
 * additional data covers every one of those bytes and the length. A ticket
 * that does not open is rejected, which costs a full handshake, never a
 * refusal. Both keys are random per server context: a restart invalidates
 * every ticket.
 */
#define TICKET_NONCE_BYTES CHACHA20_POLY1305_AEAD_IV_SIZE
#define TICKET_TAG_BYTES CHACHA20_POLY1305_AEAD_AUTHTAG_SIZE
#define TICKET_IV_SPARE (WOLFSSL_TICKET_IV_SZ - TICKET_NONCE_BYTES)
#define TICKET_MAC_CARRY 12 /* key bytes in mac[16..28) */
#define TICKET_AAD_BYTES                                                       \
	(WOLFSSL_TICKET_NAME_SZ + WOLFSSL_TICKET_IV_SZ +                       \
	    WOLFSSL_TICKET_MAC_SZ - TICKET_TAG_BYTES + 2)

_Static_assert(WOLFSSL_TICKET_NAME_SZ + TICKET_IV_SPARE + TICKET_MAC_CARRY ==
        TLS_KEY_BYTES,
    "the ticket's free bytes must carry exactly one key");
_Static_assert(TICKET_TAG_BYTES + TICKET_MAC_CARRY < WOLFSSL_TICKET_MAC_SZ,
    "the mac field must hold the tag and the carried bytes");

static int
peer_key_crypt(const struct tls_ctx *ctx, const uint8_t *nonce,
    const uint8_t in[TLS_KEY_BYTES], uint8_t out[TLS_KEY_BYTES])
{
	ChaCha ch;
	int rc = -1;

	if (wc_Chacha_SetKey(&ch, ctx->peer_key_key,
	        sizeof(ctx->peer_key_key)) == 0 &&
	    wc_Chacha_SetIV(&ch, nonce, 0) == 0 &&
	    wc_Chacha_Process(&ch, out, in, TLS_KEY_BYTES) == 0)
		rc = 0;
	util_zero(&ch, sizeof(ch));
	return rc;
}

static void
carrier_put(uint8_t *name, uint8_t *iv, uint8_t *mac,
    const uint8_t enc[TLS_KEY_BYTES])
{
	memcpy(name, enc, WOLFSSL_TICKET_NAME_SZ);
	memcpy(iv + TICKET_NONCE_BYTES, enc + WOLFSSL_TICKET_NAME_SZ,
	    TICKET_IV_SPARE);
	memcpy(mac + TICKET_TAG_BYTES,
	    enc + WOLFSSL_TICKET_NAME_SZ + TICKET_IV_SPARE, TICKET_MAC_CARRY);
	memset(mac + TICKET_TAG_BYTES + TICKET_MAC_CARRY, 0,
	    WOLFSSL_TICKET_MAC_SZ - TICKET_TAG_BYTES - TICKET_MAC_CARRY);
}

static void
carrier_get(const uint8_t *name, const uint8_t *iv, const uint8_t *mac,
    uint8_t enc[TLS_KEY_BYTES])
{
	memcpy(enc, name, WOLFSSL_TICKET_NAME_SZ);
	memcpy(enc + WOLFSSL_TICKET_NAME_SZ, iv + TICKET_NONCE_BYTES,
	    TICKET_IV_SPARE);
	memcpy(enc + WOLFSSL_TICKET_NAME_SZ + TICKET_IV_SPARE,
	    mac + TICKET_TAG_BYTES, TICKET_MAC_CARRY);
}

static void
ticket_aad(uint8_t aad[TICKET_AAD_BYTES], const uint8_t *name,
    const uint8_t *iv, const uint8_t *mac, int len)
{
	uint8_t *p = aad;

	memcpy(p, name, WOLFSSL_TICKET_NAME_SZ);
	p += WOLFSSL_TICKET_NAME_SZ;
	memcpy(p, iv, WOLFSSL_TICKET_IV_SZ);
	p += WOLFSSL_TICKET_IV_SZ;
	memcpy(p, mac + TICKET_TAG_BYTES,
	    WOLFSSL_TICKET_MAC_SZ - TICKET_TAG_BYTES);
	p += WOLFSSL_TICKET_MAC_SZ - TICKET_TAG_BYTES;
	p[0] = (uint8_t)(len >> 8);
	p[1] = (uint8_t)len;
}

/* The client key a new ticket should carry, or NULL. */
static const uint8_t *
ticket_subject(const struct tls_conn *c)
{
	if (c->ctx->ca_mode) /* no tickets in CA-file mode */
		return NULL;
	if (c->accepted)
		return c->peer_pub;
	if (c->early_accepted) /* issued at the end of the handshake */
		return c->early_pub;
	if (c->has_ticket_pub) /* a resumed connection's next ticket */
		return c->ticket_pub;
	return NULL;
}

static int
ticket_seal(struct tls_ctx *ctx, struct tls_conn *c, uint8_t *name, uint8_t *iv,
    uint8_t *mac, uint8_t *ticket, int len)
{
	const uint8_t *key = ticket_subject(c);
	uint8_t enc[TLS_KEY_BYTES], aad[TICKET_AAD_BYTES];

	if (key == NULL || !ctx->rng_ok ||
	    wc_RNG_GenerateBlock(&ctx->rng, iv, TICKET_NONCE_BYTES) != 0 ||
	    peer_key_crypt(ctx, iv, key, enc) != 0)
		return WOLFSSL_TICKET_RET_FATAL;
	carrier_put(name, iv, mac, enc);
	ticket_aad(aad, name, iv, mac, len);
	if (wc_ChaCha20Poly1305_Encrypt(ctx->ticket_key, iv, aad, sizeof(aad),
	        ticket, (word32)len, ticket, mac) != 0)
		return WOLFSSL_TICKET_RET_FATAL;
	return WOLFSSL_TICKET_RET_OK;
}

static int
ticket_open(struct tls_ctx *ctx, struct tls_conn *c, const uint8_t *name,
    const uint8_t *iv, const uint8_t *mac, uint8_t *ticket, int len)
{
	uint8_t enc[TLS_KEY_BYTES], aad[TICKET_AAD_BYTES], pub[TLS_KEY_BYTES];
	size_t i;

	if (ctx->ca_mode) /* none issued: nothing to open */
		return WOLFSSL_TICKET_RET_REJECT;
	ticket_aad(aad, name, iv, mac, len);
	if (wc_ChaCha20Poly1305_Decrypt(ctx->ticket_key, iv, aad, sizeof(aad),
	        ticket, (word32)len, mac, ticket) != 0)
		return WOLFSSL_TICKET_RET_REJECT;
	for (i = TICKET_TAG_BYTES + TICKET_MAC_CARRY; i < WOLFSSL_TICKET_MAC_SZ;
	     i++)
		if (mac[i] != 0)
			return WOLFSSL_TICKET_RET_REJECT;
	carrier_get(name, iv, mac, enc);
	if (peer_key_crypt(ctx, iv, enc, pub) != 0)
		return WOLFSSL_TICKET_RET_REJECT;
	memcpy(c->ticket_pub, pub, TLS_KEY_BYTES);
	c->has_ticket_pub = true;
	return WOLFSSL_TICKET_RET_OK;
}

/* wolfSSL's SessionTicketEncCb: enc seals a new ticket, else opens one. */
static int
ticket_cb(WOLFSSL *ssl, unsigned char name[WOLFSSL_TICKET_NAME_SZ],
    unsigned char iv[WOLFSSL_TICKET_IV_SZ],
    unsigned char mac[WOLFSSL_TICKET_MAC_SZ], int enc, unsigned char *ticket,
    int len, int *out_len, void *arg)
{
	struct tls_ctx *ctx = arg;
	struct tls_conn *c = wolfSSL_get_app_data(ssl);
	int ret;

	if (ctx == NULL || c == NULL || ticket == NULL || len < 0 ||
	    len > 0xffff)
		return enc ? WOLFSSL_TICKET_RET_FATAL
		           : WOLFSSL_TICKET_RET_REJECT;
	if (enc)
		ret = ticket_seal(ctx, c, name, iv, mac, ticket, len);
	else
		ret = ticket_open(ctx, c, name, iv, mac, ticket, len);
	*out_len = len;
	return ret;
}

/* ------------------------------------------------------------ closing */

static void
on_handle_closed(uv_handle_t *h)
{
	struct tls_conn *c = h->data;

	if (--c->open_handles > 0)
		return;
	if (!c->silent) {
		if (!c->reported) {
			c->reported = true;
			set_error(c, CT_ERR_CLOSED,
			    "closed before the handshake finished");
			if (c->cb.on_handshake != NULL)
				c->cb.on_handshake(c, c->status);
		}
		if (c->cb.on_close != NULL)
			c->cb.on_close(c, c->status);
	}
	wolfSSL_free(c->ssl);
	free(c->early_der);
	chain_clear(c);
	util_buf_clear(&c->in);
	tls_ctx_free(c->ctx);
	util_zero(c, sizeof(*c));
	free(c);
}

/* Closes both handles; queued writes are cancelled. */
static void
close_now(struct tls_conn *c)
{
	if (c->state == CONN_CLOSING)
		return;
	c->state = CONN_CLOSING;
	uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
	uv_close((uv_handle_t *)&c->timer, on_handle_closed);
}

static void on_timer(uv_timer_t *t);

static void
on_shutdown(uv_shutdown_t *req, int status)
{
	struct tls_conn *c = req->data;

	if (c->state != CONN_SHUTDOWN)
		return;
	/* Our FIN is out. Wait for the peer's, so that closing with unread
	 * bytes does not send an RST that could destroy our last data in
	 * the peer's receive queue; the linger timer bounds the wait. */
	if (status < 0 || c->eof)
		close_now(c);
}

/*
 * Closes after the queued writes (an alert, the last response) have gone
 * out: optionally sends close_notify, shuts down the write side, then
 * waits for the peer's EOF, at most TLS_CLOSE_LINGER_MS or the deadline.
 */
static void
close_flush(struct tls_conn *c, bool notify)
{
	uint64_t due = c->ctx->linger_ms, left;

	if (c->state >= CONN_SHUTDOWN)
		return;
	if (c->state == CONN_CONNECTING) {
		close_now(c);
		return;
	}
	if (notify && c->state == CONN_OPEN)
		(void)wolfSSL_shutdown(c->ssl); /* queues close_notify */
	c->state = CONN_SHUTDOWN;
	c->shutdown_req.data = c;
	if (uv_shutdown(&c->shutdown_req, (uv_stream_t *)&c->tcp,
	        on_shutdown) != 0) {
		close_now(c);
		return;
	}
	if (uv_is_active((uv_handle_t *)&c->timer)) {
		left = uv_timer_get_due_in(&c->timer);
		if (left < due)
			due = left;
	}
	uv_timer_start(&c->timer, on_timer, due > 0 ? due : 1, 0);
}

static const char *
phase(const struct tls_conn *c)
{
	switch (c->state) {
	case CONN_CONNECTING:
		return "connecting";
	case CONN_PLAIN:
		return "in the plaintext phase (STARTTLS)";
	case CONN_HANDSHAKE:
		return "in the TLS handshake";
	default:
		return "waiting for data";
	}
}

static void
on_timer(uv_timer_t *t)
{
	struct tls_conn *c = t->data;

	if (c->state == CONN_CLOSING)
		return;
	if (c->state != CONN_SHUTDOWN)
		set_error(c, CT_ERR_TIMEOUT, "deadline passed %s", phase(c));
	close_now(c);
}

/* ------------------------------------------------------------ I/O */

/* wolfSSL pulls ciphertext from c->in. */
static int
io_recv(WOLFSSL *ssl, char *buf, int sz, void *arg)
{
	struct tls_conn *c = arg;
	size_t avail, n;

	(void)ssl;
	avail = c->in.len - c->in_off;
	if (avail == 0)
		return c->eof ? WOLFSSL_CBIO_ERR_CONN_CLOSE
		              : WOLFSSL_CBIO_ERR_WANT_READ;
	if (sz <= 0)
		return 0;
	n = avail < (size_t)sz ? avail : (size_t)sz;
	memcpy(buf, c->in.data + c->in_off, n);
	c->in_off += n;
	if (c->in_off == c->in.len)
		c->in.len = c->in_off = 0;
	return (int)n;
}

static void
on_write(uv_write_t *req, int status)
{
	struct write_req *w = (struct write_req *)req;
	struct tls_conn *c = req->data;

	free(w);
	if (status < 0 && status != UV_ECANCELED && c->state != CONN_CLOSING) {
		if (c->sys_err == 0)
			c->sys_err = status;
		set_error(c, CT_ERR_IO, "write: %s", uv_strerror(status));
		close_now(c);
	}
}

/* wolfSSL pushes records: each is copied and queued with uv_write. */
static int
io_send(WOLFSSL *ssl, char *buf, int sz, void *arg)
{
	struct tls_conn *c = arg;
	struct write_req *w;
	size_t queued;
	uv_buf_t b;

	(void)ssl;
	if (c->state == CONN_CONNECTING || c->state >= CONN_SHUTDOWN)
		return WOLFSSL_CBIO_ERR_CONN_CLOSE;
	if (sz <= 0)
		return 0;
	queued = uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp);
	if (queued + (size_t)sz >
	    TLS_MAX_PENDING_WRITE_BYTES + TLS_WRITE_SLACK_BYTES) {
		set_error(c, CT_ERR_TOO_BIG,
		    "peer does not read: %zu bytes "
		    "queued",
		    queued);
		return WOLFSSL_CBIO_ERR_GENERAL;
	}
	if ((w = malloc(sizeof(*w) + (size_t)sz)) == NULL)
		return WOLFSSL_CBIO_ERR_GENERAL;
	memcpy(w->data, buf, (size_t)sz);
	b = uv_buf_init((char *)w->data, (unsigned)sz);
	w->req.data = c;
	if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_write) != 0) {
		free(w);
		return WOLFSSL_CBIO_ERR_CONN_CLOSE;
	}
	return sz;
}

/* A fatal wolfSSL error: record it and flush whatever alert it queued. */
static void
ssl_failed(struct tls_conn *c, int ret)
{
	ssl_error(c, wolfSSL_get_error(c->ssl, ret));
	close_flush(c, false);
}

/*
 * A probe's handshake is done: the chain from the session replaces the
 * verify callback's copy, and the facts are kept for the user.
 */
static void
probe_handshake_done(struct tls_conn *c)
{
	WOLFSSL_X509_CHAIN *chain;
	const uint8_t *der[TLS_PROBE_MAX_CHAIN];
	size_t len[TLS_PROBE_MAX_CHAIN];
	const char *v;
	int i, n, l;

	c->t_done = uv_hrtime();
	chain = wolfSSL_get_peer_chain(c->ssl);
	n = chain != NULL ? wolfSSL_get_chain_count(chain) : 0;
	if (n > TLS_PROBE_MAX_CHAIN)
		n = TLS_PROBE_MAX_CHAIN;
	for (i = 0; i < n; i++) {
		der[i] = wolfSSL_get_chain_cert(chain, i);
		l = wolfSSL_get_chain_length(chain, i);
		len[i] = l > 0 ? (size_t)l : 0;
	}
	if (n > 0 && chain_copy(c, der, len, (size_t)n) != 0) {
		set_error(c, CT_ERR_NOMEM, "out of memory");
		close_now(c);
		return;
	}
	if ((v = wolfSSL_get_version(c->ssl)) != NULL)
		snprintf(c->version, sizeof(c->version), "%s", v);
	if ((v = wolfSSL_get_cipher_name(c->ssl)) != NULL)
		snprintf(c->cipher, sizeof(c->cipher), "%s", v);
	c->state = CONN_OPEN;
	c->accepted = true;
	c->reported = true;
	if (c->cb.on_handshake != NULL)
		c->cb.on_handshake(c, 0);
}

/* Handshake done: check the peer, then tell the user. */
static void
handshake_done(struct tls_conn *c)
{
	int rc;

	if (c->ctx->probe) {
		probe_handshake_done(c);
		return;
	}
	c->resumed = wolfSSL_session_reused(c->ssl) == 1;
	rc = peer_check(c);
	free(c->early_der);
	c->early_der = NULL;
	if (rc != 0) {
		/* No alert API for this; close_notify and close. */
		c->state = CONN_OPEN;
		close_flush(c, true);
		return;
	}
	c->state = CONN_OPEN;
	c->accepted = true;
	c->reported = true;
	if (c->cb.on_handshake != NULL)
		c->cb.on_handshake(c, 0);
}

/* Runs wolfSSL over the buffered ciphertext until it wants more. */
static void
drive(struct tls_conn *c)
{
	uint8_t pt[TLS_PLAINTEXT_CHUNK_BYTES];
	int n, err;

	if (c->state == CONN_HANDSHAKE) {
		n = c->ctx->server ? wolfSSL_accept(c->ssl)
		                   : wolfSSL_connect(c->ssl);
		if (n != WOLFSSL_SUCCESS) {
			err = wolfSSL_get_error(c->ssl, n);
			if (err != WOLFSSL_ERROR_WANT_READ &&
			    err != WOLFSSL_ERROR_WANT_WRITE)
				ssl_failed(c, n);
			return;
		}
		handshake_done(c);
	}
	while (c->state == CONN_OPEN) {
		n = wolfSSL_read(c->ssl, pt, sizeof(pt));
		if (n > 0) {
			if (c->cb.on_data != NULL)
				c->cb.on_data(c, pt, (size_t)n);
			continue;
		}
		err = wolfSSL_get_error(c->ssl, n);
		if (err == WOLFSSL_ERROR_WANT_READ ||
		    err == WOLFSSL_ERROR_WANT_WRITE)
			break;
		if (err == WOLFSSL_ERROR_ZERO_RETURN) {
			set_error(c, CT_ERR_CLOSED,
			    "peer closed the connection");
			close_flush(c, true);
		} else {
			ssl_failed(c, n);
		}
	}
	util_zero(pt, sizeof(pt));
}

static void
on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	(void)h;
	(void)hint;
	buf->base = malloc(TLS_READ_CHUNK_BYTES);
	buf->len = buf->base != NULL ? TLS_READ_CHUNK_BYTES : 0;
}

/* Appends ciphertext, compacting the consumed prefix first. */
static int
input_append(struct tls_conn *c, const char *p, size_t n)
{
	if (c->in_off > 0) {
		memmove(c->in.data, c->in.data + c->in_off,
		    c->in.len - c->in_off);
		c->in.len -= c->in_off;
		c->in_off = 0;
	}
	return util_buf_append(&c->in, p, n);
}

/*
 * The plaintext phase: hands every unread byte to on_plain, then acts on
 * its verdict. The bytes stay in c->in's buffer (nothing appends during
 * the call) and count as consumed.
 */
static void
plain_input(struct tls_conn *c)
{
	char why[TLS_ERROR_TEXT_BYTES];
	const uint8_t *p = c->in.data + c->in_off;
	size_t n = c->in.len - c->in_off;
	int rc;

	c->in.len = c->in_off = 0;
	why[0] = '\0';
	rc = c->on_plain(c, p, n, why, sizeof(why));
	if (c->state != CONN_PLAIN)
		return; /* closed from the callback */
	if (rc < 0) {
		set_error(c, rc, "%s", why[0] ? why : "plaintext phase failed");
		close_flush(c, false);
		return;
	}
	if (rc == TLS_PLAIN_START) {
		c->state = CONN_HANDSHAKE;
		c->t_tls = uv_hrtime();
		drive(c); /* sends the ClientHello */
	}
}

/* The buffer from on_alloc is freed here on every path. */
static void
on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct tls_conn *c = s->data;
	int rc = 0;

	if (nread > 0 && c->state < CONN_SHUTDOWN)
		rc = input_append(c, buf->base, (size_t)nread);
	free(buf->base);
	if (nread == 0 || c->state == CONN_CLOSING)
		return;
	if (c->state == CONN_SHUTDOWN) {
		if (nread < 0) /* the peer's EOF, or an error: done */
			close_now(c);
		return; /* late bytes are dropped */
	}
	if (rc != 0) {
		set_error(c, CT_ERR_TOO_BIG,
		    "more than %d bytes of unprocessed input",
		    TLS_MAX_INPUT_BYTES);
		close_now(c);
		return;
	}
	if (nread > 0) {
		if (c->state == CONN_PLAIN)
			plain_input(c);
		else
			drive(c);
		return;
	}
	if (nread == UV_EOF) {
		c->eof = true;
		set_error(c, CT_ERR_CLOSED, "peer closed the connection%s",
		    c->state == CONN_PLAIN           ? " before TLS started"
		        : c->state == CONN_HANDSHAKE ? " in the TLS handshake"
		                                     : " without close_notify");
		close_flush(c, true);
		return;
	}
	if (c->sys_err == 0)
		c->sys_err = (int)nread;
	set_error(c, CT_ERR_IO, "read: %s", uv_strerror((int)nread));
	close_now(c);
}

/* ------------------------------------------------------------ contexts */

/* Server: random ticket keys and our ticket callback. */
static int
ticket_setup(struct tls_ctx *ctx)
{
	if (wc_InitRng(&ctx->rng) != 0)
		return CT_ERR_CRYPTO;
	ctx->rng_ok = true;
	if (wc_RNG_GenerateBlock(&ctx->rng, ctx->ticket_key,
	        sizeof(ctx->ticket_key)) != 0 ||
	    wc_RNG_GenerateBlock(&ctx->rng, ctx->peer_key_key,
	        sizeof(ctx->peer_key_key)) != 0 ||
	    wolfSSL_CTX_set_TicketEncCb(ctx->ssl_ctx, ticket_cb) !=
	        WOLFSSL_SUCCESS ||
	    wolfSSL_CTX_set_TicketEncCtx(ctx->ssl_ctx, ctx) !=
	        WOLFSSL_SUCCESS ||
	    wolfSSL_CTX_set_TicketHint(ctx->ssl_ctx, TLS_TICKET_LIFETIME_S) !=
	        WOLFSSL_SUCCESS)
		return CT_ERR_CRYPTO;
	return 0;
}

/*
 * wolfSSL's Ed25519 signing callback (PK callbacks) for CertificateVerify
 * in pinned mode: signs with the context's imported key. keyDer is the
 * same key (ctx_new loaded both); CA-file mode unsets the callback.
 */
static int
sign_cb(WOLFSSL *ssl, const unsigned char *in, unsigned int in_len,
    unsigned char *out, unsigned int *out_len, const unsigned char *key_der,
    unsigned int key_der_len, void *unused)
{
	struct tls_conn *c = wolfSSL_get_app_data(ssl);

	(void)key_der;
	(void)key_der_len;
	(void)unused;
	if (c == NULL || !c->ctx->own_key_ok || c->ctx->ca_mode)
		return BAD_FUNC_ARG;
	return wc_ed25519_sign_msg(in, in_len, out, out_len, &c->ctx->own_key);
}

static int
ctx_new(bool server, const uint8_t seed[TLS_KEY_BYTES],
    const uint8_t pub[TLS_KEY_BYTES], const char *cn,
    tls_authorize_fn authorize, void *arg, struct tls_ctx **out)
{
	struct tls_ctx *ctx = NULL;
	uint8_t *cert = NULL, kder[TLS_KEY_DER_MAX_BYTES];
	size_t cert_len = 0, cn_len;
	int kder_len, mode, rc;
	int groups[] = {WOLFSSL_ECC_X25519, WOLFSSL_ECC_SECP256R1};

	*out = NULL;
	if (seed == NULL || pub == NULL || (server && authorize == NULL))
		return CT_ERR_INVALID;
	if ((rc = cn_check(cn, &cn_len)) != 0)
		return rc;
	if ((ctx = calloc(1, sizeof(*ctx))) == NULL)
		return CT_ERR_NOMEM;
	ctx->refs = 1;
	ctx->linger_ms = TLS_CLOSE_LINGER_MS;
	ctx->server = server;
	ctx->authorize = authorize;
	ctx->arg = arg;
	memcpy(ctx->own_pub, pub, TLS_KEY_BYTES);
	rc = CT_ERR_CRYPTO;
	ctx->ssl_ctx = wolfSSL_CTX_new(
	    server ? wolfTLSv1_3_server_method() : wolfTLSv1_3_client_method());
	if (ctx->ssl_ctx == NULL)
		goto out;
	if ((rc = key_load(&ctx->own_key, seed, pub)) != 0)
		goto out;
	ctx->own_key_ok = true;
	if ((rc = make_cert(&ctx->own_key, cn, cn_len, &cert, &cert_len)) != 0)
		goto out;
	rc = CT_ERR_CRYPTO;
	kder_len = wc_Ed25519PrivateKeyToDer(&ctx->own_key, kder, sizeof(kder));
	if (kder_len <= 0)
		goto out;
	/*
	 * No wolfSSL_CTX_check_private_key: the certificate was made from
	 * this key a moment ago. The key buffer is what wolfSSL would sign
	 * CertificateVerify with; sign_cb signs with the imported key
	 * instead, which spares a decode and a key check (a scalar
	 * multiplication) per handshake.
	 */
	if (wolfSSL_CTX_use_certificate_buffer(ctx->ssl_ctx, cert,
	        (long)cert_len, WOLFSSL_FILETYPE_ASN1) != WOLFSSL_SUCCESS ||
	    wolfSSL_CTX_use_PrivateKey_buffer(ctx->ssl_ctx, kder, kder_len,
	        WOLFSSL_FILETYPE_ASN1) != WOLFSSL_SUCCESS)
		goto out;
	wolfSSL_CTX_SetEd25519SignCb(ctx->ssl_ctx, sign_cb);
	/* X25519 first: both ends are ours, and it is several times cheaper
	 * than this build's generic P-256; P-256 stays for other peers. */
	if (wolfSSL_CTX_set_groups(ctx->ssl_ctx, groups,
	        (int)(sizeof(groups) / sizeof(groups[0]))) != WOLFSSL_SUCCESS)
		goto out;
	/*
	 * ChaCha20-Poly1305 first: this wolfSSL build has no AES-NI, and in
	 * software ChaCha20 is about three times cheaper per byte than
	 * AES-GCM (measured: 0.18 against 0.54 ms for a 50 KB answer).
	 */
	if (wolfSSL_CTX_set_cipher_list(ctx->ssl_ctx, TLS_AGENT_CIPHERS) !=
	    WOLFSSL_SUCCESS)
		goto out;
	mode = WOLFSSL_VERIFY_PEER;
	if (server)
		mode |= WOLFSSL_VERIFY_FAIL_IF_NO_PEER_CERT;
	wolfSSL_CTX_set_verify(ctx->ssl_ctx, mode, verify_cb);
	wolfSSL_CTX_SetIORecv(ctx->ssl_ctx, io_recv);
	wolfSSL_CTX_SetIOSend(ctx->ssl_ctx, io_send);
#ifdef WOLFSSL_EARLY_DATA
	if (wolfSSL_CTX_set_max_early_data(ctx->ssl_ctx, 0) != 0)
		goto out;
#endif
	if (server && (rc = ticket_setup(ctx)) != 0)
		goto out;
	*out = ctx;
	ctx = NULL;
	rc = 0;
out:
	util_zero(kder, sizeof(kder));
	free(cert);
	tls_ctx_free(ctx);
	return rc;
}

int
tls_ctx_new_server(const uint8_t seed[TLS_KEY_BYTES],
    const uint8_t pub[TLS_KEY_BYTES], const char *cn,
    tls_authorize_fn authorize, void *arg, struct tls_ctx **out)
{
	return ctx_new(true, seed, pub, cn, authorize, arg, out);
}

int
tls_ctx_new_client(const uint8_t seed[TLS_KEY_BYTES],
    const uint8_t pub[TLS_KEY_BYTES], const char *cn,
    tls_authorize_fn authorize, void *arg, struct tls_ctx **out)
{
	return ctx_new(false, seed, pub, cn, authorize, arg, out);
}

/* Drops one reference; the last one frees the context. */
void
tls_ctx_free(struct tls_ctx *ctx)
{
	size_t i;

	if (ctx == NULL || --ctx->refs > 0)
		return;
	for (i = 0; i < ctx->n_peer_names; i++)
		free(ctx->peer_names[i]);
	free(ctx->peer_names);
	wolfSSL_CTX_free(ctx->ssl_ctx);
	if (ctx->own_key_ok)
		wc_ed25519_free(&ctx->own_key);
	if (ctx->rng_ok)
		wc_FreeRng(&ctx->rng);
	util_zero(ctx, sizeof(*ctx));
	free(ctx);
}

/* ------------------------------------------------------------ CA files */

static void errf(char *err, size_t errsz, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
errf(char *err, size_t errsz, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errsz == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errsz, fmt, ap);
	va_end(ap);
}

/* A file of at most TLS_CA_MAX_FILE_BYTES; errno kept on CT_ERR_IO. */
static int
ca_read(const char *path, uint8_t **text, size_t *len, char *err, size_t errsz)
{
	int rc, saved;

	if ((rc = util_read_file(path, TLS_CA_MAX_FILE_BYTES, text, len)) == 0)
		return 0;
	saved = errno;
	if (rc == CT_ERR_IO)
		errf(err, errsz, "%s: %s", path, strerror(saved));
	else if (rc == CT_ERR_TOO_BIG)
		errf(err, errsz, "%s: larger than %d bytes", path,
		    TLS_CA_MAX_FILE_BYTES);
	else
		errf(err, errsz, "%s: %s", path, ct_strerror(rc));
	errno = saved;
	return rc;
}

/*
 * The next certificate of a PEM file (only CERTIFICATE blocks may be in
 * it), with its facts; n counts them. 0 with *der set (the caller frees
 * it), CT_ERR_NOT_FOUND at the end, or another ct_err with err set.
 */
static int
pem_next_cert(const char *path, const uint8_t *text, size_t len, size_t *off,
    size_t *n, uint8_t **der, size_t *der_len, struct cert_facts *f, char *err,
    size_t errsz)
{
	char label[TLS_PEM_LABEL_BYTES], q[TLS_PEM_LABEL_BYTES];
	int rc;

	*der = NULL;
	rc = util_pem_next((const char *)text, len, off, label, sizeof(label),
	    der, der_len);
	if (rc == CT_ERR_NOT_FOUND)
		return rc;
	if (rc != 0) {
		errf(err, errsz, "%s: PEM block %zu is malformed (%s)", path,
		    *n + 1, ct_strerror(rc));
		return CT_ERR_FORMAT;
	}
	if (strcmp(label, "CERTIFICATE") != 0) {
		util_sanitize(label, strlen(label), q, sizeof(q));
		errf(err, errsz,
		    "%s: a '%s' block where only CERTIFICATE blocks belong",
		    path, q);
		rc = CT_ERR_FORMAT;
	} else if (++*n > TLS_CA_MAX_CERTS) {
		errf(err, errsz, "%s: more than %d certificates", path,
		    TLS_CA_MAX_CERTS);
		rc = CT_ERR_TOO_BIG;
	} else if ((rc = cert_facts(*der, *der_len, f)) != 0) {
		errf(err, errsz, "%s: certificate %zu is not X.509 (%s)", path,
		    *n, ct_strerror(rc));
		rc = CT_ERR_FORMAT;
	}
	if (rc != 0) {
		free(*der);
		*der = NULL;
	}
	return rc;
}

/* A certificate of a file that must be within its dates now. */
static int
file_cert_dates(const char *path, size_t n, const struct cert_facts *f,
    int64_t now, char *err, size_t errsz)
{
	char label[TLS_NAMES_TEXT_BYTES], dates[TLS_NAMES_TEXT_BYTES];

	if (!dates_text(f, now, dates, sizeof(dates)))
		return 0;
	cert_label(f, label, sizeof(label));
	errf(err, errsz, "%s: certificate %zu (%s) %s", path, n, label, dates);
	return CT_ERR_AUTH;
}

/* The trust anchors: each within its dates, each loaded as a CA. */
static int
load_anchors(struct tls_ctx *ctx, const char *path, char *err, size_t errsz)
{
	struct cert_facts f;
	uint8_t *text = NULL, *der = NULL;
	size_t len = 0, off = 0, der_len = 0, n = 0;
	int64_t now = util_now();
	int ret, rc;

	ctx->ca_not_before = INT64_MIN;
	ctx->ca_not_after = INT64_MAX;
	if ((rc = ca_read(path, &text, &len, err, errsz)) != 0)
		return rc;
	while ((rc = pem_next_cert(path, text, len, &off, &n, &der, &der_len,
	            &f, err, errsz)) == 0) {
		if ((rc = file_cert_dates(path, n, &f, now, err, errsz)) != 0)
			goto out;
		ret = wolfSSL_CTX_load_verify_buffer(ctx->ssl_ctx, der,
		    (long)der_len, WOLFSSL_FILETYPE_ASN1);
		if (ret != WOLFSSL_SUCCESS) {
			errf(err, errsz,
			    "%s: certificate %zu cannot be a trust anchor "
			    "(wolfSSL error %d)",
			    path, n, ret);
			rc = CT_ERR_FORMAT;
			goto out;
		}
		if (f.not_before > ctx->ca_not_before)
			ctx->ca_not_before = f.not_before;
		if (f.not_after < ctx->ca_not_after)
			ctx->ca_not_after = f.not_after;
		free(der);
		der = NULL;
	}
	if (rc != CT_ERR_NOT_FOUND)
		goto out;
	rc = 0;
	if (n == 0) {
		errf(err, errsz, "%s: no CERTIFICATE block", path);
		rc = CT_ERR_FORMAT;
	}
out:
	free(der);
	free(text);
	return rc;
}

/* The public key bits of our leaf (BIT STRING content), kept for checks. */
#define TLS_SPKI_BITS_MAX_BYTES 160 /* an x963 point of P-521: 133 */

struct own_leaf {
	uint8_t bits[TLS_SPKI_BITS_MAX_BYTES];
	size_t bits_len; /* 0: not kept (an RSA key, or too long) */
};

/* SEQUENCE { AlgorithmIdentifier, BIT STRING 00 || key }: the key. */
static void
spki_bits(const struct der_tlv *spki, struct own_leaf *leaf)
{
	struct der_cursor in;
	struct der_tlv alg, bits;

	leaf->bits_len = 0;
	der_enter(spki, &in);
	if (der_expect(&in, DER_SEQUENCE, &alg) != 0 ||
	    der_expect(&in, DER_BIT_STRING, &bits) != 0 || bits.len < 2 ||
	    bits.val[0] != 0 || bits.len - 1 > sizeof(leaf->bits))
		return;
	memcpy(leaf->bits, bits.val + 1, bits.len - 1);
	leaf->bits_len = bits.len - 1;
}

/*
 * Our chain: the file must hold only certificates, leaf first; the leaf
 * must be valid now. wolfSSL then loads the same bytes.
 */
static int
load_chain(struct tls_ctx *ctx, const char *path, struct own_leaf *leaf,
    char *err, size_t errsz)
{
	struct cert_facts f;
	uint8_t *text = NULL, *der = NULL;
	size_t len = 0, off = 0, der_len = 0, n = 0;
	int rc;

	memset(leaf, 0, sizeof(*leaf));
	if ((rc = ca_read(path, &text, &len, err, errsz)) != 0)
		return rc;
	while ((rc = pem_next_cert(path, text, len, &off, &n, &der, &der_len,
	            &f, err, errsz)) == 0) {
		/* Our own leaf must be valid now: a peer would refuse it. */
		if (n == 1) {
			if ((rc = file_cert_dates(path, n, &f, util_now(), err,
			         errsz)) != 0)
				goto out;
			spki_bits(&f.spki, leaf);
		}
		free(der);
		der = NULL;
	}
	if (rc != CT_ERR_NOT_FOUND)
		goto out;
	rc = 0;
	if (n == 0) {
		errf(err, errsz, "%s: no CERTIFICATE block", path);
		rc = CT_ERR_FORMAT;
	} else if (wolfSSL_CTX_use_certificate_chain_buffer_format(ctx->ssl_ctx,
	               text, (long)len,
	               WOLFSSL_FILETYPE_PEM) != WOLFSSL_SUCCESS) {
		errf(err, errsz,
		    "%s: wolfSSL cannot use this certificate chain", path);
		rc = CT_ERR_FORMAT;
	}
out:
	free(der);
	free(text);
	return rc;
}

/* An ECDSA private key (traditional or PKCS#8 DER): its x963 point. */
static int
ecc_der_pub(const uint8_t *der, size_t len, uint8_t *out, size_t outsz,
    size_t *out_len)
{
	ecc_key key;
	word32 idx = 0, n = (word32)outsz;
	int rc = CT_ERR_NOT_FOUND;

	if (wc_ecc_init(&key) != 0)
		return CT_ERR_CRYPTO;
	if (wc_EccPrivateKeyDecode(der, &idx, &key, (word32)len) == 0 &&
	    (key.type != ECC_PRIVATEKEY_ONLY ||
	        wc_ecc_make_pub(&key, NULL) == 0) &&
	    wc_ecc_export_x963(&key, out, &n) == 0) {
		*out_len = n;
		rc = 0;
	}
	wc_ecc_free(&key);
	return rc;
}

/* An Ed25519 private key (PKCS#8 DER): its public key, derived. */
static int
ed25519_der_pub(const uint8_t *der, size_t len, uint8_t *out, size_t outsz,
    size_t *out_len)
{
	ed25519_key key;
	word32 idx = 0;
	int rc = CT_ERR_NOT_FOUND;

	if (outsz < TLS_KEY_BYTES || wc_ed25519_init(&key) != 0)
		return CT_ERR_CRYPTO;
	if (wc_Ed25519PrivateKeyDecode(der, &idx, &key, (word32)len) == 0 &&
	    wc_ed25519_make_public(&key, out, TLS_KEY_BYTES) == 0) {
		*out_len = TLS_KEY_BYTES;
		rc = 0;
	}
	wc_ed25519_free(&key);
	return rc;
}

/*
 * The public key bits of a PEM private key (its first block), for the
 * kinds whose pairing wolfSSL does not check (Ed25519, ECDSA). 0, or
 * CT_ERR_NOT_FOUND for another kind (RSA), which wolfSSL checks.
 */
static int
pem_key_pub(const uint8_t *text, size_t len, uint8_t *out, size_t outsz,
    size_t *out_len)
{
	char label[TLS_PEM_LABEL_BYTES];
	uint8_t *der = NULL;
	size_t off = 0, der_len = 0;
	int rc = CT_ERR_NOT_FOUND;

	if (util_pem_next((const char *)text, len, &off, label, sizeof(label),
	        &der, &der_len) != 0)
		return CT_ERR_NOT_FOUND;
	if (der_len > UINT32_MAX)
		rc = CT_ERR_TOO_BIG;
	else if (strcmp(label, "PRIVATE KEY") == 0 &&
	    ed25519_der_pub(der, der_len, out, outsz, out_len) == 0)
		rc = 0;
	else if (strcmp(label, "PRIVATE KEY") == 0 ||
	    strcmp(label, "EC PRIVATE KEY") == 0)
		rc = ecc_der_pub(der, der_len, out, outsz, out_len);
	util_zero(der, der_len);
	free(der);
	return rc;
}

/*
 * The chain's private key (key_path), or the Ed25519 key loaded already,
 * and a check that it is the leaf's key. wolfSSL checks that for RSA, but
 * (measured, 5.5.4) not for ECDSA or Ed25519 pairs: those we compare
 * ourselves, public key against the leaf's.
 */
static int
load_own_key(struct tls_ctx *ctx, const char *cert_path, const char *key_path,
    const struct own_leaf *leaf, char *err, size_t errsz)
{
	uint8_t *text = NULL, pub[TLS_SPKI_BITS_MAX_BYTES];
	size_t len = 0, pub_len = 0;
	bool match = true;
	int ret, rc;

	if (key_path != NULL) {
		if ((rc = ca_read(key_path, &text, &len, err, errsz)) != 0)
			return rc;
		ret = wolfSSL_CTX_use_PrivateKey_buffer(ctx->ssl_ctx, text,
		    (long)len, WOLFSSL_FILETYPE_PEM);
		if (ret == WOLFSSL_SUCCESS &&
		    pem_key_pub(text, len, pub, sizeof(pub), &pub_len) == 0)
			match = pub_len == leaf->bits_len &&
			    util_ct_equal(pub, leaf->bits, pub_len);
		util_zero(text, len);
		free(text);
		if (ret != WOLFSSL_SUCCESS) {
			errf(err, errsz,
			    "%s: not a private key wolfSSL can use (PEM, not "
			    "encrypted: ECDSA, RSA or Ed25519)",
			    key_path);
			return CT_ERR_FORMAT;
		}
	} else {
		match = leaf->bits_len == TLS_KEY_BYTES &&
		    util_ct_equal(ctx->own_pub, leaf->bits, TLS_KEY_BYTES);
	}
	if (!match ||
	    wolfSSL_CTX_check_private_key(ctx->ssl_ctx) != WOLFSSL_SUCCESS) {
		if (key_path != NULL)
			errf(err, errsz,
			    "%s does not hold the key of the certificate in %s",
			    key_path, cert_path);
		else
			errf(err, errsz,
			    "%s: the certificate is not for this side's Ed25519 "
			    "key (give the certificate's own key file)",
			    cert_path);
		return CT_ERR_AUTH;
	}
	return 0;
}

/* A DNS-like name: 1..TLS_NAME_MAX_BYTES printable bytes, no blank. */
static int
host_check(const char *s, size_t max, size_t *len)
{
	size_t i, n;

	n = strnlen(s, max + 1);
	if (n == 0 || n > max)
		return CT_ERR_INVALID;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return CT_ERR_INVALID;
	*len = n;
	return 0;
}

static int
copy_peer_names(struct tls_ctx *ctx, const struct tls_ca_opts *o, char *err,
    size_t errsz)
{
	size_t i, n;

	if (o->n_peer_names == 0)
		return 0;
	if ((ctx->peer_names =
	            calloc(o->n_peer_names, sizeof(*ctx->peer_names))) == NULL)
		return CT_ERR_NOMEM;
	for (i = 0; i < o->n_peer_names; i++) {
		if (o->peer_names[i] == NULL ||
		    host_check(o->peer_names[i], TLS_NAME_MAX_BYTES, &n) != 0) {
			errf(err, errsz, "peer name %zu is not a DNS name",
			    i + 1);
			return CT_ERR_INVALID;
		}
		if ((ctx->peer_names[i] = strdup(o->peer_names[i])) == NULL)
			return CT_ERR_NOMEM;
		ctx->n_peer_names = i + 1;
	}
	return 0;
}

int
tls_ctx_use_ca_file(struct tls_ctx *ctx, const struct tls_ca_opts *o, char *err,
    size_t errsz)
{
	struct own_leaf leaf;
	int rc;

	errf(err, errsz, "%s", "");
	if (ctx == NULL || o == NULL || o->ca_file == NULL ||
	    o->cert_file == NULL || ctx->probe || ctx->ca_mode ||
	    ctx->unusable || ctx->refs != 1 ||
	    (o->n_peer_names > 0 && (!ctx->server || o->peer_names == NULL)) ||
	    o->n_peer_names > TLS_MAX_PEER_NAMES) {
		errf(err, errsz, "CA-file mode: bad arguments");
		return CT_ERR_INVALID;
	}
	ctx->unusable = true; /* until every part is in place */
	/* wolfSSL signs with the key loaded below, whatever its type. */
	wolfSSL_CTX_SetEd25519SignCb(ctx->ssl_ctx, NULL);
	if ((rc = load_anchors(ctx, o->ca_file, err, errsz)) != 0 ||
	    (rc = load_chain(ctx, o->cert_file, &leaf, err, errsz)) != 0 ||
	    (rc = load_own_key(ctx, o->cert_file, o->key_file, &leaf, err,
	         errsz)) != 0)
		return rc;
	if ((rc = copy_peer_names(ctx, o, err, errsz)) != 0) {
		if (rc == CT_ERR_NOMEM)
			errf(err, errsz, "out of memory");
		return rc;
	}
	/* No tickets: every connection verifies the chain and dates anew. */
	if (ctx->server && wolfSSL_CTX_no_ticket_TLSv13(ctx->ssl_ctx) != 0) {
		errf(err, errsz, "cannot turn session tickets off");
		return CT_ERR_CRYPTO;
	}
	ctx->ca_mode = true;
	ctx->unusable = false;
	return 0;
}

bool
tls_ctx_ca_mode(const struct tls_ctx *ctx)
{
	return ctx != NULL && ctx->ca_mode;
}

/* ------------------------------------------------------------ connections */

/*
 * A connection with its WOLFSSL object and both handles initialised (so it
 * must end through close_now). 0 or a negative ct_err.
 */
static int
conn_new(struct tls_ctx *ctx, uv_loop_t *loop, const struct tls_callbacks *cb,
    struct tls_conn **out)
{
	struct tls_conn *c;

	*out = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return CT_ERR_NOMEM;
	util_buf_init(&c->in, TLS_MAX_INPUT_BYTES);
	c->alert = -1;
	c->t_start = uv_hrtime();
	if (cb != NULL)
		c->cb = *cb;
	if ((c->ssl = wolfSSL_new(ctx->ssl_ctx)) == NULL) {
		free(c);
		return CT_ERR_NOMEM;
	}
	wolfSSL_SSLSetIORecv(c->ssl, io_recv);
	wolfSSL_SSLSetIOSend(c->ssl, io_send);
	wolfSSL_SetIOReadCtx(c->ssl, c);
	wolfSSL_SetIOWriteCtx(c->ssl, c);
	if (wolfSSL_set_app_data(c->ssl, c) != WOLFSSL_SUCCESS ||
	    uv_tcp_init(loop, &c->tcp) != 0) {
		wolfSSL_free(c->ssl);
		free(c);
		return CT_ERR_CRYPTO;
	}
	c->tcp.data = c;
	c->timer.data = c;
	c->ctx = ctx;
	ctx->refs++;
	c->open_handles = 2;
	if (uv_timer_init(loop, &c->timer) != 0) {
		/* Cannot happen in libuv 1.44; close the TCP handle alone. */
		c->open_handles = 1;
		c->silent = true;
		c->state = CONN_CLOSING;
		uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
		return CT_ERR_IO;
	}
	(void)uv_tcp_nodelay(&c->tcp, 1);
	*out = c;
	return 0;
}

int
tls_accept(struct tls_ctx *ctx, uv_stream_t *server,
    const struct tls_callbacks *cb, struct tls_conn **out)
{
	struct tls_conn *c;
	int rc;

	*out = NULL;
	if (ctx == NULL || server == NULL || !ctx->server || ctx->unusable)
		return CT_ERR_INVALID;
	if ((rc = conn_new(ctx, server->loop, cb, &c)) != 0)
		return rc;
	c->state = CONN_HANDSHAKE;
	if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0 ||
	    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0) {
		c->silent = true;
		close_now(c);
		return CT_ERR_IO;
	}
	(void)uv_tcp_nodelay(&c->tcp, 1);
	tls_set_deadline(c, TLS_DEFAULT_DEADLINE_MS);
	*out = c;
	return 0;
}

static void
on_connect(uv_connect_t *req, int status)
{
	struct tls_conn *c = req->data;

	if (c->state != CONN_CONNECTING)
		return; /* closed meanwhile (UV_ECANCELED) */
	if (status < 0) {
		c->sys_err = status;
		set_error(c, CT_ERR_IO, "connect: %s", uv_strerror(status));
		close_now(c);
		return;
	}
	c->t_connected = uv_hrtime();
	c->state = c->on_plain != NULL ? CONN_PLAIN : CONN_HANDSHAKE;
	if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0) {
		set_error(c, CT_ERR_IO, "cannot read from the socket");
		close_now(c);
		return;
	}
	if (c->state == CONN_PLAIN)
		return; /* the server speaks first */
	c->t_tls = c->t_connected;
	drive(c); /* sends the ClientHello */
}

/*
 * Starts the TCP connect of a new client connection and arms the default
 * deadline. On failure the connection is closed silently.
 */
static int
connect_start(struct tls_conn *c, const struct sockaddr *addr)
{
	int rc;

	c->state = CONN_CONNECTING;
	c->connect_req.data = c;
	if ((rc = uv_tcp_connect(&c->connect_req, &c->tcp, addr, on_connect)) !=
	    0) {
		c->silent = true;
		close_now(c);
		return rc == UV_EINVAL || rc == UV_EAFNOSUPPORT ? CT_ERR_INVALID
		                                                : CT_ERR_IO;
	}
	tls_set_deadline(c, TLS_DEFAULT_DEADLINE_MS);
	return 0;
}

int
tls_connect(struct tls_ctx *ctx, uv_loop_t *loop, const struct sockaddr *addr,
    const uint8_t pin[TLS_KEY_BYTES], const struct tls_session *session,
    const struct tls_callbacks *cb, struct tls_conn **out)
{
	struct tls_conn *c;
	int rc;

	*out = NULL;
	if (ctx == NULL || loop == NULL || addr == NULL || ctx->server ||
	    ctx->probe || ctx->ca_mode || ctx->unusable ||
	    (pin == NULL && ctx->authorize == NULL))
		return CT_ERR_INVALID;
	if ((rc = conn_new(ctx, loop, cb, &c)) != 0)
		return rc;
	if (pin != NULL) {
		memcpy(c->pin, pin, TLS_KEY_BYTES);
		c->has_pin = true;
	}
	/* A stale or foreign session only costs a full handshake. */
	if (session != NULL && session->s != NULL)
		(void)wolfSSL_set_session(c->ssl, session->s);
	if ((rc = connect_start(c, addr)) != 0)
		return rc;
	*out = c;
	return 0;
}

int
tls_connect_name(struct tls_ctx *ctx, uv_loop_t *loop,
    const struct sockaddr *addr, const char *name,
    const struct tls_callbacks *cb, struct tls_conn **out)
{
	struct tls_conn *c;
	size_t n;
	int rc;

	*out = NULL;
	if (ctx == NULL || loop == NULL || addr == NULL || name == NULL ||
	    ctx->server || !ctx->ca_mode || ctx->unusable)
		return CT_ERR_INVALID;
	if ((rc = host_check(name, TLS_NAME_MAX_BYTES, &n)) != 0)
		return rc;
	if ((rc = conn_new(ctx, loop, cb, &c)) != 0)
		return rc;
	memcpy(c->want_name, name, n + 1);
	if (wolfSSL_check_domain_name(c->ssl, c->want_name) !=
	    WOLFSSL_SUCCESS) {
		c->silent = true;
		close_now(c);
		return CT_ERR_CRYPTO;
	}
	if ((rc = connect_start(c, addr)) != 0)
		return rc;
	*out = c;
	return 0;
}

int
tls_write(struct tls_conn *c, const void *p, size_t n)
{
	const uint8_t *b = p;
	size_t queued, off, chunk;
	int ret;

	if (c->state != CONN_OPEN)
		return c->state < CONN_OPEN ? CT_ERR_INVALID : CT_ERR_CLOSED;
	if (n == 0)
		return 0;
	queued = uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp);
	if (n > TLS_MAX_PENDING_WRITE_BYTES ||
	    queued > TLS_MAX_PENDING_WRITE_BYTES - n)
		return CT_ERR_TOO_BIG;
	for (off = 0; off < n; off += (size_t)ret) {
		chunk = n - off < INT_MAX ? n - off : INT_MAX;
		ret = wolfSSL_write(c->ssl, b + off, (int)chunk);
		if (ret <= 0) {
			ssl_error(c, wolfSSL_get_error(c->ssl, ret));
			close_now(c);
			return c->status != 0 ? c->status : CT_ERR_IO;
		}
	}
	return 0;
}

void
tls_close(struct tls_conn *c)
{
	if (c == NULL || c->state >= CONN_SHUTDOWN)
		return;
	if (c->state != CONN_OPEN) {
		set_error(c, CT_ERR_CLOSED,
		    "closed locally before the handshake finished");
		close_now(c);
		return;
	}
	close_flush(c, true);
}

void
tls_set_deadline(struct tls_conn *c, uint64_t ms)
{
	if (c->state >= CONN_SHUTDOWN)
		return;
	if (ms == 0)
		uv_timer_stop(&c->timer);
	else
		uv_timer_start(&c->timer, on_timer, ms, 0);
}

int
tls_conn_peer_pub(const struct tls_conn *c, uint8_t out[TLS_KEY_BYTES])
{
	if (!c->has_peer_pub)
		return CT_ERR_NOT_FOUND;
	memcpy(out, c->peer_pub, TLS_KEY_BYTES);
	return 0;
}

const char *
tls_conn_peer_name(const struct tls_conn *c)
{
	return c->accepted ? c->peer_name : "";
}

bool
tls_conn_ca_mode(const struct tls_conn *c)
{
	return c->ctx->ca_mode;
}

const char *
tls_conn_error(const struct tls_conn *c)
{
	return c->error;
}

void *
tls_conn_arg(const struct tls_conn *c)
{
	return c->cb.arg;
}

bool
tls_conn_resumed(const struct tls_conn *c)
{
	return c->resumed;
}

int
tls_conn_peer_addr(const struct tls_conn *c, struct sockaddr_storage *ss)
{
	int len = sizeof(*ss);

	if (c->state == CONN_CONNECTING || c->state == CONN_CLOSING)
		return CT_ERR_INVALID;
	return uv_tcp_getpeername(&c->tcp, (struct sockaddr *)ss, &len) == 0
	    ? 0
	    : CT_ERR_IO;
}

int
tls_conn_get_session(const struct tls_conn *c, struct tls_session **out)
{
	struct tls_session *s;
	WOLFSSL_SESSION *ws;

	*out = NULL;
	if (c->ctx->server || !c->accepted)
		return CT_ERR_INVALID;
	if (c->ctx->ca_mode) /* the server issues no tickets */
		return CT_ERR_NOT_FOUND;
	if ((ws = wolfSSL_get1_session(c->ssl)) == NULL)
		return CT_ERR_NOT_FOUND;
	if (wolfSSL_SESSION_is_resumable(ws) != 1) {
		wolfSSL_SESSION_free(ws);
		return CT_ERR_NOT_FOUND;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		wolfSSL_SESSION_free(ws);
		return CT_ERR_NOMEM;
	}
	s->s = ws;
	*out = s;
	return 0;
}

void
tls_session_free(struct tls_session *s)
{
	if (s == NULL)
		return;
	wolfSSL_SESSION_free(s->s);
	free(s);
}

/* ------------------------------------------------------------ probe mode */

int
tls_ctx_new_probe(struct tls_ctx **out)
{
	struct tls_ctx *ctx;
	int groups[] = {WOLFSSL_ECC_X25519, WOLFSSL_ECC_SECP256R1,
	    WOLFSSL_ECC_SECP384R1};

	*out = NULL;
	if ((ctx = calloc(1, sizeof(*ctx))) == NULL)
		return CT_ERR_NOMEM;
	ctx->refs = 1;
	ctx->probe = true;
	ctx->linger_ms = TLS_PROBE_LINGER_MS;
	ctx->ssl_ctx = wolfSSL_CTX_new(wolfSSLv23_client_method());
	if (ctx->ssl_ctx == NULL ||
	    wolfSSL_CTX_SetMinVersion(ctx->ssl_ctx, WOLFSSL_TLSV1_2) !=
	        WOLFSSL_SUCCESS ||
	    wolfSSL_CTX_set_groups(ctx->ssl_ctx, groups,
	        (int)(sizeof(groups) / sizeof(groups[0]))) != WOLFSSL_SUCCESS) {
		tls_ctx_free(ctx);
		return CT_ERR_CRYPTO;
	}
	/* VERIFY_PEER so that the callback sees (and keeps) the chain; it
	 * accepts whatever comes. */
	wolfSSL_CTX_set_verify(ctx->ssl_ctx, WOLFSSL_VERIFY_PEER, verify_cb);
	wolfSSL_CTX_SetIORecv(ctx->ssl_ctx, io_recv);
	wolfSSL_CTX_SetIOSend(ctx->ssl_ctx, io_send);
	*out = ctx;
	return 0;
}

/* An SNI host name: 1..TLS_MAX_SNI_BYTES printable bytes, no space. */
static int
sni_check(const char *sni, size_t *len)
{
	size_t i, n;

	n = strnlen(sni, TLS_MAX_SNI_BYTES + 1);
	if (n == 0 || n > TLS_MAX_SNI_BYTES)
		return CT_ERR_INVALID;
	for (i = 0; i < n; i++)
		if ((unsigned char)sni[i] <= 0x20 ||
		    (unsigned char)sni[i] >= 0x7f)
			return CT_ERR_INVALID;
	*len = n;
	return 0;
}

int
tls_connect_probe(struct tls_ctx *ctx, uv_loop_t *loop,
    const struct sockaddr *addr, const struct tls_probe_params *params,
    const struct tls_callbacks *cb, struct tls_conn **out)
{
	struct tls_conn *c;
	size_t sni_len = 0;
	int rc;

	*out = NULL;
	if (ctx == NULL || loop == NULL || addr == NULL || !ctx->probe)
		return CT_ERR_INVALID;
	if (params != NULL && params->sni != NULL &&
	    (rc = sni_check(params->sni, &sni_len)) != 0)
		return rc;
	if ((rc = conn_new(ctx, loop, cb, &c)) != 0)
		return rc;
	if (sni_len > 0 &&
	    wolfSSL_UseSNI(c->ssl, WOLFSSL_SNI_HOST_NAME, params->sni,
	        (unsigned short)sni_len) != WOLFSSL_SUCCESS) {
		c->silent = true;
		close_now(c);
		return CT_ERR_CRYPTO;
	}
	if (params != NULL)
		c->on_plain = params->on_plain;
	if ((rc = connect_start(c, addr)) != 0)
		return rc;
	*out = c;
	return 0;
}

int
tls_plain_write(struct tls_conn *c, const void *p, size_t n)
{
	struct write_req *w;
	uv_buf_t b;

	if (c->state != CONN_PLAIN)
		return CT_ERR_INVALID;
	if (n > TLS_MAX_PLAIN_WRITE_BYTES)
		return CT_ERR_TOO_BIG;
	if (n == 0)
		return 0;
	if ((w = malloc(sizeof(*w) + n)) == NULL)
		return CT_ERR_NOMEM;
	memcpy(w->data, p, n);
	b = uv_buf_init((char *)w->data, (unsigned)n);
	w->req.data = c;
	if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_write) != 0) {
		free(w);
		return CT_ERR_IO;
	}
	return 0;
}

size_t
tls_conn_peer_chain_count(const struct tls_conn *c)
{
	return c->n_chain;
}

int
tls_conn_peer_cert(const struct tls_conn *c, size_t i, const uint8_t **der,
    size_t *len)
{
	if (i >= c->n_chain || c->chain[i] == NULL)
		return CT_ERR_NOT_FOUND;
	*der = c->chain[i];
	*len = c->chain_len[i];
	return 0;
}

const char *
tls_conn_version(const struct tls_conn *c)
{
	return c->version;
}

const char *
tls_conn_cipher(const struct tls_conn *c)
{
	return c->cipher;
}

int
tls_conn_alert(const struct tls_conn *c)
{
	return c->alert;
}

int
tls_conn_sys_error(const struct tls_conn *c)
{
	return c->sys_err;
}

static double
span_ms(uint64_t from, uint64_t to)
{
	return from != 0 && to >= from ? (double)(to - from) / 1e6 : 0.0;
}

void
tls_conn_times(const struct tls_conn *c, struct tls_times *t)
{
	t->connect_ms = span_ms(c->t_start, c->t_connected);
	t->plain_ms =
	    c->on_plain != NULL ? span_ms(c->t_connected, c->t_tls) : 0.0;
	t->handshake_ms = span_ms(c->t_tls, c->t_done);
}
