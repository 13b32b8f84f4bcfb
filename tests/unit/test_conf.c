/*
 * conf: the poller config of DESIGN.md section 4: a full file with
 * comments, every host form, relative key paths, the CA-file mode
 * settings; every kind of bad line
 * named by FILE:LINE; caps; HOST[:PORT] parsing; where the file is found.
 */
#include <wolfssl/options.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "keys.h"
#include "testutil.h"
#include "util.h"

/* Two public keys (32 bytes of 0x01 and of 0x02, base64). */
#define KEY1 "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="
#define KEY2 "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI="

static int
parse(const char *text, struct conf *c, char *err)
{
	return conf_parse(text, strlen(text), "/etc/ct/ct.conf", c, err,
	    CONF_ERROR_BYTES);
}

START_TEST(test_full_file)
{
	struct conf c;
	char err[CONF_ERROR_BYTES];
	const struct conf_agent *a;
	const char *text =
	    "# poller config\n"
	    "\n"
	    "   key=poller.key   # relative to the config's directory\n"
	    "agent web1.example.org = 192.0.2.10:5660 ct-ed25519 " KEY1
	    " web1 agent   # name = address, pinned key\n"
	    "\tagent   Web2.Example.Org\t=\t[2001:db8::2]  ct-ed25519 " KEY2
	    "\r\n"
	    "agent web3 = [2001:db8::3]:6000 ct-ed25519 " KEY1 "\n"
	    "agent web4.example.org = web4.example.org ct-ed25519 " KEY2 "\n"
	    "agent mail = mail.example.org.:1 ct-ed25519 " KEY2 "\n"
	    "#agent off = 1.2.3.4 ct-ed25519 " KEY1;

	ck_assert_msg(parse(text, &c, err) == 0, "%s", err);
	ck_assert_str_eq(c.path, "/etc/ct/ct.conf");
	ck_assert_str_eq(c.key_path, "/etc/ct/poller.key");
	ck_assert_uint_eq(c.key_line, 3);
	ck_assert_uint_eq(c.n_agents, 5);

	a = conf_find_agent(&c, "WEB1.example.org");
	ck_assert_ptr_nonnull(a);
	ck_assert_str_eq(a->name, "web1.example.org");
	ck_assert_str_eq(a->host, "192.0.2.10");
	ck_assert_uint_eq(a->port, 5660);
	ck_assert_uint_eq(a->key.pub[0], 1);
	ck_assert_str_eq(a->key.comment, "web1 agent");
	ck_assert_uint_eq(a->key.line, 4);

	a = conf_find_agent(&c, "web2.example.org");
	ck_assert_ptr_nonnull(a);
	ck_assert_str_eq(a->name, "Web2.Example.Org");
	ck_assert_str_eq(a->host, "2001:db8::2");
	ck_assert_uint_eq(a->port, CONF_DEFAULT_PORT);
	ck_assert_uint_eq(a->key.pub[31], 2);
	ck_assert_str_eq(a->key.comment, "");

	a = conf_find_agent(&c, "web3");
	ck_assert_ptr_nonnull(a);
	ck_assert_str_eq(a->host, "2001:db8::3");
	ck_assert_uint_eq(a->port, 6000);

	a = conf_find_agent(&c, "web4.example.org");
	ck_assert_str_eq(a->host, "web4.example.org");
	a = conf_find_agent(&c, "mail");
	ck_assert_str_eq(a->host, "mail.example.org.");
	ck_assert_uint_eq(a->port, 1);

	ck_assert_ptr_null(conf_find_agent(&c, "off"));
	ck_assert_ptr_null(conf_find_agent(&c, "web1"));
	ck_assert_ptr_null(conf_find_agent(NULL, "web1"));
	conf_free(&c);
	conf_free(&c); /* twice is harmless */
	conf_free(NULL);
}
END_TEST

START_TEST(test_key_paths)
{
	struct conf c;
	char err[CONF_ERROR_BYTES];

	ck_assert_int_eq(parse("key = /abs/p.key\n", &c, err), 0);
	ck_assert_str_eq(c.key_path, "/abs/p.key");
	conf_free(&c);
	ck_assert_int_eq(conf_parse("key = p.key", 11, "ct.conf", &c, err,
	                     sizeof(err)),
	    0);
	ck_assert_str_eq(c.key_path, "p.key"); /* origin has no directory */
	conf_free(&c);
	ck_assert_int_eq(conf_parse("key = k/p.key", 13, "./x/ct.conf", &c, err,
	                     sizeof(err)),
	    0);
	ck_assert_str_eq(c.key_path, "./x/k/p.key");
	conf_free(&c);
	/* An empty file, and one of comments only. */
	ck_assert_int_eq(parse("", &c, err), 0);
	ck_assert_ptr_null(c.key_path);
	ck_assert_uint_eq(c.n_agents, 0);
	conf_free(&c);
	ck_assert_int_eq(parse("# x\n\n   # y\n", &c, err), 0);
	conf_free(&c);
}
END_TEST

