/* Templates: "{{...}}" placeholders parsed once and expanded per request with
 * values that come in through struct tp_template_env. No I/O here: no getenv,
 * no clock, no rand. */
#include "twinprobe/template.h"

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "twinprobe/escape.h"
#include "twinprobe/strbuf.h"

struct tp_template {
    char *source;              /* copy of the parsed string */
    struct tp_tpl_part *parts; /* count used, cap allocated */
    size_t count;
    size_t cap;
    int literal; /* 1 when every part is TP_TPL_TEXT */
};

static const char hex_lower[] = "0123456789abcdef";

/* A PCRE2 pattern reads each ASCII byte other than a letter, digit or '_' after
 * a backslash as itself (also a space, which PCRE2_EXTENDED would drop). */
static int escape_regex(struct tp_strbuf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        int plain = c >= 0x80 || c == '_' || (c >= '0' && c <= '9') ||
                    ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
        if ((!plain && tp_strbuf_add(b, "\\", 1)) || tp_strbuf_add(b, s + i, 1))
            return -1;
    }
    return 0;
}

/* Appends a substituted value escaped as esc says (TP_ESC_NONE: as is). */
static tp_err append_escaped(struct tp_strbuf *b, const char *s, size_t n, enum tp_tpl_escape esc)
{
    int rc;

    switch (esc) {
    case TP_ESC_JSON:
        rc = tp_escape_json(b, s, n);
        break;
    case TP_ESC_URL:
        rc = tp_escape_url(b, s, n, 0);
        break;
    case TP_ESC_REGEX:
        rc = escape_regex(b, s, n);
        break;
    default:
        rc = tp_strbuf_add(b, s, n);
        break;
    }
    return rc ? TP_ERR_NOMEM : TP_OK;
}

