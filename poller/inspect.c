/*
 * inspect: `ctctl inspect FILE... [--issuer FILE] [--log-list FILE]
 * [--json]`: the facts of DESIGN.md section 6 for every certificate in the
 * given files.
 */
#include <wolfssl/options.h>

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cert.h"
#include "ct.h"
#include "json.h"
#include "loglist.h"
#include "poller.h"
#include "util.h"

#define INSPECT_MAX_ISSUER_FILES 64
#define INSPECT_OUT_MAX_BYTES (16 * 1024 * 1024)

/* Issuer candidates: every certificate of every --issuer file. */
struct issuers {
	struct ct_cert **certs;
	size_t n;
};

struct inspect_opts {
	bool json;
	const char *log_list;
	const char *log_list_sig;
	const char *log_list_key;
	const char *issuer_files[INSPECT_MAX_ISSUER_FILES];
	size_t n_issuer_files;
};

/* What inspect found out about one SCT. */
struct sct_fact {
	struct ct_sct sct;
	const struct loglist_log *log;
	int verdict; /* 1 valid, 0 invalid, -1 not checked */
};

static int
issuers_add_file(struct issuers *is, const char *path)
{
	struct ct_cert **certs = NULL, **grown;
	size_t n = 0, i;
	int rc;

	if ((rc = cert_load_file(path, &certs, &n)) != 0)
		return rc;
	grown = realloc(is->certs, (is->n + n) * sizeof(*grown));
	if (grown == NULL) {
		cert_free_all(certs, n);
		return CT_ERR_NOMEM;
	}
	is->certs = grown;
	for (i = 0; i < n; i++)
		is->certs[is->n++] = certs[i];
	free(certs); /* the certificates now belong to is */
	return 0;
}

/*
 * The first candidate whose key verifies c's signature, or NULL. With
 * any_name, candidates whose subject is not c's issuer name are tried too
 * (after the others): right for a handful of --issuer certificates, too
 * slow for a bundle of thousands, where only the names are tried.
 */
static const struct ct_cert *
issuer_find(struct ct_cert *const *cands, size_t n, const struct ct_cert *c,
    bool any_name)
{
	size_t i;
	int pass;

	/*
	 * Names never decide, but a candidate whose subject is c's issuer
	 * name is the likely one: try those first, then all others.
	 */
	for (pass = 0; pass < (any_name ? 2 : 1); pass++)
		for (i = 0; i < n; i++) {
			bool same =
			    cands[i]->subject_dn_len == c->issuer_dn_len &&
			    memcmp(cands[i]->subject_dn, c->issuer_dn,
			        c->issuer_dn_len) == 0;

			if (cands[i] != c && same == (pass == 0) &&
			    cert_verify_signed_by(c, cands[i]) == 0)
				return cands[i];
		}
	return NULL;
}

/* The first candidate whose subject is c's issuer name, or NULL. */
static const struct ct_cert *
issuer_by_name(struct ct_cert *const *cands, size_t n, const struct ct_cert *c)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (cands[i] != c &&
		    cands[i]->subject_dn_len == c->issuer_dn_len &&
		    memcmp(cands[i]->subject_dn, c->issuer_dn,
		        c->issuer_dn_len) == 0)
			return cands[i];
	return NULL;
}

/*
 * Verifies the SCTs embedded in c. issuer is the certificate's issuing CA
 * (NULL when unknown: then nothing can be verified).
 */
static size_t
scts_check(const struct ct_cert *c, const struct ct_cert *issuer,
    const struct loglist *ll, struct sct_fact *facts, size_t max)
{
	struct ct_sct scts[CT_MAX_SCTS];
	size_t n = 0, i;

	if (c->sct_list == NULL ||
	    ct_sct_list_parse(c->sct_list, c->sct_list_len, scts, CT_MAX_SCTS,
	        &n) != 0)
		return 0;
	if (n > max)
		n = max;
	for (i = 0; i < n; i++) {
		facts[i].sct = scts[i];
		facts[i].log = ll ? loglist_find(ll, scts[i].log_id) : NULL;
		facts[i].verdict = -1;
		if (facts[i].log == NULL || issuer == NULL)
			continue;
		facts[i].verdict =
		    ct_sct_verify_embedded(&scts[i], c, issuer,
		        facts[i].log->key, facts[i].log->key_len) == 0;
	}
	return n;
}

