/*
 * scan: discovery and reading of certificate directories. The rules are
 * listed in scan.h.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cert.h"
#include "scan.h"
#include "store.h"
#include "util.h"

#define LOG_PATH_BYTES 512 /* a path in a log line (sanitised, cut) */
#define KEY_MARKER "PRIVATE KEY-----"

const char *const scan_skip_names[SCAN_SKIP__MAX] = {
    "named like a private key, not opened",
    "contains a private key",
    "symlink leads outside the certificate roots",
    "broken symlink",
    "directory already visited (loop)",
    "deeper than the depth cap",
    "permission denied",
    "file over the size cap",
    "not a regular file or directory",
    "changed while being opened",
    "not a certificate",
    "no leaf certificate (CA or chain file)",
    "not a certificate file name",
    "I/O error",
};

const char *const scan_default_root_paths[SCAN_N_DEFAULT_ROOTS] = {
    "/var/lib/dehydrated/certs",
    "/etc/dehydrated/certs",
    "/etc/letsencrypt",
};

const char *const scan_root_kind_names[SCAN_ROOT__MAX] = {
    "plain",
    "certbot",
};

/* Open-addressing table: 32-byte keys to a long. */
struct seen_slot {
	uint8_t key[32];
	long val;
	bool used;
};

struct seen {
	struct seen_slot *slots;
	size_t n;
	size_t cap; /* a power of two, or 0 */
};

struct scan {
	const struct scan_opts *o;
	struct scan_result *res;
	int *root_fds;
	struct seen dirs;  /* (dev, ino) of directories entered */
	struct seen files; /* (dev, ino) of files read -> cert index or -1 */
	struct seen tbs;   /* tbs_sha256 -> cert index */
	size_t certs_cap;
	bool stop; /* the entry cap was reached */
};

/* ------------------------------------------------------------ tables */

static size_t
seen_hash(const uint8_t key[32])
{
	uint64_t h = 0xcbf29ce484222325ULL;
	int i;

	for (i = 0; i < 32; i++)
		h = (h ^ key[i]) * 0x100000001b3ULL;
	return (size_t)h;
}

static int
seen_grow(struct seen *t)
{
	size_t ncap = t->cap ? t->cap * 2 : 256, i, j;
	struct seen_slot *s;

	if ((s = calloc(ncap, sizeof(*s))) == NULL)
		return CT_ERR_NOMEM;
	for (i = 0; i < t->cap; i++) {
		if (!t->slots[i].used)
			continue;
		j = seen_hash(t->slots[i].key) & (ncap - 1);
		while (s[j].used)
			j = (j + 1) & (ncap - 1);
		s[j] = t->slots[i];
	}
	free(t->slots);
	t->slots = s;
	t->cap = ncap;
	return 0;
}

/*
 * The value slot of key, created (value -1) when missing; *found tells
 * which. NULL when out of memory.
 */
static long *
seen_slot(struct seen *t, const uint8_t key[32], bool *found)
{
	size_t j;

	if ((t->n + 1) * 2 > t->cap && seen_grow(t) != 0)
		return NULL;
	for (j = seen_hash(key) & (t->cap - 1); t->slots[j].used;
	     j = (j + 1) & (t->cap - 1)) {
		if (memcmp(t->slots[j].key, key, 32) == 0) {
			*found = true;
			return &t->slots[j].val;
		}
	}
	memcpy(t->slots[j].key, key, 32);
	t->slots[j].used = true;
	t->slots[j].val = -1;
	t->n++;
	*found = false;
	return &t->slots[j].val;
}

static void
devino_key(const struct stat *sb, uint8_t key[32])
{
	uint64_t dev = (uint64_t)sb->st_dev, ino = (uint64_t)sb->st_ino;

	memset(key, 0, 32);
	memcpy(key, &dev, sizeof(dev));
	memcpy(key + 8, &ino, sizeof(ino));
}

/* ------------------------------------------------------------ names */

