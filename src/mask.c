/* Secret masking: the secrets' forms go into one Aho-Corasick automaton, so a
 * string is masked in one pass whatever the number of secrets. */
#include "twinprobe/mask.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "twinprobe/escape.h"
#include "twinprobe/strbuf.h"
#include "twinprobe/utf8.h"

/* One node of the Aho-Corasick automaton: a trie over every pattern with
 * failure links. Children are a sibling list; index 0 is the root and never a
 * child, so 0 also means "none". */
struct ac_node {
    size_t first_child;
    size_t next_sibling;
    size_t fail;      /* longest proper suffix of this node's string that is in the trie */
    size_t match_len; /* longest pattern that is a suffix of this node's string; 0: none */
    unsigned char byte;
};

struct pattern {
    char *bytes;
    size_t len;
};

struct tp_secrets {
    struct pattern *pats; /* every form of every value, without duplicates */
    size_t npats;
    size_t cap;
    struct ac_node *nodes; /* automaton over pats, rebuilt by each add; NULL when empty */
};

static int as_is(struct tp_strbuf *b, const char *s, size_t n, unsigned flags)
{
    (void)flags;
    return tp_strbuf_add(b, s, n);
}

static int in_json(struct tp_strbuf *b, const char *s, size_t n, unsigned flags)
{
    (void)flags;
    return tp_escape_json(b, s, n);
}

/* The base64 characters of value that do not depend on what surrounds it when
 * it starts `align` bytes (0-2) into a 3-byte group of a longer encoded text
 * (a Basic header encodes "user:password"): the characters that mix in a byte
 * before or after it are left out. Fewer than 4 such characters add nothing:
 * they would hide unrelated text. */
