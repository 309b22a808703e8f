/* control.c: the control socket: `stalltrap trigger` -> the watcher. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "watch/control.h"

struct control {
	struct control_cbs cbs;
	int fd;
	char path[108];
	pthread_t thread;
	bool started;
};

void control_socket_path(const char *state_dir, pid_t pid, char *buf, size_t len)
{
	snprintf(buf, len, "%s/watch-%d.sock", state_dir, (int)pid);
}

static void handle(struct control *c, int fd)
{
	char line[CONTROL_LINE], what[16] = "", who[256] = "", reason[300];
	const char *answer = "error: bad request";
	struct timeval tv = { .tv_sec = 1 };
	ssize_t n;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	n = read(fd, line, sizeof(line) - 1);
	if (n <= 0)
		return;
	line[n] = '\0';
	line[strcspn(line, "\n")] = '\0';
	if (sscanf(line, "trigger %15s %255s", what, who) == 2 &&
	    (!strcmp(what, "pid") || !strcmp(what, "name"))) {
		if (!c->cbs.is_ours(c->cbs.arg, what, who)) {
			answer = "not-mine";
		} else {
			snprintf(reason, sizeof(reason), "stalltrap trigger --%s %.200s", what, who);
			answer = c->cbs.trigger(c->cbs.arg, reason);
		}
	}
	if (write(fd, answer, strlen(answer)) < 0 || write(fd, "\n", 1) < 0) {
		/* the client went away: nothing to tell */
	}
}

static void *control_main(void *arg)
{
	struct control *c = arg;

	for (;;) {
		int fd = accept4(c->fd, NULL, NULL, SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			break; /* shut down */
		}
		handle(c, fd);
		close(fd);
	}
	return NULL;
}

int control_start(struct control **out, const char *state_dir, const struct control_cbs *cbs,
		  char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct control *c = calloc(1, sizeof(*c));
	int ret;

	*out = NULL;
	if (!c)
		return -ENOMEM;
	c->cbs = *cbs;
	c->fd = -1;
	if (mkdir(state_dir, 0700) && errno != EEXIST) {
		ret = -errno;
		snprintf(err, errlen, "cannot create --state-dir %s: %s", state_dir, strerror(errno));
		goto cleanup;
	}
	control_socket_path(state_dir, getpid(), c->path, sizeof(c->path));
	if (strlen(c->path) + 1 >= sizeof(c->path) || strlen(c->path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "--state-dir path too long for a socket: %s", state_dir);
		ret = -ENAMETOOLONG;
		goto cleanup;
	}
	memcpy(sa.sun_path, c->path, strlen(c->path) + 1);
	unlink(c->path);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0 || bind(c->fd, (struct sockaddr *)&sa, sizeof(sa)) || chmod(c->path, 0600) ||
	    listen(c->fd, 8)) {
		ret = -errno;
		snprintf(err, errlen, "cannot listen on %s: %s", c->path, strerror(errno));
		goto cleanup;
	}
	ret = pthread_create(&c->thread, NULL, control_main, c);
	if (ret) {
		snprintf(err, errlen, "cannot start the control thread: %s", strerror(ret));
		ret = -ret;
		goto cleanup;
	}
	c->started = true;
	*out = c;
	return 0;
cleanup:
	control_stop(c);
	return ret;
}

void control_stop(struct control *c)
{
	if (!c)
		return;
	if (c->fd >= 0) {
		/* shutdown wakes the accept() of the thread */
		shutdown(c->fd, SHUT_RDWR);
		if (c->started)
			pthread_join(c->thread, NULL);
		close(c->fd);
		unlink(c->path);
	}
	free(c);
}
