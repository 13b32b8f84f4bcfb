/*
 * proto: the ct-agent wire protocol, version 1. Pure encoding, decoding,
 * signing and verification; no sockets. This comment is the contract
 * between ct-agent and its pollers (check_ct, ctctl).
 *
 * Transport. TLS 1.3 with pinned Ed25519 keys on both sides (tls module);
 * inside it, one request frame from the poller and one response frame
 * from the agent. Integers are big-endian; "||" is concatenation.
 *
 * Frame:   length (u32, 1 ..cap) || payload
 *          cap: PROTO_MAX_REQUEST_BYTES (16 KiB) for requests,
 *               PROTO_MAX_RESPONSE_BYTES (16 MiB) for responses,
 *          enforced as soon as the four length bytes are read. A zero
 *          length is an error.
 *
 * Request payload:
 *          "CTQ1"                          magic and version (4)
 *          client public key               Ed25519, raw (32)
 *          agent name      u8 length 1..253, then LDH and '.' only: the
 *                          audience; labels 1..63, no leading, trailing
 *                          or double dot
 *          op              u8: 1 = info, 2 = certs
 *          argument        u16 length 0..253, then the bytes; empty for
 *                          info; for certs 1..253 bytes of [A-Za-z0-9.*_-]
 *                          (a DNS name, a wildcard, or "*" for all)
 *          timestamp       u64, seconds since the epoch
 *          nonce           16 random bytes
 *          signature       64 bytes, Ed25519 by the client key over
 *                          "ct-agent request v1" 0x00 || every byte above
 *          Nothing may follow. An unknown op is UNKNOWN_OP; any other
 *          defect is BAD_REQUEST.
 *
 * Request checks on the agent, in this order (the first failure is the
 * answer): the key is authorised (UNKNOWN_KEY), the signature verifies
 * (BAD_SIGNATURE), the agent name is ours, ASCII case ignored
 * (WRONG_AGENT), |timestamp - agent clock| <= 120 s (CLOCK_SKEW), the
 * nonce was not seen in the last 2 * 120 s (REPLAY), and the replay
 * cache has room (BUSY: it never forgets an unexpired nonce). An
 * unauthenticated peer thus learns nothing but UNKNOWN_KEY or
 * BAD_SIGNATURE.
 *
 * Response payload:
 *          "CTR1"                          magic and version (4)
 *          status          u8, enum proto_status
 *          request nonce   16; zeros when the request could not be decoded
 *          request hash    32, SHA-256 of the whole request payload as
 *                          received, its signature included
 *          agent name      u8 length 1..253, as in the request
 *          agent time      u64, seconds since the epoch
 *          body            u32 length, then the bytes: JSON from the agent
 *                          for OK, a short UTF-8 reason otherwise
 *          signature       64 bytes, Ed25519 by the agent key over
 *                          "ct-agent response v1" 0x00 || every byte
 *                          from the magic to the body length ||
 *                          BLAKE2b-256(body) (RFC 7693, unkeyed, 32-byte
 *                          output)
 *          Nothing may follow. The poller verifies the signature under the
 *          pinned agent key, the agent name, and that nonce and hash are
 *          those of the request it sent.
 *
 * Why a digest: Ed25519 hashes its message twice to sign and once to
 * verify, with SHA-512, which is slow in this wolfSSL build. The agent
 * keeps the digest of a cached answer, so that signing a response costs
 * the same for any body size, and the poller hashes the body once with
 * BLAKE2b, about twice as fast here as SHA-512.
 *
 * A version mismatch (another magic) is an error on both sides; there is
 * no fallback.
 */
#ifndef CT_PROTO_H
#define CT_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keys.h"
#include "util.h"

#define PROTO_DEFAULT_PORT 5660
#define PROTO_MAGIC_REQUEST "CTQ1"
#define PROTO_MAGIC_RESPONSE "CTR1"
#define PROTO_MAGIC_BYTES 4
#define PROTO_DOMAIN_REQUEST "ct-agent request v1"
#define PROTO_DOMAIN_RESPONSE "ct-agent response v1"

