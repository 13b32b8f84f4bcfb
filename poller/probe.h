/*
 * probe: the remote TLS probe (DESIGN.md sections 5 and 6): connect to
 * every address a host name resolves to, optionally upgrade with
 * STARTTLS, run a TLS 1.2/1.3 handshake with SNI (common/tls probe
 * mode), capture the presented chain, and judge it: name, issuer, SCTs
 * against the log list, expiry, and the agents' and CT sources' view.
 *
 *	probe.c		the engine: resolve, connect, STARTTLS, handshake
 *	probejudge.c	thresholds and the verdict on one result (pure)
 *	probecheck.c	check_ct's options, start and report; ctctl probe
 *
 * Everything runs on the caller's libuv loop; nothing here prints except
 * probe_main (ctctl probe). The program must ignore SIGPIPE and call
 * tls_global_init() once.
 */
#ifndef CT_PROBE_H
#define CT_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <getopt.h>
#include <sys/socket.h>
#include <uv.h>

#include "cert.h"
#include "ct.h"
#include "poller.h"

struct tls_ctx;
struct loglist;
struct http_client;
struct state;
struct crtsh_result;
struct certspotter_result;

#define PROBE_MAX_ADDRS 16             /* addresses probed per target */
#define PROBE_MAX_TARGETS 16           /* --probe options per run */
#define PROBE_HOST_BYTES 256           /* a host name or literal, NUL incl. */
#define PROBE_ADDR_TEXT_BYTES 64       /* "[v6]:port", NUL incl. */
#define PROBE_ERROR_BYTES 200          /* a failure's text */
#define PROBE_DEFAULT_TIMEOUT_MS 10000 /* per address: connect to handshake */
#define PROBE_DEFAULT_PORT 443

/* STARTTLS caps: one line, and the whole dialog before TLS. */
#define PROBE_STARTTLS_MAX_LINE_BYTES 2048
#define PROBE_STARTTLS_MAX_DIALOG_BYTES (64 * 1024)
#define PROBE_STARTTLS_MAX_LINES 200
#define PROBE_EHLO_NAME_BYTES 64

/* ------------------------------------------------------------ engine */

enum probe_starttls {
	PROBE_STARTTLS_NONE = 0,   /* TLS at once (https, smtps, imaps, ...) */
	PROBE_STARTTLS_SMTP,       /* port 25: banner, EHLO, STARTTLS, 220 */
	PROBE_STARTTLS_SUBMISSION, /* port 587: the same dialog as smtp */
	PROBE_STARTTLS_IMAP,       /* greeting, "<tag> STARTTLS", tagged OK */
	PROBE_STARTTLS_POP3,       /* greeting, STLS, +OK */
	PROBE_STARTTLS__MAX
};
/* "none", "smtp", "submission", "imap", "pop3". */
extern const char *const probe_starttls_names[PROBE_STARTTLS__MAX];
/* Parses one of those names: 0 or CT_ERR_FORMAT. */
int probe_starttls_parse(const char *s, enum probe_starttls *out);
/* The protocol a port implies when none is given (25, 587, 143, 110). */
enum probe_starttls probe_starttls_for_port(uint16_t port);

/* Why a probe of one address did not give a chain. */
enum probe_fail {
	PROBE_OK = 0,      /* handshake done, chain captured */
	PROBE_RESOLVE,     /* the name did not resolve */
	PROBE_REFUSED,     /* TCP connection refused */
	PROBE_UNREACHABLE, /* other connect errors (no route, ...) */
	PROBE_TIMEOUT,     /* the per-address timeout passed */
	PROBE_DEADLINE,    /* the caller's deadline (the run's -t) */
	PROBE_STARTTLS,    /* STARTTLS refused or the dialog failed */
	PROBE_TLS_ALERT,   /* the server sent a fatal alert */
	PROBE_TLS_ERROR,   /* another TLS failure, or closed in it */
	PROBE_NO_CERT,     /* handshake done, but no certificate */
	PROBE_BAD_CERT,    /* the leaf does not parse */
	PROBE_INTERNAL,    /* out of memory and the like */
	PROBE_FAIL__MAX
};
/* "ok", "resolve", "refused", ... (for JSON). */
extern const char *const probe_fail_names[PROBE_FAIL__MAX];

struct probe_target {
	char host[PROBE_HOST_BYTES]; /* name or literal to connect to */
	uint16_t port;
	char sni[PROBE_HOST_BYTES]; /* SNI and name checked; "": none */
	enum probe_starttls starttls;
};

