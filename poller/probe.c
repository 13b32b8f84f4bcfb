/*
 * probe: the engine of the remote TLS probe. One probe resolves its host
 * (uv_getaddrinfo), then connects to every address at once through the
 * tls module's probe mode, runs the STARTTLS dialog when asked, and
 * records per address what the server presented.
 *
 * Lifetime: the probe stays allocated while anything on the loop can
 * still reach it: the owner (until probe_free), the getaddrinfo request,
 * the resolve timer (until its close callback) and each connection (until
 * its on_close). refs counts them; the last one frees.
 */
#include <wolfssl/options.h>

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "probe.h"
#include "tls.h"
#include "util.h"

const char *const probe_starttls_names[PROBE_STARTTLS__MAX] = {"none", "smtp",
    "submission", "imap", "pop3"};

const char *const probe_fail_names[PROBE_FAIL__MAX] = {"ok", "resolve",
    "refused", "unreachable", "timeout", "deadline", "starttls", "tls_alert",
    "tls_error", "no_certificate", "bad_certificate", "internal"};

#define PROBE_IMAP_TAG "a001"

struct probe_conn {
	struct probe *p;
	size_t index;
	struct tls_conn *conn;
	struct probe_starttls_state st;
	bool tls_started;
	bool deadline_bound; /* its deadline is the caller's, not timeout */
	bool reported;
};

struct probe {
	uv_loop_t *loop;
	struct tls_ctx *ctx;
	struct probe_target t;
	struct probe_params params;
	char ehlo[PROBE_EHLO_NAME_BYTES];
	uint64_t t0; /* uv_now at start */
	uv_getaddrinfo_t gai;
	uv_timer_t timer; /* bounds the resolution */
	struct probe_conn conns[PROBE_MAX_ADDRS];
	struct probe_result results[PROBE_MAX_ADDRS];
	size_t n, n_done;
	unsigned refs;
	bool resolving;
	bool done;
	bool cancelled;
	bool owner_gone;
};

/* ------------------------------------------------------------ targets */

int
probe_starttls_parse(const char *s, enum probe_starttls *out)
{
	size_t i;

	for (i = 0; i < PROBE_STARTTLS__MAX; i++)
		if (strcasecmp(s, probe_starttls_names[i]) == 0) {
			*out = (enum probe_starttls)i;
			return 0;
		}
	return CT_ERR_FORMAT;
}

enum probe_starttls
probe_starttls_for_port(uint16_t port)
{
	switch (port) {
	case 25:
		return PROBE_STARTTLS_SMTP;
	case 587:
		return PROBE_STARTTLS_SUBMISSION;
	case 143:
		return PROBE_STARTTLS_IMAP;
	case 110:
		return PROBE_STARTTLS_POP3;
	default:
		return PROBE_STARTTLS_NONE;
	}
}

static bool
is_ip_literal(const char *s)
{
	uint8_t buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, s, buf) == 1 ||
	    inet_pton(AF_INET6, s, buf) == 1;
}

static int
parse_port(const char *s, size_t n, uint16_t *port)
{
	uint64_t v;

	if (util_parse_u64(s, n, 65535, &v) != 0 || v == 0)
		return CT_ERR_FORMAT;
	*port = (uint16_t)v;
	return 0;
}

/* Host: letters, digits, '-', '.', '_', ':' (v6) only. */
static bool
host_ok(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n >= PROBE_HOST_BYTES)
		return false;
	for (i = 0; i < n; i++) {
		char ch = s[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		        (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' ||
		        ch == '_' || ch == ':' || ch == '%'))
			return false;
	}
	return true;
}

