/* Value sources: what a capture or an expectation reads from a response
 * (status, header, cookie, jsonpath, xpath, regex, body, url, size and timings).
 * Expressions are compiled once at load time (tp_source_compile) and evaluated
 * against a finished response held in memory. No I/O. */
#ifndef TWINPROBE_EXTRACT_H
#define TWINPROBE_EXTRACT_H

#include <stddef.h>

#include <jansson.h>

#include "twinprobe/error.h"
#include "twinprobe/jsonpath.h"

enum tp_source_kind {
    TP_SRC_STATUS,
    TP_SRC_HEADER,     /* arg: header name (case-insensitive) */
    TP_SRC_COOKIE,     /* arg: cookie name */
    TP_SRC_JSONPATH,   /* arg: RFC 9535 query */
    TP_SRC_XPATH,      /* arg: XPath 1.0 expression (HTML or XML body) */
    TP_SRC_REGEX,      /* arg: PCRE2 pattern; group 1, else the whole match */
    TP_SRC_BODY,
    TP_SRC_URL,        /* effective URL */
    TP_SRC_SIZE_BYTES,
    TP_SRC_DURATION_MS,
    TP_SRC_TTFB_MS,
    TP_SRC_DNS_MS,
    TP_SRC_CONNECT_MS,
    TP_SRC_TLS_MS,
    TP_SRC_COUNT_
};

/* The table behind the names a journey file uses. */
struct tp_source_info {
    const char *name;     /* "status", "header", ... */
    enum tp_source_kind kind;
    int has_arg;          /* 1: {"header": "Location", ...}; 0: {"status": 200} */
};

/* The source named name, or NULL. */
const struct tp_source_info *tp_source_lookup(const char *name);
/* All sources, in table order; *count set. */
const struct tp_source_info *tp_source_table(size_t *count);

struct tp_regex; /* a compiled PCRE2 pattern (opaque) */

struct tp_source {
    enum tp_source_kind kind;
    char *arg;               /* owned; NULL for argument-less sources */
    tp_jsonpath *jsonpath;   /* TP_SRC_JSONPATH */
    void *xpath;             /* TP_SRC_XPATH: xmlXPathCompExprPtr */
    struct tp_regex *regex;  /* TP_SRC_REGEX */
};

/* Sets src->kind and a copy of arg, and compiles the expression the kind needs.
 * On failure src holds nothing (tp_source_clear is still safe) and err->text
 * says why ("XPath does not compile: Invalid expression", "regex does not compile
 * at offset 3: missing closing parenthesis"): TP_ERR_INVALID, or TP_ERR_NOMEM
 * when memory ran out (in libxml2 and PCRE2 too). */
tp_err tp_source_compile(struct tp_source *src, enum tp_source_kind kind, const char *arg,
                         struct tp_error *err);

/* Frees what src owns and zeroes it. */
void tp_source_clear(struct tp_source *src);

struct tp_response;

/* Bounds of an XPath source (STYLE 14), enforced by tp_source_compile and
 * tp_source_eval:
 *   TP_XPATH_MAX_BODY     bytes of body parsed as HTML or XML for XPath; a larger
 *                         body is not parsed (the source fails too_expensive; the
 *                         body diff compares it by line);
 *   TP_XPATH_MAX_SHAPE    nodes x ancestor-descendant pairs (the sum of the nodes'
 *                         depths) of the parsed document: what one descendant
 *                         step (//d//d) can cost libxml2's duplicate checks, which
 *                         its opLimit does not count. 70 KB of <d> nested 250 deep
 *                         (1.25e10, 4.5 s) is refused; a page of 5,000 nodes 15
 *                         deep (4e8) is far below. A larger document fails the
 *                         XPath source too_expensive (the body diff compares it);
 *   TP_XPATH_MAX_OPS      libxml2 operations (steps and nodes visited) of one
 *                         evaluation (xmlXPathContext.opLimit): count(//d//d) over
 *                         thousands of nested elements stops there, within about
 *                         half a second;
 *   TP_XPATH_MAX_NESTING  parentheses and predicates nested in an expression
 *                         (libxml2's recursion limit, counted when compiling with a
 *                         context): deeper ones are a compile error, not a stack
 *                         overflow. */
