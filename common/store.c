/*
 * store: the known-certificate store. The record format and the rules a
 * record must meet are described in store.h.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cert.h"
#include "store.h"
#include "util.h"

#define LOCK_NAME ".lock"
#define TMP_PREFIX ".tmp-"
#define TMP_RANDOM_BYTES 8
#define TMP_NAME_LEN (sizeof(TMP_PREFIX) - 1 + 2 * TMP_RANDOM_BYTES)
#define TMP_CREATE_TRIES 8
#define REC_SUFFIX ".rec"
#define HASH_HEX_LEN 64
#define PEM_LINE_CHARS 64
#define HDR_MAX_LINES 64 /* header lines, known and unknown */
#define PEM_BEGIN "-----BEGIN CERTIFICATE-----"
#define PEM_END "-----END CERTIFICATE-----"

_Static_assert(STORE_REC_NAME_LEN == HASH_HEX_LEN + sizeof(REC_SUFFIX) - 1,
    "STORE_REC_NAME_LEN must fit a hex hash and the suffix");
_Static_assert(STORE_MAX_RECORDS < UINT32_MAX / 4,
    "index slots hold a record number in a uint32_t");

/* Header keys, in the order they are written. */
enum hdr_key {
	HDR_TBS_SHA256,
	HDR_SHA256,
	HDR_SPKI_SHA256,
	HDR_SERIAL,
	HDR_NOT_BEFORE,
	HDR_NOT_AFTER,
	HDR_FIRST_SEEN,
	HDR_SOURCE,
	HDR_NAMES,
	HDR__MAX
};

static const char *const hdr_names[HDR__MAX] = {
    "tbs_sha256",
    "sha256",
    "spki_sha256",
    "serial",
    "not_before",
    "not_after",
    "first_seen",
    "source",
    "names",
};

/* A parsed header: views into the record text. */
struct hdr {
	const char *val[HDR__MAX];
	size_t len[HDR__MAX];
};

struct store {
	char *dir;
	int dirfd;
	unsigned flags;
	size_t max_records;
	struct store_rec **recs;
	size_t n_recs;
	size_t recs_cap;
	uint32_t *slots; /* record number + 1; 0 is empty */
	size_t n_slots;  /* a power of two */
	struct store_stats stats;
	void (*log)(void *arg, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
	void *log_arg;
};

/* ------------------------------------------------------------ index */

static void
rec_free(struct store_rec *r)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < r->n_names; i++)
		free(r->names[i].name);
	free(r->names);
	free(r->serial);
	free(r->source);
	free(r);
}

static size_t
slot_of(const uint8_t tbs[32], size_t n_slots)
{
	uint64_t h = 0;
	int i;

	for (i = 0; i < 8; i++)
		h = h << 8 | tbs[i];
	return (size_t)(h & (n_slots - 1));
}

/* Record number of tbs, or -1. */
static long
index_find(const struct store *st, const uint8_t tbs[32])
{
	size_t i;
	uint32_t v;

	if (st->n_slots == 0)
		return -1;
	for (i = slot_of(tbs, st->n_slots);; i = (i + 1) & (st->n_slots - 1)) {
		if ((v = st->slots[i]) == 0)
			return -1;
		if (memcmp(st->recs[v - 1]->tbs_sha256, tbs, 32) == 0)
			return (long)(v - 1);
	}
}

static int
index_grow(struct store *st)
{
	size_t n = st->n_slots ? st->n_slots * 2 : 64, i, j;
	uint32_t *slots;

	if ((slots = calloc(n, sizeof(*slots))) == NULL)
		return CT_ERR_NOMEM;
	for (i = 0; i < st->n_recs; i++) {
		j = slot_of(st->recs[i]->tbs_sha256, n);
		while (slots[j] != 0)
			j = (j + 1) & (n - 1);
		slots[j] = (uint32_t)(i + 1);
	}
	free(st->slots);
	st->slots = slots;
	st->n_slots = n;
	return 0;
}

