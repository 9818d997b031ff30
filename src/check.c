/* Predicates: expected values expanded through templates, then applied to what a
 * source read. Messages follow DESIGN.md: `expected "A-100", got "A-101"`. */
#include "twinprobe/check.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "twinprobe/schema.h"
#include "twinprobe/utf8.h"

#define SHOW_MAX TP_CHECK_SHOW_MAX /* bytes of a value shown before it is cut */
#define ELLIPSIS "\xE2\x80\xA6" /* U+2026, marks a cut value */
#define SHOW_FLAGS (JSON_ENCODE_ANY | JSON_REAL_PRECISION(15))

/* ---- expected values ------------------------------------------------------ */

static tp_err expand(const tp_template *t, const struct tp_template_env *env,
                     enum tp_tpl_escape esc, json_t **out, struct tp_error *err)
{
    char *text = NULL;
    tp_err rc = tp_template_expand(t, env, esc, &text, err);

    *out = NULL;
    if (rc != TP_OK)
        return rc;
    *out = tp_value_string(text, strlen(text));
    free(text);
    return *out ? TP_OK : tp_error_set(err, TP_ERR_NOMEM, "out of memory");
}

static int has_placeholders(const tp_template *t)
{
    return t && !tp_template_is_literal(t);
}

tp_err tp_check_expected(const struct tp_predicate *p, const struct tp_template_env *env,
                         json_t **out, int *from_template, struct tp_error *err)
{
    json_t *result = NULL, *item, *v;
    int templated = 0;
    size_t i;
    tp_err rc = TP_OK;

    *out = NULL;
    *from_template = 0;
    if (!p || !p->expected)
        return tp_error_set(err, TP_ERR_INTERNAL, "predicate without an expected value");
    if (p->kind == TP_PRED_IN && json_is_array(p->expected)) {
        result = json_array();
        if (!result)
            return tp_error_set(err, TP_ERR_NOMEM, "out of memory");
        json_array_foreach(p->expected, i, item) {
            const tp_template *t = p->items_tpl ? p->items_tpl[i] : NULL;
            if (has_placeholders(t)) {
                rc = expand(t, env, TP_ESC_NONE, &v, err);
                if (rc != TP_OK)
                    goto fail;
                templated = 1;
            } else {
                v = json_incref(item);
            }
            if (json_array_append_new(result, v) != 0) {
                rc = tp_error_set(err, TP_ERR_NOMEM, "out of memory");
                goto fail;
            }
        }
    } else if (has_placeholders(p->tpl)) {
        /* a `matches` pattern gets its values as literal text, escaped */
        rc = expand(p->tpl, env, p->kind == TP_PRED_MATCHES ? TP_ESC_REGEX : TP_ESC_NONE,
                    &result, err);
        if (rc != TP_OK)
            goto fail;
        templated = 1;
    } else {
        result = json_incref(p->expected);
    }
    *out = result;
    *from_template = templated;
    return TP_OK;
fail:
    json_decref(result);
    return rc;
}

/* ---- numbers and equality ----------------------------------------------- */

/* A number, kept exact when it is an integer. */
struct num {
    int is_int;
    json_int_t i;
    double d;
};

/* Reads text as a JSON number (RFC 8259 grammar, whole text, spaces around
 * allowed): "12.5" yes, "0x10", "nan", "1,5" and "" no. */
static int num_from_text(const char *s, size_t len, struct num *n)
{
    size_t b = 0, e = len, i;
    int integral = 1;
    char buf[400], *end;

    while (b < e && (s[b] == ' ' || s[b] == '\t'))
        b++;
    while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t'))
        e--;
    if (e == b || e - b >= sizeof buf)
        return 0;
    i = b;
    if (s[i] == '-')
        i++;
    if (i >= e || s[i] < '0' || s[i] > '9')
        return 0;
    if (s[i] == '0')
        i++;
    else
        while (i < e && s[i] >= '0' && s[i] <= '9')
            i++;
    if (i < e && s[i] == '.') {
        integral = 0;
        if (++i >= e || s[i] < '0' || s[i] > '9')
            return 0;
        while (i < e && s[i] >= '0' && s[i] <= '9')
            i++;
    }
    if (i < e && (s[i] == 'e' || s[i] == 'E')) {
        integral = 0;
        i++;
        if (i < e && (s[i] == '+' || s[i] == '-'))
            i++;
        if (i >= e || s[i] < '0' || s[i] > '9')
            return 0;
        while (i < e && s[i] >= '0' && s[i] <= '9')
            i++;
    }
    if (i != e)
        return 0;
    memcpy(buf, s + b, e - b);
    buf[e - b] = '\0';
    n->is_int = 0;
    if (integral) {
        errno = 0;
        long long ll = strtoll(buf, &end, 10);
        if (errno == 0 && *end == '\0') {
            n->is_int = 1;
            n->i = (json_int_t)ll;
            n->d = (double)ll;
            return 1;
        }
    }
    n->d = strtod(buf, &end);
    return *end == '\0' && isfinite(n->d);
}

