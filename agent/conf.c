/*
 * conf: the agent's config file (DESIGN.md section 4).
 *
 *	# comment
 *	key = value		# a '#' after a blank starts a comment
 *
 * Keys: name (required), listen, key, authorized_keys, cert_dirs (paths
 * separated by blanks), store, user, rescan_interval, timeout (durations:
 * a number with an optional unit ms, s, m, h; seconds without one),
 * max_connections, rate_limit, rate_burst, log (stderr | syslog). An
 * unknown key, a key given twice, a value that does not parse and a line
 * without '=' are errors naming FILE:LINE.
 *
 * CA-file mode (tls.h): tls_ca (PEM trust anchors for poller
 * certificates) turns it on and needs tls_cert (this agent's PEM chain,
 * leaf first); tls_key is that certificate's PEM key (absent: the
 * certificate must be for `key`, the agent's Ed25519 key); tls_peer_names
 * (DNS names separated by blanks, at most TLS_MAX_PEER_NAMES) limits the
 * poller certificates accepted to those naming one of them. tls_cert,
 * tls_key and tls_peer_names without tls_ca are errors. Requests are
 * still signed and checked against authorized_keys in this mode.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "names.h"
#include "util.h"

#define CONF_MAX_USER_BYTES 32
#define CONF_PORT_MAX 65535
/* Longest text of an offending value quoted in an error. */
#define CONF_QUOTE_BYTES 80

const char *const conf_log_names[CONF_LOG__MAX] = {"stderr", "syslog"};

enum conf_key {
	K_NAME,
	K_LISTEN,
	K_KEY,
	K_AUTHORIZED_KEYS,
	K_CERT_DIRS,
	K_STORE,
	K_USER,
	K_RESCAN_INTERVAL,
	K_MAX_CONNECTIONS,
	K_TIMEOUT,
	K_RATE_LIMIT,
	K_RATE_BURST,
	K_LOG,
	K_TLS_CA,
	K_TLS_CERT,
	K_TLS_KEY,
	K_TLS_PEER_NAMES,
	K__MAX
};

static const char *const key_names[K__MAX] = {"name", "listen", "key",
    "authorized_keys", "cert_dirs", "store", "user", "rescan_interval",
    "max_connections", "timeout", "rate_limit", "rate_burst", "log", "tls_ca",
    "tls_cert", "tls_key", "tls_peer_names"};

/* The parser's state: where we are, for error texts. */
struct parser {
	const char *file;
	size_t line;
	size_t seen_on[K__MAX]; /* line of each key, 0 when not yet seen */
	char *err;
	size_t errsz;
};

static void perr(struct parser *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* "FILE:LINE: " + the message. */
static void
perr(struct parser *p, const char *fmt, ...)
{
	char msg[CONF_ERR_BYTES];
	va_list ap;

	if (p->err == NULL || p->errsz == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (p->line > 0)
		snprintf(p->err, p->errsz, "%s:%zu: %s", p->file, p->line, msg);
	else
		snprintf(p->err, p->errsz, "%s: %s", p->file, msg);
}

/* A sanitised, cut copy of bytes for an error text. */
static void
quote(const char *s, size_t n, char out[CONF_QUOTE_BYTES])
{
	util_sanitize(s, n, out, CONF_QUOTE_BYTES);
}

static bool
is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static char *
dup_n(const char *s, size_t n)
{
	char *p = malloc(n + 1);

	if (p != NULL) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

/* ------------------------------------------------------------ values */

bool
conf_name_ok(const char *s, size_t n)
{
	size_t i, label = 0;

	if (n < 1 || n > PROTO_NAME_MAX_BYTES)
		return false;
	for (i = 0; i < n; i++) {
		if (s[i] == '.') {
			if (label == 0)
				return false;
			label = 0;
			continue;
		}
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		        (s[i] >= 'A' && s[i] <= 'Z') ||
		        (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return false;
		if (++label > NAMES_MAX_LABEL_BYTES)
			return false;
	}
	return label > 0 && names_classify(s, n) == NAMES_KIND_DNS;
}

int
conf_parse_listen(const char *s, size_t n, struct sockaddr_storage *ss)
{
	char host[INET6_ADDRSTRLEN + 1];
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	const char *colon, *port, *hstart;
	size_t hlen;
	uint64_t pnum;
	bool v6;

	memset(ss, 0, sizeof(*ss));
	if (n == 0 || memchr(s, '\0', n) != NULL)
		return CT_ERR_FORMAT;
	if (s[0] == '[') {
		if ((colon = memchr(s, ']', n)) == NULL ||
		    (size_t)(colon - s) + 1 >= n || colon[1] != ':')
			return CT_ERR_FORMAT;
		hstart = s + 1;
		hlen = (size_t)(colon - s) - 1;
		port = colon + 2;
		v6 = true;
	} else {
		for (colon = s + n; colon > s && colon[-1] != ':'; colon--)
			;
		if (colon == s)
			return CT_ERR_FORMAT;
		hstart = s;
		hlen = (size_t)(colon - s) - 1;
		port = colon;
		v6 = false;
	}
	if (hlen == 0 || hlen >= sizeof(host))
		return CT_ERR_FORMAT;
	memcpy(host, hstart, hlen);
	host[hlen] = '\0';
	if (util_parse_u64(port, n - (size_t)(port - s), CONF_PORT_MAX,
	        &pnum) != 0)
		return CT_ERR_FORMAT;
	if (v6) {
		if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1)
			return CT_ERR_FORMAT;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)pnum);
	} else {
		if (inet_pton(AF_INET, host, &in4->sin_addr) != 1)
			return CT_ERR_FORMAT;
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)pnum);
	}
	return 0;
}

