/*
 * mkct: a test log for test PKIs. It signs SCTs with a test log key so
 * that tests and the demo can mint certificates with real, verifiable
 * embedded SCTs (including static-ct-api style ones with a leaf_index
 * extension), the way a CA does:
 *
 *   mkct sct [--log-key LOG.pem]... [--tiled-log-key LOG.pem]...
 *        --issuer CA.pem [--timestamp MS] [--leaf-index N] [--corrupt]
 *        PRECERT.pem
 *
 * prints the hex of the SCT-list extension's value (an OCTET STRING
 * holding the TLS SignedCertificateTimestampList), ready for an openssl
 * extension line "1.3.6.1.4.1.11129.2.4.2=DER:<hex>". The precertificate
 * must be issued directly by CA (no Precertificate Signing Certificate).
 * SCTs of a --tiled-log-key carry a leaf_index extension (--leaf-index,
 * default 0), as static-ct-api logs put in theirs.
 * --corrupt flips a bit of each signature (for tests of forged SCTs).
 *
 *   mkct logid LOG.pem      prints the base64 log ID of a log key
 *
 * Test tool only: it holds private keys in files and is not installed.
 */
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/random.h>
#include <wolfssl/wolfcrypt/sha256.h>
#include <wolfssl/wolfcrypt/signature.h>

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cert.h"
#include "ct.h"
#include "der.h"
#include "util.h"

#define MKCT_MAX_LOGS 8
#define MKCT_MAX_KEY_FILE_BYTES (64 * 1024)

struct log_key {
	ecc_key key;
	uint8_t spki[256];
	size_t spki_len;
	uint8_t log_id[32];
	bool tiled;
};

/* Loads an EC private key (SEC1 "EC PRIVATE KEY" or PKCS#8 PEM). */
static int
log_key_load(const char *path, struct log_key *lk)
{
	uint8_t *text = NULL, *der = NULL;
	size_t len, der_len, off = 0;
	char label[64];
	word32 idx = 0;
	int rc, n;

	if ((rc = util_read_file(path, MKCT_MAX_KEY_FILE_BYTES, &text, &len)) !=
	    0)
		return rc;
	rc = util_pem_next((const char *)text, len, &off, label, sizeof(label),
	    &der, &der_len);
	free(text);
	if (rc != 0)
		return rc;
	if (strcmp(label, "PRIVATE KEY") == 0) {
		n = wc_GetPkcs8TraditionalOffset(der, &idx, (word32)der_len);
		if (n < 0) {
			rc = CT_ERR_FORMAT;
			goto out;
		}
	}
	if (wc_ecc_init(&lk->key) != 0 ||
	    wc_EccPrivateKeyDecode(der, &idx, &lk->key, (word32)der_len) != 0) {
		rc = CT_ERR_FORMAT;
		goto out;
	}
	n = wc_EccPublicKeyToDer(&lk->key, lk->spki, sizeof(lk->spki), 1);
	if (n <= 0) {
		rc = CT_ERR_CRYPTO;
		goto out;
	}
	lk->spki_len = (size_t)n;
	wc_Sha256Hash(lk->spki, (word32)lk->spki_len, lk->log_id);
	rc = 0;
out:
	if (der != NULL)
		util_zero(der, der_len);
	free(der);
	return rc;
}

/* Appends one serialized SCT for leaf, signed by lk, to out. */
static int
sct_make(struct log_key *lk, WC_RNG *rng, const struct ct_leaf *leaf,
    bool corrupt, struct util_buf *out)
{
	struct util_buf signed_data;
	uint8_t sig[256], hdr[2];
	word32 sig_len = sizeof(sig);
	int rc;

	util_buf_init(&signed_data, CT_MAX_LEAF_BYTES);
	if ((rc = ct_leaf_encode(leaf, &signed_data)) != 0)
		goto out;
	if (wc_SignatureGenerate(WC_HASH_TYPE_SHA256, WC_SIGNATURE_TYPE_ECC,
	        signed_data.data, (word32)signed_data.len, sig, &sig_len,
	        &lk->key, sizeof(lk->key), rng) != 0) {
		rc = CT_ERR_CRYPTO;
		goto out;
	}
	if (corrupt)
		sig[sig_len / 2] ^= 0x01;
	/* version, log_id, timestamp, extensions, DigitallySigned */
	rc = util_buf_append(out, "\0", 1);
	if (rc == 0)
		rc = util_buf_append(out, lk->log_id, 32);
	if (rc == 0) {
		uint8_t ts[8];
		int i;

		for (i = 0; i < 8; i++)
			ts[i] = (uint8_t)(leaf->timestamp >> (56 - 8 * i));
		rc = util_buf_append(out, ts, 8);
	}
	hdr[0] = (uint8_t)(leaf->ext_len >> 8);
	hdr[1] = (uint8_t)leaf->ext_len;
	if (rc == 0)
		rc = util_buf_append(out, hdr, 2);
	if (rc == 0)
		rc = util_buf_append(out, leaf->ext, leaf->ext_len);
	if (rc == 0)
		rc = util_buf_append(out, "\x04\x03", 2);
	hdr[0] = (uint8_t)(sig_len >> 8);
	hdr[1] = (uint8_t)sig_len;
	if (rc == 0)
		rc = util_buf_append(out, hdr, 2);
	if (rc == 0)
		rc = util_buf_append(out, sig, sig_len);
out:
	util_buf_clear(&signed_data);
	return rc;
}

