/* retention.c: --keep and --keep-bytes: the oldest incident directories go first, and the log says so. */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "deliver/queue.h"
#include "deliver/queue.h"
#include "deliver/retention.h"
#include "util/units.h"

static uint64_t g_bytes; /* nftw has no argument: one walk at a time (the writer thread's) */

static int add_size(const char *p, const struct stat *st, int type, struct FTW *f)
{
	(void)p, (void)f;
	if (type == FTW_F)
		g_bytes += (uint64_t)st->st_blocks * 512u;
	return 0;
}

static int rm_one(const char *p, const struct stat *st, int type, struct FTW *f)
{
	(void)st, (void)f;
	return type == FTW_DP ? rmdir(p) : unlink(p);
}

static uint64_t dir_bytes(const char *dir)
{
	g_bytes = 0;
	nftw(dir, add_size, 8, FTW_PHYS);
	return g_bytes;
}

int retention_apply(const char *out_dir, uint64_t keep_n, uint64_t keep_bytes, deliver_log_fn log)
{
	char **names = NULL, **v, path[4400], line[4800], size[32];
	uint64_t *bytes = NULL, total = 0;
	size_t n = 0, first = 0;
	int removed = 0, all;

	if (!keep_n && !keep_bytes)
		return 0;
	/* the names in time order (hidden ones are being written) */
	all = queue_list(out_dir, "", &names);
	if (all < 0)
		return all;
	for (int i = 0; i < all; i++) {
		struct stat st;

		char *name = names[i];

		names[i] = NULL;
		snprintf(path, sizeof(path), "%s/%s", out_dir, name);
		if (!lstat(path, &st) && S_ISDIR(st.st_mode)) {
			snprintf(path, sizeof(path), "%s/%s/report.json", out_dir, name);
			if (!access(path, F_OK)) {
				names[n++] = name; /* an incident directory */
				continue;
			}
		}
		free(name);
	}
	v = names;
	bytes = calloc(n ? n : 1, sizeof(*bytes));
	for (size_t i = 0; bytes && i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", out_dir, v[i]);
		bytes[i] = dir_bytes(path);
		total += bytes[i];
	}
	while (bytes && n - first > 1 && ((keep_n && n - first > keep_n) || (keep_bytes && total > keep_bytes))) {
		bool by_count = keep_n && n - first > keep_n;

		snprintf(path, sizeof(path), "%s/%s", out_dir, v[first]);
		units_fmt_bytes(size, sizeof(size), bytes[first]);
		if (nftw(path, rm_one, 8, FTW_DEPTH | FTW_PHYS)) {
			snprintf(line, sizeof(line), "retention: cannot remove %s: %s", path, strerror(errno));
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
		total -= bytes[first];
		first++;
		removed++;
	}
	queue_names_free(v, (int)n);
	free(bytes);
	return removed;
}
