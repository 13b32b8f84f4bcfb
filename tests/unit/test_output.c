/*
 * Tests for poller/output.c: plugin output layout, state ranking,
 * sanitising, perfdata and the 8 KiB budget.
 */
#include <string.h>

#include "poller.h"
#include "testutil.h"

static char *
render(struct output *o)
{
	struct util_buf b;

	util_buf_init(&b, 64 * 1024);
	ck_assert_int_eq(output_render(o, &b), 0);
	ck_assert_int_eq(util_buf_cstr(&b), 0);
	return (char *)util_buf_take(&b, NULL);
}

START_TEST(test_rank)
{
	ck_assert_int_eq(output_worse(OUTPUT_OK, OUTPUT_UNKNOWN),
	    OUTPUT_UNKNOWN);
	ck_assert_int_eq(output_worse(OUTPUT_UNKNOWN, OUTPUT_WARNING),
	    OUTPUT_WARNING);
	ck_assert_int_eq(output_worse(OUTPUT_CRITICAL, OUTPUT_UNKNOWN),
	    OUTPUT_CRITICAL);
	ck_assert_int_eq(output_worse(OUTPUT_WARNING, OUTPUT_OK),
	    OUTPUT_WARNING);
}
END_TEST

START_TEST(test_layout)
{
	struct output o;
	char *s;

	output_init(&o);
	output_add(&o, OUTPUT_OK, "agents: 2 of 2 answered");
	output_add(&o, OUTPUT_UNKNOWN, "crt.sh: HTTP 503");
	output_add(&o, OUTPUT_CRITICAL, "unknown certificate %d", 1);
	output_add(&o, OUTPUT_WARNING, "young certificate");
	output_summary(&o, "www.example.org: 1 unknown certificate");
	output_perf(&o, "unknown", "1", NULL, NULL, NULL, "0", NULL);
	output_perf(&o, "time", "0.25", "s", NULL, NULL, "0", NULL);
	s = render(&o);
	ck_assert_str_eq(s,
	    "CT CRITICAL - www.example.org: 1 unknown certificate\n"
	    "[CRITICAL] unknown certificate 1\n"
	    "[WARNING] young certificate\n"
	    "[UNKNOWN] crt.sh: HTTP 503\n"
	    "[OK] agents: 2 of 2 answered | unknown=1;;;0 time=0.25s;;;0\n");
	ck_assert_int_eq(output_exit_code(&o), 2);
	free(s);
	output_clear(&o);
}
END_TEST

START_TEST(test_unknown_never_ok)
{
	struct output o;
	char *s;

	output_init(&o);
	output_add(&o, OUTPUT_UNKNOWN, "crt.sh: timed out");
	output_summary(&o, "could not look");
	s = render(&o);
	ck_assert_ptr_nonnull(strstr(s, "CT UNKNOWN - could not look\n"));
	ck_assert_int_eq(output_exit_code(&o), 3);
	free(s);
	output_clear(&o);
}
END_TEST

START_TEST(test_sanitise)
{
	struct output o;
	char *s;

	output_init(&o);
	output_summary(&o, "evil|name\nsecond");
	output_add(&o, OUTPUT_CRITICAL, "name %s", "a|b=c\r\nd\x01");
	output_perf(&o, "it's a=label", "1", NULL, NULL, NULL, NULL, NULL);
	s = render(&o);
	/* The only '|' is the perfdata separator; only two newlines. */
	ck_assert_ptr_eq(strchr(s, '|'), strrchr(s, '|'));
	ck_assert_ptr_nonnull(strstr(s, "CT CRITICAL - evil/name second\n"));
	ck_assert_ptr_nonnull(strstr(s, "[CRITICAL] name a/b=c  d "));
	ck_assert_ptr_nonnull(strstr(s, "'it_s a_label'=1"));
	ck_assert_ptr_eq(strchr(strchr(s, '\n') + 1, '\n'), s + strlen(s) - 1);
	free(s);
	output_clear(&o);
}
END_TEST

START_TEST(test_budget)
{
	struct output o;
	char *s;
	int i;

	output_init(&o);
	for (i = 0; i < 500; i++)
		output_add(&o, i == 499 ? OUTPUT_CRITICAL : OUTPUT_WARNING,
		    "finding number %d with some words to make it long enough",
		    i);
	output_summary(&o, "many");
	output_perf(&o, "unknown", "500", NULL, NULL, NULL, "0", NULL);
	s = render(&o);
	ck_assert_uint_lt(strlen(s), 8192);
	ck_assert_uint_le(strlen(s), OUTPUT_MAX_BYTES);
	/* The critical one comes first although it was added last. */
	ck_assert_ptr_nonnull(strstr(s, "\n[CRITICAL] finding number 499 "));
	ck_assert_ptr_nonnull(strstr(s, " more | unknown=500;;;0\n"));
	ck_assert_ptr_nonnull(strstr(s, "[WARNING] ... and "));
	free(s);
	output_clear(&o);
}
END_TEST

START_TEST(test_long_line_cut)
{
	struct output o;
	char big[4000], *s;

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	output_init(&o);
	output_add(&o, OUTPUT_WARNING, "%s", big);
	s = render(&o);
	ck_assert_ptr_nonnull(strstr(s, "xxx...\n"));
	ck_assert_uint_lt(strlen(s), OUTPUT_MAX_LINE_BYTES + 64);
	free(s);
	output_clear(&o);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("output");
	TCase *tc = tcase_create("output");

	tcase_add_test(tc, test_rank);
	tcase_add_test(tc, test_layout);
	tcase_add_test(tc, test_unknown_never_ok);
	tcase_add_test(tc, test_sanitise);
	tcase_add_test(tc, test_budget);
	tcase_add_test(tc, test_long_line_cut);
	suite_add_tcase(s, tc);
	return testutil_run(s);
}
