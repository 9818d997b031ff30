/* A growable NUL-terminated byte string for the modules that build text (paths,
 * patterns, messages). No I/O. */
#ifndef TWINPROBE_STRBUF_H
#define TWINPROBE_STRBUF_H

#include <stdarg.h>
#include <stddef.h>

struct tp_strbuf {
    char *data; /* NULL until the first append; then always NUL-terminated */
    size_t len; /* bytes used, without the NUL */
    size_t cap; /* bytes allocated */
};

/* Appends n bytes of s (which may hold NULs). Returns 0, or -1 when out of memory
 * (then b is unchanged). */
int tp_strbuf_add(struct tp_strbuf *b, const void *s, size_t n);

/* Appends a NUL-terminated string. */
int tp_strbuf_str(struct tp_strbuf *b, const char *s);

/* Appends fmt formatted as by printf. Returns 0, or -1 when out of memory or on
 * an encoding error (then b is unchanged). */
#ifdef __GNUC__
__attribute__((format(printf, 2, 3)))
#endif
int tp_strbuf_addf(struct tp_strbuf *b, const char *fmt, ...);

/* tp_strbuf_addf with a va_list (ap is used, not ended). */
#ifdef __GNUC__
__attribute__((format(printf, 2, 0)))
#endif
int tp_strbuf_vaddf(struct tp_strbuf *b, const char *fmt, va_list ap);

/* Shortens to len bytes (len <= b->len). */
void tp_strbuf_cut(struct tp_strbuf *b, size_t len);

/* Frees b's bytes and zeroes it, ready for reuse; NULL is a no-op. */
void tp_strbuf_free(struct tp_strbuf *b);

#endif
