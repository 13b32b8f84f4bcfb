/*
 * keys: Ed25519 key pairs, key files, public key lines, authorized_keys,
 * signatures and fingerprints.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/ed25519.h>
#include <wolfssl/wolfcrypt/error-crypt.h>
#include <wolfssl/wolfcrypt/random.h>
#include <wolfssl/wolfcrypt/hash.h>
#include <wolfssl/wolfcrypt/sha256.h>

#include "keys.h"
#include "util.h"

#define PEM_PRIV_LABEL "PRIVATE KEY"
#define PEM_LABEL_MAX_BYTES 64
#define RNG_CHUNK_BYTES 4096
/* PKCS#8 of an Ed25519 seed is 48 bytes; room for an attribute or two. */
#define PRIV_DER_MAX_BYTES 128
/* The base64 of the 32-byte key: 44 characters with one '='. */
#define PUB_B64_CHARS 44

/* wolfCrypt refuses a NULL message even when it is empty. */
static const uint8_t empty_msg[1];

_Static_assert(KEYS_PUBLINE_BUF_BYTES >=
        sizeof(KEYS_TYPE) + PUB_B64_CHARS + 1 + KEYS_COMMENT_MAX_BYTES + 1,
    "public line buffer too small");
_Static_assert(KEYS_FINGERPRINT_BUF_BYTES == 7 + 43 + 1,
    "fingerprint buffer size");

static void
set_reason(const char **reason, const char *text)
{
	if (reason != NULL)
		*reason = text;
}

/*
 * One DRBG per thread, seeded on first use and again in a forked child
 * (which must not repeat its parent's output): a new WC_RNG runs
 * wolfCrypt's health test, which costs more than a nonce's worth of
 * output, and a short-lived ctctl wants a few of them.
 */
struct kept_rng {
	WC_RNG rng;
	pid_t pid; /* 0: not initialised */
};

static _Thread_local struct kept_rng kept_rng;

int
keys_rng(WC_RNG **out)
{
	struct kept_rng *k = &kept_rng;
	pid_t pid = getpid();

	if (k->pid != pid) {
		if (k->pid != 0)
			wc_FreeRng(&k->rng);
		k->pid = 0;
		if (wc_InitRng(&k->rng) != 0)
			return CT_ERR_CRYPTO;
		k->pid = pid;
	}
	*out = &k->rng;
	return 0;
}

int
keys_random(void *p, size_t n)
{
	WC_RNG *rng;
	uint8_t *out = p;
	size_t chunk;

	if (keys_rng(&rng) != 0)
		return CT_ERR_CRYPTO;
	while (n > 0) {
		chunk = n < RNG_CHUNK_BYTES ? n : RNG_CHUNK_BYTES;
		if (wc_RNG_GenerateBlock(rng, out, (word32)chunk) != 0)
			return CT_ERR_CRYPTO;
		out += chunk;
		n -= chunk;
	}
	return 0;
}

/*
 * Pairs whose public half was seen to belong to the seed, in this thread:
 * a digest of each (never the secret itself), so that importing a pair
 * again (for the TLS key, for each signature) need not repeat the scalar
 * multiplication that checks it. A few slots, the oldest replaced.
 */
#define CHECKED_PAIRS 4
#define CHECKED_DOMAIN "ct keys checked pair"

struct checked_pairs {
	uint8_t digest[CHECKED_PAIRS][WC_SHA256_DIGEST_SIZE];
	unsigned n;    /* slots in use */
	unsigned next; /* the slot to replace next */
};

static _Thread_local struct checked_pairs checked_pairs;

static int
pair_digest(const struct keys_ed25519 *key, uint8_t out[WC_SHA256_DIGEST_SIZE])
{
	wc_Sha256 h;
	int rc = CT_ERR_CRYPTO;

	if (wc_InitSha256(&h) != 0)
		return CT_ERR_CRYPTO;
	if (wc_Sha256Update(&h, (const byte *)CHECKED_DOMAIN,
	        sizeof(CHECKED_DOMAIN)) == 0 &&
	    wc_Sha256Update(&h, key->priv, KEYS_PRIV_BYTES) == 0 &&
	    wc_Sha256Update(&h, key->pub, KEYS_PUB_BYTES) == 0 &&
	    wc_Sha256Final(&h, out) == 0)
		rc = 0;
	wc_Sha256Free(&h);
	return rc;
}

