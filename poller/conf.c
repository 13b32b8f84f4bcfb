/*
 * conf: the poller configuration file (see conf.h for the format).
 */
#include <wolfssl/options.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "conf.h"
#include "keys.h"
#include "util.h"

#define CONF_LABEL_MAX_BYTES 63
#define CONF_PORT_MAX 65535

/* Where a parse is, for error texts. */
struct parser {
	const char *origin;
	size_t line;
	char *err;
	size_t errsz;
	struct conf *c;
	size_t agents_cap;
};

static int perr(struct parser *p, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Sets err to "ORIGIN:LINE: text" and returns rc. */
static int
perr(struct parser *p, int rc, const char *fmt, ...)
{
	char text[CONF_ERROR_BYTES];
	va_list ap;

	if (p->err == NULL || p->errsz == 0)
		return rc;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (p->line > 0)
		snprintf(p->err, p->errsz, "%s:%zu: %s", p->origin, p->line,
		    text);
	else
		snprintf(p->err, p->errsz, "%s: %s", p->origin, text);
	return rc;
}

static bool
is_blank(char ch)
{
	return ch == ' ' || ch == '\t';
}

static bool
is_ldh(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    (ch >= '0' && ch <= '9') || ch == '-';
}

/* LDH labels of 1..63 bytes separated by single dots, 1..253 in all. */
bool
conf_name_valid(const char *s, size_t n)
{
	size_t i, label = 0;

	if (n == 0 || n > CONF_NAME_MAX_BYTES)
		return false;
	for (i = 0; i < n; i++) {
		if (s[i] == '.') {
			if (label == 0)
				return false;
			label = 0;
		} else if (is_ldh(s[i])) {
			if (++label > CONF_LABEL_MAX_BYTES)
				return false;
		} else {
			return false;
		}
	}
	return label > 0;
}

static int
parse_port(const char *s, size_t n, uint16_t *port, const char **reason)
{
	uint64_t v;

	if (util_parse_u64(s, n, CONF_PORT_MAX, &v) != 0 || v == 0) {
		*reason = "the port must be a number from 1 to 65535";
		return CT_ERR_FORMAT;
	}
	*port = (uint16_t)v;
	return 0;
}

static bool
all_digits_dots(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!(s[i] == '.' || (s[i] >= '0' && s[i] <= '9')))
			return false;
	return true;
}

int
conf_parse_hostport(const char *s, size_t n, uint16_t default_port,
    char host[CONF_HOST_MAX_BYTES + 1], uint16_t *port, const char **reason)
{
	const char *close, *colon, *rest;
	size_t hlen, rlen;
	unsigned char addr[sizeof(struct in6_addr)];
	const char *dummy;

	if (reason == NULL)
		reason = &dummy;
	*port = default_port;
	host[0] = '\0';
	if (n == 0) {
		*reason = "empty address";
		return CT_ERR_FORMAT;
	}
	if (s[0] == '[') {
		close = memchr(s, ']', n);
		if (close == NULL) {
			*reason = "'[' without ']' around an IPv6 address";
			return CT_ERR_FORMAT;
		}
		hlen = (size_t)(close - s) - 1;
		rest = close + 1;
		rlen = n - (size_t)(rest - s);
		if (hlen == 0 || hlen > CONF_HOST_MAX_BYTES) {
			*reason = "bad IPv6 address";
			return CT_ERR_FORMAT;
		}
		memcpy(host, s + 1, hlen);
		host[hlen] = '\0';
		if (inet_pton(AF_INET6, host, addr) != 1) {
			host[0] = '\0';
			*reason = "bad IPv6 address";
			return CT_ERR_FORMAT;
		}
		if (rlen == 0)
			return 0;
		if (rest[0] != ':' || rlen == 1) {
			host[0] = '\0';
			*reason = "expected ':PORT' after ']'";
			return CT_ERR_FORMAT;
		}
		if (parse_port(rest + 1, rlen - 1, port, reason) != 0) {
			host[0] = '\0';
			return CT_ERR_FORMAT;
		}
		return 0;
	}
	colon = memchr(s, ':', n);
	hlen = colon != NULL ? (size_t)(colon - s) : n;
	if (colon != NULL && memchr(colon + 1, ':', n - hlen - 1) != NULL) {
		*reason = "an IPv6 address must be written in brackets: "
		          "[ADDRESS]:PORT";
		return CT_ERR_FORMAT;
	}
	if (hlen == 0 || hlen > CONF_HOST_MAX_BYTES) {
		*reason = "bad host name";
		return CT_ERR_FORMAT;
	}
	/* A DNS name, with one trailing dot allowed; or an IPv4 address. */
	if (!conf_name_valid(s, s[hlen - 1] == '.' ? hlen - 1 : hlen)) {
		*reason = "bad host name (letters, digits, '-' and '.' only)";
		return CT_ERR_FORMAT;
	}
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	if (all_digits_dots(host, hlen) &&
	    inet_pton(AF_INET, host, addr) != 1) {
		host[0] = '\0';
		*reason = "bad IPv4 address";
		return CT_ERR_FORMAT;
	}
	if (colon == NULL)
		return 0;
	if (parse_port(colon + 1, n - hlen - 1, port, reason) != 0) {
		host[0] = '\0';
		return CT_ERR_FORMAT;
	}
	return 0;
}

