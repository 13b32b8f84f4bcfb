/*
 * tls: certificate helpers, then client and server on 127.0.0.1 (ephemeral
 * ports) on one libuv loop: pinned mutual handshakes, refusals on either
 * side, foreign clients (no certificate, TLS 1.2 only, a forged
 * certificate, a certificate without its private key, raw TCP), deadlines,
 * 200 KB each way, resumption; CA-file mode with a PKI made here (chains,
 * names, dates, foreign CAs, the modes side by side). Foreign wolfSSL
 * clients run in a thread
 * with blocking sockets; everything of ours runs on the loop thread.
 * Every test ends with uv_loop_close() == 0.
 */
#define _GNU_SOURCE /* memmem */
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/ed25519.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "der.h"
#include "testutil.h"
#include "tls.h"
#include "util.h"

#define TEST_TIMEOUT_S 60
#define BULK_BYTES (200 * 1024)
/* More than loopback socket buffers hold, so libuv must queue some. */
#define FLUSH_BYTES (8 * 1024 * 1024)
#define SHORT_DEADLINE_MS 200
#define FOREIGN_RCV_TIMEOUT_S 10
/* Enough other handshakes to push a session out of wolfSSL's cache. */
#define EVICTION_HANDSHAKES 400

struct keypair {
	uint8_t seed[TLS_KEY_BYTES];
	uint8_t pub[TLS_KEY_BYTES];
};

/* A deterministic key pair from a fill byte. */
static void
keypair_make(struct keypair *k, uint8_t fill)
{
	ed25519_key key;
	size_t i;

	for (i = 0; i < TLS_KEY_BYTES; i++)
		k->seed[i] = (uint8_t)(fill + 7 * i);
	ck_assert_int_eq(wc_ed25519_init(&key), 0);
	ck_assert_int_eq(wc_ed25519_import_private_only(k->seed, TLS_KEY_BYTES,
	                     &key),
	    0);
	ck_assert_int_eq(wc_ed25519_make_public(&key, k->pub, TLS_KEY_BYTES),
	    0);
	wc_ed25519_free(&key);
}

/* ------------------------------------------------------------ fixture */

struct fixture;

/* What one side of a connection saw, and what it should do. */
struct side {
	struct fixture *fx;
	struct tls_conn *conn;
	int hs_calls, hs_status;
	int close_calls, close_status;
	char error[TLS_ERROR_TEXT_BYTES];
	bool has_peer_pub;
	uint8_t peer_pub[TLS_KEY_BYTES];
	bool resumed;
	struct util_buf rx;
	const uint8_t *tx; /* written once the handshake is done */
	size_t tx_len;
	size_t close_after;  /* tls_close once this much arrived (0: never) */
	bool close_after_tx; /* tls_close right after writing tx */
	bool echo;
	uint64_t idle_deadline_ms; /* set once the handshake is done */
	bool want_session;
	struct tls_session *session;
	int write_rc; /* first failing tls_write, 0 if none */
	char peer_name[TLS_NAME_MAX_BYTES + 1]; /* CA-file mode */
	int alert; /* the fatal alert received, -1 if none */
};

struct fixture {
	uv_loop_t loop;
	uv_tcp_t listener;
	bool listening;
	struct sockaddr_in addr;
	struct keypair skey, ckey, other;
	struct tls_ctx *sctx, *cctx;
	struct side server, client;
	int open_conns; /* ours, not yet on_close'd */
	int authorize_calls;
	bool authorize_refuses;
	uint8_t authorize_seen[TLS_KEY_BYTES];
	uint64_t accept_deadline_ms; /* set on the server conn at accept */
	/* Raw TCP peers (no TLS). */
	uv_tcp_t raw;
	bool raw_open;
	uv_connect_t raw_connect;
	uv_write_t raw_write;
	const char *raw_send;
	size_t raw_rx;
	bool raw_eof;
};

static int
fx_authorize(void *arg, const uint8_t peer_pub[TLS_KEY_BYTES])
{
	struct fixture *fx = arg;

	fx->authorize_calls++;
	memcpy(fx->authorize_seen, peer_pub, TLS_KEY_BYTES);
	if (fx->authorize_refuses)
		return -1;
	return memcmp(peer_pub, fx->ckey.pub, TLS_KEY_BYTES) == 0 ? 0 : -1;
}

static void
side_reset(struct fixture *fx, struct side *s)
{
	struct tls_session *keep = s->session;

	util_buf_clear(&s->rx);
	memset(s, 0, sizeof(*s));
	s->fx = fx;
	s->session = keep;
	util_buf_init(&s->rx, 2 * FLUSH_BYTES);
}

static void
side_on_handshake(struct tls_conn *c, int status)
{
	struct side *s = tls_conn_arg(c);
	int rc;

	s->hs_calls++;
	s->hs_status = status;
	if (status != 0)
		return;
	s->resumed = tls_conn_resumed(c);
	if (s->idle_deadline_ms != 0)
		tls_set_deadline(c, s->idle_deadline_ms);
	if (s->tx_len > 0 && (rc = tls_write(c, s->tx, s->tx_len)) != 0 &&
	    s->write_rc == 0)
		s->write_rc = rc;
	if (s->close_after_tx)
		tls_close(c);
}

static void
side_on_data(struct tls_conn *c, const uint8_t *p, size_t n)
{
	struct side *s = tls_conn_arg(c);
	int rc;

	ck_assert_int_eq(s->hs_status, 0);
	ck_assert_int_eq(util_buf_append(&s->rx, p, n), 0);
	if (s->echo && (rc = tls_write(c, p, n)) != 0 && s->write_rc == 0)
		s->write_rc = rc;
	if (s->want_session && s->session == NULL)
		(void)tls_conn_get_session(c, &s->session);
	if (s->close_after != 0 && s->rx.len >= s->close_after)
		tls_close(c);
}

static void
side_on_close(struct tls_conn *c, int status)
{
	struct side *s = tls_conn_arg(c);

	s->close_calls++;
	s->close_status = status;
	snprintf(s->error, sizeof(s->error), "%s", tls_conn_error(c));
	s->has_peer_pub = tls_conn_peer_pub(c, s->peer_pub) == 0;
	snprintf(s->peer_name, sizeof(s->peer_name), "%s",
	    tls_conn_peer_name(c));
	s->alert = tls_conn_alert(c);
	if (s->want_session && s->session == NULL)
		(void)tls_conn_get_session(c, &s->session);
	s->conn = NULL;
	if (getenv("TLS_TEST_VERBOSE") != NULL)
		fprintf(stderr,
		    "%llu %s: hs %d close %d resumed %d rx %zu: %s\n",
		    (unsigned long long)(uv_hrtime() / 1000000),
		    s == &s->fx->server ? "server" : "client", s->hs_status,
		    status, s->resumed, s->rx.len, s->error);
	if (--s->fx->open_conns == 0)
		uv_stop(&s->fx->loop);
}

static const struct tls_callbacks side_cbs = {
    .on_handshake = side_on_handshake,
    .on_data = side_on_data,
    .on_close = side_on_close,
};

static void
fx_on_connection(uv_stream_t *server, int status)
{
	struct fixture *fx = server->data;
	struct tls_callbacks cb = side_cbs;
	int rc;

	ck_assert_int_eq(status, 0);
	cb.arg = &fx->server;
	rc = tls_accept(fx->sctx, server, &cb, &fx->server.conn);
	ck_assert_int_eq(rc, 0);
	fx->open_conns++;
	if (fx->accept_deadline_ms != 0)
		tls_set_deadline(fx->server.conn, fx->accept_deadline_ms);
}

/* Binds 127.0.0.1:0 and records the port the kernel chose. */
static void
fx_listen(struct fixture *fx, uv_tcp_t *h, uv_connection_cb cb)
{
	struct sockaddr_in sin;
	int len = sizeof(fx->addr);

	ck_assert_int_eq(uv_ip4_addr("127.0.0.1", 0, &sin), 0);
	ck_assert_int_eq(uv_tcp_init(&fx->loop, h), 0);
	h->data = fx;
	ck_assert_int_eq(uv_tcp_bind(h, (const struct sockaddr *)&sin, 0), 0);
	ck_assert_int_eq(uv_listen((uv_stream_t *)h, 8, cb), 0);
	ck_assert_int_eq(uv_tcp_getsockname(h, (struct sockaddr *)&fx->addr,
	                     &len),
	    0);
	ck_assert_int_ne(ntohs(fx->addr.sin_port), 0);
}

static struct fixture *
fx_new(bool with_server)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	int rc;

	ck_assert_ptr_nonnull(fx);
	ck_assert_int_eq(uv_loop_init(&fx->loop), 0);
	keypair_make(&fx->skey, 0x11);
	keypair_make(&fx->ckey, 0x22);
	keypair_make(&fx->other, 0x33);
	side_reset(fx, &fx->server);
	side_reset(fx, &fx->client);
	rc = tls_ctx_new_server(fx->skey.seed, fx->skey.pub, "agent.test",
	    fx_authorize, fx, &fx->sctx);
	ck_assert_int_eq(rc, 0);
	rc = tls_ctx_new_client(fx->ckey.seed, fx->ckey.pub, "poller.test",
	    NULL, NULL, &fx->cctx);
	ck_assert_int_eq(rc, 0);
	if (with_server) {
		fx_listen(fx, &fx->listener, fx_on_connection);
		fx->listening = true;
	}
	return fx;
}

static void
walk_close(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

/* Frees everything; the loop must close cleanly. */
static void
fx_free(struct fixture *fx)
{
	tls_ctx_free(fx->sctx);
	tls_ctx_free(fx->cctx);
	if (fx->listening)
		uv_close((uv_handle_t *)&fx->listener, NULL);
	uv_walk(&fx->loop, walk_close, NULL);
	ck_assert_int_eq(uv_run(&fx->loop, UV_RUN_DEFAULT), 0);
	ck_assert_int_eq(uv_loop_close(&fx->loop), 0);
	tls_session_free(fx->server.session);
	tls_session_free(fx->client.session);
	util_buf_clear(&fx->server.rx);
	util_buf_clear(&fx->client.rx);
	free(fx);
}

/* Connects our client to the fixture's server (pin may be NULL). */
static void
fx_connect(struct fixture *fx, const uint8_t *pin)
{
	struct tls_callbacks cb = side_cbs;
	int rc;

	cb.arg = &fx->client;
	rc =
	    tls_connect(fx->cctx, &fx->loop, (const struct sockaddr *)&fx->addr,
	        pin, fx->client.session, &cb, &fx->client.conn);
	ck_assert_int_eq(rc, 0);
	fx->open_conns++;
}

/* Runs until every connection of ours has closed. */
static void
fx_run(struct fixture *fx)
{
	uv_run(&fx->loop, UV_RUN_DEFAULT);
	ck_assert_int_eq(fx->open_conns, 0);
}

/* Each of our connections saw one on_handshake and one on_close. */
static void
side_check_once(const struct side *s)
{
	ck_assert_int_eq(s->hs_calls, 1);
	ck_assert_int_eq(s->close_calls, 1);
}

/* ------------------------------------------------------------ raw TCP */

static void
raw_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	(void)h;
	(void)hint;
	buf->base = malloc(4096);
	buf->len = buf->base != NULL ? 4096 : 0;
}

static void
raw_closed(uv_handle_t *h)
{
	struct fixture *fx = h->data;

	fx->raw_open = false;
}

static void
raw_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct fixture *fx = s->data;

	free(buf->base);
	if (nread > 0)
		fx->raw_rx += (size_t)nread;
	if (nread < 0) {
		fx->raw_eof = true;
		if (!uv_is_closing((uv_handle_t *)s))
			uv_close((uv_handle_t *)s, raw_closed);
	}
}

static void
raw_written(uv_write_t *req, int status)
{
	(void)req;
	(void)status;
}

static void
raw_connected(uv_connect_t *req, int status)
{
	struct fixture *fx = req->data;
	uv_buf_t b;

	ck_assert_int_eq(status, 0);
	ck_assert_int_eq(uv_read_start((uv_stream_t *)&fx->raw, raw_alloc,
	                     raw_read),
	    0);
	if (fx->raw_send != NULL) {
		b = uv_buf_init((char *)(uintptr_t)fx->raw_send,
		    (unsigned)strlen(fx->raw_send));
		ck_assert_int_eq(uv_write(&fx->raw_write,
		                     (uv_stream_t *)&fx->raw, &b, 1,
		                     raw_written),
		    0);
	}
}

/* A plain TCP client that sends send (or nothing) and reads until EOF. */
static void
raw_connect(struct fixture *fx, const char *send)
{
	ck_assert_int_eq(uv_tcp_init(&fx->loop, &fx->raw), 0);
	fx->raw.data = fx;
	fx->raw_open = true;
	fx->raw_send = send;
	fx->raw_connect.data = fx;
	ck_assert_int_eq(uv_tcp_connect(&fx->raw_connect, &fx->raw,
	                     (const struct sockaddr *)&fx->addr, raw_connected),
	    0);
}

/* A plain TCP server: accepts one connection, reads, never answers. */
static void
raw_on_connection(uv_stream_t *server, int status)
{
	struct fixture *fx = server->data;

	ck_assert_int_eq(status, 0);
	ck_assert_int_eq(uv_tcp_init(&fx->loop, &fx->raw), 0);
	fx->raw.data = fx;
	fx->raw_open = true;
	ck_assert_int_eq(uv_accept(server, (uv_stream_t *)&fx->raw), 0);
	ck_assert_int_eq(uv_read_start((uv_stream_t *)&fx->raw, raw_alloc,
	                     raw_read),
	    0);
}

/* ------------------------------------------------------------ foreign */

enum foreign_kind {
	FOREIGN_NO_CERT,  /* TLS 1.3 client without a certificate */
	FOREIGN_TLS12,    /* TLS 1.2 only, with a valid certificate */
	FOREIGN_CERT_KEY, /* TLS 1.3 with the given certificate and key */
};

/* A blocking wolfSSL client in its own thread. */
struct foreign {
	pthread_t thread;
	uint16_t port;
	enum foreign_kind kind;
	const uint8_t *cert, *key;
	size_t cert_len, key_len;
	bool chain; /* cert holds several DER certificates, leaf first */
	const struct keypair *sign_with; /* signs CertificateVerify */
	int sign_calls;
	WOLFSSL_SESSION *resume; /* offered for resumption */
	int tamper;              /* ticket byte to flip first, or -1 */
	bool tampered;
	bool save; /* keep the session in saved */
	WOLFSSL_SESSION *saved;
	bool resumed;
	int load_rc;     /* WOLFSSL_SUCCESS when cert and key loaded */
	int connect_ret; /* wolfSSL_connect */
	int connect_err;
	int read_ret; /* one wolfSSL_read after a "successful" handshake */
	int read_err;
	int alert_rx; /* last alert received, -1 if none */
};

/* wolfSSL's Ed25519 signing callback: signs with f->sign_with instead. */
static int
foreign_sign(WOLFSSL *ssl, const unsigned char *in, unsigned int in_len,
    unsigned char *out, unsigned int *out_len, const unsigned char *key_der,
    unsigned int key_len, void *arg)
{
	struct foreign *f = arg;
	ed25519_key key;
	int ret;

	(void)ssl;
	(void)key_der;
	(void)key_len;
	f->sign_calls++;
	if ((ret = wc_ed25519_init(&key)) != 0)
		return ret;
	ret = wc_ed25519_import_private_key(f->sign_with->seed, TLS_KEY_BYTES,
	    f->sign_with->pub, TLS_KEY_BYTES, &key);
	if (ret == 0)
		ret = wc_ed25519_sign_msg(in, in_len, out, out_len, &key);
	wc_ed25519_free(&key);
	return ret;
}

/* Offers f->resume, with one ticket byte flipped when f->tamper >= 0. */
#define TAMPER_FROM_END(n) (1 << 20 | (n)) /* n bytes before the last */
static void
foreign_resume(struct foreign *f, WOLFSSL *ssl)
{
	unsigned char t[4096];
	word32 len = sizeof(t);

	if (wolfSSL_set_session(ssl, f->resume) != WOLFSSL_SUCCESS ||
	    f->tamper < 0)
		return;
	if (wolfSSL_get_SessionTicket(ssl, t, &len) != WOLFSSL_SUCCESS ||
	    len == 0)
		return;
	if (f->tamper & 1 << 20)
		t[len - 1 - (word32)(f->tamper & 0xffff) % len] ^= 0x01;
	else
		t[(word32)f->tamper % len] ^= 0x01;
	if (wolfSSL_set_SessionTicket(ssl, t, len) == WOLFSSL_SUCCESS)
		f->tampered = true;
}

