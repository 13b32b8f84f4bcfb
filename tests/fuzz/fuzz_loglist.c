/*
 * libFuzzer harness for common/loglist: parse with and without the state
 * history flag; every log of an accepted list must be found by its ID.
 */
#include <stdlib.h>
#include <string.h>

#include "loglist.h"
#include "util.h"

static void
check(const uint8_t *data, size_t size, unsigned flags)
{
	const struct loglist_log *log;
	struct loglist *l = NULL;
	char why[128];
	int64_t t;
	size_t i;

	if (loglist_parse(data, size, flags, &l, why, sizeof(why)) != 0) {
		if (l != NULL || memchr(why, '\0', sizeof(why)) == NULL)
			abort();
		return;
	}
	for (i = 0; i < loglist_count(l); i++) {
		log = loglist_get(l, i);
		if (loglist_find(l, log->log_id) != log)
			abort();
		if (log->state >= LOGLIST_STATE__MAX ||
		    log->type >= LOGLIST_TYPE__MAX || log->key_len == 0 ||
		    log->op_index >= loglist_operator_count(l) ||
		    (log->tiled ? log->url != NULL
		                : log->submission_url != NULL))
			abort();
	}
	for (i = 0; i < loglist_operator_count(l); i++)
		if (loglist_operator_name(l, i) == NULL)
			abort();
	(void)loglist_version(l);
	(void)loglist_timestamp(l, &t);
	loglist_free(l);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check(data, size, 0);
	check(data, size, LOGLIST_F_STATE_HISTORY);
	return 0;
}
