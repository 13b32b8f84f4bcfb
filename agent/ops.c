/*
 * ops: the answers to the two operations (DESIGN.md section 4). Both
 * read only the agent's memory (the latest scan and the store index);
 * nothing in a request reaches a path, a shell or the disk.
 *
 * info:
 *	{"version", "name", "cert_dirs": [...], "store_records", "deployed",
 *	 "last_scan": RFC 3339 or null, "uptime_s"}
 * certs NAME ("www.example.org", ".example.org" for the name and all
 * below it, or "*" for everything):
 *	{"name": NAME, "certs": [{"tbs_sha256", "sha256", "spki_sha256",
 *	 "serial", "dns_names": [...], "not_before", "not_after",
 *	 "source": "deployed" | "store", "path", "first_seen", "precert",
 *	 "live"}, ...]}
 * Deployed certificates (the latest scan) come first with the file they
 * were found in; then every other store record, with the path it was
 * first seen at (or "imported from PATH"). Each tbs_sha256 appears once.
 * Hashes are lower-case hex.
 *
 * The JSON of a `certs` answer depends only on the argument, the store
 * and the latest scan, so it is kept (struct ops_cache, by argument,
 * least recently used first out, within OPS_CACHE_MAX_BYTES) and served
 * again until store_generation or the scan generation changes. Only the
 * body is kept: the response around it is signed for each request, bound
 * to its nonce (server.c).
 *
 * Matching follows common/names: a certificate matches when one of its
 * DNS SANs (its CN when it has none) is the name, a wildcard covering it,
 * or cannot be parsed (fail-safe). The store keeps "SANs, or the CN when
 * there are none" without saying which, so a store record's names are
 * all matched as SANs: a CN that is not a host name then counts as
 * unparsable and matches, which errs on the side of listing.
 */
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "cert.h"
#include "json.h"
#include "names.h"

#define HASH_HEX_BYTES 65

/* cache_put evicts until a body fits: one must fit in an empty cache. */
_Static_assert(OPS_CACHE_MAX_ENTRY_BYTES <= OPS_CACHE_MAX_BYTES,
    "a cached answer must fit in the cache");

struct certs_job {
	const struct agent *a;
	struct json_writer *w;
	struct names_watch watch;
	bool all;
};

static size_t
body_max(const struct agent *a)
{
	return PROTO_MAX_RESPONSE_BYTES - PROTO_RESPONSE_FIXED_BYTES -
	    strlen(a->conf.name);
}

static void
w_hash(struct json_writer *w, const char *key, const uint8_t h[32])
{
	char hex[HASH_HEX_BYTES];

	util_hex_encode(h, 32, hex);
	json_w_key(w, key);
	json_w_str(w, hex);
}

static void
w_time(struct json_writer *w, const char *key, int64_t t)
{
	char s[UTIL_RFC3339_LEN];

	json_w_key(w, key);
	if (t <= 0) {
		json_w_null(w);
		return;
	}
	util_time_rfc3339(t, s);
	json_w_str(w, s);
}

/* ------------------------------------------------------------ info */

static int
answer_info(const struct agent *a, struct json_writer *w)
{
	const struct scan_result *r = a->scan;
	size_t i;

	json_w_obj_begin(w);
	json_w_key(w, "version");
	json_w_str(w, CT_VERSION);
	json_w_key(w, "name");
	json_w_str(w, a->conf.name);
	json_w_key(w, "cert_dirs");
	json_w_arr_begin(w);
	if (r != NULL) {
		for (i = 0; i < r->n_roots; i++)
			if (r->roots[i].found)
				json_w_str(w, r->roots[i].path);
	} else {
		for (i = 0; i < a->conf.n_cert_dirs; i++)
			json_w_str(w, a->conf.cert_dirs[i]);
	}
	json_w_arr_end(w);
	json_w_key(w, "store_records");
	json_w_u64(w, store_count(a->store));
	json_w_key(w, "deployed");
	json_w_u64(w, r != NULL ? r->n_certs : 0);
	w_time(w, "last_scan", a->last_scan);
	json_w_key(w, "uptime_s");
	json_w_i64(w, util_now() - a->started);
	json_w_obj_end(w);
	return json_w_finish(w, false);
}