/* Splits s into host and port text. */
static int
split_hostport(const char *s, const char **h, size_t *hn, const char **ps,
    size_t *pn)
{
	const char *colon, *end;
	size_t n = strlen(s);

	*h = s;
	*hn = 0;
	*ps = NULL;
	*pn = 0;
	if (s[0] == '[') {
		if ((end = strchr(s, ']')) == NULL)
			return CT_ERR_FORMAT;
		*h = s + 1;
		*hn = (size_t)(end - s - 1);
		if (end[1] == ':') {
			*ps = end + 2;
			*pn = strlen(end + 2);
		} else if (end[1] != '\0') {
			return CT_ERR_FORMAT;
		}
		return 0;
	}
	colon = strchr(s, ':');
	if (colon != NULL && strchr(colon + 1, ':') != NULL) {
		*hn = n; /* a bare v6 literal */
		return 0;
	}
	if (colon == NULL) {
		/* "443" alone is a port */
		if (n > 0 && strspn(s, "0123456789") == n) {
			*ps = s;
			*pn = n;
		} else {
			*hn = n;
		}
		return 0;
	}
	*hn = (size_t)(colon - s);
	*ps = colon + 1;
	*pn = strlen(colon + 1);
	return 0;
}

int
probe_target_parse(const char *s, const char *default_host,
    uint16_t default_port, struct probe_target *t, char *why, size_t whysz)
{
	const char *h, *ps;
	size_t hn, pn;

	memset(t, 0, sizeof(*t));
	t->port = default_port;
	if (s == NULL || split_hostport(s, &h, &hn, &ps, &pn) != 0) {
		snprintf(why, whysz, "want HOST[:PORT] or [V6]:PORT");
		return CT_ERR_FORMAT;
	}
	if (ps != NULL && parse_port(ps, pn, &t->port) != 0) {
		snprintf(why, whysz, "bad port (1 to 65535)");
		return CT_ERR_FORMAT;
	}
	if (hn == 0) {
		if (default_host == NULL || default_host[0] == '\0') {
			snprintf(why, whysz, "no host (give HOST:PORT or -H)");
			return CT_ERR_FORMAT;
		}
		h = default_host;
		hn = strlen(default_host);
		if (h[0] == '.') { /* a subdomain watch: the name itself */
			h++;
			hn--;
		}
	}
	if (!host_ok(h, hn)) {
		snprintf(why, whysz, "bad host name");
		return CT_ERR_FORMAT;
	}
	memcpy(t->host, h, hn);
	t->host[hn] = '\0';
	if (!is_ip_literal(t->host))
		memcpy(t->sni, t->host, hn + 1);
	t->starttls = probe_starttls_for_port(t->port);
	return 0;
}

/* ------------------------------------------------------------ STARTTLS */

void
probe_starttls_init(struct probe_starttls_state *st, enum probe_starttls proto,
    const char *ehlo)
{
	size_t i, n;
	bool ok = ehlo != NULL && ehlo[0] != '\0';

	memset(st, 0, sizeof(*st));
	st->proto = proto;
	n = ok ? strlen(ehlo) : 0;
	if (n >= sizeof(st->ehlo))
		ok = false;
	for (i = 0; ok && i < n; i++) {
		char ch = ehlo[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		        (ch >= '0' && ch <= '9') || ch == '-' || ch == '.'))
			ok = false;
	}
	snprintf(st->ehlo, sizeof(st->ehlo), "%s", ok ? ehlo : "localhost");
}

static int st_fail(struct probe_starttls_state *st, int rc, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));

static int
st_fail(struct probe_starttls_state *st, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(st->why, sizeof(st->why), fmt, ap);
	va_end(ap);
	return rc;
}

/* The current line, sanitised and short, for a message. */
static const char *
st_quote(const struct probe_starttls_state *st, char *buf, size_t bufsz)
{
	util_sanitize(st->line, st->line_len, buf, bufsz);
	return buf;
}

static const char *
proto_name(enum probe_starttls p)
{
	switch (p) {
	case PROBE_STARTTLS_IMAP:
		return "IMAP";
	case PROBE_STARTTLS_POP3:
		return "POP3";
	default:
		return "SMTP";
	}
}

