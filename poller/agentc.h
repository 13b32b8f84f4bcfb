/*
 * agentc: the poller's side of the ct-agent protocol (common/proto.h),
 * asynchronous on a caller's libuv loop, for ctctl and check_ct.
 *
 * One request: resolve the agent's host (uv_getaddrinfo; a numeric
 * address skips the thread pool), connect to each address in turn until
 * one accepts the TCP connection, run the TLS 1.3 handshake pinning the
 * agent's key (in CA-file mode: checking its certificate against the CA
 * file and the agent's name), send one signed request frame, read one
 * response frame (at most PROTO_MAX_RESPONSE_BYTES), decode it, verify
 * it (signature under the pinned key, agent name, nonce and request
 * hash) and report.
 * One deadline covers all of it. Any number of requests may run at once
 * on one loop; each is independent, so N agents take as long as the
 * slowest, not the sum.
 *
 * Every outcome reaches the callback exactly once, from the loop (never
 * from inside agentc_request), with one error line a person can act on:
 *	connection refused to 192.0.2.10:5660
 *	TLS pin mismatch: expected SHA256:..., got SHA256:... (192.0.2.10:5660)
 *	key not authorized by agent web1 (add this line to its
 *	    authorized_keys: ct-ed25519 ... comment)
 *	clock skew: agent time differs by 312 s (agent ahead; ...)
 *	agent name mismatch: asked web1.example.org, it is web2.example.org
 *	timed out after 5000 ms (during TLS handshake with 192.0.2.10:5660)
 *
 * Texts from the agent (the reason of a refusal) are sanitised
 * (util_sanitize) before they reach the error line.
 */
#ifndef CT_AGENTC_H
#define CT_AGENTC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "keys.h"
#include "proto.h"
#include "tls.h"

#define AGENTC_ERROR_BYTES 512 /* one error line, NUL included */
#define AGENTC_ADDR_BYTES 64   /* "[IPv6]:port" text, NUL included */
#define AGENTC_DEFAULT_TIMEOUT_MS 10000
#define AGENTC_MAX_TIMEOUT_MS (3600 * 1000)
#define AGENTC_MAX_ADDRS 16         /* addresses of one host tried in turn */
#define AGENTC_REASON_MAX_BYTES 200 /* an agent's refusal text, shown */
/* The client certificate's CN (tls_ctx_new_client). */
#define AGENTC_DEFAULT_CN "ct-poller"

/*
 * A poller identity: its key (copied, zeroed on free), the comment of its
 * public line (for the "add this line" hint; may be NULL or "") and the
 * TLS client context made from the key. Reference-counted by requests, so
 * agentc_free may be called while requests run.
 */
struct agentc;

/* 0 or a negative ct_err (CT_ERR_INVALID for a bad comment or cn). */
int agentc_new(const struct keys_ed25519 *key, const char *comment,
    const char *cn, struct agentc **out);
void agentc_free(struct agentc *ac);
/* The poller's public line, "ct-ed25519 BASE64 [comment]". */
const char *agentc_public_line(const struct agentc *ac);
/*
 * CA-file mode (common/tls.h, tls_ctx_use_ca_file), before any request:
 * the TLS layer then checks that an agent's certificate chains to
 * ca_file and names the agent (agentc_target.name) instead of pinning
 * its TLS key, and presents cert_file (key_file, or NULL when cert_file
 * is for the poller's Ed25519 key). Answers are still verified under
 * agentc_target.pub. 0, or a negative ct_err with err set; after a
 * failure the agentc can make no request: free it.
 */
int agentc_use_ca(struct agentc *ac, const char *ca_file, const char *cert_file,
    const char *key_file, char *err, size_t errsz);

/* Whom to ask. Copied by agentc_request, except session. */
struct agentc_target {
	const char *name; /* the agent's name: the request's audience */
	const char *host; /* DNS name, IPv4, or IPv6 without brackets */
	uint16_t port;
	uint8_t pub[KEYS_PUB_BYTES]; /* the pinned agent key */
	/* A session from an earlier result, offered for resumption (may be
	 * NULL). Borrowed: it must stay valid until the callback. */
	const struct tls_session *session;
};

/*
 * What came back. Valid during the callback only, except what the
 * callback takes: it may take body (set r->body to NULL and free() it
 * later) and session (set r->session to NULL, tls_session_free later).
 */
struct agentc_result {
	/*
	 * 0 when the agent answered OK; else a negative ct_err:
	 * CT_ERR_IO (resolve/connect), CT_ERR_TIMEOUT, CT_ERR_AUTH (pin
	 * mismatch, key not authorised, wrong agent name, bad request
	 * signature), CT_ERR_CLOCK, CT_ERR_REPLAY, CT_ERR_SIGNATURE (the
	 * response does not verify), CT_ERR_PROTO (anything else the agent
	 * did wrong or refused), CT_ERR_CLOSED (closed without an answer),
	 * CT_ERR_TOO_BIG, CT_ERR_NOMEM, CT_ERR_CRYPTO.
	 */
	int status;
	/* The agent's verified enum proto_status, or -1 without one. */
	int proto_status;
	/* The verified body, NUL-terminated (not counted in body_len):
	 * JSON for OK, the agent's reason otherwise; NULL without one. */
	char *body;
	size_t body_len;
	/* From a verified response (else 0). */
	int64_t agent_time;
	int64_t skew_s; /* agent_time - the request's timestamp */
	char error[AGENTC_ERROR_BYTES]; /* "" when status is 0 */
	char addr[AGENTC_ADDR_BYTES];   /* the address last tried, or "" */
	bool resumed;                   /* the TLS session was resumed */
	struct tls_session *session;    /* for resumption, or NULL */
	uint64_t elapsed_us; /* from agentc_request to the callback */
};

