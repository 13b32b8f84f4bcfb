/*
 * libFuzzer harness for common/der. The input is walked twice: as nested
 * DER TLVs (entering every constructed one down to DER_MAX_DEPTH and
 * running the value helpers on primitives), and as a script of TLS
 * presentation-language reads. Cursor invariants are checked with abort().
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "der.h"
#include "util.h"

#define FUZZ_DER_MAX_OPS 256
#define FUZZ_DER_OID_TEXT_BYTES 128

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(bool ok)
{
	if (!ok)
		abort();
}

/* The cursor must not move when a read fails. */
static void
check_unmoved(const struct der_cursor *c, const struct der_cursor *was)
{
	check(c->p == was->p && c->len == was->len);
}

static void
values(const struct der_tlv *t)
{
	char text[FUZZ_DER_OID_TEXT_BYTES], small[8], back[UTIL_RFC3339_LEN];
	uint64_t v;
	int64_t when, again;

	switch (t->tag) {
	case DER_INTEGER:
		if (der_get_uint(t, &v) == 0)
			check(t->len >= 1 && (t->val[0] & 0x80) == 0);
		break;
	case DER_UTC_TIME:
	case DER_GENERALIZED_TIME:
		/* A time der accepts, util prints and parses back the same. */
		if (der_get_time(t, &when) == 0 && when >= 0 &&
		    when < 253402300800LL) {
			util_time_rfc3339(when, back);
			check(util_time_parse_rfc3339(back, strlen(back),
			          &again) == 0);
			check(again == when);
		}
		break;
	case DER_OID:
		if (der_oid_text(t, text, sizeof(text)) == 0)
			check(strlen(text) < sizeof(text));
		if (der_oid_text(t, small, sizeof(small)) == 0)
			check(strlen(small) < sizeof(small));
		check(der_oid_eq(t, t->val, t->len));
		break;
	default:
		break;
	}
}

static void
walk(struct der_cursor *c, int depth)
{
	struct der_cursor inner, was;
	struct der_tlv t;

	while (!der_empty(c)) {
		was = *c;
		if (der_next(c, &t) != 0) {
			check_unmoved(c, &was);
			return;
		}
		check(t.raw == was.p && t.raw_len <= was.len);
		check(t.val > t.raw && t.val + t.len == t.raw + t.raw_len);
		check(
		    c->p == was.p + t.raw_len && c->len == was.len - t.raw_len);
		check(der_header_len(t.len) <= t.raw_len - t.len);
		values(&t);
		if ((t.tag & 0x20) && depth < DER_MAX_DEPTH) {
			der_enter(&t, &inner);
			walk(&inner, depth + 1);
		}
	}
}

/* Reads per a script: each op byte picks a reader. */
static void
tls_script(struct der_cursor *c, int depth)
{
	struct der_cursor was, vec;
	const uint8_t *p;
	uint8_t op, u8;
	uint16_t u16;
	uint32_t u24;
	uint64_t u64;
	size_t ops;
	int rc;

	for (ops = 0; ops < FUZZ_DER_MAX_OPS && !der_empty(c); ops++) {
		if (der_read_u8(c, &op) != 0)
			abort();
		was = *c;
		switch (op % 8) {
		case 0:
			rc = der_read_u8(c, &u8);
			check(rc != 0 || c->len == was.len - 1);
			break;
		case 1:
			rc = der_read_u16(c, &u16);
			check(rc != 0 || c->len == was.len - 2);
			break;
		case 2:
			rc = der_read_u24(c, &u24);
			check(rc != 0 ||
			    (c->len == was.len - 3 && u24 < 1u << 24));
			break;
		case 3:
			rc = der_read_u40(c, &u64);
			check(rc != 0 ||
			    (c->len == was.len - 5 && u64 >> 40 == 0));
			break;
		case 4:
			rc = der_read_u64(c, &u64);
			check(rc != 0 || c->len == was.len - 8);
			break;
		case 5:
			rc = der_read_bytes(c, op >> 3, &p);
			check(rc != 0 ||
			    (p == was.p &&
			        c->len == was.len - (size_t)(op >> 3)));
			break;
		default:
			rc = der_read_vec(c, (op >> 3) % 5, &vec);
			if (rc == 0) {
				check(
				    vec.p >= was.p && vec.p + vec.len == c->p);
				if (depth < DER_MAX_DEPTH)
					tls_script(&vec, depth + 1);
			}
			break;
		}
		if (rc != 0)
			check_unmoved(c, &was);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct der_cursor c, was;
	struct der_tlv t;
	int rc;

	der_init(&c, data, size);
	walk(&c, 0);

	/* der_expect / der_optional with the first byte as the tag. */
	if (size > 0) {
		der_init(&c, data + 1, size - 1);
		was = c;
		rc = der_expect(&c, data[0], &t);
		if (rc != 0)
			check_unmoved(&c, &was);
		else
			check(t.tag == data[0]);
		der_init(&c, data + 1, size - 1);
		rc = der_optional(&c, data[0], &t);
		if (rc <= 0)
			check_unmoved(&c, &was);
	}

	der_init(&c, data, size);
	tls_script(&c, 0);
	return 0;
}
