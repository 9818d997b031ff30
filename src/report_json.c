/* The JSON report (DESIGN.md §JSON report), built with jansson and dumped
 * indented with a trailing newline. Keys are the documented ones plus
 * "trace_id" on each journey result.
 *
 * Choices where DESIGN.md is silent:
 * - A skipped step: "ok": false, "skipped": true, "status": null,
 *   "failure": null, "attempts": 0, "reused": false, "http_version": null,
 *   "primary_ip": null, "timings_ms": null, "captures": {}, "assertions": [];
 *   "error" is null unless the runner left a message.
 * - A step that ran but got no HTTP response (dns, connect, timeout...):
 *   "status": null; "http_version" and "primary_ip" null when unknown;
 *   "timings_ms" is an object (the time spent up to the failure).
 * - "error" is the step result's message, else the evaluation's first one.
 * - Timings are reals rounded to 3 decimals and printed with 15 significant
 *   digits, so 41.4 prints as 41.4 (a whole value as 0.0: still a number).
 * - "location" is null when the report has none; "comparisons" is [] when the
 *   report has none.
 * - Bytes that are not well-formed UTF-8 (a message quoting a binary body)
 *   become U+FFFD each; jansson would refuse the whole string otherwise.
 * - Each comparison step and each comparison carry "fails": the comparison's
 *   one rule (compare.h) for whether it fails the run. Each comparison step
 *   carries "noise": {"from": N, "paths": [...]}, what was learned as volatile
 *   from N baseline results and left out of the comparison (auditable).
 * Secrets: strings arrive masked from their source (result.h, compare.h); this
 * file never masks, so no key, class or id can be touched by a secret. */
#include "twinprobe/report.h"

#include "twinprobe/compare.h"
#include "twinprobe/utf8.h"
#include "twinprobe/version.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "twinprobe/mask.h"


#define DUMP_FLAGS (JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15))

/* Sets key to v (taken, even on failure); -1 when v is NULL or on no memory. */
static int put(json_t *obj, const char *key, json_t *v)
{
    return v ? json_object_set_new(obj, key, v) : -1;
}

/* Appends v (taken); -1 when v is NULL or on no memory. */
static int push(json_t *arr, json_t *v)
{
    return v ? json_array_append_new(arr, v) : -1;
}

static json_t *valid_string(const char *s, size_t len)
{
    size_t n;
    char *fixed = tp_utf8_repair(s, len, &n);
    json_t *out = fixed ? json_stringn(fixed, n) : NULL;

    free(fixed);
    return out;
}

/* s as a JSON string made valid UTF-8, or null for NULL. */
static json_t *str(const char *s)
{
    return s ? valid_string(s, strlen(s)) : json_null();
}

/* A JSON value of the run (masked at its source): a new reference, null for NULL. */
static json_t *value(json_t *v)
{
    return v ? json_incref(v) : json_null();
}

/* ms rounded to 3 decimals; null when not finite (never, by contract). */
static json_t *ms_value(double ms)
{
    double v;

    if (!isfinite(ms))
        return json_null();
    v = round(ms * 1000.0) / 1000.0;
    return json_real(v == 0 ? 0.0 : v); /* never "-0.0" */
}

