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
#include "twinprobe/escape.h"
#include "twinprobe/strbuf.h"
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

/* ms rounded to 3 decimals; null when not finite (never, by contract). */
static json_t *ms_value(double ms)
{
    double v;

    if (!isfinite(ms))
        return json_null();
    v = round(ms * 1000.0) / 1000.0;
    return json_real(v == 0 ? 0.0 : v); /* never "-0.0" */
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

/* ---- the streamed document ------------------------------------------------ */

/* Output waiting for the sink past this many bytes is handed over. */
#define FLUSH_AT (64u << 10)

static void emit(struct tp_json_report *w, const char *s, size_t n)
{
    if (!w->failed && tp_strbuf_add(&w->buf, s, n) != 0)
        w->failed = 1;
}

static void emits(struct tp_json_report *w, const char *s)
{
    emit(w, s, strlen(s));
}

static void flush(struct tp_json_report *w, int all)
{
    if (w->failed || w->buf.len == 0 || (!all && w->buf.len < FLUSH_AT))
        return;
    if (w->sink(w->ctx, w->buf.data, w->buf.len) != 0)
        w->failed = 1;
    tp_strbuf_cut(&w->buf, 0);
}

/* n bytes of valid UTF-8 as a JSON string. */
static void emit_quoted(struct tp_json_report *w, const char *s, size_t n)
{
    emit(w, "\"", 1);
    if (!w->failed && tp_escape_json(&w->buf, s, n) != 0)
        w->failed = 1;
    emit(w, "\"", 1);
}

/* A JSON string, made valid UTF-8 (repaired only when it is not); null for NULL. */
static void emit_str(struct tp_json_report *w, const char *s)
{
    size_t n, len;
    char *fixed;

    if (!s) {
        emits(w, "null");
        return;
    }
    len = strlen(s);
    if (tp_utf8_valid(s, len)) {
        emit_quoted(w, s, len);
    } else if ((fixed = tp_utf8_repair(s, len, &n))) {
        emit_quoted(w, fixed, n);
        free(fixed);
    } else {
        w->failed = 1;
    }
}

/* A real as jansson prints it with 15 significant digits (a whole value as
 * "2.0"); null when not finite. */
static void emit_real(struct tp_json_report *w, double v)
{
    char num[40];
    int n;
    if (!isfinite(v)) {
        emits(w, "null");
        return;
    }
    n = snprintf(num, sizeof num - 2, "%.15g", v);
    if (n > 0 && !strpbrk(num, ".eEn"))
        memcpy(num + n, ".0", 3);
    emits(w, num);
}

/* ms rounded to 3 decimals (never "-0.0"): as emit_real prints the rounded
 * value, but from whole microseconds, without printf's floating point (six
 * timings a step made it the report's largest cost). */
static void emit_ms(struct tp_json_report *w, double ms)
{
    double v = isfinite(ms) ? round(ms * 1000.0) / 1000.0 : ms;
    char num[32], *p = num + sizeof num;
    long long us, whole;
    int frac;

    if (!(v >= 0 && v < 1e12)) {
        emit_real(w, v == 0 ? 0.0 : v);
        return;
    }
    us = llround(ms * 1000.0);
    whole = us / 1000;
    frac = (int)(us % 1000);
    if (frac == 0) {
        *--p = '0';
    } else { /* the decimals without trailing zeros */
        int digits = 3;
        while (frac % 10 == 0) {
            frac /= 10;
            digits--;
        }
        while (digits-- > 0) {
            *--p = (char)('0' + frac % 10);
            frac /= 10;
        }
    }
    *--p = '.';
    do {
        *--p = (char)('0' + whole % 10);
        whole /= 10;
    } while (whole > 0);
    emit(w, p, (size_t)(num + sizeof num - p));
}

static void emit_int(struct tp_json_report *w, long long v)
{
    char num[24];
    snprintf(num, sizeof num, "%lld", v);
    emits(w, num);
}

/* A JSON value of the run (masked at its source), compact; null for NULL. */
static void emit_value(struct tp_json_report *w, const json_t *v)
{
    char *text;
    if (!v) {
        emits(w, "null");
        return;
    }
    switch (json_typeof(v)) { /* scalars directly: most captures and assertions */
    case JSON_STRING: /* jansson holds valid UTF-8 */
        emit_quoted(w, json_string_value(v), json_string_length(v));
        return;
    case JSON_INTEGER:
        emit_int(w, (long long)json_integer_value(v));
        return;
    case JSON_REAL:
        emit_real(w, json_real_value(v));
        return;
    case JSON_TRUE:
        emits(w, "true");
        return;
    case JSON_FALSE:
        emits(w, "false");
        return;
    case JSON_NULL:
        emits(w, "null");
        return;
    default:
        break;
    }
    text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER |
                             JSON_REAL_PRECISION(15));
    if (!text) {
        w->failed = 1;
        return;
    }
    emits(w, text);
    free(text);
}