static int
load_one(const char *path, struct ct_cert **out)
{
	struct ct_cert **certs = NULL;
	size_t n = 0, i;
	int rc;

	if ((rc = cert_load_file(path, &certs, &n)) != 0)
		return rc;
	*out = certs[0];
	for (i = 1; i < n; i++)
		cert_free(certs[i]);
	free(certs);
	return 0;
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: mkct sct [--log-key KEY.pem]... [--tiled-log-key "
	    "KEY.pem]...\n"
	    "            --issuer CA.pem [--timestamp MS] [--leaf-index N] "
	    "[--corrupt]\n"
	    "            PRECERT.pem\n"
	    "       mkct logid KEY.pem\n");
	exit(2);
}

static int
cmd_logid(int argc, char **argv)
{
	struct log_key lk;
	char b64[45];

	if (argc != 3)
		usage();
	if (log_key_load(argv[2], &lk) != 0) {
		fprintf(stderr, "mkct: %s: not an EC private key\n", argv[2]);
		return 1;
	}
	util_b64_encode(lk.log_id, 32, b64);
	printf("%s\n", b64);
	wc_ecc_free(&lk.key);
	return 0;
}

static int
cmd_sct(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"log-key", required_argument, NULL, 'k'},
	    {"tiled-log-key", required_argument, NULL, 'T'},
	    {"issuer", required_argument, NULL, 'i'},
	    {"timestamp", required_argument, NULL, 't'},
	    {"leaf-index", required_argument, NULL, 'l'},
	    {"corrupt", no_argument, NULL, 'c'},
	    {NULL, 0, NULL, 0},
	};
	struct log_key logs[MKCT_MAX_LOGS];
	struct ct_cert *pre = NULL, *issuer = NULL;
	struct util_buf list, scts;
	struct ct_leaf leaf;
	uint8_t ext[8], *tbs = NULL, hdr[6];
	size_t nlogs = 0, tbs_len = 0, i;
	uint64_t ts = (uint64_t)util_now_ms(), leaf_index = 0;
	bool corrupt = false;
	const char *issuer_path = NULL;
	WC_RNG rng;
	int ch, rc = 1;

	util_buf_init(&list, 65536);
	util_buf_init(&scts, 65536);
	optind = 2;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'k':
		case 'T':
			if (nlogs == MKCT_MAX_LOGS ||
			    log_key_load(optarg, &logs[nlogs]) != 0) {
				fprintf(stderr,
				    "mkct: %s: not an EC private "
				    "key (or too many)\n",
				    optarg);
				return 1;
			}
			logs[nlogs++].tiled = ch == 'T';
			break;
		case 'i':
			issuer_path = optarg;
			break;
		case 't':
			if (util_parse_u64(optarg, strlen(optarg), UINT64_MAX,
			        &ts) != 0)
				usage();
			break;
		case 'l':
			if (util_parse_u64(optarg, strlen(optarg),
			        0xffffffffffULL, &leaf_index) != 0)
				usage();
			break;
		case 'c':
			corrupt = true;
			break;
		default:
			usage();
		}
	}
	if (optind + 1 != argc || nlogs == 0 || issuer_path == NULL)
		usage();
	if (load_one(argv[optind], &pre) != 0 ||
	    load_one(issuer_path, &issuer) != 0) {
		fprintf(stderr, "mkct: cannot read the certificates\n");
		goto out;
	}
	if (cert_tbs_normalized(pre, &tbs, &tbs_len) != 0)
		goto out;
	memset(&leaf, 0, sizeof(leaf));
	leaf.timestamp = ts;
	leaf.type = CT_ENTRY_PRECERT;
	leaf.cert = tbs;
	leaf.cert_len = tbs_len;
	memcpy(leaf.issuer_key_hash, issuer->spki_sha256, 32);
	/* leaf_index: type 0, length 5, uint40 */
	memcpy(ext, "\x00\x00\x05", 3);
	for (i = 0; i < 5; i++)
		ext[3 + i] = (uint8_t)(leaf_index >> (32 - 8 * i));
	if (wc_InitRng(&rng) != 0)
		goto out;
	for (i = 0; i < nlogs; i++) {
		size_t start = scts.len;

		leaf.ext = logs[i].tiled ? ext : NULL;
		leaf.ext_len = logs[i].tiled ? 8 : 0;
		/* Room for the uint16 length, filled in after. */
		if (util_buf_append(&scts, "\0\0", 2) != 0 ||
		    sct_make(&logs[i], &rng, &leaf, corrupt, &scts) != 0) {
			wc_FreeRng(&rng);
			goto out;
		}
		scts.data[start] = (uint8_t)((scts.len - start - 2) >> 8);
		scts.data[start + 1] = (uint8_t)(scts.len - start - 2);
	}
	wc_FreeRng(&rng);
	/* OCTET STRING { uint16 total || SCTs } */
	hdr[0] = (uint8_t)(scts.len >> 8);
	hdr[1] = (uint8_t)scts.len;
	{
		uint8_t os[6];
		size_t h = der_put_header(os, 0x04, scts.len + 2);

		if (util_buf_append(&list, os, h) != 0 ||
		    util_buf_append(&list, hdr, 2) != 0 ||
		    util_buf_append(&list, scts.data, scts.len) != 0)
			goto out;
	}
	for (i = 0; i < list.len; i++)
		printf("%02X", list.data[i]);
	printf("\n");
	rc = 0;
out:
	for (i = 0; i < nlogs; i++)
		wc_ecc_free(&logs[i].key);
	free(tbs);
	cert_free(pre);
	cert_free(issuer);
	util_buf_clear(&list);
	util_buf_clear(&scts);
	return rc;
}

int
main(int argc, char **argv)
{
	if (argc < 2)
		usage();
	if (strcmp(argv[1], "sct") == 0)
		return cmd_sct(argc, argv);
	if (strcmp(argv[1], "logid") == 0)
		return cmd_logid(argc, argv);
	usage();
	return 2;
}
