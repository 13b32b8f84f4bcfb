/*
 * Tests for common/json: valid documents, everything jsmn's strict mode
 * still lets through, truncation at every length and inside escapes and
 * UTF-8, caps (bytes, tokens, depth), escapes, every byte class at every
 * place of a string (the parser and writer read 8 bytes at a time),
 * integer ranges, wrong types, and the writer round trip.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "testutil.h"
#include "util.h"

/* Parses a NUL-terminated literal. */
static int
parse(const char *s, struct json_doc **d)
{
	return json_parse(s, strlen(s), NULL, d);
}

/* Parses s and expects failure (with code want, unless want is 0). */
#define REJECT(s, want)                                                        \
	do {                                                                   \
		struct json_doc *d_ = NULL;                                    \
		int rc_ = parse((s), &d_);                                     \
		ck_assert_msg(rc_ < 0, "accepted: %s", (s));                   \
		ck_assert_ptr_null(d_);                                        \
		if ((want) != 0)                                               \
			ck_assert_msg(rc_ == (want), "%s: got %s", (s),        \
			    ct_strerror(rc_));                                 \
	} while (0)

START_TEST(test_valid_types)
{
	struct json_doc *d = NULL;
	uint64_t u;
	int64_t i;
	bool b;
	char s[32];

	ck_assert_int_eq(parse("{}", &d), 0);
	ck_assert_int_eq(json_type(d, JSON_ROOT), JSON_OBJECT);
	ck_assert_int_eq(json_size(d, JSON_ROOT), 0);
	json_free(d);

	ck_assert_int_eq(parse(" [ ] ", &d), 0);
	ck_assert_int_eq(json_type(d, JSON_ROOT), JSON_ARRAY);
	ck_assert_int_eq(json_size(d, JSON_ROOT), 0);
	json_free(d);

	ck_assert_int_eq(parse("\"hi\"", &d), 0);
	ck_assert_int_eq(json_type(d, JSON_ROOT), JSON_STRING);
	ck_assert_int_eq(json_get_str(d, JSON_ROOT, 0, s, sizeof(s), NULL), 0);
	ck_assert_str_eq(s, "hi");
	json_free(d);

	ck_assert_int_eq(parse("42", &d), 0);
	ck_assert_int_eq(json_type(d, JSON_ROOT), JSON_NUMBER);
	ck_assert_int_eq(json_get_u64(d, JSON_ROOT, &u), 0);
	ck_assert_uint_eq(u, 42);
	json_free(d);

	ck_assert_int_eq(parse("\n-7\t", &d), 0);
	ck_assert_int_eq(json_get_i64(d, JSON_ROOT, &i), 0);
	ck_assert_int_eq(i, -7);
	json_free(d);

	ck_assert_int_eq(parse("-1.5e+10", &d), 0);
	ck_assert_int_eq(json_type(d, JSON_ROOT), JSON_NUMBER);
	json_free(d);

	ck_assert_int_eq(parse("true", &d), 0);
	ck_assert_int_eq(json_get_bool(d, JSON_ROOT, &b), 0);
	ck_assert(b);
	json_free(d);

	ck_assert_int_eq(parse("false ", &d), 0);
	ck_assert_int_eq(json_get_bool(d, JSON_ROOT, &b), 0);
	ck_assert(!b);
	json_free(d);

	ck_assert_int_eq(parse("null", &d), 0);
	ck_assert(json_is_null(d, JSON_ROOT));
	ck_assert_int_eq(json_type(d, JSON_ROOT), JSON_NULL);
	json_free(d);

	ck_assert_str_eq(json_type_names[JSON_STRING], "string");
}
END_TEST

START_TEST(test_nested_document)
{
	const char *js = "{\"a\": [1, {\"b\": null}, \"x\", [true, false]],"
	                 " \"c\": {\"d\": -0.25, \"e\": []}, \"f\": \"\"}";
	struct json_doc *d = NULL;
	struct json_iter it;
	int a, c, e, k, v, n;
	char s[8];
	bool b;

	ck_assert_int_eq(parse(js, &d), 0);
	ck_assert_int_eq(json_size(d, JSON_ROOT), 3);
	a = json_obj_get(d, JSON_ROOT, "a");
	ck_assert_int_eq(json_type(d, a), JSON_ARRAY);
	ck_assert_int_eq(json_size(d, a), 4);
	ck_assert_int_eq(json_iter_arr(d, a, &it), 0);
	n = 0;
	while (json_iter_next(&it, &e))
		n++;
	ck_assert_int_eq(n, 4);
	/* Element 1 is an object; element 2 skips past it. */
	ck_assert(json_is_null(d, json_obj_get(d, json_arr_get(d, a, 1), "b")));
	ck_assert(json_str_eq(d, json_arr_get(d, a, 2), "x", 1));
	ck_assert_int_eq(json_get_bool(d,
	                     json_arr_get(d, json_arr_get(d, a, 3), 1), &b),
	    0);
	ck_assert(!b);
	ck_assert_int_eq(json_arr_get(d, a, 4), CT_ERR_NOT_FOUND);
	c = json_obj_get(d, JSON_ROOT, "c");
	ck_assert_int_eq(json_type(d, json_obj_get(d, c, "d")), JSON_NUMBER);
	ck_assert_int_eq(json_size(d, json_obj_get(d, c, "e")), 0);
	ck_assert_int_eq(json_get_str(d, json_obj_get(d, JSON_ROOT, "f"), 0, s,
	                     sizeof(s), NULL),
	    0);
	ck_assert_str_eq(s, "");
	/* Members come in document order. */
	ck_assert_int_eq(json_iter_obj(d, JSON_ROOT, &it), 0);
	ck_assert(json_iter_next_member(&it, &k, &v));
	ck_assert(json_str_eq(d, k, "a", 1));
	ck_assert_int_eq(v, a);
	ck_assert(json_iter_next_member(&it, &k, &v));
	ck_assert(json_str_eq(d, k, "c", 1));
	ck_assert(json_iter_next_member(&it, &k, &v));
	ck_assert(json_str_eq(d, k, "f", 1));
	ck_assert(!json_iter_next_member(&it, &k, &v));
	ck_assert_int_eq(json_obj_get(d, JSON_ROOT, "zz"), CT_ERR_NOT_FOUND);
	json_free(d);
}
END_TEST