#define TP_XPATH_MAX_BODY (4u << 20)
#define TP_XPATH_MAX_SHAPE 2000000000ULL
#define TP_XPATH_MAX_OPS 20000000UL
#define TP_XPATH_MAX_NESTING 500

/* What a source read: value is a new reference (string, number, boolean, null,
 * array or object), or NULL when nothing was found (no such header or cookie, an
 * empty node list, no regex match, a body that is not JSON for jsonpath). count
 * is the number of nodes for jsonpath and xpath node sets (for `count`), 1 for a
 * single found value, 0 when nothing was found. */
struct tp_value {
    json_t *value;
    size_t count;
};

/* Reads src from resp (parsing the body once, cached in resp). Values: status,
 * size_bytes and timings are numbers (timings in ms); header, cookie, body, url
 * strings; jsonpath the first node's JSON value; xpath the string value of the
 * first node, or the number/boolean/string an expression yields; regex group 1,
 * else the whole match. Returns TP_OK (found or not), or TP_ERR_NOMEM /
 * TP_ERR_INVALID (an XPath that fails at evaluation) / TP_ERR_LIMIT (the work
 * went past a bound: rematch.h for regex, TP_XPATH_* below for XPath; the step
 * fails too_expensive) with err->text. */
tp_err tp_source_eval(const struct tp_source *src, struct tp_response *resp,
                      struct tp_value *out, struct tp_error *err);

/* The body of r parsed as JSON (any value; NULs allowed in strings), parsed on
 * first use and cached in r->json / r->json_state as the sources do. Borrowed:
 * lives until tp_response_clear(r). NULL when the body is not JSON, or when
 * memory ran out (r->json_state is then still 0, so a later call tries again). */
json_t *tp_response_json(struct tp_response *r);

/* Releases out->value and zeroes out. */
void tp_value_clear(struct tp_value *v);

/* "status", "header Location", "jsonpath $.cart.id": the source as a person
 * reads it in a failure message, into buf (truncated, NUL-terminated). */
const char *tp_source_describe(const struct tp_source *src, char *buf, size_t size);

/* Matches subject against re: returns 1 and sets *start and *match_len to group 1
 * (else the whole match) when it matches, 0 when not, -2 when the match went past
 * the bounds of rematch.h (TP_REGEX_BUDGET steps across all start positions,
 * TP_REGEX_MAX_SUBJECT bytes, PCRE2's match, depth and heap limits), -1 on another
 * matching error (no memory). tp_regex_search has a budget of its own;
 * tp_regex_search_budget takes its steps from *budget, shared by the matches of
 * one evaluation (diff.c's ignore lines). */
int tp_regex_search(const struct tp_regex *re, const char *subject, size_t len, size_t *start,
                    size_t *match_len);
int tp_regex_search_budget(const struct tp_regex *re, const char *subject, size_t len,
                           unsigned long *budget, size_t *start, size_t *match_len);

/* A new JSON string from len bytes that need not be valid UTF-8 (response bodies):
 * each byte that is not part of a well-formed UTF-8 sequence becomes U+FFFD
 * (tp_utf8_repair). Embedded NULs are kept. NULL on no memory. */
json_t *tp_value_string(const char *s, size_t len);

/* PCRE2 patterns for sources and the `matches` predicate (UTF mode; subjects that
 * are not valid UTF-8 are matched too, never across an invalid byte).
 * TP_ERR_INVALID for a pattern that does not compile, TP_ERR_NOMEM. */
tp_err tp_regex_compile(const char *pattern, struct tp_regex **out, struct tp_error *err);
void tp_regex_free(struct tp_regex *re); /* NULL is a no-op */

#endif
