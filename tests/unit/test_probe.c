/*
 * probe: targets, the STARTTLS dialogs (fed byte streams, no sockets),
 * days/percent thresholds, check_ct's probe options, the verdict on a
 * result built from the CT test certificates (../shared/testdata/
 * ct-testdata: one valid embedded SCT, one forged), the CT source
 * lookups, and probe_check on a loop against a refused port. The engine
 * against real servers is in tests/integration/test_probe.sh.
 */
#include <wolfssl/options.h>

#include <signal.h>
#include <string.h>

#include "certspotter.h"
#include "crtsh.h"
#include "loglist.h"
#include "probe.h"
#include "testutil.h"

#define CTDATA SHARED_TESTDATA "ct-testdata/"
#define DAY 86400

/* ------------------------------------------------------------ targets */

START_TEST(test_target_parse)
{
	struct probe_target t;
	char why[128];

	ck_assert_int_eq(probe_target_parse("www.example.org:8443", NULL, 443,
	                     &t, why, sizeof(why)),
	    0);
	ck_assert_str_eq(t.host, "www.example.org");
	ck_assert_str_eq(t.sni, "www.example.org");
	ck_assert_uint_eq(t.port, 8443);
	ck_assert_int_eq(t.starttls, PROBE_STARTTLS_NONE);
	ck_assert_int_eq(probe_target_parse("[::1]:993", NULL, 443, &t, why,
	                     sizeof(why)),
	    0);
	ck_assert_str_eq(t.host, "::1");
	ck_assert_str_eq(t.sni, ""); /* no SNI for a literal */
	ck_assert_uint_eq(t.port, 993);
	ck_assert_int_eq(probe_target_parse("2001:db8::1", NULL, 443, &t, why,
	                     sizeof(why)),
	    0);
	ck_assert_uint_eq(t.port, 443);
	/* PORT alone, or :PORT: the host comes from -H */
	ck_assert_int_eq(probe_target_parse("25", "mail.example.org", 443, &t,
	                     why, sizeof(why)),
	    0);
	ck_assert_str_eq(t.host, "mail.example.org");
	ck_assert_int_eq(t.starttls, PROBE_STARTTLS_SMTP);
	ck_assert_int_eq(probe_target_parse(":587", ".example.org", 443, &t,
	                     why, sizeof(why)),
	    0);
	ck_assert_str_eq(t.host, "example.org");
	ck_assert_int_eq(t.starttls, PROBE_STARTTLS_SUBMISSION);
	ck_assert_int_eq(probe_target_parse("imap.example.org:143", NULL, 443,
	                     &t, why, sizeof(why)),
	    0);
	ck_assert_int_eq(t.starttls, PROBE_STARTTLS_IMAP);
	ck_assert_int_eq(probe_target_parse("h:110", NULL, 443, &t, why,
	                     sizeof(why)),
	    0);
	ck_assert_int_eq(t.starttls, PROBE_STARTTLS_POP3);
	/* Refused. */
	ck_assert_int_eq(probe_target_parse("443", NULL, 443, &t, why,
	                     sizeof(why)),
	    CT_ERR_FORMAT);
	ck_assert_int_eq(probe_target_parse("h:0", NULL, 443, &t, why,
	                     sizeof(why)),
	    CT_ERR_FORMAT);
	ck_assert_int_eq(probe_target_parse("h:65536", NULL, 443, &t, why,
	                     sizeof(why)),
	    CT_ERR_FORMAT);
	ck_assert_int_eq(probe_target_parse("h:44x", NULL, 443, &t, why,
	                     sizeof(why)),
	    CT_ERR_FORMAT);
	ck_assert_int_eq(probe_target_parse("bad host:443", NULL, 443, &t, why,
	                     sizeof(why)),
	    CT_ERR_FORMAT);
	ck_assert_int_eq(probe_target_parse("[::1:443", NULL, 443, &t, why,
	                     sizeof(why)),
	    CT_ERR_FORMAT);
	ck_assert_int_eq(probe_target_parse("h|x:443", NULL, 443, &t, why,
	                     sizeof(why)),
	    CT_ERR_FORMAT);
}
END_TEST

START_TEST(test_starttls_names)
{
	enum probe_starttls p;

	ck_assert_int_eq(probe_starttls_parse("SMTP", &p), 0);
	ck_assert_int_eq(p, PROBE_STARTTLS_SMTP);
	ck_assert_int_eq(probe_starttls_parse("pop3", &p), 0);
	ck_assert_int_eq(p, PROBE_STARTTLS_POP3);
	ck_assert_int_eq(probe_starttls_parse("none", &p), 0);
	ck_assert_int_eq(p, PROBE_STARTTLS_NONE);
	ck_assert_int_eq(probe_starttls_parse("ftp", &p), CT_ERR_FORMAT);
	ck_assert_int_eq(probe_starttls_for_port(443), PROBE_STARTTLS_NONE);
	ck_assert_int_eq(probe_starttls_for_port(465), PROBE_STARTTLS_NONE);
}
END_TEST

/* ------------------------------------------------------------ STARTTLS */

/* Feeds s in chunks of step bytes; returns the last verdict. */
static int
feed(struct probe_starttls_state *st, const char *s, size_t step,
    struct util_buf *out)
{
	size_t off = 0, n, len = strlen(s);
	int rc = PROBE_ST_MORE;

