/*
 * Unit tests for common/der: TLV reading, value helpers, header encoding,
 * TLS readers, and a real certificate truncated at every length.
 */
#include <string.h>

#include "der.h"
#include "testutil.h"
#include "util.h"

#define R11_PEM SHARED_TESTDATA "letsencrypt/r11.pem"

/* A cursor over a byte array literal. */
#define CUR(c, arr) der_init((c), (arr), sizeof(arr))

/* A TLV with the given tag over a string value (for the value helpers). */
static struct der_tlv
tlv(uint8_t tag, const void *val, size_t len)
{
	struct der_tlv t;

	t.tag = tag;
	t.raw = val;
	t.raw_len = len;
	t.val = val;
	t.len = len;
	return t;
}

/* ------------------------------------------------------------ der_next */

START_TEST(test_next_short_form)
{
	const uint8_t in[] = {0x04, 0x03, 'a', 'b', 'c', 0x05, 0x00};
	struct der_cursor c;
	struct der_tlv t;

	CUR(&c, in);
	ck_assert(!der_empty(&c));
	ck_assert_int_eq(der_peek(&c), 0x04);
	ck_assert_int_eq(der_next(&c, &t), 0);
	ck_assert_uint_eq(t.tag, 0x04);
	ck_assert_ptr_eq(t.raw, in);
	ck_assert_uint_eq(t.raw_len, 5);
	ck_assert_ptr_eq(t.val, in + 2);
	ck_assert_uint_eq(t.len, 3);
	ck_assert_uint_eq(c.len, 2);
	ck_assert_int_eq(der_next(&c, &t), 0);
	ck_assert_uint_eq(t.tag, DER_NULL);
	ck_assert_uint_eq(t.len, 0);
	ck_assert(der_empty(&c));
	ck_assert_int_eq(der_peek(&c), -1);
	ck_assert_int_eq(der_next(&c, &t), CT_ERR_TRUNCATED);

	/* A length of 127 is the largest short form. */
	{
		uint8_t buf[2 + 127];

		memset(buf, 0, sizeof(buf));
		buf[0] = 0x04;
		buf[1] = 0x7f;
		CUR(&c, buf);
		ck_assert_int_eq(der_next(&c, &t), 0);
		ck_assert_uint_eq(t.len, 127);
		ck_assert(der_empty(&c));
	}
}
END_TEST

START_TEST(test_next_long_form)
{
	uint8_t buf[4 + 300];
	struct der_cursor c;
	struct der_tlv t;

	memset(buf, 0xaa, sizeof(buf));
	buf[0] = 0x04;
	buf[1] = 0x81;
	buf[2] = 0x80;
	der_init(&c, buf, 3 + 128);
	ck_assert_int_eq(der_next(&c, &t), 0);
	ck_assert_uint_eq(t.len, 128);
	ck_assert_uint_eq(t.raw_len, 131);
	ck_assert_ptr_eq(t.val, buf + 3);
	ck_assert(der_empty(&c));

	buf[1] = 0x82;
	buf[2] = 0x01;
	buf[3] = 0x2c;
	der_init(&c, buf, sizeof(buf));
	ck_assert_int_eq(der_next(&c, &t), 0);
	ck_assert_uint_eq(t.len, 300);
	ck_assert_ptr_eq(t.val, buf + 4);
	ck_assert(der_empty(&c));
	/* One byte short of the value. */
	der_init(&c, buf, sizeof(buf) - 1);
	ck_assert_int_eq(der_next(&c, &t), CT_ERR_TRUNCATED);
	ck_assert_uint_eq(c.len, sizeof(buf) - 1);
}
END_TEST

/* Runs der_next over in; the cursor must not move on failure. */
static int
next_rc(const uint8_t *in, size_t n)
{
	struct der_cursor c;
	struct der_tlv t;
	int rc;

	der_init(&c, in, n);
	rc = der_next(&c, &t);
	if (rc != 0) {
		ck_assert_ptr_eq(c.p, in);
		ck_assert_uint_eq(c.len, n);
	}
	return rc;
}

