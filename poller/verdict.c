/*
 * verdict: the known set and the judgement of every CT certificate for the
 * watched names (DESIGN.md sections 3 and 5): known, young, unknown,
 * untrusted issuer, expired (ignored unless asked).
 */
#include <wolfssl/options.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cert.h"
#include "names.h"
#include "poller.h"
#include "store.h"
#include "util.h"

static int
cmp_hash(const void *a, const void *b)
{
	return memcmp(((const struct known_entry *)a)->tbs,
	    ((const struct known_entry *)b)->tbs, 32);
}

void
known_init(struct known *k)
{
	memset(k, 0, sizeof(*k));
}

void
known_clear(struct known *k)
{
	free(k->v);
	memset(k, 0, sizeof(*k));
}

/* Adds a tbs hash with where it came from (copied, cut to fit). */
int
known_add(struct known *k, const uint8_t tbs[32], const char *origin)
{
	struct known_entry *grown;

	if (k->n == k->cap) {
		size_t ncap = k->cap ? k->cap * 2 : 64;

		if (ncap > KNOWN_MAX_ENTRIES)
			return CT_ERR_TOO_BIG;
		if ((grown = realloc(k->v, ncap * sizeof(*grown))) == NULL)
			return CT_ERR_NOMEM;
		k->v = grown;
		k->cap = ncap;
	}
	memcpy(k->v[k->n].tbs, tbs, 32);
	snprintf(k->v[k->n].origin, sizeof(k->v[k->n].origin), "%s", origin);
	k->n++;
	k->sorted = false;
	return 0;
}

/* The origin of a known tbs hash, or NULL. */
const char *
known_find(struct known *k, const uint8_t tbs[32])
{
	struct known_entry key, *e;

	if (k->n == 0) /* qsort and bsearch on NULL are undefined */
		return NULL;
	if (!k->sorted) {
		qsort(k->v, k->n, sizeof(*k->v), cmp_hash);
		k->sorted = true;
	}
	memcpy(key.tbs, tbs, 32);
	e = bsearch(&key, k->v, k->n, sizeof(*k->v), cmp_hash);
	return e ? e->origin : NULL;
}

/* The watch a record's names match, with the reason; NULL when none. */
const struct names_watch *
verdict_match(const struct names_watch *w, size_t nw,
    const struct cert_name *names, size_t n_names, enum names_match *why)
{
	struct names_item items[64];
	size_t i, j, n;

	n = n_names < 64 ? n_names : 64;
	for (i = 0; i < n; i++) {
		items[i].name = names[i].name;
		items[i].len = names[i].len;
	}
	for (j = 0; j < nw; j++) {
		/* Names beyond the first 64 are matched in further rounds. */
		for (i = 0; i < n_names; i += 64) {
			size_t k, m = n_names - i < 64 ? n_names - i : 64;

			for (k = 0; k < m; k++) {
				items[k].name = names[i + k].name;
				items[k].len = names[i + k].len;
			}
			*why =
			    names_cert_matches(&w[j], items, m, NULL, 0, NULL);
			if (*why != NAMES_NO_MATCH)
				return &w[j];
		}
	}
	return NULL;
}

/* Whether one of the trusted issuers' keys signed c. */
static bool
issuer_trusted(const struct ct_cert *c, struct ct_cert *const *trusted,
    size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (cert_verify_signed_by(c, trusted[i]) == 0)
			return true;
	return false;
}

/* "a, b, c" of a record's names, sanitised, into out. */
static void
names_text(const struct cert_name *names, size_t n, char *out, size_t outsz)
{
	size_t i, o = 0;
	char one[CERT_MAX_NAME_BYTES + 4];

	out[0] = '\0';
	for (i = 0; i < n && o + 8 < outsz; i++) {
		util_sanitize(names[i].name, names[i].len, one, sizeof(one));
		o += (size_t)snprintf(out + o, outsz - o, "%s%s", i ? ", " : "",
		    one);
		if (o >= outsz)
			o = outsz - 1;
	}
	if (i < n && outsz > 32) {
		char more[32];

		snprintf(more, sizeof(more), " (+%zu more)", n - i);
		if (o > outsz - sizeof(more))
			o = outsz - sizeof(more);
		memcpy(out + o, more, strlen(more) + 1);
	}
}

