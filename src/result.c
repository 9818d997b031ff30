/* What a run produced: freeing it. The reports read it (src/report_*.c). */
#include "twinprobe/result.h"

#include <stdlib.h>
#include <string.h>

static void step_result_clear(struct tp_step_result *s)
{
    free(s->error);
    tp_response_clear(&s->response);
    tp_step_eval_clear(&s->eval);
    memset(s, 0, sizeof *s);
}

void tp_run_report_clear(struct tp_run_report *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->njourneys; i++) {
        struct tp_journey_result *jr = &r->journeys[i];
        size_t nsteps = jr->journey ? jr->journey->nsteps : 0;
        if (jr->steps)
            for (size_t k = 0; k < nsteps; k++)
                step_result_clear(&jr->steps[k]);
        free(jr->steps);
    }
    free(r->journeys);
    json_decref(r->comparisons);
    memset(r, 0, sizeof *r);
}
