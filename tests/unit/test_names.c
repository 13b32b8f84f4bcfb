/*
 * Unit tests for common/names: watch parsing, normalisation, wildcards,
 * subdomains, redaction, the fail-safe rule, NUL bytes, IP literals, and
 * the SAN-or-CN choice.
 */
#include <string.h>

#include "names.h"
#include "testutil.h"

static struct names_watch
watch(const char *s, bool subdomains)
{
	struct names_watch w;
	int rc = names_watch_parse(s, strlen(s), subdomains, &w);

	ck_assert_msg(rc == 0, "watch '%s': %s", s, ct_strerror(rc));
	return w;
}

/* Matches a NUL-free C string. */
static enum names_match
m(const struct names_watch *w, const char *name)
{
	return names_match(w, name, strlen(name));
}

#define ck_match(w_, n_, want_)                                                \
	do {                                                                   \
		enum names_match got_ = m(&(w_), (n_));                        \
		ck_assert_msg(got_ == (want_), "%s%s vs '%s': %s, want %s",    \
		    (w_).subdomains ? "." : "", (w_).name, (n_),               \
		    names_match_str(got_), names_match_str(want_));            \
	} while (0)

START_TEST(test_watch_parse)
{
	struct names_watch w;

	w = watch("www.example.org", false);
	ck_assert_str_eq(w.name, "www.example.org");
	ck_assert_uint_eq(w.len, 15);
	ck_assert(!w.subdomains);
	ck_assert_uint_eq(w.nlabels, 3);

	w = watch(".Example.ORG.", false);
	ck_assert_str_eq(w.name, "example.org");
	ck_assert(w.subdomains);
	ck_assert_uint_eq(w.nlabels, 2);

	w = watch("example.org", true);
	ck_assert(w.subdomains);
	w = watch("_dmarc.example.org", false);
	ck_assert_str_eq(w.name, "_dmarc.example.org");
	w = watch("xn--bcher-kva.example", false);
	ck_assert_str_eq(w.name, "xn--bcher-kva.example");
	w = watch("localhost", false);
	ck_assert_uint_eq(w.nlabels, 1);
}
END_TEST

START_TEST(test_watch_parse_bad)
{
	static const char *const bad[] = {"", ".", "..", "..example.org",
	    "example..org", "example.org..", "*.example.org", "?.example.org",
	    "www.*.example.org", "exa mple.org", "example.org/",
	    "b\303\274cher.example", "192.0.2.1", "2001:db8::1", " example.org",
	    "example.org\n"};
	struct names_watch w;
	char longlabel[80], longname[300];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(names_watch_parse(bad[i], strlen(bad[i]), false,
		                  &w) == CT_ERR_FORMAT,
		    "watch '%s' accepted", bad[i]);
	/* An embedded NUL. */
	ck_assert_int_eq(names_watch_parse("a\0b.org", 7, false, &w),
	    CT_ERR_FORMAT);
	ck_assert_int_eq(names_watch_parse(NULL, 0, false, &w), CT_ERR_FORMAT);

	/* A 63-byte label is fine, 64 is not. */
	memset(longlabel, 'a', 63);
	memcpy(longlabel + 63, ".org", 5);
	ck_assert_int_eq(names_watch_parse(longlabel, strlen(longlabel), false,
	                     &w),
	    0);
	memset(longlabel, 'a', 64);
	memcpy(longlabel + 64, ".org", 5);
	ck_assert_int_eq(names_watch_parse(longlabel, strlen(longlabel), false,
	                     &w),
	    CT_ERR_FORMAT);

	/* 253 bytes (254 with the trailing dot) fine, 254 not. */
	for (i = 0; i < 253; i++)
		longname[i] = i % 2 ? '.' : 'a';
	longname[253] = '\0';
	ck_assert_int_eq(names_watch_parse(longname, 253, false, &w), 0);
	ck_assert_uint_eq(w.nlabels, 127);
	longname[253] = '.';
	ck_assert_int_eq(names_watch_parse(longname, 254, false, &w), 0);
	longname[253] = 'a';
	longname[254] = 'a';
	ck_assert_int_eq(names_watch_parse(longname, 255, false, &w),
	    CT_ERR_FORMAT);
}
END_TEST