/*
 * Parses "HOST[:PORT]", "[V6]:PORT", "V6" or ":PORT"/"PORT" (host then
 * default_host, which may be NULL). The SNI defaults to the host unless
 * it is an IP literal. 0, or CT_ERR_FORMAT with a reason in why.
 */
int probe_target_parse(const char *s, const char *default_host,
    uint16_t default_port, struct probe_target *t, char *why, size_t whysz);

/* The outcome for one address. Owned by the probe; see probe_free. */
struct probe_result {
	size_t index;                     /* position in the probe */
	char addr[PROBE_ADDR_TEXT_BYTES]; /* "127.0.0.1:443", "[::1]:443" */
	struct sockaddr_storage sa;
	const struct probe_target *target; /* the probe's copy */
	enum probe_fail fail;
	char error[PROBE_ERROR_BYTES]; /* "" when fail is PROBE_OK */
	int alert;                     /* fatal alert received, or -1 */
	char version[16];              /* "TLSv1.3" */
	char cipher[64];
	double connect_ms, starttls_ms, handshake_ms;
	struct ct_cert **chain; /* parsed, leaf first; NULL entries: bad */
	size_t n_chain;
	size_t n_chain_bad; /* certificates that did not parse */
};

struct probe;
typedef void (
    *probe_addr_cb)(struct probe *p, const struct probe_result *r, void *arg);
typedef void (*probe_done_cb)(struct probe *p, void *arg);

struct probe_params {
	uint32_t timeout_ms; /* per address; 0: PROBE_DEFAULT_TIMEOUT_MS */
	/* The caller's deadline from now, or 0: none. When it is shorter
	 * than timeout_ms, hitting it is PROBE_DEADLINE, not TIMEOUT. */
	uint32_t deadline_ms;
	bool one;              /* --probe-one: the first address only */
	const char *ehlo;      /* EHLO name; NULL: the host name or localhost */
	probe_addr_cb on_addr; /* per address, when it is done (may be NULL) */
	probe_done_cb on_done; /* once, after every address */
	void *arg;
};

/*
 * Starts probing t (copied) with the probe context ctx (tls_ctx_new_probe)
 * on loop: resolves, then connects to every address at once. Returns 0
 * with *out set, and then on_addr fires once per address and on_done
 * once, from the loop, never from inside probe_start; or a negative
 * ct_err and no callback. A name that does not resolve gives one result
 * with PROBE_RESOLVE.
 */
int probe_start(uv_loop_t *loop, struct tls_ctx *ctx,
    const struct probe_target *t, const struct probe_params *params,
    struct probe **out);
/*
 * Ends what is in flight: those addresses get PROBE_DEADLINE at once, and
 * on_addr/on_done fire from inside this call for them (so that a caller
 * at its deadline can report right away); their connections close from
 * the loop.
 */
void probe_cancel(struct probe *p);
/* The results so far (all of them from on_done on). */
size_t probe_count(const struct probe *p);
const struct probe_result *probe_get(const struct probe *p, size_t i);
bool probe_done(const struct probe *p);
/*
 * Frees the probe (cancelling first when not done). Memory tied to loop
 * handles goes in their close callbacks: run the loop afterwards before
 * uv_loop_close. Accepts NULL.
 */
void probe_free(struct probe *p);

/*
 * The STARTTLS dialogs, as a state machine without I/O: feed it what the
 * server sent; it appends what to send to out and says when TLS may start.
 */
#define PROBE_ST_MORE 0 /* keep reading */
#define PROBE_ST_TLS 1  /* the server agreed: start the handshake */
struct probe_starttls_state {
	enum probe_starttls proto;
	int step;
	char line[PROBE_STARTTLS_MAX_LINE_BYTES];
	size_t line_len;
	size_t total;      /* bytes received */
	size_t lines;      /* lines received */
	int reply_code;    /* SMTP: the code of the reply being read */
	bool has_starttls; /* SMTP: EHLO offered STARTTLS */
	char ehlo[PROBE_EHLO_NAME_BYTES];
	char why[PROBE_ERROR_BYTES];
};
/* ehlo: the EHLO argument (SMTP; sanitised, "localhost" when unusable). */
void probe_starttls_init(struct probe_starttls_state *st,
    enum probe_starttls proto, const char *ehlo);
