/*
 * proto: ct-agent wire protocol v1 (frames, requests, responses, replay
 * cache). The format is described in proto.h.
 */
#include <stdlib.h>
#include <string.h>

#include <wolfssl/wolfcrypt/blake2.h>
#include <wolfssl/wolfcrypt/hash.h>
#include <wolfssl/wolfcrypt/sha256.h>

#include "der.h"
#include "keys.h"
#include "proto.h"
#include "util.h"

#define LABEL_MAX_BYTES 63
/* Replay cache: sanity bounds on the window (one day). */
#define REPLAY_MAX_WINDOW_S 86400

_Static_assert(PROTO_MAX_RESPONSE_BYTES <= UINT32_MAX, "frame length is a u32");
_Static_assert(PROTO_HASH_BYTES == WC_SHA256_DIGEST_SIZE, "hash size");
_Static_assert(PROTO_NAME_MAX_BYTES <= UINT8_MAX, "name length is a u8");
_Static_assert(PROTO_ARG_MAX_BYTES <= UINT16_MAX, "arg length is a u16");
_Static_assert(PROTO_REPLAY_MAX_ENTRIES < UINT32_MAX / 4,
    "replay slots hold u32 indices");

static const char *const status_names[] = {
    "OK",
    "BAD_REQUEST",
    "BAD_SIGNATURE",
    "UNKNOWN_KEY",
    "WRONG_AGENT",
    "CLOCK_SKEW",
    "REPLAY",
    "UNKNOWN_OP",
    "TOO_BIG",
    "BUSY",
    "INTERNAL",
};

_Static_assert(sizeof(status_names) / sizeof(status_names[0]) ==
        PROTO_STATUS__MAX,
    "status_names must list every enum proto_status");

static const char *const op_names[] = {"?", "info", "certs"};

_Static_assert(sizeof(op_names) / sizeof(op_names[0]) == PROTO_OP__MAX,
    "op_names must list every enum proto_op");

static void
set_reason(const char **reason, const char *text)
{
	if (reason != NULL)
		*reason = text;
}

const char *
proto_status_name(int status)
{
	if (status < 0 || status >= PROTO_STATUS__MAX)
		return "?";
	return status_names[status];
}

const char *
proto_op_name(int op)
{
	if (op < PROTO_OP_INFO || op >= PROTO_OP__MAX)
		return "?";
	return op_names[op];
}

int
proto_op_from_name(const char *s)
{
	int op;

	for (op = PROTO_OP_INFO; op < PROTO_OP__MAX; op++)
		if (strcmp(s, op_names[op]) == 0)
			return op;
	return CT_ERR_NOT_FOUND;
}

enum proto_status
proto_status_from_err(int err)
{
	switch (err) {
	case 0:
		return PROTO_OK;
	case CT_ERR_UNSUPPORTED:
		return PROTO_UNKNOWN_OP;
	case CT_ERR_TOO_BIG:
		return PROTO_TOO_BIG;
	case CT_ERR_NOMEM:
		return PROTO_INTERNAL;
	default:
		return PROTO_BAD_REQUEST;
	}
}

int
proto_nonce(uint8_t nonce[PROTO_NONCE_BYTES])
{
	return keys_random(nonce, PROTO_NONCE_BYTES);
}

/* ------------------------------------------------------------ text rules */

/* An agent name: LDH labels of 1..63 bytes joined by single dots. */
static bool
name_ok(const uint8_t *s, size_t n)
{
	size_t i, label = 0;

	if (n < 1 || n > PROTO_NAME_MAX_BYTES)
		return false;
	for (i = 0; i < n; i++) {
		if (s[i] == '.') {
			if (label == 0)
				return false;
			label = 0;
			continue;
		}
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		        (s[i] >= 'A' && s[i] <= 'Z') ||
		        (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return false;
		if (++label > LABEL_MAX_BYTES)
			return false;
	}
	return label > 0;
}

/* The argument of certs: a name, a wildcard, or "*". */
static bool
certs_arg_ok(const uint8_t *s, size_t n)
{
	size_t i;

	if (n < 1 || n > PROTO_ARG_MAX_BYTES)
		return false;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		        (s[i] >= 'A' && s[i] <= 'Z') ||
		        (s[i] >= '0' && s[i] <= '9') || s[i] == '-' ||
		        s[i] == '.' || s[i] == '*' || s[i] == '_'))
			return false;
	return true;
}

