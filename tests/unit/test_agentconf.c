/*
 * Unit tests for agent/conf: the ct-agent config file. The DESIGN.md
 * sample, defaults, comments and CRLF, every key's good and bad values,
 * errors that name FILE:LINE, caps on lines and file size, the CA-file
 * mode keys, and the listen-address helpers.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "testutil.h"

#define F "t.conf"

static char err[CONF_ERR_BYTES];

/* Parses text that must be accepted. */
static struct agent_conf
good(const char *text)
{
	struct agent_conf c;
	int rc = conf_parse(text, strlen(text), F, &c, err, sizeof(err));

	ck_assert_msg(rc == 0, "rejected (%s): %s\n---\n%s", ct_strerror(rc),
	    err, text);
	return c;
}

/* Parses text that must be refused with an error containing want. */
static void
bad(const char *text, const char *want)
{
	struct agent_conf c;
	int rc = conf_parse(text, strlen(text), F, &c, err, sizeof(err));

	ck_assert_msg(rc < 0, "accepted:\n%s", text);
	ck_assert_msg(strstr(err, want) != NULL, "error '%s' lacks '%s'", err,
	    want);
	ck_assert_ptr_null(c.name); /* out is left empty */
	ck_assert_ptr_null(c.cert_dirs);
}

/* A config of "name = web1.example.org" plus one more line. */
static struct agent_conf
good1(const char *line)
{
	char text[CONF_MAX_LINE_BYTES + 64];

	snprintf(text, sizeof(text), "name = web1.example.org\n%s\n", line);
	return good(text);
}

static void
bad1(const char *line, const char *want)
{
	char text[CONF_MAX_LINE_BYTES + 64];

	snprintf(text, sizeof(text), "name = web1.example.org\n%s\n", line);
	bad(text, want);
}

static uint16_t
port_of(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)ss)->sin_port);
	return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
}

START_TEST(test_design_sample)
{
	/* DESIGN.md section 4, verbatim. */
	struct agent_conf c = good(
	    "name            = web1.example.org            # must match what "
	    "pollers ask for\n"
	    "listen          = 0.0.0.0:5660\n"
	    "key             = /etc/ct-agent/agent.key\n"
	    "authorized_keys = /etc/ct-agent/authorized_keys\n"
	    "cert_dirs       = /var/lib/dehydrated/certs /etc/letsencrypt   "
	    "# default: found automatically\n"
	    "store           = /var/lib/ct-agent/store\n"
	    "user            = ct-agent                    # privileges "
	    "dropped to it when started as root\n");

	ck_assert_str_eq(c.name, "web1.example.org");
	ck_assert_str_eq(c.listen, "0.0.0.0:5660");
	ck_assert_int_eq(c.listen_addr.ss_family, AF_INET);
	ck_assert_uint_eq(port_of(&c.listen_addr), 5660);
	ck_assert_str_eq(c.key, "/etc/ct-agent/agent.key");
	ck_assert_str_eq(c.authorized_keys, "/etc/ct-agent/authorized_keys");
	ck_assert_uint_eq(c.n_cert_dirs, 2);
	ck_assert_str_eq(c.cert_dirs[0], "/var/lib/dehydrated/certs");
	ck_assert_str_eq(c.cert_dirs[1], "/etc/letsencrypt");
	ck_assert_str_eq(c.store, "/var/lib/ct-agent/store");
	ck_assert_str_eq(c.user, "ct-agent");
	conf_clear(&c);
	ck_assert_ptr_null(c.name);
	conf_clear(&c); /* twice is harmless */
}
END_TEST

