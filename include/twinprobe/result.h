/* What a run produced: per journey x target x round, per step. Filled by
 * runner.c, read by the reports and (later) the comparison and the publisher. */
#ifndef TWINPROBE_RESULT_H
#define TWINPROBE_RESULT_H

#include <jansson.h>
#include <stdint.h>

#include "twinprobe/evaluate.h"
#include "twinprobe/journey.h"
#include "twinprobe/mask.h"
#include "twinprobe/probe.h"
#include "twinprobe/response.h"

struct tp_step_result {
    const struct tp_step *step;  /* borrowed from the journey */
    int skipped;                 /* not run: an earlier step failed */
    int ok;
    enum tp_failure failure;     /* TP_FAIL_NONE when ok or skipped */
    char *error;                 /* the failure's message (new), or NULL */
    unsigned attempts;           /* 1 + retries made; 0 when skipped */
    struct tp_response response; /* the last attempt's response (kept for comparison) */
    struct tp_step_eval eval;    /* captures and assertions of the last attempt */
};

struct tp_journey_result {
    const struct tp_journey *journey;  /* borrowed */
    const struct tp_target *target;    /* borrowed */
    unsigned round;                    /* 1-based */
    int ok;                            /* every step ok (skipped steps count as not ok) */
    char trace_id[33];
    int64_t started_ms;                /* wall clock at the first request */
    struct tp_step_result *steps;      /* journey->nsteps entries */
};

struct tp_run_report {
    char run_id[37];          /* UUID */
    const char *location;     /* "local" without a probe file */
    int64_t started_ms;
    int exit_status;          /* enum tp_exit */
    struct tp_journey_result *journeys; /* in run order: round, journey, target */
    size_t njourneys;
    json_t *comparisons;      /* array for the JSON report, or NULL (comparison issue) */
    const tp_secrets *secrets; /* every output is masked with these */
};

/* Frees what r owns (results, responses, comparisons) and zeroes it; the
 * journeys (borrowed) must still be alive, they give each result's step count.
 * secrets are borrowed and left alone. NULL is a no-op. */
void tp_run_report_clear(struct tp_run_report *r);

#endif
