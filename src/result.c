/* What a run produced: masking it at the source, freeing it. The comparison and
 * the reports read it (src/compare.c, src/report_*.c, src/streams.c). */
#include "twinprobe/result.h"

#include <stdio.h>
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
