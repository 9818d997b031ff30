/* Redis through hiredis 0.14.1: a non-blocking connection driven by poll()
 * against one monotonic deadline per command or batch, every reply's bytes
 * checked against size limits before hiredis parses them, pipelined writes with
 * the duplicate check that makes a replay idempotent, and a run's delivery
 * (spool replay first, then the new entries, the rest to the spool). */
#include "twinprobe/publish.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <hiredis.h>

#include "twinprobe/mask.h"

#define DUP_REPLY "equal or smaller than the target stream top item"
#define NO_DEADLINE INT64_MAX

struct tp_redis {
    redisContext *c; /* non-blocking; NULL once a failure closed it */
    const struct tp_redis_conf *conf;
    char *password;
    tp_secrets *own; /* the password, for masking */
    const tp_secrets *secrets;
    struct tp_spool_log log;
    size_t refusals; /* warned so far */
    char *fmt;       /* one command in RESP, reused */
    size_t fmt_cap;
    int unflushed;               /* the output buffer holds bytes not written yet */
    struct tp_reply_guard guard; /* the replies' bytes so far */
    int64_t limit;               /* the batch's deadline (monotonic ms), or NO_DEADLINE */
    int64_t deadline;            /* the current exchange's: never after limit */
    long deadline_ms;            /* what the current deadline allowed, for messages */
    const char *deadline_of;     /* "connect", "command" or "batch", for messages */
    char why[256];               /* why the connection failed */
    char host[256];              /* TCP: where r->c goes (the URL's host, a sentinel, the master) */
    int port;
    char master[300];            /* sentinels: the master's host:port as they named it, or "" */
    int readonly;                /* a write was refused with READONLY: the server is a replica */
    int wrote;                   /* this connection made a write that replicates (XADD, HSET) */
};

/* ---- the reply guard: RESP2 bytes against the limits, no I/O ------------------------ */

enum { G_TYPE, G_LINE, G_BULK };

void tp_reply_guard_init(struct tp_reply_guard *g)
{
    memset(g, 0, sizeof *g);
    g->state = G_TYPE;
}

/* A value ended: it counts in the arrays that hold it; the last one closes
 * the reply. */
static void value_done(struct tp_reply_guard *g)
{
    g->state = G_TYPE;
    while (g->depth > 0) {
        if (--g->left[g->depth - 1] > 0)
            return;
        g->depth--;
    }
    g->bytes = 0;
    g->values = 0;
}

/* A line ended: a bulk string's length, an array's size, or a simple value. */
static tp_err line_done(struct tp_reply_guard *g, struct tp_error *err)
{
    if (g->type != '$' && g->type != '*') {
        value_done(g);
        return TP_OK;
    }
    if (g->digits == 0 || (g->negative && g->num != 1))
        return tp_error_set(err, TP_ERR_INVALID, "a reply with a bad %s length",
                            g->type == '$' ? "bulk string" : "array");
    if (g->negative || (g->type == '*' && g->num == 0)) { /* nil, or an empty array */
        value_done(g);
        return TP_OK;
    }
    if (g->type == '$') {
        if (g->bytes + g->num + 2 > TP_REDIS_REPLY_MAX_BYTES)
            return tp_error_set(err, TP_ERR_LIMIT, "a reply over the %u MiB limit",
                                TP_REDIS_REPLY_MAX_BYTES >> 20);
        g->bytes += (size_t)g->num + 2;
        g->bulk = g->num + 2;
        g->state = G_BULK;
        return TP_OK;
    }
    if (g->values + g->num > TP_REDIS_REPLY_MAX_VALUES)
        return tp_error_set(err, TP_ERR_LIMIT, "a reply of more than %d values",
                            TP_REDIS_REPLY_MAX_VALUES);
    if (g->depth == TP_REDIS_REPLY_MAX_DEPTH)
        return tp_error_set(err, TP_ERR_LIMIT, "a reply with arrays nested over %d deep",
                            TP_REDIS_REPLY_MAX_DEPTH);
    g->left[g->depth++] = g->num;
    g->state = G_TYPE;
    return TP_OK;
}

tp_err tp_reply_guard_feed(struct tp_reply_guard *g, const char *buf, size_t len,
                           struct tp_error *err)
{
    for (size_t i = 0; i < len;) {
        unsigned char c;
        if (g->state == G_BULK) { /* counted whole at its header */
            size_t take = len - i < g->bulk ? len - i : (size_t)g->bulk;
            g->bulk -= take;
            i += take;
            if (g->bulk == 0)
                value_done(g);
            continue;
        }
        c = (unsigned char)buf[i++];
        if (++g->bytes > TP_REDIS_REPLY_MAX_BYTES)
            return tp_error_set(err, TP_ERR_LIMIT, "a reply over the %u MiB limit",
                                TP_REDIS_REPLY_MAX_BYTES >> 20);
        if (g->state == G_TYPE) {
            if (!c || !strchr("+-:$*", c))
                return tp_error_set(err, TP_ERR_INVALID, "not a RESP2 reply (byte 0x%02x)", c);
            if (++g->values > TP_REDIS_REPLY_MAX_VALUES)
                return tp_error_set(err, TP_ERR_LIMIT, "a reply of more than %d values",
                                    TP_REDIS_REPLY_MAX_VALUES);
            g->type = (char)c;
            g->state = G_LINE;
            g->cr = g->negative = g->digits = 0;
            g->num = 0;
            continue;
        }
        if (c == '\n' && g->cr) {
            tp_err rc = line_done(g, err);
            if (rc != TP_OK)
                return rc;
            continue;
        }
        if (g->type != '$' && g->type != '*') {
            g->cr = c == '\r';
            continue;
        }
        if (g->cr || (c == '-' && (g->negative || g->digits)) ||
            (c != '-' && c != '\r' && (c < '0' || c > '9')))
            return tp_error_set(err, TP_ERR_INVALID, "a reply with a bad %s length",
                                g->type == '$' ? "bulk string" : "array");
        if (c == '\r') {
            g->cr = 1;
        } else if (c == '-') {
            g->negative = 1;
        } else {
            g->num = g->num * 10 + (unsigned)(c - '0');
            g->digits++;
            if (!g->negative && g->type == '$' && g->num > TP_REDIS_REPLY_MAX_BYTES)
                return tp_error_set(err, TP_ERR_LIMIT,
                                    "a reply announcing a bulk string over the %u MiB limit",
                                    TP_REDIS_REPLY_MAX_BYTES >> 20);
            if (!g->negative && g->type == '*' && g->num > TP_REDIS_REPLY_MAX_VALUES)
                return tp_error_set(err, TP_ERR_LIMIT,
                                    "a reply announcing an array of more than %d values",
                                    TP_REDIS_REPLY_MAX_VALUES);
            if (g->negative && g->num > 1)
                return tp_error_set(err, TP_ERR_INVALID, "a reply with a bad %s length",
                                    g->type == '$' ? "bulk string" : "array");
        }
    }
    return TP_OK;
}

