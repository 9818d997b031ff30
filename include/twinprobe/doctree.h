/* A parsed HTML or XML document as the body comparison (diff.c) walks it: the
 * elements and the texts that are not blank, breadth first, each with the hash
 * of its whole subtree and the step of its XPath-like path, and the nodes that
 * compare.ignore's XPaths select. The document is borrowed. Pure: no I/O. */
#ifndef TWINPROBE_DOCTREE_H
#define TWINPROBE_DOCTREE_H

#include <stddef.h>
#include <stdint.h>

#include "twinprobe/error.h"
#include "twinprobe/strbuf.h"

struct _xmlDoc;  /* libxml2's xmlDoc */
struct _xmlNode; /* libxml2's xmlNode */
struct _xmlAttr; /* libxml2's xmlAttr */

#define TP_DOCTREE_MAX_NODES 100000 /* elements and texts in one tree */
#define TP_DOCTREE_MAX_DEPTH 1024   /* levels below the document */

struct tp_docnode {
    struct _xmlNode *node; /* element, text or CDATA; the document itself at index 0 */
    int is_text;           /* a text (or CDATA) node */
    uint64_t hash;         /* of the whole subtree: names, attributes, normalized texts */
    size_t first, count;   /* the children: n[first .. first + count) */
    size_t text, len;      /* a text's normalized form: texts.data + text, len bytes */
    unsigned depth;
    unsigned pos, same;    /* 1-based place among the siblings of its name (a text:
                              among the text siblings), and how many there are */
    const char *pred;      /* "id", "name" or "rel" when that attribute's value tells
                              it from the siblings of its name, else NULL */
};

struct tp_doctree {
    struct _xmlDoc *doc;   /* borrowed */
    struct tp_docnode *n;  /* breadth first: a node's children are contiguous */
    size_t count, cap;
    struct tp_strbuf texts;
    void **ignored;        /* the nodes the ignore XPaths select, sorted */
    size_t nignored;
};

/* Builds *t (zeroed by the caller) from doc, which must outlive it, and
 * evaluates the n compiled ignore XPaths (xmlXPathCompExprPtr) on it; one that
 * fails to evaluate selects nothing. Comments, processing instructions and the
 * doctype are left out, and so are blank texts; a text is kept normalized (runs
 * of whitespace as one space, none at either end). Returns TP_OK, TP_ERR_NOMEM,
 * or TP_ERR_LIMIT past TP_DOCTREE_MAX_NODES nodes or TP_DOCTREE_MAX_DEPTH levels.
 * t is safe to clear whatever it returns. */
tp_err tp_doctree_build(struct tp_doctree *t, struct _xmlDoc *doc, void *const *xpaths,
                        size_t n);

void tp_doctree_clear(struct tp_doctree *t); /* frees and zeroes; NULL is a no-op */

/* Why compiled XPath comp (xmlXPathCompExprPtr) cannot be an ignore XPath, found
 * by evaluating it once on an empty document: "yields a number" (a string, a
 * boolean), "does not evaluate (...)"; NULL when it selects nodes. *nomem is set
 * when memory ran out (then NULL). For the loader, which checks at load time. */
const char *tp_doctree_xpath_problem(void *comp, int *nomem);

/* 1 when an ignore XPath selected node (an element, text or attribute of t's document). */
int tp_doctree_selected(const struct tp_doctree *t, const void *node);

/* 1 when node x of a and node y of b are of one kind: two texts, or two
 * elements of one name (and namespace). */
int tp_doctree_same_kind(const struct tp_doctree *a, size_t x, const struct tp_doctree *b,
                         size_t y);

/* Appends the step of node x to b: "/name", "/name[@id='v']" (or name, rel; in
 * double quotes when v holds a single quote), "/name[2]", "/text()",
 * "/text()[2]", "/prefix:name" for an XML namespace prefix. 0, or -1 when out of
 * memory. */
int tp_doctree_add_step(struct tp_strbuf *b, const struct tp_doctree *t, size_t x);

/* Appends node x as a value: an element as its markup, a text normalized. 0, or -1. */
int tp_doctree_add_value(struct tp_strbuf *b, const struct tp_doctree *t, size_t x);

/* The value of attribute a: borrowed when it is one text node (as parsers make
 * it), else new in *owned (free with xmlFree); NULL when out of memory. */
const char *tp_doctree_attr_value(struct _xmlAttr *a, unsigned char **owned);

/* FNV-1a over n bytes, from h (TP_HASH_OFFSET to start): the subtree hashes,
 * and diff.c's line hashes. */
#define TP_HASH_OFFSET 14695981039346656037u
uint64_t tp_hash_bytes(uint64_t h, const void *p, size_t n);

#endif
