/*
 * rate: a token bucket per peer address (IPv4 by address, IPv6 by its
 * /64, the unit one host usually gets). At most RATE_MAX_ENTRIES
 * addresses are remembered; when the table is full, the bucket untouched
 * for longest is reused, which can only make the limit more lenient for
 * that address, never refuse anyone unfairly.
 *
 * Tokens are counted in thousandths so that refilling per millisecond is
 * exact: a rate of R per second adds R milli-tokens per millisecond.
 */
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"

#define RATE_KEY_BYTES 17 /* family byte + 16 address bytes */
#define RATE_MILLI 1000

struct rate_entry {
	uint8_t key[RATE_KEY_BYTES];
	uint64_t tokens_milli;
	uint64_t last_ms;
};

struct rate_table {
	struct rate_entry *e;
	size_t n; /* entries in use: e[0 .. n) */
	uint64_t per_s;
	uint64_t burst;
};

int
rate_new(struct rate_table **out)
{
	struct rate_table *t;

	*out = NULL;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return CT_ERR_NOMEM;
	if ((t->e = calloc(RATE_MAX_ENTRIES, sizeof(*t->e))) == NULL) {
		free(t);
		return CT_ERR_NOMEM;
	}
	*out = t;
	return 0;
}

void
rate_free(struct rate_table *t)
{
	if (t == NULL)
		return;
	free(t->e);
	free(t);
}

void
rate_set(struct rate_table *t, uint64_t per_s, uint64_t burst)
{
	t->per_s = per_s;
	t->burst = burst > 0 ? burst : 1;
	t->n = 0; /* new parameters: every address starts full */
}

static bool
make_key(const struct sockaddr_storage *ss, uint8_t key[RATE_KEY_BYTES])
{
	const struct sockaddr_in *in4 = (const struct sockaddr_in *)ss;
	const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;

	memset(key, 0, RATE_KEY_BYTES);
	if (ss->ss_family == AF_INET) {
		key[0] = 4;
		memcpy(key + 1, &in4->sin_addr, sizeof(in4->sin_addr));
		return true;
	}
	if (ss->ss_family == AF_INET6) {
		key[0] = 6;
		memcpy(key + 1, &in6->sin6_addr, 8); /* the /64 */
		return true;
	}
	return false;
}

/* The entry of key, or a fresh (full) one in place of the stalest. */
static struct rate_entry *
find(struct rate_table *t, const uint8_t key[RATE_KEY_BYTES], uint64_t now_ms)
{
	struct rate_entry *e, *stalest = NULL;
	size_t i;

	for (i = 0; i < t->n; i++) {
		e = &t->e[i];
		if (memcmp(e->key, key, RATE_KEY_BYTES) == 0)
			return e;
		if (stalest == NULL || e->last_ms < stalest->last_ms)
			stalest = e;
	}
	if (t->n < RATE_MAX_ENTRIES)
		e = &t->e[t->n++];
	else
		e = stalest;
	memcpy(e->key, key, RATE_KEY_BYTES);
	e->tokens_milli = t->burst * RATE_MILLI;
	e->last_ms = now_ms;
	return e;
}

bool
rate_take(struct rate_table *t, const struct sockaddr_storage *addr,
    uint64_t now_ms)
{
	uint8_t key[RATE_KEY_BYTES];
	struct rate_entry *e;
	uint64_t cap, elapsed, add;

	if (t == NULL || t->per_s == 0)
		return true;
	if (!make_key(addr, key))
		return true; /* not an IP peer (cannot happen on TCP) */
	e = find(t, key, now_ms);
	cap = t->burst * RATE_MILLI;
	elapsed = now_ms > e->last_ms ? now_ms - e->last_ms : 0;
	/* per_s <= CONF_MAX_RATE: elapsed * per_s overflows only after
	 * ~584,000 years of silence; cap the product anyway. */
	add = elapsed > cap / t->per_s + 1 ? cap : elapsed * t->per_s;
	e->tokens_milli =
	    e->tokens_milli + add > cap ? cap : e->tokens_milli + add;
	e->last_ms = now_ms;
	if (e->tokens_milli < RATE_MILLI)
		return false;
	e->tokens_milli -= RATE_MILLI;
	return true;
}
