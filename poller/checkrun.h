/*
 * The state of one check_ct run, shared by checkrun.c (the local part)
 * and checknet.c (agents and CT sources on the loop).
 */
#ifndef CT_CHECKRUN_H
#define CT_CHECKRUN_H

#include "poller.h"
#include "scan.h"
#include "store.h"

#define CHECK_PATH_BYTES 4096

struct run {
	const struct check_cfg *cfg;
	struct output *out;
	char state[CHECK_PATH_BYTES];
	struct store *seen;
	struct store *db;
	struct known known;
	struct ct_cert **trusted;
	size_t n_trusted;
	struct scan_result *local;
	int64_t now;
	int64_t t0_ms;
	size_t accepted;
	size_t refused_baseline; /* untrusted, kept out of --accept-existing */
	size_t seen_new;
	size_t logged;
	size_t agents_ok, agents_failed;
	char failed_agent[256]; /* the first agent that could not be asked */
	const struct verdict_opts *vo; /* while judging */
};

/* checkrun.c */
/*
 * Records a certificate found in CT (at where: "crt.sh id 123") into the
 * seen store. logged is when the source says it was logged (now when it
 * does not say); the earliest of that, the embedded SCTs' timestamps and
 * now becomes its first_seen, from which the grace period counts.
 */
int checkrun_seen(struct run *r, const struct ct_cert *c, const char *where,
    int64_t logged);

/* checknet.c: asks the agents and the CT sources, within the deadline. */
void checkrun_network(struct run *r);

#endif
