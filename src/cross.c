/* The cross-region verdict: steps entries pooled per journey x step x location,
 * judged with confidence sequences, combined across locations (cross.h). */
#include "twinprobe/cross.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "twinprobe/stats.h"

#define MAX_MORE_PAIRS ((size_t)100000000) /* beyond this, "no number of rounds" */

/* One step's pairs at one location. */
struct tp_cross_samples {
    double *base, *cand; /* ms, +inf for a failed side */
    size_t n, cap;
    struct tp_cseq cs;
    char *last_run;      /* the run of the last pair: runs are contiguous in a stream */
    size_t runs, errors, base_errors, mismatches;
    struct tp_cross_point *pts; /* the series, <= TP_CROSS_MAX_POINTS */
    size_t npts, stride, timed;  /* keep every stride-th timed pair; timed pairs seen */
};

struct tp_cross_result *tp_cross_create(void)
{
    return calloc(1, sizeof(struct tp_cross_result));
}

static void samples_clear(struct tp_cross_samples *s)
{
    free(s->base);
    free(s->cand);
    free(s->last_run);
    free(s->pts);
}

void tp_cross_free(struct tp_cross_result *x)
{
    if (!x)
        return;
    for (size_t j = 0; j < x->njourneys; j++) {
        struct tp_cross_journey *jr = &x->journeys[j];
        for (size_t s = 0; s < jr->nsteps; s++) {
            for (size_t l = 0; l < jr->steps[s].nsamples; l++)
                samples_clear(&jr->steps[s].samples[l]);
            free(jr->steps[s].samples);
            for (size_t d = 0; d < jr->steps[s].ndiffs; d++)
                free(jr->steps[s].diffs[d].diff);
            free(jr->steps[s].diffs);
            free(jr->steps[s].cells);
            free(jr->steps[s].name);
        }
        free(jr->steps);
        free(jr->name);
    }
    for (size_t l = 0; l < x->nlocations; l++)
        free(x->locations[l]);
    free(x->locations);
    free(x->journeys);
    free(x);
}

static int grow(void **p, size_t *cap, size_t need, size_t size)
{
    size_t n = *cap ? *cap : 4;
    void *q;
    if (need <= *cap)
        return 0;
    while (n < need)
        n *= 2;
    if (!(q = realloc(*p, n * size)))
        return -1;
    memset((char *)q + *cap * size, 0, (n - *cap) * size);
    *p = q;
    *cap = n;
    return 0;
}

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

/* The index of location (added when new); SIZE_MAX on no memory. */
static size_t location_index(struct tp_cross_result *x, const char *location)
{
    for (size_t l = 0; l < x->nlocations; l++)
        if (strcmp(x->locations[l], location) == 0)
            return l;
    if (grow((void **)&x->locations, &x->loc_cap, x->nlocations + 1, sizeof *x->locations) != 0 ||
        !(x->locations[x->nlocations] = dup_str(location)))
        return SIZE_MAX;
    return x->nlocations++;
}

/* The samples of step st at location loc (the array grown to hold it), or NULL. */
static struct tp_cross_samples *samples_at(struct tp_cross_step *st, size_t loc)
{
    if (grow((void **)&st->samples, &st->nsamples, loc + 1, sizeof *st->samples) != 0)
        return NULL;
    return &st->samples[loc];
}

/* Room for one more pair. */
static int grow_pairs(struct tp_cross_samples *s)
{
    size_t cap = s->cap ? 2 * s->cap : 16;
    double *b, *c;
    if (s->n < s->cap)
        return 0;
    if (!(b = realloc(s->base, cap * sizeof *b)))
        return -1;
    s->base = b;
    if (!(c = realloc(s->cand, cap * sizeof *c)))
        return -1;
    s->cand = c;
    s->cap = cap;
    return 0;
}

