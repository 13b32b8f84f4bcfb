/*
 * ct: Certificate Transparency structures (RFC 6962, C2SP static-ct-api).
 * SCT and SCT-list parsing and verification, STH and checkpoint
 * signatures, MerkleTreeLeaf and TileLeaf parsing, leaf and node hashes,
 * RFC 9162 inclusion and consistency proofs, the collapsed tree and tile
 * paths.
 *
 * Parsers never allocate: every pointer in a parsed struct is a view into
 * the buffer that was parsed, and is valid as long as that buffer is.
 */
#ifndef CT_CT_H
#define CT_CT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

struct ct_cert;

#define CT_HASH_BYTES 32 /* SHA-256: log IDs, leaf, node and root hashes */
#define CT_MAX_SCTS 64   /* SCTs accepted in one SCT list */
#define CT_MAX_UINT24 0xffffffU
#define CT_MAX_UINT16 0xffffU
/* Largest MerkleTreeLeaf (= largest SCT signed input) we ever build. */
#define CT_MAX_LEAF_BYTES                                                      \
	(2 + 8 + 2 + CT_HASH_BYTES + 3 + CT_MAX_UINT24 + 2 + CT_MAX_UINT16)
/* Enough for an inclusion or consistency proof in any uint64 tree. */
#define CT_MAX_PROOF_HASHES 65
#define CT_STH_SIGNED_BYTES 50 /* TreeHeadSignature, RFC 6962 3.5 */
#define CT_EXT_LEAF_INDEX 0    /* static-ct-api leaf_index extension type */
#define CT_LEAF_INDEX_BYTES 5  /* uint40 */
#define CT_TILE_WIDTH 256      /* entries (or hashes) in a full tile */
#define CT_TILE_MAX_LEVEL 5    /* static-ct-api: levels 0-5 */
#define CT_TILE_PATH_MAX 64 /* "tile/data/x..." incl. NUL, see ct_tile_path */

/* LogEntryType (RFC 6962 3.1). */
enum ct_entry_type { CT_ENTRY_X509 = 0, CT_ENTRY_PRECERT = 1, CT_ENTRY__MAX };

extern const char *const ct_entry_type_names[CT_ENTRY__MAX];

/*
 * One SCT v1 (RFC 6962 3.2). ext and sig point into the buffer given to
 * ct_sct_parse or ct_sct_list_parse.
 */
struct ct_sct {
	uint8_t version; /* always 0 (v1) once parsed */
	uint8_t log_id[CT_HASH_BYTES];
	uint64_t timestamp; /* ms since the epoch */
	const uint8_t *ext; /* CtExtensions as received (without the length) */
	size_t ext_len;
	bool has_leaf_index; /* static-ct-api leaf_index extension present */
	uint64_t leaf_index;
	uint8_t hash_alg;   /* TLS HashAlgorithm, 4 = sha256 */
	uint8_t sig_alg;    /* TLS SignatureAlgorithm, 1 = rsa, 3 = ecdsa */
	const uint8_t *sig; /* signature bytes (without the length) */
	size_t sig_len;
};

/*
 * Parses exactly one serialized SCT (no length prefix) filling all of
 * p[0..len). 0; CT_ERR_TRUNCATED, CT_ERR_TRAILING or CT_ERR_FORMAT for
 * malformed bytes (including a malformed or duplicated extension);
 * CT_ERR_UNSUPPORTED for a version other than v1.
 */
int ct_sct_parse(const uint8_t *p, size_t len, struct ct_sct *sct);

/*
 * Parses a SignedCertificateTimestampList (uint16 total length, then each
 * SCT as uint16 length || SCT) that fills all of p[0..len), into scts[0..*n).
 * At most min(max, CT_MAX_SCTS) SCTs (CT_ERR_TOO_BIG beyond). An empty list
 * or an empty SCT is CT_ERR_FORMAT. Errors as ct_sct_parse; *n is then 0.
 */
