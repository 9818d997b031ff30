/* File descriptors for a run: the need worked out from the run's shape, and
 * RLIMIT_NOFILE raised from soft to hard (see fdlimit.h for the model). */
#include "twinprobe/fdlimit.h"

#include <stdio.h>
#include <sys/resource.h>

static uint64_t add_sat(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static uint64_t mul_sat(uint64_t a, uint64_t b)
{
    return a != 0 && b > UINT64_MAX / a ? UINT64_MAX : a * b;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

struct tp_fdlimit_need tp_fdlimit_need(const struct tp_fdlimit_shape *s)
{
    struct tp_fdlimit_need n;
    uint64_t cap = s->max_concurrency > 0 ? (uint64_t)s->max_concurrency : 1;
    uint64_t runs = (uint64_t)s->runs_per_round;

    n.in_flight = min_u64(cap, runs);
    n.connections = min_u64(runs, mul_sat(1 + TP_FDLIMIT_CACHE_PER_HANDLE, n.in_flight));
    n.total = add_sat(add_sat(TP_FDLIMIT_BASE, n.connections), n.in_flight);
    return n;
}

long tp_fdlimit_max_concurrency(const struct tp_fdlimit_shape *s, uint64_t limit)
{
    struct tp_fdlimit_shape t = *s;
    long lo = 0, hi = s->max_concurrency > 0 ? s->max_concurrency : 1;

    /* The need grows with max_concurrency: the largest that fits is in [lo, hi]. */
    while (lo < hi) {
        long mid = lo + (hi - lo + 1) / 2;
        t.max_concurrency = mid;
        if (tp_fdlimit_need(&t).total <= limit)
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}

/* "1024", or "unlimited". */
static const char *limit_text(uint64_t v, char *buf, size_t size)
{
    if (v == TP_FDLIMIT_UNLIMITED)
        return "unlimited";
    snprintf(buf, size, "%llu", (unsigned long long)v);
    return buf;
}

tp_err tp_fdlimit_check(const struct tp_fdlimit_shape *s, uint64_t soft, uint64_t hard,
                        struct tp_error *err)
{
    struct tp_fdlimit_need n = tp_fdlimit_need(s);
    char shape[96], advice[160], soft_s[24], hard_s[24];
    long fits;

    if (n.total <= soft)
        return TP_OK;
    snprintf(shape, sizeof shape, "%zu journey run%s a round", s->runs_per_round,
             s->runs_per_round == 1 ? "" : "s");
    fits = tp_fdlimit_max_concurrency(s, soft);
    if (fits > 0)
        snprintf(advice, sizeof advice, "use --max-concurrency %ld or less, or raise", fits);
    else
        snprintf(advice, sizeof advice, "raise");
    return tp_error_set(err, TP_ERR_LIMIT,
                        "--max-concurrency %ld (%s) needs about %llu file descriptors; the limit "
                        "is %s (ulimit -n; hard limit %s): %s the hard limit (ulimit -Hn, "
                        "LimitNOFILE= in a systemd unit)",
                        s->max_concurrency, shape, (unsigned long long)n.total,
                        limit_text(soft, soft_s, sizeof soft_s),
                        limit_text(hard, hard_s, sizeof hard_s), advice);
}

static uint64_t from_rlim(rlim_t v)
{
    return v == RLIM_INFINITY ? TP_FDLIMIT_UNLIMITED : (uint64_t)v;
}

tp_err tp_fdlimit_raise(const struct tp_fdlimit_shape *s, struct tp_error *err)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return TP_OK;
    if (rl.rlim_cur != rl.rlim_max) {
        struct rlimit want = rl;
        if (rl.rlim_max == RLIM_INFINITY) {
            /* Linux refuses a soft limit above fs.nr_open: ask for the need. */
            uint64_t need = tp_fdlimit_need(s).total;
            want.rlim_cur = rl.rlim_cur != RLIM_INFINITY && (uint64_t)rl.rlim_cur >= need
                                ? rl.rlim_cur
                                : (rlim_t)need;
        } else {
            want.rlim_cur = rl.rlim_max;
        }
        if (setrlimit(RLIMIT_NOFILE, &want) == 0)
            rl.rlim_cur = want.rlim_cur;
    }
    return tp_fdlimit_check(s, from_rlim(rl.rlim_cur), from_rlim(rl.rlim_max), err);
}
