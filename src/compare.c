/* The comparison of a run: mismatches and latency verdicts per journey, candidate
 * and step, as the "comparisons" JSON of DESIGN.md §JSON report. */
#include "twinprobe/compare.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "twinprobe/diff.h"

/* One journey x candidate over the rounds. */
struct pair_cmp {
    size_t journey;
    size_t cand;
    struct tp_step_verdict *steps;    /* one per step */
    struct tp_mismatches *mismatches; /* one per step, unique (kind, path) */
    size_t **mm_rounds;               /* per step, per kept mismatch: rounds seen */
    struct tp_step_verdict total;     /* the journey's total latency */
    struct tp_journey_verdict jv;
};

size_t tp_compare_index(const struct tp_compare_plan *p, unsigned round, size_t journey,
                        size_t target)
{
    return ((size_t)round * p->njourneys + journey) * p->ntargets + target;
}

/* A step's latency sample: NaN when it did not run (the pair is dropped), +inf
 * when it failed in transport or status (worse than any completed run); an
 * assertion or capture failure keeps its time (the mismatch reports it). */
static double sample_ms(const struct tp_step_result *s)
{
    if (s->skipped || s->attempts == 0)
        return NAN;
    if (s->failure != TP_FAIL_NONE && s->failure != TP_FAIL_ASSERTION &&
        s->failure != TP_FAIL_CAPTURE)
        return INFINITY;
    return s->response.timings.total_ms;
}

static int is_critical(const struct tp_journey *j, const char *step)
{
    for (size_t i = 0; i < j->compare.ncritical; i++)
        if (strcmp(j->compare.critical_steps[i], step) == 0)
            return 1;
    return 0;
}

/* Adds the mismatches of one round to a step's list, once per (kind, path). */
static tp_err merge_mismatches(struct tp_mismatches *into, size_t **rounds,
                               struct tp_mismatches *round)
{
    for (size_t i = 0; i < round->count; i++) {
        struct tp_mismatch *m = &round->items[i];
        size_t k;
        for (k = 0; k < into->count; k++)
            if (into->items[k].kind == m->kind && strcmp(into->items[k].path, m->path) == 0)
                break;
        if (k < into->count) {
            (*rounds)[k]++;
            continue;
        }
        into->total++;
        if (into->count == TP_MISMATCHES_KEEP)
            continue;
        if (into->count == into->cap) {
            size_t cap = into->cap ? into->cap * 2 : 4;
            struct tp_mismatch *items = realloc(into->items, cap * sizeof *items);
            size_t *r = realloc(*rounds, cap * sizeof *r);
            if (items)
                into->items = items;
            if (r)
                *rounds = r;
            if (!items || !r)
                return TP_ERR_NOMEM;
            into->cap = cap;
        }
        into->items[into->count] = *m; /* moved: the round list gives it up */
        memset(m, 0, sizeof *m);
        (*rounds)[into->count++] = 1;
    }
    return TP_OK;
}

static struct tp_verdict_opts journey_opts(const struct tp_journey *j,
                                           const struct tp_verdict_opts *defaults)
{
    struct tp_verdict_opts o = *defaults;
    if (j->compare.margin_pct >= 0)
        o.margin_pct = j->compare.margin_pct;
    if (j->compare.margin_ms >= 0)
        o.margin_ms = j->compare.margin_ms;
    return o;
}

/* Latency verdicts and mismatches of one journey x candidate. */
static tp_err compare_pair(struct tp_run_report *r, const struct tp_compare_plan *p,
                           struct tp_pathset *noise, struct pair_cmp *pc, struct tp_error *err)
{
    const struct tp_journey *j = r->journeys[tp_compare_index(p, 0, pc->journey, 0)].journey;
    struct tp_verdict_opts o = journey_opts(j, &p->defaults);
    size_t ns = j->nsteps, rounds = p->rounds;
    double *base = calloc(rounds + 1, sizeof *base), *cand = calloc(rounds + 1, sizeof *cand);
    double *tb = calloc(rounds + 1, sizeof *tb), *tc = calloc(rounds + 1, sizeof *tc);
    tp_err rc = TP_OK;

