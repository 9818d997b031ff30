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
    {"uuid", TP_TPL_UUID},
    {"now_ms", TP_TPL_NOW_MS},
    {"random_int", TP_TPL_RANDOM_INT},
};

/* placeholder -> "{{" ws* ( "env." name | "uuid" | "now_ms" | "random_int" | name ) ws* "}}"
 * open points at "{{", close at the first "}}" after it. */
static tp_err parse_placeholder(tp_template *t, const char *src, const char *open,
                                const char *close, struct tp_error *err)
{
    const char *b = open + 2, *e = close;
    size_t n, i;
    tp_err rc;

    while (b < e && is_space(*b))
        b++;
    while (e > b && is_space(e[-1]))
        e--;
    if (b == e) {
        set_column(err, src, open);
        return tp_error_set(err, TP_ERR_INVALID, "empty placeholder name in \"{{}}\"");
    }
    rc = check_name(src, b, e, "placeholder name", err);
    if (rc)
        return rc;
    n = (size_t)(e - b);
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
    for (i = 0; i < sizeof builtins / sizeof builtins[0]; i++) {
        if (strlen(builtins[i].name) == n && memcmp(b, builtins[i].name, n) == 0) {
            if (add_part(t, builtins[i].kind, NULL, 0))
                return tp_error_set(err, TP_ERR_NOMEM, "out of memory");
            return TP_OK;
        }
    }
    if (add_part(t, TP_TPL_VAR, b, n))
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

void tp_template_free(tp_template *t)
{
    size_t i;

    if (!t)
        return;
    for (i = 0; i < t->count; i++)
        free(t->parts[i].text);
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

static tp_err expand_part(struct tp_strbuf *b, const struct tp_tpl_part *part,
                          const struct tp_template_env *env, enum tp_tpl_escape esc,
                          struct tp_error *err)
{
    const char *value = NULL;
    char scratch[40];

    switch (part->kind) {
    case TP_TPL_TEXT:
        if (tp_strbuf_add(b, part->text, part->len))
            return tp_error_set(err, TP_ERR_NOMEM, "out of memory");
        return TP_OK;
    case TP_TPL_VAR:
        value = env->lookup_var(env->ctx, part->text);
        if (!value)
            return tp_error_set(err, TP_ERR_INVALID, "undefined variable \"%s\"", part->text);
        break;
    case TP_TPL_ENV:
        value = env->lookup_env(env->ctx, part->text);
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
    }
    if (!value)
        return tp_error_set(err, TP_ERR_INTERNAL, "unknown template part kind %d", (int)part->kind);
    if (append_escaped(b, value, strlen(value), esc))
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
    if (esc != TP_ESC_NONE && esc != TP_ESC_JSON && esc != TP_ESC_URL)
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
