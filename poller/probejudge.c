/*
 * probejudge: the verdict on one probed address, as a pure function of
 * the probe's result and what the run knows (trusted issuers, log list,
 * thresholds, the agents' certificates, the CT sources' answers), so
 * that check_ct and ctctl judge alike.
 */
#include <wolfssl/options.h>

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "certspotter.h"
#include "crtsh.h"
#include "loglist.h"
#include "names.h"
#include "probe.h"

#define DAY_S 86400.0
#define PROBE_THRESH_MAX_DAYS 100000.0
#define PROBE_SCT_CLOCK_SKEW_MS (5 * 60 * 1000) /* future SCTs allowed */

const char *const probe_sct_status_names[PROBE_SCT__MAX] = {"valid", "invalid",
    "unknown_log", "unchecked", "future"};

/* ------------------------------------------------------------ thresholds */

int
probe_thresh_parse(const char *s, struct probe_thresh *t)
{
	char num[32];
	size_t n, i, dots = 0;
	bool percent = false;
	char *end;
	double v;

	if (s == NULL)
		return CT_ERR_FORMAT;
	n = strlen(s);
	if (n > 0 && (s[n - 1] == '%' || s[n - 1] == 'd')) {
		percent = s[n - 1] == '%';
		n--;
	}
	if (n == 0 || n >= sizeof(num))
		return CT_ERR_FORMAT;
	for (i = 0; i < n; i++) {
		if (s[i] == '.')
			dots++;
		else if (s[i] < '0' || s[i] > '9')
			return CT_ERR_FORMAT;
	}
	if (dots > 1 || s[0] == '.' || s[n - 1] == '.')
		return CT_ERR_FORMAT;
	memcpy(num, s, n);
	num[n] = '\0';
	v = strtod(num, &end);
	if (*end != '\0' || !isfinite(v) || v < 0 ||
	    v > (percent ? 100.0 : PROBE_THRESH_MAX_DAYS))
		return CT_ERR_FORMAT;
	t->set = true;
	t->percent = percent;
	t->value = v;
	return 0;
}

double
probe_thresh_days(const struct probe_thresh *t, int64_t not_before,
    int64_t not_after)
{
	double life = (double)(not_after - not_before) / DAY_S;

	if (!t->set)
		return 0.0;
	if (!t->percent)
		return t->value;
	return life > 0 ? life * t->value / 100.0 : 0.0;
}

/* ------------------------------------------------------------ defaults */

void
probe_judge_defaults(struct probe_judge_opts *o)
{
	size_t i;

	memset(o, 0, sizeof(*o));
	o->min_scts = PROBE_DEFAULT_MIN_SCTS;
	o->warn.set = o->crit.set = true;
	o->warn.value = PROBE_DEFAULT_WARN_DAYS;
	o->crit.value = PROBE_DEFAULT_CRIT_DAYS;
	o->now = util_now();
	for (i = 0; i < PROBE_FAIL__MAX; i++)
		o->error_state[i] = OUTPUT_CRITICAL;
	o->error_state[PROBE_OK] = OUTPUT_OK;
	/* Our own failures say nothing about the server. */
	o->error_state[PROBE_DEADLINE] = OUTPUT_UNKNOWN;
	o->error_state[PROBE_INTERNAL] = OUTPUT_UNKNOWN;
	o->error_state[PROBE_RESOLVE] = OUTPUT_UNKNOWN;
}

/* ------------------------------------------------------------ findings */

static void add(struct probe_verdict *v, enum output_state st, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));

static void
add(struct probe_verdict *v, enum output_state st, const char *fmt, ...)
{
	struct probe_finding *f;
	char raw[PROBE_FINDING_BYTES];
	va_list ap;

	v->state = output_worse(v->state, st);
	if (v->n_findings == PROBE_MAX_FINDINGS)
		return;
	f = &v->findings[v->n_findings++];
	f->state = st;
	va_start(ap, fmt);
	vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	util_sanitize(raw, strlen(raw), f->text, sizeof(f->text));
}

static void
short_hex(const uint8_t h[32], char out[17])
{
	util_hex_encode(h, 8, out);
}

