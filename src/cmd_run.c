/* twinprobe run: load the journeys (and a probe file), run them, publish to Redis,
 * write a report. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "twinprobe/cli.h"
#include "twinprobe/compare.h"
#include "twinprobe/fdlimit.h"
#include "twinprobe/load.h"
#include "twinprobe/log.h"
#include "twinprobe/mask.h"
#include "twinprobe/publish.h"
#include "twinprobe/report.h"
#include "twinprobe/runner.h"
#include "twinprobe/spool.h"
#include "twinprobe/stats.h"
#include "twinprobe/streams.h"
#include "twinprobe/version.h"

enum format { FORMAT_TEXT, FORMAT_JSON, FORMAT_JUNIT };

#define MAX_TARGETS 64 /* --target flags */
#define MAX_REPORTS 16 /* --report flags */
#define MAX_ENV 64     /* {{env.NAME}} names per journey */

/* A further report of the run: --report FORMAT=FILE. */
struct report_req {
    enum format format;
    const char *file;
};

struct run_opts {
    const char *probe;
    const char *targets[MAX_TARGETS]; /* NAME=URL */
    size_t ntargets;
    long rounds;             /* 0: the probe's, else 1 */
    enum format format;
    const char *output;
    struct report_req reports[MAX_REPORTS];
    size_t nreports;
    const char *location;
    const char *ca_file;
    int insecure;
    long max_concurrency;
    const char *baseline;    /* --baseline NAME */
    enum tp_fail_on fail_on;
    int pairing;             /* -1: the probe's; else enum tp_pairing */
    int no_publish;          /* --no-publish */
    int verbose;             /* -v: 1, -vv: 2 */
    int quiet;               /* -q: log errors only */
    long jitter_s;           /* --jitter; -1: the probe's */
    long max_runtime_s;      /* --max-runtime; -1: the probe's; 0: none */
    struct tp_cli_vars vars; /* --variable, --variables-file, --secret */
};

/* A JSON report written as the run goes (report.h tp_json_report_*). */
struct json_out {
    const char *path;          /* NULL: standard output */
    FILE *f;
    struct tp_json_report w;
    int ended;
};

/* Everything the run owns, freed in one place. */
struct run_state {
    struct tp_probe *probe;
    struct tp_journey **journeys;
    size_t njourneys;
    struct tp_target *cli_targets;
    size_t ncli_targets;
    struct tp_target *ordered; /* baseline first, then candidates, then the baseline's
                                  noise run (shallow copies) */
    size_t nordered;
    long noise_target;         /* index in ordered, or -1 */
    char *noise_name;
    char *location;            /* masked */
    tp_secrets *secrets;
    struct tp_publish_setup publish; /* conf.redis NULL: nothing to publish */
    struct tp_run_report report;
    struct tp_comparison comparison;
    struct tp_compare_state *judge; /* the comparison as the rounds complete, or NULL */
    struct json_out json[1 + MAX_REPORTS]; /* JSON reports written as the run goes */
    size_t njson;
    size_t per_round;          /* journey results per round */
    int lock_fd;               /* the probe's run lock, or -1 */
};

/* The first SIGTERM or SIGINT; the event loop polls it (runner.h plan->stop). */
static volatile sig_atomic_t stop_signal;

/* Only sets the flag; a second SIGINT ends the process at once (_exit is
 * async-signal-safe). Signals are blocked while a batch goes to Redis or the
 * spool (publish), so neither is left holding half of one. */
static void on_signal(int sig)
{
    if (stop_signal && sig == SIGINT)
        _exit(128 + SIGINT);
    if (!stop_signal)
        stop_signal = sig;
}

static void catch_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
}

/* Blocks (how SIG_BLOCK) or unblocks (SIG_UNBLOCK) SIGTERM and SIGINT. */
static void hold_signals(int how)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigprocmask(how, &set, NULL);
}

static int parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

/* The words an option takes, and what each means. */
struct choice {
    const char *word;
    int value;
};

static const struct choice formats[] = {
    {"text", FORMAT_TEXT}, {"json", FORMAT_JSON}, {"junit", FORMAT_JUNIT}};
static const struct choice fail_ons[] = {
    {"high", TP_FAIL_ON_HIGH}, {"inconclusive", TP_FAIL_ON_INCONCLUSIVE}, {"never", TP_FAIL_ON_NEVER}};
static const struct choice pairings[] = {
    {"simultaneous", TP_PAIR_SIMULTANEOUS}, {"alternate", TP_PAIR_ALTERNATE}};

/* The value of word among n choices; -1 when it is none of them. */
static int choose(const struct choice *c, size_t n, const char *word, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(c[i].word) == len && strncmp(c[i].word, word, len) == 0)
            return c[i].value;
    return -1;
}

#define CHOOSE(table, word) choose(table, sizeof table / sizeof table[0], word, strlen(word))