/* Takes ownership of r on success. The caller checked it is not there. */
static int
index_add(struct store *st, struct store_rec *r)
{
	struct store_rec **recs;
	size_t ncap, j;
	int rc;

	if (st->n_recs >= st->max_records)
		return CT_ERR_TOO_BIG;
	if (st->n_recs == st->recs_cap) {
		ncap = st->recs_cap ? st->recs_cap * 2 : 64;
		if ((recs = realloc(st->recs, ncap * sizeof(*recs))) == NULL)
			return CT_ERR_NOMEM;
		st->recs = recs;
		st->recs_cap = ncap;
	}
	if ((st->n_recs + 1) * 2 > st->n_slots && (rc = index_grow(st)) != 0)
		return rc;
	st->recs[st->n_recs] = r;
	j = slot_of(r->tbs_sha256, st->n_slots);
	while (st->slots[j] != 0)
		j = (j + 1) & (st->n_slots - 1);
	st->slots[j] = (uint32_t)(st->n_recs + 1);
	st->n_recs++;
	st->stats.records = st->n_recs;
	return 0;
}

/* The names a record keeps: DNS SANs, or the CN when there are none. */
static int
rec_copy_names(struct store_rec *r, const struct ct_cert *c)
{
	size_t i, n = c->n_dns_names ? c->n_dns_names : c->subject_cn != NULL;

	if (n == 0)
		return 0;
	if ((r->names = calloc(n, sizeof(*r->names))) == NULL)
		return CT_ERR_NOMEM;
	for (i = 0; i < n; i++) {
		const char *s =
		    c->n_dns_names ? c->dns_names[i].name : c->subject_cn;
		size_t len = c->n_dns_names ? c->dns_names[i].len
		                            : strlen(c->subject_cn);

		if ((r->names[i].name = malloc(len + 1)) == NULL)
			return CT_ERR_NOMEM;
		memcpy(r->names[i].name, s, len);
		r->names[i].name[len] = '\0';
		r->names[i].len = len;
		r->n_names = i + 1;
	}
	return 0;
}

/* source is already sanitised. */
static int
rec_from_cert(const struct ct_cert *c, int64_t first_seen, const char *source,
    struct store_rec **out)
{
	struct store_rec *r;
	size_t slen = 2 * c->serial_len + 1;
	int rc = CT_ERR_NOMEM;

	*out = NULL;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return CT_ERR_NOMEM;
	memcpy(r->tbs_sha256, c->tbs_sha256, 32);
	memcpy(r->sha256, c->sha256, 32);
	memcpy(r->spki_sha256, c->spki_sha256, 32);
	r->not_before = c->not_before;
	r->not_after = c->not_after;
	r->first_seen = first_seen;
	r->precert = c->precert;
	r->is_ca = c->is_ca;
	if ((r->serial = malloc(slen)) == NULL ||
	    (r->source = strdup(source)) == NULL)
		goto out;
	cert_serial_hex(c, r->serial, slen);
	if ((rc = rec_copy_names(r, c)) != 0)
		goto out;
	*out = r;
	r = NULL;
	rc = 0;
out:
	rec_free(r);
	return rc;
}

/* ------------------------------------------------------------ names */

/* True for exactly 64 lower-case hex digits + ".rec"; fills tbs. */
static bool
name_is_rec(const char *name, uint8_t tbs[32])
{
	size_t i;

	if (strlen(name) != STORE_REC_NAME_LEN ||
	    strcmp(name + HASH_HEX_LEN, REC_SUFFIX) != 0)
		return false;
	for (i = 0; i < HASH_HEX_LEN; i++)
		if (!((name[i] >= '0' && name[i] <= '9') ||
		        (name[i] >= 'a' && name[i] <= 'f')))
			return false;
	return util_hex_decode(name, HASH_HEX_LEN, tbs, 32) == 32;
}

