/*
 * Unit tests for common/proto: frames, signed requests and responses,
 * the agent's checks, the replay cache.
 */
#include <stdlib.h>
#include <string.h>

#include <wolfssl/wolfcrypt/blake2.h>

#include "keys.h"
#include "proto.h"
#include "testutil.h"
#include "util.h"

#define NOW 1700000000
#define AGENT "web1.example.org"

static struct keys_ed25519 client, agent, stranger;
static struct keys_authorized auth;
static struct keys_pubkey auth_keys[2];

static void
setup(void)
{
	uint8_t seed[32];

	memset(seed, 0x11, sizeof(seed));
	ck_assert_int_eq(keys_from_seed(&client, seed), 0);
	memset(seed, 0x22, sizeof(seed));
	ck_assert_int_eq(keys_from_seed(&agent, seed), 0);
	memset(seed, 0x33, sizeof(seed));
	ck_assert_int_eq(keys_from_seed(&stranger, seed), 0);
	/* The agent trusts the client and some other poller. */
	memset(auth_keys, 0, sizeof(auth_keys));
	memcpy(auth_keys[0].pub, agent.pub, 32);
	memcpy(auth_keys[1].pub, client.pub, 32);
	auth.keys = auth_keys;
	auth.n = 2;
}

static void
teardown(void)
{
	keys_clear(&client);
	keys_clear(&agent);
	keys_clear(&stranger);
}

static void
nonce_of(uint8_t nonce[PROTO_NONCE_BYTES], unsigned v)
{
	memset(nonce, 0xa5, PROTO_NONCE_BYTES);
	nonce[0] = (uint8_t)v;
	nonce[1] = (uint8_t)(v >> 8);
	nonce[2] = (uint8_t)(v >> 16);
}

static void
make_request(struct util_buf *b, const char *name, enum proto_op op,
    const char *arg, int64_t ts, unsigned nonce_v)
{
	uint8_t nonce[PROTO_NONCE_BYTES];

	nonce_of(nonce, nonce_v);
	ck_assert_int_eq(proto_request_encode(&client, name, op, arg, ts, nonce,
	                     b),
	    0);
}

/*
 * A request built field by field, signed properly: for shapes that
 * proto_request_encode refuses to produce.
 */
static void
raw_request(struct util_buf *b, const char *magic, const char *name,
    size_t nlen, unsigned op, const char *arg, size_t alen, uint64_t ts)
{
	uint8_t sig[64], x[8], nonce[PROTO_NONCE_BYTES];
	int i;

	nonce_of(nonce, 7);
	util_buf_init(b, 1 << 20);
	ck_assert_int_eq(util_buf_append(b, magic, 4), 0);
	ck_assert_int_eq(util_buf_append(b, client.pub, 32), 0);
	x[0] = (uint8_t)nlen;
	ck_assert_int_eq(util_buf_append(b, x, 1), 0);
	ck_assert_int_eq(util_buf_append(b, name, nlen), 0);
	x[0] = (uint8_t)op;
	x[1] = (uint8_t)(alen >> 8);
	x[2] = (uint8_t)alen;
	ck_assert_int_eq(util_buf_append(b, x, 3), 0);
	ck_assert_int_eq(util_buf_append(b, arg, alen), 0);
	for (i = 0; i < 8; i++)
		x[i] = (uint8_t)(ts >> (56 - 8 * i));
	ck_assert_int_eq(util_buf_append(b, x, 8), 0);
	ck_assert_int_eq(util_buf_append(b, nonce, sizeof(nonce)), 0);
	ck_assert_int_eq(keys_sign_domain(&client, PROTO_DOMAIN_REQUEST,
	                     b->data, b->len, sig),
	    0);
	ck_assert_int_eq(util_buf_append(b, sig, sizeof(sig)), 0);
}

static void
params(struct proto_verify_params *vp, struct proto_replay *r, int64_t now)
{
	memset(vp, 0, sizeof(*vp));
	vp->now = now;
	vp->window_s = PROTO_WINDOW_S;
	vp->agent_name = AGENT;
	vp->keys = &auth;
	vp->replay = r;
}

/* Decodes and verifies with a fresh replay cache; the status. */
static enum proto_status
check(const uint8_t *p, size_t len, int64_t now, const char **why)
{
	struct proto_verify_params vp;
	struct proto_request req;
	struct proto_replay *r;
	enum proto_status st;
	int rc;

	rc = proto_request_decode(p, len, &req, why);
	if (rc != 0)
		return proto_status_from_err(rc);
	ck_assert_int_eq(proto_replay_new(16, PROTO_WINDOW_S, &r), 0);
	params(&vp, r, now);
	st = proto_request_verify(&req, &vp, why);
	proto_replay_free(r);
	return st;
}

START_TEST(test_request_roundtrip)
{
	struct util_buf b;
	struct proto_request req;
	uint8_t nonce[PROTO_NONCE_BYTES];
	const char *why = NULL;

	make_request(&b, AGENT, PROTO_OP_CERTS, "www.example.org", NOW, 1);
	ck_assert_uint_eq(b.len,
	    PROTO_REQUEST_FIXED_BYTES + strlen(AGENT) +
	        strlen("www.example.org"));
	ck_assert_mem_eq(b.data, "CTQ1", 4);
	ck_assert_int_eq(proto_request_decode(b.data, b.len, &req, &why), 0);
	ck_assert_ptr_eq(req.raw, b.data);
	ck_assert_uint_eq(req.raw_len, b.len);
	ck_assert_uint_eq(req.signed_len, b.len - 64);
	ck_assert_mem_eq(req.client_pub, client.pub, 32);
	ck_assert_str_eq(req.agent_name, AGENT);
	ck_assert_int_eq(req.op, PROTO_OP_CERTS);
	ck_assert_str_eq(req.arg, "www.example.org");
	ck_assert_uint_eq(req.arg_len, 15);
	ck_assert_uint_eq(req.timestamp, NOW);
	nonce_of(nonce, 1);
	ck_assert_mem_eq(req.nonce, nonce, PROTO_NONCE_BYTES);
	ck_assert_ptr_eq(req.sig, b.data + b.len - 64);
	ck_assert_int_eq(check(b.data, b.len, NOW, &why), PROTO_OK);
	util_buf_clear(&b);

	make_request(&b, AGENT, PROTO_OP_CERTS, "*", NOW, 2);
	ck_assert_int_eq(check(b.data, b.len, NOW, &why), PROTO_OK);
	util_buf_clear(&b);

	make_request(&b, AGENT, PROTO_OP_INFO, NULL, NOW, 3);
	ck_assert_int_eq(proto_request_decode(b.data, b.len, &req, &why), 0);
	ck_assert_int_eq(req.op, PROTO_OP_INFO);
	ck_assert_str_eq(req.arg, "");
	ck_assert_int_eq(check(b.data, b.len, NOW, &why), PROTO_OK);
	util_buf_clear(&b);

	/* The agent name is compared without regard to ASCII case. */
	make_request(&b, "WEB1.Example.ORG", PROTO_OP_INFO, "", NOW, 4);
	ck_assert_int_eq(check(b.data, b.len, NOW, &why), PROTO_OK);
	util_buf_clear(&b);
}
END_TEST

