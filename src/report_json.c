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
 * Secrets: every string taken from the run (names, messages, captured values,
 * expected and actual values, comparisons; object keys too) is masked while
 * the document is built, so jansson's escaping cannot hide a secret from the
 * mask, and the dumped text is masked once more. */
#include "twinprobe/report.h"

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

/* len bytes of s with each byte that is not well-formed UTF-8 replaced by
 * U+FFFD (jansson refuses invalid UTF-8; a message may quote a binary body,
 * and masking may cut a character). New and NUL-terminated, its length in
 * *outlen; NULL on no memory. */
static char *utf8_repair(const char *s, size_t len, size_t *outlen)
{
    char *fixed;
    size_t i = 0, o = 0;

    if (len > (SIZE_MAX - 1) / 3)
        return NULL;
    fixed = malloc(3 * len + 1);
    if (!fixed)
        return NULL;
    while (i < len) {
        unsigned long cp;
        size_t n = tp_report_utf8_next(s + i, len - i, &cp);
        if (n == 0) {
            memcpy(fixed + o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
        } else {
            memcpy(fixed + o, s + i, n);
            o += n;
            i += n;
        }
    }
    fixed[o] = '\0';
    *outlen = o;
    return fixed;
}

static json_t *valid_string(const char *s, size_t len)
{
    size_t n;
    char *fixed = utf8_repair(s, len, &n);
    json_t *out = fixed ? json_stringn(fixed, n) : NULL;

    free(fixed);
    return out;
}

/* len bytes of s (NUL-terminated at len, may hold NULs) masked piece by piece
 * between the NULs. New string, or NULL on no memory. */
static json_t *masked_string(const tp_secrets *secrets, const char *s, size_t len)
{
    char *joined = NULL;
    size_t used = 0, pos = 0;
    json_t *out = NULL;

    if (!secrets)
        return valid_string(s, len);
    for (;;) {
        char *m = tp_secrets_mask(secrets, s + pos);
        size_t mlen;
        char *p;
        if (!m)
            goto done;
        mlen = strlen(m);
        p = realloc(joined, used + mlen + 1);
        if (!p) {
            free(m);
            goto done;
        }
        joined = p;
        memcpy(joined + used, m, mlen + 1); /* with its NUL: the separator */
        used += mlen;
        free(m);
        pos += strlen(s + pos);
        if (pos >= len)
            break;
        pos++;  /* past an embedded NUL */
        used++; /* keep it */
    }
    out = valid_string(joined, used);
done:
    free(joined);
    return out;
}

static json_t *masked_cstr(const tp_secrets *secrets, const char *s)
{
    return s ? masked_string(secrets, s, strlen(s)) : json_null();
}

static json_t *masked_copy(const tp_secrets *secrets, const json_t *v);

static json_t *masked_array(const tp_secrets *secrets, const json_t *a)
{
    json_t *out = json_array();

    for (size_t i = 0; out && i < json_array_size(a); i++)
        if (push(out, masked_copy(secrets, json_array_get(a, i)))) {
            json_decref(out);
            out = NULL;
        }
    return out;
}

/* Object o copied with its keys and values masked. */
static json_t *masked_object(const tp_secrets *secrets, json_t *o)
{
    json_t *out = json_object();

    for (void *it = json_object_iter(o); out && it; it = json_object_iter_next(o, it)) {
        char *masked = tp_secrets_mask(secrets, json_object_iter_key(it));
        size_t n;
        char *key = masked ? utf8_repair(masked, strlen(masked), &n) : NULL;
        if (!key || put(out, key, masked_copy(secrets, json_object_iter_value(it)))) {
            json_decref(out);
            out = NULL;
        }
        free(key);
        free(masked);
    }
    return out;
}

/* A deep copy of v with every string (and object key) masked; NULL v gives
 * null. New reference, or NULL on no memory. */
static json_t *masked_copy(const tp_secrets *secrets, const json_t *v)
{
    if (!v)
        return json_null();
    if (tp_secrets_none(secrets))
        return json_incref((json_t *)v); /* nothing to mask: jansson strings are UTF-8 */
    switch (json_typeof(v)) {
    case JSON_STRING:
        return masked_string(secrets, json_string_value(v), json_string_length(v));
    case JSON_ARRAY:
        return masked_array(secrets, v);
    case JSON_OBJECT:
        return masked_object(secrets, (json_t *)v); /* jansson's API is not const */
    default:
        return json_copy((json_t *)v);
    }
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

static json_t *assertion_json(const tp_secrets *secrets, const struct tp_assertion *a)
{
    json_t *o = json_object();

    if (!o || put(o, "source", masked_cstr(secrets, a->source)) ||
        put(o, "predicate", masked_cstr(secrets, a->predicate)) ||
        put(o, "expected", masked_copy(secrets, a->expected)) ||
        put(o, "actual", masked_copy(secrets, a->actual)) || put(o, "ok", json_boolean(a->ok))) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* A string field of the response, or null when empty (unknown). */
static json_t *text_or_null(const tp_secrets *secrets, const char *s)
{
    return s[0] ? masked_cstr(secrets, s) : json_null();
}

static json_t *step_json(const tp_secrets *secrets, const struct tp_step *step,
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
            if (push(assertions, assertion_json(secrets, &s->eval.assertions[i])))
                goto fail;
    if (put(o, "name", masked_cstr(secrets, step ? step->name : NULL)) ||
        put(o, "ok", json_boolean(s->ok && !s->skipped)) ||
        put(o, "skipped", json_boolean(s->skipped)) ||
        put(o, "status",
            !s->skipped && resp->status > 0 ? json_integer(resp->status) : json_null()) ||
        put(o, "failure", failure ? json_string(failure) : json_null()) ||
        put(o, "error", masked_cstr(secrets, err)) ||
        put(o, "attempts", json_integer(s->skipped ? 0 : (json_int_t)s->attempts)) ||
        put(o, "reused", json_boolean(!s->skipped && resp->reused)) ||
        put(o, "http_version",
            s->skipped ? json_null() : text_or_null(secrets, resp->http_version)) ||
        put(o, "primary_ip", s->skipped ? json_null() : text_or_null(secrets, resp->primary_ip)) ||
        put(o, "timings_ms", s->skipped ? json_null() : timings_json(&resp->timings)) ||
        put(o, "captures",
            !s->skipped && s->eval.captures ? masked_copy(secrets, s->eval.captures)
                                            : json_object()))
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

static json_t *journey_json(const tp_secrets *secrets, const struct tp_journey_result *jr)
{
    const struct tp_journey *j = jr->journey;
    size_t nsteps = j && jr->steps ? j->nsteps : 0;
    json_t *o = json_object(), *steps = json_array();

    if (!o || !steps)
        goto fail;
    for (size_t k = 0; k < nsteps; k++)
        if (push(steps, step_json(secrets, j->steps ? &j->steps[k] : NULL, &jr->steps[k])))
            goto fail;
    if (put(o, "journey", masked_cstr(secrets, j ? j->name : NULL)) ||
        put(o, "target", masked_cstr(secrets, jr->target ? jr->target->name : NULL)) ||
        put(o, "round", json_integer(jr->round)) || put(o, "ok", json_boolean(jr->ok)) ||
        put(o, "trace_id", masked_cstr(secrets, jr->trace_id)))
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

char *tp_report_json(const struct tp_run_report *r)
{
    json_t *doc = NULL, *journeys = NULL;
    char *text = NULL, *masked = NULL, *out = NULL;
    size_t n;

    if (!r)
        return NULL;
    doc = json_object();
    journeys = json_array();
    if (!doc || !journeys)
        goto done;
    for (size_t i = 0; i < r->njourneys; i++)
        if (push(journeys, journey_json(r->secrets, &r->journeys[i])))
            goto done;
    if (put(doc, "tool", json_string("twinprobe")) ||
        put(doc, "version", json_string(TP_VERSION)) ||
        put(doc, "run", masked_cstr(r->secrets, r->run_id)) ||
        put(doc, "location", masked_cstr(r->secrets, r->location)) ||
        put(doc, "started_ms", json_integer((json_int_t)r->started_ms)) ||
        put(doc, "exit_status", json_integer(r->exit_status)))
        goto done;
    if (put(doc, "journeys", journeys)) {
        journeys = NULL;
        goto done;
    }
    journeys = NULL;
    if (put(doc, "comparisons",
            r->comparisons ? masked_copy(r->secrets, r->comparisons) : json_array()))
        goto done;

    text = json_dumps(doc, DUMP_FLAGS);
    if (!text)
        goto done;
    masked = tp_secrets_mask(r->secrets, text);
    if (!masked)
        goto done;
    n = strlen(masked);
    out = realloc(masked, n + 2);
    if (!out)
        goto done;
    masked = NULL;
    out[n] = '\n';
    out[n + 1] = '\0';

done:
    free(masked);
    free(text);
    json_decref(journeys);
    json_decref(doc);
    return out;
}