static void *
foreign_run(void *arg)
{
	struct foreign *f = arg;
	struct sockaddr_in sin;
	struct timeval tv = {.tv_sec = FOREIGN_RCV_TIMEOUT_S};
	WOLFSSL_CTX *ctx = NULL;
	WOLFSSL *ssl = NULL;
	WOLFSSL_ALERT_HISTORY h;
	char buf[256];
	int fd;

	f->alert_rx = -1;
	f->connect_ret = f->read_ret = 0;
	f->load_rc = WOLFSSL_SUCCESS;
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
		return NULL;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(f->port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0)
		goto out;
	ctx = wolfSSL_CTX_new(f->kind == FOREIGN_TLS12
	        ? wolfTLSv1_2_client_method()
	        : wolfTLSv1_3_client_method());
	if (ctx == NULL)
		goto out;
	wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_NONE, NULL);
	if (f->cert != NULL &&
	    ((f->chain ? wolfSSL_CTX_use_certificate_chain_buffer_format(ctx,
	                     f->cert, (long)f->cert_len, WOLFSSL_FILETYPE_ASN1)
	               : wolfSSL_CTX_use_certificate_buffer(ctx, f->cert,
	                     (long)f->cert_len, WOLFSSL_FILETYPE_ASN1)) !=
	            WOLFSSL_SUCCESS ||
	        wolfSSL_CTX_use_PrivateKey_buffer(ctx, f->key, (long)f->key_len,
	            WOLFSSL_FILETYPE_ASN1) != WOLFSSL_SUCCESS)) {
		f->load_rc = -1;
		goto out;
	}
	if (f->sign_with != NULL)
		wolfSSL_CTX_SetEd25519SignCb(ctx, foreign_sign);
	if ((ssl = wolfSSL_new(ctx)) == NULL ||
	    wolfSSL_set_fd(ssl, fd) != WOLFSSL_SUCCESS)
		goto out;
	if (f->sign_with != NULL)
		wolfSSL_SetEd25519SignCtx(ssl, f);
	if (f->resume != NULL)
		foreign_resume(f, ssl);
	f->connect_ret = wolfSSL_connect(ssl);
	f->connect_err = wolfSSL_get_error(ssl, f->connect_ret);
	if (f->connect_ret == WOLFSSL_SUCCESS) {
		f->resumed = wolfSSL_session_reused(ssl) == 1;
		f->read_ret = wolfSSL_read(ssl, buf, sizeof(buf));
		f->read_err = wolfSSL_get_error(ssl, f->read_ret);
		if (f->save && f->read_ret > 0)
			f->saved = wolfSSL_get1_session(ssl);
	}
	if (wolfSSL_get_alert_history(ssl, &h) == WOLFSSL_SUCCESS &&
	    h.last_rx.code >= 0 && h.last_rx.level != 0)
		f->alert_rx = h.last_rx.code;
out:
	wolfSSL_free(ssl);
	wolfSSL_CTX_free(ctx);
	close(fd);
	wc_ecc_fp_free(); /* FP_ECC caches are per thread */
	return NULL;
}

static void
foreign_start(struct fixture *fx, struct foreign *f)
{
	f->port = ntohs(fx->addr.sin_port);
	ck_assert_int_eq(pthread_create(&f->thread, NULL, foreign_run, f), 0);
}

/* The private key DER for a key pair, as wolfSSL loads it. */
static size_t
key_der(const struct keypair *k, uint8_t *out, size_t outsz)
{
	ed25519_key key;
	int n;

	ck_assert_int_eq(wc_ed25519_init(&key), 0);
	ck_assert_int_eq(wc_ed25519_import_private_key(k->seed, TLS_KEY_BYTES,
	                     k->pub, TLS_KEY_BYTES, &key),
	    0);
	n = wc_Ed25519PrivateKeyToDer(&key, out, (word32)outsz);
	wc_ed25519_free(&key);
	ck_assert_int_gt(n, 0);
	return (size_t)n;
}

/* ------------------------------------------------------------ setup */

static void
setup(void)
{
	ck_assert_int_eq(tls_global_init(), 0);
}

static void
teardown(void)
{
	tls_global_cleanup();
}

/* ------------------------------------------------------------ certs */

/* Walks to the TBS fields of a certificate. */
static void
cert_tbs(const uint8_t *der, size_t len, struct der_cursor *tbs)
{
	struct der_cursor top, cert;
	struct der_tlv t;

	der_init(&top, der, len);
	ck_assert_int_eq(der_expect(&top, DER_SEQUENCE, &t), 0);
	der_enter(&t, &cert);
	ck_assert_int_eq(der_expect(&cert, DER_SEQUENCE, &t), 0);
	der_enter(&t, tbs);
}

START_TEST(test_cert_self_signed)
{
	struct keypair k;
	struct der_cursor tbs, val;
	struct der_tlv t, nb, na;
	uint8_t *der = NULL, pub[TLS_KEY_BYTES];
	size_t len = 0;
	int64_t before, after, now = util_now();
	const char cn[] = "web1.example.org";

	keypair_make(&k, 0x44);
	ck_assert_int_eq(tls_make_cert(k.seed, k.pub, cn, &der, &len), 0);
	ck_assert_uint_gt(len, 0);
	ck_assert_uint_le(len, TLS_CERT_MAX_BYTES);
	ck_assert_int_eq(tls_cert_pub(der, len, pub), 0);
	ck_assert_mem_eq(pub, k.pub, TLS_KEY_BYTES);

	/* version, serial, sigalg, issuer, validity. */
	cert_tbs(der, len, &tbs);
	ck_assert_int_eq(der_expect(&tbs, DER_CTX_CONS(0), &t), 0);
	ck_assert_int_eq(der_expect(&tbs, DER_INTEGER, &t), 0);
	ck_assert_int_eq(der_expect(&tbs, DER_SEQUENCE, &t), 0);
	ck_assert_int_eq(der_expect(&tbs, DER_SEQUENCE, &t), 0);
	ck_assert_ptr_nonnull(memmem(t.val, t.len, cn, strlen(cn)));
	ck_assert_int_eq(der_expect(&tbs, DER_SEQUENCE, &t), 0);
	der_enter(&t, &val);
	ck_assert_int_eq(der_next(&val, &nb), 0);
	ck_assert_int_eq(der_next(&val, &na), 0);
	ck_assert_int_eq(der_get_time(&nb, &before), 0);
	ck_assert_int_eq(der_get_time(&na, &after), 0);
	/* now - 1 day, and TLS_CERT_VALID_DAYS later (a minute of slack). */
	ck_assert_int_le(llabs((long long)(before - (now - 86400))), 60);
	ck_assert_int_le(llabs((long long)(after -
	                     (now + (int64_t)TLS_CERT_VALID_DAYS * 86400))),
	    86400 + 60);
	free(der);
}
END_TEST

START_TEST(test_cert_forgeries)
{
	struct keypair k, other;
	uint8_t *der = NULL, *bad, pub[TLS_KEY_BYTES];
	size_t len = 0, i;
	struct der_cursor tbs;
	struct der_tlv t;
	size_t key_off;

	keypair_make(&k, 0x44);
	keypair_make(&other, 0x55);
	ck_assert_int_eq(tls_make_cert(k.seed, k.pub, "x", &der, &len), 0);
	bad = malloc(len + 1);
	ck_assert_ptr_nonnull(bad);

	/* A flipped signature bit. */
	memcpy(bad, der, len);
	bad[len - 1] ^= 0x01;
	ck_assert_int_eq(tls_cert_pub(bad, len, pub), CT_ERR_SIGNATURE);

	/* Another key in the SPKI (a valid point; the signature no longer
	 * matches). */
	memcpy(bad, der, len);
	cert_tbs(bad, len, &tbs);
	for (i = 0; i < 7; i++) /* version .. subjectPublicKeyInfo */
		ck_assert_int_eq(der_next(&tbs, &t), 0);
	ck_assert_int_eq(t.tag, DER_SEQUENCE);
	key_off = (size_t)(t.val + t.len - TLS_KEY_BYTES - bad);
	memcpy(bad + key_off, other.pub, TLS_KEY_BYTES);
	ck_assert_int_eq(tls_cert_pub(bad, len, pub), CT_ERR_SIGNATURE);

	/* A flipped TBS byte (in the serial). */
	memcpy(bad, der, len);
	bad[12] ^= 0x80;
	ck_assert_int_lt(tls_cert_pub(bad, len, pub), 0);

	/* Truncated at every length, and one byte too many. */
	for (i = 0; i < len; i++)
		ck_assert_int_lt(tls_cert_pub(der, i, pub), 0);
	memcpy(bad, der, len);
	bad[len] = 0;
	ck_assert_int_eq(tls_cert_pub(bad, len + 1, pub), CT_ERR_TRAILING);
	ck_assert_int_eq(tls_cert_pub(NULL, 0, pub), CT_ERR_INVALID);

	free(bad);
	free(der);
}
END_TEST

START_TEST(test_ctx_arguments)
{
	struct keypair k, other;
	struct tls_ctx *ctx = NULL;
	char longcn[TLS_CN_MAX_BYTES + 2];
	uint8_t *der = NULL;
	size_t len = 0;

	keypair_make(&k, 0x44);
	keypair_make(&other, 0x55);
	/* pub must belong to seed. */
	ck_assert_int_eq(tls_ctx_new_server(k.seed, other.pub, "a",
	                     fx_authorize, NULL, &ctx),
	    CT_ERR_INVALID);
	ck_assert_ptr_null(ctx);
	ck_assert_int_eq(tls_make_cert(k.seed, other.pub, "a", &der, &len),
	    CT_ERR_INVALID);
	ck_assert_ptr_null(der);
	/* A server needs authorize. */
	ck_assert_int_eq(tls_ctx_new_server(k.seed, k.pub, "a", NULL, NULL,
	                     &ctx),
	    CT_ERR_INVALID);
	/* CN: empty, too long, control bytes. */
	memset(longcn, 'a', sizeof(longcn) - 1);
	longcn[sizeof(longcn) - 1] = '\0';
	ck_assert_int_eq(tls_ctx_new_client(k.seed, k.pub, "", NULL, NULL,
	                     &ctx),
	    CT_ERR_INVALID);
	ck_assert_int_eq(tls_ctx_new_client(k.seed, k.pub, longcn, NULL, NULL,
	                     &ctx),
	    CT_ERR_INVALID);
	ck_assert_int_eq(tls_ctx_new_client(k.seed, k.pub, "a\nb", NULL, NULL,
	                     &ctx),
	    CT_ERR_INVALID);
	longcn[TLS_CN_MAX_BYTES] = '\0';
	ck_assert_int_eq(tls_ctx_new_client(k.seed, k.pub, longcn, NULL, NULL,
	                     &ctx),
	    0);
	/* CA-file mode needs its files (test_ca_load_errors has the rest). */
	ck_assert_int_eq(tls_ctx_use_ca_file(ctx, NULL, NULL, 0),
	    CT_ERR_INVALID);
	ck_assert(!tls_ctx_ca_mode(ctx));
	tls_ctx_free(ctx);
}
END_TEST

/* ------------------------------------------------------------ handshakes */

START_TEST(test_echo_pinned)
{
	struct fixture *fx = fx_new(true);
	static const uint8_t hello[] = "hello from the poller";
	static const uint8_t greet[] = "agent says hi";
	size_t want = sizeof(greet) + sizeof(hello);

	fx->server.echo = true;
	fx->server.tx = greet;
	fx->server.tx_len = sizeof(greet);
	fx->client.tx = hello;
	fx->client.tx_len = sizeof(hello);
	fx->client.close_after = want;
	fx_connect(fx, fx->skey.pub);
	fx_run(fx);

	side_check_once(&fx->client);
	side_check_once(&fx->server);
	ck_assert_int_eq(fx->client.hs_status, 0);
	ck_assert_int_eq(fx->server.hs_status, 0);
	/* The client closed: 0 for it, CT_ERR_CLOSED (close_notify) for the
	 * server. */
	ck_assert_int_eq(fx->client.close_status, 0);
	ck_assert_int_eq(fx->server.close_status, CT_ERR_CLOSED);
	ck_assert_str_eq(fx->client.error, "");
	ck_assert_msg(strstr(fx->server.error, "closed") != NULL, "%s",
	    fx->server.error);
	/* Both directions: greeting + echo to the client. */
	ck_assert_uint_eq(fx->client.rx.len, want);
	ck_assert_mem_eq(fx->client.rx.data, greet, sizeof(greet));
	ck_assert_mem_eq(fx->client.rx.data + sizeof(greet), hello,
	    sizeof(hello));
	ck_assert_uint_eq(fx->server.rx.len, sizeof(hello));
	ck_assert_mem_eq(fx->server.rx.data, hello, sizeof(hello));
	/* Each side knows the other's key. */
	ck_assert(fx->client.has_peer_pub);
	ck_assert_mem_eq(fx->client.peer_pub, fx->skey.pub, TLS_KEY_BYTES);
	ck_assert(fx->server.has_peer_pub);
	ck_assert_mem_eq(fx->server.peer_pub, fx->ckey.pub, TLS_KEY_BYTES);
	ck_assert_int_ge(fx->authorize_calls, 1);
	ck_assert_mem_eq(fx->authorize_seen, fx->ckey.pub, TLS_KEY_BYTES);
	ck_assert(!fx->client.resumed);
	ck_assert_int_eq(fx->client.write_rc, 0);
	ck_assert_int_eq(fx->server.write_rc, 0);
	fx_free(fx);
}
END_TEST

static int
pin_callback(void *arg, const uint8_t peer_pub[TLS_KEY_BYTES])
{
	return memcmp(arg, peer_pub, TLS_KEY_BYTES) == 0 ? 0 : -1;
}

/* The client's context callback, instead of a per-connection pin. */
START_TEST(test_client_authorize_callback)
{
	struct fixture *fx = fx_new(true);
	static const uint8_t msg[] = "ping";

	tls_ctx_free(fx->cctx);
	ck_assert_int_eq(tls_ctx_new_client(fx->ckey.seed, fx->ckey.pub,
	                     "poller.test", pin_callback, fx->skey.pub,
	                     &fx->cctx),
	    0);
	fx->server.echo = true;
	fx->client.tx = msg;
	fx->client.tx_len = sizeof(msg);
	fx->client.close_after = sizeof(msg);
	fx_connect(fx, NULL);
	fx_run(fx);
	ck_assert_int_eq(fx->client.hs_status, 0);
	ck_assert_int_eq(fx->client.close_status, 0);
	ck_assert_uint_eq(fx->client.rx.len, sizeof(msg));

	/* The same callback with another expected key refuses. */
	side_reset(fx, &fx->client);
	side_reset(fx, &fx->server);
	tls_ctx_free(fx->cctx);
	ck_assert_int_eq(tls_ctx_new_client(fx->ckey.seed, fx->ckey.pub,
	                     "poller.test", pin_callback, fx->other.pub,
	                     &fx->cctx),
	    0);
	fx_connect(fx, NULL);
	fx_run(fx);
	ck_assert_int_eq(fx->client.close_status, CT_ERR_AUTH);
	ck_assert_int_eq(fx->client.hs_status, CT_ERR_AUTH);
	fx_free(fx);
}
END_TEST

START_TEST(test_client_pins_wrong_key)
{
	struct fixture *fx = fx_new(true);

	fx_connect(fx, fx->other.pub);
	fx_run(fx);

	side_check_once(&fx->client);
	side_check_once(&fx->server);
	ck_assert_int_eq(fx->client.hs_status, CT_ERR_AUTH);
	ck_assert_int_eq(fx->client.close_status, CT_ERR_AUTH);
	ck_assert_msg(strstr(fx->client.error, "pin") != NULL, "%s",
	    fx->client.error);
	/* "expected X, got Y": the key the server really has is known. */
	ck_assert(fx->client.has_peer_pub);
	ck_assert_mem_eq(fx->client.peer_pub, fx->skey.pub, TLS_KEY_BYTES);
	/* The client refused before sending its certificate: the server
	 * never saw a client key, and got an alert. */
	ck_assert_int_eq(fx->authorize_calls, 0);
	ck_assert(!fx->server.has_peer_pub);
	ck_assert_int_lt(fx->server.hs_status, 0);
	ck_assert_int_eq(fx->server.close_status, CT_ERR_AUTH);
	ck_assert_msg(strstr(fx->server.error, "alert") != NULL, "%s",
	    fx->server.error);
	ck_assert_uint_eq(fx->client.rx.len, 0);
	fx_free(fx);
}
END_TEST

