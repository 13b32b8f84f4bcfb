/*
 * ct-agent: the per-server daemon of DESIGN.md section 4. It answers
 * signed `info` and `certs NAME` requests over mutually authenticated TLS
 * 1.3 and learns every certificate deployed on this server into the
 * known-certificate store.
 *
 * Files:
 *	conf.c		the config file (key = value lines)
 *	log.c		one-line logging to stderr or syslog, fatal()
 *	privs.c		dropping root privileges after bind
 *	rate.c		per-address token buckets
 *	learn.c		scans, directory watches, periodic rescans, --import
 *	ops.c		the answers to info and certs NAME (JSON bodies)
 *	server.c	listening socket, connections, requests, responses
 *	main.c		command line, start-up, SIGHUP reload, shutdown
 *
 * Everything runs on one libuv loop on one thread. fatal() is used only
 * during start-up; afterwards a failure closes one connection (or skips
 * one file) and is logged.
 */
#ifndef CT_AGENT_H
#define CT_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <uv.h>

#include "keys.h"
#include "proto.h"
#include "scan.h"
#include "store.h"
#include "tls.h"
#include "util.h"

#ifndef CT_VERSION
#define CT_VERSION "0.1.0"
#endif

#define AGENT_DEFAULT_CONF "/etc/ct-agent/ct-agent.conf"

/* ------------------------------------------------------------ conf.c */

#define CONF_MAX_FILE_BYTES (64 * 1024)
#define CONF_MAX_LINE_BYTES 4096
#define CONF_ERR_BYTES 512      /* one error text, NUL included */
#define CONF_ADDR_TEXT_BYTES 64 /* "[IPv6]:port", NUL included */

#define CONF_DEFAULT_LISTEN "0.0.0.0:5660"
#define CONF_DEFAULT_KEY "/etc/ct-agent/agent.key"
#define CONF_DEFAULT_AUTHORIZED_KEYS "/etc/ct-agent/authorized_keys"
#define CONF_DEFAULT_STORE "/var/lib/ct-agent/store"
#define CONF_DEFAULT_RESCAN_S 300
#define CONF_MIN_RESCAN_S 10 /* 0 also allowed: no periodic rescan */
#define CONF_MAX_RESCAN_S (7 * 86400)
#define CONF_DEFAULT_MAX_CONNECTIONS 256
#define CONF_MAX_MAX_CONNECTIONS 65536
#define CONF_DEFAULT_TIMEOUT_MS 10000
#define CONF_MIN_TIMEOUT_MS 100
#define CONF_MAX_TIMEOUT_MS 300000
/* Requests per second (and burst) one address may make; 0: no limit. */
#define CONF_DEFAULT_RATE_PER_S 100
#define CONF_DEFAULT_RATE_BURST 200
#define CONF_MAX_RATE 1000000

enum conf_log { CONF_LOG_STDERR, CONF_LOG_SYSLOG, CONF_LOG__MAX };

extern const char *const conf_log_names[CONF_LOG__MAX];

/* A parsed config file; every string is malloc'd (conf_clear). */
struct agent_conf {
	char *name;   /* the agent name pollers address (DNS name) */
	char *listen; /* as written */
	struct sockaddr_storage listen_addr;
	char *key;
	char *authorized_keys;
	char **cert_dirs; /* n_cert_dirs == 0: found automatically */
	size_t n_cert_dirs;
	char *store;
	char *user;                 /* NULL: no privilege drop */
	uint64_t rescan_interval_s; /* 0: no periodic rescan */
	uint64_t max_connections;
	uint64_t timeout_ms; /* handshake + request, per connection */
	uint64_t rate_per_s; /* per peer address; 0: unlimited */
	uint64_t rate_burst;
	enum conf_log log;
	/* CA-file mode (tls_ca set; see conf.c): the TLS files, and the
	 * names a poller certificate may carry (none: any). */
	char *tls_ca;
	char *tls_cert;
	char *tls_key; /* NULL: the certificate is for `key` */
	char **tls_peer_names;
	size_t n_tls_peer_names;
};

/*
 * Parses a config text of len bytes; file names it in error texts. On
 * failure err holds "FILE:LINE: what is wrong" (or "FILE: ..." for the
 * file as a whole) and out is left empty. Returns 0, CT_ERR_FORMAT,
 * CT_ERR_TOO_BIG or CT_ERR_NOMEM.
 */
