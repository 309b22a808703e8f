/* scen_busy.c: scenario: a single-threaded event loop stuck in a long computation.
 *
 * The only thread polls (poll() with a 20 ms timeout, as an event loop waits
 * for its sockets) and, 200 ms after the gate, runs compute_digest() on-CPU
 * for --busy seconds (default 2) without blocking, then polls again until
 * --seconds is over. Nothing waits on anything: the culprit is the loop's
 * own thread, busy in compute_digest.
 *
 * Usage: scen_busy [--busy S] [--seconds S] [--ready FILE] [--start-after FILE]
 * Prints {"scenario":"busy","expect_kind":"cpu_busy","culprit_tid":..,
 *         "culprit_function":"compute_digest","stall_ms":<busy time>,"loop_gap_ms":<longest gap between polls>}
 */
#define _GNU_SOURCE
#include <poll.h>

#include "scen_common.h"

static double busy_s = 2.0;
static volatile uint64_t digest;

WL_FRAME static void compute_digest(void)
{
	digest = scen_spin((uint64_t)(busy_s * 1e9), digest);
	WL_NO_TAILCALL();
}

WL_FRAME static void wait_for_events(void)
{
	poll(NULL, 0, 20);
	WL_NO_TAILCALL();
}

static int opt(const char *a, const char *v)
{
	if (v && !strcmp(a, "--busy")) {
		busy_s = wl_parse_seconds(v);
		return 2;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct scen_opts o = { .seconds = 2.6 };
	uint64_t end, busy_at, last = 0, gap = 0, t0 = 0, busy_ns = 0;
	bool busy_done = false;

	scen_parse(argc, argv, &o, "usage: scen_busy [--busy S] [--seconds S] [--ready FILE] "
		   "[--start-after FILE]", opt);
	scen_culprit_here();
	scen_ready_then_gate(&o);
	end = scen_deadline(&o);
	busy_at = wl_now_ns() + 200000000ull;
	while (wl_now_ns() < end || !busy_done) {
		uint64_t now = wl_now_ns();

		if (last && now - last > gap)
			gap = now - last;
		last = now;
		if (!busy_done && now >= busy_at) {
			t0 = wl_now_ns();
			compute_digest();
			busy_ns = wl_now_ns() - t0;
			busy_done = true;
			continue;
		}
		wait_for_events();
	}
	scen_report("busy", "cpu_busy", "compute_digest", ",\"stall_ms\":%.1f,\"loop_gap_ms\":%.1f",
		    busy_ns / 1e6, gap / 1e6);
	return 0;
}
