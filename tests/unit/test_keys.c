/*
 * Unit tests for common/keys: key pairs, key files, public lines,
 * authorized_keys, signatures, fingerprints.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "keys.h"
#include "testutil.h"
#include "util.h"

/* RFC 8032 section 7.1, tests 1 and 2. */
static const char rfc_seed1[] =
    "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
static const char rfc_pub1[] =
    "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
static const char rfc_sig1[] =
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
    "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b";
static const char rfc_seed2[] =
    "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb";
static const char rfc_pub2[] =
    "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c";
static const char rfc_sig2[] =
    "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
    "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00";

/* The PKCS#8 PEM of test 1's seed, as OpenSSL writes it. */
static const char rfc_pem1[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n"
    "-----END PRIVATE KEY-----\n";
static const char rfc_b64pub1[] =
    "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
static const char rfc_fpr1[] =
    "SHA256:If4x36FUomFia/hUBG/SJxt77UtqvkWqWId+9H+XIbk";

/* A P-256 key in PKCS#8: a valid PRIVATE KEY, but not Ed25519. */
static const char ec_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgeG7Oue8wIWrIDLNW\n"
    "aroLKJOthMBOVDt4W5huSMrlKM6hRANCAARerYvN15nVd56Htuhx30MVRVi+Pf86\n"
    "MlzXSiJEUOiNOGegt2kmj5XFsg/9MQzd12gYnE6QObzaN1Ejn86M8iVc\n"
    "-----END PRIVATE KEY-----\n";

static void
unhex(const char *s, uint8_t *out, size_t n)
{
	ck_assert_int_eq(util_hex_decode(s, strlen(s), out, n), (int)n);
}

static void
rfc_key(struct keys_ed25519 *k, const char *seed_hex)
{
	uint8_t seed[KEYS_PRIV_BYTES];

	unhex(seed_hex, seed, sizeof(seed));
	ck_assert_int_eq(keys_from_seed(k, seed), 0);
}

/* A fresh directory under /tmp; removed by rmtree(). */
static char *
tmpdir(void)
{
	static char dir[64];

	snprintf(dir, sizeof(dir), "/tmp/test_keys.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	return dir;
}

static void
rmtree(const char *dir)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static void
path_in(char *out, size_t outsz, const char *dir, const char *name)
{
	ck_assert_int_lt(snprintf(out, outsz, "%s/%s", dir, name), (int)outsz);
}

static void
write_file(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");

	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(p, 1, n, f), n);
	ck_assert_int_eq(fclose(f), 0);
}

static bool
have_openssl(void)
{
	return system("command -v openssl >/dev/null 2>&1") == 0;
}

/* The raw public key OpenSSL derives from a private key file. */
static void
openssl_pub(const char *dir, const char *keyfile, uint8_t pub[32])
{
	char cmd[512], der[256];
	uint8_t *p;
	size_t n;

	path_in(der, sizeof(der), dir, "pub.der");
	snprintf(cmd, sizeof(cmd),
	    "openssl pkey -in '%s' -pubout -outform DER -out '%s'", keyfile,
	    der);
	ck_assert_int_eq(system(cmd), 0);
	p = testutil_read(der, &n);
	/* SPKI of Ed25519: 12 bytes of header, then the key. */
	ck_assert_uint_eq(n, 44);
	memcpy(pub, p + 12, 32);
	free(p);
	unlink(der);
}

START_TEST(test_rfc8032_vectors)
{
	struct keys_ed25519 k;
	uint8_t pub[32], sig[64], want[64];
	const uint8_t msg2 = 0x72;

	rfc_key(&k, rfc_seed1);
	unhex(rfc_pub1, pub, sizeof(pub));
	ck_assert_mem_eq(k.pub, pub, 32);
	ck_assert_int_eq(keys_sign(&k, NULL, 0, sig), 0);
	unhex(rfc_sig1, want, sizeof(want));
	ck_assert_mem_eq(sig, want, 64);
	ck_assert_int_eq(keys_verify(pub, NULL, 0, sig), 0);

	rfc_key(&k, rfc_seed2);
	unhex(rfc_pub2, pub, sizeof(pub));
	ck_assert_mem_eq(k.pub, pub, 32);
	ck_assert_int_eq(keys_sign(&k, &msg2, 1, sig), 0);
	unhex(rfc_sig2, want, sizeof(want));
	ck_assert_mem_eq(sig, want, 64);
	ck_assert_int_eq(keys_verify(pub, &msg2, 1, sig), 0);
	/* Test 1's signature is not valid for test 2's key and message. */
	unhex(rfc_sig1, want, sizeof(want));
	ck_assert_int_eq(keys_verify(pub, &msg2, 1, want), CT_ERR_SIGNATURE);
	keys_clear(&k);
}
END_TEST

START_TEST(test_generate)
{
	struct keys_ed25519 a, b, c;
	static const uint8_t zero[32];

	ck_assert_int_eq(keys_generate(&a), 0);
	ck_assert_int_eq(keys_generate(&b), 0);
	ck_assert_mem_ne(a.priv, b.priv, 32);
	ck_assert_mem_ne(a.pub, b.pub, 32);
	ck_assert_mem_ne(a.priv, zero, 32);
	/* The public half is the one the seed gives. */
	ck_assert_int_eq(keys_from_seed(&c, a.priv), 0);
	ck_assert_mem_eq(c.pub, a.pub, 32);
	keys_clear(&a);
	ck_assert_mem_eq(a.priv, zero, 32);
	keys_clear(&b);
	keys_clear(&c);
}
END_TEST

START_TEST(test_random)
{
	uint8_t a[5000], b[5000];
	static const uint8_t zero[64];

	ck_assert_int_eq(keys_random(a, sizeof(a)), 0);
	ck_assert_int_eq(keys_random(b, sizeof(b)), 0);
	ck_assert_mem_ne(a, b, 64);
	ck_assert_mem_ne(a + sizeof(a) - 64, zero, 64);
	ck_assert_int_eq(keys_random(a, 0), 0);
}
END_TEST

/* keys_rng: one DRBG per thread, and a forked child draws other bytes. */
START_TEST(test_rng_fork)
{
	WC_RNG *r1, *r2;
	uint8_t parent[32], child[32];
	int fds[2], st;
	pid_t pid;

	ck_assert_int_eq(keys_rng(&r1), 0);
	ck_assert_int_eq(keys_rng(&r2), 0);
	ck_assert_ptr_eq(r1, r2);
	ck_assert_int_eq(pipe(fds), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(fds[0]);
		if (keys_random(child, sizeof(child)) != 0 ||
		    write(fds[1], child, sizeof(child)) != sizeof(child))
			_exit(1);
		_exit(0);
	}
	close(fds[1]);
	ck_assert_int_eq(keys_random(parent, sizeof(parent)), 0);
	ck_assert_int_eq(read(fds[0], child, sizeof(child)), sizeof(child));
	close(fds[0]);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	/* Without the reseed both would be the DRBG's next 32 bytes. */
	ck_assert_mem_ne(parent, child, sizeof(child));
}
END_TEST

/*
 * keys_import_pair checks a pair once: a pair it (or keys_generate)
 * checked imports again without the check, and any other pairing of
 * the same halves is still refused, however many good pairs came first.
 */
START_TEST(test_import_pair)
{
	struct keys_ed25519 k[6], bad;
	ed25519_key wk;
	uint8_t msg[8] = "message", sig[64], want[64];
	int i, round;

	for (i = 0; i < 6; i++)
		ck_assert_int_eq(keys_generate(&k[i]), 0);
	ck_assert_int_eq(keys_sign(&k[0], msg, sizeof(msg), want), 0);
	for (round = 0; round < 3; round++)
		for (i = 0; i < 6; i++) {
			ck_assert_int_eq(keys_import_pair(&k[i], &wk), 0);
			wc_ed25519_free(&wk);
			bad = k[i];
			memcpy(bad.pub, k[(i + 1) % 6].pub, KEYS_PUB_BYTES);
			ck_assert_int_eq(keys_import_pair(&bad, &wk),
			    CT_ERR_INVALID);
			bad = k[i];
			bad.priv[31] ^= 0x40;
			ck_assert_int_eq(keys_import_pair(&bad, &wk),
			    CT_ERR_INVALID);
		}
	/* A pair checked long ago (its slot reused) still imports, checked
	 * again, and signs as before. */
	ck_assert_int_eq(keys_sign(&k[0], msg, sizeof(msg), sig), 0);
	ck_assert_mem_eq(sig, want, sizeof(sig));
	/* A pair known only from its halves (as read from a file). */
	memset(&bad, 0, sizeof(bad));
	memcpy(bad.priv, k[3].priv, KEYS_PRIV_BYTES);
	memcpy(bad.pub, k[3].pub, KEYS_PUB_BYTES);
	ck_assert_int_eq(keys_import_pair(&bad, &wk), 0);
	wc_ed25519_free(&wk);
	for (i = 0; i < 6; i++)
		keys_clear(&k[i]);
	keys_clear(&bad);
}
END_TEST

START_TEST(test_sign_verify)
{
	struct keys_ed25519 k, other;
	uint8_t msg[100], sig[64], bad[64];
	size_t i;

	for (i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)i;
	ck_assert_int_eq(keys_generate(&k), 0);
	ck_assert_int_eq(keys_generate(&other), 0);
	ck_assert_int_eq(keys_sign(&k, msg, sizeof(msg), sig), 0);
	ck_assert_int_eq(keys_verify(k.pub, msg, sizeof(msg), sig), 0);
	ck_assert_int_eq(keys_verify(other.pub, msg, sizeof(msg), sig),
	    CT_ERR_SIGNATURE);
	ck_assert_int_eq(keys_verify(k.pub, msg, sizeof(msg) - 1, sig),
	    CT_ERR_SIGNATURE);
	for (i = 0; i < 64; i++) {
		memcpy(bad, sig, 64);
		bad[i] ^= 0x01;
		ck_assert_int_eq(keys_verify(k.pub, msg, sizeof(msg), bad),
		    CT_ERR_SIGNATURE);
	}
	for (i = 0; i < sizeof(msg); i++) {
		msg[i] ^= 0x80;
		ck_assert_int_eq(keys_verify(k.pub, msg, sizeof(msg), sig),
		    CT_ERR_SIGNATURE);
		msg[i] ^= 0x80;
	}
	/* A pair whose halves do not belong together is refused. */
	memcpy(other.priv, k.priv, 32);
	ck_assert_int_eq(keys_sign(&other, msg, sizeof(msg), sig),
	    CT_ERR_INVALID);
	keys_clear(&k);
	keys_clear(&other);
}
END_TEST

/*
 * keys_sign_keep: the same signatures as without it, whichever pair signs
 * (a key kept for one pair never signs for another), a mismatched pair
 * refused, and nothing kept once it is off.
 */
START_TEST(test_sign_keep)
{
	struct keys_ed25519 a, b, bad;
	uint8_t msg[64], plain_a[64], plain_b[64], sig[64];
	int round;

	memset(msg, 'm', sizeof(msg));
	ck_assert_int_eq(keys_generate(&a), 0);
	ck_assert_int_eq(keys_generate(&b), 0);
	ck_assert_int_eq(keys_sign(&a, msg, sizeof(msg), plain_a), 0);
	ck_assert_int_eq(keys_sign(&b, msg, sizeof(msg), plain_b), 0);
	keys_sign_keep(true);
	for (round = 0; round < 3; round++) {
		ck_assert_int_eq(keys_sign(&a, msg, sizeof(msg), sig), 0);
		ck_assert_mem_eq(sig, plain_a, 64);
		ck_assert_int_eq(keys_sign(&a, msg, sizeof(msg), sig), 0);
		ck_assert_mem_eq(sig, plain_a, 64);
		ck_assert_int_eq(keys_sign_domain(&b, "d", msg, 3, sig), 0);
		ck_assert_int_eq(keys_verify_domain(b.pub, "d", msg, 3, sig),
		    0);
		ck_assert_int_eq(keys_sign(&b, msg, sizeof(msg), sig), 0);
		ck_assert_mem_eq(sig, plain_b, 64);
	}
	/* b's public half with a's seed: refused, and a still signs. */
	bad = b;
	memcpy(bad.priv, a.priv, KEYS_PRIV_BYTES);
	ck_assert_int_eq(keys_sign(&bad, msg, sizeof(msg), sig),
	    CT_ERR_INVALID);
	ck_assert_int_eq(keys_sign(&a, msg, sizeof(msg), sig), 0);
	ck_assert_mem_eq(sig, plain_a, 64);
	/* The same seed with a changed public half after a's was kept. */
	bad = a;
	bad.pub[0] ^= 1;
	ck_assert_int_eq(keys_sign(&bad, msg, sizeof(msg), sig),
	    CT_ERR_INVALID);
	keys_sign_keep(false);
	ck_assert_int_eq(keys_sign(&b, msg, sizeof(msg), sig), 0);
	ck_assert_mem_eq(sig, plain_b, 64);
	keys_clear(&a);
	keys_clear(&b);
	keys_clear(&bad);
}
END_TEST

START_TEST(test_sign_domain)
{
	struct keys_ed25519 k;
	uint8_t sig[64], cat[64];
	static const uint8_t msg[] = "payload";
	static const uint8_t joined[] = "dom\0payload";

	ck_assert_int_eq(keys_generate(&k), 0);
	ck_assert_int_eq(keys_sign_domain(&k, "dom", msg, 7, sig), 0);
	ck_assert_int_eq(keys_verify_domain(k.pub, "dom", msg, 7, sig), 0);
	/* The same as a plain signature over domain NUL message. */
	ck_assert_int_eq(keys_verify(k.pub, joined, 11, sig), 0);
	ck_assert_int_eq(keys_sign(&k, joined, 11, cat), 0);
	ck_assert_mem_eq(sig, cat, 64);
	ck_assert_int_eq(keys_verify_domain(k.pub, "don", msg, 7, sig),
	    CT_ERR_SIGNATURE);
	ck_assert_int_eq(keys_verify_domain(k.pub, "do", msg, 7, sig),
	    CT_ERR_SIGNATURE);
	ck_assert_int_eq(keys_verify_domain(k.pub, "dom", msg, 6, sig),
	    CT_ERR_SIGNATURE);
	/* Empty message. */
	ck_assert_int_eq(keys_sign_domain(&k, "x", NULL, 0, sig), 0);
	ck_assert_int_eq(keys_verify_domain(k.pub, "x", NULL, 0, sig), 0);
	ck_assert_int_eq(keys_verify(k.pub, (const uint8_t *)"x", 2, sig), 0);
	sig[63] ^= 0x10;
	ck_assert_int_eq(keys_verify_domain(k.pub, "x", NULL, 0, sig),
	    CT_ERR_SIGNATURE);
	keys_clear(&k);
}
END_TEST

START_TEST(test_fingerprint)
{
	uint8_t pub[32];
	char fp[KEYS_FINGERPRINT_BUF_BYTES];

	unhex(rfc_pub1, pub, sizeof(pub));
	ck_assert_int_eq(keys_fingerprint(pub, fp), 0);
	ck_assert_str_eq(fp, rfc_fpr1);
	ck_assert_uint_eq(strlen(fp), KEYS_FINGERPRINT_BUF_BYTES - 1);
}
END_TEST

START_TEST(test_save_load_roundtrip)
{
	struct keys_ed25519 k, l;
	char *dir = tmpdir(), path[256];
	const char *why = NULL;
	uint8_t sig[64], *text;
	struct stat st;
	size_t n;

	path_in(path, sizeof(path), dir, "key");
	rfc_key(&k, rfc_seed1);
	ck_assert_int_eq(keys_save_private(path, &k), 0);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0600);
	/* Byte for byte what OpenSSL writes for this seed. */
	text = testutil_read(path, &n);
	ck_assert_uint_eq(n, strlen(rfc_pem1));
	ck_assert_mem_eq(text, rfc_pem1, n);
	free(text);

	ck_assert_int_eq(keys_load_private(path, &l, &why), 0);
	ck_assert_mem_eq(l.priv, k.priv, 32);
	ck_assert_mem_eq(l.pub, k.pub, 32);
	ck_assert_int_eq(keys_sign(&l, (const uint8_t *)"m", 1, sig), 0);
	ck_assert_int_eq(keys_verify(k.pub, (const uint8_t *)"m", 1, sig), 0);
	keys_clear(&k);
	keys_clear(&l);
	rmtree(dir);
}
END_TEST