/* ------------------------------------------------------------ certs */

/* One name as a SAN: does it match? */
static bool
san_matches(const struct certs_job *j, const char *name, size_t len)
{
	struct names_item it = {name, len};

	return names_cert_matches(&j->watch, &it, 1, NULL, 0, NULL) !=
	    NAMES_NO_MATCH;
}

static bool
deployed_matches(const struct certs_job *j, const struct ct_cert *c)
{
	struct names_item cn;
	size_t i;

	if (j->all)
		return true;
	for (i = 0; i < c->n_dns_names; i++)
		if (san_matches(j, c->dns_names[i].name, c->dns_names[i].len))
			return true;
	if (c->n_dns_names > 0 || c->subject_cn == NULL)
		return false;
	cn.name = c->subject_cn;
	cn.len = strlen(c->subject_cn);
	return names_cert_matches(&j->watch, NULL, 0, &cn, 1, NULL) !=
	    NAMES_NO_MATCH;
}

static bool
record_matches(const struct certs_job *j, const struct store_rec *rec)
{
	size_t i;

	if (j->all)
		return true;
	for (i = 0; i < rec->n_names; i++)
		if (san_matches(j, rec->names[i].name, rec->names[i].len))
			return true;
	return false;
}

static void
w_deployed(struct certs_job *j, const struct scan_cert *sc)
{
	const struct ct_cert *c = sc->cert;
	const struct store_rec *rec = store_find(j->a->store, c->tbs_sha256);
	struct json_writer *w = j->w;
	char serial[2 * 64 + 1];
	size_t i;

	json_w_obj_begin(w);
	w_hash(w, "tbs_sha256", c->tbs_sha256);
	w_hash(w, "sha256", c->sha256);
	w_hash(w, "spki_sha256", c->spki_sha256);
	/* A serial is at most 20 octets (RFC 5280), 21 with a sign byte. */
	if (c->serial_len * 2 + 1 <= sizeof(serial)) {
		cert_serial_hex(c, serial, sizeof(serial));
		json_w_key(w, "serial");
		json_w_str(w, serial);
	} else {
		json_w_key(w, "serial");
		json_w_null(w);
	}
	json_w_key(w, "dns_names");
	json_w_arr_begin(w);
	for (i = 0; i < c->n_dns_names; i++)
		json_w_str_n(w, c->dns_names[i].name, c->dns_names[i].len);
	if (c->n_dns_names == 0 && c->subject_cn != NULL)
		json_w_str(w, c->subject_cn);
	json_w_arr_end(w);
	w_time(w, "not_before", c->not_before);
	w_time(w, "not_after", c->not_after);
	json_w_key(w, "source");
	json_w_str(w, "deployed");
	json_w_key(w, "path");
	json_w_str(w, sc->path);
	w_time(w, "first_seen",
	    rec != NULL ? rec->first_seen : j->a->last_scan);
	json_w_key(w, "precert");
	json_w_bool(w, c->precert);
	json_w_key(w, "live");
	json_w_bool(w, sc->live);
	json_w_obj_end(w);
}

static void
w_record(struct certs_job *j, const struct store_rec *rec)
{
	struct json_writer *w = j->w;
	size_t i;

	json_w_obj_begin(w);
	w_hash(w, "tbs_sha256", rec->tbs_sha256);
	w_hash(w, "sha256", rec->sha256);
	w_hash(w, "spki_sha256", rec->spki_sha256);
	json_w_key(w, "serial");
	json_w_str(w, rec->serial);
	json_w_key(w, "dns_names");
	json_w_arr_begin(w);
	for (i = 0; i < rec->n_names; i++)
		json_w_str_n(w, rec->names[i].name, rec->names[i].len);
	json_w_arr_end(w);
	w_time(w, "not_before", rec->not_before);
	w_time(w, "not_after", rec->not_after);
	json_w_key(w, "source");
	json_w_str(w, "store");
	json_w_key(w, "path");
	json_w_str(w, rec->source != NULL ? rec->source : "");
	w_time(w, "first_seen", rec->first_seen);
	json_w_key(w, "precert");
	json_w_bool(w, rec->precert);
	json_w_key(w, "live");
	json_w_bool(w, false);
	json_w_obj_end(w);
}