static void
judge_expiry(const struct ct_cert *leaf, const struct probe_judge_opts *o,
    struct probe_verdict *v)
{
	char when[UTIL_RFC3339_LEN];
	double warn, crit;

	v->days_left = (double)(leaf->not_after - o->now) / DAY_S;
	v->lifetime_days = (double)(leaf->not_after - leaf->not_before) / DAY_S;
	util_time_rfc3339(leaf->not_after, when);
	if (o->now > leaf->not_after) {
		add(v, OUTPUT_CRITICAL,
		    "certificate expired %.1f days ago (%s)", -v->days_left,
		    when);
		return;
	}
	if (o->now < leaf->not_before) {
		util_time_rfc3339(leaf->not_before, when);
		add(v, OUTPUT_CRITICAL, "certificate not valid before %s",
		    when);
		return;
	}
	crit = probe_thresh_days(&o->crit, leaf->not_before, leaf->not_after);
	warn = probe_thresh_days(&o->warn, leaf->not_before, leaf->not_after);
	if (o->crit.set && v->days_left < crit)
		add(v, OUTPUT_CRITICAL,
		    "certificate expires in %.1f days (%s), under -c %g%s",
		    v->days_left, when, o->crit.value,
		    o->crit.percent ? "% of its lifetime" : " days");
	else if (o->warn.set && v->days_left < warn)
		add(v, OUTPUT_WARNING,
		    "certificate expires in %.1f days (%s), under -w %g%s",
		    v->days_left, when, o->warn.value,
		    o->warn.percent ? "% of its lifetime" : " days");
}

/* Whether the leaf covers name: a DNS SAN (or CN without SANs) that is
 * the name or a wildcard over it. Unparsable names cover nothing here. */
static int
name_covered(const struct ct_cert *leaf, const char *name)
{
	struct names_watch w;
	struct names_item sans[CERT_MAX_NAMES], cn;
	enum names_match m;
	size_t i;

	if (names_watch_parse(name, strlen(name), false, &w) != 0)
		return -1;
	for (i = 0; i < leaf->n_dns_names && i < CERT_MAX_NAMES; i++) {
		sans[i].name = leaf->dns_names[i].name;
		sans[i].len = leaf->dns_names[i].len;
	}
	cn.name = leaf->subject_cn;
	cn.len = leaf->subject_cn ? strlen(leaf->subject_cn) : 0;
	m = names_cert_matches(&w, sans, i, &cn, leaf->subject_cn ? 1 : 0,
	    NULL);
	return m == NAMES_EXACT || m == NAMES_WILDCARD;
}

static void
judge_name(const struct ct_cert *leaf, const struct probe_judge_opts *o,
    struct probe_verdict *v)
{
	char names[200];
	size_t i, off = 0;

	v->name_ok = -1;
	if (o->name == NULL || o->name[0] == '\0')
		return;
	v->name_ok = name_covered(leaf, o->name);
	if (v->name_ok != 0)
		return;
	names[0] = '\0';
	for (i = 0; i < leaf->n_dns_names && off + 4 < sizeof(names); i++) {
		char one[80];

		util_sanitize(leaf->dns_names[i].name, leaf->dns_names[i].len,
		    one, sizeof(one));
		off += (size_t)snprintf(names + off, sizeof(names) - off,
		    "%s%s", i ? " " : "", one);
	}
	if (leaf->n_dns_names == 0 && leaf->subject_cn != NULL)
		snprintf(names, sizeof(names), "CN %s", leaf->subject_cn);
	add(v, OUTPUT_CRITICAL,
	    "name mismatch: the certificate (%s) does not cover %s",
	    names[0] ? names : "no names", o->name);
}

static const struct ct_cert *
signer_in(struct ct_cert *const *cands, size_t n, const struct ct_cert *c)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (cands[i] != NULL && cands[i] != c &&
		    cert_verify_signed_by(c, cands[i]) == 0)
			return cands[i];
	return NULL;
}