START_TEST(test_exact_and_case)
{
	struct names_watch w = watch("www.example.org", false);
	struct names_watch up = watch("WWW.Example.Org", false);

	ck_match(w, "www.example.org", NAMES_EXACT);
	ck_match(w, "WWW.EXAMPLE.ORG", NAMES_EXACT);
	ck_match(w, "wWw.ExAmPlE.oRg", NAMES_EXACT);
	ck_match(up, "www.example.org", NAMES_EXACT);
	ck_match(w, "example.org", NAMES_NO_MATCH);
	ck_match(w, "www.example.com", NAMES_NO_MATCH);
	ck_match(w, "www.example.org.evil.com", NAMES_NO_MATCH);
	ck_match(w, "a.www.example.org", NAMES_NO_MATCH);
	ck_match(w, "ww.example.org", NAMES_NO_MATCH);
	ck_match(w, "wwww.example.org", NAMES_NO_MATCH);
	ck_match(w, "xwww.example.org", NAMES_NO_MATCH);
	ck_match(w, "www-example.org", NAMES_NO_MATCH);
	/* The length is what the caller says, not strlen. */
	ck_assert_int_eq(names_match(&w, "www.example.orgx", 15), NAMES_EXACT);
	ck_assert_int_eq(names_match(&w, "www.example.org", 14),
	    NAMES_NO_MATCH);
}
END_TEST

START_TEST(test_trailing_dot)
{
	struct names_watch w = watch("www.example.org", false);
	struct names_watch wd = watch("www.example.org.", false);

	ck_assert_str_eq(wd.name, "www.example.org");
	ck_match(w, "www.example.org.", NAMES_EXACT);
	ck_match(wd, "www.example.org", NAMES_EXACT);
	ck_match(wd, "www.example.org.", NAMES_EXACT);
	/* Only one trailing dot is dropped: two leave an empty label. */
	ck_match(w, "www.example.org..", NAMES_UNPARSABLE);
	/* A leading dot is an empty label. */
	ck_match(w, ".www.example.org", NAMES_UNPARSABLE);
}
END_TEST

START_TEST(test_wildcard_one_label)
{
	struct names_watch www = watch("www.example.org", false);
	struct names_watch apex = watch("example.org", false);
	struct names_watch deep = watch("a.b.example.org", false);

	ck_match(www, "*.example.org", NAMES_WILDCARD);
	ck_match(www, "*.EXAMPLE.org.", NAMES_WILDCARD);
	/* Never the apex, never two labels. */
	ck_match(apex, "*.example.org", NAMES_NO_MATCH);
	ck_match(deep, "*.example.org", NAMES_NO_MATCH);
	ck_match(deep, "*.b.example.org", NAMES_WILDCARD);
	ck_match(www, "*.b.example.org", NAMES_NO_MATCH);
	ck_match(www, "*.example.com", NAMES_NO_MATCH);
	ck_match(www, "*.www.example.org", NAMES_NO_MATCH);
	/* A wildcard for a TLD still covers one label. */
	ck_match(apex, "*.org", NAMES_WILDCARD);
	ck_match(www, "*.org", NAMES_NO_MATCH);
}
END_TEST