START_TEST(test_next_bad)
{
	const uint8_t indef[] = {0x30, 0x80, 0x04, 0x00, 0x00, 0x00};
	const uint8_t five[] = {0x04, 0x85, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00};
	const uint8_t nine[] = {0x04, 0x89, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0};
	const uint8_t all_ones[] = {0x04, 0xff, 0x00};
	const uint8_t past[] = {0x04, 0x05, 'a', 'b'};
	const uint8_t past_long[] = {0x04, 0x82, 0x01, 0x00, 'a'};
	const uint8_t past_four[] = {0x04, 0x84, 0xff, 0xff, 0xff, 0xff, 'a'};
	const uint8_t hdr_cut[] = {0x04, 0x82, 0x01};
	const uint8_t hdr_cut4[] = {0x04, 0x84, 0x00, 0x00, 0x00};
	const uint8_t high_tag[] = {0x1f, 0x81, 0x00, 0x01, 0x00};
	const uint8_t high_ctx[] = {0xbf, 0x20, 0x00};
	const uint8_t one[] = {0x04};

	ck_assert_int_eq(next_rc(indef, sizeof(indef)), CT_ERR_FORMAT);
	ck_assert_int_eq(next_rc(five, sizeof(five)), CT_ERR_TOO_BIG);
	ck_assert_int_eq(next_rc(nine, sizeof(nine)), CT_ERR_TOO_BIG);
	ck_assert_int_eq(next_rc(all_ones, sizeof(all_ones)), CT_ERR_TOO_BIG);
	ck_assert_int_eq(next_rc(past, sizeof(past)), CT_ERR_TRUNCATED);
	ck_assert_int_eq(next_rc(past_long, sizeof(past_long)),
	    CT_ERR_TRUNCATED);
	ck_assert_int_eq(next_rc(past_four, sizeof(past_four)),
	    CT_ERR_TRUNCATED);
	ck_assert_int_eq(next_rc(hdr_cut, sizeof(hdr_cut)), CT_ERR_TRUNCATED);
	ck_assert_int_eq(next_rc(hdr_cut4, sizeof(hdr_cut4)), CT_ERR_TRUNCATED);
	ck_assert_int_eq(next_rc(high_tag, sizeof(high_tag)),
	    CT_ERR_UNSUPPORTED);
	ck_assert_int_eq(next_rc(high_ctx, sizeof(high_ctx)),
	    CT_ERR_UNSUPPORTED);
	ck_assert_int_eq(next_rc(one, sizeof(one)), CT_ERR_TRUNCATED);
	ck_assert_int_eq(next_rc(one, 0), CT_ERR_TRUNCATED);
	ck_assert_int_eq(next_rc(NULL, 0), CT_ERR_TRUNCATED);
}
END_TEST

START_TEST(test_init_null)
{
	struct der_cursor c;

	der_init(&c, NULL, 5);
	ck_assert(der_empty(&c));
	ck_assert_uint_eq(c.len, 0);
	ck_assert_int_eq(der_peek(&c), -1);
}
END_TEST

/* ------------------------------------------------------------ expect */

START_TEST(test_expect_optional)
{
	const uint8_t in[] = {0x30, 0x03, 0x02, 0x01, 0x05, 0xa0, 0x00, 0x04,
	    0x09, 0x00};
	struct der_cursor c, inner;
	struct der_tlv t;
	uint64_t v;

	CUR(&c, in);
	/* Wrong tag: an error, the cursor where it was. */
	ck_assert_int_eq(der_expect(&c, DER_SET, &t), CT_ERR_FORMAT);
	ck_assert_ptr_eq(c.p, in);
	ck_assert_uint_eq(c.len, sizeof(in));
	ck_assert_int_eq(der_optional(&c, DER_SET, &t), 0);
	ck_assert_ptr_eq(c.p, in);
	ck_assert_int_eq(der_expect(&c, DER_SEQUENCE, &t), 0);
	ck_assert_uint_eq(t.len, 3);
	der_enter(&t, &inner);
	ck_assert_ptr_eq(inner.p, in + 2);
	ck_assert_uint_eq(inner.len, 3);
	ck_assert_int_eq(der_expect(&inner, DER_INTEGER, &t), 0);
	ck_assert_int_eq(der_get_uint(&t, &v), 0);
	ck_assert_uint_eq(v, 5);
	ck_assert_int_eq(der_expect(&inner, DER_INTEGER, &t), CT_ERR_TRUNCATED);
	/* Optional, present and empty. */
	ck_assert_int_eq(der_optional(&c, DER_CTX_CONS(0), &t), 1);
	ck_assert_uint_eq(t.len, 0);
	ck_assert_int_eq(der_optional(&c, DER_CTX_CONS(0), &t), 0);
	/* Right tag, bad length: the cursor stays put. */
	ck_assert_int_eq(der_expect(&c, DER_OCTET_STRING, &t),
	    CT_ERR_TRUNCATED);
	ck_assert_ptr_eq(c.p, in + 7);
	ck_assert_uint_eq(c.len, 3);
	ck_assert_int_eq(der_optional(&c, DER_OCTET_STRING, &t),
	    CT_ERR_TRUNCATED);
	ck_assert_ptr_eq(c.p, in + 7);
}
END_TEST

