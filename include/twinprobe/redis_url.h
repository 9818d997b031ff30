/* Redis addresses as a probe file writes them, redis://[user@]host[:port][/db] or
 * unix:///path[?db=N], parsed into their parts for the publisher. No I/O. */
#ifndef TWINPROBE_REDIS_URL_H
#define TWINPROBE_REDIS_URL_H

#include "twinprobe/error.h"

enum tp_redis_kind { TP_REDIS_TCP, TP_REDIS_UNIX };

/* A parsed Redis address: redis://[user@]host[:port][/db] or unix:///path[?db=N]. */
struct tp_redis_url {
    enum tp_redis_kind kind;
    char *user;  /* ACL user, or NULL */
    char *host;  /* TCP; an IPv6 address without its brackets */
    int port;    /* TCP, 1 to 65535, default 6379 */
    char *path;  /* UNIX socket path (absolute) */
    int db;      /* 0 to 1000000, default 0 */
};

/* Parses url into out (fields new; free with tp_redis_url_clear). A password in the
 * URL is refused: it would sit in a file or a process list; password_env names the
 * variable that holds it. rediss:// (TLS) is refused with a hint, as are a query
 * string on redis:// and any query but db=N on unix://. TP_ERR_INVALID with
 * err->text, or TP_ERR_NOMEM; out is then zeroed. */
tp_err tp_redis_url_parse(const char *url, struct tp_redis_url *out, struct tp_error *err);

/* Parses a sentinel's address, host:port or [IPv6]:port (the port required,
 * 1 to 65535; no scheme, user or path). *host is new (an IPv6 address without
 * its brackets). TP_ERR_INVALID with err->text, or TP_ERR_NOMEM. */
tp_err tp_redis_hostport_parse(const char *s, char **host, int *port, struct tp_error *err);

/* Frees what u owns and zeroes it; NULL is a no-op. */
void tp_redis_url_clear(struct tp_redis_url *u);

#endif
