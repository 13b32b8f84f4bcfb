/*
 * names: DNS name normalisation and matching (see names.h for the rules).
 */
#include <arpa/inet.h>
#include <string.h>

#include "names.h"
#include "util.h"

_Static_assert(NAMES_MAX_NAME_BYTES < 256,
    "label offsets are stored in unsigned char");
_Static_assert(NAMES_MAX_LABELS >= (NAMES_MAX_NAME_BYTES + 1) / 2,
    "every label of a maximal name must fit");

/* Longest IPv6 text inet_pton accepts, plus the NUL. */
#define NAMES_IP_TEXT_BYTES 64

static const char *const match_names[] = {
    "no match",
    "exact",
    "wildcard",
    "subdomain",
    "redacted",
    "unparsable",
};

_Static_assert(sizeof(match_names) / sizeof(match_names[0]) == NAMES__MAX,
    "match_names must list every enum names_match");

/* A name split into lower-cased labels; views into buf. */
struct parsed {
	char buf[NAMES_MAX_NAME_BYTES + 1];
	size_t len;
	size_t nlabels;
	unsigned char off[NAMES_MAX_LABELS];
	unsigned char llen[NAMES_MAX_LABELS];
	bool wildcard; /* leftmost label is "*" */
	bool redacted; /* some label is "?" */
};

const char *
names_match_str(enum names_match m)
{
	if ((unsigned)m >= NAMES__MAX)
		return "unknown";
	return match_names[m];
}

static bool
is_host_byte(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
	    c == '_';
}

/* An IPv4 or IPv6 literal as inet_pton reads it; s has no NUL. */
static bool
is_ip_literal(const char *s, size_t n)
{
	char tmp[NAMES_IP_TEXT_BYTES];
	unsigned char addr[16];

	if (n == 0 || n >= sizeof(tmp))
		return false;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	return inet_pton(AF_INET, tmp, addr) == 1 ||
	    inet_pton(AF_INET6, tmp, addr) == 1;
}

/*
 * Checks one label of p (index i): plain host bytes, or a whole "*" (only
 * leftmost, with a label after it) or a whole "?". False when unparsable.
 */
static bool
check_label(struct parsed *p, size_t i)
{
	const char *l = p->buf + p->off[i];
	size_t n = p->llen[i], j;

	if (n > NAMES_MAX_LABEL_BYTES)
		return false;
	if (n == 1 && l[0] == '*') {
		if (i != 0 || p->nlabels < 2)
			return false;
		p->wildcard = true;
		return true;
	}
	if (n == 1 && l[0] == '?') {
		p->redacted = true;
		return true;
	}
	for (j = 0; j < n; j++)
		if (!is_host_byte((unsigned char)l[j]))
			return false;
	return true;
}

/*
 * Normalises and splits a name: one trailing dot dropped, ASCII
 * lower-cased. Returns its kind; p is usable only for NAMES_KIND_DNS.
 */
static enum names_kind
parse_name(const char *s, size_t n, struct parsed *p)
{
	size_t i, start;
	unsigned char c;

	p->len = p->nlabels = 0;
	p->wildcard = p->redacted = false;
	if (n > 0 && s[n - 1] == '.')
		n--;
	if (n == 0 || n > NAMES_MAX_NAME_BYTES || memchr(s, '\0', n) != NULL)
		return NAMES_KIND_UNPARSABLE;
	if (is_ip_literal(s, n))
		return NAMES_KIND_IP;
	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		p->buf[i] = (char)c;
	}
	p->buf[n] = '\0';
	p->len = n;
	for (start = 0, i = 0; i <= n; i++) {
		if (i < n && p->buf[i] != '.')
			continue;
		/*
		 * Empty labels are refused here, so n <= 253 gives at most
		 * 127 labels, and offsets stay below 256.
		 */
		if (i == start || p->nlabels >= NAMES_MAX_LABELS)
			return NAMES_KIND_UNPARSABLE;
		p->off[p->nlabels] = (unsigned char)start;
		p->llen[p->nlabels] = (unsigned char)(i - start);
		p->nlabels++;
		start = i + 1;
	}
	for (i = 0; i < p->nlabels; i++)
		if (!check_label(p, i))
			return NAMES_KIND_UNPARSABLE;
	return NAMES_KIND_DNS;
}

enum names_kind
names_classify(const char *name, size_t len)
{
	struct parsed p;

	if (name == NULL)
		return NAMES_KIND_UNPARSABLE;
	return parse_name(name, len, &p);
}

int
names_watch_parse(const char *s, size_t n, bool subdomains,
    struct names_watch *w)
{
	struct parsed p;
	size_t i;

	memset(w, 0, sizeof(*w));
	if (s == NULL)
		return CT_ERR_FORMAT;
	if (n > 0 && s[0] == '.') {
		subdomains = true;
		s++;
		n--;
	}
	if (parse_name(s, n, &p) != NAMES_KIND_DNS || p.wildcard || p.redacted)
		return CT_ERR_FORMAT;
	memcpy(w->name, p.buf, p.len + 1);
	w->len = p.len;
	w->subdomains = subdomains;
	w->nlabels = p.nlabels;
	for (i = 0; i < p.nlabels; i++) {
		w->label_off[i] = p.off[i];
		w->label_len[i] = p.llen[i];
	}
	return 0;
}