START_TEST(test_oid_eq)
{
	const uint8_t cn[] = {0x55, 0x04, 0x03};
	const uint8_t o[] = {0x55, 0x04, 0x0a};
	struct der_tlv t = tlv(DER_OID, cn, sizeof(cn));

	ck_assert(der_oid_eq(&t, cn, sizeof(cn)));
	ck_assert(!der_oid_eq(&t, o, sizeof(o)));
	ck_assert(!der_oid_eq(&t, cn, 2));
	t.tag = DER_OCTET_STRING;
	ck_assert(!der_oid_eq(&t, cn, sizeof(cn)));
}
END_TEST

/* ------------------------------------------------------------ values */

START_TEST(test_get_uint)
{
	static const struct {
		const char *v;
		size_t n;
		int rc;
		uint64_t want;
	} cases[] = {
	    {"\x00", 1, 0, 0},
	    {"\x7f", 1, 0, 127},
	    {"\x00\x80", 2, 0, 128},
	    {"\x01\x00", 2, 0, 256},
	    {"\x7f\xff\xff\xff\xff\xff\xff\xff", 8, 0, INT64_MAX},
	    {"\x00\xff\xff\xff\xff\xff\xff\xff\xff", 9, 0, UINT64_MAX},
	    {"\x00\x80\x00\x00\x00\x00\x00\x00\x00", 9, 0, (uint64_t)1 << 63},
	    {"\x01\x00\x00\x00\x00\x00\x00\x00\x00", 9, CT_ERR_TOO_BIG, 0},
	    {"\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00", 10, CT_ERR_TOO_BIG, 0},
	    {"\x80", 1, CT_ERR_FORMAT, 0},
	    {"\xff\xff", 2, CT_ERR_FORMAT, 0},
	    {"", 0, CT_ERR_FORMAT, 0},
	};
	struct der_tlv t;
	uint64_t v;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		t = tlv(DER_INTEGER, cases[i].v, cases[i].n);
		v = 12345;
		ck_assert_msg(der_get_uint(&t, &v) == cases[i].rc, "case %zu",
		    i);
		ck_assert_uint_eq(v, cases[i].rc == 0 ? cases[i].want : 12345);
	}
	t = tlv(DER_OCTET_STRING, "\x01", 1);
	ck_assert_int_eq(der_get_uint(&t, &v), CT_ERR_FORMAT);
	t = tlv(0x0a /* ENUMERATED */, "\x01", 1);
	ck_assert_int_eq(der_get_uint(&t, &v), CT_ERR_FORMAT);
}
END_TEST

static int
get_time(uint8_t tag, const char *s, int64_t *out)
{
	struct der_tlv t = tlv(tag, s, strlen(s));

	return der_get_time(&t, out);
}

START_TEST(test_get_time)
{
	int64_t t = 0;

	/* UTCTime: 49 is 2049, 50 is 1950. */
	ck_assert_int_eq(get_time(DER_UTC_TIME, "491231235959Z", &t), 0);
	ck_assert_int_eq(t, 2524607999);
	ck_assert_int_eq(get_time(DER_UTC_TIME, "500101000000Z", &t), 0);
	ck_assert_int_eq(t, -631152000);
	ck_assert_int_eq(get_time(DER_UTC_TIME, "700101000000Z", &t), 0);
	ck_assert_int_eq(t, 0);
	ck_assert_int_eq(get_time(DER_UTC_TIME, "000229000000Z", &t), 0);
	ck_assert_int_eq(t, 951782400);
	ck_assert_int_eq(get_time(DER_UTC_TIME, "991231235959Z", &t), 0);
	ck_assert_int_eq(t, 946684799);
	/* GeneralizedTime. */
	ck_assert_int_eq(get_time(DER_GENERALIZED_TIME, "20500101000000Z", &t),
	    0);
	ck_assert_int_eq(t, 2524608000);
	ck_assert_int_eq(get_time(DER_GENERALIZED_TIME, "19700101000000Z", &t),
	    0);
	ck_assert_int_eq(t, 0);
	ck_assert_int_eq(get_time(DER_GENERALIZED_TIME, "99991231235959Z", &t),
	    0);
	ck_assert_int_eq(t, 253402300799);
	ck_assert_int_eq(get_time(DER_GENERALIZED_TIME, "20240229120000Z", &t),
	    0);
	ck_assert_int_eq(t, 1709208000);
}
END_TEST

