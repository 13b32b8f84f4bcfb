/*
 * tls: mutually authenticated TLS 1.3 over libuv TCP streams (wolfSSL),
 * with identities taken from raw Ed25519 keys and pinned on both sides.
 *
 * Each side makes a self-signed X.509 certificate from its Ed25519 key when
 * its context is created. During the handshake any certificate is let
 * through the X.509 layer; what authenticates the peer is its public key
 * (the SPKI of its leaf certificate), which must be Ed25519 and which the
 * caller accepts or refuses: the server through an authorize callback (the
 * authorized_keys lookup), the client by a pin per connection (or the same
 * kind of callback). Proof that the peer holds the private key comes from
 * the TLS 1.3 CertificateVerify message, which wolfSSL checks against that
 * same certificate key; the certificate's own self-signature is checked as
 * well, but it adds no authentication (anyone can self-sign).
 *
 * The peer key is checked twice: in wolfSSL's verify callback (so that a
 * refused key ends the handshake with a TLS alert, and the client never
 * sends its own certificate to a server with the wrong key), and again
 * after the handshake on the leaf from wolfSSL_get_peer_chain, which is
 * the check that counts. Only then does on_handshake report 0. The leaf is
 * the first certificate the peer sends; any others are ignored, as are the
 * X.509 validity dates (keys are pinned, as in SSH).
 *
 * An optional CA-file mode (tls_ctx_use_ca_file, below) replaces the
 * pinning of the peer's key with X.509 verification against a site's own
 * CA, for sites with their own PKI.
 *
 * Both ends prefer X25519 for the key exchange (about three times cheaper
 * per handshake than P-256 in Debian's wolfSSL build).
 *
 * Everything runs on the loop thread. The library never prints; errors are
 * negative enum ct_err values plus a text from tls_conn_error(). This is
 * the only common/ file that includes uv.h.
 *
 * A probe mode (at the end of this file) reuses the same glue for a plain
 * TLS 1.2/1.3 client that looks at someone else's server: no key, no pin,
 * SNI, an optional plaintext phase for STARTTLS, and the presented chain.
 *
 * Callers must ignore SIGPIPE (signal(SIGPIPE, SIG_IGN)): libuv does not,
 * and a write to a reset peer would otherwise kill the process.
 */
#ifndef CT_TLS_H
#define CT_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#define TLS_KEY_BYTES 32         /* Ed25519 public key or seed */
#define TLS_CN_MAX_BYTES 63      /* wolfSSL's CTC_NAME_SIZE less the NUL */
#define TLS_CERT_VALID_DAYS 3653 /* ten years, from now less one day */
#define TLS_CERT_MAX_BYTES 2048  /* our self-signed certificate, DER */
#define TLS_PEER_CERT_MAX_BYTES (64 * 1024) /* a peer leaf we will parse */

/* Ciphertext received but not yet consumed by wolfSSL, per connection. */
#define TLS_MAX_INPUT_BYTES (256 * 1024)
/* Bytes queued for the socket and not yet written, per connection. */
#define TLS_MAX_PENDING_WRITE_BYTES (32 * 1024 * 1024)
/* One read from the socket. */
#define TLS_READ_CHUNK_BYTES (64 * 1024)
/* Deadline armed by tls_accept/tls_connect until the caller sets one. */
#define TLS_DEFAULT_DEADLINE_MS 30000
/* How long a graceful close may wait for queued writes to drain. */
#define TLS_CLOSE_LINGER_MS 2000
/* How long a server's session ticket may be used to resume. */
#define TLS_TICKET_LIFETIME_S 3600
/* TLS 1.3 suites between our own ends, preferred first. */
#define TLS_AGENT_CIPHERS                                                      \
	"TLS13-CHACHA20-POLY1305-SHA256:TLS13-AES128-GCM-SHA256:"             \
	"TLS13-AES256-GCM-SHA384"
/* Size of the last-error text, NUL included. */
#define TLS_ERROR_TEXT_BYTES 256

struct tls_ctx;
struct tls_conn;
struct tls_session;

/*
 * Decides whether a peer key is acceptable: 0 accepts, anything else
 * refuses. It may be called before the peer has proved possession of the
 * key (from the verify callback) and again after the handshake, so it must
 * be a pure lookup without side effects.
 */