/* A number value, or a string that reads as one. */
static int num_from_value(const json_t *v, struct num *n)
{
    if (json_is_integer(v)) {
        n->is_int = 1;
        n->i = json_integer_value(v);
        n->d = (double)n->i;
        return 1;
    }
    if (json_is_real(v)) {
        n->is_int = 0;
        n->d = json_real_value(v);
        return 1;
    }
    if (json_is_string(v))
        return num_from_text(json_string_value(v), json_string_length(v), n);
    return 0;
}

/* -1, 0, 1 */
static int num_cmp(const struct num *a, const struct num *b)
{
    if (a->is_int && b->is_int)
        return (a->i > b->i) - (a->i < b->i);
    return (a->d > b->d) - (a->d < b->d);
}

/* JSON equality with numbers compared by value (1 == 1.0). */
static int values_equal(const json_t *a, const json_t *b)
{
    const char *key;
    json_t *va;
    size_t i;

    if (json_is_number(a) && json_is_number(b)) {
        struct num x, y;
        num_from_value(a, &x);
        num_from_value(b, &y);
        return num_cmp(&x, &y) == 0;
    }
    if (json_typeof(a) != json_typeof(b))
        return 0;
    switch (json_typeof(a)) {
    case JSON_STRING:
        return json_string_length(a) == json_string_length(b) &&
               memcmp(json_string_value(a), json_string_value(b), json_string_length(a)) == 0;
    case JSON_ARRAY:
        if (json_array_size(a) != json_array_size(b))
            return 0;
        json_array_foreach(a, i, va) {
            if (!values_equal(va, json_array_get(b, i)))
                return 0;
        }
        return 1;
    case JSON_OBJECT:
        if (json_object_size(a) != json_object_size(b))
            return 0;
        json_object_foreach((json_t *)a, key, va) {
            const json_t *vb = json_object_get(b, key);
            if (!vb || !values_equal(va, vb))
                return 0;
        }
        return 1;
    default:
        return 1; /* true, false, null: the type is the value */
    }
}

/* Equality as the predicates see it: a templated expected string equals a number
 * of the same value ("2" and 2, "2.50" and 2.5) and a boolean by its text. */
static int equals_expected(const json_t *expected, int from_template, const json_t *actual)
{
    if (from_template && json_is_string(expected)) {
        if (json_is_number(actual)) {
            struct num x, y;
            return num_from_value(expected, &x) && num_from_value(actual, &y) &&
                   num_cmp(&x, &y) == 0;
        }
        if (json_is_boolean(actual))
            return strcmp(json_string_value(expected), json_is_true(actual) ? "true" : "false") ==
                   0;
    }
    return values_equal(expected, actual);
}

static int has_substring(const char *h, size_t hn, const char *n, size_t nn)
{
    if (nn == 0)
        return 1;
    while (hn >= nn) {
        const char *p = memchr(h, n[0], hn - nn + 1);
        if (!p)
            return 0;
        if (memcmp(p, n, nn) == 0)
            return 1;
        hn -= (size_t)(p - h) + 1;
        h = p + 1;
    }
    return 0;
}

/* 1 contains, 0 does not, -1 the value is not something that contains. */
static int contains(const json_t *actual, const json_t *expected, int from_template)
{
    if (json_is_string(actual)) {
        if (!json_is_string(expected))
            return -1;
        return has_substring(json_string_value(actual), json_string_length(actual),
                             json_string_value(expected), json_string_length(expected));
    }
    if (json_is_array(actual)) {
        size_t i;
        json_t *item;
        json_array_foreach(actual, i, item) {
            if (equals_expected(expected, from_template, item))
                return 1;
        }
        return 0;
    }
    if (json_is_object(actual) && json_is_string(expected))
        return json_object_get(actual, json_string_value(expected)) != NULL;
    return -1;
}

/* 1 matches, 0 not, -1 not a string or number, -2 the match failed, -3 it went
 * past its bounds (rematch.h). */
static int regex_matches(const struct tp_regex *re, const json_t *actual)
{
    size_t start, len;
    char buf[64];
    int r;

    if (!re)
        return -2;
    if (json_is_string(actual))
        r = tp_regex_search(re, json_string_value(actual), json_string_length(actual), &start,
                            &len);
    else if (json_is_number(actual)) {
        size_t n = json_dumpb(actual, buf, sizeof buf, SHOW_FLAGS);
        if (n == 0 || n >= sizeof buf)
            return -1;
        buf[n] = '\0';
        r = tp_regex_search(re, buf, n, &start, &len);
    } else {
        return -1;
    }
    return r == -2 ? -3 : r < 0 ? -2 : r;
}

