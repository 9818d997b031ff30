/* Functional comparison of two responses to the same step: status, assertion
 * outcomes, captured values, named headers and the body — JSON structurally
 * (added, removed, type_changed, value_changed, each with its normalized JSONPath;
 * arrays by index), HTML and XML as documents (node_added, node_removed,
 * node_changed at an XPath-like path), other text by line (line_added,
 * line_removed, line_changed at "line N"). compare.ignore entries and learned
 * noise are left out. Pure: no I/O. */
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
    TP_MM_TEXT,           /* a body no line diff is made for (binary, more than
                             TP_DIFF_MAX_LINES lines) differs: path "body", base/cand
                             twinprobe's summaries ("120 lines", "121 lines, first
                             difference at line 7"), not response data */
    TP_MM_FAILURE,        /* the step failed on one side only (path "failure") */
    TP_MM_NODE_ADDED,     /* an element, attribute or text only the candidate's document has */
    TP_MM_NODE_REMOVED,   /* only the baseline's has it */
    TP_MM_NODE_CHANGED,   /* an attribute's value or a text differs */
    TP_MM_LINE_ADDED,     /* a line only the candidate's text has (path "line N+K") */
    TP_MM_LINE_REMOVED,   /* only the baseline's has it (path "line N") */
    TP_MM_LINE_CHANGED    /* baseline line N became another line (path "line N") */
};

/* "added", "removed", "type_changed", "value_changed", "status_changed",
 * "assertion_changed", "capture_changed", "header_changed", "text_changed",
 * "failure_changed", "node_added", "node_removed", "node_changed",
 * "line_added", "line_removed", "line_changed". */
const char *tp_mismatch_kind_name(enum tp_mismatch_kind k);

/* Paths:
 *   JSON      "$['results'][0]['price']" (RFC 9535 normalized path)
 *   documents "/html/body/div[2]/h1", "/html/head/link[@rel='canonical']/@href",
 *             "/html/body/h1/text()", "/html/body/p[3]/text()[2]": a step per
 *             element from the root; [@id='v'], else [@name='v'], else [@rel='v']
 *             when that value is unique among the siblings of that name, else the
 *             1-based position among them when there are several; text() counts
 *             the texts that are not blank. Steps are those of the baseline's
 *             document (an added node's last step is the candidate's).
 *   text      "line 7" (1-based, in the baseline), "line 7+1" (the first line the
 *             candidate has after baseline line 7; "line 0+1" before the first)
 *   others    "status", "failure", "header etag", "capture csrf", "body", an
 *             assertion's source ("jsonpath $.total")
 * Values are compact JSON: JSON values as they are, header values, lines,
 * texts and attribute values as JSON strings, an element as its markup in a JSON
 * string. They are whole (never cut: compare.c masks, then cuts); each comes
 * from one body, header or capture, so one comparison's values together stay
 * within a small multiple (JSON escaping) of the two bodies' size. */
struct tp_mismatch {
    enum tp_mismatch_kind kind;
    char *path;  /* as above (new) */
    char *base;  /* the baseline's value as compact JSON ("12.5", "\"a\""), or NULL when absent */
    char *cand;  /* likewise for the candidate */
};

/* Lists are appended to; a function that fails leaves what it found so far in
 * the list, which is always safe to clear. */

#define TP_MISMATCHES_KEEP 50 /* kept per list; the rest only counted */

struct tp_mismatches {
    struct tp_mismatch *items;
    size_t count;  /* kept */
    size_t cap;
    size_t total;  /* found, kept or not */
};

void tp_mismatches_clear(struct tp_mismatches *m); /* frees and zeroes */

/* A set of mismatch paths; a path is covered when it equals a member or lies
 * below one: "$['a']" covers "$['a'][0]" and "$['a']['b']", not "$['ab']";
 * "/html/body/div[2]" covers "/html/body/div[2]/@class" and
 * "/html/body/div[2]/p/text()", not "/html/body/div[2]0" or "/html/body/div". Other
 * entries ("status", "header etag", "capture id", "body", "line 7") match
 * exactly. Items are kept in the order they were added, with a hash index:
 * adding costs O(length of path), covering O(length of path) too (one running
 * hash over its prefixes), so a set of every path of an 8 MiB body is built and
 * asked in time linear in the body (STYLE 14). */
struct tp_pathset {
    char **items;   /* the members, in the order added (owned) */
    size_t count;
    size_t cap;
    size_t *slots;  /* open-addressing index: item index + 1, 0 for empty (owned) */
    size_t nslots;  /* a power of two, at least 2 * count */
};

/* Adds a copy of path (nothing when it is there). TP_OK, TP_ERR_NOMEM, or
 * TP_ERR_INVALID for a NULL argument. */