START_TEST(test_get_time_bad)
{
	static const char *const utc_bad[] = {
	    "491231235959", /* no Z */
	    "4912312359Z",  /* no seconds */
	    "491231235959+0000",
	    "4912312359590Z",
	    "491231235960Z", /* second 60 */
	    "491231236000Z",
	    "491231240000Z",
	    "491232000000Z",
	    "491300000000Z",
	    "490000000000Z",
	    "490100000000Z", /* day 0 */
	    "490230000000Z",
	    "230229000000Z", /* 2023 is not a leap year */
	    "4a1231235959Z",
	    " 91231235959Z",
	    "-91231235959Z",
	    "491231235959z",
	    "",
	};
	static const char *const gen_bad[] = {
	    "20500101000000", "20500101000000.5Z", "205001010000Z",
	    "205001010000000Z", "20500101000000+0000",
	    "19000229000000Z", /* 1900 is not a leap year */
	    "20500431000000Z", "2050010100000aZ",
	    "491231235959Z", /* a UTCTime value */
	};
	int64_t t = 77;
	size_t i;

	for (i = 0; i < sizeof(utc_bad) / sizeof(utc_bad[0]); i++)
		ck_assert_msg(get_time(DER_UTC_TIME, utc_bad[i], &t) ==
		        CT_ERR_FORMAT,
		    "UTCTime '%s' accepted", utc_bad[i]);
	for (i = 0; i < sizeof(gen_bad) / sizeof(gen_bad[0]); i++)
		ck_assert_msg(get_time(DER_GENERALIZED_TIME, gen_bad[i], &t) ==
		        CT_ERR_FORMAT,
		    "GeneralizedTime '%s' accepted", gen_bad[i]);
	/* A GeneralizedTime value under the UTCTime tag, and other tags. */
	ck_assert_int_eq(get_time(DER_UTC_TIME, "20500101000000Z", &t),
	    CT_ERR_FORMAT);
	ck_assert_int_eq(get_time(DER_PRINTABLE_STRING, "491231235959Z", &t),
	    CT_ERR_FORMAT);
	ck_assert_int_eq(get_time(DER_OCTET_STRING, "20500101000000Z", &t),
	    CT_ERR_FORMAT);
	ck_assert_int_eq(t, 77);
}
END_TEST

static int
oid_text(const uint8_t *oid, size_t n, char *out, size_t outsz)
{
	struct der_tlv t = tlv(DER_OID, oid, n);

	return der_oid_text(&t, out, outsz);
}