/* `matches`: p->regex, or (a pattern with placeholders) the expanded expected
 * pattern compiled for this check. As regex_matches; *note says why a match
 * failed, why holding the compiler's message when the pattern did not compile. */
static int matches(const struct tp_predicate *p, const json_t *expected, const json_t *actual,
                   const char **note, char *why, size_t size)
{
    struct tp_regex *re = NULL;
    struct tp_error err;
    int r;

    if (p->regex || !json_is_string(expected)) {
        r = regex_matches(p->regex, actual);
        if (r == -2)
            *note = " (the match failed: no pattern or no memory)";
        if (r == -3)
            *note = " (the match went past its bounds)";
        return r;
    }
    tp_error_clear(&err);
    if (tp_regex_compile(json_string_value(expected), &re, &err) != TP_OK) {
        snprintf(why, size, " (the expanded pattern does not compile: %s)", err.text);
        *note = why;
        return -2;
    }
    r = regex_matches(re, actual);
    tp_regex_free(re);
    if (r == -2)
        *note = " (the match failed: no memory)";
    if (r == -3)
        *note = " (the match went past its bounds)";
    return r;
}

static int has_type(const json_t *v, const char *name)
{
    if (strcmp(name, "number") == 0)
        return json_is_number(v);
    if (strcmp(name, "integer") == 0) {
        double d = json_is_real(v) ? json_real_value(v) : 0.5;
        return json_is_integer(v) || (isfinite(d) && floor(d) == d);
    }
    return strcmp(tp_schema_type_name(v), name) == 0;
}

/* For `count`: the size of a single array or object result, else the nodes. */
static size_t count_of(const struct tp_value *actual)
{
    if (!actual || !actual->value)
        return 0;
    if (actual->count == 1 && json_is_array(actual->value))
        return json_array_size(actual->value);
    if (actual->count == 1 && json_is_object(actual->value))
        return json_object_size(actual->value);
    return actual->count;
}

/* ---- messages ----------------------------------------------------------- */

struct msg {
    char *buf;
    size_t size;
    size_t used;
};

static void msg_addn(struct msg *m, const char *s, size_t n)
{
    if (m->size == 0 || m->used + 1 >= m->size)
        return;
    if (n > m->size - 1 - m->used)
        n = m->size - 1 - m->used;
    memcpy(m->buf + m->used, s, n);
    m->used += n;
    m->buf[m->used] = '\0';
}

static void msg_add(struct msg *m, const char *s)
{
    msg_addn(m, s, strlen(s));
}

/* Text cut to SHOW_MAX bytes (on a character boundary), marked with "…". */
static void msg_add_cut(struct msg *m, const char *s, size_t len)
{
    if (len <= SHOW_MAX) {
        msg_addn(m, s, len);
        return;
    }
    msg_addn(m, s, tp_utf8_clip(s, SHOW_MAX));
    msg_add(m, ELLIPSIS);
}

/* A value as compact one-line JSON (strings quoted), long ones cut. */
static void msg_add_value(struct msg *m, const json_t *v)
{
    json_t *cut = NULL;
    char *text = NULL;

    if (json_is_string(v) && json_string_length(v) > SHOW_MAX) {
        const char *s = json_string_value(v);
        cut = json_stringn_nocheck(s, tp_utf8_clip(s, SHOW_MAX));
        text = cut ? json_dumps(cut, SHOW_FLAGS) : NULL;
        if (text) {
            msg_addn(m, text, strlen(text) - 1); /* without the closing quote */
            msg_add(m, ELLIPSIS "\"");
        }
    } else {
        text = json_dumps(v, SHOW_FLAGS);
        if (text)
            msg_add_cut(m, text, strlen(text));
    }
    if (!text)
        msg_add(m, "?");
    free(text);
    json_decref(cut);
}

static void msg_add_size(struct msg *m, size_t n)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%zu", n);
    msg_add(m, buf);
}

