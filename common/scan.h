/*
 * scan: finds the certificates deployed on this server (DESIGN.md section
 * 4; REFERENCE.md section 3.2, rules 9 and 10).
 *
 * Roots are the configured certificate directories, or by default those
 * of dehydrated and certbot that exist. A root holding "live" or
 * "archive" is read as certbot's: only live/NAME/{cert,fullchain}*.pem
 * and archive/NAME/{cert,fullchain}*.pem. Any other root (dehydrated's
 * certs/NAME/cert-TS.pem, fullchain-TS.pem, chain-TS.pem, or a plain
 * directory) is walked, up to SCAN_MAX_DEPTH levels, for *.pem, *.crt,
 * *.cer and *.der files.
 *
 * Rules:
 * - A file named like a private key (privkey*, *.key, *key*.pem,
 *   *private*) is skipped by name and never opened, nor is a symlink
 *   whose name or target is named so.
 * - A symlink is followed only when its realpath() lies inside a root.
 *   Files are opened with O_NOFOLLOW (beneath the root with openat2()
 *   RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS where the kernel has it), and
 *   fstat() must show a regular file with the device and inode that
 *   lstat() showed.
 * - A file that turns out to contain a PRIVATE KEY block is skipped
 *   whole; its bytes are zeroed and never logged.
 * - The server's certificate is a file's first certificate, and only when
 *   it is not a CA: chain files give nothing, fullchain files their leaf.
 * - Directories are visited once (device and inode), so bind-mount and
 *   symlink loops end; sizes, entries and depth are capped.
 * Each skip is logged through the caller's callback as
 * "PATH: skipped: REASON" (PATH sanitised); the library prints nothing.
 */
#ifndef CT_SCAN_H
#define CT_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cert.h"
#include "store.h"

#define SCAN_MAX_FILE_BYTES (1024 * 1024) /* one certificate file */
#define SCAN_MAX_ENTRIES 100000           /* directory entries per scan */
#define SCAN_MAX_DEPTH 8                  /* levels below a root */
#define SCAN_MAX_ROOTS 64

/* Why an entry was skipped. Printed through scan_skip_names. */
enum scan_skip {
	SCAN_SKIP_KEY_NAME,    /* named like a private key: not opened */
	SCAN_SKIP_KEY_CONTENT, /* contains a private key */
	SCAN_SKIP_OUTSIDE,     /* symlink resolves outside every root */
	SCAN_SKIP_LINK,        /* symlink loop or dangling symlink */
	SCAN_SKIP_DIR_LOOP,    /* directory already visited */
	SCAN_SKIP_DEPTH,       /* deeper than SCAN_MAX_DEPTH */
	SCAN_SKIP_UNREADABLE,  /* permission denied */
	SCAN_SKIP_TOO_BIG,     /* over SCAN_MAX_FILE_BYTES */
	SCAN_SKIP_SPECIAL,     /* not a regular file or directory */
	SCAN_SKIP_CHANGED,     /* changed between lstat and open */
	SCAN_SKIP_NOT_CERT,    /* no parseable certificate */
	SCAN_SKIP_CA,          /* first certificate is a CA (chain file) */
	SCAN_SKIP_NAME,        /* name not looked at in this layout */
	SCAN_SKIP_ERROR,       /* other I/O error */
	SCAN_SKIP__MAX
};

extern const char *const scan_skip_names[SCAN_SKIP__MAX];

enum scan_root_kind {
	SCAN_ROOT_PLAIN,   /* walked for certificate file names */
	SCAN_ROOT_CERTBOT, /* live/ and archive/ only */
	SCAN_ROOT__MAX
};

extern const char *const scan_root_kind_names[SCAN_ROOT__MAX];

/* The default roots looked for, in this order. */
#define SCAN_N_DEFAULT_ROOTS 3
extern const char *const scan_default_root_paths[SCAN_N_DEFAULT_ROOTS];

struct scan_root {
	char *path; /* as configured */
	char *real; /* realpath(), or NULL when it could not be resolved */
	enum scan_root_kind kind;
	bool found; /* exists and is a directory */
};

/* One deployed leaf certificate (distinct tbs_sha256). */
struct scan_cert {
	struct ct_cert *cert;
	/*
	 * Where it was found: a path through "cert.pem" or "fullchain.pem"
	 * when there is one (the ACME clients' current link), else the first
	 * file in walk order (names sorted, roots in the given order).
	 */
	char *path;
	bool live;    /* found through cert.pem or fullchain.pem */
	bool learned; /* new in the store: this scan added it */
	size_t files; /* files holding it as their leaf */
};

struct scan_result {
	struct scan_cert *certs;
	size_t n_certs;
	struct scan_root *roots;
	size_t n_roots;
	size_t files;   /* files read */
	size_t entries; /* directory entries looked at */
	size_t skipped[SCAN_SKIP__MAX];
	size_t store_errors; /* store_put failures (logged) */
	bool truncated;      /* SCAN_MAX_ENTRIES reached: not everything seen */
};

struct scan_opts {
	/* Roots to scan; NULL or n_roots 0: the default roots that exist. */
	const char *const *roots;
	size_t n_roots;
	/* Where leaves are learned (store_put), or NULL. */
	struct store *store;
	int64_t now; /* first_seen for new records */
	/*
	 * Also log the skips every scan of a normal layout makes: private
	 * keys by name, chain files, names the layout does not look at.
	 */
	bool verbose;
	void (*log)(void *arg, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
	void *log_arg;
};

/*
 * Scans the roots. *out is always set on 0 (free with scan_result_free).
 * Unreadable or odd entries are skipped, logged and counted, never fatal;
 * returns CT_ERR_INVALID for bad options or CT_ERR_NOMEM.
 */
int scan_run(const struct scan_opts *opts, struct scan_result **out);
void scan_result_free(struct scan_result *r);

/*
 * The default roots that exist under sysroot (NULL or "" for "/"), as a
 * malloc'd array of malloc'd paths (scan_roots_free).
 */
int scan_default_roots(const char *sysroot, char ***roots, size_t *n);
void scan_roots_free(char **roots, size_t n);

/* True when a file name looks like a private key (rule 9). */
bool scan_is_key_name(const char *name);

#endif