START_TEST(test_subdomain_watch)
{
	struct names_watch w = watch(".example.org", false);
	struct names_watch ws = watch("example.org", true);
	struct names_watch www = watch(".www.example.org", false);

	ck_match(w, "example.org", NAMES_EXACT);
	ck_match(ws, "example.org", NAMES_EXACT);
	ck_match(w, "EXAMPLE.ORG.", NAMES_EXACT);
	ck_match(w, "www.example.org", NAMES_SUBDOMAIN);
	ck_match(ws, "www.example.org", NAMES_SUBDOMAIN);
	ck_match(w, "a.b.c.d.example.org", NAMES_SUBDOMAIN);
	ck_match(w, "*.example.org", NAMES_WILDCARD);
	ck_match(w, "*.x.example.org", NAMES_WILDCARD);
	ck_match(w, "*.a.b.example.org", NAMES_WILDCARD);
	/* "*.org" covers example.org itself. */
	ck_match(w, "*.org", NAMES_WILDCARD);
	ck_match(w, "*.com", NAMES_NO_MATCH);
	/* "*.example.org" covers www.example.org, the watched apex. */
	ck_match(www, "*.example.org", NAMES_WILDCARD);
	ck_match(www, "*.org", NAMES_NO_MATCH);
	ck_match(www, "x.www.example.org", NAMES_SUBDOMAIN);
	ck_match(www, "example.org", NAMES_NO_MATCH);
	ck_match(www, "mail.example.org", NAMES_NO_MATCH);
	ck_match(w, "org", NAMES_NO_MATCH);
	ck_match(w, "example.com", NAMES_NO_MATCH);
	ck_match(w, "example.org.evil.com", NAMES_NO_MATCH);
	ck_match(w, "www.example.org.evil.com", NAMES_NO_MATCH);
}
END_TEST

START_TEST(test_sibling_suffix)
{
	struct names_watch w = watch(".example.org", false);
	struct names_watch e = watch("example.org", false);

	/* Ends with the same bytes, but is another domain. */
	ck_match(w, "badexample.org", NAMES_NO_MATCH);
	ck_match(w, "www.badexample.org", NAMES_NO_MATCH);
	ck_match(w, "*.badexample.org", NAMES_NO_MATCH);
	ck_match(w, "bad-example.org", NAMES_NO_MATCH);
	ck_match(w, "xample.org", NAMES_NO_MATCH);
	ck_match(e, "badexample.org", NAMES_NO_MATCH);
	ck_match(e, "*.badexample.org", NAMES_NO_MATCH);
}
END_TEST

START_TEST(test_redacted)
{
	struct names_watch w = watch("www.example.org", false);
	struct names_watch s = watch(".example.org", false);

	ck_match(w, "?.example.org", NAMES_REDACTED);
	ck_match(w, "?.?.org", NAMES_REDACTED);
	ck_match(w, "?.?.?", NAMES_REDACTED);
	ck_match(w, "?.example.com", NAMES_NO_MATCH);
	ck_match(w, "?.www.example.org", NAMES_NO_MATCH);
	/* "?" does not stand in for a watched label here: a subdomain. */
	ck_match(s, "?.example.org", NAMES_SUBDOMAIN);
	ck_match(s, "?.?.example.org", NAMES_SUBDOMAIN);
	ck_match(s, "?.org", NAMES_REDACTED);
	ck_match(s, "*.?.org", NAMES_WILDCARD);
	/* "?" must be a whole label. */
	ck_match(w, "w?w.example.org", NAMES_UNPARSABLE);
}
END_TEST

START_TEST(test_nul_byte)
{
	static const char attack[] = "www.example.org\0.evil.com";
	static const char other[] = "www.evil.com\0.example.org";
	static const char lead[] = "\0www.example.org";
	struct names_watch w = watch("www.example.org", false);
	struct names_watch s = watch(".example.org", false);
	struct names_watch x = watch("unrelated.net", false);

	/* The part before the NUL matches on its own. */
	ck_assert_int_eq(names_match(&w, attack, sizeof(attack) - 1),
	    NAMES_EXACT);
	ck_assert_int_eq(names_match(&s, attack, sizeof(attack) - 1),
	    NAMES_SUBDOMAIN);
	/* Otherwise fail-safe: the whole name is unparsable. */
	ck_assert_int_eq(names_match(&w, other, sizeof(other) - 1),
	    NAMES_UNPARSABLE);
	ck_assert_int_eq(names_match(&x, attack, sizeof(attack) - 1),
	    NAMES_UNPARSABLE);
	ck_assert_int_eq(names_match(&w, lead, sizeof(lead) - 1),
	    NAMES_UNPARSABLE);
	ck_assert_int_eq(names_match(&w, "www.example.org\0", 16), NAMES_EXACT);
	ck_assert_int_eq(names_classify(attack, sizeof(attack) - 1),
	    NAMES_KIND_UNPARSABLE);
	/* An IP before the NUL: still fail-safe. */
	ck_assert_int_eq(names_match(&w, "192.0.2.1\0x", 11), NAMES_UNPARSABLE);
}
END_TEST

