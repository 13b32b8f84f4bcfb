/*
 * Unit tests for poller/state: relpath rules, directory creation and
 * refusal (symlink, file, wrong owner, group/world-writable), round trips,
 * symlinks inside the directory never followed, 50 concurrent writers
 * (fork) that never leave a torn file or a temporary behind, a counter
 * incremented under the lock by many processes, lock exclusion between
 * processes and within one, the lock timeout, and stale temp clean-up.
 */
#define _GNU_SOURCE /* nftw */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "state.h"
#include "testutil.h"

#define CONC_WRITERS 50
#define CONC_WRITES_EACH 20
#define CONC_BASE_BYTES 4096
#define CONC_STEP_BYTES 997
#define COUNTER_PROCS 20
#define COUNTER_EACH 25
#define LOCK_SHORT_MS 100
#define LOCK_HOLD_MS 300

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

static void
mkd(char *out, size_t outsz)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(out, outsz, "%s/ct-state-XXXXXX", tmp ? tmp : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(out));
}

static uint64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Entries of dir whose names start with prefix. */
static unsigned
count_prefix(const char *dir, const char *prefix)
{
	struct dirent *de;
	unsigned n = 0;
	DIR *d = opendir(dir);

	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, prefix, strlen(prefix)) == 0)
			n++;
	closedir(d);
	return n;
}

static struct state *
open_ok(const char *dir)
{
	struct state *st = NULL;
	char why[STATE_WHY_LEN];
	int rc = state_open(dir, &st, why, sizeof(why));

	ck_assert_msg(rc == 0, "state_open %s: %s", dir, why);
	return st;
}

/* ------------------------------------------------------------ tests */

START_TEST(test_relpath)
{
	static const char *const good[] = {
	    "a",
	    "crtsh/cert/123.der",
	    "certspotter/.example.org.cursor",
	    "A-Z_0.9",
	    "a/b/c/d/e/f/g/h",
	    "..a",
	    "a..",
	};
	static const char *const bad[] = {
	    "",
	    "/etc/passwd",
	    "..",
	    ".",
	    "a/../b",
	    "a/./b",
	    "a//b",
	    "a/",
	    "/",
	    "a b",
	    "a~b",
	    ".~tmp-0011",
	    "a\\b",
	    "a/b/c/d/e/f/g/h/i",
	    "caf\xc3\xa9",
	    "a\nb",
	};
	char longp[STATE_MAX_RELPATH_BYTES + 2];
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		ck_assert_msg(state_relpath_check(good[i]) == 0, "%s", good[i]);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(state_relpath_check(bad[i]) == CT_ERR_INVALID,
		    "%s", bad[i]);
	ck_assert_int_eq(state_relpath_check(NULL), CT_ERR_INVALID);
	memset(longp, 'a', sizeof(longp));
	longp[STATE_MAX_RELPATH_BYTES] = '\0';
	ck_assert_int_eq(state_relpath_check(longp), 0);
	longp[STATE_MAX_RELPATH_BYTES] = 'a';
	longp[STATE_MAX_RELPATH_BYTES + 1] = '\0';
	ck_assert_int_eq(state_relpath_check(longp), CT_ERR_INVALID);
}
END_TEST

START_TEST(test_open_creates)
{
	char top[256], dir[512];
	struct state *st;
	struct stat sb;
	mode_t old;

	mkd(top, sizeof(top));
	snprintf(dir, sizeof(dir), "%s/a/b/state", top);
	old = umask(0); /* mkdir's 0700 must not depend on the umask */
	st = open_ok(dir);
	umask(old);
	ck_assert_str_eq(state_path(st), dir);
	ck_assert_int_eq(lstat(dir, &sb), 0);
	ck_assert(S_ISDIR(sb.st_mode));
	ck_assert_uint_eq(sb.st_mode & 07777, 0700);
	state_close(st);
	/* A restrictive umask: the directory still ends up 0700. */
	rm_rf(dir);
	old = umask(0777);
	st = open_ok(dir);
	umask(old);
	ck_assert_int_eq(lstat(dir, &sb), 0);
	ck_assert_uint_eq(sb.st_mode & 07777, 0700);
	state_close(st);
	/* Opening an existing good directory works too. */
	st = open_ok(dir);
	state_close(st);
	state_close(NULL);
	rm_rf(top);
}
END_TEST

