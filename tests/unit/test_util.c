/*
 * Unit tests for common/util: capped buffers, hex, base64, PEM, files,
 * RFC 3339 time (the formatter held to gmtime_r), sanitising, integer
 * parsing.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"
#include "util.h"

#define CERT_PEM SHARED_TESTDATA "ct-testdata/test-cert.pem"
#define R11_PEM SHARED_TESTDATA "letsencrypt/r11.pem"
#define FAKE_KEY_B64 "bm90IGEgcmVhbCBrZXksIG9ubHkgdGVzdCBieXRlcw=="
#define FAKE_KEY_TEXT "not a real key, only test bytes"

/* ------------------------------------------------------------ errors */

START_TEST(test_strerror)
{
	int e;

	for (e = 0; e > CT_ERR__MIN; e--)
		ck_assert_str_ne(ct_strerror(e), "unknown error");
	ck_assert_str_eq(ct_strerror(CT_OK), "success");
	ck_assert_str_eq(ct_strerror(CT_ERR__MIN), "unknown error");
	ck_assert_str_eq(ct_strerror(1), "unknown error");
	ck_assert_str_eq(ct_strerror(INT_MIN), "unknown error");
}
END_TEST

/* ------------------------------------------------------------ util_buf */

START_TEST(test_buf_cap)
{
	struct util_buf b;
	const char ten[] = "0123456789";

	util_buf_init(&b, 10);
	ck_assert_ptr_null(b.data);
	ck_assert_int_eq(util_buf_append(&b, ten, 4), 0);
	ck_assert_int_eq(util_buf_append(&b, ten + 4, 6), 0);
	/* Exactly at the cap. */
	ck_assert_uint_eq(b.len, 10);
	ck_assert_mem_eq(b.data, ten, 10);
	ck_assert_uint_le(b.cap, 11);
	/* One over. */
	ck_assert_int_eq(util_buf_append(&b, "x", 1), CT_ERR_TOO_BIG);
	ck_assert_uint_eq(b.len, 10);
	ck_assert_mem_eq(b.data, ten, 10);
	/* Appending nothing, and terminating, still work at the cap. */
	ck_assert_int_eq(util_buf_append(&b, "x", 0), 0);
	ck_assert_int_eq(util_buf_cstr(&b), 0);
	ck_assert_str_eq((char *)b.data, ten);
	ck_assert_uint_eq(b.len, 10);
	ck_assert_int_eq(util_buf_reserve(&b, 1), CT_ERR_TOO_BIG);
	ck_assert_int_eq(util_buf_reserve(&b, SIZE_MAX), CT_ERR_TOO_BIG);
	util_buf_clear(&b);
	ck_assert_ptr_null(b.data);
	ck_assert_uint_eq(b.len, 0);

	/* A fresh buffer refuses one large append over the cap at once. */
	util_buf_init(&b, 10);
	ck_assert_int_eq(util_buf_append(&b, "0123456789a", 11),
	    CT_ERR_TOO_BIG);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_int_eq(util_buf_append_str(&b, "abc"), 0);
	ck_assert_int_eq(util_buf_append_str(&b, "defghij"), 0);
	ck_assert_int_eq(util_buf_append_str(&b, "k"), CT_ERR_TOO_BIG);
	util_buf_clear(&b);

	/* A zero cap holds nothing but the terminator. */
	util_buf_init(&b, 0);
	ck_assert_int_eq(util_buf_append(&b, "x", 1), CT_ERR_TOO_BIG);
	ck_assert_int_eq(util_buf_cstr(&b), 0);
	ck_assert_str_eq((char *)b.data, "");
	util_buf_clear(&b);
	util_buf_clear(&b); /* twice is fine */
}
END_TEST

START_TEST(test_buf_grow)
{
	struct util_buf b;
	uint8_t chunk[100];
	size_t i;

	util_buf_init(&b, 5000);
	for (i = 0; i < 50; i++) {
		memset(chunk, (int)i, sizeof(chunk));
		ck_assert_int_eq(util_buf_append(&b, chunk, sizeof(chunk)), 0);
	}
	ck_assert_uint_eq(b.len, 5000);
	ck_assert_uint_le(b.cap, 5001);
	for (i = 0; i < 5000; i++)
		ck_assert_uint_eq(b.data[i], i / 100);
	ck_assert_int_eq(util_buf_append(&b, chunk, 1), CT_ERR_TOO_BIG);
	util_buf_clear_secret(&b);
	ck_assert_ptr_null(b.data);
	ck_assert_uint_eq(b.len, 0);
	util_buf_clear_secret(&b);
}
END_TEST

/* No cap at all (SIZE_MAX) must not wrap the "cap + 1" arithmetic. */
START_TEST(test_buf_uncapped)
{
	struct util_buf b;
	char chunk[1000];
	size_t i;

	util_buf_init(&b, SIZE_MAX);
	memset(chunk, 'q', sizeof(chunk));
	ck_assert_int_eq(util_buf_append(&b, "0123456789", 10), 0);
	ck_assert_uint_ge(b.cap, 11);
	for (i = 0; i < 10; i++)
		ck_assert_int_eq(util_buf_append(&b, chunk, sizeof(chunk)), 0);
	ck_assert_uint_eq(b.len, 10010);
	ck_assert_uint_gt(b.cap, b.len);
	ck_assert_int_eq(util_buf_cstr(&b), 0);
	ck_assert_mem_eq(b.data, "0123456789qqq", 13);
	ck_assert_uint_eq(b.data[10010], 0);
	ck_assert_int_eq(util_buf_reserve(&b, SIZE_MAX), CT_ERR_TOO_BIG);
	ck_assert_int_eq(util_buf_reserve(&b, SIZE_MAX - b.len),
	    CT_ERR_TOO_BIG);
	util_buf_clear(&b);
}
END_TEST