#define PROTO_FRAME_HEADER_BYTES 4
#define PROTO_MAX_REQUEST_BYTES (16 * 1024)
#define PROTO_MAX_RESPONSE_BYTES (16 * 1024 * 1024)
#define PROTO_NONCE_BYTES 16
#define PROTO_HASH_BYTES 32
#define PROTO_NAME_MAX_BYTES 253
#define PROTO_ARG_MAX_BYTES 253
/* Allowed distance between a request's timestamp and the agent clock. */
#define PROTO_WINDOW_S 120
/* Replay cache sizes: the default, and the most init accepts. */
#define PROTO_REPLAY_DEFAULT_ENTRIES 65536
#define PROTO_REPLAY_MAX_ENTRIES (1024 * 1024)

/* Fixed bytes around the variable fields. */
#define PROTO_REQUEST_FIXED_BYTES (4 + 32 + 1 + 1 + 2 + 8 + 16 + 64)
#define PROTO_RESPONSE_FIXED_BYTES (4 + 1 + 16 + 32 + 1 + 8 + 4 + 64)
/* A response up to its body (magic .. body length), at most. */
#define PROTO_RESPONSE_HEADER_MAX_BYTES                                        \
	(PROTO_RESPONSE_FIXED_BYTES - 64 + PROTO_NAME_MAX_BYTES)
/* BLAKE2b-256 of a response body: what the signature covers of it. */
#define PROTO_BODY_DIGEST_BYTES 32
/* The largest body every agent name leaves room for. */
#define PROTO_MAX_BODY_BYTES                                                   \
	(PROTO_MAX_RESPONSE_BYTES - PROTO_RESPONSE_FIXED_BYTES -               \
	    PROTO_NAME_MAX_BYTES)

enum proto_op { PROTO_OP_INFO = 1, PROTO_OP_CERTS = 2, PROTO_OP__MAX };

/* Wire values: never renumber. */
enum proto_status {
	PROTO_OK = 0,
	PROTO_BAD_REQUEST,   /* malformed request */
	PROTO_BAD_SIGNATURE, /* request signature does not verify */
	PROTO_UNKNOWN_KEY,   /* client key not authorised */
	PROTO_WRONG_AGENT,   /* request names another agent */
	PROTO_CLOCK_SKEW,    /* timestamp outside the window */
	PROTO_REPLAY,        /* nonce already seen */
	PROTO_UNKNOWN_OP,    /* op not in this version */
	PROTO_TOO_BIG,       /* request or answer over a cap */
	PROTO_BUSY,          /* replay cache full, or rate limited */
	PROTO_INTERNAL,      /* the agent failed */
	PROTO_STATUS__MAX
};

/* "OK", "BAD_REQUEST", ...; "?" for a value out of range. */
const char *proto_status_name(int status);
/* "info", "certs"; "?" for a value out of range. */
const char *proto_op_name(int op);
/* The op named s ("info", "certs"), or CT_ERR_NOT_FOUND. */
int proto_op_from_name(const char *s);
/*
 * The status an agent answers for a proto_request_decode() error:
 * UNKNOWN_OP for CT_ERR_UNSUPPORTED, TOO_BIG, INTERNAL for CT_ERR_NOMEM,
 * BAD_REQUEST for the rest, OK for 0.
 */
enum proto_status proto_status_from_err(int err);

/* 16 fresh random bytes. 0 or CT_ERR_CRYPTO. */
int proto_nonce(uint8_t nonce[PROTO_NONCE_BYTES]);

/* ---------------------------------------------------------------- frames */

/* The frame header for a payload of len bytes (1..max_bytes). */
int proto_frame_header(uint8_t hdr[PROTO_FRAME_HEADER_BYTES], size_t len,
    size_t max_bytes);

/*
 * Reassembles one frame from bytes arriving in pieces. Memory grows with
 * the bytes actually received, never with the announced length.
 */
