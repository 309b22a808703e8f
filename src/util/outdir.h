/* outdir.h: the directories commands write their results into. */
#ifndef STALLTRAP_UTIL_OUTDIR_H
#define STALLTRAP_UTIL_OUTDIR_H

/* Creates path with mode 0700, or accepts an existing directory; a symbolic
 * link there is refused (-ELOOP: nothing is written through one planted at
 * the output path), as is anything else not a directory (-ENOTDIR). Returns
 * 0 or a negative errno. */
int outdir_make(const char *path);

/* The reason for outdir_make's error, for a one-line message. */
const char *outdir_strerror(int err);

#endif