/* An SMTP reply line: 3 digits, then '-', ' ' or nothing. */
static int
smtp_line(struct probe_starttls_state *st, int *code, bool *last,
    const char **text)
{
	const char *l = st->line;
	char q[100];

	if (st->line_len < 3 || l[0] < '2' || l[0] > '5' || l[1] < '0' ||
	    l[1] > '9' || l[2] < '0' || l[2] > '9' ||
	    (st->line_len > 3 && l[3] != ' ' && l[3] != '-'))
		return st_fail(st, CT_ERR_PROTO, "malformed SMTP reply '%s'",
		    st_quote(st, q, sizeof(q)));
	*code = (l[0] - '0') * 100 + (l[1] - '0') * 10 + (l[2] - '0');
	*last = st->line_len == 3 || l[3] == ' ';
	*text = st->line_len > 4 ? l + 4 : "";
	if (st->reply_code != 0 && st->reply_code != *code)
		return st_fail(st, CT_ERR_PROTO,
		    "SMTP reply changes its code within one reply");
	st->reply_code = *last ? 0 : *code;
	return 0;
}

/* What util_buf_printf returned, as a dialog step's result. */
static int
sent(int rc)
{
	return rc == 0 ? PROBE_ST_MORE : CT_ERR_NOMEM;
}

static int
smtp_step(struct probe_starttls_state *st, struct util_buf *out)
{
	const char *text = "";
	char q[100];
	bool last = false;
	int code = 0, rc;

	if ((rc = smtp_line(st, &code, &last, &text)) != 0)
		return rc;
	if (st->step == 1 && code == 250 &&
	    strncasecmp(text, "STARTTLS", 8) == 0 &&
	    (text[8] == '\0' || text[8] == ' '))
		st->has_starttls = true;
	if (!last)
		return PROBE_ST_MORE;
	switch (st->step) {
	case 0: /* greeting */
		if (code != 220)
			return st_fail(st, CT_ERR_PROTO,
			    "SMTP greeting refuses: '%s'",
			    st_quote(st, q, sizeof(q)));
		st->step = 1;
		return sent(util_buf_printf(out, "EHLO %s\r\n", st->ehlo));
	case 1: /* EHLO */
		if (code != 250)
			return st_fail(st, CT_ERR_PROTO, "EHLO refused: '%s'",
			    st_quote(st, q, sizeof(q)));
		if (!st->has_starttls)
			return st_fail(st, CT_ERR_PROTO,
			    "server does not offer STARTTLS in its EHLO reply");
		st->step = 2;
		return sent(util_buf_append_str(out, "STARTTLS\r\n"));
	default: /* STARTTLS */
		if (code != 220)
			return st_fail(st, CT_ERR_PROTO,
			    "STARTTLS refused: '%s'",
			    st_quote(st, q, sizeof(q)));
		return PROBE_ST_TLS;
	}
}

/* "word" at the start of s, case-insensitive, then a space or the end. */
static bool
word_is(const char *s, size_t n, const char *word)
{
	size_t w = strlen(word);

	return n >= w && strncasecmp(s, word, w) == 0 &&
	    (n == w || s[w] == ' ');
}

static int
imap_step(struct probe_starttls_state *st, struct util_buf *out)
{
	const size_t tl = sizeof(PROBE_IMAP_TAG) - 1;
	const char *l = st->line;
	size_t n = st->line_len;
	char q[100];

	if (st->step == 0) {
		if (word_is(l, n, "*") && word_is(l + 2, n - 2, "OK")) {
			st->step = 1;
			return sent(util_buf_append_str(out,
			    PROBE_IMAP_TAG " STARTTLS\r\n"));
		}
		if (n > 2 && word_is(l + 2, n - 2, "PREAUTH"))
			return st_fail(st, CT_ERR_PROTO,
			    "IMAP server greets PREAUTH: STARTTLS is not "
			    "allowed");
		return st_fail(st, CT_ERR_PROTO, "IMAP greeting refuses: '%s'",
		    st_quote(st, q, sizeof(q)));
	}
	if (word_is(l, n, "*"))
		return PROBE_ST_MORE; /* untagged data: skipped */
	if (n > tl && strncasecmp(l, PROBE_IMAP_TAG, tl) == 0 && l[tl] == ' ') {
		if (word_is(l + tl + 1, n - tl - 1, "OK"))
			return PROBE_ST_TLS;
		return st_fail(st, CT_ERR_PROTO, "STARTTLS refused: '%s'",
		    st_quote(st, q, sizeof(q)));
	}
	return st_fail(st, CT_ERR_PROTO, "unexpected IMAP response '%s'",
	    st_quote(st, q, sizeof(q)));
}

