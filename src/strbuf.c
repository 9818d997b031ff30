/* Growable strings. */
#include "twinprobe/strbuf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int tp_strbuf_add(struct tp_strbuf *b, const void *s, size_t n)
{
    if (n >= SIZE_MAX / 2 - b->len)
        return -1;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 32;
        char *d;
        while (cap < b->len + n + 1)
            cap *= 2;
        d = realloc(b->data, cap);
        if (!d)
            return -1;
        b->data = d;
        b->cap = cap;
    }
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

void tp_strbuf_cut(struct tp_strbuf *b, size_t len)
{
    b->len = len;
    if (b->data)
        b->data[len] = '\0';
}

/* TEMP until the mask branch lands. */
#include <stdarg.h>
#include <stdio.h>
int tp_strbuf_addf(struct tp_strbuf *b, const char *fmt, ...)
{
    va_list ap;
    char tmp[1];
    int n;
    char *p;
    va_start(ap, fmt);
    n = vsnprintf(tmp, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !(p = malloc((size_t)n + 1)))
        return -1;
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    n = tp_strbuf_add(b, p, (size_t)n);
    free(p);
    return n;
}

void tp_strbuf_free(struct tp_strbuf *b)
{
    if (!b)
        return;
    free(b->data);
    memset(b, 0, sizeof *b);
}