static struct tp_cross_journey *journey_of(struct tp_cross_result *x, const char *name)
{
    struct tp_cross_journey *j;
    for (size_t i = 0; i < x->njourneys; i++)
        if (strcmp(x->journeys[i].name, name) == 0)
            return &x->journeys[i];
    if (grow((void **)&x->journeys, &x->cap, x->njourneys + 1, sizeof *x->journeys) != 0)
        return NULL;
    j = &x->journeys[x->njourneys];
    if (!(j->name = dup_str(name)))
        return NULL;
    x->njourneys++;
    return j;
}

static struct tp_cross_step *step_of(struct tp_cross_result *x, struct tp_cross_journey *j,
                                     const char *name)
{
    struct tp_cross_step *s;
    for (size_t i = 0; i < j->nsteps; i++)
        if (strcmp(j->steps[i].name, name) == 0)
            return &j->steps[i];
    if (grow((void **)&j->steps, &j->cap, j->nsteps + 1, sizeof *j->steps) != 0)
        return NULL;
    s = &j->steps[j->nsteps];
    (void)x;
    if (!(s->name = dup_str(name)))
        return NULL;
    j->nsteps++;
    return s;
}

static const char *field(const char *const *names, const char *const *values, size_t n,
                         const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (names[i] && strcmp(names[i], name) == 0)
            return values[i] ? values[i] : "";
    return NULL;
}

/* "" -> NaN (skipped); otherwise a finite ms >= 0, or -1 when not a number. */
static double parse_ms(const char *v)
{
    char *end;
    double d;
    if (!*v)
        return NAN;
    errno = 0;
    d = strtod(v, &end);
    if (*end || errno || !isfinite(d) || d < 0)
        return -1;
    return d;
}

static int parse_flag(const char *v)
{
    return strcmp(v, "1") == 0 ? 1 : strcmp(v, "0") == 0 ? 0 : -1;
}

static double log_ratio(double base, double cand)
{
    if (isinf(base) && isinf(cand))
        return 0;
    return log(cand > 0.001 ? cand : 0.001) - log(base > 0.001 ? base : 0.001);
}

/* One more timed pair for the series: kept when it falls on the stride. */
static int add_point(struct tp_cross_samples *s, int64_t at_ms, double base, double cand)
{
    if (s->stride == 0)
        s->stride = 1;
    if (s->timed++ % s->stride != 0)
        return 0;
    if (!s->pts && !(s->pts = malloc(TP_CROSS_MAX_POINTS * sizeof *s->pts)))
        return -1;
    if (s->npts == TP_CROSS_MAX_POINTS) {
        size_t k = 0;
        for (size_t i = 0; i < s->npts; i += 2)
            s->pts[k++] = s->pts[i];
        s->npts = k;
        s->stride *= 2;
        if ((s->timed - 1) % s->stride != 0)
            return 0;
    }
    s->pts[s->npts++] = (struct tp_cross_point){at_ms, base, cand};
    return 0;
}

/* Counts a mismatch's diff at loc: a known one, a new one, or a dropped one. */
static int add_diff(struct tp_cross_step *st, size_t loc, const char *diff)
{
    struct tp_cross_diff *d;
    for (size_t i = 0; i < st->ndiffs; i++)
        if (st->diffs[i].location == loc && strcmp(st->diffs[i].diff, diff) == 0) {
            st->diffs[i].count++;
            return 0;
        }
    if (st->ndiffs == TP_CROSS_MAX_DIFFS) {
        st->diffs_dropped++;
        return 0;
    }
    if (!st->diffs && !(st->diffs = calloc(TP_CROSS_MAX_DIFFS, sizeof *st->diffs)))
        return -1;
    d = &st->diffs[st->ndiffs];
    if (!(d->diff = dup_str(diff)))
        return -1;
    d->location = loc;
    d->count = 1;
    st->ndiffs++;
    return 0;
}

size_t tp_cross_series(const struct tp_cross_step *st, size_t loc,
                       const struct tp_cross_point **points)
{
    if (loc >= st->nsamples || st->samples[loc].npts == 0) {
        *points = NULL;
        return 0;
    }
    *points = st->samples[loc].pts;
    return st->samples[loc].npts;
}

