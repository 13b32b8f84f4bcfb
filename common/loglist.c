/*
 * loglist: CT log list v3 parsing, log ID check, lookup, and signature.
 */
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/hash.h>
#include <wolfssl/wolfcrypt/sha256.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "der.h"
#include "json.h"
#include "loglist.h"
#include "sig.h"
#include "util.h"

#if LOGLIST_MAX_BYTES > JSON_HARD_MAX_BYTES
#error "LOGLIST_MAX_BYTES past what json can parse"
#endif
_Static_assert(LOGLIST_LOG_ID_BYTES == WC_SHA256_DIGEST_SIZE,
    "a log ID is a SHA-256 hash");

#define LOGLIST_PEM_LABEL_BYTES 64

const char *const loglist_state_names[LOGLIST_STATE__MAX] = {
    [LOGLIST_STATE_NONE] = "none",
    [LOGLIST_STATE_PENDING] = "pending",
    [LOGLIST_STATE_QUALIFIED] = "qualified",
    [LOGLIST_STATE_USABLE] = "usable",
    [LOGLIST_STATE_READONLY] = "readonly",
    [LOGLIST_STATE_RETIRED] = "retired",
    [LOGLIST_STATE_REJECTED] = "rejected",
};

const char *const loglist_type_names[LOGLIST_TYPE__MAX] = {
    [LOGLIST_TYPE_NONE] = "none",
    [LOGLIST_TYPE_PROD] = "prod",
    [LOGLIST_TYPE_TEST] = "test",
    [LOGLIST_TYPE_MONITORING_ONLY] = "monitoring_only",
    [LOGLIST_TYPE_OTHER] = "other",
};

struct loglist {
	char *version;
	bool has_timestamp;
	int64_t timestamp;
	char **op_names;
	size_t nops;
	struct loglist_log *logs;
	size_t nlogs;
	const struct loglist_log **by_id; /* sorted by log_id */
};

/* Parser state: the document, and where we are for error reasons. */
struct pctx {
	const struct json_doc *d;
	unsigned flags;
	char *why;
	size_t whysz;
	size_t op;        /* operator index, or SIZE_MAX at the top */
	const char *kind; /* "logs", "tiled_logs", or NULL */
	size_t idx;       /* index in kind */
};

/* Records a reason for rc at the current place and returns rc. */
static int
fail(struct pctx *c, int rc, const char *what)
{
	if (c->why == NULL || c->whysz == 0)
		return rc;
	if (c->op == SIZE_MAX)
		snprintf(c->why, c->whysz, "%s", what);
	else if (c->kind == NULL)
		snprintf(c->why, c->whysz, "operators[%zu]: %s", c->op, what);
	else
		snprintf(c->why, c->whysz, "operators[%zu].%s[%zu]: %s", c->op,
		    c->kind, c->idx, what);
	return rc;
}

/*
 * Member key of obj as text of at most max bytes. Absent: *out = NULL and
 * 0, or CT_ERR_FORMAT when required.
 */
static int
get_text(struct pctx *c, int obj, const char *key, size_t max, bool required,
    char **out)
{
	char msg[96];
	int t, rc;

	*out = NULL;
	t = json_obj_get(c->d, obj, key);
	if (t == CT_ERR_NOT_FOUND && !required)
		return 0;
	rc = json_get_str_alloc(c->d, t, 0, max, out, NULL);
	if (rc == 0)
		return 0;
	if (rc == CT_ERR_NOT_FOUND)
		snprintf(msg, sizeof(msg), "missing %s", key);
	else if (rc == CT_ERR_TOO_BIG)
		snprintf(msg, sizeof(msg), "%s too long", key);
	else
		snprintf(msg, sizeof(msg), "%s: %s", key, ct_strerror(rc));
	return fail(c, rc == CT_ERR_NOT_FOUND ? CT_ERR_FORMAT : rc, msg);
}