/* --report FORMAT=FILE. TP_EXIT_OK or a usage error. */
static int take_report(struct run_opts *o, const char *arg)
{
    const char *eq = strchr(arg, '=');
    int f = eq ? choose(formats, sizeof formats / sizeof formats[0], arg, (size_t)(eq - arg)) : -1;
    if (f < 0 || !eq[1])
        return tp_cli_usage_error(tp_cli_find("run"),
                                  "--report takes FORMAT=FILE with FORMAT text, json or junit, "
                                  "got '%s'",
                                  arg);
    if (o->nreports == MAX_REPORTS)
        return tp_cli_usage_error(tp_cli_find("run"), "at most %d --report flags", MAX_REPORTS);
    o->reports[o->nreports++] = (struct report_req){(enum format)f, eq + 1};
    return TP_EXIT_OK;
}

/* --target NAME=URL. TP_EXIT_OK or a usage error. */
static int take_target(struct run_opts *o, const char *arg)
{
    if (!strchr(arg, '=') || arg[0] == '=')
        return tp_cli_usage_error(tp_cli_find("run"), "--target takes NAME=URL, got '%s'", arg);
    if (o->ntargets == MAX_TARGETS)
        return tp_cli_usage_error(tp_cli_find("run"), "at most %d --target flags", MAX_TARGETS);
    o->targets[o->ntargets++] = arg;
    return TP_EXIT_OK;
}

/* One option into o. TP_EXIT_OK, or a usage error (already printed). */
static int take_option(struct run_opts *o, int c, const char *arg)
{
    const struct tp_cli_command *cmd = tp_cli_find("run");
    int v;
    switch (c) {
    case 'p': o->probe = arg; break;
    case 't': return take_target(o, arg);
    case 'r': return take_report(o, arg);
    case 'o': o->output = arg; break;
    case 'l': o->location = arg; break;
    case 'b': o->baseline = arg; break;
    case TP_OPT_CA_FILE: o->ca_file = arg; break;
    case TP_OPT_INSECURE: o->insecure = 1; break;
    case TP_OPT_NO_PUBLISH: o->no_publish = 1; break;
    case 'v': o->verbose = o->verbose < 2 ? o->verbose + 1 : 2; break;
    case 'q': o->quiet = 1; break;
    case TP_OPT_JITTER:
        if (parse_long(arg, 0, 86400, &o->jitter_s) != 0)
            return tp_cli_usage_error(cmd, "--jitter takes seconds from 0 to 86400");
        break;
    case TP_OPT_MAX_RUNTIME:
        if (parse_long(arg, 0, 604800, &o->max_runtime_s) != 0)
            return tp_cli_usage_error(cmd, "--max-runtime takes seconds from 0 (none) to 604800");
        break;
    case 'n':
        if (parse_long(arg, 1, 100000, &o->rounds) != 0)
            return tp_cli_usage_error(cmd, "--rounds takes a number from 1 to 100000");
        break;
    case 'j':
        if (parse_long(arg, 1, 10000, &o->max_concurrency) != 0)
            return tp_cli_usage_error(cmd, "--max-concurrency takes a number from 1 to 10000");
        break;
    case 'f':
        if ((v = CHOOSE(formats, arg)) < 0)
            return tp_cli_usage_error(cmd, "--format is text, json or junit, not '%s'", arg);
        o->format = (enum format)v;
        break;
    case TP_OPT_FAIL_ON:
        if ((v = CHOOSE(fail_ons, arg)) < 0)
            return tp_cli_usage_error(cmd, "--fail-on is high, inconclusive or never");
        o->fail_on = (enum tp_fail_on)v;
        break;
    case TP_OPT_PAIRING:
        if ((v = CHOOSE(pairings, arg)) < 0)
            return tp_cli_usage_error(cmd, "--pairing is simultaneous or alternate");
        o->pairing = v;
        break;
    case TP_OPT_VARIABLE:
    case TP_OPT_VARIABLES_FILE:
    case TP_OPT_SECRET:
        return tp_cli_take_variable(&o->vars, cmd, c, arg);
    default:
        break;
    }
    return TP_EXIT_OK;
}

/* Returns 1 to go on; 0 to stop with *status (--help, or a usage error). */
static int parse_options(int argc, char **argv, struct run_opts *o, int *first, int *status)
{
    struct tp_cli_parser p = {tp_cli_find("run"), argc, argv, 0, NULL, {0}};
    const char *arg;
    int c;

    *status = TP_EXIT_OK;
    while ((c = tp_cli_next(&p, &arg, status, first)) != -1) {
        if (c == TP_CLI_STOP || (*status = take_option(o, c, arg)) != TP_EXIT_OK) {
            tp_cli_parser_done(&p);
            return 0;
        }
    }
    tp_cli_parser_done(&p);
    return 1;
}

