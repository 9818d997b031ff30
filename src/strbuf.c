/* Growable strings. */
#include "twinprobe/strbuf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Makes room for n more bytes and the NUL. 0, or -1 (then b is unchanged). */
static int reserve(struct tp_strbuf *b, size_t n)
{
    size_t cap;
    char *d;

    if (n >= SIZE_MAX / 2 - b->len)
        return -1;
    if (b->len + n + 1 <= b->cap)
        return 0;
    cap = b->cap ? b->cap : 32;
    while (cap < b->len + n + 1)
        cap *= 2;
    d = realloc(b->data, cap);
    if (!d)
        return -1;
    b->data = d;
    b->cap = cap;
    return 0;
}

int tp_strbuf_add(struct tp_strbuf *b, const void *s, size_t n)
{
    if (reserve(b, n))
        return -1;
    if (n)
        memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int tp_strbuf_str(struct tp_strbuf *b, const char *s)
{
    return tp_strbuf_add(b, s, strlen(s));
}

int tp_strbuf_vaddf(struct tp_strbuf *b, const char *fmt, va_list ap)
{
    va_list again;
    int n;

    va_copy(again, ap);
    n = vsnprintf(NULL, 0, fmt, ap);
    if (n < 0 || reserve(b, (size_t)n)) {
        va_end(again);
        return -1;
    }
    n = vsnprintf(b->data + b->len, (size_t)n + 1, fmt, again);
    va_end(again);
    if (n < 0) {
        b->data[b->len] = '\0';
        return -1;
    }
    b->len += (size_t)n;
    return 0;
}

int tp_strbuf_addf(struct tp_strbuf *b, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = tp_strbuf_vaddf(b, fmt, ap);
    va_end(ap);
    return rc;
}

void tp_strbuf_cut(struct tp_strbuf *b, size_t len)
{
    b->len = len;
    if (b->data)
        b->data[len] = '\0';
}

void tp_strbuf_free(struct tp_strbuf *b)
{
    if (!b)
        return;
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}
