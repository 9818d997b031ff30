/* File descriptors for a run: how many a run of a given shape can hold open at
 * once (pure arithmetic, tp_fdlimit_need), and the process's limit on them
 * (RLIMIT_NOFILE), raised from its soft to its hard value before anything is
 * sent (tp_fdlimit_raise). A run that cannot fit fails before its first request
 * instead of recording `connect` failures that are the probe's own. */
#ifndef TWINPROBE_FDLIMIT_H
#define TWINPROBE_FDLIMIT_H

#include <stddef.h>
#include <stdint.h>

#include "twinprobe/error.h"

/* Descriptors a run holds besides its transfers: stdio, the event loop's
 * wake-up pair, the run lock, /dev/urandom, a CA file being read, and a margin. */
#define TP_FDLIMIT_BASE 32u

/* libcurl's multi handle keeps up to this many connections per easy handle
 * added before it closes the oldest idle one (CURLMOPT_MAXCONNECTS unset). */
#define TP_FDLIMIT_CACHE_PER_HANDLE 4u

/* A limit with no value (RLIM_INFINITY). */
#define TP_FDLIMIT_UNLIMITED UINT64_MAX

/* The shape of a run, as far as descriptors go. Rounds do not count: the
 * runner closes a round's connections with the round (a multi handle each). */
struct tp_fdlimit_shape {
    long max_concurrency;  /* cap on transfers in flight (>= 1) */
    size_t runs_per_round; /* journey runs a round starts: journeys x targets */
};

/* What a run can hold open at once; every count saturates at UINT64_MAX. */
struct tp_fdlimit_need {
    uint64_t in_flight;   /* transfers at once: min(max_concurrency, runs_per_round) */
    uint64_t connections; /* sockets, idle ones included: every journey run of a round
                             opens its own connection and the round's multi handle keeps
                             finished runs' connections until it holds
                             (1 + CACHE_PER_HANDLE) x in_flight, so min(runs_per_round,
                             that) */
    uint64_t total;       /* TP_FDLIMIT_BASE + connections + in_flight (a transfer
                             resolving a name holds the resolver's socket pair; one
                             connecting to a name with IPv4 and IPv6 addresses may
                             hold two sockets) */
};

/* The need of a run of shape s (borrowed). An upper bound, not a measurement:
 * a journey whose redirects lead to other origins opens more connections. */
struct tp_fdlimit_need tp_fdlimit_need(const struct tp_fdlimit_shape *s);

/* The largest max_concurrency from 1 to s->max_concurrency whose need fits in
 * limit descriptors (s's other fields as they are); 0 when not even 1 fits. */
long tp_fdlimit_max_concurrency(const struct tp_fdlimit_shape *s, uint64_t limit);

/* Whether a run of shape s fits in the soft limit `soft` (the one in force,
 * already raised as far as it goes; hard is only named in the message). TP_OK,
 * or TP_ERR_LIMIT with err->text like "--max-concurrency 1000 (1000 journey runs
 * a round) needs about 2032 file descriptors; the limit is 1024 (ulimit -n; hard
 * limit 1024): use --max-concurrency 165 or less, or raise the hard limit
 * (...)". Pure; TP_FDLIMIT_UNLIMITED for no limit. */
tp_err tp_fdlimit_check(const struct tp_fdlimit_shape *s, uint64_t soft, uint64_t hard,
                        struct tp_error *err);

/* Raises this process's RLIMIT_NOFILE soft limit to its hard limit (when the
 * hard limit is unlimited: to the need, as Linux caps descriptors at
 * fs.nr_open), then tp_fdlimit_check against the result. Changes process state
 * (the limit stays raised, and children inherit it); call it once, before the
 * first transfer. When the limit cannot be read, TP_OK: the run goes ahead. */
tp_err tp_fdlimit_raise(const struct tp_fdlimit_shape *s, struct tp_error *err);

#endif