static bool
name_eq(const char *a, const char *b)
{
	unsigned char x, y;

	for (;; a++, b++) {
		x = (unsigned char)*a;
		y = (unsigned char)*b;
		if (x >= 'A' && x <= 'Z')
			x = (unsigned char)(x - 'A' + 'a');
		if (y >= 'A' && y <= 'Z')
			y = (unsigned char)(y - 'A' + 'a');
		if (x != y)
			return false;
		if (x == '\0')
			return true;
	}
}

/* ---------------------------------------------------------------- frames */

int
proto_frame_header(uint8_t hdr[PROTO_FRAME_HEADER_BYTES], size_t len,
    size_t max_bytes)
{
	if (len == 0)
		return CT_ERR_INVALID;
	if (len > max_bytes || len > UINT32_MAX)
		return CT_ERR_TOO_BIG;
	hdr[0] = (uint8_t)(len >> 24);
	hdr[1] = (uint8_t)(len >> 16);
	hdr[2] = (uint8_t)(len >> 8);
	hdr[3] = (uint8_t)len;
	return 0;
}

void
proto_framer_init(struct proto_framer *f, size_t max_bytes)
{
	memset(f, 0, sizeof(*f));
	f->max_bytes = max_bytes;
	util_buf_init(&f->buf, max_bytes);
}

int
proto_framer_feed(struct proto_framer *f, const uint8_t *p, size_t n,
    size_t *used)
{
	size_t take, off = 0;
	int rc = 0;

	if (f->err != 0) {
		rc = f->err;
		goto out;
	}
	if (f->done) {
		rc = CT_ERR_INVALID;
		goto out;
	}
	while (off < n && f->hdr_len < PROTO_FRAME_HEADER_BYTES) {
		f->hdr[f->hdr_len++] = p[off++];
		if (f->hdr_len < PROTO_FRAME_HEADER_BYTES)
			continue;
		f->want = (size_t)f->hdr[0] << 24 | (size_t)f->hdr[1] << 16 |
		    (size_t)f->hdr[2] << 8 | f->hdr[3];
		if (f->want == 0)
			rc = f->err = CT_ERR_FORMAT;
		else if (f->want > f->max_bytes)
			rc = f->err = CT_ERR_TOO_BIG;
		if (rc != 0)
			goto out;
	}
	if (f->hdr_len < PROTO_FRAME_HEADER_BYTES)
		goto out;
	take = f->want - f->buf.len;
	if (take > n - off)
		take = n - off;
	if (take > 0 && (rc = util_buf_append(&f->buf, p + off, take)) != 0) {
		f->err = rc;
		goto out;
	}
	off += take;
	if (f->buf.len == f->want) {
		f->done = true;
		rc = 1;
	}
out:
	if (used != NULL)
		*used = off;
	return rc;
}

const uint8_t *
proto_framer_frame(const struct proto_framer *f, size_t *len)
{
	if (!f->done) {
		*len = 0;
		return NULL;
	}
	*len = f->buf.len;
	return f->buf.data;
}

bool
proto_framer_partial(const struct proto_framer *f)
{
	return f->hdr_len > 0 && !f->done;
}

void
proto_framer_reset(struct proto_framer *f)
{
	size_t max = f->max_bytes;

	util_buf_clear(&f->buf);
	proto_framer_init(f, max);
}

void
proto_framer_clear(struct proto_framer *f)
{
	proto_framer_reset(f);
}

/* -------------------------------------------------------------- encoding */

static int
put_u8(struct util_buf *b, unsigned v)
{
	uint8_t x = (uint8_t)v;

	return util_buf_append(b, &x, 1);
}

static int
put_u16(struct util_buf *b, unsigned v)
{
	uint8_t x[2] = {(uint8_t)(v >> 8), (uint8_t)v};

	return util_buf_append(b, x, sizeof(x));
}

static int
put_u32(struct util_buf *b, uint32_t v)
{
	uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16),
	    (uint8_t)(v >> 8), (uint8_t)v};

	return util_buf_append(b, x, sizeof(x));
}