static void emit_timings(struct tp_json_report *w, const struct tp_timings *t)
{
    static const char *const names[] = {"dns", "connect", "tls", "ttfb", "download", "total"};
    const double ms[] = {t->dns_ms, t->connect_ms, t->tls_ms, t->ttfb_ms, t->download_ms,
                         t->total_ms};

    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        emits(w, i ? ", \"" : "{\"");
        emits(w, names[i]);
        emits(w, "\": ");
        emit_ms(w, ms[i]);
    }
    emits(w, "}");
}

static void emit_text_or_null(struct tp_json_report *w, const char *s)
{
    emit_str(w, s && s[0] ? s : NULL);
}

/* One step: a full result has its captures and every assertion; a reduced one
 * has none (captures {} and assertions []). */
static void emit_step(struct tp_json_report *w, const struct tp_journey_result *jr, size_t k)
{
    const struct tp_step *step = jr->journey->steps ? &jr->journey->steps[k] : NULL;
    const struct tp_step_result *full = jr->steps ? &jr->steps[k] : NULL;
    struct tp_step_view v;
    const char *failure;

    tp_step_view(jr, k, &v);
    failure = v.skipped ? NULL : tp_failure_name(v.failure);
    emits(w, "{\"name\": ");
    emit_str(w, step ? step->name : NULL);
    emits(w, v.ok && !v.skipped ? ", \"ok\": true" : ", \"ok\": false");
    emits(w, v.skipped ? ", \"skipped\": true, \"status\": " : ", \"skipped\": false, \"status\": ");
    if (!v.skipped && v.status > 0)
        emit_int(w, v.status);
    else
        emits(w, "null");
    emits(w, ", \"failure\": ");
    emit_str(w, failure);
    emits(w, ", \"error\": ");
    emit_str(w, v.error);
    emits(w, ", \"attempts\": ");
    emit_int(w, v.skipped ? 0 : (long long)v.attempts);
    emits(w, !v.skipped && v.reused ? ", \"reused\": true" : ", \"reused\": false");
    emits(w, ", \"http_version\": ");
    emit_text_or_null(w, v.skipped ? NULL : v.http_version);
    emits(w, ", \"primary_ip\": ");
    emit_text_or_null(w, v.skipped ? NULL : v.primary_ip);
    emits(w, ", \"timings_ms\": ");
    if (v.skipped)
        emits(w, "null");
    else
        emit_timings(w, &v.timings);
    emits(w, ", \"captures\": ");
    if (full && !v.skipped && full->eval.captures)
        emit_value(w, full->eval.captures);
    else
        emits(w, "{}");
    emits(w, ", \"assertions\": [");
    for (size_t i = 0; full && !v.skipped && i < full->eval.nassertions; i++) {
        const struct tp_assertion *a = &full->eval.assertions[i];
        emits(w, i ? ", {\"source\": " : "{\"source\": ");
        emit_str(w, a->source);
        emits(w, ", \"predicate\": ");
        emit_str(w, a->predicate);
        emits(w, ", \"expected\": ");
        emit_value(w, a->expected);
        emits(w, ", \"actual\": ");
        emit_value(w, a->actual);
        emits(w, a->ok ? ", \"ok\": true}" : ", \"ok\": false}");
    }
    emits(w, "]}");
}

void tp_json_report_init(struct tp_json_report *w, tp_report_sink sink, void *ctx)
{
    memset(w, 0, sizeof *w);
    w->sink = sink;
    w->ctx = ctx;
}

