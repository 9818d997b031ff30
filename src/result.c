/* What a run produced: masking it at the source, freeing it. The comparison and
 * the reports read it (src/compare.c, src/report_*.c, src/streams.c). */
#include "twinprobe/result.h"

#include <stdio.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "twinprobe/utf8.h"

/* *text cut to TP_RESULT_TEXT_MAX bytes after masking (tp_utf8_cut). */
static tp_err cut_text(char **text)
{
    return tp_utf8_cut(text, TP_RESULT_TEXT_MAX) == 0 ? TP_OK : TP_ERR_NOMEM;
}

static tp_err cut_texts(struct tp_step_result *s)
{
    tp_err rc = cut_text(&s->error);
    if (rc == TP_OK)
        rc = cut_text(&s->eval.error);
    for (size_t i = 0; rc == TP_OK && i < s->eval.nassertions; i++)
        rc = cut_text(&s->eval.assertions[i].message);
    return rc;
}

static void step_result_clear(struct tp_step_result *s)
{
    free(s->error);
    tp_response_clear(&s->response);
    tp_step_eval_clear(&s->eval);
    memset(s, 0, sizeof *s);
}

/* A JSON value replaced by its masked copy (*v new reference, old released). */
static tp_err mask_json(const tp_secrets *secrets, json_t **v)
{
    json_t *m;
    if (!*v)
        return TP_OK;
    if (!(m = tp_secrets_mask_json(secrets, *v)))
        return TP_ERR_NOMEM;
    json_decref(*v);
    *v = m;
    return TP_OK;
}

/* A fixed-size network fact (an IP, an HTTP version): "***" when it holds a secret. */
static tp_err mask_fact(const tp_secrets *secrets, char *fact, size_t size)
{
    char *m;
    if (!fact[0])
        return TP_OK;
    if (!(m = tp_secrets_mask(secrets, fact)))
        return TP_ERR_NOMEM;
    if (strcmp(m, fact) != 0)
        snprintf(fact, size, "***");
    free(m);
    return TP_OK;
}

tp_err tp_step_result_mask(struct tp_step_result *s, const tp_secrets *secrets)
{
    tp_err rc = TP_OK;
    if (!s)
        return TP_OK;
    if (tp_secrets_none(secrets))
        return cut_texts(s);
    rc = tp_secrets_mask_inplace(secrets, &s->error);
    if (rc == TP_OK)
        rc = tp_secrets_mask_inplace(secrets, &s->eval.error);
    if (rc == TP_OK)
        rc = mask_json(secrets, &s->eval.captures);
    for (size_t i = 0; rc == TP_OK && i < s->eval.nassertions; i++) {
        struct tp_assertion *a = &s->eval.assertions[i];
        rc = tp_secrets_mask_labelled(secrets, &a->source);
        if (rc == TP_OK)
            rc = tp_secrets_mask_inplace(secrets, &a->message);
        if (rc == TP_OK)
            rc = mask_json(secrets, &a->expected);
        if (rc == TP_OK)
            rc = mask_json(secrets, &a->actual);
    }
    if (rc == TP_OK)
        rc = mask_fact(secrets, s->response.primary_ip, sizeof s->response.primary_ip);
    if (rc == TP_OK)
        rc = mask_fact(secrets, s->response.http_version, sizeof s->response.http_version);
    if (rc == TP_OK)
        rc = cut_texts(s);
    return rc;
}

const char *tp_stop_name(enum tp_stop s)
{
    return s == TP_STOP_MAX_RUNTIME ? "max_runtime" : s == TP_STOP_SIGNAL ? "signal" : NULL;
}

/* ---- reduced results ------------------------------------------------------ */

static void step_fail_free(struct tp_step_fail *f)
{
    if (!f)
        return;
    free(f->error);
    for (size_t i = 0; i < f->nalso; i++)
        free(f->also[i]);
    free(f->also);
    free(f);
}

static int is_also(const struct tp_assertion *a, const char *error)
{
    return !a->ok && a->message && !(error && strcmp(a->message, error) == 0);
}

static uint32_t to_us(double ms)
{
    double us = ms * 1000.0;
    if (!(us > 0))
        return 0;
    return us >= 4294967295.0 ? UINT32_MAX : (uint32_t)llround(us);
}

