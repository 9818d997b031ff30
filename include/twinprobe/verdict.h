/* Verdicts (DESIGN.md §Comparison and verdict): per step, from the rounds'
 * paired latencies and error counts, and per journey (a Kayenta-style score).
 * Pure: arrays in, classification and the numbers behind it out. */
#ifndef TWINPROBE_VERDICT_H
#define TWINPROBE_VERDICT_H

#include <math.h>
#include <stddef.h>

#include "twinprobe/error.h"

enum tp_verdict {
    TP_V_PASS,
    TP_V_HIGH,         /* candidate slower by at least the margin */
    TP_V_LOW,          /* candidate faster by at least the margin */
    TP_V_INCONCLUSIVE,
    TP_V_NODATA,
    TP_V_CRITICAL
};

const char *tp_verdict_name(enum tp_verdict v); /* "PASS", "HIGH", ... */

struct tp_verdict_opts {
    double margin_pct;     /* δ relative part, percent (default 10) */
    double margin_ms;      /* δ absolute part, ms, relative to the baseline median (default 5) */
    double alpha;          /* significance after Holm (default 0.05) */
    double confidence;     /* interval level (default 0.95) */
    double critical_pct;   /* CI low at or above this is CRITICAL (default 50) */
    double pass_score;     /* journey score at or above: pass (default 95) */
    double marginal_score; /* at or above: marginal (default 75) */
};

#define TP_VERDICT_OPTS_INIT {10.0, 5.0, 0.05, 0.95, 50.0, 95.0, 75.0}

/* One step's samples over the rounds. Paired: base_ms[i] and cand_ms[i] are the
 * same round. A failed or timed-out side is INFINITY (never dropped); a round
 * where both failed counts as a tie. Unpaired (paired = 0): the two arrays are
 * independent samples of sizes n_base and n_cand. */
struct tp_latency_input {
    const double *base_ms;
    size_t n_base;
    const double *cand_ms;
    size_t n_cand;
    int paired;
    size_t mismatches;       /* functional mismatches of this step over the rounds */
    int critical_step;       /* the step is in compare.critical_steps */
};

struct tp_step_verdict {
    enum tp_verdict verdict;
    const char *method;      /* "signed-rank exact", "signed-rank normal", "mann-whitney exact",
                                "mann-whitney normal", "none" (static) */
    size_t n;                /* pairs (paired) or n_base + n_cand */
    double statistic;        /* V or U */
    double p;                /* two-sided, unadjusted */
    double p_adj;            /* after Holm across the run's steps (tp_verdict_holm) */
    double base_median_ms, cand_median_ms; /* over completed runs; NaN when none */
    double base_p95_ms, cand_p95_ms;
    double delta_pct;        /* 100 (e^HL - 1), HL of ln(cand) - ln(base) */
    double ci_low_pct, ci_high_pct; /* the HL interval converted likewise (may be inf) */
    double margin_pct;       /* δ used: max(margin_pct, 100 margin_ms / base median) */
    size_t base_errors, cand_errors;
    double errors_p;         /* Fisher's exact test on failed/succeeded counts */
    size_t mismatches;
    char reason[320];        /* for a person: why this verdict, with the numbers */
    /* Added (additive): what tp_verdict_holm needs to re-apply the rules, and the
     * report may show. Filled by tp_verdict_step. */
    int paired;              /* copied from the input */
    int critical_step;       /* copied from the input */
    size_t n_base_runs, n_cand_runs; /* runs per side (paired: both n), failures included */
    size_t n_tied;           /* paired: rounds with d = 0 (both failed, or equal), which
                                the signed-rank test drops; unpaired: 0 */
    double ci_conf;          /* confidence the interval achieves (exact: at least the
                                request; below it only when the data cannot reach it);
                                NaN with method "none" */
    int ci_low_open, ci_high_open; /* the finite endpoint itself is rejected (normal
                                method): a CI low of 0 that is open counts as > 0 */
};