START_TEST(test_save_mode_despite_umask)
{
	struct keys_ed25519 k;
	char *dir = tmpdir(), path[256];
	struct stat st;
	mode_t old;

	/* A umask can take bits away from 0600; the file still gets 0600. */
	path_in(path, sizeof(path), dir, "key");
	ck_assert_int_eq(keys_generate(&k), 0);
	old = umask(0377);
	ck_assert_int_eq(keys_save_private(path, &k), 0);
	umask(old);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0600);
	keys_clear(&k);
	rmtree(dir);
}
END_TEST

START_TEST(test_save_generated_load_sign)
{
	struct keys_ed25519 k, l;
	char *dir = tmpdir(), path[256];
	uint8_t sig[64];

	path_in(path, sizeof(path), dir, "gen.key");
	ck_assert_int_eq(keys_generate(&k), 0);
	ck_assert_int_eq(keys_save_private(path, &k), 0);
	ck_assert_int_eq(keys_load_private(path, &l, NULL), 0);
	ck_assert_int_eq(keys_sign(&l, (const uint8_t *)"abc", 3, sig), 0);
	ck_assert_int_eq(keys_verify(k.pub, (const uint8_t *)"abc", 3, sig), 0);
	keys_clear(&k);
	keys_clear(&l);
	rmtree(dir);
}
END_TEST