static bool
name_eq_nocase(const char *a, const char *b)
{
	size_t i;
	char x, y;

	for (i = 0;; i++) {
		x = a[i];
		y = b[i];
		if (x >= 'A' && x <= 'Z')
			x = (char)(x - 'A' + 'a');
		if (y >= 'A' && y <= 'Z')
			y = (char)(y - 'A' + 'a');
		if (x != y)
			return false;
		if (x == '\0')
			return true;
	}
}

const struct conf_agent *
conf_find_agent(const struct conf *c, const char *name)
{
	size_t i;

	if (c == NULL || name == NULL)
		return NULL;
	for (i = 0; i < c->n_agents; i++)
		if (name_eq_nocase(c->agents[i].name, name))
			return &c->agents[i];
	return NULL;
}

/*
 * A file setting (key, tls_ca, tls_cert, tls_key): at most once; a
 * relative path is taken relative to the config file's directory.
 */
static int
set_path(struct parser *p, const char *what, char **dst, size_t *dst_line,
    const char *v, size_t vlen)
{
	struct util_buf b;
	const char *slash;
	size_t dlen;
	int rc;

	if (*dst != NULL)
		return perr(p, CT_ERR_FORMAT,
		    "'%s' given twice (first on line %zu)", what, *dst_line);
	if (vlen == 0)
		return perr(p, CT_ERR_FORMAT, "'%s' needs a file name", what);
	if (memchr(v, '\0', vlen) != NULL)
		return perr(p, CT_ERR_FORMAT, "NUL byte in the %s path", what);
	util_buf_init(&b, CONF_PATH_MAX_BYTES);
	slash = strrchr(p->origin, '/');
	if (v[0] != '/' && slash != NULL) {
		dlen = (size_t)(slash - p->origin) + 1;
		rc = util_buf_append(&b, p->origin, dlen);
		if (rc != 0)
			goto out;
	}
	if ((rc = util_buf_append(&b, v, vlen)) != 0 ||
	    (rc = util_buf_cstr(&b)) != 0)
		goto out;
	*dst = (char *)util_buf_take(&b, NULL);
	*dst_line = p->line;
out:
	util_buf_clear(&b);
	if (rc == CT_ERR_TOO_BIG)
		return perr(p, rc, "%s path too long", what);
	if (rc != 0)
		return perr(p, rc, "%s", ct_strerror(rc));
	return 0;
}

static int
add_agent(struct parser *p, const char *name, size_t nlen, const char *v,
    size_t vlen)
{
	struct conf_agent a, *grown;
	const char *reason = "", *sp;
	size_t alen, cap;
	const struct conf_agent *dup;

	memset(&a, 0, sizeof(a));
	if (!conf_name_valid(name, nlen))
		return perr(p, CT_ERR_FORMAT,
		    "bad agent name (letters, digits, '-' and '.' only, "
		    "as in the agent's 'name =')");
	memcpy(a.name, name, nlen);
	a.name[nlen] = '\0';
	if ((dup = conf_find_agent(p->c, a.name)) != NULL)
		return perr(p, CT_ERR_FORMAT,
		    "agent %s given twice (first on line %zu)", a.name,
		    dup->key.line);
	for (sp = v; sp < v + vlen && !is_blank(*sp); sp++)
		;
	alen = (size_t)(sp - v);
	if (alen == vlen)
		return perr(p, CT_ERR_FORMAT,
		    "agent %s: expected 'HOST[:PORT] " KEYS_TYPE " BASE64'",
		    a.name);
	if (conf_parse_hostport(v, alen, CONF_DEFAULT_PORT, a.host, &a.port,
	        &reason) != 0)
		return perr(p, CT_ERR_FORMAT, "agent %s: %s", a.name, reason);
	while (sp < v + vlen && is_blank(*sp))
		sp++;
	if (keys_parse_public_line(sp, vlen - (size_t)(sp - v), &a.key,
	        &reason) != 0)
		return perr(p, CT_ERR_FORMAT, "agent %s: key: %s", a.name,
		    reason);
	a.key.line = p->line;
	if (p->c->n_agents == CONF_MAX_AGENTS)
		return perr(p, CT_ERR_TOO_BIG, "more than %d agents",
		    CONF_MAX_AGENTS);
	if (p->c->n_agents == p->agents_cap) {
		cap = p->agents_cap == 0 ? 16 : 2 * p->agents_cap;
		if (cap > CONF_MAX_AGENTS)
			cap = CONF_MAX_AGENTS;
		grown = realloc(p->c->agents, cap * sizeof(*grown));
		if (grown == NULL)
			return perr(p, CT_ERR_NOMEM, "out of memory");
		p->c->agents = grown;
		p->agents_cap = cap;
	}
	p->c->agents[p->c->n_agents++] = a;
	return 0;
}