START_TEST(test_defaults)
{
	struct agent_conf c = good("name = web1.example.org\n");

	ck_assert_str_eq(c.listen, CONF_DEFAULT_LISTEN);
	ck_assert_uint_eq(port_of(&c.listen_addr), PROTO_DEFAULT_PORT);
	ck_assert_str_eq(c.key, CONF_DEFAULT_KEY);
	ck_assert_str_eq(c.authorized_keys, CONF_DEFAULT_AUTHORIZED_KEYS);
	ck_assert_str_eq(c.store, CONF_DEFAULT_STORE);
	ck_assert_uint_eq(c.n_cert_dirs, 0); /* found automatically */
	ck_assert_ptr_null(c.user);
	ck_assert_uint_eq(c.rescan_interval_s, CONF_DEFAULT_RESCAN_S);
	ck_assert_uint_eq(c.max_connections, CONF_DEFAULT_MAX_CONNECTIONS);
	ck_assert_uint_eq(c.timeout_ms, CONF_DEFAULT_TIMEOUT_MS);
	ck_assert_uint_eq(c.rate_per_s, CONF_DEFAULT_RATE_PER_S);
	ck_assert_uint_eq(c.rate_burst, CONF_DEFAULT_RATE_BURST);
	ck_assert_int_eq(c.log, CONF_LOG_STDERR);
	conf_clear(&c);
}
END_TEST

START_TEST(test_layout)
{
	/* Comments, blank lines, tabs, CRLF, no final newline, a '#' that
	 * is part of a value (no blank before it). */
	struct agent_conf c = good("# leading comment\r\n"
	                           "\r\n"
	                           "   \t\n"
	                           "\tname\t=\tweb1.example.org\t# tab\r\n"
	                           "  # indented comment\n"
	                           "store=/var/lib/ct#agent\n"
	                           "log = syslog");

	ck_assert_str_eq(c.name, "web1.example.org");
	ck_assert_str_eq(c.store, "/var/lib/ct#agent");
	ck_assert_int_eq(c.log, CONF_LOG_SYSLOG);
	conf_clear(&c);
}
END_TEST

START_TEST(test_name)
{
	struct agent_conf c;
	char label63[64], long_name[400];
	size_t i, n;

	c = good1("");
	conf_clear(&c);
	c = good("name = Web-1.Example.ORG\n");
	ck_assert_str_eq(c.name, "Web-1.Example.ORG"); /* kept as written */
	conf_clear(&c);
	c = good("name = localhost\n");
	conf_clear(&c);
	memset(label63, 'a', 63);
	label63[63] = '\0';
	snprintf(long_name, sizeof(long_name), "name = %s.example.org\n",
	    label63);
	c = good(long_name);
	conf_clear(&c);

	bad("name = web1..example.org\n", F ":1: name:");
	bad("name = .example.org\n", "not a DNS name");
	bad("name = web1.example.org.\n", "not a DNS name");
	bad("name = web_1.example.org\n", "not a DNS name");
	bad("name = *.example.org\n", "not a DNS name");
	bad("name = 192.0.2.10\n", "not a DNS name");
	bad("name = web1 example.org\n", "not a DNS name");
	snprintf(long_name, sizeof(long_name), "name = a%s.example.org\n",
	    label63);
	bad(long_name, "not a DNS name"); /* a 64-byte label */
	/* Five labels of 60 bytes: 304 bytes, over the 253 allowed. */
	n = (size_t)snprintf(long_name, sizeof(long_name), "name = ");
	for (i = 0; i < 5; i++) {
		if (i > 0)
			long_name[n++] = '.';
		memset(long_name + n, 'a', 60);
		n += 60;
	}
	long_name[n] = '\0';
	bad(long_name, "not a DNS name");
}
END_TEST

START_TEST(test_name_required)
{
	bad("listen = 127.0.0.1:5660\n", F ": 'name' is required");
	bad("", F ": 'name' is required");
	bad("# only a comment\n", "'name' is required");
}
END_TEST

