/* Redis through hiredis 0.14.1: connection set-up, pipelined writes with the
 * duplicate check that makes a replay idempotent, and a run's delivery (spool
 * replay first, then the new entries, the rest to the spool). */
#include "twinprobe/publish.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <hiredis.h>

#include "twinprobe/mask.h"

#define DUP_REPLY "equal or smaller than the target stream top item"

struct tp_redis {
    redisContext *c;
    const struct tp_redis_conf *conf;
    char *password;
    tp_secrets *own; /* the password, for masking */
    const tp_secrets *secrets;
    struct tp_spool_log log;
    size_t refusals; /* warned so far */
    char *fmt;       /* one command in RESP, reused */
    size_t fmt_cap;
};

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

static struct timeval tv_ms(long ms)
{
    struct timeval tv;
    tv.tv_sec = ms / 1000;
    tv.tv_usec = (ms % 1000) * 1000;
    return tv;
}

/* hiredis's reason for a failed context, in words. */
static const char *context_error(const redisContext *c, long timeout_ms, char *buf, size_t size)
{
    if (!c)
        return "out of memory";
    if (c->err == REDIS_ERR_EOF)
        return "the server closed the connection";
    if (c->err == REDIS_ERR_IO &&
        (strstr(c->errstr, "temporarily unavailable") || strstr(c->errstr, "timed out"))) {
        snprintf(buf, size, "no answer within %ld ms", timeout_ms);
        return buf;
    }
    return c->errstr[0] ? c->errstr : "unknown error";
}

/* Sends one command and takes its reply (freed here); a Redis error reply is
 * copied into why. Returns 0 on a non-error reply, 1 on an error reply, -1 when
 * the connection failed. */
static int command(tp_redis *r, int argc, const char **argv, const size_t *lens, char *why,
                   size_t size)
{
    redisReply *reply = redisCommandArgv(r->c, argc, argv, lens);
    int rc = 0;
    if (!reply)
        return -1;
    if (reply->type == REDIS_REPLY_ERROR) {
        snprintf(why, size, "%s", reply->str ? reply->str : "error");
        rc = 1;
    }
    freeReplyObject(reply);
    return rc;
}

static void describe(const struct tp_redis_conf *conf, char *buf, size_t size)
{
    snprintf(buf, size, "%s", conf->url ? conf->url : "redis");
}

/* Timeouts, AUTH and SELECT on a fresh (or reconnected) context: hiredis 0.14.1
 * forgets the socket timeouts on redisReconnect. */
static tp_err setup(tp_redis *r, struct tp_error *err)
{
    const struct tp_redis_conf *conf = r->conf;
    char what[600], why[256], buf[64];
    if (redisSetTimeout(r->c, tv_ms(conf->command_timeout_ms)) != REDIS_OK) {
        describe(conf, what, sizeof what);
        return tp_error_set(err, TP_ERR_IO, "%s: cannot set the timeout: %s", what,
                            context_error(r->c, conf->command_timeout_ms, buf, sizeof buf));
    }
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
            describe(conf, what, sizeof what);
            if (rc < 0)
                return tp_error_set(err, TP_ERR_IO, "%s: AUTH: %s", what,
                                    context_error(r->c, conf->command_timeout_ms, buf, sizeof buf));
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
            describe(conf, what, sizeof what);
            return tp_error_set(
                err, TP_ERR_IO, "%s: SELECT %s: %s", what, db,
                rc < 0 ? context_error(r->c, conf->command_timeout_ms, buf, sizeof buf) : why);
        }
    }
    return TP_OK;
}

tp_err tp_redis_connect(const struct tp_redis_opts *o, tp_redis **out, struct tp_error *err)
{
    const struct tp_redis_conf *conf = o->conf;
    struct timeval ctv = tv_ms(conf->connect_timeout_ms);
    tp_redis *r = calloc(1, sizeof *r);
    char what[600], buf[64];
    tp_err rc;

    *out = NULL;
    if (!r || !(r->own = tp_secrets_create()) ||
        (o->password && (!(r->password = strdup(o->password)) ||
                         (*o->password && tp_secrets_add(r->own, o->password) != TP_OK)))) {
        tp_redis_free(r);
        return tp_error_set(err, TP_ERR_NOMEM, "out of memory");
    }
    r->conf = conf;
    r->secrets = o->secrets;
    r->log = o->log;
    if (conf->addr.kind == TP_REDIS_UNIX)
        r->c = redisConnectUnixWithTimeout(conf->addr.path, ctv);
    else
        r->c = redisConnectWithTimeout(conf->addr.host, conf->addr.port, ctv);
    if (!r->c || r->c->err) {
        describe(conf, what, sizeof what);
        rc = tp_error_set(err, r->c ? TP_ERR_IO : TP_ERR_NOMEM, "%s: cannot connect: %s", what,
                          context_error(r->c, conf->connect_timeout_ms, buf, sizeof buf));
        goto fail;
    }
    if ((rc = setup(r, err)) != TP_OK)
        goto fail;
    *out = r;
    return TP_OK;
fail:
    mask_error(err, r->secrets, r->own);
    tp_redis_free(r);
    return rc;
}

