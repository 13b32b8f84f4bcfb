/*
 * crtsh: crt.sh search and certificate download (see crtsh.h).
 *
 * The driver runs on the caller's libuv loop through poller/http: the
 * searches run at once; when all are in, rows are merged (by id), filtered
 * against the watch and looked up in the cache; the rest are downloaded,
 * at most max_inflight at a time, newest first. The done callback is the
 * last thing any path does, so it may free the query.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/hash.h>
#include <wolfssl/wolfcrypt/sha256.h>

#include "crtsh.h"
#include "der.h"
#include "http.h"
#include "json.h"
#include "ratelimit.h"
#include "state.h"

#define CRTSH_WHY_LEN 200

const char *const crtsh_entry_status_names[CRTSH_ENTRY__MAX] = {
    [CRTSH_ENTRY_OK] = "ok",
    [CRTSH_ENTRY_PENDING] = "pending",
    [CRTSH_ENTRY_DOWNLOAD_FAILED] = "download failed",
    [CRTSH_ENTRY_MISMATCH] = "mismatch",
};

/* ------------------------------------------------------------ URLs */

static bool
unreserved(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	    c == '~';
}

/* Appends s (n bytes) percent-encoded. */
static int
url_escape(struct util_buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	char esc[3];
	size_t i;
	int rc = 0;

	for (i = 0; i < n && rc == 0; i++) {
		unsigned char c = (unsigned char)s[i];

		if (unreserved(c)) {
			rc = util_buf_append(b, &s[i], 1);
			continue;
		}
		esc[0] = '%';
		esc[1] = hex[c >> 4];
		esc[2] = hex[c & 0xf];
		rc = util_buf_append(b, esc, 3);
	}
	return rc;
}

/* base without trailing slashes: its length, or 0 when unusable. */
static size_t
base_len(const char *base)
{
	size_t n;

	if (base == NULL)
		return 0;
	n = strnlen(base, CRTSH_MAX_URL_BYTES + 1);
	if (n > CRTSH_MAX_URL_BYTES)
		return 0;
	while (n > 0 && base[n - 1] == '/')
		n--;
	return n;
}

/* Copies b (NUL-terminated) to out. */
static int
buf_out(struct util_buf *b, int rc, char *out, size_t outsz)
{
	if (rc == 0 && (rc = util_buf_cstr(b)) == 0) {
		if (b->len + 1 > outsz)
			rc = CT_ERR_TOO_BIG;
		else
			memcpy(out, b->data, b->len + 1);
	}
	util_buf_clear(b);
	return rc;
}

int
crtsh_search_url(const char *base, const char *identity, bool include_expired,
    char *out, size_t outsz)
{
	struct util_buf b;
	size_t bn = base_len(base);
	int rc;

	if (bn == 0 || identity == NULL || identity[0] == '\0' || out == NULL ||
	    outsz == 0)
		return CT_ERR_INVALID;
	out[0] = '\0';
	util_buf_init(&b, CRTSH_MAX_URL_BYTES);
	rc = util_buf_append(&b, base, bn);
	if (rc == 0)
		rc = util_buf_append_str(&b, "/?identity=");
	if (rc == 0)
		rc = url_escape(&b, identity, strlen(identity));
	if (rc == 0)
		rc = util_buf_append_str(&b,
		    include_expired ? "&output=json"
		                    : "&output=json&exclude=expired");
	return buf_out(&b, rc, out, outsz);
}

int
crtsh_download_url(const char *base, uint64_t id, char *out, size_t outsz)
{
	struct util_buf b;
	size_t bn = base_len(base);
	int rc;

	if (bn == 0 || out == NULL || outsz == 0)
		return CT_ERR_INVALID;
	out[0] = '\0';
	util_buf_init(&b, CRTSH_MAX_URL_BYTES);
	rc = util_buf_append(&b, base, bn);
	if (rc == 0)
		rc = util_buf_printf(&b, "/?d=%llu", (unsigned long long)id);
	return buf_out(&b, rc, out, outsz);
}

size_t
crtsh_identities(const struct names_watch *w,
    char ids[CRTSH_MAX_SEARCHES][CRTSH_IDENTITY_LEN])
{
	const char *parent;

	snprintf(ids[0], CRTSH_IDENTITY_LEN, "%s", w->name);
	if (w->subdomains || w->nlabels < 3)
		return 1;
	parent = w->name + w->label_off[1];
	snprintf(ids[1], CRTSH_IDENTITY_LEN, "*.%s", parent);
	return 2;
}

void
crtsh_cache_path(uint64_t id, char out[CRTSH_CACHE_PATH_LEN])
{
	snprintf(out, CRTSH_CACHE_PATH_LEN, "crtsh/cert/%llu.der",
	    (unsigned long long)id);
}

/* ------------------------------------------------------------ parser */

void
crtsh_row_clear(struct crtsh_row *row)
{
	if (row == NULL)
		return;
	free(row->issuer_name);
	free(row->common_name);
	free(row->name_value);
	free(row->names);
	memset(row, 0, sizeof(*row));
}

void
crtsh_rows_clear(struct crtsh_rows *r)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < r->n; i++)
		crtsh_row_clear(&r->rows[i]);
	free(r->rows);
	memset(r, 0, sizeof(*r));
}

/* Member key of row object o: its token, or an error with why set. */
static int
member(const struct json_doc *d, int o, const char *key, size_t i, char *why,
    size_t whysz)
{
	int t = json_obj_get(d, o, key);

	if (t == CT_ERR_NOT_FOUND)
		util_why(why, whysz, "row %zu: no %s", i, key);
	else if (t < 0)
		util_why(why, whysz, "row %zu: %s appears twice", i, key);
	return t < 0 ? CT_ERR_FORMAT : t;
}

/*
 * String token t decoded: json_parse has validated every string, so one
 * without an escape is its raw text, copied as it is; one with an escape
 * is decoded by json_get_str_alloc. CT_ERR_TOO_BIG past max bytes.
 */
static int
str_alloc(const struct json_doc *d, int t, size_t max, char **out,
    size_t *outlen)
{
	const char *raw;
	size_t n;
	int rc;

	if ((rc = json_get_raw(d, t, &raw, &n)) != 0)
		return rc;
	if (memchr(raw, '\\', n) != NULL)
		return json_get_str_alloc(d, t, JSON_STR_ALLOW_NUL, max, out,
		    outlen);
	if (n > max)
		return CT_ERR_TOO_BIG;
	if ((*out = malloc(n + 1)) == NULL)
		return CT_ERR_NOMEM;
	memcpy(*out, raw, n);
	(*out)[n] = '\0';
	*outlen = n;
	return 0;
}

