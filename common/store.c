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

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/hash.h>

#include "cert.h"
#include "der.h"
#include "store.h"
#include "util.h"

#define LOCK_NAME ".lock"
#define INDEX_NAME ".index"
#define INDEX_MAGIC "ct-store-index1\n"
#define INDEX_MAGIC_BYTES (sizeof(INDEX_MAGIC) - 1)
#define INDEX_SUM_BYTES 32 /* SHA-256 of everything before it */
/* A record is indexed only once its file is this much older than the
 * index (file times may be as coarse as a second). */
#define INDEX_SETTLE_S 2
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

/*
 * What identifies a record file's contents without reading them: a file
 * replaced (new inode), rewritten or touched (size, modification or
 * change time) no longer matches, and is validated again.
 */
struct file_id {
	uint64_t dev;
	uint64_t ino;
	uint64_t size;
	int64_t mtime_s;
	int64_t ctime_s;
	uint64_t mtime_ns;
	uint64_t ctime_ns;
};

/* One entry of the index file: views into its text. */
struct index_ent {
	const uint8_t *tbs; /* 32 bytes */
	struct file_id id;
	const uint8_t *meta; /* the rest of the entry (index_rec reads it) */
	size_t meta_len;
	bool used;
};

/* The index file as read by store_open: entries sorted by tbs. */
struct index {
	uint8_t *buf;
	size_t len;
	struct index_ent *ents;
	size_t n;
	size_t used;
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
	uint64_t generation; /* see store_generation */
	/* During store_open: the index read, and the file of each record. */
	struct index *ix;
	struct file_id *ids; /* ids[i] is recs[i]'s file */
	size_t ids_cap;
	bool ids_failed;  /* out of memory noting them: no index written */
	size_t validated; /* records read and validated in full */
	void (*log)(void *arg, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
	void *log_arg;
};

/* The last generation handed out, by any store of this process. */
static _Atomic uint64_t generation_last;

static uint64_t
generation_next(void)
{
	return ++generation_last;
}

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
	st->generation = generation_next();
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

static void
file_id_of(const struct stat *sb, struct file_id *id)
{
	id->dev = (uint64_t)sb->st_dev;
	id->ino = (uint64_t)sb->st_ino;
	id->size = (uint64_t)sb->st_size;
	id->mtime_s = (int64_t)sb->st_mtim.tv_sec;
	id->mtime_ns = (uint64_t)sb->st_mtim.tv_nsec;
	id->ctime_s = (int64_t)sb->st_ctim.tv_sec;
	id->ctime_ns = (uint64_t)sb->st_ctim.tv_nsec;
}

static bool
file_id_eq(const struct file_id *a, const struct file_id *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	    a->mtime_s == b->mtime_s && a->mtime_ns == b->mtime_ns &&
	    a->ctime_s == b->ctime_s && a->ctime_ns == b->ctime_ns;
}

/*
 * Reads a regular file (no symlink) in the store directory, at most
 * max_bytes. CT_ERR_IO keeps errno (ENOENT when there is no such file).
 * id (may be NULL) receives what identifies the file read.
 */
static int
read_at(int dirfd, const char *name, size_t max_bytes, uint8_t **out,
    size_t *len, struct file_id *id)
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
	else if (id != NULL)
		file_id_of(&sb, id);
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
    struct store_rec **rec_out, struct ct_cert **cert_out, struct file_id *id)
{
	uint8_t *buf = NULL;
	size_t len;
	int rc;

