/*
 * checkrun: one run of check_ct (DESIGN.md section 5). Builds the known
 * set (agents, --local-certs, --db), gathers what CT holds for the watched
 * names (sources, --logged-certs) into the state dir's store of seen
 * certificates, judges every seen certificate, and fills the output.
 */
#include <wolfssl/options.h>

#include <dirent.h>
#include <stdarg.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cert.h"
#include "ct.h"
#include "names.h"
#include "checkrun.h"
#include "probe.h"
#include "util.h"

#define CHECK_DEFAULT_TIMEOUT_MS 30000
#define CHECK_DEFAULT_GRACE_S (60 * 60)
#define CHECK_DEFAULT_MAX_DOWNLOADS 100
#define CHECK_MAX_ISSUER_FILES 1000

void
checkrun_defaults(struct check_cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->sources = CHECK_SRC_CRTSH;
	cfg->grace_s = CHECK_DEFAULT_GRACE_S;
	cfg->timeout_ms = CHECK_DEFAULT_TIMEOUT_MS;
	cfg->source_error_state = OUTPUT_UNKNOWN;
	cfg->agent_error_state = OUTPUT_UNKNOWN;
	cfg->max_downloads = CHECK_DEFAULT_MAX_DOWNLOADS;
	cfg->crtsh_rate = -1;
}

/* mkdir -p with mode for the last component. */
static int
mkdirs(const char *path, mode_t mode)
{
	char buf[CHECK_PATH_BYTES];
	size_t i, len = strlen(path);

	if (len == 0 || len >= sizeof(buf))
		return CT_ERR_INVALID;
	memcpy(buf, path, len + 1);
	for (i = 1; i <= len; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, i == len ? mode : 0755) != 0 && errno != EEXIST)
			return CT_ERR_IO;
		buf[i] = path[i];
	}
	return 0;
}

static void
sanitized(const char *in, char *out, size_t outsz)
{
	util_sanitize(in, strlen(in), out, outsz);
}

/* Adds every certificate of one file to *v. */
static int
load_certs_into(const char *path, struct ct_cert ***v, size_t *n)
{
	struct ct_cert **certs = NULL, **grown;
	size_t k = 0, i;
	int rc;

	if ((rc = cert_load_file(path, &certs, &k)) != 0)
		return rc;
	if ((grown = realloc(*v, (*n + k) * sizeof(*grown))) == NULL) {
		cert_free_all(certs, k);
		return CT_ERR_NOMEM;
	}
	*v = grown;
	for (i = 0; i < k; i++)
		(*v)[(*n)++] = certs[i];
	free(certs);
	return 0;
}

/* Whether a name in a directory looks like a certificate file. */
static bool
cert_file_name(const char *name)
{
	static const char *const ext[] = {".pem", ".crt", ".cer", ".der"};
	size_t len = strlen(name), i;

	for (i = 0; i < sizeof(ext) / sizeof(ext[0]); i++)
		if (len > 4 && strcmp(name + len - 4, ext[i]) == 0)
			return true;
	return false;
}

/*
 * Calls cb for each regular file named by path: the file itself, or the
 * certificate files (.pem .crt .cer .der) of a directory (one level, names
 * sorted, key files skipped).
 */
static int
each_file(const char *path, int (*cb)(void *arg, const char *file), void *arg,
    char *why, size_t whysz)
{
	struct dirent **ents = NULL;
	struct stat st;
	char file[CHECK_PATH_BYTES];
	int n, i, rc = 0;

	if (stat(path, &st) != 0) {
		snprintf(why, whysz, "%s", strerror(errno));
		return CT_ERR_IO;
	}
	if (!S_ISDIR(st.st_mode))
		return cb(arg, path);
	if ((n = scandir(path, &ents, NULL, alphasort)) < 0) {
		snprintf(why, whysz, "%s", strerror(errno));
		return CT_ERR_IO;
	}
	for (i = 0; i < n; i++) {
		if (rc == 0 && ents[i]->d_name[0] != '.' &&
		    !scan_is_key_name(ents[i]->d_name) &&
		    cert_file_name(ents[i]->d_name) &&
		    snprintf(file, sizeof(file), "%s/%s", path,
		        ents[i]->d_name) < (int)sizeof(file) &&
		    stat(file, &st) == 0 && S_ISREG(st.st_mode))
			rc = cb(arg, file);
		free(ents[i]);
	}
	free(ents);
	return rc;
}