/* Member key of obj as an RFC 3339 time. */
static int
get_time(struct pctx *c, int obj, const char *key, int64_t *out)
{
	char buf[64], msg[96];
	size_t n;
	int rc;

	rc = json_get_str(c->d, json_obj_get(c->d, obj, key), 0, buf,
	    sizeof(buf), &n);
	if (rc == 0 && util_time_parse_rfc3339(buf, n, out) == 0)
		return 0;
	snprintf(msg, sizeof(msg), "%s: %s", key,
	    rc == CT_ERR_NOT_FOUND ? "missing" : "not an RFC 3339 time");
	return fail(c, CT_ERR_FORMAT, msg);
}

static enum loglist_state
state_from_name(const struct json_doc *d, int key)
{
	int s;

	for (s = LOGLIST_STATE_PENDING; s < LOGLIST_STATE__MAX; s++)
		if (json_str_eq(d, key, loglist_state_names[s],
		        strlen(loglist_state_names[s])))
			return (enum loglist_state)s;
	return LOGLIST_STATE_NONE;
}

/* readonly's final_tree_head, when there is one. */
static int
parse_final_sth(struct pctx *c, int st, struct loglist_log *log)
{
	int f, rc;

	f = json_obj_get(c->d, st, "final_tree_head");
	if (f == CT_ERR_NOT_FOUND)
		return 0;
	if ((f = json_expect(c->d, f, JSON_OBJECT)) < 0)
		return fail(c, CT_ERR_FORMAT, "final_tree_head not an object");
	rc = json_get_u64(c->d, json_obj_get(c->d, f, "tree_size"),
	    &log->final_tree_size);
	if (rc < 0)
		return fail(c, CT_ERR_FORMAT, "final_tree_head.tree_size");
	rc = json_get_b64_exact(c->d, json_obj_get(c->d, f, "sha256_root_hash"),
	    log->final_root_hash, sizeof(log->final_root_hash));
	if (rc < 0)
		return fail(c, CT_ERR_FORMAT,
		    "final_tree_head.sha256_root_hash");
	log->has_final_sth = true;
	return 0;
}

/*
 * "state": absent, or an object with exactly one key naming a state (more
 * with LOGLIST_F_STATE_HISTORY, each state at most once), whose value
 * holds its timestamp.
 */
static int
parse_state(struct pctx *c, int obj, struct loglist_log *log)
{
	struct json_iter it;
	unsigned seen = 0;
	enum loglist_state s;
	int st, key, val, n, rc;
	int64_t t;

	st = json_obj_get(c->d, obj, "state");
	if (st == CT_ERR_NOT_FOUND) {
		log->state = LOGLIST_STATE_NONE;
		return 0;
	}
	if ((n = json_size(c->d, json_expect(c->d, st, JSON_OBJECT))) < 0)
		return fail(c, CT_ERR_FORMAT, "state not an object");
	if (n == 0)
		return fail(c, CT_ERR_FORMAT, "state is empty");
	if (n != 1 && !(c->flags & LOGLIST_F_STATE_HISTORY))
		return fail(c, CT_ERR_FORMAT, "state has more than one key");
	if ((rc = json_iter_obj(c->d, st, &it)) < 0)
		return fail(c, rc, "state");
	while (json_iter_next_member(&it, &key, &val)) {
		if ((s = state_from_name(c->d, key)) == LOGLIST_STATE_NONE)
			return fail(c, CT_ERR_FORMAT, "unknown state");
		if (seen & 1u << s)
			return fail(c, CT_ERR_FORMAT, "state given twice");
		seen |= 1u << s;
		if (json_type(c->d, val) != JSON_OBJECT)
			return fail(c, CT_ERR_FORMAT,
			    "state value not an "
			    "object");
		if ((rc = get_time(c, val, "timestamp", &t)) < 0)
			return rc;
		if (log->state != LOGLIST_STATE_NONE &&
		    (t < log->state_time ||
		        (t == log->state_time && s < log->state)))
			continue;
		log->state = s;
		log->state_time = t;
		log->has_final_sth = false;
		if (s == LOGLIST_STATE_READONLY &&
		    (rc = parse_final_sth(c, val, log)) < 0)
			return rc;
	}
	return 0;
}

