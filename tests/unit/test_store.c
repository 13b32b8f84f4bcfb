/*
 * Unit tests for common/store: put/find/reopen, first_seen kept, torn and
 * foreign records ignored and counted, stale temporaries removed, two
 * concurrent writers, and processes killed with SIGKILL while writing.
 */
#define _GNU_SOURCE /* nftw */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cert.h"
#include "store.h"
#include "testutil.h"

#define SCAN_DATA LOCAL_TESTDATA "scan/"
#define CRASH_ROUNDS 100
#define CRASH_POOL 1500
#define CRASH_FRESH_EVERY 10      /* rounds per store directory */
#define CRASH_EARLY_PERCENT 10    /* kills not waiting for store_open */
#define CRASH_MAX_PUTS 5          /* puts let through before a kill */
#define CRASH_WINDOW_MAX_US 25000 /* keeps the test short on slow disks */
#define CRASH_TMP_NAMES 256
#define CONC_EACH 50
#define CONC_SHARED 10
#define MSG_READY UINT32_MAX

/* ------------------------------------------------------------ helpers */

static int
rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
rm_rf(const char *dir)
{
	nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* A new empty directory; *dir receives its path (static storage). */
static void
mkd(char *out, size_t outsz)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(out, outsz, "%s/ct-store-XXXXXX", tmp ? tmp : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(out));
}

/* out = a + b, which must fit. */
static void
join(char *out, size_t outsz, const char *a, const char *b)
{
	int n = snprintf(out, outsz, "%s%s", a, b);

	ck_assert(n > 0 && (size_t)n < outsz);
}

static struct ct_cert *
load1(const char *path)
{
	struct ct_cert **cs = NULL, *c;
	size_t n = 0, i;
	int rc = cert_load_file(path, &cs, &n);

	ck_assert_msg(rc == 0, "%s: %s", path, ct_strerror(rc));
	c = cs[0];
	for (i = 1; i < n; i++)
		cert_free(cs[i]);
	free(cs);
	return c;
}

/*
 * A distinct certificate: base with the last two serial bytes set to i.
 * The signature no longer verifies, which the store does not check; the
 * TBS (and so tbs_sha256) differs for every i.
 */
static struct ct_cert *
synth(const struct ct_cert *base, unsigned i)
{
	struct ct_cert *c = NULL;
	uint8_t *der = malloc(base->der_len);
	size_t off = (size_t)(base->serial - base->der) + base->serial_len - 2;
	int rc;

	ck_assert_ptr_nonnull(der);
	ck_assert_uint_ge(base->serial_len, 4);
	memcpy(der, base->der, base->der_len);
	der[off] = (uint8_t)(i >> 8);
	der[off + 1] = (uint8_t)i;
	rc = cert_parse_der(der, base->der_len, &c);
	ck_assert_msg(rc == 0, "synth %u: %s", i, ct_strerror(rc));
	free(der);
	return c;
}

static struct ct_cert **
synth_pool(size_t n)
{
	struct ct_cert *base = load1(SCAN_DATA "www-1.pem");
	struct ct_cert **pool = calloc(n, sizeof(*pool));
	size_t i;

	ck_assert_ptr_nonnull(pool);
	for (i = 0; i < n; i++)
		pool[i] = synth(base, (unsigned)i);
	cert_free(base);
	return pool;
}

static void
pool_free(struct ct_cert **pool, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		cert_free(pool[i]);
	free(pool);
}

static void
rec_path(const char *dir, const struct ct_cert *c, char *out, size_t outsz)
{
	char hex[65];

	util_hex_encode(c->tbs_sha256, 32, hex);
	join(out, outsz, dir, "/");
	join(out + strlen(out), outsz - strlen(out), hex, ".rec");
}

/*
 * Replaces path with a new file (unlink first: ext4 flushes a file that is
 * truncated and rewritten, which would make the loops below slow).
 */
static void
write_file(const char *path, const void *p, size_t n)
{
	int fd;

	ck_assert(unlink(path) == 0 || errno == ENOENT);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, p, n), (ssize_t)n);
	close(fd);
}

static uint8_t *
read_all(const char *path, size_t *len)
{
	uint8_t *p = NULL;
	int rc = util_read_file(path, 64 * 1024 * 1024, &p, len);

	ck_assert_msg(rc == 0, "%s: %s", path, ct_strerror(rc));
	return p;
}

static struct store *
open_ok(const char *dir, const struct store_opts *o)
{
	struct store *st = NULL;
	int rc = store_open(dir, o, &st);

	ck_assert_msg(rc == 0, "store_open %s: %s", dir, ct_strerror(rc));
	return st;
}

static struct store_stats
stats_of(const struct store *st)
{
	struct store_stats s;

	store_get_stats(st, &s);
	return s;
}

/* Log lines collected from the store. */
struct logbuf {
	char text[16384];
	size_t len;
	int lines;
};

static void logcb(void *arg, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
logcb(void *arg, const char *fmt, ...)
{
	struct logbuf *lb = arg;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(lb->text + lb->len, sizeof(lb->text) - lb->len, fmt, ap);
	va_end(ap);
	if (n > 0 && lb->len + (size_t)n + 1 < sizeof(lb->text)) {
		lb->len += (size_t)n;
		lb->text[lb->len++] = '\n';
		lb->text[lb->len] = '\0';
	}
	lb->lines++;
}

static size_t
count_prefix(const char *dir, const char *prefix)
{
	size_t n = 0;
	struct dirent *de;
	DIR *d = opendir(dir);

	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, prefix, strlen(prefix)) == 0)
			n++;
	closedir(d);
	return n;
}

/* ------------------------------------------------------------ tests */

