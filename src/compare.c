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

/* ---- what the rounds found, before the run's noise is known ---------------- */

/* The comparison runs a round at a time, as the rounds complete (judge as you
 * go), but noise is learned over the whole run: a field the baseline changes only
 * in round 7 is noise in round 1 too. So each round's mismatches are recorded raw
 * (after compare.ignore and the noise learned so far) as ids of distinct
 * (kind, path) pairs, and the run's noise is applied once, at the end
 * (tp_compare_finish). Memory per round is a few ids, never a body. */

/* Distinct raw mismatches kept per step (ids); past it a mismatch is counted,
 * never left out by noise learned later. */
#define DISTINCT_MAX 10000

struct raw_round {
    size_t *ids;   /* distinct ids of the first kept mismatches, in order found */
    size_t n;
    size_t total;  /* found in the round (kept or not) */
    char *first;   /* "PATH KIND BASE -> CAND" of ids[0] with this round's values */
};

struct step_acc {
    struct tp_pathset keys;      /* "K\x1fPATH" (K the kind, PATH unmasked) by id */
    struct tp_mismatch *reps;    /* by id: the first one seen, masked and cut */
    size_t *seen;                /* by id: rounds it was seen in */
    size_t cap;
    size_t unkept;               /* distinct past DISTINCT_MAX: counted only */
    struct raw_round *rounds;    /* by round */
};

struct tp_compare_state {
    struct tp_compare_plan p;    /* p.rounds: the rounds there is room for */
    struct tp_comparison *out;
    struct noise {
        struct tp_pathset *steps; /* per step, or NULL (no learning) */
        size_t nsteps;
    } *noise;                    /* by journey */
    struct step_acc **acc;       /* by pair: per step */
    unsigned fed;                /* rounds fed */
    int ready;                   /* pairs laid out (at the first round) */
};

static char *acc_key(enum tp_mismatch_kind kind, const char *path)
{
    struct tp_strbuf b = {0};
    if (tp_strbuf_addf(&b, "%d\x1f%s", (int)kind, path ? path : "") != 0) {
        tp_strbuf_free(&b);
        return NULL;
    }
    return b.data;
}

/* The id of m's (kind, path), added with m as its first occurrence (moved)
 * when new; -1 past DISTINCT_MAX. */
static tp_err acc_id(struct step_acc *a, struct tp_mismatch *m, const char *key, long *id)
{
    *id = tp_pathset_find(&a->keys, key);
    if (*id >= 0)
        return TP_OK;
    if (a->keys.count >= DISTINCT_MAX) {
        a->unkept++;
        return TP_OK;
    }
    if (a->keys.count == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 8;
        struct tp_mismatch *reps = realloc(a->reps, cap * sizeof *reps);
        size_t *seen;
        if (!reps)
            return TP_ERR_NOMEM;
        a->reps = reps;
        if (!(seen = realloc(a->seen, cap * sizeof *seen)))
            return TP_ERR_NOMEM;
        a->seen = seen;
        a->cap = cap;
    }
    if (tp_pathset_add(&a->keys, key) != TP_OK)
        return TP_ERR_NOMEM;
    *id = (long)a->keys.count - 1;
    a->reps[*id] = *m;
    memset(m, 0, sizeof *m);
    a->seen[*id] = 0;
    return TP_OK;
}

/* Records the raw mismatches of one round of a step. */
static tp_err acc_round(const struct tp_compare_plan *p, struct step_acc *a, unsigned k,
                        struct tp_mismatches *round)
{
    struct raw_round *rr = &a->rounds[k];
    tp_err rc = TP_OK;

    rr->total = round->total;
    if (round->count && !(rr->ids = calloc(round->count, sizeof *rr->ids)))
        return TP_ERR_NOMEM;
    for (size_t i = 0; rc == TP_OK && i < round->count; i++) {
        struct tp_mismatch *m = &round->items[i];
        char *key = acc_key(m->kind, m->path), *text = NULL;
        long id = -1;
        if (!key)
            return TP_ERR_NOMEM;
        rc = mask_mismatch(p->secrets, m);
        /* the text of the round's first kept one, with this round's values (made
         * before acc_id moves m) */
        if (rc == TP_OK && rr->n == 0 && !(text = mismatch_text(m)))
            rc = TP_ERR_NOMEM;
        if (rc == TP_OK)
            rc = acc_id(a, m, key, &id);
        free(key);
        if (rc == TP_OK && id >= 0) {
            a->seen[id]++;
            if (rr->n == 0) {
                rr->first = text;
                text = NULL;
            }
            rr->ids[rr->n++] = (size_t)id;
        }
        free(text);
    }
    return rc;
}

