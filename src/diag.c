/* Problem lists for validation. */
#include "twinprobe/diag.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Appends e to a list of *count entries (capacity *cap); 0, or -1 when it is
 * full (TP_DIAGS_MAX) or memory ran out (*nomem set). */
static int push(struct tp_error **items, size_t *count, size_t *cap, const struct tp_error *e,
                int *nomem)
{
    if (*count == TP_DIAGS_MAX)
        return -1;
    if (*count == *cap) {
        size_t ncap = *cap ? *cap * 2 : 8;
        struct tp_error *grown = realloc(*items, ncap * sizeof *grown);
        if (!grown) {
            *nomem = 1;
            return -1;
        }
        *items = grown;
        *cap = ncap;
    }
    (*items)[(*count)++] = *e;
    return 0;
}

void tp_diags_add(struct tp_diags *d, const struct tp_error *e)
{
    if (push(&d->items, &d->count, &d->cap, e, &d->nomem) != 0)
        d->dropped++;
}

/* e filled from file, path and the formatted text. */
static void fill(struct tp_error *e, const char *file, const char *path, const char *fmt,
                 va_list ap)
{
    tp_error_clear(e);
    snprintf(e->file, sizeof e->file, "%s", file ? file : "");
    snprintf(e->path, sizeof e->path, "%s", path ? path : "");
    vsnprintf(e->text, sizeof e->text, fmt, ap);
}

void tp_diags_addf(struct tp_diags *d, const char *file, const char *path, const char *fmt,
                   ...)
{
    struct tp_error e;
    va_list ap;
    va_start(ap, fmt);
    fill(&e, file, path, fmt, ap);
    va_end(ap);
    tp_diags_add(d, &e);
}

void tp_diags_warnf(struct tp_diags *d, const char *file, const char *path, const char *fmt,
                    ...)
{
    struct tp_error e;
    va_list ap;
    int lost = 0; /* a lost warning is no reason to exit 3 */
    va_start(ap, fmt);
    fill(&e, file, path, fmt, ap);
    va_end(ap);
    if (push(&d->warnings, &d->nwarnings, &d->wcap, &e, &lost) != 0)
        d->wdropped++;
}

void tp_diags_nomem(struct tp_diags *d, const char *file, const char *path)
{
    tp_diags_addf(d, file, path, "out of memory");
    d->nomem = 1;
}

size_t tp_diags_total(const struct tp_diags *d)
{
    return d->count + d->dropped;
}

size_t tp_diags_warnings(const struct tp_diags *d)
{
    return d->nwarnings + d->wdropped;
}

const char *tp_diags_format_warning(const struct tp_error *w, char *buf, size_t size)
{
    struct tp_error e = *w;
    snprintf(e.text, sizeof e.text, "warning: %.*s", (int)(sizeof e.text - sizeof "warning: "),
             w->text);
    return tp_error_format(&e, buf, size);
}

void tp_diags_clear(struct tp_diags *d)
{
    if (!d)
        return;
    free(d->items);
    free(d->warnings);
    memset(d, 0, sizeof *d);
}
