/* RFC 9535 JSONPath over jansson values: compile once at load time, evaluate
 * many times against response bodies. No I/O. */
#ifndef TWINPROBE_JSONPATH_H
#define TWINPROBE_JSONPATH_H

#include <jansson.h>
#include <stddef.h>

#include "twinprobe/error.h"

typedef struct tp_jsonpath tp_jsonpath; /* a compiled query (opaque) */

/* Deepest nesting of filters, parentheses and function calls a query may use;
 * deeper input is refused with TP_ERR_LIMIT rather than risking the stack. */
#define TP_JSONPATH_MAX_DEPTH 64

/* A node list: the values a query selected, in RFC 9535 order, duplicates kept.
 * values[i] are borrowed from the document passed to tp_jsonpath_eval and live as
 * long as it does. paths[i] (when asked for) are normalized paths ("$['a'][0]"),
 * owned by the list. */
struct tp_jsonpath_nodes {
    json_t **values;
    char **paths; /* NULL unless want_paths */
    size_t count;
    size_t cap;
};

/* Compiles expr (NUL-terminated, UTF-8). On success *out is new (free with
 * tp_jsonpath_free). On failure returns TP_ERR_INVALID, *out is NULL, and
 * err->text says what is wrong and err->column the 1-based character offset in
 * expr where it was found. Rejects everything RFC 9535 rejects (well-typedness of
 * function expressions included). err->path gets (a prefix of) expr itself.
 * Also returns TP_ERR_LIMIT for nesting deeper than TP_JSONPATH_MAX_DEPTH and
 * TP_ERR_NOMEM when out of memory, with the same err fields. */
tp_err tp_jsonpath_compile(const char *expr, tp_jsonpath **out, struct tp_error *err);

/* tp_jsonpath_compile with a message for people that names the language and the
 * position: "JSONPath does not compile at character 11: expected a selector ...".
 * Same results and ownership as tp_jsonpath_compile. */
tp_err tp_jsonpath_compile_for_people(const char *expr, tp_jsonpath **out, struct tp_error *err);

/* Frees a compiled query; NULL is a no-op. */
void tp_jsonpath_free(tp_jsonpath *q);

/* The source text the query was compiled from (borrowed). */
const char *tp_jsonpath_source(const tp_jsonpath *q);

/* Evaluates q against root (borrowed). out must be zeroed or previously cleared;
 * it is appended to. With want_paths, also records each node's normalized path.
 * Returns TP_OK, TP_ERR_NOMEM, or TP_ERR_LIMIT when match() and search() went
 * past the bounds of rematch.h (one TP_REGEX_BUDGET for all their calls in this
 * evaluation); on failure out is left as it was. */
tp_err tp_jsonpath_eval(const tp_jsonpath *q, json_t *root, int want_paths,
                        struct tp_jsonpath_nodes *out);

/* The normalized path of a child (RFC 9535 §2.7): parent + "['key']" with the
 * escapes (\b \f \n \r \t \' \\ \uXXXX), or parent + "[idx]" when key is
 * NULL. key may hold NUL bytes (key_len counts them). New string, NULL on no memory. */
char *tp_jsonpath_child_path(const char *parent, const char *key, size_t key_len, size_t idx);

/* Releases what a node list owns and zeroes it; the values stay with their document. */
void tp_jsonpath_nodes_clear(struct tp_jsonpath_nodes *nodes);

#endif
