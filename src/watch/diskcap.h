/* diskcap.h: --max-disk: incidents, capture data and the delivery queue kept within one size, the oldest removed first.
 *
 * What counts: every byte under --out (incident directories, capture
 * directories, files being written) and under STATE_DIR/deliver/ (each
 * sink's queue: q/, parked/, gaveup/, and the small ledgers beside them).
 * What may go, oldest first across all of them: an incident (a directory of
 * --out with report.json), capture data (a directory of --out with
 * capture.jsonl.gz and no report.json: a capture whose rendering never
 * finished), a queue item (q/, parked/ or gaveup/ NAME.json and its .body).
 * "Oldest" is a directory's mtime (when its last file was written) and a
 * queue item's enqueue time (its name).
 * Never removed: the newest incident, the incident the caller names active,
 * hidden entries (being written), an item the delivery stage is sending,
 * and any item of a queue another process delivers (it holds the lock).
 * A queued item is dropped through the delivery stage when this process
 * delivers its queue (deliver_queue_drop: counted per sink); otherwise its
 * queue's lock is taken for the removal.
 * One log line per removal: what, path, bytes, and why ("over --max-disk").
 */
#ifndef STALLTRAP_WATCH_DISKCAP_H
#define STALLTRAP_WATCH_DISKCAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "deliver/deliver.h"

enum diskcap_what { DISKCAP_INCIDENT = 0, DISKCAP_QUEUE, DISKCAP_CAPTURE, DISKCAP_N };

/* "incident", "queue", "capture": the log's word and the metric's label. */
const char *diskcap_what_name(enum diskcap_what w);

/* One thing --max-disk may remove. */
struct diskcap_item {
	enum diskcap_what what;
	int64_t t_ns;               /* when it was made (real ns): the oldest goes first */
	uint64_t bytes;             /* on disk */
	bool keep;                  /* active, in flight, locked: never removed */
	bool remove;                /* diskcap_plan's answer */
	int sink;                   /* queue: its enum sink_kind */
	char sub[8];                /* queue: q, parked or gaveup */
	char name[256];             /* a directory of --out, or a queue item's NAME */
};

/* The pure part: sorts v oldest first (ties by name), keeps the newest
 * incident too, and marks for removal the oldest items not kept until total
 * (all bytes, removable or not) is at most max_bytes. Returns how many are
 * marked; *after is total less their bytes (still over max_bytes when what
 * remains cannot go). max_bytes 0: nothing. */
size_t diskcap_plan(struct diskcap_item *v, size_t n, uint64_t total, uint64_t max_bytes, uint64_t *after);

struct diskcap_cfg {
	const char *out_dir;
	const char *state_dir;      /* NULL: no delivery queue */
	uint64_t max_bytes;         /* --max-disk; 0: off */
	const char *active;         /* a directory name of --out not to remove (an incident being handed over), or NULL */
	struct deliver *dlv;        /* this process's delivery stage, or NULL */
	deliver_log_fn log;
};

struct diskcap_result {
	uint64_t bytes;             /* in use after the removals */
	uint64_t removed[DISKCAP_N];
	uint64_t removed_bytes;
};

/* Measures, and removes the oldest until within c->max_bytes (see above).
 * *r is filled (counts of this call only). Returns how many were removed,
 * or a negative errno when --out cannot be read. */
int diskcap_apply(const struct diskcap_cfg *c, struct diskcap_result *r);

/* --max-disk's default: a tenth of the file system holding dir, at most
 * DISKCAP_DEFAULT_MAX; 0 if it cannot be measured. */
#define DISKCAP_DEFAULT_MAX (4ull << 30)
uint64_t diskcap_default(const char *dir);

#endif /* STALLTRAP_WATCH_DISKCAP_H */
