/*
 * names: DNS name normalisation and matching of certificate names against
 * watched names (DESIGN.md section 3, REFERENCE.md 1.12).
 *
 * Watch items: "www.example.org" matches exactly that name;
 * ".example.org" (or any name parsed with subdomains set) matches that
 * name and every name below it. Names are lower-cased (ASCII only), one
 * trailing dot is dropped, and A-labels are compared as given: there is no
 * IDN conversion, so a watch must be written in A-labels.
 *
 * Certificate names are untrusted bytes with a length. Rules:
 * - "*" as the whole leftmost label of a name of two or more labels is a
 *   wildcard covering exactly one label: "*.example.org" covers
 *   "www.example.org", not "example.org" and not "a.b.example.org".
 * - "?" as a whole label (RFC 6962-bis redaction) matches any one label,
 *   in any position.
 * - A name that cannot be parsed counts as a match (fail-safe): empty,
 *   an empty label, a label over 63 bytes, over 253 bytes in total, a NUL,
 *   any byte outside letters, digits, '-', '_', '.', or a '*' or '?' that
 *   is not a whole label (for '*': the leftmost one, with a label after
 *   it). Non-ASCII bytes (UTF-8, Latin-1) are unparsable, and so are URLs
 *   ("https://x/"): both match everything.
 * - A name with an embedded NUL ("www.example.org\0.evil.com") is
 *   unparsable as a whole and so matches; the part before the NUL is also
 *   matched normally, and its reason is returned when it matches.
 * - An IPv4 or IPv6 literal in a dNSName (inet_pton syntax) is parsable
 *   but is not a DNS name: it never matches a DNS watch. Watches may not
 *   be IP literals.
 */
#ifndef CT_NAMES_H
#define CT_NAMES_H

#include <stdbool.h>
#include <stddef.h>

#define NAMES_MAX_NAME_BYTES 253 /* without the trailing dot */
#define NAMES_MAX_LABEL_BYTES 63
#define NAMES_MAX_LABELS 127 /* "a.a.a...": (253 + 1) / 2 */

/* Why a certificate name matches a watch, or that it does not. */
enum names_match {
	NAMES_NO_MATCH = 0,
	NAMES_EXACT,      /* the watched name itself */
	NAMES_WILDCARD,   /* a wildcard covering the watched name(s) */
	NAMES_SUBDOMAIN,  /* a name below a subdomain watch */
	NAMES_REDACTED,   /* matches only thanks to "?" labels */
	NAMES_UNPARSABLE, /* fail-safe: a name we cannot read */
	NAMES__MAX
};

/* "no match", "exact", "wildcard", "subdomain", "redacted", "unparsable". */
const char *names_match_str(enum names_match m);

/* What a certificate name is, as far as matching is concerned. */
enum names_kind {
	NAMES_KIND_DNS = 0,    /* host name, possibly with "*" or "?" labels */
	NAMES_KIND_IP,         /* IPv4/IPv6 literal: never matches */
	NAMES_KIND_UNPARSABLE, /* matches every watch */
	NAMES_KIND__MAX
};

enum names_kind names_classify(const char *name, size_t len);

/* A parsed watch item. */
struct names_watch {
	char name[NAMES_MAX_NAME_BYTES + 1]; /* normalised, NUL-terminated */
	size_t len;
	bool subdomains; /* matches the name and every name below it */
	size_t nlabels;
	unsigned char label_off[NAMES_MAX_LABELS]; /* label starts in name */
	unsigned char label_len[NAMES_MAX_LABELS];
};

/*
 * Parses a watch item of n bytes: "www.example.org" or ".example.org"; the
 * leading dot and subdomains both ask for the name and every name below.
 * One trailing dot is dropped. Letters, digits, '-' and '_' only; no
 * wildcards, no IP literals, no empty labels. 0 or CT_ERR_FORMAT.
 */
int names_watch_parse(const char *s, size_t n, bool subdomains,
    struct names_watch *w);

/* Matches one certificate name (any bytes, len exact) against a watch. */
enum names_match names_match(const struct names_watch *w, const char *name,
    size_t len);

/* A certificate name as a view: bytes and exact length (may hold NUL). */
struct names_item {
	const char *name;
	size_t len;
};

/*
 * Matches a certificate: its DNS SANs when n_sans > 0, else its subject
 * CNs. A CN that contains a space is an organisation name, not a host
 * name, and is skipped (certspotter's rule; the part before a NUL is still
 * matched). Returns the most telling reason found (EXACT, SUBDOMAIN,
 * WILDCARD, REDACTED, UNPARSABLE in that order) and, when which is not
 * NULL, sets *which to the index of the first name giving it (into sans,
 * or into cns when there are no SANs); *which is untouched on no match.
 */
enum names_match names_cert_matches(const struct names_watch *w,
    const struct names_item *sans, size_t n_sans, const struct names_item *cns,
    size_t n_cns, size_t *which);

#endif