int conf_parse(const char *text, size_t len, const char *file,
    struct agent_conf *out, char *err, size_t errsz);
/* The same from a file of at most CONF_MAX_FILE_BYTES; CT_ERR_IO too. */
int conf_load(const char *path, struct agent_conf *out, char *err,
    size_t errsz);
void conf_clear(struct agent_conf *c);
/*
 * "A.B.C.D:PORT" or "[IPv6]:PORT" (numeric only, port 0..65535) into ss.
 * 0 or CT_ERR_FORMAT.
 */
int conf_parse_listen(const char *s, size_t n, struct sockaddr_storage *ss);
/* True when s (n bytes) is a valid agent name: LDH labels, not an IP. */
bool conf_name_ok(const char *s, size_t n);
/* "1.2.3.4:5" or "[::1]:5" (out: CONF_ADDR_TEXT_BYTES); "?" if unknown. */
void conf_format_addr(const struct sockaddr *sa, char *out, size_t outsz);
/* True when both name the same address and port. */
bool conf_same_addr(const struct sockaddr_storage *a,
    const struct sockaddr_storage *b);

/* ------------------------------------------------------------ log.c */

#define LOG_LINE_MAX_BYTES 1024
#define LOG_LIMIT_PER_S 20 /* lines a peer can cause, per second */

