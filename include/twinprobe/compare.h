/* The comparison of a run, computed once: for every journey and every candidate
 * target, per step over the rounds, the latency pairs, the functional
 * mismatches against the baseline after compare.ignore and learned noise, the
 * verdicts (Holm across the run's steps) and whether each step fails the run.
 * Every sink (text, JSON, JUnit, Redis) and the exit status read this one typed
 * value and never work anything out again. Pure: results in, struct out. */
#ifndef TWINPROBE_COMPARE_H
#define TWINPROBE_COMPARE_H

#include <stddef.h>

#include "twinprobe/diff.h"
#include "twinprobe/mask.h"
#include "twinprobe/result.h"
#include "twinprobe/verdict.h"

/* What --fail-on asks of the comparison. */
enum tp_fail_on {
    TP_FAIL_ON_HIGH,          /* a HIGH or CRITICAL step, or a functional mismatch */
    TP_FAIL_ON_INCONCLUSIVE,  /* also an INCONCLUSIVE or NODATA step */
    TP_FAIL_ON_NEVER          /* verdicts never fail the run */
};

/* Where the results of a run are: r->journeys holds, for each round, for each
 * journey, one result per target, targets[0] being the baseline. */
struct tp_compare_plan {
    size_t njourneys;
    size_t ntargets;      /* including the baseline and the noise run */
    unsigned rounds;
    long noise_target;    /* index of the baseline's second run (noise learning), or -1 */
    int paired;           /* 1: signed-rank on rounds (the runner pairs them) */
    struct tp_verdict_opts defaults; /* margins and scores; a journey's compare block overrides */
    enum tp_fail_on fail_on;         /* the one rule for "this step fails the run" */
    const tp_secrets *secrets;       /* borrowed: mismatch paths and values are masked
                                        when they are made (NULL: none) */
};

/* Index of (round 0-based, journey, target) in r->journeys. */
size_t tp_compare_index(const struct tp_compare_plan *p, unsigned round, size_t journey,
                        size_t target);

/* Mismatch values longer than this many bytes are cut, after masking, on a
 * UTF-8 boundary and end in "…". */
#define TP_COMPARE_VALUE_MAX 200

/* One candidate step in one round. */
struct tp_round_pair {
    double base_ms, cand_ms; /* the latency samples: NaN when the step did not run,
                                +inf when it failed in transport or status */
    size_t diffs;            /* mismatches of this round after ignore and noise */
    char *first_diff;        /* "PATH KIND BASE -> CAND" of the first, masked (new);
                                NULL when diffs is 0 */
};

/* One step of a journey x candidate over the rounds. */
struct tp_step_cmp {
    const char *name;                /* borrowed from the journey */
    struct tp_step_verdict verdict;  /* after Holm */
    struct tp_mismatches mismatches; /* distinct (kind, path) over the rounds, masked;
                                        .total counts every distinct one found */
    size_t *mismatch_rounds;         /* per kept mismatch: rounds it was seen in (new) */
    struct tp_round_pair *rounds;    /* one per round (new) */
    char **noise;                    /* what was learned as noise for this step and left
                                        out of the comparison: paths, "capture NAME",
                                        "header NAME", lines; masked (new) */
    size_t nnoise;
    unsigned noise_from;             /* baseline results it was learned from (0: none) */
    int fails;                       /* this step fails the run under plan->fail_on */
};

/* One journey against one candidate. */
struct tp_pair_cmp {
    size_t journey;                 /* index in the plan */
    size_t cand;                    /* index of the candidate target in the plan */
    const char *journey_name;       /* borrowed */
    const char *base_name, *cand_name; /* borrowed */
    unsigned rounds;
    struct tp_step_cmp *steps;      /* one per step of the journey (new) */
    size_t nsteps;
    struct tp_step_verdict total;   /* the journey's total latency per round */
    struct tp_journey_verdict verdict;
    size_t mismatches;              /* sum of the steps' distinct mismatches */
    int fails;                      /* any step fails */
};

struct tp_comparison {
    struct tp_pair_cmp *pairs;      /* journey-major, then candidate (new) */
    size_t npairs;
    enum tp_fail_on fail_on;
    int fails;                      /* any pair fails: the run's exit status is 1 */
};

/* Compares every candidate with the baseline (nothing when there is only one
 * target: npairs 0). Noise, per step, is ignored and listed in the step's noise:
 * compare.noise "rounds" (the default) learns whatever differs between the
 * baseline's runs of consecutive rounds (nothing extra is sent); "learn" also
 * what differs between the baseline's two runs of one round; "off" nothing. *out is filled (tp_comparison_clear it, even on
 * failure). Errors: TP_ERR_NOMEM, TP_ERR_LIMIT (a body nested too deep). */
tp_err tp_compare_run(struct tp_run_report *r, const struct tp_compare_plan *plan,
                      struct tp_comparison *out, struct tp_error *err);

/* The same comparison a round at a time, as the run goes (tp_compare_run is
 * start, feed every round, finish):
 *   tp_compare_start   zeroes *out and makes the state (free it with
 *                      tp_compare_state_free BEFORE tp_comparison_clear(out));
 *   tp_compare_feed    round `round` (0-based; rounds in order, at most
 *                      plan->rounds) has completed in r: learns noise from it
 *                      (its baseline against the previous round's, and against
 *                      the noise run) and compares round - 1, whose bodies
 *                      nobody needs after this call (the caller may reduce
 *                      them: tp_journey_result_reduce). Round `round` keeps its
 *                      bodies until the next feed or finish;
 *   tp_compare_finish  compares the last round fed, applies the noise learned
 *                      over the whole run to every round's mismatches (a field
 *                      the baseline changes only in a late round is noise in
 *                      every round), judges and concludes: *out is complete
 *                      with rounds = the rounds fed.
 * What is kept per round is the latency pair and the ids of its mismatches; a
 * round's first difference is shown with its own values when it is still a
 * difference after the run's noise, else with the values of the first round the
 * difference was seen in. */
struct tp_compare_state;
tp_err tp_compare_start(const struct tp_compare_plan *plan, struct tp_comparison *out,
                        struct tp_compare_state **state, struct tp_error *err);
tp_err tp_compare_feed(struct tp_compare_state *st, struct tp_run_report *r, unsigned round,
                       struct tp_error *err);
tp_err tp_compare_finish(struct tp_compare_state *st, struct tp_run_report *r,
                         struct tp_error *err);
void tp_compare_state_free(struct tp_compare_state *st); /* NULL is a no-op */

/* The one rule: 1 when a step with verdict v and `mismatches` distinct
 * mismatches fails the run under fail_on. */
int tp_compare_step_fails(const struct tp_step_verdict *v, size_t mismatches,
                          enum tp_fail_on fail_on);

/* The pair of journey `journey` (plan index) against target `cand`, or NULL. */
const struct tp_pair_cmp *tp_comparison_find(const struct tp_comparison *c, size_t journey,
                                             size_t cand);

/* Frees what c owns and zeroes it. NULL is a no-op. */
void tp_comparison_clear(struct tp_comparison *c);

#endif