START_TEST(test_put_find_reopen)
{
	char dir[PATH_MAX], path[PATH_MAX], serial[64];
	struct ct_cert *c = load1(SCAN_DATA "www-1.pem"), *back = NULL;
	const struct store_rec *r;
	struct store *st;
	struct stat sb;
	bool added = false;

	mkd(dir, sizeof(dir));
	st = open_ok(dir, NULL);
	ck_assert_uint_eq(store_count(st), 0);
	ck_assert_ptr_null(store_find(st, c->tbs_sha256));
	ck_assert_int_eq(store_put(st, c, "/etc/x/cert.pem", 1700000000,
	                     &added),
	    0);
	ck_assert(added);
	ck_assert_uint_eq(store_count(st), 1);
	r = store_find(st, c->tbs_sha256);
	ck_assert_ptr_nonnull(r);
	ck_assert_ptr_eq(store_get(st, 0), r);
	ck_assert_ptr_null(store_get(st, 1));
	ck_assert_int_eq(r->first_seen, 1700000000);
	ck_assert_str_eq(r->source, "/etc/x/cert.pem");
	ck_assert_uint_eq(r->n_names, 2);
	ck_assert_str_eq(r->names[0].name, "www.example.org");
	ck_assert_str_eq(r->names[1].name, "example.org");
	cert_serial_hex(c, serial, sizeof(serial));
	ck_assert_str_eq(r->serial, serial);
	ck_assert_int_eq(r->not_after, c->not_after);
	ck_assert(!r->is_ca);
	store_free(st);

	/* The file: named by the tbs hash, mode 0644, no temporaries. */
	rec_path(dir, c, path, sizeof(path));
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_int_eq(sb.st_mode & 07777, 0644);
	ck_assert_uint_eq(count_prefix(dir, ".tmp-"), 0);

	st = open_ok(dir, NULL);
	ck_assert_uint_eq(store_count(st), 1);
	ck_assert_uint_eq(stats_of(st).invalid, 0);
	r = store_find(st, c->tbs_sha256);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(r->first_seen, 1700000000);
	ck_assert_str_eq(r->source, "/etc/x/cert.pem");
	ck_assert_mem_eq(r->sha256, c->sha256, 32);
	ck_assert_int_eq(store_load_cert(st, c->tbs_sha256, &back), 0);
	ck_assert_uint_eq(back->der_len, c->der_len);
	ck_assert_mem_eq(back->der, c->der, c->der_len);
	cert_free(back);
	store_free(st);
	cert_free(c);
	rm_rf(dir);
}
END_TEST

/* The record text: the documented header, a blank line, then the PEM. */
START_TEST(test_record_format)
{
	char dir[PATH_MAX], path[PATH_MAX], hex[65], want[512];
	struct ct_cert *c = load1(SCAN_DATA "oddnames.pem");
	struct store *st;
	uint8_t *pem, *rec;
	size_t pem_len, rec_len;
	const char *body;
	bool added;

	mkd(dir, sizeof(dir));
	st = open_ok(dir, NULL);
	ck_assert_int_eq(store_put(st, c, "/srv/a|b\nc\x7f.pem", 0, &added), 0);
	ck_assert(added);
	store_free(st);
	rec_path(dir, c, path, sizeof(path));
	rec = read_all(path, &rec_len);
	util_hex_encode(c->tbs_sha256, 32, hex);
	snprintf(want, sizeof(want), "tbs_sha256: %s\nsha256: ", hex);
	ck_assert_msg(strncmp((char *)rec, want, strlen(want)) == 0,
	    "record starts: %.80s", rec);
	ck_assert_ptr_nonnull(
	    strstr((char *)rec, "\nfirst_seen: 1970-01-01T00:00:00Z\n"));
	ck_assert_ptr_nonnull(
	    strstr((char *)rec, "\nsource: /srv/a?b?c?.pem\n"));
	ck_assert_ptr_nonnull(strstr((char *)rec,
	    "\nnames: odd?pipe.example.org sp?ace.example.org\n\n"));
	/* The PEM ends the file and equals what openssl wrote. */
	pem = read_all(SCAN_DATA "oddnames.pem", &pem_len);
	body = strstr((char *)rec, "\n\n-----BEGIN CERTIFICATE-----\n");
	ck_assert_ptr_nonnull(body);
	body += 2;
	ck_assert_uint_eq(rec_len - (size_t)(body - (char *)rec), pem_len);
	ck_assert_mem_eq(body, pem, pem_len);
	free(pem);
	free(rec);

	/* In memory the names are the certificate's, unsanitised. */
	st = open_ok(dir, NULL);
	ck_assert_str_eq(store_find(st, c->tbs_sha256)->names[0].name,
	    "odd|pipe.example.org");
	ck_assert_str_eq(store_find(st, c->tbs_sha256)->source,
	    "/srv/a?b?c?.pem");
	store_free(st);
	cert_free(c);
	rm_rf(dir);
}
END_TEST

/* Without SANs the CN is the name (DESIGN.md section 3). */
START_TEST(test_cn_only)
{
	char dir[PATH_MAX];
	struct ct_cert *c = load1(SCAN_DATA "cnonly.pem");
	struct store *st;

	mkd(dir, sizeof(dir));
	st = open_ok(dir, NULL);
	ck_assert_int_eq(store_put(st, c, "x", 5, NULL), 0);
	store_free(st);
	st = open_ok(dir, NULL);
	ck_assert_uint_eq(store_find(st, c->tbs_sha256)->n_names, 1);
	ck_assert_str_eq(store_find(st, c->tbs_sha256)->names[0].name,
	    "cnonly.example.org");
	store_free(st);
	cert_free(c);
	rm_rf(dir);
}
END_TEST