/* Each bad text fails with rc and err == "/etc/ct/ct.conf:LINE: ..." */
static void
expect_bad(const char *text, int rc, size_t line, const char *reason)
{
	struct conf c;
	char err[CONF_ERROR_BYTES], want[64];

	ck_assert_msg(parse(text, &c, err) == rc, "'%s': want %s, got '%s'",
	    text, ct_strerror(rc), err);
	snprintf(want, sizeof(want), "/etc/ct/ct.conf:%zu: ", line);
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0,
	    "'%s' does not start with '%s'", err, want);
	ck_assert_msg(strstr(err, reason) != NULL, "'%s' lacks '%s'", err,
	    reason);
	ck_assert_ptr_null(c.agents);
	ck_assert_ptr_null(c.key_path);
	ck_assert_ptr_null(c.path);
}

START_TEST(test_bad_lines)
{
	const char *a = "agent web1 = 192.0.2.1 ct-ed25519 " KEY1 "\n";

	expect_bad("# ok\nkeyfile = /x\n", CT_ERR_FORMAT, 2,
	    "unknown setting 'keyfile'");
	expect_bad("user = nagios\n", CT_ERR_FORMAT, 1,
	    "unknown setting 'user'");
	expect_bad("\n\njust words\n", CT_ERR_FORMAT, 3,
	    "expected 'name = value'");
	expect_bad("key = /a\nkey = /b\n", CT_ERR_FORMAT, 2,
	    "'key' given twice (first on line 1)");
	expect_bad("key =\n", CT_ERR_FORMAT, 1, "'key' needs a file name");
	expect_bad("key = # nothing\n", CT_ERR_FORMAT, 1, "needs a file name");
	expect_bad("agent = 192.0.2.1 ct-ed25519 " KEY1, CT_ERR_FORMAT, 1,
	    "expected 'agent NAME = HOST[:PORT] ct-ed25519 BASE64'");
	expect_bad("agent web_1 = 192.0.2.1 ct-ed25519 " KEY1, CT_ERR_FORMAT, 1,
	    "bad agent name");
	expect_bad("agent web..1 = 192.0.2.1 ct-ed25519 " KEY1, CT_ERR_FORMAT,
	    1, "bad agent name");
	expect_bad("agent .web1 = 192.0.2.1 ct-ed25519 " KEY1, CT_ERR_FORMAT, 1,
	    "bad agent name");
	expect_bad("agent web1 x = 192.0.2.1 ct-ed25519 " KEY1, CT_ERR_FORMAT,
	    1, "bad agent name");
	expect_bad("agent web1 = 192.0.2.1\n", CT_ERR_FORMAT, 1,
	    "agent web1: expected 'HOST[:PORT] ct-ed25519 BASE64'");
	expect_bad("agent web1 = 192.0.2.1:0 ct-ed25519 " KEY1, CT_ERR_FORMAT,
	    1, "agent web1: the port must be a number from 1 to 65535");
	expect_bad("agent web1 = 192.0.2.1:65536 ct-ed25519 " KEY1,
	    CT_ERR_FORMAT, 1, "port");
	expect_bad("agent web1 = 192.0.2.1:http ct-ed25519 " KEY1,
	    CT_ERR_FORMAT, 1, "port");
	expect_bad("agent web1 = 192.0.2.1: ct-ed25519 " KEY1, CT_ERR_FORMAT, 1,
	    "port");
	expect_bad("agent web1 = 2001:db8::1 ct-ed25519 " KEY1, CT_ERR_FORMAT,
	    1, "must be written in brackets");
	expect_bad("agent web1 = [2001:db8::1 ct-ed25519 " KEY1, CT_ERR_FORMAT,
	    1, "without ']'");
	expect_bad("agent web1 = [192.0.2.1] ct-ed25519 " KEY1, CT_ERR_FORMAT,
	    1, "bad IPv6 address");
	expect_bad("agent web1 = [::1]5660 ct-ed25519 " KEY1, CT_ERR_FORMAT, 1,
	    "expected ':PORT' after ']'");
	expect_bad("agent web1 = 192.0.2.300 ct-ed25519 " KEY1, CT_ERR_FORMAT,
	    1, "bad IPv4 address");
	expect_bad("agent web1 = we$b ct-ed25519 " KEY1, CT_ERR_FORMAT, 1,
	    "bad host name");
	expect_bad("agent web1 = 192.0.2.1 ssh-ed25519 " KEY1, CT_ERR_FORMAT, 1,
	    "agent web1: key: ");
	expect_bad("agent web1 = 192.0.2.1 ct-ed25519 AQEB", CT_ERR_FORMAT, 1,
	    "agent web1: key: ");
	/* Duplicates, ignoring case. */
	{
		char text[1024];

		snprintf(text, sizeof(text),
		    "%s\nagent WEB1 = 192.0.2.2 ct-ed25519 " KEY2 "\n", a);
		expect_bad(text, CT_ERR_FORMAT, 3,
		    "agent WEB1 given twice (first on line 1)");
	}
	expect_bad("key = /a\nagent web1 = 192.0.2.1 ct-ed25519 " KEY1 "\x01\n",
	    CT_ERR_FORMAT, 2, "control byte");
}
END_TEST

