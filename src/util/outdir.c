/* outdir.c: see outdir.h. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

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
