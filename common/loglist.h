/*
 * loglist: CT log lists in the v3 JSON shape (Chrome's log_list.json and
 * all_logs_list.json, Apple's schema v5 current_log_list.json, Mozilla's
 * known_logs_list.json): parsing, the check that every log ID is the
 * SHA-256 of its key, lookup by log ID, and the list signature.
 *
 * Keys the parser does not know are ignored; every key it reads is
 * type-checked. Text fields are decoded from JSON (UTF-8, no NUL) but not
 * sanitised: pass them through util_sanitize() before they reach plugin
 * output or logs.
 */
#ifndef CT_LOGLIST_H
#define CT_LOGLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LOGLIST_MAX_BYTES (8 * 1024 * 1024) /* the JSON file */
#define LOGLIST_MAX_LOGS 4096               /* logs + tiled_logs, all ops */
#define LOGLIST_MAX_OPERATORS 1024
#define LOGLIST_MAX_TEXT_BYTES 1024 /* description, names, version, type */
#define LOGLIST_MAX_URL_BYTES 2048
#define LOGLIST_MAX_KEY_BYTES 4096        /* one DER SubjectPublicKeyInfo */
#define LOGLIST_MAX_SIG_BYTES 4096        /* the detached signature file */
#define LOGLIST_MAX_PEM_BYTES (64 * 1024) /* the list's public key file */
#define LOGLIST_LOG_ID_BYTES 32

enum loglist_state {
	LOGLIST_STATE_NONE, /* no "state" (test logs, for instance) */
	LOGLIST_STATE_PENDING,
	LOGLIST_STATE_QUALIFIED,
	LOGLIST_STATE_USABLE,
	LOGLIST_STATE_READONLY,
	LOGLIST_STATE_RETIRED,
	LOGLIST_STATE_REJECTED,
	LOGLIST_STATE__MAX
};

/* "none", "pending", ... as in the JSON. */
extern const char *const loglist_state_names[LOGLIST_STATE__MAX];

enum loglist_type {
	LOGLIST_TYPE_NONE, /* no "log_type" */
	LOGLIST_TYPE_PROD,
	LOGLIST_TYPE_TEST,
	LOGLIST_TYPE_MONITORING_ONLY,
	LOGLIST_TYPE_OTHER, /* a value we do not know; see log_type */
	LOGLIST_TYPE__MAX
};

extern const char *const loglist_type_names[LOGLIST_TYPE__MAX];

/* One log. Every pointer is owned by the list. */
struct loglist_log {
	char *description;   /* "" when absent */
	const char *op_name; /* the operator's name */
	size_t op_index;     /* the operator's position in the list */
	bool tiled;          /* from tiled_logs[] (static-ct-api) */
	uint8_t log_id[LOGLIST_LOG_ID_BYTES]; /* == SHA-256(key), checked */
	uint8_t *key;                         /* DER SubjectPublicKeyInfo */
	size_t key_len;
	char *url;            /* RFC 6962 logs; NULL for tiled logs */
	char *submission_url; /* tiled logs; NULL for RFC 6962 logs */
	char *monitoring_url; /* tiled logs; NULL for RFC 6962 logs */
	uint32_t mmd;         /* seconds */
	enum loglist_state state;
	int64_t state_time; /* epoch seconds; 0 with LOGLIST_STATE_NONE */
	/* A readonly log's final tree head, when the list gives one. */
	bool has_final_sth;
	uint64_t final_tree_size;
	uint8_t final_root_hash[32];
	/* temporal_interval: certificates with notAfter in [start, end). */
	bool has_interval;
	int64_t interval_start;
	int64_t interval_end;
	enum loglist_type type;
	char *log_type; /* the raw log_type text; NULL when absent */
};

struct loglist;

/* Parse flags. */
/*
 * Accept a "state" object with more than one key and take the one with
 * the latest timestamp (later lifecycle state on a tie). Mozilla's
 * known_logs_list.json keeps a state history this way; Chrome's and
 * Apple's lists have exactly one key, and without this flag anything
 * else is refused.
 */
#define LOGLIST_F_STATE_HISTORY 0x1

/*
 * Parses a log list of len bytes (at most LOGLIST_MAX_BYTES). Returns 0
 * with a new list in *out, or a negative ct_err: CT_ERR_FORMAT for a bad
 * shape, a wrong type, a log ID that is not SHA-256 of the key, a state
 * object without exactly one known key, or a log ID listed twice;
 * CT_ERR_TOO_BIG past a cap. When why is not NULL it receives a short
 * reason naming the place ("operators[2].logs[5]: log_id is not
 * SHA-256(key)"); it holds no text from the list.
 */
int loglist_parse(const uint8_t *json, size_t len, unsigned flags,
    struct loglist **out, char *why, size_t whysz);
void loglist_free(struct loglist *l);

/*
 * Verifies the list's detached signature: RSA PKCS#1 v1.5 with SHA-256
 * over the exact JSON bytes, with the key in pem (the first "PUBLIC KEY"
 * block). 0 when valid, CT_ERR_SIGNATURE when not, or another ct_err.
 */
int loglist_verify_sig(const uint8_t *json, size_t json_len, const uint8_t *sig,
    size_t sig_len, const char *pem, size_t pem_len);

/*
 * Reads json_path and, when sig_path is not NULL, checks its signature
 * with the key in pem_path before parsing it. Arguments as loglist_parse.
 */
int loglist_load(const char *json_path, const char *sig_path,
    const char *pem_path, unsigned flags, struct loglist **out, char *why,
    size_t whysz);

/* All logs (RFC 6962 and tiled), in list order. */
size_t loglist_count(const struct loglist *l);
/* Log i (< loglist_count), or NULL. */
const struct loglist_log *loglist_get(const struct loglist *l, size_t i);
/* The log with this ID, or NULL. */
const struct loglist_log *loglist_find(const struct loglist *l,
    const uint8_t log_id[LOGLIST_LOG_ID_BYTES]);

size_t loglist_operator_count(const struct loglist *l);
/* Operator i's name, or NULL past the end. */
const char *loglist_operator_name(const struct loglist *l, size_t i);
/* Top-level "version" ("" when absent, as in Mozilla's list). */
const char *loglist_version(const struct loglist *l);
/* Top-level "log_list_timestamp": 0, or CT_ERR_NOT_FOUND when absent. */
int loglist_timestamp(const struct loglist *l, int64_t *t);

#endif
