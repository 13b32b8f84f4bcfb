/*
 * probectl: `ctctl probe HOST[:PORT] ...`: probes every address of HOST
 * and prints, per address, the TLS version, timings, the chain, the SCTs
 * with their logs and validity, and the verdicts (text or --json, one
 * JSON object per address and line).
 */
#include <wolfssl/options.h>

#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>


#include "http.h"
#include "json.h"
#include "loglist.h"
#include "loglistcache.h"
#include "probe.h"
#include "state.h"
#include "tls.h"

#define PROBECTL_MAX_TRUSTED_PATHS 64
#define PROBECTL_MAX_TRUSTED_CERTS 1000
#define PROBECTL_OUT_MAX_BYTES (4 * 1024 * 1024)
#define PROBECTL_PATH_BYTES 4096

#define PROBECTL_MAX_TARGETS PROBE_MAX_TARGETS

struct probectl {
	struct probe_target t[PROBECTL_MAX_TARGETS];
	size_t n_t;
	const char *sni;
	bool json;
	bool one;
	const char *trusted_paths[PROBECTL_MAX_TRUSTED_PATHS];
	size_t n_trusted_paths;
	struct ct_cert **trusted;
	size_t n_trusted;
	struct probe_opts po; /* thresholds, log list, states */
	const char *state_dir;
	bool allow_http;
	struct loglist *ll;
	char ll_problem[LOGLISTCACHE_NOTE_BYTES + 64];
	const char *ll_note;
};

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: ctctl " PROBE_CTCTL_USAGE "\n"
	    "             [-w DAYS|PCT%%] [-c DAYS|PCT%%] [--min-scts N]\n"
	    "             [--log-list-url URL] [--state-dir DIR] "
	    "[--timeout SECONDS]\n"
	    "Probes every address of HOST (port 443 by default) and judges "
	    "the chain\nit presents. Exit 0 when every address is OK, 1 "
	    "otherwise.\n");
}

/* ------------------------------------------------------------ issuers */

static int
trusted_add(struct probectl *pc, const char *file)
{
	struct ct_cert **certs = NULL, **grown;
	size_t n = 0, i;
	int rc;

	if ((rc = cert_load_file(file, &certs, &n)) != 0)
		return rc;
	if (pc->n_trusted + n > PROBECTL_MAX_TRUSTED_CERTS) {
		cert_free_all(certs, n);
		return CT_ERR_TOO_BIG;
	}
	grown = realloc(pc->trusted, (pc->n_trusted + n) * sizeof(*grown));
	if (grown == NULL) {
		cert_free_all(certs, n);
		return CT_ERR_NOMEM;
	}
	pc->trusted = grown;
	for (i = 0; i < n; i++)
		pc->trusted[pc->n_trusted++] = certs[i];
	free(certs);
	return 0;
}

/* A file, or every certificate file of a directory (not recursive). */
static int
trusted_load(struct probectl *pc, const char *path)
{
	char file[PROBECTL_PATH_BYTES];
	struct dirent *de;
	struct stat sb;
	DIR *d;
	int rc = 0, n;

	if (stat(path, &sb) != 0)
		return CT_ERR_IO;
	if (!S_ISDIR(sb.st_mode))
		return trusted_add(pc, path);
	if ((d = opendir(path)) == NULL)
		return CT_ERR_IO;
	while (rc == 0 && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		n = snprintf(file, sizeof(file), "%s/%s", path, de->d_name);
		if (n < 0 || (size_t)n >= sizeof(file) ||
		    stat(file, &sb) != 0 || !S_ISREG(sb.st_mode))
			continue;
		rc = trusted_add(pc, file);
		if (rc == CT_ERR_NOT_FOUND) /* a key or a README */
			rc = 0;
	}
	closedir(d);
	return rc;
}

/* ------------------------------------------------------------ output */

static void
hex32(const uint8_t *h, char out[65])
{
	util_hex_encode(h, 32, out);
}