START_TEST(test_open_refuses)
{
	char top[256], dir[512], link[512], file[512], why[STATE_WHY_LEN];
	struct state *st = NULL;
	int fd;

	mkd(top, sizeof(top));
	snprintf(dir, sizeof(dir), "%s/state", top);
	snprintf(link, sizeof(link), "%s/link", top);
	snprintf(file, sizeof(file), "%s/file", top);
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	ck_assert_int_eq(symlink(dir, link), 0);
	ck_assert_int_eq(state_open(link, &st, why, sizeof(why)),
	    CT_ERR_FORMAT);
	ck_assert_ptr_null(st);
	ck_assert_ptr_nonnull(strstr(why, "symbolic link"));
	ck_assert_int_ge(fd = open(file, O_CREAT | O_WRONLY, 0600), 0);
	close(fd);
	ck_assert_int_eq(state_open(file, &st, why, sizeof(why)),
	    CT_ERR_FORMAT);
	ck_assert_ptr_nonnull(strstr(why, "not a directory"));
	ck_assert_int_eq(chmod(dir, 0770), 0);
	ck_assert_int_eq(state_open(dir, &st, why, sizeof(why)), CT_ERR_AUTH);
	ck_assert_ptr_nonnull(strstr(why, "group- or world-writable"));
	ck_assert_ptr_nonnull(strstr(why, "0770"));
	ck_assert_int_eq(chmod(dir, 0702), 0);
	ck_assert_int_eq(state_open(dir, &st, why, sizeof(why)), CT_ERR_AUTH);
	/* Readable by others is fine; writable is what matters. */
	ck_assert_int_eq(chmod(dir, 0755), 0);
	st = open_ok(dir);
	state_close(st);
	st = NULL;
	if (geteuid() == 0) {
		/* Owned by someone else. */
		ck_assert_int_eq(chown(dir, 65534, 65534), 0);
		ck_assert_int_eq(state_open(dir, &st, why, sizeof(why)),
		    CT_ERR_AUTH);
		ck_assert_ptr_nonnull(strstr(why, "owned by uid 65534"));
	} else {
		printf("test_state: not root, the owner check is not "
		       "exercised\n");
	}
	ck_assert_int_eq(state_open("", &st, why, sizeof(why)), CT_ERR_INVALID);
	ck_assert_int_eq(state_open(NULL, &st, NULL, 0), CT_ERR_INVALID);
	ck_assert_ptr_null(st);
	rm_rf(top);
}
END_TEST