/* The same into out (outsz bytes, the NUL included). */
static int
str_copy(const struct json_doc *d, int t, char *out, size_t outsz,
    size_t *outlen)
{
	const char *raw;
	size_t n;
	int rc;

	if ((rc = json_get_raw(d, t, &raw, &n)) != 0)
		return rc;
	if (memchr(raw, '\\', n) != NULL)
		return json_get_str(d, t, 0, out, outsz, outlen);
	if (n >= outsz)
		return CT_ERR_TOO_BIG;
	memcpy(out, raw, n);
	out[n] = '\0';
	*outlen = n;
	return 0;
}

/* A string member (NULL for null when nullable). */
static int
get_text(const struct json_doc *d, int o, const char *key, bool nullable,
    size_t max, size_t i, char **out, size_t *outlen, char *why, size_t whysz)
{
	int t, rc;

	*out = NULL;
	*outlen = 0;
	if ((t = member(d, o, key, i, why, whysz)) < 0)
		return t;
	if (nullable && json_type(d, t) == JSON_NULL)
		return 0;
	if (json_type(d, t) != JSON_STRING) {
		util_why(why, whysz, "row %zu: %s is not a string", i, key);
		return CT_ERR_FORMAT;
	}
	rc = str_alloc(d, t, max, out, outlen);
	if (rc == CT_ERR_TOO_BIG)
		util_why(why, whysz, "row %zu: %s over %zu bytes", i, key, max);
	else if (rc != 0)
		util_why(why, whysz, "row %zu: %s: %s", i, key,
		    ct_strerror(rc));
	return rc;
}

static int
get_num(const struct json_doc *d, int o, const char *key, size_t i,
    uint64_t *out, char *why, size_t whysz)
{
	int t, rc;

	if ((t = member(d, o, key, i, why, whysz)) < 0)
		return t;
	if (json_type(d, t) != JSON_NUMBER) {
		util_why(why, whysz, "row %zu: %s is not a number", i, key);
		return CT_ERR_FORMAT;
	}
	if ((rc = json_get_u64(d, t, out)) != 0) {
		util_why(why, whysz, "row %zu: %s is not a whole number", i,
		    key);
		return CT_ERR_FORMAT;
	}
	return 0;
}

/* crt.sh time "2023-03-07T13:44:19.123": no zone, UTC. */
static int
parse_time(const char *s, size_t n, int64_t *out)
{
	char buf[CRTSH_MAX_TIME_BYTES + 2];

	if (n == 0 || n > CRTSH_MAX_TIME_BYTES || memchr(s, '\0', n) != NULL)
		return CT_ERR_FORMAT;
	memcpy(buf, s, n);
	if (s[n - 1] != 'Z' && s[n - 1] != 'z')
		buf[n++] = 'Z';
	buf[n] = '\0';
	return util_time_parse_rfc3339(buf, n, out);
}

static int
get_time(const struct json_doc *d, int o, const char *key, bool nullable,
    size_t i, bool *have, int64_t *out, char *why, size_t whysz)
{
	char buf[CRTSH_MAX_TIME_BYTES + 1];
	size_t n;
	int t;

	*have = false;
	if ((t = member(d, o, key, i, why, whysz)) < 0)
		return t;
	if (nullable && json_type(d, t) == JSON_NULL)
		return 0;
	if (json_type(d, t) != JSON_STRING) {
		util_why(why, whysz, "row %zu: %s is not a string", i, key);
		return CT_ERR_FORMAT;
	}
	if (str_copy(d, t, buf, sizeof(buf), &n) != 0 ||
	    parse_time(buf, n, out) != 0) {
		util_why(why, whysz, "row %zu: %s is not a time", i, key);
		return CT_ERR_FORMAT;
	}
	*have = true;
	return 0;
}

static int
get_serial(const struct json_doc *d, int o, size_t i, char *out, char *why,
    size_t whysz)
{
	size_t n, k;
	int t;

	if ((t = member(d, o, "serial_number", i, why, whysz)) < 0)
		return t;
	if (json_type(d, t) != JSON_STRING) {
		util_why(why, whysz, "row %zu: serial_number is not a string",
		    i);
		return CT_ERR_FORMAT;
	}
	if (str_copy(d, t, out, CRTSH_MAX_SERIAL_HEX + 1, &n) != 0 || n == 0 ||
	    n % 2 != 0)
		goto bad;
	for (k = 0; k < n; k++) {
		char c = out[k];

		if (c >= 'A' && c <= 'F')
			out[k] = (char)(c - 'A' + 'a');
		else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			goto bad;
	}
	return 0;
bad:
	out[0] = '\0';
	util_why(why, whysz, "row %zu: serial_number is not a hex serial", i);
	return CT_ERR_FORMAT;
}

