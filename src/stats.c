/* Rank tests, Hodges-Lehmann intervals, Fisher's exact test and Holm's
 * adjustment. Follows R's wilcox.test, fisher.test and p.adjust; see stats.h. */
#include "twinprobe/stats.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- small helpers */

#define SQRT2 1.41421356237309504880
#define SQRT_2PI 2.50662827463100050242

struct vi {
    double v;
    size_t i;
};

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int cmp_vi(const void *a, const void *b)
{
    const struct vi *x = a, *y = b;
    if (x->v != y->v)
        return (x->v > y->v) - (x->v < y->v);
    return (x->i > y->i) - (x->i < y->i);
}

static double sign_of(double v)
{
    return (v > 0) - (v < 0);
}

/* (a + b) / 2, with (+inf + -inf) / 2 taken as 0. */
static double mid(double a, double b)
{
    if (isinf(a) && isinf(b) && a != b)
        return 0.0;
    return (a + b) / 2;
}

/* a - b, with inf - inf (same sign) taken as 0. */
static double diff(double a, double b)
{
    if (isinf(a) && a == b)
        return 0.0;
    return a - b;
}

static tp_err find_nan(const double *v, size_t n, const char *name, struct tp_error *err)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (isnan(v[i]))
            return tp_error_set(err, TP_ERR_INVALID, "stats: %s[%zu] is NaN", name, i);
    return TP_OK;
}

static tp_err check_opts(const struct tp_stats_opts *o, bool need_conf, struct tp_error *err)
{
    if (o->method != TP_STATS_AUTO && o->method != TP_STATS_EXACT &&
        o->method != TP_STATS_NORMAL)
        return tp_error_set(err, TP_ERR_INVALID, "stats: method must be auto, exact or normal");
    if (need_conf && !(o->conf > 0 && o->conf < 1))
        return tp_error_set(err, TP_ERR_INVALID, "stats: conf must be in (0, 1), got %g",
                            o->conf);
    return TP_OK;
}

static const struct tp_stats_opts default_opts = TP_STATS_OPTS_INIT;

/* Sorts work[0..n) (v, i filled by the caller) and writes the 1-based mid-rank of
 * work[k].v into rank[work[k].i]. Returns the sum over tie groups of t^3 - t. */
static double midrank(struct vi *work, size_t n, double *rank)
{
    double ties = 0;
    size_t i = 0, j, k;
    qsort(work, n, sizeof *work, cmp_vi);
    while (i < n) {
        double r, t;
        for (j = i + 1; j < n && work[j].v == work[i].v; j++)
            ;
        r = (double)(i + 1 + j) / 2;
        for (k = i; k < j; k++)
            rank[work[k].i] = r;
        t = (double)(j - i);
        ties += t * t * t - t;
        i = j;
    }
    return ties;
}

/* ---- exact null distributions */

/* c[v] = number of subsets of {1..n} summing to v, v = 0..n(n+1)/2 (so
 * P(V = v) = c[v] / 2^n). New array or NULL. */
static double *signrank_counts(size_t n)
{
    size_t top = n * (n + 1) / 2, reach = 0, r, v;
    double *c = calloc(top + 1, sizeof *c);
    if (!c)
        return NULL;
    c[0] = 1;
    for (r = 1; r <= n; r++) {
        reach += r;
        for (v = reach; v >= r; v--)
            c[v] += c[v - r];
    }
    return c;
}

/* c[u] = number of orderings of nx x's among ny y's with U_x = u, u = 0..nx ny
 * (the distribution is the same for U_y). Adds ranks 1..N one at a time: the
 * rank r taken as the c-th of the smaller sample has r - c of the other below
 * it. New array (larger than needed) or NULL. */
static double *ranksum_counts(size_t nx, size_t ny)
{
    size_t k = nx < ny ? nx : ny, big = nx < ny ? ny : nx;
    size_t top = k * big, w = top + 1, r, c, u;
    double *dp = calloc((k + 1) * w, sizeof *dp);
    if (!dp)
        return NULL;
    dp[0] = 1;
    for (r = 1; r <= k + big; r++) {
        size_t cmax = r < k ? r : k, cmin = r > big ? r - big : 1;
        for (c = cmax; c >= cmin && c >= 1; c--) {
            size_t add = r - c, umax = (c - 1) * big;
            double *to = dp + c * w;
            const double *from = dp + (c - 1) * w;
            if (umax + add > top)
                umax = top - add;
            for (u = 0; u <= umax; u++)
                to[u + add] += from[u];
        }
    }
    memmove(dp, dp + k * w, w * sizeof *dp);
    return dp;
}

