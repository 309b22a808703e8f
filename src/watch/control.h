/* control.h: the watcher's control socket, which `stalltrap trigger` talks to.
 *
 * A unix stream socket STATE_DIR/watch-<watcher pid>.sock (mode 0600), served
 * by a thread of its own. Protocol: one request line, one answer line.
 *   request:  "trigger pid <PID>" or "trigger name <COMM>"
 *   answer:   "not-mine" when the watcher does not watch that target, else
 *             what the callback said ("started", "extended", "suppressed",
 *             "capturing", "queued"), or "error: ..."
 * Each connection gets 1 s to send its line; the callback may wait (it asks
 * the main loop), bounded by the caller.
 */
#ifndef STALLTRAP_CONTROL_H
#define STALLTRAP_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define CONTROL_LINE 512u

struct control_cbs {
	void *arg;
	/* Whether the watcher watches this target: what is "pid" or "name". */
	bool (*is_ours)(void *arg, const char *what, const char *who);
	/* Triggers a capture; returns the answer word. Runs on the control thread. */
	const char *(*trigger)(void *arg, const char *reason);
};

struct control;

/* Creates state_dir (0700) if needed, binds the socket and starts serving.
 * Returns 0 or a negative errno with a one-line reason in err. */
int control_start(struct control **out, const char *state_dir, const struct control_cbs *cbs,
		  char *err, size_t errlen);
/* Stops serving, removes the socket, frees. Safe on NULL. */
void control_stop(struct control *c);
/* The socket's path for the watcher with process id pid. */
void control_socket_path(const char *state_dir, pid_t pid, char *buf, size_t len);

#endif /* STALLTRAP_CONTROL_H */