START_TEST(test_server_refuses_client)
{
	struct fixture *fx = fx_new(true);
	static const uint8_t secret[] = "must not be delivered";

	fx->authorize_refuses = true;
	fx->server.tx = secret; /* would be sent if the server accepted */
	fx->server.tx_len = sizeof(secret);
	fx_connect(fx, fx->skey.pub);
	fx_run(fx);

	side_check_once(&fx->client);
	side_check_once(&fx->server);
	ck_assert_int_eq(fx->server.hs_status, CT_ERR_AUTH);
	ck_assert_int_eq(fx->server.close_status, CT_ERR_AUTH);
	ck_assert_msg(strstr(fx->server.error, "not authorized") != NULL, "%s",
	    fx->server.error);
	ck_assert(fx->server.has_peer_pub);
	ck_assert_mem_eq(fx->server.peer_pub, fx->ckey.pub, TLS_KEY_BYTES);
	ck_assert_int_ge(fx->authorize_calls, 1);
	/* TLS 1.3: the client may finish its side of the handshake, then
	 * reads the server's alert. */
	ck_assert_int_eq(fx->client.close_status, CT_ERR_AUTH);
	ck_assert_msg(strstr(fx->client.error, "alert") != NULL, "%s",
	    fx->client.error);
	ck_assert_uint_eq(fx->client.rx.len, 0);
	ck_assert_uint_eq(fx->server.rx.len, 0);
	fx_free(fx);
}
END_TEST

/* Runs the fixture's server against one foreign client to the end. */
static void
run_foreign(struct fixture *fx, struct foreign *f)
{
	foreign_start(fx, f);
	fx->open_conns = 0;
	/* The server's connection is counted when accepted; run until it
	 * has closed. */
	while (fx->server.close_calls == 0)
		uv_run(&fx->loop, UV_RUN_ONCE);
	ck_assert_int_eq(pthread_join(f->thread, NULL), 0);
	if (getenv("TLS_TEST_VERBOSE") != NULL)
		fprintf(stderr,
		    "foreign: load %d connect %d/%d read %d/%d "
		    "alert %d\n",
		    f->load_rc, f->connect_ret, f->connect_err, f->read_ret,
		    f->read_err, f->alert_rx);
}

START_TEST(test_client_without_certificate)
{
	struct fixture *fx = fx_new(true);
	struct foreign f = {.kind = FOREIGN_NO_CERT};

	run_foreign(fx, &f);
	side_check_once(&fx->server);
	ck_assert_int_eq(fx->server.hs_status, CT_ERR_AUTH);
	ck_assert_int_eq(fx->server.close_status, CT_ERR_AUTH);
	ck_assert_msg(strstr(fx->server.error, "no certificate") != NULL, "%s",
	    fx->server.error);
	ck_assert(!fx->server.has_peer_pub);
	ck_assert_int_eq(fx->authorize_calls, 0);
	/* The client got no data: its handshake or first read failed. */
	ck_assert(f.connect_ret != WOLFSSL_SUCCESS || f.read_ret <= 0);
	fx_free(fx);
}
END_TEST

START_TEST(test_tls12_client_refused)
{
	struct fixture *fx = fx_new(true);
	uint8_t *cert = NULL, key[128];
	size_t cert_len = 0;
	struct foreign f = {.kind = FOREIGN_TLS12};

	/* Even with the authorised key and certificate. */
	ck_assert_int_eq(tls_make_cert(fx->ckey.seed, fx->ckey.pub, "p", &cert,
	                     &cert_len),
	    0);
	f.cert = cert;
	f.cert_len = cert_len;
	f.key = key;
	f.key_len = key_der(&fx->ckey, key, sizeof(key));
	run_foreign(fx, &f);
	ck_assert_int_eq(f.load_rc, WOLFSSL_SUCCESS);
	ck_assert_int_ne(f.connect_ret, WOLFSSL_SUCCESS);
	side_check_once(&fx->server);
	ck_assert_int_eq(fx->server.close_status, CT_ERR_PROTO);
	ck_assert_msg(strstr(fx->server.error, "TLS 1.3") != NULL, "%s",
	    fx->server.error);
	ck_assert_int_eq(fx->authorize_calls, 0);
	util_zero(key, sizeof(key));
	free(cert);
	fx_free(fx);
}
END_TEST

/*
 * A certificate whose issuer is not its subject (as a CA-issued one) is
 * refused in pinned mode. Its signature is not what decides: pinning
 * and CertificateVerify do (see check_leaf), so the subject is changed
 * here, which also breaks the self-signature.
 */
START_TEST(test_forged_client_certificate)
{
	struct fixture *fx = fx_new(true);
	uint8_t *cert = NULL, *p, key[128];
	size_t cert_len = 0;
	struct foreign f = {.kind = FOREIGN_CERT_KEY};
	static const char cn[] = "poller-cn";

	ck_assert_int_eq(tls_make_cert(fx->ckey.seed, fx->ckey.pub, cn, &cert,
	                     &cert_len),
	    0);
	/* The CN appears in the issuer, then in the subject. */
	p = memmem(cert, cert_len, cn, strlen(cn));
	ck_assert_ptr_nonnull(p);
	p = memmem(p + 1, cert_len - (size_t)(p + 1 - cert), cn, strlen(cn));
	ck_assert_ptr_nonnull(p);
	p[0] = 'q';
	f.cert = cert;
	f.cert_len = cert_len;
	f.key = key;
	f.key_len = key_der(&fx->ckey, key, sizeof(key));
	run_foreign(fx, &f);
	ck_assert_int_eq(f.load_rc, WOLFSSL_SUCCESS);
	side_check_once(&fx->server);
	ck_assert_int_eq(fx->server.close_status, CT_ERR_AUTH);
	ck_assert_msg(strstr(fx->server.error, "issuer is not the subject") !=
	        NULL,
	    "%s", fx->server.error);
	ck_assert(f.connect_ret != WOLFSSL_SUCCESS || f.read_ret <= 0);
	ck_assert_int_eq(fx->authorize_calls, 0);
	free(cert);
	fx_free(fx);
}
END_TEST

/*
 * The authorised client's certificate, presented by someone without its
 * private key: the foreign client signs CertificateVerify with another key
 * (wolfSSL's signing callback stands in for the missing key). The verify
 * callback sees and accepts the certificate's key, but the handshake must
 * fail: the pin is on the key, and TLS 1.3 proves possession of it. The
 * same client signing with the right key is the control.
 */
static void
run_signer(struct fixture *fx, const struct keypair *sign_with,
    struct foreign *f)
{
	static const uint8_t ok[] = "ok";
	uint8_t *cert = NULL, key[128];
	size_t cert_len = 0;

	side_reset(fx, &fx->server);
	fx->server.tx = ok; /* lets the control's read return */
	fx->server.tx_len = sizeof(ok);
	fx->authorize_calls = 0;
	ck_assert_int_eq(tls_make_cert(fx->ckey.seed, fx->ckey.pub, "p", &cert,
	                     &cert_len),
	    0);
	memset(f, 0, sizeof(*f));
	f->kind = FOREIGN_CERT_KEY;
	f->cert = cert;
	f->cert_len = cert_len;
	f->key = key;
	f->key_len = key_der(&fx->ckey, key, sizeof(key));
	f->sign_with = sign_with;
	run_foreign(fx, f);
	ck_assert_int_eq(f->load_rc, WOLFSSL_SUCCESS);
	ck_assert_int_ge(f->sign_calls, 1);
	util_zero(key, sizeof(key));
	free(cert);
}

START_TEST(test_certificate_without_private_key)
{
	struct fixture *fx = fx_new(true);
	struct foreign f;

	run_signer(fx, &fx->ckey, &f); /* control: the real key */
	side_check_once(&fx->server);
	ck_assert_int_eq(fx->server.hs_status, 0);
	ck_assert_int_eq(f.connect_ret, WOLFSSL_SUCCESS);
	ck_assert_int_eq(f.read_ret, 3);

	run_signer(fx, &fx->other, &f);
	side_check_once(&fx->server);
	ck_assert_int_ge(fx->authorize_calls, 1); /* the key was acceptable */
	ck_assert_int_eq(fx->server.hs_status, CT_ERR_AUTH);
	ck_assert_int_eq(fx->server.close_status, CT_ERR_AUTH);
	ck_assert_msg(strstr(fx->server.error, "CertificateVerify") != NULL,
	    "%s", fx->server.error);
	ck_assert_uint_eq(fx->server.rx.len, 0);
	ck_assert(f.connect_ret != WOLFSSL_SUCCESS || f.read_ret <= 0);
	fx_free(fx);
}
END_TEST

/*
 * A client that sends a chain: only the first certificate (the leaf) is
 * its identity; what follows neither helps nor hurts.
 */
static void
run_chain(struct fixture *fx, const struct keypair *leaf,
    const struct keypair *extra, struct foreign *f)
{
	static const uint8_t ok[] = "ok";
	uint8_t *a = NULL, *b = NULL, *both, key[128];
	size_t alen = 0, blen = 0;

	side_reset(fx, &fx->server);
	fx->server.tx = ok;
	fx->server.tx_len = sizeof(ok);
	ck_assert_int_eq(tls_make_cert(leaf->seed, leaf->pub, "leaf", &a,
	                     &alen),
	    0);
	ck_assert_int_eq(tls_make_cert(extra->seed, extra->pub, "extra", &b,
	                     &blen),
	    0);
	both = malloc(alen + blen);
	ck_assert_ptr_nonnull(both);
	memcpy(both, a, alen);
	memcpy(both + alen, b, blen);
	memset(f, 0, sizeof(*f));
	f->kind = FOREIGN_CERT_KEY;
	f->chain = true;
	f->cert = both;
	f->cert_len = alen + blen;
	f->key = key;
	f->key_len = key_der(leaf, key, sizeof(key));
	run_foreign(fx, f);
	ck_assert_int_eq(f->load_rc, WOLFSSL_SUCCESS);
	util_zero(key, sizeof(key));
	free(both);
	free(a);
	free(b);
}

START_TEST(test_client_chain_leaf_first)
{
	struct fixture *fx = fx_new(true);
	struct foreign f;

	/* The authorised key first, another certificate after it. */
	run_chain(fx, &fx->ckey, &fx->other, &f);
	side_check_once(&fx->server);
	ck_assert_int_eq(fx->server.hs_status, 0);
	ck_assert_mem_eq(fx->server.peer_pub, fx->ckey.pub, TLS_KEY_BYTES);
	ck_assert_int_eq(f.read_ret, 3);

	/* Another key first: refused, whatever follows. */
	run_chain(fx, &fx->other, &fx->ckey, &f);
	side_check_once(&fx->server);
	ck_assert_int_eq(fx->server.close_status, CT_ERR_AUTH);
	ck_assert_mem_eq(fx->server.peer_pub, fx->other.pub, TLS_KEY_BYTES);
	ck_assert(f.connect_ret != WOLFSSL_SUCCESS || f.read_ret <= 0);
	fx_free(fx);
}
END_TEST

/* Calls that cannot work are refused without creating anything. */
START_TEST(test_bad_calls)
{
	struct fixture *fx = fx_new(true);
	struct tls_conn *c = NULL;
	struct tls_session *sess = NULL;

	/* A client context without authorize needs a pin. */
	ck_assert_int_eq(tls_connect(fx->cctx, &fx->loop,
	                     (const struct sockaddr *)&fx->addr, NULL, NULL,
	                     &side_cbs, &c),
	    CT_ERR_INVALID);
	ck_assert_ptr_null(c);
	/* Wrong context kinds. */
	ck_assert_int_eq(tls_connect(fx->sctx, &fx->loop,
	                     (const struct sockaddr *)&fx->addr, fx->skey.pub,
	                     NULL, &side_cbs, &c),
	    CT_ERR_INVALID);
	ck_assert_int_eq(tls_accept(fx->cctx, (uv_stream_t *)&fx->listener,
	                     &side_cbs, &c),
	    CT_ERR_INVALID);
	ck_assert_ptr_null(c);
	/* A session before anything was accepted, and on a server. */
	fx_connect(fx, fx->skey.pub);
	ck_assert_int_eq(tls_conn_get_session(fx->client.conn, &sess),
	    CT_ERR_INVALID);
	ck_assert_ptr_null(sess);
	tls_close(fx->client.conn);
	fx_run(fx);
	while (fx->server.conn != NULL)
		uv_run(&fx->loop, UV_RUN_ONCE);
	tls_session_free(NULL);
	fx_free(fx);
}
END_TEST

/*
 * The server's tickets carry the client key (tls.c, ticket_cb) in bytes
 * that travel outside the encrypted state; they must be authenticated. A
 * foreign client gets a ticket, then offers it intact (resumes, with the
 * right key) or with one byte flipped in the carried key (at the start, in
 * key_name; near the end, in the mac field) or in the zero padding at the
 * very end: a full handshake, never a resumption with another key.
 */
static void
run_ticket(struct fixture *fx, WOLFSSL_SESSION *resume, int tamper,
    struct foreign *f)
{
	static const uint8_t ok[] = "ok";
	uint8_t *cert = NULL, key[128];
	size_t cert_len = 0;

	side_reset(fx, &fx->server);
	fx->server.tx = ok;
	fx->server.tx_len = sizeof(ok);
	ck_assert_int_eq(tls_make_cert(fx->ckey.seed, fx->ckey.pub, "p", &cert,
	                     &cert_len),
	    0);
	memset(f, 0, sizeof(*f));
	f->kind = FOREIGN_CERT_KEY;
	f->cert = cert;
	f->cert_len = cert_len;
	f->key = key;
	f->key_len = key_der(&fx->ckey, key, sizeof(key));
	f->resume = resume;
	f->tamper = tamper;
	f->save = resume == NULL;
	run_foreign(fx, f);
	ck_assert_int_eq(f->load_rc, WOLFSSL_SUCCESS);
	util_zero(key, sizeof(key));
	free(cert);
	side_check_once(&fx->server);
	ck_assert_int_eq(fx->server.hs_status, 0);
	ck_assert_mem_eq(fx->server.peer_pub, fx->ckey.pub, TLS_KEY_BYTES);
	ck_assert_int_eq(f->read_ret, 3);
}

START_TEST(test_ticket_tampering)
{
	struct fixture *fx = fx_new(true);
	struct foreign f;
	WOLFSSL_SESSION *sess;
	/* The carried key in key_name and in the mac field, the padding. */
	const int flips[] = {0, TAMPER_FROM_END(10), TAMPER_FROM_END(0)};
	size_t i;

	run_ticket(fx, NULL, -1, &f);
	ck_assert_ptr_nonnull(f.saved);
	sess = f.saved;

	for (i = 0; i < sizeof(flips) / sizeof(flips[0]); i++) {
		run_ticket(fx, sess, flips[i], &f);
		ck_assert(f.tampered);
		ck_assert(!f.resumed);
		ck_assert(!fx->server.resumed);
	}
	run_ticket(fx, sess, -1, &f); /* control */
	ck_assert(f.resumed);
	ck_assert(fx->server.resumed);
	wolfSSL_SESSION_free(sess);
	fx_free(fx);
}
END_TEST

START_TEST(test_raw_garbage_refused)
{
	struct fixture *fx = fx_new(true);

	raw_connect(fx, "GET / HTTP/1.0\r\nHost: x\r\n\r\n");
	while (fx->server.close_calls == 0 || fx->raw_open)
		uv_run(&fx->loop, UV_RUN_ONCE);
	side_check_once(&fx->server);
	ck_assert_int_lt(fx->server.close_status, 0);
	ck_assert_int_ne(fx->server.close_status, CT_ERR_TIMEOUT);
	ck_assert(fx->raw_eof);
	ck_assert_int_eq(fx->authorize_calls, 0);
	fx_free(fx);
}
END_TEST

/* ------------------------------------------------------------ deadlines */

