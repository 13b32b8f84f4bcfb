/*
 * libFuzzer harness for common/json. Every accepted document is walked
 * with every getter, written back out with the writer, parsed again, and
 * must come back with the same structure and values; a parse under
 * tighter caps may only succeed where the default parse did.
 */
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "util.h"

#define FUZZ_OUT_MAX_BYTES (1024 * 1024)
#define FUZZ_STR_MAX_BYTES (64 * 1024)

/* Writes token t of d; non-integer numbers become null. */
static int
emit(const struct json_doc *d, int t, struct json_writer *w)
{
	struct json_iter it;
	char *s = NULL;
	size_t n;
	uint64_t u;
	int64_t i;
	bool b;
	int k, v, rc = 0;

	switch (json_type(d, t)) {
	case JSON_OBJECT:
		json_w_obj_begin(w);
		if (json_iter_obj(d, t, &it) != 0)
			abort();
		while (json_iter_next_member(&it, &k, &v)) {
			if (json_get_str_alloc(d, k, JSON_STR_ALLOW_NUL,
			        FUZZ_STR_MAX_BYTES, &s, &n) != 0)
				abort();
			json_w_key_n(w, s, n);
			free(s);
			s = NULL;
			emit(d, v, w);
		}
		return json_w_obj_end(w);
	case JSON_ARRAY:
		json_w_arr_begin(w);
		if (json_iter_arr(d, t, &it) != 0)
			abort();
		while (json_iter_next(&it, &v))
			emit(d, v, w);
		return json_w_arr_end(w);
	case JSON_STRING:
		if (json_get_str_alloc(d, t, JSON_STR_ALLOW_NUL,
		        FUZZ_STR_MAX_BYTES, &s, &n) != 0)
			abort();
		rc = json_w_str_n(w, s, n);
		free(s);
		return rc;
	case JSON_NUMBER:
		if (json_get_u64(d, t, &u) == 0)
			return json_w_u64(w, u);
		if (json_get_i64(d, t, &i) == 0)
			return json_w_i64(w, i);
		return json_w_null(w);
	case JSON_BOOL:
		if (json_get_bool(d, t, &b) != 0)
			abort();
		return json_w_bool(w, b);
	case JSON_NULL:
		return json_w_null(w);
	default:
		abort();
	}
}

static bool
is_int(const struct json_doc *d, int t)
{
	uint64_t u;
	int64_t i;

	return json_get_u64(d, t, &u) == 0 || json_get_i64(d, t, &i) == 0;
}

/* Token a of x and token b of y hold the same value (see emit). */
static void
same(const struct json_doc *x, int a, const struct json_doc *y, int b)
{
	enum json_type ta = json_type(x, a), tb = json_type(y, b);
	struct json_iter ia, ib;
	char *s1 = NULL, *s2 = NULL;
	size_t n1, n2;
	uint64_t u1, u2;
	int64_t i1, i2;
	int ka, va, kb, vb;

	if (ta == JSON_NUMBER && !is_int(x, a)) {
		if (tb != JSON_NULL)
			abort();
		return;
	}
	if (ta != tb || json_size(x, a) != json_size(y, b))
		abort();
	switch (ta) {
	case JSON_OBJECT:
		json_iter_obj(x, a, &ia);
		json_iter_obj(y, b, &ib);
		while (json_iter_next_member(&ia, &ka, &va)) {
			if (!json_iter_next_member(&ib, &kb, &vb))
				abort();
			same(x, ka, y, kb);
			same(x, va, y, vb);
		}
		break;
	case JSON_ARRAY:
		json_iter_arr(x, a, &ia);
		json_iter_arr(y, b, &ib);
		while (json_iter_next(&ia, &va)) {
			if (!json_iter_next(&ib, &vb))
				abort();
			same(x, va, y, vb);
		}
		break;
	case JSON_STRING:
		if (json_get_str_alloc(x, a, JSON_STR_ALLOW_NUL,
		        FUZZ_STR_MAX_BYTES, &s1, &n1) != 0 ||
		    json_get_str_alloc(y, b, JSON_STR_ALLOW_NUL,
		        FUZZ_STR_MAX_BYTES, &s2, &n2) != 0 ||
		    n1 != n2 || memcmp(s1, s2, n1) != 0 ||
		    !json_str_eq(y, b, s1, n1))
			abort();
		free(s1);
		free(s2);
		break;
	case JSON_NUMBER:
		if (json_get_u64(x, a, &u1) == 0) {
			if (json_get_u64(y, b, &u2) != 0 || u1 != u2)
				abort();
		} else if (json_get_i64(x, a, &i1) != 0 ||
		    json_get_i64(y, b, &i2) != 0 || i1 != i2) {
			abort();
		}
		break;
	default:
		break;
	}
}

/* Calls every getter on every token; none may crash. */
static void
poke(const struct json_doc *d)
{
	uint8_t bin[64], *p = NULL;
	char s[64], *a = NULL;
	const char *raw;
	size_t t, n;
	uint64_t u;
	int64_t i;
	bool b;

	for (t = 0; t < json_ntokens(d); t++) {
		json_get_str(d, (int)t, 0, s, sizeof(s), &n);
		if (json_get_str_alloc(d, (int)t, 0, 128, &a, &n) == 0)
			free(a);
		json_get_u64(d, (int)t, &u);
		json_get_i64(d, (int)t, &i);
		json_get_bool(d, (int)t, &b);
		json_is_null(d, (int)t);
		json_get_b64(d, (int)t, bin, sizeof(bin), &n);
		if (json_get_b64_alloc(d, (int)t, 256, &p, &n) == 0)
			free(p);
		json_get_raw(d, (int)t, &raw, &n);
		json_obj_get(d, (int)t, "a");
		json_arr_get(d, (int)t, 1);
		json_size(d, (int)t);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_limits tight = {0, 8, 4};
	struct json_doc *d = NULL, *d2 = NULL, *dt = NULL;
	struct util_buf out;
	struct json_writer w;
	int rc, rt;

	rc = json_parse((const char *)data, size, NULL, &d);
	rt = json_parse((const char *)data, size, &tight, &dt);
	if (rt == 0 && rc != 0)
		abort();
	json_free(dt);
	if (rc != 0)
		return 0;
	poke(d);
	util_buf_init(&out, FUZZ_OUT_MAX_BYTES);
	json_w_init(&w, &out);
	emit(d, JSON_ROOT, &w);
	rc = json_w_finish(&w, true);
	if (rc == 0) {
		if (json_parse((const char *)out.data, out.len, NULL, &d2) != 0)
			abort();
		same(d, JSON_ROOT, d2, JSON_ROOT);
		json_free(d2);
	} else if (rc != CT_ERR_TOO_BIG) {
		abort();
	}
	util_buf_clear(&out);
	json_free(d);
	return 0;
}
