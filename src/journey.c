/* Journey files: load JSON bytes into the model, validating as it goes. Every
 * problem is reported with its JSON path; loading goes on after a problem so
 * that one pass lists them all. */
#include "twinprobe/journey.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/xpath.h>

#include "twinprobe/doctree.h"
#include "twinprobe/schema.h"

#define PATH_MAX_LEN 256

static const char *const failure_names[TP_FAIL_COUNT_] = {
    NULL,   "dns",       "connect", "tls",           "timeout",  "http",
    "assertion", "capture", "body_too_large", "protocol", "internal", "too_expensive",
};

const char *tp_failure_name(enum tp_failure f)
{
    return (unsigned)f < TP_FAIL_COUNT_ ? failure_names[f] : NULL;
}

enum tp_failure tp_failure_from_name(const char *name)
{
    for (int i = 1; i < TP_FAIL_COUNT_; i++)
        if (strcmp(failure_names[i], name) == 0)
            return (enum tp_failure)i;
    return TP_FAIL_NONE;
}

/* Predicates: name, kind, and the JSON types the expected value may have. */
static const struct pred_info {
    const char *name;
    enum tp_pred_kind kind;
    unsigned types;
} preds[] = {
    {"equals", TP_PRED_EQUALS, TP_T_ANY},
    {"not_equals", TP_PRED_NOT_EQUALS, TP_T_ANY},
    {"lt", TP_PRED_LT, TP_T_NUMBER},
    {"le", TP_PRED_LE, TP_T_NUMBER},
    {"gt", TP_PRED_GT, TP_T_NUMBER},
    {"ge", TP_PRED_GE, TP_T_NUMBER},
    {"contains", TP_PRED_CONTAINS, TP_T_STRING},
    {"not_contains", TP_PRED_NOT_CONTAINS, TP_T_STRING},
    {"matches", TP_PRED_MATCHES, TP_T_STRING},
    {"exists", TP_PRED_EXISTS, TP_T_BOOL},
    {"in", TP_PRED_IN, TP_T_ARRAY},
    {"count", TP_PRED_COUNT, TP_T_INTEGER},
    {"type", TP_PRED_TYPE, TP_T_STRING},
};
#define NPREDS (sizeof preds / sizeof preds[0])

static const char *const type_names[] = {"string", "number", "integer", "boolean",
                                         "null",   "array",  "object"};

const char *tp_pred_name(enum tp_pred_kind k)
{
    for (size_t i = 0; i < NPREDS; i++)
        if (preds[i].kind == k)
            return preds[i].name;
    return "?";
}

static const struct pred_info *pred_lookup(const char *name)
{
    for (size_t i = 0; i < NPREDS; i++)
        if (strcmp(preds[i].name, name) == 0)
            return &preds[i];
    return NULL;
}

/* Names a template may use at one point of the file: variables so far, captures
 * of earlier steps (and, for expectations, of the step itself). */
struct names {
    char **items;
    size_t count, cap;
};

struct loader {
    struct tp_schema s;
    struct tp_journey *j;
    struct names defined;
    struct names variables; /* journey variables and names given outside the file */
    struct names warned;    /* names the current step was warned about */
    json_t *steps_json;     /* for "captured later" hints */
    int in_always;          /* loading an `always` step */
    const struct tp_journey_opts *opts; /* names given outside the file, or NULL */
};

static int names_has(const struct names *n, const char *name)
{
    for (size_t i = 0; i < n->count; i++)
        if (strcmp(n->items[i], name) == 0)
            return 1;
    return 0;
}

/* Adds name (a NULL name, whose copy already failed, is left out). -1 on no memory. */
static int names_add(struct names *n, const char *name)
{
    if (!name || names_has(n, name))
        return 0;
    if (n->count == n->cap) {
        size_t cap = n->cap ? n->cap * 2 : 16;
        char **items = realloc(n->items, cap * sizeof *items);
        if (!items)
            return -1;
        n->items = items;
        n->cap = cap;
    }
    n->items[n->count] = strdup(name);
    if (!n->items[n->count])
        return -1;
    n->count++;
    return 0;
}

static void names_free(struct names *n)
{
    for (size_t i = 0; i < n->count; i++)
        free(n->items[i]);
    free(n->items);
    memset(n, 0, sizeof *n);
}

/* Which step (index >= from) captures name, or -1. */
static long captured_later(const struct loader *L, const char *name, size_t from)
{
    for (size_t i = from; i < json_array_size(L->steps_json); i++) {
        json_t *cap = json_object_get(json_array_get(L->steps_json, i), "capture");
        if (json_is_object(cap) && json_object_get(cap, name))
            return (long)i;
    }
    return -1;
}

/* " (did you mean ...)" for an undefined name: a name defined so far, a built-in,
 * or a name some step captures. */
static const char *name_hint(const struct loader *L, const char *name, char *buf, size_t size)
{
    size_t nbuiltins, nsteps = json_array_size(L->steps_json), n = 0, cap;
    const char *const *builtins = tp_template_builtins(&nbuiltins);
    const char **names;
    const char *key;
    json_t *value;

    cap = L->defined.count + nbuiltins;
    for (size_t i = 0; i < nsteps; i++)
        cap += json_object_size(json_object_get(json_array_get(L->steps_json, i), "capture"));
    buf[0] = '\0';
    names = malloc((cap + 1) * sizeof *names);
    if (!names)
        return buf; /* a hint is not worth a failure */
    for (size_t i = 0; i < L->defined.count; i++)
        names[n++] = L->defined.items[i];
    for (size_t i = 0; i < nbuiltins; i++)
        names[n++] = builtins[i];
    for (size_t i = 0; i < nsteps; i++) {
        json_t *captures = json_object_get(json_array_get(L->steps_json, i), "capture");
        json_object_foreach(captures, key, value) {
            names[n++] = key;
        }
    }
    tp_schema_did_you_mean(name, names, n, buf, size);
    free(names);
    return buf;
}

/* A step that a failure of an earlier step skips: not `always`, and some step
 * before it stops the journey when it fails (no continue_on_failure). */
static int skippable(const struct tp_journey *j, size_t k)
{
    if (j->steps[k].always)
        return 0;
    for (size_t m = 0; m < k; m++)
        if (!j->steps[m].continue_on_failure)
            return 1;
    return 0;
}

/* Warns when the `always` step being loaded uses a capture that only skippable
 * steps make: after a failure the name is undefined and the step fails. */
static void warn_skipped_capture(struct loader *L, const char *path, const char *name)
{
    const struct tp_journey *j = L->j;
    long from = -1;

    if (names_has(&L->variables, name) || names_has(&L->warned, name))
        return;
    for (size_t c = 0; j->nsteps > 0 && c < j->steps[j->nsteps - 1].ncaptures; c++) {
        const char *own = j->steps[j->nsteps - 1].captures[c].name;
        if (own && strcmp(own, name) == 0)
            return; /* its own capture, in its expectations */
    }
    for (size_t k = 0; j->nsteps > 0 && k + 1 < j->nsteps; k++) {
        for (size_t c = 0; c < j->steps[k].ncaptures; c++) {
            if (!j->steps[k].captures[c].name || strcmp(j->steps[k].captures[c].name, name) != 0)
                continue;
            if (!skippable(j, k))
                return;
            from = (long)k;
        }
    }
    if (from < 0 || names_add(&L->warned, name) != 0)
        return;
    tp_diags_warnf(L->s.diags, L->s.file, path,
                   "an always step uses \"%s\", captured by steps[%ld] (\"%s\"), which an "
                   "earlier failure skips: then this step fails too; give a default "
                   "({{%s|...}}) or capture it in a step that always runs",
                   name, from, j->steps[from].name ? j->steps[from].name : "", name);
}

/* Checks that every {{name}} t uses is defined at this point (a name with a
 * default need not be). step_index is where "later" captures start (for the
 * hint). Returns 0, or -1 after reporting a problem. */
static int check_names(struct loader *L, const char *path, const tp_template *t,
                       size_t step_index)
{
    size_t nparts;
    const struct tp_tpl_part *parts = tp_template_parts(t, &nparts);
    char hint[128];
    int bad = 0;

    for (size_t i = 0; i < nparts; i++) {
        if (parts[i].kind != TP_TPL_VAR || parts[i].fallback)
            continue;
        if (names_has(&L->defined, parts[i].text)) {
            if (L->in_always)
                warn_skipped_capture(L, path, parts[i].text);
            continue;
        }
        long later = captured_later(L, parts[i].text, step_index);
        if (later >= 0 && (size_t)later == step_index)
            tp_schema_error(&L->s, path,
                            "template uses \"%s\", which this step captures only after its "
                            "request",
                            parts[i].text);
        else if (later >= 0)
            tp_schema_error(&L->s, path,
                            "template uses \"%s\" before it is defined (steps[%ld] captures "
                            "it later)",
                            parts[i].text, later);
        else
            tp_schema_error(&L->s, path,
                            "template uses \"%s\", which no variable defines and no earlier "
                            "step captures%s",
                            parts[i].text, name_hint(L, parts[i].text, hint, sizeof hint));
        bad = 1;
    }
    return bad ? -1 : 0;
}

