/* The engine: journey runs as state machines on one curl multi event loop.
 *
 * A "group" is one journey in one round: a run per target. The runs of a group
 * move in lockstep: step k is started for every target in the same pass of the
 * loop, and no run starts step k+1 before every run of its group has finished
 * step k, so both sides of a pair meet the same network moment. */
#include "twinprobe/runner.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "twinprobe/evaluate.h"
#include "twinprobe/http.h"
#include "twinprobe/request.h"
#include "twinprobe/strbuf.h"
#include "twinprobe/vars.h"
#include "twinprobe/version.h"

/* A journey run's states; changed only through set_state(). */
enum jrun_state {
    JR_READY,     /* the next step may start (when its group is ready) */
    JR_IN_FLIGHT, /* a transfer is running */
    JR_BACKOFF,   /* waiting to retry until wake_ms */
    JR_STEP_DONE, /* finished step `step`; waits for its group */
    JR_DONE       /* every step run or skipped */
};

static const char *const state_names[] = {"ready", "in-flight", "backoff", "step-done", "done"};

struct runner;

struct jrun {
    struct runner *R;
    enum jrun_state state;
    struct tp_journey_result *res;
    const struct tp_journey *journey;
    const struct tp_target *target;
    size_t step;          /* current step index */
    unsigned attempt;     /* attempts made at the current step */
    int failed;           /* a step failed: later steps are skipped unless `always` */
    int first_request;    /* no request made yet: a fresh connection */
    int64_t wake_ms;      /* JR_BACKOFF: when to retry */
    CURL *easy;
    tp_http_transfer *xfer;
    tp_vars *vars;
    CURLU *base;          /* the target's base_url parsed once, or NULL (see jrun_init) */
    struct tp_template_env env;
    char cookie[1024];    /* the target's cookies, "a=b; c=d" */
};

struct runner {
    const struct tp_run_plan *plan;
    CURLM *multi;         /* the running round's (run_round), else NULL */
    uint64_t rng[2];      /* xorshift128+ state, seeded from the OS */
    long in_flight;
    int debug;            /* TWINPROBE_DEBUG set: log state changes on stderr */
    int nomem;            /* masking a result ran out of memory */
    enum tp_stop stopped; /* set once the stop flag or the deadline is seen */
    size_t cut;           /* transfers in flight cut when it stopped */
    char user_agent[256];
    struct tp_strbuf trace; /* -v: traces waiting until no transfer is in flight */
    char **origins;         /* per target: tp_request_origin of its base_url, or NULL */
};

/* Traces held back past this many bytes are written at once (-vv, big bodies). */
#define TRACE_WAIT_MAX (1u << 20)

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t tp_runner_clock_ms(void)
{
    return mono_ms();
}

/* Whether the run must stop now, and why; once seen, it stays. */
static enum tp_stop stopping(struct runner *R)
{
    if (R->stopped == TP_STOP_NONE) {
        if (R->plan->stop && *R->plan->stop)
            R->stopped = TP_STOP_SIGNAL;
        else if (R->plan->deadline_ms > 0 && mono_ms() >= R->plan->deadline_ms)
            R->stopped = TP_STOP_MAX_RUNTIME;
    }
    return R->stopped;
}

static uint64_t next_random(struct runner *R)
{
    uint64_t s1 = R->rng[0];
    const uint64_t s0 = R->rng[1];
    R->rng[0] = s0;
    s1 ^= s1 << 23;
    R->rng[1] = s1 ^ s0 ^ (s1 >> 17) ^ (s0 >> 26);
    return R->rng[1] + s0;
}

static void seed_random(struct runner *R)
{
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, R->rng, sizeof R->rng) : -1;
    if (fd >= 0)
        close(fd);
    if (n != (ssize_t)sizeof R->rng) {
        R->rng[0] = (uint64_t)wall_ms() ^ 0x9e3779b97f4a7c15ull;
        R->rng[1] = (uint64_t)getpid() * 0xbf58476d1ce4e5b9ull;
    }
    if (!R->rng[0] && !R->rng[1])
        R->rng[0] = 1;
}

static void random_hex(struct runner *R, char *out, size_t digits)
{
    static const char hex[] = "0123456789abcdef";
    uint64_t bits = 0;
    for (size_t i = 0; i < digits; i++) {
        if (i % 16 == 0)
            bits = next_random(R);
        out[i] = hex[bits & 15];
        bits >>= 4;
    }
    out[digits] = '\0';
}