START_TEST(test_round_trip)
{
	char top[256], path[512];
	struct state *st;
	uint8_t *buf = NULL, big[5000];
	size_t len = 0;
	struct stat sb;

	mkd(top, sizeof(top));
	st = open_ok(top);
	ck_assert_int_eq(state_read(st, "crtsh/cert/1.der", 100, &buf, &len),
	    CT_ERR_NOT_FOUND);
	ck_assert_int_eq(state_read(st, "nothing", 100, &buf, &len),
	    CT_ERR_NOT_FOUND);
	ck_assert_int_eq(state_write(st, "crtsh/cert/1.der", "hello", 5), 0);
	ck_assert_int_eq(state_read(st, "crtsh/cert/1.der", 100, &buf, &len),
	    0);
	ck_assert_uint_eq(len, 5);
	ck_assert_str_eq((char *)buf, "hello"); /* NUL after the bytes */
	free(buf);
	/* Overwrite with something shorter, then empty. */
	ck_assert_int_eq(state_write(st, "crtsh/cert/1.der", "hi", 2), 0);
	ck_assert_int_eq(state_read(st, "crtsh/cert/1.der", 2, &buf, &len), 0);
	ck_assert_uint_eq(len, 2);
	ck_assert_mem_eq(buf, "hi", 2);
	free(buf);
	ck_assert_int_eq(state_write(st, "empty", "", 0), 0);
	ck_assert_int_eq(state_read(st, "empty", 0, &buf, &len), 0);
	ck_assert_uint_eq(len, 0);
	free(buf);
	/* Cap: exactly at the cap is fine, one byte below it is not. */
	memset(big, 'x', sizeof(big));
	ck_assert_int_eq(state_write(st, "big", big, sizeof(big)), 0);
	ck_assert_int_eq(state_read(st, "big", sizeof(big), &buf, &len), 0);
	ck_assert_uint_eq(len, sizeof(big));
	ck_assert_mem_eq(buf, big, sizeof(big));
	free(buf);
	ck_assert_int_eq(state_read(st, "big", sizeof(big) - 1, &buf, &len),
	    CT_ERR_TOO_BIG);
	ck_assert_ptr_null(buf);
	/* Modes: directories 0700, files 0600. */
	snprintf(path, sizeof(path), "%s/crtsh/cert/1.der", top);
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_uint_eq(sb.st_mode & 07777, 0600);
	snprintf(path, sizeof(path), "%s/crtsh/cert", top);
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_uint_eq(sb.st_mode & 07777, 0700);
	/* Bad relpaths are refused by every call. */
	ck_assert_int_eq(state_write(st, "../escape", "x", 1), CT_ERR_INVALID);
	ck_assert_int_eq(state_write(st, "/tmp/x", "x", 1), CT_ERR_INVALID);
	ck_assert_int_eq(state_read(st, "a/../big", 10, &buf, &len),
	    CT_ERR_INVALID);
	/* A directory where a file is expected. */
	ck_assert_int_eq(state_read(st, "crtsh", 10, &buf, &len),
	    CT_ERR_FORMAT);
	ck_assert_int_ne(state_write(st, "crtsh", "x", 1), 0);
	ck_assert_uint_eq(count_prefix(top, STATE_TMP_PREFIX), 0);
	state_close(st);
	rm_rf(top);
}
END_TEST

START_TEST(test_symlinks_not_followed)
{
	char top[256], out[512], p[512], q[512];
	struct state *st;
	uint8_t *buf = NULL;
	size_t len;
	struct stat sb;
	int fd;

	mkd(top, sizeof(top));
	snprintf(out, sizeof(out), "%s/outside", top);
	ck_assert_int_eq(mkdir(out, 0700), 0);
	snprintf(p, sizeof(p), "%s/outside/secret", top);
	ck_assert_int_ge(fd = open(p, O_CREAT | O_WRONLY, 0600), 0);
	ck_assert_int_eq(write(fd, "secret", 6), 6);
	close(fd);
	snprintf(p, sizeof(p), "%s/state", top);
	st = open_ok(p);
	/* A symlinked file and a symlinked directory inside the state dir. */
	snprintf(p, sizeof(p), "%s/state/file", top);
	snprintf(q, sizeof(q), "%s/outside/secret", top);
	ck_assert_int_eq(symlink(q, p), 0);
	snprintf(p, sizeof(p), "%s/state/dir", top);
	ck_assert_int_eq(symlink(out, p), 0);
	ck_assert_int_eq(state_read(st, "file", 100, &buf, &len),
	    CT_ERR_FORMAT);
	ck_assert_int_eq(state_read(st, "dir/secret", 100, &buf, &len),
	    CT_ERR_FORMAT);
	ck_assert_int_eq(state_write(st, "dir/new", "x", 1), CT_ERR_FORMAT);
	snprintf(p, sizeof(p), "%s/outside/new", top);
	ck_assert_int_ne(stat(p, &sb), 0);
	/* Writing over a symlink replaces the link, not its target. */
	ck_assert_int_eq(state_write(st, "file", "mine", 4), 0);
	ck_assert_int_eq(state_read(st, "file", 100, &buf, &len), 0);
	ck_assert_str_eq((char *)buf, "mine");
	free(buf);
	ck_assert_int_eq(stat(q, &sb), 0);
	ck_assert_int_eq(sb.st_size, 6);
	state_close(st);
	rm_rf(top);
}
END_TEST

/* Version k of the contended file: length and bytes depend on k. */
static size_t
version_len(unsigned k)
{
	return CONC_BASE_BYTES + (size_t)k * CONC_STEP_BYTES;
}

