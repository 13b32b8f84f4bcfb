/*
 * The poller's programs (ctctl, check_ct) and what their files export.
 */
#ifndef CT_POLLER_H
#define CT_POLLER_H

#define CT_VERSION "0.1.0"

/* ctctl exit statuses. */
#define POLLER_EXIT_OK 0
#define POLLER_EXIT_FAIL 1  /* the command ran and something failed */
#define POLLER_EXIT_USAGE 2 /* bad command line */

/* inspect.c */
int inspect_main(int argc, char **argv);

#endif