static bool
is_deployed(const struct agent *a, const uint8_t tbs[32])
{
	const struct scan_result *r = a->scan;
	size_t i;

	if (r == NULL)
		return false;
	for (i = 0; i < r->n_certs; i++)
		if (memcmp(r->certs[i].cert->tbs_sha256, tbs, 32) == 0)
			return true;
	return false;
}

static int
each_record(const struct store_rec *rec, void *arg)
{
	struct certs_job *j = arg;

	if (j->w->err != 0)
		return j->w->err; /* over the cap: stop early */
	if (record_matches(j, rec) && !is_deployed(j->a, rec->tbs_sha256))
		w_record(j, rec);
	return 0;
}

static int
answer_certs(const struct agent *a, const struct proto_request *req,
    struct json_writer *w, const char **reason)
{
	struct certs_job j;
	const struct scan_result *r = a->scan;
	size_t i;

	memset(&j, 0, sizeof(j));
	j.a = a;
	j.w = w;
	j.all = req->arg_len == 1 && req->arg[0] == '*';
	if (!j.all &&
	    names_watch_parse(req->arg, req->arg_len, false, &j.watch) != 0) {
		*reason = "argument is not a DNS name, .DOMAIN or *";
		return CT_ERR_FORMAT;
	}
	json_w_obj_begin(w);
	json_w_key(w, "name");
	json_w_str_n(w, req->arg, req->arg_len);
	json_w_key(w, "certs");
	json_w_arr_begin(w);
	for (i = 0; r != NULL && i < r->n_certs && w->err == 0; i++)
		if (deployed_matches(&j, r->certs[i].cert))
			w_deployed(&j, &r->certs[i]);
	(void)store_foreach(a->store, each_record, &j);
	json_w_arr_end(w);
	json_w_obj_end(w);
	return json_w_finish(w, false);
}

/* ------------------------------------------------------------ cache */

static void
cached_free(struct ops_cache *oc, struct ops_cached *e)
{
	oc->bytes -= e->len;
	free(e->arg);
	free(e->body);
	memset(e, 0, sizeof(*e));
}

void
ops_cache_clear(struct agent *a)
{
	struct ops_cache *oc = &a->answers;
	size_t i;

	for (i = 0; i < OPS_CACHE_ENTRIES; i++)
		if (oc->e[i].arg != NULL)
			cached_free(oc, &oc->e[i]);
}

/* Drops every kept answer when what they were made from has changed. */
static void
cache_check(struct agent *a)
{
	struct ops_cache *oc = &a->answers;
	uint64_t sg = store_generation(a->store);
	size_t max = body_max(a);

	if (oc->store_generation == sg &&
	    oc->scan_generation == a->scan_generation && oc->body_max == max)
		return;
	ops_cache_clear(a);
	oc->store_generation = sg;
	oc->scan_generation = a->scan_generation;
	oc->body_max = max;
}

static struct ops_cached *
cache_find(struct ops_cache *oc, const char *arg, size_t arg_len)
{
	size_t i;

	for (i = 0; i < OPS_CACHE_ENTRIES; i++)
		if (oc->e[i].arg != NULL && oc->e[i].arg_len == arg_len &&
		    memcmp(oc->e[i].arg, arg, arg_len) == 0) {
			oc->e[i].used = ++oc->clock;
			return &oc->e[i];
		}
	return NULL;
}