static bool
ends_with_ci(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

static bool
contains_ci(const char *s, const char *needle)
{
	size_t m = strlen(needle);

	for (; *s != '\0'; s++)
		if (strncasecmp(s, needle, m) == 0)
			return true;
	return false;
}

bool
scan_is_key_name(const char *name)
{
	return strncasecmp(name, "privkey", 7) == 0 ||
	    ends_with_ci(name, ".key") ||
	    (contains_ci(name, "key") && ends_with_ci(name, ".pem")) ||
	    contains_ci(name, "private");
}

static bool
is_cert_ext(const char *name)
{
	return ends_with_ci(name, ".pem") || ends_with_ci(name, ".crt") ||
	    ends_with_ci(name, ".cer") || ends_with_ci(name, ".der");
}

/* The ACME clients' names for the current certificate. */
static bool
is_live_name(const char *name)
{
	return strcmp(name, "cert.pem") == 0 ||
	    strcmp(name, "fullchain.pem") == 0;
}

/* depth: of the entry, 1 for a root's own entries. */
static bool
want_dir(enum scan_root_kind kind, unsigned depth, const char *name)
{
	if (kind != SCAN_ROOT_CERTBOT)
		return true;
	if (depth == 1)
		return strcmp(name, "live") == 0 ||
		    strcmp(name, "archive") == 0;
	return depth == 2;
}

static bool
want_file(enum scan_root_kind kind, unsigned depth, const char *name)
{
	if (kind != SCAN_ROOT_CERTBOT)
		return is_cert_ext(name);
	return depth == 3 &&
	    (strncmp(name, "cert", 4) == 0 ||
	        strncmp(name, "fullchain", 9) == 0) &&
	    ends_with_ci(name, ".pem");
}

static bool
inside(const char *root, const char *p)
{
	size_t n = strlen(root);

	if (strcmp(root, "/") == 0)
		return p[0] == '/';
	return strncmp(p, root, n) == 0 && (p[n] == '\0' || p[n] == '/');
}

/* ------------------------------------------------------------ logging */

static bool
skip_expected(enum scan_skip why)
{
	return why == SCAN_SKIP_KEY_NAME || why == SCAN_SKIP_CA ||
	    why == SCAN_SKIP_NAME;
}

/* Counts a skip and logs it; detail is our own text, never file bytes. */
static void
skip(struct scan *sc, const char *path, enum scan_skip why, const char *detail)
{
	char p[LOG_PATH_BYTES];

	sc->res->skipped[why]++;
	if (sc->o->log == NULL || (skip_expected(why) && !sc->o->verbose))
		return;
	util_sanitize(path, strlen(path), p, sizeof(p));
	if (detail != NULL)
		sc->o->log(sc->o->log_arg, "%s: skipped: %s (%s)", p,
		    scan_skip_names[why], detail);
	else
		sc->o->log(sc->o->log_arg, "%s: skipped: %s", p,
		    scan_skip_names[why]);
}

/* A failed open or stat: EACCES is "unreadable", others an I/O error. */
static void
skip_errno(struct scan *sc, const char *path, int err)
{
	if (err == EACCES || err == EPERM)
		skip(sc, path, SCAN_SKIP_UNREADABLE, NULL);
	else if (err == ELOOP)
		skip(sc, path, SCAN_SKIP_CHANGED, "symlink in the way");
	else
		skip(sc, path, SCAN_SKIP_ERROR, strerror(err));
}

/* ------------------------------------------------------------ files */

static bool
has_key_block(const uint8_t *p, size_t n)
{
	size_t m = sizeof(KEY_MARKER) - 1, i;

	for (i = 0; i + m <= n; i++)
		if (p[i] == 'P' && memcmp(p + i, KEY_MARKER, m) == 0)
			return true;
	return false;
}

/* Reads at most SCAN_MAX_FILE_BYTES (+1 to notice more); 0 or errno. */
static int
read_fd(int fd, uint8_t **out, size_t *len, bool *too_big)
{
	size_t cap = SCAN_MAX_FILE_BYTES + 1, n = 0;
	uint8_t *buf;
	ssize_t r;

	*out = NULL;
	*len = 0;
	*too_big = false;
	if ((buf = malloc(cap + 1)) == NULL)
		return ENOMEM;
	while (n < cap) {
		if ((r = read(fd, buf + n, cap - n)) < 0) {
			if (errno == EINTR)
				continue;
			r = errno;
			util_zero(buf, n);
			free(buf);
			return (int)r;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (n > SCAN_MAX_FILE_BYTES) {
		util_zero(buf, n);
		free(buf);
		*too_big = true;
		return 0;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

/*
 * The file's first certificate: the first CERTIFICATE block of PEM, or
 * the whole buffer as DER. Other PEM blocks are passed over undecoded.
 */
static int
first_cert(const uint8_t *buf, size_t len, struct ct_cert **out)
{
	const char *t = (const char *)buf;
	char label[32];
	uint8_t *der;
	size_t off = 0, der_len;
	int rc;

	*out = NULL;
	if (!util_is_pem(buf, len))
		return cert_parse_der(buf, len, out);
	for (;;) {
		label[0] = '\0';
		rc = util_pem_next(t, len, &off, label, sizeof(label), &der,
		    &der_len);
		if (strcmp(label, "CERTIFICATE") == 0 || rc == CT_ERR_NOT_FOUND)
			break;
		if (rc == 0) {
			util_zero(der, der_len);
			free(der);
		}
	}
	if (rc != 0)
		return rc;
	rc = cert_parse_der(der, der_len, out);
	free(der);
	return rc;
}

/* Marks certificate idx as reached through a live name at path. */
static int
mark_live(struct scan *sc, long idx, const char *path)
{
	struct scan_cert *e = &sc->res->certs[idx];
	char *p;

	if (e->live)
		return 0;
	if ((p = strdup(path)) == NULL)
		return CT_ERR_NOMEM;
	free(e->path);
	e->path = p;
	e->live = true;
	return 0;
}

/* Adds a leaf (taking c) or merges it with the entry of its tbs hash. */
static int
add_cert(struct scan *sc, struct ct_cert *c, const char *path, bool live,
    long *idx)
{
	struct scan_result *r = sc->res;
	struct scan_cert *e;
	bool found, added = false;
	long *slot;
	size_t ncap;
	int rc;

	if ((slot = seen_slot(&sc->tbs, c->tbs_sha256, &found)) == NULL)
		goto nomem;
	if (found) {
		r->certs[*slot].files++;
		*idx = *slot;
		cert_free(c);
		return live ? mark_live(sc, *idx, path) : 0;
	}
	if (r->n_certs == sc->certs_cap) {
		ncap = sc->certs_cap ? sc->certs_cap * 2 : 16;
		if ((e = realloc(r->certs, ncap * sizeof(*e))) == NULL)
			goto nomem;
		r->certs = e;
		sc->certs_cap = ncap;
	}
	e = &r->certs[r->n_certs];
	memset(e, 0, sizeof(*e));
	if ((e->path = strdup(path)) == NULL)
		goto nomem;
	e->cert = c;
	e->live = live;
	e->files = 1;
	*slot = (long)r->n_certs;
	*idx = *slot;
	r->n_certs++;
	if (sc->o->store != NULL) {
		rc = store_put(sc->o->store, c, path, sc->o->now, &added);
		if (rc != 0) {
			r->store_errors++;
			if (sc->o->log != NULL) {
				char p[LOG_PATH_BYTES];

				util_sanitize(path, strlen(path), p, sizeof(p));
				sc->o->log(sc->o->log_arg,
				    "%s: not recorded in the store: %s", p,
				    rc == CT_ERR_IO ? strerror(errno)
				                    : ct_strerror(rc));
			}
		}
		e->learned = added;
	}
	return 0;
nomem:
	cert_free(c);
	return CT_ERR_NOMEM;
}

/* Reads and parses the bytes of an open file; fills *c or skips. */
static int
parse_file(struct scan *sc, int fd, const char *path, struct ct_cert **c)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	bool too_big;
	int err, rc;

	*c = NULL;
	if ((err = read_fd(fd, &buf, &len, &too_big)) != 0) {
		if (err == ENOMEM)
			return CT_ERR_NOMEM;
		skip_errno(sc, path, err);
		return 0;
	}
	if (too_big) {
		skip(sc, path, SCAN_SKIP_TOO_BIG, NULL);
		return 0;
	}
	sc->res->files++;
	if (has_key_block(buf, len)) {
		util_zero(buf, len);
		free(buf);
		skip(sc, path, SCAN_SKIP_KEY_CONTENT, NULL);
		return 0;
	}
	rc = first_cert(buf, len, c);
	util_zero(buf, len);
	free(buf);
	if (rc == CT_ERR_NOMEM)
		return rc;
	if (rc != 0)
		skip(sc, path, SCAN_SKIP_NOT_CERT, ct_strerror(rc));
	else if ((*c)->is_ca) {
		cert_free(*c);
		*c = NULL;
		skip(sc, path, SCAN_SKIP_CA, NULL);
	}
	return 0;
}

/*
 * One opened file (fd is closed here). lst is what lstat() showed before
 * the open; name is the entry's own name (for the live rule).
 */
static int
read_cert_file(struct scan *sc, int fd, const struct stat *lst,
    const char *path, const char *name)
{
	struct ct_cert *c = NULL;
	uint8_t key[32];
	struct stat sb;
	bool found;
	long *slot, idx = -1;
	int rc = 0;

	if (fstat(fd, &sb) != 0) {
		skip_errno(sc, path, errno);
		goto out;
	}
	if (!S_ISREG(sb.st_mode) || sb.st_dev != lst->st_dev ||
	    sb.st_ino != lst->st_ino) {
		skip(sc, path, SCAN_SKIP_CHANGED, NULL);
		goto out;
	}
	devino_key(&sb, key);
	if ((slot = seen_slot(&sc->files, key, &found)) == NULL) {
		rc = CT_ERR_NOMEM;
		goto out;
	}
	if (found) {
		/* Read already: a live link to it marks its certificate. */
		if (*slot >= 0 && is_live_name(name))
			rc = mark_live(sc, *slot, path);
		goto out;
	}
	if (sb.st_size > SCAN_MAX_FILE_BYTES) {
		skip(sc, path, SCAN_SKIP_TOO_BIG, NULL);
		goto out;
	}
	if ((rc = parse_file(sc, fd, path, &c)) != 0 || c == NULL)
		goto out;
	if ((rc = add_cert(sc, c, path, is_live_name(name), &idx)) != 0)
		goto out;
	/* The table may have grown: look the slot up again. */
	if ((slot = seen_slot(&sc->files, key, &found)) == NULL)
		rc = CT_ERR_NOMEM;
	else
		*slot = idx;
out:
	close(fd);
	return rc;
}

/* ------------------------------------------------------------ walking */

static int enter_dir(struct scan *sc, size_t ri, int fd, const struct stat *lst,
    const char *path, unsigned depth);

/* Directories whose files are keys by convention (/etc/ssl/private). */
static bool
is_key_dir_name(const char *name)
{
	return scan_is_key_name(name) || strcasecmp(name, "keys") == 0;
}

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
free_names(char **names, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/*
 * The sorted entry names of the directory open as fd, counted against
 * SCAN_MAX_ENTRIES (reaching it stops the scan). 0, or errno.
 */
static int
list_dir(struct scan *sc, int fd, char ***out, size_t *n_out)
{
	char **names = NULL, **nn;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d;
	int dfd, err = 0;

	*out = NULL;
	*n_out = 0;
	if ((dfd = dup(fd)) < 0)
		return errno;
	if ((d = fdopendir(dfd)) == NULL) {
		err = errno;
		close(dfd);
		return err;
	}
	rewinddir(d);
	for (errno = 0; (de = readdir(d)) != NULL; errno = 0) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (++sc->res->entries > SCAN_MAX_ENTRIES) {
			sc->stop = sc->res->truncated = true;
			if (sc->o->log != NULL)
				sc->o->log(sc->o->log_arg,
				    "scan stopped: more than %d directory "
				    "entries",
				    SCAN_MAX_ENTRIES);
			break;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 32;
			if ((nn = realloc(names, cap * sizeof(*nn))) == NULL)
				break;
			names = nn;
		}
		if ((names[n] = strdup(de->d_name)) == NULL)
			break;
		n++;
	}
	err = errno;
	closedir(d);
	if (err != 0) {
		free_names(names, n);
		return err;
	}
	if (n > 0)
		qsort(names, n, sizeof(*names), cmp_names);
	*out = names;
	*n_out = n;
	return 0;
}

/*
 * Opens real (resolved, inside root rj) beneath that root: openat2()
 * with RESOLVE_BENEATH and no symlinks where the kernel has it, else
 * open(). O_NOFOLLOW either way.
 */
static int
open_beneath(struct scan *sc, size_t rj, const char *real, int flags)
{
	const char *root = sc->res->roots[rj].real, *rel;
	struct open_how how;
	long fd;

	flags |= O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC;
	rel = real + (strcmp(root, "/") == 0 ? 0 : strlen(root));
	while (*rel == '/')
		rel++;
	if (*rel == '\0')
		rel = ".";
	memset(&how, 0, sizeof(how));
	how.flags = (uint64_t)flags;
	how.resolve =
	    RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
	fd = syscall(SYS_openat2, sc->root_fds[rj], rel, &how, sizeof(how));
	if (fd < 0 && (errno == ENOSYS || errno == EPERM))
		fd = open(real, flags);
	return (int)fd;
}

/* The root whose real path holds real, or -1. */
static long
root_of(const struct scan *sc, const char *real)
{
	size_t i;

	for (i = 0; i < sc->res->n_roots; i++)
		if (sc->res->roots[i].found &&
		    inside(sc->res->roots[i].real, real))
			return (long)i;
	return -1;
}

/* A symlink at path (entry name, depth): followed only inside a root. */
static int
do_link(struct scan *sc, size_t ri, const char *path, const char *name,
    unsigned depth)
{
	enum scan_root_kind kind = sc->res->roots[ri].kind;
	char *real = NULL;
	struct stat lst;
	long rj;
	int fd, rc = 0;

	if (scan_is_key_name(name)) {
		skip(sc, path, SCAN_SKIP_KEY_NAME, NULL);
		return 0;
	}
	if ((real = realpath(path, NULL)) == NULL) {
		if (errno == ELOOP)
			skip(sc, path, SCAN_SKIP_LINK, "loop");
		else if (errno == ENOENT || errno == ENOTDIR)
			skip(sc, path, SCAN_SKIP_LINK, "dangling");
		else if (errno == ENOMEM)
			return CT_ERR_NOMEM;
		else
			skip_errno(sc, path, errno);
		return 0;
	}
	if (scan_is_key_name(strrchr(real, '/') + 1)) {
		skip(sc, path, SCAN_SKIP_KEY_NAME, "symlink target");
		goto out;
	}
	if ((rj = root_of(sc, real)) < 0) {
		skip(sc, path, SCAN_SKIP_OUTSIDE, NULL);
		goto out;
	}
	if (lstat(real, &lst) != 0) {
		skip_errno(sc, path, errno);
		goto out;
	}
	if (S_ISDIR(lst.st_mode)) {
		if (is_key_dir_name(name) || !want_dir(kind, depth, name))
			skip(sc, path, SCAN_SKIP_NAME, NULL);
		else if ((fd = open_beneath(sc, (size_t)rj, real,
		              O_DIRECTORY)) < 0)
			skip_errno(sc, path, errno);
		else
			rc = enter_dir(sc, ri, fd, &lst, path, depth);
	} else if (S_ISREG(lst.st_mode)) {
		if (!want_file(kind, depth, name))
			skip(sc, path, SCAN_SKIP_NAME, NULL);
		else if ((fd = open_beneath(sc, (size_t)rj, real, 0)) < 0)
			skip_errno(sc, path, errno);
		else
			rc = read_cert_file(sc, fd, &lst, path, name);
	} else
		skip(sc, path, SCAN_SKIP_SPECIAL, NULL);
out:
	free(real);
	return rc;
}

/* One entry of the directory dfd (logical path dir) at depth. */
static int
do_entry(struct scan *sc, size_t ri, int dfd, const char *dir, const char *name,
    unsigned depth)
{
	enum scan_root_kind kind = sc->res->roots[ri].kind;
	char path[PATH_MAX];
	struct stat lst;
	int fd, n;

	n = snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		skip(sc, dir, SCAN_SKIP_ERROR, "path too long");
		return 0;
	}
	if (name[0] == '.') {
		skip(sc, path, SCAN_SKIP_NAME, NULL);
		return 0;
	}
	if (fstatat(dfd, name, &lst, AT_SYMLINK_NOFOLLOW) != 0) {
		skip_errno(sc, path, errno);
		return 0;
	}
	if (S_ISLNK(lst.st_mode))
		return do_link(sc, ri, path, name, depth);
	if (S_ISDIR(lst.st_mode)) {
		if (is_key_dir_name(name) || !want_dir(kind, depth, name)) {
			skip(sc, path, SCAN_SKIP_NAME, NULL);
			return 0;
		}
		fd = openat(dfd, name,
		    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_NONBLOCK |
		        O_CLOEXEC);
		if (fd < 0) {
			skip_errno(sc, path, errno);
			return 0;
		}
		return enter_dir(sc, ri, fd, &lst, path, depth);
	}
	if (!S_ISREG(lst.st_mode)) {
		skip(sc, path, SCAN_SKIP_SPECIAL, NULL);
		return 0;
	}
	if (scan_is_key_name(name)) {
		skip(sc, path, SCAN_SKIP_KEY_NAME, NULL);
		return 0;
	}
	if (!want_file(kind, depth, name)) {
		skip(sc, path, SCAN_SKIP_NAME, NULL);
		return 0;
	}
	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		skip_errno(sc, path, errno);
		return 0;
	}
	return read_cert_file(sc, fd, &lst, path, name);
}

/*
 * Walks the directory open as fd (closed here) at depth (0: the root).
 * lst, when not NULL, is what lstat() showed before the open.
 */
static int
enter_dir(struct scan *sc, size_t ri, int fd, const struct stat *lst,
    const char *path, unsigned depth)
{
	char **names = NULL;
	uint8_t key[32];
	struct stat sb;
	size_t n = 0, i;
	bool found;
	int rc = 0, err;

	if (fstat(fd, &sb) != 0) {
		skip_errno(sc, path, errno);
		goto out;
	}
	if (!S_ISDIR(sb.st_mode) ||
	    (lst != NULL &&
	        (sb.st_dev != lst->st_dev || sb.st_ino != lst->st_ino))) {
		skip(sc, path, SCAN_SKIP_CHANGED, NULL);
		goto out;
	}
	if (depth > SCAN_MAX_DEPTH) {
		skip(sc, path, SCAN_SKIP_DEPTH, NULL);
		goto out;
	}
	devino_key(&sb, key);
	if (seen_slot(&sc->dirs, key, &found) == NULL) {
		rc = CT_ERR_NOMEM;
		goto out;
	}
	if (found) {
		skip(sc, path, SCAN_SKIP_DIR_LOOP, NULL);
		goto out;
	}
	if ((err = list_dir(sc, fd, &names, &n)) != 0) {
		if (err == ENOMEM)
			rc = CT_ERR_NOMEM;
		else
			skip_errno(sc, path, err);
		goto out;
	}
	for (i = 0; i < n && rc == 0 && !sc->stop; i++)
		rc = do_entry(sc, ri, fd, path, names[i], depth + 1);
out:
	free_names(names, n);
	close(fd);
	return rc;
}

/* ------------------------------------------------------------ roots */

static enum scan_root_kind
root_kind(int fd)
{
	struct stat sb;

	if ((fstatat(fd, "live", &sb, 0) == 0 && S_ISDIR(sb.st_mode)) ||
	    (fstatat(fd, "archive", &sb, 0) == 0 && S_ISDIR(sb.st_mode)))
		return SCAN_ROOT_CERTBOT;
	return SCAN_ROOT_PLAIN;
}

/* Resolves and opens each root; missing roots are logged, not fatal. */
static int
setup_roots(struct scan *sc, const char *const *paths, size_t n)
{
	struct scan_result *r = sc->res;
	struct scan_root *root;
	size_t i, len;

	if ((r->roots = calloc(n ? n : 1, sizeof(*r->roots))) == NULL ||
	    (sc->root_fds = malloc((n ? n : 1) * sizeof(int))) == NULL)
		return CT_ERR_NOMEM;
	for (i = 0; i < n; i++) {
		sc->root_fds[i] = -1;
		root = &r->roots[i];
		r->n_roots = i + 1;
		if ((root->path = strdup(paths[i])) == NULL)
			return CT_ERR_NOMEM;
		len = strlen(root->path);
		while (len > 1 && root->path[len - 1] == '/')
			root->path[--len] = '\0';
		if ((root->real = realpath(root->path, NULL)) == NULL ||
		    (sc->root_fds[i] = open(root->real,
		         O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
			if (errno == ENOMEM)
				return CT_ERR_NOMEM;
			if (sc->o->log != NULL) {
				char p[LOG_PATH_BYTES];

				util_sanitize(root->path, len, p, sizeof(p));
				sc->o->log(sc->o->log_arg,
				    "%s: certificate directory not scanned: %s",
				    p, strerror(errno));
			}
			continue;
		}
		root->found = true;
		root->kind = root_kind(sc->root_fds[i]);
	}
	return 0;
}

static void
scan_clear(struct scan *sc)
{
	size_t i;

	if (sc->root_fds != NULL)
		for (i = 0; i < sc->res->n_roots; i++)
			if (sc->root_fds[i] >= 0)
				close(sc->root_fds[i]);
	free(sc->root_fds);
	free(sc->dirs.slots);
	free(sc->files.slots);
	free(sc->tbs.slots);
}

int
scan_run(const struct scan_opts *o, struct scan_result **out)
{
	struct scan sc;
	char **defaults = NULL;
	size_t n_def = 0, i;
	int rc, fd;

	*out = NULL;
	if (o == NULL || o->n_roots > SCAN_MAX_ROOTS ||
	    (o->n_roots > 0 && o->roots == NULL))
		return CT_ERR_INVALID;
	memset(&sc, 0, sizeof(sc));
	sc.o = o;
	if ((sc.res = calloc(1, sizeof(*sc.res))) == NULL)
		return CT_ERR_NOMEM;
	if (o->n_roots == 0) {
		if ((rc = scan_default_roots(NULL, &defaults, &n_def)) != 0)
			goto out;
		if (n_def == 0 && o->log != NULL)
			o->log(o->log_arg, "no certificate directories found");
		rc = setup_roots(&sc, (const char *const *)defaults, n_def);
	} else
		rc = setup_roots(&sc, o->roots, o->n_roots);
	for (i = 0; rc == 0 && i < sc.res->n_roots && !sc.stop; i++) {
		if (!sc.res->roots[i].found)
			continue;
		if ((fd = dup(sc.root_fds[i])) < 0) {
			skip_errno(&sc, sc.res->roots[i].path, errno);
			continue;
		}
		rc = enter_dir(&sc, i, fd, NULL, sc.res->roots[i].path, 0);
	}
out:
	scan_roots_free(defaults, n_def);
	scan_clear(&sc);
	if (rc != 0)
		scan_result_free(sc.res);
	else
		*out = sc.res;
	return rc;
}

void
scan_result_free(struct scan_result *r)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < r->n_certs; i++) {
		cert_free(r->certs[i].cert);
		free(r->certs[i].path);
	}
	free(r->certs);
	for (i = 0; i < r->n_roots; i++) {
		free(r->roots[i].path);
		free(r->roots[i].real);
	}
	free(r->roots);
	free(r);
}

int
scan_default_roots(const char *sysroot, char ***roots, size_t *n)
{
	size_t i, k = 0, slen;
	char path[PATH_MAX], **out;
	struct stat sb;
	int len;

	*roots = NULL;
	*n = 0;
	if (sysroot == NULL)
		sysroot = "";
	slen = strlen(sysroot);
	while (slen > 0 && sysroot[slen - 1] == '/')
		slen--;
	if ((out = calloc(SCAN_N_DEFAULT_ROOTS, sizeof(*out))) == NULL)
		return CT_ERR_NOMEM;
	for (i = 0; i < SCAN_N_DEFAULT_ROOTS; i++) {
		len = snprintf(path, sizeof(path), "%.*s%s", (int)slen, sysroot,
		    scan_default_root_paths[i]);
		if (len < 0 || (size_t)len >= sizeof(path))
			continue;
		if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode))
			continue;
		if ((out[k] = strdup(path)) == NULL) {
			scan_roots_free(out, k);
			return CT_ERR_NOMEM;
		}
		k++;
	}
	*roots = out;
	*n = k;
	return 0;
}

void
scan_roots_free(char **roots, size_t n)
{
	size_t i;

	if (roots == NULL)
		return;
	for (i = 0; i < n; i++)
		free(roots[i]);
	free(roots);
}