/* --target NAME=URL flags into targets; the URL checked like a probe's base_url. */
static int make_cli_targets(const struct run_opts *o, struct run_state *s)
{
    s->cli_targets = calloc(o->ntargets, sizeof *s->cli_targets);
    if (!s->cli_targets)
        return TP_EXIT_RUNTIME;
    for (size_t i = 0; i < o->ntargets; i++) {
        const char *eq = strchr(o->targets[i], '=');
        struct tp_target *t = &s->cli_targets[s->ncli_targets++];
        t->name = strndup(o->targets[i], (size_t)(eq - o->targets[i]));
        t->base_url = strdup(eq + 1);
        t->ca_file = o->ca_file ? strdup(o->ca_file) : NULL;
        t->insecure = o->insecure;
        if (!t->name || !t->base_url || (o->ca_file && !t->ca_file))
            return TP_EXIT_RUNTIME;
        if (strncmp(t->base_url, "http://", 7) != 0 && strncmp(t->base_url, "https://", 8) != 0)
            return tp_cli_usage_error(tp_cli_find("run"),
                                      "target %s: the URL must be http:// or https://", t->name);
        for (size_t k = 0; k + 1 < s->ncli_targets; k++)
            if (strcmp(s->cli_targets[k].name, t->name) == 0)
                return tp_cli_usage_error(tp_cli_find("run"), "target %s given twice", t->name);
    }
    return TP_EXIT_OK;
}

/* The run's targets: the baseline first (--baseline, else the probe's baseline,
 * else the first --target), then the candidates in order, then, when a journey
 * learns noise and there is a candidate, the baseline once more. */
static int order_targets(const struct run_opts *o, struct run_state *s)
{
    struct tp_target *all = s->ncli_targets ? s->cli_targets : s->probe->targets;
    size_t n = s->ncli_targets ? s->ncli_targets : s->probe->ntargets;
    size_t base = s->ncli_targets ? 0 : s->probe->baseline;
    int learn = 0;

    if (o->baseline) {
        for (base = 0; base < n && strcmp(all[base].name, o->baseline) != 0; base++)
            ;
        if (base == n)
            return tp_cli_usage_error(tp_cli_find("run"), "--baseline %s names no target",
                                      o->baseline);
    }
    for (size_t i = 0; i < s->njourneys; i++)
        learn |= s->journeys[i]->compare.noise == TP_NOISE_LEARN;
    /* Names are labels in every output: masked at the source, once the
     * baseline is found by its real name. */
    for (size_t i = 0; i < n; i++)
        if (tp_secrets_mask_inplace(s->secrets, &all[i].name) != TP_OK)
            return TP_EXIT_RUNTIME;
    s->ordered = calloc(n + 1, sizeof *s->ordered);
    if (!s->ordered)
        return TP_EXIT_RUNTIME;
    s->ordered[s->nordered++] = all[base];
    for (size_t i = 0; i < n; i++)
        if (i != base)
            s->ordered[s->nordered++] = all[i];
    if (learn && n > 1) {
        size_t len = strlen(all[base].name) + sizeof "/noise";
        s->noise_name = malloc(len);
        if (!s->noise_name)
            return TP_EXIT_RUNTIME;
        snprintf(s->noise_name, len, "%s/noise", all[base].name);
        s->noise_target = (long)s->nordered;
        s->ordered[s->nordered] = all[base];
        s->ordered[s->nordered++].name = s->noise_name;
    }
    return TP_EXIT_OK;
}

/* Where the run's results are and the verdict defaults (the probe's, else built in):
 * the comparison and the publisher read the results through it. */
static struct tp_compare_plan compare_plan(const struct run_opts *o, const struct run_state *s,
                                           const struct tp_run_plan *plan)
{
    struct tp_verdict_opts defaults = TP_VERDICT_OPTS_INIT;
    if (s->probe) {
        defaults.margin_pct = s->probe->margin_pct;
        defaults.margin_ms = s->probe->margin_ms;
        defaults.pass_score = s->probe->pass_score;
        defaults.marginal_score = s->probe->marginal_score;
    }
    /* Only completed rounds: a round cut short is not in the report (runner.h). */
    return (struct tp_compare_plan){plan->njourneys, plan->ntargets, s->report.rounds_completed,
                                    s->noise_target,  1,              defaults,
                                    o->fail_on,       s->secrets};
}

/* With a candidate and fewer rounds than the signed-rank test can ever call
 * significant: one warning at the start, not an INCONCLUSIVE per step later. */
static void warn_few_rounds(const struct run_state *s, const struct tp_run_plan *plan)
{
    const double alpha = 0.05;
    unsigned need = 1;
    if (plan->ntargets - (s->noise_target >= 0 ? 1 : 0) < 2 ||
        tp_stats_wilcoxon_can_reject(plan->rounds, alpha))
        return;
    while (need < 1000 && !tp_stats_wilcoxon_can_reject(need, alpha))
        need++;
    tp_log(TP_LOG_WARN,
            "%u round%s cannot decide a comparison (the signed-rank "
            "test needs at least %u pairs for p < %g, more across many steps); every step will "
            "be INCONCLUSIVE: use --rounds %u or more",
            plan->rounds, plan->rounds == 1 ? "" : "s", need, alpha, need * 2);
}

/* Judging as the run goes: round k's JSON is written and its results reduced
 * to what the text and JUnit reports, the Redis entries and the exit status
 * read (result.h tp_step_brief): its bodies, captures and passed assertions
 * are freed, so memory does not grow with the bodies of the rounds. */
