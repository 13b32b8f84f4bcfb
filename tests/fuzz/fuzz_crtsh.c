/*
 * libFuzzer harness for poller/crtsh. An input starting with 'D' is a
 * certificate download checked against a fixed row (Let's Encrypt R11):
 * it may pass only when it is R11 itself. Any other input is a search
 * response: an accepted one must satisfy the parser's invariants (row cap,
 * names that tile name_value, lower-case even-length hex serials, the
 * incomplete flag), and each row is also run through the download check
 * with a fixed body that can never match it.
 */
#include <stdlib.h>
#include <string.h>

#include "cert.h"
#include "crtsh.h"
#include "names.h"
#include "util.h"

/* R11's row as crt.sh would give it. */
static const char r11_row[] =
    "[{\"issuer_ca_id\":7394,\"issuer_name\":\"C=US, O=Internet Security "
    "Research Group, CN=ISRG Root X1\",\"common_name\":\"R11\","
    "\"name_value\":\"R11\",\"id\":12723751734,"
    "\"entry_timestamp\":null,\"not_before\":\"2024-03-13T00:00:00\","
    "\"not_after\":\"2027-03-12T23:59:59\","
    "\"serial_number\":\"8a7d3e13d62f30ef2386bd29076b34f8\"}]";

static void
check_rows(const struct crtsh_rows *r)
{
	const struct crtsh_row *row;
	size_t i, j, sum;

	if (r->n > CRTSH_MAX_ROWS || r->n > r->n_sent ||
	    r->incomplete != (r->n_sent >= CRTSH_MAX_ROWS))
		abort();
	for (i = 0; i < r->n; i++) {
		row = &r->rows[i];
		if (row->id == 0 || row->n_names == 0 ||
		    row->name_value == NULL || row->names == NULL)
			abort();
		sum = row->n_names - 1; /* the separators */
		for (j = 0; j < row->n_names; j++) {
			if (row->names[j].name < row->name_value ||
			    row->names[j].name + row->names[j].len >
			        row->name_value + row->name_value_len ||
			    memchr(row->names[j].name, '\n',
			        row->names[j].len) != NULL)
				abort();
			sum += row->names[j].len;
		}
		if (sum != row->name_value_len)
			abort();
		sum = strlen(row->serial);
		if (sum == 0 || sum % 2 != 0 ||
		    strspn(row->serial, "0123456789abcdef") != sum)
			abort();
		if (row->common_name != NULL &&
		    row->common_name_len > CRTSH_MAX_TEXT_BYTES)
			abort();
	}
}

static void
verify_mode(const uint8_t *data, size_t size)
{
	struct crtsh_rows r;
	struct ct_cert *c = NULL;
	char why[CRTSH_REASON_LEN], hex[80];
	int rc;

	if (crtsh_parse(r11_row, strlen(r11_row), &r, NULL, 0) != 0)
		abort();
	rc =
	    crtsh_verify_download(&r.rows[0], data, size, &c, why, sizeof(why));
	if (rc == 0) {
		cert_serial_hex(c, hex, sizeof(hex));
		if (c == NULL ||
		    strcmp(hex, "008a7d3e13d62f30ef2386bd29076b34f8") != 0 ||
		    c->not_before != r.rows[0].not_before ||
		    c->not_after != r.rows[0].not_after)
			abort();
		cert_free(c);
	} else if (c != NULL || why[0] == '\0') {
		abort();
	}
	crtsh_rows_clear(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t junk[] = {0x30, 0x03, 0x02, 0x01, 0x01};
	struct names_watch w;
	struct crtsh_rows r;
	struct ct_cert *c = NULL;
	char why[200];
	size_t i;

	if (size > 0 && data[0] == 'D') {
		verify_mode(data + 1, size - 1);
		return 0;
	}
	if (crtsh_parse((const char *)data, size, &r, why, sizeof(why)) != 0) {
		if (r.rows != NULL || r.n != 0 || why[0] == '\0')
			abort();
		return 0;
	}
	check_rows(&r);
	if (names_watch_parse("example.org", 11, true, &w) != 0)
		abort();
	for (i = 0; i < r.n && i < 4; i++) {
		if (crtsh_verify_download(&r.rows[i], junk, sizeof(junk), &c,
		        why, sizeof(why)) == 0 ||
		    c != NULL)
			abort();
		(void)names_cert_matches(&w, r.rows[i].names, r.rows[i].n_names,
		    NULL, 0, NULL);
	}
	crtsh_rows_clear(&r);
	return 0;
}
