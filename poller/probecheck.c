/*
 * probecheck: the probe inside a check_ct run (options, start, report)
 * and the log list it judges SCTs with (--log-list, or the cache).
 */
#include <wolfssl/options.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loglist.h"
#include "loglistcache.h"
#include "probe.h"
#include "tls.h"

#define PROBE_MAX_TIMEOUT_S 300
#define PROBE_MAX_MIN_SCTS 64
#define PROBE_LABEL_BYTES 64

const char probe_help_text[] =
    "Remote TLS probe (the certificate a server presents)\n"
    " --probe [HOST:]PORT        probe every address of HOST (default the\n"
    "                            first -H) on PORT; repeatable\n"
    " --port PORT                the older tool's form of --probe PORT\n"
    " --starttls PROTO           smtp, submission, imap, pop3 or none\n"
    "                            (default: from the port: 25 587 143 110)\n"
    " --probe-one                only the first address of each name\n"
    " -w, --warning DAYS|PCT%    WARNING when the served certificate has\n"
    "                            less left (default 20 days)\n"
    " -c, --critical DAYS|PCT%   CRITICAL likewise (default 7 days); PCT%\n"
    "                            is a share of the certificate's lifetime\n"
    " --min-scts N               WARNING under N valid SCTs (default 2)\n"
    " --log-list FILE            log list for SCTs (default: Google's,\n"
    "                            fetched daily into the state dir and\n"
    "                            checked against the shipped key)\n"
    " --log-list-url URL         where log_list.json and .sig are fetched\n"
    " --expect-crtsh, --expect-certspotter\n"
    "                            the served certificate must be in that\n"
    "                            source (either one, when both are given;\n"
    "                            --expect-sslmate: the older tool's name)\n"
    " --probe-error-state [KIND=]STATE   state of a failed probe (default\n"
    "                            CRITICAL; UNKNOWN for our own deadline and\n"
    "                            DNS); KIND: refused, timeout, tls_alert...\n"
    " --probe-timeout SECONDS    per address (default 10)\n";

void
probe_opts_init(struct probe_opts *po)
{
	struct probe_judge_opts d;

	memset(po, 0, sizeof(*po));
	probe_judge_defaults(&d);
	po->min_scts = d.min_scts;
	po->warn = d.warn;
	po->crit = d.crit;
	memcpy(po->error_state, d.error_state, sizeof(po->error_state));
	po->timeout_ms = PROBE_DEFAULT_TIMEOUT_MS;
}

/* "[KIND=]STATE": no KIND sets every failure but our own. */
static int
error_state_opt(struct probe_opts *po, const char *arg)
{
	const char *eq = strchr(arg, '=');
	enum output_state st;
	size_t i;

	if (opts_parse_state(eq ? eq + 1 : arg, &st) != 0)
		return CT_ERR_FORMAT;
	if (eq == NULL) {
		for (i = PROBE_OK + 1; i < PROBE_FAIL__MAX; i++)
			if (i != PROBE_DEADLINE && i != PROBE_INTERNAL)
				po->error_state[i] = st;
		return 0;
	}
	for (i = PROBE_OK + 1; i < PROBE_FAIL__MAX; i++)
		if (strlen(probe_fail_names[i]) == (size_t)(eq - arg) &&
		    strncmp(probe_fail_names[i], arg, (size_t)(eq - arg)) ==
		        0) {
			po->error_state[i] = st;
			return 0;
		}
	return CT_ERR_FORMAT;
}

static int
add_spec(struct probe_opts *po, const char *spec)
{
	if (po->n_specs == PROBE_MAX_TARGETS)
		return CT_ERR_TOO_BIG;
	po->specs[po->n_specs++] = spec;
	return 0;
}