static void
rec_name(const uint8_t tbs[32], char name[STORE_REC_NAME_LEN + 1])
{
	util_hex_encode(tbs, 32, name);
	memcpy(name + HASH_HEX_LEN, REC_SUFFIX, sizeof(REC_SUFFIX));
}

/* ------------------------------------------------------------ format */

/* One name for the header: no spaces, controls, '|' or high bytes. */
static int
append_name(struct util_buf *b, const struct cert_name *n)
{
	char s[CERT_MAX_NAME_BYTES + 2];
	size_t i,
	    len = n->len < CERT_MAX_NAME_BYTES ? n->len : CERT_MAX_NAME_BYTES;
	unsigned char ch;

	if (len == 0)
		return util_buf_append_str(b, " ?");
	s[0] = ' ';
	for (i = 0; i < len; i++) {
		ch = (unsigned char)n->name[i];
		s[i + 1] =
		    (ch <= 0x20 || ch >= 0x7f || ch == '|') ? '?' : (char)ch;
	}
	return util_buf_append(b, s, len + 1);
}

static int
append_pem(struct util_buf *b, const uint8_t *der, size_t der_len)
{
	size_t blen = util_b64_encoded_len(der_len), i, n;
	char *b64;
	int rc;

	if ((b64 = malloc(blen + 1)) == NULL)
		return CT_ERR_NOMEM;
	util_b64_encode(der, der_len, b64);
	rc = util_buf_append_str(b, PEM_BEGIN "\n");
	for (i = 0; rc == 0 && i < blen; i += n) {
		n = blen - i < PEM_LINE_CHARS ? blen - i : PEM_LINE_CHARS;
		if ((rc = util_buf_append(b, b64 + i, n)) == 0)
			rc = util_buf_append(b, "\n", 1);
	}
	if (rc == 0)
		rc = util_buf_append_str(b, PEM_END "\n");
	free(b64);
	return rc;
}

/* The whole record text for c into b (capped at STORE_MAX_RECORD_BYTES). */
static int
format_record(struct util_buf *b, const struct ct_cert *c,
    const struct store_rec *r)
{
	char tbs[HASH_HEX_LEN + 1], sha[HASH_HEX_LEN + 1];
	char spki[HASH_HEX_LEN + 1];
	char nb[UTIL_RFC3339_LEN], na[UTIL_RFC3339_LEN], fs[UTIL_RFC3339_LEN];
	size_t i;
	int rc;

	util_hex_encode(r->tbs_sha256, 32, tbs);
	util_hex_encode(r->sha256, 32, sha);
	util_hex_encode(r->spki_sha256, 32, spki);
	util_time_rfc3339(r->not_before, nb);
	util_time_rfc3339(r->not_after, na);
	util_time_rfc3339(r->first_seen, fs);
	rc = util_buf_printf(b,
	    "%s: %s\n%s: %s\n%s: %s\n%s: %s\n%s: %s\n%s: %s\n%s: %s\n"
	    "%s: %s\n%s:",
	    hdr_names[HDR_TBS_SHA256], tbs, hdr_names[HDR_SHA256], sha,
	    hdr_names[HDR_SPKI_SHA256], spki, hdr_names[HDR_SERIAL], r->serial,
	    hdr_names[HDR_NOT_BEFORE], nb, hdr_names[HDR_NOT_AFTER], na,
	    hdr_names[HDR_FIRST_SEEN], fs, hdr_names[HDR_SOURCE], r->source,
	    hdr_names[HDR_NAMES]);
	for (i = 0; rc == 0 && i < r->n_names; i++)
		rc = append_name(b, &r->names[i]);
	if (rc == 0)
		rc = util_buf_append(b, "\n\n", 2);
	if (rc == 0)
		rc = append_pem(b, c->der, c->der_len);
	return rc;
}

