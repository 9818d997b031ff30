/* Statistics for the latency and error verdicts: Wilcoxon signed-rank and
 * Mann-Whitney tests with Hodges-Lehmann intervals (as R's wilcox.test), Fisher's
 * exact test, Holm's adjustment, normal tails and quantiles. Pure functions: no
 * I/O, no state; the only allocations are scratch memory freed before returning.
 *
 * Conventions for every function here:
 * - Arrays are borrowed (read only, never kept); results go to caller-owned structs.
 * - NaN is never valid input: it is TP_ERR_INVALID with the index in err->text.
 * - +INFINITY is a valid observation, "worse than anything": a failed or timed-out
 *   candidate run gives d = +inf, a failed baseline run d = -inf. Infinities take
 *   the extreme ranks, and infinities of equal magnitude are ties (for the
 *   signed-rank test +inf and -inf tie too). A round where both sides failed
 *   (inf - inf) is the caller's to resolve before calling: NaN is rejected.
 * - Where an average or difference of two opposite infinities is needed
 *   ((+inf + -inf) / 2, or +inf - +inf) it is taken as 0, matching the ranks,
 *   which tie them.
 * - err may be NULL. On failure *out still holds the "nothing to test" values. */
#ifndef TWINPROBE_STATS_H
#define TWINPROBE_STATS_H

#include <stdbool.h>
#include <stddef.h>

#include "twinprobe/error.h"

/* How a p-value or interval is (to be) computed. */
enum tp_stats_method {
    TP_STATS_AUTO = 0, /* request only: exact where R's wilcox.test would be */
    TP_STATS_EXACT,    /* exact null distribution by the counting recurrence */
    TP_STATS_NORMAL,   /* normal approximation, tie-corrected variance */
    TP_STATS_NONE      /* result only: nothing to test, p-values are 1 */
};

/* AUTO means exact for the signed-rank test when n < 50 (after dropping zeros)
 * and there are no ties and no zeros; for Mann-Whitney when both samples have
 * fewer than 50 values and there are no ties. EXACT asks for it beyond n < 50 up
 * to the limits below; with ties or zeros EXACT falls back to NORMAL, as R does. */
#define TP_STATS_SIGNED_RANK_EXACT_MAX 400 /* pairs (after dropping zeros) */
#define TP_STATS_MWU_EXACT_MAX 10000       /* n_x * n_y */

/* The Mann-Whitney Hodges-Lehmann function keeps every pairwise difference
 * (n_x * n_y): more than this is TP_ERR_LIMIT. The signed-rank one keeps its
 * n(n+1)/2 Walsh averages up to opts->hold_max (default TP_STATS_HL_HOLD);
 * past that it keeps only the n sorted differences and finds each order
 * statistic it needs by counting (two pointers, O(n) a count, about 64 counts
 * an order statistic): memory O(n), so a run's 2,000 rounds take 16 KB, not
 * 16 MB, with the same results. */
#define TP_STATS_HL_MAX ((size_t)1 << 23)
#define TP_STATS_HL_HOLD ((size_t)1 << 16)

/* Fisher's test works in time linear in its table total; more is TP_ERR_LIMIT. */
#define TP_STATS_FISHER_MAX_TOTAL ((size_t)100000000)

struct tp_stats_opts {
    enum tp_stats_method method; /* AUTO, EXACT or NORMAL */
    bool correct;                /* continuity correction (R's correct = TRUE) */
    double conf;                 /* two-sided interval level, in (0, 1) */
    size_t hold_max;             /* Walsh averages held at most (see TP_STATS_HL_HOLD);
                                    0: TP_STATS_HL_HOLD. Results do not depend on it. */
};

/* The defaults (and what a NULL opts means): AUTO, corrected, 0.95. */
#define TP_STATS_OPTS_INIT {TP_STATS_AUTO, true, 0.95, 0}

/* A rank test. "greater" is the alternative that d (or x) tends to be larger:
 * with d = ln(candidate) - ln(baseline), or x the candidate, "the canary is
 * slower". Exact two-sided p is R's: twice the smaller tail, capped at 1. */