START_TEST(test_deadline_silent_client)
{
	struct fixture *fx = fx_new(true);
	uint64_t t0 = uv_hrtime(), ms;

	fx->accept_deadline_ms = SHORT_DEADLINE_MS;
	raw_connect(fx, NULL); /* connects, sends nothing */
	while (fx->server.close_calls == 0 || fx->raw_open)
		uv_run(&fx->loop, UV_RUN_ONCE);
	ms = (uv_hrtime() - t0) / 1000000;
	side_check_once(&fx->server);
	ck_assert_int_eq(fx->server.hs_status, CT_ERR_TIMEOUT);
	ck_assert_int_eq(fx->server.close_status, CT_ERR_TIMEOUT);
	ck_assert_msg(strstr(fx->server.error, "handshake") != NULL, "%s",
	    fx->server.error);
	ck_assert_uint_ge(ms, SHORT_DEADLINE_MS - 10);
	ck_assert_uint_lt(ms, TLS_DEFAULT_DEADLINE_MS / 2);
	ck_assert(fx->raw_eof); /* the server hung up on it */
	fx_free(fx);
}
END_TEST

/* The client's deadline covers a server that accepts and never speaks. */
START_TEST(test_deadline_silent_server)
{
	struct fixture *fx = fx_new(false);

	fx_listen(fx, &fx->listener, raw_on_connection);
	fx->listening = true;
	fx_connect(fx, fx->skey.pub);
	tls_set_deadline(fx->client.conn, SHORT_DEADLINE_MS);
	fx_run(fx);
	while (fx->raw_open)
		uv_run(&fx->loop, UV_RUN_ONCE);
	side_check_once(&fx->client);
	ck_assert_int_eq(fx->client.hs_status, CT_ERR_TIMEOUT);
	ck_assert_int_eq(fx->client.close_status, CT_ERR_TIMEOUT);
	ck_assert(fx->raw_eof);
	fx_free(fx);
}
END_TEST

/* After the handshake, an idle peer is cut at the deadline too. */
START_TEST(test_deadline_idle_after_handshake)
{
	struct fixture *fx = fx_new(true);

	fx->client.idle_deadline_ms = SHORT_DEADLINE_MS;
	fx_connect(fx, fx->skey.pub);
	fx_run(fx);
	side_check_once(&fx->client);
	side_check_once(&fx->server);
	ck_assert_int_eq(fx->client.hs_status, 0);
	ck_assert_int_eq(fx->client.close_status, CT_ERR_TIMEOUT);
	ck_assert_msg(strstr(fx->client.error, "waiting for data") != NULL,
	    "%s", fx->client.error);
	/* The server sees the connection go away. */
	ck_assert_int_eq(fx->server.hs_status, 0);
	ck_assert_int_lt(fx->server.close_status, 0);
	fx_free(fx);
}
END_TEST

START_TEST(test_connect_refused)
{
	struct fixture *fx = fx_new(true);

	/* Take a free port, then close the listener. */
	uv_close((uv_handle_t *)&fx->listener, NULL);
	fx->listening = false;
	uv_run(&fx->loop, UV_RUN_NOWAIT);
	fx_connect(fx, fx->skey.pub);
	fx_run(fx);
	side_check_once(&fx->client);
	ck_assert_int_eq(fx->client.hs_status, CT_ERR_IO);
	ck_assert_int_eq(fx->client.close_status, CT_ERR_IO);
	ck_assert_msg(strstr(fx->client.error, "connect") != NULL, "%s",
	    fx->client.error);
	fx_free(fx);
}
END_TEST

/* tls_write before the handshake, tls_close before it, double close. */
START_TEST(test_close_before_handshake)
{
	struct fixture *fx = fx_new(true);
	static const uint8_t b[] = "x";

	fx_connect(fx, fx->skey.pub);
	ck_assert_int_eq(tls_write(fx->client.conn, b, 1), CT_ERR_INVALID);
	tls_close(fx->client.conn);
	ck_assert_int_eq(tls_write(fx->client.conn, b, 1), CT_ERR_CLOSED);
	tls_close(fx->client.conn);
	/* No callback from inside our own calls. */
	ck_assert_int_eq(fx->client.hs_calls, 0);
	ck_assert_int_eq(fx->client.close_calls, 0);
	fx_run(fx);
	side_check_once(&fx->client);
	ck_assert_int_eq(fx->client.hs_status, CT_ERR_CLOSED);
	ck_assert_int_eq(fx->client.close_status, CT_ERR_CLOSED);
	/* The server may or may not have accepted before we gave up. */
	while (fx->server.conn != NULL)
		uv_run(&fx->loop, UV_RUN_ONCE);
	fx_free(fx);
}
END_TEST

/* ------------------------------------------------------------ bulk */

static uint8_t *
pattern(size_t n, uint32_t seed)
{
	uint8_t *p = malloc(n);
	size_t i;

	ck_assert_ptr_nonnull(p);
	for (i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (uint8_t)(seed >> 16);
	}
	return p;
}

START_TEST(test_bulk_both_directions)
{
	struct fixture *fx = fx_new(true);
	uint8_t *up = pattern(BULK_BYTES, 1), *down = pattern(BULK_BYTES, 2);

	fx->client.tx = up;
	fx->client.tx_len = BULK_BYTES;
	fx->server.tx = down;
	fx->server.tx_len = BULK_BYTES;
	/* The client closes once it has everything; its own 200 KB may still
	 * be queued, and the graceful close must let them drain. */
	fx->client.close_after = BULK_BYTES;
	fx_connect(fx, fx->skey.pub);
	fx_run(fx);
	side_check_once(&fx->client);
	side_check_once(&fx->server);
	ck_assert_int_eq(fx->client.write_rc, 0);
	ck_assert_int_eq(fx->server.write_rc, 0);
	ck_assert_uint_eq(fx->client.rx.len, BULK_BYTES);
	ck_assert(memcmp(fx->client.rx.data, down, BULK_BYTES) == 0);
	ck_assert_uint_eq(fx->server.rx.len, BULK_BYTES);
	ck_assert(memcmp(fx->server.rx.data, up, BULK_BYTES) == 0);
	ck_assert_int_eq(fx->client.close_status, 0);
	ck_assert_int_eq(fx->server.close_status, CT_ERR_CLOSED);
	free(up);
	free(down);
	fx_free(fx);
}
END_TEST

/* 200 KB echoed back in full: fragmentation across records each way. */
START_TEST(test_bulk_echo)
{
	struct fixture *fx = fx_new(true);
	uint8_t *up = pattern(BULK_BYTES, 3);

	fx->server.echo = true;
	fx->client.tx = up;
	fx->client.tx_len = BULK_BYTES;
	fx->client.close_after = BULK_BYTES;
	fx_connect(fx, fx->skey.pub);
	fx_run(fx);
	ck_assert_int_eq(fx->server.write_rc, 0);
	ck_assert_uint_eq(fx->client.rx.len, BULK_BYTES);
	ck_assert(memcmp(fx->client.rx.data, up, BULK_BYTES) == 0);
	ck_assert_uint_eq(fx->server.rx.len, BULK_BYTES);
	ck_assert_int_eq(fx->client.close_status, 0);
	free(up);
	fx_free(fx);
}
END_TEST

/*
 * The agent's pattern: write a large response and close at once. The
 * close must let libuv's queue drain (uv_shutdown, then close_notify is
 * the last thing on the wire), or the tail of the response is lost.
 */
START_TEST(test_close_flushes_queued_writes)
{
	struct fixture *fx = fx_new(true);
	uint8_t *big = pattern(FLUSH_BYTES, 4);

	fx->server.tx = big;
	fx->server.tx_len = FLUSH_BYTES;
	fx->server.close_after_tx = true;
	fx_connect(fx, fx->skey.pub);
	fx_run(fx);
	side_check_once(&fx->client);
	side_check_once(&fx->server);
	ck_assert_int_eq(fx->server.write_rc, 0);
	ck_assert_int_eq(fx->server.close_status, 0);
	ck_assert_uint_eq(fx->client.rx.len, FLUSH_BYTES);
	ck_assert(memcmp(fx->client.rx.data, big, FLUSH_BYTES) == 0);
	/* The client saw close_notify after the data, not a bare EOF. */
	ck_assert_int_eq(fx->client.close_status, CT_ERR_CLOSED);
	ck_assert_str_eq(fx->client.error, "peer closed the connection");
	free(big);
	fx_free(fx);
}
END_TEST

/* More than TLS_MAX_PENDING_WRITE_BYTES at once is refused. */
static void
big_on_handshake(struct tls_conn *c, int status)
{
	struct side *s = tls_conn_arg(c);
	static const uint8_t one[1];

	side_on_handshake(c, status);
	if (status != 0)
		return;
	/* The size check comes before any byte is read. */
	s->write_rc = tls_write(c, one, TLS_MAX_PENDING_WRITE_BYTES + 1);
	tls_close(c);
	ck_assert_int_eq(tls_write(c, one, 1), CT_ERR_CLOSED);
}

START_TEST(test_write_cap)
{
	struct fixture *fx = fx_new(true);
	struct tls_callbacks cb = side_cbs;

	cb.on_handshake = big_on_handshake;
	cb.arg = &fx->client;
	ck_assert_int_eq(tls_connect(fx->cctx, &fx->loop,
	                     (const struct sockaddr *)&fx->addr, fx->skey.pub,
	                     NULL, &cb, &fx->client.conn),
	    0);
	fx->open_conns++;
	fx_run(fx);
	ck_assert_int_eq(fx->client.write_rc, CT_ERR_TOO_BIG);
	ck_assert_int_eq(fx->client.close_status, 0);
	fx_free(fx);
}
END_TEST

/* ------------------------------------------------------------ resumption */

/* One request/response: the server greets, the client closes. */
static void
one_exchange(struct fixture *fx, const uint8_t *pin)
{
	static const uint8_t greet[] = "hi";

	side_reset(fx, &fx->client);
	side_reset(fx, &fx->server);
	fx->server.tx = greet;
	fx->server.tx_len = sizeof(greet);
	fx->client.close_after = sizeof(greet);
	fx->client.want_session = true;
	fx_connect(fx, pin);
	fx_run(fx);
}

START_TEST(test_resumption)
{
	struct fixture *fx = fx_new(true);
	int calls;

	one_exchange(fx, fx->skey.pub);
	ck_assert_int_eq(fx->client.close_status, 0);
	ck_assert(!fx->client.resumed);
	ck_assert_ptr_nonnull(fx->client.session);

	calls = fx->authorize_calls;
	one_exchange(fx, fx->skey.pub);
	ck_assert_int_eq(fx->client.hs_status, 0);
	ck_assert_int_eq(fx->server.hs_status, 0);
	ck_assert_int_eq(fx->client.close_status, 0);
	ck_assert(fx->client.resumed);
	ck_assert(fx->server.resumed);
	/* Both sides still name the peer, and the server asked again. */
	ck_assert_mem_eq(fx->client.peer_pub, fx->skey.pub, TLS_KEY_BYTES);
	ck_assert_mem_eq(fx->server.peer_pub, fx->ckey.pub, TLS_KEY_BYTES);
	ck_assert_int_gt(fx->authorize_calls, calls);
	ck_assert_uint_eq(fx->client.rx.len, 3);

	/* A resumed session is still checked against the pin. */
	one_exchange(fx, fx->other.pub);
	ck_assert_int_eq(fx->client.close_status, CT_ERR_AUTH);
	ck_assert_mem_eq(fx->client.peer_pub, fx->skey.pub, TLS_KEY_BYTES);
	ck_assert_uint_eq(fx->client.rx.len, 0);

	/* And the server re-checks the client key on resumption. */
	fx->authorize_refuses = true;
	one_exchange(fx, fx->skey.pub);
	ck_assert_int_eq(fx->server.close_status, CT_ERR_AUTH);
	ck_assert_int_lt(fx->client.close_status, 0);
	ck_assert_uint_eq(fx->client.rx.len, 0);
	fx_free(fx);
}
END_TEST

/*
 * wolfSSL's own session cache (which holds the client's chain) forgets a
 * session after a few hundred other handshakes; the client key travels in
 * our ticket, so resumption still names and authorises the client.
 */
START_TEST(test_resumption_after_cache_eviction)
{
	struct fixture *fx = fx_new(true);
	struct tls_session *first;
	int i, calls;

	one_exchange(fx, fx->skey.pub);
	first = fx->client.session;
	fx->client.session = NULL;
	ck_assert_ptr_nonnull(first);
	for (i = 0; i < EVICTION_HANDSHAKES; i++) {
		one_exchange(fx, fx->skey.pub);
		ck_assert_int_eq(fx->client.close_status, 0);
		tls_session_free(fx->client.session);
		fx->client.session = NULL;
	}
	fx->client.session = first;
	calls = fx->authorize_calls;
	one_exchange(fx, fx->skey.pub);
	ck_assert_int_eq(fx->server.hs_status, 0);
	ck_assert_int_eq(fx->client.close_status, 0);
	ck_assert(fx->client.resumed);
	ck_assert(fx->server.resumed);
	ck_assert_mem_eq(fx->server.peer_pub, fx->ckey.pub, TLS_KEY_BYTES);
	ck_assert_int_eq(fx->authorize_calls, calls + 1);
	fx_free(fx);
}
END_TEST

/* A ticket from another server context (a restarted agent) is rejected:
 * a full handshake follows, not a refusal. */
START_TEST(test_resumption_foreign_ticket)
{
	struct fixture *fx = fx_new(true);

	one_exchange(fx, fx->skey.pub);
	ck_assert_ptr_nonnull(fx->client.session);
	tls_ctx_free(fx->sctx);
	ck_assert_int_eq(tls_ctx_new_server(fx->skey.seed, fx->skey.pub,
	                     "agent.test", fx_authorize, fx, &fx->sctx),
	    0);
	one_exchange(fx, fx->skey.pub);
	ck_assert_int_eq(fx->client.hs_status, 0);
	ck_assert_int_eq(fx->server.hs_status, 0);
	ck_assert_int_eq(fx->client.close_status, 0);
	ck_assert(!fx->client.resumed);
	ck_assert(!fx->server.resumed);
	ck_assert_mem_eq(fx->server.peer_pub, fx->ckey.pub, TLS_KEY_BYTES);
	ck_assert_mem_eq(fx->client.peer_pub, fx->skey.pub, TLS_KEY_BYTES);
	fx_free(fx);
}
END_TEST

/* ------------------------------------------------------------ bench */

static double
cpu_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/*
 * Not a pass/fail test: connections (connect, handshake, one short
 * message, close) over loopback, fresh and resumed, client and server in
 * this one process. Runs when TLS_BENCH=N is in the environment and
 * prints wall time and CPU time (the CPU figure is the one that survives a
 * busy machine).
 */
START_TEST(test_bench_handshakes)
{
	struct fixture *fx;
	uint64_t n, t0, ns;
	double c0, cpu;
	int mode, resumed;
	const char *env = getenv("TLS_BENCH");

	if (env == NULL || util_parse_u64(env, strlen(env), 1000000, &n) != 0 ||
	    n == 0)
		return;
	fx = fx_new(true);
	for (mode = 0; mode < 2; mode++) {
		resumed = 0;
		t0 = uv_hrtime();
		c0 = cpu_ms();
		for (uint64_t i = 0; i < n; i++) {
			one_exchange(fx, fx->skey.pub);
			ck_assert_int_eq(fx->client.close_status, 0);
			resumed += fx->client.resumed;
			if (mode == 0) {
				tls_session_free(fx->client.session);
				fx->client.session = NULL;
			}
		}
		ns = uv_hrtime() - t0;
		cpu = cpu_ms() - c0;
		printf("%s: %llu connections (%d resumed): wall %.0f ms "
		       "(%.0f/s), CPU %.0f ms (%.3f ms per connection, both "
		       "ends: %.0f/s per core)\n",
		    mode == 0 ? "fresh" : "resumed", (unsigned long long)n,
		    resumed, ns / 1e6, n / (ns / 1e9), cpu, cpu / n,
		    n / (cpu / 1e3));
	}
	fx_free(fx);
}
END_TEST


/* ------------------------------------------------------------ probe mode */

/* A blocking wolfSSL server in a thread, for the probe client. */
struct pserver {
	pthread_t thread;
	int lfd;
	struct sockaddr_in addr;
	struct keypair key;
	uint8_t *cert;
	size_t cert_len;
	bool tls12_only;
	const char *sni_abort; /* refuse other names with an alert */
	const char *greeting;  /* plaintext phase: sent first */
	const char *go;        /* sent after a line arrives */
	char got_line[128];    /* the client's plaintext line */
	char got_sni[128];
	int accept_ret;
};

