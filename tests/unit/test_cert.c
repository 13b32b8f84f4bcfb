/*
 * Unit tests for common/cert: parsing of the RFC 6962 test PKI, the Let's
 * Encrypt certificates and our own fixtures (tests/data/sig/, made by
 * tests/data/make-sig-fixtures.sh), the CT-normalised TBS, precertificate
 * rewriting, issuer signatures, and malformed input.
 */
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/hash.h>

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "cert.h"
#include "der.h"
#include "sig.h"
#include "testutil.h"
#include "util.h"

#define CT SHARED_TESTDATA "ct-testdata/"
#define LE SHARED_TESTDATA "letsencrypt/"
#define SIGDATA LOCAL_TESTDATA "sig/"

/* Loads the one certificate of a file, or fails the test. */
static struct ct_cert *
load1(const char *path)
{
	struct ct_cert **v = NULL, *c;
	size_t n = 0;
	int rc;

	rc = cert_load_file(path, &v, &n);
	ck_assert_msg(rc == 0, "%s: %s", path, ct_strerror(rc));
	ck_assert_msg(n == 1, "%s: %zu certificates", path, n);
	c = v[0];
	v[0] = NULL;
	cert_free_all(v, n);
	return c;
}

/* The DER of the one certificate in a PEM file. */
static uint8_t *
load_der(const char *path, size_t *len)
{
	struct ct_cert *c = load1(path);
	uint8_t *d = malloc(c->der_len);

	ck_assert_ptr_nonnull(d);
	memcpy(d, c->der, c->der_len);
	*len = c->der_len;
	cert_free(c);
	return d;
}

static void
assert_hex(const uint8_t *p, size_t n, const char *want, const char *what)
{
	char hex[2 * 64 + 1];

	ck_assert_uint_le(n, 64);
	util_hex_encode(p, n, hex);
	ck_assert_msg(strcmp(hex, want) == 0, "%s: %s, want %s", what, hex,
	    want);
}

/*
 * Expected values, from the openssl CLI (OpenSSL 3.0) on the fixtures:
 *   sha256: openssl x509 -in F -outform DER | sha256sum
 *   spki:   openssl x509 -in F -pubkey -noout |
 *               openssl pkey -pubin -outform DER | sha256sum
 *   serial: openssl x509 -in F -noout -serial, lower-cased, with the 00
 *           sign byte that the DER INTEGER content carries when the top
 *           bit is set (openssl asn1parse -i shows it in the hex dump);
 *           DESIGN.md section 6 defines serial as the content bytes
 * The cert SHA-256 and issuer_key_hash values also appear in
 * ../shared/testdata/SOURCES.md, which they match.
 */
struct fixture {
	const char *path, *sha256, *spki, *serial;
};