/* Signs everything in b under domain and appends the signature. */
static int
put_signature(struct util_buf *b, const struct keys_ed25519 *key,
    const char *domain)
{
	uint8_t sig[KEYS_SIG_BYTES];
	int rc;

	if ((rc = keys_sign_domain(key, domain, b->data, b->len, sig)) != 0)
		return rc;
	return util_buf_append(b, sig, sizeof(sig));
}

int
proto_request_encode(const struct keys_ed25519 *key, const char *agent_name,
    enum proto_op op, const char *arg, int64_t now,
    const uint8_t nonce[PROTO_NONCE_BYTES], struct util_buf *out)
{
	size_t nlen = strnlen(agent_name, PROTO_NAME_MAX_BYTES + 1);
	size_t alen = arg == NULL ? 0 : strnlen(arg, PROTO_ARG_MAX_BYTES + 1);
	int rc;

	util_buf_init(out, PROTO_MAX_REQUEST_BYTES);
	if (!name_ok((const uint8_t *)agent_name, nlen) || now < 0)
		return CT_ERR_INVALID;
	if (op != PROTO_OP_INFO && op != PROTO_OP_CERTS)
		return CT_ERR_INVALID;
	if (op == PROTO_OP_INFO && alen != 0)
		return CT_ERR_INVALID;
	if (op == PROTO_OP_CERTS && !certs_arg_ok((const uint8_t *)arg, alen))
		return CT_ERR_INVALID;
	if ((rc = util_buf_append(out, PROTO_MAGIC_REQUEST,
	         PROTO_MAGIC_BYTES)) != 0 ||
	    (rc = util_buf_append(out, key->pub, KEYS_PUB_BYTES)) != 0 ||
	    (rc = put_u8(out, (unsigned)nlen)) != 0 ||
	    (rc = util_buf_append(out, agent_name, nlen)) != 0 ||
	    (rc = put_u8(out, (unsigned)op)) != 0 ||
	    (rc = put_u16(out, (unsigned)alen)) != 0 ||
	    (rc = util_buf_append(out, arg, alen)) != 0 ||
	    (rc = util_buf_put_u64(out, (uint64_t)now)) != 0 ||
	    (rc = util_buf_append(out, nonce, PROTO_NONCE_BYTES)) != 0 ||
	    (rc = put_signature(out, key, PROTO_DOMAIN_REQUEST)) != 0)
		util_buf_clear(out);
	return rc;
}

int
proto_body_digest(const uint8_t *body, size_t len,
    uint8_t out[PROTO_BODY_DIGEST_BYTES])
{
	Blake2b b;

	if (len > UINT32_MAX || (body == NULL && len > 0))
		return CT_ERR_INVALID;
	if (wc_InitBlake2b(&b, PROTO_BODY_DIGEST_BYTES) != 0 ||
	    (len > 0 && wc_Blake2bUpdate(&b, body, (word32)len) != 0) ||
	    wc_Blake2bFinal(&b, out, PROTO_BODY_DIGEST_BYTES) != 0)
		return CT_ERR_CRYPTO;
	return 0;
}

/*
 * The signature of a response whose header (magic .. body length) is
 * hdr: over the domain, the header and the body's digest.
 */
static int
response_sign(const struct keys_ed25519 *key, const uint8_t *hdr,
    size_t hdr_len, const uint8_t digest[PROTO_BODY_DIGEST_BYTES],
    uint8_t sig[KEYS_SIG_BYTES])
{
	uint8_t m[PROTO_RESPONSE_HEADER_MAX_BYTES + PROTO_BODY_DIGEST_BYTES];

	if (hdr_len > PROTO_RESPONSE_HEADER_MAX_BYTES)
		return CT_ERR_INVALID;
	memcpy(m, hdr, hdr_len);
	memcpy(m + hdr_len, digest, PROTO_BODY_DIGEST_BYTES);
	return keys_sign_domain(key, PROTO_DOMAIN_RESPONSE, m,
	    hdr_len + PROTO_BODY_DIGEST_BYTES, sig);
}