static const char *
tri(int v)
{
	return v < 0 ? "not checked" : v ? "yes" : "NO";
}

static void
json_tri(struct json_writer *w, const char *key, int v)
{
	json_w_key(w, key);
	if (v < 0)
		json_w_null(w);
	else
		json_w_bool(w, v == 1);
}

static void
json_cert(struct json_writer *w, const struct ct_cert *c)
{
	char hex[65], when[UTIL_RFC3339_LEN];
	size_t i;

	json_w_obj_begin(w);
	json_w_key(w, "subject");
	json_w_str(w, c->subject);
	json_w_key(w, "issuer");
	json_w_str(w, c->issuer);
	util_time_rfc3339(c->not_before, when);
	json_w_key(w, "not_before");
	json_w_str(w, when);
	util_time_rfc3339(c->not_after, when);
	json_w_key(w, "not_after");
	json_w_str(w, when);
	hex32(c->sha256, hex);
	json_w_key(w, "sha256");
	json_w_str(w, hex);
	hex32(c->tbs_sha256, hex);
	json_w_key(w, "tbs_sha256");
	json_w_str(w, hex);
	hex32(c->spki_sha256, hex);
	json_w_key(w, "spki_sha256");
	json_w_str(w, hex);
	json_w_key(w, "dns_names");
	json_w_arr_begin(w);
	for (i = 0; i < c->n_dns_names; i++)
		json_w_str_n(w, c->dns_names[i].name, c->dns_names[i].len);
	json_w_arr_end(w);
	json_w_obj_end(w);
}

static void
json_scts(struct json_writer *w, const struct probe_verdict *v)
{
	size_t i;

	json_w_key(w, "scts");
	json_w_arr_begin(w);
	for (i = 0; i < v->n_scts; i++) {
		const struct probe_sct_fact *f = &v->scts[i];

		json_w_obj_begin(w);
		json_w_key(w, "log_id");
		json_w_b64(w, f->sct.log_id, sizeof(f->sct.log_id));
		json_w_key(w, "log");
		if (f->log != NULL)
			json_w_str(w, f->log);
		else
			json_w_null(w);
		json_w_key(w, "timestamp");
		json_w_u64(w, f->sct.timestamp);
		if (f->sct.has_leaf_index) {
			json_w_key(w, "leaf_index");
			json_w_u64(w, f->sct.leaf_index);
		}
		json_w_key(w, "status");
		json_w_str(w, probe_sct_status_names[f->status]);
		json_w_key(w, "signature_valid");
		if (f->status == PROBE_SCT_VALID ||
		    f->status == PROBE_SCT_FUTURE)
			json_w_bool(w, true);
		else if (f->status == PROBE_SCT_INVALID)
			json_w_bool(w, false);
		else
			json_w_null(w);
		json_w_obj_end(w);
	}
	json_w_arr_end(w);
}

static void
json_head(struct json_writer *w, const struct probe_result *r)
{
	const struct probe_target *t = r->target;

	json_w_key(w, "host");
	json_w_str(w, t->host);
	json_w_key(w, "port");
	json_w_u64(w, t->port);
	json_w_key(w, "sni");
	if (t->sni[0])
		json_w_str(w, t->sni);
	else
		json_w_null(w);
	json_w_key(w, "starttls");
	json_w_str(w, probe_starttls_names[t->starttls]);
	json_w_key(w, "address");
	json_w_str(w, r->addr);
	json_w_key(w, "result");
	json_w_str(w, probe_fail_names[r->fail]);
	json_w_key(w, "error");
	if (r->error[0])
		json_w_str(w, r->error);
	else
		json_w_null(w);
	json_w_key(w, "alert");
	if (r->alert >= 0)
		json_w_u64(w, (uint64_t)r->alert);
	else
		json_w_null(w);
	json_w_key(w, "version");
	json_w_str(w, r->version);
	json_w_key(w, "cipher");
	json_w_str(w, r->cipher);
}