    pc->steps = calloc(ns + 1, sizeof *pc->steps);
    pc->mismatches = calloc(ns + 1, sizeof *pc->mismatches);
    pc->mm_rounds = calloc(ns + 1, sizeof *pc->mm_rounds);
    if (!base || !cand || !tb || !tc || !pc->steps || !pc->mismatches || !pc->mm_rounds) {
        rc = tp_error_set(err, TP_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (size_t s = 0; s < ns && rc == TP_OK; s++) {
        struct tp_latency_input in = {base, 0, cand, 0, p->paired, 0, 0};
        for (unsigned k = 0; k < rounds && rc == TP_OK; k++) {
            struct tp_step_result *b = &r->journeys[tp_compare_index(p, k, pc->journey, 0)].steps[s];
            struct tp_step_result *c =
                &r->journeys[tp_compare_index(p, k, pc->journey, pc->cand)].steps[s];
            double bm = sample_ms(b), cm = sample_ms(c);
            struct tp_mismatches round = {0};
            if (!isnan(bm) && !isnan(cm)) {
                base[in.n_base++] = bm;
                cand[in.n_cand++] = cm;
            }
            rc = tp_diff_step(b, c, &j->compare, noise ? &noise[s] : NULL, &round);
            if (rc == TP_OK)
                rc = merge_mismatches(&pc->mismatches[s], &pc->mm_rounds[s], &round);
            tp_mismatches_clear(&round);
        }
        if (rc != TP_OK) {
            tp_error_set(err, rc, "out of memory comparing responses");
            goto done;
        }
        in.mismatches = pc->mismatches[s].total;
        in.critical_step = is_critical(j, j->steps[s].name);
        rc = tp_verdict_step(&in, &o, &pc->steps[s], err);
    }
    /* The journey total per round: the sum of its steps, +inf when any step failed
     * or did not run (both sides +inf is a tie). */
    {
        struct tp_latency_input in = {tb, 0, tc, 0, p->paired, 0, 0};
        for (unsigned k = 0; k < rounds; k++) {
            double sb = 0, sc = 0;
            for (size_t s = 0; s < ns; s++) {
                double bm = sample_ms(&r->journeys[tp_compare_index(p, k, pc->journey, 0)].steps[s]);
                double cm = sample_ms(
                    &r->journeys[tp_compare_index(p, k, pc->journey, pc->cand)].steps[s]);
                sb += isnan(bm) ? INFINITY : bm;
                sc += isnan(cm) ? INFINITY : cm;
            }
            tb[in.n_base++] = sb;
            tc[in.n_cand++] = sc;
        }
        rc = tp_verdict_step(&in, &o, &pc->total, err);
    }
done:
    free(base);
    free(cand);
    free(tb);
    free(tc);
    return rc;
}

static json_t *number(double v)
{
    if (!isfinite(v))
        return json_null();
    return json_real(round(v * 1000.0) / 1000.0);
}

static json_t *pvalue(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

/* Adds key: value to obj (value taken); on failure marks *ok 0. */
static void put(json_t *obj, const char *key, json_t *value, int *ok)
{
    if (!obj || !value || json_object_set_new(obj, key, value) != 0)
        *ok = 0;
}

static json_t *text_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

static json_t *mismatches_json(const struct tp_mismatches *m, const size_t *rounds)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < m->count; i++) {
        const struct tp_mismatch *x = &m->items[i];
        json_t *o = json_object();
        int ok = 1;
        put(o, "path", text_or_null(x->path), &ok);
        put(o, "kind", json_string(tp_mismatch_kind_name(x->kind)), &ok);
        put(o, "base", text_or_null(x->base), &ok);
        put(o, "cand", text_or_null(x->cand), &ok);
        put(o, "rounds", json_integer((json_int_t)rounds[i]), &ok);
        if (!ok || json_array_append_new(arr, o) != 0) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

/* One step of a comparison: DESIGN.md's keys, then p95s, the margin, the count of
 * distinct mismatches and the reason. */
static json_t *step_json(const char *name, const struct tp_step_verdict *v,
                         const struct tp_mismatches *m, const size_t *rounds)
{
    json_t *o = json_object();
    int ok = 1;
    put(o, "step", json_string(name), &ok);
    put(o, "verdict", json_string(tp_verdict_name(v->verdict)), &ok);
    put(o, "method", text_or_null(v->method), &ok);
    put(o, "n", json_integer((json_int_t)v->n), &ok);
    put(o, "base_median_ms", number(v->base_median_ms), &ok);
    put(o, "cand_median_ms", number(v->cand_median_ms), &ok);
    put(o, "delta_pct", number(v->delta_pct), &ok);
    put(o, "ci_low_pct", number(v->ci_low_pct), &ok);
    put(o, "ci_high_pct", number(v->ci_high_pct), &ok);
    put(o, "p", pvalue(v->p), &ok);
    put(o, "p_adj", pvalue(v->p_adj), &ok);
    put(o, "base_errors", json_integer((json_int_t)v->base_errors), &ok);
    put(o, "cand_errors", json_integer((json_int_t)v->cand_errors), &ok);
    put(o, "mismatches", mismatches_json(m, rounds), &ok);
    put(o, "base_p95_ms", number(v->base_p95_ms), &ok);
    put(o, "cand_p95_ms", number(v->cand_p95_ms), &ok);
    put(o, "margin_pct", number(v->margin_pct), &ok);
    put(o, "mismatch_count", json_integer((json_int_t)m->total), &ok);
    put(o, "reason", json_string(v->reason), &ok);
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static const char *const score_classes[] = {"pass", "marginal", "fail"};

/* One journey x candidate: DESIGN.md's keys, then the journey total's numbers
 * (delta_pct, CI, p, n: what the runs stream carries) and counts. */
static json_t *pair_json(struct tp_run_report *r, const struct tp_compare_plan *p,
                         const struct pair_cmp *pc)
{
    const struct tp_journey_result *first = &r->journeys[tp_compare_index(p, 0, pc->journey, 0)];
    const struct tp_journey_result *cand =
        &r->journeys[tp_compare_index(p, 0, pc->journey, pc->cand)];
    const struct tp_journey *j = first->journey;
    const struct tp_journey_verdict *jv = &pc->jv;
    json_t *o = json_object(), *steps = json_array();
    size_t mismatches = 0;
    int ok = 1;

    for (size_t s = 0; steps && s < j->nsteps; s++) {
        if (json_array_append_new(steps, step_json(j->steps[s].name, &pc->steps[s],
                                                   &pc->mismatches[s], pc->mm_rounds[s])) != 0)
            ok = 0;
        mismatches += pc->mismatches[s].total;
    }
    put(o, "journey", json_string(j->name), &ok);
    put(o, "base", json_string(first->target->name), &ok);
    put(o, "cand", json_string(cand->target->name), &ok);
    put(o, "rounds", json_integer((json_int_t)p->rounds), &ok);
    put(o, "verdict", json_string(tp_verdict_name(jv->verdict)), &ok);
    put(o, "score", number(jv->score), &ok);
    put(o, "score_class", json_string(score_classes[jv->score_class]), &ok);
    put(o, "worst_step", j->nsteps ? json_string(j->steps[jv->worst_step].name) : json_null(),
        &ok);
    put(o, "reason", json_string(jv->reason), &ok);
    put(o, "delta_pct", number(pc->total.delta_pct), &ok);
    put(o, "ci_low_pct", number(pc->total.ci_low_pct), &ok);
    put(o, "ci_high_pct", number(pc->total.ci_high_pct), &ok);
    put(o, "p", pvalue(pc->total.p), &ok);
    put(o, "n", json_integer((json_int_t)pc->total.n), &ok);
    put(o, "total_verdict", json_string(tp_verdict_name(pc->total.verdict)), &ok);
    put(o, "base_errors", json_integer((json_int_t)pc->total.base_errors), &ok);
    put(o, "cand_errors", json_integer((json_int_t)pc->total.cand_errors), &ok);
    put(o, "mismatches", json_integer((json_int_t)mismatches), &ok);
    put(o, "steps", steps, &ok);
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static void pair_free(struct pair_cmp *pc, size_t nsteps)
{
    for (size_t s = 0; pc->mismatches && s < nsteps; s++)
        tp_mismatches_clear(&pc->mismatches[s]);
    for (size_t s = 0; pc->mm_rounds && s < nsteps; s++)
        free(pc->mm_rounds[s]);
    free(pc->mismatches);
    free(pc->mm_rounds);
    free(pc->steps);
}

/* Holm across every step of every comparison of the run. */
static tp_err holm_all(struct pair_cmp *pcs, size_t npairs, const size_t *nsteps,
                       const struct tp_verdict_opts *o, struct tp_error *err)
{
    size_t total = 0, k = 0;
    struct tp_step_verdict *all;
    tp_err rc;
    for (size_t i = 0; i < npairs; i++)
        total += nsteps[i];
    all = calloc(total + 1, sizeof *all);
    if (!all)
        return tp_error_set(err, TP_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < npairs; i++)
        for (size_t s = 0; s < nsteps[i]; s++)
            all[k++] = pcs[i].steps[s];
    rc = tp_verdict_holm(all, total, o, err);
    k = 0;
    for (size_t i = 0; rc == TP_OK && i < npairs; i++)
        for (size_t s = 0; s < nsteps[i]; s++)
            pcs[i].steps[s] = all[k++];
    free(all);
    return rc;
}

tp_err tp_compare_run(struct tp_run_report *r, const struct tp_compare_plan *p, json_t **out,
                      struct tp_error *err)
{
    size_t ncand = p->ntargets - 1 - (p->noise_target >= 0 ? 1 : 0);
    size_t npairs = p->njourneys * ncand, k = 0;
    struct pair_cmp *pcs = NULL;
    size_t *nsteps = NULL;
    struct tp_pathset **noise = NULL;
    tp_err rc = TP_OK;

    *out = json_array();
    if (!*out)
        return tp_error_set(err, TP_ERR_NOMEM, "out of memory");
    if (ncand == 0 || p->rounds == 0 || r->njourneys == 0)
        return TP_OK;
    pcs = calloc(npairs, sizeof *pcs);
    nsteps = calloc(npairs, sizeof *nsteps);
    noise = calloc(p->njourneys, sizeof *noise);
    if (!pcs || !nsteps || !noise) {
        rc = tp_error_set(err, TP_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (size_t j = 0; j < p->njourneys && rc == TP_OK; j++) {
        const struct tp_journey *jn = r->journeys[tp_compare_index(p, 0, j, 0)].journey;
        if (jn->compare.noise == TP_NOISE_LEARN && p->noise_target >= 0) {
            /* Volatile: what differs between the baseline's two runs of a round
             * (Diffy), and what differs between its runs of consecutive rounds
             * (a millisecond timestamp can agree within a round, never across). */
            noise[j] = calloc(jn->nsteps + 1, sizeof *noise[j]);
            for (unsigned round = 0; noise[j] && round < p->rounds && rc == TP_OK; round++) {
                struct tp_journey_result *b = &r->journeys[tp_compare_index(p, round, j, 0)];
                struct tp_journey_result *b2 =
                    &r->journeys[tp_compare_index(p, round, j, (size_t)p->noise_target)];
                struct tp_journey_result *next =
                    round + 1 < p->rounds ? &r->journeys[tp_compare_index(p, round + 1, j, 0)]
                                          : NULL;
                for (size_t s = 0; s < jn->nsteps && rc == TP_OK; s++) {
                    rc = tp_diff_learn(&b->steps[s], &b2->steps[s], &jn->compare,
                                       &noise[j][s]);
                    if (rc == TP_OK && next)
                        rc = tp_diff_learn(&b->steps[s], &next->steps[s], &jn->compare,
                                           &noise[j][s]);
                }
            }
            if (!noise[j] || rc != TP_OK) {
                rc = tp_error_set(err, TP_ERR_NOMEM, "out of memory learning noise");
                break;
            }
        }
        for (size_t t = 1; t < p->ntargets && rc == TP_OK; t++) {
            if ((long)t == p->noise_target)
                continue;
            pcs[k].journey = j;
            pcs[k].cand = t;
            nsteps[k] = jn->nsteps;
            rc = compare_pair(r, p, noise[j], &pcs[k], err);
            k++;
        }
    }
    if (rc == TP_OK)
        rc = holm_all(pcs, k, nsteps, &p->defaults, err);
    for (size_t i = 0; rc == TP_OK && i < k; i++) {
        const struct tp_journey *jn = r->journeys[tp_compare_index(p, 0, pcs[i].journey, 0)].journey;
        const char **names = calloc(jn->nsteps + 1, sizeof *names);
        struct tp_verdict_opts o = journey_opts(jn, &p->defaults);
        if (!names) {
            rc = tp_error_set(err, TP_ERR_NOMEM, "out of memory");
            break;
        }
        for (size_t s = 0; s < jn->nsteps; s++)
            names[s] = jn->steps[s].name;
        tp_verdict_journey(pcs[i].steps, names, jn->nsteps, &o, &pcs[i].jv);
        free(names);
        if (json_array_append_new(*out, pair_json(r, p, &pcs[i])) != 0)
            rc = tp_error_set(err, TP_ERR_NOMEM, "out of memory");
    }
done:
    for (size_t i = 0; pcs && i < k; i++)
        pair_free(&pcs[i], nsteps[i]);
    for (size_t j = 0; noise && j < p->njourneys; j++) {
        if (!noise[j])
            continue;
        const struct tp_journey *jn = r->journeys[tp_compare_index(p, 0, j, 0)].journey;
        for (size_t s = 0; s < jn->nsteps; s++)
            tp_pathset_clear(&noise[j][s]);
        free(noise[j]);
    }
    free(noise);
    free(pcs);
    free(nsteps);
    if (rc != TP_OK) {
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}

int tp_compare_fails(const json_t *comparisons, enum tp_fail_on fail_on)
{
    size_t i, k;
    json_t *c, *s;
    if (fail_on == TP_FAIL_ON_NEVER)
        return 0;
    json_array_foreach(comparisons, i, c) {
        json_array_foreach(json_object_get(c, "steps"), k, s) {
            const char *v = json_string_value(json_object_get(s, "verdict"));
            if (!v)
                continue;
            if (strcmp(v, "HIGH") == 0 || strcmp(v, "CRITICAL") == 0 ||
                json_integer_value(json_object_get(s, "mismatch_count")) > 0)
                return 1;
            if (fail_on == TP_FAIL_ON_INCONCLUSIVE &&
                (strcmp(v, "INCONCLUSIVE") == 0 || strcmp(v, "NODATA") == 0))
                return 1;
        }
    }
    return 0;
}
