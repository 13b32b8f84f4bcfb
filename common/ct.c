/*
 * ct: Certificate Transparency structures, signatures and Merkle proofs.
 * All binary input is read through the der cursor; nothing here trusts a
 * length before the cursor has checked it.
 */
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/sha256.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cert.h"
#include "ct.h"
#include "der.h"
#include "sig.h"
#include "util.h"

#define CT_V1 0
#define CT_LEAF_TIMESTAMPED_ENTRY 0
#define CT_SIGTYPE_TREE_HASH 1
#define CT_TLS_HASH_SHA256 4
#define CT_TLS_SIG_RSA 1
#define CT_TLS_SIG_ECDSA 3
#define CT_SHA_CHUNK_BYTES 0x40000000U /* wolfCrypt takes word32 lengths */

_Static_assert(CT_HASH_BYTES == WC_SHA256_DIGEST_SIZE,
    "CT_HASH_BYTES must be the SHA-256 digest size");

const char *const ct_entry_type_names[CT_ENTRY__MAX] = {
    [CT_ENTRY_X509] = "x509_entry",
    [CT_ENTRY_PRECERT] = "precert_entry",
};

/* ---------------------------------------------------------------- hashing */

static int
sha_update(wc_Sha256 *sha, const uint8_t *p, size_t n)
{
	size_t k;

	while (n > 0) {
		k = n > CT_SHA_CHUNK_BYTES ? CT_SHA_CHUNK_BYTES : n;
		if (wc_Sha256Update(sha, p, (word32)k) != 0)
			return CT_ERR_CRYPTO;
		p += k;
		n -= k;
	}
	return 0;
}

/* SHA-256 over the concatenation of up to three byte strings. */
static int
sha256_3(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
    const uint8_t *c, size_t clen, uint8_t out[CT_HASH_BYTES])
{
	wc_Sha256 sha;
	int rc = CT_ERR_CRYPTO;

	if (wc_InitSha256(&sha) != 0)
		return CT_ERR_CRYPTO;
	if (sha_update(&sha, a, alen) != 0 || sha_update(&sha, b, blen) != 0 ||
	    sha_update(&sha, c, clen) != 0)
		goto out;
	if (wc_Sha256Final(&sha, out) != 0)
		goto out;
	rc = 0;
out:
	wc_Sha256Free(&sha);
	return rc;
}

int
ct_hash_leaf(const uint8_t *leaf_input, size_t len, uint8_t out[CT_HASH_BYTES])
{
	static const uint8_t prefix = 0x00;

	return sha256_3(&prefix, 1, leaf_input, len, NULL, 0, out);
}

int
ct_hash_node(const uint8_t left[CT_HASH_BYTES],
    const uint8_t right[CT_HASH_BYTES], uint8_t out[CT_HASH_BYTES])
{
	static const uint8_t prefix = 0x01;
	uint8_t h[CT_HASH_BYTES];
	int rc;

	/* out may alias an input: hash into h first. */
	if ((rc = sha256_3(&prefix, 1, left, CT_HASH_BYTES, right,
	         CT_HASH_BYTES, h)) != 0)
		return rc;
	memcpy(out, h, CT_HASH_BYTES);
	return 0;
}

int
ct_hash_empty(uint8_t out[CT_HASH_BYTES])
{
	return sha256_3(NULL, 0, NULL, 0, NULL, 0, out);
}

/* ---------------------------------------------------------------- encoding */

static void
put_be(uint8_t *out, uint64_t v, unsigned nbytes)
{
	while (nbytes > 0) {
		out[--nbytes] = (uint8_t)v;
		v >>= 8;
	}
}

/* Where an encoder writes: a buffer or a running hash. */
struct sink {
	struct util_buf *buf;
	wc_Sha256 *sha;
};

static int
sink_put(struct sink *s, const uint8_t *p, size_t n)
{
	if (s->buf != NULL)
		return util_buf_append(s->buf, p, n);
	return sha_update(s->sha, p, n);
}