static void
version_fill(unsigned k, uint8_t *p)
{
	size_t i, n = version_len(k);

	p[0] = (uint8_t)k;
	for (i = 1; i < n; i++)
		p[i] = (uint8_t)(k * 31 + i);
}

/* True when buf is one whole version. */
static bool
version_ok(const uint8_t *buf, size_t len)
{
	unsigned k;
	size_t i;

	if (len == 0)
		return false;
	k = buf[0];
	if (k >= CONC_WRITERS || len != version_len(k))
		return false;
	for (i = 1; i < len; i++)
		if (buf[i] != (uint8_t)(k * 31 + i))
			return false;
	return true;
}

START_TEST(test_concurrent_writers)
{
	static uint8_t data[CONC_BASE_BYTES + CONC_WRITERS * CONC_STEP_BYTES];
	char top[256], dir[512];
	pid_t pids[CONC_WRITERS];
	struct state *st;
	uint8_t *buf;
	size_t len;
	unsigned k, reads = 0, torn = 0, running;
	int i, status, rc;

	mkd(top, sizeof(top));
	st = open_ok(top);
	version_fill(0, data);
	ck_assert_int_eq(state_write(st, "c/file", data, version_len(0)), 0);
	for (k = 0; k < CONC_WRITERS; k++) {
		pids[k] = fork();
		ck_assert_int_ge(pids[k], 0);
		if (pids[k] == 0) {
			struct state *cs = NULL;

			version_fill(k, data);
			if (state_open(top, &cs, NULL, 0) != 0)
				_exit(2);
			for (i = 0; i < CONC_WRITES_EACH; i++)
				if (state_write(cs, "c/file", data,
				        version_len(k)) != 0)
					_exit(3);
			state_close(cs);
			_exit(0);
		}
	}
	/* Read while they write: every read is one whole version. */
	do {
		rc = state_read(st, "c/file", sizeof(data), &buf, &len);
		ck_assert_int_eq(rc, 0);
		reads++;
		if (!version_ok(buf, len))
			torn++;
		free(buf);
		running = 0;
		for (k = 0; k < CONC_WRITERS; k++)
			if (pids[k] > 0 &&
			    waitpid(pids[k], &status, WNOHANG) == 0)
				running++;
			else if (pids[k] > 0) {
				ck_assert(WIFEXITED(status));
				ck_assert_int_eq(WEXITSTATUS(status), 0);
				pids[k] = 0;
			}
	} while (running > 0);
	ck_assert_uint_eq(torn, 0);
	ck_assert_uint_gt(reads, 0);
	printf("test_state: %u reads during %u x %u writes, none torn\n", reads,
	    CONC_WRITERS, CONC_WRITES_EACH);
	ck_assert_int_eq(state_read(st, "c/file", sizeof(data), &buf, &len), 0);
	ck_assert(version_ok(buf, len));
	free(buf);
	snprintf(dir, sizeof(dir), "%s/c", top);
	ck_assert_uint_eq(count_prefix(dir, STATE_TMP_PREFIX), 0);
	ck_assert_uint_eq(count_prefix(top, STATE_TMP_PREFIX), 0);
	state_close(st);
	rm_rf(top);
}
END_TEST