struct proto_framer {
	size_t max_bytes;
	uint8_t hdr[PROTO_FRAME_HEADER_BYTES];
	size_t hdr_len;
	size_t want; /* payload length, once the header is complete */
	struct util_buf buf;
	int err; /* sticky: once set, every feed returns it */
	bool done;
};

void proto_framer_init(struct proto_framer *f, size_t max_bytes);
/*
 * Consumes up to n bytes of p; *used (may be NULL) says how many. A frame
 * ends exactly at its announced length, so bytes after it are left
 * unused. Returns 0 when more bytes are needed, 1 when a frame is
 * complete, or a negative ct_err: CT_ERR_TOO_BIG for a length over the cap
 * (as soon as the fourth length byte is read), CT_ERR_FORMAT for a zero
 * length, CT_ERR_INVALID when fed after a complete frame without reset.
 */
int proto_framer_feed(struct proto_framer *f, const uint8_t *p, size_t n,
    size_t *used);
/* The complete frame's payload (a view into f), or NULL. */
const uint8_t *proto_framer_frame(const struct proto_framer *f, size_t *len);
/* True while a frame has begun but not ended (EOF now means truncation). */
bool proto_framer_partial(const struct proto_framer *f);
/* Ready for the next frame; keeps the cap, drops the payload. */
void proto_framer_reset(struct proto_framer *f);
void proto_framer_clear(struct proto_framer *f);

/* -------------------------------------------------------------- requests */

/* A decoded request: views point into the decoded bytes (raw). */
struct proto_request {
	const uint8_t *raw; /* the whole payload */
	size_t raw_len;
	size_t signed_len;         /* raw[0 .. signed_len) is signed */
	const uint8_t *client_pub; /* KEYS_PUB_BYTES, in raw */
	char agent_name[PROTO_NAME_MAX_BYTES + 1]; /* validated copy */
	enum proto_op op;
	char arg[PROTO_ARG_MAX_BYTES + 1]; /* validated copy, "" for info */
	size_t arg_len;
	uint64_t timestamp;
	const uint8_t *nonce; /* PROTO_NONCE_BYTES, in raw */
	const uint8_t *sig;   /* KEYS_SIG_BYTES, in raw */
};

/*
 * Builds a signed request payload (no frame header) into out, which this
 * initialises (capped at PROTO_MAX_REQUEST_BYTES); the caller clears it.
 * arg may be NULL for info. CT_ERR_INVALID for a bad name, op or arg.
 */
int proto_request_encode(const struct keys_ed25519 *key, const char *agent_name,
    enum proto_op op, const char *arg, int64_t now,
    const uint8_t nonce[PROTO_NONCE_BYTES], struct util_buf *out);
/*
 * Decodes a request payload; checks its form only (no signature). req
 * points into p, which must outlive it. 0 or a negative ct_err with
 * reason set; proto_status_from_err() gives the status to answer.
 */
int proto_request_decode(const uint8_t *p, size_t len,
    struct proto_request *req, const char **reason);

struct proto_replay;

/* What the agent checks a decoded request against. */
struct proto_verify_params {
	int64_t now;            /* the agent clock, seconds since the epoch */
	int64_t window_s;       /* PROTO_WINDOW_S */
	const char *agent_name; /* our own name */
	/* Authorised client keys: the list, or else the callback (0 = yes). */
	const struct keys_authorized *keys;
	int (*authorize)(const uint8_t pub[KEYS_PUB_BYTES], void *arg);
	void *authorize_arg;
	struct proto_replay *replay; /* required; its window >= window_s */
};

/*
 * Runs the agent's checks (order in the comment at the top). Returns
 * PROTO_OK, having recorded the nonce, or the status to answer, with
 * reason set to what is wrong.
 */
enum proto_status proto_request_verify(const struct proto_request *req,
    const struct proto_verify_params *vp, const char **reason);

/* ------------------------------------------------------------- responses */