/* Parses a template and checks its names (check_names). Returns NULL after
 * reporting a problem. */
static tp_template *parse_template(struct loader *L, const char *path, const char *text,
                                   size_t step_index)
{
    tp_template *t = NULL;
    struct tp_error err;
    tp_err rc;

    tp_error_clear(&err);
    rc = tp_template_parse(text, &t, &err);
    if (rc == TP_ERR_NOMEM) {
        tp_diags_nomem(L->s.diags, L->s.file, path);
        return NULL;
    }
    if (rc != TP_OK) {
        tp_schema_error(&L->s, path, "bad template: %s", err.text);
        return NULL;
    }
    if (check_names(L, path, t, step_index) != 0) {
        tp_template_free(t);
        return NULL;
    }
    return t;
}

/* A JSON scalar as the text a template or header gets: strings as they are,
 * numbers and booleans as JSON writes them. NULL for other types. */
static char *scalar_text(const json_t *v)
{
    if (json_is_string(v))
        return strdup(json_string_value(v));
    if (json_is_integer(v) || json_is_real(v) || json_is_boolean(v))
        return json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    return NULL;
}

/* {"Name": "template", ...} into a kv list. scalars: also numbers and booleans. */
static void load_kvlist(struct loader *L, const json_t *obj, const char *path,
                        struct tp_kvlist *out, int scalars, size_t step_index)
{
    const char *key;
    json_t *value;
    char sub[PATH_MAX_LEN];

    out->items = calloc(json_object_size(obj) + 1, sizeof *out->items);
    if (!out->items) {
        tp_diags_nomem(L->s.diags, L->s.file, path);
        return;
    }
    json_object_foreach((json_t *)obj, key, value) {
        tp_path_key(sub, sizeof sub, path, key);
        if (!json_is_string(value) && !(scalars && (json_is_number(value) || json_is_boolean(value)))) {
            tp_schema_error(&L->s, sub, "expected %s, got %s",
                            scalars ? "string, number or boolean" : "string",
                            tp_schema_type_name(value));
            continue;
        }
        char *text = scalar_text(value);
        if (!text) {
            tp_diags_nomem(L->s.diags, L->s.file, sub);
            continue;
        }
        tp_template *t = parse_template(L, sub, text, step_index);
        free(text);
        if (!t)
            continue;
        struct tp_kv *kv = &out->items[out->count++];
        kv->name = tp_schema_strdup(&L->s, sub, key);
        kv->value = t;
    }
}

static void kvlist_free(struct tp_kvlist *l)
{
    for (size_t i = 0; i < l->count; i++) {
        free(l->items[i].name);
        tp_template_free(l->items[i].value);
    }
    free(l->items);
    memset(l, 0, sizeof *l);
}

/* HTTP header names and methods are RFC 9110 tokens. */
static int is_token(const char *s)
{
    static const char extra[] = "!#$%&'*+-.^_`|~";
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr(extra, *s))
            return 0;
    return 1;
}

static void check_header_names(struct loader *L, const json_t *obj, const char *path)
{
    const char *key;
    json_t *value;
    char sub[PATH_MAX_LEN];
    json_object_foreach((json_t *)obj, key, value) {
        (void)value;
        if (!is_token(key)) {
            tp_path_key(sub, sizeof sub, path, key);
            tp_schema_error(&L->s, sub, "\"%s\" is not a valid HTTP header name", key);
        }
    }
}

static int bool_or(const json_t *obj, const char *key, int fallback)
{
    json_t *v = json_object_get(obj, key);
    return json_is_boolean(v) ? json_is_true(v) : fallback;
}

/* retry -> { "count": N, "on": [classes], "backoff_ms": N } */
static void load_retry(struct loader *L, const json_t *obj, const char *path,
                       struct tp_retry *out)
{
    static const struct tp_field fields[] = {
        {"count", TP_T_INTEGER, 1}, {"on", TP_T_ARRAY, 0}, {"backoff_ms", TP_T_INTEGER, 0}};
    char sub[PATH_MAX_LEN], item[PATH_MAX_LEN];
    json_t *on, *v;
    size_t i;

    tp_schema_check(&L->s, obj, path, "retry", fields, 3);
    out->count = (unsigned)tp_schema_int(&L->s, obj, "count", path, 0, 10, 0);
    out->backoff_ms = (unsigned)tp_schema_int(&L->s, obj, "backoff_ms", path, 0, 60000, 200);
    on = json_object_get(obj, "on");
    if (!json_is_array(on)) {
        out->on = (1u << TP_FAIL_CONNECT) | (1u << TP_FAIL_TIMEOUT);
        return;
    }
    out->on = 0;
    tp_path_key(sub, sizeof sub, path, "on");
    json_array_foreach(on, i, v) {
        tp_path_index(item, sizeof item, sub, i);
        enum tp_failure f = json_is_string(v) ? tp_failure_from_name(json_string_value(v))
                                              : TP_FAIL_NONE;
        if (f == TP_FAIL_NONE) {
            char hint[128] = "";
            if (json_is_string(v))
                tp_schema_did_you_mean(json_string_value(v), failure_names + 1,
                                       TP_FAIL_COUNT_ - 1, hint, sizeof hint);
            if (hint[0])
                tp_schema_error(&L->s, item, "unknown failure class \"%s\"%s",
                                json_string_value(v), hint);
            else
                tp_schema_error(&L->s, item,
                                "expected a failure class (dns, connect, tls, timeout, http, "
                                "assertion, capture, body_too_large, protocol, internal, "
                                "too_expensive)");
            continue;
        }
        out->on |= 1u << f;
    }
}

/* Template values while a pattern with placeholders is test-compiled at load. */
static const char *any_var(void *ctx, const char *name)
{
    (void)ctx;
    (void)name;
    return "x";
}

static uint64_t no_random(void *ctx)
{
    (void)ctx;
    return 0;
}

static int64_t no_clock(void *ctx)
{
    (void)ctx;
    return 0;
}

/* matches -> a PCRE2 pattern: compiled here when it is literal; with placeholders
 * kept as a template (expanded with values regex-escaped and compiled per check,
 * check.h), and compiled once here with every value "x" so that a pattern that
 * can never compile is a load error. */
static void load_matches(struct loader *L, const char *pattern, const char *path,
                         struct tp_predicate *p, size_t step_index)
{
    static const struct tp_template_env probe = {any_var, any_var, no_random, no_clock, NULL};
    struct tp_regex *re = NULL;
    struct tp_error err;
    char *sample = NULL;
    tp_err rc;

    tp_error_clear(&err);
    if (!strstr(pattern, "{{")) {
        rc = tp_regex_compile(pattern, &p->regex, &err);
    } else {
        p->tpl = parse_template(L, path, pattern, step_index);
        if (!p->tpl)
            return;
        rc = tp_template_expand(p->tpl, &probe, TP_ESC_REGEX, &sample, &err);
        if (rc == TP_OK)
            rc = tp_regex_compile(sample, &re, &err);
        free(sample);
        tp_regex_free(re);
    }
    if (rc == TP_ERR_NOMEM)
        tp_diags_nomem(L->s.diags, L->s.file, path);
    else if (rc != TP_OK)
        tp_schema_error(&L->s, path, "%s%s", err.text,
                        p->tpl ? " (with every placeholder as \"x\")" : "");
}