void
conf_format_addr(const struct sockaddr *sa, char *out, size_t outsz)
{
	char host[INET6_ADDRSTRLEN];
	const struct sockaddr_in *in4 = (const struct sockaddr_in *)sa;
	const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

	if (sa != NULL && sa->sa_family == AF_INET &&
	    inet_ntop(AF_INET, &in4->sin_addr, host, sizeof(host)) != NULL)
		snprintf(out, outsz, "%s:%u", host, ntohs(in4->sin_port));
	else if (sa != NULL && sa->sa_family == AF_INET6 &&
	    inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host)) != NULL)
		snprintf(out, outsz, "[%s]:%u", host, ntohs(in6->sin6_port));
	else
		snprintf(out, outsz, "?");
}

bool
conf_same_addr(const struct sockaddr_storage *a,
    const struct sockaddr_storage *b)
{
	const struct sockaddr_in *a4 = (const struct sockaddr_in *)a;
	const struct sockaddr_in *b4 = (const struct sockaddr_in *)b;
	const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)a;
	const struct sockaddr_in6 *b6 = (const struct sockaddr_in6 *)b;

	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return a4->sin_port == b4->sin_port &&
		    a4->sin_addr.s_addr == b4->sin_addr.s_addr;
	if (a->ss_family == AF_INET6)
		return a6->sin6_port == b6->sin6_port &&
		    memcmp(&a6->sin6_addr, &b6->sin6_addr,
		        sizeof(a6->sin6_addr)) == 0;
	return false;
}

/*
 * A duration: digits, optional blanks, an optional unit (ms, s, sec, m,
 * min, h; seconds when absent). 0 and *ms set, or CT_ERR_FORMAT /
 * CT_ERR_TOO_BIG.
 */
static int
parse_duration_ms(const char *s, size_t n, uint64_t *ms)
{
	static const struct {
		const char *unit;
		uint64_t ms;
	} units[] = {{"ms", 1}, {"s", 1000}, {"sec", 1000}, {"m", 60000},
	    {"min", 60000}, {"h", 3600000}};
	size_t d = 0, u, i;
	uint64_t v, mult = 1000;
	int rc;

	while (d < n && s[d] >= '0' && s[d] <= '9')
		d++;
	if ((rc = util_parse_u64(s, d, UINT32_MAX, &v)) != 0)
		return rc;
	for (u = d; u < n && is_blank(s[u]); u++)
		;
	if (u < n) {
		for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
			if (strlen(units[i].unit) == n - u &&
			    memcmp(units[i].unit, s + u, n - u) == 0)
				break;
		if (i == sizeof(units) / sizeof(units[0]))
			return CT_ERR_FORMAT;
		mult = units[i].ms;
	}
	*ms = v * mult; /* at most 2^32 * 3.6e6 < 2^64 */
	return 0;
}

/* An absolute path without control bytes, at most PATH_MAX - 1 bytes. */
static bool
path_ok(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n >= PATH_MAX || s[0] != '/')
		return false;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] == 0x7f)
			return false;
	return true;
}