static void
judge_issuer(const struct probe_result *r, const struct probe_judge_opts *o,
    struct probe_verdict *v)
{
	const struct ct_cert *leaf = r->chain[0];

	v->issuer_trusted = -1;
	if (o->n_trusted == 0)
		return;
	v->issuer_trusted = signer_in(o->trusted, o->n_trusted, leaf) != NULL;
	if (!v->issuer_trusted)
		add(v, OUTPUT_CRITICAL,
		    "issuer not trusted: \"%s\" is not among the trusted "
		    "issuers",
		    leaf->issuer);
}

/* The issuing CA for SCTs: from the presented chain, else trusted. */
static const struct ct_cert *
sct_issuer(const struct probe_result *r, const struct probe_judge_opts *o)
{
	const struct ct_cert *leaf = r->chain[0], *is;
	size_t i;

	if (r->n_chain > 1 &&
	    (is = signer_in(r->chain + 1, r->n_chain - 1, leaf)) != NULL)
		return is;
	if ((is = signer_in(o->trusted, o->n_trusted, leaf)) != NULL)
		return is;
	/* A broken leaf signature: the CA its issuer name points to. */
	for (i = 1; i < r->n_chain; i++)
		if (r->chain[i] != NULL &&
		    r->chain[i]->subject_dn_len == leaf->issuer_dn_len &&
		    memcmp(r->chain[i]->subject_dn, leaf->issuer_dn,
		        leaf->issuer_dn_len) == 0)
			return r->chain[i];
	return NULL;
}

static void
sct_check(struct probe_sct_fact *f, const struct ct_cert *leaf,
    const struct ct_cert *issuer, const struct probe_judge_opts *o)
{
	const struct loglist_log *log;
	int rc;

	f->status = PROBE_SCT_UNCHECKED;
	if (o->ll == NULL)
		return;
	if ((log = loglist_find(o->ll, f->sct.log_id)) == NULL) {
		f->status = PROBE_SCT_UNKNOWN_LOG;
		return;
	}
	f->log = log->description;
	if (issuer == NULL)
		return;
	rc = ct_sct_verify_embedded(&f->sct, leaf, issuer, log->key,
	    log->key_len);
	if (rc == CT_ERR_SIGNATURE)
		f->status = PROBE_SCT_INVALID;
	else if (rc != 0)
		f->status = PROBE_SCT_UNCHECKED;
	else if (f->sct.timestamp >
	    (uint64_t)o->now * 1000 + PROBE_SCT_CLOCK_SKEW_MS)
		f->status = PROBE_SCT_FUTURE;
	else
		f->status = PROBE_SCT_VALID;
}

/* Names the SCTs of one status: "CT Test Log 1, log 3q2+7w==". */
static void
sct_names(const struct probe_verdict *v, enum probe_sct_status st, char *out,
    size_t outsz)
{
	size_t i, off = 0;
	char b64[45];

	out[0] = '\0';
	for (i = 0; i < v->n_scts && off + 4 < outsz; i++) {
		if (v->scts[i].status != st)
			continue;
		if (v->scts[i].log != NULL) {
			off += (size_t)snprintf(out + off, outsz - off,
			    "%s%.60s", off ? ", " : "", v->scts[i].log);
		} else {
			util_b64_encode(v->scts[i].sct.log_id, 32, b64);
			off += (size_t)snprintf(out + off, outsz - off,
			    "%slog ID %s", off ? ", " : "", b64);
		}
	}
}

static void
judge_scts(const struct probe_result *r, const struct probe_judge_opts *o,
    struct probe_verdict *v)
{
	const struct ct_cert *leaf = r->chain[0], *issuer;
	struct ct_sct scts[CT_MAX_SCTS];
	char names[240], unk[240];
	size_t n = 0, i, unchecked = 0;

