/* Option tables, --help text and getopt_long glue shared by the subcommands. */
#include "twinprobe/cli.h"

#include "twinprobe/diag.h"
#include "twinprobe/fileio.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define HELP_KEY 0x4001

/* The options of both run and validate that give variables (tp_cli_take_variable). */
#define VARIABLE_OPTIONS                                                                       \
    {"variable", TP_OPT_VARIABLE, 1, "NAME=VALUE",                                          \
     "a variable {{NAME}} for every journey; wins over the journey's (repeatable)"},         \
    {"variables-file", TP_OPT_VARIABLES_FILE, 1, "FILE",                                    \
     "variables from FILE: NAME=VALUE lines, # comments"},                                   \
    {"secret", TP_OPT_SECRET, 1, "NAME=VALUE",                                              \
     "a variable whose VALUE is masked in every output (repeatable)"}

static const struct tp_cli_option validate_options[] = {
    {"quiet", 'q', 0, NULL, "print problems only, not one line per valid file"},
    VARIABLE_OPTIONS,
};

static const struct tp_cli_option run_options[] = {
    {"probe", 'p', 1, "FILE", "probe file: location, targets, journeys, rounds, Redis"},
    {"target", 't', 1, "NAME=URL", "a target (repeatable; the first is the baseline); "
                                   "replaces the probe's targets"},
    {"baseline", 'b', 1, "NAME", "the target the others are compared with (default: the "
                                 "probe's baseline, else the first --target)"},
    {"rounds", 'n', 1, "N", "run every journey N times (default: the probe's, else 1)"},
    {"pairing", TP_OPT_PAIRING, 1, "MODE", "simultaneous (default: step k starts on every "
                                           "target together) or alternate (ABBA)"},
    {"fail-on", TP_OPT_FAIL_ON, 1, "WHAT", "which verdicts exit 1: high (default: HIGH, "
                                           "CRITICAL, mismatches), inconclusive, never"},
    {"format", 'f', 1, "FORMAT", "report format: text (default), json or junit"},
    {"output", 'o', 1, "FILE", "write the report to FILE instead of standard output"},
    {"report", 'r', 1, "FORMAT=FILE", "also write a text, json or junit report of the same "
                                      "run to FILE (repeatable)"},
    {"location", 'l', 1, "NAME", "location name (default: the probe's, else \"local\")"},
    {"max-concurrency", 'j', 1, "N", "at most N transfers in flight (default 64)"},
    {"ca-file", TP_OPT_CA_FILE, 1, "FILE", "CA certificates for --target https URLs"},
    {"insecure", TP_OPT_INSECURE, 0, NULL, "do not verify TLS certificates of --target URLs"},
    {"no-publish", TP_OPT_NO_PUBLISH, 0, NULL, "do not publish to Redis"},
    {"verbose", 'v', 0, NULL, "print every request and response on stderr, bodies cut at "
                              "512 bytes (-vv: whole bodies)"},
    {"quiet", 'q', 0, NULL, "log errors only (no info or warn lines on stderr)"},
    {"jitter", TP_OPT_JITTER, 1, "SECONDS", "wait a random 0 to SECONDS before the first "
                                            "request (default: the probe's jitter_s, else 0)"},
    {"max-runtime", TP_OPT_MAX_RUNTIME, 1, "SECONDS",
     "start no step after SECONDS, cut transfers in flight, report the completed rounds "
     "(default: the probe's max_runtime_s, else none)"},
    VARIABLE_OPTIONS,
};

static const struct tp_cli_option flush_options[] = {
    {"probe", 'p', 1, "FILE", "probe file whose Redis and spool_dir are used"},
    {"quiet", 'q', 0, NULL, "log errors only (no info or warn lines on stderr)"},
};

