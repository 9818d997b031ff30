/* Step and journey verdicts from the rounds' latencies and error counts: the
 * rules of DESIGN.md §Comparison and verdict over the statistics of stats.c.
 * Pure: no I/O; scratch memory is freed before returning. */
#include "twinprobe/verdict.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "twinprobe/stats.h"

#define MIN_MS 0.001 /* a 0 ms timing, for the logarithm */

static const char *const verdict_names[] = {"PASS",         "HIGH",   "LOW",
                                            "INCONCLUSIVE", "NODATA", "CRITICAL"};

const char *tp_verdict_name(enum tp_verdict v)
{
    if ((size_t)v < sizeof verdict_names / sizeof verdict_names[0])
        return verdict_names[v];
    return "UNKNOWN";
}

/* ---- bounded text building */

struct text {
    char *buf;
    size_t size;
    size_t len; /* what was asked for; may pass size (then the text is truncated) */
};

static void text_init(struct text *t, char *buf, size_t size)
{
    t->buf = buf;
    t->size = size;
    t->len = 0;
    if (size > 0)
        buf[0] = '\0';
}

#if defined(__GNUC__)
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#else
#define PRINTF_LIKE(f, a)
#endif

static void text_add(struct text *t, const char *fmt, ...) PRINTF_LIKE(2, 3);