/*
 * The comment-free, blank-trimmed part of line s (n bytes), in out and
 * outn.
 * A '#' starts a comment at the start of the line or after a blank.
 */
static void
strip_line(const char *s, size_t n, const char **out, size_t *outn)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] == '#' && (i == 0 || is_blank(s[i - 1]))) {
			n = i;
			break;
		}
	while (n > 0 && (is_blank(s[n - 1]) || s[n - 1] == '\r'))
		n--;
	while (n > 0 && is_blank(*s)) {
		s++;
		n--;
	}
	*out = s;
	*outn = n;
}

static int
parse_line(struct parser *p, const char *s, size_t n)
{
	const char *eq, *k, *v, *arg;
	size_t klen, vlen, alen, i;

	strip_line(s, n, &s, &n);
	if (n == 0)
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 && !is_blank(s[i]))
			return perr(p, CT_ERR_FORMAT, "control byte in line");
	if ((eq = memchr(s, '=', n)) == NULL)
		return perr(p, CT_ERR_FORMAT, "expected 'name = value'");
	k = s;
	klen = (size_t)(eq - s);
	while (klen > 0 && is_blank(k[klen - 1]))
		klen--;
	v = eq + 1;
	vlen = (size_t)(s + n - v);
	while (vlen > 0 && is_blank(*v)) {
		v++;
		vlen--;
	}
	if (klen == 3 && memcmp(k, "key", 3) == 0)
		return set_path(p, "key", &p->c->key_path, &p->c->key_line, v,
		    vlen);
	if (klen == 6 && memcmp(k, "tls_ca", 6) == 0)
		return set_path(p, "tls_ca", &p->c->tls_ca, &p->c->tls_ca_line,
		    v, vlen);
	if (klen == 8 && memcmp(k, "tls_cert", 8) == 0)
		return set_path(p, "tls_cert", &p->c->tls_cert,
		    &p->c->tls_cert_line, v, vlen);
	if (klen == 7 && memcmp(k, "tls_key", 7) == 0)
		return set_path(p, "tls_key", &p->c->tls_key,
		    &p->c->tls_key_line, v, vlen);
	if (klen > 6 && memcmp(k, "agent", 5) == 0 && is_blank(k[5])) {
		arg = k + 6;
		alen = klen - 6;
		while (alen > 0 && is_blank(*arg)) {
			arg++;
			alen--;
		}
		return add_agent(p, arg, alen, v, vlen);
	}
	if (klen == 5 && memcmp(k, "agent", 5) == 0)
		return perr(p, CT_ERR_FORMAT,
		    "expected 'agent NAME = HOST[:PORT] " KEYS_TYPE " BASE64'");
	return perr(p, CT_ERR_FORMAT,
	    "unknown setting '%.*s' (known: key, agent NAME, tls_ca, "
	    "tls_cert, tls_key)",
	    (int)(klen > 64 ? 64 : klen), k);
}