START_TEST(test_save_refuses_overwrite)
{
	struct keys_ed25519 a, b, l;
	char *dir = tmpdir(), path[256], link[256], target[256];
	struct stat st;

	path_in(path, sizeof(path), dir, "key");
	ck_assert_int_eq(keys_generate(&a), 0);
	ck_assert_int_eq(keys_generate(&b), 0);
	ck_assert_int_eq(keys_save_private(path, &a), 0);
	errno = 0;
	ck_assert_int_eq(keys_save_private(path, &b), CT_ERR_IO);
	ck_assert_int_eq(errno, EEXIST);
	/* The first key is still there, untouched. */
	ck_assert_int_eq(keys_load_private(path, &l, NULL), 0);
	ck_assert_mem_eq(l.priv, a.priv, 32);

	/* Nor through a dangling symlink. */
	path_in(link, sizeof(link), dir, "link");
	path_in(target, sizeof(target), dir, "target");
	ck_assert_int_eq(symlink(target, link), 0);
	ck_assert_int_eq(keys_save_private(link, &b), CT_ERR_IO);
	ck_assert_int_ne(stat(target, &st), 0);

	/* The public file too. */
	path_in(path, sizeof(path), dir, "key.pub");
	ck_assert_int_eq(keys_save_public(path, a.pub, "c"), 0);
	ck_assert_int_eq(keys_save_public(path, b.pub, "c"), CT_ERR_IO);
	keys_clear(&a);
	keys_clear(&b);
	keys_clear(&l);
	rmtree(dir);
}
END_TEST

