/* Functional comparison of a step's two results: failure class, status,
 * assertion outcomes, captures, named headers and the body (JSON structurally,
 * anything else as a line summary). Mismatches carry RFC 9535 normalized paths
 * and compact JSON values. Pure: no I/O. */
#include "twinprobe/diff.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "twinprobe/strbuf.h"

#include "twinprobe/extract.h"
#include "twinprobe/utf8.h"

#define VALUE_MAX 200 /* bytes of a mismatch value kept before the "…" */
#define ELLIPSIS "\xE2\x80\xA6"
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
};

const char *tp_mismatch_kind_name(enum tp_mismatch_kind k)
{
    if ((size_t)k >= sizeof kind_names / sizeof kind_names[0] || !kind_names[k])
        return "unknown";
    return kind_names[k];
}

/* ---- growable text ------------------------------------------------------- */


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

struct capped {
    struct tp_strbuf b;
    int truncated;
};

static int dump_cb(const char *buffer, size_t size, void *data)
{
    struct capped *c = data;
    size_t room = VALUE_MAX + 4 - c->b.len; /* a little past the cap, to cut on UTF-8 */

    if (size > room) {
        c->truncated = 1;
        size = room;
    }
    if (tp_strbuf_add(&c->b, buffer, size))
        return -1;
    return c->truncated ? -1 : 0; /* stop the encoder once past the cap */
}

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

/* v as compact JSON, cut to VALUE_MAX bytes (on a UTF-8 boundary) plus "…".
 * New string; NULL when out of memory. */
static char *value_text(const json_t *v)
{
    struct capped c = {{NULL, 0, 0}, 0};
    int rc;

    if (json_is_real(v))
        return real_text(json_real_value(v));
    rc = json_dump_callback(v, dump_cb, &c, JSON_ENCODE_ANY | JSON_COMPACT);
    if (rc != 0 && !c.truncated) {
        free(c.b.data);
        return NULL;
    }
    if (c.b.len > VALUE_MAX) {
        tp_strbuf_cut(&c.b, tp_utf8_clip(c.b.data, VALUE_MAX));
        if (tp_strbuf_str(&c.b, ELLIPSIS)) {
            free(c.b.data);
            return NULL;
        }
    }
    if (!c.b.data)
        return strdup("");
    return c.b.data;
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

tp_err tp_pathset_add(struct tp_pathset *s, const char *path)
{
    char *copy;

    if (!s || !path)
        return TP_ERR_INVALID;
    for (size_t i = 0; i < s->count; i++)
        if (strcmp(s->items[i], path) == 0)
            return TP_OK;
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
    s->items[s->count++] = copy;
    return TP_OK;
}

/* member covers path: equal, or member is a JSON path and path continues below
 * it with another segment. Normalized paths escape every quote inside a name, so
 * a member that ends on "]" is a whole segment sequence and this is exact. */
static int path_covers(const char *member, const char *path)
{
    size_t n = strlen(member);

    if (strncmp(member, path, n) != 0)
        return 0;
    if (path[n] == '\0')
        return 1;
    return member[0] == '$' && path[0] == '$' && path[n] == '[';
}

int tp_pathset_covers(const struct tp_pathset *s, const char *path)
{
    if (!s || !path)
        return 0;
    for (size_t i = 0; i < s->count; i++)
        if (path_covers(s->items[i], path))
            return 1;
    return 0;
}

void tp_pathset_clear(struct tp_pathset *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->count; i++)
        free(s->items[i]);
    free(s->items);
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
    struct tp_strbuf path;                /* the JSON path being compared */
};

static int dropped(const struct differ *d, const char *path)
{
    return tp_pathset_covers(d->skip, path) || tp_pathset_covers(d->noise, path);
}

/* Records one mismatch (unless noise covers its path): counted always, kept
 * while there is room. base/cand are borrowed; NULL means absent. */
static tp_err add_mismatch(struct differ *d, enum tp_mismatch_kind kind, const char *path,
                           const json_t *base, const json_t *cand)
{
    struct tp_mismatches *m = d->out;
    struct tp_mismatch mm = {kind, NULL, NULL, NULL};

    if (tp_pathset_covers(d->noise, path))
        return TP_OK;
    m->total++;
    if (m->count >= d->keep)
        return TP_OK;
    if (m->count == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 8;
        struct tp_mismatch *p;
        if (cap > SIZE_MAX / sizeof *p || !(p = realloc(m->items, cap * sizeof *p)))
            return TP_ERR_NOMEM;
        m->items = p;
        m->cap = cap;
    }
    mm.path = strdup(path);
    mm.base = base ? value_text(base) : NULL;
    mm.cand = cand ? value_text(cand) : NULL;
    if (!mm.path || (base && !mm.base) || (cand && !mm.cand)) {
        free(mm.path);
        free(mm.base);
        free(mm.cand);
        return TP_ERR_NOMEM;
    }
    m->items[m->count++] = mm;
    return TP_OK;
}

