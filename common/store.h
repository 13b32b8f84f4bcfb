/*
 * store: the known-certificate store (DESIGN.md section 4).
 *
 * A directory holding one file per certificate, "<tbs_sha256 hex>.rec":
 *
 *	tbs_sha256: <64 hex>
 *	sha256: <64 hex>
 *	spki_sha256: <64 hex>
 *	serial: <lower-case hex>
 *	not_before: <RFC 3339>
 *	not_after: <RFC 3339>
 *	first_seen: <RFC 3339>
 *	source: <path where first seen, sanitised>
 *	names: <DNS SANs (or the CN when none), sanitised, space-separated>
 *	<blank line>
 *	-----BEGIN CERTIFICATE-----
 *	...
 *	-----END CERTIFICATE-----
 *
 * A record is valid only when every header line above is present once and
 * well formed, the PEM block is the last thing in the file and parses as a
 * certificate, and that certificate's tbs_sha256 and sha256 (and serial
 * and validity) equal the header's and the file name's. A torn or foreign
 * file is therefore never taken for a record. The certificate is the
 * authority: in memory, names, serial and validity come from it; the
 * header copies are for people and grep.
 *
 * Writers hold flock(LOCK_EX) on ".lock" while writing; they write
 * ".tmp-<random>" (O_EXCL, 0644), fsync it, rename it to the record name
 * and fsync the directory. Readers take no lock. A record is never
 * rewritten, so first_seen survives.
 *
 * ".index" caches the validation: for each record, the identity of the
 * file validated (device, inode, size, modification and change times)
 * and what was read from it. store_open takes a record whose file still
 * has that identity from the index instead of reading and validating it
 * again; every other file is validated in full, and a writable
 * store_open then replaces the index. A bad index is ignored whole.
 */
#ifndef CT_STORE_H
#define CT_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cert.h"

#define STORE_MAX_RECORDS 100000            /* valid records in one store */
#define STORE_MAX_RECORD_BYTES (512 * 1024) /* one record file */
#define STORE_MAX_DIR_ENTRIES 250000        /* entries store_open looks at */
#define STORE_MAX_SOURCE_BYTES 1024         /* source path kept (cut) */
#define STORE_REC_NAME_LEN 68               /* 64 hex + ".rec" */
#define STORE_MAX_INDEX_BYTES (64 * 1024 * 1024) /* the ".index" file */

/* store_opts.flags */
#define STORE_RDONLY 0x1 /* no lock, no clean-up, no mkdir, no store_put */

struct store;

/* One record's metadata, held in memory: lookups need no disk I/O. */
struct store_rec {
	uint8_t tbs_sha256[32];
	uint8_t sha256[32];
	uint8_t spki_sha256[32];
	char *serial; /* lower-case hex of the INTEGER content */
	int64_t not_before;
	int64_t not_after;
	int64_t first_seen;
	char *source; /* sanitised, single line */
	/* DNS SANs as in the certificate, or its CN when it has none. */
	struct cert_name *names;
	size_t n_names;
	bool precert;
	bool is_ca;
};

struct store_stats {
	size_t records;     /* valid records in the index */
	size_t invalid;     /* "*.rec" files ignored (torn, foreign, bad) */
	size_t indexed;     /* records taken from the index, not read */
	size_t tmp_removed; /* stale ".tmp-*" files removed by store_open */
	size_t tmp_left;    /* ".tmp-*" files seen but left (read-only) */
	size_t other;       /* other directory entries, ignored */
};

struct store_opts {
	unsigned flags;     /* STORE_RDONLY */
	size_t max_records; /* 0: STORE_MAX_RECORDS */
	/* Told about each ignored file (may be NULL). Never given secrets. */
	void (*log)(void *arg, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
	void *log_arg;
};

/*
 * Opens the store in dir (created, mode 0755, when missing and not
 * read-only) and loads every valid record. Unless read-only, it takes the
 * lock for the load and removes stale ".tmp-*" files. opts may be NULL.
 * Returns 0, CT_ERR_TOO_BIG when the directory holds more than
 * max_records valid records or STORE_MAX_DIR_ENTRIES entries, CT_ERR_IO
 * (errno kept) or CT_ERR_NOMEM.
 */
int store_open(const char *dir, const struct store_opts *opts,
    struct store **out);
void store_free(struct store *st);

/*
 * Loads records that other processes added since store_open (no lock
 * taken, nothing removed). *added (may be NULL) receives how many.
 */
int store_refresh(struct store *st, size_t *added);

size_t store_count(const struct store *st);
/*
 * Changes whenever the records in memory change (store_put, store_refresh
 * adding one) and differs between any two stores of the process, so that
 * a value computed from the records can be kept while it stays the same.
 * Never 0.
 */
uint64_t store_generation(const struct store *st);
/* NULL when unknown. The pointer stays valid until store_free. */
const struct store_rec *store_find(const struct store *st,
    const uint8_t tbs_sha256[32]);
/* Records in load order, i < store_count(); NULL past the end. */
const struct store_rec *store_get(const struct store *st, size_t i);
/*
 * Calls cb for each record until it returns non-zero, which is then
 * returned; 0 after the last record.
 */
int store_foreach(const struct store *st,
    int (*cb)(const struct store_rec *rec, void *arg), void *arg);
void store_get_stats(const struct store *st, struct store_stats *out);

/*
 * Records c, first seen at source (a path: sanitised and cut to
 * STORE_MAX_SOURCE_BYTES) at time now. *added (may be NULL) is set when a
 * new record was written, cleared when c's tbs_sha256 was already known,
 * by this handle or on disk (then nothing is written: first_seen stays).
 * Returns 0, CT_ERR_INVALID on a read-only store, CT_ERR_TOO_BIG at
 * max_records or when the record would exceed STORE_MAX_RECORD_BYTES,
 * CT_ERR_IO (errno kept) or CT_ERR_NOMEM.
 */
int store_put(struct store *st, const struct ct_cert *c, const char *source,
    int64_t now, bool *added);

/*
 * Reads the record of tbs_sha256 from disk again and returns its
 * certificate (cert_free). CT_ERR_NOT_FOUND when not in the index, or the
 * validation error when the file no longer holds a valid record.
 */
int store_load_cert(const struct store *st, const uint8_t tbs_sha256[32],
    struct ct_cert **out);

/* The directory the store was opened on. */
const char *store_dir(const struct store *st);

#endif