static const struct tp_cli_option verdict_options[] = {
    {"redis", TP_OPT_REDIS, 1, "URL", "the Redis to read (password: $TWINPROBE_REDIS_PASSWORD)"},
    {"probe", 'p', 1, "FILE", "read the Redis (and password_env) a probe file names"},
    {"prefix", TP_OPT_PREFIX, 1, "P", "key prefix (default: the probe's, else twinprobe)"},
    {"since", TP_OPT_SINCE, 1, "DURATION|TIME", "window start: 30m, 2h, 1d back, ms since the "
                                                "epoch or YYYY-MM-DDTHH:MM[:SS]Z (default 1h)"},
    {"until", TP_OPT_UNTIL, 1, "TIME", "window end, included (default: now)"},
    {"journey", TP_OPT_JOURNEY, 1, "NAME", "only this journey (repeatable)"},
    {"location", 'l', 1, "NAME", "only this location (repeatable)"},
    {"format", 'f', 1, "FORMAT", "text (default), json or html"},
    {"output", 'o', 1, "FILE", "write the verdict to FILE instead of standard output"},
    {"fail-on", TP_OPT_FAIL_ON, 1, "WHAT", "which verdicts exit 1: high (default: HIGH, "
                                           "REGIONAL, CRITICAL) or inconclusive (also "
                                           "INCONCLUSIVE, NODATA)"},
    {"publish", TP_OPT_PUBLISH, 0, NULL, "also add the combined verdicts to the stream "
                                         "{prefix}:verdicts"},
    {"exec-on", TP_OPT_EXEC_ON, 1, "VERDICTS CMD", "run CMD (sh -c) with the JSON verdict on "
                                                   "its standard input when a journey's "
                                                   "verdict is one of VERDICTS (comma list)"},
};

static const struct tp_cli_command commands[] = {
    {"run", "[JOURNEY...]", "run journeys against targets and report every step", run_options,
     sizeof run_options / sizeof run_options[0], tp_cmd_run},
    {"validate", "FILE...", "check journey and probe files; list every problem",
     validate_options, sizeof validate_options / sizeof validate_options[0], tp_cmd_validate},
    {"flush", "", "send the spooled Redis entries of a probe now", flush_options,
     sizeof flush_options / sizeof flush_options[0], tp_cmd_flush},
    {"verdict", "", "the cross-region verdict over every run in a time window",
     verdict_options, sizeof verdict_options / sizeof verdict_options[0], tp_cmd_verdict},
};

const struct tp_cli_command *tp_cli_commands(size_t *count)
{
    *count = sizeof commands / sizeof commands[0];
    return commands;
}

const struct tp_cli_command *tp_cli_find(const char *name)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

void tp_cli_usage(FILE *out, const struct tp_cli_command *cmd)
{
    fprintf(out, "usage: twinprobe %s [OPTIONS] %s\n\n%s\n\noptions:\n", cmd->name, cmd->operands,
            cmd->summary);
    for (size_t i = 0; i < cmd->noptions; i++) {
        const struct tp_cli_option *o = &cmd->options[i];
        char left[64];
        if (o->key > 0 && o->key < 256)
            snprintf(left, sizeof left, "-%c, --%s%s%s", o->key, o->name, o->metavar ? " " : "",
                     o->metavar ? o->metavar : "");
        else
            snprintf(left, sizeof left, "    --%s%s%s", o->name, o->metavar ? " " : "",
                     o->metavar ? o->metavar : "");
        fprintf(out, "  %-26s %s\n", left, o->help);
    }
    fprintf(out, "  %-26s %s\n", "-h, --help", "show this help and exit");
}

void tp_cli_print_diags(const struct tp_diags *d, size_t from)
{
    char line[1600];
    for (size_t i = from; i < d->count; i++)
        fprintf(stderr, "%s\n", tp_error_format(&d->items[i], line, sizeof line));
}

void tp_cli_print_warnings(const struct tp_diags *d, size_t from)
{
    char line[1600];
    for (size_t i = from; i < d->nwarnings; i++)
        fprintf(stderr, "%s\n", tp_diags_format_warning(&d->warnings[i], line, sizeof line));
}

int tp_cli_diags_status(const struct tp_diags *d)
{
    return d->nomem ? TP_EXIT_RUNTIME : TP_EXIT_USAGE;
}

int tp_cli_usage_error(const struct tp_cli_command *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "twinprobe %s: ", cmd->name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'twinprobe %s --help'.\n", cmd->name);
    return TP_EXIT_USAGE;
}

#define VARIABLES_FILE_MAX (1u << 20) /* bytes of a --variables-file */

