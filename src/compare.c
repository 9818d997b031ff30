/* The comparison of a run, computed once: latency pairs, mismatches after noise,
 * verdicts and the one rule for "this step fails the run". */
#include "twinprobe/compare.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "twinprobe/strbuf.h"
#include "twinprobe/utf8.h"

size_t tp_compare_index(const struct tp_compare_plan *p, unsigned round, size_t journey,
                        size_t target)
{
    return ((size_t)round * p->njourneys + journey) * p->ntargets + target;
}

int tp_compare_step_fails(const struct tp_step_verdict *v, size_t mismatches,
                          enum tp_fail_on fail_on)
{
    if (fail_on == TP_FAIL_ON_NEVER)
        return 0;
    if (v->verdict == TP_V_HIGH || v->verdict == TP_V_CRITICAL || mismatches > 0)
        return 1;
    return fail_on == TP_FAIL_ON_INCONCLUSIVE &&
           (v->verdict == TP_V_INCONCLUSIVE || v->verdict == TP_V_NODATA);
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

/* ---- masking at the source ----------------------------------------------- */

/* Paths that are data are masked: a JSONPath into a body ("$['a']"), a path
 * into a document ("/html/body/p[@id='x']/text()"), and a name after its label
 * ("header x-key", "capture csrf", "jsonpath $.a"). What twinprobe makes stays:
 * bare labels ("status", "body", "failure") and line numbers ("line 7+1"). */
static tp_err mask_path(const tp_secrets *secrets, char **path)
{
    if (!*path || strncmp(*path, "line ", 5) == 0)
        return TP_OK;
    if ((*path)[0] == '$' || (*path)[0] == '/')
        return tp_secrets_mask_inplace(secrets, path);
    return tp_secrets_mask_labelled(secrets, path);
}

/* A value cut to TP_COMPARE_VALUE_MAX bytes on a UTF-8 boundary, then "…". */
static tp_err cut_value(char **v)
{
    return tp_utf8_cut(v, TP_COMPARE_VALUE_MAX) == 0 ? TP_OK : TP_ERR_NOMEM;
}

/* Values that come from the responses are masked; those twinprobe makes
 * (status codes, failure classes, assertion outcomes, line counts) are not.
 * Long values are cut after masking, never before: a secret longer than the cut
 * never shows its first part. */
static tp_err mask_mismatch(const tp_secrets *secrets, struct tp_mismatch *m)
{
    tp_err rc = mask_path(secrets, &m->path);
    switch (m->kind) {
    case TP_MM_STATUS:
    case TP_MM_ASSERTION:
    case TP_MM_FAILURE:
    case TP_MM_TEXT: /* "120 lines, first difference at line 7": twinprobe's words */
        break;
    default:
        if (rc == TP_OK)
            rc = tp_secrets_mask_inplace(secrets, &m->base);
        if (rc == TP_OK)
            rc = tp_secrets_mask_inplace(secrets, &m->cand);
        break;
    }
    if (rc == TP_OK)
        rc = cut_value(&m->base);
    if (rc == TP_OK)
        rc = cut_value(&m->cand);
    return rc;
}

static int by_strcmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The learned noise of one step, for the report: each path masked (new), in
 * strcmp order of the unmasked paths (the set keeps the order they were found). */
static tp_err copy_noise(const tp_secrets *secrets, const struct tp_pathset *noise,
                         struct tp_step_cmp *sc)
{
    if (!noise || noise->count == 0)
        return TP_OK;
    if (!(sc->noise = calloc(noise->count, sizeof *sc->noise)))
        return TP_ERR_NOMEM;
    for (size_t i = 0; i < noise->count; i++) {
        if (!(sc->noise[i] = strdup(noise->items[i])))
            return TP_ERR_NOMEM;
        sc->nnoise++;
    }
    qsort(sc->noise, sc->nnoise, sizeof *sc->noise, by_strcmp);
    for (size_t i = 0; i < sc->nnoise; i++) {
        tp_err rc;
        if ((rc = mask_path(secrets, &sc->noise[i])) != TP_OK)
            return rc;
    }
    return TP_OK;
}

/* "PATH KIND BASE -> CAND" (new), absent values as "(absent)". */
static char *mismatch_text(const struct tp_mismatch *m)
{
    struct tp_strbuf b = {0};
    if (tp_strbuf_addf(&b, "%s %s %s -> %s", m->path ? m->path : "",
                       tp_mismatch_kind_name(m->kind), m->base ? m->base : "(absent)",
                       m->cand ? m->cand : "(absent)") != 0) {
        tp_strbuf_free(&b);
        return NULL;
    }
    return b.data;
}

/* ---- one journey x candidate ---------------------------------------------- */

/* Adds the mismatches of one round to a step's list, once per (kind, path). */
static tp_err merge_mismatches(struct tp_step_cmp *sc, struct tp_mismatches *round)
{
    struct tp_mismatches *into = &sc->mismatches;
    for (size_t i = 0; i < round->count; i++) {
        struct tp_mismatch *m = &round->items[i];
        size_t k;
        for (k = 0; k < into->count; k++)
            if (into->items[k].kind == m->kind && strcmp(into->items[k].path, m->path) == 0)
                break;
        if (k < into->count) {
            sc->mismatch_rounds[k]++;
            continue;
        }
        into->total++;
        if (into->count == TP_MISMATCHES_KEEP)
            continue;
        if (into->count == into->cap) {
            size_t cap = into->cap ? into->cap * 2 : 4;
            struct tp_mismatch *items = realloc(into->items, cap * sizeof *items);
            size_t *r;
            if (!items)
                return TP_ERR_NOMEM;
            into->items = items;
            r = realloc(sc->mismatch_rounds, cap * sizeof *r);
            if (!r)
                return TP_ERR_NOMEM;
            sc->mismatch_rounds = r;
            into->cap = cap;
        }
        into->items[into->count] = *m; /* moved: the round list gives it up */
        memset(m, 0, sizeof *m);
        sc->mismatch_rounds[into->count++] = 1;
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

/* The diff of one round of step s: counted and summarised in pair, merged. */
static tp_err compare_round(const struct tp_compare_plan *p, const struct tp_journey *j,
                            struct tp_step_result *b, struct tp_step_result *c,
                            const struct tp_pathset *noise, struct tp_step_cmp *sc,
                            struct tp_round_pair *pair)
{
    struct tp_mismatches round = {0};
    tp_err rc = tp_diff_step(b, c, &j->compare, noise, &round);
    for (size_t i = 0; rc == TP_OK && i < round.count; i++)
        rc = mask_mismatch(p->secrets, &round.items[i]);
    if (rc == TP_OK) {
        pair->diffs = round.total;
        if (round.count > 0 && !(pair->first_diff = mismatch_text(&round.items[0])))
            rc = TP_ERR_NOMEM;
    }
    if (rc == TP_OK)
        rc = merge_mismatches(sc, &round);
    tp_mismatches_clear(&round);
    return rc;
}

/* Latency verdicts and mismatches of one journey x candidate. */
static tp_err compare_pair(struct tp_run_report *r, const struct tp_compare_plan *p,
                           struct tp_pathset *noise, unsigned noise_from, struct tp_pair_cmp *pc,
                           struct tp_error *err)
{
    const struct tp_journey *j = r->journeys[tp_compare_index(p, 0, pc->journey, 0)].journey;
    struct tp_verdict_opts o = journey_opts(j, &p->defaults);
    size_t ns = j->nsteps, rounds = p->rounds;
    double *base = calloc(rounds + 1, sizeof *base), *cand = calloc(rounds + 1, sizeof *cand);
    double *tb = calloc(rounds + 1, sizeof *tb), *tc = calloc(rounds + 1, sizeof *tc);
    tp_err rc = TP_OK;

    pc->steps = calloc(ns + 1, sizeof *pc->steps);
    if (!base || !cand || !tb || !tc || !pc->steps) {
        rc = tp_error_set(err, TP_ERR_NOMEM, "out of memory");
        goto done;
    }
    pc->nsteps = ns;
    for (size_t s = 0; s < ns && rc == TP_OK; s++) {
        struct tp_step_cmp *sc = &pc->steps[s];
        struct tp_latency_input in = {base, 0, cand, 0, p->paired, 0, 0};
        sc->name = j->steps[s].name;
        sc->noise_from = noise_from;
        if (!(sc->rounds = calloc(rounds + 1, sizeof *sc->rounds)) ||
            copy_noise(p->secrets, noise ? &noise[s] : NULL, sc) != TP_OK) {
            rc = tp_error_set(err, TP_ERR_NOMEM, "out of memory");
            break;
        }
        for (unsigned k = 0; k < rounds && rc == TP_OK; k++) {
            struct tp_step_result *b = &r->journeys[tp_compare_index(p, k, pc->journey, 0)].steps[s];
            struct tp_step_result *c =
                &r->journeys[tp_compare_index(p, k, pc->journey, pc->cand)].steps[s];
            struct tp_round_pair *pair = &sc->rounds[k];
            pair->base_ms = sample_ms(b);
            pair->cand_ms = sample_ms(c);
            if (!isnan(pair->base_ms) && !isnan(pair->cand_ms)) {
                base[in.n_base++] = pair->base_ms;
                cand[in.n_cand++] = pair->cand_ms;
            }
            rc = compare_round(p, j, b, c, noise ? &noise[s] : NULL, sc, pair);
            /* parsed again if another candidate needs it: never all rounds at once */
            tp_response_drop_parsed(&b->response);
            tp_response_drop_parsed(&c->response);
        }
        if (rc != TP_OK) {
            tp_error_set(err, rc,
                         rc == TP_ERR_NOMEM ? "out of memory comparing responses"
                                            : "cannot compare the responses of step %s",
                         sc->name);
            break;
        }
        in.mismatches = sc->mismatches.total;
        in.critical_step = is_critical(j, sc->name);
        rc = tp_verdict_step(&in, &o, &sc->verdict, err);
    }
    if (rc != TP_OK)
        goto done;
    /* The journey total per round: the sum of its steps, +inf when any step failed
     * or did not run (both sides +inf is a tie). */
    {
        struct tp_latency_input in = {tb, 0, tc, 0, p->paired, 0, 0};
        for (unsigned k = 0; k < rounds; k++) {
            double sb = 0, sc = 0;
            for (size_t s = 0; s < ns; s++) {
                double bm = pc->steps[s].rounds[k].base_ms, cm = pc->steps[s].rounds[k].cand_ms;
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

/* Holm across every step of every comparison of the run. */
static tp_err holm_all(struct tp_comparison *c, const struct tp_verdict_opts *o,
                       struct tp_error *err)
{
    size_t total = 0, k = 0;
    struct tp_step_verdict *all;
    tp_err rc;
    for (size_t i = 0; i < c->npairs; i++)
        total += c->pairs[i].nsteps;
    all = calloc(total + 1, sizeof *all);
    if (!all)
        return tp_error_set(err, TP_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < c->npairs; i++)
        for (size_t s = 0; s < c->pairs[i].nsteps; s++)
            all[k++] = c->pairs[i].steps[s].verdict;
    rc = tp_verdict_holm(all, total, o, err);
    k = 0;
    for (size_t i = 0; rc == TP_OK && i < c->npairs; i++)
        for (size_t s = 0; s < c->pairs[i].nsteps; s++)
            c->pairs[i].steps[s].verdict = all[k++];
    free(all);
    return rc;
}

/* After Holm: the journey verdict, the counts and the one failing rule. */
static tp_err conclude_pair(const struct tp_compare_plan *p, const struct tp_journey *j,
                            struct tp_pair_cmp *pc, struct tp_error *err)
{
    struct tp_verdict_opts o = journey_opts(j, &p->defaults);
    struct tp_step_verdict *steps = calloc(pc->nsteps + 1, sizeof *steps);
    const char **names = calloc(pc->nsteps + 1, sizeof *names);
    if (!steps || !names) {
        free(steps);
        free(names);
        return tp_error_set(err, TP_ERR_NOMEM, "out of memory");
    }
    for (size_t s = 0; s < pc->nsteps; s++) {
        struct tp_step_cmp *sc = &pc->steps[s];
        steps[s] = sc->verdict;
        names[s] = sc->name;
        sc->fails = tp_compare_step_fails(&sc->verdict, sc->mismatches.total, p->fail_on);
        pc->mismatches += sc->mismatches.total;
        pc->fails |= sc->fails;
    }
    tp_verdict_journey(steps, names, pc->nsteps, &o, &pc->verdict);
    free(steps);
    free(names);
    return TP_OK;
}

/* Noise learned for journey j (one path set per step; *noise NULL when the
 * journey learns nothing) and how many baseline results it was learned from.
 * "rounds": whatever differs between the baseline's runs of consecutive rounds
 * (a value that differs between any two rounds differs between two neighbours);
 * it sends nothing extra. "learn": also what differs between the baseline's two
 * runs of one round (Diffy). "off": nothing. */
static tp_err learn_noise(struct tp_run_report *r, const struct tp_compare_plan *p, size_t j,
                          struct tp_pathset **noise, unsigned *from)
{
    const struct tp_journey *jn = r->journeys[tp_compare_index(p, 0, j, 0)].journey;
    int twice = jn->compare.noise == TP_NOISE_LEARN && p->noise_target >= 0;
    tp_err rc = TP_OK;

    *noise = NULL;
    *from = 0;
    if (jn->compare.noise == TP_NOISE_OFF || (!twice && jn->compare.noise != TP_NOISE_ROUNDS))
        return TP_OK;
    if (!(*noise = calloc(jn->nsteps + 1, sizeof **noise)))
        return TP_ERR_NOMEM;
    *from = p->rounds * (twice ? 2u : 1u);
    for (unsigned k = 0; k < p->rounds && rc == TP_OK; k++) {
        struct tp_journey_result *b = &r->journeys[tp_compare_index(p, k, j, 0)];
        struct tp_journey_result *b2 =
            twice ? &r->journeys[tp_compare_index(p, k, j, (size_t)p->noise_target)] : NULL;
        struct tp_journey_result *next =
            k + 1 < p->rounds ? &r->journeys[tp_compare_index(p, k + 1, j, 0)] : NULL;
        for (size_t s = 0; s < jn->nsteps && rc == TP_OK; s++) {
            if (b2)
                rc = tp_diff_learn(&b->steps[s], &b2->steps[s], &jn->compare, &(*noise)[s]);
            if (rc == TP_OK && next)
                rc = tp_diff_learn(&b->steps[s], &next->steps[s], &jn->compare, &(*noise)[s]);
            /* round k is done with (k + 1 is parsed once more as the next one's base) */
            tp_response_drop_parsed(&b->steps[s].response);
            if (b2)
                tp_response_drop_parsed(&b2->steps[s].response);
        }
    }
    return rc;
}

static void noise_free(struct tp_pathset *noise, size_t nsteps)
{
    for (size_t s = 0; noise && s < nsteps; s++)
        tp_pathset_clear(&noise[s]);
    free(noise);
}

tp_err tp_compare_run(struct tp_run_report *r, const struct tp_compare_plan *p,
                      struct tp_comparison *out, struct tp_error *err)
{
    size_t ncand = p->ntargets - 1 - (p->noise_target >= 0 ? 1 : 0);
    tp_err rc = TP_OK;

    memset(out, 0, sizeof *out);
    out->fail_on = p->fail_on;
    if (p->ntargets < 2 || ncand == 0 || p->rounds == 0 || r->njourneys == 0)
        return TP_OK;
    out->pairs = calloc(p->njourneys * ncand, sizeof *out->pairs);
    if (!out->pairs)
        return tp_error_set(err, TP_ERR_NOMEM, "out of memory");
    for (size_t j = 0; j < p->njourneys && rc == TP_OK; j++) {
        const struct tp_journey_result *first = &r->journeys[tp_compare_index(p, 0, j, 0)];
        struct tp_pathset *noise = NULL;
        unsigned noise_from = 0;
        if (learn_noise(r, p, j, &noise, &noise_from) != TP_OK) {
            noise_free(noise, first->journey->nsteps);
            rc = tp_error_set(err, TP_ERR_NOMEM, "out of memory learning noise");
            break;
        }
        for (size_t t = 1; t < p->ntargets && rc == TP_OK; t++) {
            struct tp_pair_cmp *pc;
            if ((long)t == p->noise_target)
                continue;
            pc = &out->pairs[out->npairs++];
            pc->journey = j;
            pc->cand = t;
            pc->journey_name = first->journey->name;
            pc->base_name = first->target->name;
            pc->cand_name = r->journeys[tp_compare_index(p, 0, j, t)].target->name;
            pc->rounds = p->rounds;
            rc = compare_pair(r, p, noise, noise_from, pc, err);
        }
        noise_free(noise, first->journey->nsteps);
    }
    if (rc == TP_OK)
        rc = holm_all(out, &p->defaults, err);
    for (size_t i = 0; rc == TP_OK && i < out->npairs; i++) {
        struct tp_pair_cmp *pc = &out->pairs[i];
        rc = conclude_pair(p, r->journeys[tp_compare_index(p, 0, pc->journey, 0)].journey, pc,
                           err);
        out->fails |= pc->fails;
    }
    return rc;
}

const struct tp_pair_cmp *tp_comparison_find(const struct tp_comparison *c, size_t journey,
                                             size_t cand)
{
    for (size_t i = 0; c && i < c->npairs; i++)
        if (c->pairs[i].journey == journey && c->pairs[i].cand == cand)
            return &c->pairs[i];
    return NULL;
}

void tp_comparison_clear(struct tp_comparison *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->npairs; i++) {
        struct tp_pair_cmp *pc = &c->pairs[i];
        for (size_t s = 0; pc->steps && s < pc->nsteps; s++) {
            struct tp_step_cmp *sc = &pc->steps[s];
            tp_mismatches_clear(&sc->mismatches);
            free(sc->mismatch_rounds);
            for (unsigned k = 0; sc->rounds && k < pc->rounds; k++)
                free(sc->rounds[k].first_diff);
            free(sc->rounds);
            for (size_t n = 0; n < sc->nnoise; n++)
                free(sc->noise[n]);
            free(sc->noise);
        }
        free(pc->steps);
    }
    free(c->pairs);
    memset(c, 0, sizeof *c);
}
