/* The engine: every journey x target x round as a small state machine, all on one
 * curl multi event loop. Within a round, step k of a journey starts for every
 * target together (the pairs see the same network moment), or back to back in
 * ABBA order with alternate pairing; no target starts step k+1 before every
 * target has finished step k. Rounds run one after another, each a fresh journey
 * run (new variables, cookie jar and connection). */
#ifndef TWINPROBE_RUNNER_H
#define TWINPROBE_RUNNER_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "twinprobe/journey.h"
#include "twinprobe/mask.h"
#include "twinprobe/probe.h"
#include "twinprobe/result.h"

struct tp_run_plan {
    struct tp_journey *const *journeys; /* borrowed */
    size_t njourneys;
    const struct tp_target *targets;    /* borrowed; targets[0] is the baseline */
    size_t ntargets;
    unsigned rounds;                    /* >= 1 */
    long max_concurrency;               /* cap on transfers in flight (>= 1) */
    enum tp_pairing pairing;            /* SIMULTANEOUS: step k starts for every target
                                           together; ALTERNATE: back to back, ABBA */
    const char *location;               /* in User-Agent and the report */
    tp_secrets *secrets;                /* borrowed; masks every output; basic auth
                                           values are added as requests are built */
    int verbose;                        /* 0; 1: every transfer on stderr, bodies cut at
                                           TP_HTTP_TRACE_BODY bytes; 2: whole bodies
                                           (tp_http_transfer_trace) */
    int64_t deadline_ms;                /* tp_runner_clock_ms() after which no step
                                           starts; 0: none */
    volatile sig_atomic_t *stop;        /* borrowed, may be NULL; nonzero (a signal
                                           handler sets it): stop as at the deadline */
    /* Called as each round completes, before the next starts (a cut round is
     * never passed): round is 0-based, its results are in out->journeys from
     * round * njourneys * ntargets on, and out->run_id and started_ms are set.
     * The callee may compare and reduce them (judge as you go). Anything but
     * TP_OK ends the run with that error. NULL: nothing is called. */
    tp_err (*on_round)(void *ctx, struct tp_run_report *out, unsigned round,
                       struct tp_error *err);
    void *on_round_ctx;
};

/* Milliseconds on the monotonic clock the deadline is measured on. */
int64_t tp_runner_clock_ms(void);

/* Runs the plan. The event loop looks at plan->stop and plan->deadline_ms
 * before it starts anything and at least every 100 ms: once either says stop,
 * no step (or retry) starts, transfers in flight are cut (recorded as
 * `timeout`), and the round that was running is left out: out->journeys keeps
 * the completed rounds only (out->rounds_completed of out->rounds_planned) and
 * out->stopped says why. With plan->verbose, each transfer's trace (request, response,
 * masked, escaped) is written to stderr in one piece, headed "* journey J,
 * target T, round R, step N NAME, attempt A", once no transfer is in flight
 * (or when more than 1 MiB of traces wait), so writing never holds up a transfer
 * being timed. out receives one tp_journey_result per journey x target x round
 * (round-major, then journey, then target) and the run's id and start time.
 * out->exit_status is left alone: the command chooses it (see tp_run_all_ok).
 * Each step's result is masked (tp_step_result_mask) when it is final.
 * Failures of the targets are results, not errors: the return is TP_OK unless
 * something local failed (no memory, libcurl could not start, an env variable
 * vanished), then TP_ERR_* with err->text; out then holds what ran so far and
 * still needs tp_run_report_clear. */
tp_err tp_runner_run(const struct tp_run_plan *plan, struct tp_run_report *out,
                     struct tp_error *err);

/* 1 when every journey result in r is ok (an empty run counts as ok), else 0.
 * r is borrowed. */
int tp_run_all_ok(const struct tp_run_report *r);

#endif
