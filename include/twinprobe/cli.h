/* The command line: exit statuses, option tables (one per subcommand, the single
 * source for getopt_long and --help) and the subcommand table main.c dispatches on. */
#ifndef TWINPROBE_CLI_H
#define TWINPROBE_CLI_H

#include <stddef.h>
#include <stdio.h>

#include "twinprobe/vars.h"

enum tp_exit {
    TP_EXIT_OK = 0,      /* every journey passed, every candidate PASS */
    TP_EXIT_FAIL = 1,    /* a journey failed or a candidate is not PASS */
    TP_EXIT_USAGE = 2,   /* usage or configuration error */
    TP_EXIT_RUNTIME = 3  /* could neither publish nor spool, out of memory, internal */
};

struct tp_cli_option {
    const char *name;     /* long name without "--" */
    int key;              /* short letter, or a value > 255 for long-only options */
    int has_arg;          /* 0 or 1 (required argument) */
    const char *metavar;  /* "FILE"; NULL without an argument */
    const char *help;     /* one line */
};

struct tp_cli_command {
    const char *name;      /* "validate" */
    const char *operands;  /* "FILE..." */
    const char *summary;   /* one line */
    const struct tp_cli_option *options; /* without --help, which every command has */
    size_t noptions;
    int (*run)(int argc, char **argv); /* argv[0] is the command name; returns enum tp_exit */
};

/* The subcommands, in --help order. */
const struct tp_cli_command *tp_cli_commands(size_t *count);

/* The command named name, or NULL. */
const struct tp_cli_command *tp_cli_find(const char *name);

/* Prints "usage: twinprobe NAME [OPTIONS] OPERANDS", the summary and the options. */
void tp_cli_usage(FILE *out, const struct tp_cli_command *cmd);

/* Option parsing over cmd's table with getopt_long. Call until it returns -1
 * (done; *first_operand set to the index of the first operand). Returns an
 * option's key with *arg set (NULL without argument), or TP_CLI_STOP when the
 * command must stop: --help printed (*status = 0) or a bad option reported on
 * stderr with a one-line hint (*status = TP_EXIT_USAGE). */
#define TP_CLI_STOP (-2)
struct tp_cli_parser {
    const struct tp_cli_command *cmd;
    int argc;
    char **argv;
    int started;
    void *longopts;     /* struct option[], built on the first call */
    char shortopts[64];
};
int tp_cli_next(struct tp_cli_parser *p, const char **arg, int *status, int *first_operand);
void tp_cli_parser_done(struct tp_cli_parser *p);

/* Prints "twinprobe NAME: message\nTry 'twinprobe NAME --help'." and returns
 * TP_EXIT_USAGE. */
int tp_cli_usage_error(const struct tp_cli_command *cmd, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

struct tp_diags;

/* Prints problems from index from on, one "file:line:col: path: text" line each,
 * on stderr. */
void tp_cli_print_diags(const struct tp_diags *d, size_t from);

/* Prints warnings from index from on, one "file: path: warning: text" line each,
 * on stderr. */
void tp_cli_print_warnings(const struct tp_diags *d, size_t from);

/* The exit status of a command whose files had the problems in d: TP_EXIT_RUNTIME
 * when memory ran out while loading them (d->nomem), else TP_EXIT_USAGE. */
int tp_cli_diags_status(const struct tp_diags *d);

/* Keys of long-only options. */
enum {
    TP_OPT_CA_FILE = 0x100,
    TP_OPT_INSECURE,
    TP_OPT_NO_PUBLISH,
    TP_OPT_FAIL_ON,
    TP_OPT_PAIRING,
    TP_OPT_VARIABLE,
    TP_OPT_VARIABLES_FILE,
    TP_OPT_SECRET,
    TP_OPT_JITTER,
    TP_OPT_MAX_RUNTIME,
    TP_OPT_REDIS,
    TP_OPT_PREFIX,
    TP_OPT_SINCE,
    TP_OPT_UNTIL,
    TP_OPT_JOURNEY,
    TP_OPT_PUBLISH,
    TP_OPT_EXEC_ON
};

/* Variables given on the command line, shared by run and validate: --variable
 * NAME=VALUE, --variables-file FILE (NAME=VALUE lines, vars.h) and --secret
 * NAME=VALUE, taken in command-line order (a later value of a name wins). */
struct tp_cli_vars {
    tp_vars *values;  /* name -> value of every variable, secrets included (new) */
    tp_vars *secrets; /* name -> value of each --secret: masked in every output (new) */
};

/* Takes one of the three options into v (creating its sets on first use):
 * TP_EXIT_OK, TP_EXIT_USAGE with the problem on stderr ("twinprobe run: vars.env:3:
 * expected NAME=VALUE, got ..."), or TP_EXIT_RUNTIME on no memory. */
int tp_cli_take_variable(struct tp_cli_vars *v, const struct tp_cli_command *cmd, int key,
                         const char *arg);

/* Frees what v owns and zeroes it. */
void tp_cli_vars_clear(struct tp_cli_vars *v);

/* Subcommands (src/cmd_*.c). */
int tp_cmd_run(int argc, char **argv);
int tp_cmd_validate(int argc, char **argv);
int tp_cmd_flush(int argc, char **argv);
int tp_cmd_verdict(int argc, char **argv);

#endif