START_TEST(test_tls_ca_mode)
{
	struct conf c;
	char err[CONF_ERROR_BYTES];

	/* Off unless asked for. */
	ck_assert_int_eq(parse("key = p.key\n", &c, err), 0);
	ck_assert_ptr_null(c.tls_ca);
	ck_assert_ptr_null(c.tls_cert);
	ck_assert_ptr_null(c.tls_key);
	conf_free(&c);

	/* Paths resolved like key's; the agent lines stay as they are. */
	ck_assert_msg(parse("key = poller.key\n"
	                    "tls_ca = ca.pem   # the site CA\n"
	                    "tls_cert=/etc/pki/poller.pem\n"
	                    "tls_key = private/poller.key\n"
	                    "agent web1 = 192.0.2.1 ct-ed25519 " KEY1 "\n",
	                  &c, err) == 0,
	    "%s", err);
	ck_assert_str_eq(c.tls_ca, "/etc/ct/ca.pem");
	ck_assert_str_eq(c.tls_cert, "/etc/pki/poller.pem");
	ck_assert_str_eq(c.tls_key, "/etc/ct/private/poller.key");
	ck_assert_uint_eq(c.tls_ca_line, 2);
	ck_assert_uint_eq(c.tls_cert_line, 3);
	ck_assert_uint_eq(c.tls_key_line, 4);
	ck_assert_uint_eq(c.n_agents, 1);
	ck_assert_uint_eq(conf_find_agent(&c, "web1")->key.pub[0], 1);
	conf_free(&c);
	ck_assert_ptr_null(c.tls_ca);

	/* tls_key is optional (the certificate is for the Ed25519 key). */
	ck_assert_int_eq(parse("tls_ca = /ca.pem\ntls_cert = /c.pem\n", &c,
	                     err),
	    0);
	ck_assert_ptr_null(c.tls_key);
	conf_free(&c);

	/* Dependencies, naming the line of the setting at fault. */
	expect_bad("key = k\n\ntls_ca = /ca.pem\n", CT_ERR_FORMAT, 3,
	    "'tls_ca' needs 'tls_cert'");
	expect_bad("tls_cert = /c.pem\n", CT_ERR_FORMAT, 1,
	    "'tls_cert' belongs to CA-file mode, which needs 'tls_ca'");
	expect_bad("tls_ca = /a\ntls_key = /k.pem\n", CT_ERR_FORMAT, 1,
	    "'tls_ca' needs 'tls_cert'");
	expect_bad("key = k\ntls_key = /k.pem\n", CT_ERR_FORMAT, 2,
	    "'tls_key' belongs to CA-file mode");
	/* Values. */
	expect_bad("tls_ca = /a\ntls_cert = /b\ntls_ca = /c\n", CT_ERR_FORMAT,
	    3, "'tls_ca' given twice (first on line 1)");
	expect_bad("tls_cert =\n", CT_ERR_FORMAT, 1,
	    "'tls_cert' needs a file name");
	expect_bad("tls_keys = /k\n", CT_ERR_FORMAT, 1,
	    "unknown setting 'tls_keys' (known: key, agent NAME, tls_ca, "
	    "tls_cert, tls_key)");
	expect_bad("TLS_CA = /k\n", CT_ERR_FORMAT, 1, "unknown setting");
}
END_TEST