/* Writes the MerkleTreeLeaf (= the SCT signed input) for leaf. */
static int
leaf_emit(const struct ct_leaf *leaf, struct sink *s)
{
	uint8_t hdr[2 + 8 + 2], len3[3], len2[2];
	int rc;

	if ((unsigned)leaf->type >= CT_ENTRY__MAX || leaf->cert == NULL ||
	    leaf->cert_len == 0 || (leaf->ext == NULL && leaf->ext_len != 0))
		return CT_ERR_INVALID;
	if (leaf->cert_len > CT_MAX_UINT24 || leaf->ext_len > CT_MAX_UINT16)
		return CT_ERR_TOO_BIG;
	hdr[0] = CT_V1;
	hdr[1] = CT_LEAF_TIMESTAMPED_ENTRY;
	put_be(hdr + 2, leaf->timestamp, 8);
	put_be(hdr + 10, (uint64_t)leaf->type, 2);
	put_be(len3, leaf->cert_len, 3);
	put_be(len2, leaf->ext_len, 2);
	if ((rc = sink_put(s, hdr, sizeof(hdr))) != 0)
		return rc;
	if (leaf->type == CT_ENTRY_PRECERT &&
	    (rc = sink_put(s, leaf->issuer_key_hash, CT_HASH_BYTES)) != 0)
		return rc;
	if ((rc = sink_put(s, len3, sizeof(len3))) != 0 ||
	    (rc = sink_put(s, leaf->cert, leaf->cert_len)) != 0 ||
	    (rc = sink_put(s, len2, sizeof(len2))) != 0)
		return rc;
	return sink_put(s, leaf->ext, leaf->ext_len);
}

int
ct_leaf_encode(const struct ct_leaf *leaf, struct util_buf *out)
{
	struct sink s = {out, NULL};

	return leaf_emit(leaf, &s);
}

int
ct_leaf_hash(const struct ct_leaf *leaf, uint8_t out[CT_HASH_BYTES])
{
	static const uint8_t prefix = 0x00;
	wc_Sha256 sha;
	struct sink s = {NULL, &sha};
	int rc;

	if (wc_InitSha256(&sha) != 0)
		return CT_ERR_CRYPTO;
	if ((rc = sha_update(&sha, &prefix, 1)) != 0 ||
	    (rc = leaf_emit(leaf, &s)) != 0)
		goto out;
	rc = wc_Sha256Final(&sha, out) == 0 ? 0 : CT_ERR_CRYPTO;
out:
	wc_Sha256Free(&sha);
	return rc;
}

int
ct_leaf_from_sct(struct ct_leaf *leaf, const struct ct_sct *sct,
    enum ct_entry_type type, const uint8_t *cert, size_t cert_len,
    const uint8_t *issuer_key_hash)
{
	if ((unsigned)type >= CT_ENTRY__MAX ||
	    (type == CT_ENTRY_PRECERT && issuer_key_hash == NULL))
		return CT_ERR_INVALID;
	memset(leaf, 0, sizeof(*leaf));
	leaf->timestamp = sct->timestamp;
	leaf->type = type;
	leaf->cert = cert;
	leaf->cert_len = cert_len;
	if (type == CT_ENTRY_PRECERT)
		memcpy(leaf->issuer_key_hash, issuer_key_hash, CT_HASH_BYTES);
	leaf->ext = sct->ext;
	leaf->ext_len = sct->ext_len;
	leaf->has_leaf_index = sct->has_leaf_index;
	leaf->leaf_index = sct->leaf_index;
	return 0;
}

/* ---------------------------------------------------------------- SCTs */

int
ct_ext_parse(const uint8_t *ext, size_t ext_len, bool *has_leaf_index,
    uint64_t *leaf_index)
{
	struct der_cursor c, data;
	uint8_t seen[256 / 8], type;
	uint64_t idx = 0;
	bool has = false;
	int rc;

	memset(seen, 0, sizeof(seen));
	der_init(&c, ext, ext_len);
	while (!der_empty(&c)) {
		if ((rc = der_read_u8(&c, &type)) != 0 ||
		    (rc = der_read_vec(&c, 2, &data)) != 0)
			return rc;
		if (seen[type / 8] & (1U << (type % 8)))
			return CT_ERR_FORMAT; /* duplicate extension */
		seen[type / 8] |= (uint8_t)(1U << (type % 8));
		if (type != CT_EXT_LEAF_INDEX)
			continue; /* unknown: left in the view */
		if (data.len != CT_LEAF_INDEX_BYTES)
			return CT_ERR_FORMAT;
		if ((rc = der_read_u40(&data, &idx)) != 0)
			return rc;
		has = true;
	}
	*has_leaf_index = has;
	*leaf_index = idx;
	return 0;
}

