/* Rendering a cross-region verdict (cross.h) as one self-contained HTML page for
 * `twinprobe verdict --format html`: no script, no external resource. Pure: the
 * judged result in, a new string out. */
#ifndef TWINPROBE_REPORT_VERDICT_HTML_H
#define TWINPROBE_REPORT_VERDICT_HTML_H

#include <stdint.h>

#include "twinprobe/cross.h"

/* Per journey: its verdict and score, the table of steps x locations (verdict
 * and delta% per cell, combined verdict last), the reason of every step that is
 * not PASS; per step an inline SVG chart per location of baseline and
 * candidate latency over time (tp_cross_series: at most TP_CROSS_MAX_POINTS
 * points per series) with the interval as text; the mismatches with their
 * paths (at most TP_CROSS_MAX_DIFFS per step). Every string from the data is
 * HTML-escaped; masked values stay masked. New string (free), NULL on no
 * memory. x must be judged. */
char *tp_report_verdict_html(const struct tp_cross_result *x, int64_t since_ms, int64_t until_ms);

#endif
