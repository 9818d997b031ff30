/* The entries a run publishes: keys, stream IDs and field/value pairs
 * (DESIGN.md §Redis streams; every field in docs/redis-schema.md). Pure.
 *
 * Choices where DESIGN.md is silent (documented in docs/redis-schema.md):
 * - A steps entry's side that was skipped has status, ms and phases "" and
 *   error "skipped"; a side that ran without an HTTP response has status "0".
 *   delta_ms and ratio are "" when either side was skipped, ratio also when the
 *   baseline took 0 ms. ratio has four decimals.
 * - Numbers of the runs entry come from the run's comparison: integers as they
 *   are, reals with at most 3 decimals (p at most 12), trailing zeros dropped.
 * - match, diffs and diff of a steps entry are the comparison's for that round:
 *   nothing here diffs or learns noise again. Values arrive masked (result.h,
 *   compare.h); here they are only made valid UTF-8.
 * - Monitoring (one target): cand and every compared field are "", the runs
 *   verdict is PASS or FAIL, n the rounds, base_errors the failed rounds,
 *   worst_step the step that failed in most rounds. */
#include "twinprobe/streams.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "twinprobe/diff.h"
#include "twinprobe/mask.h"
#include "twinprobe/utf8.h"

/* ---- stream IDs ------------------------------------------------------------ */

static int parse_u64(const char *s, size_t len, uint64_t *out)
{
    uint64_t v = 0;
    if (len == 0 || len > 20)
        return -1;
    for (size_t i = 0; i < len; i++) {
        unsigned d;
        if (s[i] < '0' || s[i] > '9')
            return -1;
        d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

int tp_stream_id_parse(const char *s, struct tp_stream_id *out)
{
    const char *dash;
    struct tp_stream_id id;
    if (!s || !(dash = strchr(s, '-')))
        return -1;
    if (parse_u64(s, (size_t)(dash - s), &id.ms) != 0 ||
        parse_u64(dash + 1, strlen(dash + 1), &id.seq) != 0)
        return -1;
    *out = id;
    return 0;
}

char *tp_stream_id_format(struct tp_stream_id id, char *buf)
{
    snprintf(buf, TP_STREAM_ID_MAX, "%" PRIu64 "-%" PRIu64, id.ms, id.seq);
    return buf;
}

int tp_stream_id_cmp(struct tp_stream_id a, struct tp_stream_id b)
{
    if (a.ms != b.ms)
        return a.ms < b.ms ? -1 : 1;
    if (a.seq != b.seq)
        return a.seq < b.seq ? -1 : 1;
    return 0;
}

static struct tp_stream_top *tops_find(const struct tp_stream_tops *t, const char *key)
{
    for (size_t i = 0; t && i < t->count; i++)
        if (strcmp(t->items[i].key, key) == 0)
            return &t->items[i];
    return NULL;
}

tp_err tp_stream_tops_raise(struct tp_stream_tops *t, const char *key, struct tp_stream_id id)
{
    struct tp_stream_top *top = tops_find(t, key);
    if (top) {
        if (tp_stream_id_cmp(id, top->id) > 0)
            top->id = id;
        return TP_OK;
    }
    if (t->count == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 8;
        struct tp_stream_top *items = realloc(t->items, cap * sizeof *items);
        if (!items)
            return TP_ERR_NOMEM;
        t->items = items;
        t->cap = cap;
    }
    t->items[t->count].key = strdup(key);
    if (!t->items[t->count].key)
        return TP_ERR_NOMEM;
    t->items[t->count++].id = id;
    return TP_OK;
}

const struct tp_stream_id *tp_stream_tops_get(const struct tp_stream_tops *t, const char *key)
{
    const struct tp_stream_top *top = tops_find(t, key);
    return top ? &top->id : NULL;
}

void tp_stream_tops_clear(struct tp_stream_tops *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->count; i++)
        free(t->items[i].key);
    free(t->items);
    memset(t, 0, sizeof *t);
}

/* ---- entries and batches ------------------------------------------------------- */

static const char *const entry_types[] = {"xadd", "hset", "sadd"};

const char *tp_entry_type_name(enum tp_entry_type t)
{
    return (size_t)t < sizeof entry_types / sizeof entry_types[0] ? entry_types[t] : "?";
}

int tp_entry_type_from_name(const char *name)
{
    for (size_t i = 0; name && i < sizeof entry_types / sizeof entry_types[0]; i++)
        if (strcmp(entry_types[i], name) == 0)
            return (int)i;
    return -1;
}

struct tp_entry *tp_batch_add(struct tp_batch *b, enum tp_entry_type type, const char *key)
{
    struct tp_entry *e;
    if (b->count == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 16;
        struct tp_entry *items = realloc(b->items, cap * sizeof *items);
        if (!items)
            return NULL;
        b->items = items;
        b->cap = cap;
    }
    e = &b->items[b->count];
    memset(e, 0, sizeof *e);
    e->type = type;
    e->key = strdup(key);
    if (!e->key)
        return NULL;
    b->count++;
    return e;
}

tp_err tp_batch_take(struct tp_batch *b, struct tp_entry *e)
{
    if (b->count == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 16;
        struct tp_entry *items = realloc(b->items, cap * sizeof *items);
        if (!items)
            return TP_ERR_NOMEM;
        b->items = items;
        b->cap = cap;
    }
    b->items[b->count++] = *e;
    memset(e, 0, sizeof *e);
    return TP_OK;
}

tp_err tp_entry_add_field(struct tp_entry *e, const char *name, const char *value)
{
    struct tp_entry_field f;
    if (e->nfields == e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 32;
        struct tp_entry_field *fields = realloc(e->fields, cap * sizeof *fields);
        if (!fields)
            return TP_ERR_NOMEM;
        e->fields = fields;
        e->cap = cap;
    }
    f.name = strdup(name);
    f.value = strdup(value);
    if (!f.name || !f.value) {
        free(f.name);
        free(f.value);
        return TP_ERR_NOMEM;
    }
    e->fields[e->nfields++] = f;
    return TP_OK;
}

void tp_entry_clear(struct tp_entry *e)
{
    if (!e)
        return;
    for (size_t i = 0; i < e->nfields; i++) {
        free(e->fields[i].name);
        free(e->fields[i].value);
    }
    free(e->fields);
    free(e->key);
    memset(e, 0, sizeof *e);
}

void tp_batch_clear(struct tp_batch *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < b->count; i++)
        tp_entry_clear(&b->items[i]);
    free(b->items);
    memset(b, 0, sizeof *b);
}

