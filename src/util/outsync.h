/* outsync.h: when the files a command writes reach the disk.
 *
 * The atomic writers (render_write_file, capdata_write) write a temporary
 * file, fsync it (outsync_fd) and rename it. On a throttled or frozen output
 * disk the fsyncs take seconds each: `record` ended 25-37 s late. record
 * therefore defers them (outsync_defer): its files are written to the page
 * cache and renamed at once, then outsync_dir() syncs the directory in a
 * child process with a deadline; past it the child finishes in the
 * background and record ends on time. watch's incident writer is a thread of
 * its own and keeps the fsync before the rename.
 */
#ifndef STALLTRAP_UTIL_OUTSYNC_H
#define STALLTRAP_UTIL_OUTSYNC_H

#include <stdbool.h>
#include <sys/types.h>

/* Process-wide: on, outsync_fd() does nothing (the caller syncs later). */
void outsync_defer(bool on);

/* fsync(fd) unless deferred. Returns 0 or a negative errno. */
int outsync_fd(int fd);

/* fsyncs the regular files directly in dir, then dir itself, in a child
 * process, waiting up to wait_ms for it. Returns 0 when done, 1 when the
 * child is still at it after wait_ms (*bg: its pid; it carries on and exits
 * by itself), or a negative errno (fork failed, or the child could not sync:
 * then nothing runs on). */
int outsync_dir(const char *dir, int wait_ms, pid_t *bg);

#endif