/* Whether c carries an SCT list we could not parse. */
static bool
scts_malformed(const struct ct_cert *c)
{
	struct ct_sct scts[CT_MAX_SCTS];
	size_t n;

	return c->sct_list != NULL &&
	    ct_sct_list_parse(c->sct_list, c->sct_list_len, scts, CT_MAX_SCTS,
	        &n) != 0;
}

static void
hex32(const uint8_t h[32], char out[65])
{
	util_hex_encode(h, 32, out);
}

static int
print_json(const char *file, size_t index, const struct ct_cert *c,
    int issuer_valid, const struct sct_fact *facts, size_t nfacts)
{
	struct util_buf buf;
	struct json_writer w;
	char hex[65];
	char *serial;
	size_t i;
	int rc;

	util_buf_init(&buf, INSPECT_OUT_MAX_BYTES);
	json_w_init(&w, &buf);
	if ((serial = malloc(2 * c->serial_len + 1)) == NULL)
		return CT_ERR_NOMEM;
	cert_serial_hex(c, serial, 2 * c->serial_len + 1);
	json_w_obj_begin(&w);
	json_w_key(&w, "file");
	json_w_str(&w, file);
	json_w_key(&w, "index");
	json_w_u64(&w, index);
	json_w_key(&w, "subject");
	json_w_str(&w, c->subject);
	json_w_key(&w, "issuer");
	json_w_str(&w, c->issuer);
	json_w_key(&w, "serial");
	json_w_str(&w, serial);
	util_time_rfc3339(c->not_before, hex);
	json_w_key(&w, "not_before");
	json_w_str(&w, hex);
	util_time_rfc3339(c->not_after, hex);
	json_w_key(&w, "not_after");
	json_w_str(&w, hex);
	hex32(c->sha256, hex);
	json_w_key(&w, "sha256");
	json_w_str(&w, hex);
	hex32(c->tbs_sha256, hex);
	json_w_key(&w, "tbs_sha256");
	json_w_str(&w, hex);
	hex32(c->spki_sha256, hex);
	json_w_key(&w, "spki_sha256");
	json_w_str(&w, hex);
	json_w_key(&w, "dns_names");
	json_w_arr_begin(&w);
	for (i = 0; i < c->n_dns_names; i++)
		json_w_str_n(&w, c->dns_names[i].name, c->dns_names[i].len);
	json_w_arr_end(&w);
	json_w_key(&w, "precert");
	json_w_bool(&w, c->precert);
	json_w_key(&w, "issuer_signature_valid");
	if (issuer_valid < 0)
		json_w_null(&w);
	else
		json_w_bool(&w, issuer_valid == 1);
	json_w_key(&w, "scts_malformed");
	json_w_bool(&w, scts_malformed(c));
	json_w_key(&w, "scts");
	json_w_arr_begin(&w);
	for (i = 0; i < nfacts; i++) {
		json_w_obj_begin(&w);
		json_w_key(&w, "log_id");
		json_w_b64(&w, facts[i].sct.log_id,
		    sizeof(facts[i].sct.log_id));
		json_w_key(&w, "log");
		if (facts[i].log != NULL)
			json_w_str(&w, facts[i].log->description);
		else
			json_w_null(&w);
		json_w_key(&w, "timestamp");
		json_w_u64(&w, facts[i].sct.timestamp);
		if (facts[i].sct.has_leaf_index) {
			json_w_key(&w, "leaf_index");
			json_w_u64(&w, facts[i].sct.leaf_index);
		}
		json_w_key(&w, "signature_valid");
		if (facts[i].verdict < 0)
			json_w_null(&w);
		else
			json_w_bool(&w, facts[i].verdict == 1);
		json_w_obj_end(&w);
	}
	json_w_arr_end(&w);
	json_w_obj_end(&w);
	rc = json_w_finish(&w, true);
	if (rc == 0)
		fwrite(buf.data, 1, buf.len, stdout);
	free(serial);
	util_buf_clear(&buf);
	return rc;
}

