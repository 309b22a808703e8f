/* queue.h: the delivery queue's files: atomic writes, ordered listing, one holder per queue.
 *
 * A sink's queue is a directory SINKDIR with:
 *   q/NAME.json (+ q/NAME.body)  queued items, delivered in NAME order (NAME
 *                                is the enqueue time in ns and the pid: time order)
 *   active/NAME.json             Alertmanager alerts delivered and still followed
 *   parked/                      items a server refused (4xx), with its answer
 *   gaveup/                      items undelivered after --give-up-after
 *   done/ID                      the incidents delivered (the at-most-once ledger)
 *   lock                         flock'd by the process delivering this queue
 * Every file is written as .tmp-NAME, fsync'd, renamed, and the directory
 * fsync'd: a file that exists is complete. Modes 0600 (files), 0700 (dirs).
 */
#ifndef STALLTRAP_DELIVER_QUEUE_H
#define STALLTRAP_DELIVER_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define QUEUE_MAX_ITEM (64u << 20)   /* bytes of one file we read back */

/* mkdir -p of SINKDIR and its subdirectories. Returns 0 or a negative errno. */
int queue_init_dirs(const char *sinkdir);
/* Writes data atomically to dir/name. Returns 0 or a negative errno (ENOSPC:
 * nothing was changed, a temp file is removed). */
int queue_write_file(const char *dir, const char *name, const void *data, size_t len);
/* Reads a whole file (at most QUEUE_MAX_ITEM) into a malloc'd, NUL-terminated buffer. */
int queue_read_file(const char *path, char **buf, size_t *len);
/* The names in dir ending with suffix (not hidden ones), sorted; *names is
 * malloc'd (free with queue_names_free). Returns the count or a negative errno. */
int queue_list(const char *dir, const char *suffix, char ***names);
void queue_names_free(char **names, int n);
/* Removes dir/.tmp-* left by a process killed while writing. */
void queue_sweep_tmp(const char *dir);
/* A new item name (enqueue time and pid), into out. */
void queue_new_name(char *out, size_t len);
/* Takes SINKDIR/lock (non-blocking). Returns the fd, or -EAGAIN with
 * *holder the pid of the process holding it (0 if unknown). */
int queue_lock(const char *sinkdir, int *holder);
/* The done ledger. id may contain '/', which is stored as '_'. */
int queue_mark_done(const char *sinkdir, const char *id);
bool queue_is_done(const char *sinkdir, const char *id);
/* Moves FROM/NAME.json (and its .body) into TO (q, parked, gaveup). */
int queue_move(const char *sinkdir, const char *name, const char *from, const char *to);
/* Removes q/NAME.json, then its .body. */
void queue_remove(const char *sinkdir, const char *name);
/* Removes SUB/NAME.json (SUB: q, parked or gaveup), then its .body: an item
 * dropped unsent. Returns 0 or a negative errno (-ENOENT: already gone). */
int queue_drop_item(const char *sinkdir, const char *sub, const char *name);
/* The enqueue time (real ns) an item's NAME starts with; 0 if it has none. */
int64_t queue_name_ns(const char *name);

#endif /* STALLTRAP_DELIVER_QUEUE_H */