/* ---- field tables ---------------------------------------------------------------- */

enum step_field {
    SF_RUN,
    SF_ROUND,
    SF_STEP,
    SF_BASE,
    SF_CAND,
    SF_BASE_STATUS,
    SF_CAND_STATUS,
    SF_BASE_OK,
    SF_CAND_OK,
    SF_BASE_MS,
    SF_CAND_MS,
    SF_DELTA_MS,
    SF_RATIO,
    SF_BASE_PHASES, /* five: dns, connect, tls, ttfb, download */
    SF_CAND_PHASES = SF_BASE_PHASES + 5,
    SF_BASE_REUSED = SF_CAND_PHASES + 5,
    SF_CAND_REUSED,
    SF_MATCH,
    SF_DIFFS,
    SF_DIFF,
    SF_BASE_ERROR,
    SF_CAND_ERROR,
    SF_COUNT_
};

/* clang-format off */
static const char *const step_fields[SF_COUNT_] = {
    "run", "round", "step", "base", "cand", "base_status", "cand_status", "base_ok", "cand_ok",
    "base_ms", "cand_ms", "delta_ms", "ratio",
    "base_dns_ms", "base_connect_ms", "base_tls_ms", "base_ttfb_ms", "base_download_ms",
    "cand_dns_ms", "cand_connect_ms", "cand_tls_ms", "cand_ttfb_ms", "cand_download_ms",
    "base_reused", "cand_reused", "match", "diffs", "diff", "base_error", "cand_error"};
/* clang-format on */