/*
 * Compares the last w->nlabels labels of c (which has at least as many)
 * with the watch, right to left; a certificate label "*" or "?" matches
 * any one label. "*" is always leftmost, so it is compared only when c has
 * exactly the watch's label count: then it covers the watched name.
 */
static bool
labels_match(const struct names_watch *w, const struct parsed *c)
{
	size_t i, ci;
	const char *cl;

	for (i = 0; i < w->nlabels; i++) {
		ci = c->nlabels - 1 - i;
		cl = c->buf + c->off[ci];
		if (c->llen[ci] == 1 && (cl[0] == '*' || cl[0] == '?'))
			continue;
		if (c->llen[ci] != w->label_len[w->nlabels - 1 - i] ||
		    memcmp(cl, w->name + w->label_off[w->nlabels - 1 - i],
		        c->llen[ci]) != 0)
			return false;
	}
	return true;
}

/*
 * True when the labels of c that were compared with the watch were all
 * literal (no "?" stood in for a watched label).
 */
static bool
literal_match(const struct names_watch *w, const struct parsed *c)
{
	size_t i, ci;

	for (i = 0; i < w->nlabels; i++) {
		ci = c->nlabels - 1 - i;
		if (c->llen[ci] == 1 && c->buf[c->off[ci]] == '?')
			return false;
	}
	return true;
}

/* Matches a name without NUL bytes. */
static enum names_match
match_one(const struct names_watch *w, const char *name, size_t len)
{
	struct parsed c;

	switch (parse_name(name, len, &c)) {
	case NAMES_KIND_UNPARSABLE:
		return NAMES_UNPARSABLE;
	case NAMES_KIND_IP:
		return NAMES_NO_MATCH;
	default:
		break;
	}
	/*
	 * Exact watch: same label count. A subdomain watch also takes
	 * longer names; for a wildcard "*.x.example.org" that is right too,
	 * as it covers names below the watched one. A wildcard of exactly
	 * the watch's length ("*.example.org" for ".www.example.org") covers
	 * the watched name itself.
	 */
	if (c.nlabels < w->nlabels ||
	    (!w->subdomains && c.nlabels != w->nlabels))
		return NAMES_NO_MATCH;
	if (!labels_match(w, &c))
		return NAMES_NO_MATCH;
	if (c.wildcard)
		return NAMES_WILDCARD;
	if (!literal_match(w, &c))
		return NAMES_REDACTED;
	return c.nlabels == w->nlabels ? NAMES_EXACT : NAMES_SUBDOMAIN;
}

enum names_match
names_match(const struct names_watch *w, const char *name, size_t len)
{
	const char *nul;
	enum names_match r;

	if (name == NULL)
		return NAMES_UNPARSABLE;
	nul = memchr(name, '\0', len);
	if (nul == NULL)
		return match_one(w, name, len);
	/* Null-prefix attack: the part before the NUL, else fail-safe. */
	r = match_one(w, name, (size_t)(nul - name));
	if (r == NAMES_NO_MATCH)
		r = NAMES_UNPARSABLE;
	return r;
}

/* A CN with a space is not a host name; the part before a NUL still is. */
static enum names_match
match_cn(const struct names_watch *w, const char *name, size_t len)
{
	const char *nul;
	size_t plen;

	if (name == NULL || memchr(name, ' ', len) == NULL)
		return names_match(w, name, len);
	nul = memchr(name, '\0', len);
	plen = nul == NULL ? len : (size_t)(nul - name);
	if (nul != NULL && memchr(name, ' ', plen) == NULL)
		return match_one(w, name, plen);
	return NAMES_NO_MATCH;
}

/* Larger is more telling; NAMES_NO_MATCH is 0. */
static int
match_rank(enum names_match m)
{
	switch (m) {
	case NAMES_EXACT:
		return 5;
	case NAMES_SUBDOMAIN:
		return 4;
	case NAMES_WILDCARD:
		return 3;
	case NAMES_REDACTED:
		return 2;
	case NAMES_UNPARSABLE:
		return 1;
	default:
		return 0;
	}
}

enum names_match
names_cert_matches(const struct names_watch *w, const struct names_item *sans,
    size_t n_sans, const struct names_item *cns, size_t n_cns, size_t *which)
{
	enum names_match best = NAMES_NO_MATCH, r;
	size_t i, best_i = 0;
	bool use_cn = n_sans == 0;
	const struct names_item *items = use_cn ? cns : sans;
	size_t n = use_cn ? n_cns : n_sans;

	if (items == NULL)
		return NAMES_NO_MATCH;
	for (i = 0; i < n; i++) {
		if (use_cn)
			r = match_cn(w, items[i].name, items[i].len);
		else
			r = names_match(w, items[i].name, items[i].len);
		if (match_rank(r) > match_rank(best)) {
			best = r;
			best_i = i;
		}
	}
	if (best != NAMES_NO_MATCH && which != NULL)
		*which = best_i;
	return best;
}
