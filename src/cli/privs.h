/* privs.h: the capabilities each command keeps once it runs (privs.c lists
 * them, with their reasons). */
#ifndef STALLTRAP_CLI_PRIVS_H
#define STALLTRAP_CLI_PRIVS_H

enum cli_privs {
	CLI_PRIVS_RECORD,   /* record, once its programs are attached */
	CLI_PRIVS_WATCH,    /* watch, once its sources, listener and first generation run */
};

#define CLI_PRIVS_BPF_STATS (1u << 0)  /* --bpf-stats: keeps CAP_SYS_ADMIN */
#define CLI_PRIVS_PSI       (1u << 1)  /* a --psi source: keeps CAP_SYS_RESOURCE */

/* Drops every capability the command no longer needs (flags: CLI_PRIVS_*,
 * what its options need more). Returns 0, or -1 after printing one line
 * naming what failed. */
int cli_drop_privs(enum cli_privs which, unsigned flags, const char *cmd);

#endif
