/* units.c: rounding ns to ms for JSON, human durations and sizes (see units.h). */
#include <inttypes.h>
#include <stdio.h>

#include "util/units.h"

uint64_t units_us(uint64_t ns)
{
	/* Not (ns + 500) / 1000: that wraps for ns near UINT64_MAX. */
	return ns / 1000 + (ns % 1000 >= 500);
}

double units_ms(uint64_t ns)
{
	return (double)units_us(ns) / 1000.0;
}

double units_s(uint64_t ns)
{
	uint64_t ms = ns / 1000000u + (ns % 1000000u >= 500000u);

	return (double)ms / 1000.0;
}

void units_fmt_dur(char *buf, size_t len, uint64_t ns)
{
	if (ns >= 1000000000ull)
		snprintf(buf, len, "%.1f s", (double)ns / 1e9);
	else if (ns >= 10000000ull)
		snprintf(buf, len, "%.0f ms", (double)ns / 1e6);
	else
		snprintf(buf, len, "%.1f ms", (double)ns / 1e6);
}

void units_fmt_bytes(char *buf, size_t len, uint64_t b)
{
	if (b >= (1ull << 30))
		snprintf(buf, len, "%.1f GiB", (double)b / (double)(1ull << 30));
	else if (b >= (100ull << 20))
		snprintf(buf, len, "%.0f MiB", (double)b / (double)(1ull << 20));
	else if (b >= (1ull << 20))
		snprintf(buf, len, "%.1f MiB", (double)b / (double)(1ull << 20));
	else if (b >= 1024)
		snprintf(buf, len, "%.0f KiB", (double)b / 1024.0);
	else
		snprintf(buf, len, "%" PRIu64 " B", b);
}