void log_open(enum conf_log target);
void log_close(void);
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Information that also goes to stderr when logging to syslog. */
void log_notice(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* For callbacks of common/ (scan, store): a warning. */
void log_cb(void *arg, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Logs an error and exits 1: start-up only. */
void fatal(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

/*
 * Lines a peer can cause (failed connections) pass at most
 * LOG_LIMIT_PER_S times a second; the rest are counted and reported in
 * one line when the next second begins.
 */
struct log_limit {
	uint64_t second;
	unsigned lines;
	unsigned suppressed;
};

bool log_limit_pass(struct log_limit *l, uint64_t now_ms);

/* ------------------------------------------------------------ privs.c */

/*
 * When running as root, switches for good to user (groups, gid, uid) and
 * checks that root cannot be regained. When not root, does nothing (err
 * then tells whether user differs from the current one). 0, or a negative
 * ct_err with err set.
 */
int privs_drop(const char *user, char *err, size_t errsz);

/* ------------------------------------------------------------ rate.c */

#define RATE_MAX_ENTRIES 4096 /* addresses remembered at once */

struct rate_table;

int rate_new(struct rate_table **out);
void rate_free(struct rate_table *t);
/* per_s 0 turns the limit off. */
void rate_set(struct rate_table *t, uint64_t per_s, uint64_t burst);
/*
 * Takes a token for the address (IPv6 by its /64) at now_ms (monotonic).
 * True when the request may go on.
 */
bool rate_take(struct rate_table *t, const struct sockaddr_storage *addr,
    uint64_t now_ms);

/* ------------------------------------------------------------ agent state */

#define AGENT_MAX_WATCHES 1024     /* directories watched for changes */
#define AGENT_WATCH_DEPTH 2        /* levels below a root that are watched */
#define AGENT_DEBOUNCE_MS 1000     /* quiet time after a change before a scan */
#define AGENT_DEBOUNCE_MAX_MS 5000 /* a scan at the latest after the first */
#define AGENT_LISTEN_BACKLOG 511
#define AGENT_FD_RESERVE 64 /* descriptors kept beyond max_connections */
/* Idle (no connection) this long before freed memory goes back to the
 * system: a busy agent does not give it back after every request. */
#define AGENT_TRIM_DELAY_MS 1000

struct watch;
struct conn;

/*
 * ops.c keeps the JSON of recent `certs` answers, by argument, until the
 * store or the deployed set changes (the signature of a response is made
 * per request and never kept). The caps bound the memory it holds.
 */
#define OPS_CACHE_ENTRIES 8
#define OPS_CACHE_MAX_BYTES (512 * 1024)       /* all kept bodies together */
#define OPS_CACHE_MAX_ENTRY_BYTES (256 * 1024) /* a larger one is not kept */

struct ops_cached {
	char *arg; /* the request's argument, as sent; NULL: slot free */
	size_t arg_len;
	uint8_t *body;
	size_t len;
	uint8_t digest[PROTO_BODY_DIGEST_BYTES]; /* proto_body_digest(body) */
	uint64_t used; /* ops_cache.clock at the last use */
};

struct ops_cache {
	uint64_t store_generation; /* what the kept bodies were made from */
	uint64_t scan_generation;
	size_t body_max;
	size_t bytes; /* of all kept bodies */
	uint64_t clock;
	struct ops_cached e[OPS_CACHE_ENTRIES];
};

struct agent {
	uv_loop_t loop;
	const char *conf_path;
	struct agent_conf conf;
	struct keys_ed25519 key; /* secret: keys_clear at exit */
	char key_fpr[KEYS_FINGERPRINT_BUF_BYTES];
	struct keys_authorized auth;
	struct store *store;
	struct tls_ctx *tls;
	struct proto_replay *replay;
	struct rate_table *rate;
	int64_t started; /* wall clock, seconds */
	bool stopping;

	/* learn.c */
	struct scan_result *scan; /* the latest scan */
	uint64_t scan_generation; /* changes with scan and last_scan */
	int64_t last_scan;        /* wall clock; 0: never */
	struct watch *watches;
	size_t n_watches;
	bool watch_full_logged;
	uv_timer_t debounce;       /* a change seen: scan soon */
	uint64_t debounce_first;   /* loop time of the first unhandled change */
	uv_timer_t rescan;         /* periodic */
	uv_fs_event_t store_watch; /* records added by --import */
	bool store_watching;
	uv_timer_t store_debounce;

	/* server.c */
	uv_tcp_t listener;
	bool listening;
	char listen_text[CONF_ADDR_TEXT_BYTES]; /* the bound address */
	struct conn *conn_head;                 /* oldest first */
	struct conn *conn_tail;
	size_t n_conns;   /* accepted and not yet freed */
	size_t n_closing; /* of those, closing */
	struct log_limit conn_log;
	uv_timer_t trim; /* malloc_trim once idle for AGENT_TRIM_DELAY_MS */
	bool trim_ready; /* initialised and not closed */
	uint64_t requests_ok;
	uint64_t requests_refused;

	/* ops.c */
	struct ops_cache answers;

	/* main.c */
	uv_signal_t sig_hup;
	uv_signal_t sig_term;
	uv_signal_t sig_int;
};

/* ------------------------------------------------------------ learn.c */

/*
 * Scans the cert dirs (the configured ones, or the default ones that
 * exist), learns new leaves into the store and keeps the result as the
 * deployed set. why is logged. 0 or a negative ct_err (the previous
 * deployed set then stays).
 */
int learn_scan(struct agent *a, const char *why);
/* Starts the timers and watches after the first scan. 0 or negative. */
int learn_start(struct agent *a);
/* After a reload: new interval, new roots, new store; then a rescan. */
void learn_reload(struct agent *a);
/* Closes every handle of learn.c (shutdown). */
void learn_stop(struct agent *a);
/* True when h is one of learn.c's handles. */
bool learn_owns(const struct agent *a, const uv_handle_t *h);
/*
 * ct-agent --import: records every non-CA certificate of the files in
 * the store with source "imported from PATH" and prints a summary on
 * stdout, errors on stderr. Returns the exit status.
 */
int learn_import(const struct agent_conf *conf, char *const *files, size_t n);

/* ------------------------------------------------------------ ops.c */

/*
 * Answers a verified request. For PROTO_OK, *body and *len are the JSON:
 * either in own (initialised here; the caller clears it) or borrowed
 * from the answer cache, valid until the next call of ops_answer or
 * ops_cache_clear and until the loop runs again (a scan may drop it);
 * *digest is then the body's proto_body_digest, kept with it (else NULL).
 * Another status comes with *reason set.
 */
enum proto_status ops_answer(struct agent *a, const struct proto_request *req,
    struct util_buf *own, const uint8_t **body, size_t *len,
    const uint8_t **digest, const char **reason);
/* Frees every kept answer (shutdown). */
void ops_cache_clear(struct agent *a);

/* ------------------------------------------------------------ server.c */

/* Binds and listens; logs "listening on ADDR". 0 or negative, err set. */
int server_listen(struct agent *a, char *err, size_t errsz);
/* A TLS server context for the current name and key: 0 or negative. */
int server_make_tls(struct agent *a, const struct keys_ed25519 *key,
    const char *name, struct tls_ctx **out);
/* Stops accepting and closes every connection (shutdown). */
void server_stop(struct agent *a);
bool server_owns(const struct agent *a, const uv_handle_t *h);

#endif
