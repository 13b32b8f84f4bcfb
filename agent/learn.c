/*
 * learn: keeping the deployed set and the store up to date.
 *
 * A scan (common/scan) reads the certificate directories, never opening
 * a private key, and puts every new leaf into the store. Scans run at
 * start, AGENT_DEBOUNCE_MS after a watched directory changes (at most
 * AGENT_DEBOUNCE_MAX_MS after the first change of a burst), every
 * rescan_interval, and on SIGHUP. Watched are each root and the real
 * directories up to AGENT_WATCH_DEPTH levels below it (dehydrated's
 * certs/NAME/, certbot's live/NAME/ and archive/NAME/); symlinks are not
 * followed. Deeper changes are caught by the periodic rescan.
 *
 * The store directory is watched too, so that records added by
 * `ct-agent --import` (another process) are served within a second.
 *
 * Scans run on the loop thread: a scan of a normal server takes
 * milliseconds, and it keeps the store single-threaded.
 */
#define _GNU_SOURCE /* memmem */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agent.h"
#include "cert.h"

/* New certificates named one by one in the log per scan. */
#define LEARN_LOG_NEW_MAX 20
#define LEARN_SOURCE_BYTES (PATH_MAX + 32)

struct watch {
	uv_fs_event_t h;
	struct agent *a;
	struct watch *next;
	char path[]; /* NUL-terminated */
};

static void sync_watches(struct agent *a);

/* ------------------------------------------------------------ scans */

static size_t
unexpected_skips(const struct scan_result *r)
{
	size_t i, n = 0;

	for (i = 0; i < SCAN_SKIP__MAX; i++)
		if (i != SCAN_SKIP_KEY_NAME && i != SCAN_SKIP_CA &&
		    i != SCAN_SKIP_NAME)
			n += r->skipped[i];
	return n;
}

/* True when the deployed set differs from the previous scan's. */
static bool
deployed_changed(const struct scan_result *old, const struct scan_result *r)
{
	size_t i;

	if (old == NULL || old->n_certs != r->n_certs)
		return true;
	for (i = 0; i < r->n_certs; i++)
		if (memcmp(old->certs[i].cert->tbs_sha256,
		        r->certs[i].cert->tbs_sha256, 32) != 0 ||
		    strcmp(old->certs[i].path, r->certs[i].path) != 0)
			return true;
	return false;
}

static void
log_new(const struct scan_result *r, size_t n_new)
{
	const struct ct_cert *c;
	char tbs[65];
	size_t i, shown = 0;

	for (i = 0; i < r->n_certs && shown < LEARN_LOG_NEW_MAX; i++) {
		if (!r->certs[i].learned)
			continue;
		c = r->certs[i].cert;
		util_hex_encode(c->tbs_sha256, 32, tbs);
		log_info("learned %s (tbs_sha256 %s) from %s",
		    c->n_dns_names > 0          ? c->dns_names[0].name
		        : c->subject_cn != NULL ? c->subject_cn
		                                : "(no name)",
		    tbs, r->certs[i].path);
		shown++;
	}
	if (n_new > shown)
		log_info("learned %zu more certificates", n_new - shown);
}

int
learn_scan(struct agent *a, const char *why)
{
	struct scan_opts o;
	struct scan_result *r = NULL;
	size_t i, n_new = 0, refreshed = 0;
	uint64_t t0 = uv_hrtime();
	bool changed;
	int rc;

	if ((rc = store_refresh(a->store, &refreshed)) != 0)
		log_warn("store %s: reloading: %s", store_dir(a->store),
		    rc == CT_ERR_IO ? strerror(errno) : ct_strerror(rc));
	memset(&o, 0, sizeof(o));
	o.roots = (const char *const *)a->conf.cert_dirs;
	o.n_roots = a->conf.n_cert_dirs;
	o.store = a->store;
	o.now = util_now();
	o.log = log_cb;
	if ((rc = scan_run(&o, &r)) != 0) {
		log_error("scan (%s) failed: %s", why, ct_strerror(rc));
		return rc;
	}
	for (i = 0; i < r->n_certs; i++)
		if (r->certs[i].learned)
			n_new++;
	changed = deployed_changed(a->scan, r);
	scan_result_free(a->scan);
	a->scan = r;
	a->last_scan = o.now;
	a->scan_generation++;
	log_new(r, n_new);
	if (changed || n_new > 0 || refreshed > 0 || r->store_errors > 0 ||
	    strcmp(why, "periodic") != 0)
		log_info("scan (%s): %zu certificates deployed in %zu files, "
		         "%zu new in the store, %zu skipped, %zu store "
		         "errors; the store holds %zu records (%llu ms)",
		    why, r->n_certs, r->files, n_new, unexpected_skips(r),
		    r->store_errors, store_count(a->store),
		    (unsigned long long)((uv_hrtime() - t0) / 1000000));
	if (r->truncated)
		log_warn("scan stopped after %d directory entries: not every "
		         "certificate was seen",
		    SCAN_MAX_ENTRIES);
	return 0;
}

