/*
 * cert: certificates and precertificates, parsed with our own DER walker
 * (wolfSSL's X509 layer refuses precerts, Ed25519 and unknown critical
 * extensions), and the CT-normalised TBS (DESIGN.md section 3).
 */
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/hash.h>

#include <stdlib.h>
#include <string.h>

#include "cert.h"
#include "der.h"
#include "sig.h"
#include "util.h"

#define CERT_MAX_SERIAL_BYTES 64 /* RFC 5280 says 20; some CAs overshoot */
#define CERT_MAX_DN_RDNS 256     /* RDNs rendered per Name (text is cut) */
#define CERT_MAX_TBS_OUT_BYTES (3 * CERT_MAX_DER_BYTES) /* rebuilt TBS */
#define CERT_MAX_CN_BYTES (4 * CERT_MAX_DER_BYTES)      /* decoded CN */
#define CERT_DN_RAW_BYTES (CERT_MAX_DN_TEXT + 8)        /* > text: marks cuts */
#define CERT_PEM_LABEL_BYTES 64

/* Extension and attribute OIDs, DER content bytes. */
static const uint8_t oid_ct_poison[] = {0x2b, 0x06, 0x01, 0x04, 0x01, 0xd6,
    0x79, 0x02, 0x04, 0x03};
static const uint8_t oid_ct_scts[] = {0x2b, 0x06, 0x01, 0x04, 0x01, 0xd6, 0x79,
    0x02, 0x04, 0x02};
static const uint8_t oid_ct_precert_signer[] = {0x2b, 0x06, 0x01, 0x04, 0x01,
    0xd6, 0x79, 0x02, 0x04, 0x04};
static const uint8_t oid_ski[] = {0x55, 0x1d, 0x0e};
static const uint8_t oid_san[] = {0x55, 0x1d, 0x11};
static const uint8_t oid_basic_constraints[] = {0x55, 0x1d, 0x13};
static const uint8_t oid_aki[] = {0x55, 0x1d, 0x23};
static const uint8_t oid_eku[] = {0x55, 0x1d, 0x25};

/* Key types, to tell "wrong issuer" from "cannot check". */
static const uint8_t oid_rsa_enc[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01,
    0x01, 0x01};
static const uint8_t oid_ec_pub[] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01};
static const uint8_t oid_ed25519[] = {0x2b, 0x65, 0x70};

#define TAG_DNS_NAME DER_CTX(2)
#define TAG_AKI_KEYID DER_CTX(0)

struct attr_name {
	uint8_t oid[10];
	size_t oid_len;
	const char *name;
};

static const struct attr_name attr_names[] = {
    {{0x55, 0x04, 0x03}, 3, "CN"},
    {{0x55, 0x04, 0x04}, 3, "SN"},
    {{0x55, 0x04, 0x05}, 3, "serialNumber"},
    {{0x55, 0x04, 0x06}, 3, "C"},
    {{0x55, 0x04, 0x07}, 3, "L"},
    {{0x55, 0x04, 0x08}, 3, "ST"},
    {{0x55, 0x04, 0x09}, 3, "street"},
    {{0x55, 0x04, 0x0a}, 3, "O"},
    {{0x55, 0x04, 0x0b}, 3, "OU"},
    {{0x55, 0x04, 0x0c}, 3, "title"},
    {{0x55, 0x04, 0x0f}, 3, "businessCategory"},
    {{0x55, 0x04, 0x11}, 3, "postalCode"},
    {{0x55, 0x04, 0x2a}, 3, "GN"},
    {{0x55, 0x04, 0x2b}, 3, "initials"},
    {{0x55, 0x04, 0x2e}, 3, "dnQualifier"},
    {{0x55, 0x04, 0x41}, 3, "pseudonym"},
    {{0x55, 0x04, 0x61}, 3, "organizationIdentifier"},
    {{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01}, 9, "emailAddress"},
    {{0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x19}, 10, "DC"},
    {{0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x01}, 10, "UID"},
};

/* The top-level fields of a TBSCertificate, as TLVs inside it. */
struct tbs_parts {
	struct der_tlv tbs;
	uint64_t version; /* 0 = v1, 2 = v3 */
	struct der_tlv serial, sigalg, issuer, validity, subject, spki;
	bool has_ext;
	struct der_tlv ext_wrap; /* [3] */
	struct der_tlv ext_seq;  /* the Extensions SEQUENCE inside it */
};

/* One Extension. */
struct ext {
	struct der_tlv raw, oid, crit, value;
	bool has_crit;
};

/* ------------------------------------------------------------ walking */

static int
tbs_version(struct der_cursor *in, uint64_t *version)
{
	struct der_cursor vc;
	struct der_tlv t, v;
	int rc;

	*version = 0;
	if ((rc = der_optional(in, DER_CTX_CONS(0), &t)) < 0)
		return rc;
	if (rc == 0)
		return 0; /* DEFAULT v1 */
	der_enter(&t, &vc);
	if ((rc = der_expect(&vc, DER_INTEGER, &v)) != 0)
		return rc;
	if (!der_empty(&vc))
		return CT_ERR_FORMAT;
	if ((rc = der_get_uint(&v, version)) != 0)
		return CT_ERR_FORMAT;
	if (*version != 0 && *version != 2)
		return CT_ERR_UNSUPPORTED; /* v2, or unknown */
	return 0;
}

/*
 * Splits a TBSCertificate TLV (exactly p..p+len) into its fields and checks
 * their outer tags. 0 or a negative ct_err.
 */
