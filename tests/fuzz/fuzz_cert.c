/*
 * libFuzzer harness for common/cert: the bytes go to cert_parse_buf (PEM
 * bundle or DER), and every certificate that parses is normalised, its
 * serial printed, and checked against itself as issuer.
 */
#include <wolfssl/options.h>

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "cert.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ct_cert **certs = NULL;
	char serial[2 * 64 + 1];
	uint8_t *tbs = NULL;
	size_t n = 0, i, len = 0;

	if (cert_parse_buf(data, size, &certs, &n) != 0)
		return 0;
	for (i = 0; i < n; i++) {
		if (cert_tbs_normalized(certs[i], &tbs, &len) == 0)
			free(tbs);
		tbs = NULL;
		if (cert_tbs_precert_rewrite(certs[i], certs[0], &tbs, &len) ==
		    0)
			free(tbs);
		tbs = NULL;
		cert_serial_hex(certs[i], serial, sizeof(serial));
		(void)cert_verify_signed_by(certs[i], certs[0]);
	}
	cert_free_all(certs, n);
	return 0;
}
