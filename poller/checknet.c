/*
 * checknet: the part of a check_ct run that goes over the network. Every
 * agent and every CT source is asked at once on one libuv loop (curl multi
 * for HTTP, the tls module for agents), under one deadline: the run takes
 * as long as its slowest answer, and never longer than -t allows.
 */
#include <wolfssl/options.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "agentc.h"
#include "certspotter.h"
#include "checkrun.h"
#include "conf.h"
#include "crtsh.h"
#include "http.h"
#include "probe.h"
#include "state.h"
#include "store.h"

/* Time kept back from -t for judging and printing after the network. */
#define NET_RESERVE_MS 300
#define NET_MIN_BUDGET_MS 200
#define NET_TOKEN_BYTES 512
/* Requests may run this much past the deadline, which cancels them. */
#define NET_GRACE_MS 1000

struct net;

struct net_agent {
	struct net *n;
	const struct conf_agent *ca;
	char name[CONF_NAME_MAX_BYTES + 1];
	struct agentc_req *req;
	bool done;
	int status;
	char error[AGENTC_ERROR_BYTES];
	struct agentc_certs certs;
	bool have_certs;
	char origin[CONF_NAME_MAX_BYTES + 8];
};

struct net {
	struct run *r;
	uv_loop_t loop;
	uv_timer_t deadline;
	struct http_client *http;
	struct state *st;
	struct crtsh_query crtsh[CHECK_MAX_WATCHES];
	bool crtsh_started[CHECK_MAX_WATCHES];
	bool crtsh_done[CHECK_MAX_WATCHES];
	struct certspotter_query cs[CHECK_MAX_WATCHES];
	bool cs_started[CHECK_MAX_WATCHES];
	bool cs_done[CHECK_MAX_WATCHES];
	char token[NET_TOKEN_BYTES];
	/* Agents: the config, our client, one request each. */
	struct conf conf;
	bool conf_loaded;
	struct agentc *ac;
	struct net_agent *agents;
	size_t n_agents;
	struct probe_check *probe;
	bool probe_done;
	unsigned pending;
	bool timed_out;
	uint32_t budget_ms;
};