static bool
digest_known(const uint8_t d[WC_SHA256_DIGEST_SIZE])
{
	bool found = false;
	unsigned i;

	for (i = 0; i < checked_pairs.n; i++)
		found |= util_ct_equal(d, checked_pairs.digest[i],
		    WC_SHA256_DIGEST_SIZE);
	return found;
}

static void
digest_remember(const uint8_t d[WC_SHA256_DIGEST_SIZE])
{
	struct checked_pairs *cp = &checked_pairs;

	if (digest_known(d))
		return;
	memcpy(cp->digest[cp->next], d, WC_SHA256_DIGEST_SIZE);
	cp->next = (cp->next + 1) % CHECKED_PAIRS;
	if (cp->n < CHECKED_PAIRS)
		cp->n++;
}

static void
pair_remember(const struct keys_ed25519 *key)
{
	uint8_t d[WC_SHA256_DIGEST_SIZE];

	if (pair_digest(key, d) == 0)
		digest_remember(d);
}

/* Frees a key object and zeroes it; wolfCrypt also zeroes in free. */
static void
key_free(ed25519_key *k)
{
	wc_ed25519_free(k);
	util_zero(k, sizeof(*k));
}

int
keys_generate(struct keys_ed25519 *key)
{
	ed25519_key k;
	WC_RNG *rng;
	word32 privlen = KEYS_PRIV_BYTES, publen = KEYS_PUB_BYTES;
	int rc = CT_ERR_CRYPTO;

	if (keys_rng(&rng) != 0 || wc_ed25519_init(&k) != 0)
		return CT_ERR_CRYPTO;
	if (wc_ed25519_make_key(rng, ED25519_KEY_SIZE, &k) != 0)
		goto out;
	if (wc_ed25519_export_private_only(&k, key->priv, &privlen) != 0 ||
	    privlen != KEYS_PRIV_BYTES)
		goto out;
	if (wc_ed25519_export_public(&k, key->pub, &publen) != 0 ||
	    publen != KEYS_PUB_BYTES)
		goto out;
	pair_remember(key);
	rc = 0;
out:
	if (rc != 0)
		keys_clear(key);
	key_free(&k);
	return rc;
}

int
keys_from_seed(struct keys_ed25519 *key, const uint8_t seed[KEYS_PRIV_BYTES])
{
	ed25519_key k;
	int rc = CT_ERR_CRYPTO;

	if (wc_ed25519_init(&k) != 0)
		return CT_ERR_CRYPTO;
	if (wc_ed25519_import_private_only(seed, KEYS_PRIV_BYTES, &k) != 0)
		goto out;
	if (wc_ed25519_make_public(&k, key->pub, KEYS_PUB_BYTES) != 0)
		goto out;
	memmove(key->priv, seed, KEYS_PRIV_BYTES);
	pair_remember(key);
	rc = 0;
out:
	key_free(&k);
	return rc;
}

void
keys_clear(struct keys_ed25519 *key)
{
	util_zero(key, sizeof(*key));
}

int
keys_import_pair(const struct keys_ed25519 *key, ed25519_key *k)
{
	uint8_t d[WC_SHA256_DIGEST_SIZE];
	bool have = pair_digest(key, d) == 0;
	bool checked = have && digest_known(d);
	int rc;

	if (wc_ed25519_init(k) != 0)
		return CT_ERR_CRYPTO;
	/* trusted = 1 skips wolfCrypt's check (a scalar multiplication)
	 * for a pair this thread has checked already. */
	rc = wc_ed25519_import_private_key_ex(key->priv, KEYS_PRIV_BYTES,
	    key->pub, KEYS_PUB_BYTES, k, checked ? 1 : 0);
	if (rc != 0) {
		key_free(k);
		/* A public half that does not belong to the seed. */
		return rc == PUBLIC_KEY_E ? CT_ERR_INVALID : CT_ERR_CRYPTO;
	}
	if (have && !checked)
		digest_remember(d);
	return 0;
}