int ct_sct_list_parse(const uint8_t *p, size_t len, struct ct_sct *scts,
    size_t max, size_t *n);

/*
 * Parses the CtExtensions of an SCT or leaf: a list of {uint8 type; uint16
 * length; data}. Duplicate types are CT_ERR_FORMAT; unknown types are
 * skipped. A leaf_index extension must hold exactly 5 bytes.
 */
int ct_ext_parse(const uint8_t *ext, size_t ext_len, bool *has_leaf_index,
    uint64_t *leaf_index);

/*
 * SCT verification. log_spki is the log's DER SubjectPublicKeyInfo. Each
 * returns 0 when the SCT's log_id is SHA-256(log_spki) and its signature
 * verifies over the signed input of RFC 6962 3.2 (with the SCT's
 * extensions exactly as received); CT_ERR_SIGNATURE when either does not
 * hold; CT_ERR_UNSUPPORTED for an algorithm or key type we lack; or
 * another negative ct_err.
 */
/* x509_entry: cert is the DER certificate the SCT was issued for. */
int ct_sct_verify_x509(const struct ct_sct *sct, const uint8_t *cert,
    size_t cert_len, const uint8_t *log_spki, size_t log_spki_len);
/* precert_entry: tbs is the precert TBSCertificate as the log saw it. */
int ct_sct_verify_precert(const struct ct_sct *sct,
    const uint8_t issuer_key_hash[CT_HASH_BYTES], const uint8_t *tbs,
    size_t tbs_len, const uint8_t *log_spki, size_t log_spki_len);
/*
 * An SCT embedded in cert (a final certificate, or a precertificate
 * signed directly by the final issuer): verified as precert_entry over
 * cert_tbs_normalized(cert) with issuer_key_hash = issuer->spki_sha256.
 * issuer is the certificate's issuing CA (for a precert signed by a
 * Precertificate Signing Certificate, use ct_sct_verify_precert with
 * cert_tbs_precert_rewrite instead).
 */
int ct_sct_verify_embedded(const struct ct_sct *sct, const struct ct_cert *cert,
    const struct ct_cert *issuer, const uint8_t *log_spki, size_t log_spki_len);

/*
 * Verifies a TLS DigitallySigned (uint8 hash, uint8 signature, uint16
 * length, signature; exactly ds_len bytes) over data with the key in spki.
 * Results as the SCT functions.
 */
int ct_digitally_signed_verify(const uint8_t *ds, size_t ds_len,
    const uint8_t *data, size_t data_len, const uint8_t *spki, size_t spki_len);

/* A signed tree head, as decoded from get-sth or a checkpoint. */
struct ct_sth {
	uint64_t tree_size;
	uint64_t timestamp; /* ms since the epoch */
	uint8_t root[CT_HASH_BYTES];
	const uint8_t *sig; /* DigitallySigned, in the caller's buffer */
	size_t sig_len;
};

/* The 50-byte TreeHeadSignature that the log signs (RFC 6962 3.5). */
void ct_sth_signed_data(const struct ct_sth *sth,
    uint8_t out[CT_STH_SIGNED_BYTES]);
/* Verifies sth->sig with the log key. Results as the SCT functions. */
int ct_sth_verify(const struct ct_sth *sth, const uint8_t *log_spki,
    size_t log_spki_len);

/*
 * static-ct-api checkpoint: a c2sp.org/tlog-checkpoint in a
 * c2sp.org/signed-note, signed by the log with an RFC 6962 note signature
 * (type 0x05: uint64 timestamp || DigitallySigned over the 50-byte
 * TreeHeadSignature).
 */
#define CT_NOTE_MAX_BYTES (64 * 1024) /* whole note */
#define CT_NOTE_MAX_SIGS 64           /* signature lines (spec: >= 16) */
#define CT_NOTE_MAX_SIG_BYTES 4096    /* one decoded signature */
#define CT_NOTE_KEY_ID_BYTES 4
#define CT_NOTE_SIG_RFC6962 0x05

