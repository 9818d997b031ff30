/* The cross-region verdict (DESIGN.md §Comparison and verdict, docs/verdict.md):
 * steps entries read back from Redis are pooled per journey x step x location,
 * judged per location with anytime-valid intervals (cseq.h) and the run's
 * margins and numbers (verdict.h), then combined across locations. Pure: field
 * strings in, typed verdicts out; the reading is fetch.c's. */
#ifndef TWINPROBE_CROSS_H
#define TWINPROBE_CROSS_H

#include <stddef.h>
#include <stdint.h>

#include "twinprobe/cseq.h"
#include "twinprobe/error.h"
#include "twinprobe/verdict.h"

#define TP_CROSS_MAX_PAIRS ((size_t)1 << 22) /* pairs pooled per step and location; more: TP_ERR_LIMIT */
#define TP_CROSS_MAX_POINTS 2000 /* latency points kept per step and location, down-sampled evenly */
#define TP_CROSS_MAX_DIFFS 20    /* distinct mismatch paths kept per step; more are only counted */

/* One round's latencies for the charts: the entry's time (its ID's ms). */
struct tp_cross_point {
    int64_t at_ms;
    double base_ms, cand_ms;  /* +inf for a failed side */
};

/* A mismatch: the steps entry's diff ("PATH KIND BASE -> CAND", masked by the writer). */
struct tp_cross_diff {
    size_t location;          /* index into tp_cross_result.locations */
    char *diff;
    size_t count;             /* rounds at that location with this diff */
};

/* One step at one location over the window. */
struct tp_cross_cell {
    enum tp_verdict verdict;  /* NODATA when the location has no pair of this step */
    double delta_pct;         /* 100 (e^centre - 1), centre the mean clipped log-ratio */
    double ci_low_pct, ci_high_pct; /* the confidence sequence, converted likewise */
    double sigma;             /* of the clipped log-ratios */
    double margin_pct;        /* the run's delta: max(margin_pct, 100 margin_ms / base median) */
    size_t runs, rounds;      /* distinct runs; pairs (rounds) pooled */
    size_t errors;            /* rounds where the candidate failed (cand_ok 0) */
    size_t base_errors;       /* rounds where the baseline failed */
    size_t mismatches;        /* rounds whose responses differed (match 0) */
    double base_median_ms, cand_median_ms; /* over completed runs (tp_verdict_step); NaN if none */
    char reason[256];
};

struct tp_cross_step {
    char *name;
    enum tp_verdict verdict;  /* combined across locations */
    int regional;             /* HIGH in exactly one location: rendered REGIONAL */
    size_t regional_location; /* its index when regional */
    double delta_pct, ci_low_pct, ci_high_pct; /* the pooled evidence of every location */
    char reason[512];
    struct tp_cross_cell *cells; /* one per location (tp_cross_result.locations) */
    struct tp_cross_diff *diffs; /* distinct mismatches, first seen first (<= TP_CROSS_MAX_DIFFS) */
    size_t ndiffs, diffs_dropped; /* diffs_dropped: mismatch rounds whose diff was not kept */
    /* private: the pooled samples, per location */
    struct tp_cross_samples *samples;
    size_t nsamples;
};

struct tp_cross_journey {
    char *name;
    enum tp_verdict verdict;  /* tp_verdict_journey over the steps (REGIONAL counted as HIGH) */
    int regional;             /* the verdict is HIGH only because of REGIONAL steps */
    double score;             /* NaN when no step decided */
    char reason[512];
    struct tp_cross_step *steps;
    size_t nsteps, cap;
};

struct tp_cross_result {
    char **locations;         /* in the order first seen */
    size_t nlocations, loc_cap;
    struct tp_cross_journey *journeys; /* in the order first seen */
    size_t njourneys, cap;
    size_t entries, skipped;  /* entries taken, entries refused by tp_cross_add */
};

/* A new, empty pool (NULL: out of memory); _free(NULL) is a no-op. */
struct tp_cross_result *tp_cross_create(void);
void tp_cross_free(struct tp_cross_result *x);

