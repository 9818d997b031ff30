/* Functional comparison of a step's two results: failure class, status,
 * assertion outcomes, captures, named headers and the body (JSON structurally,
 * HTML and XML as documents, anything else by line). Mismatches carry paths
 * (RFC 9535 normalized paths, XPath-like node paths, "line N") and JSON values.
 * Pure: no I/O. */
#include "twinprobe/diff.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/tree.h>

#include "twinprobe/doctree.h"
#include "twinprobe/extract.h"
#include "twinprobe/rematch.h"
#include "twinprobe/response.h"
#include "twinprobe/strbuf.h"

/* jansson parses at most 2048 levels; deeper hand-built values are refused
 * (TP_ERR_LIMIT) rather than recursed into. */
#define DIFF_MAX_DEPTH 4096

static const char *const kind_names[] = {
    [TP_MM_ADDED] = "added",
    [TP_MM_REMOVED] = "removed",
    [TP_MM_TYPE_CHANGED] = "type_changed",
    [TP_MM_VALUE_CHANGED] = "value_changed",
    [TP_MM_STATUS] = "status_changed",
    [TP_MM_ASSERTION] = "assertion_changed",
    [TP_MM_CAPTURE] = "capture_changed",
    [TP_MM_HEADER] = "header_changed",
    [TP_MM_TEXT] = "text_changed",
    [TP_MM_FAILURE] = "failure_changed",
    [TP_MM_NODE_ADDED] = "node_added",
    [TP_MM_NODE_REMOVED] = "node_removed",
    [TP_MM_NODE_CHANGED] = "node_changed",
    [TP_MM_LINE_ADDED] = "line_added",
    [TP_MM_LINE_REMOVED] = "line_removed",
    [TP_MM_LINE_CHANGED] = "line_changed",
};

const char *tp_mismatch_kind_name(enum tp_mismatch_kind k)
{
    if ((size_t)k >= sizeof kind_names / sizeof kind_names[0] || !kind_names[k])
        return "unknown";
    return kind_names[k];
}

/* Appends the normalized-path segment of a member name: "['key']" with the
 * escapes of RFC 9535 §2.7, as the JSONPath evaluator writes them. */
static int path_add_key(struct tp_strbuf *b, const char *key, size_t key_len)
{
    char *seg = tp_jsonpath_child_path("", key, key_len, 0);
    int rc = seg ? tp_strbuf_str(b, seg) : -1;
    free(seg);
    return rc;
}

static int path_add_index(struct tp_strbuf *b, size_t idx)
{
    char tmp[32];
    snprintf(tmp, sizeof tmp, "[%zu]", idx);
    return tp_strbuf_str(b, tmp);
}

/* ---- values as text -------------------------------------------------------- */

/* A real as the shortest of %.15g..%.17g that reads back the same, with ".0"
 * when it looks like an integer (jansson writes 0.1 as 0.10000000000000001). */
static char *real_text(double d)
{
    char tmp[48];
    int prec;

    for (prec = 15; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, d);
        if (strtod(tmp, NULL) == d)
            break;
    }
    for (char *p = tmp; *p; p++)
        if (*p == ',')
            *p = '.'; /* a locale's decimal comma */
    if (!strpbrk(tmp, ".eE")) {
        size_t n = strlen(tmp);
        if (n + 3 <= sizeof tmp)
            memcpy(tmp + n, ".0", 3);
    }
    return strdup(tmp);
}

/* v as compact JSON, whole. New string; NULL when out of memory. */
static char *value_text(const json_t *v)
{
    if (json_is_real(v))
        return real_text(json_real_value(v));
    return json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
}

/* len bytes (any bytes: bad UTF-8 becomes U+FFFD) as a JSON string. New; NULL
 * when out of memory. */
static char *bytes_text(const char *s, size_t len)
{
    json_t *v = tp_value_string(s, len);
    char *text = v ? value_text(v) : NULL;
    json_decref(v);
    return text;
}

/* ---- mismatch lists and path sets ------------------------------------------ */

void tp_mismatches_clear(struct tp_mismatches *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->count; i++) {
        free(m->items[i].path);
        free(m->items[i].base);
        free(m->items[i].cand);
    }
    free(m->items);
    memset(m, 0, sizeof *m);
}

/* FNV-1a over bytes, continued from h (start at FNV_BASIS). */
#define FNV_BASIS 14695981039346656037ULL
static uint64_t fnv(uint64_t h, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    return h;
}

/* The slot of the member equal to the first n bytes of key (hash h), or of the
 * empty slot where it would go. s->slots holds item index + 1, 0 for empty; it
 * is never more than half full, so the probe ends. */
static size_t pathset_slot(const struct tp_pathset *s, const char *key, size_t n, uint64_t h,
                           int *found)
{
    size_t mask = s->nslots - 1, at = (size_t)h & mask;

    for (;; at = (at + 1) & mask) {
        size_t k = s->slots[at];
        if (k == 0) {
            *found = 0;
            return at;
        }
        if (strncmp(s->items[k - 1], key, n) == 0 && s->items[k - 1][n] == '\0') {
            *found = 1;
            return at;
        }
    }
}

static int pathset_has(const struct tp_pathset *s, const char *key, size_t n, uint64_t h)
{
    int found;
    if (s->nslots == 0)
        return 0;
    pathset_slot(s, key, n, h, &found);
    return found;
}

static tp_err pathset_grow(struct tp_pathset *s)
{
    size_t nslots = s->nslots ? s->nslots * 2 : 16;
    size_t *slots;

    if (nslots > SIZE_MAX / sizeof *slots || !(slots = calloc(nslots, sizeof *slots)))
        return TP_ERR_NOMEM;
    free(s->slots);
    s->slots = slots;
    s->nslots = nslots;
    for (size_t i = 0; i < s->count; i++) {
        int found;
        size_t len = strlen(s->items[i]);
        s->slots[pathset_slot(s, s->items[i], len, fnv(FNV_BASIS, s->items[i], len), &found)] =
            i + 1;
    }
    return TP_OK;
}

