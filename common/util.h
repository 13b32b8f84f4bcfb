/*
 * util: error codes, capped buffers, hex and base64, PEM, RFC 3339 time,
 * text sanitising, capped file reads.
 */
#ifndef CT_UTIL_H
#define CT_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

/* Every library function returns 0 or one of these (negative). */
enum ct_err {
	CT_OK = 0,
	CT_ERR_NOMEM = -1,     /* allocation failed */
	CT_ERR_TRUNCATED = -2, /* input ends before the structure does */
	CT_ERR_FORMAT = -3,    /* malformed input */
	CT_ERR_TOO_BIG = -4,   /* a cap was reached */
	CT_ERR_UNSUPPORTED =
	    -5, /* well-formed, but an algorithm or form we lack */
	CT_ERR_SIGNATURE = -6, /* a signature does not verify */
	CT_ERR_NOT_FOUND = -7, /* no such item */
	CT_ERR_IO = -8,        /* a system call failed; errno is kept */
	CT_ERR_CRYPTO = -9,    /* the crypto library failed */
	CT_ERR_INVALID = -10,  /* a bad argument from the caller */
	CT_ERR_TRAILING = -11, /* bytes after the end of a structure */
	CT_ERR_TIMEOUT = -12,  /* a deadline passed */
	CT_ERR_AUTH = -13,     /* peer not authorised or pin mismatch */
	CT_ERR_PROTO = -14,    /* protocol violation by the peer */
	CT_ERR_CLOCK = -15,    /* timestamp outside the allowed window */
	CT_ERR_REPLAY = -16,   /* nonce already seen */
	CT_ERR_CLOSED = -17,   /* peer closed the connection */
	CT_ERR__MIN = -18
};

const char *ct_strerror(int err);

/* Growable byte buffer that refuses to grow past max. */
struct util_buf {
	uint8_t *data;
	size_t len;
	size_t cap;
	size_t max;
};

void util_buf_init(struct util_buf *b, size_t max_bytes);
int util_buf_reserve(struct util_buf *b, size_t extra);
int util_buf_append(struct util_buf *b, const void *p, size_t n);
int util_buf_append_str(struct util_buf *b, const char *s);
int util_buf_printf(struct util_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Big-endian binary writers (the TLS presentation language). */
int util_buf_put_u64(struct util_buf *b, uint64_t v);
/* uint16 length, then the n bytes; CT_ERR_TOO_BIG past 65535. */
int util_buf_put_vec16(struct util_buf *b, const void *p, size_t n);
/* NUL-terminates without counting the NUL in len. */
int util_buf_cstr(struct util_buf *b);
/* Hands the data to the caller, who frees it; the buffer is left empty. */
uint8_t *util_buf_take(struct util_buf *b, size_t *len);
void util_buf_clear(struct util_buf *b);
/* As util_buf_clear, zeroing the bytes first. */
void util_buf_clear_secret(struct util_buf *b);

/* Hex: lower case. out must hold 2*n+1 bytes. */
void util_hex_encode(const uint8_t *p, size_t n, char *out);
/* Decodes exactly; returns bytes written or a negative ct_err. */
int util_hex_decode(const char *s, size_t slen, uint8_t *out, size_t outsz);
/*
 * As util_hex_decode, but only lower-case digits are accepted (what
 * util_hex_encode writes); CT_ERR_FORMAT for any other byte. out may be
 * partly written when it fails.
 */
int util_hex_decode_lower(const char *s, size_t slen, uint8_t *out,
    size_t outsz);

/* Standard base64 with padding. */
size_t util_b64_encoded_len(size_t n);
/* out must hold util_b64_encoded_len(n)+1 bytes; NUL-terminated. */
void util_b64_encode(const uint8_t *p, size_t n, char *out);
/*
 * Strict decode of standard base64 (padding required). Whitespace is
 * skipped when skip_ws is set (PEM bodies). Returns bytes written to out
 * or a negative ct_err; never writes past outsz.
 */
int util_b64_decode(const char *s, size_t slen, uint8_t *out, size_t outsz,
    bool skip_ws);

/*
 * PEM: finds the next "-----BEGIN <label>-----" block at or after *off in
 * text, decodes it into a malloc'd buffer, and advances *off past its END
 * line. label receives the block's label (NUL-terminated, truncated to
 * labelsz). Returns 0, CT_ERR_NOT_FOUND when no further block, or another
 * negative ct_err for a malformed block (then *off is past its BEGIN line).
 */
#define UTIL_PEM_MAX_BYTES (1024 * 1024)
int util_pem_next(const char *text, size_t len, size_t *off, char *label,
    size_t labelsz, uint8_t **der, size_t *der_len);

/* True when the bytes look like PEM (a BEGIN line anywhere). */
bool util_is_pem(const uint8_t *p, size_t n);

/* Reads at most max_bytes (CT_ERR_TOO_BIG beyond); adds a NUL not counted. */
int util_read_file(const char *path, size_t max_bytes, uint8_t **out,
    size_t *len);

/* Time. Seconds since the epoch, UTC. */
#define UTIL_RFC3339_LEN 21 /* "2026-11-27T21:08:40Z" + NUL */
void util_time_rfc3339(int64_t t, char out[UTIL_RFC3339_LEN]);
/* Accepts "YYYY-MM-DDTHH:MM:SS[.frac](Z|+hh:mm|-hh:mm)". */
int util_time_parse_rfc3339(const char *s, size_t n, int64_t *out);
/* Civil date to epoch seconds without the C library's time zone. */
int64_t util_days_from_civil(int64_t y, unsigned m, unsigned d);
int64_t util_now(void);
int64_t util_now_ms(void);

/*
 * Copies text for plugin output or logs: no '|', no control bytes, no
 * bytes >= 0x7f (each becomes '?'), at most outsz-1 bytes, "..." marking a
 * cut. Always NUL-terminates (outsz >= 4).
 */
void util_sanitize(const char *in, size_t n, char *out, size_t outsz);

/*
 * Formats a reason into why (whysz bytes; nothing when why is NULL),
 * passed through util_sanitize: reasons may quote untrusted text.
 */
#define UTIL_WHY_MAX_BYTES 4352 /* formatted before the cut to whysz */
void util_why(char *why, size_t whysz, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Parses a whole decimal string with range checks (no atoi). */
int util_parse_u64(const char *s, size_t n, uint64_t max, uint64_t *out);

/* Eight bytes at a time (SWAR): every byte 0x01, every byte 0x80. */
#define UTIL_BYTES_01 0x0101010101010101ULL
#define UTIL_BYTES_80 0x8080808080808080ULL

/* The eight bytes at p as an integer with p[0] in its low byte, on any
 * host. */
static inline uint64_t
util_load_le64(const void *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap64(v);
#endif
	return v;
}

/* Constant-time comparison. */
bool util_ct_equal(const void *a, const void *b, size_t n);
void util_zero(void *p, size_t n);

#endif
