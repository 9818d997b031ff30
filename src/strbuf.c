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
