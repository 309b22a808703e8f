/* units.h: the program's one way to add durations, round them for JSON and print durations and sizes for people.
 *
 * Every stage uses these, so a figure reads the same in report.json, the
 * verdict's summary and the pictures: ms in JSON are whole microseconds
 * (3 decimals, half up), human durations and sizes carry two significant
 * figures ("6.1 s", "240 ms", "3.0 GiB", "256 MiB"). Nothing here allocates.
 */
#ifndef STALLTRAP_UNITS_H
#define STALLTRAP_UNITS_H

#include <stddef.h>
#include <stdint.h>

/* a + b, or UINT64_MAX when it would wrap: totals of ns never overflow. */
static inline uint64_t sat_add(uint64_t a, uint64_t b)
{
	return a + b < a ? UINT64_MAX : a + b;
}

/* ns -> whole microseconds, rounded half up (never wraps). */
uint64_t units_us(uint64_t ns);
/* ns -> ms rounded to whole microseconds: the value of every *_ms key. */
double units_ms(uint64_t ns);
/* ns -> s rounded to whole milliseconds: the value of every *_s key. */
double units_s(uint64_t ns);
/* For people: "6.1 s" (from 1 s), "240 ms" (from 10 ms), "3.5 ms". */
void units_fmt_dur(char *buf, size_t len, uint64_t ns);
/* For people: "3.0 GiB" (from 1 GiB, GiB the largest unit), "256 MiB" (from
 * 100 MiB), "4.5 MiB", "12 KiB", "512 B". */
void units_fmt_bytes(char *buf, size_t len, uint64_t bytes);

#endif /* STALLTRAP_UNITS_H */
