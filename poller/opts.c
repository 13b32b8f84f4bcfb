/*
 * opts: option values shared by check_ct and ctctl: the state directory,
 * source lists, plugin states.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "poller.h"

/* The state directory: given, $XDG_STATE_HOME, ~/.local/state, /var/lib. */
int
opts_state_dir(const char *given, char *out, size_t outsz)
{
	const char *x = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
	int n;

	if (given != NULL)
		n = snprintf(out, outsz, "%s", given);
	else if (x != NULL && x[0] == '/')
		n = snprintf(out, outsz, "%s/check_ct", x);
	else if (geteuid() != 0 && home != NULL && home[0] == '/')
		n = snprintf(out, outsz, "%s/.local/state/check_ct", home);
	else
		n = snprintf(out, outsz, "/var/lib/check_ct");
	return n < 0 || (size_t)n >= outsz ? CT_ERR_TOO_BIG : 0;
}

/* "crtsh", "certspotter" or both, comma-separated, into CHECK_SRC_*. */
int
opts_parse_sources(const char *s, unsigned *out)
{
	const char *p = s, *e;
	unsigned v = 0;

	while (*p != '\0') {
		e = strchr(p, ',');
		if (e == NULL)
			e = p + strlen(p);
		if ((size_t)(e - p) == 5 && strncmp(p, "crtsh", 5) == 0)
			v |= CHECK_SRC_CRTSH;
		else if ((size_t)(e - p) == 11 &&
		    strncmp(p, "certspotter", 11) == 0)
			v |= CHECK_SRC_CERTSPOTTER;
		else
			return CT_ERR_FORMAT;
		p = *e ? e + 1 : e;
	}
	if (v == 0)
		return CT_ERR_FORMAT;
	*out = v;
	return 0;
}

/* "OK", "WARNING", "CRITICAL", "UNKNOWN" (any case) or 0-3. */
int
opts_parse_state(const char *s, enum output_state *out)
{
	size_t i;

	for (i = 0; i < OUTPUT__MAX; i++)
		if (strcasecmp(s, output_state_names[i]) == 0 ||
		    (s[0] == (char)('0' + i) && s[1] == '\0')) {
			*out = (enum output_state)i;
			return 0;
		}
	return CT_ERR_FORMAT;
}