static bool
key_is(const char *p, size_t n, const char *key)
{
	return strlen(key) == n && memcmp(p, key, n) == 0;
}

/*
 * Reads the "key: value" lines up to the blank line; *off is left at the
 * first byte after it. Every known key must appear exactly once; unknown
 * keys are skipped; no value may hold a control byte.
 */
static int
parse_header(const char *t, size_t len, struct hdr *h, size_t *off)
{
	const char *line, *nl, *colon;
	size_t o = 0, n, i, lines = 0;
	int k;

	memset(h, 0, sizeof(*h));
	for (;;) {
		line = t + o;
		if ((nl = memchr(line, '\n', len - o)) == NULL)
			return CT_ERR_TRUNCATED;
		n = (size_t)(nl - line);
		o += n + 1;
		if (n == 0)
			break;
		if (++lines > HDR_MAX_LINES)
			return CT_ERR_FORMAT;
		if ((colon = memchr(line, ':', n)) == NULL || colon == line)
			return CT_ERR_FORMAT;
		for (i = 0; i < n; i++)
			if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
				return CT_ERR_FORMAT;
		for (k = 0; k < HDR__MAX; k++)
			if (key_is(line, (size_t)(colon - line), hdr_names[k]))
				break;
		if (k == HDR__MAX)
			continue;
		if (h->val[k] != NULL)
			return CT_ERR_FORMAT;
		h->val[k] = colon + 1;
		h->len[k] = (size_t)(nl - colon - 1);
		if (h->len[k] > 0 && h->val[k][0] == ' ') {
			h->val[k]++;
			h->len[k]--;
		}
	}
	for (k = 0; k < HDR__MAX; k++)
		if (h->val[k] == NULL)
			return CT_ERR_FORMAT;
	*off = o;
	return 0;
}

static bool
hdr_equals(const struct hdr *h, enum hdr_key k, const char *want)
{
	return key_is(h->val[k], h->len[k], want);
}

/* The header must describe c, and c must be the one the file is named by. */
static int
check_header(const struct hdr *h, const struct ct_cert *c,
    const uint8_t tbs[32])
{
	char hex[HASH_HEX_LEN + 1], t[UTIL_RFC3339_LEN], *serial;
	size_t slen = 2 * c->serial_len + 1;
	int rc = CT_ERR_FORMAT;

	if (memcmp(c->tbs_sha256, tbs, 32) != 0)
		return CT_ERR_FORMAT;
	util_hex_encode(c->tbs_sha256, 32, hex);
	if (!hdr_equals(h, HDR_TBS_SHA256, hex))
		return CT_ERR_FORMAT;
	util_hex_encode(c->sha256, 32, hex);
	if (!hdr_equals(h, HDR_SHA256, hex))
		return CT_ERR_FORMAT;
	util_hex_encode(c->spki_sha256, 32, hex);
	if (!hdr_equals(h, HDR_SPKI_SHA256, hex))
		return CT_ERR_FORMAT;
	util_time_rfc3339(c->not_before, t);
	if (!hdr_equals(h, HDR_NOT_BEFORE, t))
		return CT_ERR_FORMAT;
	util_time_rfc3339(c->not_after, t);
	if (!hdr_equals(h, HDR_NOT_AFTER, t))
		return CT_ERR_FORMAT;
	if ((serial = malloc(slen)) == NULL)
		return CT_ERR_NOMEM;
	cert_serial_hex(c, serial, slen);
	if (hdr_equals(h, HDR_SERIAL, serial))
		rc = 0;
	free(serial);
	return rc;
}