static void acc_clear(struct step_acc *a, unsigned rounds)
{
    for (size_t i = 0; i < a->keys.count; i++) {
        free(a->reps[i].path);
        free(a->reps[i].base);
        free(a->reps[i].cand);
    }
    tp_pathset_clear(&a->keys);
    free(a->reps);
    free(a->seen);
    for (unsigned k = 0; a->rounds && k < rounds; k++) {
        free(a->rounds[k].ids);
        free(a->rounds[k].first);
    }
    free(a->rounds);
    memset(a, 0, sizeof *a);
}

/* With the run's noise known: each round's count and first difference, and the
 * step's distinct mismatches with the rounds they were seen in. */
static tp_err acc_settle(struct step_acc *a, unsigned rounds, const struct tp_pathset *noise,
                         struct tp_step_cmp *sc)
{
    size_t nd = a->keys.count;
    unsigned char *covered = calloc(nd + 1, 1);
    struct tp_mismatches *into = &sc->mismatches;
    tp_err rc = TP_OK;

    if (!covered)
        return TP_ERR_NOMEM;
    for (size_t i = 0; i < nd; i++)
        covered[i] = (unsigned char)tp_pathset_covers(noise, strchr(a->keys.items[i], '\x1f') + 1);
    for (unsigned k = 0; k < rounds && rc == TP_OK; k++) {
        struct raw_round *rr = &a->rounds[k];
        struct tp_round_pair *pair = &sc->rounds[k];
        size_t gone = 0, first = SIZE_MAX;
        for (size_t i = 0; i < rr->n; i++) {
            if (covered[rr->ids[i]])
                gone++;
            else if (first == SIZE_MAX)
                first = i;
        }
        pair->diffs = rr->total - gone;
        if (first == 0) {
            pair->first_diff = rr->first; /* this round's own values */
            rr->first = NULL;
        } else if (first != SIZE_MAX) {
            pair->first_diff = mismatch_text(&a->reps[rr->ids[first]]);
        } else if (pair->diffs > 0) {
            struct tp_strbuf b = {0};
            if (tp_strbuf_addf(&b, "(%zu differences past the first %zu, not kept)", pair->diffs,
                               rr->n) == 0)
                pair->first_diff = b.data;
        }
        if (pair->diffs > 0 && !pair->first_diff)
            rc = TP_ERR_NOMEM;
    }
    for (size_t i = 0; i < nd && rc == TP_OK; i++) {
        if (covered[i])
            continue;
        into->total++;
        if (into->count == TP_MISMATCHES_KEEP)
            continue;
        if (into->count == into->cap) {
            size_t cap = into->cap ? into->cap * 2 : 4;
            struct tp_mismatch *items = realloc(into->items, cap * sizeof *items);
            size_t *r;
            if (!items) {
                rc = TP_ERR_NOMEM;
                break;
            }
            into->items = items;
            if (!(r = realloc(sc->mismatch_rounds, cap * sizeof *r))) {
                rc = TP_ERR_NOMEM;
                break;
            }
            sc->mismatch_rounds = r;
            into->cap = cap;
        }
        into->items[into->count] = a->reps[i]; /* moved */
        memset(&a->reps[i], 0, sizeof a->reps[i]);
        sc->mismatch_rounds[into->count++] = a->seen[i];
    }
    into->total += a->unkept;
    free(covered);
    return rc;
}

/* ---- one journey x candidate ---------------------------------------------- */

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

/* Round k of every candidate of journey j against the baseline: the latency
 * samples and the raw mismatches (after ignore and the noise learned so far). */