START_TEST(test_listen)
{
	struct agent_conf c;
	struct sockaddr_in6 *in6;

	c = good1("listen = 127.0.0.1:0");
	ck_assert_int_eq(c.listen_addr.ss_family, AF_INET);
	ck_assert_uint_eq(port_of(&c.listen_addr), 0);
	conf_clear(&c);
	c = good1("listen = [::]:5660");
	ck_assert_int_eq(c.listen_addr.ss_family, AF_INET6);
	ck_assert_uint_eq(port_of(&c.listen_addr), 5660);
	in6 = (struct sockaddr_in6 *)&c.listen_addr;
	ck_assert(IN6_IS_ADDR_UNSPECIFIED(&in6->sin6_addr));
	conf_clear(&c);
	c = good1("listen = [2001:db8::1]:65535");
	ck_assert_uint_eq(port_of(&c.listen_addr), 65535);
	conf_clear(&c);

	bad1("listen = 5660", F ":2: listen: '5660' is not ADDRESS:PORT");
	bad1("listen = localhost:5660", "not ADDRESS:PORT");
	bad1("listen = 0.0.0.0:65536", "not ADDRESS:PORT");
	bad1("listen = 0.0.0.0:", "not ADDRESS:PORT");
	bad1("listen = 0.0.0.0:56a", "not ADDRESS:PORT");
	bad1("listen = 0.0.0.0:-1", "not ADDRESS:PORT");
	bad1("listen = :5660", "not ADDRESS:PORT");
	bad1("listen = ::1:5660", "not ADDRESS:PORT");
	bad1("listen = [::1]5660", "not ADDRESS:PORT");
	bad1("listen = [::1]:", "not ADDRESS:PORT");
	bad1("listen = [127.0.0.1]:5660", "not ADDRESS:PORT");
	bad1("listen = 256.0.0.1:5660", "not ADDRESS:PORT");
}
END_TEST

START_TEST(test_paths)
{
	struct agent_conf c;

	c = good1("cert_dirs = /a\t/b   /c/d # three");
	ck_assert_uint_eq(c.n_cert_dirs, 3);
	ck_assert_str_eq(c.cert_dirs[0], "/a");
	ck_assert_str_eq(c.cert_dirs[1], "/b");
	ck_assert_str_eq(c.cert_dirs[2], "/c/d");
	conf_clear(&c);

	bad1("key = agent.key", F ":2: key: 'agent.key' is not an absolute");
	bad1("authorized_keys = ./ak", "authorized_keys: './ak' is not");
	bad1("store = ~/store", "store: '~/store' is not an absolute path");
	bad1("cert_dirs = /ok relative/dir",
	    "cert_dirs: 'relative/dir' is not an absolute path");
}
END_TEST

START_TEST(test_cert_dirs_cap)
{
	char text[CONF_MAX_LINE_BYTES];
	size_t off, i;
	struct agent_conf c;

	off = (size_t)snprintf(text, sizeof(text),
	    "name = a.example\ncert_dirs =");
	for (i = 0; i < SCAN_MAX_ROOTS; i++)
		off += (size_t)snprintf(text + off, sizeof(text) - off,
		    " /d%zu", i);
	c = good(text);
	ck_assert_uint_eq(c.n_cert_dirs, SCAN_MAX_ROOTS);
	conf_clear(&c);
	snprintf(text + off, sizeof(text) - off, " /one-more");
	bad(text, "cert_dirs: more than 64 directories");
}
END_TEST