tp_err tp_pathset_add(struct tp_pathset *s, const char *path)
{
    size_t len, at;
    uint64_t h;
    int found;
    char *copy;

    if (!s || !path)
        return TP_ERR_INVALID;
    len = strlen(path);
    h = fnv(FNV_BASIS, path, len);
    if (pathset_has(s, path, len, h))
        return TP_OK;
    if ((s->count + 1) * 2 > s->nslots && pathset_grow(s) != TP_OK)
        return TP_ERR_NOMEM;
    if (s->count == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 8;
        char **p;
        if (cap > SIZE_MAX / sizeof *p || !(p = realloc(s->items, cap * sizeof *p)))
            return TP_ERR_NOMEM;
        s->items = p;
        s->cap = cap;
    }
    if (!(copy = strdup(path)))
        return TP_ERR_NOMEM;
    at = pathset_slot(s, path, len, h, &found);
    s->items[s->count++] = copy;
    s->slots[at] = s->count;
    return TP_OK;
}

long tp_pathset_find(const struct tp_pathset *s, const char *path)
{
    size_t len, at;
    int found;

    if (!s || !path || s->nslots == 0)
        return -1;
    len = strlen(path);
    at = pathset_slot(s, path, len, fnv(FNV_BASIS, path, len), &found);
    return found ? (long)s->slots[at] - 1 : -1;
}

/* A member covers path when it equals path or is a whole-segment prefix of it:
 * for a JSON path one followed by "[", for a node path one followed by "/". The
 * paths diff.c writes quote every name, so a member (a complete path) never
 * ends inside a segment of another, and trying every "[" or "/" is exact. The
 * prefixes' hashes are one running hash: O(length of path) in all. */
int tp_pathset_covers(const struct tp_pathset *s, const char *path)
{
    char sep;
    uint64_t h = FNV_BASIS;
    size_t done = 0, i;

    if (!s || !path || s->count == 0)
        return 0;
    sep = path[0] == '$' ? '[' : path[0] == '/' ? '/' : '\0';
    for (i = 1; sep && path[i]; i++) {
        if (path[i] != sep)
            continue;
        h = fnv(h, path + done, i - done);
        done = i;
        if (pathset_has(s, path, i, h))
            return 1;
    }
    i = done + strlen(path + done);
    return pathset_has(s, path, i, fnv(h, path + done, i - done));
}

void tp_pathset_clear(struct tp_pathset *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->count; i++)
        free(s->items[i]);
    free(s->items);
    free(s->slots);
    memset(s, 0, sizeof *s);
}

tp_err tp_diff_resolve(tp_jsonpath *const *queries, size_t n, json_t *doc, struct tp_pathset *out)
{
    struct tp_jsonpath_nodes nodes;
    tp_err rc = TP_OK;

    if (!doc)
        return TP_OK;
    for (size_t i = 0; i < n && rc == TP_OK; i++) {
        if (!queries[i])
            continue;
        memset(&nodes, 0, sizeof nodes);
        rc = tp_jsonpath_eval(queries[i], doc, 1, &nodes);
        for (size_t k = 0; k < nodes.count && rc == TP_OK; k++)
            rc = tp_pathset_add(out, nodes.paths[k]);
        tp_jsonpath_nodes_clear(&nodes);
    }
    return rc;
}

/* ---- the comparison --------------------------------------------------------- */

struct differ {
    struct tp_mismatches *out;
    size_t keep;                    /* items kept at most; the rest only counted */
    const struct tp_pathset *skip;  /* JSON subtrees left out, or NULL */
    const struct tp_pathset *noise; /* any mismatch it covers is dropped, or NULL */
    const struct tp_compare *cmp;   /* ignore labels and line patterns, or NULL */
    struct tp_pathset *learn;       /* learning: paths are added here, nothing is recorded */
    size_t work;                    /* alignment comparisons left (TP_DIFF_MAX_WORK) */
    unsigned long regex_budget;     /* /regex/ ignore steps left (TP_REGEX_BUDGET) */
    struct tp_strbuf path;          /* the path being compared */
};

#define DIFFER(out, keep, noise, cmp, learn) \
    {(out), (keep), NULL, (noise), (cmp), (learn), TP_DIFF_MAX_WORK, TP_REGEX_BUDGET, {NULL, 0, 0}}

static int dropped(const struct differ *d, const char *path)
{
    return tp_pathset_covers(d->skip, path) || tp_pathset_covers(d->noise, path);
}

static int label_ignored(const struct tp_compare *cmp, const char *path)
{
    for (size_t i = 0; cmp && i < cmp->nignore_labels; i++)
        if (strcmp(cmp->ignore_labels[i], path) == 0)
            return 1;
    return 0;
}

/* 1 when a line or HTML text matches one of compare.ignore's /regex/ entries.
 * Every match of one tp_diff_step or tp_diff_learn takes its steps from one
 * budget (d->regex_budget); once it is spent, no text is ignored by a pattern
 * any more: the differences are reported, never hidden. */
static int text_ignored(struct differ *d, const char *s, size_t len)
{
    const struct tp_compare *cmp = d->cmp;
    size_t start, n;

    for (size_t i = 0; s && cmp && i < cmp->nignore_lines && d->regex_budget > 0; i++)
        if (tp_regex_search_budget(cmp->ignore_lines[i], s, len, &d->regex_budget, &start, &n) ==
            1)
            return 1;
    return 0;
}

/* Whether a mismatch at path is to be recorded with its values (*record): not
 * when noise or an ignore label drops it, nor when learning (the path is
 * learned instead), nor past the keep cap (it is only counted). */
static tp_err admit(struct differ *d, const char *path, int *record)
{
    *record = 0;
    if (tp_pathset_covers(d->noise, path) || label_ignored(d->cmp, path))
        return TP_OK;
    if (d->learn)
        return tp_pathset_add(d->learn, path);
    d->out->total++;
    *record = d->out->count < d->keep;
    return TP_OK;
}