/* Template environment of one journey run. */
static const char *env_var(void *ctx, const char *name)
{
    return tp_vars_get(((struct jrun *)ctx)->vars, name);
}

static const char *env_env(void *ctx, const char *name)
{
    (void)ctx;
    return getenv(name);
}

static uint64_t env_random(void *ctx)
{
    return next_random(((struct jrun *)ctx)->R);
}

static int64_t env_now(void *ctx)
{
    (void)ctx;
    return wall_ms();
}

static void set_state(struct jrun *j, enum jrun_state s)
{
    if (j->R->debug)
        fprintf(stderr, "twinprobe: %s@%s#%u step %zu: %s -> %s\n", j->journey->name,
                j->target->name, j->res->round, j->step, state_names[j->state], state_names[s]);
    j->state = s;
}

static tp_err jrun_init(struct runner *R, struct jrun *j, struct tp_journey_result *res,
                        struct tp_error *err)
{
    const struct tp_journey *jn = res->journey;
    size_t used = 0;

    memset(j, 0, sizeof *j);
    j->R = R;
    j->res = res;
    j->journey = jn;
    j->target = res->target;
    j->first_request = 1;
    j->state = JR_READY;
    j->env = (struct tp_template_env){env_var, env_env, env_random, env_now, j};
    res->steps = calloc(jn->nsteps ? jn->nsteps : 1, sizeof *res->steps);
    j->vars = tp_vars_create();
    j->easy = curl_easy_init();
    if (!res->steps || !j->vars || !j->easy)
        return tp_error_set(err, TP_ERR_NOMEM, "out of memory starting a journey run");
    for (size_t i = 0; i < jn->nsteps; i++)
        res->steps[i].step = &jn->steps[i];
    random_hex(R, res->trace_id, 32);
    /* Parsed once for every request of the run. When it does not parse, base
     * stays NULL and each request reports the error as it builds its URL. */
    j->base = curl_url();
    if (j->base && curl_url_set(j->base, CURLUPART_URL, j->target->base_url, 0) != CURLUE_OK) {
        curl_url_cleanup(j->base);
        j->base = NULL;
    }
    for (size_t i = 0; i < j->target->ncookies; i++) {
        int n = snprintf(j->cookie + used, sizeof j->cookie - used, "%s%s=%s", i ? "; " : "",
                         j->target->cookies[i].name, j->target->cookies[i].value);
        if (n < 0 || (size_t)n >= sizeof j->cookie - used)
            return tp_error_set(err, TP_ERR_INVALID, "target %s: cookies too long",
                                j->target->name);
        used += (size_t)n;
    }
    /* {{target}} and {{location}}, then the journey variables in file order:
     * each may use the ones before it. */
    if (tp_vars_set(j->vars, TP_TPL_TARGET_VAR, j->target->name) != TP_OK ||
        tp_vars_set(j->vars, TP_TPL_LOCATION_VAR,
                    R->plan->location ? R->plan->location : "local") != TP_OK)
        return tp_error_set(err, TP_ERR_NOMEM, "out of memory starting a journey run");

    for (size_t i = 0; i < jn->variables.count; i++) {
        char *value = NULL;
        tp_err rc = tp_template_expand(jn->variables.items[i].value, &j->env, TP_ESC_NONE,
                                       &value, err);
        if (rc == TP_OK)
            rc = tp_vars_set(j->vars, jn->variables.items[i].name, value);
        free(value);
        if (rc != TP_OK)
            return rc;
    }
    return TP_OK;
}

static void jrun_free(struct jrun *j)
{
    if (j->xfer) {
        curl_multi_remove_handle(j->R->multi, j->easy);
        tp_http_transfer_free(j->xfer);
        j->xfer = NULL;
    }
    if (j->easy)
        curl_easy_cleanup(j->easy);
    tp_vars_free(j->vars);
    curl_url_cleanup(j->base);
    j->easy = NULL;
    j->vars = NULL;
    j->base = NULL;
}

/* Records a failure that happened before any response (request building). */
static void fail_step(struct jrun *j, enum tp_failure f, const char *msg)
{
    struct tp_step_result *sr = &j->res->steps[j->step];
    sr->ok = 0;
    sr->failure = f;
    free(sr->error);
    sr->error = strdup(msg);
    if (!sr->step->continue_on_failure)
        j->failed = 1;
    set_state(j, JR_STEP_DONE);
}

