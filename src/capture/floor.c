/* floor.c: loads and attaches the empty floor programs (floor.bpf.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/libbpf.h>

#include "capture/floor.h"
#include "floor.skel.h"

struct floor {
	struct floor_bpf *skel;
};

int floor_attach(struct floor **out, char *err, size_t errlen)
{
	struct floor *f;
	int ret;

	*out = NULL;
	f = calloc(1, sizeof(*f));
	if (!f) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	f->skel = floor_bpf__open_and_load();
	if (!f->skel) {
		ret = errno ? -errno : -EINVAL;
		goto cleanup;
	}
	ret = floor_bpf__attach(f->skel);
	if (ret)
		goto cleanup;
	*out = f;
	return 0;
cleanup:
	snprintf(err, errlen, "cannot load or attach the empty programs: %s", strerror(-ret));
	floor_detach(f);
	return ret;
}

void floor_detach(struct floor *f)
{
	if (!f)
		return;
	floor_bpf__destroy(f->skel);
	free(f);
}