START_TEST(test_buf_printf)
{
	struct util_buf b;

	util_buf_init(&b, 16);
	ck_assert_int_eq(util_buf_printf(&b, "%s=%d", "abc", 42), 0);
	ck_assert_uint_eq(b.len, 6);
	ck_assert_str_eq((char *)b.data, "abc=42");
	/* Exactly to the cap: 6 + 10 = 16. */
	ck_assert_int_eq(util_buf_printf(&b, "%010u", 7u), 0);
	ck_assert_uint_eq(b.len, 16);
	ck_assert_str_eq((char *)b.data, "abc=420000000007");
	/* One over: refused, nothing written. */
	ck_assert_int_eq(util_buf_printf(&b, "%c", 'x'), CT_ERR_TOO_BIG);
	ck_assert_uint_eq(b.len, 16);
	ck_assert_str_eq((char *)b.data, "abc=420000000007");
	ck_assert_int_eq(util_buf_printf(&b, "%s", ""), 0);
	util_buf_clear(&b);

	util_buf_init(&b, 5);
	ck_assert_int_eq(util_buf_printf(&b, "%s", "123456"), CT_ERR_TOO_BIG);
	ck_assert_uint_eq(b.len, 0);
	util_buf_clear(&b);
}
END_TEST

START_TEST(test_buf_take)
{
	struct util_buf b;
	uint8_t *p;
	size_t len = 99;

	util_buf_init(&b, 100);
	ck_assert_int_eq(util_buf_append_str(&b, "hello"), 0);
	p = util_buf_take(&b, &len);
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(len, 5);
	ck_assert_mem_eq(p, "hello", 5);
	ck_assert_ptr_null(b.data);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_uint_eq(b.cap, 0);
	/* The buffer keeps its cap and can be used again. */
	ck_assert_uint_eq(b.max, 100);
	ck_assert_int_eq(util_buf_append_str(&b, "again"), 0);
	ck_assert_mem_eq(b.data, "again", 5);
	free(p);
	p = util_buf_take(&b, NULL);
	ck_assert_mem_eq(p, "again", 5);
	free(p);
	/* Taking from an empty buffer gives NULL and length 0. */
	p = util_buf_take(&b, &len);
	ck_assert_ptr_null(p);
	ck_assert_uint_eq(len, 0);
}
END_TEST

/* ------------------------------------------------------------ hex */

START_TEST(test_hex)
{
	const uint8_t in[] = {0x00, 0x01, 0xab, 0xcd, 0xef, 0xff};
	char out[2 * sizeof(in) + 1];
	uint8_t dec[8];

	util_hex_encode(in, sizeof(in), out);
	ck_assert_str_eq(out, "0001abcdefff");
	util_hex_encode(in, 0, out);
	ck_assert_str_eq(out, "");

	memset(dec, 0xee, sizeof(dec));
	ck_assert_int_eq(util_hex_decode("0001ABcdEFff", 12, dec, 6), 6);
	ck_assert_mem_eq(dec, in, 6);
	ck_assert_uint_eq(dec[6], 0xee);
	ck_assert_int_eq(util_hex_decode("", 0, dec, 0), 0);
	/* Odd length, bad characters. */
	ck_assert_int_eq(util_hex_decode("abc", 3, dec, 8), CT_ERR_FORMAT);
	ck_assert_int_eq(util_hex_decode("0g", 2, dec, 8), CT_ERR_FORMAT);
	ck_assert_int_eq(util_hex_decode("g0", 2, dec, 8), CT_ERR_FORMAT);
	ck_assert_int_eq(util_hex_decode(" 0", 2, dec, 8), CT_ERR_FORMAT);
	ck_assert_int_eq(util_hex_decode("0x00", 4, dec, 8), CT_ERR_FORMAT);
	ck_assert_int_eq(util_hex_decode("0\0", 2, dec, 8), CT_ERR_FORMAT);
	/* Output too small: nothing written. */
	memset(dec, 0xee, sizeof(dec));
	ck_assert_int_eq(util_hex_decode("000102", 6, dec, 2), CT_ERR_TOO_BIG);
	ck_assert_uint_eq(dec[0], 0xee);
	ck_assert_int_eq(util_hex_decode("000102", 6, dec, 3), 3);
	/* The length is what the caller says. */
	ck_assert_int_eq(util_hex_decode("ff00zz", 4, dec, 8), 2);
}
END_TEST

/* Every byte value against printf's "%02x". */
START_TEST(test_hex_encode_all)
{
	uint8_t in[256];
	char out[2 * 256 + 1], want[3];
	int i;

	for (i = 0; i < 256; i++)
		in[i] = (uint8_t)i;
	util_hex_encode(in, sizeof(in), out);
	ck_assert_uint_eq(strlen(out), 512);
	for (i = 0; i < 256; i++) {
		snprintf(want, sizeof(want), "%02x", (unsigned)i);
		ck_assert_msg(memcmp(out + 2 * i, want, 2) == 0, "byte %d", i);
	}
}
END_TEST

START_TEST(test_hex_decode_lower)
{
	uint8_t out[48], ref[48];
	char s[97];
	size_t len, pos, i;
	int c, rc;
	bool digit;

	memset(out, 0xee, sizeof(out));
	ck_assert_int_eq(util_hex_decode_lower("0001abcdefff", 12, out, 6), 6);
	ck_assert_mem_eq(out, "\x00\x01\xab\xcd\xef\xff", 6);
	ck_assert_uint_eq(out[6], 0xee);
	ck_assert_int_eq(util_hex_decode_lower("", 0, out, 0), 0);
	/* What util_hex_decode takes but this does not: upper case. */
	ck_assert_int_eq(util_hex_decode_lower("0001ABcdEFff", 12, out, 6),
	    CT_ERR_FORMAT);
	ck_assert_int_eq(util_hex_decode_lower("0123456789ABCDEF", 16, out, 8),
	    CT_ERR_FORMAT);
	/* Odd length, bad characters, too small an output. */
	ck_assert_int_eq(util_hex_decode_lower("abc", 3, out, 8),
	    CT_ERR_FORMAT);
	ck_assert_int_eq(util_hex_decode_lower("0123456789abcde", 15, out, 8),
	    CT_ERR_FORMAT);
	ck_assert_int_eq(util_hex_decode_lower("0g", 2, out, 8), CT_ERR_FORMAT);
	ck_assert_int_eq(util_hex_decode_lower("0\0", 2, out, 8),
	    CT_ERR_FORMAT);
	ck_assert_int_eq(util_hex_decode_lower("000102", 6, out, 2),
	    CT_ERR_TOO_BIG);
	ck_assert_int_eq(util_hex_decode_lower("000102", 6, out, 3), 3);
	ck_assert_int_eq(util_hex_decode_lower("ff00zz", 4, out, 8), 2);
	/*
	 * Every byte value at every place of strings of each even length up
	 * to 96 digits (across the 8-digit words it decodes at a time): only
	 * 0-9 and a-f pass, and then with util_hex_decode's bytes.
	 */
	for (len = 2; len < sizeof(s); len += 2) {
		for (i = 0; i < len; i++)
			s[i] = "0123456789abcdef"[(i * 7 + len) % 16];
		for (pos = 0; pos < len; pos++) {
			for (c = 0; c < 256; c++) {
				s[pos] = (char)c;
				digit = (c >= '0' && c <= '9') ||
				    (c >= 'a' && c <= 'f');
				rc = util_hex_decode_lower(s, len, out,
				    sizeof(out));
				if (!digit) {
					ck_assert_msg(rc == CT_ERR_FORMAT,
					    "len %zu pos %zu byte %d: %d", len,
					    pos, c, rc);
					continue;
				}
				ck_assert_int_eq(rc, (int)(len / 2));
				ck_assert_int_eq(util_hex_decode(s, len, ref,
				                     sizeof(ref)),
				    (int)(len / 2));
				ck_assert_mem_eq(out, ref, len / 2);
			}
			s[pos] = "0123456789abcdef"[(pos * 7 + len) % 16];
		}
	}
}
END_TEST