/*
 * Keeps a copy of body for arg, evicting the least recently used answers
 * to make room. NULL when it is too big or memory is short: the answer
 * is then simply not kept.
 */
static struct ops_cached *
cache_put(struct ops_cache *oc, const char *arg, size_t arg_len,
    const struct util_buf *body)
{
	struct ops_cached *e, *lru;
	size_t i;

	uint8_t digest[PROTO_BODY_DIGEST_BYTES];

	if (body->len > OPS_CACHE_MAX_ENTRY_BYTES ||
	    proto_body_digest(body->data, body->len, digest) != 0)
		return NULL;
	for (;;) {
		e = lru = NULL;
		for (i = 0; i < OPS_CACHE_ENTRIES; i++) {
			if (oc->e[i].arg == NULL)
				e = &oc->e[i];
			else if (lru == NULL || oc->e[i].used < lru->used)
				lru = &oc->e[i];
		}
		if (e != NULL && oc->bytes + body->len <= OPS_CACHE_MAX_BYTES)
			break;
		cached_free(oc, lru); /* lru exists: bytes or slots are used */
	}
	if ((e->arg = malloc(arg_len + 1)) == NULL ||
	    (e->body = malloc(body->len > 0 ? body->len : 1)) == NULL) {
		free(e->arg);
		e->arg = NULL;
		return NULL;
	}
	memcpy(e->arg, arg, arg_len);
	e->arg[arg_len] = '\0';
	e->arg_len = arg_len;
	memcpy(e->body, body->data, body->len);
	e->len = body->len;
	memcpy(e->digest, digest, sizeof(digest));
	e->used = ++oc->clock;
	oc->bytes += e->len;
	return e;
}

/* ------------------------------------------------------------ answers */

/* A certs answer from the cache, or built (and kept) into own. */
static int
certs_cached(struct agent *a, const struct proto_request *req,
    struct util_buf *own, const uint8_t **body, size_t *len,
    const uint8_t **digest, const char **reason)
{
	struct ops_cache *oc = &a->answers;
	struct ops_cached *e;
	struct json_writer w;
	int rc;

	cache_check(a);
	if ((e = cache_find(oc, req->arg, req->arg_len)) == NULL) {
		json_w_init(&w, own);
		if ((rc = answer_certs(a, req, &w, reason)) != 0)
			return rc;
		if ((e = cache_put(oc, req->arg, req->arg_len, own)) == NULL) {
			*body = own->data;
			*len = own->len;
			return 0;
		}
		util_buf_clear(own); /* the kept copy serves from here on */
	}
	*body = e->body;
	*len = e->len;
	*digest = e->digest;
	return 0;
}

enum proto_status
ops_answer(struct agent *a, const struct proto_request *req,
    struct util_buf *own, const uint8_t **body, size_t *len,
    const uint8_t **digest, const char **reason)
{
	struct json_writer w;
	int rc;

	util_buf_init(own, body_max(a));
	*body = NULL;
	*len = 0;
	*digest = NULL;
	*reason = NULL;
	switch (req->op) {
	case PROTO_OP_INFO:
		json_w_init(&w, own);
		if ((rc = answer_info(a, &w)) == 0) {
			*body = own->data;
			*len = own->len;
		}
		break;
	case PROTO_OP_CERTS:
		rc = certs_cached(a, req, own, body, len, digest, reason);
		break;
	default:
		*reason = "unknown operation";
		return PROTO_UNKNOWN_OP;
	}
	if (rc == 0)
		return PROTO_OK;
	util_buf_clear(own);
	*body = NULL;
	*len = 0;
	*digest = NULL;
	if (rc == CT_ERR_FORMAT && *reason != NULL)
		return PROTO_BAD_REQUEST;
	if (rc == CT_ERR_TOO_BIG) {
		*reason = "answer larger than 16 MiB: ask for one name";
		return PROTO_TOO_BIG;
	}
	*reason = "agent failed to build the answer";
	return PROTO_INTERNAL;
}
