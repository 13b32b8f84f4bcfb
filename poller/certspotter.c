/*
 * certspotter: Cert Spotter /v1/issuances parser, token loader, cursor and
 * paging driver (see certspotter.h).
 *
 * The driver asks for one page at a time on the caller's libuv loop
 * (pages depend on each other through after=). The done callback is the
 * last thing any path does, so it may free the query.
 */
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/hash.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "certspotter.h"
#include "http.h"
#include "json.h"
#include "state.h"

#define CS_WHY_LEN 200
#define CS_AUTH_PREFIX "Authorization: Bearer "
#define CS_AUTH_LEN (sizeof(CS_AUTH_PREFIX) + CERTSPOTTER_MAX_TOKEN_BYTES)
#define CS_NAME_HASH_OVER 200 /* cursor names longer than this are hashed */
#define CS_API_MSG_BYTES 120  /* an API error message quoted in an error */

const char *const certspotter_status_names[CERTSPOTTER__MAX] = {
    [CERTSPOTTER_OK] = "ok",
    [CERTSPOTTER_NO_CERT] = "no certificate",
    [CERTSPOTTER_MISMATCH] = "mismatch",
};

/* ------------------------------------------------------------ parser */

void
certspotter_issuance_clear(struct certspotter_issuance *it)
{
	size_t i;

	if (it == NULL)
		return;
	for (i = 0; i < it->n_dns_names; i++)
		free(it->dns_names[i].name);
	free(it->dns_names);
	free(it->issuer_name);
	free(it->issuer_friendly_name);
	cert_free(it->cert);
	memset(it, 0, sizeof(*it));
}

void
certspotter_page_clear(struct certspotter_page *p)
{
	size_t i;

	if (p == NULL)
		return;
	for (i = 0; i < p->n; i++)
		certspotter_issuance_clear(&p->items[i]);
	free(p->items);
	memset(p, 0, sizeof(*p));
}

/* Where a field lives, for messages: "issuance 3: issuer.name". */
struct cs_where {
	size_t i;
	const char *obj; /* "" or "issuer." or "cert." */
	char *why;
	size_t whysz;
};

/*
 * The token of member key, CT_ERR_NOT_FOUND when absent (why set if
 * required), CT_ERR_FORMAT for a duplicate. A null value counts as absent
 * when nullable.
 */
static int
member(const struct json_doc *d, int o, const char *key, bool required,
    bool nullable, const struct cs_where *w)
{
	int t = json_obj_get(d, o, key);

	if (t >= 0 && nullable && json_type(d, t) == JSON_NULL)
		t = CT_ERR_NOT_FOUND;
	if (t == CT_ERR_NOT_FOUND && required)
		util_why(w->why, w->whysz, "issuance %zu: no %s%s", w->i, w->obj,
		    key);
	else if (t < 0 && t != CT_ERR_NOT_FOUND)
		util_why(w->why, w->whysz, "issuance %zu: %s%s appears twice",
		    w->i, w->obj, key);
	if (t == CT_ERR_NOT_FOUND && required)
		return CT_ERR_FORMAT;
	return t < 0 && t != CT_ERR_NOT_FOUND ? CT_ERR_FORMAT : t;
}

static int
type_error(const struct cs_where *w, const char *key, const char *what)
{
	util_why(w->why, w->whysz, "issuance %zu: %s%s is not %s", w->i, w->obj,
	    key, what);
	return CT_ERR_FORMAT;
}

/* 64 hex digits into out. *have (may be NULL) says it was there. */
static int
get_hex32(const struct json_doc *d, int o, const char *key, bool required,
    bool *have, uint8_t out[32], const struct cs_where *w)
{
	char buf[65];
	size_t n;
	int t;

	if (have != NULL)
		*have = false;
	if ((t = member(d, o, key, required, !required, w)) < 0)
		return t == CT_ERR_NOT_FOUND ? 0 : t;
	if (json_type(d, t) != JSON_STRING)
		return type_error(w, key, "a string");
	if (json_get_str(d, t, 0, buf, sizeof(buf), &n) != 0 || n != 64 ||
	    util_hex_decode(buf, n, out, 32) != 32)
		return type_error(w, key, "64 hex digits");
	if (have != NULL)
		*have = true;
	return 0;
}

static int
get_time(const struct json_doc *d, int o, const char *key, int64_t *out,
    const struct cs_where *w)
{
	char buf[CERTSPOTTER_MAX_TIME_BYTES + 1];
	size_t n;
	int t;

	if ((t = member(d, o, key, true, false, w)) < 0)
		return t;
	if (json_type(d, t) != JSON_STRING)
		return type_error(w, key, "a string");
	if (json_get_str(d, t, 0, buf, sizeof(buf), &n) != 0 ||
	    util_time_parse_rfc3339(buf, n, out) != 0)
		return type_error(w, key, "an RFC 3339 time");
	return 0;
}

