/* outdir.c: see outdir.h. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/outdir.h"

int outdir_make(const char *path)
{
	struct stat st;

	if (mkdir(path, 0700) == 0)
		return 0;
	if (errno != EEXIST)
		return -errno;
	if (lstat(path, &st) != 0)
		return -errno;
	if (S_ISLNK(st.st_mode))
		return -ELOOP;
	return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

const char *outdir_strerror(int err)
{
	if (err == -ELOOP)
		return "it is a symbolic link (refused: nothing is written through one)";
	if (err == -ENOTDIR)
		return "it exists and is not a directory";
	return strerror(-err);
}

/* ".NAME.XXXXXX" (mkstemp's six characters) or ".NAME.tmp" */
static bool stale_name(const char *n, bool *is_dir)
{
	size_t len = strlen(n), i;

	if (n[0] != '.' || len < 6 || !strcmp(n, ".") || !strcmp(n, ".."))
		return false;
	if (len > 5 && !strcmp(n + len - 4, ".tmp")) {
		*is_dir = true;
		return true;
	}
	if (len < 9 || n[len - 7] != '.')
		return false;
	for (i = len - 6; i < len; i++)
		if (!isalnum((unsigned char)n[i]))
			return false;
	*is_dir = false;
	return true;
}

static int remove_flat_at(int dfd, const char *name)
{
	int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d;
	struct dirent *e;

	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	while ((e = readdir(d)))
		if (e->d_name[0] != '.' || (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")))
			unlinkat(fd, e->d_name, 0);
	closedir(d);
	return unlinkat(dfd, name, AT_REMOVEDIR) ? -errno : 0;
}

int outdir_remove_flat(const char *path)
{
	return remove_flat_at(AT_FDCWD, path);
}

int outdir_clean_stale(const char *dir, unsigned min_age_s)
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), n = 0;
	time_t now = time(NULL);
	struct dirent *e;
	struct stat st;
	DIR *d;

	if (dfd < 0)
		return 0;
	d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return 0;
	}
	while ((e = readdir(d))) {
		bool is_dir;

		if (!stale_name(e->d_name, &is_dir) ||
		    fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) ||
		    now - st.st_mtime < (time_t)min_age_s)
			continue;
		if (is_dir ? S_ISDIR(st.st_mode) && !remove_flat_at(dfd, e->d_name)
			   : S_ISREG(st.st_mode) && !unlinkat(dfd, e->d_name, 0))
			n++;
	}
	closedir(d);
	return n;
}