static tp_err compare_round(struct tp_compare_state *st, struct tp_run_report *r, size_t j,
                            unsigned k, struct tp_error *err)
{
    const struct tp_compare_plan *p = &st->p;
    struct tp_journey_result *bj = &r->journeys[tp_compare_index(p, k, j, 0)];
    const struct tp_journey *jn = bj->journey;
    tp_err rc = TP_OK;

    for (size_t i = 0; i < st->out->npairs && rc == TP_OK; i++) {
        struct tp_pair_cmp *pc = &st->out->pairs[i];
        struct tp_journey_result *cj;
        if (pc->journey != j)
            continue;
        cj = &r->journeys[tp_compare_index(p, k, j, pc->cand)];
        for (size_t s = 0; s < pc->nsteps && rc == TP_OK; s++) {
            struct tp_step_result *b = &bj->steps[s], *c = &cj->steps[s];
            struct tp_round_pair *pair = &pc->steps[s].rounds[k];
            struct tp_mismatches round = {0};
            pair->base_ms = sample_ms(b);
            pair->cand_ms = sample_ms(c);
            rc = tp_diff_step(b, c, &jn->compare,
                              st->noise[j].steps ? &st->noise[j].steps[s] : NULL, &round);
            if (rc == TP_OK)
                rc = acc_round(p, &st->acc[i][s], k, &round);
            tp_mismatches_clear(&round);
            /* parsed again if another candidate needs it: never all rounds at once */
            tp_response_drop_parsed(&b->response);
            tp_response_drop_parsed(&c->response);
            if (rc != TP_OK)
                tp_error_set(err, rc,
                             rc == TP_ERR_NOMEM ? "out of memory comparing responses"
                                                : "cannot compare the responses of step %s",
                             pc->steps[s].name);
        }
    }
    return rc;
}

/* Whether journey jn learns noise from consecutive rounds, and from the
 * baseline's second run in each round. */
static int learns_rounds(const struct tp_compare_plan *p, const struct tp_journey *jn)
{
    return jn->compare.noise == TP_NOISE_ROUNDS ||
           (jn->compare.noise == TP_NOISE_LEARN && p->noise_target >= 0);
}

static int learns_twice(const struct tp_compare_plan *p, const struct tp_journey *jn)
{
    return jn->compare.noise == TP_NOISE_LEARN && p->noise_target >= 0;
}

/* Noise from round k of journey j: what differs between the baseline's two runs
 * of round k ("learn"), and between its rounds k - 1 and k (after Diffy: a
 * value that differs between any two rounds differs between two neighbours);
 * nothing extra is sent for the latter. */
static tp_err learn_round(struct tp_compare_state *st, struct tp_run_report *r, size_t j,
                          unsigned k)
{
    const struct tp_compare_plan *p = &st->p;
    struct tp_journey_result *b = &r->journeys[tp_compare_index(p, k, j, 0)];
    const struct tp_journey *jn = b->journey;
    struct tp_journey_result *b2 =
        learns_twice(p, jn) ? &r->journeys[tp_compare_index(p, k, j, (size_t)p->noise_target)]
                            : NULL;
    struct tp_journey_result *prev = k > 0 ? &r->journeys[tp_compare_index(p, k - 1, j, 0)] : NULL;
    tp_err rc = TP_OK;

    if (!st->noise[j].steps)
        return TP_OK;
    for (size_t s = 0; s < jn->nsteps && rc == TP_OK; s++) {
        if (b2)
            rc = tp_diff_learn(&b->steps[s], &b2->steps[s], &jn->compare, &st->noise[j].steps[s]);
        if (rc == TP_OK && prev)
            rc = tp_diff_learn(&prev->steps[s], &b->steps[s], &jn->compare, &st->noise[j].steps[s]);
        if (b2)
            tp_response_drop_parsed(&b2->steps[s].response);
        if (prev)
            tp_response_drop_parsed(&prev->steps[s].response);
    }
    return rc;
}

