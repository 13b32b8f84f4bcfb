/*
 * der: bounds-checked cursor for DER and TLS-encoded structures.
 */
#include <stdio.h>
#include <string.h>

#include "der.h"
#include "util.h"

void
der_init(struct der_cursor *c, const uint8_t *p, size_t len)
{
	c->p = p;
	c->len = p == NULL ? 0 : len;
}

bool
der_empty(const struct der_cursor *c)
{
	return c->len == 0;
}

int
der_peek(const struct der_cursor *c)
{
	return c->len == 0 ? -1 : c->p[0];
}

int
der_next(struct der_cursor *c, struct der_tlv *t)
{
	size_t len, hdr, i, nbytes;
	uint8_t tag;

	if (c->len < 2)
		return CT_ERR_TRUNCATED;
	tag = c->p[0];
	if ((tag & 0x1f) == 0x1f)
		return CT_ERR_UNSUPPORTED; /* high tag number form */
	if (c->p[1] < 0x80) {
		len = c->p[1];
		hdr = 2;
	} else {
		nbytes = c->p[1] & 0x7f;
		if (nbytes == 0)
			return CT_ERR_FORMAT; /* indefinite length: BER only */
		if (nbytes > 4)
			return CT_ERR_TOO_BIG;
		if (c->len < 2 + nbytes)
			return CT_ERR_TRUNCATED;
		len = 0;
		for (i = 0; i < nbytes; i++)
			len = len << 8 | c->p[2 + i];
		hdr = 2 + nbytes;
	}
	if (len > c->len - hdr)
		return CT_ERR_TRUNCATED;
	t->tag = tag;
	t->raw = c->p;
	t->raw_len = hdr + len;
	t->val = c->p + hdr;
	t->len = len;
	c->p += hdr + len;
	c->len -= hdr + len;
	return 0;
}

int
der_expect(struct der_cursor *c, uint8_t tag, struct der_tlv *t)
{
	struct der_cursor save = *c;
	int rc;

	if (c->len == 0)
		return CT_ERR_TRUNCATED;
	if (c->p[0] != tag)
		return CT_ERR_FORMAT;
	if ((rc = der_next(c, t)) != 0)
		*c = save;
	return rc;
}

int
der_optional(struct der_cursor *c, uint8_t tag, struct der_tlv *t)
{
	int rc;

	if (c->len == 0 || c->p[0] != tag)
		return 0;
	if ((rc = der_next(c, t)) != 0)
		return rc;
	return 1;
}

void
der_enter(const struct der_tlv *t, struct der_cursor *inner)
{
	der_init(inner, t->val, t->len);
}

bool
der_oid_eq(const struct der_tlv *t, const uint8_t *oid, size_t oid_len)
{
	return t->tag == DER_OID && t->len == oid_len &&
	    memcmp(t->val, oid, oid_len) == 0;
}

int
der_get_uint(const struct der_tlv *t, uint64_t *v)
{
	const uint8_t *p = t->val;
	size_t n = t->len, i;
	uint64_t x = 0;

	if (t->tag != DER_INTEGER || n == 0)
		return CT_ERR_FORMAT;
	if (p[0] & 0x80)
		return CT_ERR_FORMAT; /* negative */
	if (n > 1 && p[0] == 0) {
		p++;
		n--;
	}
	if (n > 8)
		return CT_ERR_TOO_BIG;
	for (i = 0; i < n; i++)
		x = x << 8 | p[i];
	*v = x;
	return 0;
}

static int
two(const uint8_t *p, unsigned *out)
{
	if (p[0] < '0' || p[0] > '9' || p[1] < '0' || p[1] > '9')
		return -1;
	*out = (unsigned)(p[0] - '0') * 10 + (unsigned)(p[1] - '0');
	return 0;
}

int
der_get_time(const struct der_tlv *t, int64_t *out)
{
	static const unsigned mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31};
	const uint8_t *p = t->val;
	unsigned cc, yy, mo, d, h, mi, s;
	int64_t year;

	if (t->tag == DER_UTC_TIME) {
		if (t->len != 13 || p[12] != 'Z' || two(p, &yy))
			return CT_ERR_FORMAT;
		year = yy >= 50 ? 1900 + yy : 2000 + yy;
		p += 2;
	} else if (t->tag == DER_GENERALIZED_TIME) {
		if (t->len != 15 || p[14] != 'Z' || two(p, &cc) ||
		    two(p + 2, &yy))
			return CT_ERR_FORMAT;
		year = cc * 100 + yy;
		p += 4;
	} else {
		return CT_ERR_FORMAT;
	}
	if (two(p, &mo) || two(p + 2, &d) || two(p + 4, &h) ||
	    two(p + 6, &mi) || two(p + 8, &s))
		return CT_ERR_FORMAT;
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 ||
	    mi > 59 || s > 59)
		return CT_ERR_FORMAT;
	if (mo == 2 && d == 29 &&
	    (year % 4 != 0 || (year % 100 == 0 && year % 400 != 0)))
		return CT_ERR_FORMAT; /* not a leap year */
	*out =
	    util_days_from_civil(year, mo, d) * 86400 + h * 3600 + mi * 60 + s;
	return 0;
}