/* The PEM block must start at off, be a CERTIFICATE and end the file. */
static int
parse_pem(const char *t, size_t len, size_t off, struct ct_cert **out)
{
	char label[32];
	uint8_t *der = NULL;
	size_t der_len, o = off;
	int rc;

	*out = NULL;
	if (len - off < sizeof(PEM_BEGIN) - 1 ||
	    memcmp(t + off, PEM_BEGIN, sizeof(PEM_BEGIN) - 1) != 0)
		return CT_ERR_FORMAT;
	rc = util_pem_next(t, len, &o, label, sizeof(label), &der, &der_len);
	if (rc == CT_ERR_NOT_FOUND)
		rc = CT_ERR_TRUNCATED;
	if (rc != 0)
		goto out;
	rc = CT_ERR_FORMAT;
	if (strcmp(label, "CERTIFICATE") != 0)
		goto out;
	if (o >= len || t[o] != '\n') {
		rc = CT_ERR_TRUNCATED;
		goto out;
	}
	if (o + 1 != len) {
		rc = CT_ERR_TRAILING;
		goto out;
	}
	rc = cert_parse_der(der, der_len, out);
out:
	free(der);
	return rc;
}

/*
 * Validates a record's text against the tbs hash of its file name. Either
 * output may be NULL.
 */
static int
parse_record(const uint8_t *buf, size_t len, const uint8_t tbs[32],
    struct store_rec **rec_out, struct ct_cert **cert_out)
{
	const char *t = (const char *)buf;
	char source[STORE_MAX_SOURCE_BYTES];
	struct ct_cert *c = NULL;
	struct hdr h;
	int64_t first_seen;
	size_t off;
	int rc;

	if ((rc = parse_header(t, len, &h, &off)) != 0)
		return rc;
	if ((rc = util_time_parse_rfc3339(h.val[HDR_FIRST_SEEN],
	         h.len[HDR_FIRST_SEEN], &first_seen)) != 0)
		return rc;
	if ((rc = parse_pem(t, len, off, &c)) != 0)
		goto out;
	if ((rc = check_header(&h, c, tbs)) != 0)
		goto out;
	if (rec_out != NULL) {
		util_sanitize(h.val[HDR_SOURCE], h.len[HDR_SOURCE], source,
		    sizeof(source));
		if ((rc = rec_from_cert(c, first_seen, source, rec_out)) != 0)
			goto out;
	}
	if (cert_out != NULL) {
		*cert_out = c;
		c = NULL;
	}
out:
	cert_free(c);
	return rc;
}

/* ------------------------------------------------------------ files */

/*
 * Reads a regular file (no symlink) in the store directory, at most
 * max_bytes. CT_ERR_IO keeps errno (ENOENT when there is no such file).
 */
static int
read_at(int dirfd, const char *name, size_t max_bytes, uint8_t **out,
    size_t *len)
{
	struct util_buf b;
	struct stat sb;
	uint8_t chunk[16384];
	ssize_t n;
	int fd, rc = 0, saved;

	*out = NULL;
	*len = 0;
	util_buf_init(&b, max_bytes);
	fd =
	    openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return errno == ELOOP ? CT_ERR_FORMAT : CT_ERR_IO;
	if (fstat(fd, &sb) != 0)
		rc = CT_ERR_IO;
	else if (!S_ISREG(sb.st_mode))
		rc = CT_ERR_FORMAT;
	else if (sb.st_size < 0 || (uint64_t)sb.st_size > max_bytes)
		rc = CT_ERR_TOO_BIG;
	while (rc == 0) {
		if ((n = read(fd, chunk, sizeof(chunk))) < 0) {
			if (errno != EINTR)
				rc = CT_ERR_IO;
			continue;
		}
		if (n == 0)
			break;
		rc = util_buf_append(&b, chunk, (size_t)n);
	}
	saved = errno;
	close(fd);
	if (rc == 0)
		rc = util_buf_cstr(&b);
	if (rc != 0) {
		util_buf_clear(&b);
		errno = saved;
		return rc;
	}
	*out = util_buf_take(&b, len);
	return 0;
}

static int
load_record(const struct store *st, const char *name, const uint8_t tbs[32],
    struct store_rec **rec_out, struct ct_cert **cert_out)
{
	uint8_t *buf = NULL;
	size_t len;
	int rc;

