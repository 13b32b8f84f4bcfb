/*
 * json: a jsmn wrapper with caps, full validation and typed getters, and a
 * small escaping writer over util_buf.
 *
 * Reading. json_parse() tokenises with jsmn (strict mode) and then walks
 * every token against the input bytes, so a document is accepted only when
 * it is valid RFC 8259 JSON: primitives must be exactly true, false, null
 * or a number in JSON grammar; commas and colons must sit where the grammar
 * puts them; strings must be valid UTF-8 with valid escapes (a \u escape
 * of a surrogate must be a proper pair) and no raw control bytes; nothing
 * but whitespace may follow the root value; NUL bytes are refused. Input
 * size, token count and nesting depth are capped.
 *
 * Values are named by token index (int). JSON_ROOT is the root value.
 * Every function that takes a token index returns a negative index
 * unchanged (or false / JSON_NONE where it returns bool or a type), so
 * lookups chain:
 *	rc = json_get_u64(d, json_obj_get(d, JSON_ROOT, "tree_size"), &n);
 * gives CT_ERR_NOT_FOUND when the member is missing and CT_ERR_FORMAT when
 * it has the wrong type.
 *
 * Writing. struct json_writer appends compact JSON to a util_buf and puts
 * commas and colons in by itself; see json_w_str() for how it escapes.
 */
#ifndef CT_JSON_H
#define CT_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

/* Default caps of json_parse() (struct json_limits overrides them). */
#define JSON_MAX_BYTES (16 * 1024 * 1024)
#define JSON_MAX_TOKENS (1024 * 1024)
#define JSON_MAX_DEPTH 64 /* containers nested in one another */

/* No override goes past these (jsmn offsets are int). */
#define JSON_HARD_MAX_BYTES (512 * 1024 * 1024)
#define JSON_HARD_MAX_TOKENS (16 * 1024 * 1024)
#define JSON_HARD_MAX_DEPTH 256

#define JSON_ROOT 0

enum json_type {
	JSON_NONE, /* no such token */
	JSON_OBJECT,
	JSON_ARRAY,
	JSON_STRING,
	JSON_NUMBER,
	JSON_BOOL,
	JSON_NULL,
	JSON__MAX
};

extern const char *const json_type_names[JSON__MAX];

/* Per-parse caps; a zero field takes the default above. */
struct json_limits {
	size_t max_bytes;
	size_t max_tokens;
	unsigned max_depth;
};

/* A parsed document. It points into the caller's input buffer. */
struct json_doc;

/*
 * Parses len bytes of buf. buf is borrowed: it must stay unchanged until
 * json_free(). lim may be NULL for the defaults. Returns 0, or
 * CT_ERR_TOO_BIG (input, tokens or depth past a cap), CT_ERR_TRUNCATED
 * (the input ends inside a value, or holds none), CT_ERR_TRAILING (bytes
 * after the root value), CT_ERR_FORMAT (anything else that is not JSON),
 * CT_ERR_NOMEM or CT_ERR_INVALID.
 */
int json_parse(const char *buf, size_t len, const struct json_limits *lim,
    struct json_doc **out);
void json_free(struct json_doc *d);

/*
 * For a web API's answer that must be a JSON array (crt.sh, Cert
 * Spotter): json_parse with a byte cap, plus a reason a person can act on
 * in why (sanitised): "empty response", "response is HTML, not JSON",
 * "response is cut short", "response over the JSON caps", "response is not
 * JSON (...)", "response is a JSON object, not an array". Returns as
 * json_parse; CT_ERR_FORMAT when the root is not an array (no document
 * is then returned).
 */
int json_parse_array_body(const char *body, size_t len, size_t max_bytes,
    struct json_doc **out, char *why, size_t whysz);

/* Number of tokens (a key counts as one token, its value as another). */
size_t json_ntokens(const struct json_doc *d);

/* The type of token t; JSON_NONE when t is no token. */
enum json_type json_type(const struct json_doc *d, int t);
/* t when it has type want; CT_ERR_FORMAT when not; t when t < 0. */
int json_expect(const struct json_doc *d, int t, enum json_type want);

/* Members of an object or elements of an array; CT_ERR_FORMAT otherwise. */
int json_size(const struct json_doc *d, int t);

/*
 * The value of member key (keylen bytes, compared by length and memcmp
 * with the member's key after its escapes are decoded). CT_ERR_FORMAT when
 * obj is not an object or holds key twice (every member is looked at, so
 * a duplicate can never be silently shadowed); CT_ERR_NOT_FOUND when key
 * is absent.
 */
int json_obj_get_n(const struct json_doc *d, int obj, const char *key,
    size_t keylen);
/* As json_obj_get_n with a NUL-terminated key. */
int json_obj_get(const struct json_doc *d, int obj, const char *key);

/* Element i of an array (linear in i); CT_ERR_NOT_FOUND past the end. */
int json_arr_get(const struct json_doc *d, int arr, size_t i);

/*
 * Iteration:
 *	struct json_iter it;
 *	int e;
 *	if ((rc = json_iter_arr(d, arr, &it)) < 0) ...
 *	while (json_iter_next(&it, &e)) ...
 * and for objects json_iter_obj() with json_iter_next_member().
 */
struct json_iter {
	const struct json_doc *doc;
	int next;     /* token of the next element, or of the next key */
	size_t left;  /* elements or members still to come */
	bool members; /* iterating an object */
};

int json_iter_arr(const struct json_doc *d, int arr, struct json_iter *it);
int json_iter_obj(const struct json_doc *d, int obj, struct json_iter *it);
bool json_iter_next(struct json_iter *it, int *elem);
bool json_iter_next_member(struct json_iter *it, int *key, int *val);