/* Appends a mismatch; base and cand (new, NULL: absent) are taken, also on failure. */
static tp_err push(struct differ *d, enum tp_mismatch_kind kind, const char *path, char *base,
                   char *cand)
{
    struct tp_mismatches *m = d->out;
    struct tp_mismatch mm = {kind, strdup(path), base, cand};

    if (mm.path && m->count == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 8;
        struct tp_mismatch *p;
        if (cap <= SIZE_MAX / sizeof *p && (p = realloc(m->items, cap * sizeof *p)) != NULL) {
            m->items = p;
            m->cap = cap;
        }
    }
    if (!mm.path || m->count == m->cap) {
        free(mm.path);
        free(base);
        free(cand);
        return TP_ERR_NOMEM;
    }
    m->items[m->count++] = mm;
    return TP_OK;
}

/* Records one mismatch with JSON values (borrowed; NULL means absent). */
static tp_err add_mismatch(struct differ *d, enum tp_mismatch_kind kind, const char *path,
                           const json_t *base, const json_t *cand)
{
    char *b = NULL, *c = NULL;
    int record;
    tp_err rc = admit(d, path, &record);

    if (rc != TP_OK || !record)
        return rc;
    if ((base && !(b = value_text(base))) || (cand && !(c = value_text(cand)))) {
        free(b);
        return TP_ERR_NOMEM;
    }
    return push(d, kind, path, b, c);
}

/* Records one mismatch whose values are byte strings (NULL: absent), given as
 * JSON strings. */
static tp_err add_bytes_mismatch(struct differ *d, enum tp_mismatch_kind kind, const char *path,
                                 const char *base, size_t base_len, const char *cand,
                                 size_t cand_len)
{
    char *b = NULL, *c = NULL;
    int record;
    tp_err rc = admit(d, path, &record);

    if (rc != TP_OK || !record)
        return rc;
    if ((base && !(b = bytes_text(base, base_len))) || (cand && !(c = bytes_text(cand, cand_len)))) {
        free(b);
        return TP_ERR_NOMEM;
    }
    return push(d, kind, path, b, c);
}

static tp_err add_text_mismatch(struct differ *d, enum tp_mismatch_kind kind, const char *path,
                                const char *base, const char *cand)
{
    return add_bytes_mismatch(d, kind, path, base, base ? strlen(base) : 0, cand,
                              cand ? strlen(cand) : 0);
}

enum jclass { J_OBJECT, J_ARRAY, J_STRING, J_NUMBER, J_BOOLEAN, J_NULL };

static enum jclass jclass_of(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return J_OBJECT;
    case JSON_ARRAY:
        return J_ARRAY;
    case JSON_STRING:
        return J_STRING;
    case JSON_INTEGER:
    case JSON_REAL:
        return J_NUMBER;
    case JSON_TRUE:
    case JSON_FALSE:
        return J_BOOLEAN;
    default:
        return J_NULL;
    }
}

/* By value: 1 == 1.0; an integer equals a real only when the real is exactly it. */
static int numbers_equal(const json_t *a, const json_t *b)
{
    const json_t *i, *r;
    double x;

    if (json_is_integer(a) && json_is_integer(b))
        return json_integer_value(a) == json_integer_value(b);
    if (json_is_real(a) && json_is_real(b))
        return json_real_value(a) == json_real_value(b);
    i = json_is_integer(a) ? a : b;
    r = json_is_integer(a) ? b : a;
    x = json_real_value(r);
    if (!(x >= -9223372036854775808.0 && x < 9223372036854775808.0))
        return 0;
    return (double)(json_int_t)x == x && (json_int_t)x == json_integer_value(i);
}

static tp_err diff_value(struct differ *d, const json_t *a, const json_t *b, unsigned depth);

/* The member or element below the current path: extends d->path, compares,
 * restores it. key NULL means the index idx. */
static tp_err diff_child(struct differ *d, const char *key, size_t key_len, size_t idx,
                         const json_t *a, const json_t *b, unsigned depth)
{
    size_t mark = d->path.len;
    tp_err rc;

    if (key ? path_add_key(&d->path, key, key_len) : path_add_index(&d->path, idx))
        return TP_ERR_NOMEM;
    rc = diff_value(d, a, b, depth + 1);
    tp_strbuf_cut(&d->path, mark);
    return rc;
}

/* object -> every member of a (compared, or removed), then those only b has (added).
 * Member order does not matter; a's order is the report order. */
static tp_err diff_object(struct differ *d, const json_t *a, const json_t *b, unsigned depth)
{
    json_t *oa = (json_t *)a, *ob = (json_t *)b; /* jansson's iterators take non-const */
    const char *key;
    size_t key_len;
    json_t *v;
    tp_err rc;

    json_object_keylen_foreach(oa, key, key_len, v)
    {
        if ((rc = diff_child(d, key, key_len, 0, v, json_object_getn(b, key, key_len), depth)))
            return rc;
    }
    json_object_keylen_foreach(ob, key, key_len, v)
    {
        if (json_object_getn(a, key, key_len))
            continue;
        if ((rc = diff_child(d, key, key_len, 0, NULL, v, depth)))
            return rc;
    }
    return TP_OK;
}

/* array -> by index; elements past the shorter one are added or removed. */
static tp_err diff_array(struct differ *d, const json_t *a, const json_t *b, unsigned depth)
{
    size_t na = json_array_size(a), nb = json_array_size(b);

    for (size_t i = 0; i < (na > nb ? na : nb); i++) {
        tp_err rc = diff_child(d, NULL, 0, i, json_array_get(a, i), json_array_get(b, i), depth);
        if (rc != TP_OK)
            return rc;
    }
    return TP_OK;
}

