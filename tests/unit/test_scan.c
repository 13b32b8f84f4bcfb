/*
 * Unit tests for agent/scan: dehydrated- and certbot-like trees built
 * under mkdtemp with fixture certificates, private keys, symlinks inside
 * and outside the roots, loops, and unreadable, huge, special and
 * non-certificate files. Each test asserts exactly which certificates
 * were found and which entries were skipped, and why.
 */
#define _GNU_SOURCE /* nftw */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <string.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cert.h"
#include "scan.h"
#include "store.h"
#include "testutil.h"

#define SCAN_DATA LOCAL_TESTDATA "scan/"
#define SECRET "SECRETKEYMATERIALxx"
#define KEY_PEM                                                                \
	"-----BEGIN PRIVATE KEY-----\nMIIEvQIBADAN" SECRET "AAAA\n"            \
	"-----END PRIVATE KEY-----\n"
#define MAX_LINES 256

/* ------------------------------------------------------------ helpers */

struct logcap {
	char *lines[MAX_LINES];
	int n;
};

static void logcb(void *arg, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
logcb(void *arg, const char *fmt, ...)
{
	struct logcap *lc = arg;
	char buf[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	ck_assert_int_lt(lc->n, MAX_LINES);
	lc->lines[lc->n] = strdup(buf);
	ck_assert_ptr_nonnull(lc->lines[lc->n]);
	lc->n++;
}

static void
logcap_free(struct logcap *lc)
{
	int i;

	for (i = 0; i < lc->n; i++)
		free(lc->lines[i]);
	lc->n = 0;
}

static int
count_skip_lines(const struct logcap *lc)
{
	int i, n = 0;

	for (i = 0; i < lc->n; i++)
		if (strstr(lc->lines[i], ": skipped: ") != NULL)
			n++;
	return n;
}

/* Requires the line "<path>: skipped: <reason>[ (detail)]". */
static void
expect_skip(const struct logcap *lc, const char *path, enum scan_skip why)
{
	char want[PATH_MAX + 128];
	size_t n;
	int i;

	snprintf(want, sizeof(want), "%s: skipped: %s", path,
	    scan_skip_names[why]);
	n = strlen(want);
	for (i = 0; i < lc->n; i++)
		if (strncmp(lc->lines[i], want, n) == 0 &&
		    (lc->lines[i][n] == '\0' || lc->lines[i][n] == ' '))
			return;
	ck_abort_msg("no log line \"%s\"", want);
}

static bool
logged(const struct logcap *lc, const char *needle)
{
	int i;

	for (i = 0; i < lc->n; i++)
		if (strstr(lc->lines[i], needle) != NULL)
			return true;
	return false;
}

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

/* out = a + b, which must fit. */
static void
join(char *out, size_t outsz, const char *a, const char *b)
{
	int n = snprintf(out, outsz, "%s%s", a, b);

	ck_assert(n > 0 && (size_t)n < outsz);
}

static void
mkdirs(const char *base, const char *rel)
{
	char path[PATH_MAX], *p;

	join(path, sizeof(path), base, rel);
	for (p = path + strlen(base) + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		ck_assert(mkdir(path, 0755) == 0 || errno == EEXIST);
		*p = '/';
	}
	ck_assert(mkdir(path, 0755) == 0 || errno == EEXIST);
}

static void
put(const char *base, const char *rel, const char *a, const char *b,
    mode_t mode)
{
	char path[PATH_MAX];
	int fd;

	join(path, sizeof(path), base, rel);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	ck_assert_msg(fd >= 0, "%s: %s", path, strerror(errno));
	ck_assert_int_eq(write(fd, a, strlen(a)), (ssize_t)strlen(a));
	if (b != NULL)
		ck_assert_int_eq(write(fd, b, strlen(b)), (ssize_t)strlen(b));
	ck_assert_int_eq(fchmod(fd, mode), 0);
	close(fd);
}

static void
lnk(const char *target, const char *base, const char *rel)
{
	char path[PATH_MAX];

	join(path, sizeof(path), base, rel);
	ck_assert_msg(symlink(target, path) == 0, "%s: %s", path,
	    strerror(errno));
}

static char *
fixture(const char *name)
{
	char path[PATH_MAX];
	size_t len;

	join(path, sizeof(path), SCAN_DATA, name);
	return (char *)testutil_read(path, &len);
}

static struct ct_cert *
load1(const char *name)
{
	char path[PATH_MAX];
	struct ct_cert **cs = NULL, *c;
	size_t n = 0, i;

	join(path, sizeof(path), SCAN_DATA, name);
	ck_assert_int_eq(cert_load_file(path, &cs, &n), 0);
	c = cs[0];
	for (i = 1; i < n; i++)
		cert_free(cs[i]);
	free(cs);
	return c;
}

/* The result entry holding fixture name's certificate, or NULL. */
static const struct scan_cert *
found(const struct scan_result *r, const char *name)
{
	struct ct_cert *c = load1(name);
	const struct scan_cert *e = NULL;
	size_t i;

	for (i = 0; i < r->n_certs; i++)
		if (memcmp(r->certs[i].cert->tbs_sha256, c->tbs_sha256, 32) ==
		    0)
			e = &r->certs[i];
	cert_free(c);
	return e;
}

/* Requires fixture name found at base+rel with the given flags. */
static void
expect_cert(const struct scan_result *r, const char *name, const char *base,
    const char *rel, bool live, size_t files)
{
	const struct scan_cert *e = found(r, name);
	char path[PATH_MAX];

	join(path, sizeof(path), base, rel);
	ck_assert_msg(e != NULL, "%s not found", name);
	ck_assert_str_eq(e->path, path);
	ck_assert_msg(e->live == live, "%s: live %d", name, e->live);
	ck_assert_uint_eq(e->files, files);
	ck_assert(!e->cert->is_ca);
}

/* ------------------------------------------------------------ the tree */

struct tree {
	char top[PATH_MAX];
	char dehy[PATH_MAX]; /* top/dehydrated/certs: a plain root */
	char le[PATH_MAX];   /* top/letsencrypt: a certbot root */
	char www[PATH_MAX];  /* dehy/www.example.org */
	char store[PATH_MAX];
};

#define W "/www.example.org"
#define DEEP "/a/b/c/d/e/f/g/h" /* depth 8 below the root: walked */
#define LIVE "/live/mail.example.org"
#define ARCH "/archive/mail.example.org"

static void
build_dehydrated(const struct tree *t)
{
	char *www1 = fixture("www-1.pem"), *www2 = fixture("www-2.pem");
	char *ca = fixture("ca.pem"), *unr = fixture("unreadable.pem");
	char *odd = fixture("oddnames.pem"), *cn = fixture("cnonly.pem");
	char *outside = fixture("outside.pem");
	char path[PATH_MAX], out[PATH_MAX];
	int fd;

	mkdirs(t->dehy, W);
	put(t->www, "/cert-1690000000.pem", www1, NULL, 0644);
	put(t->www, "/cert-1700000000.pem", www2, NULL, 0644);
	lnk("cert-1700000000.pem", t->www, "/cert.pem");
	put(t->www, "/chain-1700000000.pem", ca, NULL, 0644);
	lnk("chain-1700000000.pem", t->www, "/chain.pem");
	put(t->www, "/fullchain-1700000000.pem", www2, ca, 0644);
	lnk("fullchain-1700000000.pem", t->www, "/fullchain.pem");
	put(t->www, "/privkey-1700000000.pem", KEY_PEM, NULL, 0600);
	lnk("privkey-1700000000.pem", t->www, "/privkey.pem");
	put(t->www, "/cert-1700000000.csr", "csr", NULL, 0644);
	/* A certificate-looking name holding a certificate and a key. */
	put(t->www, "/cert-bad.pem", cn, KEY_PEM, 0600);
	put(t->www, "/cert-garbage.pem", "hello, not a certificate\n", NULL,
	    0644);
	put(t->www, "/cert-unreadable.pem", unr, NULL, 0000);
	put(t->www, "/.cert-hidden.pem", www1, NULL, 0644);
	lnk("privkey-1700000000.pem", t->www, "/cert-current.pem");
	lnk("nonexistent.pem", t->www, "/dangling.pem");
	lnk("loop-b.pem", t->www, "/loop-a.pem");
	lnk("loop-a.pem", t->www, "/loop-b.pem");
	join(path, sizeof(path), t->www, "/cert-fifo.pem");
	ck_assert_int_eq(mkfifo(path, 0644), 0);
	join(path, sizeof(path), t->www, "/cert-huge.pem");
	ck_assert_int_ge(fd = open(path, O_WRONLY | O_CREAT, 0644), 0);
	ck_assert_int_eq(ftruncate(fd, SCAN_MAX_FILE_BYTES + 1), 0);
	close(fd);
	/* Outside every root, reached by a symlink: must not be read. */
	mkdirs(t->top, "/outside");
	put(t->top, "/outside/outside.pem", outside, NULL, 0644);
	join(out, sizeof(out), t->top, "/outside/outside.pem");
	lnk(out, t->www, "/evil.pem");
	/* Into the other root: allowed. */
	join(out, sizeof(out), t->le, ARCH "/cert1.pem");
	lnk(out, t->www, "/cross.pem");
	/* A directory loop, and the depth cap. */
	lnk(".", t->dehy, "/loopdir");
	mkdirs(t->dehy, DEEP "/i");
	put(t->dehy, DEEP "/deep-ok.pem", odd, NULL, 0644);
	put(t->dehy, DEEP "/i/too-deep.pem", cn, NULL, 0644);
	free(www1);
	free(www2);
	free(ca);
	free(unr);
	free(odd);
	free(cn);
	free(outside);
}

static void
build_certbot(const struct tree *t)
{
	char *m1 = fixture("mail-1.pem"), *m2 = fixture("mail-2.pem");
	char *ca = fixture("ca.pem");
	static const char *const links[][2] = {
	    {"cert.pem", "cert2.pem"},
	    {"chain.pem", "chain2.pem"},
	    {"fullchain.pem", "fullchain2.pem"},
	    {"privkey.pem", "privkey2.pem"},
	};
	char rel[PATH_MAX], target[PATH_MAX];
	size_t i;

	mkdirs(t->le, ARCH);
	mkdirs(t->le, LIVE);
	mkdirs(t->le, "/keys");
	mkdirs(t->le, "/csr");
	mkdirs(t->le, "/renewal");
	mkdirs(t->le, "/accounts/acme/x");
	put(t->le, ARCH "/cert1.pem", m1, NULL, 0644);
	put(t->le, ARCH "/cert2.pem", m2, NULL, 0644);
	put(t->le, ARCH "/chain1.pem", ca, NULL, 0644);
	put(t->le, ARCH "/chain2.pem", ca, NULL, 0644);
	put(t->le, ARCH "/fullchain1.pem", m1, ca, 0644);
	put(t->le, ARCH "/fullchain2.pem", m2, ca, 0644);
	put(t->le, ARCH "/privkey1.pem", KEY_PEM, NULL, 0600);
	put(t->le, ARCH "/privkey2.pem", KEY_PEM, NULL, 0600);
	for (i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		join(target, sizeof(target), "../../archive/mail.example.org/",
		    links[i][1]);
		join(rel, sizeof(rel), LIVE "/", links[i][0]);
		lnk(target, t->le, rel);
	}
	put(t->le, "/live/README", "This directory contains your keys\n", NULL,
	    0644);
	put(t->le, "/keys/0000_key-certbot.pem", KEY_PEM, NULL, 0600);
	put(t->le, "/csr/0000_csr-certbot.pem", "csr\n", NULL, 0644);
	put(t->le, "/renewal/mail.example.org.conf", "x = y\n", NULL, 0644);
	put(t->le, "/accounts/acme/x/private_key.json", "{}", NULL, 0600);
	free(m1);
	free(m2);
	free(ca);
}

static void
build_tree(struct tree *t)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(t->top, sizeof(t->top), "%s/ct-scan-XXXXXX",
	    tmp ? tmp : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(t->top));
	join(t->dehy, sizeof(t->dehy), t->top, "/dehydrated/certs");
	join(t->le, sizeof(t->le), t->top, "/letsencrypt");
	join(t->www, sizeof(t->www), t->dehy, W);
	join(t->store, sizeof(t->store), t->top, "/store");
	mkdirs(t->top, "/dehydrated/certs");
	mkdirs(t->top, "/letsencrypt");
	build_certbot(t);
	build_dehydrated(t);
}

static void
free_tree(struct tree *t)
{
	char path[PATH_MAX];

	join(path, sizeof(path), t->www, "/cert-unreadable.pem");
	chmod(path, 0644);
	rm_rf(t->top);
}

/* Runs a scan of the two roots and a missing one. */
static struct scan_result *
run(const struct tree *t, struct store *st, bool verbose, struct logcap *lc)
{
	char missing[PATH_MAX];
	const char *roots[3] = {t->dehy, t->le, missing};
	struct scan_opts o = {
	    .roots = roots,
	    .n_roots = 3,
	    .store = st,
	    .now = 1700000000,
	    .verbose = verbose,
	    .log = logcb,
	    .log_arg = lc,
	};
	struct scan_result *r = NULL;
	int rc;

	join(missing, sizeof(missing), t->top, "/missing");
	rc = scan_run(&o, &r);
	ck_assert_msg(rc == 0, "scan_run: %s", ct_strerror(rc));
	ck_assert_ptr_nonnull(r);
	return r;
}

/* ------------------------------------------------------------ tests */

START_TEST(test_key_names)
{
	static const char *const keys[] = {"privkey.pem", "privkey-1.pem",
	    "privkey1.pem", "PrivKey.PEM", "server.key", "a.KEY",
	    "account_key.pem", "0000_key-certbot.pem", "my-private.pem",
	    "private", "www.key.pem"};
	static const char *const certs[] = {"cert.pem", "cert-1.pem",
	    "fullchain.pem", "chain2.pem", "www.example.org.crt",
	    "keystone.crt", "k.der"};
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		ck_assert_msg(scan_is_key_name(keys[i]), "%s", keys[i]);
	for (i = 0; i < sizeof(certs) / sizeof(certs[0]); i++)
		ck_assert_msg(!scan_is_key_name(certs[i]), "%s", certs[i]);
}
END_TEST

START_TEST(test_default_roots)
{
	char top[PATH_MAX], want[PATH_MAX], **roots = NULL;
	const char *tmp = getenv("TMPDIR");
	size_t n = 9;

	snprintf(top, sizeof(top), "%s/ct-roots-XXXXXX", tmp ? tmp : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(top));
	ck_assert_int_eq(scan_default_roots(top, &roots, &n), 0);
	ck_assert_uint_eq(n, 0);
	scan_roots_free(roots, n);
	mkdirs(top, "/etc/letsencrypt");
	mkdirs(top, "/var/lib/dehydrated/certs");
	mkdirs(top, "/etc/dehydrated"); /* no certs/ below: not a root */
	ck_assert_int_eq(scan_default_roots(top, &roots, &n), 0);
	ck_assert_uint_eq(n, 2);
	join(want, sizeof(want), top, "/var/lib/dehydrated/certs");
	ck_assert_str_eq(roots[0], want);
	join(want, sizeof(want), top, "/etc/letsencrypt");
	ck_assert_str_eq(roots[1], want);
	scan_roots_free(roots, n);
	rm_rf(top);
}
END_TEST

START_TEST(test_scan_tree)
{
	struct tree t;
	struct logcap lc = {.n = 0};
	struct store *st = NULL;
	struct scan_result *r;
	const struct store_rec *rec;
	const struct scan_cert *e;
	char p[PATH_MAX];
	bool root = geteuid() == 0;
	int n_skips = 0, i;
	size_t total = 0;

	build_tree(&t);
	ck_assert_int_eq(store_open(t.store, NULL, &st), 0);
	r = run(&t, st, true, &lc);

	/* Roots: kinds, and the missing one reported. */
	ck_assert_uint_eq(r->n_roots, 3);
	ck_assert(r->roots[0].found && r->roots[0].kind == SCAN_ROOT_PLAIN);
	ck_assert(r->roots[1].found && r->roots[1].kind == SCAN_ROOT_CERTBOT);
	ck_assert(!r->roots[2].found);
	ck_assert(logged(&lc, "/missing: certificate directory not scanned"));

	/* Exactly these certificates. */
	expect_cert(r, "www-1.pem", t.www, "/cert-1690000000.pem", false, 1);
	expect_cert(r, "www-2.pem", t.www, "/cert.pem", true, 2);
	expect_cert(r, "oddnames.pem", t.dehy, DEEP "/deep-ok.pem", false, 1);
	expect_cert(r, "mail-1.pem", t.www, "/cross.pem", false, 2);
	expect_cert(r, "mail-2.pem", t.le, LIVE "/cert.pem", true, 2);
	ck_assert_ptr_null(found(r, "outside.pem"));
	ck_assert_ptr_null(found(r, "cnonly.pem"));
	ck_assert_ptr_null(found(r, "ca.pem"));
	if (root) {
		fprintf(stderr,
		    "test_scan: running as root: chmod 000 does "
		    "not stop root reading, so test_scan_tree "
		    "expects the file read; "
		    "test_unreadable_unprivileged checks the skip "
		    "as nobody\n");
		expect_cert(r, "unreadable.pem", t.www, "/cert-unreadable.pem",
		    false, 1);
	} else
		ck_assert_ptr_null(found(r, "unreadable.pem"));
	ck_assert_uint_eq(r->n_certs, root ? 6 : 5);

	/* Exactly these skips, each logged once. */
#define SK(base, rel, why)                                                     \
	do {                                                                   \
		join(p, sizeof(p), (base), (rel));                             \
		expect_skip(&lc, p, (why));                                    \
		n_skips++;                                                     \
	} while (0)
	SK(t.dehy, DEEP "/i", SCAN_SKIP_DEPTH);
	SK(t.dehy, "/loopdir", SCAN_SKIP_DIR_LOOP);
	SK(t.www, "/.cert-hidden.pem", SCAN_SKIP_NAME);
	SK(t.www, "/cert-1700000000.csr", SCAN_SKIP_NAME);
	SK(t.www, "/cert-bad.pem", SCAN_SKIP_KEY_CONTENT);
	SK(t.www, "/cert-fifo.pem", SCAN_SKIP_SPECIAL);
	SK(t.www, "/cert-garbage.pem", SCAN_SKIP_NOT_CERT);
	SK(t.www, "/cert-huge.pem", SCAN_SKIP_TOO_BIG);
	SK(t.www, "/cert-current.pem", SCAN_SKIP_KEY_NAME);
	SK(t.www, "/chain-1700000000.pem", SCAN_SKIP_CA);
	SK(t.www, "/dangling.pem", SCAN_SKIP_LINK);
	SK(t.www, "/evil.pem", SCAN_SKIP_OUTSIDE);
	SK(t.www, "/loop-a.pem", SCAN_SKIP_LINK);
	SK(t.www, "/loop-b.pem", SCAN_SKIP_LINK);
	SK(t.www, "/privkey-1700000000.pem", SCAN_SKIP_KEY_NAME);
	SK(t.www, "/privkey.pem", SCAN_SKIP_KEY_NAME);
	SK(t.le, "/accounts", SCAN_SKIP_NAME);
	SK(t.le, "/csr", SCAN_SKIP_NAME);
	SK(t.le, "/keys", SCAN_SKIP_NAME);
	SK(t.le, "/renewal", SCAN_SKIP_NAME);
	SK(t.le, ARCH "/chain1.pem", SCAN_SKIP_NAME);
	SK(t.le, ARCH "/chain2.pem", SCAN_SKIP_NAME);
	SK(t.le, ARCH "/privkey1.pem", SCAN_SKIP_KEY_NAME);
	SK(t.le, ARCH "/privkey2.pem", SCAN_SKIP_KEY_NAME);
	SK(t.le, "/live/README", SCAN_SKIP_NAME);
	SK(t.le, LIVE "/chain.pem", SCAN_SKIP_NAME);
	SK(t.le, LIVE "/privkey.pem", SCAN_SKIP_KEY_NAME);
	if (!root)
		SK(t.www, "/cert-unreadable.pem", SCAN_SKIP_UNREADABLE);
#undef SK
	ck_assert_int_eq(count_skip_lines(&lc), n_skips);
	for (i = 0; i < SCAN_SKIP__MAX; i++)
		total += r->skipped[i];
	ck_assert_uint_eq(total, (size_t)n_skips);
	ck_assert_uint_eq(r->skipped[SCAN_SKIP_KEY_NAME], 6);
	ck_assert_uint_eq(r->skipped[SCAN_SKIP_KEY_CONTENT], 1);
	ck_assert(!r->truncated);
	/* The key's bytes never reach the log. */
	ck_assert(!logged(&lc, SECRET));
	ck_assert(!logged(&lc, "MIIEvQ"));
	ck_assert_uint_eq(r->store_errors, 0);

	/* Every leaf was learned, with the path where it was first seen. */
	ck_assert_uint_eq(store_count(st), r->n_certs);
	for (i = 0; i < (int)r->n_certs; i++)
		ck_assert(r->certs[i].learned);
	e = found(r, "www-2.pem");
	rec = store_find(st, e->cert->tbs_sha256);
	ck_assert_ptr_nonnull(rec);
	join(p, sizeof(p), t.www, "/cert-1700000000.pem");
	ck_assert_str_eq(rec->source, p);
	ck_assert_int_eq(rec->first_seen, 1700000000);
	scan_result_free(r);
	logcap_free(&lc);

	/* A second scan finds the same and learns nothing new. */
	r = run(&t, st, true, &lc);
	ck_assert_uint_eq(r->n_certs, root ? 6 : 5);
	for (i = 0; i < (int)r->n_certs; i++)
		ck_assert(!r->certs[i].learned);
	ck_assert_uint_eq(store_count(st), r->n_certs);
	ck_assert_int_eq(count_skip_lines(&lc), n_skips);
	scan_result_free(r);
	logcap_free(&lc);
	store_free(st);
	free_tree(&t);
}
END_TEST

/* Without verbose, the skips of a normal layout are counted, not logged. */
START_TEST(test_scan_quiet)
{
	struct tree t;
	struct logcap lc = {.n = 0};
	struct scan_result *r;
	char p[PATH_MAX];

	build_tree(&t);
	r = run(&t, NULL, false, &lc);
	ck_assert_uint_eq(r->skipped[SCAN_SKIP_KEY_NAME], 6);
	ck_assert_uint_eq(r->skipped[SCAN_SKIP_CA], 1);
	ck_assert(!logged(&lc, scan_skip_names[SCAN_SKIP_KEY_NAME]));
	ck_assert(!logged(&lc, scan_skip_names[SCAN_SKIP_CA]));
	ck_assert(!logged(&lc, scan_skip_names[SCAN_SKIP_NAME]));
	join(p, sizeof(p), t.www, "/cert-bad.pem");
	expect_skip(&lc, p, SCAN_SKIP_KEY_CONTENT);
	join(p, sizeof(p), t.www, "/evil.pem");
	expect_skip(&lc, p, SCAN_SKIP_OUTSIDE);
	ck_assert(!logged(&lc, SECRET));
	ck_assert(!r->certs[0].learned);
	scan_result_free(r);
	logcap_free(&lc);
	free_tree(&t);
}
END_TEST

/* A root given through a symlink, with a trailing slash; bad options. */
START_TEST(test_root_via_symlink)
{
	struct tree t;
	struct logcap lc = {.n = 0};
	struct scan_result *r = NULL;
	char alias[PATH_MAX], root[PATH_MAX + 1], *real;
	const char *roots[1] = {root};
	struct scan_opts o = {.roots = roots,
	    .n_roots = 1,
	    .log = logcb,
	    .log_arg = &lc};

	build_tree(&t);
	join(alias, sizeof(alias), t.top, "/alias");
	ck_assert_int_eq(symlink(t.le, alias), 0);
	join(root, sizeof(root), alias, "/");
	ck_assert_int_eq(scan_run(&o, &r), 0);
	ck_assert_uint_eq(r->n_certs, 2);
	ck_assert_str_eq(r->roots[0].path, alias);
	real = realpath(t.le, NULL);
	ck_assert_ptr_nonnull(real);
	ck_assert_str_eq(r->roots[0].real, real);
	free(real);
	ck_assert_int_eq(r->roots[0].kind, SCAN_ROOT_CERTBOT);
	expect_cert(r, "mail-2.pem", alias, LIVE "/cert.pem", true, 2);
	expect_cert(r, "mail-1.pem", alias, ARCH "/cert1.pem", false, 2);
	scan_result_free(r);
	r = NULL;
	/* Only the dehydrated root: the cross-root link now leads out. */
	roots[0] = t.dehy;
	ck_assert_int_eq(scan_run(&o, &r), 0);
	ck_assert_ptr_null(found(r, "mail-1.pem"));
	ck_assert_uint_eq(r->skipped[SCAN_SKIP_OUTSIDE], 2);
	scan_result_free(r);
	r = NULL;
	o.n_roots = SCAN_MAX_ROOTS + 1;
	ck_assert_int_eq(scan_run(&o, &r), CT_ERR_INVALID);
	ck_assert_ptr_null(r);
	logcap_free(&lc);
	free_tree(&t);
}
END_TEST

/*
 * chmod 000 stops nobody but root. As root, a child drops to "nobody"
 * (uid/gid 65534) to check that an unreadable file is skipped and logged
 * once; as another user the main test has checked it already.
 */
START_TEST(test_unreadable_unprivileged)
{
	struct tree t;
	struct logcap lc = {.n = 0};
	struct scan_result *r;
	char p[PATH_MAX];
	int status = 0;
	pid_t pid;

	if (geteuid() != 0) {
		fprintf(stderr,
		    "test_unreadable_unprivileged: not root, "
		    "nothing to drop (test_scan_tree checked the "
		    "skip)\n");
		return;
	}
	build_tree(&t);
	ck_assert_int_eq(chmod(t.top, 0755), 0);
	if ((pid = fork()) == 0) {
		if (setgroups(0, NULL) != 0 || setgid(65534) != 0 ||
		    setuid(65534) != 0)
			_exit(3);
		r = run(&t, NULL, false, &lc);
		join(p, sizeof(p), t.www, "/cert-unreadable.pem");
		expect_skip(&lc, p, SCAN_SKIP_UNREADABLE);
		_exit(found(r, "unreadable.pem") == NULL &&
		            found(r, "www-2.pem") != NULL
		        ? 0
		        : 4);
	}
	ck_assert_int_gt(pid, 0);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "unprivileged scan: status 0x%x", status);
	free_tree(&t);
}
END_TEST

static Suite *
scan_suite(void)
{
	Suite *s = suite_create("scan");
	TCase *tc = tcase_create("scan");

	tcase_add_test(tc, test_key_names);
	tcase_add_test(tc, test_default_roots);
	tcase_add_test(tc, test_scan_tree);
	tcase_add_test(tc, test_scan_quiet);
	tcase_add_test(tc, test_root_via_symlink);
	tcase_add_test(tc, test_unreadable_unprivileged);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return testutil_run(scan_suite());
}