START_TEST(test_second_put_keeps_first_seen)
{
	char dir[PATH_MAX], path[PATH_MAX];
	struct ct_cert *c = load1(SCAN_DATA "www-1.pem");
	struct ct_cert *pre =
	    load1(SHARED_TESTDATA "ct-testdata/test-embedded-pre-cert.pem");
	struct ct_cert *fin =
	    load1(SHARED_TESTDATA "ct-testdata/test-embedded-cert.pem");
	struct store *a, *b;
	uint8_t *before, *after;
	size_t blen, alen;
	bool added = true;

	mkd(dir, sizeof(dir));
	a = open_ok(dir, NULL);
	b = open_ok(dir, NULL); /* opened before the first put */
	ck_assert_int_eq(store_put(a, c, "first", 1000, &added), 0);
	ck_assert(added);
	rec_path(dir, c, path, sizeof(path));
	before = read_all(path, &blen);

	/* Same handle: known from the index. */
	ck_assert_int_eq(store_put(a, c, "second", 2000, &added), 0);
	ck_assert(!added);
	/* Other handle: found on disk under the lock and adopted. */
	added = true;
	ck_assert_int_eq(store_put(b, c, "third", 3000, &added), 0);
	ck_assert(!added);
	ck_assert_int_eq(store_find(b, c->tbs_sha256)->first_seen, 1000);
	ck_assert_str_eq(store_find(b, c->tbs_sha256)->source, "first");
	after = read_all(path, &alen);
	ck_assert_uint_eq(alen, blen);
	ck_assert_mem_eq(after, before, blen);
	free(before);
	free(after);

	/* A precertificate and its final certificate are one identity. */
	ck_assert_mem_eq(pre->tbs_sha256, fin->tbs_sha256, 32);
	ck_assert_int_eq(store_put(a, pre, "pre", 4000, &added), 0);
	ck_assert(added);
	ck_assert_int_eq(store_put(a, fin, "fin", 5000, &added), 0);
	ck_assert(!added);
	ck_assert(store_find(a, fin->tbs_sha256)->precert);
	store_free(a);
	store_free(b);

	a = open_ok(dir, NULL);
	ck_assert_uint_eq(store_count(a), 2);
	ck_assert_int_eq(store_find(a, c->tbs_sha256)->first_seen, 1000);
	ck_assert_int_eq(store_find(a, fin->tbs_sha256)->first_seen, 4000);
	store_free(a);
	cert_free(c);
	cert_free(pre);
	cert_free(fin);
	rm_rf(dir);
}
END_TEST

/* A valid record for c, made in a scratch store; returns its bytes. */
static uint8_t *
make_record(const struct ct_cert *c, size_t *len)
{
	char dir[PATH_MAX], path[PATH_MAX];
	struct store *st;
	uint8_t *p;

	mkd(dir, sizeof(dir));
	st = open_ok(dir, NULL);
	ck_assert_int_eq(store_put(st, c, "/src/cert.pem", 1234, NULL), 0);
	store_free(st);
	rec_path(dir, c, path, sizeof(path));
	p = read_all(path, len);
	rm_rf(dir);
	return p;
}

/* Opens dir and requires exactly: n_valid records, n_invalid ignored. */
static void
expect_counts(const char *dir, size_t n_valid, size_t n_invalid,
    const char *what)
{
	struct store *st = NULL;
	int rc = store_open(dir, NULL, &st);

	ck_assert_msg(rc == 0, "%s: %s", what, ct_strerror(rc));
	ck_assert_msg(store_count(st) == n_valid &&
	        stats_of(st).invalid == n_invalid,
	    "%s: %zu valid, %zu invalid", what, store_count(st),
	    stats_of(st).invalid);
	store_free(st);
}

/* Every cut of a record, at every length, is ignored and counted. */
START_TEST(test_torn_record_every_length)
{
	char dir[PATH_MAX], path[PATH_MAX], what[64];
	struct ct_cert *keep = load1(SCAN_DATA "www-1.pem");
	struct ct_cert *y = load1(SCAN_DATA "mail-1.pem");
	struct store *st;
	uint8_t *rec;
	size_t len, cut;

	mkd(dir, sizeof(dir));
	st = open_ok(dir, NULL);
	ck_assert_int_eq(store_put(st, keep, "k", 1, NULL), 0);
	store_free(st);
	rec = make_record(y, &len);
	rec_path(dir, y, path, sizeof(path));
	for (cut = 0; cut < len; cut++) {
		write_file(path, rec, cut);
		snprintf(what, sizeof(what), "cut at %zu of %zu", cut, len);
		expect_counts(dir, 1, 1, what);
	}
	write_file(path, rec, len);
	expect_counts(dir, 2, 0, "whole");
	free(rec);
	cert_free(keep);
	cert_free(y);
	rm_rf(dir);
}
END_TEST

/* Replaces the first occurrence of from (must exist) in a copy of rec. */
static uint8_t *
edit(const uint8_t *rec, size_t len, const char *from, const char *to,
    size_t *out_len)
{
	const char *at = strstr((const char *)rec, from);
	size_t pre, flen = strlen(from), tlen = strlen(to);
	uint8_t *p;

	ck_assert_msg(at != NULL, "edit: %s not found", from);
	pre = (size_t)(at - (const char *)rec);
	p = malloc(len - flen + tlen + 1);
	ck_assert_ptr_nonnull(p);
	memcpy(p, rec, pre);
	memcpy(p + pre, to, tlen);
	memcpy(p + pre + tlen, rec + pre + flen, len - pre - flen);
	*out_len = len - flen + tlen;
	p[*out_len] = '\0';
	return p;
}

