/*
 * util: error codes, capped buffers, hex and base64, PEM, time, sanitising.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "util.h"

static const char *const err_names[] = {
    "success",
    "out of memory",
    "truncated input",
    "malformed input",
    "input over the size cap",
    "unsupported algorithm or form",
    "signature does not verify",
    "not found",
    "I/O error",
    "crypto library error",
    "invalid argument",
    "trailing bytes after structure",
    "timed out",
    "not authorised",
    "protocol violation",
    "timestamp outside the allowed window",
    "replayed request",
    "connection closed",
};

_Static_assert(sizeof(err_names) / sizeof(err_names[0]) == -CT_ERR__MIN,
    "err_names must list every enum ct_err");

const char *
ct_strerror(int err)
{
	if (err > 0 || err <= CT_ERR__MIN)
		return "unknown error";
	return err_names[-err];
}

void
util_buf_init(struct util_buf *b, size_t max_bytes)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	/* Room for the NUL: max + 1 must not wrap in util_buf_reserve. */
	b->max = max_bytes < SIZE_MAX ? max_bytes : SIZE_MAX - 1;
}

/* Makes room for extra more bytes plus a NUL; 0 or a negative ct_err. */
int
util_buf_reserve(struct util_buf *b, size_t extra)
{
	size_t need, ncap;
	uint8_t *p;

	if (extra > b->max || b->len > b->max - extra)
		return CT_ERR_TOO_BIG;
	need = b->len + extra + 1;
	if (need <= b->cap)
		return 0;
	ncap = b->cap ? b->cap : 256;
	while (ncap < need)
		ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
	if (ncap > b->max + 1)
		ncap = b->max + 1;
	if ((p = realloc(b->data, ncap)) == NULL)
		return CT_ERR_NOMEM;
	b->data = p;
	b->cap = ncap;
	return 0;
}

