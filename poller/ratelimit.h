/*
 * ratelimit: one request rate shared by every process that uses a state
 * directory. Icinga runs up to hundreds of check_ct at once, and crt.sh
 * allows 60 requests a minute per address with a burst of 5 (REFERENCE.md
 * 1.9 and 2.8): without a shared limit, a busy minute turns into HTTP 429
 * for every check.
 *
 * The rate is a GCRA (virtual scheduling): the state file holds the
 * theoretical arrival time (tat) of the next request and the time before
 * which no request may go at all (a server's Retry-After). A request
 * reserves the next free slot, up to burst requests at once and then one
 * per interval, and waits for it; slots are handed out in the order they
 * are taken, across processes, under the state directory's lock.
 *
 * State file <state>/ratelimit/<name>: one line,
 *	"ratelimit v1 <tat ms> <blocked-until ms>\n"	(wall clock, ms)
 * written without fsync (losing it in a crash only forgets a few slots).
 * A file that does not parse, or times too far ahead (a clock set back),
 * count as no file. When the state cannot be read or written in time
 * (RATELIMIT_LOCK_MS), the request goes without a slot: the server's own
 * limit and the HTTP client's retries still apply.
 */
#ifndef CT_RATELIMIT_H
#define CT_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

struct state;

#define RATELIMIT_NAME_MAX 32
#define RATELIMIT_MAX_PER_MINUTE 6000
#define RATELIMIT_MAX_BURST 100
#define RATELIMIT_LOCK_MS 1000
/* A Retry-After honoured for at most this long. */
#define RATELIMIT_MAX_BLOCK_MS (3600 * 1000)
/* A tat further ahead than this (beyond the burst) is not believed. */
#define RATELIMIT_MAX_AHEAD_MS (3600 * 1000)
#define RATELIMIT_FILE_MAX_BYTES 128
/* crt.sh's published limit. */
#define RATELIMIT_CRTSH_PER_MINUTE 60
#define RATELIMIT_CRTSH_BURST 5

struct ratelimit {
	struct state *st;
	char name[RATELIMIT_NAME_MAX + 1];
	unsigned per_minute;
	uint64_t interval_ms;
	uint64_t tolerance_ms; /* (burst - 1) * interval */
	unsigned taken;        /* slots this process reserved */
	unsigned unlimited;    /* requests let through on a state error */
	unsigned refused;      /* slots beyond a caller's max wait */
};

/*
 * name: [a-z0-9-], 1..RATELIMIT_NAME_MAX bytes; per_minute 1..6000; burst
 * 1..100. st is kept (not owned). 0 or CT_ERR_INVALID.
 */
int ratelimit_init(struct ratelimit *rl, struct state *st, const char *name,
    unsigned per_minute, unsigned burst);

/*
 * Reserves the next slot if it comes within max_wait_ms: 0 with *wait_ms
 * (0: go now). CT_ERR_TIMEOUT when it comes later: nothing is reserved,
 * and *wait_ms says how long the wait would be. now_ms: the wall clock
 * (util_now_ms), a parameter for the tests.
 */
int ratelimit_take(struct ratelimit *rl, int64_t now_ms, uint64_t max_wait_ms,
    uint64_t *wait_ms);

/* A server said Retry-After: no slot before now_ms + after_ms. */
void ratelimit_block(struct ratelimit *rl, int64_t now_ms, uint64_t after_ms);

#endif