static void *
pserver_run(void *arg)
{
	struct pserver *ps = arg;
	WOLFSSL_CTX *ctx;
	WOLFSSL *ssl = NULL;
	ed25519_key k;
	uint8_t kder[128];
	char buf[256];
	void *sni = NULL;
	int fd, kl;
	size_t n = 0;
	ssize_t r;
	struct timeval tv = {FOREIGN_RCV_TIMEOUT_S, 0};

	fd = accept(ps->lfd, NULL, NULL);
	if (fd < 0)
		return NULL;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (ps->greeting != NULL) {
		(void)!write(fd, ps->greeting, strlen(ps->greeting));
		if (ps->go == NULL) {
			(void)!read(fd, buf, sizeof(buf));
			close(fd);
			return NULL;
		}
		while (n + 1 < sizeof(ps->got_line) &&
		    (r = read(fd, ps->got_line + n, 1)) == 1 &&
		    ps->got_line[n++] != '\n')
			;
		(void)!write(fd, ps->go, strlen(ps->go));
	}
	ctx = wolfSSL_CTX_new(ps->tls12_only ? wolfTLSv1_2_server_method()
	                                     : wolfSSLv23_server_method());
	wc_ed25519_init(&k);
	wc_ed25519_import_private_key(ps->key.seed, TLS_KEY_BYTES, ps->key.pub,
	    TLS_KEY_BYTES, &k);
	kl = wc_Ed25519PrivateKeyToDer(&k, kder, sizeof(kder));
	wc_ed25519_free(&k);
	wolfSSL_CTX_use_certificate_buffer(ctx, ps->cert, (long)ps->cert_len,
	    WOLFSSL_FILETYPE_ASN1);
	wolfSSL_CTX_use_PrivateKey_buffer(ctx, kder, kl, WOLFSSL_FILETYPE_ASN1);
	if (ps->sni_abort != NULL) {
		wolfSSL_CTX_UseSNI(ctx, WOLFSSL_SNI_HOST_NAME, ps->sni_abort,
		    (unsigned short)strlen(ps->sni_abort));
		/* options 0: a mismatch aborts with unrecognized_name */
		(void)0;
	}
	ssl = wolfSSL_new(ctx);
	wolfSSL_set_fd(ssl, fd);
	ps->accept_ret = wolfSSL_accept(ssl);
	if (ps->accept_ret == WOLFSSL_SUCCESS) {
		unsigned short sl =
		    wolfSSL_SNI_GetRequest(ssl, WOLFSSL_SNI_HOST_NAME, &sni);
		if (sni != NULL && sl < sizeof(ps->got_sni))
			memcpy(ps->got_sni, sni, sl);
		wolfSSL_shutdown(ssl);
	}
	wolfSSL_free(ssl);
	wolfSSL_CTX_free(ctx);
	close(fd);
	return NULL;
}

static void
pserver_start(struct pserver *ps)
{
	socklen_t len = sizeof(ps->addr);
	int one = 1;

	keypair_make(&ps->key, 0x51);
	ck_assert_int_eq(tls_make_cert(ps->key.seed, ps->key.pub,
	                     "www.example.org", &ps->cert, &ps->cert_len),
	    0);
	ps->lfd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(ps->lfd, 0);
	setsockopt(ps->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&ps->addr, 0, sizeof(ps->addr));
	ps->addr.sin_family = AF_INET;
	ps->addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(ps->lfd, (struct sockaddr *)&ps->addr,
	                     sizeof(ps->addr)),
	    0);
	ck_assert_int_eq(getsockname(ps->lfd, (struct sockaddr *)&ps->addr,
	                     &len),
	    0);
	ck_assert_int_eq(listen(ps->lfd, 4), 0);
	ck_assert_int_eq(pthread_create(&ps->thread, NULL, pserver_run, ps), 0);
}

static void
pserver_join(struct pserver *ps)
{
	pthread_join(ps->thread, NULL);
	close(ps->lfd);
	free(ps->cert);
}

/* What the probe client saw. */
struct pclient {
	int hs_calls, hs_status, close_calls, close_status;
	char error[TLS_ERROR_TEXT_BYTES];
	size_t n_chain;
	uint8_t *leaf;
	size_t leaf_len;
	char version[TLS_VERSION_TEXT_BYTES];
	int alert, sys_err;
	struct tls_times times;
	/* plaintext phase */
	const char *send_on_greeting;
	bool refuse;
	char plain[256];
	size_t plain_len;
	int plain_calls;
};

static void
pc_handshake(struct tls_conn *c, int status)
{
	struct pclient *pc = tls_conn_arg(c);
	const uint8_t *der;
	size_t len;

	pc->hs_calls++;
	pc->hs_status = status;
	if (status != 0)
		return;
	pc->n_chain = tls_conn_peer_chain_count(c);
	if (tls_conn_peer_cert(c, 0, &der, &len) == 0) {
		pc->leaf = malloc(len);
		memcpy(pc->leaf, der, len);
		pc->leaf_len = len;
	}
	ck_assert_int_eq(tls_conn_peer_cert(c, pc->n_chain, &der, &len),
	    CT_ERR_NOT_FOUND);
	snprintf(pc->version, sizeof(pc->version), "%s", tls_conn_version(c));
	ck_assert_str_ne(tls_conn_cipher(c), "");
	tls_close(c);
}

static void
pc_close(struct tls_conn *c, int status)
{
	struct pclient *pc = tls_conn_arg(c);

	pc->close_calls++;
	pc->close_status = status;
	snprintf(pc->error, sizeof(pc->error), "%s", tls_conn_error(c));
	pc->alert = tls_conn_alert(c);
	pc->sys_err = tls_conn_sys_error(c);
	tls_conn_times(c, &pc->times);
}

static int
pc_plain(struct tls_conn *c, const uint8_t *p, size_t n, char *why,
    size_t whysz)
{
	struct pclient *pc = tls_conn_arg(c);

	pc->plain_calls++;
	ck_assert_uint_lt(pc->plain_len + n, sizeof(pc->plain));
	memcpy(pc->plain + pc->plain_len, p, n);
	pc->plain_len += n;
	pc->plain[pc->plain_len] = '\0';
	if (strchr(pc->plain, '\n') == NULL)
		return TLS_PLAIN_MORE;
	if (pc->refuse) {
		snprintf(why, whysz, "refused by the test");
		return CT_ERR_PROTO;
	}
	if (strncmp(pc->plain, "220 hello", 9) == 0) {
		ck_assert_int_eq(tls_plain_write(c, pc->send_on_greeting,
		                     strlen(pc->send_on_greeting)),
		    0);
		pc->plain_len = 0;
		return TLS_PLAIN_MORE;
	}
	ck_assert_msg(strncmp(pc->plain, "220 go", 6) == 0, "%s", pc->plain);
	return TLS_PLAIN_START;
}

static const struct tls_callbacks pc_cbs = {
    .on_handshake = pc_handshake,
    .on_close = pc_close,
};

/* One probe connection to addr; runs the loop until it closed. */
static void
probe_once(const struct sockaddr_in *addr, const char *sni, bool plain,
    struct pclient *pc)
{
	uv_loop_t loop;
	struct tls_ctx *ctx;
	struct tls_conn *c;
	struct tls_probe_params pp = {sni, plain ? pc_plain : NULL};
	struct tls_callbacks cb = pc_cbs;

	ck_assert_int_eq(uv_loop_init(&loop), 0);
	ck_assert_int_eq(tls_ctx_new_probe(&ctx), 0);
	cb.arg = pc;
	ck_assert_int_eq(tls_connect_probe(ctx, &loop,
	                     (const struct sockaddr *)addr, &pp, &cb, &c),
	    0);
	tls_ctx_free(ctx); /* the connection keeps its reference */
	uv_run(&loop, UV_RUN_DEFAULT);
	ck_assert_int_eq(uv_loop_close(&loop), 0);
	ck_assert_int_eq(pc->hs_calls, 1);
	ck_assert_int_eq(pc->close_calls, 1);
}

START_TEST(test_probe_chain_tls13)
{
	struct pserver ps;
	struct pclient pc;

	memset(&ps, 0, sizeof(ps));
	memset(&pc, 0, sizeof(pc));
	pserver_start(&ps);
	probe_once(&ps.addr, "www.example.org", false, &pc);
	ck_assert_uint_eq(pc.leaf_len, ps.cert_len);
	ck_assert_mem_eq(pc.leaf, ps.cert, ps.cert_len);
	pserver_join(&ps);
	ck_assert_int_eq(pc.hs_status, 0);
	ck_assert_int_eq(pc.close_status, 0);
	ck_assert_uint_eq(pc.n_chain, 1);
	ck_assert_str_eq(pc.version, "TLSv1.3");
	ck_assert_str_eq(ps.got_sni, "www.example.org");
	ck_assert_int_eq(pc.alert, -1);
	ck_assert(pc.times.connect_ms > 0);
	ck_assert(pc.times.handshake_ms > 0);
	ck_assert(pc.times.plain_ms == 0);
	free(pc.leaf);
}
END_TEST

START_TEST(test_probe_tls12_no_sni)
{
	struct pserver ps;
	struct pclient pc;

	memset(&ps, 0, sizeof(ps));
	memset(&pc, 0, sizeof(pc));
	ps.tls12_only = true;
	pserver_start(&ps);
	probe_once(&ps.addr, NULL, false, &pc);
	pserver_join(&ps);
	ck_assert_int_eq(pc.hs_status, 0);
	ck_assert_str_eq(pc.version, "TLSv1.2");
	ck_assert_uint_eq(pc.n_chain, 1);
	ck_assert_str_eq(ps.got_sni, "");
	free(pc.leaf);
}
END_TEST

/* STARTTLS-like: greeting, a line from us, the go-ahead, then TLS. */
START_TEST(test_probe_plaintext_phase)
{
	struct pserver ps;
	struct pclient pc;

	memset(&ps, 0, sizeof(ps));
	memset(&pc, 0, sizeof(pc));
	ps.greeting = "220 hello\r\n";
	ps.go = "220 go ahead\r\n";
	pc.send_on_greeting = "STARTTLS\r\n";
	pserver_start(&ps);
	probe_once(&ps.addr, "www.example.org", true, &pc);
	pserver_join(&ps);
	ck_assert_str_eq(ps.got_line, "STARTTLS\r\n");
	ck_assert_int_eq(pc.hs_status, 0);
	ck_assert_uint_eq(pc.n_chain, 1);
	ck_assert(pc.times.plain_ms > 0);
	ck_assert_int_ge(pc.plain_calls, 2);
	free(pc.leaf);
}
END_TEST

START_TEST(test_probe_plaintext_refused)
{
	struct pserver ps;
	struct pclient pc;

	memset(&ps, 0, sizeof(ps));
	memset(&pc, 0, sizeof(pc));
	ps.greeting = "554 go away\r\n";
	pc.refuse = true;
	pserver_start(&ps);
	probe_once(&ps.addr, "www.example.org", true, &pc);
	pserver_join(&ps);
	ck_assert_int_eq(pc.hs_status, CT_ERR_PROTO);
	ck_assert_int_eq(pc.close_status, CT_ERR_PROTO);
	ck_assert_str_eq(pc.error, "refused by the test");
	ck_assert_uint_eq(pc.n_chain, 0);
}
END_TEST

/* The peer closes during the plaintext phase. */
START_TEST(test_probe_plaintext_eof)
{
	struct pserver ps;
	struct pclient pc;

	memset(&ps, 0, sizeof(ps));
	memset(&pc, 0, sizeof(pc));
	ps.greeting = "220 hello\r\n";
	pc.send_on_greeting = "STARTTLS\r\n";
	pserver_start(&ps); /* no go: reads our line, then closes */
	probe_once(&ps.addr, NULL, true, &pc);
	pserver_join(&ps);
	ck_assert_int_eq(pc.close_status, CT_ERR_CLOSED);
	ck_assert_msg(strstr(pc.error, "before TLS") != NULL, "%s", pc.error);
}
END_TEST

START_TEST(test_probe_sni_alert)
{
	struct pserver ps;
	struct pclient pc;

	memset(&ps, 0, sizeof(ps));
	memset(&pc, 0, sizeof(pc));
	ps.sni_abort = "www.example.org";
	pserver_start(&ps);
	probe_once(&ps.addr, "other.example.org", false, &pc);
	pserver_join(&ps);
	ck_assert_int_ne(pc.hs_status, 0);
	ck_assert_int_eq(pc.alert, 112); /* unrecognized_name */
	ck_assert_msg(strstr(pc.error, "alert") != NULL, "%s", pc.error);
	ck_assert_int_ne(ps.accept_ret, WOLFSSL_SUCCESS);
}
END_TEST

START_TEST(test_probe_refused)
{
	struct pserver ps;
	struct pclient pc;
	socklen_t len = sizeof(ps.addr);

	memset(&ps, 0, sizeof(ps));
	memset(&pc, 0, sizeof(pc));
	ps.lfd = socket(AF_INET, SOCK_STREAM, 0);
	ps.addr.sin_family = AF_INET;
	ps.addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(ps.lfd, (struct sockaddr *)&ps.addr,
	                     sizeof(ps.addr)),
	    0);
	ck_assert_int_eq(getsockname(ps.lfd, (struct sockaddr *)&ps.addr, &len),
	    0);
	close(ps.lfd); /* bound, never listening: refused */
	probe_once(&ps.addr, "www.example.org", false, &pc);
	ck_assert_int_eq(pc.close_status, CT_ERR_IO);
	ck_assert_int_eq(pc.sys_err, UV_ECONNREFUSED);
	ck_assert_int_eq(pc.alert, -1);
	ck_assert(pc.times.connect_ms == 0);
}
END_TEST

START_TEST(test_probe_bad_calls)
{
	struct fixture *fx = fx_new(false);
	struct tls_ctx *pctx;
	struct tls_conn *c = (struct tls_conn *)&fx; /* must be reset */
	struct tls_probe_params pp = {"bad name", NULL};
	char long_sni[TLS_MAX_SNI_BYTES + 2];

	ck_assert_int_eq(tls_ctx_new_probe(&pctx), 0);
	/* A probe context is not for pinned connections, and back. */
	ck_assert_int_eq(tls_connect(pctx, &fx->loop,
	                     (const struct sockaddr *)&fx->addr, fx->skey.pub,
	                     NULL, &side_cbs, &c),
	    CT_ERR_INVALID);
	ck_assert_ptr_null(c);
	ck_assert_int_eq(tls_connect_probe(fx->cctx, &fx->loop,
	                     (const struct sockaddr *)&fx->addr, NULL,
	                     &side_cbs, &c),
	    CT_ERR_INVALID);
	ck_assert_int_eq(tls_connect_probe(pctx, &fx->loop,
	                     (const struct sockaddr *)&fx->addr, &pp, &side_cbs,
	                     &c),
	    CT_ERR_INVALID);
	memset(long_sni, 'a', sizeof(long_sni) - 1);
	long_sni[sizeof(long_sni) - 1] = '\0';
	pp.sni = long_sni;
	ck_assert_int_eq(tls_connect_probe(pctx, &fx->loop,
	                     (const struct sockaddr *)&fx->addr, &pp, &side_cbs,
	                     &c),
	    CT_ERR_INVALID);
	pp.sni = "";
	ck_assert_int_eq(tls_connect_probe(pctx, &fx->loop,
	                     (const struct sockaddr *)&fx->addr, &pp, &side_cbs,
	                     &c),
	    CT_ERR_INVALID);
	tls_ctx_free(pctx);
	fx_free(fx);
}
END_TEST

/* ------------------------------------------------------------ CA-file mode */

/*
 * A small PKI made with wolfSSL's certificate generation in a temporary
 * directory: ECDSA P-256 CAs, leaves for Ed25519 or ECDSA keys, with a
 * DNS subjectAltName, an extended key usage and dates of our choosing.
 */
#define PKI_DIR_TEMPLATE "/tmp/test_tls_ca.XXXXXX"
#define PKI_DER_MAX_BYTES 2048
#define PKI_PEM_MAX_BYTES 4096
#define PKI_MAX_FILES 32
#define PKI_VALID_DAYS 30
#define PKI_DAY_S 86400

struct pki_file {
	char path[sizeof(PKI_DIR_TEMPLATE) + 64];
};