	if (leaf->sct_list != NULL &&
	    ct_sct_list_parse(leaf->sct_list, leaf->sct_list_len, scts,
	        CT_MAX_SCTS, &n) != 0) {
		v->scts_malformed = true;
		add(v, OUTPUT_CRITICAL, "the embedded SCT list is malformed");
		return;
	}
	issuer = sct_issuer(r, o);
	for (i = 0; i < n; i++) {
		v->scts[i].sct = scts[i];
		v->scts[i].log = NULL;
		sct_check(&v->scts[i], leaf, issuer, o);
		switch (v->scts[i].status) {
		case PROBE_SCT_VALID:
			v->scts_valid++;
			break;
		case PROBE_SCT_INVALID:
		case PROBE_SCT_FUTURE:
			v->scts_invalid++;
			break;
		case PROBE_SCT_UNKNOWN_LOG:
			v->scts_unknown_log++;
			break;
		default:
			unchecked++;
		}
	}
	v->n_scts = n;
	if (v->scts_invalid > 0) {
		sct_names(v, PROBE_SCT_INVALID, names, sizeof(names));
		if (names[0] == '\0')
			sct_names(v, PROBE_SCT_FUTURE, names, sizeof(names));
		add(v, OUTPUT_CRITICAL,
		    "%zu forged SCT%s (signature invalid for %s)",
		    v->scts_invalid, v->scts_invalid == 1 ? "" : "s", names);
	}
	if (n > 0 && o->ll == NULL) {
		add(v, OUTPUT_UNKNOWN, "%zu SCTs not checked: %s", n,
		    o->ll_problem ? o->ll_problem : "no log list");
		return;
	}
	if (unchecked > 0 && issuer == NULL)
		add(v, OUTPUT_UNKNOWN,
		    "%zu SCT%s not checked: the issuer of the certificate is "
		    "neither presented nor trusted",
		    unchecked, unchecked == 1 ? "" : "s");
	if (v->scts_valid < o->min_scts) {
		sct_names(v, PROBE_SCT_UNKNOWN_LOG, unk, sizeof(unk));
		add(v, OUTPUT_WARNING, "%zu valid SCT%s, want %u%s%s%s",
		    v->scts_valid, v->scts_valid == 1 ? "" : "s", o->min_scts,
		    n == 0 ? " (the certificate has no embedded SCTs)" : "",
		    unk[0] ? "; not in the log list: " : "", unk);
	}
}

static void
judge_agents(const struct ct_cert *leaf, const struct probe_judge_opts *o,
    struct probe_verdict *v)
{
	const struct probe_deployed *newer = NULL, *d;
	char hex[17], when[UTIL_RFC3339_LEN];
	size_t i;

	v->known = -1;
	if (!o->agents_asked)
		return;
	v->known = 0;
	for (i = 0; i < o->n_deployed; i++) {
		d = &o->deployed[i];
		if (memcmp(d->tbs, leaf->tbs_sha256, 32) == 0)
			v->known = 1;
		else if (d->not_before > leaf->not_before &&
		    (newer == NULL || d->not_before > newer->not_before) &&
		    (d->cert == NULL || o->name == NULL || o->name[0] == '\0' ||
		        name_covered(d->cert, o->name) != 0))
			newer = d;
	}
	short_hex(leaf->tbs_sha256, hex);
	if (newer != NULL) {
		v->newer_deployed = true;
		util_time_rfc3339(newer->not_before, when);
		add(v, OUTPUT_WARNING,
		    "server not reloaded after renewal: %s has a newer "
		    "certificate (notBefore %s) than the one served (tbs "
		    "%s...)",
		    newer->origin ? newer->origin : "an agent", when, hex);
	} else if (!v->known) {
		add(v, OUTPUT_WARNING,
		    "served certificate not deployed by any agent (tbs "
		    "%s...): a stale server or an interception",
		    hex);
	}
}