	while (off < len) {
		n = len - off < step ? len - off : step;
		rc = probe_starttls_feed(st, (const uint8_t *)s + off, n, out);
		if (rc != PROBE_ST_MORE)
			return rc;
		off += n;
	}
	return rc;
}

static void
out_is(struct util_buf *out, const char *want)
{
	ck_assert_int_eq(util_buf_cstr(out), 0);
	ck_assert_str_eq((const char *)out->data, want);
	out->len = 0;
}

START_TEST(test_smtp_dialog)
{
	struct probe_starttls_state st;
	struct util_buf out;
	size_t step;

	util_buf_init(&out, 4096);
	for (step = 1; step <= 64; step *= 4) {
		probe_starttls_init(&st, PROBE_STARTTLS_SMTP, "poller.test");
		ck_assert_int_eq(
		    feed(&st, "220-mx.example.org ESMTP\r\n220 ready\r\n", step,
		        &out),
		    PROBE_ST_MORE);
		out_is(&out, "EHLO poller.test\r\n");
		ck_assert_int_eq(feed(&st,
		                     "250-mx.example.org\r\n250-PIPELINING\r\n"
		                     "250-starttls\r\n250 8BITMIME\r\n",
		                     step, &out),
		    PROBE_ST_MORE);
		out_is(&out, "STARTTLS\r\n");
		ck_assert_int_eq(feed(&st, "220 2.0.0 go ahead\r\n", step,
		                     &out),
		    PROBE_ST_TLS);
		ck_assert_uint_eq(out.len, 0);
	}
	/* A bad EHLO name becomes localhost; LF alone ends a line too. */
	probe_starttls_init(&st, PROBE_STARTTLS_SUBMISSION, "bad name;");
	ck_assert_int_eq(feed(&st, "220 hi\n", 100, &out), PROBE_ST_MORE);
	out_is(&out, "EHLO localhost\r\n");
	util_buf_clear(&out);
}
END_TEST

/* Runs one SMTP dialog to the end and returns the verdict. */
static int
smtp_run(const char *banner, const char *ehlo, const char *reply,
    struct probe_starttls_state *st)
{
	struct util_buf out;
	int rc;

	util_buf_init(&out, 4096);
	probe_starttls_init(st, PROBE_STARTTLS_SMTP, "p");
	rc = feed(st, banner, 1000, &out);
	if (rc == PROBE_ST_MORE && ehlo != NULL)
		rc = feed(st, ehlo, 1000, &out);
	if (rc == PROBE_ST_MORE && reply != NULL)
		rc = feed(st, reply, 1000, &out);
	util_buf_clear(&out);
	return rc;
}

START_TEST(test_smtp_refusals)
{
	struct probe_starttls_state st;
	const char *ehlo = "250-x\r\n250 STARTTLS\r\n";

	ck_assert_int_eq(smtp_run("554 no service\r\n", NULL, NULL, &st),
	    CT_ERR_PROTO);
	ck_assert_msg(strstr(st.why, "554 no service") != NULL, "%s", st.why);
	ck_assert_int_eq(smtp_run("220 hi\r\n", "250-x\r\n250 SIZE 10\r\n",
	                     NULL, &st),
	    CT_ERR_PROTO);
	ck_assert_msg(strstr(st.why, "does not offer STARTTLS") != NULL, "%s",
	    st.why);
	/* "STARTTLSX" is not STARTTLS */
	ck_assert_int_eq(smtp_run("220 hi\r\n", "250 STARTTLSX\r\n", NULL, &st),
	    CT_ERR_PROTO);
	ck_assert_int_eq(smtp_run("220 hi\r\n", "502 no EHLO\r\n", NULL, &st),
	    CT_ERR_PROTO);
	ck_assert_int_eq(smtp_run("220 hi\r\n", ehlo,
	                     "454 TLS not available\r\n", &st),
	    CT_ERR_PROTO);
	ck_assert_msg(strstr(st.why, "STARTTLS refused: '454") != NULL, "%s",
	    st.why);
	/* Bytes after the go-ahead (STARTTLS injection) are refused. */
	ck_assert_int_eq(smtp_run("220 hi\r\n", ehlo, "220 go\r\n\x16\x03\x01",
	                     &st),
	    CT_ERR_PROTO);
	ck_assert_msg(strstr(st.why, "after its STARTTLS go-ahead") != NULL,
	    "%s", st.why);
	/* Malformed replies. */
	ck_assert_int_eq(smtp_run("hello\r\n", NULL, NULL, &st), CT_ERR_PROTO);
	ck_assert_int_eq(smtp_run("22\r\n", NULL, NULL, &st), CT_ERR_PROTO);
	ck_assert_int_eq(smtp_run("220x\r\n", NULL, NULL, &st), CT_ERR_PROTO);
	ck_assert_int_eq(smtp_run("220-a\r\n250 b\r\n", NULL, NULL, &st),
	    CT_ERR_PROTO);
	probe_starttls_init(&st, PROBE_STARTTLS_SMTP, "p");
	ck_assert_int_eq(probe_starttls_feed(&st,
	                     (const uint8_t *)"220 a\0b\r\n", 9, NULL),
	    CT_ERR_PROTO);
	ck_assert_msg(strstr(st.why, "NUL") != NULL, "%s", st.why);
	/* After a failure the state machine stays failed. */
	ck_assert_int_eq(probe_starttls_feed(&st, (const uint8_t *)"220 x\r\n",
	                     7, NULL),
	    CT_ERR_PROTO);
}
END_TEST