/* A user name as adduser allows: [A-Za-z_][A-Za-z0-9_.-]*, <= 32. */
static bool
user_ok(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > CONF_MAX_USER_BYTES ||
	    !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') ||
	        s[0] == '_'))
		return false;
	for (i = 1; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		        (s[i] >= 'A' && s[i] <= 'Z') ||
		        (s[i] >= '0' && s[i] <= '9') || s[i] == '_' ||
		        s[i] == '.' || s[i] == '-'))
			return false;
	return true;
}

static int
set_str(struct parser *p, char **dst, const char *v, size_t n)
{
	char *s;

	if ((s = dup_n(v, n)) == NULL) {
		perr(p, "out of memory");
		return CT_ERR_NOMEM;
	}
	free(*dst);
	*dst = s;
	return 0;
}

static int
set_path(struct parser *p, enum conf_key k, char **dst, const char *v, size_t n)
{
	char q[CONF_QUOTE_BYTES];

	if (!path_ok(v, n)) {
		quote(v, n, q);
		perr(p, "%s: '%s' is not an absolute path", key_names[k], q);
		return CT_ERR_FORMAT;
	}
	return set_str(p, dst, v, n);
}

static int
set_cert_dirs(struct parser *p, struct agent_conf *c, const char *v, size_t n)
{
	char q[CONF_QUOTE_BYTES];
	size_t i = 0, start;
	int rc;

	while (i < n) {
		while (i < n && is_blank(v[i]))
			i++;
		if (i == n)
			break;
		for (start = i; i < n && !is_blank(v[i]); i++)
			;
		if (!path_ok(v + start, i - start)) {
			quote(v + start, i - start, q);
			perr(p, "cert_dirs: '%s' is not an absolute path", q);
			return CT_ERR_FORMAT;
		}
		if (c->n_cert_dirs == SCAN_MAX_ROOTS) {
			perr(p, "cert_dirs: more than %d directories",
			    SCAN_MAX_ROOTS);
			return CT_ERR_TOO_BIG;
		}
		if (c->cert_dirs == NULL &&
		    (c->cert_dirs = calloc(SCAN_MAX_ROOTS,
		         sizeof(*c->cert_dirs))) == NULL) {
			perr(p, "out of memory");
			return CT_ERR_NOMEM;
		}
		rc = set_str(p, &c->cert_dirs[c->n_cert_dirs], v + start,
		    i - start);
		if (rc != 0)
			return rc;
		c->n_cert_dirs++;
	}
	return 0;
}

/* DNS names separated by blanks (the poller certificates accepted). */
static int
set_peer_names(struct parser *p, struct agent_conf *c, const char *v, size_t n)
{
	char q[CONF_QUOTE_BYTES];
	size_t i = 0, start;
	int rc;

	while (i < n) {
		while (i < n && is_blank(v[i]))
			i++;
		if (i == n)
			break;
		for (start = i; i < n && !is_blank(v[i]); i++)
			;
		if (!conf_name_ok(v + start, i - start)) {
			quote(v + start, i - start, q);
			perr(p, "tls_peer_names: '%s' is not a DNS name", q);
			return CT_ERR_FORMAT;
		}
		if (c->n_tls_peer_names == TLS_MAX_PEER_NAMES) {
			perr(p, "tls_peer_names: more than %d names",
			    TLS_MAX_PEER_NAMES);
			return CT_ERR_TOO_BIG;
		}
		if (c->tls_peer_names == NULL &&
		    (c->tls_peer_names = calloc(TLS_MAX_PEER_NAMES,
		         sizeof(*c->tls_peer_names))) == NULL) {
			perr(p, "out of memory");
			return CT_ERR_NOMEM;
		}
		rc = set_str(p, &c->tls_peer_names[c->n_tls_peer_names],
		    v + start, i - start);
		if (rc != 0)
			return rc;
		c->n_tls_peer_names++;
	}
	return 0;
}