enum run_field {
    RF_RUN,
    RF_JOURNEY,
    RF_BASE,
    RF_CAND,
    RF_ROUNDS,
    RF_VERDICT,
    RF_SCORE,
    RF_WORST_STEP,
    RF_DELTA_PCT,
    RF_CI_LOW_PCT,
    RF_CI_HIGH_PCT,
    RF_P,
    RF_N,
    RF_BASE_ERRORS,
    RF_CAND_ERRORS,
    RF_MISMATCHES,
    RF_REASON,
    RF_VERSION,
    RF_COUNT_
};

static const char *const run_fields[RF_COUNT_] = {
    "run",   "journey",     "base",        "cand",       "rounds",      "verdict",
    "score", "worst_step",  "delta_pct",   "ci_low_pct", "ci_high_pct", "p",
    "n",     "base_errors", "cand_errors", "mismatches", "reason",      "version"};

const char *const *tp_streams_step_fields(size_t *count)
{
    *count = SF_COUNT_;
    return step_fields;
}

const char *const *tp_streams_run_fields(size_t *count)
{
    *count = RF_COUNT_;
    return run_fields;
}

/* ---- values ------------------------------------------------------------------------ */

/* The values of one entry: each either points into its own buffer or at a
 * string that outlives the entry's construction. owned[] marks malloc'd ones. */
#define MAX_FIELDS ((int)SF_COUNT_ > (int)RF_COUNT_ ? (int)SF_COUNT_ : (int)RF_COUNT_)
struct values {
    const char *v[MAX_FIELDS];
    char buf[MAX_FIELDS][48];
    char *owned[MAX_FIELDS];
};

static void values_init(struct values *vals, size_t n)
{
    memset(vals, 0, sizeof *vals);
    for (size_t i = 0; i < n; i++)
        vals->v[i] = "";
}

static void values_free(struct values *vals, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(vals->owned[i]);
}

/* Fixed decimals ("41.200"); "" for a number that is not finite. */
static void set_fixed(struct values *vals, size_t i, double v, int decimals)
{
    if (!isfinite(v) || fabs(v) >= 1e15) {
        vals->v[i] = "";
        return;
    }
    snprintf(vals->buf[i], sizeof vals->buf[i], "%.*f", decimals, v);
    vals->v[i] = vals->buf[i];
}

static void set_ms(struct values *vals, size_t i, double ms)
{
    set_fixed(vals, i, ms, 3);
}

static void set_long(struct values *vals, size_t i, long long n)
{
    snprintf(vals->buf[i], sizeof vals->buf[i], "%lld", n);
    vals->v[i] = vals->buf[i];
}

/* A real as plain decimal with at most `decimals` decimals, trailing zeros cut. */
static void set_plain(struct values *vals, size_t i, double v, int decimals)
{
    char *s = vals->buf[i];
    if (!isfinite(v) || fabs(v) >= 1e15) {
        vals->v[i] = "";
        return;
    }
    snprintf(s, sizeof vals->buf[i], "%.*f", decimals, v);
    if (strchr(s, '.')) {
        char *end = s + strlen(s) - 1;
        while (*end == '0')
            *end-- = '\0';
        if (*end == '.')
            *end = '\0';
    }
    vals->v[i] = strcmp(s, "-0") == 0 ? "0" : s;
}

/* Copies s with every byte that is not well-formed UTF-8 replaced by U+FFFD.
 * NULL on no memory. */
static char *clean_value(const char *s)
{
    s = s ? s : "";
    return tp_utf8_repair(s, strlen(s), NULL);
}

/* Adds fields names[0..n) with vals to e, each value cleaned. */
static tp_err add_fields(struct tp_entry *e, const char *const *names, const struct values *vals,
                         size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char *v = clean_value(vals->v[i]);
        tp_err rc = v ? tp_entry_add_field(e, names[i], v) : TP_ERR_NOMEM;
        free(v);
        if (rc != TP_OK)
            return rc;
    }
    return TP_OK;
}

static const char *step_error(const struct tp_step_view *v)
{
    if (v->skipped)
        return "skipped";
    return v->error ? v->error : "";
}