START_TEST(test_starttls_caps)
{
	struct probe_starttls_state st;
	struct util_buf out;
	char *big;
	size_t i;

	util_buf_init(&out, 4096);
	/* One line past the cap, without a newline. */
	big = malloc(PROBE_STARTTLS_MAX_LINE_BYTES + 10);
	memset(big, 'a', PROBE_STARTTLS_MAX_LINE_BYTES + 9);
	big[PROBE_STARTTLS_MAX_LINE_BYTES + 9] = '\0';
	probe_starttls_init(&st, PROBE_STARTTLS_SMTP, "p");
	ck_assert_int_eq(feed(&st, big, 100, &out), CT_ERR_TOO_BIG);
	free(big);
	/* Endless continuation lines: the line count, then the byte cap. */
	probe_starttls_init(&st, PROBE_STARTTLS_SMTP, "p");
	for (i = 0; i < PROBE_STARTTLS_MAX_LINES + 1; i++)
		if (feed(&st, "220-more\r\n", 100, &out) != PROBE_ST_MORE)
			break;
	ck_assert_uint_eq(i, PROBE_STARTTLS_MAX_LINES);
	ck_assert_msg(strstr(st.why, "lines") != NULL, "%s", st.why);
	big = malloc(PROBE_STARTTLS_MAX_LINE_BYTES);
	memset(big, 'b', PROBE_STARTTLS_MAX_LINE_BYTES - 3);
	memcpy(big, "220-", 4);
	memcpy(big + PROBE_STARTTLS_MAX_LINE_BYTES - 3, "\n", 2);
	probe_starttls_init(&st, PROBE_STARTTLS_SMTP, "p");
	for (i = 0; i < 100; i++)
		if (feed(&st, big, 4096, &out) != PROBE_ST_MORE)
			break;
	ck_assert_uint_lt(i, 100);
	ck_assert_msg(strstr(st.why, "bytes") != NULL, "%s", st.why);
	free(big);
	util_buf_clear(&out);
}
END_TEST

START_TEST(test_imap_pop3_dialogs)
{
	struct probe_starttls_state st;
	struct util_buf out;

	util_buf_init(&out, 4096);
	probe_starttls_init(&st, PROBE_STARTTLS_IMAP, "p");
	ck_assert_int_eq(feed(&st,
	                     "* OK [CAPABILITY IMAP4rev1 STARTTLS] hi\r\n", 3,
	                     &out),
	    PROBE_ST_MORE);
	out_is(&out, "a001 STARTTLS\r\n");
	ck_assert_int_eq(feed(&st,
	                     "* CAPABILITY IMAP4rev1\r\na001 OK Begin TLS\r\n",
	                     5, &out),
	    PROBE_ST_TLS);
	probe_starttls_init(&st, PROBE_STARTTLS_IMAP, "p");
	ck_assert_int_eq(feed(&st, "* OK hi\r\na001 NO not now\r\n", 100, &out),
	    CT_ERR_PROTO);
	ck_assert_msg(strstr(st.why, "a001 NO not now") != NULL, "%s", st.why);
	out.len = 0;
	probe_starttls_init(&st, PROBE_STARTTLS_IMAP, "p");
	ck_assert_int_eq(feed(&st, "* PREAUTH ready\r\n", 100, &out),
	    CT_ERR_PROTO);
	probe_starttls_init(&st, PROBE_STARTTLS_IMAP, "p");
	ck_assert_int_eq(feed(&st, "* BYE busy\r\n", 100, &out), CT_ERR_PROTO);
	probe_starttls_init(&st, PROBE_STARTTLS_IMAP, "p");
	ck_assert_int_eq(feed(&st, "* OK hi\r\nb002 OK what\r\n", 100, &out),
	    CT_ERR_PROTO);
	out.len = 0;

	probe_starttls_init(&st, PROBE_STARTTLS_POP3, "p");
	ck_assert_int_eq(feed(&st, "+OK POP3 ready\r\n", 2, &out),
	    PROBE_ST_MORE);
	out_is(&out, "STLS\r\n");
	ck_assert_int_eq(feed(&st, "+OK Begin TLS\r\n", 2, &out), PROBE_ST_TLS);
	probe_starttls_init(&st, PROBE_STARTTLS_POP3, "p");
	ck_assert_int_eq(feed(&st, "+OK hi\r\n-ERR no TLS\r\n", 100, &out),
	    CT_ERR_PROTO);
	ck_assert_msg(strstr(st.why, "STLS refused") != NULL, "%s", st.why);
	probe_starttls_init(&st, PROBE_STARTTLS_POP3, "p");
	ck_assert_int_eq(feed(&st, "-ERR go away\r\n", 100, &out),
	    CT_ERR_PROTO);
	util_buf_clear(&out);
}
END_TEST

/* ------------------------------------------------------------ thresholds */

