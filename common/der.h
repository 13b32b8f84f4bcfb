/*
 * der: a bounds-checked cursor over untrusted bytes. It reads DER TLVs
 * (X.509) and the big-endian integers and length-prefixed vectors of the
 * TLS presentation language (CT structures). Nothing here allocates.
 */
#ifndef CT_DER_H
#define CT_DER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* DER tags (single byte, as X.509 uses them). */
#define DER_BOOLEAN 0x01
#define DER_INTEGER 0x02
#define DER_BIT_STRING 0x03
#define DER_OCTET_STRING 0x04
#define DER_NULL 0x05
#define DER_OID 0x06
#define DER_UTF8_STRING 0x0c
#define DER_PRINTABLE_STRING 0x13
#define DER_T61_STRING 0x14
#define DER_IA5_STRING 0x16
#define DER_UTC_TIME 0x17
#define DER_GENERALIZED_TIME 0x18
#define DER_UNIVERSAL_STRING 0x1c
#define DER_BMP_STRING 0x1e
#define DER_SEQUENCE 0x30
#define DER_SET 0x31
#define DER_CTX(n) (0x80 | (n))      /* [n] IMPLICIT primitive */
#define DER_CTX_CONS(n) (0xa0 | (n)) /* [n] constructed */

/* Nesting never goes deeper than this in anything we walk. */
#define DER_MAX_DEPTH 32

/* The remaining bytes. */
struct der_cursor {
	const uint8_t *p;
	size_t len;
};

/* One TLV, as views into the cursor's buffer. */
struct der_tlv {
	uint8_t tag;
	const uint8_t *raw; /* first byte of the tag */
	size_t raw_len;     /* tag + length + value */
	const uint8_t *val;
	size_t len;
};

void der_init(struct der_cursor *c, const uint8_t *p, size_t len);
bool der_empty(const struct der_cursor *c);
/* Next tag byte, or -1 at the end. */
int der_peek(const struct der_cursor *c);

/*
 * Reads one TLV. Rejects high tag numbers, indefinite lengths, lengths of
 * more than 4 bytes and lengths past the end. 0 or a negative ct_err.
 */
int der_next(struct der_cursor *c, struct der_tlv *t);
/* As der_next, but the tag must be tag (CT_ERR_FORMAT otherwise). */
int der_expect(struct der_cursor *c, uint8_t tag, struct der_tlv *t);
/* Reads the next TLV if its tag is tag: 1 if read, 0 if not, or < 0. */
int der_optional(struct der_cursor *c, uint8_t tag, struct der_tlv *t);
/* A cursor over a TLV's value. */
void der_enter(const struct der_tlv *t, struct der_cursor *inner);

/* Value helpers. */
bool der_oid_eq(const struct der_tlv *t, const uint8_t *oid, size_t oid_len);
/* Non-negative INTEGER that fits in 64 bits. */
int der_get_uint(const struct der_tlv *t, uint64_t *v);
/*
 * UTCTime or GeneralizedTime (the forms RFC 5280 allows: "Z", seconds)
 * to seconds since the epoch.
 */
int der_get_time(const struct der_tlv *t, int64_t *out);
/* Writes "1.2.840..." into out; CT_ERR_TOO_BIG when it does not fit. */
int der_oid_text(const struct der_tlv *t, char *out, size_t outsz);

/* Encoding: the size of a header, and writing it (out needs 6 bytes). */
size_t der_header_len(size_t len);
size_t der_put_header(uint8_t *out, uint8_t tag, size_t len);

/* TLS presentation language readers; each fails with CT_ERR_TRUNCATED. */
int der_read_u8(struct der_cursor *c, uint8_t *v);
int der_read_u16(struct der_cursor *c, uint16_t *v);
int der_read_u24(struct der_cursor *c, uint32_t *v);
int der_read_u40(struct der_cursor *c, uint64_t *v);
int der_read_u64(struct der_cursor *c, uint64_t *v);
int der_read_bytes(struct der_cursor *c, size_t n, const uint8_t **p);
/* A vector with a prefix of prefix_bytes (1, 2 or 3): a cursor over it. */
int der_read_vec(struct der_cursor *c, unsigned prefix_bytes,
    struct der_cursor *vec);

#endif
