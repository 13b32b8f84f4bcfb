/*
 * libFuzzer harness: public key lines, authorized_keys files and PEM
 * private keys from arbitrary bytes. A line that parses must format and
 * parse back to the same key and comment; every key of a parsed file
 * must be found again; a failure must name a line within the input.
 */
#include <stdlib.h>
#include <string.h>

#include "keys.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
try_line(const char *s, size_t n)
{
	struct keys_pubkey pk, again;
	char line[KEYS_PUBLINE_BUF_BYTES];
	const char *why = NULL;

	if (keys_parse_public_line(s, n, &pk, &why) != 0) {
		if (why == NULL)
			abort();
		return;
	}
	if (strlen(pk.comment) > KEYS_COMMENT_MAX_BYTES)
		abort();
	if (keys_format_public_line(pk.pub, pk.comment, line, sizeof(line)) !=
	    0)
		abort();
	if (keys_parse_public_line(line, strlen(line), &again, &why) != 0)
		abort();
	if (memcmp(pk.pub, again.pub, KEYS_PUB_BYTES) != 0 ||
	    strcmp(pk.comment, again.comment) != 0)
		abort();
}

static void
try_file(const char *s, size_t n)
{
	struct keys_authorized a;
	const char *why = NULL;
	size_t bad = 0, lines = 1, i;

	for (i = 0; i < n; i++)
		lines += s[i] == '\n';
	if (keys_authorized_parse(s, n, &a, &bad, &why) != 0) {
		if (why == NULL || bad > lines || a.keys != NULL || a.n != 0)
			abort();
		return;
	}
	if (bad != 0 || a.n > KEYS_AUTH_MAX_KEYS)
		abort();
	for (i = 0; i < a.n; i++) {
		if (a.keys[i].line == 0 || a.keys[i].line > lines ||
		    (i > 0 && a.keys[i].line <= a.keys[i - 1].line))
			abort();
		if (keys_authorized_find(&a, a.keys[i].pub) != &a.keys[i])
			abort();
	}
	keys_authorized_free(&a);
}

static void
try_pem(const char *s, size_t n)
{
	struct keys_ed25519 k, again;
	const char *why = NULL;

	if (keys_private_from_pem(s, n, &k, &why) != 0) {
		if (why == NULL)
			abort();
		return;
	}
	if (keys_from_seed(&again, k.priv) != 0 ||
	    memcmp(again.pub, k.pub, KEYS_PUB_BYTES) != 0)
		abort();
	keys_clear(&k);
	keys_clear(&again);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;

	try_line(s, size);
	try_file(s, size);
	if (size <= KEYS_PRIV_MAX_FILE_BYTES)
		try_pem(s, size);
	return 0;
}
