/*
 * lookup: `ctctl lookup NAME [--source LIST] [--json]`: what the CT
 * sources return for a name, with every download checked, for
 * troubleshooting check_ct. Uses the same source code, cache and state
 * directory as check_ct.
 */
#include <wolfssl/options.h>

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "certspotter.h"
#include "crtsh.h"
#include "http.h"
#include "json.h"
#include "poller.h"
#include "ratelimit.h"
#include "state.h"

#define LOOKUP_DEFAULT_TIMEOUT_MS 30000
#define LOOKUP_OUT_MAX_BYTES (64 * 1024 * 1024)
#define LOOKUP_TOKEN_BYTES 512

struct lookup {
	bool json;
	bool subdomains;
	unsigned sources;
	const char *crtsh_url;
	const char *certspotter_url;
	const char *token_file;
	const char *state_dir;
	bool include_expired;
	bool allow_http;
	unsigned max_downloads;
	int crtsh_rate; /* -1: crtsh_rate_default */
	uint32_t timeout_ms;
	struct names_watch watch;
	char token[LOOKUP_TOKEN_BYTES];
	struct crtsh_query crtsh;
	struct certspotter_query cs;
	unsigned pending;
	uv_timer_t deadline;
	struct http_client *http;
};

static void
one_done(struct lookup *l)
{
	if (--l->pending == 0)
		uv_timer_stop(&l->deadline);
}

static void
crtsh_cb(struct crtsh_query *q, void *arg)
{
	(void)q;
	one_done(arg);
}

static void
cs_cb(struct certspotter_query *q, void *arg)
{
	(void)q;
	one_done(arg);
}

static void
on_deadline(uv_timer_t *t)
{
	struct lookup *l = t->data;

	if (l->sources & CHECK_SRC_CRTSH)
		crtsh_cancel(&l->crtsh);
	http_client_cancel_all(l->http);
}

static void
cert_json(struct json_writer *w, const struct ct_cert *c)
{
	char hex[65], t[UTIL_RFC3339_LEN], *serial;
	size_t i;

	json_w_key(w, "tbs_sha256");
	util_hex_encode(c->tbs_sha256, 32, hex);
	json_w_str(w, hex);
	json_w_key(w, "sha256");
	util_hex_encode(c->sha256, 32, hex);
	json_w_str(w, hex);
	if ((serial = malloc(2 * c->serial_len + 1)) != NULL) {
		cert_serial_hex(c, serial, 2 * c->serial_len + 1);
		json_w_key(w, "serial");
		json_w_str(w, serial);
		free(serial);
	}
	json_w_key(w, "precert");
	json_w_bool(w, c->precert);
	json_w_key(w, "issuer");
	json_w_str(w, c->issuer);
	json_w_key(w, "dns_names");
	json_w_arr_begin(w);
	for (i = 0; i < c->n_dns_names; i++)
		json_w_str_n(w, c->dns_names[i].name, c->dns_names[i].len);
	json_w_arr_end(w);
	util_time_rfc3339(c->not_before, t);
	json_w_key(w, "not_before");
	json_w_str(w, t);
	util_time_rfc3339(c->not_after, t);
	json_w_key(w, "not_after");
	json_w_str(w, t);
}

static void
crtsh_json(struct json_writer *w, const struct crtsh_result *res)
{
	size_t i;

	json_w_obj_begin(w);
	json_w_key(w, "source");
	json_w_str(w, "crtsh");
	json_w_key(w, "ok");
	json_w_bool(w, res->status == 0);
	if (res->status != 0) {
		json_w_key(w, "error");
		json_w_str(w, res->error);
	}
	json_w_key(w, "incomplete");
	json_w_bool(w, res->incomplete);
	json_w_key(w, "entries");
	json_w_arr_begin(w);
	for (i = 0; i < res->n; i++) {
		const struct crtsh_entry *e = &res->entries[i];

		json_w_obj_begin(w);
		json_w_key(w, "id");
		json_w_u64(w, e->row.id);
		json_w_key(w, "status");
		json_w_str(w, crtsh_entry_status_names[e->status]);
		if (e->reason[0]) {
			json_w_key(w, "reason");
			json_w_str(w, e->reason);
		}
		json_w_key(w, "cached");
		json_w_bool(w, e->cached);
		if (e->cert != NULL)
			cert_json(w, e->cert);
		else {
			json_w_key(w, "serial");
			json_w_str(w, e->row.serial);
			json_w_key(w, "name_value");
			json_w_str_n(w, e->row.name_value,
			    e->row.name_value_len);
		}
		json_w_obj_end(w);
	}
	json_w_arr_end(w);
	json_w_obj_end(w);
}