static int
tbs_split(const uint8_t *p, size_t len, struct tbs_parts *tp)
{
	struct der_cursor c, in;
	struct der_tlv uid;
	int rc;

	memset(tp, 0, sizeof(*tp));
	der_init(&c, p, len);
	if ((rc = der_expect(&c, DER_SEQUENCE, &tp->tbs)) != 0)
		return rc;
	if (!der_empty(&c))
		return CT_ERR_TRAILING;
	der_enter(&tp->tbs, &in);
	if ((rc = tbs_version(&in, &tp->version)) != 0 ||
	    (rc = der_expect(&in, DER_INTEGER, &tp->serial)) != 0 ||
	    (rc = der_expect(&in, DER_SEQUENCE, &tp->sigalg)) != 0 ||
	    (rc = der_expect(&in, DER_SEQUENCE, &tp->issuer)) != 0 ||
	    (rc = der_expect(&in, DER_SEQUENCE, &tp->validity)) != 0 ||
	    (rc = der_expect(&in, DER_SEQUENCE, &tp->subject)) != 0 ||
	    (rc = der_expect(&in, DER_SEQUENCE, &tp->spki)) != 0)
		return rc;
	/* issuerUniqueID [1], subjectUniqueID [2]: not in v1. */
	if ((rc = der_optional(&in, DER_CTX(1), &uid)) < 0)
		return rc;
	if (rc == 1 && tp->version == 0)
		return CT_ERR_FORMAT;
	if ((rc = der_optional(&in, DER_CTX(2), &uid)) < 0)
		return rc;
	if (rc == 1 && tp->version == 0)
		return CT_ERR_FORMAT;
	if ((rc = der_optional(&in, DER_CTX_CONS(3), &tp->ext_wrap)) < 0)
		return rc;
	if (rc == 1) {
		struct der_cursor w;

		if (tp->version != 2)
			return CT_ERR_FORMAT;
		der_enter(&tp->ext_wrap, &w);
		if ((rc = der_expect(&w, DER_SEQUENCE, &tp->ext_seq)) != 0)
			return rc;
		if (!der_empty(&w))
			return CT_ERR_FORMAT;
		tp->has_ext = true;
	}
	return der_empty(&in) ? 0 : CT_ERR_FORMAT;
}

/* Reads the next Extension from an Extensions cursor. */
static int
ext_next(struct der_cursor *c, struct ext *e)
{
	struct der_cursor in;
	int rc;

	memset(e, 0, sizeof(*e));
	if ((rc = der_expect(c, DER_SEQUENCE, &e->raw)) != 0)
		return rc;
	der_enter(&e->raw, &in);
	if ((rc = der_expect(&in, DER_OID, &e->oid)) != 0)
		return rc;
	if (e->oid.len == 0)
		return CT_ERR_FORMAT;
	if ((rc = der_optional(&in, DER_BOOLEAN, &e->crit)) < 0)
		return rc;
	if (rc == 1) {
		if (e->crit.len != 1)
			return CT_ERR_FORMAT;
		e->has_crit = true;
	}
	if ((rc = der_expect(&in, DER_OCTET_STRING, &e->value)) != 0)
		return rc;
	return der_empty(&in) ? 0 : CT_ERR_FORMAT;
}

/* The single TLV, of tag, that an extension's value holds. */
static int
ext_inner(const struct ext *e, uint8_t tag, struct der_tlv *t)
{
	struct der_cursor c;
	int rc;

	der_init(&c, e->value.val, e->value.len);
	if ((rc = der_expect(&c, tag, t)) != 0)
		return rc;
	return der_empty(&c) ? 0 : CT_ERR_FORMAT;
}

/* ------------------------------------------------------------ DN text */

struct textbuf {
	char raw[CERT_DN_RAW_BYTES];
	size_t len;
};

static void
tb_put(struct textbuf *tb, const void *p, size_t n)
{
	size_t room = sizeof(tb->raw) - tb->len;

	if (n > room)
		n = room;
	memcpy(tb->raw + tb->len, p, n);
	tb->len += n;
}

static void
tb_str(struct textbuf *tb, const char *s)
{
	tb_put(tb, s, strlen(s));
}