/* An optional string or null: *out NULL when absent. */
static int
get_opt_text(const struct json_doc *d, int o, const char *key, char **out,
    const struct cs_where *w)
{
	size_t n;
	int t, rc;

	*out = NULL;
	if ((t = member(d, o, key, false, true, w)) < 0)
		return t == CT_ERR_NOT_FOUND ? 0 : t;
	if (json_type(d, t) != JSON_STRING)
		return type_error(w, key, "a string");
	rc = json_get_str_alloc(d, t, 0, CERTSPOTTER_MAX_TEXT_BYTES, out, &n);
	if (rc == CT_ERR_NOMEM)
		return rc;
	if (rc != 0)
		return type_error(w, key, "a string of at most 4096 bytes");
	return 0;
}

static int
get_id(const struct json_doc *d, int o, uint64_t *id, const struct cs_where *w)
{
	char buf[CERTSPOTTER_MAX_ID_DIGITS + 1];
	size_t n;
	int t;

	if ((t = member(d, o, "id", true, false, w)) < 0)
		return t;
	if (json_type(d, t) != JSON_STRING)
		return type_error(w, "id", "a string");
	if (json_get_str(d, t, 0, buf, sizeof(buf), &n) != 0 ||
	    util_parse_u64(buf, n, UINT64_MAX, id) != 0 || *id == 0 ||
	    buf[0] == '0')
		return type_error(w, "id", "a decimal number");
	return 0;
}

static int
get_names(const struct json_doc *d, int o, struct certspotter_issuance *it,
    const struct cs_where *w)
{
	struct json_iter iter;
	int t, e, rc, n;
	size_t len;

	if ((t = member(d, o, "dns_names", false, true, w)) < 0)
		return t == CT_ERR_NOT_FOUND ? 0 : t;
	if (json_type(d, t) != JSON_ARRAY)
		return type_error(w, "dns_names", "an array");
	n = json_size(d, t);
	if (n > CERTSPOTTER_MAX_NAMES)
		return type_error(w, "dns_names", "at most 10000 names");
	it->has_dns_names = true;
	if (n > 0 &&
	    (it->dns_names = calloc((size_t)n, sizeof(*it->dns_names))) == NULL)
		return CT_ERR_NOMEM;
	json_iter_arr(d, t, &iter);
	while (json_iter_next(&iter, &e)) {
		if (json_type(d, e) != JSON_STRING)
			return type_error(w, "dns_names",
			    "an array of strings");
		rc = json_get_str_alloc(d, e, JSON_STR_ALLOW_NUL,
		    CERT_MAX_NAME_BYTES * 4,
		    &it->dns_names[it->n_dns_names].name, &len);
		if (rc == CT_ERR_NOMEM)
			return rc;
		if (rc != 0)
			return type_error(w, "dns_names",
			    "names of sane length");
		it->dns_names[it->n_dns_names++].len = len;
	}
	return 0;
}

static int
get_issuer(const struct json_doc *d, int o, struct certspotter_issuance *it,
    const struct cs_where *w)
{
	struct cs_where wi = *w;
	int t, rc;

	if ((t = member(d, o, "issuer", false, true, w)) < 0)
		return t == CT_ERR_NOT_FOUND ? 0 : t;
	if (json_type(d, t) != JSON_OBJECT)
		return type_error(w, "issuer", "an object");
	it->has_issuer = true;
	wi.obj = "issuer.";
	if ((rc = get_opt_text(d, t, "name", &it->issuer_name, &wi)) != 0 ||
	    (rc = get_opt_text(d, t, "friendly_name", &it->issuer_friendly_name,
	         &wi)) != 0 ||
	    (rc = get_hex32(d, t, "pubkey_sha256", false,
	         &it->has_issuer_pubkey_sha256, it->issuer_pubkey_sha256,
	         &wi)) != 0)
		return rc;
	return 0;
}

/* name (len bytes) is c's subject CN or a DNS SAN, ASCII case-insensitive. */
static bool
cert_has_name(const struct ct_cert *c, const char *name, size_t len)
{
	size_t i;

	if (memchr(name, '\0', len) == NULL && c->subject_cn != NULL &&
	    strlen(c->subject_cn) == len &&
	    strncasecmp(c->subject_cn, name, len) == 0)
		return true;
	for (i = 0; i < c->n_dns_names; i++) {
		const char *s = c->dns_names[i].name;
		size_t k;

		if (c->dns_names[i].len != len)
			continue;
		for (k = 0; k < len; k++) {
			unsigned char x = (unsigned char)s[k],
			              y = (unsigned char)name[k];

			if (x >= 'A' && x <= 'Z')
				x = (unsigned char)(x - 'A' + 'a');
			if (y >= 'A' && y <= 'Z')
				y = (unsigned char)(y - 'A' + 'a');
			if (x != y)
				break;
		}
		if (k == len)
			return true;
	}
	return false;
}

