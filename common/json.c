/*
 * json: jsmn in strict mode for tokens, then our own walk over the bytes
 * that checks everything jsmn does not (see json.h). This is the only
 * translation unit that includes jsmn.h.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSMN_STRICT
#define JSMN_PARENT_LINKS
#include <jsmn.h>

#include "json.h"
#include "util.h"

#if JSON_HARD_MAX_BYTES >= INT_MAX
#error "jsmn offsets are int: JSON_HARD_MAX_BYTES must stay below INT_MAX"
#endif
#if JSON_HARD_MAX_TOKENS >= INT_MAX / 2
#error "token indices are int: JSON_HARD_MAX_TOKENS too large"
#endif
#if JSON_MAX_DEPTH > JSON_HARD_MAX_DEPTH
#error "JSON_MAX_DEPTH above JSON_HARD_MAX_DEPTH"
#endif

#define JSON_FIRST_TOKENS 64 /* first token array; doubled on NOMEM */

const char *const json_type_names[JSON__MAX] = {
    [JSON_NONE] = "none",
    [JSON_OBJECT] = "object",
    [JSON_ARRAY] = "array",
    [JSON_STRING] = "string",
    [JSON_NUMBER] = "number",
    [JSON_BOOL] = "bool",
    [JSON_NULL] = "null",
};

/* Our token: jsmn's, checked, typed, and with the index past its subtree. */
struct json_tok {
	uint8_t type;   /* enum json_type */
	bool escaped;   /* a string with a backslash escape in it */
	uint32_t start; /* first byte (of a string: after the quote) */
	uint32_t end;  /* past the last byte (of a string: its closing quote) */
	uint32_t size; /* members of an object, elements of an array */
	uint32_t next; /* the token after this value and all it holds */
};

struct json_doc {
	const char *js; /* the caller's buffer */
	size_t len;
	struct json_tok *tok;
	size_t ntok;
};

/* ------------------------------------------------------------ strings */

static bool
is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static size_t
skip_ws(const char *js, size_t len, size_t pos)
{
	while (pos < len && is_ws(js[pos]))
		pos++;
	return pos;
}