	if ((rc = read_at(st->dirfd, name, STORE_MAX_RECORD_BYTES, &buf, &len,
	         id)) != 0)
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

/* ------------------------------------------------------------ index file */

/*
 * The index ".index" spares store_open reading and validating every record
 * file each time: for each record it holds what identified the file when
 * it was validated (struct file_id) and the metadata read from it then. A
 * record file that still matches its entry is taken from the index; any
 * other is read and validated in full, as without an index, and a
 * writable store_open then writes a new index (temporary + rename). The
 * record files stay the authority: the index is only a cache of their
 * validation. One whose checksum or form is wrong is ignored whole;
 * store_load_cert always reads and validates the file.
 *
 *	"ct-store-index1\n" u64 count
 *	count entries: tbs_sha256[32], dev ino size mtime_s mtime_ns
 *	  ctime_s ctime_ns (u64 each), then the metadata: sha256[32]
 *	  spki_sha256[32] not_before not_after first_seen (u64 each)
 *	  u8 flags (1 precert, 2 is_ca), u16-prefixed serial (hex),
 *	  u16-prefixed source, u16 n_names and n_names u16-prefixed names
 *	SHA-256 of everything before it
 *
 * Integers are big-endian; everything is read through the der cursor.
 */
#define INDEX_F_PRECERT 0x1
#define INDEX_F_IS_CA 0x2

static void
index_free(struct index *ix)
{
	if (ix == NULL)
		return;
	free(ix->ents);
	free(ix->buf);
	free(ix);
}

static int
read_i64(struct der_cursor *c, int64_t *v)
{
	uint64_t u;
	int rc;

	if ((rc = der_read_u64(c, &u)) != 0)
		return rc;
	*v = (int64_t)u;
	return 0;
}

static bool
hex_lower(const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!((p[i] >= '0' && p[i] <= '9') ||
		        (p[i] >= 'a' && p[i] <= 'f')))
			return false;
	return true;
}

/* A u16-prefixed text without NUL bytes, into a new C string. */
static int
meta_text(struct der_cursor *c, bool hex, char **out)
{
	struct der_cursor v;
	int rc;

	if ((rc = der_read_vec(c, 2, &v)) != 0)
		return rc;
	if (memchr(v.p, '\0', v.len) != NULL || (hex && !hex_lower(v.p, v.len)))
		return CT_ERR_FORMAT;
	if (out == NULL)
		return 0;
	if ((*out = malloc(v.len + 1)) == NULL)
		return CT_ERR_NOMEM;
	memcpy(*out, v.p, v.len);
	(*out)[v.len] = '\0';
	return 0;
}

/*
 * Reads one entry's metadata into r (which it fills, as rec_from_cert
 * does), or only checks its form when r is NULL. 0 or a negative ct_err.
 */
static int
meta_read(struct der_cursor *c, struct store_rec *r)
{
	const uint8_t *sha, *spki;
	struct der_cursor v;
	int64_t nb, na, fs;
	uint8_t flags;
	uint16_t n, i;
	int rc;

	if ((rc = der_read_bytes(c, 32, &sha)) != 0 ||
	    (rc = der_read_bytes(c, 32, &spki)) != 0 ||
	    (rc = read_i64(c, &nb)) != 0 || (rc = read_i64(c, &na)) != 0 ||
	    (rc = read_i64(c, &fs)) != 0 || (rc = der_read_u8(c, &flags)) != 0)
		return rc;
	if (flags & ~(INDEX_F_PRECERT | INDEX_F_IS_CA))
		return CT_ERR_FORMAT;
	if (r != NULL) {
		memcpy(r->sha256, sha, 32);
		memcpy(r->spki_sha256, spki, 32);
		r->not_before = nb;
		r->not_after = na;
		r->first_seen = fs;
		r->precert = (flags & INDEX_F_PRECERT) != 0;
		r->is_ca = (flags & INDEX_F_IS_CA) != 0;
	}
	if ((rc = meta_text(c, true, r != NULL ? &r->serial : NULL)) != 0 ||
	    (rc = meta_text(c, false, r != NULL ? &r->source : NULL)) != 0 ||
	    (rc = der_read_u16(c, &n)) != 0)
		return rc;
	if (n > CERT_MAX_NAMES)
		return CT_ERR_FORMAT;
	if (r != NULL && n > 0 &&
	    (r->names = calloc(n, sizeof(*r->names))) == NULL)
		return CT_ERR_NOMEM;
	for (i = 0; i < n; i++) {
		if ((rc = der_read_vec(c, 2, &v)) != 0)
			return rc;
		if (r == NULL)
			continue;
		if ((r->names[i].name = malloc(v.len + 1)) == NULL)
			return CT_ERR_NOMEM;
		memcpy(r->names[i].name, v.p, v.len);
		r->names[i].name[v.len] = '\0';
		r->names[i].len = v.len;
		r->n_names = (size_t)i + 1;
	}
	return 0;
}

/* The record of entry e, as rec_from_cert would have made it. */
static int
index_rec(const struct index_ent *e, struct store_rec **out)
{
	struct der_cursor c;
	struct store_rec *r;
	int rc;

	*out = NULL;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return CT_ERR_NOMEM;
	memcpy(r->tbs_sha256, e->tbs, 32);
	der_init(&c, e->meta, e->meta_len);
	if ((rc = meta_read(&c, r)) == 0 && !der_empty(&c))
		rc = CT_ERR_FORMAT;
	if (rc != 0) {
		rec_free(r);
		return rc;
	}
	*out = r;
	return 0;
}