static void mismatch(struct certspotter_issuance *it, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
mismatch(struct certspotter_issuance *it, const char *fmt, ...)
{
	char msg[CERTSPOTTER_REASON_LEN + 64],
	    full[CERTSPOTTER_REASON_LEN + 96];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(full, sizeof(full), "Cert Spotter issuance %llu: %s",
	    (unsigned long long)it->id, msg);
	util_sanitize(full, strlen(full), it->reason, sizeof(it->reason));
	it->status = CERTSPOTTER_MISMATCH;
	cert_free(it->cert);
	it->cert = NULL;
}

/* Checks the included certificate against the issuance. */
static void
check_cert(struct certspotter_issuance *it, const uint8_t *der, size_t len,
    bool have_sha, const uint8_t sha[32])
{
	char a[65], b[65];
	struct ct_cert *c = NULL;
	size_t i;
	int rc;

	if ((rc = cert_parse_der(der, len, &c)) != 0) {
		mismatch(it, "certificate data does not parse (%s)",
		    ct_strerror(rc));
		return;
	}
	it->cert = c;
	if (memcmp(c->tbs_sha256, it->tbs_sha256, 32) != 0) {
		util_hex_encode(c->tbs_sha256, 32, a);
		util_hex_encode(it->tbs_sha256, 32, b);
		mismatch(it,
		    "certificate's tbs_sha256 %s differs from the "
		    "issuance's %s",
		    a, b);
		return;
	}
	if (have_sha && memcmp(c->sha256, sha, 32) != 0) {
		mismatch(it, "certificate data does not hash to cert.sha256");
		return;
	}
	if (c->precert != it->cert_is_precert) {
		mismatch(it, "cert.type is %s but the data is %s",
		    it->cert_is_precert ? "precert" : "cert",
		    c->precert ? "a precertificate" : "a certificate");
		return;
	}
	if (c->not_before != it->not_before || c->not_after != it->not_after) {
		mismatch(it,
		    "certificate validity differs from the "
		    "issuance's not_before/not_after");
		return;
	}
	if (it->has_pubkey_sha256 &&
	    memcmp(c->spki_sha256, it->pubkey_sha256, 32) != 0) {
		mismatch(it, "certificate key differs from pubkey_sha256");
		return;
	}
	for (i = 0; i < it->n_dns_names && !c->dns_names_truncated; i++)
		if (!cert_has_name(c, it->dns_names[i].name,
		        it->dns_names[i].len)) {
			mismatch(it,
			    "dns_names entry %zu is not in the "
			    "certificate",
			    i);
			return;
		}
	it->status = CERTSPOTTER_OK;
}

static int
get_cert(const struct json_doc *d, int o, struct certspotter_issuance *it,
    const struct cs_where *w)
{
	struct cs_where wc = *w;
	uint8_t sha[32], *der = NULL;
	size_t len = 0;
	bool have_sha;
	int t, tt, td, rc;

	it->status = CERTSPOTTER_NO_CERT;
	snprintf(it->reason, sizeof(it->reason),
	    "no certificate data (expand=cert)");
	if ((t = member(d, o, "cert", false, true, w)) < 0)
		return t == CT_ERR_NOT_FOUND ? 0 : t;
	if (json_type(d, t) != JSON_OBJECT)
		return type_error(w, "cert", "an object");
	wc.obj = "cert.";
	if ((tt = member(d, t, "type", true, false, &wc)) < 0 ||
	    (td = member(d, t, "data", true, false, &wc)) < 0)
		return CT_ERR_FORMAT;
	if (json_str_eq(d, tt, "precert", 7))
		it->cert_is_precert = true;
	else if (!json_str_eq(d, tt, "cert", 4))
		return type_error(&wc, "type", "\"cert\" or \"precert\"");
	if (json_type(d, td) != JSON_STRING)
		return type_error(&wc, "data", "a string");
	if ((rc = get_hex32(d, t, "sha256", false, &have_sha, sha, &wc)) != 0)
		return rc;
	it->has_cert = true;
	it->reason[0] = '\0';
	rc = json_get_b64_alloc(d, td, CERT_MAX_DER_BYTES, &der, &len);
	if (rc == CT_ERR_NOMEM)
		return rc;
	if (rc != 0)
		mismatch(it, "cert.data is not base64 of at most %d bytes",
		    CERT_MAX_DER_BYTES);
	else
		check_cert(it, der, len, have_sha, sha);
	free(der);
	return 0;
}

static int
parse_issuance(const struct json_doc *d, int o, size_t i,
    struct certspotter_issuance *it, char *why, size_t whysz)
{
	struct cs_where w = {i, "", why, whysz};
	uint8_t junk[32];
	int t, rc;

	if (json_type(d, o) != JSON_OBJECT) {
		util_why(why, whysz, "issuance %zu is not an object", i);
		return CT_ERR_FORMAT;
	}
	if ((rc = get_id(d, o, &it->id, &w)) != 0 ||
	    (rc = get_hex32(d, o, "tbs_sha256", true, NULL, it->tbs_sha256,
	         &w)) != 0 ||
	    (rc = get_hex32(d, o, "pubkey_sha256", false,
	         &it->has_pubkey_sha256, it->pubkey_sha256, &w)) != 0 ||
	    (rc = get_hex32(d, o, "cert_sha256", false, NULL, junk, &w)) != 0 ||
	    (rc = get_time(d, o, "not_before", &it->not_before, &w)) != 0 ||
	    (rc = get_time(d, o, "not_after", &it->not_after, &w)) != 0)
		return rc;
	if ((t = member(d, o, "revoked", false, true, &w)) >= 0) {
		if (json_get_bool(d, t, &it->revoked) != 0)
			return type_error(&w, "revoked", "a boolean");
		it->has_revoked = true;
	} else if (t != CT_ERR_NOT_FOUND) {
		return t;
	}
	if ((rc = get_names(d, o, it, &w)) != 0 ||
	    (rc = get_issuer(d, o, it, &w)) != 0)
		return rc;
	return get_cert(d, o, it, &w);
}

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
certspotter_parse(const char *body, size_t len, struct certspotter_page *out,
    char *why, size_t whysz)
{
	struct json_doc *d = NULL;
	struct json_iter it;
	size_t n, i = 0;
	int e, rc;

	if (why != NULL && whysz > 0)
		why[0] = '\0';
	if (out == NULL || (body == NULL && len > 0))
		return CT_ERR_INVALID;
	memset(out, 0, sizeof(*out));
	if ((rc = json_parse_array_body(body, len, CERTSPOTTER_MAX_BODY_BYTES, &d, why,
		 whysz)) != 0)
		return rc;
	n = (size_t)json_size(d, JSON_ROOT);
	if (n > CERTSPOTTER_MAX_PAGE_ITEMS) {
		util_why(why, whysz, "over %d issuances in one response",
		    CERTSPOTTER_MAX_PAGE_ITEMS);
		rc = CT_ERR_TOO_BIG;
		goto out;
	}
	if (n > 0 && (out->items = calloc(n, sizeof(*out->items))) == NULL) {
		rc = CT_ERR_NOMEM;
		goto out;
	}
	json_iter_arr(d, JSON_ROOT, &it);
	while (i < n && json_iter_next(&it, &e)) {
		rc = parse_issuance(d, e, i, &out->items[i], why, whysz);
		out->n = ++i;
		if (rc != 0)
			goto out;
	}
out:
	if (rc == CT_ERR_NOMEM)
		util_why(why, whysz, "out of memory");
	json_free(d);
	if (rc != 0)
		certspotter_page_clear(out);
	return rc;
}

/* ------------------------------------------------------------ URL, cursor */

static int
url_escape(struct util_buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	char esc[3];
	size_t i;
	int rc = 0;

	for (i = 0; i < n && rc == 0; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		    c == '_' || c == '~') {
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

int
certspotter_url(const char *base, const struct names_watch *w,
    bool include_expired, uint64_t after, char *out, size_t outsz)
{
	struct util_buf b;
	size_t bn;
	int rc;

	if (base == NULL || w == NULL || out == NULL || outsz == 0)
		return CT_ERR_INVALID;
	out[0] = '\0';
	bn = strnlen(base, CERTSPOTTER_MAX_URL_BYTES + 1);
	while (bn > 0 && base[bn - 1] == '/')
		bn--;
	if (bn == 0 || bn > CERTSPOTTER_MAX_URL_BYTES || w->len == 0)
		return CT_ERR_INVALID;
	util_buf_init(&b, CERTSPOTTER_MAX_URL_BYTES);
	rc = util_buf_append(&b, base, bn);
	if (rc == 0)
		rc = util_buf_append_str(&b, "/v1/issuances?domain=");
	if (rc == 0)
		rc = url_escape(&b, w->name, w->len);
	if (rc == 0 && w->subdomains)
		rc = util_buf_append_str(&b, "&include_subdomains=true");
	if (rc == 0)
		rc = util_buf_append_str(&b,
		    "&match_wildcards=true"
		    "&expand=dns_names&expand=issuer"
		    "&expand=cert");
	if (rc == 0 && include_expired)
		rc = util_buf_append_str(&b, "&expired=true");
	if (rc == 0 && after != 0)
		rc = util_buf_printf(&b, "&after=%llu",
		    (unsigned long long)after);
	if (rc == 0 && (rc = util_buf_cstr(&b)) == 0) {
		if (b.len + 1 > outsz)
			rc = CT_ERR_TOO_BIG;
		else
			memcpy(out, b.data, b.len + 1);
	}
	util_buf_clear(&b);
	return rc;
}

void
certspotter_cursor_path(const struct names_watch *w,
    char out[CERTSPOTTER_CURSOR_PATH_LEN])
{
	uint8_t h[32];
	char hex[65];

	if (w->len + 1 <= CS_NAME_HASH_OVER) {
		snprintf(out, CERTSPOTTER_CURSOR_PATH_LEN,
		    "certspotter/%s%s.cursor", w->subdomains ? "." : "",
		    w->name);
		return;
	}
	/* Too long for one file name component: hash it. */
	if (w->subdomains) {
		char tmp[NAMES_MAX_NAME_BYTES + 2];

		snprintf(tmp, sizeof(tmp), ".%s", w->name);
		wc_Sha256Hash((const byte *)tmp, (word32)strlen(tmp), h);
	} else {
		wc_Sha256Hash((const byte *)w->name, (word32)w->len, h);
	}
	util_hex_encode(h, sizeof(h), hex);
	snprintf(out, CERTSPOTTER_CURSOR_PATH_LEN,
	    "certspotter/sha256-%s.cursor", hex);
}

int
certspotter_cursor_load(struct state *st, const struct names_watch *w,
    uint64_t *cursor)
{
	char path[CERTSPOTTER_CURSOR_PATH_LEN];
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc;

	if (st == NULL || w == NULL || cursor == NULL)
		return CT_ERR_INVALID;
	certspotter_cursor_path(w, path);
	rc = state_read(st, path, CERTSPOTTER_CURSOR_MAX_BYTES, &buf, &len);
	if (rc == CT_ERR_TOO_BIG)
		rc = CT_ERR_FORMAT;
	if (rc != 0)
		return rc;
	if (len > 0 && buf[len - 1] == '\n')
		len--;
	rc = util_parse_u64((const char *)buf, len, UINT64_MAX, cursor);
	if (rc != 0 || *cursor == 0)
		rc = CT_ERR_FORMAT;
	free(buf);
	return rc;
}

int
certspotter_cursor_store(struct state *st, const struct names_watch *w,
    uint64_t cursor, uint32_t lock_timeout_ms)
{
	char path[CERTSPOTTER_CURSOR_PATH_LEN], text[32];
	struct state_lock *l = NULL;
	uint64_t old = 0;
	int rc, n;

	if (st == NULL || w == NULL || cursor == 0)
		return CT_ERR_INVALID;
	if ((rc = state_lock(st, CERTSPOTTER_LOCK_NAME, lock_timeout_ms, &l)) !=
	    0)
		return rc;
	/* A slower run must not move a newer cursor backwards. */
	if (certspotter_cursor_load(st, w, &old) == 0 && old >= cursor)
		goto out;
	certspotter_cursor_path(w, path);
	n = snprintf(text, sizeof(text), "%llu\n", (unsigned long long)cursor);
	rc = state_write(st, path, text, (size_t)n);
out:
	state_unlock(l);
	return rc;
}

/* ------------------------------------------------------------ token */

/* A token goes into a header: printable ASCII, no space, sane length. */
static int
token_bytes_ok(const char *s, size_t n)
{
	size_t i;

	if (n == 0)
		return CT_ERR_FORMAT;
	if (n > CERTSPOTTER_MAX_TOKEN_BYTES)
		return CT_ERR_TOO_BIG;
	for (i = 0; i < n; i++)
		if (s[i] <= ' ' || s[i] >= 0x7f)
			return CT_ERR_FORMAT;
	return 0;
}

/* Drops one trailing newline (LF or CRLF) and checks the token. */
static int
token_check(char *buf, size_t n)
{
	if (n > 0 && buf[n - 1] == '\n') {
		n--;
		if (n > 0 && buf[n - 1] == '\r')
			n--;
	}
	buf[n] = '\0';
	return token_bytes_ok(buf, n);
}

static int
token_from_file(const char *path, char *tmp, size_t tmpsz, size_t *n,
    bool *loose)
{
	struct stat sb;
	ssize_t r;
	int fd, rc = 0;

	*n = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0)
		return CT_ERR_IO;
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		rc = CT_ERR_IO;
		goto out;
	}
	if (loose != NULL)
		*loose = (sb.st_mode & 077) != 0;
	while (*n < tmpsz - 1) {
		r = read(fd, tmp + *n, tmpsz - 1 - *n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = CT_ERR_IO;
			goto out;
		}
		if (r == 0)
			break;
		*n += (size_t)r;
	}
	if (*n == tmpsz - 1)
		rc = CT_ERR_TOO_BIG;
out:
	close(fd);
	return rc;
}

int
certspotter_load_token(const char *path, char *buf, size_t bufsz, bool *loose)
{
	char tmp[CERTSPOTTER_MAX_TOKEN_FILE_BYTES + 1];
	const char *env;
	size_t n = 0;
	int rc;

	if (loose != NULL)
		*loose = false;
	if (buf == NULL || bufsz == 0)
		return CT_ERR_INVALID;
	buf[0] = '\0';
	if (path != NULL) {
		rc = token_from_file(path, tmp, sizeof(tmp), &n, loose);
	} else {
		env = getenv(CERTSPOTTER_TOKEN_ENV);
		if (env == NULL || env[0] == '\0')
			return CT_ERR_NOT_FOUND;
		n = strnlen(env, sizeof(tmp));
		rc = n >= sizeof(tmp) ? CT_ERR_TOO_BIG : 0;
		if (rc == 0)
			memcpy(tmp, env, n);
	}
	if (rc == 0)
		rc = token_check(tmp, n);
	if (rc == 0 && strlen(tmp) + 1 > bufsz)
		rc = CT_ERR_TOO_BIG;
	if (rc == 0)
		memcpy(buf, tmp, strlen(tmp) + 1);
	else
		util_zero(buf, bufsz);
	util_zero(tmp, sizeof(tmp));
	return rc;
}

/* ------------------------------------------------------------ driver */

struct certspotter_run {
	struct certspotter_query *q;
	certspotter_done_cb cb;
	void *arg;
	struct names_watch watch;
	char base[CERTSPOTTER_MAX_URL_BYTES + 1];
	char *ca_file;
	char auth[CS_AUTH_LEN]; /* "" without a token; zeroed when freed */
	uint64_t after;
	size_t cap; /* of q->result.items */
	bool done;
};

void
certspotter_query_init(struct certspotter_query *q)
{
	memset(q, 0, sizeof(*q));
	q->use_cursor = true;
	q->max_pages = CERTSPOTTER_DEFAULT_MAX_PAGES;
	q->timeout_ms = CERTSPOTTER_TIMEOUT_MS;
	q->lock_timeout_ms = STATE_LOCK_DEFAULT_MS;
}

static void
run_free(struct certspotter_run *run)
{
	if (run == NULL)
		return;
	util_zero(run->auth, sizeof(run->auth));
	free(run->ca_file);
	free(run);
}

void
certspotter_query_clear(struct certspotter_query *q)
{
	size_t i;

	if (q == NULL)
		return;
	for (i = 0; i < q->result.n; i++)
		certspotter_issuance_clear(&q->result.items[i]);
	free(q->result.items);
	memset(&q->result, 0, sizeof(q->result));
	run_free(q->run);
	q->run = NULL;
}

static void run_error(struct certspotter_run *run, int status, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));

