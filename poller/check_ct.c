/*
 * check_ct: the Icinga/Nagios plugin (DESIGN.md section 5). Finds
 * certificates in Certificate Transparency for the watched names that
 * none of the operator's servers has, and says so in one check result.
 *
 * main() parses the command line, runs the check and maps the result to
 * the exit code; the work is in checkrun.c.
 */
#include <wolfssl/options.h>

#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "poller.h"
#include "probe.h"
#include "ratelimit.h"

static const char usage_text[] =
    "Usage: check_ct -H NAME [-H NAME]... [--subdomains]\n"
    "       [--agent AGENT]... [--config FILE] [--source crtsh,certspotter]\n"
    "       [--trusted-issuer-certs PATH...] [--local-certs PATH]...\n"
    "       [--db DIR] [--learn] [--accept-existing] [--interactive]\n"
    "       [--logged-certs PATH]... [--grace MINUTES] [--include-expired]\n"
    "       [--state-dir DIR] [-t SECONDS] [-v]\n";

static void
help(void)
{
	printf(
	    "check_ct %s: certificates in CT that none of my servers has\n\n",
	    CT_VERSION);
	fputs(usage_text, stdout);
	fputs(PROBE_USAGE, stdout);
	puts(
	    "\n"
	    "Watched names\n"
	    " -H, --hostname NAME        a name to watch (repeatable); a leading\n"
	    "                            dot watches the name and all below it\n"
	    " --subdomains               watch every name below each -H too\n"
	    "Where the operator's certificates are known\n"
	    " --agent AGENT              ask the ct-agent named in the config\n"
	    " --config FILE              poller config (default\n"
	    "                            ~/.config/ct/ct.conf, /etc/ct/ct.conf)\n"
	    " --local-certs PATH         certificate files or directories\n"
	    " --db DIR                   the check's own store of accepted\n"
	    "                            certificates (default STATE/known)\n"
	    " --learn                    record --local-certs into --db\n"
	    " --accept-existing          record every certificate now in CT as\n"
	    "                            known, once (first-run baseline)\n"
	    " --interactive              ask on a terminal about each unknown one\n"
	    "Where CT is read\n"
	    " --source LIST              crtsh, certspotter, or both (default\n"
	    "                            crtsh); queried at the same time\n"
	    " --crtsh-url URL, --certspotter-url URL   base URLs\n"
	    " --certspotter-token-file FILE   API token (or CT_CERTSPOTTER_TOKEN)\n"
	    " --logged-certs PATH        read CT certificates from files instead\n"
	    " --include-expired          judge expired certificates too\n"
	    " --max-downloads N          crt.sh downloads per run (default 100)\n"
	    " --crtsh-rate N             crt.sh requests a minute, shared by all\n"
	    "                            runs on the state directory (default\n"
	    "                            60 for crt.sh, none for another URL;\n"
	    "                            0: no limit)\n"
	    "Verdicts\n"
	    " --trusted-issuer-certs PATH...   issuers allowed to sign for you\n"
	    " --grace MINUTES            unknown certificates younger than this\n"
	    "                            are WARNING, not CRITICAL (default 60)\n"
	    " --source-error-state S, --agent-error-state S\n"
	    "                            state when one cannot be asked\n"
	    "                            (OK, WARNING, CRITICAL, UNKNOWN)\n"
	    "Remote probes (the served certificate)");
	fputs(probe_help_text, stdout);
	puts(
	    "Run\n"
	    " --state-dir DIR            state shared by runs (default\n"
	    "                            $XDG_STATE_HOME/check_ct,\n"
	    "                            /var/lib/check_ct as root)\n"
	    " -t, --timeout SECONDS      whole run (default 30)\n"
	    " -v, --verbose              more detail (repeatable)\n"
	    " -h, --help                 this text;  -V, --version\n"
	    "\n"
	    "States: CRITICAL a certificate in CT for your names that no server\n"
	    "has (or from an issuer you do not trust); WARNING one that is younger\n"
	    "than the grace period; UNKNOWN a source or agent could not be asked.\n"
	    "The exit code is 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.");
}

static int
add_path(const char **v, size_t *n, size_t max, const char *p)
{
	if (*n == max)
		return CT_ERR_TOO_BIG;
	v[(*n)++] = p;
	return 0;
}