START_TEST(test_sth_fixture)
{
	static const uint8_t root[32] = {0x4b, 0x12, 0x8e, 0xc6, 0x4b, 0x20,
	    0xba, 0xf1, 0xcf, 0xc9, 0x46, 0x8a, 0x60, 0xa5, 0xe8, 0x64, 0x7c,
	    0xd7, 0x97, 0xdd, 0x50, 0xdb, 0x9e, 0xfe, 0x25, 0x0d, 0x00, 0x50,
	    0xc9, 0x45, 0x7d, 0xea};
	struct json_doc *d = NULL;
	uint8_t *js, hash[32], *sig = NULL;
	size_t len, siglen;
	uint64_t n;

	js = testutil_read(SHARED_TESTDATA "ct-json/get-sth-pilot-2014.json",
	    &len);
	ck_assert_int_eq(json_parse((char *)js, len, NULL, &d), 0);
	ck_assert_uint_eq(json_ntokens(d), 9);
	ck_assert_int_eq(json_get_u64(d,
	                     json_obj_get(d, JSON_ROOT, "tree_size"), &n),
	    0);
	ck_assert_uint_eq(n, 3721782);
	ck_assert_int_eq(json_get_u64(d,
	                     json_obj_get(d, JSON_ROOT, "timestamp"), &n),
	    0);
	ck_assert_uint_eq(n, 1396609800587ULL);
	ck_assert_int_eq(json_get_b64_exact(d,
	                     json_obj_get(d, JSON_ROOT, "sha256_root_hash"),
	                     hash, sizeof(hash)),
	    0);
	ck_assert_mem_eq(hash, root, 32);
	ck_assert_int_eq(json_get_b64_alloc(d,
	                     json_obj_get(d, JSON_ROOT, "tree_head_signature"),
	                     1024, &sig, &siglen),
	    0);
	/* TLS DigitallySigned: sha256 (4), ecdsa (3), 2-byte length. */
	ck_assert_uint_eq(siglen, 4 + 0x46);
	ck_assert_uint_eq(sig[0], 4);
	ck_assert_uint_eq(sig[1], 3);
	free(sig);
	/* Too small a cap for the signature. */
	ck_assert_int_eq(json_get_b64_alloc(d,
	                     json_obj_get(d, JSON_ROOT, "tree_head_signature"),
	                     16, &sig, &siglen),
	    CT_ERR_TOO_BIG);
	ck_assert_ptr_null(sig);
	json_free(d);
	free(js);
}
END_TEST