tp_err tp_cross_add(struct tp_cross_result *x, const char *location, const char *journey,
                    const char *const *names, const char *const *values, size_t n,
                    struct tp_error *err)
{
    return tp_cross_add_at(x, location, journey, -1, names, values, n, err);
}

tp_err tp_cross_add_at(struct tp_cross_result *x, const char *location, const char *journey,
                       int64_t at_ms, const char *const *names, const char *const *values,
                       size_t n, struct tp_error *err)
{
    const char *diff;
    static const char *const need[] = {"run",     "step",   "cand",  "base_ok",
                                       "cand_ok", "base_ms", "cand_ms", "match"};
    const char *v[sizeof need / sizeof need[0]];
    double bms, cms;
    int bok, cok, match;
    struct tp_cross_journey *j;
    struct tp_cross_step *st;
    struct tp_cross_samples *s;
    size_t loc;

    for (size_t i = 0; i < sizeof need / sizeof need[0]; i++)
        if (!(v[i] = field(names, values, n, need[i]))) {
            x->skipped++;
            return tp_error_set(err, TP_ERR_INVALID, "no field %s", need[i]);
        }
    if (!*v[2])
        return TP_OK; /* plain monitoring: nothing to compare */
    bms = parse_ms(v[5]);
    cms = parse_ms(v[6]);
    bok = parse_flag(v[3]);
    cok = parse_flag(v[4]);
    match = parse_flag(v[7]);
    if (bms < 0 || cms < 0 || bok < 0 || cok < 0 || match < 0 || !*v[1]) {
        x->skipped++;
        return tp_error_set(err, TP_ERR_INVALID, "bad %s",
                            bms < 0 ? "base_ms" : cms < 0 ? "cand_ms" : bok < 0 ? "base_ok"
                            : cok < 0 ? "cand_ok" : match < 0 ? "match" : "step (empty)");
    }
    if (!(j = journey_of(x, journey)) || (loc = location_index(x, location)) == SIZE_MAX ||
        !(st = step_of(x, j, v[1])))
        return tp_error_set(err, TP_ERR_NOMEM, "out of memory");
    x->entries++;
    if (isnan(bms) || isnan(cms))
        return TP_OK; /* a side did not run: the pair is dropped, as in a run */
    if (!(s = samples_at(st, loc)))
        return tp_error_set(err, TP_ERR_NOMEM, "out of memory");
    if (s->n == TP_CROSS_MAX_PAIRS)
        return tp_error_set(err, TP_ERR_LIMIT, "more than %zu rounds of step %s at %s",
                            TP_CROSS_MAX_PAIRS, v[1], location);
    if (grow_pairs(s) != 0)
        return tp_error_set(err, TP_ERR_NOMEM, "out of memory");
    if (!s->last_run || strcmp(s->last_run, v[0]) != 0) {
        char *r = dup_str(v[0]);
        if (!r)
            return tp_error_set(err, TP_ERR_NOMEM, "out of memory");
        free(s->last_run);
        s->last_run = r;
        s->runs++;
    }
    s->base[s->n] = bok ? bms : INFINITY;
    s->cand[s->n] = cok ? cms : INFINITY;
    tp_cseq_add(&s->cs, log_ratio(s->base[s->n], s->cand[s->n]));
    s->n++;
    s->errors += !cok;
    s->base_errors += !bok;
    s->mismatches += !match;
    if (at_ms >= 0 && add_point(s, at_ms, s->base[s->n - 1], s->cand[s->n - 1]) != 0)
        return tp_error_set(err, TP_ERR_NOMEM, "out of memory");
    if (!match && (diff = field(names, values, n, "diff")) && *diff && add_diff(st, loc, diff) != 0)
        return tp_error_set(err, TP_ERR_NOMEM, "out of memory");
    return TP_OK;
}

