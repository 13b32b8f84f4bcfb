/*
 * Shared helpers for the Check unit tests: fixture paths and the main().
 */
#ifndef CT_TESTUTIL_H
#define CT_TESTUTIL_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include "util.h"

/* Tests run from the project root; fixtures are beside it in ../shared. */
#define SHARED_TESTDATA "../shared/testdata/"
#define LOCAL_TESTDATA "tests/data/"

/* Reads a fixture or fails the test. */
static inline uint8_t *
testutil_read(const char *path, size_t *len)
{
	uint8_t *p = NULL;
	int rc = util_read_file(path, 64 * 1024 * 1024, &p, len);

	ck_assert_msg(rc == 0, "reading %s: %s", path, ct_strerror(rc));
	return p;
}

/* Runs a suite; exit status 0 only when every test passed. */
static inline int
testutil_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#endif