/* ------------------------------------------------------------ base64 */

/* RFC 4648 section 10. */
static const char *const b64_vectors[][2] = {
    {"", ""},
    {"f", "Zg=="},
    {"fo", "Zm8="},
    {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="},
    {"fooba", "Zm9vYmE="},
    {"foobar", "Zm9vYmFy"},
};

START_TEST(test_b64_vectors)
{
	char enc[16];
	uint8_t dec[16];
	size_t i, n;

	for (i = 0; i < sizeof(b64_vectors) / sizeof(b64_vectors[0]); i++) {
		n = strlen(b64_vectors[i][0]);
		ck_assert_uint_eq(util_b64_encoded_len(n),
		    strlen(b64_vectors[i][1]));
		util_b64_encode((const uint8_t *)b64_vectors[i][0], n, enc);
		ck_assert_str_eq(enc, b64_vectors[i][1]);
		ck_assert_int_eq(util_b64_decode(b64_vectors[i][1],
		                     strlen(b64_vectors[i][1]), dec,
		                     sizeof(dec), false),
		    (int)n);
		ck_assert_mem_eq(dec, b64_vectors[i][0], n);
	}
}
END_TEST

START_TEST(test_b64_binary)
{
	uint8_t in[256], dec[256];
	char enc[400];
	size_t n, i;

	for (i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(255 - i);
	for (n = 0; n <= sizeof(in); n++) {
		util_b64_encode(in, n, enc);
		ck_assert_uint_eq(strlen(enc), util_b64_encoded_len(n));
		ck_assert_int_eq(util_b64_decode(enc, strlen(enc), dec, n,
		                     false),
		    (int)n);
		ck_assert_mem_eq(dec, in, n);
	}
	util_b64_encode((const uint8_t *)"\xfb\xff", 2, enc);
	ck_assert_str_eq(enc, "+/8=");
}
END_TEST

START_TEST(test_b64_strict)
{
	static const char *const bad[] = {
	    "Zg",        /* padding missing */
	    "Zg=",       /* padding short */
	    "Zg===",     /* padding long */
	    "Z===",      /* three pads */
	    "====",      /* nothing but pads */
	    "=Zg=",      /* pad first */
	    "Zm9v=",     /* pad after a full quantum */
	    "Zm=9",      /* data after a pad */
	    "Zg==Zg==",  /* a second quantum after padding */
	    "Zg==\n",    /* whitespace without skip_ws */
	    "Zm9",       /* incomplete quantum */
	    "Z",         /* single character */
	    "Zh==",      /* non-canonical: trailing bits set */
	    "Zm9=",      /* non-canonical */
	    "Zm9vYh==",  /* non-canonical after a quantum */
	    "Zm9-",      /* URL-safe alphabet */
	    "Zm9_",      /* URL-safe alphabet */
	    "Zm9v Ymy=", /* space without skip_ws */
	    "Zm9v*mFy",  /* bad character */
	};
	uint8_t dec[16];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(util_b64_decode(bad[i], strlen(bad[i]), dec,
		                  sizeof(dec), false) == CT_ERR_FORMAT,
		    "'%s' accepted", bad[i]);
	ck_assert_int_eq(util_b64_decode("Zm9v\0mFy", 8, dec, sizeof(dec),
	                     false),
	    CT_ERR_FORMAT);
	/* skip_ws does not make bad input good. */
	ck_assert_int_eq(util_b64_decode("Zh==\n", 5, dec, sizeof(dec), true),
	    CT_ERR_FORMAT);
	ck_assert_int_eq(util_b64_decode("Zg==\nx", 6, dec, sizeof(dec), true),
	    CT_ERR_FORMAT);
	ck_assert_int_eq(util_b64_decode("Zg\v==", 5, dec, sizeof(dec), true),
	    CT_ERR_FORMAT);
}
END_TEST

START_TEST(test_b64_whitespace)
{
	const char *ws = " Z m 9 v\tY m E = \r\n";
	uint8_t dec[16];

	ck_assert_int_eq(util_b64_decode("Zm9v\nYmFy", 9, dec, sizeof(dec),
	                     true),
	    6);
	ck_assert_mem_eq(dec, "foobar", 6);
	ck_assert_int_eq(util_b64_decode("Zm9v\nYmFy", 9, dec, sizeof(dec),
	                     false),
	    CT_ERR_FORMAT);
	ck_assert_int_eq(util_b64_decode(ws, strlen(ws), dec, sizeof(dec),
	                     true),
	    5);
	ck_assert_mem_eq(dec, "fooba", 5);
	ck_assert_int_eq(util_b64_decode("Zg=\r\n=\n\n", 8, dec, sizeof(dec),
	                     true),
	    1);
	ck_assert_uint_eq(dec[0], 'f');
	ck_assert_int_eq(util_b64_decode("\n\n", 2, dec, sizeof(dec), true), 0);
}
END_TEST

START_TEST(test_b64_outsz)
{
	uint8_t dec[8];

	memset(dec, 0xee, sizeof(dec));
	ck_assert_int_eq(util_b64_decode("Zm9vYmFy", 8, dec, 5, false),
	    CT_ERR_TOO_BIG);
	ck_assert_uint_eq(dec[5], 0xee);
	ck_assert_int_eq(util_b64_decode("Zm9vYmFy", 8, dec, 6, false), 6);
	ck_assert_uint_eq(dec[6], 0xee);
	memset(dec, 0xee, sizeof(dec));
	ck_assert_int_eq(util_b64_decode("Zm9vYg==", 8, dec, 3, false),
	    CT_ERR_TOO_BIG);
	ck_assert_uint_eq(dec[3], 0xee);
	ck_assert_int_eq(util_b64_decode("Zm9vYmE=", 8, dec, 4, false),
	    CT_ERR_TOO_BIG);
	ck_assert_uint_eq(dec[4], 0xee);
	ck_assert_int_eq(util_b64_decode("Zm8=", 4, dec, 1, false),
	    CT_ERR_TOO_BIG);
	ck_assert_int_eq(util_b64_decode("Zg==", 4, dec, 0, false),
	    CT_ERR_TOO_BIG);
	memset(dec, 0xee, sizeof(dec));
	ck_assert_int_eq(util_b64_decode("Zg==", 4, dec, 1, false), 1);
	ck_assert_uint_eq(dec[1], 0xee);
}
END_TEST

/* ------------------------------------------------------------ PEM */

/* The DER is one SEQUENCE with a two-byte length covering all of it. */
static void
check_cert_der(const uint8_t *der, size_t len)
{
	ck_assert_uint_ge(len, 4);
	ck_assert_uint_eq(der[0], 0x30);
	ck_assert_uint_eq(der[1], 0x82);
	ck_assert_uint_eq(4 + ((size_t)der[2] << 8 | der[3]), len);
}

/*
 * The base64 body of the first PEM block in text, whitespace removed.
 * Not inlined: gcc 12 -O2 then reports a false dangling pointer.
 */
static __attribute__((noinline)) char *
pem_body(const char *text)
{
	const char *b = strstr(text, "-----BEGIN "), *e;
	char *out, *o;

	ck_assert(b != NULL);
	b = strstr(b + 11, "-----") + 5;
	e = strstr(b, "-----END ");
	ck_assert(e != NULL);
	out = o = malloc((size_t)(e - b) + 1);
	ck_assert(out != NULL);
	for (; b < e; b++)
		if (*b != '\n' && *b != '\r' && *b != ' ' && *b != '\t')
			*o++ = *b;
	*o = '\0';
	return out;
}

START_TEST(test_pem_fixture)
{
	size_t len, off = 0, der_len;
	uint8_t *text = testutil_read(CERT_PEM, &len), *der;
	char label[32], *body, *enc;

	/* The file starts with openssl's text dump before the block. */
	ck_assert(util_is_pem(text, len));
	ck_assert_int_ne(memcmp(text, "-----", 5), 0);
	ck_assert_int_eq(util_pem_next((char *)text, len, &off, label,
	                     sizeof(label), &der, &der_len),
	    0);
	ck_assert_str_eq(label, "CERTIFICATE");
	check_cert_der(der, der_len);
	/* Encoding the DER again gives the body back. */
	body = pem_body((char *)text);
	enc = malloc(util_b64_encoded_len(der_len) + 1);
	ck_assert_ptr_nonnull(enc);
	util_b64_encode(der, der_len, enc);
	ck_assert_str_eq(enc, body);
	free(enc);
	free(body);
	free(der);
	ck_assert_uint_le(off, len);
	ck_assert_int_eq(util_pem_next((char *)text, len, &off, label,
	                     sizeof(label), &der, &der_len),
	    CT_ERR_NOT_FOUND);
	ck_assert_ptr_null(der);
	ck_assert_uint_eq(der_len, 0);
	ck_assert_int_eq(util_pem_next((char *)text, len, &off, label,
	                     sizeof(label), &der, &der_len),
	    CT_ERR_NOT_FOUND);
	free(text);
}
END_TEST

START_TEST(test_pem_bundle)
{
	struct util_buf b;
	size_t len, off = 0, der_len, r11_len;
	uint8_t *r11 = testutil_read(R11_PEM, &r11_len), *der;
	char label[32];

	/* A certificate, a key, and text around and between them. */
	util_buf_init(&b, 1024 * 1024);
	ck_assert_int_eq(util_buf_append_str(&b, "subject=R11\n"), 0);
	ck_assert_int_eq(util_buf_append(&b, r11, r11_len), 0);
	ck_assert_int_eq(util_buf_append_str(&b,
	                     "\r\n-----BEGIN PRIVATE KEY-----\r\n" FAKE_KEY_B64
	                     "\r\n-----END PRIVATE KEY-----\r\ntrailer\n"),
	    0);
	len = b.len;

	ck_assert_int_eq(util_pem_next((char *)b.data, len, &off, label,
	                     sizeof(label), &der, &der_len),
	    0);
	ck_assert_str_eq(label, "CERTIFICATE");
	check_cert_der(der, der_len);
	free(der);
	ck_assert_int_eq(util_pem_next((char *)b.data, len, &off, label,
	                     sizeof(label), &der, &der_len),
	    0);
	ck_assert_str_eq(label, "PRIVATE KEY");
	ck_assert_uint_eq(der_len, strlen(FAKE_KEY_TEXT));
	ck_assert_mem_eq(der, FAKE_KEY_TEXT, der_len);
	free(der);
	ck_assert_int_eq(util_pem_next((char *)b.data, len, &off, label,
	                     sizeof(label), &der, &der_len),
	    CT_ERR_NOT_FOUND);

	/* A short label buffer truncates the label, not the block. */
	off = 0;
	ck_assert_int_eq(util_pem_next((char *)b.data, len, &off, label, 5,
	                     &der, &der_len),
	    0);
	ck_assert_str_eq(label, "CERT");
	free(der);
	ck_assert_int_eq(util_pem_next((char *)b.data, len, &off, NULL, 0, &der,
	                     &der_len),
	    0);
	free(der);
	util_buf_clear(&b);
	free(r11);
}
END_TEST

START_TEST(test_pem_all_fixtures)
{
	static const char *const files[] = {"ct-testdata/ca-cert.pem",
	    "ct-testdata/intermediate-cert.pem",
	    "ct-testdata/test-embedded-pre-cert.pem",
	    "ct-testdata/ct-server-key-public.pem",
	    "letsencrypt/isrgrootx1.pem", "letsencrypt/e6.pem",
	    "letsencrypt/r10.pem"};
	struct util_buf b;
	char path[256], label[32];
	size_t i, len, off = 0, der_len, n = 0;
	uint8_t *p, *der;
	int rc;

	util_buf_init(&b, 4 * 1024 * 1024);
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), SHARED_TESTDATA "%s", files[i]);
		p = testutil_read(path, &len);
		ck_assert_int_eq(util_buf_append(&b, p, len), 0);
		free(p);
	}
	while ((rc = util_pem_next((char *)b.data, b.len, &off, label,
	            sizeof(label), &der, &der_len)) == 0) {
		/* Blocks come in file order; the fourth is a public key. */
		ck_assert_str_eq(label, n == 3 ? "PUBLIC KEY" : "CERTIFICATE");
		ck_assert_uint_eq(der[0], 0x30);
		free(der);
		n++;
	}
	ck_assert_int_eq(rc, CT_ERR_NOT_FOUND);
	ck_assert_uint_eq(n, sizeof(files) / sizeof(files[0]));
	util_buf_clear(&b);
}
END_TEST