int
probe_opt(struct probe_opts *po, int opt, const char *arg, char *why,
    size_t whysz)
{
	uint64_t v;
	int rc = 0;

	switch (opt) {
	case PROBE_OPT_PROBE:
	case PROBE_OPT_PORT:
		if ((rc = add_spec(po, arg)) != 0)
			snprintf(why, whysz, "more than %d --probe",
			    PROBE_MAX_TARGETS);
		return rc;
	case PROBE_OPT_STARTTLS:
		if (probe_starttls_parse(arg, &po->starttls) != 0)
			goto bad;
		po->starttls_given = true;
		return 0;
	case PROBE_OPT_ONE:
		po->one = true;
		return 0;
	case PROBE_OPT_MIN_SCTS:
		if (util_parse_u64(arg, strlen(arg), PROBE_MAX_MIN_SCTS, &v) !=
		    0)
			goto bad;
		po->min_scts = (unsigned)v;
		return 0;
	case PROBE_OPT_LOG_LIST:
		po->log_list = arg;
		return 0;
	case PROBE_OPT_LOG_LIST_URL:
		po->log_list_url = arg;
		return 0;
	case PROBE_OPT_LOG_LIST_KEY:
		po->log_list_key = arg;
		return 0;
	case PROBE_OPT_EXPECT_CRTSH:
		po->expect |= PROBE_SRC_CRTSH;
		return 0;
	case PROBE_OPT_EXPECT_CERTSPOTTER:
		po->expect |= PROBE_SRC_CERTSPOTTER;
		return 0;
	case PROBE_OPT_ERROR_STATE:
		if (error_state_opt(po, arg) != 0)
			goto bad;
		return 0;
	case PROBE_OPT_TIMEOUT:
		if (util_parse_u64(arg, strlen(arg), PROBE_MAX_TIMEOUT_S, &v) !=
		        0 ||
		    v == 0)
			goto bad;
		po->timeout_ms = (uint32_t)v * 1000;
		return 0;
	case 'w':
		if (probe_thresh_parse(arg, &po->warn) != 0)
			goto bad;
		return 0;
	case 'c':
		if (probe_thresh_parse(arg, &po->crit) != 0)
			goto bad;
		return 0;
	default:
		snprintf(why, whysz, "not a probe option");
		return CT_ERR_INVALID;
	}
bad:
	snprintf(why, whysz, "bad value '%.80s'", arg);
	return CT_ERR_FORMAT;
}

int
probe_opts_finish(struct probe_opts *po, const char *default_host, char *why,
    size_t whysz)
{
	char w[128];
	size_t i;

	for (i = 0; i < po->n_specs; i++) {
		w[0] = '\0';
		if (probe_target_parse(po->specs[i], default_host,
		        PROBE_DEFAULT_PORT, &po->targets[i], w,
		        sizeof(w)) != 0) {
			snprintf(why, whysz, "--probe %.80s: %s", po->specs[i],
			    w);
			return CT_ERR_FORMAT;
		}
		if (po->starttls_given)
			po->targets[i].starttls = po->starttls;
	}
	po->n_targets = po->n_specs;
	if (po->n_targets == 0 &&
	    (po->expect != 0 || po->log_list != NULL || po->one)) {
		snprintf(why, whysz,
		    "--expect-*, --log-list and --probe-one need --probe");
		return CT_ERR_FORMAT;
	}
	return 0;
}

bool
probe_opts_active(const struct probe_opts *po)
{
	return po->n_targets > 0;
}

/* ------------------------------------------------------------ run */

struct probe_check {
	const struct probe_opts *po;
	struct probe_check_env env;
	struct tls_ctx *ctx;
	bool tls_init;
	struct probe *probes[PROBE_MAX_TARGETS];
	size_t n_probes, n_done;
	struct loglistcache_query llq;
	bool llq_started, llq_pending;
	struct loglist *ll;
	char ll_problem[LOGLISTCACHE_NOTE_BYTES + 64];
	bool ll_from_cache, ll_stale;
	int64_t ll_age_s;
	char ll_note[LOGLISTCACHE_NOTE_BYTES];
	probe_check_done_cb done;
	void *arg;
	bool done_called;
	bool cancelled;
};

static void
maybe_done(struct probe_check *pc)
{
	if (pc->done_called || pc->n_done < pc->n_probes || pc->llq_pending)
		return;
	pc->done_called = true;
	if (pc->done != NULL)
		pc->done(pc, pc->arg);
}

static void
on_probe_done(struct probe *p, void *arg)
{
	struct probe_check *pc = arg;

	(void)p;
	pc->n_done++;
	maybe_done(pc);
}