/* ---- messages -------------------------------------------------------------------------- */

static void say(const struct tp_spool_log *log, const tp_secrets *a, const tp_secrets *b,
                const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

/* Formats, masks with both secret sets and hands the line to log->warn. */
static void say(const struct tp_spool_log *log, const tp_secrets *a, const tp_secrets *b,
                const char *fmt, ...)
{
    char msg[1024], *m1, *m2;
    va_list ap;
    if (!log || !log->warn)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    m1 = tp_secrets_mask(a, msg);
    m2 = m1 ? tp_secrets_mask(b, m1) : NULL;
    log->warn(log->ctx, m2 ? m2 : "(out of memory)");
    free(m1);
    free(m2);
}

/* Masks err->text with both secret sets, in place. */
static void mask_error(struct tp_error *err, const tp_secrets *a, const tp_secrets *b)
{
    char *m1, *m2;
    if (!err)
        return;
    m1 = tp_secrets_mask(a, err->text);
    m2 = m1 ? tp_secrets_mask(b, m1) : NULL;
    if (m2)
        snprintf(err->text, sizeof err->text, "%s", m2);
    else
        snprintf(err->text, sizeof err->text, "out of memory");
    free(m1);
    free(m2);
}

static void describe(const struct tp_redis_conf *conf, char *buf, size_t size)
{
    snprintf(buf, size, "%s", conf->url ? conf->url : "redis");
}

/* The URL, or the sentinels with the master they named (when they did). */
static void describe_at(const tp_redis *r, char *buf, size_t size)
{
    if (r->master[0])
        snprintf(buf, size, "%s (master %s)", r->conf->url ? r->conf->url : "redis", r->master);
    else
        describe(r->conf, buf, size);
}

/* ---- the connection: deadlines, poll, the guard ------------------------------------------ */

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The next exchange ends ms from now (of: its name), and never after r->limit. */
static void set_deadline(tp_redis *r, long ms, const char *of)
{
    int64_t at = mono_ms() + ms;
    r->deadline = at < r->limit ? at : r->limit;
    if (r->limit != NO_DEADLINE && at >= r->limit) {
        r->deadline_ms = r->conf->command_timeout_ms * TP_REDIS_BATCH_FACTOR;
        r->deadline_of = "batch";
    } else {
        r->deadline_ms = ms;
        r->deadline_of = of;
    }
}

/* Milliseconds left before the deadline (0: none). */
static int time_left(const tp_redis *r)
{
    int64_t left = r->deadline - mono_ms();
    return left <= 0 ? 0 : left > INT_MAX ? INT_MAX : (int)left;
}

static void close_context(tp_redis *r)
{
    if (r->c)
        redisFree(r->c);
    r->c = NULL;
}

static int io_fail(tp_redis *r, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* The connection failed (why: fmt): closed, so nothing reads a half reply. -1. */
static int io_fail(tp_redis *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->why, sizeof r->why, fmt, ap);
    va_end(ap);
    close_context(r);
    return -1;
}

static int timed_out(tp_redis *r, const char *waiting)
{
    return io_fail(r, "no %s within %ld ms (the %s deadline)", waiting, r->deadline_ms,
                   r->deadline_of);
}

/* Opens a fresh non-blocking connection and waits, until the deadline, for it
 * to be established. 0, or -1 with r->why. */
static int open_context(tp_redis *r)
{
    const struct tp_redis_conf *conf = r->conf;
    int soerr = 0;
    socklen_t len = sizeof soerr;

    close_context(r);
    r->c = conf->addr.kind == TP_REDIS_UNIX ? redisConnectUnixNonBlock(conf->addr.path)
                                            : redisConnectNonBlock(r->host, r->port);
    if (!r->c)
        return io_fail(r, "out of memory");
    if (r->c->err)
        return io_fail(r, "%s", r->c->errstr[0] ? r->c->errstr : "unknown error");
    for (;;) {
        struct pollfd pfd = {r->c->fd, POLLOUT, 0};
        int n, left = time_left(r);
        if (left == 0)
            return timed_out(r, "connection");
        n = poll(&pfd, 1, left);
        if (n < 0 && errno != EINTR)
            return io_fail(r, "poll: %s", strerror(errno));
        if (n > 0)
            break;
    }
    if (getsockopt(r->c->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0)
        soerr = errno;
    if (soerr)
        return io_fail(r, "%s", strerror(soerr));
    tp_reply_guard_init(&r->guard);
    r->unflushed = 0;
    return 0;
}

/* The next reply (new: freeReplyObject), writing what is still unwritten as
 * the socket takes it and reading until one is whole, before the deadline.
 * Every byte read passes the guard before hiredis sees it. 0, or -1 with
 * r->why (the connection is then closed). */
static int next_reply(tp_redis *r, redisReply **out)
{
    char buf[16384];
    *out = NULL;
    if (!r->c)
        return -1; /* failed before: r->why says why */
    for (;;) {
        void *reply = NULL;
        struct pollfd pfd;
        struct tp_error gerr;
        ssize_t got;
        int n, left;

        if (redisGetReplyFromReader(r->c, &reply) != REDIS_OK)
            return io_fail(r, "%s", r->c->errstr[0] ? r->c->errstr : "protocol error");
        if (reply) {
            *out = reply;
            return 0;
        }
        if ((left = time_left(r)) == 0)
            return timed_out(r, "complete reply");
        pfd = (struct pollfd){r->c->fd, (short)(POLLIN | (r->unflushed ? POLLOUT : 0)), 0};
        n = poll(&pfd, 1, left);
        if (n < 0 && errno != EINTR)
            return io_fail(r, "poll: %s", strerror(errno));
        if (n <= 0)
            continue;
        if (r->unflushed && (pfd.revents & (POLLOUT | POLLERR | POLLHUP))) {
            int done = 0;
            if (redisBufferWrite(r->c, &done) != REDIS_OK)
                return io_fail(r, "%s", r->c->errstr[0] ? r->c->errstr : "write failed");
            r->unflushed = !done;
        }
        if (!(pfd.revents & (POLLIN | POLLERR | POLLHUP)))
            continue;
        got = read(r->c->fd, buf, sizeof buf);
        if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            continue;
        if (got < 0)
            return io_fail(r, "%s", strerror(errno));
        if (got == 0)
            return io_fail(r, "the server closed the connection");
        tp_error_clear(&gerr);
        if (tp_reply_guard_feed(&r->guard, buf, (size_t)got, &gerr) != TP_OK)
            return io_fail(r, "refused %s", gerr.text);
        if (redisReaderFeed(r->c->reader, buf, (size_t)got) != REDIS_OK)
            return io_fail(r, "out of memory");
    }
}

/* Sends one command and takes its reply (*out, new), within the command
 * deadline. 0, or -1 when the connection failed (r->why). */
static int command_reply(tp_redis *r, int argc, const char **argv, const size_t *lens,
                         redisReply **out)
{
    *out = NULL;
    if (!r->c)
        return -1;
    if (redisAppendCommandArgv(r->c, argc, argv, lens) != REDIS_OK)
        return io_fail(r, "out of memory");
    r->unflushed = 1;
    set_deadline(r, r->conf->command_timeout_ms, "command");
    return next_reply(r, out);
}

/* Sends one command and takes its reply (freed here), within the command
 * deadline; a Redis error reply is copied into why. Returns 0 on a non-error
 * reply, 1 on an error reply, -1 when the connection failed (r->why). */
static int command(tp_redis *r, int argc, const char **argv, const size_t *lens, char *why,
                   size_t size)
{
    redisReply *reply;
    int rc = 0;
    if (command_reply(r, argc, argv, lens, &reply) != 0)
        return -1;
    if (reply->type == REDIS_REPLY_ERROR) {
        snprintf(why, size, "%s", reply->str ? reply->str : "error");
        rc = 1;
    }
    freeReplyObject(reply);
    return rc;
}

/* AUTH and SELECT on a fresh connection. */
static tp_err setup(tp_redis *r, struct tp_error *err)
{
    const struct tp_redis_conf *conf = r->conf;
    char what[600], why[256];
    if (r->password || conf->addr.user) {
        const char *argv[3];
        size_t lens[3];
        int argc = 0, rc;
        argv[argc++] = "AUTH";
        if (conf->addr.user)
            argv[argc++] = conf->addr.user;
        argv[argc++] = r->password ? r->password : "";
        for (int i = 0; i < argc; i++)
            lens[i] = strlen(argv[i]);
        rc = command(r, argc, argv, lens, why, sizeof why);
        if (rc != 0) {
            describe_at(r, what, sizeof what);
            if (rc < 0)
                return tp_error_set(err, TP_ERR_IO, "%s: AUTH: %s", what, r->why);
            if (conf->addr.user)
                return tp_error_set(err, TP_ERR_IO, "%s: AUTH as user %s failed: %s%s", what,
                                    conf->addr.user, why,
                                    r->password ? "" : " (no password: set password_env)");
            return tp_error_set(err, TP_ERR_IO, "%s: AUTH failed: %s", what, why);
        }
    }
    if (conf->addr.db != 0) {
        char db[24];
        const char *argv[2] = {"SELECT", db};
        size_t lens[2];
        int rc;
        snprintf(db, sizeof db, "%d", conf->addr.db);
        lens[0] = 6;
        lens[1] = strlen(db);
        rc = command(r, 2, argv, lens, why, sizeof why);
        if (rc != 0) {
            describe_at(r, what, sizeof what);
            return tp_error_set(err, TP_ERR_IO, "%s: SELECT %s: %s", what, db,
                                rc < 0 ? r->why : why);
        }
    }
    return TP_OK;
}

/* Connects to r->host:port (or the UNIX socket), then AUTH and SELECT: within
 * the connect and command deadlines, and the batch's when there is one. */
static tp_err open_server(tp_redis *r, const char *doing, struct tp_error *err)
{
    set_deadline(r, r->conf->connect_timeout_ms, "connect");
    if (open_context(r) != 0) {
        char what[600];
        describe_at(r, what, sizeof what);
        tp_error_set(err, TP_ERR_IO, "%s: %s: %s", what, doing, r->why);
        return TP_ERR_IO;
    }
    return setup(r, err);
}

static void set_target(tp_redis *r, const char *host, int port)
{
    snprintf(r->host, sizeof r->host, "%s", host);
    r->port = port;
}

/* Asks the sentinel at r->host:port for the master's address (SENTINEL
 * get-master-addr-by-name), within the connect and command deadlines. 0 with
 * r->master set and r->host:port at the master, or -1 with why. The sentinel
 * connection is closed either way. */
static int ask_sentinel(tp_redis *r, char *why, size_t size)
{
    const char *argv[3] = {"SENTINEL", "get-master-addr-by-name", r->conf->master};
    size_t lens[3] = {8, 23, strlen(r->conf->master)};
    redisReply *reply = NULL;
    long port = 0;
    char *end = NULL;
    int rc = -1;

    set_deadline(r, r->conf->connect_timeout_ms, "connect");
    if (open_context(r) != 0 || command_reply(r, 3, argv, lens, &reply) != 0) {
        snprintf(why, size, "%s", r->why);
        close_context(r);
        return -1;
    }
    if (reply->type == REDIS_REPLY_ERROR)
        snprintf(why, size, "%s", reply->str ? reply->str : "error");
    else if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
             reply->element[0]->type != REDIS_REPLY_STRING ||
             reply->element[1]->type != REDIS_REPLY_STRING)
        snprintf(why, size, "it knows no master named %s", r->conf->master);
    else if ((port = strtol(reply->element[1]->str, &end, 10)) < 1 || port > 65535 || *end ||
             reply->element[0]->len == 0 || reply->element[0]->len >= sizeof r->host)
        snprintf(why, size, "a bad address for %s", r->conf->master);
    else {
        const char *host = reply->element[0]->str;
        snprintf(r->master, sizeof r->master, strchr(host, ':') ? "[%s]:%ld" : "%s:%ld", host,
                 port);
        set_target(r, host, (int)port);
        rc = 0;
    }
    freeReplyObject(reply);
    close_context(r);
    return rc;
}

/* ROLE on the open connection: 0 when the server is a master, else -1 with why. */
static int check_master(tp_redis *r, char *why, size_t size)
{
    const char *argv[1] = {"ROLE"};
    size_t lens[1] = {4};
    redisReply *reply = NULL;
    int rc = -1;
    if (command_reply(r, 1, argv, lens, &reply) != 0) {
        snprintf(why, size, "ROLE: %s", r->why);
        return -1;
    }
    if (reply->type == REDIS_REPLY_ARRAY && reply->elements >= 1 &&
        reply->element[0]->type == REDIS_REPLY_STRING &&
        strcmp(reply->element[0]->str, "master") == 0)
        rc = 0;
    else
        snprintf(why, size, "ROLE: not a master (%s)",
                 reply->type == REDIS_REPLY_ERROR ? reply->str
                 : reply->type == REDIS_REPLY_ARRAY && reply->elements >= 1 &&
                         reply->element[0]->type == REDIS_REPLY_STRING
                     ? reply->element[0]->str
                     : "an unexpected reply");
    freeReplyObject(reply);
    return rc;
}

/* Sentinels: each in turn, until one names a master that answers AUTH, SELECT
 * and ROLE as a master. Every step within its deadline (and the batch's). */
static tp_err open_sentinel_master(tp_redis *r, const char *doing, struct tp_error *err)
{
    const struct tp_redis_conf *conf = r->conf;
    char why[1200] = "no sentinel", what[600];

    for (size_t i = 0; i < conf->nsentinels; i++) {
        char one[300];
        struct tp_error e;
        const struct tp_redis_sentinel *s = &conf->sentinels[i];
        r->master[0] = '\0';
        set_target(r, s->host, s->port);
        if (ask_sentinel(r, one, sizeof one) != 0) {
            snprintf(why, sizeof why, "sentinel %s%s%s:%d: %s", strchr(s->host, ':') ? "[" : "",
                     s->host, strchr(s->host, ':') ? "]" : "", s->port, one);
            continue;
        }
        tp_error_clear(&e);
        if (open_server(r, doing, &e) != TP_OK) {
            snprintf(why, sizeof why, "%s", e.text);
            close_context(r);
            continue;
        }
        if (check_master(r, one, sizeof one) == 0)
            return TP_OK;
        describe_at(r, what, sizeof what);
        snprintf(why, sizeof why, "%s: %s", what, one);
        close_context(r);
    }
    describe(conf, what, sizeof what);
    snprintf(r->why, sizeof r->why, "no sentinel named a reachable master");
    return tp_error_set(err, TP_ERR_IO, "%s: %s: no sentinel named a reachable master (last: %s)",
                        what, doing, why);
}

/* Connects (again): to the URL's server, or to the master the sentinels name. */
static tp_err open_session(tp_redis *r, const char *doing, struct tp_error *err)
{
    r->readonly = 0;
    r->wrote = 0;
    if (r->conf->nsentinels > 0)
        return open_sentinel_master(r, doing, err);
    if (r->conf->addr.kind == TP_REDIS_TCP)
        set_target(r, r->conf->addr.host, r->conf->addr.port);
    return open_server(r, doing, err);
}

tp_err tp_redis_connect(const struct tp_redis_opts *o, tp_redis **out, struct tp_error *err)
{
    tp_redis *r = calloc(1, sizeof *r);
    tp_err rc;

    *out = NULL;
    if (!r || !(r->own = tp_secrets_create()) ||
        (o->password && (!(r->password = strdup(o->password)) ||
                         (*o->password && tp_secrets_add(r->own, o->password) != TP_OK)))) {
        tp_redis_free(r);
        return tp_error_set(err, TP_ERR_NOMEM, "out of memory");
    }
    r->conf = o->conf;
    r->secrets = o->secrets;
    r->log = o->log;
    r->limit = NO_DEADLINE;
    if ((rc = open_session(r, "cannot connect", err)) != TP_OK) {
        mask_error(err, r->secrets, r->own);
        tp_redis_free(r);
        return rc;
    }
    *out = r;
    return TP_OK;
}

void tp_redis_free(tp_redis *r)
{
    if (!r)
        return;
    close_context(r);
    if (r->password) {
        volatile char *p = r->password;
        while (*p)
            *p++ = '\0';
        free(r->password);
    }
    tp_secrets_free(r->own);
    free(r->fmt);
    free(r);
}

/* A connection that failed part way through a batch: a new one, within what
 * is left of the batch's deadline. */
static tp_err reconnect(tp_redis *r, struct tp_error *err)
{
    tp_err rc = open_session(r, "cannot reconnect", err);
    if (rc != TP_OK)
        mask_error(err, r->secrets, r->own);
    return rc;
}

#define ARGV_LOCAL 128 /* arguments kept on the stack; more are malloc'd */

/* Fills a/l (room for cap) with the entry's command: borrowed strings, lengths. */
static int entry_argv(const struct tp_entry *e, const char **a, size_t *l, char *maxlen,
                      size_t size)
{
    int k = 0;
    a[k++] = e->type == TP_ENTRY_XADD ? "XADD" : e->type == TP_ENTRY_HSET ? "HSET" : "SADD";
    a[k++] = e->key;
    if (e->type == TP_ENTRY_XADD) {
        snprintf(maxlen, size, "%ld", e->maxlen);
        if (e->maxlen > 0) {
            a[k++] = "MAXLEN";
            a[k++] = "~";
            a[k++] = maxlen;
        }
        a[k++] = e->id;
    }
    for (size_t i = 0; i < e->nfields; i++) {
        if (e->type != TP_ENTRY_SADD)
            a[k++] = e->fields[i].name;
        a[k++] = e->fields[i].value;
    }
    for (int i = 0; i < k; i++)
        l[i] = strlen(a[i]);
    return k;
}

/* Writes v in decimal at p; returns the digits written. */
static size_t put_size(char *p, size_t v)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        p[i] = tmp[n - 1 - i];
    return n;
}

