/* Normal-mixture confidence sequences for a mean (see cseq.h, docs/verdict.md). */
#include "twinprobe/cseq.h"

#include <math.h>

void tp_cseq_add(struct tp_cseq *cs, double d)
{
    double delta;
    if (isnan(d))
        return;
    if (d > TP_CSEQ_CLIP)
        d = TP_CSEQ_CLIP;
    if (d < -TP_CSEQ_CLIP)
        d = -TP_CSEQ_CLIP;
    cs->n++;
    delta = d - cs->mean;
    cs->mean += delta / (double)cs->n;
    cs->m2 += delta * (d - cs->mean);
}

void tp_cseq_merge(struct tp_cseq *dst, const struct tp_cseq *src)
{
    double n, delta;
    if (src->n == 0)
        return;
    if (dst->n == 0) {
        *dst = *src;
        return;
    }
    n = (double)(dst->n + src->n);
    delta = src->mean - dst->mean;
    dst->mean += delta * (double)src->n / n;
    dst->m2 += src->m2 + delta * delta * (double)dst->n * (double)src->n / n;
    dst->n += src->n;
}

double tp_cseq_radius(size_t n, double sigma, double alpha)
{
    double l = -2.0 * log(alpha), r = (l + log(1.0 + l)) / TP_CSEQ_T_OPT, t = (double)n;
    if (n == 0)
        return INFINITY;
    return sigma * sqrt(2.0 * (t * r + 1.0) / (t * t * r) * log(sqrt(t * r + 1.0) / alpha));
}

void tp_cseq_interval(const struct tp_cseq *cs, double alpha, struct tp_cseq_interval *out)
{
    double sd = cs->n > 1 ? sqrt(cs->m2 / (double)(cs->n - 1)) : 0.0;
    out->n = cs->n;
    out->centre = cs->n ? cs->mean : NAN;
    out->sigma = sd > TP_CSEQ_SIGMA_MIN ? sd : TP_CSEQ_SIGMA_MIN;
    if (cs->n < 2) {
        out->low = -INFINITY;
        out->high = INFINITY;
        return;
    }
    out->low = cs->mean - tp_cseq_radius(cs->n, out->sigma, alpha);
    out->high = cs->mean + tp_cseq_radius(cs->n, out->sigma, alpha);
}

size_t tp_cseq_pairs_for(double sigma, double half_width, double alpha, size_t from, size_t max)
{
    size_t lo = from > 2 ? from : 2, hi = lo;
    if (!(half_width > 0))
        return 0;
    while (tp_cseq_radius(hi, sigma, alpha) >= half_width) { /* decreasing for n >= 2 */
        if (hi >= max)
            return 0;
        lo = hi;
        hi = hi > max / 2 ? max : hi * 2;
    }
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (tp_cseq_radius(mid, sigma, alpha) < half_width)
            hi = mid;
        else
            lo = mid + 1;
    }
    return hi;
}