enum tp_cross_rule tp_cross_combine(const enum tp_verdict *v, size_t n, enum tp_verdict pooled)
{
    size_t high = 0, low = 0, pass = 0, crit = 0, data = 0;
    for (size_t l = 0; l < n; l++) {
        data += v[l] != TP_V_NODATA;
        crit += v[l] == TP_V_CRITICAL;
        high += v[l] == TP_V_HIGH;
        low += v[l] == TP_V_LOW;
        pass += v[l] == TP_V_PASS;
    }
    if (data == 0)
        return TP_CROSS_NODATA;
    if (crit > 0)
        return TP_CROSS_CRITICAL;
    if (high >= 2)
        return TP_CROSS_HIGH;
    if (pooled == TP_V_HIGH && low == 0)
        return TP_CROSS_POOLED_HIGH;
    if (high == 1)
        return TP_CROSS_REGIONAL;
    if (pass == data)
        return TP_CROSS_PASS;
    if (pass + low == data)
        return TP_CROSS_LOW;
    return TP_CROSS_INCONCLUSIVE;
}

enum tp_verdict tp_cross_rule_verdict(enum tp_cross_rule rule)
{
    static const enum tp_verdict verdicts[] = {
        [TP_CROSS_NODATA] = TP_V_NODATA,          [TP_CROSS_CRITICAL] = TP_V_CRITICAL,
        [TP_CROSS_HIGH] = TP_V_HIGH,              [TP_CROSS_POOLED_HIGH] = TP_V_HIGH,
        [TP_CROSS_REGIONAL] = TP_V_HIGH,          [TP_CROSS_PASS] = TP_V_PASS,
        [TP_CROSS_LOW] = TP_V_LOW,                [TP_CROSS_INCONCLUSIVE] = TP_V_INCONCLUSIVE};
    return verdicts[rule];
}

const char *tp_cross_verdict_name(enum tp_verdict v, int regional)
{
    return regional && v == TP_V_HIGH ? "REGIONAL" : tp_verdict_name(v);
}

static double pct(double log_ratio)
{
    return 100.0 * expm1(log_ratio);
}

