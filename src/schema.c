/* Type-checked JSON object reading with did-you-mean suggestions. */
#include "twinprobe/schema.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int tp_schema_is(const json_t *v, unsigned types)
{
    switch (json_typeof(v)) {
    case JSON_STRING:
        return (types & TP_T_STRING) != 0;
    case JSON_INTEGER:
        return (types & (TP_T_INTEGER | TP_T_NUMBER)) != 0;
    case JSON_REAL:
        return (types & TP_T_NUMBER) != 0;
    case JSON_TRUE:
    case JSON_FALSE:
        return (types & TP_T_BOOL) != 0;
    case JSON_OBJECT:
        return (types & TP_T_OBJECT) != 0;
    case JSON_ARRAY:
        return (types & TP_T_ARRAY) != 0;
    case JSON_NULL:
        return (types & TP_T_NULL) != 0;
    }
    return 0;
}

const char *tp_schema_type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_STRING:
        return "string";
    case JSON_INTEGER:
        return "integer";
    case JSON_REAL:
        return "number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "boolean";
    case JSON_OBJECT:
        return "object";
    case JSON_ARRAY:
        return "array";
    case JSON_NULL:
        return "null";
    }
    return "?";
}

/* The allowed types as words: "string or integer". */
static void types_text(unsigned types, char *buf, size_t size)
{
    static const struct {
        unsigned bit;
        const char *name;
    } names[] = {{TP_T_STRING, "string"}, {TP_T_INTEGER, "integer"}, {TP_T_NUMBER, "number"},
                 {TP_T_BOOL, "boolean"},  {TP_T_OBJECT, "object"},   {TP_T_ARRAY, "array"},
                 {TP_T_NULL, "null"}};
    size_t used = 0, k = 0;
    buf[0] = '\0';
    if ((types & TP_T_NUMBER) && (types & TP_T_INTEGER))
        types &= ~(unsigned)TP_T_INTEGER;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (!(types & names[i].bit))
            continue;
        int n = snprintf(buf + used, size - used, "%s%s", k++ ? " or " : "", names[i].name);
        if (n < 0 || (size_t)n >= size - used)
            return;
        used += (size_t)n;
    }
}

void tp_schema_error(const struct tp_schema *s, const char *path, const char *fmt, ...)
{
    struct tp_error e;
    va_list ap;
    tp_error_clear(&e);
    snprintf(e.file, sizeof e.file, "%s", s->file ? s->file : "");
    snprintf(e.path, sizeof e.path, "%s", path ? path : "");
    va_start(ap, fmt);
    vsnprintf(e.text, sizeof e.text, fmt, ap);
    va_end(ap);
    tp_diags_add(s->diags, &e);
}

size_t tp_schema_check(const struct tp_schema *s, const json_t *obj, const char *path,
                       const char *what, const struct tp_field *fields, size_t nfields)
{
    const char *names[64];
    size_t problems = 0, nnames = nfields < 64 ? nfields : 64;
    const char *key;
    json_t *value;
    char sub[256];

    for (size_t i = 0; i < nnames; i++)
        names[i] = fields[i].key;
    json_object_foreach((json_t *)obj, key, value) {
        size_t i;
        for (i = 0; i < nfields; i++)
            if (strcmp(fields[i].key, key) == 0)
                break;
        if (i == nfields) {
            char hint[128];
            tp_schema_error(s, path, "unknown key \"%s\" in %s%s", key, what,
                            tp_schema_did_you_mean(key, names, nnames, hint, sizeof hint));
            problems++;
            continue;
        }
        if (!tp_schema_is(value, fields[i].types)) {
            char want[96];
            types_text(fields[i].types, want, sizeof want);
            tp_path_key(sub, sizeof sub, path, key);
            tp_schema_error(s, sub, "expected %s, got %s", want, tp_schema_type_name(value));
            problems++;
        }
    }
    for (size_t i = 0; i < nfields; i++) {
        if (fields[i].required && !json_object_get(obj, fields[i].key)) {
            tp_schema_error(s, path, "missing required key \"%s\" in %s", fields[i].key, what);
            problems++;
        }
    }
    return problems;
}