typedef int (*tls_authorize_fn)(void *arg, const uint8_t pub[TLS_KEY_BYTES]);

/*
 * Callbacks to the user of a connection. None is ever called from inside a
 * tls_* call the user makes; all come from the loop.
 *
 * on_handshake is called exactly once: status 0 when the handshake is done
 * and the peer key accepted (data may flow from now on), or a negative
 * ct_err when the connection ended first (then on_close follows at once
 * with the same status).
 * on_data delivers plaintext; the bytes are valid during the call only.
 * on_close is called exactly once, last: status 0 after tls_close() with no
 * earlier error, CT_ERR_CLOSED when the peer closed, or another negative
 * ct_err (CT_ERR_TIMEOUT, CT_ERR_AUTH, CT_ERR_PROTO, CT_ERR_IO ...). The
 * connection is freed when on_close returns; tls_conn_error() and
 * tls_conn_peer_pub() still work inside on_close.
 * Inside any callback the user may call tls_write, tls_close and
 * tls_set_deadline.
 */
struct tls_callbacks {
	void (*on_handshake)(struct tls_conn *c, int status);
	void (*on_data)(struct tls_conn *c, const uint8_t *p, size_t n);
	void (*on_close)(struct tls_conn *c, int status);
	void *arg; /* returned by tls_conn_arg() */
};

/* Once per process, before any other tls_ call: 0 or CT_ERR_CRYPTO. */
int tls_global_init(void);
/* After every context and connection is gone. */
void tls_global_cleanup(void);

/*
 * Contexts. seed and pub are the raw Ed25519 key pair (pub must be the key
 * of seed: CT_ERR_INVALID otherwise); cn (at most TLS_CN_MAX_BYTES, no NUL
 * inside) becomes the certificate's subject and issuer CN, e.g. the agent
 * name. The key bytes are not kept beyond the call (wolfSSL keeps its DER
 * copy inside the WOLFSSL_CTX).
 *
 * A server context requires a client certificate and calls authorize for
 * its key (authorize must not be NULL). A client context's authorize may be
 * NULL when every tls_connect() passes a pin.
 *
 * 0 and *out set, or a negative ct_err. A context is reference-counted by
 * its connections, so tls_ctx_free() may be called while they live.
 */
int tls_ctx_new_server(const uint8_t seed[TLS_KEY_BYTES],
    const uint8_t pub[TLS_KEY_BYTES], const char *cn,
    tls_authorize_fn authorize, void *arg, struct tls_ctx **out);
int tls_ctx_new_client(const uint8_t seed[TLS_KEY_BYTES],
    const uint8_t pub[TLS_KEY_BYTES], const char *cn,
    tls_authorize_fn authorize, void *arg, struct tls_ctx **out);
void tls_ctx_free(struct tls_ctx *ctx);