/* The command in RESP (*argc, then $len and the bytes of each argument) in
 * r->fmt, appended to the output buffer as it is: hiredis 0.14.1's own
 * formatter (sdscatfmt per argument) costs more than the rest of the send. */
static int append_argv(tp_redis *r, int argc, const char **argv, const size_t *lens)
{
    size_t need = 16, used = 0;
    char *p;
    for (int i = 0; i < argc; i++)
        need += lens[i] + 26;
    if (need > r->fmt_cap) {
        size_t cap = need > 2 * r->fmt_cap ? need : 2 * r->fmt_cap;
        char *f = realloc(r->fmt, cap);
        if (!f)
            return REDIS_ERR;
        r->fmt = f;
        r->fmt_cap = cap;
    }
    p = r->fmt;
    p[used++] = '*';
    used += put_size(p + used, (size_t)argc);
    p[used++] = '\r';
    p[used++] = '\n';
    for (int i = 0; i < argc; i++) {
        p[used++] = '$';
        used += put_size(p + used, lens[i]);
        p[used++] = '\r';
        p[used++] = '\n';
        memcpy(p + used, argv[i], lens[i]);
        used += lens[i];
        p[used++] = '\r';
        p[used++] = '\n';
    }
    if (redisAppendFormattedCommand(r->c, p, used) != REDIS_OK)
        return REDIS_ERR;
    r->unflushed = 1;
    return REDIS_OK;
}