struct tp_stats_test {
    enum tp_stats_method method; /* EXACT, NORMAL, or NONE (nothing to rank) */
    size_t n;          /* signed-rank: non-zero differences ranked; MWU: n_x */
    size_t m;          /* MWU: n_y; signed-rank: 0 */
    size_t zeros;      /* signed-rank: zero differences dropped; MWU: 0 */
    bool ties;         /* some ranks are tied (infinities included) */
    double statistic;  /* V = sum of the ranks of |d| over d > 0; or
                          U_x = #(x_i > y_j) + #(x_i == y_j) / 2 (R's W) */
    double p_two_sided;
    double p_greater;
    double p_less;
};

/* A Hodges-Lehmann estimate with its two-sided confidence interval.
 * NONE (no observations): estimate, low, high and conf are NaN.
 * low and high may be infinite: +inf observations give [x, +inf].
 * low_open / high_open (NORMAL only): the finite endpoint itself is rejected by
 * the test, so the interval excludes it; e.g. low == 0 with low_open set means
 * every shift in the interval is > 0. The exact interval is closed. */
struct tp_stats_interval {
    enum tp_stats_method method; /* EXACT, NORMAL or NONE */
    size_t n;          /* as in struct tp_stats_test */
    size_t m;
    double estimate;   /* median of the Walsh averages / pairwise differences */
    double low;
    double high;
    bool low_open;
    bool high_open;
    double conf;       /* level achieved: EXACT 1 - 2 P(V <= q - 1) (may be
                          below the request when n is tiny, 0 for n = 1);
                          NORMAL the request, or less when the data cannot
                          reach it (alpha doubled until it can, as R does for
                          one sample), 0 when even that fails */
};

/* Fisher's exact test of the 2x2 table [[a, b], [c, d]], e.g. a = candidate
 * failures, b = candidate successes, c = baseline failures, d = baseline
 * successes. Conditional on the margins, a is hypergeometric. */
struct tp_stats_fisher {
    double odds_ratio;  /* sample (a d) / (b c), as scipy; +inf when b c == 0 <
                           a d; NaN when both products are 0. (R reports the
                           conditional MLE instead.) */
    double p_two_sided; /* sum of P(t) over tables with P(t) <= P(observed) *
                           (1 + 1e-7), as R and scipy */
    double p_greater;   /* P(A >= a): a (the odds ratio) larger than chance */
    double p_less;      /* P(A <= a) */
};

/* Wilcoxon signed-rank test of H0 "d is symmetric about 0" on d[0..n).
 * Zero differences are dropped first (Wilcoxon's and R's default; out->zeros
 * counts them). V is the sum of the ranks of |d| over positive d, mid-ranks for
 * ties. Exact p from the distribution of V (counting recurrence) as chosen by
 * opts; otherwise the normal approximation with tie correction and, if
 * opts->correct, continuity correction: exactly R's wilcox.test(d, exact, correct).
 * n == 0 or all zeros: method NONE, p-values 1. d may be NULL when n == 0.
 * opts may be NULL (TP_STATS_OPTS_INIT). Errors: TP_ERR_INVALID (NaN, bad opts,
 * NULL out), TP_ERR_NOMEM. */
tp_err tp_stats_wilcoxon(const double *d, size_t n, const struct tp_stats_opts *opts,
                         struct tp_stats_test *out, struct tp_error *err);

/* Hodges-Lehmann pseudo-median of d[0..n) (median of the Walsh averages
 * (d_i + d_j) / 2, i <= j) and its opts->conf interval, over the differences left
 * after dropping zeros (as R). Exact when the test would be exact: the Walsh
 * averages at ranks q and M + 1 - q, q the alpha/2 quantile of V (R's exact
 * conf.int). Otherwise the interval is the set of shifts the normal-approximation
 * test does not reject, found exactly over the Walsh averages (R finds the same
 * endpoints with uniroot to within 1e-4; R's estimate there is also a root, ours
 * stays the median). Walsh averages with +inf are +inf. Errors as
 * tp_stats_wilcoxon, plus TP_ERR_LIMIT (more than TP_STATS_HL_MAX averages). */