static const struct fixture fixtures[] = {
    {CT "ca-cert.pem",
        "47bf944f9b435be64464fb5ada51f5501da5d168503b1e2f142d6d01adf17f5d",
        "02adddca08b8bf9861f035940c940156d8350fdff899a6239c6bd77255b8f8fc",
        "00"},
    {CT "ca-pre-cert.pem",
        "fcf7ddf47328c08a16e067a38a0c5ce7640a299c2a1e62f9e9b6136ea7a8b82b",
        "610630a996004ca2f81975b756f5a3be70c58857a36886d1081ec48fa014a1b2",
        "01"},
    {CT "intermediate-cert.pem",
        "b08f37837eacc401d6b586f80065a79057dd19f449c7f0944e874829e7fa195b",
        "6fa870e52e065a34243667409e8bfdf29ffa9e49c731525c167b30e8ad6a7516",
        "09"},
    {CT "intermediate-pre-cert.pem",
        "db9782dd5f206f59102e8496c9a2c2028f0128443eaf45c5a8de3d53f2b14f48",
        "ef2e1d6a02bac7966d9b6ef2c89e52f53f9fb5a59cd122724efe4f992fb7055d",
        "00"},
    {CT "test-cert.pem",
        "938ded42ab2042736b9426e9cf937c5ca84667fa82743fbbbf9464ffdcd07498",
        "3a3cf885d7db153a300e2a3f283182e3fa4df5dcbf1017c802c9cedb20db2a21",
        "06"},
    {CT "test-embedded-cert.pem",
        "d9863e419fc90a7faab64952d3d71a389734f82214fb3817cb5c88be81c2f1cb",
        "086c0ea25b60e3c44a994d0d5f40b81a0d44f21d63df19315e6ddfbe47373817",
        "07"},
    {CT "test-embedded-pre-cert.pem",
        "9f871dde765f39a0cd2c2ba4f13e6b438e211a96cacd8e4910ad621e89a4c844",
        "086c0ea25b60e3c44a994d0d5f40b81a0d44f21d63df19315e6ddfbe47373817",
        "07"},
    {CT "test-embedded-with-intermediate-cert.pem",
        "b4414568cd743bb9e8961c4e105f1a38f92ded60cb535396b0d9ca1f1501b1ed",
        "bc0afde79fc8ec620ae25e5d0be58311bf416ac45395287a639ed9e2e7bacf03",
        "02"},
    {CT "test-embedded-with-intermediate-pre-cert.pem",
        "9ee0695948e24ebc11dbfba590bb76c36cae7af73235dcd7bf1abab0bfe25ed8",
        "bc0afde79fc8ec620ae25e5d0be58311bf416ac45395287a639ed9e2e7bacf03",
        "02"},
    {CT "test-embedded-with-intermediate-preca-cert.pem",
        "0f3f1a3f2cf42e0921a1705ccbde3908cc25a621b0b9d3d857e1d0c2d9ed8d4e",
        "7ed2998e1d0bd79e665acfcc7ca793db64d5716e0a11f1897dfe1e01015aa9d1",
        "03"},
    {CT "test-embedded-with-intermediate-preca-pre-cert.pem",
        "7ea23c5323ef391dfee7903f6a3f0c15847f99bb8f167ed38e40a6c85a0ea1f4",
        "7ed2998e1d0bd79e665acfcc7ca793db64d5716e0a11f1897dfe1e01015aa9d1",
        "03"},
    {CT "test-embedded-with-preca-cert.pem",
        "baf8f6bf589fe621129feec4d9a4487bf3294432b16d4090761b0320b0269938",
        "423c74c155c609cb822f2f158edf42724d6050b8adf204b5eef83a09dce55fc8",
        "08"},
    {CT "test-embedded-with-preca-pre-cert.pem",
        "d28634f7cfa0d75f47bf75106518842217e0f89533e9d516c97fc3519098be87",
        "423c74c155c609cb822f2f158edf42724d6050b8adf204b5eef83a09dce55fc8",
        "08"},
    {CT "test-intermediate-cert.pem",
        "8a1e168403b2b1ba5976851949a50adb23990ac152cc5559c62b1ffa04ef50ad",
        "093368954de3cd606f12a355bb4c0e095e3b84d073dedd285466e8d132e9e502",
        "01"},
    {CT "test-invalid-embedded-cert.pem",
        "03dec61f353e7581e7e5f77a2ab94246502e0150685b05bd52f42e909224d0bd",
        "086c0ea25b60e3c44a994d0d5f40b81a0d44f21d63df19315e6ddfbe47373817",
        "07"},
    {LE "e5-cross.pem",
        "5dfdb3cf31b26f23d87c09f3a0cef642f64069a9fb7cfe29270bb5dc0f1e16bb",
        "3586d4ecf070578cbd27aedce20b964e48bc149faeb9dad72f46b857869172b8",
        "00838f6c63ceb1398c6206628315c9fdde"},
    {LE "e5.pem",
        "e788d14b0436b5120bbee3f15c15badf08c1407fe72568a4f16f9151c380e1e3",
        "3586d4ecf070578cbd27aedce20b964e48bc149faeb9dad72f46b857869172b8",
        "186e75d4eeb0a05dfd2da820865d1e31"},
    {LE "e6-cross.pem",
        "76e9e288aafc0e37f4390cbf946aad997d5c1c901b3ce513d3d8fadbabe2ab85",
        "d016e1fe311948aca64f2de44ce86c9a51ca041df6103bb52a88eb3f761f57d7",
        "00b0573e9173972770dbb487cb3a452b38"},
    {LE "e6.pem",
        "065ab7d2a050f947587121765d8d070c0e1330d5798faa42c2072749ed293762",
        "d016e1fe311948aca64f2de44ce86c9a51ca041df6103bb52a88eb3f761f57d7",
        "0080a97348ef2768a9e3f6bb43c0f9c629"},
    {LE "e8-cross.pem",
        "83624fd338c8d9b023c18a67cb7a9c0519da43d11775b4c6cbdad45c3d997c52",
        "885bf0572252c6741dc9a52f5044487fef2a93b811cdedfad7624cc283b7cdd5",
        "63959363c24e7082715918bfc3d7ed56"},
    {LE "int-yr1.pem",
        "13949634d99cd6fd6aa80bc034fefacceb1969feef986586713ecdbb05758d3f",
        "2e8307068b6db620e4a39d068b5dee5d6ef5788cbb2c0b6d23ead84fcc17178c",
        "00a20253f15f2691c05dc1ce13b9bcca4e"},
    {LE "isrg-root-x2.pem",
        "69729b8e15a86efc177a57afb7171dfc64add28c2fca8cf1507e34453ccb1470",
        "762195c225586ee6c0237456e2107dc54f1efc21f61a792ebd515913cce68332",
        "41d29dd172eaeea780c12c6ce92f8752"},
    {LE "isrgrootx1.pem",
        "96bcec06264976f37460779acf28c5a7cfe8a3c0aae11a8ffcee05c0bddf08c6",
        "0b9fa5a59eed715c26c1020c711b4f6ec42d58b0015e14337a39dad301c5afc3",
        "008210cfb0d240e3594463e0bb63828b00"},
    {LE "lets-encrypt-r3.pem",
        "67add1166b020ae61b8f5fc96813c04c2aa589960796865572a3c7e737613dfd",
        "8d02536c887482bc34ff54e41d2ba659bf85b341a0a20afadb5813dcfbcf286d",
        "00912b084acf0c18a753f6d62e25a75f5a"},
    {LE "letsencryptauthorityx3.pem",
        "731d3d9cfaa061487a1d71445a42f67df0afca2a6c2d2f98ff7b3ce112b1f568",
        "60b87575447dcba2a36b7d11ac09fb24a9db406fee12d2cc90180517616e8a18",
        "00d3b17226342332dcf40528512aec9c6a"},
    {LE "r10.pem",
        "9d7c3f1aa6ad2b2ec0d5cf1e246f8d9ae6cbc9fd0755ad37bb974b1f2fb603f3",
        "2bbad93ab5c79279ec121507f272cbe0c6647a3aae52e22f388afab426b4adba",
        "4ba85293f79a2fa273064ba8048d75d0"},
    {LE "r11.pem",
        "591e9ce6c863d3a079e9fabe1478c7339a26b21269dde795211361024ae31a44",
        "6ddac18698f7f1f7e1c69b9bce420d974ac6f94ca8b2c761701623f99c767dc7",
        "008a7d3e13d62f30ef2386bd29076b34f8"},
};
#define NFIXTURES ((int)(sizeof(fixtures) / sizeof(fixtures[0])))

START_TEST(test_fixture)
{
	const struct fixture *f = &fixtures[_i];
	struct ct_cert *c = load1(f->path);
	char serial[2 * 64 + 1];
	uint8_t spki_hash[32];

	assert_hex(c->sha256, 32, f->sha256, f->path);
	assert_hex(c->spki_sha256, 32, f->spki, f->path);
	cert_serial_hex(c, serial, sizeof(serial));
	ck_assert_str_eq(serial, f->serial);
	/* Views lie inside der and the SPKI view is what was hashed. */
	ck_assert(
	    c->tbs > c->der && c->tbs + c->tbs_len <= c->der + c->der_len);
	ck_assert(
	    c->spki > c->tbs && c->spki + c->spki_len <= c->tbs + c->tbs_len);
	ck_assert_int_eq(wc_Sha256Hash(c->spki, (word32)c->spki_len, spki_hash),
	    0);
	ck_assert_mem_eq(spki_hash, c->spki_sha256, 32);
	ck_assert_uint_eq(c->spki[0], 0x30);
	ck_assert_uint_eq(c->issuer_dn[0], 0x30);
	ck_assert_uint_eq(c->subject_dn[0], 0x30);
	ck_assert_uint_eq(c->sig_algid[0], 0x30);
	ck_assert_ptr_nonnull(c->subject);
	ck_assert_ptr_nonnull(c->issuer);
	ck_assert_int_lt(c->not_before, c->not_after);
	/* Nothing here has CT extensions it should not have. */
	ck_assert(!(c->precert && c->sct_list != NULL));
	cert_free(c);
}
END_TEST

START_TEST(test_ct_fields)
{
	struct ct_cert *c = load1(CT "test-embedded-cert.pem");
	struct ct_cert *p = load1(CT "test-embedded-pre-cert.pem");
	uint8_t *proof;
	size_t proof_len;

	ck_assert_str_eq(c->subject,
	    "C=GB, O=Certificate Transparency, ST=Wales, L=Erw Wen");
	ck_assert_str_eq(c->issuer,
	    "C=GB, O=Certificate Transparency CA, ST=Wales, L=Erw Wen");
	ck_assert_ptr_null(c->subject_cn);
	ck_assert_uint_eq(c->n_dns_names, 0);
	ck_assert(!c->dns_names_truncated);
	/* openssl x509 -dates: Jun 1 00:00:00 2012 / 2022 GMT. */
	ck_assert_int_eq(c->not_before, 1338508800);
	ck_assert_int_eq(c->not_after, 1654041600);
	ck_assert(!c->precert);
	ck_assert(!c->is_ca);
	ck_assert(!c->precert_signer);
	ck_assert_uint_eq(c->sig_len, 128); /* RSA-1024 */

	/* The SCT list holds exactly the SCT of the .proof file. */
	ck_assert_ptr_nonnull(c->sct_list);
	proof = testutil_read(CT "test-embedded-pre-cert.proof", &proof_len);
	ck_assert_uint_eq(c->sct_list_len, 2 + 2 + proof_len);
	ck_assert_uint_eq((size_t)c->sct_list[0] << 8 | c->sct_list[1],
	    c->sct_list_len - 2);
	ck_assert_uint_eq((size_t)c->sct_list[2] << 8 | c->sct_list[3],
	    proof_len);
	ck_assert_mem_eq(c->sct_list + 4, proof, proof_len);
	free(proof);

	ck_assert(p->precert);
	ck_assert_ptr_null(p->sct_list);
	ck_assert_str_eq(p->subject, c->subject);
	cert_free(p);
	cert_free(c);
}
END_TEST