/* Runs util_pem_next once over a C string. */
static int
pem1(const char *text, size_t *off, uint8_t **der, size_t *der_len)
{
	char label[32];

	return util_pem_next(text, strlen(text), off, label, sizeof(label), der,
	    der_len);
}

START_TEST(test_pem_malformed)
{
	const char *t;
	uint8_t *der = (uint8_t *)"x";
	size_t off, der_len = 7;
	int rc;

	/* No END line. */
	t = "-----BEGIN CERTIFICATE-----\nZm9vYmFy\n";
	off = 0;
	ck_assert_int_eq(pem1(t, &off, &der, &der_len), CT_ERR_TRUNCATED);
	ck_assert_ptr_null(der);
	ck_assert_uint_eq(der_len, 0);
	ck_assert_uint_gt(off, 0);
	ck_assert_int_eq(pem1(t, &off, &der, &der_len), CT_ERR_NOT_FOUND);
	/* An END without its closing dashes. */
	t = "-----BEGIN CERTIFICATE-----\nZm9vYmFy\n-----END CERTIFICATE\n";
	off = 0;
	ck_assert_int_eq(pem1(t, &off, &der, &der_len), CT_ERR_TRUNCATED);
	ck_assert_int_eq(pem1(t, &off, &der, &der_len), CT_ERR_NOT_FOUND);
	/* Empty body. */
	t = "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n";
	off = 0;
	ck_assert_int_eq(pem1(t, &off, &der, &der_len), CT_ERR_FORMAT);
	ck_assert_ptr_null(der);
	ck_assert_uint_eq(off, strlen(t) - 1);
	ck_assert_int_eq(pem1(t, &off, &der, &der_len), CT_ERR_NOT_FOUND);
	t = "-----BEGIN CERTIFICATE-----\n \r\n\n-----END CERTIFICATE-----";
	off = 0;
	ck_assert_int_eq(pem1(t, &off, &der, &der_len), CT_ERR_FORMAT);
	/* A bad body, then a good block that is still found. */
	t = "-----BEGIN X-----\n!!!!\n-----END X-----\n"
	    "-----BEGIN Y-----\nZm9v\n-----END Y-----\n";
	off = 0;
	ck_assert_int_eq(pem1(t, &off, &der, &der_len), CT_ERR_FORMAT);
	ck_assert_ptr_null(der);
	ck_assert_int_eq(pem1(t, &off, &der, &der_len), 0);
	ck_assert_uint_eq(der_len, 3);
	ck_assert_mem_eq(der, "foo", 3);
	free(der);
	ck_assert_int_eq(pem1(t, &off, &der, &der_len), CT_ERR_NOT_FOUND);
	/* A BEGIN line that never closes on its line. */
	t = "-----BEGIN CERTIFICATE\nZm9v\n-----END CERTIFICATE-----\n";
	off = 0;
	ck_assert_int_eq(pem1(t, &off, &der, &der_len), CT_ERR_FORMAT);
	ck_assert_uint_gt(off, 0);
	t = "-----BEGIN CERT";
	off = 0;
	ck_assert_int_eq(pem1(t, &off, &der, &der_len), CT_ERR_FORMAT);
	/* A missing END before another block: an error, and no hang. */
	t = "-----BEGIN A-----\nZm9v\n"
	    "-----BEGIN B-----\nZm9v\n-----END B-----\n";
	off = 0;
	rc = pem1(t, &off, &der, &der_len);
	ck_assert_int_lt(rc, 0);
	ck_assert_int_ne(rc, CT_ERR_NOT_FOUND);
	ck_assert_ptr_null(der);
	while ((rc = pem1(t, &off, &der, &der_len)) != CT_ERR_NOT_FOUND) {
		ck_assert_uint_le(off, strlen(t));
		free(der);
	}
	/* No PEM at all; an offset at or past the end. */
	t = "just some text\n";
	off = 0;
	ck_assert(!util_is_pem((const uint8_t *)t, strlen(t)));
	ck_assert_int_eq(pem1(t, &off, &der, &der_len), CT_ERR_NOT_FOUND);
	ck_assert_uint_eq(off, strlen(t));
	off = 1000;
	ck_assert_int_eq(pem1(t, &off, &der, &der_len), CT_ERR_NOT_FOUND);
	ck_assert(!util_is_pem((const uint8_t *)"-----BEGIN", 10));
	ck_assert(util_is_pem((const uint8_t *)"x-----BEGIN ", 12));
}
END_TEST

