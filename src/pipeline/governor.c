/* governor.c: see governor.h. */
#include <string.h>

#include "pipeline/governor.h"

void governor_init(struct governor *g, double budget, uint64_t min_block_ns, uint64_t now)
{
	memset(g, 0, sizeof(*g));
	g->budget = budget;
	g->min_block_ns = min_block_ns;
	g->last_t = now;
}

static void set_floor(struct governor *g, uint64_t floor, uint64_t now)
{
	if (!g->floor_ns && floor)
		g->engaged_since = now;
	if (g->floor_ns && !floor)
		g->engaged_ns += now - g->engaged_since;
	g->floor_ns = floor;
	if (floor > g->max_floor_ns)
		g->max_floor_ns = floor;
}

bool governor_step(struct governor *g, uint64_t now, uint64_t cost_ns)
{
	uint64_t dt = now - g->last_t, dc = cost_ns >= g->last_cost ? cost_ns - g->last_cost : 0;
	uint64_t cur = g->floor_ns ? g->floor_ns : g->min_block_ns, next;
	double load;

	if (g->budget <= 0 || dt < GOV_INTERVAL_NS)
		return false;
	g->last_t = now;
	g->last_cost = cost_ns;
	load = (double)dc / (double)dt;
	if (load > g->peak_load)
		g->peak_load = load;
	if (load > g->budget) {
		g->calm = 0;
		if (cur >= GOV_MAX_FLOOR_NS)
			return false;
		next = cur * 2 > GOV_MAX_FLOOR_NS ? GOV_MAX_FLOOR_NS : cur * 2;
		if (!g->raises)
			g->first_raise_at = now;
		g->raises++;
		set_floor(g, next, now);
		return true;
	}
	if (!g->floor_ns || load >= g->budget / 4 || ++g->calm < GOV_CALM_STEPS)
		return false;
	g->calm = 0;
	g->lowers++;
	next = g->floor_ns / 2;
	set_floor(g, next <= g->min_block_ns ? 0 : next, now);
	return true;
}

void governor_finish(struct governor *g, uint64_t now)
{
	if (g->floor_ns) {
		g->engaged_ns += now - g->engaged_since;
		g->engaged_since = now;
	}
}