/* Whether a capture or an expectation of st reads a cookie (only then is the
 * cookie jar copied into the response: it costs a list per transfer). */
static int reads_cookie(const struct tp_step *st)
{
    for (size_t i = 0; i < st->ncaptures; i++)
        if (st->captures[i].source.kind == TP_SRC_COOKIE)
            return 1;
    for (size_t i = 0; i < st->nexpects; i++)
        if (st->expects[i].source.kind == TP_SRC_COOKIE)
            return 1;
    return 0;
}

/* Starts the current step's next attempt. */
static void start_attempt(struct jrun *j)
{
    struct runner *R = j->R;
    const struct tp_step *st = &j->journey->steps[j->step];
    struct tp_request_ctx ctx;
    struct tp_http_request req;
    struct tp_error err;
    enum tp_failure cls;
    char span[17];

    random_hex(R, span, 16);
    ctx = (struct tp_request_ctx){j->journey,      j->target, &j->env,
                                  R->user_agent,   j->res->trace_id,
                                  span,            j->cookie[0] ? j->cookie : NULL,
                                  j->base,         R->origins[j->target - R->plan->targets],
                                  R->plan->secrets};
    memset(&req, 0, sizeof req);
    tp_error_clear(&err);
    j->attempt++;
    j->res->steps[j->step].attempts = j->attempt;
    if (tp_request_build(&ctx, st, &req, &cls, &err) != TP_OK) {
        tp_http_request_clear(&req);
        fail_step(j, cls, err.text);
        return;
    }
    req.fresh_connect = j->first_request;
    req.trace = R->plan->verbose;
    req.read_cookies = reads_cookie(st);
    j->first_request = 0;
    if (!j->res->started_ms)
        j->res->started_ms = wall_ms();
    if (tp_http_transfer_start(j->easy, &req, &j->xfer, &err) != TP_OK) {
        tp_http_request_clear(&req);
        fail_step(j, TP_FAIL_INTERNAL, err.text);
        return;
    }
    curl_easy_setopt(j->easy, CURLOPT_PRIVATE, j);
    if (curl_multi_add_handle(R->multi, j->easy) != CURLM_OK) {
        tp_http_transfer_free(j->xfer);
        j->xfer = NULL;
        fail_step(j, TP_FAIL_INTERNAL, "internal: cannot add the transfer to the event loop");
        return;
    }
    R->in_flight++;
    set_state(j, JR_IN_FLIGHT);
}

/* -v: the attempt's trace, queued; written by trace_flush. A trace that runs
 * out of memory is left out: it is a view for a person, not a result. */
static void trace_attempt(struct jrun *j, const char *failure)
{
    struct runner *R = j->R;
    char title[512], *block;

    snprintf(title, sizeof title, "journey %s, target %s, round %u, step %zu %s, attempt %u",
             j->journey->name, j->target->name, j->res->round, j->step + 1,
             j->journey->steps[j->step].name, j->attempt);
    block = tp_http_transfer_trace(j->xfer, title, &j->res->steps[j->step].response, failure,
                                   R->plan->secrets);
    if (block)
        (void)tp_strbuf_str(&R->trace, block);
    free(block);
}

/* Writes the queued traces when no transfer is in flight (a blocked stderr then
 * delays no measurement), when too many wait, or when force is set. */
static void trace_flush(struct runner *R, int force)
{
    if (R->trace.len == 0 || (!force && R->in_flight > 0 && R->trace.len < TRACE_WAIT_MAX))
        return;
    fwrite(R->trace.data, 1, R->trace.len, stderr);
    fflush(stderr);
    tp_strbuf_cut(&R->trace, 0);
}