START_TEST(test_foreign_and_garbage_records)
{
	char dir[PATH_MAX], path[PATH_MAX], other[PATH_MAX], hex[65];
	char line[128];
	struct ct_cert *keep = load1(SCAN_DATA "www-1.pem");
	struct ct_cert *y = load1(SCAN_DATA "mail-1.pem");
	struct ct_cert *z = load1(SCAN_DATA "mail-2.pem");
	struct logbuf lb = {.len = 0};
	struct store_opts o = {.log = logcb, .log_arg = &lb};
	struct store *st;
	uint8_t *yrec, *zrec, *bad, junk[700], *big;
	size_t ylen, zlen, blen, i;
	bool added;
	const char *edits[][2] = {
	    {"first_seen: ", "first_seen: x"},       /* bad time */
	    {"first_seen: ", "first_seen: 2"},       /* bad time */
	    {"\nsource: ", "\nsource: a\nsource: "}, /* duplicate */
	    {"\nnames:", "\nnamez:"},                /* missing key */
	    {"serial: ", "serial: 00"},              /* serial differs */
	    {"\nsha256: ", "\nsha256: 0"},           /* hash line bad */
	    {"tbs_sha256: ", "tbs_sha256: 0"}, {"not_after: ", "not_after: 1"},
	    {"\n\n-----BEGIN", "\n-----BEGIN"}, /* no blank line */
	    {"-----END CERTIFICATE-----\n",
	        "-----END CERTIFICATE-----\nx"}, /* trailing */
	    {"-----END CERTIFICATE-----\n",
	        "-----END CERTIFICATE-----\n\n"}, /* trailing */
	    {"BEGIN CERTIFICATE", "BEGIN X509 CRL"},
	    {"names:", "names:\r"}, /* control byte */
	    {"\n\n", "\nx\n\n"},    /* no colon */
	};

	mkd(dir, sizeof(dir));
	st = open_ok(dir, NULL);
	ck_assert_int_eq(store_put(st, keep, "k", 1, NULL), 0);
	store_free(st);
	yrec = make_record(y, &ylen);
	zrec = make_record(z, &zlen);
	rec_path(dir, y, path, sizeof(path));

	/* A whole, valid record of z under y's name. */
	write_file(path, zrec, zlen);
	expect_counts(dir, 1, 1, "z under y's name");
	/* Garbage. */
	for (i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)(i * 7 + 3);
	write_file(path, junk, sizeof(junk));
	expect_counts(dir, 1, 1, "garbage");
	/* Edited headers and PEM. */
	for (i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
		bad = edit(yrec, ylen, edits[i][0], edits[i][1], &blen);
		write_file(path, bad, blen);
		snprintf(line, sizeof(line), "edit %zu", i);
		expect_counts(dir, 1, 1, line);
		free(bad);
	}
	/* Unknown header keys are allowed (forward compatible). */
	bad = edit(yrec, ylen, "\nnames:", "\nfuture_key: 1\nnames:", &blen);
	write_file(path, bad, blen);
	expect_counts(dir, 2, 0, "unknown key");
	free(bad);
	/* A symlink named as a record is not followed. */
	join(other, sizeof(other), dir, ".elsewhere");
	write_file(other, yrec, ylen);
	unlink(path);
	ck_assert_int_eq(symlink(other, path), 0);
	expect_counts(dir, 1, 1, "symlink");
	unlink(path);
	unlink(other);
	/* Over the size cap (the valid record padded with an extra header). */
	big = malloc(STORE_MAX_RECORD_BYTES + 1 + ylen);
	ck_assert_ptr_nonnull(big);
	memcpy(big, "pad: ", 5);
	memset(big + 5, 'a', STORE_MAX_RECORD_BYTES - 4);
	big[STORE_MAX_RECORD_BYTES] = '\n';
	memcpy(big + STORE_MAX_RECORD_BYTES + 1, yrec, ylen);
	write_file(path, big, STORE_MAX_RECORD_BYTES + 1 + ylen);
	expect_counts(dir, 1, 1, "too big");
	free(big);
	/* Upper-case hex is not a record name: not even counted invalid. */
	util_hex_encode(y->tbs_sha256, 32, hex);
	for (i = 0; i < 64; i++)
		if (hex[i] >= 'a')
			hex[i] = (char)(hex[i] - 'a' + 'A');
	join(other, sizeof(other), dir, "/");
	join(other + strlen(other), sizeof(other) - strlen(other), hex, ".rec");
	write_file(other, yrec, ylen);
	write_file(path, junk, 10);
	st = open_ok(dir, &o);
	ck_assert_uint_eq(store_count(st), 1);
	ck_assert_uint_eq(stats_of(st).invalid, 1);
	ck_assert_uint_eq(stats_of(st).other, 1);
	/* The ignored file was logged by name. */
	util_hex_encode(y->tbs_sha256, 32, hex);
	ck_assert_msg(strstr(lb.text, hex) != NULL, "log: %s", lb.text);
	/* A put over an invalid file replaces it. */
	ck_assert_int_eq(store_put(st, y, "y", 9, &added), 0);
	ck_assert(added);
	store_free(st);
	unlink(other);
	expect_counts(dir, 2, 0, "replaced");
	free(yrec);
	free(zrec);
	cert_free(keep);
	cert_free(y);
	cert_free(z);
	rm_rf(dir);
}
END_TEST

START_TEST(test_stale_tmp_removed)
{
	char dir[PATH_MAX], path[PATH_MAX];
	struct ct_cert *c = load1(SCAN_DATA "www-1.pem");
	struct store_opts ro = {.flags = STORE_RDONLY};
	struct store *st;
	uint8_t *rec;
	size_t len;

	mkd(dir, sizeof(dir));
	rec = make_record(c, &len);
	join(path, sizeof(path), dir, "/.tmp-0123456789abcdef");
	write_file(path, rec, len / 2);
	join(path, sizeof(path), dir, "/.tmp-whole");
	write_file(path, rec, len);

	/* Read-only: left alone, counted; nothing is a record. */
	st = open_ok(dir, &ro);
	ck_assert_uint_eq(store_count(st), 0);
	ck_assert_uint_eq(stats_of(st).tmp_left, 2);
	ck_assert_uint_eq(stats_of(st).tmp_removed, 0);
	ck_assert_int_eq(store_put(st, c, "x", 1, NULL), CT_ERR_INVALID);
	store_free(st);
	ck_assert_uint_eq(count_prefix(dir, ".tmp-"), 2);

	st = open_ok(dir, NULL);
	ck_assert_uint_eq(store_count(st), 0);
	ck_assert_uint_eq(stats_of(st).tmp_removed, 2);
	ck_assert_uint_eq(stats_of(st).tmp_left, 0);
	store_free(st);
	ck_assert_uint_eq(count_prefix(dir, ".tmp-"), 0);
	free(rec);
	cert_free(c);
	rm_rf(dir);
}
END_TEST

