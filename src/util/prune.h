/* prune.h: what --keep, --keep-bytes and --max-disk share: a tree's bytes on disk, its removal, the directories of --out.
 *
 * Nothing here follows a symbolic link: a link planted in --out or the
 * state directory is counted as itself and removed as itself, never what it
 * points to. Walks are bounded in depth (PRUNE_MAX_DEPTH): deeper entries
 * are not counted and block the removal of their tree.
 */
#ifndef STALLTRAP_UTIL_PRUNE_H
#define STALLTRAP_UTIL_PRUNE_H

#include <stdbool.h>
#include <stdint.h>

#define PRUNE_MAX_DEPTH 8

/* The bytes the regular files under path take on disk (st_blocks, so that a
 * sparse or tiny file counts what it really holds). 0 if path is missing. */
uint64_t prune_tree_bytes(const char *path);

/* Removes path: a file, or a directory and everything under it. Returns 0
 * (also when path is already gone) or a negative errno. */
int prune_remove_tree(const char *path);

/* A directory directly under --out (hidden ones, being written, are left out). */
struct prune_dir {
	char *name;
	uint64_t bytes;          /* prune_tree_bytes */
	int64_t mtime_ns;        /* the directory's: when its last file was made */
	bool report;             /* holds report.json: an incident (watch's or record's) */
	bool capture;            /* holds the caller's capture_file (capture.jsonl.gz) */
};

/* The directories of dir, sorted by name (an incident's name starts with
 * its time). *out is malloc'd (free with prune_dirs_free). Returns the count
 * or a negative errno. */
int prune_list_dirs(const char *dir, const char *capture_file, struct prune_dir **out);
void prune_dirs_free(struct prune_dir *v, int n);

#endif /* STALLTRAP_UTIL_PRUNE_H */