static int
write_all(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;
	ssize_t w;

	while (n > 0) {
		w = write(fd, b, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return CT_ERR_IO;
		}
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Creates path (never an existing one), writes text, fsyncs. */
static int
write_new_file(const char *path, mode_t mode, const void *text, size_t len)
{
	int fd, rc = 0, saved;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    mode);
	if (fd < 0)
		return CT_ERR_IO;
	/* The umask may have removed bits; it must not add any. */
	if (fchmod(fd, mode) != 0 || (rc = write_all(fd, text, len)) != 0 ||
	    fsync(fd) != 0)
		rc = CT_ERR_IO;
	saved = errno;
	if (close(fd) != 0 && rc == 0) {
		rc = CT_ERR_IO;
		saved = errno;
	}
	if (rc != 0) {
		unlink(path);
		errno = saved;
	}
	return rc;
}

int
keys_save_private(const char *path, const struct keys_ed25519 *key)
{
	static const char begin[] = "-----BEGIN " PEM_PRIV_LABEL "-----\n";
	static const char end[] = "\n-----END " PEM_PRIV_LABEL "-----\n";
	uint8_t der[PRIV_DER_MAX_BYTES];
	char pem[sizeof(begin) + PRIV_DER_MAX_BYTES / 3 * 4 + 4 + sizeof(end)];
	ed25519_key k;
	size_t off;
	int n, rc;

	if ((rc = keys_import_pair(key, &k)) != 0)
		return rc;
	n = wc_Ed25519PrivateKeyToDer(&k, der, sizeof(der));
	key_free(&k);
	/* 48 bytes of DER give 64 base64 characters: one PEM line. */
	if (n <= 0 || n > 48) {
		rc = CT_ERR_CRYPTO;
		goto out;
	}
	off = 0;
	memcpy(pem, begin, sizeof(begin) - 1);
	off += sizeof(begin) - 1;
	util_b64_encode(der, (size_t)n, pem + off);
	off += util_b64_encoded_len((size_t)n);
	memcpy(pem + off, end, sizeof(end) - 1);
	off += sizeof(end) - 1;
	rc = write_new_file(path, 0600, pem, off);
out:
	util_zero(der, sizeof(der));
	util_zero(pem, sizeof(pem));
	return rc;
}

/* Decodes one PKCS#8 Ed25519 private key; der is exactly the structure. */
static int
priv_from_der(const uint8_t *der, size_t len, struct keys_ed25519 *key,
    const char **reason)
{
	uint8_t seed[KEYS_PRIV_BYTES];
	word32 idx = 0, seedlen = sizeof(seed);
	ed25519_key k;
	int rc = CT_ERR_FORMAT;

	if (len > KEYS_PRIV_MAX_FILE_BYTES) {
		set_reason(reason, "private key structure too large");
		return CT_ERR_TOO_BIG;
	}
	if (wc_ed25519_init(&k) != 0)
		return CT_ERR_CRYPTO;
	if (wc_Ed25519PrivateKeyDecode(der, &idx, &k, (word32)len) != 0) {
		set_reason(reason, "not an Ed25519 PKCS#8 private key");
		goto out;
	}
	if (idx != len) {
		set_reason(reason, "bytes after the private key structure");
		rc = CT_ERR_TRAILING;
		goto out;
	}
	if (wc_ed25519_export_private_only(&k, seed, &seedlen) != 0 ||
	    seedlen != KEYS_PRIV_BYTES) {
		set_reason(reason, "private key has no 32-byte seed");
		goto out;
	}
	if ((rc = keys_from_seed(key, seed)) != 0)
		set_reason(reason, "cannot derive the public key");
out:
	util_zero(seed, sizeof(seed));
	key_free(&k);
	return rc;
}

int
keys_private_from_pem(const char *text, size_t len, struct keys_ed25519 *key,
    const char **reason)
{
	char label[PEM_LABEL_MAX_BYTES];
	uint8_t *der = NULL, *more = NULL;
	size_t off = 0, der_len = 0, more_len = 0;
	int rc;

	keys_clear(key);
	rc = util_pem_next(text, len, &off, label, sizeof(label), &der,
	    &der_len);
	if (rc == CT_ERR_NOT_FOUND) {
		set_reason(reason, "no PEM block");
		rc = CT_ERR_FORMAT;
		goto out;
	}
	if (rc != 0) {
		set_reason(reason, "malformed PEM block");
		goto out;
	}
	if (strcmp(label, "ENCRYPTED " PEM_PRIV_LABEL) == 0) {
		set_reason(reason, "encrypted private keys are not supported");
		rc = CT_ERR_UNSUPPORTED;
		goto out;
	}
	if (strcmp(label, PEM_PRIV_LABEL) != 0) {
		set_reason(reason, "PEM block is not a PKCS#8 PRIVATE KEY");
		rc = CT_ERR_UNSUPPORTED;
		goto out;
	}
	rc = util_pem_next(text, len, &off, label, sizeof(label), &more,
	    &more_len);
	if (rc != CT_ERR_NOT_FOUND) {
		set_reason(reason, "more than one PEM block");
		rc = CT_ERR_TRAILING;
		goto out;
	}
	rc = priv_from_der(der, der_len, key, reason);
out:
	if (der != NULL) {
		util_zero(der, der_len);
		free(der);
	}
	if (more != NULL) {
		util_zero(more, more_len);
		free(more);
	}
	if (rc != 0)
		keys_clear(key);
	return rc;
}

int
keys_load_private(const char *path, struct keys_ed25519 *key,
    const char **reason)
{
	char buf[KEYS_PRIV_MAX_FILE_BYTES + 1];
	struct stat st;
	size_t len = 0;
	ssize_t n;
	int fd, rc = 0, saved;

	keys_clear(key);
	/* O_NONBLOCK: a FIFO must not hang us before the S_ISREG check. */
	if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) < 0) {
		set_reason(reason, "cannot open the key file");
		return CT_ERR_IO;
	}
	if (fstat(fd, &st) != 0) {
		set_reason(reason, "cannot stat the key file");
		rc = CT_ERR_IO;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		set_reason(reason, "key file is not a regular file");
		rc = CT_ERR_INVALID;
		goto out;
	}
	while (len < sizeof(buf)) {
		n = read(fd, buf + len, sizeof(buf) - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			set_reason(reason, "cannot read the key file");
			rc = CT_ERR_IO;
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > KEYS_PRIV_MAX_FILE_BYTES) {
		set_reason(reason, "key file larger than 8 KiB");
		rc = CT_ERR_TOO_BIG;
		goto out;
	}
	rc = keys_private_from_pem(buf, len, key, reason);
out:
	saved = errno;
	close(fd);
	util_zero(buf, sizeof(buf));
	errno = saved;
	return rc;
}

