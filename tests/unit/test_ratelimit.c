/*
 * Tests for poller/ratelimit: the slots a GCRA hands out (on a clock the
 * test sets), Retry-After blocks, state files that are not to be believed,
 * slots taken by several processes at once (none lost, none given twice),
 * and a lock held elsewhere (the request goes, counted as unlimited).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ratelimit.h"
#include "state.h"
#include "testutil.h"
#include "util.h"

#define T0 1800000000000LL /* ms; any wall-clock time */
#define WORKERS 4
#define TAKES_EACH 5

static char dir[64];
static struct state *st;

static void
setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/test_ratelimit.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(state_open(dir, &st, NULL, 0), 0);
}

static void
teardown(void)
{
	char cmd[128];

	state_close(st);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* Takes one slot at now; returns its wait (ms), or -1 when refused. */
static long long
take(struct ratelimit *rl, int64_t now, uint64_t max_wait)
{
	uint64_t w = 0;
	int rc = ratelimit_take(rl, now, max_wait, &w);

	if (rc == CT_ERR_TIMEOUT)
		return -1;
	ck_assert_int_eq(rc, 0);
	return (long long)w;
}

START_TEST(test_init_checks)
{
	struct ratelimit rl;

	ck_assert_int_eq(ratelimit_init(&rl, st, "crtsh", 60, 5), 0);
	ck_assert_uint_eq(rl.interval_ms, 1000);
	ck_assert_uint_eq(rl.tolerance_ms, 4000);
	ck_assert_int_eq(ratelimit_init(&rl, NULL, "crtsh", 60, 5),
	    CT_ERR_INVALID);
	ck_assert_int_eq(ratelimit_init(&rl, st, "", 60, 5), CT_ERR_INVALID);
	ck_assert_int_eq(ratelimit_init(&rl, st, "../x", 60, 5),
	    CT_ERR_INVALID);
	ck_assert_int_eq(ratelimit_init(&rl, st, "CRTSH", 60, 5),
	    CT_ERR_INVALID);
	ck_assert_int_eq(ratelimit_init(&rl, st,
	                     "a23456789012345678901234567890123", 60, 5),
	    CT_ERR_INVALID);
	ck_assert_int_eq(ratelimit_init(&rl, st, "crtsh", 0, 5),
	    CT_ERR_INVALID);
	ck_assert_int_eq(ratelimit_init(&rl, st, "crtsh", 6001, 5),
	    CT_ERR_INVALID);
	ck_assert_int_eq(ratelimit_init(&rl, st, "crtsh", 60, 0),
	    CT_ERR_INVALID);
	ck_assert_int_eq(ratelimit_init(&rl, st, "crtsh", 60, 101),
	    CT_ERR_INVALID);
	/* 7 a minute: the interval rounds up, never faster than asked. */
	ck_assert_int_eq(ratelimit_init(&rl, st, "x", 7, 1), 0);
	ck_assert_uint_eq(rl.interval_ms, 8572);
}
END_TEST

/* 60 a minute, burst 5: five at once, then one a second; time refills. */
START_TEST(test_slots)
{
	struct ratelimit rl;
	int i;

	ck_assert_int_eq(ratelimit_init(&rl, st, "crtsh", 60, 5), 0);
	for (i = 0; i < 5; i++)
		ck_assert_int_eq(take(&rl, T0, 60000), 0);
	ck_assert_int_eq(take(&rl, T0, 60000), 1000);
	ck_assert_int_eq(take(&rl, T0, 60000), 2000);
	/* A slot past the caller's wait is refused and not reserved. */
	ck_assert_int_eq(take(&rl, T0, 2999), -1);
	ck_assert_int_eq(take(&rl, T0, 3000), 3000);
	ck_assert_uint_eq(rl.taken, 8);
	ck_assert_uint_eq(rl.refused, 1);
	/* Half a second on: the next slot is at T0 + 4000. */
	ck_assert_int_eq(take(&rl, T0 + 500, 60000), 3500);
	/* Long after: a full burst again. */
	for (i = 0; i < 5; i++)
		ck_assert_int_eq(take(&rl, T0 + 60000, 60000), 0);
	ck_assert_int_eq(take(&rl, T0 + 60000, 60000), 1000);
	ck_assert_uint_eq(rl.unlimited, 0);
}
END_TEST

/* A Retry-After holds every slot back; a shorter one does not shorten. */
START_TEST(test_block)
{
	struct ratelimit rl;

	ck_assert_int_eq(ratelimit_init(&rl, st, "crtsh", 60, 5), 0);
	ratelimit_block(&rl, T0, 30000);
	ck_assert_int_eq(take(&rl, T0, 10000), -1);
	ck_assert_int_eq(take(&rl, T0 + 1000, 60000), 29000);
	ratelimit_block(&rl, T0 + 2000, 1000);
	ck_assert_int_eq(take(&rl, T0 + 2000, 60000), 28000);
	/* Capped at an hour. */
	ratelimit_block(&rl, T0, 7ULL * 86400 * 1000);
	ck_assert_int_eq(take(&rl, T0, (uint64_t)RATELIMIT_MAX_BLOCK_MS),
	    RATELIMIT_MAX_BLOCK_MS);
}
END_TEST

/* What is in the file and is not believed counts as no file. */
START_TEST(test_bad_state_files)
{
	static const char *const bad[] = {
	    "",
	    "garbage\n",
	    "ratelimit v2 1 2\n",
	    "ratelimit v1 1800000100000\n",
	    "ratelimit v1 1800000100000 0",         /* no newline */
	    "ratelimit v1 1800000100000 0\nmore\n", /* trailing */
	    "ratelimit v1 x 0\n",
	    "ratelimit v1 -5 0\n",
	    "ratelimit v1 1800000100000 0 3\n",
	    "ratelimit v1  1800000100000 0\n",
	    "ratelimit v1 1800000100000 99999999999999999999\n",
	    /* A clock set back: ten hours ahead of now. */
	    "ratelimit v1 1800036000000 0\n",
	    "ratelimit v1 0 1800036000000\n",
	};
	struct ratelimit rl;
	uint8_t *buf;
	size_t i, len;

	ck_assert_int_eq(ratelimit_init(&rl, st, "crtsh", 60, 1), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_eq(state_write(st, "ratelimit/crtsh", bad[i],
		                     strlen(bad[i])),
		    0);
		ck_assert_msg(take(&rl, T0, 0) == 0, "file %zu", i);
		/* And it was rewritten well. */
		ck_assert_int_eq(state_read(st, "ratelimit/crtsh", 128, &buf,
		                     &len),
		    0);
		ck_assert_str_eq((char *)buf,
		    "ratelimit v1 1800000001000 "
		    "1800000000000\n");
		free(buf);
	}
	/* A good file is believed: a slot 100 s ahead of T0. */
	ck_assert_int_eq(state_write(st, "ratelimit/crtsh",
	                     "ratelimit v1 1800000100000 0\n", 29),
	    0);
	ck_assert_int_eq(take(&rl, T0, 200000), 100000);
}
END_TEST

/*
 * WORKERS processes take TAKES_EACH slots each at the same instant: the
 * waits, together, are exactly the schedule one process would get (five
 * at once, then one a second), so no update was lost and no slot was
 * handed out twice.
 */
START_TEST(test_processes_share)
{
	int fds[2], st_code, i, n = 0;
	long long got[WORKERS * TAKES_EACH], w;
	char seen[WORKERS * TAKES_EACH + 4] = {0};
	pid_t pids[WORKERS];
	FILE *in;

	ck_assert_int_eq(pipe(fds), 0);
	for (i = 0; i < WORKERS; i++) {
		pids[i] = fork();
		ck_assert_int_ge(pids[i], 0);
		if (pids[i] == 0) {
			struct ratelimit rl;
			struct state *cst = NULL;
			uint64_t wait;
			char line[32];
			int k, len;

			close(fds[0]);
			if (state_open(dir, &cst, NULL, 0) != 0 ||
			    ratelimit_init(&rl, cst, "crtsh", 60, 5) != 0)
				_exit(1);
			for (k = 0; k < TAKES_EACH; k++) {
				if (ratelimit_take(&rl, T0, 3600000, &wait) !=
				        0 ||
				    rl.unlimited != 0)
					_exit(1);
				len = snprintf(line, sizeof(line), "%llu\n",
				    (unsigned long long)wait);
				if (write(fds[1], line, (size_t)len) != len)
					_exit(1);
			}
			state_close(cst);
			_exit(0);
		}
	}
	close(fds[1]);
	in = fdopen(fds[0], "r");
	ck_assert_ptr_nonnull(in);
	while (n < WORKERS * TAKES_EACH && fscanf(in, "%lld", &w) == 1)
		got[n++] = w;
	fclose(in);
	for (i = 0; i < WORKERS; i++) {
		ck_assert_int_eq(waitpid(pids[i], &st_code, 0), pids[i]);
		ck_assert(WIFEXITED(st_code) && WEXITSTATUS(st_code) == 0);
	}
	ck_assert_int_eq(n, WORKERS * TAKES_EACH);
	/* 0 five times, then 1000, 2000, ... each once. */
	for (i = 0; i < n; i++) {
		ck_assert(got[i] % 1000 == 0 && got[i] >= 0);
		if (got[i] == 0)
			seen[0]++;
		else
			seen[4 + got[i] / 1000]++;
	}
	ck_assert_int_eq(seen[0], 5);
	for (i = 5; i < n; i++)
		ck_assert_msg(seen[i] == 1, "slot %d s given %d times", i - 4,
		    seen[i]);
}
END_TEST

/* The lock held elsewhere past RATELIMIT_LOCK_MS: the request goes. */
START_TEST(test_lock_held)
{
	struct ratelimit rl;
	struct state_lock *l = NULL;

	ck_assert_int_eq(ratelimit_init(&rl, st, "crtsh", 1, 1), 0);
	ck_assert_int_eq(take(&rl, T0, 0), 0);
	ck_assert_int_eq(take(&rl, T0, 0), -1);
	ck_assert_int_eq(state_lock(st, "ratelimit-crtsh", 0, &l), 0);
	ck_assert_int_eq(take(&rl, T0, 0), 0);
	ck_assert_uint_eq(rl.unlimited, 1);
	state_unlock(l);
	ck_assert_int_eq(take(&rl, T0, 0), -1);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("ratelimit");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_init_checks);
	tcase_add_test(tc, test_slots);
	tcase_add_test(tc, test_block);
	tcase_add_test(tc, test_bad_state_files);
	tcase_add_test(tc, test_processes_share);
	tcase_add_test(tc, test_lock_held);
	suite_add_tcase(s, tc);
	return testutil_run(s);
}