START_TEST(test_caps)
{
	struct util_buf b;
	struct conf c;
	char err[CONF_ERROR_BYTES], nul[] = "key = /a\n\n# x\0y\n";
	int i;

	/* A NUL byte names its line. */
	ck_assert_int_eq(conf_parse(nul, sizeof(nul) - 1, "f", &c, err,
	                     sizeof(err)),
	    CT_ERR_FORMAT);
	ck_assert_str_eq(err, "f:3: NUL byte in the file");

	/* A line one byte too long. */
	util_buf_init(&b, 2 * CONF_MAX_FILE_BYTES);
	ck_assert_int_eq(util_buf_append_str(&b, "# ok\n#"), 0);
	for (i = 0; i < CONF_MAX_LINE_BYTES; i++)
		ck_assert_int_eq(util_buf_append(&b, "x", 1), 0);
	ck_assert_int_eq(conf_parse((const char *)b.data, b.len, "f", &c, err,
	                     sizeof(err)),
	    CT_ERR_TOO_BIG);
	ck_assert_str_eq(err, "f:2: line longer than 4096 bytes");
	b.len--; /* exactly the cap: fine */
	ck_assert_int_eq(conf_parse((const char *)b.data, b.len, "f", &c, err,
	                     sizeof(err)),
	    0);
	conf_free(&c);
	util_buf_clear(&b);

	/* One agent too many. */
	util_buf_init(&b, 2 * CONF_MAX_FILE_BYTES);
	for (i = 0; i <= CONF_MAX_AGENTS; i++)
		ck_assert_int_eq(util_buf_printf(&b,
		                     "agent a%d = 192.0.2.1 ct-ed25519 " KEY1
		                     "\n",
		                     i),
		    0);
	ck_assert_int_eq(conf_parse((const char *)b.data, b.len, "f", &c, err,
	                     sizeof(err)),
	    CT_ERR_TOO_BIG);
	ck_assert_str_eq(err, "f:4097: more than 4096 agents");
	util_buf_clear(&b);

	/* A file over the cap is refused before parsing. */
	util_buf_init(&b, 2 * CONF_MAX_FILE_BYTES);
	while (b.len <= CONF_MAX_FILE_BYTES)
		ck_assert_int_eq(util_buf_append_str(&b, "# filler\n"), 0);
	ck_assert_int_eq(conf_parse((const char *)b.data, b.len, "f", &c, err,
	                     sizeof(err)),
	    CT_ERR_TOO_BIG);
	ck_assert(strstr(err, "larger than") != NULL);
	util_buf_clear(&b);
}
END_TEST

START_TEST(test_hostport)
{
	static const struct {
		const char *in;
		int rc;
		const char *host;
		uint16_t port;
	} cases[] = {
	    {"web1.example.org", 0, "web1.example.org", 5660},
	    {"web1.example.org:443", 0, "web1.example.org", 443},
	    {"localhost", 0, "localhost", 5660},
	    {"127.0.0.1:1", 0, "127.0.0.1", 1},
	    {"127.0.0.1:65535", 0, "127.0.0.1", 65535},
	    {"[::1]", 0, "::1", 5660}, {"[::1]:7", 0, "::1", 7},
	    {"[fe80::1:2:3:4]:7", 0, "fe80::1:2:3:4", 7},
	    {"", CT_ERR_FORMAT, "", 5660}, {":5660", CT_ERR_FORMAT, "", 5660},
	    {"[]:5660", CT_ERR_FORMAT, "", 5660},
	    {"::1", CT_ERR_FORMAT, "", 5660},
	    {"[::1]:", CT_ERR_FORMAT, "", 5660},
	    {"[::1]:-1", CT_ERR_FORMAT, "", 5660},
	    {"host:+1", CT_ERR_FORMAT, "", 5660},
	    {"host:0x10", CT_ERR_FORMAT, "", 5660},
	    {"host:99999999999999999999", CT_ERR_FORMAT, "", 5660},
	    {"host name", CT_ERR_FORMAT, "", 5660},
	    {"1.2.3", CT_ERR_FORMAT, "", 5660},
	    {"1.2.3.4.5", CT_ERR_FORMAT, "", 5660},
	    {"a..b", CT_ERR_FORMAT, "", 5660},
	    {"-", 0, "-", 5660}, /* LDH; resolution will fail */
	};
	char host[CONF_HOST_MAX_BYTES + 1];
	const char *reason;
	uint16_t port;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		reason = NULL;
		ck_assert_msg(conf_parse_hostport(cases[i].in,
		                  strlen(cases[i].in), 5660, host, &port,
		                  &reason) == cases[i].rc,
		    "%s", cases[i].in);
		ck_assert_str_eq(host, cases[i].host);
		if (cases[i].rc == 0)
			ck_assert_uint_eq(port, cases[i].port);
		else
			ck_assert_ptr_nonnull(reason);
	}
	ck_assert(conf_name_valid("a", 1));
	ck_assert(!conf_name_valid("a.", 2));
	ck_assert(!conf_name_valid("", 0));
}
END_TEST