/* A comment that survives a format/parse round trip unchanged. */
static bool
comment_ok(const char *c, size_t n)
{
	size_t i;

	if (n > KEYS_COMMENT_MAX_BYTES)
		return false;
	if (n > 0 && (c[0] == ' ' || c[n - 1] == ' '))
		return false;
	for (i = 0; i < n; i++)
		if ((unsigned char)c[i] < 0x20 || c[i] == 0x7f)
			return false;
	return true;
}

int
keys_format_public_line(const uint8_t pub[KEYS_PUB_BYTES], const char *comment,
    char *out, size_t outsz)
{
	char b64[PUB_B64_CHARS + 1];
	size_t clen =
	    comment == NULL ? 0 : strnlen(comment, KEYS_COMMENT_MAX_BYTES + 1);
	size_t tlen = sizeof(KEYS_TYPE) - 1, need, off;

	if (!comment_ok(comment, clen))
		return CT_ERR_INVALID;
	need = tlen + 1 + PUB_B64_CHARS + (clen > 0 ? 1 + clen : 0) + 1;
	if (outsz < need)
		return CT_ERR_TOO_BIG;
	util_b64_encode(pub, KEYS_PUB_BYTES, b64);
	memcpy(out, KEYS_TYPE, tlen);
	off = tlen;
	out[off++] = ' ';
	memcpy(out + off, b64, PUB_B64_CHARS);
	off += PUB_B64_CHARS;
	if (clen > 0) {
		out[off++] = ' ';
		memcpy(out + off, comment, clen);
		off += clen;
	}
	out[off] = '\0';
	return 0;
}

int
keys_save_public(const char *path, const uint8_t pub[KEYS_PUB_BYTES],
    const char *comment)
{
	char line[KEYS_PUBLINE_BUF_BYTES + 1];
	size_t n;
	int rc;

	if ((rc = keys_format_public_line(pub, comment, line,
	         sizeof(line) - 1)) != 0)
		return rc;
	n = strlen(line);
	line[n++] = '\n';
	return write_new_file(path, 0644, line, n);
}

