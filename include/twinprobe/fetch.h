/* Reading the steps streams back for `twinprobe verdict` (docs/verdict.md): the
 * stream keys from {prefix}:index, then XRANGE over the entry-ID window in
 * pages, every entry handed to the pure pool (cross.h); and writing the combined
 * verdicts back (--publish). The I/O half of the verdict command; the
 * connection is publish.h's. */
#ifndef TWINPROBE_FETCH_H
#define TWINPROBE_FETCH_H

#include <stddef.h>
#include <stdint.h>

#include "twinprobe/cross.h"
#include "twinprobe/error.h"
#include "twinprobe/publish.h"

/* Entries per XRANGE page: a steps entry is ~70 reply values, so a page stays
 * far below TP_REDIS_REPLY_MAX_VALUES. */
#define TP_FETCH_PAGE 256

struct tp_fetch_opts {
    const char *prefix;                   /* borrowed */
    int64_t since_ms, until_ms;           /* the window, both ends included (entry IDs) */
    const char *const *journeys;          /* borrowed; only these (njourneys 0: all) */
    size_t njourneys;
    const char *const *locations;         /* borrowed; only these (nlocations 0: all) */
    size_t nlocations;
    void (*warn)(void *ctx, const char *msg); /* an entry or key skipped (may be NULL) */
    void *ctx;
};

/* Adds every steps entry of the window to x: the keys {prefix}:steps:LOC:JOURNEY
 * of the index set (location up to the first ':' after "steps:"), in sorted
 * order, filtered; each read with XRANGE key SINCE-0 UNTIL COUNT
 * TP_FETCH_PAGE until a short page. An entry that is not a steps entry
 * (tp_cross_add refuses it), a malformed reply entry, or a key that holds no
 * stream is skipped with a warning naming the key and the ID. TP_OK, or
 * TP_ERR_IO (the connection failed; err->text says why), TP_ERR_NOMEM,
 * TP_ERR_LIMIT. */
tp_err tp_fetch_steps(tp_redis *r, const struct tp_fetch_opts *o, struct tp_cross_result *x,
                      struct tp_error *err);

#define TP_FETCH_VERDICTS_MAXLEN 100000 /* MAXLEN ~ of {prefix}:verdicts */

/* --publish: one XADD {prefix}:verdicts MAXLEN ~ TP_FETCH_VERDICTS_MAXLEN *
 * per journey x step of x (judged), fields as docs/redis-schema.md (journey,
 * step, verdict, journey_verdict, score, delta_pct, ci_low_pct, ci_high_pct,
 * regional, locations, since_ms, until_ms, reason), then SADD {prefix}:index
 * {prefix}:verdicts. IDs are Redis's (*): several readers may publish. TP_OK, or
 * TP_ERR_IO (the connection failed or Redis refused an entry; err->text),
 * TP_ERR_NOMEM. */
tp_err tp_fetch_publish(tp_redis *r, const char *prefix, const struct tp_cross_result *x,
                        int64_t since_ms, int64_t until_ms, struct tp_error *err);

#endif
