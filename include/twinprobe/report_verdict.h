/* Rendering a cross-region verdict (cross.h) for `twinprobe verdict`: a text
 * table per journey (steps x locations, the combined verdict) and the JSON
 * document of docs/verdict.md. Pure: the judged result in, a new string out. */
#ifndef TWINPROBE_REPORT_VERDICT_H
#define TWINPROBE_REPORT_VERDICT_H

#include <stdint.h>

#include "twinprobe/cross.h"

/* Per journey: its combined verdict and score, a table of steps x locations
 * (each cell the verdict and delta%) with the combined verdict last, then the
 * reason of every step that is not PASS. color: ANSI colors for verdicts.
 * New string (free), NULL on no memory. x must be judged. */
char *tp_report_verdict_text(const struct tp_cross_result *x, int64_t since_ms, int64_t until_ms,
                             int color);

/* {"since_ms", "until_ms", "journeys": [...]} as docs/verdict.md; numbers that
 * are NaN or infinite are null. New string (free), NULL on no memory. */
char *tp_report_verdict_json(const struct tp_cross_result *x, int64_t since_ms, int64_t until_ms);

/* ms since the epoch as "YYYY-MM-DDTHH:MM:SSZ" into buf (size bytes, 21 enough). */
void tp_report_verdict_utc(int64_t ms, char *buf, size_t size);

#endif