/* The status, ok, ms, phases, reused and error of one side. */
static void side_values(struct values *vals, const struct tp_step_view *s, size_t status,
                        size_t ok, size_t ms, size_t phases, size_t reused, size_t error)
{
    const struct tp_timings *t = &s->timings;
    const double ph[5] = {t->dns_ms, t->connect_ms, t->tls_ms, t->ttfb_ms, t->download_ms};

    vals->v[ok] = s->ok && !s->skipped ? "1" : "0";
    vals->v[reused] = !s->skipped && s->reused ? "1" : "0";
    vals->v[error] = step_error(s);
    if (s->skipped)
        return;
    set_long(vals, status, s->status);
    set_ms(vals, ms, t->total_ms);
    for (size_t i = 0; i < 5; i++)
        set_ms(vals, phases + i, ph[i]);
}

struct build {
    const struct tp_run_report *r;
    const struct tp_compare_plan *plan;
    const struct tp_streams_opts *o;
    const char *location;
    struct tp_batch *out;
};

static const struct tp_journey_result *result_at(const struct build *b, unsigned round, size_t j,
                                           size_t t)
{
    return &b->r->journeys[tp_compare_index(b->plan, round, j, t)];
}

/* prefix:kind:location[:journey] (new), made valid UTF-8 (a --location from a
 * shell in another encoding), never masked. */
static char *make_key(const struct build *b, const char *kind, const char *journey)
{
    size_t len = strlen(b->o->prefix) + strlen(kind) + strlen(b->location) +
                 (journey ? strlen(journey) + 1 : 0) + 3;
    char *key = malloc(len), *clean;
    if (!key)
        return NULL;
    if (journey)
        snprintf(key, len, "%s:%s:%s:%s", b->o->prefix, kind, b->location, journey);
    else
        snprintf(key, len, "%s:%s:%s", b->o->prefix, kind, b->location);
    clean = clean_value(key);
    free(key);
    return clean;
}

/* One steps entry: step s of journey j in round k, baseline against the
 * candidate of pc (NULL: monitoring). */
static tp_err step_entry(const struct build *b, const char *key, size_t j, unsigned k,
                         const struct tp_pair_cmp *pc, size_t s)
{
    const struct tp_journey_result *bj = result_at(b, k, j, 0);
    const struct tp_journey *jn = bj->journey;
    struct tp_step_view bs;
    struct values vals;
    struct tp_entry *e;
    tp_err rc = TP_OK;

    tp_step_view(bj, s, &bs);
    values_init(&vals, SF_COUNT_);
    vals.v[SF_RUN] = b->r->run_id;
    set_long(&vals, SF_ROUND, (long long)k + 1);
    vals.v[SF_STEP] = jn->steps[s].name;
    vals.v[SF_BASE] = bj->target->name;
    side_values(&vals, &bs, SF_BASE_STATUS, SF_BASE_OK, SF_BASE_MS, SF_BASE_PHASES, SF_BASE_REUSED,
                SF_BASE_ERROR);
    if (pc) {
        const struct tp_journey_result *cj = result_at(b, k, j, pc->cand);
        struct tp_step_view cs;
        const struct tp_round_pair *pair = &pc->steps[s].rounds[k];
        tp_step_view(cj, s, &cs);
        vals.v[SF_CAND] = cj->target->name;
        side_values(&vals, &cs, SF_CAND_STATUS, SF_CAND_OK, SF_CAND_MS, SF_CAND_PHASES,
                    SF_CAND_REUSED, SF_CAND_ERROR);
        if (!bs.skipped && !cs.skipped) {
            double bm = bs.timings.total_ms, cm = cs.timings.total_ms;
            set_ms(&vals, SF_DELTA_MS, cm - bm);
            if (bm > 0)
                set_fixed(&vals, SF_RATIO, cm / bm, 4);
        }
        vals.v[SF_MATCH] = pair->diffs ? "0" : "1";
        set_long(&vals, SF_DIFFS, (long long)pair->diffs);
        if (pair->first_diff)
            vals.v[SF_DIFF] = pair->first_diff;
    }
    if (!(e = tp_batch_add(b->out, TP_ENTRY_XADD, key))) {
        rc = TP_ERR_NOMEM;
        goto done;
    }
    e->ms = bj->started_ms > 0 ? bj->started_ms : b->r->started_ms;
    e->maxlen = b->o->maxlen;
    rc = add_fields(e, step_fields, &vals, SF_COUNT_);
done:
    values_free(&vals, SF_COUNT_);
    return rc;
}

