/* A list of problems found in one pass (validation reports all of them, not the
 * first). Each entry is a struct tp_error with its location. Running out of memory
 * is listed too, but flagged: it is the run's problem, not the file's. */
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

/* Total problems, kept and dropped. */
size_t tp_diags_total(const struct tp_diags *d);

/* Frees the entries and zeroes d; d itself is the caller's. NULL is a no-op. */
void tp_diags_clear(struct tp_diags *d);

#endif
