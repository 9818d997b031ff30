/* RFC 9535 JSONPath over jansson values. A recursive-descent parser compiles the
 * text once into a small AST (query -> segments -> selectors, filter expressions);
 * a tree walker evaluates it against documents. match() and search() take I-Regexp
 * patterns (RFC 9485, src/iregexp.c). No I/O. */
#include "twinprobe/jsonpath.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "twinprobe/iregexp.h"
#include "twinprobe/rematch.h"
#include "twinprobe/strbuf.h"
#include "twinprobe/utf8.h"

#define MAX_EXACT 9007199254740991LL /* 2^53 - 1: the I-JSON integer range */
#define MAX_PARAMS 2                 /* most parameters any function takes */

/* ---- syntax tree ---------------------------------------------------------- */

enum seg_kind { SEG_CHILD, SEG_DESCENDANT };
enum sel_kind { SEL_NAME, SEL_WILDCARD, SEL_INDEX, SEL_SLICE, SEL_FILTER };
enum expr_kind {
    EX_LITERAL, /* literal */
    EX_QUERY,   /* query */
    EX_FUNC,    /* fn(args) */
    EX_NOT,     /* !lhs */
    EX_AND,     /* args[0] && args[1] && ... */
    EX_OR,      /* args[0] || args[1] || ... */
    EX_CMP      /* lhs op rhs */
};
enum cmp_op { CMP_EQ, CMP_NE, CMP_LT, CMP_LE, CMP_GT, CMP_GE };
enum fn_type { T_VALUE, T_LOGICAL, T_NODES }; /* RFC 9535 §2.4.1 */
enum fn_regex { RE_NONE, RE_WHOLE, RE_ANYWHERE };

struct expr;

struct selector {
    enum sel_kind kind;
    char *name; /* SEL_NAME: decoded UTF-8, may hold NUL */
    size_t name_len;
    int64_t index;            /* SEL_INDEX */
    int64_t start, end, step; /* SEL_SLICE */
    int has_start, has_end;   /* SEL_SLICE: bounds given */
    struct expr *filter;      /* SEL_FILTER */
};

struct segment {
    enum seg_kind kind;
    struct selector *sels;
    size_t count, cap;
};

struct query {
    int relative; /* starts at @ rather than $ */
    int singular; /* only single name/index child segments: at most one node */
    struct segment *segs;
    size_t count, cap;
};

struct val;
struct evalctx;
struct func_def;

struct expr {
    enum expr_kind kind;
    size_t pos;                /* byte offset in the source, for messages */
    json_t *literal;           /* EX_LITERAL (owned) */
    struct query *query;       /* EX_QUERY */
    const struct func_def *fn; /* EX_FUNC */
    struct expr **args;        /* EX_FUNC arguments, EX_AND / EX_OR operands */
    size_t nargs, cap;
    tp_iregexp *re;         /* EX_FUNC regex function with a literal pattern */
    int re_invalid;         /* ... and that literal is not an I-Regexp */
    enum cmp_op op;         /* EX_CMP */
    struct expr *lhs, *rhs; /* EX_CMP operands, EX_NOT operand (lhs) */
};

struct tp_jsonpath {
    char *source;
    struct query *query;
};

/* ---- evaluation values and the function table ---------------------------- */

enum val_kind { V_NOTHING, V_JSON, V_LOGICAL, V_NODES };

struct val {
    enum val_kind kind;
    json_t *json;                   /* V_JSON */
    json_t *owned;                  /* reference held when a function made json */
    int logical;                    /* V_LOGICAL */
    struct tp_jsonpath_nodes nodes; /* V_NODES */
};

struct evalctx {
    json_t *root;
    tp_err rc; /* first failure: TP_ERR_NOMEM, TP_ERR_LIMIT */
    unsigned long regex_budget; /* match()/search() steps left (rematch.h) */
};

typedef void (*fn_impl)(struct evalctx *ctx, const struct expr *call, struct val *args,
                        struct val *out);

struct func_def {
    const char *name;
    enum fn_type result;
    size_t nparams;
    enum fn_type params[MAX_PARAMS];
    enum fn_regex regex; /* the second argument is an I-Regexp */
    fn_impl impl;
};

static void fn_count(struct evalctx *, const struct expr *, struct val *, struct val *);
static void fn_length(struct evalctx *, const struct expr *, struct val *, struct val *);
static void fn_match(struct evalctx *, const struct expr *, struct val *, struct val *);
static void fn_search(struct evalctx *, const struct expr *, struct val *, struct val *);
static void fn_value(struct evalctx *, const struct expr *, struct val *, struct val *);

/* RFC 9535 §2.4.4-2.4.8, sorted by name. */
static const struct func_def functions[] = {
    {"count", T_VALUE, 1, {T_NODES}, RE_NONE, fn_count},
    {"length", T_VALUE, 1, {T_VALUE}, RE_NONE, fn_length},
    {"match", T_LOGICAL, 2, {T_VALUE, T_VALUE}, RE_WHOLE, fn_match},
    {"search", T_LOGICAL, 2, {T_VALUE, T_VALUE}, RE_ANYWHERE, fn_search},
    {"value", T_VALUE, 1, {T_NODES}, RE_NONE, fn_value},
};

/* ---- small helpers -------------------------------------------------------- */


/* Room for one more element of size bytes in items (count used, *cap allocated).
 * Returns the (possibly moved) array, or NULL when out of memory (items intact). */
static void *grow(void *items, size_t count, size_t *cap, size_t size)
{
    size_t n;
    void *p;
    if (count < *cap)
        return items;
    n = *cap ? *cap * 2 : 4;
    if (n > SIZE_MAX / size)
        return NULL;
    p = realloc(items, n * size);
    if (p)
        *cap = n;
    return p;
}