static bool
is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Drops trailing blanks, CR and LF. */
static size_t
rtrim(const char *s, size_t n)
{
	while (n > 0 &&
	    (is_blank(s[n - 1]) || s[n - 1] == '\r' || s[n - 1] == '\n'))
		n--;
	return n;
}

int
keys_parse_public_line(const char *line, size_t len, struct keys_pubkey *out,
    const char **reason)
{
	uint8_t raw[PUB_B64_CHARS];
	size_t i = 0, tok, clen;
	int n;

	memset(out, 0, sizeof(*out));
	if (len > KEYS_LINE_MAX_BYTES) {
		set_reason(reason, "line longer than 4096 bytes");
		return CT_ERR_TOO_BIG;
	}
	len = rtrim(line, len);
	while (i < len && is_blank(line[i]))
		i++;
	for (tok = i; i < len && !is_blank(line[i]); i++)
		;
	if (i == tok) {
		set_reason(reason, "empty line, no key type");
		return CT_ERR_FORMAT;
	}
	if (i - tok != sizeof(KEYS_TYPE) - 1 ||
	    memcmp(line + tok, KEYS_TYPE, i - tok) != 0) {
		set_reason(reason, "unknown key type (expected ct-ed25519)");
		return CT_ERR_UNSUPPORTED;
	}
	while (i < len && is_blank(line[i]))
		i++;
	for (tok = i; i < len && !is_blank(line[i]); i++)
		;
	if (i == tok) {
		set_reason(reason, "no key after the key type");
		return CT_ERR_FORMAT;
	}
	if (i - tok != PUB_B64_CHARS) {
		set_reason(reason, "key is not 44 base64 characters");
		return CT_ERR_FORMAT;
	}
	n = util_b64_decode(line + tok, i - tok, raw, sizeof(raw), false);
	if (n < 0) {
		set_reason(reason, "key is not valid base64");
		return CT_ERR_FORMAT;
	}
	if (n != KEYS_PUB_BYTES) {
		set_reason(reason, "key is not 32 bytes");
		return CT_ERR_FORMAT;
	}
	while (i < len && is_blank(line[i]))
		i++;
	clen = len - i;
	if (clen > KEYS_COMMENT_MAX_BYTES) {
		set_reason(reason, "comment longer than 255 bytes");
		return CT_ERR_TOO_BIG;
	}
	if (!comment_ok(line + i, clen)) {
		set_reason(reason, "control character or tab in the comment");
		return CT_ERR_FORMAT;
	}
	memcpy(out->pub, raw, KEYS_PUB_BYTES);
	memcpy(out->comment, line + i, clen);
	out->comment[clen] = '\0';
	return 0;
}

void
keys_authorized_free(struct keys_authorized *a)
{
	free(a->keys);
	a->keys = NULL;
	a->n = 0;
}

/* Appends k to a, growing the array; a->n stays within the caps. */
static int
auth_add(struct keys_authorized *a, size_t *cap, const struct keys_pubkey *k)
{
	struct keys_pubkey *p;
	size_t ncap;

	if (a->n == *cap) {
		ncap = *cap ? *cap * 2 : 16;
		if (ncap > KEYS_AUTH_MAX_KEYS)
			ncap = KEYS_AUTH_MAX_KEYS;
		if ((p = realloc(a->keys, ncap * sizeof(*p))) == NULL)
			return CT_ERR_NOMEM;
		a->keys = p;
		*cap = ncap;
	}
	a->keys[a->n++] = *k;
	return 0;
}

/* Handles one line; 1 when it holds no key (blank or comment). */
static int
auth_line(struct keys_authorized *a, size_t *cap, const char *s, size_t n,
    size_t line_no, const char **reason)
{
	struct keys_pubkey k;
	size_t i = 0, j;
	int rc;

	if (n > KEYS_LINE_MAX_BYTES) {
		set_reason(reason, "line longer than 4096 bytes");
		return CT_ERR_TOO_BIG;
	}
	n = rtrim(s, n);
	while (i < n && is_blank(s[i]))
		i++;
	if (i == n || s[i] == '#')
		return 1;
	if (a->n >= KEYS_AUTH_MAX_KEYS) {
		set_reason(reason, "more than 4096 keys");
		return CT_ERR_TOO_BIG;
	}
	if ((rc = keys_parse_public_line(s + i, n - i, &k, reason)) != 0)
		return rc;
	for (j = 0; j < a->n; j++) {
		if (memcmp(a->keys[j].pub, k.pub, KEYS_PUB_BYTES) == 0) {
			set_reason(reason,
			    "key already listed on an earlier line");
			return CT_ERR_FORMAT;
		}
	}
	k.line = line_no;
	if ((rc = auth_add(a, cap, &k)) != 0)
		set_reason(reason, "out of memory");
	return rc;
}