static int
ent_cmp(const void *a, const void *b)
{
	const struct index_ent *x = a, *y = b;

	return memcmp(x->tbs, y->tbs, 32);
}

static int
index_parse(struct index *ix, size_t max_records)
{
	uint8_t sum[INDEX_SUM_BYTES];
	struct der_cursor c;
	const uint8_t *p;
	uint64_t count, i;
	struct index_ent *e;
	size_t body;
	int rc;

	if (ix->len < INDEX_MAGIC_BYTES + 8 + INDEX_SUM_BYTES)
		return CT_ERR_TRUNCATED;
	body = ix->len - INDEX_SUM_BYTES;
	if (wc_Sha256Hash(ix->buf, (word32)body, sum) != 0)
		return CT_ERR_CRYPTO;
	if (memcmp(sum, ix->buf + body, sizeof(sum)) != 0 ||
	    memcmp(ix->buf, INDEX_MAGIC, INDEX_MAGIC_BYTES) != 0)
		return CT_ERR_FORMAT;
	der_init(&c, ix->buf + INDEX_MAGIC_BYTES, body - INDEX_MAGIC_BYTES);
	if ((rc = der_read_u64(&c, &count)) != 0)
		return rc;
	if (count > max_records)
		return CT_ERR_TOO_BIG;
	if (count > 0 &&
	    (ix->ents = calloc((size_t)count, sizeof(*ix->ents))) == NULL)
		return CT_ERR_NOMEM;
	for (i = 0; i < count; i++) {
		e = &ix->ents[i];
		if ((rc = der_read_bytes(&c, 32, &e->tbs)) != 0 ||
		    (rc = der_read_u64(&c, &e->id.dev)) != 0 ||
		    (rc = der_read_u64(&c, &e->id.ino)) != 0 ||
		    (rc = der_read_u64(&c, &e->id.size)) != 0 ||
		    (rc = read_i64(&c, &e->id.mtime_s)) != 0 ||
		    (rc = der_read_u64(&c, &e->id.mtime_ns)) != 0 ||
		    (rc = read_i64(&c, &e->id.ctime_s)) != 0 ||
		    (rc = der_read_u64(&c, &e->id.ctime_ns)) != 0)
			return rc;
		p = c.p;
		if ((rc = meta_read(&c, NULL)) != 0)
			return rc;
		e->meta = p;
		e->meta_len = (size_t)(c.p - p);
	}
	if (!der_empty(&c))
		return CT_ERR_TRAILING;
	ix->n = (size_t)count;
	if (ix->n > 1)
		qsort(ix->ents, ix->n, sizeof(*ix->ents), ent_cmp);
	for (i = 1; i < ix->n; i++)
		if (ent_cmp(&ix->ents[i - 1], &ix->ents[i]) == 0)
			return CT_ERR_FORMAT;
	return 0;
}

/* The store's index, or NULL without a usable one (logged when bad). */
static struct index *
index_load(const struct store *st)
{
	struct index *ix;
	int rc;

	if ((ix = calloc(1, sizeof(*ix))) == NULL)
		return NULL;
	rc = read_at(st->dirfd, INDEX_NAME, STORE_MAX_INDEX_BYTES, &ix->buf,
	    &ix->len, NULL);
	if (rc == 0)
		rc = index_parse(ix, st->max_records);
	if (rc != 0) {
		if (!(rc == CT_ERR_IO && errno == ENOENT) && st->log != NULL)
			st->log(st->log_arg,
			    "store %s: index ignored (%s): every record is "
			    "read",
			    st->dir,
			    rc == CT_ERR_IO ? strerror(errno)
			                    : ct_strerror(rc));
		index_free(ix);
		return NULL;
	}
	return ix;
}

static struct index_ent *
index_lookup(struct index *ix, const uint8_t tbs[32])
{
	struct index_ent key;

	if (ix->n == 0)
		return NULL;
	memset(&key, 0, sizeof(key));
	key.tbs = tbs;
	return bsearch(&key, ix->ents, ix->n, sizeof(*ix->ents), ent_cmp);
}