/* ------------------------------------------------------------ files */

static void
write_file(const char *path, const void *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, p, n), (ssize_t)n);
	ck_assert_int_eq(close(fd), 0);
}

START_TEST(test_read_file)
{
	char dir[] = "/tmp/test_util.XXXXXX", path[64];
	size_t big = 3 * 16384 + 5, i, len = 99;
	uint8_t *data = malloc(big), *out = (uint8_t *)"x";

	ck_assert_ptr_nonnull(data);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/f", dir);
	for (i = 0; i < big; i++)
		data[i] = (uint8_t)(i * 7);
	write_file(path, data, big);

	/* Exactly at the cap, with a NUL after the data. */
	ck_assert_int_eq(util_read_file(path, big, &out, &len), 0);
	ck_assert_uint_eq(len, big);
	ck_assert_mem_eq(out, data, big);
	ck_assert_uint_eq(out[big], 0);
	free(out);
	/* One byte over the cap. */
	ck_assert_int_eq(util_read_file(path, big - 1, &out, &len),
	    CT_ERR_TOO_BIG);
	ck_assert_ptr_null(out);
	ck_assert_uint_eq(len, 0);
	ck_assert_int_eq(util_read_file(path, 0, &out, &len), CT_ERR_TOO_BIG);

	/* Empty file: an empty string. */
	write_file(path, "", 0);
	ck_assert_int_eq(util_read_file(path, 10, &out, &len), 0);
	ck_assert_uint_eq(len, 0);
	ck_assert_ptr_nonnull(out);
	ck_assert_uint_eq(out[0], 0);
	free(out);

	/* Missing file; a directory. */
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(util_read_file(path, 10, &out, &len), CT_ERR_IO);
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_ptr_null(out);
	ck_assert_int_eq(util_read_file(dir, 10, &out, &len), CT_ERR_IO);
	ck_assert_ptr_null(out);
	ck_assert_int_eq(rmdir(dir), 0);
	free(data);
}
END_TEST