START_TEST(test_non_ldh)
{
	static const char *const bad[] = {"www.exa mple.org",
	    "www.example.org/", "https://www.example.org/",
	    "www.example.org:443", "www.ex|ample.org", "www.ex\tample.org",
	    "www.ex\001ample.org", "b\303\274cher.example.org",
	    "b\374cher.example.org", "www.example.org\x7f", "www.\xff.com",
	    "exa\"mple.org", "a@b.org", "a,b.org"};
	struct names_watch w = watch("unrelated.net", false);
	struct names_watch s = watch(".unrelated.net", false);
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_match(w, bad[i], NAMES_UNPARSABLE);
		ck_match(s, bad[i], NAMES_UNPARSABLE);
		ck_assert_int_eq(names_classify(bad[i], strlen(bad[i])),
		    NAMES_KIND_UNPARSABLE);
	}
	/* Underscores and hyphens are parsable and compared as given. */
	ck_match(w, "_acme.example.org", NAMES_NO_MATCH);
	ck_match(w, "-x-.example.org", NAMES_NO_MATCH);
	ck_assert_int_eq(names_classify("_a-b_.example.org", 17),
	    NAMES_KIND_DNS);
}
END_TEST

START_TEST(test_overlong)
{
	struct names_watch w = watch("unrelated.net", false);
	char name[400];
	size_t i;

	/* Label of 63: parsable (and not a match); of 64: unparsable. */
	memset(name, 'a', 63);
	memcpy(name + 63, ".org", 5);
	ck_match(w, name, NAMES_NO_MATCH);
	memset(name, 'a', 64);
	memcpy(name + 64, ".org", 5);
	ck_match(w, name, NAMES_UNPARSABLE);

	/* Total 253: parsable; 254: unparsable, 254 with a dot: fine. */
	for (i = 0; i < 253; i++)
		name[i] = i % 2 ? '.' : 'a';
	name[253] = '\0';
	ck_match(w, name, NAMES_NO_MATCH);
	ck_assert_int_eq(names_classify(name, 253), NAMES_KIND_DNS);
	name[253] = '.';
	name[254] = '\0';
	ck_match(w, name, NAMES_NO_MATCH);
	name[253] = 'a';
	ck_match(w, name, NAMES_UNPARSABLE);
	/* Many empty labels (found by fuzz_names: label table overflow). */
	memset(name, '.', 253);
	name[253] = '\0';
	ck_match(w, name, NAMES_UNPARSABLE);
	name[0] = 'a';
	ck_match(w, name, NAMES_UNPARSABLE);
	memset(name, 'a', sizeof(name) - 1);
	for (i = 50; i < sizeof(name) - 1; i += 50)
		name[i] = '.';
	name[sizeof(name) - 1] = '\0';
	ck_match(w, name, NAMES_UNPARSABLE);
}
END_TEST

START_TEST(test_wildcard_position)
{
	struct names_watch w = watch("www.example.org", false);
	struct names_watch x = watch("unrelated.net", false);

	ck_match(w, "www.*.example.org", NAMES_UNPARSABLE);
	ck_match(x, "www.*.example.org", NAMES_UNPARSABLE);
	ck_match(x, "*.*.example.org", NAMES_UNPARSABLE);
	ck_match(x, "w*.example.org", NAMES_UNPARSABLE);
	ck_match(x, "*w.example.org", NAMES_UNPARSABLE);
	ck_match(x, "**.example.org", NAMES_UNPARSABLE);
	ck_match(x, "example.*", NAMES_UNPARSABLE);
	ck_match(x, "*", NAMES_UNPARSABLE);
	ck_match(x, "*.", NAMES_UNPARSABLE);
	ck_assert_int_eq(names_classify("*.example.org", 13), NAMES_KIND_DNS);
}
END_TEST