/* Fills b from s; the strings a failed step keeps are copied. */
static tp_err brief_of(const struct tp_step_result *s, struct tp_step_brief *b)
{
    const struct tp_timings *t = &s->response.timings;
    const double ph[6] = {t->dns_ms, t->connect_ms, t->tls_ms, t->ttfb_ms, t->download_ms,
                          t->total_ms};
    const char *error = s->error ? s->error : s->eval.error;

    memset(b, 0, sizeof *b);
    for (size_t i = 0; i < 6; i++)
        b->us[i] = to_us(ph[i]);
    b->status = s->response.status > 0 && s->response.status <= UINT16_MAX
                    ? (uint16_t)s->response.status
                    : 0;
    b->attempts = s->attempts > UINT16_MAX ? UINT16_MAX : (uint16_t)s->attempts;
    b->failure = (uint8_t)s->failure;
    b->flags = (uint8_t)((s->skipped ? TP_BRIEF_SKIPPED : 0) | (s->ok ? TP_BRIEF_OK : 0) |
                         (s->response.reused ? TP_BRIEF_REUSED : 0));
    if ((s->ok || s->skipped) && !error)
        return TP_OK;
    if (!(b->fail = calloc(1, sizeof *b->fail)))
        return TP_ERR_NOMEM;
    memcpy(b->fail->http_version, s->response.http_version, sizeof b->fail->http_version);
    memcpy(b->fail->primary_ip, s->response.primary_ip, sizeof b->fail->primary_ip);
    b->fail->http_version[sizeof b->fail->http_version - 1] = '\0';
    b->fail->primary_ip[sizeof b->fail->primary_ip - 1] = '\0';
    if (error && !(b->fail->error = strdup(error)))
        return TP_ERR_NOMEM;
    for (size_t i = 0; i < s->eval.nassertions; i++) {
        const struct tp_assertion *a = &s->eval.assertions[i];
        if (!is_also(a, error))
            continue;
        if (!b->fail->also && !(b->fail->also = calloc(s->eval.nassertions, sizeof(char *))))
            return TP_ERR_NOMEM;
        if (!(b->fail->also[b->fail->nalso] = strdup(a->message)))
            return TP_ERR_NOMEM;
        b->fail->nalso++;
    }
    return TP_OK;
}

size_t tp_journey_result_nsteps(const struct tp_journey_result *jr)
{
    return jr && jr->journey && (jr->steps || jr->briefs) ? jr->journey->nsteps : 0;
}

void tp_step_view(const struct tp_journey_result *jr, size_t k, struct tp_step_view *v)
{
    memset(v, 0, sizeof *v);
    v->http_version = v->primary_ip = "";
    if (jr->steps) {
        const struct tp_step_result *s = &jr->steps[k];
        v->skipped = s->skipped;
        v->ok = s->ok;
        v->reused = s->response.reused;
        v->failure = s->failure;
        v->attempts = s->attempts;
        v->status = s->response.status;
        v->timings = s->response.timings;
        v->error = s->error ? s->error : s->eval.error;
        v->http_version = s->response.http_version;
        v->primary_ip = s->response.primary_ip;
        v->full_ = s;
    } else if (jr->briefs) {
        const struct tp_step_brief *b = &jr->briefs[k];
        double *ph[6] = {&v->timings.dns_ms,  &v->timings.connect_ms,  &v->timings.tls_ms,
                         &v->timings.ttfb_ms, &v->timings.download_ms, &v->timings.total_ms};
        v->skipped = (b->flags & TP_BRIEF_SKIPPED) != 0;
        v->ok = (b->flags & TP_BRIEF_OK) != 0;
        v->reused = (b->flags & TP_BRIEF_REUSED) != 0;
        v->failure = (enum tp_failure)b->failure;
        v->attempts = b->attempts;
        v->status = b->status;
        for (size_t i = 0; i < 6; i++)
            *ph[i] = (double)b->us[i] / 1000.0;
        if (b->fail) {
            v->error = b->fail->error;
            v->http_version = b->fail->http_version;
            v->primary_ip = b->fail->primary_ip;
            v->fail_ = b->fail;
        }
    }
}

const char *tp_step_view_also(const struct tp_step_view *v, size_t *i)
{
    if (v->full_) {
        const struct tp_step_eval *e = &v->full_->eval;
        while (*i < e->nassertions) {
            const struct tp_assertion *a = &e->assertions[(*i)++];
            if (is_also(a, v->error))
                return a->message;
        }
        return NULL;
    }
    if (v->fail_ && *i < v->fail_->nalso)
        return v->fail_->also[(*i)++];
    return NULL;
}

static void briefs_free(struct tp_step_brief *b, size_t n)
{
    for (size_t k = 0; b && k < n; k++)
        step_fail_free(b[k].fail);
    free(b);
}

tp_err tp_journey_result_reduce(struct tp_journey_result *jr)
{
    size_t n = jr && jr->journey && jr->steps ? jr->journey->nsteps : 0;
    struct tp_step_brief *b;

    if (!jr || !jr->steps)
        return TP_OK;
    if (!(b = calloc(n + 1, sizeof *b)))
        return TP_ERR_NOMEM;
    for (size_t k = 0; k < n; k++)
        if (brief_of(&jr->steps[k], &b[k]) != TP_OK) {
            briefs_free(b, k + 1);
            return TP_ERR_NOMEM;
        }
    for (size_t k = 0; k < n; k++)
        step_result_clear(&jr->steps[k]);
    free(jr->steps);
    jr->steps = NULL;
    jr->briefs = b;
    return TP_OK;
}

void tp_journey_result_clear(struct tp_journey_result *jr)
{
    size_t nsteps;
    if (!jr)
        return;
    nsteps = jr->journey ? jr->journey->nsteps : 0;
    if (jr->steps)
        for (size_t k = 0; k < nsteps; k++)
            step_result_clear(&jr->steps[k]);
    free(jr->steps);
    briefs_free(jr->briefs, nsteps);
    memset(jr, 0, sizeof *jr);
}

void tp_run_report_clear(struct tp_run_report *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->njourneys; i++)
        tp_journey_result_clear(&r->journeys[i]);
    free(r->journeys);
    memset(r, 0, sizeof *r);
}