int
ct_sct_parse(const uint8_t *p, size_t len, struct ct_sct *sct)
{
	struct der_cursor c, v;
	const uint8_t *id;
	struct ct_sct s;
	int rc;

	memset(&s, 0, sizeof(s));
	der_init(&c, p, len);
	if ((rc = der_read_u8(&c, &s.version)) != 0)
		return rc;
	if (s.version != CT_V1)
		return CT_ERR_UNSUPPORTED;
	if ((rc = der_read_bytes(&c, CT_HASH_BYTES, &id)) != 0 ||
	    (rc = der_read_u64(&c, &s.timestamp)) != 0 ||
	    (rc = der_read_vec(&c, 2, &v)) != 0)
		return rc;
	memcpy(s.log_id, id, CT_HASH_BYTES);
	s.ext = v.p;
	s.ext_len = v.len;
	if ((rc = ct_ext_parse(s.ext, s.ext_len, &s.has_leaf_index,
	         &s.leaf_index)) != 0)
		return rc;
	if ((rc = der_read_u8(&c, &s.hash_alg)) != 0 ||
	    (rc = der_read_u8(&c, &s.sig_alg)) != 0 ||
	    (rc = der_read_vec(&c, 2, &v)) != 0)
		return rc;
	if (v.len == 0)
		return CT_ERR_FORMAT;
	s.sig = v.p;
	s.sig_len = v.len;
	if (!der_empty(&c))
		return CT_ERR_TRAILING;
	*sct = s;
	return 0;
}

int
ct_sct_list_parse(const uint8_t *p, size_t len, struct ct_sct *scts, size_t max,
    size_t *n)
{
	struct der_cursor c, list, one;
	size_t cap = max < CT_MAX_SCTS ? max : CT_MAX_SCTS, cnt = 0;
	int rc;

	*n = 0;
	der_init(&c, p, len);
	if ((rc = der_read_vec(&c, 2, &list)) != 0)
		return rc;
	if (!der_empty(&c))
		return CT_ERR_TRAILING;
	if (der_empty(&list))
		return CT_ERR_FORMAT; /* sct_list<1..2^16-1> */
	while (!der_empty(&list)) {
		if ((rc = der_read_vec(&list, 2, &one)) != 0)
			return rc;
		if (one.len == 0)
			return CT_ERR_FORMAT; /* SerializedSCT<1..2^16-1> */
		if (cnt == cap)
			return CT_ERR_TOO_BIG;
		if ((rc = ct_sct_parse(one.p, one.len, &scts[cnt])) != 0)
			return rc;
		cnt++;
	}
	*n = cnt;
	return 0;
}

/* ------------------------------------------------------- signatures */

/*
 * Checks a TLS (hash, signature) pair against what RFC 6962 allows for
 * logs and verifies sig over data with spki.
 */
static int
verify_tls_sig(uint8_t hash_alg, uint8_t sig_alg, const uint8_t *sig,
    size_t sig_len, const uint8_t *data, size_t data_len, const uint8_t *spki,
    size_t spki_len)
{
	enum sig_alg alg;
	int rc;

	if (hash_alg != CT_TLS_HASH_SHA256 ||
	    (sig_alg != CT_TLS_SIG_RSA && sig_alg != CT_TLS_SIG_ECDSA))
		return CT_ERR_UNSUPPORTED;
	if ((rc = sig_alg_from_tls(hash_alg, sig_alg, &alg)) != 0)
		return rc;
	if (spki == NULL || spki_len == 0)
		return CT_ERR_INVALID;
	return sig_verify(spki, spki_len, alg, data, data_len, sig, sig_len);
}

int
ct_digitally_signed_verify(const uint8_t *ds, size_t ds_len,
    const uint8_t *data, size_t data_len, const uint8_t *spki, size_t spki_len)
{
	struct der_cursor c, sig;
	uint8_t hash_alg, sig_alg;
	int rc;

	der_init(&c, ds, ds_len);
	if ((rc = der_read_u8(&c, &hash_alg)) != 0 ||
	    (rc = der_read_u8(&c, &sig_alg)) != 0 ||
	    (rc = der_read_vec(&c, 2, &sig)) != 0)
		return rc;
	if (!der_empty(&c))
		return CT_ERR_TRAILING;
	if (sig.len == 0)
		return CT_ERR_FORMAT;
	return verify_tls_sig(hash_alg, sig_alg, sig.p, sig.len, data, data_len,
	    spki, spki_len);
}

/* Verifies sct over the entry it was issued for (see ct_leaf_from_sct). */
static int
sct_verify(const struct ct_sct *sct, const struct ct_leaf *entry,
    const uint8_t *log_spki, size_t log_spki_len)
{
	struct util_buf data;
	uint8_t id[CT_HASH_BYTES];
	int rc;

	util_buf_init(&data, CT_MAX_LEAF_BYTES);
	if (sct->version != CT_V1)
		return CT_ERR_UNSUPPORTED;
	if (log_spki == NULL || log_spki_len == 0)
		return CT_ERR_INVALID;
	/* The signature does not cover log_id: check it against the key. */
	if ((rc = sha256_3(log_spki, log_spki_len, NULL, 0, NULL, 0, id)) != 0)
		return rc;
	if (!util_ct_equal(id, sct->log_id, CT_HASH_BYTES))
		return CT_ERR_SIGNATURE;
	/* version 0, signature_type 0: the MerkleTreeLeaf bytes. */
	if ((rc = ct_leaf_encode(entry, &data)) != 0)
		goto out;
	rc = verify_tls_sig(sct->hash_alg, sct->sig_alg, sct->sig, sct->sig_len,
	    data.data, data.len, log_spki, log_spki_len);
out:
	util_buf_clear(&data);
	return rc;
}