/* The runs numbers of a comparison: the journey's verdict, and the numbers of
 * its total latency per round. */
static void pair_values(struct values *vals, const struct tp_pair_cmp *pc)
{
    const struct tp_step_verdict *t = &pc->total;
    set_long(vals, RF_ROUNDS, (long long)pc->rounds);
    vals->v[RF_VERDICT] = tp_verdict_name(pc->verdict.verdict);
    set_plain(vals, RF_SCORE, round(pc->verdict.score * 1000.0) / 1000.0, 3);
    if (pc->nsteps)
        vals->v[RF_WORST_STEP] = pc->steps[pc->verdict.worst_step].name;
    set_plain(vals, RF_DELTA_PCT, round(t->delta_pct * 1000.0) / 1000.0, 3);
    set_plain(vals, RF_CI_LOW_PCT, round(t->ci_low_pct * 1000.0) / 1000.0, 3);
    set_plain(vals, RF_CI_HIGH_PCT, round(t->ci_high_pct * 1000.0) / 1000.0, 3);
    set_plain(vals, RF_P, t->p, 12);
    set_long(vals, RF_N, (long long)t->n);
    set_long(vals, RF_BASE_ERRORS, (long long)t->base_errors);
    set_long(vals, RF_CAND_ERRORS, (long long)t->cand_errors);
    set_long(vals, RF_MISMATCHES, (long long)pc->mismatches);
    vals->v[RF_REASON] = pc->verdict.reason;
}

/* Monitoring: PASS/FAIL from the rounds, the step that failed most, a reason. */
static tp_err monitor_values(const struct build *b, size_t j, struct values *vals)
{
    const struct tp_journey *jn = result_at(b, 0, j, 0)->journey;
    size_t *fails = calloc(jn->nsteps + 1, sizeof *fails), worst = 0, failed = 0;
    const struct tp_journey_result *first_failed = NULL;
    char reason[400];

    if (!fails)
        return TP_ERR_NOMEM;
    for (unsigned k = 0; k < b->plan->rounds; k++) {
        const struct tp_journey_result *jr = result_at(b, k, j, 0);
        if (jr->ok)
            continue;
        failed++;
        if (!first_failed)
            first_failed = jr;
        for (size_t s = 0; s < tp_journey_result_nsteps(jr); s++) {
            struct tp_step_view v;
            tp_step_view(jr, s, &v);
            if (!v.ok && !v.skipped)
                fails[s]++;
        }
    }
    for (size_t s = 1; s < jn->nsteps; s++)
        if (fails[s] > fails[worst])
            worst = s;
    vals->v[RF_VERDICT] = failed ? "FAIL" : "PASS";
    if (failed && jn->nsteps && fails[worst])
        vals->v[RF_WORST_STEP] = jn->steps[worst].name;
    set_long(vals, RF_ROUNDS, (long long)b->plan->rounds);
    set_long(vals, RF_N, (long long)b->plan->rounds);
    set_long(vals, RF_BASE_ERRORS, (long long)failed);
    if (!failed) {
        snprintf(reason, sizeof reason, "all %u rounds ok", b->plan->rounds);
    } else {
        const char *msg = "", *step = "";
        for (size_t s = 0; s < tp_journey_result_nsteps(first_failed); s++) {
            struct tp_step_view v;
            tp_step_view(first_failed, s, &v);
            if (!v.ok && !v.skipped) {
                step = jn->steps[s].name;
                msg = step_error(&v);
                break;
            }
        }
        snprintf(reason, sizeof reason, "%zu of %u rounds failed (first: %s: %s)", failed,
                 b->plan->rounds, step, msg);
    }
    vals->owned[RF_REASON] = strdup(reason);
    free(fails);
    if (!vals->owned[RF_REASON])
        return TP_ERR_NOMEM;
    vals->v[RF_REASON] = vals->owned[RF_REASON];
    return TP_OK;
}