static tp_err settle_round(struct run_state *s, struct tp_run_report *r, unsigned k,
                           struct tp_error *err)
{
    for (size_t i = (size_t)k * s->per_round; i < (size_t)(k + 1) * s->per_round; i++) {
        for (size_t n = 0; n < s->njson; n++)
            (void)tp_json_report_journey(&s->json[n].w, &r->journeys[i]); /* failure: at the end */
        if (tp_journey_result_reduce(&r->journeys[i]) != TP_OK)
            return tp_error_set(err, TP_ERR_NOMEM, "out of memory reducing round %u", k + 1);
    }
    return TP_OK;
}

/* The runner's round callback (runner.h on_round): round `round` completed.
 * With a comparison, round - 1 is compared now (noise is learned from the
 * next round's baseline first) and settled; else round itself. */
static tp_err on_round(void *ctx, struct tp_run_report *r, unsigned round, struct tp_error *err)
{
    struct run_state *s = ctx;
    tp_err rc;

    for (size_t n = 0; n < s->njson; n++)
        (void)tp_json_report_begin(&s->json[n].w, r);
    if (!s->judge)
        return settle_round(s, r, round, err);
    if ((rc = tp_compare_feed(s->judge, r, round, err)) != TP_OK || round == 0)
        return rc;
    return settle_round(s, r, round - 1, err);
}

/* After the run: the last round compared and settled, the comparison
 * concluded. Then the one rule for the exit status: 1 when a journey run failed
 * or the comparison fails the run. */
static int compare(struct run_state *s)
{
    struct tp_error err;
    tp_err rc = TP_OK;

    tp_error_clear(&err);
    if (s->judge) {
        rc = tp_compare_finish(s->judge, &s->report, &err);
        if (rc == TP_OK && s->report.rounds_completed > 0)
            rc = settle_round(s, &s->report, s->report.rounds_completed - 1, &err);
    }
    tp_compare_state_free(s->judge);
    s->judge = NULL;
    if (rc != TP_OK) {
        tp_log(TP_LOG_ERROR, "%s", err.text);
        return TP_EXIT_RUNTIME;
    }
    s->report.comparison = &s->comparison;
    s->report.exit_status =
        tp_run_all_ok(&s->report) && !s->comparison.fails ? TP_EXIT_OK : TP_EXIT_FAIL;
    return TP_EXIT_OK;
}

static void warn_line(void *ctx, const char *msg)
{
    (void)ctx;
    tp_log(TP_LOG_WARN, "%s", msg);
}

static void debug_line(void *ctx, const char *msg)
{
    (void)ctx;
    tp_log(TP_LOG_INFO, "%s", msg);
}

/* With a probe that names Redis (and no --no-publish): replays the spool, then
 * publishes this run, spooling what Redis does not take. Returns TP_EXIT_OK
 * unless entries could be neither published nor spooled (TP_EXIT_RUNTIME). */
static int publish(const struct run_opts *o, struct run_state *s, const struct tp_run_plan *plan)
{
    const struct tp_redis_conf *rc = s->publish.conf.redis;
    struct tp_compare_plan cp = compare_plan(o, s, plan);
    struct tp_streams_opts so;
    struct tp_publish_summary sum;
    struct tp_batch batch = {0};
    struct tp_error err;
    int status = TP_EXIT_OK;

    if (!rc)
        return TP_EXIT_OK;
    so = (struct tp_streams_opts){rc->prefix, s->report.location, rc->maxlen, TP_VERSION};
    tp_error_clear(&err);
    if (tp_streams_build(&s->report, &cp, &so, &batch, &err) != TP_OK ||
        tp_publish_deliver(&s->publish.conf, &batch, &sum, &err) != TP_OK) {
        tp_log(TP_LOG_ERROR, "%s", err.text);
        status = TP_EXIT_RUNTIME;
    } else if (sum.spooled > 0) {
        tp_log(TP_LOG_WARN,
                "%s; %zu entr%s spooled in %s (sent by the next run or twinprobe flush)",
                sum.redis_error[0] ? sum.redis_error : "Redis refused entries", sum.spooled,
                sum.spooled == 1 ? "y" : "ies", s->probe->spool_dir);
    } else if (sum.spool_error[0] && s->probe->spool_dir) {
        tp_log(TP_LOG_WARN, "%s", sum.spool_error);
    }
    if (s->publish.conf.log.debug && status == TP_EXIT_OK)
        tp_log(TP_LOG_INFO,
                "redis: %zu published, %zu spooled, %zu replayed, %zu already present, %zu kept "
                "in the spool",
                sum.published, sum.spooled, sum.replayed, sum.present, sum.kept);
    tp_batch_clear(&batch);
    return status;
}

/* One journey file, with the command line's variables (they win over the
 * journey's own); NULL with the problems in d. */
static struct tp_journey *load_journey(const char *path, const struct run_opts *o,
                                       struct tp_diags *d)
{
    struct tp_journey_opts opts = {o->vars.values, 1};
    struct tp_journey *j = NULL;
    size_t len;
    char *bytes;

    tp_load_sniff(path, &bytes, &len, d);
    if (bytes)
        j = tp_journey_load_with(path, bytes, len, &opts, d);
    free(bytes);
    return j;
}

