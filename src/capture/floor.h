/* floor.h: the cost floor: empty BPF programs (floor.bpf.c) on the tracepoints record uses.
 *
 * For bench/overhead.sh (`stalltrap floor`): attaching programs that do
 * nothing measures what merely being attached costs, the floor under which
 * no capture can go. A struct floor holds the loaded and attached skeleton;
 * floor_detach() detaches and frees it.
 */
#ifndef STALLTRAP_CAPTURE_FLOOR_H
#define STALLTRAP_CAPTURE_FLOOR_H

#include <stddef.h>

struct floor;

/* Loads and attaches the empty programs. Returns 0 with *out the caller's
 * (floor_detach), or a negative errno with a one-line reason in err. */
int floor_attach(struct floor **out, char *err, size_t errlen);
/* Detaches and frees; NULL is a no-op. */
void floor_detach(struct floor *f);

#endif /* STALLTRAP_CAPTURE_FLOOR_H */