/* A predicate's expected value: type check, templates for strings, regex, type names. */
static void load_predicate(struct loader *L, const struct pred_info *info, json_t *value,
                           const char *path, struct tp_predicate *p, size_t step_index)
{
    p->kind = info->kind;
    p->expected = json_incref(value);
    if (!tp_schema_is(value, info->types)) {
        const char *want = info->types == TP_T_NUMBER    ? "a number"
                           : info->types == TP_T_STRING  ? "a string"
                           : info->types == TP_T_BOOL    ? "true or false"
                           : info->types == TP_T_ARRAY   ? "an array"
                           : info->types == TP_T_INTEGER ? "an integer"
                                                         : "a value";
        tp_schema_error(&L->s, path, "\"%s\" takes %s, got %s", info->name, want,
                        tp_schema_type_name(value));
        return;
    }
    switch (info->kind) {
    case TP_PRED_MATCHES:
        load_matches(L, json_string_value(value), path, p, step_index);
        return;
    case TP_PRED_COUNT:
        if (json_integer_value(value) < 0)
            tp_schema_error(&L->s, path, "\"count\" takes a non-negative integer");
        return;
    case TP_PRED_TYPE: {
        const char *t = json_string_value(value);
        size_t n = sizeof type_names / sizeof type_names[0];
        for (size_t i = 0; i < n; i++)
            if (strcmp(type_names[i], t) == 0)
                return;
        char hint[128];
        tp_schema_error(&L->s, path, "unknown type \"%s\"%s (one of string, number, "
                        "integer, boolean, null, array, object)",
                        t, tp_schema_did_you_mean(t, type_names, n, hint, sizeof hint));
        return;
    }
    case TP_PRED_IN: {
        size_t i, n = json_array_size(value);
        json_t *item;
        char sub[PATH_MAX_LEN];
        p->items_tpl = calloc(n + 1, sizeof *p->items_tpl);
        if (!p->items_tpl) {
            tp_diags_nomem(L->s.diags, L->s.file, path);
            return;
        }
        json_array_foreach(value, i, item) {
            if (!json_is_string(item))
                continue;
            tp_path_index(sub, sizeof sub, path, i);
            p->items_tpl[i] = parse_template(L, sub, json_string_value(item), step_index);
        }
        return;
    }
    default:
        if (json_is_string(value))
            p->tpl = parse_template(L, path, json_string_value(value), step_index);
        return;
    }
}

static void report_unknown_in_expect(struct loader *L, const char *path, const char *key,
                                     int want_pred)
{
    const char *names[32];
    size_t n = 0, nsrc;
    const struct tp_source_info *src = tp_source_table(&nsrc);
    for (size_t i = 0; i < NPREDS; i++)
        names[n++] = preds[i].name;
    const char *hint = tp_schema_suggest(key, names, n);
    if (!hint && !want_pred) {
        for (size_t i = 0; i < nsrc && n < 32; i++)
            names[n++] = src[i].name;
        hint = tp_schema_suggest(key, names, n);
    }
    int is_pred = want_pred || (hint && pred_lookup(hint));
    if (hint)
        tp_schema_error(&L->s, path, "unknown %s \"%s\" (did you mean \"%s\"?)",
                        is_pred ? "predicate" : "value source", key, hint);
    else
        tp_schema_error(&L->s, path, "unknown %s \"%s\"",
                        want_pred ? "predicate" : "key", key);
}

static int numeric_source(enum tp_source_kind k)
{
    return k == TP_SRC_STATUS || k == TP_SRC_SIZE_BYTES || k == TP_SRC_DURATION_MS ||
           k == TP_SRC_TTFB_MS || k == TP_SRC_DNS_MS || k == TP_SRC_CONNECT_MS ||
           k == TP_SRC_TLS_MS;
}

/* A number source compared with a quoted number never matches: say so at load. */
static int numeric_mismatch(const json_t *v)
{
    return json_is_string(v) && !strstr(json_string_value(v), "{{");
}

static void add_pred(struct loader *L, struct tp_expect *e, const struct pred_info *info,
                     json_t *value, const char *path, size_t step_index)
{
    if (numeric_source(e->source.kind) &&
        (info->kind == TP_PRED_EQUALS || info->kind == TP_PRED_NOT_EQUALS ||
         info->kind == TP_PRED_IN)) {
        size_t i;
        json_t *item;
        int bad = numeric_mismatch(value);
        if (json_is_array(value))
            json_array_foreach(value, i, item) bad |= numeric_mismatch(item);
        if (bad) {
            tp_schema_error(&L->s, path, "this source is a number: write 200, not \"200\"");
            return;
        }
    }
    load_predicate(L, info, value, path, &e->preds[e->npreds++], step_index);
}

/* The one value source among obj's keys: *src, its key and its value. -1 (reported)
 * when there are two, or none (every key that is neither source nor predicate is
 * named, else the sources are listed). */
static int find_source(struct loader *L, json_t *obj, const char *path,
                       const struct tp_source_info **src, const char **src_key, json_t **arg)
{
    const char *key;
    json_t *value;
    int reported = 0;

    *src = NULL;
    json_object_foreach(obj, key, value) {
        const struct tp_source_info *info = tp_source_lookup(key);
        if (!info)
            continue;
        if (*src) {
            tp_schema_error(&L->s, path, "more than one value source (\"%s\" and \"%s\"): "
                            "write one expectation each", *src_key, key);
            return -1;
        }
        *src = info;
        *src_key = key;
        *arg = value;
    }
    if (*src)
        return 0;
    json_object_foreach(obj, key, value) {
        if (!pred_lookup(key)) {
            report_unknown_in_expect(L, path, key, 0);
            reported = 1;
        }
    }
    if (!reported)
        tp_schema_error(&L->s, path, "expectation names no value source (status, header, "
                        "cookie, jsonpath, xpath, regex, body, url, size_bytes, "
                        "duration_ms, ttfb_ms, dns_ms, connect_ms, tls_ms)");
    return -1;
}

/* {SOURCE: ARG, PRED: VALUE...}: a source with an argument (header, jsonpath, ...),
 * compiled here, and its predicates beside it. sub is the path of src_key. */
static int load_expect_with_arg(struct loader *L, json_t *obj, const char *path,
                                const char *sub, const struct tp_source_info *src,
                                const char *src_key, json_t *arg, struct tp_expect *e,
                                size_t step_index)
{
    const char *key;
    json_t *value;
    struct tp_error err;
    int unknown = 0;
    tp_err rc;

    if (!json_is_string(arg)) {
        tp_schema_error(&L->s, sub, "expected a string (the %s to read), got %s", src_key,
                        tp_schema_type_name(arg));
        return -1;
    }
    tp_error_clear(&err);
    rc = tp_source_compile(&e->source, src->kind, json_string_value(arg), &err);
    if (rc != TP_OK) {
        if (rc == TP_ERR_NOMEM)
            tp_diags_nomem(L->s.diags, L->s.file, sub);
        else
            tp_schema_error(&L->s, sub, "%s", err.text);
        return -1;
    }
    json_object_foreach(obj, key, value) {
        if (key == src_key)
            continue;
        const struct pred_info *info = pred_lookup(key);
        if (!info) {
            report_unknown_in_expect(L, path, key, 1);
            unknown = 1;
            continue;
        }
        char psub[PATH_MAX_LEN];
        tp_path_key(psub, sizeof psub, path, key);
        add_pred(L, e, info, value, psub, step_index);
    }
    if (unknown)
        return -1;
    if (e->npreds == 0) {
        tp_schema_error(&L->s, path, "\"%s\" needs a predicate beside it, e.g. "
                        "{\"%s\": \"...\", \"exists\": true}", src_key, src_key);
        return -1;
    }
    return 0;
}

/* {SOURCE: VALUE | [VALUES] | {PRED: VALUE...}}: a source without an argument
 * (status, body, ...) alone in obj; a value means equals, an array in, an object
 * its predicates. sub is the path of src_key. */
static int load_expect_plain(struct loader *L, json_t *obj, const char *path, const char *sub,
                             const struct tp_source_info *src, const char *src_key, json_t *arg,
                             struct tp_expect *e, size_t step_index)
{
    const char *key;
    json_t *value;

    tp_source_compile(&e->source, src->kind, NULL, NULL);
    if (json_object_size(obj) > 1) {
        json_object_foreach(obj, key, value) {
            if (key != src_key)
                tp_schema_error(&L->s, path, "\"%s\" beside \"%s\": predicates of %s go inside "
                                "it, e.g. {\"%s\": {\"%s\": ...}}", key, src_key, src_key,
                                src_key, key);
        }
        return -1;
    }
    if (json_is_object(arg)) {
        json_object_foreach(arg, key, value) {
            const struct pred_info *info = pred_lookup(key);
            char psub[PATH_MAX_LEN];
            if (!info) {
                report_unknown_in_expect(L, sub, key, 1);
                continue;
            }
            tp_path_key(psub, sizeof psub, sub, key);
            add_pred(L, e, info, value, psub, step_index);
        }
        if (e->npreds == 0 && json_object_size(arg) == 0)
            tp_schema_error(&L->s, sub, "empty predicate object");
    } else if (json_is_array(arg)) {
        add_pred(L, e, pred_lookup("in"), arg, sub, step_index);
    } else {
        add_pred(L, e, pred_lookup("equals"), arg, sub, step_index);
    }
    return 0;
}