/*
 * The older tool took "--trusted-issuer-certs A B C" (argparse nargs='+').
 * getopt takes one value, so every further argument up to the next
 * option is rewritten into its own "--trusted-issuer-certs X". A repeated
 * option accumulates (argparse replaced; accumulating is the sane fix).
 * Unambiguous prefixes ("--trusted") are recognised as getopt would.
 */
static bool
is_trusted_opt(const char *a)
{
	static const char opt[] = "--trusted-issuer-certs";
	size_t len = strcspn(a, "=");

	return len >= 5 && len <= sizeof(opt) - 1 && strncmp(a, opt, len) == 0;
}

static char **
expand_nargs(int argc, char **argv, int *nargc)
{
	char **v;
	int i, o = 0;
	bool in = false;

	if ((v = calloc((size_t)argc * 2 + 1, sizeof(*v))) == NULL)
		return NULL;
	v[o++] = argv[0];
	for (i = 1; i < argc; i++) {
		if (argv[i][0] == '-') {
			in = is_trusted_opt(argv[i]);
			v[o++] = argv[i];
			/* Its first value, when not given with '='. */
			if (in && strchr(argv[i], '=') == NULL && i + 1 < argc)
				v[o++] = argv[++i];
			continue;
		}
		if (in)
			v[o++] = (char *)"--trusted-issuer-certs";
		v[o++] = argv[i];
	}
	*nargc = o;
	return v;
}

static int usage_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static int
usage_error(const char *fmt, ...)
{
	va_list ap;

	printf("CT UNKNOWN - usage: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n%s", usage_text);
	return OUTPUT_UNKNOWN;
}

enum {
	OPT_SUBDOMAINS = 256,
	OPT_AGENT,
	OPT_CONFIG,
	OPT_SOURCE,
	OPT_CRTSH_URL,
	OPT_CERTSPOTTER_URL,
	OPT_CERTSPOTTER_TOKEN_FILE,
	OPT_INCLUDE_EXPIRED,
	OPT_TRUSTED,
	OPT_LOCAL,
	OPT_DB,
	OPT_LEARN,
	OPT_INTERACTIVE,
	OPT_ACCEPT,
	OPT_LOGGED,
	OPT_GRACE,
	OPT_STATE_DIR,
	OPT_SOURCE_ERROR_STATE,
	OPT_AGENT_ERROR_STATE,
	OPT_MAX_DOWNLOADS,
	OPT_CRTSH_RATE,
	OPT_ALLOW_HTTP,
};

static const struct option longopts[] = {
    {"hostname", required_argument, NULL, 'H'},
    {"subdomains", no_argument, NULL, OPT_SUBDOMAINS},
    {"agent", required_argument, NULL, OPT_AGENT},
    {"config", required_argument, NULL, OPT_CONFIG},
    {"source", required_argument, NULL, OPT_SOURCE},
    {"crtsh-url", required_argument, NULL, OPT_CRTSH_URL},
    {"certspotter-url", required_argument, NULL, OPT_CERTSPOTTER_URL},
    {"certspotter-token-file", required_argument, NULL,
        OPT_CERTSPOTTER_TOKEN_FILE},
    {"include-expired", no_argument, NULL, OPT_INCLUDE_EXPIRED},
    {"trusted-issuer-certs", required_argument, NULL, OPT_TRUSTED},
    {"local-certs", required_argument, NULL, OPT_LOCAL},
    {"db", required_argument, NULL, OPT_DB},
    {"learn", no_argument, NULL, OPT_LEARN},
    {"interactive", no_argument, NULL, OPT_INTERACTIVE},
    {"accept-existing", no_argument, NULL, OPT_ACCEPT},
    {"logged-certs", required_argument, NULL, OPT_LOGGED},
    {"grace", required_argument, NULL, OPT_GRACE},
    {"state-dir", required_argument, NULL, OPT_STATE_DIR},
    {"source-error-state", required_argument, NULL, OPT_SOURCE_ERROR_STATE},
    {"agent-error-state", required_argument, NULL, OPT_AGENT_ERROR_STATE},
    {"max-downloads", required_argument, NULL, OPT_MAX_DOWNLOADS},
    {"crtsh-rate", required_argument, NULL, OPT_CRTSH_RATE},
    /* Plain http for loopback test fixtures; not in --help. */
    {"allow-http", no_argument, NULL, OPT_ALLOW_HTTP},
    {"timeout", required_argument, NULL, 't'},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    PROBE_LONGOPTS,
    {NULL, 0, NULL, 0},
};

