/* writer.h: the offline half of the pipeline: capdata -> aggregate -> diagnose -> render, into a capture directory.
 *
 * writer_diagnose() is the one place where a capture becomes a verdict; record,
 * report and watch's incidents all write through writer_render(), and the keys
 * a watch incident adds to report.json ("window", "trigger", "baseline") are
 * built here from the data watch hands over (struct writer_incident), so that
 * report.json's keys are written in one place. Nothing here needs root or the
 * BPF side: it runs on saved capture data. The live half is recorder.h.
 */
#ifndef STALLTRAP_PIPELINE_WRITER_H
#define STALLTRAP_PIPELINE_WRITER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "aggregate/aggregate.h"
#include "capdata/capdata.h"

/* Aggregates cd into *agg and diagnoses it into *diag (diagnose_build: the
 * object whose keys go at the top of report.json: verdict, waits, ...).
 * baseline is NULL, or the capture of the same service in a healthy window
 * before cd's, whose waits are subtracted before judging. On success the
 * caller releases both (aggregate_release, json_decref); on failure neither
 * is held. Returns 0 or a negative errno with a one-line reason in err. */
int writer_diagnose(const struct capdata *cd, const struct capdata *baseline, struct aggregate *agg,
		    json_t **diag, char *err, size_t errlen);

/* When summary is not NULL, prints the verdict line and the summary to it
 * (and flushes it) first, so that they are on time however slow the disk;
 * then writes every rendered file into dir (render_all_files: profile.folded,
 * report.json, flamegraph.svg, timeline.svg, profile.pb.gz, report.html) and
 * ends the summary with "wrote DIR/".
 * extra (NULL or an object: the caller's findings, e.g. a trigger) goes into
 * report.json after the diagnosis' keys, and into the pictures; baseline goes
 * to writer_diagnose(). Returns 0 or a negative errno with a one-line reason
 * in err. */
int writer_render(const struct capdata *cd, const char *dir, int top, FILE *summary, const json_t *extra,
		  const struct capdata *baseline, char *err, size_t errlen);

/* writer_render after writing the saved capture data (capture.jsonl.gz)
 * into dir: record's output (report's input). */
int writer_write(const struct capdata *cd, const char *dir, int top, FILE *summary, const json_t *extra,
		 const struct capdata *baseline, char *err, size_t errlen);

/* What watch knows of an incident beyond its capture. Nothing is owned. */
struct writer_incident {
	uint64_t trigger_ns;            /* the trigger (CLOCK_MONOTONIC), within cd's window */
	const json_t *trigger;          /* report.json's "trigger" as watch's sources describe it, or NULL */
	const struct capdata *baseline; /* the window before cd's, or NULL */
	const char *baseline_note;      /* no baseline: why (report.json's baseline.note); NULL: "baseline": null */
	uint64_t max_disk;              /* report.json's "max_disk": the --max-disk in force, bytes (0: off) */
};

/* A watch incident's directory: writer_write (no summary) with report.json's
 * "window" (the capture's, with pre_trigger_s and the trigger's time),
 * "trigger", and "baseline": the baseline's own diagnosis with its "window",
 * "offcpu_total_ms" and "blocks", or {"note"}, or null when it could not be
 * diagnosed. Returns as writer_write. */
int writer_write_incident(const struct capdata *cd, const struct writer_incident *inc, const char *dir,
			  int top, char *err, size_t errlen);

#endif /* STALLTRAP_PIPELINE_WRITER_H */
