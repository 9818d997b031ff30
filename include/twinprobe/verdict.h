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
};

/* Computes the numbers and a provisional verdict (p_adj = p). Rules: NODATA
 * without samples; CRITICAL on a mismatch of a critical step, or CI low >=
 * critical_pct; HIGH when CI low > 0 (an open 0 counts), Δ >= δ and p_adj <=
 * alpha; LOW symmetrically; PASS when CI high < δ (and not LOW); else
 * INCONCLUSIVE. Fewer samples than the exact test can ever call significant at
 * alpha: INCONCLUSIVE, saying so. Significantly more candidate errors (Fisher,
 * p <= alpha) is HIGH even when latency passes. */
tp_err tp_verdict_step(const struct tp_latency_input *in, const struct tp_verdict_opts *opts,
                       struct tp_step_verdict *out, struct tp_error *err);

/* Holm across the steps of a run: sets each p_adj and re-applies the rules that
 * depend on it (a HIGH or LOW whose adjusted p exceeds alpha becomes
 * INCONCLUSIVE, and the reason says so). */
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

/* Combines the step verdicts of one journey (names for the reason). */
void tp_verdict_journey(const struct tp_step_verdict *steps, const char *const *names, size_t n,
                        const struct tp_verdict_opts *opts, struct tp_journey_verdict *out);

#endif