/* Loads the journeys named on the command line, else the probe's; their
 * warnings are printed once, here. */
static int load_journeys(char **paths, size_t npaths, const struct run_opts *o,
                         struct run_state *s)
{
    struct tp_diags d = {0};
    int status = TP_EXIT_OK;
    if (npaths == 0 && s->probe) {
        paths = s->probe->journeys;
        npaths = s->probe->njourneys;
    }
    if (npaths == 0)
        return tp_cli_usage_error(tp_cli_find("run"), "name a journey file or a --probe");
    s->journeys = calloc(npaths, sizeof *s->journeys);
    if (!s->journeys)
        return TP_EXIT_RUNTIME;
    for (size_t i = 0; i < npaths; i++) {
        struct tp_journey *j = load_journey(paths[i], o, &d);
        if (!j)
            continue;
        for (size_t k = 0; k < s->njourneys; k++)
            if (strcmp(s->journeys[k]->name, j->name) == 0)
                tp_diags_addf(&d, paths[i], "name", "journey name \"%s\" is used twice in this run",
                              j->name);
        s->journeys[s->njourneys++] = j;
    }
    tp_cli_print_warnings(&d, 0);
    if (tp_diags_total(&d) > 0) {
        tp_cli_print_diags(&d, 0);
        status = tp_cli_diags_status(&d);
    }
    tp_diags_clear(&d);
    return status;
}

/* A secret's value; warns once per variable when it is so short that masking
 * it also hides unrelated text. */
static int add_secret_value(struct run_state *s, const char *name, const char *value)
{
    if (!value || !*value)
        return TP_EXIT_OK;
    if (tp_secrets_short(value))
        tp_log(TP_LOG_WARN,
                "secret %s is shorter than %d characters; every occurrence of its value in the "
                "output is masked, also in unrelated text",
                name, TP_SECRET_MIN_LEN);
    return tp_secrets_add(s->secrets, value) == TP_OK ? TP_EXIT_OK : TP_EXIT_RUNTIME;
}

static int add_secret(struct run_state *s, const char *var)
{
    return add_secret_value(s, var, getenv(var));
}

/* The values of --secret flags join the run's secrets. */
static int add_cli_secrets(const struct run_opts *o, struct run_state *s)
{
    for (size_t i = 0; i < tp_vars_count(o->vars.secrets); i++)
        if (add_secret_value(s, tp_vars_name_at(o->vars.secrets, i),
                             tp_vars_value_at(o->vars.secrets, i)) != TP_EXIT_OK)
            return TP_EXIT_RUNTIME;
    return TP_EXIT_OK;
}

/* Every {{env.NAME}} must be set before the first request; the secrets (the
 * journeys' and the Redis password) are read here, before anything is
 * recorded, so every value can be masked where it is made. */
static int read_environment(const struct run_opts *o, struct run_state *s)
{
    s->secrets = tp_secrets_create();
    if (!s->secrets)
        return TP_EXIT_RUNTIME;
    tp_log_setup(o->quiet ? TP_LOG_ERROR : TP_LOG_INFO, s->secrets);
    for (size_t i = 0; i < s->njourneys; i++) {
        const struct tp_journey *j = s->journeys[i];
        const char *names[MAX_ENV];
        size_t n = tp_journey_env_names(j, names, MAX_ENV);
        if (n > MAX_ENV) {
            tp_log(TP_LOG_ERROR,
                   "%s: the journey uses %zu environment variables; at most %d are supported",
                    j->file, n, MAX_ENV);
            return TP_EXIT_USAGE;
        }
        for (size_t k = 0; k < n; k++) {
            if (!getenv(names[k])) {
                tp_log(TP_LOG_ERROR,
                       "%s: environment variable %s is not set (the journey uses {{env.%s}})",
                        j->file, names[k], names[k]);
                return TP_EXIT_USAGE;
            }
        }
        for (size_t k = 0; k < j->nsecrets; k++)
            if (add_secret(s, j->secrets[k]) != TP_EXIT_OK)
                return TP_EXIT_RUNTIME;
    }
    if (!o->no_publish && s->probe && s->probe->redis.url &&
        tp_publish_setup(&s->publish, s->probe, s->secrets,
                         (struct tp_spool_log){warn_line,
                                               getenv("TWINPROBE_DEBUG") ? debug_line : NULL,
                                               NULL}) != TP_OK)
        return TP_EXIT_RUNTIME;
    return TP_EXIT_OK;
}

/* The names every output shows (journeys, steps, critical steps, the location),
 * masked at the source; targets are masked in order_targets. */