/* A transfer finished: judge it, retry it, or record it. */
static void finish_attempt(struct jrun *j, CURLcode result)
{
    struct runner *R = j->R;
    const struct tp_step *st = &j->journey->steps[j->step];
    struct tp_step_result *sr = &j->res->steps[j->step];
    struct tp_error err;
    char msg[512];
    enum tp_failure f;

    curl_multi_remove_handle(R->multi, j->easy);
    R->in_flight--;
    tp_response_clear(&sr->response);
    tp_step_eval_clear(&sr->eval);
    free(sr->error);
    sr->error = NULL;
    msg[0] = '\0';
    f = tp_http_transfer_finish(j->xfer, result, &sr->response, msg, sizeof msg);
    if (f == TP_FAIL_NONE) {
        tp_error_clear(&err);
        /* The body is parsed here, after the transfer, never in a callback. */
        if (tp_step_evaluate(st, &sr->response, &j->env, j->vars, &sr->eval, &err) != TP_OK) {
            f = TP_FAIL_INTERNAL;
            snprintf(msg, sizeof msg, "%s", err.text);
        } else if (sr->eval.failure != TP_FAIL_NONE) {
            f = sr->eval.failure;
        }
        /* Nothing after this reads the DOM, the parsed JSON or the cookie jar
         * (the comparison parses the body again, a round at a time): free them
         * now rather than keep them for every step of every round. */
        tp_response_drop_parsed(&sr->response);
    }
    if (R->plan->verbose)
        trace_attempt(j, msg);
    tp_http_transfer_free(j->xfer);
    j->xfer = NULL;
    if (f != TP_FAIL_NONE && j->attempt <= st->retry.count && (st->retry.on & (1u << f))) {
        unsigned shift = j->attempt - 1 < 16 ? j->attempt - 1 : 16;
        j->wake_ms = mono_ms() + (int64_t)st->retry.backoff_ms * (1 << shift);
        set_state(j, JR_BACKOFF);
        return;
    }
    sr->ok = f == TP_FAIL_NONE;
    sr->failure = f;
    if (f != TP_FAIL_NONE) {
        /* The evaluation's message whole: it is masked before anything cuts it. */
        sr->error = strdup(f == sr->eval.failure && sr->eval.error ? sr->eval.error : msg);
        if (!st->continue_on_failure)
            j->failed = 1;
    }
    set_state(j, JR_STEP_DONE);
}

/* Moves a run past finished or skipped steps to the next one it must run. */
static void advance(struct jrun *j)
{
    if (j->state == JR_STEP_DONE) {
        /* The result is final: mask what it recorded, at its source. */
        if (tp_step_result_mask(&j->res->steps[j->step], j->R->plan->secrets) != TP_OK)
            j->R->nomem = 1;
        j->step++;
        j->attempt = 0;
        set_state(j, JR_READY);
    }
    while (j->state == JR_READY && j->step < j->journey->nsteps) {
        const struct tp_step *st = &j->journey->steps[j->step];
        if (!j->failed || st->always)
            return;
        j->res->steps[j->step].skipped = 1;
        j->step++;
    }
    if (j->state == JR_READY && j->step >= j->journey->nsteps) {
        int ok = 1;
        for (size_t i = 0; i < j->journey->nsteps; i++)
            ok &= j->res->steps[i].ok;
        j->res->ok = ok;
        set_state(j, JR_DONE);
    }
}

/* One group (a journey in a round, a run per target) in lockstep. */
struct group {
    struct jrun *runs;
    size_t n;
    unsigned round;   /* 1-based */
    int alternate;    /* start the runs back to back, ABBA over the rounds */
};

/* Alternate pairing: the first run, in this round's order, that has yet to run
 * its step in this pass. Odd rounds go A B, even rounds B A. */
static struct jrun *next_in_order(struct group *g)
{
    for (size_t i = 0; i < g->n; i++) {
        size_t k = g->round % 2 ? i : g->n - 1 - i;
        if (g->runs[k].state == JR_READY)
            return &g->runs[k];
    }
    return NULL;
}

/* When every run of the group has finished its step, moves them all on and starts
 * the next step for every run that has one: together, or (alternate pairing) one
 * after another. Returns 1 when the group is done. */
static int group_step(struct group *g, long cap)
{
    struct runner *R = g->runs[0].R;
    size_t ready = 0, done = 0;
    int64_t now = mono_ms();
    struct jrun *next;

    for (size_t i = 0; i < g->n; i++) {
        struct jrun *j = &g->runs[i];
        if (j->state == JR_BACKOFF && now >= j->wake_ms)
            start_attempt(j);
        if (j->state == JR_IN_FLIGHT || j->state == JR_BACKOFF)
            return 0;
    }
    if (g->alternate && (next = next_in_order(g))) {
        start_attempt(next); /* the pass goes on with the next target */
        return 0;
    }
    for (size_t i = 0; i < g->n; i++) {
        advance(&g->runs[i]);
        if (g->runs[i].state == JR_DONE)
            done++;
        else
            ready++;
    }
    if (done == g->n)
        return 1;
    if (g->alternate) {
        if (R->in_flight < cap)
            start_attempt(next_in_order(g));
        return 0;
    }
    if (R->in_flight > 0 && R->in_flight + (long)ready > cap)
        return 0; /* wait for room: the pair starts together or not at all */
    for (size_t i = 0; i < g->n; i++)
        if (g->runs[i].state == JR_READY)
            start_attempt(&g->runs[i]);
    return 0;
}