START_TEST(test_request_encode_refuses)
{
	struct util_buf b;
	uint8_t nonce[PROTO_NONCE_BYTES] = {0};
	char name[300];

	ck_assert_int_eq(proto_request_encode(&client, AGENT, PROTO_OP_INFO,
	                     "x", NOW, nonce, &b),
	    CT_ERR_INVALID);
	ck_assert_ptr_null(b.data);
	ck_assert_int_eq(proto_request_encode(&client, AGENT, PROTO_OP_CERTS,
	                     "", NOW, nonce, &b),
	    CT_ERR_INVALID);
	ck_assert_int_eq(proto_request_encode(&client, AGENT, PROTO_OP_CERTS,
	                     NULL, NOW, nonce, &b),
	    CT_ERR_INVALID);
	ck_assert_int_eq(proto_request_encode(&client, AGENT, PROTO_OP_CERTS,
	                     "a b", NOW, nonce, &b),
	    CT_ERR_INVALID);
	ck_assert_int_eq(proto_request_encode(&client, AGENT, PROTO_OP_CERTS,
	                     "x;rm", NOW, nonce, &b),
	    CT_ERR_INVALID);
	ck_assert_int_eq(proto_request_encode(&client, AGENT, (enum proto_op)3,
	                     NULL, NOW, nonce, &b),
	    CT_ERR_INVALID);
	ck_assert_int_eq(proto_request_encode(&client, "", PROTO_OP_INFO, NULL,
	                     NOW, nonce, &b),
	    CT_ERR_INVALID);
	ck_assert_int_eq(proto_request_encode(&client, "a..b", PROTO_OP_INFO,
	                     NULL, NOW, nonce, &b),
	    CT_ERR_INVALID);
	ck_assert_int_eq(proto_request_encode(&client, "a.b.", PROTO_OP_INFO,
	                     NULL, NOW, nonce, &b),
	    CT_ERR_INVALID);
	ck_assert_int_eq(proto_request_encode(&client, "a_b", PROTO_OP_INFO,
	                     NULL, NOW, nonce, &b),
	    CT_ERR_INVALID);
	ck_assert_int_eq(proto_request_encode(&client, AGENT, PROTO_OP_INFO,
	                     NULL, -1, nonce, &b),
	    CT_ERR_INVALID);
	/* 64-byte label; 254-byte name. */
	memset(name, 'a', 64);
	name[64] = '\0';
	ck_assert_int_eq(proto_request_encode(&client, name, PROTO_OP_INFO,
	                     NULL, NOW, nonce, &b),
	    CT_ERR_INVALID);
	name[63] = '\0';
	ck_assert_int_eq(proto_request_encode(&client, name, PROTO_OP_INFO,
	                     NULL, NOW, nonce, &b),
	    0);
	util_buf_clear(&b);
	memset(name, 'a', 254);
	name[254] = '\0';
	name[63] = name[127] = name[191] = '.';
	ck_assert_int_eq(proto_request_encode(&client, name, PROTO_OP_INFO,
	                     NULL, NOW, nonce, &b),
	    CT_ERR_INVALID);
	name[253] = '\0';
	ck_assert_int_eq(proto_request_encode(&client, name, PROTO_OP_INFO,
	                     NULL, NOW, nonce, &b),
	    0);
	ck_assert_int_eq(check(b.data, b.len, NOW, NULL), PROTO_WRONG_AGENT);
	util_buf_clear(&b);
}
END_TEST

START_TEST(test_request_every_byte_flipped)
{
	static const uint8_t masks[] = {0x01, 0x80, 0xff};
	struct util_buf b;
	uint8_t *copy;
	size_t i, m, len;
	const char *arg;

	for (arg = "www.example.org"; arg != NULL;
	     arg = arg[0] == 'w' ? "*" : NULL) {
		make_request(&b, AGENT, PROTO_OP_CERTS, arg, NOW, 9);
		len = b.len;
		ck_assert_int_eq(check(b.data, len, NOW, NULL), PROTO_OK);
		copy = malloc(len);
		ck_assert_ptr_nonnull(copy);
		for (i = 0; i < len; i++) {
			for (m = 0; m < sizeof(masks); m++) {
				memcpy(copy, b.data, len);
				copy[i] ^= masks[m];
				ck_assert_msg(check(copy, len, NOW, NULL) !=
				        PROTO_OK,
				    "byte %zu ^ 0x%02x accepted", i, masks[m]);
			}
		}
		free(copy);
		util_buf_clear(&b);
	}
	/* info as well (no argument bytes). */
	make_request(&b, AGENT, PROTO_OP_INFO, NULL, NOW, 10);
	for (i = 0; i < b.len; i++) {
		b.data[i] ^= 0x01;
		ck_assert_msg(check(b.data, b.len, NOW, NULL) != PROTO_OK,
		    "info byte %zu accepted", i);
		b.data[i] ^= 0x01;
	}
	ck_assert_int_eq(check(b.data, b.len, NOW, NULL), PROTO_OK);
	util_buf_clear(&b);
}
END_TEST

START_TEST(test_request_truncated_and_trailing)
{
	struct util_buf b;
	struct proto_request req;
	const char *why;
	size_t l;

	make_request(&b, AGENT, PROTO_OP_CERTS, "example.org", NOW, 11);
	for (l = 0; l < b.len; l++) {
		why = NULL;
		ck_assert_msg(proto_request_decode(b.data, l, &req, &why) < 0,
		    "truncated to %zu accepted", l);
		ck_assert_ptr_nonnull(why);
		ck_assert_int_eq(check(b.data, l, NOW, NULL),
		    PROTO_BAD_REQUEST);
	}
	ck_assert_int_eq(util_buf_append(&b, "", 1), 0);
	ck_assert_int_eq(proto_request_decode(b.data, b.len, &req, &why),
	    CT_ERR_TRAILING);
	ck_assert_str_eq(why, "bytes after the signature");
	ck_assert_int_eq(check(b.data, b.len, NOW, NULL), PROTO_BAD_REQUEST);
	util_buf_clear(&b);
}
END_TEST