/* Takes the cache's answer. */
static void
ll_collect(struct probe_check *pc)
{
	struct loglistcache_result *res = &pc->llq.result;

	if (res->status == 0) {
		pc->ll = loglistcache_take(&pc->llq);
		pc->ll_from_cache = res->from_cache;
		pc->ll_stale = res->stale;
		pc->ll_age_s = res->age_s;
		snprintf(pc->ll_note, sizeof(pc->ll_note), "%s", res->note);
	} else {
		snprintf(pc->ll_problem, sizeof(pc->ll_problem), "%s",
		    res->note[0] ? res->note : "no log list");
	}
}

static void
on_loglist(struct loglistcache_query *q, void *arg)
{
	struct probe_check *pc = arg;

	(void)q;
	ll_collect(pc);
	pc->llq_pending = false;
	maybe_done(pc);
}

/* --log-list FILE, or the state dir's cache (maybe fetching). */
static void
loglist_start(struct probe_check *pc)
{
	const struct probe_opts *po = pc->po;
	uint8_t *key = NULL;
	size_t key_len = 0;
	char why[200];
	int rc;

	why[0] = '\0';
	if (po->log_list != NULL) {
		rc = loglist_load(po->log_list, NULL, NULL,
		    LOGLIST_F_STATE_HISTORY, &pc->ll, why, sizeof(why));
		if (rc != 0)
			snprintf(pc->ll_problem, sizeof(pc->ll_problem),
			    "--log-list %.100s: %s%s%s", po->log_list,
			    ct_strerror(rc), why[0] ? ": " : "", why);
		return;
	}
	if (pc->env.state == NULL) {
		snprintf(pc->ll_problem, sizeof(pc->ll_problem),
		    "no state directory for the log list cache");
		return;
	}
	if (po->log_list_key != NULL &&
	    (rc = util_read_file(po->log_list_key, LOGLIST_MAX_PEM_BYTES, &key,
	         &key_len)) != 0) {
		snprintf(pc->ll_problem, sizeof(pc->ll_problem),
		    "--log-list-key: %s", ct_strerror(rc));
		return;
	}
	loglistcache_query_init(&pc->llq);
	pc->llq.http = pc->env.http;
	pc->llq.state = pc->env.state;
	pc->llq.base_url = po->log_list_url;
	pc->llq.key_pem = (const char *)key;
	pc->llq.key_pem_len = key_len;
	pc->llq.allow_http = pc->env.allow_http;
	pc->llq.now = pc->env.now;
	if (pc->env.budget_ms > 0 && pc->env.budget_ms < pc->llq.timeout_ms)
		pc->llq.timeout_ms = pc->env.budget_ms;
	pc->llq_started = true;
	rc = loglistcache_run(&pc->llq, on_loglist, pc);
	if (rc == 1) {
		ll_collect(pc);
	} else if (rc == 0) {
		pc->llq_pending = true;
	} else {
		snprintf(pc->ll_problem, sizeof(pc->ll_problem),
		    "log list cache: %s", ct_strerror(rc));
	}
	/* The key is needed only while checking signatures, which happens
	 * in loglistcache_run and the fetch callback. */
	if (!pc->llq_pending) {
		free(key);
		pc->llq.key_pem = NULL;
	}
}

int
probe_check_start(const struct probe_opts *po,
    const struct probe_check_env *env, probe_check_done_cb done, void *arg,
    struct probe_check **out)
{
	struct probe_check *pc;
	struct probe_params pp;
	size_t i;
	int rc;

	*out = NULL;
	if (po == NULL || env == NULL || env->loop == NULL)
		return CT_ERR_INVALID;
	if ((pc = calloc(1, sizeof(*pc))) == NULL)
		return CT_ERR_NOMEM;
	pc->po = po;
	pc->env = *env;
	if (pc->env.now == 0)
		pc->env.now = util_now();
	pc->done = done;
	pc->arg = arg;
	if ((rc = tls_global_init()) != 0)
		goto fail;
	pc->tls_init = true;
	if ((rc = tls_ctx_new_probe(&pc->ctx)) != 0)
		goto fail;
	memset(&pp, 0, sizeof(pp));
	pp.timeout_ms = po->timeout_ms;
	pp.deadline_ms = env->budget_ms;
	pp.one = po->one;
	pp.on_done = on_probe_done;
	pp.arg = pc;
	for (i = 0; i < po->n_targets; i++) {
		rc = probe_start(env->loop, pc->ctx, &po->targets[i], &pp,
		    &pc->probes[i]);
		if (rc != 0)
			goto fail;
		pc->n_probes++;
	}
	loglist_start(pc);
	*out = pc;
	return 0;
fail:
	pc->done = NULL;
	probe_check_free(pc);
	return rc;
}

