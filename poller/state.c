/*
 * state: the state directory shared by concurrent check_ct runs. See
 * state.h for the layout and the guarantees.
 *
 * All paths below the directory are opened relative to a directory file
 * descriptor, one component at a time with O_NOFOLLOW, so neither a
 * symlink planted inside nor a rename of the directory itself can send a
 * read or a write elsewhere.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "state.h"

#define STATE_READ_CHUNK_BYTES (64 * 1024)
#define STATE_TMP_RAND_BYTES 8 /* 16 hex digits in a temp name */
#define STATE_TMP_TRIES 8      /* O_EXCL collisions tolerated */
#define STATE_TMP_NAME_LEN (sizeof(STATE_TMP_PREFIX) + 2 * STATE_TMP_RAND_BYTES)

#define DIR_MODE 0700
#define FILE_MODE 0600

struct state {
	int dirfd;
	char *path;
};

struct state_lock {
	int fd;
};

static int
err_from_errno(int e)
{
	switch (e) {
	case ENOENT:
		return CT_ERR_NOT_FOUND;
	case ELOOP:
	case ENOTDIR:
		return CT_ERR_FORMAT;
	case ENOMEM:
		return CT_ERR_NOMEM;
	default:
		return CT_ERR_IO;
	}
}

static bool
name_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

/* One component of n bytes: allowed bytes, not "." or "..". */
static bool
component_ok(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || (n == 1 && s[0] == '.') ||
	    (n == 2 && s[0] == '.' && s[1] == '.'))
		return false;
	for (i = 0; i < n; i++)
		if (!name_char_ok(s[i]))
			return false;
	return true;
}

int
state_relpath_check(const char *relpath)
{
	size_t n, i, start = 0, ncomp = 0;

	if (relpath == NULL)
		return CT_ERR_INVALID;
	n = strnlen(relpath, STATE_MAX_RELPATH_BYTES + 1);
	if (n == 0 || n > STATE_MAX_RELPATH_BYTES)
		return CT_ERR_INVALID;
	for (i = 0; i <= n; i++) {
		if (i < n && relpath[i] != '/')
			continue;
		if (!component_ok(relpath + start, i - start) ||
		    ++ncomp > STATE_MAX_COMPONENTS)
			return CT_ERR_INVALID;
		start = i + 1;
	}
	return 0;
}

/* Creates the missing directories of path (like mkdir -p), mode 0700. */
static int
mkdir_parents(const char *path)
{
	char buf[STATE_MAX_DIR_BYTES + 1];
	size_t n = strlen(path), i;

	if (n > STATE_MAX_DIR_BYTES)
		return CT_ERR_INVALID;
	memcpy(buf, path, n + 1);
	for (i = 1; i <= n; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		if (buf[i - 1] == '/')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, DIR_MODE) != 0 && errno != EEXIST)
			return CT_ERR_IO;
		if (i < n)
			buf[i] = '/';
	}
	return 0;
}