static double sum_range(const double *c, size_t from, size_t to)
{
    double s = 0;
    size_t i;
    for (i = from; i <= to; i++)
        s += c[i];
    return s;
}

/* Exact p-values for an integer statistic s over counts c[0..top], total
 * outcomes total; as R: two-sided doubles the tail on s's side of the centre. */
static void exact_p(const double *c, size_t top, double total, size_t s,
                    struct tp_stats_test *out)
{
    double lower = sum_range(c, 0, s) / total;   /* P(S <= s) */
    double upper = sum_range(c, s, top) / total; /* P(S >= s) */
    double tail = (double)s > (double)top / 2 ? upper : lower;
    out->p_less = fmin(1, lower);
    out->p_greater = fmin(1, upper);
    out->p_two_sided = fmin(1, 2 * tail);
}

/* R's qsignrank / qwilcox for p <= 0.5: the smallest q with P(S <= q) >= p. */
static size_t exact_quantile(const double *c, size_t top, double total, double p)
{
    double cum = 0;
    size_t q;
    p -= 10 * DBL_EPSILON;
    for (q = 0; q < top; q++) {
        cum += c[q] / total;
        if (cum >= p)
            break;
    }
    return q;
}

/* Normal-approximation p-values for a statistic centred at zraw with sd sigma
 * (R: correction 0.5 toward the centre, sign(z) for two-sided). */
static void normal_p(double zraw, double sigma, bool correct, struct tp_stats_test *out)
{
    double cc = correct ? 0.5 : 0;
    double z2 = (zraw - sign_of(zraw) * cc) / sigma;
    out->p_two_sided = fmin(1, 2 * tp_stats_norm_cdf(-fabs(z2)));
    out->p_greater = tp_stats_norm_sf((zraw - cc) / sigma);
    out->p_less = tp_stats_norm_cdf((zraw + cc) / sigma);
}

static void test_none(struct tp_stats_test *out)
{
    memset(out, 0, sizeof *out);
    out->method = TP_STATS_NONE;
    out->p_two_sided = out->p_greater = out->p_less = 1;
}

static void interval_none(struct tp_stats_interval *out)
{
    memset(out, 0, sizeof *out);
    out->method = TP_STATS_NONE;
    out->estimate = out->low = out->high = out->conf = NAN;
}

/* Whether to use the exact distribution: R's rule for AUTO, the caller's
 * request for EXACT (within max), never with ties or zeros. */
static bool want_exact(enum tp_stats_method m, bool small, bool within_max, bool ties)
{
    if (ties || m == TP_STATS_NORMAL)
        return false;
    return m == TP_STATS_EXACT ? within_max : small;
}

/* ---- standardized statistics at a shift (for inverting the normal test) */

/* Scratch for one evaluation: room for every observation. */
struct shift_ctx {
    const double *x; /* signed-rank: the non-zero d; MWU: x */
    size_t nx;
    const double *y; /* MWU: y; signed-rank: NULL */
    size_t ny;
    bool correct;
    double *vals;
    double *rank;
    struct vi *work;
};

/* Signed-rank z of x - shift (zeros dropped), two-sided correction: R's W(d). */
static double z_signed(const struct shift_ctx *s, double shift)
{
    size_t i, k = 0;
    double v = 0, nk, ties, var, zd;
    for (i = 0; i < s->nx; i++) {
        double t = s->x[i] - shift;
        if (t != 0) {
            s->vals[k] = t;
            s->work[k].v = fabs(t);
            s->work[k].i = k;
            k++;
        }
    }
    ties = midrank(s->work, k, s->rank);
    for (i = 0; i < k; i++)
        if (s->vals[i] > 0)
            v += s->rank[i];
    nk = (double)k;
    var = nk * (nk + 1) * (2 * nk + 1) / 24 - ties / 48;
    if (!(var > 0))
        return 0;
    zd = v - nk * (nk + 1) / 4;
    return (zd - (s->correct ? sign_of(zd) * 0.5 : 0)) / sqrt(var);
}

/* Rank-sum z of (x - shift) against y, two-sided correction. */
static double z_ranksum(const struct shift_ctx *s, double shift)
{
    size_t i, n = s->nx + s->ny;
    double nx = (double)s->nx, ny = (double)s->ny, nn = (double)n, r = 0, ties, var, dz;
    for (i = 0; i < s->nx; i++) {
        s->work[i].v = s->x[i] - shift;
        s->work[i].i = i;
    }
    for (i = 0; i < s->ny; i++) {
        s->work[s->nx + i].v = s->y[i];
        s->work[s->nx + i].i = s->nx + i;
    }
    ties = midrank(s->work, n, s->rank);
    for (i = 0; i < s->nx; i++)
        r += s->rank[i];
    var = nx * ny / 12 * ((nn + 1) - ties / (nn * (nn - 1)));
    if (!(var > 0))
        return 0;
    dz = r - nx * (nx + 1) / 2 - nx * ny / 2;
    return (dz - (s->correct ? sign_of(dz) * 0.5 : 0)) / sqrt(var);
}