struct issuer_load {
	struct run *r;
	size_t files;
};

static int
issuer_file(void *arg, const char *file)
{
	struct issuer_load *il = arg;
	char f[512];
	int rc;

	if (++il->files > CHECK_MAX_ISSUER_FILES)
		return CT_ERR_TOO_BIG;
	rc = load_certs_into(file, &il->r->trusted, &il->r->n_trusted);
	if (rc != 0 && rc != CT_ERR_NOT_FOUND) {
		sanitized(file, f, sizeof(f));
		output_add(il->r->out, OUTPUT_UNKNOWN,
		    "trusted issuer file %s: %s", f, ct_strerror(rc));
	}
	return 0;
}

static void
load_trusted(struct run *r)
{
	struct issuer_load il = {r, 0};
	char why[256] = "", p[512];
	size_t i;
	int rc;

	for (i = 0; i < r->cfg->n_trusted; i++) {
		rc = each_file(r->cfg->trusted[i], issuer_file, &il, why,
		    sizeof(why));
		if (rc != 0) {
			sanitized(r->cfg->trusted[i], p, sizeof(p));
			output_add(r->out, OUTPUT_UNKNOWN,
			    "--trusted-issuer-certs %s: %s", p,
			    why[0] ? why : ct_strerror(rc));
		}
	}
	if (r->cfg->n_trusted > 0 && r->n_trusted == 0)
		output_add(r->out, OUTPUT_UNKNOWN,
		    "--trusted-issuer-certs: no certificate found, so no "
		    "issuer can be trusted");
}

