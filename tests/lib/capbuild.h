/* capbuild.h: builds capture data by hand for the tests and the capture generator (header-only, capdata.h's API only).
 *
 * A struct capbuild names the capdata being built and how its user frames are
 * placed: stacks are given by frame names, root first, either as an array
 * (cb_stackv, CB_STACK) or as one string "a;b@;c" (cb_stack). A frame's address
 * is a hash of its name within its side's range: kernel frames above
 * CB_KERNEL_BASE, without a mapping; a user frame whose name ends in '@' (the
 * '@' is dropped) lies in libc_map, any other in exe_map (ST_NO_MAPPING: at
 * CB_NOMAP_BASE). So one name on one side is one frame, whichever stack it is in.
 *
 * Every helper checks what the capdata call returns. In a cmocka test (include
 * cmocka.h first) a failure fails the test; elsewhere it says what failed and
 * exits 1.
 */
#ifndef STALLTRAP_TEST_CAPBUILD_H
#define STALLTRAP_TEST_CAPBUILD_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capdata/capdata.h"

#define CB_KERNEL_BASE 0xffffffff81000000ULL
#define CB_NOMAP_BASE 0x1000ULL
#define CB_MAX_DEPTH 64

#ifdef assert_true
#define CB_CHECK(cond) assert_true(cond)
#else
#define CB_CHECK(cond) \
	((cond) ? (void)0 : (fprintf(stderr, "capbuild: %s failed (%s:%d)\n", #cond, __FILE__, __LINE__), exit(1)))
#endif

struct capbuild {
	struct capdata *cd;
	uint32_t exe_map;   /* mapping of user frames, or ST_NO_MAPPING */
	uint32_t libc_map;  /* mapping of user frames named "name@", or ST_NO_MAPPING */
};

/* A builder of cd (initialized by the caller), with no mappings yet. */
static inline struct capbuild cb_of(struct capdata *cd)
{
	return (struct capbuild){ .cd = cd, .exe_map = ST_NO_MAPPING, .libc_map = ST_NO_MAPPING };
}

static inline uint32_t cb_mapping(struct capbuild *b, uint64_t start, uint64_t limit, uint64_t offset,
				  const char *file, const char *build_id)
{
	int64_t id = capdata_mapping(b->cd, start, limit, offset, file, build_id);

	CB_CHECK(id >= 0);
	return (uint32_t)id;
}

/* The frame NAME (LEN bytes of it) on its side, placed as said above. */
static inline uint32_t cb_frame(struct capbuild *b, const char *name, size_t len, bool kernel)
{
	uint64_t h = 1469598103934665603ULL, base;
	uint32_t mapping = ST_NO_MAPPING;
	bool in_libc = !kernel && len && name[len - 1] == '@';
	char buf[512];
	size_t i;
	int64_t id;

	if (in_libc)
		len--;
	CB_CHECK(len < sizeof(buf));
	memcpy(buf, name, len);
	buf[len] = '\0';
	for (i = 0; i < len; i++)
		h = (h ^ (unsigned char)buf[i]) * 1099511628211ULL;
	if (kernel) {
		base = CB_KERNEL_BASE;
		h &= 0xffffff;
	} else {
		mapping = in_libc ? b->libc_map : b->exe_map;
		base = mapping == ST_NO_MAPPING ? CB_NOMAP_BASE : b->cd->mappings[mapping].start;
		h &= 0xfffff;
	}
	id = capdata_frame(b->cd, buf, base + h, mapping, kernel);
	CB_CHECK(id >= 0);
	return (uint32_t)id;
}

/* A complete stack of N frames named root first. */
static inline uint32_t cb_stackv(struct capbuild *b, bool kernel, const char *const *names, size_t n)
{
	uint32_t frames[CB_MAX_DEPTH];
	size_t i;
	int64_t id;

	CB_CHECK(n <= CB_MAX_DEPTH);
	for (i = 0; i < n; i++)
		frames[i] = cb_frame(b, names[i], strlen(names[i]), kernel);
	id = capdata_stack(b->cd, frames, (uint32_t)n, CAP_STACK_COMPLETE);
	CB_CHECK(id >= 0);
	return (uint32_t)id;
}

#define CB_STACK(b, kernel, ...) \
	cb_stackv((b), (kernel), (const char *const[]){ __VA_ARGS__ }, \
		  sizeof((const char *const[]){ __VA_ARGS__ }) / sizeof(const char *))

/* A complete stack from "a;b@;c", root first. */
static inline uint32_t cb_stack(struct capbuild *b, bool kernel, const char *names)
{
	uint32_t frames[CB_MAX_DEPTH];
	const char *p = names, *end;
	uint32_t n = 0;
	int64_t id;

	while (*p) {
		end = strchr(p, ';');
		if (!end)
			end = p + strlen(p);
		CB_CHECK(n < CB_MAX_DEPTH);
		frames[n++] = cb_frame(b, p, (size_t)(end - p), kernel);
		p = *end ? end + 1 : end;
	}
	id = capdata_stack(b->cd, frames, n, CAP_STACK_COMPLETE);
	CB_CHECK(id >= 0);
	return (uint32_t)id;
}

/* The stack of a thread without one (a kernel thread's user stack). */
static inline uint32_t cb_no_stack(struct capbuild *b)
{
	int64_t id = capdata_stack(b->cd, NULL, 0, CAP_STACK_NONE);

	CB_CHECK(id >= 0);
	return (uint32_t)id;
}

static inline uint32_t cb_thread(struct capbuild *b, int32_t pid, int32_t tid, const char *comm)
{
	int64_t id = capdata_thread(b->cd, pid, tid, comm);

	CB_CHECK(id >= 0);
	return (uint32_t)id;
}

static inline void cb_block(struct capbuild *b, const struct cap_block *blk)
{
	CB_CHECK(capdata_add_block(b->cd, blk) == 0);
}

static inline void cb_hold(struct capbuild *b, const struct cap_hold *h)
{
	CB_CHECK(capdata_add_hold(b->cd, h) == 0);
}

static inline void cb_sample_nv(struct capbuild *b, uint32_t thread, uint64_t ts_ns, uint32_t ustack,
				uint32_t kstack, uint64_t nvcsw)
{
	struct cap_sample s = { .thread = thread, .ts_ns = ts_ns, .ustack = ustack, .kstack = kstack,
				.nvcsw = nvcsw };

	CB_CHECK(capdata_add_sample(b->cd, &s) == 0);
}

static inline void cb_sample(struct capbuild *b, uint32_t thread, uint64_t ts_ns, uint32_t ustack,
			     uint32_t kstack)
{
	cb_sample_nv(b, thread, ts_ns, ustack, kstack, 0);
}

static inline void cb_mem(struct capbuild *b, int32_t pid, uint64_t ts_ns, uint64_t rss_bytes,
			  uint64_t vsz_bytes)
{
	struct cap_mem m = { .pid = pid, .ts_ns = ts_ns, .rss_bytes = rss_bytes, .vsz_bytes = vsz_bytes };

	CB_CHECK(capdata_add_mem(b->cd, &m) == 0);
}

#endif /* STALLTRAP_TEST_CAPBUILD_H */
