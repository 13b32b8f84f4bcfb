/*
 * ctctl_agent: the `ctctl keygen` and `ctctl agent` commands.
 */
#ifndef CT_CTCTL_AGENT_H
#define CT_CTCTL_AGENT_H

/* Exit 0 on success, 1 on failure, 2 on a usage error. */
int ctctl_agent_keygen_main(int argc, char **argv);
int ctctl_agent_main(int argc, char **argv);

#define CTCTL_KEYGEN_USAGE "keygen [-o FILE] [-C COMMENT]"
#define CTCTL_AGENT_USAGE                                                      \
	"agent AGENT info|certs [NAME] [--json] [--config FILE] "              \
	"[--key FILE]\n"                                                       \
	"                   [--pin KEYLINE [--name NAME]] [-t SECONDS]\n"      \
	"                   [--repeat N [--latencies FILE]]"

#endif
