/* prune.c: a tree's bytes on disk and its removal without following links; the directories of --out. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/prune.h"

/* The walk both share: sums the regular files' bytes under dfd into *bytes,
 * or (remove) empties it. Takes dfd (closes it). 0 or a negative errno. */
static int walk(int dfd, int depth, bool remove, uint64_t *bytes)
{
	DIR *d = fdopendir(dfd);
	struct dirent *de;
	int ret = 0;

	if (!d) {
		ret = -errno;
		close(dfd);
		return ret;
	}
	while ((de = readdir(d))) {
		struct stat st;
		int sub;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW))
			continue;
		if (!S_ISDIR(st.st_mode)) {
			if (!remove && S_ISREG(st.st_mode))
				*bytes += (uint64_t)st.st_blocks * 512u;
			else if (remove && unlinkat(dirfd(d), de->d_name, 0) && errno != ENOENT && !ret)
				ret = -errno;
			continue;
		}
		if (depth >= PRUNE_MAX_DEPTH) {
			ret = ret ?: -ELOOP;
			continue;
		}
		sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0 || walk(sub, depth + 1, remove, bytes) ||
		    (remove && unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR) && errno != ENOENT))
			ret = ret ?: -(errno ? errno : EIO);
	}
	closedir(d);
	return ret;
}

uint64_t prune_tree_bytes(const char *path)
{
	struct stat st;
	uint64_t sum = 0;
	int fd;

	if (lstat(path, &st))
		return 0;
	if (!S_ISDIR(st.st_mode))
		return S_ISREG(st.st_mode) ? (uint64_t)st.st_blocks * 512u : 0;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0)
		walk(fd, 1, false, &sum); /* what could not be read is not counted */
	return sum;
}

int prune_remove_tree(const char *path)
{
	struct stat st;
	int fd, ret;

	if (lstat(path, &st))
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISDIR(st.st_mode))
		return unlink(path) && errno != ENOENT ? -errno : 0;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = walk(fd, 1, true, NULL);
	if (!ret && rmdir(path) && errno != ENOENT)
		ret = -errno;
	return ret;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(((const struct prune_dir *)a)->name, ((const struct prune_dir *)b)->name);
}

int prune_list_dirs(const char *dir, const char *capture_file, struct prune_dir **out)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	struct prune_dir *v = NULL;
	size_t n = 0, cap = 0;
	int ret = 0;

	*out = NULL;
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		struct stat st;
		char p[4400];

		if (de->d_name[0] == '.' || fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) ||
		    !S_ISDIR(st.st_mode))
			continue;
		if (n == cap) {
			struct prune_dir *nv = realloc(v, (cap = cap ? cap * 2 : 16) * sizeof(*v));

			if (!nv) {
				ret = -ENOMEM;
				break;
			}
			v = nv;
		}
		memset(&v[n], 0, sizeof(v[n]));
		if (!(v[n].name = strdup(de->d_name))) {
			ret = -ENOMEM;
			break;
		}
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		v[n].bytes = prune_tree_bytes(p);
		v[n].mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000ll + st.st_mtim.tv_nsec;
		v[n].report = !faccessat(dirfd(d), (snprintf(p, sizeof(p), "%s/report.json", de->d_name), p), F_OK,
					 AT_SYMLINK_NOFOLLOW);
		v[n].capture = capture_file &&
			       !faccessat(dirfd(d), (snprintf(p, sizeof(p), "%s/%s", de->d_name, capture_file), p), F_OK,
					  AT_SYMLINK_NOFOLLOW);
		n++;
	}
	closedir(d);
	if (ret) {
		prune_dirs_free(v, (int)n);
		return ret;
	}
	if (n)
		qsort(v, n, sizeof(*v), cmp_name);
	*out = v;
	return (int)n;
}

void prune_dirs_free(struct prune_dir *v, int n)
{
	for (int i = 0; i < n; i++)
		free(v[i].name);
	free(v);
}