static tp_err append_entry(tp_redis *r, const struct tp_entry *e)
{
    const char *local[ARGV_LOCAL], **argv = local;
    size_t local_lens[ARGV_LOCAL], *lens = local_lens;
    size_t n = 6 + 2 * e->nfields;
    int rc;
    if (n > ARGV_LOCAL) {
        argv = malloc(n * sizeof *argv);
        lens = malloc(n * sizeof *lens);
    }
    if (!argv || !lens) {
        rc = REDIS_ERR;
    } else {
        char maxlen[32];
        rc = append_argv(r, entry_argv(e, argv, lens, maxlen, sizeof maxlen), argv, lens);
    }
    if (argv != local)
        free(argv);
    if (lens != local_lens)
        free(lens);
    return rc == REDIS_OK ? TP_OK : TP_ERR_NOMEM;
}

static void refused(tp_redis *r, const struct tp_entry *e, const char *why)
{
    r->refusals++;
    if (r->refusals <= TP_REDIS_WARN_MAX)
        say(&r->log, r->secrets, r->own, "redis refused %s %s%s%s: %s", tp_entry_type_name(e->type),
            e->key, e->id[0] ? " " : "", e->id, why);
    else if (r->refusals == TP_REDIS_WARN_MAX + 1)
        say(&r->log, r->secrets, r->own, "redis refused more entries; not listing them");
}