static double z_at(const struct shift_ctx *s, double shift)
{
    return s->y ? z_ranksum(s, shift) : z_signed(s, shift);
}

/* ---- the sorted Walsh averages (or differences), held or counted ---------- */

/* The sorted multiset the intervals are read from: held (w, m sorted), or, for
 * the signed-rank function past opts->hold_max, implicit: the m = n(n+1)/2
 * averages mid(a_i, a_j), i <= j, of the sorted a, found by counting. */
struct walsh {
    const double *w; /* held, sorted ascending; NULL: implicit */
    const double *a; /* implicit: sorted ascending */
    size_t n;        /* implicit: values in a */
    size_t m;        /* values in the multiset */
};

/* How many values are <= v. Implicit: for each i, the averages with a_j,
 * j >= i, that do not exceed v are a prefix (mid is non-decreasing in each
 * argument), and its end moves only left as i grows: two pointers, O(n). */
static size_t walsh_count_le(const struct walsh *W, double v)
{
    size_t count = 0, j;
    if (W->w) {
        size_t lo = 0, hi = W->m;
        while (lo < hi) {
            size_t k = lo + (hi - lo) / 2;
            if (W->w[k] <= v)
                lo = k + 1;
            else
                hi = k;
        }
        return lo;
    }
    j = W->n;
    for (size_t i = 0; i < W->n; i++) {
        while (j > i && mid(W->a[i], W->a[j - 1]) > v)
            j--;
        if (j <= i)
            break; /* even mid(a_i, a_i) > v: so is every later average */
        count += j - i;
    }
    return count;
}

/* Doubles in their numeric order as unsigned keys (NaN excluded). */
static uint64_t order_key(double v)
{
    uint64_t b;
    memcpy(&b, &v, sizeof b);
    return b >> 63 ? ~b : b | (1ull << 63);
}

static double key_value(uint64_t k)
{
    uint64_t b = k >> 63 ? k & ~(1ull << 63) : ~k;
    double v;
    memcpy(&v, &b, sizeof v);
    return v;
}

/* The value at 0-based position p (< m) in sorted order. Implicit: the least
 * double v with more than p values <= v, found by bisecting the doubles'
 * order (at most 64 counts); exact, since the count only steps at values. */
static double walsh_at(const struct walsh *W, size_t p)
{
    uint64_t lo = order_key(-INFINITY), hi = order_key(INFINITY);
    double v;
    if (W->w)
        return W->w[p];
    while (lo < hi) {
        uint64_t k = lo + (hi - lo) / 2;
        if (walsh_count_le(W, key_value(k)) > p)
            hi = k;
        else
            lo = k + 1;
    }
    v = key_value(lo);
    return v == 0 ? 0.0 : v; /* an average is never -0 */
}

static double walsh_median(const struct walsh *W)
{
    size_t m = W->m;
    return m % 2 ? walsh_at(W, m / 2) : mid(walsh_at(W, m / 2 - 1), walsh_at(W, m / 2));
}

/* The exact interval from the sorted Walsh averages or differences W and the
 * null counts of the rank statistic (R's conf.int with exact = TRUE). */
static void exact_interval(const double *counts, double total, double conf,
                           const struct walsh *W, struct tp_stats_interval *out)
{
    size_t qu = exact_quantile(counts, W->m, total, (1 - conf) / 2);
    if (qu == 0)
        qu = 1;
    out->method = TP_STATS_EXACT;
    out->low = walsh_at(W, qu - 1);
    out->high = walsh_at(W, W->m - qu);
    out->conf = 1 - 2 * sum_range(counts, 0, qu - 1) / total;
}

/* The statistic only jumps at the values. Position p in 0..m names the gap just
 * above the value at p - 1 (up to the next greater value; p = 0: below the
 * least value, and above the greatest when none is greater), so gaps follow
 * positions in order, a run of equal values naming one gap. Returns z at a
 * finite point inside it; +inf/-inf for the empty gaps beyond an infinite end. */
