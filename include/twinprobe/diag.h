/* A list of problems found in one pass (validation reports all of them, not the
 * first). Each entry is a struct tp_error with its location. Running out of memory
 * is listed too, but flagged: it is the run's problem, not the file's. Warnings
 * are a second, separate list: findings that are likely mistakes but never make
 * a file invalid, a load fail or an exit status change. */
#ifndef TWINPROBE_DIAG_H
#define TWINPROBE_DIAG_H

#include <stddef.h>

#include "twinprobe/error.h"

struct tp_diags {
    struct tp_error *items;
    size_t count;
    size_t cap;
    size_t dropped; /* problems past TP_DIAGS_MAX, counted but not kept */
    int nomem;      /* memory ran out while loading: the list may be incomplete and
                       the files are not at fault (commands exit 3, not 2) */
    struct tp_error *warnings; /* non-fatal findings, printed "file: path: warning: text" */
    size_t nwarnings;
    size_t wcap;
    size_t wdropped; /* warnings past TP_DIAGS_MAX or lost to no memory: counted only */
};

#define TP_DIAGS_MAX 1000 /* keep at most this many; a broken file gives no flood */

/* Appends a copy of e. Never fails: on no memory (which also sets nomem) or past
 * TP_DIAGS_MAX the problem is counted in dropped. */
void tp_diags_add(struct tp_diags *d, const struct tp_error *e);

/* Appends "file: path: text" (line/column 0). */
void tp_diags_addf(struct tp_diags *d, const char *file, const char *path, const char *fmt,
                   ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

/* Appends "file: path: out of memory" and sets nomem: the way a loader reports an
 * allocation that failed (TP_ERR_NOMEM), so that commands exit 3 rather than
 * call the file invalid. file and path may be NULL. */
void tp_diags_nomem(struct tp_diags *d, const char *file, const char *path);

/* Appends the warning "file: path: text" (line/column 0) to the warnings list.
 * Never fails (past TP_DIAGS_MAX or on no memory it is counted in wdropped) and
 * never counts as a problem: tp_diags_total leaves warnings out. */
void tp_diags_warnf(struct tp_diags *d, const char *file, const char *path, const char *fmt,
                    ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

/* Total problems, kept and dropped (warnings not included). */
size_t tp_diags_total(const struct tp_diags *d);

/* Total warnings, kept and dropped. */
size_t tp_diags_warnings(const struct tp_diags *d);

/* Formats warning w as "file: path: warning: text" (tp_error_format with
 * "warning: " before the text) into buf; returns buf. */
const char *tp_diags_format_warning(const struct tp_error *w, char *buf, size_t size);

/* Frees the entries and warnings and zeroes d; d itself is the caller's. NULL is a
 * no-op. */
void tp_diags_clear(struct tp_diags *d);

#endif