/* Out of memory part way through a pipeline: the connection is closed, so no
 * reply can be matched to the wrong command. */
static tp_err nomem(tp_redis *r, struct tp_error *err)
{
    io_fail(r, "out of memory");
    return tp_error_set(err, TP_ERR_NOMEM, "out of memory");
}

static tp_err conn_failed(tp_redis *r, const char *doing, struct tp_error *err)
{
    char what[600];
    describe_at(r, what, sizeof what);
    tp_error_set(err, TP_ERR_IO, "%s: %s: %s", what, doing, r->why);
    mask_error(err, r->secrets, r->own);
    return TP_ERR_IO;
}

/* Looks up the entries flagged dup in [lo, hi): XRANGE key id id, pipelined. */
static tp_err confirm(tp_redis *r, const struct tp_entry *entries, size_t lo, size_t hi,
                      unsigned char *dup, enum tp_outcome *outcome, struct tp_error *err)
{
    size_t sent = 0;
    for (size_t i = lo; i < hi; i++) {
        const char *argv[4] = {"XRANGE", entries[i].key, entries[i].id, entries[i].id};
        size_t lens[4] = {6, strlen(entries[i].key), strlen(entries[i].id), strlen(entries[i].id)};
        if (!dup[i])
            continue;
        if (!r->c)
            return conn_failed(r, "XRANGE", err);
        if (redisAppendCommandArgv(r->c, 4, argv, lens) != REDIS_OK)
            return nomem(r, err);
        r->unflushed = 1;
        sent++;
    }
    for (size_t i = lo; sent > 0 && i < hi; i++) {
        redisReply *reply = NULL;
        if (!dup[i])
            continue;
        if (next_reply(r, &reply) != 0)
            return conn_failed(r, "XRANGE", err);
        dup[i] = 0;
        sent--;
        if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 1) {
            outcome[i] = TP_OUT_PRESENT;
        } else {
            outcome[i] = TP_OUT_REFUSED;
            refused(r, &entries[i],
                    reply->type == REDIS_REPLY_ERROR
                        ? reply->str
                        : "its ID is not above the stream's last one, yet the stream does not "
                          "hold it (trimmed or deleted); kept in the spool");
        }
        freeReplyObject(reply);
    }
    return TP_OK;
}

/* Appends the command of every PENDING entry of [lo, hi) (sent[i] marks them). */
static tp_err append_chunk(tp_redis *r, const struct tp_entry *entries, size_t lo, size_t hi,
                           const enum tp_outcome *outcome, unsigned char *sent,
                           struct tp_error *err)
{
    for (size_t i = lo; i < hi; i++) {
        sent[i] = outcome[i] == TP_OUT_PENDING;
        if (sent[i] && !r->c)
            return conn_failed(r, "publishing", err);
        if (sent[i] && append_entry(r, &entries[i]) != TP_OK)
            return nomem(r, err);
    }
    return TP_OK;
}