static int
parse_interval(struct pctx *c, int obj, struct loglist_log *log)
{
	int ti, rc;

	ti = json_obj_get(c->d, obj, "temporal_interval");
	if (ti == CT_ERR_NOT_FOUND)
		return 0;
	if (json_type(c->d, ti) != JSON_OBJECT)
		return fail(c, CT_ERR_FORMAT,
		    "temporal_interval not an object");
	if ((rc = get_time(c, ti, "start_inclusive", &log->interval_start)) <
	        0 ||
	    (rc = get_time(c, ti, "end_exclusive", &log->interval_end)) < 0)
		return rc;
	if (log->interval_start >= log->interval_end)
		return fail(c, CT_ERR_FORMAT, "temporal_interval is empty");
	log->has_interval = true;
	return 0;
}

static int
parse_type(struct pctx *c, int obj, struct loglist_log *log)
{
	int rc;

	rc = get_text(c, obj, "log_type", LOGLIST_MAX_TEXT_BYTES, false,
	    &log->log_type);
	if (rc < 0)
		return rc;
	if (log->log_type == NULL)
		log->type = LOGLIST_TYPE_NONE;
	else if (strcmp(log->log_type, "prod") == 0)
		log->type = LOGLIST_TYPE_PROD;
	else if (strcmp(log->log_type, "test") == 0)
		log->type = LOGLIST_TYPE_TEST;
	else if (strcmp(log->log_type, "monitoring_only") == 0)
		log->type = LOGLIST_TYPE_MONITORING_ONLY;
	else
		log->type = LOGLIST_TYPE_OTHER;
	return 0;
}

/* log_id and key: the key must be one DER SEQUENCE hashing to the ID. */
static int
parse_key(struct pctx *c, int obj, struct loglist_log *log)
{
	uint8_t hash[WC_SHA256_DIGEST_SIZE];
	struct der_cursor cur;
	struct der_tlv tlv;
	int rc;

	rc = json_get_b64_exact(c->d, json_obj_get(c->d, obj, "log_id"),
	    log->log_id, sizeof(log->log_id));
	if (rc < 0)
		return fail(c, CT_ERR_FORMAT,
		    rc == CT_ERR_NOT_FOUND ? "missing log_id"
		                           : "log_id not 32 bytes of base64");
	rc = json_get_b64_alloc(c->d, json_obj_get(c->d, obj, "key"),
	    LOGLIST_MAX_KEY_BYTES, &log->key, &log->key_len);
	if (rc == CT_ERR_TOO_BIG)
		return fail(c, rc, "key too long");
	if (rc < 0)
		return fail(c, CT_ERR_FORMAT,
		    rc == CT_ERR_NOT_FOUND ? "missing key" : "key not base64");
	der_init(&cur, log->key, log->key_len);
	if (der_expect(&cur, DER_SEQUENCE, &tlv) < 0 || !der_empty(&cur))
		return fail(c, CT_ERR_FORMAT, "key not a DER SEQUENCE");
	if (wc_Sha256Hash(log->key, (word32)log->key_len, hash) != 0)
		return fail(c, CT_ERR_CRYPTO, "SHA-256 failed");
	if (memcmp(hash, log->log_id, sizeof(hash)) != 0)
		return fail(c, CT_ERR_FORMAT, "log_id is not SHA-256(key)");
	return 0;
}

static int
parse_log(struct pctx *c, int obj, bool tiled, struct loglist_log *log)
{
	uint64_t mmd;
	int rc;

	if (json_type(c->d, obj) != JSON_OBJECT)
		return fail(c, CT_ERR_FORMAT, "log not an object");
	log->tiled = tiled;
	if ((rc = get_text(c, obj, "description", LOGLIST_MAX_TEXT_BYTES, false,
	         &log->description)) < 0)
		return rc;
	if (log->description == NULL && (log->description = strdup("")) == NULL)
		return CT_ERR_NOMEM;
	if ((rc = parse_key(c, obj, log)) < 0)
		return rc;
	if (!tiled) {
		rc = get_text(c, obj, "url", LOGLIST_MAX_URL_BYTES, true,
		    &log->url);
	} else if ((rc = get_text(c, obj, "submission_url",
	                LOGLIST_MAX_URL_BYTES, true, &log->submission_url)) ==
	    0) {
		rc = get_text(c, obj, "monitoring_url", LOGLIST_MAX_URL_BYTES,
		    true, &log->monitoring_url);
	}
	if (rc < 0)
		return rc;
	rc = json_get_u64(c->d, json_obj_get(c->d, obj, "mmd"), &mmd);
	if (rc < 0 || mmd > UINT32_MAX)
		return fail(c, CT_ERR_FORMAT,
		    rc == CT_ERR_NOT_FOUND ? "missing mmd"
		                           : "mmd not a 32-bit integer");
	log->mmd = (uint32_t)mmd;
	if ((rc = parse_state(c, obj, log)) < 0 ||
	    (rc = parse_interval(c, obj, log)) < 0 ||
	    (rc = parse_type(c, obj, log)) < 0)
		return rc;
	return 0;
}

