/* twinprobe run: load the journeys (and a probe file), run them, publish to Redis,
 * write a report. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "twinprobe/cli.h"
#include "twinprobe/compare.h"
#include "twinprobe/load.h"
#include "twinprobe/mask.h"
#include "twinprobe/publish.h"
#include "twinprobe/report.h"
#include "twinprobe/runner.h"
#include "twinprobe/streams.h"
#include "twinprobe/version.h"

enum format { FORMAT_TEXT, FORMAT_JSON, FORMAT_JUNIT };

struct run_opts {
    const char *probe;
    const char *targets[64]; /* NAME=URL */
    size_t ntargets;
    long rounds;             /* 0: the probe's, else 1 */
    enum format format;
    const char *output;
    const char *location;
    const char *ca_file;
    int insecure;
    long max_concurrency;
    const char *baseline;    /* --baseline NAME */
    enum tp_fail_on fail_on;
    int pairing;             /* -1: the probe's; else enum tp_pairing */
    int no_publish;          /* --no-publish */
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
    tp_secrets *secrets;
    struct tp_run_report report;
};

static int parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

/* Returns 1 to go on; 0 to stop with *status (--help, or a usage error). */
static int parse_options(int argc, char **argv, struct run_opts *o, int *first, int *status)
{
    struct tp_cli_parser p = {tp_cli_find("run"), argc, argv, 0, NULL, {0}};
    const char *arg;
    int c;

    *status = TP_EXIT_OK;
    while ((c = tp_cli_next(&p, &arg, status, first)) != -1) {
        switch (c) {
        case TP_CLI_STOP:
            tp_cli_parser_done(&p);
            return 0;
        case 'p':
            o->probe = arg;
            break;
        case 't':
            if (o->ntargets == sizeof o->targets / sizeof o->targets[0] || !strchr(arg, '=') ||
                arg[0] == '=') {
                tp_cli_parser_done(&p);
                *status = tp_cli_usage_error(p.cmd, "--target takes NAME=URL, got '%s'", arg);
                return 0;
            }
            o->targets[o->ntargets++] = arg;
            break;
        case 'n':
            if (parse_long(arg, 1, 100000, &o->rounds) != 0) {
                tp_cli_parser_done(&p);
                *status = tp_cli_usage_error(p.cmd, "--rounds takes a number from 1 to 100000");
                return 0;
            }
            break;
        case 'f':
            if (strcmp(arg, "text") == 0)
                o->format = FORMAT_TEXT;
            else if (strcmp(arg, "json") == 0)
                o->format = FORMAT_JSON;
            else if (strcmp(arg, "junit") == 0)
                o->format = FORMAT_JUNIT;
            else {
                tp_cli_parser_done(&p);
                *status = tp_cli_usage_error(p.cmd, "--format is text, json or junit, not '%s'", arg);
                return 0;
            }
            break;
        case 'o':
            o->output = arg;
            break;
        case 'l':
            o->location = arg;
            break;
        case TP_OPT_CA_FILE:
            o->ca_file = arg;
            break;
        case TP_OPT_INSECURE:
            o->insecure = 1;
            break;
        case TP_OPT_NO_PUBLISH:
            o->no_publish = 1;
            break;
        case 'b':
            o->baseline = arg;
            break;
        case TP_OPT_FAIL_ON:
            if (strcmp(arg, "high") == 0)
                o->fail_on = TP_FAIL_ON_HIGH;
            else if (strcmp(arg, "inconclusive") == 0)
                o->fail_on = TP_FAIL_ON_INCONCLUSIVE;
            else if (strcmp(arg, "never") == 0)
                o->fail_on = TP_FAIL_ON_NEVER;
            else {
                tp_cli_parser_done(&p);
                *status = tp_cli_usage_error(p.cmd, "--fail-on is high, inconclusive or never");
                return 0;
            }
            break;
        case TP_OPT_PAIRING:
            if (strcmp(arg, "simultaneous") == 0)
                o->pairing = TP_PAIR_SIMULTANEOUS;
            else if (strcmp(arg, "alternate") == 0)
                o->pairing = TP_PAIR_ALTERNATE;
            else {
                tp_cli_parser_done(&p);
                *status = tp_cli_usage_error(p.cmd, "--pairing is simultaneous or alternate");
                return 0;
            }
            break;
        case 'j':
            if (parse_long(arg, 1, 10000, &o->max_concurrency) != 0) {
                tp_cli_parser_done(&p);
                *status = tp_cli_usage_error(p.cmd, "--max-concurrency takes a number from 1 to 10000");
                return 0;
            }
            break;
        default:
            break;
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
    const struct tp_target *all = s->ncli_targets ? s->cli_targets : s->probe->targets;
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
static struct tp_compare_plan compare_plan(const struct run_state *s,
                                           const struct tp_run_plan *plan)
{
    struct tp_verdict_opts defaults = TP_VERDICT_OPTS_INIT;
    if (s->probe) {
        defaults.margin_pct = s->probe->margin_pct;
        defaults.margin_ms = s->probe->margin_ms;
        defaults.pass_score = s->probe->pass_score;
        defaults.marginal_score = s->probe->marginal_score;
    }
    return (struct tp_compare_plan){plan->njourneys, plan->ntargets, plan->rounds,
                                    s->noise_target, 1, defaults};
}

/* With two or more targets: every candidate against the baseline. */
static int compare(const struct run_opts *o, struct run_state *s, const struct tp_run_plan *plan)
{
    struct tp_compare_plan cp = compare_plan(s, plan);
    struct tp_error err;

    if (plan->ntargets - (s->noise_target >= 0 ? 1 : 0) < 2)
        return TP_EXIT_OK;
    tp_error_clear(&err);
    if (tp_compare_run(&s->report, &cp, &s->report.comparisons, &err) != TP_OK) {
        fprintf(stderr, "twinprobe run: %s\n", err.text);
        return TP_EXIT_RUNTIME;
    }
    if (tp_compare_fails(s->report.comparisons, o->fail_on))
        s->report.exit_status = TP_EXIT_FAIL;
    return TP_EXIT_OK;
}

static void warn_line(void *ctx, const char *msg)
{
    (void)ctx;
    fprintf(stderr, "twinprobe run: warning: %s\n", msg);
}

static void debug_line(void *ctx, const char *msg)
{
    (void)ctx;
    fprintf(stderr, "twinprobe run: %s\n", msg);
}

/* With a probe that names Redis (and no --no-publish): replays the spool, then
 * publishes this run, spooling what Redis does not take. Returns TP_EXIT_OK
 * unless entries could be neither published nor spooled (TP_EXIT_RUNTIME). */
static int publish(const struct run_opts *o, struct run_state *s, const struct tp_run_plan *plan)
{
    const struct tp_redis_conf *rc = s->probe ? &s->probe->redis : NULL;
    struct tp_compare_plan cp = compare_plan(s, plan);
    struct tp_spool_log log = {warn_line, getenv("TWINPROBE_DEBUG") ? debug_line : NULL, NULL};
    struct tp_streams_opts so;
    struct tp_publish_conf pc;
    struct tp_publish_summary sum;
    struct tp_batch batch = {0};
    struct tp_error err;
    const char *password;
    char unset[300];
    int missing, status = TP_EXIT_OK;

    if (o->no_publish || !rc || !rc->url)
        return TP_EXIT_OK;
    password = tp_publish_password(rc, &missing);
    if (password && *password && tp_secrets_add(s->secrets, password) != TP_OK)
        return TP_EXIT_RUNTIME;
    snprintf(unset, sizeof unset, "environment variable %s (redis.password_env) is not set",
             rc->password_env ? rc->password_env : "");
    so = (struct tp_streams_opts){rc->prefix, s->report.location, rc->maxlen, TP_VERSION};
    pc = (struct tp_publish_conf){
        rc, password, missing ? unset : NULL, s->probe->spool_dir, s->secrets, log};
    tp_error_clear(&err);
    if (tp_streams_build(&s->report, &cp, &so, &batch, &err) != TP_OK ||
        tp_publish_deliver(&pc, &batch, &sum, &err) != TP_OK) {
        fprintf(stderr, "twinprobe run: %s\n", err.text);
        status = TP_EXIT_RUNTIME;
    } else if (sum.spooled > 0) {
        fprintf(stderr,
                "twinprobe run: warning: %s; %zu entr%s spooled in %s (sent by the next run or "
                "twinprobe flush)\n",
                sum.redis_error[0] ? sum.redis_error : "Redis refused entries", sum.spooled,
                sum.spooled == 1 ? "y" : "ies", s->probe->spool_dir);
    } else if (sum.spool_error[0] && s->probe->spool_dir) {
        fprintf(stderr, "twinprobe run: warning: %s\n", sum.spool_error);
    }
    if (log.debug && status == TP_EXIT_OK)
        fprintf(stderr,
                "twinprobe run: redis: %zu published, %zu spooled, %zu replayed, %zu already "
                "present, %zu kept in the spool\n",
                sum.published, sum.spooled, sum.replayed, sum.present, sum.kept);
    tp_batch_clear(&batch);
    return status;
}

/* Loads the journeys named on the command line, else the probe's. */
static int load_journeys(char **paths, size_t npaths, struct run_state *s)
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
        struct tp_journey *j = tp_load_journey_file(paths[i], &d);
        if (!j)
            continue;
        for (size_t k = 0; k < s->njourneys; k++)
            if (strcmp(s->journeys[k]->name, j->name) == 0)
                tp_diags_addf(&d, paths[i], "name", "journey name \"%s\" is used twice in this run",
                              j->name);
        s->journeys[s->njourneys++] = j;
    }
    if (tp_diags_total(&d) > 0) {
        tp_cli_print_diags(&d, 0);
        status = TP_EXIT_USAGE;
    }
    tp_diags_clear(&d);
    return status;
}

/* Every {{env.NAME}} must be set before the first request; secrets are read here. */
static int read_environment(struct run_state *s)
{
    s->secrets = tp_secrets_create();
    if (!s->secrets)
        return TP_EXIT_RUNTIME;
    for (size_t i = 0; i < s->njourneys; i++) {
        const struct tp_journey *j = s->journeys[i];
        const char *names[64];
        size_t n = tp_journey_env_names(j, names, 64);
        for (size_t k = 0; k < n && k < 64; k++) {
            if (!getenv(names[k])) {
                fprintf(stderr,
                        "twinprobe run: %s: environment variable %s is not set (the journey "
                        "uses {{env.%s}})\n",
                        j->file, names[k], names[k]);
                return TP_EXIT_USAGE;
            }
        }
        for (size_t k = 0; k < j->nsecrets; k++) {
            const char *value = getenv(j->secrets[k]);
            if (value && *value && tp_secrets_add(s->secrets, value) != TP_OK)
                return TP_EXIT_RUNTIME;
        }
    }
    return TP_EXIT_OK;
}

static int write_report(const struct run_opts *o, const struct tp_run_report *r)
{
    int color = !o->output && isatty(STDOUT_FILENO) && !getenv("NO_COLOR");
    char *text = o->format == FORMAT_JSON    ? tp_report_json(r)
                 : o->format == FORMAT_JUNIT ? tp_report_junit(r)
                                             : tp_report_text(r, color);
    FILE *f = stdout;
    int status = TP_EXIT_OK;

    if (!text) {
        fprintf(stderr, "twinprobe run: out of memory writing the report\n");
        return TP_EXIT_RUNTIME;
    }
    if (o->output && !(f = fopen(o->output, "w"))) {
        perror(o->output);
        fputs(text, stdout); /* the report is not lost */
        free(text);
        return TP_EXIT_RUNTIME;
    }
    if (fputs(text, f) == EOF || fflush(f) != 0)
        status = TP_EXIT_RUNTIME;
    if (f != stdout && fclose(f) != 0)
        status = TP_EXIT_RUNTIME;
    if (status != TP_EXIT_OK)
        fprintf(stderr, "twinprobe run: cannot write the report\n");
    free(text);
    return status;
}

static void state_free(struct run_state *s)
{
    tp_run_report_clear(&s->report);
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
    tp_secrets_free(s->secrets);
    tp_probe_free(s->probe);
}

int tp_cmd_run(int argc, char **argv)
{
    struct run_opts o;
    struct run_state s;
    struct tp_run_plan plan;
    struct tp_error err;
    int first = argc, status;

    signal(SIGPIPE, SIG_IGN); /* a closed Redis or report pipe is an error, not a death */
    memset(&o, 0, sizeof o);
    memset(&s, 0, sizeof s);
    o.pairing = -1;
    s.noise_target = -1;
    if (!parse_options(argc, argv, &o, &first, &status))
        return status;
    if (o.probe) {
        struct tp_diags d = {0};
        s.probe = tp_load_probe_file(o.probe, &d);
        tp_cli_print_diags(&d, 0);
        tp_diags_clear(&d);
        if (!s.probe)
            return TP_EXIT_USAGE;
    }
    if (!o.probe && o.ntargets == 0) {
        status = tp_cli_usage_error(tp_cli_find("run"), "name a --probe or at least one --target NAME=URL");
        goto done;
    }
    if ((status = make_cli_targets(&o, &s)) != TP_EXIT_OK ||
        (status = load_journeys(argv + first, (size_t)(argc - first), &s)) != TP_EXIT_OK ||
        (status = read_environment(&s)) != TP_EXIT_OK)
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
    plan.location = o.location ? o.location : s.probe ? s.probe->location : "local";
    plan.secrets = s.secrets;

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "twinprobe run: libcurl failed to start\n");
        status = TP_EXIT_RUNTIME;
        goto done;
    }
    tp_error_clear(&err);
    if (tp_runner_run(&plan, &s.report, &err) != TP_OK) {
        fprintf(stderr, "twinprobe run: %s\n", err.text);
        status = TP_EXIT_RUNTIME;
        curl_global_cleanup();
        goto done;
    }
    curl_global_cleanup();
    if ((status = compare(&o, &s, &plan)) != TP_EXIT_OK)
        goto done;
    /* Entries neither published nor spooled: exit 3, after the report is out. */
    if (publish(&o, &s, &plan) != TP_EXIT_OK)
        s.report.exit_status = TP_EXIT_RUNTIME;
    status = write_report(&o, &s.report);
    if (status == TP_EXIT_OK)
        status = s.report.exit_status;
done:
    state_free(&s);
    return status;
}
