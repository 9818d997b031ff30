/* Errors shared by every module: a status code plus a message with its location.
 * Functions that can fail return tp_err and fill a caller-owned struct tp_error. */
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