START_TEST(test_tls_ca_mode)
{
	struct agent_conf c;
	char text[CONF_MAX_LINE_BYTES];
	size_t off, i;

	/* Off unless asked for. */
	c = good("name = web1.example.org\n");
	ck_assert_ptr_null(c.tls_ca);
	ck_assert_ptr_null(c.tls_cert);
	ck_assert_ptr_null(c.tls_key);
	ck_assert_uint_eq(c.n_tls_peer_names, 0);
	conf_clear(&c);

	/* Everything, with the key of the certificate apart. */
	c = good("name = web1.example.org\n"
	         "tls_ca = /etc/ct-agent/ca.pem\n"
	         "tls_cert = /etc/ct-agent/agent-cert.pem  # from the CA\n"
	         "tls_key = /etc/ct-agent/agent-cert.key\n"
	         "tls_peer_names = icinga1.example.org\tICINGA2.example.org\n");
	ck_assert_str_eq(c.tls_ca, "/etc/ct-agent/ca.pem");
	ck_assert_str_eq(c.tls_cert, "/etc/ct-agent/agent-cert.pem");
	ck_assert_str_eq(c.tls_key, "/etc/ct-agent/agent-cert.key");
	ck_assert_uint_eq(c.n_tls_peer_names, 2);
	ck_assert_str_eq(c.tls_peer_names[0], "icinga1.example.org");
	ck_assert_str_eq(c.tls_peer_names[1], "ICINGA2.example.org");
	/* authorized_keys still counts (request signatures). */
	ck_assert_str_eq(c.authorized_keys, CONF_DEFAULT_AUTHORIZED_KEYS);
	conf_clear(&c);
	ck_assert_ptr_null(c.tls_peer_names);

	/* tls_key and tls_peer_names are optional. */
	c = good("name = web1.example.org\ntls_ca = /ca.pem\n"
	         "tls_cert = /cert.pem\n");
	ck_assert_ptr_null(c.tls_key);
	ck_assert_uint_eq(c.n_tls_peer_names, 0);
	conf_clear(&c);

	/* Pairs and dependencies, naming the line. */
	bad("name = a.example\ntls_ca = /ca.pem\n",
	    F ":2: 'tls_ca' needs 'tls_cert'");
	bad("name = a.example\n\ntls_cert = /c.pem\n",
	    F ":3: 'tls_cert' belongs to CA-file mode, which needs 'tls_ca'");
	bad("name = a.example\ntls_key = /k.pem\n",
	    F ":2: 'tls_key' belongs to CA-file mode");
	bad("name = a.example\ntls_peer_names = a.example\n",
	    F ":2: 'tls_peer_names' belongs to CA-file mode");
	/* Values. */
	bad1("tls_ca = ca.pem", F ":2: tls_ca: 'ca.pem' is not an absolute");
	bad1("tls_cert = ./c.pem", "tls_cert: './c.pem' is not an absolute");
	bad1("tls_key = k.pem", "tls_key: 'k.pem' is not an absolute");
	bad1("tls_peer_names = good.example bad_name",
	    "tls_peer_names: 'bad_name' is not a DNS name");
	bad1("tls_peer_names = 192.0.2.1",
	    "tls_peer_names: '192.0.2.1' is not a DNS name");
	bad1("tls_peer_names = *.example.org",
	    "tls_peer_names: '*.example.org' is not a DNS name");
	bad1("tls_peer_names =", "'tls_peer_names' needs a value");
	bad("name = a.example\ntls_ca = /a\ntls_cert = /b\ntls_ca = /c\n",
	    F ":4: 'tls_ca' given twice (first on line 2)");

	/* At most TLS_MAX_PEER_NAMES names. */
	off = (size_t)snprintf(text, sizeof(text),
	    "name = a.example\ntls_ca = /ca\ntls_cert = /c\ntls_peer_names =");
	for (i = 0; i < TLS_MAX_PEER_NAMES; i++)
		off += (size_t)snprintf(text + off, sizeof(text) - off,
		    " p%zu.example", i);
	c = good(text);
	ck_assert_uint_eq(c.n_tls_peer_names, TLS_MAX_PEER_NAMES);
	conf_clear(&c);
	snprintf(text + off, sizeof(text) - off, " one-more.example");
	bad(text, "tls_peer_names: more than 64 names");
}
END_TEST

