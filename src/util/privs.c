/* privs.c: see privs.h. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>

#include "util/privs.h"

static bool kept(const struct priv_keep *keep, size_t n, cap_value_t c)
{
	for (size_t i = 0; i < n; i++)
		if (keep[i].cap == (int)c)
			return true;
	return false;
}

int privs_keep_only(const struct priv_keep *keep, size_t n, char *err, size_t errlen)
{
	cap_t cur = cap_get_proc(), want = cap_init();
	cap_flag_value_t have;
	int ret = 0;

	if (!cur || !want) {
		ret = -errno;
		snprintf(err, errlen, "cannot read the process's capabilities: %s", strerror(errno));
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		cap_value_t c = keep[i].cap;

		if (cap_get_flag(cur, c, CAP_PERMITTED, &have) == 0 && have == CAP_SET &&
		    (cap_set_flag(want, CAP_PERMITTED, 1, &c, CAP_SET) ||
		     cap_set_flag(want, CAP_EFFECTIVE, 1, &c, CAP_SET))) {
			ret = -errno;
			snprintf(err, errlen, "cannot keep %s: %s", cap_to_name(c), strerror(errno));
			goto out;
		}
	}
	/* the bounding set first: dropping from it takes CAP_SETPCAP, still held */
	if (cap_get_flag(cur, CAP_SETPCAP, CAP_EFFECTIVE, &have) == 0 && have == CAP_SET) {
		for (cap_value_t c = 0; c <= CAP_LAST_CAP; c++) {
			if (!kept(keep, n, c) && CAP_IS_SUPPORTED(c) && cap_drop_bound(c) && errno != EINVAL) {
				ret = -errno;
				snprintf(err, errlen, "cannot drop %s from the bounding set: %s", cap_to_name(c),
					 strerror(errno));
				goto out;
			}
		}
	}
	if (cap_reset_ambient() && errno != EINVAL && errno != EPERM) {
		ret = -errno;
		snprintf(err, errlen, "cannot clear the ambient capabilities: %s", strerror(errno));
		goto out;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) {
		ret = -errno;
		snprintf(err, errlen, "cannot set no_new_privs: %s", strerror(errno));
		goto out;
	}
	if (cap_set_proc(want)) {
		ret = -errno;
		snprintf(err, errlen, "cannot drop capabilities: %s", strerror(errno));
	}
out:
	if (cur)
		cap_free(cur);
	if (want)
		cap_free(want);
	return ret;
}

void privs_describe(char *buf, size_t len)
{
	cap_t cur = cap_get_proc();
	char *txt = cur ? cap_to_text(cur, NULL) : NULL;

	snprintf(buf, len, "%s", txt ? txt : "?");
	if (txt)
		cap_free(txt);
	if (cur)
		cap_free(cur);
}