START_TEST(test_openssl_interop)
{
	struct keys_ed25519 k, l;
	char *dir, path[256], cmd[512];
	uint8_t pub[32];

	if (!have_openssl()) {
		/* Announce the skip instead of passing silently. */
		fprintf(stderr,
		    "test_openssl_interop: openssl not found, "
		    "skipped\n");
		return;
	}
	dir = tmpdir();
	/* OpenSSL 3 reads what we write, and derives the same public key. */
	path_in(path, sizeof(path), dir, "ours.key");
	ck_assert_int_eq(keys_generate(&k), 0);
	ck_assert_int_eq(keys_save_private(path, &k), 0);
	snprintf(cmd, sizeof(cmd), "openssl pkey -in '%s' -noout", path);
	ck_assert_int_eq(system(cmd), 0);
	openssl_pub(dir, path, pub);
	ck_assert_mem_eq(pub, k.pub, 32);

	/* We read what OpenSSL writes. */
	path_in(path, sizeof(path), dir, "theirs.key");
	snprintf(cmd, sizeof(cmd),
	    "openssl genpkey -algorithm ed25519 -out '%s'", path);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_int_eq(keys_load_private(path, &l, NULL), 0);
	openssl_pub(dir, path, pub);
	ck_assert_mem_eq(pub, l.pub, 32);
	keys_clear(&k);
	keys_clear(&l);
	rmtree(dir);
}
END_TEST