struct pki {
	char dir[sizeof(PKI_DIR_TEMPLATE)];
	struct pki_file files[PKI_MAX_FILES];
	size_t n_files;
	WC_RNG rng;
	ecc_key ca_key, other_key, int_key, client_key, spare_key;
	uint8_t ca[PKI_DER_MAX_BYTES], other[PKI_DER_MAX_BYTES];
	uint8_t inter[PKI_DER_MAX_BYTES];
	size_t ca_len, other_len, inter_len;
};

/* What one certificate should say. */
struct pki_cert {
	const char *cn;
	const char *dns; /* one DNS subjectAltName, or NULL: none */
	const char *eku; /* "clientAuth", "serverAuth", ... or NULL */
	bool ca;
	int64_t nb, na;        /* validity; both 0: from yesterday, 30 days */
	int key_type;          /* ECC_TYPE or ED25519_TYPE */
	void *key;             /* the subject key */
	const uint8_t *issuer; /* NULL: self-signed (key must be ECC) */
	size_t issuer_len;
	ecc_key *issuer_key;
};

/* UTCTime TLV for t (years 1950..2049). */
static void
pki_utctime(int64_t t, uint8_t out[CTC_DATE_SIZE], int *len)
{
	struct tm tm;
	time_t tt = (time_t)t;
	char s[32];

	ck_assert_ptr_nonnull(gmtime_r(&tt, &tm));
	ck_assert_int_eq(snprintf(s, sizeof(s), "%02d%02d%02d%02d%02d%02dZ",
	                     tm.tm_year % 100, tm.tm_mon + 1, tm.tm_mday,
	                     tm.tm_hour, tm.tm_min, tm.tm_sec),
	    13);
	out[0] = DER_UTC_TIME;
	out[1] = 13;
	memcpy(out + 2, s, 13);
	*len = 15;
}

static size_t
pki_make(struct pki *p, const struct pki_cert *m, uint8_t *out)
{
	Cert *cert = calloc(1, sizeof(*cert));
	size_t n;
	int ret;

	ck_assert_ptr_nonnull(cert);
	ck_assert_int_eq(wc_InitCert(cert), 0);
	snprintf(cert->subject.commonName, CTC_NAME_SIZE, "%s", m->cn);
	cert->sigType = CTC_SHA256wECDSA;
	cert->daysValid = PKI_VALID_DAYS;
	cert->isCA = m->ca ? 1 : 0;
	cert->selfSigned = m->issuer == NULL;
	if (m->dns != NULL) { /* GeneralNames { [2] dNSName } */
		n = strlen(m->dns);
		ck_assert_uint_lt(n + 4, 128);
		cert->altNames[0] = DER_SEQUENCE;
		cert->altNames[1] = (byte)(n + 2);
		cert->altNames[2] = DER_CTX(2);
		cert->altNames[3] = (byte)n;
		memcpy(cert->altNames + 4, m->dns, n);
		cert->altNamesSz = (int)n + 4;
	}
	if (m->eku != NULL)
		ck_assert_int_eq(wc_SetExtKeyUsage(cert, m->eku), 0);
	if (m->nb != 0 || m->na != 0) {
		pki_utctime(m->nb, cert->beforeDate, &cert->beforeDateSz);
		pki_utctime(m->na, cert->afterDate, &cert->afterDateSz);
	}
	/* Key identifiers and a CA's key usage, as RFC 5280 asks (wolfSSL
	 * does not take an intermediate without keyCertSign). */
	if (m->ca) {
		ck_assert_int_eq(wc_SetSubjectKeyIdFromPublicKey_ex(cert,
		                     ECC_TYPE, m->key),
		    0);
		ck_assert_int_eq(wc_SetKeyUsage(cert, "keyCertSign,cRLSign"),
		    0);
	}
	if (m->issuer != NULL) {
		ck_assert_int_eq(wc_SetIssuerBuffer(cert, m->issuer,
		                     (int)m->issuer_len),
		    0);
		ck_assert_int_eq(wc_SetAuthKeyIdFromPublicKey_ex(cert, ECC_TYPE,
		                     m->issuer_key),
		    0);
	}
	ret = wc_MakeCert_ex(cert, out, PKI_DER_MAX_BYTES, m->key_type, m->key,
	    &p->rng);
	ck_assert_int_gt(ret, 0);
	ret = wc_SignCert_ex(cert->bodySz, cert->sigType, out,
	    PKI_DER_MAX_BYTES, ECC_TYPE,
	    m->issuer_key != NULL ? m->issuer_key : m->key, &p->rng);
	ck_assert_int_gt(ret, 0);
	free(cert);
	return (size_t)ret;
}

/* A file in the PKI directory (removed by pki_free). */
static const char *
pki_path(struct pki *p, const char *name)
{
	struct pki_file *f;
	char path[sizeof(f->path)];

	ck_assert_uint_lt(p->n_files, PKI_MAX_FILES);
	f = &p->files[p->n_files++];
	ck_assert_int_lt(snprintf(path, sizeof(path), "%s/%s", p->dir, name),
	    (int)sizeof(path));
	memcpy(f->path, path, sizeof(path));
	return f->path;
}

/* Writes DER blocks as PEM of the given type into a new file. */
static const char *
pki_write(struct pki *p, const char *name, int type, const uint8_t *const *der,
    const size_t *len, size_t n)
{
	const char *path = pki_path(p, name);
	uint8_t pem[PKI_PEM_MAX_BYTES];
	FILE *f = fopen(path, "w");
	size_t i;
	int pl;

	ck_assert_ptr_nonnull(f);
	for (i = 0; i < n; i++) {
		pl =
		    wc_DerToPem(der[i], (word32)len[i], pem, sizeof(pem), type);
		ck_assert_int_gt(pl, 0);
		ck_assert_uint_eq(fwrite(pem, 1, (size_t)pl, f), (size_t)pl);
	}
	ck_assert_int_eq(fclose(f), 0);
	return path;
}

static const char *
pki_write_cert(struct pki *p, const char *name, const uint8_t *der, size_t len)
{
	return pki_write(p, name, CERT_TYPE, &der, &len, 1);
}

static const char *
pki_write_ecc_key(struct pki *p, const char *name, ecc_key *k)
{
	uint8_t der[PKI_DER_MAX_BYTES];
	const uint8_t *dp = der;
	size_t len;
	int n;

	n = wc_EccKeyToDer(k, der, sizeof(der));
	ck_assert_int_gt(n, 0);
	len = (size_t)n;
	return pki_write(p, name, ECC_PRIVATEKEY_TYPE, &dp, &len, 1);
}

/* PEM "PRIVATE KEY" of one of our Ed25519 key pairs. */
static const char *
pki_write_ed25519_key(struct pki *p, const char *name, const struct keypair *k)
{
	uint8_t der[128];
	const uint8_t *dp = der;
	size_t len = key_der(k, der, sizeof(der));
	const char *path;

	path = pki_write(p, name, PKCS8_PRIVATEKEY_TYPE, &dp, &len, 1);
	util_zero(der, sizeof(der));
	return path;
}

static void
pki_ecc(struct pki *p, ecc_key *k)
{
	ck_assert_int_eq(wc_ecc_init(k), 0);
	ck_assert_int_eq(wc_ecc_make_key(&p->rng, 32, k), 0);
}

/* The trusted CA, another CA (named "Other CA") and an intermediate. */
static struct pki *
pki_new(void)
{
	struct pki *p = calloc(1, sizeof(*p));
	struct pki_cert m;
	int64_t now = util_now();

	ck_assert_ptr_nonnull(p);
	memcpy(p->dir, PKI_DIR_TEMPLATE, sizeof(PKI_DIR_TEMPLATE));
	ck_assert_ptr_nonnull(mkdtemp(p->dir));
	ck_assert_int_eq(wc_InitRng(&p->rng), 0);
	pki_ecc(p, &p->ca_key);
	pki_ecc(p, &p->other_key);
	pki_ecc(p, &p->int_key);
	pki_ecc(p, &p->client_key);
	pki_ecc(p, &p->spare_key);
	memset(&m, 0, sizeof(m));
	m.cn = "Test CA";
	m.ca = true;
	m.key_type = ECC_TYPE;
	m.key = &p->ca_key;
	m.nb = now - PKI_DAY_S;
	m.na = now + 365 * PKI_DAY_S;
	p->ca_len = pki_make(p, &m, p->ca);
	m.cn = "Other CA";
	m.key = &p->other_key;
	p->other_len = pki_make(p, &m, p->other);
	m.cn = "Test Intermediate";
	m.key = &p->int_key;
	m.issuer = p->ca;
	m.issuer_len = p->ca_len;
	m.issuer_key = &p->ca_key;
	p->inter_len = pki_make(p, &m, p->inter);
	return p;
}

static void
pki_free(struct pki *p)
{
	size_t i;

	for (i = 0; i < p->n_files; i++)
		(void)unlink(p->files[i].path);
	ck_assert_int_eq(rmdir(p->dir), 0);
	wc_ecc_free(&p->ca_key);
	wc_ecc_free(&p->other_key);
	wc_ecc_free(&p->int_key);
	wc_ecc_free(&p->client_key);
	wc_ecc_free(&p->spare_key);
	wc_FreeRng(&p->rng);
	free(p);
}

/* A leaf for an Ed25519 key pair of ours, issued by the trusted CA. */
static size_t
pki_ed25519_leaf(struct pki *p, const struct keypair *k, const char *name,
    const char *eku, uint8_t *out)
{
	struct pki_cert m;
	ed25519_key key;
	size_t n;

	ck_assert_int_eq(wc_ed25519_init(&key), 0);
	ck_assert_int_eq(wc_ed25519_import_private_key(k->seed, TLS_KEY_BYTES,
	                     k->pub, TLS_KEY_BYTES, &key),
	    0);
	memset(&m, 0, sizeof(m));
	m.cn = name;
	m.dns = name;
	m.eku = eku;
	m.key_type = ED25519_TYPE;
	m.key = &key;
	m.issuer = p->ca;
	m.issuer_len = p->ca_len;
	m.issuer_key = &p->ca_key;
	n = pki_make(p, &m, out);
	wc_ed25519_free(&key);
	return n;
}

/* The files of one CA-mode setup, and the options made from them. */
struct ca_setup {
	const char *ca_file;       /* the trusted CA */
	const char *server_cert;   /* agent.test, for fx->skey (Ed25519) */
	const char *client_cert;   /* poller.test, for p->client_key */
	const char *client_key;    /* PEM of p->client_key */
	const char *peer_names[2]; /* of the server */
	size_t n_peer_names;
};

/* A client leaf for p->client_key as m says (issuer: the trusted CA). */
static const char *
client_leaf(struct pki *p, const char *file, struct pki_cert *m)
{
	uint8_t der[PKI_DER_MAX_BYTES];
	size_t n;

	m->key_type = ECC_TYPE;
	m->key = &p->client_key;
	if (m->issuer == NULL) {
		m->issuer = p->ca;
		m->issuer_len = p->ca_len;
		m->issuer_key = &p->ca_key;
	}
	n = pki_make(p, m, der);
	return pki_write_cert(p, file, der, n);
}

static void
ca_setup_default(struct fixture *fx, struct pki *p, struct ca_setup *s)
{
	struct pki_cert m;
	uint8_t der[PKI_DER_MAX_BYTES];
	size_t n;

	memset(s, 0, sizeof(*s));
	s->ca_file = pki_write_cert(p, "ca.pem", p->ca, p->ca_len);
	n = pki_ed25519_leaf(p, &fx->skey, "agent.test", "serverAuth", der);
	s->server_cert = pki_write_cert(p, "server.pem", der, n);
	memset(&m, 0, sizeof(m));
	m.cn = "poller.test";
	m.dns = "poller.test";
	m.eku = "clientAuth";
	s->client_cert = client_leaf(p, "client.pem", &m);
	s->client_key = pki_write_ecc_key(p, "client.key", &p->client_key);
	s->peer_names[0] = "poller.test";
	s->n_peer_names = 1;
}

/* Switches the fixture's contexts to CA-file mode. */
static void
ca_apply(struct fixture *fx, const struct ca_setup *s)
{
	struct tls_ca_opts so, co;
	char err[256];

	memset(&so, 0, sizeof(so));
	so.ca_file = s->ca_file;
	so.cert_file = s->server_cert;
	so.peer_names = s->peer_names;
	so.n_peer_names = s->n_peer_names;
	ck_assert_msg(tls_ctx_use_ca_file(fx->sctx, &so, err, sizeof(err)) == 0,
	    "server: %s", err);
	memset(&co, 0, sizeof(co));
	co.ca_file = s->ca_file;
	co.cert_file = s->client_cert;
	co.key_file = s->client_key;
	ck_assert_msg(tls_ctx_use_ca_file(fx->cctx, &co, err, sizeof(err)) == 0,
	    "client: %s", err);
	ck_assert(tls_ctx_ca_mode(fx->sctx));
	ck_assert(tls_ctx_ca_mode(fx->cctx));
}

static void
fx_connect_name(struct fixture *fx, const char *name)
{
	struct tls_callbacks cb = side_cbs;

	cb.arg = &fx->client;
	ck_assert_int_eq(tls_connect_name(fx->cctx, &fx->loop,
	                     (const struct sockaddr *)&fx->addr, name, &cb,
	                     &fx->client.conn),
	    0);
	fx->open_conns++;
}

/* One exchange: the client sends, the server echoes, the client closes. */
static void
ca_exchange(struct fixture *fx, const char *name)
{
	static const uint8_t msg[] = "signed request";

	side_reset(fx, &fx->client);
	side_reset(fx, &fx->server);
	fx->server.echo = true;
	fx->client.tx = msg;
	fx->client.tx_len = sizeof(msg);
	fx->client.close_after = sizeof(msg);
	fx->client.want_session = true;
	fx_connect_name(fx, name);
	fx_run(fx);
	side_check_once(&fx->client);
	while (fx->server.close_calls == 0)
		uv_run(&fx->loop, UV_RUN_ONCE);
	side_check_once(&fx->server);
}

static void
ca_assert_ok(const struct fixture *fx)
{
	ck_assert_msg(fx->client.hs_status == 0, "client: %s",
	    fx->client.error);
	ck_assert_msg(fx->server.hs_status == 0, "server: %s",
	    fx->server.error);
	ck_assert_uint_eq(fx->client.rx.len, sizeof("signed request"));
	ck_assert_int_eq(fx->client.close_status, 0);
}

/* The server refused the client's certificate, saying why. */
static void
ca_assert_server_refused(const struct fixture *fx, const char *why)
{
	ck_assert_int_eq(fx->server.hs_status, CT_ERR_AUTH);
	ck_assert_int_eq(fx->server.close_status, CT_ERR_AUTH);
	ck_assert_msg(strstr(fx->server.error, why) != NULL, "server: %s",
	    fx->server.error);
	ck_assert_uint_eq(fx->server.rx.len, 0);
	ck_assert_uint_eq(fx->client.rx.len, 0);
	/* TLS 1.3: the client may finish, then reads the alert. */
	ck_assert_int_eq(fx->client.close_status, CT_ERR_AUTH);
	ck_assert_int_ge(fx->client.alert, 0);
	ck_assert_int_eq(fx->authorize_calls, 0);
}

/* The client refused the server's certificate, saying why. */
static void
ca_assert_client_refused(const struct fixture *fx, const char *why)
{
	ck_assert_int_eq(fx->client.hs_status, CT_ERR_AUTH);
	ck_assert_int_eq(fx->client.close_status, CT_ERR_AUTH);
	ck_assert_msg(strstr(fx->client.error, why) != NULL, "client: %s",
	    fx->client.error);
	ck_assert_int_lt(fx->server.hs_status, 0);
	ck_assert_uint_eq(fx->server.rx.len, 0);
	ck_assert_uint_eq(fx->client.rx.len, 0);
}

START_TEST(test_ca_handshake)
{
	struct fixture *fx = fx_new(true);
	struct pki *p = pki_new();
	struct ca_setup s;

	ca_setup_default(fx, p, &s);
	ca_apply(fx, &s);
	ca_exchange(fx, "agent.test");
	ca_assert_ok(fx);
	/* The peers are certificates: no raw key, no callback, the names. */
	ck_assert(!fx->client.has_peer_pub);
	ck_assert(!fx->server.has_peer_pub);
	ck_assert_int_eq(fx->authorize_calls, 0);
	ck_assert_str_eq(fx->server.peer_name, "poller.test");
	ck_assert_str_eq(fx->client.peer_name, "agent.test");
	/* The name check ignores ASCII case. */
	ca_exchange(fx, "AGENT.test");
	ca_assert_ok(fx);
	/* No tickets: every connection is a full handshake. */
	ck_assert_ptr_null(fx->client.session);
	ck_assert(!fx->client.resumed);
	ck_assert(!fx->server.resumed);
	fx_free(fx);
	pki_free(p);
}
END_TEST