static int mask_names(const struct run_opts *o, struct run_state *s)
{
    const char *loc = o->location ? o->location : s->probe ? s->probe->location : "local";
    tp_err rc = (s->location = strdup(loc)) ? TP_OK : TP_ERR_NOMEM;
    if (rc == TP_OK)
        rc = tp_secrets_mask_inplace(s->secrets, &s->location);
    for (size_t i = 0; rc == TP_OK && i < s->njourneys; i++) {
        struct tp_journey *j = s->journeys[i];
        rc = tp_secrets_mask_inplace(s->secrets, &j->name);
        for (size_t k = 0; rc == TP_OK && k < j->nsteps; k++)
            rc = tp_secrets_mask_inplace(s->secrets, &j->steps[k].name);
        for (size_t k = 0; rc == TP_OK && k < j->compare.ncritical; k++)
            rc = tp_secrets_mask_inplace(s->secrets, &j->compare.critical_steps[k]);
    }
    return rc == TP_OK ? TP_EXIT_OK : TP_EXIT_RUNTIME;
}

/* One run per probe at a time: with a spool_dir (and publishing), its run lock
 * (spool.h). Returns
 * 1 to go on (also without the lock when the directory cannot hold one: the
 * publisher reports that directory again), 0 when another run holds it. */
static int take_run_lock(const struct run_opts *o, struct run_state *s)
{
    struct tp_run_holder h;
    struct tp_error err;
    char who[96];

    if (!s->probe || !s->probe->spool_dir || o->no_publish)
        return 1; /* --no-publish never touches spool_dir */
    tp_error_clear(&err);
    if (tp_spool_run_lock(s->probe->spool_dir, &s->lock_fd, &h, &err) != TP_OK) {
        tp_log(TP_LOG_WARN, "%s; running without the run lock", err.text);
        return 1;
    }
    if (s->lock_fd >= 0)
        return 1;
    tp_run_holder_describe(&h, who, sizeof who);
    tp_log(TP_LOG_INFO, "probe %s is already running (%s); this run exits", o->probe, who);
    return 0;
}

/* 64 random bits from the OS (time and pid when it has none). */
static uint64_t os_random(void)
{
    uint64_t v = 0;
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0 || read(fd, &v, sizeof v) != (ssize_t)sizeof v)
        v = (uint64_t)time(NULL) * 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid();
    if (fd >= 0)
        close(fd);
    return v;
}

/* Waits a uniform random 0 to max_s seconds (millisecond steps), logged; a
 * stop signal ends the wait. */
static void jitter(long max_s)
{
    int64_t wait_ms, until;
    if (max_s <= 0)
        return;
    wait_ms = (int64_t)(os_random() % ((uint64_t)max_s * 1000 + 1));
    tp_log(TP_LOG_INFO, "jitter: waiting %.3f s (at most %ld s) before the first request",
           (double)wait_ms / 1000, max_s);
    until = tp_runner_clock_ms() + wait_ms;
    for (int64_t now; !stop_signal && (now = tp_runner_clock_ms()) < until;) {
        int64_t step = until - now < 100 ? until - now : 100;
        struct timespec ts = {0, (long)step * 1000000L};
        nanosleep(&ts, NULL);
    }
}

/* The runner stopped early: one line saying why and what is left out. */
static void log_stop(const struct tp_run_report *r)
{
    if (r->stopped == TP_STOP_NONE)
        return;
    tp_log(TP_LOG_WARN,
           "stopped (%s) after %u of %u round%s; %zu transfer%s in flight cut (timeout); "
           "rounds %u-%u not run",
           tp_stop_name(r->stopped), r->rounds_completed, r->rounds_planned,
           r->rounds_planned == 1 ? "" : "s", r->transfers_cut, r->transfers_cut == 1 ? "" : "s",
           r->rounds_completed + 1, r->rounds_planned);
}

/* The text or JUnit report (new), or NULL on no memory; JSON is streamed
 * (open_json_reports). */
static char *render(enum format f, const struct tp_run_report *r, int color)
{
    return f == FORMAT_JUNIT ? tp_report_junit(r) : tp_report_text(r, color);
}

/* Opens a report file for writing: never through a symlink, created 0600 (a
 * report may hold captured session tokens). NULL with errno on failure. */
static FILE *open_report(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    FILE *f;
    if (fd < 0)
        return NULL;
    if (!(f = fdopen(fd, "w")))
        close(fd);
    return f;
}

/* Writes one text or JUnit report of the run to path (NULL: standard output);
 * when path cannot be opened and `fallback` is set, to standard output instead. */
static int write_one(enum format f, const char *path, const struct tp_run_report *r,
                     int fallback)
{
    int color = !path && isatty(STDOUT_FILENO) && !getenv("NO_COLOR");
    char *text = render(f, r, color);
    FILE *out = stdout;
    int status = TP_EXIT_OK;

    if (!text) {
        tp_log(TP_LOG_ERROR, "out of memory writing the report");
        return TP_EXIT_RUNTIME;
    }
    if (path && !(out = open_report(path))) {
        tp_log(TP_LOG_ERROR, "cannot write the report to %s: %s", path, strerror(errno));
        if (fallback)
            fputs(text, stdout); /* the report is not lost */
        free(text);
        return TP_EXIT_RUNTIME;
    }
    if (fputs(text, out) == EOF || fflush(out) != 0)
        status = TP_EXIT_RUNTIME;
    if (out != stdout && fclose(out) != 0)
        status = TP_EXIT_RUNTIME;
    if (status != TP_EXIT_OK)
        tp_log(TP_LOG_ERROR, "cannot write the report to %s", path ? path : "standard output");
    free(text);
    return status;
}