/*
 * Verifies a checkpoint against the log's origin (the submission prefix
 * without scheme or trailing slash, as derived from the log list, not
 * from the note) and key. Signatures by other keys (witnesses) are
 * ignored; a key is the log's only when the line's name equals origin and
 * its key ID is SHA-256(origin || 0x0A || 0x05 || LogID)[0..4).
 * On success fills sth from the note (sth->sig is NULL: the signature has
 * been checked). 0; CT_ERR_FORMAT for a malformed note (bad UTF-8, a
 * control byte, no blank line, extension lines, bad numbers or base64, a
 * second signature by the log's key); CT_ERR_TOO_BIG past a cap;
 * CT_ERR_AUTH when the origin line is not origin; CT_ERR_NOT_FOUND when
 * the log did not sign it; CT_ERR_SIGNATURE when the log's signature does
 * not verify (CT_ERR_TRUNCATED or CT_ERR_TRAILING when its DigitallySigned
 * is malformed); CT_ERR_UNSUPPORTED for its algorithms.
 */
int ct_checkpoint_verify(const uint8_t *note, size_t len, const char *origin,
    size_t origin_len, const uint8_t *log_spki, size_t log_spki_len,
    struct ct_sth *sth);

/*
 * The TimestampedEntry of a MerkleTreeLeaf (RFC 6962 3.4) or TileLeaf.
 * cert and ext point into the parsed buffer (or the caller's buffers when
 * filled by ct_leaf_from_sct).
 */
struct ct_leaf {
	uint64_t timestamp; /* ms since the epoch */
	enum ct_entry_type type;
	const uint8_t *cert; /* x509: certificate DER; precert: TBS DER */
	size_t cert_len;
	uint8_t issuer_key_hash[CT_HASH_BYTES]; /* precert only; else zero */
	const uint8_t *ext; /* CtExtensions (without the length) */
	size_t ext_len;
	bool has_leaf_index;
	uint64_t leaf_index;
};

/*
 * Parses a MerkleTreeLeaf (get-entries leaf_input) filling exactly
 * p[0..len). 0; CT_ERR_UNSUPPORTED for an unknown version, leaf type or
 * entry type; CT_ERR_TRUNCATED, CT_ERR_TRAILING or CT_ERR_FORMAT.
 */
int ct_leaf_parse(const uint8_t *p, size_t len, struct ct_leaf *leaf);

/*
 * Fills leaf with the entry an SCT was issued for: the SCT's timestamp
 * and extensions, and cert (x509: certificate DER; precert: TBS DER,
 * issuer_key_hash required; NULL for x509). Views into sct's and cert's
 * buffers.
 */
int ct_leaf_from_sct(struct ct_leaf *leaf, const struct ct_sct *sct,
    enum ct_entry_type type, const uint8_t *cert, size_t cert_len,
    const uint8_t *issuer_key_hash);

/*
 * Appends the MerkleTreeLeaf encoding of leaf to out. These are also the
 * exact bytes an SCT for this entry signs (version 0, signature_type 0
 * coincide with version 0, leaf_type 0).
 */
int ct_leaf_encode(const struct ct_leaf *leaf, struct util_buf *out);

/* SHA-256(0x00 || MerkleTreeLeaf(leaf)), without building the leaf. */
int ct_leaf_hash(const struct ct_leaf *leaf, uint8_t out[CT_HASH_BYTES]);

/* A static-ct-api data tile entry (TileLeaf). Views into the tile. */
struct ct_tile_leaf {
	struct ct_leaf leaf;
	const uint8_t *precert; /* precert_entry: submitted precert DER */
	size_t precert_len;
	const uint8_t *chain; /* n_chain SHA-256 fingerprints of issuers */
	size_t n_chain;
};

