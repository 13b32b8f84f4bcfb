/*
 * keys: Ed25519 identities of pollers and agents.
 *
 * A private key file is PEM "PRIVATE KEY" (PKCS#8 v1, RFC 8410, no
 * embedded public key), as `openssl genpkey -algorithm ed25519` writes and
 * OpenSSL 3 reads. A public key travels as one text line:
 *
 *	ct-ed25519 <base64 of the 32-byte raw key> [comment]
 *
 * fields separated by spaces or tabs. An authorized_keys file holds such
 * lines; blank lines and lines whose first non-blank byte is '#' are
 * skipped. Every parser here reports what is wrong through an optional
 * `reason` out parameter (static text, never NULL once set) and, for files
 * of lines, the 1-based line number.
 *
 * Secrets are zeroed before their memory is released.
 */
#ifndef CT_KEYS_H
#define CT_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <wolfssl/wolfcrypt/ed25519.h>
#include <wolfssl/wolfcrypt/random.h>

#define KEYS_PUB_BYTES 32
#define KEYS_PRIV_BYTES 32 /* the RFC 8032 seed */
#define KEYS_SIG_BYTES 64
#define KEYS_TYPE "ct-ed25519"

/* Caps on what the parsers accept. */
#define KEYS_COMMENT_MAX_BYTES 255
#define KEYS_LINE_MAX_BYTES 4096 /* one line of an authorized_keys file */
#define KEYS_AUTH_MAX_LINES 65536
#define KEYS_AUTH_MAX_KEYS 4096
#define KEYS_AUTH_MAX_FILE_BYTES (1024 * 1024)
#define KEYS_PRIV_MAX_FILE_BYTES 8192
/* Longest message keys_sign_domain copies (a response is at most 16 MiB). */
#define KEYS_MSG_MAX_BYTES (32 * 1024 * 1024)

/* "ct-ed25519 " + 44 base64 characters + " " + comment + NUL. */
#define KEYS_PUBLINE_BUF_BYTES                                                 \
	(sizeof(KEYS_TYPE) + 44 + 1 + KEYS_COMMENT_MAX_BYTES + 1)
/* "SHA256:" + 43 unpadded base64 characters + NUL. */
#define KEYS_FINGERPRINT_BUF_BYTES 51

/* A key pair; priv is secret: keys_clear() it when done. */
struct keys_ed25519 {
	uint8_t priv[KEYS_PRIV_BYTES];
	uint8_t pub[KEYS_PUB_BYTES];
};

/* One public key line, parsed. */
struct keys_pubkey {
	uint8_t pub[KEYS_PUB_BYTES];
	char comment[KEYS_COMMENT_MAX_BYTES + 1]; /* "" when absent */
	size_t line;                              /* 1-based; 0 if not a file */
};

/* The keys of an authorized_keys file. */
struct keys_authorized {
	struct keys_pubkey *keys;
	size_t n;
};

/* Fills p with n bytes from the wolfCrypt DRBG. 0 or CT_ERR_CRYPTO. */
int keys_random(void *p, size_t n);
/*
 * This thread's wolfCrypt DRBG (keys_random's), for wolfCrypt calls that
 * take one; seeded on first use and again after a fork. Not to be freed.
 */
int keys_rng(WC_RNG **out);

/* A new key pair. 0 or CT_ERR_CRYPTO. */
int keys_generate(struct keys_ed25519 *key);
/* The key pair of a given 32-byte seed (tests, fuzzers). */
int keys_from_seed(struct keys_ed25519 *key,
    const uint8_t seed[KEYS_PRIV_BYTES]);
void keys_clear(struct keys_ed25519 *key);

/*
 * Writes key to path as PEM PKCS#8, mode 0600. The file is created with
 * O_CREAT|O_EXCL: an existing path (or a symlink) is never overwritten
 * (CT_ERR_IO with errno EEXIST). A partly written file is removed.
 */
int keys_save_private(const char *path, const struct keys_ed25519 *key);
/*
 * Reads a private key file (at most KEYS_PRIV_MAX_FILE_BYTES). File
 * permissions are the caller's concern. CT_ERR_IO (errno kept),
 * CT_ERR_INVALID (not a regular file), CT_ERR_TOO_BIG, CT_ERR_FORMAT,
 * CT_ERR_UNSUPPORTED (another PEM type, an encrypted key), CT_ERR_TRAILING
 * (bytes after the key, a second PEM block), with reason set. On failure
 * key is zeroed.
 */