static int write_out(void *ctx, const char *data, size_t len)
{
    return fwrite(data, 1, len, ctx) == len ? 0 : -1;
}

/* Opens every JSON report before the run: they are written as it goes. A file
 * that cannot be opened ends the command before anything is sent. */
static int open_json_reports(const struct run_opts *o, struct run_state *s)
{
    const char *paths[1 + MAX_REPORTS];
    size_t n = 0;

    if (o->format == FORMAT_JSON)
        paths[n++] = o->output;
    for (size_t i = 0; i < o->nreports; i++)
        if (o->reports[i].format == FORMAT_JSON)
            paths[n++] = o->reports[i].file;
    for (size_t i = 0; i < n; i++) {
        struct json_out *j = &s->json[s->njson];
        j->path = paths[i];
        j->f = paths[i] ? open_report(paths[i]) : stdout;
        if (!j->f) {
            tp_log(TP_LOG_ERROR, "cannot write the report to %s: %s", paths[i], strerror(errno));
            return TP_EXIT_RUNTIME;
        }
        tp_json_report_init(&j->w, write_out, j->f);
        s->njson++;
    }
    return TP_EXIT_OK;
}

/* Ends and closes the JSON reports (r->exit_status set). */
static int end_json_reports(struct run_state *s, const struct tp_run_report *r)
{
    int status = TP_EXIT_OK;
    for (size_t i = 0; i < s->njson; i++) {
        struct json_out *j = &s->json[i];
        int bad;
        if (j->ended)
            continue;
        j->ended = 1;
        bad = tp_json_report_end(&j->w, r) != 0 || fflush(j->f) != 0;
        if (j->f != stdout && fclose(j->f) != 0)
            bad = 1;
        j->f = NULL;
        if (bad) {
            tp_log(TP_LOG_ERROR, "cannot write the report to %s",
                   j->path ? j->path : "standard output");
            status = TP_EXIT_RUNTIME;
        }
    }
    return status;
}

/* The report --format/--output asks for, then every --report of the same run
 * (the JSON ones are ended: they were written as the run went). */
static int write_reports(const struct run_opts *o, struct run_state *s,
                         const struct tp_run_report *r)
{
    int status = end_json_reports(s, r);
    if (o->format != FORMAT_JSON) {
        int st = write_one(o->format, o->output, r, 1);
        if (status == TP_EXIT_OK)
            status = st;
    }
    for (size_t i = 0; i < o->nreports; i++) {
        int st;
        if (o->reports[i].format == FORMAT_JSON)
            continue;
        st = write_one(o->reports[i].format, o->reports[i].file, r, 0);
        if (status == TP_EXIT_OK)
            status = st;
    }
    return status;
}

static void state_free(struct run_state *s)
{
    for (size_t i = 0; i < s->njson; i++) {
        if (s->json[i].f && s->json[i].f != stdout)
            fclose(s->json[i].f);
        tp_json_report_free(&s->json[i].w);
    }
    tp_compare_state_free(s->judge); /* before the comparison it fills */
    tp_run_report_clear(&s->report);
    tp_comparison_clear(&s->comparison);
    free(s->location);
    for (size_t i = 0; i < s->njourneys; i++)
        tp_journey_free(s->journeys[i]);
    free(s->journeys);
    for (size_t i = 0; i < s->ncli_targets; i++) {
        free(s->cli_targets[i].name);
        free(s->cli_targets[i].base_url);
        free(s->cli_targets[i].ca_file);
    }
    free(s->cli_targets);
    free(s->ordered);
    free(s->noise_name);
    if (s->lock_fd >= 0)
        close(s->lock_fd); /* releases the run lock */
    tp_secrets_free(s->secrets);
    tp_probe_free(s->probe);
}

/* The comparison made as the rounds complete (with two or more targets), and
 * the runner's round callback. */
static int start_judging(const struct run_opts *o, struct run_state *s,
                         struct tp_run_plan *plan)
{
    struct tp_compare_plan cp = compare_plan(o, s, plan);
    struct tp_error err;

    cp.rounds = plan->rounds; /* room for every round; finish counts those fed */
    s->per_round = plan->njourneys * plan->ntargets;
    plan->on_round = on_round;
    plan->on_round_ctx = s;
    tp_error_clear(&err);
    if (plan->ntargets >= 2 && tp_compare_start(&cp, &s->comparison, &s->judge, &err) != TP_OK) {
        tp_log(TP_LOG_ERROR, "%s", err.text);
        return TP_EXIT_RUNTIME;
    }
    return TP_EXIT_OK;
}