/*
 * PROBE_ST_MORE, PROBE_ST_TLS, or a negative ct_err with st->why set:
 * CT_ERR_PROTO (refused, unexpected reply, bytes after the go-ahead),
 * CT_ERR_TOO_BIG (a line or the dialog past its cap), CT_ERR_NOMEM.
 */
int probe_starttls_feed(struct probe_starttls_state *st, const uint8_t *p,
    size_t n, struct util_buf *out);

/* ------------------------------------------------------------ judgement */

/* A days-left threshold: plain days, or a share of the lifetime. */
struct probe_thresh {
	bool set;
	bool percent; /* value is % of notBefore..notAfter */
	double value; /* alert when days (or %) left < value */
};
/*
 * Parses "20", "0.5", "20d", "25%" (0..100). 0 or CT_ERR_FORMAT. Ranges
 * are not accepted: the alert is always "less than this left".
 */
int probe_thresh_parse(const char *s, struct probe_thresh *t);
/* The threshold in days for a certificate of that lifetime. */
double probe_thresh_days(const struct probe_thresh *t, int64_t not_before,
    int64_t not_after);

#define PROBE_DEFAULT_WARN_DAYS 20 /* as check_ssl_cert */
#define PROBE_DEFAULT_CRIT_DAYS 7
#define PROBE_DEFAULT_MIN_SCTS 2

/* A certificate an agent has deployed (tbs + notBefore). */
struct probe_deployed {
	uint8_t tbs[32];
	int64_t not_before;
	const char *origin;         /* "agent web1", for the text */
	const struct ct_cert *cert; /* optional: to test its names */
};

/* Source bits for --expect-crtsh / --expect-certspotter. */
#define PROBE_SRC_CRTSH 0x1
#define PROBE_SRC_CERTSPOTTER 0x2

struct probe_judge_opts {
	const char *name; /* name the leaf must cover; NULL/"": not checked */
	struct ct_cert *const *trusted; /* none: issuer not checked */
	size_t n_trusted;
	const struct loglist *ll; /* NULL: SCTs not checked (UNKNOWN) */
	const char *ll_problem;   /* why there is no log list, for the text */
	unsigned min_scts;
	struct probe_thresh warn, crit;
	int64_t now;
	/* Agents: when agents_asked, the served tbs must be among deployed. */
	bool agents_asked;
	const struct probe_deployed *deployed;
	size_t n_deployed;
	/* CT sources: expect bits, found bits, and bits whose lookup failed. */
	unsigned expect, found, lookup_failed;
	enum output_state error_state[PROBE_FAIL__MAX]; /* per failure */
};
/* Defaults: 20/7 days, min 2 SCTs, error states as the issue says. */
void probe_judge_defaults(struct probe_judge_opts *o);

#define PROBE_MAX_FINDINGS 24
#define PROBE_FINDING_BYTES 320
#define PROBE_MAX_SCT_FACTS CT_MAX_SCTS

enum probe_sct_status {
	PROBE_SCT_VALID,
	PROBE_SCT_INVALID,     /* a known log's signature does not verify */
	PROBE_SCT_UNKNOWN_LOG, /* the log is not in the list */
	PROBE_SCT_UNCHECKED,   /* no log list, or no issuer to check with */
	PROBE_SCT_FUTURE,      /* timestamp in the future */
	PROBE_SCT__MAX
};
extern const char *const probe_sct_status_names[PROBE_SCT__MAX];

struct probe_sct_fact {
	struct ct_sct sct; /* views into the leaf's DER */
	const char *log;   /* description from the log list, or NULL */
	enum probe_sct_status status;
};

struct probe_finding {
	enum output_state state;
	char text[PROBE_FINDING_BYTES]; /* sanitised, no address prefix */
};

struct probe_verdict {
	enum output_state state; /* the worst finding */
	struct probe_finding findings[PROBE_MAX_FINDINGS];
	size_t n_findings;
	/* Facts (meaningful when the probe gave a chain). */
	bool have_leaf;
	int name_ok;         /* 1, 0, -1 not checked */
	int issuer_trusted;  /* 1, 0, -1 not checked */
	int known;           /* 1, 0, -1 not checked (no agents) */
	bool newer_deployed; /* an agent has a newer certificate */
	double days_left;
	double lifetime_days;
	struct probe_sct_fact scts[PROBE_MAX_SCT_FACTS];
	size_t n_scts;
	bool scts_malformed;
	size_t scts_valid, scts_invalid, scts_unknown_log;
};

/*
 * Judges one result. Pure: reads r and o, writes v. The issuer used for
 * SCTs is the presented chain's certificate that signed the leaf (a
 * trusted issuer when the chain has none).
 */
