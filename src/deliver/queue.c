/* queue.c: the delivery queue's files: atomic writes, ordered listing, the lock, the done ledger. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "deliver/queue.h"
#include "util/timeutil.h"

static const char *const subdirs[] = { "q", "active", "parked", "gaveup", "done" };

static int mkdir_p(const char *path)
{
	char tmp[4096];

	if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0700) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, 0700) && errno != EEXIST)
		return -errno;
	return 0;
}

int queue_init_dirs(const char *sinkdir)
{
	char p[4096];
	int ret = mkdir_p(sinkdir);

	for (size_t i = 0; !ret && i < sizeof(subdirs) / sizeof(subdirs[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", sinkdir, subdirs[i]);
		if (mkdir(p, 0700) && errno != EEXIST)
			ret = -errno;
	}
	return ret;
}

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), ret = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd))
		ret = -errno;
	close(fd);
	return ret;
}

int queue_write_file(const char *dir, const char *name, const void *data, size_t len)
{
	char tmp[4096], dst[4096];
	const char *p = data;
	int fd, ret = 0;

	if (snprintf(tmp, sizeof(tmp), "%s/.tmp-%s", dir, name) >= (int)sizeof(tmp) ||
	    snprintf(dst, sizeof(dst), "%s/%s", dir, name) >= (int)sizeof(dst))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	while (len && !ret) {
		ssize_t k = write(fd, p, len);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			ret = k < 0 ? -errno : -EIO;
		else {
			p += k;
			len -= (size_t)k;
		}
	}
	if (!ret && fsync(fd))
		ret = -errno;
	if (close(fd) && !ret)
		ret = -errno;
	if (!ret && rename(tmp, dst))
		ret = -errno;
	if (ret) {
		unlink(tmp);
		return ret;
	}
	return fsync_dir(dir);
}

int queue_read_file(const char *path, char **buf, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *b;
	size_t n;

	if (!f)
		return -errno;
	b = malloc(QUEUE_MAX_ITEM + 1);
	if (!b) {
		fclose(f);
		return -ENOMEM;
	}
	n = fread(b, 1, QUEUE_MAX_ITEM + 1, f);
	fclose(f);
	if (n > QUEUE_MAX_ITEM) {
		free(b);
		return -EFBIG;
	}
	b[n] = '\0';
	*buf = realloc(b, n + 1) ?: b;
	*len = n;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int queue_list(const char *dir, const char *suffix, char ***names)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **v = NULL;
	size_t n = 0, cap = 0, sl = strlen(suffix);

	*names = NULL;
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name);

		if (de->d_name[0] == '.' || l < sl || strcmp(de->d_name + l - sl, suffix))
			continue;
		if (n == cap) {
			char **nv = realloc(v, (cap = cap ? cap * 2 : 16) * sizeof(*v));

			if (!nv)
				break;
			v = nv;
		}
		if (!(v[n] = strdup(de->d_name)))
			break;
		n++;
	}
	closedir(d);
	if (n)
		qsort(v, n, sizeof(*v), cmp_str);
	*names = v;
	return (int)n;
}

void queue_names_free(char **names, int n)
{
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

void queue_sweep_tmp(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	while (d && (de = readdir(d)))
		if (!strncmp(de->d_name, ".tmp-", 5))
			unlinkat(dirfd(d), de->d_name, 0);
	if (d)
		closedir(d);
}

void queue_new_name(char *out, size_t len)
{
	static uint64_t last;
	uint64_t t = (uint64_t)real_ns();

	/* strictly increasing within the process, so two items queued in the
	 * same nanosecond keep their order */
	if (t <= last)
		t = last + 1;
	last = t;
	snprintf(out, len, "%019llu-%d", (unsigned long long)t, (int)getpid());
}

int queue_lock(const char *sinkdir, int *holder)
{
	char p[4096], pid[32];
	int fd;

	*holder = 0;
	snprintf(p, sizeof(p), "%s/lock", sinkdir);
	fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		ssize_t k = pread(fd, pid, sizeof(pid) - 1, 0);

		if (k > 0) {
			pid[k] = '\0';
			*holder = atoi(pid);
		}
		close(fd);
		return -EAGAIN;
	}
	snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	if (ftruncate(fd, 0) == 0 && pwrite(fd, pid, strlen(pid), 0) < 0) {
		/* the pid is only for the message of a second sender */
	}
	return fd;
}

static void done_name(const char *id, char *out, size_t len)
{
	snprintf(out, len, "%s", id);
	for (char *p = out; *p; p++)
		if (*p == '/')
			*p = '_';
}

int queue_mark_done(const char *sinkdir, const char *id)
{
	char dir[4096], name[512];

	snprintf(dir, sizeof(dir), "%s/done", sinkdir);
	done_name(id, name, sizeof(name));
	return queue_write_file(dir, name, "", 0);
}

bool queue_is_done(const char *sinkdir, const char *id)
{
	char p[4096], name[512];

	done_name(id, name, sizeof(name));
	snprintf(p, sizeof(p), "%s/done/%s", sinkdir, name);
	return access(p, F_OK) == 0;
}

int queue_move(const char *sinkdir, const char *name, const char *from, const char *to)
{
	char a[4096], b[4096];

	/* the body first: a .json is never without its .body */
	snprintf(a, sizeof(a), "%s/%s/%s.body", sinkdir, from, name);
	snprintf(b, sizeof(b), "%s/%s/%s.body", sinkdir, to, name);
	if (rename(a, b) && errno != ENOENT)
		return -errno;
	snprintf(a, sizeof(a), "%s/%s/%s.json", sinkdir, from, name);
	snprintf(b, sizeof(b), "%s/%s/%s.json", sinkdir, to, name);
	if (rename(a, b))
		return -errno;
	snprintf(a, sizeof(a), "%s/%s", sinkdir, to);
	fsync_dir(a);
	snprintf(a, sizeof(a), "%s/%s", sinkdir, from);
	return fsync_dir(a);
}

void queue_remove(const char *sinkdir, const char *name)
{
	char p[4096];

	snprintf(p, sizeof(p), "%s/q/%s.json", sinkdir, name);
	unlink(p);
	snprintf(p, sizeof(p), "%s/q/%s.body", sinkdir, name);
	unlink(p);
	snprintf(p, sizeof(p), "%s/q", sinkdir);
	fsync_dir(p);
}

int queue_drop_item(const char *sinkdir, const char *sub, const char *name)
{
	char p[4096];
	int ret = 0;

	/* the .json first: without it the item is no longer queued */
	snprintf(p, sizeof(p), "%s/%s/%s.json", sinkdir, sub, name);
	if (unlink(p))
		ret = -errno;
	snprintf(p, sizeof(p), "%s/%s/%s.body", sinkdir, sub, name);
	unlink(p);
	snprintf(p, sizeof(p), "%s/%s", sinkdir, sub);
	fsync_dir(p);
	return ret;
}

int64_t queue_name_ns(const char *name)
{
	int64_t t = 0;

	for (const char *p = name; *p >= '0' && *p <= '9' && t < INT64_MAX / 10 - 9; p++)
		t = t * 10 + (*p - '0');
	return t;
}