static int
pop3_step(struct probe_starttls_state *st, struct util_buf *out)
{
	char q[100];
	bool ok = st->line_len >= 3 && strncasecmp(st->line, "+OK", 3) == 0;

	if (st->step == 0) {
		if (!ok)
			return st_fail(st, CT_ERR_PROTO,
			    "POP3 greeting refuses: '%s'",
			    st_quote(st, q, sizeof(q)));
		st->step = 1;
		return sent(util_buf_append_str(out, "STLS\r\n"));
	}
	if (!ok)
		return st_fail(st, CT_ERR_PROTO, "STLS refused: '%s'",
		    st_quote(st, q, sizeof(q)));
	return PROBE_ST_TLS;
}

static int
st_line(struct probe_starttls_state *st, struct util_buf *out)
{
	switch (st->proto) {
	case PROBE_STARTTLS_SMTP:
	case PROBE_STARTTLS_SUBMISSION:
		return smtp_step(st, out);
	case PROBE_STARTTLS_IMAP:
		return imap_step(st, out);
	case PROBE_STARTTLS_POP3:
		return pop3_step(st, out);
	default:
		return st_fail(st, CT_ERR_INVALID, "no STARTTLS protocol");
	}
}

int
probe_starttls_feed(struct probe_starttls_state *st, const uint8_t *p, size_t n,
    struct util_buf *out)
{
	size_t i;
	int rc;

	if (st->why[0] != '\0')
		return CT_ERR_PROTO; /* failed before */
	for (i = 0; i < n; i++) {
		if (++st->total > PROBE_STARTTLS_MAX_DIALOG_BYTES)
			return st_fail(st, CT_ERR_TOO_BIG,
			    "%s dialog longer than %d bytes",
			    proto_name(st->proto),
			    PROBE_STARTTLS_MAX_DIALOG_BYTES);
		if (p[i] != '\n') {
			if (st->line_len + 1 >= sizeof(st->line))
				return st_fail(st, CT_ERR_TOO_BIG,
				    "%s line longer than %d bytes",
				    proto_name(st->proto),
				    PROBE_STARTTLS_MAX_LINE_BYTES);
			st->line[st->line_len++] = (char)p[i];
			continue;
		}
		if (st->line_len > 0 && st->line[st->line_len - 1] == '\r')
			st->line_len--;
		st->line[st->line_len] = '\0';
		if (++st->lines > PROBE_STARTTLS_MAX_LINES)
			return st_fail(st, CT_ERR_TOO_BIG,
			    "%s dialog longer than %d lines",
			    proto_name(st->proto), PROBE_STARTTLS_MAX_LINES);
		if (memchr(st->line, '\0', st->line_len) != NULL)
			return st_fail(st, CT_ERR_PROTO,
			    "NUL byte in a %s line", proto_name(st->proto));
		rc = st_line(st, out);
		st->line_len = 0;
		if (rc < 0)
			return rc;
		if (rc == PROBE_ST_TLS) {
			/* Anything after the go-ahead would be read as TLS:
			 * a server (or a man in the middle) injecting it is
			 * refused. */
			if (i + 1 < n)
				return st_fail(st, CT_ERR_PROTO,
				    "server sent %zu bytes after its STARTTLS "
				    "go-ahead",
				    n - i - 1);
			return PROBE_ST_TLS;
		}
	}
	return PROBE_ST_MORE;
}

/* ------------------------------------------------------------ engine */

static void
probe_unref(struct probe *p)
{
	size_t i, j;

	if (--p->refs > 0)
		return;
	for (i = 0; i < p->n; i++) {
		for (j = 0; j < p->results[i].n_chain; j++)
			cert_free(p->results[i].chain[j]);
		free(p->results[i].chain);
	}
	free(p);
}

static void
on_timer_closed(uv_handle_t *h)
{
	probe_unref(h->data);
}