void probe_judge(const struct probe_result *r, const struct probe_judge_opts *o,
    struct probe_verdict *v);

/*
 * The same, remembering verdicts: a result that presented the same chain
 * (every certificate's sha256) as one judged before, for the same name,
 * gets a copy of that verdict instead of a second round of signature
 * checks (the ten addresses of one name usually serve one chain). Only
 * for results that outlive the memo's use; o must not change otherwise.
 */
#define PROBE_MEMO_MAX 32
struct probe_judge_memo {
	const struct probe_result *r[PROBE_MEMO_MAX];
	char name[PROBE_MEMO_MAX][PROBE_HOST_BYTES];
	struct probe_verdict *v[PROBE_MEMO_MAX];
	size_t n;
};
void probe_judge_memo(struct probe_judge_memo *m, const struct probe_result *r,
    const struct probe_judge_opts *o, struct probe_verdict *v);
void probe_judge_memo_clear(struct probe_judge_memo *m);

/* Whether tbs is among the certificates a crt.sh or Cert Spotter lookup
 * returned (a result of crtsh_run / certspotter_run). */
bool probe_found_in_crtsh(const struct crtsh_result *res,
    const uint8_t tbs[32]);
bool probe_found_in_certspotter(const struct certspotter_result *res,
    const uint8_t tbs[32]);

/* ------------------------------------------------------------ check_ct */

/*
 * check_ct's probe options. Add PROBE_LONGOPTS to check_ct's longopts
 * table and "w:c:" to its short options, and hand every option value
 * from PROBE_OPT_FIRST to PROBE_OPT__LAST (and 'w', 'c') to probe_opt.
 */
enum {
	PROBE_OPT_FIRST = 1000,
	PROBE_OPT_PROBE = PROBE_OPT_FIRST,
	PROBE_OPT_PORT, /* the older tool's --port PORT = --probe PORT */
	PROBE_OPT_STARTTLS,
	PROBE_OPT_ONE,
	PROBE_OPT_MIN_SCTS,
	PROBE_OPT_LOG_LIST,
	PROBE_OPT_LOG_LIST_URL,
	PROBE_OPT_LOG_LIST_KEY,
	PROBE_OPT_EXPECT_CRTSH,
	PROBE_OPT_EXPECT_CERTSPOTTER,
	PROBE_OPT_ERROR_STATE,
	PROBE_OPT_TIMEOUT,
	PROBE_OPT__LAST = PROBE_OPT_TIMEOUT
};

#define PROBE_LONGOPTS                                                         \
	{"probe", required_argument, NULL, PROBE_OPT_PROBE},                   \
	    {"port", required_argument, NULL, PROBE_OPT_PORT},                 \
	    {"starttls", required_argument, NULL, PROBE_OPT_STARTTLS},         \
	    {"probe-one", no_argument, NULL, PROBE_OPT_ONE},                   \
	    {"min-scts", required_argument, NULL, PROBE_OPT_MIN_SCTS},         \
	    {"log-list", required_argument, NULL, PROBE_OPT_LOG_LIST},         \
	    {"log-list-url", required_argument, NULL, PROBE_OPT_LOG_LIST_URL}, \
	    {"log-list-key", required_argument, NULL, PROBE_OPT_LOG_LIST_KEY}, \
	    {"expect-crtsh", no_argument, NULL, PROBE_OPT_EXPECT_CRTSH},       \
	    {"expect-certspotter", no_argument, NULL,                          \
	        PROBE_OPT_EXPECT_CERTSPOTTER},                                 \
	    /* the older tool's name for the SSLMate (Cert Spotter) API */     \
	    {"expect-sslmate", no_argument, NULL,                              \
	        PROBE_OPT_EXPECT_CERTSPOTTER},                                 \
	    {"probe-error-state", required_argument, NULL,                     \
	        PROBE_OPT_ERROR_STATE},                                        \
	    {"probe-timeout", required_argument, NULL, PROBE_OPT_TIMEOUT},     \
	    {"warning", required_argument, NULL, 'w'},                         \
	{                                                                      \
		"critical", required_argument, NULL, 'c'                       \
	}

#define PROBE_USAGE                                                            \
	"       [--probe [HOST:]PORT]... [--port PORT] [--starttls PROTO]\n"   \
	"       [--probe-one] [-w DAYS|PCT%] [-c DAYS|PCT%] [--min-scts N]\n"  \
	"       [--log-list FILE | --log-list-url URL] [--expect-crtsh]\n"     \
	"       [--expect-certspotter] [--probe-error-state [KIND=]STATE]\n"