/* Appends code point cp as UTF-8 ('?' for surrogates and beyond). */
static int
put_utf8(struct util_buf *b, uint32_t cp)
{
	uint8_t u[4];
	size_t n;

	if (cp >= 0xd800 && cp <= 0xdfff)
		cp = '?';
	if (cp > 0x10ffff)
		cp = '?';
	if (cp < 0x80) {
		u[0] = (uint8_t)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (uint8_t)(0xc0 | cp >> 6);
		u[1] = (uint8_t)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (uint8_t)(0xe0 | cp >> 12);
		u[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
		u[2] = (uint8_t)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		u[0] = (uint8_t)(0xf0 | cp >> 18);
		u[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3f));
		u[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
		u[3] = (uint8_t)(0x80 | (cp & 0x3f));
		n = 4;
	}
	return util_buf_append(b, u, n);
}

/*
 * Decodes a directory string to UTF-8 bytes in b: UTF8String and the
 * ASCII types as they are, T61String as Latin-1, BMPString (UCS-2) and
 * UniversalString (UCS-4). Other types: '#' and the hex of the TLV.
 * Returns 0 or CT_ERR_TOO_BIG / CT_ERR_NOMEM.
 */
static int
dirstring_decode(const struct der_tlv *v, struct util_buf *b)
{
	size_t i;
	int rc = 0;

	switch (v->tag) {
	case DER_UTF8_STRING:
	case DER_PRINTABLE_STRING:
	case DER_IA5_STRING:
	case 0x12: /* NumericString */
	case 0x1a: /* VisibleString */
		return util_buf_append(b, v->val, v->len);
	case DER_T61_STRING:
		for (i = 0; i < v->len && rc == 0; i++)
			rc = put_utf8(b, v->val[i]);
		return rc;
	case DER_BMP_STRING:
		for (i = 0; i + 1 < v->len && rc == 0; i += 2)
			rc = put_utf8(b,
			    (uint32_t)v->val[i] << 8 | v->val[i + 1]);
		if (rc == 0 && v->len % 2)
			rc = put_utf8(b, '?');
		return rc;
	case DER_UNIVERSAL_STRING:
		for (i = 0; i + 3 < v->len && rc == 0; i += 4)
			rc = put_utf8(b,
			    (uint32_t)v->val[i] << 24 |
			        (uint32_t)v->val[i + 1] << 16 |
			        (uint32_t)v->val[i + 2] << 8 | v->val[i + 3]);
		if (rc == 0 && v->len % 4)
			rc = put_utf8(b, '?');
		return rc;
	default:
		if ((rc = util_buf_append(b, "#", 1)) != 0)
			return rc;
		for (i = 0; i < v->raw_len && rc == 0; i++) {
			char h[3];

			util_hex_encode(v->raw + i, 1, h);
			rc = util_buf_append(b, h, 2);
		}
		return rc;
	}
}

static void
attr_type_text(const struct der_tlv *oid, struct textbuf *tb)
{
	char dotted[128];
	size_t i;

	for (i = 0; i < sizeof(attr_names) / sizeof(attr_names[0]); i++) {
		if (der_oid_eq(oid, attr_names[i].oid, attr_names[i].oid_len)) {
			tb_str(tb, attr_names[i].name);
			return;
		}
	}
	if (der_oid_text(oid, dotted, sizeof(dotted)) == 0)
		tb_str(tb, dotted);
	else
		tb_str(tb, "?");
}

/* Appends a value, escaping the RFC 4514 separators. */
static void
attr_value_text(const struct util_buf *v, struct textbuf *tb)
{
	size_t i;

	for (i = 0; i < v->len && tb->len < sizeof(tb->raw); i++) {
		uint8_t ch = v->data[i];

		if (ch == ',' || ch == '+' || ch == '\\' || ch == ';' ||
		    ch == '"' || ch == '<' || ch == '>')
			tb_put(tb, "\\", 1);
		tb_put(tb, &ch, 1);
	}
}

/*
 * Renders one RDN ("CN=x" or "CN=x+O=y") into tb, and keeps the first CN
 * seen in *cn (decoded bytes, NUL-terminated). 0 or a negative ct_err.
 */
static int
rdn_text(const struct der_tlv *rdn, struct textbuf *tb, char **cn, bool want_cn)
{
	static const uint8_t oid_cn[] = {0x55, 0x04, 0x03};
	struct der_cursor set, atv;
	struct der_tlv seq, oid, val;
	struct util_buf v;
	bool first = true;
	int rc = 0;

	util_buf_init(&v, CERT_MAX_CN_BYTES);
	der_enter(rdn, &set);
	while (!der_empty(&set)) {
		if ((rc = der_expect(&set, DER_SEQUENCE, &seq)) != 0)
			goto out;
		der_enter(&seq, &atv);
		if ((rc = der_expect(&atv, DER_OID, &oid)) != 0 ||
		    (rc = der_next(&atv, &val)) != 0)
			goto out;
		if (!der_empty(&atv) || oid.len == 0) {
			rc = CT_ERR_FORMAT;
			goto out;
		}
		v.len = 0;
		if ((rc = dirstring_decode(&val, &v)) != 0)
			goto out;
		if (!first)
			tb_str(tb, "+");
		first = false;
		attr_type_text(&oid, tb);
		tb_str(tb, "=");
		attr_value_text(&v, tb);
		if (want_cn && *cn == NULL &&
		    der_oid_eq(&oid, oid_cn, sizeof(oid_cn))) {
			if ((*cn = malloc(v.len + 1)) == NULL) {
				rc = CT_ERR_NOMEM;
				goto out;
			}
			if (v.len > 0)
				memcpy(*cn, v.data, v.len);
			(*cn)[v.len] = '\0';
		}
	}
out:
	util_buf_clear(&v);
	return rc;
}

/*
 * Renders a Name in DER order (first RDN first, as openssl and crt.sh
 * show it: "C=US, O=Let's Encrypt, CN=R11"), sanitised and cut to
 * CERT_MAX_DN_TEXT, into a malloc'd *text; *cn gets the first CN (in DER
 * order) when cn is not NULL. 0 or a negative ct_err for a malformed Name.
 */
static int
name_text(const struct der_tlv *name, char **text, char **cn)
{
	struct der_tlv rdns[CERT_MAX_DN_RDNS], rdn;
	struct der_cursor c;
	struct textbuf *tb = NULL;
	char *first_cn = NULL;
	size_t n = 0, i, k;
	int rc;

	*text = NULL;
	/* The first CN in DER order: one forward pass. */
	der_enter(name, &c);
	while (!der_empty(&c)) {
		struct textbuf scratch;

		if ((rc = der_expect(&c, DER_SET, &rdn)) != 0)
			goto out;
		scratch.len = 0;
		if ((rc = rdn_text(&rdn, &scratch, &first_cn, cn != NULL)) != 0)
			goto out;
		if (n < CERT_MAX_DN_RDNS)
			rdns[n] = rdn;
		n++;
	}
	if ((tb = malloc(sizeof(*tb))) == NULL) {
		rc = CT_ERR_NOMEM;
		goto out;
	}
	tb->len = 0;
	k = n < CERT_MAX_DN_RDNS ? n : CERT_MAX_DN_RDNS;
	for (i = 0; i < k; i++) {
		if (i > 0)
			tb_str(tb, ", ");
		if ((rc = rdn_text(&rdns[i], tb, NULL, false)) != 0)
			goto out;
	}
	if (n > k)
		tb_str(tb, ", ...");
	if ((*text = malloc(CERT_MAX_DN_TEXT)) == NULL) {
		rc = CT_ERR_NOMEM;
		goto out;
	}
	util_sanitize(tb->raw, tb->len, *text, CERT_MAX_DN_TEXT);
	if (cn != NULL) {
		*cn = first_cn;
		first_cn = NULL;
	}
	rc = 0;
out:
	free(first_cn);
	free(tb);
	return rc;
}

/* ------------------------------------------------------------ extensions */

static int
add_dns_name(struct ct_cert *c, const struct der_tlv *t, size_t *cap)
{
	struct cert_name *nn;
	size_t len = t->len;

	if (c->n_dns_names >= CERT_MAX_NAMES) {
		c->dns_names_truncated = true;
		return 0;
	}
	if (c->n_dns_names == *cap) {
		size_t ncap = *cap ? *cap * 2 : 8;

		if (ncap > CERT_MAX_NAMES)
			ncap = CERT_MAX_NAMES;
		nn = realloc(c->dns_names, ncap * sizeof(*nn));
		if (nn == NULL)
			return CT_ERR_NOMEM;
		c->dns_names = nn;
		*cap = ncap;
	}
	if (len > CERT_MAX_NAME_BYTES)
		len = CERT_MAX_NAME_BYTES;
	nn = &c->dns_names[c->n_dns_names];
	if ((nn->name = malloc(len + 1)) == NULL)
		return CT_ERR_NOMEM;
	if (len > 0)
		memcpy(nn->name, t->val, len);
	nn->name[len] = '\0';
	nn->len = len;
	c->n_dns_names++;
	return 0;
}

static int
ext_san(struct ct_cert *c, const struct ext *e, size_t *cap)
{
	struct der_cursor gn;
	struct der_tlv seq, t;
	int rc;

	if ((rc = ext_inner(e, DER_SEQUENCE, &seq)) != 0)
		return rc;
	der_enter(&seq, &gn);
	while (!der_empty(&gn)) {
		if ((rc = der_next(&gn, &t)) != 0)
			return rc;
		if ((t.tag & 0xc0) != 0x80)
			return CT_ERR_FORMAT; /* GeneralNames are [n] */
		if (t.tag == TAG_DNS_NAME &&
		    (rc = add_dns_name(c, &t, cap)) != 0)
			return rc;
	}
	return 0;
}

static int
ext_basic_constraints(struct ct_cert *c, const struct ext *e)
{
	struct der_cursor in;
	struct der_tlv seq, t;
	uint64_t v;
	int rc;

	if ((rc = ext_inner(e, DER_SEQUENCE, &seq)) != 0)
		return rc;
	der_enter(&seq, &in);
	if ((rc = der_optional(&in, DER_BOOLEAN, &t)) < 0)
		return rc;
	if (rc == 1) {
		if (t.len != 1)
			return CT_ERR_FORMAT;
		if (t.val[0] != 0)
			c->is_ca = true;
	}
	if ((rc = der_optional(&in, DER_INTEGER, &t)) < 0)
		return rc;
	if (rc == 1 && der_get_uint(&t, &v) != 0)
		return CT_ERR_FORMAT;
	return der_empty(&in) ? 0 : CT_ERR_FORMAT;
}

static int
ext_eku(struct ct_cert *c, const struct ext *e)
{
	struct der_cursor in;
	struct der_tlv seq, t;
	int rc;

	if ((rc = ext_inner(e, DER_SEQUENCE, &seq)) != 0)
		return rc;
	der_enter(&seq, &in);
	while (!der_empty(&in)) {
		if ((rc = der_expect(&in, DER_OID, &t)) != 0)
			return rc;
		if (der_oid_eq(&t, oid_ct_precert_signer,
		        sizeof(oid_ct_precert_signer)))
			c->precert_signer = true;
	}
	return 0;
}

/* AKI: SEQUENCE { [0] keyid OPTIONAL, [1] issuer OPTIONAL, [2] serial }. */
static int
aki_split(const struct ext *e, struct der_tlv *keyid, bool *has_keyid,
    struct der_cursor *rest)
{
	struct der_tlv seq;
	int rc;

	if ((rc = ext_inner(e, DER_SEQUENCE, &seq)) != 0)
		return rc;
	der_enter(&seq, rest);
	if ((rc = der_optional(rest, TAG_AKI_KEYID, keyid)) < 0)
		return rc;
	*has_keyid = rc == 1;
	return 0;
}

static int
ext_aki_check(const struct ext *e)
{
	struct der_cursor rest;
	struct der_tlv keyid, t;
	bool has;
	int rc;

	if ((rc = aki_split(e, &keyid, &has, &rest)) != 0)
		return rc;
	if ((rc = der_optional(&rest, DER_CTX_CONS(1), &t)) < 0)
		return rc;
	if ((rc = der_optional(&rest, DER_CTX(2), &t)) < 0)
		return rc;
	return der_empty(&rest) ? 0 : CT_ERR_FORMAT;
}

static int
ext_one(struct ct_cert *c, const struct ext *e, size_t *cap)
{
	struct der_tlv t;
	int rc;

	if (der_oid_eq(&e->oid, oid_ct_poison, sizeof(oid_ct_poison))) {
		/* Value ASN.1 NULL; critical per RFC 6962. */
		if ((rc = ext_inner(e, DER_NULL, &t)) != 0)
			return rc;
		if (t.len != 0)
			return CT_ERR_FORMAT;
		c->precert = true;
		return 0;
	}
	if (der_oid_eq(&e->oid, oid_ct_scts, sizeof(oid_ct_scts))) {
		if ((rc = ext_inner(e, DER_OCTET_STRING, &t)) != 0)
			return rc;
		if (c->sct_list == NULL) {
			c->sct_list = t.val;
			c->sct_list_len = t.len;
		}
		return 0;
	}
	if (der_oid_eq(&e->oid, oid_san, sizeof(oid_san)))
		return ext_san(c, e, cap);
	if (der_oid_eq(&e->oid, oid_basic_constraints,
	        sizeof(oid_basic_constraints)))
		return ext_basic_constraints(c, e);
	if (der_oid_eq(&e->oid, oid_eku, sizeof(oid_eku)))
		return ext_eku(c, e);
	if (der_oid_eq(&e->oid, oid_aki, sizeof(oid_aki)))
		return ext_aki_check(e);
	if (der_oid_eq(&e->oid, oid_ski, sizeof(oid_ski)))
		return ext_inner(e, DER_OCTET_STRING, &t);
	return 0; /* others, critical or not: a monitor, not a validator */
}

static int
parse_extensions(struct ct_cert *c, const struct tbs_parts *tp)
{
	struct der_cursor in;
	struct ext e;
	size_t cap = 0;
	int rc;

	if (!tp->has_ext)
		return 0;
	der_enter(&tp->ext_seq, &in);
	while (!der_empty(&in)) {
		if ((rc = ext_next(&in, &e)) != 0)
			return rc;
		if ((rc = ext_one(c, &e, &cap)) != 0)
			return rc;
	}
	return 0;
}

/* ------------------------------------------------------------ TBS rebuild */

static int
put_hdr(struct util_buf *b, uint8_t tag, size_t len)
{
	uint8_t h[6];
	size_t n = der_put_header(h, tag, len);

	return util_buf_append(b, h, n);
}

static int
put_tlv(struct util_buf *b, uint8_t tag, const uint8_t *p, size_t len)
{
	int rc;

	if ((rc = put_hdr(b, tag, len)) != 0)
		return rc;
	return len > 0 ? util_buf_append(b, p, len) : 0;
}

/* What a precert's AKI must say once its issuer is the final issuer. */
struct aki_repl {
	const uint8_t *keyid; /* final issuer's SKI, or NULL: keep */
	size_t keyid_len;
	const uint8_t *issuer_name; /* final issuer's issuer Name TLV */
	size_t issuer_name_len;
	const uint8_t *serial; /* final issuer's serial, INTEGER content */
	size_t serial_len;
};

/*
 * The content of the rewritten AuthorityKeyIdentifier SEQUENCE: each field
 * the precert's AKI has is replaced by the final issuer's (keyIdentifier
 * = its SKI, authorityCertIssuer = its issuer as a directoryName,
 * authorityCertSerialNumber = its serial); absent fields stay absent.
 */
static int
aki_content(const struct ext *e, const struct aki_repl *r, struct util_buf *b)
{
	struct der_cursor rest;
	struct der_tlv keyid, t;
	bool has;
	size_t gn;
	int rc;

	if ((rc = aki_split(e, &keyid, &has, &rest)) != 0)
		return rc;
	if (has && r->keyid != NULL)
		rc = put_tlv(b, TAG_AKI_KEYID, r->keyid, r->keyid_len);
	else if (has)
		rc = util_buf_append(b, keyid.raw, keyid.raw_len);
	if (rc != 0)
		return rc;
	if ((rc = der_optional(&rest, DER_CTX_CONS(1), &t)) < 0)
		return rc;
	if (rc == 1) {
		gn = der_header_len(r->issuer_name_len) + r->issuer_name_len;
		if ((rc = put_hdr(b, DER_CTX_CONS(1), gn)) != 0 ||
		    (rc = put_tlv(b, DER_CTX_CONS(4), r->issuer_name,
		         r->issuer_name_len)) != 0)
			return rc;
	}
	if ((rc = der_optional(&rest, DER_CTX(2), &t)) < 0)
		return rc;
	if (rc == 1 &&
	    (rc = put_tlv(b, DER_CTX(2), r->serial, r->serial_len)) != 0)
		return rc;
	return der_empty(&rest) ? 0 : CT_ERR_FORMAT;
}

/* Appends the AKI extension e rewritten for the final issuer. */
static int
aki_rewrite(const struct ext *e, const struct aki_repl *r, struct util_buf *b)
{
	struct util_buf inner;
	size_t seq, oct, body;
	int rc;

	util_buf_init(&inner, CERT_MAX_TBS_OUT_BYTES);
	if ((rc = aki_content(e, r, &inner)) != 0)
		goto out;
	seq = der_header_len(inner.len) + inner.len;
	oct = der_header_len(seq) + seq;
	body = e->oid.raw_len + (e->has_crit ? e->crit.raw_len : 0) + oct;
	if ((rc = put_hdr(b, DER_SEQUENCE, body)) != 0 ||
	    (rc = util_buf_append(b, e->oid.raw, e->oid.raw_len)) != 0)
		goto out;
	if (e->has_crit &&
	    (rc = util_buf_append(b, e->crit.raw, e->crit.raw_len)) != 0)
		goto out;
	if ((rc = put_hdr(b, DER_OCTET_STRING, seq)) != 0 ||
	    (rc = put_tlv(b, DER_SEQUENCE, inner.data, inner.len)) != 0)
		goto out;
out:
	util_buf_clear(&inner);
	return rc;
}

/*
 * Collects the extensions kept in the normalised TBS into b: all but the
 * poison and the SCT list, with the AKI rewritten when r is not NULL.
 * *changed tells whether anything differs from the original.
 */
static int
kept_extensions(const struct tbs_parts *tp, const struct aki_repl *r,
    struct util_buf *b, bool *changed)
{
	struct der_cursor in;
	struct ext e;
	int rc;

	*changed = false;
	if (!tp->has_ext)
		return 0;
	der_enter(&tp->ext_seq, &in);
	while (!der_empty(&in)) {
		if ((rc = ext_next(&in, &e)) != 0)
			return rc;
		if (der_oid_eq(&e.oid, oid_ct_poison, sizeof(oid_ct_poison)) ||
		    der_oid_eq(&e.oid, oid_ct_scts, sizeof(oid_ct_scts))) {
			*changed = true;
			continue;
		}
		if (r != NULL && der_oid_eq(&e.oid, oid_aki, sizeof(oid_aki))) {
			if ((rc = aki_rewrite(&e, r, b)) != 0)
				return rc;
			*changed = true;
			continue;
		}
		if ((rc = util_buf_append(b, e.raw.raw, e.raw.raw_len)) != 0)
			return rc;
	}
	return 0;
}

/* Writes SEQUENCE { pre, issuer, mid, [3] { SEQUENCE { ext } } } to res. */
static int
tbs_assemble(const struct tbs_parts *tp, const uint8_t *issuer,
    size_t issuer_len, const struct util_buf *ext, struct util_buf *res)
{
	const uint8_t *start = tp->tbs.val, *mid, *end;
	size_t pre_len, mid_len, seq_len = 0, wrap_len = 0, content;
	int rc;

	pre_len = (size_t)(tp->issuer.raw - start);
	mid = tp->issuer.raw + tp->issuer.raw_len;
	end = tp->has_ext ? tp->ext_wrap.raw : tp->tbs.val + tp->tbs.len;
	mid_len = (size_t)(end - mid);
	if (ext->len > 0) {
		seq_len = der_header_len(ext->len) + ext->len;
		wrap_len = der_header_len(seq_len) + seq_len;
	}
	content = pre_len + issuer_len + mid_len + wrap_len;
	if ((rc = put_hdr(res, DER_SEQUENCE, content)) != 0 ||
	    (rc = util_buf_append(res, start, pre_len)) != 0 ||
	    (rc = util_buf_append(res, issuer, issuer_len)) != 0 ||
	    (rc = util_buf_append(res, mid, mid_len)) != 0)
		return rc;
	if (ext->len == 0)
		return 0; /* no extension left: no [3] either */
	if ((rc = put_hdr(res, DER_CTX_CONS(3), seq_len)) != 0 ||
	    (rc = put_tlv(res, DER_SEQUENCE, ext->data, ext->len)) != 0)
		return rc;
	return 0;
}

/* The SubjectKeyIdentifier of c: 0 with a view, or CT_ERR_NOT_FOUND. */
static int
find_ski(const struct ct_cert *c, const uint8_t **ski, size_t *ski_len)
{
	struct tbs_parts tp;
	struct der_cursor in;
	struct der_tlv t;
	struct ext e;
	int rc;

	if ((rc = tbs_split(c->tbs, c->tbs_len, &tp)) != 0)
		return rc;
	if (!tp.has_ext)
		return CT_ERR_NOT_FOUND;
	der_enter(&tp.ext_seq, &in);
	while (!der_empty(&in)) {
		if ((rc = ext_next(&in, &e)) != 0)
			return rc;
		if (!der_oid_eq(&e.oid, oid_ski, sizeof(oid_ski)))
			continue;
		if ((rc = ext_inner(&e, DER_OCTET_STRING, &t)) != 0)
			return rc;
		*ski = t.val;
		*ski_len = t.len;
		return 0;
	}
	return CT_ERR_NOT_FOUND;
}

/*
 * The normalised TBS of c; when final_issuer is not NULL, with issuer and
 * AKI rewritten to the final issuer's (RFC 6962 section 3.2).
 */
static int
tbs_build(const struct ct_cert *c, const struct ct_cert *final_issuer,
    uint8_t **out, size_t *out_len)
{
	struct tbs_parts tp;
	struct aki_repl repl, *r = NULL;
	struct util_buf ext, res;
	const uint8_t *issuer;
	size_t issuer_len;
	bool changed;
	int rc;

	*out = NULL;
	*out_len = 0;
	util_buf_init(&ext, CERT_MAX_TBS_OUT_BYTES);
	util_buf_init(&res, CERT_MAX_TBS_OUT_BYTES);
	if ((rc = tbs_split(c->tbs, c->tbs_len, &tp)) != 0)
		goto out;
	issuer = tp.issuer.raw;
	issuer_len = tp.issuer.raw_len;
	if (final_issuer != NULL) {
		memset(&repl, 0, sizeof(repl));
		rc = find_ski(final_issuer, &repl.keyid, &repl.keyid_len);
		if (rc != 0 && rc != CT_ERR_NOT_FOUND)
			goto out;
		repl.issuer_name = final_issuer->issuer_dn;
		repl.issuer_name_len = final_issuer->issuer_dn_len;
		repl.serial = final_issuer->serial;
		repl.serial_len = final_issuer->serial_len;
		r = &repl;
		issuer = final_issuer->subject_dn;
		issuer_len = final_issuer->subject_dn_len;
	}
	if ((rc = kept_extensions(&tp, r, &ext, &changed)) != 0)
		goto out;
	if (!changed && r == NULL)
		rc = util_buf_append(&res, c->tbs, c->tbs_len);
	else
		rc = tbs_assemble(&tp, issuer, issuer_len, &ext, &res);
	if (rc == 0)
		*out = util_buf_take(&res, out_len);
out:
	util_buf_clear(&ext);
	util_buf_clear(&res);
	return rc;
}

int
cert_tbs_normalized(const struct ct_cert *c, uint8_t **out, size_t *out_len)
{
	if (c == NULL || out == NULL || out_len == NULL)
		return CT_ERR_INVALID;
	return tbs_build(c, NULL, out, out_len);
}

int
cert_tbs_precert_rewrite(const struct ct_cert *c,
    const struct ct_cert *final_issuer, uint8_t **out, size_t *out_len)
{
	if (c == NULL || final_issuer == NULL || out == NULL || out_len == NULL)
		return CT_ERR_INVALID;
	return tbs_build(c, final_issuer, out, out_len);
}

/* ------------------------------------------------------------ parsing */

static int
parse_validity(struct ct_cert *c, const struct der_tlv *validity)
{
	struct der_cursor in;
	struct der_tlv nb, na;
	int rc;

	der_enter(validity, &in);
	if ((rc = der_next(&in, &nb)) != 0 || (rc = der_next(&in, &na)) != 0)
		return rc;
	if (!der_empty(&in))
		return CT_ERR_FORMAT;
	if ((rc = der_get_time(&nb, &c->not_before)) != 0 ||
	    (rc = der_get_time(&na, &c->not_after)) != 0)
		return rc;
	return 0;
}

static int
check_spki(const struct der_tlv *spki)
{
	struct der_cursor in, a;
	struct der_tlv alg, oid, bits;
	int rc;

	der_enter(spki, &in);
	if ((rc = der_expect(&in, DER_SEQUENCE, &alg)) != 0 ||
	    (rc = der_expect(&in, DER_BIT_STRING, &bits)) != 0)
		return rc;
	if (!der_empty(&in) || bits.len == 0)
		return CT_ERR_FORMAT;
	der_enter(&alg, &a);
	return der_expect(&a, DER_OID, &oid);
}

/* Walks the TBS of c and fills the fields that come from it. */
static int
parse_tbs(struct ct_cert *c)
{
	struct tbs_parts tp;
	int rc;

	if ((rc = tbs_split(c->tbs, c->tbs_len, &tp)) != 0)
		return rc;
	if (tp.serial.len == 0)
		return CT_ERR_FORMAT;
	if (tp.serial.len > CERT_MAX_SERIAL_BYTES)
		return CT_ERR_TOO_BIG;
	c->serial = tp.serial.val;
	c->serial_len = tp.serial.len;
	c->issuer_dn = tp.issuer.raw;
	c->issuer_dn_len = tp.issuer.raw_len;
	c->subject_dn = tp.subject.raw;
	c->subject_dn_len = tp.subject.raw_len;
	c->spki = tp.spki.raw;
	c->spki_len = tp.spki.raw_len;
	if ((rc = parse_validity(c, &tp.validity)) != 0 ||
	    (rc = check_spki(&tp.spki)) != 0 ||
	    (rc = name_text(&tp.issuer, &c->issuer, NULL)) != 0 ||
	    (rc = name_text(&tp.subject, &c->subject, &c->subject_cn)) != 0 ||
	    (rc = parse_extensions(c, &tp)) != 0)
		return rc;
	return 0;
}

/* Certificate ::= SEQUENCE { tbs, signatureAlgorithm, signatureValue }. */
static int
parse_outer(struct ct_cert *c)
{
	struct der_cursor cur, in;
	struct der_tlv cert, tbs, alg, sig;
	int rc;

	der_init(&cur, c->der, c->der_len);
	if ((rc = der_expect(&cur, DER_SEQUENCE, &cert)) != 0)
		return rc;
	if (!der_empty(&cur))
		return CT_ERR_TRAILING;
	der_enter(&cert, &in);
	if ((rc = der_expect(&in, DER_SEQUENCE, &tbs)) != 0 ||
	    (rc = der_expect(&in, DER_SEQUENCE, &alg)) != 0 ||
	    (rc = der_expect(&in, DER_BIT_STRING, &sig)) != 0)
		return rc;
	if (!der_empty(&in))
		return CT_ERR_FORMAT;
	if (sig.len < 1 || sig.val[0] != 0)
		return CT_ERR_FORMAT; /* signatures are whole bytes */
	c->tbs = tbs.raw;
	c->tbs_len = tbs.raw_len;
	c->sig_algid = alg.raw;
	c->sig_algid_len = alg.raw_len;
	c->sig = sig.val + 1;
	c->sig_len = sig.len - 1;
	return 0;
}

static int
compute_hashes(struct ct_cert *c)
{
	uint8_t *tbs = NULL;
	size_t tbs_len = 0;
	int rc;

	if (wc_Sha256Hash(c->der, (word32)c->der_len, c->sha256) != 0 ||
	    wc_Sha256Hash(c->spki, (word32)c->spki_len, c->spki_sha256) != 0)
		return CT_ERR_CRYPTO;
	if ((rc = cert_tbs_normalized(c, &tbs, &tbs_len)) != 0)
		return rc;
	if (wc_Sha256Hash(tbs, (word32)tbs_len, c->tbs_sha256) != 0)
		rc = CT_ERR_CRYPTO;
	free(tbs);
	return rc;
}

int
cert_parse_der(const uint8_t *der, size_t len, struct ct_cert **out)
{
	struct ct_cert *c = NULL;
	int rc;

	if (out == NULL || (der == NULL && len > 0))
		return CT_ERR_INVALID;
	*out = NULL;
	if (len == 0)
		return CT_ERR_TRUNCATED;
	if (len > CERT_MAX_DER_BYTES)
		return CT_ERR_TOO_BIG;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return CT_ERR_NOMEM;
	if ((c->der = malloc(len)) == NULL) {
		rc = CT_ERR_NOMEM;
		goto out;
	}
	memcpy(c->der, der, len);
	c->der_len = len;
	if ((rc = parse_outer(c)) != 0 || (rc = parse_tbs(c)) != 0 ||
	    (rc = compute_hashes(c)) != 0)
		goto out;
	*out = c;
	c = NULL;
out:
	cert_free(c);
	return rc;
}

void
cert_free(struct ct_cert *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < c->n_dns_names; i++)
		free(c->dns_names[i].name);
	free(c->dns_names);
	free(c->subject);
	free(c->issuer);
	free(c->subject_cn);
	free(c->der);
	free(c);
}