int
proto_response_encode(const struct keys_ed25519 *agent_key,
    enum proto_status status, const uint8_t *req, size_t req_len,
    const uint8_t *nonce, const char *agent_name, int64_t now,
    const uint8_t *body, size_t body_len, struct util_buf *out)
{
	return proto_response_encode_digest(agent_key, status, req, req_len,
	    nonce, agent_name, now, body, body_len, NULL, out);
}

int
proto_response_encode_digest(const struct keys_ed25519 *agent_key,
    enum proto_status status, const uint8_t *req, size_t req_len,
    const uint8_t *nonce, const char *agent_name, int64_t now,
    const uint8_t *body, size_t body_len, const uint8_t *body_digest,
    struct util_buf *out)
{
	static const uint8_t zero_nonce[PROTO_NONCE_BYTES];
	uint8_t hash[PROTO_HASH_BYTES], digest[PROTO_BODY_DIGEST_BYTES];
	uint8_t sig[KEYS_SIG_BYTES];
	size_t nlen = strnlen(agent_name, PROTO_NAME_MAX_BYTES + 1), hdr_len;
	int rc;

	util_buf_init(out, PROTO_MAX_RESPONSE_BYTES);
	if (!name_ok((const uint8_t *)agent_name, nlen) || now < 0 ||
	    (int)status < 0 || status >= PROTO_STATUS__MAX ||
	    req_len > UINT32_MAX)
		return CT_ERR_INVALID;
	if (body_len >
	    PROTO_MAX_RESPONSE_BYTES - PROTO_RESPONSE_FIXED_BYTES - nlen)
		return CT_ERR_TOO_BIG;
	if (wc_Sha256Hash(req, (word32)req_len, hash) != 0)
		return CT_ERR_CRYPTO;
	if (body_digest == NULL) {
		if ((rc = proto_body_digest(body, body_len, digest)) != 0)
			return rc;
		body_digest = digest;
	}
	if (nonce == NULL)
		nonce = zero_nonce;
	if ((rc = util_buf_reserve(out,
	         PROTO_RESPONSE_FIXED_BYTES + nlen + body_len)) != 0 ||
	    (rc = util_buf_append(out, PROTO_MAGIC_RESPONSE,
	         PROTO_MAGIC_BYTES)) != 0 ||
	    (rc = put_u8(out, (unsigned)status)) != 0 ||
	    (rc = util_buf_append(out, nonce, PROTO_NONCE_BYTES)) != 0 ||
	    (rc = util_buf_append(out, hash, sizeof(hash))) != 0 ||
	    (rc = put_u8(out, (unsigned)nlen)) != 0 ||
	    (rc = util_buf_append(out, agent_name, nlen)) != 0 ||
	    (rc = util_buf_put_u64(out, (uint64_t)now)) != 0 ||
	    (rc = put_u32(out, (uint32_t)body_len)) != 0)
		goto out;
	hdr_len = out->len;
	if ((rc = response_sign(agent_key, out->data, hdr_len, body_digest,
	         sig)) != 0 ||
	    (rc = util_buf_append(out, body, body_len)) != 0 ||
	    (rc = util_buf_append(out, sig, sizeof(sig))) != 0)
		goto out;
	return 0;
out:
	util_buf_clear(out);
	return rc;
}

/* -------------------------------------------------------------- decoding */

/* Maps a cursor failure to the reason "<what> missing or cut short". */
static int
need(int rc, const char **reason, const char *what)
{
	if (rc != 0)
		set_reason(reason, what);
	return rc;
}

static int
read_magic(struct der_cursor *c, const char *magic, const char **reason)
{
	const uint8_t *m;
	int rc;

	if ((rc = need(der_read_bytes(c, PROTO_MAGIC_BYTES, &m), reason,
	         "truncated in the magic")) != 0)
		return rc;
	if (memcmp(m, magic, PROTO_MAGIC_BYTES) == 0)
		return 0;
	if (memcmp(m, magic, PROTO_MAGIC_BYTES - 1) == 0)
		set_reason(reason, "unsupported protocol version");
	else
		set_reason(reason, "bad magic: not a ct-agent message");
	return CT_ERR_PROTO;
}