/*
 * CA-file mode (sites with their own PKI). It turns a client or server
 * context made above into one that authenticates the peer by X.509
 * instead of by its pinned key:
 *
 * - ca_file (PEM, one or more CERTIFICATE blocks) holds the trust
 *   anchors. Every anchor must be within its validity dates when the file
 *   is loaded, and each handshake checks again that all of them still
 *   are (wolfSSL itself checks the dates of the leaf and of the
 *   intermediates the peer sends, but not those of loaded anchors).
 * - cert_file (PEM) holds our certificate, then any intermediates; it
 *   replaces the self-signed certificate. It must be within its dates
 *   when loaded. key_file (PEM: PKCS#8, or the traditional EC or RSA
 *   forms) is its private key (ECDSA, RSA or Ed25519); when key_file is
 *   NULL, cert_file must certify the context's own Ed25519 key.
 * - The peer's chain must verify up to an anchor with wolfSSL's normal
 *   verification (signatures, the dates of the leaf and of the
 *   intermediates it sends, which need key usage keyCertSign, and the
 *   extended key usage when present: serverAuth for a server,
 *   clientAuth for a client), and the peer must prove it holds the
 *   leaf's key (TLS 1.3 CertificateVerify).
 * - Names. A client connects with tls_connect_name(): the server's leaf
 *   must carry that name (a DNS subjectAltName, or the subject CN when
 *   it has no DNS subjectAltName; wolfSSL's rules, which allow a
 *   left-most '*' label). A server with peer_names accepts a client leaf
 *   only when one of its names (DNS subjectAltNames, or the CNs when it
 *   has none) equals one of peer_names, ignoring ASCII case and without
 *   wildcards; without peer_names any leaf the CA issued is accepted.
 * - The authorize callback and pins are not used, and tls_conn_peer_pub
 *   reports CT_ERR_NOT_FOUND: the peer is a certificate, not a raw key.
 * - A server issues no session tickets, so that every connection
 *   verifies the chain (and its dates) anew; a client offers none.
 *
 * Call it once, before any connection uses the context. err (errsz
 * bytes, may be NULL) receives a reason naming the file, e.g.
 * "/etc/ct-agent/ca.pem: certificate 1 (CN=Old CA) expired on
 * 2026-01-01T00:00:00Z". 0, or CT_ERR_IO (errno kept), CT_ERR_FORMAT,
 * CT_ERR_TOO_BIG, CT_ERR_AUTH (a certificate out of its dates, or a key
 * that does not match the certificate), CT_ERR_INVALID (bad arguments,
 * a probe context, a context already in use) or CT_ERR_CRYPTO. After a
 * failure the context is unusable (connections on it are refused with
 * CT_ERR_INVALID): free it.
 */
#define TLS_CA_MAX_FILE_BYTES (1024 * 1024) /* a CA, cert or key file */
#define TLS_CA_MAX_CERTS 100                /* certificates in one file */
#define TLS_MAX_PEER_NAMES 64               /* entries of peer_names */
#define TLS_NAME_MAX_BYTES 253              /* one DNS name */

struct tls_ca_opts {
	const char *ca_file;           /* trust anchors (required) */
	const char *cert_file;         /* our chain, leaf first (required) */
	const char *key_file;          /* its key, or NULL: the Ed25519 key */
	const char *const *peer_names; /* server only; NULL: any name */
	size_t n_peer_names;
};

int tls_ctx_use_ca_file(struct tls_ctx *ctx, const struct tls_ca_opts *o,
    char *err, size_t errsz);
/* True for a context in CA-file mode. */
bool tls_ctx_ca_mode(const struct tls_ctx *ctx);

/*
 * Server side: accepts one pending connection from a listening stream (call
 * it from the stream's connection callback). The server handshake starts
 * when the client's first bytes arrive. 0 and *out set, or a negative
 * ct_err (then no callback is ever called for it).
 */
int tls_accept(struct tls_ctx *ctx, uv_stream_t *server,
    const struct tls_callbacks *cb, struct tls_conn **out);

/*
 * Client side: connects to addr, then runs the handshake. When pin is not
 * NULL the server's key must equal it; otherwise the context's authorize
 * decides. session, when not NULL, is offered for resumption (it is copied;
 * the caller keeps it). 0 and *out set, or a negative ct_err (then no
 * callback is ever called for it).
 */
int tls_connect(struct tls_ctx *ctx, uv_loop_t *loop,
    const struct sockaddr *addr, const uint8_t pin[TLS_KEY_BYTES],
    const struct tls_session *session, const struct tls_callbacks *cb,
    struct tls_conn **out);

/*
 * Client side in CA-file mode: as tls_connect, but the server's
 * certificate must chain to the CA file and carry name (1 to
 * TLS_NAME_MAX_BYTES printable bytes, no blanks), instead of a pin. No
 * session is offered. CT_ERR_INVALID on a context not in CA-file mode
 * (and tls_connect refuses a context in CA-file mode).
 */
int tls_connect_name(struct tls_ctx *ctx, uv_loop_t *loop,
    const struct sockaddr *addr, const char *name,
    const struct tls_callbacks *cb, struct tls_conn **out);

/*
 * Sends plaintext after on_handshake(0). The bytes are copied. 0, or
 * CT_ERR_INVALID before the handshake is done, CT_ERR_CLOSED once closing
 * began, CT_ERR_TOO_BIG when more than TLS_MAX_PENDING_WRITE_BYTES would be
 * queued, or another negative ct_err when the connection failed (it then
 * closes, and on_close reports the same error).
 */