/* A number in [min, max] (a duration when as_ms; then in ms). */
static int
set_num(struct parser *p, enum conf_key k, uint64_t *dst, const char *v,
    size_t n, uint64_t min, uint64_t max, bool as_ms)
{
	char q[CONF_QUOTE_BYTES];
	uint64_t x;
	int rc;

	rc = as_ms ? parse_duration_ms(v, n, &x)
	           : util_parse_u64(v, n, UINT64_MAX, &x);
	quote(v, n, q);
	if (rc != 0) {
		perr(p, "%s: '%s' is not %s", key_names[k], q,
		    as_ms ? "a duration (e.g. 10 s, 500 ms, 5 m)"
		          : "a whole number");
		return CT_ERR_FORMAT;
	}
	if (x < min || x > max) {
		if (as_ms)
			perr(p, "%s: '%s' is out of range (%llu ms .. %llu ms)",
			    key_names[k], q, (unsigned long long)min,
			    (unsigned long long)max);
		else
			perr(p, "%s: '%s' is out of range (%llu .. %llu)",
			    key_names[k], q, (unsigned long long)min,
			    (unsigned long long)max);
		return CT_ERR_FORMAT;
	}
	*dst = x;
	return 0;
}

static int
set_rescan(struct parser *p, struct agent_conf *c, const char *v, size_t n)
{
	char q[CONF_QUOTE_BYTES];
	uint64_t ms;

	if (parse_duration_ms(v, n, &ms) != 0 || ms % 1000 != 0 ||
	    (ms != 0 &&
	        (ms < CONF_MIN_RESCAN_S * 1000 ||
	            ms > (uint64_t)CONF_MAX_RESCAN_S * 1000))) {
		quote(v, n, q);
		perr(p,
		    "rescan_interval: '%s' is not 0 (off) or whole seconds "
		    "from %d s to %d s",
		    q, CONF_MIN_RESCAN_S, CONF_MAX_RESCAN_S);
		return CT_ERR_FORMAT;
	}
	c->rescan_interval_s = ms / 1000;
	return 0;
}

/* Stores one key's value; v is trimmed and non-empty. */
static int
set_value(struct parser *p, struct agent_conf *c, enum conf_key k,
    const char *v, size_t n)
{
	char q[CONF_QUOTE_BYTES];
	size_t i;

	quote(v, n, q);
	switch (k) {
	case K_NAME:
		if (!conf_name_ok(v, n)) {
			perr(p,
			    "name: '%s' is not a DNS name (letters, digits, "
			    "'-', labels of 1..63 joined by single dots, no "
			    "trailing dot, not an IP address)",
			    q);
			return CT_ERR_FORMAT;
		}
		return set_str(p, &c->name, v, n);
	case K_LISTEN:
		if (conf_parse_listen(v, n, &c->listen_addr) != 0) {
			perr(p,
			    "listen: '%s' is not ADDRESS:PORT (e.g. "
			    "0.0.0.0:5660 or [::]:5660)",
			    q);
			return CT_ERR_FORMAT;
		}
		return set_str(p, &c->listen, v, n);
	case K_KEY:
		return set_path(p, k, &c->key, v, n);
	case K_AUTHORIZED_KEYS:
		return set_path(p, k, &c->authorized_keys, v, n);
	case K_CERT_DIRS:
		return set_cert_dirs(p, c, v, n);
	case K_STORE:
		return set_path(p, k, &c->store, v, n);
	case K_USER:
		if (!user_ok(v, n)) {
			perr(p, "user: '%s' is not a user name", q);
			return CT_ERR_FORMAT;
		}
		return set_str(p, &c->user, v, n);
	case K_RESCAN_INTERVAL:
		return set_rescan(p, c, v, n);
	case K_MAX_CONNECTIONS:
		return set_num(p, k, &c->max_connections, v, n, 1,
		    CONF_MAX_MAX_CONNECTIONS, false);
	case K_TIMEOUT:
		return set_num(p, k, &c->timeout_ms, v, n, CONF_MIN_TIMEOUT_MS,
		    CONF_MAX_TIMEOUT_MS, true);
	case K_RATE_LIMIT:
		return set_num(p, k, &c->rate_per_s, v, n, 0, CONF_MAX_RATE,
		    false);
	case K_RATE_BURST:
		return set_num(p, k, &c->rate_burst, v, n, 1, CONF_MAX_RATE,
		    false);
	case K_LOG:
		for (i = 0; i < CONF_LOG__MAX; i++)
			if (strlen(conf_log_names[i]) == n &&
			    memcmp(conf_log_names[i], v, n) == 0) {
				c->log = (enum conf_log)i;
				return 0;
			}
		perr(p, "log: '%s' is not stderr or syslog", q);
		return CT_ERR_FORMAT;
	case K_TLS_CA:
		return set_path(p, k, &c->tls_ca, v, n);
	case K_TLS_CERT:
		return set_path(p, k, &c->tls_cert, v, n);
	case K_TLS_KEY:
		return set_path(p, k, &c->tls_key, v, n);
	case K_TLS_PEER_NAMES:
		return set_peer_names(p, c, v, n);
	default:
		return CT_ERR_INVALID;
	}
}