START_TEST(test_ip_literal)
{
	static const char *const ips[] = {"192.0.2.1", "192.0.2.1.", "0.0.0.0",
	    "255.255.255.255", "2001:db8::1", "::1", "2001:DB8::A",
	    "::ffff:192.0.2.1"};
	struct names_watch s = watch(".2.1", false);
	struct names_watch any = watch(".example.org", false);
	size_t i;

	for (i = 0; i < sizeof(ips) / sizeof(ips[0]); i++) {
		ck_assert_msg(names_classify(ips[i], strlen(ips[i])) ==
		        NAMES_KIND_IP,
		    "%s not an IP", ips[i]);
		ck_match(s, ips[i], NAMES_NO_MATCH);
		ck_match(any, ips[i], NAMES_NO_MATCH);
	}
	/* Not inet_pton syntax: a name of numeric labels, matched as one. */
	ck_assert_int_eq(names_classify("256.0.2.1", 9), NAMES_KIND_DNS);
	ck_match(s, "256.0.2.1", NAMES_SUBDOMAIN);
	ck_assert_int_eq(names_classify("1.2.3", 5), NAMES_KIND_DNS);
	/* Bracketed or with a zone: fail-safe. */
	ck_match(any, "[::1]", NAMES_UNPARSABLE);
	ck_match(any, "fe80::1%eth0", NAMES_UNPARSABLE);
}
END_TEST

START_TEST(test_empty)
{
	struct names_watch w = watch("www.example.org", false);

	ck_assert_int_eq(names_match(&w, "", 0), NAMES_UNPARSABLE);
	ck_assert_int_eq(names_match(&w, NULL, 0), NAMES_UNPARSABLE);
	ck_assert_int_eq(names_match(&w, ".", 1), NAMES_UNPARSABLE);
	ck_assert_int_eq(names_classify("", 0), NAMES_KIND_UNPARSABLE);
	ck_assert_int_eq(names_classify(NULL, 0), NAMES_KIND_UNPARSABLE);
	ck_assert_int_eq(names_cert_matches(&w, NULL, 0, NULL, 0, NULL),
	    NAMES_NO_MATCH);
}
END_TEST

/* A names_item over a string literal, NULs included. */
#define ITEM(s) ((struct names_item){(s), sizeof(s) - 1})

START_TEST(test_cert_san_or_cn)
{
	struct names_watch w = watch("www.example.org", false);
	const struct names_item sans_other[] = {ITEM("a.example.net"),
	    ITEM("b.example.net")};
	const struct names_item sans_hit[] = {ITEM("a.example.net"),
	    ITEM("*.example.org"), ITEM("www.example.org")};
	const struct names_item cn_hit[] = {ITEM("www.example.org")};
	const struct names_item cn_org[] = {ITEM("Example Org Ltd")};
	const struct names_item cn_two[] = {ITEM("Example Org"),
	    ITEM("WWW.example.org")};
	const struct names_item cn_nul[] = {ITEM("www.example.org\0 x y")};
	size_t which = 99;

	/* SANs present: the CN is ignored, even when it would match. */
	ck_assert_int_eq(names_cert_matches(&w, sans_other, 2, cn_hit, 1,
	                     &which),
	    NAMES_NO_MATCH);
	ck_assert_uint_eq(which, 99);
	/* The most telling reason wins, with its index. */
	ck_assert_int_eq(names_cert_matches(&w, sans_hit, 3, NULL, 0, &which),
	    NAMES_EXACT);
	ck_assert_uint_eq(which, 2);
	ck_assert_int_eq(names_cert_matches(&w, sans_hit, 2, NULL, 0, &which),
	    NAMES_WILDCARD);
	ck_assert_uint_eq(which, 1);
	/* No SANs: the CN decides. */
	ck_assert_int_eq(names_cert_matches(&w, NULL, 0, cn_hit, 1, &which),
	    NAMES_EXACT);
	ck_assert_uint_eq(which, 0);
	ck_assert_int_eq(names_cert_matches(&w, sans_other, 0, cn_hit, 1, NULL),
	    NAMES_EXACT);
	/* A CN with a space is an organisation name, not fail-safe. */
	which = 99;
	ck_assert_int_eq(names_cert_matches(&w, NULL, 0, cn_org, 1, &which),
	    NAMES_NO_MATCH);
	ck_assert_uint_eq(which, 99);
	ck_assert_int_eq(names_cert_matches(&w, NULL, 0, cn_two, 2, &which),
	    NAMES_EXACT);
	ck_assert_uint_eq(which, 1);
	/* ... but the part before a NUL is still a name. */
	ck_assert_int_eq(names_cert_matches(&w, NULL, 0, cn_nul, 1, &which),
	    NAMES_EXACT);
	/* The same bytes as a SAN are unparsable and match anyway. */
	ck_assert_int_eq(names_cert_matches(&w, cn_org, 1, NULL, 0, &which),
	    NAMES_UNPARSABLE);
	/* No SANs and no CN: nothing to match. */
	ck_assert_int_eq(names_cert_matches(&w, NULL, 0, NULL, 0, &which),
	    NAMES_NO_MATCH);
}
END_TEST