START_TEST(test_ca_flags)
{
	struct ct_cert *ca = load1(CT "ca-cert.pem");
	struct ct_cert *pre = load1(CT "ca-pre-cert.pem");
	struct ct_cert *ipre = load1(CT "intermediate-pre-cert.pem");
	struct ct_cert *leaf = load1(CT "test-cert.pem");

	ck_assert(ca->is_ca && !ca->precert_signer && !ca->precert);
	ck_assert(pre->is_ca && pre->precert_signer && !pre->precert);
	ck_assert(ipre->is_ca && ipre->precert_signer);
	ck_assert(!leaf->is_ca && !leaf->precert_signer);
	ck_assert_str_eq(pre->subject,
	    "C=GB, O=Certificate Transparency PreCA, ST=Wales, L=Erw Wen");
	cert_free(ca);
	cert_free(pre);
	cert_free(ipre);
	cert_free(leaf);
}
END_TEST

START_TEST(test_le_fields)
{
	struct ct_cert *c = load1(LE "r10.pem");

	ck_assert_str_eq(c->subject, "C=US, O=Let's Encrypt, CN=R10");
	ck_assert_str_eq(c->issuer,
	    "C=US, O=Internet Security Research Group, CN=ISRG Root X1");
	ck_assert_str_eq(c->subject_cn, "R10");
	/* openssl: Mar 13 00:00:00 2024 GMT, Mar 12 23:59:59 2027 GMT. */
	ck_assert_int_eq(c->not_before, 1710288000);
	ck_assert_int_eq(c->not_after, 1804895999);
	ck_assert(c->is_ca);
	ck_assert(!c->precert);
	ck_assert_ptr_null(c->sct_list);
	cert_free(c);
}
END_TEST

/* Names: DER order, escapes, string types, SANs with odd bytes. */
START_TEST(test_odd_names)
{
	struct ct_cert *c = load1(SIGDATA "odd-names.pem");

	/*
	 * DC=org, DC=example, O=Zürich, Inc. (T61String, Latin-1),
	 * OU=Ops+CN=odd.example.org, CN=€ Euro (BMPString), emailAddress:
	 * in DER order, with non-ASCII as '?' per UTF-8 byte.
	 */
	ck_assert_str_eq(c->subject,
	    "DC=org, DC=example, O=Z??rich\\, Inc., "
	    "OU=Ops+CN=odd.example.org, CN=??? Euro, "
	    "emailAddress=a@example.org");
	ck_assert_str_eq(c->issuer, "CN=P-256 Test CA");
	ck_assert_str_eq(c->subject_cn, "odd.example.org");
	ck_assert_uint_eq(c->n_dns_names, 3);
	ck_assert_uint_eq(c->dns_names[0].len, 11);
	ck_assert_str_eq(c->dns_names[0].name, "www.odd.org");
	/* "bad\0.example.org": kept whole, with its NUL. */
	ck_assert_uint_eq(c->dns_names[1].len, 16);
	ck_assert_uint_eq(strlen(c->dns_names[1].name), 3);
	ck_assert_mem_eq(c->dns_names[1].name, "bad\0.example.org", 17);
	ck_assert_str_eq(c->dns_names[2].name, "x y.example.org");
	ck_assert(c->is_ca);
	ck_assert(c->precert_signer); /* EKU 1.3.6.1.4.1.11129.2.4.4 */
	ck_assert(!c->precert);       /* unknown critical ext: accepted */
	cert_free(c);
}
END_TEST

START_TEST(test_caps)
{
	struct ct_cert *c = load1(SIGDATA "many-names.pem");
	size_t i;

	ck_assert_uint_eq(c->n_dns_names, CERT_MAX_NAMES);
	ck_assert(c->dns_names_truncated);
	ck_assert_uint_eq(c->dns_names[0].len, CERT_MAX_NAME_BYTES);
	ck_assert_uint_eq(strlen(c->dns_names[0].name), CERT_MAX_NAME_BYTES);
	for (i = 0; i < CERT_MAX_NAME_BYTES; i++)
		ck_assert_int_eq(c->dns_names[0].name[i], 'b');
	ck_assert_str_eq(c->dns_names[1].name, "n1.example.org");
	ck_assert_str_eq(c->dns_names[CERT_MAX_NAMES - 1].name,
	    "n999.example.org");
	/* Subject text is cut to the cap and marked. */
	ck_assert_uint_eq(strlen(c->subject), CERT_MAX_DN_TEXT - 1);
	ck_assert_str_eq(c->subject + CERT_MAX_DN_TEXT - 4, "...");
	ck_assert(strncmp(c->subject, "CN=long.example.org, OU=10aaa", 29) == 0);
	ck_assert_str_eq(c->subject_cn, "long.example.org");
	cert_free(c);
}
END_TEST

START_TEST(test_serial_hex)
{
	struct ct_cert *c = load1(LE "lets-encrypt-r3.pem");
	char out[40];

	cert_serial_hex(c, out, sizeof(out));
	ck_assert_str_eq(out, "00912b084acf0c18a753f6d62e25a75f5a");
	cert_serial_hex(c, out, 6); /* room for two bytes */
	ck_assert_str_eq(out, "0091");
	cert_serial_hex(c, out, 1);
	ck_assert_str_eq(out, "");
	cert_free(c);
	c = load1(SIGDATA "pss-ca.pem");
	cert_serial_hex(c, out, sizeof(out));
	ck_assert_str_eq(out, "01");
	cert_free(c);
}
END_TEST

/* ------------------------------------------------------------ TBS */

static void
assert_same_tbs(const char *a, const char *b)
{
	struct ct_cert *x = load1(a), *y = load1(b);

	ck_assert_msg(memcmp(x->tbs_sha256, y->tbs_sha256, 32) == 0,
	    "%s and %s differ in tbs_sha256", a, b);
	ck_assert(memcmp(x->sha256, y->sha256, 32) != 0);
	cert_free(x);
	cert_free(y);
}