START_TEST(test_load_and_locate)
{
	char dir[] = "/tmp/test_conf.XXXXXX", p[1024], q[256], out[512];
	char err[CONF_ERROR_BYTES];
	struct conf c;
	FILE *f;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	/* conf_load names the file on failure. */
	snprintf(p, sizeof(p), "%s/missing.conf", dir);
	ck_assert_int_eq(conf_load(p, &c, err, sizeof(err)), CT_ERR_IO);
	ck_assert(strstr(err, "missing.conf: No such file") != NULL);

	/* Nothing exists: not found; an explicit path is taken as it is. */
	snprintf(q, sizeof(q), "%s/system.conf", dir);
	ck_assert_int_eq(conf_locate(NULL, dir, q, out, sizeof(out)),
	    CT_ERR_NOT_FOUND);
	ck_assert_int_eq(conf_locate(p, dir, q, out, sizeof(out)), 0);
	ck_assert_str_eq(out, p);
	ck_assert_int_eq(conf_locate(NULL, NULL, NULL, out, sizeof(out)),
	    CT_ERR_NOT_FOUND);

	/* The system file, once it exists. */
	ck_assert_ptr_nonnull(f = fopen(q, "w"));
	fputs("agent web1 = 192.0.2.1 ct-ed25519 " KEY1 "\nbogus\n", f);
	fclose(f);
	ck_assert_int_eq(conf_locate(NULL, dir, q, out, sizeof(out)), 0);
	ck_assert_str_eq(out, q);
	ck_assert_int_eq(conf_load(out, &c, err, sizeof(err)), CT_ERR_FORMAT);
	snprintf(p, sizeof(p), "%s:2: expected 'name = value'", q);
	ck_assert_str_eq(err, p);

	/* The user's file wins over the system file. */
	snprintf(p, sizeof(p), "%s/.config", dir);
	ck_assert_int_eq(mkdir(p, 0700), 0);
	snprintf(p, sizeof(p), "%s/.config/ct", dir);
	ck_assert_int_eq(mkdir(p, 0700), 0);
	snprintf(p, sizeof(p), "%s/.config/ct/ct.conf", dir);
	ck_assert_ptr_nonnull(f = fopen(p, "w"));
	fputs("key = poller.key\n", f);
	fclose(f);
	ck_assert_int_eq(conf_locate(NULL, dir, q, out, sizeof(out)), 0);
	ck_assert_str_eq(out, p);
	ck_assert_int_eq(conf_load(out, &c, err, sizeof(err)), 0);
	snprintf(q, sizeof(q), "%s/.config/ct/poller.key", dir);
	ck_assert_str_eq(c.key_path, q);
	conf_free(&c);
	/* A too small output buffer. */
	ck_assert_int_eq(conf_locate(NULL, dir, NULL, out, 8), CT_ERR_TOO_BIG);

	unlink(p);
	snprintf(p, sizeof(p), "%s/.config/ct", dir);
	rmdir(p);
	snprintf(p, sizeof(p), "%s/.config", dir);
	rmdir(p);
	snprintf(p, sizeof(p), "%s/system.conf", dir);
	unlink(p);
	ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

static Suite *
conf_suite(void)
{
	Suite *s = suite_create("conf");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_full_file);
	tcase_add_test(tc, test_key_paths);
	tcase_add_test(tc, test_tls_ca_mode);
	tcase_add_test(tc, test_bad_lines);
	tcase_add_test(tc, test_caps);
	tcase_add_test(tc, test_hostport);
	tcase_add_test(tc, test_load_and_locate);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return testutil_run(conf_suite());
}