/* Milliseconds until the earliest retry is due, at most cap_ms. */
static int poll_timeout(struct group *groups, size_t ngroups, int cap_ms)
{
    int64_t now = mono_ms(), best = cap_ms;
    for (size_t g = 0; g < ngroups; g++)
        for (size_t i = 0; i < groups[g].n; i++)
            if (groups[g].runs[i].state == JR_BACKOFF && groups[g].runs[i].wake_ms - now < best)
                best = groups[g].runs[i].wake_ms - now;
    return best < 0 ? 0 : (int)best;
}

/* At most this many finished transfers are judged (and their journeys' next
 * requests built) before libcurl reads the sockets again: libcurl times a first
 * byte when curl_multi_perform reads it, so a response arriving while a long
 * wave of finished transfers is judged would count the judging as server wait
 * (bench/fidelity: +1 to +3 ms at 500 in flight without the cap, -0.2 ms with
 * it). The rest stay queued in libcurl for the next pass. */
#define FINISH_PER_PASS 16

/* Hands up to FINISH_PER_PASS transfers the multi handle reports done to their
 * journey runs; returns how many there were. */
static size_t collect_finished(struct runner *R)
{
    size_t n = 0;
    int msgs;
    CURLMsg *m;
    while (n < FINISH_PER_PASS && (m = curl_multi_info_read(R->multi, &msgs))) {
        struct jrun *j = NULL;
        if (m->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&j);
        if (j) {
            finish_attempt(j, m->data.result);
            n++;
        }
    }
    return n;
}

/* The run stopped: every transfer in flight is cut and recorded as a timeout,
 * every run of the round is done (the round is left out by the caller). */
static void cut_round(struct runner *R, struct jrun *runs, size_t nruns)
{
    for (size_t i = 0; i < nruns; i++) {
        struct jrun *j = &runs[i];
        if (j->state == JR_IN_FLIGHT) {
            struct tp_step_result *sr = &j->res->steps[j->step];
            curl_multi_remove_handle(R->multi, j->easy);
            tp_http_transfer_free(j->xfer);
            j->xfer = NULL;
            R->in_flight--;
            R->cut++;
            sr->ok = 0;
            sr->failure = TP_FAIL_TIMEOUT;
            free(sr->error);
            sr->error = strdup(R->stopped == TP_STOP_SIGNAL ? "cut: the run was stopped by a signal"
                                                            : "cut: the run reached its max runtime");
        }
        if (j->R)
            set_state(j, JR_DONE);
    }
}

/* Runs one round: every journey against every target. */
static tp_err run_round(struct runner *R, struct tp_journey_result *results, unsigned round,
                        struct tp_error *err)
{
    const struct tp_run_plan *plan = R->plan;
    size_t nruns = plan->njourneys * plan->ntargets;
    struct jrun *runs = calloc(nruns, sizeof *runs);
    struct group *groups = calloc(plan->njourneys, sizeof *groups);
    tp_err rc = TP_OK;
    size_t pending;