START_TEST(test_durations)
{
	struct agent_conf c;

	c = good1("timeout = 10 s");
	ck_assert_uint_eq(c.timeout_ms, 10000);
	conf_clear(&c);
	c = good1("timeout = 2s");
	ck_assert_uint_eq(c.timeout_ms, 2000);
	conf_clear(&c);
	c = good1("timeout = 500ms");
	ck_assert_uint_eq(c.timeout_ms, 500);
	conf_clear(&c);
	c = good1("timeout = 3");
	ck_assert_uint_eq(c.timeout_ms, 3000);
	conf_clear(&c);
	c = good1("timeout = 5 min");
	ck_assert_uint_eq(c.timeout_ms, 300000);
	conf_clear(&c);
	c = good1("rescan_interval = 2m");
	ck_assert_uint_eq(c.rescan_interval_s, 120);
	conf_clear(&c);
	c = good1("rescan_interval = 1 h");
	ck_assert_uint_eq(c.rescan_interval_s, 3600);
	conf_clear(&c);
	c = good1("rescan_interval = 0");
	ck_assert_uint_eq(c.rescan_interval_s, 0); /* off */
	conf_clear(&c);

	bad1("timeout = 10x", F ":2: timeout: '10x' is not a duration");
	bad1("timeout = s", "is not a duration");
	bad1("timeout = -1", "is not a duration");
	bad1("timeout = 1.5 s", "is not a duration");
	bad1("timeout = 10 s s", "is not a duration");
	bad1("timeout = 99999999999999999999", "is not a duration");
	bad1("timeout = 50ms", "out of range (100 ms .. 300000 ms)");
	bad1("timeout = 301 s", "out of range");
	bad1("timeout = 0", "out of range");
	bad1("rescan_interval = 5", "rescan_interval: '5' is not 0 (off)");
	bad1("rescan_interval = 1500ms", "rescan_interval");
	bad1("rescan_interval = 8 d", "rescan_interval");
	bad1("rescan_interval = 169 h", "rescan_interval");
}
END_TEST

START_TEST(test_numbers)
{
	struct agent_conf c;

	c = good1("max_connections = 1");
	ck_assert_uint_eq(c.max_connections, 1);
	conf_clear(&c);
	c = good1("rate_limit = 0");
	ck_assert_uint_eq(c.rate_per_s, 0); /* unlimited */
	conf_clear(&c);
	/* Without rate_burst, the burst follows a larger rate. */
	c = good1("rate_limit = 1000");
	ck_assert_uint_eq(c.rate_per_s, 1000);
	ck_assert_uint_eq(c.rate_burst, 2000);
	conf_clear(&c);
	c = good("name = a.example\nrate_burst = 7\nrate_limit = 1000\n");
	ck_assert_uint_eq(c.rate_burst, 7);
	conf_clear(&c);

	bad1("max_connections = 0", "max_connections: '0' is out of range");
	bad1("max_connections = 65537", "out of range (1 .. 65536)");
	bad1("max_connections = 12k", "is not a whole number");
	bad1("max_connections = +5", "is not a whole number");
	bad1("rate_limit = 1000001", "rate_limit: '1000001' is out of range");
	bad1("rate_burst = 0", "rate_burst: '0' is out of range");
}
END_TEST