START_TEST(test_tbs_pairs)
{
	assert_same_tbs(CT "test-embedded-pre-cert.pem",
	    CT "test-embedded-cert.pem");
	assert_same_tbs(CT "test-embedded-with-intermediate-pre-cert.pem",
	    CT "test-embedded-with-intermediate-cert.pem");
	assert_same_tbs(SIGDATA "only-poison.pem", SIGDATA "only-scts.pem");
}
END_TEST

/*
 * Identity follows the TBS: test-invalid-embedded-cert differs from
 * test-embedded-cert only in its (bad) SCT list, so it shares the
 * tbs_sha256; other certificates of the same CA do not.
 */
START_TEST(test_tbs_identity)
{
	struct ct_cert *a = load1(CT "test-embedded-cert.pem");
	struct ct_cert *b = load1(CT "test-invalid-embedded-cert.pem");
	struct ct_cert *d = load1(CT "test-cert.pem");
	struct ct_cert *e = load1(CT "test-embedded-with-preca-cert.pem");

	ck_assert(memcmp(a->sha256, b->sha256, 32) != 0);
	ck_assert_uint_eq(a->sct_list_len, b->sct_list_len);
	ck_assert(memcmp(a->sct_list, b->sct_list, a->sct_list_len) != 0);
	ck_assert_mem_eq(a->tbs_sha256, b->tbs_sha256, 32);
	ck_assert(memcmp(a->tbs_sha256, d->tbs_sha256, 32) != 0);
	ck_assert(memcmp(a->tbs_sha256, e->tbs_sha256, 32) != 0);
	cert_free(a);
	cert_free(b);
	cert_free(d);
	cert_free(e);
}
END_TEST

static void
check_rewrite(const char *pre_path, const char *final_path,
    const char *issuer_path)
{
	struct ct_cert *pre = load1(pre_path), *fin = load1(final_path);
	struct ct_cert *iss = load1(issuer_path);
	uint8_t *tbs = NULL, h[32];
	size_t len = 0;

	/* Without the rewrite the issuer and AKI differ. */
	ck_assert(memcmp(pre->tbs_sha256, fin->tbs_sha256, 32) != 0);
	ck_assert_int_eq(cert_tbs_precert_rewrite(pre, iss, &tbs, &len), 0);
	ck_assert_int_eq(wc_Sha256Hash(tbs, (word32)len, h), 0);
	ck_assert_msg(memcmp(h, fin->tbs_sha256, 32) == 0,
	    "%s rewritten does not match %s", pre_path, final_path);
	free(tbs);
	/* The wrong final issuer gives another TBS. */
	ck_assert_int_eq(cert_tbs_precert_rewrite(pre, pre, &tbs, &len), 0);
	ck_assert_int_eq(wc_Sha256Hash(tbs, (word32)len, h), 0);
	ck_assert(memcmp(h, fin->tbs_sha256, 32) != 0);
	free(tbs);
	cert_free(pre);
	cert_free(fin);
	cert_free(iss);
}

START_TEST(test_tbs_preca)
{
	check_rewrite(CT "test-embedded-with-preca-pre-cert.pem",
	    CT "test-embedded-with-preca-cert.pem", CT "ca-cert.pem");
	check_rewrite(CT "test-embedded-with-intermediate-preca-pre-cert.pem",
	    CT "test-embedded-with-intermediate-preca-cert.pem",
	    CT "intermediate-cert.pem");
}
END_TEST

/* A certificate without CT extensions normalises to its own TBS. */
START_TEST(test_tbs_unchanged)
{
	static const char *paths[] = {CT "test-cert.pem", LE "r10.pem",
	    SIGDATA "v1-leaf.pem", SIGDATA "ed25519-leaf.pem"};
	uint8_t *tbs, h[32];
	size_t i, len;

	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		struct ct_cert *c = load1(paths[i]);

		ck_assert_int_eq(cert_tbs_normalized(c, &tbs, &len), 0);
		ck_assert_uint_eq(len, c->tbs_len);
		ck_assert_mem_eq(tbs, c->tbs, len);
		ck_assert_int_eq(wc_Sha256Hash(c->tbs, (word32)c->tbs_len, h),
		    0);
		ck_assert_mem_eq(h, c->tbs_sha256, 32);
		free(tbs);
		cert_free(c);
	}
}
END_TEST

/* When no extension is left, the [3] wrapper goes too. */
START_TEST(test_tbs_drops_wrapper)
{
	struct ct_cert *c = load1(SIGDATA "only-poison.pem");
	struct der_cursor cur, in;
	struct der_tlv tbs, orig, t, last = {0};
	uint8_t *p = NULL, h[32];
	size_t len = 0, n = 0;

	ck_assert(c->precert);
	ck_assert_int_eq(cert_tbs_normalized(c, &p, &len), 0);
	ck_assert_uint_lt(len, c->tbs_len);
	der_init(&cur, p, len);
	ck_assert_int_eq(der_expect(&cur, DER_SEQUENCE, &tbs), 0);
	ck_assert(der_empty(&cur));
	der_enter(&tbs, &in);
	while (!der_empty(&in)) {
		ck_assert_int_eq(der_next(&in, &t), 0);
		ck_assert_uint_ne(t.tag, DER_CTX_CONS(3));
		last = t;
		n++;
	}
	/* version, serial, alg, issuer, validity, subject, spki */
	ck_assert_uint_eq(n, 7);
	ck_assert_uint_eq(last.raw_len, c->spki_len);
	ck_assert_mem_eq(last.raw, c->spki, c->spki_len);
	/* Everything from the version to the SPKI is unchanged. */
	der_init(&cur, c->tbs, c->tbs_len);
	ck_assert_int_eq(der_expect(&cur, DER_SEQUENCE, &orig), 0);
	ck_assert_uint_eq((size_t)(last.raw + last.raw_len - tbs.val),
	    (size_t)(c->spki + c->spki_len - orig.val));
	ck_assert_mem_eq(tbs.val, orig.val,
	    (size_t)(c->spki + c->spki_len - orig.val));
	ck_assert_int_eq(wc_Sha256Hash(p, (word32)len, h), 0);
	ck_assert_mem_eq(h, c->tbs_sha256, 32);
	free(p);
	cert_free(c);
}
END_TEST

static void
b64_32(const char *b64, uint8_t out[32])
{
	ck_assert_int_eq(util_b64_decode(b64, strlen(b64), out, 32, false), 32);
}

/*
 * Independent check of the normalised bytes: the RFC 6962 leaf hash of the
 * precert entry, built from the final certificate's normalised TBS and the
 * CA's spki_sha256, equals the value published with the test data
 * (SOURCES.md: "mbk+d5FDW3oNZJCbOi828rqC3hf+qhigTWVGcXEZq1U=").
 */