static int
print_json(const struct probe_result *r, const struct probe_verdict *v)
{
	struct util_buf buf;
	struct json_writer w;
	size_t i;
	int rc;

	util_buf_init(&buf, PROBECTL_OUT_MAX_BYTES);
	json_w_init(&w, &buf);
	json_w_obj_begin(&w);
	json_head(&w, r);
	/* Times in whole microseconds. */
	json_w_key(&w, "connect_us");
	json_w_u64(&w, (uint64_t)(r->connect_ms * 1000));
	json_w_key(&w, "starttls_us");
	json_w_u64(&w, (uint64_t)(r->starttls_ms * 1000));
	json_w_key(&w, "handshake_us");
	json_w_u64(&w, (uint64_t)(r->handshake_ms * 1000));
	json_w_key(&w, "chain");
	json_w_arr_begin(&w);
	for (i = 0; i < r->n_chain; i++)
		if (r->chain[i] != NULL)
			json_cert(&w, r->chain[i]);
		else
			json_w_null(&w);
	json_w_arr_end(&w);
	json_tri(&w, "name_ok", v->name_ok);
	json_tri(&w, "issuer_trusted", v->issuer_trusted);
	json_tri(&w, "known", v->known);
	/* The writer has no fractions: whole days (floor) and seconds. */
	json_w_key(&w, "days_left");
	if (v->have_leaf)
		json_w_i64(&w, (int64_t)floor(v->days_left));
	else
		json_w_null(&w);
	json_w_key(&w, "seconds_left");
	if (v->have_leaf)
		json_w_i64(&w, (int64_t)(v->days_left * 86400.0));
	else
		json_w_null(&w);
	json_w_key(&w, "scts_malformed");
	json_w_bool(&w, v->scts_malformed);
	json_scts(&w, v);
	json_w_key(&w, "scts_valid");
	json_w_u64(&w, v->scts_valid);
	json_w_key(&w, "state");
	json_w_str(&w, output_state_names[v->state]);
	json_w_key(&w, "findings");
	json_w_arr_begin(&w);
	for (i = 0; i < v->n_findings; i++) {
		json_w_obj_begin(&w);
		json_w_key(&w, "state");
		json_w_str(&w, output_state_names[v->findings[i].state]);
		json_w_key(&w, "text");
		json_w_str(&w, v->findings[i].text);
		json_w_obj_end(&w);
	}
	json_w_arr_end(&w);
	json_w_obj_end(&w);
	rc = json_w_finish(&w, true);
	if (rc == 0)
		fwrite(buf.data, 1, buf.len, stdout);
	util_buf_clear(&buf);
	return rc;
}

static void
print_cert(size_t i, const struct ct_cert *c)
{
	char hex[65], when[UTIL_RFC3339_LEN];

	if (c == NULL) {
		printf("    [%zu] (does not parse)\n", i);
		return;
	}
	util_time_rfc3339(c->not_after, when);
	hex32(c->tbs_sha256, hex);
	printf("    [%zu] subject    %s\n", i, c->subject);
	printf("        issuer     %s\n", c->issuer);
	printf("        not after  %s\n", when);
	printf("        tbs_sha256 %s\n", hex);
}