START_TEST(test_load_rejects)
{
	struct keys_ed25519 k;
	char *dir = tmpdir(), path[256];
	const char *why;
	char *big;
	static const char trailing_der[] =
	    "-----BEGIN PRIVATE KEY-----\n"
	    "MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9gAA==\n"
	    "-----END PRIVATE KEY-----\n";
	static const char encrypted[] =
	    "-----BEGIN ENCRYPTED PRIVATE KEY-----\n"
	    "MIGbMFcGCSqGSIb3DQEFDTBKMCkGCSqGSIb3DQEFDDAcBAhSs20LVnSDfwICCAAw\n"
	    "-----END ENCRYPTED PRIVATE KEY-----\n";
	static const char cert[] = "-----BEGIN CERTIFICATE-----\n"
	                           "MAA=\n"
	                           "-----END CERTIFICATE-----\n";
	static const char badb64[] = "-----BEGIN PRIVATE KEY-----\n"
	                             "MC4C*QAw\n"
	                             "-----END PRIVATE KEY-----\n";

	path_in(path, sizeof(path), dir, "missing");
	why = NULL;
	ck_assert_int_eq(keys_load_private(path, &k, &why), CT_ERR_IO);
	ck_assert_ptr_nonnull(why);

	/* Over the size cap, even if it begins with a valid key. */
	path_in(path, sizeof(path), dir, "big");
	big = malloc(KEYS_PRIV_MAX_FILE_BYTES + 100);
	ck_assert_ptr_nonnull(big);
	memset(big, '\n', KEYS_PRIV_MAX_FILE_BYTES + 100);
	memcpy(big, rfc_pem1, strlen(rfc_pem1));
	write_file(path, big, KEYS_PRIV_MAX_FILE_BYTES + 1);
	ck_assert_int_eq(keys_load_private(path, &k, &why), CT_ERR_TOO_BIG);
	unlink(path);
	/* Exactly at the cap is fine. */
	write_file(path, big, KEYS_PRIV_MAX_FILE_BYTES);
	ck_assert_int_eq(keys_load_private(path, &k, &why), 0);
	free(big);

	/* A directory is not a key file; nor is a FIFO (and it must not hang). */
	ck_assert_int_eq(keys_load_private(dir, &k, &why), CT_ERR_INVALID);
	path_in(path, sizeof(path), dir, "fifo");
	ck_assert_int_eq(mkfifo(path, 0600), 0);
	ck_assert_int_eq(keys_load_private(path, &k, &why), CT_ERR_INVALID);
	ck_assert_str_eq(why, "key file is not a regular file");

	why = NULL;
	ck_assert_int_eq(keys_private_from_pem("hello", 5, &k, &why),
	    CT_ERR_FORMAT);
	ck_assert_str_eq(why, "no PEM block");
	ck_assert_int_eq(keys_private_from_pem(encrypted, strlen(encrypted), &k,
	                     &why),
	    CT_ERR_UNSUPPORTED);
	ck_assert_ptr_nonnull(strstr(why, "encrypted"));
	ck_assert_int_eq(keys_private_from_pem(cert, strlen(cert), &k, &why),
	    CT_ERR_UNSUPPORTED);
	ck_assert_int_eq(keys_private_from_pem(ec_pem, strlen(ec_pem), &k,
	                     &why),
	    CT_ERR_FORMAT);
	ck_assert_str_eq(why, "not an Ed25519 PKCS#8 private key");
	ck_assert_int_lt(keys_private_from_pem(badb64, strlen(badb64), &k,
	                     &why),
	    0);
	ck_assert_int_eq(keys_private_from_pem(trailing_der,
	                     strlen(trailing_der), &k, &why),
	    CT_ERR_TRAILING);
	/* Two keys in one file: which one? Neither. */
	big = malloc(2 * strlen(rfc_pem1) + 1);
	ck_assert_ptr_nonnull(big);
	memcpy(big, rfc_pem1, strlen(rfc_pem1));
	memcpy(big + strlen(rfc_pem1), rfc_pem1, strlen(rfc_pem1) + 1);
	ck_assert_int_eq(keys_private_from_pem(big, strlen(big), &k, &why),
	    CT_ERR_TRAILING);
	free(big);
	/* A failed load leaves no key material behind. */
	{
		static const uint8_t zero[sizeof(k)];
		ck_assert_mem_eq(&k, zero, sizeof(k));
	}
	rmtree(dir);
}
END_TEST

START_TEST(test_public_line_roundtrip)
{
	struct keys_pubkey pk;
	uint8_t pub[32];
	char line[KEYS_PUBLINE_BUF_BYTES], want[200];
	char longc[KEYS_COMMENT_MAX_BYTES + 1];
	const char *why = NULL;

	unhex(rfc_pub1, pub, sizeof(pub));
	ck_assert_int_eq(keys_format_public_line(pub, "poller@icinga1", line,
	                     sizeof(line)),
	    0);
	snprintf(want, sizeof(want), "ct-ed25519 %s poller@icinga1",
	    rfc_b64pub1);
	ck_assert_str_eq(line, want);
	ck_assert_int_eq(keys_parse_public_line(line, strlen(line), &pk, &why),
	    0);
	ck_assert_mem_eq(pk.pub, pub, 32);
	ck_assert_str_eq(pk.comment, "poller@icinga1");

	/* No comment. */
	ck_assert_int_eq(keys_format_public_line(pub, NULL, line, sizeof(line)),
	    0);
	snprintf(want, sizeof(want), "ct-ed25519 %s", rfc_b64pub1);
	ck_assert_str_eq(line, want);
	ck_assert_int_eq(keys_parse_public_line(line, strlen(line), &pk, &why),
	    0);
	ck_assert_str_eq(pk.comment, "");

	/* Tabs, runs of blanks, CRLF, a comment with spaces. */
	snprintf(want, sizeof(want), "  ct-ed25519\t %s \t web 1 key  \r\n",
	    rfc_b64pub1);
	ck_assert_int_eq(keys_parse_public_line(want, strlen(want), &pk, &why),
	    0);
	ck_assert_mem_eq(pk.pub, pub, 32);
	ck_assert_str_eq(pk.comment, "web 1 key");

	/* The longest comment fits; the formatted line fits its buffer. */
	memset(longc, 'c', KEYS_COMMENT_MAX_BYTES);
	longc[KEYS_COMMENT_MAX_BYTES] = '\0';
	ck_assert_int_eq(keys_format_public_line(pub, longc, line,
	                     sizeof(line)),
	    0);
	ck_assert_int_eq(keys_parse_public_line(line, strlen(line), &pk, &why),
	    0);
	ck_assert_str_eq(pk.comment, longc);
	ck_assert_int_eq(keys_format_public_line(pub, longc, line,
	                     strlen(line)),
	    CT_ERR_TOO_BIG);
}
END_TEST

