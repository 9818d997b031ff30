/* Confidence sequences for the mean of paired log-ratios (docs/verdict.md): an
 * interval that holds at every sample size at once, so a window asked again and
 * again as data arrives does not inflate false alarms. The boundary is the
 * two-sided normal mixture of Howard, Ramdas, McAuliffe and Sekhon (Ann. Statist.
 * 2021, eq. 14) with the variance process estimated from the data (the
 * asymptotic CS of Waudby-Smith et al., Ann. Statist. 2024, Thm 2.2). Pure. */
#ifndef TWINPROBE_CSEQ_H
#define TWINPROBE_CSEQ_H

#include <stddef.h>

/* A failed side (+inf or -inf) and any larger log-ratio count as +-ln 10: the
 * candidate ten times slower (or faster). Clipping keeps the moments finite. */
#define TP_CSEQ_CLIP 2.302585092994046

/* The sample size (pairs) where the boundary is tightest. */
#define TP_CSEQ_T_OPT 100.0

/* The standard deviation is never taken below this (1 % in log-ratio), so a
 * run of identical pairs does not shrink the interval to a point. */
#define TP_CSEQ_SIGMA_MIN 0.01

/* Running mean and sum of squared deviations (Welford); zero it to start. */
struct tp_cseq {
    size_t n;
    double mean;
    double m2;
};

/* Adds one log-ratio, clipped to [-TP_CSEQ_CLIP, TP_CSEQ_CLIP]; NaN is ignored. */
void tp_cseq_add(struct tp_cseq *cs, double d);

/* Adds every observation of src to dst (Chan's pairwise update). */
void tp_cseq_merge(struct tp_cseq *dst, const struct tp_cseq *src);

struct tp_cseq_interval {
    size_t n;
    double centre; /* the mean of the clipped log-ratios; NaN when n == 0 */
    double sigma;  /* the sample standard deviation, floored at TP_CSEQ_SIGMA_MIN */
    double low, high; /* -inf, +inf when n < 2 */
};

/* The 1 - alpha interval at the current n: centre -+ tp_cseq_radius. alpha in
 * (0, 1). */
void tp_cseq_interval(const struct tp_cseq *cs, double alpha, struct tp_cseq_interval *out);

/* The boundary's half-width after n pairs with standard deviation sigma:
 * sigma sqrt(2 (n r + 1) / (n^2 r) ln(sqrt(n r + 1) / alpha)), with
 * r = (-2 ln alpha + ln(1 - 2 ln alpha)) / TP_CSEQ_T_OPT. +inf for n == 0. */
double tp_cseq_radius(size_t n, double sigma, double alpha);

/* The smallest n at or above from whose radius is below half_width, or 0 when
 * none up to max (the radius shrinks like sqrt(log n / n)). */
size_t tp_cseq_pairs_for(double sigma, double half_width, double alpha, size_t from, size_t max);

#endif