START_TEST(test_request_bad_shapes)
{
	struct util_buf b;
	struct proto_request req;
	const char *why;
	char big[300];

	/* Signed properly, but info with an argument. */
	raw_request(&b, "CTQ1", AGENT, strlen(AGENT), PROTO_OP_INFO, "x", 1,
	    NOW);
	ck_assert_int_eq(proto_request_decode(b.data, b.len, &req, &why),
	    CT_ERR_FORMAT);
	ck_assert_str_eq(why, "info takes no argument");
	ck_assert_int_eq(check(b.data, b.len, NOW, NULL), PROTO_BAD_REQUEST);
	util_buf_clear(&b);

	/* The same bytes with an empty argument are fine. */
	raw_request(&b, "CTQ1", AGENT, strlen(AGENT), PROTO_OP_INFO, "", 0,
	    NOW);
	ck_assert_int_eq(check(b.data, b.len, NOW, NULL), PROTO_OK);
	util_buf_clear(&b);

	/* Unknown operations: 0, 3, 255. */
	raw_request(&b, "CTQ1", AGENT, strlen(AGENT), 3, "", 0, NOW);
	ck_assert_int_eq(proto_request_decode(b.data, b.len, &req, &why),
	    CT_ERR_UNSUPPORTED);
	ck_assert_int_eq(check(b.data, b.len, NOW, NULL), PROTO_UNKNOWN_OP);
	util_buf_clear(&b);
	raw_request(&b, "CTQ1", AGENT, strlen(AGENT), 0, "", 0, NOW);
	ck_assert_int_eq(check(b.data, b.len, NOW, NULL), PROTO_UNKNOWN_OP);
	util_buf_clear(&b);
	raw_request(&b, "CTQ1", AGENT, strlen(AGENT), 255, "", 0, NOW);
	ck_assert_int_eq(check(b.data, b.len, NOW, NULL), PROTO_UNKNOWN_OP);
	util_buf_clear(&b);

	/* certs with an empty, a bad, an over-long argument. */
	raw_request(&b, "CTQ1", AGENT, strlen(AGENT), PROTO_OP_CERTS, "", 0,
	    NOW);
	ck_assert_int_eq(check(b.data, b.len, NOW, NULL), PROTO_BAD_REQUEST);
	util_buf_clear(&b);
	raw_request(&b, "CTQ1", AGENT, strlen(AGENT), PROTO_OP_CERTS, "$(id)",
	    5, NOW);
	ck_assert_int_eq(check(b.data, b.len, NOW, NULL), PROTO_BAD_REQUEST);
	util_buf_clear(&b);
	raw_request(&b, "CTQ1", AGENT, strlen(AGENT), PROTO_OP_CERTS, "a\0b", 3,
	    NOW);
	ck_assert_int_eq(check(b.data, b.len, NOW, NULL), PROTO_BAD_REQUEST);
	util_buf_clear(&b);
	memset(big, 'a', sizeof(big));
	raw_request(&b, "CTQ1", AGENT, strlen(AGENT), PROTO_OP_CERTS, big, 254,
	    NOW);
	ck_assert_int_eq(proto_request_decode(b.data, b.len, &req, &why),
	    CT_ERR_FORMAT);
	ck_assert_str_eq(why, "argument longer than 253 bytes");
	util_buf_clear(&b);
	raw_request(&b, "CTQ1", AGENT, strlen(AGENT), PROTO_OP_CERTS, big, 253,
	    NOW);
	ck_assert_int_eq(check(b.data, b.len, NOW, NULL), PROTO_OK);
	util_buf_clear(&b);

	/* Bad agent names: empty, a NUL, a space. */
	raw_request(&b, "CTQ1", "", 0, PROTO_OP_INFO, "", 0, NOW);
	ck_assert_int_eq(check(b.data, b.len, NOW, NULL), PROTO_BAD_REQUEST);
	util_buf_clear(&b);
	raw_request(&b, "CTQ1", "web1\0x", 6, PROTO_OP_INFO, "", 0, NOW);
	ck_assert_int_eq(check(b.data, b.len, NOW, NULL), PROTO_BAD_REQUEST);
	util_buf_clear(&b);
	raw_request(&b, "CTQ1", "web 1", 5, PROTO_OP_INFO, "", 0, NOW);
	ck_assert_int_eq(check(b.data, b.len, NOW, NULL), PROTO_BAD_REQUEST);
	util_buf_clear(&b);

	/* Another version, another protocol. */
	raw_request(&b, "CTQ2", AGENT, strlen(AGENT), PROTO_OP_INFO, "", 0,
	    NOW);
	ck_assert_int_eq(proto_request_decode(b.data, b.len, &req, &why),
	    CT_ERR_PROTO);
	ck_assert_str_eq(why, "unsupported protocol version");
	util_buf_clear(&b);
	raw_request(&b, "GET ", AGENT, strlen(AGENT), PROTO_OP_INFO, "", 0,
	    NOW);
	ck_assert_int_eq(proto_request_decode(b.data, b.len, &req, &why),
	    CT_ERR_PROTO);
	util_buf_clear(&b);

	/* A timestamp that is not a time. */
	raw_request(&b, "CTQ1", AGENT, strlen(AGENT), PROTO_OP_INFO, "", 0,
	    UINT64_MAX);
	ck_assert_int_eq(check(b.data, b.len, NOW, NULL), PROTO_CLOCK_SKEW);
	util_buf_clear(&b);

	/* Over the request cap. */
	b.data = calloc(1, PROTO_MAX_REQUEST_BYTES + 1);
	ck_assert_ptr_nonnull(b.data);
	memcpy(b.data, "CTQ1", 4);
	ck_assert_int_eq(proto_request_decode(b.data,
	                     PROTO_MAX_REQUEST_BYTES + 1, &req, &why),
	    CT_ERR_TOO_BIG);
	ck_assert_int_eq(proto_status_from_err(CT_ERR_TOO_BIG), PROTO_TOO_BIG);
	free(b.data);
}
END_TEST

START_TEST(test_request_wrong_agent_and_keys)
{
	struct util_buf b;
	struct proto_request req;
	struct proto_verify_params vp;
	struct proto_replay *r;
	struct keys_authorized only_agent = {auth_keys, 1};
	const char *why = NULL;
	uint8_t nonce[PROTO_NONCE_BYTES];

	make_request(&b, "web2.example.org", PROTO_OP_INFO, NULL, NOW, 20);
	ck_assert_int_eq(check(b.data, b.len, NOW, &why), PROTO_WRONG_AGENT);
	ck_assert_str_eq(why, "request is addressed to another agent");
	util_buf_clear(&b);
	make_request(&b, "web1.example.org.evil", PROTO_OP_INFO, NULL, NOW, 21);
	ck_assert_int_eq(check(b.data, b.len, NOW, &why), PROTO_WRONG_AGENT);
	util_buf_clear(&b);
	make_request(&b, "web1.example.or", PROTO_OP_INFO, NULL, NOW, 22);
	ck_assert_int_eq(check(b.data, b.len, NOW, &why), PROTO_WRONG_AGENT);
	util_buf_clear(&b);

	ck_assert_int_eq(proto_replay_new(16, PROTO_WINDOW_S, &r), 0);
	make_request(&b, AGENT, PROTO_OP_INFO, NULL, NOW, 23);
	ck_assert_int_eq(proto_request_decode(b.data, b.len, &req, &why), 0);
	/* Unknown key: not in the list. */
	params(&vp, r, NOW);
	vp.keys = &only_agent;
	ck_assert_int_eq(proto_request_verify(&req, &vp, &why),
	    PROTO_UNKNOWN_KEY);
	ck_assert_str_eq(why, "client key not authorised");
	/* No list and no callback: nobody is authorised. */
	vp.keys = NULL;
	ck_assert_int_eq(proto_request_verify(&req, &vp, &why),
	    PROTO_UNKNOWN_KEY);
	/* A refused request leaves no trace in the replay cache. */
	ck_assert_uint_eq(proto_replay_count(r), 0);
	util_buf_clear(&b);

	/*
	 * An authorised key in the request, signed by a stranger: the
	 * signature must be checked against the key the request names.
	 */
	nonce_of(nonce, 24);
	ck_assert_int_eq(proto_request_encode(&stranger, AGENT, PROTO_OP_INFO,
	                     NULL, NOW, nonce, &b),
	    0);
	memcpy(b.data + 4, client.pub, 32);
	ck_assert_int_eq(check(b.data, b.len, NOW, &why), PROTO_BAD_SIGNATURE);
	ck_assert_str_eq(why, "request signature does not verify");
	/* And unmodified, the stranger is unknown. */
	memcpy(b.data + 4, stranger.pub, 32);
	ck_assert_int_eq(check(b.data, b.len, NOW, &why), PROTO_UNKNOWN_KEY);
	util_buf_clear(&b);
	proto_replay_free(r);
}
END_TEST

static int
authorize_client_only(const uint8_t pub[KEYS_PUB_BYTES], void *arg)
{
	int *calls = arg;

	(*calls)++;
	return util_ct_equal(pub, client.pub, 32) ? 0 : CT_ERR_AUTH;
}

