/*
 * ratelimit: a request rate shared through the state directory (see
 * ratelimit.h).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ratelimit.h"
#include "state.h"
#include "util.h"

#define RATELIMIT_PATH_BYTES (sizeof("ratelimit/") + RATELIMIT_NAME_MAX)
#define RATELIMIT_LOCK_BYTES (sizeof("ratelimit-") + RATELIMIT_NAME_MAX)

struct rl_times {
	int64_t tat;
	int64_t blocked_until;
};

int
ratelimit_init(struct ratelimit *rl, struct state *st, const char *name,
    unsigned per_minute, unsigned burst)
{
	size_t n, i;

	memset(rl, 0, sizeof(*rl));
	if (st == NULL || name == NULL || per_minute == 0 ||
	    per_minute > RATELIMIT_MAX_PER_MINUTE || burst == 0 ||
	    burst > RATELIMIT_MAX_BURST)
		return CT_ERR_INVALID;
	n = strnlen(name, RATELIMIT_NAME_MAX + 1);
	if (n == 0 || n > RATELIMIT_NAME_MAX)
		return CT_ERR_INVALID;
	for (i = 0; i < n; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') ||
		        (name[i] >= '0' && name[i] <= '9') || name[i] == '-'))
			return CT_ERR_INVALID;
	rl->st = st;
	memcpy(rl->name, name, n + 1);
	rl->per_minute = per_minute;
	rl->interval_ms = (60000 + per_minute - 1) / per_minute;
	rl->tolerance_ms = (uint64_t)(burst - 1) * rl->interval_ms;
	return 0;
}

/*
 * The stored times, or both at now_ms when there are none worth keeping:
 * no file, one that does not parse, or times beyond what a slot or a
 * Retry-After could have set (a clock set back, a hand-edited file).
 */
/*
 * The line "ratelimit v1 <tat> <blocked-until>\n" of len bytes at p: both
 * times, or false for anything else.
 */
static bool
times_parse(const char *p, size_t len, int64_t *tat, int64_t *until)
{
	static const char prefix[] = "ratelimit v1 ";
	const char *sp, *end = p + len;
	uint64_t a, b;

	if (len < sizeof(prefix) ||
	    memcmp(p, prefix, sizeof(prefix) - 1) != 0 || end[-1] != '\n')
		return false;
	p += sizeof(prefix) - 1;
	end--;
	if ((sp = memchr(p, ' ', (size_t)(end - p))) == NULL ||
	    util_parse_u64(p, (size_t)(sp - p), INT64_MAX, &a) != 0 ||
	    util_parse_u64(sp + 1, (size_t)(end - sp - 1), INT64_MAX, &b) != 0)
		return false;
	*tat = (int64_t)a;
	*until = (int64_t)b;
	return true;
}

/*
 * The stored times, or both at now_ms when there are none worth keeping:
 * no file, one that does not parse, or times beyond what a slot or a
 * Retry-After could have set (a clock set back, a hand-edited file).
 */
static void
times_read(struct ratelimit *rl, int64_t now_ms, struct rl_times *t)
{
	char path[RATELIMIT_PATH_BYTES];
	uint8_t *buf = NULL;
	size_t len = 0;
	int64_t tat, until;

	t->tat = t->blocked_until = now_ms;
	snprintf(path, sizeof(path), "ratelimit/%s", rl->name);
	if (state_read(rl->st, path, RATELIMIT_FILE_MAX_BYTES, &buf, &len) != 0)
		return;
	if (times_parse((const char *)buf, len, &tat, &until)) {
		if (tat > now_ms &&
		    tat <= now_ms + (int64_t)rl->tolerance_ms +
		            RATELIMIT_MAX_AHEAD_MS)
			t->tat = tat;
		if (until > now_ms && until <= now_ms + RATELIMIT_MAX_BLOCK_MS)
			t->blocked_until = until;
	}
	free(buf);
}

static int
times_write(struct ratelimit *rl, const struct rl_times *t)
{
	char path[RATELIMIT_PATH_BYTES], line[RATELIMIT_FILE_MAX_BYTES];
	int n;

	snprintf(path, sizeof(path), "ratelimit/%s", rl->name);
	n = snprintf(line, sizeof(line),
	    "ratelimit v1 %" PRId64 " %" PRId64 "\n", t->tat, t->blocked_until);
	if (n < 0 || (size_t)n >= sizeof(line))
		return CT_ERR_INVALID;
	return state_write_ex(rl->st, path, line, (size_t)n, false);
}

static int
lock(struct ratelimit *rl, struct state_lock **l)
{
	char name[RATELIMIT_LOCK_BYTES];

	snprintf(name, sizeof(name), "ratelimit-%s", rl->name);
	return state_lock(rl->st, name, RATELIMIT_LOCK_MS, l);
}

static int64_t
max64(int64_t a, int64_t b)
{
	return a > b ? a : b;
}

int
ratelimit_take(struct ratelimit *rl, int64_t now_ms, uint64_t max_wait_ms,
    uint64_t *wait_ms)
{
	struct state_lock *l = NULL;
	struct rl_times t;
	int64_t slot;

	*wait_ms = 0;
	if (rl == NULL || rl->st == NULL)
		return 0;
	if (lock(rl, &l) != 0) {
		rl->unlimited++;
		return 0;
	}
	times_read(rl, now_ms, &t);
	/* The earliest time this request conforms, and no earlier than a
	 * server asked. */
	slot = max64(max64(t.tat - (int64_t)rl->tolerance_ms, now_ms),
	    t.blocked_until);
	*wait_ms = (uint64_t)(slot - now_ms);
	if (*wait_ms > max_wait_ms) {
		state_unlock(l);
		rl->refused++;
		return CT_ERR_TIMEOUT;
	}
	t.tat = max64(t.tat, slot) + (int64_t)rl->interval_ms;
	if (times_write(rl, &t) != 0)
		rl->unlimited++;
	else
		rl->taken++;
	state_unlock(l);
	return 0;
}

void
ratelimit_block(struct ratelimit *rl, int64_t now_ms, uint64_t after_ms)
{
	struct state_lock *l = NULL;
	struct rl_times t;

	if (rl == NULL || rl->st == NULL || lock(rl, &l) != 0)
		return;
	if (after_ms > RATELIMIT_MAX_BLOCK_MS)
		after_ms = RATELIMIT_MAX_BLOCK_MS;
	times_read(rl, now_ms, &t);
	t.blocked_until = max64(t.blocked_until, now_ms + (int64_t)after_ms);
	(void)times_write(rl, &t);
	state_unlock(l);
}