static double z_gap(const struct shift_ctx *s, const struct walsh *W, size_t p)
{
    double a, b, t;
    size_t c;
    if (p == 0) {
        b = walsh_at(W, 0);
        if (b == -INFINITY)
            return INFINITY;
        return z_at(s, b == INFINITY ? 0 : b - fmax(1, fabs(b)));
    }
    a = walsh_at(W, p - 1);
    c = walsh_count_le(W, a);
    if (c >= W->m) {
        if (a == INFINITY)
            return -INFINITY;
        return z_at(s, a == -INFINITY ? 0 : a + fmax(1, fabs(a)));
    }
    b = walsh_at(W, c);
    if (isinf(a) && isinf(b))
        t = 0;
    else if (isinf(a))
        t = b - fmax(1, fabs(b));
    else if (isinf(b))
        t = a + fmax(1, fabs(a));
    else
        t = a / 2 + b / 2;
    return z_at(s, t);
}

/* The shift where z (non-increasing in the shift) falls below zq: the value
 * below the first gap with z < zq; clamped to the least and greatest values. */
static double z_root(const struct shift_ctx *s, const struct walsh *W, double zq)
{
    size_t lo = 0, hi = W->m + 1;
    while (lo < hi) {
        size_t k = lo + (hi - lo) / 2;
        if (z_gap(s, W, k) < zq)
            hi = k;
        else
            lo = k + 1;
    }
    if (lo == 0)
        return walsh_at(W, 0);
    return walsh_at(W, lo - 1 < W->m ? lo - 1 : W->m - 1);
}

/* The interval of shifts the normal test does not reject. Doubles alpha while
 * the data cannot reach it. */
static void normal_interval(const struct shift_ctx *s, const struct walsh *W, double conf,
                            struct tp_stats_interval *out)
{
    double alpha = 1 - conf, zhi, zlo, gmin, gmax;
    gmin = z_gap(s, W, 0);
    gmax = z_gap(s, W, W->m);
    out->conf = conf;
    for (;;) {
        zhi = -tp_stats_norm_quantile(alpha / 2);
        if (!(gmin < zhi || gmax > -zhi))
            break;
        alpha *= 2;
        out->conf = 1 - alpha;
        if (alpha >= 1) {
            out->low = out->high = out->estimate;
            out->conf = 0;
            return;
        }
    }
    zlo = -zhi;
    out->low = z_root(s, W, zhi);
    out->high = z_root(s, W, zlo);
    out->low_open = isfinite(out->low) && z_at(s, out->low) > zhi;
    out->high_open = isfinite(out->high) && z_at(s, out->high) < zlo;
}

/* ---- Wilcoxon signed-rank */

/* What both signed-rank entry points share: the non-zero d, their ranks. */
struct signed_data {
    double *nz;      /* non-zero d, n of them */
    double *rank;    /* mid-rank of |nz[i]| */
    struct vi *work; /* scratch */
    size_t n, zeros;
    double ties;     /* sum of t^3 - t */
    double v;        /* sum of the ranks of positive nz */
};

static void signed_free(struct signed_data *sd)
{
    free(sd->nz);
    free(sd->rank);
    free(sd->work);
}

static tp_err signed_prepare(const double *d, size_t n, struct signed_data *sd,
                             struct tp_error *err)
{
    size_t i;
    memset(sd, 0, sizeof *sd);
    if (n == 0)
        return TP_OK;
    sd->nz = malloc(n * sizeof *sd->nz);
    sd->rank = malloc(n * sizeof *sd->rank);
    sd->work = malloc(n * sizeof *sd->work);
    if (!sd->nz || !sd->rank || !sd->work)
        return tp_error_set(err, TP_ERR_NOMEM, "stats: out of memory");
    for (i = 0; i < n; i++) {
        if (d[i] == 0) {
            sd->zeros++;
            continue;
        }
        sd->work[sd->n].v = fabs(d[i]);
        sd->work[sd->n].i = sd->n;
        sd->nz[sd->n++] = d[i];
    }
    sd->ties = midrank(sd->work, sd->n, sd->rank);
    for (i = 0; i < sd->n; i++)
        if (sd->nz[i] > 0)
            sd->v += sd->rank[i];
    return TP_OK;
}

static tp_err check_args(const void *data, size_t n, const void *out, const char *name,
                         struct tp_error *err)
{
    if (!out)
        return tp_error_set(err, TP_ERR_INVALID, "stats: out is NULL");
    if (n > 0 && !data)
        return tp_error_set(err, TP_ERR_INVALID, "stats: %s is NULL", name);
    return TP_OK;
}

tp_err tp_stats_wilcoxon(const double *d, size_t n, const struct tp_stats_opts *opts,
                         struct tp_stats_test *out, struct tp_error *err)
{
    struct signed_data sd;
    tp_err rc;
    double nn, *counts = NULL;