	if ((rc = read_at(st->dirfd, name, STORE_MAX_RECORD_BYTES, &buf,
	         &len)) != 0)
		return rc;
	rc = parse_record(buf, len, tbs, rec_out, cert_out);
	free(buf);
	return rc;
}

/* Returns the locked file's descriptor in *fd; closing it unlocks. */
static int
lock_take(const struct store *st, int *fd)
{
	int lfd;

	lfd = openat(st->dirfd, LOCK_NAME,
	    O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (lfd < 0)
		return CT_ERR_IO;
	while (flock(lfd, LOCK_EX) != 0) {
		if (errno != EINTR) {
			int saved = errno;

			close(lfd);
			errno = saved;
			return CT_ERR_IO;
		}
	}
	*fd = lfd;
	return 0;
}

static void
tmp_name(char out[TMP_NAME_LEN + 1])
{
	static unsigned long counter;
	uint8_t rnd[TMP_RANDOM_BYTES];
	uint64_t v;
	size_t i;

	if (getrandom(rnd, sizeof(rnd), GRND_NONBLOCK) !=
	    (ssize_t)sizeof(rnd)) {
		v = (uint64_t)util_now_ms() ^ (uint64_t)getpid() << 40 ^
		    (uint64_t)++counter << 20;
		for (i = 0; i < sizeof(rnd); i++)
			rnd[i] = (uint8_t)(v >> (8 * i));
	}
	memcpy(out, TMP_PREFIX, sizeof(TMP_PREFIX) - 1);
	util_hex_encode(rnd, sizeof(rnd), out + sizeof(TMP_PREFIX) - 1);
}

static int
write_all(int fd, const uint8_t *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		if ((w = write(fd, p, n)) < 0) {
			if (errno == EINTR)
				continue;
			return CT_ERR_IO;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/*
 * Writes a temporary file, fsyncs it, renames it to name and fsyncs the
 * directory. The caller holds the lock.
 */
static int
write_record(const struct store *st, const char *name, const uint8_t *p,
    size_t n)
{
	char tmp[TMP_NAME_LEN + 1];
	int fd = -1, rc = CT_ERR_IO, tries, saved;
	bool created = false;

	for (tries = 0; tries < TMP_CREATE_TRIES && fd < 0; tries++) {
		tmp_name(tmp);
		fd = openat(st->dirfd, tmp,
		    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (fd < 0 && errno != EEXIST)
			return CT_ERR_IO;
	}
	if (fd < 0)
		return CT_ERR_IO;
	created = true;
	if (fchmod(fd, 0644) != 0 || (rc = write_all(fd, p, n)) != 0 ||
	    fsync(fd) != 0) {
		rc = CT_ERR_IO;
		goto out;
	}
	rc = close(fd) == 0 ? 0 : CT_ERR_IO;
	fd = -1;
	if (rc != 0)
		goto out;
	if (renameat(st->dirfd, tmp, st->dirfd, name) != 0) {
		rc = CT_ERR_IO;
		goto out;
	}
	created = false;
	if (fsync(st->dirfd) != 0)
		rc = CT_ERR_IO;
out:
	saved = errno;
	if (fd >= 0)
		close(fd);
	if (created)
		unlinkat(st->dirfd, tmp, 0);
	errno = saved;
	return rc;
}

/* ------------------------------------------------------------ loading */

static void
slog(const struct store *st, const char *what, const char *name,
    const char *why)
{
	char s[STORE_MAX_SOURCE_BYTES];

	if (st->log == NULL)
		return;
	util_sanitize(name, strlen(name), s, sizeof(s));
	st->log(st->log_arg, "store %s: %s: %s", what, s, why);
}

/* One directory entry during a load; *added counts new records. */
static int
load_entry(struct store *st, const char *name, bool cleanup, size_t *added)
{
	struct store_rec *rec = NULL;
	uint8_t tbs[32];
	int rc;

	if (strncmp(name, TMP_PREFIX, sizeof(TMP_PREFIX) - 1) == 0) {
		if (cleanup && unlinkat(st->dirfd, name, 0) == 0) {
			st->stats.tmp_removed++;
			slog(st, "clean-up", name, "removed a stale temporary");
		} else
			st->stats.tmp_left++;
		return 0;
	}
	if (!name_is_rec(name, tbs)) {
		if (strcmp(name, LOCK_NAME) != 0)
			st->stats.other++;
		return 0;
	}
	if (index_find(st, tbs) >= 0)
		return 0;
	if ((rc = load_record(st, name, tbs, &rec, NULL)) == CT_ERR_NOMEM)
		return rc;
	if (rc != 0) {
		st->stats.invalid++;
		slog(st, "ignored", name,
		    rc == CT_ERR_IO ? strerror(errno) : ct_strerror(rc));
		return 0;
	}
	if ((rc = index_add(st, rec)) != 0) {
		rec_free(rec);
		return rc;
	}
	(*added)++;
	return 0;
}

static int
load_dir(struct store *st, bool cleanup, size_t *added)
{
	struct dirent *de;
	DIR *d = NULL;
	size_t seen = 0;
	int fd, rc = 0;

	*added = 0;
	st->stats.invalid = st->stats.tmp_left = st->stats.other = 0;
	if ((fd = dup(st->dirfd)) < 0)
		return CT_ERR_IO;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return CT_ERR_IO;
	}
	rewinddir(d);
	for (;;) {
		errno = 0;
		if ((de = readdir(d)) == NULL) {
			if (errno != 0)
				rc = CT_ERR_IO;
			break;
		}
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (++seen > STORE_MAX_DIR_ENTRIES) {
			rc = CT_ERR_TOO_BIG;
			break;
		}
		if ((rc = load_entry(st, de->d_name, cleanup, added)) != 0)
			break;
	}
	closedir(d);
	return rc;
}

/* ------------------------------------------------------------ API */

int
store_open(const char *dir, const struct store_opts *opts, struct store **out)
{
	struct store *st;
	size_t added;
	int rc = CT_ERR_NOMEM, lfd = -1, saved;

	*out = NULL;
	if (dir == NULL || *dir == '\0')
		return CT_ERR_INVALID;
	if ((st = calloc(1, sizeof(*st))) == NULL)
		return CT_ERR_NOMEM;
	st->dirfd = -1;
	if (opts != NULL) {
		st->flags = opts->flags;
		st->max_records = opts->max_records;
		st->log = opts->log;
		st->log_arg = opts->log_arg;
	}
	if (st->max_records == 0 || st->max_records > STORE_MAX_RECORDS)
		st->max_records = STORE_MAX_RECORDS;
	if ((st->dir = strdup(dir)) == NULL)
		goto out;
	rc = CT_ERR_IO;
	if (!(st->flags & STORE_RDONLY) && mkdir(dir, 0755) != 0 &&
	    errno != EEXIST)
		goto out;
	if ((st->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		goto out;
	if (!(st->flags & STORE_RDONLY) && (rc = lock_take(st, &lfd)) != 0)
		goto out;
	rc = load_dir(st, !(st->flags & STORE_RDONLY), &added);
out:
	saved = errno;
	if (lfd >= 0)
		close(lfd);
	if (rc != 0) {
		store_free(st);
		st = NULL;
	}
	*out = st;
	errno = saved;
	return rc;
}

void
store_free(struct store *st)
{
	size_t i;

	if (st == NULL)
		return;
	for (i = 0; i < st->n_recs; i++)
		rec_free(st->recs[i]);
	free(st->recs);
	free(st->slots);
	if (st->dirfd >= 0)
		close(st->dirfd);
	free(st->dir);
	free(st);
}

int
store_refresh(struct store *st, size_t *added)
{
	size_t n = 0;
	int rc;

	rc = load_dir(st, false, &n);
	if (added != NULL)
		*added = n;
	return rc;
}

size_t
store_count(const struct store *st)
{
	return st->n_recs;
}

const struct store_rec *
store_find(const struct store *st, const uint8_t tbs_sha256[32])
{
	long i = index_find(st, tbs_sha256);

	return i < 0 ? NULL : st->recs[i];
}

const struct store_rec *
store_get(const struct store *st, size_t i)
{
	return i < st->n_recs ? st->recs[i] : NULL;
}

int
store_foreach(const struct store *st,
    int (*cb)(const struct store_rec *rec, void *arg), void *arg)
{
	size_t i;
	int rc;

	for (i = 0; i < st->n_recs; i++)
		if ((rc = cb(st->recs[i], arg)) != 0)
			return rc;
	return 0;
}

void
store_get_stats(const struct store *st, struct store_stats *out)
{
	*out = st->stats;
}

const char *
store_dir(const struct store *st)
{
	return st->dir;
}

/*
 * Under the lock: a record that another writer put since we loaded is
 * adopted (*adopted set); a file that is not a valid record is replaced.
 */
static int
put_locked(struct store *st, const char *name, const struct ct_cert *c,
    const struct util_buf *text, bool *adopted)
{
	struct store_rec *rec = NULL;
	int rc;

	*adopted = false;
	rc = load_record(st, name, c->tbs_sha256, &rec, NULL);
	if (rc == 0) {
		if ((rc = index_add(st, rec)) != 0)
			rec_free(rec);
		else
			*adopted = true;
		return rc;
	}
	if (rc == CT_ERR_NOMEM || (rc == CT_ERR_IO && errno != ENOENT))
		return rc;
	if (rc != CT_ERR_IO)
		slog(st, "replacing", name, ct_strerror(rc));
	return write_record(st, name, text->data, text->len);
}

int
store_put(struct store *st, const struct ct_cert *c, const char *source,
    int64_t now, bool *added)
{
	char name[STORE_REC_NAME_LEN + 1], src[STORE_MAX_SOURCE_BYTES];
	struct store_rec *rec = NULL;
	struct util_buf text;
	int rc, lfd = -1, saved;
	bool adopted = false;

	if (added != NULL)
		*added = false;
	if (st->flags & STORE_RDONLY)
		return CT_ERR_INVALID;
	if (index_find(st, c->tbs_sha256) >= 0)
		return 0;
	if (st->n_recs >= st->max_records)
		return CT_ERR_TOO_BIG;
	util_buf_init(&text, STORE_MAX_RECORD_BYTES);
	if (source == NULL)
		source = "";
	util_sanitize(source, strlen(source), src, sizeof(src));
	if ((rc = rec_from_cert(c, now, src, &rec)) != 0)
		goto out;
	if ((rc = format_record(&text, c, rec)) != 0)
		goto out;
	rec_name(c->tbs_sha256, name);
	if ((rc = lock_take(st, &lfd)) != 0)
		goto out;
	if ((rc = put_locked(st, name, c, &text, &adopted)) != 0 || adopted)
		goto out;
	if ((rc = index_add(st, rec)) != 0)
		goto out;
	rec = NULL;
	if (added != NULL)
		*added = true;
out:
	saved = errno;
	if (lfd >= 0)
		close(lfd);
	rec_free(rec);
	util_buf_clear(&text);
	errno = saved;
	return rc;
}

int
store_load_cert(const struct store *st, const uint8_t tbs_sha256[32],
    struct ct_cert **out)
{
	char name[STORE_REC_NAME_LEN + 1];

	*out = NULL;
	if (index_find(st, tbs_sha256) < 0)
		return CT_ERR_NOT_FOUND;
	rec_name(tbs_sha256, name);
	return load_record(st, name, tbs_sha256, NULL, out);
}
