/*
 * log: one line per event, to stderr ("ct-agent: ...") or syslog
 * (LOG_DAEMON). Every line is sanitised (no control bytes, no bytes
 * >= 0x7f, at most LOG_LINE_MAX_BYTES), so text that came from a peer or
 * a file name cannot forge a second line. Callers never pass secrets or
 * file contents.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "agent.h"

static enum conf_log log_target = CONF_LOG_STDERR;
static bool log_syslog_open;

void
log_open(enum conf_log target)
{
	if (target == CONF_LOG_SYSLOG && !log_syslog_open) {
		openlog("ct-agent", LOG_PID | LOG_NDELAY, LOG_DAEMON);
		log_syslog_open = true;
	}
	log_target = target;
}

void
log_close(void)
{
	if (log_syslog_open)
		closelog();
	log_syslog_open = false;
	log_target = CONF_LOG_STDERR;
}

/* Writes one line with a single write(2), so lines never interleave. */
static void
emit_stderr(const char *prefix, const char *msg)
{
	char line[LOG_LINE_MAX_BYTES + 64];
	int n;

	n = snprintf(line, sizeof(line), "ct-agent: %s%s\n", prefix, msg);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line))
		n = (int)sizeof(line) - 1;
	(void)!write(STDERR_FILENO, line, (size_t)n);
}

static void vlog(int prio, bool force_stderr, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

static void
vlog(int prio, bool force_stderr, const char *fmt, va_list ap)
{
	char raw[LOG_LINE_MAX_BYTES], msg[LOG_LINE_MAX_BYTES];
	const char *prefix = "";
	int n;

	n = vsnprintf(raw, sizeof(raw), fmt, ap);
	if (n < 0)
		return;
	util_sanitize(raw, strnlen(raw, sizeof(raw)), msg, sizeof(msg));
	if (prio == LOG_ERR)
		prefix = "error: ";
	else if (prio == LOG_WARNING)
		prefix = "warning: ";
	if (log_target == CONF_LOG_SYSLOG)
		syslog(prio, "%s%s", prefix, msg);
	if (log_target == CONF_LOG_STDERR || force_stderr)
		emit_stderr(prefix, msg);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_INFO, false, fmt, ap);
	va_end(ap);
}

void
log_notice(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_INFO, true, fmt, ap);
	va_end(ap);
}

void
log_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_WARNING, false, fmt, ap);
	va_end(ap);
}

void
log_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_ERR, false, fmt, ap);
	va_end(ap);
}

void
log_cb(void *arg, const char *fmt, ...)
{
	va_list ap;

	(void)arg;
	va_start(ap, fmt);
	vlog(LOG_WARNING, false, fmt, ap);
	va_end(ap);
}

/* Start-up failures also go to stderr, where the operator is looking. */
void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_ERR, true, fmt, ap);
	va_end(ap);
	exit(1);
}

bool
log_limit_pass(struct log_limit *l, uint64_t now_ms)
{
	uint64_t second = now_ms / 1000;

	if (second != l->second) {
		if (l->suppressed > 0)
			log_warn("%u similar connection messages suppressed",
			    l->suppressed);
		l->second = second;
		l->lines = 0;
		l->suppressed = 0;
	}
	if (l->lines >= LOG_LIMIT_PER_S) {
		l->suppressed++;
		return false;
	}
	l->lines++;
	return true;
}