static void
print_text(const char *file, size_t index, const struct ct_cert *c,
    int issuer_valid, const struct sct_fact *facts, size_t nfacts)
{
	char hex[65], when[UTIL_RFC3339_LEN], name[CERT_MAX_NAME_BYTES * 4 + 4];
	char fname[1024];
	char *serial;
	size_t i;

	util_sanitize(file, strlen(file), fname, sizeof(fname));
	printf("%s [%zu]: %s\n", fname, index,
	    c->precert ? "precertificate" : "certificate");
	printf("  subject:      %s\n", c->subject);
	printf("  issuer:       %s\n", c->issuer);
	if ((serial = malloc(2 * c->serial_len + 1)) != NULL) {
		cert_serial_hex(c, serial, 2 * c->serial_len + 1);
		printf("  serial:       %s\n", serial);
		free(serial);
	}
	util_time_rfc3339(c->not_before, when);
	printf("  not before:   %s\n", when);
	util_time_rfc3339(c->not_after, when);
	printf("  not after:    %s\n", when);
	hex32(c->sha256, hex);
	printf("  sha256:       %s\n", hex);
	hex32(c->tbs_sha256, hex);
	printf("  tbs_sha256:   %s\n", hex);
	hex32(c->spki_sha256, hex);
	printf("  spki_sha256:  %s\n", hex);
	printf("  dns names:   ");
	for (i = 0; i < c->n_dns_names; i++) {
		util_sanitize(c->dns_names[i].name, c->dns_names[i].len, name,
		    sizeof(name));
		printf(" %s", name);
	}
	printf("%s\n", c->n_dns_names == 0 ? " (none)" : "");
	printf("  issuer signature: %s\n",
	    issuer_valid < 0   ? "not checked (no --issuer)"
	        : issuer_valid ? "valid"
	                       : "INVALID (no --issuer certificate "
	                         "verifies it)");
	if (scts_malformed(c))
		printf("  SCTs: MALFORMED SCT list extension\n");
	else
		printf("  SCTs: %zu\n", nfacts);
	for (i = 0; i < nfacts; i++) {
		char b64[45];

		util_time_rfc3339((int64_t)(facts[i].sct.timestamp / 1000),
		    when);
		util_b64_encode(facts[i].sct.log_id, 32, b64);
		if (facts[i].log != NULL)
			util_sanitize(facts[i].log->description,
			    strlen(facts[i].log->description), name,
			    sizeof(name));
		printf("    %s %s at %s", facts[i].log ? name : "unknown log",
		    b64, when);
		if (facts[i].sct.has_leaf_index)
			printf(" leaf_index %llu",
			    (unsigned long long)facts[i].sct.leaf_index);
		printf(": %s\n",
		    facts[i].verdict == 1       ? "signature valid"
		        : facts[i].verdict == 0 ? "signature INVALID"
		        : facts[i].log == NULL
		        ? "not checked (log not in list)"
		        : "not checked (issuer unknown)");
	}
}

/* Why cert_load_file failed, for a person. */
static const char *
load_error(int rc)
{
	static char msg[256];

	switch (rc) {
	case CT_ERR_NOT_FOUND:
		return "no certificate found";
	case CT_ERR_IO:
		snprintf(msg, sizeof(msg), "cannot read: %s", strerror(errno));
		return msg;
	case CT_ERR_TOO_BIG:
		return "file too large to be a certificate bundle";
	default:
		snprintf(msg, sizeof(msg), "not a certificate (%s)",
		    ct_strerror(rc));
		return msg;
	}
}