/* "expected ...": what the predicate wanted. */
static void msg_expectation(struct msg *m, const struct tp_predicate *p, const json_t *expected)
{
    static const struct {
        enum tp_pred_kind kind;
        const char *lead;
    } leads[] = {
        {TP_PRED_EQUALS, "expected "},
        {TP_PRED_NOT_EQUALS, "expected not "},
        {TP_PRED_LT, "expected < "},
        {TP_PRED_LE, "expected <= "},
        {TP_PRED_GT, "expected > "},
        {TP_PRED_GE, "expected >= "},
        {TP_PRED_CONTAINS, "expected to contain "},
        {TP_PRED_NOT_CONTAINS, "expected not to contain "},
        {TP_PRED_IN, "expected one of "},
        {TP_PRED_COUNT, "expected count "},
    };

    switch (p->kind) {
    case TP_PRED_EXISTS:
        msg_add(m, json_is_false(expected) ? "expected not to exist" : "expected to exist");
        return;
    case TP_PRED_MATCHES:
        msg_add(m, "expected to match /");
        if (json_is_string(expected))
            msg_add_cut(m, json_string_value(expected), json_string_length(expected));
        msg_add(m, "/");
        return;
    case TP_PRED_TYPE:
        msg_add(m, "expected type ");
        msg_add(m, json_is_string(expected) ? json_string_value(expected) : "?");
        return;
    default:
        break;
    }
    for (size_t i = 0; i < sizeof leads / sizeof leads[0]; i++) {
        if (leads[i].kind == p->kind) {
            msg_add(m, leads[i].lead);
            msg_add_value(m, expected);
            return;
        }
    }
    msg_add(m, "expected ?");
}

static int numeric_order(enum tp_pred_kind kind, const json_t *actual, const json_t *expected)
{
    struct num a, e;
    int c;

    if (!num_from_value(actual, &a) || !num_from_value(expected, &e))
        return 0;
    c = num_cmp(&a, &e);
    switch (kind) {
    case TP_PRED_LT:
        return c < 0;
    case TP_PRED_LE:
        return c <= 0;
    case TP_PRED_GT:
        return c > 0;
    default:
        return c >= 0;
    }
}

int tp_check(const struct tp_predicate *p, const json_t *expected, int from_template,
             const struct tp_value *actual, char *msg, size_t size)
{
    struct msg m = {msg, size, 0};
    const json_t *a = actual ? actual->value : NULL;
    const char *note = NULL;
    char why[600];
    size_t i;
    json_t *item;
    int ok = 0, expensive = 0, r;

    if (size > 0)
        msg[0] = '\0';
    if (!p || !expected) {
        msg_add(&m, "no expected value to compare with");
        return 0;
    }
    if (!a && p->kind != TP_PRED_EXISTS && p->kind != TP_PRED_COUNT) {
        if (p->kind == TP_PRED_NOT_EQUALS || p->kind == TP_PRED_NOT_CONTAINS)
            return 1;
        msg_expectation(&m, p, expected);
        msg_add(&m, ", found nothing");
        goto done;
    }
    switch (p->kind) {
    case TP_PRED_EQUALS:
        ok = equals_expected(expected, from_template, a);
        break;
    case TP_PRED_NOT_EQUALS:
        ok = !equals_expected(expected, from_template, a);
        break;
    case TP_PRED_LT:
    case TP_PRED_LE:
    case TP_PRED_GT:
    case TP_PRED_GE:
        ok = numeric_order(p->kind, a, expected);
        break;
    case TP_PRED_CONTAINS:
    case TP_PRED_NOT_CONTAINS:
        r = contains(a, expected, from_template);
        ok = r >= 0 && (p->kind == TP_PRED_CONTAINS ? r == 1 : r == 0);
        break;
    case TP_PRED_MATCHES:
        r = matches(p, expected, a, &note, why, sizeof why);
        ok = r == 1;
        expensive = r == -3;
        break;
    case TP_PRED_EXISTS:
        ok = json_is_false(expected) ? a == NULL : a != NULL;
        break;
    case TP_PRED_IN:
        json_array_foreach(expected, i, item) {
            if (equals_expected(item, from_template, a)) {
                ok = 1;
                break;
            }
        }
        break;
    case TP_PRED_COUNT:
        ok = json_is_integer(expected) && json_integer_value(expected) >= 0 &&
             (json_int_t)count_of(actual) == json_integer_value(expected);
        break;
    case TP_PRED_TYPE:
        ok = json_is_string(expected) && has_type(a, json_string_value(expected));
        break;
    }
    if (ok)
        return 1;
    msg_expectation(&m, p, expected);
    if (p->kind == TP_PRED_COUNT) {
        msg_add(&m, ", got ");
        msg_add_size(&m, count_of(actual));
    } else if (!a) {
        msg_add(&m, ", found nothing");
    } else {
        msg_add(&m, ", got ");
        if (p->kind == TP_PRED_TYPE) {
            msg_add(&m, tp_schema_type_name(a));
            msg_add(&m, " ");
        }
        msg_add_value(&m, a);
    }
    if (note)
        msg_add(&m, note);
done:
    if (size > 0)
        msg[tp_utf8_clip(msg, m.used)] = '\0';
    return expensive ? -1 : 0;
}