/* ------------------------------------------------------------ debounce */

static void
on_debounce(uv_timer_t *t)
{
	struct agent *a = t->data;

	if (a->stopping)
		return;
	sync_watches(a); /* new subdirectories: watched before the scan */
	(void)learn_scan(a, "change");
	sync_watches(a); /* roots that appeared */
}

/* A change: scan after a quiet second, but not later than the cap. */
static void
schedule_scan(struct agent *a)
{
	uint64_t now = uv_now(&a->loop), due = AGENT_DEBOUNCE_MS, left;

	if (!uv_is_active((uv_handle_t *)&a->debounce)) {
		a->debounce_first = now;
	} else {
		left = a->debounce_first + AGENT_DEBOUNCE_MAX_MS > now
		    ? a->debounce_first + AGENT_DEBOUNCE_MAX_MS - now
		    : 0;
		if (left < due)
			due = left;
	}
	uv_timer_start(&a->debounce, on_debounce, due, 0);
}

static void
on_rescan(uv_timer_t *t)
{
	struct agent *a = t->data;

	if (a->stopping)
		return;
	(void)learn_scan(a, "periodic");
	sync_watches(a);
}

/* ------------------------------------------------------------ watches */

static void
on_fs_event(uv_fs_event_t *h, const char *filename, int events, int status)
{
	struct watch *w = h->data;

	(void)filename;
	(void)events;
	if (w->a->stopping)
		return;
	if (status < 0)
		log_warn("watching %s: %s", w->path, uv_strerror(status));
	schedule_scan(w->a);
}

static void
on_watch_closed(uv_handle_t *h)
{
	free(h->data);
}

/* A new watch on path, linked into *list. */
static void
add_watch(struct agent *a, struct watch **list, size_t *n, const char *path)
{
	struct watch *w;
	size_t len = strlen(path);
	int rc;

	if (*n >= AGENT_MAX_WATCHES) {
		if (!a->watch_full_logged)
			log_warn("more than %d directories to watch; the "
			         "others are checked by the periodic rescan",
			    AGENT_MAX_WATCHES);
		a->watch_full_logged = true;
		return;
	}
	if ((w = calloc(1, sizeof(*w) + len + 1)) == NULL) {
		log_error("watching %s: out of memory", path);
		return;
	}
	memcpy(w->path, path, len + 1);
	w->a = a;
	if ((rc = uv_fs_event_init(&a->loop, &w->h)) != 0) {
		log_warn("watching %s: %s", path, uv_strerror(rc));
		free(w);
		return;
	}
	w->h.data = w;
	if ((rc = uv_fs_event_start(&w->h, on_fs_event, path, 0)) != 0) {
		log_warn("watching %s: %s", path, uv_strerror(rc));
		uv_close((uv_handle_t *)&w->h, on_watch_closed);
		return;
	}
	w->next = *list;
	*list = w;
	(*n)++;
}

/*
 * Watches dir and the real directories below it, AGENT_WATCH_DEPTH
 * levels down (certbot: only live/ and archive/ and their children).
 */
static void
watch_tree(struct agent *a, struct watch **list, size_t *nw, const char *dir,
    enum scan_root_kind kind, unsigned depth)
{
	char path[PATH_MAX];
	struct dirent *de;
	struct stat sb;
	DIR *d;
	int n;

	add_watch(a, list, nw, dir);
	if (depth >= AGENT_WATCH_DEPTH || (d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (kind == SCAN_ROOT_CERTBOT && depth == 0 &&
		    strcmp(de->d_name, "live") != 0 &&
		    strcmp(de->d_name, "archive") != 0)
			continue;
		if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN)
			continue;
		n = snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (n < 0 || (size_t)n >= sizeof(path) ||
		    lstat(path, &sb) != 0 || !S_ISDIR(sb.st_mode))
			continue;
		watch_tree(a, list, nw, path, kind, depth + 1);
	}
	closedir(d);
}