/* A client certificate from another CA, and one that only claims it. */
START_TEST(test_ca_client_other_ca)
{
	struct fixture *fx = fx_new(true);
	struct pki *p = pki_new();
	struct pki_cert m;
	struct ca_setup s;

	ca_setup_default(fx, p, &s);
	memset(&m, 0, sizeof(m));
	m.cn = m.dns = "poller.test";
	m.eku = "clientAuth";
	m.issuer = p->other;
	m.issuer_len = p->other_len;
	m.issuer_key = &p->other_key;
	s.client_cert = client_leaf(p, "client-other.pem", &m);
	ca_apply(fx, &s);
	ca_exchange(fx, "agent.test");
	ca_assert_server_refused(fx, "not issued by a CA in the CA file");
	ck_assert_msg(strstr(fx->server.error, "CN=poller.test") != NULL, "%s",
	    fx->server.error);
	fx_free(fx);

	/* Issuer named "Test CA" but signed by the other CA's key. */
	fx = fx_new(true);
	ca_setup_default(fx, p, &s);
	memset(&m, 0, sizeof(m));
	m.cn = m.dns = "poller.test";
	m.eku = "clientAuth";
	m.issuer = p->ca; /* the trusted CA's name ... */
	m.issuer_len = p->ca_len;
	m.issuer_key = &p->other_key; /* ... another key */
	s.client_cert = client_leaf(p, "client-forged.pem", &m);
	ca_apply(fx, &s);
	ca_exchange(fx, "agent.test");
	ca_assert_server_refused(fx, "client certificate CN=poller.test");
	fx_free(fx);
	pki_free(p);
}
END_TEST

START_TEST(test_ca_server_other_ca)
{
	struct fixture *fx = fx_new(true);
	struct pki *p = pki_new();
	struct ca_setup s;
	struct tls_ca_opts o;
	char err[256];

	ca_setup_default(fx, p, &s);
	ca_apply(fx, &s);
	/* A client that trusts only the other CA. */
	tls_ctx_free(fx->cctx);
	ck_assert_int_eq(tls_ctx_new_client(fx->ckey.seed, fx->ckey.pub,
	                     "poller.test", NULL, NULL, &fx->cctx),
	    0);
	memset(&o, 0, sizeof(o));
	o.ca_file = pki_write_cert(p, "other.pem", p->other, p->other_len);
	o.cert_file = s.client_cert;
	o.key_file = s.client_key;
	ck_assert_msg(tls_ctx_use_ca_file(fx->cctx, &o, err, sizeof(err)) == 0,
	    "%s", err);
	ca_exchange(fx, "agent.test");
	ca_assert_client_refused(fx,
	    "server certificate CN=agent.test is not issued by a CA in the CA "
	    "file");
	fx_free(fx);
	pki_free(p);
}
END_TEST

/* Our own certificate out of its dates is refused when loaded. */
START_TEST(test_ca_own_cert_expired)
{
	struct fixture *fx = fx_new(true);
	struct pki *p = pki_new();
	struct pki_cert m;
	struct ca_setup s;
	struct tls_ca_opts o;
	char err[256];
	int64_t now = util_now();

	ca_setup_default(fx, p, &s);
	memset(&m, 0, sizeof(m));
	m.cn = m.dns = "poller.test";
	m.eku = "clientAuth";
	m.nb = now - 40 * PKI_DAY_S;
	m.na = now - 10 * PKI_DAY_S;
	s.client_cert = client_leaf(p, "client-expired.pem", &m);
	memset(&o, 0, sizeof(o));
	o.ca_file = s.ca_file;
	o.cert_file = s.client_cert;
	o.key_file = s.client_key;
	ck_assert_int_eq(tls_ctx_use_ca_file(fx->cctx, &o, err, sizeof(err)),
	    CT_ERR_AUTH);
	ck_assert_msg(strstr(err,
	                  "client-expired.pem: certificate 1 "
	                  "(CN=poller.test) expired on") != NULL,
	    "%s", err);
	ck_assert(!tls_ctx_ca_mode(fx->cctx));
	fx_free(fx);
	pki_free(p);
}
END_TEST

/* A foreign client presenting an expired certificate: the server refuses. */
START_TEST(test_ca_client_expired_on_the_wire)
{
	struct fixture *fx = fx_new(true);
	struct pki *p = pki_new();
	struct pki_cert m;
	struct ca_setup s;
	struct foreign f;
	uint8_t der[PKI_DER_MAX_BYTES], key[PKI_DER_MAX_BYTES];
	int64_t now = util_now();
	int kl;

	ca_setup_default(fx, p, &s);
	ca_apply(fx, &s);
	memset(&m, 0, sizeof(m));
	m.cn = m.dns = "poller.test";
	m.eku = "clientAuth";
	m.nb = now - 40 * PKI_DAY_S;
	m.na = now - 10 * PKI_DAY_S;
	m.key_type = ECC_TYPE;
	m.key = &p->client_key;
	m.issuer = p->ca;
	m.issuer_len = p->ca_len;
	m.issuer_key = &p->ca_key;
	memset(&f, 0, sizeof(f));
	f.kind = FOREIGN_CERT_KEY;
	f.cert = der;
	f.cert_len = pki_make(p, &m, der);
	kl = wc_EccKeyToDer(&p->client_key, key, sizeof(key));
	ck_assert_int_gt(kl, 0);
	f.key = key;
	f.key_len = (size_t)kl;
	run_foreign(fx, &f);
	ck_assert_int_eq(f.load_rc, WOLFSSL_SUCCESS);
	side_check_once(&fx->server);
	ck_assert_int_eq(fx->server.close_status, CT_ERR_AUTH);
	ck_assert_msg(strstr(fx->server.error,
	                  "client certificate CN=poller.test expired on") !=
	        NULL,
	    "%s", fx->server.error);
	ck_assert(f.connect_ret != WOLFSSL_SUCCESS || f.read_ret <= 0);

	/* Not yet valid. */
	side_reset(fx, &fx->server);
	m.nb = now + 10 * PKI_DAY_S;
	m.na = now + 40 * PKI_DAY_S;
	memset(&f, 0, sizeof(f));
	f.kind = FOREIGN_CERT_KEY;
	f.cert = der;
	f.cert_len = pki_make(p, &m, der);
	f.key = key;
	f.key_len = (size_t)kl;
	run_foreign(fx, &f);
	ck_assert_int_eq(fx->server.close_status, CT_ERR_AUTH);
	ck_assert_msg(strstr(fx->server.error, "is not valid before") != NULL,
	    "%s", fx->server.error);
	util_zero(key, sizeof(key));
	fx_free(fx);
	pki_free(p);
}
END_TEST

/* The CA's own certificate for an Ed25519 client, without its key. */
START_TEST(test_ca_certificate_without_private_key)
{
	struct fixture *fx = fx_new(true);
	struct pki *p = pki_new();
	struct ca_setup s;
	struct foreign f;
	uint8_t der[PKI_DER_MAX_BYTES], key[128];
	static const uint8_t ok[] = "ok";

	ca_setup_default(fx, p, &s);
	ca_apply(fx, &s);
	memset(&f, 0, sizeof(f));
	f.kind = FOREIGN_CERT_KEY;
	f.cert = der;
	f.cert_len =
	    pki_ed25519_leaf(p, &fx->ckey, "poller.test", "clientAuth", der);
	f.key = key;
	f.key_len = key_der(&fx->ckey, key, sizeof(key));
	f.sign_with = &fx->ckey; /* control: the real key */
	fx->server.tx = ok;
	fx->server.tx_len = sizeof(ok);
	run_foreign(fx, &f);
	ck_assert_msg(fx->server.hs_status == 0, "%s", fx->server.error);
	ck_assert_int_eq(f.read_ret, 3);

	side_reset(fx, &fx->server);
	f.sign_with = &fx->other; /* CertificateVerify by another key */
	f.sign_calls = 0;
	run_foreign(fx, &f);
	ck_assert_int_ge(f.sign_calls, 1);
	ck_assert_int_eq(fx->server.close_status, CT_ERR_AUTH);
	ck_assert_msg(strstr(fx->server.error, "CertificateVerify") != NULL,
	    "%s", fx->server.error);
	ck_assert(f.connect_ret != WOLFSSL_SUCCESS || f.read_ret <= 0);
	util_zero(key, sizeof(key));
	fx_free(fx);
	pki_free(p);
}
END_TEST

START_TEST(test_ca_wrong_server_name)
{
	struct fixture *fx = fx_new(true);
	struct pki *p = pki_new();
	struct ca_setup s;

	ca_setup_default(fx, p, &s);
	ca_apply(fx, &s);
	ca_exchange(fx, "web1.example.org");
	ca_assert_client_refused(fx,
	    "server certificate is for agent.test, not for web1.example.org");
	/* A suffix or a prefix of the name is another name. */
	ca_exchange(fx, "test");
	ca_assert_client_refused(fx, "not for test");
	ca_exchange(fx, "agent.test.evil");
	ca_assert_client_refused(fx, "not for agent.test.evil");
	fx_free(fx);
	pki_free(p);
}
END_TEST

START_TEST(test_ca_peer_names)
{
	struct fixture *fx = fx_new(true);
	struct pki *p = pki_new();
	struct pki_cert m;
	struct ca_setup s;

	/* Not among the accepted names. */
	ca_setup_default(fx, p, &s);
	s.peer_names[0] = "icinga1.test";
	s.peer_names[1] = "icinga2.test";
	s.n_peer_names = 2;
	ca_apply(fx, &s);
	ca_exchange(fx, "agent.test");
	ca_assert_server_refused(fx,
	    "client certificate CN=poller.test is for poller.test: not one of "
	    "the accepted peer names");
	fx_free(fx);

	/* The second accepted name, in another case. */
	fx = fx_new(true);
	ca_setup_default(fx, p, &s);
	s.peer_names[0] = "icinga1.test";
	s.peer_names[1] = "POLLER.test";
	s.n_peer_names = 2;
	ca_apply(fx, &s);
	ca_exchange(fx, "agent.test");
	ca_assert_ok(fx);
	ck_assert_str_eq(fx->server.peer_name, "POLLER.test");
	fx_free(fx);

	/* With a DNS subjectAltName the CN does not count ... */
	fx = fx_new(true);
	ca_setup_default(fx, p, &s);
	memset(&m, 0, sizeof(m));
	m.cn = "poller.test";
	m.dns = "other.test";
	m.eku = "clientAuth";
	s.client_cert = client_leaf(p, "client-san.pem", &m);
	ca_apply(fx, &s);
	ca_exchange(fx, "agent.test");
	ca_assert_server_refused(fx, "is for other.test: not one of");
	fx_free(fx);

	/* ... without one, it does. */
	fx = fx_new(true);
	ca_setup_default(fx, p, &s);
	memset(&m, 0, sizeof(m));
	m.cn = "poller.test";
	m.eku = "clientAuth";
	s.client_cert = client_leaf(p, "client-cn.pem", &m);
	ca_apply(fx, &s);
	ca_exchange(fx, "agent.test");
	ca_assert_ok(fx);
	ck_assert_str_eq(fx->server.peer_name, "poller.test");
	fx_free(fx);

	/* Without peer_names, any certificate the CA issued. */
	fx = fx_new(true);
	ca_setup_default(fx, p, &s);
	memset(&m, 0, sizeof(m));
	m.cn = m.dns = "anyone.test";
	m.eku = "clientAuth";
	s.client_cert = client_leaf(p, "client-any.pem", &m);
	s.n_peer_names = 0;
	ca_apply(fx, &s);
	ca_exchange(fx, "agent.test");
	ca_assert_ok(fx);
	ck_assert_str_eq(fx->server.peer_name, "anyone.test");
	fx_free(fx);
	pki_free(p);
}
END_TEST

/* A certificate for servers only is not a client certificate ... */
START_TEST(test_ca_extended_key_usage)
{
	struct fixture *fx = fx_new(true);
	struct pki *p = pki_new();
	struct pki_cert m;
	struct ca_setup s;
	uint8_t der[PKI_DER_MAX_BYTES];
	size_t n;

	ca_setup_default(fx, p, &s);
	memset(&m, 0, sizeof(m));
	m.cn = m.dns = "poller.test";
	m.eku = "serverAuth";
	s.client_cert = client_leaf(p, "client-eku.pem", &m);
	ca_apply(fx, &s);
	ca_exchange(fx, "agent.test");
	ca_assert_server_refused(fx, "extended key usage");
	fx_free(fx);

	/* ... nor a certificate for clients a server certificate. */
	fx = fx_new(true);
	ca_setup_default(fx, p, &s);
	n = pki_ed25519_leaf(p, &fx->skey, "agent.test", "clientAuth", der);
	s.server_cert = pki_write_cert(p, "server-eku.pem", der, n);
	ca_apply(fx, &s);
	ca_exchange(fx, "agent.test");
	ca_assert_client_refused(fx,
	    "server certificate CN=agent.test is not for TLS server "
	    "authentication (extended key usage)");
	fx_free(fx);
	pki_free(p);
}
END_TEST

/* A chain through an intermediate; an expired intermediate is refused. */
START_TEST(test_ca_intermediate)
{
	struct fixture *fx = fx_new(true);
	struct pki *p = pki_new();
	struct pki_cert m;
	struct ca_setup s;
	uint8_t leaf[PKI_DER_MAX_BYTES], inter[PKI_DER_MAX_BYTES];
	const uint8_t *ders[2];
	size_t lens[2];
	int64_t now = util_now();

	ca_setup_default(fx, p, &s);
	memset(&m, 0, sizeof(m));
	m.cn = m.dns = "poller.test";
	m.eku = "clientAuth";
	m.key_type = ECC_TYPE;
	m.key = &p->client_key;
	m.issuer = p->inter;
	m.issuer_len = p->inter_len;
	m.issuer_key = &p->int_key;
	ders[0] = leaf;
	lens[0] = pki_make(p, &m, leaf);
	ders[1] = p->inter;
	lens[1] = p->inter_len;
	s.client_cert =
	    pki_write(p, "client-chain.pem", CERT_TYPE, ders, lens, 2);
	ca_apply(fx, &s);
	ca_exchange(fx, "agent.test");
	ca_assert_ok(fx);
	fx_free(fx);

	/* The same leaf without its intermediate: no path to the CA. */
	fx = fx_new(true);
	ca_setup_default(fx, p, &s);
	s.client_cert =
	    pki_write(p, "client-nochain.pem", CERT_TYPE, ders, lens, 1);
	ca_apply(fx, &s);
	ca_exchange(fx, "agent.test");
	ca_assert_server_refused(fx, "not issued by a CA in the CA file");
	fx_free(fx);

	/* An expired intermediate (same name and key) in the chain. */
	fx = fx_new(true);
	ca_setup_default(fx, p, &s);
	memset(&m, 0, sizeof(m));
	m.cn = "Test Intermediate";
	m.ca = true;
	m.key_type = ECC_TYPE;
	m.key = &p->int_key;
	m.issuer = p->ca;
	m.issuer_len = p->ca_len;
	m.issuer_key = &p->ca_key;
	m.nb = now - 40 * PKI_DAY_S;
	m.na = now - 1 * PKI_DAY_S;
	ders[1] = inter;
	lens[1] = pki_make(p, &m, inter);
	s.client_cert =
	    pki_write(p, "client-chain-exp.pem", CERT_TYPE, ders, lens, 2);
	ca_apply(fx, &s);
	ca_exchange(fx, "agent.test");
	ca_assert_server_refused(fx,
	    "issuing certificate CN=Test Intermediate expired on");
	fx_free(fx);
	pki_free(p);
}
END_TEST

/*
 * wolfSSL does not check the dates of loaded anchors; we do, at load and
 * at every handshake. A CA that expires two seconds after loading.
 */
