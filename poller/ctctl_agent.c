/*
 * ctctl_agent: `ctctl keygen` (a new Ed25519 identity for a poller or an
 * agent) and `ctctl agent` (ask one agent for `info` or `certs NAME`, as
 * check_ct would, and explain any failure in one line).
 */
#include <wolfssl/options.h>

#include <errno.h>
#include <getopt.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uv.h>

#include "agentc.h"
#include "conf.h"
#include "ctctl_agent.h"
#include "json.h"
#include "keys.h"
#include "proto.h"
#include "tls.h"
#include "util.h"

#define EXIT_FAIL 1
#define EXIT_USAGE 2

#define CTCTL_KEY_USER_PATH ".config/ct/poller.key" /* below $HOME */
#define CTCTL_KEY_SYSTEM_PATH "/etc/ct/poller.key"
#define CTCTL_PATH_BYTES 4096
#define CTCTL_DEFAULT_TIMEOUT_S 10
#define CTCTL_MAX_TIMEOUT_S 3600
#define CTCTL_MAX_REPEAT 1000000
#define CTCTL_OUT_MAX_BYTES (64 * 1024 * 1024)
#define CTCTL_TEXT_MAX_BYTES 512 /* one value shown in text output */
#define CTCTL_TBS_PREFIX_HEX 16
#if CTCTL_TBS_PREFIX_HEX % 2 != 0 || CTCTL_TBS_PREFIX_HEX > 64
#error "CTCTL_TBS_PREFIX_HEX must be an even number of digits of a SHA-256"
#endif
#define CTCTL_KNOWN_AGENTS_SHOWN 8

/* ------------------------------------------------------------ helpers */

static const char *
home_dir(void)
{
	const char *h = getenv("HOME");
	struct passwd *pw;

	if (h != NULL && h[0] != '\0')
		return h;
	pw = getpwuid(getuid());
	return pw != NULL ? pw->pw_dir : NULL;
}

static int
join_path(char *out, size_t outsz, const char *dir, const char *rel)
{
	int n = snprintf(out, outsz, "%s%s%s", dir,
	    dir[0] != '\0' && dir[strlen(dir) - 1] == '/' ? "" : "/", rel);

	return n < 0 || (size_t)n >= outsz ? CT_ERR_TOO_BIG : 0;
}

static bool
file_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

/* mkdir -p of the directories above path, mode 0700 for new ones. */
static int
make_parents(const char *path)
{
	char buf[CTCTL_PATH_BYTES];
	size_t i, n = strlen(path);

	if (n >= sizeof(buf))
		return CT_ERR_TOO_BIG;
	memcpy(buf, path, n + 1);
	for (i = 1; i < n; i++) {
		if (buf[i] != '/')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, 0700) != 0 && errno != EEXIST)
			return CT_ERR_IO;
		buf[i] = '/';
	}
	return 0;
}

/* "user@host", or "" when either is unavailable or unfit for a comment. */
static void
default_comment(char *out, size_t outsz)
{
	char host[256];
	struct passwd *pw = getpwuid(getuid());
	char line[KEYS_PUBLINE_BUF_BYTES];
	uint8_t zero[KEYS_PUB_BYTES] = {0};
	int n;

	out[0] = '\0';
	if (pw == NULL || gethostname(host, sizeof(host)) != 0)
		return;
	host[sizeof(host) - 1] = '\0';
	n = snprintf(out, outsz, "%s@%s", pw->pw_name, host);
	if (n < 0 || (size_t)n >= outsz ||
	    keys_format_public_line(zero, out, line, sizeof(line)) != 0)
		out[0] = '\0';
}

/* ------------------------------------------------------------ keygen */

static void
keygen_usage(FILE *f)
{
	fprintf(f,
	    "usage: ctctl " CTCTL_KEYGEN_USAGE "\n"
	    "Makes a new Ed25519 key. The private key goes to FILE (mode "
	    "0600) and the\n"
	    "public line 'ct-ed25519 BASE64 COMMENT' to FILE.pub; the public "
	    "line is also\n"
	    "printed. Existing files are never overwritten.\n"
	    "  -o FILE     where to write (default: ~/" CTCTL_KEY_USER_PATH
	    ",\n"
	    "              the poller key ctctl and check_ct use when ct.conf "
	    "names none;\n"
	    "              missing directories are made with mode 0700)\n"
	    "  -C COMMENT  comment of the public line (default: user@host)\n"
	    "On an agent: ctctl keygen -o /etc/ct-agent/agent.key, then put "
	    "the printed\n"
	    "line into the pollers' ct.conf ('agent NAME = HOST ct-ed25519 "
	    "...').\n"
	    "On a poller: put the printed line into each agent's "
	    "authorized_keys.\n");
}