/* Adds one steps entry of {prefix}:steps:{location}:{journey}: names[i] and
 * values[i] for i < n (borrowed; copied where kept). Pairs whose side was
 * skipped (base_ms or cand_ms "") are dropped; a side with ok 0 is +inf; an
 * entry without a candidate (cand "") is plain monitoring and ignored (TP_OK).
 * Errors: TP_ERR_INVALID (a field missing or not a number, err->text says
 * which; the pool is unchanged and x->skipped counts it), TP_ERR_NOMEM,
 * TP_ERR_LIMIT (over TP_CROSS_MAX_PAIRS). */
tp_err tp_cross_add(struct tp_cross_result *x, const char *location, const char *journey,
                    const char *const *names, const char *const *values, size_t n,
                    struct tp_error *err);

/* tp_cross_add for an entry written at at_ms (its stream ID's time): the pair
 * also joins the step's latency series at that location, which keeps at most
 * TP_CROSS_MAX_POINTS points: when full, every other point is dropped and from
 * then on only every 2^k-th pair is kept, so the points stay evenly spaced in
 * pair order. Same errors as tp_cross_add. */
tp_err tp_cross_add_at(struct tp_cross_result *x, const char *location, const char *journey,
                       int64_t at_ms, const char *const *names, const char *const *values,
                       size_t n, struct tp_error *err);

/* The latency series of step st at location loc (borrowed, in entry order,
 * valid until the pool changes); returns its length, 0 when none. */
size_t tp_cross_series(const struct tp_cross_step *st, size_t loc,
                       const struct tp_cross_point **points);

/* Judges every step and journey (idempotent). Per location: NODATA without
 * pairs; CRITICAL when the interval's low is at or above opts->critical_pct;
 * HIGH when low > 0 and the centre >= delta; LOW when high < 0 and the centre
 * <= -delta; PASS when high < delta; else INCONCLUSIVE (also below the exact
 * test's smallest useful sample, as in a run). Combined: CRITICAL when any is;
 * HIGH when two or more locations are, or the pooled evidence is and none is
 * LOW; REGIONAL (HIGH, regional set) when exactly one is; PASS when every
 * location with data passes; LOW when every one is LOW or PASS; NODATA when
 * none has data; else INCONCLUSIVE, the reason naming the undecided locations
 * and about how many more rounds each needs at the variance seen. opts NULL:
 * defaults; the interval level is opts->confidence. Errors: TP_ERR_NOMEM,
 * TP_ERR_LIMIT (from the statistics). */
tp_err tp_cross_judge(struct tp_cross_result *x, const struct tp_verdict_opts *opts,
                      struct tp_error *err);

/* Which rule combined the locations' verdicts of a step (in the order tried). */
enum tp_cross_rule {
    TP_CROSS_NODATA,       /* no location has data */
    TP_CROSS_CRITICAL,     /* any location is CRITICAL */
    TP_CROSS_HIGH,         /* two or more locations are HIGH */
    TP_CROSS_POOLED_HIGH,  /* the pooled evidence is HIGH and no location is LOW */
    TP_CROSS_REGIONAL,     /* exactly one location is HIGH */
    TP_CROSS_PASS,         /* every location with data passes */
    TP_CROSS_LOW,          /* every location with data is LOW or PASS */
    TP_CROSS_INCONCLUSIVE  /* anything else */
};

/* The one combination rule across locations: n locations' verdicts v and the
 * pooled evidence's verdict (TP_V_NODATA when there is none, e.g. one run
 * judged alone). The combined verdict is tp_cross_rule_verdict(rule); REGIONAL
 * is HIGH with regional set. */
enum tp_cross_rule tp_cross_combine(const enum tp_verdict *v, size_t n, enum tp_verdict pooled);
enum tp_verdict tp_cross_rule_verdict(enum tp_cross_rule rule);

/* "REGIONAL" when regional, else tp_verdict_name(v). */
const char *tp_cross_verdict_name(enum tp_verdict v, int regional);

/* A point in time for --since/--until, in ms since the epoch: a duration back
 * from now_ms ("90s", "30m", "2h", "1d", digits followed by s, m, h or d),
 * milliseconds since the epoch (13 digits or more), or UTC ISO 8601
 * "YYYY-MM-DDTHH:MM[:SS][Z]". durations 0 if not allowed. Errors: TP_ERR_INVALID. */
tp_err tp_cross_parse_time(const char *s, int64_t now_ms, int durations, int64_t *out,
                           struct tp_error *err);

#endif
