/*
 * conf: the poller configuration of DESIGN.md section 4, read by ctctl
 * and check_ct.
 *
 *	# comment
 *	key   = /etc/ct/poller.key
 *	agent web1.example.org = 192.0.2.10:5660 ct-ed25519 AAAA... [comment]
 *	agent web2.example.org = [2001:db8::2] ct-ed25519 AAAA...
 *	# optional CA-file mode:
 *	tls_ca   = /etc/ct/ca.pem
 *	tls_cert = /etc/ct/poller-cert.pem
 *	tls_key  = /etc/ct/poller-cert.key
 *
 * One setting per line, "name = value", blanks around '=' optional. A line
 * whose first non-blank byte is '#' is a comment, and so is the rest of a
 * line from a '#' that follows a blank. Blank lines are skipped.
 *
 * key: the poller's private key file (PEM, as `ctctl keygen` writes it);
 * a relative path is taken relative to the directory of the config file.
 * At most once.
 *
 * agent NAME: NAME is the agent's own name (the audience of the signed
 * request: LDH labels and dots, 1..253 bytes, compared ignoring ASCII
 * case); the value is HOST[:PORT] followed by the agent's public key line
 * (`ct-ed25519 BASE64 [comment]`), which is pinned. HOST is a DNS name, an
 * IPv4 address or an IPv6 address in brackets; PORT defaults to 5660. An
 * agent name given twice is an error.
 *
 * tls_ca, tls_cert, tls_key: CA-file mode, for sites with their own PKI
 * (common/tls.h). tls_ca (PEM trust anchors) turns it on for every agent
 * of the file and needs tls_cert (this poller's PEM chain, leaf first);
 * tls_key is that certificate's PEM key (absent: the certificate must be
 * for the Ed25519 `key`). In this mode the TLS layer checks that an
 * agent's certificate chains to tls_ca and names the agent (NAME, as a
 * DNS subjectAltName or CN) instead of pinning its TLS key; the agent's
 * key line stays required, because the agent's answers are signed with
 * that key and checked against it. Paths as for key; each at most once;
 * tls_cert and tls_key without tls_ca are errors.
 *
 * Anything else (an unknown setting, a line without '=', a bad value) is
 * an error naming "FILE:LINE".
 *
 * Where the file is: `--config FILE` when given; else
 * ~/.config/ct/ct.conf when it exists; else /etc/ct/ct.conf.
 */
#ifndef CT_CONF_H
#define CT_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keys.h"

#define CONF_SYSTEM_PATH "/etc/ct/ct.conf"
#define CONF_USER_PATH ".config/ct/ct.conf" /* below $HOME */
#define CONF_DEFAULT_PORT 5660

#define CONF_MAX_FILE_BYTES (1024 * 1024)
#define CONF_MAX_LINE_BYTES 4096
#define CONF_MAX_AGENTS 4096
#define CONF_PATH_MAX_BYTES 4096
#define CONF_NAME_MAX_BYTES 253 /* an agent name, as on the wire */
#define CONF_HOST_MAX_BYTES 253 /* a DNS name, or an IP literal */
#define CONF_ERROR_BYTES 512    /* one "FILE:LINE: reason" text */

struct conf_agent {
	char name[CONF_NAME_MAX_BYTES + 1];
	char host[CONF_HOST_MAX_BYTES + 1]; /* IPv6 without brackets */
	uint16_t port;
	struct keys_pubkey key; /* the pinned key; key.line is the line */
};

struct conf {
	char *path;     /* the file read, or NULL for a text */
	char *key_path; /* NULL when no key line; resolved against path */
	size_t key_line;
	char *tls_ca; /* CA-file mode when set; these three as key_path */
	char *tls_cert;
	char *tls_key; /* NULL: tls_cert is for the Ed25519 key */
	size_t tls_ca_line, tls_cert_line, tls_key_line;
	struct conf_agent *agents;
	size_t n_agents;
};

/*
 * Parses a config text of len bytes. origin names it in error texts and,
 * when it contains a '/', gives the directory against which a relative
 * key path is resolved. On failure err (errsz bytes, may be NULL) holds
 * "ORIGIN:LINE: reason" and out is left empty. 0, CT_ERR_FORMAT,
 * CT_ERR_TOO_BIG or CT_ERR_NOMEM.
 */
int conf_parse(const char *text, size_t len, const char *origin,
    struct conf *out, char *err, size_t errsz);
/* The same from a file (at most CONF_MAX_FILE_BYTES); CT_ERR_IO too. */
int conf_load(const char *path, struct conf *out, char *err, size_t errsz);
void conf_free(struct conf *c);

/*
 * The config file to read: explicit when not NULL (it need not exist
 * yet: loading it reports the error); else HOME/CONF_USER_PATH when it
 * exists (home may be NULL); else system_path when it exists. 0 with the
 * path in out, CT_ERR_NOT_FOUND when none exists, CT_ERR_TOO_BIG when out
 * is too small.
 */
int conf_locate(const char *explicit_path, const char *home,
    const char *system_path, char *out, size_t outsz);

/* The agent called name (ASCII case ignored), or NULL. */
const struct conf_agent *conf_find_agent(const struct conf *c,
    const char *name);

/*
 * Splits "HOST[:PORT]" (n bytes): HOST a DNS name, an IPv4 address or
 * "[IPv6]" (brackets required with or without a port). host receives the
 * host without brackets; port default_port when none is given. 0 or
 * CT_ERR_FORMAT with reason set.
 */
int conf_parse_hostport(const char *s, size_t n, uint16_t default_port,
    char host[CONF_HOST_MAX_BYTES + 1], uint16_t *port, const char **reason);

/* True when s (n bytes) is a valid agent name (see above). */
bool conf_name_valid(const char *s, size_t n);

#endif