START_TEST(test_caps_and_refresh)
{
	char dir[PATH_MAX];
	struct ct_cert **pool = synth_pool(3);
	struct store_opts two = {.max_records = 2}, one = {.max_records = 1};
	struct store *a, *b = NULL;
	size_t added;

	mkd(dir, sizeof(dir));
	a = open_ok(dir, &two);
	ck_assert_int_eq(store_put(a, pool[0], "p", 1, NULL), 0);
	ck_assert_int_eq(store_put(a, pool[1], "p", 1, NULL), 0);
	ck_assert_int_eq(store_put(a, pool[2], "p", 1, NULL), CT_ERR_TOO_BIG);
	ck_assert_uint_eq(store_count(a), 2);
	store_free(a);
	ck_assert_int_eq(store_open(dir, &one, &b), CT_ERR_TOO_BIG);
	ck_assert_ptr_null(b);

	/* A second handle sees another writer's record after a refresh. */
	a = open_ok(dir, NULL);
	b = open_ok(dir, NULL);
	ck_assert_int_eq(store_put(b, pool[2], "b", 7, NULL), 0);
	ck_assert_ptr_null(store_find(a, pool[2]->tbs_sha256));
	ck_assert_int_eq(store_refresh(a, &added), 0);
	ck_assert_uint_eq(added, 1);
	ck_assert_int_eq(store_find(a, pool[2]->tbs_sha256)->first_seen, 7);
	ck_assert_int_eq(store_refresh(a, &added), 0);
	ck_assert_uint_eq(added, 0);
	ck_assert_ptr_null(store_get(a, 3));
	store_free(a);
	store_free(b);
	ck_assert_int_eq(store_open("", NULL, &a), CT_ERR_INVALID);
	pool_free(pool, 3);
	rm_rf(dir);
}
END_TEST

static int
count_cb(const struct store_rec *r, void *arg)
{
	size_t *n = arg;

	(void)r;
	return ++*n == 3 ? 42 : 0;
}

START_TEST(test_foreach)
{
	char dir[PATH_MAX];
	struct ct_cert **pool = synth_pool(5);
	struct store *st;
	size_t i, n = 0;

	mkd(dir, sizeof(dir));
	st = open_ok(dir, NULL);
	for (i = 0; i < 5; i++)
		ck_assert_int_eq(store_put(st, pool[i], "p", 1, NULL), 0);
	ck_assert_int_eq(store_foreach(st, count_cb, &n), 42);
	ck_assert_uint_eq(n, 3);
	store_free(st);
	pool_free(pool, 5);
	rm_rf(dir);
}
END_TEST

/* Waits for a child and requires exit status 0. */
static void
reap_ok(pid_t pid)
{
	int status = 0;

	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "child status 0x%x", status);
}

static void
conc_child(const char *dir, struct ct_cert **pool, size_t from, int gate,
    int64_t now)
{
	struct store *st = NULL;
	char c;
	size_t i;

	if (read(gate, &c, 1) != 0) /* wait until the parent opens the gate */
		_exit(4);
	if (store_open(dir, NULL, &st) != 0)
		_exit(2);
	for (i = 0; i < CONC_EACH; i++)
		if (store_put(st, pool[from + i], "conc", now, NULL) != 0)
			_exit(3);
	for (i = 0; i < CONC_SHARED; i++)
		if (store_put(st, pool[2 * CONC_EACH + i], "shared", now,
		        NULL) != 0)
			_exit(3);
	store_free(st);
	_exit(0);
}

START_TEST(test_two_writers)
{
	size_t n = 2 * CONC_EACH + CONC_SHARED, i;
	struct ct_cert **pool = synth_pool(n);
	struct store_opts ro = {.flags = STORE_RDONLY};
	char dir[PATH_MAX];
	struct store *st;
	pid_t pa, pb;
	int gate[2];

	mkd(dir, sizeof(dir));
	ck_assert_int_eq(pipe(gate), 0);
	if ((pa = fork()) == 0) {
		close(gate[1]);
		conc_child(dir, pool, 0, gate[0], 1000);
	}
	if ((pb = fork()) == 0) {
		close(gate[1]);
		conc_child(dir, pool, CONC_EACH, gate[0], 2000);
	}
	ck_assert_int_gt(pa, 0);
	ck_assert_int_gt(pb, 0);
	close(gate[0]);
	close(gate[1]); /* both start now */
	reap_ok(pa);
	reap_ok(pb);

	st = open_ok(dir, &ro);
	ck_assert_uint_eq(store_count(st), n);
	ck_assert_uint_eq(stats_of(st).invalid, 0);
	ck_assert_uint_eq(stats_of(st).tmp_left, 0);
	for (i = 0; i < n; i++)
		ck_assert_msg(store_find(st, pool[i]->tbs_sha256) != NULL,
		    "record %zu missing", i);
	for (i = 0; i < CONC_EACH; i++)
		ck_assert_int_eq(store_find(st, pool[i]->tbs_sha256)
		                     ->first_seen,
		    1000);
	store_free(st);
	pool_free(pool, n);
	rm_rf(dir);
}
END_TEST

/* ------------------------------------------------------------ index */

/* Long enough for a record file to be indexed (INDEX_SETTLE_S in store.c). */
#define INDEX_SETTLE_US 2100000