/* A mismatch whose values are short texts (JSON strings), e.g. header values. */
static tp_err add_text_mismatch(struct differ *d, enum tp_mismatch_kind kind, const char *path,
                                const char *base, const char *cand)
{
    json_t *b = base ? tp_value_string(base, strlen(base)) : NULL;
    json_t *c = cand ? tp_value_string(cand, strlen(cand)) : NULL;
    tp_err rc = TP_ERR_NOMEM;

    if ((!base || b) && (!cand || c))
        rc = add_mismatch(d, kind, path, b, c);
    json_decref(b);
    json_decref(c);
    return rc;
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
    struct differ d = {out, TP_MISMATCHES_KEEP, skip, NULL, {NULL, 0, 0}};
    return diff_root(&d, base, cand);
}

/* 1 when a and b differ as JSON values (numbers by value). */
static int values_differ(const json_t *a, const json_t *b, tp_err *rc)
{
    struct tp_mismatches probe = {NULL, 0, 0, 0};
    struct differ d = {&probe, 0, NULL, NULL, {NULL, 0, 0}};

    size_t total;

    *rc = diff_root(&d, a, b);
    total = probe.total;
    tp_mismatches_clear(&probe);
    return total > 0;
}

/* ---- text bodies --------------------------------------------------------------- */

static size_t count_lines(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        if (s[i] == '\n')
            n++;
    return n + (len > 0 && s[len - 1] != '\n'); /* a last line without its newline */
}

static tp_err text_diff(struct differ *d, const char *base, size_t base_len, const char *cand,
                        size_t cand_len)
{
    char bt[96], ct[160];
    size_t i, bl, cl, line = 1;

    if (!base)
        base_len = 0;
    if (!cand)
        cand_len = 0;
    if (base_len == cand_len && (base_len == 0 || memcmp(base, cand, base_len) == 0))
        return TP_OK;
    /* A cheap linear comparison, not an LCS: the first differing byte gives the
     * first differing line; a report needs where the bodies part, not an edit script. */
    for (i = 0; i < base_len && i < cand_len && base[i] == cand[i]; i++)
        if (base[i] == '\n')
            line++;
    bl = count_lines(base, base_len);
    cl = count_lines(cand, cand_len);
    snprintf(bt, sizeof bt, "%zu line%s", bl, bl == 1 ? "" : "s");
    snprintf(ct, sizeof ct, "%zu line%s, first difference at line %zu", cl, cl == 1 ? "" : "s",
             line);
    return add_text_mismatch(d, TP_MM_TEXT, "body", bt, ct);
}

tp_err tp_diff_text(const char *base, size_t base_len, const char *cand, size_t cand_len,
                    struct tp_mismatches *out)
{
    struct differ d = {out, TP_MISMATCHES_KEEP, NULL, NULL, {NULL, 0, 0}};
    return text_diff(&d, base, base_len, cand, cand_len);
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
    struct tp_pathset skip = {NULL, 0, 0};
    json_t *ja = tp_response_json(a), *jb = tp_response_json(b);
    tp_err rc;

    if ((!ja && a->json_state == 0) || (!jb && b->json_state == 0))
        return TP_ERR_NOMEM;
    if (!ja || !jb)
        return text_diff(d, a->body, a->body_len, b->body, b->body_len);
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
    struct differ d = {out, TP_MISMATCHES_KEEP, NULL, noise, {NULL, 0, 0}};
    return diff_steps(&d, base, cand, cmp);
}

tp_err tp_diff_learn(struct tp_step_result *base, struct tp_step_result *base2,
                     const struct tp_compare *cmp, struct tp_pathset *noise)
{
    struct tp_mismatches found = {NULL, 0, 0, 0};
    struct differ d = {&found, SIZE_MAX, NULL, NULL, {NULL, 0, 0}};
    tp_err rc;

    /* A baseline that failed differently the second time says nothing about which
     * fields are volatile; learning from it would hide real changes (a "body" or
     * "status" entry silences every later comparison of the step). */
    if (!base || !base2 || base->skipped || base2->skipped || base->failure != base2->failure)
        return TP_OK;
    d.noise = noise; /* what is known already is not found again */
    rc = diff_steps(&d, base, base2, cmp);
    for (size_t i = 0; i < found.count && rc == TP_OK; i++)
        rc = tp_pathset_add(noise, found.items[i].path);
    tp_mismatches_clear(&found);
    return rc;
}