/* Lays out the pairs, their steps and the noise sets from round 0's results. */
static tp_err lay_out(struct tp_compare_state *st, struct tp_run_report *r, struct tp_error *err)
{
    const struct tp_compare_plan *p = &st->p;
    struct tp_comparison *out = st->out;
    size_t ncand = p->ntargets - 1 - (p->noise_target >= 0 ? 1 : 0);

    out->pairs = calloc(p->njourneys * ncand + 1, sizeof *out->pairs);
    st->acc = calloc(p->njourneys * ncand + 1, sizeof *st->acc);
    st->noise = calloc(p->njourneys + 1, sizeof *st->noise);
    if (!out->pairs || !st->acc || !st->noise)
        return tp_error_set(err, TP_ERR_NOMEM, "out of memory");
    for (size_t j = 0; j < p->njourneys; j++) {
        const struct tp_journey_result *first = &r->journeys[tp_compare_index(p, 0, j, 0)];
        const struct tp_journey *jn = first->journey;
        if (learns_rounds(p, jn)) {
            if (!(st->noise[j].steps = calloc(jn->nsteps + 1, sizeof *st->noise[j].steps)))
                return tp_error_set(err, TP_ERR_NOMEM, "out of memory");
            st->noise[j].nsteps = jn->nsteps;
        }
        for (size_t t = 1; t < p->ntargets; t++) {
            size_t i = out->npairs;
            struct tp_pair_cmp *pc;
            if ((long)t == p->noise_target)
                continue;
            pc = &out->pairs[out->npairs++];
            pc->journey = j;
            pc->cand = t;
            pc->journey_name = jn->name;
            pc->base_name = first->target->name;
            pc->cand_name = r->journeys[tp_compare_index(p, 0, j, t)].target->name;
            pc->steps = calloc(jn->nsteps + 1, sizeof *pc->steps);
            st->acc[i] = calloc(jn->nsteps + 1, sizeof *st->acc[i]);
            if (!pc->steps || !st->acc[i])
                return tp_error_set(err, TP_ERR_NOMEM, "out of memory");
            pc->nsteps = jn->nsteps;
            for (size_t s = 0; s < jn->nsteps; s++) {
                pc->steps[s].name = jn->steps[s].name;
                if (!(pc->steps[s].rounds = calloc(p->rounds + 1, sizeof *pc->steps[s].rounds)) ||
                    !(st->acc[i][s].rounds = calloc(p->rounds + 1, sizeof *st->acc[i][s].rounds)))
                    return tp_error_set(err, TP_ERR_NOMEM, "out of memory");
            }
        }
    }
    st->ready = 1;
    return TP_OK;
}

/* Latency verdicts of one journey x candidate once every round is settled. */
static tp_err judge_pair(const struct tp_compare_plan *p, const struct tp_journey *j,
                         struct tp_pair_cmp *pc, struct tp_error *err)
{
    struct tp_verdict_opts o = journey_opts(j, &p->defaults);
    size_t ns = pc->nsteps, rounds = pc->rounds;
    double *base = calloc(rounds + 1, sizeof *base), *cand = calloc(rounds + 1, sizeof *cand);
    double *tb = calloc(rounds + 1, sizeof *tb), *tc = calloc(rounds + 1, sizeof *tc);
    tp_err rc = TP_OK;