/* Every field of two records is the same. */
static void
rec_same(const struct store_rec *a, const struct store_rec *b)
{
	size_t i;

	ck_assert_mem_eq(a->tbs_sha256, b->tbs_sha256, 32);
	ck_assert_mem_eq(a->sha256, b->sha256, 32);
	ck_assert_mem_eq(a->spki_sha256, b->spki_sha256, 32);
	ck_assert_str_eq(a->serial, b->serial);
	ck_assert_int_eq(a->not_before, b->not_before);
	ck_assert_int_eq(a->not_after, b->not_after);
	ck_assert_int_eq(a->first_seen, b->first_seen);
	ck_assert_str_eq(a->source, b->source);
	ck_assert_uint_eq(a->n_names, b->n_names);
	for (i = 0; i < a->n_names; i++) {
		ck_assert_uint_eq(a->names[i].len, b->names[i].len);
		ck_assert_mem_eq(a->names[i].name, b->names[i].name,
		    a->names[i].len + 1);
	}
	ck_assert(a->precert == b->precert);
	ck_assert(a->is_ca == b->is_ca);
}

static bool
file_exists(const char *path)
{
	struct stat sb;

	return lstat(path, &sb) == 0;
}

/*
 * Records whose files have not changed come from the index, with every
 * field as read from the files; a file changed in place (its modification
 * time put back) is read again; a bad index is ignored and replaced; a
 * read-only open never writes one.
 */
START_TEST(test_index)
{
	static const char *const files[] = {"www-1.pem", "cnonly.pem",
	    "oddnames.pem", "ca.pem"};
	char dir[PATH_MAX], path[PATH_MAX], ipath[PATH_MAX];
	struct store_opts ro = {.flags = STORE_RDONLY};
	struct ct_cert *c[4];
	struct store *ref, *st;
	struct timespec ts[2];
	struct stat sb, sb2;
	struct logbuf lb;
	struct store_opts lo;
	uint8_t *ix, *rec, *p;
	size_t ixlen, reclen, i, n;
	char *src;
	int fd;

	mkd(dir, sizeof(dir));
	join(ipath, sizeof(ipath), dir, "/.index");
	st = open_ok(dir, NULL);
	for (i = 0; i < 4; i++) {
		join(path, sizeof(path), SCAN_DATA, files[i]);
		c[i] = load1(path);
		ck_assert_int_eq(store_put(st, c[i], files[i], 1700000000 + i,
		                     NULL),
		    0);
	}
	store_free(st);
	/* Files written just now are not indexed yet: all read. */
	ref = open_ok(dir, NULL);
	ck_assert_uint_eq(stats_of(ref).indexed, 0);
	ck_assert_uint_eq(store_count(ref), 4);
	usleep(INDEX_SETTLE_US);
	st = open_ok(dir, NULL); /* reads them, writes the index */
	ck_assert_uint_eq(stats_of(st).indexed, 0);
	store_free(st);
	ck_assert(file_exists(ipath));
	ck_assert_int_eq(stat(ipath, &sb), 0);

	/* Now from the index, the same to the last byte; nothing rewritten. */
	st = open_ok(dir, NULL);
	ck_assert_uint_eq(stats_of(st).indexed, 4);
	ck_assert_uint_eq(stats_of(st).invalid, 0);
	ck_assert_uint_eq(stats_of(st).other, 0);
	ck_assert_uint_eq(store_count(st), 4);
	for (i = 0; i < 4; i++)
		rec_same(store_find(st, c[i]->tbs_sha256),
		    store_find(ref, c[i]->tbs_sha256));
	store_free(st);
	ck_assert_int_eq(stat(ipath, &sb2), 0);
	ck_assert_uint_eq(sb.st_ino, sb2.st_ino);

	/* Changed in place, same size, mtime put back: read again. */
	rec_path(dir, c[0], path, sizeof(path));
	ck_assert_int_eq(stat(path, &sb), 0);
	rec = read_all(path, &reclen);
	p = memmem(rec, reclen, "source: www-1.pem", 17);
	ck_assert_ptr_nonnull(p);
	fd = open(path, O_WRONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, "X", 1, (p - rec) + 8), 1);
	ts[0] = sb.st_atim;
	ts[1] = sb.st_mtim;
	ck_assert_int_eq(futimens(fd, ts), 0);
	close(fd);
	free(rec);
	st = open_ok(dir, &ro);
	ck_assert_uint_eq(stats_of(st).indexed, 3);
	src = store_find(st, c[0]->tbs_sha256)->source;
	ck_assert_str_eq(src, "Xww-1.pem");
	store_free(st);

	/* A damaged index, at any length or with any byte flipped: ignored. */
	ix = read_all(ipath, &ixlen);
	for (n = 0; n < ixlen; n += n < 64 ? 1 : 37) {
		write_file(ipath, ix, n);
		st = open_ok(dir, &ro);
		ck_assert_uint_eq(stats_of(st).indexed, 0);
		ck_assert_uint_eq(store_count(st), 4);
		store_free(st);
	}
	for (n = 0; n < ixlen; n += 41) {
		ix[n] ^= 0x20;
		write_file(ipath, ix, ixlen);
		ix[n] ^= 0x20;
		memset(&lb, 0, sizeof(lb));
		memset(&lo, 0, sizeof(lo));
		lo.flags = STORE_RDONLY;
		lo.log = logcb;
		lo.log_arg = &lb;
		st = open_ok(dir, &lo);
		ck_assert_uint_eq(stats_of(st).indexed, 0);
		ck_assert_uint_eq(store_count(st), 4);
		ck_assert_ptr_nonnull(strstr(lb.text, "index ignored"));
		store_free(st);
	}
	free(ix);

	/* A read-only open writes none; a writable one replaces it. */
	ck_assert_int_eq(unlink(ipath), 0);
	store_free(open_ok(dir, &ro));
	ck_assert(!file_exists(ipath));
	usleep(INDEX_SETTLE_US);
	store_free(open_ok(dir, NULL));
	st = open_ok(dir, &ro);
	ck_assert_uint_eq(stats_of(st).indexed, 4);
	store_free(st);

	/* A record removed: dropped from the index too. */
	rec_path(dir, c[1], path, sizeof(path));
	ck_assert_int_eq(unlink(path), 0);
	store_free(open_ok(dir, NULL));
	st = open_ok(dir, NULL);
	ck_assert_uint_eq(store_count(st), 3);
	ck_assert_uint_eq(stats_of(st).indexed, 3);
	ck_assert_ptr_null(store_find(st, c[1]->tbs_sha256));
	store_free(st);
	ck_assert_uint_eq(count_prefix(dir, ".tmp-"), 0);

	store_free(ref);
	for (i = 0; i < 4; i++)
		cert_free(c[i]);
	rm_rf(dir);
}
END_TEST