/* The option lines of check_ct --help for these options. */
extern const char probe_help_text[];

struct probe_opts {
	/* Targets as given; HOST is resolved against -H in probe_opts_finish. */
	const char *specs[PROBE_MAX_TARGETS];
	size_t n_specs;
	struct probe_target targets[PROBE_MAX_TARGETS];
	size_t n_targets;
	bool starttls_given;
	enum probe_starttls starttls;
	bool one;
	unsigned min_scts;
	struct probe_thresh warn, crit;
	const char *log_list;     /* a file: overrides the cached list */
	const char *log_list_url; /* base URL; NULL: Google's */
	const char *log_list_key; /* PEM file; NULL: the shipped key */
	unsigned expect;          /* PROBE_SRC_* */
	enum output_state error_state[PROBE_FAIL__MAX];
	uint32_t timeout_ms;
};

void probe_opts_init(struct probe_opts *po);
/*
 * One option from check_ct's getopt loop (opt is the getopt value). 0, or
 * CT_ERR_FORMAT / CT_ERR_TOO_BIG with a message in why for the usage
 * error.
 */
int probe_opt(struct probe_opts *po, int opt, const char *arg, char *why,
    size_t whysz);
/*
 * After getopt: resolves the targets (HOST defaults to default_host, the
 * first -H). 0, or CT_ERR_FORMAT with why.
 */
int probe_opts_finish(struct probe_opts *po, const char *default_host,
    char *why, size_t whysz);
/* Whether any probe was asked for. */
bool probe_opts_active(const struct probe_opts *po);

/*
 * One check_ct run's probes: every target at once, plus the log list
 * (cache or --log-list), on the run's loop.
 */
struct probe_check;
typedef void (*probe_check_done_cb)(struct probe_check *pc, void *arg);

struct probe_check_env {
	uv_loop_t *loop;
	struct http_client *http; /* for the log list; NULL: no fetch */
	struct state *state;      /* the state dir; NULL: no cache */
	bool allow_http;
	uint32_t budget_ms; /* the run's time left for the network */
	int64_t now;
};

/*
 * Starts every probe and the log list. 0 with *out, then done fires once
 * from the loop; or a negative ct_err (no callback). po must outlive pc.
 */
int probe_check_start(const struct probe_opts *po,
    const struct probe_check_env *env, probe_check_done_cb done, void *arg,
    struct probe_check **out);
/* At the run's deadline: ends every probe and the log list fetch. */
void probe_check_cancel(struct probe_check *pc);
/* The served leaves' tbs hashes (to look them up in the CT sources). */
size_t probe_check_leaves(const struct probe_check *pc, uint8_t (*tbs)[32],
    size_t max);

/* What the run knows besides the probes, for the verdicts. */
struct probe_check_facts {
	struct ct_cert *const *trusted; /* --trusted-issuer-certs */
	size_t n_trusted;
	bool agents_asked;
	const struct probe_deployed *deployed;
	size_t n_deployed;
	unsigned found;         /* PROBE_SRC_* where every served leaf is */
	unsigned lookup_failed; /* PROBE_SRC_* that could not be consulted */
	/* Per leaf instead of the found bits above: a callback that says in
	 * which sources a tbs was found (NULL: use found). */
	unsigned (*found_cb)(void *arg, const uint8_t tbs[32]);
	void *found_arg;
};

/*
 * Judges every probed address and adds its lines and perfdata to out:
 * "[OK] probe 127.0.0.1:443 SNI www.example.org serves a known
 * certificate, 2 valid SCTs, expires in 70 days", one line per problem
 * otherwise, the log list's state, and per address 'ADDR days_left',
 * 'ADDR scts_valid', 'ADDR handshake_time'.
 */
void probe_check_report(struct probe_check *pc,
    const struct probe_check_facts *f, struct output *out);
/* Accepts NULL; may be called once done or cancelled (run the loop
 * afterwards to let handles close). */
void probe_check_free(struct probe_check *pc);

/* ------------------------------------------------------------ ctctl */

#define PROBE_CTCTL_USAGE                                                          \
	"probe HOST[:PORT]... [--sni NAME] [--starttls PROTO] [--log-list FILE]\n" \
	"             [--trusted-issuer-certs PATH] [--probe-one] [--json]"
int probe_main(int argc, char **argv);

#endif