static void
run_error(struct certspotter_run *run, int status, const char *fmt, ...)
{
	struct certspotter_result *r = &run->q->result;
	char msg[CERTSPOTTER_ERROR_LEN];
	va_list ap;

	if (r->status != 0)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	r->status = status;
	util_sanitize(msg, strlen(msg), r->error, sizeof(r->error));
}

static void
store_cursor(struct certspotter_query *q, const struct names_watch *w)
{
	struct certspotter_result *r = &q->result;
	int rc;

	if (r->cursor_out == 0 ||
	    (r->had_cursor && r->cursor_out <= r->cursor_in))
		return;
	rc = certspotter_cursor_store(q->state, w, r->cursor_out,
	    q->lock_timeout_ms);
	if (rc == 0)
		r->cursor_stored = true;
	else
		snprintf(r->cursor_note, sizeof(r->cursor_note),
		    "cursor not stored: %s",
		    rc == CT_ERR_TIMEOUT ? "the state lock stayed busy"
		                         : ct_strerror(rc));
}

/* Completes the run; the callback is the very last step. */
static void
run_finish(struct certspotter_run *run)
{
	struct certspotter_query *q = run->q;
	struct certspotter_result *r = &q->result;
	size_t i;

	if (run->done)
		return;
	run->done = true;
	util_zero(run->auth, sizeof(run->auth));
	for (i = 0; i < r->n; i++) {
		if (r->items[i].status == CERTSPOTTER_MISMATCH)
			r->n_mismatch++;
		else if (r->items[i].status == CERTSPOTTER_NO_CERT)
			r->n_no_cert++;
	}
	if (r->status != 0 || r->incomplete)
		snprintf(r->cursor_note, sizeof(r->cursor_note),
		    "cursor not stored: the pass did not finish");
	else if (q->state != NULL && q->use_cursor && !q->defer_cursor)
		store_cursor(q, &run->watch);
	run->cb(q, run->arg);
}