/* ---- parsing ------------------------------------------------------------ */

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int is_name_start(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static int is_name_char(char c)
{
    return is_name_start(c) || (c >= '0' && c <= '9') || c == '.' || c == '-';
}

/* A byte as an error message shows it: 'x', space, tab, newline, byte 0x80. */
static const char *describe_byte(unsigned char c, char *out, size_t size)
{
    if (c == ' ')
        snprintf(out, size, "space");
    else if (c == '\t')
        snprintf(out, size, "tab");
    else if (c == '\n' || c == '\r')
        snprintf(out, size, "newline");
    else if (c > 0x20 && c < 0x7f)
        snprintf(out, size, "'%c'", c);
    else
        snprintf(out, size, "byte 0x%02X", (unsigned)c);
    return out;
}

/* The first "cc" at or after p, or NULL. A plain scan rather than strstr, whose
 * sanitizer interceptors read the whole rest of the string on every call. */
static const char *find_double(const char *p, char c)
{
    for (; *p; p++)
        if (p[0] == c && p[1] == c)
            return p;
    return NULL;
}

static void set_column(struct tp_error *err, const char *src, const char *at)
{
    size_t off = (size_t)(at - src);
    if (err)
        err->column = off < (size_t)INT_MAX ? (int)off + 1 : INT_MAX;
}

/* name -> [A-Za-z_][A-Za-z0-9_.-]*  over [b, e), which is not empty.
 * Returns TP_OK, or TP_ERR_INVALID naming the first bad byte. */
static tp_err check_name(const char *src, const char *b, const char *e, const char *what,
                         struct tp_error *err)
{
    const char *p;
    char shown[16];

    if (!is_name_start(*b)) {
        set_column(err, src, b);
        return tp_error_set(err, TP_ERR_INVALID, "%s must start with a letter or '_', not %s", what,
                            describe_byte((unsigned char)*b, shown, sizeof shown));
    }
    for (p = b + 1; p < e; p++) {
        if (!is_name_char(*p)) {
            set_column(err, src, p);
            return tp_error_set(err, TP_ERR_INVALID, "unexpected %s in %s",
                                describe_byte((unsigned char)*p, shown, sizeof shown), what);
        }
    }
    return TP_OK;
}

static char *copy_range(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

/* Appends a part; TEXT, VAR and ENV get a copy of [s, s + n). */
static tp_err add_part(tp_template *t, enum tp_tpl_kind kind, const char *s, size_t n)
{
    struct tp_tpl_part *part;

    if (t->count == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 4;
        struct tp_tpl_part *parts;
        if (cap > SIZE_MAX / sizeof *parts)
            return TP_ERR_NOMEM;
        parts = realloc(t->parts, cap * sizeof *parts);
        if (!parts)
            return TP_ERR_NOMEM;
        t->parts = parts;
        t->cap = cap;
    }
    part = &t->parts[t->count];
    part->kind = kind;
    part->text = NULL;
    part->len = 0;
    part->fallback = NULL;
    if (kind == TP_TPL_TEXT || kind == TP_TPL_VAR || kind == TP_TPL_ENV) {
        part->text = copy_range(s, n);
        if (!part->text)
            return TP_ERR_NOMEM;
        if (kind == TP_TPL_TEXT)
            part->len = n;
    }
    if (kind != TP_TPL_TEXT)
        t->literal = 0;
    t->count++;
    return TP_OK;
}

static const struct {
    const char *name;
    enum tp_tpl_kind kind;
} builtins[] = {
    {"uuid", TP_TPL_UUID},     {"now_ms", TP_TPL_NOW_MS},       {"random_int", TP_TPL_RANDOM_INT},
    {"target", TP_TPL_TARGET}, {"location", TP_TPL_LOCATION},
};
#define NBUILTINS (sizeof builtins / sizeof builtins[0])

const char *const *tp_template_builtins(size_t *count)
{
    static const char *names[NBUILTINS];
    for (size_t i = 0; i < NBUILTINS; i++)
        names[i] = builtins[i].name;
    *count = NBUILTINS;
    return names;
}

/* The name part of a placeholder: env.NAME, a built-in or a variable. */
static tp_err add_name(tp_template *t, const char *src, const char *b, const char *e,
                       int has_default, struct tp_error *err)
{
    size_t n = (size_t)(e - b);
    tp_err rc = check_name(src, b, e, "placeholder name", err);

    if (rc)
        return rc;
    if (n >= 4 && memcmp(b, "env.", 4) == 0) {
        if (n == 4) {
            set_column(err, src, e);
            return tp_error_set(err, TP_ERR_INVALID,
                                "missing environment variable name after \"env.\"");
        }
        rc = check_name(src, b + 4, e, "environment variable name", err);
        if (!rc && add_part(t, TP_TPL_ENV, b + 4, n - 4))
            rc = tp_error_set(err, TP_ERR_NOMEM, "out of memory");
        return rc;
    }
    for (size_t i = 0; i < NBUILTINS; i++) {
        if (strlen(builtins[i].name) != n || memcmp(b, builtins[i].name, n) != 0)
            continue;
        if (has_default) {
            set_column(err, src, b);
            return tp_error_set(err, TP_ERR_INVALID, "the built-in {{%s}} takes no default",
                                builtins[i].name);
        }
        if (add_part(t, builtins[i].kind, NULL, 0))
            return tp_error_set(err, TP_ERR_NOMEM, "out of memory");
        return TP_OK;
    }
    if (add_part(t, TP_TPL_VAR, b, n))
        return tp_error_set(err, TP_ERR_NOMEM, "out of memory");
    return TP_OK;
}

/* placeholder -> "{{" ws* name ws* ( "|" ws* default ws* )? "}}"
 * name -> "env." NAME | "uuid" | "now_ms" | "random_int" | "target" | "location" | NAME
 * open points at "{{", close at the first "}}" after it; the default is the text
 * up to close, so it holds no "}}". */
static tp_err parse_placeholder(tp_template *t, const char *src, const char *open,
                                const char *close, struct tp_error *err)
{
    const char *b = open + 2, *e = close, *bar = memchr(b, '|', (size_t)(close - b));
    const char *db = NULL, *de = NULL;
    tp_err rc;

    if (bar) {
        e = bar;
        db = bar + 1;
        de = close;
        while (db < de && is_space(*db))
            db++;
        while (de > db && is_space(de[-1]))
            de--;
    }
    while (b < e && is_space(*b))
        b++;
    while (e > b && is_space(e[-1]))
        e--;
    if (b == e) {
        set_column(err, src, open);
        return tp_error_set(err, TP_ERR_INVALID, bar ? "empty placeholder name before \"|\""
                                                     : "empty placeholder name in \"{{}}\"");
    }
    rc = add_name(t, src, b, e, bar != NULL, err);
    if (rc || !bar)
        return rc;
    t->parts[t->count - 1].fallback = copy_range(db, (size_t)(de - db));
    if (!t->parts[t->count - 1].fallback)
        return tp_error_set(err, TP_ERR_NOMEM, "out of memory");
    return TP_OK;
}

/* template -> ( text | placeholder )*
 * Each "{{" is matched with the first "}}" after it and scanning resumes past
 * that, so the work and memory are linear in strlen(src) whatever the input. */
tp_err tp_template_parse(const char *src, tp_template **out, struct tp_error *err)
{
    tp_template *t = NULL;
    const char *p, *open;
    tp_err rc;

    if (out)
        *out = NULL;
    if (!src || !out)
        return tp_error_set(err, TP_ERR_INTERNAL, "tp_template_parse: NULL argument");
    t = calloc(1, sizeof *t);
    if (!t)
        return tp_error_set(err, TP_ERR_NOMEM, "out of memory");
    t->literal = 1;
    t->source = copy_range(src, strlen(src));
    if (!t->source) {
        rc = tp_error_set(err, TP_ERR_NOMEM, "out of memory");
        goto fail;
    }
    for (p = src; (open = find_double(p, '{')) != NULL;) {
        const char *close = find_double(open + 2, '}');
        if (!close) {
            set_column(err, src, open);
            rc = tp_error_set(err, TP_ERR_INVALID, "unterminated \"{{\" (no closing \"}}\")");
            goto fail;
        }
        if (open > p && add_part(t, TP_TPL_TEXT, p, (size_t)(open - p))) {
            rc = tp_error_set(err, TP_ERR_NOMEM, "out of memory");
            goto fail;
        }
        rc = parse_placeholder(t, src, open, close, err);
        if (rc)
            goto fail;
        p = close + 2;
    }
    if (*p && add_part(t, TP_TPL_TEXT, p, strlen(p))) {
        rc = tp_error_set(err, TP_ERR_NOMEM, "out of memory");
        goto fail;
    }
    *out = t;
    return TP_OK;

fail:
    tp_template_free(t);
    return rc;
}

tp_err tp_template_literal(const char *text, tp_template **out)
{
    tp_template *t = calloc(1, sizeof *t);
    size_t n = text ? strlen(text) : 0;

    *out = NULL;
    if (!t)
        return TP_ERR_NOMEM;
    t->literal = 1;
    t->source = copy_range(text ? text : "", n);
    if (!t->source || (n > 0 && add_part(t, TP_TPL_TEXT, text, n))) {
        tp_template_free(t);
        return TP_ERR_NOMEM;
    }
    *out = t;
    return TP_OK;
}

void tp_template_free(tp_template *t)
{
    size_t i;

    if (!t)
        return;
    for (i = 0; i < t->count; i++) {
        free(t->parts[i].text);
        free(t->parts[i].fallback);
    }
    free(t->parts);
    free(t->source);
    free(t);
}

const struct tp_tpl_part *tp_template_parts(const tp_template *t, size_t *count)
{
    if (count)
        *count = t ? t->count : 0;
    return t ? t->parts : NULL;
}

int tp_template_is_literal(const tp_template *t)
{
    return t ? t->literal : 1;
}

const char *tp_template_source(const tp_template *t)
{
    return t ? t->source : NULL;
}

/* ---- expansion ---------------------------------------------------------- */

/* A version-4 UUID from two random_u64 draws: lower-case 8-4-4-4-12 hex,
 * version nibble 4, variant bits 10. */
static void format_uuid(const struct tp_template_env *env, char out[37])
{
    unsigned char bytes[16];
    size_t half, i, o = 0;

    for (half = 0; half < 2; half++) {
        uint64_t r = env->random_u64(env->ctx);
        for (i = 0; i < 8; i++)
            bytes[8 * half + i] = (unsigned char)(r >> (56 - 8 * i));
    }
    bytes[6] = (unsigned char)((bytes[6] & 0x0f) | 0x40);
    bytes[8] = (unsigned char)((bytes[8] & 0x3f) | 0x80);
    for (i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex_lower[bytes[i] >> 4];
        out[o++] = hex_lower[bytes[i] & 0xf];
    }
    out[o] = '\0';
}

/* The value of a name part: lookup, else its default, else NULL. *as_written
 * is set for a default (inserted without escaping). */
static const char *lookup(const struct tp_tpl_part *part, const struct tp_template_env *env,
                          int *as_written)
{
    const char *value = part->kind == TP_TPL_VAR ? env->lookup_var(env->ctx, part->text)
                                                 : env->lookup_env(env->ctx, part->text);
    *as_written = 0;
    if (!value && part->fallback) {
        *as_written = 1;
        value = part->fallback;
    }
    return value;
}

static tp_err expand_part(struct tp_strbuf *b, const struct tp_tpl_part *part,
                          const struct tp_template_env *env, enum tp_tpl_escape esc,
                          struct tp_error *err)
{
    const char *value = NULL;
    char scratch[40];
    int as_written = 0;

    switch (part->kind) {
    case TP_TPL_TEXT:
        as_written = 1;
        value = part->text;
        break;
    case TP_TPL_VAR:
        value = lookup(part, env, &as_written);
        if (!value)
            return tp_error_set(err, TP_ERR_INVALID, "undefined variable \"%s\"", part->text);
        break;
    case TP_TPL_ENV:
        value = lookup(part, env, &as_written);
        if (!value)
            return tp_error_set(err, TP_ERR_INVALID, "environment variable %s is not set",
                                part->text);
        break;
    case TP_TPL_UUID:
        format_uuid(env, scratch);
        value = scratch;
        break;
    case TP_TPL_NOW_MS:
        snprintf(scratch, sizeof scratch, "%" PRId64, env->now_ms(env->ctx));
        value = scratch;
        break;
    case TP_TPL_RANDOM_INT:
        /* the top 31 bits: uniform in [0, TP_TPL_RANDOM_INT_MAX] */
        snprintf(scratch, sizeof scratch, "%" PRIu64, env->random_u64(env->ctx) >> 33);
        value = scratch;
        break;
    case TP_TPL_TARGET:
    case TP_TPL_LOCATION:
        value = env->lookup_var(env->ctx, part->kind == TP_TPL_TARGET ? TP_TPL_TARGET_VAR
                                                                      : TP_TPL_LOCATION_VAR);
        if (!value)
            return tp_error_set(err, TP_ERR_INVALID, "{{%s}} has no value here",
                                part->kind == TP_TPL_TARGET ? "target" : "location");
        break;
    }
    if (!value)
        return tp_error_set(err, TP_ERR_INTERNAL, "unknown template part kind %d", (int)part->kind);
    if (as_written ? tp_strbuf_add(b, value, strlen(value)) != 0
                   : append_escaped(b, value, strlen(value), esc) != TP_OK)
        return tp_error_set(err, TP_ERR_NOMEM, "out of memory");
    return TP_OK;
}

tp_err tp_template_expand(const tp_template *t, const struct tp_template_env *env,
                          enum tp_tpl_escape esc, char **out, struct tp_error *err)
{
    struct tp_strbuf b = {0};
    tp_err rc = TP_OK;
    size_t i;

    if (out)
        *out = NULL;
    if (!t || !out || !env || !env->lookup_var || !env->lookup_env || !env->random_u64 ||
        !env->now_ms)
        return tp_error_set(err, TP_ERR_INTERNAL, "tp_template_expand: missing argument");
    if (esc != TP_ESC_NONE && esc != TP_ESC_JSON && esc != TP_ESC_URL && esc != TP_ESC_REGEX)
        return tp_error_set(err, TP_ERR_INTERNAL, "tp_template_expand: bad escape mode %d",
                            (int)esc);
    if (tp_strbuf_add(&b, "", 0)) { /* "" rather than NULL when nothing is added */
        rc = tp_error_set(err, TP_ERR_NOMEM, "out of memory");
        goto fail;
    }
    for (i = 0; !rc && i < t->count; i++)
        rc = expand_part(&b, &t->parts[i], env, esc, err);
    if (rc)
        goto fail;
    *out = b.data;
    return TP_OK;

fail:
    tp_strbuf_free(&b);
    return rc;
}