/* A record file swapped for a symlink or another record stays refused. */
START_TEST(test_index_swapped_file)
{
	char dir[PATH_MAX], a[PATH_MAX], b[PATH_MAX], other[PATH_MAX];
	struct ct_cert *x = load1(SCAN_DATA "www-1.pem");
	struct ct_cert *y = load1(SCAN_DATA "www-2.pem");
	struct store *st;
	uint8_t *yrec;
	size_t ylen;

	mkd(dir, sizeof(dir));
	st = open_ok(dir, NULL);
	ck_assert_int_eq(store_put(st, x, "x", 1, NULL), 0);
	ck_assert_int_eq(store_put(st, y, "y", 2, NULL), 0);
	store_free(st);
	usleep(INDEX_SETTLE_US);
	store_free(open_ok(dir, NULL));
	st = open_ok(dir, NULL);
	ck_assert_uint_eq(stats_of(st).indexed, 2);
	store_free(st);

	/* x's name now holds y's record: foreign, not taken. */
	rec_path(dir, x, a, sizeof(a));
	rec_path(dir, y, b, sizeof(b));
	yrec = read_all(b, &ylen);
	write_file(a, yrec, ylen);
	st = open_ok(dir, NULL);
	ck_assert_uint_eq(store_count(st), 1);
	ck_assert_uint_eq(stats_of(st).invalid, 1);
	ck_assert_ptr_null(store_find(st, x->tbs_sha256));
	store_free(st);

	/* y's name a symlink to a copy of itself: refused as before. */
	join(other, sizeof(other), dir, "/.elsewhere");
	write_file(other, yrec, ylen);
	ck_assert_int_eq(unlink(b), 0);
	ck_assert_int_eq(symlink(other, b), 0);
	st = open_ok(dir, NULL);
	ck_assert_uint_eq(store_count(st), 0);
	ck_assert_uint_eq(stats_of(st).invalid, 2);
	store_free(st);
	free(yrec);
	cert_free(x);
	cert_free(y);
	rm_rf(dir);
}
END_TEST

/* ------------------------------------------------------------ crash */

/* Child of the crash test: reports each record it added, then stops. */
static void
crash_child(const char *dir, struct ct_cert **pool, int out)
{
	struct store *st = NULL;
	uint32_t msg = MSG_READY, i;
	bool added;

	if (store_open(dir, NULL, &st) != 0)
		_exit(2);
	if (write(out, &msg, sizeof(msg)) != (ssize_t)sizeof(msg))
		_exit(5);
	for (i = 0; i < CRASH_POOL; i++) {
		if (store_put(st, pool[i], "crash", 42, &added) != 0)
			_exit(3);
		if (added && write(out, &i, sizeof(i)) != (ssize_t)sizeof(i))
			_exit(5);
	}
	_exit(0);
}

static int64_t
mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Microseconds one store_put takes here (fsyncs included). */
static int64_t
put_cost_us(struct ct_cert **pool)
{
	char dir[PATH_MAX];
	struct store *st;
	int64_t t0;
	size_t i;

	mkd(dir, sizeof(dir));
	st = open_ok(dir, NULL);
	t0 = mono_us();
	for (i = 0; i < 20; i++)
		ck_assert_int_eq(store_put(st, pool[i], "cal", 1, NULL), 0);
	t0 = (mono_us() - t0) / 20;
	store_free(st);
	rm_rf(dir);
	return t0 > 0 ? t0 : 1;
}

/* Temporary files seen so far: counts the kills that left one behind. */
struct tmp_seen {
	char names[CRASH_TMP_NAMES][32];
	size_t n;
};

static void
note_tmps(const char *dir, struct tmp_seen *ts)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	size_t i;

	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, ".tmp-", 5) != 0 ||
		    strlen(de->d_name) >= sizeof(ts->names[0]))
			continue;
		for (i = 0; i < ts->n; i++)
			if (strcmp(ts->names[i], de->d_name) == 0)
				break;
		if (i == ts->n && ts->n < CRASH_TMP_NAMES)
			memcpy(ts->names[ts->n++], de->d_name,
			    strlen(de->d_name) + 1);
	}
	closedir(d);
}

/* Everything the store shows is whole, and every confirmed put is there. */
static void
crash_check(const char *dir, struct ct_cert **pool, const bool *confirmed,
    struct tmp_seen *ts, size_t *records)
{
	struct store_opts ro = {.flags = STORE_RDONLY};
	struct store *st = open_ok(dir, &ro);
	const struct store_rec *r;
	struct ct_cert *c;
	size_t i, j;

	ck_assert_uint_eq(stats_of(st).invalid, 0);
	for (i = 0; i < CRASH_POOL; i++)
		if (confirmed[i])
			ck_assert_msg(store_find(st, pool[i]->tbs_sha256),
			    "confirmed record %zu lost", i);
	for (i = 0; (r = store_get(st, i)) != NULL; i++) {
		for (j = 0; j < CRASH_POOL; j++)
			if (memcmp(pool[j]->tbs_sha256, r->tbs_sha256, 32) == 0)
				break;
		ck_assert_msg(j < CRASH_POOL, "record %zu not from the pool",
		    i);
		ck_assert_int_eq(store_load_cert(st, r->tbs_sha256, &c), 0);
		ck_assert_mem_eq(c->der, pool[j]->der, c->der_len);
		cert_free(c);
	}
	note_tmps(dir, ts);
	*records = store_count(st);
	store_free(st);
}

