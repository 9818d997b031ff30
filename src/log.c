/* The commands' log on stderr: one masked line per event, UTC time and level first. */
#include "twinprobe/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "twinprobe/utf8.h"

static enum tp_log_level min_level = TP_LOG_INFO;
static const tp_secrets *log_secrets;

static const char *const level_names[] = {"info", "warn", "error"};

void tp_log_setup(enum tp_log_level min, const tp_secrets *secrets)
{
    min_level = min;
    log_secrets = secrets;
}

const char *tp_log_level_name(enum tp_log_level level)
{
    return level <= TP_LOG_ERROR ? level_names[level] : "error";
}

size_t tp_log_format(char *buf, size_t size, int64_t when, enum tp_log_level level,
                     const char *msg)
{
    time_t t = (time_t)when;
    struct tm tm;
    size_t len, keep;

    if (!gmtime_r(&t, &tm) || strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(buf, size, "%s", "0000-00-00T00:00:00Z");
    len = strlen(buf);
    len += (size_t)snprintf(buf + len, size - len, " %s ", tp_log_level_name(level));
    if (len >= size - 1)
        len = size - 2;
    keep = strlen(msg);
    if (keep > size - 2 - len)
        keep = tp_utf8_clip(msg, size - 2 - len);
    for (size_t i = 0; i < keep; i++) {
        unsigned char c = (unsigned char)msg[i];
        buf[len++] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
    }
    buf[len++] = '\n';
    buf[len] = '\0';
    return len;
}

void tp_log(enum tp_log_level level, const char *fmt, ...)
{
    char line[TP_LOG_LINE_MAX + 64];
    char *msg = NULL, *masked = NULL;
    va_list ap;
    int n;

    if (level < min_level)
        return;
    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n >= 0 && (msg = malloc((size_t)n + 1))) {
        va_start(ap, fmt);
        vsnprintf(msg, (size_t)n + 1, fmt, ap);
        va_end(ap);
        /* Masked whole, cut after: a cut never leaves part of a secret. */
        masked = tp_secrets_mask(log_secrets, msg);
    }
    /* Out of memory: the message could show a secret, so it is not shown. */
    tp_log_format(line, sizeof line, (int64_t)time(NULL), level,
                  masked ? masked : "(message withheld: out of memory masking it)");
    free(masked);
    free(msg);
    fputs(line, stderr);
    fflush(stderr);
}
