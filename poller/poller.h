/*
 * The poller's programs (ctctl, check_ct) and what their files export.
 */
#ifndef CT_POLLER_H
#define CT_POLLER_H

#define CT_VERSION "0.1.0"

/* ctctl exit statuses. */
#define POLLER_EXIT_OK 0
#define POLLER_EXIT_FAIL 1  /* the command ran and something failed */
#define POLLER_EXIT_USAGE 2 /* bad command line */

#include <stddef.h>

#include "util.h"

/* output.c: plugin output (Monitoring Plugins conventions). */
#define OUTPUT_MAX_BYTES 8000 /* everything, under Nagios' 8 KiB */
#define OUTPUT_MAX_LINES 10000
#define OUTPUT_MAX_LINE_BYTES 1024
#define OUTPUT_MAX_PERF_BYTES 2048
#define OUTPUT_MAX_PERF_ITEM_BYTES 256
#define OUTPUT_MAX_SUMMARY_BYTES 512

/* Exit codes of a plugin. */
enum output_state {
	OUTPUT_OK = 0,
	OUTPUT_WARNING = 1,
	OUTPUT_CRITICAL = 2,
	OUTPUT_UNKNOWN = 3,
	OUTPUT__MAX
};

extern const char *const output_state_names[OUTPUT__MAX];

struct output_line {
	enum output_state state;
	size_t seq;
	char *text;
};

struct output {
	enum output_state state; /* the worst so far */
	char summary[OUTPUT_MAX_SUMMARY_BYTES];
	struct output_line *lines;
	size_t n, cap, dropped;
	char perf[OUTPUT_MAX_PERF_BYTES];
	size_t perf_len;
};

/* OK < UNKNOWN < WARNING < CRITICAL. */
enum output_state output_worse(enum output_state a, enum output_state b);
void output_init(struct output *o);
void output_clear(struct output *o);
/* A finding line; raises the state. Text is cleaned of '|' and controls. */
int output_add(struct output *o, enum output_state st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void output_summary(struct output *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* One perfdata item; NULL fields are left empty. */
int output_perf(struct output *o, const char *label, const char *value,
    const char *uom, const char *warn, const char *crit, const char *min,
    const char *max);
/* The whole text, worst lines first, within OUTPUT_MAX_BYTES. */
int output_render(struct output *o, struct util_buf *out);
int output_exit_code(const struct output *o);

/* inspect.c */
int inspect_main(int argc, char **argv);

#endif