/* ------------------------------------------------------------ time */

START_TEST(test_time_format)
{
	char out[UTIL_RFC3339_LEN];

	util_time_rfc3339(0, out);
	ck_assert_str_eq(out, "1970-01-01T00:00:00Z");
	util_time_rfc3339(951782400, out);
	ck_assert_str_eq(out, "2000-02-29T00:00:00Z");
	util_time_rfc3339(2524607999, out);
	ck_assert_str_eq(out, "2049-12-31T23:59:59Z");
	util_time_rfc3339(-1, out);
	ck_assert_str_eq(out, "1969-12-31T23:59:59Z");
	util_time_rfc3339(253402300799, out);
	ck_assert_str_eq(out, "9999-12-31T23:59:59Z");
	/* Years past 9999 do not fit the format. */
	util_time_rfc3339(253402300800, out);
	ck_assert_str_eq(out, "0000-00-00T00:00:00Z");
	util_time_rfc3339(INT64_MAX, out);
	ck_assert_str_eq(out, "0000-00-00T00:00:00Z");
}
END_TEST

/* What util_time_rfc3339 was: gmtime_r and snprintf. */
static void
time_ref(int64_t t, char out[UTIL_RFC3339_LEN])
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (gmtime_r(&tt, &tm) == NULL || tm.tm_year + 1900 > 9999 ||
	    tm.tm_year + 1900 < 0) {
		snprintf(out, UTIL_RFC3339_LEN, "0000-00-00T00:00:00Z");
		return;
	}
	snprintf(out, UTIL_RFC3339_LEN, "%04u-%02u-%02uT%02u:%02u:%02uZ",
	    (unsigned)(tm.tm_year + 1900) % 10000u,
	    (unsigned)(tm.tm_mon + 1) % 100u, (unsigned)tm.tm_mday % 100u,
	    (unsigned)tm.tm_hour % 100u, (unsigned)tm.tm_min % 100u,
	    (unsigned)tm.tm_sec % 100u);
}

static void
time_same(int64_t t)
{
	char got[UTIL_RFC3339_LEN], want[UTIL_RFC3339_LEN];

	memset(got, 'x', sizeof(got));
	util_time_rfc3339(t, got);
	time_ref(t, want);
	ck_assert_msg(memcmp(got, want, sizeof(got)) == 0,
	    "%lld: %.21s, want %s", (long long)t, got, want);
}

/* The formatter by hand against the C library, edge dates first. */
START_TEST(test_time_format_gmtime)
{
	static const int64_t years[] = {0, 1, 3, 4, 99, 100, 399, 400, 1582,
	    1899, 1900, 1969, 1970, 1971, 1972, 1999, 2000, 2001, 2024, 2038,
	    2100, 2400, 9998, 9999};
	static const int64_t edges[] = {INT64_MIN, INT64_MIN + 1,
	    -62167219201LL, -62167219200LL, -62167219199LL, -86401, -86400,
	    -86399, -1, 0, 1, 59, 60, 3599, 3600, 86399, 86400, 951782400,
	    2147483647LL, 2147483648LL, 4107542399LL, 4107542400LL,
	    253402300799LL, 253402300800LL, INT64_MAX - 1, INT64_MAX};
	int64_t day, t;
	size_t i;

	if (sizeof(time_t) < 8)
		return; /* the reference cannot reach the range */
	for (i = 0; i < sizeof(edges) / sizeof(edges[0]); i++)
		time_same(edges[i]);
	/* Every day of years around leap rules and the ends of the range,
	 * at its first and last second. */
	for (i = 0; i < sizeof(years) / sizeof(years[0]); i++) {
		for (day = util_days_from_civil(years[i], 1, 1);
		     day < util_days_from_civil(years[i] + 1, 1, 1); day++) {
			time_same(day * 86400);
			time_same(day * 86400 + 86399);
		}
	}
	/* The whole range and a little past both ends, in odd steps. */
	for (t = -62167219200LL - 86400 * 400; t < 253402300800LL + 86400 * 400;
	     t += 999983)
		time_same(t);
}
END_TEST

START_TEST(test_days_from_civil)
{
	ck_assert_int_eq(util_days_from_civil(1970, 1, 1), 0);
	ck_assert_int_eq(util_days_from_civil(1969, 12, 31), -1);
	ck_assert_int_eq(util_days_from_civil(2000, 3, 1), 11017);
	ck_assert_int_eq(util_days_from_civil(2000, 2, 29), 11016);
	ck_assert_int_eq(util_days_from_civil(1950, 1, 1), -7305);
}
END_TEST

static int
parse_time(const char *s, int64_t *t)
{
	return util_time_parse_rfc3339(s, strlen(s), t);
}