    /* A multi handle per round: the connections of its journey runs (each run's
     * own, fresh on its first request) close with the round, so neither memory nor
     * descriptors grow with the rounds (fdlimit.h). */
    R->multi = curl_multi_init();
    if (!runs || !groups || !R->multi) {
        rc = tp_error_set(err, TP_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (size_t g = 0; g < plan->njourneys; g++) {
        groups[g].runs = &runs[g * plan->ntargets];
        groups[g].n = plan->ntargets;
        groups[g].round = round;
        groups[g].alternate = plan->pairing == TP_PAIR_ALTERNATE;
        for (size_t t = 0; t < plan->ntargets; t++) {
            struct tp_journey_result *res = &results[g * plan->ntargets + t];
            res->journey = plan->journeys[g];
            res->target = &plan->targets[t];
            res->round = round;
            rc = jrun_init(R, &groups[g].runs[t], res, err);
            if (rc != TP_OK)
                goto done;
        }
    }
    pending = plan->njourneys;
    while (pending > 0) {
        int running;
        size_t finished;

        if (stopping(R) != TP_STOP_NONE) {
            cut_round(R, runs, nruns);
            break;
        }
        pending = 0;
        for (size_t g = 0; g < plan->njourneys; g++)
            if (!group_step(&groups[g], plan->max_concurrency))
                pending++;
        if (pending == 0)
            break;
        if (curl_multi_perform(R->multi, &running) != CURLM_OK) {
            rc = tp_error_set(err, TP_ERR_INTERNAL, "internal: the curl event loop failed");
            goto done;
        }
        finished = collect_finished(R);
        trace_flush(R, 0);
        /* Wait only when nothing moved: a finished transfer lets its group go on
         * at once (a poll here would sleep until its timeout). */
        if (finished == 0 &&
            curl_multi_poll(R->multi, NULL, 0, poll_timeout(groups, plan->njourneys, 100),
                            NULL) != CURLM_OK) {
            rc = tp_error_set(err, TP_ERR_INTERNAL, "internal: the curl event loop failed");
            goto done;
        }
    }
done:
    trace_flush(R, 1);
    for (size_t i = 0; runs && i < nruns; i++)
        if (runs[i].R)
            jrun_free(&runs[i]);
    if (R->multi)
        curl_multi_cleanup(R->multi); /* closes the round's connections */
    R->multi = NULL;
    free(runs);
    free(groups);
    return rc;
}

tp_err tp_runner_run(const struct tp_run_plan *plan, struct tp_run_report *out,
                     struct tp_error *err)
{
    struct runner R;
    size_t per_round = plan->njourneys * plan->ntargets;
    tp_err rc = TP_OK;

    memset(&R, 0, sizeof R);
    R.plan = plan;
    R.debug = getenv("TWINPROBE_DEBUG") != NULL;
    seed_random(&R);
    snprintf(R.user_agent, sizeof R.user_agent, "twinprobe/%s (%s)", TP_VERSION,
             plan->location ? plan->location : "local");
    out->location = plan->location;
    out->started_ms = wall_ms();
    {
        char hex[33];
        random_hex(&R, hex, 32);
        /* A version-4 UUID from 128 random bits. */
        snprintf(out->run_id, sizeof out->run_id, "%.8s-%.4s-4%.3s-%c%.3s-%.12s", hex, hex + 8,
                 hex + 13, "89ab"[(hex[16] - '0') & 3], hex + 17, hex + 20);
    }
    out->journeys = calloc(per_round * plan->rounds + 1, sizeof *out->journeys);
    R.origins = calloc(plan->ntargets + 1, sizeof *R.origins);
    if (!out->journeys || !R.origins) {
        rc = tp_error_set(err, TP_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (size_t t = 0; t < plan->ntargets; t++) /* NULL (no memory, not http): parsed per request */
        R.origins[t] = tp_request_origin(plan->targets[t].base_url);
    out->njourneys = per_round * plan->rounds;
    out->rounds_planned = plan->rounds;
    for (unsigned r = 0; r < plan->rounds && rc == TP_OK && stopping(&R) == TP_STOP_NONE; r++) {
        rc = run_round(&R, out->journeys + (size_t)r * per_round, r + 1, err);
        if (rc == TP_OK && R.stopped == TP_STOP_NONE) {
            out->rounds_completed = r + 1;
            if (plan->on_round)
                rc = plan->on_round(plan->on_round_ctx, out, r, err);
        }
    }
    if (rc == TP_OK && R.stopped != TP_STOP_NONE) {
        /* The round cut short is left out: only whole rounds are judged. */
        for (size_t i = (size_t)out->rounds_completed * per_round; i < out->njourneys; i++)
            tp_journey_result_clear(&out->journeys[i]);
        out->njourneys = (size_t)out->rounds_completed * per_round;
        out->stopped = R.stopped;
        out->transfers_cut = R.cut;
    }
    if (rc == TP_OK && R.nomem)
        rc = tp_error_set(err, TP_ERR_NOMEM, "out of memory masking the results");
done:
    for (size_t t = 0; R.origins && t < plan->ntargets; t++)
        free(R.origins[t]);
    free(R.origins);
    tp_strbuf_free(&R.trace);
    return rc;
}

int tp_run_all_ok(const struct tp_run_report *r)
{
    for (size_t i = 0; i < r->njourneys; i++)
        if (!r->journeys[i].ok)
            return 0;
    return 1;
}
