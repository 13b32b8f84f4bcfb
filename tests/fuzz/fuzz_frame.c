/*
 * libFuzzer harness: the ct-agent wire protocol on arbitrary bytes. The
 * input is read three ways: as a request payload, as a response payload,
 * and as a byte stream cut into chunks and fed to a request framer and a
 * response framer, each complete frame being decoded in turn. Whatever
 * decodes is verified (agent and poller checks) with fixed keys, which
 * the seed corpus uses, so mutated valid messages reach the signature and
 * replay checks.
 */
#include <stdlib.h>
#include <string.h>

#include "keys.h"
#include "proto.h"
#include "util.h"

#define FUZZ_NOW 1700000000
#define FUZZ_AGENT "web1.example.org"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct keys_ed25519 client, agent;
static struct keys_pubkey authorized[1];
static struct keys_authorized auth = {authorized, 1};
static struct util_buf sent; /* a request the "poller" sent */

static void
init_once(void)
{
	static int done;
	uint8_t seed[KEYS_PRIV_BYTES], nonce[PROTO_NONCE_BYTES];

	if (done)
		return;
	done = 1;
	memset(seed, 0x11, sizeof(seed));
	if (keys_from_seed(&client, seed) != 0)
		abort();
	memset(seed, 0x22, sizeof(seed));
	if (keys_from_seed(&agent, seed) != 0)
		abort();
	memcpy(authorized[0].pub, client.pub, KEYS_PUB_BYTES);
	memset(nonce, 0xa5, sizeof(nonce));
	if (proto_request_encode(&client, FUZZ_AGENT, PROTO_OP_CERTS, "*",
	        FUZZ_NOW, nonce, &sent) != 0)
		abort();
}

static void
try_request(const uint8_t *p, size_t n)
{
	struct proto_verify_params vp;
	struct proto_request req;
	struct proto_replay *r;
	enum proto_status st;
	const char *why = NULL;
	int rc;

	rc = proto_request_decode(p, n, &req, &why);
	if (rc != 0) {
		if (why == NULL || proto_status_from_err(rc) == PROTO_OK)
			abort();
		return;
	}
	if (req.raw != p || req.raw_len != n ||
	    req.signed_len + KEYS_SIG_BYTES != n ||
	    strlen(req.agent_name) == 0 || strlen(req.arg) != req.arg_len)
		abort();
	if (proto_replay_new(4, PROTO_WINDOW_S, &r) != 0)
		abort();
	memset(&vp, 0, sizeof(vp));
	vp.now = FUZZ_NOW;
	vp.window_s = PROTO_WINDOW_S;
	vp.agent_name = FUZZ_AGENT;
	vp.keys = &auth;
	vp.replay = r;
	st = proto_request_verify(&req, &vp, &why);
	if (st == PROTO_OK &&
	    proto_request_verify(&req, &vp, &why) != PROTO_REPLAY)
		abort();
	proto_replay_free(r);
}

static void
try_response(const uint8_t *p, size_t n)
{
	struct proto_response resp;
	const char *why = NULL;
	int rc;

	rc = proto_response_decode(p, n, &resp, &why);
	if (rc != 0) {
		if (why == NULL)
			abort();
		return;
	}
	if (resp.raw != p || resp.raw_len != n ||
	    resp.signed_len + KEYS_SIG_BYTES != n ||
	    resp.body + resp.body_len > p + n)
		abort();
	(void)proto_response_verify(&resp, agent.pub, sent.data, sent.len,
	    FUZZ_AGENT, &why);
}

/* Feeds the stream in chunks of chunk bytes; decodes every frame. */
static void
try_stream(const uint8_t *data, size_t size, size_t chunk, size_t max,
    void (*decode)(const uint8_t *, size_t))
{
	struct proto_framer f;
	const uint8_t *frame;
	size_t off = 0, n, used, len;
	int rc;

	proto_framer_init(&f, max);
	while (off < size) {
		n = size - off < chunk ? size - off : chunk;
		rc = proto_framer_feed(&f, data + off, n, &used);
		if (used > n)
			abort();
		off += used;
		if (rc < 0)
			break;
		if (rc == 1) {
			frame = proto_framer_frame(&f, &len);
			if (frame == NULL || len == 0 || len > max)
				abort();
			decode(frame, len);
			proto_framer_reset(&f);
		} else if (used != n) {
			abort();
		}
	}
	proto_framer_clear(&f);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t chunk = size % 61 + 1;

	init_once();
	try_request(data, size);
	try_response(data, size);
	try_stream(data, size, chunk, PROTO_MAX_REQUEST_BYTES, try_request);
	try_stream(data, size, chunk, PROTO_MAX_RESPONSE_BYTES, try_response);
	return 0;
}
