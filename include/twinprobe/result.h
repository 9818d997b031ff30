/* What a run produced: per journey x target x round, per step. Filled by
 * runner.c, read by the comparison, the reports and the publisher. Every string
 * in it that carries data from the journey, the targets or the responses is
 * masked when it is recorded (tp_step_result_mask): the sinks print it as is. */
#ifndef TWINPROBE_RESULT_H
#define TWINPROBE_RESULT_H

#include <jansson.h>
#include <stdint.h>

#include "twinprobe/evaluate.h"
#include "twinprobe/journey.h"
#include "twinprobe/mask.h"
#include "twinprobe/probe.h"
#include "twinprobe/response.h"

struct tp_step_result {
    const struct tp_step *step;  /* borrowed from the journey */
    int skipped;                 /* not run: an earlier step failed */
    int ok;
    enum tp_failure failure;     /* TP_FAIL_NONE when ok or skipped */
    char *error;                 /* the failure's message (new), or NULL */
    unsigned attempts;           /* 1 + retries made; 0 when skipped */
    struct tp_response response; /* the last attempt's response (kept for comparison) */
    struct tp_step_eval eval;    /* captures and assertions of the last attempt */
};

/* What a failed step keeps once reduced: its messages and transfer facts. */
struct tp_step_fail {
    char *error;          /* the step's message, else its evaluation's first (new), or NULL */
    char **also;          /* the other failed assertions' messages (new each) */
    size_t nalso;
    char http_version[8];
    char primary_ip[64];
};

/* A step's result reduced once its round has been compared and its JSON
 * written (tp_journey_result_reduce): what the text and JUnit reports, the Redis
 * entries and the exit status read, in 40 bytes; the body, headers, captures
 * and passed assertions are gone, and a passed step's IP and HTTP version.
 * Timings are whole microseconds, as libcurl measures them, so nothing is
 * lost. */
#define TP_BRIEF_SKIPPED 1u
#define TP_BRIEF_OK 2u
#define TP_BRIEF_REUSED 4u
struct tp_step_brief {
    uint32_t us[6];             /* dns, connect, tls, ttfb, download, total */
    uint16_t status;            /* 0: no response */
    uint16_t attempts;
    uint8_t failure;            /* enum tp_failure */
    uint8_t flags;              /* TP_BRIEF_* */
    struct tp_step_fail *fail;  /* a step with a message or not ok, else NULL */
};

struct tp_journey_result {
    const struct tp_journey *journey;  /* borrowed */
    const struct tp_target *target;    /* borrowed */
    unsigned round;                    /* 1-based */
    int ok;                            /* every step ok (skipped steps count as not ok) */
    char trace_id[33];
    int64_t started_ms;                /* wall clock at the first request */
    struct tp_step_result *steps;      /* journey->nsteps entries; NULL once reduced */
    struct tp_step_brief *briefs;      /* journey->nsteps entries once reduced, else NULL */
};

/* One step of a journey result as the sinks read it, full or reduced alike. */
struct tp_step_view {
    int skipped, ok, reused;
    enum tp_failure failure;
    unsigned attempts;
    long status;
    struct tp_timings timings;
    const char *error;           /* the step's message, else its evaluation's first; NULL */
    const char *http_version;    /* "" when unknown */
    const char *primary_ip;      /* "" when unknown */
    /* private: where the other failed assertions' messages are */
    const struct tp_step_result *full_;
    const struct tp_step_fail *fail_;
};

/* The number of steps jr holds (0 when it holds none), and a view of step k. */
size_t tp_journey_result_nsteps(const struct tp_journey_result *jr);
void tp_step_view(const struct tp_journey_result *jr, size_t k, struct tp_step_view *v);

/* The failed assertions' messages other than v->error, one per call: *i starts
 * at 0; NULL after the last. */
const char *tp_step_view_also(const struct tp_step_view *v, size_t *i);

/* Reduces jr to briefs (see struct tp_step_brief) and frees its full step
 * results. Call it once nothing needs a body, a capture or a passed assertion
 * of it any more (after the comparison's feed and the JSON report). A reduced
 * or empty jr is left as it is. TP_OK or TP_ERR_NOMEM (jr is then unchanged). */
tp_err tp_journey_result_reduce(struct tp_journey_result *jr);

struct tp_comparison;

/* Why a run stopped before its last round. */
enum tp_stop {
    TP_STOP_NONE,         /* every round ran */
    TP_STOP_MAX_RUNTIME,  /* the deadline (--max-runtime, max_runtime_s) passed */
    TP_STOP_SIGNAL        /* SIGTERM or SIGINT */
};

/* "max_runtime", "signal", or NULL for TP_STOP_NONE: the report's words. */
const char *tp_stop_name(enum tp_stop s);

struct tp_run_report {
    char run_id[37];          /* UUID */
    const char *location;     /* "local" without a probe file */
    int64_t started_ms;
    int exit_status;          /* enum tp_exit */
    struct tp_journey_result *journeys; /* in run order: round, journey, target; only
                                           completed rounds (rounds_completed of them) */
    size_t njourneys;
    unsigned rounds_planned;  /* the plan's rounds */
    unsigned rounds_completed; /* rounds that ran to the end: rounds_planned unless stopped */
    enum tp_stop stopped;     /* why rounds_completed < rounds_planned */
    size_t transfers_cut;     /* transfers in flight cut (timeout) when it stopped */
    const struct tp_comparison *comparison; /* borrowed (compare.h), or NULL: one target */
};

/* Masks, in place, what s recorded from the journey, the target and the
 * response for the reports: the error texts, the captured values (and their
 * names), the assertions' sources, expected and actual values and messages, and
 * the primary IP and HTTP version (each replaced whole by "***" when it holds a
 * secret). The response itself (body, headers) is left for the comparison,
 * which masks what it reports. Then, secrets or not, the error texts and the
 * assertions' messages are cut to TP_RESULT_TEXT_MAX bytes (on a character
 * boundary, "…" added): check.c writes values whole (up to TP_CHECK_SHOW_MAX),
 * so no cut ever falls inside a secret before it is masked. Call it once, when
 * the step's result is final. TP_OK or TP_ERR_NOMEM (then some fields may be
 * masked, none lost). */
#define TP_RESULT_TEXT_MAX 600
tp_err tp_step_result_mask(struct tp_step_result *s, const tp_secrets *secrets);

/* Frees what r owns (steps, responses) and zeroes it; r->journey must still be
 * alive (it gives the step count). NULL is a no-op. */
void tp_journey_result_clear(struct tp_journey_result *r);

/* Frees what r owns (results, responses) and zeroes it; the journeys and the
 * comparison (borrowed) are left alone, but the journeys must still be alive:
 * they give each result's step count. NULL is a no-op. */
void tp_run_report_clear(struct tp_run_report *r);

#endif
