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

#include "crtsh.h"
#include "http.h"
#include "json.h"
#include "state.h"

#define CRTSH_WHY_LEN 200

const char *const crtsh_entry_status_names[CRTSH_ENTRY__MAX] = {
    [CRTSH_ENTRY_OK] = "ok",
    [CRTSH_ENTRY_PENDING] = "pending",
    [CRTSH_ENTRY_DOWNLOAD_FAILED] = "download failed",
    [CRTSH_ENTRY_MISMATCH] = "mismatch",
};

static void why_set(char *why, size_t whysz, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Formats into why, sanitised (crt.sh texts may appear in it). */
static void
why_set(char *why, size_t whysz, const char *fmt, ...)
{
	char msg[CRTSH_ERROR_LEN + CRTSH_REASON_LEN];
	va_list ap;

	if (why == NULL || whysz == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	util_sanitize(msg, strlen(msg), why, whysz);
}

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
		why_set(why, whysz, "row %zu: no %s", i, key);
	else if (t < 0)
		why_set(why, whysz, "row %zu: %s appears twice", i, key);
	return t < 0 ? CT_ERR_FORMAT : t;
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
		why_set(why, whysz, "row %zu: %s is not a string", i, key);
		return CT_ERR_FORMAT;
	}
	rc = json_get_str_alloc(d, t, JSON_STR_ALLOW_NUL, max, out, outlen);
	if (rc == CT_ERR_TOO_BIG)
		why_set(why, whysz, "row %zu: %s over %zu bytes", i, key, max);
	else if (rc != 0)
		why_set(why, whysz, "row %zu: %s: %s", i, key, ct_strerror(rc));
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
		why_set(why, whysz, "row %zu: %s is not a number", i, key);
		return CT_ERR_FORMAT;
	}
	if ((rc = json_get_u64(d, t, out)) != 0) {
		why_set(why, whysz, "row %zu: %s is not a whole number", i,
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
		why_set(why, whysz, "row %zu: %s is not a string", i, key);
		return CT_ERR_FORMAT;
	}
	if (json_get_str(d, t, 0, buf, sizeof(buf), &n) != 0 ||
	    parse_time(buf, n, out) != 0) {
		why_set(why, whysz, "row %zu: %s is not a time", i, key);
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
		why_set(why, whysz, "row %zu: serial_number is not a string",
		    i);
		return CT_ERR_FORMAT;
	}
	if (json_get_str(d, t, 0, out, CRTSH_MAX_SERIAL_HEX + 1, &n) != 0 ||
	    n == 0 || n % 2 != 0)
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
	why_set(why, whysz, "row %zu: serial_number is not a hex serial", i);
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
		why_set(why, whysz, "row %zu is not an object", i);
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
		why_set(why, whysz, "row %zu: id is 0", i);
		return CT_ERR_FORMAT;
	}
	t = json_obj_get(d, o, "result_count");
	if (t >= 0 && json_get_u64(d, t, &u) != 0) {
		why_set(why, whysz, "row %zu: result_count is not a number", i);
		return CT_ERR_FORMAT;
	}
	if (t < 0 && t != CT_ERR_NOT_FOUND) {
		why_set(why, whysz, "row %zu: result_count appears twice", i);
		return CT_ERR_FORMAT;
	}
	if ((rc = split_names(row)) != 0)
		why_set(why, whysz, "out of memory");
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
	struct json_limits lim = {CRTSH_MAX_BODY_BYTES, 0, 0};
	struct json_doc *d = NULL;
	struct json_iter it;
	size_t nsent, i = 0;
	int c, e, rc;

	if (why != NULL && whysz > 0)
		why[0] = '\0';
	if (out == NULL || (body == NULL && len > 0))
		return CT_ERR_INVALID;
	memset(out, 0, sizeof(*out));
	if ((c = first_byte(body, len)) < 0) {
		why_set(why, whysz, "empty response");
		return CT_ERR_TRUNCATED;
	}
	if (c == '<') {
		why_set(why, whysz, "response is HTML, not JSON");
		return CT_ERR_FORMAT;
	}
	if ((rc = json_parse(body, len, &lim, &d)) != 0) {
		if (rc == CT_ERR_TRUNCATED)
			why_set(why, whysz, "response is cut short");
		else if (rc == CT_ERR_TOO_BIG)
			why_set(why, whysz, "response over the JSON caps");
		else
			why_set(why, whysz, "response is not JSON (%s)",
			    ct_strerror(rc));
		return rc;
	}
	if (json_type(d, JSON_ROOT) != JSON_ARRAY) {
		why_set(why, whysz, "response is a JSON %s, not an array",
		    json_type_names[json_type(d, JSON_ROOT)]);
		rc = CT_ERR_FORMAT;
		goto out;
	}
	nsent = (size_t)json_size(d, JSON_ROOT);
	out->n_sent = nsent;
	out->incomplete = nsent >= CRTSH_MAX_ROWS;
	if (nsent > CRTSH_MAX_ROWS)
		nsent = CRTSH_MAX_ROWS;
	if (nsent > 0 &&
	    (out->rows = calloc(nsent, sizeof(*out->rows))) == NULL) {
		why_set(why, whysz, "out of memory");
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

/* name is c's subject CN or one of its DNS SANs. */
static bool
cert_has_name(const struct ct_cert *c, const char *name, size_t len)
{
	size_t i;

	if (c->subject_cn != NULL && strlen(c->subject_cn) == len &&
	    mem_case_eq(c->subject_cn, name, len))
		return true;
	for (i = 0; i < c->n_dns_names; i++)
		if (c->dns_names[i].len == len &&
		    mem_case_eq(c->dns_names[i].name, name, len))
			return true;
	return false;
}

int
crtsh_verify_download(const struct crtsh_row *row, const uint8_t *body,
    size_t len, struct ct_cert **cert, char *why, size_t whysz)
{
	struct ct_cert **v = NULL;
	char hex[2 * CRTSH_MAX_SERIAL_HEX + 3], tn[UTIL_RFC3339_LEN],
	    tr[UTIL_RFC3339_LEN];
	const char *a, *b;
	size_t n = 0, an, bn, i;
	unsigned long long id;
	int rc;

	if (why != NULL && whysz > 0)
		why[0] = '\0';
	if (row == NULL || cert == NULL || (body == NULL && len > 0))
		return CT_ERR_INVALID;
	*cert = NULL;
	id = (unsigned long long)row->id;
	if ((rc = cert_parse_buf(body, len, &v, &n)) != 0) {
		why_set(why, whysz,
		    "crt.sh id %llu: download is not a certificate (%s)", id,
		    ct_strerror(rc));
		return rc == CT_ERR_NOMEM ? rc : CT_ERR_FORMAT;
	}
	rc = CT_ERR_FORMAT;
	if (n != 1) {
		why_set(why, whysz,
		    "crt.sh id %llu: download holds %zu certificates, not 1",
		    id, n);
		goto out;
	}
	cert_serial_hex(v[0], hex, sizeof(hex));
	a = serial_trim(hex, &an);
	b = serial_trim(row->serial, &bn);
	if (v[0]->serial_len > (sizeof(hex) - 1) / 2 || an != bn ||
	    !mem_case_eq(a, b, an)) {
		why_set(why, whysz,
		    "crt.sh id %llu: downloaded certificate's serial %s "
		    "differs from the row's %s",
		    id, hex, row->serial);
		goto out;
	}
	if (v[0]->not_before != row->not_before ||
	    v[0]->not_after != row->not_after) {
		bool nb = v[0]->not_before != row->not_before;

		util_time_rfc3339(nb ? v[0]->not_before : v[0]->not_after, tn);
		util_time_rfc3339(nb ? row->not_before : row->not_after, tr);
		why_set(why, whysz,
		    "crt.sh id %llu: downloaded certificate's %s %s differs "
		    "from the row's %s",
		    id, nb ? "notBefore" : "notAfter", tn, tr);
		goto out;
	}
	for (i = 0; i < row->n_names; i++)
		if (!cert_has_name(v[0], row->names[i].name,
		        row->names[i].len)) {
			why_set(why, whysz,
			    "crt.sh id %llu: row name %.*s is not in the "
			    "downloaded certificate",
			    id,
			    (int)(row->names[i].len > 255 ? 255
			                                  : row->names[i].len),
			    row->names[i].name);
			goto out;
		}
	*cert = v[0];
	v[0] = NULL;
	rc = 0;
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
};

void
crtsh_query_init(struct crtsh_query *q)
{
	memset(q, 0, sizeof(*q));
	q->max_downloads = CRTSH_DEFAULT_MAX_DOWNLOADS;
	q->max_inflight = CRTSH_DEFAULT_INFLIGHT;
	q->search_timeout_ms = CRTSH_SEARCH_TIMEOUT_MS;
	q->download_timeout_ms = CRTSH_DOWNLOAD_TIMEOUT_MS;
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
		why_set(e->reason, sizeof(e->reason), "crt.sh id %llu: %s",
		    (unsigned long long)e->row.id, resp->error);
	} else if ((rc = crtsh_verify_download(&e->row, resp->body, resp->len,
	                &e->cert, e->reason, sizeof(e->reason))) != 0) {
		e->status = rc == CT_ERR_NOMEM ? CRTSH_ENTRY_DOWNLOAD_FAILED
		                               : CRTSH_ENTRY_MISMATCH;
	} else {
		e->status = CRTSH_ENTRY_OK;
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
	        (run->queue = calloc(n, sizeof(*run->queue))) == NULL)) {
		run_error(run, CT_ERR_NOMEM, "crt.sh: out of memory");
		goto finish;
	}
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
		if (!from_cache(q, e))
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