START_TEST(test_public_line_errors)
{
	struct keys_pubkey pk;
	uint8_t pub[32];
	char line[600];
	const char *why;

#define PARSE_FAILS(text, err, needle)                                         \
	do {                                                                   \
		why = NULL;                                                    \
		ck_assert_int_eq(keys_parse_public_line(text, strlen(text),    \
		                     &pk, &why),                               \
		    err);                                                      \
		ck_assert_ptr_nonnull(why);                                    \
		ck_assert_msg(strstr(why, needle) != NULL, "reason '%s'",      \
		    why);                                                      \
	} while (0)

	PARSE_FAILS("", CT_ERR_FORMAT, "empty");
	PARSE_FAILS(
	    "ssh-ed25519 11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo= c",
	    CT_ERR_UNSUPPORTED, "key type");
	PARSE_FAILS("ct-ed25519x 11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
	    CT_ERR_UNSUPPORTED, "key type");
	PARSE_FAILS("CT-ED25519 11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
	    CT_ERR_UNSUPPORTED, "key type");
	PARSE_FAILS("ct-ed25519", CT_ERR_FORMAT, "no key");
	PARSE_FAILS("ct-ed25519   \t", CT_ERR_FORMAT, "no key");
	/* A character outside base64. */
	PARSE_FAILS("ct-ed25519 11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHUR*=",
	    CT_ERR_FORMAT, "base64");
	/* Non-canonical: the last character carries stray bits. */
	PARSE_FAILS("ct-ed25519 11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURp=",
	    CT_ERR_FORMAT, "base64");
	/* 44 characters, but 31 bytes ("==") or 33 (no padding). */
	PARSE_FAILS("ct-ed25519 11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHUQ==",
	    CT_ERR_FORMAT, "32 bytes");
	PARSE_FAILS("ct-ed25519 11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURoA",
	    CT_ERR_FORMAT, "32 bytes");
	PARSE_FAILS("ct-ed25519 11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo",
	    CT_ERR_FORMAT, "44 base64");
	PARSE_FAILS("ct-ed25519 11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=x",
	    CT_ERR_FORMAT, "44 base64");
	PARSE_FAILS(
	    "ct-ed25519 11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo= a\x01"
	    "b",
	    CT_ERR_FORMAT, "control");
	PARSE_FAILS(
	    "ct-ed25519 11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo= a\tb",
	    CT_ERR_FORMAT, "tab");
	memset(line, 0, sizeof(line));
	snprintf(line, sizeof(line), "ct-ed25519 %s ", rfc_b64pub1);
	memset(line + strlen(line), 'c', KEYS_COMMENT_MAX_BYTES + 1);
	PARSE_FAILS(line, CT_ERR_TOO_BIG, "255");
#undef PARSE_FAILS

	/* Formatting refuses comments that would not read back the same. */
	unhex(rfc_pub1, pub, sizeof(pub));
	ck_assert_int_eq(keys_format_public_line(pub, "a\nb", line,
	                     sizeof(line)),
	    CT_ERR_INVALID);
	ck_assert_int_eq(keys_format_public_line(pub, " lead", line,
	                     sizeof(line)),
	    CT_ERR_INVALID);
	ck_assert_int_eq(keys_format_public_line(pub, "tail ", line,
	                     sizeof(line)),
	    CT_ERR_INVALID);
	ck_assert_int_eq(keys_format_public_line(pub, "a\tb", line,
	                     sizeof(line)),
	    CT_ERR_INVALID);
	memset(line, 'c', 300);
	line[300] = '\0';
	{
		char out[600];
		ck_assert_int_eq(keys_format_public_line(pub, line, out,
		                     sizeof(out)),
		    CT_ERR_INVALID);
	}
}
END_TEST

/* Four keys made from fixed seeds; lines[i] is key i's public line. */
static void
four_lines(char lines[4][KEYS_PUBLINE_BUF_BYTES], uint8_t pubs[4][32])
{
	struct keys_ed25519 k;
	uint8_t seed[32];
	char comment[16];
	int i;

	for (i = 0; i < 4; i++) {
		memset(seed, 0x40 + i, sizeof(seed));
		ck_assert_int_eq(keys_from_seed(&k, seed), 0);
		memcpy(pubs[i], k.pub, 32);
		snprintf(comment, sizeof(comment), "key%d", i);
		ck_assert_int_eq(keys_format_public_line(k.pub, comment,
		                     lines[i], KEYS_PUBLINE_BUF_BYTES),
		    0);
	}
	keys_clear(&k);
}