START_TEST(test_time_parse)
{
	static const struct {
		const char *s;
		int64_t t;
	} good[] = {
	    {"1970-01-01T00:00:00Z", 0},
	    {"2000-02-29T00:00:00Z", 951782400},
	    {"2000-02-29t00:00:00z", 951782400},
	    {"2000-02-29 00:00:00Z", 951782400},
	    {"2024-02-29T12:00:00Z", 1709208000},
	    {"2049-12-31T23:59:59Z", 2524607999},
	    {"1950-01-01T00:00:00Z", -631152000},
	    {"2000-02-29T01:30:00+01:30", 951782400},
	    {"1999-12-31T23:00:00-01:00", 946684800},
	    {"2000-01-01T00:00:00+00:00", 946684800},
	    {"2000-01-01T00:00:00-00:00", 946684800},
	    {"1970-01-01T00:00:00.123456Z", 0},
	    {"1970-01-01T00:00:00.9Z", 0},
	    {"1970-01-01T00:00:00.5+00:00", 0},
	    {"1970-01-01T00:00:00.000000000000000000001Z", 0},
	    {"2016-12-31T23:59:60Z", 1483228799},
	    {"2016-12-31T23:59:59Z", 1483228799},
	};
	int64_t t;
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		t = -12345;
		ck_assert_msg(parse_time(good[i].s, &t) == 0, "%s refused",
		    good[i].s);
		ck_assert_msg(t == good[i].t, "%s: %lld, want %lld", good[i].s,
		    (long long)t, (long long)good[i].t);
	}
	/* Round trip through the formatter. */
	for (t = -86400 * 3; t < 4102444800; t += 86400 * 37 + 3661) {
		char out[UTIL_RFC3339_LEN];
		int64_t back;

		util_time_rfc3339(t, out);
		ck_assert_int_eq(parse_time(out, &back), 0);
		ck_assert_int_eq(back, t);
	}
}
END_TEST

START_TEST(test_time_parse_bad)
{
	static const char *const bad[] = {
	    "2026-02-30T00:00:00Z", /* no such day */
	    "2026-02-29T00:00:00Z", /* not a leap year */
	    "1900-02-29T00:00:00Z", /* century, not a leap year */
	    "2026-04-31T00:00:00Z",
	    "2026-13-01T00:00:00Z",
	    "2026-00-10T00:00:00Z",
	    "2026-01-00T00:00:00Z",
	    "2026-01-32T00:00:00Z",
	    "2026-01-01T24:00:00Z",
	    "2026-01-01T23:60:00Z",
	    "2026-01-01T23:59:61Z",
	    "2026-01-01T00:00:00",       /* no zone */
	    "2026-01-01T00:00:00.Z",     /* empty fraction */
	    "2026-01-01T00:00:00.",      /* empty fraction, no zone */
	    "2026-01-01T00:00:00.5",     /* fraction, no zone */
	    "2026-01-01T00:00:00+0100",  /* offset without colon */
	    "2026-01-01T00:00:00+01",    /* short offset */
	    "2026-01-01T00:00:00+24:00", /* offset hour */
	    "2026-01-01T00:00:00+01:60", /* offset minute */
	    "2026-01-01T00:00:00+01:00x",
	    "2026-01-01T00:00:00Zx",
	    "2026-01-01T00:00:00ZZ",
	    "2026-01-01X00:00:00Z",
	    "2026-1-01T00:00:00Z",
	    "2026/01/01T00:00:00Z",
	    "2026-01-01T00-00-00Z",
	    "26-01-01T00:00:00Z",
	    "-026-01-01T00:00:00Z",
	    "+2026-01-01T00:00:00Z",
	    "2026-01-01T0:00:00ZZ",
	    "2026-01-01",
	    "hello, world, really",
	    "",
	    "Z",
	};
	int64_t t = 42;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(parse_time(bad[i], &t) == CT_ERR_FORMAT,
		    "'%s' accepted", bad[i]);
	ck_assert_int_eq(t, 42);
	/* The length is what the caller says: a cut string is refused. */
	ck_assert_int_eq(util_time_parse_rfc3339("2026-01-01T00:00:00Z", 19,
	                     &t),
	    CT_ERR_FORMAT);
	ck_assert_int_eq(util_time_parse_rfc3339("2026-01-01T00:00:00Z\0", 21,
	                     &t),
	    CT_ERR_FORMAT);
}
END_TEST

START_TEST(test_now)
{
	int64_t s = util_now(), ms = util_now_ms();

	ck_assert_int_gt(s, 1700000000);
	ck_assert_int_ge(ms / 1000, s - 1);
	ck_assert_int_le(ms / 1000, s + 1);
}
END_TEST

/* ------------------------------------------------------------ sanitize */

START_TEST(test_sanitize)
{
	char out[32];

	util_sanitize("a|b\nc\rd\te\001f\177g\377h\200", 16, out, sizeof(out));
	ck_assert_str_eq(out, "a?b?c?d?e?f?g?h?");
	util_sanitize("a\0b", 3, out, sizeof(out));
	ck_assert_str_eq(out, "a?b");
	util_sanitize("", 0, out, sizeof(out));
	ck_assert_str_eq(out, "");
	/* Fits exactly: 9 bytes into 10. */
	util_sanitize("123456789", 9, out, 10);
	ck_assert_str_eq(out, "123456789");
	/* One over: cut, marked with "...", still 9 bytes. */
	util_sanitize("1234567890", 10, out, 10);
	ck_assert_str_eq(out, "123456...");
	util_sanitize("www.example.org|x=1", 19, out, 10);
	ck_assert_str_eq(out, "www.ex...");
	util_sanitize("abcde", 5, out, 4);
	ck_assert_str_eq(out, "...");
	/* Below 4 bytes there is no room for the marker. */
	util_sanitize("abcde", 5, out, 3);
	ck_assert_str_eq(out, "ab");
	util_sanitize("abcde", 5, out, 1);
	ck_assert_str_eq(out, "");
	out[0] = 'z';
	util_sanitize("abcde", 5, out, 0);
	ck_assert_int_eq(out[0], 'z');
}
END_TEST

/* ------------------------------------------------------------ integers */

static int
parse_u64(const char *s, uint64_t max, uint64_t *v)
{
	return util_parse_u64(s, strlen(s), max, v);
}