int
certspotter_commit_cursor(struct certspotter_query *q)
{
	struct certspotter_result *r;

	if (q == NULL || q->run == NULL || !q->run->done)
		return CT_ERR_INVALID;
	r = &q->result;
	/*
	 * The caller has recorded every issuance it was given, so even a
	 * pass cut short (page cap, a failed page) may move the cursor to
	 * the last id received: a long backlog drains over several runs.
	 */
	if (q->state == NULL || !q->use_cursor ||
	    r->cursor_out == r->cursor_in)
		return 0;
	r->cursor_note[0] = '\0';
	store_cursor(q, &q->run->watch);
	return r->cursor_stored || r->cursor_note[0] == '\0' ? 0 : CT_ERR_IO;
}

/* How an issuance concerns the watch (names as sent, else the cert's). */
static enum names_match
item_match(const struct names_watch *w, const struct certspotter_issuance *it)
{
	struct names_item one, *v = NULL;
	const struct ct_cert *c = it->cert;
	enum names_match m;
	size_t i, n;

	if (it->has_dns_names && it->n_dns_names > 0) {
		n = it->n_dns_names;
		if ((v = calloc(n, sizeof(*v))) == NULL)
			return NAMES_UNPARSABLE; /* fail-safe */
		for (i = 0; i < n; i++) {
			v[i].name = it->dns_names[i].name;
			v[i].len = it->dns_names[i].len;
		}
		m = names_cert_matches(w, v, n, NULL, 0, NULL);
		free(v);
		return m;
	}
	if (c == NULL)
		return NAMES_UNPARSABLE; /* nothing to go by: keep it */
	if (c->n_dns_names > 0) {
		if ((v = calloc(c->n_dns_names, sizeof(*v))) == NULL)
			return NAMES_UNPARSABLE;
		for (i = 0; i < c->n_dns_names; i++) {
			v[i].name = c->dns_names[i].name;
			v[i].len = c->dns_names[i].len;
		}
		m = names_cert_matches(w, v, c->n_dns_names, NULL, 0, NULL);
		free(v);
		return m;
	}
	one.name = c->subject_cn;
	one.len = c->subject_cn != NULL ? strlen(c->subject_cn) : 0;
	return names_cert_matches(w, NULL, 0, &one, one.name ? 1 : 0, NULL);
}