START_TEST(test_authorized_parse)
{
	char lines[4][KEYS_PUBLINE_BUF_BYTES], text[4096];
	uint8_t pubs[4][32], unknown[32];
	struct keys_authorized a;
	const struct keys_pubkey *e;
	const char *why = NULL;
	size_t bad = 99;

	four_lines(lines, pubs);
	snprintf(text, sizeof(text),
	    "# pollers allowed to ask this agent\n"
	    "\n"
	    "%s\n"
	    "   \t\n"
	    "  # indented comment: ct-ed25519 garbage\n"
	    "\t%s\r\n"
	    "%s   \n"
	    "\n"
	    "%s",
	    lines[0], lines[1], lines[2], lines[3]);
	ck_assert_int_eq(keys_authorized_parse(text, strlen(text), &a, &bad,
	                     &why),
	    0);
	ck_assert_uint_eq(bad, 0);
	ck_assert_uint_eq(a.n, 4);
	ck_assert_mem_eq(a.keys[0].pub, pubs[0], 32);
	ck_assert_uint_eq(a.keys[0].line, 3);
	ck_assert_str_eq(a.keys[0].comment, "key0");
	ck_assert_uint_eq(a.keys[1].line, 6);
	ck_assert_str_eq(a.keys[1].comment, "key1");
	ck_assert_uint_eq(a.keys[2].line, 7);
	ck_assert_str_eq(a.keys[2].comment, "key2");
	ck_assert_uint_eq(a.keys[3].line, 9);
	ck_assert_mem_eq(a.keys[3].pub, pubs[3], 32);

	e = keys_authorized_find(&a, pubs[2]);
	ck_assert_ptr_eq(e, &a.keys[2]);
	memcpy(unknown, pubs[2], 32);
	unknown[31] ^= 1;
	ck_assert_ptr_null(keys_authorized_find(&a, unknown));
	keys_authorized_free(&a);
	ck_assert_ptr_null(a.keys);
	ck_assert_uint_eq(a.n, 0);

	/* Nothing but comments: no keys, no error. */
	ck_assert_int_eq(keys_authorized_parse("# none\n\n", 8, &a, &bad, &why),
	    0);
	ck_assert_uint_eq(a.n, 0);
	keys_authorized_free(&a);
	ck_assert_int_eq(keys_authorized_parse("", 0, &a, &bad, &why), 0);
	ck_assert_uint_eq(a.n, 0);
}
END_TEST

/* Parses text; expects err at line want_line. */
static void
auth_fails(const char *text, int err, size_t want_line, const char *needle)
{
	struct keys_authorized a;
	const char *why = NULL;
	size_t bad = 0;

	ck_assert_int_eq(keys_authorized_parse(text, strlen(text), &a, &bad,
	                     &why),
	    err);
	ck_assert_uint_eq(bad, want_line);
	ck_assert_ptr_nonnull(why);
	ck_assert_msg(strstr(why, needle) != NULL, "reason '%s'", why);
	ck_assert_ptr_null(a.keys);
	ck_assert_uint_eq(a.n, 0);
}

START_TEST(test_authorized_errors)
{
	char lines[4][KEYS_PUBLINE_BUF_BYTES], text[8192];
	uint8_t pubs[4][32];

	four_lines(lines, pubs);
	snprintf(text, sizeof(text), "# c\n%s\n\n%s\nct-ed25519 AAAA!\n%s\n",
	    lines[0], lines[1], lines[2]);
	auth_fails(text, CT_ERR_FORMAT, 5, "base64");

	snprintf(text, sizeof(text), "%s\n\nssh-rsa AAAAB3Nza c\n%s\n",
	    lines[0], lines[1]);
	auth_fails(text, CT_ERR_UNSUPPORTED, 3, "key type");

	snprintf(text, sizeof(text), "%s\n#\n%s\n%s\n", lines[0], lines[1],
	    lines[0]);
	auth_fails(text, CT_ERR_FORMAT, 4, "already listed");

	/* Same key, other comment: still a duplicate. */
	snprintf(text, sizeof(text), "%s\nct-ed25519 %.44s other\n", lines[3],
	    lines[3] + 11);
	auth_fails(text, CT_ERR_FORMAT, 2, "already listed");

	/* An over-long line, even a comment. */
	memset(text, 0, sizeof(text));
	snprintf(text, sizeof(text), "%s\n#", lines[0]);
	memset(text + strlen(text), 'x', KEYS_LINE_MAX_BYTES);
	auth_fails(text, CT_ERR_TOO_BIG, 2, "4096");

	/* The last line without a newline is read too. */
	snprintf(text, sizeof(text), "%s\nct-ed25519", lines[0]);
	auth_fails(text, CT_ERR_FORMAT, 2, "no key");
}
END_TEST

