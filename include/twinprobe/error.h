/* Errors shared by every module: a status code plus a message with its location.
 * Functions that can fail return tp_err and fill a caller-owned struct tp_error.
 *
 * The conventions of every twinprobe header, stated once here:
 *
 * Ownership. Each header says, per argument and result, which of three it is:
 *   new       the caller owns it and frees it: with the module's _free or _clear,
 *             free() for a plain string or buffer, json_decref() for a json_t
 *             ("new reference", as jansson says);
 *   borrowed  someone else owns it; valid as long as its owner is (a journey, a
 *             document, the environment), never freed or changed by the receiver;
 *   taken     the callee owns it from the call on and frees it, on failure too.
 * Heap objects come in pairs: a constructor (_create, or the verb that makes one:
 * _load, _parse, _compile, _open, _connect) and _free. Structs the caller holds
 * (on the stack, inside another) have _clear, which frees what they own and
 * zeroes them, so that clearing twice is safe. _free(NULL) and _clear(NULL) are
 * no-ops.
 *
 * Errors. A function that can fail returns tp_err (TP_OK is 0) and writes a
 * message for people into the struct tp_error its caller passes; it prints
 * nothing (only the commands, cli.c and the reports write to streams, and the
 * runner's TWINPROBE_DEBUG trace to stderr). On failure its outputs hold nothing
 * that needs freeing unless its header says otherwise. Library errors become
 * ours where they arrive (json_error_t, the curl error buffer,
 * redisContext->errstr, libxml2, PCRE2). The problems of an input file are not
 * errors but a list (diag.h), so that validation reports them all; running out
 * of memory is never one of the file's problems (tp_diags_nomem).
 *
 * No global state. The library keeps no mutable globals: all state lives in the
 * objects passed in. What it reads or changes outside them is named where it
 * happens: the process environment (env variables of templates, secrets,
 * password_env and TWINPROBE_DEBUG, read by the runner, the publisher and the
 * commands), /dev/urandom (the runner's ids), libxml2's error handler (set and
 * restored around each XPath compile, parse and evaluation), libcurl's global
 * state (the program calls curl_global_init once before running, as cmd_run.c
 * does), SIGPIPE (ignored by the commands that write to Redis), and log.c's
 * level and secrets (set by a command with tp_log_setup). The run command's
 * SIGTERM/SIGINT flag lives in cmd_run.c and reaches the runner through its plan.
 *
 * Threads. twinprobe is single-threaded: one curl multi event loop runs every
 * transfer. No function is thread-safe; nothing locks, and the library is
 * neither designed nor tested for use from more than one thread. */
#ifndef TWINPROBE_ERROR_H
#define TWINPROBE_ERROR_H

#include <stddef.h>

typedef enum {
    TP_OK = 0,       /* success */
    TP_ERR_INVALID,  /* bad input: syntax, type, unknown name */
    TP_ERR_NOMEM,    /* allocation failed */
    TP_ERR_IO,       /* a file, socket or server failed */
    TP_ERR_LIMIT,    /* input over a documented limit (size, depth) */
    TP_ERR_INTERNAL  /* a bug: should not happen */
} tp_err;

/* Where and what. Every field is optional: line/column 0 and empty strings mean
 * "unknown". file is the file as the user named it; path is a JSON path
 * ("steps[2].expect[1]") or, for expression errors, the expression itself. */
struct tp_error {
    char file[512];
    int line;
    int column;
    char path[256];
    char text[512];
};

/* Clears every field. */
void tp_error_clear(struct tp_error *e);

/* Sets text with printf-style formatting; leaves file/line/column/path alone.
 * Returns code so callers can write `return tp_error_set(e, TP_ERR_INVALID, ...)`.
 * e may be NULL. */
tp_err tp_error_set(struct tp_error *e, tp_err code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Formats e as "file:line:col: path: text" leaving out unknown parts, into buf
 * (always NUL-terminated, truncated to size). Returns buf. */
const char *tp_error_format(const struct tp_error *e, char *buf, size_t size);

#endif