static int
hex4(const char *s, uint32_t *out)
{
	uint32_t v = 0;
	int i;
	char c;

	for (i = 0; i < 4; i++) {
		c = s[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (uint32_t)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (uint32_t)(c - 'A' + 10);
		else
			return CT_ERR_FORMAT;
	}
	*out = v;
	return 0;
}

/*
 * Length of the valid UTF-8 sequence at s (at most n bytes), or 0 when
 * the bytes there are not one (RFC 3629: no overlong forms, no encoded
 * surrogates, nothing above U+10FFFF).
 */
static size_t
utf8_seq(const uint8_t *s, size_t n, uint32_t *cp)
{
	uint8_t c = s[0];
	uint8_t lo = 0x80, hi = 0xbf;
	size_t need, i;
	uint32_t v;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		need = 1;
		v = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		need = 2;
		v = c & 0x0f;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 3;
		v = c & 0x07;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else {
		return 0;
	}
	if (n < need + 1)
		return 0;
	for (i = 1; i <= need; i++) {
		if (s[i] < lo || s[i] > hi)
			return 0;
		lo = 0x80;
		hi = 0xbf;
		v = v << 6 | (s[i] & 0x3f);
	}
	*cp = v;
	return need + 1;
}

static size_t
utf8_put(uint32_t cp, uint8_t out[4])
{
	if (cp < 0x80) {
		out[0] = (uint8_t)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (uint8_t)(0xc0 | cp >> 6);
		out[1] = (uint8_t)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (uint8_t)(0xe0 | cp >> 12);
		out[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
		out[2] = (uint8_t)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (uint8_t)(0xf0 | cp >> 18);
	out[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3f));
	out[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
	out[3] = (uint8_t)(0x80 | (cp & 0x3f));
	return 4;
}

/*
 * Decodes one character of the raw string s (n bytes, between the quotes)
 * at *i into UTF-8 in out; returns its length (1..4) and advances *i, or
 * returns CT_ERR_FORMAT for a raw control byte, a bad escape, a lone or
 * reversed surrogate, or invalid UTF-8. \u0000 yields a NUL byte.
 */
static int
str_next(const char *s, size_t n, size_t *i, uint8_t out[4])
{
	const uint8_t *u = (const uint8_t *)s;
	size_t p = *i, k;
	uint32_t cp, lo;

	if (u[p] < 0x20 || u[p] == '"')
		return CT_ERR_FORMAT;
	if (u[p] != '\\') {
		if ((k = utf8_seq(u + p, n - p, &cp)) == 0)
			return CT_ERR_FORMAT;
		memcpy(out, u + p, k);
		*i = p + k;
		return (int)k;
	}
	if (p + 1 >= n)
		return CT_ERR_FORMAT;
	switch (s[p + 1]) {
	case '"':
	case '\\':
	case '/':
		out[0] = (uint8_t)s[p + 1];
		break;
	case 'b':
		out[0] = '\b';
		break;
	case 'f':
		out[0] = '\f';
		break;
	case 'n':
		out[0] = '\n';
		break;
	case 'r':
		out[0] = '\r';
		break;
	case 't':
		out[0] = '\t';
		break;
	case 'u':
		if (n - p < 6 || hex4(s + p + 2, &cp) != 0)
			return CT_ERR_FORMAT;
		p += 6;
		if (cp >= 0xdc00 && cp <= 0xdfff)
			return CT_ERR_FORMAT; /* low surrogate first */
		if (cp >= 0xd800 && cp <= 0xdbff) {
			if (n - p < 6 || s[p] != '\\' || s[p + 1] != 'u' ||
			    hex4(s + p + 2, &lo) != 0 || lo < 0xdc00 ||
			    lo > 0xdfff)
				return CT_ERR_FORMAT; /* lone high surrogate */
			cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			p += 6;
		}
		*i = p;
		return (int)utf8_put(cp, out);
	default:
		return CT_ERR_FORMAT;
	}
	*i = p + 2;
	return 1;
}

/* ASCII other than controls, '"' and '\\': a byte that stands for itself. */
#define PLAIN(c) ((c) >= 0x20 && (c) < 0x80 && (c) != '"' && (c) != '\\')
#define PLAIN4(c) PLAIN(c), PLAIN((c) + 1), PLAIN((c) + 2), PLAIN((c) + 3)
#define PLAIN16(c) PLAIN4(c), PLAIN4((c) + 4), PLAIN4((c) + 8), PLAIN4((c) + 12)
#define PLAIN64(c)                                                             \
	PLAIN16(c), PLAIN16((c) + 16), PLAIN16((c) + 32), PLAIN16((c) + 48)
static const bool plain_byte[256] = {PLAIN64(0), PLAIN64(64), PLAIN64(128),
    PLAIN64(192)};

static bool
is_plain(uint8_t c)
{
	return plain_byte[c];
}

#define BYTES_01 UTIL_BYTES_01
#define BYTES_80 UTIL_BYTES_80

/*
 * The top bit of each byte of v (as util_load_le64 gives it) that is not
 * is_plain(): set, per byte, by its own top bit, by a borrow out of
 * byte - 0x20 (a control), or by a zero byte after XOR with '"' or '\\'.
 * A borrow only runs upwards from a byte that is itself flagged, so the
 * lowest flag always marks the first byte that is not plain, and none is
 * missed below it; flags above it may be false and are never used.
 */
static uint64_t
word_not_plain(uint64_t v)
{
	uint64_t q = v ^ (BYTES_01 * '"'), b = v ^ (BYTES_01 * '\\');

	return (v | ((v - BYTES_01 * 0x20) & ~v) | ((q - BYTES_01) & ~q) |
	           ((b - BYTES_01) & ~b)) &
	    BYTES_80;
}

/* The first byte of u at or after i (up to n) that is not is_plain(). */
static size_t
skip_plain(const uint8_t *u, size_t i, size_t n)
{
	uint64_t m;

	while (n - i >= 8) {
		if ((m = word_not_plain(util_load_le64(u + i))) != 0)
			return i + (size_t)__builtin_ctzll(m) / 8;
		i += 8;
	}
	/* Fewer than 8 left: the word that ends at n, when there is one,
	 * shifted down to start at i. The zero bytes shifted in at the top
	 * stand for n and past: a zero byte is never plain. */
	if (i < n && n >= 8) {
		m = word_not_plain(
		    util_load_le64(u + n - 8) >> 8 * (i - (n - 8)));
		return i + (size_t)__builtin_ctzll(m) / 8;
	}
	while (i < n && is_plain(u[i]))
		i++;
	return i;
}

/* Checks a whole raw string; *esc tells whether it holds an escape. */
static int
str_check(const char *s, size_t n, bool *esc)
{
	const uint8_t *u = (const uint8_t *)s;
	uint8_t tmp[4];
	size_t i = 0;
	int k;

	*esc = false;
	while (i < n) {
		/* Plain bytes are what str_next would accept without looking
		 * further; every other byte goes through it. */
		if ((i = skip_plain(u, i, n)) >= n)
			break;
		if (u[i] == '\\')
			*esc = true;
		if ((k = str_next(s, n, &i, tmp)) < 0)
			return k;
	}
	return 0;
}

/* ---------------------------------------------------------- primitives */

/* RFC 8259 number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool
num_valid(const char *s, size_t n)
{
	size_t i = 0, d;

	if (i < n && s[i] == '-')
		i++;
	if (i >= n)
		return false;
	if (s[i] == '0') {
		i++;
	} else if (s[i] >= '1' && s[i] <= '9') {
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
	} else {
		return false;
	}
	if (i < n && s[i] == '.') {
		for (d = ++i; i < n && s[i] >= '0' && s[i] <= '9'; i++)
			;
		if (i == d)
			return false;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		for (d = i; i < n && s[i] >= '0' && s[i] <= '9'; i++)
			;
		if (i == d)
			return false;
	}
	return i == n;
}

/* The type of a primitive's text, or JSON_NONE when it is not one. */
static enum json_type
prim_type(const char *s, size_t n)
{
	if (n == 4 && memcmp(s, "true", 4) == 0)
		return JSON_BOOL;
	if (n == 5 && memcmp(s, "false", 5) == 0)
		return JSON_BOOL;
	if (n == 4 && memcmp(s, "null", 4) == 0)
		return JSON_NULL;
	if (num_valid(s, n))
		return JSON_NUMBER;
	return JSON_NONE;
}

/* ------------------------------------------------------------- parsing */

/*
 * Runs jsmn, growing the token array (keeping the tokens already filled,
 * with the same parser) up to max_tokens.
 */
static int
tokenize(const char *js, size_t len, size_t max_tokens, jsmntok_t **out,
    size_t *ntok)
{
	jsmn_parser p;
	jsmntok_t *toks = NULL, *nt;
	size_t cap, ncap;
	int r, rc = 0;

	*out = NULL;
	*ntok = 0;
	cap = max_tokens < JSON_FIRST_TOKENS ? max_tokens : JSON_FIRST_TOKENS;
	if ((toks = calloc(cap, sizeof(*toks))) == NULL)
		return CT_ERR_NOMEM;
	jsmn_init(&p);
	for (;;) {
		r = jsmn_parse(&p, js, len, toks, (unsigned)cap);
		if (r != JSMN_ERROR_NOMEM)
			break;
		if (cap >= max_tokens) {
			rc = CT_ERR_TOO_BIG;
			goto out;
		}
		ncap = cap > max_tokens / 2 ? max_tokens : cap * 2;
		if ((nt = realloc(toks, ncap * sizeof(*toks))) == NULL) {
			rc = CT_ERR_NOMEM;
			goto out;
		}
		toks = nt;
		cap = ncap;
	}
	if (r == JSMN_ERROR_PART)
		rc = CT_ERR_TRUNCATED;
	else if (r < 0)
		rc = CT_ERR_FORMAT;
	else if (r == 0)
		rc = CT_ERR_TRUNCATED;
	else if ((size_t)r > cap)
		rc = CT_ERR_FORMAT; /* cannot happen with a token array */
	if (rc == 0) {
		*out = toks;
		*ntok = (size_t)r;
		toks = NULL;
	}
out:
	free(toks);
	return rc;
}

struct walk {
	const char *js;
	size_t len;
	const jsmntok_t *jt;
	size_t n;
	struct json_tok *t;
	unsigned max_depth;
};

/* Checks that jsmn token i spans sane offsets. */
static bool
span_ok(const struct walk *w, size_t i)
{
	const jsmntok_t *j = &w->jt[i];

	return j->start >= 0 && j->end >= j->start && (size_t)j->end <= w->len;
}

/* String token i (a key when key is set) must begin at byte pos. */
static int
walk_string(struct walk *w, size_t i, size_t pos, bool key, size_t *after)
{
	const jsmntok_t *j = &w->jt[i];
	bool esc;
	int rc;

	if (i >= w->n || j->type != JSMN_STRING || !span_ok(w, i))
		return CT_ERR_FORMAT;
	if (j->start < 1 || (size_t)j->start - 1 != pos ||
	    (size_t)j->end >= w->len || w->js[j->end] != '"')
		return CT_ERR_FORMAT;
	/* jsmn counts a key's value in the key's size. */
	if (j->size != (key ? 1 : 0))
		return CT_ERR_FORMAT;
	if ((rc = str_check(w->js + j->start, (size_t)(j->end - j->start),
	         &esc)) < 0)
		return rc;
	w->t[i].type = JSON_STRING;
	w->t[i].escaped = esc;
	w->t[i].start = (uint32_t)j->start;
	w->t[i].end = (uint32_t)j->end;
	w->t[i].size = 0;
	w->t[i].next = (uint32_t)(i + 1);
	*after = (size_t)j->end + 1;
	return 0;
}

static int walk_value(struct walk *w, size_t *idx, size_t *pos, unsigned depth);

/* The members or elements of container token *idx, from byte after '{'. */
static int
walk_container(struct walk *w, size_t *idx, size_t *pos, unsigned depth)
{
	const jsmntok_t *j = &w->jt[*idx];
	bool obj = j->type == JSMN_OBJECT;
	size_t i = *idx + 1, p = (size_t)j->start + 1;
	int k, rc;

	if (depth + 1 > w->max_depth)
		return CT_ERR_TOO_BIG;
	if (j->size < 0 || (size_t)j->size > w->n)
		return CT_ERR_FORMAT;
	for (k = 0; k < j->size; k++) {
		p = skip_ws(w->js, w->len, p);
		if (k > 0) {
			if (p >= w->len || w->js[p] != ',')
				return CT_ERR_FORMAT;
			p = skip_ws(w->js, w->len, p + 1);
		}
		if (obj) {
			if ((rc = walk_string(w, i, p, true, &p)) < 0)
				return rc;
			i++;
			p = skip_ws(w->js, w->len, p);
			if (p >= w->len || w->js[p] != ':')
				return CT_ERR_FORMAT;
			p++;
		}
		if ((rc = walk_value(w, &i, &p, depth + 1)) < 0)
			return rc;
	}
	p = skip_ws(w->js, w->len, p);
	if (p + 1 != (size_t)j->end || w->js[p] != (obj ? '}' : ']'))
		return CT_ERR_FORMAT;
	w->t[*idx].type = obj ? JSON_OBJECT : JSON_ARRAY;
	w->t[*idx].start = (uint32_t)j->start;
	w->t[*idx].end = (uint32_t)j->end;
	w->t[*idx].size = (uint32_t)j->size;
	w->t[*idx].next = (uint32_t)i;
	*idx = i;
	*pos = (size_t)j->end;
	return 0;
}

/*
 * Checks the value whose token is *idx and which must begin at the first
 * non-blank byte at or after *pos; advances both past it. depth counts
 * the containers around it.
 */
static int
walk_value(struct walk *w, size_t *idx, size_t *pos, unsigned depth)
{
	size_t i = *idx, p = skip_ws(w->js, w->len, *pos);
	const jsmntok_t *j;
	enum json_type ty;
	int rc;

	if (i >= w->n || !span_ok(w, i))
		return CT_ERR_FORMAT;
	j = &w->jt[i];
	switch (j->type) {
	case JSMN_STRING:
		if ((rc = walk_string(w, i, p, false, pos)) < 0)
			return rc;
		*idx = i + 1;
		return 0;
	case JSMN_PRIMITIVE:
		if ((size_t)j->start != p || j->size != 0)
			return CT_ERR_FORMAT;
		ty = prim_type(w->js + j->start, (size_t)(j->end - j->start));
		if (ty == JSON_NONE)
			return CT_ERR_FORMAT;
		w->t[i].type = (uint8_t)ty;
		w->t[i].start = (uint32_t)j->start;
		w->t[i].end = (uint32_t)j->end;
		w->t[i].size = 0;
		w->t[i].next = (uint32_t)(i + 1);
		*idx = i + 1;
		*pos = (size_t)j->end;
		return 0;
	case JSMN_OBJECT:
	case JSMN_ARRAY:
		if ((size_t)j->start != p)
			return CT_ERR_FORMAT;
		return walk_container(w, idx, pos, depth);
	default:
		return CT_ERR_FORMAT;
	}
}

/*
 * A root that is a bare primitive: jsmn's strict mode wants a delimiter
 * after a primitive, so it is handled here.
 */
static int
parse_root_primitive(struct json_doc *d, size_t p)
{
	size_t e = p;
	enum json_type ty;

	while (e < d->len && !is_ws(d->js[e]))
		e++;
	if ((ty = prim_type(d->js + p, e - p)) == JSON_NONE)
		return CT_ERR_FORMAT;
	if (skip_ws(d->js, d->len, e) != d->len)
		return CT_ERR_TRAILING;
	if ((d->tok = calloc(1, sizeof(*d->tok))) == NULL)
		return CT_ERR_NOMEM;
	d->ntok = 1;
	d->tok[0].type = (uint8_t)ty;
	d->tok[0].start = (uint32_t)p;
	d->tok[0].end = (uint32_t)e;
	d->tok[0].next = 1;
	return 0;
}

static int
limits_get(const struct json_limits *lim, size_t *max_bytes, size_t *max_tokens,
    unsigned *max_depth)
{
	*max_bytes = JSON_MAX_BYTES;
	*max_tokens = JSON_MAX_TOKENS;
	*max_depth = JSON_MAX_DEPTH;
	if (lim == NULL)
		return 0;
	if (lim->max_bytes != 0)
		*max_bytes = lim->max_bytes;
	if (lim->max_tokens != 0)
		*max_tokens = lim->max_tokens;
	if (lim->max_depth != 0)
		*max_depth = lim->max_depth;
	if (*max_bytes > JSON_HARD_MAX_BYTES ||
	    *max_tokens > JSON_HARD_MAX_TOKENS ||
	    *max_depth > JSON_HARD_MAX_DEPTH)
		return CT_ERR_INVALID;
	return 0;
}

int
json_parse(const char *buf, size_t len, const struct json_limits *lim,
    struct json_doc **out)
{
	struct json_doc *d = NULL;
	jsmntok_t *jt = NULL;
	struct walk w;
	size_t max_bytes, max_tokens, n = 0, idx = 0, pos = 0, p;
	unsigned max_depth;
	int rc;

	*out = NULL;
	if (buf == NULL && len != 0)
		return CT_ERR_INVALID;
	if ((rc = limits_get(lim, &max_bytes, &max_tokens, &max_depth)) < 0)
		return rc;
	if (len > max_bytes)
		return CT_ERR_TOO_BIG;
	/* jsmn stops at a NUL; JSON has no place for a raw one anyway. */
	if (len > 0 && memchr(buf, '\0', len) != NULL)
		return CT_ERR_FORMAT;
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return CT_ERR_NOMEM;
	d->js = buf;
	d->len = len;
	p = skip_ws(buf, len, 0);
	if (p == len) {
		rc = CT_ERR_TRUNCATED;
		goto out;
	}
	if (buf[p] != '{' && buf[p] != '[' && buf[p] != '"') {
		rc = parse_root_primitive(d, p);
		goto out;
	}
	if ((rc = tokenize(buf, len, max_tokens, &jt, &n)) < 0)
		goto out;
	if ((d->tok = calloc(n, sizeof(*d->tok))) == NULL) {
		rc = CT_ERR_NOMEM;
		goto out;
	}
	d->ntok = n;
	w.js = buf;
	w.len = len;
	w.jt = jt;
	w.n = n;
	w.t = d->tok;
	w.max_depth = max_depth;
	if ((rc = walk_value(&w, &idx, &pos, 0)) < 0)
		goto out;
	if (idx != n || skip_ws(buf, len, pos) != len)
		rc = CT_ERR_TRAILING;
out:
	free(jt);
	if (rc < 0) {
		json_free(d);
		return rc;
	}
	*out = d;
	return 0;
}

void
json_free(struct json_doc *d)
{
	if (d == NULL)
		return;
	free(d->tok);
	free(d);
}

/* ------------------------------------------------------------- getters */

size_t
json_ntokens(const struct json_doc *d)
{
	return d == NULL ? 0 : d->ntok;
}

/* Token t, or NULL when there is none. */
static const struct json_tok *
tok_at(const struct json_doc *d, int t)
{
	if (d == NULL || t < 0 || (size_t)t >= d->ntok)
		return NULL;
	return &d->tok[t];
}

/* The error for an index that names no token. */
static int
bad_index(int t)
{
	return t < 0 ? t : CT_ERR_INVALID;
}

enum json_type
json_type(const struct json_doc *d, int t)
{
	const struct json_tok *k = tok_at(d, t);

	return k == NULL ? JSON_NONE : (enum json_type)k->type;
}

int
json_expect(const struct json_doc *d, int t, enum json_type want)
{
	const struct json_tok *k = tok_at(d, t);

	if (k == NULL)
		return bad_index(t);
	return k->type == want ? t : CT_ERR_FORMAT;
}

int
json_size(const struct json_doc *d, int t)
{
	const struct json_tok *k = tok_at(d, t);

	if (k == NULL)
		return bad_index(t);
	if (k->type != JSON_OBJECT && k->type != JSON_ARRAY)
		return CT_ERR_FORMAT;
	return (int)k->size;
}

/* Decoded string token k equals s (n bytes). */
static bool
str_equal(const struct json_doc *d, const struct json_tok *k, const char *s,
    size_t n)
{
	const char *raw = d->js + k->start;
	size_t rlen = k->end - k->start, i = 0, o = 0;
	uint8_t buf[4];
	int c;

	if (!k->escaped)
		return rlen == n && memcmp(raw, s, n) == 0;
	while (i < rlen) {
		if ((c = str_next(raw, rlen, &i, buf)) < 0)
			return false;
		if ((size_t)c > n - o || memcmp(s + o, buf, (size_t)c) != 0)
			return false;
		o += (size_t)c;
	}
	return o == n;
}

bool
json_str_eq(const struct json_doc *d, int t, const char *s, size_t n)
{
	const struct json_tok *k = tok_at(d, t);

	if (k == NULL || k->type != JSON_STRING || (s == NULL && n != 0))
		return false;
	return str_equal(d, k, s, n);
}

bool
json_str_plain(const struct json_doc *d, int t, const char **p, size_t *n)
{
	const struct json_tok *k = tok_at(d, t);

	if (k == NULL || k->type != JSON_STRING || k->escaped)
		return false;
	*p = d->js + k->start;
	*n = k->end - k->start;
	return true;
}

int
json_obj_get_n(const struct json_doc *d, int obj, const char *key,
    size_t keylen)
{
	const struct json_tok *k = tok_at(d, obj);
	size_t i, m, found = 0;

	if (k == NULL)
		return bad_index(obj);
	if (k->type != JSON_OBJECT)
		return CT_ERR_FORMAT;
	if (key == NULL && keylen != 0)
		return CT_ERR_INVALID;
	i = (size_t)obj + 1;
	for (m = 0; m < k->size; m++) {
		/* Key at i, its value at i + 1. */
		if (str_equal(d, &d->tok[i], key, keylen)) {
			if (found != 0)
				return CT_ERR_FORMAT;
			found = i + 1;
		}
		i = d->tok[i + 1].next;
	}
	return found == 0 ? CT_ERR_NOT_FOUND : (int)found;
}

int
json_obj_get(const struct json_doc *d, int obj, const char *key)
{
	if (key == NULL)
		return CT_ERR_INVALID;
	return json_obj_get_n(d, obj, key, strlen(key));
}

int
json_arr_get(const struct json_doc *d, int arr, size_t i)
{
	const struct json_tok *k = tok_at(d, arr);
	size_t e, m;

	if (k == NULL)
		return bad_index(arr);
	if (k->type != JSON_ARRAY)
		return CT_ERR_FORMAT;
	if (i >= k->size)
		return CT_ERR_NOT_FOUND;
	e = (size_t)arr + 1;
	for (m = 0; m < i; m++)
		e = d->tok[e].next;
	return (int)e;
}

static int
iter_init(const struct json_doc *d, int t, enum json_type want,
    struct json_iter *it)
{
	const struct json_tok *k = tok_at(d, t);

	memset(it, 0, sizeof(*it));
	if (k == NULL)
		return bad_index(t);
	if (k->type != want)
		return CT_ERR_FORMAT;
	it->doc = d;
	it->next = t + 1;
	it->left = k->size;
	it->members = want == JSON_OBJECT;
	return 0;
}

int
json_iter_arr(const struct json_doc *d, int arr, struct json_iter *it)
{
	return iter_init(d, arr, JSON_ARRAY, it);
}

int
json_iter_obj(const struct json_doc *d, int obj, struct json_iter *it)
{
	return iter_init(d, obj, JSON_OBJECT, it);
}

bool
json_iter_next(struct json_iter *it, int *elem)
{
	if (it->doc == NULL || it->members || it->left == 0)
		return false;
	*elem = it->next;
	it->next = (int)it->doc->tok[it->next].next;
	it->left--;
	return true;
}

bool
json_iter_next_member(struct json_iter *it, int *key, int *val)
{
	if (it->doc == NULL || !it->members || it->left == 0)
		return false;
	*key = it->next;
	*val = it->next + 1;
	it->next = (int)it->doc->tok[it->next + 1].next;
	it->left--;
	return true;
}

/* Decodes string token k into out (outsz bytes, NUL included). */
static int
str_decode(const struct json_doc *d, const struct json_tok *k, unsigned flags,
    char *out, size_t outsz, size_t *outlen)
{
	const char *raw = d->js + k->start;
	size_t rlen = k->end - k->start, i = 0, o = 0;
	uint8_t buf[4];
	int c;

	while (i < rlen) {
		if ((c = str_next(raw, rlen, &i, buf)) < 0)
			return c;
		if (c == 1 && buf[0] == 0 && !(flags & JSON_STR_ALLOW_NUL))
			return CT_ERR_FORMAT;
		if ((size_t)c >= outsz - o)
			return CT_ERR_TOO_BIG;
		memcpy(out + o, buf, (size_t)c);
		o += (size_t)c;
	}
	out[o] = '\0';
	if (outlen != NULL)
		*outlen = o;
	return 0;
}

int
json_get_str(const struct json_doc *d, int t, unsigned flags, char *out,
    size_t outsz, size_t *outlen)
{
	const struct json_tok *k = tok_at(d, t);

	if (k == NULL)
		return bad_index(t);
	if (k->type != JSON_STRING)
		return CT_ERR_FORMAT;
	if (out == NULL || outsz == 0)
		return CT_ERR_INVALID;
	return str_decode(d, k, flags, out, outsz, outlen);
}

int
json_get_str_alloc(const struct json_doc *d, int t, unsigned flags,
    size_t max_bytes, char **out, size_t *outlen)
{
	const struct json_tok *k = tok_at(d, t);
	size_t sz;
	char *p;
	int rc;

	*out = NULL;
	if (k == NULL)
		return bad_index(t);
	if (k->type != JSON_STRING)
		return CT_ERR_FORMAT;
	/* Decoding never makes a string longer than its raw form. */
	sz = k->end - k->start;
	if (sz > max_bytes)
		sz = max_bytes;
	if ((p = malloc(sz + 1)) == NULL)
		return CT_ERR_NOMEM;
	if ((rc = str_decode(d, k, flags, p, sz + 1, outlen)) < 0) {
		free(p);
		return rc;
	}
	*out = p;
	return 0;
}

int
json_get_raw(const struct json_doc *d, int t, const char **p, size_t *n)
{
	const struct json_tok *k = tok_at(d, t);

	if (k == NULL)
		return bad_index(t);
	*p = d->js + k->start;
	*n = k->end - k->start;
	return 0;
}

/* Magnitude of an integer number token; *neg for a leading '-'. */
static int
int_magnitude(const struct json_doc *d, int t, uint64_t *mag, bool *neg)
{
	const struct json_tok *k = tok_at(d, t);
	const char *s;
	size_t n, i = 0;
	uint64_t v = 0;
	unsigned dig;

	if (k == NULL)
		return bad_index(t);
	if (k->type != JSON_NUMBER)
		return CT_ERR_FORMAT;
	s = d->js + k->start;
	n = k->end - k->start;
	*neg = false;
	if (n > 0 && s[0] == '-') {
		*neg = true;
		i = 1;
	}
	if (i >= n)
		return CT_ERR_FORMAT;
	for (; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return CT_ERR_FORMAT; /* fraction or exponent */
		dig = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - dig) / 10)
			return CT_ERR_TOO_BIG;
		v = v * 10 + dig;
	}
	*mag = v;
	return 0;
}

int
json_get_u64(const struct json_doc *d, int t, uint64_t *out)
{
	uint64_t v;
	bool neg;
	int rc;

	if ((rc = int_magnitude(d, t, &v, &neg)) < 0)
		return rc;
	if (neg)
		return CT_ERR_FORMAT;
	*out = v;
	return 0;
}

int
json_get_i64(const struct json_doc *d, int t, int64_t *out)
{
	uint64_t v;
	bool neg;
	int rc;

	if ((rc = int_magnitude(d, t, &v, &neg)) < 0)
		return rc;
	if (!neg) {
		if (v > (uint64_t)INT64_MAX)
			return CT_ERR_TOO_BIG;
		*out = (int64_t)v;
	} else {
		if (v > (uint64_t)INT64_MAX + 1)
			return CT_ERR_TOO_BIG;
		*out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
	}
	return 0;
}

int
json_get_bool(const struct json_doc *d, int t, bool *out)
{
	const struct json_tok *k = tok_at(d, t);

	if (k == NULL)
		return bad_index(t);
	if (k->type != JSON_BOOL)
		return CT_ERR_FORMAT;
	*out = d->js[k->start] == 't';
	return 0;
}

bool
json_is_null(const struct json_doc *d, int t)
{
	const struct json_tok *k = tok_at(d, t);

	return k != NULL && k->type == JSON_NULL;
}

int
json_get_b64(const struct json_doc *d, int t, uint8_t *out, size_t outsz,
    size_t *outlen)
{
	const struct json_tok *k = tok_at(d, t);
	const char *raw;
	char *text = NULL;
	size_t rlen, tlen;
	int rc;

	*outlen = 0;
	if (k == NULL)
		return bad_index(t);
	if (k->type != JSON_STRING)
		return CT_ERR_FORMAT;
	raw = d->js + k->start;
	rlen = k->end - k->start;
	if (!k->escaped) {
		rc = util_b64_decode(raw, rlen, out, outsz, false);
	} else {
		if ((rc = json_get_str_alloc(d, t, 0, rlen, &text, &tlen)) < 0)
			return rc;
		rc = util_b64_decode(text, tlen, out, outsz, false);
		free(text);
	}
	if (rc < 0)
		return rc;
	*outlen = (size_t)rc;
	return 0;
}

int
json_get_b64_exact(const struct json_doc *d, int t, uint8_t *out, size_t n)
{
	size_t got;
	int rc;

	rc = json_get_b64(d, t, out, n, &got);
	if (rc == CT_ERR_TOO_BIG)
		return CT_ERR_FORMAT;
	if (rc < 0)
		return rc;
	return got == n ? 0 : CT_ERR_FORMAT;
}

int
json_get_b64_alloc(const struct json_doc *d, int t, size_t max_bytes,
    uint8_t **out, size_t *outlen)
{
	const struct json_tok *k = tok_at(d, t);
	uint8_t *p;
	size_t sz;
	int rc;

	*out = NULL;
	*outlen = 0;
	if (k == NULL)
		return bad_index(t);
	if (k->type != JSON_STRING)
		return CT_ERR_FORMAT;
	/* Base64 gives at most 3 bytes per 4 characters. */
	sz = (k->end - k->start) / 4 * 3;
	if (sz > max_bytes)
		sz = max_bytes;
	if ((p = malloc(sz == 0 ? 1 : sz)) == NULL)
		return CT_ERR_NOMEM;
	if ((rc = json_get_b64(d, t, p, sz, outlen)) < 0) {
		free(p);
		return rc;
	}
	*out = p;
	return 0;
}

/* -------------------------------------------------------------- writer */

void
json_w_init(struct json_writer *w, struct util_buf *buf)
{
	memset(w, 0, sizeof(*w));
	w->buf = buf;
	if (buf == NULL)
		w->err = CT_ERR_INVALID;
}

static int
w_fail(struct json_writer *w, int rc)
{
	if (w->err == 0)
		w->err = rc;
	return w->err;
}

/* w_room when the buffer must grow first, or an error is kept. */
static uint8_t *
w_room_grow(struct json_writer *w, size_t n)
{
	int rc;

	if (w->err != 0)
		return NULL;
	if ((rc = util_buf_reserve(w->buf, n)) < 0) {
		w_fail(w, rc);
		return NULL;
	}
	return w->buf->data + w->buf->len;
}

/*
 * Room for n more bytes at the end of the buffer: where they go (the
 * caller adds n to len), or NULL with the error kept. util_buf_reserve
 * keeps room for a NUL after them; when that room is there already, the
 * cap is kept too, as cap never passes max + 1. Inline (with w_putc):
 * it runs for every piece the writer puts out.
 */
static inline uint8_t *
w_room(struct json_writer *w, size_t n)
{
	struct util_buf *b = w->buf;

	if (w->err == 0 && n < b->cap - b->len)
		return b->data + b->len;
	return w_room_grow(w, n);
}

static int
w_put(struct json_writer *w, const void *p, size_t n)
{
	uint8_t *o;

	if (n == 0)
		return w->err;
	if ((o = w_room(w, n)) == NULL)
		return w->err;
	memcpy(o, p, n);
	w->buf->len += n;
	return 0;
}

static inline int
w_putc(struct json_writer *w, char c)
{
	uint8_t *o;

	if ((o = w_room(w, 1)) == NULL)
		return w->err;
	*o = (uint8_t)c;
	w->buf->len++;
	return 0;
}

/* Before a value: a comma where one is due; checks the value is allowed. */
static int
w_pre_value(struct json_writer *w)
{
	if (w->err != 0)
		return w->err;
	if (w->depth == 0)
		return w->root_done ? w_fail(w, CT_ERR_INVALID) : 0;
	if (w->stack[w->depth - 1] == '{') {
		if (!w->have_key)
			return w_fail(w, CT_ERR_INVALID);
		w->have_key = false;
		return 0;
	}
	if (w->need_comma)
		return w_putc(w, ',');
	return 0;
}

/* After a whole value. */
static void
w_post_value(struct json_writer *w)
{
	if (w->depth == 0)
		w->root_done = true;
	else
		w->need_comma = true;
}

static int
w_begin(struct json_writer *w, char open)
{
	int rc;

	if ((rc = w_pre_value(w)) < 0)
		return rc;
	if (w->depth >= JSON_MAX_DEPTH)
		return w_fail(w, CT_ERR_INVALID);
	if ((rc = w_putc(w, open)) < 0)
		return rc;
	w->stack[w->depth++] = open;
	w->need_comma = false;
	return 0;
}

static int
w_end(struct json_writer *w, char open, char close)
{
	int rc;

	if (w->err != 0)
		return w->err;
	if (w->depth == 0 || w->stack[w->depth - 1] != open || w->have_key)
		return w_fail(w, CT_ERR_INVALID);
	if ((rc = w_putc(w, close)) < 0)
		return rc;
	w->depth--;
	w_post_value(w);
	return 0;
}

int
json_w_obj_begin(struct json_writer *w)
{
	return w_begin(w, '{');
}

int
json_w_obj_end(struct json_writer *w)
{
	return w_end(w, '{', '}');
}

int
json_w_arr_begin(struct json_writer *w)
{
	return w_begin(w, '[');
}

int
json_w_arr_end(struct json_writer *w)
{
	return w_end(w, '[', ']');
}

/*
 * The end of the run of bytes from i (up to n) that w_string copies as
 * they are: plain ASCII and whole, valid UTF-8 sequences.
 */
static size_t
w_clean_run(const uint8_t *u, size_t i, size_t n)
{
	uint32_t cp;
	size_t k;

	for (;;) {
		if ((i = skip_plain(u, i, n)) >= n || u[i] < 0x80)
			return i;
		if ((k = utf8_seq(u + i, n - i, &cp)) == 0)
			return i;
		i += k;
	}
}

/* Writes s (n bytes) as a quoted, escaped JSON string. */
static int
w_string(struct json_writer *w, const char *s, size_t n)
{
	static const char hexd[] = "0123456789abcdef";
	const uint8_t *u = (const uint8_t *)s;
	uint8_t *o;
	char esc[6];
	size_t i = 0, run, k;
	int rc;

	if (s == NULL && n != 0)
		return w_fail(w, CT_ERR_INVALID);
	if (n > SIZE_MAX - 2)
		return w_fail(w, CT_ERR_TOO_BIG);
	run = w_clean_run(u, 0, n);
	if (run == n) {
		/* Nothing to escape: quotes around one copy. */
		if ((o = w_room(w, n + 2)) == NULL)
			return w->err;
		o[0] = '"';
		if (n > 0)
			memcpy(o + 1, s, n);
		o[n + 1] = '"';
		w->buf->len += n + 2;
		return 0;
	}
	if ((rc = w_putc(w, '"')) < 0)
		return rc;
	while (i < n) {
		/* Copy a run of bytes that need no escaping. */
		if (i > 0)
			run = w_clean_run(u, i, n);
		if (run > i && (rc = w_put(w, s + i, run - i)) < 0)
			return rc;
		if ((i = run) >= n)
			break;
		esc[0] = '\\';
		k = 2;
		switch (u[i]) {
		case '"':
		case '\\':
			esc[1] = (char)u[i];
			break;
		case '\b':
			esc[1] = 'b';
			break;
		case '\f':
			esc[1] = 'f';
			break;
		case '\n':
			esc[1] = 'n';
			break;
		case '\r':
			esc[1] = 'r';
			break;
		case '\t':
			esc[1] = 't';
			break;
		default:
			/* Control byte, or a byte that is not UTF-8. */
			memcpy(esc + 1, "u00", 3);
			esc[4] = hexd[u[i] >> 4];
			esc[5] = hexd[u[i] & 0xf];
			k = 6;
			break;
		}
		if ((rc = w_put(w, esc, k)) < 0)
			return rc;
		i++;
	}
	return w_putc(w, '"');
}

int
json_w_key_n(struct json_writer *w, const char *key, size_t n)
{
	int rc;

	if (w->err != 0)
		return w->err;
	if (w->depth == 0 || w->stack[w->depth - 1] != '{' || w->have_key)
		return w_fail(w, CT_ERR_INVALID);
	if (w->need_comma && (rc = w_putc(w, ',')) < 0)
		return rc;
	if ((rc = w_string(w, key, n)) < 0)
		return rc;
	if ((rc = w_putc(w, ':')) < 0)
		return rc;
	w->have_key = true;
	return 0;
}

int
json_w_key(struct json_writer *w, const char *key)
{
	if (key == NULL)
		return w_fail(w, CT_ERR_INVALID);
	return json_w_key_n(w, key, strlen(key));
}

int
json_w_str_n(struct json_writer *w, const char *s, size_t n)
{
	int rc;

	if ((rc = w_pre_value(w)) < 0)
		return rc;
	if ((rc = w_string(w, s, n)) < 0)
		return rc;
	w_post_value(w);
	return 0;
}

int
json_w_str(struct json_writer *w, const char *s)
{
	if (s == NULL)
		return w_fail(w, CT_ERR_INVALID);
	return json_w_str_n(w, s, strlen(s));
}

/* Writes a value's text as it is (numbers, literals). */
static int
w_literal(struct json_writer *w, const char *s, size_t n)
{
	int rc;

	if ((rc = w_pre_value(w)) < 0)
		return rc;
	if ((rc = w_put(w, s, n)) < 0)
		return rc;
	w_post_value(w);
	return 0;
}

/* Decimal digits of v, right-aligned, with '-' when neg; returns start. */
static size_t
dec_digits(uint64_t v, bool neg, char buf[21])
{
	size_t i = 21;

	do {
		buf[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	if (neg)
		buf[--i] = '-';
	return i;
}

int
json_w_u64(struct json_writer *w, uint64_t v)
{
	char buf[21];
	size_t i = dec_digits(v, false, buf);

	return w_literal(w, buf + i, sizeof(buf) - i);
}

int
json_w_i64(struct json_writer *w, int64_t v)
{
	char buf[21];
	uint64_t mag;
	size_t i;

	mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	i = dec_digits(mag, v < 0, buf);
	return w_literal(w, buf + i, sizeof(buf) - i);
}

int
json_w_bool(struct json_writer *w, bool v)
{
	return v ? w_literal(w, "true", 4) : w_literal(w, "false", 5);
}

int
json_w_null(struct json_writer *w)
{
	return w_literal(w, "null", 4);
}

int
json_w_b64(struct json_writer *w, const uint8_t *p, size_t n)
{
	size_t enc;
	int rc;

	if (p == NULL && n != 0)
		return w_fail(w, CT_ERR_INVALID);
	if (n > (SIZE_MAX - 3) / 4 * 3 - 3)
		return w_fail(w, CT_ERR_TOO_BIG);
	if ((rc = w_pre_value(w)) < 0)
		return rc;
	enc = util_b64_encoded_len(n);
	/* Two quotes; util_buf_reserve adds room for the encoder's NUL. */
	if ((rc = util_buf_reserve(w->buf, enc + 2)) < 0)
		return w_fail(w, rc);
	w->buf->data[w->buf->len++] = '"';
	util_b64_encode(p, n, (char *)w->buf->data + w->buf->len);
	w->buf->len += enc;
	w->buf->data[w->buf->len++] = '"';
	w_post_value(w);
	return 0;
}

int
json_w_finish(struct json_writer *w, bool newline)
{
	int rc;

	if (w->err != 0)
		return w->err;
	if (w->depth != 0 || !w->root_done)
		return w_fail(w, CT_ERR_INVALID);
	if (newline && (rc = w_putc(w, '\n')) < 0)
		return rc;
	w->root_done = false;
	w->need_comma = false;
	return 0;
}

int
json_parse_array_body(const char *body, size_t len, size_t max_bytes,
    struct json_doc **out, char *why, size_t whysz)
{
	struct json_limits lim = {max_bytes, 0, 0};
	struct json_doc *d = NULL;
	size_t i;
	int rc;

	*out = NULL;
	if (why != NULL && whysz > 0)
		why[0] = '\0';
	if (body == NULL && len > 0)
		return CT_ERR_INVALID;
	for (i = 0; i < len; i++)
		if (body[i] != ' ' && body[i] != '\t' && body[i] != '\n' &&
		    body[i] != '\r')
			break;
	if (i == len) {
		util_why(why, whysz, "empty response");
		return CT_ERR_TRUNCATED;
	}
	if (body[i] == '<') {
		util_why(why, whysz, "response is HTML, not JSON");
		return CT_ERR_FORMAT;
	}
	if ((rc = json_parse(body, len, &lim, &d)) != 0) {
		if (rc == CT_ERR_TRUNCATED)
			util_why(why, whysz, "response is cut short");
		else if (rc == CT_ERR_TOO_BIG)
			util_why(why, whysz, "response over the JSON caps");
		else
			util_why(why, whysz, "response is not JSON (%s)",
			    ct_strerror(rc));
		return rc;
	}
	if (json_type(d, JSON_ROOT) != JSON_ARRAY) {
		util_why(why, whysz, "response is a JSON %s, not an array",
		    json_type_names[json_type(d, JSON_ROOT)]);
		json_free(d);
		return CT_ERR_FORMAT;
	}
	*out = d;
	return 0;
}