int
ct_sct_verify_x509(const struct ct_sct *sct, const uint8_t *cert,
    size_t cert_len, const uint8_t *log_spki, size_t log_spki_len)
{
	struct ct_leaf entry;
	int rc;

	if ((rc = ct_leaf_from_sct(&entry, sct, CT_ENTRY_X509, cert, cert_len,
	         NULL)) != 0)
		return rc;
	return sct_verify(sct, &entry, log_spki, log_spki_len);
}

int
ct_sct_verify_precert(const struct ct_sct *sct,
    const uint8_t issuer_key_hash[CT_HASH_BYTES], const uint8_t *tbs,
    size_t tbs_len, const uint8_t *log_spki, size_t log_spki_len)
{
	struct ct_leaf entry;
	int rc;

	if ((rc = ct_leaf_from_sct(&entry, sct, CT_ENTRY_PRECERT, tbs, tbs_len,
	         issuer_key_hash)) != 0)
		return rc;
	return sct_verify(sct, &entry, log_spki, log_spki_len);
}

int
ct_sct_verify_embedded(const struct ct_sct *sct, const struct ct_cert *cert,
    const struct ct_cert *issuer, const uint8_t *log_spki, size_t log_spki_len)
{
	uint8_t *tbs = NULL;
	size_t tbs_len = 0;
	int rc;

	if (cert == NULL || issuer == NULL)
		return CT_ERR_INVALID;
	if ((rc = cert_tbs_normalized(cert, &tbs, &tbs_len)) != 0)
		goto out;
	rc = ct_sct_verify_precert(sct, issuer->spki_sha256, tbs, tbs_len,
	    log_spki, log_spki_len);
out:
	free(tbs);
	return rc;
}

/* ---------------------------------------------------------------- STH */

void
ct_sth_signed_data(const struct ct_sth *sth, uint8_t out[CT_STH_SIGNED_BYTES])
{
	out[0] = CT_V1;
	out[1] = CT_SIGTYPE_TREE_HASH;
	put_be(out + 2, sth->timestamp, 8);
	put_be(out + 10, sth->tree_size, 8);
	memcpy(out + 18, sth->root, CT_HASH_BYTES);
}

int
ct_sth_verify(const struct ct_sth *sth, const uint8_t *log_spki,
    size_t log_spki_len)
{
	uint8_t data[CT_STH_SIGNED_BYTES];

	ct_sth_signed_data(sth, data);
	return ct_digitally_signed_verify(sth->sig, sth->sig_len, data,
	    sizeof(data), log_spki, log_spki_len);
}

/* ---------------------------------------------------------------- notes */

/*
 * Valid UTF-8 (no overlong forms, surrogates or code points past
 * U+10FFFF) without control bytes other than '\n'.
 */