/*
 * Parses the TileLeaf at the start of p[0..len) and sets *used to its
 * length, so that a data tile is walked by advancing p. Errors as
 * ct_leaf_parse (a chain whose length is not a multiple of 32 is
 * CT_ERR_FORMAT).
 */
int ct_tile_leaf_parse(const uint8_t *p, size_t len, struct ct_tile_leaf *tl,
    size_t *used);

/*
 * The path of a tile under the monitoring prefix: "tile/<level>/<n>" or,
 * when data is set, "tile/data/<n>", with "<n>" in x-prefixed groups of 3
 * digits and ".p/<width>" for 1 <= width < 256 (0 or 256: a full tile).
 * out needs CT_TILE_PATH_MAX bytes.
 */
int ct_tile_path(char *out, size_t outsz, bool data, unsigned level, uint64_t n,
    unsigned width);

/* Merkle hashes (RFC 6962 2.1). Each returns 0 or CT_ERR_CRYPTO. */
/* SHA-256(0x00 || leaf_input). */
int ct_hash_leaf(const uint8_t *leaf_input, size_t len,
    uint8_t out[CT_HASH_BYTES]);
/* SHA-256(0x01 || left || right). out may alias left or right. */
int ct_hash_node(const uint8_t left[CT_HASH_BYTES],
    const uint8_t right[CT_HASH_BYTES], uint8_t out[CT_HASH_BYTES]);
/* The root of the empty tree, SHA-256(""). */
int ct_hash_empty(uint8_t out[CT_HASH_BYTES]);

/*
 * RFC 9162 2.1.3.2: 0 when proof[0..n) proves that leaf_hash is leaf
 * index of the tree of size whose root is root; CT_ERR_SIGNATURE when the
 * computed root differs; CT_ERR_FORMAT when index >= size or n is not the
 * proof length for index and size; CT_ERR_TOO_BIG for n >
 * CT_MAX_PROOF_HASHES.
 */
int ct_verify_inclusion(uint64_t index, uint64_t size,
    const uint8_t leaf_hash[CT_HASH_BYTES],
    const uint8_t (*proof)[CT_HASH_BYTES], size_t n,
    const uint8_t root[CT_HASH_BYTES]);

/*
 * RFC 9162 2.1.4.2: 0 when proof[0..n) proves that the tree of size2 with
 * root2 extends the tree of size1 with root1. size1 == size2 needs an
 * empty proof and equal roots. size1 == 0 is always rejected (a proof
 * from the empty tree means nothing), as is size1 > size2 (CT_ERR_FORMAT).
 * Other results as ct_verify_inclusion.
 */
int ct_verify_consistency(uint64_t size1, uint64_t size2,
    const uint8_t root1[CT_HASH_BYTES], const uint8_t root2[CT_HASH_BYTES],
    const uint8_t (*proof)[CT_HASH_BYTES], size_t n);

/*
 * Collapsed Merkle tree: one subtree root per set bit of size, largest
 * (leftmost) first. Plain data: copy it, no clear needed.
 */
#define CT_TREE_MAX_NODES 64
struct ct_tree {
	uint64_t size;
	size_t n; /* number of nodes = popcount(size) */
	uint8_t nodes[CT_TREE_MAX_NODES][CT_HASH_BYTES];
};

void ct_tree_init(struct ct_tree *t);
/*
 * Restores a tree from saved state: nodes[0..n) must be the subtree roots
 * of a tree of size (n == popcount(size)), CT_ERR_INVALID otherwise.
 */
int ct_tree_load(struct ct_tree *t, uint64_t size,
    const uint8_t (*nodes)[CT_HASH_BYTES], size_t n);
/* Appends a leaf hash; CT_ERR_TOO_BIG when size would overflow. */
int ct_tree_append(struct ct_tree *t, const uint8_t leaf_hash[CT_HASH_BYTES]);
/* The root hash (SHA-256("") for the empty tree). */
int ct_tree_root(const struct ct_tree *t, uint8_t out[CT_HASH_BYTES]);

#endif
