/*
 * output: a check result in the Monitoring Plugins layout (REFERENCE.md
 * 2.3, 2.4): "CT <STATE> - <summary>", one "[STATE] text" line per
 * finding, worst first, perfdata once at the end, no '|' or control
 * bytes in text, everything under OUTPUT_MAX_BYTES.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "poller.h"
#include "util.h"

const char *const output_state_names[OUTPUT__MAX] = {
    "OK",
    "WARNING",
    "CRITICAL",
    "UNKNOWN",
};

/* Monitoring Plugins max_state_alt(): OK < UNKNOWN < WARNING < CRITICAL. */
static int
rank(enum output_state s)
{
	switch (s) {
	case OUTPUT_OK:
		return 0;
	case OUTPUT_UNKNOWN:
		return 1;
	case OUTPUT_WARNING:
		return 2;
	case OUTPUT_CRITICAL:
		return 3;
	default:
		return 1;
	}
}

enum output_state
output_worse(enum output_state a, enum output_state b)
{
	return rank(b) > rank(a) ? b : a;
}

void
output_init(struct output *o)
{
	memset(o, 0, sizeof(*o));
	o->state = OUTPUT_OK;
}

void
output_clear(struct output *o)
{
	size_t i;

	for (i = 0; i < o->n; i++)
		free(o->lines[i].text);
	free(o->lines);
	memset(o, 0, sizeof(*o));
}

/* Makes text safe for plugin output: no '|', no control bytes. */
static void
clean(char *s)
{
	for (; *s != '\0'; s++)
		if (*s == '|' || (unsigned char)*s < 0x20 ||
		    (unsigned char)*s == 0x7f)
			*s = *s == '|' ? '/' : ' ';
}

int
output_add(struct output *o, enum output_state st, const char *fmt, ...)
{
	struct output_line *grown;
	va_list ap;
	char *text;
	int n;

	o->state = output_worse(o->state, st);
	if (o->n == o->cap) {
		size_t ncap = o->cap ? o->cap * 2 : 16;

		if (ncap > OUTPUT_MAX_LINES)
			ncap = OUTPUT_MAX_LINES;
		if (o->n == ncap) {
			o->dropped++;
			return CT_ERR_TOO_BIG;
		}
		grown = realloc(o->lines, ncap * sizeof(*grown));
		if (grown == NULL)
			return CT_ERR_NOMEM;
		o->lines = grown;
		o->cap = ncap;
	}
	if ((text = malloc(OUTPUT_MAX_LINE_BYTES)) == NULL)
		return CT_ERR_NOMEM;
	va_start(ap, fmt);
	n = vsnprintf(text, OUTPUT_MAX_LINE_BYTES, fmt, ap);
	va_end(ap);
	if (n < 0) {
		free(text);
		return CT_ERR_INVALID;
	}
	if ((size_t)n >= OUTPUT_MAX_LINE_BYTES)
		memcpy(text + OUTPUT_MAX_LINE_BYTES - 4, "...", 4);
	clean(text);
	o->lines[o->n].state = st;
	o->lines[o->n].seq = o->n;
	o->lines[o->n].text = text;
	o->n++;
	return 0;
}

void
output_summary(struct output *o, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(o->summary, sizeof(o->summary), fmt, ap);
	va_end(ap);
	clean(o->summary);
}

/* Perfdata label: no '=' or quote, quoted when it holds a space. */
int
output_perf(struct output *o, const char *label, const char *value,
    const char *uom, const char *warn, const char *crit, const char *min,
    const char *max)
{
	char item[OUTPUT_MAX_PERF_ITEM_BYTES], lab[64];
	size_t i, len;
	int n;

	for (i = 0; label[i] != '\0' && i + 1 < sizeof(lab); i++)
		lab[i] = (label[i] == '=' || label[i] == '\'' ||
		             (unsigned char)label[i] < 0x20 || label[i] == '|')
		    ? '_'
		    : label[i];
	lab[i] = '\0';
	n = snprintf(item, sizeof(item), "%s%s%s=%s%s;%s;%s;%s;%s",
	    strchr(lab, ' ') ? "'" : "", lab, strchr(lab, ' ') ? "'" : "",
	    value, uom ? uom : "", warn ? warn : "", crit ? crit : "",
	    min ? min : "", max ? max : "");
	if (n < 0 || (size_t)n >= sizeof(item))
		return CT_ERR_TOO_BIG;
	/* Trailing empty fields are left out: 'x'=1;;;0 not 'x'=1;;;0; */
	len = (size_t)n;
	while (len > 0 && item[len - 1] == ';')
		item[--len] = '\0';
	n = snprintf(o->perf + o->perf_len, sizeof(o->perf) - o->perf_len,
	    "%s%s", o->perf_len ? " " : "", item);
	if (n < 0 || (size_t)n >= sizeof(o->perf) - o->perf_len)
		return CT_ERR_TOO_BIG;
	o->perf_len += (size_t)n;
	return 0;
}

static int
cmp_lines(const void *a, const void *b)
{
	const struct output_line *x = a, *y = b;

	if (rank(x->state) != rank(y->state))
		return rank(y->state) - rank(x->state);
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

int
output_render(struct output *o, struct util_buf *out)
{
	size_t i, shown, budget, reserve;
	int rc = 0;

	if (o->n > 0) /* qsort(NULL, 0, ...) is undefined */
		qsort(o->lines, o->n, sizeof(o->lines[0]), cmp_lines);
	rc = util_buf_printf(out, "CT %s - %s", output_state_names[o->state],
	    o->summary[0] ? o->summary : output_state_names[o->state]);
	if (rc != 0)
		return rc;
	/*
	 * Budget: the whole output stays under OUTPUT_MAX_BYTES, perfdata
	 * and an "and N more" line included.
	 */
	reserve = o->perf_len + 64;
	budget = OUTPUT_MAX_BYTES > reserve ? OUTPUT_MAX_BYTES - reserve : 0;
	for (shown = 0; shown < o->n; shown++) {
		size_t need = strlen(o->lines[shown].text) + 16;

		if (out->len + need > budget)
			break;
		rc = util_buf_printf(out, "\n[%s] %s",
		    output_state_names[o->lines[shown].state],
		    o->lines[shown].text);
		if (rc != 0)
			return rc;
	}
	if (shown < o->n || o->dropped > 0) {
		size_t more = o->n - shown + o->dropped, worst = 0;

		for (i = shown; i < o->n; i++)
			if (rank(o->lines[i].state) >
			        rank(o->lines[worst].state) ||
			    i == shown)
				worst = i;
		rc = util_buf_printf(out, "\n[%s] ... and %zu more",
		    shown < o->n ? output_state_names[o->lines[worst].state]
		                 : "WARNING",
		    more);
		if (rc != 0)
			return rc;
	}
	if (o->perf_len > 0)
		rc = util_buf_printf(out, " | %s", o->perf);
	if (rc == 0)
		rc = util_buf_append(out, "\n", 1);
	return rc;
}

int
output_exit_code(const struct output *o)
{
	return (int)o->state;
}
