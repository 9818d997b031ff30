/* The commands' log on stderr, for cron mail and journald: one line per event,
 * "2026-12-01T03:40:00Z warn redis unreachable; 72 entries spooled" (UTC time,
 * level, message), every message masked with the run's secrets. */
#ifndef TWINPROBE_LOG_H
#define TWINPROBE_LOG_H

#include <stddef.h>
#include <stdint.h>

#include "twinprobe/mask.h"

enum tp_log_level {
    TP_LOG_INFO,  /* what the run did: a jitter delay, a stop, a run already going */
    TP_LOG_WARN,  /* something went wrong and was handled: spooled entries */
    TP_LOG_ERROR  /* the command fails because of it */
};

#define TP_LOG_LINE_MAX 2048 /* longer messages are cut (on a UTF-8 boundary) */

/* The process's one log setting (the exception to "no global state", error.h):
 * lines below min are dropped (--quiet: TP_LOG_ERROR); secrets (borrowed, may
 * be NULL, must outlive every later tp_log call) mask every message. A command
 * calls it first with its level and again once its secrets are known. */
void tp_log_setup(enum tp_log_level min, const tp_secrets *secrets);

/* Formats, masks and writes one line to stderr (then flushes it). Newlines and
 * other control characters in the message become spaces: an event is one line. */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
void tp_log(enum tp_log_level level, const char *fmt, ...);

/* The line for msg at unix time `when` into buf (size >= 32): the time, the
 * level word, the message with control characters as spaces, a newline; cut
 * to size. Returns its length. Pure: tp_log's format, for tests. */
size_t tp_log_format(char *buf, size_t size, int64_t when, enum tp_log_level level,
                     const char *msg);

/* "info", "warn", "error". */
const char *tp_log_level_name(enum tp_log_level level);

#endif