int keys_load_private(const char *path, struct keys_ed25519 *key,
    const char **reason);
/* The same from a buffer holding the PEM text. */
int keys_private_from_pem(const char *text, size_t len,
    struct keys_ed25519 *key, const char **reason);

/*
 * Formats the public line into out (NUL-terminated). comment may be NULL
 * or "": then the line has no comment field. A comment longer than
 * KEYS_COMMENT_MAX_BYTES, with a control byte or a tab, or with a
 * leading or trailing space is CT_ERR_INVALID; out too small is
 * CT_ERR_TOO_BIG.
 */
int keys_format_public_line(const uint8_t pub[KEYS_PUB_BYTES],
    const char *comment, char *out, size_t outsz);
/* Writes the public line and a newline to path (O_EXCL, mode 0644). */
int keys_save_public(const char *path, const uint8_t pub[KEYS_PUB_BYTES],
    const char *comment);
/*
 * Parses one public line (len bytes, no newline needed; a trailing CR and
 * blanks are ignored). out->line is set to 0. 0 or CT_ERR_FORMAT,
 * CT_ERR_UNSUPPORTED (unknown key type), CT_ERR_TOO_BIG (comment or line
 * too long), with reason set.
 */
int keys_parse_public_line(const char *line, size_t len,
    struct keys_pubkey *out, const char **reason);

/*
 * Parses an authorized_keys text of len bytes. On failure *bad_line (if
 * not NULL) names the offending line (0 when the error belongs to no
 * line, e.g. out of memory), reason says what is wrong, and out is left
 * empty. A key listed twice is an error. An empty file gives n == 0.
 */
int keys_authorized_parse(const char *text, size_t len,
    struct keys_authorized *out, size_t *bad_line, const char **reason);
/* The same from a file of at most KEYS_AUTH_MAX_FILE_BYTES. */
int keys_authorized_load(const char *path, struct keys_authorized *out,
    size_t *bad_line, const char **reason);
void keys_authorized_free(struct keys_authorized *a);
/*
 * The entry whose key is pub, or NULL. Every entry is compared in
 * constant time, whatever matches.
 */
const struct keys_pubkey *keys_authorized_find(const struct keys_authorized *a,
    const uint8_t pub[KEYS_PUB_BYTES]);

/*
 * A wolfCrypt key object holding both halves of key (wc_ed25519_free it).
 * The public half is checked against the seed (CT_ERR_INVALID when it
 * does not belong), once per pair and thread: a pair made by
 * keys_generate or keys_from_seed, or checked here before, is imported
 * without repeating the check.
 */
int keys_import_pair(const struct keys_ed25519 *key, ed25519_key *k);
/* Ed25519 (pure). 0, or CT_ERR_CRYPTO / CT_ERR_TOO_BIG (CT_ERR_INVALID
 * when the public half does not belong to the seed). */
int keys_sign(const struct keys_ed25519 *key, const uint8_t *msg, size_t len,
    uint8_t sig[KEYS_SIG_BYTES]);
/*
 * For a thread that signs often with one key (the agent's loop): with on,
 * keys_sign and keys_sign_domain on this thread keep the last key pair
 * they imported (a copy of the secret, in thread-local memory) and import
 * again only for another pair; off (and every call) zeroes and drops
 * what is kept. Off by default: then nothing outlives a signature.
 */
void keys_sign_keep(bool on);
/* 0 when sig is valid for msg under pub; CT_ERR_SIGNATURE otherwise. */
int keys_verify(const uint8_t pub[KEYS_PUB_BYTES], const uint8_t *msg,
    size_t len, const uint8_t sig[KEYS_SIG_BYTES]);
/*
 * Domain-separated signatures: the signed message is the NUL-terminated
 * domain string, its NUL included, followed by msg.
 */
int keys_sign_domain(const struct keys_ed25519 *key, const char *domain,
    const uint8_t *msg, size_t len, uint8_t sig[KEYS_SIG_BYTES]);
int keys_verify_domain(const uint8_t pub[KEYS_PUB_BYTES], const char *domain,
    const uint8_t *msg, size_t len, const uint8_t sig[KEYS_SIG_BYTES]);

/* "SHA256:<unpadded base64 of SHA-256(pub)>", as ssh prints them. */
int keys_fingerprint(const uint8_t pub[KEYS_PUB_BYTES],
    char out[KEYS_FINGERPRINT_BUF_BYTES]);

#endif