/* The runs entry of journey j against the candidate of pc (NULL: monitoring),
 * then its latest hash when `latest` is set. */
static tp_err run_entry(const struct build *b, const char *runs_key, const char *latest_key,
                        size_t j, const struct tp_pair_cmp *pc, int latest)
{
    const struct tp_journey_result *bj = result_at(b, 0, j, 0);
    struct values vals;
    tp_err rc = TP_OK;

    values_init(&vals, RF_COUNT_);
    vals.v[RF_RUN] = b->r->run_id;
    vals.v[RF_JOURNEY] = bj->journey->name;
    vals.v[RF_BASE] = bj->target->name;
    vals.v[RF_VERSION] = b->o->version ? b->o->version : "";
    if (pc) {
        vals.v[RF_CAND] = pc->cand_name;
        pair_values(&vals, pc);
    } else {
        rc = monitor_values(b, j, &vals);
    }
    for (int pass = 0; rc == TP_OK && pass < 1 + (latest ? 1 : 0); pass++) {
        struct tp_entry *e = tp_batch_add(b->out, pass ? TP_ENTRY_HSET : TP_ENTRY_XADD,
                                          pass ? latest_key : runs_key);
        if (!e) {
            rc = TP_ERR_NOMEM;
            break;
        }
        if (!pass) {
            e->ms = b->r->started_ms;
            e->maxlen = b->o->maxlen;
        }
        rc = add_fields(e, run_fields, &vals, RF_COUNT_);
    }
    values_free(&vals, RF_COUNT_);
    return rc;
}

/* Candidates: every target but the baseline and the noise run. */
static size_t candidates(const struct tp_compare_plan *p, size_t *cands)
{
    size_t n = 0;
    for (size_t t = 1; t < p->ntargets; t++)
        if ((long)t != p->noise_target)
            cands[n++] = t;
    return n;
}

tp_err tp_streams_build(const struct tp_run_report *r, const struct tp_compare_plan *plan,
                        const struct tp_streams_opts *o, struct tp_batch *out, struct tp_error *err)
{
    struct build b = {r, plan, o, NULL, out};
    size_t *cands = NULL, ncand;
    char **keys = NULL, *runs_key = NULL;
    size_t nkeys = 0;
    struct tp_entry *index;
    tp_err rc = TP_OK;

    if (!r || !plan || !o || !o->prefix || !out)
        return tp_error_set(err, TP_ERR_INTERNAL, "streams: missing argument");
    if ((size_t)plan->rounds * plan->njourneys * plan->ntargets != r->njourneys ||
        plan->ntargets == 0)
        return tp_error_set(err, TP_ERR_INTERNAL, "streams: the plan does not match the run");
    if (r->njourneys == 0)
        return TP_OK;
    b.location = o->location ? o->location : r->location ? r->location : "local";
    cands = calloc(plan->ntargets, sizeof *cands);
    keys = calloc(plan->njourneys + 1, sizeof *keys);
    runs_key = make_key(&b, "runs", NULL);
    if (!cands || !keys || !runs_key) {
        rc = TP_ERR_NOMEM;
        goto done;
    }
    ncand = candidates(plan, cands);
    for (size_t j = 0; j < plan->njourneys && ncand; j++)
        for (size_t c = 0; c < ncand; c++)
            if (!tp_comparison_find(r->comparison, j, cands[c])) {
                rc = TP_ERR_INTERNAL;
                goto done;
            }
    for (size_t j = 0; j < plan->njourneys && rc == TP_OK; j++) {
        const struct tp_journey *jn = result_at(&b, 0, j, 0)->journey;
        if (!(keys[nkeys++] = make_key(&b, "steps", jn->name))) {
            rc = TP_ERR_NOMEM;
            break;
        }
        for (unsigned k = 0; k < plan->rounds && rc == TP_OK; k++)
            for (size_t c = 0; c < (ncand ? ncand : 1) && rc == TP_OK; c++)
                for (size_t s = 0; s < jn->nsteps && rc == TP_OK; s++)
                    rc = step_entry(&b, keys[j], j, k,
                                    ncand ? tp_comparison_find(r->comparison, j, cands[c]) : NULL,
                                    s);
    }
    for (size_t j = 0; j < plan->njourneys && rc == TP_OK; j++) {
        char *latest = make_key(&b, "latest", result_at(&b, 0, j, 0)->journey->name);
        if (!latest) {
            rc = TP_ERR_NOMEM;
            break;
        }
        for (size_t c = 0; c < (ncand ? ncand : 1) && rc == TP_OK; c++)
            rc = run_entry(&b, runs_key, latest, j,
                           ncand ? tp_comparison_find(r->comparison, j, cands[c]) : NULL,
                           c + 1 == (ncand ? ncand : 1));
        free(latest);
    }
    if (rc == TP_OK) {
        size_t len = strlen(o->prefix) + sizeof ":index";
        char *index_key = malloc(len);
        if (index_key)
            snprintf(index_key, len, "%s:index", o->prefix);
        if (!index_key || !(index = tp_batch_add(out, TP_ENTRY_SADD, index_key)))
            rc = TP_ERR_NOMEM;
        free(index_key);
        for (size_t i = 0; i < nkeys && rc == TP_OK; i++)
            rc = tp_entry_add_field(index, "member", keys[i]);
        if (rc == TP_OK)
            rc = tp_entry_add_field(index, "member", runs_key);
    }
done:
    for (size_t i = 0; keys && i < nkeys; i++)
        free(keys[i]);
    free(keys);
    free(runs_key);
    free(cands);
    if (rc != TP_OK)
        return tp_error_set(err, rc,
                            rc == TP_ERR_NOMEM ? "out of memory building the Redis entries"
                                               : "streams: the run has no comparison for a "
                                                 "candidate");
    return TP_OK;
}