static char *copy_bytes(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

static int is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static int is_alpha(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_blank(int c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int hex_value(int c)
{
    if (is_digit(c))
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* ---- node lists ------------------------------------------------------------ */

/* Appends value (borrowed) and path (taken; NULL when not wanted) to n.
 * Returns 0, or -1 when out of memory (path is freed). */
static int nodes_push(struct tp_jsonpath_nodes *n, json_t *value, char *path)
{
    if (n->count == n->cap) {
        size_t cap = n->cap ? n->cap * 2 : 8;
        json_t **values;
        if (cap > SIZE_MAX / sizeof *values)
            goto fail;
        values = realloc(n->values, cap * sizeof *values);
        if (!values)
            goto fail;
        n->values = values;
        if (n->paths) {
            char **paths = realloc(n->paths, cap * sizeof *paths);
            if (!paths)
                goto fail;
            n->paths = paths;
        }
        n->cap = cap;
    }
    if (path && !n->paths) {
        n->paths = calloc(n->cap, sizeof *n->paths);
        if (!n->paths)
            goto fail;
    }
    n->values[n->count] = value;
    if (n->paths)
        n->paths[n->count] = path;
    n->count++;
    return 0;
fail:
    free(path);
    return -1;
}

/* Drops entries from index keep on. */
static void nodes_truncate(struct tp_jsonpath_nodes *n, size_t keep)
{
    size_t i;
    if (n->paths)
        for (i = keep; i < n->count; i++)
            free(n->paths[i]);
    if (keep < n->count)
        n->count = keep;
}

void tp_jsonpath_nodes_clear(struct tp_jsonpath_nodes *nodes)
{
    if (!nodes)
        return;
    nodes_truncate(nodes, 0);
    free(nodes->paths);
    free(nodes->values);
    memset(nodes, 0, sizeof *nodes);
}

/* ---- freeing the tree ------------------------------------------------------ */

static void query_free(struct query *q);

static void expr_free(struct expr *e)
{
    size_t i;
    if (!e)
        return;
    json_decref(e->literal);
    query_free(e->query);
    for (i = 0; i < e->nargs; i++)
        expr_free(e->args[i]);
    free(e->args);
    tp_iregexp_free(e->re);
    expr_free(e->lhs);
    expr_free(e->rhs);
    free(e);
}

static void query_free(struct query *q)
{
    size_t i, j;
    if (!q)
        return;
    for (i = 0; i < q->count; i++) {
        struct segment *s = &q->segs[i];
        for (j = 0; j < s->count; j++) {
            free(s->sels[j].name);
            expr_free(s->sels[j].filter);
        }
        free(s->sels);
    }
    free(q->segs);
    free(q);
}

void tp_jsonpath_free(tp_jsonpath *q)
{
    if (!q)
        return;
    query_free(q->query);
    free(q->source);
    free(q);
}

const char *tp_jsonpath_source(const tp_jsonpath *q)
{
    return q ? q->source : NULL;
}

/* ---- parser ------------------------------------------------------------------ */

struct parser {
    const char *src;
    size_t len;
    size_t pos;
    int depth;            /* current nesting of expressions */
    tp_err rc;            /* first failure */
    size_t err_pos;       /* its byte offset */
    struct tp_error *err; /* may be NULL */
};

static tp_err fail(struct parser *p, size_t pos, tp_err code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

/* Records the first failure: code, where, and the message. */
static tp_err fail(struct parser *p, size_t pos, tp_err code, const char *fmt, ...)
{
    va_list ap;
    if (p->rc != TP_OK)
        return p->rc;
    p->rc = code;
    p->err_pos = pos;
    if (p->err) {
        va_start(ap, fmt);
        vsnprintf(p->err->text, sizeof p->err->text, fmt, ap);
        va_end(ap);
    }
    return code;
}

static tp_err nomem(struct parser *p)
{
    return fail(p, p->pos, TP_ERR_NOMEM, "out of memory");
}

static int peek_at(const struct parser *p, size_t off)
{
    return p->pos + off < p->len ? (unsigned char)p->src[p->pos + off] : -1;
}

static int peek(const struct parser *p)
{
    return peek_at(p, 0);
}

static void skip_blank(struct parser *p)
{
    while (is_blank(peek(p)))
        p->pos++;
}

/* Fails with "expected <what>, found <the character at pos>". */
static tp_err expected(struct parser *p, const char *what)
{
    char tmp[24];
    const char *found = tmp;
    unsigned long c;
    int b = peek(p);
    if (b < 0)
        found = "end of input";
    else if (b > 0x20 && b < 0x7F)
        snprintf(tmp, sizeof tmp, "'%c'", b);
    else if (tp_utf8_next(p->src + p->pos, p->len - p->pos, &c))
        snprintf(tmp, sizeof tmp, "U+%04X", (unsigned)c);
    else
        snprintf(tmp, sizeof tmp, "byte 0x%02X", (unsigned)b);
    return fail(p, p->pos, TP_ERR_INVALID, "expected %s, found %s", what, found);
}

static tp_err enter(struct parser *p)
{
    if (p->depth >= TP_JSONPATH_MAX_DEPTH)
        return fail(p, p->pos, TP_ERR_LIMIT, "expression nested deeper than %d levels",
                    TP_JSONPATH_MAX_DEPTH);
    p->depth++;
    return TP_OK;
}

static int starts_name(const struct parser *p)
{
    int c = peek(p);
    return is_alpha(c) || c == '_' || c >= 0x80;
}

static int starts_int(const struct parser *p)
{
    return peek(p) == '-' || is_digit(peek(p));
}

static tp_err parse_query(struct parser *p, struct query **out);
static tp_err parse_or(struct parser *p, struct expr *first, struct expr **out);
static tp_err parse_primary(struct parser *p, struct expr **out);

/* int -> "0" / [ "-" ] DIGIT1 *DIGIT      (magnitude at most 2^53 - 1) */
static tp_err parse_int(struct parser *p, int64_t *out)
{
    size_t start = p->pos;
    int neg = 0, big = 0;
    int64_t v = 0;

    if (peek(p) == '-') {
        neg = 1;
        p->pos++;
    }
    if (peek(p) == '0') {
        p->pos++;
        if (neg)
            return fail(p, start, TP_ERR_INVALID, "-0 is not a valid integer here");
        if (is_digit(peek(p)))
            return fail(p, start, TP_ERR_INVALID, "integer with a leading zero");
        *out = 0;
        return TP_OK;
    }
    if (!is_digit(peek(p)))
        return expected(p, "an integer");
    while (is_digit(peek(p))) {
        if (v > MAX_EXACT)
            big = 1;
        else
            v = v * 10 + (peek(p) - '0');
        p->pos++;
    }
    if (big || v > MAX_EXACT)
        return fail(p, start, TP_ERR_INVALID, "integer out of range (magnitude above 2^53-1)");
    *out = neg ? -v : v;
    return TP_OK;
}

/* Reads four hex digits at offset off from the current position. */
static int hex4(const struct parser *p, size_t off, unsigned long *out)
{
    size_t i;
    unsigned long v = 0;
    for (i = 0; i < 4; i++) {
        int h = hex_value(peek_at(p, off + i));
        if (h < 0)
            return 0;
        v = v * 16 + (unsigned long)h;
    }
    *out = v;
    return 1;
}

/* ESC escapable; escapable -> "b" / "f" / "n" / "r" / "t" / "/" / "\" / quote
 *                           / "u" hexchar
 * hexchar -> non-surrogate / high-surrogate "\u" low-surrogate */
static tp_err parse_escape(struct parser *p, int quote, struct tp_strbuf *b)
{
    size_t at = p->pos;
    unsigned long cp, lo;
    char enc[4];
    int c;

    p->pos++; /* the backslash */
    c = peek(p);
    switch (c) {
    case 'b':
        cp = '\b';
        break;
    case 'f':
        cp = '\f';
        break;
    case 'n':
        cp = '\n';
        break;
    case 'r':
        cp = '\r';
        break;
    case 't':
        cp = '\t';
        break;
    case '/':
        cp = '/';
        break;
    case '\\':
        cp = '\\';
        break;
    case 'u':
        if (!hex4(p, 1, &cp))
            return fail(p, at, TP_ERR_INVALID, "\\u needs four hex digits");
        p->pos += 4;
        if (cp >= 0xDC00 && cp <= 0xDFFF)
            return fail(p, at, TP_ERR_INVALID, "lone low surrogate \\u%04X", (unsigned)cp);
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (peek_at(p, 1) != '\\' || peek_at(p, 2) != 'u' || !hex4(p, 3, &lo) || lo < 0xDC00 ||
                lo > 0xDFFF)
                return fail(p, at, TP_ERR_INVALID,
                            "high surrogate \\u%04X must be followed by a low one", (unsigned)cp);
            p->pos += 6;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        }
        break;
    default:
        if (c != quote)
            return fail(p, at, TP_ERR_INVALID, "invalid escape sequence in a string");
        cp = (unsigned long)c;
        break;
    }
    p->pos++;
    return tp_strbuf_add(b, enc, tp_utf8_encode(cp, enc)) ? nomem(p) : TP_OK;
}

/* string-literal -> %x22 *double-quoted %x22 / %x27 *single-quoted %x27
 * double-quoted -> unescaped / "'" / ESC %x22 / ESC escapable  (and the mirror) */
static tp_err parse_string(struct parser *p, char **out, size_t *out_len)
{
    struct tp_strbuf b = {0};
    int quote = peek(p);
    size_t start = p->pos, n;
    unsigned long cp;
    tp_err rc = TP_OK;

    p->pos++;
    for (;;) {
        int c = peek(p);
        if (c < 0) {
            rc = fail(p, start, TP_ERR_INVALID, "unterminated string");
            goto fail;
        }
        if (c == quote) {
            p->pos++;
            break;
        }
        if (c == '\\') {
            if ((rc = parse_escape(p, quote, &b)) != TP_OK)
                goto fail;
            continue;
        }
        if (c < 0x20) {
            rc = fail(p, p->pos, TP_ERR_INVALID,
                      "control character U+%04X must be escaped in a string", (unsigned)c);
            goto fail;
        }
        n = tp_utf8_next(p->src + p->pos, p->len - p->pos, &cp);
        if (!n) {
            rc = fail(p, p->pos, TP_ERR_INVALID, "invalid UTF-8");
            goto fail;
        }
        if (tp_strbuf_add(&b, p->src + p->pos, n)) {
            rc = nomem(p);
            goto fail;
        }
        p->pos += n;
    }
    if (tp_strbuf_add(&b, "", 0)) {
        rc = nomem(p);
        goto fail;
    }
    *out = b.data;
    *out_len = b.len;
    return TP_OK;
fail:
    free(b.data);
    return rc;
}

/* member-name-shorthand -> name-first *name-char
 * name-first -> ALPHA / "_" / %x80-D7FF / %xE000-10FFFF
 * name-char  -> name-first / DIGIT */
static tp_err parse_member_name(struct parser *p, char **out, size_t *out_len)
{
    size_t start = p->pos, n;
    unsigned long cp;

    if (!starts_name(p))
        return expected(p, "a member name");
    for (;;) {
        int c = peek(p);
        if (c < 0)
            break;
        if (c < 0x80) {
            if (!is_alpha(c) && c != '_' && !is_digit(c))
                break;
            p->pos++;
            continue;
        }
        n = tp_utf8_next(p->src + p->pos, p->len - p->pos, &cp);
        if (!n)
            return fail(p, p->pos, TP_ERR_INVALID, "invalid UTF-8");
        p->pos += n;
    }
    *out_len = p->pos - start;
    *out = copy_bytes(p->src + start, *out_len);
    return *out ? TP_OK : nomem(p);
}

/* filter-selector -> "?" S logical-expr */
static tp_err parse_filter(struct parser *p, struct expr **out)
{
    p->pos++; /* "?" */
    skip_blank(p);
    return parse_or(p, NULL, out);
}

/* slice-selector -> [ start S ] ":" S [ end S ] [ ":" [ S step ] ]
 * index-selector -> int */
static tp_err parse_index_or_slice(struct parser *p, struct selector *sel)
{
    tp_err rc;
    size_t save;

    sel->step = 1;
    if (peek(p) != ':') {
        if ((rc = parse_int(p, &sel->start)) != TP_OK)
            return rc;
        save = p->pos;
        skip_blank(p);
        if (peek(p) != ':') {
            p->pos = save;
            sel->kind = SEL_INDEX;
            sel->index = sel->start;
            return TP_OK;
        }
        sel->has_start = 1;
    }
    sel->kind = SEL_SLICE;
    p->pos++; /* ":" */
    skip_blank(p);
    if (starts_int(p)) {
        if ((rc = parse_int(p, &sel->end)) != TP_OK)
            return rc;
        sel->has_end = 1;
        skip_blank(p);
    }
    if (peek(p) == ':') {
        p->pos++;
        skip_blank(p);
        if (starts_int(p) && (rc = parse_int(p, &sel->step)) != TP_OK)
            return rc;
    }
    return TP_OK;
}

/* selector -> name-selector / wildcard-selector / slice-selector / index-selector
 *           / filter-selector */
static tp_err parse_selector(struct parser *p, struct selector *sel)
{
    int c = peek(p);
    if (c == '\'' || c == '"') {
        sel->kind = SEL_NAME;
        return parse_string(p, &sel->name, &sel->name_len);
    }
    if (c == '*') {
        p->pos++;
        sel->kind = SEL_WILDCARD;
        return TP_OK;
    }
    if (c == '?') {
        sel->kind = SEL_FILTER;
        return parse_filter(p, &sel->filter);
    }
    if (c == ':' || starts_int(p))
        return parse_index_or_slice(p, sel);
    return expected(p, "a selector (name, *, index, slice or ?filter)");
}

/* A new zeroed selector at the end of seg, or NULL when out of memory. */
static struct selector *add_selector(struct segment *seg)
{
    struct selector *sels = grow(seg->sels, seg->count, &seg->cap, sizeof *sels);
    if (!sels)
        return NULL;
    seg->sels = sels;
    memset(&sels[seg->count], 0, sizeof *sels);
    return &sels[seg->count++];
}

/* bracketed-selection -> "[" S selector *( S "," S selector ) S "]" */
static tp_err parse_bracketed(struct parser *p, struct segment *seg)
{
    struct selector *sel;
    tp_err rc;

    p->pos++; /* "[" */
    skip_blank(p);
    for (;;) {
        if (!(sel = add_selector(seg)))
            return nomem(p);
        if ((rc = parse_selector(p, sel)) != TP_OK)
            return rc;
        skip_blank(p);
        if (peek(p) == ']') {
            p->pos++;
            return TP_OK;
        }
        if (peek(p) != ',')
            return expected(p, "',' or ']'");
        p->pos++;
        skip_blank(p);
    }
}

/* segment -> child-segment / descendant-segment
 * child-segment -> bracketed-selection / "." ( wildcard-selector / member-name-shorthand )
 * descendant-segment -> ".." ( bracketed-selection / wildcard-selector
 *                             / member-name-shorthand ) */
static tp_err parse_segment(struct parser *p, struct segment *seg)
{
    struct selector *sel;

    seg->kind = SEG_CHILD;
    if (peek(p) == '[')
        return parse_bracketed(p, seg);
    p->pos++; /* "." */
    if (peek(p) == '.') {
        seg->kind = SEG_DESCENDANT;
        p->pos++;
        if (peek(p) == '[')
            return parse_bracketed(p, seg);
    }
    if (!(sel = add_selector(seg)))
        return nomem(p);
    if (peek(p) == '*') {
        p->pos++;
        sel->kind = SEL_WILDCARD;
        return TP_OK;
    }
    if (!starts_name(p))
        return expected(p, seg->kind == SEG_DESCENDANT ? "'[', '*' or a member name after '..'"
                                                       : "'*' or a member name after '.'");
    sel->kind = SEL_NAME;
    return parse_member_name(p, &sel->name, &sel->name_len);
}

/* segments -> *( S segment ) */
static tp_err parse_segments(struct parser *p, struct query *q)
{
    struct segment *segs;
    tp_err rc;

    for (;;) {
        size_t save = p->pos;
        skip_blank(p);
        if (peek(p) != '[' && peek(p) != '.') {
            p->pos = save; /* the blanks belong to whatever follows */
            return TP_OK;
        }
        if (!(segs = grow(q->segs, q->count, &q->cap, sizeof *segs)))
            return nomem(p);
        q->segs = segs;
        memset(&segs[q->count], 0, sizeof *segs);
        if ((rc = parse_segment(p, &segs[q->count++])) != TP_OK)
            return rc;
    }
}

/* jsonpath-query -> root-identifier segments
 * rel-query      -> current-node-identifier segments */
static tp_err parse_query(struct parser *p, struct query **out)
{
    struct query *q = calloc(1, sizeof *q);
    tp_err rc;
    size_t i;

    *out = NULL;
    if (!q)
        return nomem(p);
    q->relative = peek(p) == '@';
    p->pos++;
    if ((rc = parse_segments(p, q)) != TP_OK) {
        query_free(q);
        return rc;
    }
    q->singular = 1;
    for (i = 0; i < q->count; i++) {
        const struct segment *s = &q->segs[i];
        if (s->kind != SEG_CHILD || s->count != 1 ||
            (s->sels[0].kind != SEL_NAME && s->sels[0].kind != SEL_INDEX))
            q->singular = 0;
    }
    *out = q;
    return TP_OK;
}

/* ---- filter expressions ---------------------------------------------------- */

static struct expr *expr_new(enum expr_kind kind, size_t pos)
{
    struct expr *e = calloc(1, sizeof *e);
    if (e) {
        e->kind = kind;
        e->pos = pos;
    }
    return e;
}

/* Appends arg (taken) to e->args. */
static tp_err add_arg(struct parser *p, struct expr *e, struct expr *arg)
{
    struct expr **args = grow(e->args, e->nargs, &e->cap, sizeof *args);
    if (!args) {
        expr_free(arg);
        return nomem(p);
    }
    e->args = args;
    args[e->nargs++] = arg;
    return TP_OK;
}

/* ValueType: a literal, a singular query or a function returning ValueType. */
static int is_value_expr(const struct expr *e)
{
    return e->kind == EX_LITERAL || (e->kind == EX_QUERY && e->query->singular) ||
           (e->kind == EX_FUNC && e->fn->result == T_VALUE);
}

/* LogicalType: a logical expression, a query (existence) or a function returning
 * LogicalType or NodesType. */
static int is_logical_expr(const struct expr *e)
{
    return e->kind != EX_LITERAL && (e->kind != EX_FUNC || e->fn->result != T_VALUE);
}

/* NodesType: a query or a function returning NodesType. */
static int is_nodes_expr(const struct expr *e)
{
    return e->kind == EX_QUERY || (e->kind == EX_FUNC && e->fn->result == T_NODES);
}

/* comparable -> literal / singular-query / function-expr (of ValueType) */
static tp_err check_comparable(struct parser *p, const struct expr *e)
{
    if (is_value_expr(e))
        return TP_OK;
    if (e->kind == EX_QUERY)
        return fail(p, e->pos, TP_ERR_INVALID,
                    "only a singular query (names and indexes) can be compared");
    if (e->kind == EX_FUNC)
        return fail(p, e->pos, TP_ERR_INVALID, "the result of %s() cannot be compared",
                    e->fn->name);
    return fail(p, e->pos, TP_ERR_INVALID, "a logical expression cannot be compared");
}

/* test-expr -> filter-query / function-expr (of LogicalType or NodesType) */
static tp_err check_test(struct parser *p, const struct expr *e)
{
    if (e->kind == EX_LITERAL)
        return fail(p, e->pos, TP_ERR_INVALID, "a literal must be compared");
    if (!is_logical_expr(e))
        return fail(p, e->pos, TP_ERR_INVALID, "the result of %s() must be compared", e->fn->name);
    return TP_OK;
}

/* number -> ( int / "-0" ) [ frac ] [ exp ]
 * frac -> "." 1*DIGIT      exp -> "e" [ "-" / "+" ] 1*DIGIT */
static tp_err parse_number(struct parser *p, json_t **out)
{
    size_t start = p->pos, int_start, int_end, frac_start = 0, frac_end = 0;
    long exponent = 0;
    int exp_neg = 0, has_exp = 0;
    struct tp_strbuf b = {0};
    char tmp[32];
    double d;
    tp_err rc = TP_OK;

    if (peek(p) == '-')
        p->pos++;
    int_start = p->pos;
    if (peek(p) == '0') {
        p->pos++;
        if (is_digit(peek(p)))
            return fail(p, start, TP_ERR_INVALID, "number with a leading zero");
    } else if (is_digit(peek(p))) {
        while (is_digit(peek(p)))
            p->pos++;
    } else {
        return expected(p, "a digit");
    }
    int_end = p->pos;
    if (peek(p) == '.') {
        p->pos++;
        frac_start = p->pos;
        if (!is_digit(peek(p)))
            return expected(p, "a digit after '.'");
        while (is_digit(peek(p)))
            p->pos++;
        frac_end = p->pos;
    }
    if (peek(p) == 'e' || peek(p) == 'E') {
        has_exp = 1;
        p->pos++;
        if (peek(p) == '-' || peek(p) == '+')
            exp_neg = p->src[p->pos++] == '-';
        if (!is_digit(peek(p)))
            return expected(p, "a digit in the exponent");
        while (is_digit(peek(p))) {
            if (exponent < 100000) /* beyond any double; saturate */
                exponent = exponent * 10 + (peek(p) - '0');
            p->pos++;
        }
    }
    if (!has_exp && frac_start == 0 && int_end - int_start <= 18) {
        json_int_t v = 0;
        size_t i;
        for (i = int_start; i < int_end; i++)
            v = v * 10 + (p->src[i] - '0');
        *out = json_integer(p->src[start] == '-' ? -v : v);
        return *out ? TP_OK : nomem(p);
    }
    /* Rewrite as <sign><digits>e<exponent> with no decimal point, so strtod's
     * reading does not depend on the locale. */
    if (exp_neg)
        exponent = -exponent;
    exponent -= (long)(frac_end - frac_start);
    snprintf(tmp, sizeof tmp, "e%ld", exponent);
    if (tp_strbuf_add(&b, p->src + start, int_end - start) ||
        tp_strbuf_add(&b, p->src + frac_start, frac_end - frac_start) || tp_strbuf_str(&b, tmp)) {
        rc = nomem(p);
        goto done;
    }
    errno = 0;
    d = strtod(b.data, NULL);
    if (errno == ERANGE && (d > 1.0 || d < -1.0)) {
        rc = fail(p, start, TP_ERR_INVALID, "number out of range");
        goto done;
    }
    if (!(*out = json_real(d)))
        rc = nomem(p);
done:
    free(b.data);
    return rc;
}

static const struct func_def *find_function(const char *name, size_t len)
{
    size_t i;
    for (i = 0; i < sizeof functions / sizeof functions[0]; i++)
        if (strlen(functions[i].name) == len && memcmp(functions[i].name, name, len) == 0)
            return &functions[i];
    return NULL;
}

/* function-argument -> literal / filter-query / logical-expr / function-expr
 * A literal, query or call followed by "," or ")" stands alone; anything else is
 * parsed on as a logical-expr starting with it. */
static tp_err parse_argument(struct parser *p, struct expr **out)
{
    struct expr *first;
    size_t save;
    tp_err rc;

    if (peek(p) == '(' || peek(p) == '!')
        return parse_or(p, NULL, out);
    if ((rc = parse_primary(p, &first)) != TP_OK)
        return rc;
    save = p->pos;
    skip_blank(p);
    if (peek(p) == ',' || peek(p) == ')') {
        p->pos = save;
        *out = first;
        return TP_OK;
    }
    p->pos = save;
    return parse_or(p, first, out);
}

/* Type-checks the arguments of call (RFC 9535 §2.4.3) and, for match() and search()
 * with a literal pattern, compiles the pattern once. */
static tp_err check_call(struct parser *p, struct expr *call)
{
    const struct func_def *fn = call->fn;
    static const char *const type_names[] = {
        [T_VALUE] = "a value (literal, singular query or value function)",
        [T_LOGICAL] = "a logical expression",
        [T_NODES] = "a query",
    };
    const struct expr *pat;
    size_t i;
    int ok;
    tp_err rc;

    if (call->nargs != fn->nparams)
        return fail(p, call->pos, TP_ERR_INVALID, "%s() takes %zu argument%s, not %zu", fn->name,
                    fn->nparams, fn->nparams == 1 ? "" : "s", call->nargs);
    for (i = 0; i < call->nargs; i++) {
        const struct expr *a = call->args[i];
        switch (fn->params[i]) {
        case T_VALUE:
            ok = is_value_expr(a);
            break;
        case T_LOGICAL:
            ok = is_logical_expr(a);
            break;
        default:
            ok = is_nodes_expr(a);
            break;
        }
        if (!ok)
            return fail(p, a->pos, TP_ERR_INVALID, "argument %zu of %s() must be %s", i + 1,
                        fn->name, type_names[fn->params[i]]);
    }
    pat = fn->regex != RE_NONE ? call->args[1] : NULL;
    if (pat && pat->kind == EX_LITERAL && json_is_string(pat->literal)) {
        rc = tp_iregexp_compile(json_string_value(pat->literal), json_string_length(pat->literal),
                                fn->regex == RE_WHOLE, &call->re);
        if (rc == TP_ERR_NOMEM)
            return nomem(p);
        call->re_invalid = rc != TP_OK;
    }
    return TP_OK;
}

/* function-expr -> function-name "(" S [ function-argument
 *                  *( S "," S function-argument ) ] S ")"
 * function-name -> LCALPHA *( LCALPHA / "_" / DIGIT ); the name is at start..p->pos. */
static tp_err parse_function(struct parser *p, size_t start, struct expr **out)
{
    struct expr *call = NULL, *arg;
    const struct func_def *fn = find_function(p->src + start, p->pos - start);
    tp_err rc;

    *out = NULL;
    if (!fn)
        return fail(p, start, TP_ERR_INVALID, "unknown function '%.*s'", (int)(p->pos - start),
                    p->src + start);
    if ((rc = enter(p)) != TP_OK)
        return rc;
    if (!(call = expr_new(EX_FUNC, start))) {
        rc = nomem(p);
        goto fail;
    }
    call->fn = fn;
    p->pos++; /* "(" */
    skip_blank(p);
    if (peek(p) != ')') {
        for (;;) {
            if ((rc = parse_argument(p, &arg)) != TP_OK || (rc = add_arg(p, call, arg)) != TP_OK)
                goto fail;
            skip_blank(p);
            if (peek(p) != ',')
                break;
            p->pos++;
            skip_blank(p);
        }
    }
    if (peek(p) != ')') {
        rc = expected(p, "',' or ')'");
        goto fail;
    }
    p->pos++;
    if ((rc = check_call(p, call)) != TP_OK)
        goto fail;
    p->depth--;
    *out = call;
    return TP_OK;
fail:
    expr_free(call);
    return rc;
}

/* comparable / test operand -> literal / filter-query / function-expr
 * literal -> number / string-literal / "true" / "false" / "null" */
static tp_err parse_primary(struct parser *p, struct expr **out)
{
    size_t start = p->pos, len;
    struct expr *e;
    char *s = NULL;
    tp_err rc;
    int c = peek(p);

    *out = NULL;
    if (c == '$' || c == '@') {
        if (!(e = expr_new(EX_QUERY, start)))
            return nomem(p);
        rc = parse_query(p, &e->query);
    } else if (c == '\'' || c == '"') {
        if (!(e = expr_new(EX_LITERAL, start)))
            return nomem(p);
        if ((rc = parse_string(p, &s, &len)) == TP_OK && !(e->literal = json_stringn(s, len)))
            rc = nomem(p);
        free(s);
    } else if (c == '-' || is_digit(c)) {
        if (!(e = expr_new(EX_LITERAL, start)))
            return nomem(p);
        rc = parse_number(p, &e->literal);
    } else if (c >= 'a' && c <= 'z') {
        while ((c = peek(p)) == '_' || is_digit(c) || (c >= 'a' && c <= 'z'))
            p->pos++;
        if (c == '(')
            return parse_function(p, start, out);
        len = p->pos - start;
        if (!(e = expr_new(EX_LITERAL, start)))
            return nomem(p);
        rc = TP_OK;
        if (len == 4 && memcmp(p->src + start, "true", 4) == 0)
            e->literal = json_true();
        else if (len == 5 && memcmp(p->src + start, "false", 5) == 0)
            e->literal = json_false();
        else if (len == 4 && memcmp(p->src + start, "null", 4) == 0)
            e->literal = json_null();
        else
            rc = fail(p, start, TP_ERR_INVALID,
                      "unknown name '%.*s' (true, false, null or a function call)", (int)len,
                      p->src + start);
    } else {
        return expected(p, "a literal, a query or a function call");
    }
    if (rc != TP_OK) {
        expr_free(e);
        return rc;
    }
    *out = e;
    return TP_OK;
}

/* comparison-op -> "==" / "!=" / "<=" / ">=" / "<" / ">"; consumes it if present. */
static int parse_cmp_op(struct parser *p, enum cmp_op *op)
{
    int c = peek(p), d = peek_at(p, 1);
    size_t n = 2;
    if (c == '=' && d == '=')
        *op = CMP_EQ;
    else if (c == '!' && d == '=')
        *op = CMP_NE;
    else if (c == '<')
        *op = d == '=' ? CMP_LE : CMP_LT;
    else if (c == '>')
        *op = d == '=' ? CMP_GE : CMP_GT;
    else
        return 0;
    if ((c == '<' || c == '>') && d != '=')
        n = 1;
    p->pos += n;
    return 1;
}

/* paren-expr -> "(" S logical-expr S ")"   (the optional "!" is the caller's) */
static tp_err parse_paren(struct parser *p, struct expr **out)
{
    tp_err rc;

    p->pos++; /* "(" */
    skip_blank(p);
    if ((rc = parse_or(p, NULL, out)) != TP_OK)
        return rc;
    skip_blank(p);
    if (peek(p) != ')') {
        expr_free(*out);
        *out = NULL;
        return expected(p, "')'");
    }
    p->pos++;
    return TP_OK;
}

/* logical-not-op S ( paren-expr / filter-query / function-expr ) */
static tp_err parse_not(struct parser *p, struct expr **out)
{
    struct expr *e = NULL, *inner = NULL;
    size_t start = p->pos, save;
    enum cmp_op op;
    tp_err rc;

    *out = NULL;
    p->pos++; /* "!" */
    skip_blank(p);
    if (peek(p) == '(')
        rc = parse_paren(p, &inner);
    else if ((rc = parse_primary(p, &inner)) == TP_OK && (rc = check_test(p, inner)) == TP_OK) {
        save = p->pos;
        skip_blank(p);
        if (parse_cmp_op(p, &op))
            rc = fail(p, save, TP_ERR_INVALID, "'!' cannot apply to a comparison; use !(...)");
        p->pos = save;
    }
    if (rc != TP_OK)
        goto fail;
    if (!(e = expr_new(EX_NOT, start))) {
        rc = nomem(p);
        goto fail;
    }
    e->lhs = inner;
    *out = e;
    return TP_OK;
fail:
    expr_free(inner);
    return rc;
}

/* basic-expr -> paren-expr / comparison-expr / test-expr
 * test-expr -> [ "!" S ] ( filter-query / function-expr )
 * comparison-expr -> comparable S comparison-op S comparable
 * first, when given, is an already parsed leading operand (taken). */
static tp_err parse_basic(struct parser *p, struct expr *first, struct expr **out)
{
    struct expr *lhs = first, *rhs = NULL, *e;
    enum cmp_op op;
    size_t save;
    tp_err rc;

    *out = NULL;
    if (!lhs) {
        if (peek(p) == '!')
            return parse_not(p, out);
        if (peek(p) == '(')
            return parse_paren(p, out);
        if ((rc = parse_primary(p, &lhs)) != TP_OK)
            return rc;
    }
    save = p->pos;
    skip_blank(p);
    if (!parse_cmp_op(p, &op)) {
        p->pos = save;
        if ((rc = check_test(p, lhs)) != TP_OK)
            goto fail;
        *out = lhs;
        return TP_OK;
    }
    skip_blank(p);
    if ((rc = parse_primary(p, &rhs)) != TP_OK || (rc = check_comparable(p, lhs)) != TP_OK ||
        (rc = check_comparable(p, rhs)) != TP_OK)
        goto fail;
    if (!(e = expr_new(EX_CMP, lhs->pos))) {
        rc = nomem(p);
        goto fail;
    }
    e->op = op;
    e->lhs = lhs;
    e->rhs = rhs;
    *out = e;
    return TP_OK;
fail:
    expr_free(lhs);
    expr_free(rhs);
    return rc;
}

/* logical-and-expr -> basic-expr *( S "&&" S basic-expr )
 * logical-or-expr  -> logical-and-expr *( S "||" S logical-and-expr )
 * One function for both levels: and_level selects "&&" over basic-exprs. */
static tp_err parse_chain(struct parser *p, int and_level, struct expr *first, struct expr **out)
{
    const char *op = and_level ? "&&" : "||";
    struct expr *lhs = NULL, *rhs, *e = NULL;
    size_t save;
    tp_err rc;

    *out = NULL;
    rc = and_level ? parse_basic(p, first, &lhs) : parse_chain(p, 1, first, &lhs);
    if (rc != TP_OK)
        return rc;
    for (;;) {
        save = p->pos;
        skip_blank(p);
        if (peek(p) != op[0] || peek_at(p, 1) != op[1]) {
            p->pos = save;
            break;
        }
        p->pos += 2;
        skip_blank(p);
        if (!e) {
            if (!(e = expr_new(and_level ? EX_AND : EX_OR, lhs->pos))) {
                expr_free(lhs);
                return nomem(p);
            }
            if ((rc = add_arg(p, e, lhs)) != TP_OK)
                goto fail;
        }
        rc = and_level ? parse_basic(p, NULL, &rhs) : parse_chain(p, 1, NULL, &rhs);
        if (rc != TP_OK || (rc = add_arg(p, e, rhs)) != TP_OK)
            goto fail;
    }
    *out = e ? e : lhs;
    return TP_OK;
fail:
    expr_free(e);
    return rc;
}

/* logical-expr -> logical-or-expr
 * first, when given, is an already parsed leading operand (taken). */
static tp_err parse_or(struct parser *p, struct expr *first, struct expr **out)
{
    tp_err rc;

    *out = NULL;
    if ((rc = enter(p)) != TP_OK) {
        expr_free(first);
        return rc;
    }
    rc = parse_chain(p, 0, first, out);
    p->depth--;
    return rc;
}

/* 1-based character (not byte) column of byte offset pos. */
static int column_of(const char *s, size_t pos)
{
    size_t i;
    int col = 1;
    for (i = 0; i < pos && s[i]; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80 && col < INT_MAX)
            col++;
    return col;
}

/* A member-name shorthand with a '-' ($.headers.X-Who) stops at the '-' at pos:
 * appends to text the query with that member in brackets ($.headers['X-Who']). */
static void hint_dashed_member(const char *expr, size_t pos, char *text, size_t size)
{
    size_t b = pos, e = pos, used = strlen(text);
    int n;

    if (expr[pos] != '-')
        return;
    while (b > 0 && (isalnum((unsigned char)expr[b - 1]) || expr[b - 1] == '_' ||
                     (unsigned char)expr[b - 1] >= 0x80))
        b--;
    if (b == pos || b == 0 || expr[b - 1] != '.' ||
        !(isalpha((unsigned char)expr[b]) || expr[b] == '_' || (unsigned char)expr[b] >= 0x80))
        return;
    while (expr[e] && (isalnum((unsigned char)expr[e]) || expr[e] == '_' || expr[e] == '-' ||
                       (unsigned char)expr[e] >= 0x80))
        e++;
    /* "$.a.X-Who" -> "$.a['X-Who']"; "$..X-Who" -> "$..['X-Who']" */
    n = snprintf(text + used, size - used,
                 " (a member name with '-' needs brackets: %.*s['%.*s']%s)",
                 (int)(b >= 2 && expr[b - 2] == '.' ? b : b - 1), expr, (int)(e - b), expr + b,
                 expr + e);
    if (n < 0 || (size_t)n >= size - used)
        text[used] = '\0'; /* no room: no hint rather than half of one */
}

tp_err tp_jsonpath_compile(const char *expr, tp_jsonpath **out, struct tp_error *err)
{
    struct parser p;
    tp_jsonpath *q = NULL;
    size_t n;

    memset(&p, 0, sizeof p);
    p.err = err;
    if (out)
        *out = NULL;
    if (!expr || !out)
        return tp_error_set(err, TP_ERR_INTERNAL, "tp_jsonpath_compile: NULL argument");
    p.src = expr;
    p.len = strlen(expr);
    if (!(q = calloc(1, sizeof *q)) || !(q->source = copy_bytes(expr, p.len))) {
        nomem(&p);
        goto fail;
    }
    if (peek(&p) != '$') {
        expected(&p, "'$' at the start of the query");
        goto fail;
    }
    if (parse_query(&p, &q->query) != TP_OK)
        goto fail;
    if (p.pos < p.len) {
        expected(&p, "the end of the query");
        goto fail;
    }
    *out = q;
    return TP_OK;
fail:
    if (err) {
        if (p.rc == TP_ERR_INVALID && p.err_pos < p.len)
            hint_dashed_member(expr, p.err_pos, err->text, sizeof err->text);
        err->column = column_of(expr, p.err_pos);
        n = p.len < sizeof err->path ? p.len : sizeof err->path - 1;
        while (n > 0 && n < p.len && ((unsigned char)expr[n] & 0xC0) == 0x80)
            n--; /* do not cut a UTF-8 sequence */
        memcpy(err->path, expr, n);
        err->path[n] = '\0';
    }
    tp_jsonpath_free(q);
    return p.rc;
}

tp_err tp_jsonpath_compile_for_people(const char *expr, tp_jsonpath **out, struct tp_error *err)
{
    tp_err rc = tp_jsonpath_compile(expr, out, err);
    if (rc == TP_ERR_INVALID && err) {
        char text[sizeof err->text];
        snprintf(text, sizeof text, "%s", err->text);
        if (err->column > 0)
            tp_error_set(err, rc, "JSONPath does not compile at character %d: %s", err->column,
                         text);
        else
            tp_error_set(err, rc, "JSONPath does not compile: %s", text);
    }
    return rc;
}

/* ---- evaluation -------------------------------------------------------------- */

static void eval_query(struct evalctx *ctx, const struct query *q, json_t *cur,
                       const char *root_path, struct tp_jsonpath_nodes *out);
static int eval_test(struct evalctx *ctx, const struct expr *e, json_t *cur);

static void val_clear(struct val *v)
{
    json_decref(v->owned);
    tp_jsonpath_nodes_clear(&v->nodes);
    memset(v, 0, sizeof *v);
}

char *tp_jsonpath_child_path(const char *parent, const char *key, size_t key_len, size_t idx)
{
    struct tp_strbuf b = {0};
    char tmp[32];
    size_t i, run;
    const char *esc;

    if (tp_strbuf_str(&b, parent))
        goto fail;
    if (!key) {
        snprintf(tmp, sizeof tmp, "[%zu]", idx);
        if (tp_strbuf_str(&b, tmp))
            goto fail;
        return b.data;
    }
    if (tp_strbuf_str(&b, "['"))
        goto fail;
    for (i = 0; i < key_len; i = run + 1) {
        for (run = i; run < key_len; run++) {
            unsigned char c = (unsigned char)key[run];
            if (c < 0x20 || c == '\'' || c == '\\')
                break;
        }
        if (tp_strbuf_add(&b, key + i, run - i))
            goto fail;
        if (run == key_len)
            break;
        switch (key[run]) {
        case '\b':
            esc = "\\b";
            break;
        case '\f':
            esc = "\\f";
            break;
        case '\n':
            esc = "\\n";
            break;
        case '\r':
            esc = "\\r";
            break;
        case '\t':
            esc = "\\t";
            break;
        case '\'':
            esc = "\\'";
            break;
        case '\\':
            esc = "\\\\";
            break;
        default:
            snprintf(tmp, sizeof tmp, "\\u%04x", (unsigned)(unsigned char)key[run]);
            esc = tmp;
            break;
        }
        if (tp_strbuf_str(&b, esc))
            goto fail;
    }
    if (tp_strbuf_str(&b, "']"))
        goto fail;
    return b.data;
fail:
    free(b.data);
    return NULL;
}

/* Appends child to dst; with a parent path, also the child's path. */
static void push_child(struct evalctx *ctx, struct tp_jsonpath_nodes *dst, json_t *child,
                       const char *path, const char *key, size_t key_len, size_t idx)
{
    char *cp = NULL;
    if (path && !(cp = tp_jsonpath_child_path(path, key, key_len, idx))) {
        ctx->rc = TP_ERR_NOMEM;
        return;
    }
    if (nodes_push(dst, child, cp))
        ctx->rc = TP_ERR_NOMEM;
}

/* Appends the children of v (array elements in order, then object members in
 * iteration order) for which filter holds; all of them when filter is NULL. */
static void select_children(struct evalctx *ctx, const struct expr *filter, json_t *v,
                            const char *path, struct tp_jsonpath_nodes *dst)
{
    const char *key;
    size_t i, key_len;
    json_t *child;

    if (json_is_array(v)) {
        json_array_foreach(v, i, child)
        {
            if (ctx->rc != TP_OK)
                return;
            if (!filter || eval_test(ctx, filter, child))
                push_child(ctx, dst, child, path, NULL, 0, i);
        }
    } else if (json_is_object(v)) {
        json_object_keylen_foreach(v, key, key_len, child)
        {
            if (ctx->rc != TP_OK)
                return;
            if (!filter || eval_test(ctx, filter, child))
                push_child(ctx, dst, child, path, key, key_len, 0);
        }
    }
}

/* Index normalization and slice bounds, RFC 9535 §2.3.3.2 and §2.3.4.2.2. */
static void select_slice(struct evalctx *ctx, const struct selector *sel, json_t *v,
                         const char *path, struct tp_jsonpath_nodes *dst)
{
    int64_t len, step = sel->step, start, end, lower, upper, i;

    if (!json_is_array(v) || step == 0)
        return;
    len = (int64_t)json_array_size(v);
    start = sel->has_start ? sel->start : step > 0 ? 0 : len - 1;
    end = sel->has_end ? sel->end : step > 0 ? len : -len - 1;
    if (start < 0)
        start += len;
    if (end < 0)
        end += len;
    if (step > 0) {
        lower = start < 0 ? 0 : start > len ? len : start;
        upper = end < 0 ? 0 : end > len ? len : end;
        for (i = lower; i < upper && ctx->rc == TP_OK; i += step)
            push_child(ctx, dst, json_array_get(v, (size_t)i), path, NULL, 0, (size_t)i);
    } else {
        upper = start < -1 ? -1 : start > len - 1 ? len - 1 : start;
        lower = end < -1 ? -1 : end > len - 1 ? len - 1 : end;
        for (i = upper; lower < i && ctx->rc == TP_OK; i += step)
            push_child(ctx, dst, json_array_get(v, (size_t)i), path, NULL, 0, (size_t)i);
    }
}

static void select_one(struct evalctx *ctx, const struct selector *sel, json_t *v, const char *path,
                       struct tp_jsonpath_nodes *dst)
{
    json_t *child;
    int64_t i;

    switch (sel->kind) {
    case SEL_NAME:
        if (json_is_object(v) && (child = json_object_getn(v, sel->name, sel->name_len)))
            push_child(ctx, dst, child, path, sel->name, sel->name_len, 0);
        break;
    case SEL_WILDCARD:
        select_children(ctx, NULL, v, path, dst);
        break;
    case SEL_INDEX:
        if (!json_is_array(v))
            break;
        i = sel->index < 0 ? sel->index + (int64_t)json_array_size(v) : sel->index;
        if (i >= 0 && (uint64_t)i < json_array_size(v))
            push_child(ctx, dst, json_array_get(v, (size_t)i), path, NULL, 0, (size_t)i);
        break;
    case SEL_SLICE:
        select_slice(ctx, sel, v, path, dst);
        break;
    case SEL_FILTER:
        select_children(ctx, sel->filter, v, path, dst);
        break;
    }
}

static void apply_selectors(struct evalctx *ctx, const struct segment *seg, json_t *v,
                            const char *path, struct tp_jsonpath_nodes *dst)
{
    size_t i;
    for (i = 0; i < seg->count && ctx->rc == TP_OK; i++)
        select_one(ctx, &seg->sels[i], v, path, dst);
}

/* Descendant segment: v and then its descendants, each before its own children
 * and arrays in order. Recursion follows document depth (jansson's parser caps it). */
static void descend(struct evalctx *ctx, const struct segment *seg, json_t *v, const char *path,
                    struct tp_jsonpath_nodes *dst)
{
    const char *key;
    size_t i, key_len;
    json_t *child;
    char *cp = NULL;

    apply_selectors(ctx, seg, v, path, dst);
    if (json_is_array(v)) {
        json_array_foreach(v, i, child)
        {
            if (ctx->rc != TP_OK || (path && !(cp = tp_jsonpath_child_path(path, NULL, 0, i))))
                goto nomem;
            descend(ctx, seg, child, cp, dst);
            free(cp);
            cp = NULL;
        }
    } else if (json_is_object(v)) {
        json_object_keylen_foreach(v, key, key_len, child)
        {
            if (ctx->rc != TP_OK || (path && !(cp = tp_jsonpath_child_path(path, key, key_len, 0))))
                goto nomem;
            descend(ctx, seg, child, cp, dst);
            free(cp);
            cp = NULL;
        }
    }
    return;
nomem:
    if (ctx->rc == TP_OK)
        ctx->rc = TP_ERR_NOMEM;
}

/* Appends to out the nodes q selects, starting at cur (relative query) or the root.
 * With root_path (the root's normalized path, "$"), records paths too. */
static void eval_query(struct evalctx *ctx, const struct query *q, json_t *cur,
                       const char *root_path, struct tp_jsonpath_nodes *out)
{
    struct tp_jsonpath_nodes in = {0}, next = {0};
    json_t *start = q->relative ? cur : ctx->root;
    char *path = NULL;
    size_t i, j;

    if (root_path && !(path = copy_bytes(root_path, strlen(root_path)))) {
        ctx->rc = TP_ERR_NOMEM;
        return;
    }
    if (nodes_push(q->count ? &in : out, start, path)) {
        ctx->rc = TP_ERR_NOMEM;
        return;
    }
    for (i = 0; i < q->count && ctx->rc == TP_OK; i++) {
        const struct segment *seg = &q->segs[i];
        struct tp_jsonpath_nodes *dst = i + 1 == q->count ? out : &next;
        for (j = 0; j < in.count && ctx->rc == TP_OK; j++) {
            const char *p = in.paths ? in.paths[j] : NULL;
            if (seg->kind == SEG_CHILD)
                apply_selectors(ctx, seg, in.values[j], p, dst);
            else
                descend(ctx, seg, in.values[j], p, dst);
        }
        tp_jsonpath_nodes_clear(&in);
        in = next;
        memset(&next, 0, sizeof next);
    }
    tp_jsonpath_nodes_clear(&in);
}

/* The single node of a singular query, or NULL (Nothing). No allocation. */
static json_t *singular_get(const struct evalctx *ctx, const struct query *q, json_t *cur)
{
    json_t *v = q->relative ? cur : ctx->root;
    size_t i;

    for (i = 0; i < q->count && v; i++) {
        const struct selector *sel = &q->segs[i].sels[0];
        if (sel->kind == SEL_NAME) {
            v = json_is_object(v) ? json_object_getn(v, sel->name, sel->name_len) : NULL;
        } else if (json_is_array(v)) {
            int64_t n = (int64_t)json_array_size(v);
            int64_t k = sel->index < 0 ? sel->index + n : sel->index;
            v = k >= 0 && k < n ? json_array_get(v, (size_t)k) : NULL;
        } else {
            v = NULL;
        }
    }
    return v;
}

/* <0, 0, >0 as number a is below, equal to, above number b; exact across
 * integers and reals. */
static int num_cmp(const json_t *a, const json_t *b)
{
    json_int_t i, t;
    double d;
    int sign = 1;

    if (json_is_integer(a) && json_is_integer(b)) {
        json_int_t x = json_integer_value(a), y = json_integer_value(b);
        return (x > y) - (x < y);
    }
    if (json_is_real(a) && json_is_real(b)) {
        double x = json_real_value(a), y = json_real_value(b);
        return (x > y) - (x < y);
    }
    if (json_is_real(a)) {
        const json_t *swap = a;
        a = b;
        b = swap;
        sign = -1;
    }
    i = json_integer_value(a);
    d = json_real_value(b);
    if (d >= 9223372036854775808.0)
        return -sign;
    if (d < -9223372036854775808.0)
        return sign;
    t = (json_int_t)d; /* truncates toward zero; exact for this range */
    if (i != t)
        return i < t ? -sign : sign;
    d -= (double)t;
    return d > 0 ? -sign : d < 0 ? sign : 0;
}

static int str_cmp(const json_t *a, const json_t *b)
{
    size_t la = json_string_length(a), lb = json_string_length(b);
    int c = memcmp(json_string_value(a), json_string_value(b), la < lb ? la : lb);
    if (c)
        return c;
    return (la > lb) - (la < lb);
}

/* RFC 9535 §2.3.5.2.2 equality: numbers by value, strings by code points, arrays
 * and objects deeply. */
static int json_same(json_t *a, json_t *b)
{
    const char *key;
    size_t i, key_len;
    json_t *x, *y;

    if (json_is_number(a) && json_is_number(b))
        return num_cmp(a, b) == 0;
    if (json_typeof(a) != json_typeof(b))
        return 0;
    switch (json_typeof(a)) {
    case JSON_STRING:
        return str_cmp(a, b) == 0;
    case JSON_ARRAY:
        if (json_array_size(a) != json_array_size(b))
            return 0;
        json_array_foreach(a, i, x)
        {
            if (!json_same(x, json_array_get(b, i)))
                return 0;
        }
        return 1;
    case JSON_OBJECT:
        if (json_object_size(a) != json_object_size(b))
            return 0;
        json_object_keylen_foreach(a, key, key_len, x)
        {
            if (!(y = json_object_getn(b, key, key_len)) || !json_same(x, y))
                return 0;
        }
        return 1;
    default:
        return 1; /* true, false, null: same type, same value */
    }
}

/* a < b: only between two numbers or two strings. */
static int json_less(const json_t *a, const json_t *b)
{
    if (json_is_number(a) && json_is_number(b))
        return num_cmp(a, b) < 0;
    if (json_is_string(a) && json_is_string(b))
        return str_cmp(a, b) < 0;
    return 0;
}

/* RFC 9535 §2.3.5.2.2; a NULL operand is Nothing (an empty node list). */
static int compare(json_t *a, json_t *b, enum cmp_op op)
{
    int eq = (!a || !b) ? !a && !b : json_same(a, b);
    int lt = a && b && json_less(a, b);
    int gt = a && b && json_less(b, a);

    switch (op) {
    case CMP_EQ:
        return eq;
    case CMP_NE:
        return !eq;
    case CMP_LT:
        return lt;
    case CMP_LE:
        return lt || eq;
    case CMP_GT:
        return gt;
    default:
        return gt || eq;
    }
}

static void eval_call(struct evalctx *ctx, const struct expr *call, json_t *cur, struct val *out);

/* Evaluates a ValueType expression: V_JSON, or V_NOTHING. */
static void eval_value(struct evalctx *ctx, const struct expr *e, json_t *cur, struct val *out)
{
    json_t *v;

    switch (e->kind) {
    case EX_LITERAL:
        out->kind = V_JSON;
        out->json = e->literal;
        break;
    case EX_QUERY:
        v = singular_get(ctx, e->query, cur);
        out->kind = v ? V_JSON : V_NOTHING;
        out->json = v;
        break;
    case EX_FUNC:
        eval_call(ctx, e, cur, out);
        break;
    default:
        out->kind = V_NOTHING; /* ruled out by the type checks */
        break;
    }
}

/* Evaluates a query into its node list (no paths). */
static void eval_nodes(struct evalctx *ctx, const struct expr *e, json_t *cur, struct val *out)
{
    if (e->kind == EX_FUNC) {
        eval_call(ctx, e, cur, out);
        return;
    }
    out->kind = V_NODES;
    eval_query(ctx, e->query, cur, NULL, &out->nodes);
}

static void eval_call(struct evalctx *ctx, const struct expr *call, json_t *cur, struct val *out)
{
    struct val args[MAX_PARAMS];
    size_t i;

    memset(args, 0, sizeof args);
    for (i = 0; i < call->nargs && ctx->rc == TP_OK; i++) {
        switch (call->fn->params[i]) {
        case T_VALUE:
            eval_value(ctx, call->args[i], cur, &args[i]);
            break;
        case T_LOGICAL:
            args[i].kind = V_LOGICAL;
            args[i].logical = eval_test(ctx, call->args[i], cur);
            break;
        case T_NODES:
            eval_nodes(ctx, call->args[i], cur, &args[i]);
            break;
        }
    }
    if (ctx->rc == TP_OK)
        call->fn->impl(ctx, call, args, out);
    for (i = 0; i < call->nargs; i++)
        val_clear(&args[i]);
}

/* Evaluates a LogicalType expression (a logical expression, an existence test or
 * a function) against the current node. */
static int eval_test(struct evalctx *ctx, const struct expr *e, json_t *cur)
{
    struct val a = {0}, b = {0};
    size_t i;
    int r = 0;

    if (ctx->rc != TP_OK)
        return 0;
    switch (e->kind) {
    case EX_NOT:
        return !eval_test(ctx, e->lhs, cur);
    case EX_AND:
        for (i = 0; i < e->nargs; i++)
            if (!eval_test(ctx, e->args[i], cur))
                return 0;
        return 1;
    case EX_OR:
        for (i = 0; i < e->nargs; i++)
            if (eval_test(ctx, e->args[i], cur))
                return 1;
        return 0;
    case EX_CMP:
        eval_value(ctx, e->lhs, cur, &a);
        eval_value(ctx, e->rhs, cur, &b);
        r = compare(a.kind == V_JSON ? a.json : NULL, b.kind == V_JSON ? b.json : NULL, e->op);
        break;
    case EX_QUERY:
        if (e->query->singular)
            return singular_get(ctx, e->query, cur) != NULL;
        eval_nodes(ctx, e, cur, &a);
        r = a.nodes.count > 0;
        break;
    case EX_FUNC:
        eval_call(ctx, e, cur, &a);
        r = a.kind == V_LOGICAL ? a.logical : a.kind == V_NODES && a.nodes.count > 0;
        break;
    default:
        break;
    }
    val_clear(&a);
    val_clear(&b);
    return ctx->rc == TP_OK && r;
}

/* ---- functions (RFC 9535 §2.4.4-2.4.8) ------------------------------------ */

static void make_count(struct evalctx *ctx, size_t n, struct val *out)
{
    json_t *j = json_integer((json_int_t)n);
    if (!j) {
        ctx->rc = TP_ERR_NOMEM;
        return;
    }
    out->kind = V_JSON;
    out->json = out->owned = j;
}

/* length(ValueType) -> ValueType: characters of a string, members of an array or
 * object; Nothing otherwise. */
static void fn_length(struct evalctx *ctx, const struct expr *call, struct val *args,
                      struct val *out)
{
    json_t *v = args[0].kind == V_JSON ? args[0].json : NULL;
    const char *s;
    size_t i, n = 0, len;

    (void)call;
    out->kind = V_NOTHING;
    if (json_is_string(v)) {
        s = json_string_value(v);
        len = json_string_length(v);
        for (i = 0; i < len; i++)
            n += ((unsigned char)s[i] & 0xC0) != 0x80;
        make_count(ctx, n, out);
    } else if (json_is_array(v)) {
        make_count(ctx, json_array_size(v), out);
    } else if (json_is_object(v)) {
        make_count(ctx, json_object_size(v), out);
    }
}

/* count(NodesType) -> ValueType */
static void fn_count(struct evalctx *ctx, const struct expr *call, struct val *args,
                     struct val *out)
{
    (void)call;
    make_count(ctx, args[0].nodes.count, out);
}

/* value(NodesType) -> ValueType: the only node's value, else Nothing. */
static void fn_value(struct evalctx *ctx, const struct expr *call, struct val *args,
                     struct val *out)
{
    (void)ctx;
    (void)call;
    out->kind = V_NOTHING;
    if (args[0].nodes.count == 1) {
        out->kind = V_JSON;
        out->json = args[0].nodes.values[0];
    }
}

/* match()/search(): LogicalTrue when both arguments are strings, the second a valid
 * I-Regexp, and it matches the whole first (whole) or some substring of it. */
static void regex_test(struct evalctx *ctx, const struct expr *call, struct val *args,
                       struct val *out, int whole)
{
    json_t *subject = args[0].kind == V_JSON ? args[0].json : NULL;
    json_t *pattern = args[1].kind == V_JSON ? args[1].json : NULL;
    const tp_iregexp *re = call->re;
    tp_iregexp *own = NULL;
    int r;

    out->kind = V_LOGICAL;
    out->logical = 0;
    if (!json_is_string(subject) || !json_is_string(pattern) || call->re_invalid)
        return;
    if (!re) {
        tp_err rc = tp_iregexp_compile(json_string_value(pattern), json_string_length(pattern),
                                       whole, &own);
        if (rc == TP_ERR_NOMEM)
            ctx->rc = TP_ERR_NOMEM;
        if (rc != TP_OK)
            return;
        re = own;
    }
    r = tp_iregexp_match(re, json_string_value(subject), json_string_length(subject),
                         &ctx->regex_budget);
    if (r == -2 && ctx->rc == TP_OK)
        ctx->rc = TP_ERR_LIMIT;
    else if (r < 0)
        ctx->rc = TP_ERR_NOMEM;
    else
        out->logical = r;
    tp_iregexp_free(own);
}

/* match(ValueType, ValueType) -> LogicalType */
static void fn_match(struct evalctx *ctx, const struct expr *call, struct val *args,
                     struct val *out)
{
    regex_test(ctx, call, args, out, 1);
}

/* search(ValueType, ValueType) -> LogicalType */
static void fn_search(struct evalctx *ctx, const struct expr *call, struct val *args,
                      struct val *out)
{
    regex_test(ctx, call, args, out, 0);
}

tp_err tp_jsonpath_eval(const tp_jsonpath *q, json_t *root, int want_paths,
                        struct tp_jsonpath_nodes *out)
{
    struct evalctx ctx;
    size_t mark;

    if (!q || !root || !out)
        return TP_ERR_INTERNAL;
    ctx.root = root;
    ctx.rc = TP_OK;
    ctx.regex_budget = TP_REGEX_BUDGET;
    mark = out->count;
    eval_query(&ctx, q->query, root, want_paths ? "$" : NULL, out);
    if (ctx.rc != TP_OK)
        nodes_truncate(out, mark);
    return ctx.rc;
}