static void
cs_json(struct json_writer *w, const struct certspotter_result *res)
{
	size_t i;

	json_w_obj_begin(w);
	json_w_key(w, "source");
	json_w_str(w, "certspotter");
	json_w_key(w, "ok");
	json_w_bool(w, res->status == 0);
	if (res->status != 0) {
		json_w_key(w, "error");
		json_w_str(w, res->error);
	}
	json_w_key(w, "incomplete");
	json_w_bool(w, res->incomplete);
	json_w_key(w, "entries");
	json_w_arr_begin(w);
	for (i = 0; i < res->n; i++) {
		const struct certspotter_issuance *it = &res->items[i];
		char hex[65];

		json_w_obj_begin(w);
		json_w_key(w, "id");
		json_w_u64(w, it->id);
		json_w_key(w, "status");
		json_w_str(w, certspotter_status_names[it->status]);
		if (it->reason[0]) {
			json_w_key(w, "reason");
			json_w_str(w, it->reason);
		}
		if (it->cert != NULL) {
			cert_json(w, it->cert);
		} else {
			util_hex_encode(it->tbs_sha256, 32, hex);
			json_w_key(w, "tbs_sha256");
			json_w_str(w, hex);
		}
		json_w_obj_end(w);
	}
	json_w_arr_end(w);
	json_w_obj_end(w);
}

static void
cert_text(const struct ct_cert *c, const char *id, const char *status)
{
	char hex[65], nb[UTIL_RFC3339_LEN], na[UTIL_RFC3339_LEN], one[300];
	size_t i;

	util_hex_encode(c->tbs_sha256, 32, hex);
	hex[16] = '\0';
	util_time_rfc3339(c->not_before, nb);
	util_time_rfc3339(c->not_after, na);
	printf("  %-22s %-14s tbs %s %s %s .. %s\n", id,
	    c->precert ? "precertificate" : "certificate", hex, status, nb, na);
	printf("      issuer %s\n      names ", c->issuer);
	for (i = 0; i < c->n_dns_names && i < 20; i++) {
		util_sanitize(c->dns_names[i].name, c->dns_names[i].len, one,
		    sizeof(one));
		printf("%s%s", i ? ", " : "", one);
	}
	printf("%s\n", c->n_dns_names > 20 ? ", ..." : "");
}

static void
print_text(const struct lookup *l)
{
	char id[64];
	size_t i;

	if (l->sources & CHECK_SRC_CRTSH) {
		const struct crtsh_result *r = &l->crtsh.result;

		printf("crt.sh: %s%s\n", r->status ? r->error : "answered",
		    r->incomplete ? " (incomplete: 10,000 row cap)" : "");
		for (i = 0; i < r->n; i++) {
			const struct crtsh_entry *e = &r->entries[i];
			char reason[300];

			snprintf(id, sizeof(id), "crt.sh id %llu",
			    (unsigned long long)e->row.id);
			if (e->cert != NULL) {
				cert_text(e->cert, id,
				    e->cached ? "(cached)" : "(downloaded)");
				continue;
			}
			util_sanitize(e->reason, strlen(e->reason), reason,
			    sizeof(reason));
			printf("  %-22s %s: %s\n", id,
			    crtsh_entry_status_names[e->status], reason);
		}
	}
	if (l->sources & CHECK_SRC_CERTSPOTTER) {
		const struct certspotter_result *r = &l->cs.result;

		printf("Cert Spotter: %s%s\n",
		    r->status ? r->error : "answered",
		    r->incomplete ? " (incomplete: page cap)" : "");
		for (i = 0; i < r->n; i++) {
			const struct certspotter_issuance *it = &r->items[i];

			snprintf(id, sizeof(id), "Cert Spotter %llu",
			    (unsigned long long)it->id);
			if (it->cert != NULL)
				cert_text(it->cert, id, "");
			else
				printf("  %-22s %s: %s\n", id,
				    certspotter_status_names[it->status],
				    it->reason);
		}
	}
}

