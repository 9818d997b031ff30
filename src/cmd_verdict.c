/* twinprobe verdict: the cross-region verdict over a time window (docs/verdict.md).
 * The command line only: reading is fetch.c's, judging cross.c's, rendering
 * report_verdict.c's. */
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "twinprobe/cli.h"
#include "twinprobe/cross.h"
#include "twinprobe/fetch.h"
#include "twinprobe/load.h"
#include "twinprobe/mask.h"
#include "twinprobe/publish.h"
#include "twinprobe/redis_url.h"
#include "twinprobe/report_verdict.h"
#include "twinprobe/report_verdict_html.h"

#define MAX_FILTERS 64 /* --journey and --location, each */
#define PASSWORD_ENV "TWINPROBE_REDIS_PASSWORD"

struct verdict_opts {
    const char *redis, *probe, *prefix, *since, *until, *format, *output;
    const char *journeys[MAX_FILTERS], *locations[MAX_FILTERS];
    size_t njourneys, nlocations;
    int fail_inconclusive;
    int publish;
    const char *exec_verdicts, *exec_cmd; /* --exec-on VERDICTS CMD */
};

static const char *const verdict_names[] = {"PASS", "HIGH", "LOW", "INCONCLUSIVE", "NODATA",
                                            "CRITICAL", "REGIONAL"};

/* Whether name is in the comma list (exact, case-sensitive). */
static int in_list(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        size_t len = strcspn(p, ",");
        if (len == n && strncmp(p, name, n) == 0)
            return 1;
        p += len + (p[len] == ',');
    }
    return 0;
}

/* The first word of the comma list that names no verdict, or NULL. */
static const char *bad_verdict(const char *list, char *buf, size_t size)
{
    for (const char *p = list;;) {
        size_t len = strcspn(p, ","), k;
        for (k = 0; k < sizeof verdict_names / sizeof verdict_names[0]; k++)
            if (strlen(verdict_names[k]) == len && strncmp(p, verdict_names[k], len) == 0)
                break;
        if (k == sizeof verdict_names / sizeof verdict_names[0]) {
            snprintf(buf, size, "%.*s", (int)len, p);
            return buf;
        }
        if (!p[len])
            return NULL;
        p += len + 1;
    }
}