START_TEST(test_leaf_hash)
{
	struct ct_cert *c = load1(CT "test-embedded-cert.pem");
	struct ct_cert *ca = load1(CT "ca-cert.pem");
	const uint64_t ts = 1365181456275ULL;
	uint8_t want[32], got[32], *tbs, *leaf;
	size_t tbs_len, o = 0, i;

	b64_32("mbk+d5FDW3oNZJCbOi828rqC3hf+qhigTWVGcXEZq1U=", want);
	ck_assert_int_eq(cert_tbs_normalized(c, &tbs, &tbs_len), 0);
	leaf = malloc(1 + 2 + 8 + 2 + 32 + 3 + tbs_len + 2);
	ck_assert_ptr_nonnull(leaf);
	leaf[o++] = 0x00; /* leaf hash prefix */
	leaf[o++] = 0;    /* v1 */
	leaf[o++] = 0;    /* timestamped_entry */
	for (i = 0; i < 8; i++)
		leaf[o++] = (uint8_t)(ts >> (56 - 8 * i));
	leaf[o++] = 0;
	leaf[o++] = 1; /* precert_entry */
	memcpy(leaf + o, ca->spki_sha256, 32);
	o += 32;
	leaf[o++] = (uint8_t)(tbs_len >> 16);
	leaf[o++] = (uint8_t)(tbs_len >> 8);
	leaf[o++] = (uint8_t)tbs_len;
	memcpy(leaf + o, tbs, tbs_len);
	o += tbs_len;
	leaf[o++] = 0;
	leaf[o++] = 0;
	ck_assert_int_eq(wc_Sha256Hash(leaf, (word32)o, got), 0);
	ck_assert_mem_eq(got, want, 32);
	free(leaf);
	free(tbs);
	cert_free(ca);
	cert_free(c);
}
END_TEST

/*
 * Independent check of cert_tbs_precert_rewrite: the test log's SCT in
 * each *-pre-cert.proof signs the precert_entry with the rewritten TBS and
 * the final issuer's key hash.
 */
static void
check_sct(const char *pre_path, const char *proof_path, const char *issuer_path,
    bool rewrite)
{
	struct ct_cert *pre = load1(pre_path), *iss = load1(issuer_path);
	uint8_t *tbs, *in, *proof, *key, *file;
	size_t tbs_len, proof_len, key_len, file_len, off = 0, o = 0;
	size_t sig_len;
	char label[32];

	file = testutil_read(CT "ct-server-key-public.pem", &file_len);
	ck_assert_int_eq(util_pem_next((const char *)file, file_len, &off,
	                     label, sizeof(label), &key, &key_len),
	    0);
	free(file);
	proof = testutil_read(proof_path, &proof_len);
	ck_assert_uint_ge(proof_len, 47);
	sig_len = (size_t)proof[45] << 8 | proof[46];
	ck_assert_uint_eq(47 + sig_len, proof_len);
	if (rewrite)
		ck_assert_int_eq(cert_tbs_precert_rewrite(pre, iss, &tbs,
		                     &tbs_len),
		    0);
	else
		ck_assert_int_eq(cert_tbs_normalized(pre, &tbs, &tbs_len), 0);
	in = malloc(2 + 8 + 2 + 32 + 3 + tbs_len + 2);
	ck_assert_ptr_nonnull(in);
	in[o++] = 0;
	in[o++] = 0;
	memcpy(in + o, proof + 33, 8);
	o += 8;
	in[o++] = 0;
	in[o++] = 1;
	memcpy(in + o, iss->spki_sha256, 32);
	o += 32;
	in[o++] = (uint8_t)(tbs_len >> 16);
	in[o++] = (uint8_t)(tbs_len >> 8);
	in[o++] = (uint8_t)tbs_len;
	memcpy(in + o, tbs, tbs_len);
	o += tbs_len;
	in[o++] = 0;
	in[o++] = 0;
	ck_assert_msg(sig_verify(key, key_len, SIG_ECDSA_SHA256, in, o,
	                  proof + 47, sig_len) == 0,
	    "SCT over %s", pre_path);
	free(in);
	free(tbs);
	free(proof);
	free(key);
	cert_free(pre);
	cert_free(iss);
}

START_TEST(test_sct_over_tbs)
{
	check_sct(CT "test-embedded-pre-cert.pem",
	    CT "test-embedded-pre-cert.proof", CT "ca-cert.pem", false);
	check_sct(CT "test-embedded-with-intermediate-pre-cert.pem",
	    CT "test-embedded-with-intermediate-pre-cert.proof",
	    CT "intermediate-cert.pem", false);
	check_sct(CT "test-embedded-with-preca-pre-cert.pem",
	    CT "test-embedded-with-preca-pre-cert.proof", CT "ca-cert.pem",
	    true);
	check_sct(CT "test-embedded-with-intermediate-preca-pre-cert.pem",
	    CT "test-embedded-with-intermediate-preca-pre-cert.proof",
	    CT "intermediate-cert.pem", true);
}
END_TEST

/* ------------------------------------------------------------ signatures */

struct chain {
	const char *cert, *issuer;
	int rc;
};

