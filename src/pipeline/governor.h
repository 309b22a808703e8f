/* governor.h: the overhead governor. A storm of blocks must not turn the
 * profiler into the incident: when the BPF side's cost passes --max-overhead
 * (a share of one core, 1 % by default), the block threshold is raised
 * (doubled each second while over), so that shorter blocks are only counted;
 * once the cost has stayed under a quarter of the budget for 3 s it is
 * halved back, down to --min-block. The cost is the programs' run time when
 * the kernel's BPF stats are on, else an estimate from the records handled
 * (GOV_EST_RECORD_NS each, bench/longblock.sh's figure). Pure logic: the
 * recorder feeds it and applies the threshold (capture_set_block_floor). */
#ifndef STALLTRAP_PIPELINE_GOVERNOR_H
#define STALLTRAP_PIPELINE_GOVERNOR_H

#include <stdbool.h>
#include <stdint.h>

#define GOV_INTERVAL_NS 1000000000ull      /* one decision a second */
#define GOV_EST_RECORD_NS 5000ull          /* a captured record's BPF cost, when not measured */
#define GOV_MAX_FLOOR_NS 1000000000ull     /* the threshold is raised up to 1 s */
#define GOV_CALM_STEPS 3                   /* calm seconds before lowering */

struct governor {
	double budget;            /* share of one core; 0: off */
	uint64_t min_block_ns;    /* --min-block */
	uint64_t floor_ns;        /* the threshold in force beyond --min-block; 0: none */
	uint64_t last_t, last_cost;
	int calm;
	/* for the report */
	uint64_t raises, lowers, max_floor_ns, engaged_ns, engaged_since;
	uint64_t first_raise_at;  /* CLOCK_MONOTONIC of the first raise; 0: none */
	double peak_load;         /* the highest share of a core seen in one interval */
};

void governor_init(struct governor *g, double budget, uint64_t min_block_ns, uint64_t now);
/* One step at now, cost_ns being the BPF side's total cost since the start.
 * Returns true when the threshold changed (g->floor_ns holds it). */
bool governor_step(struct governor *g, uint64_t now, uint64_t cost_ns);
/* Ends the time engaged at now (for the report). */
void governor_finish(struct governor *g, uint64_t now);

#endif