struct agentc_req;

typedef void (*agentc_cb)(struct agentc_req *req, struct agentc_result *result,
    void *arg);

/*
 * Starts one request of op (PROTO_OP_INFO; PROTO_OP_CERTS with arg a DNS
 * name, a wildcard or "*") to t, finishing within timeout_ms (0: the
 * default; at most AGENTC_MAX_TIMEOUT_MS). *out (may be NULL) receives a
 * handle valid until the callback returns. 0, or CT_ERR_INVALID (a bad
 * name, host, op or argument), CT_ERR_NOMEM, CT_ERR_CRYPTO, CT_ERR_IO; on
 * failure the callback is never called.
 */
int agentc_request(uv_loop_t *loop, struct agentc *ac,
    const struct agentc_target *t, enum proto_op op, const char *arg,
    uint32_t timeout_ms, agentc_cb cb, void *cb_arg, struct agentc_req **out);

/*
 * Ends a request early: its callback follows from the loop with
 * CT_ERR_CLOSED ("cancelled"), unless the result was already delivered
 * (then this does nothing; do not call it after the callback returned).
 */
void agentc_cancel(struct agentc_req *req);

/* ------------------------------- the `certs` answer (agentc_certs.c) */

#define AGENTC_MAX_CERTS 100000     /* as STORE_MAX_RECORDS */
#define AGENTC_MAX_DNS_NAMES 1000   /* per certificate */
#define AGENTC_NAME_MAX_BYTES 1024  /* one dns_names entry, as sent */
#define AGENTC_SERIAL_MAX_BYTES 128 /* lower-case hex, 64-byte INTEGER */
#define AGENTC_PATH_MAX_BYTES 4096

enum agentc_source {
	AGENTC_SOURCE_DEPLOYED = 0, /* a file in a certificate directory */
	AGENTC_SOURCE_STORE,        /* a store record, not deployed now */
	AGENTC_SOURCE__MAX
};

/* "deployed", "store". */
extern const char *const agentc_source_names[AGENTC_SOURCE__MAX];

struct agentc_cert {
	uint8_t tbs_sha256[32];
	uint8_t sha256[32];
	uint8_t spki_sha256[32]; /* when has_spki */
	bool has_spki;
	char serial[AGENTC_SERIAL_MAX_BYTES + 1]; /* "" when sent as null */
	char **dns_names; /* as sent (the agent's view); may hold any byte
	                     but NUL: sanitise before printing */
	size_t n_dns_names;
	int64_t not_before; /* seconds since the epoch; 0 for null */
	int64_t not_after;
	enum agentc_source source;
	char *path;         /* "" when the agent sent none (null) */
	int64_t first_seen; /* 0 when the agent sent null */
	bool has_first_seen;
	bool precert;
	bool live; /* the agent says a server presents it (false if absent) */
};

struct agentc_certs {
	char *name; /* the "name" the agent answered for */
	struct agentc_cert *certs;
	size_t n;
};

/*
 * Parses the body of a `certs` answer (agent/ops.c writes it):
 *	{"name": STRING, "certs": [{"tbs_sha256": HEX64, "sha256": HEX64,
 *	  "serial": HEX|null, "dns_names": [STRING...],
 *	  "not_before": RFC3339|null, "not_after": RFC3339|null,
 *	  "source": "deployed"|"store", "path": STRING|null,
 *	  "first_seen": RFC3339|null, "precert": BOOL,
 *	  "spki_sha256": HEX64 (optional), "live": BOOL (optional)}, ...]}
 * HEX is lower-case. The agent writes null for a time at or before the
 * epoch and for a serial over 64 bytes. Every field but the two optional
 * ones is required, and every field present is type-checked; one given
 * twice (even spelt with escapes) is refused, other members are ignored.
 * 0 with out filled (agentc_certs_free it), or CT_ERR_NOT_FOUND (a
 * missing field), CT_ERR_FORMAT, CT_ERR_TOO_BIG (a cap), CT_ERR_TRUNCATED
 * / CT_ERR_TRAILING (not one JSON document), CT_ERR_NOMEM, with err (errsz
 * bytes, may be NULL) naming the field, e.g. "certs[3].not_after: wrong
 * type or form"; out is then empty.
 */
#define AGENTC_PARSE_ERROR_BYTES 160
int agentc_parse_certs(const char *body, size_t len, struct agentc_certs *out,
    char *err, size_t errsz);
void agentc_certs_free(struct agentc_certs *c);

#endif