static void text_add(struct text *t, const char *fmt, ...)
{
    va_list ap;
    int n;
    if (t->len >= t->size)
        return;
    va_start(ap, fmt);
    n = vsnprintf(t->buf + t->len, t->size - t->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        t->len += (size_t)n;
}

/* "12.3%", "-100.0%" or "unbounded" (+inf). */
static const char *fmt_pct(char *buf, size_t size, double v)
{
    if (isnan(v))
        snprintf(buf, size, "n/a");
    else if (v == INFINITY)
        snprintf(buf, size, "unbounded");
    else
        snprintf(buf, size, "%.1f%%", v);
    return buf;
}

/* "0.0016" or "<0.0001"; p_eq gives the "=" to write before it, or "". */
static const char *fmt_p(char *buf, size_t size, double p)
{
    if (p < 0.0001)
        snprintf(buf, size, "<0.0001");
    else
        snprintf(buf, size, "%.2g", p);
    return buf;
}

static const char *p_eq(double p)
{
    return p < 0.0001 ? "" : "=";
}

/* ---- inputs */

static tp_err check_opts(const struct tp_verdict_opts *o, struct tp_error *err)
{
    if (!(o->alpha > 0 && o->alpha < 1))
        return tp_error_set(err, TP_ERR_INVALID, "verdict: alpha must be in (0, 1), got %g",
                            o->alpha);
    if (!(o->confidence > 0 && o->confidence < 1))
        return tp_error_set(err, TP_ERR_INVALID, "verdict: confidence must be in (0, 1), got %g",
                            o->confidence);
    if (!(o->margin_pct >= 0) || !(o->margin_ms >= 0) || isnan(o->critical_pct) ||
        isnan(o->pass_score) || isnan(o->marginal_score))
        return tp_error_set(err, TP_ERR_INVALID,
                            "verdict: margins must be >= 0 and thresholds not NaN");
    return TP_OK;
}

/* Timings are ms >= 0 or +INFINITY (a failure). */
static tp_err check_side(const double *v, size_t n, const char *name, struct tp_error *err)
{
    size_t i;
    if (n > 0 && !v)
        return tp_error_set(err, TP_ERR_INVALID, "verdict: %s is NULL", name);
    for (i = 0; i < n; i++) {
        if (isnan(v[i]))
            return tp_error_set(err, TP_ERR_INVALID, "verdict: %s[%zu] is NaN", name, i);
        if (!(v[i] >= 0))
            return tp_error_set(err, TP_ERR_INVALID, "verdict: %s[%zu] is %g, not a time", name, i,
                                v[i]);
    }
    return TP_OK;
}

static size_t count_failed(const double *v, size_t n)
{
    size_t i, k = 0;
    for (i = 0; i < n; i++)
        k += isinf(v[i]) != 0;
    return k;
}

static double log_ms(double ms)
{
    return isinf(ms) ? INFINITY : log(fmax(ms, MIN_MS));
}

/* Median and p95 (type 7) of the completed runs; scratch holds n doubles. */
static tp_err completed_quantiles(const double *v, size_t n, double *scratch, double *median,
                                  double *p95, struct tp_error *err)
{
    size_t i, k = 0;
    tp_err rc;
    for (i = 0; i < n; i++)
        if (isfinite(v[i]))
            scratch[k++] = v[i];
    rc = tp_stats_median(scratch, k, scratch, median, err);
    if (!rc)
        rc = tp_stats_quantile(scratch, k, 0.95, scratch, p95, err);
    return rc;
}

/* 100 (e^x - 1): +inf stays +inf, -inf is -100. */
static double to_pct(double x)
{
    return 100 * expm1(x);
}

/* ---- the rules */

static void step_reset(struct tp_step_verdict *s)
{
    memset(s, 0, sizeof *s);
    s->verdict = TP_V_NODATA;
    s->method = "none";
    s->p = s->p_adj = s->errors_p = 1;
    s->base_median_ms = s->cand_median_ms = s->base_p95_ms = s->cand_p95_ms = NAN;
    s->delta_pct = s->ci_low_pct = s->ci_high_pct = s->margin_pct = s->ci_conf = NAN;
}

static bool is_nodata(const struct tp_step_verdict *s)
{
    return s->paired ? s->n == 0 : s->n_base_runs == 0 || s->n_cand_runs == 0;
}

/* The exact test could never reach alpha with these sample sizes. */
static bool small_sample(const struct tp_step_verdict *s, double alpha)
{
    if (s->paired)
        return !tp_stats_wilcoxon_can_reject(s->n - s->n_tied, alpha);
    return tp_stats_mwu_min_p(s->n_cand_runs, s->n_base_runs) > alpha;
}

static bool critical_mismatch(const struct tp_step_verdict *s)
{
    return s->critical_step && s->mismatches > 0;
}

static bool errors_worse(const struct tp_step_verdict *s, double alpha)
{
    return s->errors_p <= alpha && s->cand_errors > s->base_errors;
}

static bool ci_above_zero(const struct tp_step_verdict *s)
{
    return s->ci_low_pct > 0 || (s->ci_low_pct == 0 && s->ci_low_open);
}

static bool ci_below_zero(const struct tp_step_verdict *s)
{
    return s->ci_high_pct < 0 || (s->ci_high_pct == 0 && s->ci_high_open);
}

static bool conf_reached(const struct tp_step_verdict *s, const struct tp_verdict_opts *o)
{
    return s->ci_conf >= o->confidence - 1e-9;
}

/* The latency rules in order, with p as the significance (p or p_adj); the
 * error upgrade comes after. */
static enum tp_verdict latency_class(const struct tp_step_verdict *s,
                                     const struct tp_verdict_opts *o, double p)
{
    bool guarded, significant;
    if (is_nodata(s))
        return TP_V_NODATA;
    if (critical_mismatch(s))
        return TP_V_CRITICAL;
    guarded = small_sample(s, o->alpha);
    significant = p <= o->alpha && !guarded;
    /* CRITICAL is a HIGH made worse: above the margin too (a 0.4 ms step 0.3 ms
     * slower is +75% but within a 5 ms margin, and no alarm) */
    if (significant && s->ci_low_pct >= o->critical_pct && ci_above_zero(s) &&
        s->delta_pct >= s->margin_pct)
        return TP_V_CRITICAL;
    if (guarded)
        return TP_V_INCONCLUSIVE;
    if (significant && ci_above_zero(s) && s->delta_pct >= s->margin_pct)
        return TP_V_HIGH;
    if (significant && ci_below_zero(s) && s->delta_pct <= -s->margin_pct)
        return TP_V_LOW;
    if (s->ci_high_pct < s->margin_pct && conf_reached(s, o))
        return TP_V_PASS;
    return TP_V_INCONCLUSIVE;
}

static enum tp_verdict final_class(const struct tp_step_verdict *s, const struct tp_verdict_opts *o,
                                   enum tp_verdict lat)
{
    if ((lat == TP_V_PASS || lat == TP_V_LOW || lat == TP_V_INCONCLUSIVE) &&
        errors_worse(s, o->alpha))
        return TP_V_HIGH;
    return lat;
}

/* ---- reasons */

/* "candidate 19.4% slower" */
static void add_headline(struct text *t, const struct tp_step_verdict *s)
{
    if (isnan(s->delta_pct))
        text_add(t, "no latency estimate");
    else if (s->delta_pct == INFINITY)
        text_add(t, "candidate slower without bound, its failures dominating");
    else if (s->delta_pct >= 0)
        text_add(t, "candidate %.1f%% slower", s->delta_pct);
    else
        text_add(t, "candidate %.1f%% faster", -s->delta_pct);
}

/* "p=0.0005 adj 0.0015" (adj only when it differs) */
static void add_p(struct text *t, const struct tp_step_verdict *s)
{
    char buf[16];
    text_add(t, "p%s%s", p_eq(s->p), fmt_p(buf, sizeof buf, s->p));
    if (s->p_adj != s->p)
        text_add(t, " adj %s", fmt_p(buf, sizeof buf, s->p_adj));
}

static void add_n(struct text *t, const struct tp_step_verdict *s)
{
    if (s->paired)
        text_add(t, "n=%zu pairs", s->n);
    else
        text_add(t, "n=%zu candidate + %zu baseline runs", s->n_cand_runs, s->n_base_runs);
}

/* "95% CI 12.0% to 26.3%, p=0.0005 adj 0.0015, n=12 pairs" */
static void add_details(struct text *t, const struct tp_step_verdict *s,
                        const struct tp_verdict_opts *o)
{
    char lo[24], hi[24];
    text_add(t, "%g%% CI %s to %s, ", 100 * o->confidence, fmt_pct(lo, sizeof lo, s->ci_low_pct),
             fmt_pct(hi, sizeof hi, s->ci_high_pct));
    add_p(t, s);
    text_add(t, ", ");
    add_n(t, s);
}

/* "candidate 19.4% slower (95% CI ..., p=..., n=12 pairs)" */
static void add_summary(struct text *t, const struct tp_step_verdict *s,
                        const struct tp_verdict_opts *o)
{
    if (isnan(s->delta_pct)) {
        text_add(t, "no latency estimate (");
        add_n(t, s);
        if (s->paired && s->n_tied == s->n)
            text_add(t, ", all tied");
        text_add(t, ")");
        return;
    }
    add_headline(t, s);
    text_add(t, " (");
    add_details(t, s, o);
    text_add(t, ")");
}

static void add_errors(struct text *t, const struct tp_step_verdict *s)
{
    char p[16];
    text_add(t, "%zu of %zu candidate runs failed vs %zu of %zu baseline (Fisher p%s%s)",
             s->cand_errors, s->n_cand_runs, s->base_errors, s->n_base_runs, p_eq(s->errors_p),
             fmt_p(p, sizeof p, s->errors_p));
}

static void add_guard(struct text *t, const struct tp_step_verdict *s, double alpha)
{
    char p[16];
    if (s->paired) {
        size_t need = 1, ranked = s->n - s->n_tied;
        while (need < 1100 && !tp_stats_wilcoxon_can_reject(need, alpha))
            need++;
        if (s->n_tied > 0)
            text_add(t, "n=%zu pairs, %zu of them tied (dropped): ", s->n, s->n_tied);
        else
            text_add(t, "n=%zu pairs: ", s->n);
        text_add(t, "the signed-rank test cannot reach p < %g below %zu pairs", alpha, need);
        if (ranked > 0)
            text_add(t, " (smallest possible p %s)",
                     fmt_p(p, sizeof p, tp_stats_wilcoxon_min_p(ranked)));
    } else {
        text_add(t,
                 "n=%zu candidate + %zu baseline runs: the Mann-Whitney test cannot reach "
                 "p < %g (smallest possible p %s)",
                 s->n_cand_runs, s->n_base_runs, alpha,
                 fmt_p(p, sizeof p, tp_stats_mwu_min_p(s->n_cand_runs, s->n_base_runs)));
    }
}

/* "10%" or "10% (5 ms)" when the absolute part decided δ. */
static void add_margin(struct text *t, const struct tp_step_verdict *s,
                       const struct tp_verdict_opts *o)
{
    if (s->margin_pct < 100)
        text_add(t, "%.3g%%", s->margin_pct);
    else
        text_add(t, "%.0f%%", s->margin_pct);
    if (s->margin_pct > o->margin_pct)
        text_add(t, " (%g ms)", o->margin_ms);
}

static void add_latency_reason(struct text *t, const struct tp_step_verdict *s,
                               const struct tp_verdict_opts *o, enum tp_verdict lat)
{
    char hi[24], c[24];
    switch (lat) {
    case TP_V_NODATA:
        if (s->paired || (s->n_cand_runs == 0 && s->n_base_runs == 0))
            text_add(t, "no samples: every round was skipped");
        else
            text_add(t, "no %s samples", s->n_cand_runs == 0 ? "candidate" : "baseline");
        return;
    case TP_V_CRITICAL:
        if (critical_mismatch(s)) {
            text_add(t, "critical step with %zu functional mismatch%s; latency: ", s->mismatches,
                     s->mismatches == 1 ? "" : "es");
            add_summary(t, s, o);
        } else {
            add_summary(t, s, o);
            text_add(t, ", CI low at or above the %g%% critical threshold", o->critical_pct);
        }
        return;
    case TP_V_HIGH:
        add_summary(t, s, o);
        text_add(t, ", above the ");
        add_margin(t, s, o);
        text_add(t, " margin");
        return;
    case TP_V_LOW:
        add_summary(t, s, o);
        text_add(t, ", beyond the ");
        add_margin(t, s, o);
        text_add(t, " margin");
        return;
    case TP_V_PASS:
        text_add(t, "within the ");
        add_margin(t, s, o);
        text_add(t, " margin: CI upper bound %s (", fmt_pct(hi, sizeof hi, s->ci_high_pct));
        add_headline(t, s);
        text_add(t, ", ");
        add_details(t, s, o);
        text_add(t, ")");
        return;
    case TP_V_INCONCLUSIVE:
    default:
        break;
    }
    if (small_sample(s, o->alpha)) {
        add_guard(t, s, o->alpha);
    } else if (latency_class(s, o, 0) != TP_V_PASS && latency_class(s, o, 0) != lat) {
        /* the interval alone would decide: only significance is missing */
        text_add(t, "not significant at %g: ", o->alpha);
        add_summary(t, s, o);
    } else if (!conf_reached(s, o) && s->ci_high_pct < s->margin_pct) {
        text_add(t, "not enough evidence: the data reach only %s confidence (",
                 fmt_pct(c, sizeof c, 100 * s->ci_conf));
        add_summary(t, s, o);
        text_add(t, ")");
    } else {
        char lo[24];
        text_add(t, "not enough evidence: CI %s to %s straddles the ",
                 fmt_pct(lo, sizeof lo, s->ci_low_pct), fmt_pct(hi, sizeof hi, s->ci_high_pct));
        add_margin(t, s, o);
        text_add(t, " margin (");
        add_headline(t, s);
        text_add(t, ", ");
        add_p(t, s);
        text_add(t, ", ");
        add_n(t, s);
        text_add(t, ")");
    }
}

/* Sets verdict and reason from the numbers, with p_adj as the significance. */
static void decide(struct tp_step_verdict *s, const struct tp_verdict_opts *o)
{
    struct text t;
    enum tp_verdict lat = latency_class(s, o, s->p_adj);
    enum tp_verdict before = latency_class(s, o, s->p);

    s->verdict = final_class(s, o, lat);
    text_init(&t, s->reason, sizeof s->reason);
    if (s->verdict != lat) {
        add_errors(&t, s);
        text_add(&t, "; latency alone %s: ", tp_verdict_name(lat));
    }
    add_latency_reason(&t, s, o, lat);
    if (before != lat) {
        char a[16];
        text_add(&t, "; %s before Holm's correction across the run's steps (adj p %s > %g)",
                 tp_verdict_name(before), fmt_p(a, sizeof a, s->p_adj), o->alpha);
    }
    if (s->verdict == lat && lat != TP_V_NODATA && (s->cand_errors > 0 || s->base_errors > 0)) {
        text_add(&t, "; ");
        add_errors(&t, s);
    }
    if (s->mismatches > 0 && !critical_mismatch(s))
        text_add(&t, "; %zu functional mismatch%s (reported separately)", s->mismatches,
                 s->mismatches == 1 ? "" : "es");
}

/* ---- the step */

static const char *method_name(int paired, enum tp_stats_method m)
{
    if (m == TP_STATS_EXACT)
        return paired ? "signed-rank exact" : "mann-whitney exact";
    if (m == TP_STATS_NORMAL)
        return paired ? "signed-rank normal" : "mann-whitney normal";
    return "none";
}

double tp_verdict_margin_pct(const struct tp_verdict_opts *opts, double base_median_ms)
{
    if (isnan(base_median_ms))
        return opts->margin_pct;
    return fmax(opts->margin_pct, 100 * opts->margin_ms / fmax(base_median_ms, MIN_MS));
}

tp_err tp_verdict_step(const struct tp_latency_input *in, const struct tp_verdict_opts *opts,
                       struct tp_step_verdict *out, struct tp_error *err)
{
    static const struct tp_verdict_opts defaults = TP_VERDICT_OPTS_INIT;
    struct tp_stats_opts so = TP_STATS_OPTS_INIT;
    struct tp_stats_test test;
    struct tp_stats_interval iv;
    struct tp_stats_fisher fisher;
    double *x = NULL, *y = NULL, *scratch = NULL;
    size_t i, nx, ny, most;
    tp_err rc;

    if (!out)
        return tp_error_set(err, TP_ERR_INVALID, "verdict: out is NULL");
    step_reset(out);
    if (!in)
        return tp_error_set(err, TP_ERR_INVALID, "verdict: input is NULL");
    if (!opts)
        opts = &defaults;
    if ((rc = check_opts(opts, err)) ||
        (rc = check_side(in->base_ms, in->n_base, "base_ms", err)) ||
        (rc = check_side(in->cand_ms, in->n_cand, "cand_ms", err)))
        return rc;
    if (in->paired && in->n_base != in->n_cand)
        return tp_error_set(err, TP_ERR_INVALID,
                            "verdict: paired samples differ in length (%zu baseline, %zu "
                            "candidate)",
                            in->n_base, in->n_cand);

    out->paired = in->paired != 0;
    out->critical_step = in->critical_step != 0;
    out->mismatches = in->mismatches;
    out->n_base_runs = in->n_base;
    out->n_cand_runs = in->n_cand;
    out->n = in->paired ? in->n_base : in->n_base + in->n_cand;
    out->base_errors = count_failed(in->base_ms, in->n_base);
    out->cand_errors = count_failed(in->cand_ms, in->n_cand);

    most = in->n_base > in->n_cand ? in->n_base : in->n_cand;
    scratch = malloc((most + 1) * sizeof *scratch);
    x = malloc((in->n_cand + 1) * sizeof *x);
    y = malloc((in->n_base + 1) * sizeof *y);
    if (!scratch || !x || !y) {
        rc = tp_error_set(err, TP_ERR_NOMEM, "verdict: out of memory");
        goto done;
    }
    if ((rc = completed_quantiles(in->base_ms, in->n_base, scratch, &out->base_median_ms,
                                  &out->base_p95_ms, err)) ||
        (rc = completed_quantiles(in->cand_ms, in->n_cand, scratch, &out->cand_median_ms,
                                  &out->cand_p95_ms, err)))
        goto done;
    out->margin_pct = tp_verdict_margin_pct(opts, out->base_median_ms);
    rc = tp_stats_fisher(out->cand_errors, in->n_cand - out->cand_errors, out->base_errors,
                         in->n_base - out->base_errors, &fisher, err);
    if (rc)
        goto done;
    out->errors_p = fisher.p_two_sided;

    if (!is_nodata(out)) {
        so.conf = opts->confidence;
        if (in->paired) {
            for (i = 0; i < in->n_cand; i++) {
                double c = in->cand_ms[i], b = in->base_ms[i];
                if (isinf(c) && isinf(b))
                    x[i] = 0; /* both failed: a tie */
                else
                    x[i] = log_ms(c) - log_ms(b);
                out->n_tied += x[i] == 0;
            }
            nx = in->n_cand;
            if ((rc = tp_stats_wilcoxon(x, nx, &so, &test, err)) ||
                (rc = tp_stats_wilcoxon_hl(x, nx, &so, &iv, err)))
                goto done;
        } else {
            for (i = 0; i < in->n_cand; i++)
                x[i] = log_ms(in->cand_ms[i]);
            for (i = 0; i < in->n_base; i++)
                y[i] = log_ms(in->base_ms[i]);
            nx = in->n_cand;
            ny = in->n_base;
            if ((rc = tp_stats_mwu(x, nx, y, ny, &so, &test, err)) ||
                (rc = tp_stats_mwu_hl(x, nx, y, ny, &so, &iv, err)))
                goto done;
        }
        out->method = method_name(out->paired, test.method);
        out->statistic = test.statistic;
        out->p = out->p_adj = test.p_two_sided;
        out->delta_pct = to_pct(iv.estimate);
        out->ci_low_pct = to_pct(iv.low);
        out->ci_high_pct = to_pct(iv.high);
        out->ci_low_open = iv.low_open;
        out->ci_high_open = iv.high_open;
        out->ci_conf = iv.conf;
    }
    decide(out, opts);
done:
    free(scratch);
    free(x);
    free(y);
    if (rc)
        step_reset(out);
    return rc;
}

/* ---- Holm across a run's steps */

tp_err tp_verdict_holm(struct tp_step_verdict *steps, size_t n, const struct tp_verdict_opts *opts,
                       struct tp_error *err)
{
    static const struct tp_verdict_opts defaults = TP_VERDICT_OPTS_INIT;
    double *p = NULL;
    size_t i, m = 0;
    tp_err rc;

    if (n == 0)
        return TP_OK;
    if (!steps)
        return tp_error_set(err, TP_ERR_INVALID, "verdict: steps is NULL");
    if (!opts)
        opts = &defaults;
    if ((rc = check_opts(opts, err)))
        return rc;
    p = malloc(n * sizeof *p);
    if (!p)
        return tp_error_set(err, TP_ERR_NOMEM, "verdict: out of memory");
    for (i = 0; i < n; i++)
        if (steps[i].verdict != TP_V_NODATA)
            p[m++] = steps[i].p;
    rc = tp_stats_holm(p, m, p, err);
    if (rc)
        goto done;
    for (i = 0, m = 0; i < n; i++) {
        if (steps[i].verdict == TP_V_NODATA)
            continue;
        steps[i].p_adj = p[m++];
        decide(&steps[i], opts);
    }
done:
    free(p);
    return rc;
}

/* ---- the journey */

/* CRITICAL > HIGH > INCONCLUSIVE > LOW > PASS > NODATA */
static int severity(enum tp_verdict v)
{
    switch (v) {
    case TP_V_CRITICAL:
        return 5;
    case TP_V_HIGH:
        return 4;
    case TP_V_INCONCLUSIVE:
        return 3;
    case TP_V_LOW:
        return 2;
    case TP_V_PASS:
        return 1;
    case TP_V_NODATA:
    default:
        return 0;
    }
}

static const char *score_class_name(enum tp_score_class c)
{
    return c == TP_SCORE_PASS ? "pass" : c == TP_SCORE_MARGINAL ? "marginal" : "fail";
}

void tp_verdict_journey(const struct tp_step_verdict *steps, const char *const *names, size_t n,
                        const struct tp_verdict_opts *opts, struct tp_journey_verdict *out)
{
    static const struct tp_verdict_opts defaults = TP_VERDICT_OPTS_INIT;
    size_t i, pass = 0, scored = 0, critical = 0, left_out = 0;
    char idx[32];
    const char *name;
    struct text t;

    if (!out)
        return;
    memset(out, 0, sizeof *out);
    out->verdict = TP_V_NODATA;
    out->score = NAN;
    out->score_class = TP_SCORE_FAIL;
    text_init(&t, out->reason, sizeof out->reason);
    if (!opts)
        opts = &defaults;
    if (!steps || n == 0) {
        text_add(&t, "NODATA: the journey has no steps");
        return;
    }
    for (i = 0; i < n; i++) {
        enum tp_verdict v = steps[i].verdict;
        pass += v == TP_V_PASS;
        scored += v == TP_V_PASS || v == TP_V_HIGH || v == TP_V_LOW;
        critical += v == TP_V_CRITICAL;
        left_out += v == TP_V_INCONCLUSIVE || v == TP_V_NODATA;
        if (severity(v) > severity(steps[out->worst_step].verdict))
            out->worst_step = i;
    }
    out->verdict = steps[out->worst_step].verdict;
    if (critical > 0)
        out->score = 0;
    else if (scored > 0)
        out->score = 100.0 * (double)pass / (double)scored;
    if (out->score >= opts->pass_score)
        out->score_class = TP_SCORE_PASS;
    else if (out->score >= opts->marginal_score)
        out->score_class = TP_SCORE_MARGINAL;

    name = names ? names[out->worst_step] : NULL;
    if (!name) {
        snprintf(idx, sizeof idx, "#%zu", out->worst_step);
        name = idx;
    }
    if (out->verdict == TP_V_NODATA) {
        text_add(&t, "NODATA: no step had samples to compare");
        return;
    }
    if (out->verdict == TP_V_PASS)
        text_add(&t, "PASS: every step with data is within its margin; ");
    else
        text_add(&t, "%s at step '%s': %s; ", tp_verdict_name(out->verdict), name,
                 steps[out->worst_step].reason);
    if (critical > 0)
        text_add(&t, "score 0 (%zu CRITICAL step%s)", critical, critical == 1 ? "" : "s");
    else if (scored == 0)
        text_add(&t, "no score (no step was PASS, HIGH or LOW)");
    else
        text_add(&t, "score %.2f (%zu of %zu PASS/HIGH/LOW steps pass): %s", out->score, pass,
                 scored, score_class_name(out->score_class));
    if (left_out > 0)
        text_add(&t, "; %zu INCONCLUSIVE or NODATA step%s left out", left_out,
                 left_out == 1 ? "" : "s");
}