int
util_buf_append(struct util_buf *b, const void *p, size_t n)
{
	int rc;

	if (n == 0)
		return 0;
	if ((rc = util_buf_reserve(b, n)) != 0)
		return rc;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

int
util_buf_append_str(struct util_buf *b, const char *s)
{
	return util_buf_append(b, s, strlen(s));
}

int
util_buf_printf(struct util_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n, rc;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return CT_ERR_INVALID;
	if ((rc = util_buf_reserve(b, (size_t)n)) != 0)
		return rc;
	va_start(ap, fmt);
	vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

int
util_buf_put_u64(struct util_buf *b, uint64_t v)
{
	uint8_t x[8];
	int i;

	for (i = 0; i < 8; i++)
		x[i] = (uint8_t)(v >> (56 - 8 * i));
	return util_buf_append(b, x, sizeof(x));
}

int
util_buf_put_vec16(struct util_buf *b, const void *p, size_t n)
{
	uint8_t x[2] = {(uint8_t)(n >> 8), (uint8_t)n};
	int rc;

	if (n > UINT16_MAX)
		return CT_ERR_TOO_BIG;
	if ((rc = util_buf_append(b, x, sizeof(x))) != 0)
		return rc;
	return util_buf_append(b, p, n);
}

int
util_buf_cstr(struct util_buf *b)
{
	int rc;

	if ((rc = util_buf_reserve(b, 0)) != 0)
		return rc;
	b->data[b->len] = '\0';
	return 0;
}

uint8_t *
util_buf_take(struct util_buf *b, size_t *len)
{
	uint8_t *p = b->data;

	if (len != NULL)
		*len = b->len;
	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}

void
util_buf_clear(struct util_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

void
util_buf_clear_secret(struct util_buf *b)
{
	if (b->data != NULL)
		util_zero(b->data, b->cap);
	util_buf_clear(b);
}

/* The two lower-case hex digits of each byte value. */
#define HEXC(x) ((char)((x) < 10 ? '0' + (x) : 'a' + (x)-10))
#define HEXP(b)                                                                \
	{                                                                      \
		HEXC((b) >> 4), HEXC((b)&15)                                   \
	}
#define HEXP4(b) HEXP(b), HEXP((b) + 1), HEXP((b) + 2), HEXP((b) + 3)
#define HEXP16(b) HEXP4(b), HEXP4((b) + 4), HEXP4((b) + 8), HEXP4((b) + 12)
#define HEXP64(b)                                                              \
	HEXP16(b), HEXP16((b) + 16), HEXP16((b) + 32), HEXP16((b) + 48)
static const char hex_pairs[256][2] = {HEXP64(0), HEXP64(64), HEXP64(128),
    HEXP64(192)};

void
util_hex_encode(const uint8_t *p, size_t n, char *out)
{
	size_t i;

	for (i = 0; i < n; i++)
		memcpy(out + 2 * i, hex_pairs[p[i]], 2);
	out[2 * n] = '\0';
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* What both decoders check first: 0, or the error they return. */
static int
hex_lengths(size_t slen, size_t outsz)
{
	if (slen % 2 != 0)
		return CT_ERR_FORMAT;
	if (slen / 2 > outsz || slen / 2 > (size_t)INT32_MAX)
		return CT_ERR_TOO_BIG;
	return 0;
}

int
util_hex_decode(const char *s, size_t slen, uint8_t *out, size_t outsz)
{
	size_t i;
	int hi, lo, rc;

	if ((rc = hex_lengths(slen, outsz)) != 0)
		return rc;
	for (i = 0; i < slen / 2; i++) {
		hi = hexval(s[2 * i]);
		lo = hexval(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return CT_ERR_FORMAT;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return (int)(slen / 2);
}

/* 0x10 | the value of a lower-case hex digit; 0 for any other byte. */
static const uint8_t hex_lower[256] = {
    ['0'] = 0x10,
    ['1'] = 0x11,
    ['2'] = 0x12,
    ['3'] = 0x13,
    ['4'] = 0x14,
    ['5'] = 0x15,
    ['6'] = 0x16,
    ['7'] = 0x17,
    ['8'] = 0x18,
    ['9'] = 0x19,
    ['a'] = 0x1a,
    ['b'] = 0x1b,
    ['c'] = 0x1c,
    ['d'] = 0x1d,
    ['e'] = 0x1e,
    ['f'] = 0x1f,
};

#define BYTES_01 UTIL_BYTES_01
#define BYTES_80 UTIL_BYTES_80

/*
 * Eight lower-case hex digits at s to four bytes; false when one of them
 * is no such digit. In v, s[0] is the low byte. Once no byte has its top
 * bit set, adding to v carries nothing from byte to byte, and per byte
 * b + (0x80 - lo) has its top bit set when b >= lo, b + (0x7f - hi) when
 * b > hi. A digit's value is its low four bits, plus 9 for 'a' to 'f'.
 */
static bool
hex8_lower(const char *s, uint8_t out[4])
{
	uint64_t v, dig, let, n;
	uint32_t w;

	v = util_load_le64(s);
	if ((v & BYTES_80) != 0)
		return false;
	dig = (v + BYTES_01 * (0x80 - '0')) & ~(v + BYTES_01 * (0x7f - '9'));
	let = (v + BYTES_01 * (0x80 - 'a')) & ~(v + BYTES_01 * (0x7f - 'f'));
	if (((dig | let) & BYTES_80) != BYTES_80)
		return false;
	n = (v & BYTES_01 * 0x0f) + (let >> 7 & BYTES_01) * 9;
	/* Byte k holds the value of digit k (< 16): pairs into the low byte
	 * of each 16 bits, then those four bytes together. */
	n = (n << 4 | n >> 8) & 0x00ff00ff00ff00ffULL;
	n = (n | n >> 8) & 0x0000ffff0000ffffULL;
	w = (uint32_t)(n | n >> 16);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	w = __builtin_bswap32(w);
#endif
	memcpy(out, &w, sizeof(w));
	return true;
}

int
util_hex_decode_lower(const char *s, size_t slen, uint8_t *out, size_t outsz)
{
	const uint8_t *u = (const uint8_t *)s;
	unsigned hi, lo, ok = 0x10;
	size_t i = 0;
	int rc;

	if ((rc = hex_lengths(slen, outsz)) != 0)
		return rc;
	for (; i + 4 <= slen / 2; i += 4)
		if (!hex8_lower(s + 2 * i, out + i))
			return CT_ERR_FORMAT;
	/* The rest one byte at a time, checked once at the end: a byte that
	 * is no digit clears bit 0x10. */
	for (; i < slen / 2; i++) {
		hi = hex_lower[u[2 * i]];
		lo = hex_lower[u[2 * i + 1]];
		ok &= hi & lo;
		out[i] = (uint8_t)(hi << 4 | (lo & 0x0f));
	}
	return ok != 0 ? (int)(slen / 2) : CT_ERR_FORMAT;
}

static const char b64chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t
util_b64_encoded_len(size_t n)
{
	return (n + 2) / 3 * 4;
}

void
util_b64_encode(const uint8_t *p, size_t n, char *out)
{
	size_t i, o = 0;
	uint32_t v;

	for (i = 0; i + 2 < n; i += 3) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		out[o++] = b64chars[v >> 18 & 63];
		out[o++] = b64chars[v >> 12 & 63];
		out[o++] = b64chars[v >> 6 & 63];
		out[o++] = b64chars[v & 63];
	}
	if (n - i == 1) {
		v = (uint32_t)p[i] << 16;
		out[o++] = b64chars[v >> 18 & 63];
		out[o++] = b64chars[v >> 12 & 63];
		out[o++] = '=';
		out[o++] = '=';
	} else if (n - i == 2) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
		out[o++] = b64chars[v >> 18 & 63];
		out[o++] = b64chars[v >> 12 & 63];
		out[o++] = b64chars[v >> 6 & 63];
		out[o++] = '=';
	}
	out[o] = '\0';
}

static int
b64val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int
util_b64_decode(const char *s, size_t slen, uint8_t *out, size_t outsz,
    bool skip_ws)
{
	uint32_t acc = 0;
	size_t i, o = 0;
	int nq = 0, pad = 0, v;
	char c;

	if (slen > (size_t)INT32_MAX)
		return CT_ERR_TOO_BIG;
	for (i = 0; i < slen; i++) {
		c = s[i];
		if (skip_ws &&
		    (c == ' ' || c == '\t' || c == '\r' || c == '\n'))
			continue;
		if (c == '=') {
			/* Padding only in the last two places of a quantum. */
			if (nq < 2)
				return CT_ERR_FORMAT;
			pad++;
			nq++;
			if (nq == 4)
				break;
			continue;
		}
		if (pad > 0)
			return CT_ERR_FORMAT;
		if ((v = b64val(c)) < 0)
			return CT_ERR_FORMAT;
		acc = acc << 6 | (uint32_t)v;
		if (++nq == 4) {
			if (o + 3 > outsz)
				return CT_ERR_TOO_BIG;
			out[o++] = (uint8_t)(acc >> 16);
			out[o++] = (uint8_t)(acc >> 8);
			out[o++] = (uint8_t)acc;
			acc = 0;
			nq = 0;
		}
	}
	if (pad > 0) {
		/* Only whitespace may follow the padding. */
		for (i++; i < slen; i++) {
			c = s[i];
			if (!(skip_ws &&
			        (c == ' ' || c == '\t' || c == '\r' ||
			            c == '\n')))
				return CT_ERR_FORMAT;
		}
		if (nq != 4)
			return CT_ERR_FORMAT;
		acc <<= 6 * pad;
		if (pad == 2) {
			if (acc & 0xffff)
				return CT_ERR_FORMAT;
			if (o + 1 > outsz)
				return CT_ERR_TOO_BIG;
			out[o++] = (uint8_t)(acc >> 16);
		} else {
			if (acc & 0xff)
				return CT_ERR_FORMAT;
			if (o + 2 > outsz)
				return CT_ERR_TOO_BIG;
			out[o++] = (uint8_t)(acc >> 16);
			out[o++] = (uint8_t)(acc >> 8);
		}
	} else if (nq != 0) {
		return CT_ERR_FORMAT;
	}
	return (int)o;
}

static const char *
memfind(const char *h, size_t hlen, const char *needle)
{
	size_t nlen = strlen(needle), i;

	if (nlen > hlen)
		return NULL;
	for (i = 0; i + nlen <= hlen; i++)
		if (h[i] == needle[0] && memcmp(h + i, needle, nlen) == 0)
			return h + i;
	return NULL;
}

bool
util_is_pem(const uint8_t *p, size_t n)
{
	return memfind((const char *)p, n, "-----BEGIN ") != NULL;
}

int
util_pem_next(const char *text, size_t len, size_t *off, char *label,
    size_t labelsz, uint8_t **der, size_t *der_len)
{
	const char *begin, *lab, *labend, *body, *end, *endline, *stop;
	size_t lablen, maxout;
	uint8_t *out = NULL;
	int n;

	*der = NULL;
	*der_len = 0;
	if (*off >= len)
		return CT_ERR_NOT_FOUND;
	stop = text + len;
	begin = memfind(text + *off, len - *off, "-----BEGIN ");
	if (begin == NULL) {
		*off = len;
		return CT_ERR_NOT_FOUND;
	}
	lab = begin + 11;
	labend = memfind(lab, (size_t)(stop - lab), "-----");
	if (labend == NULL || memchr(lab, '\n', (size_t)(labend - lab))) {
		*off = (size_t)(lab - text);
		return CT_ERR_FORMAT;
	}
	lablen = (size_t)(labend - lab);
	if (label != NULL && labelsz > 0) {
		if (lablen >= labelsz)
			lablen = labelsz - 1;
		memcpy(label, lab, lablen);
		label[lablen] = '\0';
	}
	body = labend + 5;
	*off = (size_t)(body - text);
	end = memfind(body, (size_t)(stop - body), "-----END ");
	if (end == NULL)
		return CT_ERR_TRUNCATED;
	endline = memfind(end + 9, (size_t)(stop - end - 9), "-----");
	if (endline == NULL)
		return CT_ERR_TRUNCATED;
	if ((size_t)(end - body) > UTIL_PEM_MAX_BYTES * 2)
		return CT_ERR_TOO_BIG;
	maxout = (size_t)(end - body) / 4 * 3 + 3;
	if ((out = malloc(maxout ? maxout : 1)) == NULL)
		return CT_ERR_NOMEM;
	n = util_b64_decode(body, (size_t)(end - body), out, maxout, true);
	*off = (size_t)(endline + 5 - text);
	if (n < 0) {
		free(out);
		return n;
	}
	if (n == 0) {
		free(out);
		return CT_ERR_FORMAT;
	}
	*der = out;
	*der_len = (size_t)n;
	return 0;
}

int
util_read_file(const char *path, size_t max_bytes, uint8_t **out, size_t *len)
{
	struct util_buf b;
	uint8_t chunk[16384];
	ssize_t n;
	int fd, rc = 0, saved;

	*out = NULL;
	*len = 0;
	util_buf_init(&b, max_bytes);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return CT_ERR_IO;
	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = CT_ERR_IO;
			break;
		}
		if (n == 0)
			break;
		if ((rc = util_buf_append(&b, chunk, (size_t)n)) != 0)
			break;
	}
	saved = errno;
	close(fd);
	if (rc == 0)
		rc = util_buf_cstr(&b);
	if (rc != 0) {
		util_buf_clear(&b);
		errno = saved;
		return rc;
	}
	*out = util_buf_take(&b, len);
	return 0;
}

/* Howard Hinnant's days_from_civil. */
int64_t
util_days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/*
 * Day number (0 is 1970-01-01) to a proleptic Gregorian date; the inverse
 * of util_days_from_civil (H. Hinnant's civil_from_days).
 */
static void
civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
	*m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

/* Two decimal digits of v (< 100). */
static void
put2(char *p, unsigned v)
{
	p[0] = (char)('0' + v / 10);
	p[1] = (char)('0' + v % 10);
}

/* The range the four-digit year of the format can show. */
#define RFC3339_MIN_T (-62167219200LL) /* 0000-01-01T00:00:00Z */
#define RFC3339_MAX_T 253402300799LL   /* 9999-12-31T23:59:59Z */

/*
 * By hand rather than gmtime_r and snprintf (this runs for every row
 * ctctl prints); the unit test holds it to the gmtime_r output.
 */
void
util_time_rfc3339(int64_t t, char out[UTIL_RFC3339_LEN])
{
	static const char zero[UTIL_RFC3339_LEN] = "0000-00-00T00:00:00Z";
	int64_t days, secs, y;
	unsigned m, d;

	if (t < RFC3339_MIN_T || t > RFC3339_MAX_T) {
		memcpy(out, zero, UTIL_RFC3339_LEN);
		return;
	}
	days = t / 86400;
	secs = t % 86400;
	if (secs < 0) {
		secs += 86400;
		days--;
	}
	civil_from_days(days, &y, &m, &d);
	put2(out, (unsigned)y / 100);
	put2(out + 2, (unsigned)y % 100);
	out[4] = '-';
	put2(out + 5, m);
	out[7] = '-';
	put2(out + 8, d);
	out[10] = 'T';
	put2(out + 11, (unsigned)secs / 3600);
	out[13] = ':';
	put2(out + 14, (unsigned)secs / 60 % 60);
	out[16] = ':';
	put2(out + 17, (unsigned)secs % 60);
	out[19] = 'Z';
	out[20] = '\0';
}

static int
digits(const char *s, size_t n, unsigned *out)
{
	unsigned v = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	*out = v;
	return 0;
}

int
util_time_parse_rfc3339(const char *s, size_t n, int64_t *out)
{
	static const unsigned mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31};
	unsigned y, mo, d, h, mi, sec, oh, om;
	size_t i = 19;
	int64_t t;

	if (n < 20)
		return CT_ERR_FORMAT;
	if (digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) ||
	    s[7] != '-' || digits(s + 8, 2, &d) ||
	    (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
	    digits(s + 11, 2, &h) || s[13] != ':' || digits(s + 14, 2, &mi) ||
	    s[16] != ':' || digits(s + 17, 2, &sec))
		return CT_ERR_FORMAT;
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 ||
	    mi > 59 || sec > 60)
		return CT_ERR_FORMAT;
	if (mo == 2 && d == 29 &&
	    (y % 4 != 0 || (y % 100 == 0 && y % 400 != 0)))
		return CT_ERR_FORMAT; /* not a leap year */
	if (s[i] == '.') {
		for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++)
			;
		if (s[i - 1] == '.')
			return CT_ERR_FORMAT;
	}
	t = util_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 +
	    (sec == 60 ? 59 : sec);
	if (i < n && (s[i] == 'Z' || s[i] == 'z') && i + 1 == n) {
		*out = t;
		return 0;
	}
	if (i + 6 == n && (s[i] == '+' || s[i] == '-') &&
	    !digits(s + i + 1, 2, &oh) && s[i + 3] == ':' &&
	    !digits(s + i + 4, 2, &om) && oh < 24 && om < 60) {
		if (s[i] == '+')
			t -= oh * 3600 + om * 60;
		else
			t += oh * 3600 + om * 60;
		*out = t;
		return 0;
	}
	return CT_ERR_FORMAT;
}