/* Notes one report of the child; false at EOF. */
static bool
crash_read(int fd, bool *ready, bool *confirmed, size_t *n_confirmed)
{
	uint32_t msg;
	ssize_t n = read(fd, &msg, sizeof(msg));

	if (n == 0)
		return false;
	ck_assert_int_eq(n, (ssize_t)sizeof(msg));
	if (msg == MSG_READY)
		*ready = true;
	else if (msg < CRASH_POOL && !confirmed[msg]) {
		confirmed[msg] = true;
		(*n_confirmed)++;
	}
	return true;
}

START_TEST(test_crash_sigkill)
{
	struct ct_cert **pool = synth_pool(CRASH_POOL);
	bool *confirmed = calloc(CRASH_POOL, sizeof(bool));
	size_t killed = 0, early = 0, n_conf = 0, records = 0, total = 0;
	struct tmp_seen *ts = calloc(1, sizeof(*ts));
	size_t most = 0, round;
	int64_t cost = put_cost_us(pool), t0 = mono_us(), window;
	unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
	const char *env = getenv("CT_TEST_SEED");
	char dir[PATH_MAX] = "";
	size_t want, before;
	int pfd[2], status;
	bool ready;
	pid_t pid;

	if (env != NULL)
		seed = (unsigned)strtoul(env, NULL, 10);
	srandom(seed);
	window =
	    cost * 2 < CRASH_WINDOW_MAX_US ? cost * 2 : CRASH_WINDOW_MAX_US;
	ck_assert_ptr_nonnull(ts);
	ck_assert_ptr_nonnull(confirmed);
	for (round = 0; round < CRASH_ROUNDS; round++) {
		if (round % CRASH_FRESH_EVERY == 0) {
			if (*dir)
				rm_rf(dir);
			mkd(dir, sizeof(dir));
			memset(confirmed, 0, CRASH_POOL * sizeof(bool));
			n_conf = 0;
		}
		ck_assert_int_eq(pipe(pfd), 0);
		if ((pid = fork()) == 0) {
			close(pfd[0]);
			crash_child(dir, pool, pfd[1]);
		}
		ck_assert_int_gt(pid, 0);
		close(pfd[1]);
		total -= n_conf;
		ready = false;
		if (random() % 100 < CRASH_EARLY_PERCENT) {
			/* Anywhere, store_open's clean-up included. */
			usleep((useconds_t)(random() % (cost * 4 + 1)));
			early++;
		} else {
			/* After 0-5 more puts, then within about one put. */
			want = (size_t)(random() % (CRASH_MAX_PUTS + 1));
			before = n_conf;
			while ((!ready || n_conf - before < want) &&
			    crash_read(pfd[0], &ready, confirmed, &n_conf))
				;
			usleep((useconds_t)(random() % (window + 1)));
		}
		kill(pid, SIGKILL);
		ck_assert_int_eq(waitpid(pid, &status, 0), pid);
		if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
			killed++;
		else
			ck_assert_msg(WIFEXITED(status) &&
			        WEXITSTATUS(status) == 0,
			    "round %zu: child status 0x%x", round, status);
		while (crash_read(pfd[0], &ready, confirmed, &n_conf))
			;
		total += n_conf;
		close(pfd[0]);
		crash_check(dir, pool, confirmed, ts, &records);
		ck_assert_uint_ge(records, n_conf);
		if (records > most)
			most = records;
	}
	/* A writable open clears what the kills left behind. */
	store_free(open_ok(dir, NULL));
	ck_assert_uint_eq(count_prefix(dir, ".tmp-"), 0);
	fprintf(stderr,
	    "crash: %d rounds (seed %u): %zu SIGKILLed (%zu without waiting "
	    "for store_open), %zu left a temporary file (killed between "
	    "create and rename), %zu puts confirmed before a kill all "
	    "found whole, up to %zu records per store; put %lld us, kill "
	    "window %lld us; %lld ms\n",
	    CRASH_ROUNDS, seed, killed, early, ts->n, total, most,
	    (long long)cost, (long long)window,
	    (long long)(mono_us() - t0) / 1000);
	ck_assert_uint_ge(killed, CRASH_ROUNDS / 2);
	rm_rf(dir);
	free(confirmed);
	free(ts);
	pool_free(pool, CRASH_POOL);
}
END_TEST

static Suite *
store_suite(void)
{
	Suite *s = suite_create("store");
	TCase *tc = tcase_create("store");
	TCase *proc = tcase_create("processes");

	tcase_add_test(tc, test_put_find_reopen);
	tcase_add_test(tc, test_record_format);
	tcase_add_test(tc, test_cn_only);
	tcase_add_test(tc, test_second_put_keeps_first_seen);
	tcase_add_test(tc, test_torn_record_every_length);
	tcase_add_test(tc, test_foreign_and_garbage_records);
	tcase_add_test(tc, test_stale_tmp_removed);
	tcase_add_test(tc, test_caps_and_refresh);
	tcase_add_test(tc, test_foreach);
	tcase_add_test(tc, test_index);
	tcase_add_test(tc, test_index_swapped_file);
	tcase_set_timeout(tc, 60);
	tcase_add_test(proc, test_two_writers);
	tcase_add_test(proc, test_crash_sigkill);
	tcase_set_timeout(proc, 120);
	suite_add_tcase(s, tc);
	suite_add_tcase(s, proc);
	return s;
}

int
main(void)
{
	return testutil_run(store_suite());
}