/* ------------------------------------------------------------ lines */

/* Parses one line (no newline). */
static int
parse_line(struct parser *p, struct agent_conf *c, const char *s, size_t n)
{
	char q[CONF_QUOTE_BYTES];
	size_t i = 0, ks, kn, vs, ve, k;

	while (i < n && is_blank(s[i]))
		i++;
	if (i == n || s[i] == '#')
		return 0;
	for (k = i; k < n; k++)
		if (((unsigned char)s[k] < 0x20 && s[k] != '\t') ||
		    s[k] == 0x7f) {
			perr(p, "control character in the line");
			return CT_ERR_FORMAT;
		}
	for (ks = i; i < n && s[i] != '=' && !is_blank(s[i]); i++)
		;
	kn = i - ks;
	while (i < n && is_blank(s[i]))
		i++;
	if (i == n || s[i] != '=' || kn == 0) {
		quote(s + ks, n - ks, q);
		perr(p, "expected 'key = value', got '%s'", q);
		return CT_ERR_FORMAT;
	}
	for (k = 0; k < K__MAX; k++)
		if (strlen(key_names[k]) == kn &&
		    memcmp(key_names[k], s + ks, kn) == 0)
			break;
	if (k == K__MAX) {
		quote(s + ks, kn, q);
		perr(p, "unknown key '%s'", q);
		return CT_ERR_FORMAT;
	}
	if (p->seen_on[k] != 0) {
		perr(p, "'%s' given twice (first on line %zu)", key_names[k],
		    p->seen_on[k]);
		return CT_ERR_FORMAT;
	}
	p->seen_on[k] = p->line;
	/* The value: up to a '#' at its start or after a blank. */
	for (vs = i + 1; vs < n && is_blank(s[vs]); vs++)
		;
	for (ve = vs; ve < n; ve++)
		if (s[ve] == '#' && (ve == vs || is_blank(s[ve - 1])))
			break;
	while (ve > vs && is_blank(s[ve - 1]))
		ve--;
	if (ve == vs) {
		perr(p, "'%s' needs a value", key_names[k]);
		return CT_ERR_FORMAT;
	}
	return set_value(p, c, (enum conf_key)k, s + vs, ve - vs);
}

/* CA-file mode: tls_ca and tls_cert together, the others only with them. */
static int
check_tls(struct parser *p, const struct agent_conf *c)
{
	static const enum conf_key needs_ca[] = {K_TLS_CERT, K_TLS_KEY,
	    K_TLS_PEER_NAMES};
	size_t i;

	if (c->tls_ca == NULL) {
		for (i = 0; i < sizeof(needs_ca) / sizeof(needs_ca[0]); i++)
			if (p->seen_on[needs_ca[i]] != 0) {
				p->line = p->seen_on[needs_ca[i]];
				perr(p,
				    "'%s' belongs to CA-file mode, which needs "
				    "'tls_ca' (the CA file for poller "
				    "certificates)",
				    key_names[needs_ca[i]]);
				return CT_ERR_FORMAT;
			}
		return 0;
	}
	if (c->tls_cert == NULL) {
		p->line = p->seen_on[K_TLS_CA];
		perr(p,
		    "'tls_ca' needs 'tls_cert' (this agent's certificate, "
		    "issued by the site CA)");
		return CT_ERR_FORMAT;
	}
	return 0;
}