/* expect[i] -> {SOURCE: ARG, PRED: VALUE...} | {SOURCE: VALUE | [VALUES] | {PRED: VALUE...}} */
static int load_expect(struct loader *L, json_t *obj, const char *path, struct tp_expect *e,
                       size_t step_index)
{
    const struct tp_source_info *src = NULL;
    const char *src_key = NULL;
    json_t *arg = NULL;
    char sub[PATH_MAX_LEN];
    size_t nkeys = json_object_size(obj);

    if (!json_is_object(obj)) {
        tp_schema_error(&L->s, path, "expected an object like {\"status\": 200}, got %s",
                        tp_schema_type_name(obj));
        return -1;
    }
    if (find_source(L, obj, path, &src, &src_key, &arg) != 0)
        return -1;
    e->preds = calloc(nkeys > NPREDS ? nkeys : NPREDS, sizeof *e->preds);
    if (!e->preds) {
        tp_diags_nomem(L->s.diags, L->s.file, path);
        return -1;
    }
    tp_path_key(sub, sizeof sub, path, src_key);
    if (src->has_arg)
        return load_expect_with_arg(L, obj, path, sub, src, src_key, arg, e, step_index);
    return load_expect_plain(L, obj, path, sub, src, src_key, arg, e, step_index);
}

/* capture -> {NAME: {SOURCE: ARG}} (argument-less sources take `true`) */
static void load_captures(struct loader *L, json_t *obj, const char *path, struct tp_step *st)
{
    const char *name;
    json_t *spec;
    char sub[PATH_MAX_LEN];

    st->captures = calloc(json_object_size(obj) + 1, sizeof *st->captures);
    if (!st->captures) {
        tp_diags_nomem(L->s.diags, L->s.file, path);
        return;
    }
    json_object_foreach(obj, name, spec) {
        const char *skey;
        json_t *arg;
        const struct tp_source_info *info = NULL;
        struct tp_error err;

        tp_path_key(sub, sizeof sub, path, name);
        if (!tp_vars_valid_name(name)) {
            tp_schema_error(&L->s, sub, "capture name \"%s\" is not a valid name "
                            "(letters, digits, _ and -, not starting with a digit)", name);
            continue;
        }
        if (!json_is_object(spec) || json_object_size(spec) != 1) {
            tp_schema_error(&L->s, sub, "expected an object with one value source, e.g. "
                            "{\"jsonpath\": \"$.id\"}");
            continue;
        }
        json_object_foreach(spec, skey, arg) {
            info = tp_source_lookup(skey);
            if (!info) {
                size_t n;
                const struct tp_source_info *tab = tp_source_table(&n);
                const char *names[TP_SRC_COUNT_];
                for (size_t i = 0; i < n; i++)
                    names[i] = tab[i].name;
                char hint[128];
                tp_schema_error(&L->s, sub, "unknown value source \"%s\"%s", skey,
                                tp_schema_did_you_mean(skey, names, n, hint, sizeof hint));
            }
        }
        if (!info)
            continue;
        skey = info->name;
        arg = json_object_get(spec, skey);
        char asub[PATH_MAX_LEN];
        tp_path_key(asub, sizeof asub, sub, skey);
        if (info->has_arg && !json_is_string(arg)) {
            tp_schema_error(&L->s, asub, "expected a string, got %s", tp_schema_type_name(arg));
            continue;
        }
        if (!info->has_arg && !json_is_true(arg)) {
            tp_schema_error(&L->s, asub, "\"%s\" takes no argument: write {\"%s\": true}", skey,
                            skey);
            continue;
        }
        struct tp_capture *c = &st->captures[st->ncaptures];
        tp_error_clear(&err);
        tp_err rc = tp_source_compile(&c->source, info->kind,
                                      info->has_arg ? json_string_value(arg) : NULL, &err);
        if (rc != TP_OK) {
            if (rc == TP_ERR_NOMEM)
                tp_diags_nomem(L->s.diags, L->s.file, asub);
            else
                tp_schema_error(&L->s, asub, "%s", err.text);
            continue;
        }
        c->name = tp_schema_strdup(&L->s, sub, name);
        st->ncaptures++;
    }
}

/* multipart -> {NAME: "text" | {"value": T, "content_type": CT} | {"file": PATH, ...}} */
static void load_multipart(struct loader *L, json_t *obj, const char *path, struct tp_step *st,
                           size_t step_index)
{
    static const struct tp_field fields[] = {{"value", TP_T_STRING, 0},
                                             {"file", TP_T_STRING, 0},
                                             {"filename", TP_T_STRING, 0},
                                             {"content_type", TP_T_STRING, 0}};
    const char *name;
    json_t *spec;
    char sub[PATH_MAX_LEN];

    st->parts = calloc(json_object_size(obj) + 1, sizeof *st->parts);
    if (!st->parts) {
        tp_diags_nomem(L->s.diags, L->s.file, path);
        return;
    }
    json_object_foreach(obj, name, spec) {
        struct tp_part *p = &st->parts[st->nparts];
        tp_path_key(sub, sizeof sub, path, name);
        if (json_is_string(spec)) {
            p->value = parse_template(L, sub, json_string_value(spec), step_index);
        } else if (json_is_object(spec)) {
            if (tp_schema_check(&L->s, spec, sub, "multipart part", fields, 4))
                continue;
            json_t *value = json_object_get(spec, "value"), *file = json_object_get(spec, "file");
            if (!!value == !!file) {
                tp_schema_error(&L->s, sub, "a part has either \"value\" or \"file\"");
                continue;
            }
            if (value)
                p->value = parse_template(L, sub, json_string_value(value), step_index);
            else
                p->file = tp_schema_strdup(&L->s, sub, json_string_value(file));
            json_t *fn = json_object_get(spec, "filename"), *ct = json_object_get(spec, "content_type");
            if (fn)
                p->filename = tp_schema_strdup(&L->s, sub, json_string_value(fn));
            if (ct)
                p->content_type = tp_schema_strdup(&L->s, sub, json_string_value(ct));
        } else {
            tp_schema_error(&L->s, sub, "expected a string or a part object, got %s",
                            tp_schema_type_name(spec));
            continue;
        }
        p->name = tp_schema_strdup(&L->s, sub, name);
        st->nparts++;
    }
}

/* auth -> {"basic": {"user": TEMPLATE, "password": TEMPLATE}} */
void tp_auth_load(const struct tp_schema *s, const json_t *obj, const char *path,
                  struct tp_auth *out)
{
    static const struct tp_field auth_fields[] = {{"basic", TP_T_OBJECT, 1}};
    static const struct tp_field basic_fields[] = {{"user", TP_T_STRING, 1},
                                                   {"password", TP_T_STRING, 1}};
    static const char *const keys[] = {"user", "password"};
    tp_template *parsed[2] = {NULL, NULL};
    char sub[PATH_MAX_LEN], item[PATH_MAX_LEN];
    size_t before = tp_diags_total(s->diags);
    json_t *basic;

    memset(out, 0, sizeof *out);
    if (tp_schema_check(s, obj, path, "auth", auth_fields, 1))
        return;
    basic = json_object_get(obj, "basic");
    tp_path_key(sub, sizeof sub, path, "basic");
    if (tp_schema_check(s, basic, sub, "basic auth", basic_fields, 2))
        return;
    for (size_t i = 0; i < 2; i++) {
        struct tp_error err;
        tp_err rc;
        tp_path_key(item, sizeof item, sub, keys[i]);
        tp_error_clear(&err);
        rc = tp_template_parse(json_string_value(json_object_get(basic, keys[i])), &parsed[i],
                               &err);
        if (rc == TP_ERR_NOMEM)
            tp_diags_nomem(s->diags, s->file, item);
        else if (rc != TP_OK)
            tp_schema_error(s, item, "bad template: %s", err.text);
    }
    if (tp_diags_total(s->diags) != before) {
        tp_template_free(parsed[0]);
        tp_template_free(parsed[1]);
        return;
    }
    out->user = parsed[0];
    out->password = parsed[1];
}

void tp_auth_clear(struct tp_auth *a)
{
    if (!a)
        return;
    tp_template_free(a->user);
    tp_template_free(a->password);
    memset(a, 0, sizeof *a);
}