void
probe_check_cancel(struct probe_check *pc)
{
	size_t i;

	if (pc == NULL)
		return;
	pc->cancelled = true;
	for (i = 0; i < pc->n_probes; i++)
		probe_cancel(pc->probes[i]);
}

size_t
probe_check_leaves(const struct probe_check *pc, uint8_t (*tbs)[32], size_t max)
{
	const struct probe_result *r;
	size_t i, j, n = 0;

	for (i = 0; i < pc->n_probes; i++)
		for (j = 0; j < probe_count(pc->probes[i]); j++) {
			r = probe_get(pc->probes[i], j);
			if (r->n_chain == 0 || r->chain[0] == NULL || n == max)
				continue;
			memcpy(tbs[n++], r->chain[0]->tbs_sha256, 32);
		}
	return n;
}

void
probe_check_free(struct probe_check *pc)
{
	size_t i;

	if (pc == NULL)
		return;
	for (i = 0; i < pc->n_probes; i++)
		probe_free(pc->probes[i]);
	if (pc->llq_started) {
		free((void *)(uintptr_t)pc->llq.key_pem);
		loglistcache_query_clear(&pc->llq);
	}
	loglist_free(pc->ll);
	tls_ctx_free(pc->ctx);
	if (pc->tls_init)
		tls_global_cleanup();
	free(pc);
}

/* ------------------------------------------------------------ report */

/* Whether another result of the run has the same address text. */
static bool
addr_shared(const struct probe_check *pc, const struct probe_result *r)
{
	const struct probe_result *o;
	size_t i, j;

	for (i = 0; i < pc->n_probes; i++)
		for (j = 0; j < probe_count(pc->probes[i]); j++) {
			o = probe_get(pc->probes[i], j);
			if (o != r && strcmp(o->addr, r->addr) == 0)
				return true;
		}
	return false;
}

static void
perf(struct output *out, const char *prefix, const char *metric,
    const char *value, const char *uom, const char *warn, const char *crit)
{
	char label[2 * PROBE_LABEL_BYTES];

	/* output_perf keeps the first 63 bytes of a label */
	snprintf(label, sizeof(label), "%s %s", prefix, metric);
	output_perf(out, label, value, uom, warn, crit, "0", NULL);
}

static void
report_perf(const struct probe_check *pc, const struct probe_result *r,
    const struct probe_verdict *v, struct output *out)
{
	const struct ct_cert *leaf = v->have_leaf ? r->chain[0] : NULL;
	char prefix[PROBE_LABEL_BYTES], val[32], w[32], c[32];

	/* the SNI only when two targets share an address */

	if (addr_shared(pc, r) && r->target->sni[0] != '\0')
		snprintf(prefix, sizeof(prefix), "%.20s %.40s", r->target->sni,
		    r->addr);
	else
		snprintf(prefix, sizeof(prefix), "%s", r->addr);
	w[0] = c[0] = '\0';
	if (leaf != NULL) {
		snprintf(val, sizeof(val), "%.2f", v->days_left);
		if (pc->po->warn.set)
			snprintf(w, sizeof(w), "%.1f:",
			    probe_thresh_days(&pc->po->warn, leaf->not_before,
			        leaf->not_after));
		if (pc->po->crit.set)
			snprintf(c, sizeof(c), "%.1f:",
			    probe_thresh_days(&pc->po->crit, leaf->not_before,
			        leaf->not_after));
	} else {
		snprintf(val, sizeof(val), "U");
	}
	perf(out, prefix, "days_left", val, NULL, w, c);
	if (leaf != NULL)
		snprintf(val, sizeof(val), "%zu", v->scts_valid);
	snprintf(w, sizeof(w), "%u:", pc->po->min_scts);
	perf(out, prefix, "scts_valid", val, NULL, w, NULL);
	if (r->handshake_ms > 0)
		snprintf(val, sizeof(val), "%.4f", r->handshake_ms / 1000.0);
	else
		snprintf(val, sizeof(val), "U");
	perf(out, prefix, "handshake_time", val, "s", NULL, NULL);
}

