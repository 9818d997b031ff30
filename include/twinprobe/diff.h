/* Functional comparison of two responses to the same step: status, assertion
 * outcomes, captured values, named headers and the body — JSON structurally
 * (added, removed, type_changed, value_changed, each with its normalized JSONPath;
 * arrays by index), other bodies as a line-diff summary. Ignored paths
 * (compare.ignore) and learned noise are left out. Pure: no I/O. */
#ifndef TWINPROBE_DIFF_H
#define TWINPROBE_DIFF_H

#include <jansson.h>
#include <stddef.h>

#include "twinprobe/error.h"
#include "twinprobe/journey.h"
#include "twinprobe/result.h"

enum tp_mismatch_kind {
    TP_MM_ADDED,          /* a JSON member or element only the candidate has */
    TP_MM_REMOVED,        /* only the baseline has it */
    TP_MM_TYPE_CHANGED,   /* same path, different JSON type */
    TP_MM_VALUE_CHANGED,  /* same path and type, different value */
    TP_MM_STATUS,         /* HTTP status differs (path "status") */
    TP_MM_ASSERTION,      /* an expectation passed on one side only (path: its source) */
    TP_MM_CAPTURE,        /* a captured value differs (path "capture NAME") */
    TP_MM_HEADER,         /* a compared response header differs (path "header NAME") */
    TP_MM_TEXT,           /* a non-JSON body differs (path "body") */
    TP_MM_FAILURE         /* the step failed on one side only (path "failure") */
};

/* "added", "removed", "type_changed", "value_changed", "status_changed",
 * "assertion_changed", "capture_changed", "header_changed", "text_changed",
 * "failure_changed". */
const char *tp_mismatch_kind_name(enum tp_mismatch_kind k);

struct tp_mismatch {
    enum tp_mismatch_kind kind;
    char *path;  /* "$['results'][0]['price']", "status", "header ETag", ... (new) */
    char *base;  /* the baseline's value as compact JSON ("12.5", "\"a\""), or NULL when absent */
    char *cand;  /* likewise for the candidate */
};

/* Values longer than 200 bytes are cut on a UTF-8 boundary and end in "…" (then
 * no longer JSON). Lists are appended to; a function that fails leaves what it
 * found so far in the list, which is always safe to clear. */

#define TP_MISMATCHES_KEEP 50 /* kept per list; the rest only counted */

struct tp_mismatches {
    struct tp_mismatch *items;
    size_t count;  /* kept */
    size_t cap;
    size_t total;  /* found, kept or not */
};

void tp_mismatches_clear(struct tp_mismatches *m); /* frees and zeroes */

/* A set of normalized paths; a path is covered when it equals a member or lies
 * below one ("$['a']" covers "$['a'][0]" and "$['a']['b']", not "$['ab']").
 * Non-JSON entries ("status", "header etag", "capture id", "body") match exactly. */
struct tp_pathset {
    char **items;
    size_t count;
    size_t cap;
};

tp_err tp_pathset_add(struct tp_pathset *s, const char *path);
int tp_pathset_covers(const struct tp_pathset *s, const char *path);
void tp_pathset_clear(struct tp_pathset *s);

/* The normalized paths of the nodes each query selects in doc, added to out
 * (nothing when doc is NULL). TP_OK or TP_ERR_NOMEM. */
tp_err tp_diff_resolve(tp_jsonpath *const *queries, size_t n, json_t *doc,
                       struct tp_pathset *out);

/* Structural JSON diff of base against cand, paths from "$"; subtrees covered by
 * skip (may be NULL) are left out. Numbers compare by value (1 == 1.0). Either
 * may be NULL (absent: the other one is added or removed at "$"). */
tp_err tp_diff_json(const json_t *base, const json_t *cand, const struct tp_pathset *skip,
                    struct tp_mismatches *out);

/* Line diff summary of two texts: nothing when equal, else one TP_MM_TEXT at
 * "body" whose base/cand read like "\"120 lines\"" and "\"121 lines, first
 * difference at line 7\"". */
tp_err tp_diff_text(const char *base, size_t base_len, const char *cand, size_t cand_len,
                    struct tp_mismatches *out);

/* Compares two results of the same step (either may have failed or been
 * skipped: a skipped side gives no mismatches). Checks, in order: failure (the
 * classes differ: one side failed and the other not, or they failed
 * differently; base/cand the class names as JSON strings, NULL for none; when
 * either side has no usable response — dns, connect, tls, timeout,
 * body_too_large, protocol, internal — nothing more is compared), status,
 * each assertion's outcome, each captured value, each header named in
 * cmp->headers (case-insensitive), then the body: when both parse as JSON a
 * structural diff (ignore paths resolved on each side with cmp->ignore), else a
 * text summary. Every mismatch whose path noise covers is dropped. Bodies are
 * parsed through the responses' caches. Assertion mismatches have base/cand
 * "true"/"false"; headers the values as JSON strings (NULL when absent) at
 * "header NAME" with NAME in lower case. cmp and noise may be NULL. Returns
 * TP_OK, TP_ERR_NOMEM, or TP_ERR_LIMIT (a value nested deeper than 4096). */
tp_err tp_diff_step(struct tp_step_result *base, struct tp_step_result *cand,
                    const struct tp_compare *cmp, const struct tp_pathset *noise,
                    struct tp_mismatches *out);

/* Noise learning (after Twitter's Diffy): compares two baseline results of the
 * same step and adds the path of every difference to noise, so that it is
 * ignored when the candidate is compared. Every difference is learned (no
 * TP_MISMATCHES_KEEP cap); a text body difference adds "body". Nothing is learned
 * when a side was skipped or the two failed differently: a flaky baseline says
 * nothing about which fields are volatile. */
tp_err tp_diff_learn(struct tp_step_result *base, struct tp_step_result *base2,
                     const struct tp_compare *cmp, struct tp_pathset *noise);

#endif