int64_t
util_now(void)
{
	return (int64_t)time(NULL);
}

int64_t
util_now_ms(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

void
util_sanitize(const char *in, size_t n, char *out, size_t outsz)
{
	size_t i, m;
	unsigned char c;

	if (outsz == 0)
		return;
	m = n < outsz - 1 ? n : outsz - 1;
	for (i = 0; i < m; i++) {
		c = (unsigned char)in[i];
		out[i] = (c < 0x20 || c >= 0x7f || c == '|') ? '?' : (char)c;
	}
	if (m < n && outsz >= 4)
		memcpy(out + outsz - 4, "...", 3);
	out[m] = '\0';
}

void
util_why(char *why, size_t whysz, const char *fmt, ...)
{
	char msg[UTIL_WHY_MAX_BYTES];
	va_list ap;

	if (why == NULL || whysz == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	util_sanitize(msg, strlen(msg), why, whysz);
}

int
util_parse_u64(const char *s, size_t n, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (n == 0 || n > 20)
		return CT_ERR_FORMAT;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return CT_ERR_FORMAT;
		if (v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return CT_ERR_TOO_BIG;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > max)
		return CT_ERR_TOO_BIG;
	*out = v;
	return 0;
}

bool
util_ct_equal(const void *a, const void *b, size_t n)
{
	const volatile uint8_t *x = a, *y = b;
	uint8_t d = 0;
	size_t i;

	for (i = 0; i < n; i++)
		d |= x[i] ^ y[i];
	return d == 0;
}

void
util_zero(void *p, size_t n)
{
	explicit_bzero(p, n);
}