static const struct chain chains[] = {
    /* RSA PKCS#1 v1.5 with SHA-1: the RFC 6962 test PKI. */
    {CT "ca-cert.pem", CT "ca-cert.pem", 0},
    {CT "test-cert.pem", CT "ca-cert.pem", 0},
    {CT "test-embedded-cert.pem", CT "ca-cert.pem", 0},
    {CT "test-embedded-pre-cert.pem", CT "ca-cert.pem", 0},
    {CT "intermediate-cert.pem", CT "ca-cert.pem", 0},
    {CT "ca-pre-cert.pem", CT "ca-cert.pem", 0},
    {CT "test-embedded-with-preca-pre-cert.pem", CT "ca-pre-cert.pem", 0},
    {CT "test-embedded-with-preca-cert.pem", CT "ca-cert.pem", 0},
    {CT "test-intermediate-cert.pem", CT "intermediate-cert.pem", 0},
    {CT "test-embedded-with-intermediate-cert.pem", CT "intermediate-cert.pem",
        0},
    {CT "intermediate-pre-cert.pem", CT "intermediate-cert.pem", 0},
    {CT "test-embedded-with-intermediate-preca-pre-cert.pem",
        CT "intermediate-pre-cert.pem", 0},
    /* RSA PKCS#1 v1.5 with SHA-256 (RSA-4096 root). */
    {LE "isrgrootx1.pem", LE "isrgrootx1.pem", 0},
    {LE "r10.pem", LE "isrgrootx1.pem", 0},
    {LE "r11.pem", LE "isrgrootx1.pem", 0},
    {LE "lets-encrypt-r3.pem", LE "isrgrootx1.pem", 0},
    {LE "letsencryptauthorityx3.pem", LE "isrgrootx1.pem", 0},
    {LE "e5-cross.pem", LE "isrgrootx1.pem", 0},
    {LE "e6-cross.pem", LE "isrgrootx1.pem", 0},
    {LE "e8-cross.pem", LE "isrgrootx1.pem", 0},
    /* ECDSA P-384 with SHA-384. */
    {LE "isrg-root-x2.pem", LE "isrg-root-x2.pem", 0},
    {LE "e5.pem", LE "isrg-root-x2.pem", 0},
    {LE "e6.pem", LE "isrg-root-x2.pem", 0},
    /* Our fixtures: RSA-PSS, ECDSA P-256, Ed25519. */
    {SIGDATA "pss-ca.pem", SIGDATA "pss-ca.pem", 0},
    {SIGDATA "pss-sha384-leaf.pem", SIGDATA "pss-ca.pem", 0},
    {SIGDATA "pss-sha512-leaf.pem", SIGDATA "pss-ca.pem", 0},
    {SIGDATA "p256-ca.pem", SIGDATA "p256-ca.pem", 0},
    {SIGDATA "p256-leaf.pem", SIGDATA "p256-ca.pem", 0},
    {SIGDATA "odd-names.pem", SIGDATA "p256-ca.pem", 0},
    {SIGDATA "only-poison.pem", SIGDATA "p256-ca.pem", 0},
    {SIGDATA "v1-leaf.pem", SIGDATA "p256-ca.pem", 0},
    {SIGDATA "ed25519-ca.pem", SIGDATA "ed25519-ca.pem", 0},
    {SIGDATA "ed25519-leaf.pem", SIGDATA "ed25519-ca.pem", 0},
    /* Wrong issuers: same key type, and other key types. */
    {CT "test-cert.pem", CT "intermediate-cert.pem", CT_ERR_SIGNATURE},
    {CT "test-embedded-with-preca-pre-cert.pem", CT "ca-cert.pem",
        CT_ERR_SIGNATURE},
    {LE "r10.pem", CT "ca-cert.pem", CT_ERR_SIGNATURE},
    {LE "r10.pem", LE "r11.pem", CT_ERR_SIGNATURE},
    {LE "r10.pem", LE "isrg-root-x2.pem", CT_ERR_SIGNATURE},
    {LE "e5.pem", LE "isrgrootx1.pem", CT_ERR_SIGNATURE},
    {LE "e5.pem", LE "e6.pem", CT_ERR_SIGNATURE},
    {LE "e5-cross.pem", LE "isrg-root-x2.pem", CT_ERR_SIGNATURE},
    {SIGDATA "pss-sha384-leaf.pem", LE "isrgrootx1.pem", CT_ERR_SIGNATURE},
    {SIGDATA "p256-leaf.pem", SIGDATA "ed25519-ca.pem", CT_ERR_SIGNATURE},
    {SIGDATA "p256-leaf.pem", LE "isrg-root-x2.pem", CT_ERR_SIGNATURE},
    {SIGDATA "ed25519-leaf.pem", SIGDATA "p256-ca.pem", CT_ERR_SIGNATURE},
    {SIGDATA "ed25519-leaf.pem", SIGDATA "ed25519-leaf.pem", CT_ERR_SIGNATURE},
};
#define NCHAINS ((int)(sizeof(chains) / sizeof(chains[0])))

START_TEST(test_chain)
{
	const struct chain *t = &chains[_i];
	struct ct_cert *c = load1(t->cert), *i = load1(t->issuer);
	int rc = cert_verify_signed_by(c, i);

	ck_assert_msg(rc == t->rc, "%s by %s: %d (%s), want %d", t->cert,
	    t->issuer, rc, ct_strerror(rc), t->rc);
	cert_free(c);
	cert_free(i);
}
END_TEST

/* One flipped bit in the signature or in the TBS breaks every chain. */
START_TEST(test_chain_flipped)
{
	const struct chain *t = &chains[_i];
	struct ct_cert *c, *i = load1(t->issuer);
	uint8_t *der;
	size_t len, sig_off, tbs_off;
	int pass;

	if (t->rc != 0) {
		cert_free(i);
		return;
	}
	c = load1(t->cert);
	sig_off = (size_t)(c->sig - c->der) + c->sig_len - 1;
	tbs_off = (size_t)(c->serial - c->der) + c->serial_len - 1;
	cert_free(c);
	der = load_der(t->cert, &len);
	for (pass = 0; pass < 3; pass++) {
		size_t at = pass == 0 ? sig_off
		    : pass == 1       ? tbs_off
		                      : sig_off - 5;

		der[at] ^= 0x01;
		ck_assert_int_eq(cert_parse_der(der, len, &c), 0);
		ck_assert_msg(cert_verify_signed_by(c, i) == CT_ERR_SIGNATURE,
		    "%s with byte %zu flipped", t->cert, at);
		cert_free(c);
		der[at] ^= 0x01;
	}
	free(der);
	cert_free(i);
}
END_TEST

/* ------------------------------------------------------------ malformed */

static const char *const truncate_paths[] = {CT "test-embedded-cert.pem",
    CT "test-embedded-with-preca-pre-cert.pem", LE "e5.pem",
    SIGDATA "odd-names.pem", SIGDATA "ed25519-leaf.pem",
    SIGDATA "pss-sha384-leaf.pem", SIGDATA "v1-leaf.pem"};

START_TEST(test_truncated_every_length)
{
	struct ct_cert *c;
	struct ct_cert **v;
	uint8_t *der;
	size_t len, k, n;
	int rc;

	der = load_der(truncate_paths[_i], &len);
	for (k = 0; k < len; k++) {
		uint8_t *cut = malloc(k ? k : 1); /* exact size for ASan */

		ck_assert_ptr_nonnull(cut);
		memcpy(cut, der, k);
		c = (struct ct_cert *)1;
		rc = cert_parse_der(cut, k, &c);
		ck_assert_msg(rc < 0, "%s cut to %zu bytes parsed",
		    truncate_paths[_i], k);
		ck_assert_ptr_null(c);
		rc = cert_parse_buf(cut, k, &v, &n);
		ck_assert_msg(rc < 0, "%s cut to %zu bytes parsed (buf)",
		    truncate_paths[_i], k);
		ck_assert_ptr_null(v);
		ck_assert_uint_eq(n, 0);
		free(cut);
	}
	ck_assert_int_eq(cert_parse_der(der, len, &c), 0);
	cert_free(c);
	free(der);
}
END_TEST

START_TEST(test_bad_outer)
{
	struct ct_cert *c = NULL;
	uint8_t *der, *big;
	size_t len;

	der = load_der(CT "test-cert.pem", &len);
	ck_assert_uint_eq(der[1], 0x82); /* a two-byte length */

	der[0] = 0x31; /* wrong outer tag */
	ck_assert_int_eq(cert_parse_der(der, len, &c), CT_ERR_FORMAT);
	der[0] = 0x30;

	der[3]++; /* a length that claims one byte more than present */
	ck_assert_int_eq(cert_parse_der(der, len, &c), CT_ERR_TRUNCATED);
	der[3]--;

	/* A five-byte length. */
	big = malloc(len + 3);
	ck_assert_ptr_nonnull(big);
	big[0] = 0x30;
	big[1] = 0x85;
	big[2] = 0;
	big[3] = 0;
	big[4] = 0;
	big[5] = der[2];
	big[6] = der[3];
	memcpy(big + 7, der + 4, len - 4);
	ck_assert_int_eq(cert_parse_der(big, len + 3, &c), CT_ERR_TOO_BIG);
	free(big);

	/* Trailing garbage after the certificate. */
	big = malloc(len + 1);
	ck_assert_ptr_nonnull(big);
	memcpy(big, der, len);
	big[len] = 0;
	ck_assert_int_eq(cert_parse_der(big, len + 1, &c), CT_ERR_TRAILING);
	free(big);

	/* Over the size cap. */
	big = calloc(1, CERT_MAX_DER_BYTES + 1);
	ck_assert_ptr_nonnull(big);
	memcpy(big, der, len);
	ck_assert_int_eq(cert_parse_der(big, CERT_MAX_DER_BYTES + 1, &c),
	    CT_ERR_TOO_BIG);
	free(big);

	ck_assert_int_eq(cert_parse_der(der, 0, &c), CT_ERR_TRUNCATED);
	ck_assert_int_eq(cert_parse_der(NULL, 5, &c), CT_ERR_INVALID);
	ck_assert_ptr_null(c);
	free(der);
}
END_TEST