/* Optimal string alignment distance, bounded: returns limit+1 when above limit. */
static size_t edit_distance(const char *a, const char *b, size_t limit)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t *block, *prev2, *prev, *cur, result;
    if (la > 64 || lb > 64)
        return limit + 1;
    if ((la > lb ? la - lb : lb - la) > limit)
        return limit + 1;
    block = calloc(3 * (lb + 1), sizeof *block);
    if (!block)
        return limit + 1;
    prev2 = block;
    prev = prev2 + lb + 1;
    cur = prev + lb + 1;
    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]);
            size_t best = prev[j] + 1;
            if (cur[j - 1] + 1 < best)
                best = cur[j - 1] + 1;
            if (prev[j - 1] + cost < best)
                best = prev[j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                prev2[j - 2] + 1 < best)
                best = prev2[j - 2] + 1;
            cur[j] = best;
        }
        size_t *t = prev2;
        prev2 = prev;
        prev = cur;
        cur = t;
    }
    result = prev[lb];
    free(block);
    return result;
}

const char *tp_schema_suggest(const char *word, const char *const *names, size_t n)
{
    size_t len = strlen(word);
    size_t limit = len <= 3 ? 1 : len <= 6 ? 2 : 3;
    size_t best = limit + 1;
    const char *hint = NULL;
    for (size_t i = 0; i < n; i++) {
        size_t d = edit_distance(word, names[i], limit);
        if (d < best) {
            best = d;
            hint = names[i];
        }
    }
    return hint;
}

/* Words written for another key, which edit distance cannot find. */
static const struct {
    const char *word;
    const char *meant[3]; /* suggested in this order when among the names */
} synonyms[] = {
    {"data", {"body", "json"}},
    {"payload", {"json", "body"}},
    {"params", {"query"}},
    {"parameters", {"query"}},
    {"query_params", {"query"}},
    {"qs", {"query"}},
    {"uri", {"url"}},
    {"path", {"url"}},
    {"verb", {"method"}},
    {"form_data", {"form", "multipart"}},
    {"files", {"multipart"}},
    {"authorization", {"auth"}},
    {"credentials", {"auth"}},
    {"basic_auth", {"auth"}},
    {"username", {"user"}},
    {"login", {"user"}},
    {"pass", {"password"}},
    {"passwd", {"password"}},
    {"assert", {"expect"}},
    {"asserts", {"expect"}},
    {"assertions", {"expect"}},
    {"checks", {"expect"}},
    {"extract", {"capture"}},
    {"vars", {"variables"}},
};

static int among(const char *name, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0)
            return 1;
    return 0;
}

const char *tp_schema_did_you_mean(const char *word, const char *const *names, size_t n,
                                   char *buf, size_t size)
{
    const char *found[3];
    size_t nfound = 0, used;

    for (size_t i = 0; i < sizeof synonyms / sizeof synonyms[0] && nfound == 0; i++) {
        if (strcmp(synonyms[i].word, word) != 0)
            continue;
        for (size_t k = 0; k < 3 && synonyms[i].meant[k]; k++)
            if (among(synonyms[i].meant[k], names, n))
                found[nfound++] = synonyms[i].meant[k];
    }
    if (nfound == 0 && (found[0] = tp_schema_suggest(word, names, n)) != NULL)
        nfound = 1;
    buf[0] = '\0';
    if (nfound == 0)
        return buf;
    used = (size_t)snprintf(buf, size, " (did you mean");
    for (size_t k = 0; k < nfound && used < size; k++)
        used += (size_t)snprintf(buf + used, size - used, "%s\"%s\"",
                                 k == 0 ? " " : k + 1 == nfound ? " or " : ", ", found[k]);
    if (used < size)
        snprintf(buf + used, size - used, "?)");
    return buf;
}

static int is_identifier(const char *key)
{
    if (!(isalpha((unsigned char)key[0]) || key[0] == '_'))
        return 0;
    for (const char *p = key; *p; p++)
        if (!(isalnum((unsigned char)*p) || *p == '_' || *p == '-'))
            return 0;
    return 1;
}

void tp_path_key(char *buf, size_t size, const char *parent, const char *key)
{
    int plain = is_identifier(key);
    if (!parent || !parent[0])
        snprintf(buf, size, plain ? "%s" : "[\"%s\"]", key);
    else
        snprintf(buf, size, plain ? "%s.%s" : "%s[\"%s\"]", parent, key);
}