static int in_base64(struct tp_strbuf *b, const char *s, size_t n, unsigned align)
{
    static const char digits[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t total = align + n, nbits = total * 8, first, last;
    /* bit i of the stream: the align leading bytes are unknown (taken as 0) */
#define BIT(i) ((i) < align * 8 ? 0 : ((unsigned char)s[(i) / 8 - align] >> (7 - (i) % 8)) & 1u)
    first = (align * 8 + 5) / 6; /* the first character made only of s's bits */
    last = nbits / 6;            /* characters [first, last) are made only of s's bits */
    if (last < first + 4)
        return 0;
    for (size_t c = first; c < last; c++) {
        unsigned v = 0;
        for (size_t k = 0; k < 6; k++)
            v = (v << 1) | BIT(c * 6 + k);
        if (tp_strbuf_add(b, &digits[v], 1) != 0)
            return -1;
    }
#undef BIT
    return 0;
}

/* The forms a secret is added in: as is, inside a JSON string, percent-encoded
 * with either hex case, a space as %20 or '+', and base64 at each of the three
 * alignments. */
static const struct {
    int (*write)(struct tp_strbuf *b, const char *s, size_t n, unsigned flags);
    unsigned flags;
} secret_forms[] = {
    {as_is, 0},
    {in_json, 0},
    {tp_escape_url, 0},
    {tp_escape_url, TP_ESCAPE_HEX_LOWER},
    {tp_escape_url, TP_ESCAPE_SPACE_PLUS},
    {tp_escape_url, TP_ESCAPE_HEX_LOWER | TP_ESCAPE_SPACE_PLUS},
    {in_base64, 0},
    {in_base64, 1},
    {in_base64, 2},
};

static size_t ac_child(const struct ac_node *nodes, size_t u, unsigned char c)
{
    size_t v;
    for (v = nodes[u].first_child; v; v = nodes[v].next_sibling)
        if (nodes[v].byte == c)
            return v;
    return 0;
}

/* The state after reading c in state u. Amortized O(1): each failure link
 * taken shortens the match, which grows by at most one byte per call. */
static size_t ac_step(const struct ac_node *nodes, size_t u, unsigned char c)
{
    for (;;) {
        size_t v = ac_child(nodes, u, c);
        if (v)
            return v;
        if (u == 0)
            return 0;
        u = nodes[u].fail;
    }
}

/* Builds the automaton over s->pats and swaps it in; on failure s is unchanged. */
static tp_err build_automaton(struct tp_secrets *s)
{
    struct ac_node *nodes = NULL;
    size_t *queue = NULL;
    size_t total = 1, used = 1, head = 0, tail = 0, i, k, u, v;
    tp_err rc = TP_OK;

    for (i = 0; i < s->npats; i++) {
        if (s->pats[i].len > SIZE_MAX / sizeof *nodes - total)
            return TP_ERR_NOMEM;
        total += s->pats[i].len;
    }
    nodes = calloc(total, sizeof *nodes);
    queue = malloc(total * sizeof *queue);
    if (!nodes || !queue) {
        rc = TP_ERR_NOMEM;
        goto done;
    }
    for (i = 0; i < s->npats; i++) {
        for (u = 0, k = 0; k < s->pats[i].len; k++, u = v) {
            unsigned char c = (unsigned char)s->pats[i].bytes[k];
            v = ac_child(nodes, u, c);
            if (!v) {
                v = used++;
                nodes[v].byte = c;
                nodes[v].next_sibling = nodes[u].first_child;
                nodes[u].first_child = v;
            }
        }
        nodes[u].match_len = s->pats[i].len;
    }
    /* failure links, breadth first so that a node's fail is done before it */
    for (v = nodes[0].first_child; v; v = nodes[v].next_sibling)
        queue[tail++] = v;
    while (head < tail) {
        u = queue[head++];
        for (v = nodes[u].first_child; v; v = nodes[v].next_sibling) {
            nodes[v].fail = ac_step(nodes, nodes[u].fail, nodes[v].byte);
            if (!nodes[v].match_len)
                nodes[v].match_len = nodes[nodes[v].fail].match_len;
            queue[tail++] = v;
        }
    }
    free(s->nodes);
    s->nodes = nodes;
    nodes = NULL;

done:
    free(nodes);
    free(queue);
    return rc;
}

tp_secrets *tp_secrets_create(void)
{
    return calloc(1, sizeof(tp_secrets));
}

void tp_secrets_free(tp_secrets *s)
{
    size_t i;

    if (!s)
        return;
    for (i = 0; i < s->npats; i++)
        free(s->pats[i].bytes);
    free(s->pats);
    free(s->nodes);
    free(s);
}

/* Adds the pattern held by b (taken: b is emptied either way) unless present. */
static tp_err add_pattern(struct tp_secrets *s, struct tp_strbuf *b)
{
    size_t i;

    for (i = 0; i < s->npats; i++) {
        if (s->pats[i].len == b->len && memcmp(s->pats[i].bytes, b->data, b->len) == 0) {
            free(b->data);
            b->data = NULL;
            return TP_OK;
        }
    }
    if (s->npats == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 8;
        struct pattern *pats;
        if (cap > SIZE_MAX / sizeof *pats)
            return TP_ERR_NOMEM;
        pats = realloc(s->pats, cap * sizeof *pats);
        if (!pats)
            return TP_ERR_NOMEM;
        s->pats = pats;
        s->cap = cap;
    }
    s->pats[s->npats].bytes = b->data;
    s->pats[s->npats].len = b->len;
    s->npats++;
    b->data = NULL;
    return TP_OK;
}

tp_err tp_secrets_add(tp_secrets *s, const char *value)
{
    size_t before, n, i;
    tp_err rc = TP_OK;

    if (!s || !value)
        return TP_ERR_INVALID;
    n = strlen(value);
    if (n == 0)
        return TP_OK;
    before = s->npats;
    for (i = 0; !rc && i < sizeof secret_forms / sizeof secret_forms[0]; i++) {
        struct tp_strbuf b = {0};
        if (secret_forms[i].write(&b, value, n, secret_forms[i].flags))
            rc = TP_ERR_NOMEM;
        else if (b.len > 0)
            rc = add_pattern(s, &b);
        tp_strbuf_free(&b);
    }
    if (!rc)
        rc = build_automaton(s);
    if (rc) {
        while (s->npats > before)
            free(s->pats[--s->npats].bytes);
    }
    return rc;
}

struct span {
    size_t start;
    size_t end; /* exclusive */
};

/* Adds [start, end) to spans, which are sorted, pairwise non-overlapping and
 * all end at or before end; overlapping ones merge into it. */
static tp_err push_span(struct span **spans, size_t *count, size_t *cap, size_t start, size_t end)
{
    while (*count > 0 && (*spans)[*count - 1].end > start) {
        if ((*spans)[*count - 1].start < start)
            start = (*spans)[*count - 1].start;
        (*count)--;
    }
    if (*count == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        struct span *p;
        if (ncap > SIZE_MAX / sizeof *p)
            return TP_ERR_NOMEM;
        p = realloc(*spans, ncap * sizeof *p);
        if (!p)
            return TP_ERR_NOMEM;
        *spans = p;
        *cap = ncap;
    }
    (*spans)[*count].start = start;
    (*spans)[*count].end = end;
    (*count)++;
    return TP_OK;
}

int tp_secrets_none(const tp_secrets *s)
{
    return !s || s->npats == 0;
}

/* Appends text[0..n) to out with every secret replaced by "***". text may hold
 * NULs: no secret does, so no occurrence spans one. *masks (may be NULL) gets
 * the number of "***" written. TP_OK, or TP_ERR_NOMEM (then out holds what it
 * held before). */
static tp_err mask_append(const tp_secrets *s, const char *text, size_t n, struct tp_strbuf *out,
                          size_t *masks)
{
    struct span *spans = NULL;
    size_t nspans = 0, cap = 0, start = out->len, from = 0, i;
    tp_err rc = TP_OK;

    if (s && s->nodes) {
        size_t state = 0;
        for (i = 0; !rc && i < n; i++) {
            size_t len;
            state = ac_step(s->nodes, state, (unsigned char)text[i]);
            len = s->nodes[state].match_len;
            if (len)
                rc = push_span(&spans, &nspans, &cap, i + 1 - len, i + 1);
        }
    }
    for (i = 0; !rc && i < nspans; i++) {
        if (tp_strbuf_add(out, text + from, spans[i].start - from) || tp_strbuf_add(out, "***", 3))
            rc = TP_ERR_NOMEM;
        from = spans[i].end;
    }
    if (!rc && tp_strbuf_add(out, text + from, n - from))
        rc = TP_ERR_NOMEM;
    if (rc)
        tp_strbuf_cut(out, start);
    else if (masks)
        *masks = nspans;
    free(spans);
    return rc;
}

char *tp_secrets_mask(const tp_secrets *s, const char *text)
{
    struct tp_strbuf out = {0};

    if (!text)
        return NULL;
    if (mask_append(s, text, strlen(text), &out, NULL)) {
        tp_strbuf_free(&out);
        return NULL;
    }
    return out.data;
}

tp_err tp_secrets_mask_inplace(const tp_secrets *s, char **text)
{
    char *masked;

    if (!text)
        return TP_ERR_INVALID;
    if (!*text || tp_secrets_none(s))
        return TP_OK;
    masked = tp_secrets_mask(s, *text);
    if (!masked)
        return TP_ERR_NOMEM;
    free(*text);
    *text = masked;
    return TP_OK;
}

tp_err tp_secrets_mask_labelled(const tp_secrets *s, char **text)
{
    struct tp_strbuf out = {0};
    const char *sp;
    char *data;

    if (!text)
        return TP_ERR_INVALID;
    if (!*text || tp_secrets_none(s) || !(sp = strchr(*text, ' ')))
        return TP_OK;
    if (!(data = tp_secrets_mask(s, sp + 1)))
        return TP_ERR_NOMEM;
    if (tp_strbuf_add(&out, *text, (size_t)(sp - *text) + 1) != 0 ||
        tp_strbuf_str(&out, data) != 0) {
        free(data);
        tp_strbuf_free(&out);
        return TP_ERR_NOMEM;
    }
    free(data);
    free(*text);
    *text = out.data;
    return TP_OK;
}

/* n bytes of text masked, as a new JSON string: valid UTF-8 whatever the input
 * was or masking cut (each stray byte becomes U+FFFD). *masks as for
 * mask_append. NULL on no memory. */
static json_t *masked_string(const tp_secrets *s, const char *text, size_t n, size_t *masks)
{
    struct tp_strbuf out = {0};
    json_t *str = NULL;
    char *fixed;
    size_t len;

    if (mask_append(s, text, n, &out, masks) == TP_OK &&
        (fixed = tp_utf8_repair(out.data ? out.data : "", out.len, &len))) {
        str = json_stringn(fixed, len);
        free(fixed);
    }
    tp_strbuf_free(&out);
    return str;
}

static json_t *masked_copy(const tp_secrets *s, json_t *v);

static json_t *masked_array(const tp_secrets *s, json_t *a)
{
    json_t *out = json_array();
    size_t i;

    for (i = 0; out && i < json_array_size(a); i++) {
        if (json_array_append_new(out, masked_copy(s, json_array_get(a, i)))) {
            json_decref(out);
            out = NULL;
        }
    }
    return out;
}

/* Keys that mask alike collide: the later one in o's order wins. */
static json_t *masked_object(const tp_secrets *s, json_t *o)
{
    json_t *out = json_object();
    void *it;

    for (it = json_object_iter(o); out && it; it = json_object_iter_next(o, it)) {
        json_t *key =
            masked_string(s, json_object_iter_key(it), json_object_iter_key_len(it), NULL);
        if (!key ||
            json_object_setn_new_nocheck(out, json_string_value(key), json_string_length(key),
                                         masked_copy(s, json_object_iter_value(it)))) {
            json_decref(out);
            out = NULL;
        }
        json_decref(key);
    }
    return out;
}

/* A number, true or false: its compact JSON text masked, as a string, when
 * that text holds a secret; else a copy. */
static json_t *masked_scalar(const tp_secrets *s, json_t *v)
{
    char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    size_t masks = 0;
    json_t *out;

    if (!text)
        return NULL;
    out = masked_string(s, text, strlen(text), &masks);
    if (out && masks == 0) {
        json_decref(out);
        out = json_copy(v);
    }
    free(text);
    return out;
}

static json_t *masked_copy(const tp_secrets *s, json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return masked_object(s, v);
    case JSON_ARRAY:
        return masked_array(s, v);
    case JSON_STRING:
        return masked_string(s, json_string_value(v), json_string_length(v), NULL);
    case JSON_NULL:
        return json_null();
    default:
        return masked_scalar(s, v);
    }
}