/*
 * The record of file name (tbs) from the index, when the file is still
 * the one validated: 0 with *out set, 0 with *out NULL (read it), or
 * CT_ERR_NOMEM. *id receives the file's identity when it matched.
 */
static int
index_take(struct store *st, const char *name, const uint8_t tbs[32],
    struct store_rec **out, struct file_id *id)
{
	struct index_ent *e;
	struct stat sb;
	int rc;

	*out = NULL;
	if (st->ix == NULL || (e = index_lookup(st->ix, tbs)) == NULL)
		return 0;
	if (fstatat(st->dirfd, name, &sb, AT_SYMLINK_NOFOLLOW) != 0 ||
	    !S_ISREG(sb.st_mode))
		return 0;
	file_id_of(&sb, id);
	if (!file_id_eq(id, &e->id))
		return 0;
	if ((rc = index_rec(e, out)) == CT_ERR_NOMEM)
		return rc;
	if (rc == 0 && !e->used) {
		e->used = true;
		st->ix->used++;
		st->stats.indexed++;
	}
	return 0;
}

/* Notes the file of the record just added (store_open only). */
static void
ids_note(struct store *st, const struct file_id *id)
{
	struct file_id *ids;
	size_t ncap;

	if (st->ids_failed)
		return;
	if (st->n_recs > st->ids_cap) {
		ncap = st->recs_cap;
		if ((ids = realloc(st->ids, ncap * sizeof(*ids))) == NULL) {
			st->ids_failed = true;
			return;
		}
		st->ids = ids;
		st->ids_cap = ncap;
	}
	st->ids[st->n_recs - 1] = *id;
}

static int
put_entry(struct util_buf *b, const struct store_rec *r,
    const struct file_id *id)
{
	uint8_t flags = (uint8_t)((r->precert ? INDEX_F_PRECERT : 0) |
	    (r->is_ca ? INDEX_F_IS_CA : 0));
	uint8_t n[2] = {(uint8_t)(r->n_names >> 8), (uint8_t)r->n_names};
	size_t i;
	int rc;

	if ((rc = util_buf_append(b, r->tbs_sha256, 32)) != 0 ||
	    (rc = util_buf_put_u64(b, id->dev)) != 0 ||
	    (rc = util_buf_put_u64(b, id->ino)) != 0 ||
	    (rc = util_buf_put_u64(b, id->size)) != 0 ||
	    (rc = util_buf_put_u64(b, (uint64_t)id->mtime_s)) != 0 ||
	    (rc = util_buf_put_u64(b, id->mtime_ns)) != 0 ||
	    (rc = util_buf_put_u64(b, (uint64_t)id->ctime_s)) != 0 ||
	    (rc = util_buf_put_u64(b, id->ctime_ns)) != 0 ||
	    (rc = util_buf_append(b, r->sha256, 32)) != 0 ||
	    (rc = util_buf_append(b, r->spki_sha256, 32)) != 0 ||
	    (rc = util_buf_put_u64(b, (uint64_t)r->not_before)) != 0 ||
	    (rc = util_buf_put_u64(b, (uint64_t)r->not_after)) != 0 ||
	    (rc = util_buf_put_u64(b, (uint64_t)r->first_seen)) != 0 ||
	    (rc = util_buf_append(b, &flags, 1)) != 0 ||
	    (rc = util_buf_put_vec16(b, r->serial, strlen(r->serial))) != 0 ||
	    (rc = util_buf_put_vec16(b, r->source, strlen(r->source))) != 0)
		return rc;
	if (r->n_names > CERT_MAX_NAMES)
		return CT_ERR_TOO_BIG;
	if ((rc = util_buf_append(b, n, sizeof(n))) != 0)
		return rc;
	for (i = 0; i < r->n_names; i++)
		if ((rc = util_buf_put_vec16(b, r->names[i].name, r->names[i].len)) != 0)
			return rc;
	return 0;
}

/* Whether record i's file is old enough to be indexed (see the top). */
static bool
settled(const struct file_id *id, int64_t now)
{
	return id->mtime_s <= now - INDEX_SETTLE_S &&
	    id->ctime_s <= now - INDEX_SETTLE_S;
}