int
keys_authorized_parse(const char *text, size_t len, struct keys_authorized *out,
    size_t *bad_line, const char **reason)
{
	const char *nl;
	size_t off = 0, line_no = 0, llen, cap = 0;
	int rc = 0;

	out->keys = NULL;
	out->n = 0;
	while (off < len) {
		if (++line_no > KEYS_AUTH_MAX_LINES) {
			set_reason(reason, "more than 65536 lines");
			rc = CT_ERR_TOO_BIG;
			goto out;
		}
		nl = memchr(text + off, '\n', len - off);
		llen = nl != NULL ? (size_t)(nl - (text + off)) : len - off;
		rc = auth_line(out, &cap, text + off, llen, line_no, reason);
		if (rc < 0)
			goto out;
		rc = 0;
		off += llen + (nl != NULL);
	}
out:
	if (bad_line != NULL)
		*bad_line = rc != 0 && rc != CT_ERR_NOMEM ? line_no : 0;
	if (rc != 0)
		keys_authorized_free(out);
	return rc;
}

int
keys_authorized_load(const char *path, struct keys_authorized *out,
    size_t *bad_line, const char **reason)
{
	uint8_t *text = NULL;
	size_t len = 0;
	int rc;

	out->keys = NULL;
	out->n = 0;
	if (bad_line != NULL)
		*bad_line = 0;
	rc = util_read_file(path, KEYS_AUTH_MAX_FILE_BYTES, &text, &len);
	if (rc == CT_ERR_TOO_BIG) {
		set_reason(reason, "file larger than 1 MiB");
		return rc;
	}
	if (rc != 0) {
		set_reason(reason, "cannot read the file");
		return rc;
	}
	rc = keys_authorized_parse((const char *)text, len, out, bad_line,
	    reason);
	free(text);
	return rc;
}

const struct keys_pubkey *
keys_authorized_find(const struct keys_authorized *a,
    const uint8_t pub[KEYS_PUB_BYTES])
{
	const struct keys_pubkey *found = NULL;
	size_t i;

	for (i = 0; i < a->n; i++)
		if (util_ct_equal(a->keys[i].pub, pub, KEYS_PUB_BYTES))
			found = &a->keys[i];
	return found;
}

/*
 * The imported key keys_sign keeps for its thread once keys_sign_keep
 * turned it on: importing checks the public half against the seed, a
 * scalar multiplication that would otherwise come with every signature.
 */
struct sign_kept {
	bool on;
	bool loaded;
	struct keys_ed25519 key; /* the pair k was imported from */
	ed25519_key k;
};

static _Thread_local struct sign_kept sign_kept;

static void
sign_kept_drop(struct sign_kept *sk)
{
	if (sk->loaded)
		key_free(&sk->k);
	keys_clear(&sk->key);
	sk->loaded = false;
}

void
keys_sign_keep(bool on)
{
	sign_kept_drop(&sign_kept);
	sign_kept.on = on;
}

/* The kept key object for key, imported when it is another pair. */
static int
sign_kept_get(const struct keys_ed25519 *key, ed25519_key **out)
{
	struct sign_kept *sk = &sign_kept;
	int rc;

	if (!sk->loaded ||
	    !util_ct_equal(sk->key.priv, key->priv, KEYS_PRIV_BYTES) ||
	    !util_ct_equal(sk->key.pub, key->pub, KEYS_PUB_BYTES)) {
		sign_kept_drop(sk);
		if ((rc = keys_import_pair(key, &sk->k)) != 0)
			return rc;
		sk->key = *key;
		sk->loaded = true;
	}
	*out = &sk->k;
	return 0;
}

