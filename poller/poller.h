/*
 * The poller's programs (ctctl, check_ct) and what their files export.
 */
#ifndef CT_POLLER_H
#define CT_POLLER_H

#ifndef CT_VERSION
#define CT_VERSION "0.1.0"
#endif

/* ctctl exit statuses. */
#define POLLER_EXIT_OK 0
#define POLLER_EXIT_FAIL 1  /* the command ran and something failed */
#define POLLER_EXIT_USAGE 2 /* bad command line */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cert.h"
#include "names.h"
#include "util.h"

/* output.c: plugin output (Monitoring Plugins conventions). */
#define OUTPUT_MAX_BYTES 8000 /* everything, under Nagios' 8 KiB */
#define OUTPUT_MAX_LINES 10000
#define OUTPUT_MAX_LINE_BYTES 1024
#define OUTPUT_MAX_PERF_BYTES 2048
#define OUTPUT_MAX_PERF_ITEM_BYTES 256
#define OUTPUT_MAX_SUMMARY_BYTES 512

/* Exit codes of a plugin. */
enum output_state {
	OUTPUT_OK = 0,
	OUTPUT_WARNING = 1,
	OUTPUT_CRITICAL = 2,
	OUTPUT_UNKNOWN = 3,
	OUTPUT__MAX
};

extern const char *const output_state_names[OUTPUT__MAX];

struct output_line {
	enum output_state state;
	size_t seq;
	char *text;
};

struct output {
	enum output_state state; /* the worst so far */
	char summary[OUTPUT_MAX_SUMMARY_BYTES];
	struct output_line *lines;
	size_t n, cap, dropped;
	char perf[OUTPUT_MAX_PERF_BYTES];
	size_t perf_len;
};

/* OK < UNKNOWN < WARNING < CRITICAL. */
enum output_state output_worse(enum output_state a, enum output_state b);
void output_init(struct output *o);
void output_clear(struct output *o);
/* A finding line; raises the state. Text is cleaned of '|' and controls. */
int output_add(struct output *o, enum output_state st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void output_summary(struct output *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* One perfdata item; NULL fields are left empty. */
int output_perf(struct output *o, const char *label, const char *value,
    const char *uom, const char *warn, const char *crit, const char *min,
    const char *max);
/* The whole text, worst lines first, within OUTPUT_MAX_BYTES. */
int output_render(struct output *o, struct util_buf *out);
int output_exit_code(const struct output *o);

/* verdict.c: the known set and the judgement of CT certificates. */
#define KNOWN_MAX_ENTRIES 1000000

#define KNOWN_ORIGIN_BYTES 96

struct known_entry {
	uint8_t tbs[32];
	char origin[KNOWN_ORIGIN_BYTES]; /* "agent web1", "--local-certs" */
};

struct known {
	struct known_entry *v;
	size_t n, cap;
	bool sorted;
};

struct store;
struct store_rec;

struct verdict_opts {
	const struct names_watch *watches;
	size_t n_watches;
	struct ct_cert *const *trusted; /* trusted issuers; none: no check */
	size_t n_trusted;
	int64_t now;
	int64_t grace_s;
	bool include_expired;
	/*
	 * When an agent could not be asked, a certificate none of the others
	 * has may still be its: not CRITICAL then, but unproven_state (the
	 * --agent-error-state), naming the agent. Untrusted issuers stay
	 * CRITICAL.
	 */
	const char *unproven_agent; /* NULL: every agent answered */
	enum output_state unproven_state;
	/* Called for each unknown record instead of reporting it. */
	void (*unknown_cb)(void *arg, const struct store_rec *r, bool untrusted,
	    bool young);
	void *unknown_arg;
};

struct verdict_counts {
	size_t ct_certs; /* matching, not expired (or included) */
	size_t known;
	size_t unknown; /* includes untrusted and young */
	size_t untrusted;
	size_t young;
	size_t unproven; /* unknown while an agent could not be asked */
	size_t expired;  /* ignored */
};

void known_init(struct known *k);
void known_clear(struct known *k);
int known_add(struct known *k, const uint8_t tbs[32], const char *origin);
const char *known_find(struct known *k, const uint8_t tbs[32]);
const struct names_watch *verdict_match(const struct names_watch *w, size_t nw,
    const struct cert_name *names, size_t n_names, enum names_match *why);
/* Judges every record of seen against the known set, into out. */
int verdict_run(const struct verdict_opts *o, struct known *known,
    const struct store *seen, struct output *out, struct verdict_counts *vc);
void verdict_report(struct output *out, const struct store *seen,
    const struct store_rec *r, bool untrusted, bool young,
    const struct verdict_opts *o);

/* check_ct.c, checkrun.c: one run of the plugin. */
#define CHECK_MAX_WATCHES 64
#define CHECK_MAX_AGENTS 256
#define CHECK_MAX_PATHS 256
#define CHECK_SRC_CRTSH 0x1
#define CHECK_SRC_CERTSPOTTER 0x2

struct check_cfg {
	struct names_watch watches[CHECK_MAX_WATCHES];
	size_t n_watches;
	bool subdomains;
	const char *agents[CHECK_MAX_AGENTS];
	size_t n_agents;
	const char *config;
	unsigned sources; /* CHECK_SRC_* */
	bool source_given;
	const char *crtsh_url;
	const char *certspotter_url;
	const char *certspotter_token_file;
	bool include_expired;
	const char *trusted[CHECK_MAX_PATHS];
	size_t n_trusted;
	const char *local[CHECK_MAX_PATHS];
	size_t n_local;
	const char *db;
	bool learn;
	bool interactive;
	bool accept_existing;
	const char *logged[CHECK_MAX_PATHS];
	size_t n_logged;
	int64_t grace_s;
	const char *state_dir;
	enum output_state source_error_state;
	enum output_state agent_error_state;
	unsigned max_downloads;
	int crtsh_rate; /* requests a minute; -1: crtsh_rate_default */
	bool allow_http;
	uint32_t timeout_ms;
	int verbose;
	/* Remote probes (probe.h); never NULL after check_ct's parsing. */
	struct probe_opts *probe;
	/*
	 * Judge what CT holds against the known set. Off for a probe-only
	 * run (the older remote tool's command line): with nothing known,
	 * every logged certificate would look unknown.
	 */
	bool judge_ct;
};

void checkrun_defaults(struct check_cfg *cfg);
/* Runs the check; everything it finds goes into out. */
void checkrun(const struct check_cfg *cfg, struct output *out);

/* opts.c */
int opts_state_dir(const char *given, char *out, size_t outsz);
int opts_parse_sources(const char *s, unsigned *out);
int opts_parse_state(const char *s, enum output_state *out);

/* lookup.c: ctctl lookup */
int lookup_main(int argc, char **argv);

/* inspect.c */
int inspect_main(int argc, char **argv);

#endif