static void
report_one(struct probe_check *pc, const struct probe_result *r,
    struct probe_judge_opts *jo, const struct probe_check_facts *f,
    struct probe_judge_memo *memo, struct output *out)
{
	struct probe_verdict v;
	char prefix[PROBE_HOST_BYTES + PROBE_ADDR_TEXT_BYTES + 40], tbs[17];
	const struct probe_target *t = r->target;
	size_t i;

	jo->name = t->sni;
	jo->found = f->found;
	if (f->found_cb != NULL && r->n_chain > 0 && r->chain[0] != NULL)
		jo->found = f->found_cb(f->found_arg, r->chain[0]->tbs_sha256);
	if (memo != NULL)
		probe_judge_memo(memo, r, jo, &v);
	else
		probe_judge(r, jo, &v);
	snprintf(prefix, sizeof(prefix), "probe %s%s%s%s%s", r->addr,
	    t->sni[0] ? " SNI " : "", t->sni,
	    t->starttls != PROBE_STARTTLS_NONE ? " STARTTLS " : "",
	    t->starttls != PROBE_STARTTLS_NONE
	        ? probe_starttls_names[t->starttls]
	        : "");
	if (v.n_findings == 0) {
		util_hex_encode(r->chain[0]->tbs_sha256, 8, tbs);
		output_add(out, OUTPUT_OK,
		    "%s serves %s%s certificate (tbs %s...), %zu valid SCT%s, "
		    "expires in %.0f days, %s",
		    prefix, v.known == 1 ? "a known" : "a",
		    v.issuer_trusted == 1 ? " trusted" : "", tbs, v.scts_valid,
		    v.scts_valid == 1 ? "" : "s", v.days_left, r->version);
	}
	for (i = 0; i < v.n_findings; i++)
		output_add(out, v.findings[i].state, "%s: %s", prefix,
		    v.findings[i].text);
	report_perf(pc, r, &v, out);
}

void
probe_check_report(struct probe_check *pc, const struct probe_check_facts *f,
    struct output *out)
{
	struct probe_check_facts none;
	struct probe_judge_opts jo;
	struct probe_judge_memo *memo;
	const struct probe_opts *po = pc->po;
	size_t i, j;

	if (f == NULL) {
		memset(&none, 0, sizeof(none));
		f = &none;
	}
	probe_judge_defaults(&jo);
	jo.trusted = f->trusted;
	jo.n_trusted = f->n_trusted;
	jo.ll = pc->ll;
	jo.ll_problem = pc->ll_problem;
	jo.min_scts = po->min_scts;
	jo.warn = po->warn;
	jo.crit = po->crit;
	jo.now = pc->env.now;
	jo.agents_asked = f->agents_asked;
	jo.deployed = f->deployed;
	jo.n_deployed = f->n_deployed;
	jo.expect = po->expect;
	jo.lookup_failed = f->lookup_failed;
	memcpy(jo.error_state, po->error_state, sizeof(jo.error_state));
	memo = calloc(1, sizeof(*memo)); /* NULL: judge each one */
	if (pc->ll != NULL && pc->ll_stale)
		output_add(out, OUTPUT_WARNING, "log list is %lld days old%s%s",
		    (long long)(pc->ll_age_s / 86400),
		    pc->ll_note[0] ? ": " : "", pc->ll_note);
	else if (pc->ll != NULL && pc->ll_note[0] != '\0')
		output_add(out, OUTPUT_OK, "log list: cached copy used (%s)",
		    pc->ll_note);
	for (i = 0; i < pc->n_probes; i++) {
		if (!probe_done(pc->probes[i]))
			probe_cancel(pc->probes[i]);
		for (j = 0; j < probe_count(pc->probes[i]); j++)
			report_one(pc, probe_get(pc->probes[i], j), &jo, f,
			    memo, out);
	}
	if (memo != NULL)
		probe_judge_memo_clear(memo);
	free(memo);
}
