/*
 * ct-agent: command line, start-up, SIGHUP reload and shutdown.
 *
 *	ct-agent [-c FILE]			run in the foreground
 *	ct-agent [-c FILE] --check-config	check, print a summary, exit
 *	ct-agent [-c FILE] --import FILE...	record certificates, exit
 *	ct-agent --version
 *
 * Exit status: 0 success, 1 failure (start-up error, failed check or
 * import), 2 usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agent.h"

#define EXIT_USAGE 2
/*
 * Buffers this large (answers, their TLS records) are mmap'd and go back
 * to the system when freed: glibc would otherwise raise the threshold
 * after the first large free and keep the peak of every big answer.
 */
#define AGENT_MMAP_THRESHOLD_BYTES (256 * 1024)

enum mode { MODE_RUN, MODE_CHECK, MODE_IMPORT, MODE_VERSION, MODE_HELP };

struct args {
	enum mode mode;
	const char *conf;
	char *const *files; /* --import */
	size_t n_files;
};

/* Static: signal callbacks and atexit-free teardown reach it by pointer. */
static struct agent the_agent;

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: ct-agent [-c FILE]                   run (foreground)\n"
	    "       ct-agent [-c FILE] --check-config    check the setup\n"
	    "       ct-agent [-c FILE] --import FILE...  record "
	    "certificates\n"
	    "       ct-agent --version\n"
	    "FILE defaults to %s. See ct-agent(8).\n",
	    AGENT_DEFAULT_CONF);
}