void
cert_free_all(struct ct_cert **certs, size_t n)
{
	size_t i;

	if (certs == NULL)
		return;
	for (i = 0; i < n; i++)
		cert_free(certs[i]);
	free(certs);
}

/* ------------------------------------------------------------ PEM, files */

static const char *
memfind(const char *h, size_t hn, const char *needle)
{
	size_t nn = strlen(needle), i;

	if (nn == 0 || hn < nn)
		return NULL;
	for (i = 0; i + nn <= hn; i++) {
		if (h[i] == needle[0] && memcmp(h + i, needle, nn) == 0)
			return h + i;
	}
	return NULL;
}

static int
push_cert(struct ct_cert ***certs, size_t *n, struct ct_cert *c)
{
	struct ct_cert **nc;

	if (*n >= CERT_MAX_PER_FILE)
		return CT_ERR_TOO_BIG;
	if ((nc = realloc(*certs, (*n + 1) * sizeof(*nc))) == NULL)
		return CT_ERR_NOMEM;
	nc[*n] = c;
	*certs = nc;
	(*n)++;
	return 0;
}

/*
 * Finds the next BEGIN line at or after *off. Returns 1 with *begin set
 * to its offset and *is_cert telling whether it is a CERTIFICATE block,
 * 0 at the end. Labels that run past their line are not BEGIN lines.
 */
