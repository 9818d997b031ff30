/* Problem lists for validation. */
#include "twinprobe/diag.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tp_diags_add(struct tp_diags *d, const struct tp_error *e)
{
    if (d->count == TP_DIAGS_MAX) {
        d->dropped++;
        return;
    }
    if (d->count == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 8;
        struct tp_error *items = realloc(d->items, cap * sizeof *items);
        if (!items) {
            d->dropped++;
            d->nomem = 1;
            return;
        }
        d->items = items;
        d->cap = cap;
    }
    d->items[d->count++] = *e;
}

void tp_diags_addf(struct tp_diags *d, const char *file, const char *path, const char *fmt,
                   ...)
{
    struct tp_error e;
    va_list ap;
    tp_error_clear(&e);
    snprintf(e.file, sizeof e.file, "%s", file ? file : "");
    snprintf(e.path, sizeof e.path, "%s", path ? path : "");
    va_start(ap, fmt);
    vsnprintf(e.text, sizeof e.text, fmt, ap);
    va_end(ap);
    tp_diags_add(d, &e);
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

void tp_diags_clear(struct tp_diags *d)
{
    if (!d)
        return;
    free(d->items);
    memset(d, 0, sizeof *d);
}