START_TEST(test_request_authorize_callback)
{
	struct util_buf b;
	struct proto_request req;
	struct proto_verify_params vp;
	struct proto_replay *r;
	uint8_t nonce[PROTO_NONCE_BYTES];
	int calls = 0;

	ck_assert_int_eq(proto_replay_new(16, PROTO_WINDOW_S, &r), 0);
	params(&vp, r, NOW);
	vp.keys = NULL;
	vp.authorize = authorize_client_only;
	vp.authorize_arg = &calls;
	make_request(&b, AGENT, PROTO_OP_INFO, NULL, NOW, 30);
	ck_assert_int_eq(proto_request_decode(b.data, b.len, &req, NULL), 0);
	ck_assert_int_eq(proto_request_verify(&req, &vp, NULL), PROTO_OK);
	ck_assert_int_eq(calls, 1);
	util_buf_clear(&b);
	nonce_of(nonce, 31);
	ck_assert_int_eq(proto_request_encode(&stranger, AGENT, PROTO_OP_INFO,
	                     NULL, NOW, nonce, &b),
	    0);
	ck_assert_int_eq(proto_request_decode(b.data, b.len, &req, NULL), 0);
	ck_assert_int_eq(proto_request_verify(&req, &vp, NULL),
	    PROTO_UNKNOWN_KEY);
	ck_assert_int_eq(calls, 2);
	util_buf_clear(&b);
	proto_replay_free(r);
}
END_TEST

START_TEST(test_request_clock_window)
{
	static const struct {
		int64_t delta;
		enum proto_status want;
	} cases[] = {
	    {-121, PROTO_CLOCK_SKEW},
	    {121, PROTO_CLOCK_SKEW},
	    {-120, PROTO_OK},
	    {120, PROTO_OK},
	    {-119, PROTO_OK},
	    {119, PROTO_OK},
	    {0, PROTO_OK},
	    {-NOW, PROTO_CLOCK_SKEW},
	    {100000, PROTO_CLOCK_SKEW},
	};
	struct util_buf b;
	const char *why;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		make_request(&b, AGENT, PROTO_OP_INFO, NULL,
		    NOW + cases[i].delta, 40 + (unsigned)i);
		why = NULL;
		ck_assert_msg(check(b.data, b.len, NOW, &why) == cases[i].want,
		    "timestamp now%+lld", (long long)cases[i].delta);
		if (cases[i].want == PROTO_CLOCK_SKEW)
			ck_assert_ptr_nonnull(strstr(why, "agent clock"));
		util_buf_clear(&b);
	}
}
END_TEST

START_TEST(test_request_replay)
{
	struct util_buf b, b2;
	struct proto_request req;
	struct proto_verify_params vp;
	struct proto_replay *r;
	const char *why = NULL;

	ck_assert_int_eq(proto_replay_new(PROTO_REPLAY_DEFAULT_ENTRIES,
	                     PROTO_WINDOW_S, &r),
	    0);
	params(&vp, r, NOW);
	make_request(&b, AGENT, PROTO_OP_INFO, NULL, NOW, 50);
	ck_assert_int_eq(proto_request_decode(b.data, b.len, &req, NULL), 0);
	ck_assert_int_eq(proto_request_verify(&req, &vp, &why), PROTO_OK);
	ck_assert_int_eq(proto_request_verify(&req, &vp, &why), PROTO_REPLAY);
	ck_assert_str_eq(why, "nonce already seen: replayed request");
	/* Still a replay 120 s later, when the timestamp is still good. */
	vp.now = NOW + 120;
	ck_assert_int_eq(proto_request_verify(&req, &vp, &why), PROTO_REPLAY);
	/* Another request with the same nonce is a replay too. */
	make_request(&b2, AGENT, PROTO_OP_CERTS, "*", NOW + 100, 50);
	ck_assert_int_eq(proto_request_decode(b2.data, b2.len, &req, NULL), 0);
	ck_assert_int_eq(proto_request_verify(&req, &vp, &why), PROTO_REPLAY);
	util_buf_clear(&b2);
	/* A fresh nonce is fine. */
	make_request(&b2, AGENT, PROTO_OP_INFO, NULL, NOW + 100, 51);
	ck_assert_int_eq(proto_request_decode(b2.data, b2.len, &req, NULL), 0);
	ck_assert_int_eq(proto_request_verify(&req, &vp, &why), PROTO_OK);
	/* Once the window has passed, the old request fails on its clock. */
	ck_assert_int_eq(proto_request_decode(b.data, b.len, &req, NULL), 0);
	vp.now = NOW + 2 * PROTO_WINDOW_S + 1;
	ck_assert_int_eq(proto_request_verify(&req, &vp, &why),
	    PROTO_CLOCK_SKEW);
	util_buf_clear(&b);
	util_buf_clear(&b2);
	proto_replay_free(r);
}
END_TEST

START_TEST(test_request_cache_full_busy)
{
	struct util_buf b;
	struct proto_request req;
	struct proto_verify_params vp;
	struct proto_replay *r;
	const char *why = NULL;
	unsigned i;

	ck_assert_int_eq(proto_replay_new(3, PROTO_WINDOW_S, &r), 0);
	params(&vp, r, NOW);
	for (i = 0; i < 4; i++) {
		make_request(&b, AGENT, PROTO_OP_INFO, NULL, NOW, 60 + i);
		ck_assert_int_eq(proto_request_decode(b.data, b.len, &req,
		                     NULL),
		    0);
		ck_assert_int_eq(proto_request_verify(&req, &vp, &why),
		    i < 3 ? PROTO_OK : PROTO_BUSY);
		util_buf_clear(&b);
	}
	ck_assert_str_eq(why, "replay cache full");
	/* A replay of a remembered nonce is still a replay, not BUSY. */
	make_request(&b, AGENT, PROTO_OP_INFO, NULL, NOW, 61);
	ck_assert_int_eq(proto_request_decode(b.data, b.len, &req, NULL), 0);
	ck_assert_int_eq(proto_request_verify(&req, &vp, &why), PROTO_REPLAY);
	util_buf_clear(&b);

	/* A cache shorter than the window is a configuration error. */
	proto_replay_free(r);
	ck_assert_int_eq(proto_replay_new(3, PROTO_WINDOW_S - 1, &r), 0);
	params(&vp, r, NOW);
	make_request(&b, AGENT, PROTO_OP_INFO, NULL, NOW, 70);
	ck_assert_int_eq(proto_request_decode(b.data, b.len, &req, NULL), 0);
	ck_assert_int_eq(proto_request_verify(&req, &vp, &why), PROTO_INTERNAL);
	vp.replay = NULL;
	ck_assert_int_eq(proto_request_verify(&req, &vp, &why), PROTO_INTERNAL);
	util_buf_clear(&b);
	proto_replay_free(r);
}
END_TEST

