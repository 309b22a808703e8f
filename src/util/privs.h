/* privs.h: keeping only the capabilities a running command still needs.
 *
 * stalltrap starts as root (or with the capabilities its systemd unit and
 * DaemonSet grant), loads and attaches its BPF programs, opens what it needs,
 * and then keeps only the capabilities listed by the caller, each with its
 * reason (src/cli/privs.c holds the lists). What is dropped is dropped from
 * the permitted, effective, inheritable and ambient sets and from the
 * bounding set, and no_new_privs is set: nothing the process runs later
 * (it runs nothing) could regain them.
 */
#ifndef STALLTRAP_UTIL_PRIVS_H
#define STALLTRAP_UTIL_PRIVS_H

#include <stddef.h>

struct priv_keep {
	int cap;             /* CAP_* */
	const char *why;     /* what the running command needs it for */
};

/* Keeps only the capabilities of keep[] that the process has now. Returns 0,
 * or a negative errno with a one-line reason in err. */
int privs_keep_only(const struct priv_keep *keep, size_t n, char *err, size_t errlen);

/* The effective set as text ("cap_sys_ptrace,cap_syslog=ep", "=" when
 * empty) into buf. */
void privs_describe(char *buf, size_t len);

#endif