START_TEST(test_authorized_caps)
{
	struct keys_authorized a;
	struct keys_ed25519 k;
	struct util_buf b;
	char line[KEYS_PUBLINE_BUF_BYTES];
	uint8_t seed[32] = {0};
	const char *why = NULL;
	size_t bad = 0, i;

	/* KEYS_AUTH_MAX_KEYS distinct keys pass; one more does not. */
	util_buf_init(&b, 4 * 1024 * 1024);
	ck_assert_int_eq(util_buf_append_str(&b, "# many\n"), 0);
	for (i = 0; i <= KEYS_AUTH_MAX_KEYS; i++) {
		seed[0] = (uint8_t)i;
		seed[1] = (uint8_t)(i >> 8);
		ck_assert_int_eq(keys_from_seed(&k, seed), 0);
		ck_assert_int_eq(keys_format_public_line(k.pub, NULL, line,
		                     sizeof(line)),
		    0);
		ck_assert_int_eq(util_buf_printf(&b, "%s\n", line), 0);
		if (i + 1 == KEYS_AUTH_MAX_KEYS) {
			ck_assert_int_eq(keys_authorized_parse((const char *)
			                                           b.data,
			                     b.len, &a, &bad, &why),
			    0);
			ck_assert_uint_eq(a.n, KEYS_AUTH_MAX_KEYS);
			keys_authorized_free(&a);
		}
	}
	ck_assert_int_eq(keys_authorized_parse((const char *)b.data, b.len, &a,
	                     &bad, &why),
	    CT_ERR_TOO_BIG);
	ck_assert_uint_eq(bad, KEYS_AUTH_MAX_KEYS + 2);
	ck_assert_ptr_null(a.keys);
	util_buf_clear(&b);
	keys_clear(&k);

	/* Too many lines, even empty ones. */
	util_buf_init(&b, 4 * 1024 * 1024);
	for (i = 0; i < KEYS_AUTH_MAX_LINES; i++)
		ck_assert_int_eq(util_buf_append(&b, "\n", 1), 0);
	ck_assert_int_eq(keys_authorized_parse((const char *)b.data, b.len, &a,
	                     &bad, &why),
	    0);
	ck_assert_int_eq(util_buf_append(&b, "\n", 1), 0);
	ck_assert_int_eq(keys_authorized_parse((const char *)b.data, b.len, &a,
	                     &bad, &why),
	    CT_ERR_TOO_BIG);
	ck_assert_uint_eq(bad, KEYS_AUTH_MAX_LINES + 1);
	util_buf_clear(&b);
}
END_TEST

START_TEST(test_authorized_load)
{
	char lines[4][KEYS_PUBLINE_BUF_BYTES], text[4096];
	char *dir = tmpdir(), path[256], *big;
	uint8_t pubs[4][32];
	struct keys_authorized a;
	const char *why = NULL;
	size_t bad = 0;

	four_lines(lines, pubs);
	path_in(path, sizeof(path), dir, "authorized_keys");
	snprintf(text, sizeof(text), "# x\n%s\n%s\n", lines[1], lines[2]);
	write_file(path, text, strlen(text));
	ck_assert_int_eq(keys_authorized_load(path, &a, &bad, &why), 0);
	ck_assert_uint_eq(a.n, 2);
	ck_assert_mem_eq(a.keys[1].pub, pubs[2], 32);
	keys_authorized_free(&a);

	snprintf(text, sizeof(text), "%s\nbogus\n", lines[1]);
	unlink(path);
	write_file(path, text, strlen(text));
	ck_assert_int_eq(keys_authorized_load(path, &a, &bad, &why),
	    CT_ERR_UNSUPPORTED);
	ck_assert_uint_eq(bad, 2);

	big = calloc(1, KEYS_AUTH_MAX_FILE_BYTES + 1);
	ck_assert_ptr_nonnull(big);
	memset(big, '\n', KEYS_AUTH_MAX_FILE_BYTES + 1);
	unlink(path);
	write_file(path, big, KEYS_AUTH_MAX_FILE_BYTES + 1);
	free(big);
	ck_assert_int_eq(keys_authorized_load(path, &a, &bad, &why),
	    CT_ERR_TOO_BIG);
	unlink(path);
	ck_assert_int_eq(keys_authorized_load(path, &a, &bad, &why), CT_ERR_IO);
	rmtree(dir);
}
END_TEST

START_TEST(test_save_public)
{
	char *dir = tmpdir(), path[256], want[128];
	struct keys_pubkey pk;
	uint8_t pub[32], *text;
	struct stat st;
	size_t n;

	unhex(rfc_pub1, pub, sizeof(pub));
	path_in(path, sizeof(path), dir, "k.pub");
	ck_assert_int_eq(keys_save_public(path, pub, "root@web1"), 0);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0644);
	text = testutil_read(path, &n);
	snprintf(want, sizeof(want), "ct-ed25519 %s root@web1\n", rfc_b64pub1);
	ck_assert_str_eq((char *)text, want);
	ck_assert_int_eq(keys_parse_public_line((char *)text, n, &pk, NULL), 0);
	ck_assert_mem_eq(pk.pub, pub, 32);
	free(text);
	rmtree(dir);
}
END_TEST

static Suite *
keys_suite(void)
{
	Suite *s = suite_create("keys");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_rfc8032_vectors);
	tcase_add_test(tc, test_generate);
	tcase_add_test(tc, test_random);
	tcase_add_test(tc, test_rng_fork);
	tcase_add_test(tc, test_import_pair);
	tcase_add_test(tc, test_sign_verify);
	tcase_add_test(tc, test_sign_domain);
	tcase_add_test(tc, test_sign_keep);
	tcase_add_test(tc, test_fingerprint);
	tcase_add_test(tc, test_save_load_roundtrip);
	tcase_add_test(tc, test_save_mode_despite_umask);
	tcase_add_test(tc, test_save_generated_load_sign);
	tcase_add_test(tc, test_save_refuses_overwrite);
	tcase_add_test(tc, test_openssl_interop);
	tcase_add_test(tc, test_load_rejects);
	tcase_add_test(tc, test_public_line_roundtrip);
	tcase_add_test(tc, test_public_line_errors);
	tcase_add_test(tc, test_authorized_parse);
	tcase_add_test(tc, test_authorized_errors);
	tcase_add_test(tc, test_authorized_caps);
	tcase_add_test(tc, test_authorized_load);
	tcase_add_test(tc, test_save_public);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return testutil_run(keys_suite());
}