/* The operator's array kind: absent is empty; else it must be an array. */
static int
op_array(struct pctx *c, int op, const char *kind, int *arr)
{
	*arr = json_obj_get(c->d, op, kind);
	if (*arr == CT_ERR_NOT_FOUND)
		return 0;
	if (json_type(c->d, *arr) != JSON_ARRAY)
		return fail(c, CT_ERR_FORMAT,
		    kind[0] == 'l' ? "logs not an array"
		                   : "tiled_logs not an array");
	return json_size(c->d, *arr);
}

/* Counts the logs of every operator against the cap. */
static int
count_logs(struct pctx *c, int ops, size_t *total)
{
	struct json_iter it;
	int op, arr, n, rc;

	*total = 0;
	if ((rc = json_iter_arr(c->d, ops, &it)) < 0)
		return rc;
	for (c->op = 0; json_iter_next(&it, &op); c->op++) {
		if (json_type(c->d, op) != JSON_OBJECT)
			return fail(c, CT_ERR_FORMAT, "operator not an object");
		if ((n = op_array(c, op, "logs", &arr)) < 0)
			return n;
		*total += (size_t)n;
		if ((n = op_array(c, op, "tiled_logs", &arr)) < 0)
			return n;
		*total += (size_t)n;
		if (*total > LOGLIST_MAX_LOGS)
			return fail(c, CT_ERR_TOO_BIG, "too many logs");
	}
	return 0;
}

/* Parses operator number c->op (token op) and its logs. */
static int
parse_operator(struct pctx *c, struct loglist *l, int op)
{
	static const char *const kinds[2] = {"logs", "tiled_logs"};
	struct json_iter it;
	struct loglist_log *log;
	int arr, e, k, rc;

	c->kind = NULL;
	if ((rc = get_text(c, op, "name", LOGLIST_MAX_TEXT_BYTES, true,
	         &l->op_names[c->op])) < 0)
		return rc;
	l->nops = c->op + 1;
	for (k = 0; k < 2; k++) {
		c->kind = NULL;
		if ((rc = op_array(c, op, kinds[k], &arr)) < 0)
			return rc;
		if (arr < 0)
			continue;
		if ((rc = json_iter_arr(c->d, arr, &it)) < 0)
			return rc;
		c->kind = kinds[k];
		for (c->idx = 0; json_iter_next(&it, &e); c->idx++) {
			log = &l->logs[l->nlogs++];
			log->op_name = l->op_names[c->op];
			log->op_index = c->op;
			if ((rc = parse_log(c, e, k == 1, log)) < 0)
				return rc;
		}
	}
	c->kind = NULL;
	return 0;
}

static int
cmp_id(const void *a, const void *b)
{
	const struct loglist_log *x = *(const struct loglist_log *const *)a;
	const struct loglist_log *y = *(const struct loglist_log *const *)b;

	return memcmp(x->log_id, y->log_id, LOGLIST_LOG_ID_BYTES);
}

/* Sorts the index by log ID; a log ID listed twice is an error. */
static int
index_ids(struct pctx *c, struct loglist *l)
{
	size_t i;

	c->op = SIZE_MAX;
	if (l->nlogs == 0)
		return 0;
	if ((l->by_id = calloc(l->nlogs, sizeof(*l->by_id))) == NULL)
		return CT_ERR_NOMEM;
	for (i = 0; i < l->nlogs; i++)
		l->by_id[i] = &l->logs[i];
	qsort(l->by_id, l->nlogs, sizeof(*l->by_id), cmp_id);
	for (i = 1; i < l->nlogs; i++)
		if (cmp_id(&l->by_id[i - 1], &l->by_id[i]) == 0)
			return fail(c, CT_ERR_FORMAT,
			    "a log_id is listed "
			    "twice");
	return 0;
}