/* Finds needle in der (once), or fails the test. */
static size_t
find(const uint8_t *der, size_t len, const char *hex)
{
	uint8_t pat[64];
	int n = util_hex_decode(hex, strlen(hex), pat, sizeof(pat));
	size_t i, at = 0, hits = 0;

	ck_assert_int_gt(n, 0);
	for (i = 0; i + (size_t)n <= len; i++) {
		if (memcmp(der + i, pat, (size_t)n) == 0) {
			at = i;
			hits++;
		}
	}
	ck_assert_msg(hits == 1, "pattern %s found %zu times", hex, hits);
	return at;
}

/* One-byte mutations with the error they must give. */
struct mutation {
	const char *path;
	const char *pattern; /* hex, unique in the DER */
	size_t offset;       /* of the byte in the pattern */
	uint8_t value;
	int rc;
};

static const struct mutation mutations[] = {
    /* version 3 -> 2: unsupported; -> 1 with extensions: malformed */
    {CT "test-cert.pem", "a003020102", 4, 0x01, CT_ERR_UNSUPPORTED},
    {CT "test-cert.pem", "a003020102", 4, 0x00, CT_ERR_FORMAT},
    /* serial: not an INTEGER */
    {CT "test-cert.pem", "a003020102020106", 5, 0x04, CT_ERR_FORMAT},
    /* SAN: the GeneralNames SEQUENCE becomes a SET */
    {SIGDATA "odd-names.pem", "0603551d1104", 7, 0x31, CT_ERR_FORMAT},
    /* SAN: a GeneralName with a universal tag */
    {SIGDATA "odd-names.pem", "820b7777772e6f6464", 0, 0x16, CT_ERR_FORMAT},
    /* poison: value not NULL */
    {CT "test-embedded-pre-cert.pem", "d6790204030101ff04020500", 10, 0x04,
        CT_ERR_FORMAT},
    /* basicConstraints: a negative pathLen where cA belongs */
    {CT "ca-cert.pem", "0603551d130405300301", 9, 0x02, CT_ERR_FORMAT},
    /* the extnValue is not an OCTET STRING */
    {CT "ca-cert.pem", "0603551d130405", 5, 0x03, CT_ERR_FORMAT},
    /* signature BIT STRING with unused bits */
    {CT "test-cert.pem", "03818100171c", 3, 0x01, CT_ERR_FORMAT},
    /* validity: a time that is no time */
    {CT "test-cert.pem", "170d3132303630313030", 2, 0x41, CT_ERR_FORMAT},
    /* subject: RDN not a SET */
    {CT "test-cert.pem", "3052310b", 2, 0x43, CT_ERR_FORMAT},
    /* signature algorithm: not a SEQUENCE */
    {CT "test-cert.pem", "a003020102020106300d", 8, 0x31, CT_ERR_FORMAT},
    /* EKU: an INTEGER where an OID belongs */
    {CT "ca-pre-cert.pem", "060a2b06010401d679020404", 0, 0x02, CT_ERR_FORMAT},
    /* AKI: an unknown field */
    {LE "r10.pem", "0603551d23041830168014", 9, 0x83, CT_ERR_FORMAT},
};
#define NMUTATIONS ((int)(sizeof(mutations) / sizeof(mutations[0])))

START_TEST(test_mutation)
{
	const struct mutation *m = &mutations[_i];
	struct ct_cert *c = NULL;
	uint8_t *der;
	size_t len, at;
	int rc;

	der = load_der(m->path, &len);
	at = find(der, len, m->pattern) + m->offset;
	der[at] = m->value;
	rc = cert_parse_der(der, len, &c);
	ck_assert_msg(rc == m->rc, "mutation %d (%s): %d, want %d", _i,
	    m->pattern, rc, m->rc);
	cert_free(c);
	free(der);
}
END_TEST

/* A DER structure that is not a certificate. */
START_TEST(test_not_a_cert)
{
	struct ct_cert *c = NULL;
	struct ct_cert **v = NULL;
	uint8_t *der;
	size_t len, n;

	der = testutil_read(SIGDATA "p256.spki.der", &len);
	ck_assert_int_eq(cert_parse_der(der, len, &c), CT_ERR_FORMAT);
	ck_assert_int_eq(cert_parse_buf(der, len, &v, &n), CT_ERR_FORMAT);
	ck_assert_ptr_null(v);
	free(der);
	ck_assert_int_eq(cert_parse_buf((const uint8_t *)"hello", 5, &v, &n),
	    CT_ERR_FORMAT);
	ck_assert_int_eq(cert_parse_buf((const uint8_t *)"", 0, &v, &n),
	    CT_ERR_NOT_FOUND);
	ck_assert_int_eq(cert_load_file(SIGDATA "no-such-file.pem", &v, &n),
	    CT_ERR_IO);
}
END_TEST

/* ------------------------------------------------------------ PEM */

static const char key_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEIJ+n2pKZc0f3bb3VRy3bx8Q0yq3WVh1xu9sxc8iE3dXc\n"
    "-----END PRIVATE KEY-----\n";

/* Not base64 at all: a decoder would fail, a skipper does not care. */
static const char junk_key_pem[] =
    "-----BEGIN EC PRIVATE KEY-----\n"
    "!!! this is not base64 and must never be decoded !!!\n"
    "-----END EC PRIVATE KEY-----\n";

static int
parse_text(const char *text, struct ct_cert ***v, size_t *n)
{
	return cert_parse_buf((const uint8_t *)text, strlen(text), v, n);
}

START_TEST(test_pem_no_cert)
{
	struct ct_cert **v = (struct ct_cert **)1;
	size_t n = 7;

	ck_assert_int_eq(parse_text(key_pem, &v, &n), CT_ERR_NOT_FOUND);
	ck_assert_ptr_null(v);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(parse_text(junk_key_pem, &v, &n), CT_ERR_NOT_FOUND);
	ck_assert_int_eq(parse_text("-----BEGIN CERTIFICATE", &v, &n),
	    CT_ERR_NOT_FOUND);
	ck_assert_int_eq(cert_load_file(CT "ct-server-key-public.pem", &v, &n),
	    CT_ERR_NOT_FOUND);
}
END_TEST