/* Refuses a directory an attacker could have planted or can write to. */
static int
check_dir(int fd, const char *dir, char *why, size_t whysz)
{
	struct stat sb;

	if (fstat(fd, &sb) != 0) {
		util_why(why, whysz, "state directory %s: %s", dir,
		    strerror(errno));
		return CT_ERR_IO;
	}
	if (!S_ISDIR(sb.st_mode)) {
		util_why(why, whysz, "state directory %s is not a directory",
		    dir);
		return CT_ERR_FORMAT;
	}
	if (sb.st_uid != geteuid()) {
		util_why(why, whysz,
		    "state directory %s is owned by uid %lu, not by uid %lu",
		    dir, (unsigned long)sb.st_uid, (unsigned long)geteuid());
		return CT_ERR_AUTH;
	}
	if ((sb.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		util_why(why, whysz,
		    "state directory %s is group- or world-writable "
		    "(mode %04o)",
		    dir, (unsigned)(sb.st_mode & 07777));
		return CT_ERR_AUTH;
	}
	return 0;
}

int
state_open(const char *dir, struct state **out, char *why, size_t whysz)
{
	struct state *st = NULL;
	struct stat sb;
	int fd = -1, rc;
	bool created = false;

	if (why != NULL && whysz > 0)
		why[0] = '\0';
	if (dir == NULL || out == NULL || dir[0] == '\0' ||
	    strlen(dir) > STATE_MAX_DIR_BYTES) {
		util_why(why, whysz, "state directory: bad path");
		return CT_ERR_INVALID;
	}
	*out = NULL;
	if (lstat(dir, &sb) != 0) {
		if (errno != ENOENT) {
			util_why(why, whysz, "state directory %s: %s", dir,
			    strerror(errno));
			return CT_ERR_IO;
		}
		if ((rc = mkdir_parents(dir)) != 0) {
			util_why(why, whysz,
			    "cannot create state directory "
			    "%s: %s",
			    dir, strerror(errno));
			return rc;
		}
		created = true;
	} else if (S_ISLNK(sb.st_mode)) {
		util_why(why, whysz, "state directory %s is a symbolic link",
		    dir);
		return CT_ERR_FORMAT;
	} else if (!S_ISDIR(sb.st_mode)) {
		util_why(why, whysz, "state directory %s is not a directory",
		    dir);
		return CT_ERR_FORMAT;
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		rc = err_from_errno(errno);
		util_why(why, whysz, "state directory %s: %s", dir,
		    strerror(errno));
		if (rc == CT_ERR_NOT_FOUND)
			rc = CT_ERR_IO;
		return rc;
	}
	/* The umask may have narrowed mkdir's mode; 0700 is wanted. */
	if (created && fchmod(fd, DIR_MODE) != 0) {
		util_why(why, whysz, "state directory %s: %s", dir,
		    strerror(errno));
		rc = CT_ERR_IO;
		goto out;
	}
	if ((rc = check_dir(fd, dir, why, whysz)) != 0)
		goto out;
	if ((st = calloc(1, sizeof(*st))) == NULL ||
	    (st->path = strdup(dir)) == NULL) {
		util_why(why, whysz, "out of memory");
		rc = CT_ERR_NOMEM;
		goto out;
	}
	st->dirfd = fd;
	fd = -1;
	*out = st;
	st = NULL;
out:
	if (fd >= 0)
		close(fd);
	if (st != NULL) {
		free(st->path);
		free(st);
	}
	return rc;
}

void
state_close(struct state *st)
{
	if (st == NULL)
		return;
	close(st->dirfd);
	free(st->path);
	free(st);
}

const char *
state_path(const struct state *st)
{
	return st != NULL ? st->path : NULL;
}

/*
 * Opens the directory holding relpath's last component (creating missing
 * directories when create is set) and points *base at that component.
 * relpath must have passed state_relpath_check. Returns a directory fd
 * (the caller closes it) or a negative ct_err.
 */
static int
open_parent(struct state *st, const char *relpath, bool create,
    const char **base)
{
	char comp[STATE_MAX_RELPATH_BYTES + 1];
	const char *p = relpath, *slash;
	int fd, nfd, e;
	size_t n;

	if ((fd = dup(st->dirfd)) < 0)
		return CT_ERR_IO;
	while ((slash = strchr(p, '/')) != NULL) {
		n = (size_t)(slash - p);
		memcpy(comp, p, n);
		comp[n] = '\0';
		nfd = openat(fd, comp,
		    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (nfd < 0 && errno == ENOENT && create) {
			if (mkdirat(fd, comp, DIR_MODE) != 0 && errno != EEXIST)
				goto fail;
			nfd = openat(fd, comp,
			    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		}
		if (nfd < 0)
			goto fail;
		close(fd);
		fd = nfd;
		p = slash + 1;
	}
	*base = p;
	return fd;
fail:
	e = errno;
	close(fd);
	errno = e;
	return err_from_errno(e);
}

/* Reads fd to EOF into b (cap b->max): CT_ERR_TOO_BIG past it. */
static int
read_all(int fd, struct util_buf *b)
{
	size_t room, chunk;
	ssize_t n;
	uint8_t probe;
	int rc;

	for (;;) {
		room = b->max - b->len;
		chunk = room < STATE_READ_CHUNK_BYTES ? room
		                                      : STATE_READ_CHUNK_BYTES;
		if (chunk == 0) {
			n = read(fd, &probe, 1);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return CT_ERR_IO;
			return n == 0 ? 0 : CT_ERR_TOO_BIG;
		}
		if ((rc = util_buf_reserve(b, chunk)) != 0)
			return rc;
		n = read(fd, b->data + b->len, chunk);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return CT_ERR_IO;
		if (n == 0)
			return 0;
		b->len += (size_t)n;
	}
}

int
state_read(struct state *st, const char *relpath, size_t max_bytes,
    uint8_t **buf, size_t *len)
{
	struct util_buf b;
	struct stat sb;
	const char *base;
	int dfd = -1, fd = -1, rc;

	if (st == NULL || buf == NULL || len == NULL)
		return CT_ERR_INVALID;
	*buf = NULL;
	*len = 0;
	if ((rc = state_relpath_check(relpath)) != 0)
		return rc;
	util_buf_init(&b, max_bytes);
	if ((dfd = open_parent(st, relpath, false, &base)) < 0)
		return dfd;
	fd = openat(dfd, base, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		rc = err_from_errno(errno);
		goto out;
	}
	if (fstat(fd, &sb) != 0) {
		rc = CT_ERR_IO;
		goto out;
	}
	if (!S_ISREG(sb.st_mode)) {
		rc = CT_ERR_FORMAT;
		goto out;
	}
	if (sb.st_size > 0 && (uint64_t)sb.st_size > max_bytes) {
		rc = CT_ERR_TOO_BIG;
		goto out;
	}
	if ((rc = read_all(fd, &b)) != 0 || (rc = util_buf_cstr(&b)) != 0)
		goto out;
	*buf = util_buf_take(&b, len);
out:
	util_buf_clear(&b);
	if (fd >= 0)
		close(fd);
	close(dfd);
	return rc;
}

static int
write_all(int fd, const uint8_t *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return CT_ERR_IO;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Creates a fresh temporary file in dfd; its name goes to name. */
static int
tmp_create(int dfd, char name[STATE_TMP_NAME_LEN])
{
	uint8_t rnd[STATE_TMP_RAND_BYTES];
	char hex[2 * STATE_TMP_RAND_BYTES + 1];
	int i, fd;

	for (i = 0; i < STATE_TMP_TRIES; i++) {
		if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
			return CT_ERR_IO;
		util_hex_encode(rnd, sizeof(rnd), hex);
		snprintf(name, STATE_TMP_NAME_LEN, "%s%s", STATE_TMP_PREFIX,
		    hex);
		fd = openat(dfd, name,
		    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		    FILE_MODE);
		if (fd >= 0)
			return fd;
		if (errno != EEXIST)
			return CT_ERR_IO;
	}
	errno = EEXIST;
	return CT_ERR_IO;
}

int
state_write(struct state *st, const char *relpath, const void *bytes,
    size_t len)
{
	return state_write_ex(st, relpath, bytes, len, true);
}

int
state_write_ex(struct state *st, const char *relpath, const void *bytes,
    size_t len, bool durable)
{
	char tmp[STATE_TMP_NAME_LEN];
	const char *base;
	int dfd = -1, fd = -1, rc, e;
	bool have_tmp = false;

	if (st == NULL || (bytes == NULL && len > 0))
		return CT_ERR_INVALID;
	if ((rc = state_relpath_check(relpath)) != 0)
		return rc;
	if ((dfd = open_parent(st, relpath, true, &base)) < 0)
		return dfd == CT_ERR_NOT_FOUND ? CT_ERR_IO : dfd;
	if ((fd = tmp_create(dfd, tmp)) < 0) {
		rc = fd;
		goto out;
	}
	have_tmp = true;
	if ((rc = write_all(fd, bytes, len)) != 0)
		goto out;
	if (durable && fsync(fd) != 0) {
		rc = CT_ERR_IO;
		goto out;
	}
	e = close(fd);
	fd = -1;
	if (e != 0) {
		rc = CT_ERR_IO;
		goto out;
	}
	if (renameat(dfd, tmp, dfd, base) != 0) {
		rc = CT_ERR_IO;
		goto out;
	}
	have_tmp = false;
	if (durable && fsync(dfd) != 0)
		rc = CT_ERR_IO;
out:
	e = errno;
	if (fd >= 0)
		close(fd);
	if (have_tmp)
		unlinkat(dfd, tmp, 0);
	close(dfd);
	errno = e;
	return rc;
}

static uint64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
sleep_ms(uint32_t ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Waits for flock(LOCK_EX) on fd until the deadline. */
static int
lock_wait(int fd, uint32_t timeout_ms)
{
	uint64_t deadline = mono_ms() + timeout_ms, now;

	for (;;) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return 0;
		if (errno == EINTR)
			continue;
		if (errno != EWOULDBLOCK)
			return CT_ERR_IO;
		if ((now = mono_ms()) >= deadline)
			return CT_ERR_TIMEOUT;
		sleep_ms(deadline - now < STATE_LOCK_POLL_MS
		        ? (uint32_t)(deadline - now)
		        : STATE_LOCK_POLL_MS);
	}
}

int
state_lock(struct state *st, const char *name, uint32_t timeout_ms,
    struct state_lock **out)
{
	struct state_lock *l = NULL;
	const char *base;
	char rel[STATE_MAX_RELPATH_BYTES + sizeof(STATE_LOCK_DIR) + 1];
	size_t n;
	int dfd = -1, fd = -1, rc;

	if (st == NULL || name == NULL || out == NULL)
		return CT_ERR_INVALID;
	*out = NULL;
	n = strnlen(name, STATE_MAX_RELPATH_BYTES + 1);
	if (n > STATE_MAX_RELPATH_BYTES || !component_ok(name, n))
		return CT_ERR_INVALID;
	snprintf(rel, sizeof(rel), "%s/%s", STATE_LOCK_DIR, name);
	if ((dfd = open_parent(st, rel, true, &base)) < 0)
		return dfd == CT_ERR_NOT_FOUND ? CT_ERR_IO : dfd;
	fd = openat(dfd, base, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
	    FILE_MODE);
	if (fd < 0) {
		rc = err_from_errno(errno);
		goto out;
	}
	if ((rc = lock_wait(fd, timeout_ms)) != 0)
		goto out;
	if ((l = malloc(sizeof(*l))) == NULL) {
		rc = CT_ERR_NOMEM;
		goto out;
	}
	l->fd = fd;
	fd = -1;
	*out = l;
out:
	if (fd >= 0)
		close(fd);
	close(dfd);
	return rc;
}

void
state_unlock(struct state_lock *l)
{
	if (l == NULL)
		return;
	flock(l->fd, LOCK_UN);
	close(l->fd);
	free(l);
}

int
state_clean_tmp(struct state *st, const char *reldir, int64_t older_than_s,
    size_t *removed)
{
	struct dirent *de;
	struct stat sb;
	DIR *d = NULL;
	const char *base;
	char rel[STATE_MAX_RELPATH_BYTES + 3];
	int dfd = -1, fd, rc = 0;
	size_t count = 0;
	int64_t now = util_now();

	if (removed != NULL)
		*removed = 0;
	if (st == NULL || reldir == NULL || older_than_s < 0)
		return CT_ERR_INVALID;
	if (reldir[0] == '\0') {
		if ((fd = dup(st->dirfd)) < 0)
			return CT_ERR_IO;
	} else {
		/* Open reldir itself as the parent of a dummy component. */
		if ((rc = state_relpath_check(reldir)) != 0)
			return rc;
		snprintf(rel, sizeof(rel), "%s/x", reldir);
		if ((fd = open_parent(st, rel, false, &base)) < 0)
			return fd;
	}
	if ((dfd = dup(fd)) < 0 || (d = fdopendir(fd)) == NULL) {
		close(fd);
		rc = CT_ERR_IO;
		goto out;
	}
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, STATE_TMP_PREFIX,
		        sizeof(STATE_TMP_PREFIX) - 1) != 0)
			continue;
		if (fstatat(dfd, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0 ||
		    !S_ISREG(sb.st_mode) ||
		    (int64_t)sb.st_mtime > now - older_than_s)
			continue;
		if (unlinkat(dfd, de->d_name, 0) == 0)
			count++;
	}
out:
	if (d != NULL)
		closedir(d);
	if (dfd >= 0)
		close(dfd);
	if (removed != NULL)
		*removed = count;
	return rc;
}