static int
read_name(struct der_cursor *c, char out[PROTO_NAME_MAX_BYTES + 1],
    const char **reason)
{
	struct der_cursor v;
	int rc;

	if ((rc = need(der_read_vec(c, 1, &v), reason,
	         "truncated in the agent name")) != 0)
		return rc;
	if (!name_ok(v.p, v.len)) {
		set_reason(reason,
		    "agent name is not 1..253 bytes of LDH "
		    "labels and dots");
		return CT_ERR_FORMAT;
	}
	memcpy(out, v.p, v.len);
	out[v.len] = '\0';
	return 0;
}

static int
read_tail(struct der_cursor *c, const uint8_t **sig, const char **reason)
{
	int rc;

	if ((rc = need(der_read_bytes(c, KEYS_SIG_BYTES, sig), reason,
	         "truncated in the signature")) != 0)
		return rc;
	if (!der_empty(c)) {
		set_reason(reason, "bytes after the signature");
		return CT_ERR_TRAILING;
	}
	return 0;
}

static int
read_arg(struct der_cursor *c, struct proto_request *req, const char **reason)
{
	struct der_cursor v;
	int rc;

	if ((rc = need(der_read_vec(c, 2, &v), reason,
	         "truncated in the argument")) != 0)
		return rc;
	if (v.len > PROTO_ARG_MAX_BYTES) {
		set_reason(reason, "argument longer than 253 bytes");
		return CT_ERR_FORMAT;
	}
	if (req->op == PROTO_OP_INFO && v.len != 0) {
		set_reason(reason, "info takes no argument");
		return CT_ERR_FORMAT;
	}
	if (req->op == PROTO_OP_CERTS && !certs_arg_ok(v.p, v.len)) {
		set_reason(reason,
		    "certs needs a DNS name or '*' of "
		    "[A-Za-z0-9.*_-]");
		return CT_ERR_FORMAT;
	}
	if (v.len > 0)
		memcpy(req->arg, v.p, v.len);
	req->arg[v.len] = '\0';
	req->arg_len = v.len;
	return 0;
}

int
proto_request_decode(const uint8_t *p, size_t len, struct proto_request *req,
    const char **reason)
{
	struct der_cursor c;
	uint8_t op;
	int rc;

	memset(req, 0, sizeof(*req));
	if (len > PROTO_MAX_REQUEST_BYTES) {
		set_reason(reason, "request larger than 16 KiB");
		return CT_ERR_TOO_BIG;
	}
	der_init(&c, p, len);
	if ((rc = read_magic(&c, PROTO_MAGIC_REQUEST, reason)) != 0 ||
	    (rc = need(der_read_bytes(&c, KEYS_PUB_BYTES, &req->client_pub),
	         reason, "truncated in the client key")) != 0 ||
	    (rc = read_name(&c, req->agent_name, reason)) != 0 ||
	    (rc = need(der_read_u8(&c, &op), reason,
	         "truncated in the operation")) != 0)
		goto out;
	if (op != PROTO_OP_INFO && op != PROTO_OP_CERTS) {
		set_reason(reason, "unknown operation");
		rc = CT_ERR_UNSUPPORTED;
		goto out;
	}
	req->op = (enum proto_op)op;
	if ((rc = read_arg(&c, req, reason)) != 0 ||
	    (rc = need(der_read_u64(&c, &req->timestamp), reason,
	         "truncated in the timestamp")) != 0 ||
	    (rc = need(der_read_bytes(&c, PROTO_NONCE_BYTES, &req->nonce),
	         reason, "truncated in the nonce")) != 0)
		goto out;
	req->signed_len = len - c.len;
	if ((rc = read_tail(&c, &req->sig, reason)) != 0)
		goto out;
	req->raw = p;
	req->raw_len = len;
out:
	if (rc != 0)
		memset(req, 0, sizeof(*req));
	return rc;
}

static int
read_u32(struct der_cursor *c, uint32_t *v)
{
	const uint8_t *b;
	int rc;

	if ((rc = der_read_bytes(c, 4, &b)) != 0)
		return rc;
	*v = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 |
	    b[3];
	return 0;
}