static void
scan_log(void *arg, const char *fmt, ...)
{
	struct run *r = arg;
	char line[OUTPUT_MAX_LINE_BYTES];
	va_list ap;

	if (r->cfg->verbose == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	output_add(r->out, OUTPUT_OK, "local certificates: %s", line);
}

/* --local-certs: files or directories, walked as the agent walks them. */
static void
load_local(struct run *r)
{
	struct scan_opts so;
	const char *const *roots = r->cfg->local;
	size_t i;
	int rc;

	if (r->cfg->n_local == 0)
		return;
	memset(&so, 0, sizeof(so));
	so.roots = roots;
	so.n_roots = r->cfg->n_local;
	so.now = r->now;
	so.log = scan_log;
	so.log_arg = r;
	so.verbose = r->cfg->verbose > 1;
	if ((rc = scan_run(&so, &r->local)) != 0) {
		output_add(r->out, OUTPUT_UNKNOWN, "--local-certs: %s",
		    ct_strerror(rc));
		return;
	}
	for (i = 0; i < r->local->n_roots; i++) {
		char p[512];

		if (r->local->roots[i].found)
			continue;
		sanitized(r->local->roots[i].path, p, sizeof(p));
		output_add(r->out, OUTPUT_UNKNOWN,
		    "--local-certs %s: not found", p);
	}
	for (i = 0; i < r->local->n_certs; i++)
		known_add(&r->known, r->local->certs[i].cert->tbs_sha256,
		    "--local-certs");
	if (r->local->n_certs == 0)
		output_add(r->out, OUTPUT_UNKNOWN,
		    "--local-certs: no certificate found");
}

static int
db_known(const struct store_rec *rec, void *arg)
{
	struct run *r = arg;

	known_add(&r->known, rec->tbs_sha256, "--db");
	return 0;
}

static int
open_stores(struct run *r)
{
	char path[CHECK_PATH_BYTES + 16], p[512]; /* the state dir + "/known" */
	int rc;

	if ((rc = opts_state_dir(r->cfg->state_dir, r->state,
	         sizeof(r->state))) != 0 ||
	    (rc = mkdirs(r->state, 0700)) != 0) {
		sanitized(r->state, p, sizeof(p));
		output_add(r->out, OUTPUT_UNKNOWN, "state dir %s: %s", p,
		    rc == CT_ERR_IO ? strerror(errno) : ct_strerror(rc));
		return rc;
	}
	snprintf(path, sizeof(path), "%s/seen", r->state);
	if ((rc = store_open(path, NULL, &r->seen)) != 0) {
		sanitized(path, p, sizeof(p));
		output_add(r->out, OUTPUT_UNKNOWN, "store %s: %s", p,
		    rc == CT_ERR_IO ? strerror(errno) : ct_strerror(rc));
		return rc;
	}
	if (r->cfg->db != NULL)
		snprintf(path, sizeof(path), "%s", r->cfg->db);
	else
		snprintf(path, sizeof(path), "%s/known", r->state);
	if ((rc = store_open(path, NULL, &r->db)) != 0) {
		sanitized(path, p, sizeof(p));
		output_add(r->out, OUTPUT_UNKNOWN, "--db %s: %s", p,
		    rc == CT_ERR_IO ? strerror(errno) : ct_strerror(rc));
		return rc;
	}
	store_foreach(r->db, db_known, r);
	return 0;
}

int
checkrun_seen(struct run *r, const struct ct_cert *c, const char *where,
    int64_t logged)
{
	struct ct_sct scts[CT_MAX_SCTS];
	int64_t first = logged < r->now ? logged : r->now;
	bool added = false;
	size_t n = 0, i;
	int rc;

	/*
	 * A forged SCT can only make the certificate look older, and so its
	 * verdict harsher (CRITICAL rather than WARNING): fail-safe.
	 */
	if (c->sct_list != NULL &&
	    ct_sct_list_parse(c->sct_list, c->sct_list_len, scts, CT_MAX_SCTS,
	        &n) == 0)
		for (i = 0; i < n; i++)
			if ((int64_t)(scts[i].timestamp / 1000) < first)
				first = (int64_t)(scts[i].timestamp / 1000);
	rc = store_put(r->seen, c, where, first, &added);
	if (rc == 0 && added)
		r->seen_new++;
	return rc;
}

static int
logged_file(void *arg, const char *file)
{
	struct run *r = arg;
	struct ct_cert **certs = NULL;
	size_t n = 0, i;
	char where[CHECK_PATH_BYTES + 32], f[512];
	int rc;

	if ((rc = cert_load_file(file, &certs, &n)) != 0) {
		sanitized(file, f, sizeof(f));
		output_add(r->out, r->cfg->source_error_state,
		    "--logged-certs %s: %s", f,
		    rc == CT_ERR_NOT_FOUND ? "no certificate"
		                           : ct_strerror(rc));
		return 0;
	}
	snprintf(where, sizeof(where), "logged-certs %s", file);
	for (i = 0; i < n; i++) {
		if (certs[i]->is_ca)
			continue;
		r->logged++;
		if ((rc = checkrun_seen(r, certs[i], where, r->now)) != 0) {
			output_add(r->out, OUTPUT_UNKNOWN,
			    "cannot record a logged certificate: %s",
			    ct_strerror(rc));
			break;
		}
	}
	cert_free_all(certs, n);
	return 0;
}

static void
load_logged(struct run *r)
{
	char why[256] = "", p[512];
	size_t i;
	int rc;

	for (i = 0; i < r->cfg->n_logged; i++) {
		rc = each_file(r->cfg->logged[i], logged_file, r, why,
		    sizeof(why));
		if (rc != 0) {
			sanitized(r->cfg->logged[i], p, sizeof(p));
			output_add(r->out, r->cfg->source_error_state,
			    "--logged-certs %s: %s", p,
			    why[0] ? why : ct_strerror(rc));
		}
	}
}

/* --learn: the local certificates become known in --db. */
static void
learn_local(struct run *r)
{
	size_t i, learned = 0;
	char where[CHECK_PATH_BYTES + 64];
	bool added;
	int rc;

	if (!r->cfg->learn || r->local == NULL)
		return;
	for (i = 0; i < r->local->n_certs; i++) {
		snprintf(where, sizeof(where), "learned from --local-certs %s",
		    r->local->certs[i].path);
		rc = store_put(r->db, r->local->certs[i].cert, where, r->now,
		    &added);
		if (rc != 0) {
			output_add(r->out, OUTPUT_UNKNOWN,
			    "--learn: cannot record into --db: %s",
			    ct_strerror(rc));
			return;
		}
		learned += added;
	}
	output_add(r->out, OUTPUT_OK,
	    "--learn: %zu local certificates recorded in --db (%zu new)",
	    r->local->n_certs, learned);
}

/* --accept-existing and --interactive see each unknown record here. */
static void
on_unknown(void *arg, const struct store_rec *rec, bool untrusted, bool young)
{
	struct run *r = arg;
	struct ct_cert *c = NULL;
	bool accept = r->cfg->accept_existing, added;
	char line[32];

	if (r->cfg->interactive) {
		verdict_report(r->out, r->seen, rec, untrusted, young, r->vo);
		fprintf(stderr, "%s\nAccept this certificate as known (y/N)? ",
		    r->out->lines[r->out->n - 1].text);
		accept = fgets(line, sizeof(line), stdin) != NULL &&
		    (line[0] == 'y' || line[0] == 'Y');
		if (accept) {
			/* The report line goes: it is no finding any more. */
			free(r->out->lines[--r->out->n].text);
			r->out->state = OUTPUT_OK;
			for (size_t i = 0; i < r->out->n; i++)
				r->out->state = output_worse(r->out->state,
				    r->out->lines[i].state);
		}
	}
	/*
	 * The baseline never takes a certificate from an issuer outside
	 * --trusted-issuer-certs: that one needs a person's yes.
	 */
	if (accept && untrusted && r->cfg->accept_existing) {
		accept = false;
		r->refused_baseline++;
	}
	if (!accept) {
		if (!r->cfg->interactive)
			verdict_report(r->out, r->seen, rec, untrusted, young,
			    r->vo);
		return;
	}
	if (store_load_cert(r->seen, rec->tbs_sha256, &c) != 0 ||
	    store_put(r->db, c,
	        r->cfg->interactive ? "accepted interactively"
	                            : "accepted by --accept-existing",
	        r->now, &added) != 0) {
		output_add(r->out, OUTPUT_UNKNOWN,
		    "cannot record an accepted certificate in --db");
		verdict_report(r->out, r->seen, rec, untrusted, young, r->vo);
	} else {
		r->accepted++;
	}
	cert_free(c);
}

static void
judge(struct run *r)
{
	struct verdict_opts vo;
	struct verdict_counts vc = {0};
	char t[32], ws[300];
	size_t i, o = 0;

	memset(&vo, 0, sizeof(vo));
	vo.watches = r->cfg->watches;
	vo.n_watches = r->cfg->n_watches;
	vo.trusted = r->trusted;
	vo.n_trusted = r->n_trusted;
	vo.now = r->now;
	vo.grace_s = r->cfg->grace_s;
	vo.include_expired = r->cfg->include_expired;
	vo.unproven_agent = r->failed_agent[0] ? r->failed_agent : NULL;
	vo.unproven_state = r->cfg->agent_error_state;
	r->vo = &vo;
	if (r->cfg->accept_existing || r->cfg->interactive) {
		vo.unknown_cb = on_unknown;
		vo.unknown_arg = r;
	}
	if (r->cfg->interactive && !isatty(STDIN_FILENO)) {
		output_add(r->out, OUTPUT_UNKNOWN,
		    "--interactive needs a terminal on stdin; nothing was "
		    "accepted");
		vo.unknown_cb = NULL;
	}
	verdict_run(&vo, &r->known, r->seen, r->out, &vc);
	r->vo = NULL;
	if (r->accepted > 0 || r->cfg->accept_existing)
		output_add(r->out, OUTPUT_OK,
		    "%zu certificates accepted as known into --db%s",
		    r->accepted,
		    r->cfg->accept_existing ? " (first-run baseline)" : "");
	if (r->refused_baseline > 0)
		output_add(r->out, OUTPUT_CRITICAL,
		    "%zu certificates from untrusted issuers were not "
		    "accepted into the baseline: check them, then use "
		    "--interactive or ct-agent --import",
		    r->refused_baseline);
	for (i = 0; i < r->cfg->n_watches && o + 8 < sizeof(ws); i++)
		o += (size_t)snprintf(ws + o, sizeof(ws) - o, "%s%s%s",
		    i ? ", " : "", r->cfg->watches[i].subdomains ? "." : "",
		    r->cfg->watches[i].name);
	if (vc.unknown > r->accepted) {
		size_t bad = vc.unknown - r->accepted;

		output_summary(r->out,
		    "%s: %zu certificate%s in CT on none of your servers%s%s",
		    ws, bad, bad == 1 ? "" : "s",
		    vc.untrusted ? " (untrusted issuer: see below)" : "",
		    vc.unproven ? " that answered (an agent could not be "
		                  "asked)"
		                : "");
	} else if (r->out->state == OUTPUT_OK) {
		output_summary(r->out, "%s: %zu certificate%s in CT, all known",
		    ws, vc.ct_certs, vc.ct_certs == 1 ? "" : "s");
	} else {
		/* No unknown certificate, but something else: say what. */
		const char *why = "";

		for (i = 0; i < r->out->n; i++)
			if (r->out->lines[i].state == r->out->state) {
				why = r->out->lines[i].text;
				break;
			}
		output_summary(r->out, "%s: %s%s", ws, why,
		    r->out->state == OUTPUT_UNKNOWN
		        ? " (so CT could not be fully checked)"
		        : "");
	}
	snprintf(t, sizeof(t), "%zu", vc.ct_certs);
	output_perf(r->out, "ct_certs", t, NULL, NULL, NULL, "0", NULL);
	snprintf(t, sizeof(t), "%zu", vc.unknown - r->accepted);
	output_perf(r->out, "unknown", t, NULL, NULL, "0", "0", NULL);
	snprintf(t, sizeof(t), "%zu", vc.untrusted);
	output_perf(r->out, "untrusted", t, NULL, NULL, "0", "0", NULL);
}

/* A probe-only run: the summary is its worst line. */
static void
summary_from_lines(struct run *r)
{
	size_t i;

	for (i = 0; i < r->out->n; i++)
		if (r->out->lines[i].state == r->out->state) {
			output_summary(r->out, "%s", r->out->lines[i].text);
			return;
		}
	output_summary(r->out, "nothing was checked");
}

static void
perf_tail(struct run *r)
{
	char t[32], total[32];

	snprintf(total, sizeof(total), "%zu", r->cfg->n_agents);
	snprintf(t, sizeof(t), "%zu", r->agents_ok);
	output_perf(r->out, "agents_ok", t, NULL, NULL, NULL, "0", total);
	snprintf(t, sizeof(t), "%zu", r->agents_failed);
	output_perf(r->out, "agents_failed", t, NULL, NULL, NULL, "0", total);
	snprintf(t, sizeof(t), "%.3f",
	    (double)(util_now_ms() - r->t0_ms) / 1000.0);
	output_perf(r->out, "time", t, "s", NULL, NULL, "0", NULL);
}

void
checkrun(const struct check_cfg *cfg, struct output *out)
{
	struct run r;

	memset(&r, 0, sizeof(r));
	r.cfg = cfg;
	r.out = out;
	r.now = util_now();
	r.t0_ms = util_now_ms();
	known_init(&r.known);
	if (open_stores(&r) != 0) {
		output_summary(out, "cannot open the state directory");
		goto out;
	}
	load_trusted(&r);
	load_local(&r);
	learn_local(&r);
	load_logged(&r);
	if (cfg->sources != 0 || cfg->n_agents > 0 ||
	    probe_opts_active(cfg->probe))
		checkrun_network(&r);
	if (cfg->judge_ct)
		judge(&r);
	else
		summary_from_lines(&r);
out:
	perf_tail(&r);
	known_clear(&r.known);
	cert_free_all(r.trusted, r.n_trusted);
	scan_result_free(r.local);
	store_free(r.seen);
	store_free(r.db);
}