static void warn_line(void *ctx, const char *msg)
{
    const tp_secrets *secrets = ctx;
    char *m = tp_secrets_mask(secrets, msg);
    fprintf(stderr, "twinprobe verdict: warning: %s\n", m ? m : msg);
    free(m);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Parses the options into o; -1 to go on, else the status to exit with. */
static int parse(const struct tp_cli_command *cmd, int argc, char **argv, struct verdict_opts *o)
{
    int stopped = 0;
    struct tp_cli_parser p = {cmd, argc, argv, 0, NULL, {0}};
    const char *arg;
    int c, first = argc, status = TP_EXIT_OK;

    while (status == TP_EXIT_OK && (c = tp_cli_next(&p, &arg, &status, &first)) != -1) {
        switch (c) {
        case TP_CLI_STOP: break;
        case TP_OPT_REDIS: o->redis = arg; break;
        case 'p': o->probe = arg; break;
        case TP_OPT_PREFIX: o->prefix = arg; break;
        case TP_OPT_SINCE: o->since = arg; break;
        case TP_OPT_UNTIL: o->until = arg; break;
        case 'f': o->format = arg; break;
        case 'o': o->output = arg; break;
        case TP_OPT_JOURNEY:
        case 'l':
            if ((c == 'l' ? o->nlocations : o->njourneys) == MAX_FILTERS)
                status = tp_cli_usage_error(cmd, "at most %d --%s options", MAX_FILTERS,
                                            c == 'l' ? "location" : "journey");
            else if (c == 'l')
                o->locations[o->nlocations++] = arg;
            else
                o->journeys[o->njourneys++] = arg;
            break;
        case TP_OPT_PUBLISH: o->publish = 1; break;
        case TP_OPT_EXEC_ON: {
            char word[64];
            if (optind >= argc) /* the second argument, CMD */
                status = tp_cli_usage_error(cmd, "--exec-on takes VERDICTS and CMD");
            else if (bad_verdict(arg, word, sizeof word))
                status = tp_cli_usage_error(cmd, "--exec-on: '%s' is no verdict (PASS, HIGH, "
                                            "LOW, INCONCLUSIVE, NODATA, CRITICAL, REGIONAL)",
                                            word);
            o->exec_verdicts = arg;
            o->exec_cmd = optind < argc ? argv[optind++] : NULL;
            break;
        }
        case TP_OPT_FAIL_ON:
            if (strcmp(arg, "high") == 0)
                o->fail_inconclusive = 0;
            else if (strcmp(arg, "inconclusive") == 0)
                o->fail_inconclusive = 1;
            else
                status = tp_cli_usage_error(cmd, "--fail-on takes high or inconclusive, not '%s'",
                                            arg);
            break;
        default: break;
        }
        if (c == TP_CLI_STOP) {
            stopped = 1;
            break;
        }
    }
    tp_cli_parser_done(&p);
    if (stopped || status != TP_EXIT_OK)
        return status;
    if (first < argc)
        return tp_cli_usage_error(cmd, "unexpected argument '%s'", argv[first]);
    if (!o->redis == !o->probe)
        return tp_cli_usage_error(cmd, "name either --redis URL or --probe FILE");
    if (o->format && strcmp(o->format, "text") != 0 && strcmp(o->format, "json") != 0 &&
        strcmp(o->format, "html") != 0)
        return tp_cli_usage_error(cmd, "--format takes text, json or html, not '%s'", o->format);
    return -1;
}

/* The exit status the journeys' verdicts ask for. */
static int exit_status(const struct tp_cross_result *x, int fail_inconclusive)
{
    int status = TP_EXIT_OK;
    for (size_t j = 0; j < x->njourneys; j++) {
        enum tp_verdict v = x->journeys[j].verdict;
        if (v == TP_V_HIGH || v == TP_V_CRITICAL ||
            (fail_inconclusive && (v == TP_V_INCONCLUSIVE || v == TP_V_NODATA)))
            status = TP_EXIT_FAIL;
    }
    if (x->njourneys == 0 && fail_inconclusive)
        status = TP_EXIT_FAIL;
    return status;
}

/* --exec-on: runs cmd through sh -c with json on its standard input when a
 * journey's verdict is in verdicts. Its failure is a warning, not our status. */
static void exec_on(const struct tp_cross_result *x, const char *verdicts, const char *cmd,
                    const char *json)
{
    int fds[2], wstatus = 0, hit = 0;
    pid_t pid;
    for (size_t j = 0; j < x->njourneys; j++)
        hit |= in_list(verdicts, tp_cross_verdict_name(x->journeys[j].verdict,
                                                       x->journeys[j].regional));
    if (!hit && x->njourneys == 0)
        hit = in_list(verdicts, "NODATA");
    if (!hit)
        return;
    fflush(stdout);
    if (pipe(fds) != 0 || (pid = fork()) < 0) {
        fprintf(stderr, "twinprobe verdict: --exec-on: cannot start '%s'\n", cmd);
        return;
    }
    if (pid == 0) {
        dup2(fds[0], STDIN_FILENO);
        close(fds[0]);
        close(fds[1]);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    close(fds[0]);
    for (size_t off = 0, len = strlen(json); off < len;) {
        ssize_t n = write(fds[1], json + off, len - off);
        if (n <= 0)
            break; /* the command does not read it: fine */
        off += (size_t)n;
    }
    close(fds[1]);
    while (waitpid(pid, &wstatus, 0) < 0)
        ;
    if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0)
        fprintf(stderr, "twinprobe verdict: --exec-on: '%s' exited with status %d\n", cmd,
                WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus));
}

static int write_out(const char *path, const char *text)
{
    FILE *f = path ? fopen(path, "w") : stdout;
    int ok;
    if (!f) {
        fprintf(stderr, "twinprobe verdict: cannot write %s\n", path);
        return TP_EXIT_RUNTIME;
    }
    ok = fputs(text, f) >= 0;
    if (f != stdout)
        ok &= fclose(f) == 0;
    else
        ok &= fflush(f) == 0;
    if (!ok) {
        fprintf(stderr, "twinprobe verdict: cannot write %s\n", path ? path : "standard output");
        return TP_EXIT_RUNTIME;
    }
    return TP_EXIT_OK;
}

