/* reqresp.c: a busy host's unrelated request/response work: N loopback HTTP-ish servers, each under load from its client.
 *
 * Usage: reqresp [--pairs 25] [--duration 5]
 * Forks 2N processes: N servers, each serving one keep-alive TCP connection
 * on 127.0.0.1 (read a request up to its blank line, answer a small
 * HTTP/1.1 200), and N clients, each sending requests one at a time and
 * counting the complete answers. The clients start together and stop at the
 * same deadline; each reports its count to the parent, which prints one line:
 *   {"pairs":N,"duration_s":D,"requests":R,"req_per_s":X,"per_client":[..]}
 * For bench/busyhost.sh: none of these processes is a recorder's target, so
 * their throughput is what a recorder costs the rest of a host.
 */
#define _GNU_SOURCE
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "wl_common.h"

#define MAX_PAIRS 256

static const char REQUEST[] = "GET /work HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: reqresp\r\n\r\n";
static const char RESPONSE[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nok\n";

/* Reads until the buffer ends with what (a whole message); 0 at EOF. */
WL_FRAME static int read_message(int fd, char *buf, size_t cap, const char *end, size_t endlen)
{
	size_t n = 0;

	for (;;) {
		ssize_t r = read(fd, buf + n, cap - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r == 0 ? 0 : -1;
		n += (size_t)r;
		if (n >= endlen && memcmp(buf + n - endlen, end, endlen) == 0)
			return 1;
		if (n == cap)
			return -1;
	}
}

WL_FRAME static void serve(int lfd)
{
	char buf[1024];
	int fd = accept(lfd, NULL, NULL), one = 1;

	if (fd < 0)
		wl_die("accept:");
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	while (read_message(fd, buf, sizeof(buf), "\r\n\r\n", 4) == 1)
		if (write(fd, RESPONSE, sizeof(RESPONSE) - 1) != (ssize_t)(sizeof(RESPONSE) - 1))
			break;
	_exit(0);
}

WL_FRAME static void client(int port, uint64_t start_ns, uint64_t end_ns, int report_fd)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	char buf[1024];
	long count = 0;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)))
		wl_die("connect:");
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	wl_sleep_until(start_ns);
	while (wl_now_ns() < end_ns) {
		if (write(fd, REQUEST, sizeof(REQUEST) - 1) != (ssize_t)(sizeof(REQUEST) - 1))
			wl_die("write:");
		if (read_message(fd, buf, sizeof(buf), "ok\n", 3) != 1)
			wl_die("read: short answer");
		count++;
	}
	if (write(report_fd, &count, sizeof(count)) != sizeof(count))
		wl_die("report:");
	_exit(0);
}

int main(int argc, char **argv)
{
	long pairs = 25, counts[MAX_PAIRS], total = 0;
	double duration = 5;
	int report[2], i, status, failed = 0;
	uint64_t start_ns, end_ns;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--pairs") && i + 1 < argc)
			pairs = wl_parse_long(argv[++i], 1, MAX_PAIRS);
		else if (!strcmp(argv[i], "--duration") && i + 1 < argc)
			duration = wl_parse_seconds(argv[++i]);
		else
			wl_die("usage: reqresp [--pairs N] [--duration S]");
	}
	if (pipe(report))
		wl_die("pipe:");
	/* every client connects before the clock starts; the start leaves them time to */
	start_ns = wl_now_ns() + 300000000ull + (uint64_t)pairs * 4000000ull;
	end_ns = start_ns + (uint64_t)(duration * 1e9);
	for (i = 0; i < pairs; i++) {
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		socklen_t alen = sizeof(a);
		int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) || listen(lfd, 1) ||
		    getsockname(lfd, (struct sockaddr *)&a, &alen))
			wl_die("listen:");
		if (fork() == 0)
			serve(lfd);
		if (fork() == 0) {
			close(lfd);
			client(ntohs(a.sin_port), start_ns, end_ns, report[1]);
		}
		close(lfd);
	}
	close(report[1]);
	for (i = 0; i < pairs; i++) {
		if (read(report[0], &counts[i], sizeof(counts[i])) != sizeof(counts[i])) {
			counts[i] = 0;
			failed = 1;
		}
		total += counts[i];
	}
	while (wait(&status) > 0)
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			failed = 1;
	if (failed)
		wl_die("reqresp: a client or server failed");
	printf("{\"pairs\":%ld,\"duration_s\":%.3f,\"requests\":%ld,\"req_per_s\":%.1f,\"per_client\":[", pairs, duration,
	       total, total / duration);
	for (i = 0; i < pairs; i++)
		printf("%s%ld", i ? "," : "", counts[i]);
	printf("]}\n");
	return 0;
}