/* Splits name_value at '\n' into views. */
static int
split_names(struct crtsh_row *row)
{
	const char *p = row->name_value, *end = p + row->name_value_len, *nl;
	size_t n = 1, k = 0;

	for (nl = p; (nl = memchr(nl, '\n', (size_t)(end - nl))) != NULL; nl++)
		n++;
	if ((row->names = calloc(n, sizeof(*row->names))) == NULL)
		return CT_ERR_NOMEM;
	for (;;) {
		nl = memchr(p, '\n', (size_t)(end - p));
		row->names[k].name = p;
		row->names[k].len =
		    nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
		k++;
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	row->n_names = k;
	return 0;
}

static int
parse_row(const struct json_doc *d, int o, size_t i, struct crtsh_row *row,
    char *why, size_t whysz)
{
	size_t junk;
	uint64_t u;
	bool have;
	int rc, t;

	if (json_type(d, o) != JSON_OBJECT) {
		util_why(why, whysz, "row %zu is not an object", i);
		return CT_ERR_FORMAT;
	}
	if ((rc = get_num(d, o, "id", i, &row->id, why, whysz)) != 0 ||
	    (rc = get_num(d, o, "issuer_ca_id", i, &row->issuer_ca_id, why,
	         whysz)) != 0 ||
	    (rc = get_text(d, o, "issuer_name", true, CRTSH_MAX_TEXT_BYTES, i,
	         &row->issuer_name, &junk, why, whysz)) != 0 ||
	    (rc = get_text(d, o, "common_name", true, CRTSH_MAX_TEXT_BYTES, i,
	         &row->common_name, &row->common_name_len, why, whysz)) != 0 ||
	    (rc = get_text(d, o, "name_value", false,
	         CRTSH_MAX_NAME_VALUE_BYTES, i, &row->name_value,
	         &row->name_value_len, why, whysz)) != 0 ||
	    (rc = get_time(d, o, "entry_timestamp", true, i,
	         &row->has_entry_timestamp, &row->entry_timestamp, why,
	         whysz)) != 0 ||
	    (rc = get_time(d, o, "not_before", false, i, &have,
	         &row->not_before, why, whysz)) != 0 ||
	    (rc = get_time(d, o, "not_after", false, i, &have, &row->not_after,
	         why, whysz)) != 0 ||
	    (rc = get_serial(d, o, i, row->serial, why, whysz)) != 0)
		return rc;
	if (row->id == 0) {
		util_why(why, whysz, "row %zu: id is 0", i);
		return CT_ERR_FORMAT;
	}
	t = json_obj_get(d, o, "result_count");
	if (t >= 0 && json_get_u64(d, t, &u) != 0) {
		util_why(why, whysz, "row %zu: result_count is not a number",
		    i);
		return CT_ERR_FORMAT;
	}
	if (t < 0 && t != CT_ERR_NOT_FOUND) {
		util_why(why, whysz, "row %zu: result_count appears twice", i);
		return CT_ERR_FORMAT;
	}
	if ((rc = split_names(row)) != 0)
		util_why(why, whysz, "out of memory");
	return rc;
}

/* The first byte that is not JSON white space, or -1. */
static int
first_byte(const char *body, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (body[i] != ' ' && body[i] != '\t' && body[i] != '\n' &&
		    body[i] != '\r')
			return (unsigned char)body[i];
	return -1;
}

int
crtsh_parse(const char *body, size_t len, struct crtsh_rows *out, char *why,
    size_t whysz)
{
	struct json_doc *d = NULL;
	struct json_iter it;
	size_t nsent, i = 0;
	int e, rc;

	if (why != NULL && whysz > 0)
		why[0] = '\0';
	if (out == NULL || (body == NULL && len > 0))
		return CT_ERR_INVALID;
	memset(out, 0, sizeof(*out));
	if ((rc = json_parse_array_body(body, len, CRTSH_MAX_BODY_BYTES, &d,
	         why, whysz)) != 0)
		return rc;
	nsent = (size_t)json_size(d, JSON_ROOT);
	out->n_sent = nsent;
	out->incomplete = nsent >= CRTSH_MAX_ROWS;
	if (nsent > CRTSH_MAX_ROWS)
		nsent = CRTSH_MAX_ROWS;
	if (nsent > 0 &&
	    (out->rows = calloc(nsent, sizeof(*out->rows))) == NULL) {
		util_why(why, whysz, "out of memory");
		rc = CT_ERR_NOMEM;
		goto out;
	}
	json_iter_arr(d, JSON_ROOT, &it);
	while (i < nsent && json_iter_next(&it, &e)) {
		rc = parse_row(d, e, i, &out->rows[i], why, whysz);
		out->n = ++i; /* a failed row is cleared with the rest */
		if (rc != 0)
			goto out;
	}
out:
	json_free(d);
	if (rc != 0)
		crtsh_rows_clear(out);
	return rc;
}

/* ------------------------------------------------------------ verify */

/* Hex serial without leading "00" bytes (at least one byte kept). */
static const char *
serial_trim(const char *s, size_t *n)
{
	*n = strlen(s);
	while (*n > 2 && s[0] == '0' && s[1] == '0') {
		s += 2;
		*n -= 2;
	}
	return s;
}

/* ASCII case-insensitive equality of n bytes (NUL bytes included). */
static bool
mem_case_eq(const char *a, const char *b, size_t n)
{
	size_t i;
	unsigned char x, y;

	for (i = 0; i < n; i++) {
		x = (unsigned char)a[i];
		y = (unsigned char)b[i];
		if (x >= 'A' && x <= 'Z')
			x = (unsigned char)(x - 'A' + 'a');
		if (y >= 'A' && y <= 'Z')
			y = (unsigned char)(y - 'A' + 'a');
		if (x != y)
			return false;
	}
	return true;
}

/*
 * What a row must agree with: a certificate's serial, validity and names
 * (its subject CN and DNS SANs), from the certificate itself or from a
 * summary of one verified earlier.
 */
struct facts {
	char serial[2 * CRTSH_MAX_SERIAL_HEX + 3]; /* lower-case hex */
	bool serial_cut; /* too long for serial: matches no row */
	int64_t not_before;
	int64_t not_after;
	const struct ct_cert *cert; /* names from here, or else: */
	const char *cn;             /* NULL: none */
	size_t cn_len;
	struct der_cursor sans; /* u16 n, then n u16-prefixed names */
};

static void
facts_of_cert(const struct ct_cert *c, struct facts *f)
{
	memset(f, 0, sizeof(*f));
	f->serial_cut = c->serial_len > (sizeof(f->serial) - 1) / 2;
	cert_serial_hex(c, f->serial, sizeof(f->serial));
	f->not_before = c->not_before;
	f->not_after = c->not_after;
	f->cert = c;
}

/* name is the subject CN or one of the DNS SANs. */
static bool
facts_have_name(const struct facts *f, const char *name, size_t len)
{
	const struct ct_cert *c = f->cert;
	struct der_cursor cur = f->sans, v;
	uint16_t n, i;
	size_t k;

	if (c != NULL) {
		if (c->subject_cn != NULL && strlen(c->subject_cn) == len &&
		    mem_case_eq(c->subject_cn, name, len))
			return true;
		for (k = 0; k < c->n_dns_names; k++)
			if (c->dns_names[k].len == len &&
			    mem_case_eq(c->dns_names[k].name, name, len))
				return true;
		return false;
	}
	if (f->cn != NULL && f->cn_len == len && mem_case_eq(f->cn, name, len))
		return true;
	if (der_read_u16(&cur, &n) != 0)
		return false;
	for (i = 0; i < n; i++) {
		if (der_read_vec(&cur, 2, &v) != 0)
			return false;
		if (v.len == len && mem_case_eq((const char *)v.p, name, len))
			return true;
	}
	return false;
}

/* The row agrees with f; whose ("downloaded certificate's") names f. */
static int
row_check(const struct crtsh_row *row, const struct facts *f, const char *whose,
    char *why, size_t whysz)
{
	char tn[UTIL_RFC3339_LEN], tr[UTIL_RFC3339_LEN];
	unsigned long long id = (unsigned long long)row->id;
	const char *a, *b;
	size_t an, bn, i;
	bool nb;

	a = serial_trim(f->serial, &an);
	b = serial_trim(row->serial, &bn);
	if (f->serial_cut || an != bn || !mem_case_eq(a, b, an)) {
		util_why(why, whysz,
		    "crt.sh id %llu: %s serial %s differs from the row's %s",
		    id, whose, f->serial, row->serial);
		return CT_ERR_FORMAT;
	}
	if (f->not_before != row->not_before ||
	    f->not_after != row->not_after) {
		nb = f->not_before != row->not_before;
		util_time_rfc3339(nb ? f->not_before : f->not_after, tn);
		util_time_rfc3339(nb ? row->not_before : row->not_after, tr);
		util_why(why, whysz,
		    "crt.sh id %llu: %s %s %s differs from the row's %s", id,
		    whose, nb ? "notBefore" : "notAfter", tn, tr);
		return CT_ERR_FORMAT;
	}
	for (i = 0; i < row->n_names; i++)
		if (!facts_have_name(f, row->names[i].name,
		        row->names[i].len)) {
			util_why(why, whysz,
			    "crt.sh id %llu: row name %.*s is not in the %s",
			    id,
			    (int)(row->names[i].len > 255 ? 255
			                                  : row->names[i].len),
			    row->names[i].name,
			    strcmp(whose, "downloaded certificate's") == 0
			        ? "downloaded certificate"
			        : "certificate's summary");
			return CT_ERR_FORMAT;
		}
	return 0;
}

int
crtsh_verify_download(const struct crtsh_row *row, const uint8_t *body,
    size_t len, struct ct_cert **cert, char *why, size_t whysz)
{
	struct ct_cert **v = NULL;
	struct facts f;
	size_t n = 0;
	unsigned long long id;
	int rc;

	if (why != NULL && whysz > 0)
		why[0] = '\0';
	if (row == NULL || cert == NULL || (body == NULL && len > 0))
		return CT_ERR_INVALID;
	*cert = NULL;
	id = (unsigned long long)row->id;
	if ((rc = cert_parse_buf(body, len, &v, &n)) != 0) {
		util_why(why, whysz,
		    "crt.sh id %llu: download is not a certificate (%s)", id,
		    ct_strerror(rc));
		return rc == CT_ERR_NOMEM ? rc : CT_ERR_FORMAT;
	}
	rc = CT_ERR_FORMAT;
	if (n != 1) {
		util_why(why, whysz,
		    "crt.sh id %llu: download holds %zu certificates, not 1",
		    id, n);
		goto out;
	}
	facts_of_cert(v[0], &f);
	if ((rc = row_check(row, &f, "downloaded certificate's", why, whysz)) !=
	    0)
		goto out;
	*cert = v[0];
	v[0] = NULL;
out:
	cert_free_all(v, n);
	return rc;
}

/* ------------------------------------------------------------ driver */

struct crtsh_search {
	struct crtsh_run *run;
	char identity[CRTSH_IDENTITY_LEN];
	bool primary;
};

struct crtsh_dl {
	struct crtsh_run *run;
	size_t idx; /* into q->result.entries */
};

struct crtsh_run {
	struct crtsh_query *q;
	crtsh_done_cb cb;
	void *arg;
	struct names_watch watch;
	char base[CRTSH_MAX_URL_BYTES + 1];
	char *ca_file;
	struct ratelimit rate; /* shared with other runs (q->rate_per_minute) */
	bool has_rate;

	struct crtsh_search searches[CRTSH_MAX_SEARCHES];
	unsigned searches_pending;
	struct crtsh_row *rows; /* merged search rows */
	size_t nrows, caprows;

	struct crtsh_dl *dls;
	size_t *queue; /* entry indices to download, in order */
	size_t nqueue, qnext;
	unsigned inflight;
	bool cancelled;
	bool done;

	/* lazy: the watch's summaries (see below), and which entry used one */
	char sum_path[CRTSH_SUM_PATH_LEN];
	struct crtsh_sum *sum;
	const struct sum_ent **sum_of; /* per result entry, or NULL */
};

/* ------------------------------------------------------------ summaries */

/*
 * With q->lazy, what was verified of each certificate (serial, validity,
 * names, tbs_sha256) is kept per watch in the state directory, so that a
 * later run checks each row against that summary (the same checks as
 * crtsh_verify_download) instead of reading and parsing the cached
 * certificate again. The certificate cache stays the authority:
 * crtsh_entry_load reads the certificate, verifies it against its row
 * again, and requires the summary's tbs_sha256. A summary that is torn,
 * malformed or does not agree with a row is not used.
 *
 *	"ct-crtsh-sum1\n" u64 count, then count entries, ids ascending:
 *	  u64 id, tbs_sha256[32], u64 not_before, u64 not_after,
 *	  u16-prefixed serial (lower-case hex), u8 has_cn, u16-prefixed cn,
 *	  u16 n and n u16-prefixed DNS SANs
 *	SHA-256 of everything before it
 *
 * Integers are big-endian; everything is read through the der cursor.
 */
#define SUM_MAGIC "ct-crtsh-sum1\n"
#define SUM_MAGIC_BYTES (sizeof(SUM_MAGIC) - 1)
#define SUM_HASH_BYTES 32
#define SUM_KEY_BYTES 16 /* of the watch's hash, in the file name */

struct sum_ent {
	uint64_t id;
	const uint8_t *p; /* the whole entry, in the summary's buffer */
	size_t len;
};

struct crtsh_sum {
	uint8_t *buf;
	size_t len;
	struct sum_ent *ents;
	size_t n;
	size_t used; /* entries that served a row in this run */
};

static void
sum_free(struct crtsh_sum *sm)
{
	if (sm == NULL)
		return;
	free(sm->ents);
	free(sm->buf);
	free(sm);
}

/*
 * Reads one entry at c: its id, tbs_sha256 and facts (f and tbs may be
 * NULL to only check its form).
 */
static int
sum_read(struct der_cursor *c, uint64_t *id, const uint8_t **tbs,
    struct facts *f)
{
	const uint8_t *t;
	struct der_cursor ser, v, cn, sans;
	uint64_t nb, na;
	uint16_t n, i;
	uint8_t has_cn;
	size_t k;
	int rc;

	if ((rc = der_read_u64(c, id)) != 0 ||
	    (rc = der_read_bytes(c, 32, &t)) != 0 ||
	    (rc = der_read_u64(c, &nb)) != 0 ||
	    (rc = der_read_u64(c, &na)) != 0 ||
	    (rc = der_read_vec(c, 2, &ser)) != 0 ||
	    (rc = der_read_u8(c, &has_cn)) != 0 ||
	    (rc = der_read_vec(c, 2, &cn)) != 0)
		return rc;
	if (ser.len == 0 || ser.len > CRTSH_MAX_SERIAL_HEX || has_cn > 1 ||
	    (!has_cn && cn.len != 0))
		return CT_ERR_FORMAT;
	for (k = 0; k < ser.len; k++)
		if (!((ser.p[k] >= '0' && ser.p[k] <= '9') ||
		        (ser.p[k] >= 'a' && ser.p[k] <= 'f')))
			return CT_ERR_FORMAT;
	sans = *c;
	if ((rc = der_read_u16(c, &n)) != 0)
		return rc;
	if (n > CERT_MAX_NAMES)
		return CT_ERR_FORMAT;
	for (i = 0; i < n; i++)
		if ((rc = der_read_vec(c, 2, &v)) != 0)
			return rc;
	sans.len = (size_t)(c->p - sans.p);
	if (tbs != NULL)
		*tbs = t;
	if (f == NULL)
		return 0;
	memset(f, 0, sizeof(*f));
	memcpy(f->serial, ser.p, ser.len); /* NUL-terminated by the memset */
	f->not_before = (int64_t)nb;
	f->not_after = (int64_t)na;
	f->cn = has_cn ? (const char *)cn.p : NULL;
	f->cn_len = cn.len;
	f->sans = sans;
	return 0;
}

static int
sum_parse(struct crtsh_sum *sm)
{
	uint8_t h[SUM_HASH_BYTES];
	struct der_cursor c;
	const uint8_t *p;
	uint64_t count, i, id;
	size_t body;
	int rc;

	if (sm->len < SUM_MAGIC_BYTES + 8 + SUM_HASH_BYTES)
		return CT_ERR_TRUNCATED;
	body = sm->len - SUM_HASH_BYTES;
	if (wc_Sha256Hash(sm->buf, (word32)body, h) != 0)
		return CT_ERR_CRYPTO;
	if (memcmp(h, sm->buf + body, sizeof(h)) != 0 ||
	    memcmp(sm->buf, SUM_MAGIC, SUM_MAGIC_BYTES) != 0)
		return CT_ERR_FORMAT;
	der_init(&c, sm->buf + SUM_MAGIC_BYTES, body - SUM_MAGIC_BYTES);
	if ((rc = der_read_u64(&c, &count)) != 0)
		return rc;
	if (count > CRTSH_MAX_SUM_ENTRIES)
		return CT_ERR_TOO_BIG;
	if (count > 0 &&
	    (sm->ents = calloc((size_t)count, sizeof(*sm->ents))) == NULL)
		return CT_ERR_NOMEM;
	for (i = 0; i < count; i++) {
		p = c.p;
		if ((rc = sum_read(&c, &id, NULL, NULL)) != 0)
			return rc;
		if (i > 0 && id <= sm->ents[i - 1].id)
			return CT_ERR_FORMAT; /* ascending, no duplicate */
		sm->ents[i].id = id;
		sm->ents[i].p = p;
		sm->ents[i].len = (size_t)(c.p - p);
	}
	if (!der_empty(&c))
		return CT_ERR_TRAILING;
	sm->n = (size_t)count;
	return 0;
}

/* "crtsh/sum/<hex>": one file per watch, source and expiry setting. */
static int
sum_path(struct crtsh_run *run)
{
	uint8_t h[WC_SHA256_DIGEST_SIZE];
	wc_Sha256 sha;
	size_t i;
	int rc;

	if (wc_InitSha256(&sha) != 0)
		return CT_ERR_CRYPTO;
	rc = wc_Sha256Update(&sha, (const byte *)run->base,
	    (word32)strlen(run->base) + 1);
	for (i = 0; rc == 0 && i < CRTSH_MAX_SEARCHES; i++)
		rc = wc_Sha256Update(&sha,
		    (const byte *)run->searches[i].identity,
		    (word32)strlen(run->searches[i].identity) + 1);
	if (rc == 0)
		rc = wc_Sha256Update(&sha,
		    (const byte *)(run->q->include_expired ? "1" : "0"), 1);
	if (rc == 0)
		rc = wc_Sha256Final(&sha, h);
	wc_Sha256Free(&sha);
	if (rc != 0)
		return CT_ERR_CRYPTO;
	memcpy(run->sum_path, CRTSH_SUM_DIR, sizeof(CRTSH_SUM_DIR) - 1);
	util_hex_encode(h, SUM_KEY_BYTES,
	    run->sum_path + sizeof(CRTSH_SUM_DIR) - 1);
	return 0;
}

/* The watch's summaries, or NULL (none, unreadable, or not usable). */
static struct crtsh_sum *
sum_load(struct crtsh_run *run)
{
	struct crtsh_sum *sm;

	if (sum_path(run) != 0 || (sm = calloc(1, sizeof(*sm))) == NULL)
		return NULL;
	if (state_read(run->q->state, run->sum_path, CRTSH_MAX_SUM_BYTES,
	        &sm->buf, &sm->len) != 0 ||
	    sum_parse(sm) != 0) {
		sum_free(sm);
		return NULL;
	}
	return sm;
}

static const struct sum_ent *
sum_find(const struct crtsh_sum *sm, uint64_t id)
{
	size_t lo = 0, hi = sm->n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (sm->ents[mid].id == id)
			return &sm->ents[mid];
		if (sm->ents[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* Entry idx is OK from its summary when the row agrees with it. */
static bool
from_summary(struct crtsh_run *run, size_t idx)
{
	struct crtsh_entry *e = &run->q->result.entries[idx];
	const struct sum_ent *se;
	const uint8_t *tbs;
	struct der_cursor c;
	struct facts f;
	uint64_t id;

	if (run->sum == NULL || (se = sum_find(run->sum, e->row.id)) == NULL)
		return false;
	der_init(&c, se->p, se->len);
	if (sum_read(&c, &id, &tbs, &f) != 0 ||
	    row_check(&e->row, &f, "summarised certificate's", NULL, 0) != 0)
		return false;
	memcpy(e->tbs_sha256, tbs, 32);
	e->status = CRTSH_ENTRY_OK;
	e->cached = true;
	e->summarised = true;
	run->sum_of[idx] = se;
	run->sum->used++;
	return true;
}

/* Whether sum_read could read back the summary of c. */
static bool
summarisable(const struct ct_cert *c)
{
	size_t i;

	if (c->serial_len == 0 || 2 * c->serial_len > CRTSH_MAX_SERIAL_HEX ||
	    c->n_dns_names > CERT_MAX_NAMES ||
	    (c->subject_cn != NULL && strlen(c->subject_cn) > UINT16_MAX))
		return false;
	for (i = 0; i < c->n_dns_names; i++)
		if (c->dns_names[i].len > UINT16_MAX)
			return false;
	return true;
}

/* The summary entry of a verified, summarisable certificate. */
static int
sum_put_cert(struct util_buf *b, uint64_t id, const struct ct_cert *c)
{
	uint8_t n[2] = {(uint8_t)(c->n_dns_names >> 8),
	    (uint8_t)c->n_dns_names};
	uint8_t has_cn = c->subject_cn != NULL;
	struct facts f;
	size_t i;
	int rc;

	facts_of_cert(c, &f);
	if ((rc = util_buf_put_u64(b, id)) != 0 ||
	    (rc = util_buf_append(b, c->tbs_sha256, 32)) != 0 ||
	    (rc = util_buf_put_u64(b, (uint64_t)c->not_before)) != 0 ||
	    (rc = util_buf_put_u64(b, (uint64_t)c->not_after)) != 0 ||
	    (rc = util_buf_put_vec16(b, f.serial, strlen(f.serial))) != 0 ||
	    (rc = util_buf_append(b, &has_cn, 1)) != 0 ||
	    (rc = util_buf_put_vec16(b, c->subject_cn,
	         has_cn ? strlen(c->subject_cn) : 0)) != 0 ||
	    (rc = util_buf_append(b, n, sizeof(n))) != 0)
		return rc;
	for (i = 0; i < c->n_dns_names; i++)
		if ((rc = util_buf_put_vec16(b, c->dns_names[i].name,
		         c->dns_names[i].len)) != 0)
			return rc;
	return 0;
}

/*
 * After a complete lookup: a new summary file when this run verified a
 * certificate in full or left an old entry unused. The entries are those
 * of this run's OK rows. Failures only cost a later run the full checks.
 */
static void
sum_update(struct crtsh_run *run)
{
	struct crtsh_result *r = &run->q->result;
	uint8_t h[SUM_HASH_BYTES];
	struct util_buf b;
	size_t i, n = 0, full = 0, mark;
	struct crtsh_entry *e;
	int rc;

	for (i = 0; i < r->n; i++) {
		e = &r->entries[i];
		if (e->status != CRTSH_ENTRY_OK)
			continue;
		n++;
		if (run->sum_of[i] == NULL)
			full++;
	}
	if (full == 0 && run->sum != NULL && run->sum->used == run->sum->n)
		return;
	if (n == 0 && run->sum == NULL)
		return;
	util_buf_init(&b, CRTSH_MAX_SUM_BYTES);
	rc = util_buf_append(&b, SUM_MAGIC, SUM_MAGIC_BYTES);
	mark = b.len;
	if (rc == 0)
		rc = util_buf_put_u64(&b, 0); /* the count, set below */
	n = 0;
	/* Entries are newest (highest id) first: walk them backwards. */
	for (i = r->n; rc == 0 && i-- > 0;) {
		e = &r->entries[i];
		if (e->status != CRTSH_ENTRY_OK)
			continue;
		if (run->sum_of[i] != NULL)
			rc = util_buf_append(&b, run->sum_of[i]->p,
			    run->sum_of[i]->len);
		else if (e->cert != NULL && summarisable(e->cert))
			rc = sum_put_cert(&b, e->row.id, e->cert);
		else
			continue; /* read in full by every run */
		n++;
	}
	if (rc == 0) {
		for (i = 0; i < 8; i++)
			b.data[mark + i] =
			    (uint8_t)((uint64_t)n >> (56 - 8 * i));
		if (wc_Sha256Hash(b.data, (word32)b.len, h) != 0)
			rc = CT_ERR_CRYPTO;
	}
	if (rc == 0)
		rc = util_buf_append(&b, h, sizeof(h));
	if (rc == 0 &&
	    state_write(run->q->state, run->sum_path, b.data, b.len) != 0)
		r->cache_errors++;
	util_buf_clear(&b);
}

int
crtsh_entry_load(struct crtsh_query *q, struct crtsh_entry *e, char *why,
    size_t whysz)
{
	char path[CRTSH_CACHE_PATH_LEN];
	struct ct_cert *c = NULL;
	uint8_t *buf = NULL;
	size_t len;
	int rc;

	if (why != NULL && whysz > 0)
		why[0] = '\0';
	if (q == NULL || e == NULL || e->status != CRTSH_ENTRY_OK)
		return CT_ERR_INVALID;
	if (e->cert != NULL)
		return 0;
	crtsh_cache_path(e->row.id, path);
	if (q->state == NULL ||
	    (rc = state_read(q->state, path, CRTSH_MAX_CERT_BODY_BYTES, &buf,
	         &len)) != 0) {
		util_why(why, whysz,
		    "crt.sh id %llu: the cached certificate cannot be read",
		    (unsigned long long)e->row.id);
		return CT_ERR_NOT_FOUND;
	}
	rc = crtsh_verify_download(&e->row, buf, len, &c, why, whysz);
	free(buf);
	if (rc != 0)
		return rc;
	if (memcmp(c->tbs_sha256, e->tbs_sha256, 32) != 0) {
		cert_free(c);
		util_why(why, whysz,
		    "crt.sh id %llu: the cached certificate is not the one "
		    "summarised",
		    (unsigned long long)e->row.id);
		return CT_ERR_FORMAT;
	}
	e->cert = c;
	return 0;
}

/* ------------------------------------------------------------ queries */
void
crtsh_query_init(struct crtsh_query *q)
{
	memset(q, 0, sizeof(*q));
	q->max_downloads = CRTSH_DEFAULT_MAX_DOWNLOADS;
	q->max_inflight = CRTSH_DEFAULT_INFLIGHT;
	q->search_timeout_ms = CRTSH_SEARCH_TIMEOUT_MS;
	q->download_timeout_ms = CRTSH_DOWNLOAD_TIMEOUT_MS;
}

unsigned
crtsh_rate_default(const char *base_url)
{
	size_t n;

	if (base_url == NULL)
		return RATELIMIT_CRTSH_PER_MINUTE;
	/* The default URL, perhaps with trailing slashes. */
	n = base_len(base_url);
	return n == strlen(CRTSH_DEFAULT_URL) &&
	        strncasecmp(base_url, CRTSH_DEFAULT_URL, n) == 0
	    ? RATELIMIT_CRTSH_PER_MINUTE
	    : 0;
}

static void
result_clear(struct crtsh_result *r)
{
	size_t i;

	for (i = 0; i < r->n; i++) {
		crtsh_row_clear(&r->entries[i].row);
		cert_free(r->entries[i].cert);
	}
	free(r->entries);
	memset(r, 0, sizeof(*r));
}

static void
run_free(struct crtsh_run *run)
{
	size_t i;

	if (run == NULL)
		return;
	for (i = 0; i < run->nrows; i++)
		crtsh_row_clear(&run->rows[i]);
	free(run->rows);
	free(run->dls);
	free(run->queue);
	free(run->ca_file);
	free(run->sum_of);
	sum_free(run->sum);
	free(run);
}

void
crtsh_query_clear(struct crtsh_query *q)
{
	if (q == NULL)
		return;
	result_clear(&q->result);
	run_free(q->run);
	q->run = NULL;
}

void
crtsh_cancel(struct crtsh_query *q)
{
	if (q != NULL && q->run != NULL)
		q->run->cancelled = true;
}

/* The first error wins; later ones are dropped. */
static void run_error(struct crtsh_run *run, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
run_error(struct crtsh_run *run, int status, const char *fmt, ...)
{
	struct crtsh_result *r = &run->q->result;
	char msg[CRTSH_ERROR_LEN];
	va_list ap;

	if (r->status != 0)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	r->status = status;
	util_sanitize(msg, strlen(msg), r->error, sizeof(r->error));
}

/* Completes the run: counts, then the callback, as the very last step. */
static void
run_finish(struct crtsh_run *run)
{
	struct crtsh_query *q = run->q;
	struct crtsh_result *r = &q->result;
	size_t i;

	if (run->done)
		return;
	run->done = true;
	if (q->lazy && q->state != NULL && r->status == 0 && !run->cancelled)
		sum_update(run);
	for (i = run->qnext; i < run->nqueue; i++) {
		struct crtsh_entry *e = &r->entries[run->queue[i]];

		e->status = CRTSH_ENTRY_PENDING;
		snprintf(e->reason, sizeof(e->reason),
		    run->cancelled ? "not downloaded: cancelled"
		                   : "not downloaded: per-run download cap");
	}
	run->qnext = run->nqueue;
	for (i = 0; i < r->n; i++) {
		switch (r->entries[i].status) {
		case CRTSH_ENTRY_OK:
			r->n_ok++;
			if (r->entries[i].cached)
				r->n_cached++;
			break;
		case CRTSH_ENTRY_PENDING:
			r->n_pending++;
			break;
		case CRTSH_ENTRY_DOWNLOAD_FAILED:
			r->n_failed++;
			break;
		default:
			r->n_mismatch++;
			break;
		}
	}
	run->cb(q, run->arg);
}

static void on_download(struct http_response *resp, void *arg);

/* Starts queued downloads up to the limits; finishes when idle. */
static void
start_downloads(struct crtsh_run *run)
{
	struct crtsh_query *q = run->q;
	struct crtsh_result *r = &q->result;
	struct http_request req;
	struct crtsh_entry *e;
	char url[CRTSH_MAX_URL_BYTES + 32];
	size_t idx;
	int rc;

	while (!run->cancelled && run->inflight < q->max_inflight &&
	    run->qnext < run->nqueue && r->n_downloads < q->max_downloads) {
		idx = run->queue[run->qnext++];
		e = &r->entries[idx];
		http_request_init(&req);
		req.max_body_bytes = CRTSH_MAX_CERT_BODY_BYTES;
		req.timeout_ms = q->download_timeout_ms;
		req.allow_http = q->allow_http;
		req.ca_file = run->ca_file;
		req.rate = run->has_rate ? &run->rate : NULL;
		rc = crtsh_download_url(run->base, e->row.id, url, sizeof(url));
		req.url = url;
		run->dls[idx].run = run;
		run->dls[idx].idx = idx;
		if (rc == 0)
			rc = http_get(q->http, &req, on_download,
			    &run->dls[idx]);
		if (rc != 0) {
			e->status = CRTSH_ENTRY_DOWNLOAD_FAILED;
			snprintf(e->reason, sizeof(e->reason),
			    "crt.sh id %llu: cannot start the download: %s",
			    (unsigned long long)e->row.id, ct_strerror(rc));
			continue;
		}
		r->n_downloads++;
		r->requests++;
		run->inflight++;
	}
	if (run->inflight == 0)
		run_finish(run);
}

static void
on_download(struct http_response *resp, void *arg)
{
	struct crtsh_dl *dl = arg;
	struct crtsh_run *run = dl->run;
	struct crtsh_query *q = run->q;
	struct crtsh_entry *e = &q->result.entries[dl->idx];
	char path[CRTSH_CACHE_PATH_LEN];
	int rc;

	run->inflight--;
	if (resp->status != 0) {
		e->status = CRTSH_ENTRY_DOWNLOAD_FAILED;
		util_why(e->reason, sizeof(e->reason), "crt.sh id %llu: %s",
		    (unsigned long long)e->row.id, resp->error);
	} else if ((rc = crtsh_verify_download(&e->row, resp->body, resp->len,
	                &e->cert, e->reason, sizeof(e->reason))) != 0) {
		e->status = rc == CT_ERR_NOMEM ? CRTSH_ENTRY_DOWNLOAD_FAILED
		                               : CRTSH_ENTRY_MISMATCH;
	} else {
		e->status = CRTSH_ENTRY_OK;
		memcpy(e->tbs_sha256, e->cert->tbs_sha256, 32);
		if (q->state != NULL) {
			crtsh_cache_path(e->row.id, path);
			if (state_write(q->state, path, e->cert->der,
			        e->cert->der_len) != 0)
				q->result.cache_errors++;
		}
	}
	start_downloads(run);
}

/* Looks e up in the cache: true when a verified copy was found there. */
static bool
from_cache(struct crtsh_query *q, struct crtsh_entry *e)
{
	char path[CRTSH_CACHE_PATH_LEN];
	uint8_t *buf = NULL;
	size_t len;
	bool ok;

	if (q->state == NULL)
		return false;
	crtsh_cache_path(e->row.id, path);
	if (state_read(q->state, path, CRTSH_MAX_CERT_BODY_BYTES, &buf, &len) !=
	    0)
		return false;
	ok = crtsh_verify_download(&e->row, buf, len, &e->cert, NULL, 0) == 0;
	free(buf);
	if (ok) {
		e->status = CRTSH_ENTRY_OK;
		e->cached = true;
		memcpy(e->tbs_sha256, e->cert->tbs_sha256, 32);
	}
	return ok;
}

static int
cmp_row_desc(const void *a, const void *b)
{
	const struct crtsh_row *x = a, *y = b;

	return x->id < y->id ? 1 : x->id > y->id ? -1 : 0;
}

/* The searches are in: filter, look in the cache, queue the downloads. */
static void
searches_done(struct crtsh_run *run)
{
	struct crtsh_query *q = run->q;
	struct crtsh_result *r = &q->result;
	struct names_item cn;
	struct crtsh_entry *e;
	enum names_match m;
	size_t i, n = 0;

	if (r->status != 0)
		goto finish;
	qsort(run->rows, run->nrows, sizeof(*run->rows), cmp_row_desc);
	for (i = 0; i < run->nrows; i++) {
		if (n > 0 && run->rows[n - 1].id == run->rows[i].id) {
			crtsh_row_clear(&run->rows[i]);
			continue;
		}
		run->rows[n++] = run->rows[i];
	}
	run->nrows = n;
	r->n_rows = n;
	if (n > 0 &&
	    ((r->entries = calloc(n, sizeof(*r->entries))) == NULL ||
	        (run->dls = calloc(n, sizeof(*run->dls))) == NULL ||
	        (run->queue = calloc(n, sizeof(*run->queue))) == NULL ||
	        (run->sum_of = calloc(n, sizeof(*run->sum_of))) == NULL)) {
		run_error(run, CT_ERR_NOMEM, "crt.sh: out of memory");
		goto finish;
	}
	if (q->lazy && q->state != NULL)
		run->sum = sum_load(run);
	for (i = 0; i < run->nrows; i++) {
		cn.name = run->rows[i].common_name;
		cn.len = run->rows[i].common_name_len;
		m = names_cert_matches(&run->watch, run->rows[i].names,
		    run->rows[i].n_names, &cn, cn.name != NULL ? 1 : 0, NULL);
		if (m == NAMES_NO_MATCH) {
			r->n_unrelated++;
			crtsh_row_clear(&run->rows[i]);
			continue;
		}
		e = &r->entries[r->n++];
		e->row = run->rows[i];
		e->match = m;
		e->status =
		    CRTSH_ENTRY_PENDING; /* until looked up or fetched */
		if (!from_summary(run, r->n - 1) && !from_cache(q, e))
			run->queue[run->nqueue++] = r->n - 1;
	}
	run->nrows = 0; /* moved into the entries or freed */
	start_downloads(run);
	return;
finish:
	run_finish(run);
}

/* Moves the rows of one search into run->rows. */
static int
merge_rows(struct crtsh_run *run, struct crtsh_rows *rows)
{
	struct crtsh_row *p;
	size_t ncap;

	if (rows->n > run->caprows - run->nrows) {
		ncap = run->nrows + rows->n;
		if ((p = realloc(run->rows, ncap * sizeof(*p))) == NULL)
			return CT_ERR_NOMEM;
		run->rows = p;
		run->caprows = ncap;
	}
	if (rows->n > 0)
		memcpy(run->rows + run->nrows, rows->rows,
		    rows->n * sizeof(*p));
	run->nrows += rows->n;
	free(rows->rows);
	memset(rows, 0, sizeof(*rows));
	return 0;
}

/*
 * True when the body is HTML, or does not even start like JSON and is
 * declared as something else (an error page rather than a bad document).
 */
static bool
not_json(const struct http_response *resp)
{
	const char *ct = resp->content_type;
	int c = first_byte((const char *)resp->body, resp->len);

	return c == '<' ||
	    (c != '[' && c != '{' && ct[0] != '\0' &&
	        strncasecmp(ct, "application/json", 16) != 0);
}

static void
on_search(struct http_response *resp, void *arg)
{
	struct crtsh_search *s = arg;
	struct crtsh_run *run = s->run;
	struct crtsh_rows rows;
	char why[CRTSH_WHY_LEN], label[CRTSH_IDENTITY_LEN + 16];
	int rc;

	if (s->primary)
		snprintf(label, sizeof(label), "crt.sh");
	else
		snprintf(label, sizeof(label), "crt.sh (%s)", s->identity);
	run->searches_pending--;
	if (resp->status != 0) {
		run_error(run, resp->status, "%s: %s", label, resp->error);
	} else if ((rc = crtsh_parse((const char *)resp->body, resp->len, &rows,
	                why, sizeof(why))) != 0) {
		if (rc != CT_ERR_TRUNCATED && not_json(resp))
			run_error(run, CT_ERR_FORMAT,
			    "%s: response is not JSON (%s)", label,
			    resp->content_type[0] != '\0' ? resp->content_type
			                                  : "no Content-Type");
		else
			run_error(run, rc, "%s: %s", label, why);
	} else {
		if (rows.incomplete)
			run->q->result.incomplete = true;
		if (merge_rows(run, &rows) != 0) {
			crtsh_rows_clear(&rows);
			run_error(run, CT_ERR_NOMEM, "%s: out of memory",
			    label);
		}
	}
	if (run->searches_pending == 0)
		searches_done(run);
}

static int
start_search(struct crtsh_run *run, struct crtsh_search *s)
{
	struct crtsh_query *q = run->q;
	struct http_request req;
	char url[CRTSH_MAX_URL_BYTES + 1];
	int rc;

	rc = crtsh_search_url(run->base, s->identity, q->include_expired, url,
	    sizeof(url));
	if (rc != 0)
		return rc;
	http_request_init(&req);
	req.url = url;
	req.max_body_bytes = CRTSH_MAX_BODY_BYTES;
	req.timeout_ms = q->search_timeout_ms;
	req.allow_http = q->allow_http;
	req.ca_file = run->ca_file;
	req.rate = run->has_rate ? &run->rate : NULL;
	if ((rc = http_get(q->http, &req, on_search, s)) == 0) {
		run->searches_pending++;
		q->result.requests++;
	}
	return rc;
}

int
crtsh_run(struct crtsh_query *q, crtsh_done_cb cb, void *arg)
{
	char ids[CRTSH_MAX_SEARCHES][CRTSH_IDENTITY_LEN];
	struct crtsh_run *run = NULL;
	const char *base;
	size_t nids, i, bn;
	int rc;

	if (q == NULL || cb == NULL || q->http == NULL || q->watch == NULL ||
	    q->run != NULL || q->max_inflight == 0 ||
	    q->max_inflight > CRTSH_MAX_INFLIGHT || q->search_timeout_ms == 0 ||
	    q->download_timeout_ms == 0)
		return CT_ERR_INVALID;
	base = q->base_url != NULL ? q->base_url : CRTSH_DEFAULT_URL;
	if ((bn = base_len(base)) == 0)
		return CT_ERR_INVALID;
	memset(&q->result, 0, sizeof(q->result));
	if ((run = calloc(1, sizeof(*run))) == NULL)
		return CT_ERR_NOMEM;
	run->q = q;
	run->cb = cb;
	run->arg = arg;
	run->watch = *q->watch;
	memcpy(run->base, base, bn);
	if (q->state != NULL && q->rate_per_minute > 0 &&
	    ratelimit_init(&run->rate, q->state, "crtsh", q->rate_per_minute,
	        RATELIMIT_CRTSH_BURST) == 0)
		run->has_rate = true;
	if (q->ca_file != NULL && (run->ca_file = strdup(q->ca_file)) == NULL) {
		run_free(run);
		return CT_ERR_NOMEM;
	}
	q->run = run;
	nids = crtsh_identities(&run->watch, ids);
	for (i = 0; i < nids; i++) {
		run->searches[i].run = run;
		run->searches[i].primary = i == 0;
		memcpy(run->searches[i].identity, ids[i], CRTSH_IDENTITY_LEN);
		if ((rc = start_search(run, &run->searches[i])) == 0)
			continue;
		if (run->searches_pending == 0) {
			q->run = NULL;
			run_free(run);
			return rc;
		}
		/* One search runs: report this one's failure through it. */
		run_error(run, rc, "crt.sh (%s): cannot start the search: %s",
		    ids[i], ct_strerror(rc));
	}
	return 0;
}