/* Read-modify-write of a counter under the lock, in many processes. */
START_TEST(test_lock_counter)
{
	char top[256], text[32];
	pid_t pids[COUNTER_PROCS];
	struct state *st;
	uint64_t v;
	uint8_t *buf;
	size_t len;
	int i, j, status;

	mkd(top, sizeof(top));
	st = open_ok(top);
	ck_assert_int_eq(state_write(st, "counter", "0", 1), 0);
	for (i = 0; i < COUNTER_PROCS; i++) {
		ck_assert_int_ge(pids[i] = fork(), 0);
		if (pids[i] != 0)
			continue;
		struct state *cs = NULL;
		struct state_lock *l;

		if (state_open(top, &cs, NULL, 0) != 0)
			_exit(2);
		for (j = 0; j < COUNTER_EACH; j++) {
			if (state_lock(cs, "counter", 10000, &l) != 0)
				_exit(3);
			if (state_read(cs, "counter", 32, &buf, &len) != 0 ||
			    util_parse_u64((char *)buf, len, UINT64_MAX, &v) !=
			        0)
				_exit(4);
			free(buf);
			len = (size_t)snprintf(text, sizeof(text), "%llu",
			    (unsigned long long)v + 1);
			if (state_write(cs, "counter", text, len) != 0)
				_exit(5);
			state_unlock(l);
		}
		state_close(cs);
		_exit(0);
	}
	for (i = 0; i < COUNTER_PROCS; i++) {
		ck_assert_int_eq(waitpid(pids[i], &status, 0), pids[i]);
		ck_assert(WIFEXITED(status));
		ck_assert_int_eq(WEXITSTATUS(status), 0);
	}
	ck_assert_int_eq(state_read(st, "counter", 32, &buf, &len), 0);
	ck_assert_int_eq(util_parse_u64((char *)buf, len, UINT64_MAX, &v), 0);
	ck_assert_uint_eq(v, COUNTER_PROCS * COUNTER_EACH);
	free(buf);
	state_close(st);
	rm_rf(top);
}
END_TEST