/* Fills in what the file did not say. */
static int
set_defaults(struct parser *p, struct agent_conf *c)
{
	int rc;

	if ((rc = check_tls(p, c)) != 0)
		return rc;
	p->line = 0;
	if (c->name == NULL) {
		perr(p, "'name' is required (the agent name pollers ask for)");
		return CT_ERR_FORMAT;
	}
	if (c->listen == NULL &&
	    (set_str(p, &c->listen, CONF_DEFAULT_LISTEN,
	         strlen(CONF_DEFAULT_LISTEN)) != 0 ||
	        conf_parse_listen(c->listen, strlen(c->listen),
	            &c->listen_addr) != 0))
		return CT_ERR_NOMEM;
	if ((c->key == NULL &&
	        set_str(p, &c->key, CONF_DEFAULT_KEY,
	            strlen(CONF_DEFAULT_KEY)) != 0) ||
	    (c->authorized_keys == NULL &&
	        set_str(p, &c->authorized_keys, CONF_DEFAULT_AUTHORIZED_KEYS,
	            strlen(CONF_DEFAULT_AUTHORIZED_KEYS)) != 0) ||
	    (c->store == NULL &&
	        set_str(p, &c->store, CONF_DEFAULT_STORE,
	            strlen(CONF_DEFAULT_STORE)) != 0))
		return CT_ERR_NOMEM;
	if (p->seen_on[K_RESCAN_INTERVAL] == 0)
		c->rescan_interval_s = CONF_DEFAULT_RESCAN_S;
	if (p->seen_on[K_MAX_CONNECTIONS] == 0)
		c->max_connections = CONF_DEFAULT_MAX_CONNECTIONS;
	if (p->seen_on[K_TIMEOUT] == 0)
		c->timeout_ms = CONF_DEFAULT_TIMEOUT_MS;
	if (p->seen_on[K_RATE_LIMIT] == 0)
		c->rate_per_s = CONF_DEFAULT_RATE_PER_S;
	if (p->seen_on[K_RATE_BURST] == 0)
		c->rate_burst = c->rate_per_s > CONF_DEFAULT_RATE_BURST / 2
		    ? c->rate_per_s * 2
		    : CONF_DEFAULT_RATE_BURST;
	if (c->rate_burst > CONF_MAX_RATE)
		c->rate_burst = CONF_MAX_RATE;
	return 0;
}

int
conf_parse(const char *text, size_t len, const char *file,
    struct agent_conf *out, char *err, size_t errsz)
{
	struct parser p;
	const char *nl;
	size_t off = 0, n;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	memset(&p, 0, sizeof(p));
	p.file = file != NULL ? file : "(config)";
	p.err = err;
	p.errsz = errsz;
	if (err != NULL && errsz > 0)
		err[0] = '\0';
	if (len > CONF_MAX_FILE_BYTES) {
		perr(&p, "larger than %d bytes", CONF_MAX_FILE_BYTES);
		return CT_ERR_TOO_BIG;
	}
	while (off < len && rc == 0) {
		p.line++;
		nl = memchr(text + off, '\n', len - off);
		n = nl != NULL ? (size_t)(nl - (text + off)) : len - off;
		if (n > CONF_MAX_LINE_BYTES) {
			perr(&p, "line longer than %d bytes",
			    CONF_MAX_LINE_BYTES);
			rc = CT_ERR_TOO_BIG;
			break;
		}
		if (memchr(text + off, '\0', n) != NULL) {
			perr(&p, "NUL byte in the line");
			rc = CT_ERR_FORMAT;
			break;
		}
		if (n > 0 && text[off + n - 1] == '\r')
			rc = parse_line(&p, out, text + off, n - 1);
		else
			rc = parse_line(&p, out, text + off, n);
		off += n + (nl != NULL);
	}
	if (rc == 0)
		rc = set_defaults(&p, out);
	if (rc != 0)
		conf_clear(out);
	return rc;
}

int
conf_load(const char *path, struct agent_conf *out, char *err, size_t errsz)
{
	uint8_t *text = NULL;
	size_t len = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = util_read_file(path, CONF_MAX_FILE_BYTES, &text, &len);
	if (rc != 0) {
		if (rc == CT_ERR_IO)
			snprintf(err, errsz, "%s: %s", path, strerror(errno));
		else if (rc == CT_ERR_TOO_BIG)
			snprintf(err, errsz, "%s: larger than %d bytes", path,
			    CONF_MAX_FILE_BYTES);
		else
			snprintf(err, errsz, "%s: %s", path, ct_strerror(rc));
		return rc;
	}
	rc = conf_parse((const char *)text, len, path, out, err, errsz);
	free(text);
	return rc;
}

void
conf_clear(struct agent_conf *c)
{
	size_t i;

	if (c == NULL)
		return;
	free(c->name);
	free(c->listen);
	free(c->key);
	free(c->authorized_keys);
	for (i = 0; i < c->n_cert_dirs; i++)
		free(c->cert_dirs[i]);
	free(c->cert_dirs);
	free(c->store);
	free(c->user);
	free(c->tls_ca);
	free(c->tls_cert);
	free(c->tls_key);
	for (i = 0; i < c->n_tls_peer_names; i++)
		free(c->tls_peer_names[i]);
	free(c->tls_peer_names);
	memset(c, 0, sizeof(*c));
}