/* Reads the replies of the entries of [lo, hi) that were sent. An XADD refused
 * as a duplicate is flagged in dup, to be looked up once the pipe is drained. */
static tp_err read_chunk(tp_redis *r, const struct tp_entry *entries, size_t lo, size_t hi,
                         enum tp_outcome *outcome, const unsigned char *sent, unsigned char *dup,
                         struct tp_error *err)
{
    for (size_t i = lo; i < hi; i++) {
        redisReply *reply = NULL;
        if (!sent[i])
            continue;
        if (next_reply(r, &reply) != 0)
            return conn_failed(r, "publishing", err);
        if (reply->type != REDIS_REPLY_ERROR) {
            outcome[i] = TP_OUT_STORED;
            r->wrote |= entries[i].type != TP_ENTRY_SADD; /* SADD of a member there is no write */
        } else if (reply->str && strncmp(reply->str, "READONLY", 8) == 0) {
            r->readonly = 1; /* a failover: stays PENDING, sent again to the new master */
        } else if (entries[i].type == TP_ENTRY_XADD && reply->str &&
                   strstr(reply->str, DUP_REPLY)) {
            dup[i] = 1;
        } else {
            outcome[i] = TP_OUT_REFUSED;
            refused(r, &entries[i], reply->str ? reply->str : "error");
        }
        freeReplyObject(reply);
    }
    return TP_OK;
}

static size_t chunk_end(size_t lo, size_t n)
{
    return n - lo > TP_REDIS_PIPELINE ? lo + TP_REDIS_PIPELINE : n;
}

/* Every PENDING entry, TP_REDIS_PIPELINE commands per chunk with two chunks in
 * flight: chunk k+1 is written (and Redis works on it) before the replies of
 * chunk k are read. Then the duplicates are looked up. */
static tp_err send_pending(tp_redis *r, const struct tp_entry *entries, size_t n,
                           enum tp_outcome *outcome, unsigned char *sent, unsigned char *dup,
                           struct tp_error *err)
{
    tp_err rc = TP_OK;
    memset(dup, 0, n);
    if (n > 0)
        rc = append_chunk(r, entries, 0, chunk_end(0, n), outcome, sent, err);
    for (size_t lo = 0; rc == TP_OK && lo < n; lo = chunk_end(lo, n)) {
        size_t hi = chunk_end(lo, n);
        if (hi < n)
            rc = append_chunk(r, entries, hi, chunk_end(hi, n), outcome, sent, err);
        if (rc == TP_OK)
            rc = read_chunk(r, entries, lo, hi, outcome, sent, dup, err);
    }
    for (size_t lo = 0; rc == TP_OK && lo < n; lo = chunk_end(lo, n))
        rc = confirm(r, entries, lo, chunk_end(lo, n), dup, outcome, err);
    if (rc == TP_OK && r->readonly) {
        io_fail(r, "READONLY: the server is a replica now (a failover)");
        rc = conn_failed(r, "publishing", err);
    }
    return rc;
}

/* Replicas whose acknowledged offset reached the master's (ROLE), polled every
 * 100 ms for up to ms: for a connection that wrote nothing, whose WAIT would
 * cover no write (entries only found PRESENT). The count, or -1 when the
 * connection failed. */
static long long replicas_caught_up(tp_redis *r, long ms)
{
    const char *argv[1] = {"ROLE"};
    size_t lens[1] = {4};
    int64_t until = mono_ms() + ms;
    long long target = -1;

    for (;;) {
        redisReply *reply = NULL;
        long long n = 0;
        if (command_reply(r, 1, argv, lens, &reply) != 0)
            return -1;
        if (reply->type == REDIS_REPLY_ARRAY && reply->elements >= 3 &&
            reply->element[1]->type == REDIS_REPLY_INTEGER &&
            reply->element[2]->type == REDIS_REPLY_ARRAY) {
            if (target < 0)
                target = reply->element[1]->integer;
            for (size_t i = 0; i < reply->element[2]->elements; i++) {
                const redisReply *s = reply->element[2]->element[i];
                n += s->type == REDIS_REPLY_ARRAY && s->elements >= 3 &&
                     s->element[2]->type == REDIS_REPLY_STRING &&
                     strtoll(s->element[2]->str, NULL, 10) >= target;
            }
        }
        freeReplyObject(reply);
        if (n >= r->conf->min_replicas || mono_ms() + 100 > until)
            return n;
        poll(NULL, 0, 100);
    }
}

/* Sentinels: WAIT min_replicas for what this connection wrote (WAIT's own
 * timeout half the command timeout, its reply within the command deadline).
 * When fewer replicas confirm, or the connection fails, the entries taken go
 * back to PENDING (to stay in, or go to, the spool) and TP_ERR_IO says why. */
static tp_err wait_replicas(tp_redis *r, size_t n, enum tp_outcome *outcome, struct tp_error *err)
{
    char want[24], ms[24], what[600];
    const char *argv[3] = {"WAIT", want, ms};
    size_t lens[3] = {4, 0, 0}, taken = 0;
    long timeout = r->conf->command_timeout_ms / 2 > 0 ? r->conf->command_timeout_ms / 2 : 1;
    redisReply *reply = NULL;
    long long got = -1;

    for (size_t i = 0; i < n; i++)
        taken += outcome[i] == TP_OUT_STORED || outcome[i] == TP_OUT_PRESENT;
    if (r->conf->nsentinels == 0 || r->conf->min_replicas == 0 || taken == 0)
        return TP_OK;
    snprintf(want, sizeof want, "%ld", r->conf->min_replicas);
    snprintf(ms, sizeof ms, "%ld", timeout);
    lens[1] = strlen(want);
    lens[2] = strlen(ms);
    if (!r->wrote) {
        argv[0] = "ROLE";
        got = replicas_caught_up(r, timeout);
    } else if (command_reply(r, 3, argv, lens, &reply) == 0) {
        if (reply->type == REDIS_REPLY_INTEGER)
            got = reply->integer;
        freeReplyObject(reply);
    }
    if (got >= r->conf->min_replicas)
        return TP_OK;
    for (size_t i = 0; i < n; i++)
        if (outcome[i] == TP_OUT_STORED || outcome[i] == TP_OUT_PRESENT)
            outcome[i] = TP_OUT_PENDING;
    describe_at(r, what, sizeof what);
    if (got < 0)
        tp_error_set(err, TP_ERR_IO, "%s: %s %s %s: %s; %zu entries kept for the spool", what,
                     argv[0], want, ms, r->c ? "an unexpected reply" : r->why, taken);
    else
        tp_error_set(err, TP_ERR_IO,
                     "%s: %s %s %s: %lld of %ld replicas confirmed; %zu entries kept for the "
                     "spool",
                     what, argv[0], want, ms, got, r->conf->min_replicas, taken);
    mask_error(err, r->secrets, r->own);
    return TP_ERR_IO;
}