static int
print_json(const struct lookup *l)
{
	struct util_buf buf;
	struct json_writer w;
	int rc;

	util_buf_init(&buf, LOOKUP_OUT_MAX_BYTES);
	json_w_init(&w, &buf);
	json_w_obj_begin(&w);
	json_w_key(&w, "name");
	json_w_str(&w, l->watch.name);
	json_w_key(&w, "subdomains");
	json_w_bool(&w, l->watch.subdomains);
	json_w_key(&w, "sources");
	json_w_arr_begin(&w);
	if (l->sources & CHECK_SRC_CRTSH)
		crtsh_json(&w, &l->crtsh.result);
	if (l->sources & CHECK_SRC_CERTSPOTTER)
		cs_json(&w, &l->cs.result);
	json_w_arr_end(&w);
	json_w_obj_end(&w);
	if ((rc = json_w_finish(&w, true)) == 0)
		fwrite(buf.data, 1, buf.len, stdout);
	util_buf_clear(&buf);
	return rc;
}

static void
lookup_usage(FILE *f)
{
	fprintf(f,
	    "usage: ctctl lookup NAME [--subdomains] [--source "
	    "crtsh,certspotter]\n"
	    "           [--crtsh-url URL] [--certspotter-url URL]\n"
	    "           [--certspotter-token-file FILE] [--include-expired]\n"
	    "           [--state-dir DIR] [--max-downloads N] [--crtsh-rate N]\n"
	    "           [-t SECONDS] [--json]\n");
}

