/* Type-checked reading of JSON objects for the journey and probe loaders: a table
 * of allowed keys with their types, unknown keys reported with a did-you-mean,
 * and JSON paths for messages ("steps[2].expect[1]"). No I/O. */
#ifndef TWINPROBE_SCHEMA_H
#define TWINPROBE_SCHEMA_H

#include <jansson.h>
#include <stddef.h>

#include "twinprobe/diag.h"

enum {
    TP_T_STRING = 1u << 0,
    TP_T_INTEGER = 1u << 1,
    TP_T_NUMBER = 1u << 2, /* integer or real */
    TP_T_BOOL = 1u << 3,
    TP_T_OBJECT = 1u << 4,
    TP_T_ARRAY = 1u << 5,
    TP_T_NULL = 1u << 6,
    TP_T_ANY = 0x7fu
};

struct tp_field {
    const char *key;
    unsigned types;  /* TP_T_* mask */
    int required;
};

/* Where problems go: the file named in messages and the list they land in. */
struct tp_schema {
    const char *file;
    struct tp_diags *diags;
};

/* 1 when v's type is in the mask. */
int tp_schema_is(const json_t *v, unsigned types);

/* "string", "integer", "number", "boolean", "object", "array", "null". */
const char *tp_schema_type_name(const json_t *v);

/* Checks obj against fields: every key known (else `unknown key "x" (did you mean
 * "y"?)`), every required key present, every present key of an allowed type.
 * what names the object in messages ("step", "request"). Returns the number of
 * problems reported (0 = fine). obj must be an object. */
size_t tp_schema_check(const struct tp_schema *s, const json_t *obj, const char *path,
                       const char *what, const struct tp_field *fields, size_t nfields);

/* The name in names closest to word by edit distance (transpositions count one),
 * if close enough to be a likely typo; else NULL. Borrowed from names. */
const char *tp_schema_suggest(const char *word, const char *const *names, size_t n);

/* The did-you-mean every message uses: " (did you mean \"x\"?)" when a name in
 * names is likely meant by word, else "". First a table of words people write for
 * another key ("data" for "body" or "json", "params" for "query"), whose answers
 * count only when they are among names (" (did you mean \"body\" or \"json\"?)");
 * else tp_schema_suggest. Into buf (truncated, NUL-terminated); returns buf. */
const char *tp_schema_did_you_mean(const char *word, const char *const *names, size_t n,
                                   char *buf, size_t size);

/* Parses a whole file's bytes as one JSON object (duplicate keys refused). An empty
 * file, one over max_bytes, a syntax error (with line:column), nesting past
 * jansson's depth limit, bytes that are not UTF-8 text and a non-object are each
 * reported; then NULL. what names the file's kind ("journey", "probe file").
 * Returns a new reference. */
json_t *tp_schema_parse(const struct tp_schema *s, const char *bytes, size_t len,
                        size_t max_bytes, const char *what);

/* obj[key] when it is an integer (or, for _number, any number) within [lo, hi];
 * fallback when absent or of another type (the type error is tp_schema_check's);
 * out of range is reported at path.key, then fallback. */
long tp_schema_int(const struct tp_schema *s, const json_t *obj, const char *key,
                   const char *path, long lo, long hi, long fallback);
double tp_schema_number(const struct tp_schema *s, const json_t *obj, const char *key,
                        const char *path, double lo, double hi, double fallback);

/* A new copy of str; on no memory reports it at path and returns NULL. */
char *tp_schema_strdup(const struct tp_schema *s, const char *path, const char *str);

/* Reports `path: text` into s->diags. */
void tp_schema_error(const struct tp_schema *s, const char *path, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Child paths: parent + ".key" (or "[\"odd key\"]" when key is not an identifier),
 * parent + "[index]". An empty parent gives "key" alone. Always NUL-terminated. */
void tp_path_key(char *buf, size_t size, const char *parent, const char *key);
void tp_path_index(char *buf, size_t size, const char *parent, size_t index);

#endif
