/* Reading the steps streams back: index set, then XRANGE pages (fetch.h). */
#include "twinprobe/fetch.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis.h>

#include "twinprobe/streams.h"

static void warn(const struct tp_fetch_opts *o, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void warn(const struct tp_fetch_opts *o, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    if (!o->warn)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    o->warn(o->ctx, msg);
}

static int listed(const char *name, const char *const *list, size_t n)
{
    if (n == 0)
        return 1;
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i], name) == 0)
            return 1;
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The sorted, filtered steps keys of the index (new array of new strings). */
static tp_err steps_keys(tp_redis *r, const struct tp_fetch_opts *o, char ***out, size_t *n,
                         struct tp_error *err)
{
    char index[512], lead[512];
    const char *argv[2] = {"SMEMBERS", index};
    size_t lens[2], ll;
    redisReply *reply = NULL;
    char **keys = NULL;
    size_t k = 0;
    tp_err rc;

    *out = NULL;
    *n = 0;
    snprintf(index, sizeof index, "%s:index", o->prefix);
    ll = (size_t)snprintf(lead, sizeof lead, "%s:steps:", o->prefix);
    lens[0] = 8;
    lens[1] = strlen(index);
    if ((rc = tp_redis_command(r, 2, argv, lens, &reply, err)) != TP_OK)
        return rc;
    if (reply->type == REDIS_REPLY_ERROR) {
        rc = tp_error_set(err, TP_ERR_IO, "SMEMBERS %s: %s", index, reply->str);
        goto done;
    }
    if (reply->type != REDIS_REPLY_ARRAY)
        goto done; /* nil: no index, nothing published */
    if (!(keys = calloc(reply->elements + 1, sizeof *keys))) {
        rc = tp_error_set(err, TP_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < reply->elements; i++) {
        const redisReply *e = reply->element[i];
        const char *rest, *colon;
        char loc[256];
        if (e->type != REDIS_REPLY_STRING || strncmp(e->str, lead, ll) != 0)
            continue;
        rest = e->str + ll;
        if (!(colon = strchr(rest, ':')) || colon == rest || !colon[1] ||
            (size_t)(colon - rest) >= sizeof loc)
            continue;
        memcpy(loc, rest, (size_t)(colon - rest));
        loc[colon - rest] = '\0';
        if (!listed(loc, o->locations, o->nlocations) ||
            !listed(colon + 1, o->journeys, o->njourneys))
            continue;
        if (!(keys[k] = strdup(e->str))) {
            rc = tp_error_set(err, TP_ERR_NOMEM, "out of memory");
            goto done;
        }
        k++;
    }
    qsort(keys, k, sizeof *keys, by_name);
done:
    freeReplyObject(reply);
    if (rc != TP_OK) {
        for (size_t i = 0; keys && i < k; i++)
            free(keys[i]);
        free(keys);
        return rc;
    }
    *out = keys;
    *n = k;
    return TP_OK;
}

/* Hands one XRANGE entry ([id, [field, value, ...]]) to the pool; *last its ID. */
static tp_err take_entry(const struct tp_fetch_opts *o, const char *key, const char *loc,
                         const char *journey, const redisReply *e, struct tp_stream_id *last,
                         struct tp_cross_result *x, struct tp_error *err)
{
    const redisReply *f;
    const char **names = NULL, **values = NULL;
    size_t nf;
    struct tp_error bad;
    tp_err rc = TP_OK;

    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
        e->element[0]->type != REDIS_REPLY_STRING ||
        tp_stream_id_parse(e->element[0]->str, last) != 0) {
        warn(o, "skipping a malformed entry of %s", key);
        return TP_OK;
    }
    f = e->element[1];
    if (f->type != REDIS_REPLY_ARRAY || f->elements % 2 != 0) {
        warn(o, "skipping %s %s: its fields are not name/value pairs", key, e->element[0]->str);
        return TP_OK;
    }
    nf = f->elements / 2;
    names = calloc(nf + 1, sizeof *names);
    values = calloc(nf + 1, sizeof *values);
    if (!names || !values) {
        rc = tp_error_set(err, TP_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < nf; i++) {
        const redisReply *nm = f->element[2 * i], *v = f->element[2 * i + 1];
        names[i] = nm->type == REDIS_REPLY_STRING ? nm->str : NULL;
        values[i] = v->type == REDIS_REPLY_STRING ? v->str : NULL;
    }
    tp_error_clear(&bad);
    rc = tp_cross_add_at(x, loc, journey, (int64_t)last->ms, names, values, nf, &bad);
    if (rc == TP_ERR_INVALID) {
        warn(o, "skipping %s %s: %s", key, e->element[0]->str, bad.text);
        rc = TP_OK;
    } else if (rc != TP_OK) {
        tp_error_set(err, rc, "%s %s: %s", key, e->element[0]->str, bad.text);
    }
done:
    free(names);
    free(values);
    return rc;
}

/* Every entry of key in the window, page by page. */
static tp_err read_key(tp_redis *r, const struct tp_fetch_opts *o, const char *key,
                       struct tp_cross_result *x, struct tp_error *err)
{
    const char *rest = key + strlen(o->prefix) + 7; /* after "{prefix}:steps:" */
    const char *colon = strchr(rest, ':');
    char loc[256], start[TP_STREAM_ID_MAX + 1], end[32], count[16];
    const char *argv[6] = {"XRANGE", key, start, end, "COUNT", count};
    size_t lens[6];
    struct tp_stream_id next = {(uint64_t)o->since_ms, 0};