static bool
note_text_ok(const uint8_t *p, size_t n)
{
	size_t i = 0, k, extra;
	uint32_t cp, min;

	while (i < n) {
		if (p[i] < 0x80) {
			if ((p[i] < 0x20 && p[i] != '\n') || p[i] == 0x7f)
				return false;
			i++;
			continue;
		}
		if ((p[i] & 0xe0) == 0xc0) {
			extra = 1;
			cp = p[i] & 0x1f;
			min = 0x80;
		} else if ((p[i] & 0xf0) == 0xe0) {
			extra = 2;
			cp = p[i] & 0x0f;
			min = 0x800;
		} else if ((p[i] & 0xf8) == 0xf0) {
			extra = 3;
			cp = p[i] & 0x07;
			min = 0x10000;
		} else {
			return false;
		}
		if (n - i <= extra)
			return false;
		for (k = 1; k <= extra; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += extra + 1;
	}
	return true;
}

/* The next '\n'-terminated line of [*p, end): 0, or CT_ERR_FORMAT. */
static int
note_line(const uint8_t **p, const uint8_t *end, const uint8_t **line,
    size_t *len)
{
	const uint8_t *nl = memchr(*p, '\n', (size_t)(end - *p));

	if (nl == NULL)
		return CT_ERR_FORMAT;
	*line = *p;
	*len = (size_t)(nl - *p);
	*p = nl + 1;
	return 0;
}

/* The checkpoint body: origin, tree size and root hash, no extensions. */
static int
checkpoint_text(const uint8_t *text, size_t text_len, const char *origin,
    size_t origin_len, struct ct_sth *sth)
{
	const uint8_t *p = text, *end = text + text_len, *line;
	size_t len;
	int rc;

	if ((rc = note_line(&p, end, &line, &len)) != 0)
		return rc;
	if (len == 0)
		return CT_ERR_FORMAT;
	if (len != origin_len || memcmp(line, origin, len) != 0)
		return CT_ERR_AUTH;
	if ((rc = note_line(&p, end, &line, &len)) != 0)
		return rc;
	if (len > 1 && line[0] == '0')
		return CT_ERR_FORMAT; /* no leading zeros */
	if ((rc = util_parse_u64((const char *)line, len, UINT64_MAX,
	         &sth->tree_size)) != 0)
		return rc == CT_ERR_TOO_BIG ? rc : CT_ERR_FORMAT;
	if ((rc = note_line(&p, end, &line, &len)) != 0)
		return rc;
	rc = util_b64_decode((const char *)line, len, sth->root,
	    sizeof(sth->root), false);
	if (rc != CT_HASH_BYTES)
		return CT_ERR_FORMAT;
	if (p != end)
		return CT_ERR_FORMAT; /* extension lines */
	return 0;
}

/* The log's key ID: SHA-256(origin || '\n' || 0x05 || LogID)[0..4). */
static int
note_key_id(const char *origin, size_t origin_len, const uint8_t *log_spki,
    size_t log_spki_len, uint8_t id[CT_NOTE_KEY_ID_BYTES])
{
	uint8_t log_id[CT_HASH_BYTES], h[CT_HASH_BYTES];
	uint8_t sep[2] = {'\n', CT_NOTE_SIG_RFC6962};
	int rc;

	if ((rc = sha256_3(log_spki, log_spki_len, NULL, 0, NULL, 0, log_id)) !=
	        0 ||
	    (rc = sha256_3((const uint8_t *)origin, origin_len, sep,
	         sizeof(sep), log_id, sizeof(log_id), h)) != 0)
		return rc;
	memcpy(id, h, CT_NOTE_KEY_ID_BYTES);
	return 0;
}

struct note_key {
	const char *name;
	size_t name_len;
	uint8_t id[CT_NOTE_KEY_ID_BYTES];
	const uint8_t *spki;
	size_t spki_len;
};

/*
 * One signature line without its '\n': "\u2014 name base64". Sets *mine
 * when the line is the log's, whose signature must then verify; other
 * well-formed lines are ignored.
 */
static int
note_sig_line(const uint8_t *line, size_t len, const struct note_key *key,
    struct ct_sth *sth, bool *mine)
{
	static const uint8_t dash[] = {0xe2, 0x80, 0x94, ' '};
	uint8_t sig[CT_NOTE_MAX_SIG_BYTES], data[CT_STH_SIGNED_BYTES];
	const uint8_t *name, *sp, *b64;
	struct der_cursor c;
	size_t name_len;
	int n, rc;

	*mine = false;
	if (len < sizeof(dash) || memcmp(line, dash, sizeof(dash)) != 0)
		return CT_ERR_FORMAT;
	name = line + sizeof(dash);
	len -= sizeof(dash);
	if ((sp = memchr(name, ' ', len)) == NULL)
		return CT_ERR_FORMAT;
	name_len = (size_t)(sp - name);
	b64 = sp + 1;
	if (name_len == 0 || memchr(name, '+', name_len) != NULL ||
	    memchr(b64, ' ', len - name_len - 1) != NULL)
		return CT_ERR_FORMAT;
	n = util_b64_decode((const char *)b64, len - name_len - 1, sig,
	    sizeof(sig), false);
	if (n == CT_ERR_TOO_BIG)
		return n;
	if (n < CT_NOTE_KEY_ID_BYTES + 1)
		return CT_ERR_FORMAT;
	if (name_len != key->name_len ||
	    memcmp(name, key->name, name_len) != 0 ||
	    memcmp(sig, key->id, CT_NOTE_KEY_ID_BYTES) != 0)
		return 0; /* someone else's signature */
	*mine = true;
	der_init(&c, sig + CT_NOTE_KEY_ID_BYTES,
	    (size_t)n - CT_NOTE_KEY_ID_BYTES);
	if ((rc = der_read_u64(&c, &sth->timestamp)) != 0)
		return CT_ERR_FORMAT;
	ct_sth_signed_data(sth, data);
	return ct_digitally_signed_verify(c.p, c.len, data, sizeof(data),
	    key->spki, key->spki_len);
}

int
ct_checkpoint_verify(const uint8_t *note, size_t len, const char *origin,
    size_t origin_len, const uint8_t *log_spki, size_t log_spki_len,
    struct ct_sth *sth)
{
	const uint8_t *p, *end, *line, *split = NULL;
	struct note_key key;
	struct ct_sth s;
	size_t i, llen, nsigs = 0;
	bool mine, found = false;
	int rc;

	if (note == NULL || origin == NULL || origin_len == 0 ||
	    log_spki == NULL || log_spki_len == 0)
		return CT_ERR_INVALID;
	if (len > CT_NOTE_MAX_BYTES)
		return CT_ERR_TOO_BIG;
	if (!note_text_ok(note, len))
		return CT_ERR_FORMAT;
	/* The text ends at the last blank line; signatures follow it. */
	for (i = len; i >= 2; i--)
		if (note[i - 2] == '\n' && note[i - 1] == '\n') {
			split = note + i - 1;
			break;
		}
	if (split == NULL || split == note + len - 1 || note[len - 1] != '\n')
		return CT_ERR_FORMAT;
	memset(&s, 0, sizeof(s));
	if ((rc = checkpoint_text(note, (size_t)(split - note), origin,
	         origin_len, &s)) != 0)
		return rc;
	key.name = origin;
	key.name_len = origin_len;
	key.spki = log_spki;
	key.spki_len = log_spki_len;
	if ((rc = note_key_id(origin, origin_len, log_spki, log_spki_len,
	         key.id)) != 0)
		return rc;
	end = note + len;
	for (p = split + 1; p < end;) {
		if (++nsigs > CT_NOTE_MAX_SIGS)
			return CT_ERR_TOO_BIG;
		if ((rc = note_line(&p, end, &line, &llen)) != 0 ||
		    (rc = note_sig_line(line, llen, &key, &s, &mine)) != 0)
			return rc;
		if (mine && found)
			return CT_ERR_FORMAT; /* signed twice by the log */
		found = found || mine;
	}
	if (!found)
		return CT_ERR_NOT_FOUND;
	s.sig = NULL;
	s.sig_len = 0;
	*sth = s;
	return 0;
}

/* ---------------------------------------------------------------- leaves */

/* TimestampedEntry: timestamp, entry_type, signed_entry, extensions. */
static int
timestamped_entry_parse(struct der_cursor *c, struct ct_leaf *l)
{
	struct der_cursor v;
	const uint8_t *ikh;
	uint16_t type;
	int rc;

	memset(l, 0, sizeof(*l));
	if ((rc = der_read_u64(c, &l->timestamp)) != 0 ||
	    (rc = der_read_u16(c, &type)) != 0)
		return rc;
	if (type >= CT_ENTRY__MAX)
		return CT_ERR_UNSUPPORTED;
	l->type = (enum ct_entry_type)type;
	if (l->type == CT_ENTRY_PRECERT) {
		if ((rc = der_read_bytes(c, CT_HASH_BYTES, &ikh)) != 0)
			return rc;
		memcpy(l->issuer_key_hash, ikh, CT_HASH_BYTES);
	}
	if ((rc = der_read_vec(c, 3, &v)) != 0)
		return rc;
	if (v.len == 0)
		return CT_ERR_FORMAT; /* <1..2^24-1> */
	l->cert = v.p;
	l->cert_len = v.len;
	if ((rc = der_read_vec(c, 2, &v)) != 0)
		return rc;
	l->ext = v.p;
	l->ext_len = v.len;
	return ct_ext_parse(l->ext, l->ext_len, &l->has_leaf_index,
	    &l->leaf_index);
}

int
ct_leaf_parse(const uint8_t *p, size_t len, struct ct_leaf *leaf)
{
	struct der_cursor c;
	struct ct_leaf l;
	uint8_t version, leaf_type;
	int rc;

	der_init(&c, p, len);
	if ((rc = der_read_u8(&c, &version)) != 0 ||
	    (rc = der_read_u8(&c, &leaf_type)) != 0)
		return rc;
	if (version != CT_V1 || leaf_type != CT_LEAF_TIMESTAMPED_ENTRY)
		return CT_ERR_UNSUPPORTED;
	if ((rc = timestamped_entry_parse(&c, &l)) != 0)
		return rc;
	if (!der_empty(&c))
		return CT_ERR_TRAILING;
	*leaf = l;
	return 0;
}

int
ct_tile_leaf_parse(const uint8_t *p, size_t len, struct ct_tile_leaf *tl,
    size_t *used)
{
	struct der_cursor c, v;
	struct ct_tile_leaf t;
	int rc;

	memset(&t, 0, sizeof(t));
	der_init(&c, p, len);
	if ((rc = timestamped_entry_parse(&c, &t.leaf)) != 0)
		return rc;
	if (t.leaf.type == CT_ENTRY_PRECERT) {
		if ((rc = der_read_vec(&c, 3, &v)) != 0)
			return rc;
		if (v.len == 0)
			return CT_ERR_FORMAT;
		t.precert = v.p;
		t.precert_len = v.len;
	}
	if ((rc = der_read_vec(&c, 2, &v)) != 0)
		return rc;
	if (v.len % CT_HASH_BYTES != 0)
		return CT_ERR_FORMAT;
	t.chain = v.p;
	t.n_chain = v.len / CT_HASH_BYTES;
	*used = len - c.len;
	*tl = t;
	return 0;
}

int
ct_tile_path(char *out, size_t outsz, bool data, unsigned level, uint64_t n,
    unsigned width)
{
	unsigned groups[8];
	size_t k = 0, off;
	int w;

	if (out == NULL || outsz == 0 || width > CT_TILE_WIDTH ||
	    (!data && level > CT_TILE_MAX_LEVEL))
		return CT_ERR_INVALID;
	do {
		groups[k++] = (unsigned)(n % 1000);
		n /= 1000;
	} while (n > 0);
	if (data)
		w = snprintf(out, outsz, "tile/data/");
	else
		w = snprintf(out, outsz, "tile/%u/", level);
	if (w < 0 || (size_t)w >= outsz)
		return CT_ERR_TOO_BIG;
	off = (size_t)w;
	while (k > 0) {
		k--;
		w = snprintf(out + off, outsz - off, k > 0 ? "x%03u/" : "%03u",
		    groups[k]);
		if (w < 0 || (size_t)w >= outsz - off)
			return CT_ERR_TOO_BIG;
		off += (size_t)w;
	}
	if (width > 0 && width < CT_TILE_WIDTH) {
		w = snprintf(out + off, outsz - off, ".p/%u", width);
		if (w < 0 || (size_t)w >= outsz - off)
			return CT_ERR_TOO_BIG;
	}
	return 0;
}

/* ---------------------------------------------------------------- proofs */

static unsigned
bit_len64(uint64_t x)
{
	return x == 0 ? 0 : 64 - (unsigned)__builtin_clzll(x);
}

/*
 * The length of an inclusion proof for index in a tree of size: the
 * levels below the point where the paths to index and size-1 diverge
 * (*inner), plus one left sibling per set bit above it (*border).
 */
static void
incl_proof_len(uint64_t index, uint64_t size, unsigned *inner, unsigned *border)
{
	*inner = bit_len64(index ^ (size - 1));
	*border =
	    *inner >= 64 ? 0 : (unsigned)__builtin_popcountll(index >> *inner);
}

int
ct_verify_inclusion(uint64_t index, uint64_t size,
    const uint8_t leaf_hash[CT_HASH_BYTES],
    const uint8_t (*proof)[CT_HASH_BYTES], size_t n,
    const uint8_t root[CT_HASH_BYTES])
{
	uint8_t r[CT_HASH_BYTES];
	unsigned inner, border;
	uint64_t fn, sn;
	size_t i;
	int rc;

	if (n > CT_MAX_PROOF_HASHES)
		return CT_ERR_TOO_BIG;
	if (index >= size)
		return CT_ERR_FORMAT;
	incl_proof_len(index, size, &inner, &border);
	if (n != (size_t)inner + border)
		return CT_ERR_FORMAT;
	/* RFC 9162 2.1.3.2 */
	fn = index;
	sn = size - 1;
	memcpy(r, leaf_hash, CT_HASH_BYTES);
	for (i = 0; i < n; i++) {
		if (sn == 0)
			return CT_ERR_FORMAT;
		if ((fn & 1) != 0 || fn == sn) {
			if ((rc = ct_hash_node(proof[i], r, r)) != 0)
				return rc;
			while ((fn & 1) == 0 && fn != 0) {
				fn >>= 1;
				sn >>= 1;
			}
		} else if ((rc = ct_hash_node(r, proof[i], r)) != 0)
			return rc;
		fn >>= 1;
		sn >>= 1;
	}
	if (sn != 0)
		return CT_ERR_FORMAT;
	return util_ct_equal(r, root, CT_HASH_BYTES) ? 0 : CT_ERR_SIGNATURE;
}

/* The expected consistency proof length (transparency-dev/merkle). */
static size_t
cons_proof_len(uint64_t size1, uint64_t size2)
{
	unsigned inner, border, shift;

	incl_proof_len(size1 - 1, size2, &inner, &border);
	shift = (unsigned)__builtin_ctzll(size1);
	inner -= shift; /* shift < inner when size1 < size2 */
	return (size1 == (UINT64_C(1) << shift) ? 0 : 1) + (size_t)inner +
	    border;
}

int
ct_verify_consistency(uint64_t size1, uint64_t size2,
    const uint8_t root1[CT_HASH_BYTES], const uint8_t root2[CT_HASH_BYTES],
    const uint8_t (*proof)[CT_HASH_BYTES], size_t n)
{
	uint8_t fr[CT_HASH_BYTES], sr[CT_HASH_BYTES];
	uint64_t fn, sn;
	size_t i = 0;
	int rc;

	if (n > CT_MAX_PROOF_HASHES)
		return CT_ERR_TOO_BIG;
	if (size1 > size2 || size1 == 0)
		return CT_ERR_FORMAT;
	if (size1 == size2) {
		if (n != 0)
			return CT_ERR_FORMAT;
		return util_ct_equal(root1, root2, CT_HASH_BYTES)
		    ? 0
		    : CT_ERR_SIGNATURE;
	}
	if (n == 0 || n != cons_proof_len(size1, size2))
		return CT_ERR_FORMAT;
	/* RFC 9162 2.1.4.2: a power of 2 seeds the walk with root1. */
	if ((size1 & (size1 - 1)) == 0)
		memcpy(fr, root1, CT_HASH_BYTES);
	else
		memcpy(fr, proof[i++], CT_HASH_BYTES);
	memcpy(sr, fr, CT_HASH_BYTES);
	fn = size1 - 1;
	sn = size2 - 1;
	while ((fn & 1) != 0) {
		fn >>= 1;
		sn >>= 1;
	}
	for (; i < n; i++) {
		if (sn == 0)
			return CT_ERR_FORMAT;
		if ((fn & 1) != 0 || fn == sn) {
			if ((rc = ct_hash_node(proof[i], fr, fr)) != 0 ||
			    (rc = ct_hash_node(proof[i], sr, sr)) != 0)
				return rc;
			while ((fn & 1) == 0 && fn != 0) {
				fn >>= 1;
				sn >>= 1;
			}
		} else if ((rc = ct_hash_node(sr, proof[i], sr)) != 0)
			return rc;
		fn >>= 1;
		sn >>= 1;
	}
	if (sn != 0)
		return CT_ERR_FORMAT;
	if (!util_ct_equal(fr, root1, CT_HASH_BYTES) ||
	    !util_ct_equal(sr, root2, CT_HASH_BYTES))
		return CT_ERR_SIGNATURE;
	return 0;
}

/* ---------------------------------------------------------------- tree */

void
ct_tree_init(struct ct_tree *t)
{
	memset(t, 0, sizeof(*t));
}

int
ct_tree_load(struct ct_tree *t, uint64_t size,
    const uint8_t (*nodes)[CT_HASH_BYTES], size_t n)
{
	if (n != (size_t)__builtin_popcountll(size) || n > CT_TREE_MAX_NODES)
		return CT_ERR_INVALID;
	ct_tree_init(t);
	t->size = size;
	t->n = n;
	if (n > 0)
		memcpy(t->nodes, nodes, n * CT_HASH_BYTES);
	return 0;
}

int
ct_tree_append(struct ct_tree *t, const uint8_t leaf_hash[CT_HASH_BYTES])
{
	struct ct_tree nt;
	uint64_t s;
	int rc;

	if (t->size == UINT64_MAX || t->n >= CT_TREE_MAX_NODES)
		return CT_ERR_TOO_BIG;
	/* Work on a copy so that a failure leaves *t as it was. */
	nt = *t;
	memcpy(nt.nodes[nt.n++], leaf_hash, CT_HASH_BYTES);
	/* Binary-counter carry: a merge per trailing 1 bit of the old size. */
	for (s = nt.size; (s & 1) != 0; s >>= 1) {
		if ((rc = ct_hash_node(nt.nodes[nt.n - 2], nt.nodes[nt.n - 1],
		         nt.nodes[nt.n - 2])) != 0)
			return rc;
		nt.n--;
	}
	nt.size++;
	*t = nt;
	return 0;
}

int
ct_tree_root(const struct ct_tree *t, uint8_t out[CT_HASH_BYTES])
{
	uint8_t h[CT_HASH_BYTES];
	size_t i;
	int rc;

	if (t->n == 0)
		return ct_hash_empty(out);
	memcpy(h, t->nodes[t->n - 1], CT_HASH_BYTES);
	for (i = t->n - 1; i > 0; i--)
		if ((rc = ct_hash_node(t->nodes[i - 1], h, h)) != 0)
			return rc;
	memcpy(out, h, CT_HASH_BYTES);
	return 0;
}