int
der_oid_text(const struct der_tlv *t, char *out, size_t outsz)
{
	uint64_t v = 0;
	size_t i, o = 0;
	int n, first = 1;

	if (t->tag != DER_OID || t->len == 0 || outsz == 0)
		return CT_ERR_FORMAT;
	if (t->val[t->len - 1] & 0x80)
		return CT_ERR_TRUNCATED;
	for (i = 0; i < t->len; i++) {
		if (v > (UINT64_MAX >> 7))
			return CT_ERR_TOO_BIG;
		v = v << 7 | (t->val[i] & 0x7f);
		if (t->val[i] & 0x80)
			continue;
		if (first) {
			unsigned a = v < 40 ? 0 : v < 80 ? 1 : 2;
			n = snprintf(out + o, outsz - o, "%u.%llu", a,
			    (unsigned long long)(v - 40 * a));
			first = 0;
		} else {
			n = snprintf(out + o, outsz - o, ".%llu",
			    (unsigned long long)v);
		}
		if (n < 0 || (size_t)n >= outsz - o)
			return CT_ERR_TOO_BIG;
		o += (size_t)n;
		v = 0;
	}
	return 0;
}

size_t
der_header_len(size_t len)
{
	if (len < 0x80)
		return 2;
	if (len < 0x100)
		return 3;
	if (len < 0x10000)
		return 4;
	if (len < 0x1000000)
		return 5;
	return 6;
}

size_t
der_put_header(uint8_t *out, uint8_t tag, size_t len)
{
	size_t h = der_header_len(len), i;

	out[0] = tag;
	if (h == 2) {
		out[1] = (uint8_t)len;
		return 2;
	}
	out[1] = (uint8_t)(0x80 | (h - 2));
	for (i = 0; i < h - 2; i++)
		out[h - 1 - i] = (uint8_t)(len >> (8 * i));
	return h;
}

static int
read_be(struct der_cursor *c, size_t n, uint64_t *v)
{
	uint64_t x = 0;
	size_t i;

	if (c->len < n)
		return CT_ERR_TRUNCATED;
	for (i = 0; i < n; i++)
		x = x << 8 | c->p[i];
	c->p += n;
	c->len -= n;
	*v = x;
	return 0;
}

int
der_read_u8(struct der_cursor *c, uint8_t *v)
{
	uint64_t x;
	int rc;

	if ((rc = read_be(c, 1, &x)) == 0)
		*v = (uint8_t)x;
	return rc;
}

int
der_read_u16(struct der_cursor *c, uint16_t *v)
{
	uint64_t x;
	int rc;

	if ((rc = read_be(c, 2, &x)) == 0)
		*v = (uint16_t)x;
	return rc;
}

int
der_read_u24(struct der_cursor *c, uint32_t *v)
{
	uint64_t x;
	int rc;

	if ((rc = read_be(c, 3, &x)) == 0)
		*v = (uint32_t)x;
	return rc;
}

int
der_read_u40(struct der_cursor *c, uint64_t *v)
{
	return read_be(c, 5, v);
}

int
der_read_u64(struct der_cursor *c, uint64_t *v)
{
	return read_be(c, 8, v);
}

int
der_read_bytes(struct der_cursor *c, size_t n, const uint8_t **p)
{
	if (c->len < n)
		return CT_ERR_TRUNCATED;
	*p = c->p;
	c->p += n;
	c->len -= n;
	return 0;
}

int
der_read_vec(struct der_cursor *c, unsigned prefix_bytes,
    struct der_cursor *vec)
{
	struct der_cursor save = *c;
	const uint8_t *p;
	uint64_t n;
	int rc;

	if (prefix_bytes < 1 || prefix_bytes > 3)
		return CT_ERR_INVALID;
	if ((rc = read_be(c, prefix_bytes, &n)) != 0)
		return rc;
	if ((rc = der_read_bytes(c, (size_t)n, &p)) != 0) {
		*c = save;
		return rc;
	}
	der_init(vec, p, (size_t)n);
	return 0;
}