static int
parse_top(struct pctx *c, struct loglist *l)
{
	struct json_iter it;
	size_t total;
	int ops, op, n, rc;

	c->op = SIZE_MAX;
	if (json_type(c->d, JSON_ROOT) != JSON_OBJECT)
		return fail(c, CT_ERR_FORMAT, "not a JSON object");
	if ((rc = get_text(c, JSON_ROOT, "version", LOGLIST_MAX_TEXT_BYTES,
	         false, &l->version)) < 0)
		return rc;
	if (l->version == NULL && (l->version = strdup("")) == NULL)
		return CT_ERR_NOMEM;
	if (json_obj_get(c->d, JSON_ROOT, "log_list_timestamp") !=
	    CT_ERR_NOT_FOUND) {
		if ((rc = get_time(c, JSON_ROOT, "log_list_timestamp",
		         &l->timestamp)) < 0)
			return rc;
		l->has_timestamp = true;
	}
	ops = json_obj_get(c->d, JSON_ROOT, "operators");
	if ((n = json_size(c->d, json_expect(c->d, ops, JSON_ARRAY))) < 0)
		return fail(c, CT_ERR_FORMAT,
		    n == CT_ERR_NOT_FOUND ? "missing operators"
		                          : "operators not an array");
	if (n > LOGLIST_MAX_OPERATORS)
		return fail(c, CT_ERR_TOO_BIG, "too many operators");
	if ((rc = count_logs(c, ops, &total)) < 0)
		return rc;
	if ((l->op_names = calloc((size_t)n + 1, sizeof(*l->op_names))) ==
	        NULL ||
	    (l->logs = calloc(total + 1, sizeof(*l->logs))) == NULL)
		return CT_ERR_NOMEM;
	if ((rc = json_iter_arr(c->d, ops, &it)) < 0)
		return rc;
	for (c->op = 0; json_iter_next(&it, &op); c->op++)
		if ((rc = parse_operator(c, l, op)) < 0)
			return rc;
	return index_ids(c, l);
}

int
loglist_parse(const uint8_t *json, size_t len, unsigned flags,
    struct loglist **out, char *why, size_t whysz)
{
	struct json_limits lim = {LOGLIST_MAX_BYTES, 0, 0};
	struct json_doc *d = NULL;
	struct loglist *l = NULL;
	struct pctx c;
	char msg[96];
	int rc;

	*out = NULL;
	if (why != NULL && whysz > 0)
		why[0] = '\0';
	memset(&c, 0, sizeof(c));
	c.flags = flags;
	c.why = why;
	c.whysz = whysz;
	c.op = SIZE_MAX;
	if (json == NULL)
		return CT_ERR_INVALID;
	if (len > LOGLIST_MAX_BYTES)
		return fail(&c, CT_ERR_TOO_BIG, "log list too large");
	if ((rc = json_parse((const char *)json, len, &lim, &d)) < 0) {
		snprintf(msg, sizeof(msg), "not valid JSON: %s",
		    ct_strerror(rc));
		fail(&c, rc, msg);
		goto out;
	}
	c.d = d;
	if ((l = calloc(1, sizeof(*l))) == NULL) {
		rc = CT_ERR_NOMEM;
		goto out;
	}
	if ((rc = parse_top(&c, l)) < 0)
		goto out;
	*out = l;
	l = NULL;
out:
	loglist_free(l);
	json_free(d);
	return rc;
}

void
loglist_free(struct loglist *l)
{
	struct loglist_log *log;
	size_t i;

	if (l == NULL)
		return;
	/* Logs are filled in order; the one that failed may be partial. */
	for (i = 0; l->logs != NULL && i < l->nlogs; i++) {
		log = &l->logs[i];
		free(log->description);
		free(log->key);
		free(log->url);
		free(log->submission_url);
		free(log->monitoring_url);
		free(log->log_type);
	}
	for (i = 0; l->op_names != NULL && i < l->nops; i++)
		free(l->op_names[i]);
	free(l->op_names);
	free(l->logs);
	free(l->by_id);
	free(l->version);
	free(l);
}