START_TEST(test_lock_excludes)
{
	struct state_lock *l = NULL, *l2 = NULL, *other = NULL;
	char top[256];
	struct state *st;
	uint64_t t0, dt;
	pid_t pid;
	int status;

	mkd(top, sizeof(top));
	st = open_ok(top);
	ck_assert_int_eq(state_lock(st, "certspotter", 0, &l), 0);
	/* Another process cannot have it while we hold it. */
	ck_assert_int_ge(pid = fork(), 0);
	if (pid == 0) {
		struct state *cs = NULL;
		struct state_lock *cl = NULL;
		int rc;

		if (state_open(top, &cs, NULL, 0) != 0)
			_exit(2);
		rc = state_lock(cs, "certspotter", LOCK_SHORT_MS, &cl);
		_exit(rc == CT_ERR_TIMEOUT && cl == NULL ? 0 : 1);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	/* Nor a second lock in this process; the timeout is kept. */
	t0 = mono_ms();
	ck_assert_int_eq(state_lock(st, "certspotter", LOCK_SHORT_MS, &l2),
	    CT_ERR_TIMEOUT);
	dt = mono_ms() - t0;
	ck_assert_uint_ge(dt, LOCK_SHORT_MS);
	ck_assert_uint_lt(dt, LOCK_SHORT_MS + 500);
	ck_assert_ptr_null(l2);
	/* A zero timeout is one try. */
	t0 = mono_ms();
	ck_assert_int_eq(state_lock(st, "certspotter", 0, &l2), CT_ERR_TIMEOUT);
	ck_assert_uint_lt(mono_ms() - t0, 50);
	/* Another name is another lock. */
	ck_assert_int_eq(state_lock(st, "other", 0, &other), 0);
	state_unlock(other);
	/* Released: the other process gets it. */
	state_unlock(l);
	ck_assert_int_ge(pid = fork(), 0);
	if (pid == 0) {
		struct state *cs = NULL;
		struct state_lock *cl = NULL;

		if (state_open(top, &cs, NULL, 0) != 0)
			_exit(2);
		_exit(state_lock(cs, "certspotter", 0, &cl) == 0 ? 0 : 1);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	/* Bad names. */
	ck_assert_int_eq(state_lock(st, "a/b", 0, &l), CT_ERR_INVALID);
	ck_assert_int_eq(state_lock(st, "..", 0, &l), CT_ERR_INVALID);
	ck_assert_int_eq(state_lock(st, "", 0, &l), CT_ERR_INVALID);
	ck_assert_int_eq(state_lock(st, "a~", 0, &l), CT_ERR_INVALID);
	/* Lock files cannot be reached through a relpath. */
	ck_assert_int_eq(state_write(st, STATE_LOCK_DIR "/certspotter", "x", 1),
	    CT_ERR_INVALID);
	state_unlock(NULL);
	state_close(st);
	rm_rf(top);
}
END_TEST

/* A holder that lets go after a while: the waiter gets the lock then. */
START_TEST(test_lock_waits)
{
	struct state_lock *l = NULL;
	char top[256], c;
	struct state *st;
	uint64_t t0, dt;
	int pfd[2], status;
	pid_t pid;

	mkd(top, sizeof(top));
	st = open_ok(top);
	ck_assert_int_eq(pipe(pfd), 0);
	ck_assert_int_ge(pid = fork(), 0);
	if (pid == 0) {
		struct state *cs = NULL;
		struct state_lock *cl = NULL;
		struct timespec ts = {0, LOCK_HOLD_MS * 1000000L};

		close(pfd[0]);
		if (state_open(top, &cs, NULL, 0) != 0 ||
		    state_lock(cs, "x", 0, &cl) != 0)
			_exit(2);
		if (write(pfd[1], "L", 1) != 1)
			_exit(3);
		nanosleep(&ts, NULL);
		_exit(0); /* dying releases the lock */
	}
	close(pfd[1]);
	ck_assert_int_eq(read(pfd[0], &c, 1), 1);
	close(pfd[0]);
	t0 = mono_ms();
	ck_assert_int_eq(state_lock(st, "x", 5000, &l), 0);
	dt = mono_ms() - t0;
	ck_assert_uint_ge(dt, LOCK_HOLD_MS / 2);
	ck_assert_uint_lt(dt, 4000);
	state_unlock(l);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	state_close(st);
	rm_rf(top);
}
END_TEST

START_TEST(test_clean_tmp)
{
	char top[256], p[1024], sub[512];
	struct timespec old[2];
	struct state *st;
	size_t removed = 99;
	int fd;

	mkd(top, sizeof(top));
	st = open_ok(top);
	ck_assert_int_eq(state_write(st, "sub/keep", "k", 1), 0);
	snprintf(sub, sizeof(sub), "%s/sub", top);
	snprintf(p, sizeof(p), "%s/%sdeadbeefdeadbeef", sub, STATE_TMP_PREFIX);
	ck_assert_int_ge(fd = open(p, O_CREAT | O_WRONLY, 0600), 0);
	close(fd);
	old[0].tv_sec = old[1].tv_sec = time(NULL) - 2 * STATE_TMP_STALE_S;
	old[0].tv_nsec = old[1].tv_nsec = 0;
	ck_assert_int_eq(utimensat(AT_FDCWD, p, old, 0), 0);
	snprintf(p, sizeof(p), "%s/%s0123456789abcdef", sub, STATE_TMP_PREFIX);
	ck_assert_int_ge(fd = open(p, O_CREAT | O_WRONLY, 0600), 0);
	close(fd);
	ck_assert_int_eq(state_clean_tmp(st, "sub", STATE_TMP_STALE_S,
	                     &removed),
	    0);
	ck_assert_uint_eq(removed, 1); /* the young one is a live writer's */
	ck_assert_uint_eq(count_prefix(sub, STATE_TMP_PREFIX), 1);
	ck_assert_uint_eq(count_prefix(sub, "keep"), 1);
	ck_assert_int_eq(state_clean_tmp(st, "sub", 0, &removed), 0);
	ck_assert_uint_eq(removed, 1);
	ck_assert_uint_eq(count_prefix(sub, STATE_TMP_PREFIX), 0);
	ck_assert_int_eq(state_clean_tmp(st, "", 0, &removed), 0);
	ck_assert_uint_eq(removed, 0);
	ck_assert_int_eq(state_clean_tmp(st, "nope", 0, &removed),
	    CT_ERR_NOT_FOUND);
	ck_assert_int_eq(state_clean_tmp(st, "../x", 0, &removed),
	    CT_ERR_INVALID);
	state_close(st);
	rm_rf(top);
}
END_TEST

static Suite *
state_suite(void)
{
	Suite *s = suite_create("state");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_relpath);
	tcase_add_test(tc, test_open_creates);
	tcase_add_test(tc, test_open_refuses);
	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_symlinks_not_followed);
	tcase_add_test(tc, test_concurrent_writers);
	tcase_add_test(tc, test_lock_counter);
	tcase_add_test(tc, test_lock_excludes);
	tcase_add_test(tc, test_lock_waits);
	tcase_add_test(tc, test_clean_tmp);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return testutil_run(state_suite());
}