    if (!base || !cand || !tb || !tc) {
        rc = tp_error_set(err, TP_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (size_t s = 0; s < ns && rc == TP_OK; s++) {
        struct tp_step_cmp *sc = &pc->steps[s];
        struct tp_latency_input in = {base, 0, cand, 0, p->paired, 0, 0};
        for (unsigned k = 0; k < rounds; k++) {
            const struct tp_round_pair *pair = &sc->rounds[k];
            if (!isnan(pair->base_ms) && !isnan(pair->cand_ms)) {
                base[in.n_base++] = pair->base_ms;
                cand[in.n_cand++] = pair->cand_ms;
            }
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

/* ---- the run, a round at a time ------------------------------------------- */

tp_err tp_compare_start(const struct tp_compare_plan *plan, struct tp_comparison *out,
                        struct tp_compare_state **state, struct tp_error *err)
{
    struct tp_compare_state *st = calloc(1, sizeof *st);

    memset(out, 0, sizeof *out);
    out->fail_on = plan->fail_on;
    *state = st;
    if (!st)
        return tp_error_set(err, TP_ERR_NOMEM, "out of memory");
    st->p = *plan;
    st->out = out;
    return TP_OK;
}

/* Whether the plan compares anything. */
static int comparing(const struct tp_compare_plan *p)
{
    size_t ncand = p->ntargets < 2 ? 0 : p->ntargets - 1 - (p->noise_target >= 0 ? 1 : 0);
    return ncand > 0 && p->rounds > 0 && p->njourneys > 0;
}

tp_err tp_compare_feed(struct tp_compare_state *st, struct tp_run_report *r, unsigned round,
                       struct tp_error *err)
{
    tp_err rc = TP_OK;

    if (!comparing(&st->p))
        return TP_OK;
    if (round != st->fed || round >= st->p.rounds)
        return tp_error_set(err, TP_ERR_INVALID, "internal: round %u fed out of order", round + 1);
    if (!st->ready && (rc = lay_out(st, r, err)) != TP_OK)
        return rc;
    for (size_t j = 0; j < st->p.njourneys && rc == TP_OK; j++) {
        if (learn_round(st, r, j, round) != TP_OK)
            return tp_error_set(err, TP_ERR_NOMEM, "out of memory learning noise");
        if (round > 0)
            rc = compare_round(st, r, j, round - 1, err);
    }
    st->fed = round + 1;
    return rc;
}

tp_err tp_compare_finish(struct tp_compare_state *st, struct tp_run_report *r,
                         struct tp_error *err)
{
    struct tp_comparison *out = st->out;
    unsigned rounds = st->fed;
    tp_err rc = TP_OK;

    if (!comparing(&st->p) || rounds == 0)
        return TP_OK;
    for (size_t j = 0; j < st->p.njourneys && rc == TP_OK; j++)
        rc = compare_round(st, r, j, rounds - 1, err);
    for (size_t i = 0; i < out->npairs && rc == TP_OK; i++) {
        struct tp_pair_cmp *pc = &out->pairs[i];
        const struct tp_journey *jn =
            r->journeys[tp_compare_index(&st->p, 0, pc->journey, 0)].journey;
        struct tp_pathset *noise = st->noise[pc->journey].steps;
        pc->rounds = rounds;
        for (size_t s = 0; s < pc->nsteps && rc == TP_OK; s++) {
            struct tp_step_cmp *sc = &pc->steps[s];
            if (noise) {
                sc->noise_from = rounds * (learns_twice(&st->p, jn) ? 2u : 1u);
                rc = copy_noise(st->p.secrets, &noise[s], sc);
            }
            if (rc == TP_OK)
                rc = acc_settle(&st->acc[i][s], rounds, noise ? &noise[s] : NULL, sc);
        }
        if (rc != TP_OK)
            return tp_error_set(err, TP_ERR_NOMEM, "out of memory");
        rc = judge_pair(&st->p, jn, pc, err);
    }
    if (rc == TP_OK)
        rc = holm_all(out, &st->p.defaults, err);
    for (size_t i = 0; rc == TP_OK && i < out->npairs; i++) {
        struct tp_pair_cmp *pc = &out->pairs[i];
        rc = conclude_pair(&st->p, r->journeys[tp_compare_index(&st->p, 0, pc->journey, 0)].journey,
                           pc, err);
        out->fails |= pc->fails;
    }
    return rc;
}

void tp_compare_state_free(struct tp_compare_state *st)
{
    if (!st)
        return;
    for (size_t i = 0; st->acc && i < st->out->npairs; i++) {
        for (size_t s = 0; st->acc[i] && s < st->out->pairs[i].nsteps; s++)
            acc_clear(&st->acc[i][s], st->p.rounds);
        free(st->acc[i]);
    }
    free(st->acc);
    for (size_t j = 0; st->noise && j < st->p.njourneys; j++) {
        for (size_t s = 0; s < st->noise[j].nsteps; s++)
            tp_pathset_clear(&st->noise[j].steps[s]);
        free(st->noise[j].steps);
    }
    free(st->noise);
    free(st);
}

tp_err tp_compare_run(struct tp_run_report *r, const struct tp_compare_plan *p,
                      struct tp_comparison *out, struct tp_error *err)
{
    struct tp_compare_state *st = NULL;
    tp_err rc = tp_compare_start(p, out, &st, err);
    for (unsigned k = 0; rc == TP_OK && k < p->rounds && r->njourneys > 0; k++)
        rc = tp_compare_feed(st, r, k, err);
    if (rc == TP_OK && r->njourneys > 0)
        rc = tp_compare_finish(st, r, err);
    tp_compare_state_free(st);
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