/* snprintf that cuts long texts (paths) without a fuss. */
static void say(char *dst, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
say(char *dst, size_t n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(dst, n, fmt, ap);
	va_end(ap);
}

static void
one_done(struct net *n)
{
	if (n->pending > 0 && --n->pending == 0)
		uv_timer_stop(&n->deadline);
}

static void
crtsh_cb(struct crtsh_query *q, void *arg)
{
	struct net *n = arg;

	n->crtsh_done[q - n->crtsh] = true;
	one_done(n);
}

static void
cs_cb(struct certspotter_query *q, void *arg)
{
	struct net *n = arg;

	n->cs_done[q - n->cs] = true;
	one_done(n);
}

/* The run's deadline: stop starting, cancel what is in flight. */
static void
on_deadline(uv_timer_t *t)
{
	struct net *n = t->data;
	size_t i;

	n->timed_out = true;
	for (i = 0; i < n->r->cfg->n_watches; i++)
		if (n->crtsh_started[i] && !n->crtsh_done[i])
			crtsh_cancel(&n->crtsh[i]);
	http_client_cancel_all(n->http);
	for (i = 0; i < n->n_agents; i++)
		if (n->agents[i].req != NULL && !n->agents[i].done)
			agentc_cancel(n->agents[i].req);
	if (n->probe != NULL && !n->probe_done)
		probe_check_cancel(n->probe);
}

static void
probe_cb(struct probe_check *pc, void *arg)
{
	struct net *n = arg;

	(void)pc;
	n->probe_done = true;
	one_done(n);
}

static void
probe_start_all(struct net *n)
{
	struct probe_check_env env;
	int rc;

	memset(&env, 0, sizeof(env));
	env.loop = &n->loop;
	env.http = n->http;
	env.state = n->st;
	env.allow_http = n->r->cfg->allow_http;
	env.budget_ms = n->budget_ms;
	env.now = n->r->now;
	rc = probe_check_start(n->r->cfg->probe, &env, probe_cb, n, &n->probe);
	if (rc != 0) {
		output_add(n->r->out, OUTPUT_UNKNOWN, "probe: cannot start: %s",
		    ct_strerror(rc));
		n->probe = NULL;
		return;
	}
	n->pending++;
}

/* In which sources a served leaf was found (--expect-*). */
static unsigned
probe_found(void *arg, const uint8_t tbs[32])
{
	struct net *n = arg;
	const struct store_rec *rec;
	unsigned found = 0;
	size_t i;

	for (i = 0; i < n->r->cfg->n_watches; i++) {
		if (n->crtsh_done[i] &&
		    probe_found_in_crtsh(&n->crtsh[i].result, tbs))
			found |= PROBE_SRC_CRTSH;
		if (n->cs_done[i] &&
		    probe_found_in_certspotter(&n->cs[i].result, tbs))
			found |= PROBE_SRC_CERTSPOTTER;
	}
	/* Seen in an earlier run (a cursor-based source moved past it). */
	if ((rec = store_find(n->r->seen, tbs)) != NULL) {
		if (strncmp(rec->source, "crt.sh", 6) == 0)
			found |= PROBE_SRC_CRTSH;
		if (strncmp(rec->source, "Cert Spotter", 12) == 0)
			found |= PROBE_SRC_CERTSPOTTER;
	}
	return found;
}

/* Whether an agent's certificate is for one of the watched names. */
static bool
agent_cert_watched(const struct check_cfg *cfg, const struct agentc_cert *c)
{
	enum names_match why;
	size_t i, j;

	for (i = 0; i < cfg->n_watches; i++)
		for (j = 0; j < c->n_dns_names; j++) {
			why = names_match(&cfg->watches[i], c->dns_names[j],
			    strlen(c->dns_names[j]));
			if (why != NAMES_NO_MATCH)
				return true;
		}
	return false;
}

static void
probe_report(struct net *n)
{
	const struct check_cfg *cfg = n->r->cfg;
	struct probe_check_facts f;
	struct probe_deployed *dep = NULL;
	size_t i, k, nd = 0, total = 0;

	for (i = 0; i < n->n_agents; i++)
		total += n->agents[i].have_certs ? n->agents[i].certs.n : 0;
	if (total > 0 && (dep = calloc(total, sizeof(*dep))) == NULL)
		total = 0;
	for (i = 0; i < n->n_agents && total > 0; i++) {
		struct net_agent *a = &n->agents[i];

		for (k = 0; a->have_certs && k < a->certs.n; k++) {
			const struct agentc_cert *c = &a->certs.certs[k];

			if (c->source != AGENTC_SOURCE_DEPLOYED ||
			    !agent_cert_watched(cfg, c))
				continue;
			memcpy(dep[nd].tbs, c->tbs_sha256, 32);
			dep[nd].not_before = c->not_before;
			dep[nd].origin = a->origin;
			nd++;
		}
	}
	memset(&f, 0, sizeof(f));
	f.trusted = n->r->trusted;
	f.n_trusted = n->r->n_trusted;
	f.agents_asked = n->n_agents > 0 && n->r->agents_ok > 0;
	f.deployed = dep;
	f.n_deployed = nd;
	for (i = 0; i < cfg->n_watches; i++) {
		if (n->crtsh_started[i] &&
		    (!n->crtsh_done[i] || n->crtsh[i].result.status != 0))
			f.lookup_failed |= PROBE_SRC_CRTSH;
		if (n->cs_started[i] &&
		    (!n->cs_done[i] || n->cs[i].result.status != 0))
			f.lookup_failed |= PROBE_SRC_CERTSPOTTER;
	}
	f.found_cb = probe_found;
	f.found_arg = n;
	probe_check_report(n->probe, &f, n->r->out);
	free(dep);
}

static void
agent_cb(struct agentc_req *req, struct agentc_result *res, void *arg)
{
	struct net_agent *a = arg;
	char err[AGENTC_PARSE_ERROR_BYTES];

	(void)req;
	a->done = true;
	a->req = NULL;
	a->status = res->status;
	if (res->status != 0) {
		if (a->n->timed_out)
			say(a->error, sizeof(a->error),
			    "timeout: -t ran out (%s)", res->error);
		else
			say(a->error, sizeof(a->error), "%s", res->error);
	} else if (agentc_parse_certs(res->body, res->body_len, &a->certs, err,
	               sizeof(err)) != 0) {
		a->status = CT_ERR_PROTO;
		say(a->error, sizeof(a->error), "bad answer: %s", err);
	} else {
		a->have_certs = true;
	}
	one_done(a->n);
}

/*
 * What to ask each agent: the one watched name, or "*" (every record)
 * for a subdomain watch or several names. Known-or-not is decided by
 * tbs_sha256 whatever the names, so asking for more never hides much.
 */
static const char *
agent_arg(const struct check_cfg *cfg)
{
	if (cfg->n_watches == 1 && !cfg->watches[0].subdomains)
		return cfg->watches[0].name;
	return "*";
}

static void
agents_start(struct net *n)
{
	const struct check_cfg *cfg = n->r->cfg;
	struct keys_ed25519 key;
	char path[CONF_PATH_MAX_BYTES], err[CONF_ERROR_BYTES];
	const char *reason = NULL, *home = getenv("HOME");
	size_t i;
	int rc;

	n->agents = calloc(cfg->n_agents, sizeof(*n->agents));
	if (n->agents == NULL)
		return;
	n->n_agents = cfg->n_agents;
	for (i = 0; i < n->n_agents; i++) {
		n->agents[i].n = n;
		say(n->agents[i].name, sizeof(n->agents[i].name), "%s",
		    cfg->agents[i]);
		n->agents[i].status = CT_ERR_INVALID;
	}
	err[0] = '\0';
	if ((rc = conf_locate(cfg->config, home, CONF_SYSTEM_PATH, path,
	         sizeof(path))) != 0) {
		say(err, sizeof(err),
		    "no poller config (--config, "
		    "~/%s or %s)",
		    CONF_USER_PATH, CONF_SYSTEM_PATH);
		goto fail;
	}
	if ((rc = conf_load(path, &n->conf, err, sizeof(err))) != 0)
		goto fail;
	n->conf_loaded = true;
	if (n->conf.key_path == NULL) {
		say(err, sizeof(err), "%s: no \"key =\" line", path);
		goto fail;
	}
	if ((rc = keys_load_private(n->conf.key_path, &key, &reason)) != 0) {
		say(err, sizeof(err), "poller key %s: %s", n->conf.key_path,
		    reason ? reason : ct_strerror(rc));
		goto fail;
	}
	rc = agentc_new(&key, NULL, NULL, &n->ac);
	keys_clear(&key);
	if (rc != 0) {
		say(err, sizeof(err), "agent client: %s", ct_strerror(rc));
		goto fail;
	}
	/* CA-file mode (tls_ca in the config). */
	if (n->conf.tls_ca != NULL &&
	    (rc = agentc_use_ca(n->ac, n->conf.tls_ca, n->conf.tls_cert,
	         n->conf.tls_key, err, sizeof(err))) != 0)
		goto fail;
	for (i = 0; i < n->n_agents; i++) {
		struct net_agent *a = &n->agents[i];
		struct agentc_target t;

		if ((a->ca = conf_find_agent(&n->conf, a->name)) == NULL) {
			say(a->error, sizeof(a->error),
			    "not in %s (add an \"agent %s = HOST:PORT "
			    "ct-ed25519 ...\" line)",
			    path, a->name);
			continue;
		}
		memset(&t, 0, sizeof(t));
		t.name = a->ca->name;
		t.host = a->ca->host;
		t.port = a->ca->port;
		memcpy(t.pub, a->ca->key.pub, sizeof(t.pub));
		rc = agentc_request(&n->loop, n->ac, &t, PROTO_OP_CERTS,
		    agent_arg(cfg), n->budget_ms + NET_GRACE_MS, agent_cb, a,
		    &a->req);
		if (rc != 0) {
			say(a->error, sizeof(a->error), "%s", ct_strerror(rc));
			continue;
		}
		n->pending++;
	}
	return;
fail:
	for (i = 0; i < n->n_agents; i++)
		say(n->agents[i].error, sizeof(n->agents[i].error), "%s",
		    err[0] ? err : ct_strerror(rc));
}

/* The agents' certificates become the known set; failures are named. */
static void
agents_collect(struct net *n)
{
	struct run *r = n->r;
	size_t i, k;

	for (i = 0; i < n->n_agents; i++) {
		struct net_agent *a = &n->agents[i];
		char name[CONF_NAME_MAX_BYTES + 1];

		util_sanitize(a->name, strlen(a->name), name, sizeof(name));
		if (!a->have_certs) {
			if (r->agents_failed++ == 0)
				say(r->failed_agent, sizeof(r->failed_agent),
				    "%s", name);
			output_add(r->out, r->cfg->agent_error_state,
			    "agent %s: %s", name,
			    a->error[0] ? a->error : "no answer");
			continue;
		}
		r->agents_ok++;
		say(a->origin, sizeof(a->origin), "agent %s", name);
		for (k = 0; k < a->certs.n; k++)
			known_add(&r->known, a->certs.certs[k].tbs_sha256,
			    a->origin);
		if (r->cfg->verbose > 0)
			output_add(r->out, OUTPUT_OK,
			    "agent %s: %zu certificates", name, a->certs.n);
	}
}

static void
crtsh_start(struct net *n, size_t i)
{
	const struct check_cfg *cfg = n->r->cfg;
	struct crtsh_query *q = &n->crtsh[i];
	int rc;

	crtsh_query_init(q);
	q->http = n->http;
	q->state = n->st;
	q->watch = &cfg->watches[i];
	q->base_url = cfg->crtsh_url;
	q->include_expired = cfg->include_expired;
	q->max_downloads = cfg->max_downloads;
	q->rate_per_minute = cfg->crtsh_rate >= 0
	    ? (unsigned)cfg->crtsh_rate
	    : crtsh_rate_default(cfg->crtsh_url);
	q->allow_http = cfg->allow_http;
	q->lazy = true; /* a row seen in an earlier run is not parsed again */
	/* The run's deadline comes first and names the stage. */
	q->search_timeout_ms = n->budget_ms + NET_GRACE_MS;
	q->download_timeout_ms = n->budget_ms + NET_GRACE_MS;
	if ((rc = crtsh_run(q, crtsh_cb, n)) != 0) {
		output_add(n->r->out, cfg->source_error_state,
		    "crt.sh: cannot start the lookup for %s: %s",
		    cfg->watches[i].name, ct_strerror(rc));
		return;
	}
	n->crtsh_started[i] = true;
	n->pending++;
}

static void
cs_start(struct net *n, size_t i)
{
	const struct check_cfg *cfg = n->r->cfg;
	struct certspotter_query *q = &n->cs[i];
	int rc;

	certspotter_query_init(q);
	q->http = n->http;
	q->state = n->st;
	q->watch = &cfg->watches[i];
	q->base_url = cfg->certspotter_url;
	q->token = n->token[0] ? n->token : NULL;
	q->include_expired = cfg->include_expired;
	q->defer_cursor = true; /* stored once the certificates are */
	q->allow_http = cfg->allow_http;
	q->timeout_ms = n->budget_ms + NET_GRACE_MS;
	if ((rc = certspotter_run(q, cs_cb, n)) != 0) {
		output_add(n->r->out, cfg->source_error_state,
		    "Cert Spotter: cannot start the lookup for %s: %s",
		    cfg->watches[i].name, ct_strerror(rc));
		return;
	}
	n->cs_started[i] = true;
	n->pending++;
}

static void
load_token(struct net *n)
{
	const struct check_cfg *cfg = n->r->cfg;
	bool loose = false;
	int rc;

	rc = certspotter_load_token(cfg->certspotter_token_file, n->token,
	    sizeof(n->token), &loose);
	if (rc == CT_ERR_NOT_FOUND && cfg->certspotter_token_file == NULL) {
		n->token[0] = '\0'; /* unauthenticated: rate-limited */
		return;
	}
	if (rc != 0) {
		n->token[0] = '\0';
		output_add(n->r->out, OUTPUT_UNKNOWN, "Cert Spotter token: %s",
		    ct_strerror(rc));
	} else if (loose) {
		output_add(n->r->out, OUTPUT_WARNING,
		    "Cert Spotter token file is readable by others");
	}
}

/* Records a source's verified certificates; reports what failed. */
static void
crtsh_collect(struct net *n, size_t i)
{
	struct crtsh_result *res = &n->crtsh[i].result;
	enum output_state es = n->r->cfg->source_error_state;
	const char *name = n->r->cfg->watches[i].name;
	char where[64];
	size_t k, pending = 0, failed = 0;
	int rc;

	if (!n->crtsh_done[i] ||
	    (n->timed_out && res->status == CT_ERR_TIMEOUT)) {
		output_add(n->r->out, OUTPUT_UNKNOWN,
		    "timeout in crt.sh lookup for %s: -t ran out after %u ms",
		    name, n->budget_ms);
		return;
	}
	if (res->status != 0) {
		output_add(n->r->out, es, "%s (for %s)", res->error, name);
		return;
	}
	if (res->incomplete)
		output_add(n->r->out, es,
		    "crt.sh: %s has %zu or more entries, crt.sh's cap: the "
		    "list is incomplete; narrow the watch",
		    name, (size_t)CRTSH_MAX_ROWS);
	for (k = 0; k < res->n; k++) {
		struct crtsh_entry *e = &res->entries[k];

		switch (e->status) {
		case CRTSH_ENTRY_OK:
			/* Recorded in an earlier run: nothing to add. */
			if (e->cert == NULL &&
			    store_find(n->r->seen, e->tbs_sha256) != NULL)
				break;
			if (e->cert == NULL &&
			    (rc = crtsh_entry_load(&n->crtsh[i], e, e->reason,
			         sizeof(e->reason))) != 0) {
				if (failed++ < 3)
					output_add(n->r->out, es,
					    "crt.sh id %llu could not be "
					    "checked: %s",
					    (unsigned long long)e->row.id,
					    e->reason);
				break;
			}
			snprintf(where, sizeof(where), "crt.sh id %llu",
			    (unsigned long long)e->row.id);
			rc = checkrun_seen(n->r, e->cert, where,
			    e->row.has_entry_timestamp ? e->row.entry_timestamp
			                               : n->r->now);
			if (rc != 0)
				output_add(n->r->out, OUTPUT_UNKNOWN,
				    "cannot record crt.sh id %llu: %s",
				    (unsigned long long)e->row.id,
				    ct_strerror(rc));
			break;
		case CRTSH_ENTRY_PENDING:
			pending++;
			break;
		case CRTSH_ENTRY_DOWNLOAD_FAILED:
			if (failed++ < 3)
				output_add(n->r->out, es,
				    "crt.sh id %llu could not be checked: %s",
				    (unsigned long long)e->row.id, e->reason);
			break;
		case CRTSH_ENTRY_MISMATCH:
			output_add(n->r->out, es,
			    "crt.sh id %llu: the download does not match its "
			    "row: %s",
			    (unsigned long long)e->row.id, e->reason);
			break;
		default:
			break;
		}
	}
	if (failed > 3)
		output_add(n->r->out, es,
		    "crt.sh: %zu more entries could not be checked",
		    failed - 3);
	if (pending > 0)
		output_add(n->r->out, es,
		    "crt.sh: %zu entries for %s not yet downloaded (at most "
		    "%u per run; the next runs go on)",
		    pending, name, n->r->cfg->max_downloads);
	if (n->r->cfg->verbose > 0)
		output_add(n->r->out, OUTPUT_OK,
		    "crt.sh: %zu entries for %s, %zu from the cache, %zu "
		    "downloads started",
		    res->n, name, res->n_cached, res->n_downloads);
}

static void
cs_collect(struct net *n, size_t i)
{
	struct certspotter_query *q = &n->cs[i];
	struct certspotter_result *res = &q->result;
	enum output_state es = n->r->cfg->source_error_state;
	const char *name = n->r->cfg->watches[i].name;
	char where[64];
	bool all_recorded = true;
	size_t k;
	int rc;

	if (!n->cs_done[i] ||
	    (n->timed_out && res->status == CT_ERR_TIMEOUT && res->n == 0)) {
		output_add(n->r->out, OUTPUT_UNKNOWN,
		    "timeout in Cert Spotter lookup for %s: -t ran out after "
		    "%u ms",
		    name, n->budget_ms);
		return;
	}
	for (k = 0; k < res->n; k++) {
		struct certspotter_issuance *it = &res->items[k];

		if (it->cert == NULL) {
			all_recorded = false;
			output_add(n->r->out, es,
			    "Cert Spotter id %llu could not be checked: %s",
			    (unsigned long long)it->id,
			    it->reason[0] ? it->reason : "no certificate data");
			continue;
		}
		snprintf(where, sizeof(where), "Cert Spotter id %llu",
		    (unsigned long long)it->id);
		rc = checkrun_seen(n->r, it->cert, where, n->r->now);
		if (rc != 0) {
			all_recorded = false;
			output_add(n->r->out, OUTPUT_UNKNOWN,
			    "cannot record Cert Spotter id %llu: %s",
			    (unsigned long long)it->id, ct_strerror(rc));
		}
	}
	if (res->status != 0)
		output_add(n->r->out, es, "%s (for %s)", res->error, name);
	else if (res->incomplete)
		output_add(n->r->out, es,
		    "Cert Spotter: more issuances for %s than one run reads; "
		    "the next runs go on",
		    name);
	if (n->r->cfg->verbose > 0)
		output_add(n->r->out, OUTPUT_OK,
		    "Cert Spotter: %zu new issuances for %s in %u pages",
		    res->n, name, res->pages);
	/* The cursor moves only past what is safely in the seen store. */
	if (all_recorded && res->n > 0 &&
	    (rc = certspotter_commit_cursor(q)) != 0)
		output_add(n->r->out, OUTPUT_WARNING,
		    "Cert Spotter: cursor for %s not stored: %s", name,
		    ct_strerror(rc));
}

static void
close_walk(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

void
checkrun_network(struct run *r)
{
	const struct check_cfg *cfg = r->cfg;
	struct net *n;
	char why[STATE_WHY_LEN];
	int64_t spent;
	size_t i;
	int rc;

	if ((n = calloc(1, sizeof(*n))) == NULL) {
		output_add(r->out, OUTPUT_UNKNOWN, "out of memory");
		return;
	}
	n->r = r;
	spent = util_now_ms() - r->t0_ms;
	n->budget_ms = cfg->timeout_ms > spent + NET_RESERVE_MS
	    ? (uint32_t)(cfg->timeout_ms - spent - NET_RESERVE_MS)
	    : NET_MIN_BUDGET_MS;
	if ((rc = uv_loop_init(&n->loop)) != 0) {
		output_add(r->out, OUTPUT_UNKNOWN, "event loop: %s",
		    uv_strerror(rc));
		free(n);
		return;
	}
	why[0] = '\0';
	if ((rc = state_open(r->state, &n->st, why, sizeof(why))) != 0)
		output_add(r->out, OUTPUT_UNKNOWN, "state dir: %s",
		    why[0] ? why : ct_strerror(rc));
	if ((n->http = http_client_new(&n->loop)) == NULL) {
		output_add(r->out, OUTPUT_UNKNOWN,
		    "HTTP client: out of memory");
		goto out;
	}
	uv_timer_init(&n->loop, &n->deadline);
	n->deadline.data = n;
	if (cfg->sources & CHECK_SRC_CERTSPOTTER)
		load_token(n);
	if (cfg->n_agents > 0)
		agents_start(n);
	if (probe_opts_active(cfg->probe))
		probe_start_all(n);
	for (i = 0; i < cfg->n_watches; i++) {
		if (cfg->sources & CHECK_SRC_CRTSH)
			crtsh_start(n, i);
		if (cfg->sources & CHECK_SRC_CERTSPOTTER)
			cs_start(n, i);
	}
	if (n->pending > 0) {
		uv_timer_start(&n->deadline, on_deadline, n->budget_ms, 0);
		uv_run(&n->loop, UV_RUN_DEFAULT);
	}
	agents_collect(n);
	for (i = 0; i < cfg->n_watches; i++) {
		if (n->crtsh_started[i])
			crtsh_collect(n, i);
		if (n->cs_started[i])
			cs_collect(n, i);
	}
	if (n->probe != NULL)
		probe_report(n);
out:
	for (i = 0; i < cfg->n_watches; i++) {
		if (n->crtsh_started[i])
			crtsh_query_clear(&n->crtsh[i]);
		if (n->cs_started[i])
			certspotter_query_clear(&n->cs[i]);
	}
	probe_check_free(n->probe);
	http_client_free(n->http);
	uv_run(&n->loop, UV_RUN_DEFAULT);
	for (i = 0; i < n->n_agents; i++)
		agentc_certs_free(&n->agents[i].certs);
	free(n->agents);
	agentc_free(n->ac);
	if (n->conf_loaded)
		conf_free(&n->conf);
	uv_walk(&n->loop, close_walk, NULL);
	uv_run(&n->loop, UV_RUN_DEFAULT);
	uv_loop_close(&n->loop);
	state_close(n->st);
	free(n);
}