/* Median of the completed (finite) values of v[0..n); NaN when none. */
static tp_err finite_median(const double *v, size_t n, double *out, struct tp_error *err)
{
    double *f = malloc((n + 1) * sizeof *f);
    size_t k = 0;
    tp_err rc;
    if (!f)
        return tp_error_set(err, TP_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        if (isfinite(v[i]))
            f[k++] = v[i];
    rc = tp_stats_median(f, k, f, out, err);
    free(f);
    return rc;
}

/* The verdict of an interval against the margins (log scale), as a run's rules. */
static enum tp_verdict classify(const struct tp_cseq_interval *ci, double margin, double critical,
                                double alpha)
{
    if (ci->n == 0)
        return TP_V_NODATA;
    if (!tp_stats_wilcoxon_can_reject(ci->n, alpha))
        return TP_V_INCONCLUSIVE;
    if (ci->low >= critical && ci->centre >= margin) /* a HIGH made worse, as in a run */
        return TP_V_CRITICAL;
    if (ci->low > 0 && ci->centre >= margin)
        return TP_V_HIGH;
    if (ci->high < 0 && ci->centre <= -margin)
        return TP_V_LOW;
    if (ci->high < margin)
        return TP_V_PASS;
    return TP_V_INCONCLUSIVE;
}

static tp_err judge_cell(const struct tp_cross_samples *s, const struct tp_verdict_opts *o,
                         struct tp_cross_cell *c, struct tp_error *err)
{
    double alpha = 1.0 - o->confidence;
    struct tp_cseq_interval ci;
    tp_err rc;

    memset(c, 0, sizeof *c);
    c->base_median_ms = c->cand_median_ms = NAN;
    c->delta_pct = c->ci_low_pct = c->ci_high_pct = c->sigma = NAN;
    c->margin_pct = o->margin_pct;
    c->verdict = TP_V_NODATA;
    if (!s || s->n == 0) {
        snprintf(c->reason, sizeof c->reason, "no rounds in the window");
        return TP_OK;
    }
    if ((rc = finite_median(s->base, s->n, &c->base_median_ms, err)) != TP_OK ||
        (rc = finite_median(s->cand, s->n, &c->cand_median_ms, err)) != TP_OK)
        return rc;
    c->runs = s->runs;
    c->rounds = s->n;
    c->errors = s->errors;
    c->base_errors = s->base_errors;
    c->mismatches = s->mismatches;
    c->margin_pct = tp_verdict_margin_pct(o, c->base_median_ms);
    tp_cseq_interval(&s->cs, alpha, &ci);
    c->sigma = ci.sigma;
    c->delta_pct = pct(ci.centre);
    c->ci_low_pct = pct(ci.low);
    c->ci_high_pct = pct(ci.high);
    c->verdict = classify(&ci, log1p(c->margin_pct / 100.0), log1p(o->critical_pct / 100.0),
                          alpha);
    if (c->verdict == TP_V_INCONCLUSIVE && !tp_stats_wilcoxon_can_reject(ci.n, alpha))
        snprintf(c->reason, sizeof c->reason,
                 "%zu round%s: too few for any test to decide at alpha %.3g", ci.n,
                 ci.n == 1 ? "" : "s", alpha);
    else
        snprintf(c->reason, sizeof c->reason,
                 "%s: delta %+.1f%% [%+.1f%%, %+.1f%%] over %zu rounds of %zu runs, margin %.1f%%",
                 tp_verdict_name(c->verdict), c->delta_pct, c->ci_low_pct, c->ci_high_pct, ci.n,
                 s->runs, c->margin_pct);
    return TP_OK;
}

/* Appends to buf what would decide cell c (an INCONCLUSIVE location). */
static void what_decides(const struct tp_cross_cell *c, const char *location, double alpha,
                         char *buf, size_t size)
{
    size_t used = strlen(buf), pairs;
    double m = log1p(c->delta_pct / 100.0), margin = log1p(c->margin_pct / 100.0);
    double need = m >= margin ? m : margin - m; /* HIGH needs low > 0, PASS high < margin */

    if (used >= size)
        return;
    if (!tp_stats_wilcoxon_can_reject(c->rounds, alpha)) {
        snprintf(buf + used, size - used, "%s%s: at least %zu more rounds", used ? "; " : "",
                 location, (size_t)6 - c->rounds);
        return;
    }
    pairs = tp_cseq_pairs_for(c->sigma, need, alpha, c->rounds + 1, MAX_MORE_PAIRS);
    if (pairs == 0)
        snprintf(buf + used, size - used, "%s%s: delta %+.1f%% sits on the %.1f%% margin",
                 used ? "; " : "", location, c->delta_pct, c->margin_pct);
    else
        snprintf(buf + used, size - used,
                 "%s%s: about %zu more rounds at the spread seen (sd %.1f%%, delta %+.1f%%)",
                 used ? "; " : "", location, pairs - c->rounds, 100.0 * c->sigma, c->delta_pct);
}

/* The locations whose cell is v, comma separated, into buf. */
static const char *names_with(const struct tp_cross_result *x, const struct tp_cross_step *st,
                              enum tp_verdict v, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t l = 0; l < x->nlocations && used < size; l++)
        if (st->cells[l].verdict == v) {
            int n = snprintf(buf + used, size - used, "%s%s", used ? ", " : "", x->locations[l]);
            used += n > 0 ? (size_t)n : 0;
        }
    return buf;
}

