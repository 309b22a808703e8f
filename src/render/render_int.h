/* render_int.h: helpers shared by the renderers; not part of the render API. */
#ifndef STALLTRAP_RENDER_INT_H
#define STALLTRAP_RENDER_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capdata/capdata.h"

/* ns -> ms rounded to whole microseconds (3 decimals). */
double render_ms(uint64_t ns);
/* ns -> whole microseconds, rounded half up. */
uint64_t render_us(uint64_t ns);
/* CLOCK_REALTIME ns -> "2024-05-01T12:34:56.789Z" (RFC 3339, UTC, milliseconds). */
void render_rfc3339(int64_t real_ns, char *buf, size_t len);
/* Whether the block's user stack contributes frames (see render.h). */
bool render_shows_ustack(const struct capdata *cd, uint32_t ustack);
/* "complete", "truncated", "unreadable" or "none" (also for ST_NO_STACK). */
const char *render_ustack_status(const struct capdata *cd, uint32_t ustack);

#endif /* STALLTRAP_RENDER_INT_H */
