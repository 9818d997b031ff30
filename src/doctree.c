/* Documents as the body comparison walks them: breadth-first nodes with
 * subtree hashes, sibling places for paths, and the nodes ignore XPaths select. */
#include "twinprobe/doctree.h"

#include <stdlib.h>
#include <string.h>

#include <libxml/HTMLtree.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>

#include "twinprobe/extract.h"

uint64_t tp_hash_bytes(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 1099511628211u;
    return h;
}

static int is_text(xmlNodePtr x)
{
    return x->type == XML_TEXT_NODE || x->type == XML_CDATA_SECTION_NODE;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

/* Appends s with its whitespace runs as one space and none at either end: the
 * form in which texts are compared, so that whitespace alone is no difference. */
static int add_normalized(struct tp_strbuf *b, const char *s)
{
    int space = 0;
    size_t start = b->len;

    for (; s && *s; s++) {
        if (is_space(*s)) {
            space = 1;
            continue;
        }
        if ((space && b->len > start && tp_strbuf_add(b, " ", 1)) || tp_strbuf_add(b, s, 1))
            return -1;
        space = 0;
    }
    return 0;
}

const char *tp_doctree_attr_value(struct _xmlAttr *a, unsigned char **owned)
{
    *owned = NULL;
    if (!a->children)
        return "";
    if (a->children->type == XML_TEXT_NODE && !a->children->next)
        return a->children->content ? (const char *)a->children->content : "";
    *owned = xmlNodeListGetString(a->doc, a->children, 1);
    return (const char *)*owned;
}

static int node_add(struct tp_doctree *t, xmlNodePtr x, unsigned depth)
{
    if (t->count == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        struct tp_docnode *p = realloc(t->n, cap * sizeof *p);
        if (!p)
            return -1;
        t->n = p;
        t->cap = cap;
    }
    memset(&t->n[t->count], 0, sizeof t->n[0]);
    t->n[t->count].node = x;
    t->n[t->count].is_text = is_text(x);
    t->n[t->count++].depth = depth;
    return 0;
}

/* Sort keys for the siblings of one node: by name, then by one attribute's value. */
struct sibling {
    const char *name, *value;
    size_t index;
};

static int sibling_cmp(const void *x, const void *y)
{
    const struct sibling *a = x, *b = y;
    int c = strcmp(a->name, b->name);
    if (c == 0 && a->value && b->value)
        c = strcmp(a->value, b->value);
    if (c == 0)
        return a->index < b->index ? -1 : a->index > b->index;
    return c;
}

/* A predicate value must be quotable in XPath 1.0 (no escapes there). */
static int quotable(const char *v)
{
    return !(strchr(v, '\'') && strchr(v, '"'));
}

/* pos/same/pred of the children of node p, from sorting them by name, then by
 * (name, id), (name, name) and (name, rel): an attribute value unique among the
 * siblings of that name names the node in its path. */
static tp_err name_siblings(struct tp_doctree *t, size_t p)
{
    static const char *const preds[] = {"id", "name", "rel"};
    struct tp_docnode *c = t->n + t->n[p].first;
    size_t k = t->n[p].count, texts = 0, ntext = 0;
    struct sibling *s = calloc(k + 1, sizeof *s);

    if (!s)
        return TP_ERR_NOMEM;
    for (size_t i = 0; i < k; i++)
        ntext += is_text(c[i].node);
    for (size_t i = 0; i < k; i++)
        if (is_text(c[i].node)) {
            c[i].pos = (unsigned)++texts;
            c[i].same = (unsigned)ntext;
        }
    for (size_t a = 0; a <= sizeof preds / sizeof preds[0]; a++) {
        size_t n = 0;
        for (size_t i = 0; i < k; i++) {
            xmlAttrPtr attr = NULL;
            if (is_text(c[i].node))
                continue;
            if (a > 0) {
                attr = xmlHasProp(c[i].node, (const xmlChar *)preds[a - 1]);
                if (!attr || !attr->children || attr->children->type != XML_TEXT_NODE ||
                    attr->children->next || !attr->children->content ||
                    !quotable((const char *)attr->children->content))
                    continue;
            }
            s[n].name = (const char *)c[i].node->name;
            s[n].value = attr ? (const char *)attr->children->content : NULL;
            s[n++].index = i;
        }
        qsort(s, n, sizeof *s, sibling_cmp);
        for (size_t i = 0, g; i < n; i = g) {
            for (g = i + 1; g < n && strcmp(s[i].name, s[g].name) == 0 &&
                            (a == 0 || strcmp(s[i].value, s[g].value) == 0);
                 g++)
                ;
            for (size_t r = i; r < g; r++) {
                struct tp_docnode *x = &c[s[r].index];
                if (a == 0) {
                    x->pos = (unsigned)(r - i + 1);
                    x->same = (unsigned)(g - i);
                } else if (g - i == 1 && !x->pred) {
                    x->pred = preds[a - 1];
                }
            }
        }
    }
    free(s);
    return TP_OK;
}

static uint64_t hash_str(uint64_t h, const char *s)
{
    return tp_hash_bytes(h, s, strlen(s) + 1);
}

/* The subtree hashes, children before parents (breadth-first order reversed). */
static tp_err hash_tree(struct tp_doctree *t)
{
    for (size_t i = t->count; i-- > 0;) {
        struct tp_docnode *x = &t->n[i];
        uint64_t h = TP_HASH_OFFSET;
        if (is_text(x->node)) {
            x->hash = tp_hash_bytes(hash_str(h, "#text"), t->texts.data + x->text, x->len);
            continue;
        }
        if (i > 0) {
            h = hash_str(hash_str(h, "#element"), (const char *)x->node->name);
            for (xmlAttrPtr a = x->node->properties; a; a = a->next) {
                xmlChar *owned;
                const char *v = tp_doctree_attr_value(a, &owned);
                if (!v)
                    return TP_ERR_NOMEM;
                h = hash_str(hash_str(h, (const char *)a->name), v);
                xmlFree(owned);
            }
        }
        for (size_t k = 0; k < x->count; k++)
            h = tp_hash_bytes(h, &t->n[x->first + k].hash, sizeof(uint64_t));
        x->hash = h;
    }
    return TP_OK;
}

/* The nodes, breadth first, with their texts and sibling places. */
static tp_err add_nodes(struct tp_doctree *t)
{
    tp_err rc = TP_OK;

    if (node_add(t, (xmlNodePtr)t->doc, 0))
        return TP_ERR_NOMEM;
    for (size_t i = 0; i < t->count && rc == TP_OK; i++) {
        unsigned depth = t->n[i].depth + 1;
        t->n[i].first = t->count;
        for (xmlNodePtr c = t->n[i].node->children; c && rc == TP_OK; c = c->next) {
            size_t at = t->texts.len;
            if (c->type != XML_ELEMENT_NODE && !is_text(c))
                continue; /* comments, processing instructions, the doctype */
            if (is_text(c) && add_normalized(&t->texts, (const char *)c->content))
                rc = TP_ERR_NOMEM;
            else if (is_text(c) && t->texts.len == at)
                continue; /* blank */
            else if (t->count >= TP_DOCTREE_MAX_NODES || depth > TP_DOCTREE_MAX_DEPTH)
                rc = TP_ERR_LIMIT;
            else if (node_add(t, c, depth))
                rc = TP_ERR_NOMEM;
            else if (is_text(c)) {
                t->n[t->count - 1].text = at;
                t->n[t->count - 1].len = t->texts.len - at;
            }
        }
        t->n[i].count = t->count - t->n[i].first;
        if (rc == TP_OK)
            rc = name_siblings(t, i);
    }
    return rc;
}

static int ptr_cmp(const void *x, const void *y)
{
    uintptr_t a = (uintptr_t) * (void *const *)x, b = (uintptr_t) * (void *const *)y;
    return a < b ? -1 : a > b;
}

static void quiet_structured(void *ctx, xmlErrorPtr e)
{
    (void)ctx;
    (void)e;
}

static void quiet_generic(void *ctx, const char *msg, ...)
{
    (void)ctx;
    (void)msg;
}

/* Evaluates comp in ctx with libxml2's reports silenced: the context's own, and
 * its global generic handler, which some evaluation errors (an unknown function)
 * go to, set for the call and restored. NULL when it does not evaluate. */
static xmlXPathObjectPtr eval_quietly(void *comp, xmlXPathContextPtr ctx)
{
    xmlGenericErrorFunc saved = xmlGenericError;
    void *saved_ctx = xmlGenericErrorContext;
    xmlXPathObjectPtr res;

    ctx->error = quiet_structured;
    ctx->opLimit = TP_XPATH_MAX_OPS; /* bounded as an xpath source is (extract.h) */
    ctx->opCount = 0;
    ctx->depth = 0;
    xmlSetGenericErrorFunc(NULL, quiet_generic);
    res = xmlXPathCompiledEval(comp, ctx);
    xmlSetGenericErrorFunc(saved_ctx, saved);
    return res;
}

const char *tp_doctree_xpath_problem(void *comp, int *nomem)
{
    static const char *const types[] = {
        [XPATH_BOOLEAN] = "yields a boolean", [XPATH_NUMBER] = "yields a number",
        [XPATH_STRING] = "yields a string"};
    xmlDocPtr doc = htmlNewDocNoDtD(NULL, NULL);
    xmlXPathContextPtr ctx = doc ? xmlXPathNewContext(doc) : NULL;
    xmlXPathObjectPtr res = NULL;
    const char *why = NULL;

    *nomem = !ctx;
    if (ctx) {
        res = eval_quietly(comp, ctx);
        if (!res)
            why = "does not evaluate (an unknown function or variable?)";
        else if (res->type != XPATH_NODESET)
            why = (size_t)res->type < sizeof types / sizeof types[0] && types[res->type]
                      ? types[res->type]
                      : "yields something other than nodes";
    }
    xmlXPathFreeObject(res);
    xmlXPathFreeContext(ctx);
    xmlFreeDoc(doc);
    return why;
}

/* t->ignored: every node the compare.ignore XPaths select in t's document. An
 * expression that fails to evaluate selects nothing. */
static tp_err select_ignored(struct tp_doctree *t, void *const *xpaths, size_t n)
{
    xmlXPathContextPtr ctx;
    size_t cap = 0;
    tp_err rc = TP_OK;

    if (n == 0)
        return TP_OK;
    if (!(ctx = xmlXPathNewContext(t->doc)))
        return TP_ERR_NOMEM;
    for (size_t i = 0; i < n && rc == TP_OK; i++) {
        xmlXPathObjectPtr res = eval_quietly(xpaths[i], ctx);
        xmlNodeSetPtr set = res && res->type == XPATH_NODESET ? res->nodesetval : NULL;
        for (int k = 0; set && k < set->nodeNr && rc == TP_OK; k++) {
            if (t->nignored == cap) {
                void **p = realloc(t->ignored, (cap ? cap * 2 : 16) * sizeof *p);
                if (!p) {
                    rc = TP_ERR_NOMEM;
                    break;
                }
                t->ignored = p;
                cap = cap ? cap * 2 : 16;
            }
            t->ignored[t->nignored++] = set->nodeTab[k];
        }
        xmlXPathFreeObject(res);
    }
    xmlXPathFreeContext(ctx);
    if (t->nignored)
        qsort(t->ignored, t->nignored, sizeof *t->ignored, ptr_cmp);
    return rc;
}

int tp_doctree_selected(const struct tp_doctree *t, const void *node)
{
    const void *key = node;
    return t->nignored &&
           bsearch(&key, t->ignored, t->nignored, sizeof *t->ignored, ptr_cmp) != NULL;
}

int tp_doctree_add_step(struct tp_strbuf *b, const struct tp_doctree *t, size_t x)
{
    const struct tp_docnode *m = &t->n[x];
    xmlNodePtr node = m->node;
    xmlAttrPtr attr;

    if (is_text(node))
        return m->same > 1 ? tp_strbuf_addf(b, "/text()[%u]", m->pos) : tp_strbuf_str(b, "/text()");
    if (tp_strbuf_str(b, "/") ||
        (node->ns && node->ns->prefix && tp_strbuf_addf(b, "%s:", (const char *)node->ns->prefix)) ||
        tp_strbuf_str(b, (const char *)node->name))
        return -1;
    if (m->pred && (attr = xmlHasProp(node, (const xmlChar *)m->pred)) != NULL) {
        const char *v = (const char *)attr->children->content;
        char q = strchr(v, '\'') ? '"' : '\'';
        return tp_strbuf_addf(b, "[@%s=%c%s%c]", m->pred, q, v, q);
    }
    return m->same > 1 ? tp_strbuf_addf(b, "[%u]", m->pos) : 0;
}

int tp_doctree_add_value(struct tp_strbuf *b, const struct tp_doctree *t, size_t x)
{
    const struct tp_docnode *m = &t->n[x];
    xmlOutputBufferPtr out;
    int rc;

    if (m->is_text)
        return tp_strbuf_add(b, t->texts.data + m->text, m->len);
    if (!(out = xmlAllocOutputBuffer(NULL)))
        return -1;
    if (t->doc->type == XML_HTML_DOCUMENT_NODE)
        htmlNodeDumpFormatOutput(out, t->doc, m->node, NULL, 0);
    else
        xmlNodeDumpOutput(out, t->doc, m->node, 0, 0, NULL);
    rc = out->error ? -1
                    : tp_strbuf_add(b, xmlOutputBufferGetContent(out), xmlOutputBufferGetSize(out));
    xmlOutputBufferClose(out);
    return rc;
}

tp_err tp_doctree_build(struct tp_doctree *t, struct _xmlDoc *doc, void *const *xpaths,
                        size_t n)
{
    tp_err rc;

    t->doc = doc;
    rc = add_nodes(t);
    if (rc == TP_OK)
        rc = hash_tree(t);
    if (rc == TP_OK)
        rc = select_ignored(t, xpaths, n);
    return rc;
}

void tp_doctree_clear(struct tp_doctree *t)
{
    if (!t)
        return;
    free(t->n);
    tp_strbuf_free(&t->texts);
    free(t->ignored);
    memset(t, 0, sizeof *t);
}

int tp_doctree_same_kind(const struct tp_doctree *a, size_t x, const struct tp_doctree *b,
                         size_t y)
{
    xmlNodePtr p = a->n[x].node, q = b->n[y].node;
    if (a->n[x].is_text || b->n[y].is_text)
        return a->n[x].is_text && b->n[y].is_text;
    return strcmp((const char *)p->name, (const char *)q->name) == 0 && (!p->ns) == (!q->ns) &&
           (!p->ns || xmlStrEqual(p->ns->href, q->ns->href));
}