tp_err tp_stats_wilcoxon_hl(const double *d, size_t n, const struct tp_stats_opts *opts,
                            struct tp_stats_interval *out, struct tp_error *err);

/* Mann-Whitney U (Wilcoxon rank-sum) test of x[0..nx) against y[0..ny); U_x as
 * R's W. Exact (no ties, see AUTO) or normal with tie and continuity correction,
 * as R's wilcox.test(x, y). nx or ny 0, or every value tied: NONE, p-values 1.
 * Errors as tp_stats_wilcoxon. */
tp_err tp_stats_mwu(const double *x, size_t nx, const double *y, size_t ny,
                    const struct tp_stats_opts *opts, struct tp_stats_test *out,
                    struct tp_error *err);

/* Hodges-Lehmann shift: median of x_i - y_j, with its opts->conf interval,
 * exact or inverted from the normal test as tp_stats_wilcoxon_hl does (R's
 * wilcox.test(x, y, conf.int = TRUE)). Errors as tp_stats_wilcoxon_hl. */
tp_err tp_stats_mwu_hl(const double *x, size_t nx, const double *y, size_t ny,
                       const struct tp_stats_opts *opts, struct tp_stats_interval *out,
                       struct tp_error *err);

/* Fisher's exact test (see struct tp_stats_fisher), from log-factorials (lgamma)
 * normalized at the mode: no overflow for counts in the millions. A table with
 * an empty row or column has p-values 1. Errors: TP_ERR_INVALID (NULL out),
 * TP_ERR_LIMIT (a + b + c + d > TP_STATS_FISHER_MAX_TOTAL). */
tp_err tp_stats_fisher(size_t a, size_t b, size_t c, size_t d,
                       struct tp_stats_fisher *out, struct tp_error *err);

/* Holm's step-down adjustment of p[0..m) into adj[0..m), in the original order:
 * sorted ascending, p_(i) * (m - i + 1), made monotone, capped at 1 (R's
 * p.adjust(p, "holm")). adj may be p. Every p must be in [0, 1]. Errors:
 * TP_ERR_INVALID (NaN or out of range), TP_ERR_NOMEM. */
tp_err tp_stats_holm(const double *p, size_t m, double *adj, struct tp_error *err);

/* Standard normal: P(Z <= z) and P(Z > z), from erfc (full relative precision in
 * either tail); the quantile (inverse of the cdf), p in [0, 1] (0 -> -inf,
 * 1 -> +inf, NaN outside). */
double tp_stats_norm_cdf(double z);
double tp_stats_norm_sf(double z);
double tp_stats_norm_quantile(double p);

/* Quantile of x[0..n) at prob in [0, 1], R's type 7 (linear between order
 * statistics: h = (n - 1) prob); tp_stats_median is prob 0.5. The values are
 * copied into scratch (n doubles, caller's; it may be x itself, which is then
 * sorted in place) or, when scratch is NULL, into memory allocated and freed
 * here. n == 0: *out = NaN, TP_OK. Infinities sort as usual; interpolating
 * between -inf and +inf gives NaN. Errors: TP_ERR_INVALID (NaN in x or prob,
 * prob outside [0, 1]), TP_ERR_NOMEM. */
tp_err tp_stats_quantile(const double *x, size_t n, double prob, double *scratch,
                         double *out, struct tp_error *err);
tp_err tp_stats_median(const double *x, size_t n, double *scratch, double *out,
                       struct tp_error *err);

/* The small-sample guard. Smallest two-sided p the exact signed-rank test can
 * give with n pairs (all of one sign): min(1, 2 / 2^n); n = 5 gives 0.0625. */
double tp_stats_wilcoxon_min_p(size_t n);

/* Whether the exact signed-rank test with n pairs can ever give two-sided
 * p <= alpha: false for n < 6 at alpha = 0.05. */
bool tp_stats_wilcoxon_can_reject(size_t n, double alpha);

/* Smallest two-sided exact Mann-Whitney p: min(1, 2 / C(nx + ny, nx));
 * 0.1 for 3 + 3, 2/70 for 4 + 4. 1 when nx or ny is 0. */
double tp_stats_mwu_min_p(size_t nx, size_t ny);

#endif