int
keys_sign(const struct keys_ed25519 *key, const uint8_t *msg, size_t len,
    uint8_t sig[KEYS_SIG_BYTES])
{
	ed25519_key k, *kp = &k;
	word32 siglen = KEYS_SIG_BYTES;
	int rc;

	if (len > KEYS_MSG_MAX_BYTES)
		return CT_ERR_TOO_BIG;
	if (msg == NULL)
		msg = empty_msg;
	if (sign_kept.on)
		rc = sign_kept_get(key, &kp);
	else
		rc = keys_import_pair(key, &k);
	if (rc != 0)
		return rc;
	if (wc_ed25519_sign_msg(msg, (word32)len, sig, &siglen, kp) != 0 ||
	    siglen != KEYS_SIG_BYTES)
		rc = CT_ERR_CRYPTO;
	if (kp == &k)
		key_free(&k);
	return rc;
}

int
keys_verify(const uint8_t pub[KEYS_PUB_BYTES], const uint8_t *msg, size_t len,
    const uint8_t sig[KEYS_SIG_BYTES])
{
	ed25519_key k;
	int res = 0, rc = CT_ERR_SIGNATURE;

	if (len > UINT32_MAX)
		return CT_ERR_TOO_BIG;
	if (msg == NULL)
		msg = empty_msg;
	if (wc_ed25519_init(&k) != 0)
		return CT_ERR_CRYPTO;
	if (wc_ed25519_import_public(pub, KEYS_PUB_BYTES, &k) == 0 &&
	    wc_ed25519_verify_msg(sig, KEYS_SIG_BYTES, msg, (word32)len, &res,
	        &k) == 0 &&
	    res == 1)
		rc = 0;
	wc_ed25519_free(&k);
	return rc;
}

int
keys_sign_domain(const struct keys_ed25519 *key, const char *domain,
    const uint8_t *msg, size_t len, uint8_t sig[KEYS_SIG_BYTES])
{
	size_t dlen = strlen(domain) + 1;
	uint8_t *m;
	int rc;

	if (len > KEYS_MSG_MAX_BYTES || dlen > KEYS_MSG_MAX_BYTES - len)
		return CT_ERR_TOO_BIG;
	if ((m = malloc(dlen + len)) == NULL)
		return CT_ERR_NOMEM;
	memcpy(m, domain, dlen);
	if (len > 0)
		memcpy(m + dlen, msg, len);
	rc = keys_sign(key, m, dlen + len, sig);
	free(m);
	return rc;
}

/* Streaming verification: no copy of a message of up to 16 MiB. */
int
keys_verify_domain(const uint8_t pub[KEYS_PUB_BYTES], const char *domain,
    const uint8_t *msg, size_t len, const uint8_t sig[KEYS_SIG_BYTES])
{
	size_t dlen = strlen(domain) + 1;
	ed25519_key k;
	int res = 0, rc = CT_ERR_SIGNATURE;

	if (len > UINT32_MAX || dlen > UINT32_MAX)
		return CT_ERR_TOO_BIG;
	if (wc_ed25519_init(&k) != 0)
		return CT_ERR_CRYPTO;
	if (wc_ed25519_import_public(pub, KEYS_PUB_BYTES, &k) != 0)
		goto out;
	if (wc_ed25519_verify_msg_init(sig, KEYS_SIG_BYTES, &k, (byte)Ed25519,
	        NULL, 0) != 0)
		goto out;
	if (wc_ed25519_verify_msg_update((const byte *)domain, (word32)dlen,
	        &k) != 0)
		goto out;
	if (len > 0 && wc_ed25519_verify_msg_update(msg, (word32)len, &k) != 0)
		goto out;
	if (wc_ed25519_verify_msg_final(sig, KEYS_SIG_BYTES, &res, &k) == 0 &&
	    res == 1)
		rc = 0;
out:
	wc_ed25519_free(&k);
	return rc;
}

int
keys_fingerprint(const uint8_t pub[KEYS_PUB_BYTES],
    char out[KEYS_FINGERPRINT_BUF_BYTES])
{
	uint8_t h[WC_SHA256_DIGEST_SIZE];
	char b64[PUB_B64_CHARS + 1];

	if (wc_Sha256Hash(pub, KEYS_PUB_BYTES, h) != 0)
		return CT_ERR_CRYPTO;
	util_b64_encode(h, sizeof(h), b64);
	memcpy(out, "SHA256:", 7);
	memcpy(out + 7, b64, 43); /* drops the one '=' of 32 bytes */
	out[50] = '\0';
	return 0;
}