START_TEST(test_oid_text)
{
	const uint8_t sha256rsa[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01,
	    0x01, 0x0b};
	const uint8_t poison[] = {0x2b, 0x06, 0x01, 0x04, 0x01, 0xd6, 0x79,
	    0x02, 0x04, 0x03};
	const uint8_t cn[] = {0x55, 0x04, 0x03};
	const uint8_t big_arc2[] = {0x88, 0x37};
	const uint8_t zero[] = {0x00};
	const uint8_t first39[] = {0x27};
	const uint8_t max64[] = {0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
	    0x80, 0x00, 0x01};
	const uint8_t over64[] = {0x82, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
	    0x80, 0x80, 0x00};
	const uint8_t cut[] = {0x2a, 0x86};
	char out[64];
	struct der_tlv t;

	ck_assert_int_eq(oid_text(sha256rsa, sizeof(sha256rsa), out,
	                     sizeof(out)),
	    0);
	ck_assert_str_eq(out, "1.2.840.113549.1.1.11");
	ck_assert_int_eq(oid_text(poison, sizeof(poison), out, sizeof(out)), 0);
	ck_assert_str_eq(out, "1.3.6.1.4.1.11129.2.4.3");
	ck_assert_int_eq(oid_text(cn, sizeof(cn), out, sizeof(out)), 0);
	ck_assert_str_eq(out, "2.5.4.3");
	ck_assert_int_eq(oid_text(big_arc2, sizeof(big_arc2), out, sizeof(out)),
	    0);
	ck_assert_str_eq(out, "2.999");
	ck_assert_int_eq(oid_text(zero, sizeof(zero), out, sizeof(out)), 0);
	ck_assert_str_eq(out, "0.0");
	ck_assert_int_eq(oid_text(first39, sizeof(first39), out, sizeof(out)),
	    0);
	ck_assert_str_eq(out, "0.39");
	/* 2^63 as the first subidentifier is 2.(2^63 - 80); 2^64 is not. */
	ck_assert_int_eq(oid_text(max64, sizeof(max64), out, sizeof(out)), 0);
	ck_assert_str_eq(out, "2.9223372036854775728.1");
	ck_assert_int_eq(oid_text(over64, sizeof(over64), out, sizeof(out)),
	    CT_ERR_TOO_BIG);
	/* Output exactly large enough ("2.5.4.3" + NUL), then one short. */
	ck_assert_int_eq(oid_text(cn, sizeof(cn), out, 8), 0);
	ck_assert_str_eq(out, "2.5.4.3");
	ck_assert_int_eq(oid_text(cn, sizeof(cn), out, 7), CT_ERR_TOO_BIG);
	ck_assert_int_eq(oid_text(cn, sizeof(cn), out, 2), CT_ERR_TOO_BIG);
	ck_assert_int_eq(oid_text(cn, sizeof(cn), out, 0), CT_ERR_FORMAT);
	/* Truncated subidentifier, empty, wrong tag. */
	ck_assert_int_eq(oid_text(cut, sizeof(cut), out, sizeof(out)),
	    CT_ERR_TRUNCATED);
	ck_assert_int_eq(oid_text(cn, 0, out, sizeof(out)), CT_ERR_FORMAT);
	t = tlv(DER_OCTET_STRING, cn, sizeof(cn));
	ck_assert_int_eq(der_oid_text(&t, out, sizeof(out)), CT_ERR_FORMAT);
}
END_TEST

/* ------------------------------------------------------------ headers */

START_TEST(test_put_header_roundtrip)
{
	static const struct {
		size_t len, hdr;
		uint8_t bytes[6];
	} cases[] = {
	    {0, 2, {0x04, 0x00}},
	    {127, 2, {0x04, 0x7f}},
	    {128, 3, {0x04, 0x81, 0x80}},
	    {255, 3, {0x04, 0x81, 0xff}},
	    {256, 4, {0x04, 0x82, 0x01, 0x00}},
	    {65535, 4, {0x04, 0x82, 0xff, 0xff}},
	    {65536, 5, {0x04, 0x83, 0x01, 0x00, 0x00}},
	    {16777215, 5, {0x04, 0x83, 0xff, 0xff, 0xff}},
	    {16777216, 6, {0x04, 0x84, 0x01, 0x00, 0x00, 0x00}},
	};
	struct der_cursor c;
	struct der_tlv t;
	uint8_t *buf;
	size_t i, h;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ck_assert_uint_eq(der_header_len(cases[i].len), cases[i].hdr);
		buf = calloc(1, cases[i].hdr + cases[i].len);
		ck_assert_ptr_nonnull(buf);
		h = der_put_header(buf, DER_OCTET_STRING, cases[i].len);
		ck_assert_uint_eq(h, cases[i].hdr);
		ck_assert_mem_eq(buf, cases[i].bytes, h);
		der_init(&c, buf, h + cases[i].len);
		ck_assert_int_eq(der_next(&c, &t), 0);
		ck_assert_uint_eq(t.tag, DER_OCTET_STRING);
		ck_assert_uint_eq(t.len, cases[i].len);
		ck_assert_uint_eq(t.raw_len, h + cases[i].len);
		ck_assert_ptr_eq(t.val, buf + h);
		ck_assert(der_empty(&c));
		/* One byte less is truncated. */
		der_init(&c, buf, h + cases[i].len - 1);
		ck_assert_int_eq(der_next(&c, &t), CT_ERR_TRUNCATED);
		free(buf);
	}
	/* Constructed tags survive too. */
	{
		uint8_t b[6];

		ck_assert_uint_eq(der_put_header(b, DER_CTX_CONS(3), 5), 2);
		ck_assert_uint_eq(b[0], 0xa3);
		ck_assert_uint_eq(b[1], 5);
	}
}
END_TEST

/* ------------------------------------------------------------ TLS */