/* Flags of the string getters. */
#define JSON_STR_ALLOW_NUL 0x1 /* accept \u0000 (otherwise CT_ERR_FORMAT) */

/*
 * Decodes string token t (a value or a key) to UTF-8 in out, with a NUL
 * after it. outlen (may be NULL) receives the length without the NUL.
 * CT_ERR_FORMAT when t is not a string or holds \u0000 without
 * JSON_STR_ALLOW_NUL; CT_ERR_TOO_BIG when it does not fit in outsz bytes
 * with its NUL.
 */
int json_get_str(const struct json_doc *d, int t, unsigned flags, char *out,
    size_t outsz, size_t *outlen);
/*
 * As json_get_str into a malloc'd buffer (the caller frees it) of at most
 * max_bytes decoded bytes plus the NUL; CT_ERR_TOO_BIG beyond.
 */
int json_get_str_alloc(const struct json_doc *d, int t, unsigned flags,
    size_t max_bytes, char **out, size_t *outlen);
/* True when t is a string whose decoded value is exactly s (n bytes). */
bool json_str_eq(const struct json_doc *d, int t, const char *s, size_t n);
/*
 * The value of string token t without a copy, when it has no escape: true
 * with *p and *n a view into the buffer given to json_parse(); its raw
 * text is then exactly its decoded value (valid UTF-8, no NUL). False,
 * with *p and *n untouched, when t is no string or holds an escape (decode
 * it with json_get_str).
 */
bool json_str_plain(const struct json_doc *d, int t, const char **p, size_t *n);

/*
 * The raw text of token t, a view into the buffer given to json_parse():
 * a string's bytes between the quotes with escapes undecoded, a number's
 * digits, or a container's whole text.
 */
int json_get_raw(const struct json_doc *d, int t, const char **p, size_t *n);

/*
 * Integers: the number must be written as a plain integer (no fraction,
 * no exponent; JSON already forbids leading zeros). CT_ERR_FORMAT for any
 * other form, for a negative number given to json_get_u64, or for a token
 * that is no number; CT_ERR_TOO_BIG when the value is out of range.
 */
int json_get_u64(const struct json_doc *d, int t, uint64_t *out);
int json_get_i64(const struct json_doc *d, int t, int64_t *out);
int json_get_bool(const struct json_doc *d, int t, bool *out);
bool json_is_null(const struct json_doc *d, int t);

/*
 * Base64 (standard alphabet, padding required) in string token t, decoded
 * after its JSON escapes (a writer may send "\/"). Returns 0 with the
 * number of bytes in *outlen; CT_ERR_TOO_BIG when they do not fit outsz;
 * CT_ERR_FORMAT for a non-string or bad base64.
 */
int json_get_b64(const struct json_doc *d, int t, uint8_t *out, size_t outsz,
    size_t *outlen);
/* As json_get_b64, but exactly n bytes must come out (CT_ERR_FORMAT). */
int json_get_b64_exact(const struct json_doc *d, int t, uint8_t *out, size_t n);
/* As json_get_b64 into a malloc'd buffer of at most max_bytes. */
int json_get_b64_alloc(const struct json_doc *d, int t, size_t max_bytes,
    uint8_t **out, size_t *outlen);

/*
 * Writer. Every call returns 0 or a negative ct_err; the first error is
 * kept and returned by every later call and by json_w_finish(), so a
 * caller may check only the end. CT_ERR_INVALID marks misuse (a value in
 * an object without a key, a key in an array, unbalanced ends, a second
 * root value before json_w_finish, nesting past JSON_MAX_DEPTH). The
 * buffer's own cap gives CT_ERR_TOO_BIG.
 */
struct json_writer {
	struct util_buf *buf;
	int err;
	unsigned depth;
	bool need_comma; /* the current container already holds a value */
	bool have_key;   /* a key awaits its value */
	bool root_done;  /* a whole root value was written */
	char stack[JSON_MAX_DEPTH];
};

void json_w_init(struct json_writer *w, struct util_buf *buf);
int json_w_obj_begin(struct json_writer *w);
int json_w_obj_end(struct json_writer *w);
int json_w_arr_begin(struct json_writer *w);
int json_w_arr_end(struct json_writer *w);
int json_w_key(struct json_writer *w, const char *key);
int json_w_key_n(struct json_writer *w, const char *key, size_t n);
/*
 * Strings are written as UTF-8 with '"' and '\' escaped, control bytes as
 * \b \f \n \r \t or \u00XX, and valid UTF-8 sequences copied as they are.
 * A byte that does not begin a valid UTF-8 sequence (a stray continuation
 * byte, an overlong form, an encoded surrogate, a truncated sequence) is
 * written as \u00XX of that byte, i.e. read as Latin-1: the output is
 * always valid JSON, no byte is dropped, and a reader gets U+00XX back.
 */
int json_w_str(struct json_writer *w, const char *s);
int json_w_str_n(struct json_writer *w, const char *s, size_t n);
int json_w_u64(struct json_writer *w, uint64_t v);
int json_w_i64(struct json_writer *w, int64_t v);
int json_w_bool(struct json_writer *w, bool v);
int json_w_null(struct json_writer *w);
/* A string holding the standard base64 (with padding) of n bytes. */
int json_w_b64(struct json_writer *w, const uint8_t *p, size_t n);
/*
 * Ends one root value: CT_ERR_INVALID unless exactly one whole value was
 * written. Adds '\n' when newline is set. The writer is then ready for
 * the next root value (JSON lines).
 */
int json_w_finish(struct json_writer *w, bool newline);

#endif
