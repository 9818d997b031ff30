/* Value sources: what a capture or an expectation reads from a response
 * (status, header, cookie, jsonpath, xpath, regex, body, url, size and timings).
 * Expressions are compiled once at load time (tp_source_compile) and evaluated
 * against a finished response held in memory. No I/O. */
#ifndef TWINPROBE_EXTRACT_H
#define TWINPROBE_EXTRACT_H

#include <stddef.h>

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
 * at offset 3: missing closing parenthesis"). */
tp_err tp_source_compile(struct tp_source *src, enum tp_source_kind kind, const char *arg,
                         struct tp_error *err);

/* Frees what src owns and zeroes it. */
void tp_source_clear(struct tp_source *src);

/* PCRE2 patterns for sources and the `matches` predicate (UTF mode). */
tp_err tp_regex_compile(const char *pattern, struct tp_regex **out, struct tp_error *err);
void tp_regex_free(struct tp_regex *re); /* NULL is a no-op */

#endif
