/* render.c: shared render helpers, the atomic file writer, render_all (profile.folded + report.json) and render_all_files (every file). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "render/render.h"
#include "render/render_int.h"
#include "util/outsync.h"

void render_rfc3339(int64_t real_ns, char *buf, size_t len)
{
	/* Floor division, so instants before 1970 still print the right fraction. */
	int64_t sec = real_ns / 1000000000, rem = real_ns % 1000000000;
	struct tm tm;
	time_t t;
	size_t n;

	if (rem < 0) {
		rem += 1000000000;
		sec--;
	}
	t = (time_t)sec;
	if (!gmtime_r(&t, &tm)) {
		snprintf(buf, len, "1970-01-01T00:00:00.000Z");
		return;
	}
	n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	if (n)
		snprintf(buf + n, len - n, ".%03dZ", (int)(rem / 1000000));
}

json_t *render_window_json(const struct capdata *cd)
{
	char start[40];

	render_rfc3339(cd->window.start_real_ns, start, sizeof(start));
	return json_pack("{s:s, s:f}", "start", start, "duration_s", units_s(cd->window.duration_ns));
}

bool render_shows_ustack(const struct capdata *cd, uint32_t ustack)
{
	return ustack < cd->nstacks && cd->stacks[ustack].status != CAP_STACK_NONE;
}

const char *render_ustack_status(const struct capdata *cd, uint32_t ustack)
{
	if (ustack >= cd->nstacks)
		return capdata_stack_status_name(CAP_STACK_NONE);
	return capdata_stack_status_name(cd->stacks[ustack].status);
}

int render_write_file(const char *path, int (*fill)(FILE *f, void *arg), void *arg)
{
	char tmp[PATH_MAX];
	const char *slash = strrchr(path, '/');
	FILE *f = NULL;
	int fd, err;

	/* The temp file must be in path's directory for rename() to be atomic. */
	if (slash) {
		if (snprintf(tmp, sizeof(tmp), "%.*s/.%s.XXXXXX", (int)(slash - path), path,
			     slash + 1) >= (int)sizeof(tmp))
			return -ENAMETOOLONG;
	} else if (snprintf(tmp, sizeof(tmp), ".%s.XXXXXX", path) >= (int)sizeof(tmp)) {
		return -ENAMETOOLONG;
	}
	fd = mkostemp(tmp, O_CLOEXEC); /* mode 0600 */
	if (fd < 0)
		return -errno;
	f = fdopen(fd, "w");
	if (!f) {
		err = -errno;
		close(fd);
		goto cleanup;
	}
	err = fill(f, arg);
	if (!err && fflush(f) != 0)
		err = -errno;
	if (!err && ferror(f))
		err = -EIO;
	if (!err)
		err = outsync_fd(fileno(f));
	if (fclose(f) != 0 && !err)
		err = -errno;
	if (!err && rename(tmp, path) < 0)
		err = -errno;
cleanup:
	if (err)
		unlink(tmp);
	return err;
}

static int fill_report(FILE *f, void *arg)
{
	const json_t *report = arg;

	/* 15 significant digits print 3-decimal ms values as written (1234.567, not
	 * 1234.5670000000001) for any figure below 10^12 ms. */
	if (json_dumpf(report, f, JSON_INDENT(2) | JSON_REAL_PRECISION(15)) != 0)
		return -EIO;
	if (fputc('\n', f) == EOF)
		return -EIO;
	return 0;
}

int render_report_write(const json_t *report, const char *path)
{
	return render_write_file(path, fill_report, (void *)report);
}

struct folded_arg {
	const struct capdata *cd;
	const struct aggregate *agg;
};

static int fill_folded(FILE *f, void *arg)
{
	struct folded_arg *a = arg;

	return render_folded(f, a->cd, a->agg);
}

int render_all(const char *dir, const struct capdata *cd, const struct aggregate *agg,
	       const json_t *extra, char *err, size_t errlen)
{
	struct folded_arg fa = { .cd = cd, .agg = agg };
	char path[PATH_MAX];
	int rc;

	if (errlen)
		err[0] = '\0';
	if (snprintf(path, sizeof(path), "%s/%s", dir, RENDER_FOLDED_FILE) >= (int)sizeof(path)) {
		rc = -ENAMETOOLONG;
		goto fail;
	}
	rc = render_write_file(path, fill_folded, &fa);
	if (rc)
		goto fail;

	if (snprintf(path, sizeof(path), "%s/%s", dir, RENDER_REPORT_FILE) >= (int)sizeof(path)) {
		rc = -ENAMETOOLONG;
		goto fail;
	}
	rc = render_report_file(path, cd, agg, extra);
	if (rc)
		goto fail;
	return 0;

fail:
	if (errlen)
		snprintf(err, errlen, "%s: cannot write: %s", path, strerror(-rc));
	return rc;
}

/* ---- every file of a capture directory ---- */

enum picture { PIC_FLAME, PIC_TIMELINE, PIC_PPROF, PIC_HTML };

struct picture_arg {
	enum picture what;
	const struct capdata *cd;
	const struct aggregate *agg;
	const json_t *extra;
};

static int fill_picture(FILE *f, void *arg)
{
	struct picture_arg *a = arg;

	switch (a->what) {
	case PIC_FLAME: return render_flame(f, a->cd, a->agg, a->extra, 0);
	case PIC_TIMELINE: return render_timeline(f, a->cd, a->agg, a->extra, 0);
	case PIC_PPROF: return render_pprof(f, a->cd, a->agg, a->extra);
	case PIC_HTML: return render_html(f, a->cd, a->agg, a->extra);
	}
	return -EINVAL;
}

int render_all_files(const char *dir, const struct capdata *cd, const struct aggregate *agg,
		     const json_t *extra, char *err, size_t errlen)
{
	static const struct { enum picture what; const char *file; } pictures[] = {
		{ PIC_FLAME, RENDER_FLAME_FILE }, { PIC_TIMELINE, RENDER_TIMELINE_FILE },
		{ PIC_PPROF, RENDER_PPROF_FILE }, { PIC_HTML, RENDER_HTML_FILE },
	};
	char path[PATH_MAX];
	size_t i;
	int rc;

	rc = render_all(dir, cd, agg, extra, err, errlen);
	if (rc)
		return rc;
	for (i = 0; i < sizeof(pictures) / sizeof(pictures[0]); i++) {
		struct picture_arg a = { .what = pictures[i].what, .cd = cd, .agg = agg, .extra = extra };

		if (snprintf(path, sizeof(path), "%s/%s", dir, pictures[i].file) >= (int)sizeof(path))
			rc = -ENAMETOOLONG;
		else
			rc = render_write_file(path, fill_picture, &a);
		if (rc) {
			if (errlen)
				snprintf(err, errlen, "%s: cannot write: %s", path, strerror(-rc));
			return rc;
		}
	}
	return 0;
}
