/* Judging one response against its step: captures first (so expectations may use
 * them), then expectations, then the step's failure class. Pure: no I/O. */
#ifndef TWINPROBE_EVALUATE_H
#define TWINPROBE_EVALUATE_H

#include <jansson.h>

#include "twinprobe/journey.h"
#include "twinprobe/response.h"
#include "twinprobe/template.h"
#include "twinprobe/vars.h"

/* One expectation's predicate, as reported (DESIGN.md §JSON report "assertions"). */
struct tp_assertion {
    char *source;        /* "status", "jsonpath $.cart.id" (new) */
    const char *predicate; /* "equals", "in", ... (static) */
    json_t *expected;    /* expanded expected value (new reference) */
    json_t *actual;      /* what the source read, or NULL (new reference) */
    int ok;
    char *message;       /* on failure: "jsonpath $.x: expected 1, got 2" (new); else NULL */
};

struct tp_step_eval {
    enum tp_failure failure;  /* TP_FAIL_NONE, HTTP, TOO_EXPENSIVE, CAPTURE or ASSERTION */
    char *error;              /* the first failure's message (new), or NULL */
    json_t *captures;         /* object name -> captured JSON value (new) */
    struct tp_assertion *assertions;
    size_t nassertions;
};

/* Evaluates resp against step. Captured values are also stored in vars as text
 * (strings as they are, other values as compact JSON) before the expectations
 * are evaluated; env expands expected values and must read vars. Failure class:
 * `http` when a status expectation fails, or when the step has none and the
 * status is outside 200-399; else `too_expensive` when a source or a `matches`
 * went past its bounds (extract.h, rematch.h); else `capture` when a capture found nothing; else
 * `assertion` when any other expectation fails. A source that cannot be read (an
 * XPath that fails at evaluation) fails its capture or assertions with the reason;
 * an expectation whose template uses a capture of this step that found nothing
 * fails "not checked" (the step's class is then `capture`). Messages are
 * "SOURCE: MESSAGE" (`status: expected one of [302, 303], got 500`, with no
 * status expectation `status: expected 200-399, got 500`; for captures
 * `capture csrf: xpath //input/@value found nothing`). Returns TP_OK, or TP_ERR_NOMEM /
 * TP_ERR_INVALID (an undefined template name at run time) with err->text; out is
 * always safe to clear. */
tp_err tp_step_evaluate(const struct tp_step *step, struct tp_response *resp,
                        const struct tp_template_env *env, tp_vars *vars,
                        struct tp_step_eval *out, struct tp_error *err);

/* Frees what out owns and zeroes it. */
void tp_step_eval_clear(struct tp_step_eval *out);

#endif
