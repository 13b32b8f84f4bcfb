/*
 * libFuzzer harness for common/names. Input: one flag byte (bit 0: the
 * watch takes subdomains), the watch up to the first '\n', then the
 * certificate name (any bytes). The name is also split at '\n' into SANs.
 * Checks the fail-safe and normalisation invariants besides memory safety.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "names.h"
#include "util.h"

#define FUZZ_NAMES_MAX_ITEMS 64
#define FUZZ_NAMES_MAX_BYTES 1024

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_invariants(const struct names_watch *w, const char *name, size_t len)
{
	enum names_match r = names_match(w, name, len), r2;
	enum names_kind k = names_classify(name, len);
	char tmp[FUZZ_NAMES_MAX_BYTES + 1];
	size_t i;

	if ((unsigned)r >= NAMES__MAX || (unsigned)k >= NAMES_KIND__MAX)
		abort();
	/* Unparsable names always match; IP literals never do. */
	if (k == NAMES_KIND_UNPARSABLE && r == NAMES_NO_MATCH)
		abort();
	if (k == NAMES_KIND_IP && r != NAMES_NO_MATCH)
		abort();
	if (len > FUZZ_NAMES_MAX_BYTES)
		return;
	/* ASCII case does not matter. */
	for (i = 0; i < len; i++) {
		tmp[i] = name[i];
		if (tmp[i] >= 'a' && tmp[i] <= 'z')
			tmp[i] = (char)(tmp[i] - 'a' + 'A');
	}
	if (names_match(w, tmp, len) != r)
		abort();
	/* Nor does one trailing dot. */
	if (len < FUZZ_NAMES_MAX_BYTES && (len == 0 || name[len - 1] != '.')) {
		memcpy(tmp, name, len);
		tmp[len] = '.';
		r2 = names_match(w, tmp, len + 1);
		if (r2 != r)
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct names_item items[FUZZ_NAMES_MAX_ITEMS];
	struct names_watch w;
	const char *p, *nl, *name;
	size_t n, wlen, nlen, nitems = 0, which;
	enum names_match r;

	if (size < 1)
		return 0;
	p = (const char *)data + 1;
	n = size - 1;
	nl = memchr(p, '\n', n);
	wlen = nl == NULL ? n : (size_t)(nl - p);
	if (names_watch_parse(p, wlen, data[0] & 1, &w) != 0) {
		/* Still classify the whole input. */
		(void)names_classify(p, n);
		return 0;
	}
	/* A watch matches its own name, and names below it when asked. */
	if (names_match(&w, w.name, w.len) != NAMES_EXACT)
		abort();
	if (w.len + 2 <= NAMES_MAX_NAME_BYTES) {
		char below[NAMES_MAX_NAME_BYTES + 1];

		memcpy(below, "a.", 2);
		memcpy(below + 2, w.name, w.len);
		if (names_match(&w, below, w.len + 2) !=
		    (w.subdomains ? NAMES_SUBDOMAIN : NAMES_NO_MATCH))
			abort();
		below[0] = '*';
		if (names_match(&w, below, w.len + 2) !=
		    (w.subdomains ? NAMES_WILDCARD : NAMES_NO_MATCH))
			abort();
	}
	name = nl == NULL ? p + n : nl + 1;
	nlen = nl == NULL ? 0 : n - wlen - 1;
	check_invariants(&w, name, nlen);

	/* The same bytes as a list of SANs, then as CNs. */
	while (nitems < FUZZ_NAMES_MAX_ITEMS) {
		nl = memchr(name, '\n', nlen);
		items[nitems].name = name;
		items[nitems].len = nl == NULL ? nlen : (size_t)(nl - name);
		nitems++;
		if (nl == NULL)
			break;
		nlen -= (size_t)(nl - name) + 1;
		name = nl + 1;
	}
	which = SIZE_MAX;
	r = names_cert_matches(&w, items, nitems, NULL, 0, &which);
	if (r != NAMES_NO_MATCH && which >= nitems)
		abort();
	if (r != NAMES_NO_MATCH &&
	    names_match(&w, items[which].name, items[which].len) != r)
		abort();
	(void)names_cert_matches(&w, NULL, 0, items, nitems, &which);
	return 0;
}
