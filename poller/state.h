/*
 * state: check_ct's state directory (crt.sh certificate cache, Cert
 * Spotter cursors), shared by up to hundreds of concurrent plugin runs
 * (REFERENCE.md 2.8).
 *
 * Layout under the directory:
 *	<relpath>		files written by state_write
 *	.../.~tmp-<16 hex>	a write in progress (or left by a killed run)
 *	.~locks/<name>		lock files of state_lock
 * Names holding '~' belong to this module: relpaths cannot contain '~',
 * so no caller can name (and so overwrite or read) a lock or temp file.
 *
 * Safety:
 * - state_open refuses a directory that is a symbolic link, is not a
 *   directory, is not owned by the effective user, or is group- or
 *   world-writable. A missing directory is created (with its missing
 *   parents) with mode 0700.
 * - Every path below it is walked one component at a time with
 *   O_NOFOLLOW: a symlink inside the directory is never followed.
 * - state_write is atomic: a unique temporary file in the target's
 *   directory (O_CREAT|O_EXCL, random name), write, fsync, rename over the
 *   target, fsync of the directory. A reader sees the old file or the new
 *   one, never a mix, and a crash leaves the old one whole.
 * - state_lock is flock(LOCK_EX) with a timeout, polled with LOCK_NB, so a
 *   stuck run cannot block the others forever.
 *
 * Nothing here prints; errors come back as a negative ct_err and, where a
 * why buffer is given, one line a person can act on.
 */
#ifndef CT_STATE_H
#define CT_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define STATE_MAX_RELPATH_BYTES 255 /* a relpath or lock name */
#define STATE_MAX_COMPONENTS 8      /* directory depth of a relpath */
#define STATE_MAX_DIR_BYTES 4000    /* the state directory's own path */
#define STATE_LOCK_POLL_MS 5        /* flock(LOCK_NB) retry interval */
#define STATE_LOCK_DEFAULT_MS 2000  /* a sensible state_lock timeout */
#define STATE_TMP_STALE_S 3600      /* state_clean_tmp: older is stale */
#define STATE_WHY_LEN 256
#define STATE_TMP_PREFIX ".~tmp-"
#define STATE_LOCK_DIR ".~locks"

struct state;
struct state_lock;

/* state.c */

/*
 * Opens (creating when missing, mode 0700) the state directory dir.
 * Returns 0 with *out set, or CT_ERR_INVALID (bad argument), CT_ERR_AUTH
 * (not owned by the effective user, or group/world-writable), CT_ERR_FORMAT
 * (a symlink or not a directory), CT_ERR_IO, CT_ERR_NOMEM. why (may be
 * NULL) receives a reason naming the directory.
 */
int state_open(const char *dir, struct state **out, char *why, size_t whysz);
/* Accepts NULL. Locks taken from st must be released first. */
void state_close(struct state *st);
/* The directory's path as given to state_open. */
const char *state_path(const struct state *st);

/*
 * 0 when relpath is acceptable: 1..STATE_MAX_RELPATH_BYTES bytes of
 * [A-Za-z0-9._-/], not absolute, no empty, "." or ".." component, at most
 * STATE_MAX_COMPONENTS components. CT_ERR_INVALID otherwise.
 */
int state_relpath_check(const char *relpath);

/*
 * Reads relpath into a malloc'd buffer (*buf, freed by the caller; a NUL
 * follows the *len bytes, not counted). CT_ERR_NOT_FOUND when the file (or
 * a directory on the way) is absent; CT_ERR_TOO_BIG past max_bytes;
 * CT_ERR_FORMAT when it is a symlink or not a regular file; CT_ERR_INVALID
 * for a bad relpath; CT_ERR_IO.
 */
int state_read(struct state *st, const char *relpath, size_t max_bytes,
    uint8_t **buf, size_t *len);

/*
 * Replaces relpath atomically with len bytes (mode 0600), creating missing
 * directories on the way (0700). 0, CT_ERR_INVALID (bad relpath), CT_ERR_IO
 * (errno kept), CT_ERR_FORMAT (a symlink on the way). No temporary file is
 * left behind on any error return.
 */
int state_write(struct state *st, const char *relpath, const void *bytes,
    size_t len);
/*
 * The same; without durable, neither the file nor the directory is
 * fsynced: still atomic for readers, but a crash may lose the update (or
 * leave an empty file). For small, often rewritten state whose loss does
 * no harm (the shared rate of ratelimit.h).
 */
int state_write_ex(struct state *st, const char *relpath, const void *bytes,
    size_t len, bool durable);

/*
 * Takes the exclusive lock name ([A-Za-z0-9._-], 1..STATE_MAX_RELPATH_BYTES
 * bytes, not "." or ".."), waiting at most timeout_ms (0: one try).
 * Returns 0 with *out set, CT_ERR_TIMEOUT when another holder kept it past
 * the deadline, CT_ERR_INVALID, CT_ERR_IO, CT_ERR_NOMEM. The lock is held
 * by its own open file, so two state_lock calls exclude each other even in
 * one process; it is released by state_unlock or when the process dies.
 * Polling blocks the calling thread: keep timeouts short on a loop thread.
 */
int state_lock(struct state *st, const char *name, uint32_t timeout_ms,
    struct state_lock **out);
/* Releases and frees the lock. Accepts NULL. */
void state_unlock(struct state_lock *l);

/*
 * Removes temporary files left in directory reldir ("" for the top) by
 * killed runs: entries named STATE_TMP_PREFIX* last modified more than
 * older_than_s seconds ago (a live writer's file is young). *removed (may
 * be NULL) gets the count. CT_ERR_NOT_FOUND when reldir does not exist.
 */
int state_clean_tmp(struct state *st, const char *reldir, int64_t older_than_s,
    size_t *removed);

#endif