    memcpy(loc, rest, (size_t)(colon - rest));
    loc[colon - rest] = '\0';
    snprintf(end, sizeof end, "%" PRId64, o->until_ms);
    snprintf(count, sizeof count, "%d", TP_FETCH_PAGE);
    for (;;) {
        redisReply *reply = NULL;
        struct tp_stream_id last = next;
        size_t got;
        tp_err rc;

        tp_stream_id_format(next, start);
        for (int i = 0; i < 6; i++)
            lens[i] = strlen(argv[i]);
        if ((rc = tp_redis_command(r, 6, argv, lens, &reply, err)) != TP_OK)
            return rc;
        if (reply->type != REDIS_REPLY_ARRAY) {
            warn(o, "skipping %s: %s", key,
                 reply->type == REDIS_REPLY_ERROR ? reply->str : "not a stream");
            freeReplyObject(reply);
            return TP_OK;
        }
        got = reply->elements;
        for (size_t i = 0; rc == TP_OK && i < got; i++)
            rc = take_entry(o, key, loc, colon + 1, reply->element[i], &last, x, err);
        freeReplyObject(reply);
        if (rc != TP_OK || got < TP_FETCH_PAGE)
            return rc;
        if (last.seq == UINT64_MAX) {
            next.ms = last.ms + 1;
            next.seq = 0;
        } else {
            next.ms = last.ms;
            next.seq = last.seq + 1;
        }
    }
}

tp_err tp_fetch_steps(tp_redis *r, const struct tp_fetch_opts *o, struct tp_cross_result *x,
                      struct tp_error *err)
{
    char **keys = NULL;
    size_t n = 0;
    tp_err rc = steps_keys(r, o, &keys, &n, err);
    for (size_t i = 0; rc == TP_OK && i < n; i++)
        rc = read_key(r, o, keys[i], x, err);
    for (size_t i = 0; i < n; i++)
        free(keys[i]);
    free(keys);
    return rc;
}

/* A number as a plain decimal string ("" when it does not exist). */
static void number(char *buf, size_t size, double v)
{
    if (isfinite(v))
        snprintf(buf, size, "%.3f", v);
    else
        snprintf(buf, size, "%s", "");
}

#define MUST_ARGS 40

/* One command whose reply must not be an error. */
static tp_err must(tp_redis *r, int argc, const char **argv, struct tp_error *err)
{
    size_t lens[MUST_ARGS];
    redisReply *reply = NULL;
    tp_err rc;
    if (argc > MUST_ARGS)
        return tp_error_set(err, TP_ERR_INTERNAL, "%d arguments for %s", argc, argv[0]);
    for (int i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    if ((rc = tp_redis_command(r, argc, argv, lens, &reply, err)) != TP_OK)
        return rc;
    if (reply->type == REDIS_REPLY_ERROR)
        rc = tp_error_set(err, TP_ERR_IO, "%s %s: %s", argv[0], argv[1], reply->str);
    freeReplyObject(reply);
    return rc;
}

tp_err tp_fetch_publish(tp_redis *r, const char *prefix, const struct tp_cross_result *x,
                        int64_t since_ms, int64_t until_ms, struct tp_error *err)
{
    char key[512], index[512], maxlen[24], since[24], until[24], score[32], delta[32], low[32],
        high[32], locs[1024];
    tp_err rc = TP_OK;

    snprintf(key, sizeof key, "%s:verdicts", prefix);
    snprintf(index, sizeof index, "%s:index", prefix);
    snprintf(maxlen, sizeof maxlen, "%d", TP_FETCH_VERDICTS_MAXLEN);
    snprintf(since, sizeof since, "%" PRId64, since_ms);
    snprintf(until, sizeof until, "%" PRId64, until_ms);
    for (size_t j = 0; rc == TP_OK && j < x->njourneys; j++) {
        const struct tp_cross_journey *jr = &x->journeys[j];
        number(score, sizeof score, jr->score);
        for (size_t s = 0; rc == TP_OK && s < jr->nsteps; s++) {
            const struct tp_cross_step *st = &jr->steps[s];
            size_t used = 0;
            const char *argv[] = {
                "XADD", key, "MAXLEN", "~", maxlen, "*",
                "journey", jr->name, "step", st->name,
                "verdict", tp_cross_verdict_name(st->verdict, st->regional),
                "journey_verdict", tp_cross_verdict_name(jr->verdict, jr->regional),
                "score", score, "delta_pct", delta, "ci_low_pct", low, "ci_high_pct", high,
                "regional", st->regional ? x->locations[st->regional_location] : "",
                "locations", locs, "since_ms", since, "until_ms", until, "reason", st->reason};
            locs[0] = '\0';
            for (size_t l = 0; l < x->nlocations && used < sizeof locs; l++) {
                int n = snprintf(locs + used, sizeof locs - used, "%s%s=%s", l ? "," : "",
                                 x->locations[l], tp_verdict_name(st->cells[l].verdict));
                used += n > 0 ? (size_t)n : 0;
            }
            number(delta, sizeof delta, st->delta_pct);
            number(low, sizeof low, st->ci_low_pct);
            number(high, sizeof high, st->ci_high_pct);
            rc = must(r, (int)(sizeof argv / sizeof argv[0]), argv, err);
        }
    }
    if (rc == TP_OK) {
        const char *argv[] = {"SADD", index, key};
        rc = must(r, 3, argv, err);
    }
    return rc;
}