int tp_json_report_begin(struct tp_json_report *w, const struct tp_run_report *r)
{
    if (w->began)
        return w->failed ? -1 : 0;
    w->began = 1;
    emits(w, "{\n  \"tool\": \"twinprobe\",\n  \"version\": ");
    emit_str(w, TP_VERSION);
    emits(w, ",\n  \"run\": ");
    emit_str(w, r->run_id);
    emits(w, ",\n  \"location\": ");
    emit_str(w, r->location);
    emits(w, ",\n  \"started_ms\": ");
    emit_int(w, (long long)r->started_ms);
    emits(w, ",\n  \"rounds_planned\": ");
    emit_int(w, (long long)r->rounds_planned);
    emits(w, ",\n  \"journeys\": [");
    flush(w, 0);
    return w->failed ? -1 : 0;
}

int tp_json_report_journey(struct tp_json_report *w, const struct tp_journey_result *jr)
{
    size_t nsteps = tp_journey_result_nsteps(jr);

    emits(w, w->journeys++ ? ",\n    {\"journey\": " : "\n    {\"journey\": ");
    emit_str(w, jr->journey ? jr->journey->name : NULL);
    emits(w, ", \"target\": ");
    emit_str(w, jr->target ? jr->target->name : NULL);
    emits(w, ", \"round\": ");
    emit_int(w, jr->round);
    emits(w, jr->ok ? ", \"ok\": true, \"trace_id\": " : ", \"ok\": false, \"trace_id\": ");
    emit_str(w, jr->trace_id);
    emits(w, ", \"steps\": [");
    for (size_t k = 0; k < nsteps; k++) {
        emits(w, k ? ",\n      " : "\n      ");
        emit_step(w, jr, k);
    }
    emits(w, nsteps ? "\n    ]}" : "]}");
    flush(w, 0);
    return w->failed ? -1 : 0;
}

int tp_json_report_end(struct tp_json_report *w, const struct tp_run_report *r)
{
    json_t *cmp;
    char *text;

    tp_json_report_begin(w, r);
    emits(w, w->journeys ? "\n  ],\n  \"comparisons\": " : "],\n  \"comparisons\": ");
    cmp = comparisons_json(r->comparison);
    text = cmp ? json_dumps(cmp, DUMP_FLAGS) : NULL;
    if (!text) {
        w->failed = 1;
    } else {
        /* nested one level down: every line after the first two more spaces in */
        for (const char *p = text, *nl; *p; p = nl + 1) {
            nl = strchr(p, '\n');
            if (!nl) {
                emits(w, p);
                break;
            }
            emit(w, p, (size_t)(nl - p) + 1);
            emits(w, "  ");
        }
    }
    free(text);
    json_decref(cmp);
    emits(w, ",\n  \"exit_status\": ");
    emit_int(w, r->exit_status);
    emits(w, ",\n  \"rounds_completed\": ");
    emit_int(w, (long long)r->rounds_completed);
    emits(w, ",\n  \"stopped\": ");
    emit_str(w, r->stopped ? tp_stop_name(r->stopped) : NULL);
    emits(w, "\n}\n");
    flush(w, 1);
    tp_strbuf_free(&w->buf);
    return w->failed ? -1 : 0;
}

void tp_json_report_free(struct tp_json_report *w)
{
    tp_strbuf_free(&w->buf);
}

static int to_string(void *ctx, const char *data, size_t len)
{
    return tp_strbuf_add(ctx, data, len);
}

char *tp_report_json(const struct tp_run_report *r)
{
    struct tp_strbuf out = {0};
    struct tp_json_report w;
    int rc;

    if (!r)
        return NULL;
    tp_json_report_init(&w, to_string, &out);
    rc = tp_json_report_begin(&w, r);
    for (size_t i = 0; rc == 0 && i < r->njourneys; i++)
        rc = tp_json_report_journey(&w, &r->journeys[i]);
    if (tp_json_report_end(&w, r) != 0 || rc != 0) {
        tp_json_report_free(&w);
        tp_strbuf_free(&out);
        return NULL;
    }
    return out.data;
}