START_TEST(test_tls_readers)
{
	const uint8_t in[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
	    16, 17, 18, 19, 20, 21, 22, 23};
	struct der_cursor c;
	const uint8_t *p;
	uint8_t u8;
	uint16_t u16;
	uint32_t u24;
	uint64_t u64;

	CUR(&c, in);
	ck_assert_int_eq(der_read_u8(&c, &u8), 0);
	ck_assert_uint_eq(u8, 0x01);
	ck_assert_int_eq(der_read_u16(&c, &u16), 0);
	ck_assert_uint_eq(u16, 0x0203);
	ck_assert_int_eq(der_read_u24(&c, &u24), 0);
	ck_assert_uint_eq(u24, 0x040506);
	ck_assert_int_eq(der_read_u40(&c, &u64), 0);
	ck_assert_uint_eq(u64, 0x0708090a0bULL);
	ck_assert_int_eq(der_read_u64(&c, &u64), 0);
	ck_assert_uint_eq(u64, 0x0c0d0e0f10111213ULL);
	ck_assert_uint_eq(c.len, 4);
	/* Too few bytes: an error, nothing consumed, output untouched. */
	u64 = 99;
	ck_assert_int_eq(der_read_u40(&c, &u64), CT_ERR_TRUNCATED);
	ck_assert_int_eq(der_read_u64(&c, &u64), CT_ERR_TRUNCATED);
	ck_assert_uint_eq(u64, 99);
	ck_assert_uint_eq(c.len, 4);
	ck_assert_int_eq(der_read_bytes(&c, 5, &p), CT_ERR_TRUNCATED);
	ck_assert_uint_eq(c.len, 4);
	ck_assert_int_eq(der_read_bytes(&c, 0, &p), 0);
	ck_assert_int_eq(der_read_bytes(&c, 2, &p), 0);
	ck_assert_ptr_eq(p, in + 19);
	ck_assert_int_eq(der_read_u24(&c, &u24), CT_ERR_TRUNCATED);
	ck_assert_int_eq(der_read_u16(&c, &u16), 0);
	ck_assert_uint_eq(u16, 0x1617);
	ck_assert_int_eq(der_read_u8(&c, &u8), CT_ERR_TRUNCATED);
	ck_assert_int_eq(der_read_u16(&c, &u16), CT_ERR_TRUNCATED);
	ck_assert(der_empty(&c));

	/* Full-width values. */
	{
		const uint8_t ff[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		    0xff};

		CUR(&c, ff);
		ck_assert_int_eq(der_read_u64(&c, &u64), 0);
		ck_assert_uint_eq(u64, UINT64_MAX);
		CUR(&c, ff);
		ck_assert_int_eq(der_read_u40(&c, &u64), 0);
		ck_assert_uint_eq(u64, 0xffffffffffULL);
		ck_assert_int_eq(der_read_u24(&c, &u24), 0);
		ck_assert_uint_eq(u24, 0xffffff);
	}
}
END_TEST