static void
finish_if_done(struct probe *p)
{
	if (p->done || p->resolving || p->n_done < p->n)
		return;
	p->done = true;
	if (!uv_is_closing((uv_handle_t *)&p->timer))
		uv_timer_stop(&p->timer);
	if (p->params.on_done != NULL)
		p->params.on_done(p, p->params.arg);
}

static void
report(struct probe *p, size_t i)
{
	struct probe_conn *pc = &p->conns[i];

	if (pc->reported)
		return;
	pc->reported = true;
	p->n_done++;
	if (p->params.on_addr != NULL)
		p->params.on_addr(p, &p->results[i], p->params.arg);
}

static void result_fail(struct probe_result *r, enum probe_fail f,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
result_fail(struct probe_result *r, enum probe_fail f, const char *fmt, ...)
{
	va_list ap;

	r->fail = f;
	va_start(ap, fmt);
	vsnprintf(r->error, sizeof(r->error), fmt, ap);
	va_end(ap);
}

static void
addr_text(const struct sockaddr *sa, char *out, size_t outsz)
{
	char ip[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;

		uv_ip6_name(s6, ip, sizeof(ip));
		snprintf(out, outsz, "[%s]:%u", ip, ntohs(s6->sin6_port));
	} else {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;

		uv_ip4_name(s4, ip, sizeof(ip));
		snprintf(out, outsz, "%s:%u", ip, ntohs(s4->sin_port));
	}
}

/* Parses the captured chain into the result. */
static void
take_chain(struct probe_result *r, struct tls_conn *c)
{
	size_t n = tls_conn_peer_chain_count(c), i, len;
	const uint8_t *der;

	if (n == 0) {
		result_fail(r, PROBE_NO_CERT,
		    "the server presented no certificate");
		return;
	}
	if ((r->chain = calloc(n, sizeof(*r->chain))) == NULL) {
		result_fail(r, PROBE_INTERNAL, "out of memory");
		return;
	}
	r->n_chain = n;
	for (i = 0; i < n; i++)
		if (tls_conn_peer_cert(c, i, &der, &len) != 0 ||
		    cert_parse_der(der, len, &r->chain[i]) != 0)
			r->n_chain_bad++;
	if (r->chain[0] == NULL)
		result_fail(r, PROBE_BAD_CERT,
		    "the server's certificate does not parse");
}

static void
conn_facts(struct probe_result *r, struct tls_conn *c)
{
	struct tls_times tt;

	tls_conn_times(c, &tt);
	r->connect_ms = tt.connect_ms;
	r->starttls_ms = tt.plain_ms;
	r->handshake_ms = tt.handshake_ms;
	snprintf(r->version, sizeof(r->version), "%s", tls_conn_version(c));
	snprintf(r->cipher, sizeof(r->cipher), "%s", tls_conn_cipher(c));
	r->alert = tls_conn_alert(c);
}

static void
conn_on_handshake(struct tls_conn *c, int status)
{
	struct probe_conn *pc = tls_conn_arg(c);
	struct probe *p = pc->p;
	struct probe_result *r = &p->results[pc->index];

	if (status != 0)
		return; /* on_close reports */
	conn_facts(r, c);
	r->fail = PROBE_OK;
	take_chain(r, c);
	tls_close(c);
	report(p, pc->index);
}

/* Why a connection ended without a handshake. */
static void
classify(struct probe_conn *pc, struct tls_conn *c, int status)
{
	struct probe_result *r = &pc->p->results[pc->index];
	struct tls_times tt;
	int sys = tls_conn_sys_error(c);

	tls_conn_times(c, &tt);
	if (pc->p->cancelled && status != CT_ERR_TIMEOUT)
		result_fail(r, PROBE_DEADLINE,
		    "cancelled at the run's deadline");
	else if (status == CT_ERR_TIMEOUT && pc->deadline_bound)
		result_fail(r, PROBE_DEADLINE,
		    "timeout in the probe: the run's deadline came first (%s)",
		    tls_conn_error(c));
	else if (status == CT_ERR_TIMEOUT)
		result_fail(r, PROBE_TIMEOUT, "timeout after %u ms: %s",
		    pc->p->params.timeout_ms, tls_conn_error(c));
	else if (sys == UV_ECONNREFUSED)
		result_fail(r, PROBE_REFUSED, "connection refused");
	else if (tt.connect_ms == 0 && sys != 0)
		result_fail(r, PROBE_UNREACHABLE, "cannot connect: %s",
		    uv_strerror(sys));
	else if (pc->p->t.starttls != PROBE_STARTTLS_NONE && !pc->tls_started)
		result_fail(r, PROBE_STARTTLS, "STARTTLS (%s) failed: %s",
		    probe_starttls_names[pc->p->t.starttls], tls_conn_error(c));
	else if (tls_conn_alert(c) >= 0)
		result_fail(r, PROBE_TLS_ALERT, "%s", tls_conn_error(c));
	else
		result_fail(r, PROBE_TLS_ERROR, "TLS handshake failed: %s",
		    tls_conn_error(c));
}

static void
conn_on_close(struct tls_conn *c, int status)
{
	struct probe_conn *pc = tls_conn_arg(c);
	struct probe *p = pc->p;
	struct probe_result *r = &p->results[pc->index];

	pc->conn = NULL;
	if (!pc->reported) {
		conn_facts(r, c);
		classify(pc, c, status);
		/* A chain seen before the failure is kept for the record. */
		if (tls_conn_peer_chain_count(c) > 0 && r->chain == NULL) {
			enum probe_fail f = r->fail;
			char e[PROBE_ERROR_BYTES];

			memcpy(e, r->error, sizeof(e));
			take_chain(r, c);
			r->fail = f;
			memcpy(r->error, e, sizeof(e));
		}
		report(p, pc->index);
	}
	finish_if_done(p);
	probe_unref(p);
}

static int
conn_on_plain(struct tls_conn *c, const uint8_t *b, size_t n, char *why,
    size_t whysz)
{
	struct probe_conn *pc = tls_conn_arg(c);
	struct util_buf out;
	int rc;

	util_buf_init(&out, TLS_MAX_PLAIN_WRITE_BYTES);
	rc = probe_starttls_feed(&pc->st, b, n, &out);
	if (rc >= 0 && out.len > 0 &&
	    tls_plain_write(c, out.data, out.len) != 0)
		rc = CT_ERR_IO;
	util_buf_clear(&out);
	if (rc < 0) {
		snprintf(why, whysz, "%s",
		    pc->st.why[0] ? pc->st.why : "cannot write");
		return rc;
	}
	if (rc == PROBE_ST_TLS) {
		pc->tls_started = true;
		return TLS_PLAIN_START;
	}
	return TLS_PLAIN_MORE;
}

static const struct tls_callbacks conn_cbs = {
    .on_handshake = conn_on_handshake,
    .on_close = conn_on_close,
};

/* Per-address deadline: the timeout, or what is left of the caller's. */
static uint64_t
conn_deadline(struct probe *p, bool *bound)
{
	uint64_t t = p->params.timeout_ms, spent, left;

	*bound = false;
	if (p->params.deadline_ms == 0)
		return t;
	spent = uv_now(p->loop) - p->t0;
	left =
	    spent < p->params.deadline_ms ? p->params.deadline_ms - spent : 1;
	if (left <= t) {
		*bound = true;
		return left;
	}
	return t;
}

static void
connect_one(struct probe *p, size_t i)
{
	struct probe_conn *pc = &p->conns[i];
	struct probe_result *r = &p->results[i];
	struct tls_probe_params tp;
	struct tls_callbacks cb = conn_cbs;
	uint64_t ms;
	int rc;

	pc->p = p;
	pc->index = i;
	memset(&tp, 0, sizeof(tp));
	tp.sni = p->t.sni[0] ? p->t.sni : NULL;
	if (p->t.starttls != PROBE_STARTTLS_NONE) {
		probe_starttls_init(&pc->st, p->t.starttls, p->ehlo);
		tp.on_plain = conn_on_plain;
	}
	cb.arg = pc;
	rc = tls_connect_probe(p->ctx, p->loop, (struct sockaddr *)&r->sa, &tp,
	    &cb, &pc->conn);
	if (rc != 0) {
		result_fail(r,
		    rc == CT_ERR_INVALID ? PROBE_UNREACHABLE : PROBE_INTERNAL,
		    "cannot connect: %s", ct_strerror(rc));
		report(p, i);
		return;
	}
	p->refs++;
	ms = conn_deadline(p, &pc->deadline_bound);
	tls_set_deadline(pc->conn, ms);
}

/* Keeps distinct addresses, v4 and v6, in resolver order. */
static void
collect_addrs(struct probe *p, const struct addrinfo *res)
{
	const struct addrinfo *a;
	struct probe_result *r;
	size_t i, len;

	for (a = res; a != NULL && p->n < PROBE_MAX_ADDRS; a = a->ai_next) {
		if (a->ai_family != AF_INET && a->ai_family != AF_INET6)
			continue;
		len = a->ai_family == AF_INET ? sizeof(struct sockaddr_in)
		                              : sizeof(struct sockaddr_in6);
		if (a->ai_addrlen < len)
			continue;
		for (i = 0; i < p->n; i++)
			if (memcmp(&p->results[i].sa, a->ai_addr, len) == 0)
				break;
		if (i < p->n)
			continue;
		r = &p->results[p->n];
		r->index = p->n;
		r->target = &p->t;
		r->alert = -1;
		memcpy(&r->sa, a->ai_addr, len);
		if (a->ai_family == AF_INET)
			((struct sockaddr_in *)&r->sa)->sin_port =
			    htons(p->t.port);
		else
			((struct sockaddr_in6 *)&r->sa)->sin6_port =
			    htons(p->t.port);
		addr_text((struct sockaddr *)&r->sa, r->addr, sizeof(r->addr));
		p->n++;
		if (p->params.one)
			break;
	}
}

/* One result saying the name could not be resolved. */
static void
resolve_failed(struct probe *p, enum probe_fail f, const char *text)
{
	struct probe_result *r = &p->results[0];

	p->n = 1;
	r->index = 0;
	r->target = &p->t;
	r->alert = -1;
	snprintf(r->addr, sizeof(r->addr), "%s:%u", p->t.host, p->t.port);
	if (strlen(p->t.host) + 8 >= sizeof(r->addr))
		snprintf(r->addr, sizeof(r->addr), "(name):%u", p->t.port);
	result_fail(r, f, "%s", text);
	report(p, 0);
}

static void
on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
	struct probe *p = req->data;
	char text[PROBE_ERROR_BYTES];
	size_t i;

	p->resolving = false;
	if (p->done || p->n_done > 0) {
		/* timed out or cancelled meanwhile */
	} else if (status != 0) {
		snprintf(text, sizeof(text), "cannot resolve %.100s: %s",
		    p->t.host, uv_strerror(status));
		resolve_failed(p,
		    status == UV_ECANCELED ? PROBE_DEADLINE : PROBE_RESOLVE,
		    text);
	} else {
		uv_timer_stop(&p->timer);
		collect_addrs(p, res);
		if (p->n == 0) {
			snprintf(text, sizeof(text),
			    "%.100s has no IPv4 or IPv6 address", p->t.host);
			resolve_failed(p, PROBE_RESOLVE, text);
		} else if (p->cancelled) {
			for (i = 0; i < p->n; i++) {
				result_fail(&p->results[i], PROBE_DEADLINE,
				    "cancelled at the run's deadline");
				report(p, i);
			}
		} else {
			for (i = 0; i < p->n; i++)
				connect_one(p, i);
		}
	}
	uv_freeaddrinfo(res);
	finish_if_done(p);
	probe_unref(p);
}