/* Moves the matching issuances of page into the result. */
static int
take_page(struct certspotter_run *run, struct certspotter_page *page)
{
	struct certspotter_result *r = &run->q->result;
	struct certspotter_issuance *p;
	size_t i, ncap;

	for (i = 0; i < page->n; i++) {
		struct certspotter_issuance *it = &page->items[i];

		it->match = item_match(&run->watch, it);
		if (it->match == NAMES_NO_MATCH) {
			r->n_unrelated++;
			continue;
		}
		if (r->n >= CERTSPOTTER_MAX_ITEMS) {
			r->incomplete = true;
			break;
		}
		if (r->n == run->cap) {
			ncap = run->cap ? run->cap * 2 : 64;
			if ((p = realloc(r->items, ncap * sizeof(*p))) == NULL)
				return CT_ERR_NOMEM;
			r->items = p;
			run->cap = ncap;
		}
		r->items[r->n++] = *it;
		memset(it, 0, sizeof(*it));
	}
	certspotter_page_clear(page);
	return 0;
}

static int start_page(struct certspotter_run *run);

/* The API's own message from an error body, if it sent one. */
static void
api_message(const struct http_response *resp, char *out, size_t outsz)
{
	struct json_doc *d = NULL;
	char msg[CS_API_MSG_BYTES + 1];
	size_t n;
	int t;

	out[0] = '\0';
	if (resp->body == NULL ||
	    json_parse((const char *)resp->body, resp->len, NULL, &d) != 0)
		return;
	t = json_obj_get(d, JSON_ROOT, "message");
	if (json_get_str(d, t, 0, msg, sizeof(msg), &n) == 0 && n > 0) {
		snprintf(out, outsz, ": ");
		util_sanitize(msg, n, out + 2, outsz - 2);
	}
	json_free(d);
}