/* A request's auth: tp_auth_load, then the names its templates use. */
static void load_request_auth(struct loader *L, const json_t *obj, const char *path,
                              struct tp_step *st, size_t step_index)
{
    char sub[PATH_MAX_LEN], user[PATH_MAX_LEN], password[PATH_MAX_LEN];
    tp_auth_load(&L->s, obj, path, &st->auth);
    if (!st->auth.user)
        return;
    tp_path_key(sub, sizeof sub, path, "basic");
    tp_path_key(user, sizeof user, sub, "user");
    tp_path_key(password, sizeof password, sub, "password");
    if ((check_names(L, user, st->auth.user, step_index) |
         check_names(L, password, st->auth.password, step_index)) != 0)
        tp_auth_clear(&st->auth);
}

/* request -> {"method", "url", "headers", "query", "auth",
 *             "json" | "form" | "multipart" | "body"} */
static void load_request(struct loader *L, json_t *req, const char *path, struct tp_step *st,
                         size_t step_index)
{
    static const struct tp_field fields[] = {
        {"method", TP_T_STRING, 0}, {"url", TP_T_STRING, 1},     {"headers", TP_T_OBJECT, 0},
        {"query", TP_T_OBJECT, 0},  {"json", TP_T_ANY, 0},       {"form", TP_T_OBJECT, 0},
        {"multipart", TP_T_OBJECT, 0}, {"body", TP_T_STRING, 0},     {"auth", TP_T_OBJECT, 0},
    };
    static const char *const body_keys[] = {"json", "form", "multipart", "body"};
    char sub[PATH_MAX_LEN];
    json_t *v;
    const char *body_key = NULL;

    tp_schema_check(&L->s, req, path, "request", fields, sizeof fields / sizeof fields[0]);

    v = json_object_get(req, "method");
    st->method = tp_schema_strdup(&L->s, path, json_is_string(v) ? json_string_value(v) : "GET");
    if (st->method) {
        for (char *p = st->method; *p; p++)
            *p = (char)toupper((unsigned char)*p);
        if (!is_token(st->method)) {
            tp_path_key(sub, sizeof sub, path, "method");
            tp_schema_error(&L->s, sub, "\"%s\" is not a valid HTTP method", json_string_value(v));
        }
    }
    v = json_object_get(req, "url");
    if (json_is_string(v)) {
        tp_path_key(sub, sizeof sub, path, "url");
        if (json_string_length(v) == 0)
            tp_schema_error(&L->s, sub, "empty url");
        else
            st->url = parse_template(L, sub, json_string_value(v), step_index);
    }
    v = json_object_get(req, "headers");
    if (json_is_object(v)) {
        tp_path_key(sub, sizeof sub, path, "headers");
        check_header_names(L, v, sub);
        load_kvlist(L, v, sub, &st->headers, 0, step_index);
    }
    v = json_object_get(req, "query");
    if (json_is_object(v)) {
        tp_path_key(sub, sizeof sub, path, "query");
        load_kvlist(L, v, sub, &st->query, 1, step_index);
    }
    v = json_object_get(req, "auth");
    if (json_is_object(v)) {
        tp_path_key(sub, sizeof sub, path, "auth");
        load_request_auth(L, v, sub, st, step_index);
    }
    for (size_t i = 0; i < 4; i++) {
        if (!json_object_get(req, body_keys[i]))
            continue;
        if (body_key) {
            tp_schema_error(&L->s, path, "a request has one body: \"%s\" and \"%s\" both given",
                            body_key, body_keys[i]);
            return;
        }
        body_key = body_keys[i];
    }
    if (!body_key)
        return;
    v = json_object_get(req, body_key);
    tp_path_key(sub, sizeof sub, path, body_key);
    if (strcmp(body_key, "json") == 0) {
        char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        st->body_kind = TP_BODY_JSON;
        if (!text) { /* any JSON value encodes: only memory can run out */
            tp_diags_nomem(L->s.diags, L->s.file, sub);
            return;
        }
        st->body_tpl = parse_template(L, sub, text, step_index);
        free(text);
    } else if (strcmp(body_key, "form") == 0 && json_is_object(v)) {
        st->body_kind = TP_BODY_FORM;
        load_kvlist(L, v, sub, &st->form, 1, step_index);
    } else if (strcmp(body_key, "multipart") == 0 && json_is_object(v)) {
        st->body_kind = TP_BODY_MULTIPART;
        load_multipart(L, v, sub, st, step_index);
    } else if (strcmp(body_key, "body") == 0 && json_is_string(v)) {
        st->body_kind = TP_BODY_RAW;
        st->body_tpl = parse_template(L, sub, json_string_value(v), step_index);
    }
}

/* Step defaults that a journey's "defaults" object may set. */
struct step_defaults {
    long timeout_ms, connect_timeout_ms, max_redirects;
    int follow_redirects;
    struct tp_retry retry;
};

static void expect_clear(struct tp_expect *x);

static const struct tp_field step_fields[] = {
    {"name", TP_T_STRING, 1},
    {"request", TP_T_OBJECT, 1},
    {"capture", TP_T_OBJECT, 0},
    {"expect", TP_T_ARRAY, 0},
    {"timeout_ms", TP_T_INTEGER, 0},
    {"connect_timeout_ms", TP_T_INTEGER, 0},
    {"follow_redirects", TP_T_BOOL, 0},
    {"max_redirects", TP_T_INTEGER, 0},
    {"retry", TP_T_OBJECT, 0},
    {"continue_on_failure", TP_T_BOOL, 0},
    {"always", TP_T_BOOL, 0},
};

/* The per-step settings, shared by a step and the journey's defaults. */
static void load_step_settings(struct loader *L, const json_t *obj, const char *path,
                               const struct step_defaults *base, struct step_defaults *out)
{
    json_t *retry = json_object_get(obj, "retry");
    *out = *base;
    out->timeout_ms = tp_schema_int(&L->s, obj, "timeout_ms", path, 1, 3600000, base->timeout_ms);
    out->connect_timeout_ms = tp_schema_int(&L->s, obj, "connect_timeout_ms", path, 1, 3600000,
                                           base->connect_timeout_ms);
    out->max_redirects = tp_schema_int(&L->s, obj, "max_redirects", path, 0, 50, base->max_redirects);
    out->follow_redirects = bool_or(obj, "follow_redirects", base->follow_redirects);
    if (json_is_object(retry)) {
        char sub[PATH_MAX_LEN];
        tp_path_key(sub, sizeof sub, path, "retry");
        load_retry(L, retry, sub, &out->retry);
    }
}

static void load_step(struct loader *L, json_t *obj, const char *path, size_t index,
                      const struct step_defaults *defaults, struct tp_step *st)
{
    struct step_defaults d;
    char sub[PATH_MAX_LEN];
    json_t *v;

    tp_schema_check(&L->s, obj, path, "step", step_fields,
                    sizeof step_fields / sizeof step_fields[0]);
    v = json_object_get(obj, "name");
    if (json_is_string(v)) {
        st->name = tp_schema_strdup(&L->s, path, json_string_value(v));
        if (json_string_length(v) == 0) {
            tp_path_key(sub, sizeof sub, path, "name");
            tp_schema_error(&L->s, sub, "empty step name");
        }
    }
    load_step_settings(L, obj, path, defaults, &d);
    st->timeout_ms = d.timeout_ms;
    st->connect_timeout_ms = d.connect_timeout_ms;
    st->follow_redirects = d.follow_redirects;
    st->max_redirects = (unsigned)d.max_redirects;
    st->retry = d.retry;
    st->continue_on_failure = bool_or(obj, "continue_on_failure", 0);
    st->always = bool_or(obj, "always", 0);
    L->in_always = st->always;
    names_free(&L->warned);

    v = json_object_get(obj, "request");
    if (json_is_object(v)) {
        tp_path_key(sub, sizeof sub, path, "request");
        load_request(L, v, sub, st, index);
    }
    v = json_object_get(obj, "capture");
    if (json_is_object(v)) {
        tp_path_key(sub, sizeof sub, path, "capture");
        load_captures(L, v, sub, st);
    }
    /* A step's expectations may use its own captures (taken first). */
    for (size_t i = 0; i < st->ncaptures; i++)
        if (names_add(&L->defined, st->captures[i].name) != 0)
            tp_diags_nomem(L->s.diags, L->s.file, path);
    v = json_object_get(obj, "expect");
    if (json_is_array(v)) {
        size_t i;
        json_t *e;
        char esub[PATH_MAX_LEN];
        tp_path_key(sub, sizeof sub, path, "expect");
        st->expects = calloc(json_array_size(v) + 1, sizeof *st->expects);
        if (!st->expects) {
            tp_diags_nomem(L->s.diags, L->s.file, sub);
            return;
        }
        json_array_foreach(v, i, e) {
            tp_path_index(esub, sizeof esub, sub, i);
            struct tp_expect *x = &st->expects[st->nexpects];
            if (load_expect(L, e, esub, x, index + 1) == 0) {
                if (x->source.kind == TP_SRC_STATUS)
                    st->has_status_expect = 1;
                st->nexpects++;
            } else {
                expect_clear(x);
                memset(x, 0, sizeof *x);
            }
        }
    }
    L->in_always = 0;
}