/* Reports every certificate of one file; 0, or -1 when it held none. */
static int
inspect_file(const char *path, const struct inspect_opts *o,
    const struct issuers *is, const struct loglist *ll)
{
	struct sct_fact facts[CT_MAX_SCTS];
	struct ct_cert **certs = NULL;
	const struct ct_cert *issuer;
	size_t n = 0, i, nf;
	char fname[1024];
	int rc, valid;

	if ((rc = cert_load_file(path, &certs, &n)) != 0) {
		util_sanitize(path, strlen(path), fname, sizeof(fname));
		fprintf(stderr, "ctctl: %s: %s\n", fname, load_error(rc));
		return -1;
	}
	for (i = 0; i < n; i++) {
		/*
		 * The issuer for SCTs: one of --issuer, else another
		 * certificate of the same file (a fullchain). The
		 * issuer_signature_valid verdict only ever comes from
		 * --issuer.
		 */
		issuer = issuer_find(is->certs, is->n, certs[i], true);
		valid = is->n == 0 ? -1 : issuer != NULL;
		if (issuer == NULL)
			issuer = issuer_find(certs, n, certs[i], false);
		/*
		 * A certificate whose own signature is broken can still have
		 * its SCTs checked against the CA its issuer name points to.
		 */
		if (issuer == NULL)
			issuer = issuer_by_name(is->certs, is->n, certs[i]);
		if (issuer == NULL)
			issuer = issuer_by_name(certs, n, certs[i]);
		nf = scts_check(certs[i], issuer, ll, facts, CT_MAX_SCTS);
		if (o->json)
			print_json(path, i, certs[i], valid, facts, nf);
		else
			print_text(path, i, certs[i], valid, facts, nf);
	}
	cert_free_all(certs, n);
	return 0;
}

static void
inspect_usage(FILE *f)
{
	fprintf(f,
	    "usage: ctctl inspect FILE... [--issuer FILE]... [--log-list FILE\n"
	    "           [--log-list-sig FILE --log-list-key FILE]] [--json]\n"
	    "Prints the facts of every certificate in the files (PEM bundles "
	    "or DER).\n");
}

int
inspect_main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"issuer", required_argument, NULL, 'i'},
	    {"log-list", required_argument, NULL, 'l'},
	    {"log-list-sig", required_argument, NULL, 's'},
	    {"log-list-key", required_argument, NULL, 'k'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct inspect_opts o;
	struct issuers is = {NULL, 0};
	struct loglist *ll = NULL;
	char why[256];
	int ch, rc, status = POLLER_EXIT_USAGE;
	size_t i;

	memset(&o, 0, sizeof(o));
	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'i':
			if (o.n_issuer_files == INSPECT_MAX_ISSUER_FILES) {
				fprintf(stderr, "ctctl: too many --issuer\n");
				goto out;
			}
			o.issuer_files[o.n_issuer_files++] = optarg;
			break;
		case 'l':
			o.log_list = optarg;
			break;
		case 's':
			o.log_list_sig = optarg;
			break;
		case 'k':
			o.log_list_key = optarg;
			break;
		case 'j':
			o.json = true;
			break;
		case 'h':
			inspect_usage(stdout);
			status = 0;
			goto out;
		default:
			inspect_usage(stderr);
			goto out;
		}
	}
	if (optind >= argc) {
		inspect_usage(stderr);
		goto out;
	}
	if ((o.log_list_sig == NULL) != (o.log_list_key == NULL) ||
	    (o.log_list_sig != NULL && o.log_list == NULL)) {
		fprintf(stderr,
		    "ctctl: --log-list-sig and --log-list-key go "
		    "together, with --log-list\n");
		goto out;
	}
	status = POLLER_EXIT_FAIL;
	for (i = 0; i < o.n_issuer_files; i++) {
		if ((rc = issuers_add_file(&is, o.issuer_files[i])) != 0) {
			fprintf(stderr, "ctctl: --issuer %s: %s\n",
			    o.issuer_files[i], load_error(rc));
			goto out;
		}
	}
	if (o.log_list != NULL) {
		why[0] = '\0';
		rc = loglist_load(o.log_list, o.log_list_sig, o.log_list_key,
		    LOGLIST_F_STATE_HISTORY, &ll, why, sizeof(why));
		if (rc != 0) {
			fprintf(stderr, "ctctl: --log-list %s: %s%s%s\n",
			    o.log_list, ct_strerror(rc), why[0] ? ": " : "",
			    why);
			goto out;
		}
	}
	status = 0;
	for (; optind < argc; optind++)
		if (inspect_file(argv[optind], &o, &is, ll) != 0)
			status = POLLER_EXIT_FAIL;
out:
	cert_free_all(is.certs, is.n);
	loglist_free(ll);
	return status;
}