static tp_err diff_value(struct differ *d, const json_t *a, const json_t *b, unsigned depth)
{
    const char *path = d->path.data;
    enum jclass ca, cb;
    int same;

    if (dropped(d, path))
        return TP_OK;
    if (!a || !b) {
        if (!a && !b)
            return TP_OK;
        return add_mismatch(d, a ? TP_MM_REMOVED : TP_MM_ADDED, path, a, b);
    }
    if (depth > DIFF_MAX_DEPTH)
        return TP_ERR_LIMIT;
    ca = jclass_of(a);
    cb = jclass_of(b);
    if (ca != cb)
        return add_mismatch(d, TP_MM_TYPE_CHANGED, path, a, b);
    switch (ca) {
    case J_OBJECT:
        return diff_object(d, a, b, depth);
    case J_ARRAY:
        return diff_array(d, a, b, depth);
    case J_STRING:
        same = json_string_length(a) == json_string_length(b) &&
               memcmp(json_string_value(a), json_string_value(b), json_string_length(a)) == 0;
        break;
    case J_NUMBER:
        same = numbers_equal(a, b);
        break;
    case J_BOOLEAN:
        same = json_typeof(a) == json_typeof(b);
        break;
    default:
        same = 1;
        break;
    }
    return same ? TP_OK : add_mismatch(d, TP_MM_VALUE_CHANGED, path, a, b);
}

/* Structural diff from "$" into d (whose skip/noise/keep are set). */
static tp_err diff_root(struct differ *d, const json_t *base, const json_t *cand)
{
    tp_err rc;

    if (tp_strbuf_str(&d->path, "$"))
        return TP_ERR_NOMEM;
    rc = diff_value(d, base, cand, 0);
    free(d->path.data);
    memset(&d->path, 0, sizeof d->path);
    return rc;
}

tp_err tp_diff_json(const json_t *base, const json_t *cand, const struct tp_pathset *skip,
                    struct tp_mismatches *out)
{
    struct differ d = DIFFER(out, TP_MISMATCHES_KEEP, NULL, NULL, NULL);
    d.skip = skip;
    return diff_root(&d, base, cand);
}

/* 1 when a and b differ as JSON values (numbers by value). */
static int values_differ(const json_t *a, const json_t *b, tp_err *rc)
{
    struct tp_mismatches probe = {NULL, 0, 0, 0};
    struct differ d = DIFFER(&probe, 0, NULL, NULL, NULL);

    size_t total;

    *rc = diff_root(&d, a, b);
    total = probe.total;
    tp_mismatches_clear(&probe);
    return total > 0;
}

/* ---- alignment ---------------------------------------------------------------- */

/* Whether element i of one sequence and element j of the other are the same. */
typedef int (*same_fn)(const void *ctx, size_t i, size_t j);

/* Myers' O((N+M)D) shortest edit script over a[a0..a1) and b[b0..b1), which
 * share neither their first nor their last element: sets match[i] for each
 * element of a kept in the longest common subsequence. Gives up (returns 0,
 * match untouched) past TP_DIFF_MAX_EDITS edits or when *work runs out.
 * trace row d holds the furthest x of each diagonal k = -d..d (at d*d + k + d). */
static int myers(size_t a0, size_t a1, size_t b0, size_t b1, same_fn same, const void *ctx,
                 size_t *work, size_t *match, tp_err *rc)
{
    ptrdiff_t n = (ptrdiff_t)(a1 - a0), m = (ptrdiff_t)(b1 - b0), d, k, x, y, found = -1;
    ptrdiff_t max_d = n + m < TP_DIFF_MAX_EDITS ? n + m : TP_DIFF_MAX_EDITS;
    int32_t *v = NULL;
    size_t cap = 0;

    *rc = TP_OK;
    if (n > INT32_MAX || m > INT32_MAX)
        return 0;
    for (d = 0; d <= max_d && found < 0; d++) {
        size_t need = (size_t)(d + 1) * (size_t)(d + 1);
        int32_t *row, *prev;
        if (need > cap) {
            int32_t *p = realloc(v, (need + need / 2) * sizeof *p);
            if (!p) {
                free(v);
                *rc = TP_ERR_NOMEM;
                return 0;
            }
            v = p;
            cap = need + need / 2;
        }
        row = v + d * d + d;                    /* row[k], k = -d..d */
        prev = d ? v + (d - 1) * (d - 1) + d - 1 : NULL;
        for (k = -d; k <= d && found < 0; k += 2) {
            if (d == 0)
                x = 0;
            else if (k == -d || (k != d && prev[k - 1] < prev[k + 1]))
                x = prev[k + 1];     /* down: an element only b has */
            else
                x = prev[k - 1] + 1; /* right: an element only a has */
            y = x - k;
            for (; x < n && y < m && *work > 0 && same(ctx, a0 + (size_t)x, b0 + (size_t)y);
                 x++, y++)
                (*work)--;
            row[k] = (int32_t)x;
            if (x >= n && y >= m)
                found = d;
        }
        if (*work <= (size_t)(2 * d + 1))
            break;
        *work -= (size_t)(2 * d + 1);
    }
    if (found >= 0) {
        x = n;
        y = m;
        for (d = found; d > 0; d--) {
            int32_t *prev = v + (d - 1) * (d - 1) + d - 1;
            ptrdiff_t pk, px, mx;
            k = x - y;
            pk = (k == -d || (k != d && prev[k - 1] < prev[k + 1])) ? k + 1 : k - 1;
            px = prev[pk];
            mx = pk == k + 1 ? px : px + 1; /* where the edit ends, the snake starts */
            for (; x > mx; x--, y--)
                match[a0 + (size_t)x - 1] = b0 + (size_t)y - 1;
            x = px;
            y = px - pk;
        }
        for (; x > 0; x--, y--)
            match[a0 + (size_t)x - 1] = b0 + (size_t)y - 1;
    }
    free(v);
    return found >= 0;
}

/* Pairs the elements of two sequences of n and m: match[i] is the element of the
 * second paired with element i of the first, or SIZE_MAX. The common head and
 * tail, then a longest common subsequence between them (Myers); when that needs
 * more than TP_DIFF_MAX_EDITS edits or more comparisons than *work has left,
 * the middle is paired by position (those that are the same). */
static tp_err align(size_t n, size_t m, same_fn same, const void *ctx, size_t *work,
                    size_t *match)
{
    size_t head = 0, tail = 0;
    tp_err rc;

    for (size_t i = 0; i < n; i++)
        match[i] = SIZE_MAX;
    for (; head < n && head < m && same(ctx, head, head); head++)
        match[head] = head;
    for (; tail < n - head && tail < m - head && same(ctx, n - 1 - tail, m - 1 - tail); tail++)
        match[n - 1 - tail] = m - 1 - tail;
    if (head + tail == n || head + tail == m)
        return TP_OK;
    if (myers(head, n - tail, head, m - tail, same, ctx, work, match, &rc) || rc != TP_OK)
        return rc;
    for (size_t i = head; i < n - tail && i < m - tail; i++)
        if (same(ctx, i, i))
            match[i] = i;
    return TP_OK;
}