struct judge {
	const struct verdict_opts *o;
	struct known *known;
	struct verdict_counts *counts;
	struct output *out;
	const struct store *seen;
};

static void
report_unknown(struct judge *j, const struct store_rec *r, bool untrusted,
    bool young)
{
	char tbs[65], names[512], nb[UTIL_RFC3339_LEN], src[128];
	char issuer[256] = "?", serial[80];
	struct ct_cert *c = NULL;
	enum output_state st;
	bool unproven;

	util_hex_encode(r->tbs_sha256, 32, tbs);
	tbs[16] = '\0';
	names_text(r->names, r->n_names, names, sizeof(names));
	util_time_rfc3339(r->not_before, nb);
	nb[10] = '\0';
	util_sanitize(r->serial, strlen(r->serial), serial, sizeof(serial));
	util_sanitize(r->source, strlen(r->source), src, sizeof(src));
	if (store_load_cert(j->seen, r->tbs_sha256, &c) == 0) {
		util_sanitize(c->issuer, strlen(c->issuer), issuer,
		    sizeof(issuer));
		cert_free(c);
	}
	unproven = !untrusted && j->o != NULL && j->o->unproven_agent != NULL;
	st = untrusted ? OUTPUT_CRITICAL
	    : unproven ? j->o->unproven_state
	    : young    ? OUTPUT_WARNING
	               : OUTPUT_CRITICAL;
	output_add(j->out, st,
	    "%s %s (%s) tbs %s serial %s issuer \"%s\" for %s, "
	    "notBefore %s: %s%s%s",
	    untrusted   ? "untrusted"
	        : young ? "new"
	                : "unknown",
	    r->precert ? "precertificate" : "certificate", src, tbs, serial,
	    issuer, names, nb,
	    untrusted      ? "not signed by a trusted issuer and on no server"
	        : unproven ? "on no server that answered; may be on "
	        : young    ? "on no server yet (within the grace period)"
	                   : "on no server",
	    unproven ? j->o->unproven_agent : "",
	    unproven ? ", which could not be asked" : "");
}

static int
judge_one(const struct store_rec *r, void *arg)
{
	struct judge *j = arg;
	const struct verdict_opts *o = j->o;
	struct ct_cert *c = NULL;
	enum names_match why;
	bool untrusted = false, young;

	if (verdict_match(o->watches, o->n_watches, r->names, r->n_names,
	        &why) == NULL)
		return 0;
	if (r->is_ca)
		return 0;
	if (r->not_after < o->now && !o->include_expired) {
		j->counts->expired++;
		return 0;
	}
	j->counts->ct_certs++;
	if (known_find(j->known, r->tbs_sha256) != NULL) {
		j->counts->known++;
		return 0;
	}
	if (o->n_trusted > 0) {
		if (store_load_cert(j->seen, r->tbs_sha256, &c) != 0) {
			/* A record we cannot read back: say so, fail safe. */
			untrusted = true;
		} else {
			untrusted =
			    !issuer_trusted(c, o->trusted, o->n_trusted);
			cert_free(c);
		}
	}
	young = o->now - r->first_seen < o->grace_s;
	if (untrusted)
		j->counts->untrusted++;
	else if (o->unproven_agent != NULL)
		j->counts->unproven++;
	else if (young)
		j->counts->young++;
	j->counts->unknown++;
	if (o->unknown_cb != NULL)
		o->unknown_cb(o->unknown_arg, r, untrusted, young);
	else
		report_unknown(j, r, untrusted, young);
	return 0;
}

int
verdict_run(const struct verdict_opts *o, struct known *known,
    const struct store *seen, struct output *out, struct verdict_counts *vc)
{
	struct judge j = {o, known, vc, out, seen};

	memset(vc, 0, sizeof(*vc));
	return store_foreach(seen, judge_one, &j);
}

/* Public for callers that print a record themselves (--interactive). */
void
verdict_report(struct output *out, const struct store *seen,
    const struct store_rec *r, bool untrusted, bool young,
    const struct verdict_opts *o)
{
	struct judge j;

	memset(&j, 0, sizeof(j));
	j.o = o;
	j.out = out;
	j.seen = seen;
	report_unknown(&j, r, untrusted, young);
}