int
loglist_verify_sig(const uint8_t *json, size_t json_len, const uint8_t *sig,
    size_t sig_len, const char *pem, size_t pem_len)
{
	char label[LOGLIST_PEM_LABEL_BYTES];
	uint8_t *spki = NULL;
	size_t spki_len, off = 0;
	int rc;

	if (json == NULL || sig == NULL || pem == NULL)
		return CT_ERR_INVALID;
	if (json_len > LOGLIST_MAX_BYTES || sig_len > LOGLIST_MAX_SIG_BYTES ||
	    pem_len > LOGLIST_MAX_PEM_BYTES)
		return CT_ERR_TOO_BIG;
	if (sig_len == 0)
		return CT_ERR_SIGNATURE;
	for (;;) {
		rc = util_pem_next(pem, pem_len, &off, label, sizeof(label),
		    &spki, &spki_len);
		if (rc < 0)
			return rc;
		if (strcmp(label, "PUBLIC KEY") == 0)
			break;
		free(spki);
		spki = NULL;
	}
	rc = sig_verify(spki, spki_len, SIG_RSA_PKCS1_SHA256, json, json_len,
	    sig, sig_len);
	free(spki);
	return rc;
}

int
loglist_load(const char *json_path, const char *sig_path, const char *pem_path,
    unsigned flags, struct loglist **out, char *why, size_t whysz)
{
	uint8_t *json = NULL, *sig = NULL, *pem = NULL;
	size_t json_len, sig_len, pem_len;
	int rc;

	*out = NULL;
	if (why != NULL && whysz > 0)
		why[0] = '\0';
	if (json_path == NULL || (sig_path != NULL && pem_path == NULL))
		return CT_ERR_INVALID;
	if ((rc = util_read_file(json_path, LOGLIST_MAX_BYTES, &json,
	         &json_len)) < 0)
		goto out;
	if (sig_path != NULL) {
		if ((rc = util_read_file(sig_path, LOGLIST_MAX_SIG_BYTES, &sig,
		         &sig_len)) < 0 ||
		    (rc = util_read_file(pem_path, LOGLIST_MAX_PEM_BYTES, &pem,
		         &pem_len)) < 0)
			goto out;
		if ((rc = loglist_verify_sig(json, json_len, sig, sig_len,
		         (const char *)pem, pem_len)) < 0) {
			if (why != NULL && whysz > 0)
				snprintf(why, whysz, "log list signature: %s",
				    ct_strerror(rc));
			goto out;
		}
	}
	rc = loglist_parse(json, json_len, flags, out, why, whysz);
out:
	free(json);
	free(sig);
	free(pem);
	return rc;
}

size_t
loglist_count(const struct loglist *l)
{
	return l == NULL ? 0 : l->nlogs;
}

const struct loglist_log *
loglist_get(const struct loglist *l, size_t i)
{
	if (l == NULL || i >= l->nlogs)
		return NULL;
	return &l->logs[i];
}

const struct loglist_log *
loglist_find(const struct loglist *l,
    const uint8_t log_id[LOGLIST_LOG_ID_BYTES])
{
	size_t lo = 0, hi, mid;
	int c;

	if (l == NULL || log_id == NULL)
		return NULL;
	hi = l->nlogs;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = memcmp(log_id, l->by_id[mid]->log_id, LOGLIST_LOG_ID_BYTES);
		if (c == 0)
			return l->by_id[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

size_t
loglist_operator_count(const struct loglist *l)
{
	return l == NULL ? 0 : l->nops;
}

const char *
loglist_operator_name(const struct loglist *l, size_t i)
{
	if (l == NULL || i >= l->nops)
		return NULL;
	return l->op_names[i];
}

const char *
loglist_version(const struct loglist *l)
{
	return l == NULL ? "" : l->version;
}

int
loglist_timestamp(const struct loglist *l, int64_t *t)
{
	if (l == NULL || !l->has_timestamp)
		return CT_ERR_NOT_FOUND;
	*t = l->timestamp;
	return 0;
}