/* Runs the queries on a loop; 0 when every source answered. */
static int
lookup_run(struct lookup *l)
{
	uv_loop_t loop;
	struct state *st = NULL;
	char dir[4096], why[STATE_WHY_LEN] = "";
	int rc, failed = 0;

	if (opts_state_dir(l->state_dir, dir, sizeof(dir)) == 0 &&
	    state_open(dir, &st, why, sizeof(why)) != 0)
		fprintf(stderr, "ctctl: state dir: %s (no cache)\n", why);
	if (uv_loop_init(&loop) != 0 ||
	    (l->http = http_client_new(&loop)) == NULL) {
		state_close(st);
		return -1;
	}
	uv_timer_init(&loop, &l->deadline);
	l->deadline.data = l;
	if (l->sources & CHECK_SRC_CRTSH) {
		crtsh_query_init(&l->crtsh);
		l->crtsh.http = l->http;
		l->crtsh.state = st;
		l->crtsh.watch = &l->watch;
		l->crtsh.base_url = l->crtsh_url;
		l->crtsh.include_expired = l->include_expired;
		l->crtsh.max_downloads = l->max_downloads;
		l->crtsh.rate_per_minute = l->crtsh_rate >= 0
		    ? (unsigned)l->crtsh_rate
		    : crtsh_rate_default(l->crtsh_url);
		l->crtsh.allow_http = l->allow_http;
		if ((rc = crtsh_run(&l->crtsh, crtsh_cb, l)) == 0)
			l->pending++;
		else
			l->crtsh.result.status = rc;
	}
	if (l->sources & CHECK_SRC_CERTSPOTTER) {
		certspotter_query_init(&l->cs);
		l->cs.http = l->http;
		l->cs.state = st;
		l->cs.watch = &l->watch;
		l->cs.base_url = l->certspotter_url;
		l->cs.token = l->token[0] ? l->token : NULL;
		l->cs.include_expired = l->include_expired;
		l->cs.use_cursor = false; /* show everything, move nothing */
		l->cs.allow_http = l->allow_http;
		if ((rc = certspotter_run(&l->cs, cs_cb, l)) == 0)
			l->pending++;
		else
			l->cs.result.status = rc;
	}
	if (l->pending > 0) {
		uv_timer_start(&l->deadline, on_deadline, l->timeout_ms, 0);
		uv_run(&loop, UV_RUN_DEFAULT);
	}
	if (l->json)
		print_json(l);
	else
		print_text(l);
	if ((l->sources & CHECK_SRC_CRTSH) && l->crtsh.result.status != 0)
		failed = 1;
	if ((l->sources & CHECK_SRC_CERTSPOTTER) && l->cs.result.status != 0)
		failed = 1;
	if (l->sources & CHECK_SRC_CRTSH)
		crtsh_query_clear(&l->crtsh);
	if (l->sources & CHECK_SRC_CERTSPOTTER)
		certspotter_query_clear(&l->cs);
	http_client_free(l->http);
	uv_close((uv_handle_t *)&l->deadline, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	state_close(st);
	return failed ? -1 : 0;
}

int
lookup_main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"subdomains", no_argument, NULL, 's'},
	    {"source", required_argument, NULL, 'S'},
	    {"crtsh-url", required_argument, NULL, 'c'},
	    {"certspotter-url", required_argument, NULL, 'C'},
	    {"certspotter-token-file", required_argument, NULL, 'k'},
	    {"include-expired", no_argument, NULL, 'e'},
	    {"state-dir", required_argument, NULL, 'd'},
	    {"max-downloads", required_argument, NULL, 'm'},
	    {"crtsh-rate", required_argument, NULL, 'r'},
	    {"allow-http", no_argument, NULL, 'H'},
	    {"timeout", required_argument, NULL, 't'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct lookup *l;
	char why[HTTP_ERROR_LEN];
	uint64_t v;
	bool loose = false;
	int ch, rc = POLLER_EXIT_USAGE;

	if ((l = calloc(1, sizeof(*l))) == NULL)
		return POLLER_EXIT_FAIL;
	l->sources = CHECK_SRC_CRTSH;
	l->max_downloads = CRTSH_DEFAULT_MAX_DOWNLOADS;
	l->crtsh_rate = -1;
	l->timeout_ms = LOOKUP_DEFAULT_TIMEOUT_MS;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "t:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 's':
			l->subdomains = true;
			break;
		case 'S':
			if (opts_parse_sources(optarg, &l->sources) != 0) {
				fprintf(stderr,
				    "ctctl: --source %s: want "
				    "crtsh, certspotter or both\n",
				    optarg);
				goto out;
			}
			break;
		case 'c':
			l->crtsh_url = optarg;
			break;
		case 'C':
			l->certspotter_url = optarg;
			break;
		case 'k':
			l->token_file = optarg;
			break;
		case 'e':
			l->include_expired = true;
			break;
		case 'd':
			l->state_dir = optarg;
			break;
		case 'm':
			if (util_parse_u64(optarg, strlen(optarg), 100000,
			        &v) != 0)
				goto usage;
			l->max_downloads = (unsigned)v;
			break;
		case 'r':
			if (util_parse_u64(optarg, strlen(optarg),
			        RATELIMIT_MAX_PER_MINUTE, &v) != 0)
				goto usage;
			l->crtsh_rate = (int)v;
			break;
		case 'H':
			l->allow_http = true;
			break;
		case 't':
			if (util_parse_u64(optarg, strlen(optarg), 3600, &v) !=
			        0 ||
			    v == 0)
				goto usage;
			l->timeout_ms = (uint32_t)v * 1000;
			break;
		case 'j':
			l->json = true;
			break;
		case 'h':
			lookup_usage(stdout);
			rc = POLLER_EXIT_OK;
			goto out;
		default:
			goto usage;
		}
	}
	if (optind + 1 != argc)
		goto usage;
	if (names_watch_parse(argv[optind], strlen(argv[optind]), l->subdomains,
	        &l->watch) != 0) {
		fprintf(stderr, "ctctl: %s: not a DNS name\n", argv[optind]);
		goto out;
	}
	if ((l->sources & CHECK_SRC_CERTSPOTTER) &&
	    certspotter_load_token(l->token_file, l->token, sizeof(l->token),
	        &loose) != 0 &&
	    l->token_file != NULL) {
		fprintf(stderr, "ctctl: cannot read %s\n", l->token_file);
		rc = POLLER_EXIT_FAIL;
		goto out;
	}
	signal(SIGPIPE, SIG_IGN);
	if (http_global_init(why, sizeof(why)) != 0) {
		fprintf(stderr, "ctctl: %s\n", why);
		rc = POLLER_EXIT_FAIL;
		goto out;
	}
	rc = lookup_run(l) == 0 ? POLLER_EXIT_OK : POLLER_EXIT_FAIL;
	http_global_cleanup();
	goto out;
usage:
	lookup_usage(stderr);
out:
	util_zero(l->token, sizeof(l->token));
	free(l);
	return rc;
}