int
proto_response_decode(const uint8_t *p, size_t len, struct proto_response *resp,
    const char **reason)
{
	struct der_cursor c;
	uint32_t blen;
	uint8_t st;
	int rc;

	memset(resp, 0, sizeof(*resp));
	if (len > PROTO_MAX_RESPONSE_BYTES) {
		set_reason(reason, "response larger than 16 MiB");
		return CT_ERR_TOO_BIG;
	}
	der_init(&c, p, len);
	if ((rc = read_magic(&c, PROTO_MAGIC_RESPONSE, reason)) != 0 ||
	    (rc = need(der_read_u8(&c, &st), reason,
	         "truncated in the status")) != 0)
		goto out;
	if (st >= PROTO_STATUS__MAX) {
		set_reason(reason, "unknown status");
		rc = CT_ERR_FORMAT;
		goto out;
	}
	resp->status = (enum proto_status)st;
	if ((rc = need(der_read_bytes(&c, PROTO_NONCE_BYTES, &resp->nonce),
	         reason, "truncated in the nonce")) != 0 ||
	    (rc = need(der_read_bytes(&c, PROTO_HASH_BYTES, &resp->req_hash),
	         reason, "truncated in the request hash")) != 0 ||
	    (rc = read_name(&c, resp->agent_name, reason)) != 0 ||
	    (rc = need(der_read_u64(&c, &resp->agent_time), reason,
	         "truncated in the agent time")) != 0 ||
	    (rc = need(read_u32(&c, &blen), reason,
	         "truncated in the body length")) != 0 ||
	    (rc = need(der_read_bytes(&c, blen, &resp->body), reason,
	         "truncated in the body")) != 0)
		goto out;
	resp->body_len = blen;
	resp->signed_len = len - c.len;
	if ((rc = read_tail(&c, &resp->sig, reason)) != 0)
		goto out;
	resp->raw = p;
	resp->raw_len = len;
out:
	if (rc != 0)
		memset(resp, 0, sizeof(*resp));
	return rc;
}

/* ---------------------------------------------------------- verification */

static enum proto_status
check_time(uint64_t ts, int64_t now, int64_t window_s, const char **reason)
{
	uint64_t d;

	if (ts > (uint64_t)INT64_MAX) {
		set_reason(reason, "timestamp out of range");
		return PROTO_CLOCK_SKEW;
	}
	d = ts >= (uint64_t)now ? ts - (uint64_t)now : (uint64_t)now - ts;
	if (d > (uint64_t)window_s) {
		set_reason(reason,
		    ts > (uint64_t)now
		        ? "timestamp too far ahead of the agent clock"
		        : "timestamp too far behind the agent clock");
		return PROTO_CLOCK_SKEW;
	}
	return PROTO_OK;
}

enum proto_status
proto_request_verify(const struct proto_request *req,
    const struct proto_verify_params *vp, const char **reason)
{
	bool known = false;
	int rc;

	if (req->raw == NULL || vp->replay == NULL || vp->agent_name == NULL ||
	    vp->now < 0 || vp->window_s < 0 ||
	    vp->window_s > proto_replay_window(vp->replay)) {
		set_reason(reason, "agent misconfigured: verify parameters");
		return PROTO_INTERNAL;
	}
	if (vp->keys != NULL)
		known = keys_authorized_find(vp->keys, req->client_pub) != NULL;
	else if (vp->authorize != NULL)
		known = vp->authorize(req->client_pub, vp->authorize_arg) == 0;
	if (!known) {
		set_reason(reason, "client key not authorised");
		return PROTO_UNKNOWN_KEY;
	}
	if (keys_verify_domain(req->client_pub, PROTO_DOMAIN_REQUEST, req->raw,
	        req->signed_len, req->sig) != 0) {
		set_reason(reason, "request signature does not verify");
		return PROTO_BAD_SIGNATURE;
	}
	if (!name_eq(req->agent_name, vp->agent_name)) {
		set_reason(reason, "request is addressed to another agent");
		return PROTO_WRONG_AGENT;
	}
	if (check_time(req->timestamp, vp->now, vp->window_s, reason) !=
	    PROTO_OK)
		return PROTO_CLOCK_SKEW;
	rc = proto_replay_check(vp->replay, req->nonce, vp->now);
	if (rc == CT_ERR_REPLAY) {
		set_reason(reason, "nonce already seen: replayed request");
		return PROTO_REPLAY;
	}
	if (rc != 0) {
		set_reason(reason, "replay cache full");
		return PROTO_BUSY;
	}
	return PROTO_OK;
}