int
ctctl_agent_keygen_main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"output", required_argument, NULL, 'o'},
	    {"comment", required_argument, NULL, 'C'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *out = NULL, *comment = NULL, *home;
	char path[CTCTL_PATH_BYTES], pub[CTCTL_PATH_BYTES + 8];
	char defcomment[KEYS_COMMENT_MAX_BYTES + 1];
	char line[KEYS_PUBLINE_BUF_BYTES];
	struct keys_ed25519 key;
	bool have_key = false;
	int ch, rc, status = EXIT_USAGE;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "o:C:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'o':
			out = optarg;
			break;
		case 'C':
			comment = optarg;
			break;
		case 'h':
			keygen_usage(stdout);
			return 0;
		default:
			keygen_usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "ctctl keygen: unexpected argument '%s'\n",
		    argv[optind]);
		keygen_usage(stderr);
		return EXIT_USAGE;
	}
	if (comment == NULL) {
		default_comment(defcomment, sizeof(defcomment));
		comment = defcomment;
	}
	if (keys_format_public_line((const uint8_t[KEYS_PUB_BYTES]){0}, comment,
	        line, sizeof(line)) != 0) {
		fprintf(stderr,
		    "ctctl keygen: bad comment (at most %d printable bytes, "
		    "no tab, no leading or trailing space)\n",
		    KEYS_COMMENT_MAX_BYTES);
		return EXIT_USAGE;
	}
	if (out == NULL) {
		if ((home = home_dir()) == NULL ||
		    join_path(path, sizeof(path), home, CTCTL_KEY_USER_PATH) !=
		        0) {
			fprintf(stderr,
			    "ctctl keygen: no home directory: "
			    "give -o FILE\n");
			return EXIT_USAGE;
		}
		out = path;
	}
	if (strlen(out) + 5 > sizeof(pub)) {
		fprintf(stderr, "ctctl keygen: file name too long\n");
		return EXIT_USAGE;
	}
	snprintf(pub, sizeof(pub), "%s.pub", out);
	status = EXIT_FAIL;
	if (file_exists(out) || file_exists(pub)) {
		fprintf(stderr, "ctctl keygen: %s exists; not overwriting it\n",
		    file_exists(out) ? out : pub);
		goto out;
	}
	if (make_parents(out) != 0) {
		fprintf(stderr,
		    "ctctl keygen: cannot make the directory of "
		    "%s: %s\n",
		    out, strerror(errno));
		goto out;
	}
	if ((rc = keys_generate(&key)) != 0) {
		fprintf(stderr, "ctctl keygen: %s\n", ct_strerror(rc));
		goto out;
	}
	have_key = true;
	if ((rc = keys_save_private(out, &key)) != 0) {
		fprintf(stderr, "ctctl keygen: %s: %s\n", out,
		    rc == CT_ERR_IO ? strerror(errno) : ct_strerror(rc));
		goto out;
	}
	if ((rc = keys_save_public(pub, key.pub, comment)) != 0 ||
	    (rc = keys_format_public_line(key.pub, comment, line,
	         sizeof(line))) != 0) {
		fprintf(stderr, "ctctl keygen: %s: %s\n", pub,
		    rc == CT_ERR_IO ? strerror(errno) : ct_strerror(rc));
		(void)unlink(out);
		goto out;
	}
	printf("%s\n", line);
	fprintf(stderr, "ctctl keygen: wrote %s and %s\n", out, pub);
	status = 0;
out:
	if (have_key)
		keys_clear(&key);
	return status;
}

/* ------------------------------------------------------------ agent */

struct agent_opts {
	const char *agent;
	enum proto_op op;
	const char *arg; /* certs NAME, "*" by default */
	bool json;
	const char *config;
	const char *key;
	const char *pin;
	const char *name;
	uint32_t timeout_ms;
	unsigned long repeat;
	const char *latencies; /* with --repeat: one latency (us) a line */
};

/* What one run needs and holds. */
struct agent_run {
	struct agent_opts o;
	struct conf conf;
	bool have_conf;
	char conf_path[CTCTL_PATH_BYTES];
	char key_path[CTCTL_PATH_BYTES];
	struct keys_ed25519 key;
	bool have_key;
	char comment[KEYS_COMMENT_MAX_BYTES + 1];
	char name[CONF_NAME_MAX_BYTES + 1];
	char host[CONF_HOST_MAX_BYTES + 1];
	uint16_t port;
	uint8_t pin[KEYS_PUB_BYTES];

	/* The request loop. */
	uv_loop_t loop;
	struct agentc *ac;
	struct tls_session *session;
	unsigned long started, finished, resumed;
	uint64_t *lat_us;
	uint64_t t0_ns;
	bool failed;
	struct agentc_result last; /* body and session taken */
};