int tp_cli_take_variable(struct tp_cli_vars *v, const struct tp_cli_command *cmd, int key,
                         const char *arg)
{
    struct tp_error err;
    char *text = NULL;
    size_t len = 0;
    tp_err rc;

    if ((!v->values && !(v->values = tp_vars_create())) ||
        (!v->secrets && !(v->secrets = tp_vars_create()))) {
        fprintf(stderr, "twinprobe %s: out of memory\n", cmd->name);
        return TP_EXIT_RUNTIME;
    }
    tp_error_clear(&err);
    switch (key) {
    case TP_OPT_VARIABLES_FILE:
        rc = tp_file_read(arg, VARIABLES_FILE_MAX, &text, &len, &err);
        if (rc == TP_OK)
            rc = tp_vars_assign_lines(v->values, text, len, &err);
        free(text);
        if (rc == TP_ERR_NOMEM)
            break;
        if (rc != TP_OK && err.line > 0) {
            fprintf(stderr, "twinprobe %s: %s:%d: %s\n", cmd->name, arg, err.line, err.text);
            return TP_EXIT_USAGE;
        }
        if (rc != TP_OK) {
            fprintf(stderr, "twinprobe %s: --variables-file %s: %s\n", cmd->name, arg, err.text);
            return TP_EXIT_USAGE;
        }
        return TP_EXIT_OK;
    case TP_OPT_SECRET:
        if (!strchr(arg, '=')) /* never echo what may be the secret itself */
            return tp_cli_usage_error(cmd, "--secret takes NAME=VALUE");
        rc = tp_vars_assign(v->secrets, arg, &err);
        if (rc == TP_OK)
            rc = tp_vars_assign(v->values, arg, &err);
        break;
    default:
        rc = tp_vars_assign(v->values, arg, &err);
        break;
    }
    if (rc == TP_ERR_NOMEM) {
        fprintf(stderr, "twinprobe %s: out of memory\n", cmd->name);
        return TP_EXIT_RUNTIME;
    }
    if (rc != TP_OK)
        return tp_cli_usage_error(cmd, "--%s: %s", key == TP_OPT_SECRET ? "secret" : "variable",
                                  err.text);
    return TP_EXIT_OK;
}

void tp_cli_vars_clear(struct tp_cli_vars *v)
{
    tp_vars_free(v->values);
    tp_vars_free(v->secrets);
    v->values = v->secrets = NULL;
}

static int build(struct tp_cli_parser *p)
{
    const struct tp_cli_command *cmd = p->cmd;
    struct option *longopts = calloc(cmd->noptions + 2, sizeof *longopts);
    size_t used = 0;
    if (!longopts)
        return -1;
    p->shortopts[used++] = ':'; /* report a missing argument as ':' */
    for (size_t i = 0; i < cmd->noptions; i++) {
        const struct tp_cli_option *o = &cmd->options[i];
        longopts[i].name = o->name;
        longopts[i].has_arg = o->has_arg ? required_argument : no_argument;
        longopts[i].val = o->key;
        if (o->key > 0 && o->key < 256 && used + 3 < sizeof p->shortopts) {
            p->shortopts[used++] = (char)o->key;
            if (o->has_arg)
                p->shortopts[used++] = ':';
        }
    }
    longopts[cmd->noptions].name = "help";
    longopts[cmd->noptions].val = HELP_KEY;
    if (used + 1 < sizeof p->shortopts)
        p->shortopts[used++] = 'h';
    p->shortopts[used] = '\0';
    p->longopts = longopts;
    return 0;
}

int tp_cli_next(struct tp_cli_parser *p, const char **arg, int *status, int *first_operand)
{
    int c;
    if (!p->started) {
        if (build(p) != 0) {
            fprintf(stderr, "twinprobe: out of memory\n");
            *status = TP_EXIT_RUNTIME;
            return TP_CLI_STOP;
        }
        p->started = 1;
        optind = 1;
        opterr = 0;
    }
    *arg = NULL;
    c = getopt_long(p->argc, p->argv, p->shortopts, p->longopts, NULL);
    if (c == -1) {
        *first_operand = optind;
        return -1;
    }
    if (c == 'h' || c == HELP_KEY) {
        tp_cli_usage(stdout, p->cmd);
        *status = TP_EXIT_OK;
        return TP_CLI_STOP;
    }
    if (c == '?' || c == ':') {
        const char *bad = p->argv[optind - 1];
        if (c == ':')
            *status = tp_cli_usage_error(p->cmd, "option '%s' needs an argument", bad);
        else if (optopt > 0 && optopt < 256 && strncmp(bad, "--", 2) != 0)
            *status = tp_cli_usage_error(p->cmd, "unknown option '-%c'", optopt);
        else
            *status = tp_cli_usage_error(p->cmd, "unknown option '%s'", bad);
        return TP_CLI_STOP;
    }
    *arg = optarg;
    return c;
}

void tp_cli_parser_done(struct tp_cli_parser *p)
{
    free(p->longopts);
    p->longopts = NULL;
}