static void
print_text(const struct probe_result *r, const struct probe_verdict *v)
{
	const struct probe_target *t = r->target;
	char b64[45], when[UTIL_RFC3339_LEN], name[128];
	size_t i;

	printf("%s%s%s%s%s: %s\n", r->addr, t->sni[0] ? " SNI " : "", t->sni,
	    t->starttls ? " STARTTLS " : "",
	    t->starttls ? probe_starttls_names[t->starttls] : "",
	    output_state_names[v->state]);
	if (r->fail != PROBE_OK)
		printf("  failed: %s (%s)\n", r->error,
		    probe_fail_names[r->fail]);
	if (r->version[0])
		printf("  %s %s, connect %.1f ms, %shandshake %.1f ms\n",
		    r->version, r->cipher, r->connect_ms,
		    t->starttls ? "STARTTLS " : "", r->handshake_ms);
	if (r->n_chain > 0)
		printf("  chain (%zu):\n", r->n_chain);
	for (i = 0; i < r->n_chain; i++)
		print_cert(i, r->chain[i]);
	if (v->have_leaf) {
		printf("  name covered: %s; issuer trusted: %s; expires in "
		       "%.1f days\n",
		    tri(v->name_ok), tri(v->issuer_trusted), v->days_left);
		printf("  SCTs: %zu, %zu valid\n", v->n_scts, v->scts_valid);
	}
	for (i = 0; i < v->n_scts; i++) {
		const struct probe_sct_fact *f = &v->scts[i];

		util_b64_encode(f->sct.log_id, 32, b64);
		util_time_rfc3339((int64_t)(f->sct.timestamp / 1000), when);
		if (f->log != NULL)
			util_sanitize(f->log, strlen(f->log), name,
			    sizeof(name));
		printf("    %s (%s) at %s: %s\n", f->log ? name : "unknown log",
		    b64, when, probe_sct_status_names[f->status]);
	}
	for (i = 0; i < v->n_findings; i++)
		printf("  [%s] %s\n", output_state_names[v->findings[i].state],
		    v->findings[i].text);
}

/* ------------------------------------------------------------ running */

struct run {
	uv_loop_t loop;
	struct http_client *http;
	struct state *st;
	struct loglistcache_query llq;
	bool llq_started;
	uint8_t *key;
	size_t key_len;
};

static void
ll_done(struct loglistcache_query *q, void *arg)
{
	(void)q;
	(void)arg;
}

/* The log list: --log-list, or the state dir's cache (fetching). */
static void
ll_get(struct probectl *pc, struct run *run)
{
	char dir[PROBECTL_PATH_BYTES], why[256];
	int rc;

	why[0] = '\0';
	if (pc->po.log_list != NULL) {
		rc = loglist_load(pc->po.log_list, NULL, NULL,
		    LOGLIST_F_STATE_HISTORY, &pc->ll, why, sizeof(why));
		if (rc != 0)
			snprintf(pc->ll_problem, sizeof(pc->ll_problem),
			    "--log-list: %s%s%s", ct_strerror(rc),
			    why[0] ? ": " : "", why);
		return;
	}
	if (opts_state_dir(pc->state_dir, dir, sizeof(dir)) != 0 ||
	    (rc = state_open(dir, &run->st, why, sizeof(why))) != 0) {
		snprintf(pc->ll_problem, sizeof(pc->ll_problem),
		    "state dir: %s", why[0] ? why : "unusable");
		return;
	}
	if (http_global_init(why, sizeof(why)) != 0) {
		snprintf(pc->ll_problem, sizeof(pc->ll_problem),
		    "no HTTP client for the log list: %s", why);
		return;
	}
	if ((run->http = http_client_new(&run->loop)) == NULL) {
		http_global_cleanup();
		snprintf(pc->ll_problem, sizeof(pc->ll_problem),
		    "no HTTP client for the log list: %s", http_client_error());
		return;
	}
	loglistcache_query_init(&run->llq);
	run->llq.http = run->http;
	run->llq.state = run->st;
	run->llq.base_url = pc->po.log_list_url;
	run->llq.allow_http = pc->allow_http;
	if (pc->po.log_list_key != NULL) {
		if ((rc = util_read_file(pc->po.log_list_key,
		         LOGLIST_MAX_PEM_BYTES, &run->key, &run->key_len)) !=
		    0) {
			snprintf(pc->ll_problem, sizeof(pc->ll_problem),
			    "--log-list-key: %s", ct_strerror(rc));
			return;
		}
		run->llq.key_pem = (const char *)run->key;
		run->llq.key_pem_len = run->key_len;
	}
	run->llq_started = true;
	rc = loglistcache_run(&run->llq, ll_done, NULL);
	if (rc == 0)
		uv_run(&run->loop, UV_RUN_DEFAULT);
	if (rc < 0) {
		snprintf(pc->ll_problem, sizeof(pc->ll_problem),
		    "log list cache: %s", ct_strerror(rc));
		return;
	}
	if (run->llq.result.status != 0) {
		snprintf(pc->ll_problem, sizeof(pc->ll_problem), "%s",
		    run->llq.result.note);
		return;
	}
	pc->ll = loglistcache_take(&run->llq);
	if (run->llq.result.stale)
		fprintf(stderr, "ctctl: log list is %lld days old\n",
		    (long long)(run->llq.result.age_s / 86400));
}