START_TEST(test_user_and_log)
{
	struct agent_conf c;

	c = good1("user = _ct-agent.1");
	ck_assert_str_eq(c.user, "_ct-agent.1");
	conf_clear(&c);
	bad1("user = 1000", "user: '1000' is not a user name");
	bad1("user = -x", "is not a user name");
	bad1("user = root;id", "is not a user name");
	bad1("user = aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "is not a user name");
	bad1("log = journal", "log: 'journal' is not stderr or syslog");
	bad1("log = Stderr", "is not stderr or syslog");
}
END_TEST

START_TEST(test_line_errors)
{
	bad("name = a.example\n\n# c\nbogus = 1\n",
	    F ":4: unknown key 'bogus'");
	bad("name = a.example\nName = b.example\n", F ":2: unknown key 'Name'");
	bad("name = a.example\nstore\n", F ":2: expected 'key = value'");
	bad("name = a.example\nstore /x\n", F ":2: expected 'key = value'");
	bad("name = a.example\n= /x\n", F ":2: expected 'key = value'");
	bad("name = a.example\nstore =\n", F ":2: 'store' needs a value");
	bad("name = a.example\nstore =   # nothing\n", "'store' needs a value");
	bad("name = a.example\nlisten = 127.0.0.1:1\nname = b.example\n",
	    F ":3: 'name' given twice (first on line 1)");
	bad("name = a.example\nstore = /x\x01y\n",
	    F ":2: control character in the line");
	bad("name = a.example\nstore = /x\x7fy\n", "control character");
	/* The file name given is the one in the message. */
	{
		struct agent_conf c;

		ck_assert_int_eq(conf_parse("x = 1\n", 6,
		                     "/etc/ct-agent/ct-agent.conf", &c, err,
		                     sizeof(err)),
		    CT_ERR_FORMAT);
		ck_assert_str_eq(err,
		    "/etc/ct-agent/ct-agent.conf:1: unknown key 'x'");
	}
}
END_TEST

START_TEST(test_nul_byte)
{
	static const char text[] = "name = a.example\nstore = /x\0/y\n";
	struct agent_conf c;

	ck_assert_int_eq(conf_parse(text, sizeof(text) - 1, F, &c, err,
	                     sizeof(err)),
	    CT_ERR_FORMAT);
	ck_assert_msg(strstr(err, F ":2: NUL byte") != NULL, "%s", err);
}
END_TEST

START_TEST(test_caps)
{
	struct agent_conf c;
	char *text;
	size_t n;

	/* A line of exactly CONF_MAX_LINE_BYTES is fine, one more is not. */
	text = malloc(CONF_MAX_FILE_BYTES + 2);
	ck_assert_ptr_nonnull(text);
	n = (size_t)snprintf(text, 64, "name = a.example\n#");
	memset(text + n, 'x', CONF_MAX_LINE_BYTES - 1);
	n += CONF_MAX_LINE_BYTES - 1;
	text[n++] = '\n';
	ck_assert_int_eq(conf_parse(text, n, F, &c, err, sizeof(err)), 0);
	conf_clear(&c);
	text[n - 1] = 'x';
	text[n++] = '\n';
	ck_assert_int_eq(conf_parse(text, n, F, &c, err, sizeof(err)),
	    CT_ERR_TOO_BIG);
	ck_assert_msg(strstr(err, F ":2: line longer than 4096 bytes") != NULL,
	    "%s", err);

	/* A file over the cap is refused whole, before any line. */
	memset(text, '\n', CONF_MAX_FILE_BYTES + 1);
	memcpy(text, "name = a.example", 16);
	ck_assert_int_eq(conf_parse(text, CONF_MAX_FILE_BYTES, F, &c, err,
	                     sizeof(err)),
	    0);
	conf_clear(&c);
	ck_assert_int_eq(conf_parse(text, CONF_MAX_FILE_BYTES + 1, F, &c, err,
	                     sizeof(err)),
	    CT_ERR_TOO_BIG);
	ck_assert_msg(strstr(err, "larger than 65536 bytes") != NULL, "%s",
	    err);
	free(text);
}
END_TEST

START_TEST(test_quote_sanitised)
{
	/* An offending value is quoted without its control bytes, cut. */
	char line[600];

	memcpy(line, "user = ", 7);
	memset(line + 7, 'u', 500);
	line[507] = '\0';
	bad1(line, "user: 'uuuu");
	ck_assert_msg(strlen(err) < 200, "error not cut: %zu bytes",
	    strlen(err));
	ck_assert_msg(strstr(err, "...") != NULL, "%s", err);
}
END_TEST

START_TEST(test_load)
{
	struct agent_conf c;
	char path[] = "/tmp/test_agentconf.XXXXXX";
	int fd;

	ck_assert_int_eq(conf_load("/nonexistent/ct-agent.conf", &c, err,
	                     sizeof(err)),
	    CT_ERR_IO);
	ck_assert_str_eq(err,
	    "/nonexistent/ct-agent.conf: No such file or directory");

	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "name = f.example\nlog = nope\n", 28), 28);
	close(fd);
	ck_assert_int_eq(conf_load(path, &c, err, sizeof(err)), CT_ERR_FORMAT);
	ck_assert_msg(strncmp(err, path, strlen(path)) == 0 &&
	        strncmp(err + strlen(path), ":2: log:", 8) == 0,
	    "%s", err);
	fd = open(path, O_WRONLY | O_TRUNC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "name = f.example\n", 17), 17);
	close(fd);
	ck_assert_int_eq(conf_load(path, &c, err, sizeof(err)), 0);
	ck_assert_str_eq(c.name, "f.example");
	conf_clear(&c);
	unlink(path);
}
END_TEST

