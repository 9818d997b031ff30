/* Reports of a run: terminal text, JSON (DESIGN.md §JSON report) and JUnit XML.
 * Each returns the whole document as a new string with every secret masked; the
 * caller writes it. No I/O. */
#ifndef TWINPROBE_REPORT_H
#define TWINPROBE_REPORT_H

#include <stddef.h>

#include "twinprobe/result.h"

/* A line per step (name, status, total and ttfb ms, failure), a header per
 * journey x target x round, a summary line. color: ANSI colours (the caller
 * decides: a TTY and NO_COLOR unset). NULL on no memory. */
char *tp_report_text(const struct tp_run_report *r, int color);

/* The JSON report, keys exactly as DESIGN.md §JSON report, indented. */
char *tp_report_json(const struct tp_run_report *r);

/* JUnit XML through libxml2's xmlTextWriter: a <testsuite> per journey x target
 * x round, a <testcase> per step (skipped steps <skipped/>, failed ones
 * <failure type="CLASS" message="...">). */
char *tp_report_junit(const struct tp_run_report *r);

#endif