static int
probe_run(struct probectl *pc)
{
	struct run run;
	struct tls_ctx *ctx = NULL;
	struct probe *p[PROBECTL_MAX_TARGETS];
	size_t k;
	struct probe_params pp;
	struct probe_judge_opts jo;
	struct probe_verdict *v = NULL;
	struct probe_judge_memo *memo = calloc(1, sizeof(*memo));
	size_t i;
	int rc, status = POLLER_EXIT_FAIL;
	bool all_ok = true;

	memset(&run, 0, sizeof(run));
	memset(p, 0, sizeof(p));
	if (uv_loop_init(&run.loop) != 0) {
		free(memo);
		return POLLER_EXIT_FAIL;
	}
	ll_get(pc, &run);
	if (memo == NULL || (v = malloc(sizeof(*v))) == NULL ||
	    tls_global_init() != 0 || (rc = tls_ctx_new_probe(&ctx)) != 0) {
		fprintf(stderr, "ctctl: cannot set up TLS\n");
		goto out;
	}
	memset(&pp, 0, sizeof(pp));
	pp.timeout_ms = pc->po.timeout_ms;
	pp.one = pc->one;
	/* Every target at once on the one loop. */
	for (k = 0; k < pc->n_t; k++)
		if ((rc = probe_start(&run.loop, ctx, &pc->t[k], &pp, &p[k])) !=
		    0) {
			fprintf(stderr, "ctctl: probe: %s\n", ct_strerror(rc));
			goto out;
		}
	uv_run(&run.loop, UV_RUN_DEFAULT);
	probe_judge_defaults(&jo);
	jo.trusted = pc->trusted;
	jo.n_trusted = pc->n_trusted;
	jo.ll = pc->ll;
	jo.ll_problem = pc->ll_problem;
	jo.min_scts = pc->po.min_scts;
	jo.warn = pc->po.warn;
	jo.crit = pc->po.crit;
	for (k = 0; k < pc->n_t; k++) {
		jo.name = pc->t[k].sni;
		for (i = 0; i < probe_count(p[k]); i++) {
			probe_judge_memo(memo, probe_get(p[k], i), &jo, v);
			if (v->state != OUTPUT_OK)
				all_ok = false;
			if (pc->json)
				print_json(probe_get(p[k], i), v);
			else
				print_text(probe_get(p[k], i), v);
		}
	}
	status = all_ok ? POLLER_EXIT_OK : POLLER_EXIT_FAIL;
out:
	for (k = 0; k < pc->n_t; k++)
		probe_free(p[k]);
	if (run.llq_started)
		loglistcache_query_clear(&run.llq);
	http_client_free(run.http);
	uv_run(&run.loop, UV_RUN_DEFAULT);
	if (uv_loop_close(&run.loop) != 0)
		fprintf(stderr, "ctctl: handles left open\n");
	state_close(run.st);
	free(run.key);
	tls_ctx_free(ctx);
	tls_global_cleanup();
	if (run.http != NULL)
		http_global_cleanup();
	free(v);
	if (memo != NULL)
		probe_judge_memo_clear(memo);
	free(memo);
	return status;
}