/* The margin δ in percent for a baseline median: max(margin_pct, 100 margin_ms /
 * base median); margin_pct alone when the median is NaN (no samples). The one
 * rule, for a run's steps and for twinprobe verdict. */
double tp_verdict_margin_pct(const struct tp_verdict_opts *opts, double base_median_ms);

/* Computes the numbers and a provisional verdict (p_adj = p). Rules: NODATA
 * without samples; CRITICAL on a mismatch of a critical step, or CI low >=
 * critical_pct; HIGH when CI low > 0 (an open 0 counts), Δ >= δ and p_adj <=
 * alpha; LOW symmetrically; PASS when CI high < δ (and not LOW); else
 * INCONCLUSIVE. Fewer samples than the exact test can ever call significant at
 * alpha: INCONCLUSIVE, saying so. Significantly more candidate errors (Fisher,
 * p <= alpha) is HIGH even when latency passes.
 * Details: the latency CRITICAL also needs a significant interval (p_adj <= alpha
 * and enough samples for the guard); a critical step's mismatch is CRITICAL
 * whatever the sample size. PASS also needs the interval to reach the requested
 * confidence. Unpaired with either side empty is NODATA. Non-critical mismatches
 * leave the verdict alone (the reason mentions them). Timings are ms >= 0 or
 * INFINITY (a failure); 0 is taken as 0.001 ms for the logarithm. opts NULL:
 * TP_VERDICT_OPTS_INIT. Errors: TP_ERR_INVALID (NULL in or out, NaN, negative or
 * -inf timing, paired arrays of different lengths, bad opts), TP_ERR_NOMEM,
 * TP_ERR_LIMIT (from the statistics); out then holds NODATA with p = p_adj = 1. */
tp_err tp_verdict_step(const struct tp_latency_input *in, const struct tp_verdict_opts *opts,
                       struct tp_step_verdict *out, struct tp_error *err);

/* Holm across the steps of a run: sets each p_adj and re-applies the rules that
 * depend on it (a HIGH or LOW whose adjusted p exceeds alpha becomes
 * INCONCLUSIVE, and the reason says so). NODATA steps are left out of the
 * family. Re-applying means the result is what tp_verdict_step gives with p_adj
 * in place of p: a latency CRITICAL is demoted like a HIGH; a demoted LOW whose
 * CI high is below δ is PASS (the PASS rule); a HIGH that Fisher's error test
 * supports stays HIGH. opts must be the ones the steps were made with (NULL:
 * defaults). Errors: TP_ERR_INVALID (steps NULL with n > 0, bad opts),
 * TP_ERR_NOMEM; the steps are then unchanged. */
tp_err tp_verdict_holm(struct tp_step_verdict *steps, size_t n,
                       const struct tp_verdict_opts *opts, struct tp_error *err);

enum tp_score_class { TP_SCORE_PASS, TP_SCORE_MARGINAL, TP_SCORE_FAIL };

struct tp_journey_verdict {
    enum tp_verdict verdict;  /* CRITICAL > HIGH > INCONCLUSIVE > LOW > PASS; NODATA if all are */
    double score;             /* 100 PASS / (PASS + HIGH + LOW); 0 with any CRITICAL; NaN if none */
    enum tp_score_class score_class;
    size_t worst_step;        /* index of the step that decided the verdict */
    char reason[512];
};

/* Combines the step verdicts of one journey (names for the reason; names, or an
 * entry of it, may be NULL: the step's index is used). The score class of a NaN
 * score is FAIL. n == 0 (or steps NULL): NODATA, score NaN, worst_step 0.
 * opts NULL: defaults. out NULL: nothing is done. */
void tp_verdict_journey(const struct tp_step_verdict *steps, const char *const *names, size_t n,
                        const struct tp_verdict_opts *opts, struct tp_journey_verdict *out);

#endif
