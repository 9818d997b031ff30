/* Reports of a run: terminal text, JSON (DESIGN.md §JSON report) and JUnit XML.
 * Each returns the whole document as a new string with every secret masked; the
 * caller writes it; the JSON report can also be streamed (tp_json_report_*).
 * They read journey results full or reduced (tp_step_view). No I/O. */
#ifndef TWINPROBE_REPORT_H
#define TWINPROBE_REPORT_H

#include <stddef.h>

#include "twinprobe/result.h"
#include "twinprobe/strbuf.h"

/* A line per step (name, status, total and ttfb ms, failure), a header per
 * journey x target x round, a summary line. color: ANSI colours (the caller
 * decides: a TTY and NO_COLOR unset). NULL on no memory. */
char *tp_report_text(const struct tp_run_report *r, int color);

/* The JSON report, keys exactly as DESIGN.md §JSON report, indented. */
char *tp_report_json(const struct tp_run_report *r);

/* The same JSON report written as the run goes (tp_report_json is this into a
 * string): begin once the run has its id, then a journey result at a time as
 * its round completes (while it is full: captures and every assertion; a
 * reduced one gives what it kept: captures {} and assertions []), then end
 * with the comparisons and the exit status (end begins when nothing did).
 * Top-level keys in order: tool, version, run, location, started_ms,
 * rounds_planned, journeys, comparisons, exit_status, rounds_completed,
 * stopped. A journey result is one line. Output goes to sink in pieces of
 * about 64 KiB: the module does no I/O. Each returns 0, or -1 once out of
 * memory or the sink failed (later calls then do nothing). end frees what w
 * holds; tp_json_report_free frees it without ending. */
typedef int (*tp_report_sink)(void *ctx, const char *data, size_t len); /* 0 or -1 */
struct tp_json_report {
    tp_report_sink sink;
    void *ctx;
    struct tp_strbuf buf;  /* written, not yet handed to the sink */
    size_t journeys;       /* journey results written */
    int began, failed;
};
void tp_json_report_init(struct tp_json_report *w, tp_report_sink sink, void *ctx);
int tp_json_report_begin(struct tp_json_report *w, const struct tp_run_report *r);
int tp_json_report_journey(struct tp_json_report *w, const struct tp_journey_result *jr);
int tp_json_report_end(struct tp_json_report *w, const struct tp_run_report *r);
void tp_json_report_free(struct tp_json_report *w);

/* JUnit XML through libxml2's xmlTextWriter: a <testsuite> per journey x target
 * x round, a <testcase> per step (skipped steps <skipped/>, failed ones
 * <failure type="CLASS" message="...">). */
char *tp_report_junit(const struct tp_run_report *r);

#endif