int
proto_response_signature(const struct proto_response *resp,
    const uint8_t agent_pub[KEYS_PUB_BYTES])
{
	uint8_t m[PROTO_RESPONSE_HEADER_MAX_BYTES + PROTO_BODY_DIGEST_BYTES];
	size_t hdr_len;

	if (resp->body < resp->raw ||
	    (hdr_len = (size_t)(resp->body - resp->raw)) >
	        PROTO_RESPONSE_HEADER_MAX_BYTES ||
	    resp->body_len > resp->raw_len - hdr_len)
		return CT_ERR_SIGNATURE;
	memcpy(m, resp->raw, hdr_len);
	if (proto_body_digest(resp->body, resp->body_len, m + hdr_len) != 0)
		return CT_ERR_SIGNATURE;
	return keys_verify_domain(agent_pub, PROTO_DOMAIN_RESPONSE, m,
	    hdr_len + PROTO_BODY_DIGEST_BYTES, resp->sig);
}

int
proto_response_verify(const struct proto_response *resp,
    const uint8_t agent_pub[KEYS_PUB_BYTES], const uint8_t *req, size_t req_len,
    const char *agent_name, const char **reason)
{
	struct proto_request sent;
	uint8_t hash[PROTO_HASH_BYTES];

	if (resp->raw == NULL || req_len > UINT32_MAX ||
	    proto_request_decode(req, req_len, &sent, NULL) != 0) {
		set_reason(reason, "not a request we could have sent");
		return CT_ERR_INVALID;
	}
	if (proto_response_signature(resp, agent_pub) != 0) {
		set_reason(reason,
		    "response signature does not verify under "
		    "the pinned agent key");
		return CT_ERR_SIGNATURE;
	}
	if (!name_eq(resp->agent_name, agent_name)) {
		set_reason(reason, "response comes from another agent name");
		return CT_ERR_AUTH;
	}
	if (!util_ct_equal(resp->nonce, sent.nonce, PROTO_NONCE_BYTES)) {
		set_reason(reason, "response answers another request (nonce)");
		return CT_ERR_PROTO;
	}
	if (wc_Sha256Hash(req, (word32)req_len, hash) != 0)
		return CT_ERR_CRYPTO;
	if (!util_ct_equal(resp->req_hash, hash, sizeof(hash))) {
		set_reason(reason, "response answers another request (hash)");
		return CT_ERR_PROTO;
	}
	return 0;
}

/* ---------------------------------------------------------- replay cache */

struct replay_entry {
	uint8_t nonce[PROTO_NONCE_BYTES];
	int64_t seen;
	uint32_t home; /* its slot when nothing collides */
};

struct proto_replay {
	size_t cap;  /* entries in the ring */
	size_t mask; /* slots - 1; slots >= 2 * cap, a power of two */
	int64_t window_s;
	int64_t keep_s;
	uint64_t k0, k1;           /* SipHash key */
	struct replay_entry *ring; /* oldest at head */
	size_t head, count;
	uint32_t *slots; /* ring index + 1; 0 is empty */
};

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                               \
	do {                                                                   \
		v0 += v1;                                                      \
		v1 = ROTL(v1, 13);                                             \
		v1 ^= v0;                                                      \
		v0 = ROTL(v0, 32);                                             \
		v2 += v3;                                                      \
		v3 = ROTL(v3, 16);                                             \
		v3 ^= v2;                                                      \
		v0 += v3;                                                      \
		v3 = ROTL(v3, 21);                                             \
		v3 ^= v0;                                                      \
		v2 += v1;                                                      \
		v1 = ROTL(v1, 17);                                             \
		v1 ^= v2;                                                      \
		v2 = ROTL(v2, 32);                                             \
	} while (0)