static tp_err judge_step(struct tp_cross_result *x, struct tp_cross_step *st,
                         const struct tp_verdict_opts *o, struct tp_error *err)
{
    size_t nl = x->nlocations, high = 0, data = 0, hi_loc = 0;
    double alpha = 1.0 - o->confidence, *all = NULL, base_median = NAN;
    struct tp_cseq pooled = {0, 0, 0};
    struct tp_cseq_interval ci;
    enum tp_verdict pv;
    size_t total = 0, k = 0;
    char decide[400] = "";
    enum tp_verdict *verdicts;
    enum tp_cross_rule rule;
    tp_err rc = TP_OK;

    free(st->cells);
    if (!(st->cells = calloc(nl + 1, sizeof *st->cells)))
        return tp_error_set(err, TP_ERR_NOMEM, "out of memory");
    for (size_t l = 0; l < nl; l++) {
        const struct tp_cross_samples *s = l < st->nsamples ? &st->samples[l] : NULL;
        struct tp_cross_cell *c = &st->cells[l];
        if ((rc = judge_cell(s, o, c, err)) != TP_OK)
            return rc;
        if (s) {
            tp_cseq_merge(&pooled, &s->cs);
            total += s->n;
        }
        data += c->verdict != TP_V_NODATA;
        if (c->verdict == TP_V_HIGH) {
            high++;
            hi_loc = l;
        }
    }
    /* the pooled evidence: every location's pairs, the margin at the pooled baseline median */
    if (total > 0) {
        if (!(all = malloc(total * sizeof *all)))
            return tp_error_set(err, TP_ERR_NOMEM, "out of memory");
        for (size_t l = 0; l < st->nsamples; l++)
            for (size_t i = 0; i < st->samples[l].n; i++)
                all[k++] = st->samples[l].base[i];
        rc = finite_median(all, total, &base_median, err);
        free(all);
        if (rc != TP_OK)
            return rc;
    }
    tp_cseq_interval(&pooled, alpha, &ci);
    pv = classify(&ci, log1p(tp_verdict_margin_pct(o, base_median) / 100.0),
                  log1p(o->critical_pct / 100.0), alpha);
    st->delta_pct = pct(ci.centre);
    st->ci_low_pct = pct(ci.low);
    st->ci_high_pct = pct(ci.high);
    if (!(verdicts = calloc(nl + 1, sizeof *verdicts)))
        return tp_error_set(err, TP_ERR_NOMEM, "out of memory");
    for (size_t l = 0; l < nl; l++)
        verdicts[l] = st->cells[l].verdict;
    rule = tp_cross_combine(verdicts, nl, pv);
    free(verdicts);
    st->verdict = tp_cross_rule_verdict(rule);
    st->regional = rule == TP_CROSS_REGIONAL;
    switch (rule) {
    case TP_CROSS_NODATA:
        snprintf(st->reason, sizeof st->reason, "no rounds of this step in the window");
        break;
    case TP_CROSS_CRITICAL:
        snprintf(st->reason, sizeof st->reason, "CRITICAL in %s",
                 names_with(x, st, TP_V_CRITICAL, decide, sizeof decide));
        break;
    case TP_CROSS_HIGH:
        snprintf(st->reason, sizeof st->reason, "HIGH in %zu of %zu locations with data: %s",
                 high, data, names_with(x, st, TP_V_HIGH, decide, sizeof decide));
        break;
    case TP_CROSS_POOLED_HIGH:
        snprintf(st->reason, sizeof st->reason,
                 "the pooled evidence of %zu locations is HIGH: delta %+.1f%% [%+.1f%%, %+.1f%%], "
                 "none LOW", data, st->delta_pct, st->ci_low_pct, st->ci_high_pct);
        break;
    case TP_CROSS_REGIONAL:
        st->regional_location = hi_loc;
        snprintf(st->reason, sizeof st->reason, "HIGH in %s only: delta %+.1f%% [%+.1f%%, %+.1f%%]",
                 x->locations[hi_loc], st->cells[hi_loc].delta_pct, st->cells[hi_loc].ci_low_pct,
                 st->cells[hi_loc].ci_high_pct);
        break;
    case TP_CROSS_PASS:
        snprintf(st->reason, sizeof st->reason, "PASS in every location with data (%zu)", data);
        break;
    case TP_CROSS_LOW:
        snprintf(st->reason, sizeof st->reason, "LOW in %s, PASS in the rest",
                 names_with(x, st, TP_V_LOW, decide, sizeof decide));
        break;
    case TP_CROSS_INCONCLUSIVE:
        for (size_t l = 0; l < nl; l++)
            if (st->cells[l].verdict == TP_V_INCONCLUSIVE)
                what_decides(&st->cells[l], x->locations[l], alpha, decide, sizeof decide);
        snprintf(st->reason, sizeof st->reason, "undecided: %s", decide);
        break;
    }
    return TP_OK;
}