static int
pem_find(const char *text, size_t len, size_t *off, size_t *begin,
    bool *is_cert)
{
	static const char cert_label[] = "CERTIFICATE";
	const char *b, *lab, *labend, *stop = text + len;

	while (*off < len) {
		b = memfind(text + *off, len - *off, "-----BEGIN ");
		if (b == NULL)
			return 0;
		lab = b + 11;
		labend = memfind(lab, (size_t)(stop - lab), "-----");
		if (labend == NULL)
			return 0;
		if (memchr(lab, '\n', (size_t)(labend - lab)) != NULL) {
			*off = (size_t)(lab - text);
			continue;
		}
		*begin = (size_t)(b - text);
		*is_cert = (size_t)(labend - lab) == sizeof(cert_label) - 1 &&
		    memcmp(lab, cert_label, sizeof(cert_label) - 1) == 0;
		*off = (size_t)(labend + 5 - text);
		return 1;
	}
	return 0;
}

/* Moves *off past the END line of a block, without decoding it. */
static void
pem_skip(const char *text, size_t len, size_t *off)
{
	const char *end, *endline, *stop = text + len;

	end = memfind(text + *off, len - *off, "-----END ");
	if (end == NULL) {
		*off = len;
		return;
	}
	endline = memfind(end + 9, (size_t)(stop - end - 9), "-----");
	*off = endline == NULL ? len : (size_t)(endline + 5 - text);
}