int tp_cmd_verdict(int argc, char **argv)
{
    const struct tp_cli_command *cmd = tp_cli_find("verdict");
    struct verdict_opts o = {0};
    struct tp_redis_conf url_conf = {0};
    const struct tp_redis_conf *conf = &url_conf;
    struct tp_probe *probe = NULL;
    struct tp_cross_result *x = NULL;
    struct tp_verdict_opts vo = TP_VERDICT_OPTS_INIT;
    struct tp_error err;
    tp_secrets *secrets = NULL;
    tp_redis *r = NULL;
    const char *password = NULL;
    char *text = NULL, *json = NULL;
    int64_t now = now_ms(), since = now - 3600000, until = now;
    int status = TP_EXIT_OK, missing = 0;

    signal(SIGPIPE, SIG_IGN);
    if ((status = parse(cmd, argc, argv, &o)) != -1)
        return status;
    tp_error_clear(&err);
    if (o.since && tp_cross_parse_time(o.since, now, 1, &since, &err) != TP_OK)
        return tp_cli_usage_error(cmd, "--since: %s", err.text);
    if (o.until && tp_cross_parse_time(o.until, now, 0, &until, &err) != TP_OK)
        return tp_cli_usage_error(cmd, "--until: %s", err.text);
    if (since < 0 || until < since)
        return tp_cli_usage_error(cmd, "the window ends before it starts");
    if (!(secrets = tp_secrets_create()) || !(x = tp_cross_create())) {
        fprintf(stderr, "twinprobe verdict: out of memory\n");
        status = TP_EXIT_RUNTIME;
        goto done;
    }
    if (o.probe) {
        struct tp_diags d = {0};
        probe = tp_load_probe_file(o.probe, &d);
        tp_cli_print_diags(&d, 0);
        status = tp_cli_diags_status(&d);
        tp_diags_clear(&d);
        if (!probe)
            goto done;
        status = TP_EXIT_OK;
        if (!probe->redis.url) {
            status = tp_cli_usage_error(cmd, "%s: the probe names no redis", o.probe);
            goto done;
        }
        conf = &probe->redis;
        password = tp_publish_password(conf, &missing);
        if (missing) {
            status = tp_cli_usage_error(cmd, "environment variable %s (redis.password_env) is "
                                        "not set", conf->password_env);
            goto done;
        }
    } else {
        if (tp_redis_url_parse(o.redis, &url_conf.addr, &err) != TP_OK) {
            status = tp_cli_usage_error(cmd, "--redis: %s", err.text);
            goto done;
        }
        url_conf.url = (char *)o.redis;
        url_conf.prefix = (char *)"twinprobe";
        url_conf.connect_timeout_ms = 2000;
        url_conf.command_timeout_ms = 5000;
        password = getenv(PASSWORD_ENV);
    }
    if (password && *password && tp_secrets_add(secrets, password) != TP_OK) {
        status = TP_EXIT_RUNTIME;
        goto done;
    }
    {
        struct tp_redis_opts ro = {conf, password, secrets, {warn_line, NULL, secrets}};
        struct tp_fetch_opts fo = {o.prefix ? o.prefix : conf->prefix ? conf->prefix : "twinprobe",
                                   since, until, o.journeys, o.njourneys, o.locations,
                                   o.nlocations, warn_line, secrets};
        tp_err rc = tp_redis_connect(&ro, &r, &err);
        if (rc == TP_OK)
            rc = tp_fetch_steps(r, &fo, x, &err);
        if (rc != TP_OK) {
            char *m = tp_secrets_mask(secrets, err.text);
            fprintf(stderr, "twinprobe verdict: %s\n", m ? m : err.text);
            free(m);
            status = TP_EXIT_RUNTIME;
            goto done;
        }
    }
    if (probe) {
        vo.margin_pct = probe->margin_pct;
        vo.margin_ms = probe->margin_ms;
        vo.pass_score = probe->pass_score;
        vo.marginal_score = probe->marginal_score;
    }
    if (tp_cross_judge(x, &vo, &err) != TP_OK) {
        fprintf(stderr, "twinprobe verdict: %s\n", err.text);
        status = TP_EXIT_RUNTIME;
        goto done;
    }
    if (o.publish) {
        if (tp_fetch_publish(r, o.prefix ? o.prefix : conf->prefix ? conf->prefix : "twinprobe",
                             x, since, until, &err) != TP_OK) {
            char *m = tp_secrets_mask(secrets, err.text);
            fprintf(stderr, "twinprobe verdict: --publish: %s\n", m ? m : err.text);
            free(m);
            status = TP_EXIT_RUNTIME;
            goto done;
        }
    }
    json = tp_report_verdict_json(x, since, until);
    if (o.format && strcmp(o.format, "json") == 0)
        text = json ? strdup(json) : NULL;
    else if (o.format && strcmp(o.format, "html") == 0)
        text = tp_report_verdict_html(x, since, until);
    else
        text = tp_report_verdict_text(x, since, until,
                                      !o.output && isatty(STDOUT_FILENO) && !getenv("NO_COLOR"));
    if (!text || !json) {
        fprintf(stderr, "twinprobe verdict: out of memory\n");
        status = TP_EXIT_RUNTIME;
        goto done;
    }
    status = write_out(o.output, text);
    if (status == TP_EXIT_OK)
        status = exit_status(x, o.fail_inconclusive);
    if (status != TP_EXIT_RUNTIME && o.exec_cmd)
        exec_on(x, o.exec_verdicts, o.exec_cmd, json);
done:
    free(json);
    free(text);
    tp_redis_free(r);
    tp_cross_free(x);
    tp_secrets_free(secrets);
    tp_probe_free(probe);
    tp_redis_url_clear(&url_conf.addr);
    return status;
}