START_TEST(test_cert_failsafe_san)
{
	struct names_watch w = watch("www.example.org", false);
	const struct names_item nul[] = {ITEM("a.example.net"),
	    ITEM("www.evil.com\0.x")};
	const struct names_item mixed[] = {ITEM("bad name"),
	    ITEM("*.example.org")};
	const struct names_item ip[] = {ITEM("192.0.2.1")};
	size_t which = 99;

	ck_assert_int_eq(names_cert_matches(&w, nul, 2, NULL, 0, &which),
	    NAMES_UNPARSABLE);
	ck_assert_uint_eq(which, 1);
	ck_assert_int_eq(names_cert_matches(&w, mixed, 2, NULL, 0, &which),
	    NAMES_WILDCARD);
	ck_assert_uint_eq(which, 1);
	ck_assert_int_eq(names_cert_matches(&w, ip, 1, NULL, 0, &which),
	    NAMES_NO_MATCH);
	ck_assert_int_eq(names_cert_matches(&w, NULL, 0, ip, 1, &which),
	    NAMES_NO_MATCH);
}
END_TEST

START_TEST(test_match_str)
{
	ck_assert_str_eq(names_match_str(NAMES_NO_MATCH), "no match");
	ck_assert_str_eq(names_match_str(NAMES_EXACT), "exact");
	ck_assert_str_eq(names_match_str(NAMES_WILDCARD), "wildcard");
	ck_assert_str_eq(names_match_str(NAMES_SUBDOMAIN), "subdomain");
	ck_assert_str_eq(names_match_str(NAMES_REDACTED), "redacted");
	ck_assert_str_eq(names_match_str(NAMES_UNPARSABLE), "unparsable");
	ck_assert_str_eq(names_match_str(NAMES__MAX), "unknown");
	ck_assert_str_eq(names_match_str((enum names_match) - 1), "unknown");
}
END_TEST

static Suite *
names_suite(void)
{
	Suite *s = suite_create("names");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_watch_parse);
	tcase_add_test(tc, test_watch_parse_bad);
	tcase_add_test(tc, test_exact_and_case);
	tcase_add_test(tc, test_trailing_dot);
	tcase_add_test(tc, test_wildcard_one_label);
	tcase_add_test(tc, test_subdomain_watch);
	tcase_add_test(tc, test_sibling_suffix);
	tcase_add_test(tc, test_redacted);
	tcase_add_test(tc, test_nul_byte);
	tcase_add_test(tc, test_non_ldh);
	tcase_add_test(tc, test_overlong);
	tcase_add_test(tc, test_wildcard_position);
	tcase_add_test(tc, test_ip_literal);
	tcase_add_test(tc, test_empty);
	tcase_add_test(tc, test_cert_san_or_cn);
	tcase_add_test(tc, test_cert_failsafe_san);
	tcase_add_test(tc, test_match_str);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return testutil_run(names_suite());
}
