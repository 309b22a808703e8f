/* maps.h: private to the symbolize stage: a parsed copy of a /proc/PID/maps text.
 *
 * Invariants: lines are sorted by start and do not overlap (a text where they
 * do is refused); each path is NUL-terminated, "" for an anonymous mapping,
 * and keeps a " (deleted)" suffix when the kernel printed one.
 */
#ifndef STALLTRAP_SYMBOLIZE_MAPS_H
#define STALLTRAP_SYMBOLIZE_MAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MAPS_R 0x1
#define MAPS_W 0x2
#define MAPS_X 0x4
#define MAPS_SHARED 0x8

#define MAPS_MAX_TEXT (64u << 20)   /* bytes of maps text accepted */
#define MAPS_MAX_LINES (1u << 20)   /* vm.max_map_count is 65530 by default */

struct maps_line {
	uint64_t start, end, offset, ino;
	uint32_t dev_major, dev_minor;
	uint32_t perms;         /* MAPS_* */
	const char *path;
};

struct maps;

/* Parses text (a whole maps file; may be empty). Returns 0 with *out owned by
 * the caller (maps__free), -EINVAL naming no line (a malformed or overlapping
 * line), -E2BIG past the caps above, or -ENOMEM. */
int maps__parse(const char *text, struct maps **out);
void maps__free(struct maps *m);

size_t maps__count(const struct maps *m);
const struct maps_line *maps__line(const struct maps *m, size_t i);
/* The line containing addr, or NULL. */
const struct maps_line *maps__find(const struct maps *m, uint64_t addr);
/* Whether text is byte for byte the text m was parsed from. */
bool maps__same_text(const struct maps *m, const char *text);
/* The text the maps were parsed from. */
const char *maps__text(const struct maps *m);

#endif /* STALLTRAP_SYMBOLIZE_MAPS_H */