/* ---- IDs ----------------------------------------------------------------------------- */

tp_err tp_streams_assign_ids(struct tp_batch *b, struct tp_stream_tops *tops, struct tp_error *err)
{
    for (size_t i = 0; i < b->count; i++) {
        struct tp_entry *e = &b->items[i];
        struct tp_stream_id id;
        const struct tp_stream_id *top;
        if (e->type != TP_ENTRY_XADD)
            continue;
        if (e->id[0] && tp_stream_id_parse(e->id, &id) == 0) {
            if (tp_stream_tops_raise(tops, e->key, id) != TP_OK)
                return tp_error_set(err, TP_ERR_NOMEM, "out of memory");
            continue;
        }
        id.ms = e->ms > 0 ? (uint64_t)e->ms : 0;
        id.seq = 0;
        top = tp_stream_tops_get(tops, e->key);
        if (top && id.ms <= top->ms) {
            if (top->seq == UINT64_MAX) { /* no seq left: on to the next millisecond */
                id.ms = top->ms + 1;
                id.seq = 0;
            } else {
                id.ms = top->ms;
                id.seq = top->seq + 1;
            }
        }
        if (id.ms == 0 && id.seq == 0)
            id.seq = 1; /* Redis refuses 0-0 */
        tp_stream_id_format(id, e->id);
        if (tp_stream_tops_raise(tops, e->key, id) != TP_OK)
            return tp_error_set(err, TP_ERR_NOMEM, "out of memory");
    }
    return TP_OK;
}

tp_err tp_streams_keys(const struct tp_batch *b, const char ***keys, size_t *count)
{
    const char **out = calloc(b->count + 1, sizeof *out);
    size_t n = 0;
    if (!out)
        return TP_ERR_NOMEM;
    for (size_t i = 0; i < b->count; i++) {
        size_t k;
        if (b->items[i].type != TP_ENTRY_XADD)
            continue;
        for (k = 0; k < n && strcmp(out[k], b->items[i].key) != 0; k++)
            ;
        if (k == n)
            out[n++] = b->items[i].key;
    }
    *keys = out;
    *count = n;
    return TP_OK;
}