START_TEST(test_ca_anchor_expires)
{
	struct fixture *fx = fx_new(true);
	struct pki *p = pki_new();
	struct pki_cert m;
	struct ca_setup s;
	uint8_t ca[PKI_DER_MAX_BYTES], der[PKI_DER_MAX_BYTES];
	size_t ca_len, n;
	int64_t now = util_now();

	memset(&m, 0, sizeof(m));
	m.cn = "Short CA";
	m.ca = true;
	m.key_type = ECC_TYPE;
	m.key = &p->spare_key;
	m.nb = now - PKI_DAY_S;
	m.na = now + 2;
	ca_len = pki_make(p, &m, ca);
	ca_setup_default(fx, p, &s);
	/* Both trusted CAs in the file; leaves by the short one. */
	{
		const uint8_t *ders[2] = {p->ca, ca};
		size_t lens[2] = {p->ca_len, ca_len};

		s.ca_file = pki_write(p, "two.pem", CERT_TYPE, ders, lens, 2);
	}
	memset(&m, 0, sizeof(m));
	m.cn = m.dns = "poller.test";
	m.eku = "clientAuth";
	m.issuer = ca;
	m.issuer_len = ca_len;
	m.issuer_key = &p->spare_key;
	s.client_cert = client_leaf(p, "client-short.pem", &m);
	n = pki_ed25519_leaf(p, &fx->skey, "agent.test", "serverAuth", der);
	s.server_cert = pki_write_cert(p, "server2.pem", der, n);
	ca_apply(fx, &s);
	ca_exchange(fx, "agent.test");
	ca_assert_ok(fx);
	sleep(3);
	ca_exchange(fx, "agent.test");
	ck_assert_int_eq(fx->client.hs_status, CT_ERR_AUTH);
	ck_assert_msg(strstr(fx->client.error,
	                  "a CA certificate of the CA file expired on") != NULL,
	    "%s", fx->client.error);
	fx_free(fx);

	/* Loading a file that holds an expired CA fails, naming it. */
	fx = fx_new(false);
	{
		struct tls_ca_opts o = {.ca_file = s.ca_file,
		    .cert_file = s.server_cert};
		char err[256];

		ck_assert_int_eq(tls_ctx_use_ca_file(fx->sctx, &o, err,
		                     sizeof(err)),
		    CT_ERR_AUTH);
		ck_assert_msg(strstr(err,
		                  "two.pem: certificate 2 (CN=Short "
		                  "CA) expired on") != NULL,
		    "%s", err);
	}
	fx_free(fx);
	pki_free(p);
}
END_TEST

/* Contexts of both modes side by side: each works, they do not mix. */
START_TEST(test_ca_and_pinned_side_by_side)
{
	struct fixture *fx = fx_new(true), *pin = fx_new(true);
	struct pki *p = pki_new();
	struct ca_setup s;
	static const uint8_t msg[] = "ping";

	ca_setup_default(fx, p, &s);
	ca_apply(fx, &s);
	/* Pinned, while CA-mode contexts exist. */
	pin->server.echo = true;
	pin->client.tx = msg;
	pin->client.tx_len = sizeof(msg);
	pin->client.close_after = sizeof(msg);
	fx_connect(pin, pin->skey.pub);
	fx_run(pin);
	ck_assert_int_eq(pin->client.hs_status, 0);
	ck_assert_uint_eq(pin->client.rx.len, sizeof(msg));
	ck_assert(pin->client.has_peer_pub);
	ck_assert_str_eq(pin->client.peer_name, "");
	/* A CA-mode client against the pinned server: a self-signed
	 * certificate is not issued by the CA. */
	side_reset(pin, &pin->client);
	side_reset(pin, &pin->server);
	{
		struct tls_callbacks cb = side_cbs;

		cb.arg = &pin->client;
		ck_assert_int_eq(tls_connect_name(fx->cctx, &pin->loop,
		                     (const struct sockaddr *)&pin->addr,
		                     "agent.test", &cb, &pin->client.conn),
		    0);
		pin->open_conns++;
	}
	fx_run(pin);
	ck_assert_int_eq(pin->client.hs_status, CT_ERR_AUTH);
	ck_assert_msg(strstr(pin->client.error, "not issued by a CA") != NULL,
	    "%s", pin->client.error);
	while (pin->server.close_calls == 0)
		uv_run(&pin->loop, UV_RUN_ONCE);
	/* A pinned client against the CA-mode server. */
	side_reset(fx, &fx->client);
	side_reset(fx, &fx->server);
	{
		struct tls_callbacks cb = side_cbs;

		cb.arg = &fx->client;
		ck_assert_int_eq(tls_connect(pin->cctx, &fx->loop,
		                     (const struct sockaddr *)&fx->addr,
		                     fx->skey.pub, NULL, &cb, &fx->client.conn),
		    0);
		fx->open_conns++;
	}
	fx_run(fx);
	ck_assert_int_eq(fx->client.hs_status, CT_ERR_AUTH);
	ck_assert_msg(strstr(fx->client.error, "certificate unusable") != NULL,
	    "%s", fx->client.error);
	while (fx->server.close_calls == 0)
		uv_run(&fx->loop, UV_RUN_ONCE);
	ck_assert_int_lt(fx->server.hs_status, 0);
	fx_free(pin);
	fx_free(fx);
	pki_free(p);
}
END_TEST

static int
use_ca(struct tls_ctx *ctx, const char *ca, const char *cert, const char *key,
    char *err, size_t errsz)
{
	struct tls_ca_opts o;

	memset(&o, 0, sizeof(o));
	o.ca_file = ca;
	o.cert_file = cert;
	o.key_file = key;
	return tls_ctx_use_ca_file(ctx, &o, err, errsz);
}

/* Files and arguments that cannot work, each with its reason. */
START_TEST(test_ca_load_errors)
{
	struct fixture *fx = fx_new(false);
	struct pki *p = pki_new();
	struct ca_setup s;
	struct tls_ctx *ctx = NULL, *probe = NULL;
	struct tls_conn *c = NULL;
	struct tls_ca_opts o;
	const char *names[1] = {"poller.test"};
	const char *junk, *both, *spare_key, *other_ed, *own_ed;
	char err[256];
	uint8_t der[PKI_DER_MAX_BYTES];
	size_t n;
	int rc_got;
	FILE *f;

	ca_setup_default(fx, p, &s);
	junk = pki_path(p, "junk.pem");
	f = fopen(junk, "w");
	ck_assert_ptr_nonnull(f);
	fputs("-----BEGIN CERTIFICATE-----\nnot base64!\n"
	      "-----END CERTIFICATE-----\n",
	    f);
	ck_assert_int_eq(fclose(f), 0);
	spare_key = pki_write_ecc_key(p, "spare.key", &p->spare_key);
	other_ed = pki_write_ed25519_key(p, "other-ed.key", &fx->other);
	own_ed = pki_write_ed25519_key(p, "own-ed.key", &fx->skey);
	n = pki_ed25519_leaf(p, &fx->other, "agent.test", NULL, der);
	both = pki_write_cert(p, "for-other-key.pem", der, n);

#define FRESH_SERVER()                                                         \
	do {                                                                   \
		tls_ctx_free(ctx);                                             \
		ck_assert_int_eq(tls_ctx_new_server(fx->skey.seed,             \
		                     fx->skey.pub, "a", fx_authorize, fx,      \
		                     &ctx),                                    \
		    0);                                                        \
	} while (0)
#define EXPECT(rc, text)                                                       \
	do {                                                                   \
		ck_assert_int_eq(rc_got, (rc));                                \
		ck_assert_msg(strstr(err, (text)) != NULL, "%s", err);         \
	} while (0)

	FRESH_SERVER();
	rc_got = use_ca(ctx, "/nonexistent/ca.pem", s.server_cert, NULL, err,
	    sizeof(err));
	EXPECT(CT_ERR_IO, "/nonexistent/ca.pem: No such file");
	/* A failed context refuses connections. */
	ck_assert_int_eq(tls_accept(ctx, (uv_stream_t *)&fx->listener,
	                     &side_cbs, &c),
	    CT_ERR_INVALID);
	ck_assert_int_eq(use_ca(ctx, s.ca_file, s.server_cert, NULL, err,
	                     sizeof(err)),
	    CT_ERR_INVALID);

	FRESH_SERVER();
	rc_got = use_ca(ctx, junk, s.server_cert, NULL, err, sizeof(err));
	EXPECT(CT_ERR_FORMAT, "junk.pem: PEM block 1 is malformed");
	FRESH_SERVER();
	rc_got =
	    use_ca(ctx, s.client_key, s.server_cert, NULL, err, sizeof(err));
	EXPECT(CT_ERR_FORMAT,
	    "a 'EC PRIVATE KEY' block where only "
	    "CERTIFICATE blocks belong");
	FRESH_SERVER();
	rc_got =
	    use_ca(ctx, "/dev/null", s.server_cert, NULL, err, sizeof(err));
	EXPECT(CT_ERR_FORMAT, "/dev/null: no CERTIFICATE block");
	/* Our certificate is not for our Ed25519 key. */
	FRESH_SERVER();
	rc_got = use_ca(ctx, s.ca_file, both, NULL, err, sizeof(err));
	EXPECT(CT_ERR_AUTH, "not for this side's Ed25519 key");
	/* A key file that is not the certificate's key (ECDSA, Ed25519). */
	FRESH_SERVER();
	rc_got =
	    use_ca(ctx, s.ca_file, s.client_cert, spare_key, err, sizeof(err));
	EXPECT(CT_ERR_AUTH, "does not hold the key of the certificate");
	FRESH_SERVER();
	rc_got =
	    use_ca(ctx, s.ca_file, s.server_cert, other_ed, err, sizeof(err));
	EXPECT(CT_ERR_AUTH, "does not hold the key of the certificate");
	/* The Ed25519 certificate with its own key as a file: fine. */
	FRESH_SERVER();
	ck_assert_msg(use_ca(ctx, s.ca_file, s.server_cert, own_ed, err,
	                  sizeof(err)) == 0,
	    "%s", err);
	/* A key file that is no key. */
	FRESH_SERVER();
	rc_got =
	    use_ca(ctx, s.ca_file, s.client_cert, s.ca_file, err, sizeof(err));
	EXPECT(CT_ERR_FORMAT, "not a private key");
	/* The certificate file holding the key too. */
	FRESH_SERVER();
	rc_got = use_ca(ctx, s.ca_file, s.client_key, s.client_key, err,
	    sizeof(err));
	EXPECT(CT_ERR_FORMAT, "only CERTIFICATE blocks belong");

	/* Arguments. */
	FRESH_SERVER();
	memset(&o, 0, sizeof(o));
	o.ca_file = s.ca_file;
	ck_assert_int_eq(tls_ctx_use_ca_file(ctx, &o, err, sizeof(err)),
	    CT_ERR_INVALID);
	ck_assert_int_eq(tls_ctx_use_ca_file(NULL, &o, NULL, 0),
	    CT_ERR_INVALID);
	o.cert_file = s.server_cert;
	o.n_peer_names = TLS_MAX_PEER_NAMES + 1;
	o.peer_names = names;
	ck_assert_int_eq(tls_ctx_use_ca_file(ctx, &o, err, sizeof(err)),
	    CT_ERR_INVALID);
	o.n_peer_names = 1;
	names[0] = "bad name";
	FRESH_SERVER();
	ck_assert_int_eq(tls_ctx_use_ca_file(ctx, &o, err, sizeof(err)),
	    CT_ERR_INVALID);
	/* peer_names belong to a server. */
	names[0] = "poller.test";
	ck_assert_int_eq(tls_ctx_use_ca_file(fx->cctx, &o, err, sizeof(err)),
	    CT_ERR_INVALID);
	ck_assert(!tls_ctx_ca_mode(fx->cctx));
	/* Twice, and on a probe context. */
	FRESH_SERVER();
	ck_assert_int_eq(tls_ctx_use_ca_file(ctx, &o, err, sizeof(err)), 0);
	ck_assert(tls_ctx_ca_mode(ctx));
	ck_assert_int_eq(tls_ctx_use_ca_file(ctx, &o, err, sizeof(err)),
	    CT_ERR_INVALID);
	ck_assert_int_eq(tls_ctx_new_probe(&probe), 0);
	o.n_peer_names = 0;
	ck_assert_int_eq(tls_ctx_use_ca_file(probe, &o, err, sizeof(err)),
	    CT_ERR_INVALID);
	tls_ctx_free(probe);
	/* Connecting: a name for CA mode, a pin otherwise. */
	ck_assert_int_eq(tls_connect_name(fx->cctx, &fx->loop,
	                     (const struct sockaddr *)&fx->addr, "agent.test",
	                     &side_cbs, &c),
	    CT_ERR_INVALID);
	ck_assert_int_eq(use_ca(fx->cctx, s.ca_file, s.client_cert,
	                     s.client_key, err, sizeof(err)),
	    0);
	ck_assert_int_eq(tls_connect(fx->cctx, &fx->loop,
	                     (const struct sockaddr *)&fx->addr, fx->skey.pub,
	                     NULL, &side_cbs, &c),
	    CT_ERR_INVALID);
	ck_assert_int_eq(tls_connect_name(fx->cctx, &fx->loop,
	                     (const struct sockaddr *)&fx->addr, "", &side_cbs,
	                     &c),
	    CT_ERR_INVALID);
	ck_assert_int_eq(tls_connect_name(fx->cctx, &fx->loop,
	                     (const struct sockaddr *)&fx->addr, "a b",
	                     &side_cbs, &c),
	    CT_ERR_INVALID);
	ck_assert_ptr_null(c);
#undef FRESH_SERVER
#undef EXPECT
	tls_ctx_free(ctx);
	fx_free(fx);
	pki_free(p);
}
END_TEST

static Suite *
tls_suite(void)
{
	Suite *s = suite_create("tls");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, TEST_TIMEOUT_S);
	tcase_add_test(tc, test_cert_self_signed);
	tcase_add_test(tc, test_cert_forgeries);
	tcase_add_test(tc, test_ctx_arguments);
	tcase_add_test(tc, test_echo_pinned);
	tcase_add_test(tc, test_client_authorize_callback);
	tcase_add_test(tc, test_client_pins_wrong_key);
	tcase_add_test(tc, test_server_refuses_client);
	tcase_add_test(tc, test_client_without_certificate);
	tcase_add_test(tc, test_tls12_client_refused);
	tcase_add_test(tc, test_forged_client_certificate);
	tcase_add_test(tc, test_certificate_without_private_key);
	tcase_add_test(tc, test_client_chain_leaf_first);
	tcase_add_test(tc, test_bad_calls);
	tcase_add_test(tc, test_ticket_tampering);
	tcase_add_test(tc, test_raw_garbage_refused);
	tcase_add_test(tc, test_deadline_silent_client);
	tcase_add_test(tc, test_deadline_silent_server);
	tcase_add_test(tc, test_deadline_idle_after_handshake);
	tcase_add_test(tc, test_connect_refused);
	tcase_add_test(tc, test_close_before_handshake);
	tcase_add_test(tc, test_bulk_both_directions);
	tcase_add_test(tc, test_bulk_echo);
	tcase_add_test(tc, test_close_flushes_queued_writes);
	tcase_add_test(tc, test_write_cap);
	tcase_add_test(tc, test_resumption);
	tcase_add_test(tc, test_resumption_after_cache_eviction);
	tcase_add_test(tc, test_resumption_foreign_ticket);
	tcase_add_test(tc, test_bench_handshakes);
	tcase_add_test(tc, test_probe_chain_tls13);
	tcase_add_test(tc, test_probe_tls12_no_sni);
	tcase_add_test(tc, test_probe_plaintext_phase);
	tcase_add_test(tc, test_probe_plaintext_refused);
	tcase_add_test(tc, test_probe_plaintext_eof);
	tcase_add_test(tc, test_probe_sni_alert);
	tcase_add_test(tc, test_probe_refused);
	tcase_add_test(tc, test_probe_bad_calls);
	tcase_add_test(tc, test_ca_handshake);
	tcase_add_test(tc, test_ca_client_other_ca);
	tcase_add_test(tc, test_ca_server_other_ca);
	tcase_add_test(tc, test_ca_own_cert_expired);
	tcase_add_test(tc, test_ca_client_expired_on_the_wire);
	tcase_add_test(tc, test_ca_certificate_without_private_key);
	tcase_add_test(tc, test_ca_wrong_server_name);
	tcase_add_test(tc, test_ca_peer_names);
	tcase_add_test(tc, test_ca_extended_key_usage);
	tcase_add_test(tc, test_ca_intermediate);
	tcase_add_test(tc, test_ca_anchor_expires);
	tcase_add_test(tc, test_ca_and_pinned_side_by_side);
	tcase_add_test(tc, test_ca_load_errors);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN); /* libuv does not; see tls.h */
	return testutil_run(tls_suite());
}