/* One run of unpaired elements: a[*i..) up to the next paired one, and b[*j..) up
 * to its partner. Advances *i and *j over the paired elements before it; returns
 * 0 when both sequences are done. */
static int next_gap(const size_t *match, size_t n, size_t m, size_t *i, size_t *j, size_t *i_end,
                    size_t *j_end)
{
    for (; *i < n && match[*i] == *j; (*i)++, (*j)++)
        ;
    if (*i >= n && *j >= m)
        return 0;
    for (*i_end = *i; *i_end < n && match[*i_end] == SIZE_MAX; (*i_end)++)
        ;
    *j_end = *i_end < n ? match[*i_end] : m;
    return 1;
}

/* ---- text bodies --------------------------------------------------------------- */

struct line {
    const char *s;
    size_t len; /* without the "\n" */
    uint64_t hash;
};

/* The lines of s (a last one without "\n" counts); *out new. TP_ERR_LIMIT past
 * TP_DIFF_MAX_LINES. */
static tp_err split_lines(const char *s, size_t len, struct line **out, size_t *count)
{
    size_t n = 0, i = 0;
    struct line *lines;

    for (size_t k = 0; k < len; k++)
        n += s[k] == '\n';
    n += len > 0 && s[len - 1] != '\n';
    *out = NULL;
    *count = n;
    if (n > TP_DIFF_MAX_LINES)
        return TP_ERR_LIMIT;
    if (!(lines = calloc(n + 1, sizeof *lines)))
        return TP_ERR_NOMEM;
    for (size_t start = 0; start < len; i++) {
        const char *nl = memchr(s + start, '\n', len - start);
        size_t end = nl ? (size_t)(nl - s) : len;
        lines[i].s = s + start;
        lines[i].len = end - start;
        lines[i].hash = tp_hash_bytes(TP_HASH_OFFSET, s + start, end - start);
        start = end + 1;
    }
    *out = lines;
    return TP_OK;
}

struct line_pair {
    const struct line *a, *b;
};

static int same_line(const void *ctx, size_t i, size_t j)
{
    const struct line_pair *p = ctx;
    const struct line *x = &p->a[i], *y = &p->b[j];
    return x->hash == y->hash && x->len == y->len && memcmp(x->s, y->s, x->len) == 0;
}

static tp_err line_mismatch(struct differ *d, enum tp_mismatch_kind kind, size_t number,
                            size_t after, const struct line *a, const struct line *b)
{
    char path[64];

    if (text_ignored(d, a ? a->s : NULL, a ? a->len : 0) ||
        text_ignored(d, b ? b->s : NULL, b ? b->len : 0))
        return TP_OK;
    if (kind == TP_MM_LINE_ADDED)
        snprintf(path, sizeof path, "line %zu+%zu", number, after);
    else
        snprintf(path, sizeof path, "line %zu", number);
    return add_bytes_mismatch(d, kind, path, a ? a->s : NULL, a ? a->len : 0, b ? b->s : NULL,
                              b ? b->len : 0);
}

/* The summary kept for bodies no line diff is made for (binary, too many lines):
 * one TP_MM_TEXT at "body". */
static tp_err text_summary(struct differ *d, const char *base, size_t base_len, size_t bl,
                           const char *cand, size_t cand_len, size_t cl)
{
    char bt[96], ct[160];
    size_t i, line = 1;

    for (i = 0; i < base_len && i < cand_len && base[i] == cand[i]; i++)
        if (base[i] == '\n')
            line++;
    snprintf(bt, sizeof bt, "%zu line%s", bl, bl == 1 ? "" : "s");
    snprintf(ct, sizeof ct, "%zu line%s, first difference at line %zu", cl, cl == 1 ? "" : "s",
             line);
    return add_text_mismatch(d, TP_MM_TEXT, "body", bt, ct);
}

/* Line diff: each run of lines only one side has is reported line by line,
 * pairs first (line_changed), then the rest (line_removed, line_added). */
static tp_err text_diff(struct differ *d, const char *base, size_t base_len, const char *cand,
                        size_t cand_len)
{
    struct line *a = NULL, *b = NULL;
    size_t n = 0, m = 0, i = 0, j = 0, i_end, j_end, *match = NULL;
    struct line_pair ctx;
    tp_err rc, rc2;

    if (!base)
        base_len = 0;
    if (!cand)
        cand_len = 0;
    if (base_len == cand_len && (base_len == 0 || memcmp(base, cand, base_len) == 0))
        return TP_OK;
    rc = split_lines(base, base_len, &a, &n);
    rc2 = split_lines(cand, cand_len, &b, &m);
    if (rc == TP_ERR_NOMEM || rc2 == TP_ERR_NOMEM)
        rc = TP_ERR_NOMEM;
    else if (rc != TP_OK || rc2 != TP_OK || memchr(base, '\0', base_len) ||
             memchr(cand, '\0', cand_len))
        rc = text_summary(d, base, base_len, n, cand, cand_len, m);
    else if (!(match = calloc(n + 1, sizeof *match)))
        rc = TP_ERR_NOMEM;
    else {
        ctx.a = a;
        ctx.b = b;
        rc = align(n, m, same_line, &ctx, &d->work, match);
        while (rc == TP_OK && next_gap(match, n, m, &i, &j, &i_end, &j_end)) {
            size_t k = 0;
            for (; rc == TP_OK && i + k < i_end && j + k < j_end; k++)
                rc = line_mismatch(d, TP_MM_LINE_CHANGED, i + k + 1, 0, &a[i + k], &b[j + k]);
            for (size_t r = k; rc == TP_OK && i + r < i_end; r++)
                rc = line_mismatch(d, TP_MM_LINE_REMOVED, i + r + 1, 0, &a[i + r], NULL);
            for (size_t r = k; rc == TP_OK && j + r < j_end; r++)
                rc = line_mismatch(d, TP_MM_LINE_ADDED, i_end, r - k + 1, NULL, &b[j + r]);
            i = i_end;
            j = j_end;
        }
    }
    free(a);
    free(b);
    free(match);
    return rc;
}