static int
parse_uint(const char *s, uint64_t max, uint64_t *v)
{
	return util_parse_u64(s, strlen(s), max, v);
}

/* Returns -1 to go on, or the exit code. */
static int
parse_args(int argc, char **argv, struct check_cfg *cfg)
{
	const char *names[CHECK_MAX_WATCHES];
	size_t n_names = 0, i;
	char why[256];
	uint64_t v;
	int ch;

	opterr = 0; /* our own message, on stdout */
	while ((ch = getopt_long(argc, argv, ":H:t:vhVw:c:", longopts, NULL)) !=
	    -1) {
		if ((ch >= PROBE_OPT_FIRST && ch < PROBE_OPT__LAST) ||
		    ch == 'w' || ch == 'c') {
			if (probe_opt(cfg->probe, ch, optarg, why,
			        sizeof(why)) != 0)
				return usage_error("%s", why);
			continue;
		}
		switch (ch) {
		case 'H':
			if (add_path(names, &n_names, CHECK_MAX_WATCHES,
			        optarg) != 0)
				return usage_error("too many -H");
			break;
		case OPT_SUBDOMAINS:
			cfg->subdomains = true;
			break;
		case OPT_AGENT:
			if (add_path(cfg->agents, &cfg->n_agents,
			        CHECK_MAX_AGENTS, optarg) != 0)
				return usage_error("too many --agent");
			break;
		case OPT_CONFIG:
			cfg->config = optarg;
			break;
		case OPT_SOURCE:
			if (opts_parse_sources(optarg, &cfg->sources) != 0)
				return usage_error("--source %s: want crtsh, "
				                   "certspotter or both",
				    optarg);
			cfg->source_given = true;
			break;
		case OPT_CRTSH_URL:
			cfg->crtsh_url = optarg;
			break;
		case OPT_CERTSPOTTER_URL:
			cfg->certspotter_url = optarg;
			break;
		case OPT_CERTSPOTTER_TOKEN_FILE:
			cfg->certspotter_token_file = optarg;
			break;
		case OPT_INCLUDE_EXPIRED:
			cfg->include_expired = true;
			break;
		case OPT_TRUSTED:
			if (add_path(cfg->trusted, &cfg->n_trusted,
			        CHECK_MAX_PATHS, optarg) != 0)
				return usage_error("too many issuer paths");
			break;
		case OPT_LOCAL:
			if (add_path(cfg->local, &cfg->n_local, CHECK_MAX_PATHS,
			        optarg) != 0)
				return usage_error("too many --local-certs");
			break;
		case OPT_DB:
			cfg->db = optarg;
			break;
		case OPT_LEARN:
			cfg->learn = true;
			break;
		case OPT_INTERACTIVE:
			cfg->interactive = true;
			break;
		case OPT_ACCEPT:
			cfg->accept_existing = true;
			break;
		case OPT_LOGGED:
			if (add_path(cfg->logged, &cfg->n_logged,
			        CHECK_MAX_PATHS, optarg) != 0)
				return usage_error("too many --logged-certs");
			break;
		case OPT_GRACE:
			if (parse_uint(optarg, 100000000, &v) != 0)
				return usage_error("--grace %s: want minutes",
				    optarg);
			cfg->grace_s = (int64_t)v * 60;
			break;
		case OPT_STATE_DIR:
			cfg->state_dir = optarg;
			break;
		case OPT_SOURCE_ERROR_STATE:
			if (opts_parse_state(optarg,
			        &cfg->source_error_state) != 0)
				return usage_error("--source-error-state %s",
				    optarg);
			break;
		case OPT_AGENT_ERROR_STATE:
			if (opts_parse_state(optarg, &cfg->agent_error_state) !=
			    0)
				return usage_error("--agent-error-state %s",
				    optarg);
			break;
		case OPT_MAX_DOWNLOADS:
			if (parse_uint(optarg, 100000, &v) != 0)
				return usage_error("--max-downloads %s",
				    optarg);
			cfg->max_downloads = (unsigned)v;
			break;
		case OPT_CRTSH_RATE:
			if (parse_uint(optarg, RATELIMIT_MAX_PER_MINUTE, &v) !=
			    0)
				return usage_error("--crtsh-rate %s", optarg);
			cfg->crtsh_rate = (int)v;
			break;
		case OPT_ALLOW_HTTP:
			cfg->allow_http = true;
			break;
		case 't':
			if (parse_uint(optarg, 3600, &v) != 0 || v == 0)
				return usage_error("-t %s: want seconds (1 to "
				                   "3600)",
				    optarg);
			cfg->timeout_ms = (uint32_t)v * 1000;
			break;
		case 'v':
			cfg->verbose++;
			break;
		case 'h':
			help();
			return OUTPUT_UNKNOWN;
		case 'V':
			printf("check_ct %s\n", CT_VERSION);
			return OUTPUT_UNKNOWN;
		case ':':
			return usage_error("%s needs a value",
			    argv[optind - 1]);
		default:
			return usage_error("unknown option %s",
			    optopt ? (char[]){'-', (char)optopt, '\0'}
			           : argv[optind - 1]);
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	if (n_names == 0)
		return usage_error("-H NAME is required");
	for (i = 0; i < n_names; i++) {
		if (names_watch_parse(names[i], strlen(names[i]),
		        cfg->subdomains, &cfg->watches[i]) != 0)
			return usage_error("-H %s: not a DNS name", names[i]);
	}
	cfg->n_watches = n_names;
	if (cfg->interactive && cfg->accept_existing)
		return usage_error("--interactive and --accept-existing "
		                   "exclude each other%s",
		    "");
	if (cfg->learn && cfg->n_local == 0)
		return usage_error("--learn records --local-certs: give "
		                   "them%s",
		    "");
	if (probe_opts_finish(cfg->probe, names[0], why, sizeof(why)) != 0)
		return usage_error("%s", why);
	/* The older tool's offline mode: files replace the network. */
	if (cfg->n_logged > 0 && !cfg->source_given)
		cfg->sources = 0;
	/*
	 * A probe alone (the older remote tool: --hostname --port) has no
	 * known set to judge CT against; it asks the sources only for
	 * --expect-crtsh / --expect-certspotter.
	 */
	cfg->judge_ct = !probe_opts_active(cfg->probe) || cfg->n_agents > 0 ||
	    cfg->n_local > 0 || cfg->n_logged > 0 || cfg->db != NULL ||
	    cfg->accept_existing || cfg->interactive || cfg->source_given;
	if (!cfg->judge_ct) {
		cfg->sources = 0;
		if (cfg->probe->expect & PROBE_SRC_CRTSH)
			cfg->sources |= CHECK_SRC_CRTSH;
		if (cfg->probe->expect & PROBE_SRC_CERTSPOTTER)
			cfg->sources |= CHECK_SRC_CERTSPOTTER;
	}
	return -1;
}

int
main(int argc, char **argv)
{
	struct check_cfg cfg;
	struct probe_opts po;
	struct output out;
	struct util_buf text;
	char **args, why[HTTP_ERROR_LEN];
	int nargs, rc;

	checkrun_defaults(&cfg);
	probe_opts_init(&po);
	cfg.probe = &po;
	if ((args = expand_nargs(argc, argv, &nargs)) == NULL) {
		printf("CT UNKNOWN - out of memory\n");
		return OUTPUT_UNKNOWN;
	}
	rc = parse_args(nargs, args, &cfg);
	if (rc >= 0) {
		free(args);
		return rc;
	}
	/* libuv does not ignore SIGPIPE; a write to a reset peer would kill. */
	signal(SIGPIPE, SIG_IGN);
	output_init(&out);
	if (http_global_init(why, sizeof(why)) != 0)
		output_add(&out, OUTPUT_UNKNOWN, "%s", why);
	else
		checkrun(&cfg, &out);
	util_buf_init(&text, 64 * 1024);
	if (output_render(&out, &text) != 0 || util_buf_cstr(&text) != 0) {
		printf("CT UNKNOWN - could not format the result\n");
		rc = OUTPUT_UNKNOWN;
	} else {
		fwrite(text.data, 1, text.len, stdout);
		rc = output_exit_code(&out);
	}
	fflush(stdout);
	http_global_cleanup();
	util_buf_clear(&text);
	output_clear(&out);
	free(args);
	return rc;
}