enum {
	CTL_SNI = 300,
	CTL_TRUSTED,
	CTL_JSON,
	CTL_STATE_DIR,
	CTL_ALLOW_HTTP,
};

static int
parse(struct probectl *pc, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"sni", required_argument, NULL, CTL_SNI},
	    {"trusted-issuer-certs", required_argument, NULL, CTL_TRUSTED},
	    {"json", no_argument, NULL, CTL_JSON},
	    {"state-dir", required_argument, NULL, CTL_STATE_DIR},
	    {"allow-http", no_argument, NULL, CTL_ALLOW_HTTP},
	    {"timeout", required_argument, NULL, PROBE_OPT_TIMEOUT},
	    {"help", no_argument, NULL, 'h'},
	    PROBE_LONGOPTS,
	    {NULL, 0, NULL, 0},
	};
	char why[200];
	int ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "hw:c:", longopts, NULL)) != -1) {
		switch (ch) {
		case CTL_SNI:
			pc->sni = optarg;
			break;
		case CTL_TRUSTED:
			if (pc->n_trusted_paths == PROBECTL_MAX_TRUSTED_PATHS)
				return POLLER_EXIT_USAGE;
			pc->trusted_paths[pc->n_trusted_paths++] = optarg;
			break;
		case CTL_JSON:
			pc->json = true;
			break;
		case CTL_STATE_DIR:
			pc->state_dir = optarg;
			break;
		case CTL_ALLOW_HTTP:
			pc->allow_http = true;
			break;
		case PROBE_OPT_ONE:
			pc->one = true;
			break;
		case 'h':
			usage(stdout);
			return POLLER_EXIT_OK;
		case PROBE_OPT_PROBE:
		case PROBE_OPT_PORT:
		case PROBE_OPT_EXPECT_CRTSH:
		case PROBE_OPT_EXPECT_CERTSPOTTER:
		case '?':
			usage(stderr);
			return POLLER_EXIT_USAGE;
		default:
			why[0] = '\0';
			if (probe_opt(&pc->po, ch, optarg, why, sizeof(why)) !=
			    0) {
				fprintf(stderr, "ctctl probe: %s\n", why);
				return POLLER_EXIT_USAGE;
			}
		}
	}
	if (optind >= argc || argc - optind > PROBECTL_MAX_TARGETS) {
		usage(stderr);
		return POLLER_EXIT_USAGE;
	}
	return -1;
}

int
probe_main(int argc, char **argv)
{
	struct probectl pc;
	char why[200];
	size_t i;
	int rc;

	memset(&pc, 0, sizeof(pc));
	probe_opts_init(&pc.po);
	if ((rc = parse(&pc, argc, argv)) >= 0)
		return rc;
	for (; optind < argc; optind++, pc.n_t++) {
		struct probe_target *t = &pc.t[pc.n_t];

		why[0] = '\0';
		if (probe_target_parse(argv[optind], NULL, PROBE_DEFAULT_PORT,
		        t, why, sizeof(why)) != 0) {
			fprintf(stderr, "ctctl probe: %s: %s\n", argv[optind],
			    why);
			return POLLER_EXIT_USAGE;
		}
		if (pc.sni != NULL)
			snprintf(t->sni, sizeof(t->sni), "%s", pc.sni);
		if (pc.po.starttls_given)
			t->starttls = pc.po.starttls;
	}
	for (i = 0; i < pc.n_trusted_paths; i++)
		if ((rc = trusted_load(&pc, pc.trusted_paths[i])) != 0) {
			fprintf(stderr,
			    "ctctl probe: --trusted-issuer-certs %s: %s\n",
			    pc.trusted_paths[i], ct_strerror(rc));
			cert_free_all(pc.trusted, pc.n_trusted);
			return POLLER_EXIT_FAIL;
		}
	signal(SIGPIPE, SIG_IGN);
	rc = probe_run(&pc);
	cert_free_all(pc.trusted, pc.n_trusted);
	loglist_free(pc.ll);
	return rc;
}