tp_err tp_diff_text(const char *base, size_t base_len, const char *cand, size_t cand_len,
                    struct tp_mismatches *out)
{
    struct differ d = DIFFER(out, TP_MISMATCHES_KEEP, NULL, NULL, NULL);
    return text_diff(&d, base, base_len, cand, cand_len);
}

/* ---- HTML and XML bodies -------------------------------------------------------- */

/* The two documents (doctree.h), walked side by side from their roots. */
struct markup {
    struct differ *d;
    struct tp_doctree t[2]; /* base, candidate */
};

/* A node only one side has (side 0: removed, 1: added), below the current path. */
static tp_err node_only(struct markup *h, int side, size_t x)
{
    struct differ *d = h->d;
    const struct tp_doctree *t = &h->t[side];
    size_t mark = d->path.len;
    struct tp_strbuf v = {NULL, 0, 0};
    char *value = NULL;
    int record = 0;
    tp_err rc = TP_OK;

    if (tp_doctree_selected(t, t->n[x].node) ||
        (t->n[x].is_text && text_ignored(d, t->texts.data + t->n[x].text, t->n[x].len)))
        return TP_OK;
    if (tp_doctree_add_step(&d->path, t, x))
        return TP_ERR_NOMEM;
    rc = admit(d, d->path.data, &record);
    if (rc == TP_OK && record) {
        if (tp_doctree_add_value(&v, t, x) || !(value = bytes_text(v.data ? v.data : "", v.len)))
            rc = TP_ERR_NOMEM;
        else
            rc = push(d, side ? TP_MM_NODE_ADDED : TP_MM_NODE_REMOVED, d->path.data,
                      side ? NULL : value, side ? value : NULL);
    }
    tp_strbuf_free(&v);
    tp_strbuf_cut(&d->path, mark);
    return rc;
}

/* The attributes of two paired elements, at PATH/@name. */
static tp_err diff_attrs(struct markup *h, xmlNodePtr a, xmlNodePtr b)
{
    struct differ *d = h->d;
    size_t mark = d->path.len;
    tp_err rc = TP_OK;

    for (int side = 0; side < 2 && rc == TP_OK; side++) {
        xmlNodePtr self = side ? b : a, other = side ? a : b;
        for (xmlAttrPtr x = self->properties; x && rc == TP_OK; x = x->next) {
            xmlAttrPtr y = xmlHasProp(other, x->name);
            xmlChar *ox = NULL, *oy = NULL;
            const char *vx, *vy = NULL;
            if ((side && y) || tp_doctree_selected(&h->t[side], x) ||
                (y && tp_doctree_selected(&h->t[!side], y)))
                continue; /* pairs are compared from the base side */
            vx = tp_doctree_attr_value(x, &ox);
            if (!vx || (y && !(vy = tp_doctree_attr_value(y, &oy))))
                rc = TP_ERR_NOMEM;
            else if ((!y || strcmp(vx, vy) != 0) &&
                     tp_strbuf_addf(&d->path, "/@%s", (const char *)x->name))
                rc = TP_ERR_NOMEM;
            else if (!y)
                rc = add_bytes_mismatch(d, side ? TP_MM_NODE_ADDED : TP_MM_NODE_REMOVED,
                                        d->path.data, side ? NULL : vx, strlen(vx),
                                        side ? vx : NULL, strlen(vx));
            else if (strcmp(vx, vy) != 0)
                rc = add_bytes_mismatch(d, TP_MM_NODE_CHANGED, d->path.data, vx, strlen(vx), vy,
                                        strlen(vy));
            tp_strbuf_cut(&d->path, mark);
            xmlFree(ox);
            xmlFree(oy);
        }
    }
    return rc;
}

struct kids {
    const struct markup *h;
    size_t a, b; /* first child of each side */
};

static int same_subtree(const void *ctx, size_t i, size_t j)
{
    const struct kids *k = ctx;
    return k->h->t[0].n[k->a + i].hash == k->h->t[1].n[k->b + j].hash;
}

static int same_kind(const void *ctx, size_t i, size_t j)
{
    const struct kids *k = ctx;
    return tp_doctree_same_kind(&k->h->t[0], k->a + i, &k->h->t[1], k->b + j);
}

static tp_err diff_node(struct markup *h, size_t a, size_t b);

/* Two paired texts. */
static tp_err diff_texts(struct markup *h, size_t a, size_t b)
{
    struct differ *d = h->d;
    const struct tp_docnode *x = &h->t[0].n[a], *y = &h->t[1].n[b];
    const char *tx = h->t[0].texts.data + x->text, *ty = h->t[1].texts.data + y->text;
    size_t mark = d->path.len;
    tp_err rc;

    if (x->hash == y->hash || tp_doctree_selected(&h->t[0], x->node) ||
        tp_doctree_selected(&h->t[1], y->node) || text_ignored(d, tx, x->len) ||
        text_ignored(d, ty, y->len))
        return TP_OK;
    if (tp_doctree_add_step(&d->path, &h->t[0], a))
        return TP_ERR_NOMEM;
    rc = add_bytes_mismatch(d, TP_MM_NODE_CHANGED, d->path.data, tx, x->len, ty, y->len);
    tp_strbuf_cut(&d->path, mark);
    return rc;
}

/* Children a[i..i_end) and b[j..j_end) between two identical ones: paired by
 * kind (texts, or elements of one name) and compared; the rest are removed or
 * added. */