/* The resolver took too long (it cannot be stopped: its answer is
 * ignored when it comes). */
static void
on_resolve_timer(uv_timer_t *t)
{
	struct probe *p = t->data;
	char text[PROBE_ERROR_BYTES];
	bool bound;

	if (!p->resolving || p->n_done > 0)
		return;
	(void)conn_deadline(p, &bound);
	snprintf(text, sizeof(text), "timeout resolving %.100s", p->t.host);
	p->resolving = false; /* its callback still holds a reference */
	resolve_failed(p, bound ? PROBE_DEADLINE : PROBE_TIMEOUT, text);
	finish_if_done(p);
}

static void
default_ehlo(char *out, size_t outsz)
{
	char h[256];

	if (gethostname(h, sizeof(h)) != 0)
		h[0] = '\0';
	h[sizeof(h) - 1] = '\0';
	/* A name that does not fit is not cut: "" makes it "localhost". */
	if (strlen(h) >= outsz)
		h[0] = '\0';
	memcpy(out, h, strlen(h) + 1);
}

int
probe_start(uv_loop_t *loop, struct tls_ctx *ctx, const struct probe_target *t,
    const struct probe_params *params, struct probe **out)
{
	struct addrinfo hints;
	struct probe *p;
	char port[8];
	bool bound;
	int rc;

	*out = NULL;
	if (loop == NULL || ctx == NULL || t == NULL || params == NULL ||
	    t->host[0] == '\0' || t->port == 0)
		return CT_ERR_INVALID;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return CT_ERR_NOMEM;
	p->loop = loop;
	p->ctx = ctx;
	p->t = *t;
	p->params = *params;
	if (p->params.timeout_ms == 0)
		p->params.timeout_ms = PROBE_DEFAULT_TIMEOUT_MS;
	if (params->ehlo != NULL && strlen(params->ehlo) < sizeof(p->ehlo))
		memcpy(p->ehlo, params->ehlo, strlen(params->ehlo) + 1);
	else if (params->ehlo == NULL)
		default_ehlo(p->ehlo, sizeof(p->ehlo));
	p->t0 = uv_now(loop);
	p->refs = 1; /* the owner */
	if (uv_timer_init(loop, &p->timer) != 0) {
		free(p);
		return CT_ERR_IO;
	}
	p->timer.data = p;
	p->refs++; /* the timer, until closed */
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_ADDRCONFIG;
	snprintf(port, sizeof(port), "%u", t->port);
	p->gai.data = p;
	rc =
	    uv_getaddrinfo(loop, &p->gai, on_resolved, p->t.host, port, &hints);
	if (rc != 0) {
		p->owner_gone = true;
		uv_close((uv_handle_t *)&p->timer, on_timer_closed);
		probe_unref(p);
		return CT_ERR_IO;
	}
	p->refs++; /* the resolver */
	p->resolving = true;
	uv_timer_start(&p->timer, on_resolve_timer, conn_deadline(p, &bound),
	    0);
	*out = p;
	return 0;
}