static void load_string_array(struct loader *L, json_t *arr, const char *path, char ***out,
                              size_t *count)
{
    size_t i;
    json_t *v;
    char sub[PATH_MAX_LEN];
    *out = calloc(json_array_size(arr) + 1, sizeof **out);
    if (!*out) {
        tp_diags_nomem(L->s.diags, L->s.file, path);
        return;
    }
    json_array_foreach(arr, i, v) {
        tp_path_index(sub, sizeof sub, path, i);
        if (!json_is_string(v)) {
            tp_schema_error(&L->s, sub, "expected string, got %s", tp_schema_type_name(v));
            continue;
        }
        char *copy = tp_schema_strdup(&L->s, sub, json_string_value(v));
        if (copy)
            (*out)[(*count)++] = copy;
    }
}

/* Reports an ignore entry that did not compile (nothing for TP_OK). */
static void ignore_problem(struct loader *L, const char *item, tp_err rc,
                           const struct tp_error *err)
{
    if (rc == TP_ERR_NOMEM)
        tp_diags_nomem(L->s.diags, L->s.file, item);
    else if (rc != TP_OK)
        tp_schema_error(&L->s, item, "%s", err->text);
}

/* "capture:NAME" / "header:NAME" -> the mismatch path "capture NAME" / "header name". */
static void load_ignore_label(struct loader *L, const char *text, const char *item)
{
    struct tp_compare *c = &L->j->compare;
    int header = strncmp(text, "header:", 7) == 0;
    const char *name = text + (header ? 7 : 8);
    size_t n = strlen(name);
    char *label;

    if (header ? !is_token(name) : n == 0) {
        tp_schema_error(&L->s, item, "\"%s\" names no %s", text, header ? "header" : "capture");
        return;
    }
    if (!header && captured_later(L, name, 0) < 0) {
        tp_schema_error(&L->s, item, "no step captures \"%s\"", name);
        return;
    }
    label = malloc(n + 9);
    if (!label) {
        tp_diags_nomem(L->s.diags, L->s.file, item);
        return;
    }
    snprintf(label, n + 9, "%s %s", header ? "header" : "capture", name);
    for (char *p = label + 7; header && *p; p++)
        *p = (char)tolower((unsigned char)*p);
    c->ignore_labels[c->nignore_labels++] = label;
}

/* "/re/": a PCRE2 pattern for text lines. */
static void load_ignore_regex(struct loader *L, const char *text, const char *item)
{
    struct tp_compare *c = &L->j->compare;
    size_t n = strlen(text);
    struct tp_regex *re = NULL;
    struct tp_error err;
    char *pattern;
    tp_err rc;

    if (n == 2) {
        tp_schema_error(&L->s, item, "an empty /regex/ would ignore every line");
        return;
    }
    pattern = strndup(text + 1, n - 2);
    tp_error_clear(&err);
    rc = pattern ? tp_regex_compile(pattern, &re, &err) : TP_ERR_NOMEM;
    free(pattern);
    if (rc == TP_OK)
        c->ignore_lines[c->nignore_lines++] = re;
    ignore_problem(L, item, rc, &err);
}

/* "/...": an XPath selecting the nodes whose differences are left out. */
static void load_ignore_xpath(struct loader *L, const char *text, const char *item)
{
    struct tp_compare *c = &L->j->compare;
    struct tp_source src;
    struct tp_error err;
    const char *why = NULL;
    int nomem = 0;
    tp_err rc;

    memset(&src, 0, sizeof src);
    tp_error_clear(&err);
    rc = tp_source_compile(&src, TP_SRC_XPATH, text, &err);
    if (rc == TP_OK && (why = tp_doctree_xpath_problem(src.xpath, &nomem)) == NULL && !nomem) {
        c->ignore_xpath[c->nignore_xpath++] = src.xpath;
        src.xpath = NULL; /* taken */
    } else if (rc == TP_OK && nomem) {
        rc = TP_ERR_NOMEM;
    }
    tp_source_clear(&src);
    ignore_problem(L, item, rc, &err);
    if (rc == TP_OK && why)
        tp_schema_error(&L->s, item, "the XPath %s; an ignore XPath must select nodes", why);
}

static void load_ignore_jsonpath(struct loader *L, const char *text, const char *item)
{
    struct tp_compare *c = &L->j->compare;
    tp_jsonpath *q = NULL;
    struct tp_error err;
    tp_err rc;

    tp_error_clear(&err);
    rc = tp_jsonpath_compile_for_people(text, &q, &err);
    if (rc == TP_OK)
        c->ignore[c->nignore++] = q;
    ignore_problem(L, item, rc, &err);
}

/* ignore -> [ JSONPATH | XPATH | "/regex/" | "capture:NAME" | "header:NAME" ... ] */
static void load_ignore(struct loader *L, json_t *arr, const char *path)
{
    struct tp_compare *c = &L->j->compare;
    size_t i, n = json_array_size(arr) + 1;
    char item[PATH_MAX_LEN];
    json_t *e;

    /* Each kind's array has room for every entry: the loaders below only append. */
    c->ignore = calloc(n, sizeof *c->ignore);
    c->ignore_xpath = calloc(n, sizeof *c->ignore_xpath);
    c->ignore_lines = calloc(n, sizeof *c->ignore_lines);
    c->ignore_labels = calloc(n, sizeof *c->ignore_labels);
    if (!c->ignore || !c->ignore_xpath || !c->ignore_lines || !c->ignore_labels) {
        tp_diags_nomem(L->s.diags, L->s.file, path);
        return;
    }
    json_array_foreach(arr, i, e) {
        const char *text = json_string_value(e);
        tp_path_index(item, sizeof item, path, i);
        if (!json_is_string(e)) {
            tp_schema_error(&L->s, item,
                            "expected a JSONPath, XPath, /regex/, capture:NAME or header:NAME "
                            "string, got %s",
                            tp_schema_type_name(e));
            continue;
        }
        n = strlen(text);
        if (text[0] == '$')
            load_ignore_jsonpath(L, text, item);
        else if (strncmp(text, "capture:", 8) == 0 || strncmp(text, "header:", 7) == 0)
            load_ignore_label(L, text, item);
        else if (n >= 2 && text[0] == '/' && text[n - 1] == '/')
            load_ignore_regex(L, text, item);
        else if (text[0] == '/')
            load_ignore_xpath(L, text, item);
        else
            tp_schema_error(&L->s, item,
                            "\"%s\" is none of: a JSONPath ($...), an XPath (/...), a /regex/, "
                            "capture:NAME, header:NAME",
                            text);
    }
}

/* compare -> {"ignore", "noise", "headers", "margin_pct", "margin_ms", "critical_steps"} */
static void load_compare(struct loader *L, json_t *obj, const char *path)
{
    static const struct tp_field fields[] = {
        {"ignore", TP_T_ARRAY, 0},     {"noise", TP_T_STRING, 0},
        {"headers", TP_T_ARRAY, 0},    {"margin_pct", TP_T_NUMBER, 0},
        {"margin_ms", TP_T_NUMBER, 0}, {"critical_steps", TP_T_ARRAY, 0},
    };
    static const struct {
        const char *name;
        enum tp_noise noise;
    } noises[] = {{"rounds", TP_NOISE_ROUNDS}, {"learn", TP_NOISE_LEARN}, {"off", TP_NOISE_OFF}};
    struct tp_compare *c = &L->j->compare;
    char sub[PATH_MAX_LEN];
    json_t *v;
    size_t i;

    tp_schema_check(&L->s, obj, path, "compare", fields, sizeof fields / sizeof fields[0]);
    v = json_object_get(obj, "ignore");
    if (json_is_array(v)) {
        tp_path_key(sub, sizeof sub, path, "ignore");
        load_ignore(L, v, sub);
    }
    c->noise = TP_NOISE_ROUNDS;
    v = json_object_get(obj, "noise");
    if (json_is_string(v)) {
        for (i = 0; i < sizeof noises / sizeof noises[0]; i++)
            if (strcmp(json_string_value(v), noises[i].name) == 0)
                break;
        if (i < sizeof noises / sizeof noises[0]) {
            c->noise = noises[i].noise;
        } else {
            tp_path_key(sub, sizeof sub, path, "noise");
            tp_schema_error(&L->s, sub, "expected \"rounds\", \"learn\" or \"off\", got \"%s\"",
                            json_string_value(v));
        }
    }
    v = json_object_get(obj, "headers");
    if (json_is_array(v)) {
        tp_path_key(sub, sizeof sub, path, "headers");
        load_string_array(L, v, sub, &c->headers, &c->nheaders);
    }
    v = json_object_get(obj, "critical_steps");
    if (json_is_array(v)) {
        tp_path_key(sub, sizeof sub, path, "critical_steps");
        load_string_array(L, v, sub, &c->critical_steps, &c->ncritical);
    }
    c->margin_pct = -1;
    c->margin_ms = -1;
    static const char *const margins[] = {"margin_pct", "margin_ms"};
    for (i = 0; i < 2; i++) {
        v = json_object_get(obj, margins[i]);
        if (!json_is_number(v))
            continue;
        double m = json_number_value(v);
        tp_path_key(sub, sizeof sub, path, margins[i]);
        if (m < 0 || m > (i == 0 ? 1000 : 100000))
            tp_schema_error(&L->s, sub, "%g is out of range (0 to %d)", m, i == 0 ? 1000 : 100000);
        else if (i == 0)
            c->margin_pct = m;
        else
            c->margin_ms = m;
    }
}