    if (out)
        test_none(out);
    if (!opts)
        opts = &default_opts;
    if ((rc = check_args(d, n, out, "d", err)) || (rc = check_opts(opts, false, err)) ||
        (rc = find_nan(d, n, "d", err)))
        return rc;
    rc = signed_prepare(d, n, &sd, err);
    if (rc)
        goto done;
    out->zeros = sd.zeros;
    if (sd.n == 0)
        goto done;
    out->n = sd.n;
    out->ties = sd.ties > 0;
    out->statistic = sd.v;
    nn = (double)sd.n;
    if (want_exact(opts->method, sd.n < 50, sd.n <= TP_STATS_SIGNED_RANK_EXACT_MAX,
                   out->ties || sd.zeros > 0)) {
        size_t top = sd.n * (sd.n + 1) / 2;
        counts = signrank_counts(sd.n);
        if (!counts) {
            rc = tp_error_set(err, TP_ERR_NOMEM, "stats: out of memory");
            goto done;
        }
        out->method = TP_STATS_EXACT;
        exact_p(counts, top, ldexp(1, (int)sd.n), (size_t)sd.v, out);
    } else {
        out->method = TP_STATS_NORMAL;
        normal_p(sd.v - nn * (nn + 1) / 4,
                 sqrt(nn * (nn + 1) * (2 * nn + 1) / 24 - sd.ties / 48), opts->correct, out);
    }
done:
    free(counts);
    signed_free(&sd);
    if (rc)
        test_none(out);
    return rc;
}

static double sorted_median(const double *w, size_t m)
{
    return m % 2 ? w[m / 2] : mid(w[m / 2 - 1], w[m / 2]);
}

tp_err tp_stats_wilcoxon_hl(const double *d, size_t n, const struct tp_stats_opts *opts,
                            struct tp_stats_interval *out, struct tp_error *err)
{
    struct signed_data sd;
    tp_err rc;
    double *w = NULL, *counts = NULL, *a = NULL;
    size_t i, j, k = 0, m, hold;
    struct walsh W = {NULL, NULL, 0, 0};

    if (out)
        interval_none(out);
    if (!opts)
        opts = &default_opts;
    if ((rc = check_args(d, n, out, "d", err)) || (rc = check_opts(opts, true, err)) ||
        (rc = find_nan(d, n, "d", err)))
        return rc;
    if (n > 0 && n + 1 > SIZE_MAX / 2 / n)
        return tp_error_set(err, TP_ERR_LIMIT, "stats: %zu differences: too many", n);
    rc = signed_prepare(d, n, &sd, err);
    if (rc || sd.n == 0)
        goto done;
    m = sd.n * (sd.n + 1) / 2;
    hold = opts->hold_max ? opts->hold_max : TP_STATS_HL_HOLD;
    W.m = m;
    if (m <= hold) {
        w = malloc(m * sizeof *w);
        if (!w) {
            rc = tp_error_set(err, TP_ERR_NOMEM, "stats: out of memory");
            goto done;
        }
        for (i = 0; i < sd.n; i++)
            for (j = i; j < sd.n; j++)
                w[k++] = mid(sd.nz[i], sd.nz[j]);
        qsort(w, m, sizeof *w, cmp_double);
        W.w = w;
    } else {
        a = malloc(sd.n * sizeof *a);
        if (!a) {
            rc = tp_error_set(err, TP_ERR_NOMEM, "stats: out of memory");
            goto done;
        }
        memcpy(a, sd.nz, sd.n * sizeof *a);
        qsort(a, sd.n, sizeof *a, cmp_double);
        W.a = a;
        W.n = sd.n;
    }
    out->n = sd.n;
    out->estimate = walsh_median(&W);
    if (want_exact(opts->method, sd.n < 50, sd.n <= TP_STATS_SIGNED_RANK_EXACT_MAX,
                   sd.ties > 0 || sd.zeros > 0)) {
        double total = ldexp(1, (int)sd.n);
        counts = signrank_counts(sd.n);
        if (!counts) {
            rc = tp_error_set(err, TP_ERR_NOMEM, "stats: out of memory");
            goto done;
        }
        exact_interval(counts, total, opts->conf, &W, out);
    } else {
        struct shift_ctx s = {sd.nz, sd.n, NULL, 0, opts->correct, NULL, sd.rank, sd.work};
        double *vals = malloc(sd.n * sizeof *vals);
        if (!vals) {
            rc = tp_error_set(err, TP_ERR_NOMEM, "stats: out of memory");
            goto done;
        }
        s.vals = vals;
        out->method = TP_STATS_NORMAL;
        normal_interval(&s, &W, opts->conf, out);
        free(vals);
    }
done:
    free(counts);
    free(w);
    free(a);
    signed_free(&sd);
    if (rc)
        interval_none(out);
    return rc;
}

/* ---- Mann-Whitney */