START_TEST(test_replay_expiry_reuse)
{
	struct proto_replay *r;
	uint8_t n[PROTO_NONCE_BYTES];

	ck_assert_int_eq(proto_replay_new(2, 120, &r), 0);
	ck_assert_int_eq(proto_replay_window(r), 120);
	nonce_of(n, 1);
	ck_assert_int_eq(proto_replay_check(r, n, NOW), 0);
	nonce_of(n, 2);
	ck_assert_int_eq(proto_replay_check(r, n, NOW + 10), 0);
	nonce_of(n, 3);
	ck_assert_int_eq(proto_replay_check(r, n, NOW + 10), CT_ERR_TOO_BIG);
	/* Kept for 2 * window: at +240 the first entry is still live. */
	ck_assert_int_eq(proto_replay_check(r, n, NOW + 240), CT_ERR_TOO_BIG);
	nonce_of(n, 1);
	ck_assert_int_eq(proto_replay_check(r, n, NOW + 240), CT_ERR_REPLAY);
	/* At +241 it has expired: its slot takes the new nonce. */
	nonce_of(n, 3);
	ck_assert_int_eq(proto_replay_check(r, n, NOW + 241), 0);
	ck_assert_uint_eq(proto_replay_count(r), 2);
	nonce_of(n, 1);
	ck_assert_int_eq(proto_replay_check(r, n, NOW + 241), CT_ERR_TOO_BIG);
	/* Long after, everything has gone. */
	ck_assert_int_eq(proto_replay_check(r, n, NOW + 10000), 0);
	ck_assert_uint_eq(proto_replay_count(r), 1);
	/* A clock stepping back expires nothing early. */
	nonce_of(n, 2);
	ck_assert_int_eq(proto_replay_check(r, n, NOW), 0);
	nonce_of(n, 1);
	ck_assert_int_eq(proto_replay_check(r, n, NOW + 200), CT_ERR_REPLAY);
	ck_assert_int_eq(proto_replay_check(r, n, -1), CT_ERR_INVALID);
	proto_replay_free(r);

	ck_assert_int_eq(proto_replay_new(0, 120, &r), CT_ERR_INVALID);
	ck_assert_ptr_null(r);
	ck_assert_int_eq(proto_replay_new(PROTO_REPLAY_MAX_ENTRIES + 1, 120,
	                     &r),
	    CT_ERR_INVALID);
	ck_assert_int_eq(proto_replay_new(10, 0, &r), CT_ERR_INVALID);
	proto_replay_free(NULL);
}
END_TEST

/*
 * The hash table against a plain list: random nonces (many sharing their
 * low bits), replays of live and expired ones, time moving on.
 */
START_TEST(test_replay_model)
{
	enum { CAP = 256, OPS = 60000, WIN = 5 };
	struct {
		uint8_t n[PROTO_NONCE_BYTES];
		int64_t seen;
	} model[CAP];
	static uint8_t hist[OPS][PROTO_NONCE_BYTES];
	struct proto_replay *r;
	size_t nmodel = 0, nhist = 0, i, j;
	int64_t now = 1000;
	uint32_t x = 12345;
	int want, got;
	uint8_t n[PROTO_NONCE_BYTES];

	ck_assert_int_eq(proto_replay_new(CAP, WIN, &r), 0);
	for (i = 0; i < OPS; i++) {
		x = x * 1103515245u + 12345u;
		if ((x >> 16) % 24 == 0)
			now++;
		if (nhist > 0 && (x >> 8) % 4 == 0) {
			memcpy(n, hist[(x >> 4) % nhist], sizeof(n));
		} else {
			memset(n, 0, sizeof(n));
			n[0] = (uint8_t)i;
			n[1] = (uint8_t)(i >> 8);
			n[2] = (uint8_t)(i >> 16);
			memcpy(hist[nhist++], n, sizeof(n));
		}
		/* The model: drop expired, look up, insert if room. */
		for (j = 0; j < nmodel;) {
			if (now - model[j].seen > 2 * WIN)
				model[j] = model[--nmodel];
			else
				j++;
		}
		want = 0;
		for (j = 0; j < nmodel; j++)
			if (memcmp(model[j].n, n, sizeof(n)) == 0)
				want = CT_ERR_REPLAY;
		if (want == 0 && nmodel == CAP)
			want = CT_ERR_TOO_BIG;
		if (want == 0) {
			memcpy(model[nmodel].n, n, sizeof(n));
			model[nmodel++].seen = now;
		}
		got = proto_replay_check(r, n, now);
		ck_assert_msg(got == want, "op %zu: got %d want %d", i, got,
		    want);
		ck_assert_uint_eq(proto_replay_count(r), nmodel);
	}
	proto_replay_free(r);
}
END_TEST

static void
make_response(struct util_buf *out, const struct util_buf *req,
    enum proto_status st, const char *name, const char *body)
{
	struct proto_request d;

	ck_assert_int_eq(proto_request_decode(req->data, req->len, &d, NULL),
	    0);
	ck_assert_int_eq(proto_response_encode(&agent, st, req->data, req->len,
	                     d.nonce, name, NOW + 1, (const uint8_t *)body,
	                     strlen(body), out),
	    0);
}

static int
rcheck(const uint8_t *p, size_t len, const struct util_buf *req,
    const char **why)
{
	struct proto_response resp;
	int rc;

	if ((rc = proto_response_decode(p, len, &resp, why)) != 0)
		return rc;
	return proto_response_verify(&resp, agent.pub, req->data, req->len,
	    AGENT, why);
}

START_TEST(test_response_roundtrip)
{
	struct util_buf req, b;
	struct proto_response resp;
	const char *why = NULL, *body = "{\"certs\":[]}";
	struct proto_request d;

	make_request(&req, AGENT, PROTO_OP_CERTS, "*", NOW, 80);
	make_response(&b, &req, PROTO_OK, AGENT, body);
	ck_assert_uint_eq(b.len,
	    PROTO_RESPONSE_FIXED_BYTES + strlen(AGENT) + strlen(body));
	ck_assert_mem_eq(b.data, "CTR1", 4);
	ck_assert_int_eq(proto_response_decode(b.data, b.len, &resp, &why), 0);
	ck_assert_int_eq(resp.status, PROTO_OK);
	ck_assert_str_eq(resp.agent_name, AGENT);
	ck_assert_uint_eq(resp.agent_time, NOW + 1);
	ck_assert_uint_eq(resp.body_len, strlen(body));
	ck_assert_mem_eq(resp.body, body, strlen(body));
	ck_assert_uint_eq(resp.signed_len, b.len - 64);
	ck_assert_int_eq(proto_request_decode(req.data, req.len, &d, NULL), 0);
	ck_assert_mem_eq(resp.nonce, d.nonce, PROTO_NONCE_BYTES);
	ck_assert_int_eq(proto_response_verify(&resp, agent.pub, req.data,
	                     req.len, AGENT, &why),
	    0);
	/* The poller's configured name may differ in case. */
	ck_assert_int_eq(proto_response_verify(&resp, agent.pub, req.data,
	                     req.len, "Web1.Example.Org", &why),
	    0);
	util_buf_clear(&b);

	/* An error answer is signed and bound the same way. */
	make_response(&b, &req, PROTO_REPLAY, AGENT, "replayed");
	ck_assert_int_eq(proto_response_decode(b.data, b.len, &resp, &why), 0);
	ck_assert_int_eq(resp.status, PROTO_REPLAY);
	ck_assert_int_eq(rcheck(b.data, b.len, &req, &why), 0);
	util_buf_clear(&b);

	/* An empty body. */
	make_response(&b, &req, PROTO_INTERNAL, AGENT, "");
	ck_assert_int_eq(rcheck(b.data, b.len, &req, &why), 0);
	util_buf_clear(&b);
	util_buf_clear(&req);
}
END_TEST

/*
 * What the response signature covers, built here without proto.c: the
 * domain, the bytes from the magic to the body length, and the unkeyed
 * BLAKE2b-256 of the body (RFC 7693's "abc" vector checks the hash).
 * A digest given to encode_digest must be the body's: another one makes
 * a response the poller refuses.
 */