static uint64_t
le64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* SipHash-2-4 of a 16-byte message. */
static uint64_t
siphash16(uint64_t k0, uint64_t k1, const uint8_t m[16])
{
	uint64_t v0 = k0 ^ 0x736f6d6570736575ULL;
	uint64_t v1 = k1 ^ 0x646f72616e646f6dULL;
	uint64_t v2 = k0 ^ 0x6c7967656e657261ULL;
	uint64_t v3 = k1 ^ 0x7465646279746573ULL;
	uint64_t w, b = (uint64_t)16 << 56;
	int i;

	for (i = 0; i < 2; i++) {
		w = le64(m + 8 * i);
		v3 ^= w;
		SIPROUND;
		SIPROUND;
		v0 ^= w;
	}
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

int
proto_replay_new(size_t capacity, int64_t window_s, struct proto_replay **out)
{
	struct proto_replay *r = NULL;
	uint64_t key[2];
	size_t slots = 1;
	int rc;

	*out = NULL;
	if (capacity < 1 || capacity > PROTO_REPLAY_MAX_ENTRIES ||
	    window_s < 1 || window_s > REPLAY_MAX_WINDOW_S)
		return CT_ERR_INVALID;
	while (slots < 2 * capacity)
		slots *= 2;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return CT_ERR_NOMEM;
	r->ring = calloc(capacity, sizeof(*r->ring));
	r->slots = calloc(slots, sizeof(*r->slots));
	if (r->ring == NULL || r->slots == NULL) {
		rc = CT_ERR_NOMEM;
		goto fail;
	}
	if ((rc = keys_random(key, sizeof(key))) != 0)
		goto fail;
	r->k0 = key[0];
	r->k1 = key[1];
	r->cap = capacity;
	r->mask = slots - 1;
	r->window_s = window_s;
	r->keep_s = 2 * window_s;
	*out = r;
	return 0;
fail:
	proto_replay_free(r);
	return rc;
}

void
proto_replay_free(struct proto_replay *r)
{
	if (r == NULL)
		return;
	free(r->ring);
	free(r->slots);
	free(r);
}

size_t
proto_replay_count(const struct proto_replay *r)
{
	return r->count;
}

int64_t
proto_replay_window(const struct proto_replay *r)
{
	return r->window_s;
}

/* Is k cyclically in (i, j]? */
static bool
between(size_t i, size_t k, size_t j)
{
	return i <= j ? (i < k && k <= j) : (i < k || k <= j);
}

/* Removes the oldest entry (linear probing, backward-shift deletion). */
static void
replay_pop(struct proto_replay *r)
{
	struct replay_entry *e = &r->ring[r->head];
	size_t i = e->home, j, k;
	uint32_t id = (uint32_t)r->head + 1;

	while (r->slots[i] != id)
		i = (i + 1) & r->mask;
	for (;;) {
		r->slots[i] = 0;
		j = i;
		for (;;) {
			j = (j + 1) & r->mask;
			if (r->slots[j] == 0)
				goto done;
			k = r->ring[r->slots[j] - 1].home;
			if (!between(i, k, j))
				break;
		}
		r->slots[i] = r->slots[j];
		i = j;
	}
done:
	r->head = (r->head + 1) % r->cap;
	r->count--;
}

int
proto_replay_check(struct proto_replay *r,
    const uint8_t nonce[PROTO_NONCE_BYTES], int64_t now)
{
	struct replay_entry *e;
	size_t home, i, idx;

	if (now < 0)
		return CT_ERR_INVALID;
	/* Oldest first; a clock stepping back only keeps entries longer. */
	while (r->count > 0 && now - r->ring[r->head].seen > r->keep_s)
		replay_pop(r);
	home = (size_t)siphash16(r->k0, r->k1, nonce) & r->mask;
	for (i = home; r->slots[i] != 0; i = (i + 1) & r->mask)
		if (memcmp(r->ring[r->slots[i] - 1].nonce, nonce,
		        PROTO_NONCE_BYTES) == 0)
			return CT_ERR_REPLAY;
	if (r->count == r->cap)
		return CT_ERR_TOO_BIG;
	idx = (r->head + r->count) % r->cap;
	e = &r->ring[idx];
	memcpy(e->nonce, nonce, PROTO_NONCE_BYTES);
	e->seen = now;
	e->home = (uint32_t)home;
	r->slots[i] = (uint32_t)idx + 1;
	r->count++;
	return 0;
}