/* Every case of REFERENCE 6.5's "JSMN_STRICT still accepts", and kin. */
START_TEST(test_strict_gaps_rejected)
{
	static const char *const bad[] = {
	    /* The five from the reference. */
	    "{\"a\":tru}",
	    "{\"a\":1 \"b\":2}",
	    "[1,]",
	    "{\"a\":01}",
	    "{\"a\":nan}",
	    /* Primitives. */
	    "[truex]",
	    "[nul]",
	    "[True]",
	    "[-]",
	    "[1.]",
	    "[.5]",
	    "[1e]",
	    "[1e+]",
	    "[+1]",
	    "[0x10]",
	    "[Infinity]",
	    "[-01]",
	    "[00]",
	    "[1.e5]",
	    "[--1]",
	    "[1-]",
	    "[1.5.5]",
	    "[tru e]",
	    /* Structure. */
	    "[1 2]",
	    "[,1]",
	    "[1,,2]",
	    "{\"a\":1,}",
	    "{,\"a\":1}",
	    "{\"a\"}",
	    "{\"a\":}",
	    "{\"a\" 1}",
	    "{\"a\"::1}",
	    "[\"a\":1]",
	    "{\"a\":\"b\":\"c\"}",
	    "{\"a\":1,\"b\"}",
	    "{1:2}",
	    "{\"a\":1 , , \"b\":2}",
	    "[[1]2]",
	    "[{}{}]",
	    "{\"a\":{}\"b\":1}",
	    "[\"a\"\"b\"]",
	    "[1\"a\"]",
	    /* Strings. */
	    "[\"\\x\"]",
	    "[\"\\u12\"]",
	    "[\"\\u12g4\"]",
	    "[\"\\U0041\"]",
	    "[\"tab\there\"]",
	    "[\"nl\nhere\"]",
	    "[\"\x01\"]",
	    "[\"\\ud800\"]",
	    "[\"\\ud800x\"]",
	    "[\"\\ud800\\u0041\"]",
	    "[\"\\udc00\"]",
	    "[\"\\udc00\\ud800\"]",
	    "[\"\xc0\xaf\"]",
	    "[\"\xed\xa0\x80\"]",
	    "[\"\xff\"]",
	    "[\"\xe2\x82\"]",
	    "[\"\xf4\x90\x80\x80\"]",
	    "[\"\x80\"]",
	    "[\"\xe0\x80\xaf\"]",
	    /* Outside values. */
	    "[1]]",
	    "{}}",
	    "]",
	    "}",
	    ",",
	    ":",
	    "x",
	    "'a'",
	    "[\x7f]",
	    "[1]\x01",
	    "{\"a\":1}\xc3\xa9",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		REJECT(bad[i], 0);
	/* Specific codes where they matter. */
	REJECT("{\"a\":tru}", CT_ERR_FORMAT);
	REJECT("{\"a\":1 \"b\":2}", CT_ERR_FORMAT);
	REJECT("[1,]", CT_ERR_FORMAT);
	REJECT("{\"a\":01}", CT_ERR_FORMAT);
	REJECT("{\"a\":nan}", CT_ERR_FORMAT);
}
END_TEST

/* Input that ends inside an escape or a UTF-8 sequence is cut short;
 * a byte that cannot go on is malformed. */
START_TEST(test_cut_inside_string)
{
	REJECT("[\"\\", CT_ERR_TRUNCATED);
	REJECT("[\"\\u", CT_ERR_TRUNCATED);
	REJECT("[\"\\u1", CT_ERR_TRUNCATED);
	REJECT("[\"\\u12", CT_ERR_TRUNCATED);
	REJECT("[\"\\u123", CT_ERR_TRUNCATED);
	REJECT("[\"\\u1234", CT_ERR_TRUNCATED);
	REJECT("[\"\\ud83d", CT_ERR_TRUNCATED);
	REJECT("[\"\\ud83d\\", CT_ERR_TRUNCATED);
	REJECT("[\"\\ud83d\\u", CT_ERR_TRUNCATED);
	REJECT("[\"\\ud83d\\ude0", CT_ERR_TRUNCATED);
	REJECT("[\"\\ud83d\\ude00", CT_ERR_TRUNCATED);
	REJECT("[\"\xc3", CT_ERR_TRUNCATED);
	REJECT("[\"\xe2\x82", CT_ERR_TRUNCATED);
	REJECT("[\"\xf0\x9f\x98", CT_ERR_TRUNCATED);
	REJECT("[\"abcdefghijklmnopq", CT_ERR_TRUNCATED);
	REJECT("[tru", CT_ERR_TRUNCATED);
	REJECT("{\"a\":1,", CT_ERR_TRUNCATED);
	/* Malformed and cut short too: either error (jsmn's tokenizer
	 * sees the cut first). */
	REJECT("[\"\\u12x", 0);
	REJECT("[\"\\ud83dx", 0);
	REJECT("[\"\\ud83d\\n", 0);
	REJECT("[\"\\ud83d\\u0041", 0);
	REJECT("[\"\\ude00", 0);
	REJECT("[\"\xc3x", 0);
	REJECT("[\"\xe0\x80", 0);
	REJECT("[\"\xff", 0);
	REJECT("[\"a\x01", 0);
	REJECT("[1 2", 0);
	REJECT("[x", 0);
	/* After the root value: trailing bytes, or what jsmn's tokenizer
	 * says first (an unmatched bracket; a primitive with no end). */
	REJECT("[1]]", CT_ERR_FORMAT);
	REJECT("[1] 2", 0);
	REJECT("{}x", 0);
	REJECT("\"a\"\"", 0);
}
END_TEST

/* s with one byte replaced, as a one-element array: "[\"...\"]". */
static int
parse_with(const char *s, size_t len, size_t pos, const char *put,
    size_t putlen, struct json_doc **d, char *doc)
{
	size_t n = 0;

	doc[n++] = '[';
	doc[n++] = '"';
	memcpy(doc + n, s, pos);
	n += pos;
	memcpy(doc + n, put, putlen);
	n += putlen;
	memcpy(doc + n, s + pos + 1, len - pos - 1);
	n += len - pos - 1;
	doc[n++] = '"';
	doc[n++] = ']';
	return json_parse(doc, n, NULL, d);
}

/*
 * One byte of each kind at every place of strings up to 40 bytes long,
 * across the 8-byte words the parser and the writer read at a time.
 */
START_TEST(test_string_every_place)
{
	static const struct {
		const char *put; /* in place of one byte */
		size_t putlen;
		int rc;           /* of the parse */
		int rc_last;      /* of the parse, in place of the last byte */
		const char *dec;  /* decoded, when it parses */
		const char *wout; /* as the writer puts it */
	} kinds[] = {
	    {"\x01", 1, CT_ERR_FORMAT, CT_ERR_FORMAT, NULL, "\\u0001"},
	    {"\x1f", 1, CT_ERR_FORMAT, CT_ERR_FORMAT, NULL, "\\u001f"},
	    {"\n", 1, CT_ERR_FORMAT, CT_ERR_FORMAT, NULL, "\\n"},
	    /* An odd quote leaves a string open: either error. */
	    {"\"", 1, 0, 0, NULL, "\\\""},
	    /* Last, it escapes the closing quote. */
	    {"\\", 1, CT_ERR_FORMAT, CT_ERR_TRUNCATED, NULL, "\\\\"},
	    {"\x80", 1, CT_ERR_FORMAT, CT_ERR_FORMAT, NULL, "\\u0080"},
	    {"\xff", 1, CT_ERR_FORMAT, CT_ERR_FORMAT, NULL, "\\u00ff"},
	    {"\xc3", 1, CT_ERR_FORMAT, CT_ERR_FORMAT, NULL, "\\u00c3"},
	    {"\x7f", 1, 0, 0, "\x7f", "\x7f"},
	    {" ", 1, 0, 0, " ", " "},
	    {"\xc3\xa9", 2, 0, 0, "\xc3\xa9", "\xc3\xa9"},
	    {"\xf0\x9f\x98\x80", 4, 0, 0, "\xf0\x9f\x98\x80",
	        "\xf0\x9f\x98\x80"},
	    {"\\n", 2, 0, 0, "\n", NULL},
	    {"\\u00e9", 6, 0, 0, "\xc3\xa9", NULL},
	};
	/* No escape letter among them: a backslash before one is refused. */
	static const char fill[] = "acdeghijklmopqsvwxyz";
	char s[40], doc[64], dec[64], want[128];
	const char *raw;
	struct json_doc *d;
	struct util_buf b;
	struct json_writer w;
	size_t len, pos, k, i, n, rn;
	int rc, want_rc;

	for (len = 1; len <= sizeof(s); len++) {
		for (i = 0; i < len; i++)
			s[i] = fill[i % (sizeof(fill) - 1)];
		for (pos = 0; pos < len; pos++) {
			for (k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
				d = NULL;
				rc = parse_with(s, len, pos, kinds[k].put,
				    kinds[k].putlen, &d, doc);
				want_rc = pos + 1 < len ? kinds[k].rc
				                        : kinds[k].rc_last;
				ck_assert_msg(want_rc == 0 &&
				            kinds[k].dec == NULL
				        ? rc < 0
				        : rc == want_rc,
				    "len %zu pos %zu kind %zu: %s", len, pos, k,
				    ct_strerror(rc));
				if (rc != 0) {
					ck_assert_ptr_null(d);
					continue;
				}
				/* The decoded value and the plain view. */
				n = (size_t)snprintf(want, sizeof(want),
				    "%.*s%s%.*s", (int)pos, s, kinds[k].dec,
				    (int)(len - pos - 1), s + pos + 1);
				ck_assert_int_eq(json_get_str(d, 1, 0, dec,
				                     sizeof(dec), &i),
				    0);
				ck_assert_uint_eq(i, n);
				ck_assert_mem_eq(dec, want, n);
				if (kinds[k].wout != NULL) {
					ck_assert(
					    json_str_plain(d, 1, &raw, &rn));
					ck_assert_uint_eq(rn, n);
					ck_assert_mem_eq(raw, want, n);
				} else {
					ck_assert(
					    !json_str_plain(d, 1, &raw, &rn));
				}
				json_free(d);
			}
			/* The writer, for the raw bytes of each kind. */
			for (k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
				if (kinds[k].wout == NULL)
					continue;
				util_buf_init(&b, 4096);
				json_w_init(&w, &b);
				memcpy(dec, s, pos);
				memcpy(dec + pos, kinds[k].put,
				    kinds[k].putlen);
				memcpy(dec + pos + kinds[k].putlen, s + pos + 1,
				    len - pos - 1);
				ck_assert_int_eq(json_w_str_n(&w, dec,
				                     len - 1 + kinds[k].putlen),
				    0);
				ck_assert_int_eq(json_w_finish(&w, false), 0);
				n = (size_t)snprintf(want, sizeof(want),
				    "\"%.*s%s%.*s\"", (int)pos, s,
				    kinds[k].wout, (int)(len - pos - 1),
				    s + pos + 1);
				ck_assert_msg(b.len == n &&
				        memcmp(b.data, want, n) == 0,
				    "writer: len %zu pos %zu kind %zu", len,
				    pos, k);
				util_buf_clear(&b);
			}
		}
	}
}
END_TEST

START_TEST(test_str_plain)
{
	struct json_doc *d = NULL;
	const char *p = "untouched";
	size_t n = 99;

	ck_assert_int_eq(
	    parse("{\"k\":\"v w\",\"e\\u0041\":\"a\\nb\",\"n\":1,\"z\":\"\"}",
	        &d),
	    0);
	ck_assert(json_str_plain(d, 1, &p, &n)); /* key "k" */
	ck_assert_uint_eq(n, 1);
	ck_assert_mem_eq(p, "k", 1);
	ck_assert(json_str_plain(d, 2, &p, &n));
	ck_assert_uint_eq(n, 3);
	ck_assert_mem_eq(p, "v w", 3);
	/* Escapes: false, and nothing written. */
	p = "untouched";
	n = 99;
	ck_assert(!json_str_plain(d, 3, &p, &n));
	ck_assert(!json_str_plain(d, 4, &p, &n));
	ck_assert(!json_str_plain(d, 6, &p, &n)); /* a number */
	ck_assert(!json_str_plain(d, JSON_ROOT, &p, &n));
	ck_assert(!json_str_plain(d, -1, &p, &n));
	ck_assert(!json_str_plain(d, 99, &p, &n));
	ck_assert(!json_str_plain(NULL, 0, &p, &n));
	ck_assert_str_eq(p, "untouched");
	ck_assert_uint_eq(n, 99);
	ck_assert(json_str_eq(d, 3, "eA", 2));
	ck_assert(json_str_plain(d, 8, &p, &n)); /* "" */
	ck_assert_uint_eq(n, 0);
	json_free(d);
}
END_TEST

START_TEST(test_trailing_and_empty)
{
	struct json_doc *d = NULL;
	const char nul[] = "{}\0{}";

	REJECT("{} {}", CT_ERR_TRAILING);
	REJECT("\"a\" \"b\"", CT_ERR_TRAILING);
	REJECT("1 2", CT_ERR_TRAILING);
	REJECT("[]{}", CT_ERR_TRAILING);
	REJECT("", CT_ERR_TRUNCATED);
	REJECT(" \n\t", CT_ERR_TRUNCATED);
	/* A NUL would stop jsmn; it must not hide what follows. */
	ck_assert_int_eq(json_parse(nul, sizeof(nul) - 1, NULL, &d),
	    CT_ERR_FORMAT);
	ck_assert_ptr_null(d);
	ck_assert_int_eq(json_parse("\"a\0\"", 4, NULL, &d), CT_ERR_FORMAT);
	/* Whitespace around the root is fine. */
	ck_assert_int_eq(parse(" \r\n{}\n\n", &d), 0);
	json_free(d);
	json_free(NULL);
}
END_TEST

START_TEST(test_unterminated)
{
	REJECT("\"abc", CT_ERR_TRUNCATED);
	REJECT("{\"a\":\"abc", CT_ERR_TRUNCATED);
	REJECT("[\"abc\\\"]", CT_ERR_TRUNCATED);
	REJECT("{\"a", CT_ERR_TRUNCATED);
	REJECT("[\"\\", CT_ERR_TRUNCATED);
	REJECT("[1", CT_ERR_TRUNCATED);
	REJECT("{\"a\":{\"b\":[]}", CT_ERR_TRUNCATED);
	REJECT("[", CT_ERR_TRUNCATED);
}
END_TEST

/* Every proper prefix of a real document must fail; the whole must not. */
static void
check_prefixes(const char *path)
{
	struct json_doc *d = NULL;
	uint8_t *js;
	size_t len, full, n;
	int rc;

	js = testutil_read(path, &len);
	full = len;
	while (full > 0 && (js[full - 1] == '\n' || js[full - 1] == ' '))
		full--;
	for (n = 0; n < full; n++) {
		rc = json_parse((char *)js, n, NULL, &d);
		ck_assert_msg(rc < 0, "%s: prefix of %zu bytes accepted", path,
		    n);
		ck_assert_ptr_null(d);
	}
	for (n = full; n <= len; n++) {
		ck_assert_int_eq(json_parse((char *)js, n, NULL, &d), 0);
		json_free(d);
		d = NULL;
	}
	free(js);
}

START_TEST(test_truncated_every_length)
{
	check_prefixes(SHARED_TESTDATA "ct-json/get-sth-pilot-2014.json");
	check_prefixes(SHARED_TESTDATA "ct-json/get-proof-by-hash.json");
	check_prefixes(SHARED_TESTDATA "ct-json/get-sth-consistency.json");
}
END_TEST

/* n arrays nested in one another: "[[...]]". */
static char *
nested(size_t n, bool objects)
{
	struct util_buf b;
	size_t i;

	util_buf_init(&b, 1024 * 1024);
	for (i = 0; i < n; i++)
		ck_assert_int_eq(util_buf_append_str(&b,
		                     objects ? "{\"k\":" : "["),
		    0);
	ck_assert_int_eq(util_buf_append_str(&b, "1"), 0);
	for (i = 0; i < n; i++)
		ck_assert_int_eq(util_buf_append_str(&b, objects ? "}" : "]"),
		    0);
	ck_assert_int_eq(util_buf_cstr(&b), 0);
	return (char *)b.data;
}

START_TEST(test_depth_cap)
{
	struct json_limits lim = {0, 0, 3};
	struct json_doc *d = NULL;
	char *s;
	int t;
	size_t i;

	s = nested(JSON_MAX_DEPTH, false);
	ck_assert_int_eq(parse(s, &d), 0);
	for (t = JSON_ROOT, i = 0; i < JSON_MAX_DEPTH; i++)
		t = json_arr_get(d, t, 0);
	ck_assert_int_eq(json_type(d, t), JSON_NUMBER);
	json_free(d);
	free(s);

	s = nested(JSON_MAX_DEPTH + 1, false);
	ck_assert_int_eq(parse(s, &d), CT_ERR_TOO_BIG);
	free(s);

	s = nested(JSON_MAX_DEPTH, true);
	ck_assert_int_eq(parse(s, &d), 0);
	json_free(d);
	free(s);

	s = nested(JSON_MAX_DEPTH + 1, true);
	ck_assert_int_eq(parse(s, &d), CT_ERR_TOO_BIG);
	free(s);

	/* A far deeper document, and a caller's own cap. */
	s = nested(50000, false);
	ck_assert_int_eq(parse(s, &d), CT_ERR_TOO_BIG);
	free(s);
	ck_assert_int_eq(json_parse("[[[1]]]", 7, &lim, &d), 0);
	json_free(d);
	ck_assert_int_eq(json_parse("[[[[1]]]]", 9, &lim, &d), CT_ERR_TOO_BIG);
	lim.max_depth = JSON_HARD_MAX_DEPTH + 1;
	ck_assert_int_eq(json_parse("1", 1, &lim, &d), CT_ERR_INVALID);
}
END_TEST

START_TEST(test_token_cap)
{
	struct json_limits lim = {0, 4, 0};
	struct json_doc *d = NULL;
	struct util_buf b;
	size_t i;
	uint64_t v;
	int t, e;
	struct json_iter it;

	ck_assert_int_eq(json_parse("[1,2,3,4,5]", 11, &lim, &d),
	    CT_ERR_TOO_BIG);
	ck_assert_ptr_null(d);
	lim.max_tokens = 6;
	ck_assert_int_eq(json_parse("[1,2,3,4,5]", 11, &lim, &d), 0);
	ck_assert_uint_eq(json_ntokens(d), 6);
	json_free(d);
	lim.max_tokens = 5;
	ck_assert_int_eq(json_parse("[1,2,3,4,5]", 11, &lim, &d),
	    CT_ERR_TOO_BIG);

	/* Many tokens: the array grows and keeps what jsmn filled. */
	util_buf_init(&b, 1024 * 1024);
	ck_assert_int_eq(util_buf_append_str(&b, "{\"v\":["), 0);
	for (i = 0; i < 20000; i++)
		ck_assert_int_eq(util_buf_printf(&b, "%s%zu", i ? "," : "", i),
		    0);
	ck_assert_int_eq(util_buf_append_str(&b, "],\"end\":true}"), 0);
	ck_assert_int_eq(json_parse((char *)b.data, b.len, NULL, &d), 0);
	ck_assert_uint_eq(json_ntokens(d), 20000 + 5);
	t = json_obj_get(d, JSON_ROOT, "v");
	ck_assert_int_eq(json_iter_arr(d, t, &it), 0);
	for (i = 0; json_iter_next(&it, &e); i++) {
		ck_assert_int_eq(json_get_u64(d, e, &v), 0);
		ck_assert_uint_eq(v, i);
	}
	ck_assert_uint_eq(i, 20000);
	ck_assert_int_eq(json_type(d, json_obj_get(d, JSON_ROOT, "end")),
	    JSON_BOOL);
	json_free(d);
	lim.max_tokens = 20000;
	ck_assert_int_eq(json_parse((char *)b.data, b.len, &lim, &d),
	    CT_ERR_TOO_BIG);
	util_buf_clear(&b);
}
END_TEST

START_TEST(test_byte_cap)
{
	struct json_limits lim = {8, 0, 0};
	struct json_doc *d = NULL;

	ck_assert_int_eq(json_parse("[1,2,3]", 7, &lim, &d), 0);
	json_free(d);
	ck_assert_int_eq(json_parse("[1,2,3,4]", 9, &lim, &d), CT_ERR_TOO_BIG);
	ck_assert_ptr_null(d);
	lim.max_bytes = (size_t)JSON_HARD_MAX_BYTES + 1;
	ck_assert_int_eq(json_parse("1", 1, &lim, &d), CT_ERR_INVALID);
}
END_TEST

START_TEST(test_wrong_types)
{
	const char *js = "{\"n\":5,\"s\":\"5\",\"b\":true,\"z\":null,"
	                 "\"a\":[],\"o\":{},\"f\":1.5}";
	struct json_doc *d = NULL;
	struct json_iter it;
	char s[8];
	uint8_t raw[8];
	size_t len;
	uint64_t u;
	int64_t i;
	bool b;
	int n, sv;

	ck_assert_int_eq(parse(js, &d), 0);
	n = json_obj_get(d, JSON_ROOT, "n");
	sv = json_obj_get(d, JSON_ROOT, "s");
	ck_assert_int_eq(json_get_str(d, n, 0, s, sizeof(s), NULL),
	    CT_ERR_FORMAT);
	ck_assert_int_eq(json_get_u64(d, sv, &u), CT_ERR_FORMAT);
	ck_assert_int_eq(json_get_i64(d, sv, &i), CT_ERR_FORMAT);
	ck_assert_int_eq(json_get_bool(d, n, &b), CT_ERR_FORMAT);
	ck_assert_int_eq(json_get_bool(d, json_obj_get(d, JSON_ROOT, "z"), &b),
	    CT_ERR_FORMAT);
	ck_assert(!json_is_null(d, n));
	ck_assert_int_eq(json_get_u64(d, json_obj_get(d, JSON_ROOT, "b"), &u),
	    CT_ERR_FORMAT);
	ck_assert_int_eq(json_get_u64(d, json_obj_get(d, JSON_ROOT, "a"), &u),
	    CT_ERR_FORMAT);
	ck_assert_int_eq(json_get_str(d, json_obj_get(d, JSON_ROOT, "o"), 0, s,
	                     sizeof(s), NULL),
	    CT_ERR_FORMAT);
	ck_assert_int_eq(json_get_u64(d, json_obj_get(d, JSON_ROOT, "f"), &u),
	    CT_ERR_FORMAT);
	ck_assert_int_eq(json_get_b64(d, n, raw, sizeof(raw), &len),
	    CT_ERR_FORMAT);
	ck_assert_int_eq(json_size(d, sv), CT_ERR_FORMAT);
	ck_assert_int_eq(json_obj_get(d, json_obj_get(d, JSON_ROOT, "a"), "x"),
	    CT_ERR_FORMAT);
	ck_assert_int_eq(json_arr_get(d, json_obj_get(d, JSON_ROOT, "o"), 0),
	    CT_ERR_FORMAT);
	ck_assert_int_eq(json_iter_arr(d, JSON_ROOT, &it), CT_ERR_FORMAT);
	ck_assert(!json_iter_next(&it, &n));
	ck_assert_int_eq(json_iter_obj(d, json_obj_get(d, JSON_ROOT, "a"), &it),
	    CT_ERR_FORMAT);
	ck_assert_int_eq(json_expect(d, sv, JSON_NUMBER), CT_ERR_FORMAT);
	ck_assert_int_eq(json_expect(d, sv, JSON_STRING), sv);
	ck_assert(!json_str_eq(d, n, "5", 1));
	/* A missing member passes through every getter as NOT_FOUND. */
	ck_assert_int_eq(json_get_u64(d, json_obj_get(d, JSON_ROOT, "q"), &u),
	    CT_ERR_NOT_FOUND);
	ck_assert_int_eq(json_get_str(d, json_obj_get(d, JSON_ROOT, "q"), 0, s,
	                     sizeof(s), NULL),
	    CT_ERR_NOT_FOUND);
	ck_assert_int_eq(json_expect(d, CT_ERR_NOT_FOUND, JSON_ARRAY),
	    CT_ERR_NOT_FOUND);
	ck_assert_int_eq(json_type(d, -1), JSON_NONE);
	/* An index past the end is the caller's bug. */
	ck_assert_int_eq(json_type(d, 1000), JSON_NONE);
	ck_assert_int_eq(json_get_u64(d, 1000, &u), CT_ERR_INVALID);
	json_free(d);
}
END_TEST

/* Decodes the single string of "[...]" text js. */
static int
decode1(const char *js, unsigned flags, char *out, size_t outsz, size_t *outlen)
{
	struct json_doc *d = NULL;
	int rc;

	if ((rc = parse(js, &d)) < 0)
		return rc;
	rc = json_get_str(d, json_arr_get(d, JSON_ROOT, 0), flags, out, outsz,
	    outlen);
	json_free(d);
	return rc;
}

START_TEST(test_escapes)
{
	char s[64];
	size_t n;
	char *p = NULL;
	struct json_doc *d = NULL;

	ck_assert_int_eq(decode1("[\"a\\nb\"]", 0, s, sizeof(s), &n), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_str_eq(s, "a\nb");
	ck_assert_int_eq(decode1("[\"\\/\\\\\\\"\\b\\f\\r\\t\"]", 0, s,
	                     sizeof(s), &n),
	    0);
	ck_assert_str_eq(s, "/\\\"\b\f\r\t");
	ck_assert_int_eq(decode1("[\"caf\\u00e9\"]", 0, s, sizeof(s), &n), 0);
	ck_assert_str_eq(s, "caf\xc3\xa9");
	ck_assert_int_eq(decode1("[\"\\u20AC\"]", 0, s, sizeof(s), &n), 0);
	ck_assert_str_eq(s, "\xe2\x82\xac");
	ck_assert_int_eq(decode1("[\"\\ud83d\\ude00!\"]", 0, s, sizeof(s), &n),
	    0);
	ck_assert_str_eq(s, "\xf0\x9f\x98\x80!");
	ck_assert_int_eq(decode1("[\"\\uDBFF\\uDFFF\"]", 0, s, sizeof(s), &n),
	    0);
	ck_assert_str_eq(s, "\xf4\x8f\xbf\xbf");
	/* Raw UTF-8 passes as it is. */
	ck_assert_int_eq(decode1("[\"\xf0\x9f\x98\x80\"]", 0, s, sizeof(s), &n),
	    0);
	ck_assert_str_eq(s, "\xf0\x9f\x98\x80");
	/* Lone surrogates and bad escapes: the document is refused. */
	ck_assert_int_eq(decode1("[\"\\ud83d\"]", 0, s, sizeof(s), &n),
	    CT_ERR_FORMAT);
	ck_assert_int_eq(decode1("[\"\\ude00\"]", 0, s, sizeof(s), &n),
	    CT_ERR_FORMAT);
	ck_assert_int_eq(decode1("[\"\\ud83d\\ud83d\"]", 0, s, sizeof(s), &n),
	    CT_ERR_FORMAT);
	ck_assert_int_eq(decode1("[\"\\a\"]", 0, s, sizeof(s), &n),
	    CT_ERR_FORMAT);
	/* \u0000 only when asked for. */
	ck_assert_int_eq(decode1("[\"a\\u0000b\"]", 0, s, sizeof(s), &n),
	    CT_ERR_FORMAT);
	ck_assert_int_eq(decode1("[\"a\\u0000b\"]", JSON_STR_ALLOW_NUL, s,
	                     sizeof(s), &n),
	    0);
	ck_assert_uint_eq(n, 3);
	ck_assert_mem_eq(s, "a\0b", 4);
	/* Output buffer: the NUL must fit too. */
	ck_assert_int_eq(decode1("[\"abcd\"]", 0, s, 4, &n), CT_ERR_TOO_BIG);
	ck_assert_int_eq(decode1("[\"abcd\"]", 0, s, 5, &n), 0);
	ck_assert_int_eq(decode1("[\"\\u00e9\"]", 0, s, 2, &n), CT_ERR_TOO_BIG);

	ck_assert_int_eq(parse("[\"x\\u00e9y\"]", &d), 0);
	ck_assert_int_eq(json_get_str_alloc(d, json_arr_get(d, JSON_ROOT, 0), 0,
	                     4, &p, &n),
	    0);
	ck_assert_uint_eq(n, 4);
	ck_assert_str_eq(p, "x\xc3\xa9y");
	free(p);
	ck_assert_int_eq(json_get_str_alloc(d, json_arr_get(d, JSON_ROOT, 0), 0,
	                     3, &p, &n),
	    CT_ERR_TOO_BIG);
	ck_assert_ptr_null(p);
	ck_assert(
	    json_str_eq(d, json_arr_get(d, JSON_ROOT, 0), "x\xc3\xa9y", 4));
	ck_assert(
	    !json_str_eq(d, json_arr_get(d, JSON_ROOT, 0), "x\xc3\xa9", 3));
	json_free(d);
}
END_TEST

START_TEST(test_keys)
{
	struct json_doc *d = NULL;
	const char *raw;
	size_t n;
	uint64_t v;

	/* Keys are compared after decoding, by length and bytes. */
	ck_assert_int_eq(parse("{\"k\\u0065y\":1,\"ke\":2,\"key2\":3,"
	                       "\"a\\/b\":4}",
	                     &d),
	    0);
	ck_assert_int_eq(json_get_u64(d, json_obj_get(d, JSON_ROOT, "key"), &v),
	    0);
	ck_assert_uint_eq(v, 1);
	ck_assert_int_eq(json_get_u64(d, json_obj_get(d, JSON_ROOT, "ke"), &v),
	    0);
	ck_assert_uint_eq(v, 2);
	ck_assert_int_eq(json_get_u64(d, json_obj_get(d, JSON_ROOT, "a/b"), &v),
	    0);
	ck_assert_uint_eq(v, 4);
	ck_assert_int_eq(json_obj_get(d, JSON_ROOT, "k"), CT_ERR_NOT_FOUND);
	ck_assert_int_eq(json_obj_get(d, JSON_ROOT, "key23"), CT_ERR_NOT_FOUND);
	ck_assert_int_eq(json_get_u64(d,
	                     json_obj_get_n(d, JSON_ROOT, "key2x", 4), &v),
	    0);
	ck_assert_uint_eq(v, 3);
	ck_assert_int_eq(json_get_raw(d, json_obj_get(d, JSON_ROOT, "key2"),
	                     &raw, &n),
	    0);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(raw[0], '3');
	json_free(d);

	/* A duplicate key, even spelt with an escape, is never shadowed. */
	ck_assert_int_eq(parse("{\"a\":1,\"b\":2,\"\\u0061\":3}", &d), 0);
	ck_assert_int_eq(json_obj_get(d, JSON_ROOT, "a"), CT_ERR_FORMAT);
	ck_assert_int_eq(json_get_u64(d, json_obj_get(d, JSON_ROOT, "b"), &v),
	    0);
	json_free(d);
}
END_TEST

/* The number at the root of s, through both integer getters. */
static void
numbers(const char *s, int want_u, uint64_t u_val, int want_i, int64_t i_val)
{
	struct json_doc *d = NULL;
	uint64_t u = 0;
	int64_t i = 0;

	ck_assert_msg(parse(s, &d) == 0, "%s", s);
	ck_assert_msg(json_get_u64(d, JSON_ROOT, &u) == want_u, "u64 %s", s);
	if (want_u == 0)
		ck_assert_uint_eq(u, u_val);
	ck_assert_msg(json_get_i64(d, JSON_ROOT, &i) == want_i, "i64 %s", s);
	if (want_i == 0)
		ck_assert_int_eq(i, i_val);
	json_free(d);
}

START_TEST(test_numbers)
{
	numbers("0", 0, 0, 0, 0);
	numbers("18446744073709551615", 0, UINT64_MAX, CT_ERR_TOO_BIG, 0);
	numbers("18446744073709551616", CT_ERR_TOO_BIG, 0, CT_ERR_TOO_BIG, 0);
	numbers("99999999999999999999999999", CT_ERR_TOO_BIG, 0, CT_ERR_TOO_BIG,
	    0);
	numbers("9223372036854775807", 0, INT64_MAX, 0, INT64_MAX);
	numbers("9223372036854775808", 0, (uint64_t)INT64_MAX + 1,
	    CT_ERR_TOO_BIG, 0);
	numbers("-9223372036854775808", CT_ERR_FORMAT, 0, 0, INT64_MIN);
	numbers("-9223372036854775809", CT_ERR_FORMAT, 0, CT_ERR_TOO_BIG, 0);
	numbers("-1", CT_ERR_FORMAT, 0, 0, -1);
	numbers("-0", CT_ERR_FORMAT, 0, 0, 0);
	numbers("1e3", CT_ERR_FORMAT, 0, CT_ERR_FORMAT, 0);
	numbers("1E3", CT_ERR_FORMAT, 0, CT_ERR_FORMAT, 0);
	numbers("10e-1", CT_ERR_FORMAT, 0, CT_ERR_FORMAT, 0);
	numbers("1.0", CT_ERR_FORMAT, 0, CT_ERR_FORMAT, 0);
	numbers("1396609800587", 0, 1396609800587ULL, 0, 1396609800587LL);
	/* Leading zeros are not JSON at all. */
	REJECT("01", CT_ERR_FORMAT);
	REJECT("[007]", CT_ERR_FORMAT);
	REJECT("-00", CT_ERR_FORMAT);
	REJECT("[+5]", CT_ERR_FORMAT);
}
END_TEST

START_TEST(test_base64)
{
	static const uint8_t want[4] = {0x00, 0x01, 0x02, 0xff};
	struct json_doc *d = NULL;
	uint8_t out[8], *p = NULL;
	size_t n;

	/* "\/" is a JSON escape of '/', decoded before base64. */
	ck_assert_int_eq(parse("[\"AAEC\\/w==\",\"AAEC/w\",\"\",\"AAEC!w==\","
	                       "\"AAEC/w==\"]",
	                     &d),
	    0);
	ck_assert_int_eq(json_get_b64(d, json_arr_get(d, JSON_ROOT, 0), out,
	                     sizeof(out), &n),
	    0);
	ck_assert_uint_eq(n, 4);
	ck_assert_mem_eq(out, want, 4);
	ck_assert_int_eq(json_get_b64_exact(d, json_arr_get(d, JSON_ROOT, 0),
	                     out, 4),
	    0);
	ck_assert_int_eq(json_get_b64_exact(d, json_arr_get(d, JSON_ROOT, 0),
	                     out, 3),
	    CT_ERR_FORMAT);
	ck_assert_int_eq(json_get_b64_exact(d, json_arr_get(d, JSON_ROOT, 0),
	                     out, 5),
	    CT_ERR_FORMAT);
	ck_assert_int_eq(json_get_b64(d, json_arr_get(d, JSON_ROOT, 0), out, 3,
	                     &n),
	    CT_ERR_TOO_BIG);
	/* No padding, bad character. */
	ck_assert_int_eq(json_get_b64(d, json_arr_get(d, JSON_ROOT, 1), out,
	                     sizeof(out), &n),
	    CT_ERR_FORMAT);
	ck_assert_int_eq(json_get_b64(d, json_arr_get(d, JSON_ROOT, 3), out,
	                     sizeof(out), &n),
	    CT_ERR_FORMAT);
	ck_assert_int_eq(json_get_b64(d, json_arr_get(d, JSON_ROOT, 2), out,
	                     sizeof(out), &n),
	    0);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(json_get_b64_alloc(d, json_arr_get(d, JSON_ROOT, 4),
	                     64, &p, &n),
	    0);
	ck_assert_uint_eq(n, 4);
	ck_assert_mem_eq(p, want, 4);
	free(p);
	json_free(d);
}
END_TEST

START_TEST(test_writer_exact)
{
	static const uint8_t bytes[3] = {0xfb, 0xff, 0x00};
	struct util_buf b;
	struct json_writer w;

	util_buf_init(&b, 4096);
	json_w_init(&w, &b);
	json_w_obj_begin(&w);
	json_w_key(&w, "a");
	json_w_arr_begin(&w);
	json_w_u64(&w, 1);
	json_w_i64(&w, -2);
	json_w_bool(&w, true);
	json_w_null(&w);
	json_w_arr_begin(&w);
	json_w_arr_end(&w);
	json_w_obj_begin(&w);
	json_w_obj_end(&w);
	json_w_arr_end(&w);
	json_w_key(&w, "s");
	json_w_str(&w, "q\"b\\n\n\x01\x7f");
	json_w_key(&w, "b");
	json_w_b64(&w, bytes, sizeof(bytes));
	json_w_obj_end(&w);
	ck_assert_int_eq(json_w_finish(&w, true), 0);
	json_w_arr_begin(&w);
	json_w_arr_end(&w);
	ck_assert_int_eq(json_w_finish(&w, false), 0);
	ck_assert_int_eq(util_buf_cstr(&b), 0);
	ck_assert_str_eq((char *)b.data,
	    "{\"a\":[1,-2,true,null,[],{}],\"s\":\"q\\\"b\\\\n\\n\\u0001\x7f\","
	    "\"b\":\"+/8A\"}\n[]");
	util_buf_clear(&b);
}
END_TEST

START_TEST(test_writer_roundtrip)
{
	/* Every byte value once, plus UTF-8 of several lengths. */
	static const char utf8[] = "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";
	static const char bad[] = "a\xff"
	                          "b\xc0\xaf"
	                          "c\xed\xa0\x80"
	                          "d\xe2\x82";
	uint8_t all[256], bin[300], out[300];
	char s[1024];
	struct util_buf b;
	struct json_writer w;
	struct json_doc *d = NULL;
	size_t i, n;
	uint64_t u;
	int64_t v;
	int t;

	for (i = 0; i < 256; i++)
		all[i] = (uint8_t)i;
	for (i = 0; i < sizeof(bin); i++)
		bin[i] = (uint8_t)(i * 7 + 3);
	util_buf_init(&b, 64 * 1024);
	json_w_init(&w, &b);
	json_w_obj_begin(&w);
	json_w_key(&w, "ascii");
	json_w_str_n(&w, (const char *)all + 1, 127); /* 0x01..0x7f */
	json_w_key(&w, "nul");
	json_w_str_n(&w, "x\0y", 3);
	json_w_key(&w, "utf8");
	json_w_str(&w, utf8);
	json_w_key(&w, "bad");
	json_w_str(&w, bad);
	json_w_key_n(&w, "k\"\\\n", 4);
	json_w_u64(&w, UINT64_MAX);
	json_w_key(&w, "min");
	json_w_i64(&w, INT64_MIN);
	json_w_key(&w, "bin");
	json_w_b64(&w, bin, sizeof(bin));
	json_w_key(&w, "empty");
	json_w_b64(&w, NULL, 0);
	json_w_obj_end(&w);
	ck_assert_int_eq(json_w_finish(&w, true), 0);

	ck_assert_int_eq(json_parse((char *)b.data, b.len, NULL, &d), 0);
	t = json_obj_get(d, JSON_ROOT, "ascii");
	ck_assert_int_eq(json_get_str(d, t, 0, s, sizeof(s), &n), 0);
	ck_assert_uint_eq(n, 127);
	ck_assert_mem_eq(s, all + 1, 127);
	t = json_obj_get(d, JSON_ROOT, "nul");
	ck_assert_int_eq(json_get_str(d, t, JSON_STR_ALLOW_NUL, s, sizeof(s),
	                     &n),
	    0);
	ck_assert_uint_eq(n, 3);
	ck_assert_mem_eq(s, "x\0y", 3);
	ck_assert(json_str_eq(d, json_obj_get(d, JSON_ROOT, "utf8"), utf8,
	    strlen(utf8)));
	/* Bytes that are not UTF-8 come back as U+00XX. */
	ck_assert_int_eq(json_get_str(d, json_obj_get(d, JSON_ROOT, "bad"), 0,
	                     s, sizeof(s), &n),
	    0);
	ck_assert_str_eq(s,
	    "a\xc3\xbf"
	    "b\xc3\x80\xc2\xaf"
	    "c\xc3\xad\xc2\xa0\xc2\x80"
	    "d\xc3\xa2\xc2\x82");
	ck_assert_int_eq(json_get_u64(d,
	                     json_obj_get_n(d, JSON_ROOT, "k\"\\\n", 4), &u),
	    0);
	ck_assert_uint_eq(u, UINT64_MAX);
	ck_assert_int_eq(json_get_i64(d, json_obj_get(d, JSON_ROOT, "min"), &v),
	    0);
	ck_assert_int_eq(v, INT64_MIN);
	ck_assert_int_eq(json_get_b64(d, json_obj_get(d, JSON_ROOT, "bin"), out,
	                     sizeof(out), &n),
	    0);
	ck_assert_uint_eq(n, sizeof(bin));
	ck_assert_mem_eq(out, bin, sizeof(bin));
	ck_assert_int_eq(json_get_b64(d, json_obj_get(d, JSON_ROOT, "empty"),
	                     out, sizeof(out), &n),
	    0);
	ck_assert_uint_eq(n, 0);
	json_free(d);
	util_buf_clear(&b);
}
END_TEST

START_TEST(test_writer_misuse)
{
	struct util_buf b;
	struct json_writer w;
	size_t i;

	util_buf_init(&b, 4096);
	/* A value in an object needs a key. */
	json_w_init(&w, &b);
	json_w_obj_begin(&w);
	ck_assert_int_eq(json_w_u64(&w, 1), CT_ERR_INVALID);
	ck_assert_int_eq(json_w_finish(&w, false), CT_ERR_INVALID);
	/* A key outside an object. */
	json_w_init(&w, &b);
	json_w_arr_begin(&w);
	ck_assert_int_eq(json_w_key(&w, "k"), CT_ERR_INVALID);
	/* Two keys in a row. */
	json_w_init(&w, &b);
	json_w_obj_begin(&w);
	json_w_key(&w, "k");
	ck_assert_int_eq(json_w_key(&w, "k"), CT_ERR_INVALID);
	/* Ends that do not match, and an end with a key pending. */
	json_w_init(&w, &b);
	json_w_obj_begin(&w);
	ck_assert_int_eq(json_w_arr_end(&w), CT_ERR_INVALID);
	json_w_init(&w, &b);
	json_w_obj_begin(&w);
	json_w_key(&w, "k");
	ck_assert_int_eq(json_w_obj_end(&w), CT_ERR_INVALID);
	json_w_init(&w, &b);
	ck_assert_int_eq(json_w_arr_end(&w), CT_ERR_INVALID);
	/* Unfinished, empty, and a second root before finish. */
	json_w_init(&w, &b);
	json_w_arr_begin(&w);
	ck_assert_int_eq(json_w_finish(&w, false), CT_ERR_INVALID);
	json_w_init(&w, &b);
	ck_assert_int_eq(json_w_finish(&w, false), CT_ERR_INVALID);
	json_w_init(&w, &b);
	json_w_null(&w);
	ck_assert_int_eq(json_w_null(&w), CT_ERR_INVALID);
	/* Too deep. */
	json_w_init(&w, &b);
	for (i = 0; i < JSON_MAX_DEPTH; i++)
		ck_assert_int_eq(json_w_arr_begin(&w), 0);
	ck_assert_int_eq(json_w_arr_begin(&w), CT_ERR_INVALID);
	/* The error sticks. */
	ck_assert_int_eq(json_w_arr_end(&w), CT_ERR_INVALID);
	util_buf_clear(&b);

	/* The buffer's cap. */
	util_buf_init(&b, 8);
	json_w_init(&w, &b);
	json_w_arr_begin(&w);
	json_w_str(&w, "abc");
	ck_assert_int_eq(json_w_str(&w, "defgh"), CT_ERR_TOO_BIG);
	ck_assert_int_eq(json_w_arr_end(&w), CT_ERR_TOO_BIG);
	ck_assert_int_eq(json_w_finish(&w, false), CT_ERR_TOO_BIG);
	util_buf_clear(&b);
	util_buf_init(&b, 8);
	json_w_init(&w, &b);
	ck_assert_int_eq(json_w_b64(&w, (const uint8_t *)"abcdef", 6),
	    CT_ERR_TOO_BIG);
	util_buf_clear(&b);
}
END_TEST

/* An API body that must be a JSON array: each failure says why. */
START_TEST(test_array_body)
{
	static const struct {
		const char *body;
		int rc;
		const char *why;
	} cases[] = {
	    {"", CT_ERR_TRUNCATED, "empty response"},
	    {" \r\n", CT_ERR_TRUNCATED, "empty response"},
	    {"<html>busy</html>", CT_ERR_FORMAT, "response is HTML, not JSON"},
	    {"[{\"id\":1", CT_ERR_TRUNCATED, "response is cut short"},
	    {"{\"a\":1}", CT_ERR_FORMAT,
	        "response is a JSON object, not an array"},
	    {"tru", CT_ERR_FORMAT, "response is not JSON"},
	    {"[1,2]", 0, ""},
	};
	struct json_doc *d;
	char why[128];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = json_parse_array_body(cases[i].body,
		    strlen(cases[i].body), 1024, &d, why, sizeof(why));

		ck_assert_msg(rc == cases[i].rc, "case %zu: %d", i, rc);
		ck_assert_msg(strncmp(why, cases[i].why,
		                  strlen(cases[i].why)) == 0,
		    "case %zu: %s", i, why);
		if (rc == 0) {
			ck_assert_int_eq(json_size(d, JSON_ROOT), 2);
			json_free(d);
		} else {
			ck_assert_ptr_null(d);
		}
	}
	/* The byte cap. */
	ck_assert_int_eq(json_parse_array_body("[1,2,3]", 7, 4, &d, why,
	                     sizeof(why)),
	    CT_ERR_TOO_BIG);
	ck_assert_str_eq(why, "response over the JSON caps");
}
END_TEST

static Suite *
json_suite(void)
{
	Suite *s = suite_create("json");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_valid_types);
	tcase_add_test(tc, test_nested_document);
	tcase_add_test(tc, test_sth_fixture);
	tcase_add_test(tc, test_strict_gaps_rejected);
	tcase_add_test(tc, test_trailing_and_empty);
	tcase_add_test(tc, test_unterminated);
	tcase_add_test(tc, test_cut_inside_string);
	tcase_add_test(tc, test_string_every_place);
	tcase_add_test(tc, test_str_plain);
	tcase_add_test(tc, test_truncated_every_length);
	tcase_add_test(tc, test_depth_cap);
	tcase_add_test(tc, test_token_cap);
	tcase_add_test(tc, test_byte_cap);
	tcase_add_test(tc, test_wrong_types);
	tcase_add_test(tc, test_escapes);
	tcase_add_test(tc, test_keys);
	tcase_add_test(tc, test_numbers);
	tcase_add_test(tc, test_base64);
	tcase_add_test(tc, test_writer_exact);
	tcase_add_test(tc, test_writer_roundtrip);
	tcase_add_test(tc, test_writer_misuse);
	tcase_add_test(tc, test_array_body);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return testutil_run(json_suite());
}