START_TEST(test_response_signed_message)
{
	static const uint8_t abc_256[32] = {0xbd, 0xdd, 0x81, 0x3c, 0x63, 0x42,
	    0x39, 0x72, 0x31, 0x71, 0xef, 0x3f, 0xee, 0x98, 0x57, 0x9b, 0x94,
	    0x96, 0x4e, 0x3b, 0xb1, 0xcb, 0x3e, 0x42, 0x72, 0x62, 0xc8, 0xc0,
	    0x68, 0xd5, 0x23, 0x19};
	struct util_buf req, b, c;
	struct proto_response resp;
	const char *body = "{\"certs\":[{\"serial\":\"01\"}]}", *why = NULL;
	uint8_t m[512], d[PROTO_BODY_DIGEST_BYTES];
	struct proto_request q;
	size_t hdr;
	Blake2b h;

	ck_assert_int_eq(proto_body_digest((const uint8_t *)"abc", 3, d), 0);
	ck_assert_mem_eq(d, abc_256, sizeof(d));
	ck_assert_int_eq(proto_body_digest(NULL, 0, d), 0);
	ck_assert_int_eq(proto_body_digest(NULL, 1, d), CT_ERR_INVALID);

	make_request(&req, AGENT, PROTO_OP_CERTS, "*", NOW, 81);
	make_response(&b, &req, PROTO_OK, AGENT, body);
	ck_assert_int_eq(proto_response_decode(b.data, b.len, &resp, &why), 0);
	hdr = (size_t)(resp.body - b.data);
	ck_assert_uint_eq(hdr, b.len - strlen(body) - 64);
	memcpy(m, b.data, hdr);
	ck_assert_int_eq(wc_InitBlake2b(&h, 32), 0);
	ck_assert_int_eq(wc_Blake2bUpdate(&h, (const byte *)body,
	                     (word32)strlen(body)),
	    0);
	ck_assert_int_eq(wc_Blake2bFinal(&h, m + hdr, 32), 0);
	ck_assert_int_eq(keys_verify_domain(agent.pub, "ct-agent response v1",
	                     m, hdr + 32, resp.sig),
	    0);
	/* Not the whole payload, as a plain Ed25519 over it would be. */
	ck_assert_int_ne(keys_verify_domain(agent.pub, "ct-agent response v1",
	                     b.data, resp.signed_len, resp.sig),
	    0);

	/* The agent's cached digest: the same bytes as computing it. */
	ck_assert_int_eq(proto_request_decode(req.data, req.len, &q, NULL), 0);
	memcpy(d, m + hdr, sizeof(d));
	ck_assert_int_eq(proto_response_encode_digest(&agent, PROTO_OK,
	                     req.data, req.len, q.nonce, AGENT, NOW + 1,
	                     (const uint8_t *)body, strlen(body), d, &c),
	    0);
	ck_assert_uint_eq(c.len, b.len);
	ck_assert_mem_eq(c.data, b.data, b.len);
	util_buf_clear(&c);
	/* A stale digest (another body's) signs something else. */
	d[0] ^= 1;
	ck_assert_int_eq(proto_response_encode_digest(&agent, PROTO_OK,
	                     req.data, req.len, q.nonce, AGENT, NOW + 1,
	                     (const uint8_t *)body, strlen(body), d, &c),
	    0);
	ck_assert_int_eq(rcheck(c.data, c.len, &req, &why), CT_ERR_SIGNATURE);
	util_buf_clear(&c);
	util_buf_clear(&b);
	util_buf_clear(&req);
}
END_TEST

START_TEST(test_response_every_byte_flipped)
{
	static const uint8_t masks[] = {0x01, 0x80, 0xff};
	struct util_buf req, b;
	uint8_t *copy;
	size_t i, m;

	make_request(&req, AGENT, PROTO_OP_CERTS, "example.org", NOW, 81);
	make_response(&b, &req, PROTO_OK, AGENT, "{\"n\":1}");
	ck_assert_int_eq(rcheck(b.data, b.len, &req, NULL), 0);
	copy = malloc(b.len);
	ck_assert_ptr_nonnull(copy);
	for (i = 0; i < b.len; i++) {
		for (m = 0; m < sizeof(masks); m++) {
			memcpy(copy, b.data, b.len);
			copy[i] ^= masks[m];
			ck_assert_msg(rcheck(copy, b.len, &req, NULL) != 0,
			    "byte %zu ^ 0x%02x accepted", i, masks[m]);
		}
	}
	free(copy);
	util_buf_clear(&b);
	util_buf_clear(&req);
}
END_TEST

START_TEST(test_response_truncated_and_trailing)
{
	struct util_buf req, b;
	struct proto_response resp;
	const char *why;
	size_t l;

	make_request(&req, AGENT, PROTO_OP_INFO, NULL, NOW, 82);
	make_response(&b, &req, PROTO_OK, AGENT, "{}");
	for (l = 0; l < b.len; l++) {
		why = NULL;
		ck_assert_msg(proto_response_decode(b.data, l, &resp, &why) < 0,
		    "truncated to %zu accepted", l);
		ck_assert_ptr_nonnull(why);
	}
	ck_assert_int_eq(util_buf_append(&b, "x", 1), 0);
	ck_assert_int_eq(proto_response_decode(b.data, b.len, &resp, &why),
	    CT_ERR_TRAILING);
	util_buf_clear(&b);
	util_buf_clear(&req);
}
END_TEST

START_TEST(test_response_binding)
{
	struct util_buf req, req2, b;
	struct proto_response resp;
	const char *why = NULL;
	uint8_t nonce[PROTO_NONCE_BYTES];

	make_request(&req, AGENT, PROTO_OP_INFO, NULL, NOW, 83);
	make_response(&b, &req, PROTO_OK, AGENT, "{}");
	ck_assert_int_eq(proto_response_decode(b.data, b.len, &resp, &why), 0);
	/* Not the pinned key. */
	ck_assert_int_eq(proto_response_verify(&resp, stranger.pub, req.data,
	                     req.len, AGENT, &why),
	    CT_ERR_SIGNATURE);
	/* Not the agent we asked. */
	ck_assert_int_eq(proto_response_verify(&resp, agent.pub, req.data,
	                     req.len, "web2.example.org", &why),
	    CT_ERR_AUTH);
	/* An answer to another request (other nonce). */
	make_request(&req2, AGENT, PROTO_OP_INFO, NULL, NOW, 84);
	ck_assert_int_eq(proto_response_verify(&resp, agent.pub, req2.data,
	                     req2.len, AGENT, &why),
	    CT_ERR_PROTO);
	ck_assert_ptr_nonnull(strstr(why, "nonce"));
	util_buf_clear(&req2);
	/* Same nonce, other request: the hash catches it. */
	make_request(&req2, AGENT, PROTO_OP_CERTS, "*", NOW, 83);
	ck_assert_int_eq(proto_response_verify(&resp, agent.pub, req2.data,
	                     req2.len, AGENT, &why),
	    CT_ERR_PROTO);
	ck_assert_ptr_nonnull(strstr(why, "hash"));
	util_buf_clear(&req2);
	/* Garbage given as the request sent. */
	ck_assert_int_eq(proto_response_verify(&resp, agent.pub, req.data,
	                     req.len - 1, AGENT, &why),
	    CT_ERR_INVALID);
	util_buf_clear(&b);

	/* A response to an undecodable request carries a zero nonce. */
	ck_assert_int_eq(proto_response_encode(&agent, PROTO_BAD_REQUEST,
	                     req.data, 10, NULL, AGENT, NOW,
	                     (const uint8_t *)"bad", 3, &b),
	    0);
	ck_assert_int_eq(proto_response_decode(b.data, b.len, &resp, &why), 0);
	memset(nonce, 0, sizeof(nonce));
	ck_assert_mem_eq(resp.nonce, nonce, sizeof(nonce));
	ck_assert_int_eq(proto_response_verify(&resp, agent.pub, req.data,
	                     req.len, AGENT, &why),
	    CT_ERR_PROTO);
	util_buf_clear(&b);

	/* A response signed under the request domain does not verify. */
	make_response(&b, &req, PROTO_OK, AGENT, "{}");
	ck_assert_int_eq(keys_sign_domain(&agent, PROTO_DOMAIN_REQUEST, b.data,
	                     b.len - 64, b.data + b.len - 64),
	    0);
	ck_assert_int_eq(rcheck(b.data, b.len, &req, &why), CT_ERR_SIGNATURE);
	util_buf_clear(&b);
	util_buf_clear(&req);
}
END_TEST

