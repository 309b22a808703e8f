/* retention.c: --keep and --keep-bytes: the oldest incident directories go first, and the log says so. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deliver/retention.h"
#include "util/prune.h"
#include "util/units.h"

int retention_apply(const char *out_dir, uint64_t keep_n, uint64_t keep_bytes, deliver_log_fn log)
{
	struct prune_dir *v;
	char path[4400], line[4800], size[32];
	uint64_t total = 0;
	size_t n = 0, first = 0;
	int removed = 0, all;

	if (!keep_n && !keep_bytes)
		return 0;
	/* in time order (by name); hidden ones are being written */
	all = prune_list_dirs(out_dir, NULL, &v);
	if (all < 0)
		return all;
	for (int i = 0; i < all; i++) {
		if (!v[i].report) {
			free(v[i].name);
			continue;
		}
		v[n++] = v[i]; /* an incident directory */
		total += v[i].bytes;
	}
	while (n - first > 1 && ((keep_n && n - first > keep_n) || (keep_bytes && total > keep_bytes))) {
		bool by_count = keep_n && n - first > keep_n;
		int ret;

		snprintf(path, sizeof(path), "%s/%s", out_dir, v[first].name);
		units_fmt_bytes(size, sizeof(size), v[first].bytes);
		ret = prune_remove_tree(path);
		if (ret) {
			snprintf(line, sizeof(line), "retention: cannot remove %s: %s", path, strerror(-ret));
			log(line);
			break;
		}
		if (by_count)
			snprintf(line, sizeof(line), "retention: removed the oldest incident %s (%s): --keep %llu",
				 path, size, (unsigned long long)keep_n);
		else
			snprintf(line, sizeof(line), "retention: removed the oldest incident %s (%s): --keep-bytes %llu, "
				 "the incidents took %llu", path, size, (unsigned long long)keep_bytes,
				 (unsigned long long)total);
		log(line);
		total -= v[first].bytes;
		first++;
		removed++;
	}
	prune_dirs_free(v, (int)n);
	return removed;
}
