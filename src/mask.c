/* Secret masking: the secrets' forms go into one Aho-Corasick automaton, so a
 * string is masked in one pass whatever the number of secrets. */
#include "twinprobe/mask.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "twinprobe/escape.h"
#include "twinprobe/strbuf.h"

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

/* The forms a secret is added in: as is, inside a JSON string, and
 * percent-encoded with either hex case, a space as %20 or '+'. */
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
        else
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

char *tp_secrets_mask(const tp_secrets *s, const char *text)
{
    struct span *spans = NULL;
    size_t nspans = 0, cap = 0, covered = 0, state = 0, n, i, o, from;
    char *out = NULL;

    if (!text)
        return NULL;
    n = strlen(text);
    if (s && s->nodes) {
        for (i = 0; i < n; i++) {
            size_t len;
            state = ac_step(s->nodes, state, (unsigned char)text[i]);
            len = s->nodes[state].match_len;
            if (len && push_span(&spans, &nspans, &cap, i + 1 - len, i + 1))
                goto done;
        }
    }
    for (i = 0; i < nspans; i++)
        covered += spans[i].end - spans[i].start;
    /* each span covers at least one byte, so the result is at most 3n bytes */
    if (n > (SIZE_MAX - 1) / 3)
        goto done;
    out = malloc(n - covered + 3 * nspans + 1);
    if (!out)
        goto done;
    for (i = 0, o = 0, from = 0; i < nspans; i++) {
        memcpy(out + o, text + from, spans[i].start - from);
        o += spans[i].start - from;
        memcpy(out + o, "***", 3);
        o += 3;
        from = spans[i].end;
    }
    memcpy(out + o, text + from, n - from);
    o += n - from;
    out[o] = '\0';

done:
    free(spans);
    return out;
}