/* U_x (R's W) and the tie term (sum of t^3 - t) of the pooled sample. */
static tp_err ranksum_prepare(const double *x, size_t nx, const double *y, size_t ny,
                              double *u, double *ties, struct tp_error *err)
{
    size_t i, n = nx + ny;
    double r = 0, *rank = malloc(n * sizeof *rank);
    struct vi *work = malloc(n * sizeof *work);
    if (!rank || !work) {
        free(rank);
        free(work);
        return tp_error_set(err, TP_ERR_NOMEM, "stats: out of memory");
    }
    for (i = 0; i < n; i++) {
        work[i].v = i < nx ? x[i] : y[i - nx];
        work[i].i = i;
    }
    *ties = midrank(work, n, rank);
    for (i = 0; i < nx; i++)
        r += rank[i];
    *u = r - (double)nx * ((double)nx + 1) / 2;
    free(rank);
    free(work);
    return TP_OK;
}

static tp_err check_two(const double *x, size_t nx, const double *y, size_t ny,
                        const void *out, const struct tp_stats_opts *opts, bool need_conf,
                        struct tp_error *err)
{
    tp_err rc;
    if ((rc = check_args(x, nx, out, "x", err)) || (rc = check_args(y, ny, out, "y", err)) ||
        (rc = check_opts(opts, need_conf, err)) || (rc = find_nan(x, nx, "x", err)) ||
        (rc = find_nan(y, ny, "y", err)))
        return rc;
    return TP_OK;
}

static bool mwu_exact(const struct tp_stats_opts *opts, size_t nx, size_t ny, double ties)
{
    return want_exact(opts->method, nx < 50 && ny < 50, nx * ny <= TP_STATS_MWU_EXACT_MAX,
                      ties > 0);
}

tp_err tp_stats_mwu(const double *x, size_t nx, const double *y, size_t ny,
                    const struct tp_stats_opts *opts, struct tp_stats_test *out,
                    struct tp_error *err)
{
    tp_err rc;
    double u, ties, fx = (double)nx, fy = (double)ny, fn = fx + fy, var;

    if (out)
        test_none(out);
    if (!opts)
        opts = &default_opts;
    if ((rc = check_two(x, nx, y, ny, out, opts, false, err)))
        return rc;
    if (nx == 0 || ny == 0)
        return TP_OK;
    if ((rc = ranksum_prepare(x, nx, y, ny, &u, &ties, err)))
        return rc;
    out->n = nx;
    out->m = ny;
    out->ties = ties > 0;
    out->statistic = u;
    if (mwu_exact(opts, nx, ny, ties)) {
        double *counts = ranksum_counts(nx, ny);
        if (!counts) {
            test_none(out);
            return tp_error_set(err, TP_ERR_NOMEM, "stats: out of memory");
        }
        out->method = TP_STATS_EXACT;
        exact_p(counts, nx * ny, sum_range(counts, 0, nx * ny), (size_t)u, out);
        free(counts);
        return TP_OK;
    }
    var = fx * fy / 12 * ((fn + 1) - ties / (fn * (fn - 1)));
    if (!(var > 0)) /* every value tied: no evidence either way */
        return TP_OK;
    out->method = TP_STATS_NORMAL;
    normal_p(u - fx * fy / 2, sqrt(var), opts->correct, out);
    return TP_OK;
}

tp_err tp_stats_mwu_hl(const double *x, size_t nx, const double *y, size_t ny,
                       const struct tp_stats_opts *opts, struct tp_stats_interval *out,
                       struct tp_error *err)
{
    tp_err rc;
    double u, ties, *w = NULL, *counts = NULL, *rank = NULL;
    struct vi *work = NULL;
    size_t i, j, k = 0, m;

