/*
 * privs: giving up root for good once the listening socket is bound
 * (REFERENCE.md section 3.2, rule 8).
 */
#define _GNU_SOURCE /* getresuid, setresuid */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <unistd.h>

#include "agent.h"

/* After the switch: every id is the user's and root cannot come back. */
static int
check_dropped(uid_t uid, gid_t gid, char *err, size_t errsz)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;

	if (getresuid(&ru, &eu, &su) != 0 || getresgid(&rg, &eg, &sg) != 0 ||
	    ru != uid || eu != uid || su != uid || rg != gid || eg != gid ||
	    sg != gid) {
		snprintf(err, errsz, "user and group ids did not all change");
		return CT_ERR_IO;
	}
	if (setuid(0) != -1 || seteuid(0) != -1) {
		snprintf(err, errsz, "root privileges could be regained");
		return CT_ERR_IO;
	}
	if (gid != 0 && (setgid(0) != -1 || setegid(0) != -1)) {
		snprintf(err, errsz, "group root could be regained");
		return CT_ERR_IO;
	}
	return 0;
}

int
privs_drop(const char *user, char *err, size_t errsz)
{
	struct passwd *pw;
	uid_t uid;
	gid_t gid;

	err[0] = '\0';
	if (user == NULL)
		return 0;
	errno = 0;
	if ((pw = getpwnam(user)) == NULL) {
		snprintf(err, errsz, "user %s: %s", user,
		    errno != 0 ? strerror(errno) : "no such user");
		return CT_ERR_NOT_FOUND;
	}
	uid = pw->pw_uid;
	gid = pw->pw_gid;
	if (geteuid() != 0) {
		if (uid != geteuid())
			snprintf(err, errsz,
			    "not started as root: running as uid %lu, not as "
			    "user %s (uid %lu)",
			    (unsigned long)geteuid(), user, (unsigned long)uid);
		return 0;
	}
	if (uid == 0) {
		snprintf(err, errsz, "user %s is root: refusing to run as root",
		    user);
		return CT_ERR_INVALID;
	}
	if (initgroups(pw->pw_name, gid) != 0 ||
	    setresgid(gid, gid, gid) != 0 || setresuid(uid, uid, uid) != 0) {
		snprintf(err, errsz, "switching to user %s: %s", user,
		    strerror(errno));
		return CT_ERR_IO;
	}
	if (check_dropped(uid, gid, err, errsz) != 0)
		return CT_ERR_IO;
	/* No set-uid program can give anything back from here on. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		snprintf(err, errsz, "PR_SET_NO_NEW_PRIVS: %s",
		    strerror(errno));
		return CT_ERR_IO;
	}
	return 0;
}