START_TEST(test_thresholds)
{
	static const char *const bad[] = {"", "-1", "abc", "1e3", "0x10",
	    "101%", "1.2.3", "20%%", ".5", "5.", "inf", "nan", "20dd", "d", "%",
	    " 5", "5 ", "+5", "100001"};
	struct probe_thresh t;
	size_t i;

	ck_assert_int_eq(probe_thresh_parse("20", &t), 0);
	ck_assert(t.set && !t.percent && t.value == 20.0);
	ck_assert_int_eq(probe_thresh_parse("0.5", &t), 0);
	ck_assert(t.value == 0.5);
	ck_assert_int_eq(probe_thresh_parse("14d", &t), 0);
	ck_assert(!t.percent && t.value == 14.0);
	ck_assert_int_eq(probe_thresh_parse("25%", &t), 0);
	ck_assert(t.percent && t.value == 25.0);
	ck_assert_int_eq(probe_thresh_parse("100%", &t), 0);
	ck_assert_int_eq(probe_thresh_parse("0", &t), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(probe_thresh_parse(bad[i], &t) == CT_ERR_FORMAT,
		    "'%s' accepted", bad[i]);
	/* 25% of a 90-day certificate is 22.5 days; plain days stay. */
	ck_assert_int_eq(probe_thresh_parse("25%", &t), 0);
	ck_assert(probe_thresh_days(&t, 0, 90 * DAY) == 22.5);
	ck_assert_int_eq(probe_thresh_parse("7", &t), 0);
	ck_assert(probe_thresh_days(&t, 0, 90 * DAY) == 7.0);
}
END_TEST

START_TEST(test_probe_options)
{
	struct probe_opts po;
	char why[200];

	probe_opts_init(&po);
	ck_assert_uint_eq(po.min_scts, 2);
	ck_assert(po.warn.value == 20 && po.crit.value == 7);
	ck_assert_int_eq(po.error_state[PROBE_REFUSED], OUTPUT_CRITICAL);
	ck_assert_int_eq(po.error_state[PROBE_TIMEOUT], OUTPUT_CRITICAL);
	ck_assert_int_eq(po.error_state[PROBE_DEADLINE], OUTPUT_UNKNOWN);
	ck_assert_int_eq(probe_opt(&po, PROBE_OPT_PROBE, "443", why,
	                     sizeof(why)),
	    0);
	ck_assert_int_eq(probe_opt(&po, PROBE_OPT_PORT, "mx.example.org:25",
	                     why, sizeof(why)),
	    0);
	ck_assert_int_eq(probe_opt(&po, 'w', "30%", why, sizeof(why)), 0);
	ck_assert_int_eq(probe_opt(&po, 'c', "x", why, sizeof(why)),
	    CT_ERR_FORMAT);
	ck_assert_int_eq(probe_opt(&po, PROBE_OPT_MIN_SCTS, "3", why,
	                     sizeof(why)),
	    0);
	ck_assert_int_eq(probe_opt(&po, PROBE_OPT_MIN_SCTS, "-1", why,
	                     sizeof(why)),
	    CT_ERR_FORMAT);
	ck_assert_int_eq(probe_opt(&po, PROBE_OPT_ERROR_STATE,
	                     "refused=WARNING", why, sizeof(why)),
	    0);
	ck_assert_int_eq(po.error_state[PROBE_REFUSED], OUTPUT_WARNING);
	ck_assert_int_eq(po.error_state[PROBE_TIMEOUT], OUTPUT_CRITICAL);
	ck_assert_int_eq(probe_opt(&po, PROBE_OPT_ERROR_STATE, "unknown", why,
	                     sizeof(why)),
	    0);
	ck_assert_int_eq(po.error_state[PROBE_TIMEOUT], OUTPUT_UNKNOWN);
	ck_assert_int_eq(probe_opt(&po, PROBE_OPT_ERROR_STATE, "bogus=OK", why,
	                     sizeof(why)),
	    CT_ERR_FORMAT);
	ck_assert_int_eq(probe_opt(&po, PROBE_OPT_STARTTLS, "gopher", why,
	                     sizeof(why)),
	    CT_ERR_FORMAT);
	ck_assert_int_eq(probe_opt(&po, PROBE_OPT_TIMEOUT, "0", why,
	                     sizeof(why)),
	    CT_ERR_FORMAT);
	ck_assert_int_eq(probe_opts_finish(&po, "www.example.org", why,
	                     sizeof(why)),
	    0);
	ck_assert(probe_opts_active(&po));
	ck_assert_uint_eq(po.n_targets, 2);
	ck_assert_str_eq(po.targets[0].host, "www.example.org");
	ck_assert_uint_eq(po.targets[0].port, 443);
	ck_assert_int_eq(po.targets[1].starttls, PROBE_STARTTLS_SMTP);
	/* --starttls overrides the port's protocol */
	probe_opts_init(&po);
	ck_assert_int_eq(probe_opt(&po, PROBE_OPT_PROBE, "25", why,
	                     sizeof(why)),
	    0);
	ck_assert_int_eq(probe_opt(&po, PROBE_OPT_STARTTLS, "none", why,
	                     sizeof(why)),
	    0);
	ck_assert_int_eq(probe_opts_finish(&po, "h", why, sizeof(why)), 0);
	ck_assert_int_eq(po.targets[0].starttls, PROBE_STARTTLS_NONE);
	/* A port without any host; --expect without --probe */
	probe_opts_init(&po);
	probe_opt(&po, PROBE_OPT_PROBE, "443", why, sizeof(why));
	ck_assert_int_eq(probe_opts_finish(&po, NULL, why, sizeof(why)),
	    CT_ERR_FORMAT);
	probe_opts_init(&po);
	probe_opt(&po, PROBE_OPT_EXPECT_CRTSH, NULL, why, sizeof(why));
	ck_assert_int_eq(probe_opts_finish(&po, "h", why, sizeof(why)),
	    CT_ERR_FORMAT);
}
END_TEST

/* ------------------------------------------------------------ judgement */

struct jfix {
	struct ct_cert **leaf, **ca, **other;
	size_t n_leaf, n_ca, n_other;
	struct ct_cert *chain[2];
	struct probe_result r;
	struct loglist *ll;
	struct probe_judge_opts o;
	struct probe_verdict v;
};

static struct jfix *
jfix_new(const char *leaf_file)
{
	struct jfix *j = calloc(1, sizeof(*j));
	char why[256];

	ck_assert_ptr_nonnull(j);
	ck_assert_int_eq(cert_load_file(leaf_file, &j->leaf, &j->n_leaf), 0);
	ck_assert_int_eq(cert_load_file(CTDATA "ca-cert.pem", &j->ca, &j->n_ca),
	    0);
	ck_assert_int_eq(cert_load_file(SHARED_TESTDATA "letsencrypt/r11.pem",
	                     &j->other, &j->n_other),
	    0);
	ck_assert_int_eq(loglist_load(LOCAL_TESTDATA "test-log-list.json", NULL,
	                     NULL, 0, &j->ll, why, sizeof(why)),
	    0);
	j->chain[0] = j->leaf[0];
	j->chain[1] = j->ca[0];
	j->r.fail = PROBE_OK;
	j->r.chain = j->chain;
	j->r.n_chain = 2;
	j->r.alert = -1;
	probe_judge_defaults(&j->o);
	j->o.ll = j->ll;
	j->o.min_scts = 1;
	/* Mid-life of the 2012-2022 test certificates. */
	j->o.now = j->leaf[0]->not_before + 5 * 365 * DAY;
	return j;
}

static void
jfix_free(struct jfix *j)
{
	cert_free_all(j->leaf, j->n_leaf);
	cert_free_all(j->ca, j->n_ca);
	cert_free_all(j->other, j->n_other);
	loglist_free(j->ll);
	free(j);
}

static void
judge(struct jfix *j)
{
	probe_judge(&j->r, &j->o, &j->v);
}

/* Whether some finding of state st contains text. */
static bool
has(const struct probe_verdict *v, enum output_state st, const char *text)
{
	size_t i;

	for (i = 0; i < v->n_findings; i++)
		if (v->findings[i].state == st &&
		    strstr(v->findings[i].text, text) != NULL)
			return true;
	return false;
}

START_TEST(test_judge_ok)
{
	struct jfix *j = jfix_new(CTDATA "test-embedded-cert.pem");

	judge(j);
	ck_assert_int_eq(j->v.state, OUTPUT_OK);
	ck_assert_uint_eq(j->v.n_findings, 0);
	ck_assert(j->v.have_leaf);
	ck_assert_uint_eq(j->v.n_scts, 1);
	ck_assert_uint_eq(j->v.scts_valid, 1);
	ck_assert_int_eq(j->v.scts[0].status, PROBE_SCT_VALID);
	ck_assert_str_eq(j->v.scts[0].log, "CT test log");
	ck_assert_int_eq(j->v.name_ok, -1);
	ck_assert_int_eq(j->v.issuer_trusted, -1);
	ck_assert_int_eq(j->v.known, -1);
	/* The default asks for two SCTs: WARNING, which the text says. */
	j->o.min_scts = 2;
	judge(j);
	ck_assert_int_eq(j->v.state, OUTPUT_WARNING);
	ck_assert(has(&j->v, OUTPUT_WARNING, "1 valid SCT, want 2"));
	jfix_free(j);
}
END_TEST

START_TEST(test_judge_forged_sct)
{
	struct jfix *j = jfix_new(CTDATA "test-invalid-embedded-cert.pem");

	judge(j);
	ck_assert_int_eq(j->v.state, OUTPUT_CRITICAL);
	ck_assert_uint_eq(j->v.scts_invalid, 1);
	ck_assert_uint_eq(j->v.scts_valid, 0);
	ck_assert(has(&j->v, OUTPUT_CRITICAL, "1 forged SCT"));
	ck_assert(has(&j->v, OUTPUT_CRITICAL, "CT test log"));
	/* Also too few valid ones. */
	ck_assert(has(&j->v, OUTPUT_WARNING, "0 valid SCTs, want 1"));
	jfix_free(j);
}
END_TEST

START_TEST(test_judge_scts_without_list_or_issuer)
{
	struct jfix *j = jfix_new(CTDATA "test-embedded-cert.pem");
	struct loglist *real;
	char why[256];

	/* No log list: UNKNOWN, saying why. */
	j->o.ll = NULL;
	j->o.ll_problem = "log list fetch failed: HTTP 503";
	judge(j);
	ck_assert_int_eq(j->v.state, OUTPUT_UNKNOWN);
	ck_assert(has(&j->v, OUTPUT_UNKNOWN, "HTTP 503"));
	ck_assert_int_eq(j->v.scts[0].status, PROBE_SCT_UNCHECKED);
	/* A list without the test log: unknown log, named. */
	ck_assert_int_eq(loglist_load(SHARED_TESTDATA
	                     "loglists/all_logs_list.json",
	                     NULL, NULL, 0, &real, why, sizeof(why)),
	    0);
	j->o.ll = real;
	judge(j);
	ck_assert_int_eq(j->v.state, OUTPUT_WARNING);
	ck_assert_int_eq(j->v.scts[0].status, PROBE_SCT_UNKNOWN_LOG);
	ck_assert_uint_eq(j->v.scts_unknown_log, 1);
	ck_assert(has(&j->v, OUTPUT_WARNING, "not in the log list: log ID"));
	loglist_free(real);
	/* No issuer presented or trusted: the SCT cannot be checked. */
	j->o.ll = j->ll;
	j->r.n_chain = 1;
	judge(j);
	ck_assert_int_eq(j->v.scts[0].status, PROBE_SCT_UNCHECKED);
	ck_assert(has(&j->v, OUTPUT_UNKNOWN, "neither presented nor trusted"));
	/* ... but a trusted issuer serves. */
	j->o.trusted = j->ca;
	j->o.n_trusted = 1;
	judge(j);
	ck_assert_int_eq(j->v.state, OUTPUT_OK);
	ck_assert_uint_eq(j->v.scts_valid, 1);
	jfix_free(j);
}
END_TEST

START_TEST(test_judge_no_scts)
{
	struct jfix *j = jfix_new(CTDATA "test-cert.pem");

	judge(j);
	ck_assert_int_eq(j->v.state, OUTPUT_WARNING);
	ck_assert(has(&j->v, OUTPUT_WARNING, "has no embedded SCTs"));
	jfix_free(j);
}
END_TEST

START_TEST(test_judge_issuer_and_name)
{
	struct jfix *j = jfix_new(CTDATA "test-embedded-cert.pem");

	j->o.trusted = j->ca;
	j->o.n_trusted = 1;
	judge(j);
	ck_assert_int_eq(j->v.issuer_trusted, 1);
	ck_assert_int_eq(j->v.state, OUTPUT_OK);
	j->o.trusted = j->other; /* Let's Encrypt R11: not this issuer */
	judge(j);
	ck_assert_int_eq(j->v.issuer_trusted, 0);
	ck_assert_int_eq(j->v.state, OUTPUT_CRITICAL);
	ck_assert(has(&j->v, OUTPUT_CRITICAL, "issuer not trusted"));
	/* The test certificate names no host: any name is a mismatch. */
	j->o.trusted = NULL;
	j->o.n_trusted = 0;
	j->o.name = "www.example.org";
	judge(j);
	ck_assert_int_eq(j->v.name_ok, 0);
	ck_assert(has(&j->v, OUTPUT_CRITICAL,
	    "name mismatch: the certificate (no names) does not cover "
	    "www.example.org"));
	jfix_free(j);
}
END_TEST

START_TEST(test_judge_expiry)
{
	struct jfix *j = jfix_new(CTDATA "test-embedded-cert.pem");
	int64_t na = j->leaf[0]->not_after;

	j->o.now = na - 5 * DAY;
	judge(j);
	ck_assert_int_eq(j->v.state, OUTPUT_CRITICAL);
	ck_assert(has(&j->v, OUTPUT_CRITICAL, "expires in 5.0 days"));
	ck_assert(has(&j->v, OUTPUT_CRITICAL, "under -c 7 days"));
	j->o.now = na - 10 * DAY;
	judge(j);
	ck_assert_int_eq(j->v.state, OUTPUT_WARNING);
	ck_assert(has(&j->v, OUTPUT_WARNING, "under -w 20 days"));
	j->o.now = na - 30 * DAY;
	judge(j);
	ck_assert_int_eq(j->v.state, OUTPUT_OK);
	ck_assert(j->v.days_left > 29.9 && j->v.days_left < 30.1);
	/* 10% of a ten-year lifetime is a year. */
	ck_assert_int_eq(probe_thresh_parse("10%", &j->o.warn), 0);
	judge(j);
	ck_assert_int_eq(j->v.state, OUTPUT_WARNING);
	ck_assert(has(&j->v, OUTPUT_WARNING, "under -w 10% of its lifetime"));
	j->o.now = na + DAY;
	judge(j);
	ck_assert_int_eq(j->v.state, OUTPUT_CRITICAL);
	ck_assert(has(&j->v, OUTPUT_CRITICAL, "expired 1.0 days ago"));
	j->o.now = j->leaf[0]->not_before - DAY;
	judge(j);
	ck_assert(has(&j->v, OUTPUT_CRITICAL, "not valid before"));
	jfix_free(j);
}
END_TEST

START_TEST(test_judge_agents)
{
	struct jfix *j = jfix_new(CTDATA "test-embedded-cert.pem");
	struct probe_deployed d[2];

	memset(d, 0, sizeof(d));
	memcpy(d[0].tbs, j->leaf[0]->tbs_sha256, 32);
	d[0].not_before = j->leaf[0]->not_before;
	d[0].origin = "agent web1";
	j->o.agents_asked = true;
	j->o.deployed = d;
	j->o.n_deployed = 1;
	judge(j);
	ck_assert_int_eq(j->v.known, 1);
	ck_assert_int_eq(j->v.state, OUTPUT_OK);
	/* The agent also has a newer one: the server was not reloaded. */
	memset(d[1].tbs, 0xab, 32);
	d[1].not_before = j->leaf[0]->not_before + 60 * DAY;
	d[1].origin = "agent web2";
	j->o.n_deployed = 2;
	judge(j);
	ck_assert(j->v.newer_deployed);
	ck_assert_int_eq(j->v.state, OUTPUT_WARNING);
	ck_assert(has(&j->v, OUTPUT_WARNING,
	    "server not reloaded after renewal: agent web2 has a newer"));
	/* Only an older, different one: served but not deployed. */
	d[1].not_before = j->leaf[0]->not_before - 60 * DAY;
	j->o.deployed = d + 1;
	j->o.n_deployed = 1;
	judge(j);
	ck_assert_int_eq(j->v.known, 0);
	ck_assert(has(&j->v, OUTPUT_WARNING,
	    "served certificate not deployed by any agent"));
	/* No agent answered anything: still not deployed. */
	j->o.n_deployed = 0;
	judge(j);
	ck_assert_int_eq(j->v.state, OUTPUT_WARNING);
	/* Agents not asked: no verdict. */
	j->o.agents_asked = false;
	judge(j);
	ck_assert_int_eq(j->v.known, -1);
	ck_assert_int_eq(j->v.state, OUTPUT_OK);
	jfix_free(j);
}
END_TEST

START_TEST(test_judge_sources)
{
	struct jfix *j = jfix_new(CTDATA "test-embedded-cert.pem");

	j->o.expect = PROBE_SRC_CRTSH;
	judge(j);
	ck_assert_int_eq(j->v.state, OUTPUT_CRITICAL);
	ck_assert(has(&j->v, OUTPUT_CRITICAL,
	    "served certificate not found in crt.sh"));
	j->o.found = PROBE_SRC_CRTSH;
	judge(j);
	ck_assert_int_eq(j->v.state, OUTPUT_OK);
	j->o.found = 0;
	j->o.lookup_failed = PROBE_SRC_CRTSH;
	judge(j);
	ck_assert_int_eq(j->v.state, OUTPUT_UNKNOWN);
	/* Either source will do (the older tool's OR). */
	j->o.expect = PROBE_SRC_CRTSH | PROBE_SRC_CERTSPOTTER;
	j->o.found = PROBE_SRC_CERTSPOTTER;
	judge(j);
	ck_assert_int_eq(j->v.state, OUTPUT_OK);
	j->o.found = 0;
	judge(j); /* crt.sh failed, Cert Spotter says no */
	ck_assert(has(&j->v, OUTPUT_CRITICAL, "crt.sh or Cert Spotter"));
	jfix_free(j);
}
END_TEST

START_TEST(test_judge_failures)
{
	struct jfix *j = jfix_new(CTDATA "test-embedded-cert.pem");

	j->r.fail = PROBE_REFUSED;
	snprintf(j->r.error, sizeof(j->r.error), "connection refused");
	judge(j);
	ck_assert_int_eq(j->v.state, OUTPUT_CRITICAL);
	ck_assert(has(&j->v, OUTPUT_CRITICAL, "connection refused"));
	ck_assert(!j->v.have_leaf);
	j->r.fail = PROBE_DEADLINE;
	judge(j);
	ck_assert_int_eq(j->v.state, OUTPUT_UNKNOWN);
	j->r.fail = PROBE_TIMEOUT;
	j->o.error_state[PROBE_TIMEOUT] = OUTPUT_WARNING;
	judge(j);
	ck_assert_int_eq(j->v.state, OUTPUT_WARNING);
	/* A result without a leaf is never OK. */
	j->r.fail = PROBE_OK;
	j->r.n_chain = 0;
	judge(j);
	ck_assert_int_eq(j->v.state, OUTPUT_CRITICAL);
	jfix_free(j);
}
END_TEST

/* The memo copies a verdict for the same chain and name, not otherwise. */
START_TEST(test_judge_memo)
{
	struct jfix *j = jfix_new(CTDATA "test-embedded-cert.pem");
	struct jfix *k = jfix_new(CTDATA "test-invalid-embedded-cert.pem");
	struct probe_judge_memo m;
	struct probe_result r2 = j->r;

	memset(&m, 0, sizeof(m));
	probe_judge_memo(&m, &j->r, &j->o, &j->v);
	ck_assert_int_eq(j->v.state, OUTPUT_OK);
	ck_assert_uint_eq(m.n, 1);
	probe_judge_memo(&m, &r2, &j->o, &j->v);
	ck_assert_uint_eq(m.n, 1); /* copied */
	ck_assert_int_eq(j->v.state, OUTPUT_OK);
	ck_assert_uint_eq(j->v.scts_valid, 1);
	/* another chain (same issuer, forged SCT) */
	probe_judge_memo(&m, &k->r, &j->o, &k->v);
	ck_assert_uint_eq(m.n, 2);
	ck_assert_int_eq(k->v.state, OUTPUT_CRITICAL);
	/* the same chain for another name */
	j->o.name = "www.example.org";
	probe_judge_memo(&m, &r2, &j->o, &j->v);
	ck_assert_uint_eq(m.n, 3);
	ck_assert_int_eq(j->v.name_ok, 0);
	/* failures are never taken from (or put into) the memo */
	r2.fail = PROBE_TIMEOUT;
	probe_judge_memo(&m, &r2, &j->o, &j->v);
	ck_assert_uint_eq(m.n, 3);
	ck_assert_int_eq(j->v.state, OUTPUT_CRITICAL);
	probe_judge_memo_clear(&m);
	jfix_free(j);
	jfix_free(k);
}
END_TEST

START_TEST(test_found_in_sources)
{
	struct jfix *j = jfix_new(CTDATA "test-embedded-cert.pem");
	struct crtsh_entry e[2];
	struct crtsh_result cr;
	struct certspotter_issuance it[1];
	struct certspotter_result cs;
	uint8_t other[32];

	memset(e, 0, sizeof(e));
	memset(&cr, 0, sizeof(cr));
	memset(it, 0, sizeof(it));
	memset(&cs, 0, sizeof(cs));
	memset(other, 0x5a, sizeof(other));
	e[0].status = CRTSH_ENTRY_PENDING; /* not downloaded: no cert */
	e[1].status = CRTSH_ENTRY_OK;
	e[1].cert = j->leaf[0];
	/* Every OK entry carries its tbs hash, parsed or from the summary. */
	memcpy(e[1].tbs_sha256, j->leaf[0]->tbs_sha256, 32);
	cr.entries = e;
	cr.n = 2;
	ck_assert(probe_found_in_crtsh(&cr, j->leaf[0]->tbs_sha256));
	ck_assert(!probe_found_in_crtsh(&cr, other));
	cr.n = 1;
	ck_assert(!probe_found_in_crtsh(&cr, j->leaf[0]->tbs_sha256));
	ck_assert(!probe_found_in_crtsh(NULL, other));
	memcpy(it[0].tbs_sha256, j->leaf[0]->tbs_sha256, 32);
	cs.items = it;
	cs.n = 1;
	ck_assert(probe_found_in_certspotter(&cs, j->leaf[0]->tbs_sha256));
	ck_assert(!probe_found_in_certspotter(&cs, other));
	jfix_free(j);
}
END_TEST

/* ------------------------------------------------------------ check */

static void
check_done(struct probe_check *pc, void *arg)
{
	(void)pc;
	(*(int *)arg)++;
}

/* probe_check on a loop: a refused port, reported with its perfdata. */
START_TEST(test_check_refused)
{
	struct probe_opts po;
	struct probe_check_env env;
	struct probe_check *pc;
	struct output out;
	struct util_buf text;
	uv_loop_t loop;
	uv_tcp_t t;
	struct sockaddr_in a;
	int len = sizeof(a), done = 0;
	char why[200], spec[64];

	/* A port that was free a moment ago. */
	ck_assert_int_eq(uv_loop_init(&loop), 0);
	uv_tcp_init(&loop, &t);
	uv_ip4_addr("127.0.0.1", 0, &a);
	ck_assert_int_eq(uv_tcp_bind(&t, (struct sockaddr *)&a, 0), 0);
	ck_assert_int_eq(uv_tcp_getsockname(&t, (struct sockaddr *)&a, &len),
	    0);
	uv_close((uv_handle_t *)&t, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	snprintf(spec, sizeof(spec), "127.0.0.1:%u", ntohs(a.sin_port));

	probe_opts_init(&po);
	ck_assert_int_eq(probe_opt(&po, PROBE_OPT_PROBE, spec, why,
	                     sizeof(why)),
	    0);
	ck_assert_int_eq(probe_opt(&po, PROBE_OPT_LOG_LIST,
	                     LOCAL_TESTDATA "test-log-list.json", why,
	                     sizeof(why)),
	    0);
	ck_assert_int_eq(probe_opts_finish(&po, NULL, why, sizeof(why)), 0);
	memset(&env, 0, sizeof(env));
	env.loop = &loop;
	env.budget_ms = 5000;
	ck_assert_int_eq(probe_check_start(&po, &env, check_done, &done, &pc),
	    0);
	ck_assert_int_eq(done, 0); /* never from inside the start */
	uv_run(&loop, UV_RUN_DEFAULT);
	ck_assert_int_eq(done, 1);
	output_init(&out);
	probe_check_report(pc, NULL, &out);
	ck_assert_int_eq(out.state, OUTPUT_CRITICAL);
	util_buf_init(&text, 65536);
	ck_assert_int_eq(output_render(&out, &text), 0);
	ck_assert_int_eq(util_buf_cstr(&text), 0);
	ck_assert_msg(strstr((char *)text.data, "connection refused") != NULL,
	    "%s", text.data);
	snprintf(why, sizeof(why), "'%s days_left'=U", spec);
	ck_assert_msg(strstr((char *)text.data, why) != NULL, "%s", text.data);
	snprintf(why, sizeof(why), "'%s handshake_time'=Us", spec);
	ck_assert_msg(strstr((char *)text.data, why) != NULL, "%s", text.data);
	util_buf_clear(&text);
	output_clear(&out);
	probe_check_free(pc);
	uv_run(&loop, UV_RUN_DEFAULT);
	ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

static Suite *
probe_suite(void)
{
	Suite *s = suite_create("probe");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_target_parse);
	tcase_add_test(tc, test_starttls_names);
	tcase_add_test(tc, test_smtp_dialog);
	tcase_add_test(tc, test_smtp_refusals);
	tcase_add_test(tc, test_starttls_caps);
	tcase_add_test(tc, test_imap_pop3_dialogs);
	tcase_add_test(tc, test_thresholds);
	tcase_add_test(tc, test_probe_options);
	tcase_add_test(tc, test_judge_ok);
	tcase_add_test(tc, test_judge_forged_sct);
	tcase_add_test(tc, test_judge_scts_without_list_or_issuer);
	tcase_add_test(tc, test_judge_no_scts);
	tcase_add_test(tc, test_judge_issuer_and_name);
	tcase_add_test(tc, test_judge_expiry);
	tcase_add_test(tc, test_judge_agents);
	tcase_add_test(tc, test_judge_sources);
	tcase_add_test(tc, test_judge_failures);
	tcase_add_test(tc, test_judge_memo);
	tcase_add_test(tc, test_found_in_sources);
	tcase_add_test(tc, test_check_refused);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	return testutil_run(probe_suite());
}
