/*
 * agentc_certs: the body of an agent's `certs` answer, parsed with every
 * field type-checked (see agentc.h; agent/ops.c writes it).
 */
#include <wolfssl/options.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentc.h"
#include "json.h"
#include "util.h"

const char *const agentc_source_names[AGENTC_SOURCE__MAX] = {
    "deployed",
    "store",
};

struct perr {
	char *buf;
	size_t sz;
};

static int cerr(struct perr *e, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
cerr(struct perr *e, int rc, const char *fmt, ...)
{
	va_list ap;

	if (e->buf != NULL && e->sz > 0) {
		va_start(ap, fmt);
		vsnprintf(e->buf, e->sz, fmt, ap);
		va_end(ap);
	}
	return rc;
}

/*
 * A view of string token t's decoded bytes: the raw text itself when it
 * holds no escape (the common case: no copy), else decoded into buf
 * (bufsz bytes; CT_ERR_TOO_BIG beyond). CT_ERR_FORMAT for a non-string.
 */
static int
str_view(const struct json_doc *d, int t, char *buf, size_t bufsz,
    const char **p, size_t *n)
{
	int rc;

	if (t < 0)
		return t;
	if (json_str_plain(d, t, p, n))
		return *n < bufsz ? 0 : CT_ERR_TOO_BIG;
	if (json_type(d, t) != JSON_STRING)
		return CT_ERR_FORMAT;
	if ((rc = json_get_str(d, t, 0, buf, bufsz, n)) != 0)
		return rc;
	*p = buf;
	return 0;
}

static int
hex_nibble(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

/* 64 lower-case hex digits to 32 bytes. */
static int
get_hash(const struct json_doc *d, int t, uint8_t out[32])
{
	char buf[65];
	const char *s;
	size_t n;
	int rc;

	if ((rc = str_view(d, t, buf, sizeof(buf), &s, &n)) != 0)
		return rc == CT_ERR_TOO_BIG ? CT_ERR_FORMAT : rc;
	if (n != 64)
		return CT_ERR_FORMAT;
	return util_hex_decode_lower(s, n, out, 32) == 32 ? 0 : CT_ERR_FORMAT;
}

static int
get_time(const struct json_doc *d, int t, int64_t *out)
{
	char buf[64];
	const char *s;
	size_t n;
	int rc;

	*out = 0;
	if ((rc = str_view(d, t, buf, sizeof(buf), &s, &n)) != 0)
		return rc == CT_ERR_TOO_BIG ? CT_ERR_FORMAT : rc;
	return util_time_parse_rfc3339(s, n, out) == 0 ? 0 : CT_ERR_FORMAT;
}

static int
get_serial(const struct json_doc *d, int t,
    char out[AGENTC_SERIAL_MAX_BYTES + 1])
{
	char buf[AGENTC_SERIAL_MAX_BYTES + 1];
	const char *s;
	size_t n, i;
	int rc;

	out[0] = '\0';
	if (json_is_null(d, t))
		return 0;
	if ((rc = str_view(d, t, buf, sizeof(buf), &s, &n)) != 0)
		return rc;
	if (n == 0)
		return CT_ERR_FORMAT;
	for (i = 0; i < n; i++)
		if (hex_nibble(s[i]) < 0)
			return CT_ERR_FORMAT;
	memcpy(out, s, n);
	out[n] = '\0';
	return 0;
}

/*
 * dns_names into one allocation: the pointer array, then the strings
 * (each decoded string is no longer than its raw JSON text).
 */
static int
get_names(const struct json_doc *d, int t, struct agentc_cert *c)
{
	struct json_iter it;
	const char *raw;
	size_t rawn, total = 0, n = 0, len;
	char *p, **names;
	int e, rc, size;

	if ((size = json_size(d, json_expect(d, t, JSON_ARRAY))) < 0)
		return size;
	if ((size_t)size > AGENTC_MAX_DNS_NAMES)
		return CT_ERR_TOO_BIG;
	if ((rc = json_iter_arr(d, t, &it)) != 0)
		return rc;
	while (json_iter_next(&it, &e)) {
		if (json_type(d, e) != JSON_STRING)
			return CT_ERR_FORMAT;
		if ((rc = json_get_raw(d, e, &raw, &rawn)) != 0)
			return rc;
		total += rawn + 1;
	}
	names = malloc((size_t)size * sizeof(char *) + total + 1);
	if (names == NULL)
		return CT_ERR_NOMEM;
	p = (char *)(names + size);
	(void)json_iter_arr(d, t, &it);
	while (json_iter_next(&it, &e)) {
		/* Without an escape, the raw text is the value (validated by
		 * json_parse, no NUL in it either). */
		if (json_str_plain(d, e, &raw, &rawn)) {
			memcpy(p, raw, rawn);
			p[rawn] = '\0';
			len = rawn;
			rc = 0;
		} else {
			(void)json_get_raw(d, e, &raw, &rawn);
			rc = json_get_str(d, e, 0, p, rawn + 1, &len);
		}
		if (rc == 0 && (len == 0 || len > AGENTC_NAME_MAX_BYTES))
			rc = len == 0 ? CT_ERR_FORMAT : CT_ERR_TOO_BIG;
		if (rc != 0) {
			free(names);
			return rc;
		}
		names[n++] = p;
		p += len + 1;
	}
	c->dns_names = names;
	c->n_dns_names = n;
	return 0;
}

static int
get_source(const struct json_doc *d, int t, enum agentc_source *out)
{
	int i;

	if (json_type(d, t) != JSON_STRING)
		return t < 0 ? t : CT_ERR_FORMAT;
	for (i = 0; i < AGENTC_SOURCE__MAX; i++)
		if (json_str_eq(d, t, agentc_source_names[i],
		        strlen(agentc_source_names[i]))) {
			*out = (enum agentc_source)i;
			return 0;
		}
	return CT_ERR_FORMAT;
}

static int
get_path(const struct json_doc *d, int t, char **out)
{
	const char *raw;
	size_t n;
	int rc;

	if (json_is_null(d, t)) {
		*out = strdup("");
		return *out != NULL ? 0 : CT_ERR_NOMEM;
	}
	if (t >= 0 && json_type(d, t) != JSON_STRING)
		return CT_ERR_FORMAT;
	if ((rc = json_get_raw(d, t, &raw, &n)) != 0)
		return rc;
	if (!json_str_plain(d, t, &raw, &n))
		return json_get_str_alloc(d, t, 0, AGENTC_PATH_MAX_BYTES, out,
		    &n);
	/* No escape: the raw text (validated by json_parse) is the value. */
	if (n > AGENTC_PATH_MAX_BYTES)
		return CT_ERR_TOO_BIG;
	if ((*out = malloc(n + 1)) == NULL)
		return CT_ERR_NOMEM;
	memcpy(*out, raw, n);
	(*out)[n] = '\0';
	return 0;
}

static void
cert_clear(struct agentc_cert *c)
{
	free(c->dns_names);
	free(c->path);
	memset(c, 0, sizeof(*c));
}

/* The members of a certificate object, in the order they are checked. */
enum cert_field {
	F_TBS,
	F_SHA256,
	F_SERIAL,
	F_SPKI, /* optional */
	F_NOT_BEFORE,
	F_NOT_AFTER,
	F_SOURCE,
	F_FIRST_SEEN,
	F_PRECERT,
	F_LIVE, /* optional */
	F_PATH,
	F_DNS_NAMES,
	F__MAX
};

/* Names with their lengths, so a key is compared by length first. */
#define FIELD(s)                                                               \
	{                                                                      \
		s, sizeof(s) - 1                                               \
	}
static const struct {
	const char *name;
	size_t len;
} cert_fields[F__MAX] = {FIELD("tbs_sha256"), FIELD("sha256"), FIELD("serial"),
    FIELD("spki_sha256"), FIELD("not_before"), FIELD("not_after"),
    FIELD("source"), FIELD("first_seen"), FIELD("precert"), FIELD("live"),
    FIELD("path"), FIELD("dns_names")};
#undef FIELD

/* The field named by key token k, or F__MAX for another member. */
static enum cert_field
field_of(const struct json_doc *d, int k)
{
	const char *raw;
	size_t n;
	int i;

	if (json_str_plain(d, k, &raw, &n)) {
		for (i = 0; i < F__MAX; i++)
			if (n == cert_fields[i].len &&
			    raw[0] == cert_fields[i].name[0] &&
			    memcmp(raw, cert_fields[i].name, n) == 0)
				return (enum cert_field)i;
		return F__MAX;
	}
	/* A key written with escapes is compared decoded. */
	for (i = 0; i < F__MAX; i++)
		if (json_str_eq(d, k, cert_fields[i].name, cert_fields[i].len))
			return (enum cert_field)i;
	return F__MAX;
}

/*
 * The value token of each field in one pass over the object's members
 * (CT_ERR_NOT_FOUND for an absent one); a field given twice is
 * CT_ERR_FORMAT. Other members are ignored.
 */
static int
cert_members(const struct json_doc *d, int o, int tok[F__MAX],
    enum cert_field *dup)
{
	struct json_iter it;
	enum cert_field f;
	int i, k, v, rc;

	for (i = 0; i < F__MAX; i++)
		tok[i] = CT_ERR_NOT_FOUND;
	if ((rc = json_iter_obj(d, o, &it)) != 0)
		return rc;
	while (json_iter_next_member(&it, &k, &v)) {
		if ((f = field_of(d, k)) == F__MAX)
			continue;
		if (tok[f] >= 0) {
			*dup = f;
			return CT_ERR_FORMAT;
		}
		tok[f] = v;
	}
	return 0;
}

/* A time, or 0 for null; has (may be NULL) says which. */
static int
get_time_or_null(const struct json_doc *d, int t, int64_t *out, bool *has)
{
	int rc;

	*out = 0;
	if (has != NULL)
		*has = false;
	if (json_is_null(d, t))
		return 0;
	if ((rc = get_time(d, t, out)) != 0)
		return rc;
	if (has != NULL)
		*has = true;
	return 0;
}

/* Fills c from the value tokens; *f is the field being read. */
static int
cert_fill(const struct json_doc *d, const int tok[F__MAX],
    struct agentc_cert *c, enum cert_field *f)
{
	int rc;

	*f = F_TBS;
	if ((rc = get_hash(d, tok[F_TBS], c->tbs_sha256)) != 0)
		return rc;
	*f = F_SHA256;
	if ((rc = get_hash(d, tok[F_SHA256], c->sha256)) != 0)
		return rc;
	*f = F_SERIAL;
	if ((rc = get_serial(d, tok[F_SERIAL], c->serial)) != 0)
		return rc;
	*f = F_SPKI;
	if (tok[F_SPKI] >= 0) {
		if ((rc = get_hash(d, tok[F_SPKI], c->spki_sha256)) != 0)
			return rc;
		c->has_spki = true;
	}
	*f = F_NOT_BEFORE;
	if ((rc = get_time_or_null(d, tok[F_NOT_BEFORE], &c->not_before,
	         NULL)) != 0)
		return rc;
	*f = F_NOT_AFTER;
	if ((rc = get_time_or_null(d, tok[F_NOT_AFTER], &c->not_after, NULL)) !=
	    0)
		return rc;
	*f = F_SOURCE;
	if ((rc = get_source(d, tok[F_SOURCE], &c->source)) != 0)
		return rc;
	*f = F_FIRST_SEEN;
	if ((rc = get_time_or_null(d, tok[F_FIRST_SEEN], &c->first_seen,
	         &c->has_first_seen)) != 0)
		return rc;
	*f = F_PRECERT;
	if ((rc = json_get_bool(d, tok[F_PRECERT], &c->precert)) != 0)
		return rc;
	*f = F_LIVE;
	if (tok[F_LIVE] >= 0 &&
	    (rc = json_get_bool(d, tok[F_LIVE], &c->live)) != 0)
		return rc;
	*f = F_PATH;
	if ((rc = get_path(d, tok[F_PATH], &c->path)) != 0)
		return rc;
	*f = F_DNS_NAMES;
	return get_names(d, tok[F_DNS_NAMES], c);
}

/* One element of "certs". On failure *field names what is wrong. */
static int
parse_cert(const struct json_doc *d, int o, struct agentc_cert *c,
    const char **field)
{
	int tok[F__MAX], rc;
	enum cert_field f = F__MAX;

	memset(c, 0, sizeof(*c));
	*field = "";
	if (json_type(d, o) != JSON_OBJECT)
		return CT_ERR_FORMAT;
	rc = cert_members(d, o, tok, &f);
	if (rc == 0)
		rc = cert_fill(d, tok, c, &f);
	if (rc != 0 && f != F__MAX)
		*field = cert_fields[f].name;
	return rc;
}

static const char *
rc_text(int rc)
{
	switch (rc) {
	case CT_ERR_NOT_FOUND:
		return "missing";
	case CT_ERR_TOO_BIG:
		return "over a cap";
	case CT_ERR_FORMAT:
		return "wrong type or form";
	default:
		return ct_strerror(rc);
	}
}

int
agentc_parse_certs(const char *body, size_t len, struct agentc_certs *out,
    char *err, size_t errsz)
{
	struct perr e = {err, errsz};
	struct json_doc *d = NULL;
	struct json_iter it;
	const char *field = "";
	size_t n = 0, namelen;
	int rc, arr, size, el;

	memset(out, 0, sizeof(*out));
	if (err != NULL && errsz > 0)
		err[0] = '\0';
	if ((rc = json_parse(body, len, NULL, &d)) != 0) {
		cerr(&e, rc, "not JSON: %s", ct_strerror(rc));
		goto out;
	}
	if (json_type(d, JSON_ROOT) != JSON_OBJECT) {
		rc = cerr(&e, CT_ERR_FORMAT, "not a JSON object");
		goto out;
	}
	rc = json_get_str_alloc(d, json_obj_get(d, JSON_ROOT, "name"), 0,
	    PROTO_ARG_MAX_BYTES, &out->name, &namelen);
	if (rc != 0) {
		cerr(&e, rc, "name: %s", rc_text(rc));
		goto out;
	}
	arr = json_expect(d, json_obj_get(d, JSON_ROOT, "certs"), JSON_ARRAY);
	if ((size = json_size(d, arr)) < 0) {
		rc = cerr(&e, size, "certs: %s", rc_text(size));
		goto out;
	}
	if ((size_t)size > AGENTC_MAX_CERTS) {
		rc = cerr(&e, CT_ERR_TOO_BIG, "certs: more than %d",
		    AGENTC_MAX_CERTS);
		goto out;
	}
	if (size > 0 &&
	    (out->certs = calloc((size_t)size, sizeof(*out->certs))) == NULL) {
		rc = cerr(&e, CT_ERR_NOMEM, "out of memory");
		goto out;
	}
	(void)json_iter_arr(d, arr, &it);
	while (json_iter_next(&it, &el)) {
		if ((rc = parse_cert(d, el, &out->certs[n], &field)) != 0) {
			cert_clear(&out->certs[n]);
			cerr(&e, rc, "certs[%zu]%s%s: %s", n,
			    field[0] != '\0' ? "." : "", field, rc_text(rc));
			goto out;
		}
		out->n = ++n;
	}
	rc = 0;
out:
	json_free(d);
	if (rc != 0)
		agentc_certs_free(out);
	return rc;
}

void
agentc_certs_free(struct agentc_certs *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < c->n; i++)
		cert_clear(&c->certs[i]);
	free(c->certs);
	free(c->name);
	memset(c, 0, sizeof(*c));
}
