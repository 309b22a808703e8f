/* retention.h: the incident directories under --out kept within --keep N and --keep-bytes SIZE. */
#ifndef STALLTRAP_DELIVER_RETENTION_H
#define STALLTRAP_DELIVER_RETENTION_H

#include <stdint.h>

#include "deliver/deliver.h"

/* Removes the oldest incident directories of out_dir (by name, which starts
 * with their time; hidden ones, being written, are not counted) until at
 * most keep_n remain (0: no count limit) and they take at most keep_bytes
 * (0: no size limit). The newest is never removed. One log line per removal.
 * Returns how many were removed, or a negative errno. */
int retention_apply(const char *out_dir, uint64_t keep_n, uint64_t keep_bytes, deliver_log_fn log);

#endif /* STALLTRAP_DELIVER_RETENTION_H */