static void
http_failed(struct certspotter_run *run, const struct http_response *resp)
{
	char api[CS_API_MSG_BYTES + 8];

	if (resp->status == CT_ERR_PROTO &&
	    (resp->http_code == 401 || resp->http_code == 403)) {
		if (run->q->token != NULL)
			run_error(run, CT_ERR_AUTH,
			    "Cert Spotter: token rejected (HTTP %ld)",
			    resp->http_code);
		else
			run_error(run, CT_ERR_AUTH,
			    "Cert Spotter: HTTP %ld without an API token "
			    "(set " CERTSPOTTER_TOKEN_ENV ")",
			    resp->http_code);
		return;
	}
	api_message(resp, api, sizeof(api));
	run_error(run, resp->status, "Cert Spotter: %s%s", resp->error, api);
}

static void
on_page(struct http_response *resp, void *arg)
{
	struct certspotter_run *run = arg;
	struct certspotter_query *q = run->q;
	struct certspotter_result *r = &q->result;
	struct certspotter_page page;
	char why[CS_WHY_LEN];
	uint64_t last;
	int rc;

	if (resp->status != 0) {
		http_failed(run, resp);
		goto finish;
	}
	r->pages++;
	rc = certspotter_parse((const char *)resp->body, resp->len, &page, why,
	    sizeof(why));
	if (rc != 0) {
		if (rc != CT_ERR_TRUNCATED &&
		    first_byte((const char *)resp->body, resp->len) == '<')
			run_error(run, CT_ERR_FORMAT,
			    "Cert Spotter: response is not JSON (%s)",
			    resp->content_type[0] != '\0' ? resp->content_type
			                                  : "no Content-Type");
		else
			run_error(run, rc, "Cert Spotter: %s", why);
		goto finish;
	}
	if (page.n == 0)
		goto finish; /* a whole pass */
	last = page.items[page.n - 1].id;
	if (last <= run->after) {
		certspotter_page_clear(&page);
		run_error(run, CT_ERR_PROTO,
		    "Cert Spotter: paging did not advance past id %llu",
		    (unsigned long long)run->after);
		goto finish;
	}
	if ((rc = take_page(run, &page)) != 0) {
		certspotter_page_clear(&page);
		run_error(run, rc, "Cert Spotter: out of memory");
		goto finish;
	}
	run->after = r->cursor_out = last;
	if (r->incomplete || r->pages >= q->max_pages) {
		r->incomplete = true;
		goto finish;
	}
	if ((rc = start_page(run)) != 0) {
		run_error(run, rc,
		    "Cert Spotter: cannot request the next "
		    "page: %s",
		    ct_strerror(rc));
		goto finish;
	}
	return;
finish:
	run_finish(run);
}

