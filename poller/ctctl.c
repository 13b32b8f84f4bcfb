/*
 * ctctl: the operator's troubleshooting tool (DESIGN.md section 6).
 */
#include <wolfssl/options.h>

#include <stdio.h>
#include <string.h>

#include "ctctl_agent.h"
#include "poller.h"
#include "probe.h"

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *usage;
};

static const struct command commands[] = {
    {"inspect", inspect_main,
        "inspect FILE... [--issuer FILE] [--log-list FILE] [--json]"},
    {"keygen", ctctl_agent_keygen_main, CTCTL_KEYGEN_USAGE},
    {"agent", ctctl_agent_main, CTCTL_AGENT_USAGE},
    {"lookup", lookup_main,
        "lookup NAME [--subdomains] [--source crtsh,certspotter] [--json]"},
    {"probe", probe_main, PROBE_CTCTL_USAGE},
};

static void
usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: ctctl COMMAND [ARGS]\n");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "       ctctl %s\n", commands[i].usage);
	fprintf(f, "       ctctl --version\n");
}

int
main(int argc, char **argv)
{
	size_t i;

	if (argc < 2) {
		usage(stderr);
		return POLLER_EXIT_USAGE;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
		printf("ctctl %s\n", CT_VERSION);
		return POLLER_EXIT_OK;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return POLLER_EXIT_OK;
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "ctctl: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return POLLER_EXIT_USAGE;
}