int tls_write(struct tls_conn *c, const void *p, size_t n);

/*
 * Closes: after the handshake, sends close_notify and lets queued writes
 * drain (at most TLS_CLOSE_LINGER_MS or the deadline, whichever is
 * sooner); before it, closes at once. on_close follows from the loop.
 * Calling it again, or after the connection failed, does nothing.
 */
void tls_close(struct tls_conn *c);

/*
 * (Re)arms the connection's deadline ms milliseconds from now; 0 disarms
 * it. When it passes the connection closes with CT_ERR_TIMEOUT. It covers
 * whatever the connection is doing: connecting, the handshake, waiting for
 * data. tls_accept/tls_connect arm TLS_DEFAULT_DEADLINE_MS.
 */
void tls_set_deadline(struct tls_conn *c, uint64_t ms);

/*
 * The peer's Ed25519 key once seen (even if refused); CT_ERR_NOT_FOUND
 * (always in CA-file mode).
 */
int tls_conn_peer_pub(const struct tls_conn *c, uint8_t out[TLS_KEY_BYTES]);
/*
 * CA-file mode: the name the peer's certificate was accepted for (a
 * server's matching peer_names entry, else the certificate's first DNS
 * name or CN, sanitised), or "" (pinned mode, or not accepted yet).
 */
const char *tls_conn_peer_name(const struct tls_conn *c);
/* True when the connection's context is in CA-file mode. */
bool tls_conn_ca_mode(const struct tls_conn *c);
/* The last error's text, "" when none. Valid until on_close returns. */
const char *tls_conn_error(const struct tls_conn *c);
void *tls_conn_arg(const struct tls_conn *c);
/* True once the handshake resumed a session (client and server). */
bool tls_conn_resumed(const struct tls_conn *c);
/* The peer's address: 0 or a negative ct_err. */
int tls_conn_peer_addr(const struct tls_conn *c, struct sockaddr_storage *ss);

/*
 * Client resumption. tls_conn_get_session copies the connection's session
 * for a later tls_connect() to the same server; the TLS 1.3 ticket arrives
 * after the handshake, with or before the server's first data, so call it
 * from on_data or on_close. CT_ERR_NOT_FOUND when there is no resumable
 * session, CT_ERR_INVALID on a server connection or one whose peer was not
 * accepted. A resumed connection is checked like a fresh one: the client
 * checks the server leaf stored in the session against its pin; the server
 * takes the client key from its own ticket (see tls.c) and calls authorize
 * again. A ticket the server cannot open (one from an earlier server
 * process, or altered) just means a full handshake; wolfSSL also ignores
 * tickets older than TLS_TICKET_LIFETIME_S. A server that refuses
 * a resumed client can only close (no alert is available there): the
 * client then sees on_handshake(0) and on_close(CT_ERR_CLOSED) with no
 * data.
 */
int tls_conn_get_session(const struct tls_conn *c, struct tls_session **out);
void tls_session_free(struct tls_session *s);

/*
 * Helpers, also used by the tests. tls_make_cert writes a self-signed
 * Ed25519 certificate (DER) into a malloc'd buffer the caller frees.
 * tls_cert_pub takes an Ed25519 key from a certificate's SPKI with the DER
 * walker and checks the certificate's self-signature under it: 0,
 * CT_ERR_UNSUPPORTED for another key or signature type, CT_ERR_SIGNATURE
 * for a bad self-signature, or a DER error.
 */
int tls_make_cert(const uint8_t seed[TLS_KEY_BYTES],
    const uint8_t pub[TLS_KEY_BYTES], const char *cn, uint8_t **der,
    size_t *der_len);
int tls_cert_pub(const uint8_t *der, size_t len, uint8_t pub[TLS_KEY_BYTES]);