struct proto_response {
	const uint8_t *raw; /* the whole payload */
	size_t raw_len;
	size_t signed_len; /* raw[0 .. signed_len): all but the signature */
	enum proto_status status;
	const uint8_t *nonce;    /* PROTO_NONCE_BYTES, in raw */
	const uint8_t *req_hash; /* PROTO_HASH_BYTES, in raw */
	char agent_name[PROTO_NAME_MAX_BYTES + 1];
	uint64_t agent_time;
	const uint8_t *body; /* in raw; not NUL-terminated */
	size_t body_len;
	const uint8_t *sig; /* KEYS_SIG_BYTES, in raw */
};

/*
 * Builds a signed response payload into out (initialised here, capped at
 * PROTO_MAX_RESPONSE_BYTES). req/req_len: the request payload as
 * received, whatever it held; nonce: its nonce, or NULL when it could not
 * be decoded. CT_ERR_TOO_BIG when the body does not fit.
 */
int proto_response_encode(const struct keys_ed25519 *agent_key,
    enum proto_status status, const uint8_t *req, size_t req_len,
    const uint8_t *nonce, const char *agent_name, int64_t now,
    const uint8_t *body, size_t body_len, struct util_buf *out);
/*
 * The same with the body's digest given (proto_body_digest of body; the
 * agent keeps it with a cached answer), or NULL to compute it.
 */
int proto_response_encode_digest(const struct keys_ed25519 *agent_key,
    enum proto_status status, const uint8_t *req, size_t req_len,
    const uint8_t *nonce, const char *agent_name, int64_t now,
    const uint8_t *body, size_t body_len, const uint8_t *body_digest,
    struct util_buf *out);
/* BLAKE2b-256 of a response body. 0, CT_ERR_INVALID or CT_ERR_CRYPTO. */
int proto_body_digest(const uint8_t *body, size_t len,
    uint8_t out[PROTO_BODY_DIGEST_BYTES]);
/* Decodes a response payload (form only). As proto_request_decode. */
int proto_response_decode(const uint8_t *p, size_t len,
    struct proto_response *resp, const char **reason);
/*
 * The poller's checks: the signature under the pinned agent key
 * (CT_ERR_SIGNATURE), the agent name (CT_ERR_AUTH), the nonce and hash of
 * the request req/req_len that was sent (CT_ERR_PROTO); CT_ERR_INVALID
 * when req/req_len is not a request. 0 says the agent answered this
 * request; resp->status says how. The agent time is not checked.
 */
int proto_response_verify(const struct proto_response *resp,
    const uint8_t agent_pub[KEYS_PUB_BYTES], const uint8_t *req, size_t req_len,
    const char *agent_name, const char **reason);

/*
 * The signature check alone (proto_response_verify's first): 0 or
 * CT_ERR_SIGNATURE. For test clients that send requests no poller would.
 */
int proto_response_signature(const struct proto_response *resp,
    const uint8_t agent_pub[KEYS_PUB_BYTES]);

/* ---------------------------------------------------------- replay cache */

/*
 * Remembers nonces for 2 * window_s seconds in at most capacity entries
 * (about 40 bytes each). Lookups hash the nonce with a per-cache random
 * key (SipHash-2-4), so clients cannot aim collisions.
 */
int proto_replay_new(size_t capacity, int64_t window_s,
    struct proto_replay **out);
void proto_replay_free(struct proto_replay *r);
/*
 * Drops nonces older than 2 * window_s, then records nonce as seen at now.
 * 0, CT_ERR_REPLAY when it is already there, or CT_ERR_TOO_BIG when every
 * entry is still unexpired (nothing is evicted early).
 */
int proto_replay_check(struct proto_replay *r,
    const uint8_t nonce[PROTO_NONCE_BYTES], int64_t now);
/* Entries held (expired ones count until the next check). */
size_t proto_replay_count(const struct proto_replay *r);
int64_t proto_replay_window(const struct proto_replay *r);

#endif