static void
agent_usage(FILE *f)
{
	fprintf(f,
	    "usage: ctctl " CTCTL_AGENT_USAGE "\n"
	    "Asks one ct-agent, over mutually authenticated TLS with its key "
	    "pinned and a\n"
	    "request signed by the poller key, for 'info' or for 'certs NAME' "
	    "(every\n"
	    "certificate deployed or ever seen that covers NAME; '*' or no "
	    "NAME: all).\n"
	    "  AGENT            an agent name from ct.conf; with --pin, "
	    "HOST[:PORT]\n"
	    "                   (default port %d; IPv6 as [ADDR]:PORT)\n"
	    "  --json           one JSON document instead of text\n"
	    "  --config FILE    poller config (default ~/" CONF_USER_PATH
	    ", then\n"
	    "                   " CONF_SYSTEM_PATH ")\n"
	    "  --key FILE       poller private key (default: 'key =' of the "
	    "config,\n"
	    "                   else ~/" CTCTL_KEY_USER_PATH
	    ", else " CTCTL_KEY_SYSTEM_PATH ")\n"
	    "  --pin KEYLINE    the agent's public line 'ct-ed25519 BASE64 "
	    "[comment]';\n"
	    "                   AGENT is then HOST[:PORT], not looked up in "
	    "the config\n"
	    "  --name NAME      with --pin: the agent's own name (its 'name "
	    "='); default HOST\n"
	    "  -t, --timeout S  give up after S seconds (default %d)\n"
	    "  --repeat N       N requests one after another in this process, "
	    "each resuming\n"
	    "                   the previous TLS session; prints the last "
	    "answer and, on\n"
	    "                   stderr, requests/s and p50/p99 latency "
	    "(benchmarks)\n"
	    "  --latencies FILE with --repeat: each request's latency in "
	    "microseconds,\n"
	    "                   one a line\n"
	    "Exit status: 0 answered, 1 failed (one line on stderr says why), "
	    "2 usage.\n",
	    PROTO_DEFAULT_PORT, CTCTL_DEFAULT_TIMEOUT_S);
}

static bool
arg_valid(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > PROTO_ARG_MAX_BYTES)
		return false;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		        (s[i] >= 'A' && s[i] <= 'Z') ||
		        (s[i] >= '0' && s[i] <= '9') || s[i] == '.' ||
		        s[i] == '*' || s[i] == '_' || s[i] == '-'))
			return false;
	return true;
}