/*
 * Probe mode: a TLS 1.2 or 1.3 client for looking at someone else's
 * server (the remote certificate probe), on the same libuv glue. It has
 * no certificate of its own and no pin: every X.509 verdict is overridden
 * (the verify callback accepts), so the handshake completes with whatever
 * chain the server presents, and the caller judges that chain itself
 * from tls_conn_peer_cert(). Nothing of the chain is trusted here.
 *
 * An optional plaintext phase runs before the handshake (STARTTLS): the
 * server's bytes go to on_plain, which answers with tls_plain_write()
 * and returns TLS_PLAIN_START once the server agreed to start TLS. The
 * protocol dialogs themselves live with the caller.
 *
 * on_handshake(0) means the handshake completed: the peer's chain,
 * version, cipher and timings are then available, and stay so until
 * on_close returns (a chain seen in a handshake that failed later is
 * kept too). tls_close() after the handshake sends close_notify and
 * waits for the server's EOF at most TLS_PROBE_LINGER_MS.
 */
#define TLS_PROBE_MAX_CHAIN 16         /* certificates kept from one server */
#define TLS_PROBE_LINGER_MS 500        /* close wait after close_notify */
#define TLS_MAX_PLAIN_WRITE_BYTES 4096 /* one tls_plain_write */
#define TLS_MAX_SNI_BYTES 255
#define TLS_VERSION_TEXT_BYTES 16
#define TLS_CIPHER_TEXT_BYTES 64

/* on_plain's verdicts (a negative ct_err fails the connection). */
#define TLS_PLAIN_MORE 0  /* keep reading plaintext */
#define TLS_PLAIN_START 1 /* the server agreed: start the handshake */

/*
 * Receives the server's plaintext (the bytes are valid during the call
 * only; all of them count as consumed). It may call tls_plain_write. It
 * returns TLS_PLAIN_MORE, TLS_PLAIN_START (there must be nothing left to
 * read: bytes after the server's go-ahead are the caller's to refuse), or
 * a negative ct_err with a reason in why (whysz bytes), which ends the
 * connection with that status and text.
 */
typedef int (*tls_plain_fn)(struct tls_conn *c, const uint8_t *p, size_t n,
    char *why, size_t whysz);

struct tls_probe_params {
	const char *sni;       /* server name to send, or NULL: none */
	tls_plain_fn on_plain; /* NULL: TLS right after connecting */
};

/* Timings of a probe connection, in milliseconds (0 when not reached). */
struct tls_times {
	double connect_ms;   /* tls_connect_probe to TCP established */
	double plain_ms;     /* TCP established to TLS_PLAIN_START */
	double handshake_ms; /* start of the handshake to its end */
};

/* A probe context (no key, no pin). 0 and *out set, or a negative ct_err. */
int tls_ctx_new_probe(struct tls_ctx **out);

/*
 * Connects to addr with a probe context, then runs the plaintext phase
 * (when params->on_plain is set) and the handshake. An SNI that is not
 * 1..TLS_MAX_SNI_BYTES printable bytes is CT_ERR_INVALID. Otherwise as
 * tls_connect.
 */
int tls_connect_probe(struct tls_ctx *ctx, uv_loop_t *loop,
    const struct sockaddr *addr, const struct tls_probe_params *params,
    const struct tls_callbacks *cb, struct tls_conn **out);

/*
 * Sends plaintext during the plaintext phase (from on_plain). The bytes
 * are copied. 0, CT_ERR_INVALID outside the phase, CT_ERR_TOO_BIG past
 * TLS_MAX_PLAIN_WRITE_BYTES, CT_ERR_IO.
 */
int tls_plain_write(struct tls_conn *c, const void *p, size_t n);

/* The peer's certificates as sent (DER, leaf first). */
size_t tls_conn_peer_chain_count(const struct tls_conn *c);
/* Certificate i: 0 with a view valid until on_close returns, or
 * CT_ERR_NOT_FOUND. */
int tls_conn_peer_cert(const struct tls_conn *c, size_t i, const uint8_t **der,
    size_t *len);
/* "TLSv1.3", "TLSv1.2" once the handshake is done, else "". */
const char *tls_conn_version(const struct tls_conn *c);
/* The negotiated cipher suite's name, or "". */
const char *tls_conn_cipher(const struct tls_conn *c);
/* The fatal alert the peer sent (RFC 8446 6), or -1 when none. */
int tls_conn_alert(const struct tls_conn *c);
/* The libuv error (UV_ECONNREFUSED, ...) that ended it, or 0. */
int tls_conn_sys_error(const struct tls_conn *c);
void tls_conn_times(const struct tls_conn *c, struct tls_times *t);

#endif