static int
parse_pem(const char *text, size_t len, struct ct_cert ***certs, size_t *n)
{
	char label[CERT_PEM_LABEL_BYTES];
	struct ct_cert *c = NULL;
	uint8_t *der = NULL;
	size_t off = 0, begin, der_len;
	bool is_cert;
	int rc;

	while (pem_find(text, len, &off, &begin, &is_cert) == 1) {
		if (!is_cert) {
			pem_skip(text, len, &off);
			continue;
		}
		off = begin;
		if ((rc = util_pem_next(text, len, &off, label, sizeof(label),
		         &der, &der_len)) != 0)
			return rc;
		rc = cert_parse_der(der, der_len, &c);
		free(der);
		if (rc != 0)
			return rc;
		if ((rc = push_cert(certs, n, c)) != 0) {
			cert_free(c);
			return rc;
		}
	}
	return 0;
}

int
cert_parse_buf(const uint8_t *buf, size_t len, struct ct_cert ***certs,
    size_t *n)
{
	struct ct_cert **v = NULL, *c = NULL;
	size_t k = 0;
	int rc;

	if (certs == NULL || n == NULL || (buf == NULL && len > 0))
		return CT_ERR_INVALID;
	*certs = NULL;
	*n = 0;
	if (len == 0)
		return CT_ERR_NOT_FOUND;
	if (buf[0] == DER_SEQUENCE || !util_is_pem(buf, len)) {
		rc = cert_parse_der(buf, len, &c);
		if (rc == 0) {
			if ((rc = push_cert(&v, &k, c)) != 0)
				cert_free(c);
			goto out;
		}
		if (!util_is_pem(buf, len))
			goto out;
	}
	if ((rc = parse_pem((const char *)buf, len, &v, &k)) != 0)
		goto out;
	if (k == 0)
		rc = CT_ERR_NOT_FOUND;
out:
	if (rc != 0) {
		cert_free_all(v, k);
		return rc;
	}
	*certs = v;
	*n = k;
	return 0;
}

