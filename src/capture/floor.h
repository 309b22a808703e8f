/* floor.h: the cost floor: empty BPF programs (floor.bpf.c) on hooks named at run time.
 *
 * For bench/overhead.sh (`stalltrap floor --hooks LIST`): attaching programs
 * that do nothing measures what merely being attached to a hook costs, the
 * floor under which no capture can go. The hooks are those record attaches,
 * named as `raw_tp:NAME`, `tp_btf:NAME` or `perf_event` (a CPU-clock event
 * per CPU at the sampler's rate, as record's on-CPU sampler). Every hook gets
 * a program of its own. A struct floor holds them attached; floor_detach()
 * detaches and frees it.
 */
#ifndef STALLTRAP_CAPTURE_FLOOR_H
#define STALLTRAP_CAPTURE_FLOOR_H

#include <stddef.h>
#include <stdint.h>

#define FLOOR_MAX_HOOKS 64

enum floor_kind {
	FLOOR_RAW_TP,
	FLOOR_TP_BTF,
	FLOOR_PERF_EVENT,
};

struct floor_hook {
	enum floor_kind kind;
	char name[64];          /* the tracepoint; "" for FLOOR_PERF_EVENT */
};

struct floor;

/* Pure: parses a comma-separated LIST into hooks (at most max). Returns how
 * many, or -EINVAL with one line naming the bad item in err. */
int floor_parse_hooks(const char *list, struct floor_hook *hooks, int max, char *err, size_t errlen);
/* Loads and attaches an empty program on each of the n hooks, the perf_event
 * one at sample_hz. Returns 0 with *out the caller's (floor_detach), or a
 * negative errno with one line naming the hook that failed in err. */
int floor_attach(struct floor **out, const struct floor_hook *hooks, int n, uint32_t sample_hz,
		 char *err, size_t errlen);
/* How many BPF links are attached (a perf_event hook counts one per CPU). */
int floor_nlinks(const struct floor *f);
/* Detaches and frees; NULL is a no-op. */
void floor_detach(struct floor *f);

#endif /* STALLTRAP_CAPTURE_FLOOR_H */
