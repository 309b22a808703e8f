/* outsync.c: see outsync.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/outsync.h"

static bool deferred;

void outsync_defer(bool on)
{
	deferred = on;
}

int outsync_fd(int fd)
{
	if (deferred)
		return 0;
	return fsync(fd) < 0 ? -errno : 0;
}

/* The child's work: 0 or 1 (an fsync failed). */
static int sync_files(const char *dir)
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), bad = 0;
	struct dirent *e;
	DIR *d;

	if (dfd < 0)
		return 1;
	d = fdopendir(dfd);
	if (!d)
		return 1;
	while ((e = readdir(d))) {
		int fd;

		if (e->d_type != DT_REG && e->d_type != DT_UNKNOWN)
			continue;
		fd = openat(dfd, e->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
		if (fd < 0)
			continue;
		bad |= fsync(fd) < 0;
		close(fd);
	}
	bad |= fsync(dfd) < 0;
	closedir(d);
	return bad;
}

int outsync_dir(const char *dir, int wait_ms, pid_t *bg)
{
	struct timespec step = { 0, 10000000 };
	int status, waited;
	pid_t pid;

	*bg = 0;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		/* the background writer must outlive a ^C at the terminal, and
		 * must not hold record's output open: a pipe reading it would
		 * wait for the disk */
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);

		if (null >= 0) {
			dup2(null, STDIN_FILENO);
			dup2(null, STDOUT_FILENO);
			dup2(null, STDERR_FILENO);
		}
		signal(SIGINT, SIG_IGN);
		signal(SIGTERM, SIG_DFL);
		_exit(sync_files(dir));
	}
	for (waited = 0;; waited += 10) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
		if (r < 0)
			return -errno;
		if (waited >= wait_ms)
			break;
		nanosleep(&step, NULL);
	}
	*bg = pid;
	return 1;
}