/* 1 when text[0..n) holds a secret (the automaton of mask_append, no copy). */
static int holds_secret(const tp_secrets *s, const char *text, size_t n)
{
    size_t state = 0;
    for (size_t i = 0; s->nodes && i < n; i++) {
        state = ac_step(s->nodes, state, (unsigned char)text[i]);
        if (s->nodes[state].match_len)
            return 1;
    }
    return 0;
}

/* 1 when v, one of its keys or the compact text of one of its scalars holds a
 * secret (what masked_copy would change), or on no memory. */
static int json_holds_secret(const tp_secrets *s, json_t *v)
{
    char num[32];
    void *it;

    switch (json_typeof(v)) {
    case JSON_OBJECT:
        for (it = json_object_iter(v); it; it = json_object_iter_next(v, it))
            if (holds_secret(s, json_object_iter_key(it), json_object_iter_key_len(it)) ||
                json_holds_secret(s, json_object_iter_value(it)))
                return 1;
        return 0;
    case JSON_ARRAY:
        for (size_t i = 0; i < json_array_size(v); i++)
            if (json_holds_secret(s, json_array_get(v, i)))
                return 1;
        return 0;
    case JSON_STRING:
        return holds_secret(s, json_string_value(v), json_string_length(v));
    case JSON_NULL:
        return 0;
    case JSON_INTEGER:
        snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return holds_secret(s, num, strlen(num));
    case JSON_TRUE:
        return holds_secret(s, "true", 4);
    case JSON_FALSE:
        return holds_secret(s, "false", 5);
    default: {
        char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        int held = !text || holds_secret(s, text, strlen(text));
        free(text);
        return held;
    }
    }
}

json_t *tp_secrets_mask_json(const tp_secrets *s, json_t *v)
{
    if (!v)
        return NULL;
    if (tp_secrets_none(s) || !json_holds_secret(s, v))
        return json_incref(v); /* nothing to mask: jansson's text is valid UTF-8 */
    return masked_copy(s, v);
}

int tp_secrets_short(const char *value)
{
    size_t n = 0;

    if (!value)
        return 0;
    while (n < TP_SECRET_MIN_LEN && value[n])
        n++;
    return n > 0 && n < TP_SECRET_MIN_LEN;
}