/* Builds "<key><junk key><cert A><text><cert B>" and parses it. */
START_TEST(test_pem_bundle)
{
	struct util_buf b;
	struct ct_cert **v = NULL;
	uint8_t *a, *bb;
	size_t alen, blen, n = 0;

	a = testutil_read(CT "test-cert.pem", &alen);
	bb = testutil_read(LE "e5.pem", &blen);
	util_buf_init(&b, 1 << 20);
	ck_assert_int_eq(util_buf_append_str(&b, key_pem), 0);
	ck_assert_int_eq(util_buf_append_str(&b, junk_key_pem), 0);
	ck_assert_int_eq(util_buf_append(&b, a, alen), 0);
	ck_assert_int_eq(util_buf_append_str(&b, "some text\n"), 0);
	ck_assert_int_eq(util_buf_append(&b, bb, blen), 0);
	ck_assert_int_eq(cert_parse_buf(b.data, b.len, &v, &n), 0);
	ck_assert_uint_eq(n, 2);
	assert_hex(v[0]->sha256, 32, fixtures[4].sha256, "first");
	assert_hex(v[1]->sha256, 32, fixtures[16].sha256, "second");
	cert_free_all(v, n);

	/* A bad certificate block fails the whole buffer. */
	ck_assert_int_eq(util_buf_append_str(&b,
	                     "-----BEGIN CERTIFICATE-----\nMAMCAQE=\n"
	                     "-----END CERTIFICATE-----\n"),
	    0);
	ck_assert_int_eq(cert_parse_buf(b.data, b.len, &v, &n), CT_ERR_FORMAT);
	ck_assert_ptr_null(v);
	ck_assert_uint_eq(n, 0);
	util_buf_clear(&b);

	util_buf_init(&b, 1 << 20);
	ck_assert_int_eq(util_buf_append_str(&b,
	                     "-----BEGIN CERTIFICATE-----\n!!!!\n"
	                     "-----END CERTIFICATE-----\n"),
	    0);
	ck_assert_int_lt(cert_parse_buf(b.data, b.len, &v, &n), 0);
	ck_assert_int_ne(cert_parse_buf(b.data, b.len, &v, &n),
	    CT_ERR_NOT_FOUND);
	util_buf_clear(&b);
	free(a);
	free(bb);
}
END_TEST

/* A BEGIN line broken across lines does not swallow the next block. */
START_TEST(test_pem_broken_begin)
{
	struct util_buf b;
	struct ct_cert **v = NULL;
	uint8_t *a;
	size_t alen, n = 0;

	a = testutil_read(LE "r10.pem", &alen);
	util_buf_init(&b, 1 << 20);
	ck_assert_int_eq(util_buf_append_str(&b, "-----BEGIN oops\n"), 0);
	ck_assert_int_eq(util_buf_append(&b, a, alen), 0);
	ck_assert_int_eq(cert_parse_buf(b.data, b.len, &v, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(v[0]->subject_cn, "R10");
	cert_free_all(v, n);
	util_buf_clear(&b);
	free(a);
}
END_TEST

/* Raw DER through cert_parse_buf, and a DER cert holding "-----BEGIN ". */
START_TEST(test_buf_der)
{
	struct ct_cert **v = NULL;
	uint8_t *der;
	size_t len, n = 0;

	der = load_der(SIGDATA "p256-leaf.pem", &len);
	ck_assert_int_eq(cert_parse_buf(der, len, &v, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(v[0]->subject_cn, "www.example.org");
	ck_assert_uint_eq(v[0]->n_dns_names, 2);
	ck_assert_str_eq(v[0]->dns_names[1].name, "example.org");
	cert_free_all(v, n);
	free(der);
}
END_TEST

/* spki_sha256 of our fixtures equals SHA-256 of openssl's SPKI DER. */
START_TEST(test_spki_vs_openssl)
{
	static const char *pairs[][2] = {
	    {SIGDATA "pss-ca.pem", SIGDATA "rsa.spki.der"},
	    {SIGDATA "p256-ca.pem", SIGDATA "p256.spki.der"},
	    {SIGDATA "ed25519-ca.pem", SIGDATA "ed.spki.der"},
	};
	uint8_t h[32], *spki;
	size_t i, len;

	for (i = 0; i < 3; i++) {
		struct ct_cert *c = load1(pairs[i][0]);

		spki = testutil_read(pairs[i][1], &len);
		ck_assert_uint_eq(len, c->spki_len);
		ck_assert_mem_eq(spki, c->spki, len);
		ck_assert_int_eq(wc_Sha256Hash(spki, (word32)len, h), 0);
		ck_assert_mem_eq(h, c->spki_sha256, 32);
		free(spki);
		cert_free(c);
	}
}
END_TEST

static Suite *
cert_suite(void)
{
	Suite *s = suite_create("cert");
	TCase *tp = tcase_create("parse");
	TCase *tt = tcase_create("tbs");
	TCase *ts = tcase_create("signature");
	TCase *tm = tcase_create("malformed");

	tcase_add_loop_test(tp, test_fixture, 0, NFIXTURES);
	tcase_add_test(tp, test_ct_fields);
	tcase_add_test(tp, test_ca_flags);
	tcase_add_test(tp, test_le_fields);
	tcase_add_test(tp, test_odd_names);
	tcase_add_test(tp, test_caps);
	tcase_add_test(tp, test_serial_hex);
	tcase_add_test(tp, test_spki_vs_openssl);
	tcase_add_test(tp, test_pem_no_cert);
	tcase_add_test(tp, test_pem_bundle);
	tcase_add_test(tp, test_pem_broken_begin);
	tcase_add_test(tp, test_buf_der);
	suite_add_tcase(s, tp);

	tcase_add_test(tt, test_tbs_pairs);
	tcase_add_test(tt, test_tbs_identity);
	tcase_add_test(tt, test_tbs_preca);
	tcase_add_test(tt, test_tbs_unchanged);
	tcase_add_test(tt, test_tbs_drops_wrapper);
	tcase_add_test(tt, test_leaf_hash);
	tcase_add_test(tt, test_sct_over_tbs);
	suite_add_tcase(s, tt);

	tcase_add_loop_test(ts, test_chain, 0, NCHAINS);
	tcase_add_loop_test(ts, test_chain_flipped, 0, NCHAINS);
	tcase_set_timeout(ts, 60);
	suite_add_tcase(s, ts);

	tcase_add_loop_test(tm, test_truncated_every_length, 0,
	    (int)(sizeof(truncate_paths) / sizeof(truncate_paths[0])));
	tcase_add_test(tm, test_bad_outer);
	tcase_add_loop_test(tm, test_mutation, 0, NMUTATIONS);
	tcase_add_test(tm, test_not_a_cert);
	tcase_set_timeout(tm, 120);
	suite_add_tcase(s, tm);
	return s;
}

int
main(void)
{
	return testutil_run(cert_suite());
}