START_TEST(test_response_bad_shapes)
{
	struct util_buf req, b;
	struct proto_response resp;
	const char *why = NULL;
	uint8_t *big;

	make_request(&req, AGENT, PROTO_OP_INFO, NULL, NOW, 85);
	/* An unknown status, correctly signed, is still refused. */
	make_response(&b, &req, PROTO_OK, AGENT, "{}");
	b.data[4] = PROTO_STATUS__MAX;
	ck_assert_int_eq(keys_sign_domain(&agent, PROTO_DOMAIN_RESPONSE, b.data,
	                     b.len - 64, b.data + b.len - 64),
	    0);
	ck_assert_int_eq(proto_response_decode(b.data, b.len, &resp, &why),
	    CT_ERR_FORMAT);
	ck_assert_str_eq(why, "unknown status");
	util_buf_clear(&b);

	ck_assert_int_eq(proto_response_encode(&agent, PROTO_STATUS__MAX,
	                     req.data, req.len, NULL, AGENT, NOW, NULL, 0, &b),
	    CT_ERR_INVALID);
	ck_assert_int_eq(proto_response_encode(&agent, PROTO_OK, req.data,
	                     req.len, NULL, "bad name", NOW, NULL, 0, &b),
	    CT_ERR_INVALID);
	/* Too big for the frame: refused before a byte is read. */
	big = malloc(1);
	ck_assert_ptr_nonnull(big);
	ck_assert_int_eq(proto_response_encode(&agent, PROTO_OK, req.data,
	                     req.len, NULL, AGENT, NOW, big,
	                     PROTO_MAX_RESPONSE_BYTES, &b),
	    CT_ERR_TOO_BIG);
	free(big);
	ck_assert_ptr_null(b.data);

	/* Over the response cap. */
	big = calloc(1, PROTO_MAX_RESPONSE_BYTES + 1);
	ck_assert_ptr_nonnull(big);
	memcpy(big, "CTR1", 4);
	ck_assert_int_eq(proto_response_decode(big,
	                     PROTO_MAX_RESPONSE_BYTES + 1, &resp, &why),
	    CT_ERR_TOO_BIG);
	/* A body length past the end. */
	memset(big + 4, 0, 1 + 16 + 32);
	big[53] = 1;
	big[54] = 'a';
	memset(big + 55, 0, 8);
	big[63] = 0xff;
	big[64] = 0xff;
	ck_assert_int_eq(proto_response_decode(big, 200, &resp, &why),
	    CT_ERR_TRUNCATED);
	ck_assert_str_eq(why, "truncated in the body");
	free(big);
	util_buf_clear(&req);
}
END_TEST

START_TEST(test_response_max_size)
{
	struct util_buf req, b;
	struct proto_response resp;
	struct proto_framer f;
	uint8_t *body, hdr[4];
	char name[PROTO_NAME_MAX_BYTES + 1];
	const char *why = NULL;
	size_t used;

	/* The longest name and the largest body: exactly 16 MiB. */
	memset(name, 'a', PROTO_NAME_MAX_BYTES);
	name[PROTO_NAME_MAX_BYTES] = '\0';
	name[63] = name[127] = name[191] = '.';
	make_request(&req, name, PROTO_OP_INFO, NULL, NOW, 86);
	body = malloc(PROTO_MAX_BODY_BYTES + 1);
	ck_assert_ptr_nonnull(body);
	memset(body, 'x', PROTO_MAX_BODY_BYTES + 1);
	ck_assert_int_eq(proto_response_encode(&agent, PROTO_OK, req.data,
	                     req.len, req.data + req.len - 64 - 16, name, NOW,
	                     body, PROTO_MAX_BODY_BYTES + 1, &b),
	    CT_ERR_TOO_BIG);
	ck_assert_int_eq(proto_response_encode(&agent, PROTO_OK, req.data,
	                     req.len, req.data + req.len - 64 - 16, name, NOW,
	                     body, PROTO_MAX_BODY_BYTES, &b),
	    0);
	free(body);
	ck_assert_uint_eq(b.len, PROTO_MAX_RESPONSE_BYTES);
	ck_assert_int_eq(proto_frame_header(hdr, b.len,
	                     PROTO_MAX_RESPONSE_BYTES),
	    0);
	proto_framer_init(&f, PROTO_MAX_RESPONSE_BYTES);
	ck_assert_int_eq(proto_framer_feed(&f, hdr, 4, &used), 0);
	ck_assert_int_eq(proto_framer_feed(&f, b.data, b.len, &used), 1);
	ck_assert_uint_eq(used, b.len);
	ck_assert_int_eq(proto_response_decode(b.data, b.len, &resp, &why), 0);
	ck_assert_int_eq(proto_response_verify(&resp, agent.pub, req.data,
	                     req.len, name, &why),
	    0);
	proto_framer_clear(&f);
	util_buf_clear(&b);
	util_buf_clear(&req);
}
END_TEST

START_TEST(test_framer_cap_after_four_bytes)
{
	struct proto_framer f;
	static const uint8_t over[] = {0x00, 0x00, 0x40, 0x01, 'C', 'T'};
	static const uint8_t huge[] = {0xff, 0xff, 0xff, 0xff};
	size_t i, used;

	/* 16 KiB + 1: refused on the fourth byte, nothing read after. */
	proto_framer_init(&f, PROTO_MAX_REQUEST_BYTES);
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(proto_framer_feed(&f, over + i, 1, &used), 0);
		ck_assert_uint_eq(used, 1);
	}
	ck_assert_int_eq(proto_framer_feed(&f, over + 3, 1, &used),
	    CT_ERR_TOO_BIG);
	ck_assert_uint_eq(used, 1);
	ck_assert_ptr_null(f.buf.data);
	/* Sticky. */
	ck_assert_int_eq(proto_framer_feed(&f, over + 4, 2, &used),
	    CT_ERR_TOO_BIG);
	ck_assert_uint_eq(used, 0);
	proto_framer_clear(&f);

	/* All at once: four bytes used. */
	proto_framer_init(&f, PROTO_MAX_REQUEST_BYTES);
	ck_assert_int_eq(proto_framer_feed(&f, over, sizeof(over), &used),
	    CT_ERR_TOO_BIG);
	ck_assert_uint_eq(used, 4);
	proto_framer_clear(&f);

	proto_framer_init(&f, PROTO_MAX_RESPONSE_BYTES);
	ck_assert_int_eq(proto_framer_feed(&f, huge, 4, &used), CT_ERR_TOO_BIG);
	ck_assert_ptr_null(f.buf.data);
	proto_framer_clear(&f);

	/* Zero length. */
	proto_framer_init(&f, PROTO_MAX_REQUEST_BYTES);
	ck_assert_int_eq(proto_framer_feed(&f, (const uint8_t *)"\0\0\0\0x", 5,
	                     &used),
	    CT_ERR_FORMAT);
	ck_assert_uint_eq(used, 4);
	proto_framer_clear(&f);

	/* Memory follows the bytes received, not the length announced. */
	proto_framer_init(&f, PROTO_MAX_RESPONSE_BYTES);
	ck_assert_int_eq(proto_framer_feed(&f,
	                     (const uint8_t *)"\x01\0\0\0abcdefghij", 14,
	                     &used),
	    0);
	ck_assert_uint_eq(used, 14);
	ck_assert_uint_le(f.buf.cap, 1024);
	ck_assert(proto_framer_partial(&f));
	proto_framer_clear(&f);

	ck_assert_int_eq(proto_frame_header((uint8_t[4]){0}, 0, 10),
	    CT_ERR_INVALID);
	ck_assert_int_eq(proto_frame_header((uint8_t[4]){0}, 11, 10),
	    CT_ERR_TOO_BIG);
}
END_TEST