START_TEST(test_read_vec)
{
	const uint8_t v1[] = {3, 'a', 'b', 'c', 'x'};
	const uint8_t v2[] = {0, 2, 'a', 'b'};
	const uint8_t v3[] = {0, 0, 1, 'z'};
	const uint8_t empty[] = {0, 0};
	const uint8_t short1[] = {5, 'a'};
	const uint8_t short3[] = {0xff, 0xff, 0xff, 'a', 'b'};
	const uint8_t cut_prefix[] = {0, 0};
	struct der_cursor c, vec;

	CUR(&c, v1);
	ck_assert_int_eq(der_read_vec(&c, 1, &vec), 0);
	ck_assert_uint_eq(vec.len, 3);
	ck_assert_mem_eq(vec.p, "abc", 3);
	ck_assert_uint_eq(c.len, 1);
	ck_assert_int_eq(der_peek(&c), 'x');

	CUR(&c, v2);
	ck_assert_int_eq(der_read_vec(&c, 2, &vec), 0);
	ck_assert_uint_eq(vec.len, 2);
	ck_assert_ptr_eq(vec.p, v2 + 2);
	ck_assert(der_empty(&c));

	CUR(&c, v3);
	ck_assert_int_eq(der_read_vec(&c, 3, &vec), 0);
	ck_assert_uint_eq(vec.len, 1);
	ck_assert_uint_eq(vec.p[0], 'z');
	ck_assert(der_empty(&c));

	CUR(&c, empty);
	ck_assert_int_eq(der_read_vec(&c, 2, &vec), 0);
	ck_assert(der_empty(&vec));
	ck_assert(der_empty(&c));

	/* Body past the end: an error, and the prefix is not consumed. */
	CUR(&c, short1);
	ck_assert_int_eq(der_read_vec(&c, 1, &vec), CT_ERR_TRUNCATED);
	ck_assert_ptr_eq(c.p, short1);
	ck_assert_uint_eq(c.len, sizeof(short1));
	CUR(&c, short3);
	ck_assert_int_eq(der_read_vec(&c, 3, &vec), CT_ERR_TRUNCATED);
	ck_assert_ptr_eq(c.p, short3);
	/* Prefix itself cut. */
	CUR(&c, cut_prefix);
	ck_assert_int_eq(der_read_vec(&c, 3, &vec), CT_ERR_TRUNCATED);
	ck_assert_uint_eq(c.len, 2);
	der_init(&c, v1, 0);
	ck_assert_int_eq(der_read_vec(&c, 1, &vec), CT_ERR_TRUNCATED);
	/* Only 1, 2 or 3 prefix bytes. */
	CUR(&c, v3);
	ck_assert_int_eq(der_read_vec(&c, 0, &vec), CT_ERR_INVALID);
	ck_assert_int_eq(der_read_vec(&c, 4, &vec), CT_ERR_INVALID);
	ck_assert_uint_eq(c.len, sizeof(v3));
}
END_TEST

/* ------------------------------------------------------------ real DER */

/*
 * Walks every TLV under c, entering constructed ones. Returns 0 or the
 * first error; *top counts the TLVs at this level, *all every TLV.
 */
static int
walk(struct der_cursor *c, int depth, size_t *top, size_t *all)
{
	struct der_cursor inner;
	struct der_tlv t;
	size_t sub;
	int rc;

	if (depth > DER_MAX_DEPTH)
		return CT_ERR_TOO_BIG;
	*top = 0;
	while (!der_empty(c)) {
		if ((rc = der_next(c, &t)) != 0)
			return rc;
		ck_assert(t.val >= t.raw && t.val + t.len == t.raw + t.raw_len);
		(*top)++;
		(*all)++;
		if (t.tag & 0x20) {
			der_enter(&t, &inner);
			if ((rc = walk(&inner, depth + 1, &sub, all)) != 0)
				return rc;
		}
	}
	return 0;
}

static uint8_t *
load_r11(size_t *len)
{
	size_t tlen, off = 0;
	uint8_t *text = testutil_read(R11_PEM, &tlen), *der;
	char label[32];

	ck_assert_int_eq(util_pem_next((char *)text, tlen, &off, label,
	                     sizeof(label), &der, len),
	    0);
	ck_assert_str_eq(label, "CERTIFICATE");
	free(text);
	return der;
}

START_TEST(test_cert_walk)
{
	struct der_cursor c, inner;
	struct der_tlv t;
	size_t len, top, all = 0;
	uint8_t *der = load_r11(&len);

	der_init(&c, der, len);
	ck_assert_int_eq(der_expect(&c, DER_SEQUENCE, &t), 0);
	ck_assert(der_empty(&c));
	ck_assert_uint_eq(t.raw_len, len);
	der_enter(&t, &inner);
	ck_assert_int_eq(walk(&inner, 1, &top, &all), 0);
	/* TBSCertificate, AlgorithmIdentifier, BIT STRING. */
	ck_assert_uint_eq(top, 3);
	ck_assert_uint_gt(all, 50);
	free(der);
}
END_TEST

/*
 * Every prefix of the certificate: the outer SEQUENCE is refused (and the
 * cursor kept); every prefix of its content walks to an error, or to
 * fewer than its three parts when cut on a boundary. Each prefix is copied
 * to its own allocation so that ASan sees any read past it.
 */