static int
parse_args(int argc, char **argv, struct args *out)
{
	static const struct option longopts[] = {{"config", required_argument,
	                                             NULL, 'c'},
	    {"check-config", no_argument, NULL, 'C'},
	    {"import", no_argument, NULL, 'I'},
	    {"version", no_argument, NULL, 'V'},
	    {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
	int ch;

	memset(out, 0, sizeof(*out));
	out->conf = AGENT_DEFAULT_CONF;
	while ((ch = getopt_long(argc, argv, "c:Vh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			out->conf = optarg;
			break;
		case 'C':
			out->mode = MODE_CHECK;
			break;
		case 'I':
			out->mode = MODE_IMPORT;
			break;
		case 'V':
			out->mode = MODE_VERSION;
			break;
		case 'h':
			out->mode = MODE_HELP;
			break;
		default:
			return EXIT_USAGE;
		}
	}
	out->files = argv + optind;
	out->n_files = (size_t)(argc - optind);
	if (out->mode == MODE_IMPORT && out->n_files == 0) {
		fprintf(stderr, "ct-agent: --import needs at least one file\n");
		return EXIT_USAGE;
	}
	if (out->mode != MODE_IMPORT && out->n_files > 0) {
		fprintf(stderr, "ct-agent: unexpected argument '%s'\n",
		    out->files[0]);
		return EXIT_USAGE;
	}
	return 0;
}

/* ------------------------------------------------------------ loading */

static int
load_key(const char *path, struct keys_ed25519 *key, char *err, size_t errsz)
{
	const char *reason = "unreadable";
	struct stat sb;
	int rc, saved;

	if ((rc = keys_load_private(path, key, &reason)) != 0) {
		saved = errno;
		if (rc == CT_ERR_IO)
			snprintf(err, errsz, "%s: %s: %s", path, reason,
			    strerror(saved));
		else
			snprintf(err, errsz, "%s: %s", path, reason);
		errno = rc == CT_ERR_IO ? saved : 0;
		return rc;
	}
	if (stat(path, &sb) == 0 && (sb.st_mode & 077) != 0)
		log_warn("%s can be read by other users; chmod 600 it", path);
	return 0;
}

static int
load_auth(const char *path, struct keys_authorized *auth, char *err,
    size_t errsz)
{
	const char *reason = "unreadable";
	size_t line = 0;
	int rc;

	if ((rc = keys_authorized_load(path, auth, &line, &reason)) == 0)
		return 0;
	if (rc == CT_ERR_IO)
		snprintf(err, errsz, "%s: %s: %s", path, reason,
		    strerror(errno));
	else if (line > 0)
		snprintf(err, errsz, "%s:%zu: %s", path, line, reason);
	else
		snprintf(err, errsz, "%s: %s", path, reason);
	return rc;
}

static int
open_store(const char *dir, struct store **st, char *err, size_t errsz)
{
	struct store_opts so;
	int rc;

	memset(&so, 0, sizeof(so));
	so.log = log_cb;
	if ((rc = store_open(dir, &so, st)) != 0)
		snprintf(err, errsz, "store %s: %s", dir,
		    rc == CT_ERR_IO ? strerror(errno) : ct_strerror(rc));
	return rc;
}

/* ------------------------------------------------------------ TLS */

static bool
same_str(const char *x, const char *y)
{
	return x == y || (x != NULL && y != NULL && strcmp(x, y) == 0);
}

/* The same CA-file settings (files and peer names). */
static bool
same_tls(const struct agent_conf *x, const struct agent_conf *y)
{
	size_t i;

	if (!same_str(x->tls_ca, y->tls_ca) ||
	    !same_str(x->tls_cert, y->tls_cert) ||
	    !same_str(x->tls_key, y->tls_key) ||
	    x->n_tls_peer_names != y->n_tls_peer_names)
		return false;
	for (i = 0; i < x->n_tls_peer_names; i++)
		if (strcmp(x->tls_peer_names[i], y->tls_peer_names[i]) != 0)
			return false;
	return true;
}

/* Switches a new TLS context to CA-file mode as c says (tls_ca set). */
static int
use_ca_file(struct tls_ctx *t, const struct agent_conf *c, char *err,
    size_t errsz)
{
	struct tls_ca_opts o;

	memset(&o, 0, sizeof(o));
	o.ca_file = c->tls_ca;
	o.cert_file = c->tls_cert;
	o.key_file = c->tls_key;
	o.peer_names = (const char *const *)c->tls_peer_names;
	o.n_peer_names = c->n_tls_peer_names;
	return tls_ctx_use_ca_file(t, &o, err, errsz);
}

/*
 * The agent's TLS context for conf c and key: pinned keys, or CA-file
 * mode when c->tls_ca is set. 0, or a negative ct_err with err set (and
 * errno kept when a file could not be read).
 */
static int
make_tls(struct agent *a, const struct keys_ed25519 *key,
    const struct agent_conf *c, struct tls_ctx **out, char *err, size_t errsz)
{
	struct tls_ctx *t = NULL;
	int rc, saved;

	*out = NULL;
	if ((rc = server_make_tls(a, key, c->name, &t)) != 0) {
		snprintf(err, errsz, "cannot make the TLS context from %s: %s",
		    c->key, ct_strerror(rc));
		errno = 0;
		return rc;
	}
	if (c->tls_ca != NULL && (rc = use_ca_file(t, c, err, errsz)) != 0) {
		saved = errno;
		tls_ctx_free(t);
		errno = saved;
		return rc;
	}
	*out = t;
	return 0;
}

/* "pinned keys" or "CA file FILE (peer names ...)", for a log line. */
static void
tls_mode_text(const struct agent_conf *c, char *out, size_t outsz)
{
	size_t i, len;

	if (c->tls_ca == NULL) {
		snprintf(out, outsz, "TLS keys pinned");
		return;
	}
	snprintf(out, outsz, "TLS by CA file %s, poller names: ", c->tls_ca);
	if (c->n_tls_peer_names == 0)
		snprintf(out + strlen(out), outsz - strlen(out), "any");
	for (i = 0; i < c->n_tls_peer_names; i++) {
		len = strlen(out);
		snprintf(out + len, outsz - len, "%s%s", i > 0 ? " " : "",
		    c->tls_peer_names[i]);
	}
}

/* ------------------------------------------------------------ reload */

/* Loads the new config's key, keys, TLS context and store; all or none. */
static void
reload(struct agent *a)
{
	struct agent_conf nc;
	struct keys_ed25519 nk;
	struct keys_authorized na = {NULL, 0};
	struct tls_ctx *nt = NULL;
	struct store *ns = NULL;
	char err[CONF_ERR_BYTES], *listen, mode[CONF_ERR_BYTES];
	bool keep_tls = false;

	memset(&nk, 0, sizeof(nk));
	if (conf_load(a->conf_path, &nc, err, sizeof(err)) != 0)
		goto fail;
	if (!conf_same_addr(&nc.listen_addr, &a->conf.listen_addr)) {
		log_warn("reload: a new listen address needs a restart; still "
		         "listening on %s",
		    a->listen_text);
		if ((listen = strdup(a->conf.listen)) == NULL) {
			snprintf(err, sizeof(err), "out of memory");
			goto fail;
		}
		free(nc.listen);
		nc.listen = listen;
		nc.listen_addr = a->conf.listen_addr;
	}
	if ((nc.user == NULL) != (a->conf.user == NULL) ||
	    (nc.user != NULL && strcmp(nc.user, a->conf.user) != 0))
		log_warn("reload: a new user needs a restart");
	if (load_key(nc.key, &nk, err, sizeof(err)) != 0) {
		/* A root-only key file after the privilege drop: the key
		 * loaded at start stays, the rest of the reload goes on. */
		if (errno != EACCES || strcmp(nc.key, a->conf.key) != 0)
			goto fail;
		log_warn("reload: %s; keeping the key loaded at start", err);
		nk = a->key;
	}
	if (load_auth(nc.authorized_keys, &na, err, sizeof(err)) != 0)
		goto fail;
	if (make_tls(a, &nk, &nc, &nt, err, sizeof(err)) != 0) {
		/* CA-mode files readable only by root, after the privilege
		 * drop: with nothing of them changed, the context loaded at
		 * start stays. */
		if (errno != EACCES || nc.tls_ca == NULL ||
		    !same_tls(&nc, &a->conf) ||
		    strcmp(nc.name, a->conf.name) != 0 ||
		    !util_ct_equal(nk.pub, a->key.pub, KEYS_PUB_BYTES))
			goto fail;
		log_warn("reload: %s; keeping the TLS context loaded at start",
		    err);
		keep_tls = true;
	}
	if (strcmp(nc.store, a->conf.store) != 0 &&
	    open_store(nc.store, &ns, err, sizeof(err)) != 0)
		goto fail;
	conf_clear(&a->conf);
	a->conf = nc;
	keys_clear(&a->key);
	a->key = nk;
	(void)keys_fingerprint(a->key.pub, a->key_fpr);
	keys_authorized_free(&a->auth);
	a->auth = na;
	if (!keep_tls) {
		tls_ctx_free(a->tls);
		a->tls = nt;
	}
	if (ns != NULL) {
		store_free(a->store);
		a->store = ns;
	}
	log_open(a->conf.log);
	rate_set(a->rate, a->conf.rate_per_s, a->conf.rate_burst);
	tls_mode_text(&a->conf, mode, sizeof(mode));
	log_info("reloaded %s: name %s, key %s, %zu authorized keys, %s",
	    a->conf_path, a->conf.name, a->key_fpr, a->auth.n, mode);
	learn_reload(a);
	return;
fail:
	log_error("reload failed: %s; keeping the running configuration", err);
	keys_clear(&nk);
	keys_authorized_free(&na);
	tls_ctx_free(nt);
	store_free(ns);
	conf_clear(&nc);
}

/* ------------------------------------------------------------ signals */

static void
close_own(uv_handle_t *h, void *arg)
{
	struct agent *a = arg;

	if (uv_is_closing(h))
		return;
	if (h == (uv_handle_t *)&a->sig_hup ||
	    h == (uv_handle_t *)&a->sig_term ||
	    h == (uv_handle_t *)&a->sig_int || server_owns(a, h) ||
	    learn_owns(a, h))
		uv_close(h, NULL);
	/* Anything else belongs to a TLS connection, which closes itself. */
}

static void
on_signal(uv_signal_t *s, int signum)
{
	struct agent *a = s->data;

	if (signum == SIGHUP) {
		if (!a->stopping)
			reload(a);
		return;
	}
	if (a->stopping)
		return;
	a->stopping = true;
	log_info("%s: stopping after %llu requests answered, %llu refused",
	    signum == SIGTERM ? "SIGTERM" : "SIGINT",
	    (unsigned long long)a->requests_ok,
	    (unsigned long long)a->requests_refused);
	server_stop(a);
	learn_stop(a);
	uv_walk(&a->loop, close_own, a);
}

static int
signals_start(struct agent *a)
{
	uv_signal_t *s[] = {&a->sig_hup, &a->sig_term, &a->sig_int};
	int nums[] = {SIGHUP, SIGTERM, SIGINT};
	size_t i;

	for (i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
		if (uv_signal_init(&a->loop, s[i]) != 0)
			return CT_ERR_IO;
		s[i]->data = a;
		if (uv_signal_start(s[i], on_signal, nums[i]) != 0)
			return CT_ERR_IO;
	}
	return 0;
}

/* ------------------------------------------------------------ run */

/* Start-up: the only place where fatal() is used. */
static void
start(struct agent *a, const char *path)
{
	char err[CONF_ERR_BYTES], mode[CONF_ERR_BYTES];

	signal(SIGPIPE, SIG_IGN);
	(void)mallopt(M_MMAP_THRESHOLD, AGENT_MMAP_THRESHOLD_BYTES);
	a->conf_path = path;
	a->started = util_now();
	if (conf_load(path, &a->conf, err, sizeof(err)) != 0)
		fatal("%s", err);
	log_open(a->conf.log);
	if (tls_global_init() != 0)
		fatal("cannot initialise wolfSSL");
	if (load_key(a->conf.key, &a->key, err, sizeof(err)) != 0 ||
	    load_auth(a->conf.authorized_keys, &a->auth, err, sizeof(err)) != 0)
		fatal("%s", err);
	(void)keys_fingerprint(a->key.pub, a->key_fpr);
	if (a->auth.n == 0)
		log_warn("%s holds no keys: every poller will be refused",
		    a->conf.authorized_keys);
	if (proto_replay_new(PROTO_REPLAY_DEFAULT_ENTRIES, PROTO_WINDOW_S,
	        &a->replay) != 0 ||
	    rate_new(&a->rate) != 0)
		fatal("out of memory");
	rate_set(a->rate, a->conf.rate_per_s, a->conf.rate_burst);
	if (uv_loop_init(&a->loop) != 0)
		fatal("cannot initialise the event loop");
	if (make_tls(a, &a->key, &a->conf, &a->tls, err, sizeof(err)) != 0)
		fatal("%s", err);
	if (server_listen(a, err, sizeof(err)) != 0)
		fatal("%s", err);
	/* Bound: root is not needed any more. The store and every scan
	 * then belong to the user the agent runs as. */
	if (privs_drop(a->conf.user, err, sizeof(err)) != 0)
		fatal("%s", err);
	if (err[0] != '\0')
		log_warn("%s", err);
	if (open_store(a->conf.store, &a->store, err, sizeof(err)) != 0)
		fatal("%s", err);
	if (learn_scan(a, "start") != 0)
		fatal("the first scan failed");
	if (learn_start(a) != 0 || signals_start(a) != 0)
		fatal("cannot set up timers, watches and signals");
	tls_mode_text(&a->conf, mode, sizeof(mode));
	log_info("ct-agent %s: name %s, key %s, %zu authorized keys, %s, "
	         "store %s (%zu records)",
	    CT_VERSION, a->conf.name, a->key_fpr, a->auth.n, mode,
	    a->conf.store, store_count(a->store));
}

static void
close_left(uv_handle_t *h, void *arg)
{
	size_t *left = arg;

	if (!uv_is_closing(h)) {
		(*left)++;
		uv_close(h, NULL);
	}
}

/* After the loop has run dry: every handle closed, everything freed. */
static int
finish(struct agent *a)
{
	size_t left = 0;
	int rc, status = 0;

	uv_walk(&a->loop, close_left, &left);
	if (left > 0) {
		log_error("%zu handles were still open at exit", left);
		uv_run(&a->loop, UV_RUN_DEFAULT);
		status = 1;
	}
	if ((rc = uv_loop_close(&a->loop)) != 0) {
		log_error("event loop did not close: %s", uv_strerror(rc));
		status = 1;
	}
	scan_result_free(a->scan);
	store_free(a->store);
	tls_ctx_free(a->tls);
	proto_replay_free(a->replay);
	rate_free(a->rate);
	keys_authorized_free(&a->auth);
	keys_clear(&a->key);
	tls_global_cleanup();
	log_info("stopped");
	log_close();
	conf_clear(&a->conf);
	return status;
}

static int
run(const char *path)
{
	struct agent *a = &the_agent;

	start(a, path);
	uv_run(&a->loop, UV_RUN_DEFAULT);
	return finish(a);
}

/* ------------------------------------------------------------ checks */

static bool
check_store(const char *dir)
{
	struct store_opts so;
	struct store *st = NULL;
	struct stat sb;
	int rc;

	if (stat(dir, &sb) != 0 && errno == ENOENT) {
		printf("store: %s (does not exist yet; created at start)\n",
		    dir);
		return true;
	}
	memset(&so, 0, sizeof(so));
	so.flags = STORE_RDONLY;
	if ((rc = store_open(dir, &so, &st)) != 0) {
		fprintf(stderr, "ct-agent: store %s: %s\n", dir,
		    rc == CT_ERR_IO ? strerror(errno) : ct_strerror(rc));
		return false;
	}
	printf("store: %s (%zu records)\n", dir, store_count(st));
	store_free(st);
	return true;
}

static void
check_dirs(const struct agent_conf *c)
{
	char **roots = NULL;
	struct stat sb;
	size_t i, n = 0;

	if (c->n_cert_dirs > 0) {
		for (i = 0; i < c->n_cert_dirs; i++)
			printf("cert_dir: %s%s\n", c->cert_dirs[i],
			    stat(c->cert_dirs[i], &sb) == 0 &&
			            S_ISDIR(sb.st_mode)
			        ? ""
			        : " (not found)");
		return;
	}
	if (scan_default_roots(NULL, &roots, &n) != 0 || n == 0)
		printf("cert_dirs: automatic; none of dehydrated's or "
		       "certbot's directories exists\n");
	for (i = 0; i < n; i++)
		printf("cert_dir: %s (found automatically)\n", roots[i]);
	scan_roots_free(roots, n);
}

static int
refuse_all(void *arg, const uint8_t pub[TLS_KEY_BYTES])
{
	(void)arg;
	(void)pub;
	return CT_ERR_AUTH;
}

/* CA-file mode: the settings, and whether the files make a context. */
static bool
check_tls(const struct agent_conf *c, const struct keys_ed25519 *key)
{
	struct tls_ctx *t = NULL;
	char err[CONF_ERR_BYTES];
	size_t i;
	bool ok = false;

	if (c->tls_ca == NULL) {
		printf("tls: keys pinned (authorized_keys)\n");
		return true;
	}
	printf("tls: CA-file mode\ntls_ca: %s\ntls_cert: %s\ntls_key: %s\n",
	    c->tls_ca, c->tls_cert,
	    c->tls_key != NULL ? c->tls_key : "(none: tls_cert is for key)");
	printf("tls_peer_names:%s",
	    c->n_tls_peer_names == 0 ? " (any certificate the CA issued)" : "");
	for (i = 0; i < c->n_tls_peer_names; i++)
		printf(" %s", c->tls_peer_names[i]);
	printf("\n");
	if (key == NULL) {
		fprintf(stderr, "ct-agent: CA-file mode not checked: no key\n");
		return false;
	}
	if (tls_global_init() != 0) {
		fprintf(stderr, "ct-agent: cannot initialise wolfSSL\n");
		return false;
	}
	if (tls_ctx_new_server(key->priv, key->pub, "check", refuse_all, NULL,
	        &t) != 0)
		fprintf(stderr, "ct-agent: cannot make a TLS context\n");
	else if (use_ca_file(t, c, err, sizeof(err)) != 0)
		fprintf(stderr, "ct-agent: %s\n", err);
	else
		ok = true;
	tls_ctx_free(t);
	tls_global_cleanup();
	return ok;
}

static int
check_config(const char *path)
{
	struct agent_conf c;
	struct keys_ed25519 key;
	struct keys_authorized auth = {NULL, 0};
	char err[CONF_ERR_BYTES], line[KEYS_PUBLINE_BUF_BYTES];
	char fpr[KEYS_FINGERPRINT_BUF_BYTES];
	bool ok = true, have_key = false;

	if (conf_load(path, &c, err, sizeof(err)) != 0) {
		fprintf(stderr, "ct-agent: %s\n", err);
		return 1;
	}
	printf("config: %s\nname: %s\nlisten: %s\n", path, c.name, c.listen);
	if (load_key(c.key, &key, err, sizeof(err)) != 0) {
		fprintf(stderr, "ct-agent: %s\n", err);
		ok = false;
	} else {
		if (keys_format_public_line(key.pub, "", line, sizeof(line)) ==
		        0 &&
		    keys_fingerprint(key.pub, fpr) == 0)
			printf("key: %s (%s)\npublic: %s\n", c.key, fpr, line);
		have_key = true;
	}
	if (load_auth(c.authorized_keys, &auth, err, sizeof(err)) != 0) {
		fprintf(stderr, "ct-agent: %s\n", err);
		ok = false;
	} else {
		printf("authorized_keys: %s (%zu keys)\n", c.authorized_keys,
		    auth.n);
		keys_authorized_free(&auth);
	}
	ok = check_tls(&c, have_key ? &key : NULL) && ok;
	if (have_key)
		keys_clear(&key);
	check_dirs(&c);
	ok = check_store(c.store) && ok;
	if (c.user != NULL) {
		if (getpwnam(c.user) == NULL) {
			fprintf(stderr, "ct-agent: user %s does not exist\n",
			    c.user);
			ok = false;
		} else {
			printf("user: %s\n", c.user);
		}
	}
	printf("%s\n", ok ? "configuration OK" : "configuration has errors");
	conf_clear(&c);
	return ok ? 0 : 1;
}

static int
import(const char *path, char *const *files, size_t n)
{
	struct agent_conf c;
	char err[CONF_ERR_BYTES];
	int rc;

	if (conf_load(path, &c, err, sizeof(err)) != 0) {
		fprintf(stderr, "ct-agent: %s\n", err);
		return 1;
	}
	rc = learn_import(&c, files, n);
	conf_clear(&c);
	return rc;
}

int
main(int argc, char **argv)
{
	struct args args;
	int rc;

	if ((rc = parse_args(argc, argv, &args)) != 0) {
		usage(stderr);
		return rc;
	}
	switch (args.mode) {
	case MODE_VERSION:
		printf("ct-agent %s\n", CT_VERSION);
		return 0;
	case MODE_HELP:
		usage(stdout);
		return 0;
	case MODE_CHECK:
		return check_config(args.conf);
	case MODE_IMPORT:
		return import(args.conf, args.files, args.n_files);
	default:
		return run(args.conf);
	}
}