/*
 * Makes the watch set match the directories below the roots of the
 * latest scan. The set is made anew each time and the old one closed
 * after: a directory deleted and made again under the same name (even
 * with the same inode number) gets a live watch, and adding a watch
 * that already exists costs libuv and the kernel nothing (they share
 * one inotify watch per directory).
 */
static void
sync_watches(struct agent *a)
{
	const struct scan_result *r = a->scan;
	struct watch *old = a->watches, *fresh = NULL, *w;
	size_t i, n = 0;

	for (i = 0; r != NULL && i < r->n_roots; i++)
		if (r->roots[i].found && r->roots[i].real != NULL)
			watch_tree(a, &fresh, &n, r->roots[i].real,
			    r->roots[i].kind, 0);
	while ((w = old) != NULL) {
		old = w->next;
		uv_close((uv_handle_t *)&w->h, on_watch_closed);
	}
	a->watches = fresh;
	a->n_watches = n;
	if (n < AGENT_MAX_WATCHES)
		a->watch_full_logged = false;
}

/* ------------------------------------------------------------ the store */

static void
on_store_debounce(uv_timer_t *t)
{
	struct agent *a = t->data;
	size_t added = 0;
	int rc;

	if (a->stopping)
		return;
	if ((rc = store_refresh(a->store, &added)) != 0)
		log_warn("store %s: reloading: %s", store_dir(a->store),
		    rc == CT_ERR_IO ? strerror(errno) : ct_strerror(rc));
	if (added > 0)
		log_info("store %s: %zu records added by another process; "
		         "it holds %zu",
		    store_dir(a->store), added, store_count(a->store));
}

static void
on_store_event(uv_fs_event_t *h, const char *filename, int events, int status)
{
	struct agent *a = h->data;

	(void)events;
	(void)status;
	/* Only finished records matter; our own temporary files do not. */
	if (a->stopping || filename == NULL ||
	    strlen(filename) != STORE_REC_NAME_LEN)
		return;
	if (!uv_is_active((uv_handle_t *)&a->store_debounce))
		uv_timer_start(&a->store_debounce, on_store_debounce,
		    AGENT_DEBOUNCE_MS, 0);
}

static void
watch_store(struct agent *a)
{
	int rc;

	if (a->store_watching) {
		uv_fs_event_stop(&a->store_watch);
		a->store_watching = false;
	}
	rc = uv_fs_event_start(&a->store_watch, on_store_event,
	    store_dir(a->store), 0);
	if (rc != 0) {
		log_warn("watching the store %s: %s (records imported while "
		         "running appear at the next rescan)",
		    store_dir(a->store), uv_strerror(rc));
		return;
	}
	a->store_watching = true;
}

/* ------------------------------------------------------------ life cycle */

static void
arm_rescan(struct agent *a)
{
	uint64_t ms = a->conf.rescan_interval_s * 1000;

	uv_timer_stop(&a->rescan);
	if (ms > 0)
		uv_timer_start(&a->rescan, on_rescan, ms, ms);
}

int
learn_start(struct agent *a)
{
	int rc;

	if ((rc = uv_timer_init(&a->loop, &a->debounce)) != 0 ||
	    (rc = uv_timer_init(&a->loop, &a->rescan)) != 0 ||
	    (rc = uv_timer_init(&a->loop, &a->store_debounce)) != 0 ||
	    (rc = uv_fs_event_init(&a->loop, &a->store_watch)) != 0)
		return CT_ERR_IO;
	a->debounce.data = a;
	a->rescan.data = a;
	a->store_debounce.data = a;
	a->store_watch.data = a;
	arm_rescan(a);
	sync_watches(a);
	watch_store(a);
	return 0;
}

void
learn_reload(struct agent *a)
{
	arm_rescan(a);
	watch_store(a);
	(void)learn_scan(a, "reload");
	sync_watches(a);
}

void
learn_stop(struct agent *a)
{
	struct watch *w;

	while ((w = a->watches) != NULL) {
		a->watches = w->next;
		uv_close((uv_handle_t *)&w->h, on_watch_closed);
	}
	a->n_watches = 0;
	uv_close((uv_handle_t *)&a->debounce, NULL);
	uv_close((uv_handle_t *)&a->rescan, NULL);
	uv_close((uv_handle_t *)&a->store_debounce, NULL);
	uv_close((uv_handle_t *)&a->store_watch, NULL);
}