/* CA-file mode: tls_ca and tls_cert together; tls_key only with them. */
static int
check_tls(struct parser *p)
{
	const struct conf *c = p->c;

	if (c->tls_ca == NULL && c->tls_cert != NULL) {
		p->line = c->tls_cert_line;
		return perr(p, CT_ERR_FORMAT,
		    "'tls_cert' belongs to CA-file mode, which needs "
		    "'tls_ca' (the CA file for agent certificates)");
	}
	if (c->tls_ca == NULL && c->tls_key != NULL) {
		p->line = c->tls_key_line;
		return perr(p, CT_ERR_FORMAT,
		    "'tls_key' belongs to CA-file mode, which needs 'tls_ca' "
		    "and 'tls_cert'");
	}
	if (c->tls_ca != NULL && c->tls_cert == NULL) {
		p->line = c->tls_ca_line;
		return perr(p, CT_ERR_FORMAT,
		    "'tls_ca' needs 'tls_cert' (this poller's certificate, "
		    "issued by the site CA)");
	}
	return 0;
}

int
conf_parse(const char *text, size_t len, const char *origin, struct conf *out,
    char *err, size_t errsz)
{
	struct parser p;
	const char *s = text, *nl, *end = text + len;
	size_t n;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	memset(&p, 0, sizeof(p));
	p.origin = origin != NULL ? origin : "(config)";
	p.err = err;
	p.errsz = errsz;
	p.c = out;
	if (err != NULL && errsz > 0)
		err[0] = '\0';
	if (len > CONF_MAX_FILE_BYTES)
		return perr(&p, CT_ERR_TOO_BIG, "larger than %d bytes",
		    CONF_MAX_FILE_BYTES);
	if (text == NULL && len > 0)
		return perr(&p, CT_ERR_INVALID, "no text");
	if (len > 0 && memchr(text, '\0', len) != NULL) {
		nl = memchr(text, '\0', len);
		p.line = 1;
		for (s = text; s < nl; s++)
			p.line += *s == '\n';
		return perr(&p, CT_ERR_FORMAT, "NUL byte in the file");
	}
	while (s < end) {
		p.line++;
		nl = memchr(s, '\n', (size_t)(end - s));
		n = nl != NULL ? (size_t)(nl - s) : (size_t)(end - s);
		if (n > CONF_MAX_LINE_BYTES) {
			rc = perr(&p, CT_ERR_TOO_BIG,
			    "line longer than %d bytes", CONF_MAX_LINE_BYTES);
			break;
		}
		if ((rc = parse_line(&p, s, n)) != 0)
			break;
		s += n + (nl != NULL);
	}
	if (rc == 0)
		rc = check_tls(&p);
	if (rc == 0 && origin != NULL && (out->path = strdup(origin)) == NULL)
		rc = perr(&p, CT_ERR_NOMEM, "out of memory");
	if (rc != 0)
		conf_free(out);
	return rc;
}

int
conf_load(const char *path, struct conf *out, char *err, size_t errsz)
{
	uint8_t *text = NULL;
	size_t len = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = util_read_file(path, CONF_MAX_FILE_BYTES, &text, &len);
	if (rc != 0) {
		if (err != NULL && errsz > 0) {
			if (rc == CT_ERR_IO)
				snprintf(err, errsz, "%s: %s", path,
				    strerror(errno));
			else
				snprintf(err, errsz, "%s: %s", path,
				    ct_strerror(rc));
		}
		return rc;
	}
	rc = conf_parse((const char *)text, len, path, out, err, errsz);
	free(text);
	return rc;
}

void
conf_free(struct conf *c)
{
	if (c == NULL)
		return;
	free(c->path);
	free(c->key_path);
	free(c->tls_ca);
	free(c->tls_cert);
	free(c->tls_key);
	free(c->agents);
	memset(c, 0, sizeof(*c));
}

static bool
exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

static int
copy_path(char *out, size_t outsz, const char *a, const char *b)
{
	int n;

	n = snprintf(out, outsz, "%s%s", a, b);
	if (n < 0 || (size_t)n >= outsz) {
		if (outsz > 0)
			out[0] = '\0';
		return CT_ERR_TOO_BIG;
	}
	return 0;
}

int
conf_locate(const char *explicit_path, const char *home,
    const char *system_path, char *out, size_t outsz)
{
	char user[CONF_PATH_MAX_BYTES];
	int rc;

	if (explicit_path != NULL)
		return copy_path(out, outsz, explicit_path, "");
	if (home != NULL && home[0] != '\0') {
		rc = copy_path(user, sizeof(user), home,
		    home[strlen(home) - 1] == '/' ? CONF_USER_PATH
		                                  : "/" CONF_USER_PATH);
		if (rc == 0 && exists(user))
			return copy_path(out, outsz, user, "");
	}
	if (system_path != NULL && exists(system_path))
		return copy_path(out, outsz, system_path, "");
	if (outsz > 0)
		out[0] = '\0';
	return CT_ERR_NOT_FOUND;
}