static int
start_page(struct certspotter_run *run)
{
	struct certspotter_query *q = run->q;
	const char *hdrs[2];
	struct http_request req;
	char url[CERTSPOTTER_MAX_URL_BYTES + 1];
	int rc;

	rc = certspotter_url(run->base, &run->watch, q->include_expired,
	    run->after, url, sizeof(url));
	if (rc != 0)
		return rc;
	http_request_init(&req);
	req.url = url;
	hdrs[0] = "Accept: application/json";
	hdrs[1] = run->auth;
	req.headers = hdrs;
	req.nheaders = run->auth[0] != '\0' ? 2 : 1;
	req.max_body_bytes = CERTSPOTTER_MAX_BODY_BYTES;
	req.timeout_ms = q->timeout_ms;
	req.allow_http = q->allow_http;
	req.ca_file = run->ca_file;
	return http_get(q->http, &req, on_page, run);
}

int
certspotter_run(struct certspotter_query *q, certspotter_done_cb cb, void *arg)
{
	struct certspotter_run *run = NULL;
	const char *base;
	size_t bn, tn = 0;
	int rc;

	if (q == NULL || cb == NULL || q->http == NULL || q->watch == NULL ||
	    q->run != NULL || q->max_pages == 0 || q->timeout_ms == 0)
		return CT_ERR_INVALID;
	if (q->token != NULL) {
		tn = strnlen(q->token, CERTSPOTTER_MAX_TOKEN_BYTES + 1);
		if (token_bytes_ok(q->token, tn) != 0)
			return CT_ERR_INVALID;
	}
	base = q->base_url != NULL ? q->base_url : CERTSPOTTER_DEFAULT_URL;
	bn = strnlen(base, CERTSPOTTER_MAX_URL_BYTES + 1);
	if (bn == 0 || bn > CERTSPOTTER_MAX_URL_BYTES)
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
	if (q->token != NULL)
		snprintf(run->auth, sizeof(run->auth), "%s%s", CS_AUTH_PREFIX,
		    q->token);
	if (q->state != NULL && q->use_cursor &&
	    certspotter_cursor_load(q->state, q->watch, &run->after) == 0) {
		q->result.had_cursor = true;
		q->result.cursor_in = q->result.cursor_out = run->after;
	} else {
		run->after = 0;
	}
	q->run = run;
	if ((rc = start_page(run)) != 0) {
		q->run = NULL;
		run_free(run);
		return rc;
	}
	return 0;
}