START_TEST(test_framer_incremental)
{
	struct util_buf req, wire;
	struct proto_framer f;
	struct proto_request d;
	const uint8_t *frame;
	uint8_t hdr[4];
	size_t i, used, len, off;
	int rc;

	make_request(&req, AGENT, PROTO_OP_CERTS, "example.org", NOW, 90);
	ck_assert_int_eq(proto_frame_header(hdr, req.len,
	                     PROTO_MAX_REQUEST_BYTES),
	    0);
	util_buf_init(&wire, 1 << 20);
	ck_assert_int_eq(util_buf_append(&wire, hdr, 4), 0);
	ck_assert_int_eq(util_buf_append(&wire, req.data, req.len), 0);

	/* One byte at a time. */
	proto_framer_init(&f, PROTO_MAX_REQUEST_BYTES);
	ck_assert(!proto_framer_partial(&f));
	ck_assert_ptr_null(proto_framer_frame(&f, &len));
	for (i = 0; i < wire.len; i++) {
		rc = proto_framer_feed(&f, wire.data + i, 1, &used);
		ck_assert_uint_eq(used, 1);
		ck_assert_int_eq(rc, i + 1 == wire.len ? 1 : 0);
		if (i + 1 < wire.len)
			ck_assert(proto_framer_partial(&f));
	}
	ck_assert(!proto_framer_partial(&f));
	frame = proto_framer_frame(&f, &len);
	ck_assert_uint_eq(len, req.len);
	ck_assert_mem_eq(frame, req.data, len);
	ck_assert_int_eq(proto_request_decode(frame, len, &d, NULL), 0);
	/* More bytes without a reset are a caller error. */
	ck_assert_int_eq(proto_framer_feed(&f, hdr, 1, &used), CT_ERR_INVALID);
	ck_assert_uint_eq(used, 0);

	/* Two frames back to back, fed in chunks of 7. */
	ck_assert_int_eq(util_buf_append(&wire, hdr, 4), 0);
	ck_assert_int_eq(util_buf_append(&wire, req.data, req.len), 0);
	proto_framer_reset(&f);
	off = 0;
	for (i = 0; i < 2; i++) {
		do {
			len = wire.len - off < 7 ? wire.len - off : 7;
			rc = proto_framer_feed(&f, wire.data + off, len, &used);
			off += used;
		} while (rc == 0);
		ck_assert_int_eq(rc, 1);
		ck_assert_uint_eq(off, (i + 1) * (4 + req.len));
		frame = proto_framer_frame(&f, &len);
		ck_assert_mem_eq(frame, req.data, req.len);
		proto_framer_reset(&f);
	}
	ck_assert_uint_eq(off, wire.len);

	/* A frame exactly at the cap is accepted. */
	proto_framer_clear(&f);
	proto_framer_init(&f, req.len);
	ck_assert_int_eq(proto_framer_feed(&f, wire.data, 4 + req.len, &used),
	    1);
	proto_framer_clear(&f);
	proto_framer_init(&f, req.len - 1);
	ck_assert_int_eq(proto_framer_feed(&f, wire.data, 4 + req.len, &used),
	    CT_ERR_TOO_BIG);
	proto_framer_clear(&f);
	util_buf_clear(&wire);
	util_buf_clear(&req);
}
END_TEST

START_TEST(test_names)
{
	ck_assert_str_eq(proto_status_name(PROTO_OK), "OK");
	ck_assert_str_eq(proto_status_name(PROTO_BAD_REQUEST), "BAD_REQUEST");
	ck_assert_str_eq(proto_status_name(PROTO_BUSY), "BUSY");
	ck_assert_str_eq(proto_status_name(PROTO_INTERNAL), "INTERNAL");
	ck_assert_str_eq(proto_status_name(PROTO_STATUS__MAX), "?");
	ck_assert_str_eq(proto_status_name(-1), "?");
	ck_assert_str_eq(proto_op_name(PROTO_OP_INFO), "info");
	ck_assert_str_eq(proto_op_name(PROTO_OP_CERTS), "certs");
	ck_assert_str_eq(proto_op_name(0), "?");
	ck_assert_str_eq(proto_op_name(3), "?");
	ck_assert_int_eq(proto_op_from_name("certs"), PROTO_OP_CERTS);
	ck_assert_int_eq(proto_op_from_name("info"), PROTO_OP_INFO);
	ck_assert_int_eq(proto_op_from_name("?"), CT_ERR_NOT_FOUND);
	ck_assert_int_eq(proto_op_from_name("shell"), CT_ERR_NOT_FOUND);
	ck_assert_int_eq(proto_status_from_err(0), PROTO_OK);
	ck_assert_int_eq(proto_status_from_err(CT_ERR_UNSUPPORTED),
	    PROTO_UNKNOWN_OP);
	ck_assert_int_eq(proto_status_from_err(CT_ERR_TRUNCATED),
	    PROTO_BAD_REQUEST);
	ck_assert_int_eq(proto_status_from_err(CT_ERR_NOMEM), PROTO_INTERNAL);
	/* Wire values are fixed. */
	ck_assert_int_eq(PROTO_BUSY, 9);
	ck_assert_int_eq(PROTO_INTERNAL, 10);
}
END_TEST

START_TEST(test_nonce)
{
	uint8_t a[PROTO_NONCE_BYTES], b[PROTO_NONCE_BYTES];

	ck_assert_int_eq(proto_nonce(a), 0);
	ck_assert_int_eq(proto_nonce(b), 0);
	ck_assert_mem_ne(a, b, sizeof(a));
}
END_TEST

static Suite *
proto_suite(void)
{
	Suite *s = suite_create("proto");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_request_roundtrip);
	tcase_add_test(tc, test_request_encode_refuses);
	tcase_add_test(tc, test_request_every_byte_flipped);
	tcase_add_test(tc, test_request_truncated_and_trailing);
	tcase_add_test(tc, test_request_bad_shapes);
	tcase_add_test(tc, test_request_wrong_agent_and_keys);
	tcase_add_test(tc, test_request_authorize_callback);
	tcase_add_test(tc, test_request_clock_window);
	tcase_add_test(tc, test_request_replay);
	tcase_add_test(tc, test_request_cache_full_busy);
	tcase_add_test(tc, test_replay_expiry_reuse);
	tcase_add_test(tc, test_replay_model);
	tcase_add_test(tc, test_response_roundtrip);
	tcase_add_test(tc, test_response_signed_message);
	tcase_add_test(tc, test_response_every_byte_flipped);
	tcase_add_test(tc, test_response_truncated_and_trailing);
	tcase_add_test(tc, test_response_binding);
	tcase_add_test(tc, test_response_bad_shapes);
	tcase_add_test(tc, test_response_max_size);
	tcase_add_test(tc, test_framer_cap_after_four_bytes);
	tcase_add_test(tc, test_framer_incremental);
	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_nonce);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return testutil_run(proto_suite());
}