static tp_err diff_gap(struct markup *h, const struct kids *k, size_t i, size_t i_end, size_t j,
                       size_t j_end)
{
    struct kids g = {h, k->a + i, k->b + j};
    size_t n = i_end - i, m = j_end - j, p = 0, q = 0, p_end, q_end;
    size_t *match = calloc(n + 1, sizeof *match);
    tp_err rc;

    if (!match)
        return TP_ERR_NOMEM;
    rc = align(n, m, same_kind, &g, &h->d->work, match);
    while (rc == TP_OK && (p < n || q < m)) {
        if (p < n && match[p] == q) {
            rc = h->t[0].n[g.a + p].is_text ? diff_texts(h, g.a + p, g.b + q)
                                            : diff_node(h, g.a + p, g.b + q);
            p++;
            q++;
            continue;
        }
        for (p_end = p; p_end < n && match[p_end] == SIZE_MAX; p_end++)
            ;
        q_end = p_end < n ? match[p_end] : m;
        for (; rc == TP_OK && p < p_end; p++)
            rc = node_only(h, 0, g.a + p);
        for (; rc == TP_OK && q < q_end; q++)
            rc = node_only(h, 1, g.b + q);
    }
    free(match);
    return rc;
}

/* The children of two paired nodes: identical subtrees pair first (so one
 * inserted element shifts nothing), the gaps between them are diffed. */
static tp_err diff_children(struct markup *h, size_t a, size_t b)
{
    struct kids k = {h, h->t[0].n[a].first, h->t[1].n[b].first};
    size_t n = h->t[0].n[a].count, m = h->t[1].n[b].count, i = 0, j = 0, i_end, j_end;
    size_t *match = calloc(n + 1, sizeof *match);
    tp_err rc;

    if (!match)
        return TP_ERR_NOMEM;
    rc = align(n, m, same_subtree, &k, &h->d->work, match);
    while (rc == TP_OK && next_gap(match, n, m, &i, &j, &i_end, &j_end)) {
        rc = diff_gap(h, &k, i, i_end, j, j_end);
        i = i_end;
        j = j_end;
    }
    free(match);
    return rc;
}

/* Two paired elements (or the two documents, at index 0). */
static tp_err diff_node(struct markup *h, size_t a, size_t b)
{
    struct differ *d = h->d;
    const struct tp_docnode *x = &h->t[0].n[a], *y = &h->t[1].n[b];
    size_t mark = d->path.len;
    tp_err rc = TP_OK;

    if (x->hash == y->hash || tp_doctree_selected(&h->t[0], x->node) ||
        tp_doctree_selected(&h->t[1], y->node))
        return TP_OK;
    if (a > 0 && tp_doctree_add_step(&d->path, &h->t[0], a))
        return TP_ERR_NOMEM;
    if (!(a > 0 && tp_pathset_covers(d->noise, d->path.data))) {
        if (a > 0)
            rc = diff_attrs(h, x->node, y->node);
        if (rc == TP_OK)
            rc = diff_children(h, a, b);
    }
    tp_strbuf_cut(&d->path, mark);
    return rc;
}

/* Parses r's body into its markup cache, through the XPath source so that
 * extract.c's one parser decides (media type, charset, HTML or XML) as it does
 * for captures. Leaves r->xml_state 1 when there is a document. */
static tp_err parse_markup(struct tp_response *r)
{
    struct tp_source src;
    struct tp_value v = {NULL, 0};
    struct tp_error err;
    tp_err rc;

    if (r->xml_state != 0)
        return TP_OK;
    memset(&src, 0, sizeof src);
    tp_error_clear(&err);
    rc = tp_source_compile(&src, TP_SRC_XPATH, "1", &err);
    if (rc == TP_OK)
        rc = tp_source_eval(&src, r, &v, &err);
    tp_value_clear(&v);
    tp_source_clear(&src);
    return rc == TP_ERR_NOMEM ? rc : TP_OK;
}

/* When both bodies are documents: compares them (*done = 1). A body that is
 * not, or a document past the bounds, leaves *done 0 (compare by line). A
 * document parsed here is dropped again after. */
static tp_err markup_diff(struct differ *d, struct tp_response *a, struct tp_response *b,
                          int *done)
{
    struct markup h;
    int parsed_a = a->xml_state == 0, parsed_b = b->xml_state == 0;
    tp_err rc = parse_markup(a);

    *done = 0;
    memset(&h, 0, sizeof h);
    h.d = d;
    if (rc == TP_OK && a->xml_state == 1)
        rc = parse_markup(b);
    if (rc == TP_OK && a->xml_state == 1 && b->xml_state == 1) {
        void *const *xpaths = d->cmp ? d->cmp->ignore_xpath : NULL;
        size_t nxpaths = d->cmp ? d->cmp->nignore_xpath : 0;
        rc = tp_doctree_build(&h.t[0], a->xml_doc, xpaths, nxpaths);
        if (rc == TP_OK)
            rc = tp_doctree_build(&h.t[1], b->xml_doc, xpaths, nxpaths);
        if (rc == TP_OK) {
            *done = 1;
            rc = diff_node(&h, 0, 0);
        } else if (rc == TP_ERR_LIMIT) {
            rc = TP_OK;
        }
    }
    tp_doctree_clear(&h.t[0]);
    tp_doctree_clear(&h.t[1]);
    if (parsed_a)
        tp_response_drop_markup(a);
    if (parsed_b)
        tp_response_drop_markup(b);
    return rc;
}

/* ---- steps -------------------------------------------------------------------- */

/* Failure classes after which there is no response worth comparing. */
static int has_response(enum tp_failure f)
{
    return f == TP_FAIL_NONE || f == TP_FAIL_HTTP || f == TP_FAIL_ASSERTION || f == TP_FAIL_CAPTURE;
}

static tp_err compare_assertions(struct differ *d, const struct tp_step_eval *a,
                                 const struct tp_step_eval *b)
{
    size_t n = a->nassertions < b->nassertions ? a->nassertions : b->nassertions;
    tp_err rc = TP_OK;

    /* The same step yields the same assertions in the same order; pair by index
     * and leave out any pair whose sources disagree (not the same expectation). */
    for (size_t i = 0; i < n && rc == TP_OK; i++) {
        const struct tp_assertion *x = &a->assertions[i], *y = &b->assertions[i];
        if (!x->source || !y->source || strcmp(x->source, y->source) != 0)
            continue;
        if (!x->ok != !y->ok)
            rc = add_mismatch(d, TP_MM_ASSERTION, x->source, json_boolean(x->ok),
                              json_boolean(y->ok));
    }
    return rc;
}