int tp_cmd_run(int argc, char **argv)
{
    struct run_opts o;
    struct run_state s;
    struct tp_run_plan plan;
    struct tp_error err;
    int first = argc, status;
    int64_t started = tp_runner_clock_ms();
    long max_runtime_s;

    signal(SIGPIPE, SIG_IGN); /* a closed Redis or report pipe is an error, not a death */
    memset(&o, 0, sizeof o);
    memset(&s, 0, sizeof s);
    o.pairing = -1;
    s.noise_target = -1;
    s.lock_fd = -1;
    o.jitter_s = o.max_runtime_s = -1;
    if (!parse_options(argc, argv, &o, &first, &status))
        goto done;
    tp_log_setup(o.quiet ? TP_LOG_ERROR : TP_LOG_INFO, NULL);
    catch_signals();
    if (o.probe) {
        struct tp_diags d = {0};
        s.probe = tp_load_probe_file(o.probe, &d);
        tp_cli_print_diags(&d, 0);
        status = tp_cli_diags_status(&d);
        tp_diags_clear(&d);
        if (!s.probe)
            goto done;
    }
    if (!o.probe && o.ntargets == 0) {
        status = tp_cli_usage_error(tp_cli_find("run"), "name a --probe or at least one --target NAME=URL");
        goto done;
    }
    if ((status = make_cli_targets(&o, &s)) != TP_EXIT_OK ||
        (status = load_journeys(argv + first, (size_t)(argc - first), &o, &s)) != TP_EXIT_OK ||
        (status = read_environment(&o, &s)) != TP_EXIT_OK ||
        (status = add_cli_secrets(&o, &s)) != TP_EXIT_OK ||
        (status = mask_names(&o, &s)) != TP_EXIT_OK)
        goto done;

    memset(&plan, 0, sizeof plan);
    plan.journeys = s.journeys;
    plan.njourneys = s.njourneys;
    if ((status = order_targets(&o, &s)) != TP_EXIT_OK)
        goto done;
    plan.targets = s.ordered;
    plan.ntargets = s.nordered;
    plan.pairing = o.pairing >= 0 ? (enum tp_pairing)o.pairing
                   : s.probe      ? s.probe->pairing
                                  : TP_PAIR_SIMULTANEOUS;
    plan.rounds = (unsigned)(o.rounds ? o.rounds : s.probe ? s.probe->rounds : 1);
    plan.max_concurrency = o.max_concurrency ? o.max_concurrency
                           : s.probe         ? s.probe->max_concurrency
                                             : 64;
    plan.location = s.location;
    plan.secrets = s.secrets;
    plan.verbose = o.verbose;
    /* The runtime counts from the start of the command, jitter included. */
    max_runtime_s = o.max_runtime_s >= 0 ? o.max_runtime_s : s.probe ? s.probe->max_runtime_s : 0;
    plan.deadline_ms = max_runtime_s > 0 ? started + (int64_t)max_runtime_s * 1000 : 0;
    plan.stop = &stop_signal;
    /* Room for every connection the run can hold, or exit 2 before any is made. */
    tp_error_clear(&err);
    if (tp_fdlimit_raise(&(struct tp_fdlimit_shape){plan.max_concurrency,
                                                    plan.njourneys * plan.ntargets},
                         &err) != TP_OK) {
        tp_log(TP_LOG_ERROR, "%s", err.text);
        status = TP_EXIT_USAGE;
        goto done;
    }

    if (!take_run_lock(&o, &s)) {
        status = TP_EXIT_OK;
        goto done;
    }
    warn_few_rounds(&s, &plan);
    jitter(o.jitter_s >= 0 ? o.jitter_s : s.probe ? s.probe->jitter_s : 0);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        tp_log(TP_LOG_ERROR, "libcurl failed to start");
        status = TP_EXIT_RUNTIME;
        goto done;
    }
    tp_error_clear(&err);
    if ((status = open_json_reports(&o, &s)) != TP_EXIT_OK ||
        (status = start_judging(&o, &s, &plan)) != TP_EXIT_OK) {
        curl_global_cleanup();
        goto done;
    }
    if (tp_runner_run(&plan, &s.report, &err) != TP_OK) {
        tp_log(TP_LOG_ERROR, "%s", err.text);
        status = TP_EXIT_RUNTIME;
        curl_global_cleanup();
        goto done;
    }
    curl_global_cleanup();
    log_stop(&s.report);
    if ((status = compare(&s)) != TP_EXIT_OK)
        goto done;
    /* Entries neither published nor spooled: exit 3, after the report is out.
     * No signal cuts a batch in half (a second SIGINT waits for its end). */
    hold_signals(SIG_BLOCK);
    if (publish(&o, &s, &plan) != TP_EXIT_OK)
        s.report.exit_status = TP_EXIT_RUNTIME;
    hold_signals(SIG_UNBLOCK);
    if (stop_signal)
        s.report.exit_status = 128 + stop_signal; /* the report says what the process exits */
    status = write_reports(&o, &s, &s.report);
    if (status == TP_EXIT_OK)
        status = s.report.exit_status;
    if (stop_signal)
        status = 128 + stop_signal;
done:
    if (s.njson) { /* a run ended by an error still leaves whole documents */
        s.report.exit_status = status;
        (void)end_json_reports(&s, &s.report);
    }
    tp_log_setup(o.quiet ? TP_LOG_ERROR : TP_LOG_INFO, NULL); /* the secrets go next */
    state_free(&s);
    tp_cli_vars_clear(&o.vars);
    return status;
}