tp_err tp_pathset_add(struct tp_pathset *s, const char *path);
int tp_pathset_covers(const struct tp_pathset *s, const char *path); /* s may be NULL */
/* The index in s->items of the member equal to path, or -1 (s may be NULL). */
long tp_pathset_find(const struct tp_pathset *s, const char *path);
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

/* Bounds of the body comparisons (hostile bodies stay cheap). Past them the
 * comparison still ends, and still finds every difference, in a cruder form:
 *   TP_DIFF_MAX_LINES   lines per text body; a body with more, or with a NUL
 *                       byte, gets the TP_MM_TEXT summary instead of a line diff
 *   TP_DOCTREE_MAX_NODES  elements and texts per document, and
 *   TP_DOCTREE_MAX_DEPTH  levels (doctree.h); a larger or deeper document is
 *                       compared by line
 *   TP_DIFF_MAX_EDITS   edits one alignment (lines, or the children of one element)
 *                       looks for: Myers' O((N+M)D) algorithm after the common head
 *                       and tail are set aside; past it, and
 *   TP_DIFF_MAX_WORK    comparisons all the alignments of one tp_diff_step or
 *                       tp_diff_learn make together; past it, the lines or children
 *                       between the common head and tail are paired by position.
 * Memory: an alignment holds (D+1)^2 4-byte cells for D edits (4 MB at most). */
#define TP_DIFF_MAX_LINES 200000
#define TP_DIFF_MAX_EDITS 1000
#define TP_DIFF_MAX_WORK 50000000

/* Line diff of two texts (a last line without "\n" counts; "\r" is part of its
 * line): nothing when equal; else each run of lines that only one side has,
 * between the lines both have (a longest common subsequence, so one inserted
 * line shifts nothing), is reported line by line: its lines paired in order as
 * line_changed at "line N" (base line N, cand its replacement), the rest as
 * line_removed at "line N" or line_added at "line N+K"; each value is the line
 * as a JSON string. A body past TP_DIFF_MAX_LINES or holding a NUL byte gives
 * one TP_MM_TEXT summary at "body" instead. */
tp_err tp_diff_text(const char *base, size_t base_len, const char *cand, size_t cand_len,
                    struct tp_mismatches *out);

/* Compares two results of the same step (either may have failed or been
 * skipped: a skipped side gives no mismatches). Checks, in order: failure (the
 * classes differ: one side failed and the other not, or they failed
 * differently; base/cand the class names as JSON strings, NULL for none; when
 * either side has no usable response — dns, connect, tls, timeout,
 * body_too_large, protocol, internal — nothing more is compared), status,
 * each assertion's outcome, each captured value, each header named in
 * cmp->headers (case-insensitive), then the body:
 *   - both JSON: structural diff; cmp->ignore resolved on each side leaves
 *     subtrees out;
 *   - both documents (HTML, or XML: whatever the xpath source parses — a
 *     text/html or xhtml Content-Type, a body that starts like HTML, else
 *     well-formed XML): the trees side by side. Children pair first where their
 *     whole subtrees are equal, then by kind in the gaps (texts, elements of one
 *     name), so an added element shifts nothing. Texts compare with whitespace
 *     runs as one space and none at the ends (whitespace alone is no
 *     difference; blank texts are left out); comments, processing instructions
 *     and the doctype are not compared. Every difference at or below a node that
 *     one of cmp->ignore_xpath selects in its document is left out. The
 *     response's parsed markup is used when there is one; one parsed here is
 *     dropped again after (tp_response_drop_markup);
 *   - else by line (tp_diff_text).
 * A differing line, or document text, that matches one of cmp->ignore_lines is
 * left out, as is a mismatch at a path in cmp->ignore_labels, and every
 * mismatch whose path noise covers. Assertion mismatches have base/cand
 * "true"/"false"; headers the values as JSON strings (NULL when absent) at
 * "header NAME" with NAME in lower case. cmp and noise may be NULL. Returns
 * TP_OK, TP_ERR_NOMEM, or TP_ERR_LIMIT (a JSON value nested deeper than 4096). */
tp_err tp_diff_step(struct tp_step_result *base, struct tp_step_result *cand,
                    const struct tp_compare *cmp, const struct tp_pathset *noise,
                    struct tp_mismatches *out);

/* Noise learning (after Twitter's Diffy): compares two results of the same step
 * from the baseline — two of its rounds, or its two runs in one round — under
 * the same rules as tp_diff_step (cmp applies, what noise covers already is
 * not found again) and adds the path of every difference to noise, so that it
 * is ignored when the candidate is compared: JSON paths, node paths, "line N",
 * "capture NAME", "header name", "status", "body". Every difference is learned
 * (no TP_MISMATCHES_KEEP cap). Nothing is learned when a side was skipped or the
 * two failed differently: a flaky baseline says nothing about which fields are
 * volatile. */
tp_err tp_diff_learn(struct tp_step_result *base, struct tp_step_result *base2,
                     const struct tp_compare *cmp, struct tp_pathset *noise);

#endif