START_TEST(test_addr_helpers)
{
	struct sockaddr_storage a, b;
	char text[CONF_ADDR_TEXT_BYTES];

	ck_assert_int_eq(conf_parse_listen("192.0.2.1:5660", 14, &a), 0);
	conf_format_addr((struct sockaddr *)&a, text, sizeof(text));
	ck_assert_str_eq(text, "192.0.2.1:5660");
	ck_assert_int_eq(conf_parse_listen("[2001:db8::1]:80", 16, &b), 0);
	conf_format_addr((struct sockaddr *)&b, text, sizeof(text));
	ck_assert_str_eq(text, "[2001:db8::1]:80");
	ck_assert(!conf_same_addr(&a, &b));
	ck_assert(conf_same_addr(&a, &a));
	ck_assert_int_eq(conf_parse_listen("192.0.2.1:5661", 14, &b), 0);
	ck_assert(!conf_same_addr(&a, &b)); /* the port counts */
	ck_assert_int_eq(conf_parse_listen("192.0.2.2:5660", 14, &b), 0);
	ck_assert(!conf_same_addr(&a, &b));
	/* Only n bytes are read. */
	ck_assert_int_eq(conf_parse_listen("192.0.2.1:56601", 14, &b), 0);
	ck_assert(conf_same_addr(&a, &b));
	ck_assert_int_eq(conf_parse_listen("1.2.3.4:5\0", 10, &b),
	    CT_ERR_FORMAT);
	memset(&b, 0, sizeof(b));
	conf_format_addr((struct sockaddr *)&b, text, sizeof(text));
	ck_assert_str_eq(text, "?");

	ck_assert(conf_name_ok("a", 1));
	ck_assert(conf_name_ok("web1.example.org", 16));
	ck_assert(!conf_name_ok("", 0));
	ck_assert(!conf_name_ok("a\0b", 3));
	ck_assert(!conf_name_ok("10.0.0.1", 8));
}
END_TEST

static Suite *
agentconf_suite(void)
{
	Suite *s = suite_create("agentconf");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_design_sample);
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_layout);
	tcase_add_test(tc, test_name);
	tcase_add_test(tc, test_name_required);
	tcase_add_test(tc, test_listen);
	tcase_add_test(tc, test_paths);
	tcase_add_test(tc, test_cert_dirs_cap);
	tcase_add_test(tc, test_tls_ca_mode);
	tcase_add_test(tc, test_durations);
	tcase_add_test(tc, test_numbers);
	tcase_add_test(tc, test_user_and_log);
	tcase_add_test(tc, test_line_errors);
	tcase_add_test(tc, test_nul_byte);
	tcase_add_test(tc, test_caps);
	tcase_add_test(tc, test_quote_sanitised);
	tcase_add_test(tc, test_load);
	tcase_add_test(tc, test_addr_helpers);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return testutil_run(agentconf_suite());
}