int
cert_load_file(const char *path, struct ct_cert ***certs, size_t *n)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc;

	if (path == NULL || certs == NULL || n == NULL)
		return CT_ERR_INVALID;
	*certs = NULL;
	*n = 0;
	if ((rc = util_read_file(path, CERT_MAX_FILE_BYTES, &buf, &len)) != 0)
		return rc;
	rc = cert_parse_buf(buf, len, certs, n);
	free(buf);
	return rc;
}

/* ------------------------------------------------------------ signatures */

enum key_family {
	FAMILY_RSA,
	FAMILY_EC,
	FAMILY_ED25519,
	FAMILY_OTHER,
};

static enum key_family
spki_family(const struct ct_cert *c)
{
	struct der_cursor in, a;
	struct der_tlv spki, alg, oid;

	der_init(&in, c->spki, c->spki_len);
	if (der_expect(&in, DER_SEQUENCE, &spki) != 0)
		return FAMILY_OTHER;
	der_enter(&spki, &in);
	if (der_expect(&in, DER_SEQUENCE, &alg) != 0)
		return FAMILY_OTHER;
	der_enter(&alg, &a);
	if (der_expect(&a, DER_OID, &oid) != 0)
		return FAMILY_OTHER;
	if (der_oid_eq(&oid, oid_rsa_enc, sizeof(oid_rsa_enc)))
		return FAMILY_RSA;
	if (der_oid_eq(&oid, oid_ec_pub, sizeof(oid_ec_pub)))
		return FAMILY_EC;
	if (der_oid_eq(&oid, oid_ed25519, sizeof(oid_ed25519)))
		return FAMILY_ED25519;
	return FAMILY_OTHER;
}