tp_err tp_redis_send(void *ctx, const struct tp_entry *entries, size_t n, enum tp_outcome *outcome,
                     struct tp_error *err)
{
    tp_redis *r = ctx;
    unsigned char *flags = malloc(2 * n + 1);
    tp_err rc;

    if (!flags)
        return tp_error_set(err, TP_ERR_NOMEM, "out of memory");
    r->limit = mono_ms() + r->conf->command_timeout_ms * TP_REDIS_BATCH_FACTOR;
    set_deadline(r, r->conf->command_timeout_ms * TP_REDIS_BATCH_FACTOR, "batch");
    rc = send_pending(r, entries, n, outcome, flags, flags + n, err);
    if (rc == TP_ERR_IO && time_left(r) > 0) {
        /* Once: a connection that failed (a server restart, an idle timeout) is
         * opened again and what has no answer yet is sent again; what reached
         * Redis before the failure comes back as a duplicate, found PRESENT. All
         * within the batch's deadline. */
        struct tp_error again;
        tp_error_clear(&again);
        if (reconnect(r, &again) == TP_OK) {
            set_deadline(r, r->conf->command_timeout_ms * TP_REDIS_BATCH_FACTOR, "batch");
            rc = send_pending(r, entries, n, outcome, flags, flags + n, err);
        }
    }
    r->limit = NO_DEADLINE;
    if (rc == TP_OK)
        rc = wait_replicas(r, n, outcome, err);
    free(flags);
    return rc;
}

tp_err tp_redis_tops(tp_redis *r, const char *const *keys, size_t n, struct tp_stream_tops *tops,
                     struct tp_error *err)
{
    tp_err rc = TP_OK;
    if (!r->c)
        return conn_failed(r, "XREVRANGE", err);
    for (size_t i = 0; i < n; i++) {
        const char *argv[6] = {"XREVRANGE", keys[i], "+", "-", "COUNT", "1"};
        size_t lens[6] = {9, strlen(keys[i]), 1, 1, 5, 1};
        if (redisAppendCommandArgv(r->c, 6, argv, lens) != REDIS_OK)
            return nomem(r, err);
        r->unflushed = 1;
    }
    r->limit = mono_ms() + r->conf->command_timeout_ms * TP_REDIS_BATCH_FACTOR;
    set_deadline(r, r->conf->command_timeout_ms * TP_REDIS_BATCH_FACTOR, "batch");
    for (size_t i = 0; i < n; i++) {
        redisReply *reply = NULL;
        struct tp_stream_id id;
        if (next_reply(r, &reply) != 0) {
            rc = conn_failed(r, "XREVRANGE", err);
            break;
        }
        if (rc == TP_OK && reply->type == REDIS_REPLY_ARRAY && reply->elements == 1 &&
            reply->element[0]->type == REDIS_REPLY_ARRAY && reply->element[0]->elements >= 1 &&
            reply->element[0]->element[0]->type == REDIS_REPLY_STRING &&
            tp_stream_id_parse(reply->element[0]->element[0]->str, &id) == 0 &&
            tp_stream_tops_raise(tops, keys[i], id) != TP_OK)
            rc = tp_error_set(err, TP_ERR_NOMEM, "out of memory");
        freeReplyObject(reply);
    }
    r->limit = NO_DEADLINE;
    return rc;
}

tp_err tp_redis_command(tp_redis *r, int argc, const char **argv, const size_t *lens,
                        redisReply **reply, struct tp_error *err)
{
    *reply = NULL;
    if (!r->c)
        return conn_failed(r, argv[0], err);
    if (redisAppendCommandArgv(r->c, argc, argv, lens) != REDIS_OK)
        return nomem(r, err);
    r->unflushed = 1;
    set_deadline(r, r->conf->command_timeout_ms, "command");
    if (next_reply(r, reply) != 0)
        return conn_failed(r, argv[0], err);
    return TP_OK;
}

/* ---- delivery ------------------------------------------------------------------------ */

const char *tp_publish_password(const struct tp_redis_conf *conf, int *missing)
{
    const char *pw = conf->password_env ? getenv(conf->password_env) : NULL;
    *missing = conf->password_env && !pw;
    return pw;
}

tp_err tp_publish_setup(struct tp_publish_setup *ps, const struct tp_probe *probe,
                        tp_secrets *secrets, struct tp_spool_log log)
{
    const struct tp_redis_conf *rc = &probe->redis;
    int missing;
    const char *password = tp_publish_password(rc, &missing);

    memset(ps, 0, sizeof *ps);
    if (password && *password && tp_secrets_add(secrets, password) != TP_OK)
        return TP_ERR_NOMEM;
    snprintf(ps->unset, sizeof ps->unset, "environment variable %s (redis.password_env) is not set",
             rc->password_env ? rc->password_env : "");
    ps->conf = (struct tp_publish_conf){
        rc, password, missing ? ps->unset : NULL, probe->spool_dir, probe->location, secrets, log};
    return TP_OK;
}

static void copy_text(char *dst, size_t size, const struct tp_error *e)
{
    snprintf(dst, size, "%s", e->text);
}