void tp_redis_free(tp_redis *r)
{
    if (!r)
        return;
    if (r->c)
        redisFree(r->c);
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

/* A context that failed: hiredis 0.14.1 keeps the fd, the timeouts are lost. */
static tp_err reconnect(tp_redis *r, struct tp_error *err)
{
    if (redisReconnect(r->c) != REDIS_OK || r->c->err) {
        char what[600], buf[64];
        describe(r->conf, what, sizeof what);
        tp_error_set(err, TP_ERR_IO, "%s: cannot reconnect: %s", what,
                     context_error(r->c, r->conf->connect_timeout_ms, buf, sizeof buf));
        mask_error(err, r->secrets, r->own);
        return TP_ERR_IO;
    }
    if (setup(r, err) != TP_OK) {
        mask_error(err, r->secrets, r->own);
        return TP_ERR_IO;
    }
    return TP_OK;
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
    return redisAppendFormattedCommand(r->c, p, used);
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

static tp_err conn_failed(tp_redis *r, const char *doing, struct tp_error *err)
{
    char what[600], buf[64];
    describe(r->conf, what, sizeof what);
    tp_error_set(err, TP_ERR_IO, "%s: %s: %s", what, doing,
                 context_error(r->c, r->conf->command_timeout_ms, buf, sizeof buf));
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
        if (redisAppendCommandArgv(r->c, 4, argv, lens) != REDIS_OK)
            return tp_error_set(err, TP_ERR_NOMEM, "out of memory");
        sent++;
    }
    for (size_t i = lo; sent > 0 && i < hi; i++) {
        redisReply *reply = NULL;
        if (!dup[i])
            continue;
        if (redisGetReply(r->c, (void **)&reply) != REDIS_OK || !reply)
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
        if (sent[i] && append_entry(r, &entries[i]) != TP_OK)
            return tp_error_set(err, TP_ERR_NOMEM, "out of memory");
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
        if (redisGetReply(r->c, (void **)&reply) != REDIS_OK || !reply)
            return conn_failed(r, "publishing", err);
        if (reply->type != REDIS_REPLY_ERROR) {
            outcome[i] = TP_OUT_STORED;
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
    return rc;
}

tp_err tp_redis_send(void *ctx, const struct tp_entry *entries, size_t n, enum tp_outcome *outcome,
                     struct tp_error *err)
{
    tp_redis *r = ctx;
    unsigned char *flags = malloc(2 * n + 1);
    tp_err rc;

    if (!flags)
        return tp_error_set(err, TP_ERR_NOMEM, "out of memory");
    rc = send_pending(r, entries, n, outcome, flags, flags + n, err);
    if (rc == TP_ERR_IO) {
        /* Once: a connection that failed (a server restart, an idle timeout) is
         * opened again and what has no answer yet is sent again; what reached
         * Redis before the failure comes back as a duplicate, found PRESENT. */
        struct tp_error again;
        tp_error_clear(&again);
        if (reconnect(r, &again) == TP_OK)
            rc = send_pending(r, entries, n, outcome, flags, flags + n, err);
    }
    free(flags);
    return rc;
}

tp_err tp_redis_tops(tp_redis *r, const char *const *keys, size_t n, struct tp_stream_tops *tops,
                     struct tp_error *err)
{
    tp_err rc = TP_OK;
    for (size_t i = 0; i < n; i++) {
        const char *argv[6] = {"XREVRANGE", keys[i], "+", "-", "COUNT", "1"};
        size_t lens[6] = {9, strlen(keys[i]), 1, 1, 5, 1};
        if (redisAppendCommandArgv(r->c, 6, argv, lens) != REDIS_OK)
            return tp_error_set(err, TP_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        redisReply *reply = NULL;
        struct tp_stream_id id;
        if (redisGetReply(r->c, (void **)&reply) != REDIS_OK || !reply)
            return conn_failed(r, "XREVRANGE", err);
        if (rc == TP_OK && reply->type == REDIS_REPLY_ARRAY && reply->elements == 1 &&
            reply->element[0]->type == REDIS_REPLY_ARRAY && reply->element[0]->elements >= 1 &&
            reply->element[0]->element[0]->type == REDIS_REPLY_STRING &&
            tp_stream_id_parse(reply->element[0]->element[0]->str, &id) == 0 &&
            tp_stream_tops_raise(tops, keys[i], id) != TP_OK)
            rc = tp_error_set(err, TP_ERR_NOMEM, "out of memory");
        freeReplyObject(reply);
    }
    return rc;
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