void tp_path_index(char *buf, size_t size, const char *parent, size_t index)
{
    snprintf(buf, size, "%s[%zu]", parent ? parent : "", index);
}

/* A control byte outside strings' allowed whitespace means this is no text file:
 * say so plainly rather than as a JSON syntax error. */
static int binary_at(const struct tp_schema *s, const char *bytes, size_t len)
{
    int line = 1, column = 1;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)bytes[i];
        if (c == '\n') {
            line++;
            column = 1;
            continue;
        }
        if ((c < 0x20 && c != '\t' && c != '\r') || c == 0x7f) {
            struct tp_error e;
            tp_error_clear(&e);
            snprintf(e.file, sizeof e.file, "%s", s->file ? s->file : "");
            e.line = line;
            e.column = column;
            snprintf(e.text, sizeof e.text,
                     "not a JSON text: control byte 0x%02x (binary data?)", c);
            tp_diags_add(s->diags, &e);
            return 1;
        }
        column++;
    }
    return 0;
}

json_t *tp_schema_parse(const struct tp_schema *s, const char *bytes, size_t len,
                        size_t max_bytes, const char *what)
{
    json_error_t je;
    json_t *root;
    size_t i;

    for (i = 0; i < len && isspace((unsigned char)bytes[i]); i++)
        ;
    if (i == len) {
        tp_schema_error(s, "", "file is empty: a %s is a JSON object", what);
        return NULL;
    }
    if (len > max_bytes) {
        tp_schema_error(s, "", "file is %zu bytes, over the %zu-byte limit for a %s", len,
                        max_bytes, what);
        return NULL;
    }
    if (binary_at(s, bytes, len))
        return NULL;
    memset(&je, 0, sizeof je); /* jansson leaves the code unset on some failures */
    root = json_loadb(bytes, len, JSON_REJECT_DUPLICATES, &je);
    /* jansson says "out of memory", or nothing at all when its lexer's first
     * allocation fails */
    if (!root && (json_error_code(&je) == json_error_out_of_memory || je.text[0] == '\0')) {
        tp_diags_nomem(s->diags, s->file, "");
        return NULL;
    }
    if (!root) {
        struct tp_error e;
        enum json_error_code code = json_error_code(&je);
        tp_error_clear(&e);
        snprintf(e.file, sizeof e.file, "%s", s->file ? s->file : "");
        e.line = je.line > 0 ? je.line : 0;
        e.column = je.column > 0 ? je.column : 0;
        snprintf(e.text, sizeof e.text, "%s: %s",
                 code == json_error_stack_overflow ? "JSON nested too deeply"
                 : code == json_error_invalid_utf8 || code == json_error_null_character
                     ? "not a JSON text"
                     : "JSON syntax error",
                 je.text);
        tp_diags_add(s->diags, &e);
        return NULL;
    }
    if (!json_is_object(root)) {
        tp_schema_error(s, "", "a %s is a JSON object, got %s", what, tp_schema_type_name(root));
        json_decref(root);
        return NULL;
    }
    return root;
}

long tp_schema_int(const struct tp_schema *s, const json_t *obj, const char *key,
                   const char *path, long lo, long hi, long fallback)
{
    json_t *v = json_object_get(obj, key);
    char sub[256];
    if (!json_is_integer(v))
        return fallback;
    json_int_t n = json_integer_value(v);
    if (n < lo || n > hi) {
        tp_path_key(sub, sizeof sub, path, key);
        tp_schema_error(s, sub, "%lld is out of range (%ld to %ld)", (long long)n, lo, hi);
        return fallback;
    }
    return (long)n;
}

double tp_schema_number(const struct tp_schema *s, const json_t *obj, const char *key,
                        const char *path, double lo, double hi, double fallback)
{
    json_t *v = json_object_get(obj, key);
    char sub[256];
    if (!json_is_number(v))
        return fallback;
    double n = json_number_value(v);
    if (n < lo || n > hi) {
        tp_path_key(sub, sizeof sub, path, key);
        tp_schema_error(s, sub, "%g is out of range (%g to %g)", n, lo, hi);
        return fallback;
    }
    return n;
}

char *tp_schema_strdup(const struct tp_schema *s, const char *path, const char *str)
{
    char *copy = strdup(str);
    if (!copy)
        tp_diags_nomem(s->diags, s->file, path);
    return copy;
}
