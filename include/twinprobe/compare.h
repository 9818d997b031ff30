/* The comparison of a run: for every journey and every candidate target, per
 * step over the rounds, the functional mismatches against the baseline (noise
 * learned from a second baseline run when the journey asks) and the latency
 * verdicts; Holm across the run's steps; a verdict and score per journey. The
 * result is the "comparisons" array of DESIGN.md §JSON report, which the text
 * and JUnit reports (and the publisher) read. Pure: results in, JSON out. */
#ifndef TWINPROBE_COMPARE_H
#define TWINPROBE_COMPARE_H

#include <jansson.h>
#include <stddef.h>

#include "twinprobe/result.h"
#include "twinprobe/verdict.h"

/* Where the results of a run are: r->journeys holds, for each round, for each
 * journey, one result per target, targets[0] being the baseline. */
struct tp_compare_plan {
    size_t njourneys;
    size_t ntargets;      /* including the baseline and the noise run */
    unsigned rounds;
    long noise_target;    /* index of the baseline's second run (noise learning), or -1 */
    int paired;           /* 1: signed-rank on rounds (the runner pairs them) */
    struct tp_verdict_opts defaults; /* margins and scores; a journey's compare block overrides */
};

/* Index of (round 0-based, journey, target) in r->journeys. */
size_t tp_compare_index(const struct tp_compare_plan *p, unsigned round, size_t journey,
                        size_t target);

/* Builds the comparisons array (new reference in *out; an empty array when there
 * is only one target). Every key of DESIGN.md is present in every entry; numbers
 * that do not exist (a median without samples, an infinite bound) are null. */
tp_err tp_compare_run(struct tp_run_report *r, const struct tp_compare_plan *plan,
                      json_t **out, struct tp_error *err);

/* What --fail-on asks of the comparisons. */
enum tp_fail_on {
    TP_FAIL_ON_HIGH,          /* a HIGH or CRITICAL step, or a functional mismatch */
    TP_FAIL_ON_INCONCLUSIVE,  /* also an INCONCLUSIVE or NODATA step */
    TP_FAIL_ON_NEVER          /* verdicts never fail the run */
};

/* 1 when the comparisons fail the run under fail_on. */
int tp_compare_fails(const json_t *comparisons, enum tp_fail_on fail_on);

#endif