void
probe_cancel(struct probe *p)
{
	size_t i;

	if (p == NULL || p->done || p->cancelled)
		return;
	p->cancelled = true;
	if (p->resolving) {
		(void)uv_cancel((uv_req_t *)&p->gai);
		p->resolving = false;
		resolve_failed(p, PROBE_DEADLINE,
		    "cancelled at the run's deadline (resolving)");
	}
	/* Reported now, so that a caller at its deadline can judge at once;
	 * the connections close from the loop. */
	for (i = 0; i < p->n; i++) {
		if (p->conns[i].reported)
			continue;
		result_fail(&p->results[i], PROBE_DEADLINE,
		    "cancelled at the run's deadline");
		report(p, i);
		if (p->conns[i].conn != NULL)
			tls_close(p->conns[i].conn);
	}
	finish_if_done(p);
}

size_t
probe_count(const struct probe *p)
{
	return p->n;
}

const struct probe_result *
probe_get(const struct probe *p, size_t i)
{
	if (i >= p->n)
		return NULL;
	return &p->results[i];
}

bool
probe_done(const struct probe *p)
{
	return p->done;
}

void
probe_free(struct probe *p)
{
	if (p == NULL || p->owner_gone)
		return;
	p->params.on_addr = NULL;
	p->params.on_done = NULL;
	probe_cancel(p);
	p->owner_gone = true;
	uv_close((uv_handle_t *)&p->timer, on_timer_closed);
	probe_unref(p);
}