static void
judge_sources(const struct probe_judge_opts *o, struct probe_verdict *v)
{
	static const char *const names[] = {"crt.sh", "Cert Spotter"};
	unsigned bits[] = {PROBE_SRC_CRTSH, PROBE_SRC_CERTSPOTTER};
	char want[64] = "", failed[64] = "";
	size_t i;

	if (o->expect == 0)
		return;
	/* As the older tool: the expected sources are ORed. */
	if ((o->expect & o->found) != 0)
		return;
	for (i = 0; i < 2; i++) {
		if (!(o->expect & bits[i]))
			continue;
		snprintf(want + strlen(want), sizeof(want) - strlen(want),
		    "%s%s", want[0] ? " or " : "", names[i]);
		if (o->lookup_failed & bits[i])
			snprintf(failed + strlen(failed),
			    sizeof(failed) - strlen(failed), "%s%s",
			    failed[0] ? " and " : "", names[i]);
	}
	if ((o->expect & ~o->lookup_failed) == 0)
		add(v, OUTPUT_UNKNOWN,
		    "served certificate could not be looked up: %s not "
		    "consulted",
		    failed);
	else
		add(v, OUTPUT_CRITICAL, "served certificate not found in %s",
		    want);
}

void
probe_judge(const struct probe_result *r, const struct probe_judge_opts *o,
    struct probe_verdict *v)
{
	const struct ct_cert *leaf;

	memset(v, 0, sizeof(*v));
	v->state = OUTPUT_OK;
	v->name_ok = v->issuer_trusted = v->known = -1;
	if (r->fail != PROBE_OK || r->n_chain == 0 || r->chain[0] == NULL) {
		add(v,
		    r->fail != PROBE_OK ? o->error_state[r->fail]
		                        : OUTPUT_CRITICAL,
		    "%s", r->error[0] ? r->error : "no certificate");
		return;
	}
	leaf = r->chain[0];
	v->have_leaf = true;
	judge_name(leaf, o, v);
	judge_issuer(r, o, v);
	judge_scts(r, o, v);
	judge_expiry(leaf, o, v);
	judge_agents(leaf, o, v);
	judge_sources(o, v);
}

/* ------------------------------------------------------------ memo */

static bool
same_chain(const struct probe_result *a, const struct probe_result *b)
{
	size_t i;

	if (a->fail != PROBE_OK || b->fail != PROBE_OK ||
	    a->n_chain != b->n_chain || a->n_chain == 0)
		return false;
	for (i = 0; i < a->n_chain; i++) {
		if (a->chain[i] == NULL || b->chain[i] == NULL)
			return false;
		if (memcmp(a->chain[i]->sha256, b->chain[i]->sha256, 32) != 0)
			return false;
	}
	return true;
}

void
probe_judge_memo(struct probe_judge_memo *m, const struct probe_result *r,
    const struct probe_judge_opts *o, struct probe_verdict *v)
{
	const char *name = o->name != NULL ? o->name : "";
	size_t i;

	for (i = 0; i < m->n; i++)
		if (strcmp(m->name[i], name) == 0 && same_chain(m->r[i], r)) {
			memcpy(v, m->v[i], sizeof(*v));
			return;
		}
	probe_judge(r, o, v);
	if (m->n == PROBE_MEMO_MAX || r->fail != PROBE_OK ||
	    strlen(name) >= sizeof(m->name[0]) ||
	    (m->v[m->n] = malloc(sizeof(*v))) == NULL)
		return;
	memcpy(m->v[m->n], v, sizeof(*v));
	memcpy(m->name[m->n], name, strlen(name) + 1);
	m->r[m->n++] = r;
}

void
probe_judge_memo_clear(struct probe_judge_memo *m)
{
	size_t i;

	for (i = 0; i < m->n; i++)
		free(m->v[i]);
	m->n = 0;
}

/* ------------------------------------------------------------ sources */

bool
probe_found_in_crtsh(const struct crtsh_result *res, const uint8_t tbs[32])
{
	size_t i;

	if (res == NULL)
		return false;
	for (i = 0; i < res->n; i++)
		if (res->entries[i].status == CRTSH_ENTRY_OK &&
		    memcmp(res->entries[i].tbs_sha256, tbs, 32) == 0)
			return true;
	return false;
}

bool
probe_found_in_certspotter(const struct certspotter_result *res,
    const uint8_t tbs[32])
{
	size_t i;

	if (res == NULL)
		return false;
	for (i = 0; i < res->n; i++)
		if (memcmp(res->items[i].tbs_sha256, tbs, 32) == 0)
			return true;
	return false;
}