bool
learn_owns(const struct agent *a, const uv_handle_t *h)
{
	const struct watch *w;

	if (h == (const uv_handle_t *)&a->debounce ||
	    h == (const uv_handle_t *)&a->rescan ||
	    h == (const uv_handle_t *)&a->store_debounce ||
	    h == (const uv_handle_t *)&a->store_watch)
		return true;
	for (w = a->watches; w != NULL; w = w->next)
		if (h == (const uv_handle_t *)&w->h)
			return true;
	return false;
}

/* ------------------------------------------------------------ --import */

/* Reads one file unless it is, or holds, a private key. */
static int
import_read(const char *path, uint8_t **buf, size_t *len)
{
	const char *base = strrchr(path, '/');
	int rc;

	base = base != NULL ? base + 1 : path;
	if (scan_is_key_name(base)) {
		fprintf(stderr,
		    "ct-agent: %s: skipped: named like a private key (not "
		    "opened)\n",
		    path);
		return CT_ERR_INVALID;
	}
	if ((rc = util_read_file(path, CERT_MAX_FILE_BYTES, buf, len)) != 0) {
		fprintf(stderr, "ct-agent: %s: %s\n", path,
		    rc == CT_ERR_IO ? strerror(errno) : ct_strerror(rc));
		return rc;
	}
	if (memmem(*buf, *len, "PRIVATE KEY-----", 16) != NULL) {
		util_zero(*buf, *len);
		free(*buf);
		*buf = NULL;
		fprintf(stderr,
		    "ct-agent: %s: skipped: contains a private key\n", path);
		return CT_ERR_INVALID;
	}
	return 0;
}

/* Records the non-CA certificates of one file; counts into the totals. */
static int
import_file(struct store *st, const char *path, int64_t now, size_t *n_new,
    size_t *n_known, size_t *n_ca)
{
	char source[LEARN_SOURCE_BYTES], *real;
	struct ct_cert **certs = NULL;
	uint8_t *buf = NULL;
	size_t len = 0, n = 0, i;
	bool added;
	int rc;

	if ((rc = import_read(path, &buf, &len)) != 0)
		return rc;
	rc = cert_parse_buf(buf, len, &certs, &n);
	free(buf);
	if (rc != 0) {
		fprintf(stderr, "ct-agent: %s: %s\n", path,
		    rc == CT_ERR_NOT_FOUND ? "no certificate"
		                           : ct_strerror(rc));
		return rc;
	}
	real = realpath(path, NULL);
	snprintf(source, sizeof(source), "imported from %s",
	    real != NULL ? real : path);
	free(real);
	for (i = 0; i < n; i++) {
		if (certs[i]->is_ca) {
			(*n_ca)++;
			continue;
		}
		if ((rc = store_put(st, certs[i], source, now, &added)) != 0) {
			fprintf(stderr, "ct-agent: %s: not recorded: %s\n",
			    path,
			    rc == CT_ERR_IO ? strerror(errno)
			                    : ct_strerror(rc));
			break;
		}
		if (added)
			(*n_new)++;
		else
			(*n_known)++;
	}
	cert_free_all(certs, n);
	return rc;
}

int
learn_import(const struct agent_conf *conf, char *const *files, size_t n)
{
	struct store_opts so;
	struct store *st = NULL;
	size_t i, n_new = 0, n_known = 0, n_ca = 0, failed = 0;
	int rc;

	memset(&so, 0, sizeof(so));
	so.log = log_cb;
	if ((rc = store_open(conf->store, &so, &st)) != 0) {
		fprintf(stderr, "ct-agent: store %s: %s\n", conf->store,
		    rc == CT_ERR_IO ? strerror(errno) : ct_strerror(rc));
		return 1;
	}
	for (i = 0; i < n; i++)
		if (import_file(st, files[i], util_now(), &n_new, &n_known,
		        &n_ca) != 0)
			failed++;
	printf("%zu new certificates recorded, %zu already known", n_new,
	    n_known);
	if (n_ca > 0)
		printf(", %zu CA certificates skipped", n_ca);
	printf("; store %s holds %zu records\n", conf->store, store_count(st));
	if (failed > 0)
		fprintf(stderr, "ct-agent: %zu of %zu files failed\n", failed,
		    n);
	store_free(st);
	return failed > 0 ? 1 : 0;
}
