/* Judging one response against its step: captures (stored in the run's variables),
 * then every predicate of every expectation, then the step's failure class with
 * the message of its first failure: http before capture before assertion. */
#include "twinprobe/evaluate.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "twinprobe/check.h"

#define SOURCE_MAX 512   /* a described source ("xpath //form/input...") */
#define MESSAGE_MAX (2 * TP_CHECK_SHOW_MAX + 1024) /* one predicate's message (heap) */

static char *format_new(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

/* A new string formatted from fmt, or NULL on no memory. */
static char *format_new(const char *fmt, ...)
{
    va_list ap;
    int n;
    char *s;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    s = malloc((size_t)n + 1);
    if (!s)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

/* A captured value as template text: strings as they are, numbers in their
 * shortest exact form ("12.5", not "12.5000000000000"), the rest compact JSON. */
static char *capture_text(const json_t *v)
{
    char buf[64];

    if (json_is_string(v))
        return strdup(json_string_value(v));
    if (json_is_integer(v)) {
        snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return strdup(buf);
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);
        for (int prec = 1; prec <= 17; prec++) {
            snprintf(buf, sizeof buf, "%.*g", prec, d);
            if (strtod(buf, NULL) == d)
                break;
        }
        return strdup(buf);
    }
    return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

/* The first of this step's failed captures that template t uses, or NULL. */
static const char *uses_failed(const tp_template *t, const char *const *failed, size_t nfailed)
{
    size_t nparts;
    const struct tp_tpl_part *parts;

    if (!t || nfailed == 0)
        return NULL;
    parts = tp_template_parts(t, &nparts);
    for (size_t i = 0; i < nparts; i++) {
        if (parts[i].kind != TP_TPL_VAR)
            continue;
        for (size_t k = 0; k < nfailed; k++)
            if (strcmp(parts[i].text, failed[k]) == 0)
                return failed[k];
    }
    return NULL;
}

static const char *pred_uses_failed(const struct tp_predicate *p, const char *const *failed,
                                    size_t nfailed)
{
    const char *name = uses_failed(p->tpl, failed, nfailed);
    size_t n = json_array_size(p->expected);

    for (size_t i = 0; !name && p->items_tpl && i < n; i++)
        name = uses_failed(p->items_tpl[i], failed, nfailed);
    return name;
}

/* Copies a source's error into err when it ends the evaluation (no memory, a bug). */
static int fatal(tp_err rc, const struct tp_error *src_err, struct tp_error *err)
{
    if (rc != TP_ERR_NOMEM && rc != TP_ERR_INTERNAL)
        return 0;
    if (err)
        *err = *src_err;
    return 1;
}

/* Runs the step's captures; names of those that found nothing go into failed. */
static tp_err run_captures(const struct tp_step *step, struct tp_response *resp, tp_vars *vars,
                           struct tp_step_eval *out, const char **failed, size_t *nfailed,
                           char **capture_msg, char **expensive_msg, struct tp_error *err)
{
    char src[SOURCE_MAX];
    struct tp_value val = {NULL, 0};
    struct tp_error serr;
    char *text = NULL;
    tp_err rc = TP_OK;

    for (size_t i = 0; i < step->ncaptures; i++) {
        const struct tp_capture *c = &step->captures[i];
        tp_error_clear(&serr);
        rc = tp_source_eval(&c->source, resp, &val, &serr);
        if (fatal(rc, &serr, err))
            goto done;
        if (rc == TP_ERR_LIMIT && !*expensive_msg) {
            tp_source_describe(&c->source, src, sizeof src);
            *expensive_msg = format_new("capture %s: %s: %s", c->name, src, serr.text);
            if (!*expensive_msg) {
                rc = tp_error_set(err, TP_ERR_NOMEM, "out of memory");
                goto done;
            }
        }
        if (rc != TP_OK || !val.value) {
            failed[(*nfailed)++] = c->name;
            if (!*capture_msg) {
                tp_source_describe(&c->source, src, sizeof src);
                *capture_msg = rc != TP_OK
                                   ? format_new("capture %s: %s: %s", c->name, src, serr.text)
                                   : format_new("capture %s: %s found nothing", c->name, src);
                if (!*capture_msg) {
                    rc = tp_error_set(err, TP_ERR_NOMEM, "out of memory");
                    goto done;
                }
            }
            rc = TP_OK;
            tp_value_clear(&val);
            continue;
        }
        if (json_object_set(out->captures, c->name, val.value) != 0) {
            rc = tp_error_set(err, TP_ERR_NOMEM, "out of memory");
            goto done;
        }
        if (vars) {
            text = capture_text(val.value);
            if (!text || tp_vars_set(vars, c->name, text) != TP_OK) {
                rc = tp_error_set(err, TP_ERR_NOMEM, "out of memory");
                goto done;
            }
            free(text);
            text = NULL;
        }
        tp_value_clear(&val);
    }
done:
    free(text);
    tp_value_clear(&val);
    return rc;
}

/* Keeps a copy of the first failure message of a class. */
static tp_err note_first(char **slot, const char *message, struct tp_error *err)
{
    if (*slot)
        return TP_OK;
    *slot = strdup(message);
    return *slot ? TP_OK : tp_error_set(err, TP_ERR_NOMEM, "out of memory");
}

/* One assertion: expected value expanded, predicate applied, message written. */
static tp_err run_predicate(const struct tp_predicate *p, const char *src,
                            const struct tp_value *val, const char *src_error,
                            const struct tp_template_env *env, const char *const *failed,
                            size_t nfailed, struct tp_assertion *a, int *expensive,
                            struct tp_error *err)
{
    const char *dep = pred_uses_failed(p, failed, nfailed);

    a->source = strdup(src);
    a->predicate = tp_pred_name(p->kind);
    a->actual = val->value ? json_incref(val->value) : NULL;
    if (!a->source)
        return tp_error_set(err, TP_ERR_NOMEM, "out of memory");
    if (dep) {
        a->expected = json_incref(p->expected);
        a->message = format_new("%s: not checked: capture %s found nothing", src, dep);
    } else {
        char *msg;
        int templated = 0, r = 0;
        tp_err rc = tp_check_expected(p, env, &a->expected, &templated, err);
        if (rc != TP_OK)
            return rc;
        if (!(msg = malloc(MESSAGE_MAX)))
            return tp_error_set(err, TP_ERR_NOMEM, "out of memory");
        if (src_error)
            a->message = format_new("%s: %s", src, src_error);
        else if ((r = tp_check(p, a->expected, templated, val, msg, MESSAGE_MAX)) == 1)
            a->ok = 1;
        else
            a->message = format_new("%s: %s", src, msg);
        free(msg);
        if (r < 0)
            *expensive = 1;
    }
    if (!a->ok && !a->message)
        return tp_error_set(err, TP_ERR_NOMEM, "out of memory");
    return TP_OK;
}

tp_err tp_step_evaluate(const struct tp_step *step, struct tp_response *resp,
                        const struct tp_template_env *env, tp_vars *vars, struct tp_step_eval *out,
                        struct tp_error *err)
{
    char src[SOURCE_MAX];
    const char **failed = NULL;
    size_t nfailed = 0, total = 0;
    char *http_msg = NULL, *capture_msg = NULL, *assert_msg = NULL, *expensive_msg = NULL;
    struct tp_value val = {NULL, 0};
    struct tp_error serr;
    tp_err rc = TP_OK;

    memset(out, 0, sizeof *out);
    if (!step || !resp)
        return tp_error_set(err, TP_ERR_INTERNAL, "no step or response to evaluate");
    for (size_t k = 0; k < step->nexpects; k++)
        total += step->expects[k].npreds;
    out->captures = json_object();
    failed = calloc(step->ncaptures + 1, sizeof *failed);
    out->assertions = calloc(total + 1, sizeof *out->assertions);
    if (!out->captures || !failed || !out->assertions) {
        rc = tp_error_set(err, TP_ERR_NOMEM, "out of memory");
        goto done;
    }
    rc = run_captures(step, resp, vars, out, failed, &nfailed, &capture_msg, &expensive_msg,
                      err);
    if (rc != TP_OK)
        goto done;

    for (size_t k = 0; k < step->nexpects; k++) {
        const struct tp_expect *x = &step->expects[k];
        tp_source_describe(&x->source, src, sizeof src);
        tp_error_clear(&serr);
        rc = tp_source_eval(&x->source, resp, &val, &serr);
        if (fatal(rc, &serr, err))
            goto done;
        int src_failed = rc != TP_OK;
        int expensive = rc == TP_ERR_LIMIT;
        rc = TP_OK;
        for (size_t j = 0; j < x->npreds; j++) {
            struct tp_assertion *a = &out->assertions[out->nassertions++];
            rc = run_predicate(&x->preds[j], src, &val, src_failed ? serr.text : NULL, env, failed,
                               nfailed, a, &expensive, err);
            if (rc == TP_OK && !a->ok)
                rc = note_first(expensive                          ? &expensive_msg
                                : x->source.kind == TP_SRC_STATUS ? &http_msg
                                                                  : &assert_msg,
                                a->message, err);
            if (rc != TP_OK)
                goto done;
        }
        tp_value_clear(&val);
    }

    if (!step->has_status_expect && (resp->status < 200 || resp->status > 399)) {
        free(http_msg);
        http_msg = format_new("status: expected 200-399, got %ld", resp->status);
        if (!http_msg) {
            rc = tp_error_set(err, TP_ERR_NOMEM, "out of memory");
            goto done;
        }
    }
    if (http_msg) {
        out->failure = TP_FAIL_HTTP;
        out->error = http_msg;
        http_msg = NULL;
    } else if (expensive_msg) {
        out->failure = TP_FAIL_TOO_EXPENSIVE;
        out->error = expensive_msg;
        expensive_msg = NULL;
    } else if (capture_msg) {
        out->failure = TP_FAIL_CAPTURE;
        out->error = capture_msg;
        capture_msg = NULL;
    } else if (assert_msg) {
        out->failure = TP_FAIL_ASSERTION;
        out->error = assert_msg;
        assert_msg = NULL;
    }
done:
    tp_value_clear(&val);
    free(failed);
    free(http_msg);
    free(capture_msg);
    free(assert_msg);
    free(expensive_msg);
    return rc;
}

void tp_step_eval_clear(struct tp_step_eval *out)
{
    if (!out)
        return;
    for (size_t i = 0; i < out->nassertions; i++) {
        struct tp_assertion *a = &out->assertions[i];
        free(a->source);
        json_decref(a->expected);
        json_decref(a->actual);
        free(a->message);
    }
    free(out->assertions);
    json_decref(out->captures);
    free(out->error);
    memset(out, 0, sizeof *out);
}