    if (out)
        interval_none(out);
    if (!opts)
        opts = &default_opts;
    if ((rc = check_two(x, nx, y, ny, out, opts, true, err)))
        return rc;
    if (nx == 0 || ny == 0)
        return TP_OK;
    if (nx > TP_STATS_HL_MAX / ny)
        return tp_error_set(err, TP_ERR_LIMIT, "stats: %zu x %zu differences: over %zu", nx,
                            ny, TP_STATS_HL_MAX);
    if ((rc = ranksum_prepare(x, nx, y, ny, &u, &ties, err)))
        return rc;
    m = nx * ny;
    w = malloc(m * sizeof *w);
    if (!w)
        goto nomem;
    for (i = 0; i < nx; i++)
        for (j = 0; j < ny; j++)
            w[k++] = diff(x[i], y[j]);
    qsort(w, m, sizeof *w, cmp_double);
    out->n = nx;
    out->m = ny;
    out->estimate = sorted_median(w, m);
    if (mwu_exact(opts, nx, ny, ties)) {
        double total;
        counts = ranksum_counts(nx, ny);
        if (!counts)
            goto nomem;
        struct walsh W = {w, NULL, 0, m};
        total = sum_range(counts, 0, m);
        exact_interval(counts, total, opts->conf, &W, out);
    } else {
        struct shift_ctx s = {x, nx, y, ny, opts->correct, NULL, NULL, NULL};
        rank = malloc((nx + ny) * sizeof *rank);
        work = malloc((nx + ny) * sizeof *work);
        if (!rank || !work)
            goto nomem;
        s.rank = rank;
        s.work = work;
        struct walsh W = {w, NULL, 0, m};
        out->method = TP_STATS_NORMAL;
        normal_interval(&s, &W, opts->conf, out);
    }
    goto done;
nomem:
    rc = tp_error_set(err, TP_ERR_NOMEM, "stats: out of memory");
    interval_none(out);
done:
    free(w);
    free(counts);
    free(rank);
    free(work);
    return rc;
}

/* ---- Fisher */

/* log P(A = x) up to a constant: margins row1 k, col1 m1, col2 m2. */
static double fisher_logd(double x, double k, double m1, double m2)
{
    return -lgamma(x + 1) - lgamma(m1 - x + 1) - lgamma(k - x + 1) - lgamma(m2 - k + x + 1);
}

static void fisher_add(double p, size_t x, size_t a, double pa, double *total, double *less,
                       double *greater, double *two)
{
    *total += p;
    if (x <= a)
        *less += p;
    if (x >= a)
        *greater += p;
    if (p <= pa)
        *two += p;
}

tp_err tp_stats_fisher(size_t a, size_t b, size_t c, size_t d, struct tp_stats_fisher *out,
                       struct tp_error *err)
{
    size_t k = a + b, m1 = a + c, m2 = b + d, lo, hi, mode, x;
    double fk, f1, f2, logmax, pa, total = 0, less = 0, greater = 0, two = 0, ad, bc;

    if (!out)
        return tp_error_set(err, TP_ERR_INVALID, "stats: out is NULL");
    out->odds_ratio = NAN;
    out->p_two_sided = out->p_greater = out->p_less = 1;
    if (a > TP_STATS_FISHER_MAX_TOTAL || b > TP_STATS_FISHER_MAX_TOTAL ||
        c > TP_STATS_FISHER_MAX_TOTAL || d > TP_STATS_FISHER_MAX_TOTAL ||
        a + b + c + d > TP_STATS_FISHER_MAX_TOTAL)
        return tp_error_set(err, TP_ERR_LIMIT, "stats: Fisher table total over %zu",
                            TP_STATS_FISHER_MAX_TOTAL);
    ad = (double)a * (double)d;
    bc = (double)b * (double)c;
    out->odds_ratio = bc > 0 ? ad / bc : ad > 0 ? INFINITY : NAN;
    if (k == 0 || m1 == 0 || m2 == 0 || c + d == 0)
        return TP_OK;
    lo = k > m2 ? k - m2 : 0;
    hi = k < m1 ? k : m1;
    fk = (double)k;
    f1 = (double)m1;
    f2 = (double)m2;
    mode = (size_t)floor((fk + 1) * (f1 + 1) / (f1 + f2 + 2));
    mode = mode < lo ? lo : mode > hi ? hi : mode;
    logmax = fisher_logd((double)mode, fk, f1, f2);
    pa = exp(fisher_logd((double)a, fk, f1, f2) - logmax) * (1 + 1e-7);
    /* Outward from the mode; the pmf is unimodal, so once a term underflows to 0
     * every term beyond it does too. */
    for (x = mode;; x--) {
        double p = exp(fisher_logd((double)x, fk, f1, f2) - logmax);
        fisher_add(p, x, a, pa, &total, &less, &greater, &two);
        if (p == 0 || x == lo)
            break;
    }
    for (x = mode + 1; x <= hi; x++) {
        double p = exp(fisher_logd((double)x, fk, f1, f2) - logmax);
        fisher_add(p, x, a, pa, &total, &less, &greater, &two);
        if (p == 0)
            break;
    }
    out->p_less = fmin(1, less / total);
    out->p_greater = fmin(1, greater / total);
    out->p_two_sided = fmin(1, two / total);
    return TP_OK;
}

/* ---- Holm */