/* IDs for the new entries, above what Redis and the spool hold; then publish. */
static tp_err publish_new(tp_redis *r, tp_spool *spool, struct tp_batch *batch,
                          enum tp_outcome *outcome, struct tp_publish_summary *sum,
                          struct tp_error *err)
{
    struct tp_stream_tops tops = {0};
    const char **keys = NULL;
    size_t nkeys = 0;
    struct tp_error rerr;
    tp_err rc = TP_OK;

    tp_error_clear(&rerr);
    if ((spool && tp_spool_tops(spool, &tops) != TP_OK) ||
        tp_streams_keys(batch, &keys, &nkeys) != TP_OK) {
        rc = tp_error_set(err, TP_ERR_NOMEM, "out of memory");
        goto done;
    }
    if (r && tp_redis_tops(r, keys, nkeys, &tops, &rerr) != TP_OK) {
        copy_text(sum->redis_error, sizeof sum->redis_error, &rerr);
        r = NULL; /* no IDs from Redis: publish nothing, spool it all */
    }
    if ((rc = tp_streams_assign_ids(batch, &tops, err)) != TP_OK)
        goto done;
    if (r && tp_redis_send(r, batch->items, batch->count, outcome, &rerr) != TP_OK)
        copy_text(sum->redis_error, sizeof sum->redis_error, &rerr);
    for (size_t i = 0; i < batch->count; i++) {
        sum->published += outcome[i] == TP_OUT_STORED || outcome[i] == TP_OUT_PRESENT;
        sum->refused += outcome[i] == TP_OUT_REFUSED;
    }
done:
    free(keys);
    tp_stream_tops_clear(&tops);
    return rc;
}

/* The location the spool's records must carry: that of batch's runs entry
 * ({prefix}:runs:{location}: a run's, --location included), else the probe's. */
static const char *spool_location(const struct tp_publish_conf *c, const struct tp_batch *batch)
{
    size_t n = strlen(c->redis->prefix);
    for (size_t i = 0; batch && i < batch->count; i++) {
        const char *k = batch->items[i].key;
        if (strncmp(k, c->redis->prefix, n) == 0 && strncmp(k + n, ":runs:", 6) == 0 && k[n + 6])
            return k + n + 6;
    }
    return c->location ? c->location : "";
}

tp_err tp_publish_deliver(const struct tp_publish_conf *c, struct tp_batch *batch,
                          struct tp_publish_summary *sum, struct tp_error *err)
{
    struct tp_redis_opts ro = {c->redis, c->password, c->secrets, c->log};
    struct tp_error e;
    struct tp_replay replay;
    tp_redis *r = NULL;
    tp_spool *spool = NULL;
    enum tp_outcome *outcome = NULL;
    size_t nbatch = batch ? batch->count : 0, unspooled = 0;
    int may_publish = 1, spool_ok = 0;
    tp_err rc = TP_OK;

    memset(sum, 0, sizeof *sum);
    memset(&replay, 0, sizeof replay);
    outcome = calloc(nbatch + 1, sizeof *outcome);
    if (!outcome)
        return tp_error_set(err, TP_ERR_NOMEM, "out of memory");
    tp_error_clear(&e);
    if (!c->spool_dir)
        snprintf(sum->spool_error, sizeof sum->spool_error, "the probe names no spool_dir");
    else if ((rc = tp_spool_open(c->spool_dir, &c->log, &spool, &e)) != TP_OK) {
        copy_text(sum->spool_error, sizeof sum->spool_error, &e);
        sum->spool_refused = rc == TP_ERR_INVALID;
        rc = TP_OK;
    }
    tp_error_clear(&e);
    if (c->unreachable)
        snprintf(sum->redis_error, sizeof sum->redis_error, "%s", c->unreachable);
    else if (sum->spool_refused && nbatch == 0)
        snprintf(sum->redis_error, sizeof sum->redis_error, "not contacted: the spool was refused");
    else if (tp_redis_connect(&ro, &r, &e) == TP_OK)
        sum->connected = 1;
    else
        copy_text(sum->redis_error, sizeof sum->redis_error, &e);

    if (spool) {
        struct tp_spool_scope scope = {c->redis->prefix, spool_location(c, batch)};
        tp_error_clear(&e);
        tp_spool_replay(spool, &scope, r ? tp_redis_send : NULL, r, &replay, &e);
        sum->replayed = replay.stored;
        sum->present = replay.present;
        sum->refused = replay.refused;
        sum->quarantined = replay.quarantined;
        sum->foreign = replay.foreign;
        if (replay.state == TP_REPLAY_FAILED) {
            copy_text(sum->spool_error, sizeof sum->spool_error, &e);
        } else {
            spool_ok = 1;
            if (replay.state == TP_REPLAY_STOPPED && r)
                copy_text(sum->redis_error, sizeof sum->redis_error, &e);
            may_publish = tp_spool_pending(spool) == 0;
        }
    }
    if (nbatch > 0) {
        rc = publish_new(r && may_publish ? r : NULL, spool_ok ? spool : NULL, batch, outcome, sum,
                         err);
        for (size_t i = 0; rc == TP_OK && i < nbatch; i++)
            unspooled += outcome[i] != TP_OUT_STORED && outcome[i] != TP_OUT_PRESENT;
        if (rc == TP_OK && unspooled > 0 && spool_ok) {
            tp_error_clear(&e);
            if (tp_spool_append(spool, batch, outcome, &sum->spooled, &e) != TP_OK)
                copy_text(sum->spool_error, sizeof sum->spool_error, &e);
        }
        if (rc == TP_OK)
            sum->lost = unspooled - sum->spooled;
    }
    sum->kept = (spool_ok ? replay.refused + replay.pending : 0) + sum->spooled;
    if (rc == TP_OK && sum->lost > 0)
        rc = tp_error_set(err, TP_ERR_IO,
                          "%zu of %zu entries could be neither published (%s) nor spooled (%s)",
                          sum->lost, nbatch, sum->redis_error[0] ? sum->redis_error : "refused",
                          sum->spool_error);
    else if (rc == TP_OK && sum->spool_refused)
        rc = tp_error_set(err, TP_ERR_IO, "%s", sum->spool_error);
    tp_spool_close(spool);
    tp_redis_free(r);
    free(outcome);
    return rc;
}
