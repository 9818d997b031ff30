/* Error records shared by every module. */
#include "twinprobe/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void tp_error_clear(struct tp_error *e)
{
    if (e)
        memset(e, 0, sizeof *e);
}

tp_err tp_error_set(struct tp_error *e, tp_err code, const char *fmt, ...)
{
    if (e) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->text, sizeof e->text, fmt, ap);
        va_end(ap);
    }
    return code;
}

const char *tp_error_format(const struct tp_error *e, char *buf, size_t size)
{
    size_t used = 0;
    if (size == 0)
        return buf;
    buf[0] = '\0';
#define APPEND(...)                                                                \
    do {                                                                           \
        if (used < size) {                                                         \
            int n_ = snprintf(buf + used, size - used, __VA_ARGS__);               \
            if (n_ > 0)                                                            \
                used += (size_t)n_;                                                \
        }                                                                          \
    } while (0)
    if (e->file[0])
        APPEND("%s:", e->file);
    if (e->line > 0)
        APPEND("%d:%d:", e->line, e->column);
    if (used > 0)
        APPEND(" ");
    if (e->path[0])
        APPEND("%s: ", e->path);
    APPEND("%s", e->text);
#undef APPEND
    return buf;
}