START_TEST(test_cert_truncated)
{
	struct der_cursor c;
	struct der_tlv t;
	size_t len, n, top, all, ok_cuts = 0;
	uint8_t *der = load_r11(&len), *cut;
	int rc;

	for (n = 0; n < len; n++) {
		cut = malloc(n ? n : 1);
		ck_assert_ptr_nonnull(cut);
		memcpy(cut, der, n);
		der_init(&c, cut, n);
		ck_assert_int_eq(der_expect(&c, DER_SEQUENCE, &t),
		    CT_ERR_TRUNCATED);
		ck_assert_uint_eq(c.len, n);
		ck_assert_ptr_eq(c.p, cut);
		free(cut);

		if (n < 4)
			continue;
		cut = malloc(n - 4 ? n - 4 : 1);
		ck_assert_ptr_nonnull(cut);
		memcpy(cut, der + 4, n - 4);
		der_init(&c, cut, n - 4);
		all = 0;
		rc = walk(&c, 1, &top, &all);
		if (rc == 0) {
			ck_assert_uint_lt(top, 3);
			ok_cuts++;
		} else {
			ck_assert_int_eq(rc, CT_ERR_TRUNCATED);
		}
		free(cut);
	}
	/* Cut after nothing, after the TBS, after the algorithm. */
	ck_assert_uint_eq(ok_cuts, 3);
	free(der);
}
END_TEST

/* The same at every level: each constructed TLV, cut at every length. */
static void
truncate_each(const uint8_t *val, size_t len, int depth, size_t *cuts)
{
	struct der_cursor c;
	struct der_tlv t;
	size_t full_top, top, all = 0, n;
	uint8_t *cut;
	int rc;

	der_init(&c, val, len);
	ck_assert_int_eq(walk(&c, depth, &full_top, &all), 0);
	for (n = 0; n < len; n++) {
		cut = malloc(n ? n : 1);
		ck_assert_ptr_nonnull(cut);
		memcpy(cut, val, n);
		der_init(&c, cut, n);
		rc = walk(&c, depth, &top, &all);
		ck_assert(
		    rc == CT_ERR_TRUNCATED || (rc == 0 && top < full_top));
		free(cut);
		(*cuts)++;
	}
	der_init(&c, val, len);
	while (!der_empty(&c)) {
		ck_assert_int_eq(der_next(&c, &t), 0);
		if (t.tag & 0x20)
			truncate_each(t.val, t.len, depth + 1, cuts);
	}
}

START_TEST(test_cert_truncated_nested)
{
	size_t len, cuts = 0;
	uint8_t *der = load_r11(&len);

	truncate_each(der, len, 0, &cuts);
	ck_assert_uint_gt(cuts, 2 * len);
	free(der);
}
END_TEST

/* Nesting deeper than DER_MAX_DEPTH is refused by the walker above. */
START_TEST(test_deep_nesting)
{
	uint8_t buf[2 * (DER_MAX_DEPTH + 2)];
	struct der_cursor c;
	size_t i, top, all = 0, depth = DER_MAX_DEPTH + 2;

	for (i = 0; i < depth; i++) {
		buf[2 * i] = DER_SEQUENCE;
		buf[2 * i + 1] = (uint8_t)(2 * (depth - 1 - i));
	}
	der_init(&c, buf, sizeof(buf));
	ck_assert_int_eq(walk(&c, 0, &top, &all), CT_ERR_TOO_BIG);
	der_init(&c, buf + 4, sizeof(buf) - 4);
	ck_assert_int_eq(walk(&c, 0, &top, &all), 0);
	ck_assert_uint_eq(top, 1);
}
END_TEST

static Suite *
der_suite(void)
{
	Suite *s = suite_create("der");
	TCase *tc;

	tc = tcase_create("tlv");
	tcase_add_test(tc, test_next_short_form);
	tcase_add_test(tc, test_next_long_form);
	tcase_add_test(tc, test_next_bad);
	tcase_add_test(tc, test_init_null);
	tcase_add_test(tc, test_expect_optional);
	tcase_add_test(tc, test_oid_eq);
	suite_add_tcase(s, tc);

	tc = tcase_create("values");
	tcase_add_test(tc, test_get_uint);
	tcase_add_test(tc, test_get_time);
	tcase_add_test(tc, test_get_time_bad);
	tcase_add_test(tc, test_oid_text);
	tcase_add_test(tc, test_put_header_roundtrip);
	suite_add_tcase(s, tc);

	tc = tcase_create("tls");
	tcase_add_test(tc, test_tls_readers);
	tcase_add_test(tc, test_read_vec);
	suite_add_tcase(s, tc);

	tc = tcase_create("cert");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_cert_walk);
	tcase_add_test(tc, test_cert_truncated);
	tcase_add_test(tc, test_cert_truncated_nested);
	tcase_add_test(tc, test_deep_nesting);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return testutil_run(der_suite());
}