tp_err tp_cross_judge(struct tp_cross_result *x, const struct tp_verdict_opts *opts,
                      struct tp_error *err)
{
    struct tp_verdict_opts o = TP_VERDICT_OPTS_INIT;
    if (opts)
        o = *opts;
    for (size_t j = 0; j < x->njourneys; j++) {
        struct tp_cross_journey *jr = &x->journeys[j];
        struct tp_step_verdict *sv = calloc(jr->nsteps + 1, sizeof *sv);
        const char **names = calloc(jr->nsteps + 1, sizeof *names);
        struct tp_journey_verdict jv;
        int plain_high = 0;
        tp_err rc = TP_OK;

        if (!sv || !names) {
            free(sv);
            free(names);
            return tp_error_set(err, TP_ERR_NOMEM, "out of memory");
        }
        for (size_t s = 0; rc == TP_OK && s < jr->nsteps; s++) {
            rc = judge_step(x, &jr->steps[s], &o, err);
            sv[s].verdict = jr->steps[s].verdict;
            snprintf(sv[s].reason, sizeof sv[s].reason, "%.300s", jr->steps[s].reason);
            names[s] = jr->steps[s].name;
            plain_high |= jr->steps[s].verdict == TP_V_HIGH && !jr->steps[s].regional;
        }
        if (rc == TP_OK) {
            tp_verdict_journey(sv, names, jr->nsteps, &o, &jv);
            jr->verdict = jv.verdict;
            jr->regional = jv.verdict == TP_V_HIGH && !plain_high;
            jr->score = jv.score;
            snprintf(jr->reason, sizeof jr->reason, "%s", jv.reason);
        }
        free(sv);
        free(names);
        if (rc != TP_OK)
            return rc;
    }
    return TP_OK;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian; H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
    int64_t era, yoe, doy, doe;
    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* Reads exactly width digits at *p into *v. */
static int digits(const char **p, int width, int64_t *v)
{
    *v = 0;
    for (int i = 0; i < width; i++, (*p)++) {
        if (**p < '0' || **p > '9')
            return -1;
        *v = *v * 10 + (**p - '0');
    }
    return 0;
}

tp_err tp_cross_parse_time(const char *s, int64_t now_ms, int durations, int64_t *out,
                           struct tp_error *err)
{
    const char *p = s;
    int64_t y, mo, d, h, mi, sec = 0;
    size_t n = strspn(s, "0123456789");

    if (n > 0 && n < 13 && s[n] && !s[n + 1] && strchr("smhd", s[n]) && durations) {
        static const int64_t unit[] = {1000, 60000, 3600000, 86400000};
        int64_t v = 0;
        for (size_t i = 0; i < n; i++)
            v = v * 10 + (s[i] - '0');
        *out = now_ms - v * unit[strchr("smhd", s[n]) - "smhd"];
        return TP_OK;
    }
    if (n >= 13 && n <= 16 && !s[n]) {
        int64_t v = 0;
        for (size_t i = 0; i < n; i++)
            v = v * 10 + (s[i] - '0');
        *out = v;
        return TP_OK;
    }
    if (digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) || *p++ != '-' ||
        digits(&p, 2, &d) || (*p != 'T' && *p != ' ') || !*p++ || digits(&p, 2, &h) ||
        *p++ != ':' || digits(&p, 2, &mi))
        goto bad;
    if (*p == ':') {
        p++;
        if (digits(&p, 2, &sec))
            goto bad;
    }
    if (*p == 'Z')
        p++;
    if (*p || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        goto bad;
    *out = ((days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * 60000 + sec * 1000;
    return TP_OK;
bad:
    return tp_error_set(err, TP_ERR_INVALID,
                        "'%s' is not %sms since the epoch or YYYY-MM-DDTHH:MM[:SS]Z", s,
                        durations ? "a duration (30m, 2h, 1d), " : "");
}