static tp_err capture_mismatch(struct differ *d, const char *name, const json_t *a, const json_t *b)
{
    struct tp_strbuf path = {NULL, 0, 0};
    tp_err rc;

    if (tp_strbuf_str(&path, "capture ") || tp_strbuf_str(&path, name)) {
        free(path.data);
        return TP_ERR_NOMEM;
    }
    rc = add_mismatch(d, TP_MM_CAPTURE, path.data, a, b);
    free(path.data);
    return rc;
}

static tp_err compare_captures(struct differ *d, json_t *a, json_t *b)
{
    const char *name;
    json_t *v, *w;
    tp_err rc = TP_OK;

    json_object_foreach (a, name, v) {
        w = json_object_get(b, name);
        if (w) {
            int changed = values_differ(v, w, &rc);
            if (rc != TP_OK)
                return rc;
            if (!changed)
                continue;
        }
        if ((rc = capture_mismatch(d, name, v, w)) != TP_OK)
            return rc;
    }
    json_object_foreach (b, name, w) {
        if (!json_object_get(a, name) && (rc = capture_mismatch(d, name, NULL, w)))
            return rc;
    }
    return TP_OK;
}

static tp_err compare_headers(struct differ *d, const struct tp_compare *cmp,
                              const struct tp_response *a, const struct tp_response *b)
{
    tp_err rc = TP_OK;

    for (size_t i = 0; cmp && i < cmp->nheaders && rc == TP_OK; i++) {
        const char *name = cmp->headers[i];
        const char *x = tp_response_header(a, name), *y = tp_response_header(b, name);
        struct tp_strbuf path = {NULL, 0, 0};

        if ((!x && !y) || (x && y && strcmp(x, y) == 0))
            continue;
        if (tp_strbuf_str(&path, "header ") || tp_strbuf_str(&path, name)) {
            free(path.data);
            return TP_ERR_NOMEM;
        }
        for (size_t k = 7; k < path.len; k++)
            if (path.data[k] >= 'A' && path.data[k] <= 'Z')
                path.data[k] = (char)(path.data[k] - 'A' + 'a');
        rc = add_text_mismatch(d, TP_MM_HEADER, path.data, x, y);
        free(path.data);
    }
    return rc;
}

static tp_err compare_bodies(struct differ *d, const struct tp_compare *cmp, struct tp_response *a,
                             struct tp_response *b)
{
    struct tp_pathset skip = {0};
    json_t *ja = tp_response_json(a), *jb = tp_response_json(b);
    tp_err rc;

    if ((!ja && a->json_state == 0) || (!jb && b->json_state == 0))
        return TP_ERR_NOMEM;
    if (!ja || !jb) {
        int done;
        rc = markup_diff(d, a, b, &done);
        if (rc != TP_OK || done)
            return rc;
        return text_diff(d, a->body, a->body_len, b->body, b->body_len);
    }
    rc = cmp ? tp_diff_resolve(cmp->ignore, cmp->nignore, ja, &skip) : TP_OK;
    if (rc == TP_OK && cmp)
        rc = tp_diff_resolve(cmp->ignore, cmp->nignore, jb, &skip);
    if (rc == TP_OK) {
        d->skip = &skip;
        rc = diff_root(d, ja, jb);
        d->skip = NULL;
    }
    tp_pathset_clear(&skip);
    return rc;
}

static tp_err diff_steps(struct differ *d, struct tp_step_result *base, struct tp_step_result *cand,
                         const struct tp_compare *cmp)
{
    tp_err rc = TP_OK;

    if (!base || !cand || base->skipped || cand->skipped)
        return TP_OK;
    if (base->failure != cand->failure)
        rc = add_text_mismatch(d, TP_MM_FAILURE, "failure", tp_failure_name(base->failure),
                               tp_failure_name(cand->failure));
    if (rc != TP_OK || !has_response(base->failure) || !has_response(cand->failure))
        return rc;
    if (base->response.status != cand->response.status) {
        json_t *x = json_integer(base->response.status), *y = json_integer(cand->response.status);
        rc = x && y ? add_mismatch(d, TP_MM_STATUS, "status", x, y) : TP_ERR_NOMEM;
        json_decref(x);
        json_decref(y);
    }
    if (rc == TP_OK)
        rc = compare_assertions(d, &base->eval, &cand->eval);
    if (rc == TP_OK)
        rc = compare_captures(d, base->eval.captures, cand->eval.captures);
    if (rc == TP_OK)
        rc = compare_headers(d, cmp, &base->response, &cand->response);
    if (rc == TP_OK)
        rc = compare_bodies(d, cmp, &base->response, &cand->response);
    return rc;
}

tp_err tp_diff_step(struct tp_step_result *base, struct tp_step_result *cand,
                    const struct tp_compare *cmp, const struct tp_pathset *noise,
                    struct tp_mismatches *out)
{
    struct differ d = DIFFER(out, TP_MISMATCHES_KEEP, noise, cmp, NULL);
    tp_err rc = diff_steps(&d, base, cand, cmp);
    tp_strbuf_free(&d.path);
    return rc;
}

tp_err tp_diff_learn(struct tp_step_result *base, struct tp_step_result *base2,
                     const struct tp_compare *cmp, struct tp_pathset *noise)
{
    struct tp_mismatches none = {NULL, 0, 0, 0};
    struct differ d = DIFFER(&none, 0, noise, cmp, noise);
    tp_err rc;

    /* A baseline that failed differently the second time says nothing about which
     * fields are volatile; learning from it would hide real changes (a "body" or
     * "status" entry silences every later comparison of the step). */
    if (!noise || !base || !base2 || base->skipped || base2->skipped ||
        base->failure != base2->failure)
        return TP_OK;
    /* What is known already is not found again: noise both drops and learns. */
    rc = diff_steps(&d, base, base2, cmp);
    tp_strbuf_free(&d.path);
    return rc;
}