static json_t *timings_json(const struct tp_timings *t)
{
    json_t *o = json_object();

    if (!o || put(o, "dns", ms_value(t->dns_ms)) || put(o, "connect", ms_value(t->connect_ms)) ||
        put(o, "tls", ms_value(t->tls_ms)) || put(o, "ttfb", ms_value(t->ttfb_ms)) ||
        put(o, "download", ms_value(t->download_ms)) || put(o, "total", ms_value(t->total_ms))) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *assertion_json(const struct tp_assertion *a)
{
    json_t *o = json_object();

    if (!o || put(o, "source", str(a->source)) || put(o, "predicate", str(a->predicate)) ||
        put(o, "expected", value(a->expected)) || put(o, "actual", value(a->actual)) ||
        put(o, "ok", json_boolean(a->ok))) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* A string field of the response, or null when empty (unknown). */
static json_t *text_or_null(const char *s)
{
    return s[0] ? str(s) : json_null();
}

static json_t *step_json(const struct tp_step *step,
                         const struct tp_step_result *s)
{
    const struct tp_response *resp = &s->response;
    const char *err = s->error ? s->error : s->eval.error;
    const char *failure = s->skipped ? NULL : tp_failure_name(s->failure);
    json_t *o = json_object(), *assertions = json_array();

    if (!o || !assertions)
        goto fail;
    if (!s->skipped)
        for (size_t i = 0; i < s->eval.nassertions; i++)
            if (push(assertions, assertion_json(&s->eval.assertions[i])))
                goto fail;
    if (put(o, "name", str(step ? step->name : NULL)) ||
        put(o, "ok", json_boolean(s->ok && !s->skipped)) ||
        put(o, "skipped", json_boolean(s->skipped)) ||
        put(o, "status",
            !s->skipped && resp->status > 0 ? json_integer(resp->status) : json_null()) ||
        put(o, "failure", failure ? json_string(failure) : json_null()) ||
        put(o, "error", str(err)) ||
        put(o, "attempts", json_integer(s->skipped ? 0 : (json_int_t)s->attempts)) ||
        put(o, "reused", json_boolean(!s->skipped && resp->reused)) ||
        put(o, "http_version",
            s->skipped ? json_null() : text_or_null(resp->http_version)) ||
        put(o, "primary_ip", s->skipped ? json_null() : text_or_null(resp->primary_ip)) ||
        put(o, "timings_ms", s->skipped ? json_null() : timings_json(&resp->timings)) ||
        put(o, "captures",
            !s->skipped && s->eval.captures ? value(s->eval.captures) : json_object()))
        goto fail;
    if (put(o, "assertions", assertions)) {
        assertions = NULL; /* taken */
        goto fail;
    }
    return o;

fail:
    json_decref(assertions);
    json_decref(o);
    return NULL;
}

static json_t *journey_json(const struct tp_journey_result *jr)
{
    const struct tp_journey *j = jr->journey;
    size_t nsteps = j && jr->steps ? j->nsteps : 0;
    json_t *o = json_object(), *steps = json_array();

    if (!o || !steps)
        goto fail;
    for (size_t k = 0; k < nsteps; k++)
        if (push(steps, step_json(j->steps ? &j->steps[k] : NULL, &jr->steps[k])))
            goto fail;
    if (put(o, "journey", str(j ? j->name : NULL)) ||
        put(o, "target", str(jr->target ? jr->target->name : NULL)) ||
        put(o, "round", json_integer(jr->round)) || put(o, "ok", json_boolean(jr->ok)) ||
        put(o, "trace_id", json_string(jr->trace_id)))
        goto fail;
    if (put(o, "steps", steps)) {
        steps = NULL;
        goto fail;
    }
    return o;

fail:
    json_decref(steps);
    json_decref(o);
    return NULL;
}

/* ---- comparisons ----------------------------------------------------------- */

/* A number rounded to 3 decimals, null when it does not exist (NaN, infinite). */
static json_t *number(double v)
{
    return isfinite(v) ? ms_value(v) : json_null();
}

static json_t *pvalue(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

/* What was learned as noise: {"from": baseline results, "paths": [...]}. */
static json_t *noise_json(const struct tp_step_cmp *sc)
{
    json_t *o = json_object(), *paths = json_array();
    for (size_t i = 0; paths && i < sc->nnoise; i++)
        if (push(paths, str(sc->noise[i]))) {
            json_decref(paths);
            paths = NULL;
        }
    if (!o || !paths || put(o, "from", json_integer((json_int_t)sc->noise_from))) {
        json_decref(o);
        json_decref(paths);
        return NULL;
    }
    if (put(o, "paths", paths)) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *mismatches_json(const struct tp_step_cmp *sc)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < sc->mismatches.count; i++) {
        const struct tp_mismatch *x = &sc->mismatches.items[i];
        json_t *o = json_object();
        if (!o || put(o, "path", str(x->path)) ||
            put(o, "kind", json_string(tp_mismatch_kind_name(x->kind))) ||
            put(o, "base", str(x->base)) || put(o, "cand", str(x->cand)) ||
            put(o, "rounds", json_integer((json_int_t)sc->mismatch_rounds[i])) || push(arr, o)) {
            json_decref(o);
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

/* One step of a comparison: DESIGN.md's keys, then p95s, the margin, the count of
 * distinct mismatches, the reason and whether it fails the run. */
static json_t *cmp_step_json(const struct tp_step_cmp *sc)
{
    const struct tp_step_verdict *v = &sc->verdict;
    json_t *o = json_object();
    if (!o || put(o, "step", str(sc->name)) ||
        put(o, "verdict", json_string(tp_verdict_name(v->verdict))) ||
        put(o, "method", str(v->method)) || put(o, "n", json_integer((json_int_t)v->n)) ||
        put(o, "base_median_ms", number(v->base_median_ms)) ||
        put(o, "cand_median_ms", number(v->cand_median_ms)) ||
        put(o, "delta_pct", number(v->delta_pct)) || put(o, "ci_low_pct", number(v->ci_low_pct)) ||
        put(o, "ci_high_pct", number(v->ci_high_pct)) || put(o, "p", pvalue(v->p)) ||
        put(o, "p_adj", pvalue(v->p_adj)) ||
        put(o, "base_errors", json_integer((json_int_t)v->base_errors)) ||
        put(o, "cand_errors", json_integer((json_int_t)v->cand_errors)) ||
        put(o, "mismatches", mismatches_json(sc)) ||
        put(o, "base_p95_ms", number(v->base_p95_ms)) ||
        put(o, "cand_p95_ms", number(v->cand_p95_ms)) ||
        put(o, "margin_pct", number(v->margin_pct)) ||
        put(o, "mismatch_count", json_integer((json_int_t)sc->mismatches.total)) ||
        put(o, "reason", str(v->reason)) || put(o, "fails", json_boolean(sc->fails)) ||
        put(o, "noise", noise_json(sc))) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static const char *const score_classes[] = {"pass", "marginal", "fail"};

/* One journey x candidate: DESIGN.md's keys, then the journey total's numbers
 * (delta_pct, CI, p, n: what the runs stream carries) and counts. */
static json_t *pair_json(const struct tp_pair_cmp *pc)
{
    const struct tp_journey_verdict *jv = &pc->verdict;
    json_t *o = json_object(), *steps = json_array();

    for (size_t s = 0; steps && s < pc->nsteps; s++)
        if (push(steps, cmp_step_json(&pc->steps[s]))) {
            json_decref(steps);
            steps = NULL;
        }
    if (!o || !steps || put(o, "journey", str(pc->journey_name)) ||
        put(o, "base", str(pc->base_name)) || put(o, "cand", str(pc->cand_name)) ||
        put(o, "rounds", json_integer((json_int_t)pc->rounds)) ||
        put(o, "verdict", json_string(tp_verdict_name(jv->verdict))) ||
        put(o, "score", number(jv->score)) ||
        put(o, "score_class", json_string(score_classes[jv->score_class])) ||
        put(o, "worst_step", pc->nsteps ? str(pc->steps[jv->worst_step].name) : json_null()) ||
        put(o, "reason", str(jv->reason)) || put(o, "delta_pct", number(pc->total.delta_pct)) ||
        put(o, "ci_low_pct", number(pc->total.ci_low_pct)) ||
        put(o, "ci_high_pct", number(pc->total.ci_high_pct)) ||
        put(o, "p", pvalue(pc->total.p)) || put(o, "n", json_integer((json_int_t)pc->total.n)) ||
        put(o, "total_verdict", json_string(tp_verdict_name(pc->total.verdict))) ||
        put(o, "base_errors", json_integer((json_int_t)pc->total.base_errors)) ||
        put(o, "cand_errors", json_integer((json_int_t)pc->total.cand_errors)) ||
        put(o, "mismatches", json_integer((json_int_t)pc->mismatches)) ||
        put(o, "fails", json_boolean(pc->fails))) {
        json_decref(o);
        json_decref(steps);
        return NULL;
    }
    if (put(o, "steps", steps)) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *comparisons_json(const struct tp_comparison *c)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && c && i < c->npairs; i++)
        if (push(arr, pair_json(&c->pairs[i]))) {
            json_decref(arr);
            return NULL;
        }
    return arr;
}

char *tp_report_json(const struct tp_run_report *r)
{
    json_t *doc = NULL, *journeys = NULL;
    char *text = NULL, *out = NULL;
    size_t n;

    if (!r)
        return NULL;
    doc = json_object();
    journeys = json_array();
    if (!doc || !journeys)
        goto done;
    for (size_t i = 0; i < r->njourneys; i++)
        if (push(journeys, journey_json(&r->journeys[i])))
            goto done;
    if (put(doc, "tool", json_string("twinprobe")) ||
        put(doc, "version", json_string(TP_VERSION)) || put(doc, "run", json_string(r->run_id)) ||
        put(doc, "location", str(r->location)) ||
        put(doc, "started_ms", json_integer((json_int_t)r->started_ms)) ||
        put(doc, "exit_status", json_integer(r->exit_status)) ||
        put(doc, "rounds_planned", json_integer((json_int_t)r->rounds_planned)) ||
        put(doc, "rounds_completed", json_integer((json_int_t)r->rounds_completed)) ||
        put(doc, "stopped", r->stopped ? json_string(tp_stop_name(r->stopped)) : json_null()))
        goto done;
    if (put(doc, "journeys", journeys)) {
        journeys = NULL;
        goto done;
    }
    journeys = NULL;
    if (put(doc, "comparisons", comparisons_json(r->comparison)))
        goto done;

    text = json_dumps(doc, DUMP_FLAGS);
    if (!text)
        goto done;
    n = strlen(text);
    out = realloc(text, n + 2);
    if (!out)
        goto done;
    text = NULL;
    out[n] = '\n';
    out[n + 1] = '\0';

done:
    free(text);
    json_decref(journeys);
    json_decref(doc);
    return out;
}