tp_err tp_stats_holm(const double *p, size_t m, double *adj, struct tp_error *err)
{
    struct vi *o;
    double run = 0;
    size_t i;

    if (m == 0)
        return TP_OK;
    if (!p || !adj)
        return tp_error_set(err, TP_ERR_INVALID, "stats: p or adj is NULL");
    for (i = 0; i < m; i++)
        if (!(p[i] >= 0 && p[i] <= 1))
            return tp_error_set(err, TP_ERR_INVALID, "stats: p[%zu] = %g is not in [0, 1]", i,
                                p[i]);
    o = malloc(m * sizeof *o);
    if (!o)
        return tp_error_set(err, TP_ERR_NOMEM, "stats: out of memory");
    for (i = 0; i < m; i++) {
        o[i].v = p[i];
        o[i].i = i;
    }
    qsort(o, m, sizeof *o, cmp_vi);
    for (i = 0; i < m; i++) {
        double v = fmin(1, (double)(m - i) * o[i].v);
        run = fmax(run, v);
        adj[o[i].i] = run;
    }
    free(o);
    return TP_OK;
}

/* ---- normal distribution */

double tp_stats_norm_cdf(double z)
{
    return 0.5 * erfc(-z / SQRT2);
}

double tp_stats_norm_sf(double z)
{
    return 0.5 * erfc(z / SQRT2);
}

/* Abramowitz & Stegun 26.2.23 (error < 4.5e-4) as the start, then Halley steps
 * on the tail that holds p, where erfc is accurate. */
double tp_stats_norm_quantile(double p)
{
    double q, t, z;
    int it;
    if (isnan(p) || p < 0 || p > 1)
        return NAN;
    if (p == 0)
        return -INFINITY;
    if (p == 1)
        return INFINITY;
    q = p < 0.5 ? p : 1 - p; /* exact for p >= 0.5 */
    t = sqrt(-2 * log(q));
    z = t - (2.515517 + 0.802853 * t + 0.010328 * t * t) /
                (1 + 1.432788 * t + 0.189269 * t * t + 0.001308 * t * t * t);
    /* z > 0 is the upper quantile of q: solve sf(z) = q */
    for (it = 0; it < 4; it++) {
        double dens = exp(-0.5 * z * z) / SQRT_2PI, u;
        if (!(dens > 0))
            break;
        u = (tp_stats_norm_sf(z) - q) / dens; /* Newton step for sf(z) = q */
        z += u / (1 - z * u / 2);
    }
    return p < 0.5 ? -z : z;
}

/* ---- quantiles */

tp_err tp_stats_quantile(const double *x, size_t n, double prob, double *scratch,
                         double *out, struct tp_error *err)
{
    double *v = scratch, h, frac, a, b;
    size_t lo;
    tp_err rc;

    if (!out)
        return tp_error_set(err, TP_ERR_INVALID, "stats: out is NULL");
    *out = NAN;
    if (!(prob >= 0 && prob <= 1))
        return tp_error_set(err, TP_ERR_INVALID, "stats: prob must be in [0, 1], got %g", prob);
    if ((rc = check_args(x, n, out, "x", err)) || (rc = find_nan(x, n, "x", err)))
        return rc;
    if (n == 0)
        return TP_OK;
    if (!v && !(v = malloc(n * sizeof *v)))
        return tp_error_set(err, TP_ERR_NOMEM, "stats: out of memory");
    if (v != x)
        memcpy(v, x, n * sizeof *v);
    qsort(v, n, sizeof *v, cmp_double);
    h = (double)(n - 1) * prob;
    lo = (size_t)floor(h);
    frac = h - (double)lo;
    a = v[lo];
    b = v[lo + 1 < n ? lo + 1 : lo];
    if (frac == 0 || a == b)
        *out = a;
    else if (isinf(a) || isinf(b))
        *out = isinf(a) && isinf(b) ? NAN : isinf(a) ? a : b;
    else
        *out = a + frac * (b - a);
    if (v != scratch)
        free(v);
    return TP_OK;
}

tp_err tp_stats_median(const double *x, size_t n, double *scratch, double *out,
                       struct tp_error *err)
{
    return tp_stats_quantile(x, n, 0.5, scratch, out, err);
}

/* ---- small-sample guards */

double tp_stats_wilcoxon_min_p(size_t n)
{
    if (n > 1100)
        return 0;
    return fmin(1, ldexp(2, -(int)n));
}

bool tp_stats_wilcoxon_can_reject(size_t n, double alpha)
{
    return tp_stats_wilcoxon_min_p(n) <= alpha;
}

double tp_stats_mwu_min_p(size_t nx, size_t ny)
{
    size_t k = nx < ny ? nx : ny, n = nx + ny, i;
    double c = 1;
    if (k == 0)
        return 1;
    for (i = 1; i <= k && isfinite(c); i++)
        c = c * (double)(n - k + i) / (double)i; /* C(n - k + i, i), exact while small */
    return fmin(1, 2 / c);
}
