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

/* What a writer killed mid-write (SIGKILL, a crash, a power cut) leaves in an
 * output directory: the atomic writers' hidden temporary files
 * (".NAME.XXXXXX", render_write_file and capdata_write) and watch's hidden
 * incident directories (".NAME.tmp"). Those older than min_age_s are removed
 * (a directory with the files directly in it); younger ones may belong to a
 * writer at work and are left alone. Nothing else is touched, nor anything
 * reached through a symbolic link. Returns how many were removed. */
int outdir_clean_stale(const char *dir, unsigned min_age_s);
/* older than this, a temporary file or directory is a killed writer's */
#define OUTDIR_STALE_AGE_S 60u

/* Removes the directory path and the regular files directly in it (a
 * hidden incident directory whose writing failed). Returns 0 or a negative
 * errno. */
int outdir_remove_flat(const char *path);

#endif