static const struct tp_field journey_fields[] = {
    {"name", TP_T_STRING, 1},     {"description", TP_T_STRING, 0},
    {"variables", TP_T_OBJECT, 0}, {"secrets", TP_T_ARRAY, 0},
    {"defaults", TP_T_OBJECT, 0}, {"compare", TP_T_OBJECT, 0},
    {"steps", TP_T_ARRAY, 1},
};

static const struct tp_field defaults_fields[] = {
    {"timeout_ms", TP_T_INTEGER, 0},     {"connect_timeout_ms", TP_T_INTEGER, 0},
    {"headers", TP_T_OBJECT, 0},         {"follow_redirects", TP_T_BOOL, 0},
    {"max_redirects", TP_T_INTEGER, 0},  {"retry", TP_T_OBJECT, 0},
    {"max_body_bytes", TP_T_INTEGER, 0},
};

/* variables -> {NAME: template, ...}, after the names given outside the file:
 * those are defined first and, with their values, are the first variables. */
static void load_variables(struct loader *L, json_t *vars)
{
    const tp_vars *outside = L->opts ? L->opts->outside : NULL;
    size_t noutside = tp_vars_count(outside), nout = L->opts && L->opts->values ? noutside : 0;
    const char *key;
    json_t *value;
    char sub[PATH_MAX_LEN];
    struct tp_kvlist *out = &L->j->variables;

    out->items = calloc(json_object_size(vars) + nout + 1, sizeof *out->items);
    if (!out->items) {
        tp_diags_nomem(L->s.diags, L->s.file, "variables");
        return;
    }
    for (size_t i = 0; i < noutside; i++) {
        const char *name = tp_vars_name_at(outside, i);
        if (names_add(&L->defined, name) != 0 || names_add(&L->variables, name) != 0)
            tp_diags_nomem(L->s.diags, L->s.file, "variables");
        if (i >= nout)
            continue;
        struct tp_kv *kv = &out->items[out->count++];
        kv->name = tp_schema_strdup(&L->s, "variables", name);
        if (tp_template_literal(tp_vars_value_at(outside, i), &kv->value) != TP_OK)
            tp_diags_nomem(L->s.diags, L->s.file, "variables");
    }
    json_object_foreach(vars, key, value) {
        tp_path_key(sub, sizeof sub, "variables", key);
        if (!tp_vars_valid_name(key)) {
            tp_schema_error(&L->s, sub, "\"%s\" is not a valid variable name", key);
            continue;
        }
        if (!json_is_string(value) && !json_is_number(value) && !json_is_boolean(value)) {
            tp_schema_error(&L->s, sub, "expected string, number or boolean, got %s",
                            tp_schema_type_name(value));
            continue;
        }
        char *text = scalar_text(value);
        if (!text) {
            tp_diags_nomem(L->s.diags, L->s.file, sub);
            continue;
        }
        tp_template *t = parse_template(L, sub, text, 0);
        free(text);
        /* defined even when broken: no cascade of errors */
        if (names_add(&L->defined, key) != 0 || names_add(&L->variables, key) != 0)
            tp_diags_nomem(L->s.diags, L->s.file, sub);
        if (t && nout > 0 && tp_vars_get(outside, key)) {
            tp_template_free(t); /* the command line's value wins */
            t = NULL;
        }
        if (!t)
            continue;
        out->items[out->count].name = tp_schema_strdup(&L->s, sub, key);
        out->items[out->count++].value = t;
    }
}

static void load_secrets(struct loader *L, json_t *arr)
{
    char sub[PATH_MAX_LEN];
    load_string_array(L, arr, "secrets", &L->j->secrets, &L->j->nsecrets);
    for (size_t i = 0; i < L->j->nsecrets; i++) {
        const char *s = L->j->secrets[i];
        int ok = *s && !isdigit((unsigned char)*s);
        for (const char *p = s; *p && ok; p++)
            ok = isalnum((unsigned char)*p) || *p == '_';
        if (!ok) {
            tp_path_index(sub, sizeof sub, "secrets", i);
            tp_schema_error(&L->s, sub, "\"%s\" is not an environment variable name", s);
        }
    }
}

/* Noise learning runs the baseline twice per round, side by side: a step that
 * changes state (not GET or HEAD) makes the two runs race each other. */
static void warn_learn_races(struct loader *L)
{
    const struct tp_journey *j = L->j;
    size_t first = 0, n = 0;

    if (j->compare.noise != TP_NOISE_LEARN)
        return;
    for (size_t i = 0; i < j->nsteps; i++) {
        const char *m = j->steps[i].method;
        if (!m || strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0)
            continue;
        if (n++ == 0)
            first = i;
    }
    char more[48] = "";
    if (n == 0)
        return;
    if (n > 1)
        snprintf(more, sizeof more, " (and %zu more step%s)", n - 1, n > 2 ? "s" : "");
    tp_diags_warnf(L->s.diags, L->s.file, "compare.noise",
                   "\"learn\" runs the baseline twice in every round, side by side, and "
                   "steps[%zu] (\"%s\") sends %s%s: the two runs change the same state and "
                   "race each other; consider \"noise\": \"rounds\"",
                   first, j->steps[first].name ? j->steps[first].name : "",
                   j->steps[first].method, more);
}