/* Options and operands; 0, or EXIT_USAGE (message printed), or -1 (help). */
static int
agent_parse_args(int argc, char **argv, struct agent_opts *o)
{
	static const struct option longopts[] = {
	    {"json", no_argument, NULL, 'j'},
	    {"config", required_argument, NULL, 'c'},
	    {"key", required_argument, NULL, 'k'},
	    {"pin", required_argument, NULL, 'p'},
	    {"name", required_argument, NULL, 'n'},
	    {"timeout", required_argument, NULL, 't'},
	    {"repeat", required_argument, NULL, 'r'},
	    {"latencies", required_argument, NULL, 'L'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	uint64_t v;
	int ch, op;

	memset(o, 0, sizeof(*o));
	o->timeout_ms = CTCTL_DEFAULT_TIMEOUT_S * 1000;
	o->repeat = 1;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "t:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'j':
			o->json = true;
			break;
		case 'c':
			o->config = optarg;
			break;
		case 'k':
			o->key = optarg;
			break;
		case 'p':
			o->pin = optarg;
			break;
		case 'n':
			o->name = optarg;
			break;
		case 't':
			if (util_parse_u64(optarg, strlen(optarg),
			        CTCTL_MAX_TIMEOUT_S, &v) != 0 ||
			    v == 0) {
				fprintf(stderr,
				    "ctctl agent: -t takes whole seconds, 1 "
				    "to %d\n",
				    CTCTL_MAX_TIMEOUT_S);
				return EXIT_USAGE;
			}
			o->timeout_ms = (uint32_t)v * 1000;
			break;
		case 'r':
			if (util_parse_u64(optarg, strlen(optarg),
			        CTCTL_MAX_REPEAT, &v) != 0 ||
			    v == 0) {
				fprintf(stderr,
				    "ctctl agent: --repeat takes 1 to %d\n",
				    CTCTL_MAX_REPEAT);
				return EXIT_USAGE;
			}
			o->repeat = (unsigned long)v;
			break;
		case 'L':
			o->latencies = optarg;
			break;
		case 'h':
			agent_usage(stdout);
			return -1;
		default:
			agent_usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (argc - optind < 2 || argc - optind > 3) {
		agent_usage(stderr);
		return EXIT_USAGE;
	}
	o->agent = argv[optind];
	if ((op = proto_op_from_name(argv[optind + 1])) < 0) {
		fprintf(stderr,
		    "ctctl agent: unknown operation '%s' (info or certs)\n",
		    argv[optind + 1]);
		return EXIT_USAGE;
	}
	o->op = (enum proto_op)op;
	if (o->op == PROTO_OP_INFO && argc - optind == 3) {
		fprintf(stderr, "ctctl agent: info takes no NAME\n");
		return EXIT_USAGE;
	}
	if (o->op == PROTO_OP_CERTS)
		o->arg = argc - optind == 3 ? argv[optind + 2] : "*";
	if (o->arg != NULL && !arg_valid(o->arg)) {
		fprintf(stderr,
		    "ctctl agent: bad NAME '%s' (a DNS name, a wildcard, or "
		    "'*')\n",
		    o->arg);
		return EXIT_USAGE;
	}
	if (o->name != NULL && o->pin == NULL) {
		fprintf(stderr, "ctctl agent: --name goes with --pin\n");
		return EXIT_USAGE;
	}
	if (o->latencies != NULL && o->repeat < 2) {
		fprintf(stderr,
		    "ctctl agent: --latencies goes with --repeat\n");
		return EXIT_USAGE;
	}
	return 0;
}

/* Reads the config when there is one; required without --pin. */
static int
agent_load_conf(struct agent_run *r)
{
	char err[CONF_ERROR_BYTES];
	int rc;

	rc = conf_locate(r->o.config, home_dir(), CONF_SYSTEM_PATH,
	    r->conf_path, sizeof(r->conf_path));
	if (rc == CT_ERR_NOT_FOUND) {
		if (r->o.pin != NULL)
			return 0;
		fprintf(stderr,
		    "ctctl: no config file (looked for ~/" CONF_USER_PATH
		    " and " CONF_SYSTEM_PATH "); give --config FILE, or "
		    "HOST[:PORT] with --pin KEYLINE\n");
		return EXIT_FAIL;
	}
	if (rc != 0) {
		fprintf(stderr, "ctctl: config path too long\n");
		return EXIT_FAIL;
	}
	if (conf_load(r->conf_path, &r->conf, err, sizeof(err)) != 0) {
		fprintf(stderr, "ctctl: %s\n", err);
		return EXIT_FAIL;
	}
	r->have_conf = true;
	return 0;
}

static void
list_agents(const struct conf *c, char *out, size_t outsz)
{
	size_t i, len = 0;

	out[0] = '\0';
	for (i = 0; i < c->n_agents && i < CTCTL_KNOWN_AGENTS_SHOWN; i++) {
		snprintf(out + len, outsz - len, "%s%s", i > 0 ? ", " : "",
		    c->agents[i].name);
		len = strlen(out);
	}
	if (c->n_agents > CTCTL_KNOWN_AGENTS_SHOWN)
		snprintf(out + len, outsz - len, ", ...");
	if (c->n_agents == 0)
		snprintf(out, outsz, "none");
}

/* Whom to ask: a config entry, or HOST[:PORT] with --pin. */
static int
agent_target(struct agent_run *r)
{
	const struct conf_agent *a;
	struct keys_pubkey pk;
	const char *reason = "";
	char known[CTCTL_TEXT_MAX_BYTES];

	if (r->o.pin == NULL) {
		if ((a = conf_find_agent(&r->conf, r->o.agent)) == NULL) {
			list_agents(&r->conf, known, sizeof(known));
			fprintf(stderr,
			    "ctctl: agent '%s' is not in %s (known: %s); for "
			    "an agent not in the config give HOST[:PORT] "
			    "--pin KEYLINE\n",
			    r->o.agent, r->conf_path, known);
			return EXIT_FAIL;
		}
		snprintf(r->name, sizeof(r->name), "%s", a->name);
		snprintf(r->host, sizeof(r->host), "%s", a->host);
		r->port = a->port;
		memcpy(r->pin, a->key.pub, KEYS_PUB_BYTES);
		return 0;
	}
	if (keys_parse_public_line(r->o.pin, strlen(r->o.pin), &pk, &reason) !=
	    0) {
		fprintf(stderr,
		    "ctctl agent: --pin: %s (want 'ct-ed25519 BASE64 "
		    "[comment]', quoted)\n",
		    reason);
		return EXIT_USAGE;
	}
	memcpy(r->pin, pk.pub, KEYS_PUB_BYTES);
	if (conf_parse_hostport(r->o.agent, strlen(r->o.agent),
	        PROTO_DEFAULT_PORT, r->host, &r->port, &reason) != 0) {
		fprintf(stderr, "ctctl agent: %s: %s\n", r->o.agent, reason);
		return EXIT_USAGE;
	}
	if (r->o.name != NULL) {
		if (!conf_name_valid(r->o.name, strlen(r->o.name))) {
			fprintf(stderr, "ctctl agent: bad --name '%s'\n",
			    r->o.name);
			return EXIT_USAGE;
		}
		snprintf(r->name, sizeof(r->name), "%s", r->o.name);
		return 0;
	}
	if (!conf_name_valid(r->host, strlen(r->host)) ||
	    strspn(r->host, "0123456789.") == strlen(r->host)) {
		fprintf(stderr,
		    "ctctl agent: %s is an address: give the agent's own "
		    "name with --name NAME\n",
		    r->host);
		return EXIT_USAGE;
	}
	snprintf(r->name, sizeof(r->name), "%s", r->host);
	return 0;
}

/* The comment of KEY.pub when it holds the same key; else "". */
static void
key_comment(const char *path, const uint8_t pub[KEYS_PUB_BYTES], char *out,
    size_t outsz)
{
	char pubpath[CTCTL_PATH_BYTES + 8];
	uint8_t *text = NULL;
	size_t len = 0;
	struct keys_pubkey pk;

	out[0] = '\0';
	if ((size_t)snprintf(pubpath, sizeof(pubpath), "%s.pub", path) >=
	    sizeof(pubpath))
		return;
	if (util_read_file(pubpath, KEYS_LINE_MAX_BYTES, &text, &len) != 0)
		return;
	while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
		len--;
	if (keys_parse_public_line((const char *)text, len, &pk, NULL) == 0 &&
	    memcmp(pk.pub, pub, KEYS_PUB_BYTES) == 0)
		snprintf(out, outsz, "%s", pk.comment);
	free(text);
}

static int
agent_load_key(struct agent_run *r)
{
	const char *home = home_dir(), *reason = "";
	struct stat st;
	int rc;

	if (r->o.key != NULL) {
		snprintf(r->key_path, sizeof(r->key_path), "%s", r->o.key);
	} else if (r->have_conf && r->conf.key_path != NULL) {
		snprintf(r->key_path, sizeof(r->key_path), "%s",
		    r->conf.key_path);
	} else if (home != NULL &&
	    join_path(r->key_path, sizeof(r->key_path), home,
	        CTCTL_KEY_USER_PATH) == 0 &&
	    file_exists(r->key_path)) {
		/* found below $HOME */
	} else if (file_exists(CTCTL_KEY_SYSTEM_PATH)) {
		snprintf(r->key_path, sizeof(r->key_path), "%s",
		    CTCTL_KEY_SYSTEM_PATH);
	} else {
		fprintf(stderr,
		    "ctctl: no poller key: give --key FILE or 'key = FILE' in "
		    "ct.conf, or make one with 'ctctl keygen'\n");
		return EXIT_FAIL;
	}
	if (stat(r->key_path, &st) == 0 &&
	    (st.st_mode & (S_IWGRP | S_IRWXO)) != 0) {
		fprintf(stderr,
		    "ctctl: poller key %s is open to others (mode %04o); run: "
		    "chmod 600 %s\n",
		    r->key_path, (unsigned)(st.st_mode & 07777), r->key_path);
		return EXIT_FAIL;
	}
	if ((rc = keys_load_private(r->key_path, &r->key, &reason)) != 0) {
		fprintf(stderr, "ctctl: poller key %s: %s\n", r->key_path,
		    rc == CT_ERR_IO ? strerror(errno) : reason);
		return EXIT_FAIL;
	}
	r->have_key = true;
	key_comment(r->key_path, r->key.pub, r->comment, sizeof(r->comment));
	return 0;
}

/* ------------------------------------------------------------ output */

static void
text_value(const struct json_doc *d, int t, char *out, size_t outsz)
{
	const char *raw;
	char *s = NULL;
	size_t n;
	struct json_iter it;
	int e;
	size_t len;

	out[0] = '\0';
	switch (json_type(d, t)) {
	case JSON_STRING:
		if (json_get_str_alloc(d, t, 0, CTCTL_TEXT_MAX_BYTES, &s, &n) ==
		    0)
			util_sanitize(s, n, out, outsz);
		else
			snprintf(out, outsz, "(unreadable)");
		free(s);
		break;
	case JSON_NULL:
		snprintf(out, outsz, "-");
		break;
	case JSON_ARRAY:
		(void)json_iter_arr(d, t, &it);
		while (json_iter_next(&it, &e)) {
			len = strlen(out);
			if (len + 8 >= outsz)
				break;
			if (len > 0)
				out[len++] = ' ';
			text_value(d, e, out + len, outsz - len);
		}
		if (out[0] == '\0')
			snprintf(out, outsz, "(none)");
		break;
	case JSON_NONE:
		snprintf(out, outsz, "(not given)");
		break;
	default:
		if (json_get_raw(d, t, &raw, &n) == 0)
			util_sanitize(raw, n, out, outsz);
		break;
	}
}

static void
print_info_text(const struct agent_run *r, const struct agentc_result *res,
    const struct json_doc *d)
{
	static const char *const fields[] = {"version", "name", "cert_dirs",
	    "store_records", "deployed", "last_scan", "uptime_s"};
	char v[CTCTL_TEXT_MAX_BYTES], fp[KEYS_FINGERPRINT_BUF_BYTES];
	char when[UTIL_RFC3339_LEN];
	size_t i;

	keys_fingerprint(r->pin, fp);
	util_time_rfc3339(res->agent_time, when);
	printf("agent:         %s at %s (key %s)\n", r->name, res->addr, fp);
	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		text_value(d, json_obj_get(d, JSON_ROOT, fields[i]), v,
		    sizeof(v));
		printf("%-14s %s\n", fields[i], v);
	}
	printf("agent time:    %s (%+lld s from here)\n", when,
	    (long long)res->skew_s);
}

/* The envelope members every --json output starts with. */
static void
json_envelope(struct json_writer *w, const struct agent_run *r,
    const struct agentc_result *res)
{
	char when[UTIL_RFC3339_LEN], fp[KEYS_FINGERPRINT_BUF_BYTES];

	util_time_rfc3339(res->agent_time, when);
	keys_fingerprint(r->pin, fp);
	json_w_obj_begin(w);
	json_w_key(w, "agent");
	json_w_str(w, r->name);
	json_w_key(w, "address");
	json_w_str(w, res->addr);
	json_w_key(w, "agent_key");
	json_w_str(w, fp);
	json_w_key(w, "agent_time");
	json_w_str(w, when);
	json_w_key(w, "skew_s");
	json_w_i64(w, res->skew_s);
}

static int
write_out(const struct util_buf *b)
{
	if (fwrite(b->data, 1, b->len, stdout) != b->len ||
	    fflush(stdout) != 0) {
		fprintf(stderr, "ctctl: writing stdout: %s\n", strerror(errno));
		return EXIT_FAIL;
	}
	return 0;
}

static int
emit(struct util_buf *b, struct json_writer *w)
{
	int rc = json_w_finish(w, true);

	if (rc != 0) {
		fprintf(stderr, "ctctl: cannot write JSON: %s\n",
		    ct_strerror(rc));
		return EXIT_FAIL;
	}
	return write_out(b);
}

static int
print_info(const struct agent_run *r, const struct agentc_result *res)
{
	struct json_doc *d = NULL;
	struct util_buf b;
	struct json_writer w;
	int rc, status = EXIT_FAIL;

	util_buf_init(&b, CTCTL_OUT_MAX_BYTES);
	if ((rc = json_parse(res->body, res->body_len, NULL, &d)) != 0 ||
	    json_type(d, JSON_ROOT) != JSON_OBJECT) {
		fprintf(stderr,
		    "ctctl: agent %s: info answer is not a JSON "
		    "object (%s)\n",
		    r->name, ct_strerror(rc != 0 ? rc : CT_ERR_FORMAT));
		goto out;
	}
	if (!r->o.json) {
		print_info_text(r, res, d);
		status = fflush(stdout) == 0 ? 0 : EXIT_FAIL;
		goto out;
	}
	/* The envelope, then the agent's object (validated above) spliced
	 * in as the last member "info". */
	json_w_init(&w, &b);
	json_envelope(&w, r, res);
	json_w_obj_end(&w);
	if ((rc = json_w_finish(&w, false)) != 0 || b.len == 0 ||
	    b.data[b.len - 1] != '}') {
		fprintf(stderr, "ctctl: cannot write JSON\n");
		goto out;
	}
	b.len--;
	if ((rc = util_buf_append_str(&b, ",\"info\":")) != 0 ||
	    (rc = util_buf_append(&b, res->body, res->body_len)) != 0 ||
	    (rc = util_buf_append_str(&b, "}\n")) != 0) {
		fprintf(stderr, "ctctl: %s\n", ct_strerror(rc));
		goto out;
	}
	status = write_out(&b);
out:
	json_free(d);
	util_buf_clear(&b);
	return status;
}

static void
write_cert_json(struct json_writer *w, const struct agentc_cert *c)
{
	char hex[65], t[UTIL_RFC3339_LEN];
	size_t i;

	json_w_obj_begin(w);
	util_hex_encode(c->tbs_sha256, 32, hex);
	json_w_key(w, "tbs_sha256");
	json_w_str(w, hex);
	util_hex_encode(c->sha256, 32, hex);
	json_w_key(w, "sha256");
	json_w_str(w, hex);
	if (c->has_spki) {
		util_hex_encode(c->spki_sha256, 32, hex);
		json_w_key(w, "spki_sha256");
		json_w_str(w, hex);
	}
	json_w_key(w, "serial");
	if (c->serial[0] != '\0')
		json_w_str(w, c->serial);
	else
		json_w_null(w);
	json_w_key(w, "dns_names");
	json_w_arr_begin(w);
	for (i = 0; i < c->n_dns_names; i++)
		json_w_str(w, c->dns_names[i]);
	json_w_arr_end(w);
	util_time_rfc3339(c->not_before, t);
	json_w_key(w, "not_before");
	json_w_str(w, t);
	util_time_rfc3339(c->not_after, t);
	json_w_key(w, "not_after");
	json_w_str(w, t);
	json_w_key(w, "source");
	json_w_str(w, agentc_source_names[c->source]);
	json_w_key(w, "path");
	if (c->path[0] != '\0')
		json_w_str(w, c->path);
	else
		json_w_null(w);
	json_w_key(w, "first_seen");
	if (c->has_first_seen) {
		util_time_rfc3339(c->first_seen, t);
		json_w_str(w, t);
	} else {
		json_w_null(w);
	}
	json_w_key(w, "precert");
	json_w_bool(w, c->precert);
	json_w_key(w, "live");
	json_w_bool(w, c->live);
	json_w_obj_end(w);
}

/*
 * Appends n bytes of s to the text in out (outsz bytes, *len of them used,
 * *len < outsz), cut to fit as snprintf would; always NUL-terminated.
 * False when s was cut.
 */
static bool
text_add(char *out, size_t outsz, size_t *len, const char *s, size_t n)
{
	size_t room = outsz - *len - 1;
	bool fits = n <= room;

	if (!fits)
		n = room;
	memcpy(out + *len, s, n);
	*len += n;
	out[*len] = '\0';
	return fits;
}

/* As text_add with a NUL-terminated s, then blanks up to width (printf's
 * "%-*s"). */
static void
text_pad(char *out, size_t outsz, size_t *len, const char *s, size_t width)
{
	static const char blanks[] = "                    ";
	size_t n = strlen(s);

	if (!text_add(out, outsz, len, s, n) || n >= width)
		return;
	width -= n;
	if (width > sizeof(blanks) - 1)
		width = sizeof(blanks) - 1;
	(void)text_add(out, outsz, len, blanks, width);
}

/*
 * One row of the table, built by hand and written at once (printf made
 * up most of the cost of printing a long list).
 */
static void
print_cert_text(const struct agentc_cert *c)
{
	char hex[65], t[UTIL_RFC3339_LEN], names[CTCTL_TEXT_MAX_BYTES];
	char path[CTCTL_TEXT_MAX_BYTES], one[CTCTL_TEXT_MAX_BYTES];
	char line[3 * CTCTL_TEXT_MAX_BYTES];
	size_t i, len = 0;

	_Static_assert(sizeof(line) > sizeof(names) + sizeof(path) + 8 + 20 +
	            16 + sizeof(" (precert)") + 4 * 2 + 1,
	    "a row always fits line");

	/* Only the bytes of the prefix shown. */
	util_hex_encode(c->tbs_sha256, CTCTL_TBS_PREFIX_HEX / 2, hex);
	util_time_rfc3339(c->not_after, t);
	names[0] = '\0';
	for (i = 0; i < c->n_dns_names && len + 8 < sizeof(names); i++) {
		util_sanitize(c->dns_names[i], strlen(c->dns_names[i]), one,
		    sizeof(one));
		if ((i > 0 && !text_add(names, sizeof(names), &len, ",", 1)) ||
		    !text_add(names, sizeof(names), &len, one, strlen(one)))
			break;
	}
	util_sanitize(c->path, strlen(c->path), path, sizeof(path));
	/* "%-8s  %-20s  %-16s  %s%s  %s\n" */
	len = 0;
	line[0] = '\0';
	text_pad(line, sizeof(line), &len, agentc_source_names[c->source], 8);
	text_add(line, sizeof(line), &len, "  ", 2);
	text_pad(line, sizeof(line), &len, t, 20);
	text_add(line, sizeof(line), &len, "  ", 2);
	text_pad(line, sizeof(line), &len, hex, 16);
	text_add(line, sizeof(line), &len, "  ", 2);
	text_pad(line, sizeof(line), &len, names[0] != '\0' ? names : "-", 0);
	text_pad(line, sizeof(line), &len, c->precert ? " (precert)" : "", 0);
	text_add(line, sizeof(line), &len, "  ", 2);
	text_pad(line, sizeof(line), &len, path[0] != '\0' ? path : "-", 0);
	text_add(line, sizeof(line), &len, "\n", 1);
	(void)fwrite(line, 1, len, stdout);
}

static int
print_certs(const struct agent_run *r, const struct agentc_result *res)
{
	struct agentc_certs cs;
	struct util_buf b;
	struct json_writer w;
	char err[AGENTC_PARSE_ERROR_BYTES], asked[CTCTL_TEXT_MAX_BYTES];
	size_t i;
	int status;

	if (agentc_parse_certs(res->body, res->body_len, &cs, err,
	        sizeof(err)) != 0) {
		fprintf(stderr, "ctctl: agent %s: bad certs answer: %s\n",
		    r->name, err);
		return EXIT_FAIL;
	}
	if (!r->o.json) {
		util_sanitize(cs.name, strlen(cs.name), asked, sizeof(asked));
		printf("agent %s at %s: %zu certificate%s for %s\n", r->name,
		    res->addr, cs.n, cs.n == 1 ? "" : "s", asked);
		if (cs.n > 0)
			printf("%-8s  %-20s  %-16s  %s  %s\n", "SOURCE",
			    "NOT_AFTER", "TBS_SHA256", "NAMES", "PATH");
		for (i = 0; i < cs.n; i++)
			print_cert_text(&cs.certs[i]);
		agentc_certs_free(&cs);
		return fflush(stdout) == 0 ? 0 : EXIT_FAIL;
	}
	util_buf_init(&b, CTCTL_OUT_MAX_BYTES);
	json_w_init(&w, &b);
	json_envelope(&w, r, res);
	json_w_key(&w, "name");
	json_w_str(&w, cs.name);
	json_w_key(&w, "certs");
	json_w_arr_begin(&w);
	for (i = 0; i < cs.n; i++)
		write_cert_json(&w, &cs.certs[i]);
	json_w_arr_end(&w);
	json_w_obj_end(&w);
	status = emit(&b, &w);
	util_buf_clear(&b);
	agentc_certs_free(&cs);
	return status;
}

/* ------------------------------------------------------------ requests */

static int agent_start(struct agent_run *r);

static void
agent_done(struct agentc_req *req, struct agentc_result *res, void *arg)
{
	struct agent_run *r = arg;

	(void)req;
	if (r->finished < r->o.repeat)
		r->lat_us[r->finished] = res->elapsed_us;
	r->finished++;
	r->resumed += res->resumed;
	free(r->last.body);
	r->last = *res;
	res->body = NULL;
	res->session = NULL;
	/* The previous session was borrowed by this request: now free. */
	tls_session_free(r->session);
	r->session = r->last.session;
	r->last.session = NULL;
	if (res->status != 0) {
		r->failed = true;
		return;
	}
	if (r->started < r->o.repeat && agent_start(r) != 0)
		r->failed = true;
}

static int
agent_start(struct agent_run *r)
{
	struct agentc_target t;
	int rc;

	memset(&t, 0, sizeof(t));
	t.name = r->name;
	t.host = r->host;
	t.port = r->port;
	memcpy(t.pub, r->pin, KEYS_PUB_BYTES);
	t.session = r->session;
	rc = agentc_request(&r->loop, r->ac, &t, r->o.op, r->o.arg,
	    r->o.timeout_ms, agent_done, r, NULL);
	if (rc != 0) {
		snprintf(r->last.error, sizeof(r->last.error),
		    "cannot start a request to %s: %s", r->name,
		    ct_strerror(rc));
		r->last.status = rc;
		return rc;
	}
	r->started++;
	return 0;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* One latency in microseconds a line, in the order of the requests. */
static int
write_latencies(const struct agent_run *r)
{
	FILE *f;
	size_t i;
	int ok;

	if ((f = fopen(r->o.latencies, "w")) == NULL) {
		fprintf(stderr, "ctctl: %s: %s\n", r->o.latencies,
		    strerror(errno));
		return EXIT_FAIL;
	}
	for (i = 0; i < r->finished; i++)
		fprintf(f, "%llu\n", (unsigned long long)r->lat_us[i]);
	ok = ferror(f) == 0;
	if (fclose(f) != 0 || !ok) {
		fprintf(stderr, "ctctl: %s: write failed\n", r->o.latencies);
		return EXIT_FAIL;
	}
	return 0;
}

static void
print_repeat_stats(const struct agent_run *r, uint64_t total_ns)
{
	uint64_t *v = r->lat_us;
	size_t n = r->finished, p50, p99;
	double secs = (double)total_ns / 1e9;

	if (n == 0)
		return;
	qsort(v, n, sizeof(*v), cmp_u64);
	p50 = (n - 1) * 50 / 100;
	p99 = (n - 1) * 99 / 100;
	fprintf(stderr,
	    "ctctl: %zu requests to %s in %.3f s: %.1f requests/s, %lu "
	    "resumed, p50 %.2f ms, p99 %.2f ms\n",
	    n, r->name, secs, secs > 0 ? (double)n / secs : 0.0, r->resumed,
	    (double)v[p50] / 1000.0, (double)v[p99] / 1000.0);
}

static int
agent_run_requests(struct agent_run *r)
{
	char err[CONF_ERROR_BYTES];
	int rc, status = EXIT_FAIL;
	bool loop_ok = false;

	if ((r->lat_us = calloc(r->o.repeat, sizeof(*r->lat_us))) == NULL) {
		fprintf(stderr, "ctctl: out of memory\n");
		return EXIT_FAIL;
	}
	if ((rc = tls_global_init()) != 0) {
		fprintf(stderr, "ctctl: TLS: %s\n", ct_strerror(rc));
		return EXIT_FAIL;
	}
	if (uv_loop_init(&r->loop) != 0) {
		fprintf(stderr, "ctctl: cannot make an event loop\n");
		goto out;
	}
	loop_ok = true;
	rc = agentc_new(&r->key, r->comment, NULL, &r->ac);
	if (rc != 0) {
		fprintf(stderr, "ctctl: TLS client: %s\n", ct_strerror(rc));
		goto out;
	}
	/* CA-file mode (tls_ca in the config) for this agent too. */
	if (r->have_conf && r->conf.tls_ca != NULL &&
	    agentc_use_ca(r->ac, r->conf.tls_ca, r->conf.tls_cert,
	        r->conf.tls_key, err, sizeof(err)) != 0) {
		fprintf(stderr, "ctctl: CA-file mode: %s\n", err);
		goto out;
	}
	r->t0_ns = uv_hrtime();
	if (agent_start(r) == 0)
		(void)uv_run(&r->loop, UV_RUN_DEFAULT);
	if (r->last.status != 0 || r->finished == 0) {
		fprintf(stderr, "ctctl: %s: %s\n", r->name,
		    r->last.error[0] != '\0' ? r->last.error : "no answer");
		goto out;
	}
	if (r->o.latencies != NULL && write_latencies(r) != 0)
		goto out;
	if (r->o.repeat > 1)
		print_repeat_stats(r, uv_hrtime() - r->t0_ns);
	status = r->o.op == PROTO_OP_INFO ? print_info(r, &r->last)
	                                  : print_certs(r, &r->last);
out:
	agentc_free(r->ac);
	r->ac = NULL;
	tls_session_free(r->session);
	r->session = NULL;
	if (loop_ok) {
		(void)uv_run(&r->loop, UV_RUN_DEFAULT);
		if (uv_loop_close(&r->loop) != 0)
			fprintf(stderr,
			    "ctctl: event loop not empty at exit\n");
	}
	tls_global_cleanup();
	return status;
}

int
ctctl_agent_main(int argc, char **argv)
{
	struct agent_run *r;
	int status;

	if ((r = calloc(1, sizeof(*r))) == NULL) {
		fprintf(stderr, "ctctl: out of memory\n");
		return EXIT_FAIL;
	}
	status = agent_parse_args(argc, argv, &r->o);
	if (status != 0) {
		status = status < 0 ? 0 : status;
		goto out;
	}
	signal(SIGPIPE, SIG_IGN);
	if ((status = agent_load_conf(r)) != 0 ||
	    (status = agent_target(r)) != 0 ||
	    (status = agent_load_key(r)) != 0)
		goto out;
	status = agent_run_requests(r);
out:
	if (r->have_key)
		keys_clear(&r->key);
	if (r->have_conf)
		conf_free(&r->conf);
	free(r->last.body);
	free(r->lat_us);
	free(r);
	return status;
}