/* The index text of every settled record into b. */
static int
index_format(const struct store *st, struct util_buf *b)
{
	uint8_t sum[INDEX_SUM_BYTES];
	int64_t now = util_now();
	size_t i, n = 0;
	int rc;

	for (i = 0; i < st->n_recs; i++)
		if (settled(&st->ids[i], now))
			n++;
	if ((rc = util_buf_append(b, INDEX_MAGIC, INDEX_MAGIC_BYTES)) != 0 ||
	    (rc = util_buf_put_u64(b, n)) != 0)
		return rc;
	for (i = 0; i < st->n_recs; i++)
		if (settled(&st->ids[i], now) &&
		    (rc = put_entry(b, st->recs[i], &st->ids[i])) != 0)
			return rc;
	if (wc_Sha256Hash(b->data, (word32)b->len, sum) != 0)
		return CT_ERR_CRYPTO;
	return util_buf_append(b, sum, sizeof(sum));
}

/*
 * Replaces the index (the caller holds the lock). Not synced: a torn
 * index fails its checksum and is then ignored. Failures only mean that
 * the next store_open reads every record.
 */
static void
index_write(const struct store *st)
{
	char tmp[TMP_NAME_LEN + 1];
	struct util_buf b;
	int fd = -1, tries, rc;

	util_buf_init(&b, STORE_MAX_INDEX_BYTES);
	if ((rc = index_format(st, &b)) != 0)
		goto out;
	for (tries = 0; tries < TMP_CREATE_TRIES && fd < 0; tries++) {
		tmp_name(tmp);
		fd = openat(st->dirfd, tmp,
		    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (fd < 0 && errno != EEXIST)
			goto out;
	}
	if (fd < 0)
		goto out;
	rc = write_all(fd, b.data, b.len);
	if (close(fd) != 0 || rc != 0 ||
	    renameat(st->dirfd, tmp, st->dirfd, INDEX_NAME) != 0)
		unlinkat(st->dirfd, tmp, 0);
out:
	util_buf_clear(&b);
}

/* After a writable load: a new index when the old one was not exact. */
static void
index_update(struct store *st)
{
	bool exact = st->ix != NULL && st->validated == 0 &&
	    st->ix->used == st->ix->n && st->ix->n == st->n_recs;

	if (st->ids_failed || exact || (st->ix == NULL && st->n_recs == 0))
		return;
	index_write(st);
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

/*
 * One directory entry during a load; *added counts new records. With
 * noting, the file of each record added is noted for the index.
 */
static int
load_entry(struct store *st, const char *name, bool cleanup, bool noting,
    size_t *added)
{
	struct store_rec *rec = NULL;
	struct file_id id;
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
		if (strcmp(name, LOCK_NAME) != 0 &&
		    strcmp(name, INDEX_NAME) != 0)
			st->stats.other++;
		return 0;
	}
	if (index_find(st, tbs) >= 0)
		return 0;
	memset(&id, 0, sizeof(id));
	if ((rc = index_take(st, name, tbs, &rec, &id)) != 0)
		return rc;
	if (rec == NULL) {
		rc = load_record(st, name, tbs, &rec, NULL, &id);
		if (rc == CT_ERR_NOMEM)
			return rc;
		if (rc != 0) {
			st->stats.invalid++;
			slog(st, "ignored", name,
			    rc == CT_ERR_IO ? strerror(errno)
			                    : ct_strerror(rc));
			return 0;
		}
		st->validated++;
	}
	if ((rc = index_add(st, rec)) != 0) {
		rec_free(rec);
		return rc;
	}
	if (noting)
		ids_note(st, &id);
	(*added)++;
	return 0;
}

static int
load_dir(struct store *st, bool cleanup, bool noting, size_t *added)
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
		if ((rc = load_entry(st, de->d_name, cleanup, noting, added)) !=
		    0)
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
	st->generation = generation_next();
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
	st->ix = index_load(st);
	rc = load_dir(st, !(st->flags & STORE_RDONLY),
	    !(st->flags & STORE_RDONLY), &added);
	if (rc == 0 && !(st->flags & STORE_RDONLY))
		index_update(st);
	index_free(st->ix);
	st->ix = NULL;
	free(st->ids);
	st->ids = NULL;
	st->ids_cap = 0;
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

	rc = load_dir(st, false, false, &n);
	if (added != NULL)
		*added = n;
	return rc;
}

size_t
store_count(const struct store *st)
{
	return st->n_recs;
}

uint64_t
store_generation(const struct store *st)
{
	return st->generation;
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
	rc = load_record(st, name, c->tbs_sha256, &rec, NULL, NULL);
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
	return load_record(st, name, tbs_sha256, NULL, out, NULL);
}