static void load_journey(struct loader *L, json_t *root)
{
    struct tp_journey *j = L->j;
    struct step_defaults defaults = {TP_DEFAULT_TIMEOUT_MS, TP_DEFAULT_CONNECT_TIMEOUT_MS,
                                     TP_MAX_REDIRECTS, 0,
                                     {0, (1u << TP_FAIL_CONNECT) | (1u << TP_FAIL_TIMEOUT), 200}};
    json_t *v, *steps;
    char sub[PATH_MAX_LEN];

    tp_schema_check(&L->s, root, "", "journey", journey_fields,
                    sizeof journey_fields / sizeof journey_fields[0]);
    v = json_object_get(root, "name");
    if (json_is_string(v)) {
        j->name = tp_schema_strdup(&L->s, "name", json_string_value(v));
        if (json_string_length(v) == 0 || strpbrk(json_string_value(v), ": \t\n"))
            tp_schema_error(&L->s, "name", "journey name must be non-empty without ':' or "
                                           "spaces (it is part of Redis keys)");
    }
    v = json_object_get(root, "description");
    if (json_is_string(v))
        j->description = tp_schema_strdup(&L->s, "description", json_string_value(v));
    v = json_object_get(root, "secrets");
    if (json_is_array(v))
        load_secrets(L, v);
    steps = json_object_get(root, "steps");
    L->steps_json = json_is_array(steps) ? steps : NULL;
    v = json_object_get(root, "variables");
    load_variables(L, json_is_object(v) ? v : NULL);
    j->max_body_bytes = TP_DEFAULT_MAX_BODY;
    v = json_object_get(root, "defaults");
    if (json_is_object(v)) {
        struct step_defaults base = defaults;
        json_t *h = json_object_get(v, "headers");
        tp_schema_check(&L->s, v, "defaults", "defaults", defaults_fields,
                        sizeof defaults_fields / sizeof defaults_fields[0]);
        load_step_settings(L, v, "defaults", &base, &defaults);
        j->max_body_bytes =
            tp_schema_int(&L->s, v, "max_body_bytes", "defaults", 1, 1L << 30, TP_DEFAULT_MAX_BODY);
        if (json_is_object(h)) {
            check_header_names(L, h, "defaults.headers");
            load_kvlist(L, h, "defaults.headers", &j->default_headers, 0, 0);
        }
    }
    v = json_object_get(root, "compare");
    if (json_is_object(v))
        load_compare(L, v, "compare");
    else {
        j->compare.margin_pct = j->compare.margin_ms = -1;
        j->compare.noise = TP_NOISE_ROUNDS;
    }

    if (!json_is_array(steps))
        return;
    if (json_array_size(steps) == 0)
        tp_schema_error(&L->s, "steps", "a journey needs at least one step");
    j->steps = calloc(json_array_size(steps) + 1, sizeof *j->steps);
    if (!j->steps) {
        tp_diags_nomem(L->s.diags, L->s.file, "steps");
        return;
    }
    for (size_t i = 0; i < json_array_size(steps); i++) {
        json_t *obj = json_array_get(steps, i);
        tp_path_index(sub, sizeof sub, "steps", i);
        if (!json_is_object(obj)) {
            tp_schema_error(&L->s, sub, "expected a step object, got %s",
                            tp_schema_type_name(obj));
            continue;
        }
        struct tp_step *st = &j->steps[j->nsteps++];
        load_step(L, obj, sub, i, &defaults, st);
        for (size_t k = 0; st->name && k + 1 < j->nsteps; k++) {
            if (j->steps[k].name && strcmp(j->steps[k].name, st->name) == 0) {
                char nsub[PATH_MAX_LEN];
                tp_path_key(nsub, sizeof nsub, sub, "name");
                tp_schema_error(&L->s, nsub, "duplicate step name \"%s\" (also steps[%zu])",
                                st->name, k);
                break;
            }
        }
    }
    warn_learn_races(L);
    for (size_t i = 0; i < j->compare.ncritical; i++) {
        if (!tp_journey_step(j, j->compare.critical_steps[i])) {
            tp_path_index(sub, sizeof sub, "compare.critical_steps", i);
            tp_schema_error(&L->s, sub, "no step is named \"%s\"", j->compare.critical_steps[i]);
        }
    }
}

struct tp_journey *tp_journey_load(const char *file, const char *bytes, size_t len,
                                   struct tp_diags *diags)
{
    return tp_journey_load_with(file, bytes, len, NULL, diags);
}

struct tp_journey *tp_journey_load_with(const char *file, const char *bytes, size_t len,
                                        const struct tp_journey_opts *opts,
                                        struct tp_diags *diags)
{
    struct loader L;
    json_t *root;
    size_t before = tp_diags_total(diags);

    memset(&L, 0, sizeof L);
    L.s.file = file;
    L.s.diags = diags;
    L.opts = opts;
    root = tp_schema_parse(&L.s, bytes, len, TP_JOURNEY_MAX_BYTES, "journey");
    if (!root)
        return NULL;
    L.j = calloc(1, sizeof *L.j);
    if (!L.j) {
        tp_diags_nomem(L.s.diags, L.s.file, "");
        json_decref(root);
        return NULL;
    }
    L.j->file = strdup(file);
    if (!L.j->file)
        tp_diags_nomem(diags, file, "");
    load_journey(&L, root);
    names_free(&L.defined);
    names_free(&L.variables);
    names_free(&L.warned);
    json_decref(root);
    if (tp_diags_total(diags) != before || !L.j->file) {
        tp_journey_free(L.j);
        return NULL;
    }
    return L.j;
}

static void expect_clear(struct tp_expect *x)
{
    tp_source_clear(&x->source);
    for (size_t k = 0; k < x->npreds; k++) {
        struct tp_predicate *p = &x->preds[k];
        if (p->items_tpl) {
            for (size_t m = 0; m < json_array_size(p->expected); m++)
                tp_template_free(p->items_tpl[m]);
            free(p->items_tpl);
        }
        json_decref(p->expected);
        tp_template_free(p->tpl);
        tp_regex_free(p->regex);
    }
    free(x->preds);
}

static void step_free(struct tp_step *st)
{
    free(st->name);
    free(st->method);
    tp_template_free(st->url);
    kvlist_free(&st->query);
    kvlist_free(&st->headers);
    tp_template_free(st->body_tpl);
    kvlist_free(&st->form);
    for (size_t i = 0; i < st->nparts; i++) {
        free(st->parts[i].name);
        tp_template_free(st->parts[i].value);
        free(st->parts[i].file);
        free(st->parts[i].filename);
        free(st->parts[i].content_type);
    }
    free(st->parts);
    for (size_t i = 0; i < st->ncaptures; i++) {
        free(st->captures[i].name);
        tp_source_clear(&st->captures[i].source);
    }
    free(st->captures);
    for (size_t i = 0; i < st->nexpects; i++)
        expect_clear(&st->expects[i]);
    free(st->expects);
    tp_auth_clear(&st->auth);
}

static void strings_free(char **items, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(items[i]);
    free(items);
}

void tp_journey_free(struct tp_journey *j)
{
    if (!j)
        return;
    free(j->file);
    free(j->name);
    free(j->description);
    kvlist_free(&j->variables);
    strings_free(j->secrets, j->nsecrets);
    kvlist_free(&j->default_headers);
    for (size_t i = 0; i < j->compare.nignore; i++)
        tp_jsonpath_free(j->compare.ignore[i]);
    free(j->compare.ignore);
    for (size_t i = 0; i < j->compare.nignore_xpath; i++)
        xmlXPathFreeCompExpr(j->compare.ignore_xpath[i]);
    free(j->compare.ignore_xpath);
    for (size_t i = 0; i < j->compare.nignore_lines; i++)
        tp_regex_free(j->compare.ignore_lines[i]);
    free(j->compare.ignore_lines);
    strings_free(j->compare.ignore_labels, j->compare.nignore_labels);
    strings_free(j->compare.headers, j->compare.nheaders);
    strings_free(j->compare.critical_steps, j->compare.ncritical);
    for (size_t i = 0; i < j->nsteps; i++)
        step_free(&j->steps[i]);
    free(j->steps);
    free(j);
}

const struct tp_step *tp_journey_step(const struct tp_journey *j, const char *name)
{
    for (size_t i = 0; i < j->nsteps; i++)
        if (j->steps[i].name && strcmp(j->steps[i].name, name) == 0)
            return &j->steps[i];
    return NULL;
}

/* Adds the env names of one template to the list (each once). */
static void env_names_of(const tp_template *t, const char **names, size_t max, size_t *n)
{
    size_t nparts;
    const struct tp_tpl_part *parts;
    if (!t)
        return;
    parts = tp_template_parts(t, &nparts);
    for (size_t i = 0; i < nparts; i++) {
        if (parts[i].kind != TP_TPL_ENV || parts[i].fallback)
            continue;
        size_t k;
        for (k = 0; k < *n && k < max; k++)
            if (strcmp(names[k], parts[i].text) == 0)
                break;
        if (k < *n && k < max)
            continue;
        if (*n < max)
            names[*n] = parts[i].text;
        (*n)++;
    }
}

static void env_names_of_list(const struct tp_kvlist *l, const char **names, size_t max,
                              size_t *n)
{
    for (size_t i = 0; i < l->count; i++)
        env_names_of(l->items[i].value, names, max, n);
}

size_t tp_journey_env_names(const struct tp_journey *j, const char **names, size_t max)
{
    size_t n = 0;
    env_names_of_list(&j->variables, names, max, &n);
    env_names_of_list(&j->default_headers, names, max, &n);
    for (size_t s = 0; s < j->nsteps; s++) {
        const struct tp_step *st = &j->steps[s];
        env_names_of(st->url, names, max, &n);
        env_names_of_list(&st->query, names, max, &n);
        env_names_of_list(&st->headers, names, max, &n);
        env_names_of_list(&st->form, names, max, &n);
        env_names_of(st->body_tpl, names, max, &n);
        env_names_of(st->auth.user, names, max, &n);
        env_names_of(st->auth.password, names, max, &n);
        for (size_t i = 0; i < st->nparts; i++)
            env_names_of(st->parts[i].value, names, max, &n);
        for (size_t e = 0; e < st->nexpects; e++) {
            for (size_t p = 0; p < st->expects[e].npreds; p++) {
                const struct tp_predicate *pr = &st->expects[e].preds[p];
                env_names_of(pr->tpl, names, max, &n);
                for (size_t m = 0; pr->items_tpl && m < json_array_size(pr->expected); m++)
                    env_names_of(pr->items_tpl[m], names, max, &n);
            }
        }
    }
    return n;
}