static enum key_family
alg_family(enum sig_alg alg)
{
	if (alg <= SIG_RSA_PSS_SHA512)
		return FAMILY_RSA;
	if (alg <= SIG_ECDSA_SHA512)
		return FAMILY_EC;
	return FAMILY_ED25519;
}

/*
 * 0 when issuer's key verifies c's signature; CT_ERR_SIGNATURE when not
 * (including an issuer key of another type than the signature);
 * CT_ERR_UNSUPPORTED when the algorithm or the issuer's key (curve, size)
 * is one we cannot check.
 */
int
cert_verify_signed_by(const struct ct_cert *c, const struct ct_cert *issuer)
{
	enum key_family fam;
	enum sig_alg alg;
	int rc;

	if (c == NULL || issuer == NULL)
		return CT_ERR_INVALID;
	if ((rc = sig_alg_from_algid(c->sig_algid, c->sig_algid_len, &alg)) !=
	    0)
		return rc;
	fam = spki_family(issuer);
	if (fam != FAMILY_OTHER && fam != alg_family(alg))
		return CT_ERR_SIGNATURE;
	return sig_verify(issuer->spki, issuer->spki_len, alg, c->tbs,
	    c->tbs_len, c->sig, c->sig_len);
}

void
cert_serial_hex(const struct ct_cert *c, char *out, size_t outsz)
{
	size_t i;

	if (out == NULL || outsz == 0)
		return;
	out[0] = '\0';
	if (c == NULL)
		return;
	for (i = 0; i < c->serial_len && 2 * i + 2 < outsz; i++)
		util_hex_encode(c->serial + i, 1, out + 2 * i);
}
