/*
 * libFuzzer harness for the ct parsers: SignedCertificateTimestampList,
 * one serialized SCT, MerkleTreeLeaf, a data tile of TileLeaf records and
 * a checkpoint (signed note).
 * Every input goes through all of them. Besides memory safety it checks
 * that what parses re-encodes to the same bytes, that views stay inside
 * the input, and that the streamed leaf hash equals the hash of the bytes.
 */
#include <wolfssl/options.h>

#include <stdlib.h>
#include <string.h>

#include "ct.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The RFC 6962 test log key (ct-testdata/ct-server-key-public.pem). */
static const char log_key_b64[] =
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEmXg8sUUzwBYaWrRb+V0IopzQ6o3U"
    "yEJ04r5ZrRXGdpYM8K+hB0pXrGRLI0eeWz+3skXrS0IO83AhA3GpRL6s6w==";
static uint8_t log_key[128];
static size_t log_key_len;

#define FUZZ_CHECK(cond)                                                       \
	do {                                                                   \
		if (!(cond))                                                   \
			__builtin_trap();                                      \
	} while (0)

static bool
inside(const uint8_t *p, size_t n, const uint8_t *data, size_t size)
{
	if (n == 0)
		return true;
	return p >= data && p <= data + size && n <= (size_t)(data + size - p);
}

static void
check_sct(const struct ct_sct *s, const uint8_t *data, size_t size)
{
	bool has;
	uint64_t idx;

	FUZZ_CHECK(s->version == 0);
	FUZZ_CHECK(inside(s->ext, s->ext_len, data, size));
	FUZZ_CHECK(inside(s->sig, s->sig_len, data, size));
	FUZZ_CHECK(s->sig_len > 0);
	FUZZ_CHECK(ct_ext_parse(s->ext, s->ext_len, &has, &idx) == 0);
	FUZZ_CHECK(has == s->has_leaf_index && idx == s->leaf_index);
}

/* Re-serializes an SCT and compares with the input. */
static void
sct_roundtrip(const struct ct_sct *s, const uint8_t *data, size_t size)
{
	struct util_buf b;
	uint8_t hdr[1 + CT_HASH_BYTES + 8 + 2], mid[4];
	size_t i;

	util_buf_init(&b, 2 * CT_MAX_UINT16 + 64);
	hdr[0] = s->version;
	memcpy(hdr + 1, s->log_id, CT_HASH_BYTES);
	for (i = 0; i < 8; i++)
		hdr[1 + CT_HASH_BYTES + i] =
		    (uint8_t)(s->timestamp >> (56 - 8 * i));
	hdr[41] = (uint8_t)(s->ext_len >> 8);
	hdr[42] = (uint8_t)s->ext_len;
	mid[0] = s->hash_alg;
	mid[1] = s->sig_alg;
	mid[2] = (uint8_t)(s->sig_len >> 8);
	mid[3] = (uint8_t)s->sig_len;
	FUZZ_CHECK(util_buf_append(&b, hdr, sizeof(hdr)) == 0);
	FUZZ_CHECK(util_buf_append(&b, s->ext, s->ext_len) == 0);
	FUZZ_CHECK(util_buf_append(&b, mid, sizeof(mid)) == 0);
	FUZZ_CHECK(util_buf_append(&b, s->sig, s->sig_len) == 0);
	FUZZ_CHECK(b.len == size && memcmp(b.data, data, size) == 0);
	util_buf_clear(&b);
}

static void
leaf_checks(const struct ct_leaf *l, const uint8_t *data, size_t size,
    bool whole)
{
	uint8_t h1[CT_HASH_BYTES], h2[CT_HASH_BYTES];
	struct util_buf b;

	FUZZ_CHECK(inside(l->cert, l->cert_len, data, size));
	FUZZ_CHECK(inside(l->ext, l->ext_len, data, size));
	FUZZ_CHECK(l->cert_len > 0);
	util_buf_init(&b, CT_MAX_LEAF_BYTES);
	FUZZ_CHECK(ct_leaf_encode(l, &b) == 0);
	if (whole)
		FUZZ_CHECK(b.len == size && memcmp(b.data, data, size) == 0);
	FUZZ_CHECK(ct_leaf_hash(l, h1) == 0);
	FUZZ_CHECK(ct_hash_leaf(b.data, b.len, h2) == 0);
	FUZZ_CHECK(memcmp(h1, h2, CT_HASH_BYTES) == 0);
	util_buf_clear(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ct_sct scts[CT_MAX_SCTS], s;
	struct ct_leaf leaf;
	struct ct_tile_leaf tl;
	size_t n = 0, i, off, used;
	int rc;

	if (log_key_len == 0) {
		rc = util_b64_decode(log_key_b64, strlen(log_key_b64), log_key,
		    sizeof(log_key), false);
		if (rc <= 0)
			abort();
		log_key_len = (size_t)rc;
	}

	if (ct_sct_list_parse(data, size, scts, CT_MAX_SCTS, &n) == 0) {
		FUZZ_CHECK(n >= 1 && n <= CT_MAX_SCTS);
		for (i = 0; i < n; i++)
			check_sct(&scts[i], data, size);
	} else {
		FUZZ_CHECK(n == 0);
	}

	if (ct_sct_parse(data, size, &s) == 0) {
		check_sct(&s, data, size);
		sct_roundtrip(&s, data, size);
		/* The signed input builder and the verifier must not crash. */
		(void)ct_sct_verify_x509(&s, data, size, log_key, log_key_len);
		(void)ct_sct_verify_precert(&s, s.log_id, data, size, log_key,
		    log_key_len);
	}

	if (ct_leaf_parse(data, size, &leaf) == 0)
		leaf_checks(&leaf, data, size, true);

	/* A data tile: TileLeaf records back to back. */
	for (off = 0; off < size; off += used) {
		if (ct_tile_leaf_parse(data + off, size - off, &tl, &used) != 0)
			break;
		FUZZ_CHECK(used > 0 && used <= size - off);
		FUZZ_CHECK(inside(tl.chain, tl.n_chain * CT_HASH_BYTES,
		    data + off, used));
		FUZZ_CHECK(
		    inside(tl.precert, tl.precert_len, data + off, used));
		FUZZ_CHECK(
		    (tl.precert != NULL) == (tl.leaf.type == CT_ENTRY_PRECERT));
		leaf_checks(&tl.leaf, data + off, used, false);
	}

	/* A checkpoint from the test log under a fixed origin. */
	{
		static const char origin[] = "example.com/fuzz";
		struct ct_sth sth;

		memset(&sth, 0, sizeof(sth));
		if (ct_checkpoint_verify(data, size, origin, sizeof(origin) - 1,
		        log_key, log_key_len, &sth) == 0)
			FUZZ_CHECK(sth.sig == NULL);
	}

	/* A TLS DigitallySigned over a fixed STH. */
	{
		struct ct_sth sth;

		memset(&sth, 0, sizeof(sth));
		sth.tree_size = size;
		sth.sig = data;
		sth.sig_len = size;
		(void)ct_sth_verify(&sth, log_key, log_key_len);
	}
	return 0;
}