START_TEST(test_parse_u64)
{
	static const char *const bad[] = {"", "-1", "+1", " 1", "1 ", "1a",
	    "0x10", "1.0", "1e3", "\xd9\xa1"};
	uint64_t v = 7;
	size_t i;

	ck_assert_int_eq(parse_u64("0", UINT64_MAX, &v), 0);
	ck_assert_uint_eq(v, 0);
	ck_assert_int_eq(parse_u64("00042", UINT64_MAX, &v), 0);
	ck_assert_uint_eq(v, 42);
	ck_assert_int_eq(parse_u64("18446744073709551615", UINT64_MAX, &v), 0);
	ck_assert_uint_eq(v, UINT64_MAX);
	v = 7;
	ck_assert_int_eq(parse_u64("18446744073709551616", UINT64_MAX, &v),
	    CT_ERR_TOO_BIG);
	ck_assert_int_eq(parse_u64("18446744073709551620", UINT64_MAX, &v),
	    CT_ERR_TOO_BIG);
	ck_assert_int_eq(parse_u64("99999999999999999999", UINT64_MAX, &v),
	    CT_ERR_TOO_BIG);
	ck_assert_int_lt(parse_u64("123456789012345678901", UINT64_MAX, &v), 0);
	ck_assert_uint_eq(v, 7);
	/* The caller's maximum. */
	ck_assert_int_eq(parse_u64("99", 99, &v), 0);
	ck_assert_uint_eq(v, 99);
	ck_assert_int_eq(parse_u64("100", 99, &v), CT_ERR_TOO_BIG);
	ck_assert_int_eq(parse_u64("1", 0, &v), CT_ERR_TOO_BIG);
	ck_assert_uint_eq(v, 99);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(parse_u64(bad[i], UINT64_MAX, &v) ==
		        CT_ERR_FORMAT,
		    "'%s' accepted", bad[i]);
	ck_assert_int_eq(util_parse_u64("12\0", 3, UINT64_MAX, &v),
	    CT_ERR_FORMAT);
	ck_assert_int_eq(util_parse_u64("123", 2, UINT64_MAX, &v), 0);
	ck_assert_uint_eq(v, 12);
}
END_TEST

START_TEST(test_ct_equal_zero)
{
	uint8_t a[8] = {1, 2, 3, 4, 5, 6, 7, 8}, b[8];

	memcpy(b, a, sizeof(a));
	ck_assert(util_ct_equal(a, b, sizeof(a)));
	ck_assert(util_ct_equal(a, b, 0));
	b[7] ^= 0x80;
	ck_assert(!util_ct_equal(a, b, sizeof(a)));
	ck_assert(util_ct_equal(a, b, 7));
	util_zero(a, sizeof(a));
	for (size_t i = 0; i < sizeof(a); i++)
		ck_assert_uint_eq(a[i], 0);
}
END_TEST

START_TEST(test_buf_put_be)
{
	static const uint8_t want[] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
	    0x08, 0x00, 0x03, 'a', 'b', 'c'};
	struct util_buf b;
	static uint8_t big[65536];

	util_buf_init(&b, 1 << 20);
	ck_assert_int_eq(util_buf_put_u64(&b, 0x0102030405060708ULL), 0);
	ck_assert_int_eq(util_buf_put_vec16(&b, "abc", 3), 0);
	ck_assert_uint_eq(b.len, sizeof(want));
	ck_assert_mem_eq(b.data, want, sizeof(want));
	ck_assert_int_eq(util_buf_put_vec16(&b, big, 65535), 0);
	ck_assert_int_eq(util_buf_put_vec16(&b, big, 65536), CT_ERR_TOO_BIG);
	ck_assert_uint_eq(b.len, sizeof(want) + 2 + 65535);
	util_buf_clear(&b);
	/* The buffer's own cap still holds. */
	util_buf_init(&b, 9);
	ck_assert_int_eq(util_buf_put_u64(&b, 1), 0);
	ck_assert_int_eq(util_buf_put_vec16(&b, "x", 1), CT_ERR_TOO_BIG);
	util_buf_clear(&b);
}
END_TEST

START_TEST(test_why)
{
	char why[16];

	util_why(NULL, 0, "ignored %d", 1); /* no target: nothing happens */
	util_why(why, sizeof(why), "a|b %s", "c\nd");
	ck_assert_str_eq(why, "a?b c?d");
	util_why(why, sizeof(why), "%s", "0123456789abcdefghij");
	ck_assert_uint_eq(strlen(why), sizeof(why) - 1);
	ck_assert_str_eq(why + sizeof(why) - 4, "...");
}
END_TEST

static Suite *
util_suite(void)
{
	Suite *s = suite_create("util");
	TCase *tc;

	tc = tcase_create("buf");
	tcase_add_test(tc, test_strerror);
	tcase_add_test(tc, test_buf_cap);
	tcase_add_test(tc, test_buf_grow);
	tcase_add_test(tc, test_buf_uncapped);
	tcase_add_test(tc, test_buf_printf);
	tcase_add_test(tc, test_buf_take);
	suite_add_tcase(s, tc);

	tc = tcase_create("codec");
	tcase_add_test(tc, test_hex);
	tcase_add_test(tc, test_hex_encode_all);
	tcase_add_test(tc, test_hex_decode_lower);
	tcase_add_test(tc, test_b64_vectors);
	tcase_add_test(tc, test_b64_binary);
	tcase_add_test(tc, test_b64_strict);
	tcase_add_test(tc, test_b64_whitespace);
	tcase_add_test(tc, test_b64_outsz);
	suite_add_tcase(s, tc);

	tc = tcase_create("pem");
	tcase_add_test(tc, test_pem_fixture);
	tcase_add_test(tc, test_pem_bundle);
	tcase_add_test(tc, test_pem_all_fixtures);
	tcase_add_test(tc, test_pem_malformed);
	tcase_add_test(tc, test_read_file);
	suite_add_tcase(s, tc);

	tc = tcase_create("time");
	tcase_add_test(tc, test_time_format);
	tcase_add_test(tc, test_time_format_gmtime);
	tcase_add_test(tc, test_days_from_civil);
	tcase_add_test(tc, test_time_parse);
	tcase_add_test(tc, test_time_parse_bad);
	tcase_add_test(tc, test_now);
	suite_add_tcase(s, tc);

	tc = tcase_create("text");
	tcase_add_test(tc, test_sanitize);
	tcase_add_test(tc, test_parse_u64);
	tcase_add_test(tc, test_ct_equal_zero);
	tcase_add_test(tc, test_buf_put_be);
	tcase_add_test(tc, test_why);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return testutil_run(util_suite());
}
