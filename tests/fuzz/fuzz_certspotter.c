/*
 * libFuzzer harness for poller/certspotter's response parser. An accepted
 * page must be consistent: ids non-zero, OK issuances carry a certificate
 * whose tbs_sha256 is the issuance's, MISMATCH ones carry none and say
 * why, NO_CERT ones had no cert member.
 */
#include <stdlib.h>
#include <string.h>

#include "cert.h"
#include "certspotter.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct certspotter_issuance *it;
	struct certspotter_page p;
	char why[200];
	size_t i, j;

	if (certspotter_parse((const char *)data, size, &p, why, sizeof(why)) !=
	    0) {
		if (p.items != NULL || p.n != 0 || why[0] == '\0')
			abort();
		return 0;
	}
	if (p.n > CERTSPOTTER_MAX_PAGE_ITEMS)
		abort();
	for (i = 0; i < p.n; i++) {
		it = &p.items[i];
		if (it->id == 0 || it->status >= CERTSPOTTER__MAX)
			abort();
		switch (it->status) {
		case CERTSPOTTER_OK:
			if (!it->has_cert || it->cert == NULL ||
			    memcmp(it->cert->tbs_sha256, it->tbs_sha256, 32) !=
			        0 ||
			    it->cert->precert != it->cert_is_precert ||
			    it->reason[0] != '\0')
				abort();
			break;
		case CERTSPOTTER_MISMATCH:
			if (!it->has_cert || it->cert != NULL ||
			    it->reason[0] == '\0')
				abort();
			break;
		default:
			if (it->has_cert || it->cert != NULL)
				abort();
			break;
		}
		if (!it->has_dns_names && it->n_dns_names != 0)
			abort();
		for (j = 0; j < it->n_dns_names; j++)
			if (it->dns_names[j].name == NULL)
				abort();
	}
	certspotter_page_clear(&p);
	return 0;
}
